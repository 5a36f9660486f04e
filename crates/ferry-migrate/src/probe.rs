//! Reading a batch's keys from a standalone source in one command: a
//! read-only Lua script that returns, for every key, its type, its PTTL and
//! its DUMP payload (or, for a collection longer than one window, only its
//! length: such a key is copied window by window).
//!
//! The pipelined probe (`TYPE` + `PTTL`, then a length for each
//! collection, then `DUMP`) costs the source three or four commands per
//! key and the copy three round trips; the script costs one command per
//! batch and one round trip, and reads each key atomically (its type, TTL
//! and payload cannot change in between). Where scripts are refused (an
//! ACL without `@scripting`, `EVAL` renamed away, a server whose scripts
//! cannot call `DUMP`), the run logs why once and goes back to the
//! pipelined probe.

use crate::endpoint::Conn;
use crate::reply;
use redis::aio::ConnectionLike;
use redis::Value;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// The script. `KEYS`: the batch; `ARGV[1]`: the window (elements). For
/// each key three values: the type (`none` when missing), the PTTL, and
/// the payload, the length of a longer collection, or nil when missing.
const SCRIPT: &str = r#"
local window = tonumber(ARGV[1])
local lengths = {list = 'LLEN', hash = 'HLEN', set = 'SCARD', zset = 'ZCARD', stream = 'XLEN'}
local out = {}
for i = 1, #KEYS do
    local key = KEYS[i]
    local kind = redis.call('TYPE', key).ok
    local ttl = redis.call('PTTL', key)
    local body = false
    if kind ~= 'none' then
        local count = lengths[kind]
        local n = count and redis.call(count, key) or 0
        if n > window then body = n else body = redis.call('DUMP', key) end
    end
    out[#out + 1] = kind
    out[#out + 1] = ttl
    out[#out + 1] = body
end
return out
"#;

/// What the script read of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub key: Vec<u8>,
    /// As `TYPE` names it (`none`: missing).
    pub kind: String,
    pub pttl: i64,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The key is missing.
    None,
    /// Its DUMP payload.
    Dump(Vec<u8>),
    /// A collection of this many elements, longer than a window.
    Big(i64),
}

/// How a run reads keys from its source; shared by its batches, which
/// learn on the way what the source refuses.
pub struct ReadMode {
    /// DUMP and RESTORE work between source and target; cleared the first
    /// time the target refuses a payload.
    pub dump: AtomicBool,
    pub script: ScriptProbe,
}

impl ReadMode {
    /// The batch script is tried on a standalone source when DUMP works,
    /// unless `FERRY_MIGRATE_READ_SCRIPT=0` is set (then keys are read with
    /// pipelined commands only, as before the script existed).
    pub fn new(src: &crate::endpoint::Endpoint, dst: &crate::endpoint::Endpoint) -> ReadMode {
        let dump = src.dump_to(dst);
        let allowed = std::env::var("FERRY_MIGRATE_READ_SCRIPT").map_or(true, |v| v != "0");
        ReadMode {
            dump: AtomicBool::new(dump),
            script: ScriptProbe::new(dump && allowed && !src.is_cluster()),
        }
    }

    /// For tests and callers that decide themselves.
    pub fn with(dump: bool, script: bool) -> ReadMode {
        ReadMode {
            dump: AtomicBool::new(dump),
            script: ScriptProbe::new(script),
        }
    }
}

/// Which command runs the script: `EVAL_RO` (Redis 7.0 and later: allowed
/// on replicas and for read-only users), else `EVAL`, else none.
const USE_RO: u8 = 0;
const USE_EVAL: u8 = 1;
const OFF: u8 = 2;

/// Whether a run reads batches with the script; shared by its batches.
pub struct ScriptProbe {
    state: AtomicU8,
    /// Whether the switch to the pipelined probe was logged.
    told: AtomicBool,
}

impl ScriptProbe {
    /// `enabled`: the source is one server (a script's keys must share a
    /// slot in a cluster) and `--no-script` was not given.
    pub fn new(enabled: bool) -> ScriptProbe {
        ScriptProbe {
            state: AtomicU8::new(if enabled { USE_RO } else { OFF }),
            told: AtomicBool::new(false),
        }
    }

    pub fn enabled(&self) -> bool {
        self.state.load(Ordering::Relaxed) != OFF
    }

    fn give_up(&self, why: &str) {
        self.state.store(OFF, Ordering::Relaxed);
        if !self.told.swap(true, Ordering::Relaxed) {
            log::info!(
                "the source refuses the batch read script ({why}); reading keys with TYPE, PTTL and DUMP instead"
            );
        }
    }

    /// Reads `keys` with the script. None when the script could not run
    /// (the caller reads the batch the pipelined way; when the source
    /// refuses scripts, every later batch is read that way too).
    pub async fn read(&self, src: &mut Conn, keys: &[Vec<u8>], window: usize) -> Option<Vec<Read>> {
        loop {
            let how = self.state.load(Ordering::Relaxed);
            let name = match how {
                USE_RO => "EVAL_RO",
                USE_EVAL => "EVAL",
                _ => return None,
            };
            let mut cmd = redis::cmd(name);
            cmd.arg(SCRIPT).arg(keys.len());
            for k in keys {
                cmd.arg(k);
            }
            cmd.arg(window);
            let v = match src {
                Conn::Single(c) => c.req_packed_command(&cmd).await,
                Conn::Cluster(_) => return None,
            };
            let refused = match v {
                Ok(v) => match reply::error_text(&v) {
                    Some(e) => e,
                    None => {
                        return match parse(keys, &v) {
                            Some(rows) => Some(rows),
                            None => {
                                self.give_up("an unexpected reply");
                                None
                            }
                        }
                    }
                },
                // A dropped connection: this batch is read the pipelined
                // way (which retries), the next tries the script again.
                Err(e) if crate::endpoint::transient(&e) => return None,
                Err(e) => match (e.code(), e.detail()) {
                    (Some(code), Some(d)) => format!("{code} {d}"),
                    _ => e.to_string(),
                },
            };
            if how == USE_RO && refused.to_ascii_lowercase().contains("unknown command") {
                // Before Redis 7.0: no EVAL_RO.
                self.state.store(USE_EVAL, Ordering::Relaxed);
                continue;
            }
            self.give_up(&refused);
            return None;
        }
    }
}
/// The script's flat reply, three values per key.
fn parse(keys: &[Vec<u8>], v: &Value) -> Option<Vec<Read>> {
    let Value::Array(items) = v else {
        return None;
    };
    if items.len() != keys.len() * 3 {
        return None;
    }
    keys.iter()
        .zip(items.chunks_exact(3))
        .map(|(key, row)| {
            let kind = reply::text(&row[0])?;
            let pttl = reply::int(&row[1])?;
            let body = match &row[2] {
                Value::Nil => Body::None,
                Value::Int(n) => Body::Big(*n),
                other => Body::Dump(reply::bytes(other)?),
            };
            Some(Read {
                key: key.clone(),
                kind,
                pttl,
                body,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_values_per_key() {
        let keys = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
        let v = Value::Array(vec![
            Value::BulkString(b"string".to_vec()),
            Value::Int(-1),
            Value::BulkString(b"\x00\x01x".to_vec()),
            Value::BulkString(b"list".to_vec()),
            Value::Int(5000),
            Value::Int(100_000),
            Value::BulkString(b"none".to_vec()),
            Value::Int(-2),
            Value::Nil,
        ]);
        let rows = parse(&keys, &v).expect("parsed");
        assert_eq!(rows[0].body, Body::Dump(b"\x00\x01x".to_vec()));
        assert_eq!(rows[1].kind, "list");
        assert_eq!(rows[1].pttl, 5000);
        assert_eq!(rows[1].body, Body::Big(100_000));
        assert_eq!(rows[2].body, Body::None);
        // A reply of the wrong shape is not taken for keys.
        assert!(parse(&keys, &Value::Array(vec![Value::Nil])).is_none());
        assert!(parse(&keys, &Value::Okay).is_none());
    }
}
