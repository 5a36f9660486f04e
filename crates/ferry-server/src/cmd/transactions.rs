//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queuing happens in the executor (every command but these is queued while
//! a client is in MULTI), and so does EXEC, which runs the queued commands
//! through the executor's own dispatch: see `Executor::exec`.

use super::{cmd, err, CmdResult, CommandSpec, Ctx};
use crate::client::WatchedKey;
use bytes::Bytes;
use ferry_resp::Reply;

const TX: &[&str] = &["@fast", "@transaction"];
const FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("multi", 1, FLAGS, (0, 0, 0), TX, multi),
    cmd(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        (0, 0, 0),
        &["@slow", "@transaction"],
        |_, _| Err(err("ERR EXEC without MULTI")),
    ),
    cmd("discard", 1, FLAGS, (0, 0, 0), TX, discard),
    cmd("watch", -2, FLAGS, (1, -1, 1), TX, watch),
    cmd("unwatch", 1, FLAGS, (0, 0, 0), TX, unwatch),
];

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "multi" | "exec" | "discard" | "watch" | "unwatch" | "quit" | "reset"
    )
}

fn multi(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(err("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_failed = false;
    Ok(Reply::OK)
}

fn discard(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(err("ERR DISCARD without MULTI"));
    }
    ctx.client.multi_failed = false;
    ctx.client.watched.clear();
    Ok(Reply::OK)
}

fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(err("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in &argv[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key == key)
        {
            continue;
        }
        let version = ctx.store.key_version(db, key)?;
        ctx.client.watched.push(WatchedKey {
            db,
            key: key.clone(),
            version,
        });
    }
    Ok(Reply::OK)
}

fn unwatch(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.client.watched.clear();
    Ok(Reply::OK)
}
