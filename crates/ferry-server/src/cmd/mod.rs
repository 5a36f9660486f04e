//! The command table.
//!
//! Each command family lives in its own file and exports `COMMANDS`, a slice
//! of [`CommandSpec`]s (name, arity, flags, key positions, handler). Adding a
//! family is one new file plus one line in [`FAMILIES`].

mod acl;
pub mod args;
mod bitfield;
mod blocking;
mod client_admin;
mod client_tracking;
mod command;
pub(crate) mod connection;
mod diagnostics;
mod dump;
mod geo;
pub mod getkeys;
mod hashes;
mod hyperloglog;
mod keys;
mod lcs;
mod lists;
mod memory;
pub mod meta;
pub mod pubsub;
mod replication;
mod scripting;
mod server;
mod sort;
mod streams;
mod strings;
pub mod transactions;
mod zsets;

use crate::client::ClientState;
use crate::state::ServerState;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{KeyType, Store, StoreError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Every command family: one line each.
const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    strings::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    blocking::COMMANDS,
    server::COMMANDS,
    transactions::COMMANDS,
    pubsub::COMMANDS,
    hashes::COMMANDS,
    zsets::COMMANDS,
    scripting::COMMANDS,
    streams::COMMANDS,
    replication::COMMANDS,
    diagnostics::COMMANDS,
    memory::COMMANDS,
    geo::COMMANDS,
    sort::COMMANDS,
    lcs::COMMANDS,
    bitfield::COMMANDS,
    dump::COMMANDS,
    hyperloglog::COMMANDS,
    command::COMMANDS,
    acl::COMMANDS,
];

/// What a handler sees: the store, the calling client, the server, and
/// the scripting engines.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub client: &'a mut ClientState,
    pub server: &'a mut ServerState,
    pub scripting: &'a mut crate::script::Scripting,
}

impl Ctx<'_> {
    /// What a blocking command returns when it must wait: a request to
    /// block, or, inside MULTI/EXEC where nothing may block, its timeout
    /// reply at once (as Redis does).
    pub fn block(
        &mut self,
        keys: Vec<Bytes>,
        ktype: KeyType,
        timeout: Option<std::time::Duration>,
        timeout_reply: Reply,
    ) -> CmdResult {
        self.block_request(BlockRequest {
            keys,
            ktype,
            timeout,
            timeout_reply,
            retry: None,
            retry_if_gone: false,
        })
    }

    /// [`Ctx::block`] with every detail, such as the command to retry
    /// instead of the one sent (XREAD's `$` resolved to an id).
    pub fn block_request(&mut self, req: BlockRequest) -> CmdResult {
        if self.client.in_exec || self.client.in_script {
            return Ok(req.timeout_reply);
        }
        Err(CmdError::Block(Box::new(req)))
    }

    /// Tells the executor that `key` (in the client's database) may now
    /// serve a blocked client although it was not created: an XADD to an
    /// existing stream. Key creation is signalled by the store itself.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if !self.server.blocked.is_empty() {
            self.server.ready_keys.push((self.client.db, key.to_vec()));
        }
    }

    /// After FLUSHDB (`Some(db)`) or FLUSHALL: the keys of clients blocked
    /// there are retried (XREADGROUP learns its stream is gone).
    pub fn signal_flushed(&mut self, db: Option<usize>) {
        for blocked in &self.server.blocked {
            if db.is_none_or(|d| d == blocked.db) {
                for key in &blocked.keys {
                    self.server.ready_keys.push((blocked.db, key.to_vec()));
                }
            }
        }
    }

    /// Emits a keyspace event for `key` in the client's database, after the
    /// side-effect events (`expired`, `new`) the store recorded so far.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.notify_db(class, event, db, key);
    }

    /// Counts a read lookup as a keyspace hit or miss (INFO stats), and
    /// emits `keymiss` on a miss, as Redis's lookupKeyRead does.
    pub fn count_read(&mut self, key: &[u8], found: bool) {
        if found {
            self.server.stats.keyspace_hits += 1;
        } else {
            self.server.stats.keyspace_misses += 1;
            self.notify(crate::notify::KEY_MISS, "keymiss", key);
        }
    }

    /// After elements were removed from `key`: `event`, then `del` when
    /// the collection is gone (Redis deletes empty collections).
    pub fn notify_removed(&mut self, class: u32, event: &str, key: &[u8]) -> Result<(), CmdError> {
        self.notify(class, event, key);
        if self.store.lookup(self.client.db, key)?.is_none() {
            self.notify(crate::notify::GENERIC, "del", key);
        }
        Ok(())
    }

    /// After a *STORE command wrote `dst`: `event`, or `del` when the
    /// result was empty and removed an existing key.
    pub fn notify_stored(&mut self, class: u32, event: &str, dst: &[u8], len: i64, existed: bool) {
        if len > 0 {
            self.notify(class, event, dst);
        } else if existed {
            self.notify(crate::notify::GENERIC, "del", dst);
        }
    }

    /// [`Ctx::notify`] for a key in another database (MOVE).
    pub fn notify_db(&mut self, class: u32, event: &str, db: usize, key: &[u8]) {
        self.flush_store_events();
        crate::notify::emit(self.server, Some(self.client), class, event, db, key);
    }

    /// Emits the store's pending `new` and `expired` events.
    pub fn flush_store_events(&mut self) {
        flush_store_events(self.store, self.server, Some(self.client));
    }
}

