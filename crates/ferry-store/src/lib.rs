//! The Redis keyspace kept in SQLite.
//!
//! One row per key in `keys` (db, name, type, expiry, version, length) and one
//! `WITHOUT ROWID` table per data type keyed by the key's id. [`Store`] owns the
//! single write connection; the server's executor thread is its only user, so
//! every method takes `&mut self` and nothing here is shared between threads.
//!
//! Transactions are explicit: the executor calls [`Store::begin`], runs a group
//! of commands, then [`Store::commit`] (group commit). Expired keys are
//! invisible at once (every lookup checks the clock) and are removed lazily on
//! access or by [`Store::sweep_expired`].

mod checkpoint;
mod collections;
mod error;
mod functions;
pub mod glob;
mod hashes;
mod heldrows;
mod journal;
mod keycache;
mod keyspace;
mod listends;
mod listheads;
mod listpops;
pub mod lists;
mod ops;
mod schema;
mod statements;
pub mod streams;
mod strings;
pub mod zsets;

pub use checkpoint::{CheckpointReport, Checkpointer};
pub use error::{StoreError, StoreResult};
pub use keyspace::{KeyInfo, KeyType, ScanPage, Ttl};
pub use strings::{parse_canonical_i64, StringEncoding};

use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Something that happened to a key as a side effect of a store call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A key was created (Redis's `new` event).
    New { db: usize, key: Vec<u8> },
    /// A key was removed because its TTL passed (`expired`).
    Expired { db: usize, key: Vec<u8> },
    /// A stream key was deleted, replaced, renamed or moved away (Redis
    /// wakes clients blocked in XREADGROUP on it with an error).
    StreamGone { db: usize, key: Vec<u8> },
}

/// A change reported by [`Store::take_modified`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modified {
    /// The key (in any database) was written, deleted, expired or renamed.
    Key(Vec<u8>),
    /// FLUSHDB, FLUSHALL or SWAPDB: any key may have changed.
    All,
}

/// Number of logical databases (`SELECT 0..15`).
pub const DATABASES: usize = 16;

/// When committed writes reach the disk, as Redis's `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync at every group commit: an acknowledged write survives power loss.
    Always,
    /// fsync at least once a second: a process crash loses nothing
    /// acknowledged, a power loss at most about a second.
    #[default]
    Everysec,
    /// Leave flushing to the operating system.
    No,
}

impl Durability {
    pub fn parse(s: &str) -> Option<Durability> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Durability::Always),
            "everysec" => Some(Durability::Everysec),
            "no" => Some(Durability::No),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Always => "always",
            Durability::Everysec => "everysec",
            Durability::No => "no",
        }
    }
}

/// How a store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub durability: Durability,
    /// SQLite page cache size in MiB: the main knob for resident memory.
    pub cache_mb: u32,
    /// The key cache in front of SQLite's `keys` table, in MiB (0: none;
    /// see `keycache.rs`).
    pub key_cache_mb: u32,
    /// Leave WAL checkpoints to a [`Checkpointer`] running on another
    /// thread, so the writer never pays for copying pages back.
    pub background_checkpoint: bool,
    /// Make writes durable through the redo journal (see `journal.rs`) and
    /// commit SQLite only every [`StoreOptions::commit_interval`]. Without
    /// it, [`Store::flush_group`] commits SQLite itself.
    pub journal: bool,
    /// Longest time between two SQLite commits when journaling.
    pub commit_interval: std::time::Duration,
    /// The write-ahead log's size bound in MiB (see
    /// [`Store::wal_limit_bytes`]).
    pub wal_limit_mb: u32,
    /// Changes are made durable by a log the caller keeps (Raft): no
    /// journal, [`Store::flush_group`] writes nothing, the caller takes each
    /// group's changes with [`Store::take_group_payload`] and decides when
    /// SQLite commits.
    pub external_log: bool,
}

