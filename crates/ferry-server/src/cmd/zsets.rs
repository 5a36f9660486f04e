//! Sorted-set commands (Redis 7.0), without the blocking ones.
//!
//! Elements are ordered by (score, member bytes). Scores are replied with
//! `Reply::Double` (`%.17g` bulk in RESP2, a double in RESP3); WITHSCORES
//! replies are flat in RESP2 and member/score pairs in RESP3, as Redis does.

use super::args::{is, parse_i64, NOT_FLOAT, NOT_INTEGER, SYNTAX};
use super::keys::parse_cursor;
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use ferry_store::zsets::{LexBound, LexRange, ScoreRange, ZEntry};
use ferry_store::{KeyInfo, KeyType, StoreError};
use rand::Rng;
use std::collections::HashMap;

const R_FAST: &[&str] = &["@read", "@sortedset", "@fast"];
const R_SLOW: &[&str] = &["@read", "@sortedset", "@slow"];
const W_FAST: &[&str] = &["@write", "@sortedset", "@fast"];
const W_SLOW: &[&str] = &["@write", "@sortedset", "@slow"];
const RO: &[&str] = &["readonly"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const RO_MOV: &[&str] = &["readonly", "movablekeys"];
const WD_FAST: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const WD_MOV: &[&str] = &["write", "denyoom", "movablekeys"];
const W_ONLY: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const ONE: (i32, i32, i32) = (1, 1, 1);
const NONE: (i32, i32, i32) = (0, 0, 0);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("zadd", -4, WD_FAST, ONE, W_FAST, zadd),
    cmd("zincrby", 4, WD_FAST, ONE, W_FAST, zincrby),
    cmd("zrem", -3, WF, ONE, W_FAST, zrem),
    cmd("zcard", 2, RO_FAST, ONE, R_FAST, zcard),
    cmd("zscore", 3, RO_FAST, ONE, R_FAST, zscore),
    cmd("zmscore", -3, RO_FAST, ONE, R_FAST, zmscore),
    cmd("zrank", 3, RO_FAST, ONE, R_FAST, zrank),
    cmd("zrevrank", 3, RO_FAST, ONE, R_FAST, zrevrank),
    cmd("zcount", 4, RO_FAST, ONE, R_FAST, zcount),
    cmd("zlexcount", 4, RO_FAST, ONE, R_FAST, zlexcount),
    cmd("zrange", -4, RO, ONE, R_SLOW, zrange),
    cmd("zrangestore", -5, WD, (1, 2, 1), W_SLOW, zrangestore),
    cmd("zrevrange", -4, RO, ONE, R_SLOW, zrevrange),
    cmd("zrangebyscore", -4, RO, ONE, R_SLOW, zrangebyscore),
    cmd("zrevrangebyscore", -4, RO, ONE, R_SLOW, zrevrangebyscore),
    cmd("zrangebylex", -4, RO, ONE, R_SLOW, zrangebylex),
    cmd("zrevrangebylex", -4, RO, ONE, R_SLOW, zrevrangebylex),
    cmd("zremrangebyrank", 4, W_ONLY, ONE, W_SLOW, zremrangebyrank),
    cmd("zremrangebyscore", 4, W_ONLY, ONE, W_SLOW, zremrangebyscore),
    cmd("zremrangebylex", 4, W_ONLY, ONE, W_SLOW, zremrangebylex),
    cmd("zpopmin", -2, WF, ONE, W_FAST, zpopmin),
    cmd("zpopmax", -2, WF, ONE, W_FAST, zpopmax),
    cmd("zmpop", -4, &["write", "movablekeys"], NONE, W_SLOW, zmpop),
    cmd(
        "bzpopmin",
        -3,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["@write", "@sortedset", "@fast", "@blocking"],
        bzpopmin,
    ),
    cmd(
        "bzpopmax",
        -3,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["@write", "@sortedset", "@fast", "@blocking"],
        bzpopmax,
    ),
    cmd(
        "bzmpop",
        -5,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        &["@write", "@sortedset", "@slow", "@blocking"],
        bzmpop,
    ),
    cmd("zrandmember", -2, RO, ONE, R_SLOW, zrandmember),
    cmd("zunion", -3, RO_MOV, NONE, R_SLOW, zunion),
    cmd("zinter", -3, RO_MOV, NONE, R_SLOW, zinter),
    cmd("zdiff", -3, RO_MOV, NONE, R_SLOW, zdiff),
    cmd("zunionstore", -4, WD_MOV, ONE, W_SLOW, zunionstore),
    cmd("zinterstore", -4, WD_MOV, ONE, W_SLOW, zinterstore),
    cmd("zdiffstore", -4, WD_MOV, ONE, W_SLOW, zdiffstore),
    cmd("zintercard", -3, RO_MOV, NONE, R_SLOW, zintercard),
    cmd("zscan", -3, RO, ONE, R_SLOW, zscan),
];

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const MINMAX_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_LEX: &str = "ERR min or max not valid string range item";

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// strtod's grammar for hexadecimal floats (`0x1.8p3`), after the sign.
fn parse_hex_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let (mant, exp) = match body.find(['p', 'P']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.strip_prefix('+').unwrap_or(e).parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(v)
}

