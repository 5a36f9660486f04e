//! Set keys: one `sets` row per member, clustered by (key id, member).
//!
//! Membership tests, adds and removes are one b-tree descent each. The
//! multi-key operations (SINTER, SUNION, SDIFF and their STORE forms) are
//! built in the command layer from these reads; [`Store::set_replace`]
//! writes a result key.

use crate::hashes::{picks_from, scan_page, ScanCursor};
use crate::keyspace::{KeyInfo, KeyType};
use crate::{parse_canonical_i64, Store, StoreResult};
use rusqlite::{params, OptionalExtension};

/// Redis 7.0's default for the intset encoding.
const SET_MAX_INTSET_ENTRIES: i64 = 512;

impl Store {
    /// A live set key, or None; WRONGTYPE for other types.
    pub fn set_lookup(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<KeyInfo>> {
        self.lookup_typed(db, key, KeyType::Set)
    }

    /// Whether `member` is in the set with id `id`.
    pub fn set_contains(&mut self, id: i64, member: &[u8]) -> StoreResult<bool> {
        Ok(self
            .stmt("SELECT 1 FROM sets WHERE key_id = ?1 AND member = ?2")?
            .query_row(params![id, member], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Adds members (creating the set when missing); returns how many were new.
    pub fn set_add_members(
        &mut self,
        db: usize,
        key: &[u8],
        members: &[&[u8]],
    ) -> StoreResult<i64> {
        let info = self.lookup_or_create(db, key, KeyType::Set)?;
        let mut added = 0;
        for m in members {
            if !self.set_contains(info.id, m)? {
                self.set_add(info.id, m)?;
                added += 1;
            }
        }
        // Adding only existing members changes nothing (WATCH, tracking).
        if added > 0 {
            self.set_collection_len(db, key, &info, info.len + added)?;
        }
        Ok(added)
    }

    /// Removes members; returns how many were present. Deletes the key when empty.
    pub fn set_rem_members(
        &mut self,
        db: usize,
        key: &[u8],
        members: &[&[u8]],
    ) -> StoreResult<i64> {
        let Some(info) = self.set_lookup(db, key)? else {
            return Ok(0);
        };
        self.set_rem_from(db, key, &info, members)
    }

    /// Removes members from a set already looked up; returns how many were present.
    pub fn set_rem_from(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        members: &[&[u8]],
    ) -> StoreResult<i64> {
        let mut removed = 0;
        for m in members {
            if self.set_contains(info.id, m)? {
                self.elem_del(KeyType::Set, info.id, m)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.set_collection_len(db, key, info, info.len - removed)?;
        }
        Ok(removed)
    }

    /// Removes a member just read from the set (SPOP's pick): no
    /// membership check, one statement less than [`Store::set_rem_from`].
    /// Deletes the key when it empties. `member` must be in the set (read
    /// in this transaction): otherwise the stored count would go wrong.
    pub fn set_remove_present(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        member: &[u8],
    ) -> StoreResult<()> {
        self.elem_del(KeyType::Set, info.id, member)?;
        self.set_collection_len(db, key, info, info.len - 1)?;
        Ok(())
    }

    /// Every member, in member order.
    pub fn set_members(&mut self, id: i64) -> StoreResult<Vec<Vec<u8>>> {
        let mut stmt = self.stmt("SELECT member FROM sets WHERE key_id = ?1 ORDER BY member")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The member at position `offset` in member order (random picks).
    /// A member picked at random in O(log n): the first member at or after a
    /// random point between the smallest and the largest member (chosen
    /// byte by byte after their common prefix). Not exactly uniform: members
    /// after wide gaps in the order are picked more often. Redis's own pick
    /// is only roughly fair; a uniform pick by offset costs O(n), which made
    /// SPOP on a 100k-member set 20 times slower than Redis.
    pub fn set_random_member(&mut self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        // Both ends in one statement (one statement less per SPOP).
        let ends: (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .stmt(
                "SELECT (SELECT member FROM sets WHERE key_id = ?1 ORDER BY member LIMIT 1),
                        (SELECT member FROM sets WHERE key_id = ?1 ORDER BY member DESC LIMIT 1)",
            )?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (Some(first), Some(last)) = ends else {
            return Ok(None);
        };
        let probe = random_point_between(&first, &last);
        Ok(Some(
            self.stmt(
                    "SELECT member FROM sets WHERE key_id = ?1 AND member >= ?2 ORDER BY member LIMIT 1",
                )?
                .query_row(params![id, probe], |r| r.get(0))
                .optional()?
                .unwrap_or(last),
        ))
    }

    /// The members at the given positions in member order (`offsets`
    /// ascending, repeats allowed), in one pass that stops at the last
    /// position: random picks without loading the whole set.
    pub fn set_members_at(&mut self, id: i64, offsets: &[u64]) -> StoreResult<Vec<Vec<u8>>> {
        let mut stmt = self.stmt("SELECT member FROM sets WHERE key_id = ?1 ORDER BY member")?;
        let mut rows = stmt.query([id])?;
        picks_from(offsets, || match rows.next()? {
            Some(r) => Ok(Some(r.get(0)?)),
            None => Ok(None),
        })
    }

    /// Replaces whatever `key` holds (any type) with a set of `members`
    /// (distinct), or deletes it when `members` is empty. Returns the new size.
    pub fn set_replace(&mut self, db: usize, key: &[u8], members: &[Vec<u8>]) -> StoreResult<i64> {
        if members.is_empty() {
            self.delete(db, key)?;
            return Ok(0);
        }
        let (info, _) = self.create_replacing(db, key, KeyType::Set)?;
        for m in members {
            self.set_add(info.id, m)?;
        }
        let n = members.len() as i64;
        self.set_collection_len(db, key, &info, n)?;
        Ok(n)
    }

    /// One SSCAN page. A set Redis would keep as an intset is returned
    /// whole with cursor 0, as Redis does.
    pub fn set_scan(
        &mut self,
        info: &KeyInfo,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> StoreResult<(u64, Vec<Vec<u8>>)> {
        let (cursor, count) = if self.set_encoding(info)? == "intset" {
            (ScanCursor::parse(info.id, 0), usize::MAX)
        } else {
            (ScanCursor::parse(info.id, cursor), count.max(1))
        };
        let mut stmt = self
            .stmt("SELECT member FROM sets WHERE key_id = ?1 AND member >= ?2 ORDER BY member")?;
        let mut rows = stmt.query(params![info.id, cursor.start])?;
        let (next, page) = scan_page(
            info.id,
            &cursor,
            || match rows.next()? {
                Some(r) => Ok(Some((r.get(0)?, ()))),
                None => Ok(None),
            },
            count,
            pattern,
        )?;
        Ok((next, page.into_iter().map(|(m, ())| m).collect()))
    }

    /// OBJECT ENCODING of a set under Redis 7.0's rules: `intset` while it
    /// has at most 512 members and every member is an integer in canonical
    /// form, else `hashtable` (7.0 has no listpack sets). Reads at most 512
    /// rows.
    ///
    /// Computed from the current content: Redis never converts back, so a
    /// set that once held a non-integer (or too many members) reads
    /// `hashtable` in Redis but `intset` here once it qualifies again.
    pub fn set_encoding(&mut self, info: &KeyInfo) -> StoreResult<&'static str> {
        if info.len > SET_MAX_INTSET_ENTRIES {
            return Ok("hashtable");
        }
        let mut stmt = self.stmt("SELECT member FROM sets WHERE key_id = ?1")?;
        let mut rows = stmt.query([info.id])?;
        while let Some(r) = rows.next()? {
            let m: Vec<u8> = r.get(0)?;
            if parse_canonical_i64(&m).is_none() {
                return Ok("hashtable");
            }
        }
        Ok("intset")
    }
}

/// A random byte string between `lo` and `hi` (`lo <= hi`): their common
/// prefix, then a random byte within their bounds at the first difference,
/// then at each later position a random byte within the range the two have
/// there (so fixed-width names like `user:000123` are covered evenly).
fn random_point_between(lo: &[u8], hi: &[u8]) -> Vec<u8> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let common = lo.iter().zip(hi).take_while(|(a, b)| a == b).count();
    let mut out = lo[..common].to_vec();
    let Some(&high) = hi.get(common) else {
        return out;
    };
    let low = lo.get(common).copied().unwrap_or(0);
    out.push(rng.gen_range(low..=high));
    for i in common + 1..lo.len().max(hi.len()) {
        let (a, b) = match (lo.get(i), hi.get(i)) {
            (Some(&a), Some(&b)) => (a.min(b), a.max(b)),
            (Some(&a), None) | (None, Some(&a)) => (a, a),
            (None, None) => break,
        };
        out.push(rng.gen_range(a..=b));
    }
    out
}
