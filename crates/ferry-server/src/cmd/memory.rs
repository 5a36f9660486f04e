//! MEMORY USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE.
//!
//! ferry keeps data on disk, so "memory" means two different things: the
//! process's resident memory (what STATS and DOCTOR describe) and, for
//! MEMORY USAGE, an estimate of what a key holds (its name, its value or
//! elements, and a fixed overhead per key and per element), which is what
//! tools that rank big keys need.

use super::args::parse_i64;
use super::connection::help_reply;
use super::{cmd, container, err, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::KeyType;

const RO: &[&str] = &["readonly"];

pub const COMMANDS: &[CommandSpec] = &[container(
    "memory",
    -2,
    &[],
    &["@slow"],
    &[
        cmd("usage", -3, RO, (2, 2, 1), &["@read", "@slow"], usage),
        cmd("stats", 2, &[], (0, 0, 0), &["@slow"], stats),
        cmd("doctor", 2, &[], (0, 0, 0), &["@slow"], doctor),
        cmd("malloc-stats", 2, &[], (0, 0, 0), &["@slow"], malloc_stats),
        cmd("purge", 2, &[], (0, 0, 0), &["@slow"], purge),
        cmd(
            "help",
            2,
            &["loading", "stale"],
            (0, 0, 0),
            &["@slow"],
            help,
        ),
    ],
)];

/// Bytes charged per key (the key's row and its bookkeeping) and per
/// element of a collection, beyond the bytes of names and values.
const KEY_OVERHEAD: i64 = 48;
const ELEMENT_OVERHEAD: i64 = 16;

/// MEMORY USAGE key [SAMPLES n]: nil for a missing key; SAMPLES bounds how
/// many elements are read to estimate the average size (0: all).
fn usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut samples: i64 = 5;
    let mut j = 3;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"samples") && j + 1 < argv.len() {
            samples = parse_i64(&argv[j + 1])?;
            if samples < 0 {
                return Err(err("ERR syntax error"));
            }
            if samples == 0 {
                samples = i64::MAX;
            }
            j += 2;
        } else {
            return Err(err("ERR syntax error"));
        }
    }
    let key = &argv[2];
    let Some(info) = ctx.store.lookup(ctx.client.db, key)? else {
        return Ok(Reply::Null);
    };
    let base = KEY_OVERHEAD + key.len() as i64;
    let bytes = match info.ktype {
        KeyType::String => base + info.len,
        _ => {
            let n = info.len;
            let sampled = ctx.store.sample_element_bytes(&info, samples)?;
            let avg = if sampled.0 > 0 {
                sampled.1 / sampled.0
            } else {
                0
            };
            base + n * (avg + ELEMENT_OVERHEAD)
        }
    };
    Ok(Reply::Integer(bytes))
}

fn stats(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let rss = super::server::resident_bytes() as i64;
    let keys: i64 = (0..ferry_store::DATABASES)
        .map(|db| ctx.store.dbsize(db))
        .sum();
    let mut m: Vec<(Reply, Reply)> = Vec::new();
    let mut put =
        |k: &str, v: Reply| m.push((Reply::Bulk(Bytes::copy_from_slice(k.as_bytes())), v));
    put("peak.allocated", Reply::Integer(rss));
    put("total.allocated", Reply::Integer(rss));
    put("startup.allocated", Reply::Integer(0));
    put("replication.backlog", Reply::Integer(0));
    put("clients.slaves", Reply::Integer(0));
    put("clients.normal", Reply::Integer(0));
    put("cluster.links", Reply::Integer(0));
    put("aof.buffer", Reply::Integer(0));
    put("lua.caches", Reply::Integer(0));
    put("functions.caches", Reply::Integer(0));
    for db in 0..ferry_store::DATABASES {
        let n = ctx.store.dbsize(db);
        if n > 0 {
            put(
                &format!("db.{db}"),
                Reply::Map(vec![
                    (Reply::bulk("overhead.hashtable.main"), Reply::Integer(0)),
                    (Reply::bulk("overhead.hashtable.expires"), Reply::Integer(0)),
                ]),
            );
        }
    }
    put("overhead.total", Reply::Integer(rss));
    put("keys.count", Reply::Integer(keys));
    put(
        "keys.bytes-per-key",
        Reply::Integer(if keys > 0 { rss / keys } else { 0 }),
    );
    put("dataset.bytes", Reply::Integer(0));
    put("dataset.percentage", Reply::Double(0.0));
    put("peak.percentage", Reply::Double(100.0));
    put("allocator.allocated", Reply::Integer(rss));
    put("allocator.active", Reply::Integer(rss));
    put("allocator.resident", Reply::Integer(rss));
    put("allocator-fragmentation.ratio", Reply::Double(1.0));
    put("allocator-fragmentation.bytes", Reply::Integer(0));
    put("allocator-rss.ratio", Reply::Double(1.0));
    put("allocator-rss.bytes", Reply::Integer(0));
    put("rss-overhead.ratio", Reply::Double(1.0));
    put("rss-overhead.bytes", Reply::Integer(0));
    put("fragmentation", Reply::Double(1.0));
    put("fragmentation.bytes", Reply::Integer(0));
    Ok(Reply::Map(m))
}

fn doctor(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let rss = super::server::resident_bytes();
    let text = format!(
        "ferry keeps its data in the SQLite file, not in memory: the process uses {} MiB \
         (SQLite's page cache is set by --cache-mb). Nothing here needs attention.\n",
        rss >> 20
    );
    Ok(Reply::Verbatim("txt".into(), Bytes::from(text)))
}

fn malloc_stats(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(
        "txt".into(),
        Bytes::from_static(b"Stats not supported for the current allocator"),
    ))
}

fn purge(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::OK)
}

fn help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    A short report on the process's memory.",
            "MALLOC-STATS",
            "    The allocator's own statistics, where it has them.",
            "PURGE",
            "    Ask the allocator to return free memory (nothing to do in ferry).",
            "STATS",
            "    Memory figures of the process, in Redis's field names.",
            "USAGE <key> [SAMPLES <count>]",
            "    An estimate of the bytes a key holds; SAMPLES elements are read to average",
            "    element sizes (default 5, 0 for all).",
        ],
    ))
}
