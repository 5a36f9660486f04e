//! Hash keys: one `hashes` row per field, clustered by (key id, field).
//!
//! Point reads and writes by field are one b-tree descent. Whole-hash reads
//! (HGETALL, HKEYS, HVALS) walk the key's range of the primary key.
//!
//! HSCAN/SSCAN cursors are positions in the primary key's order (see
//! [`ScanCursor`]): a field present during the whole iteration is returned
//! at least once whatever is added or removed between calls, and every
//! iteration ends.

// Sets share the scan cursor; the module is declared here so that the
// crate root needs a single line for both types.
#[path = "sets.rs"]
mod sets;

use crate::glob::glob_match;
use crate::keyspace::{KeyInfo, KeyType};
use crate::{Store, StoreResult};
use rusqlite::{params, OptionalExtension};

/// Redis 7.0's defaults for the compact hash encoding.
const HASH_MAX_LISTPACK_ENTRIES: i64 = 512;
const HASH_MAX_LISTPACK_VALUE: i64 = 64;

/// A hash's (field, value) pairs.
pub type HashEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// One scan page: the next cursor (0 when done) and the elements found,
/// each with its extra data (a hash field's value).
pub type ScanElems<T> = (u64, Vec<(Vec<u8>, T)>);

/// Bytes of the element prefix a plain cursor holds.
const PLAIN_BYTES: usize = 7;
/// Bytes of the element prefix a resume token holds.
const TOKEN_BYTES: usize = 6;
/// Resume tokens kept (the low bits of a token cursor).
const TOKEN_SLOTS: usize = 1 << TOKEN_SLOT_BITS;
const TOKEN_SLOT_BITS: u32 = 14;
/// Marks a token cursor. Every cursor stays below 2^63, for clients that
/// read cursors as signed 64-bit numbers.
const TOKEN_FLAG: u64 = 1 << 62;
/// Longest element a resume token stores.
const TOKEN_MAX_ELEM: usize = 1024;

/// The first `n` bytes of an element, zero-padded, as a big-endian number:
/// non-decreasing in the primary key's (memcmp) order.
fn prefix_pos(elem: &[u8], n: usize) -> u64 {
    let mut b = [0u8; 8];
    let k = elem.len().min(n);
    b[8 - n..8 - n + k].copy_from_slice(&elem[..k]);
    u64::from_be_bytes(b)
}

/// The smallest element whose `n`-byte prefix position is `pos`.
fn prefix_start(pos: u64, n: usize) -> Vec<u8> {
    let mut b = pos.to_be_bytes()[8 - n..].to_vec();
    while b.last() == Some(&0) {
        b.pop();
    }
    b
}

/// Where the next page starts. A cursor is either
/// * plain (below 2^56): the 7-byte prefix position of the next element;
///   stateless, used when a page ends where that prefix changes;
/// * a resume token (2^62 and up, below 2^63) when a page ends inside a run of
///   elements sharing their first 7 bytes (`field:000`, `field:001`...):
///   the exact next element is kept in a bounded in-memory table, and the
///   token also carries its 6-byte prefix position. A token no longer in
///   the table (evicted, or the server restarted) resumes at that prefix
///   and reads the whole 6-byte run, which may repeat elements (as SCAN
///   may) but never skips one and always makes progress.
pub(crate) struct ScanCursor {
    /// The first element to read (inclusive).
    pub start: Vec<u8>,
    /// Read every element with this 6-byte prefix position before ending
    /// the page (the fallback for a lost token).
    run: Option<u64>,
}

struct Tokens {
    next: usize,
    slots: Vec<Option<(u64, i64, Vec<u8>)>>,
}

static TOKENS: std::sync::Mutex<Tokens> = std::sync::Mutex::new(Tokens {
    next: 0,
    slots: Vec::new(),
});

fn tokens() -> std::sync::MutexGuard<'static, Tokens> {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner())
}

