//! The run registry: runs, dirty keys and errors, in SQLite.
//!
//! When the target is a ferry store, the registry sits beside it as
//! `<data>-migrate.db`, so the migration's state travels with the data;
//! otherwise it is `--state`. It is a file of its own, not tables inside the
//! store, because SQLite has one writer per file and the store keeps its
//! write transaction open between group commits: registry writes there would
//! wait on (or stall) the store that is being migrated into.
//!
//! Several processes share it (tracker, bulk, apply-dirty, status, pause):
//! WAL mode and a busy timeout let them take turns; every call is one short
//! transaction.

use crate::endpoint::Spec;
use crate::{now_ms, Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS migration_runs (
    run_id            TEXT PRIMARY KEY,
    source_uri        TEXT NOT NULL,
    target_uri        TEXT NOT NULL DEFAULT '',
    started_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    status            TEXT NOT NULL,            -- created|running|paused|completed|failed|aborted
    control           TEXT NOT NULL DEFAULT 'run', -- run|pause|abort: what pause/resume/abort asked
    scan_cursor       TEXT NOT NULL DEFAULT '0', -- bulk checkpoint, see bulk.rs
    scan_count_hint   INTEGER NOT NULL DEFAULT 1000,
    scanned_keys      INTEGER NOT NULL DEFAULT 0,
    migrated_keys     INTEGER NOT NULL DEFAULT 0,
    skipped_keys      INTEGER NOT NULL DEFAULT 0,
    error_keys        INTEGER NOT NULL DEFAULT 0,
    migrated_bytes    INTEGER NOT NULL DEFAULT 0,
    dirty_keys_seen   INTEGER NOT NULL DEFAULT 0,
    dirty_keys_applied INTEGER NOT NULL DEFAULT 0,
    dirty_keys_deleted INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    bulk_state        TEXT NOT NULL DEFAULT 'not started', -- not started|running|done
    bulk_options      TEXT,
    checkpoint_at     INTEGER,
    estimated_keys    INTEGER NOT NULL DEFAULT 0,
    tracker_pid       INTEGER,
    tracker_heartbeat INTEGER,
    tracker_stop      INTEGER NOT NULL DEFAULT 0,
    tracker_gaps      INTEGER NOT NULL DEFAULT 0,
    gaps_swept        INTEGER NOT NULL DEFAULT 0, -- tracker_gaps already covered by a sweep
    verify_result     TEXT,
    verify_at         INTEGER
);
CREATE TABLE IF NOT EXISTS migration_dirty_keys (
    run_id        TEXT NOT NULL,
    db            INTEGER NOT NULL DEFAULT 0,
    key           BLOB NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    events_count  INTEGER NOT NULL DEFAULT 1,
    last_event    TEXT,
    state         TEXT NOT NULL DEFAULT 'dirty', -- dirty|applied|deleted|skipped|error
    PRIMARY KEY (run_id, db, key)
);
CREATE INDEX IF NOT EXISTS migration_dirty_keys_state_idx ON migration_dirty_keys (run_id, state);
CREATE INDEX IF NOT EXISTS migration_dirty_keys_last_seen_idx ON migration_dirty_keys (run_id, last_seen_at);
-- What a delta pass reads: the dirty keys of a run, oldest change first.
CREATE INDEX IF NOT EXISTS migration_dirty_keys_pending_idx ON migration_dirty_keys (run_id, state, last_seen_at);
CREATE TABLE IF NOT EXISTS migration_errors (
    run_id  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    key     BLOB,
    stage   TEXT NOT NULL, -- bulk|dirty_apply|verify|track
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS migration_errors_at_idx ON migration_errors (run_id, at);
-- ferry cutover: every step of a run with when it happened.
CREATE TABLE IF NOT EXISTS cutover_steps (
    run_id TEXT NOT NULL,
    at     INTEGER NOT NULL, -- unix ms
    step   TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cutover_steps_run_idx ON cutover_steps (run_id, at);
";

/// One logged error: (at, stage, key, message).
pub type ErrorRow = (i64, String, Option<Vec<u8>>, String);

/// Errors kept per run and stage; older ones are dropped (the counters
/// still count them).
const ERRORS_KEPT: i64 = 1000;

/// What pause/resume/abort asked a running stage to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Abort,
}

/// One run's row.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub run_id: String,
    pub source_uri: String,
    pub target_uri: String,
    pub started_at: i64,
    pub updated_at: i64,
    pub status: String,
    pub control: String,
    pub scan_cursor: String,
    pub scanned_keys: i64,
    pub migrated_keys: i64,
    pub skipped_keys: i64,
    pub error_keys: i64,
    pub migrated_bytes: i64,
    pub dirty_keys_seen: i64,
    pub dirty_keys_applied: i64,
    pub dirty_keys_deleted: i64,
    pub last_error: Option<String>,
    pub bulk_state: String,
    pub bulk_options: Option<String>,
    pub checkpoint_at: Option<i64>,
    pub estimated_keys: i64,
    pub tracker_pid: Option<i64>,
    pub tracker_heartbeat: Option<i64>,
    pub tracker_gaps: i64,
    pub gaps_swept: i64,
    pub verify_result: Option<String>,
    pub verify_at: Option<i64>,
}

/// Bulk counters, as checkpointed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub scanned: i64,
    pub migrated: i64,
    pub skipped: i64,
    pub errors: i64,
    pub bytes: i64,
}