/// Emits the store's pending side-effect events and counts expirations;
/// `current` is None for the background sweep.
pub fn flush_store_events(
    store: &mut Store,
    server: &mut ServerState,
    mut current: Option<&mut ClientState>,
) {
    flush_side_events(store, server, current.as_deref_mut());
    crate::tracking::invalidate_modified(store, server, current);
}

/// The `new`/`expired` events and blocked-client signals of
/// [`flush_store_events`].
fn flush_side_events(
    store: &mut Store,
    server: &mut ServerState,
    mut current: Option<&mut ClientState>,
) {
    for e in store.take_events() {
        match e {
            ferry_store::StoreEvent::New { db, key } => {
                crate::notify::emit(
                    server,
                    current.as_deref_mut(),
                    crate::notify::NEW,
                    "new",
                    db,
                    &key,
                );
                if !server.blocked.is_empty() {
                    server.ready_keys.push((db, key));
                }
            }
            // A client blocked in XREADGROUP on it must learn it is gone.
            ferry_store::StoreEvent::StreamGone { db, key } => {
                if !server.blocked.is_empty() {
                    server.ready_keys.push((db, key));
                }
            }
            ferry_store::StoreEvent::Expired { db, key } => {
                server.stats.expired_keys += 1;
                crate::notify::emit(
                    server,
                    current.as_deref_mut(),
                    crate::notify::EXPIRED,
                    "expired",
                    db,
                    &key,
                )
            }
        }
    }
}

/// A command's failure: an error reply for the client, or a storage fault;
/// or, for a blocking command, the request to wait.
#[derive(Debug)]
pub enum CmdError {
    Reply(Cow<'static, str>),
    Store(StoreError),
    /// Wait until one of `keys` is created, or `timeout` (None: forever).
    /// Boxed: the request is large and every handler returns this type.
    Block(Box<BlockRequest>),
}

#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// The type a key must hold for the command to be retried: a client
    /// blocked in BLPOP is not woken by a key that became a string.
    pub ktype: KeyType,
    pub timeout: Option<std::time::Duration>,
    pub timeout_reply: Reply,
    /// The command to run when retried, if not the one sent.
    pub retry: Option<Vec<Bytes>>,
    /// Also retry when a key was deleted or now holds another type
    /// (XREADGROUP answers that with an error, as Redis does).
    pub retry_if_gone: bool,
}

impl From<StoreError> for CmdError {
    fn from(e: StoreError) -> Self {
        CmdError::Store(e)
    }
}

impl CmdError {
    pub fn into_reply(self) -> Reply {
        match self {
            CmdError::Reply(text) => Reply::Error(text),
            CmdError::Store(StoreError::WrongType) => {
                Reply::error(StoreError::WrongType.to_string())
            }
            CmdError::Store(e) => {
                log::error!("{e}");
                Reply::error(format!("ERR {e}"))
            }
            // Only the executor sees this; a stray one answers as a timeout.
            CmdError::Block(req) => req.timeout_reply,
        }
    }
}

/// An error reply; `text` includes the code (`"ERR syntax error"`).
pub fn err(text: impl Into<Cow<'static, str>>) -> CmdError {
    CmdError::Reply(text.into())
}