/// The whole text as a C `strtod` number (no leading blanks handled here).
fn strtod_full(s: &str) -> Option<f64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if rest.len() > 1 && (rest.starts_with("0x") || rest.starts_with("0X")) {
        parse_hex_float(rest)?
    } else {
        if rest.starts_with(['+', '-']) {
            return None;
        }
        rest.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A score, increment or weight as Redis's `getDoubleFromObject` reads it:
/// the whole argument, no leading blank, no NaN, no overflow/underflow.
pub(super) fn parse_score_text(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.as_bytes()[0].is_ascii_whitespace() || s.as_bytes()[0] == 0x0b {
        return None;
    }
    let v = strtod_full(s)?;
    if v.is_nan() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None; // ERANGE overflow
    }
    if v == 0.0 {
        // ERANGE underflow: a nonzero mantissa that rounded to zero.
        let mant = lower
            .trim_start_matches(['+', '-'])
            .trim_start_matches("0x")
            .split(['e', 'p'])
            .next()
            .unwrap_or("");
        if mant.chars().any(|c| c.is_ascii_hexdigit() && c != '0') {
            return None;
        }
    }
    Some(v)
}

fn parse_score(arg: &[u8]) -> Result<f64, CmdError> {
    parse_score_text(arg).ok_or_else(|| err(NOT_FLOAT))
}

