//! MurmurHash64A, the 64-bit MurmurHash2 Redis hashes HLL elements with.
//!
//! Hand-written: the function is a dozen lines, and the one published crate
//! that has it (`murmur2`) is unmaintained; Redis's variant reads the 8-byte
//! blocks little-endian on every architecture, as this one does.

const M: u64 = 0xc6a4_a793_5bd1_e995;
const R: u32 = 47;

/// The seed Redis passes for HyperLogLog elements.
pub const HLL_SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A of `data`. Redis takes the length as a C `int` and the
/// seed as an `unsigned int`; both widen to 64 bits the same way here.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    // `len * m` is computed on the length converted to 64 bits, as C does
    // when an int meets a uint64_t.
    let len = data.len() as i32 as i64 as u64;
    let mut h = seed ^ len.wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let mut k = u64::from_le_bytes(word);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_depends_only_on_the_seed() {
        let mut h = HLL_SEED;
        h ^= h >> R;
        h = h.wrapping_mul(M);
        h ^= h >> R;
        assert_eq!(murmur64a(b"", HLL_SEED), h);
    }

    #[test]
    fn every_tail_length_is_hashed() {
        let data = b"abcdefghijklmnop";
        let hashes: Vec<u64> = (0..=16).map(|n| murmur64a(&data[..n], HLL_SEED)).collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
