//! Every change to the keyspace, as a value.
//!
//! Mutating methods of [`crate::Store`] build an [`Op`], append it to the
//! journal and apply it with [`crate::Store::apply`]; recovery applies the
//! journal's ops the same way, so normal operation and replay share one code
//! path. Ops are deterministic: they carry resolved values (absolute expiry
//! times, allocated ids), never "now" or randomness.

use crate::keyspace::KeyType;
use crate::streams::StreamId;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    /// A new key row (`value` for strings).
    Insert {
        db: u8,
        key: Vec<u8>,
        id: i64,
        ktype: KeyType,
        expire_at: Option<i64>,
        len: i64,
        value: Option<Vec<u8>>,
        enc: u8,
    },
    /// New length, expiry and (strings) value of an existing key.
    Update {
        db: u8,
        key: Vec<u8>,
        had_expire: bool,
        len: i64,
        expire_at: Option<i64>,
        value: Option<Vec<u8>>,
        enc: u8,
    },
    /// Delete a key row and its data.
    Remove {
        db: u8,
        key: Vec<u8>,
        id: i64,
        ktype: KeyType,
        had_expire: bool,
    },
    SetExpire {
        db: u8,
        key: Vec<u8>,
        had_expire: bool,
        at: Option<i64>,
    },
    Rename {
        db: u8,
        src: Vec<u8>,
        dst: Vec<u8>,
    },
    Move {
        db: u8,
        key: Vec<u8>,
        dst_db: u8,
        had_expire: bool,
    },
    /// Copy a collection's elements from one key id to another.
    CopyData {
        ktype: KeyType,
        from_id: i64,
        to_id: i64,
    },
    FlushDb {
        db: u8,
    },
    FlushAll,
    /// Insert or replace a hash field.
    HashPut {
        id: i64,
        field: Vec<u8>,
        value: Vec<u8>,
    },
    /// Add a set member (no-op when present).
    SetAdd {
        id: i64,
        member: Vec<u8>,
    },
    /// Insert a sorted-set member or replace its score.
    ZPut {
        id: i64,
        member: Vec<u8>,
        score: f64,
    },
    /// Insert or replace the list element at `pos`.
    ListPut {
        id: i64,
        pos: i64,
        value: Vec<u8>,
    },
    /// Delete one element of a hash (field), set or sorted set (member).
    ElemDel {
        ktype: KeyType,
        id: i64,
        elem: Vec<u8>,
    },
    /// Ends a group: replay applies only whole groups, so a crash in the
    /// middle of writing a group (say, a MULTI/EXEC) replays none of it.
    Barrier,
    /// Delete the list elements with `from <= pos <= to`.
    ListDelRange {
        id: i64,
        from: i64,
        to: i64,
    },
    SwapDb {
        a: u8,
        b: u8,
    },
    /// Replace the stored FUNCTION libraries with these codes.
    SetFunctions {
        codes: Vec<Vec<u8>>,
    },
    /// Insert a stream entry (fields encoded by `streams::encode_fields`).
    StreamAdd {
        id: i64,
        entry: StreamId,
        fields: Vec<u8>,
    },
    /// Delete the stream entries with `from <= id <= to`.
    StreamDelRange {
        id: i64,
        from: StreamId,
        to: StreamId,
    },
    /// Insert or replace a stream's macro-node record (see `streams/nodes.rs`).
    StreamNodePut {
        id: i64,
        start: StreamId,
        live: i64,
        deleted: i64,
        bytes: i64,
        last: StreamId,
        fields: Vec<u8>,
    },
    StreamNodeDel {
        id: i64,
        start: StreamId,
    },
    /// Insert or replace a consumer group.
    StreamGroupPut {
        id: i64,
        group: Vec<u8>,
        last: StreamId,
        entries_read: i64,
    },
    /// Delete a consumer group with its consumers and pending entries.
    StreamGroupDel {
        id: i64,
        group: Vec<u8>,
    },
    /// Insert a consumer or replace its activity time.
    StreamConsumerPut {
        id: i64,
        group: Vec<u8>,
        consumer: Vec<u8>,
        seen: i64,
    },
    /// Delete a consumer with its pending entries.
    StreamConsumerDel {
        id: i64,
        group: Vec<u8>,
        consumer: Vec<u8>,
    },
    /// Insert or replace a pending entry.
    StreamPelPut {
        id: i64,
        group: Vec<u8>,
        entry: StreamId,
        consumer: Vec<u8>,
        delivered: i64,
        count: i64,
    },
    StreamPelDel {
        id: i64,
        group: Vec<u8>,
        entry: StreamId,
    },
    /// A stream's metadata (the key row's `value`), written without
    /// bumping the row's version: XSETID does not touch WATCHed keys.
    StreamMeta {
        db: u8,
        key: Vec<u8>,
        meta: Vec<u8>,
    },
}

