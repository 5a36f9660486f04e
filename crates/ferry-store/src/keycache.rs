//! The key cache: rows of the `keys` table that were read recently, kept in
//! memory so a command on a hot key does not descend SQLite's b-tree to find
//! it (issue 13: at `-P 16` the descent, with its key compares, was about
//! 40% of a GET).
//!
//! Reads fill it (a lookup that found a row); writes keep the entries it
//! has true, and a new key takes a place only if one of its two is free,
//! never pushing an entry out: a bulk load of new keys fills the free
//! places once and then costs nothing more (measured: loading 1M new keys
//! took 30% longer when every insert took a place), while a key read soon
//! after it was written (a cache-aside fill, a session) is found.
//!
//! It also remembers keys the table does not have (a lookup that found no
//! row, a key deleted or expired): a read of a missing key, the first step
//! of every cache-aside fill and of SET NX, LPOP or SPOP on a drained key,
//! then costs no b-tree descent either. Such an entry takes only a free
//! place (or another missing key's), never pushing out a row, and all of
//! them together hold at most a quarter of the budget: keys that come and
//! go (sessions, jobs with a TTL) cannot fill the cache with the dead.
//!
//! It holds exactly what the table holds: [`crate::Store::apply`] updates
//! it after each change it makes (every change to the keyspace, new or
//! replayed, goes through there), and anything that changes the table
//! another way (a rollback, a replaced file) or many keys at once (FLUSHDB,
//! FLUSHALL) empties it. A row read from the cache is then checked for
//! expiry exactly as one read from SQLite.
//!
//! Two-way set-associative: a key has two neighbouring places (one cache
//! line), chosen by its hash, each with a tag of the hash beside the
//! entry's pointer so that a look at the other place rarely reads its
//! entry. A hit in the second place swaps the two, so the first holds the
//! more recently used and a newcomer replaces the second, in the same
//! allocation. (Direct-mapped, one place a key, about a fifth of the reads
//! of 100k hot keys in a 16 MiB cache missed: keys sharing a place pushed
//! each other out.) The memory stays under its budget (`--key-cache-mb`):
//! entries are only added while the bytes they hold fit.
//!
//! A full budget must not freeze the cache with whatever came first (a
//! bulk load's first keys), or a key that becomes hot later, a new queue
//! in a database of a million keys, would descend the b-tree on every
//! command. So a row read from SQLite that does not fit makes room: a
//! clock hand sweeps the places and takes out the first entry not used
//! since the hand last passed (a hit marks its place used; the hand
//! clears the mark as it passes). Writes of new keys still never push an
//! entry out (see above).

use crate::keyspace::KeyInfo;
use crate::ops::Op;
use smallvec::SmallVec;
use std::hash::{BuildHasher, Hasher};

/// String values longer than this are not kept (their row is: a later
/// read of the value goes to SQLite).
const MAX_VALUE: usize = 512;
/// Bytes an entry costs besides a key and value too long to be inline (the
/// entry and the allocator's overhead for its box), counted against the
/// budget.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 16;
/// Places in the table per budget byte: one per 64 bytes, so a budget full
/// of small entries (~110 bytes) leaves most places empty and keys rarely
/// push each other out (16 bytes a place: a quarter of the budget).
const BYTES_PER_PLACE: usize = 64;

/// Bytes of key and value an entry holds inside itself; longer ones take an
/// allocation of their own.
const INLINE: usize = 64;
/// Longer keys are not cached (their length must also fit the entry's u32).
const MAX_KEY: usize = 64 * 1024;
/// Places the clock hand looks at, at most, to make room for one read row
/// (most places are empty: a budget full of small entries fills about one
/// place in three).
const MAX_SWEEP: usize = 512;
/// Entries of missing keys hold at most this share of the budget (1/N).
const ABSENT_SHARE: usize = 4;

/// What [`KeyCache::get`] knows of a key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cached<'a> {
    /// The key's row.
    Row(Row<'a>),
    /// The table has no row for the key.
    Absent,
}

