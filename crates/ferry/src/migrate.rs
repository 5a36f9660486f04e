//! `ferry migrate ...`: flags, help texts and output. The work is in the
//! `ferry-migrate` crate.

use clap::{Args, Subcommand};
use ferry_dashboard::Board;
use ferry_migrate::bulk::{BulkOptions, Scope};
use ferry_migrate::copy::{Conflict, TtlMode};
use ferry_migrate::dirty::DirtyOptions;
use ferry_migrate::endpoint::{Endpoint, Spec};
use ferry_migrate::flow::RunOptions;
use ferry_migrate::registry::{tracker_alive, Control, Registry};
use ferry_migrate::track::{TrackOptions, Tracker};
use ferry_migrate::verify::VerifyOptions;
use ferry_migrate::{Error, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Check both endpoints and what the migration will meet.
    #[command(
        after_help = "Examples:\n  ferry migrate preflight --from redis://10.0.0.10:6379 --to ./data.db\n  ferry migrate preflight --from redis+cluster://10.0.0.1:7000 --to redis://10.0.0.20:6379\n\nExits non-zero when the migration cannot work (unreachable host, types the target cannot hold, source = target)."
    )]
    Preflight(Pair),
    /// Record the keys the source changes (keyspace notifications) until stopped.
    #[command(
        after_help = "Examples:\n  ferry migrate track --run-id r1 --from redis://10.0.0.10:6379 --to ./data.db\n  ferry migrate track --run-id r1 --from redis://src:6379 --to redis://dst:6379 --enable-notifications\n\nStart it before `bulk`, keep it running until the final `apply-dirty`. Stops on SIGINT, SIGTERM or `ferry migrate track-stop --run-id R`."
    )]
    Track(TrackArgs),
    /// Ask a running tracker to stop.
    #[command(after_help = "Example:\n  ferry migrate track-stop --run-id r1 --to ./data.db")]
    TrackStop(RunRef),
    /// Copy every key of the source to the target (resumable).
    #[command(
        after_help = "Examples:\n  ferry migrate bulk --run-id r1 --from redis://10.0.0.10:6379 --to ./data.db\n  ferry migrate bulk --run-id r1 --from redis://src:6379 --to redis+cluster://dst:7000 --max-concurrency 16 --max-rps 20000\n  ferry migrate bulk --run-id r1 --from redis://src:6379 --to redis://dst:6379 --resume\n  ferry migrate bulk --run-id r1 --from redis://src:6379 --to redis://dst:6379 --method snapshot\n  ferry migrate bulk --run-id r1 --from redis://src:6379 --to ./data.db --http 127.0.0.1:9000\n\nWith --http, http://127.0.0.1:9000/ shows the progress live and /metrics serves it to Prometheus (docs/dashboard.md). The checkpoint (SCAN cursor and counters) is saved every 2 seconds; after a crash or Ctrl-C, the same command with --resume continues. --method snapshot copies from the source's replication snapshot, as a new replica would get it (faster, and far less work for the source than SCAN and DUMP, but it forks the source and cannot resume: see docs/migration.md)."
    )]
    Bulk(BulkArgs),
    /// Re-copy the keys the tracker saw change (delete those gone from the source).
    #[command(
        name = "apply-dirty",
        after_help = "Examples:\n  ferry migrate apply-dirty --run-id r1 --from redis://10.0.0.10:6379 --to ./data.db\n  ferry migrate apply-dirty --run-id r1 --from redis://10.0.0.10:6379 --to ./data.db --http 127.0.0.1:9000\n\nRepeatable while the source is live; run it once more with writes frozen for the cutover."
    )]
    ApplyDirty(DirtyArgs),
    /// Compare the source and the target.
    #[command(
        after_help = "Examples:\n  ferry migrate verify --run-id r1 --from redis://src:6379 --to ./data.db --sample 0.5%\n  ferry migrate verify --run-id r1 --from redis://src:6379 --to ./data.db --full --show-diffs 20 --http 127.0.0.1:9000\n\nExits 1 when anything differs."
    )]
    Verify(VerifyArgs),
    /// Show a run's counters, rates, checkpoint, dirty keys and recent errors.
    #[command(
        after_help = "Examples:\n  ferry migrate status --run-id r1 --to ./data.db\n  ferry migrate status --run-id r1 --state ./ferry-migrate.db"
    )]
    Status(RunRef),
    /// Pause a running bulk or apply-dirty (within a second).
    #[command(after_help = "Example:\n  ferry migrate pause --run-id r1 --to ./data.db")]
    Pause(RunRef),
    /// Let a paused bulk or apply-dirty continue.
    #[command(after_help = "Example:\n  ferry migrate resume --run-id r1 --to ./data.db")]
    Resume(RunRef),
    /// Stop a running bulk or apply-dirty; the checkpoint is kept.
    #[command(after_help = "Example:\n  ferry migrate abort --run-id r1 --to ./data.db")]
    Abort(RunRef),
    /// The whole migration: preflight, tracker, bulk, deltas, cutover, verify.
    #[command(
        after_help = "Examples:\n  ferry migrate run --from redis://10.0.0.10:6379 --to ./data.db\n  ferry migrate run --from redis://src:6379 --to redis+cluster://dst:7000 --cutover-when-lag-below 100 --verify-full\n  ferry migrate run --from redis://src:6379 --to ./data.db --cutover-when-lag-below 100 --http 127.0.0.1:9000\n\nWith --http, http://127.0.0.1:9000/ shows the phases, rates, backlog, mismatches and errors live and /metrics serves them to Prometheus (docs/dashboard.md). Without --cutover-when-lag-below it stops at \"ready for cutover\" and waits for Enter after you froze writes."
    )]
    Run(RunArgs),
}

