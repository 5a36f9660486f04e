//! Hash keys: one `hashes` row per field, clustered by (key id, field).
//!
//! Point reads and writes by field are one b-tree descent. Whole-hash reads
//! (HGETALL, HKEYS, HVALS) walk the key's range of the primary key.
//!
//! HSCAN/SSCAN cursors (see [`scan_page`]) are positions in the primary
//! key's order: the first 8 bytes of a field, zero-padded, read as a
//! big-endian number. A page always ends on a change of that 8-byte prefix,
//! so a field present during the whole iteration is returned at least once
//! whatever is added or removed between calls, and iteration always ends.

// Sets share the scan cursor; the module is declared here so that the
// crate root needs a single line for both types.
#[path = "sets.rs"]
mod sets;

use crate::glob::glob_match;
use crate::keyspace::{KeyInfo, KeyType};
use crate::{Store, StoreResult};
use rusqlite::{params, OptionalExtension};

/// Redis 7.0's defaults for the compact hash encoding.
const HASH_MAX_LISTPACK_ENTRIES: i64 = 128;
const HASH_MAX_LISTPACK_VALUE: i64 = 64;

/// A hash's (field, value) pairs.
pub type HashEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// One scan page: the next cursor (0 when done) and the elements found,
/// each with its extra data (a hash field's value).
pub type ScanElems<T> = (u64, Vec<(Vec<u8>, T)>);

/// The cursor position of an element (first 8 bytes, zero-padded, big-endian).
pub(crate) fn cursor_of(elem: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = elem.len().min(8);
    b[..n].copy_from_slice(&elem[..n]);
    u64::from_be_bytes(b)
}

/// The smallest element whose cursor position is `cursor`.
pub(crate) fn cursor_start(cursor: u64) -> Vec<u8> {
    let mut b = cursor.to_be_bytes().to_vec();
    while b.last() == Some(&0) {
        b.pop();
    }
    b
}

/// One page of an element scan. `rows` yields elements in primary-key
/// order starting at the cursor's position; reading stops after `count`
/// elements once the 8-byte prefix changes. Returns the next cursor (0 when
/// done) and the elements kept by `pattern`.
pub(crate) fn scan_page<T>(
    mut rows: impl FnMut() -> StoreResult<Option<(Vec<u8>, T)>>,
    count: usize,
    pattern: Option<&[u8]>,
) -> StoreResult<ScanElems<T>> {
    let mut out = Vec::new();
    let mut taken = 0usize;
    let mut last: Option<u64> = None;
    while let Some((elem, extra)) = rows()? {
        let pos = cursor_of(&elem);
        if taken >= count && last != Some(pos) {
            return Ok((pos, out));
        }
        taken += 1;
        last = Some(pos);
        if pattern.is_none_or(|p| glob_match(p, &elem, false)) {
            out.push((elem, extra));
        }
    }
    Ok((0, out))
}

/// The rows at ascending `offsets` (repeats allowed) of a row stream.
pub(crate) fn picks_from<T: Clone>(
    offsets: &[u64],
    mut next: impl FnMut() -> StoreResult<Option<T>>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut pos = 0u64;
    let mut current: Option<T> = next()?;
    for &want in offsets {
        while pos < want {
            current = next()?;
            pos += 1;
        }
        match &current {
            Some(row) => out.push(row.clone()),
            None => break,
        }
    }
    Ok(out)
}

