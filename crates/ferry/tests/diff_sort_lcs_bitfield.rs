//! Differential tests for SORT, SORT_RO, LCS, BITFIELD and BITFIELD_RO:
//! every reply from ferry must be byte-identical to redis-server 7.0's, in
//! RESP2 and RESP3, including errors, stored results and keyspace events.
//! Random data comes from fixed seeds, so a failure replays.

#[macro_use]
mod common;

use common::{parse_one, ConnPair, Pair, RawConn, Resp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn s(v: &str) -> String {
    v.to_string()
}

/// Runs a command given as owned strings on both sides, comparing replies.
fn same(p: &mut ConnPair, args: &[String]) {
    p.same(args);
}

/// Loads a list on both sides (RPUSH in chunks).
fn rpush(p: &mut ConnPair, key: &str, elems: &[String]) {
    p.same(&["DEL", key]);
    for chunk in elems.chunks(100) {
        let mut c = vec![s("RPUSH"), s(key)];
        c.extend(chunk.iter().cloned());
        p.same(&c);
    }
}

fn sadd(p: &mut ConnPair, key: &str, elems: &[String]) {
    p.same(&["DEL", key]);
    for chunk in elems.chunks(100) {
        let mut c = vec![s("SADD"), s(key)];
        c.extend(chunk.iter().cloned());
        p.same(&c);
    }
}

fn zadd(p: &mut ConnPair, key: &str, pairs: &[(String, String)]) {
    p.same(&["DEL", key]);
    for chunk in pairs.chunks(100) {
        let mut c = vec![s("ZADD"), s(key)];
        for (score, m) in chunk {
            c.push(score.clone());
            c.push(m.clone());
        }
        p.same(&c);
    }
}

/// Redis 7.0's SORT reads weights with strtod without clearing errno
/// first, so after a weight that overflowed (ERANGE) every later numeric
/// SORT fails until some other command clears errno. ferry does not carry
/// that state over (docs/commands.md); ZADD clears errno in Redis.
fn reset_errno(p: &mut ConnPair) {
    p.same(&["ZADD", "errno-reset", "1", "x"]);
    p.same(&["DEL", "errno-reset"]);
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

// ---------------------------------------------------------------------------
// SORT: command table
// ---------------------------------------------------------------------------

diff_test!(command_info_entries, |p| {
    for cmd in ["sort", "sort_ro", "lcs", "bitfield", "bitfield_ro"] {
        let a = parse_one(&p.a.cmd(&["COMMAND", "INFO", cmd]));
        let b = parse_one(&p.b.cmd(&["COMMAND", "INFO", cmd]));
        let ea = a.elements().unwrap()[0].elements().unwrap().to_vec();
        let eb = b.elements().unwrap()[0]
            .elements()
            .unwrap_or_else(|| panic!("no COMMAND INFO for {cmd}"))
            .to_vec();
        // name, arity, flags, first, last, step, ACL categories
        for i in 0..7 {
            let norm = |r: &Resp| match r.elements() {
                Some(e) => {
                    let mut v: Vec<String> = e.iter().map(|x| format!("{x:?}")).collect();
                    v.sort();
                    format!("{v:?}")
                }
                None => format!("{r:?}"),
            };
            assert_eq!(norm(&ea[i]), norm(&eb[i]), "COMMAND INFO {cmd} field {i}");
        }
    }
});

// ---------------------------------------------------------------------------
// SORT
// ---------------------------------------------------------------------------

diff_test!(sort_numeric_and_alpha, |p| {
    rpush(
        p,
        "l",
        &strs(&[
            "3", "1", "2", "10", "-5", "2.5", "1e2", "-0", "0", "+4", " 7", "0x10", "inf", "-inf",
        ]),
    );
    p.same(&["SORT", "l"]);
    p.same(&["SORT", "l", "DESC"]);
    p.same(&["SORT", "l", "ASC"]);
    p.same(&["SORT", "l", "desc", "asc"]);
    p.same(&["SORT", "l", "ALPHA"]);
    p.same(&["SORT", "l", "ALPHA", "DESC"]);
    p.same(&["sort", "l", "alpha", "limit", "2", "3"]);
    p.same(&["SORT_RO", "l"]);
    p.same(&["SORT_RO", "l", "ALPHA", "DESC", "LIMIT", "1", "4"]);
    // values strtod refuses
    for bad in [
        "abc", "5 ", "1e", "0x", "nan", "1e400", "-1e400", "1e-310", "1.5.5", "--1",
    ] {
        rpush(p, "bad", &strs(&["1", bad, "2"]));
        p.same(&["SORT", "bad"]);
        p.same(&["SORT", "bad", "ALPHA"]);
        p.same(&["SORT", "bad", "BY", "nosort"]);
        p.same(&["SORT_RO", "bad", "DESC"]);
    }
    // values it accepts
    for good in [
        "",
        "  -3",
        "\t4",
        "infinity",
        "-Infinity",
        "0x1p-3",
        "1e-300",
        ".5",
        "5.",
        "1E3",
    ] {
        reset_errno(p);
        rpush(p, "good", &strs(&["1", good, "2", "-1"]));
        p.same(&["SORT", "good"]);
        p.same(&["SORT", "good", "DESC"]);
    }
    // equal scores fall back to byte order of the elements
    rpush(
        p,
        "ties",
        &strs(&["1.0", "1", "01", "1e0", "+1", "0.1e1", "b", "a"]),
    );
    p.same(&["SORT", "ties", "BY", "nosuchweight_*"]);
    p.same(&["SORT", "ties", "BY", "nosuchweight_*", "DESC"]);
    rpush(p, "ties2", &strs(&["1.0", "1", "01", "1e0", "+1", "0.1e1"]));
    p.same(&["SORT", "ties2"]);
    p.same(&["SORT", "ties2", "DESC"]);
    // ALPHA is byte order (C locale), also for non-ASCII bytes
    rpush(
        p,
        "words",
        &strs(&[
            "b", "B", "a", "é", "Z", "a b", "", "10", "9", "ab", "aB", "\u{7f}", "~",
        ]),
    );
    p.same(&["SORT", "words", "ALPHA"]);
    p.same(&["SORT", "words", "ALPHA", "DESC"]);
    // binary elements
    p.same(&[&b"DEL"[..], b"bin"]);
    p.same(&[
        &b"RPUSH"[..],
        b"bin",
        b"\xff\x00",
        b"\x80",
        b"\x00",
        b"a\x00b",
        b"\x01",
    ]);
    p.same(&[&b"SORT"[..], b"bin", b"ALPHA"]);
    p.same(&[&b"SORT"[..], b"bin", b"ALPHA", b"DESC"]);
    p.same(&[&b"SORT"[..], b"bin", b"ALPHA", b"STORE", b"bin2"]);
    p.same(&[&b"LRANGE"[..], b"bin2", b"0", b"-1"]);
    p.same(&[&b"SORT"[..], b"bin"]);
    // missing key: empty
    p.same(&["SORT", "nosuch"]);
    p.same(&["SORT", "nosuch", "ALPHA", "LIMIT", "0", "10"]);
    p.same(&["SORT_RO", "nosuch", "BY", "nosort"]);
});

diff_test!(sort_limit_clamping, |p| {
    let ten: Vec<String> = (0..10).map(|i| ((i * 7) % 10).to_string()).collect();
    rpush(p, "l", &ten);
    sadd(p, "s", &ten);
    zadd(
        p,
        "z",
        &ten.iter()
            .map(|m| {
                (
                    ((m.parse::<i64>().unwrap() * 3) % 7).to_string(),
                    format!("m{m}"),
                )
            })
            .collect::<Vec<_>>(),
    );
    p.same(&["SET", "w_m1", "100"]);
    let values = [
        "-9223372036854775808",
        "-100",
        "-1",
        "0",
        "1",
        "3",
        "9",
        "10",
        "11",
        "100",
        "9223372036854775807",
    ];
    for key in ["l", "s", "z", "nosuch"] {
        for off in values {
            for count in values {
                p.same(&["SORT", key, "LIMIT", off, count]);
                p.same(&["SORT", key, "LIMIT", off, count, "DESC", "BY", "nosort"]);
                p.same(&["SORT", key, "LIMIT", off, count, "BY", "w_*"]);
            }
        }
    }
    // the last LIMIT wins
    p.same(&["SORT", "l", "LIMIT", "0", "1", "LIMIT", "2", "3"]);
});

diff_test!(sort_by_and_get_patterns, |p| {
    rpush(p, "ids", &strs(&["1", "2", "3", "4", "5", "6"]));
    for (id, w, name) in [
        ("1", "50", "one"),
        ("2", "30", "two"),
        ("3", "40", "three"),
        ("5", "10", "five"),
    ] {
        p.same(&["SET", &format!("w_{id}"), w]);
        p.same(&["SET", &format!("name_{id}"), name]);
        p.same(&[
            "HSET",
            &format!("h_{id}"),
            "w",
            w,
            "name",
            name,
            "->",
            "arrow",
            "f->g",
            "x",
        ]);
    }
    p.same(&["SET", "w_4", "not-a-number"]);
    p.same(&["RPUSH", "w_6", "list-not-string"]);
    p.same(&["HSET", "h_6", "w", "abc"]);
    p.same(&["SET", "plain", "fixed"]);
    p.same(&["SORT", "ids", "BY", "w_*"]);
    p.same(&["SORT", "ids", "BY", "w_*", "ALPHA"]);
    p.same(&["SORT", "ids", "BY", "w_*", "ALPHA", "DESC"]);
    p.same(&["SORT", "ids", "BY", "h_*->w", "ALPHA"]);
    p.same(&["SORT", "ids", "BY", "h_*->w"]);
    p.same(&[
        "SORT",
        "ids",
        "BY",
        "h_*->name",
        "ALPHA",
        "GET",
        "#",
        "GET",
        "h_*->name",
    ]);
    p.same(&["SORT", "ids", "BY", "h_*->nosuch", "GET", "name_*"]);
    p.same(&[
        "SORT", "ids", "BY", "name_*", "ALPHA", "GET", "#", "GET", "w_*", "GET", "h_*->w",
    ]);
    p.same(&[
        "SORT", "ids", "BY", "name_*", "ALPHA", "DESC", "GET", "name_*", "LIMIT", "1", "3",
    ]);
    p.same(&[
        "SORT", "ids", "GET", "name_*", "GET", "nostar", "GET", "#", "GET", "plain",
    ]);
    p.same(&[
        "SORT",
        "ids",
        "GET",
        "h_*->",
        "GET",
        "h_*->->",
        "GET",
        "h_*->f->g",
        "GET",
        "h_*",
    ]);
    p.same(&[
        "SORT", "ids", "GET", "*", "GET", "*->w", "GET", "#x", "GET", "##",
    ]);
    p.same(&["SORT", "ids", "GET", "h_*->w", "BY", "nosort", "DESC"]);
    p.same(&["SORT", "ids", "BY", "nosort", "GET", "#", "LIMIT", "2", "2"]);
    // numeric BY with a weight strtod refuses
    p.same(&["SORT", "ids", "BY", "w_*", "ALPHA", "GET", "w_*"]);
    p.same(&["SORT", "ids", "BY", "h_*->w", "DESC"]);
    p.same(&["DEL", "w_4"]);
    p.same(&["HDEL", "h_6", "w"]);
    p.same(&["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "w_*"]);
    p.same(&["SORT", "ids", "BY", "h_*->w", "DESC", "GET", "h_*->w"]);
    // ALPHA BY with missing and equal weights keeps the list order (stable)
    p.same(&["SET", "w_2", "50"]);
    p.same(&["SORT", "ids", "BY", "w_*", "ALPHA"]);
    p.same(&["SORT", "ids", "BY", "w_*", "ALPHA", "DESC"]);
    // BY with more than one star: the first one is replaced
    p.same(&["SET", "a_1_*", "9"]);
    p.same(&["SET", "a_2_*", "1"]);
    p.same(&["SORT", "ids", "BY", "a_*_*", "GET", "a_*_*"]);
    // sticky BY nosort: a later BY with a star does not sort again
    p.same(&["SORT", "ids", "BY", "nosort", "BY", "w_*"]);
    p.same(&["SORT", "ids", "BY", "w_*", "BY", "name_*", "ALPHA"]);
    // a NUL byte in a pattern ends what Redis's C string functions see
    p.same(&[&b"SORT"[..], b"ids", b"BY", b"nosort\x00*"]);
    p.same(&[&b"SORT"[..], b"ids", b"GET", b"#\x00abc"]);
    p.same(&[&b"SORT"[..], b"ids", b"GET", b"name_*\x00xyz"]);
    p.same(&[&b"SORT"[..], b"ids", b"GET", b"h_*->\x00name"]);
    // elements with odd bytes are substituted as they are
    p.same(&[&b"RPUSH"[..], b"odd", b"a\x00b", b"", b"*"]);
    p.same(&[&b"SET"[..], b"k_a\x00b", b"1"]);
    p.same(&[&b"SET"[..], b"k_", b"2"]);
    p.same(&[&b"SET"[..], b"k_*", b"3"]);
    p.same(&[
        &b"SORT"[..],
        b"odd",
        b"BY",
        b"k_*",
        b"GET",
        b"k_*",
        b"GET",
        b"#",
    ]);
});

// ALPHA BY with equal or missing weights: the order of equal elements is
// what Redis's sorts leave (a stable merge sort without LIMIT, its partial
// quicksort with one), reproduced for lists.
diff_test!(sort_ties_follow_redis_sorts, |p| {
    let mut rng = StdRng::seed_from_u64(0x7135);
    for len in [5usize, 7, 8, 12, 41, 100, 300] {
        let elems: Vec<String> = (0..len).map(|i| format!("e{i}")).collect();
        rpush(p, "l", &elems);
        for e in &elems {
            match rng.gen_range(0..4) {
                0 => {
                    p.same(&["DEL", &format!("w_{e}")]);
                }
                k => {
                    p.same(&["SET", &format!("w_{e}"), ["a", "b", "c"][k - 1]]);
                }
            }
        }
        let len = len as i64;
        let mut limits = vec![
            (0, len),
            (0, 1),
            (1, 1),
            (len / 2, 3),
            (len - 1, 5),
            (3, len),
        ];
        for _ in 0..6 {
            limits.push((rng.gen_range(0..len), rng.gen_range(0..len)));
        }
        for (off, count) in limits {
            let (off, count) = (off.to_string(), count.to_string());
            p.same(&["SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", &off, &count]);
            p.same(&[
                "SORT", "l", "BY", "w_*", "ALPHA", "DESC", "LIMIT", &off, &count,
            ]);
            p.same(&[
                "SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", &off, &count, "STORE", "d",
            ]);
            p.same(&["LRANGE", "d", "0", "-1"]);
            p.same(&["SORT", "l", "BY", "w_*", "LIMIT", &off, &count]);
        }
        p.same(&["SORT", "l", "BY", "w_*", "ALPHA"]);
        p.same(&["SORT", "l", "BY", "w_*", "ALPHA", "DESC"]);
    }
});

diff_test!(sort_sets_and_sorted_sets, |p| {
    // an intset is walked in numeric order, so even BY nosort is exact
    sadd(p, "iset", &strs(&["10", "-3", "7", "0", "100", "42"]));
    p.same(&["SORT", "iset"]);
    p.same(&["SORT", "iset", "BY", "nosort"]);
    p.same(&["SORT", "iset", "BY", "nosort", "DESC", "LIMIT", "1", "3"]);
    p.same(&["SORT", "iset", "ALPHA"]);
    // a hash table set: sorted output is fully determined
    sadd(
        p,
        "hset",
        &strs(&["pear", "apple", "fig", "10", "banana", "kiwi"]),
    );
    p.same(&["SORT", "hset", "ALPHA"]);
    p.same(&["SORT", "hset", "ALPHA", "DESC", "LIMIT", "1", "2"]);
    p.same(&["SORT", "hset"]);
    p.same_unordered(&["SORT", "hset", "BY", "nosort"]);
    // with STORE (and in scripts) an unsorted set is sorted ALPHA
    p.same(&["SORT", "hset", "BY", "nosort", "STORE", "dst"]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    p.same(&[
        "SORT", "hset", "BY", "nosort", "DESC", "LIMIT", "1", "3", "STORE", "dst",
    ]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    p.same(&[
        "EVAL",
        "return redis.call('sort', KEYS[1], 'by', 'nosort')",
        "1",
        "hset",
    ]);
    p.same(&[
        "EVAL",
        "return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'desc')",
        "1",
        "hset",
    ]);
    for (m, w) in [
        ("pear", "3"),
        ("apple", "1"),
        ("fig", "5"),
        ("10", "2"),
        ("banana", "6"),
        ("kiwi", "4"),
    ] {
        p.same(&["SET", &format!("w_{m}"), w]);
    }
    p.same(&["SORT", "hset", "BY", "w_*"]);
    p.same(&[
        "EVAL",
        "return redis.call('sort', KEYS[1], 'by', 'w_*', 'alpha')",
        "1",
        "hset",
    ]);
    p.same(&["SORT", "hset", "BY", "w_*", "ALPHA", "DESC"]);
    p.same(&[
        "SORT", "hset", "BY", "w_*", "LIMIT", "2", "3", "GET", "#", "GET", "w_*",
    ]);
    // sorted sets: BY nosort keeps score order, DESC reverses it, LIMIT reads a range
    zadd(
        p,
        "z",
        &[
            (s("3"), s("c")),
            (s("1"), s("a")),
            (s("2"), s("b2")),
            (s("2"), s("b1")),
            (s("-1"), s("neg")),
            (s("10"), s("ten")),
        ],
    );
    p.same(&["SORT", "z", "BY", "nosort"]);
    p.same(&["SORT", "z", "BY", "nosort", "DESC"]);
    p.same(&["SORT", "z", "BY", "nosort", "LIMIT", "1", "3"]);
    p.same(&["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "3"]);
    p.same(&["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "5", "3"]);
    p.same(&["SORT", "z", "BY", "nosort", "LIMIT", "0", "0"]);
    p.same(&["SORT", "z", "ALPHA"]);
    p.same(&["SORT", "z", "ALPHA", "DESC", "LIMIT", "2", "10"]);
    p.same(&["SORT", "z"]);
    p.same(&[
        "SORT", "z", "BY", "nosort", "GET", "#", "GET", "w_*", "STORE", "zdst",
    ]);
    p.same(&["LRANGE", "zdst", "0", "-1"]);
    zadd(
        p,
        "zn",
        &[(s("1"), s("5")), (s("2"), s("3")), (s("3"), s("4.5"))],
    );
    p.same(&["SORT", "zn"]);
    p.same(&["SORT", "zn", "DESC"]);
    // (Redis 7.0's SORT also converts a small sorted set to a skiplist for
    // good; ferry derives OBJECT ENCODING from the contents: docs/commands.md.)
});

diff_test!(sort_store, |p| {
    rpush(p, "l", &strs(&["3", "1", "2"]));
    p.same(&["SET", "dst", "string"]);
    p.same(&["EXPIRE", "dst", "1000"]);
    p.same(&["SORT", "l", "STORE", "dst"]);
    p.same(&["TYPE", "dst"]);
    p.same(&["TTL", "dst"]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    p.same(&["OBJECT", "ENCODING", "dst"]);
    // missing GET values are stored as empty strings
    p.same(&["SET", "n_1", "one"]);
    p.same(&["SORT", "l", "GET", "n_*", "GET", "#", "STORE", "dst"]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    p.same(&["SORT", "l", "DESC", "STORE", "dst", "LIMIT", "0", "2"]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    // the last STORE wins
    p.same(&["SORT", "l", "STORE", "x1", "STORE", "x2"]);
    p.same(&["EXISTS", "x1", "x2"]);
    // storing onto the sorted key itself
    p.same(&["SORT", "l", "DESC", "STORE", "l"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    // an empty result deletes the destination
    p.same(&["SORT", "nosuch", "STORE", "dst"]);
    p.same(&["EXISTS", "dst"]);
    p.same(&["SORT", "nosuch", "STORE", "dst"]);
    p.same(&["SORT", "l", "LIMIT", "5", "5", "STORE", "x2"]);
    p.same(&["EXISTS", "x2"]);
    // errors leave the destination alone
    p.same(&["SET", "dst", "keep"]);
    rpush(p, "bad", &strs(&["1", "x"]));
    p.same(&["SORT", "bad", "STORE", "dst"]);
    p.same(&["GET", "dst"]);
    // a large result
    let many: Vec<String> = (0..700).map(|i| ((i * 7919) % 1000).to_string()).collect();
    rpush(p, "big", &many);
    p.same(&["SORT", "big", "STORE", "bigdst"]);
    p.same(&["LRANGE", "bigdst", "0", "-1"]);
    p.same(&["SORT", "big", "DESC", "LIMIT", "100", "50"]);
});

diff_test!(sort_errors, |p| {
    p.same(&["SORT"]);
    p.same(&["SORT_RO"]);
    rpush(p, "l", &strs(&["2", "1"]));
    p.same(&["SET", "str", "x"]);
    p.same(&["HSET", "h", "a", "1"]);
    p.same(&["XADD", "st", "1-1", "a", "1"]);
    for key in ["str", "h", "st"] {
        p.same(&["SORT", key]);
        p.same(&["SORT_RO", key]);
        p.same(&["SORT", key, "LIMIT", "x", "1"]);
        p.same(&["SORT", key, "STORE", "d"]);
    }
    for args in [
        &["FOO"][..],
        &["LIMIT"],
        &["LIMIT", "1"],
        &["LIMIT", "a", "1"],
        &["LIMIT", "1", "b"],
        &["LIMIT", "1.5", "1"],
        &["LIMIT", "9223372036854775808", "1"],
        &["BY"],
        &["GET"],
        &["STORE"],
        &["ASC", "FOO"],
        &["LIMIT", "0", "1", "FOO"],
        &["FOO", "LIMIT", "a", "b"],
        &["LIMIT", "a", "b", "FOO"],
        &["DESC", "GET"],
    ] {
        let mut c = vec!["SORT", "l"];
        c.extend_from_slice(args);
        p.same(&c);
        c[0] = "SORT_RO";
        p.same(&c);
        c[1] = "str";
        p.same(&c);
    }
    // SORT_RO has no STORE
    p.same(&["SORT_RO", "l", "STORE", "dst"]);
    p.same(&["EXISTS", "dst"]);
    p.same(&["SORT_RO", "nosuch", "STORE", "dst"]);
});

diff_test!(sort_in_transactions, |p| {
    rpush(p, "l", &strs(&["b", "a", "c"]));
    p.same(&["MULTI"]);
    p.same(&["SORT", "l", "ALPHA", "STORE", "d"]);
    p.same(&["SORT_RO", "l", "ALPHA", "DESC"]);
    p.same(&["BITFIELD", "bf", "INCRBY", "u8", "0", "300"]);
    p.same(&["LCS", "l", "d"]);
    p.same(&["EXEC"]);
    p.same(&["LRANGE", "d", "0", "-1"]);
});

/// One random SORT over random data: lists, sets and sorted sets holding
/// integers, floats and words; weights in strings and hashes.
fn random_sort_round(p: &mut ConnPair, rng: &mut StdRng) {
    p.same(&["FLUSHALL"]);
    let n = rng.gen_range(0..40);
    let kind = rng.gen_range(0..3);
    let numeric = rng.gen_bool(0.6);
    let elem = |rng: &mut StdRng, i: usize| -> String {
        if numeric {
            match rng.gen_range(0..4) {
                0 => rng.gen_range(-50..50).to_string(),
                1 => format!("{:.2}", rng.gen_range(-100.0..100.0)),
                2 => format!("{}e{}", rng.gen_range(1..9), rng.gen_range(-3..4)),
                _ => rng.gen_range(0..1000).to_string(),
            }
        } else {
            let len = rng.gen_range(0..4);
            let mut w: String = (0..len)
                .map(|_| (b"abcABC09 _~"[rng.gen_range(0..11)]) as char)
                .collect();
            if kind != 0 {
                w.push_str(&i.to_string());
            }
            w
        }
    };
    let elems: Vec<String> = (0..n).map(|i| elem(rng, i)).collect();
    match kind {
        0 => rpush(p, "k", &elems),
        1 => sadd(p, "k", &elems),
        _ => zadd(
            p,
            "k",
            &elems
                .iter()
                .map(|e| (rng.gen_range(-5..5).to_string(), e.clone()))
                .collect::<Vec<_>>(),
        ),
    }
    // Weights: sets and sorted sets get distinct ones (their load order in
    // Redis is a hash order, so ties could not be compared).
    let distinct = kind != 0;
    let mut used = std::collections::HashSet::new();
    for (i, e) in elems.iter().enumerate() {
        if !distinct && rng.gen_bool(0.2) {
            continue;
        }
        let mut w = if distinct {
            format!("{}", i * 10 + rng.gen_range(0..10))
        } else {
            rng.gen_range(-20..20).to_string()
        };
        if rng.gen_bool(0.3) {
            w = format!("{w}.5");
        }
        if distinct && !used.insert(w.clone()) {
            w = format!("{w}x{i}");
        }
        p.same(&[s("SET"), format!("w_{e}"), w.clone()]);
        p.same(&[
            s("HSET"),
            format!("h_{e}"),
            s("w"),
            w,
            s("n"),
            format!("n{i}"),
        ]);
    }
    for _ in 0..8 {
        let mut c = vec![
            s(if rng.gen_bool(0.5) { "SORT" } else { "SORT_RO" }),
            s("k"),
        ];
        let by = rng.gen_range(0..4);
        match by {
            1 => c.extend([s("BY"), s("w_*")]),
            2 => c.extend([s("BY"), s("h_*->w")]),
            3 => c.extend([s("BY"), s("nosort")]),
            _ => {}
        }
        if rng.gen_bool(0.5) {
            c.push(s("ALPHA"));
        }
        if rng.gen_bool(0.4) {
            c.push(s(if rng.gen_bool(0.5) { "DESC" } else { "ASC" }));
        }
        let limited = rng.gen_bool(0.4);
        if limited {
            c.extend([
                s("LIMIT"),
                rng.gen_range(-2..n as i64 + 3).to_string(),
                rng.gen_range(-2..n as i64 + 3).to_string(),
            ]);
        }
        for _ in 0..rng.gen_range(0..3) {
            c.push(s("GET"));
            c.push(s(
                ["#", "w_*", "h_*->n", "h_*->nosuch", "nostar"][rng.gen_range(0..5)]
            ));
        }
        let mut store = false;
        if c[0] == "SORT" && rng.gen_bool(0.3) {
            c.extend([s("STORE"), s("dst")]);
            store = true;
        }
        // An unsorted set has no defined order in Redis (unless it is an
        // intset, walked in numeric order): compare what can be compared.
        let intset = elems
            .iter()
            .all(|e| e.parse::<i64>().is_ok_and(|n| n.to_string() == *e));
        if kind == 1 && by == 3 && !store && !intset {
            if limited {
                p.same_shape(&c);
            } else {
                p.same_unordered(&c);
            }
            continue;
        }
        same(p, &c);
        if store {
            p.same(&["LRANGE", "dst", "0", "-1"]);
            p.same(&["TYPE", "dst"]);
        }
    }
}

diff_test!(sort_random, |p| {
    let mut rng = StdRng::seed_from_u64(0x50127);
    for _ in 0..60 {
        random_sort_round(p, &mut rng);
    }
});

// ---------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------

diff_test!(lcs_basic, |p| {
    p.same(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    p.same(&["LCS", "key1", "key2"]);
    p.same(&["LCS", "key1", "key2", "LEN"]);
    p.same(&["LCS", "key1", "key2", "IDX"]);
    p.same(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"]);
    p.same(&[
        "LCS",
        "key1",
        "key2",
        "IDX",
        "MINMATCHLEN",
        "4",
        "WITHMATCHLEN",
    ]);
    p.same(&["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]);
    p.same(&["LCS", "key1", "key2", "WITHMATCHLEN"]);
    p.same(&["LCS", "key1", "key2", "MINMATCHLEN", "2"]);
    p.same(&[
        "LCS",
        "key1",
        "key2",
        "LEN",
        "WITHMATCHLEN",
        "MINMATCHLEN",
        "3",
    ]);
    p.same(&[
        "lcs",
        "key1",
        "key2",
        "idx",
        "minmatchlen",
        "-5",
        "withmatchlen",
    ]);
    p.same(&[
        "LCS",
        "key1",
        "key2",
        "IDX",
        "MINMATCHLEN",
        "1",
        "MINMATCHLEN",
        "5",
    ]);
    p.same(&["LCS", "key2", "key1", "IDX"]);
    p.same(&["LCS", "key1", "key1", "IDX", "WITHMATCHLEN"]);
    p.same(&["LCS", "key1", "nosuch"]);
    p.same(&["LCS", "nosuch", "key1", "IDX"]);
    p.same(&["LCS", "nosuch", "nosuch2", "LEN"]);
    p.same(&["SET", "empty", ""]);
    p.same(&["LCS", "empty", "key1", "IDX", "WITHMATCHLEN"]);
    p.same(&["SET", "num", "12345"]);
    p.same(&["SET", "num2", "2945"]);
    p.same(&["LCS", "num", "num2", "IDX", "WITHMATCHLEN"]);
    p.same(&[&b"SET"[..], b"bin1", b"a\x00b\xffc\r\n"]);
    p.same(&[&b"SET"[..], b"bin2", b"\x00\xff\r\nab"]);
    p.same(&["LCS", "bin1", "bin2"]);
    p.same(&["LCS", "bin1", "bin2", "IDX", "WITHMATCHLEN"]);
});

diff_test!(lcs_errors, |p| {
    p.same(&["LCS"]);
    p.same(&["LCS", "a"]);
    p.same(&["MSET", "a", "abc", "b", "bcd"]);
    p.same(&["RPUSH", "list", "x"]);
    p.same(&["LCS", "a", "list"]);
    p.same(&["LCS", "list", "a"]);
    p.same(&["LCS", "list", "nosuch", "LEN", "IDX"]);
    p.same(&["LCS", "a", "b", "LEN", "IDX"]);
    p.same(&["LCS", "a", "b", "IDX", "LEN"]);
    p.same(&["LCS", "a", "b", "FOO"]);
    p.same(&["LCS", "a", "b", "MINMATCHLEN"]);
    p.same(&["LCS", "a", "b", "MINMATCHLEN", "x"]);
    p.same(&["LCS", "a", "b", "MINMATCHLEN", "1.5"]);
    p.same(&["LCS", "a", "b", "MINMATCHLEN", "99999999999999999999"]);
    p.same(&["LCS", "a", "b", "MINMATCHLEN", "x", "LEN", "IDX"]);
    p.same(&["LCS", "a", "b", "LEN", "IDX", "FOO"]);
    p.same(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "9223372036854775807"]);
    // the transient table would exceed proto-max-bulk-len (512 MiB)
    let big = "x".repeat(12_000);
    p.same(&["SET", "big1", &big]);
    p.same(&["SET", "big2", &big]);
    p.same(&["LCS", "big1", "big2"]);
    p.same(&["LCS", "big1", "big2", "LEN"]);
    p.same(&["LCS", "big1", "big2", "IDX"]);
    // ... while one long and one short string is fine
    p.same(&["SET", "short", "xyxxz"]);
    p.same(&["LCS", "big1", "short", "IDX", "WITHMATCHLEN"]);
});

diff_test!(lcs_random, |p| {
    let mut rng = StdRng::seed_from_u64(0x1c5);
    for round in 0..150 {
        let alphabet: &[u8] = [&b"ab"[..], b"abc", b"abcdefgh", b"a\x00\xff"][round % 4];
        let mut gen = |rng: &mut StdRng| -> Vec<u8> {
            let len = rng.gen_range(0..40);
            (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect()
        };
        let (a, b) = (gen(&mut rng), gen(&mut rng));
        p.same(&[&b"SET"[..], b"a", &a]);
        p.same(&[&b"SET"[..], b"b", &b]);
        let mut c: Vec<String> = vec![s("LCS"), s("a"), s("b")];
        match rng.gen_range(0..3) {
            0 => {}
            1 => c.push(s("LEN")),
            _ => c.push(s("IDX")),
        }
        if rng.gen_bool(0.5) {
            c.extend([s("MINMATCHLEN"), rng.gen_range(-1..5).to_string()]);
        }
        if rng.gen_bool(0.5) {
            c.push(s("WITHMATCHLEN"));
        }
        same(p, &c);
        p.same(&["LCS", "b", "a", "IDX", "WITHMATCHLEN"]);
        p.same(&["LCS", "a", "b"]);
    }
});

// ---------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------

diff_test!(bitfield_basic, |p| {
    p.same(&[
        "BITFIELD", "k", "SET", "i8", "0", "100", "GET", "u4", "0", "GET", "i4", "4",
    ]);
    p.same(&["GET", "k"]);
    p.same(&[
        "BITFIELD", "k", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100",
    ]);
    p.same(&["GET", "k"]);
    p.same(&["STRLEN", "k"]);
    p.same(&[
        "BITFIELD", "k", "GET", "u8", "#0", "GET", "u8", "#1", "SET", "u8", "#2", "255", "GET",
        "i8", "#2",
    ]);
    p.same(&["BITFIELD", "k"]);
    p.same(&["BITFIELD_RO", "k"]);
    p.same(&[
        "BITFIELD_RO",
        "k",
        "GET",
        "i64",
        "0",
        "GET",
        "u63",
        "1",
        "GET",
        "i1",
        "7",
        "GET",
        "u1",
        "7",
    ]);
    p.same(&["BITFIELD", "nosuch", "GET", "u8", "0", "GET", "i64", "1000"]);
    p.same(&["EXISTS", "nosuch"]);
    p.same(&["BITFIELD_RO", "nosuch", "GET", "u8", "0"]);
    // the documented examples
    p.same(&[
        "BITFIELD", "mykey", "INCRBY", "i5", "100", "1", "GET", "u4", "0",
    ]);
    p.same(&[
        "BITFIELD", "mystring", "SET", "i8", "#0", "100", "SET", "i8", "#1", "200",
    ]);
    p.same(&[
        "BITFIELD", "mykey", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102",
        "1",
    ]);
    p.same(&[
        "BITFIELD", "mykey", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102",
        "1",
    ]);
    p.same(&[
        "BITFIELD", "mykey", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102",
        "1",
    ]);
    p.same(&[
        "BITFIELD", "mykey", "OVERFLOW", "FAIL", "incrby", "u2", "102", "1",
    ]);
    p.same(&["GET", "mykey"]);
    // FAIL on a new key still creates it, zero-filled, as Redis does
    p.same(&["BITFIELD", "nk", "OVERFLOW", "FAIL", "SET", "u2", "0", "7"]);
    p.same(&["GET", "nk"]);
    p.same(&["SET", "n", "123"]);
    p.same(&["OBJECT", "ENCODING", "n"]);
    p.same(&["BITFIELD", "n", "GET", "u8", "0"]);
    p.same(&["OBJECT", "ENCODING", "n"]);
    p.same(&[
        "BITFIELD", "n", "OVERFLOW", "FAIL", "SET", "u8", "100", "1000",
    ]);
    p.same(&["GET", "n"]);
    p.same(&["OBJECT", "ENCODING", "n"]);
    p.same(&["SET", "n", "1"]);
    p.same(&["BITFIELD", "n", "SET", "u8", "0", "49"]);
    p.same(&["OBJECT", "ENCODING", "n"]);
    // a TTL survives
    p.same(&["SET", "t", "ab", "EX", "1000"]);
    p.same(&["BITFIELD", "t", "SET", "u16", "8", "65535"]);
    p.same(&["TTL", "t"]);
    p.same(&["GET", "t"]);
    // the widest fields at string edges
    p.same(&["SET", "e", "\u{1}"]);
    for t in ["i64", "u63", "i63", "u1", "i1", "i32", "u32"] {
        p.same(&[
            "BITFIELD", "e", "GET", t, "3", "GET", t, "60", "GET", t, "#1",
        ]);
        p.same(&["BITFIELD", "e", "SET", t, "5", "-1", "GET", t, "5"]);
    }
    p.same(&["GET", "e"]);
});

diff_test!(bitfield_errors, |p| {
    p.same(&["BITFIELD"]);
    p.same(&["BITFIELD_RO"]);
    p.same(&["SET", "k", "x"]);
    p.same(&["RPUSH", "list", "x"]);
    p.same(&["BITFIELD", "list", "GET", "u8", "0"]);
    p.same(&["BITFIELD", "list", "SET", "u8", "0", "1"]);
    p.same(&["BITFIELD_RO", "list", "GET", "u8", "0"]);
    p.same(&["BITFIELD", "list"]);
    let cases: &[&[&str]] = &[
        &["GET"],
        &["GET", "u8"],
        &["SET", "u8", "0"],
        &["INCRBY", "u8", "0"],
        &["OVERFLOW"],
        &["OVERFLOW", "foo"],
        &["OVERFLOW", "wrap", "GET"],
        &["FOO", "u8", "0"],
        &["GET", "u64", "0"],
        &["GET", "i65", "0"],
        &["GET", "i0", "0"],
        &["GET", "u0", "0"],
        &["GET", "I8", "0"],
        &["GET", "U8", "0"],
        &["GET", "8", "0"],
        &["GET", "i", "0"],
        &["GET", "i08", "0"],
        &["GET", "i+8", "0"],
        &["GET", "i-8", "0"],
        &["GET", "x8", "0"],
        &["GET", "", "0"],
        &["GET", "u8", "-1"],
        &["GET", "u8", "x"],
        &["GET", "u8", "1.5"],
        &["GET", "u8", "#-1"],
        &["GET", "u8", "#"],
        &["GET", "u8", "##1"],
        &["GET", "u8", "4294967295"],
        &["GET", "u8", "4294967296"],
        &["GET", "u8", "#536870911"],
        &["GET", "u8", "#536870912"],
        &["GET", "u8", "#2305843009213693952"],
        &["GET", "i8", "#1152921504606846976"],
        &["GET", "u8", "9223372036854775808"],
        &["SET", "u8", "0", "x"],
        &["SET", "u8", "0", "1.0"],
        &["SET", "u8", "0", "9223372036854775808"],
        &["INCRBY", "u8", "0", ""],
        &["SET", "u8", "x", "x"],
        &["SET", "x", "x", "x"],
        &["GET", "u8", "0", "SET", "i8", "0", "1", "GET", "x", "0"],
        &["GET", "u8", "0", "INCRBY", "i8", "0", "1", "FOO"],
    ];
    for c in cases {
        for cmd in ["BITFIELD", "BITFIELD_RO"] {
            let mut v = vec![cmd, "k"];
            v.extend_from_slice(c);
            p.same(&v);
            v[1] = "list";
            p.same(&v);
        }
    }
    p.same(&["BITFIELD_RO", "k", "SET", "u8", "0", "1"]);
    p.same(&[
        "BITFIELD_RO",
        "k",
        "GET",
        "u8",
        "0",
        "INCRBY",
        "u8",
        "0",
        "1",
    ]);
    p.same(&["BITFIELD_RO", "k", "OVERFLOW", "SAT"]);
    p.same(&["BITFIELD_RO", "nosuch", "INCRBY", "u8", "0", "1"]);
    p.same(&["GET", "k"]);
    p.same(&["EXISTS", "nosuch"]);
});

/// Values that sit on the edges of every field width.
fn edge_values(rng: &mut StdRng) -> String {
    let bits = rng.gen_range(1..=64u32);
    let pow = |b: u32| -> i128 { 1i128 << b.min(64) };
    let v: i128 = match rng.gen_range(0..12) {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => pow(bits - 1) - 1,
        4 => pow(bits - 1),
        5 => -pow(bits - 1),
        6 => -pow(bits - 1) - 1,
        7 => pow(bits) - 1,
        8 => pow(bits),
        9 => i64::MAX as i128 - rng.gen_range(0..3),
        10 => i64::MIN as i128 + rng.gen_range(0..3),
        _ => rng.gen_range(-1000..1000),
    };
    v.clamp(i64::MIN as i128, i64::MAX as i128).to_string()
}

diff_test!(bitfield_random, |p| {
    let mut rng = StdRng::seed_from_u64(0xb17f);
    for round in 0..400 {
        if round % 40 == 0 {
            p.same(&["DEL", "bf"]);
        }
        let mut c = vec![
            s(if rng.gen_bool(0.15) {
                "BITFIELD_RO"
            } else {
                "BITFIELD"
            }),
            s("bf"),
        ];
        for _ in 0..rng.gen_range(1..6) {
            if rng.gen_bool(0.25) {
                c.extend([
                    s("OVERFLOW"),
                    s(["WRAP", "SAT", "FAIL", "wrap", "sat", "fail"][rng.gen_range(0..6)]),
                ]);
            }
            let signed = rng.gen_bool(0.5);
            let bits = if signed {
                rng.gen_range(1..=64)
            } else {
                rng.gen_range(1..=63)
            };
            let ty = format!("{}{}", if signed { "i" } else { "u" }, bits);
            let offset = if rng.gen_bool(0.3) {
                format!("#{}", rng.gen_range(0..6))
            } else {
                rng.gen_range(0..130).to_string()
            };
            match rng.gen_range(0..3) {
                0 => c.extend([s("GET"), ty, offset]),
                1 => c.extend([s("SET"), ty, offset, edge_values(&mut rng)]),
                _ => c.extend([s("INCRBY"), ty, offset, edge_values(&mut rng)]),
            }
        }
        same(p, &c);
        p.same(&["GET", "bf"]);
    }
});

// ---------------------------------------------------------------------------
// Keyspace notifications
// ---------------------------------------------------------------------------

fn subscriber(conn: &mut RawConn) {
    let r = conn.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
    assert!(r.starts_with(b"*3") || r.starts_with(b">3"), "{r:?}");
}

/// Every frame a subscriber received up to its PING marker.
fn drain(conn: &mut RawConn) -> Vec<String> {
    conn.send(&["PING", "end-of-events"]);
    let mut frames = Vec::new();
    loop {
        let f = String::from_utf8_lossy(&conn.read_reply()).into_owned();
        if f.contains("end-of-events") {
            return frames;
        }
        frames.push(f);
        assert!(frames.len() < 10_000, "runaway event stream");
    }
}

/// Runs `cmds` on both servers with `flags` and compares the event streams.
fn compare_events(flags: &str, cmds: &[&[&str]]) {
    let mut p = Pair::proto(2);
    p.same(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut sub_redis = p.redis.connect();
    let mut sub_ferry = p.subject.connect();
    subscriber(&mut sub_redis);
    subscriber(&mut sub_ferry);
    for c in cmds {
        p.same(c);
    }
    let (a, b) = (drain(&mut sub_redis), drain(&mut sub_ferry));
    assert!(!a.is_empty(), "no events at all: the test proves nothing");
    if a != b {
        let show = |v: &Vec<String>| {
            v.iter()
                .map(|f| f.replace("\r\n", " "))
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        panic!(
            "event streams differ for flags {flags:?}\nredis:\n  {}\nferry:\n  {}",
            show(&a),
            show(&b)
        );
    }
}

const EVENT_COMMANDS: &[&[&str]] = &[
    &["RPUSH", "l", "3", "1", "2"],
    &["SET", "w_1", "5"],
    &["SORT", "l"],
    &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "n_*"],
    &["SORT", "l", "STORE", "d"],
    &["SORT", "l", "STORE", "d"],
    &["SET", "s", "x"],
    &["EXPIRE", "s", "100"],
    &["SORT", "l", "STORE", "s"],
    &["SORT", "nosuch", "STORE", "d"],
    &["SORT", "nosuch", "STORE", "d"],
    &["SORT_RO", "l", "BY", "nosort", "GET", "h_*->f"],
    &["SORT", "l", "LIMIT", "9", "9", "STORE", "s"],
    &["SET", "a", "abc"],
    &["LCS", "a", "b"],
    &["LCS", "a", "a", "IDX"],
    &["BITFIELD", "bf", "GET", "u8", "0"],
    &["BITFIELD_RO", "bf", "GET", "u8", "0"],
    &["BITFIELD", "bf", "SET", "u8", "0", "1"],
    &["BITFIELD", "bf", "SET", "u8", "0", "1"],
    &["BITFIELD", "bf", "SET", "u8", "16", "0"],
    &["BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "u2", "0", "7"],
    &["BITFIELD", "bf2", "OVERFLOW", "FAIL", "SET", "u2", "0", "7"],
    &[
        "BITFIELD", "bf3", "OVERFLOW", "FAIL", "SET", "u2", "0", "7", "INCRBY", "u2", "0", "1",
    ],
    &["BITFIELD", "bf", "INCRBY", "i8", "0", "0"],
    &["BITFIELD", "bf", "INCRBY", "i8", "0", "1", "GET", "u4", "0"],
    &[
        "BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "u2", "100", "7",
    ],
];

#[test]
fn events_all_classes() {
    compare_events("KEA", EVENT_COMMANDS);
}

#[test]
fn events_with_new_and_keymiss() {
    compare_events("KEAnm", EVENT_COMMANDS);
}

#[test]
fn events_list_and_string_only() {
    compare_events("Kl$", EVENT_COMMANDS);
}
