//! One client connection: its own connection to the serving store (so
//! AUTH, SELECT, MULTI/WATCH, blocking commands and client state work as
//! they do directly), commands decoded to see what they are, replies
//! framed and forwarded as the store sent them. Writes the store answered
//! without an error go to the backlog (in the form [`classify::mirror`]
//! gives) before their replies reach the client.
//!
//! A session has up to one connection to each store, dialed when a
//! command first goes there; replies come from one of them at a time (the
//! *active* one): a command for the other store waits until every reply
//! pending on the active one is in. The connection state a client set up
//! (AUTH, HELLO, CLIENT SETNAME, SELECT) is replayed on a connection that
//! has not seen it yet.

use crate::backlog::encode_command;
use crate::classify::{self, Kind};
use crate::frame;
use crate::order::{Held, Need};
use crate::{Route, Shared, Side};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// A command sent upstream whose reply has not come back.
struct Pending {
    kind: Kind,
    /// The command (kept for writes, transaction members and SELECT).
    args: Vec<Bytes>,
    /// Queued inside MULTI (its reply is +QUEUED).
    queued: bool,
    held: Held,
    /// A canary read's id: its answer goes to the comparison too.
    canary: Option<u64>,
    /// Ran on the primary in sync (split mode): its mirror entry must be
    /// applied on the other store before the reply goes out.
    sync: bool,
}

/// A session's connection to one store.
struct Upstream {
    r: crate::ReadHalf,
    w: crate::WriteHalf,
    /// The database selected on it.
    db: u32,
    /// The session's state generation it has seen (AUTH, HELLO, SETNAME).
    state: u64,
}

fn ix(side: Side) -> usize {
    match side {
        Side::Primary => 0,
        Side::Secondary => 1,
    }
}

struct Session {
    shared: Arc<Shared>,
    client_w: OwnedWriteHalf,
    /// The connections to the primary and the secondary (by [`ix`]).
    ups: [Option<Upstream>; 2],
    /// The store pending replies come from.
    active: Side,
    ubuf: BytesMut,
    pending: VecDeque<Pending>,
    /// The database writes run in (the client's SELECT once it succeeded).
    db: u32,
    /// MULTI was sent and EXEC/DISCARD not yet.
    in_multi: bool,
    /// The commands queued in the open transaction, in order.
    tx: Vec<Vec<Bytes>>,
    /// After SUBSCRIBE: bytes pass through both ways.
    passthrough: bool,
    /// read-canary: the connection to the secondary and the share.
    canary: Option<(crate::canary::Canary, u8)>,
    /// The route this session's upstream connection follows.
    route: Route,
    /// WATCH sent and not yet ended by EXEC/DISCARD/UNWATCH/RESET.
    watching: bool,
    /// The connection state to replay on another store after a switch:
    /// the last successful AUTH, HELLO and CLIENT SETNAME.
    auth: Option<Vec<Bytes>>,
    hello: Option<Vec<Bytes>>,
    setname: Option<Vec<Bytes>>,
    /// Bumped when AUTH, HELLO, CLIENT SETNAME or RESET changed the state.
    state: u64,
    /// From MULTI to EXEC: what holds a switch's fence back (see
    /// [`crate::order`]).
    tx_guard: Option<Held>,
}

