//! Randomized differential test for hashes and sets: proptest generates
//! sequences of hash, set and a few generic commands over a small key space
//! (some keys also get strings, for WRONGTYPE); each sequence runs on
//! redis-server and on the subject and every reply must match. Replies whose
//! order Redis does not define (HGETALL, HKEYS, SMEMBERS, SINTER...) compare
//! as multisets. Failing sequences shrink to a minimal reproduction.

mod common;

use common::random::{run_random_sequences, View};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    HSet(u8, Vec<(u8, String)>),
    HSetNx(u8, u8, String),
    HGet(u8, u8),
    HMGet(u8, Vec<u8>),
    HDel(u8, Vec<u8>),
    HLen(u8),
    HExists(u8, u8),
    HStrlen(u8, u8),
    HIncrBy(u8, u8, i64),
    HIncrByFloat(u8, u8, String),
    HGetAll(u8),
    HKeys(u8),
    HVals(u8),
    SAdd(u8, Vec<u8>),
    SRem(u8, Vec<u8>),
    SIsMember(u8, u8),
    SMIsMember(u8, Vec<u8>),
    SCard(u8),
    SMembers(u8),
    SMove(u8, u8, u8),
    /// 0 = SINTER, 1 = SUNION, 2 = SDIFF
    Algebra(u8, Vec<u8>),
    /// same, with a destination
    Store(u8, u8, Vec<u8>),
    SInterCard(Vec<u8>, Option<u8>),
    SetString(u8),
    Del(u8),
    Type(u8),
}

fn key(i: u8) -> String {
    format!("k{i}")
}

fn field(i: u8) -> String {
    format!("f{i}")
}

fn member(i: u8) -> String {
    // integers and strings, so sets change between Redis's encodings
    if i.is_multiple_of(3) {
        format!("m{i}")
    } else {
        i.to_string()
    }
}

fn k() -> impl Strategy<Value = u8> {
    0u8..5
}

fn f() -> impl Strategy<Value = u8> {
    0u8..6
}

fn m() -> impl Strategy<Value = u8> {
    0u8..10
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-100i64..100).prop_map(|i| i.to_string()),
        prop::sample::select(vec!["1.5", "abc", "", "9223372036854775807", "-0", "1e3"])
            .prop_map(|s| s.to_string()),
        "[a-z]{0,4}",
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (k(), prop::collection::vec((f(), value()), 1..4)).prop_map(|(a, b)| Op::HSet(a, b)),
        1 => (k(), f(), value()).prop_map(|(a, b, c)| Op::HSetNx(a, b, c)),
        2 => (k(), f()).prop_map(|(a, b)| Op::HGet(a, b)),
        1 => (k(), prop::collection::vec(f(), 1..4)).prop_map(|(a, b)| Op::HMGet(a, b)),
        2 => (k(), prop::collection::vec(f(), 1..3)).prop_map(|(a, b)| Op::HDel(a, b)),
        1 => k().prop_map(Op::HLen),
        1 => (k(), f()).prop_map(|(a, b)| Op::HExists(a, b)),
        1 => (k(), f()).prop_map(|(a, b)| Op::HStrlen(a, b)),
        2 => (k(), f(), prop_oneof![-10i64..10, Just(i64::MAX)]).prop_map(|(a, b, c)| Op::HIncrBy(a, b, c)),
        1 => (k(), f(), prop::sample::select(vec!["0.1", "-2.5", "3.0e3", "abc", "1e-3"]).prop_map(|s| s.to_string()))
            .prop_map(|(a, b, c)| Op::HIncrByFloat(a, b, c)),
        1 => k().prop_map(Op::HGetAll),
        1 => k().prop_map(Op::HKeys),
        1 => k().prop_map(Op::HVals),
        4 => (k(), prop::collection::vec(m(), 1..5)).prop_map(|(a, b)| Op::SAdd(a, b)),
        2 => (k(), prop::collection::vec(m(), 1..3)).prop_map(|(a, b)| Op::SRem(a, b)),
        1 => (k(), m()).prop_map(|(a, b)| Op::SIsMember(a, b)),
        1 => (k(), prop::collection::vec(m(), 1..4)).prop_map(|(a, b)| Op::SMIsMember(a, b)),
        1 => k().prop_map(Op::SCard),
        1 => k().prop_map(Op::SMembers),
        2 => (k(), k(), m()).prop_map(|(a, b, c)| Op::SMove(a, b, c)),
        2 => (0u8..3, prop::collection::vec(k(), 1..4)).prop_map(|(a, b)| Op::Algebra(a, b)),
        2 => (0u8..3, k(), prop::collection::vec(k(), 1..4)).prop_map(|(a, b, c)| Op::Store(a, b, c)),
        1 => (prop::collection::vec(k(), 1..4), prop::option::of(0u8..4)).prop_map(|(a, b)| Op::SInterCard(a, b)),
        1 => k().prop_map(Op::SetString),
        1 => k().prop_map(Op::Del),
        1 => k().prop_map(Op::Type),
    ]
}