impl StoreOptions {
    /// [`StoreOptions::wal_limit_mb`] in bytes (at least 1 MiB).
    pub(crate) fn wal_limit_bytes(&self) -> u64 {
        u64::from(self.wal_limit_mb.max(1)) << 20
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Everysec,
            cache_mb: 32,
            key_cache_mb: 32,
            background_checkpoint: false,
            journal: false,
            commit_interval: std::time::Duration::from_millis(250),
            external_log: false,
            wal_limit_mb: 64,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The keyspace, through one SQLite write connection.
pub struct Store {
    /// Declared before `conn`: its statements go first (see `statements.rs`).
    statements: statements::Statements,
    /// Boxed: kept statements point at it.
    conn: Box<Connection>,
    /// Recently used key rows (see `keycache.rs`).
    key_cache: keycache::KeyCache,
    /// Known end positions of lists (see `listends.rs`).
    list_ends: listends::ListEnds,
    /// The first elements of lists read recently (see `listheads.rs`).
    list_heads: listheads::ListHeads,
    /// Rows read ahead of list pops (see `listpops.rs`).
    list_pops: listpops::ListPops,
    /// Key-row updates not written yet (see `heldrows.rs`); a cell because
    /// [`Store::stmt`] writes them and takes `&self`.
    held_rows: std::cell::RefCell<heldrows::HeldRows>,
    /// Popped list rows not deleted yet (see `listpops.rs`); a cell for
    /// the same reason.
    held_pops: std::cell::RefCell<listpops::HeldPops>,
    /// Streams' tail nodes not written yet (see `streams/heldnodes.rs`); a
    /// cell for the same reason.
    held_nodes: std::cell::RefCell<streams::heldnodes::HeldNodes>,
    /// See [`Store::set_versions_watched`].
    versions_watched: bool,
    path: PathBuf,
    durability: Durability,
    in_tx: bool,
    /// The clock commands see: fixed for the duration of one command, as in Redis.
    now: i64,
    /// Keys per database, including expired keys not removed yet (as Redis's DBSIZE).
    key_counts: [i64; DATABASES],
    /// Keys with a TTL per database (INFO keyspace).
    expire_counts: [i64; DATABASES],
    /// Keys created or removed by expiry, in order, since the caller last
    /// drained them (keyspace notifications, stats).
    events: Vec<StoreEvent>,
    /// Keys changed since the caller last drained them, recorded only while
    /// `record_modified` is on (client-side caching invalidates them).
    modified: Vec<Modified>,
    record_modified: bool,
    /// Incremented by every commit that wrote something; lets a syncer know
    /// whether an fsync is due.
    write_epoch: u64,
    tx_wrote: bool,
    /// The id the next new key gets (ids only grow; see SCAN).
    next_id: i64,
    /// Sequence number of the last change (journaled or committed).
    seq: u64,
    journal: Option<journal::Journal>,
    commit_interval: std::time::Duration,
    tx_started: std::time::Instant,
    /// Physical slot of each logical database (SWAPDB swaps entries).
    db_slots: [u8; DATABASES],
    /// How the store was opened (kept to reopen it, see [`Store::replace_with`]).
    opts: StoreOptions,
    /// The current group's changes, for an external log (see
    /// [`StoreOptions::external_log`]).
    group_ops: Vec<u8>,
    /// Refuse every change (a Raft follower: only the log writes).
    read_only: bool,
    /// [`Store::apply_payload`] changed the FUNCTION libraries.
    functions_replicated: bool,
    /// Commits wait (the transaction holds changes an external log has
    /// not confirmed yet).
    commits_held: bool,
    /// `ferry_meta` rows written by every commit (how far an external log
    /// was applied, kept with the data it describes).
    commit_meta: Vec<(&'static str, Vec<u8>)>,
    /// SQLite commits so far.
    commits: u64,
    /// Keys WATCHed while absent (see [`Store::watch_creation`]).
    watch_absent: std::collections::HashSet<(usize, Vec<u8>)>,
    /// Size past which [`Store::watch_creation`] asks for a rebuild.
    watch_absent_limit: usize,
    /// Those of them created since the caller last drained them.
    created_watched: Vec<(usize, Vec<u8>)>,
}

/// Keys watched while absent that [`Store::watch_creation`] starts with
/// before asking the caller to rebuild the set.
const WATCH_ABSENT_MIN: usize = 1024;

impl Store {
    /// Forgets what the store remembers of its tables in memory (the key
    /// cache, list ends, heads and rows read ahead of pops): the tables
    /// changed another way than through [`Store::apply`] (a rollback), or a
    /// change failed half-way. Held rows and pops are not memories but
    /// changes of the open transaction: a rollback drops them itself.
    pub(crate) fn forget_remembered(&mut self) {
        self.key_cache.clear();
        self.list_ends.clear();
        self.list_heads.clear();
        self.list_pops.clear();
    }

    /// The kept statement of a SQL literal (see `statements.rs`). Held
    /// key rows are written first if it names the `keys` table, held pops
    /// if it names `lists`, held stream nodes if it names `stream_nodes`.
    pub(crate) fn stmt(&self, sql: &'static str) -> StoreResult<statements::Stmt<'_>> {
        self.before_sql(sql)?;
        Ok(self.statements.get(&self.conn, sql)?)
    }

    /// A statement of SQL built at run time (rusqlite's cache), with held
    /// key rows and pops written first as for [`Store::stmt`].
    pub(crate) fn stmt_built(&self, sql: &str) -> StoreResult<rusqlite::CachedStatement<'_>> {
        self.before_sql(sql)?;
        Ok(self.conn.prepare_cached(sql)?)
    }

    /// Writes the held key rows, pops and stream nodes if `sql` may read
    /// or write them.
    fn before_sql(&self, sql: &str) -> StoreResult<()> {
        if !self.held_rows.borrow().is_empty() && heldrows::names_keys_table(sql) {
            self.write_held_rows()?;
        }
        if !self.held_pops.borrow().is_empty() && listpops::names_lists_table(sql) {
            self.write_held_pops()?;
        }
        if !self.held_nodes.borrow().is_empty() && streams::heldnodes::names_nodes_table(sql) {
            self.write_held_nodes()?;
        }
        Ok(())
    }

    /// Writes every held stream tail node (see `streams/heldnodes.rs`). On
    /// failure the nodes not written stay held, as held key rows do.
    pub(crate) fn write_held_nodes(&self) -> StoreResult<()> {
        let mut nodes = self.held_nodes.borrow_mut().drain().into_iter();
        while let Some((key_id, node)) = nodes.next() {
            // Nothing is held while they are written: `stmt` does not recurse.
            if let Err(e) = self.put_node_row(key_id, &node) {
                let mut kept = self.held_nodes.borrow_mut();
                kept.hold(key_id, node);
                for (key_id, node) in nodes {
                    kept.hold(key_id, node);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deletes the rows of every held pop (see `listpops.rs`). On failure
    /// the ranges not deleted stay held, as held key rows do.
    pub(crate) fn write_held_pops(&self) -> StoreResult<()> {
        let mut ranges = self.held_pops.borrow_mut().take().into_iter();
        while let Some((id, end, from, to)) = ranges.next() {
            // Nothing is held while they are written: `stmt` does not recurse.
            let deleted = self
                .stmt(listpops::DELETE_SQL)
                .and_then(|mut st| Ok(st.execute(rusqlite::params![id, from, to])?));
            if let Err(e) = deleted {
                let mut kept = self.held_pops.borrow_mut();
                kept.restore(std::iter::once((id, end, from, to)).chain(ranges));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes every held key-row update (see `heldrows.rs`). On failure
    /// the rows not written stay held: nothing a command changed is
    /// dropped, and a commit that cannot write them fails (and recovers).
    pub(crate) fn write_held_rows(&self) -> StoreResult<()> {
        let mut rows = self.held_rows.borrow_mut().take().into_iter();
        while let Some((slot, key, held)) = rows.next() {
            // Nothing is held while they are written: `stmt` does not recurse.
            let written = self.stmt(heldrows::WRITE_SQL).and_then(|mut st| {
                Ok(st.execute(rusqlite::params![
                    slot,
                    key,
                    held.len,
                    held.expire_at,
                    held.value
                ])?)
            });
            if let Err(e) = written {
                let mut kept = self.held_rows.borrow_mut();
                kept.hold(slot, &key, held);
                for (slot, key, held) in rows {
                    kept.hold(slot, &key, held);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: impl AsRef<Path>, opts: &StoreOptions) -> StoreResult<Store> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            source: e,
        })?;
        schema::configure(&conn, opts)?;
        schema::migrate(&conn)?;
        let mut store = Store {
            statements: statements::Statements::default(),
            conn: Box::new(conn),
            key_cache: keycache::KeyCache::new(opts.key_cache_mb),
            list_ends: listends::ListEnds::default(),
            // An eighth of the key cache's budget.
            list_heads: listheads::ListHeads::new(opts.key_cache_mb as usize * (1 << 20) / 8),
            list_pops: listpops::ListPops::new(opts.key_cache_mb as usize * (1 << 20) / 8),
            held_rows: Default::default(),
            held_pops: Default::default(),
            held_nodes: Default::default(),
            versions_watched: true,
            path,
            durability: opts.durability,
            in_tx: false,
            now: unix_ms(),
            key_counts: [0; DATABASES],
            expire_counts: [0; DATABASES],
            events: Vec::new(),
            modified: Vec::new(),
            record_modified: false,
            write_epoch: 0,
            tx_wrote: false,
            next_id: 1,
            db_slots: std::array::from_fn(|i| i as u8),
            seq: 0,
            journal: None,
            commit_interval: opts.commit_interval,
            opts: opts.clone(),
            group_ops: Vec::new(),
            read_only: false,
            functions_replicated: false,
            commits_held: false,
            commit_meta: Vec::new(),
            commits: 0,
            tx_started: std::time::Instant::now(),
            watch_absent: std::collections::HashSet::new(),
            watch_absent_limit: WATCH_ABSENT_MIN,
            created_watched: Vec::new(),
        };
        store.load_meta()?;
        store.recount()?;
        store.recover(opts.journal && !opts.external_log)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write-ahead log file, which a background syncer may fsync.
    pub fn wal_path(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Changes when commits reach the disk (CONFIG SET appendfsync).
    pub fn set_durability(&mut self, d: Durability) -> StoreResult<()> {
        let sync = schema::synchronous_for(d, self.journal.is_some());
        self.conn
            .execute_batch(&format!("PRAGMA synchronous={sync}"))?;
        self.durability = d;
        Ok(())
    }

    /// Whether some client WATCHes a key, so every write must bump the
    /// key's version (see [`Store::set_collection_len`]). On by default:
    /// only a server that tracks its WATCHes may turn it off.
    pub fn set_versions_watched(&mut self, watched: bool) {
        self.versions_watched = watched;
    }

    /// Sets the clock that expiry checks use (ms since the epoch).
    pub fn set_now(&mut self, now_ms: i64) {
        self.now = now_ms;
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    /// Opens a transaction if none is open. With the journal, one SQLite
    /// transaction spans many groups of commands.
    ///
    /// IMMEDIATE takes the write lock at once (waiting out another writer
    /// such as `ferry migrate`'s run registry in the same file): a deferred
    /// transaction that read first would fail with SQLITE_BUSY when it
    /// tried to write after that writer committed.
    pub fn begin(&mut self) -> StoreResult<()> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_tx = true;
            self.tx_wrote = false;
            self.tx_started = std::time::Instant::now();
        }
        Ok(())
    }

    /// Journals one change and applies it.
    pub(crate) fn record(&mut self, op: ops::Op) -> StoreResult<()> {
        self.log(&op)?;
        self.apply(&op)
    }

    /// Journals one change (and hands it to an external log) without
    /// applying it: for a change the caller holds to write later (a
    /// stream's tail node).
    pub(crate) fn log(&mut self, op: &ops::Op) -> StoreResult<()> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        if self.record_modified {
            op.modified_keys(&mut self.modified);
        }
        self.tx_wrote = true;
        self.seq += 1;
        if let Some(j) = &mut self.journal {
            j.append(self.seq, op);
        }
        if self.opts.external_log {
            let start = self.group_ops.len();
            self.group_ops.extend_from_slice(&[0; 4]);
            op.encode(&mut self.group_ops);
            let len = (self.group_ops.len() - start - 4) as u32;
            self.group_ops[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }

    /// The changes recorded since the last call, encoded (for an external
    /// log; empty when the group wrote nothing). [`Store::apply_payload`]
    /// replays them on another store.
    pub fn take_group_payload(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.group_ops)
    }

    /// Whether the current group has changes not taken yet with
    /// [`Store::take_group_payload`].
    pub fn has_group_changes(&self) -> bool {
        !self.group_ops.is_empty()
    }

    /// Applies changes taken from another store with
    /// [`Store::take_group_payload`] (a Raft follower applying the
    /// leader's log), inside the open transaction. Read-only mode does not
    /// apply here: this is how a follower is written.
    pub fn apply_payload(&mut self, payload: &[u8]) -> StoreResult<()> {
        self.begin()?;
        let mut pos = 0usize;
        while pos < payload.len() {
            let len = payload
                .get(pos..pos + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or(StoreError::Corrupt("a replicated change is cut short"))?
                as usize;
            let op = payload
                .get(pos + 4..pos + 4 + len)
                .and_then(ops::Op::decode)
                .ok_or(StoreError::Corrupt("a replicated change does not decode"))?;
            pos += 4 + len;
            if matches!(op, ops::Op::SetFunctions { .. }) {
                self.functions_replicated = true;
            }
            if self.record_modified {
                op.modified_keys(&mut self.modified);
            }
            self.tx_wrote = true;
            self.seq += 1;
            self.apply(&op)?;
        }
        Ok(())
    }

    /// Whether replicated changes replaced the FUNCTION libraries since the
    /// last call (the caller reloads its Lua engine from the store).
    pub fn take_functions_replicated(&mut self) -> bool {
        std::mem::take(&mut self.functions_replicated)
    }

    /// Refuses (or allows again) every change made through commands; see
    /// [`StoreError::ReadOnly`]. Expired keys are then hidden but not
    /// deleted, as on a Redis replica.
    pub fn set_read_only(&mut self, on: bool) {
        self.read_only = on;
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Holds (or releases) commits: while held, [`Store::commit`] keeps the
    /// transaction open, whoever asks (SAVE, a WAL checkpoint, shutdown).
    pub fn hold_commits(&mut self, held: bool) {
        self.commits_held = held;
    }

    /// Rows every commit writes to the metadata table from now on.
    pub fn set_commit_meta(&mut self, rows: Vec<(&'static str, Vec<u8>)>) {
        self.commit_meta = rows;
    }

    /// SQLite commits made so far (tells a caller whether one happened).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Drops the open transaction (changes an external log did not
    /// confirm) and reloads what depends on it: the store is back at its
    /// last commit.
    pub fn rollback_uncommitted(&mut self) -> StoreResult<()> {
        self.forget_remembered();
        // Held key rows, pops and nodes belong to the transaction dropped here.
        self.held_rows.get_mut().clear();
        self.held_pops.get_mut().clear();
        self.held_nodes.get_mut().clear();
        if self.in_tx {
            self.conn.execute_batch("ROLLBACK")?;
            self.in_tx = false;
        }
        self.group_ops.clear();
        self.events.clear();
        self.load_meta()?;
        self.recount()
    }

    /// The key cache's bytes held, hits and misses (INFO).
    pub fn key_cache_stats(&self) -> (usize, u64, u64) {
        let c = &self.key_cache;
        (c.bytes(), c.hits, c.misses)
    }

    /// Bytes of list elements remembered in memory: heads LRANGE read
    /// (`listheads.rs`) and rows read ahead of pops (`listpops.rs`; INFO).
    pub fn list_memory_bytes(&self) -> usize {
        self.list_heads.bytes() + self.list_pops.bytes()
    }

    /// Replaces the whole store with the SQLite file at `src` (a Raft
    /// snapshot): the open transaction is dropped, `src` is moved over the
    /// data file and the store reopened on it.
    pub fn replace_with(&mut self, src: &Path) -> StoreResult<()> {
        self.rollback_uncommitted()?;
        // Close the data file (a Connection closes on drop) before moving
        // another file over it.
        self.statements.clear();
        let old = std::mem::replace(&mut self.conn, Box::new(Connection::open_in_memory()?));
        drop(old);
        // The old file's write-ahead log goes first: left beside the new
        // file, SQLite would replay it into it.
        for suffix in ["-wal", "-shm"] {
            let mut p = self.path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Replace {
                        path: p.display().to_string(),
                        source: e,
                    })
                }
            }
        }
        std::fs::rename(src, &self.path).map_err(|e| StoreError::Replace {
            path: self.path.display().to_string(),
            source: e,
        })?;
        self.statements.clear();
        *self.conn = Connection::open(&self.path).map_err(|e| StoreError::Open {
            path: self.path.display().to_string(),
            source: e,
        })?;
        schema::configure(&self.conn, &self.opts)?;
        schema::migrate(&self.conn)?;
        // The key cache and list ends were emptied by the rollback above.
        self.load_meta()?;
        self.recount()
    }

    /// Makes the changes of the current group durable (as the durability
    /// setting defines it) before their commands are acknowledged: writes
    /// them to the journal, or, without a journal, commits SQLite.
    ///
    /// On failure nothing of the group is kept: the store returns to its
    /// last durable state and the caller must answer every command of the
    /// group with an error.
    pub fn flush_group(&mut self) -> StoreResult<()> {
        let sync = self.durability == Durability::Always;
        let Some(j) = &mut self.journal else {
            if self.opts.external_log {
                return Ok(());
            }
            return self.commit();
        };
        if !j.has_pending() {
            return Ok(());
        }
        j.end_group(self.seq);
        if let Err(e) = j.flush(sync) {
            self.rebuild()?;
            return Err(StoreError::Journal(e));
        }
        self.write_epoch += 1;
        Ok(())
    }

    /// Whether the open transaction should be committed now.
    pub fn commit_due(&self) -> bool {
        self.in_tx
            && (self.tx_started.elapsed() >= self.commit_interval
                || self.journal.as_ref().is_some_and(|j| j.size() > 64 << 20))
    }

    /// Commits the open SQLite transaction (after flushing the group), then
    /// empties the journal, whose changes are now all in SQLite.
    ///
    /// If SQLite cannot commit, the transaction is rolled back and the
    /// journal replayed, so nothing acknowledged is lost; the error is
    /// returned for the caller to report.
    pub fn commit(&mut self) -> StoreResult<()> {
        // With an external log, changes it has not been handed yet
        // (take_group_payload) are as unconfirmed as held ones.
        if !self.in_tx || self.commits_held || !self.group_ops.is_empty() {
            return Ok(());
        }
        if self.journal.as_ref().is_some_and(|j| j.has_pending()) {
            self.flush_group()?;
        }
        let wrote = self.tx_wrote;
        let result = (|| -> StoreResult<()> {
            self.write_held_pops()?;
            self.write_held_nodes()?;
            self.write_held_rows()?;
            if wrote {
                self.stmt(
                    "INSERT OR REPLACE INTO ferry_meta (name, value) VALUES ('applied_seq', ?1)",
                )?
                .execute([self.seq as i64])?;
                for (name, value) in &self.commit_meta {
                    self.stmt("INSERT OR REPLACE INTO ferry_meta (name, value) VALUES (?1, ?2)")?
                        .execute(rusqlite::params![name, value])?;
                }
            }
            self.conn.execute_batch("COMMIT")?;
            Ok(())
        })();
        self.in_tx = false;
        if let Err(e) = result {
            if self.opts.external_log {
                // The caller's log still holds every change.
                self.rollback_uncommitted()?;
            } else {
                self.rebuild()?;
            }
            return Err(e);
        }
        self.commits += 1;
        if wrote {
            if self.journal.is_none() {
                self.write_epoch += 1;
            }
            if let Some(j) = &mut self.journal {
                j.reset().map_err(StoreError::Journal)?;
            }
        }
        Ok(())
    }

    /// Drops every change not made durable yet (the current group): the
    /// store returns to the last SQLite commit plus the journal. Used when
    /// the server stops in the middle of a group (SHUTDOWN NOSAVE during a
    /// busy script), so half a script is never kept.
    pub fn discard_uncommitted(&mut self) -> StoreResult<()> {
        self.rebuild()
    }

    /// Returns to the last durable state: the last SQLite commit plus the
    /// journal.
    fn rebuild(&mut self) -> StoreResult<()> {
        self.forget_remembered();
        // Held key rows, pops and nodes belong to the transaction dropped
        // here; the journal's replay below holds them again.
        self.held_rows.get_mut().clear();
        self.held_pops.get_mut().clear();
        self.held_nodes.get_mut().clear();
        if self.in_tx {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.in_tx = false;
        }
        self.load_meta()?;
        self.recount()?;
        let journaling = self.journal.is_some();
        self.journal = None;
        self.recover(journaling)
    }

    /// Replays the journal's changes that SQLite has not committed, then
    /// commits them. With `journaling`, keeps the journal open for new changes.
    fn recover(&mut self, journaling: bool) -> StoreResult<()> {
        let (mut journal, recovered) = journal::Journal::open(&self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::InUse(e.to_string())
            } else {
                StoreError::Journal(e)
            }
        })?;
        if recovered.dropped_bytes > 0 {
            log::warn!(
                "{}: dropped {} bytes of a record cut short by a crash (never acknowledged)",
                journal.path().display(),
                recovered.dropped_bytes
            );
        }
        let pending: Vec<_> = recovered
            .ops
            .into_iter()
            .filter(|(seq, _)| *seq > self.seq)
            .collect();
        if !pending.is_empty() {
            log::info!(
                "replaying {} changes from {}",
                pending.len(),
                journal.path().display()
            );
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_tx = true;
            self.tx_wrote = true;
            for (seq, op) in &pending {
                self.apply(op)?;
                self.seq = *seq;
            }
            self.commit()?;
        }
        journal.reset().map_err(StoreError::Journal)?;
        if journaling {
            self.journal = Some(journal);
        } else {
            drop(journal);
            let _ = std::fs::remove_file(journal::Journal::path_for(&self.path));
        }
        Ok(())
    }

    /// The redo journal's file, which a background syncer may fsync.
    pub fn journal_path(&self) -> Option<PathBuf> {
        self.journal.as_ref().map(|j| j.path().to_path_buf())
    }

    /// Counts commits that wrote data; see [`Store::wal_path`].
    pub fn write_epoch(&self) -> u64 {
        self.write_epoch
    }

    /// Writes the WAL back into the main file and fsyncs it (SAVE/BGSAVE).
    pub fn checkpoint(&mut self) -> StoreResult<()> {
        let was_open = self.in_tx;
        self.commit()?;
        if self.in_tx {
            // Commits are held: the checkpoint waits for the next one.
            return Ok(());
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        if was_open {
            self.begin()?;
        }
        Ok(())
    }

    /// The write-ahead log's size bound. SQLite reuses the log file from
    /// its start once a checkpoint has copied every frame (a restart) but
    /// never shrinks it by itself; `journal_size_limit` cuts a log that a
    /// large transaction grew back to this at the restart. A server
    /// checkpoints on its own thread when the log in use outgrows it
    /// ([`Store::checkpoint_passive`]).
    pub fn wal_limit_bytes(&self) -> u64 {
        self.opts.wal_limit_bytes()
    }

    /// Commits, then copies the committed WAL frames not checkpointed yet
    /// back into the database file, so that the next transaction restarts
    /// the log (a server does this when its log outgrows
    /// [`Store::wal_limit_bytes`]). False when the transaction could not
    /// be committed yet (commits held, or changes an external log has not
    /// taken): nothing was done.
    pub fn checkpoint_passive(&mut self) -> StoreResult<bool> {
        let was_open = self.in_tx;
        self.commit()?;
        if self.in_tx {
            return Ok(false);
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        if was_open {
            self.begin()?;
        }
        Ok(true)
    }

    /// Keys created and keys removed by expiry since the last call, in the
    /// order they happened (for notifications and statistics).
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }

    /// Turns on (or off) the recording of changed keys returned by
    /// [`Store::take_modified`]. Off, nothing is recorded: the hook costs
    /// nothing when no client uses client-side caching.
    pub fn record_modified(&mut self, on: bool) {
        self.record_modified = on;
        if !on {
            self.modified.clear();
        }
    }

    /// Keys changed since the last call, in order: every write path (a
    /// command, a script, an expiry on access or by the sweep) goes through
    /// the journaled ops this is recorded from.
    pub fn take_modified(&mut self) -> Vec<Modified> {
        std::mem::take(&mut self.modified)
    }

    /// Whether [`Store::take_modified`] has something.
    pub fn has_modified(&self) -> bool {
        !self.modified.is_empty()
    }

    pub(crate) fn push_event(&mut self, e: StoreEvent) {
        if let StoreEvent::New { db, key } = &e {
            if !self.watch_absent.is_empty() {
                let k = (*db, key.clone());
                if self.watch_absent.remove(&k) {
                    self.created_watched.push(k);
                }
            }
        }
        self.events.push(e);
    }

    /// Reports the creation of `key` in `db` through
    /// [`Store::take_created_watched`]: WATCH needs it for a key that was
    /// absent, because one created and deleted again before EXEC leaves no
    /// version to compare. Returns true when the set has grown past its
    /// bound and the caller should rebuild it
    /// ([`Store::reset_watch_creations`]) from the keys still watched.
    pub fn watch_creation(&mut self, db: usize, key: &[u8]) -> bool {
        self.watch_absent.insert((db, key.to_vec()));
        self.watch_absent.len() > self.watch_absent_limit
    }

    /// Replaces the keys [`Store::watch_creation`] looks out for.
    pub fn reset_watch_creations(&mut self, keys: impl IntoIterator<Item = (usize, Vec<u8>)>) {
        self.watch_absent = keys.into_iter().collect();
        self.watch_absent_limit = (2 * self.watch_absent.len()).max(WATCH_ABSENT_MIN);
    }

    /// The watched-while-absent keys created since the last call.
    pub fn take_created_watched(&mut self) -> Vec<(usize, Vec<u8>)> {
        std::mem::take(&mut self.created_watched)
    }

    pub fn dbsize(&self, db: usize) -> i64 {
        self.key_counts[db]
    }

    pub fn expires_count(&self, db: usize) -> i64 {
        self.expire_counts[db]
    }

    /// Reads the SWAPDB mapping and the next key id.
    fn load_meta(&mut self) -> StoreResult<()> {
        // Runs on a just opened or rolled back store, so on raw SQL.
        debug_assert!(self.held_rows.get_mut().is_empty());
        debug_assert!(self.held_pops.get_mut().is_empty());
        debug_assert!(self.held_nodes.get_mut().is_empty());
        let map: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM ferry_meta WHERE name = 'db_slots'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(map) = map {
            let slots: Vec<u8> = map.split(',').filter_map(|s| s.parse().ok()).collect();
            let mut sorted = slots.clone();
            sorted.sort_unstable();
            if sorted != (0..DATABASES as u8).collect::<Vec<_>>() {
                return Err(StoreError::Corrupt("bad db_slots mapping"));
            }
            self.db_slots.copy_from_slice(&slots);
        } else {
            // Never swapped (as of the last commit): a rolled back SWAPDB
            // must not leave its mapping behind.
            self.db_slots = std::array::from_fn(|i| i as u8);
        }
        let mut max_id = 0i64;
        let mut stmt = self
            .conn
            .prepare("SELECT max(id) FROM keys WHERE db = ?1")?;
        for slot in 0..DATABASES as i64 {
            let m: Option<i64> = stmt.query_row([slot], |r| r.get(0))?;
            max_id = max_id.max(m.unwrap_or(0));
        }
        self.next_id = max_id + 1;
        self.seq = self
            .conn
            .query_row(
                "SELECT value FROM ferry_meta WHERE name = 'applied_seq'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0) as u64;
        Ok(())
    }

    fn recount(&mut self) -> StoreResult<()> {
        debug_assert!(self.held_rows.get_mut().is_empty());
        debug_assert!(self.held_pops.get_mut().is_empty());
        debug_assert!(self.held_nodes.get_mut().is_empty());
        self.key_counts = [0; DATABASES];
        self.expire_counts = [0; DATABASES];
        let mut stmt = self
            .conn
            .prepare("SELECT db, count(*), count(expire_at) FROM keys GROUP BY db")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (slot, n, e) = row?;
            if let Some(db) = self.db_slots.iter().position(|s| *s as i64 == slot) {
                self.key_counts[db] = n;
                self.expire_counts[db] = e;
            }
        }
        Ok(())
    }
}
