//! What a client's command is to the proxy: a read (served, not
//! mirrored), a write (mirrored once the primary answered it, in the form
//! that gives the same result on the other store), a blocking write, a
//! transaction boundary, or a command that changes the connection's state.
//!
//! Mirroring replays what the primary *did*, not always what the client
//! sent: `SPOP` becomes `SREM` of the members it returned, a blocking pop
//! the pop of what it returned, `XADD *` the id the primary gave, relative
//! expiries absolute ones (a backlog replayed late must not extend a TTL),
//! `EVALSHA` the script body when the proxy saw it.

use bytes::Bytes;
use ferry_server::cmd::{getkeys, meta};

use crate::frame::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    /// A write that may block: no key is held while it waits.
    BlockingWrite,
    /// A write without keys (FLUSHALL, FUNCTION LOAD): ordered with every
    /// other write.
    GlobalWrite,
    Multi,
    Exec,
    Discard,
    Select,
    /// SUBSCRIBE and friends: the connection turns into a pass-through.
    Subscribe,
    /// RESET: the connection's state back to a new one.
    Reset,
}

/// A command's full name (`get`, `xgroup|create`) and metadata.
fn find(args: &[Bytes]) -> Option<&'static meta::Meta> {
    let name = args.first()?;
    let m = meta::find(name)?;
    if let Some(sub) = args.get(1) {
        if let Some(s) = m.subcommand(sub) {
            return Some(s);
        }
    }
    Some(m)
}

fn is(name: &[u8], s: &str) -> bool {
    name.eq_ignore_ascii_case(s.as_bytes())
}

pub fn kind(args: &[Bytes]) -> Kind {
    let Some(name) = args.first() else {
        return Kind::Read;
    };
    if is(name, "multi") {
        return Kind::Multi;
    }
    if is(name, "exec") {
        return Kind::Exec;
    }
    if is(name, "discard") {
        return Kind::Discard;
    }
    if is(name, "select") {
        return Kind::Select;
    }
    if is(name, "reset") {
        return Kind::Reset;
    }
    if ["subscribe", "psubscribe", "ssubscribe"]
        .iter()
        .any(|s| is(name, s))
    {
        return Kind::Subscribe;
    }
    if is(name, "publish") || is(name, "spublish") {
        return Kind::Read;
    }
    let Some(m) = find(args) else {
        return Kind::Read;
    };
    // Scripts may write (redis-server 7.0 flags EVAL/FCALL by their
    // scripts' own flags, not in the command table).
    let script = ["eval", "evalsha", "fcall"].iter().any(|s| is(name, s));
    let writes = m.has_flag("write") || m.has_flag("may_replicate") || script;
    // SCRIPT LOAD is mirrored too: EVALSHA needs the script on the other side.
    let script_load = is(name, "script") && args.get(1).is_some_and(|s| is(s, "load"));
    if !writes && !script_load {
        return Kind::Read;
    }
    if m.has_flag("blocking") || (is(name, "xreadgroup") && has_word(args, "block")) {
        return Kind::BlockingWrite;
    }
    if keys(args).is_empty() {
        return Kind::GlobalWrite;
    }
    Kind::Write
}

/// The database a SELECT switches to (None: not a SELECT, or not a number).
pub fn selected_db(args: &[Bytes]) -> Option<u32> {
    if !is(args.first()?, "select") {
        return None;
    }
    std::str::from_utf8(args.get(1)?).ok()?.parse().ok()
}

/// SCRIPT LOAD (its reply is the SHA1 of its body).
pub fn is_script_load(args: &[Bytes]) -> bool {
    args.first().is_some_and(|n| is(n, "script")) && args.get(1).is_some_and(|s| is(s, "load"))
}

fn has_word(args: &[Bytes], w: &str) -> bool {
    args.iter().any(|a| is(a, w))
}