impl Op {
    /// Appends the keys this op changes to `out`. Ops on a collection's
    /// elements name no key: the same change also updates the key row, or,
    /// where it leaves the row alone, `Store::set_collection_len` records
    /// the key itself.
    /// `StreamMeta` alone is XSETID, which Redis does not signal (WATCH and
    /// tracking ignore it alike).
    pub(crate) fn modified_keys(&self, out: &mut Vec<crate::Modified>) {
        use crate::Modified;
        match self {
            Op::Insert { key, .. }
            | Op::Update { key, .. }
            | Op::Remove { key, .. }
            | Op::SetExpire { key, .. }
            | Op::Move { key, .. } => out.push(Modified::Key(key.clone())),
            Op::Rename { src, dst, .. } => {
                out.push(Modified::Key(src.clone()));
                out.push(Modified::Key(dst.clone()));
            }
            Op::FlushDb { .. } | Op::FlushAll | Op::SwapDb { .. } => out.push(Modified::All),
            _ => {}
        }
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
            None => self.u8(0),
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
    }
    fn sid(&mut self, id: StreamId) {
        self.i64(id.ms as i64);
        self.i64(id.seq as i64);
    }
    fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
            None => self.u8(0),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn bool(&mut self) -> Option<bool> {
        self.u8().map(|b| b != 0)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }
    fn opt_i64(&mut self) -> Option<Option<i64>> {
        match self.u8()? {
            0 => Some(None),
            _ => self.i64().map(Some),
        }
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(len).map(|b| b.to_vec())
    }
    fn sid(&mut self) -> Option<StreamId> {
        Some(StreamId::new(self.i64()? as u64, self.i64()? as u64))
    }
    fn opt_bytes(&mut self) -> Option<Option<Vec<u8>>> {
        match self.u8()? {
            0 => Some(None),
            _ => self.bytes().map(Some),
        }
    }
    fn ktype(&mut self) -> Option<KeyType> {
        KeyType::from_code(self.u8()? as i64)
    }
}

