//! Stream commands, as Redis 7.0 has them: one file per concept.
//!
//! * `add.rs`: XADD, XTRIM, XDEL, XSETID, XLEN (the stream's entries);
//! * `read.rs`: XRANGE, XREVRANGE, XREAD, XREADGROUP (blocking included);
//! * `groups.rs`: XGROUP and XACK;
//! * `claim.rs`: XPENDING, XCLAIM, XAUTOCLAIM;
//! * `info.rs`: XINFO.
//!
//! Storage and costs: see ferry-store's `streams/`. This module holds what
//! the commands share: id parsing with Redis's errors, the reply shape of an
//! entry, lookups, and the group bookkeeping of Redis's lag estimate.

mod add;
mod claim;
mod groups;
mod info;
mod read;

use super::{cmd, container, err, CmdError, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::streams::{Entry, Group, Stream, StreamId};

const W_FAST: &[&str] = &["@write", "@stream", "@fast"];
const W_SLOW: &[&str] = &["@write", "@stream", "@slow"];
const R_FAST: &[&str] = &["@read", "@stream", "@fast"];
const R_SLOW: &[&str] = &["@read", "@stream", "@slow"];
const ONE: (i32, i32, i32) = (1, 1, 1);
const SUB_KEY: (i32, i32, i32) = (2, 2, 1);
const NONE: (i32, i32, i32) = (0, 0, 0);
const HELP_FLAGS: &[&str] = &["loading", "stale"];
const HELP_ACL: &[&str] = &["@stream", "@slow"];

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "xadd",
        -5,
        &["write", "denyoom", "fast"],
        ONE,
        W_FAST,
        add::xadd,
    ),
    cmd("xlen", 2, &["readonly", "fast"], ONE, R_FAST, add::xlen),
    cmd("xdel", -3, &["write", "fast"], ONE, W_FAST, add::xdel),
    cmd("xtrim", -4, &["write"], ONE, W_SLOW, add::xtrim),
    cmd(
        "xsetid",
        -3,
        &["write", "denyoom", "fast"],
        ONE,
        W_FAST,
        add::xsetid,
    ),
    cmd("xrange", -4, &["readonly"], ONE, R_SLOW, read::xrange),
    cmd("xrevrange", -4, &["readonly"], ONE, R_SLOW, read::xrevrange),
    cmd(
        "xread",
        -4,
        &["readonly", "blocking", "movablekeys"],
        NONE,
        &["@read", "@stream", "@slow", "@blocking"],
        read::xread,
    ),
    cmd(
        "xreadgroup",
        -7,
        &["write", "blocking", "movablekeys"],
        NONE,
        &["@write", "@stream", "@slow", "@blocking"],
        read::xreadgroup,
    ),
    cmd("xack", -4, &["write", "fast"], ONE, W_FAST, groups::xack),
    cmd("xpending", -3, &["readonly"], ONE, R_SLOW, claim::xpending),
    cmd("xclaim", -6, &["write", "fast"], ONE, W_FAST, claim::xclaim),
    cmd(
        "xautoclaim",
        -6,
        &["write", "fast"],
        ONE,
        W_FAST,
        claim::xautoclaim,
    ),
    container("xgroup", -2, &[], &["@slow"], XGROUP),
    container("xinfo", -2, &[], &["@slow"], XINFO),
];

const XGROUP: &[CommandSpec] = &[
    cmd(
        "create",
        -5,
        &["write", "denyoom"],
        SUB_KEY,
        W_SLOW,
        groups::create,
    ),
    cmd(
        "createconsumer",
        5,
        &["write", "denyoom"],
        SUB_KEY,
        W_SLOW,
        groups::createconsumer,
    ),
    cmd(
        "delconsumer",
        5,
        &["write"],
        SUB_KEY,
        W_SLOW,
        groups::delconsumer,
    ),
    cmd("destroy", 4, &["write"], SUB_KEY, W_SLOW, groups::destroy),
    cmd("setid", -5, &["write"], SUB_KEY, W_SLOW, groups::setid),
    cmd("help", 2, HELP_FLAGS, NONE, HELP_ACL, groups::help),
];

const XINFO: &[CommandSpec] = &[
    cmd(
        "consumers",
        4,
        &["readonly"],
        SUB_KEY,
        R_SLOW,
        info::consumers,
    ),
    cmd("groups", 3, &["readonly"], SUB_KEY, R_SLOW, info::groups),
    cmd("stream", -3, &["readonly"], SUB_KEY, R_SLOW, info::stream),
    cmd("help", 2, HELP_FLAGS, NONE, HELP_ACL, info::help),
];

pub(super) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// A strict id (`-` and `+` refused), as most stream commands take.
pub(super) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    StreamId::parse(arg, 0, true).ok_or_else(|| err(INVALID_ID))
}

/// An id where `-` and `+` stand for the smallest and largest ids.
pub(super) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    StreamId::parse(arg, missing_seq, false).ok_or_else(|| err(INVALID_ID))
}

/// One end of a range: an id, or `(id` for an exclusive bound. Returns the
/// id and whether it is exclusive.
pub(super) fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        return StreamId::parse(&arg[1..], missing_seq, true)
            .map(|id| (id, true))
            .ok_or_else(|| err(INVALID_ID));
    }
    Ok((parse_id(arg, missing_seq)?, false))
}

/// The start of a range, moved past an exclusive bound.
pub(super) fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_interval(arg, 0)? {
        (id, false) => Ok(id),
        (id, true) => id
            .next()
            .ok_or_else(|| err("ERR invalid start ID for the interval")),
    }
}

