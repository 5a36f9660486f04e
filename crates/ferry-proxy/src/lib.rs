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
//!
//! In `split:N` (a canary batch of a cutover) each store serves a share of
//! the keys, by hash slot: N% on the secondary (mirrored back to the
//! primary), the rest on the primary (mirrored to the secondary). A
//! command whose keys are on both sides, a keyless write, and every
//! transaction run on the primary *in sync*: first the primary gets
//! everything the secondary served so far, then the command, then the
//! secondary its mirror entry, before the client hears back and the keys
//! are released. Slower, but no key ever has two writers.

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
    /// N% of keys (by hash slot, the ones whose slot is below N% of 16384)
    /// served by the secondary, the rest by the primary; each side's
    /// writes mirrored to the other. A cutover's canary batches.
    Split(u8),
    /// Clients on the secondary; writes mirrored back to the primary (so
    /// going back loses nothing).
    Switched,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::PrimaryOnly => write!(f, "primary-only"),
            Mode::DualWrite => write!(f, "dual-write"),
            Mode::ReadCanary(p) => write!(f, "read-canary:{p}"),
            Mode::Split(p) => write!(f, "split:{p}"),
            Mode::Switched => write!(f, "switched"),
        }
    }
}

/// One of the two stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Primary,
    Secondary,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Secondary,
            Side::Secondary => Side::Primary,
        }
    }
}

