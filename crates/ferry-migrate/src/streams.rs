//! Streams without DUMP: a typed copy and a typed comparison, so a stream
//! moves between any two endpoints (a ferry store on either side included).
//!
//! Copy, for one stream key:
//! 1. its entries, window by window: `XRANGE key (<last> + COUNT chunk` on
//!    the source, `XADD key <id> ...` with the same ids on the target (after
//!    `DEL`, unless `--on-conflict skip`);
//! 2. then (so that they cover every entry copied) its metadata:
//!    `XINFO STREAM` gives the last id, entries added and largest deleted id,
//!    written with `XSETID ... ENTRIESADDED ... MAXDELETEDID`; an empty
//!    stream is created with `XADD ... MAXLEN 0` first;
//! 3. its groups (`XINFO GROUPS` -> `XGROUP CREATE ... ENTRIESREAD`) and
//!    consumers (`XINFO CONSUMERS` -> `XGROUP CREATECONSUMER`);
//! 4. each group's pending entries, window by window: `XPENDING key group
//!    (<last> + chunk` -> `XCLAIM key group consumer 0 id TIME <ms>
//!    RETRYCOUNT <n> FORCE JUSTID`, which recreates the entry with its owner,
//!    delivery count and delivery time (now minus its idle time).
//!
//! What the commands cannot carry: a consumer's seen time (it becomes the
//! time of the copy), and a pending entry whose stream entry was deleted
//! (XCLAIM FORCE only creates pending entries for existing entries; such
//! entries are skipped, and verify leaves them out too).
//!
//! Compare: entries window by window, the metadata above, the groups, the
//! consumers with their pending counts, and the pending entries (owner and
//! delivery count).

use crate::endpoint::{Conn, KeyReplies};
use crate::reply;
use crate::{now_ms, Result};
use redis::{Pipeline, Value};

/// The replies of one pipeline sent for one key, or why there are none.
async fn run(c: &mut Conn, p: Pipeline) -> Result<std::result::Result<Vec<Value>, String>> {
    let r: Option<KeyReplies> = c.per_key(std::slice::from_ref(&p)).await?.pop();
    Ok(match r {
        Some(Ok(v)) => match v.iter().find_map(reply::error_text) {
            Some(e) => Err(e),
            None => Ok(v),
        },
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no reply".into()),
    })
}

/// The fields of a map reply (a flat array in RESP2), by name.
fn fields(v: &Value) -> Vec<(String, &Value)> {
    let items = reply::items(v).unwrap_or_default();
    items
        .chunks(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((reply::text(k)?, *v)),
            _ => None,
        })
        .collect()
}

