//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! Confirmations and messages for the calling client go to its
//! `pending_pushes` (written before the command's reply, as Redis orders
//! them); messages for other clients go to the server's outbox, sent after
//! the group's replies. In RESP3 they are push frames, in RESP2 arrays.

use super::connection::help_reply;
use super::{cmd, container, CmdResult, CommandSpec, Ctx};
use crate::client::ClientState;
use crate::state::ServerState;
use bytes::Bytes;
use ferry_resp::Reply;

const FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const SLOW: &[&str] = &["@pubsub", "@slow"];
const SUB: &[&str] = &["pubsub", "loading", "stale"];
const NONE: (i32, i32, i32) = (0, 0, 0);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("subscribe", -2, FLAGS, NONE, SLOW, subscribe),
    cmd("unsubscribe", -1, FLAGS, NONE, SLOW, unsubscribe),
    cmd("psubscribe", -2, FLAGS, NONE, SLOW, psubscribe),
    cmd("punsubscribe", -1, FLAGS, NONE, SLOW, punsubscribe),
    cmd(
        "publish",
        3,
        &["pubsub", "loading", "stale", "fast"],
        NONE,
        &["@pubsub", "@fast"],
        publish,
    ),
    container("pubsub", -2, &[], &["@slow"], PUBSUB),
];

const PUBSUB: &[CommandSpec] = &[
    cmd("channels", -2, SUB, NONE, SLOW, pubsub_channels),
    cmd("numsub", -2, SUB, NONE, SLOW, pubsub_numsub),
    cmd("numpat", 2, SUB, NONE, SLOW, pubsub_numpat),
    cmd("shardchannels", -2, SUB, NONE, SLOW, pubsub_shardchannels),
    cmd("shardnumsub", -2, SUB, NONE, SLOW, pubsub_shardnumsub),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        NONE,
        &["@slow"],
        pubsub_help,
    ),
];

/// What a RESP2 client with subscriptions may still run.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn event(kind: &'static str, name: Option<&Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind),
        name.map_or(Reply::Null, |n| Reply::Bulk(n.clone())),
        Reply::Integer(count as i64),
    ])
}

/// Which of the client's two subscription lists, and the server's index.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

fn lists<'a>(
    kind: Kind,
    server: &'a mut ServerState,
    client: &'a mut ClientState,
) -> (
    &'a mut std::collections::HashMap<Bytes, Vec<u64>>,
    &'a mut Vec<Bytes>,
) {
    match kind {
        Kind::Channel => (&mut server.channels, &mut client.channels),
        Kind::Pattern => (&mut server.patterns, &mut client.patterns),
    }
}

fn subscribe_generic(ctx: &mut Ctx, argv: &[Bytes], kind: Kind, label: &'static str) -> CmdResult {
    let id = ctx.client.id;
    for name in &argv[1..] {
        let (index, mine) = lists(kind, ctx.server, ctx.client);
        if !mine.contains(name) {
            mine.push(name.clone());
            index.entry(name.clone()).or_default().push(id);
        }
        let count = ctx.client.subscription_count();
        ctx.client
            .pending_pushes
            .push(event(label, Some(name), count));
    }
    Ok(Reply::NoReply)
}

fn remove_subscription(
    server: &mut ServerState,
    client: &mut ClientState,
    kind: Kind,
    name: &Bytes,
) -> bool {
    let id = client.id;
    let (index, mine) = lists(kind, server, client);
    let Some(at) = mine.iter().position(|n| n == name) else {
        return false;
    };
    mine.remove(at);
    if let Some(subs) = index.get_mut(name) {
        subs.retain(|s| *s != id);
        if subs.is_empty() {
            index.remove(name);
        }
    }
    true
}

