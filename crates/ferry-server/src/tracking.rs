//! Server-assisted client-side caching (`CLIENT TRACKING`), as Redis 7.0
//! does it.
//!
//! - **Default mode**: the keys a tracking client reads (read-only
//!   commands, also from its scripts) are remembered in a table of key →
//!   client ids. When a key changes, every client in its entry gets one
//!   `invalidate` message and the entry is dropped (a client is told once
//!   until it reads the key again). OPTIN/OPTOUT and `CLIENT CACHING`
//!   decide which reads are remembered.
//! - **BCAST**: no table; a changed key matching a client's prefix is
//!   collected, and at the end of the executor's group every subscriber of
//!   the prefix gets one message with the keys (Redis sends them before it
//!   sleeps).
//! - Messages go to the client itself as RESP3 pushes, or to the REDIRECT
//!   client: a push in RESP3, a `__redis__:invalidate` pub/sub message in
//!   RESP2 when it is subscribed to anything.
//! - Like Redis, keys are names without a database: a write to `k` in any
//!   database invalidates `k` for every reader.
//!
//! Every change reaches this module through [`ferry_store::Store::take_modified`],
//! which records the journaled ops themselves: commands, transactions,
//! scripts, expiry on access and by the sweep all go through them.

use crate::client::ClientState;
use crate::state::ServerState;
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A client's tracking options (CLIENT TRACKING ON ...).
#[derive(Debug, Default, Clone)]
pub struct ClientTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// The client id messages go to; 0 for the client itself.
    pub redirect: u64,
    /// The redirect client was gone when a message was due.
    pub broken_redirect: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) was given for the next
    /// command or transaction.
    pub caching: bool,
    /// BCAST prefixes, in byte order.
    pub prefixes: BTreeSet<Bytes>,
    /// Invalidations of keys this client changed itself while it tracked
    /// them: sent after the reply of the command (or whole transaction or
    /// script) that changed them, as Redis 7.0 does. None is a flush.
    pub pending: Vec<Option<Bytes>>,
}

/// One BCAST prefix: who listens and the keys changed since the last
/// broadcast (with the id of the client that changed each last, for NOLOOP).
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Bytes, u64>,
}

/// The server-wide tracking state.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Key → ids of the clients that may cache it.
    table: HashMap<Bytes, Vec<u64>>,
    /// Sum of the table's id lists (INFO `tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Clients with tracking on (INFO `tracking_clients`).
    pub clients: usize,
}

impl Tracking {
    /// Whether the store must report changed keys.
    pub fn active(&self) -> bool {
        self.clients > 0 || !self.table.is_empty()
    }

    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    pub fn total_items(&self) -> usize {
        self.items
    }

    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

/// Does one of `a`, `b` start with the other (Redis's stringCheckPrefix)?
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Checks new BCAST prefixes against the client's and each other, with
/// Redis's error texts.
pub fn check_prefixes(current: &BTreeSet<Bytes>, new: &[Bytes]) -> Result<(), String> {
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = current.iter().find(|old| overlaps(old, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(old)
            ));
        }
        if let Some(other) = new[i + 1..].iter().find(|o| overlaps(p, o)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(other)
            ));
        }
    }
    Ok(())
}

/// Turns tracking on with these options (already checked).
pub fn enable(server: &mut ServerState, client: &mut ClientState, opts: ClientTracking) {
    let t = &mut client.tracking;
    if !t.on {
        server.tracking.clients += 1;
    }
    t.on = true;
    t.broken_redirect = false;
    t.redirect = opts.redirect;
    t.optin = opts.optin;
    t.optout = opts.optout;
    t.noloop = opts.noloop;
    t.bcast = opts.bcast;
    if opts.bcast {
        let mut prefixes = opts.prefixes;
        if prefixes.is_empty() {
            prefixes.insert(Bytes::new());
        }
        for p in prefixes {
            server
                .tracking
                .prefixes
                .entry(p.clone())
                .or_default()
                .clients
                .insert(client.id);
            t.prefixes.insert(p);
        }
    }
}

/// CLIENT TRACKING OFF, RESET, disconnect. Keys the client read stay in
/// the table (they are dropped when next invalidated), as in Redis.
pub fn disable(server: &mut ServerState, client: &mut ClientState) {
    let t = &mut client.tracking;
    if !t.on {
        return;
    }
    for p in std::mem::take(&mut t.prefixes) {
        if let Some(entry) = server.tracking.prefixes.get_mut(&p) {
            entry.clients.remove(&client.id);
            if entry.clients.is_empty() {
                server.tracking.prefixes.remove(&p);
            }
        }
    }
    server.tracking.clients -= 1;
    *t = ClientTracking::default();
}