/// A cached row as [`KeyCache::get`] shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Row<'a> {
    pub(crate) info: KeyInfo,
    /// The `value` column as stored (`Some(None)`: NULL, as for
    /// collections), or None when the cache did not keep it (too big, or
    /// read without it).
    pub(crate) value: Option<Option<&'a [u8]>>,
}

/// What an entry knows of its row's `value` column.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Column {
    Unknown,
    Null,
    /// The bytes after the key in [`Entry::bytes`].
    Bytes,
}

/// One cached row. Key and value share one buffer, key first, held inline
/// when short: a hit reads the table and the entry, two memory accesses
/// (with a separate allocation each for key and value it was four, about a
/// quarter of a GET at `-P 16`).
struct Entry {
    /// None: the table has no row for the key.
    info: Option<KeyInfo>,
    key_len: u32,
    slot: u8,
    column: Column,
    bytes: SmallVec<[u8; INLINE]>,
}

impl Entry {
    fn new(slot: u8, key: &[u8], info: Option<KeyInfo>, column: Option<Option<&[u8]>>) -> Entry {
        let mut e = Entry {
            info,
            key_len: 0,
            slot,
            column: Column::Unknown,
            bytes: SmallVec::new(),
        };
        e.fill(slot, key, info, column);
        e
    }

    /// Becomes the entry of `key`, in the same allocation.
    fn fill(&mut self, slot: u8, key: &[u8], info: Option<KeyInfo>, column: Option<Option<&[u8]>>) {
        self.slot = slot;
        self.info = info;
        self.bytes.clear();
        self.bytes.extend_from_slice(key);
        self.key_len = key.len() as u32;
        self.set_column(column);
    }

    /// Sets the `value` column (None: not known); values over
    /// [`MAX_VALUE`] are not kept.
    fn set_column(&mut self, column: Option<Option<&[u8]>>) {
        self.bytes.truncate(self.key_len as usize);
        self.column = match column {
            None => Column::Unknown,
            Some(None) => Column::Null,
            Some(Some(v)) if v.len() > MAX_VALUE => Column::Unknown,
            Some(Some(v)) => {
                self.bytes.extend_from_slice(v);
                Column::Bytes
            }
        };
    }

    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    fn cached(&self) -> Cached<'_> {
        let Some(info) = self.info else {
            return Cached::Absent;
        };
        Cached::Row(Row {
            info,
            value: match self.column {
                Column::Unknown => None,
                Column::Null => Some(None),
                Column::Bytes => Some(Some(&self.bytes[self.key_len as usize..])),
            },
        })
    }

    fn cost(&self) -> usize {
        ENTRY_OVERHEAD
            + if self.bytes.spilled() {
                self.bytes.capacity()
            } else {
                0
            }
    }

    fn is(&self, slot: u8, key: &[u8]) -> bool {
        self.slot == slot && self.key() == key
    }
}

/// One place of the table: an entry and the tag of its key's hash.
#[derive(Default)]
struct Place {
    tag: u32,
    /// Hit since the clock hand last passed (see the module's doc).
    used: bool,
    entry: Option<Box<Entry>>,
}

/// A hint to the CPU to load the cache line of `p`; nothing elsewhere.
#[inline]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults;
    // `p` is a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Where a key may be: the first of its two places, and its tag.
#[derive(Clone, Copy)]
struct Spot {
    first: usize,
    tag: u32,
}