fn unsubscribe_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    kind: Kind,
    label: &'static str,
) -> CmdResult {
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        match kind {
            Kind::Channel => ctx.client.channels.clone(),
            Kind::Pattern => ctx.client.patterns.clone(),
        }
    };
    if names.is_empty() {
        let count = ctx.client.subscription_count();
        ctx.client.pending_pushes.push(event(label, None, count));
    }
    for name in &names {
        remove_subscription(ctx.server, ctx.client, kind, name);
        let count = ctx.client.subscription_count();
        ctx.client
            .pending_pushes
            .push(event(label, Some(name), count));
    }
    Ok(Reply::NoReply)
}

/// Drops every subscription of a client (RESET, disconnect), silently.
pub fn unsubscribe_all(server: &mut ServerState, client: &mut ClientState) {
    for name in std::mem::take(&mut client.channels) {
        client.channels.push(name.clone());
        remove_subscription(server, client, Kind::Channel, &name);
    }
    for name in std::mem::take(&mut client.patterns) {
        client.patterns.push(name.clone());
        remove_subscription(server, client, Kind::Pattern, &name);
    }
}

fn subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Channel, "subscribe")
}

fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Channel, "unsubscribe")
}

fn psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Pattern, "psubscribe")
}

fn punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Pattern, "punsubscribe")
}

/// Delivers `message` on `channel` to every subscriber (channel
/// subscribers first, then pattern subscribers, each in subscription
/// order). `current` is the client running the command, whose own messages
/// go before its reply. Returns how many receivers it reached.
pub fn deliver(
    server: &mut ServerState,
    mut current: Option<&mut ClientState>,
    channel: &Bytes,
    message: &Bytes,
) -> i64 {
    let mut receivers: Vec<(u64, Reply)> = Vec::new();
    if let Some(subs) = server.channels.get(channel) {
        for id in subs {
            receivers.push((
                *id,
                Reply::Push(vec![
                    Reply::bulk("message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]),
            ));
        }
    }
    let mut patterns: Vec<(&Bytes, &Vec<u64>)> = server.patterns.iter().collect();
    patterns.sort_by(|a, b| a.0.cmp(b.0));
    for (pattern, subs) in patterns {
        if ferry_store::glob::glob_match(pattern, channel, false) {
            for id in subs {
                receivers.push((
                    *id,
                    Reply::Push(vec![
                        Reply::bulk("pmessage"),
                        Reply::Bulk(pattern.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(message.clone()),
                    ]),
                ));
            }
        }
    }
    let n = receivers.len() as i64;
    for (id, msg) in receivers {
        server.push_message(current.as_deref_mut(), id, msg);
    }
    n
}

fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(deliver(
        ctx.server,
        Some(ctx.client),
        &argv[1],
        &argv[2],
    )))
}

fn pubsub_channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pattern = argv.get(2);
    let mut names: Vec<&Bytes> = ctx
        .server
        .channels
        .keys()
        .filter(|c| pattern.is_none_or(|p| ferry_store::glob::glob_match(p, c, false)))
        .collect();
    names.sort();
    Ok(Reply::Array(
        names.into_iter().map(|n| Reply::Bulk(n.clone())).collect(),
    ))
}

fn pubsub_numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::new();
    for ch in &argv[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Integer(
            ctx.server.channels.get(ch).map_or(0, |s| s.len() as i64),
        ));
    }
    Ok(Reply::Array(out))
}

fn pubsub_numpat(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.server.patterns.len() as i64))
}

/// Sharded pub/sub is a cluster feature: a standalone server has no shard channels.
fn pubsub_shardchannels(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(vec![]))
}

fn pubsub_shardnumsub(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .flat_map(|ch| [Reply::Bulk(ch.clone()), Reply::Integer(0)])
            .collect(),
    ))
}

fn pubsub_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    List the channels with at least one subscriber, optionally matching a glob pattern.",
            "NUMPAT",
            "    Count the patterns clients are subscribed to.",
            "NUMSUB [<channel> ...]",
            "    Count the subscribers of each channel.",
            "SHARDCHANNELS [<pattern>]",
            "    List active shard channels (always none: ferry is not a cluster).",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Count the subscribers of each shard channel (always 0).",
        ],
    ))
}
