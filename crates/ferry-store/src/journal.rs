//! The redo journal: what makes a write durable before SQLite commits it.
//!
//! Committing SQLite after every group of commands writes every page the
//! group touched to the WAL (4 KiB per randomly placed key), which caps write
//! throughput far below Redis. Instead, each change to the keyspace is
//! appended here as a small logical record ([`Op`]) and written (and fsynced,
//! with `durability always`) before the reply; SQLite commits every few
//! hundred milliseconds, when each hot page is written once for many changes.
//! This is Redis's AOF idea applied to a page store.
//!
//! File format: a sequence of records `[len: u32 LE][crc32: u32 LE][payload]`,
//! payload = `[seq: u64 LE][op]`. `seq` numbers every change; SQLite stores the
//! last one it committed (`ferry_meta.applied_seq`), so recovery replays only
//! the records after it. A record cut short or failing its checksum ends the
//! log: it was being written when the process or machine died and its
//! command was never acknowledged.

use crate::ops::Op;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    /// Records of the current group, not written yet.
    pending: Vec<u8>,
    /// Bytes in the file.
    written: u64,
}

/// Records read back at start-up.
pub(crate) struct Recovered {
    pub ops: Vec<(u64, Op)>,
    /// Bytes of a torn or corrupt tail that were dropped.
    pub dropped_bytes: u64,
}

impl Journal {
    /// The journal of the store at `db_path`.
    pub fn path_for(db_path: &Path) -> PathBuf {
        let mut p = db_path.as_os_str().to_owned();
        p.push("-ferrylog");
        PathBuf::from(p)
    }

    /// Opens (creating) the journal and reads back every intact record.
    pub fn open(db_path: &Path) -> io::Result<(Journal, Recovered)> {
        let path = Self::path_for(db_path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // One writer per store: a second process would replay and empty
        // this journal under the first one's feet. The lock goes with the
        // process, so a crash never leaves it behind.
        if let Err(e) = file.try_lock() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by another ferry process ({e}); stop it or choose another --data",
                    db_path.display()
                ),
            ));
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut ops = Vec::new();
        let mut pos = 0usize;
        while pos + 8 <= data.len() {
            let len = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]])
                as usize;
            let crc =
                u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
            let Some(payload) = data.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if crc32fast::hash(payload) != crc || payload.len() < 8 {
                break;
            }
            let seq = u64::from_le_bytes(payload[..8].try_into().unwrap_or([0; 8]));
            let Some(op) = Op::decode(&payload[8..]) else {
                break;
            };
            ops.push((seq, op));
            pos += 8 + len;
        }
        // Only whole groups count: drop what follows the last barrier.
        let whole = ops
            .iter()
            .rposition(|(_, op)| *op == Op::Barrier)
            .map_or(0, |i| i + 1);
        ops.truncate(whole);
        let dropped_bytes = (data.len() - pos) as u64;
        if dropped_bytes > 0 {
            file.set_len(pos as u64)?;
        }
        file.seek(SeekFrom::Start(pos as u64))?;
        Ok((
            Journal {
                file,
                path,
                pending: Vec::with_capacity(64 * 1024),
                written: pos as u64,
            },
            Recovered { ops, dropped_bytes },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a record to the current group (in memory).
    pub fn append(&mut self, seq: u64, op: &Op) {
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; 8]);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        op.encode(&mut self.pending);
        let len = (self.pending.len() - start - 8) as u32;
        let crc = crc32fast::hash(&self.pending[start + 8..]);
        self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    /// Closes the current group with a barrier record (see [`Op::Barrier`]).
    pub fn end_group(&mut self, seq: u64) {
        if !self.pending.is_empty() {
            self.append(seq, &Op::Barrier);
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the group's records with one write call, fsyncing when `sync`.
    /// On failure the file is cut back to its last complete group.
    pub fn flush(&mut self, sync: bool) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending).and_then(|()| {
            if sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.pending.clear();
                Ok(())
            }
            Err(e) => {
                self.pending.clear();
                let _ = self.file.set_len(self.written);
                let _ = self.file.seek(SeekFrom::Start(self.written));
                Err(e)
            }
        }
    }

    /// Drops every record: SQLite has committed (durably) all they describe.
    pub fn reset(&mut self) -> io::Result<()> {
        self.pending.clear();
        if self.written > 0 {
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.written = 0;
        }
        Ok(())
    }

    /// Bytes written since the last reset.
    pub fn size(&self) -> u64 {
        self.written
    }
}
