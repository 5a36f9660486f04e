//! Streams in DUMP payloads (STREAM_LISTPACKS 1 to 3): entries packed in
//! listpack nodes keyed by their master id, then the stream's counters,
//! then the consumer groups with their pending entries and consumers.
//!
//! A node's listpack starts with a master entry (live count, deleted
//! count, the field names of the node's first entry, a 0 terminator);
//! each entry is flags, ms and seq relative to the master id, then either
//! its values alone (same fields as the master) or its field count and
//! fields and values, and last the number of elements it used.

use crate::listpack::{self, ListpackWriter};
use crate::reader::Reader;
use crate::value::EncodeOptions;
use crate::writer::{write_length, write_string_rdb};
use crate::RdbError;

/// A stream id: (milliseconds, sequence).
pub type Id = (u64, u64);

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// The largest listpack Redis builds for a stream node.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: Id,
    /// Field, value, field, value...
    pub fields: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: Id,
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen_time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_id: Id,
    /// -1 when unknown.
    pub entries_read: i64,
    /// By id.
    pub pending: Vec<PendingEntry>,
    /// By name.
    pub consumers: Vec<StreamConsumer>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamValue {
    /// Live entries, by id.
    pub entries: Vec<StreamEntry>,
    pub last_id: Id,
    pub first_id: Id,
    pub max_deleted: Id,
    pub entries_added: u64,
    /// By name.
    pub groups: Vec<StreamGroup>,
}

fn node_key(id: Id) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.0.to_be_bytes());
    k[8..].copy_from_slice(&id.1.to_be_bytes());
    k
}

fn key_id(k: &[u8]) -> Result<Id, RdbError> {
    if k.len() != 16 {
        return Err(RdbError::BadData);
    }
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&k[..8]);
    b.copy_from_slice(&k[8..]);
    Ok((u64::from_be_bytes(a), u64::from_be_bytes(b)))
}

/// One node being filled, as Redis's `streamAppendItem` fills it.
struct Node {
    master: Id,
    fields: Vec<Vec<u8>>,
    lp: ListpackWriter,
    count: i64,
}

/// Writes the stream object (after its type byte) as STREAM_LISTPACKS_2.
pub fn encode(out: &mut Vec<u8>, s: &StreamValue, opts: &EncodeOptions) {
    let max_bytes = match opts.stream_node_max_bytes {
        0 => LISTPACK_MAX_SIZE,
        b => b.min(LISTPACK_MAX_SIZE),
    };
    let mut nodes: Vec<Node> = Vec::new();
    for e in &s.entries {
        let total: u64 = e.fields.iter().map(|f| f.len() as u64).sum();
        let full = match nodes.last() {
            None => true,
            Some(n) => {
                n.lp.bytes() as u64 + total >= max_bytes
                    || (opts.stream_node_max_entries != 0
                        && n.count as u64 >= opts.stream_node_max_entries)
            }
        };
        if full {
            let fields: Vec<Vec<u8>> = e.fields.iter().step_by(2).cloned().collect();
            let mut lp = ListpackWriter::new();
            lp.push_int(0); // live count, set below
            lp.push_int(0); // deleted
            lp.push_int(fields.len() as i64);
            for f in &fields {
                lp.push_str(f);
            }
            lp.push_int(0);
            nodes.push(Node {
                master: e.id,
                fields,
                lp,
                count: 0,
            });
        }
        let Some(n) = nodes.last_mut() else { continue };
        let numfields = e.fields.len() / 2;
        let same = numfields == n.fields.len()
            && e.fields
                .iter()
                .step_by(2)
                .zip(&n.fields)
                .all(|(a, b)| a == b);
        n.lp.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        n.lp.push_int(e.id.0.wrapping_sub(n.master.0) as i64);
        n.lp.push_int(e.id.1.wrapping_sub(n.master.1) as i64);
        if !same {
            n.lp.push_int(numfields as i64);
        }
        for pair in e.fields.chunks(2) {
            if !same {
                n.lp.push_str(&pair[0]);
            }
            if let Some(v) = pair.get(1) {
                n.lp.push_str(v);
            }
        }
        let mut lp_count = numfields as i64 + 3;
        if !same {
            lp_count += numfields as i64 + 1;
        }
        n.lp.push_int(lp_count);
        n.count += 1;
        n.lp.set_int(0, n.count);
    }
    write_length(out, nodes.len() as u64);
    for n in nodes {
        write_string_rdb(out, &node_key(n.master));
        write_string_rdb(out, &n.lp.finish());
    }
    write_length(out, s.entries.len() as u64);
    for v in [
        s.last_id.0,
        s.last_id.1,
        s.first_id.0,
        s.first_id.1,
        s.max_deleted.0,
        s.max_deleted.1,
        s.entries_added,
    ] {
        write_length(out, v);
    }
    write_length(out, s.groups.len() as u64);
    for g in &s.groups {
        write_string_rdb(out, &g.name);
        write_length(out, g.last_id.0);
        write_length(out, g.last_id.1);
        write_length(out, g.entries_read as u64);
        write_length(out, g.pending.len() as u64);
        for p in &g.pending {
            out.extend_from_slice(&node_key(p.id));
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            write_length(out, p.delivery_count);
        }
        write_length(out, g.consumers.len() as u64);
        for c in &g.consumers {
            write_string_rdb(out, &c.name);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            let owned: Vec<&PendingEntry> =
                g.pending.iter().filter(|p| p.consumer == c.name).collect();
            write_length(out, owned.len() as u64);
            for p in owned {
                out.extend_from_slice(&node_key(p.id));
            }
        }
    }
}

