//! The executor: one thread that owns the store and runs every command, one
//! at a time, in arrival order (Redis's model).
//!
//! The event loop on the same thread (`crate::eventloop`) turns each
//! connection's pipelined commands into a [`Job::Batch`]. The executor runs
//! as many jobs as are waiting (up to a bound) inside one SQLite
//! transaction, commits once, and only then queues the replies: a reply that
//! acknowledges a write always follows the commit of that write (group
//! commit). Between groups it runs the expiry sweep.

use crate::client::ClientState;
use crate::cmd::{self, transactions, Ctx};
use crate::script::{BusyGate, JobQueue, Scripting};
use crate::state::{Blocked, ServerState, ShutdownMode};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Protocol, Reply};
use ferry_store::Store;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

mod raft;
pub use raft::RaftJob;

/// Work for the executor.
pub enum Job {
    Connect {
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        out: crate::eventloop::Outbox,
    },
    Batch {
        id: u64,
        cmds: Vec<Vec<Bytes>>,
        input_bytes: usize,
    },
    Disconnect {
        id: u64,
    },
    /// SIGINT/SIGTERM: commit, checkpoint and stop, as SHUTDOWN does.
    Shutdown,
    /// The rest of a batch that had to wait for a busy script (see
    /// `script::busy`), with the replies already produced.
    Resume {
        id: u64,
        cmds: VecDeque<Vec<Bytes>>,
        out: BytesMut,
    },
    /// Raft replication (see `executor/raft.rs`).
    Raft(RaftJob),
}

/// What the executor sends a connection, in the order it must be written.
pub enum Outgoing {
    /// The replies to the connection's last batch.
    Reply(BatchReply),
    /// A message another client's command produced (pub/sub).
    Push(Bytes),
}

/// The encoded replies of one batch.
pub struct BatchReply {
    pub bytes: Bytes,
    /// Close the connection after writing `bytes`.
    pub close: bool,
    /// Whether the client is authenticated now (decoder limits depend on
    /// it); None leaves it as it was.
    pub authenticated: Option<bool>,
}

/// Commands of a pipelined batch whose keys are prefetched before it runs
/// (`Store::prefetch_keys`): 128 cache lines at most, well within L1.
const PREFETCH_COMMANDS: usize = 64;

/// Most commands run in one group before a commit is forced.
const GROUP_MAX_COMMANDS: usize = 2048;
/// Longest a group may run before its commit is forced.
const GROUP_MAX_TIME: Duration = Duration::from_millis(20);
/// How often the background expiry sweep runs (Redis's hz 10).
const SWEEP_INTERVAL: Duration = Duration::from_millis(100);
const SWEEP_BATCH: usize = 200;

/// Shared with the listener and the fsync thread.
pub struct Shared {
    /// Bumped after each commit that wrote (the everysec syncer reads it).
    pub write_epoch: AtomicU64,
    /// Bytes of the write-ahead log in use, as the storage thread's last
    /// checkpoint saw them (see [`Executor::bound_wal`]).
    pub wal_log_bytes: AtomicU64,
    /// Set when SHUTDOWN ran; the listener stops accepting.
    pub shutdown: Notify,
    /// Whether new connections start unauthenticated (requirepass is set).
    pub auth_required: Arc<std::sync::atomic::AtomicBool>,
    /// The Raft node and its Raft address, once started (RAFT admin
    /// commands run on the tokio runtime, see `eventloop::run_admin`).
    pub raft: std::sync::OnceLock<(ferry_raft::RaftNode, String)>,
}

/// The wall clock read once per group, and the monotonic instant it was
/// read at: a command's wall-clock time (what TTLs compare with) is derived
/// from the monotonic reading its start takes anyway, one clock read less
/// per command (the clocks were ~10% of a pipelined read-only command).
/// A wall clock stepped by NTP is seen from the next group on (a group
/// takes jobs for up to [`GROUP_MAX_TIME`], plus the last job's commands).
#[derive(Clone, Copy)]
struct WallClock {
    at: Instant,
    unix_ms: i64,
}

