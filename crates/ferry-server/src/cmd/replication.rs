//! WAIT: ferry has no replicas (yet: Raft replication is planned), so no
//! replica ever acknowledges. As Redis with none connected, `WAIT 0 t`
//! answers 0 at once and `WAIT n t` waits out its timeout (0: forever,
//! until CLIENT UNBLOCK) and answers 0.

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
    if wanted <= 0 {
        return Ok(Reply::Integer(0));
    }
    let timeout = (ms > 0).then(|| Duration::from_millis(ms));
    // No key can wake it: only its deadline or CLIENT UNBLOCK.
    ctx.block(Vec::new(), KeyType::String, timeout, Reply::Integer(0))
}
