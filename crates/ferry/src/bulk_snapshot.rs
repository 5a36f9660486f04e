//! `ferry migrate bulk --method snapshot`: the copy reads the source's
//! replication snapshot ([`ferry_sync::copy`]) instead of a SCAN and a
//! DUMP per key. This module gives it what a bulk copy has around it: the
//! run's registry entry and counters, the empty-target check, progress,
//! Ctrl-C and `ferry migrate abort`.
//!
//! A snapshot cannot be resumed half-way: an interrupted copy starts over
//! when the same command runs again (its keys are RESTOREd again, with
//! REPLACE unless `--on-conflict skip`).

use ferry_migrate::bulk::{check_target_empty, BulkOptions, BulkSummary, Scope};
use ferry_migrate::copy::{Conflict, TtlMode};
use ferry_migrate::endpoint::Endpoint;
use ferry_migrate::progress::Progress;
use ferry_migrate::registry::{Control, Counters, Registry};
use ferry_migrate::{Error, Result};
use ferry_sync::snapshot::Restore;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Copies the snapshot of `src` into `dst` for run `run_id`; of `opts`
/// only the conflict and TTL modes and the board apply (the rest is about
/// SCAN batches).
pub async fn bulk(
    reg: &Registry,
    run_id: &str,
    src: &Endpoint,
    dst: &Endpoint,
    scope: &Scope,
    opts: &BulkOptions,
) -> Result<BulkSummary> {
    let (conflict, ttl) = (opts.conflict, opts.ttl);
    let run = reg.run(run_id)?;
    let again = match run.bulk_state.as_str() {
        "not started" => false,
        "done" => {
            return Err(Error::Usage(format!(
            "run {run_id} already copied everything ({} keys); use another --run-id for a new copy",
            run.migrated_keys
        )))
        }
        _ => true,
    };
    let conflict = if again {
        // The target holds what the interrupted attempt copied.
        log::warn!("run {run_id}: a snapshot copy cannot resume; starting it over (keys copied before are RESTOREd again)");
        if conflict == Conflict::Fail {
            Conflict::Replace
        } else {
            conflict
        }
    } else {
        check_target_empty(dst, scope, conflict).await?;
        conflict
    };
    let estimated = scope.source_keys(src).await?;
    reg.begin_bulk(run_id, &scope.encode(), estimated as i64, true)?;
    let filter = ferry_sync::filter::Filter {
        keys: scope
            .pattern
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect(),
        dbs: scope.dbs.iter().map(|(s, _)| *s).collect(),
        ..Default::default()
    };
    let restore = Restore {
        replace: conflict != Conflict::Skip,
        keep_ttl: ttl == TtlMode::Preserve,
        types: scope.type_filter.iter().cloned().collect(),
        dbs: scope
            .dbs
            .iter()
            .map(|(s, t)| (*s as u64, *t as u64))
            .collect(),
    };
    let counts = Mutex::new(ferry_sync::Counts::default());
    let counters = |bytes: u64| {
        let c = counts.lock().map(|c| c.clone()).unwrap_or_default();
        Counters {
            scanned: (c.keys_restored + c.skipped) as i64,
            migrated: c.keys_restored as i64,
            skipped: c.skipped as i64,
            errors: 0,
            bytes: bytes as i64,
        }
    };
    let mut progress =
        Progress::new(&format!("bulk {run_id}"), estimated).with_board(opts.board.clone());
    let started = Instant::now();
    let copy = ferry_sync::copy::copy(&src.spec, dst, &filter, &restore, &counts);
    tokio::pin!(copy);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut told_pause = false;
    let stopped = loop {
        tokio::select! {
            r = &mut copy => break r.map_err(|e| match e {
                ferry_sync::Error::Usage(m) => Error::Usage(m),
                e => Error::Failed(e.to_string()),
            }),
            _ = tick.tick() => {
                let n = counters(0);
                progress.update(n.scanned as u64, 0, 0);
                reg.checkpoint(run_id, "0", &n, false)?;
                match reg.control(run_id)? {
                    Control::Abort => {
                        reg.set_status(run_id, "aborted")?;
                        break Err(Error::Aborted(format!(
                            "run {run_id} aborted; a snapshot copy cannot resume: the same command starts it over"
                        )));
                    }
                    Control::Pause if !told_pause => {
                        told_pause = true;
                        log::warn!("run {run_id}: a snapshot copy cannot pause (the source would hold its writes for it meanwhile); it goes on");
                    }
                    _ => {}
                }
            }
            _ = &mut ctrl_c => {
                reg.set_status(run_id, "paused")?;
                break Err(Error::Aborted(
                    "interrupted; a snapshot copy cannot resume: run the same command again to start it over (keys copied so far are RESTOREd again)".into(),
                ));
            }
        }
    };
    let bytes = match stopped {
        Ok(bytes) => bytes,
        Err(e) => {
            reg.checkpoint(run_id, "0", &counters(0), false)?;
            return Err(e);
        }
    };
    let n = counters(bytes);
    reg.checkpoint(run_id, "0", &n, true)?;
    progress.finish(n.scanned as u64, bytes, 0);
    reg.set_status(run_id, "running")?;
    Ok(BulkSummary {
        counters: n,
        gone: 0,
        elapsed: started.elapsed(),
    })
}
