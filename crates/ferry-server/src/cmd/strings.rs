//! String commands: GET/SET and friends, counters, ranges and bit operations.

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::longdouble::{self, AddError};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{KeyInfo, KeyType, StoreError, StringEncoding, Ttl};

const R_FAST: &[&str] = &["@read", "@string", "@fast"];
const R_SLOW: &[&str] = &["@read", "@string", "@slow"];
const W_FAST: &[&str] = &["@write", "@string", "@fast"];
const W_SLOW: &[&str] = &["@write", "@string", "@slow"];
const B_READ: &[&str] = &["@read", "@bitmap", "@fast"];
const B_READ_SLOW: &[&str] = &["@read", "@bitmap", "@slow"];
const B_WRITE: &[&str] = &["@write", "@bitmap", "@slow"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const WD_FAST: &[&str] = &["write", "denyoom", "fast"];
const W: &[&str] = &["write", "fast"];
const ONE: (i32, i32, i32) = (1, 1, 1);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, RO_FAST, ONE, R_FAST, get),
    cmd("set", -3, WD, ONE, W_SLOW, set),
    cmd("setnx", 3, WD_FAST, ONE, W_FAST, setnx),
    cmd("setex", 4, WD, ONE, W_SLOW, setex),
    cmd("psetex", 4, WD, ONE, W_SLOW, psetex),
    cmd("mget", -2, RO_FAST, (1, -1, 1), R_FAST, mget),
    cmd("mset", -3, WD, (1, -1, 2), W_SLOW, mset),
    cmd("msetnx", -3, WD, (1, -1, 2), W_SLOW, msetnx),
    cmd("getset", 3, WD_FAST, ONE, W_FAST, getset),
    cmd("getdel", 2, W, ONE, W_FAST, getdel),
    cmd("getex", -2, W, ONE, W_FAST, getex),
    cmd("append", 3, WD_FAST, ONE, W_FAST, append),
    cmd("strlen", 2, RO_FAST, ONE, R_FAST, strlen),
    cmd("getrange", 4, &["readonly"], ONE, R_SLOW, getrange),
    cmd("substr", 4, &["readonly"], ONE, R_SLOW, getrange),
    cmd("setrange", 4, WD, ONE, W_SLOW, setrange),
    cmd("incr", 2, WD_FAST, ONE, W_FAST, incr),
    cmd("decr", 2, WD_FAST, ONE, W_FAST, decr),
    cmd("incrby", 3, WD_FAST, ONE, W_FAST, incrby),
    cmd("decrby", 3, WD_FAST, ONE, W_FAST, decrby),
    cmd("incrbyfloat", 3, WD_FAST, ONE, W_FAST, incrbyfloat),
    cmd("setbit", 4, WD, ONE, B_WRITE, setbit),
    cmd("getbit", 3, RO_FAST, ONE, B_READ, getbit),
    cmd("bitcount", -2, &["readonly"], ONE, B_READ_SLOW, bitcount),
    cmd("bitpos", -3, &["readonly"], ONE, B_READ_SLOW, bitpos),
    cmd("bitop", -4, WD, (2, -1, 1), B_WRITE, bitop),
];

/// Redis's proto-max-bulk-len: the largest string a command may build.
const MAX_STRING: usize = 512 * 1024 * 1024;
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// A live string key's row and value, or None; WRONGTYPE for other types.
fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<(KeyInfo, Vec<u8>)>, CmdError> {
    Ok(ctx.store.lookup_string(ctx.client.db, key)?)
}

fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let v = ctx.store.get_string(ctx.client.db, &argv[1])?;
    ctx.count_read(&argv[1], v.is_some());
    Ok(v.map(Reply::bulk).unwrap_or(Reply::Null))
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

