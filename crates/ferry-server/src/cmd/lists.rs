//! List commands (the non-blocking ones): pushes and pops at both ends,
//! LRANGE/LINDEX/LSET by index, LINSERT, LREM, LTRIM, LPOS, LMOVE,
//! RPOPLPUSH and LMPOP. Storage and costs: see ferry-store's `lists.rs`.

use super::args::{is, parse_i64, parse_i64_or, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::lists::{ListEnd, ListSet};
use ferry_store::KeyInfo;

const R_FAST: &[&str] = &["@read", "@list", "@fast"];
const R_SLOW: &[&str] = &["@read", "@list", "@slow"];
const W_FAST: &[&str] = &["@write", "@list", "@fast"];
const W_SLOW: &[&str] = &["@write", "@list", "@slow"];
const WD_FAST: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "fast"];
const RO: &[&str] = &["readonly"];
const ONE: (i32, i32, i32) = (1, 1, 1);
const TWO: (i32, i32, i32) = (1, 2, 1);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, WD_FAST, ONE, W_FAST, lpush),
    cmd("rpush", -3, WD_FAST, ONE, W_FAST, rpush),
    cmd("lpushx", -3, WD_FAST, ONE, W_FAST, lpushx),
    cmd("rpushx", -3, WD_FAST, ONE, W_FAST, rpushx),
    cmd("lpop", -2, WF, ONE, W_FAST, lpop),
    cmd("rpop", -2, WF, ONE, W_FAST, rpop),
    cmd("llen", 2, &["readonly", "fast"], ONE, R_FAST, llen),
    cmd("lrange", 4, RO, ONE, R_SLOW, lrange),
    cmd("lindex", 3, RO, ONE, R_SLOW, lindex),
    cmd("lset", 4, WD, ONE, W_SLOW, lset),
    cmd("linsert", 5, WD, ONE, W_SLOW, linsert),
    cmd("lrem", 4, &["write"], ONE, W_SLOW, lrem),
    cmd("ltrim", 4, &["write"], ONE, W_SLOW, ltrim),
    cmd("lpos", -3, RO, ONE, R_SLOW, lpos),
    cmd("lmove", 5, WD, TWO, W_SLOW, lmove),
    cmd("rpoplpush", 3, WD, TWO, W_SLOW, rpoplpush),
    cmd(
        "lmpop",
        -4,
        &["write", "movablekeys"],
        (0, 0, 0),
        W_SLOW,
        lmpop,
    ),
];

fn bulks(values: Vec<Vec<u8>>) -> Reply {
    Reply::Array(values.into_iter().map(Reply::bulk).collect())
}

/// A read lookup (counts a keyspace hit or miss, as Redis's lookupKeyRead).
fn read_list(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    let info = ctx.store.list_lookup(ctx.client.db, key)?;
    ctx.count_read(key, info.is_some());
    Ok(info)
}

/// LEFT or RIGHT (any case), else a syntax error.
pub(crate) fn parse_end(arg: &[u8]) -> Result<ListEnd, CmdError> {
    if is(arg, "left") {
        Ok(ListEnd::Head)
    } else if is(arg, "right") {
        Ok(ListEnd::Tail)
    } else {
        Err(err(SYNTAX))
    }
}

/// The keyspace event of a push at `end`.
pub(crate) fn push_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Head => "lpush",
        ListEnd::Tail => "rpush",
    }
}

/// Emits the events of a pop at `end` of `key`: the pop, then `del` when
/// the list is gone (Redis's order).
pub(crate) fn notify_popped(ctx: &mut Ctx, key: &[u8], end: ListEnd, emptied: bool) {
    let event = match end {
        ListEnd::Head => "lpop",
        ListEnd::Tail => "rpop",
    };
    ctx.notify(notify::LIST, event, key);
    if emptied {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// LMOVE's events: the push on the destination, then the pop on the source.
pub(crate) fn notify_moved(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: ListEnd,
    to: ListEnd,
) -> Result<(), CmdError> {
    ctx.notify(notify::LIST, push_event(to), dst);
    let emptied = ctx.store.list_lookup(ctx.client.db, src)?.is_none();
    notify_popped(ctx, src, from, emptied);
    Ok(())
}

fn push(ctx: &mut Ctx, argv: &[Bytes], end: ListEnd, only_existing: bool) -> CmdResult {
    let len = ctx
        .store
        .list_push(ctx.client.db, &argv[1], end, &argv[2..], only_existing)?;
    if len > 0 {
        ctx.notify(notify::LIST, push_event(end), &argv[1]);
    }
    Ok(Reply::Integer(len))
}

fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, ListEnd::Head, false)
}

fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, ListEnd::Tail, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, ListEnd::Head, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, ListEnd::Tail, true)
}

/// LPOP/RPOP key [count]: a bulk (nil when missing) without count, an
/// array (nil array when missing, empty for count 0) with it.
fn pop(ctx: &mut Ctx, argv: &[Bytes], end: ListEnd, name: &str) -> CmdResult {
    if argv.len() > 3 {
        return Err(err(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = parse_i64_or(a, "ERR value is out of range, must be positive")?;
            if n < 0 {
                return Err(err("ERR value is out of range, must be positive"));
            }
            Some(n)
        }
        None => None,
    };
    let db = ctx.client.db;
    let Some(info) = ctx.store.list_lookup(db, &argv[1])? else {
        return Ok(if count.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        });
    };
    match count {
        None => {
            let mut v = ctx.store.list_pop(db, &argv[1], &info, end, 1)?;
            notify_popped(ctx, &argv[1], end, info.len <= 1);
            Ok(v.pop().map(Reply::bulk).unwrap_or(Reply::Null))
        }
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let values = ctx.store.list_pop(db, &argv[1], &info, end, n)?;
            notify_popped(ctx, &argv[1], end, values.len() as i64 >= info.len);
            Ok(bulks(values))
        }
    }
}

fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, ListEnd::Head, "lpop")
}

fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, ListEnd::Tail, "rpop")
}

fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(
        read_list(ctx, &argv[1])?.map(|i| i.len).unwrap_or(0),
    ))
}

fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let Some(info) = read_list(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let values = ctx.store.list_range_shared(&info, start, end)?;
    Ok(Reply::Array(values.into_iter().map(Reply::Bulk).collect()))
}

fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(info) = read_list(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    let index = parse_i64(&argv[2])?;
    Ok(ctx
        .store
        .list_index(&info, index)?
        .map(Reply::bulk)
        .unwrap_or(Reply::Null))
}

fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(info) = ctx.store.list_lookup(ctx.client.db, &argv[1])? else {
        return Err(err("ERR no such key"));
    };
    let index = parse_i64(&argv[2])?;
    match ctx
        .store
        .list_set(ctx.client.db, &argv[1], &info, index, &argv[3])?
    {
        ListSet::Done => {
            ctx.notify(notify::LIST, "lset", &argv[1]);
            Ok(Reply::OK)
        }
        ListSet::OutOfRange => Err(err("ERR index out of range")),
    }
}

fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if is(&argv[2], "after") {
        true
    } else if is(&argv[2], "before") {
        false
    } else {
        return Err(err(SYNTAX));
    };
    let db = ctx.client.db;
    let Some(info) = ctx.store.list_lookup(db, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let len = ctx
        .store
        .list_insert(db, &argv[1], &info, after, &argv[3], &argv[4])?;
    if len > 0 {
        ctx.notify(notify::LIST, "linsert", &argv[1]);
    }
    Ok(Reply::Integer(len))
}

fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = parse_i64(&argv[2])?;
    let db = ctx.client.db;
    let Some(info) = ctx.store.list_lookup(db, &argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let removed = ctx.store.list_rem(db, &argv[1], &info, count, &argv[3])?;
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", &argv[1]);
        if removed >= info.len {
            ctx.notify(notify::GENERIC, "del", &argv[1]);
        }
    }
    Ok(Reply::Integer(removed))
}

fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let db = ctx.client.db;
    if let Some(info) = ctx.store.list_lookup(db, &argv[1])? {
        ctx.store.list_trim(db, &argv[1], &info, start, end)?;
        ctx.notify(notify::LIST, "ltrim", &argv[1]);
        if ctx.store.list_lookup(db, &argv[1])?.is_none() {
            ctx.notify(notify::GENERIC, "del", &argv[1]);
        }
    }
    Ok(Reply::OK)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, -1i64, 0i64);
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if is(&argv[i], "rank") && more {
            i += 1;
            rank = parse_i64(&argv[i])?;
            if rank == 0 {
                return Err(err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if is(&argv[i], "count") && more {
            i += 1;
            count = parse_i64_or(&argv[i], "ERR COUNT can't be negative")?;
            if count < 0 {
                return Err(err("ERR COUNT can't be negative"));
            }
        } else if is(&argv[i], "maxlen") && more {
            i += 1;
            maxlen = parse_i64_or(&argv[i], "ERR MAXLEN can't be negative")?;
            if maxlen < 0 {
                return Err(err("ERR MAXLEN can't be negative"));
            }
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    // A negative rank searches from the tail. (Redis 7.0 negates i64::MIN
    // into itself; the wrapping arithmetic below reproduces what it does.)
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(info) = read_list(ctx, &argv[1])? else {
        return Ok(if count != -1 {
            Reply::Array(Vec::new())
        } else {
            Reply::Null
        });
    };
    let found = ctx
        .store
        .list_positions(&info, &argv[2], from_tail, rank, count, maxlen)?;
    if count != -1 {
        Ok(Reply::Array(
            found.into_iter().map(Reply::Integer).collect(),
        ))
    } else {
        Ok(found
            .first()
            .map(|i| Reply::Integer(*i))
            .unwrap_or(Reply::Null))
    }
}

fn move_reply(v: Option<Vec<u8>>) -> Reply {
    v.map(Reply::bulk).unwrap_or(Reply::Null)
}

fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let v = ctx
        .store
        .list_move(ctx.client.db, &argv[1], &argv[2], from, to)?;
    if v.is_some() {
        notify_moved(ctx, &argv[1], &argv[2], from, to)?;
    }
    Ok(move_reply(v))
}

fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let v = ctx.store.list_move(
        ctx.client.db,
        &argv[1],
        &argv[2],
        ListEnd::Tail,
        ListEnd::Head,
    )?;
    if v.is_some() {
        notify_moved(ctx, &argv[1], &argv[2], ListEnd::Tail, ListEnd::Head)?;
    }
    Ok(move_reply(v))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the
/// first non-empty list; [key, [elements]] or a nil array.
pub(crate) fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    const COUNT: &str = "ERR count should be greater than 0";
    let numkeys = parse_i64_or(&argv[1], NUMKEYS)?;
    if numkeys <= 0 {
        return Err(err(NUMKEYS));
    }
    // The keys are argv[2..2+numkeys]; LEFT|RIGHT must follow them.
    if numkeys > argv.len() as i64 - 3 {
        return Err(err(SYNTAX));
    }
    let where_idx = 2 + numkeys as usize;
    let end = parse_end(&argv[where_idx])?;
    let mut count = None;
    let mut i = where_idx + 1;
    while i < argv.len() {
        if count.is_none() && is(&argv[i], "count") && i + 1 < argv.len() {
            i += 1;
            let n = parse_i64_or(&argv[i], COUNT)?;
            if n <= 0 {
                return Err(err(COUNT));
            }
            count = Some(n);
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    let count = count.unwrap_or(1);
    let db = ctx.client.db;
    for key in &argv[2..where_idx] {
        let Some(info) = ctx.store.list_lookup(db, key)? else {
            continue;
        };
        let values = ctx.store.list_pop(db, key, &info, end, count)?;
        notify_popped(ctx, key, end, values.len() as i64 >= info.len);
        return Ok(Reply::Array(vec![Reply::bulk(key.clone()), bulks(values)]));
    }
    Ok(Reply::NullArray)
}
