//! LZF (the format Redis compresses RDB strings with): decompression, and
//! a compressor that makes the same choices as the liblzf 3.6 build inside
//! Redis 7.0 (16-bit hash table, "very fast" hashing; a match may start 3
//! bytes before the end, which later Redis versions no longer allow), so
//! DUMP payloads match redis-server 7.0's byte for byte.
//!
//! Written here because the one LZF crate is deprecated, and its output is
//! not guaranteed to be Redis's. The format: a control byte below 32 copies
//! that many + 1 literal bytes; otherwise its top three bits are a match
//! length (7 means "read one more byte and add it") and the rest, with the
//! next byte, a back-reference offset minus one.

use crate::RdbError;

/// Decompresses `input`, which must expand to exactly `len` bytes.
pub fn decompress(input: &[u8], len: usize) -> Result<Vec<u8>, RdbError> {
    // `len` comes from the payload: reserve no more than the input can
    // expand to (a 2-byte back reference yields at most 264 bytes).
    let mut out = Vec::with_capacity(len.min(input.len().saturating_mul(132)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or(RdbError::BadLzf)?;
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(i).ok_or(RdbError::BadLzf)? as usize;
                i += 1;
            }
            let low = *input.get(i).ok_or(RdbError::BadLzf)? as usize;
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > out.len() {
                return Err(RdbError::BadLzf);
            }
            let start = out.len() - back;
            // Overlapping copies repeat bytes: copy one at a time.
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err(RdbError::BadLzf);
        }
    }
    if out.len() != len {
        return Err(RdbError::BadLzf);
    }
    Ok(out)
}

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The hash slot of the three bytes ending the rolling value `h` (liblzf's
/// "very fast" variant; older bytes still in `h` take part, as there).
fn slot(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` as Redis does for RDB strings: the result must be at
/// least 4 bytes shorter than the input (else None: store it plainly).
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len <= 4 {
        return None;
    }
    let out_len = in_len - 4;
    let mut out = vec![0u8; out_len + 1];
    // Positions + 1; 0 is an empty slot. liblzf never refers back to the
    // very first byte (`ref > in_data`), which the `> 1` test keeps.
    let mut htab = vec![0u32; HSIZE];
    let mut ip = 0usize;
    let mut op = 1usize; // start a literal run
    let mut lit = 0usize;
    let at = |i: usize| input[i] as u32;
    let mut hval: u32 = (at(0) << 8) | at(1);
    while ip + 2 < in_len {
        hval = (hval << 8) | at(ip + 2);
        let h = slot(hval);
        let r = htab[h] as usize;
        htab[h] = (ip + 1) as u32;
        let matched = r > 1 && {
            let rf = r - 1;
            let off = ip - rf - 1;
            off < MAX_OFF && input[rf..rf + 3] == input[ip..ip + 3]
        };
        if matched {
            let rf = r - 1;
            let off = ip - rf - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                op -= 1;
            }
            if op + 3 + 1 >= out_len {
                return None;
            }
            // liblzf first compares 16 bytes without checking `maxlen`
            // when more than 16 may match: a match can end 2 bytes later
            // than `maxlen` there, and must, to give the same output.
            let mut done = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[rf + len] != input[ip + len] {
                        done = true;
                        break;
                    }
                }
            }
            while !done {
                len += 1;
                done = len >= maxlen || input[rf + len] != input[ip + len];
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1;
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // Hash the two positions before the new one, as liblzf does.
            ip -= 2;
            hval = (at(ip) << 8) | at(ip + 1);
            for _ in 0..2 {
                hval = (hval << 8) | at(ip + 2);
                htab[slot(hval)] = (ip + 1) as u32;
                ip += 1;
            }
        } else {
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        op -= 1;
    }
    out.truncate(op);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_as_redis() {
        // redis-server 7.0 dumps SET s <51 x 'a'> with this LZF body.
        let input = vec![b'a'; 51];
        let c = compress(&input).unwrap();
        assert_eq!(c, [0x01, b'a', b'a', 0xe0, 0x26, 0x00, 0x01, b'a', b'a']);
        assert_eq!(decompress(&c, 51).unwrap(), input);
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz"), None);
    }

    #[test]
    fn compress_round_trips() {
        let mut x: u32 = 7;
        for n in [5usize, 21, 100, 1000, 20000, 70000] {
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    if (x >> 16).is_multiple_of(3) {
                        (x >> 24) as u8
                    } else {
                        b"abcab"[i % 5]
                    }
                })
                .collect();
            if let Some(c) = compress(&data) {
                assert!(c.len() + 4 <= n);
                assert_eq!(decompress(&c, n).unwrap(), data);
            }
        }
    }

    #[test]
    fn literals_and_back_references() {
        // "abcabcabc": 3 literals, then a match of 6 at distance 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).unwrap(), b"abcabcabc");
        assert_eq!(decompress(&input, 8), Err(RdbError::BadLzf));
        assert_eq!(decompress(&[5, b'a'], 6), Err(RdbError::BadLzf));
        assert_eq!(decompress(&[(1 << 5), 9], 3), Err(RdbError::BadLzf));
        // A length no input can reach fails without reserving it.
        assert_eq!(decompress(&[0, b'a'], 1 << 62), Err(RdbError::BadLzf));
    }
}