/// Turns an EX/PX/EXAT/PXAT argument into an absolute unix ms, with Redis's
/// checks (positive, no overflow).
fn expire_at(ctx: &Ctx, unit: ExpireUnit, arg: &[u8], command: &str) -> Result<i64, CmdError> {
    let n = parse_i64(arg)?;
    let invalid = || err(format!("ERR invalid expire time in '{command}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        ExpireUnit::Seconds | ExpireUnit::UnixSeconds => n.checked_mul(1000).ok_or_else(invalid)?,
        ExpireUnit::Millis | ExpireUnit::UnixMillis => n,
    };
    match unit {
        ExpireUnit::Seconds | ExpireUnit::Millis => {
            ms.checked_add(ctx.store.now()).ok_or_else(invalid)
        }
        _ => Ok(ms),
    }
}

fn expire_unit(arg: &[u8]) -> Option<ExpireUnit> {
    if is(arg, "ex") {
        Some(ExpireUnit::Seconds)
    } else if is(arg, "px") {
        Some(ExpireUnit::Millis)
    } else if is(arg, "exat") {
        Some(ExpireUnit::UnixSeconds)
    } else if is(arg, "pxat") {
        Some(ExpireUnit::UnixMillis)
    } else {
        None
    }
}

/// Reads an EX/PX/EXAT/PXAT option and its value at `argv[*i]` into
/// `expire`, moving `i` onto the value. The same option may repeat (the
/// last one wins); two different ones conflict, as in Redis 7.0. Returns
/// false when `argv[*i]` is not such an option followed by a value.
fn expire_option<'a>(
    argv: &'a [Bytes],
    i: &mut usize,
    expire: &mut Option<(ExpireUnit, &'a Bytes)>,
) -> Result<bool, CmdError> {
    let (Some(unit), Some(value)) = (expire_unit(&argv[*i]), argv.get(*i + 1)) else {
        return Ok(false);
    };
    if expire.is_some_and(|(u, _)| u != unit) {
        return Err(err(SYNTAX));
    }
    *expire = Some((unit, value));
    *i += 1;
    Ok(true)
}

fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expire: Option<(ExpireUnit, &Bytes)> = None;
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expire.is_none() {
            keepttl = true;
        } else if !keepttl && expire_option(argv, &mut i, &mut expire)? {
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    let ttl = match expire {
        Some((unit, v)) => Ttl::At(expire_at(ctx, unit, v, "set")?),
        None if keepttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    let db = ctx.client.db;
    let key = &argv[1];
    let (existing, old) = if get {
        match ctx.store.lookup_string(db, key)? {
            Some((info, v)) => (Some(info), Some(v)),
            None => (None, None),
        }
    } else {
        (ctx.store.lookup(db, key)?, None)
    };
    if (nx && existing.is_some()) || (xx && existing.is_none()) {
        return Ok(match old {
            Some(v) => Reply::bulk(v),
            None => Reply::Null,
        });
    }
    ctx.store.put_string(db, key, &argv[2], ttl, existing)?;
    ctx.notify(notify::STRING, "set", key);
    if expire.is_some() {
        ctx.notify(notify::GENERIC, "expire", key);
    }
    Ok(if get {
        old.map(Reply::bulk).unwrap_or(Reply::Null)
    } else {
        Reply::OK
    })
}

fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    if ctx.store.lookup(db, &argv[1])?.is_some() {
        return Ok(Reply::Integer(0));
    }
    ctx.store
        .put_string(db, &argv[1], &argv[2], Ttl::Clear, None)?;
    ctx.notify(notify::STRING, "set", &argv[1]);
    Ok(Reply::Integer(1))
}

fn setex_generic(ctx: &mut Ctx, argv: &[Bytes], unit: ExpireUnit, name: &str) -> CmdResult {
    let at = expire_at(ctx, unit, &argv[2], name)?;
    let db = ctx.client.db;
    let existing = ctx.store.lookup(db, &argv[1])?;
    ctx.store
        .put_string(db, &argv[1], &argv[3], Ttl::At(at), existing)?;
    ctx.notify(notify::STRING, "set", &argv[1]);
    ctx.notify(notify::GENERIC, "expire", &argv[1]);
    Ok(Reply::OK)
}

fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, ExpireUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, ExpireUnit::Millis, "psetex")
}

fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        // A key of another type reads as nil, as in Redis.
        out.push(match ctx.store.get_string(db, key) {
            Ok(Some(v)) => {
                ctx.count_read(key, true);
                Reply::bulk(v)
            }
            Ok(None) => {
                ctx.count_read(key, false);
                Reply::Null
            }
            Err(StoreError::WrongType) => {
                ctx.count_read(key, true);
                Reply::Null
            }
            Err(e) => return Err(e.into()),
        });
    }
    Ok(Reply::Array(out))
}

