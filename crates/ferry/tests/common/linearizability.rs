//! A linearizability checker for histories of SET/GET/INCR on independent
//! registers (Redis string keys), for the replication tests that kill and
//! pause nodes while clients run.
//!
//! Linearizability is compositional, so every key is checked on its own with
//! the Wing & Gong algorithm as improved by Lowe (and used by Porcupine): ops
//! are linearized "just in time" in a doubly linked list of call/return
//! entries sorted by time, backtracking when the earliest pending return is
//! reached, and memoizing every (set of linearized ops, register value)
//! already explored so no configuration is searched twice.
//!
//! Why hand-written: the Rust crates that implement WGL (e.g. `todc-utils`)
//! are small, rarely maintained and have no notion of an op whose outcome is
//! unknown, which is the common case when a node is killed mid-request.
//!
//! Ops with [`Outcome::Unknown`] (error, timeout, dropped connection) have no
//! return entry: they may take effect at any point after their invocation, or
//! never. Three reductions keep the search small for them:
//! * unknown reads tell nothing and are dropped;
//! * on keys without INCR, an unknown write whose value no completed read
//!   could have observed is dropped (omitting it is always as good);
//! * unknown ops with the same effect (INCRs, or writes of the same value)
//!   are interchangeable, so only the earliest invoked of a kind that is not
//!   yet linearized is tried.
//!
//! The memo stores a 128-bit Zobrist fingerprint of the linearized set rather
//! than the set itself (constant memory per entry, O(1) update); a collision,
//! which could only make a linearizable history look wrong, has probability
//! around `states² / 2^129`.
//!
//! Tips for the caller: use a unique value for every write (so reads pin down
//! which write they saw), and take `invoke` just before sending and
//! `complete` just after the reply, from one monotonic clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

/// One operation on one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `SET key v`.
    Write(i64),
    /// `GET key`, with the value it returned (`None`: key absent). Must equal
    /// the value in [`Outcome::Ok`]; ignored when the outcome is unknown.
    Read(Option<i64>),
    /// `INCR key`: an absent key counts as 0; the reply is the new value.
    Incr,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged. The value returned: Read → the value read, Incr →
    /// `Some(new value)`, Write → ignored (use `None`).
    Ok(Option<i64>),
    /// Error or timeout: the op may have taken effect at any time after its
    /// invocation (even after the client gave up), or never.
    Unknown,
}

/// One operation of the history, as seen by the client that issued it.
#[derive(Clone, Debug)]
pub struct Event {
    pub key: String,
    /// Only used in error reports.
    pub client: usize,
    pub op: Op,
    /// When the request was sent (any unit, one monotonic clock for all).
    pub invoke: u64,
    /// When the reply arrived: `Some` exactly when the outcome is `Ok`
    /// (ignored for `Unknown`). Ops completing at the same instant another
    /// is invoked count as concurrent with it.
    pub complete: Option<u64>,
    pub outcome: Outcome,
}

/// The default bound on explored configurations per key: at most about
/// 50 MB of memo and a few seconds (debug build) before [`check`] gives up.
/// Real histories of ~2000 ops per key need a few thousand.
#[allow(dead_code)]
pub const DEFAULT_MAX_STATES: usize = 1_000_000;

/// Checks that `history` is linearizable, key by key (in key order). `Err`
/// names the first key that is not (or whose search exceeded the bound) with
/// an excerpt of the ops involved, or describes a malformed event.
pub fn check(history: &[Event]) -> Result<(), String> {
    check_with_limit(history, DEFAULT_MAX_STATES)
}

/// [`check`] with an explicit bound on explored configurations per key;
/// exceeding it is an `Err` starting with "search limit exceeded".
#[allow(dead_code)]
pub fn check_with_limit(history: &[Event], max_states: usize) -> Result<(), String> {
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in history {
        validate(event)?;
        by_key.entry(event.key.as_str()).or_default().push(event);
    }
    for (key, events) in by_key {
        check_key(key, &events, max_states)?;
    }
    Ok(())
}

/// The register: `None` while the key is absent.
type State = Option<i64>;

/// An op as the search sees it (unknown reads already dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Write(i64),
    Read(Option<i64>),
    /// The new value it returned, `None` when unknown.
    Incr(Option<i64>),
}

