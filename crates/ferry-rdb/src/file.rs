//! A whole RDB file (what `SAVE` writes and a master sends a replica on a
//! full sync), read item by item: auxiliary fields, database changes,
//! function libraries, and keys with their expiry and their object bytes.
//!
//! A key's object is handed over as its type and the exact bytes the file
//! holds, so a caller can RESTORE it elsewhere without decoding it (wrap
//! it with [`dump_payload`]) or decode it (`crate::value::decode` of the
//! payload).
//! Module values cannot be read without the module and are refused with
//! the key's name.

use crate::frame::{self, Extent, *};
use crate::reader::Reader;
use crate::value::types;
use crate::{RdbError, OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA};

/// The oldest and newest RDB versions read here (Redis 6.0 to 7.2).
pub const MIN_VERSION: u16 = 9;
pub const MAX_VERSION: u16 = 11;

/// One item of an RDB file.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// An auxiliary field (`redis-ver`, `repl-id`, ...).
    Aux(Vec<u8>, Vec<u8>),
    /// The keys that follow belong to this database.
    SelectDb(u64),
    /// A function library's code (`FUNCTION LOAD` source).
    Function(Vec<u8>),
    /// A key.
    Key(Key<'a>),
}

/// A key of an RDB file.
#[derive(Debug, PartialEq, Eq)]
pub struct Key<'a> {
    pub db: u64,
    pub name: Vec<u8>,
    /// Unix time in milliseconds when it expires.
    pub expire_at_ms: Option<i64>,
    /// The object's type (`crate::value::types`).
    pub kind: u8,
    /// The object's encoding, as in the file.
    pub object: &'a [u8],
}

/// Why an RDB file could not be read (with where, for the message).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("not an RDB file (it does not start with REDIS and a version)")]
    NotRdb,
    #[error("RDB version {0} is not supported (ferry reads versions {MIN_VERSION} to {MAX_VERSION}: Redis 6.0 to 7.2)")]
    Version(u16),
    #[error("key '{key}' holds a module value (type {kind}); ferry cannot read module data: remove or convert these keys first")]
    Module { key: String, kind: u8 },
    #[error("the file holds module auxiliary data; ferry cannot read module data")]
    ModuleAux,
    #[error("unknown RDB opcode or type {code} at byte {at}")]
    Unknown { code: u8, at: usize },
    #[error("damaged at byte {at}: {source}")]
    Damaged { at: usize, source: RdbError },
    #[error("the checksum does not match: the file is damaged")]
    Checksum,
}

