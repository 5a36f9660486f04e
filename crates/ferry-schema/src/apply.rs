//! A run over the whole keyspace of a schema: SCAN every master, migrate
//! the matching keys batch by batch (several batches in flight), keys that
//! changed meanwhile read again, the backup written before each batch
//! writes, the SCAN cursors checkpointed in the target's registry after
//! every round so a killed run resumes where it stopped.

use crate::backup::{GroupWriter, Saved};
use crate::batch::{self, Plan};
use crate::registry::{self, Counts, RESERVED};
use crate::value::Raw;
use ferry_migrate::endpoint::{Conn, Endpoint};
use ferry_migrate::{Error, Result};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// Keys per pipeline.
    pub batch: usize,
    /// Pipelines in flight at once.
    pub in_flight: usize,
    /// At most this many keys per second (0: no limit).
    pub max_rps: u64,
    /// Read and report, write nothing (no backup, no registry).
    pub dry_run: bool,
    /// Stop at the first key that fails (after its round).
    pub strict: bool,
    /// Before/after samples kept for the report.
    pub samples: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch: 500,
            in_flight: 8,
            max_rps: 0,
            dry_run: false,
            strict: false,
            samples: 5,
        }
    }
}

/// How many times a key that keeps changing under the run is read again
/// before it is reported as failed. Each round waits a random 0 to
/// `round` ms (at most [`CONFLICT_PAUSE_MS`]) first, so a writer on a
/// fixed period does not hit the same read-to-write window every time; a
/// key written every few milliseconds still gets through (seen: a key
/// bumped every 10 ms lost 10 rounds in a row on a slow CI disk, where
/// the backup's fsync sits between the read and the write).
const CONFLICT_ROUNDS: usize = 100;

/// The longest pause between two conflict rounds.
const CONFLICT_PAUSE_MS: u64 = 20;

/// The values a run holds in memory at once (read, transformed, being
/// written) stay around this size: batches shrink when values are big.
const BYTES_IN_FLIGHT: usize = 256 << 20;

/// How many failed keys the report keeps (the count is exact).
const FAILED_KEPT: usize = 1000;

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub counts: Counts,
    /// Before/after of the first changed keys.
    pub samples: Vec<(Vec<u8>, Raw, Raw)>,
    /// The first failed keys, with the reason.
    pub failed: Vec<(Vec<u8>, String)>,
    /// Why the run stopped before the end (`--strict`).
    pub stopped: Option<String>,
}

/// What the run works on.
pub struct Job<'a> {
    /// The schema's name (its registry), None for a dry run.
    pub registry: Option<&'a str>,
    pub patterns: &'a [String],
    pub plan: Plan<'a>,
    /// The backup the originals go to before each write.
    pub backup: Option<&'a GroupWriter>,
    /// The checkpoint to resume from (master address -> cursor).
    pub cursors: BTreeMap<String, String>,
    /// Counts of the run so far (a resumed run goes on counting).
    pub counts: Counts,
}

/// Whether a key belongs to the run.
pub fn wanted(patterns: &[String], key: &[u8]) -> bool {
    !key.starts_with(RESERVED)
        && patterns
            .iter()
            .any(|p| ferry_store::glob::glob_match(p.as_bytes(), key, false))
}

/// One SCAN page from one master: the next cursor and the keys.
async fn scan(
    node: &ferry_migrate::endpoint::Node,
    db: i64,
    cursor: &str,
    count: usize,
    pattern: Option<&str>,
) -> Result<(String, Vec<Vec<u8>>)> {
    let mut c = node.conn(db).await?;
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor);
    if let Some(p) = pattern {
        cmd.arg("MATCH").arg(p);
    }
    cmd.arg("COUNT").arg(count);
    let v: redis::Value = cmd
        .query_async(&mut c)
        .await
        .map_err(|e| Error::Connect(format!("{}: SCAN failed: {e}", node.addr)))?;
    ferry_migrate::reply::scan_page(&v)
        .ok_or_else(|| Error::Protocol(format!("{}: SCAN answered {v:?}", node.addr)))
}

fn backup_failed(e: std::io::Error) -> Error {
    Error::Usage(format!(
        "writing the backup failed ({e}); nothing of this batch was written; the run resumes from its checkpoint once the disk is fixed"
    ))
}

