//! MONITOR, SLOWLOG and LATENCY: what the server did and how long it took
//! (the state lives in `crate::diagnostics`).

use super::args::parse_i64;
use super::connection::help_reply;
use super::{cmd, container, err, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("monitor", 1, ADMIN, (0, 0, 0), ACL, monitor),
    container("slowlog", -2, &[], &["@slow"], SLOWLOG),
    container("latency", -2, &[], &["@slow"], LATENCY),
];

/// SLOWLOG may run from scripts (no `noscript`), as in Redis 7.0.
const SLOWLOG_FLAGS: &[&str] = &["admin", "loading", "stale"];

const SLOWLOG: &[CommandSpec] = &[
    cmd("get", -2, SLOWLOG_FLAGS, (0, 0, 0), ACL, slowlog_get),
    cmd("len", 2, SLOWLOG_FLAGS, (0, 0, 0), ACL, slowlog_len),
    cmd("reset", 2, SLOWLOG_FLAGS, (0, 0, 0), ACL, slowlog_reset),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        &["@slow"],
        slowlog_help,
    ),
];

const LATENCY: &[CommandSpec] = &[
    cmd("latest", 2, ADMIN, (0, 0, 0), ACL, latency_latest),
    cmd("history", 3, ADMIN, (0, 0, 0), ACL, latency_history),
    cmd("reset", -2, ADMIN, (0, 0, 0), ACL, latency_reset),
    cmd("graph", 3, ADMIN, (0, 0, 0), ACL, latency_graph),
    cmd("doctor", 2, ADMIN, (0, 0, 0), ACL, latency_doctor),
    cmd("histogram", -2, ADMIN, (0, 0, 0), ACL, latency_histogram),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        &["@slow"],
        latency_help,
    ),
];

/// MONITOR: from now on the client receives every command the server
/// runs (see `diagnostics::feed_monitors`), until QUIT or RESET.
fn monitor(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    if ctx.client.in_exec || ctx.client.in_script {
        return Err(err("ERR MONITOR isn't allowed for DENY BLOCKING client"));
    }
    if !ctx.server.monitors.contains(&ctx.client.id) {
        ctx.server.monitors.push(ctx.client.id);
    }
    Ok(Reply::OK)
}

fn slowlog_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    const RANGE: &str = "ERR count should be greater than or equal to -1";
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(err(RANGE)),
        },
    };
    if argv.len() > 3 {
        return Ok(super::subcommand_syntax_error("SLOWLOG", &argv[1]));
    }
    let entries = ctx
        .server
        .slowlog
        .entries
        .iter()
        .take(count)
        .map(|e| {
            Reply::Array(vec![
                Reply::Integer(e.id as i64),
                Reply::Integer(e.time),
                Reply::Integer(e.micros as i64),
                Reply::Array(e.argv.iter().cloned().map(Reply::Bulk).collect()),
                Reply::Bulk(Bytes::copy_from_slice(e.peer.as_bytes())),
                Reply::Bulk(e.name.clone()),
            ])
        })
        .collect();
    Ok(Reply::Array(entries))
}

fn slowlog_len(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.server.slowlog.entries.len() as i64))
}

fn slowlog_reset(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.server.slowlog.entries.clear();
    Ok(Reply::OK)
}

fn slowlog_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return the <count> newest entries of the slow log (default 10, -1 for all):",
            "    id, unix time, microseconds, arguments, client address, client name.",
            "LEN",
            "    Return the number of entries in the slow log.",
            "RESET",
            "    Empty the slow log.",
        ],
    ))
}

fn latency_latest(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let rows = ctx
        .server
        .latency
        .events
        .iter()
        .filter_map(|(name, e)| {
            let (time, ms) = *e.samples.back()?;
            Some(Reply::Array(vec![
                Reply::Bulk(Bytes::copy_from_slice(name.as_bytes())),
                Reply::Integer(time),
                Reply::Integer(ms as i64),
                Reply::Integer(e.max as i64),
            ]))
        })
        .collect();
    Ok(Reply::Array(rows))
}

