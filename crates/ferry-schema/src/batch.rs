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

/// Reads a batch: per key its PEXPIRETIME and its value (ARGV[1] is GET
/// or HGETALL; a key of another type gives its WRONGTYPE error in place).
const READ: &str = r"
local out = {}
for i = 1, #KEYS do
  out[2 * i - 1] = redis.call('PEXPIRETIME', KEYS[i])
  out[2 * i] = redis.pcall(ARGV[1], KEYS[i])
end
return out";

/// Compare-and-set of string keys: KEYS[i] is set to ARGV[2i] (keeping
/// its TTL) if it holds ARGV[2i-1] (anything else, another type
/// included, is a conflict). Returns 1 (written) or 0 per key.
const CAS_STRING: &str = r"
local out = {}
for i = 1, #KEYS do
  if redis.pcall('GET', KEYS[i]) == ARGV[2 * i - 1] then
    redis.call('SET', KEYS[i], ARGV[2 * i], 'KEEPTTL')
    out[i] = 1
  else
    out[i] = 0
  end
end
return out";

/// Compare-and-set of hashes, changed in place (so TTLs stay as they
/// are): per key, ARGV holds n, the n field/value pairs it must hold
/// exactly, d, the d fields to delete, m, the m field/value pairs to set.
/// Returns 1 (written) or 0 per key. Fields go in slices of 1000 because
/// Lua's unpack has a stack limit.
const CAS_HASH: &str = r"
local out = {}
local a = 1
for i = 1, #KEYS do
  local k = KEYS[i]
  local n = tonumber(ARGV[a])
  a = a + 1
  local cur = redis.pcall('HGETALL', k)
  local same = type(cur) == 'table' and not cur.err and #cur == 2 * n
  if same then
    local want = {}
    for j = a, a + 2 * n - 1, 2 do
      want[ARGV[j]] = ARGV[j + 1]
    end
    for j = 1, #cur, 2 do
      if want[cur[j]] ~= cur[j + 1] then
        same = false
        break
      end
    end
  end
  a = a + 2 * n
  local d = tonumber(ARGV[a])
  local dels = a + 1
  a = dels + d
  local m = tonumber(ARGV[a])
  local sets = a + 1
  a = sets + 2 * m
  if same then
    for j = dels, dels + d - 1, 1000 do
      redis.call('HDEL', k, unpack(ARGV, j, math.min(j + 999, dels + d - 1)))
    end
    for j = sets, sets + 2 * m - 1, 1000 do
      redis.call('HSET', k, unpack(ARGV, j, math.min(j + 999, sets + 2 * m - 1)))
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out";

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
    /// Bytes of the values read (to size the next batches).
    pub bytes_read: usize,
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
    // The document stays a `Value` so the validators see it without a copy.
    let mut doc = serde_json::Value::Object(
        decode(plan.storage, raw).map_err(|e| Skip::Failed(e.to_string()))?,
    );
    if let (Some(source), Some(last)) = (plan.source, plan.stages.last()) {
        if last.check.is_valid(&doc) && !source.is_valid(&doc) {
            return Err(Skip::Already);
        }
    }
    let before = doc.clone();
    let ctx = Context { key, now: plan.now };
    for stage in plan.stages {
        if let serde_json::Value::Object(map) = &mut doc {
            for t in stage.transforms.iter() {
                t.apply(map, &ctx)
                    .map_err(|e| Skip::Failed(e.to_string()))?;
            }
        }
        stage
            .check
            .check(&doc)
            .map_err(|e| Skip::Failed(format!("after the migration, {e}")))?;
    }
    if doc == before {
        return Ok(None);
    }
    match &doc {
        serde_json::Value::Object(map) => encode(plan.storage, map)
            .map(Some)
            .map_err(|e| Skip::Failed(e.to_string())),
        _ => Ok(None),
    }
}

