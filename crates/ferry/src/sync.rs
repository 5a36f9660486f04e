//! `ferry sync`: follow a Redis master (or each master of a cluster) as a
//! replica and keep a target identical.

use clap::Args;
use ferry_migrate::endpoint::Spec;
use std::process::ExitCode;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  ferry sync --from redis://10.0.0.10:6379 --to redis://10.0.0.20:6379
  ferry sync --from redis://:secret@10.0.0.10:6379 --to ./ferry.db --name orders
  ferry sync --from redis+cluster://10.0.0.11:7000 --to redis://10.0.0.20:6379
  ferry sync --from 'rediss://:secret@10.0.0.10:6380#insecure' --to redis://10.0.0.20:6379
  ferry sync --from redis://10.0.0.10:6379 --to redis+cluster://10.0.0.21:7000
  ferry sync --from redis://10.0.0.10:6379 --to redis://10.0.0.20:6379 \
      --filter-key 'user:*' --filter-key 'session:*' --filter-db 0 --skip-command flushall

ferry sync connects to the source as one of its replicas (REPLCONF, PSYNC).
The first time, the source sends a snapshot (a full resync): every key is
RESTOREd on the target as the source encoded it, with its expiry, while the
snapshot arrives (memory holds some MB and the largest key a few times
over, not the snapshot; a slow target slows the reading, see docs/sync.md about the
source's client-output-buffer-limit); the target must be empty. Then every write the source makes reaches the target
in order. Batches of commands are applied in MULTI/EXEC together with the
replication offset they reach (hash __ferry:sync:{NAME} on the target), so
after a crash or a lost connection the same command resumes with a partial
resync (PSYNC replid offset) and applies nothing twice. If the source no
longer has that part of its stream (repl-backlog-size too small), ferry
sync stops and says so.

A rediss:// source is followed over TLS (the system's trusted roots; add
#insecure to accept a self-signed or private certificate).

A cluster source is one stream per master, each with its own checkpoint
(__ferry:sync:{NAME}:slots-<first slot>). When a master goes away, ferry
sync looks for the server that replaced it (a replica the master listed;
in a cluster, the node now serving the shard's slots) and continues there
with a partial resync (PSYNC keeps the history across a promotion).

A cluster target (database 0 only: --filter-db 0 for a source with other
databases) commits each slot's share of a batch in its own MULTI/EXEC with
a checkpoint kept in that slot (__ferry:sync:{<tag>}:NAME:slot-<n>);
__ferry:sync:{NAME} is then the point every slot has reached. Atomicity
holds per slot, not across slots. DEL, UNLINK, MSET and MSETNX across slots
are split per slot; another command with keys in several slots stops ferry
sync before it (exit 2). FLUSHALL empties the stream's slots on every node.
See docs/sync.md.

Filters: --filter-key (globs, Redis's syntax; repeatable), --filter-db,
--skip-command, --only-command. A command naming keys on both sides of the
key filter (an MSET of user:1 and order:1 under --filter-key 'user:*') is
applied whole and counted as mixed; commands without keys (FLUSHDB,
FUNCTION LOAD) pass the key filter.

Exit codes: 0 stopped after --duration, 2 bad flags or a state ferry sync
refuses (a non-empty target, a lost backlog), 3 a source or target error.";

#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct SyncArgs {
    /// The source: a Redis master (redis://[user:pass@]host:port) or a
    /// cluster (redis+cluster://host:port[,host:port...]).
    #[arg(long)]
    from: String,
    /// The target: redis://host:port, a cluster
    /// (redis+cluster://host:port[,host:port...]), or a ferry store path.
    #[arg(long)]
    to: String,
    /// The run's name: its checkpoint is __ferry:sync:{NAME} on the target
    /// (default: the source's host:port).
    #[arg(long)]
    name: Option<String>,
    /// Commands per MULTI/EXEC batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Seconds between progress lines (offset, commands, lag).
    #[arg(long, default_value_t = 10)]
    progress_every: u64,
    /// Only keys matching this glob (repeatable; default every key).
    #[arg(long, value_name = "GLOB")]
    filter_key: Vec<String>,
    /// Only this database (repeatable; default every database).
    #[arg(long, value_name = "N")]
    filter_db: Vec<i64>,
    /// Never apply this command (repeatable, e.g. flushall).
    #[arg(long, value_name = "NAME")]
    skip_command: Vec<String>,
    /// Apply only these commands (repeatable; default all).
    #[arg(long, value_name = "NAME")]
    only_command: Vec<String>,
    /// Serve a live dashboard at http://ADDR/ and Prometheus metrics at
    /// http://ADDR/metrics (e.g. 127.0.0.1:9000; docs/dashboard.md).
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// Stop after this many seconds (default: run until stopped).
    #[arg(long)]
    duration: Option<u64>,
    /// Log level (error, warn, info, debug).
    #[arg(long, default_value = "info")]
    log_level: String,
}

pub fn main(args: SyncArgs) -> ExitCode {
    crate::alloc::use_mimalloc();
    crate::init_logging(&args.log_level);
    let Some(runtime) = crate::runtime(2) else {
        return ExitCode::FAILURE;
    };
    let parse = |flag: &str, text: &str| {
        Spec::parse(text).map_err(|e| ferry_sync::Error::Usage(format!("{flag}: {e}")))
    };
    let opts = match (parse("--from", &args.from), parse("--to", &args.to)) {
        (Ok(from), Ok(to)) => ferry_sync::Options {
            name: args.name.unwrap_or_else(|| from.display()),
            from,
            to,
            batch: args.batch.max(1),
            duration: args.duration.map(Duration::from_secs),
            filter: ferry_sync::filter::Filter {
                keys: args
                    .filter_key
                    .iter()
                    .map(|g| g.as_bytes().to_vec())
                    .collect(),
                dbs: args.filter_db.clone(),
                skip: args
                    .skip_command
                    .iter()
                    .map(|c| c.to_ascii_lowercase())
                    .collect(),
                only: args
                    .only_command
                    .iter()
                    .map(|c| c.to_ascii_lowercase())
                    .collect(),
            },
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ferry sync: {e}");
            return ExitCode::from(2);
        }
    };
    // A line every --progress-every seconds (the run reports every second).
    let every = Duration::from_secs(args.progress_every.max(1));
    let mut last_line: Option<std::time::Instant> = None;
    let board = args.http.map(|_| {
        std::sync::Arc::new(
            ferry_dashboard::Board::new("sync", &opts.name)
                .with_label("from", &opts.from.display())
                .with_label("to", &opts.to.display()),
        )
    });
    let _server = match (args.http, &board) {
        (Some(addr), Some(b)) => match runtime.block_on(ferry_dashboard::serve(addr, b.clone())) {
            Ok((bound, task)) => {
                log::info!(
                    "dashboard: http://{bound}/ (Prometheus metrics at http://{bound}/metrics)"
                );
                b.phase("connect");
                Some(task)
            }
            Err(e) => {
                eprintln!("ferry sync: --http {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let mut shown = ferry_sync::Counts::default();
    let result = runtime.block_on(ferry_sync::run(opts, |c| {
        if let Some(b) = &board {
            // The offset is known once the snapshot is applied (or at once
            // on a partial resync).
            let phase = if c.offset > 0 { "stream" } else { "snapshot" };
            if b.current_phase() != phase {
                b.phase(phase);
            }
            b.add_keys(c.keys_restored.saturating_sub(shown.keys_restored));
            b.add_commands(c.commands.saturating_sub(shown.commands));
            if let Some(l) = c.lag_bytes {
                b.set_lag_bytes(l);
            }
            if let Some(s) = c.lag_secs {
                b.set_lag_seconds(s);
            }
            shown = c.clone();
        }
        if last_line.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        last_line = Some(std::time::Instant::now());
        let lag = match (c.lag_bytes, c.lag_secs) {
            (Some(b), Some(s)) => format!("lag {b} bytes / {s:.1} s"),
            _ => "lag not measured yet".to_string(),
        };
        let streams = if c.streams > 1 {
            format!("{} streams, offsets summed ", c.streams)
        } else {
            String::new()
        };
        let filtered = if c.filtered + c.mixed > 0 {
            format!(", {} filtered out, {} mixed", c.filtered, c.mixed)
        } else {
            String::new()
        };
        log::info!(
            "{streams}offset {}, {} commands applied, {} keys from the snapshot, {lag}{filtered}",
            c.offset,
            c.commands,
            c.keys_restored
        )
    }));
    match result {
        Ok(c) => {
            println!(
                "stopped at offset {}: {} keys from the snapshot, {} commands applied",
                c.offset, c.keys_restored, c.commands
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferry sync: {e}");
            ExitCode::from(match e {
                ferry_sync::Error::Usage(_) => 2,
                _ => 3,
            })
        }
    }
}
