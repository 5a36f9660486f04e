//! Stream entry ids (`<ms>-<seq>`, two unsigned 64-bit numbers) and how
//! they are stored and parsed.
//!
//! SQLite integers are signed, so an id part is stored with its top bit
//! flipped ([`StreamId::to_sql`]): that maps `0..=u64::MAX` onto
//! `i64::MIN..=i64::MAX` keeping the order, and range queries on the primary
//! key stay plain comparisons.

use std::fmt;

/// A stream entry id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// Maps an unsigned id part to the signed column value, keeping the order.
pub(crate) fn part_to_sql(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

/// The inverse of [`part_to_sql`].
pub(crate) fn part_from_sql(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next id, or None after the largest one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, or None before `0-0`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The (ms, seq) column values.
    pub(crate) fn to_sql(self) -> (i64, i64) {
        (part_to_sql(self.ms), part_to_sql(self.seq))
    }

    pub(crate) fn from_sql(ms: i64, seq: i64) -> StreamId {
        StreamId::new(part_from_sql(ms), part_from_sql(seq))
    }

    /// The 16 big-endian bytes Redis keys its radix tree with.
    pub(crate) fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Parses `<ms>-<seq>` or `<ms>` (the sequence is then `missing_seq`),
    /// as Redis does: each part is read by `string2ull` (a canonical
    /// integer, or what C's `strtoull` accepts: leading blanks, a sign,
    /// leading zeros). `-` and `+` are the smallest and largest ids unless
    /// `strict`. With `allow_star_seq`, `<ms>-*` parses with `seq_auto`
    /// set (XADD). None for anything Redis calls an invalid id.
    pub fn parse(arg: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
        match Self::parse_full(arg, missing_seq, strict, false)? {
            (id, false) => Some(id),
            (_, true) => None,
        }
    }

    /// [`StreamId::parse`] that also accepts `<ms>-*`, reported by the
    /// second value (the sequence is to be chosen by the server).
    pub fn parse_full(
        arg: &[u8],
        missing_seq: u64,
        strict: bool,
        allow_star_seq: bool,
    ) -> Option<(StreamId, bool)> {
        // Redis copies the argument into a 128-byte C buffer: longer ids are
        // invalid, and a NUL byte ends the string.
        if arg.len() > 127 {
            return None;
        }
        let s = match arg.iter().position(|b| *b == 0) {
            Some(n) => &arg[..n],
            None => arg,
        };
        if s == b"-" || s == b"+" {
            if strict {
                return None;
            }
            return Some((
                if s == b"-" {
                    StreamId::MIN
                } else {
                    StreamId::MAX
                },
                false,
            ));
        }
        let (ms_part, seq_part) = match s.iter().position(|b| *b == b'-') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let ms = string2ull(ms_part)?;
        match seq_part {
            Some(b"*") if allow_star_seq => Some((StreamId::new(ms, 0), true)),
            Some(p) => Some((StreamId::new(ms, string2ull(p)?), false)),
            None => Some((StreamId::new(ms, missing_seq), false)),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Redis's `string2ull`: a canonical signed integer that is not negative,
/// else whatever C's `strtoull(s, &end, 10)` reads completely without
/// overflowing (leading whitespace, an optional sign, where `-` negates
/// modulo 2^64, leading zeros).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::parse_canonical_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_mapping_keeps_order() {
        let vals = [0u64, 1, 1 << 62, (1 << 63) - 1, 1 << 63, u64::MAX];
        for w in vals.windows(2) {
            assert!(part_to_sql(w[0]) < part_to_sql(w[1]));
        }
        for v in vals {
            assert_eq!(part_from_sql(part_to_sql(v)), v);
        }
    }

    #[test]
    fn parse_like_redis() {
        let p = |s: &str| StreamId::parse(s.as_bytes(), 0, false);
        assert_eq!(p("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(p("5"), Some(StreamId::new(5, 0)));
        assert_eq!(
            StreamId::parse(b"5", u64::MAX, false),
            Some(StreamId::new(5, u64::MAX))
        );
        assert_eq!(p("-"), Some(StreamId::MIN));
        assert_eq!(p("+"), Some(StreamId::MAX));
        assert_eq!(StreamId::parse(b"+", 0, true), None);
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        assert_eq!(p("18446744073709551616-0"), None);
        assert_eq!(p("-1"), None);
        assert_eq!(p("1--1"), None);
        assert_eq!(p("1--01"), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(p(" 7-+3"), Some(StreamId::new(7, 3)));
        assert_eq!(p("007"), Some(StreamId::new(7, 0)));
        assert_eq!(p("1-2-3"), None);
        assert_eq!(p("abc"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("1-"), None);
        assert_eq!(p("1-*"), None);
        assert_eq!(
            StreamId::parse_full(b"1-*", 0, true, true),
            Some((StreamId::new(1, 0), true))
        );
        assert_eq!(p(&"1".repeat(128)), None);
    }

    #[test]
    fn next_and_prev() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
    }
}
