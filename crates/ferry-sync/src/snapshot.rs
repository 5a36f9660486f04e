//! A full resync's snapshot, applied to the target while it arrives: each
//! key RESTOREd as soon as it is read whole, as the master encoded it
//! (with its absolute expiry), function libraries loaded, keys outside the
//! filter left out. Into a cluster each key goes to the master serving its
//! slot (ferry-migrate's routing: one pipeline per node, MOVED and ASK
//! followed through the cluster client), and function libraries to every
//! master.
//!
//! Three things run at once: the link's reader task reads the socket into
//! a bounded queue ([`crate::link::Link::read_snapshot`]); [`load`] parses
//! what arrived ([`ferry_rdb::file::Incremental`]) and fills RESTORE
//! pipelines; each full pipeline is a task of its own, up to
//! [`IN_FLIGHT`] of them and [`IN_FLIGHT_BYTES`]. When all are busy, `load` waits for one before
//! parsing on, the queue fills, the reader stops reading, and the master
//! holds the rest (the back-pressure; see docs/sync.md on the master's
//! `client-output-buffer-limit`).

use crate::filter::Filter;
use crate::link::{Body, Link};
use crate::{Counts, Error, Result};
use ferry_migrate::endpoint::{Conn, Endpoint};
use ferry_rdb::file::{Incremental, Item, Next};
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::Value;

/// Keys per RESTORE pipeline.
const PIPELINE: usize = 500;

/// Bytes of RESTOREs per pipeline (big keys: fewer per pipeline).
const PIPELINE_BYTES: usize = 1 << 20;

/// RESTORE pipelines in flight at once (on one multiplexed connection, so
/// the target never waits for the next pipeline to arrive).
const IN_FLIGHT: usize = 4;

/// Bytes of RESTOREs in flight at once, a pipeline with a bigger key
/// aside (it goes alone). A pipeline in flight is held about three times
/// (the commands, the packed pipeline, the connection's write buffer).
const IN_FLIGHT_BYTES: usize = 4 << 20;

/// How the snapshot's keys are written. `ferry sync` takes the default
/// (every key, REPLACE, expiries kept, same database numbers);
/// `ferry migrate bulk --method snapshot` maps its flags here.
#[derive(Clone, Debug)]
pub struct Restore {
    /// RESTORE ... REPLACE; without it a key the target already has is
    /// left as it is and counted in [`Counts::skipped`].
    pub replace: bool,
    /// Keep each key's expiry (ABSTTL); without it copied keys never
    /// expire (keys already expired are never copied).
    pub keep_ttl: bool,
    /// Only keys of these types (TYPE's names); empty: every type.
    pub types: Vec<String>,
    /// (source database, target database); empty: the same number.
    pub dbs: Vec<(u64, u64)>,
}

impl Default for Restore {
    fn default() -> Restore {
        Restore {
            replace: true,
            keep_ttl: true,
            types: Vec::new(),
            dbs: Vec::new(),
        }
    }
}

impl Restore {
    fn target_db(&self, db: u64) -> u64 {
        self.dbs
            .iter()
            .find(|(s, _)| *s == db)
            .map_or(db, |(_, t)| *t)
    }

    fn wants(&self, kind: u8) -> bool {
        self.types.is_empty()
            || self
                .types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(ferry_rdb::value::types::name(kind)))
    }
}

/// Keys restored and keys skipped (already on the target) by a pipeline.
type Flush = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(u64, u64)>> + Send>>;

/// Whether a RESTORE's error says the key exists (and was not replaced).
fn busy_key(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.code() == "BUSYKEY")
}

/// Counts the replies of `n` RESTOREs: restored, and skipped for a key the
/// target has (only without REPLACE); any other error fails the pipeline.
fn tally(replies: &[Value], n: u64, replace: bool) -> Result<(u64, u64)> {
    let mut skipped = 0;
    for v in replies {
        if !replace && busy_key(v) {
            skipped += 1;
        } else if matches!(v, Value::ServerError(_)) {
            return Err(Error::Target(format!("RESTORE failed: {v:?}")));
        }
    }
    Ok((n - skipped, skipped))
}

