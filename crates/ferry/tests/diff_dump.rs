//! DUMP, RESTORE and MIGRATE compared with redis-server 7.0: payloads
//! move between the two servers in both directions; where Redis's element
//! order is defined the DUMP bytes are identical; errors, TTLs and
//! keyspace events match.

#[macro_use]
mod common;

use common::{parse_one, ConnPair, Pair, RawConn, Subject};

type Argv = Vec<Vec<u8>>;

fn argv(parts: &[&[u8]]) -> Argv {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn s(parts: &[&str]) -> Argv {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// A command with many generated arguments after a fixed head.
fn many(head: &[&str], tail: impl Iterator<Item = String>) -> Argv {
    let mut v = s(head);
    v.extend(tail.map(String::into_bytes));
    v
}

/// The bulk string in a reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    parse_one(reply)
        .as_bytes()
        .unwrap_or_else(|| panic!("not a bulk reply: {}", String::from_utf8_lossy(reply)))
}

/// What the key holds, read with typed commands (order-free where the
/// type's order is not defined).
fn compare_content(p: &mut ConnPair, key: &[u8], ktype: &str) {
    let k = key.to_vec();
    p.same(&argv(&[b"TYPE", &k]));
    match ktype {
        "string" => {
            p.same(&argv(&[b"GET", &k]));
        }
        "list" => {
            p.same(&argv(&[b"LRANGE", &k, b"0", b"-1"]));
        }
        "set" => {
            p.same(&argv(&[b"SCARD", &k]));
            p.same_unordered(&argv(&[b"SMEMBERS", &k]));
        }
        "zset" => {
            p.same(&argv(&[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]));
        }
        "hash" => {
            p.same(&argv(&[b"HLEN", &k]));
            p.same_unordered(&argv(&[b"HKEYS", &k]));
            p.same_unordered(&argv(&[b"HVALS", &k]));
        }
        "stream" => {
            p.same(&argv(&[b"XINFO", b"STREAM", &k, b"FULL"]));
            p.same(&argv(&[b"XRANGE", &k, b"-", b"+"]));
        }
        other => panic!("unknown type {other}"),
    }
}

/// DUMP `key` on both servers; each payload is restored on both servers
/// under a new name, and the results compared. With `identical`, the two
/// DUMP payloads must be byte-identical too.
fn cross(p: &mut ConnPair, key: &str, ktype: &str, identical: bool) {
    cross_as(p, key, ktype, identical, true);
}

/// [`cross`]; without `compare_source`, the two source keys are not
/// compared (a stream's delivery and seen times are each server's clock).
fn cross_as(p: &mut ConnPair, key: &str, ktype: &str, identical: bool, compare_source: bool) {
    let from_redis = bulk(&p.a.cmd(&["DUMP", key]));
    let from_ferry = bulk(&p.b.cmd(&["DUMP", key]));
    if identical {
        assert_eq!(
            common::escape(&from_redis),
            common::escape(&from_ferry),
            "DUMP {key} differs"
        );
    }
    if compare_source {
        compare_content(p, key.as_bytes(), ktype);
    } else {
        p.same(&["XRANGE", key, "-", "+"]);
        p.same(&["XINFO", "GROUPS", key]);
    }
    for (tag, payload) in [("r", from_redis), ("f", from_ferry)] {
        let new = format!("{key}:{tag}").into_bytes();
        p.same_expect(&argv(&[b"RESTORE", &new, b"0", &payload]), b"+OK\r\n");
        compare_content(p, &new, ktype);
        p.same(&argv(&[b"PTTL", &new]));
        p.same(&argv(&[b"DEL", &new]));
    }
}

fn run(p: &mut ConnPair, cmds: &[Argv]) {
    for c in cmds {
        let r = p.same(c);
        assert!(
            !r.starts_with(b"-"),
            "setup failed: {}",
            String::from_utf8_lossy(&r)
        );
    }
}

diff_test!(strings, |p| {
    let long_int = "9223372036854775807".to_string();
    let cases: Vec<(&str, String)> = vec![
        ("s:empty", String::new()),
        ("s:small", "hello".into()),
        ("s:int8", "-12".into()),
        ("s:int16", "12345".into()),
        ("s:int32", "-2147483648".into()),
        ("s:int11", "12345678901".into()),
        ("s:int64", long_int),
        ("s:notint", "007".into()),
        ("s:negzero", "-0".into()),
        ("s:twenty", "abcdefghijabcdefghij".into()),
        ("s:compress", "abc".repeat(40)),
        (
            "s:incompressible",
            (0..60u8).map(|i| (b'!' + i) as char).collect(),
        ),
        ("s:big", "0123456789".repeat(5000)),
    ];
    for (k, v) in &cases {
        p.same(&["SET", k, v]);
        cross(p, k, "string", true);
    }
    p.same(&["APPEND", "s:appended", "12"]);
    p.same(&["APPEND", "s:appended", "34"]);
    cross(p, "s:appended", "string", true);
    p.same(&["INCRBYFLOAT", "s:float", "1.5"]);
    cross(p, "s:float", "string", true);
    p.same(&["SET", "s:ttl", "v", "PX", "100000"]);
    let r = bulk(&p.a.cmd(&["DUMP", "s:ttl"]));
    // DUMP carries no TTL.
    assert_eq!(r, bulk(&p.b.cmd(&["DUMP", "s:ttl"])));
    p.same(&["DUMP", "missing"]);
    p.same(&["DUMP"]);
    p.same(&["DUMP", "a", "b"]);
});

diff_test!(lists, |p| {
    run(
        p,
        &[s(&[
            "RPUSH", "l:small", "a", "b", "c", "1", "2", "300", "-70000",
        ])],
    );
    cross(p, "l:small", "list", true);
    // Several quicklist nodes, each LZF-compressed.
    run(
        p,
        &[many(
            &["RPUSH", "l:big"],
            (0..6000).map(|i| format!("item-{}", i % 50)),
        )],
    );
    cross(p, "l:big", "list", true);
    run(
        p,
        &[many(
            &["RPUSH", "l:ints"],
            (0..3000).map(|i| (i * 7919).to_string()),
        )],
    );
    cross(p, "l:ints", "list", true);
    run(
        p,
        &[many(
            &["RPUSH", "l:large-elems"],
            (0..40).map(|i| format!("{i}").repeat(300)),
        )],
    );
    cross(p, "l:large-elems", "list", true);
    run(
        p,
        &[many(
            &["RPUSH", "l:rand"],
            (0..500).map(|i: u64| format!("{:x}", i.wrapping_mul(0x9e3779b97f4a7c15))),
        )],
    );
    cross(p, "l:rand", "list", true);
    // LPUSH fills nodes from the other end: the content still matches.
    run(
        p,
        &[many(
            &["LPUSH", "l:left"],
            (0..5000).map(|i| format!("e{i}")),
        )],
    );
    cross(p, "l:left", "list", false);
});

diff_test!(sets, |p| {
    run(
        p,
        &[s(&["SADD", "set:int16", "1", "2", "3", "-5", "32767"])],
    );
    cross(p, "set:int16", "set", true);
    run(p, &[s(&["SADD", "set:int32", "1", "70000", "-70000"])]);
    cross(p, "set:int32", "set", true);
    run(
        p,
        &[s(&[
            "SADD",
            "set:int64",
            "1",
            "9223372036854775807",
            "-9223372036854775808",
        ])],
    );
    cross(p, "set:int64", "set", true);
    run(
        p,
        &[many(
            &["SADD", "set:intset512"],
            (0..512).map(|i| (i * 3).to_string()),
        )],
    );
    cross(p, "set:intset512", "set", true);
    run(
        p,
        &[many(
            &["SADD", "set:ints513"],
            (0..513).map(|i| i.to_string()),
        )],
    );
    cross(p, "set:ints513", "set", false);
    run(p, &[s(&["SADD", "set:strings", "a", "b", "c", "1"])]);
    cross(p, "set:strings", "set", false);
    run(
        p,
        &[many(
            &["SADD", "set:big"],
            (0..2000).map(|i| format!("member:{i}")),
        )],
    );
    cross(p, "set:big", "set", false);
});

diff_test!(zsets, |p| {
    run(
        p,
        &[s(&[
            "ZADD",
            "z:small",
            "1e17",
            "a",
            "1.5",
            "b",
            "-0",
            "c",
            "3",
            "d",
            "-inf",
            "e",
            "inf",
            "f",
            "0.1",
            "g",
            "-2.5e-10",
            "h",
            "4611686018427387904",
            "i",
            "9007199254740993",
            "j",
            "123456789012",
            "k",
        ])],
    );
    cross(p, "z:small", "zset", true);
    run(
        p,
        &[many(
            &["ZADD", "z:128"],
            (0..128).flat_map(|i| [format!("{}", i as f64 / 4.0), format!("m{i}")]),
        )],
    );
    cross(p, "z:128", "zset", true);
    // Over 128 members, or a member over 64 bytes: ZSET_2, highest first.
    run(
        p,
        &[many(
            &["ZADD", "z:big"],
            (0..3000).flat_map(|i| [format!("{}", (i % 97) as f64 / 3.0), format!("member-{i}")]),
        )],
    );
    cross(p, "z:big", "zset", true);
    run(
        p,
        &[s(&["ZADD", "z:longmember", "1", &"x".repeat(65), "2", "y"])],
    );
    cross(p, "z:longmember", "zset", true);
});

diff_test!(hashes, |p| {
    // Fields added in byte order: the order ferry keeps, and Redis's
    // listpack insertion order.
    run(
        p,
        &[s(&[
            "HSET", "h:small", "a", "1", "b", "hello", "c", "-300", "d", "",
        ])],
    );
    cross(p, "h:small", "hash", true);
    run(
        p,
        &[many(
            &["HSET", "h:512"],
            (0..512).flat_map(|i| [format!("f{i:04}"), format!("value-{}", i % 10)]),
        )],
    );
    cross(p, "h:512", "hash", true);
    run(
        p,
        &[many(
            &["HSET", "h:big"],
            (0..2000).flat_map(|i| [format!("f{i:05}"), i.to_string()]),
        )],
    );
    cross(p, "h:big", "hash", false);
    run(p, &[s(&["HSET", "h:longvalue", "a", &"v".repeat(65)])]);
    cross(p, "h:longvalue", "hash", false);
});

/// Stream ids are given explicitly so both servers hold the same ids.
fn xadd_many(key: &str, n: usize, fields: impl Fn(usize) -> Vec<String>) -> Vec<Argv> {
    (0..n)
        .map(|i| {
            let mut v = s(&["XADD", key, &format!("{}-{}", 1000 + i / 3, i % 3)]);
            v.extend(fields(i).into_iter().map(String::into_bytes));
            v
        })
        .collect()
}

diff_test!(streams_without_groups, |p| {
    run(
        p,
        &xadd_many("x:small", 5, |i| {
            vec!["f".into(), format!("v{i}"), "n".into(), i.to_string()]
        }),
    );
    cross(p, "x:small", "stream", true);
    // Several nodes (100 entries each), varying fields, integer values.
    run(
        p,
        &xadd_many("x:big", 450, |i| {
            if i.is_multiple_of(11) {
                vec!["other".into(), (i * 1000).to_string()]
            } else {
                vec![
                    "field".into(),
                    format!("value-{i}"),
                    "num".into(),
                    (i as i64 - 200).to_string(),
                ]
            }
        }),
    );
    cross(p, "x:big", "stream", true);
    // Big entries: nodes cut by bytes.
    run(
        p,
        &xadd_many("x:bytes", 30, |i| {
            vec!["payload".into(), format!("{i}").repeat(400)]
        }),
    );
    cross(p, "x:bytes", "stream", true);
    // An empty stream (XADD then XDEL; or created by XGROUP MKSTREAM).
    run(
        p,
        &[s(&["XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM"])],
    );
    cross(p, "x:empty", "stream", false);
    run(
        p,
        &[
            s(&["XADD", "x:setid", "5-5", "a", "b"]),
            s(&["XSETID", "x:setid", "10-0"]),
        ],
    );
    cross(p, "x:setid", "stream", true);
});

diff_test!(streams_with_groups, |p| {
    run(
        p,
        &xadd_many("x:g", 250, |i| vec!["f".into(), format!("v{i}")]),
    );
    run(
        p,
        &[
            s(&["XGROUP", "CREATE", "x:g", "g1", "0"]),
            s(&["XGROUP", "CREATE", "x:g", "g2", "$"]),
            s(&[
                "XGROUP",
                "CREATE",
                "x:g",
                "g3",
                "1010-1",
                "ENTRIESREAD",
                "5",
            ]),
            s(&["XGROUP", "CREATECONSUMER", "x:g", "g2", "idle-one"]),
            s(&[
                "XREADGROUP",
                "GROUP",
                "g1",
                "alice",
                "COUNT",
                "5",
                "STREAMS",
                "x:g",
                ">",
            ]),
            s(&[
                "XREADGROUP",
                "GROUP",
                "g1",
                "bob",
                "COUNT",
                "3",
                "STREAMS",
                "x:g",
                ">",
            ]),
            s(&["XACK", "x:g", "g1", "1000-1"]),
            s(&[
                "XREADGROUP",
                "GROUP",
                "g3",
                "carol",
                "COUNT",
                "2",
                "STREAMS",
                "x:g",
                ">",
            ]),
        ],
    );
    // Delivery and seen times differ between the servers: compare what
    // each payload restores to, not the payloads.
    cross_as(p, "x:g", "stream", false, false);
    // An empty stream with groups.
    run(
        p,
        &[
            s(&["XADD", "x:eg", "1-1", "a", "b"]),
            s(&["XGROUP", "CREATE", "x:eg", "g", "0"]),
            s(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "x:eg", ">"]),
            s(&["XDEL", "x:eg", "1-1"]),
        ],
    );
    cross_as(p, "x:eg", "stream", false, false);
});