/// A key's value from its read reply: None when the key is gone, Err
/// when it holds another type (or the read failed).
fn read_value(storage: Storage, reply: &Value) -> Result<Option<Raw>, String> {
    let pairs = |items: &[Value]| -> Vec<(Vec<u8>, Vec<u8>)> {
        items
            .chunks(2)
            .filter_map(|p| match p {
                [Value::BulkString(f), Value::BulkString(v)] => Some((f.clone(), v.clone())),
                _ => None,
            })
            .collect()
    };
    match (storage, reply) {
        (_, Value::Nil) => Ok(None),
        (Storage::JsonString, Value::BulkString(b)) => Ok(Some(Raw::String(b.clone()))),
        (Storage::Hash, Value::Array(items)) if items.is_empty() => Ok(None),
        (Storage::Hash, Value::Array(items)) => Ok(Some(Raw::Hash(pairs(items)))),
        (Storage::Hash, Value::Map(m)) if m.is_empty() => Ok(None),
        (Storage::Hash, Value::Map(m)) => Ok(Some(Raw::Hash(
            m.iter()
                .filter_map(|(f, v)| match (f, v) {
                    (Value::BulkString(f), Value::BulkString(v)) => Some((f.clone(), v.clone())),
                    _ => None,
                })
                .collect(),
        ))),
        (_, Value::ServerError(e)) if e.code() == "WRONGTYPE" => Err(format!(
            "it is not a {}, the schema stores values as {storage:?}",
            match storage {
                Storage::JsonString => "string",
                Storage::Hash => "hash",
            }
        )),
        (_, other) => Err(format!("reading it failed: {other:?}")),
    }
}

/// Reads each key's expiry time and value: per key `[PEXPIRETIME, value]`.
/// On one server the batch is one script call (the server's work per key
/// is then two lookups, not two commands to parse and answer); in a
/// cluster, a pipeline per master.
async fn read(
    conn: &mut Conn,
    storage: Storage,
    keys: &[Vec<u8>],
) -> ferry_migrate::Result<Vec<ferry_migrate::endpoint::KeyReplies>> {
    let value_cmd = match storage {
        Storage::JsonString => "GET",
        Storage::Hash => "HGETALL",
    };
    if let Conn::Single(_) = conn {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = redis::cmd("EVAL");
        c.arg(READ).arg(keys.len());
        for k in keys {
            c.arg(k);
        }
        c.arg(value_cmd);
        return Ok(match conn.cmd(&c).await? {
            Value::Array(items) if items.len() == 2 * keys.len() => {
                let mut items = items.into_iter();
                keys.iter()
                    .map(|_| Ok(items.by_ref().take(2).collect()))
                    .collect()
            }
            other => {
                let detail = format!("{other:?}");
                keys.iter()
                    .map(|_| {
                        Err(redis::RedisError::from((
                            redis::ErrorKind::ResponseError,
                            "unexpected reply to the read script",
                            detail.clone(),
                        )))
                    })
                    .collect()
            }
        });
    }
    let reads: Vec<Pipeline> = keys
        .iter()
        .map(|k| {
            let mut p = redis::pipe();
            p.cmd("PEXPIRETIME").arg(k).cmd(value_cmd).arg(k);
            p
        })
        .collect();
    conn.per_key(&reads).await
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
    let mut out = prepare(conn, plan, keys).await?;
    if dry_run || out.changed.is_empty() {
        return Ok(out);
    }
    before_write(&out.changed)?;
    commit(conn, &mut out).await?;
    Ok(out)
}

