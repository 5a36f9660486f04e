//! `ferry sync`: follow a Redis master as a replica and keep a target
//! identical (issue 12, first slice: one standalone source, one standalone
//! target).

use clap::Args;
use ferry_migrate::endpoint::Spec;
use std::process::ExitCode;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  ferry sync --from redis://10.0.0.10:6379 --to redis://10.0.0.20:6379
  ferry sync --from redis://:secret@10.0.0.10:6379 --to ./ferry.db --name orders

ferry sync connects to the source as one of its replicas (REPLCONF, PSYNC).
The first time, the source sends a snapshot (a full resync): every key is
RESTOREd on the target as the source encoded it, with its expiry; the
target must be empty. Then every write the source makes reaches the target
in order. Batches of commands are applied in MULTI/EXEC together with the
replication offset they reach (hash __ferry:sync:{NAME} on the target), so
after a crash or a lost connection the same command resumes with a partial
resync (PSYNC replid offset) and applies nothing twice. If the source no
longer has that part of its stream (repl-backlog-size too small), ferry
sync stops and says so.";

#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct SyncArgs {
    /// The source: one Redis server (redis://[user:pass@]host:port).
    #[arg(long)]
    from: String,
    /// The target: redis://host:port, or a ferry store path.
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
    /// Stop after this many seconds (default: run until stopped).
    #[arg(long)]
    duration: Option<u64>,
    /// Log level (error, warn, info, debug).
    #[arg(long, default_value = "info")]
    log_level: String,
}

pub fn main(args: SyncArgs) -> ExitCode {
    crate::alloc::use_mimalloc();
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(format!("{},rustls=warn", args.log_level)),
    )
    .format_target(false)
    .init();
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
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ferry sync: {e}");
            return ExitCode::from(2);
        }
    };
    // A line every --progress-every seconds (the run reports every second).
    let every = Duration::from_secs(args.progress_every.max(1));
    let mut last_line: Option<std::time::Instant> = None;
    let result = runtime.block_on(ferry_sync::run(opts, |c| {
        if last_line.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        last_line = Some(std::time::Instant::now());
        let lag = match (c.lag_bytes, c.lag_secs) {
            (Some(b), Some(s)) => format!("lag {b} bytes / {s:.1} s"),
            _ => "lag not measured yet".to_string(),
        };
        log::info!(
            "offset {}, {} commands applied, {} keys from the snapshot, {lag}",
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