/// Redis's CRC-64 of `data` (Jones polynomial, reflected).
fn crc64(data: &[u8]) -> u64 {
    ferry_rdb::crc64(data)
}

/// `body` sealed with RDB `version` and a correct checksum.
fn seal(body: &[u8], version: u16) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    let c = crc64(&v);
    v.extend_from_slice(&c.to_le_bytes());
    v
}

diff_test!(restore_errors, |p| {
    p.same(&["SET", "src", "value"]);
    let good = bulk(&p.a.cmd(&["DUMP", "src"]));
    let body = &good[..good.len() - 10];
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 0xff;
    let mut bad_data = good.clone();
    bad_data[2] ^= 0x01;
    let cases: Vec<Vec<u8>> = vec![
        bad_crc,
        bad_data,
        seal(body, 12),
        seal(&body[..body.len() - 1], 10),
        seal(&[], 10),
        seal(&[99], 10),
        seal(&[7, 1, 2, 3], 10),        // a module type
        seal(&[1, 0], 10),              // an empty list
        seal(&[11, 4, 2, 0, 0, 0], 10), // a truncated intset
        b"short".to_vec(),
        Vec::new(),
    ];
    for payload in &cases {
        p.same(&argv(&[b"RESTORE", b"k", b"0", payload]));
        p.same(&["EXISTS", "k"]);
    }
    // Options.
    let g = good.as_slice();
    for opts in [
        &[&b"IDLETIME"[..], b"-1"][..],
        &[b"IDLETIME", b"abc"],
        &[b"IDLETIME"],
        &[b"FREQ", b"256"],
        &[b"FREQ", b"-1"],
        &[b"FREQ", b"1.5"],
        &[b"FREQ"],
        &[b"IDLETIME", b"10", b"FREQ", b"5"],
        &[b"FREQ", b"5", b"IDLETIME", b"10"],
        &[b"BOGUS"],
        &[b"REPLACE", b"ABSTTL", b"IDLETIME", b"100"],
        &[b"REPLACE", b"FREQ", b"100"],
    ] {
        let mut a = argv(&[b"RESTORE", b"opt", b"0", g]);
        a.extend(opts.iter().map(|o| o.to_vec()));
        p.same(&a);
        p.same(&["GET", "opt"]);
        p.same(&["DEL", "opt"]);
    }
    // BUSYKEY comes before TTL and payload checks.
    p.same(&argv(&[b"RESTORE", b"src", b"0", g]));
    p.same(&argv(&[b"RESTORE", b"src", b"abc", b"junk"]));
    p.same(&argv(&[b"RESTORE", b"new", b"abc", g]));
    p.same(&argv(&[b"RESTORE", b"new", b"-1", g]));
    p.same(&argv(&[b"RESTORE", b"new", b"-1", b"junk"]));
    p.same(&argv(&[b"RESTORE", b"new", b"0", b"junk"]));
    p.same(&argv(&[b"RESTORE", b"src", b"0", g, b"REPLACE"]));
    p.same(&["GET", "src"]);
    // TTLs: relative, absolute, absolute in the past.
    p.same(&argv(&[b"RESTORE", b"t1", b"100000", g]));
    p.close_int(&["PTTL", "t1"], 1000);
    p.same(&argv(&[b"RESTORE", b"t2", b"4102444800000", g, b"ABSTTL"]));
    p.same(&["PEXPIRETIME", "t2"]);
    p.same(&argv(&[b"RESTORE", b"t3", b"1000", g, b"ABSTTL"]));
    p.same(&["EXISTS", "t3"]);
    p.same(&argv(&[
        b"RESTORE", b"src", b"1000", g, b"ABSTTL", b"REPLACE",
    ]));
    p.same(&["EXISTS", "src"]);
    p.same(&argv(&[b"RESTORE", b"t4", b"0", g, b"ABSTTL"]));
    p.same(&["PTTL", "t4"]);
    // Arity.
    p.same(&["RESTORE", "k", "0"]);
    p.same(&["RESTORE"]);
});