/// The keys a command names.
pub fn keys(args: &[Bytes]) -> Vec<Bytes> {
    let Some(m) = find(args) else {
        return Vec::new();
    };
    getkeys::key_refs(m.name, args)
        .into_iter()
        .filter_map(|k| args.get(k.pos).cloned())
        .collect()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn bulk(v: &Value) -> Option<Bytes> {
    match v {
        Value::Bulk(b) | Value::Simple(b) => Some(Bytes::copy_from_slice(b)),
        Value::Int(i) => Some(b(&i.to_string())),
        _ => None,
    }
}

/// Scripts seen (SCRIPT LOAD, EVAL), by SHA1, so EVALSHA can be mirrored
/// as EVAL.
pub type Scripts = std::collections::HashMap<Vec<u8>, Bytes>;

/// What to send to the other store for `args`, which the primary answered
/// `reply`. Empty: nothing (an error, nothing popped).
pub fn mirror(args: &[Bytes], reply: &Value, scripts: &Scripts) -> Vec<Vec<Bytes>> {
    if matches!(reply, Value::Error) {
        return Vec::new();
    }
    let Some(name) = args.first() else {
        return Vec::new();
    };
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match lower.as_str() {
        "spop" => match reply {
            Value::Bulk(m) => vec![vec![b("SREM"), arg(1), Bytes::copy_from_slice(m)]],
            Value::Array(ms) if !ms.is_empty() => {
                let mut c = vec![b("SREM"), arg(1)];
                c.extend(ms.iter().filter_map(bulk));
                vec![c]
            }
            _ => Vec::new(),
        },
        "blpop" | "brpop" => match reply {
            Value::Array(kv) if kv.len() == 2 => {
                let pop = if lower == "blpop" { "LPOP" } else { "RPOP" };
                bulk(&kv[0])
                    .map(|k| vec![vec![b(pop), k]])
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        },
        "bzpopmin" | "bzpopmax" => match reply {
            Value::Array(v) if v.len() == 3 => match (bulk(&v[0]), bulk(&v[1])) {
                (Some(k), Some(m)) => vec![vec![b("ZREM"), k, m]],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        },
        "blmpop" => match reply {
            Value::Array(v) if v.len() == 2 => {
                let left = args.iter().any(|a| is(a, "left"));
                let n = match &v[1] {
                    Value::Array(items) => items.len(),
                    _ => 0,
                };
                match bulk(&v[0]) {
                    Some(k) if n > 0 => vec![vec![
                        b(if left { "LPOP" } else { "RPOP" }),
                        k,
                        b(&n.to_string()),
                    ]],
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        },
        "bzmpop" => match reply {
            Value::Array(v) if v.len() == 2 => {
                let Some(k) = bulk(&v[0]) else {
                    return Vec::new();
                };
                let mut c = vec![b("ZREM"), k];
                if let Value::Array(pairs) = &v[1] {
                    for p in pairs {
                        if let Value::Array(ms) = p {
                            if let Some(m) = ms.first().and_then(bulk) {
                                c.push(m);
                            }
                        }
                    }
                }
                if c.len() > 2 {
                    vec![c]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        },
        "blmove" => match reply {
            Value::Bulk(_) => vec![vec![b("LMOVE"), arg(1), arg(2), arg(3), arg(4)]],
            _ => Vec::new(),
        },
        "brpoplpush" => match reply {
            Value::Bulk(_) => vec![vec![b("LMOVE"), arg(1), arg(2), b("RIGHT"), b("LEFT")]],
            _ => Vec::new(),
        },
        "xreadgroup" => match reply {
            Value::Null => Vec::new(),
            _ => {
                // Without BLOCK: it read what it read.
                let mut c = Vec::with_capacity(args.len());
                let mut i = 0;
                while i < args.len() {
                    if i > 0 && is(&args[i], "block") {
                        i += 2;
                        continue;
                    }
                    c.push(args[i].clone());
                    i += 1;
                }
                vec![c]
            }
        },
        "xadd" => {
            let mut c = args.to_vec();
            if let (Value::Bulk(id), Some(star)) =
                (reply, c.iter().skip(2).position(|a| a.as_ref() == b"*"))
            {
                c[star + 2] = Bytes::copy_from_slice(id);
            }
            vec![c]
        }
        "evalsha" => match scripts.get(&arg(1).to_ascii_lowercase()) {
            Some(body) => {
                let mut c = args.to_vec();
                c[0] = b("EVAL");
                c[1] = body.clone();
                vec![c]
            }
            None => vec![args.to_vec()],
        },
        _ => vec![args.to_vec()],
    }
}

/// The longest relative expiry rewritten (about 100 years); longer ones,
/// and zero or negative ones, go as sent so the store answers them as it
/// would.
const MAX_RELATIVE_MS: i64 = 100 * 365 * 24 * 3600 * 1000;

/// A relative expiry made absolute, as of `now_ms` (the proxy's clock),
/// for the serving store and the mirror alike: both then expire the key
/// at the same millisecond, however late the mirror applies it. None when
/// the command has no relative expiry (or one to leave to the store).
pub fn absolute_expiry(args: &[Bytes], now_ms: i64) -> Option<Vec<Bytes>> {
    let name = args.first()?;
    let num = |i: usize| -> Option<i64> { std::str::from_utf8(args.get(i)?).ok()?.parse().ok() };
    let at = |n: i64, scale: i64| -> Option<Bytes> {
        let ms = n.checked_mul(scale)?;
        (ms > 0 && ms <= MAX_RELATIVE_MS).then(|| b(&(now_ms + ms).to_string()))
    };
    if is(name, "set") || is(name, "getex") {
        let from = if is(name, "set") { 3 } else { 2 };
        let i = from
            + args
                .iter()
                .skip(from)
                .position(|a| is(a, "ex") || is(a, "px"))?;
        let scale = if is(&args[i], "ex") { 1000 } else { 1 };
        let when = at(num(i + 1)?, scale)?;
        let mut c = args.to_vec();
        c[i] = b("PXAT");
        c[i + 1] = when;
        return Some(c);
    }
    if is(name, "setex") || is(name, "psetex") {
        let scale = if is(name, "setex") { 1000 } else { 1 };
        if args.len() != 4 {
            return None;
        }
        return Some(vec![
            b("SET"),
            args[1].clone(),
            args[3].clone(),
            b("PXAT"),
            at(num(2)?, scale)?,
        ]);
    }
    if is(name, "expire") || is(name, "pexpire") {
        let scale = if is(name, "expire") { 1000 } else { 1 };
        let mut c = vec![b("PEXPIREAT"), args.get(1)?.clone(), at(num(2)?, scale)?];
        c.extend(args.iter().skip(3).cloned());
        return Some(c);
    }
    if is(name, "restore") && !args.iter().skip(4).any(|a| is(a, "absttl")) {
        let when = at(num(2)?, 1)?;
        let mut c = args.to_vec();
        c[2] = when;
        c.push(b("ABSTTL"));
        return Some(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect()
    }

    fn text(cmds: Vec<Vec<Bytes>>) -> Vec<String> {
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(&a("GET k")), Kind::Read);
        assert_eq!(kind(&a("set k v")), Kind::Write);
        assert_eq!(kind(&a("BLPOP k 0")), Kind::BlockingWrite);
        assert_eq!(kind(&a("FLUSHALL")), Kind::GlobalWrite);
        assert_eq!(kind(&a("PUBLISH c m")), Kind::Read);
        assert_eq!(kind(&a("EVAL x 1 k")), Kind::Write);
        assert_eq!(kind(&a("SCRIPT LOAD x")), Kind::GlobalWrite);
        assert_eq!(kind(&a("XGROUP CREATE s g $")), Kind::Write);
        assert_eq!(kind(&a("SUBSCRIBE c")), Kind::Subscribe);
        assert_eq!(
            kind(&a("XREADGROUP GROUP g c BLOCK 5 STREAMS s >")),
            Kind::BlockingWrite
        );
    }

    #[test]
    fn mirrors_what_the_primary_did() {
        let s = Scripts::new();
        let bulk = |x: &str| Value::Bulk(x.as_bytes().to_vec());
        assert_eq!(text(mirror(&a("SPOP s"), &bulk("m"), &s)), ["SREM s m"]);
        assert!(mirror(&a("SPOP s"), &Value::Null, &s).is_empty());
        assert!(mirror(&a("SET k v"), &Value::Error, &s).is_empty());
        assert_eq!(
            text(mirror(
                &a("BLPOP a b 0"),
                &Value::Array(vec![bulk("b"), bulk("x")]),
                &s
            )),
            ["LPOP b"]
        );
        let abs = |c: &str, now| absolute_expiry(&a(c), now).map(|c| text(vec![c]).remove(0));
        assert_eq!(
            abs("SET k v EX 10", 1000).as_deref(),
            Some("SET k v PXAT 11000")
        );
        assert_eq!(
            abs("SET k v NX PX 5", 1).as_deref(),
            Some("SET k v NX PXAT 6")
        );
        assert_eq!(
            abs("EXPIRE k 5 NX", 0).as_deref(),
            Some("PEXPIREAT k 5000 NX")
        );
        assert_eq!(abs("SETEX k 2 v", 1).as_deref(), Some("SET k v PXAT 2001"));
        assert_eq!(abs("GETEX k EX 1", 0).as_deref(), Some("GETEX k PXAT 1000"));
        assert_eq!(abs("SET k v EX 0", 0), None, "the store's own error");
        assert_eq!(abs("SET k v EX x", 0), None);
        assert_eq!(abs("SET ex ex", 0), None, "a key named ex has no expiry");
        assert_eq!(abs("GET k", 0), None);
        assert_eq!(
            text(mirror(&a("XADD s MAXLEN 5 * f v"), &bulk("7-0"), &s)),
            ["XADD s MAXLEN 5 7-0 f v"]
        );
        assert_eq!(
            text(mirror(&a("BRPOPLPUSH a b 0"), &bulk("x"), &s)),
            ["LMOVE a b RIGHT LEFT"]
        );
    }
}
