//! The pending entries list: XPENDING, XCLAIM and XAUTOCLAIM.

use super::{
    entry_reply, id_reply, no_such_key_or_group, parse_strict_id, range_end, range_start,
    read_stream, touch_consumer,
};
use crate::cmd::args::{is, parse_i64, parse_i64_or, SYNTAX};
use crate::cmd::{err, CmdResult, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::streams::{PelQuery, Pending, StreamId};

/// XPENDING key group [[IDLE min-idle] start end count [consumer]].
pub(super) fn xpending(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let summary = argv.len() == 3;
    if !summary && (argv.len() < 6 || argv.len() > 9) {
        return Err(err(SYNTAX));
    }
    let mut range = None;
    if !summary {
        let mut at = 3;
        let mut min_idle = 0i64;
        if is(&argv[3], "idle") {
            min_idle = parse_i64(&argv[4])?;
            if argv.len() < 8 {
                return Err(err(SYNTAX));
            }
            at += 2;
        }
        let count = parse_i64(&argv[at + 2])?.max(0) as u64;
        let start = range_start(&argv[at])?;
        let end = range_end(&argv[at + 1])?;
        let consumer = argv.get(at + 3).cloned();
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (&argv[1], &argv[2]);
    let s = read_stream(ctx, key)?;
    let Some(s) = s else {
        return Ok(no_such_key_or_group(key, group));
    };
    if ctx.store.stream_group(s.info.id, group)?.is_none() {
        return Ok(no_such_key_or_group(key, group));
    }
    let Some((min_idle, start, end, count, consumer)) = range else {
        let sum = ctx.store.stream_pel_summary(s.info.id, group)?;
        let Some((lo, hi)) = sum.bounds else {
            return Ok(Reply::Array(vec![
                Reply::Integer(0),
                Reply::Null,
                Reply::Null,
                Reply::NullArray,
            ]));
        };
        return Ok(Reply::Array(vec![
            Reply::Integer(sum.count as i64),
            id_reply(lo),
            id_reply(hi),
            Reply::Array(
                sum.consumers
                    .into_iter()
                    .map(|(name, n)| {
                        Reply::Array(vec![Reply::bulk(name), Reply::bulk(n.to_string())])
                    })
                    .collect(),
            ),
        ]));
    };
    if let Some(c) = &consumer {
        if ctx.store.stream_consumer(s.info.id, group, c)?.is_none() {
            return Ok(Reply::Array(Vec::new()));
        }
    }
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let now = ctx.store.now();
    let delivered_before = (min_idle != 0).then(|| now.saturating_sub(min_idle));
    let pending = ctx.store.stream_pel_range(
        s.info.id,
        group,
        &PelQuery {
            consumer: consumer.as_deref(),
            start,
            end,
            count: Some(count),
            delivered_before,
        },
    )?;
    Ok(Reply::Array(
        pending
            .into_iter()
            .map(|p| {
                Reply::Array(vec![
                    id_reply(p.id),
                    Reply::bulk(p.consumer),
                    Reply::Integer((now - p.delivered).max(0)),
                    Reply::Integer(p.count),
                ])
            })
            .collect(),
    ))
}

/// Gives the pending entry `p` to `consumer`, delivered at `at`, with its
/// delivery count set, or incremented unless `justid`.
fn reassign(p: &mut Pending, consumer: &[u8], at: i64, retrycount: Option<i64>, justid: bool) {
    p.consumer = consumer.to_vec();
    p.delivered = at;
    match retrycount {
        Some(n) => p.count = n,
        None if !justid => p.count += 1,
        None => {}
    }
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms]
/// [TIME unix-ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id].
pub(super) fn xclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, group, consumer) = (&argv[1], &argv[2], &argv[3]);
    let Some(s) = read_stream(ctx, key)? else {
        return Ok(no_such_key_or_group(key, group));
    };
    let Some(mut g) = ctx.store.stream_group(s.info.id, group)? else {
        return Ok(no_such_key_or_group(key, group));
    };
    let min_idle = parse_i64_or(&argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    // The ids, up to the first argument that is not one.
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match StreamId::parse(&argv[j], 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.store.now();
    let mut delivery: Option<i64> = None;
    let mut retrycount: Option<i64> = None;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let idle = parse_i64_or(&argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery = Some(now.wrapping_sub(idle));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(parse_i64_or(
                &argv[j],
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            let n = parse_i64_or(
                &argv[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
            retrycount = (n >= 0).then_some(n);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&argv[j])?;
        } else {
            return Ok(super::error_with(&[
                b"ERR Unrecognized XCLAIM option '",
                opt,
                b"'",
            ]));
        }
        j += 1;
    }
    // A delivery time in the future or before the epoch means now.
    let at = match delivery {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    if last_id > g.last {
        g.last = last_id;
        ctx.store.stream_group_put(s.info.id, &g)?;
    }
    let mut out = Vec::new();
    let mut consumer_ready = false;
    for id in ids {
        let existing = ctx.store.stream_pel_get(s.info.id, group, id)?;
        let Some(entry) = ctx.store.stream_entry(s.info.id, id)? else {
            // Gone from the stream: dropped from the PEL.
            if existing.is_some() {
                ctx.store.stream_pel_del(s.info.id, group, id)?;
            }
            continue;
        };
        let mut p = match existing {
            Some(p) => {
                if min_idle > 0 && now - p.delivered < min_idle {
                    continue;
                }
                p
            }
            None if force => Pending {
                id,
                consumer: Vec::new(),
                delivered: now,
                count: 1,
            },
            None => continue,
        };
        if !consumer_ready {
            touch_consumer(ctx, key, s.info.id, group, consumer)?;
            consumer_ready = true;
        }
        reassign(&mut p, consumer, at, retrycount, justid);
        ctx.store.stream_pel_put(s.info.id, group, &p)?;
        out.push(if justid {
            id_reply(id)
        } else {
            entry_reply(entry)
        });
    }
    Ok(Reply::Array(out))
}

/// The largest COUNT XAUTOCLAIM accepts (Redis: LONG_MAX / 16).
const AUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 16;
/// Redis allocates 16 bytes per COUNT up front; beyond this it fails for
/// want of memory on any machine ferry runs on.
const AUTOCLAIM_ALLOC_LIMIT: i64 = 1 << 36;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID].
pub(super) fn xautoclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let min_idle = parse_i64_or(
        &argv[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = range_start(&argv[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(&argv[j], "count") && more > 0 {
            count = parse_i64_or(&argv[j + 1], "ERR COUNT must be > 0")?;
            if !(1..=AUTOCLAIM_MAX_COUNT).contains(&count) {
                return Err(err("ERR COUNT must be > 0"));
            }
            j += 1;
        } else if is(&argv[j], "justid") {
            justid = true;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    let (key, group, consumer) = (&argv[1], &argv[2], &argv[3]);
    let Some(s) = read_stream(ctx, key)? else {
        return Ok(no_such_key_or_group(key, group));
    };
    if ctx.store.stream_group(s.info.id, group)?.is_none() {
        return Ok(no_such_key_or_group(key, group));
    }
    if count > AUTOCLAIM_ALLOC_LIMIT {
        return Err(err(
            "ERR Insufficient memory, failed allocating transient memory, COUNT too high.",
        ));
    }
    let now = ctx.store.now();
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut consumer_ready = false;
    let mut cursor = start;
    let mut next: Option<StreamId> = None;
    let mut exhausted = false;
    // Walk the PEL from `start` in pages, as Redis walks its radix tree.
    'walk: while !exhausted {
        let page = ctx.store.stream_pel_range(
            s.info.id,
            group,
            &PelQuery {
                start: cursor,
                ..PelQuery::all(Some(left.clamp(1, 1024) as u64 + 1))
            },
        )?;
        if page.is_empty() {
            break;
        }
        for mut p in page {
            if attempts == 0 || left == 0 {
                next = Some(p.id);
                break 'walk;
            }
            attempts -= 1;
            match p.id.next() {
                Some(n) => cursor = n,
                None => exhausted = true,
            }
            let Some(entry) = ctx.store.stream_entry(s.info.id, p.id)? else {
                ctx.store.stream_pel_del(s.info.id, group, p.id)?;
                deleted.push(p.id);
                left -= 1;
                continue;
            };
            if min_idle > 0 && now - p.delivered < min_idle {
                continue;
            }
            if !consumer_ready {
                touch_consumer(ctx, key, s.info.id, group, consumer)?;
                consumer_ready = true;
            }
            let id = p.id;
            reassign(&mut p, consumer, now, None, justid);
            ctx.store.stream_pel_put(s.info.id, group, &p)?;
            claimed.push(if justid {
                id_reply(id)
            } else {
                entry_reply(entry)
            });
            left -= 1;
        }
    }
    Ok(Reply::Array(vec![
        id_reply(next.unwrap_or(StreamId::MIN)),
        Reply::Array(claimed),
        Reply::Array(deleted.into_iter().map(id_reply).collect()),
    ]))
}
