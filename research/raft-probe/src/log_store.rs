//! Raft log + vote in a separate SQLite file, written by one std thread (serialized IO),
//! with an in-memory tail cache so `append` returns at once and readers see entries.
use crate::types::*;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{mpsc, Arc, Mutex};

enum Io {
    Append(Vec<(u64, Vec<u8>)>, LogFlushed<TC>),
    Meta(&'static str, Vec<u8>, tokio::sync::oneshot::Sender<rusqlite::Result<()>>),
    TruncateFrom(u64, tokio::sync::oneshot::Sender<rusqlite::Result<()>>),
    PurgeUpto(u64, tokio::sync::oneshot::Sender<rusqlite::Result<()>>),
}

#[derive(Default)]
struct Cache {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
}

#[derive(Clone)]
pub struct LogStore {
    cache: Arc<Mutex<Cache>>,
    io: mpsc::Sender<Io>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> { bincode::serialize(v).unwrap() }
fn dec<T: serde::de::DeserializeOwned>(b: &[u8]) -> T { bincode::deserialize(b).unwrap() }

impl LogStore {
    pub fn open(path: &str, fsync: bool) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={};
             CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);",
            if fsync { "FULL" } else { "NORMAL" }
        ))?;
        let mut cache = Cache::default();
        {
            let mut st = conn.prepare("SELECT entry FROM log ORDER BY idx")?;
            let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            for r in rows {
                let e: Entry = dec(&r?);
                cache.entries.insert(e.log_id.index, e);
            }
        }
        let get = |k: &str| -> Option<Vec<u8>> {
            conn.query_row("SELECT v FROM meta WHERE k=?", [k], |r| r.get(0)).ok()
        };
        cache.last_purged = get("purged").and_then(|b| dec::<Option<LogId>>(&b));
        let vote = get("vote").map(|b| dec(&b));
        let committed = get("committed").and_then(|b| dec::<Option<LogId>>(&b));
        let (tx, rx) = mpsc::channel::<Io>();
        std::thread::Builder::new().name("raft-log".into()).spawn(move || {
            let mut conn = conn;
            while let Ok(io) = rx.recv() {
                match io {
                    Io::Append(rows, cb) => {
                        let r = (|| {
                            let tx = conn.transaction()?;
                            {
                                let mut st = tx.prepare_cached("INSERT OR REPLACE INTO log VALUES (?,?)")?;
                                for (i, b) in &rows { st.execute(rusqlite::params![*i as i64, b])?; }
                            }
                            tx.commit() // FULL: fsync of the WAL here
                        })();
                        cb.log_io_completed(r.map_err(std::io::Error::other));
                    }
                    Io::Meta(k, v, done) => {
                        let _ = done.send(conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", rusqlite::params![k, v]).map(|_| ()));
                    }
                    Io::TruncateFrom(i, done) => {
                        let _ = done.send(conn.execute("DELETE FROM log WHERE idx >= ?", [i as i64]).map(|_| ()));
                    }
                    Io::PurgeUpto(i, done) => {
                        let _ = done.send(conn.execute("DELETE FROM log WHERE idx <= ?", [i as i64]).map(|_| ()));
                    }
                }
            }
        })?;
        Ok(Self { cache: Arc::new(Mutex::new(cache)), io: tx, vote, committed })
    }

    async fn call(&self, f: impl FnOnce(tokio::sync::oneshot::Sender<rusqlite::Result<()>>) -> Io) -> Result<(), StorageError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.io.send(f(tx)).map_err(|e| StorageIOError::write(&e))?;
        rx.await.map_err(|e| StorageIOError::write(&e))?.map_err(|e| StorageIOError::write(&e).into())
    }
}

impl RaftLogReader<TC> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let c = self.cache.lock().unwrap();
        Ok(c.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TC> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TC>, StorageError> {
        let c = self.cache.lock().unwrap();
        let last = c.entries.iter().next_back().map(|(_, e)| e.log_id).or(c.last_purged);
        Ok(LogState { last_purged_log_id: c.last_purged, last_log_id: last })
    }
    async fn get_log_reader(&mut self) -> Self::LogReader { self.clone() }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        // Must be durable before returning, whatever ferry's --durability says.
        self.call(|tx| Io::Meta("vote", enc(vote), tx)).await?;
        self.vote = Some(*vote);
        Ok(())
    }
    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> { Ok(self.vote) }

    async fn save_committed(&mut self, c: Option<LogId>) -> Result<(), StorageError> {
        // Fire-and-forget: never make RaftCore wait for an fsync here (it is optional state).
        self.committed = c;
        let (tx, _rx) = tokio::sync::oneshot::channel();
        self.io.send(Io::Meta("committed", enc(&c), tx)).map_err(|e| StorageIOError::write(&e).into())
    }
    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> { Ok(self.committed) }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TC>) -> Result<(), StorageError>
    where I: IntoIterator<Item = Entry> + Send, I::IntoIter: Send {
        let mut rows = Vec::new();
        {
            let mut c = self.cache.lock().unwrap();
            for e in entries {
                rows.push((e.log_id.index, enc(&e)));
                c.entries.insert(e.log_id.index, e);
            }
        }
        self.io.send(Io::Append(rows, callback)).map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache.lock().unwrap().entries.split_off(&log_id.index);
        self.call(|tx| Io::TruncateFrom(log_id.index, tx)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut c = self.cache.lock().unwrap();
            c.last_purged = Some(log_id);
            let keep = c.entries.split_off(&(log_id.index + 1));
            c.entries = keep;
        }
        self.call(|tx| Io::Meta("purged", enc(&Some(log_id)), tx)).await?;
        self.call(|tx| Io::PurgeUpto(log_id.index, tx)).await
    }
}
