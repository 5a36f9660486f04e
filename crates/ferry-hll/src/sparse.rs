//! The sparse encoding: run-length opcodes after the header.
//!
//! - ZERO `00xxxxxx`: 1 to 64 registers at 0;
//! - XZERO `01xxxxxx yyyyyyyy`: 1 to 16384 registers at 0 (14-bit length);
//! - VAL `1vvvvvxx`: 1 to 4 registers at value 1 to 32.
//!
//! Every length and value is stored minus one. The updater follows Redis's
//! `hllSparseSet` step by step (split the opcode covering the register,
//! then merge equal neighbouring VALs) so the bytes come out identical.

use crate::{dense, Corrupt, Hll, Registers, DENSE, DENSE_LEN, ENCODING_AT, HEADER_LEN};
use crate::{REGISTERS, SPARSE_VAL_MAX_VALUE};
use std::fmt::Write as _;

const ZERO_MAX_LEN: usize = 64;
const VAL_MAX_LEN: usize = 4;

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}

fn is_xzero(op: u8) -> bool {
    op & 0xc0 == 0x40
}

fn is_val(op: u8) -> bool {
    op & 0x80 != 0
}

fn zero_len(op: u8) -> usize {
    (op & 0x3f) as usize + 1
}

fn xzero_len(op: u8, next: u8) -> usize {
    ((((op & 0x3f) as usize) << 8) | next as usize) + 1
}

fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}

fn val_len(op: u8) -> usize {
    (op & 0x3) as usize + 1
}

fn val(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len as u8 - 1)) | 0x80
}

fn zero(len: usize) -> u8 {
    (len - 1) as u8
}

/// An XZERO opcode for `len` (1 to 16384) registers.
pub(crate) fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [((l >> 8) as u8) | 0x40, (l & 0xff) as u8]
}

/// A ZERO or XZERO opcode, whichever Redis picks for a run of `len`.
fn zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        out.extend_from_slice(&xzero(len));
    } else {
        out.push(zero(len));
    }
}

/// One decoded opcode.
enum Op {
    Zeros(usize),
    Val(u8, usize),
}

