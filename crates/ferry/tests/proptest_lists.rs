//! Randomized differential test for lists: proptest generates sequences of
//! list commands (plus a string key for WRONGTYPE and DEL) over three keys
//! and a small alphabet of values, so pivots, LREM and LPOS find matches;
//! each sequence runs on redis-server and on the subject and every reply
//! must be byte-identical. Failing sequences shrink to a minimal one.

mod common;

use common::random::{run_random_sequences, View};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Push(bool, bool, u8, Vec<u8>),
    Pop(bool, u8, Option<i64>),
    Len(u8),
    Range(u8, i64, i64),
    Index(u8, i64),
    Set(u8, i64, u8),
    Insert(u8, bool, u8, u8),
    Rem(u8, i64, u8),
    Trim(u8, i64, i64),
    Pos(u8, u8, Option<i64>, Option<i64>, Option<i64>),
    Move(u8, u8, bool, bool),
    RpopLpush(u8, u8),
    Mpop(Vec<u8>, bool, Option<i64>),
    Del(u8),
    SetString(u8),
}

/// k0..k2 plus k3, which is often a string.
fn key(i: u8) -> String {
    format!("k{i}")
}

fn val(i: u8) -> String {
    ["a", "b", "c", "d", "", "10", "a b"][i as usize % 7].to_string()
}

fn k() -> impl Strategy<Value = u8> {
    prop_oneof![6 => 0u8..3, 1 => Just(3u8)]
}

fn v() -> impl Strategy<Value = u8> {
    0u8..7
}

fn idx() -> impl Strategy<Value = i64> {
    prop_oneof![6 => -8i64..8, 1 => Just(i64::MAX), 1 => Just(i64::MIN), 1 => -30i64..30]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), prop::bool::weighted(0.2), k(), prop::collection::vec(v(), 1..5))
            .prop_map(|(l, x, a, vs)| Op::Push(l, x, a, vs)),
        3 => (any::<bool>(), k(), prop::option::of(prop_oneof![0i64..4, Just(-1), Just(100)]))
            .prop_map(|(l, a, c)| Op::Pop(l, a, c)),
        1 => k().prop_map(Op::Len),
        3 => (k(), idx(), idx()).prop_map(|(a, s, e)| Op::Range(a, s, e)),
        2 => (k(), idx()).prop_map(|(a, i)| Op::Index(a, i)),
        2 => (k(), idx(), v()).prop_map(|(a, i, x)| Op::Set(a, i, x)),
        3 => (k(), any::<bool>(), v(), v()).prop_map(|(a, b, p, x)| Op::Insert(a, b, p, x)),
        2 => (k(), prop_oneof![-3i64..4, Just(i64::MIN)], v()).prop_map(|(a, c, x)| Op::Rem(a, c, x)),
        2 => (k(), idx(), idx()).prop_map(|(a, s, e)| Op::Trim(a, s, e)),
        2 => (
            k(),
            v(),
            prop::option::of(prop_oneof![-3i64..4, Just(i64::MIN)]),
            prop::option::of(prop_oneof![-1i64..4]),
            prop::option::of(-1i64..6),
        )
            .prop_map(|(a, x, r, c, m)| Op::Pos(a, x, r, c, m)),
        2 => (k(), k(), any::<bool>(), any::<bool>()).prop_map(|(a, b, f, t)| Op::Move(a, b, f, t)),
        1 => (k(), k()).prop_map(|(a, b)| Op::RpopLpush(a, b)),
        2 => (prop::collection::vec(k(), 1..4), any::<bool>(), prop::option::of(prop_oneof![0i64..4, Just(-1)]))
            .prop_map(|(ks, l, c)| Op::Mpop(ks, l, c)),
        1 => k().prop_map(Op::Del),
        1 => Just(Op::SetString(3)),
    ]
}

fn side(left: bool) -> String {
    if left { "LEFT" } else { "RIGHT" }.to_string()
}

fn args(op: &Op) -> Vec<String> {
    let s = |x: &str| x.to_string();
    match op {
        Op::Push(l, x, a, vs) => {
            let name = match (l, x) {
                (true, false) => "LPUSH",
                (false, false) => "RPUSH",
                (true, true) => "LPUSHX",
                (false, true) => "RPUSHX",
            };
            let mut c = vec![s(name), key(*a)];
            c.extend(vs.iter().map(|x| val(*x)));
            c
        }
        Op::Pop(l, a, c) => {
            let mut v = vec![s(if *l { "LPOP" } else { "RPOP" }), key(*a)];
            if let Some(c) = c {
                v.push(c.to_string());
            }
            v
        }
        Op::Len(a) => vec![s("LLEN"), key(*a)],
        Op::Range(a, x, y) => vec![s("LRANGE"), key(*a), x.to_string(), y.to_string()],
        Op::Index(a, i) => vec![s("LINDEX"), key(*a), i.to_string()],
        Op::Set(a, i, x) => vec![s("LSET"), key(*a), i.to_string(), val(*x)],
        Op::Insert(a, b, p, x) => vec![
            s("LINSERT"),
            key(*a),
            s(if *b { "BEFORE" } else { "AFTER" }),
            val(*p),
            val(*x),
        ],
        Op::Rem(a, c, x) => vec![s("LREM"), key(*a), c.to_string(), val(*x)],
        Op::Trim(a, x, y) => vec![s("LTRIM"), key(*a), x.to_string(), y.to_string()],
        Op::Pos(a, x, r, c, m) => {
            let mut v = vec![s("LPOS"), key(*a), val(*x)];
            if let Some(r) = r {
                v.extend([s("RANK"), r.to_string()]);
            }
            if let Some(c) = c {
                v.extend([s("COUNT"), c.to_string()]);
            }
            if let Some(m) = m {
                v.extend([s("MAXLEN"), m.to_string()]);
            }
            v
        }
        Op::Move(a, b, f, t) => vec![s("LMOVE"), key(*a), key(*b), side(*f), side(*t)],
        Op::RpopLpush(a, b) => vec![s("RPOPLPUSH"), key(*a), key(*b)],
        Op::Mpop(ks, l, c) => {
            let mut v = vec![s("LMPOP"), ks.len().to_string()];
            v.extend(ks.iter().map(|k| key(*k)));
            v.push(side(*l));
            if let Some(c) = c {
                v.extend([s("COUNT"), c.to_string()]);
            }
            v
        }
        Op::Del(a) => vec![s("DEL"), key(*a)],
        Op::SetString(a) => vec![s("SET"), key(*a), s("str")],
    }
}

/// `FERRY_PROPTEST_CASES=N` overrides the number of cases.
fn run(proto: u8, cases: u32) {
    // The whole state must match at the end too.
    let finals: Vec<Vec<String>> = (0..4)
        .flat_map(|i| {
            [
                vec!["TYPE".into(), key(i)],
                vec!["LRANGE".into(), key(i), "0".into(), "-1".into()],
            ]
        })
        .collect();
    run_random_sequences(
        "list",
        proto,
        cases,
        30,
        op(),
        |ops| ops.iter().map(|op| (args(op), View::Exact)).collect(),
        &finals,
    );
}

#[test]
fn random_list_sequences_resp2() {
    run(2, 32);
}

#[test]
fn random_list_sequences_resp3() {
    run(3, 16);
}
