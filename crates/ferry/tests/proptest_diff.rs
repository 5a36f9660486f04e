//! Randomized differential test: proptest generates sequences of string, bit,
//! key and TTL commands over a small key space; each sequence runs on redis-server
//! and on the subject, and every reply must match. Failing sequences shrink to
//! a minimal reproduction.
//!
//! TTLs never depend on timing: expiry values are large (≥1000 s) and each one
//! is offset by the command's position in the sequence, so two expiries set by
//! different commands are at least a second apart on both servers (GT/LT
//! comparisons come out the same). TTL replies are compared by class only
//! (-2, -1, or ≥0).

mod common;

use common::random::{run_random_sequences, View};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Set(u8, String, SetOpt),
    Append(u8, String),
    Incr(u8),
    IncrBy(u8, i64),
    Decr(u8),
    IncrByFloat(u8, String),
    Strlen(u8),
    GetRange(u8, i64, i64),
    SetRange(u8, u8, String),
    Del(Vec<u8>),
    Exists(Vec<u8>),
    /// base seconds, option
    Expire(u8, u64, Option<&'static str>),
    Persist(u8),
    Ttl(u8),
    Rename(u8, u8),
    Type(u8),
    Mset(Vec<(u8, String)>),
    Mget(Vec<u8>),
    GetDel(u8),
    Copy(u8, u8, bool),
    SetNx(u8, String),
    MsetNx(Vec<(u8, String)>),
    RenameNx(u8, u8),
    GetSet(u8, String),
    /// None = plain GETEX, Some(None) = PERSIST, Some(Some(base)) = EX
    GetEx(u8, Option<Option<u64>>),
    SetBit(u8, u16, bool),
    GetBit(u8, u16),
    BitCount(u8, Option<(i64, i64)>),
}

#[derive(Clone, Debug)]
enum SetOpt {
    None,
    Ex(u64),
    Px(u64),
    Nx,
    Xx,
    KeepTtl,
    Get,
    NxGet,
    XxEx(u64),
}

fn key(i: u8) -> String {
    format!("k{i}")
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1000i64..1000).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "0",
            "-0",
            "007",
            "1.5",
            "-2.25",
            "3.0e3",
            "10.50",
            "1e3",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            " 1",
            "abc",
            "",
            "inf",
            "nan",
        ])
        .prop_map(|s| s.to_string()),
        "[a-z]{0,6}",
    ]
}

fn float_incr() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0.1", "-0.1", "1.5", "3.0e3", "5.0e3", "-2", "10", "1e-3", "0.3333", "1e10", "abc",
        ])
        .prop_map(|s| s.to_string()),
        (-100i64..100).prop_map(|i| format!("{}.{}", i, (i.abs() * 7) % 100)),
    ]
}

fn k() -> impl Strategy<Value = u8> {
    0u8..6
}

fn keys() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(k(), 1..4)
}

fn expiry_base() -> impl Strategy<Value = u64> {
    prop::sample::select(vec![1_000u64, 100_000, 10_000_000])
}

