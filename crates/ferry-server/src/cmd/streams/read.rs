//! Reading entries: XRANGE and XREVRANGE, XREAD and XREADGROUP.
//!
//! XREAD/XREADGROUP with BLOCK park the client through `Ctx::block_request`
//! when nothing can be served. The command retried is rewritten as Redis
//! remembers it: `$` resolved to the stream's last id, COUNT set (1000 when
//! none was given). When the executor retries it because a key was
//! signalled, it names that key in `ClientState::woken_by`, and the command
//! answers as Redis's blocked-client path does: only from that key, served
//! as soon as the stream's last id passed the one waited for; XREADGROUP
//! also wakes when its key was deleted (`UNBLOCKED`) or its group destroyed
//! (`NOGROUP`).

use super::{
    advance_group, entries_reply, entry_reply, error_with, id_reply, parse_strict_id, range_end,
    range_start, read_stream, touch_consumer,
};
use crate::cmd::args::{is, parse_i64, parse_i64_or, SYNTAX};
use crate::cmd::{err, BlockRequest, CmdError, CmdResult, Ctx};
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use ferry_store::streams::{PelQuery, Pending, Stream, StreamId};
use ferry_store::KeyType;
use std::time::Duration;

/// How many entries a blocked read is served at most when it gave no COUNT.
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

fn range_cmd(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(&argv[j], "count") && j + 1 < argv.len() {
            count = parse_i64(&argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(err(SYNTAX));
        }
    }
    let Some(s) = read_stream(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::NullArray);
    }
    let count = (count > 0).then_some(count as u64);
    Ok(entries_reply(
        ctx.store.stream_range(s.info.id, start, end, count, rev)?,
    ))
}

pub(super) fn xrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_cmd(ctx, argv, false)
}

pub(super) fn xrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_cmd(ctx, argv, true)
}

/// XREAD's and XREADGROUP's options.
struct ReadArgs {
    /// 0: no limit.
    count: u64,
    /// BLOCK's argument and timeout (None inside: forever).
    block: Option<(Bytes, Option<Duration>)>,
    noack: bool,
    group: Option<(Bytes, Bytes)>,
    /// Index of the first key after STREAMS, and how many keys.
    streams_at: usize,
    n: usize,
}

/// BLOCK's milliseconds: 0 waits forever.
fn parse_block(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = parse_i64_or(arg, "ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err(err("ERR timeout is negative"));
    }
    // Beyond a century the wait is forever in practice (and the deadline
    // would overflow the clock).
    const CENTURY_MS: i64 = 100 * 365 * 24 * 3600 * 1000;
    Ok((ms > 0 && ms < CENTURY_MS).then(|| Duration::from_millis(ms as u64)))
}

