//! The first elements of lists that are read more than they are written,
//! kept in memory so that reading them again does not step through
//! SQLite's rows one by one.
//!
//! A list's elements are one row each: LRANGE of 100 elements was 100
//! steps of a statement, about 35 µs, three quarters of the command (issue
//! 13: LRANGE_100 at `-P 1` stood at 0.36-0.43 of redis-server). Lists read
//! often from the head ("the latest 100 items" of a feed, a timeline, a
//! leaderboard kept as a list) pay that on every read.
//!
//! A range read from the head (start 0 once normalised) of at most
//! [`MAX_ELEMENTS`] elements and [`MAX_BYTES`] bytes is remembered; a later
//! range within it is answered from memory. Kept true the way the key
//! cache is: [`crate::Store::apply`] passes every change to [`ListHeads::note`],
//! and any change to a list's elements forgets that list (a queue being
//! pushed and popped is read from SQLite as before, for the cost of a map
//! lookup); whatever changes the tables another way empties it. Bounded by
//! a byte budget: past it, other lists' heads make room (any of them: the
//! map's order).

use crate::ops::Op;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;

/// Longest head remembered, in elements.
const MAX_ELEMENTS: usize = 1024;
/// Longest head remembered, in bytes of elements.
const MAX_BYTES: usize = 64 * 1024;
/// Bytes an element costs besides its own (its `Bytes` handle), counted
/// against the budget.
const ELEMENT_OVERHEAD: usize = std::mem::size_of::<Bytes>();
/// Bytes a remembered list costs besides its elements (its map entry, the
/// vector's and the shared buffer's allocations).
const LIST_OVERHEAD: usize = 96;

pub(crate) struct ListHeads {
    lists: HashMap<i64, Vec<Bytes>, foldhash::fast::FixedState>,
    bytes: usize,
    budget: usize,
}

/// Elements packed one after another into one buffer and handed out as
/// slices of it: one allocation for all of them (a 100-element LRANGE
/// spent about a fifth of its time allocating and freeing one each).
#[derive(Default)]
pub(crate) struct Packed {
    buf: BytesMut,
    ends: Vec<usize>,
}

impl Packed {
    pub(crate) fn with_capacity(bytes: usize, elements: usize) -> Packed {
        Packed {
            buf: BytesMut::with_capacity(bytes),
            ends: Vec::with_capacity(elements),
        }
    }

    pub(crate) fn push(&mut self, element: &[u8]) {
        self.buf.extend_from_slice(element);
        self.ends.push(self.buf.len());
    }

    pub(crate) fn into_elements(self) -> Vec<Bytes> {
        let buf = self.buf.freeze();
        let mut from = 0;
        self.ends
            .into_iter()
            .map(|to| {
                let v = buf.slice(from..to);
                from = to;
                v
            })
            .collect()
    }
}

fn cost(elements: &[Bytes]) -> usize {
    LIST_OVERHEAD
        + elements
            .iter()
            .map(|e| e.len() + ELEMENT_OVERHEAD)
            .sum::<usize>()
}

impl ListHeads {
    /// At most `budget` bytes of elements; 0 remembers nothing.
    pub(crate) fn new(budget: usize) -> ListHeads {
        ListHeads {
            lists: HashMap::default(),
            bytes: 0,
            budget,
        }
    }

    /// Elements `start..=end` (0-based from the head) of list `id`, if
    /// they are within its remembered head.
    pub(crate) fn get(&self, id: i64, start: usize, end: usize) -> Option<&[Bytes]> {
        self.lists.get(&id)?.get(start..=end)
    }

