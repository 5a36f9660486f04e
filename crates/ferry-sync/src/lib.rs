//! `ferry sync`: follow a Redis master (or every master of a cluster) as
//! one of its replicas and keep another store identical to it.
//!
//! - [`link`]: the replica side of the replication protocol;
//! - [`source`]: the source's streams (one per master) and, after a
//!   failover, which server is a stream's master now;
//! - [`snapshot`]: a full resync's RDB snapshot RESTOREd on the target;
//! - [`follow`]: one stream applied in order, in MULTI/EXEC batches that
//!   also record the replication id and offset reached (hash
//!   `__ferry:sync:{<name>}` on the target, one per cluster shard):
//!   applied commands and the checkpoint commit together, so a killed
//!   `ferry sync` resumes with `PSYNC <replid> <offset>` (a partial
//!   resync) and applies nothing twice;
//! - [`cluster`]: a Redis Cluster target, where no transaction spans
//!   slots: each slot's share of a batch commits with that slot's own
//!   checkpoint, and the stream's checkpoint is the floor every slot has
//!   reached;
//! - [`filter`]: which keys, databases and commands reach the target;
//! - [`copy`]: a one-time copy through the snapshot alone, for
//!   `ferry migrate bulk --method snapshot`;
//! - this module: the run (checks, one task per stream, the counts).
//!
//! Targets: one server (Redis, Valkey, ferry), a ferry store, or a Redis
//! Cluster (database 0 only: a source with keys in other databases needs
//! `--filter-db 0`).

pub mod cluster;
pub mod copy;
pub mod filter;
pub mod follow;
pub mod lag;
pub mod link;
pub mod snapshot;
pub mod source;
pub mod tls;

use ferry_migrate::endpoint::{Conn, Endpoint, Spec};
use redis::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("source: {0}")]
    Source(String),
    #[error("target: {0}")]
    Target(String),
    #[error("{0}")]
    Usage(String),
    #[error("the snapshot: {0}")]
    Snapshot(#[from] ferry_rdb::file::FileError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<ferry_migrate::Error> for Error {
    fn from(e: ferry_migrate::Error) -> Error {
        Error::Target(e.to_string())
    }
}

/// Where a run's checkpoint lives on the target (a standalone source).
pub fn checkpoint_key(name: &str) -> String {
    format!("__ferry:sync:{{{name}}}")
}

/// The checkpoint of one stream: a cluster shard's is named after the
/// first slot it serves (its master changes with failovers, its slots
/// do not).
pub fn checkpoint_key_of(name: &str, first_slot: Option<u16>) -> String {
    match first_slot {
        Some(s) => format!("{}:slots-{s}", checkpoint_key(name)),
        None => checkpoint_key(name),
    }
}

/// What `ferry sync` was asked.
pub struct Options {
    pub from: Spec,
    pub to: Spec,
    /// The run's name (the checkpoint key).
    pub name: String,
    /// Commands per MULTI/EXEC batch.
    pub batch: usize,
    /// Stop after this long (None: until killed or the master goes away).
    pub duration: Option<Duration>,
    /// What reaches the target.
    pub filter: filter::Filter,
}

/// What every stream of a run shares.
pub struct Run {
    pub target: Endpoint,
    /// The target's slot map and tags when it is a cluster.
    pub cluster: Option<cluster::Target>,
    pub auth: source::Auth,
    pub name: String,
    pub batch: usize,
    pub duration: Option<Duration>,
    pub filter: filter::Filter,
    pub started: Instant,
}

/// Counts of a run, for progress lines.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub keys_restored: u64,
    pub commands: u64,
    pub offset: u64,
    /// Bytes of the source's stream not applied yet (its
    /// `master_repl_offset` minus ours), when last asked (None: not yet).
    pub lag_bytes: Option<u64>,
    /// How long ago the source wrote the first byte not applied yet.
    pub lag_secs: Option<f64>,
    /// Commands and snapshot keys the filter left out.
    pub filtered: u64,
    /// Snapshot keys the target already had, left as they were (a copy
    /// without REPLACE: `ferry migrate bulk --on-conflict skip`).
    pub skipped: u64,
    /// Commands naming keys inside and outside the key filter (applied).
    pub mixed: u64,
    /// Streams (masters) followed.
    pub streams: usize,
}

