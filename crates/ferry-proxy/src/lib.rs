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
    pub mirror_errors: AtomicU64,
    pub backlog_errors: AtomicU64,
    /// Reads compared with the secondary, those that differed, and those
    /// the secondary did not answer.
    pub canary_reads: AtomicU64,
    pub canary_mismatches: AtomicU64,
    pub canary_errors: AtomicU64,
    /// Mode switches done.
    pub switches: AtomicU64,
}

/// One direction of mirroring: its backlog, and how far its target got.
pub struct Direction {
    pub name: &'static str,
    pub backlog: Arc<backlog::Backlog>,
    /// The last backlog seq the target has.
    pub applied: AtomicU64,
    pub connected: AtomicBool,
}

impl Direction {
    /// Entries the target does not have yet.
    pub fn behind(&self) -> u64 {
        self.backlog
            .next_seq()
            .saturating_sub(1)
            .saturating_sub(self.applied.load(Ordering::Relaxed))
    }
}

/// Where clients are served and where their writes are mirrored now.
#[derive(Clone)]
pub struct Route {
    pub mode: Mode,
    pub serving: Store,
    pub mirror: Option<Arc<Direction>>,
    /// Bumped by every switch of the serving store: sessions re-dial.
    pub generation: u64,
}

/// What every session shares.
pub struct Shared {
    pub route: std::sync::RwLock<Route>,
    /// The route's generation, read without the lock on every request.
    pub generation: AtomicU64,
    pub primary: Store,
    pub secondary: Store,
    to_secondary: Option<Arc<Direction>>,
    to_primary: Option<Arc<Direction>>,
    pub order: order::Order,
    pub stats: Arc<Stats>,
    pub scripts: Mutex<classify::Scripts>,
}

