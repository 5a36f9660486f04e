//! The delta: re-copy every key the tracker saw change, or delete it on the
//! target when the source no longer has it.
//!
//! A pass reads dirty keys oldest first, copies them with replace semantics
//! and marks them applied or deleted, unless the tracker recorded another
//! change meanwhile (then the key stays dirty for the next pass). A pass
//! stops when no dirty key is left or when it has handled as many keys as
//! were dirty when it began plus one page, so a hot key rewritten
//! constantly cannot keep it going forever.

use crate::bulk::Scope;
use crate::copy::{copy_keys, Conflict, CopyOptions, TtlMode};
use crate::endpoint::Endpoint;
use crate::progress::Progress;
use crate::registry::{Control, DirtyKey, Registry};
use crate::{Error, Result};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct DirtyOptions {
    pub batch_keys: usize,
    pub max_concurrency: usize,
    pub max_rps: Option<u64>,
    pub ttl: TtlMode,
    pub chunk: usize,
    /// The dashboard's board (`--http`): keys handled, errors and the
    /// backlog (dirty keys left) go there too.
    pub board: Option<Arc<ferry_dashboard::Board>>,
}

impl Default for DirtyOptions {
    fn default() -> Self {
        DirtyOptions {
            batch_keys: 500,
            max_concurrency: 8,
            max_rps: None,
            ttl: TtlMode::Preserve,
            chunk: 1000,
            board: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DirtySummary {
    pub applied: u64,
    pub deleted: u64,
    pub errors: u64,
    /// Dirty keys left when the pass ended.
    pub remaining: i64,
}

/// One delta pass of `run_id`.
pub async fn apply_dirty(
    reg: &Registry,
    run_id: &str,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &DirtyOptions,
    quiet: bool,
) -> Result<DirtySummary> {
    let run = reg.run(run_id)?;
    let scope = Scope::for_run(&run, src, dst).await?;
    let copy_opts = CopyOptions {
        ttl: opts.ttl,
        conflict: Conflict::Replace,
        chunk: opts.chunk.max(1),
        delete_missing: true,
        type_filter: scope.type_filter.clone(),
        basic_types_only: dst.flavor.basic_types_only(),
    };
    let use_dump = Arc::new(AtomicBool::new(src.dump_to(dst)));
    if run.tracker_gaps > run.gaps_swept {
        log::warn!(
            "run {run_id}: the tracker missed changes ({} disconnects); sweeping: every key is copied again and keys only the target has are deleted",
            run.tracker_gaps - run.gaps_swept
        );
        let (copied, deleted) = sweep(src, dst, &scope, &copy_opts, opts, &use_dump).await?;
        log::info!("sweep: {copied} keys copied again, {deleted} deleted on the target");
        reg.set_gaps_swept(run_id, run.tracker_gaps)?;
    }
    let retried = reg.retry_failed_dirty(run_id)?;
    if retried > 0 {
        log::info!("run {run_id}: retrying {retried} keys that failed in an earlier pass");
    }
    let budget = reg.dirty_counts(run_id)?.dirty as u64 + opts.batch_keys as u64;
    let label = format!("apply-dirty {run_id}");
    let mut progress = if quiet {
        Progress::quiet(&label)
    } else {
        Progress::new(&label, budget)
    }
    .with_board(opts.board.clone());
    if let Some(b) = &opts.board {
        b.set_backlog_entries(budget.saturating_sub(opts.batch_keys as u64));
    }
    let mut sum = DirtySummary::default();
    let mut handled = 0u64;
    let mut rate = crate::rate::Rate::new(opts.max_rps);
    let page = opts.batch_keys.max(1) * opts.max_concurrency.max(1);
    loop {
        match reg.control(run_id)? {
            Control::Abort => {
                return Err(Error::Aborted(format!(
                    "run {run_id} aborted; dirty keys not applied yet stay in the registry"
                )));
            }
            Control::Pause => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                rate.restart();
                continue;
            }
            Control::Run => {}
        }
        if handled >= budget {
            break;
        }
        let keys = reg.next_dirty(run_id, page)?;
        if keys.is_empty() {
            break;
        }
        handled += keys.len() as u64;
        // Keys outside the run's scope are marked skipped.
        let mut by_db: BTreeMap<i64, Vec<DirtyKey>> = BTreeMap::new();
        let mut skipped = Vec::new();
        for k in keys {
            if scope.wants(k.db, &k.key) {
                by_db.entry(k.db).or_default().push(k);
            } else {
                skipped.push((k, "skipped"));
            }
        }
        reg.finish_dirty(run_id, &skipped)?;
        let mut in_flight = FuturesUnordered::new();
        for (db, keys) in by_db {
            let Some(tdb) = scope.target_db(db) else {
                continue;
            };
            for batch in keys.chunks(opts.batch_keys.max(1)) {
                // --max-rps: wait until the keys sent so far are due.
                if let Some(wait) = rate.wait() {
                    tokio::time::sleep(wait).await;
                }
                rate.sent(batch.len() as u64);
                let mut s = src.data(db).await?;
                let mut d = dst.data(tdb).await?;
                let batch = batch.to_vec();
                let copy_opts = copy_opts.clone();
                let use_dump = use_dump.clone();
                in_flight.push(async move {
                    let names = batch.iter().map(|k| k.key.clone()).collect();
                    let r = copy_keys(&mut s, &mut d, names, &copy_opts, &use_dump).await;
                    (batch, r)
                });
            }
        }
        while let Some((batch, r)) = in_flight.next().await {
            let outcome = r?;
            let failed: BTreeMap<&[u8], &str> = outcome
                .errors
                .iter()
                .map(|(k, m)| (k.as_slice(), m.as_str()))
                .collect();
            let gone: std::collections::BTreeSet<&[u8]> =
                outcome.gone_keys.iter().map(|k| k.as_slice()).collect();
            let outside: std::collections::BTreeSet<&[u8]> =
                outcome.out_of_scope.iter().map(|k| k.as_slice()).collect();
            let mut done = Vec::with_capacity(batch.len());
            for k in &batch {
                let state = if failed.contains_key(k.key.as_slice()) {
                    sum.errors += 1;
                    "error"
                } else if outside.contains(k.key.as_slice()) {
                    "skipped"
                } else if gone.contains(k.key.as_slice()) {
                    sum.deleted += 1;
                    "deleted"
                } else {
                    sum.applied += 1;
                    "applied"
                };
                done.push((k.clone(), state));
            }
            reg.errors(run_id, "dirty_apply", &outcome.errors)?;
            reg.finish_dirty(run_id, &done)?;
            progress.update(sum.applied + sum.deleted + sum.errors, 0, sum.errors);
        }
    }
    sum.remaining = reg.dirty_counts(run_id)?.dirty;
    progress.finish(sum.applied + sum.deleted + sum.errors, 0, sum.errors);
    if let Some(b) = &opts.board {
        b.set_backlog_entries(sum.remaining.max(0) as u64);
    }
    if sum.errors > 0 {
        return Err(Error::Failed(format!(
            "apply-dirty: {} keys failed (applied {}, deleted {}); see `ferry migrate status --run-id {run_id}`",
            sum.errors, sum.applied, sum.deleted
        )));
    }
    Ok(sum)
}

/// Re-copies every key of the run's scope and deletes keys only the target
/// has: what a delta pass does when the tracker missed events.
async fn sweep(
    src: &Endpoint,
    dst: &Endpoint,
    scope: &Scope,
    copy_opts: &CopyOptions,
    opts: &DirtyOptions,
    use_dump: &AtomicBool,
) -> Result<(u64, u64)> {
    use crate::endpoint::Conn;
    use futures_util::stream;
    let (mut copied, mut deleted) = (0u64, 0u64);
    let fail = |what: &str, (k, m): &(Vec<u8>, String)| {
        Error::Failed(format!(
            "sweep: {what} key {}: {m}",
            crate::verify::show_key(k)
        ))
    };
    for (sdb, tdb) in &scope.dbs {
        let s = src.data(*sdb).await?;
        let d = dst.data(*tdb).await?;
        for node in &src.nodes {
            let mut nc = Conn::Single(Box::new(node.conn(*sdb).await?));
            let mut cursor = "0".to_string();
            loop {
                let (next, keys) = crate::bulk::scan_keys(&mut nc, &cursor, 1000, scope).await?;
                let batches = keys.chunks(opts.batch_keys.max(1)).map(|b| {
                    let (mut s, mut d) = (s.clone(), d.clone());
                    async move { copy_keys(&mut s, &mut d, b.to_vec(), copy_opts, use_dump).await }
                });
                let mut done = stream::iter(batches).buffer_unordered(opts.max_concurrency.max(1));
                while let Some(r) = done.next().await {
                    let o = r?;
                    if let Some(e) = o.errors.first() {
                        return Err(fail("copying", e));
                    }
                    copied += o.copied;
                    deleted += o.deleted;
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        // Keys only the target has.
        let (mut s, mut d) = (s, d);
        for node in &dst.nodes {
            let mut nc = Conn::Single(Box::new(node.conn(*tdb).await?));
            let mut cursor = "0".to_string();
            loop {
                let (next, keys) = crate::bulk::scan_keys(&mut nc, &cursor, 1000, scope).await?;
                let exists = s
                    .per_key(&crate::endpoint::each_key("EXISTS", &keys))
                    .await?;
                let only_target: Vec<Vec<u8>> = keys
                    .into_iter()
                    .zip(exists)
                    .filter(|(_, r)| {
                        r.as_ref()
                            .ok()
                            .and_then(|v| v.first())
                            .and_then(crate::reply::int)
                            == Some(0)
                    })
                    .map(|(k, _)| k)
                    .collect();
                let mut errors = Vec::new();
                deleted += crate::copy::delete_on_target(&mut d, &only_target, &mut errors).await?;
                if let Some(e) = errors.first() {
                    return Err(fail("deleting", e));
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
    }
    Ok((copied, deleted))
}
