//! Pops served from rows read ahead, with their deletes held until SQL
//! next reads the lists table (`listpops.rs`), never show: a random,
//! pop-heavy sequence of list commands on a few keys (pops of 1 to 100
//! elements at both ends, pushes, bulk pushes, LMOVE and rotations, LSET,
//! LINSERT, LREM, LTRIM, LINDEX, DEL, RENAME, COPY, big elements), with
//! commits, rollbacks and crashes, runs on a store and on a model. Reads
//! that go to SQL come only now and then, so many pops are held between
//! them. Every list's length matches after every step, its elements
//! whenever it is read, and at every commit and reopen another connection
//! reading the file finds exactly the model's elements in order.

mod common;

use common::{end, pop, push};
use ferry_store::lists::ListEnd;
use ferry_store::{Store, StoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, VecDeque};

const KEYS: usize = 3;

type Model = HashMap<Vec<u8>, VecDeque<Vec<u8>>>;

fn key(i: usize) -> Vec<u8> {
    format!("q:{i}").into_bytes()
}

/// Half from a small alphabet (so LINSERT pivots and LREM find matches),
/// half unique (so an element out of order shows); now and then one
/// bigger than a read ahead's byte bound.
fn value(rng: &mut StdRng, n: &mut u64) -> Vec<u8> {
    *n += 1;
    match rng.gen_range(0..100) {
        0..=1 => vec![b'B'; 20_000 + *n as usize % 7],
        2..=50 => format!("v{}", rng.gen_range(0..5)).into_bytes(),
        _ => format!("u{n}").into_bytes(),
    }
}

fn open(path: &std::path::Path, journal: bool, key_cache_mb: u32) -> Store {
    let opts = StoreOptions {
        journal,
        key_cache_mb,
        ..StoreOptions::default()
    };
    let mut s = Store::open(path, &opts).expect("open");
    s.begin().expect("begin");
    s
}

/// A store on a file of its own, to stand in while the real one reopens.
fn open_spare(path: &std::path::Path) -> Store {
    Store::open(path.with_extension("spare"), &StoreOptions::default()).expect("open spare")
}

fn show(v: &[Vec<u8>]) -> Vec<String> {
    v.iter()
        .map(|e| {
            if e.len() > 40 {
                format!("<{} bytes>", e.len())
            } else {
                String::from_utf8_lossy(e).into_owned()
            }
        })
        .collect()
}

/// The committed file, read by another connection: each list's elements
/// in position order, and each key row's length.
fn check_file(path: &std::path::Path, m: &Model, history: &[String]) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the file");
    let mut file: BTreeMap<Vec<u8>, (i64, Vec<Vec<u8>>)> = BTreeMap::new();
    let mut keys = conn.prepare("SELECT key, len FROM keys").expect("prepare");
    for row in keys
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
        .expect("keys")
    {
        let (k, len) = row.expect("key row");
        file.insert(k, (len, Vec::new()));
    }
    let mut elements = conn
        .prepare("SELECT k.key, l.value FROM keys k JOIN lists l ON l.key_id = k.id ORDER BY k.key, l.pos")
        .expect("prepare");
    for row in elements
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .expect("elements")
    {
        let (k, v) = row.expect("element row");
        file.entry(k).or_default().1.push(v);
    }
    let want: BTreeMap<Vec<u8>, (i64, Vec<Vec<u8>>)> = m
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(k, l)| (k.clone(), (l.len() as i64, l.iter().cloned().collect())))
        .collect();
    if file != want {
        let recent = &history[history.len().saturating_sub(12)..];
        let f: Vec<_> = file
            .iter()
            .map(|(k, (n, v))| (String::from_utf8_lossy(k), n, show(v)))
            .collect();
        let w: Vec<_> = want
            .iter()
            .map(|(k, (n, v))| (String::from_utf8_lossy(k), n, show(v)))
            .collect();
        panic!("the committed file\n  file  {f:?}\n  model {w:?}\nlast steps: {recent:#?}");
    }
}

/// `k`'s elements read through the store (SQL, or a remembered head).
fn compare_one(s: &mut Store, m: &Model, k: &[u8], history: &[String]) {
    let got = match s.list_lookup(0, k).expect("lookup") {
        Some(info) => s.list_range(&info, 0, -1).expect("range"),
        None => Vec::new(),
    };
    let want: Vec<Vec<u8>> = m
        .get(k)
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default();
    if got != want {
        let recent = &history[history.len().saturating_sub(12)..];
        panic!(
            "{}: store {:?}\n  model {:?}\nlast steps: {recent:#?}",
            String::from_utf8_lossy(k),
            show(&got),
            show(&want)
        );
    }
}

