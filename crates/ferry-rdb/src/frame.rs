//! Where the next item of an RDB file ends, found from its length
//! prefixes alone (no string is decompressed, no listpack opened), so
//! that a reader holding only a prefix of the file can tell "the item is
//! all here" from "the item needs at least N bytes": the split between a
//! truncated buffer and damaged data that [`crate::file::Incremental`]
//! needs.
//!
//! This walk mirrors the decoder's structure (`file::decode_item` and
//! `value::decode_object`) but checks nothing beyond the lengths. An
//! encoding it cannot walk (a bad length byte, a module or unknown type,
//! module auxiliary data) ends the walk there: the item is reported
//! complete up to that point and the decoder, which reads the same bytes,
//! refuses it with the proper error. The decoder then runs once on the
//! complete item; if it consumes a different number of bytes than this
//! walk found, the item is damaged.

use crate::value::types::*;
use crate::{OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA};

pub(crate) const OPCODE_MODULE_AUX: u8 = 247;
pub(crate) const OPCODE_IDLE: u8 = 248;
pub(crate) const OPCODE_FREQ: u8 = 249;
pub(crate) const OPCODE_AUX: u8 = 250;
pub(crate) const OPCODE_RESIZEDB: u8 = 251;
pub(crate) const OPCODE_EXPIRETIME_MS: u8 = 252;
pub(crate) const OPCODE_EXPIRETIME: u8 = 253;
pub(crate) const OPCODE_SELECTDB: u8 = 254;
pub(crate) const OPCODE_EOF: u8 = 255;

/// How far the next item reaches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Extent {
    /// The item is the first `n` bytes (or the decoder refuses those).
    Complete(usize),
    /// The buffer ends inside the item, which needs at least `n` bytes
    /// (counted from the item's start; more may follow once those are
    /// read).
    Short(usize),
}

enum Halt {
    Short(usize),
    /// The walk cannot go on; the decoder refuses the item by `n`.
    Stop(usize),
}

type Step<T> = Result<T, Halt>;

struct Walk<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Walk<'_> {
    fn skip(&mut self, n: u64) -> Step<()> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .unwrap_or(usize::MAX);
        if end > self.data.len() {
            return Err(Halt::Short(end));
        }
        self.pos = end;
        Ok(())
    }

    fn byte(&mut self) -> Step<u8> {
        let b = *self.data.get(self.pos).ok_or(Halt::Short(self.pos + 1))?;
        self.pos += 1;
        Ok(b)
    }

    fn be(&mut self, n: usize) -> Step<u64> {
        let end = self.pos + n;
        let b = self.data.get(self.pos..end).ok_or(Halt::Short(end))?;
        self.pos = end;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// A length, or with `string` also a special string encoding: Ok(None)
    /// for those (their bytes skipped).
    fn header(&mut self, string: bool) -> Step<Option<u64>> {
        let first = self.byte()?;
        match first >> 6 {
            0 => Ok(Some(u64::from(first & 0x3f))),
            1 => Ok(Some(
                (u64::from(first & 0x3f) << 8) | u64::from(self.byte()?),
            )),
            2 => match first {
                0x80 => Ok(Some(self.be(4)?)),
                0x81 => Ok(Some(self.be(8)?)),
                _ => Err(Halt::Stop(self.pos)),
            },
            _ if !string => Err(Halt::Stop(self.pos)),
            _ => match first & 0x3f {
                0 => self.skip(1).map(|_| None),
                1 => self.skip(2).map(|_| None),
                2 => self.skip(4).map(|_| None),
                3 => {
                    let clen = self.length()?;
                    self.length()?;
                    self.skip(clen).map(|_| None)
                }
                _ => Err(Halt::Stop(self.pos)),
            },
        }
    }

    fn length(&mut self) -> Step<u64> {
        Ok(self.header(false)?.unwrap_or(0))
    }

    fn string(&mut self) -> Step<()> {
        if let Some(n) = self.header(true)? {
            self.skip(n)?;
        }
        Ok(())
    }

    fn object(&mut self, t: u8) -> Step<()> {
        match t {
            STRING | HASH_ZIPMAP | LIST_ZIPLIST | SET_INTSET | ZSET_ZIPLIST | HASH_ZIPLIST
            | HASH_LISTPACK | ZSET_LISTPACK | SET_LISTPACK => self.string(),
            LIST | SET | LIST_QUICKLIST => {
                for _ in 0..self.length()? {
                    self.string()?;
                }
                Ok(())
            }
            HASH => {
                for _ in 0..self.length()? {
                    self.string()?;
                    self.string()?;
                }
                Ok(())
            }
            ZSET | ZSET_2 => {
                for _ in 0..self.length()? {
                    self.string()?;
                    if t == ZSET_2 {
                        self.skip(8)?;
                    } else {
                        let n = self.byte()?;
                        if n < 253 {
                            self.skip(u64::from(n))?;
                        }
                    }
                }
                Ok(())
            }
            LIST_QUICKLIST_2 => {
                for _ in 0..self.length()? {
                    self.length()?;
                    self.string()?;
                }
                Ok(())
            }
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => self.stream(t),
            _ => Err(Halt::Stop(self.pos)),
        }
    }

    fn id(&mut self) -> Step<()> {
        self.length()?;
        self.length()?;
        Ok(())
    }

    fn stream(&mut self, t: u8) -> Step<()> {
        let v2 = t != STREAM_LISTPACKS;
        let v3 = t == STREAM_LISTPACKS_3;
        for _ in 0..self.length()? {
            self.string()?;
            self.string()?;
        }
        self.length()?;
        self.id()?;
        if v2 {
            self.id()?;
            self.id()?;
            self.length()?;
        }
        for _ in 0..self.length()? {
            self.string()?;
            self.id()?;
            if v2 {
                self.length()?;
            }
            for _ in 0..self.length()? {
                self.skip(16 + 8)?;
                self.length()?;
            }
            for _ in 0..self.length()? {
                self.string()?;
                self.skip(if v3 { 16 } else { 8 })?;
                let owned = self.length()?;
                self.skip(owned.saturating_mul(16))?;
            }
        }
        Ok(())
    }

    fn item(&mut self) -> Step<()> {
        loop {
            match self.byte()? {
                OPCODE_EOF => return self.skip(8),
                OPCODE_SELECTDB => return self.length().map(|_| ()),
                OPCODE_RESIZEDB => {
                    self.length()?;
                    self.length()?;
                }
                OPCODE_AUX => {
                    self.string()?;
                    return self.string();
                }
                OPCODE_EXPIRETIME_MS => self.skip(8)?,
                OPCODE_EXPIRETIME => self.skip(4)?,
                OPCODE_IDLE => {
                    self.length()?;
                }
                OPCODE_FREQ => self.skip(1)?,
                OPCODE_FUNCTION2 => return self.string(),
                OPCODE_FUNCTION_PRE_GA | OPCODE_MODULE_AUX => return Err(Halt::Stop(self.pos)),
                t => {
                    self.string()?;
                    if t == MODULE_PRE_GA || t == MODULE_2 || t > STREAM_LISTPACKS_3 {
                        return Err(Halt::Stop(self.pos));
                    }
                    return self.object(t);
                }
            }
        }
    }
}

/// How far the item at the start of `data` (just after the header or
/// the previous item) reaches.
pub(crate) fn item_extent(data: &[u8]) -> Extent {
    let mut w = Walk { data, pos: 0 };
    match w.item() {
        Ok(()) => Extent::Complete(w.pos),
        Err(Halt::Stop(n)) => Extent::Complete(n.min(data.len())),
        Err(Halt::Short(n)) => Extent::Short(n),
    }
}
