//! Argument parsing with Redis's error replies.

use super::{err, CmdError};

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An i64 as Redis's `string2ll` reads it (no spaces, no `+`, no leading zeros).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    ferry_store::parse_canonical_i64(arg).ok_or_else(|| err(NOT_INTEGER))
}

/// Like [`parse_i64`] but with a custom error text.
pub fn parse_i64_or(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    ferry_store::parse_canonical_i64(arg).ok_or_else(|| err(msg))
}

/// A double as Redis's `string2ld`/`strtold` reads it: no spaces, finite
/// or `inf`; NaN refused.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CmdError> {
    parse_float_text(arg).ok_or_else(|| err(NOT_FLOAT))
}

pub fn parse_float_text(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts a few spellings strtold does not ("nan" is
            // handled below; "1_0" is refused by both).
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// A database index for SELECT, MOVE, COPY DB, SWAPDB.
pub fn parse_db(arg: &[u8], out_of_range: &'static str) -> Result<usize, CmdError> {
    let n = parse_i64_or(arg, NOT_INTEGER)?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n < ferry_store::DATABASES)
        .ok_or_else(|| err(out_of_range))
}
