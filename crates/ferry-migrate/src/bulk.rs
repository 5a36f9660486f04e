//! The bulk copy: SCAN every master of the source and copy each key.
//!
//! Batches of keys are copied concurrently (`--max-concurrency` in flight).
//! The checkpoint is the SCAN cursor after the last page whose keys are all
//! written, per (database, node); a resume starts there, so a key is copied
//! at least once and at most a few pages' worth twice (writes are
//! idempotent). Pause, resume and abort are read from the registry about
//! twice a second.

use crate::copy::{copy_keys, Conflict, CopyOptions, Outcome, TtlMode};
use crate::endpoint::Endpoint;
use crate::progress::Progress;
use crate::registry::{Control, Counters, Registry};
use crate::{reply, Error, Result};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which keys a run moves and where they land.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// (source db, target db) pairs.
    pub dbs: Vec<(i64, i64)>,
    pub pattern: Option<String>,
    pub type_filter: Option<String>,
}

impl Scope {
    /// Decides the databases: the one a URL names, `--db`, or every source
    /// database that holds keys (to the same number on the target).
    pub async fn decide(
        src: &Endpoint,
        dst: &Endpoint,
        db: Option<i64>,
        pattern: Option<String>,
        type_filter: Option<String>,
    ) -> Result<Scope> {
        let src_dbs: Vec<i64> = match (src.spec.db(), db) {
            (Some(d), _) => vec![d],
            (None, Some(d)) => vec![d],
            (None, None) => {
                let ks = src.keyspace().await?;
                if ks.is_empty() {
                    vec![0]
                } else {
                    ks.keys().copied().collect()
                }
            }
        };
        let mut dbs = Vec::new();
        for s in src_dbs {
            let t = match dst.spec.db() {
                Some(t) if src.spec.db().is_some() || db.is_some() => t,
                Some(t) if s == 0 => t,
                Some(t) => {
                    return Err(Error::Usage(format!(
                        "the source has keys in database {s} but the target URL names database {t}; pass --db N to move one database, or drop the /{t} from --to"
                    )))
                }
                None => s,
            };
            if dst.is_cluster() && t != 0 {
                return Err(Error::Usage(format!(
                    "the source has keys in database {s}, and a cluster target has only database 0; pass --db {s} to move that database into it"
                )));
            }
            if src.is_cluster() && s != 0 {
                return Err(Error::Usage("a cluster source has only database 0".into()));
            }
            dbs.push((s, t));
        }
        Ok(Scope {
            dbs,
            pattern,
            type_filter,
        })
    }

    /// The scope a run's bulk copy used (every database with keys when it
    /// has none yet).
    pub async fn for_run(
        run: &crate::registry::Run,
        src: &Endpoint,
        dst: &Endpoint,
    ) -> Result<Scope> {
        match &run.bulk_options {
            Some(o) => Ok(Scope::decode(o)),
            None => Scope::decide(src, dst, None, None, None).await,
        }
    }

    pub fn target_db(&self, src_db: i64) -> Option<i64> {
        self.dbs.iter().find(|(s, _)| *s == src_db).map(|(_, t)| *t)
    }

    /// Whether a key the tracker reported belongs to this run.
    pub fn wants(&self, db: i64, key: &[u8]) -> bool {
        self.target_db(db).is_some()
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| ferry_store::glob::glob_match(p.as_bytes(), key, false))
    }

    /// One line per setting, stored with the run.
    /// Keys the source holds in the scope's databases (INFO keyspace): the
    /// progress bar's total.
    pub async fn source_keys(&self, src: &Endpoint) -> Result<u64> {
        let keyspace = src.keyspace().await?;
        Ok(self
            .dbs
            .iter()
            .map(|(s, _)| keyspace.get(s).copied().unwrap_or(0))
            .sum())
    }

    pub fn encode(&self) -> String {
        let dbs: Vec<String> = self.dbs.iter().map(|(s, t)| format!("{s}>{t}")).collect();
        let mut out = format!("dbs={}\n", dbs.join(","));
        if let Some(p) = &self.pattern {
            out.push_str(&format!("match={p}\n"));
        }
        if let Some(t) = &self.type_filter {
            out.push_str(&format!("type={t}\n"));
        }
        out
    }

    pub fn decode(text: &str) -> Scope {
        let mut s = Scope::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("dbs", v)) => {
                    s.dbs = v
                        .split(',')
                        .filter_map(|p| {
                            let (a, b) = p.split_once('>')?;
                            Some((a.parse().ok()?, b.parse().ok()?))
                        })
                        .collect()
                }
                Some(("match", v)) => s.pattern = Some(v.to_string()),
                Some(("type", v)) => s.type_filter = Some(v.to_string()),
                _ => {}
            }
        }
        s
    }
}

