//! Moving a batch of keys from a source to a target, with their TTLs.
//!
//! Each batch takes a few pipelined round trips, whatever its size:
//! 1. probe: `TYPE` and `PTTL` of every key;
//! 2. read: `DUMP` (when both sides speak it) or a typed read (`GET`, or the
//!    first window of `LRANGE`/`HSCAN`/`SSCAN`/`ZSCAN`);
//! 3. write: `RESTORE`, or `DEL` + typed writes + `PEXPIRE`.
//!
//! A collection longer than one window (`chunk` elements) is a big key: it
//! is copied window by window, so memory stays bounded by the window, not
//! the key. When a target refuses a DUMP payload (another RDB version), that
//! key is copied again with typed commands and the batch stops using DUMP.
//!
//! TTLs: the remaining time is read with `PTTL` and turned into a deadline
//! on our clock; the write sets what remains of it. A key whose deadline
//! passed before its write is not written (and deleted on the target), so a
//! key that expires during the copy does not appear there.

use crate::endpoint::Conn;
use crate::reply;
use crate::{now_ms, Result};
use redis::{Pipeline, Value};
use std::sync::atomic::{AtomicBool, Ordering};

/// What to do with a key that already exists on the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Overwrite it.
    Replace,
    /// Keep the target's key.
    Skip,
    /// Refuse to start when the target holds keys; once started, overwrite.
    Fail,
}

impl Conflict {
    pub fn parse(s: &str) -> Option<Conflict> {
        match s {
            "replace" => Some(Conflict::Replace),
            "skip" => Some(Conflict::Skip),
            "fail" => Some(Conflict::Fail),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::Replace => "replace",
            Conflict::Skip => "skip",
            Conflict::Fail => "fail",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlMode {
    Preserve,
    Drop,
}

impl TtlMode {
    pub fn parse(s: &str) -> Option<TtlMode> {
        match s {
            "preserve" => Some(TtlMode::Preserve),
            "drop" => Some(TtlMode::Drop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TtlMode::Preserve => "preserve",
            TtlMode::Drop => "drop",
        }
    }
}

/// How keys are copied.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub ttl: TtlMode,
    pub conflict: Conflict,
    /// Elements per window for big keys (and per write command).
    pub chunk: usize,
    /// Keys missing on the source are deleted on the target (delta passes).
    pub delete_missing: bool,
    /// Only keys of this type (`--type`); others are left alone and listed
    /// in [`Outcome::out_of_scope`].
    pub type_filter: Option<String>,
    /// The target holds only the types ferry has (strings, hashes, lists,
    /// sets, sorted sets, streams); keys of other (module) types are skipped
    /// with an error.
    pub basic_types_only: bool,
}

/// What happened to a batch.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Keys written to the target.
    pub copied: u64,
    /// Keys not written: kept on the target (`--on-conflict skip`).
    pub skipped: u64,
    /// Keys gone from the source (deleted or expired) before they were
    /// read or written.
    pub gone_keys: Vec<Vec<u8>>,
    /// Keys deleted on the target because the source no longer has them.
    pub deleted: u64,
    /// Payload bytes read from the source.
    pub bytes: u64,
    /// Keys that failed, with the reason.
    pub errors: Vec<(Vec<u8>, String)>,
    /// Keys whose type is outside `--type` (the key changed type, or a
    /// delta pass reached it through the tracker).
    pub out_of_scope: Vec<Vec<u8>>,
}

impl Outcome {
    pub fn add(&mut self, o: Outcome) {
        self.copied += o.copied;
        self.skipped += o.skipped;
        self.gone_keys.extend(o.gone_keys);
        self.deleted += o.deleted;
        self.bytes += o.bytes;
        self.errors.extend(o.errors);
        self.out_of_scope.extend(o.out_of_scope);
    }
}

/// The kind of a key as TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Hash,
    List,
    Set,
    ZSet,
    /// Copied as a DUMP payload, or with typed commands by `streams.rs`.
    Stream,
    /// Module types: copied only as DUMP payloads.
    Other,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "hash" => Kind::Hash,
            "list" => Kind::List,
            "set" => Kind::Set,
            "zset" => Kind::ZSet,
            "stream" => Kind::Stream,
            _ => return None,
        })
    }

    /// The name TYPE gives (modules: none of ours).
    fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
            Kind::Other => "other",
        }
    }
}

