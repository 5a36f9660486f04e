//! On-disk layout and its versioning.

use crate::{Durability, StoreError, StoreOptions, StoreResult};
use rusqlite::{Connection, OptionalExtension};

/// The layout version this build writes. Bump it with a migration step below.
///
/// * 1: keys, hashes, sets, zsets, lists.
/// * 2: streams (`stream_*` tables).
pub const FORMAT_VERSION: i64 = 2;

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
    value     BLOB,               -- a string's value; a stream's metadata (streams/mod.rs)
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

/// Version 2: streams. Entries are clustered by (key id, id); an id part is
/// an unsigned 64-bit number stored with its top bit flipped so that SQLite's
/// signed order is the id order (streams/id.rs).
const LAYOUT_V2_STREAMS: &str = "
CREATE TABLE IF NOT EXISTS stream_entries (
    key_id INTEGER NOT NULL,
    ms     INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    fields BLOB    NOT NULL,      -- the field, value list, length-prefixed
    PRIMARY KEY (key_id, ms, seq)
) WITHOUT ROWID;
-- The macro nodes Redis would have (approximate trimming, XINFO): one row
-- per node, keyed by its first (master) id.
CREATE TABLE IF NOT EXISTS stream_nodes (
    key_id   INTEGER NOT NULL,
    ms       INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    live     INTEGER NOT NULL,
    deleted  INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    last_ms  INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    fields   BLOB    NOT NULL,    -- the master entry's field names
    PRIMARY KEY (key_id, ms, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_groups (
    key_id       INTEGER NOT NULL,
    name         BLOB    NOT NULL,
    last_ms      INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL,
    entries_read INTEGER NOT NULL, -- -1 when unknown
    PRIMARY KEY (key_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_consumers (
    key_id INTEGER NOT NULL,
    grp    BLOB    NOT NULL,
    name   BLOB    NOT NULL,
    seen   INTEGER NOT NULL,      -- unix ms of its last activity
    PRIMARY KEY (key_id, grp, name)
) WITHOUT ROWID;
-- Pending entries: delivered to a consumer, not acknowledged yet.
CREATE TABLE IF NOT EXISTS stream_pel (
    key_id    INTEGER NOT NULL,
    grp       BLOB    NOT NULL,
    ms        INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    consumer  BLOB    NOT NULL,
    delivered INTEGER NOT NULL,   -- unix ms of the last delivery
    count     INTEGER NOT NULL,   -- deliveries
    PRIMARY KEY (key_id, grp, ms, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stream_pel_by_consumer ON stream_pel (key_id, grp, consumer, ms, seq);
";

/// Prepared statements kept by rusqlite's cache (its default is 16). The
/// store has about a hundred distinct statements: a workload that uses
/// more than 16 of them would keep evicting and re-preparing them (SQLite's
/// parser on the hot path). Eight redis-benchmark tests at once stay
/// within 16 (no parser in the profile either way), so this is insurance,
/// not a measured gain. Each statement costs a few KB.
const STATEMENT_CACHE: usize = 256;

pub(crate) fn configure(conn: &Connection, opts: &StoreOptions) -> StoreResult<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
    // See Store::wal_limit_bytes. Answers with the limit set (a row),
    // hence not in the batch above.
    let _: i64 = conn.query_row(
        &format!("PRAGMA journal_size_limit={}", opts.wal_limit_bytes()),
        [],
        |r| r.get(0),
    )?;
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

/// Brings a file to [`FORMAT_VERSION`]: a new file gets every table; an
/// older one runs the steps after its version, in one transaction.
///
/// A file already at this version is only read: another process may hold
/// it (`ferry serve` keeps a write transaction open), and opening must then
/// fail fast at the journal lock, not wait here for the write lock.
pub(crate) fn migrate(conn: &Connection) -> StoreResult<()> {
    let current: Option<i64> = conn
        .query_row(
            "SELECT value FROM ferry_meta WHERE name = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap_or(None);
    if current == Some(FORMAT_VERSION) {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = migrate_in_tx(conn);
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

fn migrate_in_tx(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(LAYOUT_V1)?;
    let found: Option<i64> = conn
        .query_row(
            "SELECT value FROM ferry_meta WHERE name = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let from = match found {
        None => 1,
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::TooNew {
                path: conn.path().unwrap_or("?").to_string(),
                found: v,
                supported: FORMAT_VERSION,
            })
        }
        Some(v) => v,
    };
    if from < 2 {
        conn.execute_batch(LAYOUT_V2_STREAMS)?;
    }
    if found != Some(FORMAT_VERSION) {
        conn.execute(
            "INSERT OR REPLACE INTO ferry_meta (name, value) VALUES ('format_version', ?1)",
            [FORMAT_VERSION],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{NodeLimits, StreamId};
    use crate::{Store, StoreOptions, Ttl};

    /// A file written by a version-1 ferry (no stream tables) opens, gets
    /// the stream tables and version 2, and keeps its data.
    #[test]
    fn a_v1_file_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(LAYOUT_V1).unwrap();
            conn.execute(
                "INSERT INTO ferry_meta (name, value) VALUES ('format_version', 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO keys (db, key, id, type, len, value, enc) VALUES (0, X'6f6c64', 1, 0, 3, X'616263', 2)",
                [],
            )
            .unwrap();
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name LIKE 'stream%'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "a v1 file has no stream tables");
        }
        let mut s = Store::open(&path, &StoreOptions::default()).unwrap();
        s.begin().unwrap();
        assert_eq!(s.get_string(0, b"old").unwrap(), Some(b"abc".to_vec()));
        let mut st = s.stream_create(0, b"s").unwrap();
        s.stream_append(
            &mut st,
            StreamId::new(1, 1),
            &["f", "v"],
            NodeLimits::default(),
        )
        .unwrap();
        s.stream_save(0, b"s", &st).unwrap();
        s.put_string(0, b"new", b"x", Ttl::Clear, None).unwrap();
        s.commit().unwrap();
        drop(s);
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row(
                "SELECT value FROM ferry_meta WHERE name = 'format_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, FORMAT_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM stream_entries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v9.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(LAYOUT_V1).unwrap();
            conn.execute(
                "INSERT INTO ferry_meta (name, value) VALUES ('format_version', 99)",
                [],
            )
            .unwrap();
        }
        assert!(matches!(
            Store::open(&path, &StoreOptions::default()),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