/// Flags of `ferry migrate bulk`.
#[derive(Clone, Debug)]
pub struct BulkOptions {
    pub scan_count: usize,
    pub max_concurrency: usize,
    pub max_rps: Option<u64>,
    pub batch_keys: usize,
    pub batch_bytes: u64,
    pub ttl: TtlMode,
    pub conflict: Conflict,
    pub chunk: usize,
    pub resume: bool,
    /// The dashboard's board (`--http`): keys, bytes and errors go there too.
    pub board: Option<Arc<ferry_dashboard::Board>>,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            scan_count: 1000,
            max_concurrency: 8,
            max_rps: None,
            batch_keys: 500,
            batch_bytes: 64 << 20,
            ttl: TtlMode::Preserve,
            conflict: Conflict::Fail,
            chunk: 1000,
            resume: false,
            board: None,
        }
    }
}

/// Totals of a bulk copy.
#[derive(Clone, Debug, Default)]
pub struct BulkSummary {
    pub counters: Counters,
    pub gone: u64,
    pub elapsed: Duration,
}

/// Where one (db, node) scan stands.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    src_db: i64,
    dst_db: i64,
    node: usize,
    addr: String,
    /// The cursor to continue from; None when finished.
    cursor: Option<String>,
}

fn encode_units(units: &[Unit]) -> String {
    let parts: Vec<String> = units
        .iter()
        .map(|u| {
            format!(
                "{}|{}|{}",
                u.src_db,
                u.addr,
                u.cursor.as_deref().unwrap_or("done")
            )
        })
        .collect();
    parts.join(";")
}

/// Applies a stored checkpoint to freshly planned units; refuses one that
/// names other nodes or databases (the topology changed).
fn apply_checkpoint(units: &mut [Unit], text: &str) -> Result<()> {
    if text.is_empty() || text == "0" {
        return Ok(());
    }
    let mut saved = BTreeMap::new();
    for part in text.split(';') {
        let mut f = part.splitn(3, '|');
        let (Some(db), Some(addr), Some(cursor)) = (f.next(), f.next(), f.next()) else {
            return Err(Error::Store(format!("unreadable bulk checkpoint {text:?}")));
        };
        saved.insert((db.to_string(), addr.to_string()), cursor.to_string());
    }
    if saved.len() != units.len() {
        return Err(Error::Usage(
            "the checkpoint was taken with other source nodes or databases; the source changed shape since, so start a new run (another --run-id)".into(),
        ));
    }
    for u in units.iter_mut() {
        let Some(c) = saved.get(&(u.src_db.to_string(), u.addr.clone())) else {
            return Err(Error::Usage(format!(
                "the checkpoint does not know source node {} (db {}); the source changed shape since, so start a new run",
                u.addr, u.src_db
            )));
        };
        u.cursor = if c == "done" { None } else { Some(c.clone()) };
    }
    Ok(())
}

/// A SCAN that finished: the unit, the cursor it started from, the page.
type ScanDone = (usize, String, Result<(String, Vec<Vec<u8>>)>);

/// What the bulk loop woke up for.
enum Event<B> {
    Batch(Option<B>),
    Page(ScanDone),
    Interrupted,
    Tick,
}

/// A SCAN page whose keys are being copied.
struct Page {
    unit: usize,
    /// The cursor this page was scanned from.
    cursor_before: String,
    batches_left: usize,
}

