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

/// A blocking timeout in seconds (decimals allowed), as Redis reads it;
/// 0 means forever.
pub(crate) fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = super::args::parse_float_text(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| err("ERR timeout is not a float or out of range"))?;
    // Redis converts to milliseconds in a signed 64-bit integer: a value
    // too large for it wraps negative, and is refused as negative.
    if secs < 0.0 || secs * 1000.0 >= i64::MAX as f64 {
        return Err(err("ERR timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| err("ERR timeout is out of range"))
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
