//! The backup a migration run writes before it changes any key: each
//! key's original value and expiry, appended batch by batch (and fsynced)
//! before the batch writes, so every changed key is in it. `restore` puts
//! the originals back, byte for byte, with their expiry times.
//!
//! Format: a header line `ferry-schema-backup 1\n`, then records
//! `[u32 len][record]`, record = `[u32 key len][key][u8 kind][i64 expire-at
//! ms, -1 for none][value]`, value = `[u32 len][bytes]` for a string or
//! `[u32 n]` then n × (`[u32 len][field][u32 len][value]`) for a hash,
//! integers little-endian. Kind 2 ("void", no expiry or value) says the
//! key's previous record was not written after all (the key changed
//! between the read and the write, and the run never wrote it). Kinds 3
//! (string) and 4 (hash) replace the key's previous record: a key that
//! changed under the run is written from a later read, without waiting
//! for another fsync (the first read's record, durable, covers a crash
//! in between); the value that write replaced follows as such a record.
//! A record cut short at the end (a crash while appending) belongs to a
//! batch that never wrote, and is ignored.

use crate::value::Raw;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

const HEADER: &[u8] = b"ferry-schema-backup 1\n";

/// One key's original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub key: Vec<u8>,
    pub raw: Raw,
    /// Unix ms when it expires, -1 when it does not.
    pub expire_at: i64,
}

impl From<&crate::batch::Original> for Saved {
    fn from(o: &crate::batch::Original) -> Saved {
        Saved {
            key: o.key.clone(),
            raw: o.raw.clone(),
            expire_at: o.expire_at,
        }
    }
}

/// An open backup file, appended to.
pub struct Backup {
    file: File,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn frame(r: Vec<u8>) -> Vec<u8> {
    let mut framed = (r.len() as u32).to_le_bytes().to_vec();
    framed.extend(r);
    framed
}

/// Kind byte offset of a record that replaces the key's previous one.
const REPLACES: u8 = 3;

fn encode(s: &Saved, replaces: bool) -> Vec<u8> {
    let mut r = Vec::new();
    put_bytes(&mut r, &s.key);
    let offset = if replaces { REPLACES } else { 0 };
    match &s.raw {
        Raw::String(v) => {
            r.push(offset);
            r.extend_from_slice(&s.expire_at.to_le_bytes());
            put_bytes(&mut r, v);
        }
        Raw::Hash(fields) => {
            r.push(1 + offset);
            r.extend_from_slice(&s.expire_at.to_le_bytes());
            r.extend_from_slice(&(fields.len() as u32).to_le_bytes());
            for (f, v) in fields {
                put_bytes(&mut r, f);
                put_bytes(&mut r, v);
            }
        }
    }
    frame(r)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()?;
        Some(self.take(n)?.to_vec())
    }
}

/// A record: a saved value, one replacing the key's previous record, or
/// a void for a key.
enum Record {
    Saved(Saved),
    Replaces(Saved),
    Void(Vec<u8>),
}

fn decode(record: &[u8]) -> Option<Record> {
    let mut c = Cursor(record);
    let key = c.bytes()?;
    let kind = *c.take(1)?.first()?;
    if kind == 2 {
        return c.0.is_empty().then_some(Record::Void(key));
    }
    let expire_at = i64::from_le_bytes(c.take(8)?.try_into().ok()?);
    let raw = match kind % REPLACES {
        0 => Raw::String(c.bytes()?),
        1 => {
            let n = c.u32()?;
            let mut fields = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                fields.push((c.bytes()?, c.bytes()?));
            }
            Raw::Hash(fields)
        }
        _ => return None,
    };
    let saved = Saved {
        key,
        raw,
        expire_at,
    };
    match kind {
        0 | 1 if c.0.is_empty() => Some(Record::Saved(saved)),
        3 | 4 if c.0.is_empty() => Some(Record::Replaces(saved)),
        _ => None,
    }
}

