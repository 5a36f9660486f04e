//! Differential tests for keyspace commands (DEL, EXISTS, RENAME, COPY, KEYS,
//! SCAN, EXPIRE family, OBJECT, SELECT, SWAPDB...), RESP2 and RESP3.

#[macro_use]
mod common;

use common::{parse_frame, parse_one, ConnPair, RawConn, Resp};

diff_test!(del_unlink_exists_touch, |p| {
    p.ok(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    p.same(&["EXISTS", "a"]);
    p.same(&["EXISTS", "a", "a", "a", "nope", "b"]);
    p.same(&["EXISTS", "nope"]);
    p.same(&["EXISTS"]);
    p.same(&["DEL", "a", "nope", "a"]);
    p.same(&["DEL", "a"]);
    p.same(&["DEL"]);
    p.same(&["UNLINK", "b", "c", "nope"]);
    p.same(&["UNLINK"]);
    p.same(&["EXISTS", "a", "b", "c", "d"]);
    p.same(&["TOUCH", "d", "d", "nope"]);
    p.same(&["TOUCH", "nope"]);
    p.same(&["TOUCH"]);
    p.same(&["DBSIZE"]);
    p.same(&["DBSIZE", "x"]);
});

diff_test!(type_cmd, |p| {
    p.same(&["SET", "s", "v"]);
    p.same(&["TYPE", "s"]);
    p.same(&["TYPE", "nope"]);
    p.same(&["TYPE"]);
    p.same(&["TYPE", "a", "b"]);
    p.same(&["SET", "n", "12"]);
    p.same(&["TYPE", "n"]);
});

diff_test!(rename_renamenx, |p| {
    p.same(&["SET", "a", "1"]);
    p.same(&["RENAME", "a", "b"]);
    p.same(&["GET", "a"]);
    p.same(&["GET", "b"]);
    p.same(&["RENAME", "nope", "x"]);
    p.same(&["RENAME", "nope", "nope"]);
    p.same(&["RENAME", "b", "b"]);
    p.same(&["GET", "b"]);
    p.same(&["SET", "c", "3", "EX", "100"]);
    p.same(&["RENAME", "c", "d"]); // TTL moves with the key
    p.close_int(&["TTL", "d"], 1);
    p.same(&["SET", "e", "5", "EX", "100"]);
    p.same(&["RENAME", "b", "e"]); // overwrites and drops e's TTL
    p.same(&["TTL", "e"]);
    p.same(&["GET", "e"]);
    p.same(&["RENAMENX", "e", "d"]);
    p.same(&["RENAMENX", "e", "f"]);
    p.same(&["RENAMENX", "f", "f"]);
    p.same(&["RENAMENX", "nope", "g"]);
    p.same(&["RENAMENX", "nope", "nope"]);
    p.same(&["MGET", "d", "e", "f"]);
    p.same(&["RENAME", "a"]);
    p.same(&["RENAME", "a", "b", "c"]);
    p.same(&["RENAMENX", "a"]);
});

diff_test!(copy_cmd, |p| {
    p.same(&["SET", "src", "v", "EX", "100"]);
    p.same(&["COPY", "src", "dst"]);
    p.same(&["GET", "dst"]);
    p.close_int(&["TTL", "dst"], 1);
    p.same(&["COPY", "src", "dst"]);
    p.same(&["SET", "src", "w"]);
    p.same(&["COPY", "src", "dst", "REPLACE"]);
    p.same(&["GET", "dst"]);
    p.same(&["TTL", "dst"]);
    p.same(&["COPY", "nope", "dst"]);
    p.same(&["COPY", "nope", "dst", "REPLACE"]);
    p.same(&["COPY", "src", "src"]);
    p.same(&["COPY", "src", "src", "DB", "0"]);
    p.same(&["COPY", "src", "src", "DB", "1"]);
    p.same(&["COPY", "src", "dst", "DB", "2", "REPLACE"]);
    p.same(&["COPY", "src", "dst", "DB", "16"]);
    p.same(&["COPY", "src", "dst", "DB", "-1"]);
    p.same(&["COPY", "src", "dst", "DB", "x"]);
    p.same(&["COPY", "src", "dst", "DB"]);
    p.same(&["COPY", "src", "dst", "FOO"]);
    p.same(&["COPY", "src", "dst", "REPLACE", "REPLACE"]);
    p.same(&["COPY", "src"]);
    p.same(&["SELECT", "1"]);
    p.same(&["GET", "src"]);
    p.same(&["GET", "dst"]);
    p.same(&["SELECT", "2"]);
    p.same(&["GET", "dst"]);
    p.same(&["SELECT", "0"]);
});

diff_test!(move_cmd, |p| {
    p.same(&["SET", "k", "v", "EX", "100"]);
    p.same(&["MOVE", "k", "1"]);
    p.same(&["EXISTS", "k"]);
    p.same(&["MOVE", "k", "1"]);
    p.same(&["SELECT", "1"]);
    p.same(&["GET", "k"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["MOVE", "k", "1"]);
    p.same(&["SET", "x", "in1"]);
    p.same(&["SELECT", "0"]);
    p.same(&["SET", "x", "in0"]);
    p.same(&["MOVE", "x", "1"]); // target exists: 0
    p.same(&["GET", "x"]);
    p.same(&["MOVE", "x", "16"]);
    p.same(&["MOVE", "x", "-1"]);
    p.same(&["MOVE", "x", "abc"]);
    p.same(&["MOVE", "nope", "1"]);
    p.same(&["MOVE", "x"]);
    p.same(&["MOVE", "x", "1", "2"]);
});

diff_test!(keys_glob, |p| {
    for k in [
        "a", "b", "c", "d", "ab", "abc", "abd", "a*", "a?", "hello", "hallo", "hxllo", "hllo",
        "heeeello", "h[a]llo", "x\\y", "user:1", "user:2", "user:10", "",
    ] {
        p.same(&["SET", k, "v"]);
    }
    for pat in [
        "*",
        "a",
        "[a-c]",
        "[a-c]*",
        "a\\*",
        "a?",
        "a\\?",
        "?",
        "??",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[!e]llo",
        "h[a-b]llo",
        "user:*",
        "user:?",
        "user:[0-9]",
        "*:1*",
        "nomatch*",
        "h\\[a\\]llo",
        "x\\\\y",
        "[",
        "[a",
        "a[",
        "\\",
        "*\\",
        "[c-a]",
        "**",
        "*a*",
        "",
    ] {
        p.same_unordered(&["KEYS", pat]);
    }
    p.same(&["KEYS"]);
    p.same(&["KEYS", "a", "b"]);
});

/// Iterates SCAN to cursor 0 on one connection; returns the sorted keys seen
/// (duplicates removed) or the first error reply.
fn scan_all(c: &mut RawConn, extra: &[&str]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let raw = c.cmd(&args);
        let r = parse_frame(&raw).unwrap().unwrap().0;
        let Resp::Array(v) = r else { return Err(raw) };
        assert_eq!(
            v.len(),
            2,
            "SCAN reply must have 2 elements: {}",
            common::escape(&raw)
        );
        let next = v[0].as_str().expect("cursor is a bulk string");
        for k in v[1].elements().expect("keys array") {
            keys.push(k.as_bytes().expect("key is bulk"));
        }
        cursor = next;
        if cursor == "0" {
            keys.sort();
            keys.dedup();
            return Ok(keys);
        }
    }
    panic!("SCAN did not finish after 100000 calls");
}

#[track_caller]
fn same_scan(p: &mut ConnPair, extra: &[&str]) {
    let a = scan_all(&mut p.a, extra);
    let b = scan_all(&mut p.b, extra);
    let show = |r: &Result<Vec<Vec<u8>>, Vec<u8>>| match r {
        Ok(v) => format!(
            "{} keys: {:?}",
            v.len(),
            v.iter()
                .take(50)
                .map(|k| common::escape(k))
                .collect::<Vec<_>>()
        ),
        Err(e) => common::escape(e),
    };
    assert!(
        a == b,
        "SCAN {extra:?} differs\n  redis: {}\n  subject: {}",
        show(&a),
        show(&b)
    );
}

diff_test!(scan_cmd, |p| {
    same_scan(p, &[]); // empty db
    p.same(&["SCAN", "0"]);
    // a negative cursor is parsed as unsigned (wraps), not rejected; what it
    // returns depends on the hash table, so only check it on an empty db
    p.same(&["SCAN", "-1"]);
    p.same(&["SCAN", "18446744073709551615"]);
    for i in 0..300 {
        let k = format!("key:{i}");
        p.same(&["SET", &k, "v"]);
    }
    p.same(&["SET", "other", "v"]);
    same_scan(p, &[]);
    same_scan(p, &["COUNT", "7"]);
    same_scan(p, &["COUNT", "1000"]);
    same_scan(p, &["MATCH", "key:1*"]);
    same_scan(p, &["MATCH", "key:1*", "COUNT", "3"]);
    same_scan(p, &["MATCH", "nomatch*"]);
    same_scan(p, &["MATCH", "other"]);
    same_scan(p, &["TYPE", "string"]);
    same_scan(p, &["TYPE", "list"]);
    same_scan(p, &["TYPE", "STRING", "MATCH", "key:2?"]);
    same_scan(p, &["TYPE", "nosuchtype"]);
    // errors
    p.same(&["SCAN", "abc"]);
    p.same(&["SCAN", "1.5"]);
    p.same(&["SCAN", "18446744073709551616"]);
    p.same(&["SCAN", "0", "COUNT", "0"]);
    p.same(&["SCAN", "0", "COUNT", "-1"]);
    p.same(&["SCAN", "0", "COUNT", "x"]);
    p.same(&["SCAN", "0", "COUNT"]);
    p.same(&["SCAN", "0", "MATCH"]);
    p.same(&["SCAN", "0", "TYPE"]);
    p.same(&["SCAN", "0", "FOO", "bar"]);
    p.same(&["SCAN", "0", "FOO"]);
    p.same(&["SCAN"]);
    // scanning with a fresh cursor on a tiny db returns everything in one call
    p.same(&["FLUSHDB"]);
    p.same(&["SET", "only", "v"]);
    p.same(&["SCAN", "0"]);
    p.same(&["SCAN", "0", "MATCH", "o*"]);
    p.same(&["SCAN", "0", "MATCH", "x*"]);
});

diff_test!(randomkey, |p| {
    p.same(&["RANDOMKEY"]);
    p.same(&["SET", "only", "v"]);
    p.same(&["RANDOMKEY"]);
    p.same(&["RANDOMKEY"]);
    p.same(&["RANDOMKEY", "x"]);
    p.same(&["DEL", "only"]);
    p.same(&["RANDOMKEY"]);
    // a key that expired is never returned
    p.same(&["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.same(&["RANDOMKEY"]);
});

diff_test!(expire_family, |p| {
    p.same(&["SET", "k", "v"]);
    p.same(&["TTL", "k"]);
    p.same(&["PTTL", "k"]);
    p.same(&["TTL", "nope"]);
    p.same(&["PTTL", "nope"]);
    p.same(&["EXPIRE", "k", "100"]);
    p.close_int(&["TTL", "k"], 1);
    p.close_int(&["PTTL", "k"], 1000);
    p.same(&["EXPIRE", "nope", "100"]);
    p.same(&["PEXPIRE", "k", "200000"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["EXPIREAT", "k", "4102444800"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["PEXPIRETIME", "k"]);
    p.same(&["PEXPIREAT", "k", "4102444800999"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["PEXPIRETIME", "k"]);
    p.same(&["EXPIRETIME", "nope"]);
    p.same(&["PEXPIRETIME", "nope"]);
    p.same(&["SET", "noexp", "v"]);
    p.same(&["EXPIRETIME", "noexp"]);
    p.same(&["PEXPIRETIME", "noexp"]);
    // NX / XX / GT / LT
    p.same(&["EXPIRE", "noexp", "100", "XX"]);
    p.same(&["EXPIRE", "noexp", "100", "GT"]);
    p.same(&["TTL", "noexp"]);
    p.same(&["EXPIRE", "noexp", "100", "LT"]);
    p.close_int(&["TTL", "noexp"], 1);
    p.same(&["EXPIRE", "noexp", "50", "NX"]);
    p.same(&["EXPIRE", "noexp", "200", "XX"]);
    p.close_int(&["TTL", "noexp"], 1);
    p.same(&["EXPIRE", "noexp", "100", "GT"]);
    p.same(&["EXPIRE", "noexp", "300", "GT"]);
    p.same(&["EXPIRE", "noexp", "400", "LT"]);
    p.same(&["EXPIRE", "noexp", "150", "lt"]);
    p.close_int(&["TTL", "noexp"], 1);
    p.same(&["PEXPIRE", "noexp", "100000", "NX"]);
    p.same(&["EXPIREAT", "noexp", "4102444800", "LT"]);
    p.same(&["PEXPIREAT", "noexp", "4102444800000", "GT"]);
    p.same(&["EXPIRE", "nope", "100", "NX"]);
    p.same(&["EXPIRE", "noexp", "100", "NX", "XX"]);
    p.same(&["EXPIRE", "noexp", "100", "GT", "LT"]);
    p.same(&["EXPIRE", "noexp", "100", "NX", "GT"]);
    p.same(&["EXPIRE", "noexp", "100", "NX", "LT"]);
    p.same(&["EXPIRE", "noexp", "100", "XX", "GT"]);
    p.same(&["EXPIRE", "noexp", "100", "FOO"]);
    p.same(&["PEXPIRE", "noexp", "100", "GT", "LT"]);
    p.same(&["EXPIREAT", "noexp", "100", "NX", "XX"]);
    p.same(&["PEXPIREAT", "noexp", "100", "BAR"]);
    // errors
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        p.same(&[cmd, "noexp", "abc"]);
        p.same(&[cmd, "noexp", "1.5"]);
        p.same(&[cmd, "noexp", ""]);
        p.same(&[cmd, "noexp", "9223372036854775807"]);
        p.same(&[cmd, "noexp", "-9223372036854775808"]);
        p.same(&[cmd, "noexp", "9223372036854775808"]);
        p.same(&[cmd, "noexp", "92233720368547758"]);
        p.same(&[cmd, "noexp"]);
        p.same(&[cmd]);
    }
    p.close_int(&["TTL", "noexp"], 1);
    // a negative or past expiry deletes
    p.same(&["SET", "d1", "v"]);
    p.same(&["EXPIRE", "d1", "-1"]);
    p.same(&["EXISTS", "d1"]);
    p.same(&["SET", "d2", "v"]);
    p.same(&["PEXPIRE", "d2", "0"]);
    p.same(&["EXISTS", "d2"]);
    p.same(&["SET", "d3", "v"]);
    p.same(&["EXPIREAT", "d3", "1"]);
    p.same(&["EXISTS", "d3"]);
    p.same(&["SET", "d4", "v"]);
    p.same(&["PEXPIREAT", "d4", "1"]);
    p.same(&["GET", "d4"]);
    p.same(&["SET", "d5", "v"]);
    p.same(&["EXPIRE", "d5", "-10", "GT"]);
    p.same(&["EXISTS", "d5"]);
    p.same(&["EXPIRE", "d5", "-10", "LT"]);
    p.same(&["EXISTS", "d5"]);
    // arity of TTL family
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"] {
        p.same(&[cmd]);
        p.same(&[cmd, "a", "b"]);
    }
});

diff_test!(ttl_rounding, |p| {
    // TTL rounds the remaining milliseconds to the nearest second, and
    // EXPIRETIME rounds the absolute deadline: 100.7 s left reads as 101
    // (this leaves 200 ms for the two round trips).
    p.same(&["SET", "k", "v"]);
    p.same(&["PEXPIRE", "k", "100700"]);
    p.same(&["TTL", "k"]);
    p.same(&["PEXPIREAT", "k", "4102444800499"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["PEXPIREAT", "k", "4102444800500"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["SET", "k2", "v", "PXAT", "4102444800999"]);
    p.same(&["EXPIRETIME", "k2"]);
    p.same(&["GETEX", "k2", "PXAT", "4102444800001"]);
    p.same(&["EXPIRETIME", "k2"]);
});

diff_test!(persist_cmd, |p| {
    p.same(&["SET", "k", "v", "EX", "100"]);
    p.same(&["PERSIST", "k"]);
    p.same(&["TTL", "k"]);
    p.same(&["PERSIST", "k"]);
    p.same(&["PERSIST", "nope"]);
    p.same(&["GET", "k"]);
});

diff_test!(short_px_expires, |p| {
    p.same(&["SET", "short", "v", "PX", "50"]);
    p.same(&["SET", "short2", "v"]);
    p.same(&["PEXPIRE", "short2", "50"]);
    p.same(&["SET", "long", "v", "EX", "100"]);
    std::thread::sleep(std::time::Duration::from_millis(120));
    p.same(&["GET", "short"]);
    p.same(&["EXISTS", "short", "short2", "long"]);
    p.same(&["TTL", "short"]);
    p.same(&["PTTL", "short2"]);
    p.same(&["DBSIZE"]);
    p.same_unordered(&["KEYS", "*"]);
    p.same(&["TYPE", "short"]);
    p.same(&["STRLEN", "short"]);
    p.same(&["APPEND", "short", "x"]);
    p.same(&["TTL", "short"]);
    p.same(&["INCR", "short2"]);
    p.same(&["TTL", "short2"]);
});

diff_test!(object_cmd, |p| {
    p.same(&["SET", "int", "12345"]);
    p.same(&["SET", "small", "hello"]);
    p.same(&["SET", "raw", &"x".repeat(100)]);
    p.same(&["SET", "neg", "-5"]);
    p.same(&["SET", "bigint", "12345678901234567890"]);
    p.same(&["SET", "len44", &"y".repeat(44)]);
    p.same(&["SET", "len45", &"y".repeat(45)]);
    p.same(&["SET", "lead0", "0123"]);
    for k in [
        "int", "small", "raw", "neg", "bigint", "len44", "len45", "lead0",
    ] {
        p.same(&["OBJECT", "ENCODING", k]);
    }
    p.same(&["APPEND", "small", "!"]);
    p.same(&["OBJECT", "ENCODING", "small"]);
    p.same(&["INCR", "int"]);
    p.same(&["OBJECT", "ENCODING", "int"]);
    p.same(&["SETRANGE", "int", "0", "9"]);
    p.same(&["OBJECT", "ENCODING", "int"]);
    p.same(&["INCRBYFLOAT", "neg", "1.5"]);
    p.same(&["OBJECT", "ENCODING", "neg"]);
    p.same(&["OBJECT", "ENCODING", "nope"]);
    p.same(&["OBJECT", "REFCOUNT", "small"]);
    p.same(&["OBJECT", "REFCOUNT", "nope"]);
    p.same(&["SET", "shared", "100"]);
    p.same(&["OBJECT", "REFCOUNT", "shared"]);
    p.same(&["OBJECT", "FREQ", "small"]);
    p.same(&["OBJECT", "FREQ", "nope"]);
    p.close_int(&["OBJECT", "IDLETIME", "small"], 2);
    p.same(&["OBJECT", "IDLETIME", "nope"]);
    // HELP text is ferry's own wording (Redis's prose is not copied): same
    // title line, and every subcommand Redis lists is listed by ferry.
    for help in ["HELP", "help"] {
        let (a, b) = p.both(&["OBJECT", help]);
        let lines = |raw: &[u8]| -> Vec<String> {
            match parse_one(raw) {
                Resp::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        Resp::Simple(s) => s,
                        other => panic!("OBJECT HELP line is not a status: {other:?}"),
                    })
                    .collect(),
                other => panic!("OBJECT HELP is not an array: {other:?}"),
            }
        };
        let (redis, ferry) = (lines(&a), lines(&b));
        assert_eq!(redis[0], ferry[0], "OBJECT HELP title line");
        for entry in redis.iter().skip(1).filter(|l| !l.starts_with(' ')) {
            let word = entry.split(' ').next().unwrap_or_default();
            assert!(
                ferry.iter().any(|l| l.split(' ').next() == Some(word)),
                "ferry's OBJECT HELP does not list {word}: {ferry:?}"
            );
        }
    }
    p.same(&["OBJECT", "FOO"]);
    p.same(&["OBJECT", "FOO", "bar"]);
    p.same(&["OBJECT"]);
    p.same(&["OBJECT", "ENCODING"]);
    p.same(&["OBJECT", "ENCODING", "a", "b"]);
    p.same(&["OBJECT", "HELP", "x"]);
});

diff_test!(dbsize_flush, |p| {
    p.same(&["DBSIZE"]);
    p.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "3"]);
    p.same(&["SET", "x", "y"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "0"]);
    p.same(&["FLUSHDB"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "3"]);
    p.same(&["DBSIZE"]);
    p.same(&["FLUSHDB", "ASYNC"]);
    p.same(&["DBSIZE"]);
    p.same(&["SET", "x", "y"]);
    p.same(&["FLUSHDB", "SYNC"]);
    p.same(&["FLUSHDB", "FOO"]);
    p.same(&["FLUSHDB", "SYNC", "ASYNC"]);
    p.same(&["SET", "x", "y"]);
    p.same(&["SELECT", "0"]);
    p.same(&["SET", "z", "y"]);
    p.same(&["FLUSHALL"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "3"]);
    p.same(&["DBSIZE"]);
    p.same(&["FLUSHALL", "ASYNC"]);
    p.same(&["FLUSHALL", "SYNC"]);
    p.same(&["FLUSHALL", "FOO"]);
});

diff_test!(select_swapdb, |p| {
    p.same(&["SELECT", "15"]);
    p.same(&["SELECT", "16"]);
    p.same(&["SELECT", "-1"]);
    p.same(&["SELECT", "abc"]);
    p.same(&["SELECT", "1.0"]);
    p.same(&["SELECT", ""]);
    p.same(&["SELECT", "99999999999999999999"]);
    p.same(&["SELECT"]);
    p.same(&["SELECT", "1", "2"]);
    p.same(&["SET", "in15", "v"]); // failed SELECTs keep db 15
    p.same(&["SELECT", "0"]);
    p.same(&["GET", "in15"]);
    p.same(&["SET", "in0", "zero"]);
    p.same(&["SELECT", "1"]);
    p.same(&["SET", "in1", "one"]);
    p.same(&["SWAPDB", "0", "1"]);
    p.same(&["GET", "in0"]);
    p.same(&["GET", "in1"]);
    p.same(&["SELECT", "0"]);
    p.same(&["GET", "in1"]);
    p.same(&["SWAPDB", "0", "0"]);
    p.same(&["GET", "in1"]);
    p.same(&["SWAPDB", "0", "16"]);
    p.same(&["SWAPDB", "-1", "0"]);
    p.same(&["SWAPDB", "a", "0"]);
    p.same(&["SWAPDB", "0", "b"]);
    p.same(&["SWAPDB", "0"]);
    p.same(&["SWAPDB"]);
    // another connection sees the swap for its own selected db
    let mut q = p.connect();
    if common::is_resp3(&mut p.conns) {
        q.hello3();
    }
    q.same(&["GET", "in1"]);
    q.same(&["SWAPDB", "0", "1"]);
    p.same(&["GET", "in1"]);
    p.same(&["GET", "in0"]);
});

diff_test!(select_is_per_connection, |p| {
    let mut q = p.connect();
    p.same(&["SELECT", "5"]);
    p.same(&["SET", "k", "five"]);
    q.same(&["GET", "k"]);
    q.same(&["SELECT", "5"]);
    q.same(&["GET", "k"]);
});

// A key read while missing, then created, deleted, expired, renamed or
// moved, reads as redis-server says at every step (ferry's key cache
// remembers missing keys; a list's ends are kept in memory).
diff_test!(missing_keys_come_and_go, |p| {
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "1", "NX"]);
    p.same(&["GET", "k"]);
    p.same(&["DEL", "k"]);
    p.same(&["GET", "k"]);
    p.same(&["EXISTS", "k"]);
    p.same(&["SET", "k", "2", "NX"]);
    p.same(&["GET", "k"]);
    p.same(&["SADD", "s", "a", "b"]);
    p.same_unordered(&["SPOP", "s", "2"]);
    p.same(&["SPOP", "s"]);
    p.same(&["SCARD", "s"]);
    p.same(&["SADD", "s", "c"]);
    p.same(&["SPOP", "s"]);
    p.same(&["RPUSH", "l", "a", "b"]);
    p.same(&["LPOP", "l", "2"]);
    p.same(&["LPOP", "l"]);
    p.same(&["LPUSH", "l", "x"]);
    p.same(&["RPUSH", "l", "y"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["RENAME", "k", "k2"]);
    p.same(&["GET", "k"]);
    p.same(&["GET", "k2"]);
    p.same(&["SET", "k", "3"]);
    p.same(&["GET", "k"]);
    p.same(&["MOVE", "k", "1"]);
    p.same(&["GET", "k"]);
    p.same(&["SELECT", "1"]);
    p.same(&["GET", "k"]);
    p.same(&["SELECT", "0"]);
    p.same(&["SET", "t", "v", "PX", "30"]);
    p.same(&["GET", "t"]);
    std::thread::sleep(std::time::Duration::from_millis(60));
    p.same(&["GET", "t"]);
    p.same(&["SET", "t", "w"]);
    p.same(&["GET", "t"]);
    p.same(&["TTL", "t"]);
});

// Pipelined pushes and pops change collections' lengths between reads that
// go to the keys table (KEYS, SCAN TYPE, RANDOMKEY, MOVE, RENAME): each read
// sees every change before it in the pipeline (ferry writes a collection's
// key row late, before the next such read: heldrows.rs).
diff_test!(pipelined_length_changes_show_in_key_reads, |p| {
    p.same(&["SELECT", "5"]);
    let scan_lists: &[&str] = &["SCAN", "0", "MATCH", "q*", "COUNT", "1000", "TYPE", "list"];
    p.same_pipeline(
        &[
            &["RPUSH", "q", "a", "b", "c"],
            &["LLEN", "q"],
            &["KEYS", "q*"],
            scan_lists,
            &["LPOP", "q", "2"],
            &["TYPE", "q"],
            &["RANDOMKEY"],
            &["LPOP", "q"],
            &["EXISTS", "q"],
            &["KEYS", "*"],
            scan_lists,
            &["DBSIZE"],
            &["RANDOMKEY"],
            &["SADD", "t", "a", "b"],
            &["SREM", "t", "a"],
            &["SCAN", "0", "COUNT", "1000", "TYPE", "set"],
            &["SPOP", "t"],
            &["KEYS", "*"],
            &["HSET", "h", "f", "1", "g", "2"],
            &["HDEL", "h", "f"],
            &["RENAME", "h", "h2"],
            &["HLEN", "h2"],
            &["HSET", "h2", "k", "3"],
            &["MOVE", "h2", "6"],
            &["SELECT", "6"],
            &["HLEN", "h2"],
            &["KEYS", "*"],
            &["ZADD", "z", "1", "a", "2", "b"],
            &["ZPOPMIN", "z"],
            &["SWAPDB", "5", "6"],
            &["KEYS", "*"],
            &["SELECT", "5"],
            &["ZCARD", "z"],
            &["HLEN", "h2"],
            &["DBSIZE"],
        ],
        35,
    );
    p.same(&["FLUSHALL"]);
});
