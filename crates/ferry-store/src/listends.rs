//! The end positions of recently pushed lists, kept in memory so a push
//! does not first ask SQLite where the list ends.
//!
//! A list's elements are rows keyed by (list id, position), and LPUSH/RPUSH
//! put the new element one gap beyond the smallest or largest position:
//! finding it was a b-tree descent of its own, one statement of the three
//! a push costs (the element's insert and the key row's new length are the
//! others). A queue pushes at one end and pops at the other, so each end is
//! known or not on its own.
//!
//! Kept true the way the key cache is: [`crate::Store::apply`] passes every
//! change (new or replayed) to [`ListEnds::note`], whatever changes the
//! tables another way empties it, and an end that a change could have moved
//! in a way the change does not tell (a delete reaching it) is forgotten
//! and read again when next needed.

use crate::lists::ListEnd;
use crate::ops::Op;
use std::collections::HashMap;

/// Lists whose ends are remembered at most; past it the memory starts
/// over (a push then reads its end once more).
const MAX_LISTS: usize = 64 * 1024;

/// What is known of one list's ends (None: not known).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Ends {
    head: Option<i64>,
    tail: Option<i64>,
}

#[derive(Default)]
pub(crate) struct ListEnds {
    lists: HashMap<i64, Ends, foldhash::fast::FixedState>,
}

impl ListEnds {
    /// The smallest (Head) or largest (Tail) position of list `id`, if
    /// known.
    pub(crate) fn get(&self, id: i64, end: ListEnd) -> Option<i64> {
        let ends = self.lists.get(&id)?;
        match end {
            ListEnd::Head => ends.head,
            ListEnd::Tail => ends.tail,
        }
    }

    /// Remembers an end just read from SQLite.
    pub(crate) fn learn(&mut self, id: i64, end: ListEnd, pos: i64) {
        if self.lists.len() >= MAX_LISTS && !self.lists.contains_key(&id) {
            self.lists.clear();
        }
        let ends = self.lists.entry(id).or_default();
        match end {
            ListEnd::Head => ends.head = Some(pos),
            ListEnd::Tail => ends.tail = Some(pos),
        }
    }

    /// Brings the known ends in line with a change just made.
    pub(crate) fn note(&mut self, op: &Op) {
        match op {
            Op::ListPut { id, pos, .. } => {
                if let Some(ends) = self.lists.get_mut(id) {
                    ends.head = ends.head.map(|h| h.min(*pos));
                    ends.tail = ends.tail.map(|t| t.max(*pos));
                }
            }
            Op::ListDelRange { id, from, to } => {
                if let Some(ends) = self.lists.get_mut(id) {
                    // A delete reaching an end moves it to a position only
                    // SQLite knows; one between the ends leaves them.
                    if ends.head.is_some_and(|h| *from <= h) {
                        ends.head = None;
                    }
                    if ends.tail.is_some_and(|t| *to >= t) {
                        ends.tail = None;
                    }
                    if *ends == Ends::default() {
                        self.lists.remove(id);
                    }
                }
            }
            Op::Remove { id, .. } => {
                self.lists.remove(id);
            }
            Op::CopyData { to_id, .. } => {
                self.lists.remove(to_id);
            }
            Op::FlushDb { .. } | Op::FlushAll => self.clear(),
            _ => {}
        }
    }

    /// Forgets everything (the tables changed under it).
    pub(crate) fn clear(&mut self) {
        self.lists.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: i64, pos: i64) -> Op {
        Op::ListPut {
            id,
            pos,
            value: b"v".to_vec(),
        }
    }

    #[test]
    fn pushes_move_the_ends_and_deletes_reaching_them_forget_them() {
        let mut e = ListEnds::default();
        assert_eq!(e.get(1, ListEnd::Head), None);
        // Nothing is guessed for a list whose ends were never read.
        e.note(&put(1, 5));
        assert_eq!(e.get(1, ListEnd::Tail), None);
        e.learn(1, ListEnd::Head, 0);
        e.learn(1, ListEnd::Tail, 10);
        e.note(&put(1, -10));
        e.note(&put(1, 20));
        e.note(&put(1, 3));
        assert_eq!(e.get(1, ListEnd::Head), Some(-10));
        assert_eq!(e.get(1, ListEnd::Tail), Some(20));
        // Between the ends: both stay.
        e.note(&Op::ListDelRange {
            id: 1,
            from: 0,
            to: 10,
        });
        assert_eq!(e.get(1, ListEnd::Head), Some(-10));
        assert_eq!(e.get(1, ListEnd::Tail), Some(20));
        // A pop at the tail: the head is still known.
        e.note(&Op::ListDelRange {
            id: 1,
            from: 20,
            to: 20,
        });
        assert_eq!(e.get(1, ListEnd::Tail), None);
        assert_eq!(e.get(1, ListEnd::Head), Some(-10));
        // A put cannot tell an unknown end.
        e.note(&put(1, 30));
        assert_eq!(e.get(1, ListEnd::Tail), None);
        e.note(&Op::ListDelRange {
            id: 1,
            from: -10,
            to: -10,
        });
        assert_eq!(e.get(1, ListEnd::Head), None);
        assert!(e.lists.is_empty());
        // Deleting or replacing a list forgets it.
        e.learn(2, ListEnd::Head, 0);
        e.note(&Op::Remove {
            db: 0,
            key: b"k".to_vec(),
            id: 2,
            ktype: crate::keyspace::KeyType::List,
            had_expire: false,
        });
        assert_eq!(e.get(2, ListEnd::Head), None);
        e.learn(3, ListEnd::Tail, 0);
        e.note(&Op::CopyData {
            ktype: crate::keyspace::KeyType::List,
            from_id: 2,
            to_id: 3,
        });
        assert_eq!(e.get(3, ListEnd::Tail), None);
        e.learn(4, ListEnd::Tail, 0);
        e.note(&Op::FlushAll);
        assert_eq!(e.get(4, ListEnd::Tail), None);
    }
}
