//! The Raft log and vote, in their own SQLite file next to the store
//! (`<data>-raft.db`).
//!
//! openraft must never be blocked by disk IO in its trait methods, so one
//! thread does every write in order; `append` returns at once and signals
//! openraft through `LogFlushed` when the entries are on disk. Recent
//! entries stay in memory for the replication readers; older ones are read
//! back from the file.

use crate::types::{decode, encode, Entry, LogId, StorageError, TypeConfig, Vote};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

/// Entries kept in memory past the last one written to disk.
const CACHE_ENTRIES: usize = 4096;

enum Io {
    Append(Vec<(u64, Vec<u8>)>, u64, LogFlushed<TypeConfig>),
    Meta {
        name: &'static str,
        value: Vec<u8>,
        /// fsync whatever the durability setting (the vote).
        durable: bool,
        done: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
    },
    TruncateFrom(u64, tokio::sync::oneshot::Sender<Result<(), String>>),
    PurgeUpTo(u64, tokio::sync::oneshot::Sender<Result<(), String>>),
}

#[derive(Default)]
struct Cache {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    /// Highest index written to disk (entries up to it may leave the cache).
    flushed: u64,
}

/// The log store; clones share everything (openraft takes readers from it).
#[derive(Clone)]
pub struct LogStore {
    cache: Arc<Mutex<Cache>>,
    /// A second connection for reading entries that left the cache.
    reader: Arc<Mutex<Connection>>,
    io: mpsc::Sender<Io>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

fn io_err(e: impl ToString) -> StorageError {
    StorageIOError::write_logs(&std::io::Error::other(e.to_string())).into()
}

fn read_err(e: impl ToString) -> StorageError {
    StorageIOError::read_logs(&std::io::Error::other(e.to_string())).into()
}

impl LogStore {
    /// Opens (creating) the log at `path`. With `fsync`, every append is
    /// on disk before openraft counts it (durability always); otherwise a
    /// crash of the process loses nothing, a power loss the last moments.
    pub fn open(path: &Path, fsync: bool) -> Result<LogStore, String> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={};
                 CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);",
                if fsync { "FULL" } else { "NORMAL" }
            ))?;
            Ok(conn)
        };
        let what = |e: rusqlite::Error| format!("cannot open the Raft log {}: {e}", path.display());
        let conn = open().map_err(what)?;
        let reader = open().map_err(what)?;
        let get = |name: &str| -> Result<Option<Vec<u8>>, String> {
            conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| e.to_string())
        };
        let damaged = |what: &str, e: String| {
            format!(
                "the Raft log {} is damaged ({what}: {e}); move it away to rejoin from a snapshot",
                path.display()
            )
        };
        let mut cache = Cache::default();
        if let Some(b) = get("purged")? {
            cache.last_purged = decode(&b).map_err(|e| damaged("purged", e))?;
        }
        let vote = get("vote")?
            .map(|b| decode::<Vote>(&b))
            .transpose()
            .map_err(|e| damaged("vote", e))?;
        let committed = match get("committed")? {
            Some(b) => decode(&b).map_err(|e| damaged("committed", e))?,
            None => None,
        };
        {
            let mut st = conn
                .prepare("SELECT idx, entry FROM log ORDER BY idx DESC LIMIT ?1")
                .map_err(|e| e.to_string())?;
            let rows = st
                .query_map([CACHE_ENTRIES as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(|e| e.to_string())?;
            for row in rows {
                let (idx, bytes) = row.map_err(|e| e.to_string())?;
                let e: Entry = decode(&bytes).map_err(|e| damaged("entry", e))?;
                cache.flushed = cache.flushed.max(idx as u64);
                cache.entries.insert(e.log_id.index, e);
            }
        }
        let (tx, rx) = mpsc::channel::<Io>();
        let cache = Arc::new(Mutex::new(cache));
        let thread_cache = cache.clone();
        std::thread::Builder::new()
            .name("ferry-raft-log".into())
            .spawn(move || write_loop(conn, rx, thread_cache, fsync))
            .map_err(|e| e.to_string())?;
        Ok(LogStore {
            cache,
            reader: Arc::new(Mutex::new(reader)),
            io: tx,
            vote,
            committed,
        })
    }

    async fn call(
        &self,
        f: impl FnOnce(tokio::sync::oneshot::Sender<Result<(), String>>) -> Io,
    ) -> Result<(), StorageError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.io.send(f(tx)).map_err(io_err)?;
        rx.await.map_err(io_err)?.map_err(io_err)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves consistent data (every
        // update is a single map operation): keep going.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer thread: every disk write, in the order openraft asked.
fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Io>, cache: Arc<Mutex<Cache>>, fsync: bool) {
    while let Ok(io) = rx.recv() {
        match io {
            Io::Append(rows, last, flushed) => {
                let r = (|| -> rusqlite::Result<()> {
                    let tx = conn.transaction()?;
                    {
                        let mut st =
                            tx.prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")?;
                        for (i, b) in &rows {
                            st.execute(rusqlite::params![*i as i64, b])?;
                        }
                    }
                    tx.commit()
                })();
                if let Err(e) = &r {
                    log::error!("cannot write the Raft log: {e} (is the disk full?); this node stops taking part until restarted");
                } else {
                    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
                    c.flushed = c.flushed.max(last);
                    // Keep the cache bounded: entries on disk may go.
                    while c.entries.len() > CACHE_ENTRIES {
                        match c.entries.first_key_value() {
                            Some((&i, _)) if i <= c.flushed => {
                                c.entries.pop_first();
                            }
                            _ => break,
                        }
                    }
                }
                flushed.log_io_completed(r.map_err(std::io::Error::other));
            }
            Io::Meta {
                name,
                value,
                durable,
                done,
            } => {
                let r = (|| -> rusqlite::Result<()> {
                    if durable && !fsync {
                        conn.execute_batch("PRAGMA synchronous=FULL")?;
                    }
                    let r = conn.execute(
                        "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
                        rusqlite::params![name, value],
                    );
                    if durable && !fsync {
                        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
                    }
                    r.map(|_| ())
                })();
                if let Err(e) = &r {
                    log::error!("cannot write the Raft {name}: {e} (is the disk full?)");
                }
                if let Some(done) = done {
                    let _ = done.send(r.map_err(|e| e.to_string()));
                }
            }
            Io::TruncateFrom(i, done) => {
                let r = conn.execute("DELETE FROM log WHERE idx >= ?1", [i as i64]);
                let _ = done.send(r.map(|_| ()).map_err(|e| e.to_string()));
            }
            Io::PurgeUpTo(i, done) => {
                let r = conn.execute("DELETE FROM log WHERE idx <= ?1", [i as i64]);
                let _ = done.send(r.map(|_| ()).map_err(|e| e.to_string()));
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => 0,
        };
        {
            let c = self.cache();
            let cached_from = c.entries.first_key_value().map(|(&i, _)| i);
            if cached_from.is_some_and(|f| f <= start) {
                return Ok(c.entries.range(range).map(|(_, e)| e.clone()).collect());
            }
        }
        // Older than the cache: read the file (replication to a follower
        // that fell behind).
        let end = match range.end_bound() {
            Bound::Included(&i) => i as i64,
            Bound::Excluded(&i) => i as i64 - 1,
            Bound::Unbounded => i64::MAX,
        };
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = conn
            .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx")
            .map_err(read_err)?;
        let rows = st
            .query_map(rusqlite::params![start as i64, end], |r| r.get::<_, Vec<u8>>(0))
            .map_err(read_err)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode::<Entry>(&row.map_err(read_err)?).map_err(read_err)?);
        }
        // Entries appended but not yet written are in the cache.
        let have = out.last().map(|e| e.log_id.index + 1).unwrap_or(start);
        let c = self.cache();
        out.extend(
            c.entries
                .range(have..)
                .filter(|(&i, _)| range.contains(&i))
                .map(|(_, e)| e.clone()),
        );
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let c = self.cache();
        let last = c
            .entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(c.last_purged);
        Ok(LogState {
            last_purged_log_id: c.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        // Durable before returning, whatever --durability says: a node that
        // forgot its vote could vote twice in one term.
        let value = encode(vote).map_err(io_err)?;
        self.call(|done| Io::Meta {
            name: "vote",
            value,
            durable: true,
            done: Some(done),
        })
        .await?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Optional state (it only shortens recovery): never wait for it.
        self.committed = committed;
        let value = encode(&committed).map_err(io_err)?;
        self.io
            .send(Io::Meta {
                name: "committed",
                value,
                durable: false,
                done: None,
            })
            .map_err(io_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut rows = Vec::new();
        let mut last = 0;
        {
            let mut c = self.cache();
            for e in entries {
                rows.push((e.log_id.index, encode(&e).map_err(io_err)?));
                last = e.log_id.index;
                c.entries.insert(e.log_id.index, e);
            }
        }
        self.io
            .send(Io::Append(rows, last, callback))
            .map_err(io_err)
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut c = self.cache();
            c.entries.split_off(&log_id.index);
            c.flushed = c.flushed.min(log_id.index.saturating_sub(1));
        }
        self.call(|done| Io::TruncateFrom(log_id.index, done)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut c = self.cache();
            c.last_purged = Some(log_id);
            let keep = c.entries.split_off(&(log_id.index + 1));
            c.entries = keep;
        }
        let value = encode(&Some(log_id)).map_err(io_err)?;
        self.call(|done| Io::Meta {
            name: "purged",
            value,
            durable: false,
            done: Some(done),
        })
        .await?;
        self.call(|done| Io::PurgeUpTo(log_id.index, done)).await
    }
}