fn int(e: &[u8]) -> Result<i64, RdbError> {
    listpack::parse_int(e).ok_or(RdbError::BadData)
}

fn ms_time(r: &mut Reader) -> Result<i64, RdbError> {
    let b = r.take(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(i64::from_le_bytes(a))
}

fn id(r: &mut Reader) -> Result<Id, RdbError> {
    Ok((r.length()?, r.length()?))
}

/// A cursor over a node's elements.
struct Elems<'a> {
    elems: &'a [Vec<u8>],
    i: usize,
}

impl<'a> Elems<'a> {
    fn next(&mut self) -> Result<&'a Vec<u8>, RdbError> {
        let e = self.elems.get(self.i).ok_or(RdbError::BadData)?;
        self.i += 1;
        Ok(e)
    }

    fn int(&mut self) -> Result<i64, RdbError> {
        int(self.next()?)
    }

    fn done(&self) -> bool {
        self.i >= self.elems.len()
    }
}

/// The entries of one node's listpack (deleted ones left out).
fn node_entries(master: Id, lp: &[u8], out: &mut Vec<StreamEntry>) -> Result<(), RdbError> {
    let bad = || RdbError::BadData;
    let elems = listpack::decode(lp)?;
    let mut c = Elems {
        elems: &elems,
        i: 0,
    };
    let _live = c.int()?;
    let _deleted = c.int()?;
    let nfields = usize::try_from(c.int()?).map_err(|_| bad())?;
    if nfields > elems.len() {
        return Err(bad());
    }
    let mut master_fields = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        master_fields.push(c.next()?.clone());
    }
    if c.int()? != 0 || c.done() {
        return Err(bad());
    }
    while !c.done() {
        let flags = c.int()?;
        let ms = master.0.wrapping_add(c.int()? as u64);
        let seq = master.1.wrapping_add(c.int()? as u64);
        let mut fields = Vec::new();
        if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push(f.clone());
                fields.push(c.next()?.clone());
            }
        } else {
            let n = usize::try_from(c.int()?).map_err(|_| bad())?;
            if n > elems.len() {
                return Err(bad());
            }
            for _ in 0..n * 2 {
                fields.push(c.next()?.clone());
            }
        }
        let _lp_count = c.int()?;
        if flags & FLAG_DELETED == 0 {
            if out.last().is_some_and(|l| l.id >= (ms, seq)) {
                return Err(bad());
            }
            out.push(StreamEntry {
                id: (ms, seq),
                fields,
            });
        }
    }
    Ok(())
}