/// Runs (or resumes) the bulk copy of `run_id`.
pub async fn bulk(
    reg: &Registry,
    run_id: &str,
    src: &Endpoint,
    dst: &Endpoint,
    scope: &Scope,
    opts: &BulkOptions,
) -> Result<BulkSummary> {
    let run = reg.run(run_id)?;
    let started_before = run.bulk_state != "not started";
    if run.bulk_state == "done" && opts.resume {
        log::info!("run {run_id}: the bulk copy already completed; nothing to resume");
        return Ok(BulkSummary {
            counters: Counters::of(&run),
            ..Default::default()
        });
    }
    if started_before && !opts.resume {
        return Err(Error::Usage(format!(
            "run {run_id} already has a bulk copy ({}, {} keys copied); pass --resume to continue it, or use another --run-id",
            run.bulk_state, run.migrated_keys
        )));
    }
    if opts.resume && started_before {
        if let Some(old) = &run.bulk_options {
            let old = Scope::decode(old);
            if old.dbs != scope.dbs
                || old.pattern != scope.pattern
                || old.type_filter != scope.type_filter
            {
                return Err(Error::Usage(format!(
                    "--resume with other --db/--match/--type than run {run_id} was started with ({})",
                    old.encode().replace('\n', " ").trim()
                )));
            }
        }
    }
    let mut units = Vec::new();
    for (s, t) in &scope.dbs {
        for (i, n) in src.nodes.iter().enumerate() {
            units.push(Unit {
                src_db: *s,
                dst_db: *t,
                node: i,
                addr: n.addr.clone(),
                cursor: Some("0".into()),
            });
        }
    }
    let fresh = !(opts.resume && started_before);
    if fresh {
        check_target_empty(dst, scope, opts.conflict).await?;
    } else {
        apply_checkpoint(&mut units, &run.scan_cursor)?;
    }
    let estimated = scope.source_keys(src).await?;
    reg.begin_bulk(run_id, &scope.encode(), estimated as i64, fresh)?;
    let mut counters = if fresh {
        Counters::default()
    } else {
        Counters::of(&run)
    };
    let copy_opts = CopyOptions {
        ttl: opts.ttl,
        conflict: opts.conflict,
        chunk: opts.chunk.max(1),
        delete_missing: false,
        type_filter: scope.type_filter.clone(),
        basic_types_only: dst.flavor.basic_types_only(),
    };
    if src.flavor.speaks_dump() && dst.flavor.speaks_dump() && !src.dump_to(dst) {
        log::warn!("DUMP or RESTORE is not available (renamed or denied by ACL): copying with typed commands");
    }
    let use_dump = Arc::new(AtomicBool::new(src.dump_to(dst)));
    let mut progress = Progress::new(
        &format!("bulk {run_id}"),
        estimated.max(counters.scanned as u64),
    )
    .with_board(opts.board.clone());
    // Keys whose batch is written: what the bar and the board count (the
    // scan runs a page ahead, so `counters.scanned` moves in jumps).
    let mut keys_finished = counters.scanned.max(0) as u64;
    let started = Instant::now();
    let mut gone = 0u64;
    let mut pages: VecDeque<(u64, Page)> = VecDeque::new();
    let mut page_seq = 0u64;
    let mut in_flight = FuturesUnordered::new();
    let mut queue: VecDeque<(u64, usize, Vec<Vec<u8>>)> = VecDeque::new();
    let mut unit_idx = units.iter().position(|u| u.cursor.is_some());
    let mut last_checkpoint = Instant::now();
    let mut last_control = Instant::now();
    let mut control = Control::Run;
    let mut rate = crate::rate::Rate::new(opts.max_rps);
    let mut avg_key_bytes = 0f64;
    let mut interrupted = false;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut scanning: Option<
        std::pin::Pin<Box<dyn std::future::Future<Output = ScanDone> + Send + '_>>,
    > = None;
    loop {
        // Steering.
        if last_control.elapsed() >= Duration::from_millis(500) {
            last_control = Instant::now();
            let c = reg.control(run_id)?;
            if c != control {
                match c {
                    Control::Pause => {
                        log::info!("run {run_id}: pausing (in-flight batches finish first)");
                        reg.set_status(run_id, "paused")?;
                    }
                    Control::Run => {
                        log::info!("run {run_id}: resuming");
                        reg.set_status(run_id, "running")?;
                        rate.restart();
                    }
                    Control::Abort => {
                        log::warn!("run {run_id}: aborting (in-flight batches finish first)")
                    }
                }
                control = c;
            }
        }
        let stopping = control == Control::Abort || interrupted;
        // Fill the pipeline with queued batches, as far as --max-rps allows
        // (a batch not due yet waits in the select below, which keeps the
        // batches in flight moving).
        let mut throttled: Option<Duration> = None;
        while control == Control::Run && !stopping && in_flight.len() < opts.max_concurrency.max(1)
        {
            if queue.is_empty() {
                break;
            }
            if let Some(wait) = rate.wait() {
                throttled = Some(wait);
                break;
            }
            let Some((seq, unit, keys)) = queue.pop_front() else {
                break;
            };
            rate.sent(keys.len() as u64);
            let u = &units[unit];
            let mut s = src.data(u.src_db).await?;
            let mut d = dst.data(u.dst_db).await?;
            let copy_opts = copy_opts.clone();
            let use_dump = use_dump.clone();
            in_flight.push(async move {
                let n = keys.len() as u64;
                let r = copy_keys(&mut s, &mut d, keys, &copy_opts, &use_dump).await;
                (seq, n, r)
            });
        }
        // Scan ahead while batches are in flight, so they never wait for a SCAN.
        if scanning.is_none()
            && control == Control::Run
            && !stopping
            && queue.len() < opts.max_concurrency.max(1)
        {
            if let Some(ui) = unit_idx {
                let unit = units[ui].clone();
                let cursor = unit.cursor.clone().unwrap_or_else(|| "0".into());
                let count = opts.scan_count;
                scanning = Some(Box::pin(async move {
                    let page = scan_page(src, &unit, &cursor, count, scope).await;
                    (ui, cursor, page)
                }));
            }
        }
        if in_flight.is_empty()
            && scanning.is_none()
            && (queue.is_empty() || stopping)
            && (unit_idx.is_none() || stopping)
        {
            break;
        }
        let event = tokio::select! {
            n = in_flight.next(), if !in_flight.is_empty() => Event::Batch(n),
            page = async { match scanning.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if scanning.is_some() => Event::Page(page),
            _ = &mut ctrl_c, if !interrupted => Event::Interrupted,
            // Paused, idle or throttled: look again soon.
            _ = tokio::time::sleep(throttled.unwrap_or(Duration::from_millis(200)).min(Duration::from_millis(200))) => Event::Tick,
        };
        match event {
            Event::Interrupted => interrupted = true,
            Event::Tick | Event::Batch(None) => {}
            Event::Page((ui, cursor, page)) => {
                scanning = None;
                let (next, keys) = page?;
                let done = next == "0";
                page_seq += 1;
                let batch = effective_batch(opts, avg_key_bytes);
                let batches: Vec<Vec<Vec<u8>>> = keys.chunks(batch).map(|c| c.to_vec()).collect();
                counters.scanned += keys.len() as i64;
                pages.push_back((
                    page_seq,
                    Page {
                        unit: ui,
                        cursor_before: cursor,
                        batches_left: batches.len(),
                    },
                ));
                for b in batches {
                    queue.push_back((page_seq, ui, b));
                }
                // `units` holds where the scan is; the checkpoint follows the
                // written pages (see `checkpoint_units`).
                if done {
                    units[ui].cursor = None;
                    unit_idx = units
                        .iter()
                        .enumerate()
                        .skip(ui + 1)
                        .find(|(_, u)| u.cursor.is_some())
                        .map(|(i, _)| i);
                } else {
                    units[ui].cursor = Some(next);
                }
                advance(&mut pages);
            }
            Event::Batch(Some((seq, n, result))) => {
                let outcome: Outcome = result?;
                counters.migrated += outcome.copied as i64;
                counters.skipped += outcome.skipped as i64;
                counters.errors += outcome.errors.len() as i64;
                counters.bytes += outcome.bytes as i64;
                gone += outcome.gone_keys.len() as u64;
                if n > 0 && outcome.bytes > 0 {
                    let per_key = outcome.bytes as f64 / n as f64;
                    avg_key_bytes = if avg_key_bytes == 0.0 {
                        per_key
                    } else {
                        avg_key_bytes * 0.9 + per_key * 0.1
                    };
                }
                for (key, msg) in &outcome.errors {
                    log::warn!("bulk: key {}: {msg}", crate::verify::show_key(key));
                }
                reg.errors(run_id, "bulk", &outcome.errors)?;
                if let Some((_, p)) = pages.iter_mut().find(|(s, _)| *s == seq) {
                    p.batches_left = p.batches_left.saturating_sub(1);
                }
                advance(&mut pages);
                keys_finished += n;
                progress.update(keys_finished, counters.bytes as u64, counters.errors as u64);
            }
        }
        if last_checkpoint.elapsed() >= Duration::from_secs(2) {
            last_checkpoint = Instant::now();
            reg.checkpoint(
                run_id,
                &encode_units(&checkpoint_units(&units, &pages)),
                &counters,
                false,
            )?;
        }
    }
    let finished = unit_idx.is_none() && queue.is_empty() && pages.is_empty();
    reg.checkpoint(
        run_id,
        &encode_units(&checkpoint_units(&units, &pages)),
        &counters,
        finished,
    )?;
    progress.finish(keys_finished, counters.bytes as u64, counters.errors as u64);
    let summary = BulkSummary {
        counters,
        gone,
        elapsed: started.elapsed(),
    };
    if interrupted {
        reg.set_status(run_id, "paused")?;
        return Err(Error::Aborted(format!(
            "interrupted; the checkpoint is saved: continue with `ferry migrate bulk --run-id {run_id} --resume` (same --from/--to)"
        )));
    }
    if control == Control::Abort {
        reg.set_status(run_id, "aborted")?;
        return Err(Error::Aborted(format!(
            "run {run_id} aborted; the checkpoint is saved: `ferry migrate resume --run-id {run_id}` then `ferry migrate bulk --run-id {run_id} --resume` continues it"
        )));
    }
    if summary.counters.errors > 0 {
        reg.set_status(run_id, "failed")?;
        return Err(Error::Failed(format!(
            "bulk copy finished with {} keys that could not be copied (and {} copied); see `ferry migrate status --run-id {run_id}`, fix the cause, then run `ferry migrate apply-dirty` or the bulk again with --on-conflict replace",
            summary.counters.errors, summary.counters.migrated
        )));
    }
    reg.set_status(run_id, "running")?;
    Ok(summary)
}

/// Keys per batch: `--batch-keys`, fewer when keys are big enough that a
/// batch would pass `--batch-bytes`.
fn effective_batch(opts: &BulkOptions, avg_key_bytes: f64) -> usize {
    let by_bytes = if avg_key_bytes > 0.0 {
        (opts.batch_bytes as f64 / avg_key_bytes) as usize
    } else {
        usize::MAX
    };
    opts.batch_keys.min(by_bytes).max(1)
}

async fn scan_page(
    src: &Endpoint,
    u: &Unit,
    cursor: &str,
    count: usize,
    scope: &Scope,
) -> Result<(String, Vec<Vec<u8>>)> {
    let node = &src.nodes[u.node];
    let mut c = crate::endpoint::Conn::Single(Box::new(node.conn(u.src_db).await?));
    scan_keys(&mut c, cursor, count, scope)
        .await
        .map_err(|e| Error::Protocol(format!("{}: {e}", node.addr)))
}

/// One `SCAN cursor [MATCH p] COUNT n [TYPE t]` page of the run's keys.
pub(crate) async fn scan_keys(
    c: &mut crate::endpoint::Conn,
    cursor: &str,
    count: usize,
    scope: &Scope,
) -> Result<(String, Vec<Vec<u8>>)> {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor);
    if let Some(p) = &scope.pattern {
        cmd.arg("MATCH").arg(p);
    }
    cmd.arg("COUNT").arg(count.max(1));
    if let Some(t) = &scope.type_filter {
        cmd.arg("TYPE").arg(t);
    }
    let v = c.cmd(&cmd).await?;
    reply::scan_page(&v).ok_or_else(|| Error::Protocol(format!("SCAN answered {v:?}")))
}

