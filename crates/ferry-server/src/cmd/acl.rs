//! The ACL command family (Redis 7.0): SETUSER, GETUSER, DELUSER, LIST,
//! USERS, WHOAMI, CAT, LOG, DRYRUN, GENPASS, SAVE, LOAD, HELP. The rules
//! themselves live in `crate::acl`.

use super::args::{is, parse_i64};
use super::{cmd, container, err, CmdResult, CommandSpec, Ctx};
use crate::acl::catalog::{category_bit, Catalog, CATEGORIES};
use crate::acl::user::merge_selector_args;
use crate::acl::{file, user_allows, Denied};
use bytes::Bytes;
use ferry_resp::Reply;
use std::path::PathBuf;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const PLAIN: &[&str] = &["noscript", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];
const SLOW: &[&str] = &["@slow"];

pub const COMMANDS: &[CommandSpec] = &[container("acl", -2, &[], SLOW, ACL)];

const ACL: &[CommandSpec] = &[
    cmd("cat", -2, PLAIN, (0, 0, 0), SLOW, acl_cat),
    cmd("deluser", -3, ADMIN, (0, 0, 0), ADMIN_ACL, acl_deluser),
    cmd("dryrun", -4, ADMIN, (0, 0, 0), ADMIN_ACL, acl_dryrun),
    cmd("genpass", -2, PLAIN, (0, 0, 0), SLOW, acl_genpass),
    cmd("getuser", 3, ADMIN, (0, 0, 0), ADMIN_ACL, acl_getuser),
    cmd("help", 2, &["loading", "stale"], (0, 0, 0), SLOW, acl_help),
    cmd("list", 2, ADMIN, (0, 0, 0), ADMIN_ACL, acl_list),
    cmd("load", 2, ADMIN, (0, 0, 0), ADMIN_ACL, acl_load),
    cmd("log", -2, ADMIN, (0, 0, 0), ADMIN_ACL, acl_log),
    cmd("save", 2, ADMIN, (0, 0, 0), ADMIN_ACL, acl_save),
    cmd("setuser", -3, ADMIN, (0, 0, 0), ADMIN_ACL, acl_setuser),
    cmd("users", 2, ADMIN, (0, 0, 0), ADMIN_ACL, acl_users),
    cmd("whoami", 2, PLAIN, (0, 0, 0), SLOW, acl_whoami),
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Keeps the event loop's view of "must authenticate" in step with
/// the default user.
fn sync_auth_required(ctx: &mut Ctx) {
    let required = ctx.server.acl.auth_required();
    ctx.server
        .auth_required
        .store(required, std::sync::atomic::Ordering::Relaxed);
}

fn pubsub_all(ctx: &Ctx) -> bool {
    ctx.server
        .config
        .get("acl-pubsub-default")
        .is_some_and(|v| v.eq_ignore_ascii_case("allchannels"))
}

/// An error reply quoting bytes as sent: `{before}{quoted}{after}`.
fn error_quoting(before: &str, quoted: &[u8], after: &str) -> Reply {
    Reply::ErrorBytes(Bytes::from(
        [before.as_bytes(), quoted, after.as_bytes()].concat(),
    ))
}

fn acl_setuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = &argv[2];
    if name.contains(&b' ') || name.contains(&0) {
        return Err(err("ERR Usernames can't contain spaces or null characters"));
    }
    let ops = match merge_selector_args(&argv[3..]) {
        Ok(ops) => ops,
        Err(start) => {
            return Ok(error_quoting(
                "ERR Unmatched parenthesis in acl selector starting at '",
                &start,
                "'.",
            ))
        }
    };
    // Rules apply to a copy: a refused rule leaves the user as it was.
    let all_channels = pubsub_all(ctx);
    let mut user = match ctx.server.acl.users.get(&name[..]) {
        Some(u) => u.clone(),
        None => file::new_user(name, all_channels),
    };
    for op in &ops {
        if let Err(e) = user.apply(op, all_channels) {
            return Ok(error_quoting(
                "ERR Error in ACL SETUSER modifier '",
                op,
                &format!("': {}", e.text()),
            ));
        }
    }
    user.refresh();
    ctx.server.acl.users.insert(name.to_vec(), user);
    kill_revoked_subscribers(ctx);
    sync_auth_required(ctx);
    Ok(Reply::OK)
}