impl ScanCursor {
    pub(crate) fn parse(key_id: i64, cursor: u64) -> ScanCursor {
        if cursor & TOKEN_FLAG == 0 || cursor >= 1 << 63 {
            return ScanCursor {
                start: prefix_start(cursor, PLAIN_BYTES),
                run: None,
            };
        }
        let slot = cursor as usize & (TOKEN_SLOTS - 1);
        let pos6 = (cursor & !TOKEN_FLAG) >> TOKEN_SLOT_BITS;
        let t = tokens();
        match t.slots.get(slot) {
            Some(Some((tok, id, elem))) if *tok == cursor && *id == key_id => ScanCursor {
                start: elem.clone(),
                run: None,
            },
            _ => ScanCursor {
                start: prefix_start(pos6, TOKEN_BYTES),
                run: Some(pos6),
            },
        }
    }

    /// A token that resumes exactly at `elem`.
    fn issue(key_id: i64, elem: &[u8]) -> u64 {
        let mut t = tokens();
        if t.slots.is_empty() {
            t.slots = vec![None; TOKEN_SLOTS];
        }
        let slot = t.next;
        t.next = (t.next + 1) % TOKEN_SLOTS;
        let token = TOKEN_FLAG | (prefix_pos(elem, TOKEN_BYTES) << TOKEN_SLOT_BITS) | slot as u64;
        t.slots[slot] = Some((token, key_id, elem.to_vec()));
        token
    }
}

