//! CLIENT REPLY, PAUSE, UNPAUSE and NO-TOUCH.

use super::{err, CmdResult, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use std::time::{Duration, Instant};

const SYNTAX: &str = "ERR syntax error";

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP answer nothing (the executor
/// drops the replies; pushed messages still arrive).
pub fn reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let c = &mut *ctx.client;
    let mode = &argv[2];
    if mode.eq_ignore_ascii_case(b"on") {
        c.reply_off = false;
        c.reply_skip_next = false;
        Ok(Reply::OK)
    } else if mode.eq_ignore_ascii_case(b"off") {
        c.reply_off = true;
        Ok(Reply::NoReply)
    } else if mode.eq_ignore_ascii_case(b"skip") {
        if !c.reply_off {
            c.reply_skip_next = true;
        }
        Ok(Reply::NoReply)
    } else {
        Err(err(SYNTAX))
    }
}

/// Milliseconds as Redis's getTimeoutFromObjectOrReply reads them.
pub(super) fn parse_ms(arg: &[u8]) -> Result<u64, super::CmdError> {
    let n: i64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err("ERR timeout is not an integer or out of range"))?;
    if n < 0 {
        return Err(err("ERR timeout is negative"));
    }
    Ok(n as u64)
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn pause(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Ok(super::subcommand_syntax_error("CLIENT", &argv[1]));
    }
    let all = match argv.get(3) {
        None => true,
        Some(m) if m.eq_ignore_ascii_case(b"all") => true,
        Some(m) if m.eq_ignore_ascii_case(b"write") => false,
        Some(_) => return Err(err("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms = parse_ms(&argv[2])?;
    let until = Instant::now() + Duration::from_millis(ms.min(1 << 40));
    ctx.server.pause = Some(crate::pause::extend(
        ctx.server.pause,
        crate::pause::Pause { until, all },
    ));
    Ok(Reply::OK)
}

/// CLIENT UNPAUSE: the held clients run right after this command.
pub fn unpause(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.server.pause = None;
    Ok(Reply::OK)
}

/// CLIENT NO-TOUCH ON|OFF (Redis 7.2). ferry keeps no access times, so
/// reads never touch keys; the flag is kept for CLIENT LIST (`T`).
pub fn no_touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv[2].eq_ignore_ascii_case(b"on") {
        ctx.client.no_touch = true;
    } else if argv[2].eq_ignore_ascii_case(b"off") {
        ctx.client.no_touch = false;
    } else {
        return Err(err(SYNTAX));
    }
    Ok(Reply::OK)
}