impl Backup {
    /// Creates the file (refusing to overwrite one: it may be the only copy
    /// of someone's data) or opens it to append when `resume`.
    pub fn open(path: &Path, resume: bool) -> io::Result<Backup> {
        let mut file = if resume {
            // A run killed while appending left a torn record at the end:
            // cut it off, or the records appended now would follow it.
            let mut data = Vec::new();
            File::open(path)?.read_to_end(&mut data)?;
            let whole = whole_records_len(&data).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a ferry schema backup (no header)",
                        path.display()
                    ),
                )
            })?;
            let f = OpenOptions::new().append(true).open(path)?;
            f.set_len(whole as u64)?;
            f
        } else {
            let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
            f.write_all(HEADER)?;
            f
        };
        file.flush()?;
        Ok(Backup { file })
    }

    /// Appends a batch's originals and makes them durable.
    pub fn append(&mut self, batch: &[Saved]) -> io::Result<()> {
        self.write_saved(batch, false)?;
        self.file.sync_data()
    }

    /// Appends values that replace these keys' previous records (the
    /// values a write from a later read replaced) and makes them durable.
    pub fn replace(&mut self, batch: &[Saved]) -> io::Result<()> {
        self.write_saved(batch, true)?;
        self.file.sync_data()
    }

    /// Records that these keys' last saved values were not written (their
    /// compare-and-set found them changed).
    pub fn void(&mut self, keys: &[Vec<u8>]) -> io::Result<()> {
        self.write_void(keys)?;
        self.file.sync_data()
    }

    fn write_saved(&mut self, batch: &[Saved], replaces: bool) -> io::Result<()> {
        let mut buf = Vec::new();
        for s in batch {
            buf.extend(encode(s, replaces));
        }
        self.file.write_all(&buf)
    }

    fn write_void(&mut self, keys: &[Vec<u8>]) -> io::Result<()> {
        let mut buf = Vec::new();
        for k in keys {
            let mut r = Vec::new();
            put_bytes(&mut r, k);
            r.push(2);
            buf.extend(frame(r));
        }
        self.file.write_all(&buf)
    }
}

/// What a batch asks the writer thread to append.
enum Entry {
    Saved(Vec<Saved>),
    Replaces(Vec<Saved>),
    Void(Vec<Vec<u8>>),
}

type Job = (Entry, tokio::sync::oneshot::Sender<io::Result<()>>);

/// The backup of a run, written by its own thread with group commit: the
/// records of every batch that arrives while one fsync runs share the
/// next fsync, so batches in flight do not queue behind each other's
/// fsyncs. Each caller returns once its records are durable.
pub struct GroupWriter {
    tx: std::sync::mpsc::Sender<Job>,
}

fn stopped() -> io::Error {
    io::Error::other("the backup writer thread stopped")
}

impl GroupWriter {
    pub fn start(backup: Backup) -> io::Result<GroupWriter> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ferry-backup".into())
            .spawn(move || {
                let mut b = backup;
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    jobs.extend(rx.try_iter());
                    let written = jobs
                        .iter()
                        .try_for_each(|(entry, _)| match entry {
                            Entry::Saved(s) => b.write_saved(s, false),
                            Entry::Replaces(s) => b.write_saved(s, true),
                            Entry::Void(k) => b.write_void(k),
                        })
                        .and_then(|()| b.file.sync_data());
                    for (_, reply) in jobs {
                        let r = match &written {
                            Ok(()) => Ok(()),
                            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                        };
                        let _ = reply.send(r);
                    }
                }
            })?;
        Ok(GroupWriter { tx })
    }

    async fn submit(&self, entry: Entry) -> io::Result<()> {
        let (reply, done) = tokio::sync::oneshot::channel();
        self.tx.send((entry, reply)).map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Appends originals; returns once they are on disk.
    pub async fn append(&self, batch: Vec<Saved>) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.submit(Entry::Saved(batch)).await
    }

    /// Appends values replacing these keys' last records; returns once
    /// they are on disk.
    pub async fn replace(&self, batch: Vec<Saved>) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.submit(Entry::Replaces(batch)).await
    }

    /// Voids the last records of these keys; returns once on disk.
    pub async fn void(&self, keys: Vec<Vec<u8>>) -> io::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.submit(Entry::Void(keys)).await
    }
}

/// The length of the header and the complete records at the start of a
/// backup file (None: no header).
fn whole_records_len(data: &[u8]) -> Option<usize> {
    let body = data.strip_prefix(HEADER)?;
    let mut c = Cursor(body);
    let mut good = 0;
    while let Some(len) = c.u32() {
        if c.take(len).is_none() {
            break;
        }
        good = body.len() - c.0.len();
    }
    Some(HEADER.len() + good)
}

