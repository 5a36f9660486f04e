//! Lists: rows `lists(key_id, pos, value)` ordered by `pos`.
//!
//! Positions are sparse integers. The first element of a list gets 0; a push
//! at the head takes `min(pos) - GAP`, at the tail `max(pos) + GAP`, so both
//! ends are one primary-key probe away (O(log n)). LINSERT takes the midpoint
//! of the pivot and its neighbour. When the two are adjacent integers (about
//! 20 inserts at one spot), a window of up to 8, 64, 512 or 4096 elements on
//! each side of the pivot is spread out evenly (O(window), amortized a few
//! row writes per insert). Only when no window has room, or a push would
//! leave the i64 range, is the whole list renumbered: every element gets a
//! new position `GAP` apart. That is O(n) (and journals one write per
//! element) but rare; it streams the list in batches, so it never holds the
//! whole list in memory (save one fallback for lists spanning nearly the
//! whole i64 range, which pushes alone cannot build in practice).
//!
//! Reads by index walk from the nearer end (`ORDER BY pos [DESC] LIMIT 1
//! OFFSET k`), as Redis's quicklist does. Every change goes through the
//! journaled helpers of `collections.rs`.

use crate::keyspace::{KeyInfo, KeyType};
use crate::listheads::Packed;
use crate::{Store, StoreError, StoreResult};
use bytes::Bytes;
use rusqlite::{params, OptionalExtension};

/// Distance between consecutive positions after a push or a renumbering.
pub const LIST_GAP: i64 = 1 << 20;

/// Rows moved per step when renumbering.
const RENUMBER_BATCH: i64 = 512;

/// One end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListEnd {
    /// The head (LEFT, index 0).
    Head,
    /// The tail (RIGHT, index -1).
    Tail,
}

/// The outcome of LSET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListSet {
    Done,
    OutOfRange,
}

/// Redis's index normalisation for LRANGE/LTRIM: the inclusive index range
/// `[start, end]` inside a list of `len`, or None when it is empty.
pub fn list_range_bounds(len: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start, end))
}

