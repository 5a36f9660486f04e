//! Redis 7.0's HyperLogLog, byte-compatible: an HLL is a plain string whose
//! bytes ferry must produce exactly as redis-server does, so that GET, DUMP
//! and a migration see the same value on both.
//!
//! Layout (all little-endian): a 16-byte header — `HYLL`, the encoding byte
//! (0 dense, 1 sparse), three unused bytes, the cached cardinality whose top
//! bit marks it stale — then the registers, dense (16384 six-bit registers)
//! or sparse (run-length opcodes, see [`sparse`]).
//!
//! No I/O and no store: callers hand bytes in and take bytes out.

mod dense;
mod estimate;
mod murmur;
mod selftest;
mod sparse;

pub use murmur::{murmur64a, HLL_SEED};
pub use selftest::self_test;

/// Register index bits.
pub const P: usize = 14;
/// Hash bits left for the run of zeros.
pub const Q: usize = 64 - P;
pub const REGISTERS: usize = 1 << P;
pub const HEADER_LEN: usize = 16;
/// Size of a dense value: header plus 16384 six-bit registers.
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * 6).div_ceil(8);
/// The largest register value the sparse encoding can hold.
pub const SPARSE_VAL_MAX_VALUE: u8 = 32;
/// `hll-sparse-max-bytes`' default.
pub const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

/// Redis's reply to a string that is not an HLL.
pub const NOT_HLL_ERR: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Redis's reply to an HLL whose registers cannot be decoded.
pub const CORRUPT_ERR: &str = "INVALIDOBJ Corrupted HLL object detected";

const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The string is not an HLL (bad size, magic or encoding byte).
#[derive(Debug, PartialEq, Eq)]
pub struct NotHll;

/// The registers cannot be decoded (a sparse run past the last register...).
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

/// An HLL value being read or changed.
///
/// The buffer models the memory Redis works on: the value's bytes, then the
/// NUL terminator every Redis string has, which Redis's decoders read (the
/// second byte of an XZERO opcode at the very end, the dense register after
/// the last) and its sparse updater can even overwrite. Keeping that byte
/// makes corrupted values decode and update exactly as in Redis.
#[derive(Clone, Debug)]
pub struct Hll {
    buf: Vec<u8>,
    len: usize,
}

/// The max of several HLLs' registers, one byte per register (what PFCOUNT
/// of several keys and PFMERGE accumulate).
pub type Registers = [u8; REGISTERS];

impl Hll {
    /// An empty HLL as PFADD creates it: sparse, one XZERO opcode covering
    /// every register, cached cardinality 0.
    pub fn new() -> Hll {
        let mut bytes = Vec::with_capacity(HEADER_LEN + 2);
        bytes.extend_from_slice(MAGIC);
        bytes.push(SPARSE);
        bytes.resize(HEADER_LEN, 0);
        bytes.extend_from_slice(&sparse::xzero(REGISTERS));
        Hll::wrap(bytes)
    }

