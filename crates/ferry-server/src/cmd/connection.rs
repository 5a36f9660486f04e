//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.

use super::args::{is, parse_db, parse_i64, SYNTAX};
use super::{cmd, container, err, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};

const CONN: &[&str] = &["@fast", "@connection"];
const LOADING_STALE_FAST: &[&str] = &["loading", "stale", "fast"];
const NO_AUTH: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("ping", -1, &["fast"], (0, 0, 0), CONN, ping),
    cmd("echo", 2, LOADING_STALE_FAST, (0, 0, 0), CONN, echo),
    cmd("quit", -1, NO_AUTH, (0, 0, 0), CONN, quit),
    cmd("reset", 1, NO_AUTH, (0, 0, 0), CONN, reset),
    cmd("hello", -1, NO_AUTH, (0, 0, 0), CONN, hello),
    cmd("auth", -2, NO_AUTH, (0, 0, 0), CONN, auth),
    cmd("select", 2, LOADING_STALE_FAST, (0, 0, 0), CONN, select),
    container("client", -2, &[], &["@slow"], CLIENT),
    cmd("readonly", 1, LOADING_STALE_FAST, (0, 0, 0), CONN, readonly),
    cmd(
        "readwrite",
        1,
        LOADING_STALE_FAST,
        (0, 0, 0),
        CONN,
        readwrite,
    ),
];

/// READONLY / READWRITE: Redis Cluster's way to let a connection read from
/// a replica. On a Raft follower, READONLY lets this connection read the
/// follower's (possibly stale) copy; without Raft, Redis's answer when
/// cluster mode is off.
fn readonly(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    set_stale_reads(ctx, true)
}

fn readwrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    set_stale_reads(ctx, false)
}

fn set_stale_reads(ctx: &mut Ctx, on: bool) -> CmdResult {
    if ctx.server.startup.raft.is_none() {
        return Err(err("ERR This instance has cluster support disabled"));
    }
    ctx.client.stale_reads = on;
    Ok(Reply::OK)
}

const CLIENT_FLAGS: &[&str] = &["noscript", "loading", "stale"];
const CLIENT_ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const CLIENT_ACL: &[&str] = &["@slow", "@connection"];
const CLIENT_ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];

const CLIENT: &[CommandSpec] = &[
    cmd("id", 2, CLIENT_FLAGS, (0, 0, 0), CLIENT_ACL, client_id),
    cmd(
        "setname",
        3,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        client_setname,
    ),
    cmd(
        "getname",
        2,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        client_getname,
    ),
    cmd(
        "list",
        -2,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        client_list,
    ),
    cmd("info", 2, CLIENT_FLAGS, (0, 0, 0), CLIENT_ACL, client_info),
    cmd(
        "kill",
        -3,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        client_kill,
    ),
    cmd(
        "no-evict",
        3,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        client_no_evict,
    ),
    cmd(
        "unblock",
        -3,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        client_unblock,
    ),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        CLIENT_ACL,
        client_help,
    ),
    cmd(
        "tracking",
        -3,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_tracking::tracking,
    ),
    cmd(
        "caching",
        3,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_tracking::caching,
    ),
    cmd(
        "getredir",
        2,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_tracking::getredir,
    ),
    cmd(
        "reply",
        3,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_admin::reply,
    ),
    cmd(
        "pause",
        -3,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        super::client_admin::pause,
    ),
    cmd(
        "unpause",
        2,
        CLIENT_ADMIN,
        (0, 0, 0),
        CLIENT_ADMIN_ACL,
        super::client_admin::unpause,
    ),
    cmd(
        "no-touch",
        3,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_admin::no_touch,
    ),
    cmd(
        "trackinginfo",
        2,
        CLIENT_FLAGS,
        (0, 0, 0),
        CLIENT_ACL,
        super::client_tracking::trackinginfo,
    ),
];

fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // A RESP2 client in subscribed mode gets PING's answer as a message.
    if ctx.client.in_subscribed_mode() && argv.len() <= 2 {
        let payload = argv.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::Bulk(payload),
        ]));
    }
    match argv.len() {
        1 => Ok(Reply::status("PONG")),
        2 => Ok(Reply::Bulk(argv[1].clone())),
        _ => Err(err("ERR wrong number of arguments for 'ping' command")),
    }
}

fn echo(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(argv[1].clone()))
}

fn quit(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::OK)
}

