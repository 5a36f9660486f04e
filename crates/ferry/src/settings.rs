//! `ferry serve` settings: command-line flags over an optional `ferry.toml`
//! over built-in defaults.

use clap::Args;
use ferry_server::ServerConfig;
use ferry_store::Durability;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

const SERVE_EXAMPLES: &str = "\
Examples:
  ferry serve                                  # 127.0.0.1:6379, data in ./ferry.db
  ferry serve --port 6380 --data /var/lib/ferry/data.db
  ferry serve --durability always              # fsync every commit group
  ferry serve --bind 0.0.0.0 --requirepass s3cret
  ferry serve --config /etc/ferry/ferry.toml   # same keys as the flags

  # A 3-node Raft cluster (run each line on its own machine or port; every
  # node gets the same --peers and the cluster forms by itself):
  ferry serve --port 6001 --data n1.db --raft --node-id 1 --raft-addr 127.0.0.1:7001 \
      --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
  ferry serve --port 6002 --data n2.db --raft --node-id 2 --raft-addr 127.0.0.1:7002 \
      --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
  ferry serve --port 6003 --data n3.db --raft --node-id 3 --raft-addr 127.0.0.1:7003 \
      --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003

ferry.toml (every key optional; flags win over the file):
  bind = \"127.0.0.1\"        # or [\"127.0.0.1\", \"::1\"]
  port = 6379
  data = \"./ferry.db\"
  durability = \"everysec\"
  requirepass = \"s3cret\"
  cache-mb = 32
  key-cache-mb = 32
  wal-limit-mb = 64
  raft = true                 # and: node-id, raft-addr, peers, raft-cluster, stale-reads";

#[derive(Args, Debug)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
    /// Address(es) to listen on; repeat or comma-separate for several. Default 127.0.0.1
    /// (loopback only: expose ferry deliberately, with --requirepass).
    #[arg(long, value_delimiter = ',', value_name = "ADDR", value_parser = parse_bind)]
    bind: Vec<IpAddr>,

    /// TCP port. Default 6379.
    #[arg(long, short = 'p', value_name = "N")]
    port: Option<u16>,

    /// SQLite data file; created when missing. Default ./ferry.db.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,

    /// When committed writes are fsynced: `always` (every commit group; no
    /// acknowledged write is lost on power failure), `everysec` (default; a
    /// crash of ferry loses nothing, a power loss at most ~1 s), `no` (the OS decides).
    #[arg(long, value_name = "always|everysec|no", value_parser = parse_durability)]
    durability: Option<Durability>,

    /// Password clients must send with AUTH (or HELLO ... AUTH) before other commands.
    #[arg(
        long,
        value_name = "PASS",
        env = "FERRY_REQUIREPASS",
        hide_env_values = true
    )]
    requirepass: Option<String>,

    /// ACL file with `user <name> <rules>` lines (Redis's format): loaded at
    /// start, by ACL LOAD; written by ACL SAVE.
    #[arg(long, value_name = "FILE")]
    aclfile: Option<PathBuf>,

    /// SQLite page cache in MiB: the main knob for resident memory. Default 32.
    #[arg(long, value_name = "MIB")]
    cache_mb: Option<u32>,

    /// Key cache in MiB: recently read keys (their row, and string values up
    /// to 512 bytes) kept in memory in front of SQLite, so reads of hot keys
    /// skip a b-tree lookup; an eighth of it more holds the first elements
    /// of lists LRANGE reads (up to 1024 each), and another eighth rows
    /// read ahead of LPOP/RPOP (up to 64 per list end). 0 turns all three
    /// off. Default 32.
    #[arg(long, value_name = "MIB")]
    key_cache_mb: Option<u32>,

    /// Write-ahead log bound in MiB: when the log SQLite keeps beside the
    /// data file holds more than this, ferry checkpoints it into the data
    /// file and starts it over (a pause of a few ms under heavy writes);
    /// the file is cut back to this size. Default 64.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..))]
    wal_limit_mb: Option<u32>,

    /// Settings file with the same keys as these flags. Default ./ferry.toml when it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Replicate with Raft: every write is acknowledged only once a majority
    /// of the cluster has it. Needs --node-id and --raft-addr (and --peers to
    /// form a new cluster). See docs/replication.md.
    #[arg(long)]
    raft: bool,

    /// This node's id in the Raft cluster (a positive integer, unique).
    #[arg(long, value_name = "N")]
    node_id: Option<u64>,

    /// Where this node listens for the other Raft nodes (`host:port`).
    #[arg(long, value_name = "HOST:PORT")]
    raft_addr: Option<String>,

    /// The initial members, `ID=HOST:PORT` (their Raft addresses),
    /// comma-separated, this node included: give every node the same list.
    /// The lowest id forms the cluster when its log is empty; the others
    /// wait to be contacted. Leave it out on a node that an existing cluster
    /// adds with `RAFT ADD-LEARNER`.
    #[arg(long, value_name = "ID=HOST:PORT,...")]
    peers: Option<String>,

    /// Cluster name: nodes started with another name are refused. Default "ferry".
    #[arg(long, value_name = "NAME")]
    raft_cluster: Option<String>,

    /// Let Raft followers answer reads from their own copy (possibly
    /// stale) without the client sending READONLY first.
    #[arg(long)]
    stale_reads: bool,

    /// Build a Raft snapshot every N log entries (default 20000).
    #[arg(long, value_name = "N", hide = true)]
    raft_snapshot_logs: Option<u64>,

    /// Log filter (error, warn, info, debug). Default info; RUST_LOG overrides.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

