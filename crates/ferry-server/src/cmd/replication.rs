//! WAIT. A single ferry server has no replicas, so no replica ever
//! acknowledges: as Redis with none connected, `WAIT 0 t` answers 0 at once
//! and `WAIT n t` waits out its timeout (0: forever, until CLIENT UNBLOCK)
//! and answers 0. On a Raft leader every acknowledged write is already on
//! a majority: WAIT answers at once with the followers that have it all.

use super::args::parse_i64;
use super::{cmd, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::KeyType;
use std::time::Duration;

pub const COMMANDS: &[CommandSpec] = &[cmd(
    "wait",
    3,
    &["noscript"],
    (0, 0, 0),
    &["@slow", "@connection"],
    wait,
)];

fn wait(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let wanted = parse_i64(&argv[1])?;
    let ms = super::client_admin::parse_ms(&argv[2])?;
    if let Some(node) = &ctx.server.raft {
        return Ok(Reply::Integer(crate::replication::caught_up_followers(
            &node.status(),
        )));
    }
    if wanted <= 0 {
        return Ok(Reply::Integer(0));
    }
    let timeout = (ms > 0).then(|| Duration::from_millis(ms));
    // No key can wake it: only its deadline or CLIENT UNBLOCK.
    ctx.block(Vec::new(), KeyType::String, timeout, Reply::Integer(0))
}