#[derive(Clone, Copy)]
struct Item {
    kind: Kind,
    client: usize,
    invoke: u64,
    complete: Option<u64>,
}

/// The sequential specification: the state after `kind`, or `None` if the
/// op cannot happen in `state`.
fn step(state: State, kind: Kind) -> Option<State> {
    match kind {
        Kind::Write(v) => Some(Some(v)),
        Kind::Read(seen) => (seen == state).then_some(state),
        Kind::Incr(returned) => {
            let next = state.unwrap_or(0).checked_add(1)?;
            match returned {
                Some(r) if r != next => None,
                _ => Some(Some(next)),
            }
        }
    }
}

fn validate(e: &Event) -> Result<(), String> {
    let bad = |why: &str| Err(format!("malformed event ({why}): {e:?}"));
    match (e.outcome, e.complete) {
        (Outcome::Ok(_), None) => return bad("Ok outcome without a completion time"),
        (Outcome::Ok(_), Some(c)) if c < e.invoke => return bad("completes before invoke"),
        _ => {}
    }
    match (e.op, e.outcome) {
        (Op::Read(a), Outcome::Ok(b)) if a != b => bad("Op::Read value differs from Outcome::Ok"),
        (Op::Incr, Outcome::Ok(None)) => bad("acknowledged Incr without its new value"),
        _ => Ok(()),
    }
}

/// Turns one key's events into search items, applying the reductions for
/// unknown ops described in the module docs.
fn items_for_key(events: &[&Event]) -> Vec<Item> {
    let has_incr = events.iter().any(|e| e.op == Op::Incr);
    // For each value, the latest completion time of a read that returned it.
    let mut last_seen: HashMap<i64, u64> = HashMap::new();
    for e in events {
        if let (Op::Read(Some(v)), Outcome::Ok(_), Some(c)) = (e.op, e.outcome, e.complete) {
            let t = last_seen.entry(v).or_insert(c);
            *t = (*t).max(c);
        }
    }
    let mut items = Vec::with_capacity(events.len());
    for e in events {
        let known = matches!(e.outcome, Outcome::Ok(_));
        let kind = match (e.op, e.outcome) {
            (Op::Read(_), Outcome::Unknown) => continue,
            (Op::Read(v), _) => Kind::Read(v),
            (Op::Write(v), Outcome::Unknown)
                if !has_incr && last_seen.get(&v).is_none_or(|&c| c < e.invoke) =>
            {
                continue
            }
            (Op::Write(v), _) => Kind::Write(v),
            (Op::Incr, Outcome::Ok(r)) => Kind::Incr(r),
            (Op::Incr, Outcome::Unknown) => Kind::Incr(None),
        };
        items.push(Item {
            kind,
            client: e.client,
            invoke: e.invoke,
            complete: if known { e.complete } else { None },
        });
    }
    // Sorting by invocation makes the call list order (and hence the
    // "earliest of its kind" rule and the error excerpts) deterministic.
    items.sort_by_key(|it| (it.invoke, it.complete.unwrap_or(u64::MAX), it.client));
    items
}

/// A list node: the call or the return of item `item`.
#[derive(Clone, Copy)]
struct Node {
    item: usize,
    is_call: bool,
}

const NIL: usize = usize::MAX;

/// The doubly linked call/return list; removed nodes keep their links so
/// they can be put back in LIFO order ("dancing links").
struct List {
    nodes: Vec<Node>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Index of the sentinel head node (== nodes.len()).
    head: usize,
    /// For each item: its call node and return node (NIL if unknown).
    call_of: Vec<usize>,
    ret_of: Vec<usize>,
}