/// Reads a stream object of format `version` (1: Redis 5/6, 2: 7.0, 3: 7.2).
pub fn decode(r: &mut Reader, version: u8) -> Result<StreamValue, RdbError> {
    let bad = || RdbError::BadData;
    let mut s = StreamValue::default();
    let nodes = r.length()?;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = key_id(&key)?;
        let lp = r.string()?;
        node_entries(master, &lp, &mut s.entries)?;
    }
    let length = r.length()?;
    if length != s.entries.len() as u64 {
        return Err(bad());
    }
    s.last_id = id(r)?;
    if version >= 2 {
        s.first_id = id(r)?;
        s.max_deleted = id(r)?;
        s.entries_added = r.length()?;
    } else {
        s.first_id = s.entries.first().map(|e| e.id).unwrap_or((0, 0));
        s.entries_added = length;
    }
    if s.entries.last().is_some_and(|e| e.id > s.last_id) {
        return Err(bad());
    }
    let ngroups = r.length()?;
    for _ in 0..ngroups {
        let name = r.string()?;
        let last_id = id(r)?;
        let entries_read = if version >= 2 {
            r.length()? as i64
        } else if last_id == s.last_id {
            s.entries_added as i64
        } else {
            -1
        };
        let npel = r.length()?;
        let mut pending: Vec<PendingEntry> = Vec::new();
        let mut owned_by_one: Vec<bool> = Vec::new();
        for _ in 0..npel {
            let pid = key_id(r.take(16)?)?;
            let delivery_time = ms_time(r)?;
            let delivery_count = r.length()?;
            if pending.last().is_some_and(|p| p.id >= pid) {
                return Err(bad());
            }
            pending.push(PendingEntry {
                id: pid,
                delivery_time,
                delivery_count,
                consumer: Vec::new(),
            });
            owned_by_one.push(false);
        }
        let nconsumers = r.length()?;
        let mut consumers = Vec::new();
        for _ in 0..nconsumers {
            let cname = r.string()?;
            let seen_time = ms_time(r)?;
            if version >= 3 {
                let _active_time = ms_time(r)?;
            }
            let owned = r.length()?;
            for _ in 0..owned {
                let pid = key_id(r.take(16)?)?;
                let i = pending
                    .binary_search_by(|p| p.id.cmp(&pid))
                    .map_err(|_| bad())?;
                pending[i].consumer = cname.clone();
                owned_by_one[i] = true;
            }
            consumers.push(StreamConsumer {
                name: cname,
                seen_time,
            });
        }
        // An entry no consumer owns cannot be kept (Redis's deep check
        // refuses it).
        let mut owned = owned_by_one.into_iter();
        pending.retain(|_| owned.next().unwrap_or(false));
        s.groups.push(StreamGroup {
            name,
            last_id,
            entries_read,
            pending,
            consumers,
        });
    }
    Ok(s)
}

/// A stream with every feature, for the crate's tests.
#[cfg(test)]
pub(crate) fn tests_sample() -> StreamValue {
    let mut entries = Vec::new();
    for i in 0..250u64 {
        let fields = if i.is_multiple_of(7) {
            vec![b"other".to_vec(), format!("{i}").into_bytes()]
        } else {
            vec![
                b"f".to_vec(),
                format!("v{i}").into_bytes(),
                b"n".to_vec(),
                i.to_string().into_bytes(),
            ]
        };
        entries.push(StreamEntry {
            id: (1000 + i / 3, i % 3),
            fields,
        });
    }
    StreamValue {
        last_id: entries[249].id,
        first_id: entries[0].id,
        max_deleted: (0, 0),
        entries_added: 250,
        groups: vec![StreamGroup {
            name: b"g".to_vec(),
            last_id: entries[5].id,
            entries_read: 6,
            pending: vec![PendingEntry {
                id: entries[2].id,
                delivery_time: 1700000000000,
                delivery_count: 2,
                consumer: b"alice".to_vec(),
            }],
            consumers: vec![
                StreamConsumer {
                    name: b"alice".to_vec(),
                    seen_time: 1700000000001,
                },
                StreamConsumer {
                    name: b"bob".to_vec(),
                    seen_time: 1700000000002,
                },
            ],
        }],
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{dump, restore, Value};

    #[test]
    fn round_trips() {
        let s = tests_sample();
        let p = dump(
            &Value::Stream(Box::new(s.clone())),
            &EncodeOptions::default(),
        );
        assert_eq!(restore(&p).unwrap(), Value::Stream(Box::new(s)));
    }
}