fn acl_getuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(u) = ctx.server.acl.users.get(&argv[2][..]) else {
        return Ok(Reply::Null);
    };
    let selectors = u
        .selectors
        .iter()
        .map(|s| {
            Reply::Map(vec![
                (Reply::bulk("commands"), Reply::bulk(s.describe_commands())),
                (Reply::bulk("keys"), Reply::bulk(s.describe_keys())),
                (Reply::bulk("channels"), Reply::bulk(s.describe_channels())),
            ])
        })
        .collect();
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(u.flags().into_iter().map(Reply::bulk).collect()),
        ),
        (
            Reply::bulk("passwords"),
            Reply::Array(u.passwords.iter().map(|p| Reply::bulk(p.clone())).collect()),
        ),
        (
            Reply::bulk("commands"),
            Reply::bulk(u.root.describe_commands()),
        ),
        (Reply::bulk("keys"), Reply::bulk(u.root.describe_keys())),
        (
            Reply::bulk("channels"),
            Reply::bulk(u.root.describe_channels()),
        ),
        (Reply::bulk("selectors"), Reply::Array(selectors)),
    ]))
}

/// Closes the connections subscribed to a channel or pattern their user
/// may no longer use, as Redis does when channel rights are revoked.
fn kill_revoked_subscribers(ctx: &mut Ctx) {
    let acl = &ctx.server.acl;
    let revoked = |c: &crate::client::ClientState| {
        c.subscription_count() > 0
            && acl
                .users
                .get(c.user.as_slice())
                .is_some_and(|u| !u.may_subscribe(&c.channels, &c.patterns))
    };
    if revoked(ctx.client) {
        ctx.client.close_after_reply = true;
    }
    for c in ctx.server.clients.values() {
        if revoked(c) {
            c.out.kill();
        }
    }
}

/// Closes the connections of users that were deleted (the current one
/// after its reply).
fn kill_clients_of(ctx: &mut Ctx, gone: &dyn Fn(&[u8]) -> bool) {
    if gone(&ctx.client.user) {
        ctx.client.close_after_reply = true;
    }
    for c in ctx.server.clients.values() {
        if gone(&c.user) {
            c.out.kill();
        }
    }
}

fn acl_deluser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv[2..].iter().any(|a| &a[..] == b"default") {
        return Err(err("ERR The 'default' user cannot be removed"));
    }
    let mut deleted: Vec<Vec<u8>> = Vec::new();
    for a in &argv[2..] {
        if ctx.server.acl.users.remove(&a[..]).is_some() {
            deleted.push(a.to_vec());
        }
    }
    kill_clients_of(ctx, &|u| deleted.iter().any(|d| d == u));
    Ok(Reply::Integer(deleted.len() as i64))
}

fn acl_list(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.server
            .acl
            .users
            .values()
            .map(|u| Reply::bulk(u.line()))
            .collect(),
    ))
}

fn acl_users(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.server
            .acl
            .users
            .keys()
            .map(|n| Reply::bulk(n.clone()))
            .collect(),
    ))
}

fn acl_whoami(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::bulk(ctx.client.user.clone()))
}

fn acl_cat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let _ = ctx;
    match argv.len() {
        2 => Ok(Reply::Array(
            CATEGORIES.iter().map(|c| Reply::bulk(*c)).collect(),
        )),
        3 => {
            let name = text(&argv[2]);
            let bit =
                category_bit(&name).ok_or_else(|| err(format!("ERR Unknown category '{name}'")))?;
            Ok(Reply::Array(
                Catalog::get()
                    .entries
                    .iter()
                    .filter(|e| e.categories & bit != 0)
                    .map(|e| Reply::bulk(e.name.clone()))
                    .collect(),
            ))
        }
        _ => Ok(super::subcommand_syntax_error("ACL", &argv[1])),
    }
}

