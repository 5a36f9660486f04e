//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1 to 64 bits at
//! any bit offset of a string, with Redis 7.0's overflow rules (bitops.c).

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{StringEncoding, Ttl};

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "bitfield",
        -2,
        &["write", "denyoom"],
        (1, 1, 1),
        &["@write", "@bitmap", "@slow"],
        bitfield,
    ),
    cmd(
        "bitfield_ro",
        -2,
        &["readonly", "fast"],
        (1, 1, 1),
        &["@read", "@bitmap", "@fast"],
        bitfield_ro,
    ),
];

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
/// Redis's proto-max-bulk-len: offsets must stay inside a string that long.
const MAX_STRING_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    IncrBy,
}

/// One parsed subcommand.
struct FieldOp {
    op: Op,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63` (lowercase, as Redis reads it; a NUL byte
/// ends the text as it does for Redis's C string functions).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let arg = &arg[..arg.iter().position(|&c| c == 0).unwrap_or(arg.len())];
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err(BAD_TYPE)),
    };
    let bits = ferry_store::parse_canonical_i64(&arg[1..]).ok_or_else(|| err(BAD_TYPE))?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err(BAD_TYPE));
    }
    Ok((signed, bits as u32))
}

/// A bit offset, or `#N` for the N-th field of this width. Redis multiplies
/// in 64-bit arithmetic that wraps, so huge `#N` may wrap into range.
fn parse_offset(arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let (hash, digits) = match arg.first() {
        Some(b'#') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut n = ferry_store::parse_canonical_i64(digits).ok_or_else(|| err(BAD_OFFSET))?;
    if hash {
        n = n.wrapping_mul(bits as i64);
    }
    if n < 0 || (n as u64 >> 3) >= MAX_STRING_BYTES {
        return Err(err(BAD_OFFSET));
    }
    Ok(n as u64)
}

fn parse_ops(argv: &[Bytes]) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = &argv[j];
        let op = if is(sub, "get") && rem >= 2 {
            Op::Get
        } else if is(sub, "set") && rem >= 3 {
            Op::Set
        } else if is(sub, "incrby") && rem >= 3 {
            Op::IncrBy
        } else if is(sub, "overflow") && rem >= 1 {
            let kind = &argv[j + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(err("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(err(SYNTAX));
        };
        let (signed, bits) = parse_type(&argv[j + 1])?;
        let offset = parse_offset(&argv[j + 2], bits)?;
        let value = if op == Op::Get {
            0
        } else {
            parse_i64(&argv[j + 3])?
        };
        ops.push(FieldOp {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == Op::Get { 3 } else { 4 };
    }
    Ok(ops)
}

/// The `bits`-wide unsigned field at bit `offset` (most significant bit
/// first); bits past the end of `s` read as 0.
fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for k in 0..bits as u64 {
        let pos = offset + k;
        let bit = s
            .get((pos >> 3) as usize)
            .is_some_and(|b| b & (0x80 >> (pos & 7)) != 0);
        v = (v << 1) | bit as u64;
    }
    v
}

fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset`; `s` is long enough.
fn set_bits(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for k in 0..bits as u64 {
        let on = v & (1 << (bits as u64 - 1 - k)) != 0;
        let pos = offset + k;
        let byte = &mut s[(pos >> 3) as usize];
        let mask = 0x80u8 >> (pos & 7);
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + incr` leaves the
/// `bits`-wide unsigned range, and the value WRAP or SAT makes of it. The
/// comparisons use Redis's 64-bit (wrapping) arithmetic on purpose.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => 0,
        })
    } else {
        None
    }
}

/// Redis's checkSignedBitfieldOverflow, with its wrapping arithmetic: a SET
/// of a value near i64::MIN into a narrow field saturates to the maximum,
/// exactly as Redis does.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => min,
        })
    } else {
        None
    }
}

fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], ro_command: bool) -> CmdResult {
    let ops = parse_ops(argv)?;
    let db = ctx.client.db;
    let key = &argv[1];
    let writes = ops.iter().any(|o| o.op != Op::Get);
    if !writes {
        let found = ctx.store.lookup_string(db, key);
        ctx.count_read(key, !matches!(found, Ok(None)));
        let value = found?.map(|(_, v)| v).unwrap_or_default();
        let out = ops
            .iter()
            .map(|o| {
                Reply::Integer(if o.signed {
                    get_signed(&value, o.offset, o.bits)
                } else {
                    get_unsigned(&value, o.offset, o.bits) as i64
                })
            })
            .collect();
        return Ok(Reply::Array(out));
    }
    if ro_command {
        return Err(err("ERR BITFIELD_RO only supports the GET subcommand"));
    }

    // Like Redis, the string is created or grown up front to hold the
    // farthest bit any write reaches, even if every write then fails.
    let highest = ops
        .iter()
        .filter(|o| o.op != Op::Get)
        .map(|o| o.offset + o.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let (existing, mut value) = match ctx.store.lookup_string(db, key)? {
        Some((info, v)) => (Some(info), v),
        None => (None, Vec::new()),
    };
    let needed = (highest >> 3) as usize + 1;
    let grew = value.len() < needed;
    if grew {
        value.resize(needed, 0);
    }

    let mut changes = 0;
    let mut out = Vec::with_capacity(ops.len());
    for o in &ops {
        if o.op == Op::Get {
            out.push(Reply::Integer(if o.signed {
                get_signed(&value, o.offset, o.bits)
            } else {
                get_unsigned(&value, o.offset, o.bits) as i64
            }));
            continue;
        }
        let (old, new, reply, overflowed) = if o.signed {
            let old = get_signed(&value, o.offset, o.bits);
            let (ov, new) = if o.op == Op::IncrBy {
                let ov = signed_overflow(old, o.value, o.bits, o.overflow);
                (ov, ov.unwrap_or_else(|| old.wrapping_add(o.value)))
            } else {
                let ov = signed_overflow(o.value, 0, o.bits, o.overflow);
                (ov, ov.unwrap_or(o.value))
            };
            let reply = if o.op == Op::IncrBy { new } else { old };
            (old as u64, new as u64, reply, ov.is_some())
        } else {
            let old = get_unsigned(&value, o.offset, o.bits);
            let (ov, new) = if o.op == Op::IncrBy {
                let ov = unsigned_overflow(old, o.value, o.bits, o.overflow);
                (ov, ov.unwrap_or_else(|| old.wrapping_add(o.value as u64)))
            } else {
                let ov = unsigned_overflow(o.value as u64, 0, o.bits, o.overflow);
                (ov, ov.unwrap_or(o.value as u64))
            };
            let reply = if o.op == Op::IncrBy { new } else { old };
            (old, new, reply as i64, ov.is_some())
        };
        if overflowed && o.overflow == Overflow::Fail {
            out.push(Reply::Null);
            continue;
        }
        out.push(Reply::Integer(reply));
        set_bits(&mut value, o.offset, o.bits, new);
        if grew || existing.is_none() || old != new {
            changes += 1;
        }
    }

    // Redis makes the value a raw string whenever a write was asked for,
    // even one that changed nothing; the row is rewritten (a new version
    // for WATCH) only when that or the bytes changed.
    let rewrite =
        grew || changes > 0 || ctx.store.string_encoding(db, key)? != Some(StringEncoding::Raw);
    if rewrite {
        ctx.store
            .put_string_as(db, key, &value, Ttl::Keep, existing, StringEncoding::Raw)?;
    }
    if changes > 0 {
        ctx.notify(notify::STRING, "setbit", key);
    }
    Ok(Reply::Array(out))
}