pub type CmdResult = Result<Reply, CmdError>;
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// One command (or subcommand) and what COMMAND INFO says about it.
pub struct CommandSpec {
    /// Lowercase name; a subcommand's is its own word (`list` in CLIENT LIST).
    pub name: &'static str,
    /// Redis's arity: N exactly, or -N for at least N (the name counts).
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// (first key, last key, step) as in COMMAND INFO.
    pub keys: (i32, i32, i32),
    pub acl: &'static [&'static str],
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// A leaf command's spec.
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        acl,
        handler,
        subcommands: &[],
    }
}

/// A command made of subcommands (CLIENT, CONFIG, OBJECT, COMMAND).
pub const fn container(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: (0, 0, 0),
        acl,
        handler: |_, _| Err(err("ERR subcommand required")),
        subcommands,
    }
}

/// The table, indexed by lowercase name.
pub struct CommandTable {
    by_name: HashMap<&'static str, &'static CommandSpec>,
}

impl CommandTable {
    pub fn get() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(|| CommandTable {
            by_name: FAMILIES
                .iter()
                .flat_map(|f| f.iter())
                .map(|c| (c.name, c))
                .collect(),
        })
    }

    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        // Command names are short ASCII: lowercase on the stack.
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        std::str::from_utf8(lower)
            .ok()
            .and_then(|s| self.by_name.get(s).copied())
    }

    pub fn all(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.values().copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A command's full name: `get`, or `client|list` for a subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FullName {
    pub parent: Option<&'static str>,
    pub name: &'static str,
}

impl std::fmt::Display for FullName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parent {
            Some(p) => write!(f, "{p}|{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// Why an argv names no runnable command.
pub enum Unresolved {
    UnknownCommand,
    UnknownSubcommand(&'static CommandSpec),
    /// Wrong argument count for this command (or subcommand).
    Arity(FullName),
}

/// The command an argv names, after subcommand lookup and arity checks.
pub fn lookup(argv: &[Bytes]) -> Result<(&'static CommandSpec, FullName), Unresolved> {
    let table = CommandTable::get();
    let Some(spec) = table.lookup(&argv[0]) else {
        return Err(Unresolved::UnknownCommand);
    };
    let plain = FullName {
        parent: None,
        name: spec.name,
    };
    if !spec.arity_ok(argv.len()) {
        return Err(Unresolved::Arity(plain));
    }
    if spec.subcommands.is_empty() {
        return Ok((spec, plain));
    }
    let Some(sub) = spec
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(&argv[1]))
    else {
        return Err(Unresolved::UnknownSubcommand(spec));
    };
    let full = FullName {
        parent: Some(spec.name),
        name: sub.name,
    };
    if !sub.arity_ok(argv.len()) {
        return Err(Unresolved::Arity(full));
    }
    Ok((sub, full))
}

/// The command an argv resolves to, or the error reply Redis gives.
pub fn resolve(argv: &[Bytes]) -> Result<(&'static CommandSpec, FullName), Reply> {
    lookup(argv).map_err(|e| match e {
        Unresolved::UnknownCommand => unknown_command(argv),
        Unresolved::Arity(name) => Reply::error(format!(
            "ERR wrong number of arguments for '{name}' command"
        )),
        Unresolved::UnknownSubcommand(spec) => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate(&String::from_utf8_lossy(&argv[1]), 128),
            spec.name.to_ascii_uppercase()
        )),
    })
}

/// Redis's addReplySubcommandSyntaxError: the subcommand as sent (at most
/// 128 bytes, up to a NUL byte, line breaks as spaces).
pub(crate) fn subcommand_syntax_error(command: &str, sub: &[u8]) -> Reply {
    let sub = &sub[..sub.len().min(128)];
    let sub = &sub[..sub.iter().position(|b| *b == 0).unwrap_or(sub.len())];
    let mut text = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    text.extend(sub.iter().map(|b| match b {
        b'\r' | b'\n' => b' ',
        other => *other,
    }));
    text.extend_from_slice(format!("'. Try {command} HELP.").as_bytes());
    Reply::ErrorBytes(Bytes::from(text))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Redis's reply to an unknown command: the name and the first arguments
/// as sent (bytes, not necessarily UTF-8), each cut so the list stays near
/// 128 bytes.
fn unknown_command(argv: &[Bytes]) -> Reply {
    let mut args: Vec<u8> = Vec::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(&a[..a.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&argv[0][..argv[0].len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&args);
    Reply::ErrorBytes(Bytes::from(text))
}
