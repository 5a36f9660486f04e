//! Randomized differential test for sorted sets: proptest generates short
//! sequences of sorted-set commands over a few keys (plus a string key for
//! WRONGTYPE); each sequence runs on redis-server and on the subject, and
//! every reply must be byte-identical. Random commands (ZRANDMEMBER) are
//! left out; ZSCAN only runs on small sets, where Redis returns everything.

mod common;

use common::random::{run_random_sequences, View};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["z0", "z1", "z2", "s"]).prop_map(String::from)
}

fn member() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "aa", ""]).prop_map(String::from)
}

fn score() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-5i64..5).prop_map(|i| i.to_string()),
        1 => prop::sample::select(vec!["1.5", "-0.25", "inf", "-inf", "+inf", "0.1", "1e3", "x", "nan"])
            .prop_map(String::from),
    ]
}

fn score_bound() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (-5i64..5).prop_map(|i| i.to_string()),
        2 => (-5i64..5).prop_map(|i| format!("({i}")),
        1 => prop::sample::select(vec!["-inf", "+inf", "(inf", "x"]).prop_map(String::from),
    ]
}

fn lex_bound() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(vec!["-", "+", "x"]).prop_map(String::from),
        3 => (member(), any::<bool>()).prop_map(|(m, i)| format!("{}{m}", if i { "[" } else { "(" })),
    ]
}

fn idx() -> impl Strategy<Value = String> {
    (-7i64..7).prop_map(|i| i.to_string())
}

fn v(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn op() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        6 => (key(), prop::sample::select(vec!["", "NX", "XX", "GT", "LT", "CH", "GT CH", "XX LT"]),
              prop::collection::vec((score(), member()), 1..4))
            .prop_map(|(k, f, pairs)| {
                let mut c = vec!["ZADD".to_string(), k];
                c.extend(f.split_whitespace().map(String::from));
                for (s, m) in pairs { c.push(s); c.push(m); }
                c
            }),
        2 => (key(), prop::sample::select(vec!["", "NX", "XX", "GT", "LT"]), score(), member())
            .prop_map(|(k, f, s, m)| {
                let mut c = vec!["ZADD".to_string(), k];
                c.extend(f.split_whitespace().map(String::from));
                c.push("INCR".into()); c.push(s); c.push(m);
                c
            }),
        2 => (key(), score(), member()).prop_map(|(k, s, m)| v(&["ZINCRBY", &k, &s, &m])),
        2 => (key(), prop::collection::vec(member(), 1..3)).prop_map(|(k, ms)| {
            let mut c = vec!["ZREM".to_string(), k]; c.extend(ms); c }),
        1 => key().prop_map(|k| v(&["ZCARD", &k])),
        1 => (key(), member()).prop_map(|(k, m)| v(&["ZSCORE", &k, &m])),
        1 => (key(), member(), member()).prop_map(|(k, a, b)| v(&["ZMSCORE", &k, &a, &b])),
        1 => (key(), member()).prop_map(|(k, m)| v(&["ZRANK", &k, &m])),
        1 => (key(), member()).prop_map(|(k, m)| v(&["ZREVRANK", &k, &m])),
        1 => (key(), score_bound(), score_bound()).prop_map(|(k, a, b)| v(&["ZCOUNT", &k, &a, &b])),
        1 => (key(), lex_bound(), lex_bound()).prop_map(|(k, a, b)| v(&["ZLEXCOUNT", &k, &a, &b])),
        3 => (key(), idx(), idx(), any::<bool>(), any::<bool>()).prop_map(|(k, a, b, rev, ws)| {
            let mut c = v(&["ZRANGE", &k, &a, &b]);
            if rev { c.push("REV".into()); }
            if ws { c.push("WITHSCORES".into()); }
            c }),
        3 => (key(), score_bound(), score_bound(), any::<bool>(), prop::option::of((-1i64..4, -1i64..4)))
            .prop_map(|(k, a, b, rev, lim)| {
                let mut c = v(&[if rev { "ZREVRANGEBYSCORE" } else { "ZRANGEBYSCORE" }, &k, &a, &b, "WITHSCORES"]);
                if let Some((o, n)) = lim { c.extend(["LIMIT".to_string(), o.to_string(), n.to_string()]); }
                c }),
        2 => (key(), lex_bound(), lex_bound(), any::<bool>(), prop::option::of((-1i64..4, -1i64..4)))
            .prop_map(|(k, a, b, rev, lim)| {
                let mut c = v(&["ZRANGE", &k, &a, &b, "BYLEX"]);
                if rev { c.push("REV".into()); }
                if let Some((o, n)) = lim { c.extend(["LIMIT".to_string(), o.to_string(), n.to_string()]); }
                c }),
        1 => (key(), key(), idx(), idx()).prop_map(|(d, k, a, b)| v(&["ZRANGESTORE", &d, &k, &a, &b])),
        1 => (key(), idx(), idx()).prop_map(|(k, a, b)| v(&["ZREMRANGEBYRANK", &k, &a, &b])),
        1 => (key(), score_bound(), score_bound()).prop_map(|(k, a, b)| v(&["ZREMRANGEBYSCORE", &k, &a, &b])),
        1 => (key(), lex_bound(), lex_bound()).prop_map(|(k, a, b)| v(&["ZREMRANGEBYLEX", &k, &a, &b])),
        2 => (key(), any::<bool>(), prop::option::of(-1i64..4)).prop_map(|(k, max, n)| {
            let mut c = v(&[if max { "ZPOPMAX" } else { "ZPOPMIN" }, &k]);
            if let Some(n) = n { c.push(n.to_string()); }
            c }),
        1 => (key(), key(), any::<bool>(), prop::option::of(0i64..4)).prop_map(|(a, b, max, n)| {
            let mut c = v(&["ZMPOP", "2", &a, &b, if max { "MAX" } else { "MIN" }]);
            if let Some(n) = n { c.extend(["COUNT".to_string(), n.to_string()]); }
            c }),
        2 => (prop::sample::select(vec!["ZUNION", "ZINTER", "ZDIFF"]), key(), key(),
              prop::sample::select(vec!["", "WEIGHTS 2 -1", "AGGREGATE MIN", "AGGREGATE MAX", "WEIGHTS 0 inf"]))
            .prop_map(|(cmd, a, b, opt)| {
                let mut c = v(&[cmd, "2", &a, &b]);
                if cmd != "ZDIFF" { c.extend(opt.split_whitespace().map(String::from)); }
                c.push("WITHSCORES".into());
                c }),
        1 => (prop::sample::select(vec!["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), key(), key(), key())
            .prop_map(|(cmd, d, a, b)| v(&[cmd, &d, "2", &a, &b])),
        1 => (key(), key(), 0i64..3).prop_map(|(a, b, l)| v(&["ZINTERCARD", "2", &a, &b, "LIMIT", &l.to_string()])),
        1 => key().prop_map(|k| v(&["ZSCAN", &k, "0"])),
        1 => Just(v(&["SET", "s", "str"])),
        1 => key().prop_map(|k| v(&["DEL", &k])),
    ]
}

fn run(proto: u8, cases: u32) {
    run_random_sequences(
        "sorted-set",
        proto,
        cases,
        30,
        op(),
        |ops| ops.iter().map(|c| (c.clone(), View::Exact)).collect(),
        &[],
    );
}

#[test]
fn random_zset_sequences_resp2() {
    run(2, 32);
}

#[test]
fn random_zset_sequences_resp3() {
    run(3, 32);
}
