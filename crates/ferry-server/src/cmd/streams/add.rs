//! Writing entries: XADD (with its trimming options), XTRIM, XDEL, XSETID,
//! and XLEN.

use super::{parse_strict_id, read_stream, write_stream, INVALID_ID};
use crate::cmd::args::{is, parse_i64, SYNTAX};
use crate::cmd::{err, CmdError, CmdResult, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::streams::{StreamId, Trim, TrimStrategy};

/// The id XADD was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdSpec {
    /// `*`.
    Auto,
    /// An explicit id; `true` when its sequence is `*` (`5-*`).
    Explicit(StreamId, bool),
}

/// What XADD's and XTRIM's options say.
struct AddTrimArgs {
    trim: Option<Trim>,
    nomkstream: bool,
    id: IdSpec,
    /// Where the id is (XADD), or the end of the arguments.
    idpos: usize,
}

/// Parses XADD's options and id (`xadd`) or XTRIM's options, with Redis's
/// errors and their order.
fn parse_add_trim(ctx: &Ctx, argv: &[Bytes], xadd: bool) -> Result<AddTrimArgs, CmdError> {
    const BOTH: &str =
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut nomkstream = false;
    let mut id = IdSpec::Auto;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i][..];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(err(BOTH));
            }
            approx = false;
            let next = &argv[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let value = &argv[i + 1];
            strategy = Some(if is(opt, "maxlen") {
                let n = parse_i64(value)?;
                if n < 0 {
                    return Err(err("ERR The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(parse_strict_id(value)?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err(err("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            let (parsed, seq_auto) =
                StreamId::parse_full(opt, 0, true, true).ok_or_else(|| err(INVALID_ID))?;
            id = IdSpec::Explicit(parsed, seq_auto);
            break;
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    if limit.is_some_and(|l| l > 0) && strategy.is_none() {
        return Err(err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && strategy.is_none() {
        return Err(err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    let limit = match limit {
        Some(_) if !approx => {
            return Err(err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(l) => l as u64,
        None if approx => {
            let per_node = ctx.server.config.stream_node_limits().max_entries;
            match per_node.saturating_mul(100) {
                0 => 10_000,
                l => l,
            }
        }
        None => 0,
    };
    Ok(AddTrimArgs {
        trim: strategy.map(|strategy| Trim {
            strategy,
            approx,
            limit,
        }),
        nomkstream,
        id,
        idpos: i,
    })
}

/// The id `*` gives: the current time, or right after the last id when
/// the clock is behind it.
fn next_auto_id(last: StreamId, now_ms: i64) -> Option<StreamId> {
    let ms = now_ms.max(0) as u64;
    if ms > last.ms {
        Some(StreamId::new(ms, 0))
    } else {
        last.next()
    }
}

pub(super) fn xadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = parse_add_trim(ctx, argv, true)?;
    let field_pos = args.idpos + 1;
    let nfields = argv.len() as i64 - field_pos as i64;
    if nfields < 2 || nfields % 2 == 1 {
        return Err(err("ERR wrong number of arguments for 'xadd' command"));
    }
    if args.id == IdSpec::Explicit(StreamId::MIN, false) {
        return Err(err("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let key = &argv[1];
    let db = ctx.client.db;
    let mut s = match write_stream(ctx, key)? {
        Some(s) => s,
        None if args.nomkstream => return Ok(Reply::Null),
        None => ctx.store.stream_create(db, key)?,
    };
    if s.last == StreamId::MAX {
        return Err(err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    const TOO_SMALL: &str =
        "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    let id = match args.id {
        IdSpec::Auto => next_auto_id(s.last, ctx.store.now()),
        IdSpec::Explicit(id, true) if id.ms == s.last.ms => {
            if s.last.seq == u64::MAX {
                // What Redis 7.0 answers when `<ms>-*` has no sequence left.
                return Err(err("ERR Elements are too large to be stored"));
            }
            s.last.next()
        }
        IdSpec::Explicit(id, _) => Some(id),
    };
    let Some(id) = id.filter(|id| *id > s.last) else {
        return Err(err(TOO_SMALL));
    };
    let limits = ctx.server.config.stream_node_limits();
    ctx.store
        .stream_append(&mut s, id, &argv[field_pos..], limits)?;
    ctx.notify(notify::STREAM, "xadd", key);
    if let Some(trim) = &args.trim {
        if ctx.store.stream_trim(&mut s, trim)? > 0 {
            ctx.notify(notify::STREAM, "xtrim", key);
        }
    }
    ctx.store.stream_save(db, key, &s)?;
    ctx.signal_ready(key);
    Ok(super::id_reply(id))
}

pub(super) fn xtrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = parse_add_trim(ctx, argv, false)?;
    let key = &argv[1];
    let Some(mut s) = write_stream(ctx, key)? else {
        return Ok(Reply::Integer(0));
    };
    let Some(trim) = args.trim else {
        return Ok(Reply::Integer(0));
    };
    let removed = ctx.store.stream_trim(&mut s, &trim)?;
    if removed > 0 {
        ctx.store.stream_save(ctx.client.db, key, &s)?;
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    Ok(Reply::Integer(removed as i64))
}

pub(super) fn xdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(mut s) = write_stream(ctx, key)? else {
        return Ok(Reply::Integer(0));
    };
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0;
    for id in ids {
        if ctx.store.stream_delete(&mut s, id)? {
            deleted += 1;
        }
    }
    if deleted > 0 {
        ctx.store.stream_save(ctx.client.db, key, &s)?;
        ctx.notify(notify::STREAM, "xdel", key);
    }
    Ok(Reply::Integer(deleted))
}

pub(super) fn xsetid(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&argv[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(&argv[i], "entriesadded") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err(err("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(&argv[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(&argv[i + 1])?;
            if id < max_deleted {
                return Err(err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(err(SYNTAX));
        }
        i += 2;
    }
    let key = &argv[1];
    let Some(mut s) = write_stream(ctx, key)? else {
        return Err(err("ERR no such key"));
    };
    if !s.is_empty() {
        let top = ctx
            .store
            .stream_edge(s.info.id, true)?
            .map(|e| e.id)
            .unwrap_or(StreamId::MIN);
        if id < top {
            return Err(err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted = max_deleted;
    }
    // Redis 7.0's XSETID does not touch WATCHed keys.
    ctx.store.stream_save_meta(ctx.client.db, key, &s)?;
    ctx.notify(notify::STREAM, "xsetid", key);
    Ok(Reply::OK)
}

pub(super) fn xlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(
        read_stream(ctx, &argv[1])?.map_or(0, |s| s.len() as i64),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_ids() {
        assert_eq!(
            next_auto_id(StreamId::new(5, 3), 10),
            Some(StreamId::new(10, 0))
        );
        assert_eq!(
            next_auto_id(StreamId::new(10, 3), 10),
            Some(StreamId::new(10, 4))
        );
        assert_eq!(
            next_auto_id(StreamId::new(20, u64::MAX), 10),
            Some(StreamId::new(21, 0))
        );
        assert_eq!(next_auto_id(StreamId::MAX, 10), None);
    }
}