/// One end of a score range, as `zslParseRange` reads it: `(` for an
/// exclusive bound, then C `strtod` (leading blanks allowed, empty is 0).
fn parse_range_item(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let s = std::str::from_utf8(rest).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let v = if s.is_empty() {
        0.0
    } else if t.is_empty() {
        return None;
    } else {
        strtod_full(t)?
    };
    if v.is_nan() {
        return None;
    }
    Some((v, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (parse_range_item(min), parse_range_item(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(err(MINMAX_FLOAT)),
    }
}

fn parse_lex_item(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'[' => Some(LexBound::Incl(arg[1..].to_vec())),
        b'(' => Some(LexBound::Excl(arg[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (parse_lex_item(min), parse_lex_item(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(err(MINMAX_LEX)),
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn read(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    Ok(ctx.store.lookup_typed(ctx.client.db, key, KeyType::ZSet)?)
}

fn resp3(ctx: &Ctx) -> bool {
    ctx.client.protocol == Protocol::Resp3
}

/// Elements as a reply: members only, or with scores (flat in RESP2,
/// pairs in RESP3).
fn entries_reply(ctx: &Ctx, items: Vec<ZEntry>, withscores: bool) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::bulk(m)).collect());
    }
    if resp3(ctx) {
        Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
                .collect(),
        )
    } else {
        Reply::Array(
            items
                .into_iter()
                .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
                .collect(),
        )
    }
}

/// Removes `members` from the set and updates its count (deleting the key
/// when it empties). The members must exist.
fn remove_members(
    ctx: &mut Ctx,
    key: &[u8],
    info: &KeyInfo,
    members: impl IntoIterator<Item = Vec<u8>>,
) -> Result<i64, CmdError> {
    let mut n = 0;
    for m in members {
        ctx.store.elem_del(KeyType::ZSet, info.id, &m)?;
        n += 1;
    }
    if n > 0 {
        ctx.store
            .set_collection_len(ctx.client.db, key, info, info.len - n)?;
    }
    Ok(n)
}

/// Replaces `dst` with a sorted set of `items` (or deletes it when empty),
/// and emits `event` (or `del`), as the *STORE commands do.
fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[ZEntry], event: &str) -> Result<(), CmdError> {
    let db = ctx.client.db;
    let existed = if items.is_empty() {
        ctx.store.delete(db, dst)?
    } else {
        let (info, existed) = ctx.store.create_replacing(db, dst, KeyType::ZSet)?;
        for (m, s) in items {
            ctx.store.zset_put(info.id, m, *s)?;
        }
        ctx.store
            .set_collection_len(db, dst, &info, items.len() as i64)?;
        existed
    };
    // After the creation: `new` comes before the command's event.
    ctx.notify_stored(notify::ZSET, event, dst, items.len() as i64, existed);
    Ok(())
}

/// Clamps Redis-style start/stop indexes to `len`; None when empty.
fn clamp_rank(len: i64, start: i64, stop: i64) -> Option<(i64, i64)> {
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start, stop))
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY
// ---------------------------------------------------------------------------

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

pub(super) fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else if is(a, "ch") {
            f.ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let elems = argv.len() - i;
    if !elems.is_multiple_of(2) || elems == 0 {
        return Err(err(SYNTAX));
    }
    if f.nx && f.xx {
        return Err(err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elems > 2 {
        return Err(err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(elems / 2);
    for c in argv[i..].chunks(2) {
        pairs.push((parse_score(&c[0])?, &c[1]));
    }
    add_generic(ctx, &argv[1], f, &pairs)
}

fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_score(&argv[2])?;
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_generic(ctx, &argv[1], f, &[(incr, &argv[3])])
}

fn add_generic(ctx: &mut Ctx, key: &[u8], f: AddFlags, pairs: &[(f64, &Bytes)]) -> CmdResult {
    let db = ctx.client.db;
    let existing = read(ctx, key)?;
    let info = match existing {
        Some(info) => info,
        None if f.xx => {
            return Ok(if f.incr {
                Reply::Null
            } else {
                Reply::Integer(0)
            })
        }
        None => ctx.store.lookup_or_create(db, key, KeyType::ZSet)?,
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut len = info.len;
    let mut failure = None;
    for (score, member) in pairs {
        let mut score = *score;
        match ctx.store.zset_score(info.id, member)? {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        failure = Some(err(NAN_SCORE));
                        break;
                    }
                }
                if (f.lt && score >= cur) || (f.gt && score <= cur) {
                    continue;
                }
                processed += 1;
                last_score = score;
                if score != cur {
                    ctx.store.zset_put(info.id, member, score)?;
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                ctx.store.zset_put(info.id, member, score)?;
                len += 1;
                added += 1;
                processed += 1;
                last_score = score;
            }
        }
    }
    ctx.store.set_collection_len(db, key, &info, len)?;
    if added + updated > 0 {
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(if f.incr {
        if processed > 0 {
            Reply::Double(last_score)
        } else {
            Reply::Null
        }
    } else {
        Reply::Integer(if f.ch { added + updated } else { added })
    })
}

// ---------------------------------------------------------------------------
// Point reads and removal
// ---------------------------------------------------------------------------

fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let mut gone = Vec::new();
    for m in &argv[2..] {
        if gone.iter().any(|g: &Vec<u8>| g == m) {
            continue;
        }
        if ctx.store.zset_score(info.id, m)?.is_some() {
            gone.push(m.to_vec());
        }
    }
    let n = remove_members(ctx, &argv[1], &info, gone)?;
    if n > 0 {
        ctx.notify_removed(notify::ZSET, "zrem", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(read(ctx, &argv[1])?.map_or(0, |i| i.len)))
}

fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(match ctx.store.zset_score(info.id, &argv[2])? {
        Some(s) => Reply::Double(s),
        None => Reply::Null,
    })
}

fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let info = read(ctx, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let s = match info {
            Some(info) => ctx.store.zset_score(info.id, m)?,
            None => None,
        };
        out.push(s.map_or(Reply::Null, Reply::Double));
    }
    Ok(Reply::Array(out))
}

fn rank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(match ctx.store.zset_rank(info.id, &argv[2])? {
        Some(r) => Reply::Integer(if rev { info.len - 1 - r } else { r }),
        None => Reply::Null,
    })
}

fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    Ok(Reply::Integer(ctx.store.zset_count_score(info.id, &range)?))
}

fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    Ok(Reply::Integer(ctx.store.zset_count_lex(info.id, &range)?))
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// Parsed range request, before the key is looked up.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Redis's `zrangeGenericCommand`: `argv[src]` is the source key, then
/// min, max and options. With `dst`, stores the result instead.
fn range_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    src: usize,
    dst: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let store = dst.is_some();
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = parse_i64(&argv[j + 1])?;
            limit = parse_i64(&argv[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && is(a, "rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && is(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = dir == Direction::Reverse;
    let (mut lo, mut hi) = (&argv[src + 1], &argv[src + 2]);
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match rtype {
        RangeType::Score => Range::Score(parse_score_range(lo, hi)?),
        RangeType::Lex => Range::Lex(parse_lex_range(lo, hi)?),
        _ => Range::Rank(parse_i64(lo)?, parse_i64(hi)?),
    };
    let limit = (limit >= 0).then_some(limit);
    let items = match read(ctx, &argv[src])? {
        None => Vec::new(),
        Some(info) => match &range {
            Range::Rank(start, stop) => match clamp_rank(info.len, *start, *stop) {
                Some((a, b)) => ctx.store.zset_by_rank(&info, a, b, rev)?,
                None => Vec::new(),
            },
            Range::Score(r) => {
                if offset > 0 && offset >= info.len {
                    Vec::new()
                } else {
                    ctx.store.zset_by_score(info.id, r, rev, offset, limit)?
                }
            }
            Range::Lex(r) => ctx.store.zset_by_lex(info.id, r, rev, offset, limit)?,
        },
    };
    match dst {
        Some(dst) => {
            store_result(ctx, dst, &items, "zrangestore")?;
            Ok(Reply::Integer(items.len() as i64))
        }
        None => Ok(entries_reply(ctx, items, withscores)),
    }
}

fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Auto, Direction::Auto)
}

fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    range_generic(ctx, argv, 2, Some(&dst), RangeType::Auto, Direction::Auto)
}

fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Rank, Direction::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Score, Direction::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Score, Direction::Reverse)
}

fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Lex, Direction::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeType::Lex, Direction::Reverse)
}

fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let Some((a, b)) = clamp_rank(info.len, start, stop) else {
        return Ok(Reply::Integer(0));
    };
    let items = ctx.store.zset_by_rank(&info, a, b, false)?;
    let n = remove_members(ctx, &argv[1], &info, items.into_iter().map(|(m, _)| m))?;
    if n > 0 {
        ctx.notify_removed(notify::ZSET, "zremrangebyrank", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let items = ctx.store.zset_by_score(info.id, &range, false, 0, None)?;
    let n = remove_members(ctx, &argv[1], &info, items.into_iter().map(|(m, _)| m))?;
    if n > 0 {
        ctx.notify_removed(notify::ZSET, "zremrangebyscore", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let items = ctx.store.zset_by_lex(info.id, &range, false, 0, None)?;
    let n = remove_members(ctx, &argv[1], &info, items.into_iter().map(|(m, _)| m))?;
    if n > 0 {
        ctx.notify_removed(notify::ZSET, "zremrangebylex", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

// ---------------------------------------------------------------------------
// Pops and random members
// ---------------------------------------------------------------------------

/// Pops up to `count` elements from the low (or with `max`, high) end.
fn pop(
    ctx: &mut Ctx,
    key: &[u8],
    info: &KeyInfo,
    count: i64,
    max: bool,
) -> Result<Vec<ZEntry>, CmdError> {
    let n = count.min(info.len);
    if n <= 0 {
        return Ok(Vec::new());
    }
    let items = ctx.store.zset_by_rank(info, 0, n - 1, max)?;
    remove_members(ctx, key, info, items.iter().map(|(m, _)| m.clone()))?;
    ctx.notify_removed(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key)?;
    Ok(items)
}

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(err(SYNTAX));
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = parse_i64(a)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err("ERR value is out of range, must be positive"))?;
            Some(n)
        }
        None => None,
    };
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = pop(ctx, &argv[1], &info, count.unwrap_or(1), max)?;
    Ok(if count.is_none() {
        // Without COUNT: a flat member, score pair in both protocols.
        Reply::Array(
            items
                .into_iter()
                .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
                .collect(),
        )
    } else {
        entries_reply(ctx, items, true)
    })
}

fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, true)
}

fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = parse_i64(&argv[1])
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| err("ERR numkeys should be greater than 0"))?;
    let rest = argv.len() as i64 - 2;
    if numkeys >= rest {
        return Err(err(SYNTAX));
    }
    let keys = &argv[2..2 + numkeys as usize];
    let mut j = 2 + numkeys as usize;
    let max = if is(&argv[j], "min") {
        false
    } else if is(&argv[j], "max") {
        true
    } else {
        return Err(err(SYNTAX));
    };
    j += 1;
    let mut count: Option<i64> = None;
    while j < argv.len() {
        if count.is_none() && is(&argv[j], "count") && j + 1 < argv.len() {
            let n = parse_i64(&argv[j + 1])
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| err("ERR count should be greater than 0"))?;
            count = Some(n);
            j += 2;
        } else {
            return Err(err(SYNTAX));
        }
    }
    for key in keys {
        let Some(info) = read(ctx, key)? else {
            continue;
        };
        let items = pop(ctx, key, &info, count.unwrap_or(1), max)?;
        let pairs = items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
            .collect();
        return Ok(Reply::Array(vec![
            Reply::bulk(key.clone()),
            Reply::Array(pairs),
        ]));
    }
    Ok(Reply::NullArray)
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: the first non-empty set's
/// lowest (highest) member as [key, member, score], or wait for one.
fn bzpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let timeout = super::blocking::parse_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        let Some(info) = read(ctx, key)? else {
            continue;
        };
        if let Some((member, score)) = pop(ctx, key, &info, 1, max)?.pop() {
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulk(member),
                Reply::Double(score),
            ]));
        }
    }
    ctx.block(keys.to_vec(), KeyType::ZSet, timeout, Reply::NullArray)
}

fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP, or
/// wait when every set is empty.
fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = super::blocking::parse_timeout(&argv[1])?;
    let inner: Vec<Bytes> = std::iter::once(argv[0].clone())
        .chain(argv[2..].iter().cloned())
        .collect();
    match zmpop(ctx, &inner)? {
        Reply::NullArray => {
            // zmpop validated numkeys and the key list.
            let numkeys = parse_i64(&argv[2]).unwrap_or(0).max(0) as usize;
            let keys = argv[3..3 + numkeys].to_vec();
            ctx.block(keys, KeyType::ZSet, timeout, Reply::NullArray)
        }
        reply => Ok(reply),
    }
}

fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = match argv.get(2) {
        None => None,
        Some(a) => {
            let n = parse_i64(a)?;
            if n == i64::MIN {
                return Err(err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            Some(n)
        }
    };
    if argv.len() > 4 || (argv.len() == 4 && !is(&argv[3], "withscores")) {
        return Err(err(SYNTAX));
    }
    let withscores = argv.len() == 4;
    if withscores && count.is_some_and(|n| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n)) {
        return Err(err("ERR value is out of range"));
    }
    let info = read(ctx, &argv[1])?;
    let Some(count) = count else {
        let Some(info) = info else {
            return Ok(Reply::Null);
        };
        let r = rand::thread_rng().gen_range(0..info.len);
        let mut e = ctx.store.zset_by_rank(&info, r, r, false)?;
        return Ok(e.pop().map_or(Reply::Null, |(m, _)| Reply::bulk(m)));
    };
    let Some(info) = info else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let len = info.len;
    let mut rng = rand::thread_rng();
    let items: Vec<ZEntry> = if count > 0 && count >= len {
        ctx.store.zset_all(info.id)?
    } else if count > 0 {
        // Distinct ranks.
        let want = count as usize;
        if (count as f64) * 3.0 > len as f64 || len <= 512 {
            let mut all = ctx.store.zset_all(info.id)?;
            for i in 0..want {
                let j = rng.gen_range(i..all.len());
                all.swap(i, j);
            }
            all.truncate(want);
            all
        } else {
            let mut picked = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(want);
            while out.len() < want {
                let r = rng.gen_range(0..len);
                if picked.insert(r) {
                    out.extend(ctx.store.zset_by_rank(&info, r, r, false)?);
                }
            }
            out
        }
    } else {
        let want = count.unsigned_abs() as usize;
        if len <= 1024 || want as i64 > len / 4 {
            let all = ctx.store.zset_all(info.id)?;
            (0..want)
                .map(|_| all[rng.gen_range(0..all.len())].clone())
                .collect()
        } else {
            let mut out = Vec::with_capacity(want);
            for _ in 0..want {
                let r = rng.gen_range(0..len);
                out.extend(ctx.store.zset_by_rank(&info, r, r, false)?);
            }
            out
        }
    };
    Ok(entries_reply(ctx, items, withscores))
}

// ---------------------------------------------------------------------------
// Set operations
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, acc: &mut f64, v: f64) {
    match a {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v
            }
        }
    }
}

/// One input of a set operation: a sorted set or a plain set (score 1).
struct Source {
    info: Option<KeyInfo>,
    weight: f64,
}

fn source_elems(ctx: &mut Ctx, s: &Source) -> Result<Vec<ZEntry>, CmdError> {
    match s.info {
        None => Ok(Vec::new()),
        Some(i) if i.ktype == KeyType::ZSet => Ok(ctx.store.zset_all(i.id)?),
        Some(i) => Ok(ctx.store.zset_set_members(i.id)?),
    }
}

fn source_score(ctx: &mut Ctx, s: &Source, m: &[u8]) -> Result<Option<f64>, CmdError> {
    match s.info {
        None => Ok(None),
        Some(i) if i.ktype == KeyType::ZSet => Ok(ctx.store.zset_score(i.id, m)?),
        Some(i) => Ok(ctx.store.zset_set_has(i.id, m)?.then_some(1.0)),
    }
}