impl WallClock {
    fn read() -> WallClock {
        WallClock {
            at: Instant::now(),
            unix_ms: ferry_store::unix_ms(),
        }
    }

    /// Unix milliseconds at `t` (not before the reading).
    fn unix_ms_at(&self, t: Instant) -> i64 {
        self.unix_ms + t.saturating_duration_since(self.at).as_millis() as i64
    }
}

pub struct Executor {
    store: Store,
    state: ServerState,
    jobs: Rc<JobQueue>,
    scripting: Scripting,
    shared: Arc<Shared>,
    /// Replies of the current group, by client, held until it is durable.
    pending: Vec<(u64, BatchReply)>,
    last_sweep: Instant,
    /// The wall clock as of this group, for commands' "now".
    clock: WallClock,
    /// Set by a command that must block; taken by the batch runner.
    block_request: Option<cmd::BlockRequest>,
    /// Guards [`Executor::serve_ready_keys`] against re-entry.
    serving: bool,
    /// Frames EXEC writes after its array (see [`Executor::exec`]).
    exec_tail: Vec<Reply>,
    /// Raft replication state (`ferry serve --raft`).
    raft: Option<raft::RaftLink>,
}

impl Executor {
    /// Builds the executor on its own thread (the Lua engines are not
    /// `Send`). Fails when the scripting engine cannot start.
    pub fn new(
        mut store: Store,
        state: ServerState,
        events: crate::eventloop::Setup,
        shared: Arc<Shared>,
    ) -> Result<Self, String> {
        let jobs = Rc::new(JobQueue::new(crate::eventloop::EventLoop::new(events)));
        let gate = Rc::new(BusyGate::new(jobs.clone()));
        let mut scripting = Scripting::new(gate)?;
        let codes = store
            .function_codes()
            .map_err(|e| format!("cannot read the stored FUNCTION libraries: {e}"))?;
        scripting.load_stored_functions(codes)?;
        let raft = state
            .startup
            .raft
            .as_ref()
            .map(|r| raft::RaftLink::new(r.stale_reads));
        if raft.is_some() {
            // Until Raft says this node leads, nothing may write.
            store.set_read_only(true);
        }
        Ok(Executor {
            raft,
            store,
            state,
            jobs,
            scripting,
            shared,
            pending: Vec::new(),
            last_sweep: Instant::now(),
            clock: WallClock::read(),
            block_request: None,
            serving: false,
            exec_tail: Vec::new(),
        })
    }

    /// Runs until SHUTDOWN (the command, a signal or the embedding's stop).
    pub fn run(mut self) {
        loop {
            let job = self.jobs.recv_timeout(self.next_wait());
            self.clock = WallClock::read();
            if let Err(e) = self.store.begin() {
                log::error!("cannot begin a transaction: {e}");
            }
            self.raft_group_start();
            if !self.state.blocked.is_empty() {
                self.release_blocked();
            }
            if self.state.pause.is_some_and(|p| p.until <= Instant::now()) {
                self.state.pause = None;
            }
            if self.state.pause.is_none() && !self.state.held.is_empty() {
                self.resume_held();
            }
            if let Some(job) = job {
                let group_start = Instant::now();
                let mut commands = self.handle(job);
                while commands < GROUP_MAX_COMMANDS
                    && group_start.elapsed() < GROUP_MAX_TIME
                    && !self.scripting.gate.shutdown_requested()
                {
                    match self.jobs.try_recv() {
                        Some(job) => commands += self.handle(job),
                        None => break,
                    }
                }
            }
            if self.scripting.gate.shutdown_requested() {
                // SHUTDOWN NOSAVE stopped a busy script: keep nothing of
                // this group (none of it was acknowledged).
                self.pending.clear();
                if let Err(e) = self.store.discard_uncommitted() {
                    log::error!("cannot return to the last durable state: {e}");
                }
                self.finish(ShutdownMode::NoSave);
                return;
            }
            if self.last_sweep.elapsed() >= SWEEP_INTERVAL {
                self.sweep();
                self.commit_and_reply();
                self.bound_wal();
            } else {
                self.commit_and_reply();
            }
            if let Some(mode) = self.state.shutdown {
                self.finish(mode);
                return;
            }
        }
    }