impl Counters {
    /// The counters as a run's row has them.
    pub fn of(run: &Run) -> Counters {
        Counters {
            scanned: run.scanned_keys,
            migrated: run.migrated_keys,
            skipped: run.skipped_keys,
            errors: run.error_keys,
            bytes: run.migrated_bytes,
        }
    }
}

/// A key the tracker saw change.
#[derive(Clone, Debug)]
pub struct DirtyKey {
    pub db: i64,
    pub key: Vec<u8>,
    pub events_count: i64,
}

/// Dirty keys by state.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirtyCounts {
    pub dirty: i64,
    pub applied: i64,
    pub deleted: i64,
    pub skipped: i64,
    pub error: i64,
}

/// The registry; cheap to clone, shared by the tasks of one process.
#[derive(Clone)]
pub struct Registry {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Registry {
    /// Where the registry of a migration to `target` lives.
    pub fn location(target: &Spec, state: &Path) -> PathBuf {
        match target.store_path() {
            Some(p) => {
                let mut s = p.as_os_str().to_owned();
                s.push("-migrate.db");
                PathBuf::from(s)
            }
            None => state.to_path_buf(),
        }
    }

    pub fn open(path: &Path) -> Result<Registry> {
        let conn = Connection::open(path).map_err(|e| {
            Error::Store(format!(
                "cannot open the run registry {}: {e}",
                path.display()
            ))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        // Columns added after the first layout, for registries made then.
        let has: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('migration_runs') WHERE name = 'gaps_swept'")?
            .exists([])?;
        if !has {
            conn.execute_batch(
                "ALTER TABLE migration_runs ADD COLUMN gaps_swept INTEGER NOT NULL DEFAULT 0",
            )?;
        }
        Ok(Registry {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing registry (for commands that only read or steer a
    /// run), with an error that says where runs are looked for.
    pub fn open_existing(path: &Path) -> Result<Registry> {
        if !path.exists() {
            return Err(Error::Usage(format!(
                "no run registry at {} (runs of a migration into a ferry store live beside it: pass --to PATH; others in --state, default ./ferry-migrate.db)",
                path.display()
            )));
        }
        Registry::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    /// Returns the run, creating it if it is new. A run that exists with
    /// another source or target is refused.
    pub fn open_run(&self, run_id: &str, source: &Spec, target: &Spec) -> Result<Run> {
        validate_run_id(run_id)?;
        let (src, dst) = (source.display(), target.display());
        if let Some(run) = self.find(run_id)? {
            if run.source_uri != src || run.target_uri != dst {
                return Err(Error::Usage(format!(
                    "run {run_id} moves {} -> {}, not {src} -> {dst}; use the same --from/--to, or another --run-id",
                    run.source_uri, run.target_uri
                )));
            }
            return Ok(run);
        }
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "INSERT INTO migration_runs (run_id, source_uri, target_uri, started_at, updated_at, status) VALUES (?1, ?2, ?3, ?4, ?4, 'created')",
                params![run_id, src, dst, now],
            )
        })?;
        self.run(run_id)
    }

    pub fn find(&self, run_id: &str) -> Result<Option<Run>> {
        self.with(|c| {
            c.query_row(
                "SELECT run_id, source_uri, target_uri, started_at, updated_at, status, control, scan_cursor,
                        scanned_keys, migrated_keys, skipped_keys, error_keys, migrated_bytes,
                        dirty_keys_seen, dirty_keys_applied, dirty_keys_deleted, last_error,
                        bulk_state, bulk_options, checkpoint_at, estimated_keys, tracker_pid,
                        tracker_heartbeat, tracker_gaps, verify_result, verify_at, gaps_swept
                 FROM migration_runs WHERE run_id = ?1",
                [run_id],
                |r| {
                    Ok(Run {
                        run_id: r.get(0)?,
                        source_uri: r.get(1)?,
                        target_uri: r.get(2)?,
                        started_at: r.get(3)?,
                        updated_at: r.get(4)?,
                        status: r.get(5)?,
                        control: r.get(6)?,
                        scan_cursor: r.get(7)?,
                        scanned_keys: r.get(8)?,
                        migrated_keys: r.get(9)?,
                        skipped_keys: r.get(10)?,
                        error_keys: r.get(11)?,
                        migrated_bytes: r.get(12)?,
                        dirty_keys_seen: r.get(13)?,
                        dirty_keys_applied: r.get(14)?,
                        dirty_keys_deleted: r.get(15)?,
                        last_error: r.get(16)?,
                        bulk_state: r.get(17)?,
                        bulk_options: r.get(18)?,
                        checkpoint_at: r.get(19)?,
                        estimated_keys: r.get(20)?,
                        tracker_pid: r.get(21)?,
                        tracker_heartbeat: r.get(22)?,
                        tracker_gaps: r.get(23)?,
                        verify_result: r.get(24)?,
                        verify_at: r.get(25)?,
                        gaps_swept: r.get(26)?,
                    })
                },
            )
            .optional()
        })
    }

    /// The run, or an error naming the runs this registry has.
    pub fn run(&self, run_id: &str) -> Result<Run> {
        validate_run_id(run_id)?;
        if let Some(r) = self.find(run_id)? {
            return Ok(r);
        }
        let ids: Vec<String> = self.with(|c| {
            let mut s =
                c.prepare("SELECT run_id FROM migration_runs ORDER BY started_at DESC LIMIT 10")?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        let known = if ids.is_empty() {
            "it has no runs".to_string()
        } else {
            format!("its runs: {}", ids.join(", "))
        };
        Err(Error::Usage(format!(
            "unknown run id {run_id} in {} ({known}); check --run-id and --to/--state",
            self.path.display()
        )))
    }

    pub fn set_status(&self, run_id: &str, status: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET status = ?2, updated_at = ?3 WHERE run_id = ?1",
                params![run_id, status, now_ms()],
            )
        })?;
        Ok(())
    }

    pub fn set_last_error(&self, run_id: &str, message: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET last_error = ?2, updated_at = ?3 WHERE run_id = ?1",
                params![run_id, message, now_ms()],
            )
        })?;
        Ok(())
    }

