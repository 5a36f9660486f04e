//! CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO: the commands of
//! client-side caching (see `crate::tracking`), with Redis 7.0's checks
//! and error texts.

use super::{err, CmdResult, Ctx};
use crate::tracking::{self, ClientTracking};
use bytes::Bytes;
use ferry_resp::Reply;
use std::collections::BTreeSet;

const SYNTAX: &str = "ERR syntax error";

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut opts = ClientTracking::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let arg = &argv[j];
        let more = j + 1 < argv.len();
        if arg.eq_ignore_ascii_case(b"redirect") && more {
            j += 1;
            if opts.redirect != 0 {
                return Err(err(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = std::str::from_utf8(&argv[j])
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| err("ERR value is not an integer or out of range"))?;
            let exists =
                id as u64 == ctx.client.id || ctx.server.clients.contains_key(&(id as u64));
            if !exists {
                return Err(err("ERR The client ID you want redirect to does not exist"));
            }
            opts.redirect = id as u64;
        } else if arg.eq_ignore_ascii_case(b"bcast") {
            opts.bcast = true;
        } else if arg.eq_ignore_ascii_case(b"optin") {
            opts.optin = true;
        } else if arg.eq_ignore_ascii_case(b"optout") {
            opts.optout = true;
        } else if arg.eq_ignore_ascii_case(b"noloop") {
            opts.noloop = true;
        } else if arg.eq_ignore_ascii_case(b"prefix") && more {
            j += 1;
            prefixes.push(Bytes::copy_from_slice(&argv[j]));
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    let mode = &argv[2];
    if mode.eq_ignore_ascii_case(b"on") {
        let current = &ctx.client.tracking;
        if !opts.bcast && !prefixes.is_empty() {
            return Err(err("ERR PREFIX option requires BCAST mode to be enabled"));
        }
        if current.on && current.bcast != opts.bcast {
            return Err(err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts.bcast && (opts.optin || opts.optout) {
            return Err(err("ERR OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if opts.optin && opts.optout {
            return Err(err("ERR You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if (opts.optin && current.optout) || (opts.optout && current.optin) {
            return Err(err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts.bcast {
            tracking::check_prefixes(&current.prefixes, &prefixes).map_err(err)?;
        }
        opts.prefixes = prefixes.into_iter().collect::<BTreeSet<_>>();
        tracking::enable(ctx.server, ctx.client, opts);
    } else if mode.eq_ignore_ascii_case(b"off") {
        tracking::disable(ctx.server, ctx.client);
    } else {
        return Err(err(SYNTAX));
    }
    Ok(Reply::OK)
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked
/// (OPTIN: only with YES; OPTOUT: all but with NO).
pub fn caching(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = &mut ctx.client.tracking;
    if !t.on {
        return Err(err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    let opt = &argv[2];
    if opt.eq_ignore_ascii_case(b"yes") {
        if !t.optin {
            return Err(err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if opt.eq_ignore_ascii_case(b"no") {
        if !t.optout {
            return Err(err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(err(SYNTAX));
    }
    t.caching = true;
    Ok(Reply::OK)
}

/// CLIENT GETREDIR: -1 without tracking, 0 without redirect, else the id.
pub fn getredir(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let t = &ctx.client.tracking;
    Ok(Reply::Integer(if t.on { t.redirect as i64 } else { -1 }))
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as a map.
pub fn trackinginfo(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let t = &ctx.client.tracking;
    let mut flags = Vec::new();
    if !t.on {
        flags.push("off");
    } else {
        flags.push("on");
        if t.bcast {
            flags.push("bcast");
        }
        if t.optin {
            flags.push("optin");
            if t.caching {
                flags.push("caching-yes");
            }
        }
        if t.optout {
            flags.push("optout");
            if t.caching {
                flags.push("caching-no");
            }
        }
        if t.noloop {
            flags.push("noloop");
        }
        if t.broken_redirect {
            flags.push("broken_redirect");
        }
    }
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (
            Reply::bulk("redirect"),
            Reply::Integer(if t.on { t.redirect as i64 } else { -1 }),
        ),
        (
            Reply::bulk("prefixes"),
            Reply::Array(t.prefixes.iter().cloned().map(Reply::Bulk).collect()),
        ),
    ]))
}