#[derive(Args, Clone)]
pub struct Common {
    /// Run registry for targets that are not ferry store files (for a ferry
    /// store DATA, runs live beside it in DATA-migrate.db).
    #[arg(long, default_value = "ferry-migrate.db", value_name = "PATH")]
    state: PathBuf,
    /// error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: String,
}

#[derive(Args, Clone)]
pub struct Pair {
    /// Source: redis://[user:pass@]host:port[/db], rediss://..., redis+cluster://host:port[,host:port...], or a ferry store path.
    #[arg(long, value_name = "ENDPOINT")]
    from: String,
    /// Target, in the same forms as --from.
    #[arg(long, value_name = "ENDPOINT")]
    to: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone)]
pub struct HttpFlag {
    /// Serve a live dashboard while the command runs: a web page at
    /// http://ADDR/ and Prometheus metrics at http://ADDR/metrics
    /// (e.g. --http 127.0.0.1:9000; port 0 picks a free one, logged at start).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
}

#[derive(Args, Clone)]
pub struct RunRef {
    /// The run's name: created on first use, then shared by track, bulk,
    /// apply-dirty, verify and status (letters, digits, '-', '_', '.', ':').
    #[arg(long)]
    run_id: String,
    /// The migration's target: a ferry store path keeps its runs inside.
    #[arg(long, value_name = "ENDPOINT")]
    to: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone)]
pub struct TrackArgs {
    /// The run's name: created on first use, then shared by track, bulk,
    /// apply-dirty, verify and status (letters, digits, '-', '_', '.', ':').
    #[arg(long)]
    run_id: String,
    #[command(flatten)]
    pair: Pair,
    /// Turn on keyspace notifications (notify-keyspace-events) when they are
    /// off; the old value is restored when the tracker stops.
    #[arg(long)]
    enable_notifications: bool,
}

