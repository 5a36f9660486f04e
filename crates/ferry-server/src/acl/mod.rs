//! Access control lists with Redis 7.0's semantics: users, their selectors
//! (commands, key patterns with read/write rights, channel patterns), the
//! permission check every command passes, and the ACL LOG.
//!
//! The executor calls [`check`] after authentication and before running a
//! command (and again for each command EXEC runs); scripts call
//! [`check_script`] for `redis.call`. The ACL command family is in
//! `cmd/acl.rs`; the ACL file in [`file`].

pub mod catalog;
pub mod file;
pub mod log;
pub mod user;

use crate::client::ClientState;
use crate::cmd::{getkeys, FullName};
use crate::state::ServerState;
use bytes::Bytes;
use catalog::Catalog;
use ferry_resp::Reply;
use std::collections::BTreeMap;
use user::{User, READ, WRITE};

/// The users, by name (sorted, as Redis lists them), and the log.
pub struct Acl {
    pub users: BTreeMap<Vec<u8>, User>,
    pub log: log::AclLog,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), User::default_user());
        Acl {
            users,
            log: Default::default(),
        }
    }
}

impl Acl {
    /// The `default` user, which always exists.
    pub fn default_user(&self) -> Option<&User> {
        self.users.get(&b"default"[..])
    }

    /// Whether new connections must authenticate (Redis: the default user
    /// has a password or is disabled).
    pub fn auth_required(&self) -> bool {
        self.default_user().is_none_or(|u| !u.nopass || !u.enabled)
    }

    /// requirepass is the default user's password (Redis maps it so):
    /// setting it replaces the passwords, an empty one means nopass.
    pub fn set_requirepass(&mut self, pass: &str) {
        if let Some(u) = self.users.get_mut(&b"default"[..]) {
            let _ = u.apply(b"resetpass", false);
            let _ = u.apply(
                &if pass.is_empty() {
                    b"nopass".to_vec()
                } else {
                    [&b">"[..], pass.as_bytes()].concat()
                },
                false,
            );
            u.refresh();
        }
    }
}

/// What denied a command: the command itself, or the key or channel at
/// this argv position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// Redis's order of importance when every selector refuses.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(p) => (2, p),
            Denied::Channel(p) => (4, p),
        }
    }
}