/// Checks an RDB file's 9-byte header and returns its version.
fn header(data: &[u8]) -> Result<u16, FileError> {
    let head = data.get(..9).ok_or(FileError::NotRdb)?;
    if &head[..5] != b"REDIS" {
        return Err(FileError::NotRdb);
    }
    let version: u16 = std::str::from_utf8(&head[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(FileError::NotRdb)?;
    if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
        return Err(FileError::Version(version));
    }
    Ok(version)
}

/// What one complete item decoded to.
enum Decoded<'a> {
    Item(Item<'a>),
    /// The end marker: the checksum covers the file's first bytes up to
    /// `covered` bytes into this item (the marker byte included).
    End {
        covered: usize,
        checksum: u64,
    },
}

/// Decodes the item that is exactly `data` (its extent found by
/// [`frame::item_extent`]); `base` is where it starts in the file (for
/// messages), `db` the database selected so far.
fn decode_item<'a>(data: &'a [u8], base: usize, db: &mut u64) -> Result<Decoded<'a>, FileError> {
    let mut r = Reader::new(data);
    let at = |r: &Reader| base + data.len() - r.remaining();
    let damaged = |r: &Reader, source: RdbError| FileError::Damaged { at: at(r), source };
    let mut expire_at_ms = None;
    let decoded = loop {
        let op_at = at(&r);
        let op = r.byte().map_err(|e| damaged(&r, e))?;
        match op {
            OPCODE_EOF => {
                let covered = at(&r) - base;
                let sum = r.take(8).map_err(|e| damaged(&r, e))?;
                let mut want = [0u8; 8];
                want.copy_from_slice(sum);
                break Decoded::End {
                    covered,
                    checksum: u64::from_le_bytes(want),
                };
            }
            OPCODE_SELECTDB => {
                *db = r.length().map_err(|e| damaged(&r, e))?;
                break Decoded::Item(Item::SelectDb(*db));
            }
            OPCODE_RESIZEDB => {
                r.length().map_err(|e| damaged(&r, e))?;
                r.length().map_err(|e| damaged(&r, e))?;
            }
            OPCODE_AUX => {
                let k = r.string().map_err(|e| damaged(&r, e))?;
                let v = r.string().map_err(|e| damaged(&r, e))?;
                break Decoded::Item(Item::Aux(k, v));
            }
            OPCODE_EXPIRETIME_MS => {
                let b = r.take(8).map_err(|e| damaged(&r, e))?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                expire_at_ms = Some(i64::from_le_bytes(a));
            }
            OPCODE_EXPIRETIME => {
                let b = r.take(4).map_err(|e| damaged(&r, e))?;
                let secs = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                expire_at_ms = Some(i64::from(secs) * 1000);
            }
            OPCODE_IDLE => {
                r.length().map_err(|e| damaged(&r, e))?;
            }
            OPCODE_FREQ => {
                r.byte().map_err(|e| damaged(&r, e))?;
            }
            OPCODE_FUNCTION2 => {
                let code = r.string().map_err(|e| damaged(&r, e))?;
                break Decoded::Item(Item::Function(code));
            }
            OPCODE_FUNCTION_PRE_GA | OPCODE_MODULE_AUX => return Err(FileError::ModuleAux),
            t => {
                let name = r.string().map_err(|e| damaged(&r, e))?;
                if t == types::MODULE_PRE_GA || t == types::MODULE_2 {
                    return Err(FileError::Module {
                        key: String::from_utf8_lossy(&name).into_owned(),
                        kind: t,
                    });
                }
                if t > types::STREAM_LISTPACKS_3 {
                    return Err(FileError::Unknown { code: t, at: op_at });
                }
                let start = data.len() - r.remaining();
                if t == types::STRING {
                    // No copy of a big string only to check it.
                    r.skip_string()
                } else {
                    crate::value::skip_object(t, &mut r)
                }
                .map_err(|e| damaged(&r, e))?;
                let end = data.len() - r.remaining();
                break Decoded::Item(Item::Key(Key {
                    db: *db,
                    name,
                    expire_at_ms,
                    kind: t,
                    object: &data[start..end],
                }));
            }
        }
    };
    if r.remaining() != 0 {
        // The length walk and the decoder disagree: damaged.
        return Err(damaged(&r, RdbError::BadData));
    }
    Ok(decoded)
}

/// Reads an RDB file held in memory.
pub struct RdbFile<'a> {
    data: &'a [u8],
    pos: usize,
    pub version: u16,
    db: u64,
    done: bool,
}

impl<'a> RdbFile<'a> {
    /// Checks the header.
    pub fn new(data: &'a [u8]) -> Result<RdbFile<'a>, FileError> {
        let version = header(data)?;
        Ok(RdbFile {
            data,
            pos: 9,
            version,
            db: 0,
            done: false,
        })
    }

    /// The next item; None after the end marker (its checksum checked).
    pub fn next_item(&mut self) -> Result<Option<Item<'a>>, FileError> {
        if self.done {
            return Ok(None);
        }
        let data: &'a [u8] = self.data;
        let rest = &data[self.pos..];
        let len = match frame::item_extent(rest) {
            Extent::Complete(n) => n,
            Extent::Short(_) => {
                self.done = true;
                return Err(FileError::Damaged {
                    at: data.len(),
                    source: RdbError::Truncated,
                });
            }
        };
        let base = self.pos;
        let decoded = decode_item(&rest[..len], base, &mut self.db);
        if decoded.is_err() {
            self.done = true;
        }
        self.pos += len;
        match decoded? {
            Decoded::Item(item) => Ok(Some(item)),
            Decoded::End { covered, checksum } => {
                self.done = true;
                // Zero: written with rdbchecksum no.
                if checksum != 0 && crate::crc64(&data[..base + covered]) != checksum {
                    return Err(FileError::Checksum);
                }
                Ok(None)
            }
        }
    }
}