/// Runs one batch to the end: keys that changed between the read and the
/// write are read again, up to [`CONFLICT_ROUNDS`] times. The originals
/// of the values that change are in the backup (fsynced) before any is
/// written; a key read again is written from its new value at once (no
/// fsync between that read and the write, or a key written every few
/// milliseconds would never get through on a slow disk), its first
/// original covering a crash, and the value the write replaced follows
/// in a record that takes the first one's place.
async fn one_batch(
    mut conn: Conn,
    plan: &Plan<'_>,
    keys: Vec<Vec<u8>>,
    dry_run: bool,
    backup: Option<&GroupWriter>,
) -> Result<batch::Outcome> {
    let mut total = batch::Outcome::default();
    let mut keys = keys;
    for round in 0..CONFLICT_ROUNDS {
        let mut out = batch::prepare(&mut conn, plan, &keys).await?;
        // Keys with a record in the backup whose value was not written.
        let mut unwritten: HashSet<Vec<u8>> = HashSet::new();
        if !dry_run && !out.changed.is_empty() {
            match backup {
                Some(b) if round == 0 => {
                    b.append(saved(&out.changed)).await.map_err(backup_failed)?;
                    unwritten.extend(out.changed.iter().map(|(o, _)| o.key.clone()));
                }
                _ => {}
            }
            batch::commit(&mut conn, &mut out).await?;
            if let (Some(b), true) = (backup, round > 0) {
                b.replace(saved(&out.changed))
                    .await
                    .map_err(backup_failed)?;
            }
        }
        if backup.is_some() && !dry_run {
            if round > 0 {
                unwritten.extend(keys.iter().cloned());
            }
            for (o, _) in &out.changed {
                unwritten.remove(&o.key);
            }
            for k in &out.conflicts {
                unwritten.remove(k);
            }
        }
        total.changed.extend(out.changed);
        total.unchanged += out.unchanged;
        total.already += out.already;
        total.gone += out.gone;
        total.bytes_read += out.bytes_read;
        total.failed.extend(out.failed);
        total.conflicts.extend(out.conflicts.iter().cloned());
        let mut give_up = Vec::new();
        if round + 1 == CONFLICT_ROUNDS {
            give_up = std::mem::take(&mut out.conflicts);
        }
        if let Some(b) = backup {
            let void: Vec<Vec<u8>> = unwritten
                .into_iter()
                .chain(give_up.iter().cloned())
                .collect();
            b.void(void).await.map_err(backup_failed)?;
        }
        for k in give_up {
            total.failed.push((
                k,
                format!("it changed under the run {CONFLICT_ROUNDS} times in a row; run again when writes calm down"),
            ));
        }
        if out.conflicts.is_empty() {
            return Ok(total);
        }
        keys = out.conflicts;
        tokio::time::sleep(conflict_pause(round)).await;
    }
    Ok(total)
}

/// The backup records of the values a batch read.
fn saved(changed: &[(batch::Original, Raw)]) -> Vec<Saved> {
    changed.iter().map(|(o, _)| o.into()).collect()
}

/// A random pause of 0 to `round` ms (capped): randomness from the
/// standard library's per-instance hash keys, enough to break a rhythm.
fn conflict_pause(round: usize) -> std::time::Duration {
    use std::hash::BuildHasher;
    let bound = (round as u64).min(CONFLICT_PAUSE_MS) + 1;
    let r = std::collections::hash_map::RandomState::new().hash_one(round);
    std::time::Duration::from_millis(r % bound)
}

/// A SCAN page being fetched: the master's address, its next cursor and
/// keys.
type Scanning<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (String, Result<(String, Vec<Vec<u8>>)>)> + Send + 'a>,
>;

/// A batch on its way: its keys and, for the last batch of a SCAN page,
/// the master's cursor after that page (the checkpoint once it is done).
struct Batch {
    keys: Vec<Vec<u8>>,
    page_done: Option<(String, String)>,
}

