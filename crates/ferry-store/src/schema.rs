//! On-disk layout and its versioning.

use crate::{Durability, StoreError, StoreOptions, StoreResult};
use rusqlite::{Connection, OptionalExtension};

/// The layout version this build writes. Bump it with a migration step below.
pub const FORMAT_VERSION: i64 = 1;

const LAYOUT_V1: &str = "
CREATE TABLE IF NOT EXISTS ferry_meta (
    name  TEXT PRIMARY KEY,
    value ANY
) WITHOUT ROWID;

-- One row per key, clustered on (db, key) so that a lookup is one b-tree
-- descent. `db` is a physical slot (SWAPDB remaps logical numbers to slots).
-- `id` never changes while the key lives (RENAME and MOVE keep it) and new
-- keys get larger ids: SCAN's cursor and the per-type tables rely on it.
-- A string's value is stored inline in `value`, so GET and SET touch a
-- single page; collection types keep their elements in their own tables
-- keyed by `id`.
CREATE TABLE IF NOT EXISTS keys (
    db        INTEGER NOT NULL,
    key       BLOB    NOT NULL,
    id        INTEGER NOT NULL,
    type      INTEGER NOT NULL,
    expire_at INTEGER,            -- unix ms, NULL when the key has no TTL
    version   INTEGER NOT NULL DEFAULT 0,
    len       INTEGER NOT NULL DEFAULT 0,
    value     BLOB,               -- string keys only
    enc       INTEGER,            -- string keys: the encoding Redis would report (1 int, 2 embstr, 3 raw)
    PRIMARY KEY (db, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS keys_by_id ON keys (db, id);

-- Collections: one row per element, clustered by the owning key's id.
CREATE TABLE IF NOT EXISTS hashes (
    key_id INTEGER NOT NULL,
    field  BLOB    NOT NULL,
    value  BLOB    NOT NULL,
    PRIMARY KEY (key_id, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sets (
    key_id INTEGER NOT NULL,
    member BLOB    NOT NULL,
    PRIMARY KEY (key_id, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zsets (
    key_id INTEGER NOT NULL,
    member BLOB    NOT NULL,
    score  REAL    NOT NULL,
    PRIMARY KEY (key_id, member)
) WITHOUT ROWID;
-- Rank and score order: (score, member) as Redis orders a sorted set.
CREATE INDEX IF NOT EXISTS zsets_by_score ON zsets (key_id, score, member);
-- A list element's position: head pushes take smaller numbers, tail pushes
-- larger ones, so both ends are O(log n); order is by pos.
CREATE TABLE IF NOT EXISTS lists (
    key_id INTEGER NOT NULL,
    pos    INTEGER NOT NULL,
    value  BLOB    NOT NULL,
    PRIMARY KEY (key_id, pos)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_by_expiry ON keys (expire_at) WHERE expire_at IS NOT NULL;

-- FUNCTION libraries: each library's code, in load order. They persist
-- with the data, as in an RDB file.
CREATE TABLE IF NOT EXISTS functions (
    pos  INTEGER PRIMARY KEY,
    code BLOB NOT NULL
);
";

pub(crate) fn configure(conn: &Connection, opts: &StoreOptions) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // 0 hands checkpoints to a [`crate::Checkpointer`] on another thread.
    let autocheckpoint = if opts.background_checkpoint { 0 } else { 1000 };
    conn.execute_batch(&format!("PRAGMA wal_autocheckpoint={autocheckpoint}"))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!("SQLite refused WAL mode (got {mode}); running in {mode} mode");
    }
    let sync = synchronous_for(opts.durability, opts.journal);
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync};
         PRAGMA cache_size=-{};
         PRAGMA temp_store=MEMORY;
         PRAGMA foreign_keys=OFF;",
        u64::from(opts.cache_mb.max(1)) * 1024
    ))?;
    Ok(())
}

/// SQLite's `synchronous` setting for a durability level (in WAL mode, FULL
/// fsyncs the log at every commit, NORMAL only at checkpoints). With the
/// journal, a commit lets the journal be emptied, so it must be durable.
pub(crate) fn synchronous_for(d: Durability, journal: bool) -> &'static str {
    match (d, journal) {
        (Durability::No, _) => "OFF",
        (Durability::Always, _) | (Durability::Everysec, true) => "FULL",
        (Durability::Everysec, false) => "NORMAL",
    }
}

pub(crate) fn migrate(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(LAYOUT_V1)?;
    let found: Option<i64> = conn
        .query_row(
            "SELECT value FROM ferry_meta WHERE name = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match found {
        None => {
            conn.execute(
                "INSERT INTO ferry_meta (name, value) VALUES ('format_version', ?1)",
                [FORMAT_VERSION],
            )?;
        }
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::TooNew {
                path: conn.path().unwrap_or("?").to_string(),
                found: v,
                supported: FORMAT_VERSION,
            })
        }
        Some(_) => {}
    }
    Ok(())
}
