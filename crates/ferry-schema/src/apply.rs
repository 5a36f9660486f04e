//! A run over the whole keyspace of a schema: SCAN every master, migrate
//! the matching keys batch by batch (several batches in flight), keys that
//! changed meanwhile read again, the backup written before each batch
//! writes, the SCAN cursors checkpointed in the target's registry after
//! every round so a killed run resumes where it stopped.

use crate::backup::{Backup, Saved};
use crate::batch::{self, Original, Plan};
use crate::registry::{self, Counts, RESERVED};
use crate::value::Raw;
use ferry_migrate::endpoint::{Conn, Endpoint};
use ferry_migrate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Mutex;
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
            batch: 250,
            in_flight: 4,
            max_rps: 0,
            dry_run: false,
            strict: false,
            samples: 5,
        }
    }
}

/// How many times a key that keeps changing under the run is read again
/// before it is reported as failed.
const CONFLICT_ROUNDS: usize = 10;

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
    pub backup: Option<&'a Mutex<Backup>>,
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

/// Runs one batch to the end: keys that changed between the read and the
/// write are read again, up to [`CONFLICT_ROUNDS`] times.
async fn one_batch(
    mut conn: Conn,
    plan: &Plan<'_>,
    keys: Vec<Vec<u8>>,
    dry_run: bool,
    backup: Option<&Mutex<Backup>>,
) -> Result<batch::Outcome> {
    let mut total = batch::Outcome::default();
    let mut keys = keys;
    for round in 0..CONFLICT_ROUNDS {
        let save = |changed: &[(Original, Raw)]| -> Result<()> {
            if let Some(b) = backup {
                let saved: Vec<Saved> = changed.iter().map(|(o, _)| o.into()).collect();
                b.lock()
                    .map_err(|_| Error::Usage("the backup writer failed earlier".into()))?
                    .append(&saved)
                    .map_err(|e| Error::Usage(format!("writing the backup failed: {e}")))?;
            }
            Ok(())
        };
        let out = batch::run(&mut conn, plan, &keys, dry_run, save).await?;
        if let (Some(b), false) = (backup, out.conflicts.is_empty()) {
            b.lock()
                .map_err(|_| Error::Usage("the backup writer failed earlier".into()))?
                .void(&out.conflicts)
                .map_err(|e| Error::Usage(format!("writing the backup failed: {e}")))?;
        }
        total.changed.extend(out.changed);
        total.unchanged += out.unchanged;
        total.already += out.already;
        total.gone += out.gone;
        total.failed.extend(out.failed);
        if out.conflicts.is_empty() {
            return Ok(total);
        }
        total.conflicts.extend(out.conflicts.iter().cloned());
        keys = out.conflicts;
        if round + 1 == CONFLICT_ROUNDS {
            for k in keys.drain(..) {
                total.failed.push((
                    k,
                    format!("it changed under the run {CONFLICT_ROUNDS} times in a row; run again when writes calm down"),
                ));
            }
        }
    }
    Ok(total)
}

/// Runs the job over every master. `progress` sees the counts after each
/// round.
pub async fn run(
    endpoint: &Endpoint,
    job: Job<'_>,
    opts: &Options,
    mut progress: impl FnMut(&Counts),
) -> Result<Report> {
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
    let mut cursors: BTreeMap<String, String> = endpoint
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
    let mut report = Report {
        counts: job.counts.clone(),
        ..Report::default()
    };
    let started = Instant::now();
    let done_before = report.counts.scanned;
    let per_node = (batch_size * in_flight / endpoint.nodes.len().max(1)).max(10);
    loop {
        let active: Vec<_> = endpoint
            .nodes
            .iter()
            .filter(|n| cursors.get(&n.addr).is_some_and(|c| c != "done"))
            .collect();
        if active.is_empty() {
            break;
        }
        // One page from every master; their keys form this round.
        let pages = futures_util::future::try_join_all(active.iter().map(|n| {
            let cursor = cursors.get(&n.addr).cloned().unwrap_or_else(|| "0".into());
            async move {
                let (next, keys) = scan(n, db, &cursor, per_node, server_match).await?;
                Ok::<_, Error>((n.addr.clone(), next, keys))
            }
        }))
        .await?;
        let mut keys = Vec::new();
        for (addr, next, page) in pages {
            report.counts.scanned += page.len() as u64;
            keys.extend(page.into_iter().filter(|k| wanted(job.patterns, k)));
            cursors.insert(addr, if next == "0" { "done".into() } else { next });
        }
        let chunks: Vec<Vec<Vec<u8>>> = keys.chunks(batch_size).map(<[_]>::to_vec).collect();
        let outcomes = futures_util::future::try_join_all(
            chunks
                .into_iter()
                .map(|chunk| one_batch(conn.clone(), &job.plan, chunk, opts.dry_run, job.backup)),
        )
        .await?;
        for out in outcomes {
            let c = &mut report.counts;
            c.changed += out.changed.len() as u64;
            c.unchanged += out.unchanged as u64;
            c.already += out.already as u64;
            c.failed += out.failed.len() as u64;
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
        }
        if let Some(name) = job.registry {
            registry::checkpoint(&mut registry_conn, name, &cursors, &report.counts).await?;
        }
        progress(&report.counts);
        if opts.strict && report.counts.failed > 0 {
            report.stopped = Some(format!(
                "--strict: {} key(s) failed; fix them (or drop --strict) and run again to resume",
                report.counts.failed
            ));
            break;
        }
        if opts.max_rps > 0 {
            let done = (report.counts.scanned - done_before) as f64;
            let due = Duration::from_secs_f64(done / opts.max_rps as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
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
