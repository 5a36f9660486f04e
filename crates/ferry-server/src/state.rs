//! Server-wide state the executor owns: configuration, statistics and the
//! other connected clients.

use crate::client::ClientState;
use crate::cmd::{CommandSpec, FullName};
use crate::config::{ConfigTable, ServerConfig};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

/// Counters INFO stats reports; CONFIG RESETSTAT zeroes them.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub commands_processed: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Per command: calls, time spent, failed calls (INFO commandstats).
    pub commands: CommandStats,
    /// Error replies by their code (`ERR`, `WRONGTYPE`): INFO errorstats.
    pub errors: HashMap<String, u64>,
    /// Times the executor restarted an outgrown write-ahead log itself
    /// (INFO persistence `ferry_wal_restarts`).
    pub wal_restarts: u64,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub failed: u64,
    /// Latency of each call (LATENCY HISTOGRAM).
    pub histogram: crate::diagnostics::Histogram,
}

/// INFO commandstats' rows, found by the address of the command's spec
/// (each spec is its own static): every command counts itself here, and
/// an address costs a multiply where the name took a SipHash of two
/// strings (issue 13 asked for no per-command SipHash map).
#[derive(Debug, Default, Clone)]
pub struct CommandStats {
    rows: HashMap<usize, (FullName, CommandStat), BuildHasherDefault<AddressHasher>>,
}

impl CommandStats {
    /// The row of `spec` (named `name`), made on its first call.
    pub fn entry(&mut self, spec: &'static CommandSpec, name: FullName) -> &mut CommandStat {
        let addr = spec as *const CommandSpec as usize;
        &mut self
            .rows
            .entry(addr)
            .or_insert_with(|| (name, CommandStat::default()))
            .1
    }

    /// Every command run since the last reset, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&FullName, &CommandStat)> {
        self.rows.values().map(|(n, s)| (n, s))
    }
}

/// Hashes a spec's address (see [`CommandStats`]): the address times an
/// odd constant, high bits folded into the low ones the table indexes by.
#[derive(Default)]
pub struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

impl Stats {
    /// Counts an error reply under its code (the first word).
    pub fn count_error(&mut self, reply: &ferry_resp::Reply) {
        let code = match reply {
            ferry_resp::Reply::Error(t) => t.split(' ').next().unwrap_or("ERR").to_string(),
            ferry_resp::Reply::ErrorBytes(b) => {
                String::from_utf8_lossy(b.split(|c| *c == b' ').next().unwrap_or(b"ERR"))
                    .into_owned()
            }
            _ => return,
        };
        *self.errors.entry(code).or_default() += 1;
    }
}

/// How SHUTDOWN asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Save,
    NoSave,
}

pub struct ServerState {
    pub startup: ServerConfig,
    pub config: ConfigTable,
    pub stats: Stats,
    /// Connected clients other than the one whose command is running.
    pub clients: HashMap<u64, ClientState>,
    pub started: Instant,
    pub run_id: String,
    /// Unix seconds of the last SAVE/BGSAVE checkpoint (or start-up).
    pub lastsave: i64,
    pub shutdown: Option<ShutdownMode>,
    /// Subscribers of each channel and pattern, in subscription order.
    pub channels: HashMap<bytes::Bytes, Vec<u64>>,
    pub patterns: HashMap<bytes::Bytes, Vec<u64>>,
    /// Messages for other clients produced during the current group; sent
    /// after the group's replies so none overtakes an earlier reply.
    pub outbox: Vec<(u64, bytes::Bytes)>,
    /// Enabled keyspace notification classes (see `notify.rs`).
    pub notify_flags: u32,
    /// Clients waiting in a blocking command, in the order they blocked.
    pub blocked: Vec<Blocked>,
    /// Keys created since the executor last looked (blocked clients waiting
    /// on them may now be served).
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// CLIENT UNBLOCK marked a blocked client to release.
    pub unblock_requested: bool,
    /// The error the running command returns was counted in errorstats
    /// already (a script returning a command's error).
    pub error_already_counted: bool,
    /// Whether new connections start unauthenticated (the event loop reads
    /// it when it accepts one); updated when requirepass changes.
    pub auth_required: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Client-side caching: who may cache which key.
    pub tracking: crate::tracking::Tracking,
    /// CLIENT PAUSE in force, and the batches it holds, in arrival order.
    pub pause: Option<crate::pause::Pause>,
    pub held: Vec<crate::pause::Held>,
    /// Clients in MONITOR mode, in the order they started.
    pub monitors: Vec<u64>,
    pub slowlog: crate::diagnostics::SlowLog,
    pub latency: crate::diagnostics::LatencyMonitor,
    /// Configuration read on every command, kept parsed (see
    /// [`ServerState::config_changed`]).
    pub hot_config: HotConfig,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// The Raft node, once started (`ferry serve --raft`).
    pub raft: Option<ferry_raft::RaftNode>,
    /// Every [`crate::client::WatchedKey`] holds a clone: more than one
    /// reference means some client WATCHes a key, and writes must then bump
    /// key versions even where nothing else of the key's row changes.
    pub watch_token: std::rc::Rc<()>,
}