struct Run {
    s: Store,
    m: Model,
    saved: Model,
    rng: StdRng,
    n: u64,
    history: Vec<String>,
    path: std::path::PathBuf,
    journal: bool,
    cache_mb: u32,
    pops: usize,
}

impl Run {
    fn step(&mut self) {
        let rng = &mut self.rng;
        let (s, m) = (&mut self.s, &mut self.m);
        let k = key(rng.gen_range(0..KEYS));
        let other = key(rng.gen_range(0..KEYS));
        let info = s.list_lookup(0, &k).expect("lookup");
        let list = m.entry(k.clone()).or_default();
        let what = match rng.gen_range(0..100) {
            0..=34 => {
                let at = end(rng);
                let count = match rng.gen_range(0..10) {
                    0 => rng.gen_range(10..100),
                    1..=2 => rng.gen_range(2..5),
                    _ => 1,
                };
                if let Some(info) = info {
                    let got = s.list_pop(0, &k, &info, at, count).expect("pop");
                    let want: Vec<Vec<u8>> = (0..count).filter_map(|_| pop(list, at)).collect();
                    assert_eq!(show(&got), show(&want), "POP {at:?} {k:?} {count}");
                    self.pops += got.len();
                }
                format!("POP {at:?} {} {count}", String::from_utf8_lossy(&k))
            }
            35..=54 => {
                let at = end(rng);
                let many = if rng.gen_range(0..8) == 0 {
                    rng.gen_range(20..150)
                } else {
                    rng.gen_range(1..4)
                };
                let values: Vec<Vec<u8>> = (0..many).map(|_| value(rng, &mut self.n)).collect();
                s.list_push(0, &k, at, &values, false).expect("push");
                for v in &values {
                    push(list, at, v.clone());
                }
                format!("PUSH {at:?} {} x{many}", String::from_utf8_lossy(&k))
            }
            55..=62 => {
                let (from, to) = (end(rng), end(rng));
                let got = s.list_move(0, &k, &other, from, to).expect("lmove");
                let want = pop(list, from);
                if let Some(v) = &want {
                    push(m.entry(other.clone()).or_default(), to, v.clone());
                }
                assert_eq!(got, want, "LMOVE {k:?} {other:?} {from:?} {to:?}");
                format!(
                    "LMOVE {} {} {from:?} {to:?}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&other)
                )
            }
            63..=65 => {
                let (index, v) = (rng.gen_range(-3..4i64), value(rng, &mut self.n));
                if let Some(info) = info {
                    s.list_set(0, &k, &info, index, &v).expect("lset");
                    let len = list.len() as i64;
                    let i = if index < 0 { len + index } else { index };
                    if (0..len).contains(&i) {
                        list[i as usize] = v.clone();
                    }
                }
                format!("LSET {} {index}", String::from_utf8_lossy(&k))
            }
            66..=67 => {
                let (after, pivot, v) = (
                    rng.gen_bool(0.5),
                    format!("v{}", rng.gen_range(0..5)).into_bytes(),
                    value(rng, &mut self.n),
                );
                if let Some(info) = info {
                    s.list_insert(0, &k, &info, after, &pivot, &v)
                        .expect("insert");
                    if let Some(i) = list.iter().position(|x| *x == pivot) {
                        list.insert(if after { i + 1 } else { i }, v.clone());
                    }
                }
                format!("LINSERT {} after={after}", String::from_utf8_lossy(&k))
            }
            68 => {
                let v = format!("v{}", rng.gen_range(0..5)).into_bytes();
                if let Some(info) = info {
                    s.list_rem(0, &k, &info, 0, &v).expect("lrem");
                    list.retain(|x| *x != v);
                }
                format!("LREM {} 0", String::from_utf8_lossy(&k))
            }
            69 => {
                let start = rng.gen_range(0..3i64);
                if let Some(info) = info {
                    s.list_trim(0, &k, &info, start, -1).expect("ltrim");
                    for _ in 0..start {
                        list.pop_front();
                    }
                }
                format!("LTRIM {} {start} -1", String::from_utf8_lossy(&k))
            }
            70..=74 => {
                let index = rng.gen_range(-3..3i64);
                if let Some(info) = info {
                    let got = s.list_index(&info, index).expect("lindex");
                    let len = list.len() as i64;
                    let i = if index < 0 { len + index } else { index };
                    let want = usize::try_from(i).ok().and_then(|i| list.get(i)).cloned();
                    assert_eq!(got, want, "LINDEX {k:?} {index}");
                }
                format!("LINDEX {} {index}", String::from_utf8_lossy(&k))
            }
            75 => {
                s.delete(0, &k).expect("del");
                list.clear();
                format!("DEL {}", String::from_utf8_lossy(&k))
            }
            76 => {
                let r = s.rename(0, &k, &other, false).expect("rename");
                if r == Some(true) && k != other {
                    let moved = m.remove(&k).unwrap_or_default();
                    m.insert(other.clone(), moved);
                }
                format!(
                    "RENAME {} {}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&other)
                )
            }
            77 => {
                let r = k != other && s.copy_key(0, &k, 0, &other, true).expect("copy");
                if r {
                    let copy = list.clone();
                    m.insert(other.clone(), copy);
                }
                format!(
                    "COPY {} {}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&other)
                )
            }
            78..=80 => {
                s.commit().expect("commit");
                m.retain(|_, l| !l.is_empty());
                check_file(&self.path, m, &self.history);
                s.begin().expect("begin");
                self.saved = m.clone();
                "COMMIT".into()
            }
            81..=82 if !self.journal => {
                s.rollback_uncommitted().expect("rollback");
                s.begin().expect("begin");
                *m = self.saved.clone();
                "ROLLBACK".into()
            }
            83..=84 => {
                // A crash: the store goes without committing (with the
                // journal, after its group was made durable).
                if self.journal {
                    s.flush_group().expect("flush group");
                }
                let replaced = std::mem::replace(s, open_spare(&self.path));
                drop(replaced);
                *s = open(&self.path, self.journal, self.cache_mb);
                if !self.journal {
                    *m = self.saved.clone();
                }
                m.retain(|_, l| !l.is_empty());
                check_file(&self.path, m, &self.history);
                self.saved = m.clone();
                "CRASH".into()
            }
            _ => {
                // A read that goes to SQL now and then.
                compare_one(s, m, &k, &self.history);
                format!("LRANGE {}", String::from_utf8_lossy(&k))
            }
        };
        if self.journal {
            self.s.flush_group().expect("flush group");
        }
        self.history.push(what);
        // Lengths come from key rows (no SQL on lists): every step.
        for i in 0..KEYS {
            let k = key(i);
            let got = self
                .s
                .list_lookup(0, &k)
                .expect("lookup")
                .map_or(0, |i| i.len);
            let want = self.m.get(&k).map_or(0, |l| l.len() as i64);
            assert_eq!(got, want, "LLEN {k:?} after {:?}", self.history.last());
        }
    }
}