/// How long a switch waits for the mirror to apply everything.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl Shared {
    pub fn route(&self) -> Route {
        match self.route.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn route_for(&self, mode: Mode, generation: u64) -> Route {
        let (serving, mirror) = match mode {
            Mode::PrimaryOnly => (self.primary.clone(), None),
            Mode::DualWrite | Mode::ReadCanary(_) => {
                (self.primary.clone(), self.to_secondary.clone())
            }
            Mode::Switched => (self.secondary.clone(), self.to_primary.clone()),
        };
        Route {
            mode,
            serving,
            mirror,
            generation,
        }
    }

    /// Changes the mode while clients run. Between dual-write (or
    /// read-canary) and switched the serving store changes, fenced: new
    /// writes wait, writes in flight finish, the mirror applies everything
    /// (up to 30 s, else nothing changes), then the stores swap roles and
    /// sessions re-dial (those inside MULTI, WATCH or SUBSCRIBE are closed).
    pub async fn switch(&self, mode: Mode) -> Result<String, String> {
        let now = self.route();
        if now.mode == mode {
            return Ok(format!("already {mode:?}"));
        }
        if now.mode == Mode::PrimaryOnly || mode == Mode::PrimaryOnly {
            return Err(
                "switching to or from primary-only is not supported: the secondary would miss writes; restart the proxy instead".into(),
            );
        }
        let serving_changes = (now.mode == Mode::Switched) != (mode == Mode::Switched);
        if !serving_changes {
            if let Ok(mut r) = self.route.write() {
                r.mode = mode;
            }
            return Ok(format!("{:?} -> {mode:?}", now.mode));
        }
        let started = std::time::Instant::now();
        // The fence: every write in flight done and in the backlog, no new one.
        let fence = self.order.take(&order::Need::Everything).await;
        if let Some(dir) = &now.mirror {
            while dir.behind() > 0 {
                if started.elapsed() > DRAIN_FOR {
                    return Err(format!(
                        "the mirror did not apply its backlog within {DRAIN_FOR:?} ({} entries behind, target {}); nothing changed",
                        dir.behind(),
                        if dir.connected.load(Ordering::Relaxed) { "connected" } else { "not connected" }
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        let generation = now.generation + 1;
        let next = self.route_for(mode, generation);
        if let Ok(mut r) = self.route.write() {
            *r = next;
        }
        self.generation.store(generation, Ordering::SeqCst);
        self.stats.switches.fetch_add(1, Ordering::Relaxed);
        drop(fence);
        let msg = format!(
            "{:?} -> {mode:?}: writes paused {} ms while the mirror caught up",
            now.mode,
            started.elapsed().as_millis()
        );
        log::info!("{msg}");
        Ok(msg)
    }
}

/// A store the proxy talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Store {
    /// A connection to the store (5 s to connect, Nagle off).
    pub async fn dial(&self) -> std::io::Result<tokio::net::TcpStream> {
        let s = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| std::io::Error::other("timed out connecting"))??;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// The AUTH the proxy's own connections send (None without a password).
    pub fn auth(&self) -> Option<Vec<bytes::Bytes>> {
        let p = self.password.as_ref()?;
        let mut c = vec![bytes::Bytes::from_static(b"AUTH")];
        if let Some(u) = &self.user {
            c.push(bytes::Bytes::copy_from_slice(u.as_bytes()));
        }
        c.push(bytes::Bytes::copy_from_slice(p.as_bytes()));
        Some(c)
    }
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
    pub shared: Arc<Shared>,
}

impl Proxy {
    /// Entries in the current mirror's backlog its target does not have yet.
    pub fn behind(&self) -> u64 {
        self.shared.route().mirror.map(|d| d.behind()).unwrap_or(0)
    }

    pub fn mode(&self) -> Mode {
        self.shared.route().mode
    }

    /// Whether the current mirror is connected to its target.
    pub fn mirror_connected(&self) -> bool {
        self.shared
            .route()
            .mirror
            .is_some_and(|d| d.connected.load(Ordering::Relaxed))
    }
}

/// Opens one direction's backlog and starts its mirror and fsync timer.
fn direction(
    opts: &Options,
    name: &'static str,
    target: &Store,
    stats: &Arc<Stats>,
) -> std::io::Result<Arc<Direction>> {
    let dir = opts.backlog.join(name);
    let b = Arc::new(
        backlog::Backlog::open(&dir, opts.fsync_always).map_err(|e| {
            std::io::Error::new(e.kind(), format!("the backlog in {}: {e}", dir.display()))
        })?,
    );
    let d = Arc::new(Direction {
        name,
        backlog: b.clone(),
        applied: AtomicU64::new(0),
        connected: AtomicBool::new(false),
    });
    tokio::spawn(mirror::run(
        target.clone(),
        format!("{}:{name}", opts.name),
        d.clone(),
        stats.clone(),
    ));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = b.sync() {
                log::error!("fsync of the backlog failed: {e}");
            }
        }
    });
    Ok(d)
}

/// Binds, starts the mirrors and accepts clients (in spawned tasks).
pub async fn start(opts: Options) -> std::io::Result<Proxy> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("--listen {}: {e}", opts.listen)))?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    // One backlog and mirror per direction (switching back and forth never
    // mixes the two streams); both run, the idle one has nothing to send.
    let (to_secondary, to_primary) = match opts.mode {
        Mode::PrimaryOnly => (None, None),
        _ => (
            Some(direction(&opts, "to-secondary", &opts.secondary, &stats)?),
            Some(direction(&opts, "to-primary", &opts.primary, &stats)?),
        ),
    };
    let mut shared = Shared {
        route: std::sync::RwLock::new(Route {
            mode: opts.mode,
            serving: opts.primary.clone(),
            mirror: None,
            generation: 0,
        }),
        generation: AtomicU64::new(0),
        primary: opts.primary.clone(),
        secondary: opts.secondary.clone(),
        to_secondary,
        to_primary,
        order: order::Order::default(),
        stats: stats.clone(),
        scripts: Mutex::new(Default::default()),
    };
    let first = shared.route_for(opts.mode, 0);
    shared.route = std::sync::RwLock::new(first);
    let shared = Arc::new(shared);
    let accepting = shared.clone();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((sock, _)) => {
                    tokio::spawn(session::run(sock, accepting.clone()));
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
        shared,
    })
}