fn mset_pairs<'a>(argv: &'a [Bytes], name: &str) -> Result<Vec<(&'a Bytes, &'a Bytes)>, CmdError> {
    if argv.len().is_multiple_of(2) {
        return Err(err(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    Ok(argv[1..].chunks(2).map(|p| (&p[0], &p[1])).collect())
}

fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    for (k, v) in mset_pairs(argv, "mset")? {
        let existing = ctx.store.lookup(db, k)?;
        ctx.store.put_string(db, k, v, Ttl::Clear, existing)?;
        ctx.notify(notify::STRING, "set", k);
    }
    Ok(Reply::OK)
}

fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let pairs = mset_pairs(argv, "msetnx")?;
    for (k, _) in &pairs {
        if ctx.store.lookup(db, k)?.is_some() {
            return Ok(Reply::Integer(0));
        }
    }
    for (k, v) in pairs {
        let existing = ctx.store.lookup(db, k)?;
        ctx.store.put_string(db, k, v, Ttl::Clear, existing)?;
        ctx.notify(notify::STRING, "set", k);
    }
    Ok(Reply::Integer(1))
}

fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let old = read_string(ctx, &argv[1])?;
    let existing = old.as_ref().map(|(i, _)| *i);
    ctx.store
        .put_string(db, &argv[1], &argv[2], Ttl::Clear, existing)?;
    ctx.notify(notify::STRING, "set", &argv[1]);
    Ok(old.map(|(_, v)| Reply::bulk(v)).unwrap_or(Reply::Null))
}

fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some((_, v)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    ctx.store.delete(ctx.client.db, &argv[1])?;
    ctx.notify(notify::GENERIC, "del", &argv[1]);
    Ok(Reply::bulk(v))
}

fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut expire: Option<(ExpireUnit, &Bytes)> = None;
    let mut persist = false;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "persist") && expire.is_none() {
            persist = true;
        } else if !persist && expire_option(argv, &mut i, &mut expire)? {
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    let at = match expire {
        Some((unit, v)) => Some(expire_at(ctx, unit, v, "getex")?),
        None => None,
    };
    let Some((info, value)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    let db = ctx.client.db;
    if let Some(at) = at {
        ctx.store.set_expire(db, &argv[1], Some(at))?;
        // A time already past deletes the key, as in Redis.
        let event = if at <= ctx.store.now() {
            "del"
        } else {
            "expire"
        };
        ctx.notify(notify::GENERIC, event, &argv[1]);
    } else if persist && info.expire_at.is_some() {
        ctx.store.set_expire(db, &argv[1], None)?;
        ctx.notify(notify::GENERIC, "persist", &argv[1]);
    }
    Ok(Reply::bulk(value))
}

fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let (existing, mut value) = match read_string(ctx, &argv[1])? {
        Some((info, v)) => (Some(info), v),
        None => (None, Vec::new()),
    };
    if value.len() + argv[2].len() > MAX_STRING {
        return Err(err(TOO_BIG));
    }
    value.extend_from_slice(&argv[2]);
    // Appending to an existing string makes it raw in Redis; a new key is
    // encoded like a SET.
    let enc = match existing {
        Some(_) => StringEncoding::Raw,
        None => StringEncoding::of(&value),
    };
    ctx.store
        .put_string_as(db, &argv[1], &value, Ttl::Keep, existing, enc)?;
    ctx.notify(notify::STRING, "append", &argv[1]);
    Ok(Reply::Integer(value.len() as i64))
}

fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = ctx.store.lookup(ctx.client.db, &argv[1])?;
    ctx.count_read(&argv[1], found.is_some());
    match found {
        None => Ok(Reply::Integer(0)),
        Some(info) if info.ktype == KeyType::String => Ok(Reply::Integer(info.len)),
        Some(_) => Err(StoreError::WrongType.into()),
    }
}

/// Redis's clamping of a [start, end] range over `len` items, or None when
/// the range is empty.
fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let Some((_, v)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::bulk(Bytes::new()));
    };
    Ok(match clamp_range(start, end, v.len() as i64) {
        Some((s, e)) => Reply::bulk(v[s..=e].to_vec()),
        None => Reply::bulk(Bytes::new()),
    })
}

fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_i64(&argv[2])?;
    if offset < 0 {
        return Err(err("ERR offset is out of range"));
    }
    let piece = &argv[3];
    let db = ctx.client.db;
    let current = read_string(ctx, &argv[1])?;
    let Some(end) = (offset as usize).checked_add(piece.len()) else {
        return Err(err(TOO_BIG));
    };
    let (existing, mut value) = match current {
        Some((info, v)) => (Some(info), v),
        None if piece.is_empty() => return Ok(Reply::Integer(0)),
        None => (None, Vec::new()),
    };
    if piece.is_empty() {
        return Ok(Reply::Integer(value.len() as i64));
    }
    if end > MAX_STRING {
        return Err(err(TOO_BIG));
    }
    if value.len() < end {
        value.resize(end, 0);
    }
    value[offset as usize..end].copy_from_slice(piece);
    ctx.store.put_string_as(
        db,
        &argv[1],
        &value,
        Ttl::Keep,
        existing,
        StringEncoding::Raw,
    )?;
    ctx.notify(notify::STRING, "setrange", &argv[1]);
    Ok(Reply::Integer(value.len() as i64))
}

fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let db = ctx.client.db;
    let (existing, current) = match read_string(ctx, key)? {
        Some((info, v)) => (Some(info), parse_i64(&v)?),
        None => (None, 0),
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| err("ERR increment or decrement would overflow"))?;
    let mut buf = itoa::Buffer::new();
    ctx.store
        .put_string(db, key, buf.format(next).as_bytes(), Ttl::Keep, existing)?;
    ctx.notify(notify::STRING, "incrby", key);
    Ok(Reply::Integer(next))
}

fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let delta = parse_i64(&argv[2])?;
    incr_by(ctx, &argv[1], delta)
}

fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let delta = parse_i64(&argv[2])?;
    let neg = delta
        .checked_neg()
        .ok_or_else(|| err("ERR decrement would overflow"))?;
    incr_by(ctx, &argv[1], neg)
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let (existing, current) = match read_string(ctx, &argv[1])? {
        Some((info, v)) => (Some(info), v),
        None => (None, b"0".to_vec()),
    };
    let next = longdouble::add(&current, &argv[2]).map_err(|e| match e {
        AddError::BadValue | AddError::BadIncrement => err(super::args::NOT_FLOAT),
        AddError::NotFinite => err("ERR increment would produce NaN or Infinity"),
    })?;
    let enc = StringEncoding::by_length(&next);
    ctx.store
        .put_string_as(db, &argv[1], &next, Ttl::Keep, existing, enc)?;
    ctx.notify(notify::STRING, "incrbyfloat", &argv[1]);
    Ok(Reply::bulk(next))
}

fn parse_bit_offset(arg: &[u8]) -> Result<usize, CmdError> {
    const MSG: &str = "ERR bit offset is not an integer or out of range";
    let n = super::args::parse_i64_or(arg, MSG)?;
    if n < 0 || (n as u64) >= (MAX_STRING as u64) * 8 {
        return Err(err(MSG));
    }
    Ok(n as usize)
}

fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&argv[2])?;
    let on = match &argv[3][..] {
        b"1" => true,
        b"0" => false,
        _ => return Err(err("ERR bit is not an integer or out of range")),
    };
    let db = ctx.client.db;
    let (existing, mut value) = match read_string(ctx, &argv[1])? {
        Some((info, v)) => (Some(info), v),
        None => (None, Vec::new()),
    };
    let byte = offset / 8;
    let mask = 0x80u8 >> (offset % 8);
    if value.len() <= byte {
        value.resize(byte + 1, 0);
    }
    let old = value[byte] & mask != 0;
    if on {
        value[byte] |= mask;
    } else {
        value[byte] &= !mask;
    }
    ctx.store.put_string_as(
        db,
        &argv[1],
        &value,
        Ttl::Keep,
        existing,
        StringEncoding::Raw,
    )?;
    ctx.notify(notify::STRING, "setbit", &argv[1]);
    Ok(Reply::Integer(old as i64))
}

fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&argv[2])?;
    let Some((_, v)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let bit = v
        .get(offset / 8)
        .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
    Ok(Reply::Integer(bit as i64))
}

