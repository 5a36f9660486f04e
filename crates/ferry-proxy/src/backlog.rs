//! The mirror's backlog: every write the primary answered, in the order it
//! is to be applied on the other store, appended to segment files on disk
//! before the client sees the reply (so a killed proxy loses nothing; an
//! fsync once a second, or per append with `--backlog-fsync always`,
//! covers a crash of the machine), read back by the mirror task, and
//! deleted segment by segment once applied.
//!
//! Entry: `[u32 len][u64 seq][u32 db][u32 n][n commands as RESP arrays]`,
//! little-endian; `len` counts what follows it. A torn entry at the end of
//! the last segment (a crash mid-append) is cut off at start.

use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Segments roll over at this size.
const SEGMENT_BYTES: u64 = 64 << 20;

/// One entry: the commands of one client write (or one transaction), to
/// run in database `db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub db: u32,
    pub commands: Vec<Vec<Bytes>>,
}

/// `*<n>\r\n` then `$<len>\r\n<arg>\r\n` per argument (on the hot path:
/// no formatting machinery).
pub fn encode_command(out: &mut Vec<u8>, args: &[Bytes]) {
    header(out, b'*', args.len());
    for a in args {
        header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(kind);
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&e.seq.to_le_bytes());
    body.extend_from_slice(&e.db.to_le_bytes());
    body.extend_from_slice(&(e.commands.len() as u32).to_le_bytes());
    for c in &e.commands {
        encode_command(&mut body, c);
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes the entry at the front of `buf`: the entry and its length, None
/// when incomplete, Err when damaged.
pub fn decode(buf: &[u8]) -> Result<Option<(Entry, usize)>, String> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    if body.len() < 16 {
        return Err("an entry shorter than its header".into());
    }
    let seq = u64::from_le_bytes(body[..8].try_into().map_err(|_| "seq")?);
    let db = u32::from_le_bytes(body[8..12].try_into().map_err(|_| "db")?);
    let n = u32::from_le_bytes(body[12..16].try_into().map_err(|_| "n")?) as usize;
    let mut rest = bytes::BytesMut::from(&body[16..]);
    let mut commands = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        match ferry_resp::decode_command(&mut rest, &ferry_resp::Limits::default()) {
            Ok(Some(c)) => commands.push(c),
            _ => return Err(format!("entry {seq}: a damaged command")),
        }
    }
    Ok(Some((Entry { seq, db, commands }, 4 + len)))
}

struct Writer {
    file: File,
    /// The segment's first seq (its file name).
    first: u64,
    size: u64,
    next_seq: u64,
}

pub struct Backlog {
    dir: PathBuf,
    always_sync: bool,
    w: Mutex<Writer>,
    /// Wakes the mirror when entries arrive.
    pub appended: tokio::sync::Notify,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

/// The segments in `dir`, by first seq.
pub fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if let Some(first) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse().ok())
        {
            out.push((first, p));
        }
    }
    out.sort();
    Ok(out)
}

