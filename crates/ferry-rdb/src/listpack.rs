//! Listpacks (Redis 7's compact encoding of small lists, hashes, sorted
//! sets and stream nodes): building one the way Redis appends to it, and
//! reading one from an untrusted payload.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = "count
//! them"), the elements, 0xFF. An element is an encoding byte (7-bit uint,
//! 6/12/32-bit string length, 13/16/24/32/64-bit integer), its data, and a
//! back-length (the size of encoding + data in 1 to 5 bytes).

use crate::RdbError;

/// An integer as listpack (and `string2ll`) accepts it: decimal, no sign
/// but `-`, no leading zeros, at most 20 characters, fits an i64.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && (digits.len() > 1 || s.len() > 1))
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A listpack being built by appending.
pub struct ListpackWriter {
    /// Encoded elements (each with its back-length), kept apart so the
    /// first ones can be rewritten (a stream node's counters).
    elems: Vec<Vec<u8>>,
    bytes: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter::new()
    }
}

fn backlen(out: &mut Vec<u8>, l: usize) {
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2097151 {
        out.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else if l < 268435455 {
        out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    }
}

/// One integer element, with its back-length.
pub fn encode_int(v: i64) -> Vec<u8> {
    let mut e = Vec::with_capacity(10);
    if (0..=127).contains(&v) {
        e.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u16;
        e.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
    } else if let Ok(x) = i16::try_from(v) {
        e.push(0xf1);
        e.extend_from_slice(&x.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        e.push(0xf2);
        e.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if let Ok(x) = i32::try_from(v) {
        e.push(0xf3);
        e.extend_from_slice(&x.to_le_bytes());
    } else {
        e.push(0xf4);
        e.extend_from_slice(&v.to_le_bytes());
    }
    let l = e.len();
    backlen(&mut e, l);
    e
}

/// One element for `s`: an integer when it reads as one, as `lpAppend`
/// stores it.
pub fn encode_str(s: &[u8]) -> Vec<u8> {
    if let Some(v) = parse_int(s) {
        return encode_int(v);
    }
    let n = s.len();
    let mut e = Vec::with_capacity(n + 10);
    if n < 64 {
        e.push(0x80 | n as u8);
    } else if n < 4096 {
        e.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
    } else {
        e.push(0xf0);
        e.extend_from_slice(&(n as u32).to_le_bytes());
    }
    e.extend_from_slice(s);
    let l = e.len();
    backlen(&mut e, l);
    e
}

impl ListpackWriter {
    pub fn new() -> ListpackWriter {
        ListpackWriter {
            elems: Vec::new(),
            bytes: 7,
        }
    }

    pub fn push(&mut self, elem: Vec<u8>) {
        self.bytes += elem.len();
        self.elems.push(elem);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        self.push(encode_str(s));
    }

    pub fn push_int(&mut self, v: i64) {
        self.push(encode_int(v));
    }

    /// Rewrites element `i` (which must exist) as the integer `v`.
    pub fn set_int(&mut self, i: usize, v: i64) {
        let e = encode_int(v);
        self.bytes = self.bytes - self.elems[i].len() + e.len();
        self.elems[i] = e;
    }

    /// The listpack's size in bytes, header and end byte included.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes);
        out.extend_from_slice(&(self.bytes as u32).to_le_bytes());
        out.extend_from_slice(&(self.elems.len().min(65535) as u16).to_le_bytes());
        for e in &self.elems {
            out.extend_from_slice(e);
        }
        out.push(0xff);
        out
    }
}

/// Bytes of the back-length of an element whose encoding + data is `l`.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Reads every element of a listpack, integers as their decimal text.
/// Checks the header's byte count, the end byte and the element count.
pub fn decode(lp: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let bad = || RdbError::BadData;
    if lp.len() < 7 {
        return Err(bad());
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    let count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    if total != lp.len() || lp[lp.len() - 1] != 0xff {
        return Err(bad());
    }
    let body = &lp[6..lp.len() - 1];
    let mut out = Vec::new();
    let mut p = 0usize;
    let get = |from: usize, n: usize| {
        from.checked_add(n)
            .and_then(|end| body.get(from..end))
            .ok_or(RdbError::BadData)
    };
    while p < body.len() {
        let b = body[p];
        let (elem, size): (Vec<u8>, usize) = if b & 0x80 == 0 {
            ((b as i64).to_string().into_bytes(), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (get(p + 1, n)?.to_vec(), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let lo = *get(p + 1, 1)?.first().ok_or_else(bad)?;
            let u = (((b & 0x1f) as i64) << 8) | lo as i64;
            let v = if u >= 1 << 12 { u - (1 << 13) } else { u };
            (v.to_string().into_bytes(), 2)
        } else if b & 0xf0 == 0xe0 {
            let lo = *get(p + 1, 1)?.first().ok_or_else(bad)?;
            let n = (((b & 0x0f) as usize) << 8) | lo as usize;
            (get(p + 2, n)?.to_vec(), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let h = get(p + 1, 4)?;
                    let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                    (get(p + 5, n)?.to_vec(), 5 + n)
                }
                0xf1 => {
                    let h = get(p + 1, 2)?;
                    (i16::from_le_bytes([h[0], h[1]]).to_string().into_bytes(), 3)
                }
                0xf2 => {
                    let h = get(p + 1, 3)?;
                    let v = i32::from_le_bytes([0, h[0], h[1], h[2]]) >> 8;
                    (v.to_string().into_bytes(), 4)
                }
                0xf3 => {
                    let h = get(p + 1, 4)?;
                    let v = i32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                    (v.to_string().into_bytes(), 5)
                }
                0xf4 => {
                    let h = get(p + 1, 8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(h);
                    (i64::from_le_bytes(a).to_string().into_bytes(), 9)
                }
                _ => return Err(bad()),
            }
        };
        p = p
            .checked_add(size + backlen_size(size))
            .filter(|q| *q <= body.len())
            .ok_or_else(bad)?;
        out.push(elem);
    }
    if count != 65535 && count != out.len() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_redis_builds_them() {
        // RPUSH l a b c 1 2 300 on redis-server 7.0: the node's listpack.
        let mut w = ListpackWriter::new();
        for e in ["a", "b", "c", "1", "2", "300"] {
            w.push_str(e.as_bytes());
        }
        let lp = w.finish();
        assert_eq!(
            lp,
            b"\x17\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x81c\x02\x01\x01\x02\x01\xc1,\x02\xff"
        );
        assert_eq!(
            decode(&lp).unwrap(),
            ["a", "b", "c", "1", "2", "300"].map(|s| s.as_bytes().to_vec())
        );
    }

    #[test]
    fn every_encoding_round_trips() {
        let mut w = ListpackWriter::new();
        let vals: Vec<Vec<u8>> = [
            "0",
            "-1",
            "127",
            "128",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "40000",
            "-8388608",
            "8388607",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "01",
            "-0",
            "",
            "x",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'y'; 63],
            vec![b'z'; 64],
            vec![b'w'; 4095],
            vec![b'v'; 5000],
        ])
        .collect();
        for v in &vals {
            w.push_str(v);
        }
        let lp = w.finish();
        assert_eq!(decode(&lp).unwrap(), vals);
        assert!(decode(&lp[..lp.len() - 1]).is_err());
    }
}
