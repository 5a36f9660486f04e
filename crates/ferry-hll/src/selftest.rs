//! PFSELFTEST's checks, quick enough to run inside a command: the register
//! packing, sparse and dense updates agreeing, and the estimate's error.

use crate::{dense, Encoding, Hll, DENSE_LEN, REGISTERS};

/// Runs the checks; the error names the first one that failed.
pub fn self_test() -> Result<(), String> {
    let mut buf = vec![0u8; DENSE_LEN + 1];
    for (i, v) in (0..REGISTERS).map(|i| (i, (i * 7 % 64) as u8)) {
        dense::set(&mut buf, i, v);
    }
    for i in 0..REGISTERS {
        let want = (i * 7 % 64) as u8;
        if dense::get(&buf, i) != want {
            return Err(format!("TESTFAILED Register error at index {i}"));
        }
    }

    let mut sparse = Hll::new();
    let mut dense = Hll::new();
    dense
        .to_dense()
        .map_err(|_| "TESTFAILED conversion".to_string())?;
    let mut checkpoint = 1u32;
    for j in 1..=20_000u32 {
        let e = j.to_le_bytes();
        let a = sparse
            .add(&e, usize::MAX)
            .map_err(|_| "TESTFAILED sparse add")?;
        let b = dense
            .add(&e, usize::MAX)
            .map_err(|_| "TESTFAILED dense add")?;
        if a != b {
            return Err(format!("TESTFAILED sparse and dense differ at {j}"));
        }
        if j == checkpoint {
            checkpoint *= 10;
            let n = dense.count().map_err(|_| "TESTFAILED count")?;
            let s = sparse.count().map_err(|_| "TESTFAILED count")?;
            if n != s {
                return Err(format!("TESTFAILED sparse and dense counts differ at {j}"));
            }
            // Five times the standard error (1.04 / sqrt(m)), as Redis allows.
            let tolerance = (5.0 * 1.04 / (REGISTERS as f64).sqrt() * j as f64).max(1.0);
            if (n as f64 - j as f64).abs() > tolerance {
                return Err(format!(
                    "TESTFAILED too big error. card:{n} abserr:{tolerance}"
                ));
            }
        }
    }
    if sparse.encoding() != Encoding::Sparse {
        return Err("TESTFAILED sparse value was promoted".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes() {
        assert_eq!(super::self_test(), Ok(()));
    }
}