/// Sends `pipe` (RESTOREs of `n` keys) to database `db` of the target.
async fn flush(
    target: &Endpoint,
    db: u64,
    pipe: redis::Pipeline,
    n: u64,
    replace: bool,
) -> Result<Flush> {
    let db = i64::try_from(db).map_err(|_| Error::Usage(format!("database {db}")))?;
    let mut conn = match target.data(db).await? {
        Conn::Single(c) => (*c).clone(),
        Conn::Cluster(c) => {
            if db != 0 {
                return Err(Error::Usage(format!(
                    "the snapshot has keys in database {db} and a Redis Cluster target has only database 0: flush the target and sync again with --filter-db 0"
                )));
            }
            let pipes: Vec<redis::Pipeline> = pipe
                .cmd_iter()
                .map(|c| {
                    let mut p = redis::pipe();
                    p.add_command(c.clone());
                    p
                })
                .collect();
            // Sent here rather than left in flight: the per-node pipelines
            // already run at once.
            let mut skipped = 0;
            for r in Conn::Cluster(c).per_key(&pipes).await? {
                match r {
                    Err(e) => return Err(Error::Target(format!("RESTORE failed: {e}"))),
                    Ok(v) => skipped += tally(&v, v.len() as u64, replace)?.1,
                }
            }
            return Ok(Box::pin(async move { Ok((n - skipped, skipped)) }));
        }
    };
    Ok(Box::pin(async move {
        // Each reply on its own (a server error among them stays a value),
        // so BUSYKEY can be told from a failure.
        let count = pipe.cmd_iter().count();
        let replies: Vec<Value> =
            redis::aio::ConnectionLike::req_packed_commands(&mut conn, &pipe, 0, count)
                .await
                .map_err(|e| Error::Target(format!("RESTORE failed: {e}")))?;
        tally(&replies, n, replace)
    }))
}

/// What one pipeline being filled holds.
struct Pending {
    pipe: redis::Pipeline,
    keys: u64,
    bytes: usize,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            pipe: redis::pipe(),
            keys: 0,
            bytes: 0,
        }
    }
}

/// The loader's state: the pipeline being filled and those in flight.
struct Loader<'a> {
    target: &'a Endpoint,
    counts: &'a std::sync::Mutex<Counts>,
    pending: Pending,
    /// Each resolves to its keys restored, keys skipped and bytes.
    inflight: FuturesUnordered<tokio::task::JoinHandle<Result<(u64, u64, usize)>>>,
    /// The bytes of the pipelines in flight.
    inflight_bytes: usize,
    db: u64,
    restore: &'a Restore,
}

impl Loader<'_> {
    /// A pipeline finished: its keys count as restored.
    fn done(
        &mut self,
        r: std::result::Result<Result<(u64, u64, usize)>, tokio::task::JoinError>,
    ) -> Result<()> {
        let (n, skipped, bytes) =
            r.map_err(|e| Error::Target(format!("a RESTORE pipeline failed: {e}")))??;
        self.inflight_bytes = self.inflight_bytes.saturating_sub(bytes);
        if let Ok(mut c) = self.counts.lock() {
            c.keys_restored += n;
            c.skipped += skipped;
        }
        Ok(())
    }

    /// Sends the pipeline being filled; with [`IN_FLIGHT`] already out,
    /// or [`IN_FLIGHT_BYTES`] with this one, waits for one first. This
    /// wait is the back-pressure: meanwhile no byte of the snapshot is
    /// read.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.keys == 0 {
            return Ok(());
        }
        let bytes = self.pending.bytes;
        while self.inflight.len() >= IN_FLIGHT
            || (!self.inflight.is_empty()
                && self.inflight_bytes.saturating_add(bytes) > IN_FLIGHT_BYTES)
        {
            if let Some(r) = self.inflight.next().await {
                self.done(r)?;
            }
        }
        let p = std::mem::replace(&mut self.pending, Pending::new());
        let sent = flush(self.target, self.db, p.pipe, p.keys, self.restore.replace).await?;
        self.inflight_bytes += bytes;
        // A task: it runs while the snapshot is parsed on.
        self.inflight.push(tokio::spawn(async move {
            sent.await.map(|(n, skipped)| (n, skipped, bytes))
        }));
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        self.flush().await?;
        while let Some(r) = self.inflight.next().await {
            self.done(r)?;
        }
        Ok(())
    }
}

/// After `+FULLRESYNC`: reads the snapshot from `link` (by a task of its
/// own, see [`Link::read_snapshot`]) and RESTOREs it on `target` as it
/// arrives ([`load`]). Returns the link, at the stream that follows,
/// and the snapshot's size in bytes.
pub async fn receive(
    mut link: Link,
    target: &Endpoint,
    filter: &Filter,
    restore: &Restore,
    counts: &std::sync::Mutex<Counts>,
) -> Result<(Link, u64)> {
    let body = link.snapshot_head().await?;
    let total = match &body {
        Body::Sized(n) => Some(*n),
        Body::Diskless { .. } => None,
    };
    log::info!(
        "{}: snapshot of {}, applied as it arrives",
        link.addr(),
        total.map_or("unknown size (diskless)".to_string(), |n| format!(
            "{n} bytes"
        ))
    );
    let (mut chunks, reader) = link.read_snapshot(body);
    let loaded = load(target, &mut chunks, total, filter, restore, counts).await;
    drop(chunks);
    let size = match loaded {
        Ok(size) => size,
        Err(e) => {
            // The reader task may be waiting on the socket: stop it (and
            // so close the link) rather than leave it.
            reader.abort();
            return Err(e);
        }
    };
    let link = reader
        .await
        .map_err(|e| Error::Source(format!("the snapshot reader failed: {e}")))?;
    log::info!("{}: snapshot of {size} bytes read", link.addr());
    Ok((link, size))
}