    pub fn control(&self, run_id: &str) -> Result<Control> {
        let c: String = self.with(|c| {
            c.query_row(
                "SELECT control FROM migration_runs WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
        })?;
        Ok(match c.as_str() {
            "pause" => Control::Pause,
            "abort" => Control::Abort,
            _ => Control::Run,
        })
    }

    pub fn set_control(&self, run_id: &str, control: Control) -> Result<()> {
        let text = match control {
            Control::Run => "run",
            Control::Pause => "pause",
            Control::Abort => "abort",
        };
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET control = ?2, updated_at = ?3 WHERE run_id = ?1",
                params![run_id, text, now_ms()],
            )
        })?;
        Ok(())
    }

    /// Starts (or restarts) the bulk stage with its options.
    pub fn begin_bulk(
        &self,
        run_id: &str,
        options: &str,
        estimated: i64,
        fresh: bool,
    ) -> Result<()> {
        self.with(|c| {
            if fresh {
                c.execute(
                    "UPDATE migration_runs SET scan_cursor = '0', scanned_keys = 0, migrated_keys = 0,
                     skipped_keys = 0, error_keys = 0, migrated_bytes = 0, checkpoint_at = NULL
                     WHERE run_id = ?1",
                    [run_id],
                )?;
            }
            c.execute(
                "UPDATE migration_runs SET bulk_state = 'running', bulk_options = ?2, estimated_keys = ?3,
                 status = 'running', control = 'run', updated_at = ?4 WHERE run_id = ?1",
                params![run_id, options, estimated, now_ms()],
            )
        })?;
        Ok(())
    }

    pub fn checkpoint(&self, run_id: &str, cursor: &str, n: &Counters, done: bool) -> Result<()> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET scan_cursor = ?2, scanned_keys = ?3, migrated_keys = ?4,
                 skipped_keys = ?5, error_keys = ?6, migrated_bytes = ?7, checkpoint_at = ?8,
                 updated_at = ?8, bulk_state = CASE WHEN ?9 THEN 'done' ELSE bulk_state END
                 WHERE run_id = ?1",
                params![
                    run_id, cursor, n.scanned, n.migrated, n.skipped, n.errors, n.bytes, now, done
                ],
            )
        })?;
        Ok(())
    }

    /// Records keys the tracker saw change, in one transaction. A key already
    /// known becomes dirty again, whatever its state.
    pub fn record_dirty(&self, run_id: &str, events: &[(i64, Vec<u8>, String)]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        // A hot key changes many times per batch: one upsert each, with the
        // count and the last event.
        let mut merged: std::collections::HashMap<(i64, &[u8]), (i64, &str)> =
            std::collections::HashMap::with_capacity(events.len());
        for (db, key, event) in events {
            let e = merged.entry((*db, key.as_slice())).or_insert((0, event));
            e.0 += 1;
            e.1 = event;
        }
        let now = now_ms();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO migration_dirty_keys (run_id, db, key, first_seen_at, last_seen_at, events_count, last_event, state)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 'dirty')
                 ON CONFLICT (run_id, db, key) DO UPDATE SET last_seen_at = excluded.last_seen_at,
                    events_count = events_count + excluded.events_count, last_event = excluded.last_event,
                    state = 'dirty'",
            )?;
            for ((db, key), (count, event)) in &merged {
                up.execute(params![run_id, db, key, now, count, event])?;
            }
            tx.execute(
                "UPDATE migration_runs SET dirty_keys_seen = dirty_keys_seen + ?2, tracker_heartbeat = ?3 WHERE run_id = ?1",
                params![run_id, events.len() as i64, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes keys that failed in an earlier pass dirty again, so that each
    /// pass retries them.
    pub fn retry_failed_dirty(&self, run_id: &str) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_dirty_keys SET state = 'dirty' WHERE run_id = ?1 AND state = 'error'",
                [run_id],
            )
        })
    }

    /// Dirty keys to apply next, oldest change first.
    pub fn next_dirty(&self, run_id: &str, limit: usize) -> Result<Vec<DirtyKey>> {
        self.with(|c| {
            let mut s = c.prepare_cached(
                "SELECT db, key, events_count FROM migration_dirty_keys
                 WHERE run_id = ?1 AND state = 'dirty' ORDER BY last_seen_at ASC, db, key LIMIT ?2",
            )?;
            let rows = s.query_map(params![run_id, limit as i64], |r| {
                Ok(DirtyKey {
                    db: r.get(0)?,
                    key: r.get(1)?,
                    events_count: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Marks applied keys. A key that changed again since it was read (its
    /// event count moved) stays dirty for the next pass.
    pub fn finish_dirty(&self, run_id: &str, done: &[(DirtyKey, &'static str)]) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let (mut applied, mut deleted) = (0i64, 0i64);
        {
            let mut s = tx.prepare_cached(
                "UPDATE migration_dirty_keys SET state = ?5
                 WHERE run_id = ?1 AND db = ?2 AND key = ?3 AND events_count = ?4 AND state = 'dirty'",
            )?;
            for (k, state) in done {
                let n = s.execute(params![run_id, k.db, k.key, k.events_count, state])?;
                if n > 0 {
                    match *state {
                        "applied" => applied += 1,
                        "deleted" => deleted += 1,
                        _ => {}
                    }
                }
            }
            tx.execute(
                "UPDATE migration_runs SET dirty_keys_applied = dirty_keys_applied + ?2,
                 dirty_keys_deleted = dirty_keys_deleted + ?3, updated_at = ?4 WHERE run_id = ?1",
                params![run_id, applied, deleted, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn dirty_counts(&self, run_id: &str) -> Result<DirtyCounts> {
        self.with(|c| {
            let mut s = c.prepare_cached(
                "SELECT state, count(*) FROM migration_dirty_keys WHERE run_id = ?1 GROUP BY state",
            )?;
            let mut out = DirtyCounts::default();
            let rows = s.query_map([run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (state, n) = row?;
                match state.as_str() {
                    "dirty" => out.dirty = n,
                    "applied" => out.applied = n,
                    "deleted" => out.deleted = n,
                    "skipped" => out.skipped = n,
                    _ => out.error += n,
                }
            }
            Ok(out)
        })
    }

    /// Logs an error (bounded per run and stage) and sets `last_error`.
    pub fn error(
        &self,
        run_id: &str,
        stage: &str,
        key: Option<&[u8]>,
        message: &str,
    ) -> Result<()> {
        self.log_errors(run_id, stage, &[(key, message)])
    }

    /// Logs the errors of one batch of keys in one transaction.
    pub fn errors(&self, run_id: &str, stage: &str, errors: &[(Vec<u8>, String)]) -> Result<()> {
        let rows: Vec<(Option<&[u8]>, &str)> = errors
            .iter()
            .map(|(k, m)| (Some(k.as_slice()), m.as_str()))
            .collect();
        self.log_errors(run_id, stage, &rows)
    }

    fn log_errors(&self, run_id: &str, stage: &str, rows: &[(Option<&[u8]>, &str)]) -> Result<()> {
        let Some((_, last)) = rows.last() else {
            return Ok(());
        };
        let now = now_ms();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO migration_errors (run_id, at, key, stage, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (key, message) in rows {
                insert.execute(params![run_id, now, key, stage, message])?;
            }
            tx.execute(
                "DELETE FROM migration_errors WHERE rowid IN (
                    SELECT rowid FROM migration_errors WHERE run_id = ?1 AND stage = ?2
                    ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET ?3)",
                params![run_id, stage, ERRORS_KEPT],
            )?;
            tx.execute(
                "UPDATE migration_runs SET last_error = ?2, updated_at = ?3 WHERE run_id = ?1",
                params![run_id, last, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The most recent errors: (at, stage, key, message).
    pub fn recent_errors(&self, run_id: &str, n: usize) -> Result<Vec<ErrorRow>> {
        self.with(|c| {
            let mut s = c.prepare(
                "SELECT at, stage, key, message FROM migration_errors WHERE run_id = ?1
                 ORDER BY at DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = s.query_map(params![run_id, n as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect()
        })
    }

    /// The tracker says it is alive (and which process it is).
    pub fn tracker_heartbeat(&self, run_id: &str, pid: Option<u32>) -> Result<bool> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET tracker_heartbeat = ?2, tracker_pid = coalesce(?3, tracker_pid) WHERE run_id = ?1",
                params![run_id, now, pid.map(i64::from)],
            )?;
            c.query_row("SELECT tracker_stop FROM migration_runs WHERE run_id = ?1", [run_id], |r| {
                r.get::<_, i64>(0).map(|v| v != 0)
            })
        })
    }

    /// Asks the tracker to stop (`track-stop`), or clears the request.
    pub fn set_tracker_stop(&self, run_id: &str, stop: bool) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET tracker_stop = ?2, tracker_heartbeat = CASE WHEN ?2 THEN tracker_heartbeat ELSE NULL END WHERE run_id = ?1",
                params![run_id, stop],
            )
        })?;
        Ok(())
    }

    pub fn tracker_stopped(&self, run_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET tracker_heartbeat = NULL, tracker_pid = NULL WHERE run_id = ?1",
                [run_id],
            )
        })?;
        Ok(())
    }

    pub fn tracker_gap(&self, run_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET tracker_gaps = tracker_gaps + 1 WHERE run_id = ?1",
                [run_id],
            )
        })?;
        Ok(())
    }

    /// Records that a sweep covered the tracker's gaps up to `gaps`.
    pub fn set_gaps_swept(&self, run_id: &str, gaps: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET gaps_swept = max(gaps_swept, ?2) WHERE run_id = ?1",
                params![run_id, gaps],
            )
        })?;
        Ok(())
    }

    /// Records a cutover step of `run_id` (now).
    pub fn record_step(&self, run_id: &str, step: &str, detail: &str) -> Result<()> {
        validate_run_id(run_id)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO cutover_steps (run_id, at, step, detail) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![run_id, crate::now_ms(), step, detail],
            )
        })?;
        Ok(())
    }

    /// The cutover steps of `run_id`, oldest first: (unix ms, step, detail).
    pub fn steps(&self, run_id: &str) -> Result<Vec<(i64, String, String)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT at, step, detail FROM cutover_steps WHERE run_id = ?1 ORDER BY at, rowid",
            )?;
            let rows = st.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    pub fn set_verify(&self, run_id: &str, result: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE migration_runs SET verify_result = ?2, verify_at = ?3, updated_at = ?3 WHERE run_id = ?1",
                params![run_id, result, now_ms()],
            )
        })?;
        Ok(())
    }
}