fn field<'a>(f: &'a [(String, &'a Value)], name: &str) -> Option<&'a Value> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// One entry: its id and flat field, value list.
type StreamEntry = (Vec<u8>, Vec<Vec<u8>>);

fn parse_entries(v: &Value) -> Option<Vec<StreamEntry>> {
    reply::items(v)?
        .into_iter()
        .map(|e| {
            let parts = reply::items(e)?;
            let id = reply::bytes(parts.first()?)?;
            let fields = reply::byte_list(parts.get(1)?)?;
            Some((id, fields))
        })
        .collect()
}

/// The stream-wide metadata XSETID restores.
#[derive(Debug, PartialEq, Eq)]
struct Meta {
    length: i64,
    last: Vec<u8>,
    entries_added: i64,
    /// None from servers before Redis 7.0.
    max_deleted: Option<Vec<u8>>,
}

fn parse_meta(v: &Value) -> Option<Meta> {
    let f = fields(v);
    Some(Meta {
        length: reply::int(field(&f, "length")?)?,
        last: reply::bytes(field(&f, "last-generated-id")?)?,
        // Servers before Redis 7.0 do not report these.
        entries_added: field(&f, "entries-added")
            .and_then(reply::int)
            .unwrap_or(-1),
        max_deleted: field(&f, "max-deleted-entry-id").and_then(reply::bytes),
    })
}

/// A consumer group as XINFO GROUPS describes it.
#[derive(Debug, PartialEq, Eq)]
struct GroupInfo {
    name: Vec<u8>,
    last: Vec<u8>,
    /// None when the server does not know it (nil) or does not report it.
    entries_read: Option<i64>,
    pending: i64,
}

fn parse_groups(v: &Value) -> Option<Vec<GroupInfo>> {
    reply::items(v)?
        .into_iter()
        .map(|g| {
            let f = fields(g);
            Some(GroupInfo {
                name: reply::bytes(field(&f, "name")?)?,
                last: reply::bytes(field(&f, "last-delivered-id")?)?,
                entries_read: field(&f, "entries-read").and_then(reply::int),
                pending: reply::int(field(&f, "pending")?)?,
            })
        })
        .collect()
}

/// (name, pending count) of each consumer of a group.
fn parse_consumers(v: &Value) -> Option<Vec<(Vec<u8>, i64)>> {
    reply::items(v)?
        .into_iter()
        .map(|c| {
            let f = fields(c);
            Some((
                reply::bytes(field(&f, "name")?)?,
                reply::int(field(&f, "pending")?)?,
            ))
        })
        .collect()
}

/// A pending entry: id, consumer, idle ms, delivery count.
type PendingEntry = (Vec<u8>, Vec<u8>, i64, i64);

fn parse_pending(v: &Value) -> Option<Vec<PendingEntry>> {
    reply::items(v)?
        .into_iter()
        .map(|p| {
            let parts = reply::items(p)?;
            Some((
                reply::bytes(parts.first()?)?,
                reply::bytes(parts.get(1)?)?,
                reply::int(parts.get(2)?)?,
                reply::int(parts.get(3)?)?,
            ))
        })
        .collect()
}

/// The exclusive start after `id` (`(id`).
fn after(id: &[u8]) -> Vec<u8> {
    let mut v = b"(".to_vec();
    v.extend_from_slice(id);
    v
}

/// What became of a stream copy.
pub enum Copied {
    Done,
    /// The key is gone from the source (or changed type).
    Gone,
    Failed(String),
}

/// Copies the stream `key` (see the module doc). `del_first` replaces what
/// the target has; the caller sets the TTL afterwards.
pub async fn copy_stream(
    src: &mut Conn,
    dst: &mut Conn,
    key: &[u8],
    chunk: usize,
    del_first: bool,
) -> Result<Copied> {
    let chunk = chunk.max(1);
    // 1. entries
    let mut start = b"-".to_vec();
    let mut deleted = !del_first;
    let mut copied = 0usize;
    loop {
        let mut p = redis::pipe();
        p.cmd("XRANGE")
            .arg(key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(chunk);
        let v = match run(src, p).await? {
            Ok(v) => v,
            Err(e) if e.starts_with("WRONGTYPE") => return Ok(Copied::Gone),
            Err(e) => return Ok(Copied::Failed(format!("reading from the source: {e}"))),
        };
        let Some(entries) = v.first().and_then(parse_entries) else {
            return Ok(Copied::Failed(format!(
                "unexpected reply from the source: {v:?}"
            )));
        };
        let mut w = redis::pipe();
        if !deleted {
            w.cmd("DEL").arg(key);
            deleted = true;
        }
        for (id, f) in &entries {
            let c = w.cmd("XADD").arg(key).arg(id.as_slice());
            for x in f {
                c.arg(x.as_slice());
            }
        }
        if w.cmd_iter().next().is_some() {
            if let Err(e) = run(dst, w).await? {
                return Ok(Copied::Failed(format!("writing to the target: {e}")));
            }
        }
        copied += entries.len();
        match entries.last() {
            Some((id, _)) if entries.len() >= chunk => start = after(id),
            _ => break,
        }
    }
    // 2. metadata, groups, consumers
    let mut p = redis::pipe();
    p.cmd("XINFO").arg("STREAM").arg(key);
    p.cmd("XINFO").arg("GROUPS").arg(key);
    let v = match run(src, p).await? {
        Ok(v) => v,
        Err(e) if e.contains("no such key") || e.starts_with("WRONGTYPE") => {
            return Ok(Copied::Gone)
        }
        Err(e) => return Ok(Copied::Failed(format!("reading from the source: {e}"))),
    };
    let (Some(meta), Some(groups)) = (
        v.first().and_then(parse_meta),
        v.get(1).and_then(parse_groups),
    ) else {
        return Ok(Copied::Failed(format!(
            "unexpected XINFO reply from the source: {v:?}"
        )));
    };
    let mut consumers = Vec::new();
    if !groups.is_empty() {
        let mut p = redis::pipe();
        for g in &groups {
            p.cmd("XINFO")
                .arg("CONSUMERS")
                .arg(key)
                .arg(g.name.as_slice());
        }
        let v = match run(src, p).await? {
            Ok(v) => v,
            Err(e) => return Ok(Copied::Failed(format!("reading from the source: {e}"))),
        };
        for r in &v {
            match parse_consumers(r) {
                Some(c) => consumers.push(c),
                None => {
                    return Ok(Copied::Failed(format!(
                        "unexpected XINFO CONSUMERS reply from the source: {r:?}"
                    )))
                }
            }
        }
    }
    let mut w = redis::pipe();
    if !deleted {
        w.cmd("DEL").arg(key);
    }
    if copied == 0 {
        // An empty stream: create it with one entry trimmed at once.
        let seed: &[u8] = if meta.last == b"0-0" {
            b"0-1"
        } else {
            &meta.last
        };
        w.cmd("XADD")
            .arg(key)
            .arg("MAXLEN")
            .arg(0)
            .arg(seed)
            .arg("f")
            .arg("v");
    }
    let c = w.cmd("XSETID").arg(key).arg(meta.last.as_slice());
    if meta.entries_added >= 0 {
        c.arg("ENTRIESADDED").arg(meta.entries_added);
    }
    if let Some(m) = &meta.max_deleted {
        c.arg("MAXDELETEDID").arg(m.as_slice());
    }
    for (g, cs) in groups.iter().zip(&consumers) {
        w.cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg(g.name.as_slice())
            .arg(g.last.as_slice())
            .arg("ENTRIESREAD")
            .arg(g.entries_read.unwrap_or(-1));
        for (name, _) in cs {
            w.cmd("XGROUP")
                .arg("CREATECONSUMER")
                .arg(key)
                .arg(g.name.as_slice())
                .arg(name.as_slice());
        }
    }
    if let Err(e) = run(dst, w).await? {
        return Ok(Copied::Failed(format!("writing to the target: {e}")));
    }
    // 3. pending entries
    for g in &groups {
        let mut start = b"-".to_vec();
        loop {
            let mut p = redis::pipe();
            p.cmd("XPENDING")
                .arg(key)
                .arg(g.name.as_slice())
                .arg(&start)
                .arg("+")
                .arg(chunk);
            let read_at = now_ms();
            let v = match run(src, p).await? {
                Ok(v) => v,
                Err(e) => return Ok(Copied::Failed(format!("reading from the source: {e}"))),
            };
            let Some(pending) = v.first().and_then(parse_pending) else {
                return Ok(Copied::Failed(format!(
                    "unexpected XPENDING reply from the source: {v:?}"
                )));
            };
            let mut w = redis::pipe();
            for (id, consumer, idle, count) in &pending {
                w.cmd("XCLAIM")
                    .arg(key)
                    .arg(g.name.as_slice())
                    .arg(consumer.as_slice())
                    .arg(0)
                    .arg(id.as_slice())
                    .arg("TIME")
                    .arg(read_at - idle)
                    .arg("RETRYCOUNT")
                    .arg(*count)
                    .arg("FORCE")
                    .arg("JUSTID");
            }
            if !pending.is_empty() {
                if let Err(e) = run(dst, w).await? {
                    return Ok(Copied::Failed(format!("writing to the target: {e}")));
                }
            }
            match pending.last() {
                Some((id, ..)) if pending.len() >= chunk => start = after(id),
                _ => break,
            }
        }
    }
    Ok(Copied::Done)
}

/// Whether the stream `key` is the same on both sides (see the module doc).
/// Returns the first difference found.
pub async fn compare_stream(
    s: &mut Conn,
    t: &mut Conn,
    key: &[u8],
    chunk: usize,
) -> Result<Option<String>> {
    let chunk = chunk.max(1);
    // Entries.
    let mut start = b"-".to_vec();
    loop {
        let mut p = redis::pipe();
        p.cmd("XRANGE")
            .arg(key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(chunk);
        let (a, b) = tokio::join!(run(s, p.clone()), run(t, p));
        let (a, b) = (a?, b?);
        let (Ok(a), Ok(b)) = (a, b) else {
            return Ok(Some("the entries cannot be read".into()));
        };
        let (ea, eb) = (
            a.first().and_then(parse_entries),
            b.first().and_then(parse_entries),
        );
        if ea != eb {
            return Ok(Some(match (ea, eb) {
                (Some(x), Some(y)) => {
                    let i = x.iter().zip(&y).position(|(p, q)| p != q);
                    let at = i.unwrap_or(x.len().min(y.len()));
                    let id = |e: Option<&StreamEntry>| {
                        e.map(|e| String::from_utf8_lossy(&e.0).into_owned())
                            .unwrap_or_else(|| "nothing".into())
                    };
                    format!(
                        "the entries differ (entry {} on the source, {} on the target)",
                        id(x.get(at)),
                        id(y.get(at))
                    )
                }
                _ => "the entries differ".into(),
            }));
        }
        match ea.as_deref().and_then(|e| e.last().map(|l| (l, e.len()))) {
            Some(((id, _), n)) if n >= chunk => start = after(id),
            _ => break,
        }
    }
    // Metadata and groups.
    let mut p = redis::pipe();
    p.cmd("XINFO").arg("STREAM").arg(key);
    p.cmd("XINFO").arg("GROUPS").arg(key);
    let (a, b) = tokio::join!(run(s, p.clone()), run(t, p));
    let (Ok(a), Ok(b)) = (a?, b?) else {
        return Ok(Some("XINFO fails on one side".into()));
    };
    let (ma, mb) = (
        a.first().and_then(parse_meta),
        b.first().and_then(parse_meta),
    );
    if ma != mb {
        return Ok(Some(format!(
            "the stream metadata differs ({ma:?} on the source, {mb:?} on the target)"
        )));
    }
    let (ga, gb) = (
        a.get(1).and_then(parse_groups),
        b.get(1).and_then(parse_groups),
    );
    let Some(groups) = ga else {
        return Ok(Some("XINFO GROUPS cannot be read on the source".into()));
    };
    let Some(gb) = gb else {
        return Ok(Some("XINFO GROUPS cannot be read on the target".into()));
    };
    // Pending counts may differ by entries deleted from the stream (not
    // copied): compared below, entry by entry.
    let strip = |g: &[GroupInfo]| -> Vec<(Vec<u8>, Vec<u8>, Option<i64>)> {
        g.iter()
            .map(|g| (g.name.clone(), g.last.clone(), g.entries_read))
            .collect()
    };
    if strip(&groups) != strip(&gb) {
        return Ok(Some(format!(
            "the consumer groups differ ({} on the source, {} on the target)",
            show_groups(&groups),
            show_groups(&gb)
        )));
    }
    for g in &groups {
        let name = String::from_utf8_lossy(&g.name).into_owned();
        let mut p = redis::pipe();
        p.cmd("XINFO")
            .arg("CONSUMERS")
            .arg(key)
            .arg(g.name.as_slice());
        let (a, b) = tokio::join!(run(s, p.clone()), run(t, p));
        let names = |r: std::result::Result<Vec<Value>, String>| {
            r.ok()
                .and_then(|v| v.first().and_then(parse_consumers))
                .map(|c| c.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
        };
        if names(a?) != names(b?) {
            return Ok(Some(format!("the consumers of group {name} differ")));
        }
        let mut start = b"-".to_vec();
        loop {
            let mut p = redis::pipe();
            p.cmd("XPENDING")
                .arg(key)
                .arg(g.name.as_slice())
                .arg(&start)
                .arg("+")
                .arg(chunk);
            let (a, b) = tokio::join!(run(s, p.clone()), run(t, p));
            let (Ok(a), Ok(b)) = (a?, b?) else {
                return Ok(Some(format!("XPENDING fails on one side for group {name}")));
            };
            let (Some(pa), Some(pb)) = (
                a.first().and_then(parse_pending),
                b.first().and_then(parse_pending),
            ) else {
                return Ok(Some(format!("XPENDING cannot be read for group {name}")));
            };
            // Leave out the source's entries that no longer exist.
            let mut q = redis::pipe();
            for (id, ..) in &pa {
                q.cmd("XRANGE")
                    .arg(key)
                    .arg(id.as_slice())
                    .arg(id.as_slice());
            }
            let exists: Vec<bool> = if pa.is_empty() {
                Vec::new()
            } else {
                match run(s, q).await? {
                    Ok(v) => v
                        .iter()
                        .map(|r| reply::items(r).is_some_and(|i| !i.is_empty()))
                        .collect(),
                    Err(_) => vec![true; pa.len()],
                }
            };
            let key_of = |p: &PendingEntry| (p.0.clone(), p.1.clone(), p.3);
            let want: Vec<_> = pa
                .iter()
                .zip(&exists)
                .filter(|(_, e)| **e)
                .map(|(p, _)| key_of(p))
                .collect();
            // The target's window may reach further than the source's.
            let last = pa.last().map(|p| p.0.clone());
            // A pending entry whose stream entry is gone may or may not be
            // on the target: a DUMP payload carries it, typed commands
            // cannot.
            let gone: Vec<&[u8]> = pa
                .iter()
                .zip(&exists)
                .filter(|(_, e)| !**e)
                .map(|(p, _)| p.0.as_slice())
                .collect();
            let got: Vec<_> = pb
                .iter()
                .filter(|p| last.as_ref().is_none_or(|l| id_le(&p.0, l)))
                .filter(|p| !gone.contains(&p.0.as_slice()))
                .map(key_of)
                .collect();
            if want != got {
                return Ok(Some(format!("the pending entries of group {name} differ")));
            }
            match last {
                Some(id) if pa.len() >= chunk => start = after(&id),
                _ => {
                    let beyond = pb
                        .iter()
                        .any(|p| last.as_ref().is_none_or(|l| !id_le(&p.0, l)));
                    if pa.len() < chunk && beyond {
                        return Ok(Some(format!(
                            "the target has more pending entries in group {name}"
                        )));
                    }
                    break;
                }
            }
        }
    }
    Ok(None)
}

/// `a <= b` for two ids as the servers print them.
fn id_le(a: &[u8], b: &[u8]) -> bool {
    let parse = |x: &[u8]| -> Option<(u64, u64)> {
        let s = std::str::from_utf8(x).ok()?;
        let (ms, seq) = s.split_once('-')?;
        Some((ms.parse().ok()?, seq.parse().ok()?))
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x <= y,
        _ => a <= b,
    }
}

fn show_groups(g: &[GroupInfo]) -> String {
    let v: Vec<String> = g
        .iter()
        .map(|g| {
            format!(
                "{} at {}",
                String::from_utf8_lossy(&g.name),
                String::from_utf8_lossy(&g.last)
            )
        })
        .collect();
    format!("[{}]", v.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_xinfo_and_xpending() {
        let stream = Value::Array(vec![
            bulk("length"),
            Value::Int(2),
            bulk("last-generated-id"),
            bulk("5-1"),
            bulk("max-deleted-entry-id"),
            bulk("3-0"),
            bulk("entries-added"),
            Value::Int(7),
        ]);
        assert_eq!(
            parse_meta(&stream),
            Some(Meta {
                length: 2,
                last: b"5-1".to_vec(),
                entries_added: 7,
                max_deleted: Some(b"3-0".to_vec()),
            })
        );
        let groups = Value::Array(vec![Value::Array(vec![
            bulk("name"),
            bulk("g"),
            bulk("pending"),
            Value::Int(1),
            bulk("last-delivered-id"),
            bulk("4-0"),
            bulk("entries-read"),
            Value::Nil,
        ])]);
        let g = parse_groups(&groups).unwrap();
        assert_eq!(g[0].entries_read, None);
        assert_eq!(g[0].last, b"4-0");
        let pending = Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            bulk("alice"),
            Value::Int(15),
            Value::Int(3),
        ])]);
        assert_eq!(
            parse_pending(&pending),
            Some(vec![(b"1-0".to_vec(), b"alice".to_vec(), 15, 3)])
        );
        assert!(id_le(b"9-0", b"10-0"));
        assert!(!id_le(b"10-1", b"10-0"));
    }
}
