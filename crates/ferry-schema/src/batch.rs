//! Migrating one batch of keys on a live server: read each value, run the
//! transforms, validate the result, and write it back only if the key
//! still holds what was read (a compare-and-set script per key), so a
//! concurrent application write is never overwritten with stale data.
//! Keys that changed meanwhile come back as conflicts for the caller to
//! read again.

use crate::model::Storage;
use crate::transform::{Context, Transform};
use crate::validate::Check;
use crate::value::{decode, encode, Raw};
use ferry_migrate::endpoint::Conn;
use redis::{Pipeline, Value};
use std::collections::HashMap;

/// Sets a string key to ARGV[2] (keeping its TTL) if it holds ARGV[1]
/// (anything else, another type included, is a conflict).
const CAS_STRING: &str = r"
if redis.pcall('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0";

/// Changes a hash in place if it holds exactly the n fields given first:
/// ARGV = n, n field/value pairs, d, d fields to delete, then the
/// field/value pairs to set. In place, so the TTL stays as it is; in
/// slices, because Lua's unpack has a stack limit.
const CAS_HASH: &str = r"
local n = tonumber(ARGV[1])
local len = redis.pcall('HLEN', KEYS[1])
if type(len) ~= 'number' or len ~= n then
  return 0
end
for i = 2, 2 * n, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    return 0
  end
end
local d = tonumber(ARGV[2 * n + 2])
local first = 2 * n + 3
for i = first, first + d - 1, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, first + d - 1)))
end
for i = first + d, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return 1";

/// Puts a key back as it was: its value (ARGV[1] 's' string or 'h' hash,
/// ARGV[3...]) and its expiry (ARGV[2], Unix ms or -1).
const RESTORE: &str = r"
redis.call('DEL', KEYS[1])
if ARGV[1] == 's' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  for i = 3, #ARGV, 1000 do
    redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
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

/// One step of a path, ready to run: its transforms (inverses already
/// resolved for a backward step) and the version it ends at.
pub struct Stage<'a> {
    pub transforms: std::borrow::Cow<'a, [Transform]>,
    pub check: &'a Check,
}

/// A key a rollback can put back exactly: what the migration wrote, and
/// the original from the backup.
pub struct Exact {
    pub written: Raw,
    pub original: Raw,
}

/// What to do to each key.
pub struct Plan<'a> {
    pub storage: Storage,
    /// The steps, in order; each result is validated against its version.
    pub stages: &'a [Stage<'a>],
    /// The version the keys start at: a value that is valid for the last
    /// stage's version and not for this one is already migrated (a resumed
    /// run, or an application that writes the new shape) and is left alone.
    pub source: Option<&'a Check>,
    /// Rollback: keys that still hold exactly what the migration wrote get
    /// their original back, byte for byte.
    pub exact: Option<&'a HashMap<Vec<u8>, Exact>>,
    /// Why the stages cannot run (a rollback through a step with no
    /// inverse): only keys `exact` can restore are changed, the others
    /// fail with this reason.
    pub irreversible: Option<&'a str>,
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
    /// Keys already at the target version (left alone).
    pub already: usize,
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

/// Fields to delete, and field/value pairs to set.
type HashChanges<'a> = (Vec<&'a [u8]>, Vec<(&'a [u8], &'a [u8])>);

/// What turns hash `old` into `new`: the fields to delete and the
/// field/value pairs to set (only those that differ).
fn hash_changes<'a>(
    old: &'a [(Vec<u8>, Vec<u8>)],
    new: &'a [(Vec<u8>, Vec<u8>)],
) -> HashChanges<'a> {
    let was: HashMap<&[u8], &[u8]> = old
        .iter()
        .map(|(f, v)| (f.as_slice(), v.as_slice()))
        .collect();
    let now: std::collections::HashSet<&[u8]> = new.iter().map(|(f, _)| f.as_slice()).collect();
    let gone = old
        .iter()
        .map(|(f, _)| f.as_slice())
        .filter(|f| !now.contains(f))
        .collect();
    let set = new
        .iter()
        .filter(|(f, v)| was.get(f.as_slice()) != Some(&v.as_slice()))
        .map(|(f, v)| (f.as_slice(), v.as_slice()))
        .collect();
    (gone, set)
}

/// Why a key is left as it is.
pub enum Skip {
    /// It is already at the target version.
    Already,
    /// It cannot be migrated, and why.
    Failed(String),
}

/// One value through every stage: the new value, None when the stages
/// leave it as it was.
pub fn migrate(plan: &Plan<'_>, key: &str, raw: &Raw) -> Result<Option<Raw>, Skip> {
    if let Some(why) = plan.irreversible {
        return Err(Skip::Failed(format!(
            "it changed since the migration and {why}; `ferry schema restore` puts back the backup's value"
        )));
    }
    let mut doc = decode(plan.storage, raw).map_err(|e| Skip::Failed(e.to_string()))?;
    if let (Some(source), Some(last)) = (plan.source, plan.stages.last()) {
        if last.check.is_valid(&doc) && !source.is_valid(&doc) {
            return Err(Skip::Already);
        }
    }
    let before = doc.clone();
    let ctx = Context { key, now: plan.now };
    for stage in plan.stages {
        for t in stage.transforms.iter() {
            t.apply(&mut doc, &ctx)
                .map_err(|e| Skip::Failed(e.to_string()))?;
        }
        stage
            .check
            .check(&doc)
            .map_err(|e| Skip::Failed(format!("after the migration, {e}")))?;
    }
    if doc == before {
        return Ok(None);
    }
    encode(plan.storage, &doc)
        .map(Some)
        .map_err(|e| Skip::Failed(e.to_string()))
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
        let orig = Original {
            key: key.clone(),
            raw,
            expire_at,
        };
        if let Some(e) = plan.exact.and_then(|m| m.get(key)) {
            if e.written.same(&orig.raw) {
                out.changed.push((orig, e.original.clone()));
                continue;
            }
        }
        match migrate(plan, shown, &orig.raw) {
            Ok(Some(new)) => out.changed.push((orig, new)),
            Ok(None) => out.unchanged += 1,
            Err(Skip::Already) => out.already += 1,
            Err(Skip::Failed(why)) => out.failed.push((orig.key, why)),
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
                    for (f, v) in old {
                        c.arg(f).arg(v);
                    }
                    let (gone, set) = hash_changes(old, new);
                    c.arg(gone.len());
                    for f in gone {
                        c.arg(f);
                    }
                    for (f, v) in set {
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