fn latency_history(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let rows = match ctx.server.latency.events.get(name.as_ref()) {
        Some(e) => e
            .samples
            .iter()
            .map(|(t, ms)| Reply::Array(vec![Reply::Integer(*t), Reply::Integer(*ms as i64)]))
            .collect(),
        None => Vec::new(),
    };
    Ok(Reply::Array(rows))
}

fn latency_reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let events = &mut ctx.server.latency.events;
    let n = if argv.len() == 2 {
        let n = events.len();
        events.clear();
        n
    } else {
        argv[2..]
            .iter()
            .filter(|a| events.remove(String::from_utf8_lossy(a).as_ref()).is_some())
            .count()
    };
    Ok(Reply::Integer(n as i64))
}

/// An ASCII chart of an event's samples, newest at the right (ferry's
/// own drawing; Redis draws a similar sparkline).
fn latency_graph(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]).into_owned();
    let Some(e) = ctx
        .server
        .latency
        .events
        .get(&name)
        .filter(|e| !e.samples.is_empty())
    else {
        return Err(err(format!("ERR No samples available for event '{name}'")));
    };
    let max = e.max.max(1);
    let rows = 8u64;
    let mut out = format!("{name} - high {} ms, low {} ms\n\n", e.max, {
        e.samples.iter().map(|s| s.1).min().unwrap_or(0)
    });
    for row in (1..=rows).rev() {
        for (_, ms) in &e.samples {
            out.push(if ms * rows >= row * max { '#' } else { ' ' });
        }
        out.push('\n');
    }
    out.push_str(&"-".repeat(e.samples.len()));
    out.push('\n');
    Ok(Reply::Verbatim("txt".into(), Bytes::from(out)))
}

fn latency_doctor(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let threshold = ctx.server.hot_config.latency_threshold_ms;
    let mut out = String::new();
    if threshold == 0 {
        out.push_str("The latency monitor is off: enable it with CONFIG SET latency-monitor-threshold <milliseconds>, then ask again.\n");
    } else if ctx.server.latency.events.is_empty() {
        out.push_str(&format!(
            "No event reached the threshold of {threshold} ms since the monitor was last reset.\n"
        ));
    } else {
        out.push_str(&format!("Events over {threshold} ms:\n\n"));
        for (name, e) in &ctx.server.latency.events {
            let n = e.samples.len().max(1) as u64;
            let avg = e.samples.iter().map(|s| s.1).sum::<u64>() / n;
            out.push_str(&format!(
                "- {name}: {} samples, average {avg} ms, worst {} ms.\n",
                e.samples.len(),
                e.max
            ));
        }
        out.push_str("\nSLOWLOG GET shows which commands were slow.\n");
    }
    Ok(Reply::Verbatim("txt".into(), Bytes::from(out)))
}

/// LATENCY HISTOGRAM [command ...]: calls and cumulative counts per
/// power-of-two microsecond bucket, for commands that ran.
fn latency_histogram(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = argv[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let mut rows: Vec<(String, crate::state::CommandStat)> = ctx
        .server
        .stats
        .commands
        .iter()
        .map(|(name, stat)| (name.to_string(), *stat))
        .filter(|(name, stat)| stat.calls > 0 && (wanted.is_empty() || wanted.contains(name)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Reply::Map(
        rows.into_iter()
            .map(|(name, stat)| {
                let buckets = stat
                    .histogram
                    .cumulative()
                    .into_iter()
                    .map(|(us, n)| (Reply::Integer(us as i64), Reply::Integer(n as i64)))
                    .collect();
                (
                    Reply::Bulk(Bytes::copy_from_slice(name.as_bytes())),
                    Reply::Map(vec![
                        (Reply::bulk("calls"), Reply::Integer(stat.calls as i64)),
                        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
                    ]),
                )
            })
            .collect(),
    ))
}

fn latency_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    A short report of the latency events recorded.",
            "GRAPH <event>",
            "    An ASCII chart of an event's samples.",
            "HISTORY <event>",
            "    The samples of an event: unix time and milliseconds.",
            "LATEST",
            "    The latest and worst sample of every event.",
            "RESET [<event> ...]",
            "    Forget the samples of the events (all without arguments).",
            "HISTOGRAM [<command> ...]",
            "    Per-command latency: calls and cumulative counts per microsecond bucket.",
        ],
    ))
}
