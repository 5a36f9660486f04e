//! Verify: compare keys on the source and the target.
//!
//! Type, value (order-insensitive for sets and hashes, exact score text for
//! sorted sets, exact order for lists; streams with their groups, see
//! `streams.rs`) and TTL within a tolerance. Small
//! keys are read whole on both sides; big ones are compared window by
//! window (a source window against the same fields/members/range on the
//! target, plus equal lengths), so memory stays bounded. `--full` also
//! scans the target for keys the source does not have.

use crate::bulk::Scope;
use crate::endpoint::{Conn, Endpoint};
use crate::registry::Registry;
use crate::{reply, Result};
use rand::Rng;
use redis::{Pipeline, Value};

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Fraction of keys to check (1.0 = all).
    pub sample: f64,
    /// Also look for keys only the target has.
    pub full: bool,
    pub show_diffs: usize,
    pub ttl_tolerance_ms: i64,
    pub chunk: usize,
    pub scan_count: usize,
}

impl VerifyOptions {
    /// A key this close to expiring may vanish between the reads of the
    /// two sides: only its existence is compared.
    fn expiring(&self, pttl: i64) -> bool {
        (0..=self.ttl_tolerance_ms.max(2000)).contains(&pttl)
    }
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub checked: u64,
    pub mismatches: u64,
    pub examples: Vec<String>,
}

impl VerifyReport {
    fn diff(&mut self, limit: usize, line: String) {
        self.mismatches += 1;
        if self.examples.len() < limit {
            self.examples.push(line);
        }
    }
}