/// The channel arguments of a pub/sub command: (argv position, is a pattern).
fn channels(name: &str, argv: &[Bytes]) -> Vec<(usize, bool)> {
    match name {
        "publish" | "spublish" => (argv.len() > 1).then_some((1, false)).into_iter().collect(),
        "subscribe" | "ssubscribe" => (1..argv.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..argv.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}

/// Whether `user` may run the command `id` of the catalog with `argv`
/// (Redis's ACLCheckAllUserCommandPerm).
pub fn user_allows(user: &User, id: usize, argv: &[Bytes]) -> Result<(), Denied> {
    let cat = Catalog::get();
    let entry = &cat.entries[id];
    let no_auth = entry.spec.is_some_and(|s| s.has_flag("no_auth"));
    let mut keys: Option<Vec<getkeys::KeyRef>> = None;
    let chans = channels(&entry.name, argv);
    let mut worst: Option<Denied> = None;
    for sel in std::iter::once(&user.root).chain(user.selectors.iter()) {
        let verdict = (|| {
            if !no_auth && !sel.allows_command(id, argv) {
                return Err(Denied::Command);
            }
            if !sel.all_keys {
                let keys = keys.get_or_insert_with(|| getkeys::key_refs(&entry.name, argv));
                for k in keys.iter() {
                    let access = (if k.access & getkeys::R != 0 { READ } else { 0 })
                        | (if k.access & getkeys::W != 0 { WRITE } else { 0 });
                    if !sel.allows_key(&argv[k.pos], access) {
                        return Err(Denied::Key(k.pos));
                    }
                }
            }
            if !sel.all_channels {
                for &(pos, pattern) in &chans {
                    if !sel.allows_channel(&argv[pos], pattern) {
                        return Err(Denied::Channel(pos));
                    }
                }
            }
            Ok(())
        })();
        match verdict {
            Ok(()) => return Ok(()),
            Err(d) => {
                if worst.is_none_or(|w| d.rank() > w.rank()) {
                    worst = Some(d);
                }
            }
        }
    }
    Err(worst.unwrap_or(Denied::Command))
}

/// Where a refused command came from, for the log and the error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// The catalog id of a resolved command.
pub fn command_id(full: FullName) -> Option<usize> {
    Catalog::get().lookup_full(full)
}

/// The client's check, logging a refusal. `Ok` for a user that no longer
/// exists (its connections are closed when it is deleted).
fn check_client(
    server: &mut ServerState,
    client: &ClientState,
    full: FullName,
    argv: &[Bytes],
    ctx: Context,
) -> Result<(), Denied> {
    let Some(user) = server.acl.users.get(client.user.as_slice()) else {
        return Ok(());
    };
    if user.unrestricted {
        return Ok(());
    }
    let Some(id) = command_id(full) else {
        return Ok(());
    };
    let denied = match user_allows(user, id, argv) {
        Ok(()) => return Ok(()),
        Err(d) => d,
    };
    let (reason, object) = match denied {
        Denied::Command => ("command", full.to_string().into_bytes()),
        Denied::Key(p) => ("key", argv[p].to_vec()),
        Denied::Channel(p) => ("channel", argv[p].to_vec()),
    };
    let max = server
        .config
        .get("acllog-max-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    server.acl.log.add(
        reason,
        ctx.name(),
        object,
        client.user.clone(),
        client.info_line(),
        max,
    );
    Err(denied)
}

/// The executor's check, after NOAUTH and before the command runs or is
/// queued: Redis's -NOPERM error, or the EXEC variant for a queued command
/// the rules no longer allow.
pub fn check(
    server: &mut ServerState,
    client: &ClientState,
    full: FullName,
    argv: &[Bytes],
) -> Result<(), Reply> {
    let ctx = if client.multi.is_some() || client.in_exec {
        Context::Multi
    } else {
        Context::Toplevel
    };
    let denied = match check_client(server, client, full, argv, ctx) {
        Ok(()) => return Ok(()),
        Err(d) => d,
    };
    if client.in_exec {
        let why = match denied {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        return Err(Reply::error(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}")));
    }
    Err(Reply::error(match denied {
        Denied::Command => {
            format!("NOPERM this user has no permissions to run the '{full}' command")
        }
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }))
}

/// `redis.call` from a script: the error text the script sees (Redis
/// prefixes it with `ERR`).
pub fn check_script(
    server: &mut ServerState,
    client: &ClientState,
    full: FullName,
    argv: &[Bytes],
) -> Result<(), String> {
    check_client(server, client, full, argv, Context::Lua).map_err(|d| {
        match d {
            Denied::Command => "ERR The user executing the script can't run this command or subcommand",
            Denied::Key(_) => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
            Denied::Channel(_) => "ERR The user executing the script can't publish to the channel mentioned in the command",
        }
        .to_string()
    })
}

/// `redis.acl_check_cmd`: whether the client's user may run `argv`
/// (nothing is logged).
pub fn allowed(server: &ServerState, client: &ClientState, full: FullName, argv: &[Bytes]) -> bool {
    let (Some(user), Some(id)) = (
        server.acl.users.get(client.user.as_slice()),
        command_id(full),
    ) else {
        return true;
    };
    user.unrestricted || user_allows(user, id, argv).is_ok()
}

/// Whether the client's user may touch every key with `access` (SORT's
/// BY and GET options need it, as in Redis).
pub fn full_key_access(server: &ServerState, client: &ClientState, full: FullName) -> bool {
    let (Some(user), Some(id)) = (
        server.acl.users.get(client.user.as_slice()),
        command_id(full),
    ) else {
        return true;
    };
    if user.unrestricted {
        return true;
    }
    std::iter::once(&user.root)
        .chain(user.selectors.iter())
        .any(|s| {
            s.allows_command(id, &[])
                && (s.all_keys || s.patterns.iter().any(|(p, f)| p == b"*" && f & READ != 0))
        })
}

/// Logs a failed AUTH/HELLO for `username` (object: the command as sent).
pub fn log_auth_failure(
    server: &mut ServerState,
    client: &ClientState,
    command: &[u8],
    username: &[u8],
) {
    let max = server
        .config
        .get("acllog-max-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let ctx = if client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    server.acl.log.add(
        "auth",
        ctx.name(),
        command.to_vec(),
        username.to_vec(),
        client.info_line(),
        max,
    );
}
