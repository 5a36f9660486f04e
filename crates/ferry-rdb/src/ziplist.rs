//! Ziplists (the compact encoding before Redis 7): read only, for RESTORE
//! of payloads from Redis 6.x (LIST_ZIPLIST, ZSET_ZIPLIST, HASH_ZIPLIST,
//! and the nodes of LIST_QUICKLIST).
//!
//! Layout: total bytes (u32 LE), offset of the last entry (u32 LE), entry
//! count (u16 LE, 65535 = "count them"), entries, 0xFF. An entry is the
//! previous entry's length (1 byte, or 0xFE + u32), an encoding (string of
//! 6/14/32-bit length, or int16/32/64/24/8, or 0..12 in the byte), data.

use crate::RdbError;

/// Reads every entry of a ziplist, integers as their decimal text.
pub fn decode(zl: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let bad = || RdbError::BadData;
    if zl.len() < 11 {
        return Err(bad());
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    if total != zl.len() || zl[zl.len() - 1] != 0xff {
        return Err(bad());
    }
    let body = &zl[10..zl.len() - 1];
    let get = |from: usize, n: usize| {
        from.checked_add(n)
            .and_then(|end| body.get(from..end))
            .ok_or(RdbError::BadData)
    };
    let mut out = Vec::new();
    let mut p = 0usize;
    while p < body.len() {
        p += match body[p] {
            0xfe => 5,
            0xff => return Err(bad()),
            _ => 1,
        };
        let b = *get(p, 1)?.first().ok_or_else(bad)?;
        let int = |n: usize| -> Result<i64, RdbError> {
            let h = get(p + 1, n)?;
            // Little endian in the entry; sign-extend from n bytes.
            let mut le = [0u8; 8];
            le[..n].copy_from_slice(h);
            let v = i64::from_le_bytes(le);
            let shift = 64 - 8 * n as u32;
            Ok((v << shift) >> shift)
        };
        let (elem, size) = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                (get(p + 1, n)?.to_vec(), 1 + n)
            }
            1 => {
                let lo = *get(p + 1, 1)?.first().ok_or_else(bad)?;
                let n = (((b & 0x3f) as usize) << 8) | lo as usize;
                (get(p + 2, n)?.to_vec(), 2 + n)
            }
            2 => {
                if b != 0x80 {
                    return Err(bad());
                }
                let h = get(p + 1, 4)?;
                let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (get(p + 5, n)?.to_vec(), 5 + n)
            }
            _ => match b {
                0xc0 => (int(2)?.to_string().into_bytes(), 3),
                0xd0 => (int(4)?.to_string().into_bytes(), 5),
                0xe0 => (int(8)?.to_string().into_bytes(), 9),
                0xf0 => (int(3)?.to_string().into_bytes(), 4),
                0xfe => (int(1)?.to_string().into_bytes(), 2),
                0xf1..=0xfd => (((b & 0x0f) as i64 - 1).to_string().into_bytes(), 1),
                _ => return Err(bad()),
            },
        };
        p = p
            .checked_add(size)
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
    fn reads_redis_6_ziplist() {
        // RPUSH l a 1 300 -5 70000 on Redis 6: entries "a", 1 (immediate),
        // 300 (int16), -5 (int8), 70000 (int24).
        let mut body = vec![
            0, 0x01, b'a', 3, 0xf2, 2, 0xc0, 0x2c, 0x01, 3, 0xfe, 0xfb, 2, 0xf0,
        ];
        body.extend_from_slice(&[0x70, 0x11, 0x01]);
        let total = 10 + body.len() + 1;
        let mut zl = (total as u32).to_le_bytes().to_vec();
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&5u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        assert_eq!(
            decode(&zl).unwrap(),
            ["a", "1", "300", "-5", "70000"].map(|s| s.as_bytes().to_vec())
        );
        assert!(decode(&zl[..zl.len() - 2]).is_err());
    }
}
