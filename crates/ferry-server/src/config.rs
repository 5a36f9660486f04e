//! Server settings: the startup configuration and the runtime parameter table
//! behind CONFIG GET/SET.

use crate::config_defaults::REDIS_DEFAULTS;
use ferry_store::streams::NodeLimits;
use ferry_store::Durability;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// What `ferry serve` is started with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: Vec<IpAddr>,
    pub port: u16,
    pub data: PathBuf,
    pub durability: Durability,
    pub requirepass: Option<String>,
    /// The ACL file loaded at start-up and by ACL LOAD, written by ACL SAVE.
    pub aclfile: Option<PathBuf>,
    /// SQLite page cache, MiB.
    pub cache_mb: u32,
    /// The store's key cache, MiB (0: none).
    pub key_cache_mb: u32,
    /// The write-ahead log's size bound, MiB.
    pub wal_limit_mb: u32,
    pub maxclients: usize,
    /// Raft replication (`ferry serve --raft`); None: a single server.
    pub raft: Option<RaftConfig>,
}

/// How this server takes part in a Raft cluster.
#[derive(Clone, Debug, Default)]
pub struct RaftConfig {
    pub node_id: u64,
    /// Where it listens for the other nodes (`host:port`).
    pub raft_addr: String,
    /// The initial members, id -> Raft address (forms a new cluster when the
    /// log is empty). Empty: wait to be added with RAFT ADD-LEARNER.
    pub peers: BTreeMap<u64, String>,
    /// Nodes of another cluster are refused.
    pub cluster: String,
    /// Followers answer reads from their own copy without the client
    /// asking (READONLY); off, they redirect reads too.
    pub stale_reads: bool,
    /// Build a snapshot (and drop the log before it) every this many entries.
    pub snapshot_logs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: vec![IpAddr::from([127, 0, 0, 1])],
            port: 6379,
            data: PathBuf::from("ferry.db"),
            durability: Durability::Everysec,
            requirepass: None,
            aclfile: None,
            cache_mb: 32,
            key_cache_mb: 32,
            wal_limit_mb: 64,
            maxclients: 10000,
            raft: None,
        }
    }
}

/// Parameters that cannot change at runtime (Redis's immutable configs plus
/// ferry's own storage location).
const IMMUTABLE: &[&str] = &[
    "aclfile",
    "daemonize",
    "databases",
    "dir",
    "dbfilename",
    "io-threads",
    "supervised",
    "pidfile",
    "logfile",
    "bind",
    "port",
    "unixsocket",
    "syslog-enabled",
    "cluster-enabled",
];

/// The CONFIG GET/SET table: every Redis 7.0 parameter by name, holding its
/// current value as text.
#[derive(Clone, Debug)]
pub struct ConfigTable {
    values: BTreeMap<String, String>,
    /// `stream-node-max-bytes` and `stream-node-max-entries`, parsed: every
    /// XADD needs them (two look-ups by name and two parses were 4% of it).
    stream_node_limits: NodeLimits,
}

/// Why CONFIG SET refused a parameter, with Redis's wording.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigSetError {
    Unknown(String),
    Immutable(String),
    Invalid { name: String, reason: &'static str },
}