/// The command for `op`, and whether its reply's order is undefined
/// (`Some(chunk)`: compare as a multiset of `chunk`-element groups).
fn args(op: &Op) -> (Vec<String>, Option<usize>) {
    let s = |x: &str| x.to_string();
    let with = |name: &str, k: u8, rest: Vec<String>| {
        let mut c = vec![s(name), key(k)];
        c.extend(rest);
        c
    };
    let algebra = ["SINTER", "SUNION", "SDIFF"];
    match op {
        Op::HSet(a, kv) => (
            with(
                "HSET",
                *a,
                kv.iter()
                    .flat_map(|(f, v)| [field(*f), v.clone()])
                    .collect(),
            ),
            None,
        ),
        Op::HSetNx(a, b, v) => (with("HSETNX", *a, vec![field(*b), v.clone()]), None),
        Op::HGet(a, b) => (with("HGET", *a, vec![field(*b)]), None),
        Op::HMGet(a, fs) => (
            with("HMGET", *a, fs.iter().map(|f| field(*f)).collect()),
            None,
        ),
        Op::HDel(a, fs) => (
            with("HDEL", *a, fs.iter().map(|f| field(*f)).collect()),
            None,
        ),
        Op::HLen(a) => (with("HLEN", *a, vec![]), None),
        Op::HExists(a, b) => (with("HEXISTS", *a, vec![field(*b)]), None),
        Op::HStrlen(a, b) => (with("HSTRLEN", *a, vec![field(*b)]), None),
        Op::HIncrBy(a, b, n) => (with("HINCRBY", *a, vec![field(*b), n.to_string()]), None),
        Op::HIncrByFloat(a, b, n) => (with("HINCRBYFLOAT", *a, vec![field(*b), n.clone()]), None),
        Op::HGetAll(a) => (with("HGETALL", *a, vec![]), Some(2)),
        Op::HKeys(a) => (with("HKEYS", *a, vec![]), Some(1)),
        Op::HVals(a) => (with("HVALS", *a, vec![]), Some(1)),
        Op::SAdd(a, ms) => (
            with("SADD", *a, ms.iter().map(|m| member(*m)).collect()),
            None,
        ),
        Op::SRem(a, ms) => (
            with("SREM", *a, ms.iter().map(|m| member(*m)).collect()),
            None,
        ),
        Op::SIsMember(a, b) => (with("SISMEMBER", *a, vec![member(*b)]), None),
        Op::SMIsMember(a, ms) => (
            with("SMISMEMBER", *a, ms.iter().map(|m| member(*m)).collect()),
            None,
        ),
        Op::SCard(a) => (with("SCARD", *a, vec![]), None),
        Op::SMembers(a) => (with("SMEMBERS", *a, vec![]), Some(1)),
        Op::SMove(a, b, c) => (with("SMOVE", *a, vec![key(*b), member(*c)]), None),
        Op::Algebra(w, ks) => (
            std::iter::once(s(algebra[*w as usize]))
                .chain(ks.iter().map(|k| key(*k)))
                .collect(),
            Some(1),
        ),
        Op::Store(w, d, ks) => (
            [format!("{}STORE", algebra[*w as usize]), key(*d)]
                .into_iter()
                .chain(ks.iter().map(|k| key(*k)))
                .collect(),
            None,
        ),
        Op::SInterCard(ks, limit) => {
            let mut c = vec![s("SINTERCARD"), ks.len().to_string()];
            c.extend(ks.iter().map(|k| key(*k)));
            if let Some(l) = limit {
                c.extend([s("LIMIT"), l.to_string()]);
            }
            (c, None)
        }
        Op::SetString(a) => (vec![s("SET"), key(*a), s("str")], None),
        Op::Del(a) => (vec![s("DEL"), key(*a)], None),
        Op::Type(a) => (vec![s("TYPE"), key(*a)], None),
    }
}

fn run(proto: u8, cases: u32) {
    run_random_sequences(
        "hash/set differential",
        proto,
        cases,
        30,
        op(),
        |ops| {
            ops.iter()
                .map(|op| {
                    let (c, chunk) = args(op);
                    (c, chunk.map_or(View::Exact, View::Unordered))
                })
                .collect()
        },
        &[],
    );
}

#[test]
fn random_hash_set_sequences_resp2() {
    run(2, 32);
}

#[test]
fn random_hash_set_sequences_resp3() {
    run(3, 16);
}
