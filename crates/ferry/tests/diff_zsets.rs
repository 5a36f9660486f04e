//! Differential tests for sorted-set commands: every reply from ferry must
//! be byte-identical to redis-server 7.0's, in RESP2 and in RESP3. Random
//! replies (ZRANDMEMBER) are checked for shape and membership.
//!
//! Not covered here yet: plain sets as inputs of ZUNION/ZINTER/ZDIFF (needs
//! SADD) and OBJECT ENCODING (wired in keys.rs separately).

#[macro_use]
mod common;

use common::{parse_one, Resp};

fn setup(p: &mut common::Pair) {
    p.same(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "d", "-1.5", "e",
    ]);
    p.same(&[
        "ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f",
    ]);
    p.same(&["SET", "str", "x"]);
}

diff_test!(zadd_basic_and_flags, |p| {
    p.same(&["ZADD", "z", "1", "a"]);
    p.same(&["ZADD", "z", "1", "a", "2", "b", "2", "b"]);
    p.same(&["ZADD", "z", "NX", "5", "a", "5", "c"]);
    p.same(&["ZSCORE", "z", "a"]);
    p.same(&["ZADD", "z", "XX", "5", "a", "5", "new"]);
    p.same(&["ZSCORE", "z", "new"]);
    p.same(&["ZADD", "z", "XX", "CH", "6", "a", "5", "c", "9", "zz"]);
    p.same(&["ZADD", "z", "CH", "6", "a", "7", "c", "1", "q"]);
    p.same(&["ZADD", "z", "GT", "CH", "1", "a", "100", "c"]);
    p.same(&["ZADD", "z", "LT", "CH", "1", "a", "200", "c"]);
    p.same(&["ZADD", "z", "GT", "5", "brandnew"]);
    p.same(&["ZADD", "z", "gt", "xx", "ch", "1000", "brandnew"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&[
        "ZADD", "z", "1.5", "f", "-inf", "g", "+inf", "h", "1e3", "i", "0.1", "j",
    ]);
    p.same(&[
        "ZADD", "z", "0x10", "hex", "-0", "negzero", "1e-320", "tiny",
    ]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZCARD", "z"]);
    // XX on a missing key creates nothing
    p.same(&["ZADD", "nokey", "XX", "1", "a"]);
    p.same(&["EXISTS", "nokey"]);
    p.same(&["ZADD", "nokey", "XX", "INCR", "1", "a"]);
    p.same(&["EXISTS", "nokey"]);
    // binary members
    p.same(&[&b"ZADD"[..], b"bin", b"1", b"\x00\xff", b"1", b"\x00"]);
    p.same(&["ZRANGE", "bin", "0", "-1"]);
});

diff_test!(zadd_errors, |p| {
    p.same(&["ZADD", "z", "1", "a"]);
    p.same(&["SET", "str", "x"]);
    p.same(&["ZADD"]);
    p.same(&["ZADD", "z"]);
    p.same(&["ZADD", "z", "1"]);
    p.same(&["ZADD", "z", "ch"]);
    p.same(&["ZADD", "z", "ch", "1"]);
    p.same(&["ZADD", "z", "1", "a", "2"]);
    p.same(&["ZADD", "z", "NX", "XX", "1", "a"]);
    p.same(&["ZADD", "z", "GT", "LT", "1", "a"]);
    p.same(&["ZADD", "z", "GT", "NX", "1", "a"]);
    p.same(&["ZADD", "z", "LT", "NX", "1", "a"]);
    p.same(&["ZADD", "z", "NX", "XX", "GT", "1", "a"]);
    p.same(&["ZADD", "z", "INCR", "1", "a", "2", "b"]);
    p.same(&["ZADD", "z", "INCR", "NX", "XX", "1", "a", "2", "b"]);
    for bad in [
        "abc", "", " 1", "1 ", "nan", "NaN", "1e400", "-1e400", "1e-400", "1.2.3", "++1", "0x",
        "inf1",
    ] {
        p.same(&["ZADD", "z", bad, "a"]);
        p.same(&["ZINCRBY", "z", bad, "a"]);
    }
    p.same(&["ZADD", "z", "1", "a", "x", "b"]);
    p.same(&["ZADD", "str", "1", "a"]);
    p.same(&["ZADD", "str", "x", "a"]);
    p.same(&["ZINCRBY", "str", "1", "a"]);
    p.same(&["ZINCRBY", "z", "1"]);
    p.same(&["ZINCRBY", "z", "1", "a", "b"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
});

diff_test!(zadd_incr_and_zincrby, |p| {
    p.same(&["ZADD", "z", "INCR", "1.5", "a"]);
    p.same(&["ZADD", "z", "INCR", "1.5", "a"]);
    p.same(&["ZADD", "z", "INCR", "NX", "1", "a"]);
    p.same(&["ZADD", "z", "INCR", "XX", "1", "b"]);
    p.same(&["ZADD", "z", "INCR", "XX", "1", "a"]);
    p.same(&["ZADD", "z", "INCR", "GT", "-1", "a"]);
    p.same(&["ZADD", "z", "INCR", "GT", "1", "a"]);
    p.same(&["ZADD", "z", "INCR", "LT", "1", "a"]);
    p.same(&["ZADD", "z", "INCR", "LT", "-0.5", "a"]);
    p.same(&["ZADD", "z", "INCR", "GT", "0", "a"]);
    p.same(&["ZADD", "z", "INCR", "0", "a"]);
    p.same(&["ZADD", "z", "INCR", "CH", "0.1", "a"]);
    p.same(&["ZINCRBY", "z", "0.1", "a"]);
    p.same(&["ZINCRBY", "z", "-10", "new"]);
    p.same(&["ZINCRBY", "z", "inf", "a"]);
    p.same(&["ZINCRBY", "z", "-inf", "a"]);
    p.same(&["ZADD", "z", "INCR", "-inf", "a"]);
    p.same(&["ZINCRBY", "z", "inf", "a"]);
    p.same(&["ZSCORE", "z", "a"]);
    p.same(&["ZINCRBY", "fresh", "3", "m"]);
    p.same(&["ZADD", "z", "INCR", "1e308", "big"]);
    p.same(&["ZADD", "z", "INCR", "1e308", "big"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZADD", "z", "0.1", "x"]);
    p.same(&["ZINCRBY", "z", "0.2", "x"]);
});

diff_test!(zrem_zcard_zscore_zmscore, |p| {
    setup(p);
    p.same(&["ZCARD", "z"]);
    p.same(&["ZCARD", "missing"]);
    p.same(&["ZCARD", "str"]);
    p.same(&["ZCARD"]);
    p.same(&["ZSCORE", "z", "a"]);
    p.same(&["ZSCORE", "z", "e"]);
    p.same(&["ZSCORE", "z", "nope"]);
    p.same(&["ZSCORE", "missing", "a"]);
    p.same(&["ZSCORE", "str", "a"]);
    p.same(&["ZSCORE", "z"]);
    p.same(&["ZMSCORE", "z", "a", "nope", "e"]);
    p.same(&["ZMSCORE", "missing", "a", "b"]);
    p.same(&["ZMSCORE", "str", "a"]);
    p.same(&["ZMSCORE", "z"]);
    p.same(&["ZREM", "z", "a", "a", "nope", "b"]);
    p.same(&["ZREM", "z", "nope"]);
    p.same(&["ZREM", "missing", "a"]);
    p.same(&["ZREM", "str", "a"]);
    p.same(&["ZREM", "z"]);
    p.same(&["ZCARD", "z"]);
    p.same(&["ZREM", "z", "c", "d", "e"]);
    p.same(&["EXISTS", "z"]);
    p.same(&["TYPE", "lex"]);
});

diff_test!(zrank_zrevrank, |p| {
    setup(p);
    for m in ["a", "b", "c", "d", "e", "nope"] {
        p.same(&["ZRANK", "z", m]);
        p.same(&["ZREVRANK", "z", m]);
    }
    p.same(&["ZRANK", "missing", "a"]);
    p.same(&["ZREVRANK", "missing", "a"]);
    p.same(&["ZRANK", "str", "a"]);
    p.same(&["ZREVRANK", "str", "a"]);
    p.same(&["ZRANK", "z"]);
    p.same(&["ZRANK", "z", "a", "WITHSCORE"]);
});

diff_test!(zcount_zlexcount, |p| {
    setup(p);
    for (lo, hi) in [
        ("-inf", "+inf"),
        ("1", "3"),
        ("(1", "3"),
        ("1", "(3"),
        ("(1", "(3"),
        ("3", "1"),
        ("(3", "3"),
        ("-1.5", "-1.5"),
        ("(", "2"),
        ("", "2"),
        (" 1", "2"),
        ("0x1", "2"),
        ("inf", "-inf"),
        ("-inf", "(-inf"),
        ("(inf", "+inf"),
    ] {
        p.same(&["ZCOUNT", "z", lo, hi]);
        p.same(&["ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES"]);
    }
    for (lo, hi) in [
        ("x", "1"),
        ("1", "x"),
        ("(x", "1"),
        ("nan", "1"),
        ("(nan", "1"),
        ("1", " "),
        ("1e", "2"),
    ] {
        p.same(&["ZCOUNT", "z", lo, hi]);
    }
    p.same(&["ZCOUNT", "missing", "0", "1"]);
    p.same(&["ZCOUNT", "str", "0", "1"]);
    p.same(&["ZCOUNT", "z", "0"]);
    for (lo, hi) in [
        ("-", "+"),
        ("[a", "[c"),
        ("(a", "[c"),
        ("[a", "(c"),
        ("(a", "(a"),
        ("[a", "[a"),
        ("+", "-"),
        ("[c", "[a"),
        ("-", "[b"),
        ("(b", "+"),
        ("[", "+"),
        ("[zz", "+"),
    ] {
        p.same(&["ZLEXCOUNT", "lex", lo, hi]);
        p.same(&["ZRANGEBYLEX", "lex", lo, hi]);
        p.same(&["ZREVRANGEBYLEX", "lex", hi, lo]);
    }
    for (lo, hi) in [("a", "+"), ("-", "c"), ("+a", "+"), ("--", "+"), ("", "+")] {
        p.same(&["ZLEXCOUNT", "lex", lo, hi]);
    }
    p.same(&["ZLEXCOUNT", "missing", "-", "+"]);
    p.same(&["ZLEXCOUNT", "str", "-", "+"]);
    p.same(&["ZLEXCOUNT", "missing", "x", "+"]);
});

diff_test!(zrange_by_rank, |p| {
    setup(p);
    for (a, b) in [
        ("0", "-1"),
        ("0", "0"),
        ("1", "2"),
        ("-2", "-1"),
        ("-100", "100"),
        ("3", "1"),
        ("5", "10"),
        ("4", "4"),
        ("-1", "-2"),
        ("0", "-6"),
        ("0", "-5"),
    ] {
        p.same(&["ZRANGE", "z", a, b]);
        p.same(&["ZRANGE", "z", a, b, "WITHSCORES"]);
        p.same(&["ZRANGE", "z", a, b, "REV"]);
        p.same(&["ZRANGE", "z", a, b, "REV", "WITHSCORES"]);
        p.same(&["ZREVRANGE", "z", a, b]);
        p.same(&["ZREVRANGE", "z", a, b, "withscores"]);
    }
    p.same(&["ZRANGE", "missing", "0", "-1"]);
    p.same(&["ZRANGE", "str", "0", "-1"]);
    p.same(&["ZRANGE", "z", "a", "1"]);
    p.same(&["ZRANGE", "z", "0", "1.5"]);
    p.same(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]);
    p.same(&["ZRANGE", "z", "0", "1", "foo"]);
    p.same(&["ZRANGE", "z", "0", "1", "REV", "REV"]);
    p.same(&["ZRANGE", "z", "0"]);
    p.same(&["ZREVRANGE", "z", "0", "1", "REV"]);
    p.same(&["ZREVRANGE", "z", "0", "1", "BYSCORE"]);
    p.same(&["ZREVRANGE", "missing", "0", "1"]);
    p.same(&["ZREVRANGE", "str", "0", "1"]);
});

diff_test!(zrange_by_score_and_lex, |p| {
    setup(p);
    for (lo, hi) in [
        ("-inf", "+inf"),
        ("1", "3"),
        ("(1", "3"),
        ("(1", "(3"),
        ("3", "1"),
        ("-inf", "(2"),
    ] {
        p.same(&["ZRANGE", "z", lo, hi, "BYSCORE"]);
        p.same(&["ZRANGE", "z", lo, hi, "BYSCORE", "WITHSCORES"]);
        p.same(&["ZRANGE", "z", hi, lo, "BYSCORE", "REV", "WITHSCORES"]);
        p.same(&["ZREVRANGEBYSCORE", "z", hi, lo, "WITHSCORES"]);
        p.same(&["ZREVRANGEBYSCORE", "z", lo, hi]);
        for (o, c) in [
            ("0", "1"),
            ("1", "2"),
            ("2", "-1"),
            ("-1", "2"),
            ("0", "0"),
            ("10", "1"),
            ("1", "100"),
        ] {
            p.same(&["ZRANGE", "z", lo, hi, "BYSCORE", "LIMIT", o, c]);
            p.same(&["ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES", "LIMIT", o, c]);
            p.same(&["ZREVRANGEBYSCORE", "z", hi, lo, "LIMIT", o, c, "WITHSCORES"]);
        }
    }
    for (lo, hi) in [("-", "+"), ("[b", "(e"), ("(a", "+"), ("-", "[c")] {
        p.same(&["ZRANGE", "lex", lo, hi, "BYLEX"]);
        p.same(&["ZRANGE", "lex", hi, lo, "BYLEX", "REV"]);
        for (o, c) in [
            ("0", "2"),
            ("1", "2"),
            ("2", "-1"),
            ("-1", "1"),
            ("0", "0"),
            ("10", "1"),
        ] {
            p.same(&["ZRANGE", "lex", lo, hi, "BYLEX", "LIMIT", o, c]);
            p.same(&["ZRANGEBYLEX", "lex", lo, hi, "LIMIT", o, c]);
            p.same(&["ZREVRANGEBYLEX", "lex", hi, lo, "LIMIT", o, c]);
        }
    }
    // lex ranges over mixed scores follow Redis's walk
    for (lo, hi) in [
        ("-", "+"),
        ("[b", "[d"),
        ("(a", "+"),
        ("[c", "+"),
        ("-", "(c"),
    ] {
        p.same(&["ZRANGEBYLEX", "z", lo, hi]);
        p.same(&["ZREVRANGEBYLEX", "z", hi, lo]);
        p.same(&["ZLEXCOUNT", "z", lo, hi]);
    }
    // LIMIT skips blindly past the start, as Redis does
    p.same(&["ZADD", "mixed", "0", "aa", "-1", "e", "-1", "b"]);
    p.same(&["ZRANGE", "mixed", "(a", "(c", "BYLEX", "LIMIT", "2", "-1"]);
    p.same(&[
        "ZRANGE", "mixed", "(c", "(a", "BYLEX", "REV", "LIMIT", "1", "-1",
    ]);
    p.same(&["ZRANGE", "mixed", "(a", "(c", "BYLEX", "LIMIT", "1", "1"]);
    // option errors
    p.same(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0"]);
    p.same(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"]);
    p.same(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0", "x"]);
    p.same(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]);
    p.same(&["ZRANGE", "z", "0", "1", "BYLEX"]);
    p.same(&["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]);
    p.same(&["ZRANGE", "z", "x", "1", "BYSCORE"]);
    p.same(&[
        "ZRANGE",
        "z",
        "(1",
        "3",
        "BYSCORE",
        "withscores",
        "limit",
        "0",
        "1",
        "limit",
        "1",
        "1",
    ]);
    p.same(&["ZRANGEBYSCORE", "z", "1", "3", "REV"]);
    p.same(&["ZRANGEBYSCORE", "z", "1", "3", "BYSCORE"]);
    p.same(&["ZRANGEBYSCORE", "z", "x", "3"]);
    p.same(&["ZRANGEBYSCORE", "missing", "x", "3"]);
    p.same(&["ZRANGEBYSCORE", "missing", "1", "3"]);
    p.same(&["ZRANGEBYSCORE", "str", "1", "3"]);
    p.same(&["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"]);
    p.same(&["ZRANGEBYLEX", "z", "a", "+"]);
    p.same(&["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0"]);
    p.same(&["ZRANGEBYLEX", "str", "-", "+"]);
    p.same(&["ZREVRANGEBYLEX", "z", "+", "-", "REV"]);
    p.same(&["ZREVRANGEBYSCORE", "z", "x", "1"]);
});

diff_test!(zrangestore, |p| {
    setup(p);
    p.same(&["ZRANGESTORE", "dst", "z", "0", "-1"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&[
        "ZRANGESTORE",
        "dst",
        "z",
        "1",
        "3",
        "BYSCORE",
        "LIMIT",
        "1",
        "1",
    ]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGESTORE", "dst", "z", "3", "1", "BYSCORE", "REV"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGESTORE", "dst", "lex", "[b", "[d", "BYLEX"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGESTORE", "dst", "z", "0", "1", "REV"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    // empty result deletes the destination
    p.same(&["ZRANGESTORE", "dst", "z", "10", "20"]);
    p.same(&["EXISTS", "dst"]);
    p.same(&["ZRANGESTORE", "dst", "missing", "0", "-1"]);
    p.same(&["SET", "s2", "v"]);
    p.same(&["ZRANGESTORE", "s2", "z", "0", "0"]);
    p.same(&["TYPE", "s2"]);
    p.same(&["ZRANGESTORE", "s2", "missing", "0", "0"]);
    p.same(&["EXISTS", "s2"]);
    // store onto itself
    p.same(&["ZRANGESTORE", "z", "z", "0", "1"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGESTORE", "dst", "str", "0", "-1"]);
    p.same(&["ZRANGESTORE", "dst", "z", "0"]);
    p.same(&["ZRANGESTORE", "dst", "z", "0", "1", "LIMIT", "0", "1"]);
});

diff_test!(zremrange, |p| {
    setup(p);
    p.same(&["ZREMRANGEBYRANK", "z", "0", "0"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZREMRANGEBYRANK", "z", "-1", "-1"]);
    p.same(&["ZREMRANGEBYRANK", "z", "5", "1"]);
    p.same(&["ZREMRANGEBYRANK", "z", "10", "20"]);
    p.same(&["ZREMRANGEBYRANK", "z", "x", "1"]);
    p.same(&["ZREMRANGEBYRANK", "missing", "0", "1"]);
    p.same(&["ZREMRANGEBYRANK", "str", "0", "1"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZREMRANGEBYRANK", "z", "0", "-1"]);
    p.same(&["EXISTS", "z"]);
    setup(p);
    p.same(&["ZREMRANGEBYSCORE", "z", "(1", "2"]);
    p.same(&["ZREMRANGEBYSCORE", "z", "5", "1"]);
    p.same(&["ZREMRANGEBYSCORE", "z", "x", "1"]);
    p.same(&["ZREMRANGEBYSCORE", "missing", "0", "1"]);
    p.same(&["ZREMRANGEBYSCORE", "str", "0", "1"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"]);
    p.same(&["EXISTS", "z"]);
    p.same(&["ZREMRANGEBYLEX", "lex", "[b", "(d"]);
    p.same(&["ZREMRANGEBYLEX", "lex", "x", "(d"]);
    p.same(&["ZREMRANGEBYLEX", "lex", "+", "-"]);
    p.same(&["ZREMRANGEBYLEX", "missing", "-", "+"]);
    p.same(&["ZREMRANGEBYLEX", "str", "-", "+"]);
    p.same(&["ZRANGE", "lex", "0", "-1"]);
    p.same(&["ZREMRANGEBYLEX", "lex", "-", "+"]);
    p.same(&["EXISTS", "lex"]);
    p.same(&["ZREMRANGEBYLEX", "lex", "-"]);
});

diff_test!(zpop_and_zmpop, |p| {
    setup(p);
    p.same(&["ZPOPMIN", "z"]);
    p.same(&["ZPOPMAX", "z"]);
    p.same(&["ZPOPMIN", "z", "1"]);
    p.same(&["ZPOPMAX", "z", "0"]);
    p.same(&["ZPOPMIN", "z", "-1"]);
    p.same(&["ZPOPMIN", "z", "x"]);
    p.same(&["ZPOPMIN", "z", "1", "2"]);
    p.same(&["ZPOPMAX", "z", "10"]);
    p.same(&["EXISTS", "z"]);
    p.same(&["ZPOPMIN", "z"]);
    p.same(&["ZPOPMIN", "z", "2"]);
    p.same(&["ZPOPMIN", "str"]);
    p.same(&["ZPOPMAX", "str", "1"]);
    p.same(&["ZPOPMIN"]);
    setup(p);
    p.same(&["ZMPOP", "2", "missing", "z", "MIN"]);
    p.same(&["ZMPOP", "1", "z", "max", "COUNT", "2"]);
    p.same(&["ZMPOP", "1", "z", "MIN", "COUNT", "100"]);
    p.same(&["ZMPOP", "1", "z", "MIN"]);
    p.same(&["ZMPOP", "2", "missing", "z", "MIN"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "COUNT", "0"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "COUNT", "-1"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "COUNT", "x"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "COUNT"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "COUNT", "1", "COUNT", "1"]);
    p.same(&["ZMPOP", "1", "lex", "MIN", "foo"]);
    p.same(&["ZMPOP", "1", "lex", "foo"]);
    p.same(&["ZMPOP", "0", "lex", "MIN"]);
    p.same(&["ZMPOP", "-1", "lex", "MIN"]);
    p.same(&["ZMPOP", "x", "lex", "MIN"]);
    p.same(&["ZMPOP", "2", "lex", "MIN"]);
    p.same(&["ZMPOP", "1", "lex"]);
    p.same(&["ZMPOP", "1", "str", "MIN"]);
    p.same(&["ZMPOP", "2", "lex", "str", "MIN"]);
    p.same(&["ZMPOP", "2", "missing", "str", "MIN"]);
    p.same(&["ZRANGE", "lex", "0", "-1"]);
});

/// Members of a ZRANDMEMBER reply (flat member/score pairs in RESP2 with
/// scores, nested pairs in RESP3).
fn members(r: &Resp, withscores: bool) -> Vec<String> {
    let e = r.elements().unwrap_or_default();
    let nested = e.iter().any(|x| matches!(x, Resp::Array(_)));
    let step = if withscores && !nested { 2 } else { 1 };
    e.iter()
        .step_by(step)
        .map(|e| match e {
            Resp::Array(pair) => pair[0].as_str().unwrap(),
            other => other.as_str().unwrap(),
        })
        .collect()
}

diff_test!(zrandmember, |p| {
    setup(p);
    let all = ["a", "b", "c", "d", "e"];
    for _ in 0..5 {
        let (a, b) = p.same_shape(&["ZRANDMEMBER", "z"]);
        for r in [a, b] {
            assert!(all.contains(&r.as_str().unwrap().as_str()));
        }
    }
    for count in ["1", "3", "5", "10", "-1", "-3", "-10"] {
        for ws in [false, true] {
            let mut c = vec!["ZRANDMEMBER", "z", count];
            if ws {
                c.push("WITHSCORES");
            }
            let (a, b) = p.same_shape(&c);
            for r in [&a, &b] {
                let ms = members(r, ws);
                for m in &ms {
                    assert!(all.contains(&m.as_str()), "{m}");
                }
                if !count.starts_with('-') {
                    let mut d = ms.clone();
                    d.sort();
                    d.dedup();
                    assert_eq!(d.len(), ms.len(), "distinct members for positive count");
                }
            }
        }
    }
    let (a, _) = p.same_shape(&["ZRANDMEMBER", "z", "5", "WITHSCORES"]);
    let raw = p.b.cmd(&["ZRANDMEMBER", "z", "-3", "WITHSCORES"]);
    let _ = (a, parse_one(&raw));
    p.same(&["ZRANDMEMBER", "missing"]);
    p.same(&["ZRANDMEMBER", "missing", "3"]);
    p.same(&["ZRANDMEMBER", "missing", "-3", "WITHSCORES"]);
    p.same(&["ZRANDMEMBER", "z", "0"]);
    p.same(&["ZRANDMEMBER", "z", "0", "WITHSCORES"]);
    p.same(&["ZRANDMEMBER", "str"]);
    p.same(&["ZRANDMEMBER", "str", "1"]);
    p.same(&["ZRANDMEMBER", "z", "x"]);
    p.same(&["ZRANDMEMBER", "z", "1", "foo"]);
    p.same(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"]);
    p.same(&["ZRANDMEMBER", "z", "x", "foo"]);
    p.same(&["ZRANDMEMBER", "z", "-9223372036854775808"]);
    p.same(&["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"]);
    p.same(&["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"]);
    p.same(&["ZRANDMEMBER"]);
});

diff_test!(zunion_zinter_zdiff, |p| {
    setup(p);
    p.same(&["ZADD", "z2", "10", "a", "20", "c", "30", "x", "inf", "y"]);
    for cmd in ["ZUNION", "ZINTER"] {
        p.same(&[cmd, "2", "z", "z2"]);
        p.same(&[cmd, "2", "z", "z2", "WITHSCORES"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "2", "0.5", "WITHSCORES"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "0", "1", "WITHSCORES"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "-1", "-inf", "WITHSCORES"]);
        p.same(&[cmd, "2", "z", "z2", "AGGREGATE", "MIN", "WITHSCORES"]);
        p.same(&[cmd, "2", "z", "z2", "aggregate", "max", "withscores"]);
        p.same(&[
            cmd,
            "2",
            "z",
            "z2",
            "AGGREGATE",
            "SUM",
            "WEIGHTS",
            "1",
            "2",
            "WITHSCORES",
        ]);
        p.same(&[cmd, "2", "z", "missing", "WITHSCORES"]);
        p.same(&[cmd, "1", "missing"]);
        p.same(&[cmd, "2", "z", "str"]);
        p.same(&[cmd, "0", "z"]);
        p.same(&[cmd, "-1", "z"]);
        p.same(&[cmd, "x", "z"]);
        p.same(&[cmd, "3", "z", "z2"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "1"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "1", "x"]);
        p.same(&[cmd, "2", "z", "z2", "WEIGHTS", "1", "nan"]);
        p.same(&[cmd, "2", "z", "z2", "AGGREGATE", "avg"]);
        p.same(&[cmd, "2", "z", "z2", "AGGREGATE"]);
        p.same(&[cmd, "2", "z", "z2", "foo"]);
        p.same(&[cmd, "2", "z", "z2", "WITHSCORES", "WITHSCORES"]);
    }
    // float sums follow Redis's order (smallest input first) and NaN rules
    p.same(&["ZADD", "fa", "1", "x", "0", "p1", "0", "p2"]);
    p.same(&["ZADD", "fb", "1e16", "x"]);
    p.same(&["ZADD", "fc", "-1e16", "x", "0", "p3"]);
    p.same(&["ZUNION", "3", "fa", "fb", "fc", "WITHSCORES"]);
    p.same(&["ZINTER", "3", "fa", "fb", "fc", "WITHSCORES"]);
    p.same(&["ZADD", "na", "inf", "x"]);
    p.same(&["ZADD", "nb", "-1", "x"]);
    for cmd in ["ZUNION", "ZINTER"] {
        p.same(&[cmd, "2", "na", "nb", "WEIGHTS", "0", "inf", "WITHSCORES"]);
        p.same(&[cmd, "2", "nb", "na", "WEIGHTS", "inf", "0", "WITHSCORES"]);
        p.same(&[cmd, "2", "na", "nb", "WEIGHTS", "1", "inf", "WITHSCORES"]);
    }
    p.same(&["ZDIFF", "2", "z", "z2"]);
    p.same(&["ZDIFF", "2", "z", "z2", "WITHSCORES"]);
    p.same(&["ZDIFF", "2", "missing", "z"]);
    p.same(&["ZDIFF", "2", "z", "missing", "WITHSCORES"]);
    p.same(&["ZDIFF", "2", "z", "z2", "WEIGHTS", "1", "1"]);
    p.same(&["ZDIFF", "2", "z", "z2", "AGGREGATE", "SUM"]);
    p.same(&["ZDIFF", "2", "z", "str"]);
    p.same(&["ZDIFF", "0", "z"]);
    p.same(&["ZUNION", "1"]);
});

diff_test!(store_forms_and_zintercard, |p| {
    setup(p);
    p.same(&["ZADD", "z2", "10", "a", "20", "c", "30", "x"]);
    p.same(&["ZUNIONSTORE", "dst", "2", "z", "z2", "WEIGHTS", "1", "3"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZDIFFSTORE", "dst", "2", "z", "z2"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["ZINTERSTORE", "dst", "2", "z", "missing"]);
    p.same(&["EXISTS", "dst"]);
    p.same(&["ZUNIONSTORE", "str2", "1", "z"]);
    p.same(&["SET", "str2", "x"]);
    p.same(&["ZUNIONSTORE", "str2", "1", "z"]);
    p.same(&["TYPE", "str2"]);
    p.same(&["ZUNIONSTORE", "z", "2", "z", "z2"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    p.same(&["ZUNIONSTORE", "dst", "1", "z", "WITHSCORES"]);
    p.same(&["ZDIFFSTORE", "dst", "1", "z", "WITHSCORES"]);
    p.same(&["ZUNIONSTORE", "dst", "0", "z"]);
    p.same(&["ZINTERSTORE", "dst", "2", "z"]);
    p.same(&["ZDIFFSTORE", "dst", "1", "str"]);
    p.same(&["ZUNIONSTORE", "dst", "1"]);
    p.same(&["ZINTERCARD", "2", "z", "z2"]);
    p.same(&["ZINTERCARD", "2", "z", "z2", "LIMIT", "1"]);
    p.same(&["ZINTERCARD", "2", "z", "z2", "LIMIT", "0"]);
    p.same(&["ZINTERCARD", "1", "z", "LIMIT", "2"]);
    p.same(&["ZINTERCARD", "1", "z", "LIMIT", "-1"]);
    p.same(&["ZINTERCARD", "1", "z", "LIMIT", "x"]);
    p.same(&["ZINTERCARD", "1", "z", "LIMIT"]);
    p.same(&["ZINTERCARD", "1", "z", "WITHSCORES"]);
    p.same(&["ZINTERCARD", "1", "z", "WEIGHTS", "1"]);
    p.same(&["ZINTERCARD", "0", "z"]);
    p.same(&["ZINTERCARD", "3", "z"]);
    p.same(&["ZINTERCARD", "x", "z"]);
    p.same(&["ZINTERCARD", "1", "str"]);
    p.same(&["ZINTERCARD", "2", "z", "missing"]);
    p.same(&["ZINTERCARD", "1"]);
});

diff_test!(zscan_small_and_large, |p| {
    setup(p);
    p.same_unordered(&["ZSCAN", "z", "0"]).len();
    let r = p.same(&["ZSCAN", "z", "0", "MATCH", "[a-c]"]);
    let _ = r;
    p.same(&["ZSCAN", "z", "0", "COUNT", "1"]);
    p.same(&["ZSCAN", "missing", "0"]);
    p.same(&["ZSCAN", "missing", "0", "foo"]);
    p.same(&["ZSCAN", "str", "0"]);
    p.same(&["ZSCAN", "z", "x"]);
    p.same(&["ZSCAN", "z", "0", "COUNT", "0"]);
    p.same(&["ZSCAN", "z", "0", "COUNT", "x"]);
    p.same(&["ZSCAN", "z", "0", "MATCH"]);
    p.same(&["ZSCAN", "z", "0", "foo", "1"]);
    p.same(&["ZSCAN", "z"]);
    // a large set: iterate to the end and compare the element sets
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        args.push(format!("{}.5", i % 17));
        args.push(format!("m{i}"));
    }
    p.same(&args);
    for side in 0..2 {
        let mut seen = std::collections::BTreeMap::new();
        let mut cursor = "0".to_string();
        for _ in 0..1000 {
            let conn = if side == 0 { &mut p.a } else { &mut p.b };
            let r = parse_one(&conn.cmd(&["ZSCAN", "big", &cursor, "COUNT", "25"]));
            let e = r.elements().unwrap();
            cursor = e[0].as_str().unwrap();
            for kv in e[1].elements().unwrap().chunks(2) {
                seen.insert(kv[0].as_str().unwrap(), kv[1].as_str().unwrap());
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(cursor, "0");
        assert_eq!(seen.len(), 300, "side {side}");
        assert_eq!(seen["m20"], "3.5");
    }
});

diff_test!(zset_encoding_and_type, |p| {
    setup(p);
    p.same(&["TYPE", "z"]);
    let long = "x".repeat(65);
    p.same(&["ZADD", "zl", "1", &long]);
    p.same(&["ZADD", "zl", "1", &"y".repeat(64)]);
    let mut args: Vec<String> = vec!["ZADD".into(), "many".into()];
    for i in 0..128 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    p.same(&args);
    p.same(&["ZADD", "many", "1", "one-more"]);
    p.same(&["ZRANGE", "many", "60", "70", "WITHSCORES"]);
    p.same(&["ZRANGE", "many", "-70", "-60", "REV"]);
    p.same(&["ZRANK", "many", "m100"]);
    p.same(&["ZREVRANK", "many", "m100"]);
    p.same(&["ZRANGEBYSCORE", "many", "(10", "+inf", "LIMIT", "5", "3"]);
    p.same(&["ZREVRANGEBYSCORE", "many", "+inf", "(10", "LIMIT", "5", "3"]);
    p.same(&["ZCOUNT", "many", "10", "100"]);
    p.same(&["DEL", "z"]);
    p.same(&["ZRANGESTORE", "small", "many", "0", "3"]);
});

/// Scans `key` to the end on one side (0 = redis, 1 = subject), deleting
/// `delete` members after the first page; returns every member seen.
fn scan_all(
    p: &mut common::Pair,
    side: usize,
    key: &str,
    count: &str,
    delete: &[String],
) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    for step in 0..10_000 {
        let conn = if side == 0 { &mut p.a } else { &mut p.b };
        if step == 1 {
            for d in delete {
                conn.cmd(&["ZREM", key, d]);
            }
        }
        let r = parse_one(&conn.cmd(&["ZSCAN", key, &cursor, "COUNT", count]));
        let e = r.elements().unwrap();
        cursor = e[0].as_str().unwrap();
        for kv in e[1].elements().unwrap().chunks(2) {
            seen.insert(kv[0].as_str().unwrap());
        }
        if cursor == "0" {
            return seen.into_iter().collect();
        }
    }
    panic!("ZSCAN did not finish");
}

diff_test!(zscan_guarantees, |p| {
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    let mut all = Vec::new();
    for i in 0..400 {
        // long shared prefixes, a few short members, and binary bytes
        let m = match i % 4 {
            0 => format!("shared-prefix-{i}"),
            1 => format!("{}", i),
            2 => format!("\u{ff}\u{ff}{i}"),
            _ => format!("shared-prefix-x{i}"),
        };
        args.push((i % 7).to_string());
        args.push(m.clone());
        all.push(m);
    }
    p.same(&args);
    let delete: Vec<String> = all.iter().step_by(3).cloned().collect();
    let kept: Vec<&String> = all.iter().filter(|m| !delete.contains(m)).collect();
    for side in 0..2 {
        let seen = scan_all(p, side, "big", "7", &[]);
        assert_eq!(seen.len(), 400, "side {side}");
    }
    for side in 0..2 {
        let seen = scan_all(p, side, "big", "5", &delete);
        for m in &kept {
            assert!(seen.contains(m), "side {side} missed {m}");
        }
    }
    p.same(&["ZCARD", "big"]);
});

diff_test!(large_sets, |p| {
    // > 128 elements: Redis uses a skiplist; ranges by rank from both ends,
    // lex ranges over one score, random members over many elements.
    let mut lex: Vec<String> = vec!["ZADD".into(), "lexbig".into()];
    let mut sc: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..2000 {
        lex.push("0".into());
        lex.push(format!("m{i:05}"));
        sc.push(format!("{}", (i * 7919) % 1000));
        sc.push(format!("e{i}"));
    }
    p.same(&lex);
    p.same(&sc);
    for (a, b) in [("0", "4"), ("-5", "-1"), ("995", "1004"), ("1990", "3000")] {
        p.same(&["ZRANGE", "big", a, b, "WITHSCORES"]);
        p.same(&["ZRANGE", "big", a, b, "REV", "WITHSCORES"]);
    }
    for m in ["e0", "e1999", "e1000", "nope"] {
        p.same(&["ZRANK", "big", m]);
        p.same(&["ZREVRANK", "big", m]);
    }
    p.same(&["ZCOUNT", "big", "(100", "200"]);
    p.same(&["ZRANGEBYSCORE", "big", "(100", "200", "LIMIT", "10", "5"]);
    p.same(&[
        "ZREVRANGEBYSCORE",
        "big",
        "200",
        "(100",
        "WITHSCORES",
        "LIMIT",
        "10",
        "5",
    ]);
    for (a, b) in [("[m00100", "(m00110"), ("-", "[m00003"), ("(m01995", "+")] {
        p.same(&["ZRANGEBYLEX", "lexbig", a, b]);
        p.same(&["ZREVRANGEBYLEX", "lexbig", b, a, "LIMIT", "1", "3"]);
        p.same(&["ZLEXCOUNT", "lexbig", a, b]);
    }
    p.same(&["ZRANGEBYLEX", "lexbig", "-", "+", "LIMIT", "1000", "3"]);
    for count in ["5", "-5", "1500", "-1500"] {
        p.same_shape(&["ZRANDMEMBER", "big", count]);
    }
    p.same(&["ZREMRANGEBYRANK", "big", "10", "20"]);
    p.same(&["ZREMRANGEBYSCORE", "big", "(500", "600"]);
    p.same(&["ZREMRANGEBYLEX", "lexbig", "[m00100", "(m00200"]);
    p.same(&["ZCARD", "big"]);
    p.same(&["ZCARD", "lexbig"]);
    p.same(&["ZPOPMAX", "big", "3"]);
    p.same(&["ZRANGE", "big", "-3", "-1", "WITHSCORES"]);
    p.same(&["ZINTERCARD", "2", "big", "big", "LIMIT", "100"]);
    p.same(&["ZUNIONSTORE", "u", "2", "big", "lexbig"]);
    p.same(&["ZRANGE", "u", "1000", "1010", "WITHSCORES"]);
});

// What an add finds (new, changed, equal, repeated in one command, 0 and
// -0, infinities, bad scores, another type): replies, scores and lengths
// as Redis's. Kept from an attempt (2026-12-03) to let the write tell
// whether an element was new instead of reading it first.
diff_test!(adds_learn_from_the_write, |p| {
    for cmd in [
        &["ZADD", "z", "1", "a", "2", "b"][..],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "CH", "1", "a"],
        &["ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"],
        &["ZADD", "z", "5", "d", "6", "d"],
        &["ZADD", "z", "CH", "7", "e", "7", "e"],
        &["ZADD", "z", "0", "zero"],
        &["ZADD", "z", "CH", "-0", "zero"],
        &["ZADD", "z", "inf", "big", "-inf", "small"],
        &["ZADD", "z", "CH", "inf", "big"],
        &["ZADD", "z", "1", "a", "nan", "b"],
        &["ZADD", "z", "1.5", "a", "x", "b"],
        &["ZCARD", "z"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZSCORE", "z", "zero"],
        &["ZRANK", "z", "d"],
        &["SADD", "s", "a", "a", "b"],
        &["SADD", "s", "a", "c", "c"],
        &["SCARD", "s"],
        &["HSET", "h", "f", "1", "f", "2", "g", "3"],
        &["HSET", "h", "f", "2", "g", "4"],
        &["HLEN", "h"],
        &["HGETALL", "h"],
        &["SET", "str", "v"],
        &["ZADD", "str", "1", "a"],
        &["SADD", "str", "a"],
        &["HSET", "str", "a", "1"],
    ] {
        p.same(cmd);
    }
    p.same(&["MULTI"]);
    p.same(&["ZADD", "m", "1", "a"]);
    p.same(&["ZADD", "m", "CH", "2", "a", "2", "b"]);
    p.same(&["ZCARD", "m"]);
    p.same(&["EXEC"]);
});