impl List {
    fn new(items: &[Item]) -> List {
        // (time, call-before-return at equal times, item)
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(items.len() * 2);
        for (i, it) in items.iter().enumerate() {
            order.push((it.invoke, false, i));
            if let Some(c) = it.complete {
                order.push((c, true, i));
            }
        }
        order.sort_unstable();
        let nodes: Vec<Node> = order
            .iter()
            .map(|&(_, is_ret, item)| Node {
                item,
                is_call: !is_ret,
            })
            .collect();
        let m = nodes.len();
        let mut call_of = vec![NIL; items.len()];
        let mut ret_of = vec![NIL; items.len()];
        for (idx, n) in nodes.iter().enumerate() {
            if n.is_call {
                call_of[n.item] = idx;
            } else {
                ret_of[n.item] = idx;
            }
        }
        // Node m is the head sentinel; node links form head -> 0 -> ... -> m-1.
        let mut next = vec![NIL; m + 1];
        let mut prev = vec![NIL; m + 1];
        for i in 0..m {
            next[i] = if i + 1 < m { i + 1 } else { NIL };
            prev[i] = if i == 0 { m } else { i - 1 };
        }
        next[m] = if m > 0 { 0 } else { NIL };
        List {
            nodes,
            next,
            prev,
            head: m,
            call_of,
            ret_of,
        }
    }

    fn unlink(&mut self, n: usize) {
        let (p, x) = (self.prev[n], self.next[n]);
        self.next[p] = x;
        if x != NIL {
            self.prev[x] = p;
        }
    }

    fn relink(&mut self, n: usize) {
        let (p, x) = (self.prev[n], self.next[n]);
        self.next[p] = n;
        if x != NIL {
            self.prev[x] = n;
        }
    }

    /// Removes item `i` (call and return) from the list.
    fn lift(&mut self, i: usize) {
        self.unlink(self.call_of[i]);
        if self.ret_of[i] != NIL {
            self.unlink(self.ret_of[i]);
        }
    }

    /// Undoes the latest [`List::lift`], which must have been of item `i`.
    fn unlift(&mut self, i: usize) {
        if self.ret_of[i] != NIL {
            self.relink(self.ret_of[i]);
        }
        self.relink(self.call_of[i]);
    }
}

/// SplitMix64, for the Zobrist keys (deterministic, so failures reproduce).
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The memo's hasher: its keys are Zobrist fingerprints, already uniformly
/// random, so a cheap multiply-fold is enough (SipHash dominated the search).
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
    fn write_isize(&mut self, x: isize) {
        self.write_u64(x as u64);
    }
}

type Memo = HashSet<(u64, u64, State), BuildHasherDefault<FoldHasher>>;

/// What the search saw at its deepest point, for the error report.
struct Deepest {
    /// Completed ops linearized.
    done: usize,
    /// Linearized items, in order.
    prefix: Vec<usize>,
    state: State,
    /// Items that were candidates to go next (call entries before the
    /// blocking return), and the item whose return blocked.
    candidates: Vec<usize>,
    blocking: usize,
}

fn check_key(key: &str, events: &[&Event], max_states: usize) -> Result<(), String> {
    let items = items_for_key(events);
    let n = items.len();
    let mut remaining = items.iter().filter(|it| it.complete.is_some()).count();
    let total_completed = remaining;
    if remaining == 0 {
        return Ok(());
    }
    let mut list = List::new(&items);

    // Unknown ops of the same kind are interchangeable: each may only be
    // linearized once the previous one of its kind has been.
    let mut prev_same = vec![NIL; n];
    let mut last_of_kind: HashMap<Kind, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if it.complete.is_none() {
            if let Some(j) = last_of_kind.insert(it.kind, i) {
                prev_same[i] = j;
            }
        }
    }

    let zobrist: Vec<(u64, u64)> = (0..n as u64)
        .map(|i| (splitmix(2 * i), splitmix(2 * i + 1)))
        .collect();
    let mut linearized = vec![false; n];
    let mut fingerprint = (0u64, 0u64);
    let mut state: State = None;
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut cache = Memo::default();
    let mut deepest: Option<Deepest> = None;
    let step_limit = max_states.saturating_mul(64).max(1 << 24);
    let mut steps = 0usize;

    let mut node = list.next[list.head];
    loop {
        if remaining == 0 {
            return Ok(());
        }
        steps += 1;
        if cache.len() > max_states || steps > step_limit {
            return Err(format!(
                "search limit exceeded on key {key:?} ({} configurations, {steps} steps, \
                 {n} ops); the history may or may not be linearizable",
                cache.len()
            ));
        }
        if node != NIL && list.nodes[node].is_call {
            let i = list.nodes[node].item;
            let allowed = prev_same[i] == NIL || linearized[prev_same[i]];
            if let Some(next_state) = allowed.then(|| step(state, items[i].kind)).flatten() {
                let (za, zb) = zobrist[i];
                let fp = (fingerprint.0 ^ za, fingerprint.1 ^ zb);
                if cache.insert((fp.0, fp.1, next_state)) {
                    stack.push((i, state));
                    state = next_state;
                    fingerprint = fp;
                    linearized[i] = true;
                    list.lift(i);
                    if items[i].complete.is_some() {
                        remaining -= 1;
                    }
                    node = list.next[list.head];
                    continue;
                }
            }
            node = list.next[node];
            continue;
        }
        // Stuck at the earliest pending return (NIL cannot happen while a
        // completed op is pending, but is treated the same for safety).
        let done = total_completed - remaining;
        if deepest.as_ref().is_none_or(|d| done > d.done) && node != NIL {
            let mut candidates = Vec::new();
            let mut c = list.next[list.head];
            while c != node && c != NIL && candidates.len() < 8 {
                candidates.push(list.nodes[c].item);
                c = list.next[c];
            }
            deepest = Some(Deepest {
                done,
                prefix: stack.iter().map(|&(i, _)| i).collect(),
                state,
                candidates,
                blocking: list.nodes[node].item,
            });
        }
        let Some((i, before)) = stack.pop() else {
            return Err(report(key, &items, total_completed, deepest));
        };
        list.unlift(i);
        linearized[i] = false;
        let (za, zb) = zobrist[i];
        fingerprint = (fingerprint.0 ^ za, fingerprint.1 ^ zb);
        state = before;
        if items[i].complete.is_some() {
            remaining += 1;
        }
        node = list.next[list.call_of[i]];
    }
}

