//! Differential tests for stream commands: every reply from ferry must be
//! byte-identical to redis-server 7.0's, in RESP2 and RESP3, error texts
//! included. Times (idle, delivery and seen times) differ between two
//! servers by nature: [`same_timed`] compares everything else exactly and
//! checks the times separately against a tolerance.
//!
//! Blocking reads (XREAD/XREADGROUP BLOCK) with several clients are at the
//! end of the file.

#[macro_use]
mod common;

use common::{escape, parse_one, ConnPair, RawConn, Resp};

/// Field names whose values are times.
const TIME_FIELDS: &[&str] = &["idle", "seen-time"];
/// Field names of XINFO replies (to recognise RESP2 flat maps).
const INFO_FIELDS: &[&str] = &[
    "name",
    "length",
    "pending",
    "consumers",
    "idle",
    "seen-time",
    "entries",
    "groups",
];

fn is_info_field(r: &Resp) -> bool {
    matches!(r, Resp::Bulk(b) if INFO_FIELDS.contains(&String::from_utf8_lossy(b).as_ref()))
}

/// `r` with its time values replaced by `<t>`, and the times found.
fn mask(r: &Resp, times: &mut Vec<i64>) -> Resp {
    let field = |k: &Resp, v: &Resp, times: &mut Vec<i64>| -> Resp {
        let name = k.as_str().unwrap_or_default();
        if TIME_FIELDS.contains(&name.as_str()) {
            if let Some(t) = v.as_int() {
                times.push(t);
            }
            return Resp::Simple("<t>".into());
        }
        if name == "pending" {
            if let Some(items) = v.elements() {
                // Group PEL: [id, consumer, delivery-time, count]; a
                // consumer's: [id, delivery-time, count].
                return Resp::Array(
                    items
                        .iter()
                        .map(|it| match it.elements() {
                            Some(e) if e.len() == 4 || e.len() == 3 => {
                                let at = e.len() - 2;
                                let mut e = e.to_vec();
                                if let Some(t) = e[at].as_int() {
                                    times.push(t);
                                }
                                e[at] = Resp::Simple("<t>".into());
                                Resp::Array(e)
                            }
                            _ => mask(it, times),
                        })
                        .collect(),
                );
            }
        }
        mask(v, times)
    };
    match r {
        Resp::Map(pairs) => Resp::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), field(k, v, times)))
                .collect(),
        ),
        Resp::Array(v) if v.len() % 2 == 0 && !v.is_empty() && is_info_field(&v[0]) => {
            let mut out = Vec::with_capacity(v.len());
            for kv in v.chunks(2) {
                out.push(kv[0].clone());
                out.push(field(&kv[0], &kv[1], times));
            }
            Resp::Array(out)
        }
        Resp::Array(v) => Resp::Array(v.iter().map(|x| mask(x, times)).collect()),
        other => other.clone(),
    }
}

/// Compares two replies with their times masked; the times must be pairwise
/// within `tol_ms`. Returns the masked reply.
#[track_caller]
fn same_timed<A: AsRef<[u8]>>(p: &mut ConnPair, args: &[A], tol_ms: i64) -> Resp {
    let (a, b) = p.both(args);
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let (ma, mb) = (mask(&parse_one(&a), &mut ta), mask(&parse_one(&b), &mut tb));
    let close = ta.len() == tb.len() && ta.iter().zip(&tb).all(|(x, y)| (x - y).abs() <= tol_ms);
    if ma != mb || !close {
        let cmd: Vec<String> = args
            .iter()
            .map(|x| String::from_utf8_lossy(x.as_ref()).into_owned())
            .collect();
        p.fail(format!(
            "replies differ (times masked, tolerance {tol_ms} ms) for `{}`\n  redis:   {}\n  subject: {}\n  times: {ta:?} vs {tb:?}",
            cmd.join(" "),
            escape(&a),
            escape(&b)
        ));
    }
    ma
}

/// XPENDING's extended form: `[id, consumer, idle, count]` per entry, the
/// idle times compared within `tol_ms`.
#[track_caller]
fn same_pending<A: AsRef<[u8]>>(p: &mut ConnPair, args: &[A], tol_ms: i64) {
    let (a, b) = p.both(args);
    let split = |raw: &[u8]| -> (Resp, Vec<i64>) {
        let r = parse_one(raw);
        let mut idle = Vec::new();
        let masked = match r.elements() {
            Some(items) => Resp::Array(
                items
                    .iter()
                    .map(|it| match it.elements() {
                        Some(e) if e.len() == 4 => {
                            let mut e = e.to_vec();
                            idle.push(e[2].as_int().unwrap_or(-1));
                            e[2] = Resp::Simple("<idle>".into());
                            Resp::Array(e)
                        }
                        _ => it.clone(),
                    })
                    .collect(),
            ),
            None => r,
        };
        (masked, idle)
    };
    let ((ma, ia), (mb, ib)) = (split(&a), split(&b));
    let close = ia.len() == ib.len() && ia.iter().zip(&ib).all(|(x, y)| (x - y).abs() <= tol_ms);
    if ma != mb || !close {
        p.fail(format!(
            "XPENDING replies differ\n  redis:   {}\n  subject: {}",
            escape(&a),
            escape(&b)
        ));
    }
}

/// Adds `n` entries with ids `base+1-0 ...` and a small field each.
fn fill(p: &mut ConnPair, key: &str, base: u64, n: u64) {
    for i in 1..=n {
        let id = format!("{}-0", base + i);
        let v = i.to_string();
        p.same(&["XADD", key, &id, "f", &v]);
    }
}

