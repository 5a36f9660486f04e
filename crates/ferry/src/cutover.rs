//! `ferry cutover`: move clients to the secondary through a running `ferry
//! proxy`, step by step, every step recorded in the run registry.

use clap::{Args, Subcommand};
use ferry_migrate::endpoint::Spec;
use ferry_migrate::registry::Registry;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  ferry cutover plan --run-id move1 --proxy 127.0.0.1:6380 --batches 1,10,50,100 --soak 300
  ferry cutover start --run-id move1 --proxy 127.0.0.1:6380 --batches 1,10,50,100 --soak 300 \\
      --http 127.0.0.1:9090
  ferry cutover start --run-id move1 --proxy 127.0.0.1:6380 --verify-sample 10000
  ferry cutover status --run-id move1
  ferry cutover rollback --run-id move1 --proxy 127.0.0.1:6380

start runs, with the proxy in dual-write (or read-canary): baseline (T0 and
the proxy's state recorded), fenced (a marker key __ferry:cutover:{RUN}
written through the proxy is seen on the secondary, the backlog drained),
verify (random keys compared on both stores; more than --max-mismatches
stops here, nothing moved, exit 1), then each canary batch of --batches
(the proxy's split:N: N% of the keys, by hash slot, served by the
secondary; a soak of --soak seconds; a gate: no new mirror error and a
verify sample within --max-mismatches, else every key goes back to the
primary and the cutover stops, exit 1), then switched (the proxy's fenced
switch: the secondary serves, writes flow back to the primary). rollback
returns every key to the primary the same way, losing nothing. Every step
is recorded with its time in the run registry (--state); status lists
them; plan checks the proxy and both stores and prints the steps.

Stopped half-way (ferry cutover killed during a batch): the proxy stays in
split:N, serving correctly; run rollback, then start again.";

#[derive(Subcommand)]
pub enum CutoverCommand {
    /// Check the proxy and both stores, and print the steps start would take.
    #[command(after_help = EXAMPLES)]
    Plan(StartArgs),
    /// Fence, verify, canary batches, switch the proxy to the secondary.
    #[command(after_help = EXAMPLES)]
    Start(StartArgs),
    /// The recorded steps of a cutover.
    #[command(after_help = EXAMPLES)]
    Status(Common),
    /// Switch the proxy back to the primary (fenced, nothing lost).
    #[command(after_help = EXAMPLES)]
    Rollback(ProxyArgs),
}

#[derive(Args)]
pub struct Common {
    /// The cutover's name in the registry.
    #[arg(long)]
    run_id: String,
    /// The run registry (SQLite).
    #[arg(long, default_value = "ferry-migrate.db")]
    state: PathBuf,
}

#[derive(Args)]
pub struct ProxyArgs {
    #[command(flatten)]
    common: Common,
    /// The ferry proxy's listen address.
    #[arg(long)]
    proxy: String,
}

#[derive(Args)]
pub struct StartArgs {
    #[command(flatten)]
    target: ProxyArgs,
    /// Random keys compared on both stores before switching.
    #[arg(long, default_value_t = 1000)]
    verify_sample: usize,
    /// Keys allowed to differ in the verify step and each batch's gate.
    #[arg(long, default_value_t = 0)]
    max_mismatches: u64,
    /// Seconds each canary batch runs before its gate (without batches:
    /// a wait after verifying).
    #[arg(long, default_value_t = 0)]
    soak: u64,
    /// Canary batches: percentages of the keys served by the secondary in
    /// turn, ascending (e.g. 1,10,50,100). Default: switch at once.
    #[arg(long, value_name = "PERCENTS")]
    batches: Option<String>,
    /// Serve a live dashboard at http://ADDR/ and Prometheus metrics at
    /// http://ADDR/metrics (steps as phases, mismatches, backlog).
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// Seconds the proxy's backlog may take to drain.
    #[arg(long, default_value_t = 60)]
    drain_timeout: u64,
    /// The primary, when it needs credentials (default: the address the
    /// proxy reports).
    #[arg(long)]
    primary: Option<String>,
    /// The secondary, likewise.
    #[arg(long)]
    secondary: Option<String>,
}