    /// Makes the group durable, sends its replies, and commits SQLite when a
    /// commit is due.
    fn commit_and_reply(&mut self) {
        if self.raft.is_some() {
            if !self.raft_end_group() {
                self.send_pending();
                self.send_group_messages();
            }
            self.raft_commit_if_due();
            return;
        }
        let epoch = self.store.write_epoch();
        if let Err(e) = self.store.flush_group() {
            // Nothing in this group is durable: no command may be acknowledged.
            log::error!(
                "write failed, {} batches get an error: {e}",
                self.pending.len()
            );
            let msg = Reply::error(format!("ERR ferry could not save this write: {e}"));
            let replies = std::mem::take(&mut self.pending);
            self.fail_replies(replies, &msg);
            return;
        }
        self.publish_write_epoch(epoch);
        self.send_pending();
        self.send_group_messages();
        if self.store.commit_due() {
            // Acknowledged writes are safe in the journal whatever happens here.
            if let Err(e) = self.store.commit() {
                log::error!("SQLite commit failed; the journal keeps every write: {e}");
            }
        }
    }

    /// Sends the group's replies, keeping the list's allocation for the
    /// next group: a new list grew by reallocation every group, and glibc
    /// consolidates its free lists on such a growth (~3% of GET -P16).
    fn send_pending(&mut self) {
        let mut replies = std::mem::take(&mut self.pending);
        self.send_replies(&mut replies);
        self.pending = replies;
    }

    /// Sends batches' replies (acknowledging what they did), emptying the list.
    fn send_replies(&mut self, replies: &mut Vec<(u64, BatchReply)>) {
        for (id, reply) in replies.drain(..) {
            self.state.stats.net_output_bytes += reply.bytes.len() as u64;
            self.send(id, Outgoing::Reply(reply));
        }
    }

    /// Answers batches with one error instead of their replies and closes
    /// their connections (the pipelines' other replies are gone).
    fn fail_replies(&mut self, replies: Vec<(u64, BatchReply)>, msg: &Reply) {
        let mut out = BytesMut::new();
        msg.encode(Protocol::Resp2, &mut out);
        let bytes = out.freeze();
        for (id, mut reply) in replies {
            reply.bytes = bytes.clone();
            reply.close = true;
            self.send(id, Outgoing::Reply(reply));
        }
    }

    /// The messages a group produced for other clients (tracking
    /// broadcasts included), after its replies.
    fn send_group_messages(&mut self) {
        crate::tracking::broadcast(&mut self.state);
        crate::tracking::enforce_limit(&mut self.state);
        self.deliver_outbox();
    }

    /// Tells the storage thread (checkpoints, fsync) that a commit since
    /// `before` wrote.
    fn publish_write_epoch(&self, before: u64) {
        if self.store.write_epoch() != before {
            self.shared
                .write_epoch
                .store(self.store.write_epoch(), Ordering::Release);
        }
    }

    /// Handles one job; returns how many commands it ran.
    fn handle(&mut self, job: Job) -> usize {
        match job {
            Job::Connect {
                id,
                addr,
                laddr,
                out,
            } => {
                let authenticated = !self.state.acl.auth_required();
                self.state.stats.connections_received += 1;
                self.jobs.register(id, out.clone());
                self.state
                    .clients
                    .insert(id, ClientState::new(id, addr, laddr, out, authenticated));
                0
            }
            Job::Disconnect { id } => {
                self.jobs.unregister(id);
                // A client that goes away while blocked leaves no trace.
                self.state.blocked.retain(|b| b.id != id);
                if let Some(mut client) = self.state.clients.remove(&id) {
                    cmd::pubsub::unsubscribe_all(&mut self.state, &mut client);
                    crate::tracking::disable(&mut self.state, &mut client);
                }
                self.state.held.retain(|h| h.id != id);
                self.state.monitors.retain(|m| *m != id);
                0
            }
            Job::Shutdown => {
                self.state.shutdown = Some(ShutdownMode::Save);
                0
            }
            Job::Raft(job) => {
                self.raft_job(job);
                0
            }
            Job::Resume { id, cmds, out } => {
                let n = cmds.len();
                self.run_batch(id, cmds, out, None, None);
                n
            }
            Job::Batch {
                id,
                cmds,
                input_bytes,
            } => {
                self.state.stats.net_input_bytes += input_bytes as u64;
                let n = cmds.len();
                // Room for typical replies, kept under glibc's large-chunk
                // size (1 KiB): a request that size first merges every free
                // small chunk (malloc_consolidate), ~2% of SET at `-P 1`
                // when every batch asked for 1 KiB. Bigger replies regrow it.
                let mut out = BytesMut::with_capacity((32 * n).clamp(128, 960));
                // Messages for this client produced earlier in the group come
                // before its replies, as in Redis.
                self.state.outbox.retain(|(to, bytes)| {
                    if *to == id {
                        out.extend_from_slice(bytes);
                        false
                    } else {
                        true
                    }
                });
                self.run_batch(id, cmds.into(), out, None, None);
                n
            }
        }
    }

