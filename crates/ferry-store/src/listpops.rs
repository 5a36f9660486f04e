//! Pops served from rows read ahead, their deletes held until SQL next
//! reads the `lists` table.
//!
//! An LPOP or RPOP was two statements: a SELECT of the row at the list's
//! end and a DELETE of it, half the server's time on a drained queue
//! (issue 13: LPOP at `-P 16` stood at 0.25 of redis-server). Now a pop
//! that finds nothing known reads up to [`AHEAD_ROWS`] rows from its end at
//! once and keeps those it did not take ([`ListPops`]); later pops take
//! them from memory. The popped rows are not deleted one statement each:
//! each list end's popped range is held ([`HeldPops`]) and deleted by one
//! statement before SQL next names the `lists` table
//! ([`crate::Store::stmt`]) or the transaction commits. 800 pipelined pops
//! of one queue cost about 13 reads and 13 deletes instead of 1600
//! statements.
//!
//! Why this stays true:
//! - The rows kept for an end are exactly the first rows of the list at
//!   that end, in pop order. [`crate::Store::apply`] passes every change to
//!   [`ListPops::note`], which mirrors it: a put nearer the end than every
//!   kept row is the new end row, a put among them is inserted (or
//!   replaces one, LSET); a delete drops the rows it covers; removing,
//!   replacing or flushing a list forgets it. Whatever changes the tables
//!   another way forgets everything.
//! - A pop is held only when its range is exactly the first kept rows of
//!   one end ([`ListPops::pops_next`]), inside a transaction (without one
//!   nothing would write it later). Every other statement on `lists`,
//!   including a refill, writes the held deletes first, so SQLite sees the
//!   deletes in their order among the other changes, and a held range is
//!   always next to its end's kept rows: extending it by the next pop
//!   covers no row that is still in the list.
//! - Held deletes belong to the open transaction, like held key rows: a
//!   rollback drops them with it, and after a crash the journal, which
//!   keeps every pop, replays them. A failed change forgets the kept rows
//!   but not the held deletes (the commands before it stand).

use crate::lists::ListEnd;
use crate::ops::Op;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};

/// Rows a pop reads beyond the ones it takes, when the budget allows.
pub(crate) const AHEAD_ROWS: usize = 64;
/// Bytes of elements a read ahead stops at (it always reads the rows the
/// pop takes).
pub(crate) const AHEAD_BYTES: usize = 16 * 1024;
/// Bytes a kept row costs besides its element (position, handle, deque
/// slot), counted against the budget.
const ROW_OVERHEAD: usize = 8 + std::mem::size_of::<Bytes>();

/// The SQL a held range is deleted with (what `Op::ListDelRange` runs).
pub(crate) const DELETE_SQL: &str = "DELETE FROM lists WHERE key_id = ?1 AND pos BETWEEN ?2 AND ?3";

/// Whether a statement names the `lists` table, so held deletes must be
/// written before it runs. A false positive costs an early write only.
pub(crate) fn names_lists_table(sql: &str) -> bool {
    sql.contains("lists")
}

type Rows = VecDeque<(i64, Bytes)>;

/// Rows a pop takes: their positions' range and their elements in
/// pop order.
pub(crate) struct Taken {
    pub(crate) low: i64,
    pub(crate) high: i64,
    pub(crate) values: Vec<Vec<u8>>,
}

/// Rows read ahead of pops, by list id and end, in pop order.
pub(crate) struct ListPops {
    ends: HashMap<(i64, ListEnd), Rows, foldhash::fast::FixedState>,
    bytes: usize,
    budget: usize,
}

fn row_cost(value: &[u8]) -> usize {
    value.len() + ROW_OVERHEAD
}

/// Whether `a` comes before `b` in pop order from `end`.
fn before(end: ListEnd, a: i64, b: i64) -> bool {
    match end {
        ListEnd::Head => a < b,
        ListEnd::Tail => a > b,
    }
}