impl Hll {
    fn byte(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    /// The opcode at `p` and its size in bytes. An XZERO in the last byte
    /// takes its second byte from the terminator, as in Redis.
    fn op_at(&self, p: usize) -> (Op, usize) {
        let op = self.buf[p];
        if is_zero(op) {
            (Op::Zeros(zero_len(op)), 1)
        } else if is_xzero(op) {
            (Op::Zeros(xzero_len(op, self.byte(p + 1))), 2)
        } else {
            (Op::Val(val_value(op), val_len(op)), 1)
        }
    }

    /// Makes sure bytes up to `end` (exclusive) exist in the buffer.
    fn reserve_to(&mut self, end: usize) {
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
    }

    /// C's memmove within the value's memory.
    fn memmove(&mut self, dst: usize, src: usize, n: usize) {
        self.reserve_to(dst.max(src) + n);
        self.buf.copy_within(src..src + n, dst);
    }

    /// Redis's sdsIncrLen: the new length, and a terminator after it.
    fn incr_len(&mut self, delta: isize) {
        self.len = self.len.saturating_add_signed(delta);
        self.reserve_to(self.len + 1);
        self.buf[self.len] = 0;
    }

    pub(crate) fn sparse_raise(
        &mut self,
        index: usize,
        count: u8,
        max_bytes: usize,
    ) -> Result<bool, Corrupt> {
        if count > SPARSE_VAL_MAX_VALUE {
            return self.promote(index, count);
        }

        // Step 1: find the opcode covering `index`.
        let mut end = self.len;
        let mut p = HEADER_LEN;
        let mut first = 0usize;
        let mut prev: Option<usize> = None;
        let mut span = 0usize;
        while p < end {
            let oplen;
            (span, oplen) = match self.op_at(p) {
                (Op::Zeros(n), size) => (n, size),
                (Op::Val(_, n), size) => (n, size),
            };
            if index < first + span {
                break;
            }
            prev = Some(p);
            p += oplen;
            first += span;
        }
        if span == 0 || p >= end {
            return Err(Corrupt);
        }
        let op = self.buf[p];
        let next = if is_xzero(op) { p + 2 } else { p + 1 };
        let next = (next < end).then_some(next);

        // Step 2: a VAL already as high needs nothing; a single-register
        // VAL or ZERO is rewritten in place; anything else is split.
        let runlen = span;
        if is_val(op) {
            if val_value(op) >= count {
                return Ok(false);
            }
            if runlen == 1 {
                self.buf[p] = val(count, 1);
                return Ok(self.merge_vals(prev, end));
            }
        }
        if is_zero(op) && runlen == 1 {
            self.buf[p] = val(count, 1);
            return Ok(self.merge_vals(prev, end));
        }

        let last = first + span - 1;
        let mut seq = Vec::with_capacity(5);
        if is_val(op) {
            let current = val_value(op);
            if index != first {
                seq.push(val(current, index - first));
            }
            seq.push(val(count, 1));
            if index != last {
                seq.push(val(current, last - index));
            }
        } else {
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        }

        // Step 3: put the new sequence in place of the old opcode, unless
        // the value would grow past the configured size.
        let oldlen: isize = if is_xzero(op) { 2 } else { 1 };
        let delta = seq.len() as isize - oldlen;
        if delta > 0 && self.len + delta as usize > max_bytes {
            return self.promote(index, count);
        }
        if delta != 0 {
            if let Some(next) = next {
                self.memmove(next.saturating_add_signed(delta), next, end - next);
            }
        }
        self.incr_len(delta);
        self.reserve_to(p + seq.len());
        self.buf[p..p + seq.len()].copy_from_slice(&seq);
        end = end.saturating_add_signed(delta);
        Ok(self.merge_vals(prev, end))
    }

    /// Step 4 of an update: merges adjacent VALs of equal value, scanning
    /// at most five opcodes from the one before the change; then marks the
    /// cached cardinality stale. Always true (a register changed).
    fn merge_vals(&mut self, prev: Option<usize>, mut end: usize) -> bool {
        let mut p = prev.unwrap_or(HEADER_LEN);
        let mut scan = 5;
        while p < end && scan > 0 {
            scan -= 1;
            let op = self.buf[p];
            if is_xzero(op) {
                p += 2;
                continue;
            }
            if is_zero(op) {
                p += 1;
                continue;
            }
            if p + 1 < end && is_val(self.buf[p + 1]) {
                let v1 = val_value(op);
                let v2 = val_value(self.buf[p + 1]);
                if v1 == v2 {
                    let len = val_len(op) + val_len(self.buf[p + 1]);
                    if len <= VAL_MAX_LEN {
                        self.buf[p + 1] = val(v1, len);
                        self.memmove(p, p + 1, end - p);
                        self.incr_len(-1);
                        end -= 1;
                        continue;
                    }
                }
            }
            p += 1;
        }
        self.invalidate_cache();
        true
    }

    /// Converts to dense, then raises the register there.
    fn promote(&mut self, index: usize, count: u8) -> Result<bool, Corrupt> {
        self.sparse_to_dense()?;
        dense::raise(&mut self.buf, index, count);
        Ok(true)
    }

    /// Rewrites the value dense: same header (the cached cardinality
    /// included), encoding byte 0. Fails unless the opcodes cover exactly
    /// 16384 registers.
    pub(crate) fn sparse_to_dense(&mut self) -> Result<(), Corrupt> {
        let mut out = vec![0u8; DENSE_LEN + 1];
        out[..HEADER_LEN].copy_from_slice(&self.buf[..HEADER_LEN]);
        out[ENCODING_AT] = DENSE;
        let mut idx = 0usize;
        let mut p = HEADER_LEN;
        while p < self.len {
            let (op, size) = self.op_at(p);
            match op {
                Op::Zeros(n) => idx += n,
                Op::Val(v, n) => {
                    if idx + n > REGISTERS {
                        return Err(Corrupt);
                    }
                    for i in idx..idx + n {
                        dense::set(&mut out, i, v);
                    }
                    idx += n;
                }
            }
            p += size;
        }
        if idx != REGISTERS {
            return Err(Corrupt);
        }
        self.buf = out;
        self.len = DENSE_LEN;
        Ok(())
    }

    /// PFCOUNT's register histogram: every run counts, so any total other
    /// than 16384 registers is corrupt.
    pub(crate) fn sparse_histogram(&self, hist: &mut [u32; 64]) -> Result<(), Corrupt> {
        let mut idx = 0usize;
        let mut p = HEADER_LEN;
        while p < self.len {
            let (op, size) = self.op_at(p);
            match op {
                Op::Zeros(n) => {
                    hist[0] = hist[0].saturating_add(n as u32);
                    idx += n;
                }
                Op::Val(v, n) => {
                    hist[v as usize] = hist[v as usize].saturating_add(n as u32);
                    idx += n;
                }
            }
            p += size;
        }
        if idx == REGISTERS {
            Ok(())
        } else {
            Err(Corrupt)
        }
    }

    /// Register-wise max into `max`, decoded as [`Hll::sparse_to_dense`] does.
    pub(crate) fn sparse_merge_into(&self, max: &mut Registers) -> Result<(), Corrupt> {
        let mut idx = 0usize;
        let mut p = HEADER_LEN;
        while p < self.len {
            let (op, size) = self.op_at(p);
            match op {
                Op::Zeros(n) => idx += n,
                Op::Val(v, n) => {
                    if idx + n > REGISTERS {
                        return Err(Corrupt);
                    }
                    for m in &mut max[idx..idx + n] {
                        *m = (*m).max(v);
                    }
                    idx += n;
                }
            }
            p += size;
        }
        if idx == REGISTERS {
            Ok(())
        } else {
            Err(Corrupt)
        }
    }

    /// PFDEBUG DECODE's text (`Z:1000 v:2,1 z:19 ...`); None when dense.
    pub fn decode(&self) -> Option<String> {
        if self.encoding() != crate::Encoding::Sparse {
            return None;
        }
        let mut out = String::new();
        let mut p = HEADER_LEN;
        while p < self.len {
            let op = self.buf[p];
            let (_, size) = self.op_at(p);
            // Writing to a String cannot fail.
            let _ = if is_zero(op) {
                write!(out, "z:{} ", zero_len(op))
            } else if is_xzero(op) {
                write!(out, "Z:{} ", xzero_len(op, self.byte(p + 1)))
            } else {
                write!(out, "v:{},{} ", val_value(op), val_len(op))
            };
            p += size;
        }
        Some(out.trim_matches(' ').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse_from_ops(ops: &[u8]) -> Hll {
        let mut bytes = Hll::new().into_bytes();
        bytes.truncate(HEADER_LEN);
        bytes.extend_from_slice(ops);
        Hll::from_bytes(bytes).unwrap()
    }

    #[test]
    fn redis_doc_example() {
        // XZERO:1000 VAL:2,1 ZERO:19 VAL:3,2 XZERO:15362
        let mut h = Hll::new();
        h.raise(1000, 2, 3000).unwrap();
        h.raise(1020, 3, 3000).unwrap();
        h.raise(1021, 3, 3000).unwrap();
        assert_eq!(h.decode().unwrap(), "Z:1000 v:2,1 z:19 v:3,2 Z:15362");
        let mut ops = Vec::new();
        ops.extend_from_slice(&xzero(1000));
        ops.push(val(2, 1));
        ops.push(zero(19));
        ops.push(val(3, 2));
        ops.extend_from_slice(&xzero(15362));
        assert_eq!(&h.as_bytes()[HEADER_LEN..], &ops[..]);
    }

    #[test]
    fn raising_a_val_run_splits_and_merges() {
        let mut h = sparse_from_ops(&[val(1, 4), 0x7f, 0xfb]); // 4 + 16380
        assert_eq!(h.raise(1, 1, 3000), Ok(false));
        assert_eq!(h.raise(1, 2, 3000), Ok(true));
        assert_eq!(h.decode().unwrap(), "v:1,1 v:2,1 v:1,2 Z:16380");
        assert_eq!(h.raise(0, 2, 3000), Ok(true));
        assert_eq!(h.decode().unwrap(), "v:2,2 v:1,2 Z:16380");
    }

    #[test]
    fn corrupt_values_are_detected() {
        // Runs short of 16384 registers.
        let h = sparse_from_ops(&xzero(100));
        assert_eq!(h.count(), Err(Corrupt));
        assert_eq!(h.clone().to_dense(), Err(Corrupt));
        assert_eq!(h.clone().raise(5000, 1, 3000), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(h.merge_into(&mut max), Err(Corrupt));
        // A VAL after a full set of runs.
        let mut ops = xzero(REGISTERS).to_vec();
        ops.push(val(3, 1));
        let h = sparse_from_ops(&ops);
        assert_eq!(h.count(), Err(Corrupt));
        assert_eq!(h.merge_into(&mut max), Err(Corrupt));
        assert_eq!(h.clone().to_dense(), Err(Corrupt));
    }

    #[test]
    fn truncated_xzero_reads_the_terminator() {
        // The last XZERO lost its second byte: it reads the terminator.
        let mut ops = xzero(16128).to_vec();
        ops.push(0x40);
        let h = sparse_from_ops(&ops);
        assert_eq!(h.decode().unwrap(), "Z:16128 Z:1");
        assert_eq!(h.count(), Err(Corrupt));
    }
}