impl Store {
    /// OBJECT ENCODING of a list: Redis 7.0 always reports `quicklist`
    /// (the listpack encoding for small lists arrived in 7.2).
    pub fn list_encoding(&mut self, _info: &KeyInfo) -> StoreResult<&'static str> {
        Ok("quicklist")
    }

    /// The live list at `key` (WRONGTYPE for another type).
    pub fn list_lookup(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<KeyInfo>> {
        self.lookup_typed(db, key, KeyType::List)
    }

    /// The smallest (Head) or largest (Tail) position of list `id`: from
    /// memory when known (see `listends.rs`, and the rows read ahead of
    /// pops: `listpops.rs`), else read and remembered.
    fn list_edge(&mut self, id: i64, end: ListEnd) -> StoreResult<Option<i64>> {
        if let Some(pos) = self.list_ends.get(id, end) {
            return Ok(Some(pos));
        }
        if let Some(pos) = self.list_pops.end_pos(id, end) {
            return Ok(Some(pos));
        }
        let sql = match end {
            ListEnd::Head => "SELECT pos FROM lists WHERE key_id = ?1 ORDER BY pos LIMIT 1",
            ListEnd::Tail => "SELECT pos FROM lists WHERE key_id = ?1 ORDER BY pos DESC LIMIT 1",
        };
        let pos: Option<i64> = self.stmt(sql)?.query_row([id], |r| r.get(0)).optional()?;
        if let Some(pos) = pos {
            self.list_ends.learn(id, end, pos);
        }
        Ok(pos)
    }

    /// The position of the element at `index` (0-based from the head, already
    /// normalised, `0 <= index < len`), walking from the nearer end.
    fn list_pos_at(&self, id: i64, len: i64, index: i64) -> StoreResult<Option<i64>> {
        let (sql, offset) = if index <= len - 1 - index {
            (
                "SELECT pos FROM lists WHERE key_id = ?1 ORDER BY pos LIMIT 1 OFFSET ?2",
                index,
            )
        } else {
            (
                "SELECT pos FROM lists WHERE key_id = ?1 ORDER BY pos DESC LIMIT 1 OFFSET ?2",
                len - 1 - index,
            )
        };
        Ok(self
            .stmt(sql)?
            .query_row(params![id, offset], |r| r.get(0))
            .optional()?)
    }

    /// Adds `values` one by one at `end` of list `id` (LPUSH a b c leaves
    /// c b a). The caller keeps the count.
    fn list_push_elems<V: AsRef<[u8]>>(
        &mut self,
        id: i64,
        end: ListEnd,
        values: &[V],
    ) -> StoreResult<()> {
        let mut edge = self.list_edge(id, end)?;
        for v in values {
            let pos = match edge {
                None => 0,
                Some(e) => {
                    let next = match end {
                        ListEnd::Head => e.checked_sub(LIST_GAP),
                        ListEnd::Tail => e.checked_add(LIST_GAP),
                    };
                    match next {
                        Some(p) => p,
                        None => {
                            // Out of room at this end of the i64 range.
                            self.list_renumber(id, None)?;
                            let e = self.list_edge(id, end)?.unwrap_or(0);
                            match end {
                                ListEnd::Head => e - LIST_GAP,
                                ListEnd::Tail => e + LIST_GAP,
                            }
                        }
                    }
                }
            };
            self.list_put(id, pos, v.as_ref())?;
            edge = Some(pos);
        }
        Ok(())
    }

    /// Removes and returns up to `count` elements from `end` of list `id`,
    /// in pop order. The caller keeps the count. Served from the rows read
    /// ahead of pops when they hold `count`, else read (with rows ahead)
    /// first; the delete is held when it can be (`listpops.rs`).
    fn list_pop_elems(&mut self, id: i64, end: ListEnd, count: i64) -> StoreResult<Vec<Vec<u8>>> {
        let wanted = usize::try_from(count).unwrap_or(0);
        if self.list_pops.known(id, end) < wanted {
            self.list_read_ahead(id, end, wanted)?;
        }
        let Some(taken) = self.list_pops.take(id, end, wanted) else {
            return Ok(Vec::new());
        };
        self.list_del_range(id, taken.low, taken.high)?;
        Ok(taken.values)
    }

    /// Reads the first `count` rows at `end` of list `id`, and up to
    /// [`crate::listpops::AHEAD_ROWS`] more while they stay under
    /// [`crate::listpops::AHEAD_BYTES`], into the rows kept for pops.
    fn list_read_ahead(&mut self, id: i64, end: ListEnd, count: usize) -> StoreResult<()> {
        use crate::listpops::AHEAD_BYTES;
        let sql = match end {
            ListEnd::Head => "SELECT pos, value FROM lists WHERE key_id = ?1 ORDER BY pos LIMIT ?2",
            ListEnd::Tail => {
                "SELECT pos, value FROM lists WHERE key_id = ?1 ORDER BY pos DESC LIMIT ?2"
            }
        };
        let limit = count.saturating_add(self.list_pops.ahead());
        // Every row a buffer of its own: the pop moves its rows' elements
        // out without a copy, and a kept row frees its bytes when it goes.
        let mut read = Vec::with_capacity(limit.min(1024));
        let mut ahead_bytes = 0;
        {
            let mut stmt = self.stmt(sql)?;
            let mut rows = stmt.query(params![id, limit as i64])?;
            while let Some(row) = rows.next()? {
                if ahead_bytes >= AHEAD_BYTES {
                    break;
                }
                let value = row.get_ref(1)?;
                let value = value
                    .as_bytes()
                    .map_err(|_| StoreError::Corrupt("a list element is not a blob"))?;
                if read.len() >= count {
                    ahead_bytes += value.len();
                }
                read.push((row.get::<_, i64>(0)?, Bytes::copy_from_slice(value)));
            }
        }
        self.list_pops.fill(id, end, read);
        Ok(())
    }

    /// LPUSH/RPUSH (and the X forms with `only_existing`): the new length,
    /// or 0 when `only_existing` and the key is missing.
    pub fn list_push<V: AsRef<[u8]>>(
        &mut self,
        db: usize,
        key: &[u8],
        end: ListEnd,
        values: &[V],
        only_existing: bool,
    ) -> StoreResult<i64> {
        let info = match self.list_lookup(db, key)? {
            Some(info) => info,
            None if only_existing => return Ok(0),
            None => self.lookup_or_create(db, key, KeyType::List)?,
        };
        self.list_push_elems(info.id, end, values)?;
        let len = info.len + values.len() as i64;
        self.set_collection_len(db, key, &info, len)?;
        Ok(len)
    }

    /// Replaces whatever `key` holds (any type, its TTL dropped) with a list
    /// of `values` in order, as Redis's setKey does for SORT ... STORE: a
    /// `new` event only when no live key was there. Empty `values` must be
    /// handled by the caller (Redis deletes instead). Returns the length.
    pub fn list_replace<V: AsRef<[u8]>>(
        &mut self,
        db: usize,
        key: &[u8],
        values: &[V],
    ) -> StoreResult<i64> {
        let (info, _) = self.create_replacing(db, key, KeyType::List)?;
        self.list_push_elems(info.id, ListEnd::Tail, values)?;
        self.set_collection_len(db, key, &info, values.len() as i64)?;
        Ok(values.len() as i64)
    }

    /// Pops up to `count` elements from `end` of the list `info` at `key`;
    /// deletes the key when it empties.
    pub fn list_pop(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        end: ListEnd,
        count: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let count = count.min(info.len);
        if count <= 0 {
            return Ok(Vec::new());
        }
        let out = self.list_pop_elems(info.id, end, count)?;
        self.set_collection_len(db, key, info, info.len - out.len() as i64)?;
        Ok(out)
    }

    /// The elements with indexes `start..=end` (Redis's LRANGE rules for
    /// negative and out-of-range indexes). Reads only those rows, from the
    /// nearer end, or none when the list's head is remembered
    /// (`listheads.rs`; only LRANGE's [`Store::list_range_shared`]
    /// remembers one: DUMP, SORT and copies read whole lists once).
    pub fn list_range(
        &mut self,
        info: &KeyInfo,
        start: i64,
        end: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let Some((start, end)) = list_range_bounds(info.len, start, end) else {
            return Ok(Vec::new());
        };
        if let Some(head) = self.list_heads.get(info.id, start as usize, end as usize) {
            return Ok(head.iter().map(|v| v.to_vec()).collect());
        }
        let mut out = Vec::new();
        self.list_rows(info, start, end, |v| out.push(v.to_vec()))?;
        Ok(out)
    }

    /// [`Store::list_range`] as slices of shared buffers ([`Packed`]), and
    /// no allocation for a remembered head.
    pub fn list_range_shared(
        &mut self,
        info: &KeyInfo,
        start: i64,
        end: i64,
    ) -> StoreResult<Vec<Bytes>> {
        let Some((start, end)) = list_range_bounds(info.len, start, end) else {
            return Ok(Vec::new());
        };
        if let Some(head) = self.list_heads.get(info.id, start as usize, end as usize) {
            return Ok(head.to_vec());
        }
        let mut packed = Packed::default();
        self.list_rows(info, start, end, |v| packed.push(v))?;
        let values = packed.into_elements();
        if start == 0 {
            self.list_heads.remember(info.id, &values);
        }
        Ok(values)
    }

    /// Hands `f` the elements `start..=end` (bounds already normalised by
    /// [`list_range_bounds`]) read from SQLite, in order.
    fn list_rows(
        &mut self,
        info: &KeyInfo,
        start: i64,
        end: i64,
        mut f: impl FnMut(&[u8]),
    ) -> StoreResult<()> {
        let count = end - start + 1;
        let from_tail = info.len - 1 - end;
        if start <= from_tail {
            let sql = "SELECT value FROM lists WHERE key_id = ?1 ORDER BY pos LIMIT ?2 OFFSET ?3";
            let mut stmt = self.stmt(sql)?;
            let mut rows = stmt.query(params![info.id, count, start])?;
            while let Some(row) = rows.next()? {
                let v = row.get_ref(0)?;
                f(v.as_bytes()
                    .map_err(|_| StoreError::Corrupt("a list element is not a blob"))?);
            }
        } else {
            // Nearer the tail: read backwards, then hand out in order.
            let sql =
                "SELECT value FROM lists WHERE key_id = ?1 ORDER BY pos DESC LIMIT ?2 OFFSET ?3";
            let mut stmt = self.stmt(sql)?;
            let mut rows = stmt.query(params![info.id, count, from_tail])?;
            let mut back = Vec::new();
            while let Some(row) = rows.next()? {
                back.push(row.get::<_, Vec<u8>>(0)?);
            }
            for v in back.iter().rev() {
                f(v);
            }
        }
        Ok(())
    }

    /// LINDEX: the element at `index` (negative counts from the tail).
    pub fn list_index(&mut self, info: &KeyInfo, index: i64) -> StoreResult<Option<Vec<u8>>> {
        let index = if index < 0 { info.len + index } else { index };
        if index < 0 || index >= info.len {
            return Ok(None);
        }
        let Some(pos) = self.list_pos_at(info.id, info.len, index)? else {
            return Ok(None);
        };
        Ok(self
            .stmt("SELECT value FROM lists WHERE key_id = ?1 AND pos = ?2")?
            .query_row(params![info.id, pos], |r| r.get(0))
            .optional()?)
    }

    /// LSET.
    pub fn list_set(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        index: i64,
        value: &[u8],
    ) -> StoreResult<ListSet> {
        let index = if index < 0 { info.len + index } else { index };
        if index < 0 || index >= info.len {
            return Ok(ListSet::OutOfRange);
        }
        let Some(pos) = self.list_pos_at(info.id, info.len, index)? else {
            return Ok(ListSet::OutOfRange);
        };
        self.list_put(info.id, pos, value)?;
        // The length is unchanged, but the key row is rewritten: WATCH and
        // client-side caching see every change through it.
        self.set_collection_len(db, key, info, info.len)?;
        Ok(ListSet::Done)
    }

    /// The neighbour of `pos` on the `side` side, if any.
    fn list_neighbour(&self, id: i64, pos: i64, side: ListEnd) -> StoreResult<Option<i64>> {
        let sql = match side {
            ListEnd::Head => {
                "SELECT pos FROM lists WHERE key_id = ?1 AND pos < ?2 ORDER BY pos DESC LIMIT 1"
            }
            ListEnd::Tail => {
                "SELECT pos FROM lists WHERE key_id = ?1 AND pos > ?2 ORDER BY pos LIMIT 1"
            }
        };
        Ok(self
            .stmt(sql)?
            .query_row(params![id, pos], |r| r.get(0))
            .optional()?)
    }

    /// A free position right next to `pos` on the `side` side, or None
    /// when `pos` and its neighbour are adjacent integers (or the i64
    /// range ends there).
    fn list_slot_beside(&self, id: i64, pos: i64, side: ListEnd) -> StoreResult<Option<i64>> {
        Ok(match self.list_neighbour(id, pos, side)? {
            Some(n) => {
                let (lo, hi) = (pos.min(n) as i128, pos.max(n) as i128);
                (hi - lo >= 2).then(|| (lo + (hi - lo) / 2) as i64)
            }
            None => match side {
                ListEnd::Head => pos.checked_sub(LIST_GAP),
                ListEnd::Tail => pos.checked_add(LIST_GAP),
            },
        })
    }

    /// LINSERT: the new length, -1 when the pivot is not found. The pivot
    /// search scans from the head up to the first match, as in Redis.
    pub fn list_insert(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        after: bool,
        pivot: &[u8],
        value: &[u8],
    ) -> StoreResult<i64> {
        let found: Option<i64> = self
            .stmt("SELECT pos FROM lists WHERE key_id = ?1 AND value = ?2 ORDER BY pos LIMIT 1")?
            .query_row(params![info.id, pivot], |r| r.get(0))
            .optional()?;
        let Some(mut pivot_pos) = found else {
            return Ok(-1);
        };
        let side = if after { ListEnd::Tail } else { ListEnd::Head };
        let pos = match self.list_slot_beside(info.id, pivot_pos, side)? {
            Some(p) => p,
            None => {
                pivot_pos = match self.list_respread(info.id, pivot_pos)? {
                    Some(p) => p,
                    None => self
                        .list_renumber(info.id, Some(pivot_pos))?
                        .unwrap_or(pivot_pos),
                };
                match self.list_slot_beside(info.id, pivot_pos, side)? {
                    Some(p) => p,
                    None => {
                        return Err(crate::StoreError::Corrupt(
                            "list positions exhausted after renumbering",
                        ))
                    }
                }
            }
        };
        self.list_put(info.id, pos, value)?;
        let len = info.len + 1;
        self.set_collection_len(db, key, info, len)?;
        Ok(len)
    }

    /// LREM: removes up to |count| elements equal to `value` (all when 0),
    /// from the head when count > 0, from the tail when < 0. Returns how
    /// many were removed. Scans the list, deleting runs of adjacent matches
    /// with one range delete each.
    pub fn list_rem(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        count: i64,
        value: &[u8],
    ) -> StoreResult<i64> {
        let limit = if count == 0 {
            i64::MAX
        } else {
            count.unsigned_abs().min(i64::MAX as u64) as i64
        };
        let sql = if count < 0 {
            "SELECT pos, value = ?2 FROM lists WHERE key_id = ?1 ORDER BY pos DESC"
        } else {
            "SELECT pos, value = ?2 FROM lists WHERE key_id = ?1 ORDER BY pos"
        };
        // Runs of consecutive matching rows, as (first pos, last pos) in scan order.
        let mut runs: Vec<(i64, i64)> = Vec::new();
        let mut removed = 0i64;
        {
            let mut stmt = self.stmt(sql)?;
            let mut rows = stmt.query(params![info.id, value])?;
            let mut in_run = false;
            while let Some(row) = rows.next()? {
                let pos: i64 = row.get(0)?;
                let eq: bool = row.get(1)?;
                if eq {
                    if in_run {
                        runs.last_mut().expect("run").1 = pos;
                    } else {
                        runs.push((pos, pos));
                        in_run = true;
                    }
                    removed += 1;
                    if removed >= limit {
                        break;
                    }
                } else {
                    in_run = false;
                }
            }
        }
        for (a, b) in runs {
            self.list_del_range(info.id, a.min(b), a.max(b))?;
        }
        if removed > 0 {
            self.set_collection_len(db, key, info, info.len - removed)?;
        }
        Ok(removed)
    }

    /// LTRIM: keeps the elements with indexes `start..=end` (Redis's rules);
    /// deletes the key when nothing is left.
    pub fn list_trim(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        start: i64,
        end: i64,
    ) -> StoreResult<()> {
        let Some((start, end)) = list_range_bounds(info.len, start, end) else {
            self.set_collection_len(db, key, info, 0)?;
            return Ok(());
        };
        // The tail first: cutting the head would shift the indexes the
        // tail lookup counts with (a bug the list proptest found).
        if end < info.len - 1 {
            if let Some(last) = self.list_pos_at(info.id, info.len, end)? {
                self.list_del_range(info.id, last + 1, i64::MAX)?;
            }
        }
        if start > 0 {
            if let Some(first) = self.list_pos_at(info.id, end + 1, start)? {
                self.list_del_range(info.id, i64::MIN, first - 1)?;
            }
        }
        self.set_collection_len(db, key, info, end - start + 1)?;
        Ok(())
    }

    /// LPOS's scan: walks from the head (or from the tail when `from_tail`),
    /// looking at no more than `maxlen` elements (0: all), and returns the
    /// indexes (from the head) of matches, following Redis's `rank`/`count`
    /// arithmetic exactly (`rank` is the absolute rank, `count` -1 when the
    /// option was not given: then at most one index is returned).
    pub fn list_positions(
        &mut self,
        info: &KeyInfo,
        value: &[u8],
        from_tail: bool,
        rank: i64,
        count: i64,
        maxlen: i64,
    ) -> StoreResult<Vec<i64>> {
        let sql = if from_tail {
            "SELECT value = ?2 FROM lists WHERE key_id = ?1 ORDER BY pos DESC LIMIT ?3"
        } else {
            "SELECT value = ?2 FROM lists WHERE key_id = ?1 ORDER BY pos LIMIT ?3"
        };
        let limit = if maxlen == 0 { -1 } else { maxlen };
        let mut stmt = self.stmt(sql)?;
        let mut rows = stmt.query(params![info.id, value, limit])?;
        let mut out = Vec::new();
        let (mut index, mut matches) = (0i64, 0i64);
        while let Some(row) = rows.next()? {
            let eq: bool = row.get(0)?;
            if eq {
                matches += 1;
                if matches >= rank {
                    out.push(if from_tail {
                        info.len - index - 1
                    } else {
                        index
                    });
                    if count == -1 {
                        break;
                    }
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                }
            }
            index += 1;
        }
        Ok(out)
    }

    /// LMOVE: pops from `from` of `src` and pushes at `to` of `dst`. None
    /// when `src` is missing; WRONGTYPE (nothing moved) when either key
    /// holds another type.
    pub fn list_move(
        &mut self,
        db: usize,
        src: &[u8],
        dst: &[u8],
        from: ListEnd,
        to: ListEnd,
    ) -> StoreResult<Option<Vec<u8>>> {
        let Some(sinfo) = self.list_lookup(db, src)? else {
            return Ok(None);
        };
        if src == dst {
            // A rotation: the length (and the key) stays.
            let Some(v) = self.list_pop_elems(sinfo.id, from, 1)?.pop() else {
                return Ok(None);
            };
            self.list_push_elems(sinfo.id, to, &[&v])?;
            return Ok(Some(v));
        }
        let dinfo = self.list_lookup(db, dst)?;
        let Some(v) = self.list_pop_elems(sinfo.id, from, 1)?.pop() else {
            return Ok(None);
        };
        self.set_collection_len(db, src, &sinfo, sinfo.len - 1)?;
        let dinfo = match dinfo {
            Some(d) => d,
            None => self.lookup_or_create(db, dst, KeyType::List)?,
        };
        self.list_push_elems(dinfo.id, to, &[&v])?;
        self.set_collection_len(db, dst, &dinfo, dinfo.len + 1)?;
        Ok(Some(v))
    }

    /// The position of the `k`-th element (1-based) before (Head) or after
    /// (Tail) position `pos`.
    fn list_nth_beside(
        &self,
        id: i64,
        pos: i64,
        side: ListEnd,
        k: i64,
    ) -> StoreResult<Option<i64>> {
        let sql = match side {
            ListEnd::Head => {
                "SELECT pos FROM lists WHERE key_id = ?1 AND pos < ?2 ORDER BY pos DESC LIMIT 1 OFFSET ?3"
            }
            ListEnd::Tail => {
                "SELECT pos FROM lists WHERE key_id = ?1 AND pos > ?2 ORDER BY pos LIMIT 1 OFFSET ?3"
            }
        };
        Ok(self
            .stmt(sql)?
            .query_row(params![id, pos, k - 1], |r| r.get(0))
            .optional()?)
    }

    /// Makes room around `pivot` by spreading out a window of up to `k`
    /// elements on each side of it (k = 8, 64, 512, 4096: the first window
    /// whose span leaves at least `MIN_SPREAD` between neighbours; a window
    /// that reaches an end of the list extends past it, `LIST_GAP` apart).
    /// Returns the pivot's new position, or None when no window fits (the
    /// caller then renumbers the whole list). Costs O(window), so repeated
    /// inserts at one spot stay cheap in a long list.
    fn list_respread(&mut self, id: i64, pivot: i64) -> StoreResult<Option<i64>> {
        const MIN_SPREAD: i128 = 1 << 12;
        let gap = LIST_GAP as i128;
        for k in [8i64, 64, 512, 4096] {
            let lower = self.list_nth_beside(id, pivot, ListEnd::Head, k)?;
            let upper = self.list_nth_beside(id, pivot, ListEnd::Tail, k)?;
            let from = lower.map(|l| l + 1).unwrap_or(i64::MIN);
            let to = upper.map(|u| u - 1).unwrap_or(i64::MAX);
            let rows: Vec<(i64, Vec<u8>)> = {
                let mut stmt = self.stmt(
                    "SELECT pos, value FROM lists WHERE key_id = ?1 AND pos BETWEEN ?2 AND ?3 \
                     ORDER BY pos",
                )?;
                let rows = stmt.query_map(params![id, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let m = rows.len() as i128;
            let (first, step) = match (lower, upper) {
                (Some(l), Some(u)) => {
                    let step = (u as i128 - l as i128) / (m + 1);
                    if step < MIN_SPREAD {
                        continue;
                    }
                    (l as i128 + step, step)
                }
                (None, Some(u)) => {
                    let first = u as i128 - m * gap;
                    if first < i64::MIN as i128 + gap {
                        return Ok(None);
                    }
                    (first, gap)
                }
                (Some(l), None) => {
                    if l as i128 + m * gap > i64::MAX as i128 - gap {
                        return Ok(None);
                    }
                    (l as i128 + gap, gap)
                }
                (None, None) => (-(m / 2) * gap, gap),
            };
            self.list_del_range(id, from, to)?;
            let mut tracked = None;
            for (j, (old, v)) in rows.into_iter().enumerate() {
                let pos = (first + j as i128 * step) as i64;
                if old == pivot {
                    tracked = Some(pos);
                }
                self.list_put(id, pos, &v)?;
            }
            return Ok(tracked);
        }
        Ok(None)
    }

    /// Gives every element of list `id` a new position, `LIST_GAP` apart,
    /// keeping the order. Returns the new position of the element that was
    /// at `track`. O(n), in batches of `RENUMBER_BATCH` rows: the new
    /// positions are chosen outside the old range so no row is overwritten
    /// before it moved.
    fn list_renumber(&mut self, id: i64, track: Option<i64>) -> StoreResult<Option<i64>> {
        let (Some(min), Some(max)) = (
            self.list_edge(id, ListEnd::Head)?,
            self.list_edge(id, ListEnd::Tail)?,
        ) else {
            return Ok(None);
        };
        let n: i64 = self
            .stmt("SELECT count(*) FROM lists WHERE key_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        let gap = LIST_GAP as i128;
        let span = (n as i128 - 1) * gap;
        let (lo_bound, hi_bound) = (i64::MIN as i128 + gap, i64::MAX as i128 - gap);
        let (min_w, max_w) = (min as i128, max as i128);
        let centered = -(n as i128 / 2) * gap;
        let fits = |base: i128| base >= lo_bound && base + span <= hi_bound;
        let disjoint = |base: i128| base + span < min_w || base > max_w;
        let above = max_w + gap;
        let below = min_w - gap - span;
        let room_above = hi_bound - max_w;
        let room_below = min_w - lo_bound;
        let base = if fits(centered) && disjoint(centered) {
            Some(centered)
        } else if room_above >= room_below && fits(above) {
            Some(above)
        } else if fits(below) {
            Some(below)
        } else if fits(above) {
            Some(above)
        } else {
            None
        };
        let mut tracked = None;
        let Some(base) = base else {
            // No free range of the size needed: rewrite the list in memory.
            let rows: Vec<(i64, Vec<u8>)> = {
                let mut stmt =
                    self.stmt("SELECT pos, value FROM lists WHERE key_id = ?1 ORDER BY pos")?;
                let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            self.list_del_range(id, i64::MIN, i64::MAX)?;
            for (i, (old, v)) in rows.into_iter().enumerate() {
                let pos = (centered + i as i128 * gap) as i64;
                if Some(old) == track {
                    tracked = Some(pos);
                }
                self.list_put(id, pos, &v)?;
            }
            return Ok(tracked);
        };
        let mut next = base;
        let mut cursor = min;
        loop {
            let rows: Vec<(i64, Vec<u8>)> = {
                let mut stmt = self.stmt(
                    "SELECT pos, value FROM lists WHERE key_id = ?1 AND pos BETWEEN ?2 AND ?3 \
                     ORDER BY pos LIMIT ?4",
                )?;
                let rows = stmt.query_map(params![id, cursor, max, RENUMBER_BATCH], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0))
            else {
                break;
            };
            self.list_del_range(id, first, last)?;
            let full = rows.len() as i64 == RENUMBER_BATCH;
            for (old, v) in rows {
                let pos = next as i64;
                if Some(old) == track {
                    tracked = Some(pos);
                }
                self.list_put(id, pos, &v)?;
                next += gap;
            }
            if !full || last >= max {
                break;
            }
            cursor = last + 1;
        }
        Ok(tracked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("db"), &StoreOptions::default()).unwrap();
        (dir, s)
    }

    fn all(s: &mut Store, key: &[u8]) -> Vec<String> {
        let Some(info) = s.list_lookup(0, key).unwrap() else {
            return Vec::new();
        };
        s.list_range(&info, 0, -1)
            .unwrap()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    fn positions(s: &Store, id: i64) -> Vec<i64> {
        let mut stmt = s
            .conn
            .prepare("SELECT pos FROM lists WHERE key_id = ?1 ORDER BY pos")
            .unwrap();
        let rows = stmt.query_map([id], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn push_pop_and_range() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        assert_eq!(
            s.list_push(0, b"l", ListEnd::Tail, &["a", "b"], false)
                .unwrap(),
            2
        );
        assert_eq!(
            s.list_push(0, b"l", ListEnd::Head, &["x", "y"], false)
                .unwrap(),
            4
        );
        assert_eq!(all(&mut s, b"l"), ["y", "x", "a", "b"]);
        assert_eq!(
            s.list_push(0, b"none", ListEnd::Head, &["x"], true)
                .unwrap(),
            0
        );
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        assert_eq!(
            s.list_pop(0, b"l", &info, ListEnd::Tail, 3).unwrap(),
            vec![b"b".to_vec(), b"a".to_vec(), b"x".to_vec()]
        );
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        assert_eq!(info.len, 1);
        s.list_pop(0, b"l", &info, ListEnd::Head, 5).unwrap();
        assert!(s.list_lookup(0, b"l").unwrap().is_none());
    }

    #[test]
    fn insert_at_one_spot_makes_room() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        s.list_push(0, b"l", ListEnd::Tail, &["a", "b"], false)
            .unwrap();
        let mut expect = vec!["a".to_string()];
        for i in 0..100 {
            let info = s.list_lookup(0, b"l").unwrap().unwrap();
            let v = format!("v{i}");
            // Always right before "b": the gap halves each time.
            assert_eq!(
                s.list_insert(0, b"l", &info, false, b"b", v.as_bytes())
                    .unwrap(),
                info.len + 1
            );
            expect.push(v);
        }
        expect.push("b".into());
        assert_eq!(all(&mut s, b"l"), expect);
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        let p = positions(&s, info.id);
        assert_eq!(p.len(), 102);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
    }

    /// Inserts in many patterns, checked against a Vec model.
    #[test]
    fn insert_patterns_match_a_model() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        let base: Vec<String> = (0..50).map(|i| format!("b{i}")).collect();
        s.list_push(0, b"l", ListEnd::Tail, &base, false).unwrap();
        let mut model = base.clone();
        let mut seed = 12345u64;
        for i in 0..6000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) as usize;
            // Mostly hammer a few spots (near the head, the middle, the
            // tail), sometimes anywhere.
            let pivot = match r % 5 {
                0 => "b0".to_string(),
                1 => "b25".to_string(),
                2 => "b49".to_string(),
                3 => model[r / 5 % model.len()].clone(),
                _ => "b24".to_string(),
            };
            let after = r % 7 < 3;
            let v = format!("n{i}");
            let info = s.list_lookup(0, b"l").unwrap().unwrap();
            s.list_insert(0, b"l", &info, after, pivot.as_bytes(), v.as_bytes())
                .unwrap();
            let at = model.iter().position(|x| *x == pivot).unwrap();
            model.insert(if after { at + 1 } else { at }, v);
        }
        assert_eq!(all(&mut s, b"l"), model);
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        assert_eq!(info.len, model.len() as i64);
        // Pushes still work at both ends.
        s.list_push(0, b"l", ListEnd::Head, &["h"], false).unwrap();
        s.list_push(0, b"l", ListEnd::Tail, &["t"], false).unwrap();
        let got = all(&mut s, b"l");
        assert_eq!(got.first().unwrap(), "h");
        assert_eq!(got.last().unwrap(), "t");
    }

    #[test]
    fn renumber_large_list_in_batches() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        let vals: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
        s.list_push(0, b"l", ListEnd::Tail, &vals, false).unwrap();
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        let tracked = s
            .list_renumber(info.id, Some(1000 * LIST_GAP))
            .unwrap()
            .unwrap();
        let p = positions(&s, info.id);
        assert_eq!(p[1000], tracked);
        assert!(p.windows(2).all(|w| w[1] - w[0] == LIST_GAP));
        assert_eq!(all(&mut s, b"l"), vals);
        // And back again (now the centred range is free).
        s.list_renumber(info.id, None).unwrap();
        assert_eq!(all(&mut s, b"l"), vals);
    }

    #[test]
    fn push_near_the_i64_edge() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        s.list_push(0, b"l", ListEnd::Tail, &["a"], false).unwrap();
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        s.list_put(info.id, i64::MAX - 5, b"z").unwrap();
        s.list_put(info.id, i64::MIN + 5, b"0").unwrap();
        s.set_collection_len(0, b"l", &info, 3).unwrap();
        s.list_push(0, b"l", ListEnd::Tail, &["t"], false).unwrap();
        s.list_push(0, b"l", ListEnd::Head, &["h"], false).unwrap();
        assert_eq!(all(&mut s, b"l"), ["h", "0", "a", "z", "t"]);
    }

    #[test]
    fn rem_trim_positions() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        s.list_push(
            0,
            b"l",
            ListEnd::Tail,
            &["a", "b", "a", "a", "c", "a"],
            false,
        )
        .unwrap();
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        assert_eq!(
            s.list_positions(&info, b"a", false, 1, 0, 0).unwrap(),
            [0, 2, 3, 5]
        );
        assert_eq!(
            s.list_positions(&info, b"a", true, 2, 2, 0).unwrap(),
            [3, 2]
        );
        assert_eq!(s.list_rem(0, b"l", &info, -2, b"a").unwrap(), 2);
        assert_eq!(all(&mut s, b"l"), ["a", "b", "a", "c"]);
        let info = s.list_lookup(0, b"l").unwrap().unwrap();
        s.list_trim(0, b"l", &info, 1, -2).unwrap();
        assert_eq!(all(&mut s, b"l"), ["b", "a"]);
    }
}
