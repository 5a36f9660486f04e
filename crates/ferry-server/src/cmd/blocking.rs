//! Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
//!
//! Each tries its non-blocking form first; when every key is empty it asks
//! the executor to park the client (see `Ctx::block`), and the executor
//! retries it when one of the keys is created, first come first served.

use super::args::parse_i64;
use super::lists::{lmpop, notify_moved, notify_popped, parse_end};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::lists::ListEnd;
use ferry_store::KeyType;
use std::time::Duration;

const FLAGS: &[&str] = &["write", "noscript", "blocking"];
const ACL: &[&str] = &["@write", "@list", "@slow", "@blocking"];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("blpop", -3, FLAGS, (1, -2, 1), ACL, blpop),
    cmd("brpop", -3, FLAGS, (1, -2, 1), ACL, brpop),
    cmd(
        "blmove",
        6,
        &["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        ACL,
        blmove,
    ),
    cmd(
        "brpoplpush",
        4,
        &["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        ACL,
        brpoplpush,
    ),
    cmd(
        "blmpop",
        -5,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        ACL,
        blmpop,
    ),
];

/// A blocking timeout in seconds, as Redis 7.0 reads it: `strtold` syntax
/// (decimal, hex, `inf`) in a C `long double`, times 1000, rounded up to
/// whole milliseconds and cast to a signed 64-bit integer. Only a result of
/// 0 waits forever: `-0.0009` does (it rounds up to 0), `1e-400` waits 1 ms
/// (too small for an f64, not for a long double), and a cast out of range
/// (`inf`, `1e16`) is refused as negative.
pub(crate) fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    match timeout_ms(arg) {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(TimeoutError::NotFloat) => Err(err("ERR timeout is not a float or out of range")),
        Err(TimeoutError::Negative) => Err(err("ERR timeout is negative")),
    }
}

enum TimeoutError {
    NotFloat,
    Negative,
}

/// A nonzero decimal magnitude: 0.`digits` x 10^`exp10`, `digits` ASCII
/// without leading or trailing zeros. Ordered by value.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Magnitude<'a> {
    exp10: i64,
    digits: &'a [u8],
}

const fn magnitude(exp10: i64, digits: &'static [u8]) -> Magnitude<'static> {
    Magnitude { exp10, digits }
}

/// Half the smallest long double (2^-16446, first 60 digits): strtold
/// rounds anything up to it to 0 and Redis refuses it.
const LD_UNDERFLOW: Magnitude = magnitude(
    -4950,
    b"182259976594123730126420296680970990819952540784678167186049",
);
/// Halfway from the largest long double to 2^16384 (first 60 digits):
/// from there strtold overflows and Redis refuses it.
const LD_OVERFLOW: Magnitude = magnitude(
    4933,
    b"118973149535723176505351158982948866796625400469556721895650",
);
/// The exact decimal below which a negative timeout, in long double
/// arithmetic, is above -1 ms once multiplied by 1000: it rounds up to 0
/// (wait forever). `-0.001` is below it, as in Redis.
const ROUNDS_TO_ZERO: Magnitude = magnitude(
    -2,
    b"100000000000000000001143494478793305457742235375917516648769378662109375",
);
/// The exact decimal above which a timeout, in long double arithmetic,
/// exceeds i64::MAX milliseconds (the cast gives i64::MIN: "negative").
const MS_OVERFLOW: Magnitude = magnitude(16, b"922337203685477580712890625");

/// The timeout in milliseconds (0: forever), or why it is refused.
fn timeout_ms(arg: &[u8]) -> Result<u64, TimeoutError> {
    use TimeoutError::{Negative, NotFloat};
    // string2ld: Redis's buffer holds 5119 characters, no leading space.
    if arg.is_empty() || arg.len() >= 5 * 1024 || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return Err(NotFloat);
    }
    let (neg, body) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Err(Negative);
    }
    if body.len() > 2 && body[0] == b'0' && matches!(body[1], b'x' | b'X') {
        return hex_timeout_ms(neg, &body[2..]);
    }
    // [digits][.digits] with at least one digit, then [eE][+-]digits.
    let int_len = body.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut rest = &body[int_len..];
    let mut frac: &[u8] = &[];
    if let Some(after) = rest.strip_prefix(b".") {
        let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
        frac = &after[..n];
        rest = &after[n..];
    }
    if int_len + frac.len() == 0 {
        return Err(NotFloat);
    }
    let mut exp: i64 = 0;
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let (eneg, edigits) = match after.first() {
            Some(b'-') => (true, &after[1..]),
            Some(b'+') => (false, &after[1..]),
            _ => (false, after),
        };
        if edigits.is_empty() || !edigits.iter().all(|b| b.is_ascii_digit()) {
            return Err(NotFloat);
        }
        for d in edigits {
            // Past this any nonzero value over- or underflows anyway.
            exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if eneg {
            exp = -exp;
        }
    } else if !rest.is_empty() {
        return Err(NotFloat);
    }
    // The significant digits, and where the decimal point falls in them.
    let mut digits = Vec::with_capacity(int_len + frac.len());
    digits.extend_from_slice(&body[..int_len]);
    digits.extend_from_slice(frac);
    let lead = digits.iter().take_while(|d| **d == b'0').count();
    let end = digits
        .iter()
        .rposition(|d| *d != b'0')
        .map_or(lead, |i| i + 1);
    let sig = &digits[lead..end];
    if sig.is_empty() {
        return Ok(0);
    }
    let v = Magnitude {
        exp10: int_len as i64 - lead as i64 + exp,
        digits: sig,
    };
    if v <= LD_UNDERFLOW || v >= LD_OVERFLOW {
        return Err(NotFloat);
    }
    if neg {
        return if v < ROUNDS_TO_ZERO {
            Ok(0)
        } else {
            Err(Negative)
        };
    }
    if v > MS_OVERFLOW {
        return Err(Negative);
    }
    // ceil(v * 1000): the integer digits, plus one for a fraction.
    let int_digits = v.exp10 + 3;
    if int_digits <= 0 {
        return Ok(1);
    }
    let int_digits = int_digits as usize; // at most 19 under MS_OVERFLOW
    let mut ms: u64 = 0;
    for i in 0..int_digits {
        let d = sig.get(i).map_or(0, |d| u64::from(d - b'0'));
        ms = ms.saturating_mul(10).saturating_add(d);
    }
    if sig.len() > int_digits {
        ms = ms.saturating_add(1);
    }
    Ok(ms.min(i64::MAX as u64))
}

