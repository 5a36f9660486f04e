//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP,
//! with Redis 7.0's fields in its order.

use super::{entries_reply, entry_reply, group_lag, id_reply, no_such_group, read_stream};
use crate::cmd::args::{is, parse_i64};
use crate::cmd::connection::help_reply;
use crate::cmd::subcommand_syntax_error;
use crate::cmd::{err, CmdError, CmdResult, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::streams::{Group, PelQuery, Stream, StreamId};

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name), value)
}

/// The stream at argv[2], or Redis's "no such key".
fn stream_or_err(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Stream, CmdError> {
    read_stream(ctx, &argv[2])?.ok_or_else(|| err("ERR no such key"))
}

fn entries_read_reply(g: &Group) -> Reply {
    if g.entries_read == -1 {
        Reply::Null
    } else {
        Reply::Integer(g.entries_read)
    }
}

fn lag_reply(s: &Stream, first: StreamId, g: &Group) -> Reply {
    group_lag(s, first, g).map_or(Reply::Null, Reply::Integer)
}

pub(super) fn consumers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = stream_or_err(ctx, argv)?;
    let group = &argv[3];
    if ctx.store.stream_group(s.info.id, group)?.is_none() {
        return Ok(no_such_group(&argv[2], group));
    }
    let now = ctx.store.now();
    let mut out = Vec::new();
    for c in ctx.store.stream_consumers(s.info.id, group)? {
        let pending = ctx
            .store
            .stream_pel_count(s.info.id, group, Some(&c.name))?;
        out.push(Reply::Map(vec![
            field("name", Reply::bulk(c.name)),
            field("pending", Reply::Integer(pending as i64)),
            field("idle", Reply::Integer((now - c.seen).max(0))),
        ]));
    }
    Ok(Reply::Array(out))
}

pub(super) fn groups(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = stream_or_err(ctx, argv)?;
    let first = ctx.store.stream_first_id(s.info.id)?;
    let mut out = Vec::new();
    for g in ctx.store.stream_groups(s.info.id)? {
        let consumers = ctx.store.stream_consumer_count(s.info.id, &g.name)?;
        let pending = ctx.store.stream_pel_count(s.info.id, &g.name, None)?;
        out.push(Reply::Map(vec![
            field("name", Reply::bulk(g.name.clone())),
            field("consumers", Reply::Integer(consumers as i64)),
            field("pending", Reply::Integer(pending as i64)),
            field("last-delivered-id", id_reply(g.last)),
            field("entries-read", entries_read_reply(&g)),
            field("lag", lag_reply(&s, first, &g)),
        ]));
    }
    Ok(Reply::Array(out))
}

pub(super) fn stream(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = stream_or_err(ctx, argv)?;
    let opts = &argv[3..];
    let full = match opts.len() {
        0 => None,
        1 | 3 if is(&opts[0], "full") => {
            if opts.len() == 3 {
                if !is(&opts[1], "count") {
                    return Ok(subcommand_syntax_error("XINFO", &argv[1]));
                }
                let n = parse_i64(&opts[2])?;
                Some(if n < 0 { 10 } else { n as u64 })
            } else {
                Some(10)
            }
        }
        _ => return Ok(subcommand_syntax_error("XINFO", &argv[1])),
    };
    let id = s.info.id;
    let (tree_keys, tree_nodes) = ctx.store.stream_tree_stats(id)?;
    let first = ctx.store.stream_first_id(id)?;
    let mut m = vec![
        field("length", Reply::Integer(s.len() as i64)),
        field("radix-tree-keys", Reply::Integer(tree_keys as i64)),
        field("radix-tree-nodes", Reply::Integer(tree_nodes as i64)),
        field("last-generated-id", id_reply(s.last)),
        field("max-deleted-entry-id", id_reply(s.max_deleted)),
        field("entries-added", Reply::Integer(s.entries_added as i64)),
        field("recorded-first-entry-id", id_reply(first)),
    ];
    let Some(count) = full else {
        m.push(field(
            "groups",
            Reply::Integer(ctx.store.stream_group_count(id)? as i64),
        ));
        let head = ctx.store.stream_edge(id, false)?;
        let tail = ctx.store.stream_edge(id, true)?;
        m.push(field("first-entry", head.map_or(Reply::Null, entry_reply)));
        m.push(field("last-entry", tail.map_or(Reply::Null, entry_reply)));
        return Ok(Reply::Map(m));
    };
    let limit = (count > 0).then_some(count);
    m.push(field(
        "entries",
        entries_reply(
            ctx.store
                .stream_range(id, StreamId::MIN, StreamId::MAX, limit, false)?,
        ),
    ));
    let mut groups = Vec::new();
    for g in ctx.store.stream_groups(id)? {
        let pel_count = ctx.store.stream_pel_count(id, &g.name, None)?;
        let pel = ctx
            .store
            .stream_pel_range(id, &g.name, &PelQuery::all(limit))?;
        let mut consumers = Vec::new();
        for c in ctx.store.stream_consumers(id, &g.name)? {
            let own_count = ctx.store.stream_pel_count(id, &g.name, Some(&c.name))?;
            let own = ctx.store.stream_pel_range(
                id,
                &g.name,
                &PelQuery {
                    consumer: Some(&c.name),
                    ..PelQuery::all(limit)
                },
            )?;
            consumers.push(Reply::Map(vec![
                field("name", Reply::bulk(c.name)),
                field("seen-time", Reply::Integer(c.seen)),
                field("pel-count", Reply::Integer(own_count as i64)),
                field(
                    "pending",
                    Reply::Array(
                        own.into_iter()
                            .map(|p| {
                                Reply::Array(vec![
                                    id_reply(p.id),
                                    Reply::Integer(p.delivered),
                                    Reply::Integer(p.count),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ]));
        }
        groups.push(Reply::Map(vec![
            field("name", Reply::bulk(g.name.clone())),
            field("last-delivered-id", id_reply(g.last)),
            field("entries-read", entries_read_reply(&g)),
            field("lag", lag_reply(&s, first, &g)),
            field("pel-count", Reply::Integer(pel_count as i64)),
            field(
                "pending",
                Reply::Array(
                    pel.into_iter()
                        .map(|p| {
                            Reply::Array(vec![
                                id_reply(p.id),
                                Reply::bulk(p.consumer),
                                Reply::Integer(p.delivered),
                                Reply::Integer(p.count),
                            ])
                        })
                        .collect(),
                ),
            ),
            field("consumers", Reply::Array(consumers)),
        ]));
    }
    m.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(m))
}

pub(super) fn help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    ))
}
