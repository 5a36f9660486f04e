//! Lists against a model: a random sequence of list commands (pushes and
//! pops at both ends, LINSERT, LSET, LREM, LTRIM, LMOVE, DEL, RENAME, COPY,
//! commits and rollbacks) runs on a store and on plain `VecDeque`s, and
//! after every step every list reads the same on both. Positions, their
//! renumbering and the list ends the store keeps in memory
//! (`listends.rs`) are all behind these reads.

mod common;

use common::{end, pop, push};
use ferry_store::{Store, StoreOptions};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};

const KEYS: usize = 3;

type Model = HashMap<Vec<u8>, VecDeque<Vec<u8>>>;

fn key(i: usize) -> Vec<u8> {
    format!("list:{i}").into_bytes()
}

/// A value from a small alphabet, so pivots and LREM find matches.
fn value(rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    format!("v{}", rng.gen_range(0..6)).into_bytes()
}

/// One random command on both; returns what it was.
fn step(s: &mut Store, m: &mut Model, saved: &mut Model, rng: &mut rand::rngs::StdRng) -> String {
    let k = key(rng.gen_range(0..KEYS));
    let other = key(rng.gen_range(0..KEYS));
    let info = s.list_lookup(0, &k).expect("lookup");
    let what = match rng.gen_range(0..100) {
        0..=29 => {
            let list = m.entry(k.clone()).or_default();
            let at = end(rng);
            let values: Vec<Vec<u8>> = (0..rng.gen_range(1..4)).map(|_| value(rng)).collect();
            s.list_push(0, &k, at, &values, false).expect("push");
            for v in &values {
                push(list, at, v.clone());
            }
            format!("PUSH {at:?} {k:?} {values:?}")
        }
        30..=44 => {
            let list = m.entry(k.clone()).or_default();
            let at = end(rng);
            let count = rng.gen_range(1..4);
            if let Some(info) = info {
                let got = s.list_pop(0, &k, &info, at, count).expect("pop");
                let want: Vec<Vec<u8>> = (0..count).filter_map(|_| pop(list, at)).collect();
                assert_eq!(got, want, "POP {at:?} {k:?} {count}");
            }
            format!("POP {at:?} {k:?} {count}")
        }
        45..=59 => {
            let list = m.entry(k.clone()).or_default();
            let (after, pivot, v) = (rng.gen_bool(0.5), value(rng), value(rng));
            if let Some(info) = info {
                s.list_insert(0, &k, &info, after, &pivot, &v)
                    .expect("insert");
                if let Some(i) = list.iter().position(|x| *x == pivot) {
                    list.insert(if after { i + 1 } else { i }, v.clone());
                }
            }
            format!("LINSERT {k:?} after={after} {pivot:?} {v:?}")
        }
        60..=66 => {
            let list = m.entry(k.clone()).or_default();
            let (index, v) = (rng.gen_range(-4..5i64), value(rng));
            if let Some(info) = info {
                s.list_set(0, &k, &info, index, &v).expect("lset");
                let len = list.len() as i64;
                let i = if index < 0 { len + index } else { index };
                if (0..len).contains(&i) {
                    list[i as usize] = v.clone();
                }
            }
            format!("LSET {k:?} {index} {v:?}")
        }
        67..=73 => {
            let list = m.entry(k.clone()).or_default();
            let (count, v) = (rng.gen_range(-2..3i64), value(rng));
            if let Some(info) = info {
                s.list_rem(0, &k, &info, count, &v).expect("lrem");
                let mut left = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let idx: Vec<usize> = if count >= 0 {
                    (0..list.len()).collect()
                } else {
                    (0..list.len()).rev().collect()
                };
                let mut drop = Vec::new();
                for i in idx {
                    if left > 0 && list[i] == v {
                        drop.push(i);
                        left -= 1;
                    }
                }
                drop.sort_unstable();
                for i in drop.into_iter().rev() {
                    list.remove(i);
                }
            }
            format!("LREM {k:?} {count} {v:?}")
        }
        74..=79 => {
            let list = m.entry(k.clone()).or_default();
            let (start, stop) = (rng.gen_range(-5..5i64), rng.gen_range(-5..5i64));
            if let Some(info) = info {
                s.list_trim(0, &k, &info, start, stop).expect("ltrim");
                let len = list.len() as i64;
                let a = if start < 0 {
                    (len + start).max(0)
                } else {
                    start
                };
                let b = if stop < 0 {
                    len + stop
                } else {
                    stop.min(len - 1)
                };
                if a > b || a >= len {
                    list.clear();
                } else {
                    *list = list.range(a as usize..=b as usize).cloned().collect();
                }
            }
            format!("LTRIM {k:?} {start} {stop}")
        }
        80..=87 => {
            let (from, to) = (end(rng), end(rng));
            let got = s.list_move(0, &k, &other, from, to).expect("lmove");
            let want = pop(m.entry(k.clone()).or_default(), from);
            if let Some(v) = &want {
                push(m.entry(other.clone()).or_default(), to, v.clone());
            }
            assert_eq!(got, want, "LMOVE {k:?} {other:?} {from:?} {to:?}");
            format!("LMOVE {k:?} {other:?} {from:?} {to:?}")
        }
        88..=90 => {
            let list = m.entry(k.clone()).or_default();
            s.delete(0, &k).expect("del");
            list.clear();
            format!("DEL {k:?}")
        }
        91..=93 => {
            let r = s.rename(0, &k, &other, false).expect("rename");
            if r == Some(true) && k != other {
                let moved = m.remove(&k).unwrap_or_default();
                m.insert(other.clone(), moved);
            }
            format!("RENAME {k:?} {other:?} -> {r:?}")
        }
        94..=96 => {
            // COPY of a key onto itself is refused by the command layer.
            let r = k != other && s.copy_key(0, &k, 0, &other, true).expect("copy");
            if r {
                let copy = m.get(&k).cloned().unwrap_or_default();
                m.insert(other.clone(), copy);
            }
            format!("COPY {k:?} {other:?} -> {r:?}")
        }
        97..=98 => {
            s.commit().expect("commit");
            s.begin().expect("begin");
            *saved = m.clone();
            "COMMIT".into()
        }
        _ => {
            s.rollback_uncommitted().expect("rollback");
            s.begin().expect("begin");
            *m = saved.clone();
            "ROLLBACK".into()
        }
    };
    what
}