/// Reads and transforms `keys`: `changed` holds what would be written.
pub async fn prepare(
    conn: &mut Conn,
    plan: &Plan<'_>,
    keys: &[Vec<u8>],
) -> ferry_migrate::Result<Outcome> {
    let replies = read(conn, plan.storage, keys).await?;
    let mut out = Outcome::default();
    for (key, reply) in keys.iter().zip(replies) {
        let values = match reply {
            Ok(v) => v,
            Err(e) => {
                out.failed.push(reply_error(key, e));
                continue;
            }
        };
        let [expire_at, value] = values.as_slice() else {
            out.failed.push(reply_error(key, "short reply"));
            continue;
        };
        let expire_at = match expire_at {
            Value::Int(i) => *i,
            _ => -1,
        };
        let raw = match read_value(plan.storage, value) {
            Ok(Some(raw)) => {
                out.bytes_read += raw.size();
                raw
            }
            Ok(None) => {
                out.gone += 1;
                continue;
            }
            Err(why) => {
                out.failed.push((key.clone(), why));
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
        match migrate(plan, &String::from_utf8_lossy(key), &orig.raw) {
            Ok(Some(new)) => out.changed.push((orig, new)),
            Ok(None) => out.unchanged += 1,
            Err(Skip::Already) => out.already += 1,
            Err(Skip::Failed(why)) => out.failed.push((orig.key, why)),
        }
    }
    Ok(out)
}

/// Writes what [`prepare`] found to change: `changed` keeps the keys
/// written, the others move to `conflicts` (changed meanwhile) or
/// `failed`.
pub async fn commit(conn: &mut Conn, out: &mut Outcome) -> ferry_migrate::Result<()> {
    if out.changed.is_empty() {
        return Ok(());
    }
    let results = write(conn, &out.changed).await?;
    let mut written = Vec::with_capacity(out.changed.len());
    for ((orig, new), r) in std::mem::take(&mut out.changed).into_iter().zip(results) {
        match r {
            Ok(true) => written.push((orig, new)),
            Ok(false) => out.conflicts.push(orig.key),
            Err(why) => out.failed.push((orig.key, why)),
        }
    }
    out.changed = written;
    Ok(())
}

/// Adds one key's compare-and-set arguments: a string's old and new
/// value; a hash's old fields (n, pairs), the fields to delete (d,
/// names) and the pairs to set (m, pairs).
fn cas_args(c: &mut redis::Cmd, old: &Raw, new: &Raw) {
    match (old, new) {
        (Raw::String(old), Raw::String(new)) => {
            c.arg(old).arg(new);
        }
        (Raw::Hash(old), Raw::Hash(new)) => {
            c.arg(old.len());
            for (f, v) in old {
                c.arg(f).arg(v);
            }
            let (gone, set) = hash_changes(old, new);
            c.arg(gone.len());
            for f in gone {
                c.arg(f);
            }
            c.arg(set.len());
            for (f, v) in set {
                c.arg(f).arg(v);
            }
        }
        // Both sides always have the plan's storage.
        _ => {}
    }
}

/// Writes the new values, each only if its key still holds what was read:
/// per key Ok(true) written, Ok(false) changed meanwhile, Err why not.
/// On one server the whole batch is one script call (the call's own cost
/// paid once, not per key); in a cluster, where one script cannot touch
/// keys of different slots, one call per key.
async fn write(
    conn: &mut Conn,
    changed: &[(Original, Raw)],
) -> ferry_migrate::Result<Vec<Result<bool, String>>> {
    let script = |o: &Original| match o.raw {
        Raw::String(_) => CAS_STRING,
        Raw::Hash(_) => CAS_HASH,
    };
    if let Conn::Single(_) = conn {
        let Some((first, _)) = changed.first() else {
            return Ok(Vec::new());
        };
        let mut c = redis::cmd("EVAL");
        c.arg(script(first)).arg(changed.len());
        for (orig, _) in changed {
            c.arg(&orig.key);
        }
        for (orig, new) in changed {
            cas_args(&mut c, &orig.raw, new);
        }
        let reply = conn.cmd(&c).await?;
        return Ok(match reply {
            Value::Array(items) if items.len() == changed.len() => items
                .iter()
                .map(|v| match v {
                    Value::Int(1) => Ok(true),
                    Value::Int(0) => Ok(false),
                    other => Err(format!("the write answered {other:?}")),
                })
                .collect(),
            other => {
                let why = format!("the write answered {other:?}");
                changed.iter().map(|_| Err(why.clone())).collect()
            }
        });
    }
    let writes: Vec<Pipeline> = changed
        .iter()
        .map(|(orig, new)| {
            let mut p = redis::pipe();
            let mut c = redis::cmd("EVAL");
            c.arg(script(orig)).arg(1).arg(&orig.key);
            cas_args(&mut c, &orig.raw, new);
            p.add_command(c);
            p
        })
        .collect();
    Ok(conn
        .per_key(&writes)
        .await?
        .into_iter()
        .map(|r| match r.as_deref() {
            Ok([Value::Array(items)]) => match items.as_slice() {
                [Value::Int(1)] => Ok(true),
                [Value::Int(0)] => Ok(false),
                other => Err(format!("the write answered {other:?}")),
            },
            Ok(other) => Err(format!("the write answered {other:?}")),
            Err(e) => Err(format!("the write failed: {e}")),
        })
        .collect())
}