/// A key's value as read, whole or one window of it.
#[derive(Debug)]
enum Body {
    Dump(Vec<u8>),
    String(Vec<u8>),
    /// Flat field, value pairs.
    Hash(Vec<Vec<u8>>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Flat member, score pairs (scores as the source formats them).
    ZSet(Vec<Vec<u8>>),
}

impl Body {
    fn bytes(&self) -> u64 {
        match self {
            Body::Dump(b) | Body::String(b) => b.len() as u64,
            Body::Hash(v) | Body::List(v) | Body::Set(v) | Body::ZSet(v) => {
                v.iter().map(|x| x.len() as u64).sum()
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Body::Dump(_) | Body::String(_) => false,
            Body::Hash(v) | Body::List(v) | Body::Set(v) | Body::ZSet(v) => v.is_empty(),
        }
    }
}

/// Where a window read stopped, to read the next one.
#[derive(Debug, Clone)]
enum Resume {
    Done,
    /// SCAN-family cursor.
    Cursor(String),
    /// Next LRANGE index.
    Index(i64),
}

struct Probed {
    key: Vec<u8>,
    kind: Kind,
    /// Deadline in ms since the epoch, None without TTL.
    deadline: Option<i64>,
}

/// Copies `keys` (all of one database) from `src` to `dst`.
///
/// `use_dump` is shared by the batches of a run: it is cleared the first
/// time the target refuses a DUMP payload.
pub async fn copy_keys(
    src: &mut Conn,
    dst: &mut Conn,
    keys: Vec<Vec<u8>>,
    opts: &CopyOptions,
    use_dump: &AtomicBool,
) -> Result<Outcome> {
    let mut out = Outcome::default();
    if keys.is_empty() {
        return Ok(out);
    }
    // 1. probe
    let mut probe = src.key_pipes(keys.len());
    for k in &keys {
        probe.add(|p| {
            p.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
        });
    }
    let read_at = now_ms();
    let replies = src.run_keys(probe).await?;
    let mut live = Vec::with_capacity(keys.len());
    let mut missing = Vec::new();
    for (key, r) in keys.into_iter().zip(replies) {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                out.errors
                    .push((key, format!("reading from the source: {e}")));
                continue;
            }
        };
        if let Some(e) = r.iter().find_map(reply::error_text) {
            out.errors
                .push((key, format!("reading from the source: {e}")));
            continue;
        }
        let ty = r.first().and_then(reply::text).unwrap_or_default();
        let pttl = r.get(1).and_then(reply::int).unwrap_or(-2);
        if ty == "none" || pttl == -2 {
            missing.push(key);
            continue;
        }
        if opts
            .type_filter
            .as_ref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(&ty))
        {
            out.out_of_scope.push(key);
            continue;
        }
        let dump_ok = use_dump.load(Ordering::Relaxed) && !opts.basic_types_only;
        let Some(kind) = Kind::of(&ty).or(if dump_ok { Some(Kind::Other) } else { None }) else {
            out.skipped += 1;
            out.errors.push((
                key,
                format!("type {ty} cannot be copied to this target; the key was skipped"),
            ));
            continue;
        };
        let deadline = match (opts.ttl, pttl) {
            (TtlMode::Preserve, t) if t >= 0 => Some(read_at + t),
            _ => None,
        };
        live.push(Probed {
            key,
            kind,
            deadline,
        });
    }
    if !missing.is_empty() {
        if opts.delete_missing {
            out.deleted += delete_on_target(dst, &missing, &mut out.errors).await?;
        }
        out.gone_keys.extend(missing);
    }
    if live.is_empty() {
        return Ok(out);
    }
    // With --on-conflict skip, keys the target holds are left alone.
    if opts.conflict == Conflict::Skip {
        let pipes: Vec<Pipeline> = live
            .iter()
            .map(|p| {
                let mut pp = redis::pipe();
                pp.cmd("EXISTS").arg(&p.key);
                pp
            })
            .collect();
        let exists = dst.per_key(&pipes).await?;
        let mut kept = Vec::with_capacity(live.len());
        for (p, r) in live.into_iter().zip(exists) {
            match r.as_ref().ok().and_then(|v| v.first()).and_then(reply::int) {
                Some(0) => kept.push(p),
                Some(_) => out.skipped += 1,
                None => out
                    .errors
                    .push((p.key, format!("checking the target: {}", describe(&r)))),
            }
        }
        live = kept;
    }
    // 2. read
    let dump = use_dump.load(Ordering::Relaxed);
    // Without DUMP, streams have their own typed copy (see `streams.rs`).
    let (typed_streams, live): (Vec<Probed>, Vec<Probed>) = live
        .into_iter()
        .partition(|p| p.kind == Kind::Stream && !dump);
    let (small, big) = if dump {
        split_by_length(src, live, opts.chunk).await?
    } else {
        (live, Vec::new())
    };
    let mut read = src.key_pipes(small.len());
    for p in &small {
        read.add(|pp| {
            if dump {
                pp.cmd("DUMP").arg(&p.key);
            } else {
                first_window(pp, p, opts.chunk);
            }
        });
    }
    let replies = src.run_keys(read).await?;
    let mut whole = Vec::new();
    let mut windows = Vec::new();
    // Keys that vanished between the probe and the read, or whose TTL
    // passed before the write: not on the target afterwards.
    let mut gone_now = Vec::new();
    for (p, r) in small.into_iter().zip(replies) {
        let v = match r.as_ref().map(|v| v.first()) {
            Ok(Some(v)) if reply::error_text(v).is_none() => v,
            _ => {
                out.errors
                    .push((p.key, format!("reading from the source: {}", describe(&r))));
                continue;
            }
        };
        let parsed = if dump {
            reply::bytes(v).map(|b| (Body::Dump(b), Resume::Done))
        } else {
            parse_window(p.kind, v, 0, opts.chunk)
        };
        match parsed {
            None if reply::is_nil(v) => gone_now.push(p.key),
            None => out
                .errors
                .push((p.key, format!("unexpected reply from the source: {v:?}"))),
            // An empty page with a cursor to follow is not an empty key.
            Some((body, Resume::Done)) if body.is_empty() => gone_now.push(p.key),
            Some((body, Resume::Done)) => whole.push((p, body)),
            Some((body, resume)) => windows.push((p, body, resume)),
        }
    }
    // 3. write
    let mut refused = Vec::new();
    let mut writes = dst.key_pipes(whole.len());
    let mut written = Vec::with_capacity(whole.len());
    for (p, body) in whole {
        out.bytes += body.bytes();
        let ttl = match remaining(p.deadline) {
            Remaining::Passed => {
                gone_now.push(p.key);
                continue;
            }
            r => r,
        };
        writes.add(|pp| write_whole(pp, &p.key, &body, ttl, opts));
        written.push((p, matches!(body, Body::Dump(_))));
    }
    let replies = dst.run_keys(writes).await?;
    for ((p, was_dump), r) in written.into_iter().zip(replies) {
        match r {
            Ok(vals) => match vals.iter().find_map(reply::error_text) {
                None => out.copied += 1,
                Some(e) if was_dump && e.starts_with("BUSYKEY") => out.skipped += 1,
                Some(e) if was_dump && refuses_payload(&e) => refused.push(p),
                Some(e) => out
                    .errors
                    .push((p.key, format!("writing to the target: {e}"))),
            },
            Err(e) => out
                .errors
                .push((p.key, format!("writing to the target: {e}"))),
        }
    }
    if !gone_now.is_empty() {
        if opts.conflict != Conflict::Skip {
            out.deleted += delete_on_target(dst, &gone_now, &mut out.errors).await?;
        }
        out.gone_keys.extend(gone_now);
    }
    // Big keys, one at a time, window by window.
    for (p, body, resume) in windows {
        copy_big(src, dst, p, Some((body, resume)), opts, &mut out).await?;
    }
    for p in big {
        if p.kind == Kind::Stream {
            copy_stream(src, dst, p, opts, &mut out).await?;
        } else {
            copy_big(src, dst, p, None, opts, &mut out).await?;
        }
    }
    for p in typed_streams {
        copy_stream(src, dst, p, opts, &mut out).await?;
    }
    if !refused.is_empty() {
        if use_dump.swap(false, Ordering::Relaxed) {
            log::warn!("the target refuses DUMP payloads from this source; copying with typed commands instead");
        }
        let keys = refused.into_iter().map(|p| p.key).collect();
        let again = Box::pin(copy_keys(src, dst, keys, opts, use_dump)).await?;
        out.add(again);
    }
    Ok(out)
}

