//! Streams: entries, consumer groups, consumers and pending entries.
//!
//! Layout (see `schema.rs`):
//! * the key's row in `keys` holds the entry count in `len` (XLEN is O(1))
//!   and the stream's metadata in `value` ([`Stream`]: last id, entries
//!   ever added, largest deleted id), read with the key in one descent;
//! * `stream_entries(key_id, ms, seq, fields)`: one row per entry, clustered
//!   by id, so XADD and an XRANGE start are O(log n) and a range is read in
//!   order;
//! * `stream_nodes`: the macro nodes Redis would have (see `nodes.rs`), for
//!   approximate trimming and XINFO; an append holds the tail node it wrote
//!   until SQL next reads the table (`heldnodes.rs`);
//! * `stream_groups`, `stream_consumers`, `stream_pel` (pending entries,
//!   with an index by consumer for XPENDING/XCLAIM per consumer).
//!
//! Methods here change a [`Stream`] value and journal the row changes; the
//! caller writes the key row once at the end of its command with
//! [`Store::stream_save`]. Redis semantics (which ids are valid, what a
//! group reads, what to reply) live in the server's command family; this
//! module offers the storage primitives.

mod apply;
mod entries;
mod groups;
pub(crate) mod heldnodes;
pub mod id;
mod nodes;

pub use entries::{Entry, Trim, TrimStrategy};
pub use groups::{Consumer, Group, PelQuery, Pending, PendingSummary};
pub use id::StreamId;
pub use nodes::NodeLimits;

use crate::keyspace::{KeyInfo, KeyType, Ttl};
use crate::ops::Op;
use crate::{Store, StoreError, StoreResult};

/// A stream key: its row and its metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream {
    pub info: KeyInfo,
    /// The largest id ever added (or set by XSETID).
    pub last: StreamId,
    /// Entries ever added (XINFO `entries-added`, consumer-group lag).
    pub entries_added: u64,
    /// The largest id ever deleted by XDEL (`max-deleted-entry-id`).
    pub max_deleted: StreamId,
}

const META_VERSION: u8 = 1;
const META_LEN: usize = 41;

impl Stream {
    /// Live entries (XLEN).
    pub fn len(&self) -> u64 {
        self.info.len.max(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.info.len <= 0
    }

    fn encode_meta(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(META_LEN);
        out.push(META_VERSION);
        for v in [
            self.last.ms,
            self.last.seq,
            self.entries_added,
            self.max_deleted.ms,
            self.max_deleted.seq,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode_meta(info: KeyInfo, value: Option<&[u8]>) -> StoreResult<Stream> {
        let bad = StoreError::Corrupt("bad stream metadata");
        let v = value.ok_or(StoreError::Corrupt("stream without metadata"))?;
        if v.len() != META_LEN || v[0] != META_VERSION {
            return Err(bad);
        }
        let word = |i: usize| -> u64 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v[1 + 8 * i..9 + 8 * i]);
            u64::from_le_bytes(b)
        };
        Ok(Stream {
            info,
            last: StreamId::new(word(0), word(1)),
            entries_added: word(2),
            max_deleted: StreamId::new(word(3), word(4)),
        })
    }
}

/// Encodes an entry's flat field, value list.
pub(crate) fn encode_fields<F: AsRef<[u8]>>(pairs: &[F]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pairs.iter().map(|p| p.as_ref().len() + 2).sum::<usize>() + 2);
    put_varint(&mut out, pairs.len() as u64);
    for p in pairs {
        let p = p.as_ref();
        put_varint(&mut out, p.len() as u64);
        out.extend_from_slice(p);
    }
    out
}

/// Decodes what [`encode_fields`] wrote.
pub(crate) fn decode_fields(b: &[u8]) -> StoreResult<Vec<Vec<u8>>> {
    Ok(field_ranges(b)?
        .into_iter()
        .map(|r| b[r].to_vec())
        .collect())
}

/// [`decode_fields`] without copying: the fields are slices of `blob`, so
/// a read of many entries makes one allocation per entry, not one per field.
pub(crate) fn decode_fields_shared(blob: bytes::Bytes) -> StoreResult<Vec<bytes::Bytes>> {
    Ok(field_ranges(&blob)?
        .into_iter()
        .map(|r| blob.slice(r))
        .collect())
}

/// Where each field of an encoded entry lies in `blob`.
fn field_ranges(blob: &[u8]) -> StoreResult<Vec<std::ops::Range<usize>>> {
    let bad = || StoreError::Corrupt("bad stream entry");
    let mut b = blob;
    let n = get_varint(&mut b).ok_or_else(bad)?;
    let mut out = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let len = get_varint(&mut b).ok_or_else(bad)? as usize;
        if b.len() < len {
            return Err(bad());
        }
        let start = blob.len() - b.len();
        out.push(start..start + len);
        b = &b[len..];
    }
    if !b.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl Store {
    /// The live stream at `key` (WRONGTYPE for another type).
    pub fn stream_lookup(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<Stream>> {
        let Some((info, value)) = self.lookup_raw(db, key)? else {
            return Ok(None);
        };
        if info.ktype != KeyType::Stream {
            return Err(StoreError::WrongType);
        }
        Stream::decode_meta(info, value.as_deref()).map(Some)
    }

    /// Creates an empty stream at `key` (which must not exist).
    pub fn stream_create(&mut self, db: usize, key: &[u8]) -> StoreResult<Stream> {
        let mut s = Stream {
            info: KeyInfo {
                id: 0,
                ktype: KeyType::Stream,
                expire_at: None,
                len: 0,
            },
            last: StreamId::MIN,
            entries_added: 0,
            max_deleted: StreamId::MIN,
        };
        let meta = s.encode_meta();
        s.info.id = self.insert_key(db, key, KeyType::Stream, None, 0, Some((&meta, 0)))?;
        Ok(s)
    }

    /// Writes the stream's key row: its entry count and metadata; marks the
    /// key as modified (WATCH).
    pub fn stream_save(&mut self, db: usize, key: &[u8], s: &Stream) -> StoreResult<()> {
        let meta = s.encode_meta();
        self.update_key(db, key, &s.info, s.info.len, Ttl::Keep, Some((&meta, 0)))
    }

    /// Writes only the stream's metadata, leaving the key's version (what
    /// WATCH compares) alone, as XSETID does in Redis 7.0.
    pub fn stream_save_meta(&mut self, db: usize, key: &[u8], s: &Stream) -> StoreResult<()> {
        self.record(Op::StreamMeta {
            db: db as u8,
            key: key.to_vec(),
            meta: s.encode_meta(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let pairs: Vec<Vec<u8>> = vec![b"f".to_vec(), vec![], vec![0xff; 300]];
        let enc = encode_fields(&pairs);
        assert_eq!(decode_fields(&enc).unwrap(), pairs);
        assert_eq!(
            decode_fields_shared(bytes::Bytes::from(enc.clone())).unwrap(),
            pairs
        );
        assert!(decode_fields(&enc[..enc.len() - 1]).is_err());
    }
}
