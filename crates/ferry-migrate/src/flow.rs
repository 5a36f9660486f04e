//! `ferry migrate run`: the whole migration in one command.
//!
//! preflight -> tracker -> bulk -> delta passes until the backlog is small ->
//! cutover (the operator freezes writes and presses Enter, or the lag
//! threshold is reached) -> final delta -> verify -> summary.

use crate::bulk::{bulk, BulkOptions, Scope};
use crate::dirty::{apply_dirty, DirtyOptions};
use crate::endpoint::Endpoint;
use crate::registry::Registry;
use crate::track::{TrackOptions, Tracker};
use crate::verify::{verify, VerifyOptions};
use crate::{preflight, Error, Result};
use ferry_dashboard::Board;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub bulk: BulkOptions,
    pub dirty: DirtyOptions,
    pub verify: VerifyOptions,
    pub track: TrackOptions,
    pub db: Option<i64>,
    pub pattern: Option<String>,
    pub type_filter: Option<String>,
    /// Continue to the cutover by itself once fewer keys than this are dirty.
    pub cutover_when_lag_below: Option<i64>,
    /// The dashboard's board (`--http`): the steps become its phases.
    pub board: Option<Arc<Board>>,
}

/// Backlog under which `run` stops repeating live delta passes (and, without
/// --cutover-when-lag-below, asks for the cutover).
const SMALL_BACKLOG: i64 = 1000;

/// Runs a whole migration; prints the steps on stderr.
pub async fn run(
    reg: &Registry,
    run_id: &str,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &RunOptions,
) -> Result<()> {
    let started = Instant::now();
    let phase = |name: &str| {
        if let Some(b) = &opts.board {
            b.phase(name);
        }
    };
    if opts.cutover_when_lag_below.is_none() && !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "no terminal to confirm the cutover on: pass --cutover-when-lag-below N to continue by itself once fewer than N keys are dirty".into(),
        ));
    }
    phase("preflight");
    let report = preflight::preflight(src, dst).await?;
    for l in &report.lines {
        eprintln!("preflight: {l}");
    }
    for w in &report.warnings {
        eprintln!("preflight warning: {w}");
    }
    if !report.problems.is_empty() {
        return Err(Error::Usage(format!(
            "preflight: {}",
            report.problems.join("; ")
        )));
    }
    reg.open_run(run_id, &src.spec, &dst.spec)?;
    let scope = Scope::decide(
        src,
        dst,
        opts.db,
        opts.pattern.clone(),
        opts.type_filter.clone(),
    )
    .await?;
    eprintln!(
        "step 1/5: tracking changes on the source (run {run_id}, registry {})",
        reg.path().display()
    );
    phase("track");
    let tracker = Tracker::start(reg, run_id, src, &opts.track).await?;
    let result = async {
        eprintln!("step 2/5: bulk copy");
        phase("bulk");
        let mut bulk_opts = opts.bulk.clone();
        bulk_opts.resume = reg.run(run_id)?.bulk_state != "not started";
        let b = bulk(reg, run_id, src, dst, &scope, &bulk_opts).await?;
        eprintln!(
            "bulk: {} keys copied, {} skipped, {:.1} MB in {:.1}s",
            b.counters.migrated,
            b.counters.skipped,
            b.counters.bytes as f64 / 1e6,
            b.elapsed.as_secs_f64()
        );
        eprintln!("step 3/5: applying changes made during the copy");
        phase("delta");
        let mut remaining = i64::MAX;
        for pass in 1..=20 {
            let d = apply_dirty(reg, run_id, src, dst, &opts.dirty, true).await?;
            remaining = d.remaining;
            eprintln!("delta pass {pass}: {} applied, {} deleted, {} still dirty", d.applied, d.deleted, d.remaining);
            let target = opts.cutover_when_lag_below.unwrap_or(SMALL_BACKLOG);
            if remaining < target.max(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match opts.cutover_when_lag_below {
            Some(n) => {
                // Wait (bounded) for the backlog to fall under the threshold.
                let deadline = Instant::now() + Duration::from_secs(600);
                while remaining >= n.max(1) && Instant::now() < deadline {
                    let d = apply_dirty(reg, run_id, src, dst, &opts.dirty, true).await?;
                    remaining = d.remaining;
                }
                eprintln!("step 4/5: backlog {remaining} < {n}: final delta (writes to the source should be frozen now)");
            }
            None => {
                phase("cutover-wait");
                eprintln!("ready for cutover: {remaining} keys dirty. Freeze writes to the source, then press Enter");
                let mut line = String::new();
                let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
                eprintln!("step 4/5: final delta");
            }
        }
        phase("final-delta");
        // Let the tracker record the last events before the final pass.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut left = i64::MAX;
        for _ in 0..50 {
            let d = apply_dirty(reg, run_id, src, dst, &opts.dirty, true).await?;
            eprintln!("final delta: {} applied, {} deleted, {} left", d.applied, d.deleted, d.remaining);
            left = d.remaining;
            if left == 0 {
                break;
            }
        }
        if left > 0 {
            return Err(Error::Failed(format!(
                "{left} keys are still changing after 50 final delta passes: are writes to the source really frozen? Freeze them and run `ferry migrate apply-dirty --run-id {run_id}`"
            )));
        }
        eprintln!("step 5/5: verify");
        phase("verify");
        let v = verify(reg, run_id, src, dst, &opts.verify).await?;
        if let Some(b) = &opts.board {
            b.add_mismatches(v.mismatches);
        }
        for l in &v.examples {
            eprintln!("  mismatch: {l}");
        }
        if v.mismatches > 0 {
            return Err(Error::Failed(format!(
                "verify found {} mismatches in {} keys checked; see above and `ferry migrate status --run-id {run_id}`",
                v.mismatches, v.checked
            )));
        }
        eprintln!("verify: {} keys checked, no mismatches", v.checked);
        Ok(())
    }
    .await;
    let stopped = tracker.stop().await;
    match result {
        Ok(()) => {
            stopped.inspect_err(|_| phase("failed"))?;
            phase("done");
            reg.set_status(run_id, "completed")?;
            let run = reg.run(run_id)?;
            eprintln!(
                "done in {:.1}s: {} keys copied, {} dirty keys applied, {} deleted; switch clients to {}",
                started.elapsed().as_secs_f64(),
                run.migrated_keys,
                run.dirty_keys_applied,
                run.dirty_keys_deleted,
                dst.spec.display()
            );
            Ok(())
        }
        Err(e) => {
            let status = if matches!(e, Error::Aborted(_)) {
                "aborted"
            } else {
                "failed"
            };
            phase(status);
            let _ = reg.set_status(run_id, status);
            let _ = reg.set_last_error(run_id, &e.to_string());
            Err(e)
        }
    }
}