#[derive(Args, Clone)]
pub struct CopyFlags {
    /// Keys per batch (one pipelined round trip each way).
    #[arg(long, default_value_t = 500)]
    batch_keys: usize,
    /// Most bytes per batch (e.g. 64MB); batches of big values get fewer keys.
    #[arg(long, default_value = "64MB", value_parser = parse_size)]
    batch_bytes: u64,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 8)]
    max_concurrency: usize,
    /// Most keys read from the source per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    max_rps: u64,
    /// preserve: copy TTLs; drop: copied keys never expire.
    #[arg(long, default_value = "preserve", value_parser = ["preserve", "drop"])]
    ttl_mode: String,
    /// Elements per window for big keys (hashes, lists, sets, sorted sets
    /// longer than this are copied window by window).
    #[arg(long, default_value_t = 1000)]
    chunk: usize,
}

#[derive(Args, Clone)]
pub struct ScopeFlags {
    /// SCAN COUNT hint.
    #[arg(long, default_value_t = 1000)]
    scan_count: usize,
    /// Only keys matching this glob pattern.
    #[arg(long = "match", value_name = "PATTERN")]
    pattern: Option<String>,
    /// Only keys of this type (string, hash, list, set, zset, stream).
    #[arg(long = "type", value_name = "T")]
    type_filter: Option<String>,
    /// Only this database (default: every database that has keys).
    #[arg(long)]
    db: Option<i64>,
    /// When a key exists on the target: fail (refuse to start if the target
    /// has keys), replace, or skip (keep the target's).
    #[arg(long, default_value = "fail", value_parser = ["fail", "replace", "skip"])]
    on_conflict: String,
}

#[derive(Args, Clone)]
pub struct BulkArgs {
    /// The run's name: created on first use, then shared by track, bulk,
    /// apply-dirty, verify and status (letters, digits, '-', '_', '.', ':').
    #[arg(long)]
    run_id: String,
    #[command(flatten)]
    pair: Pair,
    #[command(flatten)]
    copy: CopyFlags,
    #[command(flatten)]
    scope: ScopeFlags,
    /// Continue from the run's checkpoint.
    #[arg(long)]
    resume: bool,
    /// How keys are read. scan: SCAN, then TYPE, PTTL and DUMP per key
    /// (any source; resumable; --max-rps applies). snapshot: ferry asks
    /// the source for a replica's full resync and RESTOREs its snapshot
    /// as it arrives (one Redis/Valkey server as --from; about the cost
    /// and speed of attaching a replica: the source forks, and holds its
    /// writes for ferry in its replica output buffer meanwhile; not
    /// resumable: an interrupted copy starts over; needs an ACL user
    /// allowed PSYNC and REPLCONF).
    #[arg(long, default_value = "scan", value_parser = ["scan", "snapshot"])]
    method: String,
    #[command(flatten)]
    http: HttpFlag,
}

#[derive(Args, Clone)]
pub struct DirtyArgs {
    /// The run's name: created on first use, then shared by track, bulk,
    /// apply-dirty, verify and status (letters, digits, '-', '_', '.', ':').
    #[arg(long)]
    run_id: String,
    #[command(flatten)]
    pair: Pair,
    #[command(flatten)]
    copy: CopyFlags,
    #[command(flatten)]
    http: HttpFlag,
}

#[derive(Args, Clone)]
pub struct VerifyFlags {
    /// Check this share of the keys, e.g. 0.5% or 0.005.
    #[arg(long, value_parser = parse_fraction, conflicts_with = "full")]
    sample: Option<f64>,
    /// Check every key, and look for keys only the target has.
    #[arg(long)]
    full: bool,
    /// Mismatching keys to print.
    #[arg(long, default_value_t = 10)]
    show_diffs: usize,
    /// Largest TTL difference that still counts as equal, in ms.
    #[arg(long, default_value_t = 1000)]
    ttl_tolerance_ms: i64,
}

#[derive(Args, Clone)]
pub struct VerifyArgs {
    /// The run's name: created on first use, then shared by track, bulk,
    /// apply-dirty, verify and status (letters, digits, '-', '_', '.', ':').
    #[arg(long)]
    run_id: String,
    #[command(flatten)]
    pair: Pair,
    #[command(flatten)]
    verify: VerifyFlags,
    #[command(flatten)]
    http: HttpFlag,
}

