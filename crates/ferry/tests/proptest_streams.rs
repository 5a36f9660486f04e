//! Randomized differential test for streams: proptest generates sequences
//! of stream commands over two stream keys (and a third that is often a
//! string), with explicit, small ids (mostly just after the key's last
//! one) so that both servers see the same ids, small nodes
//! (`stream-node-max-entries 4`) so that approximate trimming and XINFO's
//! radix-tree numbers are exercised, and two consumer groups.
//! Every reply must be byte-identical; replies that carry times (XPENDING's
//! extended form, XINFO CONSUMERS) are left out, the PEL is seen through
//! XPENDING's summary, XCLAIM and XAUTOCLAIM. Failing sequences shrink.

mod common;

use common::random::{run_random_sequences, View};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Id {
    /// `<ms>-<seq>`
    Full(u8, u8),
    /// `<ms>-*`
    Auto(u8),
    /// `<ms>`
    Ms(u8),
    /// Just after the key's last id: its ms plus this, and a sequence (or
    /// `*`); most adds succeed this way.
    Next(u8, Option<u8>),
}

/// The ms of the last id each key was given (to build `Id::Next`).
#[derive(Default)]
struct State {
    last_ms: [u32; 3],
}

#[derive(Clone, Debug)]
enum Trim {
    MaxLen(bool, u8, Option<u8>),
    MinId(bool, u8, Option<u8>),
}

#[derive(Clone, Debug)]
enum Op {
    Add(u8, Id, u8, Option<Trim>, bool),
    Trim(u8, Trim),
    Del(u8, Vec<(u8, u8)>),
    Range(u8, bool, String, String, Option<i8>),
    Len(u8),
    Read(Vec<u8>, Vec<String>, Option<i8>),
    GroupCreate(u8, u8, String, bool, Option<i8>),
    GroupSetId(u8, u8, String, Option<i8>),
    GroupDestroy(u8, u8),
    CreateConsumer(u8, u8, u8),
    DelConsumer(u8, u8, u8),
    ReadGroup(u8, u8, u8, Option<String>, Option<i8>, bool),
    Ack(u8, u8, Vec<(u8, u8)>),
    Pending(u8, u8),
    Claim(u8, u8, u8, Vec<(u8, u8)>, bool, bool, Option<u8>),
    AutoClaim(u8, u8, u8, String, Option<u8>, bool),
    SetId(u8, (u8, u8), Option<u8>, Option<(u8, u8)>),
    InfoStream(u8),
    InfoGroups(u8),
    Delete(u8),
    SetString(u8),
}

fn key(i: u8) -> String {
    format!("s{i}")
}

fn group(i: u8) -> String {
    format!("g{}", i % 2)
}

fn consumer(i: u8) -> String {
    format!("c{}", i % 3)
}

fn id_text(ms: u8, seq: u8) -> String {
    format!("{ms}-{seq}")
}

fn k() -> impl Strategy<Value = u8> {
    prop_oneof![8 => 0u8..2, 1 => Just(2u8)]
}

fn ms() -> impl Strategy<Value = u8> {
    0u8..70
}

fn seq() -> impl Strategy<Value = u8> {
    0u8..3
}

fn small_count() -> impl Strategy<Value = Option<i8>> {
    prop::option::of(prop_oneof![-1i8..6, Just(0)])
}

/// A range bound: `-`, `+`, an id, an ms, or an exclusive id.
fn bound() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-".to_string()),
        Just("+".to_string()),
        (ms(), seq()).prop_map(|(m, s)| id_text(m, s)),
        ms().prop_map(|m| m.to_string()),
        (ms(), seq()).prop_map(|(m, s)| format!("({}", id_text(m, s))),
    ]
}

