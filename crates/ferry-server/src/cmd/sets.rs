//! Set commands: membership, random picks, moves, the multi-key algebra
//! (SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD) and SSCAN.
//! Their table entries are in `hashes.rs`.

use super::{
    in_pick_order, parse_rand_count, parse_scan_opts, random_offsets, scan_reply, typed_read,
};
use crate::cmd::args::{is, parse_i64_or, SYNTAX};
use crate::cmd::{err, CmdError, CmdResult, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{KeyInfo, KeyType};
use std::collections::BTreeSet;

fn lookup(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    Ok(ctx.store.set_lookup(ctx.client.db, key)?)
}

/// A lookup by a read-only command (counts a keyspace hit or miss).
fn lookup_read(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    typed_read(ctx, key, KeyType::Set)
}

fn bulks(members: Vec<Vec<u8>>) -> Vec<Reply> {
    members.into_iter().map(Reply::bulk).collect()
}

/// Members in the order Redis replies with them when it can be known: a
/// set Redis keeps as an intset (at most 512 integers) is walked in
/// ascending numeric order. Other sets keep member order (Redis's hash
/// table order is not defined).
fn in_redis_order(mut members: Vec<Vec<u8>>) -> Vec<Reply> {
    if members.len() <= 512 {
        let nums: Option<Vec<i64>> = members
            .iter()
            .map(|m| ferry_store::parse_canonical_i64(m))
            .collect();
        if let Some(nums) = nums {
            let mut pairs: Vec<(i64, Vec<u8>)> = nums.into_iter().zip(members).collect();
            pairs.sort_unstable_by_key(|(n, _)| *n);
            members = pairs.into_iter().map(|(_, m)| m).collect();
        }
    }
    bulks(members)
}

fn members_of(argv: &[Bytes]) -> Vec<&[u8]> {
    argv.iter().map(|m| &m[..]).collect()
}

pub(super) fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = ctx
        .store
        .set_add_members(ctx.client.db, &argv[1], &members_of(&argv[2..]))?;
    if n > 0 {
        ctx.notify(notify::SET, "sadd", &argv[1]);
    }
    Ok(Reply::Integer(n))
}

pub(super) fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = ctx
        .store
        .set_rem_members(ctx.client.db, &argv[1], &members_of(&argv[2..]))?;
    if n > 0 {
        ctx.notify_removed(notify::SET, "srem", &argv[1])?;
    }
    Ok(Reply::Integer(n))
}

pub(super) fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let all = match lookup_read(ctx, &argv[1])? {
        Some(info) => ctx.store.set_members(info.id)?,
        None => Vec::new(),
    };
    Ok(Reply::Set(in_redis_order(all)))
}

pub(super) fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = match lookup_read(ctx, &argv[1])? {
        Some(info) => ctx.store.set_contains(info.id, &argv[2])?,
        None => false,
    };
    Ok(Reply::Integer(found as i64))
}

pub(super) fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let info = lookup_read(ctx, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let found = match info {
            Some(info) => ctx.store.set_contains(info.id, m)?,
            None => false,
        };
        out.push(Reply::Integer(found as i64));
    }
    Ok(Reply::Array(out))
}

pub(super) fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(
        lookup_read(ctx, &argv[1])?.map_or(0, |i| i.len),
    ))
}

/// A uniformly random member of a non-empty set.
fn random_member(ctx: &mut Ctx, info: &KeyInfo) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(ctx.store.set_random_member(info.id)?)
}

pub(super) fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    if argv.len() > 3 {
        return Err(err(SYNTAX));
    }
    if argv.len() == 2 {
        let Some(info) = lookup(ctx, &argv[1])? else {
            return Ok(Reply::Null);
        };
        let Some(m) = random_member(ctx, &info)? else {
            return Ok(Reply::Null);
        };
        ctx.store.set_remove_present(db, &argv[1], &info, &m)?;
        ctx.notify_removed(notify::SET, "spop", &argv[1])?;
        return Ok(Reply::bulk(m));
    }
    const POSITIVE: &str = "ERR value is out of range, must be positive";
    let count = parse_i64_or(&argv[2], POSITIVE)?;
    if count < 0 {
        return Err(err(POSITIVE));
    }
    let Some(info) = lookup(ctx, &argv[1])? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let len = info.len as u64;
    if count as u64 >= len {
        let all = ctx.store.set_members(info.id)?;
        ctx.store.delete(db, &argv[1])?;
        ctx.notify(notify::SET, "spop", &argv[1]);
        ctx.notify(notify::GENERIC, "del", &argv[1]);
        return Ok(Reply::Set(in_redis_order(all)));
    }
    let picks = random_offsets(len, count as u64, true);
    let picked = in_pick_order(&picks, |o| Ok(ctx.store.set_members_at(info.id, o)?))?;
    let refs: Vec<&[u8]> = picked.iter().map(|m| &m[..]).collect();
    ctx.store.set_rem_from(db, &argv[1], &info, &refs)?;
    ctx.notify_removed(notify::SET, "spop", &argv[1])?;
    Ok(Reply::Set(bulks(picked)))
}