impl ListPops {
    /// At most `budget` bytes kept between commands; 0 reads no rows ahead.
    pub(crate) fn new(budget: usize) -> ListPops {
        ListPops {
            ends: HashMap::default(),
            bytes: 0,
            budget,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many rows a pop may read beyond the `count` it takes.
    pub(crate) fn ahead(&self) -> usize {
        if self.budget == 0 {
            0
        } else {
            AHEAD_ROWS
        }
    }

    /// Rows known at `end` of list `id`.
    pub(crate) fn known(&self, id: i64, end: ListEnd) -> usize {
        self.ends.get(&(id, end)).map_or(0, |r| r.len())
    }

    /// The position of the row at `end` of list `id`, if known.
    pub(crate) fn end_pos(&self, id: i64, end: ListEnd) -> Option<i64> {
        Some(self.ends.get(&(id, end))?.front()?.0)
    }

    /// Replaces what is known at `end` of list `id` with rows just read
    /// from SQLite (its first rows from that end, in pop order).
    pub(crate) fn fill(
        &mut self,
        id: i64,
        end: ListEnd,
        rows: impl IntoIterator<Item = (i64, Bytes)>,
    ) {
        self.forget_end(id, end);
        let rows: Rows = rows.into_iter().collect();
        if rows.is_empty() {
            return;
        }
        self.bytes += rows.iter().map(|(_, v)| row_cost(v)).sum::<usize>();
        self.ends.insert((id, end), rows);
    }

    /// The first `count` known rows at `end` of list `id` (fewer if fewer
    /// are known), their elements moved out (without a copy: each is a
    /// buffer of its own). The rows stay, empty, until the pop's delete
    /// drops them ([`ListPops::note`]); [`ListPops::pops_next`] needs only
    /// their positions.
    pub(crate) fn take(&mut self, id: i64, end: ListEnd, count: usize) -> Option<Taken> {
        let rows = self.ends.get_mut(&(id, end))?;
        let n = count.min(rows.len());
        let first = rows.front()?.0;
        let last = rows.get(n.checked_sub(1)?)?.0;
        let mut values = Vec::with_capacity(n);
        for (_, v) in rows.range_mut(..n) {
            let v = std::mem::take(v);
            self.bytes -= v.len();
            values.push(Vec::from(v));
        }
        Some(Taken {
            low: first.min(last),
            high: first.max(last),
            values,
        })
    }

    /// The end of list `id` whose kept rows begin with exactly the rows
    /// in `from..=to` (a pop of them), if one does.
    pub(crate) fn pops_next(&self, id: i64, from: i64, to: i64) -> Option<ListEnd> {
        [ListEnd::Head, ListEnd::Tail].into_iter().find(|&end| {
            let Some(rows) = self.ends.get(&(id, end)) else {
                return false;
            };
            let (first, last) = match end {
                ListEnd::Head => (from, to),
                ListEnd::Tail => (to, from),
            };
            rows.front().is_some_and(|r| r.0 == first)
                && rows
                    .iter()
                    .take_while(|r| !before(end, last, r.0))
                    .any(|r| r.0 == last)
        })
    }

    /// Brings the kept rows in line with a change just made, then keeps
    /// them within the budget.
    pub(crate) fn note(&mut self, op: &Op) {
        if self.ends.is_empty() {
            return;
        }
        match op {
            Op::ListPut { id, pos, value } => {
                for end in [ListEnd::Head, ListEnd::Tail] {
                    let Some(rows) = self.ends.get_mut(&(*id, end)) else {
                        continue;
                    };
                    // Rows are kept only while there are some (see below).
                    let Some(&(last, _)) = rows.back() else {
                        continue;
                    };
                    if before(end, last, *pos) {
                        // Beyond the kept rows: they are still the first.
                        continue;
                    }
                    let at = rows.partition_point(|r| before(end, r.0, *pos));
                    if rows.get(at).is_some_and(|r| r.0 == *pos) {
                        self.bytes -= row_cost(&rows[at].1);
                        rows.remove(at);
                    }
                    self.bytes += row_cost(value);
                    rows.insert(at, (*pos, Bytes::copy_from_slice(value)));
                }
            }
            Op::ListDelRange { id, from, to } => {
                for end in [ListEnd::Head, ListEnd::Tail] {
                    let Some(rows) = self.ends.get_mut(&(*id, end)) else {
                        continue;
                    };
                    let bytes = &mut self.bytes;
                    rows.retain(|(pos, v)| {
                        let gone = (*from..=*to).contains(pos);
                        if gone {
                            *bytes -= row_cost(v);
                        }
                        !gone
                    });
                    if rows.is_empty() {
                        // Nothing left to tell where the end is.
                        self.ends.remove(&(*id, end));
                    }
                }
            }
            Op::Remove { id, .. } => self.forget(*id),
            Op::CopyData { to_id, .. } => self.forget(*to_id),
            Op::FlushDb { .. } | Op::FlushAll => self.clear(),
            _ => {}
        }
        while self.bytes > self.budget {
            let Some(&(id, end)) = self.ends.keys().next() else {
                break;
            };
            self.forget_end(id, end);
        }
    }

    fn forget(&mut self, id: i64) {
        self.forget_end(id, ListEnd::Head);
        self.forget_end(id, ListEnd::Tail);
    }

    fn forget_end(&mut self, id: i64, end: ListEnd) {
        if let Some(rows) = self.ends.remove(&(id, end)) {
            self.bytes -= rows.iter().map(|(_, v)| row_cost(v)).sum::<usize>();
        }
    }

    /// Forgets everything (the tables changed under it).
    pub(crate) fn clear(&mut self) {
        self.ends.clear();
        self.bytes = 0;
    }
}

/// Popped ranges whose rows are not deleted yet: (low position, high
/// position) by list id and end. A map: pops that round-robin over many
/// queues hold one range each.
#[derive(Default)]
pub(crate) struct HeldPops {
    ranges: HashMap<(i64, ListEnd), (i64, i64), foldhash::fast::FixedState>,
}

impl HeldPops {
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Holds the delete of `from..=to` at `end` of list `id`: it joins the
    /// range held there (next to it, see the module's doc).
    pub(crate) fn hold(&mut self, id: i64, end: ListEnd, from: i64, to: i64) {
        let r = self.ranges.entry((id, end)).or_insert((from, to));
        r.0 = r.0.min(from);
        r.1 = r.1.max(to);
    }

    /// Takes every held range out, to be deleted: (list id, end, low, high).
    pub(crate) fn take(&mut self) -> Vec<(i64, ListEnd, i64, i64)> {
        self.ranges
            .drain()
            .map(|((id, end), (from, to))| (id, end, from, to))
            .collect()
    }

    /// Holds again ranges taken but not deleted.
    pub(crate) fn restore(&mut self, ranges: impl IntoIterator<Item = (i64, ListEnd, i64, i64)>) {
        for (id, end, from, to) in ranges {
            self.hold(id, end, from, to);
        }
    }

    /// Drops everything held (a rollback).
    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(positions: &[i64]) -> Vec<(i64, Bytes)> {
        positions
            .iter()
            .map(|p| (*p, Bytes::from(format!("e{p}"))))
            .collect()
    }

    fn kept(p: &ListPops, id: i64, end: ListEnd) -> Vec<i64> {
        p.ends
            .get(&(id, end))
            .map(|r| r.iter().map(|(pos, _)| *pos).collect())
            .unwrap_or_default()
    }

    fn put(id: i64, pos: i64) -> Op {
        Op::ListPut {
            id,
            pos,
            value: format!("e{pos}").into_bytes(),
        }
    }

    fn del(id: i64, from: i64, to: i64) -> Op {
        Op::ListDelRange { id, from, to }
    }

    #[test]
    fn only_a_pop_of_the_first_kept_rows_is_recognised() {
        let mut p = ListPops::new(1 << 20);
        p.fill(1, ListEnd::Head, rows(&[10, 20, 30, 40]));
        p.fill(1, ListEnd::Tail, rows(&[40, 30]));
        assert_eq!(p.pops_next(1, 10, 10), Some(ListEnd::Head));
        assert_eq!(p.pops_next(1, 10, 30), Some(ListEnd::Head));
        assert_eq!(p.pops_next(1, 40, 40), Some(ListEnd::Tail));
        assert_eq!(p.pops_next(1, 30, 40), Some(ListEnd::Tail));
        // Not the first rows, a bound no row has, past the kept rows,
        // another list.
        assert_eq!(p.pops_next(1, 20, 20), None);
        assert_eq!(p.pops_next(1, 10, 25), None);
        assert_eq!(p.pops_next(1, 20, 40), None);
        assert_eq!(p.pops_next(1, 10, 50), None);
        assert_eq!(p.pops_next(2, 10, 10), None);
        let bytes = p.bytes();
        let taken = p.take(1, ListEnd::Tail, 5).expect("rows");
        assert_eq!((taken.low, taken.high), (30, 40));
        assert_eq!(taken.values, [b"e40".to_vec(), b"e30".to_vec()]);
        // Moved out: their bytes are no longer counted; the rows go with
        // the pop's delete, their positions still recognised until then.
        assert_eq!(p.bytes(), bytes - 6);
        assert_eq!(p.pops_next(1, 30, 40), Some(ListEnd::Tail));
        p.note(&del(1, 30, 40));
        assert_eq!(p.known(1, ListEnd::Tail), 0);
        assert_eq!(p.bytes(), 2 * (3 + ROW_OVERHEAD));
    }

    #[test]
    fn changes_are_mirrored_in_the_kept_rows() {
        let mut p = ListPops::new(1 << 20);
        p.fill(1, ListEnd::Head, rows(&[10, 20, 30]));
        p.fill(1, ListEnd::Tail, rows(&[30, 20, 10]));
        // A push at the head: the new first row there; beyond the rows
        // the tail keeps, so not its business.
        p.note(&put(1, 0));
        assert_eq!(kept(&p, 1, ListEnd::Head), [0, 10, 20, 30]);
        assert_eq!(kept(&p, 1, ListEnd::Tail), [30, 20, 10]);
        // And the other way round.
        p.note(&put(1, 50));
        assert_eq!(kept(&p, 1, ListEnd::Head), [0, 10, 20, 30]);
        assert_eq!(kept(&p, 1, ListEnd::Tail), [50, 30, 20, 10]);
        // An insert among them, and a replacement (LSET).
        p.note(&put(1, 15));
        p.note(&Op::ListPut {
            id: 1,
            pos: 20,
            value: b"new".to_vec(),
        });
        assert_eq!(kept(&p, 1, ListEnd::Head), [0, 10, 15, 20, 30]);
        assert_eq!(p.ends[&(1, ListEnd::Head)][3].1, &b"new"[..]);
        // A delete drops the rows it covers at both ends.
        p.note(&del(1, 12, 25));
        assert_eq!(kept(&p, 1, ListEnd::Head), [0, 10, 30]);
        assert_eq!(kept(&p, 1, ListEnd::Tail), [50, 30, 10]);
        let bytes = p.bytes();
        p.note(&del(1, -5, 100));
        assert_eq!(kept(&p, 1, ListEnd::Head), Vec::<i64>::new());
        assert_eq!(kept(&p, 1, ListEnd::Tail), Vec::<i64>::new());
        assert!(p.bytes() < bytes && p.bytes() == 0);
        // With nothing kept, a put tells nothing.
        p.note(&put(1, 5));
        assert_eq!(p.known(1, ListEnd::Head), 0);
        // Removing, replacing and flushing forget.
        p.fill(2, ListEnd::Head, rows(&[1]));
        p.fill(3, ListEnd::Tail, rows(&[1]));
        p.fill(4, ListEnd::Head, rows(&[1]));
        p.note(&Op::Remove {
            db: 0,
            key: b"k".to_vec(),
            id: 2,
            ktype: crate::keyspace::KeyType::List,
            had_expire: false,
        });
        p.note(&Op::CopyData {
            ktype: crate::keyspace::KeyType::List,
            from_id: 4,
            to_id: 3,
        });
        assert_eq!(
            (p.known(2, ListEnd::Head), p.known(3, ListEnd::Tail)),
            (0, 0)
        );
        assert_eq!(p.known(4, ListEnd::Head), 1);
        p.note(&Op::FlushAll);
        assert_eq!((p.known(4, ListEnd::Head), p.bytes()), (0, 0));
    }

    #[test]
    fn the_budget_bounds_what_stays_after_a_change() {
        let mut p = ListPops::new(3 * (2 + ROW_OVERHEAD));
        p.fill(1, ListEnd::Head, rows(&[1, 2, 3, 4, 5]));
        // A pop may use rows over the budget; its change trims them.
        assert_eq!(p.known(1, ListEnd::Head), 5);
        p.note(&del(1, 1, 1));
        assert!(p.bytes() <= 3 * (2 + ROW_OVERHEAD));
        let mut none = ListPops::new(0);
        assert_eq!(none.ahead(), 0);
        none.fill(1, ListEnd::Head, rows(&[1]));
        none.note(&del(1, 1, 1));
        assert_eq!(none.bytes(), 0);
    }

    #[test]
    fn held_ranges_grow_per_list_end_and_come_back_after_a_failure() {
        let mut h = HeldPops::default();
        assert!(h.is_empty());
        h.hold(1, ListEnd::Head, 10, 10);
        h.hold(1, ListEnd::Head, 20, 30);
        h.hold(1, ListEnd::Tail, 90, 90);
        h.hold(1, ListEnd::Tail, 70, 80);
        h.hold(2, ListEnd::Head, 5, 5);
        let mut taken = h.take();
        taken.sort_by_key(|r| (r.0, r.2));
        assert_eq!(
            taken,
            [
                (1, ListEnd::Head, 10, 30),
                (1, ListEnd::Tail, 70, 90),
                (2, ListEnd::Head, 5, 5)
            ]
        );
        assert!(h.is_empty());
        h.restore(taken);
        assert_eq!(h.take().len(), 3);
        h.hold(3, ListEnd::Head, 1, 1);
        h.clear();
        assert!(h.is_empty());
    }

    #[test]
    fn statements_on_the_lists_table_are_recognised() {
        assert!(names_lists_table(DELETE_SQL));
        assert!(!names_lists_table("UPDATE keys SET len = ?3 WHERE db = ?1"));
    }
}
