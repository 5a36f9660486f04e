//! Differential tests for list commands (the non-blocking ones): every reply
//! from ferry must be byte-identical to redis-server 7.0's, in RESP2 and RESP3.

#[macro_use]
mod common;

diff_test!(push_and_len, |p| {
    p.same(&["LPUSH", "l", "a"]);
    p.same(&["LPUSH", "l", "b", "c"]);
    p.same(&["RPUSH", "l", "x", "y", "z"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["LLEN", "l"]);
    p.same(&["LLEN", "missing"]);
    p.same(&["TYPE", "l"]);
    p.same(&["OBJECT", "ENCODING", "l"]);
    // X forms
    p.same(&["LPUSHX", "nope", "a"]);
    p.same(&["RPUSHX", "nope", "a", "b"]);
    p.same(&["EXISTS", "nope"]);
    p.same(&["LPUSHX", "l", "h1", "h2"]);
    p.same(&["RPUSHX", "l", "t1"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    // binary-safe, empty values
    p.same(&[&b"RPUSH"[..], &b"bin"[..], &b"\x00\xff\r\n"[..], &b""[..]]);
    p.same(&["LRANGE", "bin", "0", "-1"]);
    p.same(&["LLEN", "bin"]);
    // arity
    p.same(&["LPUSH", "l"]);
    p.same(&["RPUSH"]);
    p.same(&["LPUSHX", "l"]);
    p.same(&["RPUSHX", "l"]);
    p.same(&["LLEN"]);
    p.same(&["LLEN", "a", "b"]);
    // WRONGTYPE
    p.ok(&["SET", "s", "v"]);
    p.same(&["LPUSH", "s", "a"]);
    p.same(&["RPUSH", "s", "a"]);
    p.same(&["LPUSHX", "s", "a"]);
    p.same(&["RPUSHX", "s", "a"]);
    p.same(&["LLEN", "s"]);
    p.same(&["GET", "s"]);
    // a list is not a string
    p.same(&["GET", "l"]);
    p.same(&["APPEND", "l", "x"]);
    // case-insensitive names
    p.same(&["lpush", "lc", "1"]);
    p.same(&["rPuSh", "lc", "2"]);
    p.same(&["LRANGE", "lc", "0", "-1"]);
});

diff_test!(push_keeps_ttl_and_del, |p| {
    p.same(&["RPUSH", "l", "a", "b"]);
    p.same(&["EXPIRE", "l", "100"]);
    p.same(&["RPUSH", "l", "c"]);
    p.close_int(&["TTL", "l"], 1);
    p.same(&["LPOP", "l"]);
    p.close_int(&["TTL", "l"], 1);
    p.same(&["DEL", "l"]);
    p.same(&["LLEN", "l"]);
    p.same(&["RPUSH", "l", "a"]);
    p.same(&["TTL", "l"]);
    // expired lists are gone
    p.same(&["PEXPIRE", "l", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.same(&["LLEN", "l"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["RPUSHX", "l", "x"]);
    p.same(&["EXISTS", "l"]);
});

diff_test!(pop_forms, |p| {
    p.same(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
    p.same(&["LPOP", "l"]);
    p.same(&["RPOP", "l"]);
    p.same(&["LPOP", "l", "1"]);
    p.same(&["RPOP", "l", "0"]);
    p.same(&["LPOP", "l", "0"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["RPOP", "l", "5"]);
    p.same(&["EXISTS", "l"]);
    // missing key: nil bulk without count, nil array with it
    p.same(&["LPOP", "l"]);
    p.same(&["RPOP", "l"]);
    p.same(&["LPOP", "l", "1"]);
    p.same(&["RPOP", "l", "3"]);
    p.same(&["LPOP", "l", "0"]);
    p.same(&["RPOP", "l", "0"]);
    // count errors
    p.same(&["RPUSH", "l", "a", "b", "c"]);
    p.same(&["LPOP", "l", "-1"]);
    p.same(&["RPOP", "l", "-1"]);
    p.same(&["LPOP", "l", "abc"]);
    p.same(&["LPOP", "l", "1.5"]);
    p.same(&["LPOP", "l", ""]);
    p.same(&["LPOP", "l", "99999999999999999999"]);
    p.same(&["LPOP", "nokey", "-1"]);
    p.same(&["LPOP", "l", "9223372036854775807"]);
    p.same(&["EXISTS", "l"]);
    // arity
    p.same(&["LPOP"]);
    p.same(&["RPOP"]);
    p.same(&["LPOP", "l", "1", "2"]);
    p.same(&["RPOP", "l", "1", "2"]);
    // WRONGTYPE, also for count 0
    p.ok(&["SET", "s", "v"]);
    p.same(&["LPOP", "s"]);
    p.same(&["RPOP", "s", "1"]);
    p.same(&["LPOP", "s", "0"]);
    p.same(&["LPOP", "s", "-1"]);
});

diff_test!(lrange_indexes, |p| {
    p.same(&[
        "RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ]);
    for (s, e) in [
        ("0", "-1"),
        ("0", "0"),
        ("-1", "-1"),
        ("2", "5"),
        ("-3", "-1"),
        ("5", "2"),
        ("-100", "100"),
        ("-100", "-50"),
        ("10", "20"),
        ("9", "9"),
        ("8", "100"),
        ("1", "-2"),
        ("-2", "1"),
        ("0", "-11"),
        ("-9223372036854775808", "9223372036854775807"),
        ("9223372036854775807", "-9223372036854775808"),
    ] {
        p.same(&["LRANGE", "l", s, e]);
    }
    p.same(&["LRANGE", "missing", "0", "-1"]);
    p.same(&["LRANGE", "l", "a", "1"]);
    p.same(&["LRANGE", "l", "0", "1.5"]);
    p.same(&["LRANGE", "l", "0", "99999999999999999999"]);
    p.same(&["LRANGE", "missing", "x", "1"]);
    p.same(&["LRANGE", "l", "0"]);
    p.same(&["LRANGE", "l", "0", "1", "2"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LRANGE", "s", "0", "-1"]);
    p.same(&["LRANGE", "s", "x", "-1"]);
});

diff_test!(lindex_lset, |p| {
    p.same(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
    for i in ["0", "1", "4", "5", "-1", "-5", "-6", "100", "-100", "2"] {
        p.same(&["LINDEX", "l", i]);
    }
    p.same(&["LINDEX", "l", "x"]);
    p.same(&["LINDEX", "l", "9223372036854775807"]);
    p.same(&["LINDEX", "l", "-9223372036854775808"]);
    p.same(&["LINDEX", "missing", "0"]);
    p.same(&["LINDEX", "missing", "x"]);
    p.same(&["LINDEX", "l"]);
    p.same(&["LINDEX", "l", "0", "1"]);

    p.same(&["LSET", "l", "0", "A"]);
    p.same(&["LSET", "l", "-1", "E"]);
    p.same(&["LSET", "l", "2", "C"]);
    p.same(&["LSET", "l", "-4", "B"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["LSET", "l", "5", "x"]);
    p.same(&["LSET", "l", "-6", "x"]);
    p.same(&["LSET", "l", "9223372036854775807", "x"]);
    p.same(&["LSET", "l", "x", "x"]);
    p.same(&["LSET", "missing", "0", "x"]);
    p.same(&["LSET", "missing", "x", "x"]);
    p.same(&["EXISTS", "missing"]);
    p.same(&["LSET", "l", "0"]);
    p.same(&["LSET", "l", "0", "a", "b"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LINDEX", "s", "0"]);
    p.same(&["LINDEX", "s", "x"]);
    p.same(&["LSET", "s", "0", "x"]);
    p.same(&["LSET", "s", "x", "x"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
});

diff_test!(linsert_cases, |p| {
    p.same(&["RPUSH", "l", "a", "b", "c"]);
    p.same(&["LINSERT", "l", "BEFORE", "a", "0"]);
    p.same(&["LINSERT", "l", "AFTER", "c", "d"]);
    p.same(&["LINSERT", "l", "after", "a", "a2"]);
    p.same(&["LINSERT", "l", "before", "c", "c0"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.same(&["LINSERT", "l", "BEFORE", "zz", "x"]);
    p.same(&["LINSERT", "missing", "BEFORE", "a", "x"]);
    p.same(&["EXISTS", "missing"]);
    p.same(&["LINSERT", "l", "MIDDLE", "a", "x"]);
    p.same(&["LINSERT", "missing", "MIDDLE", "a", "x"]);
    p.same(&["LINSERT", "l", "BEFORE", "a"]);
    p.same(&["LINSERT", "l", "BEFORE", "a", "x", "y"]);
    // duplicate pivots: the first from the head wins
    p.same(&["RPUSH", "d", "x", "p", "y", "p", "z"]);
    p.same(&["LINSERT", "d", "AFTER", "p", "1"]);
    p.same(&["LINSERT", "d", "BEFORE", "p", "2"]);
    p.same(&["LRANGE", "d", "0", "-1"]);
    // many inserts at one spot (forces ferry to renumber positions)
    p.same(&["RPUSH", "m", "head", "tail"]);
    for i in 0..60 {
        let v = format!("v{i}");
        p.same(&["LINSERT", "m", "BEFORE", "tail", &v]);
        let w = format!("w{i}");
        p.same(&["LINSERT", "m", "AFTER", "head", &w]);
    }
    p.same(&["LRANGE", "m", "0", "-1"]);
    p.same(&["LLEN", "m"]);
    p.same(&["LINDEX", "m", "61"]);
    p.same(&["LRANGE", "m", "55", "65"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LINSERT", "s", "BEFORE", "a", "x"]);
    p.same(&["LINSERT", "s", "MIDDLE", "a", "x"]);
});

diff_test!(lrem_cases, |p| {
    let fill = |p: &mut common::ConnPair| {
        p.same(&["DEL", "l"]);
        p.same(&["RPUSH", "l", "a", "b", "a", "a", "c", "a", "b", "a"]);
    };
    for count in [
        "0",
        "1",
        "2",
        "-1",
        "-2",
        "-3",
        "100",
        "-100",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        fill(p);
        p.same(&["LREM", "l", count, "a"]);
        p.same(&["LRANGE", "l", "0", "-1"]);
        p.same(&["LREM", "l", count, "b"]);
        p.same(&["LRANGE", "l", "0", "-1"]);
    }
    fill(p);
    p.same(&["LREM", "l", "0", "zz"]);
    p.same(&["LREM", "l", "0", "a"]);
    p.same(&["LREM", "l", "0", "b"]);
    p.same(&["LREM", "l", "0", "c"]);
    p.same(&["EXISTS", "l"]);
    p.same(&["LREM", "l", "0", "c"]);
    p.same(&["LREM", "l", "x", "c"]);
    p.same(&["LREM", "l", "1.0", "c"]);
    p.same(&["LREM", "l", "0"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LREM", "s", "0", "v"]);
    p.same(&["LREM", "s", "x", "v"]);
});

diff_test!(ltrim_cases, |p| {
    for (s, e) in [
        ("0", "-1"),
        ("1", "-1"),
        ("0", "0"),
        ("2", "4"),
        ("-3", "-1"),
        ("-100", "2"),
        ("5", "2"),
        ("10", "20"),
        ("0", "100"),
        ("-1", "-1"),
        ("1", "-2"),
        ("-9223372036854775808", "9223372036854775807"),
        ("9223372036854775807", "9223372036854775807"),
    ] {
        p.same(&["DEL", "l"]);
        p.same(&["RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7"]);
        p.same(&["LTRIM", "l", s, e]);
        p.same(&["LRANGE", "l", "0", "-1"]);
        p.same(&["EXISTS", "l"]);
        p.same(&["LLEN", "l"]);
    }
    p.same(&["LTRIM", "missing", "0", "1"]);
    p.same(&["EXISTS", "missing"]);
    p.same(&["LTRIM", "l", "x", "1"]);
    p.same(&["LTRIM", "l", "0", "y"]);
    p.same(&["LTRIM", "missing", "x", "1"]);
    p.same(&["LTRIM", "l", "0"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LTRIM", "s", "0", "1"]);
    p.same(&["LTRIM", "s", "x", "1"]);
    // pushes after a trim
    p.same(&["DEL", "l"]);
    p.same(&["RPUSH", "l", "a", "b", "c", "d"]);
    p.same(&["LTRIM", "l", "1", "2"]);
    p.same(&["LPUSH", "l", "h"]);
    p.same(&["RPUSH", "l", "t"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
});

diff_test!(lpos_cases, |p| {
    p.same(&["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a", "d"]);
    p.same(&["LPOS", "l", "a"]);
    p.same(&["LPOS", "l", "d"]);
    p.same(&["LPOS", "l", "zz"]);
    for rank in [
        "1",
        "2",
        "3",
        "4",
        "-1",
        "-2",
        "-3",
        "-4",
        "9223372036854775807",
        "-9223372036854775807",
        "-9223372036854775808",
    ] {
        p.same(&["LPOS", "l", "a", "RANK", rank]);
        for count in ["0", "1", "2", "5"] {
            p.same(&["LPOS", "l", "a", "RANK", rank, "COUNT", count]);
            for maxlen in ["0", "1", "4", "7"] {
                p.same(&[
                    "LPOS", "l", "a", "RANK", rank, "COUNT", count, "MAXLEN", maxlen,
                ]);
            }
        }
        p.same(&["LPOS", "l", "a", "RANK", rank, "MAXLEN", "3"]);
    }
    p.same(&["LPOS", "l", "a", "COUNT", "0"]);
    p.same(&["LPOS", "l", "zz", "COUNT", "0"]);
    p.same(&["LPOS", "l", "zz", "COUNT", "1"]);
    p.same(&["LPOS", "l", "a", "MAXLEN", "1"]);
    p.same(&["LPOS", "l", "a", "MAXLEN", "0"]);
    p.same(&["LPOS", "l", "c", "MAXLEN", "2"]);
    p.same(&["LPOS", "l", "c", "maxlen", "3", "count", "0", "rank", "-1"]);
    // options may repeat: the last one wins
    p.same(&["LPOS", "l", "a", "RANK", "2", "RANK", "1"]);
    p.same(&["LPOS", "l", "a", "COUNT", "1", "COUNT", "0"]);
    // missing key: nil, or an empty array with COUNT
    p.same(&["LPOS", "missing", "a"]);
    p.same(&["LPOS", "missing", "a", "COUNT", "1"]);
    p.same(&["LPOS", "missing", "a", "COUNT", "0"]);
    p.same(&["LPOS", "missing", "a", "RANK", "-1"]);
    // errors
    p.same(&["LPOS", "l", "a", "RANK", "0"]);
    p.same(&["LPOS", "l", "a", "RANK", "x"]);
    p.same(&["LPOS", "l", "a", "RANK", "9223372036854775808"]);
    p.same(&["LPOS", "l", "a", "COUNT", "-1"]);
    p.same(&["LPOS", "l", "a", "COUNT", "x"]);
    p.same(&["LPOS", "l", "a", "MAXLEN", "-1"]);
    p.same(&["LPOS", "l", "a", "MAXLEN", "x"]);
    p.same(&["LPOS", "l", "a", "RANK"]);
    p.same(&["LPOS", "l", "a", "COUNT"]);
    p.same(&["LPOS", "l", "a", "MAXLEN"]);
    p.same(&["LPOS", "l", "a", "FOO"]);
    p.same(&["LPOS", "l", "a", "FOO", "1"]);
    p.same(&["LPOS", "missing", "a", "RANK", "0"]);
    p.same(&["LPOS", "missing", "a", "FOO"]);
    p.same(&["LPOS", "l"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LPOS", "s", "v"]);
    p.same(&["LPOS", "s", "v", "COUNT", "0"]);
    p.same(&["LPOS", "s", "v", "RANK", "0"]);
});

diff_test!(lmove_rpoplpush, |p| {
    p.same(&["RPUSH", "src", "a", "b", "c"]);
    for (from, to) in [
        ("LEFT", "LEFT"),
        ("LEFT", "RIGHT"),
        ("RIGHT", "LEFT"),
        ("right", "right"),
    ] {
        p.same(&["LMOVE", "src", "dst", from, to]);
        p.same(&["LRANGE", "src", "0", "-1"]);
        p.same(&["LRANGE", "dst", "0", "-1"]);
    }
    p.same(&["EXISTS", "src"]);
    p.same(&["LMOVE", "src", "dst", "LEFT", "LEFT"]);
    p.same(&["LMOVE", "dst", "src", "LEFT", "RIGHT"]);
    p.same(&["RPOPLPUSH", "dst", "src"]);
    p.same(&["RPOPLPUSH", "nope", "src"]);
    p.same(&["LRANGE", "src", "0", "-1"]);
    p.same(&["LRANGE", "dst", "0", "-1"]);
    // rotation on one key, including a single-element list (kept, TTL kept)
    p.same(&["RPUSH", "r", "1", "2", "3"]);
    p.same(&["LMOVE", "r", "r", "LEFT", "RIGHT"]);
    p.same(&["RPOPLPUSH", "r", "r"]);
    p.same(&["LMOVE", "r", "r", "RIGHT", "RIGHT"]);
    p.same(&["LRANGE", "r", "0", "-1"]);
    p.same(&["RPUSH", "one", "x"]);
    p.same(&["EXPIRE", "one", "100"]);
    p.same(&["LMOVE", "one", "one", "LEFT", "RIGHT"]);
    p.same(&["RPOPLPUSH", "one", "one"]);
    p.same(&["LRANGE", "one", "0", "-1"]);
    p.close_int(&["TTL", "one"], 1);
    // moving the last element deletes the source (and its TTL)
    p.same(&["RPUSH", "last", "z"]);
    p.same(&["EXPIRE", "last", "100"]);
    p.same(&["LMOVE", "last", "fresh", "LEFT", "LEFT"]);
    p.same(&["EXISTS", "last"]);
    p.same(&["TTL", "fresh"]);
    // errors
    p.same(&["LMOVE", "src", "dst", "UP", "LEFT"]);
    p.same(&["LMOVE", "src", "dst", "LEFT", "DOWN"]);
    p.same(&["LMOVE", "nope", "dst", "UP", "LEFT"]);
    p.same(&["LMOVE", "src", "dst", "LEFT"]);
    p.same(&["RPOPLPUSH", "src"]);
    p.same(&["RPOPLPUSH", "src", "dst", "x"]);
    p.ok(&["SET", "s", "v"]);
    p.same(&["LMOVE", "s", "dst", "LEFT", "LEFT"]);
    p.same(&["LMOVE", "src", "s", "LEFT", "LEFT"]);
    p.same(&["LRANGE", "src", "0", "-1"]);
    p.same(&["LMOVE", "nope", "s", "LEFT", "LEFT"]);
    p.same(&["RPOPLPUSH", "s", "dst"]);
    p.same(&["RPOPLPUSH", "src", "s"]);
    p.same(&["RPOPLPUSH", "nope", "s"]);
    p.same(&["LMOVE", "s", "s", "LEFT", "LEFT"]);
    p.same(&["GET", "s"]);
});

diff_test!(lmpop_cases, |p| {
    p.same(&["RPUSH", "b", "1", "2", "3", "4"]);
    p.same(&["RPUSH", "c", "x"]);
    p.same(&["LMPOP", "1", "a", "LEFT"]);
    p.same(&["LMPOP", "3", "a", "b", "c", "LEFT"]);
    p.same(&["LMPOP", "3", "a", "b", "c", "RIGHT"]);
    p.same(&["LMPOP", "3", "a", "b", "c", "left", "COUNT", "1"]);
    p.same(&["LMPOP", "2", "a", "b", "RIGHT", "count", "10"]);
    p.same(&["EXISTS", "b"]);
    p.same(&["LMPOP", "3", "a", "b", "c", "RIGHT", "COUNT", "2"]);
    p.same(&["LMPOP", "3", "a", "b", "c", "RIGHT"]);
    p.same(&["RPUSH", "b", "1", "2", "3"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT", "9223372036854775807"]);
    // errors
    p.same(&["LMPOP", "0", "b", "LEFT"]);
    p.same(&["LMPOP", "-1", "b", "LEFT"]);
    p.same(&["LMPOP", "x", "b", "LEFT"]);
    p.same(&["LMPOP", "2", "b", "LEFT"]);
    p.same(&["LMPOP", "3", "b", "LEFT", "COUNT"]);
    p.same(&["LMPOP", "9223372036854775807", "b", "LEFT"]);
    p.same(&["LMPOP", "99999999999999999999", "b", "LEFT"]);
    p.same(&["LMPOP", "1", "b", "UP"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT", "0"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT", "-1"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT", "x"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "COUNT", "1", "COUNT", "2"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "FOO"]);
    p.same(&["LMPOP", "1", "b", "LEFT", "1"]);
    p.same(&["LMPOP", "1", "b"]);
    p.same(&["LMPOP", "1"]);
    // WRONGTYPE only when reached
    p.ok(&["SET", "s", "v"]);
    p.same(&["RPUSH", "l", "1"]);
    p.same(&["LMPOP", "2", "s", "l", "LEFT"]);
    p.same(&["LMPOP", "2", "nope", "s", "LEFT"]);
    p.same(&["LMPOP", "2", "l", "s", "LEFT"]);
    p.same(&["LMPOP", "2", "l", "s", "LEFT"]);
    // the same key twice
    p.same(&["RPUSH", "l", "1", "2"]);
    p.same(&["LMPOP", "2", "l", "l", "RIGHT", "COUNT", "5"]);
});

diff_test!(big_list_ends_and_middle, |p| {
    // A list built from both ends, then read and changed near either end
    // and in the middle.
    let mut cmd = vec!["RPUSH".to_string(), "big".to_string()];
    cmd.extend((0..300).map(|i| format!("r{i}")));
    p.same(&cmd);
    let mut cmd = vec!["LPUSH".to_string(), "big".to_string()];
    cmd.extend((0..300).map(|i| format!("l{i}")));
    p.same(&cmd);
    p.same(&["LLEN", "big"]);
    for i in [
        "0", "1", "299", "300", "301", "598", "599", "-1", "-2", "-300", "-301", "-600",
    ] {
        p.same(&["LINDEX", "big", i]);
        p.same(&["LSET", "big", i, &format!("set{i}")]);
    }
    p.same(&["LRANGE", "big", "290", "310"]);
    p.same(&["LRANGE", "big", "-10", "-1"]);
    p.same(&["LRANGE", "big", "0", "9"]);
    p.same(&["LRANGE", "big", "500", "520"]);
    p.same(&["LRANGE", "big", "100", "120"]);
    p.same(&["LPOS", "big", "r150"]);
    p.same(&["LPOS", "big", "l150", "RANK", "-1"]);
    p.same(&["LPOP", "big", "50"]);
    p.same(&["RPOP", "big", "50"]);
    p.same(&["LTRIM", "big", "100", "-100"]);
    p.same(&["LRANGE", "big", "0", "-1"]);
    p.same(&["LREM", "big", "0", "r10"]);
    p.same(&["LLEN", "big"]);
});

// Regression (found by proptest_lists): trimming both ends, then pushing.
diff_test!(ltrim_both_ends_then_push, |p| {
    p.same(&["RPUSH", "t", "a1", "a2", "a3"]);
    p.same(&["RPUSH", "t", "a4", "a5"]);
    p.same(&["LTRIM", "t", "1", "-3"]);
    p.same(&["LRANGE", "t", "0", "-1"]);
    p.same(&["RPUSH", "t", "b"]);
    p.same(&["LRANGE", "t", "0", "-1"]);
    p.same(&["RPUSH", "u", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    p.same(&["LTRIM", "u", "2", "4"]);
    p.same(&["LRANGE", "u", "0", "-1"]);
    p.same(&["LTRIM", "u", "-2", "-1"]);
    p.same(&["LRANGE", "u", "0", "-1"]);
});

// LRANGE read again after every kind of change to the list (ferry answers
// a range within a head it read before from memory, listheads.rs, and must
// forget it on any change): each change is followed by two reads, the
// second within the first.
fn reads(p: &mut common::ConnPair, key: &str) {
    p.same(&["LRANGE", key, "0", "5"]);
    p.same(&["LRANGE", key, "1", "3"]);
    p.same(&["LRANGE", key, "-3", "-1"]);
}

diff_test!(lrange_again_after_every_change, |p| {
    let mut other = p.connect();
    p.same(&["RPUSH", "l", "a", "b", "c", "d", "e", "f", "g"]);
    reads(p, "l");
    let changes: &[&[&str]] = &[
        &["LSET", "l", "2", "x"],
        &["LPUSH", "l", "h"],
        &["RPUSH", "l", "i"],
        &["LINSERT", "l", "BEFORE", "x", "y"],
        &["LREM", "l", "1", "b"],
        &["LPOP", "l"],
        &["RPOP", "l"],
        &["LTRIM", "l", "1", "-1"],
        &["LMOVE", "l", "l", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "l"],
    ];
    for change in changes {
        // Half of them from another connection.
        if change[0].starts_with('L') {
            other.same(change);
        } else {
            p.same(change);
        }
        reads(p, "l");
    }
    // Renamed, copied, moved, restored, deleted, expired, flushed.
    p.same(&["RENAME", "l", "l2"]);
    reads(p, "l");
    reads(p, "l2");
    p.same(&["COPY", "l2", "l3"]);
    p.same(&["LPUSH", "l2", "only-in-l2"]);
    reads(p, "l2");
    reads(p, "l3");
    p.same(&["SORT", "l3", "ALPHA"]);
    let dump = p.a.cmd(&["DUMP", "l3"]);
    let payload = common::parse_one(&dump).as_bytes().expect("a DUMP payload");
    p.same(&[
        &b"RESTORE"[..],
        &b"l2"[..],
        &b"0"[..],
        &payload[..],
        &b"REPLACE"[..],
    ]);
    reads(p, "l2");
    p.same(&["MOVE", "l2", "1"]);
    reads(p, "l2");
    p.same(&["SELECT", "1"]);
    reads(p, "l2");
    p.same(&["SELECT", "0"]);
    p.same(&["PEXPIRE", "l3", "40"]);
    reads(p, "l3");
    std::thread::sleep(std::time::Duration::from_millis(100));
    reads(p, "l3");
    p.same(&["RPUSH", "f", "1", "2", "3"]);
    reads(p, "f");
    p.same(&["FLUSHDB"]);
    reads(p, "f");
    p.same(&["RPUSH", "f", "4"]);
    reads(p, "f");
    // Inside a transaction and a pipeline: reads between pushes.
    p.same(&["MULTI"]);
    p.same(&["LRANGE", "f", "0", "-1"]);
    p.same(&["LPUSH", "f", "5"]);
    p.same(&["LRANGE", "f", "0", "-1"]);
    p.same(&["EXEC"]);
    let mut cmds: Vec<&[&str]> = Vec::new();
    for _ in 0..20 {
        cmds.push(&["LRANGE", "f", "0", "2"]);
        cmds.push(&["RPOPLPUSH", "f", "f"]);
    }
    p.same_pipeline(&cmds, cmds.len());
});

// Pops between other list commands in long pipelines: ferry serves pops
// from rows it read ahead and deletes their rows later (listpops.rs), so
// every other list command in the same batch (reads by index and range,
// LSET, LINSERT, LREM, LPOS, pushes at either end, moves and rotations,
// counted pops that cross what was read ahead) must see the pops before it.
diff_test!(pops_between_other_list_commands_in_pipelines, |p| {
    let mut other = p.connect();
    let first: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    let mut push: Vec<&str> = vec!["RPUSH", "q"];
    push.extend(first.iter().map(String::as_str));
    p.same(&push);
    let between: &[&[&str]] = &[
        &["LINDEX", "q", "0"],
        &["LINDEX", "q", "-1"],
        &["LRANGE", "q", "0", "4"],
        &["LRANGE", "q", "-3", "-1"],
        &["LSET", "q", "0", "set-head"],
        &["LSET", "q", "-1", "set-tail"],
        &["LPUSH", "q", "pushed-head"],
        &["RPUSH", "q", "pushed-tail"],
        &["LINSERT", "q", "BEFORE", "e40", "inserted"],
        &["LREM", "q", "1", "e41"],
        &["LPOS", "q", "inserted"],
        &["LMOVE", "q", "q", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "q", "q"],
        &["LMOVE", "q", "q2", "RIGHT", "LEFT"],
        &["LPOP", "q", "70"],
        &["RPOP", "q", "3"],
        &["LLEN", "q"],
    ];
    let mut seed = 7u32;
    for round in 0..4 {
        let mut cmds: Vec<&[&str]> = Vec::new();
        for _ in 0..120 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            cmds.push(match (seed >> 16) % 4 {
                0 => &["LPOP", "q"],
                1 => &["RPOP", "q"],
                _ => between[(seed >> 8) as usize % between.len()],
            });
        }
        p.same_pipeline(&cmds, cmds.len());
        // Another client's change between pipelines.
        other.same(&["LPUSH", "q", "other-1", "other-2"]);
        p.same(&["LRANGE", "q", "0", "-1"]);
        p.same(&["LRANGE", "q2", "0", "-1"]);
        if round == 1 {
            // Refilled after the pipeline emptied it or not.
            p.same(&push);
        }
    }
    // Drained to nothing and popped again, in one pipeline; in MULTI.
    let mut cmds: Vec<&[&str]> = vec![&["LPOP", "q", "1000"], &["LPOP", "q"], &["EXISTS", "q"]];
    cmds.extend([
        &["RPUSH", "q", "a", "b", "c"][..],
        &["RPOP", "q"],
        &["LPOP", "q"],
        &["LRANGE", "q", "0", "-1"],
    ]);
    p.same_pipeline(&cmds, cmds.len());
    p.same(&["MULTI"]);
    p.same(&["RPUSH", "q", "x", "y", "z"]);
    p.same(&["LPOP", "q"]);
    p.same(&["LINDEX", "q", "0"]);
    p.same(&["RPOP", "q", "5"]);
    p.same(&["EXISTS", "q"]);
    p.same(&["EXEC"]);
});