impl Backlog {
    /// Opens (or creates) the backlog in `dir`: appends go after the last
    /// whole entry of the last segment.
    pub fn open(dir: &Path, always_sync: bool) -> io::Result<Backlog> {
        std::fs::create_dir_all(dir)?;
        let segs = segments(dir)?;
        let (first, path, next_seq) = match segs.last() {
            Some((first, path)) => {
                let mut data = Vec::new();
                File::open(path)?.read_to_end(&mut data)?;
                let mut pos = 0;
                let mut next = *first;
                loop {
                    match decode(&data[pos..]) {
                        Ok(Some((e, n))) => {
                            pos += n;
                            next = e.seq + 1;
                        }
                        Ok(None) => break,
                        Err(why) => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("{}: {why}", path.display()),
                            ))
                        }
                    }
                }
                if pos < data.len() {
                    log::warn!(
                        "{}: cutting off a torn entry at the end ({} bytes, a crash mid-append)",
                        path.display(),
                        data.len() - pos
                    );
                    OpenOptions::new()
                        .write(true)
                        .open(path)?
                        .set_len(pos as u64)?;
                }
                (*first, path.clone(), next)
            }
            None => (1, segment_path(dir, 1), 1),
        };
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.seek(SeekFrom::End(0))?;
        Ok(Backlog {
            dir: dir.to_path_buf(),
            always_sync,
            w: Mutex::new(Writer {
                file,
                first,
                size,
                next_seq,
            }),
            appended: tokio::sync::Notify::new(),
        })
    }

    /// Appends entries (their seqs assigned here, in order) and returns once
    /// they are written (and fsynced with `always`).
    pub fn append(&self, batch: Vec<(u32, Vec<Vec<Bytes>>)>) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut w = self
            .w
            .lock()
            .map_err(|_| io::Error::other("the backlog lock is poisoned"))?;
        if w.size >= SEGMENT_BYTES {
            w.file.sync_data()?;
            let first = w.next_seq;
            w.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, first))?;
            w.first = first;
            w.size = 0;
        }
        let mut buf = Vec::new();
        for (db, commands) in batch {
            let seq = w.next_seq;
            w.next_seq += 1;
            buf.extend(encode(&Entry { seq, db, commands }));
        }
        w.file.write_all(&buf)?;
        w.size += buf.len() as u64;
        if self.always_sync {
            w.file.sync_data()?;
        }
        drop(w);
        self.appended.notify_one();
        Ok(())
    }

    /// The seq the next entry gets.
    pub fn next_seq(&self) -> u64 {
        self.w.lock().map(|w| w.next_seq).unwrap_or(0)
    }

    /// Syncs what was written (the once-a-second timer), on a second
    /// handle of the file so appends do not wait for the fsync.
    pub fn sync(&self) -> io::Result<()> {
        let file = {
            let w = self
                .w
                .lock()
                .map_err(|_| io::Error::other("the backlog lock is poisoned"))?;
            w.file.try_clone()?
        };
        file.sync_data()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes the segments whose entries are all at or below `applied`
    /// (never the one being written).
    pub fn trim(&self, applied: u64) -> io::Result<()> {
        let current = self.w.lock().map(|w| w.first).unwrap_or(0);
        let segs = segments(&self.dir)?;
        for pair in segs.windows(2) {
            let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
            if *next_first <= applied + 1 && *next_first <= current {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }
}

/// Reads entries after a given seq, following the files as they grow.
pub struct Reader {
    dir: PathBuf,
    file: Option<(u64, File)>,
    /// Bytes read from the current segment.
    read: u64,
    buf: Vec<u8>,
    /// The last seq returned (or skipped as already applied).
    pub last: u64,
}

impl Reader {
    pub fn new(dir: &Path, applied: u64) -> Reader {
        Reader {
            dir: dir.to_path_buf(),
            file: None,
            read: 0,
            buf: Vec::new(),
            last: applied,
        }
    }

    /// Up to `max_bytes` of entries after `last` that are on disk now.
    pub fn read(&mut self, max_bytes: usize) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut size = 0;
        loop {
            if self.file.is_none() {
                // The segment holding last + 1.
                let segs = segments(&self.dir)?;
                let Some((first, path)) = segs
                    .iter()
                    .rev()
                    .find(|(first, _)| *first <= self.last + 1)
                    .cloned()
                    .or_else(|| segs.first().cloned())
                else {
                    return Ok(out);
                };
                self.file = Some((first, File::open(path)?));
                self.read = 0;
                self.buf.clear();
            }
            let Some((first, f)) = self.file.as_mut() else {
                return Ok(out);
            };
            let first = *first;
            let n = f.read_to_end(&mut self.buf)?;
            self.read += n as u64;
            let mut pos = 0;
            while let Some((e, len)) = decode(&self.buf[pos..])
                .map_err(|why| io::Error::new(io::ErrorKind::InvalidData, why))?
            {
                pos += len;
                if e.seq <= self.last {
                    continue;
                }
                self.last = e.seq;
                size += len;
                out.push(e);
                if size >= max_bytes {
                    break;
                }
            }
            self.buf.drain(..pos);
            if size >= max_bytes {
                return Ok(out);
            }
            // At the end of a segment the writer rolled over (it rolls
            // only past SEGMENT_BYTES): a later one means this one is done.
            if n == 0 && self.read >= SEGMENT_BYTES {
                let later = segments(&self.dir)?
                    .into_iter()
                    .any(|(f, _)| f > first && f <= self.last + 1);
                if later && self.buf.is_empty() {
                    self.file = None;
                    continue;
                }
            }
            if n == 0 {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect()
    }

    #[test]
    fn append_read_reopen_and_cut_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let b = Backlog::open(dir.path(), false).unwrap();
        b.append(vec![
            (0, vec![cmd("SET a 1")]),
            (3, vec![cmd("INCR n"), cmd("DEL x")]),
        ])
        .unwrap();
        let mut r = Reader::new(dir.path(), 0);
        let got = r.read(1 << 20).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].db, 3);
        assert_eq!(got[1].commands, vec![cmd("INCR n"), cmd("DEL x")]);
        assert!(r.read(1 << 20).unwrap().is_empty());
        b.append(vec![(0, vec![cmd("SET b 2")])]).unwrap();
        assert_eq!(r.read(1 << 20).unwrap()[0].seq, 3);
        drop(b);
        // A torn entry at the end.
        let (_, seg) = segments(dir.path()).unwrap().pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2]).unwrap();
        let b = Backlog::open(dir.path(), true).unwrap();
        assert_eq!(b.next_seq(), 4);
        b.append(vec![(0, vec![cmd("SET c 3")])]).unwrap();
        let all = Reader::new(dir.path(), 2).read(1 << 20).unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    }
}
