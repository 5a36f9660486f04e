//! Key-row updates held back until SQL next reads the `keys` table.
//!
//! A push, pop, new field, new member or stream entry changes its key's
//! row (`len`, and `version` for WATCH): one b-tree write per command
//! beside the element's own, a third to a half of an LPUSH, LPOP, SPOP or
//! ZPOPMIN on a hot queue key (issue 13). Commands find such a key through
//! the key cache, which [`crate::Store::apply`] keeps true either way, so
//! the row itself is needed only when a statement reads or writes the
//! table: [`crate::Store::stmt`] (and every other way the store runs SQL
//! on `keys`) writes the held rows first, and a commit writes them before
//! it ends the transaction. Many commands on one key between two such
//! statements then cost one UPDATE.
//!
//! Rows are held only inside a transaction (`Store::begin`): without one,
//! each statement commits on its own and nothing would write them later.
//!
//! Only the updates of collections and streams are held (`enc` 0): a
//! collection's `value` is NULL, a stream's is its metadata (last id,
//! entries added; every XADD changes it), and their rows change nothing
//! else. The row's `version` is bumped once for however many updates were
//! held; WATCH only asks whether it changed.
//!
//! Held rows belong to the open transaction: a rollback drops them with
//! it, and after a crash the journal, which keeps every command's update,
//! replays them.

use crate::DATABASES;
use std::collections::HashMap;

/// What a held update writes to its key row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Held {
    pub(crate) len: i64,
    pub(crate) expire_at: Option<i64>,
    /// NULL for a collection, the metadata of a stream.
    pub(crate) value: Option<Vec<u8>>,
}

/// The SQL a held row is written with: what the last held `Op::Update`
/// would have done (`enc` stays 0).
pub(crate) const WRITE_SQL: &str =
    "UPDATE keys SET len = ?3, expire_at = ?4, value = ?5, enc = 0, version = version + 1
     WHERE db = ?1 AND key = ?2";

type ByKey = HashMap<Vec<u8>, Held, foldhash::fast::FixedState>;

/// Held key-row updates, by database slot and key.
#[derive(Default)]
pub(crate) struct HeldRows {
    by_slot: [ByKey; DATABASES],
    count: usize,
}

impl HeldRows {
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Holds `key`'s new row, replacing what was held for it.
    pub(crate) fn hold(&mut self, slot: u8, key: &[u8], held: Held) {
        let rows = &mut self.by_slot[slot as usize];
        match rows.get_mut(key) {
            Some(h) => *h = held,
            None => {
                rows.insert(key.to_vec(), held);
                self.count += 1;
            }
        }
    }

    /// Drops what is held for `key` (its row is being deleted).
    pub(crate) fn forget(&mut self, slot: u8, key: &[u8]) {
        if self.count > 0 && self.by_slot[slot as usize].remove(key).is_some() {
            self.count -= 1;
        }
    }

    /// Drops what is held for a database slot (FLUSHDB).
    pub(crate) fn forget_slot(&mut self, slot: u8) {
        let rows = &mut self.by_slot[slot as usize];
        self.count -= rows.len();
        rows.clear();
    }

    /// Drops everything held (a rollback, FLUSHALL).
    pub(crate) fn clear(&mut self) {
        for slot in 0..DATABASES {
            self.forget_slot(slot as u8);
        }
    }

    /// Takes every held row out, to be written.
    pub(crate) fn take(&mut self) -> Vec<(u8, Vec<u8>, Held)> {
        let mut out = Vec::with_capacity(self.count);
        for (slot, rows) in self.by_slot.iter_mut().enumerate() {
            out.extend(rows.drain().map(|(k, h)| (slot as u8, k, h)));
        }
        self.count = 0;
        out
    }
}

/// Whether a statement names the `keys` table, so held rows must be
/// written before it runs. A false positive costs an early write only.
pub(crate) fn names_keys_table(sql: &str) -> bool {
    sql.contains("keys")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(len: i64) -> Held {
        Held {
            len,
            expire_at: None,
            value: None,
        }
    }

    #[test]
    fn the_last_update_of_a_key_wins_and_forgetting_counts() {
        let mut h = HeldRows::default();
        assert!(h.is_empty());
        h.hold(0, b"a", held(1));
        h.hold(0, b"a", held(2));
        h.hold(3, b"a", held(7));
        h.hold(3, b"b", held(8));
        assert_eq!(h.count, 3);
        h.forget(3, b"b");
        h.forget(3, b"nothing");
        assert_eq!(h.count, 2);
        let mut rows = h.take();
        rows.sort();
        assert_eq!(
            rows,
            [(0, b"a".to_vec(), held(2)), (3, b"a".to_vec(), held(7))]
        );
        assert!(h.is_empty());
        h.hold(1, b"x", held(1));
        h.hold(2, b"y", held(1));
        h.forget_slot(1);
        assert_eq!(h.count, 1);
        h.clear();
        assert!(h.is_empty());
        assert!(h.take().is_empty());
    }

    #[test]
    fn statements_on_the_keys_table_are_recognised() {
        assert!(names_keys_table(WRITE_SQL));
        assert!(names_keys_table("SELECT id FROM keys WHERE db = ?1"));
        assert!(!names_keys_table(
            "INSERT INTO lists (key_id, pos, value) VALUES (?1, ?2, ?3)"
        ));
    }
}