fn trim() -> impl Strategy<Value = Trim> {
    prop_oneof![
        (any::<bool>(), 0u8..12, prop::option::of(0u8..10))
            .prop_map(|(a, n, l)| Trim::MaxLen(a, n, l)),
        (any::<bool>(), ms(), prop::option::of(0u8..10)).prop_map(|(a, m, l)| Trim::MinId(a, m, l)),
    ]
}

fn ids() -> impl Strategy<Value = Vec<(u8, u8)>> {
    prop::collection::vec((ms(), seq()), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    let id = prop_oneof![
        8 => (0u8..3, prop::option::of(seq())).prop_map(|(d, s)| Id::Next(d, s)),
        2 => (ms(), seq()).prop_map(|(m, s)| Id::Full(m, s)),
        1 => ms().prop_map(Id::Auto),
        1 => ms().prop_map(Id::Ms),
    ];
    prop_oneof![
        12 => (k(), id, 0u8..3, prop::option::of(trim()), prop::bool::weighted(0.1))
            .prop_map(|(a, i, f, t, n)| Op::Add(a, i, f, t, n)),
        2 => (k(), trim()).prop_map(|(a, t)| Op::Trim(a, t)),
        3 => (k(), ids()).prop_map(|(a, i)| Op::Del(a, i)),
        3 => (k(), any::<bool>(), bound(), bound(), small_count())
            .prop_map(|(a, r, s, e, c)| Op::Range(a, r, s, e, c)),
        1 => k().prop_map(Op::Len),
        2 => (
            prop::collection::vec(k(), 1..3),
            prop::collection::vec(
                prop_oneof![Just("$".to_string()), Just("0".to_string()), bound()],
                2
            ),
            small_count()
        )
            .prop_map(|(ks, ids, c)| Op::Read(ks, ids, c)),
        5 => (k(), 0u8..2, prop_oneof![Just("$".to_string()), Just("0".to_string()), bound()],
              prop::bool::weighted(0.3), prop::option::of(-1i8..5))
            .prop_map(|(a, g, i, m, e)| Op::GroupCreate(a, g, i, m, e)),
        1 => (k(), 0u8..2, prop_oneof![Just("$".to_string()), bound()], prop::option::of(-1i8..5))
            .prop_map(|(a, g, i, e)| Op::GroupSetId(a, g, i, e)),
        1 => (k(), 0u8..2).prop_map(|(a, g)| Op::GroupDestroy(a, g)),
        1 => (k(), 0u8..2, 0u8..3).prop_map(|(a, g, c)| Op::CreateConsumer(a, g, c)),
        1 => (k(), 0u8..2, 0u8..3).prop_map(|(a, g, c)| Op::DelConsumer(a, g, c)),
        6 => (k(), 0u8..2, 0u8..3,
              prop::option::of(prop_oneof![Just("0".to_string()), bound()]),
              small_count(), prop::bool::weighted(0.2))
            .prop_map(|(a, g, c, i, n, x)| Op::ReadGroup(a, g, c, i, n, x)),
        3 => (k(), 0u8..2, ids()).prop_map(|(a, g, i)| Op::Ack(a, g, i)),
        2 => (k(), 0u8..2).prop_map(|(a, g)| Op::Pending(a, g)),
        3 => (k(), 0u8..2, 0u8..3, ids(), any::<bool>(), prop::bool::weighted(0.2), prop::option::of(0u8..5))
            .prop_map(|(a, g, c, i, j, f, r)| Op::Claim(a, g, c, i, j, f, r)),
        2 => (k(), 0u8..2, 0u8..3, bound(), prop::option::of(1u8..4), any::<bool>())
            .prop_map(|(a, g, c, s, n, j)| Op::AutoClaim(a, g, c, s, n, j)),
        1 => (k(), (ms(), seq()), prop::option::of(0u8..30), prop::option::of((ms(), seq())))
            .prop_map(|(a, i, e, m)| Op::SetId(a, i, e, m)),
        2 => k().prop_map(Op::InfoStream),
        2 => k().prop_map(Op::InfoGroups),
        1 => k().prop_map(Op::Delete),
        1 => Just(Op::SetString(2)),
    ]
}

fn trim_args(t: &Trim) -> Vec<String> {
    let (name, approx, arg, limit) = match t {
        Trim::MaxLen(a, n, l) => ("MAXLEN", *a, n.to_string(), l),
        Trim::MinId(a, m, l) => ("MINID", *a, m.to_string(), l),
    };
    let mut v = vec![name.to_string()];
    if approx {
        v.push("~".into());
    }
    v.push(arg);
    if let Some(l) = limit {
        v.extend(["LIMIT".into(), l.to_string()]);
    }
    v
}

fn args(op: &Op, state: &mut State) -> Vec<String> {
    let s = |x: &str| x.to_string();
    match op {
        Op::Add(a, id, f, t, nomk) => {
            let mut v = vec![s("XADD"), key(*a)];
            if *nomk {
                v.push(s("NOMKSTREAM"));
            }
            if let Some(t) = t {
                v.extend(trim_args(t));
            }
            let last = &mut state.last_ms[*a as usize % 3];
            v.push(match id {
                Id::Full(m, q) => id_text(*m, *q),
                Id::Auto(m) => format!("{m}-*"),
                Id::Ms(m) => m.to_string(),
                Id::Next(d, q) => {
                    *last += u32::from(*d);
                    match q {
                        Some(q) => format!("{last}-{q}"),
                        None => format!("{last}-*"),
                    }
                }
            });
            // Fields: the same names (compressed in Redis's nodes) or others.
            match f {
                0 => v.extend([s("f"), s("v")]),
                1 => v.extend([s("f"), s("12"), s("g"), s("")]),
                _ => v.extend([s("other"), s("value")]),
            }
            v
        }
        Op::Trim(a, t) => {
            let mut v = vec![s("XTRIM"), key(*a)];
            v.extend(trim_args(t));
            v
        }
        Op::Del(a, ids) => {
            let mut v = vec![s("XDEL"), key(*a)];
            v.extend(ids.iter().map(|(m, q)| id_text(*m, *q)));
            v
        }
        Op::Range(a, rev, st, en, c) => {
            let mut v = if *rev {
                vec![s("XREVRANGE"), key(*a), en.clone(), st.clone()]
            } else {
                vec![s("XRANGE"), key(*a), st.clone(), en.clone()]
            };
            if let Some(c) = c {
                v.extend([s("COUNT"), c.to_string()]);
            }
            v
        }
        Op::Len(a) => vec![s("XLEN"), key(*a)],
        Op::Read(ks, ids, c) => {
            let mut v = vec![s("XREAD")];
            if let Some(c) = c {
                v.extend([s("COUNT"), c.to_string()]);
            }
            v.push(s("STREAMS"));
            v.extend(ks.iter().map(|k| key(*k)));
            v.extend(ids.iter().take(ks.len()).cloned());
            v
        }
        Op::GroupCreate(a, g, id, mk, e) => {
            let mut v = vec![s("XGROUP"), s("CREATE"), key(*a), group(*g), id.clone()];
            if *mk {
                v.push(s("MKSTREAM"));
            }
            if let Some(e) = e {
                v.extend([s("ENTRIESREAD"), e.to_string()]);
            }
            v
        }
        Op::GroupSetId(a, g, id, e) => {
            let mut v = vec![s("XGROUP"), s("SETID"), key(*a), group(*g), id.clone()];
            if let Some(e) = e {
                v.extend([s("ENTRIESREAD"), e.to_string()]);
            }
            v
        }
        Op::GroupDestroy(a, g) => vec![s("XGROUP"), s("DESTROY"), key(*a), group(*g)],
        Op::CreateConsumer(a, g, c) => {
            vec![
                s("XGROUP"),
                s("CREATECONSUMER"),
                key(*a),
                group(*g),
                consumer(*c),
            ]
        }
        Op::DelConsumer(a, g, c) => {
            vec![
                s("XGROUP"),
                s("DELCONSUMER"),
                key(*a),
                group(*g),
                consumer(*c),
            ]
        }
        Op::ReadGroup(a, g, c, id, n, noack) => {
            let mut v = vec![s("XREADGROUP"), s("GROUP"), group(*g), consumer(*c)];
            if let Some(n) = n {
                v.extend([s("COUNT"), n.to_string()]);
            }
            if *noack {
                v.push(s("NOACK"));
            }
            v.extend([s("STREAMS"), key(*a), id.clone().unwrap_or_else(|| s(">"))]);
            v
        }
        Op::Ack(a, g, ids) => {
            let mut v = vec![s("XACK"), key(*a), group(*g)];
            v.extend(ids.iter().map(|(m, q)| id_text(*m, *q)));
            v
        }
        Op::Pending(a, g) => vec![s("XPENDING"), key(*a), group(*g)],
        Op::Claim(a, g, c, ids, justid, force, retry) => {
            let mut v = vec![s("XCLAIM"), key(*a), group(*g), consumer(*c), s("0")];
            v.extend(ids.iter().map(|(m, q)| id_text(*m, *q)));
            if *justid {
                v.push(s("JUSTID"));
            }
            if *force {
                v.push(s("FORCE"));
            }
            if let Some(r) = retry {
                v.extend([s("RETRYCOUNT"), r.to_string()]);
            }
            v
        }
        Op::AutoClaim(a, g, c, start, n, justid) => {
            let mut v = vec![
                s("XAUTOCLAIM"),
                key(*a),
                group(*g),
                consumer(*c),
                s("0"),
                start.clone(),
            ];
            if let Some(n) = n {
                v.extend([s("COUNT"), n.to_string()]);
            }
            if *justid {
                v.push(s("JUSTID"));
            }
            v
        }
        Op::SetId(a, (m, q), e, d) => {
            let mut v = vec![s("XSETID"), key(*a), id_text(*m, *q)];
            if let Some(e) = e {
                v.extend([s("ENTRIESADDED"), e.to_string()]);
            }
            if let Some((dm, dq)) = d {
                v.extend([s("MAXDELETEDID"), id_text(*dm, *dq)]);
            }
            v
        }
        Op::InfoStream(a) => vec![s("XINFO"), s("STREAM"), key(*a)],
        Op::InfoGroups(a) => vec![s("XINFO"), s("GROUPS"), key(*a)],
        Op::Delete(a) => vec![s("DEL"), key(*a)],
        Op::SetString(a) => vec![s("SET"), key(*a), s("str")],
    }
}

fn run(proto: u8, cases: u32) {
    let finals: Vec<Vec<String>> = (0..3)
        .flat_map(|i| {
            let mut v = vec![
                vec!["TYPE".into(), key(i)],
                vec!["XRANGE".into(), key(i), "-".into(), "+".into()],
                vec!["XINFO".into(), "STREAM".into(), key(i)],
                vec!["XINFO".into(), "GROUPS".into(), key(i)],
            ];
            for g in 0..2 {
                v.push(vec!["XPENDING".into(), key(i), group(g)]);
            }
            v
        })
        .collect();
    run_random_sequences(
        "stream",
        proto,
        cases,
        40,
        op(),
        |ops| {
            let mut steps = vec![(
                ["CONFIG", "SET", "stream-node-max-entries", "4"]
                    .map(String::from)
                    .to_vec(),
                View::Exact,
            )];
            let mut state = State::default();
            steps.extend(ops.iter().map(|op| (args(op, &mut state), View::Exact)));
            steps
        },
        &finals,
    );
}

#[test]
fn random_stream_sequences_resp2() {
    run(2, 48);
}

#[test]
fn random_stream_sequences_resp3() {
    run(3, 24);
}