fn reset(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.scripting
        .gate
        .note_protocol(ctx.client.id, Protocol::Resp2);
    let c = &mut *ctx.client;
    c.db = 0;
    c.protocol = Protocol::Resp2;
    c.name = None;
    c.multi = None;
    c.multi_failed = false;
    c.watched.clear();
    super::pubsub::unsubscribe_all(ctx.server, c);
    crate::tracking::disable(ctx.server, c);
    c.reply_off = false;
    c.reply_skip_next = false;
    ctx.server.monitors.retain(|m| *m != c.id);
    c.authenticated = !ctx.server.acl.auth_required();
    c.user = b"default".to_vec();
    Ok(Reply::status("RESET"))
}

/// Logs `user` in with `pass` (an enabled ACL user whose password
/// matches, or a nopass user); a failure is logged in ACL LOG.
fn authenticate(ctx: &mut Ctx, command: &[u8], user: &[u8], pass: &[u8]) -> bool {
    let ok = ctx
        .server
        .acl
        .users
        .get(user)
        .is_some_and(|u| u.password_ok(pass));
    if ok {
        ctx.client.authenticated = true;
        ctx.client.user = user.to_vec();
    } else {
        crate::acl::log_auth_failure(ctx.server, ctx.client, command, user);
    }
    ok
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(err(SYNTAX));
    }
    let (user, pass): (&[u8], &[u8]) = if argv.len() == 2 {
        if ctx.server.acl.default_user().is_some_and(|u| u.nopass) {
            return Err(err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        (b"default", &argv[1])
    } else {
        (&argv[1], &argv[2])
    };
    if authenticate(ctx, &argv[0], user, pass) {
        Ok(Reply::OK)
    } else {
        Err(err(WRONGPASS))
    }
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut protocol = None;
    if argv.len() >= 2 {
        let v = parse_i64(&argv[1])
            .map_err(|_| err("ERR Protocol version is not an integer or out of range"))?;
        protocol = match v {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => return Err(err("NOPROTO unsupported protocol version")),
        };
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "auth") && more >= 2 {
            credentials = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 3;
        } else if is(&argv[i], "setname") && more >= 1 {
            name = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            )));
        }
    }
    if let Some((user, pass)) = &credentials {
        if !authenticate(ctx, &argv[0], user, pass) {
            return Err(err(WRONGPASS));
        }
    }
    if !ctx.client.authenticated {
        return Err(err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = &name {
        if !valid_client_name(n) {
            return Err(err(BAD_NAME));
        }
        ctx.client.name = (!n.is_empty()).then(|| n.to_vec());
    }
    if let Some(p) = protocol {
        ctx.client.protocol = p;
        ctx.scripting.gate.note_protocol(ctx.client.id, p);
    }
    let proto = match ctx.client.protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    Ok(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(crate::REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Integer(proto)),
        (Reply::bulk("id"), Reply::Integer(ctx.client.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ]))
}

fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.db = parse_db(&argv[1], "ERR DB index is out of range")?;
    Ok(Reply::OK)
}

fn client_id(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.client.id as i64))
}

fn client_setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = &argv[2];
    if !valid_client_name(name) {
        return Err(err(BAD_NAME));
    }
    ctx.client.name = (!name.is_empty()).then(|| name.to_vec());
    Ok(Reply::OK)
}

fn client_getname(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(match &ctx.client.name {
        Some(n) => Reply::bulk(n.clone()),
        None => Reply::Null,
    })
}

