//! A model of how Redis packs a stream into macro nodes, so that
//! approximate trimming (`MAXLEN ~`, `MINID ~`) and XINFO's radix-tree
//! numbers come out as in Redis.
//!
//! Redis keeps a stream as a radix tree of listpacks ("nodes"), each holding
//! up to `stream-node-max-entries` entries (live or deleted) and about
//! `stream-node-max-bytes` bytes. Approximate trimming removes whole nodes
//! only, so how many entries it leaves depends on where nodes begin. ferry
//! stores every entry as its own row; beside them, one `stream_nodes` row per
//! node records what Redis would have: the node's first (master) id, its live
//! and deleted counts, the listpack's size in bytes, its last id and its
//! master fields. Entries are never physically kept as tombstones: a deleted
//! entry's row is gone, only the node's `deleted` count remembers it.
//!
//! The byte size follows listpack's encoding rules (integers in 1 to 9
//! bytes, strings with a 1, 2 or 5 byte header, a back-length of 1 to 5
//! bytes per element; strings that read as integers are stored as integers),
//! which is what decides when a node is full.

use super::id::StreamId;

/// Entry flag bits as Redis stores them (only their encoded size matters).
const FLAG_SAMEFIELDS: i64 = 2;

/// The largest listpack Redis builds, whatever the configuration says.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// `stream-node-max-bytes` and `stream-node-max-entries` (0 = no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// One macro node as Redis would hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// The master id: the id of the first entry ever added to the node.
    pub start: StreamId,
    pub live: i64,
    pub deleted: i64,
    /// The listpack's size without its two counters (live, deleted),
    /// whose encoded size changes with their values.
    pub bytes: i64,
    /// The last entry added (possibly deleted since).
    pub last: StreamId,
    /// The master entry's field names.
    pub fields: Vec<Vec<u8>>,
}

/// Encoded size of an integer element, with its back-length byte.
fn int_elem(v: i64) -> i64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    };
    enc + 1
}

/// Bytes of the back-length that follows an element of `len` bytes.
fn backlen(len: i64) -> i64 {
    if len <= 127 {
        1
    } else if len < 16383 {
        2
    } else if len < 2097151 {
        3
    } else if len < 268435455 {
        4
    } else {
        5
    }
}

/// Encoded size of a string element (stored as an integer when it reads
/// as one), with its back-length.
fn str_elem(s: &[u8]) -> i64 {
    if let Some(v) = crate::parse_canonical_i64(s) {
        return int_elem(v);
    }
    let n = s.len() as i64;
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    enc + backlen(enc)
}

/// Size of one entry appended to a node whose master id is `master`.
fn entry_bytes(master: StreamId, id: StreamId, pairs: &[&[u8]], same_fields: bool) -> i64 {
    let n = (pairs.len() / 2) as i64;
    let mut b = int_elem(if same_fields { FLAG_SAMEFIELDS } else { 0 })
        + int_elem(id.ms.wrapping_sub(master.ms) as i64)
        + int_elem(id.seq.wrapping_sub(master.seq) as i64);
    if !same_fields {
        b += int_elem(n) + pairs.iter().step_by(2).map(|f| str_elem(f)).sum::<i64>();
    }
    b += pairs
        .iter()
        .skip(1)
        .step_by(2)
        .map(|v| str_elem(v))
        .sum::<i64>();
    let lp_count = n + 3 + if same_fields { 0 } else { n + 1 };
    b + int_elem(lp_count)
}

impl Node {
    /// The listpack's full size (what Redis compares with the byte limit).
    fn lp_bytes(&self) -> i64 {
        self.bytes + int_elem(self.live) + int_elem(self.deleted)
    }

    /// Whether the entry `pairs` (flat field, value list) still goes into
    /// this node, as Redis decides before appending.
    pub fn has_room(&self, pairs: &[&[u8]], limits: NodeLimits) -> bool {
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            b => b.min(LISTPACK_MAX_SIZE),
        };
        let total: u64 = pairs.iter().map(|p| p.len() as u64).sum();
        if self.lp_bytes() as u64 + total >= max_bytes {
            return false;
        }
        limits.max_entries == 0 || ((self.live + self.deleted) as u64) < limits.max_entries
    }

    /// A node created for the entry `id`.
    pub fn create(id: StreamId, pairs: &[&[u8]]) -> Node {
        let fields: Vec<Vec<u8>> = pairs.iter().step_by(2).map(|f| f.to_vec()).collect();
        let master = 7 // listpack header and end byte
            + int_elem(fields.len() as i64)
            + fields.iter().map(|f| str_elem(f)).sum::<i64>()
            + int_elem(0);
        Node {
            start: id,
            live: 1,
            deleted: 0,
            bytes: master + entry_bytes(id, id, pairs, true),
            last: id,
            fields,
        }
    }

    /// Appends the entry `id` to this node.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]]) {
        let same = pairs.len() / 2 == self.fields.len()
            && pairs
                .iter()
                .step_by(2)
                .zip(&self.fields)
                .all(|(a, b)| *a == b.as_slice());
        self.bytes += entry_bytes(self.start, id, pairs, same);
        self.live += 1;
        self.last = id;
    }
}

/// How many nodes Redis's radix tree has for these node keys (sorted,
/// distinct): the tree is kept compressed, so it is one node per branching
/// point, per compressed run of single-child bytes, and per key end, plus
/// the root. An empty tree is its root alone.
pub(crate) fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    if keys.is_empty() {
        return 1;
    }
    fn count(keys: &[[u8; 16]], depth: usize) -> u64 {
        if depth == 16 {
            return 1; // the key's own (empty) node
        }
        let first = &keys[0];
        let last = &keys[keys.len() - 1];
        // Keys are sorted: the common prefix of all is that of the ends.
        let mut common = depth;
        while common < 16 && first[common] == last[common] {
            common += 1;
        }
        if common > depth {
            // A compressed node for the shared run, then what follows it.
            return 1 + count(keys, common);
        }
        // A branching node, then one subtree per distinct next byte.
        let mut n = 1;
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][depth];
            let mut j = i;
            while j < keys.len() && keys[j][depth] == b {
                j += 1;
            }
            n += count(&keys[i..j], depth + 1);
            i = j;
        }
        n
    }
    count(keys, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_sizes() {
        assert_eq!(int_elem(0), 2);
        assert_eq!(int_elem(127), 2);
        assert_eq!(int_elem(128), 3);
        assert_eq!(int_elem(-4096), 3);
        assert_eq!(int_elem(40000), 5);
        assert_eq!(int_elem(1 << 40), 10);
        assert_eq!(str_elem(b"12"), 2);
        assert_eq!(str_elem(b"012"), 5);
        assert_eq!(str_elem(&[b'x'; 63]), 65);
        assert_eq!(str_elem(&[b'x'; 200]), 204);
    }

    #[test]
    fn rax_node_counts() {
        let k = |ms: u64, seq: u64| StreamId::new(ms, seq).to_be_bytes();
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[k(1, 1)]), 2);
        // Shared prefix of 15 bytes, a branch at the last byte, two leaves.
        assert_eq!(rax_nodes(&[k(1, 1), k(1, 2)]), 4);
    }
}