/// An address to listen on. `host:port`, as other tools take it, is told
/// apart from a typo: the port has its own flag.
fn parse_bind(s: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = s.parse() {
        return Ok(ip);
    }
    if let Ok(sock) = s.parse::<std::net::SocketAddr>() {
        return Err(format!(
            "'{s}' has a port; --bind takes the address alone and --port the port: --bind {} --port {}",
            sock.ip(),
            sock.port()
        ));
    }
    Err(format!(
        "'{s}' is not an IP address (for example 127.0.0.1, ::1 or 0.0.0.0; host names are not resolved)"
    ))
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    Durability::parse(s).ok_or_else(|| format!("'{s}' is not one of always, everysec, no"))
}

/// `ferry.toml`: the same keys as the flags.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSettings {
    bind: Option<OneOrMany>,
    port: Option<u16>,
    data: Option<PathBuf>,
    durability: Option<String>,
    requirepass: Option<String>,
    aclfile: Option<PathBuf>,
    cache_mb: Option<u32>,
    key_cache_mb: Option<u32>,
    wal_limit_mb: Option<u32>,
    raft: Option<bool>,
    node_id: Option<u64>,
    raft_addr: Option<String>,
    peers: Option<String>,
    raft_cluster: Option<String>,
    stale_reads: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum OneOrMany {
    One(IpAddr),
    Many(Vec<IpAddr>),
}

pub struct Resolved {
    pub server: ServerConfig,
    pub log_level: String,
}

/// Merges flags over the settings file over defaults.
pub fn resolve(args: ServeArgs) -> Result<Resolved, String> {
    let file = match &args.config {
        Some(path) => Some(read_file(path)?),
        None => {
            let default = PathBuf::from("ferry.toml");
            if default.exists() {
                Some(read_file(&default)?)
            } else {
                None
            }
        }
    }
    .unwrap_or_default();
    let mut cfg = ServerConfig::default();
    if let Some(b) = file.bind {
        cfg.bind = match b {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        };
    }
    if !args.bind.is_empty() {
        cfg.bind = args.bind;
    }
    if cfg.bind.is_empty() {
        return Err("bind needs at least one address".into());
    }
    cfg.port = args.port.or(file.port).unwrap_or(cfg.port);
    cfg.data = args.data.or(file.data).unwrap_or(cfg.data);
    cfg.durability = match (args.durability, file.durability) {
        (Some(d), _) => d,
        (None, Some(s)) => {
            parse_durability(&s).map_err(|e| format!("ferry.toml durability: {e}"))?
        }
        (None, None) => cfg.durability,
    };
    cfg.requirepass = args
        .requirepass
        .or(file.requirepass)
        .filter(|p| !p.is_empty());
    cfg.aclfile = args.aclfile.or(file.aclfile);
    cfg.cache_mb = args.cache_mb.or(file.cache_mb).unwrap_or(cfg.cache_mb);
    cfg.key_cache_mb = args
        .key_cache_mb
        .or(file.key_cache_mb)
        .unwrap_or(cfg.key_cache_mb);
    cfg.wal_limit_mb = args
        .wal_limit_mb
        .or(file.wal_limit_mb)
        .unwrap_or(cfg.wal_limit_mb);
    if args.raft || file.raft.unwrap_or(false) {
        let node_id = args
            .node_id
            .or(file.node_id)
            .ok_or("--raft needs --node-id N (this node's id in the cluster)")?;
        if node_id == 0 {
            return Err("--node-id must be a positive integer".into());
        }
        let raft_addr = args
            .raft_addr
            .or(file.raft_addr)
            .ok_or("--raft needs --raft-addr HOST:PORT (where the other nodes reach this one)")?;
        let peers = match args.peers.or(file.peers) {
            Some(p) => parse_peers(&p)?,
            None => Default::default(),
        };
        if !peers.is_empty() && peers.get(&node_id) != Some(&raft_addr) {
            return Err(format!(
                "--peers must list this node as {node_id}={raft_addr} (the same id and --raft-addr)"
            ));
        }
        cfg.raft = Some(ferry_server::config::RaftConfig {
            node_id,
            raft_addr,
            peers,
            cluster: args
                .raft_cluster
                .or(file.raft_cluster)
                .unwrap_or_else(|| "ferry".into()),
            stale_reads: args.stale_reads || file.stale_reads.unwrap_or(false),
            snapshot_logs: args.raft_snapshot_logs.unwrap_or(0),
        });
    } else if args.node_id.is_some() || args.raft_addr.is_some() || args.peers.is_some() {
        return Err("--node-id, --raft-addr and --peers need --raft".into());
    }
    if let Some(parent) = cfg.data.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(format!(
                "the directory of the data file {} does not exist; create it or choose another --data",
                cfg.data.display()
            ));
        }
    }
    Ok(Resolved {
        server: cfg,
        log_level: args.log_level,
    })
}

/// `1=host:port,2=host:port` into id -> address.
fn parse_peers(s: &str) -> Result<std::collections::BTreeMap<u64, String>, String> {
    let mut peers = std::collections::BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .ok_or_else(|| format!("--peers: '{item}' is not ID=HOST:PORT"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("--peers: '{id}' is not a node id (a positive integer)"))?;
        if !addr.contains(':') {
            return Err(format!("--peers: '{addr}' is not HOST:PORT"));
        }
        if peers.insert(id, addr.trim().to_string()).is_some() {
            return Err(format!("--peers: node {id} is listed twice"));
        }
    }
    Ok(peers)
}

fn read_file(path: &PathBuf) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read settings file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
