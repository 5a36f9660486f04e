//! Migrating one batch of keys on a live server: read each value, run the
//! transforms, validate the result, and write it back only if the key
//! still holds what was read (a compare-and-set script per key), so a
//! concurrent application write is never overwritten with stale data.
//! Keys that changed meanwhile come back as conflicts for the caller to
//! read again.

use crate::model::Storage;
use crate::transform::{Context, Transform};
use crate::value::{decode, encode, Raw};
use ferry_migrate::endpoint::Conn;
use redis::{Pipeline, Value};
use serde_json::Map;

/// Sets a string key to ARGV[2] (keeping its TTL) if it holds ARGV[1].
const CAS_STRING: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0";

/// Replaces a hash's fields if it holds exactly the ARGV[1] fields given
/// first (field, value, ... then the new ones), keeping its TTL.
const CAS_HASH: &str = r"
local n = tonumber(ARGV[1])
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' or redis.call('HLEN', KEYS[1]) ~= n then
  return 0
end
for i = 2, 2 * n, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    return 0
  end
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if #ARGV > 2 * n + 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2 * n + 2))
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return 1";

/// Checks a transformed document against the target version (Err: why not).
pub type Validator = dyn Fn(&Map<String, serde_json::Value>) -> Result<(), String> + Sync;

/// Puts a key back as it was: its value (ARGV[1] 's' string or 'h' hash,
/// ARGV[3...]) and its expiry (ARGV[2], Unix ms or -1).
const RESTORE: &str = r"
redis.call('DEL', KEYS[1])
if ARGV[1] == 's' then
  redis.call('SET', KEYS[1], ARGV[3])
elseif #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
local at = tonumber(ARGV[2])
if at >= 0 then
  redis.call('PEXPIREAT', KEYS[1], at)
end
return 1";

/// Writes the saved originals back (a rollback from the backup): each key
/// gets exactly its old value and expiry time, whatever it holds now.
/// Returns the keys that could not be written, with the reason.
pub async fn restore(
    conn: &mut Conn,
    saved: &[crate::backup::Saved],
) -> ferry_migrate::Result<Vec<(Vec<u8>, String)>> {
    let writes: Vec<Pipeline> = saved
        .iter()
        .map(|s| {
            let mut p = redis::pipe();
            let c = p.cmd("EVAL").arg(RESTORE).arg(1).arg(&s.key);
            match &s.raw {
                Raw::String(v) => {
                    c.arg("s").arg(s.expire_at).arg(v);
                }
                Raw::Hash(fields) => {
                    c.arg("h").arg(s.expire_at);
                    for (f, v) in fields {
                        c.arg(f).arg(v);
                    }
                }
            }
            p
        })
        .collect();
    let results = conn.per_key(&writes).await?;
    Ok(saved
        .iter()
        .zip(results)
        .filter_map(|(s, r)| match r.as_deref() {
            Ok([Value::Int(1)]) => None,
            Ok(other) => Some((s.key.clone(), format!("the restore answered {other:?}"))),
            Err(e) => Some((s.key.clone(), format!("the restore failed: {e}"))),
        })
        .collect())
}

/// What to do to each key.
pub struct Plan<'a> {
    pub storage: Storage,
    /// The transforms of every step, in order (inverses already resolved).
    pub transforms: &'a [Transform],
    /// Checks a transformed document against the target version.
    pub validate: &'a Validator,
    /// `${NOW}` for this run.
    pub now: &'a str,
}

/// A key's value before the batch changed it (for the backup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    pub key: Vec<u8>,
    pub raw: Raw,
    /// Its expiry as PEXPIRETIME gave it (Unix ms; -1: none): exact, so a
    /// restore puts back the same deadline.
    pub expire_at: i64,
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Keys rewritten (or, in a dry run, that would be), with before/after.
    pub changed: Vec<(Original, Raw)>,
    /// Keys whose value the transforms left as it was.
    pub unchanged: usize,
    /// Keys gone before they were read.
    pub gone: usize,
    /// Keys left untouched, with the reason (not JSON, a transform or the
    /// validation failed).
    pub failed: Vec<(Vec<u8>, String)>,
    /// Keys that changed between the read and the write: read them again.
    pub conflicts: Vec<Vec<u8>>,
}

fn reply_error(key: &[u8], e: impl std::fmt::Display) -> (Vec<u8>, String) {
    (key.to_vec(), format!("reading it failed: {e}"))
}

