//! The cardinality estimator of Redis 5.0 and later: Otmar Ertl's improved
//! raw estimator ("New cardinality estimation algorithms for HyperLogLog
//! sketches", arXiv:1702.01284), computed from the register histogram.

use crate::{Q, REGISTERS};

/// 0.5 / ln(2), the bias correction for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        // Redis writes pow(1 - x, 2); compilers turn that into this product.
        let d = 1.0 - x;
        z -= d * d * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// C's `llroundl` on x86-64 as Redis calls it: half away from zero, and the
/// "integer indefinite" value for what does not fit (an infinite estimate
/// when every register is at its maximum), then read as unsigned.
fn llround(v: f64) -> u64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    let r = v.round();
    if (-LIMIT..LIMIT).contains(&r) {
        r as i64 as u64
    } else {
        1 << 63
    }
}

/// The estimated cardinality for a histogram of register values
/// (`hist[v]` = how many registers hold `v`).
pub(crate) fn cardinality(hist: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += hist[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    llround(ALPHA_INF * m * m / z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_is_zero() {
        let mut hist = [0u32; 64];
        hist[0] = REGISTERS as u32;
        assert_eq!(cardinality(&hist), 0);
    }

    #[test]
    fn one_register_set_is_one() {
        let mut hist = [0u32; 64];
        hist[0] = REGISTERS as u32 - 1;
        hist[1] = 1;
        assert_eq!(cardinality(&hist), 1);
    }

    #[test]
    fn saturated_registers_give_the_indefinite_integer() {
        let mut hist = [0u32; 64];
        hist[Q + 1] = REGISTERS as u32;
        assert_eq!(cardinality(&hist), 1 << 63);
    }
}