/// Remembers the keys a read-only command read, for a client in default
/// mode (called after the command's own invalidations were handled).
pub fn remember(server: &mut ServerState, client: &ClientState, keys: &[Bytes]) {
    let t = &client.tracking;
    if !t.on || t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
        return;
    }
    for key in keys {
        // A copy: the argument is a slice of the connection's read buffer,
        // which the table must not keep alive.
        let ids = match server.tracking.table.get_mut(&key[..]) {
            Some(ids) => ids,
            None => server
                .tracking
                .table
                .entry(Bytes::copy_from_slice(key))
                .or_default(),
        };
        if !ids.contains(&client.id) {
            ids.push(client.id);
            server.tracking.items += 1;
        }
    }
}

/// Handles every change the store recorded: invalidation messages for the
/// default-mode readers, keys collected for BCAST prefixes. `current` is
/// the client whose command made the changes (None for the sweep).
pub fn invalidate_modified(
    store: &mut ferry_store::Store,
    server: &mut ServerState,
    mut current: Option<&mut ClientState>,
) {
    if !store.has_modified() {
        return;
    }
    for m in store.take_modified() {
        match m {
            ferry_store::Modified::Key(key) => {
                invalidate_key(server, current.as_deref_mut(), Bytes::from(key))
            }
            ferry_store::Modified::All => invalidate_all(server, current.as_deref_mut()),
        }
    }
}

/// Redis's trackingInvalidateKey.
fn invalidate_key(server: &mut ServerState, mut current: Option<&mut ClientState>, key: Bytes) {
    let by = current.as_ref().map_or(0, |c| c.id);
    if !server.tracking.prefixes.is_empty() {
        for (prefix, entry) in server.tracking.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                entry.keys.insert(key.clone(), by);
            }
        }
    }
    let Some(ids) = server.tracking.table.remove(&key) else {
        return;
    };
    server.tracking.items -= ids.len();
    for id in ids {
        let target = match current.as_deref_mut() {
            Some(me) if me.id == id => {
                let t = &me.tracking;
                if t.on && !t.bcast && !t.noloop {
                    // After the reply of the running command.
                    me.tracking.pending.push(Some(key.clone()));
                }
                continue;
            }
            _ => server.clients.get(&id),
        };
        match target {
            Some(c) if c.tracking.on && !c.tracking.bcast => {}
            _ => continue,
        }
        send(server, current.as_deref_mut(), id, Some(vec![key.clone()]));
    }
}

/// FLUSHDB, FLUSHALL (and SWAPDB): every tracking client is told to drop
/// its whole cache with a null invalidation, and the table is emptied.
/// Redis 7.0 sends nothing on SWAPDB, which leaves caches stale; ferry
/// treats it as a flush.
/// Every tracking client drops its whole cache (the store changed under
/// the server: a Raft rollback or snapshot).
pub fn invalidate_everything(server: &mut ServerState) {
    invalidate_all(server, None);
}

fn invalidate_all(server: &mut ServerState, mut current: Option<&mut ClientState>) {
    if server.tracking.clients > 0 {
        let mut ids: Vec<u64> = server
            .clients
            .values()
            .filter(|c| c.tracking.on)
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        if let Some(me) = current.as_deref_mut() {
            if me.tracking.on {
                me.tracking.pending.push(None);
            }
        }
        for id in ids {
            send(server, current.as_deref_mut(), id, None);
        }
    }
    server.tracking.table.clear();
    server.tracking.items = 0;
}

/// Sends an invalidation for the tracking client `id` (keys, or None for
/// a flush), through its redirect if it has one (Redis's
/// sendTrackingMessage). Messages for the running client go before its
/// reply; use [`take_pending`] for the ones that go after.
fn send(
    server: &mut ServerState,
    mut current: Option<&mut ClientState>,
    id: u64,
    keys: Option<Vec<Bytes>>,
) {
    let redirect = match current.as_deref() {
        Some(me) if me.id == id => me.tracking.redirect,
        _ => match server.clients.get(&id) {
            Some(c) => c.tracking.redirect,
            None => return,
        },
    };
    let to = if redirect == 0 { id } else { redirect };
    let redirect_alive = redirect == 0
        || current.as_deref().is_some_and(|me| me.id == to)
        || server.clients.contains_key(&to);
    if !redirect_alive {
        // Tell the tracking client (RESP3 only) that its messages are lost.
        let proto = with_client(server, current.as_deref_mut(), id, |c| {
            c.tracking.broken_redirect = true;
            c.protocol
        });
        if proto == Some(Protocol::Resp3) {
            let msg = Reply::Push(vec![
                Reply::bulk("tracking-redir-broken"),
                Reply::Integer(redirect as i64),
            ]);
            server.push_message(current, id, msg);
        }
        return;
    }
    let keys_reply = match keys {
        Some(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        None => Reply::Null,
    };
    let Some((proto, subscribed)) = with_client(server, current.as_deref_mut(), to, |c| {
        (c.protocol, c.subscription_count() > 0)
    }) else {
        return;
    };
    let msg = if proto == Protocol::Resp3 {
        Reply::Push(vec![Reply::bulk("invalidate"), keys_reply])
    } else if redirect != 0 && subscribed {
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("__redis__:invalidate"),
            keys_reply,
        ])
    } else {
        // RESP2 without a subscribed redirect: nowhere to send it.
        return;
    };
    server.push_message(current, to, msg);
}

