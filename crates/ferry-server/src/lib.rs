//! The Redis-compatible server.
//!
//! [`serve`] binds the listeners and starts the executor thread, which owns
//! the store (see [`executor`]) and every client socket (see [`eventloop`]).
//! Commands are described in the table in [`cmd`]: one file per family.

pub mod acl;
pub mod client;
pub mod cmd;
pub mod config;
mod config_defaults;
pub mod diagnostics;
pub mod eventloop;
pub mod executor;
pub mod handoff;
mod longdouble;
pub mod notify;
pub mod pause;
mod pqsort;
pub mod replication;
pub mod script;
pub mod state;
pub mod tracking;

pub use config::ServerConfig;

/// Stack of the executor thread: a script may return a table nested 7000
/// levels deep, converted, encoded and dropped recursively (reserved
/// address space; pages are used only when touched).
const EXECUTOR_STACK: usize = 64 << 20;

/// The Redis version ferry reports (HELLO, INFO): the one whose replies it matches.
pub const REDIS_VERSION: &str = "7.0.15";

use eventloop::Remote;
use executor::{Executor, Shared};
use ferry_store::{Durability, Store, StoreOptions};
use state::ServerState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
    #[error("cannot listen on {addr}: {source} (is another server using the port? pick another with --port)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The executor could not start (a stored FUNCTION library does not
    /// load, the Lua engine failed).
    #[error("{0}")]
    Startup(String),
}

/// Runs the server until SHUTDOWN, SIGINT or SIGTERM.
pub async fn serve(config: ServerConfig) -> Result<(), ServeError> {
    run(config, None).await
}

/// How a program that runs a server inside its own process (`ferry migrate`
/// opening a store file) learns where it listens and stops it. Signals are
/// left to that program.
pub struct Embedding {
    /// Receives the bound addresses once the server accepts connections.
    pub ready: tokio::sync::oneshot::Sender<Vec<std::net::SocketAddr>>,
    /// The server commits and stops when this fires or its sender is dropped.
    pub stop: tokio::sync::oneshot::Receiver<()>,
}

/// Runs a server inside the calling program until `embedding.stop` fires
/// (or SHUTDOWN).
pub async fn serve_embedded(config: ServerConfig, embedding: Embedding) -> Result<(), ServeError> {
    run(config, Some(embedding)).await
}