fn validate_run_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(Error::Usage(format!(
            "bad run id {id:?}: use 1 to 128 letters, digits, '-', '_', '.' or ':'"
        )));
    }
    Ok(())
}

/// Whether a tracker heartbeat is recent enough to mean it runs (and its
/// process, when on this machine, still exists).
pub fn tracker_alive(run: &Run) -> bool {
    run.tracker_heartbeat.is_some_and(|t| now_ms() - t < 5_000)
        && run.tracker_pid.is_none_or(process_exists)
}

/// Whether a tracker ended without stopping cleanly (killed, crashed): its
/// heartbeat was left behind and it no longer beats.
pub fn tracker_died(run: &Run) -> bool {
    run.tracker_heartbeat.is_some() && !tracker_alive(run)
}

fn process_exists(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_keys_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db")).unwrap();
        let src = Spec::parse("redis://127.0.0.1:1").unwrap();
        let dst = Spec::parse("redis://127.0.0.1:2").unwrap();
        reg.open_run("r1", &src, &dst).unwrap();
        assert!(reg.open_run("r1", &dst, &src).is_err());
        reg.record_dirty(
            "r1",
            &[
                (0, b"a".to_vec(), "set".into()),
                (0, b"a".to_vec(), "del".into()),
            ],
        )
        .unwrap();
        let next = reg.next_dirty("r1", 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].events_count, 2);
        // Changed again after it was read: stays dirty.
        reg.record_dirty("r1", &[(0, b"a".to_vec(), "set".into())])
            .unwrap();
        reg.finish_dirty("r1", &[(next[0].clone(), "applied")])
            .unwrap();
        assert_eq!(reg.dirty_counts("r1").unwrap().dirty, 1);
        let next = reg.next_dirty("r1", 10).unwrap();
        reg.finish_dirty("r1", &[(next[0].clone(), "deleted")])
            .unwrap();
        let c = reg.dirty_counts("r1").unwrap();
        assert_eq!((c.dirty, c.deleted), (0, 1));
        assert!(reg.run("nope").is_err());
        // A key that failed is retried by the next pass.
        reg.record_dirty("r1", &[(0, b"b".to_vec(), "set".into())])
            .unwrap();
        let next = reg.next_dirty("r1", 10).unwrap();
        reg.finish_dirty("r1", &[(next[0].clone(), "error")])
            .unwrap();
        assert!(reg.next_dirty("r1", 10).unwrap().is_empty());
        assert_eq!(reg.retry_failed_dirty("r1").unwrap(), 1);
        assert_eq!(reg.next_dirty("r1", 10).unwrap().len(), 1);
    }
}