/// Every saved value of a backup file that was written, oldest first
/// (voided ones are dropped; a key may still appear more than once: the
/// first is its value before the run).
pub fn read(path: &Path) -> io::Result<Vec<Saved>> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let body = data.strip_prefix(HEADER).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a ferry schema backup (no header)",
                path.display()
            ),
        )
    })?;
    let mut c = Cursor(body);
    let mut out: Vec<Option<Saved>> = Vec::new();
    let mut n = 0;
    while !c.0.is_empty() {
        let Some(record) = c.u32().and_then(|len| c.take(len)) else {
            break; // a torn tail: that batch never wrote
        };
        n += 1;
        match decode(record) {
            Some(Record::Saved(s)) => out.push(Some(s)),
            Some(Record::Replaces(s)) => match out
                .iter_mut()
                .rev()
                .find(|slot| slot.as_ref().is_some_and(|slot| slot.key == s.key))
            {
                Some(slot) => *slot = Some(s),
                None => out.push(Some(s)),
            },
            Some(Record::Void(key)) => {
                if let Some(slot) = out
                    .iter_mut()
                    .rev()
                    .find(|s| s.as_ref().is_some_and(|s| s.key == key))
                {
                    *slot = None;
                }
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: record {n} is damaged", path.display()),
                ))
            }
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// The value each key had before the run: its first record.
pub fn originals(records: Vec<Saved>) -> Vec<Saved> {
    let mut seen = std::collections::HashSet::new();
    records
        .into_iter()
        .filter(|s| seen.insert(s.key.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Saved> {
        vec![
            Saved {
                key: b"user:1".to_vec(),
                raw: Raw::String(br#"{"a":1}"#.to_vec()),
                expire_at: 1_796_119_200_000,
            },
            Saved {
                key: b"h:\xff".to_vec(),
                raw: Raw::Hash(vec![
                    (b"f".to_vec(), b"".to_vec()),
                    (b"g".to_vec(), vec![0, 1, 2]),
                ]),
                expire_at: -1,
            },
            Saved {
                key: b"user:1".to_vec(),
                raw: Raw::String(b"later".to_vec()),
                expire_at: -1,
            },
        ]
    }

    #[test]
    fn round_trip_and_first_record_wins() {
        let dir = tempfile_dir();
        let path = dir.join("b1");
        let mut b = Backup::open(&path, false).unwrap();
        b.append(&sample()[..2]).unwrap();
        drop(b);
        let mut b = Backup::open(&path, true).unwrap();
        b.append(&sample()[2..]).unwrap();
        assert_eq!(read(&path).unwrap(), sample());
        let first = originals(read(&path).unwrap());
        assert_eq!(first, sample()[..2].to_vec());
        // The first user:1 was not written after all: the later one is its original.
        b.void(&[b"user:1".to_vec()]).unwrap();
        let after_void = read(&path).unwrap();
        assert_eq!(after_void, vec![sample()[0].clone(), sample()[1].clone()]);
        b.void(&[b"user:1".to_vec()]).unwrap();
        assert_eq!(originals(read(&path).unwrap()), vec![sample()[1].clone()]);
        // Never overwrites an existing backup.
        assert_eq!(
            Backup::open(&path, false).err().map(|e| e.kind()),
            Some(io::ErrorKind::AlreadyExists)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_replacing_record_takes_the_place_of_the_keys_last_one() {
        let dir = tempfile_dir();
        let path = dir.join("b3");
        let mut b = Backup::open(&path, false).unwrap();
        b.append(&sample()[..2]).unwrap();
        let hash_later = Saved {
            key: b"h:\xff".to_vec(),
            raw: Raw::Hash(vec![(b"f".to_vec(), b"2".to_vec())]),
            expire_at: 7,
        };
        b.replace(&[sample()[2].clone(), hash_later.clone()])
            .unwrap();
        // In place, so the key keeps its position and stays its original.
        let got = read(&path).unwrap();
        assert_eq!(got, vec![sample()[2].clone(), hash_later.clone()]);
        assert_eq!(originals(got), vec![sample()[2].clone(), hash_later]);
        // A replacement without an earlier record is a record of its own.
        let lone = Saved {
            key: b"new".to_vec(),
            raw: Raw::String(b"v".to_vec()),
            expire_at: -1,
        };
        b.replace(std::slice::from_ref(&lone)).unwrap();
        assert_eq!(read(&path).unwrap().last(), Some(&lone));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_damage_is_reported() {
        let dir = tempfile_dir();
        let path = dir.join("b2");
        let mut b = Backup::open(&path, false).unwrap();
        b.append(&sample()).unwrap();
        drop(b);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert_eq!(read(&path).unwrap(), sample()[..2].to_vec());
        // A resumed run cuts the torn record off before appending.
        let mut b = Backup::open(&path, true).unwrap();
        b.append(&sample()[2..]).unwrap();
        drop(b);
        assert_eq!(read(&path).unwrap(), sample());
        let mut damaged = full.clone();
        damaged[HEADER.len() + 4 + 4 + 6] = 9; // the first record's kind byte
        std::fs::write(&path, &damaged).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.ends_with("record 1 is damaged"), "{e}");
        std::fs::write(&path, b"hello").unwrap();
        assert!(read(&path)
            .unwrap_err()
            .to_string()
            .contains("not a ferry schema backup"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_group_writer_makes_every_batch_durable() {
        let dir = tempfile_dir().join("group");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g");
        let w = GroupWriter::start(Backup::open(&path, false).unwrap()).unwrap();
        let w = &w;
        let appends = (0..50u8).map(|i| async move {
            w.append(vec![Saved {
                key: format!("k{i}").into_bytes(),
                raw: Raw::String(vec![i]),
                expire_at: -1,
            }])
            .await
        });
        for r in futures_util::future::join_all(appends).await {
            r.unwrap();
        }
        w.void(vec![b"k7".to_vec()]).await.unwrap();
        // Durable once the calls returned: read while the writer still runs.
        let got = read(&path).unwrap();
        assert_eq!(got.len(), 49);
        assert!(!got.iter().any(|s| s.key == b"k7"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ferry-schema-backup-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