fn set_opt() -> impl Strategy<Value = SetOpt> {
    prop_oneof![
        4 => Just(SetOpt::None),
        1 => expiry_base().prop_map(SetOpt::Ex),
        1 => expiry_base().prop_map(SetOpt::Px),
        1 => Just(SetOpt::Nx),
        1 => Just(SetOpt::Xx),
        1 => Just(SetOpt::KeepTtl),
        1 => Just(SetOpt::Get),
        1 => Just(SetOpt::NxGet),
        1 => expiry_base().prop_map(SetOpt::XxEx),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => k().prop_map(Op::Get),
        4 => (k(), value(), set_opt()).prop_map(|(a, b, c)| Op::Set(a, b, c)),
        1 => (k(), value()).prop_map(|(a, b)| Op::Append(a, b)),
        2 => k().prop_map(Op::Incr),
        1 => (k(), prop_oneof![-100i64..100, Just(i64::MAX), Just(i64::MIN)]).prop_map(|(a, b)| Op::IncrBy(a, b)),
        1 => k().prop_map(Op::Decr),
        2 => (k(), float_incr()).prop_map(|(a, b)| Op::IncrByFloat(a, b)),
        1 => k().prop_map(Op::Strlen),
        1 => (k(), -8i64..8, -8i64..8).prop_map(|(a, b, c)| Op::GetRange(a, b, c)),
        1 => (k(), 0u8..12, "[a-z]{0,4}").prop_map(|(a, b, c)| Op::SetRange(a, b, c)),
        1 => keys().prop_map(Op::Del),
        1 => keys().prop_map(Op::Exists),
        2 => (k(), expiry_base(), prop::option::of(prop::sample::select(vec!["NX", "XX", "GT", "LT"])))
            .prop_map(|(a, b, c)| Op::Expire(a, b, c)),
        1 => k().prop_map(Op::Persist),
        2 => k().prop_map(Op::Ttl),
        1 => (k(), k()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => k().prop_map(Op::Type),
        1 => prop::collection::vec((k(), value()), 1..4).prop_map(Op::Mset),
        1 => keys().prop_map(Op::Mget),
        1 => k().prop_map(Op::GetDel),
        1 => (k(), k(), any::<bool>()).prop_map(|(a, b, c)| Op::Copy(a, b, c)),
        1 => (k(), value()).prop_map(|(a, b)| Op::SetNx(a, b)),
        1 => prop::collection::vec((k(), value()), 1..3).prop_map(Op::MsetNx),
        1 => (k(), k()).prop_map(|(a, b)| Op::RenameNx(a, b)),
        1 => (k(), value()).prop_map(|(a, b)| Op::GetSet(a, b)),
        1 => (k(), prop::option::of(prop::option::of(expiry_base()))).prop_map(|(a, b)| Op::GetEx(a, b)),
        1 => (k(), 0u16..64, any::<bool>()).prop_map(|(a, b, c)| Op::SetBit(a, b, c)),
        1 => (k(), 0u16..64).prop_map(|(a, b)| Op::GetBit(a, b)),
        1 => (k(), prop::option::of((-4i64..4, -4i64..4))).prop_map(|(a, b)| Op::BitCount(a, b)),
    ]
}

/// The command for `op` at position `pos` in its sequence.
fn args(op: &Op, pos: u64) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let secs = |base: u64| (base + pos).to_string();
    match op {
        Op::Get(a) => vec![s("GET"), key(*a)],
        Op::Set(a, v, o) => {
            let mut c = vec![s("SET"), key(*a), v.clone()];
            match o {
                SetOpt::None => {}
                SetOpt::Ex(b) => c.extend([s("EX"), secs(*b)]),
                SetOpt::Px(b) => c.extend([s("PX"), ((b + pos) * 1000).to_string()]),
                SetOpt::Nx => c.push(s("NX")),
                SetOpt::Xx => c.push(s("XX")),
                SetOpt::KeepTtl => c.push(s("KEEPTTL")),
                SetOpt::Get => c.push(s("GET")),
                SetOpt::NxGet => c.extend([s("NX"), s("GET")]),
                SetOpt::XxEx(b) => c.extend([s("XX"), s("EX"), secs(*b)]),
            }
            c
        }
        Op::Append(a, v) => vec![s("APPEND"), key(*a), v.clone()],
        Op::Incr(a) => vec![s("INCR"), key(*a)],
        Op::IncrBy(a, n) => vec![s("INCRBY"), key(*a), n.to_string()],
        Op::Decr(a) => vec![s("DECR"), key(*a)],
        Op::IncrByFloat(a, f) => vec![s("INCRBYFLOAT"), key(*a), f.clone()],
        Op::Strlen(a) => vec![s("STRLEN"), key(*a)],
        Op::GetRange(a, x, y) => vec![s("GETRANGE"), key(*a), x.to_string(), y.to_string()],
        Op::SetRange(a, off, v) => vec![s("SETRANGE"), key(*a), off.to_string(), v.clone()],
        Op::Del(ks) => std::iter::once(s("DEL"))
            .chain(ks.iter().map(|k| key(*k)))
            .collect(),
        Op::Exists(ks) => std::iter::once(s("EXISTS"))
            .chain(ks.iter().map(|k| key(*k)))
            .collect(),
        Op::Expire(a, b, o) => {
            let mut c = vec![s("EXPIRE"), key(*a), secs(*b)];
            if let Some(o) = o {
                c.push(s(o));
            }
            c
        }
        Op::Persist(a) => vec![s("PERSIST"), key(*a)],
        Op::Ttl(a) => vec![s("TTL"), key(*a)],
        Op::Rename(a, b) => vec![s("RENAME"), key(*a), key(*b)],
        Op::Type(a) => vec![s("TYPE"), key(*a)],
        Op::Mset(kv) => std::iter::once(s("MSET"))
            .chain(kv.iter().flat_map(|(k, v)| [key(*k), v.clone()]))
            .collect(),
        Op::Mget(ks) => std::iter::once(s("MGET"))
            .chain(ks.iter().map(|k| key(*k)))
            .collect(),
        Op::GetDel(a) => vec![s("GETDEL"), key(*a)],
        Op::SetNx(a, v) => vec![s("SETNX"), key(*a), v.clone()],
        Op::MsetNx(kv) => std::iter::once(s("MSETNX"))
            .chain(kv.iter().flat_map(|(k, v)| [key(*k), v.clone()]))
            .collect(),
        Op::RenameNx(a, b) => vec![s("RENAMENX"), key(*a), key(*b)],
        Op::GetSet(a, v) => vec![s("GETSET"), key(*a), v.clone()],
        Op::GetEx(a, o) => match o {
            None => vec![s("GETEX"), key(*a)],
            Some(None) => vec![s("GETEX"), key(*a), s("PERSIST")],
            Some(Some(b)) => vec![s("GETEX"), key(*a), s("EX"), secs(*b)],
        },
        Op::SetBit(a, off, bit) => vec![
            s("SETBIT"),
            key(*a),
            off.to_string(),
            (*bit as u8).to_string(),
        ],
        Op::GetBit(a, off) => vec![s("GETBIT"), key(*a), off.to_string()],
        Op::BitCount(a, r) => match r {
            None => vec![s("BITCOUNT"), key(*a)],
            Some((x, y)) => vec![s("BITCOUNT"), key(*a), x.to_string(), y.to_string()],
        },
        Op::Copy(a, b, r) => {
            let mut c = vec![s("COPY"), key(*a), key(*b)];
            if *r {
                c.push(s("REPLACE"));
            }
            c
        }
    }
}

/// `FERRY_PROPTEST_CASES=N` overrides the number of cases (for bug hunts).
fn run(proto: u8, cases: u32) {
    run_random_sequences(
        "string/key",
        proto,
        cases,
        40,
        op(),
        |ops| {
            ops.iter()
                .enumerate()
                .map(|(pos, op)| {
                    let how = if matches!(op, Op::Ttl(_)) {
                        View::TtlClass
                    } else {
                        View::Exact
                    };
                    (args(op, pos as u64), how)
                })
                .collect()
        },
        &[],
    );
}

#[test]
fn random_string_key_ttl_sequences_resp2() {
    run(2, 64);
}

#[test]
fn random_string_key_ttl_sequences_resp3() {
    run(3, 32);
}