fn describe(r: &crate::endpoint::KeyReplies) -> String {
    match r {
        Ok(v) => v
            .iter()
            .find_map(reply::error_text)
            .unwrap_or_else(|| format!("unexpected reply {v:?}")),
        Err(e) => e.to_string(),
    }
}

/// Whether a RESTORE error means the payload format is not accepted.
fn refuses_payload(e: &str) -> bool {
    let l = e.to_ascii_lowercase();
    l.contains("payload version")
        || l.contains("bad data format")
        || l.contains("unknown command")
        || l.contains("checksum")
}

/// With DUMP, big keys must not be dumped whole: their lengths decide.
async fn split_by_length(
    src: &mut Conn,
    live: Vec<Probed>,
    chunk: usize,
) -> Result<(Vec<Probed>, Vec<Probed>)> {
    let need: Vec<usize> = (0..live.len())
        .filter(|i| !matches!(live[*i].kind, Kind::String | Kind::Other))
        .collect();
    if need.is_empty() {
        return Ok((live, Vec::new()));
    }
    let mut lengths = src.key_pipes(need.len());
    for i in &need {
        lengths.add(|p| {
            p.cmd(crate::endpoint::length_command(live[*i].kind.name()))
                .arg(&live[*i].key);
        });
    }
    let replies = src.run_keys(lengths).await?;
    let mut big_at = vec![false; live.len()];
    for (i, r) in need.into_iter().zip(replies) {
        if let Some(n) = r.ok().and_then(|v| v.first().and_then(reply::int)) {
            big_at[i] = n as usize > chunk;
        }
    }
    let mut small = Vec::new();
    let mut big = Vec::new();
    for (p, is_big) in live.into_iter().zip(big_at) {
        if is_big {
            big.push(p);
        } else {
            small.push(p);
        }
    }
    Ok((small, big))
}