/// Whether `key` is in the share of `percent`% of keys a split moves: its
/// Redis Cluster hash slot (hash tags honoured, so `{user1}:a` and
/// `{user1}:b` move together) is below `percent`% of 16384.
pub fn moved(key: &[u8], percent: u8) -> bool {
    u32::from(redis::cluster_routing::get_slot(key)) * 100 < u32::from(percent.min(100)) * 16384
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "primary-only" => Ok(Mode::PrimaryOnly),
            "dual-write" => Ok(Mode::DualWrite),
            "switched" => Ok(Mode::Switched),
            other => {
                let percent = |n: &str| match n.trim_end_matches('%').parse::<u8>() {
                    Ok(p) if p <= 100 => Ok(p),
                    _ => Err(format!("{other:?}: takes a percentage from 0 to 100")),
                };
                if let Some(n) = other.strip_prefix("read-canary:") {
                    Ok(Mode::ReadCanary(percent(n)?))
                } else if let Some(n) = other.strip_prefix("split:") {
                    Ok(Mode::Split(percent(n)?))
                } else {
                    Err(format!(
                        "unknown mode {other:?}: primary-only, dual-write, read-canary:N (N% of reads compared), split:N (N% of keys served by the secondary) or switched"
                    ))
                }
            }
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

/// Which store serves what now.
#[derive(Clone, Copy)]
pub struct Route {
    pub mode: Mode,
    /// Bumped by every switch that moves keys between the stores.
    pub generation: u64,
}

impl Route {
    /// Where a connection's own state lives (transactions, pub/sub,
    /// commands without keys): the secondary once switched, else the
    /// primary.
    pub fn home(&self) -> Side {
        match self.mode {
            Mode::Switched => Side::Secondary,
            _ => Side::Primary,
        }
    }

    /// The store that serves `key`.
    pub fn owner(&self, key: &[u8]) -> Side {
        match self.mode {
            Mode::Split(p) if moved(key, p) => Side::Secondary,
            _ => self.home(),
        }
    }

    /// Whether writes are mirrored at all.
    pub fn mirrored(&self) -> bool {
        self.mode != Mode::PrimaryOnly
    }
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

/// How long a switch waits for open transactions to end.
const FENCE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a switch waits for the mirror to apply everything.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl Shared {
    pub fn route(&self) -> Route {
        match self.route.read() {
            Ok(r) => *r,
            Err(p) => *p.into_inner(),
        }
    }

    pub fn store(&self, side: Side) -> &Store {
        match side {
            Side::Primary => &self.primary,
            Side::Secondary => &self.secondary,
        }
    }

    /// The mirror of the writes `side` serves (None: primary-only).
    pub fn mirror_from(&self, side: Side) -> Option<&Arc<Direction>> {
        match side {
            Side::Primary => self.to_secondary.as_ref(),
            Side::Secondary => self.to_primary.as_ref(),
        }
    }

    /// Entries either mirror has not applied yet.
    pub fn behind(&self) -> u64 {
        [Side::Primary, Side::Secondary]
            .iter()
            .filter_map(|s| self.mirror_from(*s))
            .map(|d| d.behind())
            .sum()
    }

    /// The fence: every write in flight done and in its backlog, no new
    /// one until the guard is dropped; at most [`FENCE_FOR`] of waiting.
    async fn fence(&self) -> Result<order::Held, String> {
        tokio::time::timeout(FENCE_FOR, self.order.take(&order::Need::Everything))
            .await
            .map_err(|_| {
                format!("a transaction stayed open (MULTI without EXEC) for {FENCE_FOR:?}; nothing changed, try again")
            })
    }

    /// [`Shared::positions`] once every write a store has run is in its
    /// mirror's backlog: the fence is taken for a moment (a write holds
    /// its keys from being sent until its entry is appended), so a
    /// cutover that waits for `applied >= seq` waits for every write made
    /// so far, not only for those already appended.
    pub async fn settled_positions(&self) -> Result<String, String> {
        let fence = self.fence().await?;
        let at = self.positions();
        drop(fence);
        Ok(at)
    }

    /// Each mirror's last entry and the last its target applied, as
    /// ` to_secondary_seq:N to_secondary_applied:M ...` (STATUS fields: a
    /// cutover waits on them).
    pub fn positions(&self) -> String {
        let mut out = String::new();
        for side in [Side::Primary, Side::Secondary] {
            if let Some(d) = self.mirror_from(side) {
                let name = d.name.replace('-', "_");
                out.push_str(&format!(
                    " {name}_seq:{} {name}_applied:{}",
                    d.backlog.next_seq().saturating_sub(1),
                    d.applied.load(Ordering::Acquire)
                ));
            }
        }
        out
    }

    /// Waits until the mirror of `side`'s writes has applied everything
    /// appended before this call (up to 30 s).
    pub async fn caught_up(&self, side: Side) -> Result<(), String> {
        let Some(d) = self.mirror_from(side) else {
            return Ok(());
        };
        let target = d.backlog.next_seq().saturating_sub(1);
        let started = std::time::Instant::now();
        while d.applied.load(Ordering::Acquire) < target {
            if started.elapsed() > DRAIN_FOR {
                return Err(format!(
                    "the mirror {} is {} entries behind after {DRAIN_FOR:?} ({})",
                    d.name,
                    d.behind(),
                    if d.connected.load(Ordering::Relaxed) {
                        "connected"
                    } else {
                        "not connected"
                    }
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Changes the mode while clients run. A change that moves keys from
    /// one store to the other (to or from switched or split:N) is fenced:
    /// new writes wait, writes in flight reach the backlog, both mirrors
    /// apply everything (up to 30 s, else nothing changes), then the new
    /// route applies; sessions inside MULTI, WATCH or SUBSCRIBE whose store
    /// changes are closed (their clients reconnect).
    pub async fn switch(&self, mode: Mode) -> Result<String, String> {
        let now = self.route();
        if now.mode == mode {
            return Ok(format!("already {mode}"));
        }
        if now.mode == Mode::PrimaryOnly || mode == Mode::PrimaryOnly {
            return Err(
                "switching to or from primary-only is not supported: the secondary would miss writes; restart the proxy instead".into(),
            );
        }
        let on_primary = |m: Mode| matches!(m, Mode::DualWrite | Mode::ReadCanary(_));
        if on_primary(now.mode) && on_primary(mode) {
            if let Ok(mut r) = self.route.write() {
                r.mode = mode;
            }
            return Ok(format!("{} -> {mode}", now.mode));
        }
        let started = std::time::Instant::now();
        // The fence: every write in flight done and in the backlog, no new
        // one. New writes wait while it is being taken, so a client holding
        // a transaction open (MULTI without EXEC) may delay it only briefly.
        let fence = self.fence().await?;
        for side in [Side::Primary, Side::Secondary] {
            if let Err(e) = self.caught_up(side).await {
                return Err(format!("{e}; nothing changed"));
            }
        }
        let generation = now.generation + 1;
        if let Ok(mut r) = self.route.write() {
            *r = Route { mode, generation };
        }
        self.generation.store(generation, Ordering::SeqCst);
        self.stats.switches.fetch_add(1, Ordering::Relaxed);
        drop(fence);
        let msg = format!(
            "{} -> {mode}: writes paused {} ms while the mirrors caught up",
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
    /// Plain TCP or TLS (`rediss://`).
    pub security: ferry_migrate::tls::Security,
}

/// The two directions of a connection to a store (a TCP socket's halves
/// or a TLS stream's).
pub type ReadHalf = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
pub type WriteHalf = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

impl Store {
    /// A connection to the store (5 s to connect and shake hands, Nagle off).
    pub async fn dial(&self) -> std::io::Result<(ReadHalf, WriteHalf)> {
        use ferry_migrate::tls::Security;
        let within = std::time::Duration::from_secs(5);
        let s = tokio::time::timeout(
            within,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| std::io::Error::other("timed out connecting"))??;
        s.set_nodelay(true)?;
        if self.security == Security::Plain {
            let (r, w) = s.into_split();
            return Ok((Box::new(r), Box::new(w)));
        }
        let insecure = self.security == Security::TlsInsecure;
        let tls =
            tokio::time::timeout(within, ferry_migrate::tls::connect(s, &self.host, insecure))
                .await
                .map_err(|_| std::io::Error::other("timed out in the TLS handshake"))?
                .map_err(std::io::Error::other)?;
        let (r, w) = tokio::io::split(tls);
        Ok((Box::new(r), Box::new(w)))
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
    /// Entries in the mirrors' backlogs their targets do not have yet.
    pub fn behind(&self) -> u64 {
        self.shared.behind()
    }

    pub fn mode(&self) -> Mode {
        self.shared.route().mode
    }

    /// Whether the mirrors in use are connected to their targets.
    pub fn mirror_connected(&self) -> bool {
        let r = self.shared.route();
        let used = match r.mode {
            Mode::PrimaryOnly => return false,
            Mode::Split(_) => vec![Side::Primary, Side::Secondary],
            _ => vec![r.home()],
        };
        used.iter().all(|s| {
            self.shared
                .mirror_from(*s)
                .is_some_and(|d| d.connected.load(Ordering::Relaxed))
        })
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
    let shared = Shared {
        route: std::sync::RwLock::new(Route {
            mode: opts.mode,
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
