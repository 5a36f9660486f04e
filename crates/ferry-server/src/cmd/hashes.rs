//! Hash commands: HSET and friends, counters, HRANDFIELD and HSCAN.
//!
//! The set commands live in `sets.rs`, declared here so that the command
//! table needs one line for both families; [`COMMANDS`] lists both.

#[path = "sets.rs"]
mod sets;

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::longdouble::{self, AddError};
use crate::notify;
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use ferry_store::{KeyInfo, KeyType, StoreError};
use rand::Rng;

const R_FAST: &[&str] = &["@read", "@hash", "@fast"];
const R_SLOW: &[&str] = &["@read", "@hash", "@slow"];
const W_FAST: &[&str] = &["@write", "@hash", "@fast"];
const RO: &[&str] = &["readonly"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const WD_FAST: &[&str] = &["write", "denyoom", "fast"];
const W: &[&str] = &["write", "fast"];
const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const WD: &[&str] = &["write", "denyoom"];
const S_R_FAST: &[&str] = &["@read", "@set", "@fast"];
const S_R_SLOW: &[&str] = &["@read", "@set", "@slow"];
const S_W_FAST: &[&str] = &["@write", "@set", "@fast"];
const S_W_SLOW: &[&str] = &["@write", "@set", "@slow"];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("hset", -4, WD_FAST, ONE, W_FAST, hset),
    cmd("hsetnx", 4, WD_FAST, ONE, W_FAST, hsetnx),
    cmd("hget", 3, RO_FAST, ONE, R_FAST, hget),
    cmd("hmget", -3, RO_FAST, ONE, R_FAST, hmget),
    cmd("hmset", -4, WD_FAST, ONE, W_FAST, hmset),
    cmd("hgetall", 2, RO, ONE, R_SLOW, hgetall),
    cmd("hdel", -3, W, ONE, W_FAST, hdel),
    cmd("hlen", 2, RO_FAST, ONE, R_FAST, hlen),
    cmd("hexists", 3, RO_FAST, ONE, R_FAST, hexists),
    cmd("hkeys", 2, RO, ONE, R_SLOW, hkeys),
    cmd("hvals", 2, RO, ONE, R_SLOW, hvals),
    cmd("hstrlen", 3, RO_FAST, ONE, R_FAST, hstrlen),
    cmd("hincrby", 4, WD_FAST, ONE, W_FAST, hincrby),
    cmd("hincrbyfloat", 4, WD_FAST, ONE, W_FAST, hincrbyfloat),
    cmd("hrandfield", -2, RO, ONE, R_SLOW, hrandfield),
    cmd("hscan", -3, RO, ONE, R_SLOW, hscan),
    // Sets.
    cmd("sadd", -3, WD_FAST, ONE, S_W_FAST, sets::sadd),
    cmd("srem", -3, W, ONE, S_W_FAST, sets::srem),
    cmd("smembers", 2, RO, ONE, S_R_SLOW, sets::smembers),
    cmd("sismember", 3, RO_FAST, ONE, S_R_FAST, sets::sismember),
    cmd("smismember", -3, RO_FAST, ONE, S_R_FAST, sets::smismember),
    cmd("scard", 2, RO_FAST, ONE, S_R_FAST, sets::scard),
    cmd("spop", -2, W, ONE, S_W_FAST, sets::spop),
    cmd("srandmember", -2, RO, ONE, S_R_SLOW, sets::srandmember),
    cmd("smove", 4, W, (1, 2, 1), S_W_FAST, sets::smove),
    cmd("sinter", -2, RO, ALL, S_R_SLOW, sets::sinter),
    cmd(
        "sintercard",
        -3,
        &["readonly", "movablekeys"],
        (0, 0, 0),
        S_R_SLOW,
        sets::sintercard,
    ),
    cmd("sunion", -2, RO, ALL, S_R_SLOW, sets::sunion),
    cmd("sdiff", -2, RO, ALL, S_R_SLOW, sets::sdiff),
    cmd("sinterstore", -3, WD, ALL, S_W_SLOW, sets::sinterstore),
    cmd("sunionstore", -3, WD, ALL, S_W_SLOW, sets::sunionstore),
    cmd("sdiffstore", -3, WD, ALL, S_W_SLOW, sets::sdiffstore),
    cmd("sscan", -3, RO, ONE, S_R_SLOW, sets::sscan),
];

fn lookup(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    Ok(ctx.store.hash_lookup(ctx.client.db, key)?)
}

/// A lookup by a read-only command: counts a keyspace hit or miss (INFO
/// stats), as Redis's lookupKeyRead does.
pub(super) fn read_lookup<T>(ctx: &mut Ctx, key: &[u8], found: Option<T>) -> Option<T> {
    ctx.count_read(key, found.is_some());
    found
}