/// A hex float (`0x1.8p-3`, after the `0x`): exact ranges, f64 arithmetic.
fn hex_timeout_ms(neg: bool, body: &[u8]) -> Result<u64, TimeoutError> {
    use TimeoutError::{Negative, NotFloat};
    let hex = |b: &u8| (*b as char).to_digit(16);
    // Up to 16 significant hex digits in `m`; later ones only scale it.
    let (mut m, mut e2, mut sticky, mut seen) = (0u64, 0i64, false, 0usize);
    let mut add = |d: u32, fractional: bool, m: &mut u64, e2: &mut i64| {
        seen += 1;
        if *m >> 60 == 0 {
            *m = *m << 4 | u64::from(d);
            if fractional {
                *e2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fractional {
                *e2 += 4;
            }
        }
    };
    let mut rest = body;
    while let Some(d) = rest.first().and_then(hex) {
        add(d, false, &mut m, &mut e2);
        rest = &rest[1..];
    }
    if let Some(after) = rest.strip_prefix(b".") {
        rest = after;
        while let Some(d) = rest.first().and_then(hex) {
            add(d, true, &mut m, &mut e2);
            rest = &rest[1..];
        }
    }
    if seen == 0 {
        return Err(NotFloat);
    }
    if let Some(after) = rest.strip_prefix(b"p").or_else(|| rest.strip_prefix(b"P")) {
        let (eneg, edigits) = match after.first() {
            Some(b'-') => (true, &after[1..]),
            Some(b'+') => (false, &after[1..]),
            _ => (false, after),
        };
        if edigits.is_empty() || !edigits.iter().all(|b| b.is_ascii_digit()) {
            return Err(NotFloat);
        }
        let mut p: i64 = 0;
        for d in edigits {
            p = (p * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        e2 += if eneg { -p } else { p };
    } else if !rest.is_empty() {
        return Err(NotFloat);
    }
    if m == 0 {
        return Ok(0);
    }
    // floor(log2(value)); long doubles reach 2^16384 and, rounded, 2^-16446.
    let lg = 63 - i64::from(m.leading_zeros()) + e2;
    if !(-16446..16384).contains(&lg) || (lg == -16446 && m.is_power_of_two() && !sticky) {
        return Err(NotFloat);
    }
    let ms = m as f64 * 2f64.powi(e2.clamp(-2000, 2000) as i32) * 1000.0;
    if neg {
        return if ms < 1.0 { Ok(0) } else { Err(Negative) };
    }
    if ms >= 9_223_372_036_854_775_808.0 {
        return Err(Negative);
    }
    Ok((ms.ceil() as u64).max(1))
}

fn bpop(ctx: &mut Ctx, argv: &[Bytes], end: ListEnd) -> CmdResult {
    let timeout = parse_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    let db = ctx.client.db;
    for key in keys {
        if let Some(info) = ctx.store.list_lookup(db, key)? {
            let mut popped = ctx.store.list_pop(db, key, &info, end, 1)?;
            if let Some(v) = popped.pop() {
                notify_popped(ctx, key, end, info.len <= 1);
                return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::bulk(v)]));
            }
        }
    }
    ctx.block(keys.to_vec(), KeyType::List, timeout, Reply::NullArray)
}

fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, ListEnd::Head)
}

fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, ListEnd::Tail)
}

fn bmove(
    ctx: &mut Ctx,
    src: &Bytes,
    dst: &Bytes,
    from: ListEnd,
    to: ListEnd,
    timeout: Option<Duration>,
) -> CmdResult {
    let db = ctx.client.db;
    match ctx.store.list_move(db, src, dst, from, to)? {
        Some(v) => {
            notify_moved(ctx, src, dst, from, to)?;
            Ok(Reply::bulk(v))
        }
        // Redis 7.0 answers BLMOVE inside MULTI with a null bulk, but a
        // BLMOVE that timed out with a null array.
        None if ctx.client.in_exec => Ok(Reply::Null),
        None => ctx.block(vec![src.clone()], KeyType::List, timeout, Reply::NullArray),
    }
}

fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let timeout = parse_timeout(&argv[5])?;
    bmove(ctx, &argv[1], &argv[2], from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[3])?;
    bmove(
        ctx,
        &argv[1],
        &argv[2],
        ListEnd::Tail,
        ListEnd::Head,
        timeout,
    )
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: LMPOP, or
/// wait when every list is empty.
fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[1])?;
    let inner: Vec<Bytes> = std::iter::once(argv[0].clone())
        .chain(argv[2..].iter().cloned())
        .collect();
    match lmpop(ctx, &inner)? {
        Reply::NullArray => {
            // lmpop validated numkeys and the key list.
            let numkeys = parse_i64(&argv[2]).unwrap_or(0).max(0) as usize;
            let keys = argv[3..3 + numkeys].to_vec();
            ctx.block(keys, KeyType::List, timeout, Reply::NullArray)
        }
        reply => Ok(reply),
    }
}

#[cfg(test)]
mod tests {
    use super::{timeout_ms, TimeoutError};

    fn ms(arg: &str) -> Result<u64, &'static str> {
        timeout_ms(arg.as_bytes()).map_err(|e| match e {
            TimeoutError::NotFloat => "not a float",
            TimeoutError::Negative => "negative",
        })
    }

    /// Values checked against redis-server 7.0.15 on x86-64.
    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("1.5"), Ok(1500));
        assert_eq!(ms("0.0015"), Ok(2));
        assert_eq!(ms("1e-400"), Ok(1));
        assert_eq!(ms("1."), Ok(1000));
        assert_eq!(ms("0x10"), Ok(16000));
        assert_eq!(ms("0x1p-10"), Ok(1));
        assert_eq!(ms("-0.001"), Ok(0));
        assert_eq!(ms("-0x1p-10"), Ok(0));
        assert_eq!(ms("9223372036854775.807"), Ok(9223372036854775807));
        assert_eq!(ms("9223372036854775.80712890625"), Ok(i64::MAX as u64));
        assert_eq!(ms("9223372036854775.80712890626"), Err("negative"));
        assert_eq!(ms("-0.00100000000000000000002"), Err("negative"));
        assert_eq!(ms("inf"), Err("negative"));
        assert_eq!(ms("1e4000"), Err("negative"));
        assert_eq!(ms("1e5000"), Err("not a float"));
        assert_eq!(ms("1.82259976594123730126e-4951"), Err("not a float"));
        assert_eq!(ms("1.82259976594123730127e-4951"), Ok(1));
        assert_eq!(ms("0x1p-16446"), Err("not a float"));
        assert_eq!(ms("0x1.000001p-16446"), Ok(1));
        for bad in [
            "", " 1", "1 ", "1e", "e1", ".", "-", "0x", "0x1p", "nan", "1\0", "\u{0b}1",
        ] {
            assert_eq!(ms(bad), Err("not a float"), "{bad:?}");
        }
    }
}