impl Op {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        match self {
            Op::Insert {
                db,
                key,
                id,
                ktype,
                expire_at,
                len,
                value,
                enc,
            } => {
                w.u8(1);
                w.u8(*db);
                w.bytes(key);
                w.i64(*id);
                w.u8(*ktype as u8);
                w.opt_i64(*expire_at);
                w.i64(*len);
                w.opt_bytes(value.as_deref());
                w.u8(*enc);
            }
            Op::Update {
                db,
                key,
                had_expire,
                len,
                expire_at,
                value,
                enc,
            } => {
                w.u8(2);
                w.u8(*db);
                w.bytes(key);
                w.u8(*had_expire as u8);
                w.i64(*len);
                w.opt_i64(*expire_at);
                w.opt_bytes(value.as_deref());
                w.u8(*enc);
            }
            Op::Remove {
                db,
                key,
                id,
                ktype,
                had_expire,
            } => {
                w.u8(3);
                w.u8(*db);
                w.bytes(key);
                w.i64(*id);
                w.u8(*ktype as u8);
                w.u8(*had_expire as u8);
            }
            Op::SetExpire {
                db,
                key,
                had_expire,
                at,
            } => {
                w.u8(4);
                w.u8(*db);
                w.bytes(key);
                w.u8(*had_expire as u8);
                w.opt_i64(*at);
            }
            Op::Rename { db, src, dst } => {
                w.u8(5);
                w.u8(*db);
                w.bytes(src);
                w.bytes(dst);
            }
            Op::Move {
                db,
                key,
                dst_db,
                had_expire,
            } => {
                w.u8(6);
                w.u8(*db);
                w.bytes(key);
                w.u8(*dst_db);
                w.u8(*had_expire as u8);
            }
            Op::CopyData {
                ktype,
                from_id,
                to_id,
            } => {
                w.u8(7);
                w.u8(*ktype as u8);
                w.i64(*from_id);
                w.i64(*to_id);
            }
            Op::FlushDb { db } => {
                w.u8(8);
                w.u8(*db);
            }
            Op::FlushAll => w.u8(9),
            Op::HashPut { id, field, value } => {
                w.u8(11);
                w.i64(*id);
                w.bytes(field);
                w.bytes(value);
            }
            Op::SetAdd { id, member } => {
                w.u8(12);
                w.i64(*id);
                w.bytes(member);
            }
            Op::ZPut { id, member, score } => {
                w.u8(13);
                w.i64(*id);
                w.bytes(member);
                w.i64(score.to_bits() as i64);
            }
            Op::ListPut { id, pos, value } => {
                w.u8(14);
                w.i64(*id);
                w.i64(*pos);
                w.bytes(value);
            }
            Op::ElemDel { ktype, id, elem } => {
                w.u8(15);
                w.u8(*ktype as u8);
                w.i64(*id);
                w.bytes(elem);
            }
            Op::Barrier => w.u8(17),
            Op::ListDelRange { id, from, to } => {
                w.u8(16);
                w.i64(*id);
                w.i64(*from);
                w.i64(*to);
            }
            Op::SwapDb { a, b } => {
                w.u8(10);
                w.u8(*a);
                w.u8(*b);
            }
            Op::SetFunctions { codes } => {
                w.u8(40);
                w.0.extend_from_slice(&(codes.len() as u32).to_le_bytes());
                for c in codes {
                    w.bytes(c);
                }
            }
            Op::StreamAdd { id, entry, fields } => {
                w.u8(18);
                w.i64(*id);
                w.sid(*entry);
                w.bytes(fields);
            }
            Op::StreamDelRange { id, from, to } => {
                w.u8(19);
                w.i64(*id);
                w.sid(*from);
                w.sid(*to);
            }
            Op::StreamNodePut {
                id,
                start,
                live,
                deleted,
                bytes,
                last,
                fields,
            } => {
                w.u8(20);
                w.i64(*id);
                w.sid(*start);
                w.i64(*live);
                w.i64(*deleted);
                w.i64(*bytes);
                w.sid(*last);
                w.bytes(fields);
            }
            Op::StreamNodeDel { id, start } => {
                w.u8(21);
                w.i64(*id);
                w.sid(*start);
            }
            Op::StreamGroupPut {
                id,
                group,
                last,
                entries_read,
            } => {
                w.u8(22);
                w.i64(*id);
                w.bytes(group);
                w.sid(*last);
                w.i64(*entries_read);
            }
            Op::StreamGroupDel { id, group } => {
                w.u8(23);
                w.i64(*id);
                w.bytes(group);
            }
            Op::StreamConsumerPut {
                id,
                group,
                consumer,
                seen,
            } => {
                w.u8(24);
                w.i64(*id);
                w.bytes(group);
                w.bytes(consumer);
                w.i64(*seen);
            }
            Op::StreamConsumerDel {
                id,
                group,
                consumer,
            } => {
                w.u8(25);
                w.i64(*id);
                w.bytes(group);
                w.bytes(consumer);
            }
            Op::StreamPelPut {
                id,
                group,
                entry,
                consumer,
                delivered,
                count,
            } => {
                w.u8(26);
                w.i64(*id);
                w.bytes(group);
                w.sid(*entry);
                w.bytes(consumer);
                w.i64(*delivered);
                w.i64(*count);
            }
            Op::StreamPelDel { id, group, entry } => {
                w.u8(27);
                w.i64(*id);
                w.bytes(group);
                w.sid(*entry);
            }
            Op::StreamMeta { db, key, meta } => {
                w.u8(28);
                w.u8(*db);
                w.bytes(key);
                w.bytes(meta);
            }
        }
    }

    /// Decodes one op; None for anything malformed (a damaged record).
    pub fn decode(data: &[u8]) -> Option<Op> {
        let mut r = Reader { data };
        let op = match r.u8()? {
            1 => Op::Insert {
                db: r.u8()?,
                key: r.bytes()?,
                id: r.i64()?,
                ktype: r.ktype()?,
                expire_at: r.opt_i64()?,
                len: r.i64()?,
                value: r.opt_bytes()?,
                enc: r.u8()?,
            },
            2 => Op::Update {
                db: r.u8()?,
                key: r.bytes()?,
                had_expire: r.bool()?,
                len: r.i64()?,
                expire_at: r.opt_i64()?,
                value: r.opt_bytes()?,
                enc: r.u8()?,
            },
            3 => Op::Remove {
                db: r.u8()?,
                key: r.bytes()?,
                id: r.i64()?,
                ktype: r.ktype()?,
                had_expire: r.bool()?,
            },
            4 => Op::SetExpire {
                db: r.u8()?,
                key: r.bytes()?,
                had_expire: r.bool()?,
                at: r.opt_i64()?,
            },
            5 => Op::Rename {
                db: r.u8()?,
                src: r.bytes()?,
                dst: r.bytes()?,
            },
            6 => Op::Move {
                db: r.u8()?,
                key: r.bytes()?,
                dst_db: r.u8()?,
                had_expire: r.bool()?,
            },
            7 => Op::CopyData {
                ktype: r.ktype()?,
                from_id: r.i64()?,
                to_id: r.i64()?,
            },
            8 => Op::FlushDb { db: r.u8()? },
            9 => Op::FlushAll,
            11 => Op::HashPut {
                id: r.i64()?,
                field: r.bytes()?,
                value: r.bytes()?,
            },
            12 => Op::SetAdd {
                id: r.i64()?,
                member: r.bytes()?,
            },
            13 => Op::ZPut {
                id: r.i64()?,
                member: r.bytes()?,
                score: f64::from_bits(r.i64()? as u64),
            },
            14 => Op::ListPut {
                id: r.i64()?,
                pos: r.i64()?,
                value: r.bytes()?,
            },
            15 => Op::ElemDel {
                ktype: r.ktype()?,
                id: r.i64()?,
                elem: r.bytes()?,
            },
            17 => Op::Barrier,
            16 => Op::ListDelRange {
                id: r.i64()?,
                from: r.i64()?,
                to: r.i64()?,
            },
            10 => Op::SwapDb {
                a: r.u8()?,
                b: r.u8()?,
            },
            40 => {
                let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
                let mut codes = Vec::new();
                for _ in 0..n {
                    codes.push(r.bytes()?);
                }
                Op::SetFunctions { codes }
            }
            18 => Op::StreamAdd {
                id: r.i64()?,
                entry: r.sid()?,
                fields: r.bytes()?,
            },
            19 => Op::StreamDelRange {
                id: r.i64()?,
                from: r.sid()?,
                to: r.sid()?,
            },
            20 => Op::StreamNodePut {
                id: r.i64()?,
                start: r.sid()?,
                live: r.i64()?,
                deleted: r.i64()?,
                bytes: r.i64()?,
                last: r.sid()?,
                fields: r.bytes()?,
            },
            21 => Op::StreamNodeDel {
                id: r.i64()?,
                start: r.sid()?,
            },
            22 => Op::StreamGroupPut {
                id: r.i64()?,
                group: r.bytes()?,
                last: r.sid()?,
                entries_read: r.i64()?,
            },
            23 => Op::StreamGroupDel {
                id: r.i64()?,
                group: r.bytes()?,
            },
            24 => Op::StreamConsumerPut {
                id: r.i64()?,
                group: r.bytes()?,
                consumer: r.bytes()?,
                seen: r.i64()?,
            },
            25 => Op::StreamConsumerDel {
                id: r.i64()?,
                group: r.bytes()?,
                consumer: r.bytes()?,
            },
            26 => Op::StreamPelPut {
                id: r.i64()?,
                group: r.bytes()?,
                entry: r.sid()?,
                consumer: r.bytes()?,
                delivered: r.i64()?,
                count: r.i64()?,
            },
            27 => Op::StreamPelDel {
                id: r.i64()?,
                group: r.bytes()?,
                entry: r.sid()?,
            },
            28 => Op::StreamMeta {
                db: r.u8()?,
                key: r.bytes()?,
                meta: r.bytes()?,
            },
            _ => return None,
        };
        if !r.data.is_empty() || op.dbs().any(|d| d as usize >= crate::DATABASES) {
            return None;
        }
        Some(op)
    }

    /// The databases an op names (checked when decoding).
    fn dbs(&self) -> impl Iterator<Item = u8> {
        let (a, b) = match self {
            Op::Insert { db, .. }
            | Op::Update { db, .. }
            | Op::Remove { db, .. }
            | Op::SetExpire { db, .. }
            | Op::Rename { db, .. }
            | Op::StreamMeta { db, .. }
            | Op::FlushDb { db } => (Some(*db), None),
            Op::Move { db, dst_db, .. } => (Some(*db), Some(*dst_db)),
            Op::SwapDb { a, b } => (Some(*a), Some(*b)),
            Op::CopyData { .. }
            | Op::FlushAll
            | Op::HashPut { .. }
            | Op::SetAdd { .. }
            | Op::ZPut { .. }
            | Op::ListPut { .. }
            | Op::ElemDel { .. }
            | Op::Barrier
            | Op::ListDelRange { .. }
            | Op::SetFunctions { .. }
            | Op::StreamAdd { .. }
            | Op::StreamDelRange { .. }
            | Op::StreamNodePut { .. }
            | Op::StreamNodeDel { .. }
            | Op::StreamGroupPut { .. }
            | Op::StreamGroupDel { .. }
            | Op::StreamConsumerPut { .. }
            | Op::StreamConsumerDel { .. }
            | Op::StreamPelPut { .. }
            | Op::StreamPelDel { .. } => (None, None),
        };
        a.into_iter().chain(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let ops = vec![
            Op::Insert {
                db: 3,
                key: b"k".to_vec(),
                id: 42,
                ktype: KeyType::String,
                expire_at: Some(123),
                len: 1,
                value: Some(b"v".to_vec()),
                enc: 2,
            },
            Op::Update {
                db: 0,
                key: vec![0, 255],
                had_expire: true,
                len: 0,
                expire_at: None,
                value: None,
                enc: 0,
            },
            Op::Remove {
                db: 1,
                key: b"x".to_vec(),
                id: 7,
                ktype: KeyType::String,
                had_expire: false,
            },
            Op::SetExpire {
                db: 2,
                key: b"y".to_vec(),
                had_expire: false,
                at: Some(-5),
            },
            Op::Rename {
                db: 0,
                src: b"a".to_vec(),
                dst: b"b".to_vec(),
            },
            Op::Move {
                db: 0,
                key: b"a".to_vec(),
                dst_db: 15,
                had_expire: true,
            },
            Op::CopyData {
                ktype: KeyType::String,
                from_id: 1,
                to_id: 2,
            },
            Op::FlushDb { db: 9 },
            Op::FlushAll,
            Op::SwapDb { a: 0, b: 1 },
            Op::HashPut {
                id: 1,
                field: b"f".to_vec(),
                value: b"v".to_vec(),
            },
            Op::SetAdd {
                id: 2,
                member: b"m".to_vec(),
            },
            Op::ZPut {
                id: 3,
                member: b"z".to_vec(),
                score: -1.5,
            },
            Op::ListPut {
                id: 4,
                pos: -7,
                value: b"l".to_vec(),
            },
            Op::ElemDel {
                ktype: KeyType::Hash,
                id: 5,
                elem: b"f".to_vec(),
            },
            Op::ListDelRange {
                id: 6,
                from: -3,
                to: 9,
            },
            Op::Barrier,
            Op::SetFunctions {
                codes: vec![b"#!lua name=a\n".to_vec(), Vec::new()],
            },
            Op::StreamAdd {
                id: 7,
                entry: StreamId::new(u64::MAX, 3),
                fields: vec![2, 1, b'f', 0],
            },
            Op::StreamDelRange {
                id: 7,
                from: StreamId::MIN,
                to: StreamId::MAX,
            },
            Op::StreamNodePut {
                id: 7,
                start: StreamId::new(1, 2),
                live: 99,
                deleted: 1,
                bytes: 4000,
                last: StreamId::new(5, 6),
                fields: vec![1, 1, b'f'],
            },
            Op::StreamNodeDel {
                id: 7,
                start: StreamId::new(1, 2),
            },
            Op::StreamGroupPut {
                id: 7,
                group: b"g".to_vec(),
                last: StreamId::new(9, 9),
                entries_read: -1,
            },
            Op::StreamGroupDel {
                id: 7,
                group: b"g".to_vec(),
            },
            Op::StreamConsumerPut {
                id: 7,
                group: b"g".to_vec(),
                consumer: b"c".to_vec(),
                seen: 1_700_000_000_000,
            },
            Op::StreamConsumerDel {
                id: 7,
                group: b"g".to_vec(),
                consumer: b"c".to_vec(),
            },
            Op::StreamPelPut {
                id: 7,
                group: b"g".to_vec(),
                entry: StreamId::new(3, u64::MAX),
                consumer: b"c".to_vec(),
                delivered: 42,
                count: 3,
            },
            Op::StreamPelDel {
                id: 7,
                group: b"g".to_vec(),
                entry: StreamId::new(3, 4),
            },
            Op::StreamMeta {
                db: 4,
                key: b"s".to_vec(),
                meta: vec![1; 41],
            },
        ];
        for op in ops {
            let mut buf = Vec::new();
            op.encode(&mut buf);
            assert_eq!(Op::decode(&buf), Some(op.clone()));
            for cut in 0..buf.len() {
                assert_eq!(Op::decode(&buf[..cut]), None, "{op:?} cut at {cut}");
            }
        }
        assert_eq!(Op::decode(&[8, 16]), None, "db out of range");
    }
}