async fn run(config: ServerConfig, embedding: Option<Embedding>) -> Result<(), ServeError> {
    let store = Store::open(
        &config.data,
        &StoreOptions {
            durability: config.durability,
            cache_mb: config.cache_mb,
            key_cache_mb: config.key_cache_mb,
            wal_limit_mb: config.wal_limit_mb,
            background_checkpoint: true,
            // In Raft mode the Raft log is the redo log.
            journal: config.raft.is_none(),
            external_log: config.raft.is_some(),
            ..StoreOptions::default()
        },
    )?;
    let mut listeners = Vec::new();
    for ip in &config.bind {
        let addr = std::net::SocketAddr::new(*ip, config.port);
        let l = mio::net::TcpListener::bind(addr).map_err(|e| ServeError::Bind {
            addr: addr.to_string(),
            source: e,
        })?;
        listeners.push(l);
    }
    let shared = Arc::new(Shared {
        write_epoch: AtomicU64::new(0),
        wal_log_bytes: AtomicU64::new(0),
        shutdown: tokio::sync::Notify::new(),
        auth_required: Arc::new(AtomicBool::new(config.requirepass.is_some())),
        raft: std::sync::OnceLock::new(),
    });
    spawn_storage_sync(&store, shared.clone())?;
    let bound = eventloop::local_addrs(&listeners);
    let (events, remote) = eventloop::setup(
        listeners,
        shared.clone(),
        tokio::runtime::Handle::current(),
        config.maxclients,
    )?;
    let mut acl_users = None;
    if let Some(path) = &config.aclfile {
        // As Redis, a broken ACL file stops the start-up.
        let pubsub_all = config::ConfigTable::new(&config)
            .get("acl-pubsub-default")
            .is_some_and(|v| v.eq_ignore_ascii_case("allchannels"));
        let users = acl::file::load(path, pubsub_all).map_err(ServeError::Startup)?;
        acl_users = Some(users);
    }
    let exec_shared = shared.clone();
    let state_config = config.clone();
    // The executor is built on its own thread (Lua is not Send); it says
    // whether it started before the server announces itself.
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let executor = std::thread::Builder::new()
        .name("ferry-executor".into())
        .stack_size(EXECUTOR_STACK)
        .spawn(move || {
            // Built here: client states hold this thread's connection queues.
            let mut state = ServerState::new(state_config, exec_shared.auth_required.clone());
            if let Some(users) = acl_users {
                state.acl.users = users;
                exec_shared
                    .auth_required
                    .store(state.acl.auth_required(), Ordering::Relaxed);
            }
            match Executor::new(store, state, events, exec_shared) {
                Ok(executor) => {
                    let _ = started_tx.send(Ok(()));
                    executor.run()
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                }
            }
        })?;
    let started = tokio::task::spawn_blocking(move || started_rx.recv())
        .await
        .map_err(|e| ServeError::Startup(format!("the executor thread failed: {e}")))?;
    match started {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ServeError::Startup(e)),
        Err(_) => {
            return Err(ServeError::Startup(
                "the executor thread stopped while starting".into(),
            ))
        }
    }
    for addr in &bound {
        log::info!(
            "ferry {} ready to accept connections on {} (data: {}, durability: {})",
            env!("CARGO_PKG_VERSION"),
            addr,
            config.data.display(),
            config.durability.as_str()
        );
    }
    let raft = match &config.raft {
        Some(rc) => Some(start_raft(rc, &config, &bound, &remote, &shared).await?),
        None => None,
    };
    // Tell other ferry processes that want this file where to reach it
    // (the store lock keeps them from opening it themselves).
    let handoff = handoff::Handoff::publish(&config.data, &bound, config.requirepass.as_deref());
    let (ready, mut stop) = match embedding {
        Some(e) => (Some(e.ready), Some(e.stop)),
        None => (None, None),
    };
    if let Some(ready) = ready {
        let _ = ready.send(bound.clone());
    }
    remote.listen();
    let signal_jobs = remote;
    let embedded = stop.is_some();
    let embedded_stop = async {
        match stop.as_mut() {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let signals = async {
        if embedded {
            std::future::pending::<()>().await
        } else {
            shutdown_signal().await
        }
    };
    tokio::select! {
        _ = shared.shutdown.notified() => {}
        _ = embedded_stop => {
            signal_jobs.shutdown();
            shared.shutdown.notified().await;
        }
        _ = signals => {
            log::info!("received a shutdown signal, committing and exiting");
            signal_jobs.shutdown();
            shared.shutdown.notified().await;
        }
    }
    let _ = tokio::task::spawn_blocking(move || executor.join()).await;
    if let Some(node) = raft {
        node.shutdown().await;
    }
    drop(handoff);
    Ok(())
}

/// Starts this server's Raft node (after the executor, which applies the
/// entries Raft re-applies at start) and hands it to the executor and the
/// connections.
async fn start_raft(
    rc: &config::RaftConfig,
    config: &ServerConfig,
    bound: &[std::net::SocketAddr],
    jobs: &Remote,
    shared: &Arc<Shared>,
) -> Result<ferry_raft::RaftNode, ServeError> {
    use executor::RaftJob;
    let sm_jobs = jobs.clone();
    let sm_sink: ferry_raft::SmSink = Arc::new(move |event| {
        sm_jobs.raft(RaftJob::Sm(event));
    });
    let done_jobs = jobs.clone();
    let done: ferry_raft::DoneSink = Arc::new(move |ticket, result| {
        done_jobs.raft(RaftJob::Done { ticket, result });
    });
    let client_addr = bound
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("127.0.0.1:{}", config.port));
    let node = ferry_raft::RaftNode::start(
        ferry_raft::RaftSettings {
            node_id: rc.node_id,
            raft_addr: rc.raft_addr.clone(),
            client_addr,
            peers: rc.peers.clone(),
            cluster: rc.cluster.clone(),
            data: config.data.clone(),
            fsync: config.durability == Durability::Always,
            snapshot_logs: rc.snapshot_logs,
        },
        sm_sink,
        done,
    )
    .await
    .map_err(ServeError::Startup)?;
    log::info!(
        "raft: node {} listening for peers on {} (cluster '{}')",
        rc.node_id,
        rc.raft_addr,
        rc.cluster
    );
    jobs.raft(RaftJob::Attach(node.clone()));
    let _ = shared.raft.set((node.clone(), rc.raft_addr.clone()));
    Ok(node)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The storage thread: checkpoints the WAL into the database file in the
/// background and, for `durability everysec`, fsyncs the journal once a
/// second when something was written to it. Neither blocks the executor.
fn spawn_storage_sync(store: &Store, shared: Arc<Shared>) -> Result<(), ServeError> {
    let mut checkpointer = ferry_store::Checkpointer::open(store.path())?;
    // What holds acknowledged writes not yet fsynced: the journal, or
    // without one the WAL.
    let wal = store.journal_path().unwrap_or_else(|| store.wal_path());
    let fsync_every_second = store.durability() == Durability::Everysec;
    std::thread::Builder::new()
        .name("ferry-storage-sync".into())
        .spawn(move || {
            let mut checkpointed_epoch = 0;
            let mut synced_epoch = 0;
            let mut last_sync = std::time::Instant::now();
            let mut file: Option<std::fs::File> = None;
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let epoch = shared.write_epoch.load(Ordering::Acquire);
                if epoch != checkpointed_epoch {
                    checkpointed_epoch = epoch;
                    // A complete checkpoint also fsyncs the WAL.
                    match checkpointer.run() {
                        Ok(r) => {
                            shared
                                .wal_log_bytes
                                .store(checkpointer.log_bytes(&r), Ordering::Relaxed);
                            if r.complete() {
                                synced_epoch = epoch;
                            }
                        }
                        Err(e) => log::warn!("background checkpoint failed: {e}"),
                    }
                }
                if fsync_every_second
                    && synced_epoch != epoch
                    && last_sync.elapsed() >= Duration::from_secs(1)
                {
                    last_sync = std::time::Instant::now();
                    synced_epoch = epoch;
                    // The file is emptied in place, never replaced: one handle
                    // serves for the life of the server (reopened after an error).
                    if file.is_none() {
                        match std::fs::OpenOptions::new().write(true).open(&wal) {
                            Ok(f) => file = Some(f),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => log::warn!("cannot open {} for fsync: {e}", wal.display()),
                        }
                    }
                    if let Some(f) = &file {
                        if let Err(e) = f.sync_data() {
                            log::warn!("fsync of {} failed: {e}", wal.display());
                            file = None;
                        }
                    }
                }
            }
        })?;
    Ok(())
}