fn client_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < argv.len() {
        if is(&argv[i], "type") && i + 1 < argv.len() {
            let t = &argv[i + 1];
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|k| is(t, k))
            {
                return Err(err(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
            if !is(t, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if is(&argv[i], "id") && i + 1 < argv.len() {
            let mut wanted = Vec::new();
            for a in &argv[i + 1..] {
                let id = parse_i64(a)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("ERR Invalid client ID"))?;
                wanted.push(id as u64);
            }
            ids = Some(wanted);
            break;
        } else {
            return Err(err(SYNTAX));
        }
    }
    let mut lines: Vec<(u64, String)> = ctx
        .server
        .clients
        .values()
        .chain(std::iter::once(&*ctx.client))
        .filter(|c| ids.as_ref().is_none_or(|w| w.contains(&c.id)))
        .map(|c| (c.id, c.info_line()))
        .collect();
    lines.sort_by_key(|(id, _)| *id);
    let mut text = String::new();
    for (_, l) in lines {
        text.push_str(&l);
        text.push('\n');
    }
    Ok(Reply::Verbatim("txt".into(), Bytes::from(text)))
}

fn client_info(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(
        "txt".into(),
        Bytes::from(format!("{}\n", ctx.client.info_line())),
    ))
}

/// CLIENT KILL addr:port (old form) or CLIENT KILL <filter> <value> ...
fn client_kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(&argv[2]);
        let target = ctx
            .server
            .clients
            .values()
            .chain(std::iter::once(&*ctx.client))
            .find(|c| c.addr.to_string() == addr)
            .map(|c| c.id)
            .ok_or_else(|| err("ERR No such client"))?;
        kill(ctx, target);
        return Ok(Reply::OK);
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut user = None;
    let mut skipme = true;
    let mut args = argv[2..].chunks(2);
    for pair in &mut args {
        let [k, v] = pair else {
            return Err(err(SYNTAX));
        };
        if is(k, "id") {
            id = Some(
                parse_i64(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(k, "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(err(SYNTAX));
            };
        } else if is(k, "user") {
            if !ctx.server.acl.users.contains_key(&v[..]) {
                let mut text = b"ERR No such user '".to_vec();
                text.extend_from_slice(v);
                text.push(b'\'');
                return Ok(Reply::ErrorBytes(Bytes::from(text)));
            }
            user = Some(v.to_vec());
        } else if is(k, "type") || is(k, "maxage") {
            // Accepted filters ferry has no distinct values for: every
            // client is a normal client.
        } else {
            return Err(err(SYNTAX));
        }
    }
    let me = ctx.client.id;
    let targets: Vec<u64> = ctx
        .server
        .clients
        .values()
        .chain(std::iter::once(&*ctx.client))
        .filter(|c| id.is_none_or(|i| i == c.id))
        .filter(|c| addr.as_ref().is_none_or(|a| *a == c.addr.to_string()))
        .filter(|c| laddr.as_ref().is_none_or(|a| *a == c.laddr.to_string()))
        .filter(|c| user.as_ref().is_none_or(|u| *u == c.user))
        .filter(|c| !(skipme && c.id == me))
        .map(|c| c.id)
        .collect();
    for t in &targets {
        kill(ctx, *t);
    }
    Ok(Reply::Integer(targets.len() as i64))
}

fn kill(ctx: &mut Ctx, id: u64) {
    if id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else if let Some(c) = ctx.server.clients.get(&id) {
        c.out.kill();
    }
}

fn client_no_evict(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if is(&argv[2], "on") || is(&argv[2], "off") {
        Ok(Reply::OK)
    } else {
        Err(err(SYNTAX))
    }
}

/// Releases a client blocked in a blocking command, as if it timed out
/// (default) or with an UNBLOCKED error. Replies 1 if it was blocked.
fn client_unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_i64(&argv[2])?;
    let with_error = match argv.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return Err(err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    if argv.len() > 4 {
        return Err(err(SYNTAX));
    }
    let Some(b) = ctx
        .server
        .blocked
        .iter_mut()
        .find(|b| b.id as i64 == id && b.unblock_with.is_none())
    else {
        return Ok(Reply::Integer(0));
    };
    ctx.server.unblock_requested = true;
    b.unblock_with = Some(if with_error {
        Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    } else {
        b.timeout_reply.clone()
    });
    Ok(Reply::Integer(1))
}

fn client_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CLIENT",
        &[
            "ID",
            "    Return the ID of the current connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Name the current connection (no spaces or special characters).",
            "INFO",
            "    Describe the current connection.",
            "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
            "    Describe every connection, or the ones selected.",
            "KILL <ip:port> | KILL <filter> <value> [<filter> <value> ...]",
            "    Close connections. Filters: ID, ADDR, LADDR, SKIPME (yes by default), TYPE, USER.",
            "NO-EVICT (ON|OFF)",
            "    Accepted for compatibility; ferry never evicts clients.",
            "UNBLOCK <id> [TIMEOUT|ERROR]",
            "    Unblock a client blocked in a blocking command.",
        ],
    ))
}

/// A HELP reply: a title line, the given lines, and the closing HELP line.
pub fn help_reply(command: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Status(
        format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    )];
    out.extend(lines.iter().map(|l| Reply::Status(l.to_string().into())));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}
