//! Generic key commands: existence, deletion, renaming, TTLs, SCAN/KEYS,
//! OBJECT, and whole-database operations.

use super::args::{is, parse_db, parse_i64, parse_i64_or, NOT_INTEGER, SYNTAX};
use super::connection::help_reply;
use super::{cmd, container, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{KeyType, StringEncoding};

const KS_R_FAST: &[&str] = &["@keyspace", "@read", "@fast"];
const KS_R_SLOW: &[&str] = &["@keyspace", "@read", "@slow"];
const KS_W_FAST: &[&str] = &["@keyspace", "@write", "@fast"];
const KS_W_SLOW: &[&str] = &["@keyspace", "@write", "@slow"];
const KS_DANGER: &[&str] = &["@keyspace", "@write", "@slow", "@dangerous"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const W_FAST: &[&str] = &["write", "fast"];
const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const NONE: (i32, i32, i32) = (0, 0, 0);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, &["write"], ALL, KS_W_SLOW, del),
    cmd("unlink", -2, W_FAST, ALL, KS_W_FAST, del),
    cmd("exists", -2, RO_FAST, ALL, KS_R_FAST, exists),
    cmd("touch", -2, RO_FAST, ALL, KS_R_FAST, exists),
    cmd("type", 2, RO_FAST, ONE, KS_R_FAST, type_cmd),
    cmd("rename", 3, &["write"], (1, 2, 1), KS_W_SLOW, rename),
    cmd("renamenx", 3, W_FAST, (1, 2, 1), KS_W_FAST, renamenx),
    cmd(
        "copy",
        -3,
        &["write", "denyoom"],
        (1, 2, 1),
        KS_W_SLOW,
        copy,
    ),
    cmd("move", 3, W_FAST, ONE, KS_W_FAST, move_cmd),
    cmd(
        "keys",
        2,
        &["readonly"],
        NONE,
        &["@keyspace", "@read", "@slow", "@dangerous"],
        keys,
    ),
    cmd("scan", -2, &["readonly"], NONE, KS_R_SLOW, scan),
    cmd("randomkey", 1, &["readonly"], NONE, KS_R_SLOW, randomkey),
    cmd("expire", -3, W_FAST, ONE, KS_W_FAST, expire),
    cmd("pexpire", -3, W_FAST, ONE, KS_W_FAST, pexpire),
    cmd("expireat", -3, W_FAST, ONE, KS_W_FAST, expireat),
    cmd("pexpireat", -3, W_FAST, ONE, KS_W_FAST, pexpireat),
    cmd("ttl", 2, RO_FAST, ONE, KS_R_FAST, ttl),
    cmd("pttl", 2, RO_FAST, ONE, KS_R_FAST, pttl),
    cmd("expiretime", 2, RO_FAST, ONE, KS_R_FAST, expiretime),
    cmd("pexpiretime", 2, RO_FAST, ONE, KS_R_FAST, pexpiretime),
    cmd("persist", 2, W_FAST, ONE, KS_W_FAST, persist),
    cmd("dbsize", 1, RO_FAST, NONE, KS_R_FAST, dbsize),
    cmd("flushdb", -1, &["write"], NONE, KS_DANGER, flushdb),
    cmd("flushall", -1, &["write"], NONE, KS_DANGER, flushall),
    cmd(
        "swapdb",
        3,
        W_FAST,
        NONE,
        &["@keyspace", "@write", "@fast", "@dangerous"],
        swapdb,
    ),
    container("object", -2, &[], &["@slow"], OBJECT),
];

const OBJECT: &[CommandSpec] = &[
    cmd(
        "encoding",
        3,
        &["readonly"],
        (2, 2, 1),
        &["@keyspace", "@read", "@slow"],
        object_encoding,
    ),
    cmd(
        "idletime",
        3,
        &["readonly"],
        (2, 2, 1),
        &["@keyspace", "@read", "@slow"],
        object_idletime,
    ),
    cmd(
        "freq",
        3,
        &["readonly"],
        (2, 2, 1),
        &["@keyspace", "@read", "@slow"],
        object_freq,
    ),
    cmd(
        "refcount",
        3,
        &["readonly"],
        (2, 2, 1),
        &["@keyspace", "@read", "@slow"],
        object_refcount,
    ),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        NONE,
        &["@keyspace", "@slow"],
        object_help,
    ),
];

fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.store.delete(db, key)? {
            ctx.notify(notify::GENERIC, "del", key);
            n += 1;
        }
    }
    Ok(Reply::Integer(n))
}

/// EXISTS and TOUCH: how many of the named keys exist (repeats count).
fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let mut n = 0;
    for key in &argv[1..] {
        let found = ctx.store.lookup(db, key)?.is_some();
        ctx.count_read(key, found);
        n += found as i64;
    }
    Ok(Reply::Integer(n))
}

fn type_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = ctx.store.lookup(ctx.client.db, &argv[1])?;
    ctx.count_read(&argv[1], t.is_some());
    Ok(Reply::status(t.map(|i| i.ktype.name()).unwrap_or("none")))
}

fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match rename_generic(ctx, argv, false)? {
        None => Err(err("ERR no such key")),
        Some(_) => Ok(Reply::OK),
    }
}

fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match rename_generic(ctx, argv, true)? {
        None => Err(err("ERR no such key")),
        Some(done) => Ok(Reply::Integer(done as i64)),
    }
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> Result<Option<bool>, CmdError> {
    let outcome = ctx.store.rename(ctx.client.db, &argv[1], &argv[2], nx)?;
    if outcome == Some(true) && argv[1] != argv[2] {
        ctx.notify(notify::GENERIC, "rename_from", &argv[1]);
        ctx.notify(notify::GENERIC, "rename_to", &argv[2]);
    }
    Ok(outcome)
}

fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let mut dst_db = db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if is(&argv[i], "replace") {
            replace = true;
        } else if is(&argv[i], "db") && i + 1 < argv.len() {
            dst_db = parse_db(&argv[i + 1], "ERR DB index is out of range")?;
            i += 1;
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    if dst_db == db && argv[1] == argv[2] {
        return Err(err("ERR source and destination objects are the same"));
    }
    let done = ctx
        .store
        .copy_key(db, &argv[1], dst_db, &argv[2], replace)?;
    if done {
        ctx.notify_db(notify::GENERIC, "copy_to", dst_db, &argv[2]);
    }
    Ok(Reply::Integer(done as i64))
}

fn move_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let n = parse_i64_or(&argv[2], NOT_INTEGER)?;
    let dst = usize::try_from(n)
        .ok()
        .filter(|d| *d < ferry_store::DATABASES)
        .ok_or_else(|| err("ERR DB index is out of range"))?;
    if dst == db {
        return Err(err("ERR source and destination objects are the same"));
    }
    let moved = ctx.store.move_key(db, &argv[1], dst)?;
    if moved {
        ctx.notify_db(notify::GENERIC, "move_from", db, &argv[1]);
        ctx.notify_db(notify::GENERIC, "move_to", dst, &argv[1]);
    }
    Ok(Reply::Integer(moved as i64))
}

fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = ctx.store.keys_matching(ctx.client.db, &argv[1])?;
    Ok(Reply::Array(found.into_iter().map(Reply::bulk).collect()))
}

/// SCAN's cursor, read as Redis reads it with C's `strtoul`: an optional
/// sign, then decimal digits that fit 64 bits; `-N` wraps around.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || err("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let n: u64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    Ok(if negative { n.wrapping_neg() } else { n })
}

fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[1])?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut ktype: Option<Option<KeyType>> = None;
    let mut i = 2;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(err(SYNTAX));
        };
        if is(&argv[i], "match") {
            // "*" matches everything: skip the matcher.
            pattern = (&value[..] != b"*").then_some(&value[..]);
        } else if is(&argv[i], "count") {
            let n = parse_i64(value)?;
            if n < 1 {
                return Err(err(SYNTAX));
            }
            count = n.min(1 << 20) as usize;
        } else if is(&argv[i], "type") {
            ktype = Some(KeyType::from_name(value));
        } else {
            return Err(err(SYNTAX));
        }
        i += 2;
    }
    let page = match ktype {
        // An unknown type name matches nothing (Redis 7.0 does not reject it).
        Some(None) => {
            let mut p = ctx
                .store
                .scan(ctx.client.db, cursor, count, Some(b""), None)?;
            p.keys.clear();
            p
        }
        Some(Some(t)) => ctx
            .store
            .scan(ctx.client.db, cursor, count, pattern, Some(t))?,
        None => ctx
            .store
            .scan(ctx.client.db, cursor, count, pattern, None)?,
    };
    Ok(Reply::Array(vec![
        Reply::bulk(page.cursor.to_string()),
        Reply::Array(page.keys.into_iter().map(Reply::bulk).collect()),
    ]))
}

fn randomkey(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(match ctx.store.random_key(ctx.client.db)? {
        Some(k) => Reply::bulk(k),
        None => Reply::Null,
    })
}

/// EXPIRE's NX/XX/GT/LT flags.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(argv: &[Bytes]) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for a in &argv[3..] {
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            return Err(err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

fn expire_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    seconds: bool,
    relative: bool,
    name: &str,
) -> CmdResult {
    let flags = parse_expire_flags(argv)?;
    let mut when = parse_i64(&argv[2])?;
    let invalid = || err(format!("ERR invalid expire time in '{name}' command"));
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.store.now()).ok_or_else(invalid)?;
    }
    let db = ctx.client.db;
    let Some(info) = ctx.store.lookup(db, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let current = info.expire_at;
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Integer(0));
    }
    ctx.store.set_expire(db, &argv[1], Some(when))?;
    // A time already past deletes the key, as in Redis.
    let event = if when <= ctx.store.now() {
        "del"
    } else {
        "expire"
    };
    ctx.notify(notify::GENERIC, event, &argv[1]);
    Ok(Reply::Integer(1))
}

fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, false, true, "pexpire")
}

fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, true, false, "expireat")
}

fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, false, false, "pexpireat")
}

/// TTL family: -2 for a missing key, -1 without TTL, else the TTL (relative,
/// rounded to seconds or in ms) or the expiry time (absolute).
fn ttl_generic(ctx: &mut Ctx, key: &[u8], millis: bool, absolute: bool) -> CmdResult {
    let Some(info) = ctx.store.lookup(ctx.client.db, key)? else {
        return Ok(Reply::Integer(-2));
    };
    let Some(at) = info.expire_at else {
        return Ok(Reply::Integer(-1));
    };
    let v = match (absolute, millis) {
        (true, true) => at,
        (true, false) => (at + 500) / 1000,
        (false, true) => (at - ctx.store.now()).max(0),
        (false, false) => ((at - ctx.store.now()).max(0) + 500) / 1000,
    };
    Ok(Reply::Integer(v))
}

fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], false, false)
}

fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], true, true)
}

fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    match ctx.store.lookup(db, &argv[1])? {
        Some(info) if info.expire_at.is_some() => {
            ctx.store.set_expire(db, &argv[1], None)?;
            ctx.notify(notify::GENERIC, "persist", &argv[1]);
            Ok(Reply::Integer(1))
        }
        _ => Ok(Reply::Integer(0)),
    }
}

fn dbsize(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.store.dbsize(ctx.client.db)))
}

fn flush_mode(argv: &[Bytes]) -> Result<(), CmdError> {
    match argv.len() {
        1 => Ok(()),
        2 if is(&argv[1], "async") || is(&argv[1], "sync") => Ok(()),
        _ => Err(err(SYNTAX)),
    }
}

fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    ctx.store.flush_db(ctx.client.db)?;
    ctx.signal_flushed(Some(ctx.client.db));
    Ok(Reply::OK)
}

fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    ctx.store.flush_all()?;
    ctx.signal_flushed(None);
    Ok(Reply::OK)
}

fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_i64_or(&argv[1], "ERR invalid first DB index")?;
    let b = parse_i64_or(&argv[2], "ERR invalid second DB index")?;
    let range = |n: i64| {
        usize::try_from(n)
            .ok()
            .filter(|d| *d < ferry_store::DATABASES)
            .ok_or_else(|| err("ERR DB index is out of range"))
    };
    let (a, b) = (range(a)?, range(b)?);
    ctx.store.swap_db(a, b)?;
    // Watched keys of either database that exist in either are touched
    // (Redis's touchAllWatchedKeysInDb): a swap there and back would leave
    // their versions as they were.
    let mut touched: Vec<(usize, Bytes)> = Vec::new();
    let watched = ctx
        .server
        .clients
        .values()
        .chain(std::iter::once(&*ctx.client))
        .flat_map(|c| c.watched.iter())
        .filter(|w| w.db == a || w.db == b);
    for w in watched {
        if !touched.iter().any(|(db, k)| *db == w.db && *k == w.key)
            && (ctx.store.is_live(a, &w.key)? || ctx.store.is_live(b, &w.key)?)
        {
            touched.push((w.db, w.key.clone()));
        }
    }
    for (db, key) in touched {
        super::transactions::touch_watched(ctx.server, ctx.client, db, &key);
    }
    // Clients blocked on keys of either database are retried where the
    // swapped-in data now has their key (as Redis's scanDatabaseForReadyKeys).
    for blocked in &ctx.server.blocked {
        if blocked.db == a || blocked.db == b {
            for key in &blocked.keys {
                ctx.server.ready_keys.push((blocked.db, key.to_vec()));
            }
        }
    }
    Ok(Reply::OK)
}

fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let Some(info) = ctx.store.lookup(db, &argv[2])? else {
        return Ok(Reply::Null);
    };
    let name = match info.ktype {
        KeyType::String => ctx
            .store
            .string_encoding(db, &argv[2])?
            .unwrap_or(StringEncoding::Raw)
            .name(),
        KeyType::List => "quicklist",
        KeyType::Set => ctx.store.set_encoding(&info)?,
        KeyType::ZSet => ctx.store.zset_encoding(&info)?,
        KeyType::Hash => ctx.store.hash_encoding(&info)?,
        _ => "stream",
    };
    Ok(Reply::bulk(name))
}

/// ferry does not track access times; every key reads as just used.
fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx
        .server
        .config
        .get("maxmemory-policy")
        .is_some_and(|p| p.contains("lfu"))
    {
        return Err(err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    Ok(match ctx.store.lookup(ctx.client.db, &argv[2])? {
        Some(_) => Reply::Integer(0),
        None => Reply::Null,
    })
}

fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lfu = ctx
        .server
        .config
        .get("maxmemory-policy")
        .is_some_and(|p| p.contains("lfu"));
    let Some(_) = ctx.store.lookup(ctx.client.db, &argv[2])? else {
        return Ok(Reply::Null);
    };
    if !lfu {
        return Err(err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    Ok(Reply::Integer(0))
}

/// Redis shares the integers 0..9999 (refcount INT_MAX); everything else
/// has one reference.
fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some((_, value)) = ctx.store.lookup_with_value(ctx.client.db, &argv[2])? else {
        return Ok(Reply::Null);
    };
    let shared_int = value
        .and_then(|v| ferry_store::parse_canonical_i64(&v))
        .is_some_and(|n| (0..10000).contains(&n));
    Ok(Reply::Integer(if shared_int { i32::MAX as i64 } else { 1 }))
}

fn object_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation Redis would use for the value.",
            "FREQ <key>",
            "    Return the access frequency (only with an LFU maxmemory-policy).",
            "IDLETIME <key>",
            "    Return the idle time of the key (always 0: ferry does not track access times).",
            "REFCOUNT <key>",
            "    Return the number of references of the value.",
        ],
    ))
}
