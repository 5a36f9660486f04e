//! The randomized differential runner shared by the `proptest_*` suites:
//! proptest generates command sequences, each sequence runs on both servers
//! from an empty keyspace, and every reply must match (as the step's
//! [`View`] compares it). Failures are shrunk to a minimal sequence.

use super::{escape, parse_frame, Pair, Resp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;

/// How two replies to one step are compared.
#[derive(Clone, Copy, Debug)]
pub enum View {
    /// Byte for byte.
    Exact,
    /// As a multiset of groups of `n` elements (replies whose order Redis
    /// does not define: HGETALL has pairs, SMEMBERS single members).
    Unordered(usize),
    /// A TTL: -2, -1, or "some non-negative number".
    TtlClass,
}

fn view(raw: &[u8], how: View) -> String {
    match how {
        View::Exact => escape(raw),
        View::TtlClass => match parse_frame(raw) {
            Ok(Some((Resp::Int(i), _))) if i >= 0 => "ttl>=0".to_string(),
            _ => escape(raw),
        },
        View::Unordered(chunk) => match parse_frame(raw) {
            Ok(Some((r, _))) => {
                let (kind, els): (&str, Vec<Resp>) = match &r {
                    Resp::Map(pairs) => (
                        "map",
                        pairs
                            .iter()
                            .flat_map(|(k, v)| [k.clone(), v.clone()])
                            .collect(),
                    ),
                    other => match other.elements() {
                        Some(e) => (other.kind(), e.to_vec()),
                        None => return escape(raw),
                    },
                };
                let mut groups: Vec<String> =
                    els.chunks(chunk.max(1)).map(|c| format!("{c:?}")).collect();
                groups.sort();
                format!("{kind} {groups:?}")
            }
            _ => escape(raw),
        },
    }
}

/// Runs `cases` random sequences (`FERRY_PROPTEST_CASES` overrides) of up
/// to `max_len` ops in RESP`proto`. `steps` turns a generated sequence into
/// commands with their views; `finals` run after every sequence to compare
/// the resulting state as well.
pub fn run_random_sequences<T: Clone + std::fmt::Debug>(
    label: &str,
    proto: u8,
    cases: u32,
    max_len: usize,
    op: impl Strategy<Value = T>,
    steps: impl Fn(&[T]) -> Vec<(Vec<String>, View)>,
    finals: &[Vec<String>],
) {
    let cases = std::env::var("FERRY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let pair = RefCell::new(Pair::proto(proto));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    });
    let strategy = prop::collection::vec(op, 1..max_len);
    let result = runner.run(&strategy, |ops| {
        let mut p = pair.borrow_mut();
        p.same(&["FLUSHALL"]);
        let mut log = Vec::new();
        let all = steps(&ops)
            .into_iter()
            .chain(finals.iter().map(|c| (c.clone(), View::Exact)));
        for (c, how) in all {
            let a = p.a.cmd(&c);
            let b = p.b.try_cmd(&c).unwrap_or_else(|e| {
                panic!("subject failed on `{}` (after {log:?}): {e}", c.join(" "))
            });
            log.push(c.join(" "));
            let (ca, cb) = (view(&a, how), view(&b, how));
            if ca != cb {
                return Err(TestCaseError::fail(format!(
                    "reply to `{}` differs\n  redis:   {ca}\n  subject: {cb}\n  sequence ({} commands):\n    {}",
                    c.join(" "),
                    log.len(),
                    log.join("\n    ")
                )));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("RESP{proto} randomized {label} test failed: {e}");
    }
}