fn with_client<T>(
    server: &mut ServerState,
    current: Option<&mut ClientState>,
    id: u64,
    f: impl FnOnce(&mut ClientState) -> T,
) -> Option<T> {
    match current {
        Some(me) if me.id == id => Some(f(me)),
        _ => server.clients.get_mut(&id).map(f),
    }
}

/// The invalidations of keys the running client changed itself, once its
/// top-level command has replied: the messages it gets itself, in order,
/// to write after the reply (those for a redirect go to the outbox).
pub fn take_pending(server: &mut ServerState, client: &mut ClientState) -> Vec<Reply> {
    let pending = std::mem::take(&mut client.tracking.pending);
    let id = client.id;
    for item in pending {
        send(server, Some(client), id, item.map(|k| vec![k]));
    }
    std::mem::take(&mut client.pending_pushes)
}

/// Sends every BCAST prefix's collected keys to its clients (one message
/// per prefix, keys in byte order; a NOLOOP client does not get the keys
/// it changed itself). Run at the end of each executor group.
pub fn broadcast(server: &mut ServerState) {
    if server.tracking.prefixes.is_empty() {
        return;
    }
    let mut messages: Vec<(u64, Vec<Bytes>)> = Vec::new();
    for entry in server.tracking.prefixes.values_mut() {
        if entry.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut entry.keys);
        for &id in &entry.clients {
            let noloop = server.clients.get(&id).is_some_and(|c| c.tracking.noloop);
            let list: Vec<Bytes> = keys
                .iter()
                .filter(|(_, by)| !noloop || **by != id)
                .map(|(k, _)| k.clone())
                .collect();
            if !list.is_empty() {
                messages.push((id, list));
            }
        }
    }
    for (id, keys) in messages {
        send(server, None, id, Some(keys));
    }
}

/// Keeps the table within `tracking-table-max-keys` (0: no limit): keys
/// beyond it are dropped, their readers invalidated, as Redis's
/// trackingLimitUsedSlots does (Redis picks them at random; here, in the
/// table's hash order).
pub fn enforce_limit(server: &mut ServerState) {
    let max = server.hot_config.tracking_max_keys;
    if max == 0 || server.tracking.table.len() <= max {
        return;
    }
    let excess = server.tracking.table.len() - max;
    let victims: Vec<Bytes> = server.tracking.table.keys().take(excess).cloned().collect();
    for key in victims {
        // Evictions are not changes: BCAST clients are not told.
        let Some(ids) = server.tracking.table.remove(&key) else {
            continue;
        };
        server.tracking.items -= ids.len();
        for id in ids {
            if server
                .clients
                .get(&id)
                .is_some_and(|c| c.tracking.on && !c.tracking.bcast)
            {
                send(server, None, id, Some(vec![key.clone()]));
            }
        }
    }
}

/// Remembers the keys of a read-only command for a tracking client (not
/// EVAL_RO and friends: the commands their scripts run are remembered one
/// by one, as in Redis).
pub fn remember_read(
    server: &mut ServerState,
    client: &ClientState,
    spec: &crate::cmd::CommandSpec,
    name: crate::cmd::FullName,
    argv: &[Bytes],
) {
    if !spec.has_flag("readonly")
        || spec.has_flag("pubsub")
        || matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return;
    }
    let keys = crate::cmd::getkeys::command_keys(spec, name, argv);
    if !keys.is_empty() {
        remember(server, client, &keys);
    }
}

/// After a command of a tracking client ran at the top level or in EXEC:
/// remembers what it read, and ends a CLIENT CACHING that applied to it
/// (it lasts for one command, or for a whole MULTI/EXEC, and CLIENT
/// subcommands do not end it, as Redis's resetClient).
pub fn after_command(
    server: &mut ServerState,
    client: &mut ClientState,
    spec: &crate::cmd::CommandSpec,
    name: crate::cmd::FullName,
    argv: &[Bytes],
) {
    remember_read(server, client, spec, name, argv);
    if client.tracking.caching
        && client.multi.is_none()
        && !client.in_exec
        && name.parent != Some("client")
    {
        client.tracking.caching = false;
    }
}