diff_test!(xadd_ids_and_errors, |p| {
    p.same(&["XADD", "s", "1-1", "a", "1"]);
    p.same(&["XADD", "s", "1-1", "a", "1"]);
    p.same(&["XADD", "s", "1-0", "a", "1"]);
    p.same(&["XADD", "s", "1-2", "a", "1", "b", "2", "c", ""]);
    p.same(&["XADD", "s", "1-*", "x", "y"]);
    p.same(&["XADD", "s", "1-*", "x", "y"]);
    p.same(&["XADD", "s", "0-*", "x", "y"]);
    p.same(&["XADD", "s", "5-*", "x", "y"]);
    p.same(&["XADD", "s", "7", "x", "y"]);
    p.same(&["XADD", "s", "7", "x", "y"]);
    p.same(&["XADD", "s", "0-0", "x", "y"]);
    p.same(&["XADD", "s", "0", "x", "y"]);
    p.same(&["XADD", "new", "0-*", "x", "y"]);
    p.same(&["XADD", "new2", "0-1", "x", "y"]);
    // Forms strtoull accepts, and ones it refuses.
    p.same(&["XADD", "s", "08-+3", "x", "y"]);
    p.same(&["XADD", "s", " 9", "x", "y"]);
    p.same(&["XADD", "s", "10--01", "x", "y"]);
    p.same(&["XADD", "s", "11--1", "x", "y"]);
    p.same(&["XADD", "s", "12-1-1", "x", "y"]);
    p.same(&["XADD", "s", "-5", "x", "y"]);
    p.same(&["XADD", "s", "abc", "x", "y"]);
    p.same(&["XADD", "s", "13-", "x", "y"]);
    p.same(&["XADD", "s", "-", "x", "y"]);
    p.same(&["XADD", "s", "+", "x", "y"]);
    p.same(&["XADD", "s", "18446744073709551616-0", "x", "y"]);
    let long = "1".repeat(128);
    p.same(&["XADD", "s", &long, "x", "y"]);
    p.same(&[&b"XADD"[..], b"s", b"14\x00junk", b"x", b"y"]);
    p.same(&["XRANGE", "s", "-", "+"]);
    // The largest ids.
    p.same(&["XADD", "big", "18446744073709551615-*", "a", "1"]);
    p.same(&["XADD", "big", "18446744073709551615-*", "a", "1"]);
    p.same(&["XADD", "big", "*", "a", "1"]);
    p.same(&[
        "XADD",
        "max",
        "18446744073709551615-18446744073709551615",
        "a",
        "1",
    ]);
    p.same(&["XADD", "max", "*", "a", "1"]);
    p.same(&["XADD", "max", "18446744073709551615-*", "a", "1"]);
    p.same(&["XADD", "seqmax", "5-18446744073709551615", "a", "1"]);
    p.same(&["XADD", "seqmax", "5-*", "a", "1"]);
    p.same_shape(&["XADD", "seqmax", "*", "a", "1"]);
    // `*` after an id in the future continues from it.
    p.same(&["XADD", "fut", "99999999999999-5", "a", "1"]);
    p.same(&["XADD", "fut", "*", "a", "1"]);
    // Arity.
    p.same(&["XADD", "s"]);
    p.same(&["XADD", "s", "*"]);
    p.same(&["XADD", "s", "*", "a"]);
    p.same(&["XADD", "s", "*", "a", "1", "b"]);
    p.same(&["XADD", "s", "MAXLEN", "5", "*", "a"]);
    p.same(&["XADD", "s", "NOMKSTREAM", "MAXLEN", "5"]);
    p.same(&["XADD", "s", "MAXLEN"]);
    // NOMKSTREAM
    p.same(&["XADD", "nomk", "NOMKSTREAM", "*", "a", "1"]);
    p.same(&["EXISTS", "nomk"]);
    p.same(&["XADD", "s", "nomkstream", "20-1", "a", "1"]);
    // Option errors, in Redis's order.
    p.same(&["XADD", "s", "MAXLEN", "-1", "*", "a", "1"]);
    p.same(&["XADD", "s", "MAXLEN", "x", "*", "a", "1"]);
    p.same(&["XADD", "s", "MAXLEN", "~", "*", "a", "1"]);
    p.same(&["XADD", "s", "MINID", "x", "*", "a", "1"]);
    p.same(&["XADD", "s", "MINID", "+", "*", "a", "1"]);
    p.same(&["XADD", "s", "MINID", "1", "MAXLEN", "1", "*", "a", "1"]);
    p.same(&["XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "1"]);
    p.same(&["XADD", "s", "LIMIT", "5", "*", "a", "1"]);
    p.same(&["XADD", "s", "LIMIT", "0", "*", "a", "1"]);
    p.same(&[
        "XADD", "s", "MAXLEN", "=", "5", "LIMIT", "10", "*", "a", "1",
    ]);
    p.same(&[
        "XADD", "s", "MAXLEN", "~", "5", "LIMIT", "-1", "*", "a", "1",
    ]);
    p.same(&["XADD", "s", "MAXLEN", "~", "5", "LIMIT", "x", "*", "a", "1"]);
    p.same(&["XADD", "s", "FOO", "a", "1"]);
    // Types.
    p.ok(&["SET", "str", "x"]);
    p.same(&["XADD", "str", "*", "a", "1"]);
    p.same(&["XADD", "str", "NOMKSTREAM", "*", "a", "1"]);
    p.same(&["XLEN", "str"]);
    p.same(&["GET", "s"]);
    p.same(&["LPUSH", "s", "x"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XLEN", "nokey"]);
    p.same(&["XLEN"]);
    p.same(&["TYPE", "s"]);
    p.same(&["OBJECT", "ENCODING", "s"]);
    // Binary-safe fields and values, and case-insensitive names.
    p.same(&[
        &b"xadd"[..],
        b"bin",
        b"1-1",
        b"\x00\xff",
        b"\r\n",
        b"",
        b"v",
    ]);
    p.same(&["XRANGE", "bin", "-", "+"]);
});

diff_test!(xadd_auto_ids_grow, |p| {
    // `*` ids come from each server's clock: compare their shape, and that
    // they keep growing.
    for _ in 0..3 {
        p.same_shape(&["XADD", "auto", "*", "a", "1"]);
    }
    p.same(&["XLEN", "auto"]);
    let (a, b) = p.both(&["XRANGE", "auto", "-", "+"]);
    for raw in [a, b] {
        let r = parse_one(&raw);
        let ids: Vec<(u64, u64)> = r
            .elements()
            .expect("array")
            .iter()
            .map(|e| {
                let id = e.elements().expect("entry")[0].as_str().expect("id");
                let (ms, seq) = id.split_once('-').expect("ms-seq");
                (ms.parse().expect("ms"), seq.parse().expect("seq"))
            })
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
    p.same_shape(&["XADD", "auto", "MAXLEN", "2", "*", "a", "1"]);
    p.same(&["XLEN", "auto"]);
});

diff_test!(trimming_exact_and_approximate, |p| {
    fill(p, "s", 0, 250);
    p.same(&["XINFO", "STREAM", "s"]);
    p.same(&["XTRIM", "s", "MAXLEN", "~", "120"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XTRIM", "s", "MAXLEN", "~", "120"]);
    p.same(&["XTRIM", "s", "MAXLEN", "=", "120"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "2"]);
    p.same(&["XINFO", "STREAM", "s"]);
    p.same(&["XTRIM", "s", "MINID", "~", "201"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XTRIM", "s", "MINID", "210"]);
    p.same(&["XTRIM", "s", "MINID", "=", "210-0"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XINFO", "STREAM", "s"]);
    // LIMIT bounds the work (whole nodes only).
    fill(p, "l", 0, 350);
    p.same(&["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "150"]);
    p.same(&["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "99"]);
    p.same(&["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "0"]);
    p.same(&["XLEN", "l"]);
    p.same(&["XINFO", "STREAM", "l"]);
    // XADD with trimming: the new entry counts.
    fill(p, "x", 0, 99);
    p.same(&["XADD", "x", "MAXLEN", "~", "50", "100-0", "f", "v"]);
    p.same(&["XADD", "x", "MAXLEN", "~", "50", "101-0", "f", "v"]);
    p.same(&["XLEN", "x"]);
    p.same(&["XADD", "x", "MAXLEN", "50", "102-0", "f", "v"]);
    p.same(&["XLEN", "x"]);
    p.same(&["XADD", "x", "MINID", "~", "90", "103-0", "f", "v"]);
    p.same(&["XADD", "x", "MINID", "90", "104-0", "f", "v"]);
    p.same(&["XADD", "x", "MAXLEN", "0", "105-0", "f", "v"]);
    p.same(&["XLEN", "x"]);
    p.same(&["XINFO", "STREAM", "x"]);
    p.same(&["XADD", "x", "106-0", "f", "v"]);
    p.same(&["XINFO", "STREAM", "x"]);
    // XTRIM errors.
    p.same(&["XTRIM", "s"]);
    p.same(&["XTRIM", "s", "MAXLEN"]);
    p.same(&["XTRIM", "s", "FOO", "1"]);
    p.same(&["XTRIM", "s", "MAXLEN", "1", "FOO"]);
    p.same(&["XTRIM", "s", "MAXLEN", "1", "LIMIT", "5"]);
    p.same(&["XTRIM", "s", "LIMIT", "5", "MAXLEN", "1"]);
    p.same(&["XTRIM", "s", "LIMIT", "5", "5"]);
    p.same(&["XTRIM", "s", "MAXLEN", "-5"]);
    p.same(&["XTRIM", "s", "MINID", "bad"]);
    p.same(&["XTRIM", "nokey", "MAXLEN", "1"]);
    p.same(&["XTRIM", "nokey", "MAXLEN", "bad"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XTRIM", "str", "MAXLEN", "1"]);
});

diff_test!(node_boundaries_follow_bytes_and_config, |p| {
    // Big values fill a node by bytes before it reaches 100 entries.
    let big = "v".repeat(200);
    for i in 1..=120u64 {
        p.same(&["XADD", "b", &format!("{i}-0"), "f", &big]);
    }
    p.same(&["XINFO", "STREAM", "b"]);
    p.same(&["XTRIM", "b", "MAXLEN", "~", "100"]);
    p.same(&["XLEN", "b"]);
    // Entries whose fields differ from the node's first entry take more room.
    for i in 1..=150u64 {
        let f = format!("field{}", i % 7);
        p.same(&[
            "XADD",
            "m",
            &format!("{i}-{}", i * 1000),
            &f,
            "12345",
            "other",
            "x",
        ]);
    }
    p.same(&["XINFO", "STREAM", "m"]);
    p.same(&["XTRIM", "m", "MAXLEN", "~", "60"]);
    p.same(&["XLEN", "m"]);
    // Integers and large id deltas have their own encodings.
    for i in 1..=120u64 {
        p.same(&[
            "XADD",
            "n",
            &format!("{}-{}", i * 100_000_000, i * 7),
            "n",
            &(i * 1_000_003).to_string(),
        ]);
    }
    p.same(&["XINFO", "STREAM", "n"]);
    p.same(&["XTRIM", "n", "MAXLEN", "~", "10"]);
    p.same(&["XLEN", "n"]);
    // Smaller nodes by configuration.
    p.ok(&["CONFIG", "SET", "stream-node-max-entries", "10"]);
    fill(p, "c", 0, 95);
    p.same(&["XINFO", "STREAM", "c"]);
    p.same(&["XTRIM", "c", "MAXLEN", "~", "33"]);
    p.same(&["XLEN", "c"]);
    p.same(&["XADD", "c", "MAXLEN", "~", "5", "96-0", "f", "v"]);
    p.same(&["XLEN", "c"]);
    p.ok(&["CONFIG", "SET", "stream-node-max-entries", "100"]);
    p.ok(&["CONFIG", "SET", "stream-node-max-bytes", "0"]);
    fill(p, "u", 0, 150);
    p.same(&["XINFO", "STREAM", "u"]);
    p.ok(&["CONFIG", "SET", "stream-node-max-bytes", "4096"]);
});

diff_test!(xdel_and_tombstones, |p| {
    fill(p, "s", 0, 10);
    p.same(&["XDEL", "s", "3-0", "5-0", "5-0", "99-0"]);
    p.same(&["XDEL", "s", "3-0"]);
    p.same(&["XDEL", "s", "bad"]);
    p.same(&["XDEL", "s", "4-0", "bad"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XDEL", "nokey", "bad"]);
    p.same(&["XDEL", "nokey", "1-0"]);
    p.same(&["XDEL", "s"]);
    p.same(&["XDEL", "s", "+"]);
    p.same(&["XINFO", "STREAM", "s"]);
    // Deleting the first entry moves the recorded first id.
    p.same(&["XDEL", "s", "1-0"]);
    p.same(&["XINFO", "STREAM", "s"]);
    // Emptying a node frees it; emptying the stream keeps the key.
    p.same(&[
        "XDEL", "s", "2-0", "4-0", "6-0", "7-0", "8-0", "9-0", "10-0",
    ]);
    p.same(&["XLEN", "s"]);
    p.same(&["EXISTS", "s"]);
    p.same(&["XINFO", "STREAM", "s"]);
    p.same(&["XADD", "s", "10-0", "f", "v"]);
    p.same(&["XADD", "s", "11-0", "f", "v"]);
    p.same(&["XINFO", "STREAM", "s"]);
    // Deleted entries still count towards a node's capacity.
    fill(p, "d", 0, 99);
    for i in (1..=90u64).step_by(3) {
        p.same(&["XDEL", "d", &format!("{i}-0")]);
    }
    fill(p, "d", 99, 30);
    p.same(&["XINFO", "STREAM", "d"]);
    p.same(&["XTRIM", "d", "MAXLEN", "~", "40"]);
    p.same(&["XLEN", "d"]);
    p.same(&["XTRIM", "d", "MINID", "~", "100"]);
    p.same(&["XINFO", "STREAM", "d"]);
});

diff_test!(xsetid_errors_and_effects, |p| {
    fill(p, "s", 0, 3);
    p.same(&["XSETID", "s", "0-5"]);
    p.same(&["XSETID", "s", "2-0"]);
    p.same(&["XSETID", "s", "3-0"]);
    p.same(&["XSETID", "s", "5-0", "ENTRIESADDED", "1"]);
    p.same(&["XSETID", "s", "5-0", "ENTRIESADDED", "-1"]);
    p.same(&["XSETID", "s", "5-0", "ENTRIESADDED", "x"]);
    p.same(&["XSETID", "s", "5-0", "MAXDELETEDID", "6-0"]);
    p.same(&["XSETID", "s", "5-0", "MAXDELETEDID", "bad"]);
    p.same(&["XSETID", "s", "5-0", "FOO"]);
    p.same(&["XSETID", "s", "5-0", "ENTRIESADDED"]);
    p.same(&["XSETID", "s", "bad"]);
    p.same(&["XSETID", "s", "+"]);
    p.same(&["XSETID", "nokey", "5-0"]);
    p.same(&["XSETID", "nokey", "bad"]);
    p.same(&["XSETID", "s"]);
    p.same(&[
        "XSETID",
        "s",
        "5-0",
        "MAXDELETEDID",
        "3-0",
        "ENTRIESADDED",
        "9",
    ]);
    p.same(&["XINFO", "STREAM", "s"]);
    p.same(&["XSETID", "s", "4-0"]);
    p.same(&["XSETID", "s", "2-9"]);
    p.same(&["XSETID", "s", "3-0"]);
    p.same(&["XADD", "s", "3-0", "f", "v"]);
    p.same(&["XADD", "s", "4-*", "f", "v"]);
    p.same(&["XSETID", "s", "18446744073709551615-18446744073709551615"]);
    p.same(&["XADD", "s", "*", "f", "v"]);
    p.same(&["XINFO", "STREAM", "s"]);
    // An empty stream accepts any id at or above its largest deleted id.
    p.same(&["XADD", "e", "5-0", "f", "v"]);
    p.same(&["XDEL", "e", "5-0"]);
    p.same(&["XSETID", "e", "1-0"]);
    p.same(&["XSETID", "e", "5-0", "ENTRIESADDED", "0"]);
    p.same(&["XINFO", "STREAM", "e"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XSETID", "str", "1-0"]);
});

diff_test!(xrange_and_xrevrange, |p| {
    fill(p, "s", 0, 5);
    p.same(&["XADD", "s", "5-1", "a", "b", "c", "d"]);
    p.same(&["XADD", "s", "18446744073709551615-3", "z", "z"]);
    for (a, b) in [
        ("-", "+"),
        ("2", "4"),
        ("2-0", "4-0"),
        ("(2-0", "(4-0"),
        ("(2", "+"),
        ("5", "5"),
        ("5-1", "5-1"),
        ("(5-0", "(5-1"),
        ("4", "2"),
        ("18446744073709551615", "+"),
        ("-", "(1-0"),
        ("(18446744073709551615-2", "+"),
    ] {
        p.same(&["XRANGE", "s", a, b]);
        p.same(&["XREVRANGE", "s", b, a]);
    }
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "2"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "0"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "-3"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "1", "COUNT", "3"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "9223372036854775807"]);
    p.same(&["XREVRANGE", "s", "+", "-", "COUNT", "2"]);
    p.same(&["XREVRANGE", "s", "+", "-", "COUNT", "0"]);
    p.same(&["XRANGE", "nokey", "-", "+"]);
    p.same(&["XRANGE", "nokey", "-", "+", "COUNT", "0"]);
    p.same(&["XRANGE", "nokey", "bad", "+"]);
    // Errors.
    p.same(&["XRANGE", "s", "(", "+"]);
    p.same(&["XRANGE", "s", "(-", "+"]);
    p.same(&["XRANGE", "s", "-", "(+"]);
    p.same(&[
        "XRANGE",
        "s",
        "(18446744073709551615-18446744073709551615",
        "+",
    ]);
    p.same(&["XRANGE", "s", "-", "(0-0"]);
    p.same(&["XREVRANGE", "s", "(0-0", "-"]);
    p.same(&[
        "XREVRANGE",
        "s",
        "+",
        "(18446744073709551615-18446744073709551615",
    ]);
    p.same(&["XRANGE", "s", "x", "+"]);
    p.same(&["XRANGE", "s", "-", "x"]);
    p.same(&["XRANGE", "s", "x", "y"]);
    p.same(&["XREVRANGE", "s", "x", "y"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT"]);
    p.same(&["XRANGE", "s", "-", "+", "COUNT", "x"]);
    p.same(&["XRANGE", "s", "-", "+", "FOO", "1"]);
    p.same(&["XRANGE", "s", "-"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XRANGE", "str", "-", "+"]);
    p.same(&["XREVRANGE", "str", "+", "-"]);
});

diff_test!(xread_without_blocking, |p| {
    p.same(&["XADD", "s", "1-1", "a", "1"]);
    p.same(&["XADD", "s", "2-1", "b", "2"]);
    p.same(&["XADD", "t", "3-1", "c", "3"]);
    p.same(&["XREAD", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "t", "0", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "t", "1-1", "3"]);
    p.same(&["XREAD", "STREAMS", "s", "t", "2-1", "3-1"]);
    p.same(&["XREAD", "COUNT", "1", "STREAMS", "s", "t", "0", "0"]);
    p.same(&["XREAD", "COUNT", "0", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "COUNT", "-1", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "count", "1", "count", "2", "streams", "s", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "$"]);
    p.same(&["XREAD", "STREAMS", "nokey", "0"]);
    p.same(&["XREAD", "STREAMS", "nokey", "s", "$", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "s", "0", "1"]);
    p.same(&["XREAD", "BLOCK", "10", "STREAMS", "s", "5"]);
    p.same(&["XREAD", "BLOCK", "10", "STREAMS", "s", "1"]);
    p.same(&[
        "XREAD",
        "STREAMS",
        "s",
        "18446744073709551615-18446744073709551615",
    ]);
    // Errors.
    p.same(&["XREAD", "STREAMS", "s"]);
    p.same(&["XREAD", "STREAMS", "s", "t", "0"]);
    p.same(&["XREAD", "COUNT", "1"]);
    p.same(&["XREAD", "COUNT", "x", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "BLOCK", "x", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "BLOCK", "1.5", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "+"]);
    p.same(&["XREAD", "STREAMS", "s", "-"]);
    p.same(&["XREAD", "STREAMS", "s", ">"]);
    p.same(&["XREAD", "STREAMS", "s", "bad"]);
    p.same(&["XREAD", "NOACK", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "FOO", "STREAMS", "s", "0"]);
    p.same(&["XREAD", "COUNT", "1", "FOO", "1"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XREAD", "STREAMS", "str", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "str", "0", "0"]);
    p.same(&["XREAD", "STREAMS", "s", "str", "0", "bad"]);
});

diff_test!(xreadgroup_without_blocking, |p| {
    fill(p, "s", 0, 4);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c2",
        "NOACK",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["XPENDING", "s", "g"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    // History: re-delivered entries, deleted ones with a null body.
    p.same(&["XDEL", "s", "1-0"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "1-0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        "0",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "0",
        "STREAMS",
        "s",
        "0",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        "18446744073709551615-18446744073709551615",
    ]);
    p.same(&["XREADGROUP", "GROUP", "g", "nobody", "STREAMS", "s", "0"]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    // The rest of the stream, then nothing new.
    p.same(&["XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", ">"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c4", "STREAMS", "s", ">"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c4",
        "BLOCK",
        "10",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        "s",
        ">",
        "0",
    ]);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    p.same(&["XINFO", "GROUPS", "s"]);
    // Two streams, two groups.
    fill(p, "t", 10, 3);
    p.same(&["XGROUP", "CREATE", "t", "g", "$"]);
    p.same(&["XADD", "t", "20-0", "f", "v"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        "t",
        ">",
        ">",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "t",
        "s",
        "0",
        "0",
    ]);
    // Errors.
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">"]);
    p.same(&["XREADGROUP", "STREAMS", "s", ">", "x", "y"]);
    p.same(&["XREADGROUP", "COUNT", "1", "STREAMS", "s", ">"]);
    p.same(&["XREADGROUP", "GROUP", "g", "STREAMS", "s", ">"]);
    p.same(&["XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        "nokey",
        ">",
        ">",
    ]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "bad"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "+"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "x",
        "STREAMS",
        "s",
        ">",
    ]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        "str",
        ">",
        ">",
    ]);
    // Inside MULTI, BLOCK does not block.
    p.same(&["MULTI"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    p.same(&["EXEC"]);
});

diff_test!(group_counters_and_lag, |p| {
    fill(p, "s", 0, 4);
    for (g, id) in [
        ("g0", "0"),
        ("g1", "1-0"),
        ("g2", "2-0"),
        ("g5", "5-0"),
        ("gd", "$"),
    ] {
        p.same(&["XGROUP", "CREATE", "s", g, id]);
    }
    p.same(&["XGROUP", "CREATE", "s", "ge", "0", "ENTRIESREAD", "2"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&["XDEL", "s", "3-0"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    for _ in 0..3 {
        p.same(&[
            "XREADGROUP",
            "GROUP",
            "g0",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ]);
        p.same(&["XINFO", "GROUPS", "s"]);
    }
    p.same(&["XREADGROUP", "GROUP", "ge", "c", "STREAMS", "s", ">"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    // A tombstone behind the group no longer matters.
    p.same(&["XADD", "t", "1-0", "f", "v"]);
    p.same(&["XADD", "t", "2-0", "f", "v"]);
    p.same(&["XADD", "t", "3-0", "f", "v"]);
    p.same(&["XADD", "t", "4-0", "f", "v"]);
    p.same(&["XADD", "t", "5-0", "f", "v"]);
    p.same(&["XGROUP", "CREATE", "t", "g", "1-0", "ENTRIESREAD", "1"]);
    p.same(&["XDEL", "t", "2-0", "3-0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "t",
        ">",
    ]);
    p.same(&["XINFO", "GROUPS", "t"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "t", ">"]);
    p.same(&["XINFO", "GROUPS", "t"]);
    p.same(&["XADD", "t", "6-0", "f", "v"]);
    p.same(&["XINFO", "GROUPS", "t"]);
    // Trimmed (not deleted) streams keep their counters exact.
    fill(p, "u", 0, 5);
    p.same(&["XTRIM", "u", "MAXLEN", "0"]);
    for (g, id) in [("a", "0"), ("b", "3-0"), ("c", "5-0"), ("d", "9-0")] {
        p.same(&["XGROUP", "CREATE", "u", g, id]);
    }
    p.same(&["XINFO", "GROUPS", "u"]);
    p.same(&["XINFO", "STREAM", "u"]);
    // A new empty stream.
    p.same(&["XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"]);
    p.same(&["XINFO", "GROUPS", "e"]);
    p.same(&["XINFO", "STREAM", "e"]);
});

diff_test!(xgroup_subcommands, |p| {
    fill(p, "s", 0, 3);
    p.same(&["XGROUP", "CREATE", "s", "g", "-"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "+"]);
    p.same(&["XGROUP", "SETID", "s", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    p.same(&["XGROUP", "SETID", "s", "g", "+"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&["XGROUP", "SETID", "s", "g", "-"]);
    p.same(&["XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "2"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-1"]);
    p.same(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-2"]);
    p.same(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "x"]);
    p.same(&["XGROUP", "SETID", "s", "g", "0", "MKSTREAM"]);
    p.same(&[
        "XGROUP",
        "SETID",
        "s",
        "g",
        "0",
        "ENTRIESREAD",
        "1",
        "ENTRIESREAD",
        "2",
    ]);
    p.same(&["XGROUP", "SETID", "s", "g", "bad"]);
    p.same(&["XGROUP", "SETID", "s", "nog", "0"]);
    p.same(&["XGROUP", "SETID", "nokey", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "nokey", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "nokey", "g", "bad", "MKSTREAM"]);
    p.same(&["EXISTS", "nokey"]);
    p.same(&["XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM"]);
    p.same(&[
        "XGROUP",
        "CREATE",
        "mk",
        "h",
        "7-7",
        "MKSTREAM",
        "ENTRIESREAD",
        "9223372036854775807",
    ]);
    p.same(&["XINFO", "GROUPS", "mk"]);
    p.same(&[
        "XGROUP", "CREATE", "s", "g3", "0", "MKSTREAM", "MKSTREAM", "MKSTREAM", "MKSTREAM",
    ]);
    p.same(&["XGROUP", "CREATE", "s", "g4", "0", "FOO"]);
    p.same(&["XGROUP", "CREATE", "s", "g4", "0", "ENTRIESREAD"]);
    p.same(&["XGROUP", "CREATE", "s", "g5", "bad"]);
    p.same(&["XGROUP", "CREATE", "s"]);
    p.same(&["XGROUP"]);
    p.same(&["XGROUP", "FOO", "s", "g"]);
    p.same(&["XGROUP", "HELP"]);
    p.same(&["XGROUP", "help"]);
    p.same(&["XGROUP", "HELP", "extra"]);
    // Consumers.
    p.same(&["XGROUP", "CREATECONSUMER", "s", "nog", "c"]);
    p.same(&["XGROUP", "CREATECONSUMER", "nokey2", "g", "c"]);
    p.same(&["XGROUP", "CREATECONSUMER", "s", "g", "c"]);
    p.same(&["XGROUP", "CREATECONSUMER", "s", "g", "c"]);
    p.same(&["XGROUP", "CREATECONSUMER", "s", "g", "b"]);
    p.same(&["XGROUP", "CREATECONSUMER", "s", "g"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    p.same(&["XGROUP", "DELCONSUMER", "s", "g", "nobody"]);
    p.same(&["XGROUP", "DELCONSUMER", "s", "g", "c"]);
    p.same(&["XGROUP", "DELCONSUMER", "s", "g", "b"]);
    p.same(&["XGROUP", "DELCONSUMER", "s", "nog", "b"]);
    p.same(&["XPENDING", "s", "g"]);
    // Destroy.
    p.same(&["XGROUP", "DESTROY", "s", "nog"]);
    p.same(&["XGROUP", "DESTROY", "s", "g"]);
    p.same(&["XGROUP", "DESTROY", "s", "g"]);
    p.same(&["XGROUP", "DESTROY", "nokey", "g"]);
    p.same(&["XGROUP", "DESTROY", "s", "g", "extra"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XGROUP", "CREATE", "str", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "str", "g", "0", "MKSTREAM"]);
    p.same(&["XGROUP", "DESTROY", "str", "g"]);
    // Binary group and consumer names, in byte order.
    p.same(&[&b"XGROUP"[..], b"CREATE", b"s", b"\xff\x00g", b"0"]);
    p.same(&[&b"XGROUP"[..], b"CREATE", b"s", b"A", b"0"]);
    p.same(&[&b"XGROUP"[..], b"CREATE", b"s", b"a", b"0"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&[&b"XGROUP"[..], b"SETID", b"s", b"no\r\ngroup", b"0"]);
});

diff_test!(xack_and_xpending, |p| {
    fill(p, "s", 0, 6);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["XPENDING", "s", "g"]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "2"], 1000);
    same_pending(p, &["XPENDING", "s", "g", "(1-0", "(5-0", "10"], 1000);
    same_pending(p, &["XPENDING", "s", "g", "2", "4", "10", "bob"], 1000);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10", "alice"], 1000);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10", "nobody"], 1000);
    same_pending(
        p,
        &["XPENDING", "s", "g", "-", "+", "10", "bob", "extra"],
        1000,
    );
    same_pending(
        p,
        &["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10"],
        1000,
    );
    same_pending(
        p,
        &["XPENDING", "s", "g", "IDLE", "-5", "-", "+", "10"],
        1000,
    );
    same_pending(
        p,
        &["XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"],
        1000,
    );
    same_pending(
        p,
        &["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "bob"],
        1000,
    );
    p.same(&["XPENDING", "s", "g", "-", "+", "0"]);
    p.same(&["XPENDING", "s", "g", "-", "+", "-1"]);
    // Errors.
    p.same(&["XPENDING", "s", "g", "-", "+"]);
    p.same(&["XPENDING", "s", "g", "-"]);
    p.same(&["XPENDING", "s", "g", "IDLE", "10", "-", "+"]);
    p.same(&["XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"]);
    p.same(&["XPENDING", "s", "g", "-", "+", "x"]);
    p.same(&["XPENDING", "s", "g", "x", "+", "1"]);
    p.same(&["XPENDING", "s", "g", "-", "y", "1"]);
    p.same(&[
        "XPENDING",
        "s",
        "g",
        "(18446744073709551615-18446744073709551615",
        "+",
        "1",
    ]);
    p.same(&["XPENDING", "s", "g", "-", "(0-0", "1"]);
    p.same(&["XPENDING", "s", "g", "a", "b", "c", "d", "e", "f", "g"]);
    p.same(&["XPENDING", "s", "nog"]);
    p.same(&["XPENDING", "s", "nog", "-", "+", "10"]);
    p.same(&["XPENDING", "nokey", "g"]);
    p.same(&["XPENDING", "s"]);
    // XACK.
    p.same(&["XACK", "s", "g", "1-0", "1-0", "9-0"]);
    p.same(&["XACK", "s", "g", "bad"]);
    p.same(&["XACK", "s", "g", "2-0", "bad"]);
    p.same(&["XACK", "s", "nog", "2-0"]);
    p.same(&["XACK", "nokey", "g", "bad"]);
    p.same(&["XACK", "s", "g"]);
    p.same(&["XPENDING", "s", "g"]);
    p.same(&["XACK", "s", "g", "2-0", "3-0", "4-0", "5-0"]);
    p.same(&["XPENDING", "s", "g"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XACK", "str", "g", "1-0"]);
    p.same(&["XPENDING", "str", "g"]);
});

diff_test!(xclaim_options, |p| {
    fill(p, "s", 0, 6);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]);
    p.same(&["XDEL", "s", "2-0"]);
    // A deleted entry leaves the PEL; a missing one is skipped.
    p.same(&["XCLAIM", "s", "g", "c2", "0", "1-0", "2-0", "9-0"]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    p.same(&["XCLAIM", "s", "g", "c3", "0", "3-0", "JUSTID"]);
    p.same(&[
        "XCLAIM",
        "s",
        "g",
        "c3",
        "0",
        "3-0",
        "RETRYCOUNT",
        "7",
        "JUSTID",
    ]);
    p.same(&["XCLAIM", "s", "g", "c3", "0", "3-0", "RETRYCOUNT", "-1"]);
    p.same(&[
        "XCLAIM",
        "s",
        "g",
        "c3",
        "0",
        "3-0",
        "RETRYCOUNT",
        "-2",
        "JUSTID",
    ]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    // FORCE creates a pending entry, only for an entry that exists.
    p.same(&["XACK", "s", "g", "4-0"]);
    p.same(&["XCLAIM", "s", "g", "c4", "0", "4-0", "8-0", "FORCE"]);
    p.same(&["XCLAIM", "s", "g", "c4", "0", "4-0"]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    // IDLE and TIME set the delivery time (a bogus one means now).
    p.same(&[
        "XCLAIM", "s", "g", "c5", "0", "5-0", "IDLE", "5000", "JUSTID",
    ]);
    same_pending(p, &["XPENDING", "s", "g", "5", "5", "1"], 1000);
    p.same(&["XCLAIM", "s", "g", "c5", "10000", "5-0", "JUSTID"]);
    p.same(&["XCLAIM", "s", "g", "c6", "3000", "5-0", "JUSTID"]);
    p.same(&[
        "XCLAIM", "s", "g", "c5", "0", "5-0", "TIME", "1000", "JUSTID",
    ]);
    same_pending(p, &["XPENDING", "s", "g", "5", "5", "1"], 2000);
    p.same(&["XCLAIM", "s", "g", "c5", "0", "5-0", "IDLE", "-5", "JUSTID"]);
    p.same(&[
        "XCLAIM",
        "s",
        "g",
        "c5",
        "0",
        "5-0",
        "TIME",
        "99999999999999",
        "JUSTID",
    ]);
    same_pending(p, &["XPENDING", "s", "g", "5", "5", "1"], 1000);
    p.same(&["XCLAIM", "s", "g", "c5", "-1", "5-0"]);
    // LASTID moves the group forward only.
    p.same(&[
        "XCLAIM", "s", "g", "c5", "0", "5-0", "LASTID", "70-0", "JUSTID",
    ]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&[
        "XCLAIM", "s", "g", "c5", "0", "5-0", "LASTID", "2-0", "JUSTID",
    ]);
    p.same(&["XINFO", "GROUPS", "s"]);
    // Claiming nothing creates no consumer.
    p.same(&["XCLAIM", "s", "g", "ghost", "0", "99-0"]);
    p.same(&["XCLAIM", "s", "g", "ghost", "100000", "5-0"]);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    // Errors.
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "LASTID", "bad"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "IDLE", "x"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "TIME", "x"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "RETRYCOUNT", "x"]);
    p.same(&["XCLAIM", "s", "g", "c", "x", "3-0"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "FOO"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "bad"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "+"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "JUSTID", "FOO", "3-0"]);
    p.same(&["XCLAIM", "s", "g", "c", "0", "3-0", "IDLE"]);
    p.same(&["XCLAIM", "s", "nog", "c", "0", "3-0"]);
    p.same(&["XCLAIM", "nokey", "g", "c", "x", "bad"]);
    p.same(&["XCLAIM", "s", "g", "c", "0"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XCLAIM", "str", "g", "c", "0", "1-0"]);
});

diff_test!(xautoclaim_cursor_and_deleted, |p| {
    fill(p, "s", 0, 8);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]);
    p.same(&["XDEL", "s", "2-0", "6-0"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "1"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c2", "0", "2-0", "COUNT", "2"]);
    p.same(&[
        "XAUTOCLAIM",
        "s",
        "g",
        "c2",
        "0",
        "(3-0",
        "COUNT",
        "2",
        "JUSTID",
    ]);
    p.same(&["XAUTOCLAIM", "s", "g", "c2", "0", "-"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c3", "0", "-", "JUSTID"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c4", "100000", "-"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c4", "0", "8-0"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c4", "0", "9-0"]);
    same_pending(p, &["XPENDING", "s", "g", "-", "+", "10"], 1000);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    p.same(&["XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "1000000"]);
    // Errors.
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "-", "COUNT", "0"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "-", "COUNT", "-1"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "-", "COUNT", "x"]);
    p.same(&[
        "XAUTOCLAIM",
        "s",
        "g",
        "c",
        "0",
        "-",
        "COUNT",
        "576460752303423488",
    ]);
    p.same(&[
        "XAUTOCLAIM",
        "s",
        "g",
        "c",
        "0",
        "-",
        "COUNT",
        "576460752303423487",
    ]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "-", "COUNT"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "x", "-"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "x"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "+"]);
    p.same(&[
        "XAUTOCLAIM",
        "s",
        "g",
        "c",
        "0",
        "(18446744073709551615-18446744073709551615",
    ]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0", "-", "FOO"]);
    p.same(&["XAUTOCLAIM", "s", "nog", "c", "0", "-"]);
    p.same(&["XAUTOCLAIM", "nokey", "g", "c", "0", "-"]);
    p.same(&["XAUTOCLAIM", "nokey", "g", "c", "0", "-", "COUNT", "0"]);
    p.same(&["XAUTOCLAIM", "s", "g", "c", "0"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XAUTOCLAIM", "str", "g", "c", "0", "-"]);
    // Many pending entries, idle ones skipped within the attempts bound.
    fill(p, "m", 0, 60);
    p.same(&["XGROUP", "CREATE", "m", "g", "0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "30",
        "STREAMS",
        "m",
        ">",
    ]);
    p.same(&[
        "XCLAIM", "m", "g", "a", "0", "5-0", "10-0", "15-0", "IDLE", "600000", "JUSTID",
    ]);
    p.same(&[
        "XAUTOCLAIM",
        "m",
        "g",
        "b",
        "300000",
        "0",
        "COUNT",
        "1",
        "JUSTID",
    ]);
    p.same(&[
        "XAUTOCLAIM",
        "m",
        "g",
        "b",
        "300000",
        "0",
        "COUNT",
        "2",
        "JUSTID",
    ]);
    p.same(&[
        "XAUTOCLAIM",
        "m",
        "g",
        "b",
        "300000",
        "0",
        "COUNT",
        "3",
        "JUSTID",
    ]);
});

diff_test!(xinfo_replies, |p| {
    p.same(&["XINFO", "STREAM", "nokey"]);
    p.same(&["XINFO", "GROUPS", "nokey"]);
    p.same(&["XINFO", "CONSUMERS", "nokey", "g"]);
    fill(p, "s", 0, 15);
    p.same(&["XINFO", "STREAM", "s"]);
    p.same(&["XINFO", "STREAM", "s", "FULL"]);
    p.same(&["XINFO", "STREAM", "s", "full", "count", "3"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "COUNT", "0"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "COUNT", "-1"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&["XGROUP", "CREATE", "s", "h", "$"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "12",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["XGROUP", "CREATECONSUMER", "h", "carol", "x"]);
    p.same(&["XGROUP", "CREATECONSUMER", "s", "h", "carol"]);
    same_timed(p, &["XINFO", "STREAM", "s", "FULL"], 1000);
    same_timed(p, &["XINFO", "STREAM", "s", "FULL", "COUNT", "2"], 1000);
    same_timed(p, &["XINFO", "STREAM", "s", "FULL", "COUNT", "0"], 1000);
    p.same(&["XINFO", "GROUPS", "s"]);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "h"], 1000);
    p.same(&["XINFO", "CONSUMERS", "s", "nog"]);
    p.same(&["XINFO", "STREAM", "s", "FOO"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "COUNT"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "FOO", "1"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "COUNT", "x"]);
    p.same(&["XINFO", "STREAM", "s", "FULL", "COUNT", "1", "x"]);
    p.same(&["XINFO", "STREAM", "nokey", "FOO"]);
    p.same(&["XINFO", "FOO", "s"]);
    p.same(&["XINFO"]);
    p.same(&["XINFO", "STREAM"]);
    p.same(&["XINFO", "GROUPS", "s", "x"]);
    p.same(&["XINFO", "CONSUMERS", "s"]);
    p.same(&["XINFO", "HELP"]);
    p.same(&["XINFO", "HELP", "x"]);
    p.ok(&["SET", "str", "x"]);
    p.same(&["XINFO", "STREAM", "str"]);
    p.same(&["XINFO", "GROUPS", "str"]);
    // An empty stream.
    p.same(&["XADD", "e", "1-0", "f", "v"]);
    p.same(&["XDEL", "e", "1-0"]);
    p.same(&["XINFO", "STREAM", "e"]);
    p.same(&["XINFO", "STREAM", "e", "FULL"]);
});

diff_test!(streams_and_keyspace_commands, |p| {
    fill(p, "s", 0, 5);
    p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
    p.same(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    p.same(&["TYPE", "s"]);
    p.same(&["OBJECT", "ENCODING", "s"]);
    p.same(&["EXISTS", "s"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["RPUSH", "l", "a"]);
    p.same(&["SCAN", "0", "TYPE", "stream"]);
    p.same(&["SCAN", "0", "TYPE", "STREAM", "COUNT", "100"]);
    p.same(&["KEYS", "s*"]);
    // COPY carries groups and pending entries.
    p.same(&["COPY", "s", "c"]);
    p.same(&["COPY", "s", "c"]);
    same_timed(p, &["XINFO", "STREAM", "c", "FULL"], 1000);
    p.same(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "c", ">"]);
    p.same(&["XLEN", "s"]);
    p.same(&["XPENDING", "s", "g"]);
    p.same(&["XPENDING", "c", "g"]);
    p.same(&["COPY", "k", "c", "REPLACE"]);
    p.same(&["TYPE", "c"]);
    p.same(&["COPY", "s", "c", "REPLACE"]);
    p.same(&["XPENDING", "c", "g"]);
    p.same(&["COPY", "s", "c2", "DB", "1"]);
    // RENAME and MOVE keep everything.
    p.same(&["RENAME", "s", "r"]);
    p.same(&["XPENDING", "r", "g"]);
    p.same(&["XINFO", "STREAM", "r"]);
    p.same(&["RENAME", "r", "c"]);
    p.same(&["XINFO", "GROUPS", "c"]);
    p.same(&["MOVE", "c", "2"]);
    p.same(&["EXISTS", "c"]);
    p.same(&["SELECT", "2"]);
    p.same(&["XPENDING", "c", "g"]);
    p.same(&["XADD", "c", "50-0", "f", "v"]);
    p.same(&["SELECT", "1"]);
    p.same(&["XINFO", "STREAM", "c2"]);
    p.same(&["SELECT", "0"]);
    p.same(&["SWAPDB", "0", "2"]);
    p.same(&["XINFO", "GROUPS", "c"]);
    p.same(&["SWAPDB", "0", "2"]);
    // Expiry.
    p.same(&["XADD", "e", "1-0", "f", "v"]);
    p.same(&["PEXPIRE", "e", "50"]);
    p.same(&["XADD", "e", "2-0", "f", "v"]);
    p.close_int(&["PTTL", "e"], 30);
    std::thread::sleep(std::time::Duration::from_millis(120));
    p.same(&["XLEN", "e"]);
    p.same(&["EXISTS", "e"]);
    p.same(&["XADD", "e", "1-0", "f", "v"]);
    p.same(&["XINFO", "STREAM", "e"]);
    // DEL and UNLINK, then the name is reused with no leftovers.
    p.same(&["XGROUP", "CREATE", "e", "g", "0"]);
    p.same(&["DEL", "e"]);
    p.same(&["XADD", "e", "1-0", "f", "v"]);
    p.same(&["XINFO", "GROUPS", "e"]);
    p.same(&["UNLINK", "e"]);
    p.same(&["XINFO", "STREAM", "e"]);
    // FLUSHDB and FLUSHALL.
    p.same(&["XADD", "f", "1-0", "f", "v"]);
    p.same(&["FLUSHDB"]);
    p.same(&["XLEN", "f"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "2"]);
    p.same(&["DBSIZE"]);
    p.same(&["FLUSHALL"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "0"]);
    // Other types' commands on a stream.
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    p.same(&["GET", "s"]);
    p.same(&["HGET", "s", "f"]);
    p.same(&["SADD", "s", "m"]);
    p.same(&["ZADD", "s", "1", "m"]);
    p.same(&["LRANGE", "s", "0", "-1"]);
    p.same(&["APPEND", "s", "x"]);
    p.same(&["SET", "s", "now-a-string"]);
    p.same(&["TYPE", "s"]);
    // WATCH sees stream writes.
    p.same(&["XADD", "w", "1-0", "f", "v"]);
    p.same(&["WATCH", "w"]);
    let mut other = p.connect();
    other.same(&["XADD", "w", "2-0", "f", "v"]);
    p.same(&["MULTI"]);
    p.same(&["XLEN", "w"]);
    p.same(&["EXEC"]);
});

diff_test!(command_info_for_streams, |p| {
    for cmd in [
        "xadd",
        "xlen",
        "xrange",
        "xrevrange",
        "xdel",
        "xtrim",
        "xread",
        "xreadgroup",
        "xack",
        "xpending",
        "xclaim",
        "xautoclaim",
        "xsetid",
        "xgroup|create",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xgroup|destroy",
        "xgroup|setid",
        "xgroup|help",
        "xinfo|stream",
        "xinfo|groups",
        "xinfo|consumers",
        "xinfo|help",
    ] {
        let (a, b) = p.both(&["COMMAND", "INFO", cmd]);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let first = |r: &Resp| -> Vec<Resp> {
            r.elements()
                .and_then(|e| e.first())
                .and_then(|e| e.elements())
                .map(|e| e[..7].to_vec())
                .unwrap_or_default()
        };
        let (ea, eb) = (first(&ra), first(&rb));
        // Flags and ACL categories are sets: compare them sorted.
        let norm = |v: Vec<Resp>| -> Vec<String> {
            v.into_iter()
                .map(|x| match x.elements() {
                    Some(items) => {
                        let mut s: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
                        s.sort();
                        s.join(",")
                    }
                    None => format!("{x:?}"),
                })
                .collect()
        };
        assert!(!ea.is_empty(), "redis has no COMMAND INFO for {cmd}");
        if norm(ea) != norm(eb) {
            p.fail(format!(
                "COMMAND INFO {cmd} differs\n  redis:   {}\n  subject: {}",
                escape(&a),
                escape(&b)
            ));
        }
    }
});

// ---------------------------------------------------------------------------
// Blocking reads
// ---------------------------------------------------------------------------

/// Sends a command on both servers without reading the reply.
fn send(p: &mut ConnPair, args: &[&str]) {
    p.a.send(args);
    p.b.send(args);
}

/// Reads one frame from both servers and requires them equal.
#[track_caller]
fn next_same(p: &mut ConnPair, what: &str) -> String {
    let a = escape(&p.a.read_reply());
    let b = escape(&p.b.read_reply());
    assert_eq!(a, b, "reply to {what}");
    a
}

/// Sends `XREADGROUP GROUP group consumer BLOCK ms STREAMS key >` to both
/// sides without reading (the client blocks).
fn block_readgroup(p: &mut ConnPair, group: &str, consumer: &str, ms: &str, key: &str) {
    send(
        p,
        &[
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "BLOCK",
            ms,
            "STREAMS",
            key,
            ">",
        ],
    );
}

/// Gives both servers time to park the clients that just blocked.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(100));
}

diff_test!(xread_block_woken_by_xadd, |p| {
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    let mut waiter = p.connect();
    send(&mut waiter, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    settle();
    p.same(&["XADD", "s", "2-0", "f", "w"]);
    next_same(&mut waiter, "XREAD BLOCK 0 $");
    // A key that does not exist yet, several keys, COUNT.
    send(
        &mut waiter,
        &[
            "XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "none", "s", "0", "$",
        ],
    );
    settle();
    p.same(&["XADD", "none", "1-0", "a", "b"]);
    next_same(&mut waiter, "XREAD on a new key");
    // Without COUNT a woken reader gets every new entry (up to 1000).
    send(&mut waiter, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    settle();
    p.same(&["MULTI"]);
    p.same(&["XADD", "s", "3-0", "f", "1"]);
    p.same(&["XADD", "s", "4-0", "f", "2"]);
    p.same(&["EXEC"]);
    next_same(&mut waiter, "XREAD woken through MULTI/EXEC");
    // Only the first key signalled is served.
    send(
        &mut waiter,
        &["XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "$"],
    );
    settle();
    p.same(&["MULTI"]);
    p.same(&["XADD", "b", "1-0", "f", "1"]);
    p.same(&["XADD", "a", "1-0", "f", "2"]);
    p.same(&["EXEC"]);
    next_same(&mut waiter, "XREAD served from the first key signalled");
    // Timeouts.
    send(&mut waiter, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]);
    next_same(&mut waiter, "XREAD timing out");
    p.same(&["XREAD", "BLOCK", "10", "STREAMS", "s", "nokey", "$", "$"]);
    // A deleted key keeps an XREAD waiting; the stream created again serves it.
    send(&mut waiter, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    settle();
    p.same(&["DEL", "s"]);
    p.same(&["SET", "s", "string"]);
    p.same(&["DEL", "s"]);
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    p.same(&["XADD", "s", "9-0", "f", "v"]);
    next_same(&mut waiter, "XREAD after the key was recreated");
    // Pipelined commands wait behind the blocked read.
    send(&mut waiter, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    send(&mut waiter, &["PING"]);
    send(&mut waiter, &["XLEN", "s"]);
    settle();
    p.same(&["XADD", "s", "10-0", "f", "v"]);
    next_same(&mut waiter, "XREAD");
    next_same(&mut waiter, "PING after XREAD");
    next_same(&mut waiter, "XLEN after XREAD");
});

diff_test!(xread_block_several_clients, |p| {
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    let mut first = p.connect();
    let mut second = p.connect();
    send(&mut first, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    settle();
    send(&mut second, &["XREAD", "BLOCK", "0", "STREAMS", "s", "1-0"]);
    settle();
    p.same(&["XADD", "s", "2-0", "f", "w"]);
    // Every XREAD waiting on the stream is served.
    next_same(&mut first, "first reader");
    next_same(&mut second, "second reader");
    p.same(&["XLEN", "s"]);
});

diff_test!(xreadgroup_block_consumers_in_arrival_order, |p| {
    p.same(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut c1 = p.connect();
    let mut c2 = p.connect();
    let mut c3 = p.connect();
    block_readgroup(&mut c1, "g", "c1", "0", "s");
    settle();
    block_readgroup(&mut c2, "g", "c2", "0", "s");
    settle();
    send(
        &mut c3,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c3",
            "COUNT",
            "1",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    settle();
    // Waiting created no consumer yet.
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    p.same(&["XADD", "s", "1-0", "f", "1"]);
    next_same(&mut c1, "c1");
    p.same(&["XADD", "s", "2-0", "f", "2"]);
    next_same(&mut c2, "c2");
    p.same(&["MULTI"]);
    p.same(&["XADD", "s", "3-0", "f", "3"]);
    p.same(&["XADD", "s", "4-0", "f", "4"]);
    p.same(&["EXEC"]);
    next_same(&mut c3, "c3 with COUNT 1");
    p.same(&["XPENDING", "s", "g"]);
    p.same(&["XINFO", "GROUPS", "s"]);
    same_timed(p, &["XINFO", "CONSUMERS", "s", "g"], 1000);
    // A consumer blocked again goes to the back of the line.
    block_readgroup(&mut c1, "g", "c1", "0", "s");
    settle();
    block_readgroup(&mut c2, "g", "c2", "0", "s");
    settle();
    p.same(&["XADD", "s", "5-0", "f", "5"]);
    next_same(&mut c1, "c1 again");
    p.same(&["XADD", "s", "6-0", "f", "6"]);
    next_same(&mut c2, "c2 again");
    // Timeout.
    block_readgroup(&mut c1, "g", "c1", "50", "s");
    next_same(&mut c1, "XREADGROUP timing out");
    // XADD + XDEL in one transaction: the waiter is served an empty batch.
    block_readgroup(&mut c1, "g", "c1", "0", "s");
    settle();
    p.same(&["MULTI"]);
    p.same(&["XADD", "s", "7-0", "f", "7"]);
    p.same(&["XDEL", "s", "7-0"]);
    p.same(&["EXEC"]);
    next_same(&mut c1, "XREADGROUP woken by an entry deleted at once");
});

diff_test!(xreadgroup_block_key_or_group_gone, |p| {
    let mut w = p.connect();
    let block = [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    let cases: &[(&str, &[&[&str]])] = &[
        ("DEL", &[&["DEL", "s"]]),
        ("XGROUP DESTROY", &[&["XGROUP", "DESTROY", "s", "g"]]),
        ("SET", &[&["SET", "s", "x"]]),
        (
            "RENAME over",
            &[&["XADD", "t", "5-5", "x", "y"], &["RENAME", "t", "s"]],
        ),
        ("RENAME away", &[&["RENAME", "s", "t2"]]),
        ("FLUSHALL", &[&["FLUSHALL"]]),
        ("FLUSHDB", &[&["FLUSHDB"]]),
        ("SWAPDB", &[&["SWAPDB", "0", "1"], &["SWAPDB", "0", "1"]]),
        ("MOVE", &[&["MOVE", "s", "3"]]),
        ("expiry", &[&["PEXPIRE", "s", "20"]]),
        (
            "DEL and XGROUP CREATE MKSTREAM",
            &[
                &["MULTI"],
                &["DEL", "s"],
                &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
                &["EXEC"],
            ],
        ),
    ];
    for (what, cmds) in cases {
        p.same(&["FLUSHALL"]);
        p.same(&["SELECT", "3"]);
        p.same(&["FLUSHDB"]);
        p.same(&["SELECT", "0"]);
        p.same(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        send(&mut w, &block);
        settle();
        for c in *cmds {
            p.same(c);
        }
        if *what == "expiry" || *what == "DEL and XGROUP CREATE MKSTREAM" {
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        if *what == "DEL and XGROUP CREATE MKSTREAM" {
            // Still waiting: the stream and group are there again.
            p.same(&["XADD", "s", "1-0", "f", "v"]);
        }
        next_same(&mut w, &format!("XREADGROUP when {what}"));
    }
    // XREAD keeps waiting through the same changes.
    p.same(&["FLUSHALL"]);
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    send(&mut w, &["XREAD", "BLOCK", "300", "STREAMS", "s", "$"]);
    settle();
    p.same(&["DEL", "s"]);
    next_same(&mut w, "XREAD timing out although its key was deleted");
});

diff_test!(watch_sees_only_what_redis_signals, |p| {
    // Redis 7.0 marks a stream modified for XADD, XDEL and XTRIM that
    // removed something, not for group commands, XSETID or no-op writes.
    for other in [
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"][..],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"],
        &["XGROUP", "CREATE", "s", "g2", "0"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "x"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c"],
        &["XACK", "s", "g", "1-0"],
        &["XCLAIM", "s", "g", "c2", "0", "1-0"],
        &["XAUTOCLAIM", "s", "g", "c2", "0", "0"],
        &["XTRIM", "s", "MAXLEN", "5"],
        &["XTRIM", "s", "MAXLEN", "1"],
        &["XDEL", "s", "9-0"],
        &["XDEL", "s", "2-0"],
        &["XSETID", "s", "9-0"],
        &["XADD", "s", "10-0", "f", "v"],
        &["XADD", "s", "1-0", "f", "v"],
    ] {
        p.same(&["FLUSHALL"]);
        p.same(&["XADD", "s", "1-0", "f", "v"]);
        p.same(&["XADD", "s", "2-0", "f", "v"]);
        p.same(&["XGROUP", "CREATE", "s", "g", "0"]);
        p.same(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ]);
        p.same(&["WATCH", "s"]);
        let mut o = p.connect();
        o.same(other);
        p.same(&["MULTI"]);
        p.same(&["PING"]);
        p.same(&["EXEC"]);
    }
});

/// Reads the connection's CLIENT ID on one server.
fn client_id(conn: &mut RawConn) -> String {
    String::from_utf8_lossy(&conn.cmd(&["CLIENT", "ID"]))
        .trim_start_matches(':')
        .trim()
        .to_string()
}

diff_test!(client_unblock_stream_reads, |p| {
    p.same(&["XADD", "s", "1-0", "f", "v"]);
    p.same(&["XGROUP", "CREATE", "s", "g", "$"]);
    let mut waiter = p.connect();
    // Client ids differ between the servers: unblock each by its own id.
    let id_a = client_id(&mut waiter.a);
    let id_b = client_id(&mut waiter.b);
    send(&mut waiter, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    settle();
    let ra = p.a.cmd(&["CLIENT", "UNBLOCK", &id_a]);
    let rb = p.b.cmd(&["CLIENT", "UNBLOCK", &id_b]);
    assert_eq!(ra, rb, "CLIENT UNBLOCK of XREAD");
    next_same(&mut waiter, "XREAD unblocked (timeout)");
    block_readgroup(&mut waiter, "g", "c", "0", "s");
    settle();
    let ra = p.a.cmd(&["CLIENT", "UNBLOCK", &id_a, "ERROR"]);
    let rb = p.b.cmd(&["CLIENT", "UNBLOCK", &id_b, "ERROR"]);
    assert_eq!(ra, rb, "CLIENT UNBLOCK ERROR of XREADGROUP");
    next_same(&mut waiter, "XREADGROUP unblocked (error)");
    // The unblocked reader left nothing behind: a new entry is not delivered to it,
    // and the group has no pending entry for consumer c.
    p.same(&["XADD", "s", "2-0", "f", "w"]);
    p.same(&["XPENDING", "s", "g"]);
    let info = String::from_utf8_lossy(&p.b.cmd(&["INFO", "clients"])).into_owned();
    assert!(info.contains("blocked_clients:0"), "{info}");
});