fn first_window(pp: &mut Pipeline, p: &Probed, chunk: usize) {
    next_window(pp, p.kind, &p.key, &Resume::Index(0), chunk);
}

fn next_window(pp: &mut Pipeline, kind: Kind, key: &[u8], at: &Resume, chunk: usize) {
    let cursor = match at {
        Resume::Cursor(c) => c.clone(),
        _ => "0".into(),
    };
    match kind {
        // Streams never come here (`copy_stream`); GET answers WRONGTYPE.
        Kind::String | Kind::Stream | Kind::Other => {
            pp.cmd("GET").arg(key);
        }
        Kind::List => {
            let start = match at {
                Resume::Index(i) => *i,
                _ => 0,
            };
            pp.cmd("LRANGE")
                .arg(key)
                .arg(start)
                .arg(start + chunk as i64 - 1);
        }
        Kind::Hash => {
            pp.cmd("HSCAN").arg(key).arg(cursor).arg("COUNT").arg(chunk);
        }
        Kind::Set => {
            pp.cmd("SSCAN").arg(key).arg(cursor).arg("COUNT").arg(chunk);
        }
        Kind::ZSet => {
            pp.cmd("ZSCAN").arg(key).arg(cursor).arg("COUNT").arg(chunk);
        }
    }
}