fn acl_log(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = match argv.len() {
        2 => 10,
        3 if is(&argv[2], "reset") => {
            ctx.server.acl.log.entries.clear();
            return Ok(Reply::OK);
        }
        3 => parse_i64(&argv[2])?.max(0) as usize,
        _ => return Ok(super::subcommand_syntax_error("ACL", &argv[1])),
    };
    let now = std::time::Instant::now();
    Ok(Reply::Array(
        ctx.server
            .acl
            .log
            .entries
            .iter()
            .take(count)
            .map(|e| {
                let age = now.duration_since(e.created).as_millis() as f64 / 1000.0;
                Reply::Map(vec![
                    (Reply::bulk("count"), Reply::Integer(e.count as i64)),
                    (Reply::bulk("reason"), Reply::bulk(e.reason)),
                    (Reply::bulk("context"), Reply::bulk(e.context)),
                    (Reply::bulk("object"), Reply::bulk(e.object.clone())),
                    (Reply::bulk("username"), Reply::bulk(e.username.clone())),
                    (Reply::bulk("age-seconds"), Reply::Double(age)),
                    (
                        Reply::bulk("client-info"),
                        Reply::bulk(e.client_info.clone()),
                    ),
                ])
            })
            .collect(),
    ))
}

fn acl_dryrun(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.server.acl.users.get(&argv[2][..]) else {
        return Ok(error_quoting("ERR User '", &argv[2], "' not found"));
    };
    let cmd_argv = &argv[3..];
    let (_, full) = match super::lookup(cmd_argv) {
        Ok(found) => found,
        Err(super::Unresolved::Arity(full)) => {
            return Err(err(format!(
                "ERR wrong number of arguments for '{full}' command"
            )))
        }
        Err(_) => return Ok(error_quoting("ERR Command '", &argv[3], "' not found")),
    };
    let Some(id) = crate::acl::command_id(full) else {
        return Ok(Reply::OK);
    };
    Ok(match user_allows(user, id, cmd_argv) {
        Ok(()) => Reply::OK,
        Err(Denied::Command) => Reply::bulk(format!(
            "This user has no permissions to run the '{full}' command"
        )),
        Err(Denied::Key(p)) => Reply::Bulk(Bytes::from(
            [
                &b"This user has no permissions to access the '"[..],
                &cmd_argv[p],
                b"' key",
            ]
            .concat(),
        )),
        Err(Denied::Channel(p)) => Reply::Bulk(Bytes::from(
            [
                &b"This user has no permissions to access the '"[..],
                &cmd_argv[p],
                b"' channel",
            ]
            .concat(),
        )),
    })
}

fn acl_genpass(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Ok(super::subcommand_syntax_error("ACL", &argv[1]));
    }
    let bits = match argv.get(2) {
        None => 256,
        Some(a) => parse_i64(a)?,
    };
    if bits <= 0 || bits > 4096 {
        return Err(err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
    }
    let chars = (bits as usize).div_ceil(4);
    let pass: String = (0..chars)
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
        .collect();
    Ok(Reply::bulk(pass))
}

const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn aclfile(ctx: &Ctx) -> Option<PathBuf> {
    ctx.server
        .config
        .get("aclfile")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

fn acl_save(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx).ok_or_else(|| err(NO_FILE))?;
    file::save(&path, &ctx.server.acl.users).map_err(|e| {
        log::warn!("cannot save the ACL file {}: {e}", path.display());
        err("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    Ok(Reply::OK)
}

fn acl_load(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx).ok_or_else(|| err(NO_FILE))?;
    let users = file::load(&path, pubsub_all(ctx)).map_err(|e| err(format!("ERR {e}")))?;
    ctx.server.acl.users = users;
    // As in Redis, the old users are gone: their connections close.
    kill_clients_of(ctx, &|u| u != b"default");
    sync_auth_required(ctx);
    Ok(Reply::OK)
}

fn acl_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(super::connection::help_reply(
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    ))
}
