//! State machine on SQLite. Snapshot = consistent copy of the DB file (backup API from a
//! separate read connection inside one read transaction), shipped as a tokio::fs::File.
use crate::types::*;
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError, StoredMembership};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> { bincode::serialize(v).unwrap() }
fn dec<T: serde::de::DeserializeOwned>(b: &[u8]) -> T { bincode::deserialize(b).unwrap() }

pub struct Inner {
    pub conn: rusqlite::Connection,
    dir: PathBuf,
    db: PathBuf,
    receiving: Option<PathBuf>,
    current: Option<(SnapshotMeta<NodeId, FerryNode>, PathBuf)>,
    snap_seq: u64,
}

#[derive(Clone)]
pub struct Sm(pub Arc<Mutex<Inner>>);

fn open_db(p: &PathBuf) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(p).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
        CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB);").unwrap();
    c
}

fn read_meta(c: &rusqlite::Connection) -> (Option<LogId>, StoredMembership<NodeId, FerryNode>) {
    let get = |k: &str| -> Option<Vec<u8>> { c.query_row("SELECT v FROM meta WHERE k=?", [k], |r| r.get(0)).ok() };
    (get("applied").map(|b| dec(&b)).flatten(), get("membership").map(|b| dec(&b)).unwrap_or_default())
}

impl Sm {
    pub fn open(dir: &str) -> Self {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("store.db");
        Sm(Arc::new(Mutex::new(Inner { conn: open_db(&db), dir, db, receiving: None, current: None, snap_seq: 0 })))
    }
    pub fn count(&self) -> i64 {
        self.0.lock().unwrap().conn.query_row("SELECT count(*) FROM kv", [], |r| r.get(0)).unwrap()
    }
}

impl RaftSnapshotBuilder<TC> for Sm {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TC>, StorageError> {
        let (db, path) = {
            let mut g = self.0.lock().unwrap();
            g.snap_seq += 1;
            (g.db.clone(), g.dir.join(format!("snap-{}.db", g.snap_seq)))
        };
        // Off the async threads: separate connection, one read txn => consistent file + meta.
        let p2 = path.clone();
        let meta = tokio::task::spawn_blocking(move || -> rusqlite::Result<_> {
            let mut src = rusqlite::Connection::open(&db)?;
            let tx = src.transaction()?; // BEGIN (deferred)
            let (applied, membership) = read_meta(&tx);
            let mut dst = rusqlite::Connection::open(&p2)?;
            {
                let b = rusqlite::backup::Backup::new(&tx, &mut dst)?;
                let st = b.step(-1)?; // one step = one read snapshot
                assert!(matches!(st, rusqlite::backup::StepResult::Done));
            }
            drop(dst);
            tx.commit()?;
            Ok((applied, membership))
        }).await.unwrap().map_err(|e| StorageIOError::read_state_machine(&e))?;
        let (applied, membership) = meta;
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id: format!("{}-{}", applied.map(|l| l.index).unwrap_or(0), path.display()),
        };
        let f = tokio::fs::File::open(&path).await.map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        self.0.lock().unwrap().current = Some((meta.clone(), path));
        Ok(Snapshot { meta, snapshot: Box::new(f) })
    }
}

impl RaftStateMachine<TC> for Sm {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership<NodeId, FerryNode>), StorageError> {
        Ok(read_meta(&self.0.lock().unwrap().conn))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where I: IntoIterator<Item = Entry> + Send, I::IntoIter: Send {
        let mut g = self.0.lock().unwrap();
        let tx = g.conn.transaction().map_err(|e| StorageIOError::write_state_machine(&e))?;
        let mut out = Vec::new();
        for e in entries {
            match &e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(grp) => {
                    for (k, v) in &grp.ops {
                        tx.execute("INSERT OR REPLACE INTO kv VALUES (?,?)", rusqlite::params![k, v]).unwrap();
                    }
                }
                EntryPayload::Membership(m) => {
                    let sm = StoredMembership::new(Some(e.log_id), m.clone());
                    tx.execute("INSERT OR REPLACE INTO meta VALUES ('membership',?)", [enc(&sm)]).unwrap();
                }
            }
            tx.execute("INSERT OR REPLACE INTO meta VALUES ('applied',?)", [enc(&Some(e.log_id))]).unwrap();
            out.push(());
        }
        tx.commit().map_err(|e| StorageIOError::write_state_machine(&e))?;
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder { self.clone() }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let p = {
            let mut g = self.0.lock().unwrap();
            g.snap_seq += 1;
            let p = g.dir.join(format!("recv-{}.db", g.snap_seq));
            g.receiving = Some(p.clone());
            p
        };
        let f = tokio::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true)
            .open(&p).await.map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(Box::new(f))
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta<NodeId, FerryNode>, mut snapshot: Box<tokio::fs::File>)
        -> Result<(), StorageError> {
        snapshot.sync_all().await.map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        drop(snapshot);
        let mut g = self.0.lock().unwrap();
        let recv = g.receiving.take().expect("receiving path");
        // Replace the store file: close, swap, reopen.
        let db = g.db.clone();
        g.conn = rusqlite::Connection::open_in_memory().unwrap(); // drop old handle
        let _ = std::fs::remove_file(db.with_extension("db-wal"));
        let _ = std::fs::remove_file(db.with_extension("db-shm"));
        std::fs::copy(&recv, &db).unwrap();
        g.conn = open_db(&db);
        let (applied, _) = read_meta(&g.conn);
        assert_eq!(applied, meta.last_log_id, "snapshot file's own applied id must match meta");
        g.current = Some((meta.clone(), recv));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TC>>, StorageError> {
        let cur = self.0.lock().unwrap().current.clone();
        match cur {
            None => Ok(None),
            Some((meta, path)) => {
                let f = tokio::fs::File::open(&path).await.map_err(|e| StorageIOError::read_snapshot(None, &e))?;
                Ok(Some(Snapshot { meta, snapshot: Box::new(f) }))
            }
        }
    }
}