/// Redis's `zunionInterDiffGenericCommand`. `numkeys_at` is the index of
/// numkeys; `dst` the destination for the STORE forms; `card_only` for
/// ZINTERCARD.
fn setop_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    numkeys_at: usize,
    dst: Option<&[u8]>,
    op: SetOp,
    card_only: bool,
    name: &str,
) -> CmdResult {
    let n = parse_i64(&argv[numkeys_at])?;
    if n < 1 {
        return Err(err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if n > (argv.len() - numkeys_at - 1) as i64 {
        return Err(err(SYNTAX));
    }
    let n = n as usize;
    let db = ctx.client.db;
    let mut sources = Vec::with_capacity(n);
    for key in &argv[numkeys_at + 1..numkeys_at + 1 + n] {
        let info = ctx.store.lookup(db, key)?;
        if let Some(i) = &info {
            if i.ktype != KeyType::ZSet && i.ktype != KeyType::Set {
                return Err(CmdError::Store(StoreError::WrongType));
            }
        }
        sources.push(Source { info, weight: 1.0 });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_at + 1 + n;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card_only && remaining > n && is(a, "weights") {
            j += 1;
            for s in sources.iter_mut() {
                s.weight = parse_score_text(&argv[j])
                    .ok_or_else(|| err("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = &argv[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(err(SYNTAX));
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            limit = parse_i64(&argv[j + 1])
                .ok()
                .filter(|l| *l >= 0)
                .ok_or_else(|| err("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(err(SYNTAX));
        }
    }
    let mut result: Vec<ZEntry> = Vec::new();
    match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            // Smallest input first, as Redis does (it changes float sums).
            let mut order: Vec<&Source> = sources.iter().collect();
            order.sort_by_key(|s| s.info.map_or(0, |x| x.len));
            for s in order {
                for (m, sc) in source_elems(ctx, s)? {
                    let mut v = s.weight * sc;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate(agg, cur, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Inter => {
            // Smallest input first, as Redis does.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| sources[i].info.map_or(0, |x| x.len));
            let first = &sources[order[0]];
            'outer: for (m, sc) in source_elems(ctx, first)? {
                let mut v = first.weight * sc;
                if v.is_nan() {
                    v = 0.0;
                }
                for &k in &order[1..] {
                    let s = &sources[k];
                    let Some(other) = source_score(ctx, s, &m)? else {
                        continue 'outer;
                    };
                    // Redis zeroes only the running total, not this term.
                    aggregate(agg, &mut v, s.weight * other);
                }
                result.push((m, v));
                if card_only && limit > 0 && result.len() as i64 >= limit {
                    break;
                }
            }
        }
        SetOp::Diff => {
            'outer2: for (m, sc) in source_elems(ctx, &sources[0])? {
                for s in &sources[1..] {
                    if source_score(ctx, s, &m)?.is_some() {
                        continue 'outer2;
                    }
                }
                result.push((m, sc));
            }
        }
    }
    if card_only {
        return Ok(Reply::Integer(result.len() as i64));
    }
    // -0 and 0 are equal scores (ties go by member), as in Redis.
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    match dst {
        Some(dst) => {
            store_result(ctx, dst, &result, name)?;
            Ok(Reply::Integer(result.len() as i64))
        }
        None => Ok(entries_reply(ctx, result, withscores)),
    }
}

fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Union, false, "zunion")
}

fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, false, "zinter")
}

fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Diff, false, "zdiff")
}

fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    setop_generic(ctx, argv, 2, Some(&dst), SetOp::Union, false, "zunionstore")
}

fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    setop_generic(ctx, argv, 2, Some(&dst), SetOp::Inter, false, "zinterstore")
}

fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    setop_generic(ctx, argv, 2, Some(&dst), SetOp::Diff, false, "zdiffstore")
}

fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, true, "zintercard")
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let empty = || {
        Reply::Array(vec![
            Reply::bulk(Bytes::from_static(b"0")),
            Reply::Array(Vec::new()),
        ])
    };
    let Some(info) = read(ctx, &argv[1])? else {
        return Ok(empty());
    };
    let mut pattern: Option<Bytes> = None;
    let mut count = 10i64;
    let mut i = 3;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if is(&argv[i], "count") && left >= 1 {
            count = parse_i64(&argv[i + 1]).map_err(|_| err(NOT_INTEGER))?;
            if count < 1 {
                return Err(err(SYNTAX));
            }
        } else if is(&argv[i], "match") && left >= 1 {
            pattern = (&argv[i + 1][..] != b"*").then(|| argv[i + 1].clone());
        } else {
            return Err(err(SYNTAX));
        }
        i += 2;
    }
    // A small set (listpack in Redis) comes back whole in one call.
    let (next, items) = if ctx.store.zset_encoding(&info)? == "listpack" {
        (0, ctx.store.zset_all(info.id)?)
    } else {
        ctx.store
            .zset_scan(info.id, cursor, count.min(1 << 20) as usize)?
    };
    let mut out = Vec::new();
    for (m, s) in items {
        if let Some(p) = &pattern {
            if !ferry_store::glob::glob_match(p, &m, false) {
                continue;
            }
        }
        out.push(Reply::bulk(m));
        out.push(Reply::bulk(ferry_resp::format_double(s)));
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(out),
    ]))
}