    /// A string as an HLL, with the checks Redis makes before any HLL
    /// command touches it (size, magic, encoding; a dense value's exact size).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Hll, NotHll> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return Err(NotHll);
        }
        match bytes[ENCODING_AT] {
            SPARSE => {}
            DENSE if bytes.len() == DENSE_LEN => {}
            _ => return Err(NotHll),
        }
        Ok(Hll::wrap(bytes))
    }

    fn wrap(mut bytes: Vec<u8>) -> Hll {
        let len = bytes.len();
        bytes.push(0);
        Hll { buf: bytes, len }
    }

    pub fn encoding(&self) -> Encoding {
        if self.buf[ENCODING_AT] == DENSE {
            Encoding::Dense
        } else {
            Encoding::Sparse
        }
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }

    /// The cached cardinality, unless a change since marked it stale.
    pub fn cached_cardinality(&self) -> Option<u64> {
        let card = self.card_bytes();
        (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
    }

    fn card_bytes(&self) -> [u8; 8] {
        let mut card = [0u8; 8];
        card.copy_from_slice(&self.buf[CARD_AT..CARD_AT + 8]);
        card
    }

    pub fn set_cached_cardinality(&mut self, card: u64) {
        self.buf[CARD_AT..CARD_AT + 8].copy_from_slice(&card.to_le_bytes());
    }

    pub fn invalidate_cache(&mut self) {
        self.buf[CARD_AT + 7] |= 0x80;
    }

    /// Adds an element; true when a register grew. A sparse value is made
    /// dense when a register needs more than [`SPARSE_VAL_MAX_VALUE`] or the
    /// value would pass `sparse_max_bytes`. On `Err` the elements added
    /// before stay added, as in Redis.
    pub fn add(&mut self, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupt> {
        let (index, count) = pattern(element);
        self.raise(index, count, sparse_max_bytes)
    }

    /// Raises register `index` to `count` if lower; true when it changed.
    pub fn raise(
        &mut self,
        index: usize,
        count: u8,
        sparse_max_bytes: usize,
    ) -> Result<bool, Corrupt> {
        match self.encoding() {
            Encoding::Dense => Ok(dense::raise(&mut self.buf, index, count)),
            Encoding::Sparse => self.sparse_raise(index, count, sparse_max_bytes),
        }
    }

    /// The estimated cardinality from the registers (the cache is neither
    /// read nor written).
    pub fn count(&self) -> Result<u64, Corrupt> {
        let mut hist = [0u32; 64];
        match self.encoding() {
            Encoding::Dense => dense::histogram(&self.buf, &mut hist),
            Encoding::Sparse => self.sparse_histogram(&mut hist)?,
        }
        Ok(estimate::cardinality(&hist))
    }

    /// Folds this HLL into `max` (register-wise maximum).
    pub fn merge_into(&self, max: &mut Registers) -> Result<(), Corrupt> {
        match self.encoding() {
            Encoding::Dense => {
                for (i, m) in max.iter_mut().enumerate() {
                    *m = (*m).max(dense::get(&self.buf, i));
                }
                Ok(())
            }
            Encoding::Sparse => self.sparse_merge_into(max),
        }
    }

    /// Converts a sparse value to dense; false when it already was.
    pub fn to_dense(&mut self) -> Result<bool, Corrupt> {
        if self.encoding() == Encoding::Dense {
            return Ok(false);
        }
        self.sparse_to_dense()?;
        Ok(true)
    }

    /// Every register of a dense value (None when sparse).
    pub fn dense_registers(&self) -> Option<Vec<u8>> {
        (self.encoding() == Encoding::Dense)
            .then(|| (0..REGISTERS).map(|i| dense::get(&self.buf, i)).collect())
    }
}

impl Default for Hll {
    fn default() -> Self {
        Hll::new()
    }
}

/// The estimated cardinality of merged registers (PFCOUNT of several keys).
pub fn count_registers(max: &Registers) -> u64 {
    let mut hist = [0u32; 64];
    for r in max {
        hist[(*r & 63) as usize] += 1;
    }
    estimate::cardinality(&hist)
}

/// The register an element lands in and the length of its `0...01` run
/// (1 to Q + 1), from its MurmurHash64A.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HLL_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The top bit guard keeps the count within Q + 1 as in Redis.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_is_the_redis_empty_sparse_value() {
        let h = Hll::new();
        assert_eq!(
            h.as_bytes(),
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
        );
        assert_eq!(h.cached_cardinality(), Some(0));
        assert_eq!(h.count(), Ok(0));
    }

    #[test]
    fn validation() {
        assert_eq!(Hll::from_bytes(b"HYLL".to_vec()).err(), Some(NotHll));
        assert_eq!(Hll::from_bytes(vec![0; 20]).err(), Some(NotHll));
        let mut bad_encoding = Hll::new().into_bytes();
        bad_encoding[4] = 2;
        assert_eq!(Hll::from_bytes(bad_encoding).err(), Some(NotHll));
        let mut short_dense = Hll::new();
        short_dense.to_dense().unwrap();
        let mut bytes = short_dense.into_bytes();
        assert_eq!(bytes.len(), DENSE_LEN);
        assert!(Hll::from_bytes(bytes.clone()).is_ok());
        bytes.pop();
        assert_eq!(Hll::from_bytes(bytes).err(), Some(NotHll));
        // A sparse header alone is an HLL; its registers are not valid.
        let header = Hll::new().as_bytes()[..HEADER_LEN].to_vec();
        let h = Hll::from_bytes(header).unwrap();
        assert_eq!(h.count(), Err(Corrupt));
    }

    #[test]
    fn cache_flag_is_the_top_bit() {
        let mut h = Hll::new();
        h.set_cached_cardinality(1234);
        assert_eq!(h.cached_cardinality(), Some(1234));
        h.invalidate_cache();
        assert_eq!(h.cached_cardinality(), None);
        assert_eq!(h.as_bytes()[15], 0x80);
        assert_eq!(&h.as_bytes()[8..10], &[0xd2, 0x04]);
    }

    #[test]
    fn pattern_is_in_range() {
        for i in 0..10_000u32 {
            let (index, count) = pattern(&i.to_le_bytes());
            assert!(index < REGISTERS);
            assert!((1..=Q as u8 + 1).contains(&count));
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = Hll::new();
        let mut dense = Hll::new();
        dense.to_dense().unwrap();
        for i in 0..2000u32 {
            let e = format!("e{i}");
            let a = sparse.add(e.as_bytes(), usize::MAX).unwrap();
            let b = dense.add(e.as_bytes(), usize::MAX).unwrap();
            assert_eq!(a, b, "element {i}");
        }
        let mut promoted = sparse.clone();
        promoted.to_dense().unwrap();
        assert_eq!(promoted.dense_registers(), dense.dense_registers());
        assert_eq!(sparse.count(), dense.count());
        let n = dense.count().unwrap() as f64;
        assert!((n - 2000.0).abs() < 2000.0 * 0.05, "{n}");
    }

    #[test]
    fn promotion_by_size() {
        let mut h = Hll::new();
        let mut i = 0u32;
        while h.encoding() == Encoding::Sparse {
            h.add(format!("x{i}").as_bytes(), 200).unwrap();
            assert!(h.encoding() == Encoding::Dense || h.as_bytes().len() <= 200);
            i += 1;
            assert!(i < 10_000);
        }
        assert_eq!(h.as_bytes().len(), DENSE_LEN);
        assert_eq!(h.cached_cardinality(), None);
    }

    #[test]
    fn merge_is_the_register_max() {
        let mut a = Hll::new();
        let mut b = Hll::new();
        b.to_dense().unwrap();
        let mut both = Hll::new();
        for i in 0..500u32 {
            a.add(format!("a{i}").as_bytes(), 3000).unwrap();
            b.add(format!("b{i}").as_bytes(), 3000).unwrap();
            both.add(format!("a{i}").as_bytes(), usize::MAX).unwrap();
            both.add(format!("b{i}").as_bytes(), usize::MAX).unwrap();
        }
        let mut max = [0u8; REGISTERS];
        a.merge_into(&mut max).unwrap();
        b.merge_into(&mut max).unwrap();
        assert_eq!(count_registers(&max), both.count().unwrap());
        both.to_dense().unwrap();
        assert_eq!(both.dense_registers().unwrap(), max.to_vec());
    }
}

#[cfg(test)]
mod redis_vectors {
    use super::*;

    /// `PFADD h a b c` then `PFDEBUG DECODE h` on redis-server 7.0.15.
    #[test]
    fn three_elements_decode_as_redis() {
        let mut h = Hll::new();
        for e in [&b"a"[..], b"b", b"c"] {
            assert_eq!(h.add(e, DEFAULT_SPARSE_MAX_BYTES), Ok(true));
        }
        assert_eq!(
            h.decode().unwrap(),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
        assert_eq!(h.count(), Ok(3));
    }

    /// An element whose run is longer than the sparse encoding can hold.
    #[test]
    fn long_run_promotes() {
        assert_eq!(pattern(b"e2119568080"), (12049, 35));
        let mut h = Hll::new();
        assert_eq!(h.add(b"e2119568080", DEFAULT_SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(h.encoding(), Encoding::Dense);
        assert_eq!(h.dense_registers().unwrap()[12049], 35);
    }
}