pub(super) fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(err(SYNTAX));
    }
    if argv.len() == 2 {
        let Some(info) = lookup_read(ctx, &argv[1])? else {
            return Ok(Reply::Null);
        };
        return Ok(random_member(ctx, &info)?
            .map(Reply::bulk)
            .unwrap_or(Reply::Null));
    }
    let count = parse_rand_count(&argv[2])?;
    let Some(info) = lookup_read(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let len = info.len as u64;
    if count > 0 && count as u64 >= len {
        let all = ctx.store.set_members(info.id)?;
        return Ok(Reply::Array(in_redis_order(all)));
    }
    let picks = random_offsets(len, count.unsigned_abs(), count > 0);
    let picked = in_pick_order(&picks, |o| Ok(ctx.store.set_members_at(info.id, o)?))?;
    Ok(Reply::Array(bulks(picked)))
}

pub(super) fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    // A missing source answers 0 before any type check, as in Redis.
    if ctx.store.lookup(db, src)?.is_none() {
        return Ok(Reply::Integer(0));
    }
    let Some(src_info) = lookup(ctx, src)? else {
        return Ok(Reply::Integer(0));
    };
    lookup(ctx, dst)?;
    if src == dst {
        let found = ctx.store.set_contains(src_info.id, member)?;
        return Ok(Reply::Integer(found as i64));
    }
    if ctx.store.set_rem_from(db, src, &src_info, &[member])? == 0 {
        return Ok(Reply::Integer(0));
    }
    ctx.notify_removed(notify::SET, "srem", src)?;
    if ctx.store.set_add_members(db, dst, &[member])? > 0 {
        ctx.notify(notify::SET, "sadd", dst);
    }
    Ok(Reply::Integer(1))
}

/// The sets named by `keys` in order; WRONGTYPE if any holds another type.
/// A missing key is None. Every lookup counts a keyspace hit or miss, STORE
/// forms included (as in Redis 7.0).
fn sets_of(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<KeyInfo>>, CmdError> {
    keys.iter().map(|k| lookup_read(ctx, k)).collect()
}

/// The intersection of `keys`, stopping after `limit` members (0 = all).
fn inter(ctx: &mut Ctx, keys: &[Bytes], limit: usize) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = sets_of(ctx, keys)?;
    let Some(mut sets) = sets.into_iter().collect::<Option<Vec<KeyInfo>>>() else {
        return Ok(Vec::new());
    };
    sets.sort_by_key(|s| s.len);
    let (first, rest) = sets.split_first().expect("at least one key");
    let mut out = Vec::new();
    'members: for m in ctx.store.set_members(first.id)? {
        for other in rest {
            if other.id != first.id && !ctx.store.set_contains(other.id, &m)? {
                continue 'members;
            }
        }
        out.push(m);
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

fn union(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = sets_of(ctx, keys)?;
    let mut out = BTreeSet::new();
    for info in sets.into_iter().flatten() {
        out.extend(ctx.store.set_members(info.id)?);
    }
    Ok(out.into_iter().collect())
}

fn diff(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = sets_of(ctx, keys)?;
    let Some(first) = sets[0] else {
        return Ok(Vec::new());
    };
    let others: Vec<KeyInfo> = sets[1..].iter().flatten().copied().collect();
    if others.iter().any(|o| o.id == first.id) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    'members: for m in ctx.store.set_members(first.id)? {
        for o in &others {
            if ctx.store.set_contains(o.id, &m)? {
                continue 'members;
            }
        }
        out.push(m);
    }
    Ok(out)
}

pub(super) fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(in_redis_order(inter(ctx, &argv[1..], 0)?)))
}

pub(super) fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(in_redis_order(union(ctx, &argv[1..])?)))
}

pub(super) fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(in_redis_order(diff(ctx, &argv[1..])?)))
}

fn store(ctx: &mut Ctx, dst: &[u8], members: Vec<Vec<u8>>, event: &str) -> CmdResult {
    let existed = ctx.store.lookup(ctx.client.db, dst)?.is_some();
    let n = ctx.store.set_replace(ctx.client.db, dst, &members)?;
    ctx.notify_stored(notify::SET, event, dst, n, existed);
    Ok(Reply::Integer(n))
}

pub(super) fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let members = inter(ctx, &argv[2..], 0)?;
    store(ctx, &argv[1], members, "sinterstore")
}

pub(super) fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let members = union(ctx, &argv[2..])?;
    store(ctx, &argv[1], members, "sunionstore")
}

pub(super) fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let members = diff(ctx, &argv[2..])?;
    store(ctx, &argv[1], members, "sdiffstore")
}

pub(super) fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    const LIMIT: &str = "ERR LIMIT can't be negative";
    let numkeys = parse_i64_or(&argv[1], NUMKEYS)?;
    if numkeys < 1 {
        return Err(err(NUMKEYS));
    }
    if numkeys > argv.len() as i64 - 2 {
        return Err(err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < argv.len() {
        match argv.get(i + 1) {
            Some(v) if is(&argv[i], "limit") => {
                let n = parse_i64_or(v, LIMIT)?;
                if n < 0 {
                    return Err(err(LIMIT));
                }
                limit = usize::try_from(n).unwrap_or(usize::MAX);
                i += 2;
            }
            _ => return Err(err(SYNTAX)),
        }
    }
    let n = inter(ctx, &argv[2..end], limit)?.len();
    Ok(Reply::Integer(n as i64))
}

pub(super) fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = crate::cmd::keys::parse_cursor(&argv[2])?;
    let Some(info) = lookup_read(ctx, &argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (count, pattern) = parse_scan_opts(&argv[3..])?;
    let (next, page) = ctx.store.set_scan(&info, cursor, count, pattern)?;
    Ok(scan_reply(next, in_redis_order(page)))
}
