//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queuing happens in the executor (every command but these is queued while
//! a client is in MULTI), and so does EXEC, which runs the queued commands
//! through the executor's own dispatch: see `Executor::exec`.

use super::{cmd, err, CmdResult, CommandSpec, Ctx};
use crate::client::{ClientState, WatchedKey};
use crate::state::ServerState;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::Store;

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

/// Commands that run at once inside MULTI instead of being queued, as in
/// Redis 7.0's `processCommand`: UNWATCH is not one of them (it is queued).
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "multi" | "exec" | "discard" | "watch" | "quit" | "reset"
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
            token: ctx.server.watch_token.clone(),
        });
        if version.is_none() && ctx.store.watch_creation(db, key) {
            let still_watched = ctx
                .server
                .clients
                .values()
                .chain(std::iter::once(&*ctx.client))
                .flat_map(|c| c.watched.iter())
                .filter(|w| w.version.is_none())
                .map(|w| (w.db, w.key.to_vec()));
            ctx.store.reset_watch_creations(still_watched);
        }
    }
    Ok(Reply::OK)
}

/// The version a touched watched key gets: it matches no key, so EXEC
/// fails (Redis's CLIENT_DIRTY_CAS) even when the key is back as it was.
const TOUCHED: Option<(i64, i64)> = Some((i64::MIN, i64::MIN));

/// Marks `key` in `db` as touched for every client watching it, `current`
/// (the client whose command runs, out of the client map) included.
pub fn touch_watched(server: &mut ServerState, current: &mut ClientState, db: usize, key: &[u8]) {
    for client in server.clients.values_mut().chain(std::iter::once(current)) {
        for w in client.watched.iter_mut() {
            if w.db == db && w.key[..] == *key {
                w.version = TOUCHED;
            }
        }
    }
}

/// Touches the watchers of keys watched while absent and created since:
/// the key may be gone again by EXEC (a push popped at once by a blocked
/// client), and Redis fails that EXEC all the same.
pub fn touch_created(store: &mut Store, server: &mut ServerState, current: &mut ClientState) {
    for (db, key) in store.take_created_watched() {
        touch_watched(server, current, db, &key);
    }
}

fn unwatch(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.client.watched.clear();
    Ok(Reply::OK)
}