fn canary_for(route: &Route, shared: &Shared) -> Option<(crate::canary::Canary, u8)> {
    match route.mode {
        crate::Mode::ReadCanary(p) => {
            Some((crate::canary::Canary::new(shared.secondary.clone()), p))
        }
        _ => None,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(client: TcpStream, shared: Arc<Shared>) {
    let peer = client
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let route = shared.route();
    let home = route.home();
    let store = shared.store(home);
    let (host, port) = (store.host.clone(), store.port);
    let upstream = match store.dial().await {
        Ok(u) => u,
        Err(e) => {
            log::warn!("client {peer}: cannot connect to {host}:{port} ({e})");
            let mut client = client;
            let msg = format!("-ERR ferry proxy: cannot reach {host}:{port} ({e})\r\n");
            let _ = client.write_all(msg.as_bytes()).await;
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (r, w) = upstream;
    let mut ups = [None, None];
    ups[ix(home)] = Some(Upstream {
        r,
        w,
        db: 0,
        state: 0,
    });
    let canary = canary_for(&route, &shared);
    let mut s = Session {
        shared,
        client_w,
        ups,
        active: home,
        ubuf: BytesMut::with_capacity(16 << 10),
        pending: VecDeque::new(),
        db: 0,
        in_multi: false,
        tx: Vec::new(),
        passthrough: false,
        canary,
        route,
        watching: false,
        auth: None,
        hello: None,
        setname: None,
        state: 0,
        tx_guard: None,
    };
    s.shared.stats.clients.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = s.serve(client_r).await {
        log::debug!("client {peer}: {e}");
    }
    s.shared.stats.clients.fetch_sub(1, Ordering::Relaxed);
}

type Res<T> = std::result::Result<T, String>;

impl Session {
    async fn serve(&mut self, mut client_r: OwnedReadHalf) -> Res<()> {
        let mut cbuf = BytesMut::with_capacity(16 << 10);
        let limits = ferry_resp::Limits::default();
        loop {
            tokio::select! {
                n = client_r.read_buf(&mut cbuf) => {
                    let n = n.map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Ok(());
                    }
                    if self.passthrough {
                        self.up()?.w.write_all(&cbuf).await.map_err(|e| e.to_string())?;
                        cbuf.clear();
                        continue;
                    }
                    let mut out = Vec::with_capacity(cbuf.len() + 64);
                    loop {
                        let args = match ferry_resp::decode_command(&mut cbuf, &limits) {
                            Ok(Some(a)) => a,
                            Ok(None) => break,
                            Err(e) => {
                                // As the store would: the error, then close.
                                self.flush(&mut out).await?;
                                self.drain().await?;
                                let msg = format!("-ERR {e}\r\n");
                                let _ = self.client_w.write_all(msg.as_bytes()).await;
                                return Err(e.to_string());
                            }
                        };
                        if args.is_empty() {
                            continue;
                        }
                        self.shared.stats.commands.fetch_add(1, Ordering::Relaxed);
                        self.send(args, &mut out).await?;
                        if self.passthrough {
                            out.extend_from_slice(&cbuf);
                            cbuf.clear();
                            break;
                        }
                    }
                    self.flush(&mut out).await?;
                }
                n = read_active(&mut self.ups, self.active, &mut self.ubuf) => {
                    let n = n.map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("the store closed the connection".into());
                    }
                    self.replies().await?;
                }
                r = canary_read(&mut self.canary, &self.shared.stats) => r?,
            }
        }
    }

    /// Queues `args` for the store (in `out`), taking what keeps its
    /// mirror entry in order first.
    async fn send(&mut self, args: Vec<Bytes>, out: &mut Vec<u8>) -> Res<()> {
        if self.shared.generation.load(Ordering::SeqCst) != self.route.generation {
            self.flush(out).await?;
            self.drain().await?;
            self.follow_switch()?;
        }
        if args
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(b"ferry.proxy"))
        {
            self.flush(out).await?;
            self.drain().await?;
            let reply = self.admin(&args).await;
            return self.reply_now(reply.as_bytes()).await;
        }
        let kind = classify::kind(&args);
        let mirrored = self.route.mirrored();
        let args = match kind {
            Kind::Write if mirrored => classify::absolute_expiry(&args, now_ms()).unwrap_or(args),
            _ => args,
        };
        let queued = self.in_multi && !matches!(kind, Kind::Exec | Kind::Discard | Kind::Multi);
        // What a transaction writes, at EXEC: its keys, and whether some
        // write has none (ordered with everything).
        let tx_writes = (kind == Kind::Exec).then(|| self.tx_writes());
        if matches!(kind, Kind::Discard | Kind::Reset)
            || (kind == Kind::Exec && tx_writes.as_ref().is_some_and(|(_, global)| *global))
        {
            // Nothing to hold a fence back for; a keyless write in the
            // transaction takes everything below (not while holding a part).
            self.tx_guard = None;
        }
        let in_tx = self.tx_guard.is_some();
        let need = match (kind, &tx_writes) {
            _ if !mirrored || queued => None,
            (Kind::Multi, _) if !in_tx => Some(Need::Shared),
            (Kind::Write, _) => Some(Need::Keys(classify::keys(&args))),
            (Kind::GlobalWrite, _) => Some(Need::Everything),
            (Kind::Exec, Some((_, true))) => Some(Need::Everything),
            (Kind::Exec, Some((keys, false))) if !keys.is_empty() && in_tx => {
                Some(Need::Stripes(keys.clone()))
            }
            (Kind::Exec, Some((keys, false))) if !keys.is_empty() => Some(Need::Keys(keys.clone())),
            _ => None,
        };
        let blocked_before = self.pending.iter().any(|p| p.kind == Kind::BlockingWrite);
        let mut held = match need {
            None => Held::default(),
            Some(need) => {
                let mut held = match (blocked_before, self.shared.order.try_take(&need)) {
                    (false, Some(h)) => h,
                    (_, maybe) => {
                        drop(maybe);
                        // Wait holding nothing: send what is queued and
                        // take every reply first.
                        self.flush(out).await?;
                        self.drain().await?;
                        self.shared.order.take(&need).await
                    }
                };
                // A switch may have completed while this write waited (the
                // fence is the same lock): it must go to the store serving
                // now, mirrored the new way.
                while self.shared.generation.load(Ordering::SeqCst) != self.route.generation {
                    drop(held);
                    self.flush(out).await?;
                    self.drain().await?;
                    self.follow_switch()?;
                    held = self.shared.order.take(&need).await;
                }
                held
            }
        };
        match kind {
            // (A nested MULTI, which the store refuses, keeps the first one's.)
            Kind::Multi if self.tx_guard.is_none() => {
                self.tx_guard = Some(std::mem::take(&mut held));
            }
            Kind::Exec => {
                if let Some(g) = self.tx_guard.take() {
                    held.absorb(g);
                }
            }
            _ => {}
        }
        // Which store runs it. Another than the active one: what is pending
        // there is answered first (nothing pending blocks: a blocking
        // command pending was drained before taking keys above).
        let (side, sync) = self.place(kind, &args, queued, tx_writes.as_ref());
        if side != self.active {
            self.flush(out).await?;
            self.drain().await?;
            self.activate(side).await?;
        }
        if sync {
            // The primary gets what the other store served so far first
            // (the keys are held: nothing new for them comes in).
            if let Err(e) = self.shared.caught_up(side.other()).await {
                drop(held);
                self.flush(out).await?;
                self.drain().await?;
                let msg = format!("-TRYAGAIN ferry proxy: {e}; not run, retry\r\n");
                return self.reply_now(msg.as_bytes()).await;
            }
        }
        encode_command(out, &args);
        match kind {
            Kind::Multi => self.in_multi = true,
            // RESET discards an open transaction too.
            Kind::Exec | Kind::Discard | Kind::Reset => {
                self.in_multi = false;
                self.watching = false;
            }
            Kind::Subscribe => self.passthrough = true,
            _ => {}
        }
        let mut canary = None;
        if let (Some((c, percent)), Kind::Read, false) = (&mut self.canary, kind, queued) {
            if crate::canary::chosen(&args, *percent) {
                canary = c.send(self.db, &args, &self.shared.stats).await;
            }
        }
        let named = |n: &[u8]| args.first().is_some_and(|a| a.eq_ignore_ascii_case(n));
        if named(b"watch") {
            self.watching = true;
        } else if named(b"unwatch") {
            self.watching = false;
        }
        // AUTH, HELLO and CLIENT SETNAME are kept to replay after a switch.
        let state = named(b"auth")
            || named(b"hello")
            || (named(b"client")
                && args
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"setname")));
        let keep = !matches!(kind, Kind::Read) || queued || state;
        self.pending.push_back(Pending {
            kind,
            args: if keep { args } else { Vec::new() },
            queued,
            held,
            canary,
            // A read has nothing to wait for once answered.
            sync: sync && kind != Kind::Read,
        });
        Ok(())
    }

    /// The keys the open transaction writes (queued so far) and whether a
    /// write of it has no key.
    fn tx_writes(&self) -> (Vec<Bytes>, bool) {
        let mut keys = Vec::new();
        let mut global = false;
        for p in self.pending.iter().filter(|p| p.queued) {
            match p.kind {
                Kind::Write => keys.extend(classify::keys(&p.args)),
                Kind::GlobalWrite | Kind::BlockingWrite => global = true,
                _ => {}
            }
        }
        let writes = self
            .tx
            .iter()
            .filter(|c| !matches!(classify::kind(c), Kind::Read | Kind::Select));
        for c in writes {
            let k = classify::keys(c);
            global |= k.is_empty();
            keys.extend(k);
        }
        (keys, global)
    }

    /// The store a command runs on, and whether it runs in sync (see the
    /// crate's doc). Only `split:N` has a choice: a command whose keys are
    /// all on one side goes there; transactions, WATCH, pub/sub and
    /// keyless writes go to the primary (home), in sync when they touch
    /// the moved share; other keyless commands (PING, AUTH, SELECT, INFO)
    /// stay on the active connection.
    fn place(
        &self,
        kind: Kind,
        args: &[Bytes],
        queued: bool,
        tx_writes: Option<&(Vec<Bytes>, bool)>,
    ) -> (Side, bool) {
        let home = self.route.home();
        if !matches!(self.route.mode, crate::Mode::Split(_)) {
            return (home, false);
        }
        let moved = |keys: &[Bytes]| keys.iter().any(|k| self.route.owner(k) != home);
        let named = |n: &[u8]| args.first().is_some_and(|a| a.eq_ignore_ascii_case(n));
        match kind {
            _ if queued => (home, false),
            Kind::Exec => {
                // Its reads too must see the moved keys' latest values.
                let queued = self.pending.iter().filter(|p| p.queued).map(|p| &p.args);
                let read = self
                    .tx
                    .iter()
                    .chain(queued)
                    .any(|c| moved(&classify::keys(c)));
                (home, tx_writes.is_some_and(|(_, global)| *global) || read)
            }
            Kind::Multi | Kind::Discard | Kind::Subscribe | Kind::Reset => (home, false),
            Kind::GlobalWrite => (home, true),
            _ if named(b"watch") || named(b"unwatch") => (home, false),
            _ if named(b"publish") || named(b"spublish") => (home, false),
            Kind::Select => (self.active, false),
            _ => {
                let keys = classify::keys(args);
                let Some(first) = keys.first() else {
                    return (self.active, false);
                };
                let side = self.route.owner(first);
                if self.watching {
                    // The transaction's reads see the latest values.
                    (home, moved(&keys))
                } else if keys.iter().all(|k| self.route.owner(k) == side) {
                    (side, false)
                } else {
                    (home, true)
                }
            }
        }
    }

    /// The active connection.
    fn up(&mut self) -> Res<&mut Upstream> {
        self.ups[ix(self.active)]
            .as_mut()
            .ok_or_else(|| "no connection to the store".to_string())
    }

    /// Sends what is queued in `out` to the active connection.
    async fn flush(&mut self, out: &mut Vec<u8>) -> Res<()> {
        if out.is_empty() {
            return Ok(());
        }
        self.up()?
            .w
            .write_all(out)
            .await
            .map_err(|e| e.to_string())?;
        out.clear();
        Ok(())
    }

    /// A reply the proxy gives itself (nothing pending).
    async fn reply_now(&mut self, reply: &[u8]) -> Res<()> {
        self.client_w
            .write_all(reply)
            .await
            .map_err(|e| e.to_string())
    }

    /// Makes `side` the active connection (nothing pending): dialed, with
    /// the session's state replayed, when it has none or an old state;
    /// SELECTed when its database differs.
    async fn activate(&mut self, side: Side) -> Res<()> {
        let fresh = self.ups[ix(side)]
            .as_ref()
            .is_some_and(|u| u.state == self.state);
        let mut replay: Vec<Vec<Bytes>> = Vec::new();
        if !fresh {
            let store = self.shared.store(side).clone();
            let up = store
                .dial()
                .await
                .map_err(|e| format!("connecting to {}:{}: {e}", store.host, store.port))?;
            let (r, w) = up;
            self.ups[ix(side)] = Some(Upstream {
                r,
                w,
                db: 0,
                state: self.state,
            });
            replay.extend(self.auth.clone());
            replay.extend(self.hello.clone());
            replay.extend(self.setname.clone());
        }
        let db = self.db;
        let Some(up) = self.ups[ix(side)].as_mut() else {
            return Err("no connection to the store".into());
        };
        if up.db != db {
            replay.push(vec![
                Bytes::from_static(b"SELECT"),
                Bytes::from(db.to_string()),
            ]);
        }
        call(up, &replay).await?;
        up.db = db;
        self.active = side;
        Ok(())
    }

    /// The proxy moved keys between the stores: a session holding
    /// server-side state (MULTI, WATCH, SUBSCRIBE) on a store that no longer
    /// serves it is closed (its client reconnects); any other follows the
    /// new route from its next command. Called with nothing pending.
    fn follow_switch(&mut self) -> Res<()> {
        let route = self.shared.route();
        if (self.in_multi || self.watching || self.passthrough) && route.home() != self.active {
            return Err("the proxy switched stores inside a transaction or subscription; closing (reconnect)".into());
        }
        self.canary = canary_for(&route, &self.shared);
        self.route = route;
        Ok(())
    }

    /// `FERRY.PROXY MODE <mode>` (switch, fenced) and `FERRY.PROXY STATUS`,
    /// answered by the proxy itself.
    async fn admin(&mut self, args: &[Bytes]) -> String {
        let word = |i: usize| {
            args.get(i)
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                .unwrap_or_default()
        };
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        match (word(1).as_str(), args.len()) {
            ("mode", 3) => match word(2).parse::<crate::Mode>() {
                Ok(mode) => match self.shared.switch(mode).await {
                    Ok(msg) => bulk(&msg),
                    Err(e) => format!("-ERR {e}\r\n"),
                },
                Err(e) => format!("-ERR {e}\r\n"),
            },
            ("status", 2) => {
                let r = self.shared.route();
                let behind = self.shared.behind();
                let serving = self.shared.store(r.home());
                bulk(&format!(
                    "mode:{} serving:{}:{} behind:{behind} switches:{} primary:{}:{} secondary:{}:{} canary_reads:{} canary_mismatches:{} mirror_errors:{}{}",
                    r.mode,
                    serving.host,
                    serving.port,
                    self.shared.stats.switches.load(Ordering::Relaxed),
                    self.shared.primary.host,
                    self.shared.primary.port,
                    self.shared.secondary.host,
                    self.shared.secondary.port,
                    self.shared.stats.canary_reads.load(Ordering::Relaxed),
                    self.shared.stats.canary_mismatches.load(Ordering::Relaxed),
                    self.shared.stats.mirror_errors.load(Ordering::Relaxed)
                        + self.shared.stats.backlog_errors.load(Ordering::Relaxed),
                    self.shared.positions(),
                ))
            }
            ("positions", 2) => match self.shared.settled_positions().await {
                Ok(at) => bulk(at.trim()),
                Err(e) => format!("-ERR {e}\r\n"),
            },
            _ => "-ERR usage: FERRY.PROXY MODE dual-write|read-canary:N|split:N|switched, FERRY.PROXY STATUS or FERRY.PROXY POSITIONS\r\n".into(),
        }
    }

    /// Sends nothing more; handles replies until none is pending.
    async fn drain(&mut self) -> Res<()> {
        while !self.pending.is_empty() && !self.passthrough {
            let n = read_active(&mut self.ups, self.active, &mut self.ubuf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the store closed the connection".into());
            }
            self.replies().await?;
        }
        Ok(())
    }

    /// Handles the whole replies in the buffer: mirror entries to the
    /// backlog, then the bytes to the client, then what was held released.
    async fn replies(&mut self) -> Res<()> {
        if self.passthrough && self.pending.is_empty() {
            let data = self.ubuf.split();
            return self
                .client_w
                .write_all(&data)
                .await
                .map_err(|e| e.to_string());
        }
        let mut forward = BytesMut::new();
        let mut entries: Vec<(u32, Vec<Vec<Bytes>>)> = Vec::new();
        let mut release: Vec<Held> = Vec::new();
        let mut sync = false;
        while let Some(len) = frame::reply_len(&self.ubuf)? {
            let reply = self.ubuf.split_to(len);
            if frame::is_push(&reply) {
                forward.extend_from_slice(&reply);
                continue;
            }
            let Some(p) = self.pending.pop_front() else {
                // Pub/sub messages after SUBSCRIBE.
                forward.extend_from_slice(&reply);
                continue;
            };
            if let (Some(id), Some((c, _))) = (p.canary, &mut self.canary) {
                c.primary(id, &reply, &self.shared.stats);
            }
            sync |= p.sync;
            self.handle(p, &reply, &mut entries, &mut release).await;
            forward.extend_from_slice(&reply);
            if self.passthrough && self.pending.is_empty() {
                forward.extend_from_slice(&self.ubuf.split());
                break;
            }
        }
        self.append(entries);
        if sync {
            // The other store has it before the keys are free and the
            // client hears back (its next read there sees it).
            if let Err(e) = self.shared.caught_up(self.active).await {
                log::warn!("a write run in sync was not mirrored in time: {e}");
            }
        }
        drop(release);
        self.client_w
            .write_all(&forward)
            .await
            .map_err(|e| e.to_string())
    }

    /// Appends mirror entries to the backlog. A backlog that cannot be
    /// written stops mirroring loudly (the writes already ran on the
    /// serving store; the mirror would silently miss them otherwise).
    fn append(&self, entries: Vec<(u32, Vec<Vec<Bytes>>)>) {
        if !self.route.mirrored() {
            return;
        }
        let Some(d) = self.shared.mirror_from(self.active) else {
            return;
        };
        let b = &d.backlog;
        let n = entries.len() as u64;
        if n == 0 {
            return;
        }
        // A write to the page cache (the fsync runs once a second on its
        // own): short enough to do in place.
        match b.append(entries) {
            Ok(()) => {
                self.shared.stats.backlogged.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.shared
                    .stats
                    .backlog_errors
                    .fetch_add(n, Ordering::Relaxed);
                log::error!("writing the backlog failed ({e}): {n} write(s) will not reach the mirror; fix the disk and re-sync the stores");
            }
        }
    }

    /// What to mirror for a write the store answered `value`, with the
    /// scripts seen so far (for EVALSHA).
    fn mirror_of(&self, args: &[Bytes], value: &frame::Value) -> Vec<Vec<Bytes>> {
        match self.shared.scripts.lock() {
            Ok(scripts) => classify::mirror(args, value, &scripts),
            Err(p) => classify::mirror(args, value, &p.into_inner()),
        }
    }

    async fn handle(
        &mut self,
        p: Pending,
        reply: &[u8],
        entries: &mut Vec<(u32, Vec<Vec<Bytes>>)>,
        release: &mut Vec<Held>,
    ) {
        let mirrored = self.route.mirrored();
        let is_error = reply.first() == Some(&b'-') || reply.first() == Some(&b'!');
        if !is_error && p.kind == Kind::Read && !p.args.is_empty() && !p.queued {
            let name = p.args[0].to_ascii_lowercase();
            let slot = match name.as_slice() {
                b"auth" => Some(&mut self.auth),
                b"hello" => Some(&mut self.hello),
                b"client" => Some(&mut self.setname),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = Some(p.args.clone());
                self.state_changed();
            }
        }
        if p.queued {
            // Every queued command, reads too: EXEC's results line up with
            // them one for one. A refused one makes EXEC abort
            // (EXECABORT): nothing to keep.
            if !is_error {
                self.tx.push(p.args);
            }
            return;
        }
        match p.kind {
            Kind::Select if !is_error => {
                self.set_db(classify::selected_db(&p.args).unwrap_or(self.db));
            }
            Kind::Reset => {
                self.set_db(0);
                self.tx.clear();
                (self.auth, self.hello, self.setname) = (None, None, None);
                self.state_changed();
            }
            Kind::Multi => self.tx.clear(),
            Kind::Discard => self.tx.clear(),
            Kind::Exec => {
                let tx = std::mem::take(&mut self.tx);
                let db = self.db;
                // EXEC ran them (nil: WATCH aborted it, nothing ran).
                if let frame::Value::Array(items) = frame::parse(reply) {
                    let mut cmds = Vec::new();
                    for (c, r) in tx.iter().zip(&items) {
                        if matches!(r, frame::Value::Error) {
                            continue;
                        }
                        if let Some(d) = classify::selected_db(c) {
                            self.set_db(d);
                            cmds.push(c.clone());
                        } else if mirrored && classify::kind(c) != Kind::Read {
                            cmds.extend(self.mirror_of(c, r));
                        }
                    }
                    if mirrored && !cmds.is_empty() {
                        entries.push((db, cmds));
                    }
                }
            }
            Kind::Write | Kind::GlobalWrite | Kind::BlockingWrite if mirrored && !is_error => {
                let value = frame::parse(reply);
                if classify::is_script_load(&p.args) {
                    if let (frame::Value::Bulk(sha), Some(body), Ok(mut s)) =
                        (&value, p.args.get(2), self.shared.scripts.lock())
                    {
                        s.insert(sha.to_ascii_lowercase(), body.clone());
                    }
                }
                let cmds = self.mirror_of(&p.args, &value);
                if cmds.is_empty() {
                    // Nothing to mirror (an empty pop).
                } else if p.kind == Kind::BlockingWrite {
                    // Ordered after the write that woke it, which holds the
                    // key until its entry is in the backlog: what came
                    // before goes in and is released first, then the key
                    // is taken (holding nothing) for this entry.
                    let keys: Vec<Bytes> = cmds.iter().flat_map(|c| classify::keys(c)).collect();
                    self.append(std::mem::take(entries));
                    drop(std::mem::take(release));
                    let held = self.shared.order.take(&Need::Keys(keys)).await;
                    self.append(vec![(self.db, cmds)]);
                    if p.sync {
                        if let Err(e) = self.shared.caught_up(self.active).await {
                            log::warn!("a pop run in sync was not mirrored in time: {e}");
                        }
                    }
                    drop(held);
                } else {
                    entries.push((self.db, cmds));
                }
            }
            _ => {}
        }
        release.push(p.held);
    }
}

