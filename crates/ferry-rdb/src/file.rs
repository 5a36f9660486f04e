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

use crate::reader::Reader;
use crate::value::types;
use crate::{RdbError, OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA};

const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

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

/// Reads an RDB file held in memory.
pub struct RdbFile<'a> {
    data: &'a [u8],
    r: Reader<'a>,
    pub version: u16,
    db: u64,
    done: bool,
}

impl<'a> RdbFile<'a> {
    /// Checks the header.
    pub fn new(data: &'a [u8]) -> Result<RdbFile<'a>, FileError> {
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
        let mut r = Reader::new(data);
        r.take(9)
            .map_err(|source| FileError::Damaged { at: 0, source })?;
        Ok(RdbFile {
            data,
            r,
            version,
            db: 0,
            done: false,
        })
    }

    fn at(&self) -> usize {
        self.data.len() - self.r.remaining()
    }

    fn damaged(&self, source: RdbError) -> FileError {
        FileError::Damaged {
            at: self.at(),
            source,
        }
    }

    /// The next item; None after the end marker (its checksum checked).
    pub fn next_item(&mut self) -> Result<Option<Item<'a>>, FileError> {
        if self.done {
            return Ok(None);
        }
        let mut expire_at_ms = None;
        loop {
            let at = self.at();
            let op = self.r.byte().map_err(|e| self.damaged(e))?;
            match op {
                OPCODE_EOF => {
                    self.done = true;
                    let end = self.at();
                    let sum = self.r.take(8).map_err(|e| self.damaged(e))?;
                    let mut want = [0u8; 8];
                    want.copy_from_slice(sum);
                    let want = u64::from_le_bytes(want);
                    // Zero: written with rdbchecksum no.
                    if want != 0 && crate::crc64(&self.data[..end]) != want {
                        return Err(FileError::Checksum);
                    }
                    return Ok(None);
                }
                OPCODE_SELECTDB => {
                    self.db = self.r.length().map_err(|e| self.damaged(e))?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                OPCODE_RESIZEDB => {
                    self.r.length().map_err(|e| self.damaged(e))?;
                    self.r.length().map_err(|e| self.damaged(e))?;
                }
                OPCODE_AUX => {
                    let k = self.r.string().map_err(|e| self.damaged(e))?;
                    let v = self.r.string().map_err(|e| self.damaged(e))?;
                    return Ok(Some(Item::Aux(k, v)));
                }
                OPCODE_EXPIRETIME_MS => {
                    let b = self.r.take(8).map_err(|e| self.damaged(e))?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    expire_at_ms = Some(i64::from_le_bytes(a));
                }
                OPCODE_EXPIRETIME => {
                    let b = self.r.take(4).map_err(|e| self.damaged(e))?;
                    let secs = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    expire_at_ms = Some(i64::from(secs) * 1000);
                }
                OPCODE_IDLE => {
                    self.r.length().map_err(|e| self.damaged(e))?;
                }
                OPCODE_FREQ => {
                    self.r.byte().map_err(|e| self.damaged(e))?;
                }
                OPCODE_FUNCTION2 => {
                    let code = self.r.string().map_err(|e| self.damaged(e))?;
                    return Ok(Some(Item::Function(code)));
                }
                OPCODE_FUNCTION_PRE_GA | OPCODE_MODULE_AUX => return Err(FileError::ModuleAux),
                t => {
                    let name = self.r.string().map_err(|e| self.damaged(e))?;
                    if t == types::MODULE_PRE_GA || t == types::MODULE_2 {
                        return Err(FileError::Module {
                            key: String::from_utf8_lossy(&name).into_owned(),
                            kind: t,
                        });
                    }
                    if t > types::STREAM_LISTPACKS_3 {
                        return Err(FileError::Unknown { code: t, at });
                    }
                    let start = self.at();
                    crate::value::skip_object(t, &mut self.r).map_err(|e| self.damaged(e))?;
                    let end = self.at();
                    return Ok(Some(Item::Key(Key {
                        db: self.db,
                        name,
                        expire_at_ms,
                        kind: t,
                        object: &self.data[start..end],
                    })));
                }
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