/// What [`Incremental::next_item`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A complete item.
    Item(Item<'a>),
    /// The buffer ends inside the next item: feed more bytes.
    More,
    /// The end marker was read and the checksum matches (bytes after it
    /// are ignored, as [`RdbFile`] does).
    End,
}

/// The buffer capacity [`Incremental`] keeps after a big item.
const KEEP_CAPACITY: usize = 1 << 20;

/// The most [`Incremental`] reserves ahead for an item (its length comes
/// from the peer).
const RESERVE_AHEAD: usize = 64 << 20;

/// Reads an RDB file as it arrives, item by item, holding only what is
/// not consumed yet: the bytes of the item being read (a key is held whole
/// however large) plus whatever was fed beyond it.
///
/// [`feed`](Incremental::feed) appends bytes; [`next_item`](Incremental::next_item)
/// returns the next complete item or [`Next::More`]. Whether an item is
/// all there is decided by a walk over its length prefixes (cheap: no
/// string is decompressed), then the complete item is decoded and checked
/// as [`RdbFile`] does, so a truncated buffer ("more") is never mistaken
/// for damage, and damage is an error as soon as the damaged item is all
/// there. A buffer that ends inside an item is an error only when the
/// caller says it is the real end of the file (`at_end`).
///
/// The CRC-64 of the file runs over the bytes as items are consumed and is
/// checked at the end marker, as the whole-file reader checks it.
///
/// No quadratic re-reading of a huge key: after "more", the length walk
/// runs again only once the buffer holds what the walk said the item
/// needs at least, and has grown by half since the last try (a key of
/// many small elements says "a few more bytes" at every read otherwise);
/// so walking a key costs a small multiple of its size, and the buffer
/// holds at most about 1.5 times the largest key plus one fed chunk.
pub struct Incremental {
    buf: Vec<u8>,
    /// The first byte not consumed yet.
    pos: usize,
    /// Where `buf[pos]` is in the file.
    offset: u64,
    /// The file's length when known (a length-prefixed transfer): an item
    /// said to need more than that is damaged at once.
    total: Option<u64>,
    crc: crc::Digest<'static, u64>,
    version: Option<u16>,
    db: u64,
    /// Try again once this many bytes are buffered past `pos`.
    wait_for: usize,
    done: bool,
    /// Length walks run (for tests: bounded per key).
    walks: u64,
}

impl Default for Incremental {
    fn default() -> Self {
        Incremental::new(None)
    }
}

impl Incremental {
    /// A reader for a file of `total` bytes if that is known.
    pub fn new(total: Option<u64>) -> Incremental {
        Incremental {
            buf: Vec::new(),
            pos: 0,
            offset: 0,
            total,
            crc: crate::payload::crc64_digest(),
            version: None,
            db: 0,
            wait_for: 0,
            done: false,
            walks: 0,
        }
    }

    /// The RDB version, once the header was read.
    pub fn version(&self) -> Option<u16> {
        self.version
    }

    /// How many times an item's extent was walked (each item once, plus
    /// the tries that found it incomplete).
    pub fn walks(&self) -> u64 {
        self.walks
    }

    /// Bytes fed and not consumed yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes consumed so far (the items returned, the header).
    pub fn consumed(&self) -> u64 {
        self.offset
    }