/// Parses one window; `start` is the LRANGE index it began at.
fn parse_window(kind: Kind, v: &Value, start: i64, chunk: usize) -> Option<(Body, Resume)> {
    match kind {
        Kind::String | Kind::Stream | Kind::Other => {
            reply::bytes(v).map(|b| (Body::String(b), Resume::Done))
        }
        Kind::List => {
            let items = reply::byte_list(v)?;
            let resume = if items.len() < chunk {
                Resume::Done
            } else {
                Resume::Index(start + items.len() as i64)
            };
            Some((Body::List(items), resume))
        }
        Kind::Hash | Kind::Set | Kind::ZSet => {
            let (cursor, items) = reply::scan_page(v)?;
            let resume = if cursor == "0" {
                Resume::Done
            } else {
                Resume::Cursor(cursor)
            };
            let body = match kind {
                Kind::Hash => Body::Hash(items),
                Kind::Set => Body::Set(items),
                _ => Body::ZSet(items),
            };
            Some((body, resume))
        }
    }
}

enum Remaining {
    Forever,
    Ms(i64),
    Passed,
}

fn remaining(deadline: Option<i64>) -> Remaining {
    match deadline {
        None => Remaining::Forever,
        Some(d) => {
            let left = d - now_ms();
            if left <= 0 {
                Remaining::Passed
            } else {
                Remaining::Ms(left)
            }
        }
    }
}

/// Commands that write a whole key (replacing what the target has, unless
/// `--on-conflict skip`, which checked beforehand).
fn write_whole(pp: &mut Pipeline, key: &[u8], body: &Body, ttl: Remaining, opts: &CopyOptions) {
    let ms = match ttl {
        Remaining::Ms(ms) => Some(ms),
        _ => None,
    };
    match body {
        Body::Dump(payload) => {
            let c = pp
                .cmd("RESTORE")
                .arg(key)
                .arg(ms.unwrap_or(0))
                .arg(payload.as_slice());
            if opts.conflict != Conflict::Skip {
                c.arg("REPLACE");
            }
        }
        Body::String(v) => {
            let c = pp.cmd("SET").arg(key).arg(v.as_slice());
            if let Some(ms) = ms {
                c.arg("PX").arg(ms);
            }
        }
        _ => {
            if opts.conflict != Conflict::Skip {
                pp.cmd("DEL").arg(key);
            }
            append_window(pp, key, body, opts.chunk);
            if let Some(ms) = ms {
                pp.cmd("PEXPIRE").arg(key).arg(ms);
            }
        }
    }
}

/// Typed writes that add one window of elements, `chunk` per command.
fn append_window(pp: &mut Pipeline, key: &[u8], body: &Body, chunk: usize) {
    let chunk = chunk.max(1);
    match body {
        Body::Hash(flat) => {
            for part in flat.chunks(chunk * 2) {
                let c = pp.cmd("HSET").arg(key);
                for x in part {
                    c.arg(x.as_slice());
                }
            }
        }
        Body::List(items) => {
            for part in items.chunks(chunk) {
                let c = pp.cmd("RPUSH").arg(key);
                for x in part {
                    c.arg(x.as_slice());
                }
            }
        }
        Body::Set(items) => {
            for part in items.chunks(chunk) {
                let c = pp.cmd("SADD").arg(key);
                for x in part {
                    c.arg(x.as_slice());
                }
            }
        }
        Body::ZSet(flat) => {
            for part in flat.chunks(chunk * 2) {
                let c = pp.cmd("ZADD").arg(key);
                for pair in part.chunks(2) {
                    if let [member, score] = pair {
                        c.arg(score.as_slice()).arg(member.as_slice());
                    }
                }
            }
        }
        Body::String(v) => {
            pp.cmd("APPEND").arg(key).arg(v.as_slice());
        }
        Body::Dump(_) => {}
    }
}

