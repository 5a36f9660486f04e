//! The dense encoding: 16384 six-bit registers packed from the least
//! significant bit of each byte upwards, right after the header.

use crate::{HEADER_LEN, REGISTERS};

const REGISTER_MAX: u32 = 63;

/// Byte offset (in the whole value) and first bit of register `i`.
fn position(i: usize) -> (usize, u32) {
    let bit = i * 6;
    (HEADER_LEN + bit / 8, (bit & 7) as u32)
}

/// Register `i` of a dense value. `buf` must extend one byte past the last
/// register (Redis reads the string's NUL terminator there).
pub(crate) fn get(buf: &[u8], i: usize) -> u8 {
    let (byte, fb) = position(i);
    let b0 = buf[byte] as u32;
    let b1 = buf[byte + 1] as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX) as u8
}

/// Writes register `i`; `val` is at most 63.
pub(crate) fn set(buf: &mut [u8], i: usize, val: u8) {
    let (byte, fb) = position(i);
    let fb8 = 8 - fb;
    let v = val as u32;
    buf[byte] &= !(REGISTER_MAX << fb) as u8;
    buf[byte] |= (v << fb) as u8;
    buf[byte + 1] &= !(REGISTER_MAX >> fb8) as u8;
    buf[byte + 1] |= (v >> fb8) as u8;
}

/// Raises register `i` to `count` if it is lower; true when it changed.
pub(crate) fn raise(buf: &mut [u8], i: usize, count: u8) -> bool {
    if count > get(buf, i) {
        set(buf, i, count);
        true
    } else {
        false
    }
}

/// How many registers hold each value.
pub(crate) fn histogram(buf: &[u8], hist: &mut [u32; 64]) {
    for i in 0..REGISTERS {
        hist[get(buf, i) as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DENSE_LEN;

    #[test]
    fn registers_do_not_overlap() {
        let mut buf = vec![0u8; DENSE_LEN + 1];
        for i in 0..REGISTERS {
            set(&mut buf, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(get(&buf, i), (i % 64) as u8, "register {i}");
        }
        // The byte after the registers is never written.
        assert_eq!(buf[DENSE_LEN], 0);
        assert!(raise(&mut buf, 1, 2));
        assert!(!raise(&mut buf, 1, 2));
        assert!(!raise(&mut buf, 63, 5));
    }

    #[test]
    fn layout_matches_redis_diagram() {
        // Register 0 in the low 6 bits of byte 0, register 1 across bytes 0-1.
        let mut buf = vec![0u8; DENSE_LEN + 1];
        set(&mut buf, 0, 0b11_1111);
        assert_eq!(buf[HEADER_LEN], 0b0011_1111);
        set(&mut buf, 1, 0b10_0001);
        assert_eq!(buf[HEADER_LEN], 0b0111_1111);
        assert_eq!(buf[HEADER_LEN + 1], 0b0000_1000);
    }
}
