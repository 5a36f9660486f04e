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

ferry.toml (every key optional; flags win over the file):
  bind = \"127.0.0.1\"        # or [\"127.0.0.1\", \"::1\"]
  port = 6379
  data = \"./ferry.db\"
  durability = \"everysec\"
  requirepass = \"s3cret\"
  cache-mb = 32";

#[derive(Args, Debug)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
    /// Address(es) to listen on; repeat or comma-separate for several. Default 127.0.0.1
    /// (loopback only: expose ferry deliberately, with --requirepass).
    #[arg(long, value_delimiter = ',', value_name = "ADDR")]
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

    /// Settings file with the same keys as these flags. Default ./ferry.toml when it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log filter (error, warn, info, debug). Default info; RUST_LOG overrides.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
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
    pub worker_threads: usize,
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
        // The executor thread does the storage work; connections need little.
        worker_threads: std::env::var("FERRY_IO_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
    })
}

fn read_file(path: &PathBuf) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read settings file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
