//! Consumer groups: XGROUP CREATE, SETID, DESTROY, CREATECONSUMER,
//! DELCONSUMER and HELP, and XACK.

use super::{no_such_group, parse_id, parse_strict_id, write_stream};
use crate::cmd::args::{is, parse_i64};
use crate::cmd::connection::help_reply;
use crate::cmd::subcommand_syntax_error;
use crate::cmd::{err, CmdError, CmdResult, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::streams::{Consumer, Group, Stream, StreamId};

/// What every XGROUP subcommand but HELP checks first: its options, the
/// key, and (but for CREATE and DESTROY) the group.
struct Target {
    stream: Option<Stream>,
    group: Option<Group>,
    mkstream: bool,
    entries_read: i64,
}

fn target(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Result<Target, Reply>, CmdError> {
    let sub = &argv[1];
    let create = is(sub, "create");
    let mut t = Target {
        stream: None,
        group: None,
        mkstream: false,
        entries_read: -1,
    };
    if create || is(sub, "setid") {
        let mut i = 5;
        while i < argv.len() {
            if create && is(&argv[i], "mkstream") {
                t.mkstream = true;
                i += 1;
            } else if is(&argv[i], "entriesread") && i + 1 < argv.len() {
                let n = parse_i64(&argv[i + 1])?;
                if n < 0 && n != -1 {
                    return Err(err("ERR value for ENTRIESREAD must be positive or -1"));
                }
                t.entries_read = n;
                i += 2;
            } else {
                return Ok(Err(subcommand_syntax_error("XGROUP", sub)));
            }
        }
    }
    t.stream = write_stream(ctx, &argv[2])?;
    if let Some(s) = &t.stream {
        t.group = ctx.store.stream_group(s.info.id, &argv[3])?;
    }
    if !t.mkstream {
        if t.stream.is_none() {
            return Err(err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
        }
        let needs_group = is(sub, "setid") || is(sub, "createconsumer") || is(sub, "delconsumer");
        if t.group.is_none() && needs_group {
            return Ok(Err(no_such_group(&argv[2], &argv[3])));
        }
    }
    Ok(Ok(t))
}

/// `target` for DESTROY, CREATECONSUMER and DELCONSUMER, which answer 0
/// when the stream or the group is missing.
fn stream_and_group(
    ctx: &mut Ctx,
    argv: &[Bytes],
) -> Result<Result<(Stream, Group), Reply>, CmdError> {
    let t = match target(ctx, argv)? {
        Ok(t) => t,
        Err(reply) => return Ok(Err(reply)),
    };
    match (t.stream, t.group) {
        (Some(s), Some(g)) => Ok(Ok((s, g))),
        _ => Ok(Err(Reply::Integer(0))),
    }
}

pub(super) fn create(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = match target(ctx, argv)? {
        Ok(t) => t,
        Err(reply) => return Ok(reply),
    };
    if argv.len() > 8 {
        return Ok(subcommand_syntax_error("XGROUP", &argv[1]));
    }
    let id = if &argv[4][..] == b"$" {
        t.stream.map_or(StreamId::MIN, |s| s.last)
    } else {
        parse_strict_id(&argv[4])?
    };
    let (key, name) = (&argv[2], &argv[3]);
    let s = match t.stream {
        Some(s) => s,
        None => ctx.store.stream_create(ctx.client.db, key)?,
    };
    if t.group.is_some() {
        return Err(err("BUSYGROUP Consumer Group name already exists"));
    }
    ctx.store.stream_group_put(
        s.info.id,
        &Group {
            name: name.to_vec(),
            last: id,
            entries_read: t.entries_read,
        },
    )?;
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(Reply::OK)
}

pub(super) fn setid(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = match target(ctx, argv)? {
        Ok(t) => t,
        Err(reply) => return Ok(reply),
    };
    if argv.len() != 5 && argv.len() != 7 {
        return Ok(subcommand_syntax_error("XGROUP", &argv[1]));
    }
    let (Some(s), Some(mut g)) = (t.stream, t.group) else {
        return Ok(subcommand_syntax_error("XGROUP", &argv[1]));
    };
    g.last = if &argv[4][..] == b"$" {
        s.last
    } else {
        parse_id(&argv[4], 0)?
    };
    g.entries_read = t.entries_read;
    ctx.store.stream_group_put(s.info.id, &g)?;
    ctx.notify(notify::STREAM, "xgroup-setid", &argv[2]);
    Ok(Reply::OK)
}

pub(super) fn destroy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, g) = match stream_and_group(ctx, argv)? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    ctx.store.stream_group_del(s.info.id, &g.name)?;
    ctx.notify(notify::STREAM, "xgroup-destroy", &argv[2]);
    // Clients blocked in XREADGROUP on this group get NOGROUP.
    ctx.signal_ready(&argv[2]);
    Ok(Reply::Integer(1))
}

pub(super) fn createconsumer(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, g) = match stream_and_group(ctx, argv)? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let name = &argv[4];
    if ctx
        .store
        .stream_consumer(s.info.id, &g.name, name)?
        .is_some()
    {
        return Ok(Reply::Integer(0));
    }
    let now = ctx.store.now();
    ctx.store.stream_consumer_put(
        s.info.id,
        &g.name,
        &Consumer {
            name: name.to_vec(),
            seen: now,
        },
    )?;
    ctx.notify(notify::STREAM, "xgroup-createconsumer", &argv[2]);
    Ok(Reply::Integer(1))
}

pub(super) fn delconsumer(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, g) = match stream_and_group(ctx, argv)? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let name = &argv[4];
    if ctx
        .store
        .stream_consumer(s.info.id, &g.name, name)?
        .is_none()
    {
        return Ok(Reply::Integer(0));
    }
    let pending = ctx.store.stream_pel_count(s.info.id, &g.name, Some(name))?;
    ctx.store.stream_consumer_del(s.info.id, &g.name, name)?;
    ctx.notify(notify::STREAM, "xgroup-delconsumer", &argv[2]);
    Ok(Reply::Integer(pending as i64))
}

pub(super) fn help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    ))
}

/// XACK key group id [id ...]: removes the ids from the group's PEL.
pub(super) fn xack(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, group) = (&argv[1], &argv[2]);
    let Some(s) = super::read_stream(ctx, key)? else {
        return Ok(Reply::Integer(0));
    };
    if ctx.store.stream_group(s.info.id, group)?.is_none() {
        return Ok(Reply::Integer(0));
    }
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0;
    for id in ids {
        if ctx.store.stream_pel_get(s.info.id, group, id)?.is_some() {
            ctx.store.stream_pel_del(s.info.id, group, id)?;
            acked += 1;
        }
    }
    Ok(Reply::Integer(acked))
}