impl Counts {
    /// The counts of a whole run from its streams': sums, and the largest
    /// lag in seconds.
    fn total(streams: &[Mutex<Counts>]) -> Counts {
        let mut t = Counts {
            streams: streams.len(),
            ..Counts::default()
        };
        for s in streams {
            let Ok(c) = s.lock() else { continue };
            t.keys_restored += c.keys_restored;
            t.commands += c.commands;
            t.offset += c.offset;
            t.filtered += c.filtered;
            t.skipped += c.skipped;
            t.mixed += c.mixed;
            if let Some(b) = c.lag_bytes {
                t.lag_bytes = Some(t.lag_bytes.unwrap_or(0) + b);
            }
            if let Some(secs) = c.lag_secs {
                t.lag_secs = Some(t.lag_secs.unwrap_or(0.0).max(secs));
            }
        }
        t
    }
}

/// Where a run stopped: the replication id, the offset of the last byte
/// applied, and the database the stream had selected there (a partial
/// resync continues in it: the master sends SELECT only when it changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    replid: String,
    offset: u64,
    db: i64,
}

async fn read_checkpoint(conn: &mut Conn, key: &str) -> Result<Option<Checkpoint>> {
    let v = conn
        .cmd(
            redis::cmd("HMGET")
                .arg(key)
                .arg("replid")
                .arg("offset")
                .arg("db"),
        )
        .await?;
    let text = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let Value::Array(items) = v else {
        return Ok(None);
    };
    let (Some(replid), Some(offset)) = (text(items.first()), text(items.get(1))) else {
        return Ok(None);
    };
    let bad = |what: &str| {
        Error::Target(format!(
            "{key} field '{what}' is not what ferry wrote; was it changed by hand?"
        ))
    };
    Ok(Some(Checkpoint {
        replid,
        offset: offset.parse().map_err(|_| bad("offset"))?,
        db: text(items.get(2))
            .unwrap_or_else(|| "0".into())
            .parse()
            .map_err(|_| bad("db"))?,
    }))
}

/// Runs `ferry sync` until the duration ends, or an error (a dropped link
/// is resumed with a partial resync, on the master or the server that
/// replaced it, for up to a minute of retries). `progress` sees the
/// counts about once a second.
pub async fn run(opts: Options, mut progress: impl FnMut(&Counts)) -> Result<Counts> {
    let auth = source::Auth::of(&opts.from)?;
    let shards = source::shards(&opts.from, &auth).await?;
    let target = Endpoint::connect(opts.to.clone()).await?;
    let cluster = if target.is_cluster() {
        // Database 0 only: a source with keys elsewhere is refused before
        // its snapshot, unless the filter leaves them out.
        if let Spec::Server { host, port, .. } = &opts.from {
            let others: Vec<i64> = source::databases(&(host.clone(), *port), &auth)
                .await?
                .into_iter()
                .filter(|d| *d != 0 && opts.filter.db(*d))
                .collect();
            if !others.is_empty() {
                return Err(Error::Usage(format!(
                    "the source has keys in database(s) {others:?} and a Redis Cluster target has only database 0: pass --filter-db 0 to sync database 0 alone"
                )));
            }
        }
        Some(cluster::Target::new(&target).await?)
    } else {
        None
    };
    let mut conn = target.data(0).await?;
    let mut checkpoints = Vec::with_capacity(shards.len());
    for s in &shards {
        checkpoints
            .push(read_checkpoint(&mut conn, &checkpoint_key_of(&opts.name, s.first_slot)).await?);
    }
    // Checked before PSYNC, so the master does not fork a snapshot for a
    // run that cannot use it. Every database counts (INFO keyspace).
    let missing: Vec<String> = shards
        .iter()
        .zip(&checkpoints)
        .filter(|(_, c)| c.is_none())
        .map(|(s, _)| s.describe())
        .collect();
    if !missing.is_empty() && target.keyspace().await?.values().sum::<u64>() > 0 {
        return Err(Error::Usage(if missing.len() == shards.len() {
            "the target is not empty; ferry sync's first full sync needs an empty target (nothing would remove keys the source does not have)".into()
        } else {
            format!(
                "the target holds data but has no checkpoint for {} (a first full sync stopped half-way, or the cluster gained a master): flush the target and sync again from scratch",
                missing.join(", ")
            )
        }));
    }
    let run = Run {
        target,
        cluster,
        auth,
        name: opts.name,
        batch: opts.batch,
        duration: opts.duration,
        filter: opts.filter,
        started: Instant::now(),
    };
    let counts: Vec<Mutex<Counts>> = shards.iter().map(|_| Mutex::default()).collect();
    let followers = futures_util::future::try_join_all(
        shards
            .into_iter()
            .zip(checkpoints)
            .zip(&counts)
            .map(|((s, c), n)| follow::follow(&run, s, c, n)),
    );
    let result = {
        tokio::pin!(followers);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                r = &mut followers => break r,
                _ = tick.tick() => progress(&Counts::total(&counts)),
            }
        }
    };
    run.target.close().await;
    result.map(|_| Counts::total(&counts))
}