fn parse_read(argv: &[Bytes], xreadgroup: bool) -> Result<ReadArgs, CmdError> {
    let mut a = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        streams_at: 0,
        n: 0,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i][..];
        if is(o, "block") && more > 0 {
            i += 1;
            a.block = Some((argv[i].clone(), parse_block(&argv[i])?));
        } else if is(o, "count") && more > 0 {
            i += 1;
            a.count = parse_i64(&argv[i])?.max(0) as u64;
        } else if is(o, "streams") && more > 0 {
            a.streams_at = i + 1;
            let rest = argv.len() - a.streams_at;
            if !rest.is_multiple_of(2) {
                return Err(err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."));
            }
            a.n = rest / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }
    if a.streams_at == 0 {
        return Err(err(SYNTAX));
    }
    if xreadgroup && a.group.is_none() {
        return Err(err("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(a)
}

pub(super) fn xread(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_read(argv, false)?;
    refuse_block_in_scripts(ctx, argv, &a)?;
    read_generic(ctx, argv, a)
}

pub(super) fn xreadgroup(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_read(argv, true)?;
    refuse_block_in_scripts(ctx, argv, &a)?;
    read_generic(ctx, argv, a)
}

/// Redis refuses BLOCK from a script (inside MULTI it only does not wait).
fn refuse_block_in_scripts(ctx: &Ctx, argv: &[Bytes], a: &ReadArgs) -> Result<(), CmdError> {
    if a.block.is_some() && ctx.client.in_script {
        return Err(err(format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&argv[0])
        )));
    }
    Ok(())
}

/// The reply of a read: per stream served, its name and entries (a map in
/// RESP3).
fn read_reply(ctx: &Ctx, served: Vec<(Bytes, Reply)>) -> Reply {
    if ctx.client.protocol == Protocol::Resp3 {
        Reply::Map(
            served
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            served
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}

fn count_opt(count: u64) -> Option<u64> {
    (count > 0).then_some(count)
}

/// XREAD from one stream: entries after `gt`.
fn serve_plain(ctx: &mut Ctx, s: &Stream, gt: StreamId, count: u64) -> CmdResult {
    let Some(start) = gt.next() else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(entries_reply(ctx.store.stream_range(
        s.info.id,
        start,
        StreamId::MAX,
        count_opt(count),
        false,
    )?))
}

/// XREADGROUP `>` from one stream: entries after `gt`, delivered to
/// `consumer` (added to the PEL unless `noack`), moving the group on.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    ctx: &mut Ctx,
    s: &Stream,
    group: &[u8],
    consumer: &[u8],
    gt: StreamId,
    count: u64,
    noack: bool,
) -> CmdResult {
    let key_id = s.info.id;
    let Some(mut g) = ctx.store.stream_group(key_id, group)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some(start) = gt.next() else {
        return Ok(Reply::Array(Vec::new()));
    };
    let entries = ctx
        .store
        .stream_range(key_id, start, StreamId::MAX, count_opt(count), false)?;
    if entries.is_empty() {
        return Ok(Reply::Array(Vec::new()));
    }
    let first = ctx.store.stream_first_id(key_id)?;
    let now = ctx.store.now();
    for e in &entries {
        advance_group(s, first, &mut g, e.id);
        if !noack {
            ctx.store.stream_pel_put(
                key_id,
                group,
                &Pending {
                    id: e.id,
                    consumer: consumer.to_vec(),
                    delivered: now,
                    count: 1,
                },
            )?;
        }
    }
    ctx.store.stream_group_put(key_id, &g)?;
    Ok(entries_reply(entries))
}

/// XREADGROUP with an id: the consumer's own pending entries after `gt`
/// (each delivered again: time and count updated); entries deleted since
/// come with a null body.
fn serve_history(
    ctx: &mut Ctx,
    key_id: i64,
    group: &[u8],
    consumer: &[u8],
    gt: StreamId,
    count: u64,
) -> CmdResult {
    // Redis wraps past the largest id to 0-0.
    let start = gt.next().unwrap_or(StreamId::MIN);
    let pending = ctx.store.stream_pel_range(
        key_id,
        group,
        &PelQuery {
            consumer: Some(consumer),
            start,
            end: StreamId::MAX,
            count: count_opt(count),
            delivered_before: None,
        },
    )?;
    let now = ctx.store.now();
    let mut out = Vec::with_capacity(pending.len());
    for mut p in pending {
        match ctx.store.stream_entry(key_id, p.id)? {
            Some(e) => {
                p.delivered = now;
                p.count += 1;
                ctx.store.stream_pel_put(key_id, group, &p)?;
                out.push(entry_reply(e));
            }
            None => out.push(Reply::Array(vec![id_reply(p.id), Reply::NullArray])),
        }
    }
    Ok(Reply::Array(out))
}

/// The id of the last entry present (None for an empty stream).
fn last_valid_id(ctx: &mut Ctx, s: &Stream) -> Result<Option<StreamId>, CmdError> {
    if s.is_empty() {
        return Ok(None);
    }
    Ok(ctx.store.stream_edge(s.info.id, true)?.map(|e| e.id))
}

fn read_generic(ctx: &mut Ctx, argv: &[Bytes], a: ReadArgs) -> CmdResult {
    if let Some(key) = ctx.client.woken_by.take() {
        return woken(ctx, argv, &a, &key);
    }
    let keys = &argv[a.streams_at..a.streams_at + a.n];
    let id_args = &argv[a.streams_at + a.n..];
    // None: `>`.
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(a.n);
    for (key, arg) in keys.iter().zip(id_args) {
        let s = read_stream(ctx, key)?;
        if let Some((group, _)) = &a.group {
            let found = match &s {
                Some(s) => ctx.store.stream_group(s.info.id, group)?.is_some(),
                None => false,
            };
            if !found {
                return Ok(error_with(&[
                    b"NOGROUP No such key '",
                    key,
                    b"' or consumer group '",
                    group,
                    b"' in XREADGROUP with GROUP option",
                ]));
            }
        }
        if &arg[..] == b"$" {
            if a.group.is_some() {
                return Err(err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            ids.push(Some(s.map_or(StreamId::MIN, |s| s.last)));
        } else if &arg[..] == b">" {
            if a.group.is_none() {
                return Err(err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ids.push(None);
        } else {
            // The largest id means `>` to XREADGROUP, as in Redis.
            let id = parse_strict_id(arg)?;
            ids.push((a.group.is_none() || id != StreamId::MAX).then_some(id));
        }
    }
    let mut served = Vec::new();
    for (key, id) in keys.iter().zip(&ids) {
        let Some(s) = read_stream(ctx, key)? else {
            continue;
        };
        let reply = match &a.group {
            Some((group, consumer)) => {
                let Some(g) = ctx.store.stream_group(s.info.id, group)? else {
                    continue;
                };
                let serve = match id {
                    Some(gt) => Some((*gt, true)),
                    None => match last_valid_id(ctx, &s)? {
                        Some(max) if max > g.last => Some((g.last, false)),
                        _ => None,
                    },
                };
                // Redis creates (or refreshes) the consumer only when it
                // serves it something.
                let Some((gt, history)) = serve else {
                    continue;
                };
                touch_consumer(ctx, key, s.info.id, group, consumer)?;
                if history {
                    serve_history(ctx, s.info.id, group, consumer, gt, a.count)?
                } else {
                    serve_group(ctx, &s, group, consumer, gt, a.count, a.noack)?
                }
            }
            None => {
                let gt = id.unwrap_or(StreamId::MAX);
                match last_valid_id(ctx, &s)? {
                    Some(max) if max > gt => serve_plain(ctx, &s, gt, a.count)?,
                    _ => continue,
                }
            }
        };
        served.push((key.clone(), reply));
    }
    if !served.is_empty() {
        return Ok(read_reply(ctx, served));
    }
    let Some((block_arg, timeout)) = &a.block else {
        return Ok(Reply::NullArray);
    };
    // Wait: remember the command as Redis does, with `$` resolved and a COUNT.
    let count = if a.count > 0 {
        a.count
    } else {
        BLOCKED_DEFAULT_COUNT
    };
    let mut retry: Vec<Bytes> = vec![argv[0].clone()];
    if let Some((group, consumer)) = &a.group {
        retry.extend([
            Bytes::from_static(b"GROUP"),
            group.clone(),
            consumer.clone(),
        ]);
        if a.noack {
            retry.push(Bytes::from_static(b"NOACK"));
        }
    }
    retry.extend([
        Bytes::from_static(b"COUNT"),
        Bytes::from(count.to_string()),
        Bytes::from_static(b"BLOCK"),
        block_arg.clone(),
        Bytes::from_static(b"STREAMS"),
    ]);
    retry.extend(keys.iter().cloned());
    retry.extend(ids.iter().map(|id| match id {
        Some(id) => Bytes::from(id.to_string()),
        None => Bytes::from_static(b">"),
    }));
    ctx.block_request(BlockRequest {
        keys: keys.to_vec(),
        ktype: KeyType::Stream,
        timeout: *timeout,
        timeout_reply: Reply::NullArray,
        retry: Some(retry),
        retry_if_gone: a.group.is_some(),
    })
}

/// A blocked read retried because `key` was signalled: served from that
/// key alone when its last id passed the one waited for, else blocked
/// again (deadline kept).
fn woken(ctx: &mut Ctx, argv: &[Bytes], a: &ReadArgs, key: &[u8]) -> CmdResult {
    let keys = &argv[a.streams_at..a.streams_at + a.n];
    let id_args = &argv[a.streams_at + a.n..];
    let Some(pos) = keys.iter().position(|k| &k[..] == key) else {
        return block_again(ctx, keys, a);
    };
    let db = ctx.client.db;
    let s = match ctx.store.stream_lookup(db, key) {
        Ok(s) => s,
        Err(ferry_store::StoreError::WrongType) => None,
        Err(e) => return Err(e.into()),
    };
    let reply = match &a.group {
        Some((group, consumer)) => {
            let Some(s) = s else {
                return Err(err("UNBLOCKED the stream key no longer exists"));
            };
            let Some(g) = ctx.store.stream_group(s.info.id, group)? else {
                return Err(err(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ));
            };
            if s.last <= g.last {
                return block_again(ctx, keys, a);
            }
            touch_consumer(ctx, key, s.info.id, group, consumer)?;
            serve_group(ctx, &s, group, consumer, g.last, a.count, a.noack)?
        }
        None => {
            let Some(s) = s else {
                return block_again(ctx, keys, a);
            };
            let gt = parse_strict_id(&id_args[pos])?;
            if s.last <= gt {
                return block_again(ctx, keys, a);
            }
            serve_plain(ctx, &s, gt, a.count)?
        }
    };
    Ok(read_reply(ctx, vec![(Bytes::copy_from_slice(key), reply)]))
}

fn block_again(ctx: &mut Ctx, keys: &[Bytes], a: &ReadArgs) -> CmdResult {
    ctx.block_request(BlockRequest {
        keys: keys.to_vec(),
        ktype: KeyType::Stream,
        timeout: a.block.as_ref().and_then(|b| b.1),
        timeout_reply: Reply::NullArray,
        retry: None,
        retry_if_gone: a.group.is_some(),
    })
}