/// A read-only command's lookup of a key of type `ktype`: a key of another
/// type still counts as a hit (as in Redis) before WRONGTYPE.
pub(super) fn typed_read(
    ctx: &mut Ctx,
    key: &[u8],
    ktype: KeyType,
) -> Result<Option<KeyInfo>, CmdError> {
    let found = ctx.store.lookup(ctx.client.db, key)?;
    match read_lookup(ctx, key, found) {
        Some(info) if info.ktype != ktype => Err(StoreError::WrongType.into()),
        other => Ok(other),
    }
}

fn lookup_read(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    typed_read(ctx, key, KeyType::Hash)
}

fn field(ctx: &mut Ctx, key: &[u8], f: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(match lookup_read(ctx, key)? {
        Some(info) => ctx.store.hash_field(info.id, f)?,
        None => None,
    })
}

fn set_pairs(ctx: &mut Ctx, argv: &[Bytes], name: &str) -> Result<i64, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(err(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let pairs: Vec<(&[u8], &[u8])> = argv[2..]
        .chunks(2)
        .map(|c| (&c[0][..], &c[1][..]))
        .collect();
    Ok(ctx.store.hash_set(ctx.client.db, &argv[1], &pairs, false)?)
}

fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = set_pairs(ctx, argv, "hset")?;
    ctx.notify(notify::HASH, "hset", &argv[1]);
    Ok(Reply::Integer(n))
}

fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.notify(notify::HASH, "hset", &argv[1]);
    Ok(Reply::OK)
}

fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = ctx
        .store
        .hash_set(ctx.client.db, &argv[1], &[(&argv[2], &argv[3])], true)?;
    if n > 0 {
        ctx.notify(notify::HASH, "hset", &argv[1]);
    }
    Ok(Reply::Integer(n))
}

fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match field(ctx, &argv[1], &argv[2])? {
        Some(v) => Reply::bulk(v),
        None => Reply::Null,
    })
}

fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let info = lookup_read(ctx, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for f in &argv[2..] {
        let v = match info {
            Some(info) => ctx.store.hash_field(info.id, f)?,
            None => None,
        };
        out.push(v.map(Reply::bulk).unwrap_or(Reply::Null));
    }
    Ok(Reply::Array(out))
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn entries(ctx: &mut Ctx, key: &[u8]) -> Result<Entries, CmdError> {
    Ok(match lookup_read(ctx, key)? {
        Some(info) => ctx.store.hash_entries(info.id)?,
        None => Vec::new(),
    })
}

fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let all = entries(ctx, &argv[1])?;
    Ok(Reply::Map(
        all.into_iter()
            .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
            .collect(),
    ))
}

fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let all = entries(ctx, &argv[1])?;
    Ok(Reply::Array(
        all.into_iter().map(|(f, _)| Reply::bulk(f)).collect(),
    ))
}

fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let all = entries(ctx, &argv[1])?;
    Ok(Reply::Array(
        all.into_iter().map(|(_, v)| Reply::bulk(v)).collect(),
    ))
}

fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let fields: Vec<&[u8]> = argv[2..].iter().map(|f| &f[..]).collect();
    let n = ctx.store.hash_del(ctx.client.db, &argv[1], &fields)?;
    if n > 0 {
        ctx.notify_removed(notify::HASH, "hdel", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(
        lookup_read(ctx, &argv[1])?.map_or(0, |i| i.len),
    ))
}

fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = field(ctx, &argv[1], &argv[2])?.is_some();
    Ok(Reply::Integer(found as i64))
}

fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let v = field(ctx, &argv[1], &argv[2])?;
    Ok(Reply::Integer(v.map_or(0, |v| v.len() as i64)))
}

/// A field's value for a write command (no keyspace stats).
fn field_for_write(ctx: &mut Ctx, key: &[u8], f: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(match lookup(ctx, key)? {
        Some(info) => ctx.store.hash_field(info.id, f)?,
        None => None,
    })
}

fn put(ctx: &mut Ctx, key: &[u8], f: &[u8], v: &[u8]) -> Result<(), CmdError> {
    ctx.store.hash_set(ctx.client.db, key, &[(f, v)], false)?;
    Ok(())
}

fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_i64(&argv[3])?;
    let current = match field_for_write(ctx, &argv[1], &argv[2])? {
        Some(v) => ferry_store::parse_canonical_i64(&v)
            .ok_or_else(|| err("ERR hash value is not an integer"))?,
        None => 0,
    };
    let next = current
        .checked_add(incr)
        .ok_or_else(|| err("ERR increment or decrement would overflow"))?;
    put(ctx, &argv[1], &argv[2], next.to_string().as_bytes())?;
    ctx.notify(notify::HASH, "hincrby", &argv[1]);
    Ok(Reply::Integer(next))
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // The increment is checked before the key, as Redis does.
    match longdouble::add(b"0", &argv[3]) {
        Ok(_) => {}
        Err(AddError::NotFinite) => return Err(err("ERR value is NaN or Infinity")),
        Err(_) => return Err(err(super::args::NOT_FLOAT)),
    }
    let current = field_for_write(ctx, &argv[1], &argv[2])?.unwrap_or_else(|| b"0".to_vec());
    let next = longdouble::add(&current, &argv[3]).map_err(|e| match e {
        AddError::BadValue => err("ERR hash value is not a float"),
        AddError::BadIncrement => err(super::args::NOT_FLOAT),
        AddError::NotFinite => err("ERR increment would produce NaN or Infinity"),
    })?;
    put(ctx, &argv[1], &argv[2], &next)?;
    ctx.notify(notify::HASH, "hincrbyfloat", &argv[1]);
    Ok(Reply::bulk(next))
}

