//! DUMP, RESTORE and MIGRATE: a key's value as a Redis 7.0 DUMP payload
//! (built and read by `ferry-rdb`), so keys move between ferry and
//! redis-server in both directions.
//!
//! MIGRATE talks to the target with a blocking socket on the executor
//! thread, as Redis does on its main thread: the server waits for it, at
//! most `timeout` per socket operation.

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_rdb::{
    EncodeOptions, PendingEntry, StreamConsumer, StreamEntry, StreamGroup, StreamValue, Value,
};
use ferry_resp::Reply;
use ferry_store::lists::ListEnd;
use ferry_store::streams::{Consumer, Group, PelQuery, Pending, StreamId};
use ferry_store::{KeyInfo, KeyType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "dump",
        2,
        &["readonly"],
        (1, 1, 1),
        &["@keyspace", "@read", "@slow"],
        dump,
    ),
    cmd(
        "restore",
        -4,
        &["write", "denyoom"],
        (1, 1, 1),
        &["@keyspace", "@write", "@slow", "@dangerous"],
        restore,
    ),
    cmd(
        "migrate",
        -6,
        &["write", "movablekeys"],
        (3, 3, 1),
        &["@keyspace", "@write", "@slow", "@dangerous"],
        migrate,
    ),
];

fn encode_options(ctx: &Ctx) -> EncodeOptions {
    let l = ctx.server.config.stream_node_limits();
    EncodeOptions {
        stream_node_max_bytes: l.max_bytes,
        stream_node_max_entries: l.max_entries,
    }
}

fn id_pair(id: StreamId) -> (u64, u64) {
    (id.ms, id.seq)
}

/// The value of a live key, read whole from the store.
fn read_value(ctx: &mut Ctx, key: &[u8], info: &KeyInfo) -> Result<Value, CmdError> {
    let db = ctx.client.db;
    let store = &mut *ctx.store;
    Ok(match info.ktype {
        KeyType::String => Value::String(store.get_string(db, key)?.unwrap_or_default()),
        KeyType::List => Value::List(store.list_range(info, 0, -1)?),
        KeyType::Set => Value::Set(store.set_members(info.id)?),
        KeyType::ZSet => Value::ZSet(store.zset_all(info.id)?),
        KeyType::Hash => Value::Hash(store.hash_entries(info.id)?),
        KeyType::Stream => {
            let Some(s) = store.stream_lookup(db, key)? else {
                return Err(err("ERR no such key"));
            };
            let entries = store
                .stream_range(s.info.id, StreamId::MIN, StreamId::MAX, None, false)?
                .into_iter()
                .map(|e| StreamEntry {
                    id: id_pair(e.id),
                    fields: e.fields.iter().map(|f| f.to_vec()).collect(),
                })
                .collect::<Vec<_>>();
            let first = entries.first().map(|e| e.id).unwrap_or((0, 0));
            let mut groups = Vec::new();
            for g in store.stream_groups(s.info.id)? {
                let consumers = store
                    .stream_consumers(s.info.id, &g.name)?
                    .into_iter()
                    .map(|c| StreamConsumer {
                        name: c.name,
                        seen_time: c.seen,
                    })
                    .collect();
                let pending = store
                    .stream_pel_range(s.info.id, &g.name, &PelQuery::all(None))?
                    .into_iter()
                    .map(|p| PendingEntry {
                        id: id_pair(p.id),
                        delivery_time: p.delivered,
                        delivery_count: p.count.max(0) as u64,
                        consumer: p.consumer,
                    })
                    .collect();
                groups.push(StreamGroup {
                    name: g.name,
                    last_id: id_pair(g.last),
                    entries_read: g.entries_read,
                    pending,
                    consumers,
                });
            }
            Value::Stream(Box::new(StreamValue {
                entries,
                last_id: id_pair(s.last),
                first_id: first,
                max_deleted: id_pair(s.max_deleted),
                entries_added: s.entries_added,
                groups,
            }))
        }
        _ => return Err(err("ERR unsupported key type")),
    })
}

/// The DUMP payload of a live key.
fn payload_of(ctx: &mut Ctx, key: &[u8], info: &KeyInfo) -> Result<Vec<u8>, CmdError> {
    let value = read_value(ctx, key, info)?;
    Ok(ferry_rdb::dump(&value, &encode_options(ctx)))
}