/// A key for messages: printable as is, else escaped like redis-cli.
pub fn show_key(key: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in key {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// Compares the run's keys on both sides; stores the result in the registry.
pub async fn verify(
    reg: &Registry,
    run_id: &str,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &VerifyOptions,
) -> Result<VerifyReport> {
    let run = reg.run(run_id)?;
    let scope = Scope::for_run(&run, src, dst).await?;
    let mut report = VerifyReport::default();
    for (sdb, tdb) in &scope.dbs {
        let mut s = src.data(*sdb).await?;
        let mut t = dst.data(*tdb).await?;
        for node in &src.nodes {
            let mut nc = Conn::Single(Box::new(node.conn(*sdb).await?));
            let mut cursor = "0".to_string();
            loop {
                let (next, keys) =
                    crate::bulk::scan_keys(&mut nc, &cursor, opts.scan_count, &scope).await?;
                let keys: Vec<Vec<u8>> = if opts.sample >= 1.0 {
                    keys
                } else {
                    let mut r = rand::thread_rng();
                    keys.into_iter()
                        .filter(|_| r.gen::<f64>() < opts.sample)
                        .collect()
                };
                for batch in keys.chunks(200) {
                    compare_batch(&mut s, &mut t, batch, opts, &mut report).await?;
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        if opts.full {
            // Keys only the target has.
            for node in &dst.nodes {
                let mut nc = Conn::Single(Box::new(node.conn(*tdb).await?));
                let mut cursor = "0".to_string();
                loop {
                    let (next, keys) =
                        crate::bulk::scan_keys(&mut nc, &cursor, opts.scan_count, &scope).await?;
                    let pipes: Vec<Pipeline> = crate::endpoint::each_key("EXISTS", &keys);
                    let missing: Vec<Vec<u8>> = keys
                        .iter()
                        .zip(s.per_key(&pipes).await?)
                        .filter(|(_, r)| first_int(r) == Some(0))
                        .map(|(k, _)| k.clone())
                        .collect();
                    // SCAN may list a key whose TTL just passed; a key about
                    // to expire on the target is not a difference either.
                    let ttls = t
                        .per_key(&crate::endpoint::pipes_per_key(&missing, |p, k| {
                            p.cmd("PTTL").arg(k);
                        }))
                        .await?;
                    for (k, r) in missing.iter().zip(ttls) {
                        let ttl = first_int(&r).unwrap_or(-1);
                        if ttl == -2 || opts.expiring(ttl) {
                            continue;
                        }
                        report.diff(
                            opts.show_diffs,
                            format!("{}: only on the target (db {tdb})", show_key(k)),
                        );
                    }
                    if next == "0" {
                        break;
                    }
                    cursor = next;
                }
            }
        }
    }
    let result = format!(
        "{} keys checked, {} mismatches ({})",
        report.checked,
        report.mismatches,
        if opts.full {
            "full".to_string()
        } else {
            format!("sample {:.3}%", opts.sample * 100.0)
        }
    );
    reg.set_verify(run_id, &result)?;
    for line in &report.examples {
        reg.error(run_id, "verify", None, line)?;
    }
    Ok(report)
}

fn first_int(r: &crate::endpoint::KeyReplies) -> Option<i64> {
    r.as_ref().ok()?.first().and_then(reply::int)
}

/// TYPE, PTTL and length of each key.
async fn probe(c: &mut Conn, keys: &[Vec<u8>]) -> Result<Vec<(String, i64, i64)>> {
    let replies = c
        .per_key(&crate::endpoint::pipes_per_key(keys, |p, k| {
            p.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
        }))
        .await?;
    let types: Vec<(String, i64)> = replies
        .iter()
        .map(|r| {
            let v = r.as_ref().ok();
            let ty = v
                .and_then(|v| v.first())
                .and_then(reply::text)
                .unwrap_or_else(|| "?".into());
            let ttl = v.and_then(|v| v.get(1)).and_then(reply::int).unwrap_or(-2);
            (ty, ttl)
        })
        .collect();
    let names: Vec<&str> = types.iter().map(|(t, _)| t.as_str()).collect();
    let lens = crate::endpoint::lengths(c, keys, &names).await?;
    Ok(types
        .into_iter()
        .zip(lens)
        .map(|((ty, ttl), l)| (ty, ttl, l.unwrap_or(-1)))
        .collect())
}

/// Compares `keys` on both sides (value, type, expiry within the
/// tolerance), as `verify` does for each batch it scans.
pub async fn compare_keys(
    s: &mut Conn,
    t: &mut Conn,
    keys: &[Vec<u8>],
    opts: &VerifyOptions,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    for batch in keys.chunks(200) {
        compare_batch(s, t, batch, opts, &mut report).await?;
    }
    Ok(report)
}

async fn compare_batch(
    s: &mut Conn,
    t: &mut Conn,
    keys: &[Vec<u8>],
    opts: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<()> {
    let (a, b) = tokio::join!(probe(s, keys), probe(t, keys));
    let (a, b) = (a?, b?);
    let mut whole = Vec::new();
    let mut big = Vec::new();
    let mut streams = Vec::new();
    for ((k, (ta, ttl_a, la)), (tb, ttl_b, lb)) in keys.iter().zip(a).zip(b) {
        if ta == "none" {
            continue; // gone from the source since the scan
        }
        report.checked += 1;
        if tb == "none" {
            if !opts.expiring(ttl_a) {
                report.diff(
                    opts.show_diffs,
                    format!(
                        "{}: missing on the target (a {ta} on the source)",
                        show_key(k)
                    ),
                );
            }
            continue;
        }
        // A key about to expire may vanish between two reads of it; both
        // sides expire it within moments, so its contents are not compared.
        if opts.expiring(ttl_a) || opts.expiring(ttl_b) {
            continue;
        }
        if ta != tb {
            report.diff(
                opts.show_diffs,
                format!(
                    "{}: type {ta} on the source, {tb} on the target",
                    show_key(k)
                ),
            );
            continue;
        }
        let ttl_ok = match (ttl_a, ttl_b) {
            (-1, -1) => true,
            (x, y) if x >= 0 && y >= 0 => (x - y).abs() <= opts.ttl_tolerance_ms,
            _ => false,
        };
        if !ttl_ok {
            report.diff(
                opts.show_diffs,
                format!(
                    "{}: TTL {} ms on the source, {} ms on the target",
                    show_key(k),
                    ttl_a,
                    ttl_b
                ),
            );
            continue;
        }
        if la != lb {
            report.diff(
                opts.show_diffs,
                format!(
                    "{}: {ta} of length {la} on the source, {lb} on the target",
                    show_key(k)
                ),
            );
            continue;
        }
        if ta == "stream" {
            streams.push(k.clone());
        } else if ta == "string" || la <= opts.chunk as i64 {
            whole.push((k.clone(), ta, ttl_a));
        } else {
            big.push((k.clone(), ta));
        }
    }
    // Small keys: read whole on both sides and compare normalized.
    let read = |items: &[(Vec<u8>, String, i64)]| {
        items
            .iter()
            .map(|(k, ty, _)| {
                let mut p = redis::pipe();
                match ty.as_str() {
                    "string" => p.cmd("GET").arg(k),
                    "hash" => p.cmd("HGETALL").arg(k),
                    "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                    "set" => p.cmd("SMEMBERS").arg(k),
                    "zset" => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                    _ => p.cmd("DUMP").arg(k),
                };
                p
            })
            .collect::<Vec<_>>()
    };
    let pipes = read(&whole);
    let (ra, rb) = tokio::join!(s.per_key(&pipes), t.per_key(&pipes));
    let (ra, rb) = (ra?, rb?);
    for (((k, ty, ttl), a), b) in whole.iter().zip(ra).zip(rb) {
        let (Ok(a), Ok(b)) = (a, b) else { continue };
        let (Some(a), Some(b)) = (a.first(), b.first()) else {
            continue;
        };
        if reply::is_nil(a) || (reply::is_nil(b) && opts.expiring(*ttl)) {
            continue; // gone since the probe, or expired on the target meanwhile
        }
        let (na, nb) = (normalize(ty, a), normalize(ty, b));
        if na != nb {
            let at = first_difference(na, nb);
            report.diff(
                opts.show_diffs,
                format!("{}: the {ty} values differ{at}", show_key(k)),
            );
        }
    }
    for k in streams {
        if let Some(why) = crate::streams::compare_stream(s, t, &k, opts.chunk).await? {
            report.diff(opts.show_diffs, format!("{}: {why}", show_key(&k)));
        }
    }
    for (k, ty) in big {
        if !compare_big(s, t, &k, &ty, opts.chunk).await? {
            report.diff(
                opts.show_diffs,
                format!("{}: the {ty} values differ", show_key(&k)),
            );
        }
    }
    Ok(())
}

/// Where two normalized values first differ, for the mismatch line.
fn first_difference(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> String {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let i = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |v: Option<&Vec<u8>>| v.map(|x| show_key(x)).unwrap_or_else(|| "nothing".into());
    format!(
        " (element {i}: {} on the source, {} on the target)",
        show(a.get(i)),
        show(b.get(i))
    )
}

/// A canonical form of a value: sorted for sets and hashes.
fn normalize(ty: &str, v: &Value) -> Option<Vec<Vec<u8>>> {
    match ty {
        "string" => reply::bytes(v).map(|b| vec![b]),
        "list" => reply::byte_list(v),
        // -0 and 0 are the same score (a ferry store keeps -0 as 0).
        "zset" => Some(
            reply::byte_list(v)?
                .into_iter()
                .map(|x| if x == b"-0" { b"0".to_vec() } else { x })
                .collect(),
        ),
        "set" => {
            let mut l = reply::byte_list(v)?;
            l.sort();
            Some(l)
        }
        "hash" => {
            let l = reply::byte_list(v)?;
            let mut pairs: Vec<Vec<u8>> = l
                .chunks(2)
                .map(|p| {
                    let mut x = p[0].clone();
                    x.push(0);
                    x.extend_from_slice(p.get(1).map(|v| v.as_slice()).unwrap_or_default());
                    x
                })
                .collect();
            pairs.sort();
            Some(pairs)
        }
        _ => reply::bytes(v).map(|b| vec![b]),
    }
}

/// Compares a big key window by window; lengths are already equal.
async fn compare_big(
    s: &mut Conn,
    t: &mut Conn,
    key: &[u8],
    ty: &str,
    chunk: usize,
) -> Result<bool> {
    let one = |p: Pipeline| vec![p];
    let mut cursor = "0".to_string();
    let mut index = 0i64;
    loop {
        let mut p = redis::pipe();
        match ty {
            "list" => p
                .cmd("LRANGE")
                .arg(key)
                .arg(index)
                .arg(index + chunk as i64 - 1),
            "hash" => p.cmd("HSCAN").arg(key).arg(&cursor).arg("COUNT").arg(chunk),
            "set" => p.cmd("SSCAN").arg(key).arg(&cursor).arg("COUNT").arg(chunk),
            _ => p.cmd("ZSCAN").arg(key).arg(&cursor).arg("COUNT").arg(chunk),
        };
        let a = s.per_key(&one(p.clone())).await?.pop();
        let Some(Ok(a)) = a else { return Ok(false) };
        let Some(a) = a.first() else { return Ok(false) };
        if ty == "list" {
            let b = t.per_key(&one(p)).await?.pop();
            let Some(Ok(b)) = b else { return Ok(false) };
            let (la, lb) = (reply::byte_list(a), b.first().and_then(reply::byte_list));
            if la != lb {
                return Ok(false);
            }
            let n = la.map(|l| l.len()).unwrap_or(0);
            if n < chunk {
                return Ok(true);
            }
            index += n as i64;
            continue;
        }
        let Some((next, items)) = reply::scan_page(a) else {
            return Ok(false);
        };
        let mut q = redis::pipe();
        match ty {
            "hash" => {
                let c = q.cmd("HMGET").arg(key);
                for pair in items.chunks(2) {
                    c.arg(pair[0].as_slice());
                }
            }
            "set" => {
                let c = q.cmd("SMISMEMBER").arg(key);
                for m in &items {
                    c.arg(m.as_slice());
                }
            }
            _ => {
                let c = q.cmd("ZMSCORE").arg(key);
                for pair in items.chunks(2) {
                    c.arg(pair[0].as_slice());
                }
            }
        }
        if !items.is_empty() {
            let b = t.per_key(&one(q)).await?.pop();
            let Some(Ok(b)) = b else { return Ok(false) };
            let Some(b) = b.first().and_then(reply::items) else {
                return Ok(false);
            };
            let ok = match ty {
                "hash" => items.chunks(2).zip(&b).all(|(pair, v)| {
                    reply::bytes(v).as_deref() == pair.get(1).map(|x| x.as_slice())
                }),
                "set" => b.iter().all(|v| reply::int(v) == Some(1)),
                _ => items.chunks(2).zip(&b).all(|(pair, v)| {
                    let want = pair.get(1).map(|x| String::from_utf8_lossy(x).into_owned());
                    let got = reply::text(v);
                    want.is_some()
                        && (got == want || got.zip(want).is_some_and(|(g, w)| same_score(&g, &w)))
                }),
            };
            if !ok {
                return Ok(false);
            }
        }
        if next == "0" {
            return Ok(true);
        }
        cursor = next;
    }
}

/// Scores compare as numbers when one side formats them differently (a
/// RESP3 double against a RESP2 string).
fn same_score(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => false,
    }
}
