//! `ferry`: the command-line entry point. It only parses flags and settings
//! and hands them to the crates that do the work.

mod alloc;
mod bulk_snapshot;
mod cutover;
mod migrate;
mod proxy;
mod raft;
mod schema;
mod settings;
mod sync;

#[global_allocator]
static GLOBAL: alloc::Switch = alloc::Switch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Serve Redis-compatible data from SQLite on disk, and move live datasets between Redis-protocol stores.",
    long_about = "ferry serves Redis-compatible data (RESP2/RESP3) from a SQLite file on disk,\n\
                  so a dataset bigger than RAM costs disk, not memory."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Redis-compatible server on a SQLite data file.
    Serve(settings::ServeArgs),
    /// Move a live dataset between Redis, Redis Cluster, Valkey, Dragonfly and ferry.
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Status and membership of a Raft cluster of `ferry serve --raft` nodes.
    Raft(raft::RaftArgs),
    /// Versioned, reversible migrations of the values stored under key patterns.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Follow a Redis master as a replica (PSYNC) and keep a target identical.
    Sync(sync::SyncArgs),
    /// A RESP proxy that serves clients from one store and mirrors their writes to another.
    Proxy(proxy::ProxyArgs),
    /// Move clients to the secondary through a ferry proxy: drain, verify, fenced switch, rollback.
    #[command(subcommand)]
    Cutover(cutover::CutoverCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Migrate(cmd) => migrate::main(cmd),
        Command::Raft(args) => raft::main(args),
        Command::Schema(cmd) => schema::main(cmd),
        Command::Sync(args) => sync::main(args),
        Command::Proxy(args) => proxy::main(args),
        Command::Cutover(cmd) => cutover::main(cmd),
    }
}

fn serve(args: settings::ServeArgs) -> ExitCode {
    let config = match settings::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferry: {e}");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(&config.log_level))
        .format_target(false)
        .init();
    // The executor's thread runs the client event loop; the runtime only
    // carries Raft, RAFT admin commands and signals.
    let Some(runtime) = runtime(1) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(ferry_server::serve(config.server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `level` (error, warn, info, debug), without module
/// names; rustls kept to warnings.
fn init_logging(level: &str) {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(format!("{level},rustls=warn")),
    )
    .format_target(false)
    .init();
}

/// The tokio runtime, or None after saying why it could not start.
fn runtime(workers: usize) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("ferry: cannot start the async runtime: {e}");
            None
        }
    }
}