#[test]
fn lists_read_as_the_model_after_every_command() {
    for seed in 1..=4u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open(dir.path().join("d.db"), &StoreOptions::default()).expect("open");
        s.begin().expect("begin");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut m, mut saved) = (Model::new(), Model::new());
        let mut history = Vec::new();
        for n in 0..2500 {
            history.push(step(&mut s, &mut m, &mut saved, &mut rng));
            for i in 0..KEYS {
                let k = key(i);
                // LRANGE's read remembers the head (listheads.rs); the
                // next step's reads are answered from it unless a change
                // forgot it: all must match the model. The first two ranges
                // lie within the last step's head even when the step made
                // the list longer.
                let (got_first, got_middle, got) = match s.list_lookup(0, &k).expect("lookup") {
                    Some(info) => {
                        let owned = |v: Vec<bytes::Bytes>| -> Vec<Vec<u8>> {
                            v.iter().map(|e| e.to_vec()).collect()
                        };
                        let first = s.list_range(&info, 0, 0).expect("range");
                        let middle = owned(s.list_range_shared(&info, 1, 2).expect("range"));
                        let all = owned(s.list_range_shared(&info, 0, -1).expect("range"));
                        (first, middle, all)
                    }
                    None => (Vec::new(), Vec::new(), Vec::new()),
                };
                let want: Vec<Vec<u8>> = m
                    .get(&k)
                    .map(|l| l.iter().cloned().collect())
                    .unwrap_or_default();
                let want_middle: Vec<Vec<u8>> = want.iter().skip(1).take(2).cloned().collect();
                let want_first: Vec<Vec<u8>> = want.iter().take(1).cloned().collect();
                if got != want || got_middle != want_middle || got_first != want_first {
                    let recent = &history[history.len().saturating_sub(8)..];
                    panic!(
                        "seed {seed}, step {n}, {k:?}: store {got:?} (1..=2 {got_middle:?}, 0 {got_first:?})\n  model {want:?}\nlast steps: {recent:#?}"
                    );
                }
            }
        }
    }
}
