//! The state machine is ferry's store, owned by the executor thread: this
//! side forwards applied entries and installed snapshots to the executor
//! ([`SmEvent`]) and builds snapshots as consistent copies of the store file
//! (SQLite's backup API on a second connection, inside one read
//! transaction, so the copy and its "applied up to" record agree).

use crate::types::{
    decode, encode, Entry, FerryNode, Group, LogId, Membership, SnapshotMeta, StorageError,
    TypeConfig,
};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Names of the rows in the store's `ferry_meta` table that say how far the
/// store has applied the log; the executor writes them with the data they
/// describe, in the same SQLite transaction.
pub const META_APPLIED: &str = "raft_applied";
pub const META_MEMBERSHIP: &str = "raft_membership";

/// One applied log entry, as the executor sees it.
pub struct Applied {
    pub log_id: LogId,
    /// The changes, for a normal entry (blank and membership entries have none).
    pub group: Option<Group>,
}

/// What the state machine asks of the executor.
pub enum SmEvent {
    /// Apply these entries in order, then answer.
    Apply {
        entries: Vec<Applied>,
        /// The `ferry_meta` rows to commit with them (see [`META_APPLIED`]).
        meta: Vec<(&'static str, Vec<u8>)>,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Commit SQLite now (as soon as nothing unconfirmed is in it), so a
    /// snapshot copies the store up to everything applied.
    Commit {
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Replace the store with this SQLite file (a snapshot from the leader).
    Install {
        file: PathBuf,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// Hands an event to the executor (ferry-server wraps it in a job).
pub type SmSink = Arc<dyn Fn(SmEvent) + Send + Sync>;

#[derive(Clone, Default)]
struct Progress {
    applied: Option<LogId>,
    membership: Membership,
}

#[derive(Default)]
struct Snapshots {
    /// The last snapshot built or installed, kept to send to followers.
    current: Option<(SnapshotMeta, PathBuf)>,
    receiving: Option<PathBuf>,
}

/// The state machine handle (clones share state).
#[derive(Clone)]
pub struct StateMachine {
    data: PathBuf,
    dir: PathBuf,
    sink: SmSink,
    progress: Arc<Mutex<Progress>>,
    snapshots: Arc<Mutex<Snapshots>>,
}

fn sm_err(e: impl ToString) -> StorageError {
    StorageIOError::write_state_machine(&std::io::Error::other(e.to_string())).into()
}

fn snap_err(e: impl ToString) -> StorageError {
    StorageIOError::read_snapshot(None, &std::io::Error::other(e.to_string())).into()
}

/// The `ferry_meta` rows that record `applied` and `membership`.
pub fn meta_rows(
    applied: &Option<LogId>,
    membership: &Membership,
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    Ok(vec![
        (META_APPLIED, encode(applied)?),
        (META_MEMBERSHIP, encode(membership)?),
    ])
}

/// Reads how far the store file at `conn` has applied the log.
fn read_progress(conn: &Connection) -> Result<Progress, String> {
    let get = |name: &str| -> Result<Option<Vec<u8>>, String> {
        conn.query_row(
            "SELECT value FROM ferry_meta WHERE name = ?1",
            [name],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()
        .map_err(|e| e.to_string())
    };
    let applied = match get(META_APPLIED)? {
        Some(b) => decode(&b)?,
        None => None,
    };
    let membership = match get(META_MEMBERSHIP)? {
        Some(b) => decode(&b)?,
        None => Membership::default(),
    };
    Ok(Progress {
        applied,
        membership,
    })
}

impl StateMachine {
    /// The state machine for the store file `data` (already created by the
    /// store); snapshots live in `<data>-raft-snapshots/`.
    pub fn open(data: &Path, sink: SmSink) -> Result<StateMachine, String> {
        let mut dir = data.as_os_str().to_owned();
        dir.push("-raft-snapshots");
        let dir = PathBuf::from(dir);
        // Snapshots are rebuilt on demand: what a crash left here is stale.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let conn =
            Connection::open(data).map_err(|e| format!("cannot open {}: {e}", data.display()))?;
        let progress = read_progress(&conn).map_err(|e| {
            format!(
                "{}: cannot read how far it applied the Raft log: {e}",
                data.display()
            )
        })?;
        Ok(StateMachine {
            data: data.to_path_buf(),
            dir,
            sink,
            progress: Arc::new(Mutex::new(progress)),
            snapshots: Arc::new(Mutex::new(Snapshots::default())),
        })
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshots(&self) -> std::sync::MutexGuard<'_, Snapshots> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unique_path(&self, prefix: &str) -> PathBuf {
        self.dir
            .join(format!("{prefix}-{:016x}.db", rand::random::<u64>()))
    }

    async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), String>>) -> SmEvent,
    ) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        (self.sink)(make(tx));
        rx.await.map_err(|_| "the executor stopped".to_string())?
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // The copy reads what SQLite committed: commit first, or the
        // snapshot would lag what is applied and openraft would ask for
        // another at once.
        self.ask(|done| SmEvent::Commit { done })
            .await
            .map_err(snap_err)?;
        let data = self.data.clone();
        let path = self.unique_path("snapshot");
        let target = path.clone();
        let started = std::time::Instant::now();
        // Off the async threads; one read transaction makes the copy and
        // the applied id it records consistent.
        let progress = tokio::task::spawn_blocking(move || -> Result<Progress, String> {
            let mut src = Connection::open(&data).map_err(|e| e.to_string())?;
            let tx = src.transaction().map_err(|e| e.to_string())?;
            let progress = read_progress(&tx)?;
            let mut dst = Connection::open(&target).map_err(|e| e.to_string())?;
            {
                let backup =
                    rusqlite::backup::Backup::new(&tx, &mut dst).map_err(|e| e.to_string())?;
                // One step of all pages: the copy is one consistent read.
                match backup.step(-1).map_err(|e| e.to_string())? {
                    rusqlite::backup::StepResult::Done => {}
                    other => return Err(format!("the store copy stopped early ({other:?})")),
                }
            }
            drop(dst);
            tx.commit().map_err(|e| e.to_string())?;
            Ok(progress)
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;
        let meta = SnapshotMeta {
            last_log_id: progress.applied,
            last_membership: progress.membership,
            snapshot_id: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        log::info!(
            "raft: snapshot of the store up to log index {} ({} KiB) built in {:?}",
            meta.last_log_id.map(|l| l.index).unwrap_or(0),
            size / 1024,
            started.elapsed()
        );
        let file = tokio::fs::File::open(&path).await.map_err(snap_err)?;
        let old = self.snapshots().current.replace((meta.clone(), path));
        if let Some((_, old)) = old {
            let _ = std::fs::remove_file(old);
        }
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        let p = self.progress().clone();
        Ok((p.applied, p.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut progress = self.progress().clone();
        let mut applied = Vec::new();
        for e in entries {
            progress.applied = Some(e.log_id);
            let group = match e.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(g) => Some(g),
                EntryPayload::Membership(m) => {
                    progress.membership = Membership::new(Some(e.log_id), m);
                    None
                }
            };
            applied.push(Applied {
                log_id: e.log_id,
                group,
            });
        }
        let n = applied.len();
        let meta = meta_rows(&progress.applied, &progress.membership).map_err(sm_err)?;
        self.ask(|done| SmEvent::Apply {
            entries: applied,
            meta,
            done,
        })
        .await
        .map_err(sm_err)?;
        *self.progress() = progress;
        Ok(vec![(); n])
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.unique_path("receiving");
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .await
            .map_err(sm_err)?;
        let old = self.snapshots().receiving.replace(path);
        if let Some(old) = old {
            let _ = std::fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        snapshot.sync_all().await.map_err(sm_err)?;
        drop(snapshot);
        let received = self
            .snapshots()
            .receiving
            .take()
            .ok_or_else(|| sm_err("no snapshot was being received"))?;
        // Check the file before it replaces the store: it must be a store
        // that applied exactly what the leader says.
        let check = received.clone();
        let progress = tokio::task::spawn_blocking(move || {
            Connection::open(&check)
                .map_err(|e| e.to_string())
                .and_then(|c| read_progress(&c))
        })
        .await
        .map_err(sm_err)?
        .map_err(sm_err)?;
        if progress.applied != meta.last_log_id {
            return Err(sm_err(format!(
                "the snapshot file applied up to {:?}, its metadata says {:?}",
                progress.applied, meta.last_log_id
            )));
        }
        // Keep a copy to serve followers should this node lead.
        let kept = self.unique_path("snapshot");
        tokio::fs::copy(&received, &kept).await.map_err(sm_err)?;
        let started = std::time::Instant::now();
        self.ask(|done| SmEvent::Install {
            file: received,
            done,
        })
        .await
        .map_err(sm_err)?;
        log::info!(
            "raft: installed a snapshot of the leader's store up to log index {} in {:?}",
            meta.last_log_id.map(|l| l.index).unwrap_or(0),
            started.elapsed()
        );
        *self.progress() = progress;
        let old = self.snapshots().current.replace((meta.clone(), kept));
        if let Some((_, old)) = old {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let current = self.snapshots().current.clone();
        match current {
            None => Ok(None),
            Some((meta, path)) => {
                let file = tokio::fs::File::open(&path).await.map_err(snap_err)?;
                Ok(Some(Snapshot {
                    meta,
                    snapshot: Box::new(file),
                }))
            }
        }
    }
}

/// Node type helper for callers building memberships.
pub fn node(raft_addr: &str) -> FerryNode {
    FerryNode {
        raft_addr: raft_addr.to_string(),
    }
}