/// RESTOREs the snapshot on the target as its bytes arrive on `chunks`
/// (the channel closes after the last one; an error ends it early), and
/// returns its size in bytes. Each key is RESTOREd as soon as the reader
/// has it whole ([`Incremental`]): memory holds the bytes read ahead (the
/// link's channel), the key being read, and the pipelines in flight (at
/// most [`IN_FLIGHT`] of [`PIPELINE`] keys or [`PIPELINE_BYTES`] bytes,
/// [`IN_FLIGHT_BYTES`] in all or one bigger key), never the whole
/// snapshot. `total` is the snapshot's length when the
/// master said it (a length-prefixed transfer).
async fn load(
    target: &Endpoint,
    chunks: &mut tokio::sync::mpsc::Receiver<Result<Vec<u8>>>,
    total: Option<u64>,
    filter: &Filter,
    restore: &Restore,
    counts: &std::sync::Mutex<Counts>,
) -> Result<u64> {
    let mut rdb = Incremental::new(total);
    let now = ferry_migrate::now_ms();
    let mut l = Loader {
        target,
        counts,
        pending: Pending::new(),
        inflight: FuturesUnordered::new(),
        inflight_bytes: 0,
        db: restore.target_db(0),
        restore,
    };
    let mut size = 0u64;
    let mut at_end = false;
    let mut restored = 0u64;
    let mut left_out = 0u64;
    let mut version = None;
    // A full pipeline is sent once the reader let go of the key's bytes.
    let mut flush_due = false;
    loop {
        rdb.release();
        if flush_due {
            flush_due = false;
            l.flush().await?;
        }
        if version.is_none() {
            version = rdb.read_header(at_end)?;
        }
        let next = match version {
            Some(_) => rdb.next_item(at_end)?,
            None => Next::More,
        };
        match next {
            Next::End => break,
            Next::More => {
                // Wait for bytes; in-flight pipelines complete meanwhile.
                tokio::select! {
                    got = chunks.recv() => match got {
                        Some(Ok(bytes)) => {
                            size += bytes.len() as u64;
                            rdb.feed(&bytes);
                        }
                        Some(Err(e)) => return Err(e),
                        None => at_end = true,
                    },
                    Some(r) = l.inflight.next(), if !l.inflight.is_empty() => l.done(r)?,
                }
            }
            Next::Item(Item::SelectDb(n)) => {
                l.flush().await?;
                l.db = restore.target_db(n);
            }
            Next::Item(Item::Function(code)) => {
                let load = redis::cmd("FUNCTION")
                    .arg("LOAD")
                    .arg("REPLACE")
                    .arg(code)
                    .clone();
                if target.is_cluster() {
                    // Every master runs the functions of its keys.
                    for node in &target.nodes {
                        Conn::Single(Box::new(node.conn(0).await?))
                            .cmd(&load)
                            .await?;
                    }
                } else {
                    target.data(0).await?.cmd(&load).await?;
                }
            }
            Next::Item(Item::Aux(..)) => {}
            Next::Item(Item::Key(k)) => {
                if k.expire_at_ms.is_some_and(|at| at <= now) {
                    continue;
                }
                let in_db = i64::try_from(k.db).map(|d| filter.db(d)).unwrap_or(false);
                if !in_db || !filter.key(&k.name) || !restore.wants(k.kind) {
                    left_out += 1;
                    continue;
                }
                // A key comes after the header: the version is known.
                let version = version.unwrap_or(ferry_rdb::RDB_VERSION);
                let payload = ferry_rdb::file::dump_payload(k.kind, k.object, version);
                l.pending.bytes += payload.len() + k.name.len();
                // Sized at once: a big key's command is not regrown (a
                // copy more at its peak).
                let mut cmd = redis::Cmd::with_capacity(6, payload.len() + k.name.len() + 48);
                let expire_at = k.expire_at_ms.filter(|_| restore.keep_ttl);
                cmd.arg("RESTORE")
                    .arg(&k.name)
                    .arg(expire_at.unwrap_or(0))
                    .arg(payload);
                if restore.replace {
                    cmd.arg("REPLACE");
                }
                if expire_at.is_some() {
                    cmd.arg("ABSTTL");
                }
                l.pending.pipe.add_command(cmd);
                l.pending.keys += 1;
                restored += 1;
                flush_due =
                    l.pending.keys as usize >= PIPELINE || l.pending.bytes >= PIPELINE_BYTES;
            }
        }
    }
    l.finish().await?;
    // Bytes after the end marker (there should be none) are read and
    // left, so the link is at the stream when the channel closes.
    while let Some(got) = chunks.recv().await {
        size += got?.len() as u64;
    }
    if let Ok(mut c) = counts.lock() {
        c.filtered += left_out;
    }
    log::debug!("snapshot: {restored} keys restored, {left_out} left out by the filter");
    Ok(size)
}