impl Session {
    /// The database the client selected (on the active connection).
    fn set_db(&mut self, db: u32) {
        self.db = db;
        if let Some(up) = self.ups[ix(self.active)].as_mut() {
            up.db = db;
        }
    }

    /// AUTH, HELLO, CLIENT SETNAME or RESET ran on the active connection:
    /// the other one, if any, is stale (re-dialed when used again).
    fn state_changed(&mut self) {
        self.state += 1;
        let state = self.state;
        if let Some(up) = self.ups[ix(self.active)].as_mut() {
            up.state = state;
        }
    }
}

/// Reads from the active connection.
async fn read_active(
    ups: &mut [Option<Upstream>; 2],
    active: Side,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    match ups[ix(active)].as_mut() {
        Some(up) => up.r.read_buf(buf).await,
        None => Err(std::io::Error::other("no connection to the store")),
    }
}

/// Sends `cmds` on `up` and reads their replies (none may be an error).
async fn call(up: &mut Upstream, cmds: &[Vec<Bytes>]) -> Res<()> {
    if cmds.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    for c in cmds {
        encode_command(&mut out, c);
    }
    up.w.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    let mut got = 0;
    while got < cmds.len() {
        match frame::reply_len(&buf)? {
            Some(len) => {
                let reply = buf.split_to(len);
                if reply.first() == Some(&b'-') {
                    return Err(format!(
                        "replaying the connection's state on the other store failed: {}",
                        String::from_utf8_lossy(&reply).trim_end()
                    ));
                }
                got += 1;
            }
            None => {
                let n = up.r.read_buf(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the store closed the connection".into());
                }
            }
        }
    }
    Ok(())
}

/// The canary connection's answers (never ready without one).
async fn canary_read(
    canary: &mut Option<(crate::canary::Canary, u8)>,
    stats: &crate::Stats,
) -> Res<()> {
    match canary {
        Some((c, _)) if c.connected() => c.read(stats).await,
        _ => std::future::pending().await,
    }
}
