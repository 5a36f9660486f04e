//! `ferry proxy`: a RESP proxy in front of two stores during a move. Every
//! client command goes to the serving store on the client's own
//! connection; writes it answered are mirrored to the other store, in order
//! per key, through a durable backlog on disk, so the other store can be
//! down or slow without losing a write.
//!
//! - [`frame`]: reply boundaries (replies pass through as bytes);
//! - [`classify`]: reads, writes, and the form a write is mirrored in;
//! - [`order`]: per-key order of mirror entries across connections;
//! - [`backlog`]: the on-disk log of mirror entries;
//! - [`mirror`]: applies the backlog to the other store, exactly once;
//! - [`canary`]: reads compared between the two stores (`read-canary`);
//! - [`session`]: one client connection.

pub mod backlog;
pub mod canary;
pub mod classify;
pub mod frame;
pub mod mirror;
pub mod order;
pub mod session;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which store serves clients and which one gets the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Clients on the primary; nothing mirrored.
    PrimaryOnly,
    /// Clients on the primary; writes mirrored to the secondary.
    DualWrite,
    /// As dual-write, and this percentage of reads (by key hash) also sent
    /// to the secondary and compared.
    ReadCanary(u8),
    /// Clients on the secondary; writes mirrored back to the primary (so
    /// going back loses nothing).
    Switched,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "primary-only" => Ok(Mode::PrimaryOnly),
            "dual-write" => Ok(Mode::DualWrite),
            "switched" => Ok(Mode::Switched),
            other => match other.strip_prefix("read-canary:") {
                Some(n) => match n.trim_end_matches('%').parse::<u8>() {
                    Ok(p) if p <= 100 => Ok(Mode::ReadCanary(p)),
                    _ => Err(format!("{other:?}: read-canary:N takes a percentage from 0 to 100")),
                },
                None => Err(format!(
                    "unknown mode {other:?}: primary-only, dual-write, read-canary:N (N% of reads compared) or switched"
                )),
            },
        }
    }
}

/// Counters, read by the status line (and metrics).
#[derive(Default)]
pub struct Stats {
    pub clients: AtomicU64,
    pub commands: AtomicU64,
    /// Entries appended to the backlog.
    pub backlogged: AtomicU64,
    /// Entries the mirror applied (this process).
    pub mirrored: AtomicU64,
    /// The last backlog seq the mirror target has.
    pub applied: AtomicU64,
    pub mirror_errors: AtomicU64,
    pub backlog_errors: AtomicU64,
    pub mirror_connected: AtomicBool,
    /// Reads compared with the secondary, those that differed, and those
    /// the secondary did not answer.
    pub canary_reads: AtomicU64,
    pub canary_mismatches: AtomicU64,
    pub canary_errors: AtomicU64,
}

/// What every session shares.
pub struct Shared {
    /// The store clients are served by.
    pub serving: (String, u16),
    pub backlog: Option<Arc<backlog::Backlog>>,
    pub order: order::Order,
    pub stats: Arc<Stats>,
    pub scripts: Mutex<classify::Scripts>,
    /// read-canary: the secondary and the share of reads compared.
    pub canary: Option<(Store, u8)>,
}

/// A store the proxy talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

pub struct Options {
    pub listen: std::net::SocketAddr,
    pub primary: Store,
    pub secondary: Store,
    pub mode: Mode,
    /// The backlog's directory.
    pub backlog: std::path::PathBuf,
    pub fsync_always: bool,
    /// Names the mirror's checkpoint on its target.
    pub name: String,
}

/// A running proxy.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    pub stats: Arc<Stats>,
    pub backlog: Option<Arc<backlog::Backlog>>,
}

impl Proxy {
    /// Entries in the backlog the mirror target does not have yet.
    pub fn behind(&self) -> u64 {
        match &self.backlog {
            Some(b) => b
                .next_seq()
                .saturating_sub(1)
                .saturating_sub(self.stats.applied.load(Ordering::Relaxed)),
            None => 0,
        }
    }
}

/// Binds, starts the mirror and accepts clients (in spawned tasks).
pub async fn start(opts: Options) -> std::io::Result<Proxy> {
    let (serving, mirrored) = match opts.mode {
        Mode::PrimaryOnly | Mode::DualWrite | Mode::ReadCanary(_) => {
            (&opts.primary, &opts.secondary)
        }
        Mode::Switched => (&opts.secondary, &opts.primary),
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("--listen {}: {e}", opts.listen)))?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let backlog = match opts.mode {
        Mode::PrimaryOnly => None,
        _ => {
            // One backlog per direction: switching back and forth never
            // mixes the two streams.
            let dir = opts.backlog.join(match opts.mode {
                Mode::Switched => "to-primary",
                _ => "to-secondary",
            });
            let b = Arc::new(
                backlog::Backlog::open(&dir, opts.fsync_always).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("the backlog in {}: {e}", dir.display()))
                })?,
            );
            let target = mirror::Target {
                host: mirrored.host.clone(),
                port: mirrored.port,
                user: mirrored.user.clone(),
                password: mirrored.password.clone(),
            };
            tokio::spawn(mirror::run(
                target,
                opts.name.clone(),
                b.clone(),
                stats.clone(),
            ));
            let syncer = b.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    if let Err(e) = syncer.sync() {
                        log::error!("fsync of the backlog failed: {e}");
                    }
                }
            });
            Some(b)
        }
    };
    let shared = Arc::new(Shared {
        serving: (serving.host.clone(), serving.port),
        backlog: backlog.clone(),
        order: order::Order::default(),
        stats: stats.clone(),
        scripts: Mutex::new(Default::default()),
        canary: match opts.mode {
            Mode::ReadCanary(p) => Some((opts.secondary.clone(), p)),
            _ => None,
        },
    });
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((sock, _)) => {
                    tokio::spawn(session::run(sock, shared.clone()));
                }
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(Proxy {
        addr,
        stats,
        backlog,
    })
}