/// Copies one big key window by window. `first` is a window already read.
async fn copy_big(
    src: &mut Conn,
    dst: &mut Conn,
    p: Probed,
    first: Option<(Body, Resume)>,
    opts: &CopyOptions,
    out: &mut Outcome,
) -> Result<()> {
    let mut at = Resume::Index(0);
    let mut pending = first;
    let mut started = false;
    // List windows are appended with RPUSH, which a retried write (after a
    // dropped connection) would apply twice: the length RPUSH answers is
    // checked, and on a surprise the key is copied again from the start.
    let mut pushed = 0i64;
    let mut restarts = 0;
    loop {
        let (body, next) = match pending.take() {
            Some(w) => w,
            None => {
                let mut pp = redis::pipe();
                next_window(&mut pp, p.kind, &p.key, &at, opts.chunk);
                let r = src.per_key(std::slice::from_ref(&pp)).await?.pop();
                let v = match r {
                    Some(Ok(mut v)) if !v.is_empty() => v.remove(0),
                    Some(Ok(_)) | None => Value::Nil,
                    Some(Err(e)) => {
                        out.errors
                            .push((p.key, format!("reading from the source: {e}")));
                        return Ok(());
                    }
                };
                if let Some(e) = reply::error_text(&v) {
                    // WRONGTYPE: the key was replaced while we copied it; the
                    // tracker saw that and a delta pass copies it again.
                    out.errors
                        .push((p.key, format!("reading from the source: {e}")));
                    return Ok(());
                }
                let start = match at {
                    Resume::Index(i) => i,
                    _ => 0,
                };
                match parse_window(p.kind, &v, start, opts.chunk) {
                    Some(w) => w,
                    None => {
                        out.errors
                            .push((p.key, format!("unexpected reply from the source: {v:?}")));
                        return Ok(());
                    }
                }
            }
        };
        out.bytes += body.bytes();
        if !started && body.is_empty() && matches!(next, Resume::Done) {
            out.gone_keys.push(p.key);
            return Ok(());
        }
        let mut pp = redis::pipe();
        let del_first = !started && opts.conflict != Conflict::Skip;
        if del_first {
            pp.cmd("DEL").arg(&p.key);
        }
        started = true;
        append_window(&mut pp, &p.key, &body, opts.chunk);
        // Where the last RPUSH's reply is, and the length it must report.
        let list_check = match &body {
            Body::List(items) if !items.is_empty() => {
                pushed += items.len() as i64;
                Some((
                    usize::from(del_first) + items.len().div_ceil(opts.chunk.max(1)) - 1,
                    pushed,
                ))
            }
            _ => None,
        };
        let done = matches!(next, Resume::Done);
        if done {
            match remaining(p.deadline) {
                Remaining::Ms(ms) => {
                    pp.cmd("PEXPIRE").arg(&p.key).arg(ms);
                }
                Remaining::Passed => {
                    pp.cmd("DEL").arg(&p.key);
                }
                Remaining::Forever => {}
            }
        }
        if pp.cmd_iter().next().is_some() {
            let r = dst.per_key(std::slice::from_ref(&pp)).await?.pop();
            match r {
                Some(Ok(v)) => {
                    if let Some(e) = v.iter().find_map(reply::error_text) {
                        out.errors
                            .push((p.key, format!("writing to the target: {e}")));
                        return Ok(());
                    }
                    if let Some((at_reply, want)) = list_check {
                        let got = v.get(at_reply).and_then(reply::int);
                        if got != Some(want) {
                            restarts += 1;
                            if restarts > 3 {
                                out.errors.push((p.key, format!(
                                    "writing to the target: the list has {got:?} elements where {want} were written, again after 3 restarts"
                                )));
                                return Ok(());
                            }
                            log::warn!(
                                "key {}: the target list has {got:?} elements where {want} were written (a retried write?); copying it again",
                                crate::verify::show_key(&p.key)
                            );
                            (pending, at, started, pushed) = (None, Resume::Index(0), false, 0);
                            continue;
                        }
                    }
                }
                Some(Err(e)) => {
                    out.errors
                        .push((p.key, format!("writing to the target: {e}")));
                    return Ok(());
                }
                None => {}
            }
        }
        if done {
            if matches!(remaining(p.deadline), Remaining::Passed) {
                out.gone_keys.push(p.key);
            } else {
                out.copied += 1;
            }
            return Ok(());
        }
        at = next;
    }
}