/// Payload forms only newer or older servers write: ferry reads them
/// (redis-server 7.0 refuses version 11, so this is checked on ferry).
#[test]
fn restore_other_versions() {
    let p = Pair::new();
    let mut f = p.subject.connect();
    let lp = |elems: &[&[u8]]| {
        let mut w = ferry_rdb::listpack::ListpackWriter::new();
        for e in elems {
            w.push_str(e);
        }
        w.finish()
    };
    let string = |out: &mut Vec<u8>, b: &[u8]| ferry_rdb::write_string(out, b);
    // SET_LISTPACK (7.2, RDB 11).
    let mut body = vec![20];
    string(&mut body, &lp(&[b"a", b"b", b"12"]));
    assert_eq!(
        f.cmd(&argv(&[b"RESTORE", b"s", b"0", &seal(&body, 11)])),
        b"+OK\r\n"
    );
    let m = parse_one(&f.cmd(&["SMEMBERS", "s"]));
    assert_eq!(m.elements().map(|e| e.len()), Some(3));
    // Version 9 (Redis 6.0): a ziplist list, a ziplist hash.
    let zl = |elems: &[&[u8]]| {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in elems {
            let start = body.len();
            body.push(prev as u8);
            body.push(e.len() as u8);
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let mut z = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&(elems.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(0xff);
        z
    };
    let mut body = vec![14, 1];
    string(&mut body, &zl(&[b"x", b"y"]));
    assert_eq!(
        f.cmd(&argv(&[b"RESTORE", b"ql", b"0", &seal(&body, 9)])),
        b"+OK\r\n"
    );
    assert_eq!(
        parse_one(&f.cmd(&["LRANGE", "ql", "0", "-1"]))
            .elements()
            .map(|e| e.len()),
        Some(2)
    );
    let mut body = vec![13];
    string(&mut body, &zl(&[b"f", b"v"]));
    assert_eq!(
        f.cmd(&argv(&[b"RESTORE", b"zh", b"0", &seal(&body, 9)])),
        b"+OK\r\n"
    );
    assert_eq!(f.cmd(&["HGET", "zh", "f"]), b"$1\r\nv\r\n");
    // STREAM_LISTPACKS_3 (7.2): consumers carry an active time too.
    let mut w = ferry_rdb::listpack::ListpackWriter::new();
    for i in [1i64, 0, 1] {
        w.push_int(i);
    }
    w.push_str(b"f");
    w.push_int(0);
    for i in [2i64, 0, 0] {
        w.push_int(i);
    }
    w.push_str(b"v");
    w.push_int(4);
    let mut body = vec![21, 1];
    let mut key = 5u64.to_be_bytes().to_vec();
    key.extend_from_slice(&1u64.to_be_bytes());
    string(&mut body, &key);
    string(&mut body, &w.finish());
    for v in [1u64, 5, 1, 5, 1, 0, 0, 1, 1] {
        ferry_rdb::write_length(&mut body, v); // length, last, first, max deleted, added, groups
    }
    string(&mut body, b"grp");
    for v in [5u64, 1, 1, 1] {
        ferry_rdb::write_length(&mut body, v); // last id, entries read, PEL size
    }
    body.extend_from_slice(&key);
    body.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    ferry_rdb::write_length(&mut body, 3);
    ferry_rdb::write_length(&mut body, 1);
    string(&mut body, b"cons");
    body.extend_from_slice(&1_700_000_000_001i64.to_le_bytes());
    body.extend_from_slice(&1_700_000_000_002i64.to_le_bytes());
    ferry_rdb::write_length(&mut body, 1);
    body.extend_from_slice(&key);
    assert_eq!(
        f.cmd(&argv(&[b"RESTORE", b"x3", b"0", &seal(&body, 11)])),
        b"+OK\r\n"
    );
    let pending =
        String::from_utf8_lossy(&f.cmd(&["XPENDING", "x3", "grp", "-", "+", "10"])).into_owned();
    assert!(
        pending.contains("5-1") && pending.contains("cons"),
        "{pending}"
    );
    // Version 12 is refused.
    assert_eq!(
        f.cmd(&argv(&[b"RESTORE", b"v12", b"0", &seal(&body, 12)])),
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );
}

/// Keyspace events of RESTORE (and of MIGRATE's deletions) as Redis emits them.
#[test]
fn restore_notifications() {
    let mut p = Pair::proto(2);
    p.same(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut subs = [p.redis.connect(), p.subject.connect()];
    for c in subs.iter_mut() {
        let r = c.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
        assert!(r.starts_with(b"*3"), "{r:?}");
    }
    p.same(&["SET", "src", "v"]);
    let payload = bulk(&p.a.cmd(&["DUMP", "src"]));
    let g = payload.as_slice();
    p.same(&argv(&[b"RESTORE", b"a", b"0", g]));
    p.same(&argv(&[b"RESTORE", b"a", b"0", g, b"REPLACE"]));
    p.same(&argv(&[
        b"RESTORE", b"a", b"1000", g, b"REPLACE", b"ABSTTL",
    ]));
    p.same(&argv(&[b"RESTORE", b"b", b"1000", g, b"ABSTTL"]));
    p.same(&argv(&[b"RESTORE", b"c", b"100000", g]));
    p.same(&argv(&[b"RESTORE", b"src", b"0", g]));
    p.same(&["DUMP", "nothing"]);
    let mut streams = Vec::new();
    for c in subs.iter_mut() {
        c.send(&["PING", "end"]);
        let mut frames = Vec::new();
        loop {
            let f = String::from_utf8_lossy(&c.read_reply()).into_owned();
            if f.contains("end") {
                break;
            }
            frames.push(f);
            assert!(frames.len() < 1000);
        }
        streams.push(frames);
    }
    assert!(!streams[0].is_empty());
    assert_eq!(streams[0], streams[1]);
}

/// MIGRATE from both servers to a third one (another redis-server, then
/// another ferry), into different databases, and the outcomes compared.
fn migrate_to(p: &mut Pair, target_port: u16, target: &mut RawConn, password: &str) {
    let tp = target_port.to_string();
    let both = |p: &mut Pair, db_a: &str, db_b: &str, tail: &[&str], head: &[&str]| {
        let mut a: Vec<&str> = vec!["MIGRATE", "127.0.0.1", &tp];
        a.extend_from_slice(head);
        let mut b = a.clone();
        a.push(db_a);
        b.push(db_b);
        a.push("5000");
        b.push("5000");
        a.extend_from_slice(tail);
        b.extend_from_slice(tail);
        let ra = p.a.cmd(&a);
        let rb = p.b.cmd(&b);
        assert_eq!(
            String::from_utf8_lossy(&ra),
            String::from_utf8_lossy(&rb),
            "MIGRATE {head:?} {tail:?}"
        );
        ra
    };
    let setup: Vec<Argv> = vec![
        s(&["SET", "m:s", "hello"]),
        s(&["SET", "m:ttl", "v", "PX", "100000"]),
        s(&["RPUSH", "m:l", "a", "b", "c"]),
        s(&["HSET", "m:h", "f", "1", "g", "2"]),
        s(&["SADD", "m:set", "1", "2", "x"]),
        s(&["ZADD", "m:z", "1.5", "a", "2", "b"]),
        s(&["XADD", "m:x", "1-1", "f", "v"]),
        s(&["XGROUP", "CREATE", "m:x", "g", "0"]),
        s(&["SET", "m:copy", "kept"]),
        s(&["SET", "m:busy", "source"]),
    ];
    run(p, &setup);
    let a1 = ["AUTH", password];
    assert_eq!(both(p, "1", "2", &a1, &["m:s"]), b"+OK\r\n");
    let t = ["COPY", "AUTH", password];
    assert_eq!(both(p, "1", "2", &t, &["m:copy"]), b"+OK\r\n");
    p.same(&["GET", "m:copy"]);
    let t = [
        "AUTH",
        password,
        "KEYS",
        "m:ttl",
        "m:l",
        "m:h",
        "m:set",
        "m:z",
        "m:x",
        "m:missing",
    ];
    assert_eq!(both(p, "1", "2", &t, &[""]), b"+OK\r\n");
    for k in ["m:s", "m:ttl", "m:l", "m:h", "m:set", "m:z", "m:x"] {
        p.same(&["EXISTS", k]);
    }
    // The target's copies, redis's in db 1 and ferry's in db 2.
    let mut read = |db: &str, c: &[&str]| {
        target.cmd(&["SELECT", db]);
        target.cmd(c)
    };
    for c in [
        &["GET", "m:s"][..],
        &["GET", "m:copy"],
        &["LRANGE", "m:l", "0", "-1"],
        &["HGETALL", "m:h"],
        &["SCARD", "m:set"],
        &["ZRANGE", "m:z", "0", "-1", "WITHSCORES"],
        &["XRANGE", "m:x", "-", "+"],
        &["XINFO", "GROUPS", "m:x"],
        &["TYPE", "m:set"],
    ] {
        assert_eq!(read("1", c), read("2", c), "{c:?}");
    }
    let ttl1 = parse_one(&read("1", &["PTTL", "m:ttl"]))
        .as_int()
        .unwrap_or(-9);
    let ttl2 = parse_one(&read("2", &["PTTL", "m:ttl"]))
        .as_int()
        .unwrap_or(-9);
    assert!(ttl1 > 90_000 && ttl2 > 90_000, "{ttl1} {ttl2}");
    // BUSYKEY on the target, then REPLACE.
    target.cmd(&["SELECT", "1"]);
    target.cmd(&["SET", "m:busy", "there"]);
    target.cmd(&["SELECT", "2"]);
    target.cmd(&["SET", "m:busy", "there"]);
    let r = both(p, "1", "2", &a1, &["m:busy"]);
    assert!(
        r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    p.same(&["GET", "m:busy"]);
    let t = ["REPLACE", "AUTH", password];
    assert_eq!(both(p, "1", "2", &t, &["m:busy"]), b"+OK\r\n");
    p.same(&["EXISTS", "m:busy"]);
    // Wrong password; AUTH2 with the default user.
    run(p, &[s(&["SET", "m:auth", "v"])]);
    let t = ["AUTH", "wrong"];
    let r = both(p, "1", "2", &t, &["m:auth"]);
    assert!(r.starts_with(b"-ERR Target instance replied with error: WRONGPASS"));
    p.same(&["EXISTS", "m:auth"]);
    // The cached connection was authenticated already: the key went over
    // anyway (as in Redis), so it is busy there now.
    let t = ["AUTH2", "default", password];
    let r = both(p, "1", "2", &t, &["m:auth"]);
    assert!(r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"));
    let t = ["REPLACE", "AUTH2", "default", password];
    assert_eq!(both(p, "1", "2", &t, &["m:auth"]), b"+OK\r\n");
    p.same(&["EXISTS", "m:auth"]);
    // NOKEY, and syntax errors.
    let t = ["AUTH", password];
    assert_eq!(both(p, "1", "2", &t, &["m:none"]), b"+NOKEY\r\n");
    for t in [
        &["KEYS"][..],
        &["AUTH"],
        &["AUTH2", "u"],
        &["BOGUS"],
        &["COPY", "REPLACE", "KEYS", "m:none"],
    ] {
        both(p, "1", "2", t, &["m:none"]);
        both(p, "1", "2", t, &[""]);
    }
    let t = ["KEYS", "m:copy"];
    both(p, "1", "2", &t, &["m:copy"]);
    p.same(&["MIGRATE", "127.0.0.1", &tp, "m:copy", "x", "5000"]);
    p.same(&["MIGRATE", "127.0.0.1", &tp, "m:copy", "0", "x"]);
    p.same(&["MIGRATE", "127.0.0.1", &tp, "m:copy", "0"]);
}

fn unused_port() -> u16 {
    common::free_port()
}

#[test]
fn migrate_to_redis() {
    let mut p = Pair::new();
    let target = common::RedisProc::start(&["--requirepass", "pw"]);
    let mut t = target.connect();
    t.cmd(&["AUTH", "pw"]);
    migrate_to(&mut p, target.port(), &mut t, "pw");
}

#[test]
fn migrate_to_ferry() {
    let mut p = Pair::new();
    let target = Subject::start(common::FerryOpts::default().requirepass("pw"));
    let mut t = target.connect();
    t.cmd(&["AUTH", "pw"]);
    migrate_to(&mut p, target.port(), &mut t, "pw");
}

diff_test!(migrate_errors, |p| {
    p.same(&["SET", "k", "v"]);
    let port = unused_port().to_string();
    p.same(&["MIGRATE", "127.0.0.1", &port, "k", "0", "500"]);
    p.same(&["MIGRATE", "127.0.0.1", &port, "k", "0", "500", "COPY"]);
    p.same(&["MIGRATE", "127.0.0.1", &port, "missing", "0", "500"]);
    p.same(&["MIGRATE", "127.0.0.1", &port, "", "0", "500", "KEYS"]);
    p.same(&["GET", "k"]);
    p.same(&["MIGRATE", "127.0.0.1", &port, "k", "0"]);
});