/// One page of an element scan of key `key_id`. `rows` yields elements in
/// primary-key order from `cursor.start`; the page holds about `count`
/// elements (see [`ScanCursor`] for where it may end). Returns the next
/// cursor (0 when done) and the elements kept by `pattern`.
pub(crate) fn scan_page<T>(
    key_id: i64,
    cursor: &ScanCursor,
    mut rows: impl FnMut() -> StoreResult<Option<(Vec<u8>, T)>>,
    count: usize,
    pattern: Option<&[u8]>,
) -> StoreResult<ScanElems<T>> {
    let mut out = Vec::new();
    let mut taken = 0usize;
    let mut last: Option<u64> = None;
    while let Some((elem, extra)) = rows()? {
        let pos = prefix_pos(&elem, PLAIN_BYTES);
        let in_run = cursor
            .run
            .is_some_and(|r| prefix_pos(&elem, TOKEN_BYTES) == r);
        if taken >= count && !in_run {
            if last != Some(pos) {
                return Ok((pos, out));
            }
            if elem.len() <= TOKEN_MAX_ELEM {
                return Ok((ScanCursor::issue(key_id, &elem), out));
            }
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
            .stmt("SELECT value FROM hashes WHERE key_id = ?1 AND field = ?2")?
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
        let mut wrote = false;
        for (field, value) in pairs {
            let exists = self.hash_field_exists(info.id, field)?;
            if exists && only_new {
                continue;
            }
            if !exists {
                created += 1;
            }
            self.hash_put(info.id, field, value)?;
            wrote = true;
        }
        // HSETNX of an existing field changes nothing: WATCH and client
        // caches are not touched, as in Redis.
        if wrote {
            self.set_collection_len(db, key, &info, info.len + created)?;
        }
        Ok(created)
    }

    fn hash_field_exists(&mut self, id: i64, field: &[u8]) -> StoreResult<bool> {
        Ok(self
            .stmt("SELECT 1 FROM hashes WHERE key_id = ?1 AND field = ?2")?
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
        let mut stmt =
            self.stmt("SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field")?;
        let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The (field, value) at position `offset` in field order (random picks).
    pub fn hash_entry_at(
        &mut self,
        id: i64,
        offset: i64,
    ) -> StoreResult<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self.stmt(
                "SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![id, offset], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The entries at the given positions in field order (`offsets`
    /// ascending, repeats allowed), in one pass that stops at the last
    /// position: random picks without loading the whole hash.
    pub fn hash_entries_at(&mut self, id: i64, offsets: &[u64]) -> StoreResult<HashEntries> {
        let mut stmt =
            self.stmt("SELECT field, value FROM hashes WHERE key_id = ?1 ORDER BY field")?;
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
        let (cursor, count) = if self.hash_encoding(info)? == "listpack" {
            (ScanCursor::parse(info.id, 0), usize::MAX)
        } else {
            (ScanCursor::parse(info.id, cursor), count.max(1))
        };
        let mut stmt = self.stmt(
            "SELECT field, value FROM hashes WHERE key_id = ?1 AND field >= ?2 ORDER BY field",
        )?;
        let mut rows = stmt.query(params![info.id, cursor.start])?;
        scan_page(
            info.id,
            &cursor,
            || match rows.next()? {
                Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
                None => Ok(None),
            },
            count,
            pattern,
        )
    }

    /// OBJECT ENCODING of a hash under Redis 7.0's built-in thresholds
    /// (hash-max-listpack-entries 512, -value 64; the 128 of the shipped
    /// redis.conf is not the built-in default): `listpack` while it has at
    /// most 512 fields and no field or value is longer than 64 bytes, else
    /// `hashtable`. Reads at most 512 rows.
    ///
    /// Redis never converts a hashtable back to a listpack; this is computed
    /// from the current content, so a hash that grew past a threshold and
    /// shrank again reads `listpack` here and `hashtable` in Redis.
    pub fn hash_encoding(&mut self, info: &KeyInfo) -> StoreResult<&'static str> {
        if info.len > HASH_MAX_LISTPACK_ENTRIES {
            return Ok("hashtable");
        }
        let long: bool = self.stmt(
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
        for n in [PLAIN_BYTES, TOKEN_BYTES] {
            for w in fields.windows(2) {
                assert!(prefix_pos(w[0], n) <= prefix_pos(w[1], n));
            }
            for f in &fields {
                let c = prefix_pos(f, n);
                let start = prefix_start(c, n);
                assert!(start.as_slice() <= *f);
                assert_eq!(prefix_pos(&start, n), c);
            }
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
        for i in 0..513 {
            let f = format!("f{i}");
            s.hash_set(0, b"h", &[(f.as_bytes(), b"v")], false).unwrap();
            let info = s.hash_lookup(0, b"h").unwrap().unwrap();
            let want = if info.len > 512 {
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

    fn page(cursor: u64, elems: &[&str], count: usize) -> (u64, Vec<String>) {
        let c = ScanCursor::parse(1, cursor);
        let mut it = elems
            .iter()
            .filter(|e| e.as_bytes() >= c.start.as_slice())
            .map(|e| e.as_bytes().to_vec());
        let (next, page) =
            scan_page(1, &c, || Ok(it.next().map(|e| (e, ()))), count, None).unwrap();
        let page = page
            .into_iter()
            .map(|(e, ())| String::from_utf8(e).unwrap())
            .collect();
        (next, page)
    }

    #[test]
    fn pages_stay_small_inside_a_shared_prefix() {
        let elems: Vec<String> = (0..50).map(|i| format!("session:{i:03}")).collect();
        let elems: Vec<&str> = elems.iter().map(|s| s.as_str()).collect();
        let (mut cursor, mut seen) = (0, Vec::new());
        loop {
            let (next, page) = page(cursor, &elems, 7);
            assert!(page.len() <= 7);
            seen.extend(page);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen, elems);
    }

    #[test]
    fn lost_tokens_resume_at_the_prefix() {
        let elems: Vec<String> = (0..20).map(|i| format!("abcdefg{i:02}")).collect();
        let elems: Vec<&str> = elems.iter().map(|s| s.as_str()).collect();
        let (next, first) = page(0, &elems, 5);
        assert!((TOKEN_FLAG..1 << 63).contains(&next));
        // a token from another key is not found: the whole 6-byte run is read
        let c = ScanCursor::parse(2, next);
        assert!(c.run.is_some());
        assert_eq!(c.start, b"abcdef".to_vec());
        let (next2, rest) = page(next ^ 1, &elems, 5);
        assert_eq!(next2, 0);
        assert_eq!(rest.len(), 20);
        assert_eq!(first.len(), 5);
        // plain cursors end pages where the 7-byte prefix changes
        let (next, p) = page(0, &["aaaaaaa1", "aaaaaaa2", "b"], 1);
        assert_eq!(p, vec!["aaaaaaa1"]);
        assert!((TOKEN_FLAG..1 << 63).contains(&next));
        let (next, p) = page(next, &["aaaaaaa1", "aaaaaaa2", "b"], 1);
        assert_eq!(p, vec!["aaaaaaa2"]);
        assert_eq!(next, prefix_pos(b"b", PLAIN_BYTES));
    }
}