/// The end of a range, moved before an exclusive bound.
pub(super) fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_interval(arg, u64::MAX)? {
        (id, false) => Ok(id),
        (id, true) => id
            .prev()
            .ok_or_else(|| err("ERR invalid end ID for the interval")),
    }
}

pub(super) fn id_reply(id: StreamId) -> Reply {
    // itoa rather than `to_string`: formatting was 5% of an XADD.
    let mut digits = itoa::Buffer::new();
    let mut out = Vec::with_capacity(41);
    out.extend_from_slice(digits.format(id.ms).as_bytes());
    out.push(b'-');
    out.extend_from_slice(digits.format(id.seq).as_bytes());
    Reply::bulk(out)
}

/// `[id, [field, value, ...]]`.
pub(super) fn entry_reply(e: Entry) -> Reply {
    Reply::Array(vec![
        id_reply(e.id),
        Reply::Array(e.fields.into_iter().map(Reply::Bulk).collect()),
    ])
}

pub(super) fn entries_reply(entries: Vec<Entry>) -> Reply {
    Reply::Array(entries.into_iter().map(entry_reply).collect())
}

/// An error reply whose text includes client bytes, as Redis formats it
/// with `%s`: each part ends at a NUL byte, and line breaks become spaces.
pub(super) fn error_with(parts: &[&[u8]]) -> Reply {
    let mut text = Vec::new();
    for p in parts {
        let end = p.iter().position(|b| *b == 0).unwrap_or(p.len());
        text.extend(p[..end].iter().map(|b| match b {
            b'\r' | b'\n' => b' ',
            other => *other,
        }));
    }
    Reply::ErrorBytes(Bytes::from(text))
}

/// The stream at `key` for a read command (counts a keyspace hit or miss;
/// a key of another type is a hit, then WRONGTYPE, as in Redis).
pub(super) fn read_stream(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Stream>, CmdError> {
    match ctx.store.stream_lookup(ctx.client.db, key) {
        Ok(s) => {
            ctx.count_read(key, s.is_some());
            Ok(s)
        }
        Err(ferry_store::StoreError::WrongType) => {
            ctx.count_read(key, true);
            Err(ferry_store::StoreError::WrongType.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The stream at `key` for a write command (no keyspace statistics).
pub(super) fn write_stream(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Stream>, CmdError> {
    Ok(ctx.store.stream_lookup(ctx.client.db, key)?)
}

/// Whether an id at or after `start` may have been deleted by XDEL (a
/// "tombstone" in Redis's terms), which makes read counters unknowable.
pub(super) fn range_has_tombstones(s: &Stream, first: StreamId, start: StreamId) -> bool {
    if s.is_empty() || s.max_deleted.is_zero() {
        return false;
    }
    if first > s.max_deleted {
        return false;
    }
    start <= s.max_deleted
}

/// Redis's estimate of how many entries were added up to `id` (the
/// group read counter at that id), or -1 when it cannot be known.
pub(super) fn estimate_entries_read(s: &Stream, first: StreamId, id: StreamId) -> i64 {
    if s.entries_added == 0 {
        return 0;
    }
    let added = s.entries_added as i64;
    if s.is_empty() && id <= s.last {
        return added;
    }
    if id == s.last {
        return added;
    }
    if id > s.last {
        return -1;
    }
    if s.max_deleted.is_zero() || s.max_deleted < first {
        let len = s.len() as i64;
        if id < first {
            return added - len;
        }
        if id == first {
            return added - len + 1;
        }
    }
    -1
}

/// A group's lag (entries not yet delivered), or None when unknown.
pub(super) fn group_lag(s: &Stream, first: StreamId, g: &Group) -> Option<i64> {
    if s.entries_added == 0 {
        return Some(0);
    }
    let added = s.entries_added as i64;
    if g.entries_read != -1 && !range_has_tombstones(s, first, g.last) {
        return Some(added - g.entries_read);
    }
    match estimate_entries_read(s, first, g.last) {
        -1 => None,
        read => Some(added - read),
    }
}

/// Moves a group's last delivered id to `id` (delivered now), keeping its
/// read counter as Redis does.
pub(super) fn advance_group(s: &Stream, first: StreamId, g: &mut Group, id: StreamId) {
    if id <= g.last {
        return;
    }
    if g.entries_read != -1 && !range_has_tombstones(s, first, id) {
        g.entries_read += 1;
    } else if s.entries_added != 0 {
        g.entries_read = estimate_entries_read(s, first, id);
    }
    g.last = id;
}

/// The NOGROUP error most group commands give.
pub(super) fn no_such_key_or_group(key: &[u8], group: &[u8]) -> Reply {
    error_with(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        b"'",
    ])
}

/// The NOGROUP error of XGROUP and XINFO CONSUMERS.
pub(super) fn no_such_group(key: &[u8], group: &[u8]) -> Reply {
    error_with(&[
        b"NOGROUP No such consumer group '",
        group,
        b"' for key name '",
        key,
        b"'",
    ])
}

/// A group's consumer, created when missing (with Redis's notification),
/// its activity time set to now.
pub(super) fn touch_consumer(
    ctx: &mut Ctx,
    key: &[u8],
    key_id: i64,
    group: &[u8],
    name: &[u8],
) -> Result<(), CmdError> {
    let now = ctx.store.now();
    let existed = ctx.store.stream_consumer(key_id, group, name)?.is_some();
    ctx.store.stream_consumer_put(
        key_id,
        group,
        &ferry_store::streams::Consumer {
            name: name.to_vec(),
            seen: now,
        },
    )?;
    if !existed {
        ctx.notify(crate::notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}
