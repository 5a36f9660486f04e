//! Background WAL checkpoints.
//!
//! Every commit appends the pages it changed to the write-ahead log; a
//! checkpoint copies them back into the database file. Done on the writer's
//! thread (SQLite's default), that copy stalls every command for the time it
//! takes. A [`Checkpointer`] owns a second connection to the same file and
//! runs PASSIVE checkpoints, which never block the writer, from another
//! thread.

use crate::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

pub struct Checkpointer {
    conn: Connection,
    /// Bytes of one WAL frame: a page and its 24-byte header.
    frame_bytes: u64,
}

/// What one checkpoint did, in WAL frames (pages).
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointReport {
    pub wal_frames: i64,
    pub checkpointed: i64,
}

impl CheckpointReport {
    /// Whether every frame of the log is in the database file.
    pub fn complete(&self) -> bool {
        self.checkpointed == self.wal_frames
    }
}

impl Checkpointer {
    pub fn open(path: &Path) -> StoreResult<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            source: e,
        })?;
        conn.busy_timeout(std::time::Duration::from_millis(100))?;
        // The writer decides durability; a checkpoint always fsyncs the WAL
        // before copying and the database file after, when synchronous is on.
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-2048;")?;
        let page: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(Checkpointer {
            conn,
            frame_bytes: page + 24,
        })
    }

    /// Bytes of the log in use when `report` was made (frames since the
    /// log last restarted; the file itself may be larger, as SQLite
    /// reuses it from its start).
    pub fn log_bytes(&self, report: &CheckpointReport) -> u64 {
        report.wal_frames.max(0) as u64 * self.frame_bytes
    }

    /// Runs one PASSIVE checkpoint: copies as many committed frames as
    /// possible without waiting for the writer.
    pub fn run(&mut self) -> StoreResult<CheckpointReport> {
        let (busy, log, done): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        let _ = busy;
        Ok(CheckpointReport {
            wal_frames: log,
            checkpointed: done,
        })
    }
}
