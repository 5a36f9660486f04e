//! The mirror: applies the backlog to the other store, in order, in
//! batches of `MULTI ... EXEC` that also record the last seq applied (hash
//! `__ferry:proxy:{<name>}` there), so a restarted proxy or a restarted
//! store continues exactly after the last batch that committed: nothing
//! twice, nothing skipped. While the store is down the backlog grows on
//! disk; the mirror reconnects every half second.

use crate::backlog::{encode_command, Entry, Reader};
use crate::frame;
use crate::{Direction, Stats, Store};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn checkpoint_key(name: &str) -> String {
    format!("__ferry:proxy:{{{name}}}")
}

/// Bytes of backlog per batch.
const BATCH_BYTES: usize = 1 << 20;

struct Conn {
    r: crate::ReadHalf,
    w: crate::WriteHalf,
    buf: bytes::BytesMut,
}

impl Conn {
    async fn connect(t: &Store) -> std::io::Result<Conn> {
        let (r, w) = t.dial().await?;
        let mut c = Conn {
            r,
            w,
            buf: bytes::BytesMut::with_capacity(64 << 10),
        };
        if let Some(auth) = t.auth() {
            let r = c.call(&[auth]).await?;
            if r.first().is_some_and(|r| r.starts_with(b"-")) {
                return Err(std::io::Error::other(format!(
                    "AUTH refused: {}",
                    String::from_utf8_lossy(&r[0]).trim_end()
                )));
            }
        }
        Ok(c)
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.w.write_all(bytes).await
    }

    async fn reply(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            match frame::reply_len(&self.buf) {
                Ok(Some(n)) => return Ok(self.buf.split_to(n).to_vec()),
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            if self.r.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::other("the connection closed"));
            }
        }
    }

    async fn call(&mut self, cmds: &[Vec<Bytes>]) -> std::io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for c in cmds {
            encode_command(&mut out, c);
        }
        self.send(&out).await?;
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in cmds {
            replies.push(self.reply().await?);
        }
        Ok(replies)
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The last seq the target applied (0: none).
async fn applied(c: &mut Conn, name: &str) -> std::io::Result<u64> {
    let r = c
        .call(&[vec![b("HGET"), b(&checkpoint_key(name)), b("seq")]])
        .await?;
    match frame::parse(&r[0]) {
        frame::Value::Bulk(v) => String::from_utf8_lossy(&v)
            .parse()
            .map_err(|_| std::io::Error::other("the checkpoint's seq is not a number")),
        frame::Value::Null => Ok(0),
        _ => Err(std::io::Error::other(format!(
            "reading {} failed: {}",
            checkpoint_key(name),
            String::from_utf8_lossy(&r[0]).trim_end()
        ))),
    }
}

/// One MULTI/EXEC of `entries` and the checkpoint. Ok(false): the server
/// refused the transaction as a whole (EXECABORT: a command it does not
/// know, a wrong arity).
async fn apply(
    c: &mut Conn,
    name: &str,
    entries: &[Entry],
    stats: &Stats,
) -> std::io::Result<bool> {
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(true);
    };
    let mut out = Vec::new();
    let mut n = 0usize;
    encode_command(&mut out, &[b("MULTI")]);
    let mut db = 0u32;
    for e in entries {
        if e.db != db {
            encode_command(&mut out, &[b("SELECT"), b(&e.db.to_string())]);
            n += 1;
            db = e.db;
        }
        for cmd in &e.commands {
            encode_command(&mut out, cmd);
            n += 1;
            if let Some(d) = crate::classify::selected_db(cmd) {
                db = d;
            }
        }
    }
    if db != 0 {
        encode_command(&mut out, &[b("SELECT"), b("0")]);
        n += 1;
    }
    encode_command(
        &mut out,
        &[
            b("HSET"),
            b(&checkpoint_key(name)),
            b("seq"),
            b(&last.to_string()),
        ],
    );
    n += 1;
    encode_command(&mut out, &[b("EXEC")]);
    c.send(&out).await?;
    // MULTI's +OK, a +QUEUED (or an error) per command, then EXEC's reply.
    for _ in 0..=n {
        c.reply().await?;
    }
    let exec = c.reply().await?;
    match frame::parse(&exec) {
        frame::Value::Array(items) => {
            let failed = items
                .iter()
                .filter(|v| matches!(v, frame::Value::Error))
                .count();
            if failed > 0 {
                stats
                    .mirror_errors
                    .fetch_add(failed as u64, Ordering::Relaxed);
                log::warn!(
                    "mirror: {failed} command(s) of entries {}..={last} failed on the target (the stores may differ now)",
                    entries[0].seq
                );
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Runs the mirror until the process ends.
pub async fn run(target: Store, name: String, dir: Arc<Direction>, stats: Arc<Stats>) {
    let backlog = dir.backlog.clone();
    let where_ = format!("{} {}:{}", dir.name, target.host, target.port);
    let mut down_logged = false;
    loop {
        let mut c = match Conn::connect(&target).await {
            Ok(c) => c,
            Err(e) => {
                if !down_logged {
                    log::warn!("mirror {where_}: unreachable ({e}); the backlog keeps the writes, retrying every 0.5 s");
                    down_logged = true;
                }
                dir.connected.store(false, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let done = match applied(&mut c, &name).await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("mirror {where_}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        log::info!("mirror {where_}: connected; it has applied the backlog up to entry {done}");
        down_logged = false;
        dir.connected.store(true, Ordering::Relaxed);
        dir.applied.store(done, Ordering::Relaxed);
        let mut reader = Reader::new(backlog.dir(), done);
        let failed = loop {
            let entries = match reader.read(BATCH_BYTES) {
                Ok(e) => e,
                Err(e) => {
                    log::error!("mirror: reading the backlog failed: {e}");
                    break e;
                }
            };
            if entries.is_empty() {
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), backlog.appended.notified())
                        .await;
                continue;
            }
            let r = match apply(&mut c, &name, &entries, &stats).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    // One entry at a time: the one the target refuses is
                    // skipped (logged, counted), the others applied.
                    let mut r = Ok(());
                    for e in &entries {
                        match apply(&mut c, &name, std::slice::from_ref(e), &stats).await {
                            Ok(true) => {}
                            Ok(false) => {
                                stats.mirror_errors.fetch_add(1, Ordering::Relaxed);
                                log::error!(
                                    "mirror: the target refused entry {} ({:?}...); skipped",
                                    e.seq,
                                    e.commands.first().and_then(|c| c.first())
                                );
                                let skip = vec![vec![
                                    b("HSET"),
                                    b(&checkpoint_key(&name)),
                                    b("seq"),
                                    b(&e.seq.to_string()),
                                ]];
                                if let Err(x) = c.call(&skip).await {
                                    r = Err(x);
                                    break;
                                }
                            }
                            Err(x) => {
                                r = Err(x);
                                break;
                            }
                        }
                    }
                    r
                }
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                break e;
            }
            let last = reader.last;
            dir.applied.store(last, Ordering::Relaxed);
            stats
                .mirrored
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            if let Err(e) = backlog.trim(last) {
                log::warn!("mirror: trimming the backlog failed: {e}");
            }
        };
        log::warn!("mirror {where_}: {failed}; reconnecting");
        dir.connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