impl HotConfig {
    fn read(config: &ConfigTable) -> HotConfig {
        let num = |name: &str, default: i64| -> i64 {
            config
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        HotConfig {
            slowlog_slower_than: num("slowlog-log-slower-than", 10_000),
            slowlog_max_len: num("slowlog-max-len", 128).max(0) as usize,
            latency_threshold_ms: num("latency-monitor-threshold", 0).max(0) as u64,
            tracking_max_keys: num("tracking-table-max-keys", 1_000_000).max(0) as usize,
        }
    }
}

/// Configuration the executor reads on every command or group, kept parsed.
#[derive(Debug, Clone, Copy)]
pub struct HotConfig {
    /// `slowlog-log-slower-than` in µs; negative disables the slow log.
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in ms; 0 disables the latency monitor.
    pub latency_threshold_ms: u64,
    /// `tracking-table-max-keys`; 0 means no limit (read after each group).
    pub tracking_max_keys: usize,
}

/// A client parked in a blocking command (BLPOP...), with the rest of its
/// pipelined batch, which runs once the command is served or times out.
#[derive(Debug)]
pub struct Blocked {
    pub id: u64,
    pub db: usize,
    pub keys: Vec<bytes::Bytes>,
    /// The type a key must hold to be worth a retry.
    pub ktype: ferry_store::KeyType,
    /// Retry also when a key is gone or holds another type (XREADGROUP).
    pub retry_if_gone: bool,
    pub deadline: Option<std::time::Instant>,
    /// What the blocking command replies when it times out.
    pub timeout_reply: ferry_resp::Reply,
    /// The blocking command first, then the commands pipelined after it.
    pub cmds: std::collections::VecDeque<Vec<bytes::Bytes>>,
    /// Replies already produced for the batch.
    pub out: bytes::BytesMut,
    /// Set by CLIENT UNBLOCK: the reply to give instead of waiting.
    pub unblock_with: Option<ferry_resp::Reply>,
}

impl ServerState {
    pub fn new(
        startup: ServerConfig,
        auth_required: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> ServerState {
        let run_id: String = (0..40)
            .map(|_| {
                let d = rand::random::<u8>() % 16;
                char::from_digit(d as u32, 16).unwrap_or('0')
            })
            .collect();
        let mut acl = crate::acl::Acl::default();
        if let Some(pass) = &startup.requirepass {
            acl.set_requirepass(pass);
        }
        let config = ConfigTable::new(&startup);
        ServerState {
            raft: None,
            hot_config: HotConfig::read(&config),
            watch_token: std::rc::Rc::new(()),
            config,
            startup,
            stats: Stats::default(),
            clients: HashMap::new(),
            started: Instant::now(),
            run_id,
            lastsave: ferry_store::unix_ms() / 1000,
            shutdown: None,
            channels: HashMap::new(),
            patterns: HashMap::new(),
            outbox: Vec::new(),
            notify_flags: 0,
            blocked: Vec::new(),
            ready_keys: Vec::new(),
            unblock_requested: false,
            error_already_counted: false,
            auth_required,
            tracking: Default::default(),
            pause: None,
            held: Vec::new(),
            monitors: Vec::new(),
            slowlog: Default::default(),
            latency: Default::default(),
            acl,
        }
    }

    /// Re-reads the configuration kept parsed in [`HotConfig`]; CONFIG SET
    /// calls it after every change.
    pub fn config_changed(&mut self) {
        self.hot_config = HotConfig::read(&self.config);
    }

    /// Queues a pushed message (pub/sub, invalidation, MONITOR line) for
    /// client `id`: before the running client's reply when it is `current`,
    /// else in the outbox, encoded in the target's protocol (ahead of the
    /// target's own batch if it comes later in this group).
    pub fn push_message(
        &mut self,
        current: Option<&mut ClientState>,
        id: u64,
        msg: ferry_resp::Reply,
    ) {
        match current {
            Some(me) if me.id == id => me.pending_pushes.push(msg),
            _ => {
                if let Some(target) = self.clients.get(&id) {
                    let mut out = bytes::BytesMut::new();
                    msg.encode(target.protocol, &mut out);
                    self.outbox.push((id, out.freeze()));
                }
            }
        }
    }

    /// The password clients must AUTH with, if any.
    pub fn requirepass(&self) -> Option<&str> {
        self.config.get("requirepass").filter(|p| !p.is_empty())
    }
}