#[derive(Args, Clone)]
pub struct RunArgs {
    /// Run id (default: run-<seconds since 1970>).
    #[arg(long)]
    run_id: Option<String>,
    #[command(flatten)]
    pair: Pair,
    #[command(flatten)]
    copy: CopyFlags,
    #[command(flatten)]
    scope: ScopeFlags,
    /// Go on to the cutover by itself once fewer than N keys are dirty
    /// (instead of waiting for Enter).
    #[arg(long, value_name = "N")]
    cutover_when_lag_below: Option<i64>,
    /// Turn on keyspace notifications when they are off (restored at the end).
    #[arg(long)]
    enable_notifications: bool,
    /// Share of keys the final verify checks (default 1%).
    #[arg(long, value_parser = parse_fraction, conflicts_with = "verify_full")]
    verify_sample: Option<f64>,
    /// Verify every key.
    #[arg(long)]
    verify_full: bool,
    #[command(flatten)]
    http: HttpFlag,
}

fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = [
        ("gib", 1u64 << 30),
        ("mib", 1 << 20),
        ("kib", 1 << 10),
        ("gb", 1_000_000_000),
        ("mb", 1_000_000),
        ("kb", 1000),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim().to_string(), *m)))
    .unwrap_or((t.clone(), 1));
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a size (write 64MB, 512KiB or a number of bytes)"))
}

fn parse_fraction(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a share (write 0.5% or 0.005)"))?;
    if !(v > 0.0 && v <= 1.0) {
        return Err(format!("{s:?} must be above 0 and at most 100%"));
    }
    Ok(v)
}

impl CopyFlags {
    fn ttl(&self) -> TtlMode {
        TtlMode::parse(&self.ttl_mode).unwrap_or(TtlMode::Preserve)
    }

    fn dirty(&self) -> DirtyOptions {
        DirtyOptions {
            batch_keys: self.batch_keys.max(1),
            max_concurrency: self.max_concurrency.max(1),
            max_rps: Some(self.max_rps).filter(|r| *r > 0),
            ttl: self.ttl(),
            chunk: self.chunk.max(1),
            board: None,
        }
    }

    fn bulk(&self, scope: &ScopeFlags, resume: bool) -> BulkOptions {
        BulkOptions {
            scan_count: scope.scan_count.max(1),
            max_concurrency: self.max_concurrency.max(1),
            max_rps: Some(self.max_rps).filter(|r| *r > 0),
            batch_keys: self.batch_keys.max(1),
            batch_bytes: self.batch_bytes,
            ttl: self.ttl(),
            conflict: Conflict::parse(&scope.on_conflict).unwrap_or(Conflict::Fail),
            chunk: self.chunk.max(1),
            resume,
            board: None,
        }
    }
}

impl VerifyFlags {
    fn options(&self, default_sample: Option<f64>) -> std::result::Result<VerifyOptions, Error> {
        let sample = match (self.full, self.sample, default_sample) {
            (true, _, _) => 1.0,
            (false, Some(s), _) => s,
            (false, None, Some(d)) => d,
            (false, None, None) => {
                return Err(Error::Usage(
                    "say how much to check: --sample 0.5% or --full".into(),
                ))
            }
        };
        Ok(VerifyOptions {
            sample,
            full: self.full,
            show_diffs: self.show_diffs,
            ttl_tolerance_ms: self.ttl_tolerance_ms.max(0),
            chunk: 1000,
            scan_count: 1000,
        })
    }
}