/// Drops completed pages from the front.
fn advance(pages: &mut VecDeque<(u64, Page)>) {
    while pages.front().is_some_and(|(_, p)| p.batches_left == 0) {
        pages.pop_front();
    }
}

/// The units as they may be checkpointed: a unit with a page not fully
/// written resumes at the cursor that produced its oldest such page (pages
/// before it are written); other units at their scan position.
fn checkpoint_units(units: &[Unit], pages: &VecDeque<(u64, Page)>) -> Vec<Unit> {
    let mut out = units.to_vec();
    let mut fixed = vec![false; units.len()];
    for (_, p) in pages.iter().filter(|(_, p)| p.batches_left > 0) {
        if !fixed[p.unit] {
            fixed[p.unit] = true;
            out[p.unit].cursor = Some(p.cursor_before.clone());
        }
    }
    out
}

/// `--on-conflict fail`: refuse before the first write when the target
/// holds keys in the databases we write.
pub async fn check_target_empty(dst: &Endpoint, scope: &Scope, conflict: Conflict) -> Result<()> {
    if conflict != Conflict::Fail {
        return Ok(());
    }
    let ks = dst.keyspace().await?;
    let mut busy = Vec::new();
    for (_, t) in &scope.dbs {
        if let Some(n) = ks.get(t).filter(|n| **n > 0) {
            busy.push(format!("{n} keys in db {t}"));
        }
    }
    if busy.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the target is not empty ({}); empty it, or pass --on-conflict replace (overwrite) or --on-conflict skip (keep the target's keys)",
        busy.join(", ")
    )))
}