fn run(seed: u64, journal: bool, cache_mb: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut r = Run {
        s: open(&path, journal, cache_mb),
        m: Model::new(),
        saved: Model::new(),
        rng: StdRng::seed_from_u64(seed),
        n: 0,
        history: Vec::new(),
        path,
        journal,
        cache_mb,
        pops: 0,
    };
    for _ in 0..3000 {
        r.step();
    }
    r.s.commit().expect("commit");
    r.m.retain(|_, l| !l.is_empty());
    check_file(&r.path, &r.m, &r.history);
    for i in 0..KEYS {
        compare_one(&mut r.s, &r.m, &key(i), &r.history);
    }
    assert!(
        r.pops > 3000,
        "seed {seed}: only {} elements popped",
        r.pops
    );
}

#[test]
fn held_pops_never_show_with_a_journal() {
    for seed in [11, 12] {
        run(seed, true, 16);
    }
}

#[test]
fn held_pops_never_show_without_a_journal() {
    run(13, false, 16);
    // A budget of 128 KiB for rows ahead: big elements push others out.
    run(14, false, 1);
    // No rows read ahead: each pop reads what it takes.
    run(15, false, 0);
}

/// A store used without `begin` commits every statement on its own:
/// nothing is held, each pop's rows are gone from the file at once.
#[test]
fn without_a_transaction_pops_are_in_the_file_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut s = Store::open(&path, &StoreOptions::default()).expect("open");
    let values: Vec<Vec<u8>> = (0..200).map(|i| format!("e{i}").into_bytes()).collect();
    s.list_push(0, b"q", ListEnd::Tail, &values, false)
        .expect("push");
    let mut m: Model = HashMap::new();
    m.insert(b"q".to_vec(), values.iter().cloned().collect());
    for i in 0..150 {
        let at = if i % 3 == 0 {
            ListEnd::Tail
        } else {
            ListEnd::Head
        };
        let info = s.list_lookup(0, b"q").expect("lookup").expect("a list");
        let got = s.list_pop(0, b"q", &info, at, 1).expect("pop");
        let want = pop(m.get_mut(&b"q"[..]).expect("model"), at);
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        check_file(&path, &m, &[format!("pop {i}")]);
    }
}
