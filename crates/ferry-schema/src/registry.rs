//! What was applied, kept inside the target so every operator sees the
//! same state: a hash `__ferry:schema:{<name>}` (current version, the run
//! in progress with its checkpoint, the stack of applied runs that
//! rollback pops) and a stream `__ferry:schema:{<name>}:history` (one
//! entry per run started, finished, rolled back). Both keys share a hash
//! tag, so in a cluster they live on one node. The same keys work on
//! Redis, a Redis Cluster and a ferry store; migrations never touch keys
//! under `__ferry:`.

use crate::graph::Step;
use ferry_migrate::endpoint::Conn;
use ferry_migrate::{Error, Result};
use redis::Value;
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys under this prefix belong to ferry and are never migrated.
pub const RESERVED: &[u8] = b"__ferry:";

pub fn state_key(name: &str) -> String {
    format!("__ferry:schema:{{{name}}}")
}

pub fn history_key(name: &str) -> String {
    format!("__ferry:schema:{{{name}}}:history")
}

/// Whether a run moves keys forward (`apply`) or undoes one (`rollback`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Apply,
    Rollback,
}

/// One run, as recorded when it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub kind: RunKind,
    pub from: Version,
    pub to: Version,
    pub steps: Vec<Step>,
    /// `${NOW}` of the run (a resumed run keeps it, so every key gets the
    /// same value, and rollback can recompute what the run wrote).
    pub now: String,
    pub started_ms: i64,
    /// The backup file of an apply run (absolute path), if one was written.
    pub backup: Option<String>,
    /// Who started it (user@host), for the other operators.
    pub by: String,
}

/// Counts of a run so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub scanned: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub already: u64,
    pub failed: u64,
    pub conflicts: u64,
}

/// The registry of one schema on the target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    /// The version the keys are at (None: nothing applied yet).
    pub version: Option<Version>,
    /// The run in progress (or killed), if any.
    pub run: Option<Run>,
    /// Its checkpoint: SCAN cursor per master (`done` when finished).
    pub cursors: BTreeMap<String, String>,
    pub counts: Counts,
    /// Finished apply runs, oldest first (rollback undoes the last).
    pub applied: Vec<Run>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn json<T: for<'de> Deserialize<'de>>(key: &str, field: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::Protocol(format!(
            "{key} field '{field}' is not what ferry wrote ({e}); was it changed by hand?"
        ))
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Reads the registry (an absent key is an empty registry).
pub async fn read(conn: &mut Conn, name: &str) -> Result<State> {
    let key = state_key(name);
    let v = conn.cmd(redis::cmd("HGETALL").arg(&key)).await?;
    let pairs: Vec<(String, String)> = match &v {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|p| Some((text(p.first()?)?, text(p.get(1)?)?)))
            .collect(),
        Value::Map(items) => items
            .iter()
            .filter_map(|(f, v)| Some((text(f)?, text(v)?)))
            .collect(),
        other => {
            return Err(Error::Protocol(format!("HGETALL {key} answered {other:?}")));
        }
    };
    let mut state = State::default();
    for (f, v) in pairs {
        match f.as_str() {
            "version" if !v.is_empty() => {
                state.version = Some(Version::parse(&v).map_err(|e| {
                    Error::Protocol(format!(
                        "{key} field 'version' is '{v}', not a version ({e})"
                    ))
                })?)
            }
            "run" if !v.is_empty() => state.run = Some(json(&key, &f, &v)?),
            "cursors" if !v.is_empty() => state.cursors = json(&key, &f, &v)?,
            "counts" if !v.is_empty() => state.counts = json(&key, &f, &v)?,
            "applied" if !v.is_empty() => state.applied = json(&key, &f, &v)?,
            _ => {}
        }
    }
    Ok(state)
}

/// Records a new run; refused (Ok(Some(existing))) when another run is
/// already recorded, so two operators cannot run at once.
pub async fn begin(conn: &mut Conn, name: &str, run: &Run) -> Result<Option<Run>> {
    let key = state_key(name);
    let set = conn
        .cmd(redis::cmd("HSETNX").arg(&key).arg("run").arg(to_json(run)))
        .await?;
    if set == Value::Int(1) {
        history(conn, name, run, "started", &Counts::default()).await?;
        return Ok(None);
    }
    Ok(read(conn, name).await?.run)
}