fn dump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let info = ctx.store.lookup(ctx.client.db, key)?;
    ctx.count_read(key, info.is_some());
    let Some(info) = info else {
        return Ok(Reply::Null);
    };
    Ok(Reply::bulk(payload_of(ctx, key, &info)?))
}

/// Writes a decoded value at `key`, which does not exist.
fn write_value(ctx: &mut Ctx, key: &[u8], value: Value) -> Result<(), CmdError> {
    let db = ctx.client.db;
    let limits = ctx.server.config.stream_node_limits();
    let store = &mut *ctx.store;
    match value {
        Value::String(s) => store.put_string(db, key, &s, ferry_store::Ttl::Clear, None)?,
        Value::List(items) => {
            store.list_push(db, key, ListEnd::Tail, &items, false)?;
        }
        Value::Set(members) => {
            let refs: Vec<&[u8]> = members.iter().map(|m| m.as_slice()).collect();
            store.set_add_members(db, key, &refs)?;
        }
        Value::Hash(pairs) => {
            let refs: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            store.hash_set(db, key, &refs, false)?;
        }
        Value::ZSet(entries) => {
            // A hostile payload may repeat a member: the last score wins.
            let mut seen = std::collections::HashMap::new();
            for (m, s) in entries {
                seen.insert(m, s);
            }
            let info = store.lookup_or_create(db, key, KeyType::ZSet)?;
            for (m, s) in &seen {
                store.zset_put(info.id, m, *s)?;
            }
            store.set_collection_len(db, key, &info, seen.len() as i64)?;
        }
        Value::Stream(sv) => {
            let mut s = store.stream_create(db, key)?;
            for e in &sv.entries {
                let id = StreamId::new(e.id.0, e.id.1);
                store.stream_append(&mut s, id, &e.fields, limits)?;
            }
            s.last = StreamId::new(sv.last_id.0, sv.last_id.1).max(s.last);
            s.entries_added = sv.entries_added.max(s.info.len as u64);
            s.max_deleted = StreamId::new(sv.max_deleted.0, sv.max_deleted.1);
            for g in &sv.groups {
                store.stream_group_put(
                    s.info.id,
                    &Group {
                        name: g.name.clone(),
                        last: StreamId::new(g.last_id.0, g.last_id.1),
                        entries_read: g.entries_read,
                    },
                )?;
                for c in &g.consumers {
                    store.stream_consumer_put(
                        s.info.id,
                        &g.name,
                        &Consumer {
                            name: c.name.clone(),
                            seen: c.seen_time,
                        },
                    )?;
                }
                for p in &g.pending {
                    store.stream_pel_put(
                        s.info.id,
                        &g.name,
                        &Pending {
                            id: StreamId::new(p.id.0, p.id.1),
                            consumer: p.consumer.clone(),
                            delivered: p.delivery_time,
                            count: i64::try_from(p.delivery_count).unwrap_or(i64::MAX),
                        },
                    )?;
                }
            }
            store.stream_save(db, key, &s)?;
        }
    }
    Ok(())
}

fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let key = &argv[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        if is(&argv[j], "replace") {
            replace = true;
        } else if is(&argv[j], "absttl") {
            absttl = true;
        } else if is(&argv[j], "idletime") && more >= 1 && freq.is_none() {
            let v = parse_i64(&argv[j + 1])?;
            if v < 0 {
                return Err(err("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if is(&argv[j], "freq") && more >= 1 && idle.is_none() {
            let v = parse_i64(&argv[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(err("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    if !replace && ctx.store.lookup(db, key)?.is_some() {
        return Err(err("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(&argv[2])?;
    if ttl < 0 {
        return Err(err("ERR Invalid TTL value, must be >= 0"));
    }
    let value = ferry_rdb::restore(&argv[3]).map_err(|e| match e {
        ferry_rdb::RestoreError::Payload => err("ERR DUMP payload version or checksum are wrong"),
        ferry_rdb::RestoreError::Data => err("ERR Bad data format"),
    })?;
    let deleted = replace && ctx.store.delete(db, key)?;
    let now = ctx.store.now();
    let at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    if at.is_some_and(|at| at <= now) {
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
        }
        return Ok(Reply::status("OK"));
    }
    write_value(ctx, key, value)?;
    if at.is_some() {
        ctx.store.set_expire(db, key, at)?;
    }
    ctx.notify(notify::GENERIC, "restore", key);
    Ok(Reply::status("OK"))
}

/// MIGRATE's options after the fixed arguments.
struct MigrateArgs<'a> {
    copy: bool,
    replace: bool,
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    keys: &'a [Bytes],
}

fn parse_migrate(argv: &[Bytes]) -> Result<MigrateArgs<'_>, CmdError> {
    let mut a = MigrateArgs {
        copy: false,
        replace: false,
        user: None,
        password: None,
        keys: &argv[3..4],
    };
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(&argv[j], "copy") {
            a.copy = true;
        } else if is(&argv[j], "replace") {
            a.replace = true;
        } else if is(&argv[j], "auth") {
            if more == 0 {
                return Err(err(SYNTAX));
            }
            j += 1;
            a.password = Some(&argv[j]);
        } else if is(&argv[j], "auth2") {
            if more < 2 {
                return Err(err(SYNTAX));
            }
            a.user = Some(&argv[j + 1]);
            a.password = Some(&argv[j + 2]);
            j += 2;
        } else if is(&argv[j], "keys") {
            if !argv[3].is_empty() {
                return Err(err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            a.keys = &argv[j + 1..];
            break;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    Ok(a)
}

/// C's `atoi`: leading digits after an optional sign, 0 when none.
fn atoi(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap_or("").trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(18)
        .collect();
    let v: i64 = digits.parse().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

fn bulk_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Why a reply line could not be read.
enum ReadFail {
    TimedOut,
    Closed,
}

/// Reads one reply line (without its CRLF), as Redis's `syncReadLine`.
fn read_line(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadFail> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk) {
            Ok(0) => return Err(ReadFail::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return Err(ReadFail::TimedOut),
            Err(_) => return Err(ReadFail::Closed),
        }
        if buf.len() > 1 << 20 {
            return Err(ReadFail::Closed);
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// How connecting to the target went.
enum Connected {
    Yes(TcpStream),
    /// The address did not resolve, or the connection timed out: Redis
    /// reports "connecting".
    Failed,
    /// Refused at once: Redis's non-blocking connect counts that as
    /// connected and then fails to write, so it reports "writing".
    Refused,
}

fn connect(host: &[u8], port: i64, timeout: Duration) -> Connected {
    let Some(addrs) = std::str::from_utf8(host)
        .ok()
        .zip(u16::try_from(port).ok())
        .and_then(|hp| hp.to_socket_addrs().ok())
    else {
        return Connected::Failed;
    };
    let mut result = Connected::Failed;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Connected::Yes(s);
            }
            Err(e) if is_timeout(&e) => result = Connected::Failed,
            Err(_) => result = Connected::Refused,
        }
    }
    result
}

/// A connection MIGRATE keeps to a target, as Redis does: reused for 10
/// seconds, with the database it last selected there (so an
/// authenticated connection stays authenticated, and SELECT is sent only
/// when the database changes).
struct CachedSocket {
    sock: TcpStream,
    last_dbid: i64,
    last_use: Instant,
}

const SOCKET_CACHE_ITEMS: usize = 64;
const SOCKET_IDLE: Duration = Duration::from_secs(10);

thread_local! {
    /// Only the executor thread runs MIGRATE.
    static SOCKETS: RefCell<HashMap<Vec<u8>, CachedSocket>> = RefCell::new(HashMap::new());
}

/// A connection to `host:port` (cached or new) and the database it has
/// selected (-1: none known).
fn take_socket(
    name: &[u8],
    host: &[u8],
    port: &[u8],
    timeout: Duration,
) -> Result<(TcpStream, i64), CmdError> {
    let cached = SOCKETS.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, s| s.last_use.elapsed() <= SOCKET_IDLE);
        c.remove(name)
    });
    let (sock, last_dbid) = match cached {
        Some(c) => (c.sock, c.last_dbid),
        None => match connect(host, atoi(port), timeout) {
            Connected::Yes(s) => (s, -1),
            Connected::Failed => {
                return Err(err("IOERR error or timeout connecting to the client"))
            }
            Connected::Refused => {
                return Err(err("IOERR error or timeout writing to target instance"))
            }
        },
    };
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    Ok((sock, last_dbid))
}

fn keep_socket(name: Vec<u8>, sock: TcpStream, last_dbid: i64) {
    SOCKETS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= SOCKET_CACHE_ITEMS {
            if let Some(k) = c.keys().next().cloned() {
                c.remove(&k);
            }
        }
        c.insert(
            name,
            CachedSocket {
                sock,
                last_dbid,
                last_use: Instant::now(),
            },
        );
    });
}

fn migrate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let a = parse_migrate(argv)?;
    let timeout = parse_i64(&argv[5])?;
    let dbid = parse_i64(&argv[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let mut found = Vec::new();
    for k in a.keys {
        let info = ctx.store.lookup(db, k)?;
        ctx.count_read(k, info.is_some());
        if let Some(info) = info {
            found.push((k.clone(), info));
        }
    }
    if found.is_empty() {
        return Ok(Reply::status("NOKEY"));
    }
    // The RESTORE commands, built once.
    let now = ctx.store.now();
    let mut restores = Vec::new();
    let mut sent = Vec::new();
    for (k, info) in found {
        let ttl = match info.expire_at {
            Some(at) if at - now < 0 => continue,
            Some(at) => (at - now).max(1),
            None => 0,
        };
        let payload = payload_of(ctx, &k, &info)?;
        let ttl = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![b"RESTORE", &k, ttl.as_bytes(), &payload];
        if a.replace {
            args.push(b"REPLACE");
        }
        bulk_command(&mut restores, &args);
        sent.push(k);
    }
    let mut name = argv[1].to_vec();
    name.push(b':');
    name.extend_from_slice(&argv[2]);
    let writing = || err("IOERR error or timeout writing to target instance");
    let reading = || err("IOERR error or timeout reading to target instance");
    // As Redis: a connection that fails before any reply was read (a
    // cached one the target closed) is replaced once, unless it timed out.
    let mut may_retry = true;
    loop {
        let (mut sock, last_dbid) = take_socket(&name, &argv[1], &argv[2], timeout)?;
        let select = last_dbid != dbid;
        let mut out = Vec::new();
        if let Some(pw) = a.password {
            match a.user {
                Some(u) => bulk_command(&mut out, &[b"AUTH", u, pw]),
                None => bulk_command(&mut out, &[b"AUTH", pw]),
            }
        }
        if select {
            bulk_command(&mut out, &[b"SELECT", dbid.to_string().as_bytes()]);
        }
        out.extend_from_slice(&restores);
        if let Err(e) = sock.write_all(&out) {
            if may_retry && !is_timeout(&e) {
                may_retry = false;
                continue;
            }
            return Err(writing());
        }
        let mut buf = Vec::new();
        // The AUTH and SELECT replies, when they were sent.
        let mut head = |sent: bool| -> Result<Option<Vec<u8>>, ReadFail> {
            match sent {
                true => read_line(&mut sock, &mut buf).map(Some),
                false => Ok(None),
            }
        };
        let (auth_reply, select_reply) =
            match head(a.password.is_some()).and_then(|auth| Ok((auth, head(select)?))) {
                Ok(r) => r,
                Err(ReadFail::Closed) if may_retry => {
                    may_retry = false;
                    continue;
                }
                Err(_) => return Err(reading()),
            };
        let mut target_error: Option<Vec<u8>> = None;
        let mut socket_error = None;
        let mut done = 0;
        for k in &sent {
            let line = match read_line(&mut sock, &mut buf) {
                Ok(l) => l,
                Err(e) => {
                    socket_error = Some(e);
                    break;
                }
            };
            done += 1;
            let failed = [
                auth_reply.as_deref(),
                select_reply.as_deref(),
                Some(line.as_slice()),
            ]
            .into_iter()
            .flatten()
            .find(|l| l.first() == Some(&b'-'));
            match failed {
                Some(e) if target_error.is_none() => target_error = Some(e[1..].to_vec()),
                Some(_) => {}
                None if !a.copy => {
                    ctx.store.delete(db, k)?;
                    ctx.notify(notify::GENERIC, "del", k);
                }
                None => {}
            }
        }
        match (&socket_error, &target_error) {
            (Some(ReadFail::Closed), None) if done == 0 && may_retry => {
                may_retry = false;
                continue;
            }
            (Some(_), None) => return Err(reading()),
            (Some(_), Some(_)) => {}
            (None, _) => {
                let last = if target_error.is_some() { -1 } else { dbid };
                keep_socket(name, sock, last);
            }
        }
        return Ok(match target_error {
            Some(e) => {
                let mut text = b"ERR Target instance replied with error: ".to_vec();
                text.extend_from_slice(&e);
                Reply::ErrorBytes(Bytes::from(text))
            }
            None => Reply::status("OK"),
        });
    }
}