/// Copies one stream with typed commands, then its TTL.
async fn copy_stream(
    src: &mut Conn,
    dst: &mut Conn,
    p: Probed,
    opts: &CopyOptions,
    out: &mut Outcome,
) -> Result<()> {
    let del_first = opts.conflict != Conflict::Skip;
    match crate::streams::copy_stream(src, dst, &p.key, opts.chunk, del_first).await? {
        crate::streams::Copied::Gone => {
            if del_first {
                out.deleted +=
                    delete_on_target(dst, std::slice::from_ref(&p.key), &mut out.errors).await?;
            }
            out.gone_keys.push(p.key);
        }
        crate::streams::Copied::Failed(e) => out.errors.push((p.key, e)),
        crate::streams::Copied::Done => {
            let mut pp = redis::pipe();
            match remaining(p.deadline) {
                Remaining::Ms(ms) => {
                    pp.cmd("PEXPIRE").arg(&p.key).arg(ms);
                }
                Remaining::Passed => {
                    pp.cmd("DEL").arg(&p.key);
                }
                Remaining::Forever => {}
            }
            if pp.cmd_iter().next().is_some() {
                if let Some(Err(e)) = dst.per_key(std::slice::from_ref(&pp)).await?.pop() {
                    out.errors
                        .push((p.key, format!("writing to the target: {e}")));
                    return Ok(());
                }
            }
            if matches!(remaining(p.deadline), Remaining::Passed) {
                out.gone_keys.push(p.key);
            } else {
                out.copied += 1;
            }
        }
    }
    Ok(())
}

/// Deletes keys on the target; returns how many existed.
pub(crate) async fn delete_on_target(
    dst: &mut Conn,
    keys: &[Vec<u8>],
    errors: &mut Vec<(Vec<u8>, String)>,
) -> Result<u64> {
    let pipes: Vec<Pipeline> = crate::endpoint::each_key("DEL", keys);
    let mut n = 0;
    for (k, r) in keys.iter().zip(dst.per_key(&pipes).await?) {
        match r.as_ref().ok().and_then(|v| v.first()).and_then(reply::int) {
            Some(d) => n += d as u64,
            None => errors.push((
                k.clone(),
                format!("deleting on the target: {}", describe(&r)),
            )),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse() {
        let v = Value::Array(vec![
            Value::BulkString(b"17".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"f".to_vec()),
                Value::BulkString(b"v".to_vec()),
            ]),
        ]);
        match parse_window(Kind::Hash, &v, 0, 10) {
            Some((Body::Hash(items), Resume::Cursor(c))) => {
                assert_eq!(items, vec![b"f".to_vec(), b"v".to_vec()]);
                assert_eq!(c, "17");
            }
            other => panic!("{other:?}"),
        }
        let list = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec()),
        ]);
        assert!(matches!(
            parse_window(Kind::List, &list, 4, 2),
            Some((_, Resume::Index(6)))
        ));
        assert!(matches!(
            parse_window(Kind::List, &list, 4, 3),
            Some((_, Resume::Done))
        ));
    }

    #[test]
    fn zset_writes_put_score_first() {
        let mut pp = redis::pipe();
        append_window(
            &mut pp,
            b"z",
            &Body::ZSet(vec![b"m".to_vec(), b"1.5".to_vec()]),
            10,
        );
        let packed = String::from_utf8_lossy(&pp.get_packed_pipeline()).into_owned();
        assert!(
            packed.contains("ZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm"),
            "{packed}"
        );
    }
}
