//! The key cache: recently used rows of the `keys` table in memory, so a
//! command on a hot key does not descend SQLite's b-tree to find it (issue
//! 13: at `-P 16` the descent, with its key compares, was about 40% of a
//! GET). A SET reads the row and then writes it; with the cache only the
//! write descends.
//!
//! It holds exactly what the table holds: [`crate::Store::apply`] updates
//! it after each change it makes (every change to the keyspace, new or
//! replayed, goes through there), and anything that changes the table
//! another way (a rollback, a replaced file) or many keys at once (FLUSHDB,
//! FLUSHALL) empties it.
//! A row read from the cache is then checked for expiry exactly as one read
//! from SQLite.
//!
//! Direct-mapped: a key has one place, chosen by its hash; a newcomer
//! replaces whatever was there. No LRU bookkeeping on a hit, and the memory
//! stays under its budget (`--key-cache-mb`): entries are only added while
//! the bytes they hold fit.

use crate::keyspace::KeyInfo;
use crate::ops::Op;
use std::hash::{BuildHasher, Hasher};

/// String values longer than this are not kept (their row is: a later
/// read of the value goes to SQLite).
const MAX_VALUE: usize = 512;
/// Bytes an entry costs besides its key and value (the entry, its box,
/// allocator overhead), counted against the budget.
const ENTRY_OVERHEAD: usize = 96;
/// Places in the table per budget byte: one per 64 bytes, so a budget full
/// of small entries (~110 bytes) leaves most places empty and keys rarely
/// push each other out (8 bytes a place: an eighth of the budget).
const BYTES_PER_PLACE: usize = 64;

/// What the cache knows of a key in one database slot.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Row {
    /// No row: the key does not exist.
    Missing,
    /// The row, and its `value` column when it is known and small.
    Present { info: KeyInfo, value: Value },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// Not kept (too big, or read without it).
    Unknown,
    /// The column as stored (None: NULL, as for collections).
    Known(Option<Vec<u8>>),
}

impl Value {
    /// The column, kept only when small.
    pub(crate) fn of(column: Option<&[u8]>) -> Value {
        match column {
            Some(v) if v.len() > MAX_VALUE => Value::Unknown,
            c => Value::Known(c.map(<[u8]>::to_vec)),
        }
    }

    /// Becomes [`Value::of`]`(column)`, reusing the buffer it holds (a SET
    /// of a cached key replaces its value without an allocation).
    fn set(&mut self, column: Option<&[u8]>) {
        match (self, column) {
            (Value::Known(Some(buf)), Some(new)) if new.len() <= MAX_VALUE => {
                buf.clear();
                buf.extend_from_slice(new);
            }
            (this, column) => *this = Value::of(column),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Value::Known(Some(v)) => v.len(),
            _ => 0,
        }
    }
}

struct Entry {
    slot: u8,
    key: Box<[u8]>,
    row: Row,
}

impl Entry {
    fn cost(&self) -> usize {
        ENTRY_OVERHEAD
            + self.key.len()
            + match &self.row {
                Row::Missing => 0,
                Row::Present { value, .. } => value.bytes(),
            }
    }
}

pub(crate) struct KeyCache {
    table: Vec<Option<Box<Entry>>>,
    /// Bytes held by the entries (see [`Entry::cost`]) and the table.
    bytes: usize,
    budget: usize,
    hasher: foldhash::fast::FixedState,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

impl KeyCache {
    /// A cache holding at most about `budget_mb` MiB; 0 disables it.
    pub(crate) fn new(budget_mb: u32) -> KeyCache {
        let budget = budget_mb as usize * 1024 * 1024;
        let places = if budget == 0 {
            0
        } else {
            (budget / BYTES_PER_PLACE).next_power_of_two()
        };
        let mut table = Vec::new();
        table.resize_with(places, || None);
        KeyCache {
            bytes: places * std::mem::size_of::<Option<Box<Entry>>>(),
            table,
            budget,
            hasher: foldhash::fast::FixedState::with_seed(0x6665_7272_795f_6b63),
            hits: 0,
            misses: 0,
        }
    }

    fn place(&self, slot: u8, key: &[u8]) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mut h = self.hasher.build_hasher();
        h.write_u8(slot);
        h.write(key);
        Some(h.finish() as usize & (self.table.len() - 1))
    }