/// Migrates `keys` (a dry run reads and reports but writes nothing).
/// `before_write` runs after the reads and before any write (the backup
/// of the originals that will change).
pub async fn run(
    conn: &mut Conn,
    plan: &Plan<'_>,
    keys: &[Vec<u8>],
    dry_run: bool,
    before_write: impl FnOnce(&[(Original, Raw)]) -> ferry_migrate::Result<()>,
) -> ferry_migrate::Result<Outcome> {
    let reads: Vec<Pipeline> = keys
        .iter()
        .map(|k| {
            let mut p = redis::pipe();
            p.cmd("TYPE").arg(k).cmd("PEXPIRETIME").arg(k);
            match plan.storage {
                Storage::JsonString => p.cmd("GET").arg(k),
                Storage::Hash => p.cmd("HGETALL").arg(k),
            };
            p
        })
        .collect();
    let replies = conn.per_key(&reads).await?;
    let mut out = Outcome::default();
    let shown: Vec<String> = keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    for ((key, shown), reply) in keys.iter().zip(&shown).zip(replies) {
        let values = match reply {
            Ok(v) => v,
            Err(e) => {
                out.failed.push(reply_error(key, e));
                continue;
            }
        };
        let [ty, expire_at, value] = values.as_slice() else {
            out.failed.push(reply_error(key, "short reply"));
            continue;
        };
        let ty = match ty {
            Value::SimpleString(s) => s.as_str(),
            Value::Okay => "ok",
            _ => "",
        };
        let expire_at = match expire_at {
            Value::Int(i) => *i,
            _ => -1,
        };
        let raw = match (ty, value) {
            ("none", _) => {
                out.gone += 1;
                continue;
            }
            ("string", Value::BulkString(b)) => Raw::String(b.clone()),
            ("hash", Value::Array(items)) => {
                let mut fields = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks(2) {
                    if let [Value::BulkString(f), Value::BulkString(v)] = pair {
                        fields.push((f.clone(), v.clone()));
                    }
                }
                Raw::Hash(fields)
            }
            ("hash", Value::Map(pairs)) => Raw::Hash(
                pairs
                    .iter()
                    .filter_map(|(f, v)| match (f, v) {
                        (Value::BulkString(f), Value::BulkString(v)) => {
                            Some((f.clone(), v.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            (other, _) => {
                out.failed.push((
                    key.clone(),
                    format!(
                        "it is a {other}, the schema stores values as {:?}",
                        plan.storage
                    ),
                ));
                continue;
            }
        };
        let mut doc = match decode(plan.storage, &raw) {
            Ok(d) => d,
            Err(e) => {
                out.failed.push((key.clone(), e.to_string()));
                continue;
            }
        };
        let before = doc.clone();
        let ctx = Context {
            key: shown,
            now: plan.now,
        };
        if let Some(e) = plan
            .transforms
            .iter()
            .find_map(|t| t.apply(&mut doc, &ctx).err())
        {
            out.failed.push((key.clone(), e.to_string()));
            continue;
        }
        if let Err(e) = (plan.validate)(&doc) {
            out.failed
                .push((key.clone(), format!("invalid after the migration: {e}")));
            continue;
        }
        if doc == before {
            out.unchanged += 1;
            continue;
        }
        match encode(plan.storage, &doc) {
            Ok(new) => out.changed.push((
                Original {
                    key: key.clone(),
                    raw,
                    expire_at,
                },
                new,
            )),
            Err(e) => out.failed.push((key.clone(), e.to_string())),
        }
    }
    if dry_run || out.changed.is_empty() {
        return Ok(out);
    }
    before_write(&out.changed)?;
    let writes: Vec<Pipeline> = out
        .changed
        .iter()
        .map(|(orig, new)| {
            let mut p = redis::pipe();
            match (&orig.raw, new) {
                (Raw::String(old), Raw::String(new)) => {
                    p.cmd("EVAL")
                        .arg(CAS_STRING)
                        .arg(1)
                        .arg(&orig.key)
                        .arg(old)
                        .arg(new);
                }
                (Raw::Hash(old), Raw::Hash(new)) => {
                    let c = p
                        .cmd("EVAL")
                        .arg(CAS_HASH)
                        .arg(1)
                        .arg(&orig.key)
                        .arg(old.len());
                    for (f, v) in old.iter().chain(new) {
                        c.arg(f).arg(v);
                    }
                }
                _ => {}
            }
            p
        })
        .collect();
    let results = conn.per_key(&writes).await?;
    let mut written = Vec::with_capacity(out.changed.len());
    for ((orig, new), r) in std::mem::take(&mut out.changed).into_iter().zip(results) {
        match r.as_deref() {
            Ok([Value::Int(1)]) => written.push((orig, new)),
            Ok([Value::Int(0)]) => out.conflicts.push(orig.key),
            Ok(other) => out
                .failed
                .push((orig.key, format!("the write answered {other:?}"))),
            Err(e) => out
                .failed
                .push((orig.key, format!("the write failed: {e}"))),
        }
    }
    out.changed = written;
    Ok(out)
}