/// Runs the job over every master. Batches stream: up to `in_flight` are
/// on their way while the next SCAN page is fetched, so neither the server
/// nor this process waits for the other between pages. Batches finish in
/// the order they started, so when the last batch of a page is done every
/// key up to that page's cursor is, and the cursor is checkpointed.
/// `progress` sees the counts after each page.
pub async fn run(
    endpoint: &Endpoint,
    job: Job<'_>,
    opts: &Options,
    mut progress: impl FnMut(&Counts),
) -> Result<Report> {
    use futures_util::stream::{FuturesOrdered, StreamExt};
    let db = endpoint.spec.db().unwrap_or(0);
    let conn = endpoint.data(db).await?;
    let mut registry_conn = conn.clone();
    let batch_size = opts.batch.max(1);
    let in_flight = opts.in_flight.max(1);
    // One pattern: the server filters (SCAN MATCH); several: filtered here.
    let server_match = match job.patterns {
        [one] => Some(one.as_str()),
        _ => None,
    };
    // Per master: where the next SCAN starts, and the checkpoint.
    let start: BTreeMap<String, String> = endpoint
        .nodes
        .iter()
        .map(|n| {
            let c = job
                .cursors
                .get(&n.addr)
                .cloned()
                .unwrap_or_else(|| "0".into());
            (n.addr.clone(), c)
        })
        .collect();
    let mut scan_at = start.clone();
    let mut checkpoint = start;
    let mut report = Report {
        counts: job.counts.clone(),
        ..Report::default()
    };
    let started = Instant::now();
    let done_before = report.counts.scanned;
    // Keys per batch: `batch`, fewer when the values read so far are big
    // (small at first, until the first batch shows how big they are).
    let mut per_batch = batch_size.min(32);
    let (mut keys_read, mut bytes_read) = (0usize, 0usize);
    let mut ready: std::collections::VecDeque<Batch> = Default::default();
    let mut queue = FuturesOrdered::new();
    let mut scanning: Option<Scanning<'_>> = None;
    let mut next_node = 0usize;
    let mut stopping = false;
    // Failures in the page whose batches are finishing (pages finish in
    // order, their batches one after another).
    let mut page_failures = 0u64;
    loop {
        while !stopping && queue.len() < in_flight {
            let Some(b) = ready.pop_front() else { break };
            let c = conn.clone();
            let plan = &job.plan;
            let backup = job.backup;
            let dry_run = opts.dry_run;
            queue.push_back(async move {
                let n = b.keys.len();
                let out = if n == 0 {
                    Ok(batch::Outcome::default())
                } else {
                    one_batch(c, plan, b.keys, dry_run, backup).await
                };
                (b.page_done, n, out)
            });
        }
        if !stopping && scanning.is_none() && ready.len() < in_flight {
            let live: Vec<&ferry_migrate::endpoint::Node> = endpoint
                .nodes
                .iter()
                .filter(|n| scan_at.get(&n.addr).is_some_and(|c| c != "done"))
                .collect();
            if !live.is_empty() {
                let node = live[next_node % live.len()];
                next_node += 1;
                let cursor = scan_at
                    .get(&node.addr)
                    .cloned()
                    .unwrap_or_else(|| "0".into());
                scanning = Some(Box::pin(async move {
                    (
                        node.addr.clone(),
                        scan(node, db, &cursor, per_batch * in_flight, server_match).await,
                    )
                }));
            }
        }
        if queue.is_empty() && scanning.is_none() {
            break;
        }
        tokio::select! {
            Some((page_done, n_keys, out)) = queue.next(), if !queue.is_empty() => {
                let out = out?;
                keys_read += n_keys;
                bytes_read += out.bytes_read;
                if let Some(avg) = bytes_read.checked_div(keys_read) {
                    per_batch = (BYTES_IN_FLIGHT / in_flight / avg.max(1)).clamp(1, batch_size);
                }
                let c = &mut report.counts;
                c.changed += out.changed.len() as u64;
                c.unchanged += out.unchanged as u64;
                c.already += out.already as u64;
                c.failed += out.failed.len() as u64;
                page_failures += out.failed.len() as u64;
                c.conflicts += out.conflicts.len() as u64;
                for (orig, new) in out.changed {
                    if report.samples.len() < opts.samples {
                        report.samples.push((orig.key, orig.raw, new));
                    }
                }
                for f in out.failed {
                    if report.failed.len() < FAILED_KEPT {
                        report.failed.push(f);
                    }
                }
                if let Some((addr, next)) = page_done {
                    if opts.strict && (page_failures > 0 || stopping) {
                        // The page with the failure is not checkpointed, so
                        // the resumed run reads it again (the fixed key
                        // with it). Batches on their way finish; no more
                        // start, and nothing after it is checkpointed.
                        if !stopping {
                            stopping = true;
                            ready.clear();
                            scanning = None;
                            report.stopped = Some(format!(
                                "--strict: {} key(s) failed; fix them (or drop --strict) and run the same command again to resume",
                                report.counts.failed
                            ));
                        }
                    } else {
                        checkpoint.insert(addr, next);
                        if let Some(name) = job.registry {
                            registry::checkpoint(&mut registry_conn, name, &checkpoint, &report.counts).await?;
                        }
                    }
                    page_failures = 0;
                    progress(&report.counts);
                    if opts.max_rps > 0 {
                        let done = (report.counts.scanned - done_before) as f64;
                        let due = Duration::from_secs_f64(done / opts.max_rps as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
            (addr, page) = async { match scanning.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if scanning.is_some() => {
                scanning = None;
                let (next, keys) = page?;
                report.counts.scanned += keys.len() as u64;
                let next = if next == "0" { "done".to_string() } else { next };
                scan_at.insert(addr.clone(), next.clone());
                let keys: Vec<Vec<u8>> = keys.into_iter().filter(|k| wanted(job.patterns, k)).collect();
                let mut chunks: Vec<Batch> = keys
                    .chunks(per_batch)
                    .map(|c| Batch { keys: c.to_vec(), page_done: None })
                    .collect();
                if chunks.is_empty() {
                    chunks.push(Batch { keys: Vec::new(), page_done: None });
                }
                if let Some(last) = chunks.last_mut() {
                    last.page_done = Some((addr, next));
                }
                ready.extend(chunks);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_never_wanted() {
        let p = vec!["*".to_string()];
        assert!(wanted(&p, b"user:1"));
        assert!(!wanted(&p, b"__ferry:schema:{user}"));
        let p = vec!["user:*".to_string(), "account:?".to_string()];
        assert!(wanted(&p, b"account:7") && !wanted(&p, b"account:77"));
    }
}
