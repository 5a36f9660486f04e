//! Intsets (a set of integers, Redis's SET_INTSET encoding): a width (2, 4
//! or 8 bytes, u32 LE), a count (u32 LE), then the values sorted, little
//! endian, all in the width of the largest.

use crate::RdbError;

/// An intset holding `values` (any order), in the smallest width.
pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let width: usize = if v.iter().all(|x| i16::try_from(*x).is_ok()) {
        2
    } else if v.iter().all(|x| i32::try_from(*x).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * v.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

/// The values of an intset blob, which must be well formed and sorted.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    let bad = || RdbError::BadData;
    if blob.len() < 8 {
        return Err(bad());
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(blob.len() - 8) {
        return Err(bad());
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for c in blob[8..].chunks_exact(width) {
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(c);
        let shift = 64 - 8 * width as u32;
        let v = (i64::from_le_bytes(le) << shift) >> shift;
        if out.last().is_some_and(|p| *p >= v) {
            return Err(bad());
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_round_trip() {
        for vals in [vec![3, 1, 2], vec![-40000, 5], vec![1 << 40, -1]] {
            let b = encode(&vals);
            let mut sorted = vals.clone();
            sorted.sort();
            assert_eq!(decode(&b).unwrap(), sorted);
        }
        assert_eq!(encode(&[1, 2]), [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err());
    }
}
