//! LZF decompression (the format Redis compresses RDB strings with).
//!
//! Written here because the one LZF crate is deprecated and the format is a
//! few lines: a control byte below 32 copies that many + 1 literal bytes;
//! otherwise its top three bits are a match length (7 means "read one more
//! byte and add it") and the rest, with the next byte, a back-reference
//! offset minus one.

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

#[cfg(test)]
mod tests {
    use super::*;

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