    /// The cached row of `key`, if the cache has it.
    pub(crate) fn get(&mut self, slot: u8, key: &[u8]) -> Option<&Row> {
        let at = self.place(slot, key)?;
        match &self.table[at] {
            Some(e) if e.slot == slot && *e.key == *key => {
                self.hits += 1;
                Some(&e.row)
            }
            _ => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remembers `row` for `key` (replacing what had its place), if it fits
    /// the budget.
    pub(crate) fn put(&mut self, slot: u8, key: &[u8], row: Row) {
        let Some(at) = self.place(slot, key) else {
            return;
        };
        if let Some(old) = self.table[at].take() {
            self.bytes -= old.cost();
        }
        let entry = Entry {
            slot,
            key: key.into(),
            row,
        };
        let cost = entry.cost();
        if self.bytes + cost <= self.budget {
            self.bytes += cost;
            self.table[at] = Some(Box::new(entry));
        }
    }

    /// Changes the cached row of `key` in place; drops it when `f` cannot
    /// tell the new row (returns false).
    pub(crate) fn update(&mut self, slot: u8, key: &[u8], f: impl FnOnce(&mut Row) -> bool) {
        let Some(at) = self.place(slot, key) else {
            return;
        };
        let Some(e) = self.table[at].as_mut() else {
            return;
        };
        if e.slot != slot || *e.key != *key {
            return;
        }
        let before = e.cost();
        let keep = f(&mut e.row);
        let after = e.cost();
        self.bytes = self.bytes - before + after;
        if !keep || self.bytes > self.budget {
            self.forget_at(at);
        }
    }

    /// Forgets `key`.
    pub(crate) fn forget(&mut self, slot: u8, key: &[u8]) {
        let Some(at) = self.place(slot, key) else {
            return;
        };
        if self.table[at]
            .as_ref()
            .is_some_and(|e| e.slot == slot && *e.key == *key)
        {
            self.forget_at(at);
        }
    }

    fn forget_at(&mut self, at: usize) {
        if let Some(old) = self.table[at].take() {
            self.bytes -= old.cost();
        }
    }

    /// Brings the cache in line with a change [`crate::Store::apply`] has
    /// just made; `slot` maps a database to its slot.
    pub(crate) fn note(&mut self, op: &Op, slot: impl Fn(u8) -> u8) {
        match op {
            Op::Insert {
                db,
                key,
                id,
                ktype,
                expire_at,
                len,
                value,
                ..
            } => {
                let info = KeyInfo {
                    id: *id,
                    ktype: *ktype,
                    expire_at: *expire_at,
                    len: *len,
                };
                let value = Value::of(value.as_deref());
                self.put(slot(*db), key, Row::Present { info, value });
            }
            Op::Update {
                db,
                key,
                expire_at,
                len,
                value,
                ..
            } => self.update(slot(*db), key, |row| match row {
                Row::Present { info, value: v } => {
                    info.len = *len;
                    info.expire_at = *expire_at;
                    v.set(value.as_deref());
                    true
                }
                Row::Missing => false,
            }),
            Op::SetExpire { db, key, at, .. } => self.update(slot(*db), key, |row| match row {
                Row::Present { info, .. } => {
                    info.expire_at = *at;
                    true
                }
                Row::Missing => false,
            }),
            Op::StreamMeta { db, key, meta } => self.update(slot(*db), key, |row| match row {
                Row::Present { value, .. } => {
                    value.set(Some(meta));
                    true
                }
                Row::Missing => false,
            }),
            Op::Remove { db, key, .. } => self.put(slot(*db), key, Row::Missing),
            Op::Rename { db, src, dst } => {
                self.put(slot(*db), src, Row::Missing);
                self.forget(slot(*db), dst);
            }
            Op::Move {
                db, key, dst_db, ..
            } => {
                self.put(slot(*db), key, Row::Missing);
                self.forget(slot(*dst_db), key);
            }
            Op::FlushDb { .. } | Op::FlushAll => self.clear(),
            // Entries are by database slot, and SWAPDB swaps which slot a
            // database number names: they stay true.
            // The rest change elements, streams' parts or the FUNCTION
            // libraries, never a key row (a length changes by an Update).
            _ => {}
        }
    }

    /// Bytes held now, the table included.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets everything (the table changed under the cache).
    pub(crate) fn clear(&mut self) {
        if self.table.iter().any(Option::is_some) {
            for place in &mut self.table {
                *place = None;
            }
        }
        self.bytes = self.table.len() * std::mem::size_of::<Option<Box<Entry>>>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::KeyType;

    fn present(len: i64, value: &[u8]) -> Row {
        Row::Present {
            info: KeyInfo {
                id: 1,
                ktype: KeyType::String,
                expire_at: None,
                len,
            },
            value: Value::of(Some(value)),
        }
    }

    #[test]
    fn keeps_updates_and_forgets_rows() {
        let mut c = KeyCache::new(1);
        assert_eq!(c.get(0, b"k"), None);
        c.put(0, b"k", present(1, b"a"));
        assert_eq!(c.get(0, b"k"), Some(&present(1, b"a")));
        // Same key in another database slot: another entry.
        assert_eq!(c.get(1, b"k"), None);
        c.update(0, b"k", |row| {
            *row = present(2, b"bb");
            true
        });
        assert_eq!(c.get(0, b"k"), Some(&present(2, b"bb")));
        c.update(0, b"k", |_| false);
        assert_eq!(c.get(0, b"k"), None);
        c.put(0, b"k", Row::Missing);
        assert_eq!(c.get(0, b"k"), Some(&Row::Missing));
        c.forget(0, b"k");
        assert_eq!(c.get(0, b"k"), None);
        c.put(0, b"k", Row::Missing);
        c.clear();
        assert_eq!(c.get(0, b"k"), None);
    }

    #[test]
    fn big_values_are_not_kept_and_the_budget_holds() {
        let big = vec![b'x'; MAX_VALUE + 1];
        assert_eq!(Value::of(Some(&big)), Value::Unknown);
        let mut c = KeyCache::new(1);
        for i in 0..100_000u32 {
            c.put(0, &i.to_le_bytes(), present(3, b"abc"));
            assert!(c.bytes <= c.budget, "{} bytes over {}", c.bytes, c.budget);
        }
        let held: usize = c.table.iter().flatten().map(|e| e.cost()).sum();
        let table = c.table.len() * std::mem::size_of::<Option<Box<Entry>>>();
        assert_eq!(c.bytes, held + table);
        assert!(held > 0);
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let mut c = KeyCache::new(0);
        c.put(0, b"k", Row::Missing);
        assert_eq!(c.get(0, b"k"), None);
    }
}