pub(crate) struct KeyCache {
    table: Vec<Place>,
    /// Bytes held by the entries (see [`Entry::cost`]) and the table.
    bytes: usize,
    /// Of which entries of missing keys.
    absent_bytes: usize,
    budget: usize,
    /// The next place the clock hand looks at to make room.
    hand: usize,
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
        // Two places a key: at least two.
        let places = if places == 1 { 2 } else { places };
        let mut table = Vec::new();
        table.resize_with(places, Place::default);
        KeyCache {
            bytes: places * std::mem::size_of::<Place>(),
            absent_bytes: 0,
            table,
            budget,
            hand: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x6665_7272_795f_6b63),
            hits: 0,
            misses: 0,
        }
    }

    fn spot(&self, slot: u8, key: &[u8]) -> Option<Spot> {
        if self.table.is_empty() {
            return None;
        }
        let mut h = self.hasher.build_hasher();
        h.write_u8(slot);
        h.write(key);
        let h = h.finish();
        Some(Spot {
            first: h as usize & (self.table.len() - 1) & !1,
            tag: (h >> 32) as u32,
        })
    }

    /// Starts loading the line of `key`'s two places: the first step of
    /// [`crate::Store::prefetch_keys`].
    pub(crate) fn prefetch_places(&self, slot: u8, key: &[u8]) {
        if let Some(spot) = self.spot(slot, key) {
            prefetch(&self.table[spot.first]);
        }
    }

    /// Starts loading the entries `key`'s places hold under its tag (the
    /// places' line was prefetched before): the second step.
    pub(crate) fn prefetch_entries(&self, slot: u8, key: &[u8]) {
        if let Some(spot) = self.spot(slot, key) {
            for place in &self.table[spot.first..spot.first + 2] {
                if place.tag == spot.tag {
                    if let Some(entry) = &place.entry {
                        prefetch(&**entry);
                    }
                }
            }
        }
    }

    /// The place holding `key`, if one does (hashing it).
    fn locate(&self, slot: u8, key: &[u8]) -> Option<usize> {
        self.spot(slot, key)
            .and_then(|spot| self.find(spot, slot, key))
    }

    /// The place holding `key`, if one does.
    fn find(&self, spot: Spot, slot: u8, key: &[u8]) -> Option<usize> {
        (spot.first..spot.first + 2).find(|&at| {
            let place = &self.table[at];
            place.tag == spot.tag && place.entry.as_ref().is_some_and(|e| e.is(slot, key))
        })
    }

    /// What the cache knows of `key`, if anything.
    pub(crate) fn get(&mut self, slot: u8, key: &[u8]) -> Option<Cached<'_>> {
        let spot = self.spot(slot, key)?;
        match self.find(spot, slot, key) {
            Some(at) => {
                self.hits += 1;
                if at != spot.first {
                    // The more recently used goes first.
                    self.table.swap(at, spot.first);
                }
                self.table[spot.first].used = true;
                self.table[spot.first].entry.as_ref().map(|e| e.cached())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remembers the row just read for `key` (replacing what had its place,
    /// in the same allocation), making room in a full budget (the clock).
    /// `column` is the `value` column when it was read (None: it was not).
    pub(crate) fn put(
        &mut self,
        slot: u8,
        key: &[u8],
        info: KeyInfo,
        column: Option<Option<&[u8]>>,
    ) {
        self.put_as(slot, key, Some(info), column, true)
    }

    /// Remembers that the table has no row for `key` (a lookup found none),
    /// in a free place only.
    pub(crate) fn put_absent(&mut self, slot: u8, key: &[u8]) {
        self.put_as(slot, key, None, None, false)
    }

    /// [`KeyCache::put`] (`info` None: the key has no row); without
    /// `evict`, only into a free place or the key's own, and only while the
    /// budget has room.
    fn put_as(
        &mut self,
        slot: u8,
        key: &[u8],
        info: Option<KeyInfo>,
        column: Option<Option<&[u8]>>,
        evict: bool,
    ) {
        if key.len() > MAX_KEY {
            return;
        }
        let Some(spot) = self.spot(slot, key) else {
            return;
        };
        // Free: empty, or holding another missing key (a row is worth more).
        let free =
            |c: &KeyCache, at: usize| c.table[at].entry.as_ref().is_none_or(|e| e.info.is_none());
        // Its own place if it has one, else the second (the less recently
        // used) after the first moved there: the newcomer goes first.
        let own = self.find(spot, slot, key);
        let at = match own {
            Some(at) => at,
            None if evict => {
                self.table.swap(spot.first, spot.first + 1);
                spot.first
            }
            None if free(self, spot.first) => spot.first,
            None if free(self, spot.first + 1) => spot.first + 1,
            None => return,
        };
        let mut entry = match self.table[at].entry.take() {
            Some(mut old) => {
                self.release(&old);
                old.fill(slot, key, info, column);
                old
            }
            None => Box::new(Entry::new(slot, key, info, column)),
        };
        self.table[at].tag = spot.tag;
        if own.is_none() {
            // Another key's mark does not carry over; the key's own does (a
            // big value's key is read from SQLite after every hit, and must
            // not look unused to the clock for it).
            self.table[at].used = false;
        }
        if evict && !self.fits(&entry) {
            self.make_room(entry.cost(), at);
        }
        if !self.fits(&entry) {
            // Over budget: drop the value before giving up the entry.
            entry.set_column(None);
            entry.bytes.shrink_to_fit();
        }
        if self.fits(&entry) {
            self.hold(&entry);
            self.table[at].entry = Some(entry);
        }
    }

    /// Takes entries out at the clock hand, other than the one at `keep`,
    /// until `cost` more bytes fit or [`MAX_SWEEP`] places were looked at.
    fn make_room(&mut self, cost: usize, keep: usize) {
        let mask = self.table.len() - 1;
        for _ in 0..MAX_SWEEP {
            if self.bytes + cost <= self.budget {
                return;
            }
            let at = self.hand;
            self.hand = (self.hand + 1) & mask;
            let place = &mut self.table[at];
            if at == keep || place.entry.is_none() {
                continue;
            }
            if std::mem::take(&mut place.used) {
                continue;
            }
            self.forget_at(at);
        }
    }

    /// Whether `e` may be added within the budget (and, for a missing key,
    /// within the share those may hold).
    fn fits(&self, e: &Entry) -> bool {
        let cost = e.cost();
        self.bytes + cost <= self.budget
            && (e.info.is_some() || self.absent_bytes + cost <= self.budget / ABSENT_SHARE)
    }

    /// Counts `e` as held.
    fn hold(&mut self, e: &Entry) {
        self.bytes += e.cost();
        if e.info.is_none() {
            self.absent_bytes += e.cost();
        }
    }

    /// Stops counting `e` (taken out, or about to change).
    fn release(&mut self, e: &Entry) {
        self.bytes -= e.cost();
        if e.info.is_none() {
            self.absent_bytes -= e.cost();
        }
    }

    /// Changes the cached row of `key` in place, if the cache has it (`f`
    /// sees an entry with a row).
    fn update(&mut self, slot: u8, key: &[u8], f: impl FnOnce(&mut Entry)) {
        let Some(at) = self.locate(slot, key) else {
            return;
        };
        let Some(e) = self.table[at].entry.as_mut() else {
            return;
        };
        if e.info.is_none() {
            // A change to a row the cache thought missing cannot happen
            // while the cache is true; should it, trust the table.
            self.forget_at(at);
            return;
        }
        let before = e.cost();
        f(e);
        let after = e.cost();
        self.bytes = self.bytes - before + after;
        if self.bytes > self.budget {
            self.forget_at(at);
        }
    }

    /// Forgets `key`.
    fn forget(&mut self, slot: u8, key: &[u8]) {
        if let Some(at) = self.locate(slot, key) {
            self.forget_at(at);
        }
    }

    /// Turns the entry of `key`, if the cache has one, into one saying the
    /// key has no row (its row was just deleted).
    fn make_absent(&mut self, slot: u8, key: &[u8]) {
        let Some(at) = self.locate(slot, key) else {
            return;
        };
        let Some(mut e) = self.table[at].entry.take() else {
            return;
        };
        self.release(&e);
        e.info = None;
        e.set_column(None);
        // Past the missing keys' share the entry goes instead.
        if self.fits(&e) {
            self.hold(&e);
            self.table[at].entry = Some(e);
        }
    }

    fn forget_at(&mut self, at: usize) {
        if let Some(old) = self.table[at].entry.take() {
            self.release(&old);
        }
    }

    /// Brings the cache in line with a change [`crate::Store::apply`] has
    /// just made; `slot` maps a database to its slot.
    pub(crate) fn note(&mut self, op: &Op, slot: impl Fn(u8) -> u8) {
        match op {
            Op::Update {
                db,
                key,
                expire_at,
                len,
                value,
                ..
            } => self.update(slot(*db), key, |e| {
                if let Some(info) = e.info.as_mut() {
                    info.len = *len;
                    info.expire_at = *expire_at;
                }
                e.set_column(Some(value.as_deref()));
            }),
            Op::SetExpire { db, key, at, .. } => self.update(slot(*db), key, |e| {
                if let Some(info) = e.info.as_mut() {
                    info.expire_at = *at;
                }
            }),
            Op::StreamMeta { db, key, meta } => {
                self.update(slot(*db), key, |e| e.set_column(Some(Some(meta))))
            }
            // A new row takes a free place (see the module's doc).
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
                self.put_as(slot(*db), key, Some(info), Some(value.as_deref()), false)
            }
            // A key just deleted is often asked for again (SPOP, LPOP or
            // a lock's SET NX until it is back): its entry says so.
            Op::Remove { db, key, .. } => self.make_absent(slot(*db), key),
            Op::Rename { db, src, dst } => {
                self.make_absent(slot(*db), src);
                self.forget(slot(*db), dst);
            }
            Op::Move {
                db, key, dst_db, ..
            } => {
                self.make_absent(slot(*db), key);
                self.forget(slot(*dst_db), key);
            }
            Op::FlushDb { .. } | Op::FlushAll => self.clear(),
            // Entries are by database slot, and SWAPDB swaps which slot a
            // database number names: they stay true. The rest change
            // elements, streams' parts or the FUNCTION libraries, never a
            // key row (a length changes by an Update).
            _ => {}
        }
    }

    /// Bytes held now, the table included.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets everything (the table changed under the cache).
    pub(crate) fn clear(&mut self) {
        if self.table.iter().any(|p| p.entry.is_some()) {
            for place in &mut self.table {
                place.entry = None;
            }
        }
        self.bytes = self.table.len() * std::mem::size_of::<Place>();
        self.absent_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::KeyType;

    fn info(len: i64) -> KeyInfo {
        KeyInfo {
            id: 1,
            ktype: KeyType::String,
            expire_at: None,
            len,
        }
    }

    /// The row the cache holds for `key` (None: nothing known); a test
    /// that meets an absent-key entry here fails.
    fn row<'a>(c: &'a mut KeyCache, slot: u8, key: &[u8]) -> Option<Row<'a>> {
        match c.get(slot, key) {
            Some(Cached::Row(r)) => Some(r),
            Some(Cached::Absent) => panic!("{key:?} is cached as absent"),
            None => None,
        }
    }

    fn update(c: &mut KeyCache, key: &[u8], len: i64, value: &[u8]) {
        c.note(
            &Op::Update {
                db: 0,
                key: key.to_vec(),
                had_expire: false,
                len,
                expire_at: None,
                value: Some(value.to_vec()),
                enc: 0,
            },
            |db| db,
        );
    }

    #[test]
    fn keeps_updates_and_forgets_rows() {
        let mut c = KeyCache::new(1);
        assert_eq!(row(&mut c, 0, b"k"), None);
        c.put(0, b"k", info(1), Some(Some(b"a")));
        let want = Row {
            info: info(1),
            value: Some(Some(b"a")),
        };
        assert_eq!(row(&mut c, 0, b"k"), Some(want));
        // Same key in another database slot: another entry.
        assert_eq!(row(&mut c, 1, b"k"), None);
        update(&mut c, b"k", 2, b"bb");
        let want = Row {
            info: info(2),
            value: Some(Some(b"bb")),
        };
        assert_eq!(row(&mut c, 0, b"k"), Some(want));
        // An update of a key the cache does not have adds nothing.
        update(&mut c, b"other", 2, b"bb");
        assert_eq!(row(&mut c, 0, b"other"), None);
        c.forget(0, b"k");
        assert_eq!(row(&mut c, 0, b"k"), None);
        c.put(0, b"k", info(1), None);
        c.clear();
        assert_eq!(row(&mut c, 0, b"k"), None);
    }

    /// A prefetch is only a hint: it counts no hit or miss, moves no
    /// entry, marks none used, and is harmless for unknown keys, in a
    /// disabled cache and for keys of any length.
    #[test]
    fn prefetching_changes_nothing() {
        let mut c = KeyCache::new(1);
        c.put(0, b"k", info(1), Some(Some(b"a")));
        let before: Vec<(u32, bool)> = c.table.iter().map(|p| (p.tag, p.used)).collect();
        let long = vec![b'x'; 10_000];
        for key in [&b"k"[..], b"missing", b"", &long] {
            c.prefetch_places(0, key);
            c.prefetch_entries(0, key);
            c.prefetch_entries(7, key);
        }
        let after: Vec<(u32, bool)> = c.table.iter().map(|p| (p.tag, p.used)).collect();
        assert_eq!(before, after);
        assert_eq!((c.hits, c.misses), (0, 0));
        assert_eq!(row(&mut c, 0, b"k").map(|r| r.info), Some(info(1)));
        let off = KeyCache::new(0);
        off.prefetch_places(0, b"k");
        off.prefetch_entries(0, b"k");
    }

    #[test]
    fn big_values_are_not_kept_and_the_budget_holds() {
        let big = vec![b'x'; MAX_VALUE + 1];
        let mut c = KeyCache::new(1);
        c.put(0, b"big", info(1), Some(Some(&big)));
        assert_eq!(row(&mut c, 0, b"big").map(|r| r.value), Some(None));
        // A long key and value spill out of the entry and are counted.
        let huge = vec![b'k'; MAX_KEY + 1];
        c.put(0, &huge, info(1), Some(Some(b"v")));
        assert_eq!(row(&mut c, 0, &huge), None);
        let long = vec![b'k'; 100];
        c.put(0, &long, info(1), Some(Some(b"v")));
        assert_eq!(
            row(&mut c, 0, &long).map(|r| r.value),
            Some(Some(Some(&b"v"[..])))
        );
        for i in 0..100_000u32 {
            c.put(0, &i.to_le_bytes(), info(3), Some(Some(b"abc")));
            update(&mut c, &i.to_le_bytes(), 300, &[b'y'; 300]);
            assert!(c.bytes <= c.budget, "{} bytes over {}", c.bytes, c.budget);
        }
        let held: usize = c
            .table
            .iter()
            .filter_map(|p| p.entry.as_ref())
            .map(|e| e.cost())
            .sum();
        let table = c.table.len() * std::mem::size_of::<Place>();
        assert_eq!(c.bytes, held + table);
        assert!(held > 0);
    }

    /// Two keys (`key:N`) whose two places are those of `a`.
    fn sharing_places(c: &KeyCache, a: &[u8]) -> Vec<Vec<u8>> {
        let first = |k: &[u8]| c.spot(0, k).map(|s| s.first);
        (1..1_000_000u32)
            .map(|i| format!("key:{i}").into_bytes())
            .filter(|k| first(k) == first(a))
            .take(2)
            .collect()
    }

    #[test]
    fn two_keys_of_one_place_pair_both_stay_and_the_least_recent_goes() {
        let mut c = KeyCache::new(1);
        // Three keys whose two places are the same pair.
        let a = b"key:0".to_vec();
        let same = sharing_places(&c, &a);
        let (b, d) = (&same[0], &same[1]);
        c.put(0, &a, info(1), Some(Some(b"a")));
        c.put(0, b, info(2), Some(Some(b"b")));
        assert_eq!(row(&mut c, 0, &a).map(|r| r.info.len), Some(1));
        assert_eq!(row(&mut c, 0, b).map(|r| r.info.len), Some(2));
        // `b` was used last: the newcomer replaces `a`.
        c.put(0, d, info(3), None);
        assert_eq!(row(&mut c, 0, &a), None);
        assert_eq!(row(&mut c, 0, b).map(|r| r.info.len), Some(2));
        assert_eq!(row(&mut c, 0, d).map(|r| r.info.len), Some(3));
        // Updates and forgetting find a key in either place.
        update(&mut c, b, 5, b"bbb");
        assert_eq!(
            row(&mut c, 0, b).map(|r| r.value),
            Some(Some(Some(&b"bbb"[..])))
        );
        c.forget(0, d);
        assert_eq!(row(&mut c, 0, d), None);
        assert_eq!(row(&mut c, 0, b).map(|r| r.info.len), Some(5));
    }

    #[test]
    fn a_new_key_takes_only_a_free_place() {
        let mut c = KeyCache::new(1);
        let insert = |c: &mut KeyCache, key: &[u8], len: i64| {
            c.note(
                &Op::Insert {
                    db: 0,
                    key: key.to_vec(),
                    id: 1,
                    ktype: KeyType::String,
                    expire_at: None,
                    len,
                    value: Some(b"v".to_vec()),
                    enc: 0,
                },
                |db| db,
            )
        };
        insert(&mut c, b"new", 1);
        assert_eq!(
            row(&mut c, 0, b"new"),
            Some(Row {
                info: info(1),
                value: Some(Some(b"v"))
            })
        );
        // A pair of places full of read keys keeps them.
        let a = b"key:0".to_vec();
        let same = sharing_places(&c, &a);
        c.put(0, &a, info(7), None);
        c.put(0, &same[0], info(8), None);
        insert(&mut c, &same[1], 1);
        assert_eq!(row(&mut c, 0, &same[1]), None);
        assert_eq!(row(&mut c, 0, &a).map(|r| r.info.len), Some(7));
        assert_eq!(row(&mut c, 0, &same[0]).map(|r| r.info.len), Some(8));
    }

    #[test]
    fn a_full_budget_makes_room_for_read_rows_and_keeps_the_hot_ones() {
        let mut c = KeyCache::new(1);
        // Fill the budget with rows read once.
        let mut n = 0;
        while c.bytes + ENTRY_OVERHEAD <= c.budget {
            c.put(0, format!("cold:{n}").as_bytes(), info(n), None);
            n += 1;
            assert!(n < 1_000_000, "the budget never filled");
        }
        c.put(0, b"hot", info(-1), None);
        // A stream of rows read once each, beside a key read all the time:
        // each new row gets in, the hot one stays, the budget holds.
        for i in 0..3 * n {
            assert_eq!(
                row(&mut c, 0, b"hot").map(|r| r.info.len),
                Some(-1),
                "round {i}"
            );
            let late = format!("late:{i}");
            c.put(0, late.as_bytes(), info(i), None);
            assert_eq!(row(&mut c, 0, late.as_bytes()).map(|r| r.info.len), Some(i));
            assert!(c.bytes <= c.budget, "{} bytes over {}", c.bytes, c.budget);
        }
        // A key whose value is too big to keep is read from SQLite after
        // each hit and put again: that keeps its mark, so it stays too.
        c.put(0, b"big", info(-2), Some(Some(&[b'v'; MAX_VALUE + 1])));
        for i in 0..3 * n {
            assert_eq!(
                row(&mut c, 0, b"big").map(|r| r.info.len),
                Some(-2),
                "round {i}"
            );
            c.put(0, b"big", info(-2), Some(Some(&[b'v'; MAX_VALUE + 1])));
            c.put(0, format!("later:{i}").as_bytes(), info(i), None);
        }
        // Writes of new keys still take only what is free: nothing goes.
        let present = |c: &KeyCache| -> Vec<Vec<u8>> {
            let mut keys: Vec<Vec<u8>> = c
                .table
                .iter()
                .filter_map(|p| p.entry.as_ref().map(|e| e.key().to_vec()))
                .collect();
            keys.sort();
            keys
        };
        let before = present(&c);
        c.note(
            &Op::Insert {
                db: 0,
                key: b"written".to_vec(),
                id: 1,
                ktype: KeyType::String,
                expire_at: None,
                len: 1,
                value: None,
                enc: 0,
            },
            |db| db,
        );
        let after = present(&c);
        assert!(
            before.iter().all(|k| after.binary_search(k).is_ok()),
            "a written key pushed a row out"
        );
        assert!(c.bytes <= c.budget);
    }

    #[test]
    fn a_missing_key_is_remembered_until_a_row_comes() {
        let mut c = KeyCache::new(1);
        let op_insert = |key: &[u8]| Op::Insert {
            db: 0,
            key: key.to_vec(),
            id: 1,
            ktype: KeyType::String,
            expire_at: None,
            len: 1,
            value: Some(b"v".to_vec()),
            enc: 0,
        };
        let op_remove = |key: &[u8]| Op::Remove {
            db: 0,
            key: key.to_vec(),
            id: 1,
            ktype: KeyType::String,
            had_expire: false,
        };
        c.put_absent(0, b"gone");
        assert_eq!(c.get(0, b"gone"), Some(Cached::Absent));
        // Only in its database slot.
        assert_eq!(c.get(1, b"gone"), None);
        // A new row replaces it.
        c.note(&op_insert(b"gone"), |db| db);
        assert_eq!(row(&mut c, 0, b"gone").map(|r| r.info.len), Some(1));
        // Deleting the row makes it absent again, as does renaming it away;
        // the name it was renamed to is forgotten (read again from SQLite).
        c.note(&op_remove(b"gone"), |db| db);
        assert_eq!(c.get(0, b"gone"), Some(Cached::Absent));
        c.put(0, b"src", info(4), None);
        c.put_absent(0, b"dst");
        c.note(
            &Op::Rename {
                db: 0,
                src: b"src".to_vec(),
                dst: b"dst".to_vec(),
            },
            |db| db,
        );
        assert_eq!(c.get(0, b"src"), Some(Cached::Absent));
        assert_eq!(c.get(0, b"dst"), None);
        // An update of a key cached as absent (the cache was wrong) drops
        // the entry rather than inventing a row.
        update(&mut c, b"gone", 2, b"x");
        assert_eq!(c.get(0, b"gone"), None);
        // An absent key never pushes a row out.
        let a = b"key:0".to_vec();
        let same = sharing_places(&c, &a);
        c.put(0, &a, info(7), None);
        c.put(0, &same[0], info(8), None);
        c.put_absent(0, &same[1]);
        assert_eq!(c.get(0, &same[1]), None);
        assert_eq!(row(&mut c, 0, &a).map(|r| r.info.len), Some(7));
        assert_eq!(row(&mut c, 0, &same[0]).map(|r| r.info.len), Some(8));
    }

    #[test]
    fn missing_keys_hold_at_most_their_share_and_give_way_to_new_rows() {
        let mut c = KeyCache::new(1);
        let remove = |c: &mut KeyCache, key: &[u8]| {
            c.note(
                &Op::Remove {
                    db: 0,
                    key: key.to_vec(),
                    id: 1,
                    ktype: KeyType::String,
                    had_expire: false,
                },
                |db| db,
            )
        };
        // Keys that come and go: each read, then deleted.
        for i in 0..50_000u32 {
            let key = format!("session:{i}").into_bytes();
            c.put(0, &key, info(1), None);
            remove(&mut c, &key);
            c.put_absent(0, format!("miss:{i}").as_bytes());
            assert!(c.absent_bytes <= c.budget / ABSENT_SHARE);
        }
        let absent: usize = c
            .table
            .iter()
            .filter_map(|p| p.entry.as_ref())
            .filter(|e| e.info.is_none())
            .map(|e| e.cost())
            .sum();
        assert_eq!(c.absent_bytes, absent);
        assert!(
            absent > c.budget / ABSENT_SHARE / 2,
            "the share was used: {absent}"
        );
        // Room is left for rows: a read of a new key is kept.
        c.put(0, b"live", info(3), None);
        assert_eq!(row(&mut c, 0, b"live").map(|r| r.info.len), Some(3));
        // A new row takes the place of another key's missing-key entry.
        let a = b"key:0".to_vec();
        let same = sharing_places(&c, &a);
        c.put_absent(0, &a);
        c.put_absent(0, &same[0]);
        c.note(
            &Op::Insert {
                db: 0,
                key: same[1].clone(),
                id: 1,
                ktype: KeyType::String,
                expire_at: None,
                len: 9,
                value: None,
                enc: 0,
            },
            |db| db,
        );
        assert_eq!(row(&mut c, 0, &same[1]).map(|r| r.info.len), Some(9));
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let mut c = KeyCache::new(0);
        c.put(0, b"k", info(1), None);
        assert_eq!(row(&mut c, 0, b"k"), None);
    }
}
