//! Sorted-set reads: scores, ranks, ranges by rank / score / member, and
//! what set operations and ZSCAN need. Writes go through the journaled
//! helpers of `collections.rs` (`zset_put`, `elem_del`, `set_collection_len`).
//!
//! Order is Redis's: by score, then by member bytes; the `zsets_by_score`
//! index holds exactly that order, so ranges read only the rows they return
//! (plus the rows an OFFSET skips: a rank range costs O(offset + count),
//! taken from whichever end is nearer, where Redis's skiplist pays O(log n)).

use crate::keyspace::KeyInfo;
use crate::{Store, StoreResult};
use rusqlite::params;

/// One sorted-set element.
pub type ZEntry = (Vec<u8>, f64);

/// A score interval as ZRANGEBYSCORE takes it (`(` makes a bound exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// No score can fall inside (Redis answers such ranges with nothing).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a member interval: `-`, `+`, `[x` or `(x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A member interval as ZRANGEBYLEX takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_slice(),
            LexBound::Excl(x) => m > x.as_slice(),
        }
    }
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }
}

fn entry(r: &rusqlite::Row) -> rusqlite::Result<ZEntry> {
    Ok((r.get(0)?, r.get(1)?))
}

impl Store {
    /// A member's score: a primary-key lookup.
    pub fn zset_score(&mut self, id: i64, member: &[u8]) -> StoreResult<Option<f64>> {
        let mut stmt = self.stmt("SELECT score FROM zsets WHERE key_id = ?1 AND member = ?2")?;
        let mut rows = stmt.query(params![id, member])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    /// A member's 0-based rank in ascending order (elements before it in
    /// (score, member) order). Counting over the index is O(rank).
    pub fn zset_rank(&mut self, id: i64, member: &[u8]) -> StoreResult<Option<i64>> {
        let Some(score) = self.zset_score(id, member)? else {
            return Ok(None);
        };
        let n: i64 = self
            .stmt("SELECT count(*) FROM zsets WHERE key_id = ?1 AND (score, member) < (?2, ?3)")?
            .query_row(params![id, score, member], |r| r.get(0))?;
        Ok(Some(n))
    }

    /// Elements `start..=stop` (0-based, already clamped to the set) in
    /// ascending order, or in descending order with `rev`. Reads from the
    /// nearer end of the index.
    pub fn zset_by_rank(
        &mut self,
        info: &KeyInfo,
        start: i64,
        stop: i64,
        rev: bool,
    ) -> StoreResult<Vec<ZEntry>> {
        if start > stop || start >= info.len || stop < 0 {
            return Ok(Vec::new());
        }
        let count = stop - start + 1;
        // The same rows counted from the other end.
        let other_start = info.len - 1 - stop;
        let (desc, offset, flip) = if other_start < start {
            (!rev, other_start, true)
        } else {
            (rev, start, false)
        };
        let sql = if desc {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score DESC, member DESC LIMIT ?2 OFFSET ?3"
        } else {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score, member LIMIT ?2 OFFSET ?3"
        };
        let mut stmt = self.stmt(sql)?;
        let mut out = stmt
            .query_map(params![info.id, count, offset], entry)?
            .collect::<Result<Vec<_>, _>>()?;
        if flip {
            out.reverse();
        }
        Ok(out)
    }

    /// Elements with a score in `range`, ascending (descending with `rev`),
    /// skipping `offset` and returning at most `limit`.
    pub fn zset_by_score(
        &mut self,
        id: i64,
        range: &ScoreRange,
        rev: bool,
        offset: i64,
        limit: Option<i64>,
    ) -> StoreResult<Vec<ZEntry>> {
        if range.is_empty() || offset < 0 || limit == Some(0) {
            return Ok(Vec::new());
        }
        let lo = if range.minex { ">" } else { ">=" };
        let hi = if range.maxex { "<" } else { "<=" };
        let order = if rev {
            "score DESC, member DESC"
        } else {
            "score, member"
        };
        let sql = format!(
            "SELECT member, score FROM zsets WHERE key_id = ?1 AND score {lo} ?2 AND score {hi} ?3 \
             ORDER BY {order} LIMIT ?4 OFFSET ?5"
        );
        let mut stmt = self.stmt_built(&sql)?;
        let rows = stmt
            .query_map(
                params![id, range.min, range.max, limit.unwrap_or(-1), offset],
                entry,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many elements have a score in `range` (counted over the index:
    /// O(count), where Redis subtracts two ranks).
    pub fn zset_count_score(&mut self, id: i64, range: &ScoreRange) -> StoreResult<i64> {
        if range.is_empty() {
            return Ok(0);
        }
        let lo = if range.minex { ">" } else { ">=" };
        let hi = if range.maxex { "<" } else { "<=" };
        let sql = format!(
            "SELECT count(*) FROM zsets WHERE key_id = ?1 AND score {lo} ?2 AND score {hi} ?3"
        );
        Ok(self
            .stmt_built(&sql)?
            .query_row(params![id, range.min, range.max], |r| r.get(0))?)
    }

    /// The first (or with `last`, the last) element in order.
    fn zset_edge(&mut self, id: i64, last: bool) -> StoreResult<Option<ZEntry>> {
        let sql = if last {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score DESC, member DESC LIMIT 1"
        } else {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score, member LIMIT 1"
        };
        let mut stmt = self.stmt(sql)?;
        let mut rows = stmt.query_map(params![id], entry)?;
        Ok(rows.next().transpose()?)
    }

    /// Elements whose member is in `range`, the way Redis walks a sorted
    /// set for ZRANGEBYLEX: from the first element (in order) at or above
    /// the minimum, while members stay at or below the maximum (reverse:
    /// from the last element at or below the maximum, down). When every
    /// score is equal (the case lex ranges are meant for) this is an index
    /// range on the member; with mixed scores it follows Redis's listpack
    /// walk (O(n) to find the start).
    pub fn zset_by_lex(
        &mut self,
        id: i64,
        range: &LexRange,
        rev: bool,
        offset: i64,
        limit: Option<i64>,
    ) -> StoreResult<Vec<ZEntry>> {
        self.lex_walk(id, range, rev, offset, limit, true)
            .map(|(_, v)| v)
    }

    /// ZLEXCOUNT: how many elements [`Store::zset_by_lex`] would return,
    /// without keeping them.
    pub fn zset_count_lex(&mut self, id: i64, range: &LexRange) -> StoreResult<i64> {
        self.lex_walk(id, range, false, 0, None, false)
            .map(|(n, _)| n)
    }

    fn lex_walk(
        &mut self,
        id: i64,
        range: &LexRange,
        rev: bool,
        offset: i64,
        limit: Option<i64>,
        keep: bool,
    ) -> StoreResult<(i64, Vec<ZEntry>)> {
        let mut out = Vec::new();
        let mut n = 0i64;
        if range.is_empty() || offset < 0 || limit == Some(0) {
            return Ok((n, out));
        }
        let (Some(first), Some(last)) = (self.zset_edge(id, false)?, self.zset_edge(id, true)?)
        else {
            return Ok((n, out));
        };
        if !range.gte_min(&last.0) || !range.lte_max(&first.0) {
            return Ok((n, out));
        }
        // Redis checks the start element, then skips `offset` elements
        // without looking at them, then returns elements while in range.
        let mut skip = offset;
        let mut left = limit.unwrap_or(-1);
        let mut at_start = true;
        // Whether a member is still inside the range, seen from the end the
        // walk goes towards; and whether the walk has reached the range.
        let inside_from = |m: &[u8]| {
            if rev {
                range.gte_min(m)
            } else {
                range.lte_max(m)
            }
        };
        let reached = |m: &[u8]| {
            if rev {
                range.lte_max(m)
            } else {
                range.gte_min(m)
            }
        };
        let mut take = |e: ZEntry, inside: bool, out: &mut Vec<ZEntry>| -> bool {
            if std::mem::take(&mut at_start) && !inside {
                return false;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            if !inside {
                return false;
            }
            n += 1;
            if keep {
                out.push(e);
            }
            left -= 1;
            left != 0
        };
        if first.1 == last.1 {
            // One score: members are in byte order; seek by member.
            let score = first.1;
            let bound: Option<(&str, &[u8])> = match (rev, &range.min, &range.max) {
                (false, LexBound::Incl(x), _) => Some((">=", x)),
                (false, LexBound::Excl(x), _) => Some((">", x)),
                (true, _, LexBound::Incl(x)) => Some(("<=", x)),
                (true, _, LexBound::Excl(x)) => Some(("<", x)),
                _ => None,
            };
            let order = if rev { "member DESC" } else { "member" };
            let cond = match bound {
                Some((op, _)) => format!("member {op} ?3"),
                None => "?3 IS NULL".to_string(),
            };
            let q = format!(
                "SELECT member, score FROM zsets INDEXED BY zsets_by_score \
                 WHERE key_id = ?1 AND score = ?2 AND {cond} ORDER BY {order}"
            );
            let arg: Option<Vec<u8>> = bound.map(|(_, b)| b.to_vec());
            let mut stmt = self.stmt_built(&q)?;
            let mut rows = stmt.query(params![id, score, arg])?;
            while let Some(r) = rows.next()? {
                let e = entry(r)?;
                let inside = inside_from(&e.0);
                if !take(e, inside, &mut out) {
                    break;
                }
            }
            return Ok((n, out));
        }
        // Mixed scores: walk in order as Redis's listpack code does.
        let q = if rev {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score DESC, member DESC"
        } else {
            "SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score, member"
        };
        let mut stmt = self.stmt(q)?;
        let mut rows = stmt.query(params![id])?;
        let mut started = false;
        while let Some(r) = rows.next()? {
            let e = entry(r)?;
            if !started {
                if !reached(&e.0) {
                    continue;
                }
                started = true;
            }
            let inside = inside_from(&e.0);
            if !take(e, inside, &mut out) {
                break;
            }
        }
        Ok((n, out))
    }

    /// Every element in order (set operations over whole sets).
    pub fn zset_all(&mut self, id: i64) -> StoreResult<Vec<ZEntry>> {
        let mut stmt =
            self.stmt("SELECT member, score FROM zsets WHERE key_id = ?1 ORDER BY score, member")?;
        let rows = stmt
            .query_map(params![id], entry)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A plain set's members, each with score 1 (ZUNION and friends accept
    /// sets as inputs).
    pub fn zset_set_members(&mut self, id: i64) -> StoreResult<Vec<ZEntry>> {
        let mut stmt = self.stmt("SELECT member FROM sets WHERE key_id = ?1 ORDER BY member")?;
        let rows = stmt
            .query_map(params![id], |r| Ok((r.get::<_, Vec<u8>>(0)?, 1.0)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether a plain set holds `member`.
    pub fn zset_set_has(&mut self, id: i64, member: &[u8]) -> StoreResult<bool> {
        let mut stmt = self.stmt("SELECT 1 FROM sets WHERE key_id = ?1 AND member = ?2")?;
        Ok(stmt.exists(params![id, member])?)
    }

    /// One ZSCAN step over members in byte order: about `count` elements
    /// and the next cursor (0 at the end).
    ///
    /// The cursor is a resume point, the first up to 7 bytes of a member
    /// (length in the top byte, bytes below), and a step returns exactly
    /// the members in [resume point, next resume point). So an element
    /// present for the whole scan is returned at least once whatever
    /// changes in between, as SCAN promises; a step costs O(count + log n)
    /// except when more than `count` members share a 7-byte prefix (then
    /// all of those come back together).
    pub fn zset_scan(
        &mut self,
        id: i64,
        cursor: u64,
        count: usize,
    ) -> StoreResult<(u64, Vec<ZEntry>)> {
        let from = decode_scan_cursor(cursor);
        let mut stmt = self.stmt(
            "SELECT member, score FROM zsets WHERE key_id = ?1 AND member >= ?2 ORDER BY member LIMIT ?3",
        )?;
        let mut rows = stmt
            .query_map(params![id, from, count as i64 + 1], entry)?
            .collect::<Result<Vec<_>, _>>()?;
        if rows.len() <= count {
            return Ok((0, rows));
        }
        let next = rows.pop().map(|(m, _)| m).unwrap_or_default();
        let resume = next[..next.len().min(7)].to_vec();
        if resume > from {
            rows.retain(|(m, _)| m.as_slice() < resume.as_slice());
            return Ok((encode_scan_cursor(&resume), rows));
        }
        // More than `count` members start with `from`: return all of them.
        let upper = prefix_successor(&from);
        let all = match &upper {
            Some(u) => self.stmt(
                    "SELECT member, score FROM zsets WHERE key_id = ?1 AND member >= ?2 AND member < ?3 ORDER BY member",
                )?
                .query_map(params![id, from, u], entry)?
                .collect::<Result<Vec<_>, _>>()?,
            None => self.stmt(
                    "SELECT member, score FROM zsets WHERE key_id = ?1 AND member >= ?2 ORDER BY member",
                )?
                .query_map(params![id, from], entry)?
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok((upper.map_or(0, |u| encode_scan_cursor(&u)), all))
    }

    /// OBJECT ENCODING of a sorted set as Redis 7.0 reports it with default
    /// settings: `listpack` up to 128 elements of at most 64 bytes each,
    /// else `skiplist`. (Redis never converts a skiplist back when the set
    /// shrinks; this looks at the current contents only.)
    pub fn zset_encoding(&mut self, info: &KeyInfo) -> StoreResult<&'static str> {
        if info.len > 128 {
            return Ok("skiplist");
        }
        let longest: Option<i64> = self
            .stmt("SELECT max(length(member)) FROM zsets WHERE key_id = ?1")?
            .query_row(params![info.id], |r| r.get(0))?;
        Ok(if longest.unwrap_or(0) > 64 {
            "skiplist"
        } else {
            "listpack"
        })
    }
}

/// ZSCAN resume point from a cursor (see [`Store::zset_scan`]).
fn decode_scan_cursor(cursor: u64) -> Vec<u8> {
    let len = ((cursor >> 56) as usize).min(7);
    (0..len).map(|i| (cursor >> (8 * (6 - i))) as u8).collect()
}

fn encode_scan_cursor(prefix: &[u8]) -> u64 {
    debug_assert!(!prefix.is_empty() && prefix.len() <= 7);
    let mut c = (prefix.len() as u64) << 56;
    for (i, b) in prefix.iter().enumerate() {
        c |= (*b as u64) << (8 * (6 - i));
    }
    c
}

/// The smallest byte string above every string starting with `p`, if any.
fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut s = p.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursor_round_trip() {
        for p in [&b"a"[..], b"\x00", b"abcdefg", b"\xff\xff"] {
            assert_eq!(decode_scan_cursor(encode_scan_cursor(p)), p);
        }
        assert_eq!(decode_scan_cursor(0), b"");
        assert_eq!(prefix_successor(b"ab\xff"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
    }
}