    /// Runs a client's commands in order. A blocking command that must
    /// wait parks the client with the rest of the batch (at `requeue_at` in
    /// the blocked list when it was already waiting, else at the end);
    /// otherwise the batch's replies join the group. Returns whether the
    /// client is parked.
    fn run_batch(
        &mut self,
        id: u64,
        mut cmds: VecDeque<Vec<Bytes>>,
        mut out: BytesMut,
        mut deadline: Option<Instant>,
        requeue_at: Option<usize>,
    ) -> bool {
        let Some(mut client) = self.state.clients.remove(&id) else {
            return false;
        };
        if cmds.len() > 1 {
            // The first argument is the first key of nearly every data
            // command; for the others the hint is only wasted.
            let keys = cmds
                .iter()
                .take(PREFETCH_COMMANDS)
                .filter_map(|argv| argv.get(1));
            self.store
                .prefetch_keys(client.db, keys.map(|k| k.as_ref()));
        }
        while let Some(argv) = cmds.front() {
            if self.state.pause.is_some() && self.pause_holds(&client, argv) {
                self.state.held.push(crate::pause::Held { id, cmds, out });
                self.state.clients.insert(id, client);
                return true;
            }
            let skip_reply = std::mem::take(&mut client.reply_skip_next);
            let r = self.execute(&mut client, argv);
            client.woken_by = None;
            if let Some(req) = self.block_request.take() {
                let deadline = deadline.or_else(|| req.timeout.map(|t| Instant::now() + t));
                if let (Some(retry), Some(front)) = (req.retry, cmds.front_mut()) {
                    *front = retry;
                }
                let entry = Blocked {
                    id,
                    db: client.db,
                    keys: req.keys,
                    ktype: req.ktype,
                    retry_if_gone: req.retry_if_gone,
                    deadline,
                    timeout_reply: req.timeout_reply,
                    cmds,
                    out,
                    unblock_with: None,
                };
                match requeue_at {
                    Some(i) if i <= self.state.blocked.len() => self.state.blocked.insert(i, entry),
                    _ => self.state.blocked.push(entry),
                }
                self.state.clients.insert(id, client);
                return true;
            }
            // A later blocking command of the batch gets its own deadline.
            deadline = None;
            cmds.pop_front();
            for push in client.pending_pushes.drain(..) {
                push.encode(client.protocol, &mut out);
            }
            // CLIENT REPLY OFF/SKIP drop replies, never pushed messages.
            if skip_reply || client.reply_off {
                self.exec_tail.clear();
            } else {
                r.encode(client.protocol, &mut out);
                for extra in self.exec_tail.drain(..) {
                    extra.encode(client.protocol, &mut out);
                }
            }
            // Invalidations of keys the client changed itself follow the
            // reply of the command (or transaction, or script) that did it.
            if !client.tracking.pending.is_empty() {
                for msg in crate::tracking::take_pending(&mut self.state, &mut client) {
                    msg.encode(client.protocol, &mut out);
                }
            }
            if client.close_after_reply {
                break;
            }
            // Clients blocked on keys this command created are served now,
            // after the command (or the whole transaction) completed; so
            // are clients this command unblocked (CLIENT UNBLOCK).
            // CLIENT UNPAUSE: the held clients go on right after it.
            if self.state.pause.is_none() && !self.state.held.is_empty() {
                self.state.clients.insert(id, client);
                self.resume_held();
                match self.state.clients.remove(&id) {
                    Some(c) => client = c,
                    None => return false,
                }
            }
            if self.state.unblock_requested {
                self.state.clients.insert(id, client);
                self.release_blocked();
                match self.state.clients.remove(&id) {
                    Some(c) => client = c,
                    None => return false,
                }
            }
            if !self.state.ready_keys.is_empty() {
                self.state.clients.insert(id, client);
                self.serve_ready_keys();
                match self.state.clients.remove(&id) {
                    Some(c) => client = c,
                    None => return false,
                }
            }
        }
        let batch = BatchReply {
            bytes: out.freeze(),
            close: client.close_after_reply,
            authenticated: Some(client.authenticated),
        };
        self.state.clients.insert(id, client);
        self.pending.push((id, batch));
        false
    }