    /// Appends the file's next bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.release();
        self.buf.extend_from_slice(bytes);
    }

    /// Lets go of the bytes of the items already returned: they go once
    /// they are at least half the buffer (so moving the rest down costs
    /// no more than what was consumed), and the memory of a big item read
    /// before is given back. [`feed`](Incremental::feed) does it; a caller
    /// may do it early, once it is done with the last item returned.
    pub fn release(&mut self) {
        if self.pos > 0 && self.pos >= self.buf.len() - self.pos {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        // What the item being read needs at least stays reserved.
        let needed = self.buf.len().max(self.pos.saturating_add(self.wait_for));
        if self.buf.capacity() > KEEP_CAPACITY && self.buf.capacity() / 4 > needed {
            self.buf.shrink_to(KEEP_CAPACITY.max(2 * needed));
        }
    }

    fn damaged(&self, at: u64, source: RdbError) -> FileError {
        FileError::Damaged {
            at: usize::try_from(at).unwrap_or(usize::MAX),
            source,
        }
    }

    /// Reads the file's header if it is not read yet: the RDB version, or
    /// None until 9 bytes are there (an error at the end).
    pub fn read_header(&mut self, at_end: bool) -> Result<Option<u16>, FileError> {
        if self.version.is_some() || self.done {
            return Ok(self.version);
        }
        let Some(head) = self.buf.get(self.pos..self.pos + 9) else {
            if at_end {
                self.done = true;
                return Err(FileError::NotRdb);
            }
            return Ok(None);
        };
        let version = header(head).inspect_err(|_| self.done = true)?;
        self.crc.update(head);
        self.version = Some(version);
        self.pos += 9;
        self.offset += 9;
        Ok(self.version)
    }

    /// The next complete item, [`Next::More`] when the buffer ends inside
    /// it, or [`Next::End`]. With `at_end` (no byte will follow), a buffer
    /// ending inside an item is an error.
    pub fn next_item(&mut self, at_end: bool) -> Result<Next<'_>, FileError> {
        if self.done {
            return Ok(Next::End);
        }
        let avail = self.buf.len() - self.pos;
        if !at_end && avail < self.wait_for {
            return Ok(Next::More);
        }
        if self.version.is_none() && self.read_header(at_end)?.is_none() {
            return Ok(Next::More);
        }
        let rest = &self.buf[self.pos..];
        self.walks += 1;
        let len = match frame::item_extent(rest) {
            Extent::Complete(n) => n,
            Extent::Short(need) => {
                let end = self.offset.saturating_add(need as u64);
                if at_end || self.total.is_some_and(|t| end > t) {
                    self.done = true;
                    return Err(self.damaged(self.offset + rest.len() as u64, RdbError::Truncated));
                }
                let have = rest.len();
                self.wait_for = need.max(have.saturating_add(have / 2));
                // Room for what the item needs at least, at once rather
                // than by doubling (a big key is copied no more, and held
                // once); at most RESERVE_AHEAD (a length the peer sent).
                self.buf
                    .reserve(need.saturating_sub(have).min(RESERVE_AHEAD));
                return Ok(Next::More);
            }
        };
        self.wait_for = 0;
        let base = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let item = &self.buf[self.pos..self.pos + len];
        let decoded = match decode_item(item, base, &mut self.db) {
            Ok(d) => d,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.pos += len;
        self.offset += len as u64;
        match decoded {
            Decoded::Item(it) => {
                self.crc.update(item);
                Ok(Next::Item(it))
            }
            Decoded::End { covered, checksum } => {
                self.done = true;
                self.crc.update(&item[..covered]);
                let crc = std::mem::replace(&mut self.crc, crate::payload::crc64_digest());
                // Zero: written with rdbchecksum no.
                if checksum != 0 && crc.finalize() != checksum {
                    return Err(FileError::Checksum);
                }
                Ok(Next::End)
            }
        }
    }
}

/// The DUMP payload for a key's object (what RESTORE takes): the type
/// byte, the object, the RDB version and the CRC-64.
pub fn dump_payload(kind: u8, object: &[u8], version: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(object.len() + 11);
    body.push(kind);
    body.extend_from_slice(object);
    body.extend_from_slice(&version.to_le_bytes());
    let crc = crate::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}