impl ConfigTable {
    pub fn new(cfg: &ServerConfig) -> ConfigTable {
        let mut values: BTreeMap<String, String> = REDIS_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dir = cfg
            .data
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| ".".into());
        let file = cfg
            .data
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bind = cfg
            .bind
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        for (k, v) in [
            ("port", cfg.port.to_string()),
            ("bind", bind),
            ("dir", dir),
            ("dbfilename", file),
            ("requirepass", cfg.requirepass.clone().unwrap_or_default()),
            (
                "aclfile",
                cfg.aclfile
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("appendfsync", cfg.durability.as_str().to_string()),
            ("appendonly", "no".into()),
            ("save", String::new()),
            ("databases", ferry_store::DATABASES.to_string()),
            ("daemonize", "no".into()),
            ("protected-mode", "yes".into()),
            ("notify-keyspace-events", String::new()),
            ("maxclients", cfg.maxclients.to_string()),
            ("pidfile", String::new()),
            ("logfile", String::new()),
            ("unixsocket", String::new()),
            ("appendfilename", "appendonly.aof".into()),
            ("appenddirname", "appendonlydir".into()),
            ("masterauth", String::new()),
            ("masteruser", String::new()),
        ] {
            values.insert(k.to_string(), v);
        }
        let mut table = ConfigTable {
            values,
            stream_node_limits: NodeLimits::default(),
        };
        table.parse_typed();
        table
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.as_str())
    }

    /// How streams are cut into macro nodes (XADD, XTRIM, DUMP, RESTORE).
    pub fn stream_node_limits(&self) -> NodeLimits {
        self.stream_node_limits
    }

    /// Refreshes the parsed copies of parameters read on hot paths.
    fn parse_typed(&mut self) {
        let get = |name: &str, default: u64| {
            self.get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let defaults = NodeLimits::default();
        self.stream_node_limits = NodeLimits {
            max_bytes: get("stream-node-max-bytes", defaults.max_bytes),
            max_entries: get("stream-node-max-entries", defaults.max_entries),
        };
    }

    /// Every (name, value) whose name matches the glob `pattern`.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&str, &str)> {
        self.values
            .iter()
            // Case-sensitive, as in Redis 7.0 (`CONFIG GET HZ` finds nothing).
            .filter(|(k, _)| ferry_store::glob::glob_match(pattern, k.as_bytes(), false))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Validates one assignment without applying it; returns the canonical
    /// parameter name and value.
    pub fn check(&self, name: &str, value: &str) -> Result<(String, String), ConfigSetError> {
        let name = name.to_ascii_lowercase();
        let Some(current) = self.values.get(&name) else {
            return Err(ConfigSetError::Unknown(name));
        };
        if IMMUTABLE.contains(&name.as_str()) {
            return Err(ConfigSetError::Immutable(name));
        }
        if name == "notify-keyspace-events" {
            return match crate::notify::parse_flags(value) {
                Some(flags) => Ok((name, crate::notify::flags_to_string(flags))),
                None => Err(ConfigSetError::Invalid {
                    name,
                    reason: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
                }),
            };
        }
        if let Some((_, choices, reason)) = ENUMS.iter().find(|(n, _, _)| *n == name) {
            let lower = value.to_ascii_lowercase();
            if !choices.contains(&lower.as_str()) {
                return Err(ConfigSetError::Invalid { name, reason });
            }
            return Ok((name, lower));
        }
        if let Some((_, lo, hi, reason)) = BOUNDS.iter().find(|(n, _, _, _)| *n == name) {
            return match value.parse::<i64>() {
                Ok(v) if (*lo..=*hi).contains(&v) => Ok((name, v.to_string())),
                Ok(_) => Err(ConfigSetError::Invalid { name, reason }),
                Err(_) => Err(ConfigSetError::Invalid {
                    name,
                    reason: "argument couldn't be parsed into an integer",
                }),
            };
        }
        let invalid = |name: String, reason| Err(ConfigSetError::Invalid { name, reason });
        let value = if current == "yes" || current == "no" {
            match value.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no") => v.to_string(),
                _ => return invalid(name, "argument must be 'yes' or 'no'"),
            }
        } else if MEMORY.contains(&name.as_str()) {
            match parse_memory(value) {
                Some(n) if n >= 0 => n.to_string(),
                _ => return invalid(name, "argument must be a memory value"),
            }
        } else if !current.is_empty() && current.parse::<i64>().is_ok() {
            match value.parse::<i64>() {
                Ok(n) => n.to_string(),
                Err(_) => return invalid(name, "argument couldn't be parsed into an integer"),
            }
        } else {
            value.to_string()
        };
        Ok((name, value))
    }

    pub fn set(&mut self, name: String, value: String) {
        for (a, b) in ALIASES {
            if name == *a || name == *b {
                let other = if name == *a { b } else { a };
                self.values.insert(other.to_string(), value.clone());
            }
        }
        self.values.insert(name, value);
        self.parse_typed();
    }
}

/// Parameters that are two names for one setting (Redis 7.0 renamed them).
const ALIASES: &[(&str, &str)] = &[("lua-time-limit", "busy-reply-threshold")];

/// Parameters with a fixed set of values, and Redis's error text listing them.
const ENUMS: &[(&str, &[&str], &str)] = &[
    (
        "appendfsync",
        &["everysec", "always", "no"],
        "argument(s) must be one of the following: everysec, always, no",
    ),
    (
        "maxmemory-policy",
        &[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ],
        "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
    ),
    (
        "loglevel",
        &["debug", "verbose", "notice", "warning"],
        "argument(s) must be one of the following: debug, verbose, notice, warning",
    ),
    (
        "acl-pubsub-default",
        &["allchannels", "resetchannels"],
        "argument(s) must be one of the following: allchannels, resetchannels",
    ),
];

/// Integer parameters with Redis's bounds.
const BOUNDS: &[(&str, i64, i64, &str)] = &[
    (
        "maxmemory-samples",
        1,
        i32::MAX as i64,
        "argument must be between 1 and 2147483647 inclusive",
    ),
    (
        "timeout",
        0,
        i32::MAX as i64,
        "argument must be between 0 and 2147483647 inclusive",
    ),
    (
        "busy-reply-threshold",
        0,
        i64::MAX,
        "argument must be between 0 and 9223372036854775807 inclusive",
    ),
    (
        "lua-time-limit",
        0,
        i64::MAX,
        "argument must be between 0 and 9223372036854775807 inclusive",
    ),
];

/// Parameters that take a memory value (`100mb`).
const MEMORY: &[&str] = &[
    "maxmemory",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "active-defrag-ignore-bytes",
    "repl-backlog-size",
    "hll-sparse-max-bytes",
];

/// An integer with an optional memory unit (`100mb`, `1gb`, `5k`), as
/// Redis's `memtoull` reads them.
fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, i64); 8] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if let Ok(n) = num.parse::<i64>() {
                return n.checked_mul(mul);
            }
        }
    }
    None
}

impl ConfigSetError {
    /// The error reply Redis 7.0 gives.
    pub fn message(&self) -> String {
        match self {
            ConfigSetError::Unknown(n) => format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{n}'"
            ),
            ConfigSetError::Immutable(n) => format!(
                "ERR CONFIG SET failed (possibly related to argument '{n}') - can't set immutable config"
            ),
            ConfigSetError::Invalid { name, reason } => format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ),
        }
    }
}