    /// Serves, first come first served, the clients blocked on keys that
    /// were created: each retries its blocking command and, if it no longer
    /// has to wait, goes on with its batch. Not re-entered while running.
    fn serve_ready_keys(&mut self) {
        if self.serving {
            return;
        }
        self.serving = true;
        let mut rounds = 0;
        while !self.state.ready_keys.is_empty() && rounds < 100_000 {
            rounds += 1;
            let (db, key) = self.state.ready_keys.remove(0);
            let mut i = 0;
            while i < self.state.blocked.len() {
                let b = &self.state.blocked[i];
                if b.db == db && b.keys.iter().any(|k| k[..] == key[..]) {
                    // As Redis, a client is retried only when the key now
                    // holds the type it waits for: a list pushed, deleted
                    // and set to a string in one transaction wakes nobody.
                    let wanted = b.ktype;
                    let any = b.retry_if_gone;
                    self.store.set_now(ferry_store::unix_ms());
                    let holds =
                        matches!(self.store.lookup(db, &key), Ok(Some(k)) if k.ktype == wanted);
                    cmd::flush_store_events(&mut self.store, &mut self.state, None);
                    if !holds && !any {
                        i += 1;
                        continue;
                    }
                    let entry = self.state.blocked.remove(i);
                    if let Some(c) = self.state.clients.get_mut(&entry.id) {
                        c.woken_by = Some(key.clone());
                    }
                    if self.run_batch(entry.id, entry.cmds, entry.out, entry.deadline, Some(i)) {
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
        }
        self.state.ready_keys.clear();
        self.serving = false;
    }

    /// Answers blocked clients whose deadline passed (with their command's
    /// timeout reply) or that CLIENT UNBLOCK released, and runs the rest of
    /// their batches.
    fn release_blocked(&mut self) {
        self.state.unblock_requested = false;
        let now = Instant::now();
        let mut i = 0;
        while i < self.state.blocked.len() {
            let b = &self.state.blocked[i];
            let due = b.unblock_with.is_some() || b.deadline.is_some_and(|d| d <= now);
            if !due {
                i += 1;
                continue;
            }
            let mut entry = self.state.blocked.remove(i);
            let reply = entry.unblock_with.take().unwrap_or(entry.timeout_reply);
            if let Some(client) = self.state.clients.get(&entry.id) {
                reply.encode(client.protocol, &mut entry.out);
            }
            entry.cmds.pop_front();
            self.run_batch(entry.id, entry.cmds, entry.out, None, None);
        }
    }

    /// Whether CLIENT PAUSE holds this command: every command under ALL;
    /// under WRITE, writes and commands that may replicate (even when
    /// only queued after MULTI, as Redis 7.0.15 does) and an EXEC with
    /// such a command queued.
    fn pause_holds(&self, client: &ClientState, argv: &[Bytes]) -> bool {
        let Some(pause) = self.state.pause else {
            return false;
        };
        if !client.authenticated {
            return false;
        }
        let Ok((spec, name)) = cmd::lookup(argv) else {
            return false;
        };
        if pause.all {
            return true;
        }
        let writes = |spec: &cmd::CommandSpec, name| {
            spec.has_flag("write") || crate::pause::may_replicate(name)
        };
        match &client.multi {
            Some(queue) if name.parent.is_none() && spec.name == "exec" => queue
                .iter()
                .any(|q| cmd::lookup(q).is_ok_and(|(s, n)| writes(s, n))),
            _ => writes(spec, name),
        }
    }

    /// Runs the batches CLIENT PAUSE held, in the order they arrived.
    fn resume_held(&mut self) {
        for held in std::mem::take(&mut self.state.held) {
            self.run_batch(held.id, held.cmds, held.out, None, None);
        }
    }

    /// How long the executor may sleep: until the next sweep, the end of a
    /// pause or the earliest blocked client's deadline.
    fn next_wait(&self) -> Duration {
        let now = Instant::now();
        self.state
            .blocked
            .iter()
            .filter_map(|b| b.deadline)
            .chain(self.state.pause.map(|p| p.until))
            .map(|d| d.saturating_duration_since(now))
            .fold(SWEEP_INTERVAL, Duration::min)
    }

    /// Runs one command for `client`.
    fn execute(&mut self, client: &mut ClientState, argv: &[Bytes]) -> Reply {
        if argv.is_empty() {
            return Reply::NullArray;
        }
        let (spec, full_name) = match cmd::resolve(argv) {
            Ok(found) => found,
            Err(reply) => return self.reject(client, argv, reply),
        };
        if !client.authenticated && !spec.has_flag("no_auth") {
            let reply = Reply::error("NOAUTH Authentication required.");
            return self.reject(client, argv, reply);
        }
        if let Err(reply) = crate::acl::check(&mut self.state, client, full_name, argv) {
            return self.reject(client, argv, reply);
        }
        if let Err(reply) = self.raft_gate(client, spec) {
            return self.reject(client, argv, reply);
        }
        if client.in_subscribed_mode() && !cmd::pubsub::allowed_when_subscribed(spec.name) {
            let reply = Reply::error(format!(
                "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            ));
            return self.reject(client, argv, reply);
        }
        if full_name.parent.is_none() {
            if let Some(queue) = &mut client.multi {
                if !transactions::runs_inside_multi(spec.name) {
                    if spec.has_flag("no_multi") {
                        let reply = Reply::error("ERR Command not allowed inside a transaction");
                        return self.reject(client, argv, reply);
                    }
                    queue.push(argv.to_vec());
                    return Reply::status("QUEUED");
                }
                if spec.name == "exec" {
                    let reply = self.exec(client);
                    client.tracking.caching = false;
                    crate::diagnostics::feed_monitors(&mut self.state, client, false, argv);
                    return reply;
                }
            }
        } else if let Some(queue) = &mut client.multi {
            queue.push(argv.to_vec());
            return Reply::status("QUEUED");
        }
        let started = Instant::now();
        client.last_active = started;
        client.last_cmd = Some(full_name);
        self.state.stats.commands_processed += 1;
        self.store.set_now(self.clock.unix_ms_at(started));
        self.store.record_modified(self.state.tracking.active());
        self.store
            .set_versions_watched(std::rc::Rc::strong_count(&self.state.watch_token) > 1);
        let mut ctx = Ctx {
            store: &mut self.store,
            client,
            server: &mut self.state,
            scripting: &mut self.scripting,
        };
        let reply = match (spec.handler)(&mut ctx, argv) {
            Ok(reply) => reply,
            Err(cmd::CmdError::Block(req)) => {
                self.block_request = Some(*req);
                // MONITOR shows a blocking command when it first runs,
                // whether or not it then waits (not again when retried).
                if client.woken_by.is_none() && crate::diagnostics::monitored(spec) {
                    crate::diagnostics::feed_monitors(&mut self.state, client, false, argv);
                }
                return Reply::NoReply;
            }
            Err(e) => e.into_reply(),
        };
        let micros = started.elapsed().as_micros() as u64;
        let stat = self.state.stats.commands.entry(spec, full_name);
        stat.calls += 1;
        stat.usec += micros;
        stat.histogram.record(micros);
        let counted = std::mem::take(&mut self.state.error_already_counted);
        if reply.is_error() {
            stat.failed += 1;
            if !counted {
                self.state.stats.count_error(&reply);
            }
        }
        self.diagnose(client, spec, argv, micros);
        cmd::flush_store_events(&mut self.store, &mut self.state, Some(client));
        transactions::touch_created(&mut self.store, &mut self.state, client);
        if client.tracking.on {
            crate::tracking::after_command(&mut self.state, client, spec, full_name, argv);
        }
        reply
    }

    /// The slow log, the latency monitor and MONITOR's feed, after a
    /// command ran for `micros`.
    fn diagnose(
        &mut self,
        client: &mut ClientState,
        spec: &cmd::CommandSpec,
        argv: &[Bytes],
        micros: u64,
    ) {
        let hot = self.state.hot_config;
        if hot.slowlog_slower_than >= 0
            && micros >= hot.slowlog_slower_than as u64
            && !spec.has_flag("skip_slowlog")
        {
            self.state
                .slowlog
                .push(client, argv, micros, hot.slowlog_max_len);
        }
        if hot.latency_threshold_ms > 0 && micros / 1000 >= hot.latency_threshold_ms {
            let event = if spec.has_flag("fast") {
                "fast-command"
            } else {
                "command"
            };
            self.state.latency.add(event, micros / 1000);
        }
        // A retried blocked command was shown when it first ran.
        if client.woken_by.is_none() && crate::diagnostics::monitored(spec) {
            crate::diagnostics::feed_monitors(&mut self.state, client, false, argv);
        }
    }

    /// A command refused before it runs, as Redis's `rejectCommand`: the
    /// error counts in errorstats and dooms an open transaction, and a
    /// refused EXEC discards the transaction (and the WATCHes) saying why.
    fn reject(&mut self, client: &mut ClientState, argv: &[Bytes], reply: Reply) -> Reply {
        let reply = if argv[0].eq_ignore_ascii_case(b"exec") {
            client.multi = None;
            client.multi_failed = false;
            client.watched.clear();
            let text = match &reply {
                Reply::Error(t) => t.to_string(),
                Reply::ErrorBytes(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            let why = text.strip_prefix("ERR ").unwrap_or(&text);
            Reply::error(format!("EXECABORT Transaction discarded because of: {why}"))
        } else {
            if client.multi.is_some() {
                client.multi_failed = true;
            } else if !argv[0].eq_ignore_ascii_case(b"client") {
                client.tracking.caching = false;
            }
            reply
        };
        self.state.stats.count_error(&reply);
        reply
    }

    /// Sends the messages produced for other clients during the group:
    /// one write per client, its messages in the order they were made
    /// (invalidations and pub/sub messages often come several at a time).
    fn deliver_outbox(&mut self) {
        let outbox = std::mem::take(&mut self.state.outbox);
        if outbox.len() == 1 {
            for (id, bytes) in outbox {
                self.send(id, Outgoing::Push(bytes));
            }
            return;
        }
        let mut order: Vec<u64> = Vec::new();
        let mut per_client: std::collections::HashMap<u64, BytesMut> =
            std::collections::HashMap::new();
        for (id, bytes) in outbox {
            per_client
                .entry(id)
                .or_insert_with(|| {
                    order.push(id);
                    BytesMut::new()
                })
                .extend_from_slice(&bytes);
        }
        for id in order {
            if let Some(bytes) = per_client.remove(&id) {
                self.send(id, Outgoing::Push(bytes.freeze()));
            }
        }
    }

    fn send(&self, id: u64, what: Outgoing) {
        if let Some(c) = self.state.clients.get(&id) {
            c.out.send(what);
        }
    }

    /// EXEC: runs the queued commands one after the other (nothing else
    /// runs in between: the executor is single-threaded), unless a queued
    /// command was refused or a WATCHed key changed.
    fn exec(&mut self, client: &mut ClientState) -> Reply {
        let queue = client.multi.take().unwrap_or_default();
        let failed = std::mem::take(&mut client.multi_failed);
        let watched = std::mem::take(&mut client.watched);
        if failed {
            return Reply::error("EXECABORT Transaction discarded because of previous errors.");
        }
        self.store.set_now(ferry_store::unix_ms());
        for w in &watched {
            match self.store.key_version(w.db, &w.key) {
                Ok(now) if now == w.version => {}
                Ok(_) => return Reply::NullArray,
                Err(e) => return cmd::CmdError::Store(e).into_reply(),
            }
        }
        client.in_exec = true;
        let mut replies = Vec::with_capacity(queue.len());
        for argv in &queue {
            let reply = self.execute(client, argv);
            // Messages for the client itself (SUBSCRIBE's confirmations)
            // are written where Redis writes them: among EXEC's replies.
            replies.append(&mut client.pending_pushes);
            if !matches!(reply, Reply::NoReply) {
                replies.push(reply);
            }
        }
        client.in_exec = false;
        // The header counts the commands: the frames of a SUBSCRIBE to
        // several channels overflow it and follow the array, as in Redis.
        self.exec_tail = replies.split_off(queue.len().min(replies.len()));
        Reply::Array(replies)
    }

    /// The active expiry cycle: removes expired keys in small batches,
    /// repeating while most of a batch was due (as Redis's cycle does).
    fn sweep(&mut self) {
        self.last_sweep = Instant::now();
        // A Raft follower's expired keys go when the leader's removal arrives.
        if self.store.is_read_only() {
            return;
        }
        // A pause keeps the dataset still: nothing expires meanwhile.
        if self.state.pause.is_some() {
            return;
        }
        self.store.set_now(ferry_store::unix_ms());
        self.store.record_modified(self.state.tracking.active());
        let started = Instant::now();
        loop {
            match self.store.sweep_expired(SWEEP_BATCH) {
                Ok(n) => {
                    cmd::flush_store_events(&mut self.store, &mut self.state, None);
                    if n < SWEEP_BATCH / 4 || started.elapsed() > Duration::from_millis(25) {
                        break;
                    }
                }
                Err(e) => {
                    log::error!("expiry sweep failed: {e}");
                    break;
                }
            }
        }
        // A stream that expired wakes its XREADGROUP clients (with an error).
        if !self.state.ready_keys.is_empty() {
            self.serve_ready_keys();
        }
    }

    /// Restarts the write-ahead log when it outgrows its bound. The log
    /// restarts (is reused from its start) only when a transaction begins
    /// with every frame already checkpointed, and this executor begins its
    /// next one right after each commit, before the storage thread can
    /// have copied that commit's frames: under a steady write load the log
    /// would grow for ever. So once it passes the bound, the executor
    /// commits and finishes the checkpoint itself (the frames the storage
    /// thread has not copied yet, usually the last commit's), and the
    /// next transaction restarts the log.
    ///
    /// The size in use comes from the storage thread's checkpoints, not
    /// from the file, which SQLite keeps at its largest until a restart.
    fn bound_wal(&mut self) {
        let in_use = self.shared.wal_log_bytes.load(Ordering::Relaxed);
        if in_use > self.store.wal_limit_bytes() {
            log::debug!("write-ahead log at {} MiB, restarting it", in_use >> 20);
            // Seen again only once the storage thread has looked anew.
            self.shared.wal_log_bytes.store(0, Ordering::Relaxed);
            match self.store.checkpoint_passive() {
                Ok(true) => self.state.stats.wal_restarts += 1,
                // Commits are held (Raft): tried again after the next report.
                Ok(false) => {}
                Err(e) => log::warn!("checkpoint failed: {e}"),
            }
        }
    }

    fn finish(&mut self, mode: ShutdownMode) {
        self.raft_finish();
        if let Err(e) = self.store.commit() {
            log::error!("final commit failed: {e}");
        }
        if mode == ShutdownMode::Save {
            if let Err(e) = self.store.checkpoint() {
                log::error!("final checkpoint failed: {e}");
            }
        }
        self.jobs.close_all();
        self.shared.shutdown.notify_one();
        log::info!("ferry is now ready to exit, bye bye...");
    }
}