/// Saves the checkpoint of the run in progress.
pub async fn checkpoint(
    conn: &mut Conn,
    name: &str,
    cursors: &BTreeMap<String, String>,
    counts: &Counts,
) -> Result<()> {
    conn.cmd(
        redis::cmd("HSET")
            .arg(state_key(name))
            .arg("cursors")
            .arg(to_json(cursors))
            .arg("counts")
            .arg(to_json(counts)),
    )
    .await?;
    Ok(())
}

/// Ends the run: the keys are at `run.to`; an apply is pushed on the
/// stack of applied runs, a rollback pops the run it undid. One HSET, so
/// a crash leaves either the old or the new state.
pub async fn finish(conn: &mut Conn, name: &str, run: &Run, counts: &Counts) -> Result<()> {
    let mut state = read(conn, name).await?;
    match run.kind {
        RunKind::Apply => state.applied.push(run.clone()),
        RunKind::Rollback => {
            state.applied.pop();
        }
    }
    history(conn, name, run, "finished", counts).await?;
    let mut set = end_of_run(name);
    set.arg("version")
        .arg(run.to.to_string())
        .arg("applied")
        .arg(to_json(&state.applied));
    conn.cmd(&set).await?;
    Ok(())
}

/// The HSET that forgets the run in progress and its checkpoint; more
/// fields may be added to it, so everything changes in one command.
fn end_of_run(name: &str) -> redis::Cmd {
    let mut c = redis::cmd("HSET");
    c.arg(state_key(name))
        .arg("run")
        .arg("")
        .arg("cursors")
        .arg("")
        .arg("counts")
        .arg("");
    c
}

/// Forgets a run that will not be finished (`ferry schema abort`): the
/// keys it changed stay changed (its backup can restore them).
pub async fn abort(conn: &mut Conn, name: &str, run: &Run, counts: &Counts) -> Result<()> {
    history(conn, name, run, "aborted", counts).await?;
    conn.cmd(&end_of_run(name)).await?;
    Ok(())
}

/// Appends one event to the history stream.
async fn history(
    conn: &mut Conn,
    name: &str,
    run: &Run,
    event: &str,
    counts: &Counts,
) -> Result<()> {
    conn.cmd(
        redis::cmd("XADD")
            .arg(history_key(name))
            .arg("*")
            .arg("event")
            .arg(event)
            .arg("run")
            .arg(&run.id)
            .arg("kind")
            .arg(to_json(&run.kind))
            .arg("from")
            .arg(run.from.to_string())
            .arg("to")
            .arg(run.to.to_string())
            .arg("by")
            .arg(&run.by)
            .arg("counts")
            .arg(to_json(counts)),
    )
    .await?;
    Ok(())
}

/// The history, oldest first: (entry id, field/value pairs).
pub async fn read_history(
    conn: &mut Conn,
    name: &str,
) -> Result<Vec<(String, Vec<(String, String)>)>> {
    let v = conn
        .cmd(
            redis::cmd("XRANGE")
                .arg(history_key(name))
                .arg("-")
                .arg("+"),
        )
        .await?;
    let Value::Array(entries) = v else {
        return Ok(Vec::new());
    };
    Ok(entries
        .iter()
        .filter_map(|e| {
            let Value::Array(parts) = e else { return None };
            let id = text(parts.first()?)?;
            let fields = match parts.get(1)? {
                Value::Array(kv) => kv
                    .chunks(2)
                    .filter_map(|p| Some((text(p.first()?)?, text(p.get(1)?)?)))
                    .collect(),
                Value::Map(kv) => kv
                    .iter()
                    .filter_map(|(f, v)| Some((text(f)?, text(v)?)))
                    .collect(),
                _ => Vec::new(),
            };
            Some((id, fields))
        })
        .collect())
}