pub fn main(cmd: CutoverCommand) -> ExitCode {
    crate::init_logging("info");
    let Some(runtime) = crate::runtime(2) else {
        return ExitCode::FAILURE;
    };
    let code = runtime.block_on(async move {
        match cmd {
            CutoverCommand::Status(c) => {
                let reg = Registry::open_existing(&c.state)?;
                let steps = reg.steps(&c.run_id)?;
                if steps.is_empty() {
                    return Err(ferry_migrate::Error::Usage(format!(
                        "no cutover named {} in {}",
                        c.run_id,
                        c.state.display()
                    )));
                }
                for (at, step, detail) in steps {
                    println!("{} {step}: {detail}", format_ms(at));
                }
                Ok(())
            }
            CutoverCommand::Rollback(p) => {
                let reg = Registry::open(&p.common.state)?;
                let mut proxy = ferry_cutover::Proxy::connect(&p.proxy).await?;
                let reply = ferry_cutover::rollback(&reg, &mut proxy, &p.common.run_id).await?;
                println!("rolled back: {reply}");
                Ok(())
            }
            CutoverCommand::Plan(a) => {
                let opts = start_options(&a, None)?;
                let mut proxy = ferry_cutover::Proxy::connect(&a.target.proxy).await?;
                for line in ferry_cutover::plan(&mut proxy, &opts).await? {
                    println!("{line}");
                }
                Ok(())
            }
            CutoverCommand::Start(a) => {
                let board = std::sync::Arc::new(
                    ferry_dashboard::Board::new("cutover", &a.target.common.run_id)
                        .with_label("proxy", &a.target.proxy),
                );
                let _server = match a.http {
                    Some(addr) => {
                        let (bound, task) = ferry_dashboard::serve(addr, board.clone())
                            .await
                            .map_err(|e| ferry_migrate::Error::Usage(format!("--http {addr}: {e}")))?;
                        log::info!("dashboard: http://{bound}/ (Prometheus metrics at http://{bound}/metrics)");
                        Some(task)
                    }
                    None => None,
                };
                let opts = start_options(&a, Some(board.clone()))?;
                let reg = Registry::open(&a.target.common.state)?;
                let mut proxy = ferry_cutover::Proxy::connect(&a.target.proxy).await?;
                // The proxy's backlog on the board, from its STATUS.
                let watcher = a.http.map(|_| {
                    let addr = a.target.proxy.clone();
                    let board = board.clone();
                    tokio::spawn(async move {
                        let Ok(mut p) = ferry_cutover::Proxy::connect(&addr).await else {
                            return;
                        };
                        loop {
                            if let Ok(s) = p.status().await {
                                board.set_backlog_entries(s.get("behind").parse().unwrap_or(0));
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    })
                });
                let r = ferry_cutover::start(&reg, &mut proxy, &opts).await;
                if let Some(w) = watcher {
                    w.abort();
                }
                r?;
                println!(
                    "cutover {}: switched; `ferry cutover rollback` goes back",
                    opts.run_id
                );
                Ok(())
            }
        }
    });
    match code {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry cutover: {e}");
            ExitCode::from(match e {
                ferry_migrate::Error::Failed(_) => 1,
                ferry_migrate::Error::Usage(_) => 2,
                _ => 3,
            })
        }
    }
}

fn start_options(
    a: &StartArgs,
    board: Option<std::sync::Arc<ferry_dashboard::Board>>,
) -> ferry_migrate::Result<ferry_cutover::StartOptions> {
    let parse = |flag: &str, v: &Option<String>| -> ferry_migrate::Result<Option<Spec>> {
        v.as_deref()
            .map(|t| {
                Spec::parse(t).map_err(|e| ferry_migrate::Error::Usage(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let batches = match &a.batches {
        Some(text) => ferry_cutover::parse_batches(text).map_err(ferry_migrate::Error::Usage)?,
        None => Vec::new(),
    };
    Ok(ferry_cutover::StartOptions {
        run_id: a.target.common.run_id.clone(),
        verify_sample: a.verify_sample,
        max_mismatches: a.max_mismatches,
        soak: a.soak,
        batches,
        board,
        drain_timeout: Duration::from_secs(a.drain_timeout.max(1)),
        primary: parse("--primary", &a.primary)?,
        secondary: parse("--secondary", &a.secondary)?,
    })
}

/// Unix ms as an RFC 3339 UTC time (jiff, already in the tree through
/// env_logger).
fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ms} ms"))
}