impl Store {
    /// A live hash key, or None; WRONGTYPE for other types.
    pub fn hash_lookup(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<KeyInfo>> {
        self.lookup_typed(db, key, KeyType::Hash)
    }

    /// The value of `field` in the hash with id `id`.
    pub fn hash_field(&mut self, id: i64, field: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM hashes WHERE key_id = ?1 AND field = ?2")?
            .query_row(params![id, field], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    /// Sets fields (creating the hash when missing); with `only_new`, only
    /// fields not present are written. Returns how many fields were created.
    pub fn hash_set(
        &mut self,
        db: usize,
        key: &[u8],
        pairs: &[(&[u8], &[u8])],
        only_new: bool,
    ) -> StoreResult<i64> {
        let info = self.lookup_or_create(db, key, KeyType::Hash)?;
        let mut created = 0;
        for (field, value) in pairs {
            let exists = self.hash_field_exists(info.id, field)?;
            if exists && only_new {
                continue;
            }
            if !exists {
                created += 1;
            }
            self.hash_put(info.id, field, value)?;
        }
        self.set_collection_len(db, key, &info, info.len + created)?;
        Ok(created)
    }

    fn hash_field_exists(&mut self, id: i64, field: &[u8]) -> StoreResult<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM hashes WHERE key_id = ?1 AND field = ?2")?
            .query_row(params![id, field], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Deletes fields; returns how many existed. Deletes the key when empty.
    pub fn hash_del(&mut self, db: usize, key: &[u8], fields: &[&[u8]]) -> StoreResult<i64> {
        let Some(info) = self.hash_lookup(db, key)? else {
            return Ok(0);
        };
        let mut removed = 0;
        for field in fields {
            if self.hash_field_exists(info.id, field)? {
                self.elem_del(KeyType::Hash, info.id, field)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.set_collection_len(db, key, &info, info.len - removed)?;
        }
        Ok(removed)
    }

    /// Every (field, value) of the hash, in field order.
    pub fn hash_entries(&mut self, id: i64) -> StoreResult<HashEntries> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field")?;
        let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The (field, value) at position `offset` in field order (random picks).
    pub fn hash_entry_at(
        &mut self,
        id: i64,
        offset: i64,
    ) -> StoreResult<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![id, offset], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The entries at the given positions in field order (`offsets`
    /// ascending, repeats allowed), in one pass that stops at the last
    /// position: random picks without loading the whole hash.
    pub fn hash_entries_at(&mut self, id: i64, offsets: &[u64]) -> StoreResult<HashEntries> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field")?;
        let mut rows = stmt.query([id])?;
        picks_from(offsets, || match rows.next()? {
            Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
            None => Ok(None),
        })
    }

    /// One HSCAN page. A hash Redis would keep as a listpack is returned
    /// whole with cursor 0, as Redis does.
    pub fn hash_scan(
        &mut self,
        info: &KeyInfo,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> StoreResult<ScanElems<Vec<u8>>> {
        let (start, count) = if self.hash_encoding(info)? == "listpack" {
            (Vec::new(), usize::MAX)
        } else {
            (cursor_start(cursor), count.max(1))
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT field, value FROM hashes WHERE key_id = ?1 AND field >= ?2 ORDER BY field",
        )?;
        let mut rows = stmt.query(params![info.id, start])?;
        scan_page(
            || match rows.next()? {
                Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
                None => Ok(None),
            },
            count,
            pattern,
        )
    }

    /// OBJECT ENCODING of a hash under Redis 7.0's default thresholds:
    /// `listpack` while it has at most 128 fields and no field or value is
    /// longer than 64 bytes, else `hashtable`. Reads at most 128 rows.
    ///
    /// Redis never converts a hashtable back to a listpack; this is computed
    /// from the current content, so a hash that grew past a threshold and
    /// shrank again reads `listpack` here and `hashtable` in Redis.
    pub fn hash_encoding(&mut self, info: &KeyInfo) -> StoreResult<&'static str> {
        if info.len > HASH_MAX_LISTPACK_ENTRIES {
            return Ok("hashtable");
        }
        let long: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM hashes WHERE key_id = ?1 AND (length(field) > ?2 OR length(value) > ?2))",
            )?
            .query_row(params![info.id, HASH_MAX_LISTPACK_VALUE], |r| r.get(0))?;
        Ok(if long { "hashtable" } else { "listpack" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_positions_follow_field_order() {
        let mut fields: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgi",
            b"b",
            b"\xff",
        ];
        fields.sort();
        for w in fields.windows(2) {
            assert!(cursor_of(w[0]) <= cursor_of(w[1]));
        }
        for f in &fields {
            let c = cursor_of(f);
            let start = cursor_start(c);
            assert!(start.as_slice() <= *f);
            assert_eq!(cursor_of(&start), c);
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path().join("t.db"), &crate::StoreOptions::default()).unwrap();
        s.begin().unwrap();
        (dir, s)
    }

    #[test]
    fn hash_encoding_follows_redis_thresholds() {
        let (_d, mut s) = store();
        s.hash_set(0, b"h", &[(b"f", b"v")], false).unwrap();
        let info = s.hash_lookup(0, b"h").unwrap().unwrap();
        assert_eq!(s.hash_encoding(&info).unwrap(), "listpack");
        let long = vec![b'x'; 65];
        s.hash_set(0, b"h", &[(b"g", &long)], false).unwrap();
        let info = s.hash_lookup(0, b"h").unwrap().unwrap();
        assert_eq!(s.hash_encoding(&info).unwrap(), "hashtable");
        s.hash_del(0, b"h", &[b"g"]).unwrap();
        for i in 0..129 {
            let f = format!("f{i}");
            s.hash_set(0, b"h", &[(f.as_bytes(), b"v")], false).unwrap();
            let info = s.hash_lookup(0, b"h").unwrap().unwrap();
            let want = if info.len > 128 {
                "hashtable"
            } else {
                "listpack"
            };
            assert_eq!(s.hash_encoding(&info).unwrap(), want);
        }
    }

    #[test]
    fn set_encoding_follows_redis_7_0() {
        let (_d, mut s) = store();
        s.set_add_members(0, b"s", &[b"1", b"-2"]).unwrap();
        let info = s.set_lookup(0, b"s").unwrap().unwrap();
        assert_eq!(s.set_encoding(&info).unwrap(), "intset");
        s.set_add_members(0, b"s", &[b"007"]).unwrap();
        let info = s.set_lookup(0, b"s").unwrap().unwrap();
        assert_eq!(s.set_encoding(&info).unwrap(), "hashtable");
        let many: Vec<String> = (0..513).map(|i| i.to_string()).collect();
        let refs: Vec<&[u8]> = many.iter().map(|m| m.as_bytes()).collect();
        s.set_add_members(0, b"n", &refs[..512]).unwrap();
        let info = s.set_lookup(0, b"n").unwrap().unwrap();
        assert_eq!(s.set_encoding(&info).unwrap(), "intset");
        s.set_add_members(0, b"n", &refs[512..]).unwrap();
        let info = s.set_lookup(0, b"n").unwrap().unwrap();
        assert_eq!(s.set_encoding(&info).unwrap(), "hashtable");
    }

    #[test]
    fn picks_follow_offsets() {
        let rows = ["a", "b", "c", "d"];
        let mut it = rows.iter();
        let got = picks_from(&[0, 2, 2, 3, 9], || Ok(it.next().copied())).unwrap();
        assert_eq!(got, vec!["a", "c", "c", "d"]);
        let (_d, mut s) = store();
        s.set_add_members(0, b"s", &[b"x", b"y", b"z"]).unwrap();
        let info = s.set_lookup(0, b"s").unwrap().unwrap();
        assert_eq!(
            s.set_members_at(info.id, &[1, 1, 2]).unwrap(),
            vec![b"y".to_vec(), b"y".to_vec(), b"z".to_vec()]
        );
    }

    #[test]
    fn pages_end_on_prefix_change() {
        let elems: Vec<Vec<u8>> = vec![
            b"aaaaaaaa1".to_vec(),
            b"aaaaaaaa2".to_vec(),
            b"aaaaaaaa3".to_vec(),
            b"b".to_vec(),
        ];
        let mut it = elems.clone().into_iter();
        let (next, page) = scan_page(|| Ok(it.next().map(|e| (e, ()))), 1, None).unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(next, cursor_of(b"b"));
    }
}