/// A count for HRANDFIELD/SRANDMEMBER: -LONG_MAX..=LONG_MAX.
pub(super) fn parse_rand_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_i64(arg)?;
    if n == i64::MIN {
        return Err(err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

/// Random positions among `len` elements: `count` distinct ones (at most
/// `len`) when `unique`, else `count` with repetition. In pick order.
pub(super) fn random_offsets(len: u64, count: u64, unique: bool) -> Vec<u64> {
    let mut rng = rand::thread_rng();
    if len == 0 {
        return Vec::new();
    }
    if unique {
        let n = count.min(len) as usize;
        rand::seq::index::sample(&mut rng, len as usize, n)
            .into_iter()
            .map(|i| i as u64)
            .collect()
    } else {
        (0..count).map(|_| rng.gen_range(0..len)).collect()
    }
}

/// Fetches the elements at `picks` with one ordered pass (`fetch` gets the
/// distinct positions ascending) and returns them in pick order.
pub(super) fn in_pick_order<T: Clone>(
    picks: &[u64],
    fetch: impl FnOnce(&[u64]) -> Result<Vec<T>, CmdError>,
) -> Result<Vec<T>, CmdError> {
    let mut sorted = picks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rows = fetch(&sorted)?;
    Ok(picks
        .iter()
        .filter_map(|p| {
            sorted
                .binary_search(p)
                .ok()
                .and_then(|i| rows.get(i).cloned())
        })
        .collect())
}

fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let Some(info) = lookup_read(ctx, &argv[1])? else {
            return Ok(Reply::Null);
        };
        let pick = rand::thread_rng().gen_range(0..info.len.max(1));
        return Ok(match ctx.store.hash_entry_at(info.id, pick)? {
            Some((f, _)) => Reply::bulk(f),
            None => Reply::Null,
        });
    }
    let count = parse_rand_count(&argv[2])?;
    let withvalues = argv.len() == 4;
    if argv.len() > 4 || (withvalues && !is(&argv[3], "withvalues")) {
        return Err(err(SYNTAX));
    }
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(err("ERR value is out of range"));
    }
    let Some(info) = lookup_read(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let len = info.len as u64;
    let picked = if count > 0 && count as u64 >= len {
        ctx.store.hash_entries(info.id)?
    } else {
        let picks = random_offsets(len, count.unsigned_abs(), count > 0);
        in_pick_order(&picks, |o| Ok(ctx.store.hash_entries_at(info.id, o)?))?
    };
    let resp3 = ctx.client.protocol == Protocol::Resp3;
    let mut out = Vec::with_capacity(picked.len() * if withvalues { 2 } else { 1 });
    for (f, v) in picked {
        let f = Reply::bulk(f);
        if !withvalues {
            out.push(f);
        } else if resp3 {
            out.push(Reply::Array(vec![f, Reply::bulk(v)]));
        } else {
            out.push(f);
            out.push(Reply::bulk(v));
        }
    }
    Ok(Reply::Array(out))
}

/// HSCAN/SSCAN options after the cursor: COUNT and MATCH, as Redis reads them.
pub(super) fn parse_scan_opts(rest: &[Bytes]) -> Result<(usize, Option<&[u8]>), CmdError> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < rest.len() {
        let Some(value) = rest.get(i + 1) else {
            return Err(err(SYNTAX));
        };
        if is(&rest[i], "count") {
            let n = parse_i64(value)?;
            if n < 1 {
                return Err(err(SYNTAX));
            }
            count = n.min(1 << 20) as usize;
        } else if is(&rest[i], "match") {
            pattern = (&value[..] != b"*").then_some(&value[..]);
        } else {
            return Err(err(SYNTAX));
        }
        i += 2;
    }
    Ok((count, pattern))
}

pub(super) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}

fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = super::keys::parse_cursor(&argv[2])?;
    let Some(info) = lookup_read(ctx, &argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (count, pattern) = parse_scan_opts(&argv[3..])?;
    let (next, page) = ctx.store.hash_scan(&info, cursor, count, pattern)?;
    let mut items = Vec::with_capacity(page.len() * 2);
    for (f, v) in page {
        items.push(Reply::bulk(f));
        items.push(Reply::bulk(v));
    }
    Ok(scan_reply(next, items))
}