    /// Remembers the first `elements.len()` elements of list `id`, just
    /// read from SQLite, if they are few and small enough. They are copied
    /// into one buffer of their exact size (the one they were read into
    /// grew by doubling: kept, it would hold up to twice their bytes).
    pub(crate) fn remember(&mut self, id: i64, elements: &[Bytes]) {
        if elements.is_empty() || elements.len() > MAX_ELEMENTS {
            return;
        }
        let bytes = cost(elements);
        if bytes > MAX_BYTES.min(self.budget) {
            return;
        }
        self.forget(id);
        while self.bytes + bytes > self.budget {
            let Some(&other) = self.lists.keys().next() else {
                break;
            };
            self.forget(other);
        }
        let mut copy =
            Packed::with_capacity(elements.iter().map(|e| e.len()).sum(), elements.len());
        for e in elements {
            copy.push(e);
        }
        self.bytes += bytes;
        self.lists.insert(id, copy.into_elements());
    }

    fn forget(&mut self, id: i64) {
        if let Some(old) = self.lists.remove(&id) {
            self.bytes -= cost(&old);
        }
    }

    /// Forgets the lists a change just made touched.
    pub(crate) fn note(&mut self, op: &Op) {
        if self.lists.is_empty() {
            return;
        }
        match op {
            Op::ListPut { id, .. } | Op::ListDelRange { id, .. } | Op::Remove { id, .. } => {
                self.forget(*id)
            }
            Op::CopyData { to_id, .. } => self.forget(*to_id),
            Op::FlushDb { .. } | Op::FlushAll => self.clear(),
            // Renames, moves and expiries keep a key's id and elements;
            // the rest are not list elements.
            _ => {}
        }
    }

    /// Forgets everything (the tables changed under it).
    pub(crate) fn clear(&mut self) {
        self.lists.clear();
        self.bytes = 0;
    }

    /// Bytes of elements held now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(n: usize, size: usize) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(vec![i as u8; size])).collect()
    }

    #[test]
    fn a_head_is_kept_until_its_list_changes() {
        let mut h = ListHeads::new(1 << 20);
        h.remember(1, &head(10, 5));
        h.remember(2, &head(3, 5));
        assert_eq!(h.get(1, 0, 9).map(|e| e.len()), Some(10));
        assert_eq!(h.get(1, 2, 4).map(|e| e[0][0]), Some(2));
        // Past what was read: not known.
        assert!(h.get(1, 5, 10).is_none());
        for op in [
            Op::ListPut {
                id: 1,
                pos: 0,
                value: b"x".to_vec(),
            },
            Op::ListDelRange {
                id: 1,
                from: 0,
                to: 0,
            },
            Op::Remove {
                db: 0,
                key: b"k".to_vec(),
                id: 1,
                ktype: crate::keyspace::KeyType::List,
                had_expire: false,
            },
            Op::CopyData {
                ktype: crate::keyspace::KeyType::List,
                from_id: 2,
                to_id: 1,
            },
        ] {
            h.remember(1, &head(10, 5));
            h.note(&op);
            assert!(h.get(1, 0, 0).is_none(), "{op:?} left the head");
            assert!(h.get(2, 0, 2).is_some(), "{op:?} took another list");
        }
        assert_eq!(h.bytes(), cost(&head(3, 5)));
        h.note(&Op::FlushAll);
        assert!(h.get(2, 0, 0).is_none());
        assert_eq!(h.bytes(), 0);
    }

    #[test]
    fn the_budget_holds() {
        let mut h = ListHeads::new(10_000);
        // Too long, too big: not kept.
        h.remember(1, &head(MAX_ELEMENTS + 1, 1));
        h.remember(2, &head(2, 6_000));
        assert!(h.get(1, 0, 0).is_none() && h.get(2, 0, 0).is_none());
        for id in 0..100 {
            h.remember(id, &head(10, 100));
            assert!(h.bytes() <= 10_000);
            assert!(h.get(id, 0, 9).is_some());
        }
        // Full, a new head takes the room of some, not of all.
        assert!(h.lists.len() > 1, "{} heads left", h.lists.len());
        let mut none = ListHeads::new(0);
        none.remember(1, &head(1, 1));
        assert!(none.get(1, 0, 0).is_none());
        // An empty read is not a head.
        h.remember(500, &[]);
        assert!(h.get(500, 0, 0).is_none() && !h.lists.contains_key(&500));
    }
}