/// The error message for a key with no linearization: the end of the
/// longest valid prefix found, and the ops none of which could extend it.
fn report(key: &str, items: &[Item], total_completed: usize, deepest: Option<Deepest>) -> String {
    let base = items.iter().map(|it| it.invoke).min().unwrap_or(0);
    let show = |i: usize| {
        let it = &items[i];
        let end = it
            .complete
            .map_or("?".to_string(), |c| format!("+{}", c - base));
        let what = match it.kind {
            Kind::Write(v) => format!("Write({v})"),
            Kind::Read(v) => format!("Read -> {v:?}"),
            Kind::Incr(Some(v)) => format!("Incr -> {v}"),
            Kind::Incr(None) => "Incr -> unknown".to_string(),
        };
        let unknown = if it.complete.is_none() {
            " (unknown outcome)"
        } else {
            ""
        };
        format!(
            "client {} [+{}..{end}] {what}{unknown}",
            it.client,
            it.invoke - base
        )
    };
    let mut out = format!(
        "key {key:?} is not linearizable ({} ops, {total_completed} acknowledged; \
         times relative to its first invoke)",
        items.len()
    );
    let Some(d) = deepest else {
        return out;
    };
    let _ = write!(
        out,
        "\n  longest valid prefix: {} acknowledged ops, register then {:?}",
        d.done, d.state
    );
    let skip = d.prefix.len().saturating_sub(5);
    if skip > 0 {
        let _ = write!(out, "\n  ... {skip} earlier ops");
    }
    for &i in &d.prefix[skip..] {
        let _ = write!(out, "\n    {}", show(i));
    }
    let _ = write!(
        out,
        "\n  then pending (no choice among them leads to a linearization):"
    );
    for &i in &d.candidates {
        let mark = if i == d.blocking {
            "  <- must be linearized by its completion"
        } else {
            ""
        };
        let _ = write!(out, "\n    {}{mark}", show(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(client: usize, op: Op, invoke: u64, complete: u64, value: Option<i64>) -> Event {
        Event {
            key: "k".to_string(),
            client,
            op,
            invoke,
            complete: Some(complete),
            outcome: Outcome::Ok(value),
        }
    }
    fn write(client: usize, v: i64, invoke: u64, complete: u64) -> Event {
        ev(client, Op::Write(v), invoke, complete, None)
    }
    fn read(client: usize, v: Option<i64>, invoke: u64, complete: u64) -> Event {
        ev(client, Op::Read(v), invoke, complete, v)
    }
    fn incr(client: usize, v: i64, invoke: u64, complete: u64) -> Event {
        ev(client, Op::Incr, invoke, complete, Some(v))
    }
    fn unknown(client: usize, op: Op, invoke: u64) -> Event {
        Event {
            key: "k".to_string(),
            client,
            op,
            invoke,
            complete: None,
            outcome: Outcome::Unknown,
        }
    }
    fn on_key(mut e: Event, key: &str) -> Event {
        e.key = key.to_string();
        e
    }

    #[test]
    fn empty_history_ok() {
        assert_eq!(check(&[]), Ok(()));
    }

    #[test]
    fn sequential_history_ok() {
        let h = [
            read(0, None, 0, 1),
            write(0, 1, 2, 3),
            read(1, Some(1), 4, 5),
            write(1, 2, 6, 7),
            read(0, Some(2), 8, 9),
        ];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn overlapping_write_and_read_ok_either_order() {
        for seen in [None, Some(1)] {
            let h = [write(0, 1, 0, 10), read(1, seen, 2, 8)];
            assert_eq!(check(&h), Ok(()), "read saw {seen:?}");
        }
        // Reads overlapping two concurrent writes may see them in either
        // order, as long as the two readers agree on one order.
        let h = [
            write(0, 1, 0, 10),
            write(1, 2, 0, 10),
            read(2, Some(1), 11, 12),
            read(3, Some(2), 1, 5),
        ];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn concurrent_readers_disagreeing_on_order_err() {
        let h = [
            write(0, 1, 0, 100),
            write(1, 2, 0, 100),
            read(2, Some(1), 10, 20),
            read(2, Some(2), 30, 40),
            read(3, Some(2), 10, 20),
            read(3, Some(1), 30, 40),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn stale_read_after_completed_write_err() {
        let h = [write(0, 1, 0, 1), write(0, 2, 2, 3), read(1, Some(1), 4, 5)];
        let err = check(&h).unwrap_err();
        assert!(err.contains("\"k\" is not linearizable"), "{err}");
        assert!(err.contains("Read -> Some(1)"), "{err}");
        // Reading "absent" after a write completed is stale too.
        let h = [write(0, 1, 0, 1), read(1, None, 2, 3)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn read_of_never_written_value_err() {
        let h = [write(0, 1, 0, 10), read(1, Some(7), 2, 8)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn unknown_write_observed_later_ok() {
        let h = [
            write(0, 1, 0, 1),
            unknown(0, Op::Write(2), 2),
            read(1, Some(1), 3, 4),
            read(1, Some(2), 100, 101),
            read(2, Some(2), 200, 201),
        ];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn unknown_write_never_observed_ok() {
        let h = [
            write(0, 1, 0, 1),
            unknown(0, Op::Write(2), 2),
            read(1, Some(1), 3, 4),
            read(1, Some(1), 100, 101),
        ];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn unknown_write_observed_before_its_invoke_err() {
        let h = [
            write(0, 1, 0, 1),
            read(1, Some(2), 3, 4),
            unknown(0, Op::Write(2), 10),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn unknown_write_cannot_take_effect_twice() {
        // Once the read saw 3 overwrite the unknown write's 2, 2 cannot return.
        let h = [
            unknown(0, Op::Write(2), 0),
            read(1, Some(2), 5, 6),
            write(1, 3, 7, 8),
            read(1, Some(2), 9, 10),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn unknown_read_is_ignored() {
        let h = [write(0, 1, 0, 1), unknown(1, Op::Read(Some(9)), 2)];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn incr_counter_ok() {
        let h = [
            incr(0, 1, 0, 1),
            incr(1, 2, 2, 10),
            incr(0, 3, 3, 9),
            read(2, Some(3), 11, 12),
            incr(2, 4, 13, 14),
        ];
        assert_eq!(check(&h), Ok(()));
        // Concurrent incrs may return in either order.
        let h = [incr(0, 2, 0, 10), incr(1, 1, 0, 10)];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn incr_after_write() {
        let h = [write(0, 5, 0, 1), incr(1, 6, 2, 3), read(0, Some(6), 4, 5)];
        assert_eq!(check(&h), Ok(()));
        let h = [write(0, 5, 0, 1), incr(1, 1, 2, 3)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn lost_acknowledged_incr_err() {
        let h = [incr(0, 1, 0, 1), incr(1, 2, 2, 3), read(2, Some(1), 4, 5)];
        assert!(check(&h).is_err());
        // Or a later incr that does not count it.
        let h = [incr(0, 1, 0, 1), incr(1, 2, 2, 3), incr(0, 2, 4, 5)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn duplicate_incr_err() {
        // Two concurrent incrs cannot both return 1.
        let h = [incr(0, 1, 0, 10), incr(1, 1, 0, 10)];
        assert!(check(&h).is_err());
        // An incr applied twice (e.g. a retried request) shows up as a skip.
        let h = [incr(0, 1, 0, 1), incr(0, 3, 2, 3)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn unknown_incrs_counted_or_not() {
        let h = [
            incr(0, 1, 0, 1),
            unknown(0, Op::Incr, 2),
            unknown(1, Op::Incr, 2),
            incr(2, 3, 10, 11),
            read(2, Some(3), 12, 13),
        ];
        assert_eq!(check(&h), Ok(()));
        // Two unknown incrs cannot account for three missing.
        let h = [
            incr(0, 1, 0, 1),
            unknown(0, Op::Incr, 2),
            unknown(1, Op::Incr, 2),
            incr(2, 5, 10, 11),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn many_unknown_incrs_are_fast() {
        // 300 unknown incrs, 100 of which took effect: without the
        // interchangeability rule this would be a huge search.
        let mut h = Vec::new();
        for i in 0..300u64 {
            h.push(unknown(i as usize % 7, Op::Incr, i * 10));
        }
        for k in 0..100u64 {
            h.push(read(9, Some(k as i64 + 1), k * 30 + 5, k * 30 + 6));
        }
        h.push(incr(8, 102, 5000, 5001));
        assert_eq!(check_with_limit(&h, 100_000), Ok(()));
    }

    #[test]
    fn keys_are_independent() {
        let h = [
            on_key(write(0, 1, 0, 1), "a"),
            on_key(write(0, 1, 0, 1), "b"),
            on_key(read(1, Some(1), 2, 3), "a"),
            on_key(read(1, None, 2, 3), "c"),
        ];
        assert_eq!(check(&h), Ok(()));
        let h = [
            on_key(write(0, 1, 0, 1), "a"),
            on_key(read(1, Some(1), 2, 3), "b"),
        ];
        let err = check(&h).unwrap_err();
        assert!(err.contains("\"b\""), "{err}");
    }

    #[test]
    fn malformed_events_err() {
        let mut e = write(0, 1, 0, 1);
        e.complete = None;
        assert!(check(&[e]).unwrap_err().contains("malformed"));
        let e = ev(0, Op::Read(Some(1)), 0, 1, Some(2));
        assert!(check(&[e]).unwrap_err().contains("malformed"));
        let e = ev(0, Op::Incr, 0, 1, None);
        assert!(check(&[e]).unwrap_err().contains("malformed"));
        let e = write(0, 1, 5, 4);
        assert!(check(&[e]).unwrap_err().contains("malformed"));
    }

    #[test]
    fn search_limit_is_reported() {
        // Many overlapping writes of values nobody reads, then an impossible
        // read: the search has to try many orders before failing.
        let mut h: Vec<Event> = (0..20).map(|c| write(c, c as i64, 0, 100)).collect();
        h.push(read(30, Some(99), 200, 201));
        let err = check_with_limit(&h, 1000).unwrap_err();
        assert!(err.starts_with("search limit exceeded"), "{err}");
    }

    /// A small deterministic PRNG for the randomized tests.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(1);
            splitmix(self.0) % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// Simulates `clients` sequential clients against one atomic register
    /// per key: each op takes effect at a distinct instant inside its
    /// [invoke, complete] interval; some ops time out (unknown outcome) and
    /// then took effect or not. Returns a linearizable history.
    fn simulate(
        seed: u64,
        keys: &[&str],
        ops: usize,
        clients: usize,
        counters: bool,
    ) -> Vec<Event> {
        let mut rng = Rng(seed);
        let mut regs: HashMap<String, Option<i64>> = HashMap::new();
        let mut free_at = vec![0u64; clients];
        let mut next_value = 1i64;
        let mut history = Vec::new();
        let mut t = 0u64;
        for _ in 0..ops {
            t += 1 + rng.below(5);
            let free: Vec<usize> = (0..clients).filter(|&c| free_at[c] < t).collect();
            if free.is_empty() {
                continue;
            }
            let client = free[rng.below(free.len() as u64) as usize];
            let key = keys[rng.below(keys.len() as u64) as usize].to_string();
            let invoke = t - rng.below(t - free_at[client]).min(40);
            let complete = t + rng.below(40);
            let timed_out = rng.chance(5);
            let applied = !timed_out || rng.chance(50);
            let reg = regs.entry(key.clone()).or_insert(None);
            let (op, value) = match rng.below(3) {
                0 => {
                    if applied {
                        *reg = Some(next_value);
                    }
                    next_value += 1;
                    (Op::Write(next_value - 1), None)
                }
                1 if counters => {
                    let n = reg.unwrap_or(0) + 1;
                    if applied {
                        *reg = Some(n);
                    }
                    (Op::Incr, Some(n))
                }
                _ => (Op::Read(*reg), *reg),
            };
            let (complete, outcome) = if timed_out {
                (None, Outcome::Unknown)
            } else {
                (Some(complete), Outcome::Ok(value))
            };
            free_at[client] = complete.unwrap_or(t + 50);
            history.push(Event {
                key,
                client,
                op,
                invoke,
                complete,
                outcome,
            });
        }
        history
    }

    #[test]
    fn random_linearizable_histories_accepted() {
        for seed in 0..40 {
            let h = simulate(seed, &["a", "b", "c"], 300, 6, seed % 2 == 0);
            assert_eq!(check(&h), Ok(()), "seed {seed}");
        }
    }

    #[test]
    fn random_history_with_a_corrupted_read_rejected() {
        for seed in 100..140 {
            let mut h = simulate(seed, &["a", "b"], 300, 6, seed % 2 == 0);
            let reads: Vec<usize> = (0..h.len())
                .filter(|&i| matches!(h[i].op, Op::Read(_)) && h[i].complete.is_some())
                .collect();
            let r = reads[(seed as usize * 7) % reads.len()];
            h[r].op = Op::Read(Some(-1));
            h[r].outcome = Outcome::Ok(Some(-1));
            assert!(check(&h).is_err(), "seed {seed}");
        }
    }

    #[test]
    fn random_history_with_a_stale_read_rejected() {
        // Writes only (unique values): a read made to return the value of a
        // write W1 when another write W2 completed after W1 and before the
        // read began is a stale read in every linearization.
        let mut rejected = 0;
        for seed in 200..260 {
            let mut h = simulate(seed, &["a"], 200, 5, false);
            let done = |e: &Event| matches!(e.outcome, Outcome::Ok(_));
            let mut found = None;
            'search: for r in (0..h.len()).rev() {
                if !(matches!(h[r].op, Op::Read(_)) && done(&h[r])) {
                    continue;
                }
                for w2 in 0..h.len() {
                    let ok2 = matches!(h[w2].op, Op::Write(_)) && done(&h[w2]);
                    if !ok2 || h[w2].complete >= Some(h[r].invoke) {
                        continue;
                    }
                    for w1 in 0..h.len() {
                        if let Op::Write(v) = h[w1].op {
                            if done(&h[w1]) && h[w1].complete < Some(h[w2].invoke) {
                                found = Some((r, v));
                                break 'search;
                            }
                        }
                    }
                }
            }
            let Some((r, v)) = found else { continue };
            h[r].op = Op::Read(Some(v));
            h[r].outcome = Outcome::Ok(Some(v));
            let err = check(&h).unwrap_err();
            assert!(err.contains("not linearizable"), "seed {seed}: {err}");
            rejected += 1;
        }
        assert!(
            rejected >= 50,
            "only {rejected} histories had a stale candidate"
        );
    }

    #[test]
    fn large_history_is_checked_within_the_search_bound() {
        // ~10 keys x ~2000 ops, 10 clients, some timeouts: the size the
        // replication tests produce. No timing is asserted; the search
        // bound makes a blow-up an error instead of a hang.
        let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];
        let h = simulate(7, &keys, 20_000, 10, true);
        assert!(h.len() > 15_000, "{}", h.len());
        assert_eq!(check(&h), Ok(()));
    }
}
