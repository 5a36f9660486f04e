//! Safe wrapper over the C shim that adds decimal strings in `long double`
//! exactly as Redis's INCRBYFLOAT does (see `csrc/longdouble.c` for why).

use std::os::raw::{c_char, c_int};

extern "C" {
    fn ferry_ld_add(
        a: *const c_char,
        alen: usize,
        b: *const c_char,
        blen: usize,
        out: *mut c_char,
        out_cap: usize,
        out_len: *mut usize,
    ) -> c_int;
}

/// Why an addition failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// The current value is not a float.
    BadValue,
    /// The increment is not a float.
    BadIncrement,
    /// The sum is NaN or infinite.
    NotFinite,
}

/// `a + b` as Redis computes and prints it.
pub fn add(a: &[u8], b: &[u8]) -> Result<Vec<u8>, AddError> {
    let mut out = vec![0u8; 5200];
    let mut len = 0usize;
    // SAFETY: pointers and lengths describe live buffers; the C side reads
    // at most alen/blen bytes and writes at most out_cap bytes.
    let rc = unsafe {
        ferry_ld_add(
            a.as_ptr().cast(),
            a.len(),
            b.as_ptr().cast(),
            b.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut len,
        )
    };
    match rc {
        0 => {
            out.truncate(len);
            Ok(out)
        }
        1 => Err(AddError::BadValue),
        2 => Err(AddError::BadIncrement),
        _ => Err(AddError::NotFinite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_examples() {
        assert_eq!(add(b"10.50", b"0.1").unwrap(), b"10.6");
        assert_eq!(add(b"5.0e3", b"2.0e2").unwrap(), b"5200");
        assert_eq!(add(b"0", b"-0").unwrap(), b"0");
        assert_eq!(add(b"abc", b"1"), Err(AddError::BadValue));
        assert_eq!(add(b"1", b" 1"), Err(AddError::BadIncrement));
        assert_eq!(add(b"1", b"inf"), Err(AddError::NotFinite));
    }
}
