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
  ferry cutover start --run-id move1 --proxy 127.0.0.1:6380
  ferry cutover start --run-id move1 --proxy 127.0.0.1:6380 --verify-sample 10000 --soak 60
  ferry cutover status --run-id move1
  ferry cutover rollback --run-id move1 --proxy 127.0.0.1:6380

start runs, with the proxy in dual-write (or read-canary): baseline (T0 and
the proxy's state recorded), drained (the proxy's backlog applied to the
secondary), verify (random keys compared on both stores; more than
--max-mismatches stops here, nothing switched, exit 1), soak (optional),
switched (the proxy's fenced switch: new writes wait, the mirror drains,
the secondary serves, writes flow back to the primary). rollback switches
back the same way, losing nothing. Every step is recorded with its time in
the run registry (--state), and status lists them.

Not built yet: canary batches (a share of the keys moved at a time).";

#[derive(Subcommand)]
pub enum CutoverCommand {
    /// Drain, verify, (soak,) switch the proxy to the secondary.
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
    /// Keys allowed to differ in the verify step.
    #[arg(long, default_value_t = 0)]
    max_mismatches: u64,
    /// Seconds to wait after verifying (the backlog must stay drained).
    #[arg(long, default_value_t = 0)]
    soak: u64,
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
            CutoverCommand::Start(a) => {
                let parse = |flag: &str,
                             v: &Option<String>|
                 -> ferry_migrate::Result<Option<Spec>> {
                    v.as_deref()
                        .map(|t| {
                            Spec::parse(t)
                                .map_err(|e| ferry_migrate::Error::Usage(format!("{flag}: {e}")))
                        })
                        .transpose()
                };
                let opts = ferry_cutover::StartOptions {
                    run_id: a.target.common.run_id.clone(),
                    verify_sample: a.verify_sample,
                    max_mismatches: a.max_mismatches,
                    soak: a.soak,
                    drain_timeout: Duration::from_secs(a.drain_timeout.max(1)),
                    primary: parse("--primary", &a.primary)?,
                    secondary: parse("--secondary", &a.secondary)?,
                };
                let reg = Registry::open(&a.target.common.state)?;
                let mut proxy = ferry_cutover::Proxy::connect(&a.target.proxy).await?;
                ferry_cutover::start(&reg, &mut proxy, &opts).await?;
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

/// Unix ms as an RFC 3339 UTC time (jiff, already in the tree through
/// env_logger).
fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ms} ms"))
}