/// BYTE/BIT unit of BITCOUNT and BITPOS ranges.
fn range_unit(arg: Option<&Bytes>) -> Result<bool, CmdError> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "byte") => Ok(false),
        Some(a) if is(a, "bit") => Ok(true),
        Some(_) => Err(err(SYNTAX)),
    }
}

fn bit_at(v: &[u8], i: usize) -> bool {
    v[i / 8] & (0x80 >> (i % 8)) != 0
}

fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis looks the key up before reading the range: a missing key is 0
    // whatever the other arguments say.
    let Some((_, v)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let s = parse_i64(&argv[2])?;
            let e = parse_i64(&argv[3])?;
            Some((s, e, range_unit(argv.get(4))?))
        }
        _ => return Err(err(SYNTAX)),
    };
    let count = match range {
        None => v.iter().map(|b| b.count_ones() as i64).sum(),
        Some((s, e, bits)) => {
            let total = if bits {
                v.len() as i64 * 8
            } else {
                v.len() as i64
            };
            match clamp_range(s, e, total) {
                None => 0,
                Some((s, e)) if bits => (s..=e).filter(|&i| bit_at(&v, i)).count() as i64,
                Some((s, e)) => v[s..=e].iter().map(|b| b.count_ones() as i64).sum(),
            }
        }
    };
    Ok(Reply::Integer(count))
}

fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let want = match parse_i64(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(err("ERR The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zeros, whatever the range says.
    let Some((_, v)) = read_string(ctx, &argv[1])? else {
        return Ok(Reply::Integer(if want { -1 } else { 0 }));
    };
    if argv.len() > 6 {
        return Err(err(SYNTAX));
    }
    let start = argv.get(3).map(|a| parse_i64(a)).transpose()?;
    let end = argv.get(4).map(|a| parse_i64(a)).transpose()?;
    let bits = range_unit(argv.get(5))?;
    let total = if bits {
        v.len() as i64 * 8
    } else {
        v.len() as i64
    };
    let end_given = end.is_some();
    let Some((s, e)) = clamp_range(start.unwrap_or(0), end.unwrap_or(-1), total) else {
        return Ok(Reply::Integer(-1));
    };
    let (first_bit, last_bit) = if bits { (s, e) } else { (s * 8, e * 8 + 7) };
    if let Some(pos) = (first_bit..=last_bit).find(|&i| bit_at(&v, i) == want) {
        return Ok(Reply::Integer(pos as i64));
    }
    // Looking for a clear bit with no explicit end: the string is
    // considered padded with zeros on the right, as in Redis.
    if !want && !end_given {
        return Ok(Reply::Integer(last_bit as i64 + 1));
    }
    Ok(Reply::Integer(-1))
}

fn bitop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let op = &argv[1];
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = if is(op, "and") {
        Op::And
    } else if is(op, "or") {
        Op::Or
    } else if is(op, "xor") {
        Op::Xor
    } else if is(op, "not") {
        Op::Not
    } else {
        return Err(err(SYNTAX));
    };
    if op == Op::Not && argv.len() != 4 {
        return Err(err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        sources.push(read_string(ctx, key)?.map(|(_, v)| v).unwrap_or_default());
    }
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let db = ctx.client.db;
    if len == 0 {
        if ctx.store.delete(db, &argv[2])? {
            ctx.notify(notify::GENERIC, "del", &argv[2]);
        }
        return Ok(Reply::Integer(0));
    }
    let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| match op {
            Op::Not => !byte(&sources[0], i),
            Op::And => sources.iter().fold(0xFF, |acc, s| acc & byte(s, i)),
            Op::Or => sources.iter().fold(0, |acc, s| acc | byte(s, i)),
            Op::Xor => sources.iter().fold(0, |acc, s| acc ^ byte(s, i)),
        })
        .collect();
    let existing = ctx.store.lookup(db, &argv[2])?;
    ctx.store.put_string_as(
        db,
        &argv[2],
        &result,
        Ttl::Clear,
        existing,
        StringEncoding::Raw,
    )?;
    ctx.notify(notify::STRING, "set", &argv[2]);
    Ok(Reply::Integer(len as i64))
}