/// Runs a `ferry migrate` subcommand and turns its result into an exit code.
pub fn main(cmd: MigrateCommand) -> ExitCode {
    crate::alloc::use_mimalloc();
    let level = match &cmd {
        MigrateCommand::Preflight(p) => p.common.log_level.clone(),
        MigrateCommand::Track(a) => a.pair.common.log_level.clone(),
        MigrateCommand::Bulk(a) => a.pair.common.log_level.clone(),
        MigrateCommand::ApplyDirty(a) => a.pair.common.log_level.clone(),
        MigrateCommand::Verify(a) => a.pair.common.log_level.clone(),
        MigrateCommand::Run(a) => a.pair.common.log_level.clone(),
        MigrateCommand::TrackStop(r)
        | MigrateCommand::Status(r)
        | MigrateCommand::Pause(r)
        | MigrateCommand::Resume(r)
        | MigrateCommand::Abort(r) => r.common.log_level.clone(),
    };
    crate::init_logging(&level);
    let Some(runtime) = crate::runtime(2) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(dispatch(cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry migrate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Parses both endpoints, refusing a source equal to the target.
fn specs(pair: &Pair) -> Result<(Spec, Spec)> {
    let from = Spec::parse(&pair.from).map_err(|e| Error::Usage(format!("--from: {e}")))?;
    let to = Spec::parse(&pair.to).map_err(|e| Error::Usage(format!("--to: {e}")))?;
    if from.same_place(&to) {
        return Err(Error::Usage(format!(
            "--from and --to name the same place ({}); the target must be another server, database or file",
            from.display()
        )));
    }
    Ok((from, to))
}

/// Parses and connects both endpoints.
async fn connect(pair: &Pair) -> Result<(Endpoint, Endpoint)> {
    let (from, to) = specs(pair)?;
    let src = Endpoint::connect(from)
        .await
        .map_err(|e| prefix("source", e))?;
    let dst = Endpoint::connect(to)
        .await
        .map_err(|e| prefix("target", e))?;
    Ok((src, dst))
}

/// The dashboard of one command: the board its stages report to and the
/// server task, stopped when the command ends.
struct Dashboard {
    board: Arc<Board>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the `--http` server (before any work, so a port in use fails
/// fast); `None` without `--http`.
async fn dashboard(flag: &HttpFlag, run_id: &str, pair: &Pair) -> Result<Option<Dashboard>> {
    let Some(addr) = flag.http else {
        return Ok(None);
    };
    let (from, to) = specs(pair)?;
    let board = Arc::new(
        Board::new("migrate", run_id)
            .with_label("from", &from.display())
            .with_label("to", &to.display()),
    );
    let (bound, task) = ferry_dashboard::serve(addr, board.clone())
        .await
        .map_err(|e| Error::Usage(format!("--http {e}")))?;
    log::info!("dashboard: http://{bound}/ (Prometheus metrics at http://{bound}/metrics)");
    Ok(Some(Dashboard { board, task }))
}

impl Dashboard {
    fn phase(d: &Option<Dashboard>, name: &str) {
        if let Some(d) = d {
            d.board.phase(name);
        }
    }

    fn board(d: &Option<Dashboard>) -> Option<Arc<Board>> {
        d.as_ref().map(|d| d.board.clone())
    }
}

fn prefix(side: &str, e: Error) -> Error {
    match e {
        Error::Connect(m) => Error::Connect(format!("{side} {m}")),
        Error::Auth(m) => Error::Auth(format!("{side} {m}")),
        Error::Store(m) => Error::Store(format!("{side} {m}")),
        other => other,
    }
}

fn registry_for(pair: &Pair) -> Result<Registry> {
    let to = Spec::parse(&pair.to)?;
    Registry::open(&Registry::location(&to, &pair.common.state))
}

fn registry_of(r: &RunRef) -> Result<Registry> {
    let path = match &r.to {
        Some(to) => Registry::location(&Spec::parse(to)?, &r.common.state),
        None => r.common.state.clone(),
    };
    Registry::open_existing(&path)
}

async fn dispatch(cmd: MigrateCommand) -> Result<()> {
    match cmd {
        MigrateCommand::Preflight(pair) => {
            let (src, dst) = connect(&pair).await?;
            let report = ferry_migrate::preflight::preflight(&src, &dst).await;
            src.close().await;
            dst.close().await;
            let report = report?;
            for l in &report.lines {
                println!("{l}");
            }
            for w in &report.warnings {
                println!("warning: {w}");
            }
            for p in &report.problems {
                println!("problem: {p}");
            }
            if report.problems.is_empty() {
                println!("preflight: ok");
                Ok(())
            } else {
                Err(Error::Failed(format!(
                    "preflight found {} problem(s) that stop this migration",
                    report.problems.len()
                )))
            }
        }
        MigrateCommand::Track(a) => {
            // Only the source is opened: the target names the registry, and
            // a tracker that held a store file would make every other
            // process go through it.
            let (from, to) = specs(&a.pair)?;
            let src = Endpoint::connect(from)
                .await
                .map_err(|e| prefix("source", e))?;
            let reg = registry_for(&a.pair)?;
            reg.open_run(&a.run_id, &src.spec, &to)?;
            let run = reg.run(&a.run_id)?;
            if tracker_alive(&run)
                && run
                    .tracker_pid
                    .is_some_and(|p| p != std::process::id() as i64)
            {
                return Err(Error::Usage(format!(
                    "a tracker for run {} is already running (pid {}); stop it with `ferry migrate track-stop --run-id {}` first",
                    a.run_id,
                    run.tracker_pid.unwrap_or(0),
                    a.run_id
                )));
            }
            let tracker = Tracker::start(
                &reg,
                &a.run_id,
                &src,
                &TrackOptions {
                    enable_notifications: a.enable_notifications,
                },
            )
            .await?;
            eprintln!("tracking changes for run {} (registry {}); stop with Ctrl-C or `ferry migrate track-stop --run-id {}`", a.run_id, reg.path().display(), a.run_id);
            let r = tracker.wait().await;
            src.close().await;
            r
        }
        MigrateCommand::TrackStop(r) => {
            let reg = registry_of(&r)?;
            let run = reg.run(&r.run_id)?;
            reg.set_tracker_stop(&r.run_id, true)?;
            if tracker_alive(&run) {
                println!(
                    "asked the tracker of run {} (pid {}) to stop",
                    r.run_id,
                    run.tracker_pid.unwrap_or(0)
                );
            } else {
                println!(
                    "no tracker of run {} is running; it will stop at once if it starts",
                    r.run_id
                );
            }
            Ok(())
        }
        MigrateCommand::Bulk(a) => {
            let dash = dashboard(&a.http, &a.run_id, &a.pair).await?;
            Dashboard::phase(&dash, "connect");
            let (src, dst) = connect(&a.pair).await?;
            let reg = registry_for(&a.pair)?;
            let result = async {
                let run = reg.open_run(&a.run_id, &src.spec, &dst.spec)?;
                if !tracker_alive(&run) {
                    log::warn!("no tracker is running for run {}: changes made during the copy will not be recorded (start `ferry migrate track --run-id {}` first if the source is live)", a.run_id, a.run_id);
                }
                let scope = Scope::decide(&src, &dst, a.scope.db, a.scope.pattern.clone(), a.scope.type_filter.clone()).await?;
                let mut opts = a.copy.bulk(&a.scope, a.resume);
                opts.board = Dashboard::board(&dash);
                Dashboard::phase(&dash, "bulk");
                let s = if a.method == "snapshot" {
                    if a.resume {
                        return Err(Error::Usage("--method snapshot cannot resume (a snapshot is read whole); run it again without --resume to start over, or use --method scan".into()));
                    }
                    if opts.max_rps.is_some() {
                        return Err(Error::Usage("--max-rps needs --method scan: a snapshot arrives at the source's pace".into()));
                    }
                    crate::bulk_snapshot::bulk(&reg, &a.run_id, &src, &dst, &scope, &opts).await?
                } else {
                    ferry_migrate::bulk::bulk(&reg, &a.run_id, &src, &dst, &scope, &opts).await?
                };
                println!(
                    "bulk {}: {} keys scanned, {} copied, {} skipped, {} gone before they were read, {:.1} MB in {:.1}s ({:.0} keys/s)",
                    a.run_id,
                    s.counters.scanned,
                    s.counters.migrated,
                    s.counters.skipped,
                    s.gone,
                    s.counters.bytes as f64 / 1e6,
                    s.elapsed.as_secs_f64(),
                    s.counters.migrated as f64 / s.elapsed.as_secs_f64().max(0.001)
                );
                Ok::<(), Error>(())
            }
            .await;
            if let Err(e) = &result {
                let _ = reg.set_last_error(&a.run_id, &e.to_string());
            }
            Dashboard::phase(&dash, if result.is_ok() { "done" } else { "failed" });
            src.close().await;
            dst.close().await;
            result
        }
        MigrateCommand::ApplyDirty(a) => {
            let dash = dashboard(&a.http, &a.run_id, &a.pair).await?;
            Dashboard::phase(&dash, "connect");
            let (src, dst) = connect(&a.pair).await?;
            let reg = registry_for(&a.pair)?;
            let result = async {
                reg.run(&a.run_id)?;
                let mut opts = a.copy.dirty();
                opts.board = Dashboard::board(&dash);
                Dashboard::phase(&dash, "apply-dirty");
                let s =
                    ferry_migrate::dirty::apply_dirty(&reg, &a.run_id, &src, &dst, &opts, false)
                        .await?;
                println!(
                    "apply-dirty {}: {} applied, {} deleted, {} still dirty",
                    a.run_id, s.applied, s.deleted, s.remaining
                );
                Ok(())
            }
            .await;
            Dashboard::phase(&dash, if result.is_ok() { "done" } else { "failed" });
            src.close().await;
            dst.close().await;
            result
        }
        MigrateCommand::Verify(a) => {
            let opts = a.verify.options(None)?;
            let dash = dashboard(&a.http, &a.run_id, &a.pair).await?;
            Dashboard::phase(&dash, "connect");
            let (src, dst) = connect(&a.pair).await?;
            let reg = registry_for(&a.pair)?;
            let result = async {
                reg.run(&a.run_id)?;
                Dashboard::phase(&dash, "verify");
                let v = ferry_migrate::verify::verify(&reg, &a.run_id, &src, &dst, &opts).await?;
                if let Some(d) = &dash {
                    d.board.add_mismatches(v.mismatches);
                }
                for l in &v.examples {
                    println!("mismatch: {l}");
                }
                println!(
                    "verify {}: {} keys checked, {} mismatches",
                    a.run_id, v.checked, v.mismatches
                );
                if v.mismatches > 0 {
                    return Err(Error::Failed(format!(
                        "{} keys differ between the source and the target",
                        v.mismatches
                    )));
                }
                Ok(())
            }
            .await;
            Dashboard::phase(&dash, if result.is_ok() { "done" } else { "failed" });
            src.close().await;
            dst.close().await;
            result
        }
        MigrateCommand::Status(r) => {
            let reg = registry_of(&r)?;
            print_status(&reg, &r.run_id)
        }
        MigrateCommand::Pause(r) => steer(&r, Control::Pause, "pause", "paused"),
        MigrateCommand::Resume(r) => steer(&r, Control::Run, "resume", "resumed"),
        MigrateCommand::Abort(r) => steer(&r, Control::Abort, "abort", "aborted"),
        MigrateCommand::Run(a) => {
            // --verify-sample and --verify-full exclude each other (clap).
            let verify_opts = VerifyFlags {
                sample: a.verify_sample,
                full: a.verify_full,
                show_diffs: 10,
                ttl_tolerance_ms: 1000,
            }
            .options(Some(0.01))?;
            let run_id = a.run_id.clone().unwrap_or_else(default_run_id);
            let dash = dashboard(&a.http, &run_id, &a.pair).await?;
            Dashboard::phase(&dash, "connect");
            let (src, dst) = connect(&a.pair).await?;
            let reg = registry_for(&a.pair)?;
            let board = Dashboard::board(&dash);
            let opts = RunOptions {
                bulk: BulkOptions {
                    board: board.clone(),
                    ..a.copy.bulk(&a.scope, false)
                },
                dirty: DirtyOptions {
                    board: board.clone(),
                    ..a.copy.dirty()
                },
                verify: verify_opts,
                track: TrackOptions {
                    enable_notifications: a.enable_notifications,
                },
                db: a.scope.db,
                pattern: a.scope.pattern.clone(),
                type_filter: a.scope.type_filter.clone(),
                cutover_when_lag_below: a.cutover_when_lag_below,
                board,
            };
            let r = ferry_migrate::flow::run(&reg, &run_id, &src, &dst, &opts).await;
            src.close().await;
            dst.close().await;
            r
        }
    }
}

fn default_run_id() -> String {
    let secs = ferry_migrate::now_ms() / 1000;
    format!("run-{secs}")
}

fn steer(r: &RunRef, control: Control, verb: &str, done: &str) -> Result<()> {
    let reg = registry_of(r)?;
    let run = reg.run(&r.run_id)?;
    if matches!(run.status.as_str(), "completed" | "aborted") && control != Control::Run {
        return Err(Error::Usage(format!(
            "run {} is {}; nothing to {verb}",
            r.run_id, run.status
        )));
    }
    reg.set_control(&r.run_id, control)?;
    if control == Control::Run && run.status == "aborted" {
        reg.set_status(&r.run_id, "paused")?;
    }
    println!(
        "run {} {done} (a running bulk or apply-dirty obeys within a second)",
        r.run_id
    );
    Ok(())
}

fn print_status(reg: &Registry, run_id: &str) -> Result<()> {
    let run = reg.run(run_id)?;
    let dirty = reg.dirty_counts(run_id)?;
    let secs =
        ((run.checkpoint_at.unwrap_or(run.updated_at) - run.started_at) as f64 / 1000.0).max(0.001);
    let ago = |t: Option<i64>| match t {
        Some(t) => format!("{:.1}s ago", (ferry_migrate::now_ms() - t) as f64 / 1000.0),
        None => "never".into(),
    };
    println!("run:        {}", run.run_id);
    println!("from:       {}", run.source_uri);
    println!("to:         {}", run.target_uri);
    println!("status:     {} (control: {})", run.status, run.control);
    println!("bulk:       {}, cursor {}", run.bulk_state, run.scan_cursor);
    println!(
        "keys:       {} scanned of ~{}, {} copied, {} skipped, {} errors",
        run.scanned_keys, run.estimated_keys, run.migrated_keys, run.skipped_keys, run.error_keys
    );
    println!(
        "rate:       {:.0} keys/s, {:.2} MB/s ({:.1} MB copied)",
        run.migrated_keys as f64 / secs,
        run.migrated_bytes as f64 / secs / 1e6,
        run.migrated_bytes as f64 / 1e6
    );
    println!("checkpoint: {}", ago(run.checkpoint_at));
    println!(
        "dirty:      {} seen, {} pending, {} applied, {} deleted, {} skipped, {} errors",
        run.dirty_keys_seen, dirty.dirty, dirty.applied, dirty.deleted, dirty.skipped, dirty.error
    );
    println!(
        "tracker:    {} (heartbeat {}), {} disconnects",
        if tracker_alive(&run) {
            "running"
        } else {
            "not running"
        },
        ago(run.tracker_heartbeat),
        run.tracker_gaps
    );
    if let Some(v) = &run.verify_result {
        println!("verify:     {v} ({})", ago(run.verify_at));
    }
    let errors = reg.recent_errors(run_id, 5)?;
    if !errors.is_empty() {
        println!("recent errors:");
        for (at, stage, key, msg) in errors {
            let key = key
                .map(|k| format!(" {}", ferry_migrate::verify::show_key(&k)))
                .unwrap_or_default();
            println!("  {} [{stage}]{key}: {msg}", ago(Some(at)));
        }
    }
    Ok(())
}
