//! Held key rows (`heldrows.rs`) never show: a random sequence of
//! collection commands on a few hot keys of each type (adds and removes
//! that change lengths, DEL, EXPIRE, RENAME, MOVE, FLUSHDB, SWAPDB), mixed
//! with reads that go to SQL (KEYS, SCAN, RANDOMKEY, WATCH's versions),
//! commits, rollbacks and crashes, runs on a store and on a model. After
//! every step every key's type and length read the same on both; WATCH
//! versions change exactly when their key did; and at every commit another
//! connection reading the file finds each key row's length equal to the
//! model's and to the number of element rows it owns.

use ferry_store::lists::ListEnd;
use ferry_store::{KeyType, Store, StoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const DBS: usize = 2;
const KINDS: [KeyType; 4] = [KeyType::List, KeyType::Set, KeyType::Hash, KeyType::ZSet];
const PER_KIND: usize = 2;

/// A collection as far as its length goes: lists count elements, the
/// others hold distinct members.
#[derive(Clone, Debug, PartialEq)]
struct Val {
    kind: KeyType,
    members: BTreeSet<Vec<u8>>,
    list_len: i64,
}

impl Val {
    fn len(&self) -> i64 {
        if self.kind == KeyType::List {
            self.list_len
        } else {
            self.members.len() as i64
        }
    }
}

type Model = BTreeMap<(usize, Vec<u8>), Val>;

fn key(kind: KeyType, i: usize) -> Vec<u8> {
    format!("{}:{i}", kind.name()).into_bytes()
}

fn show(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

fn member(rng: &mut StdRng) -> Vec<u8> {
    format!("m{}", rng.gen_range(0..6)).into_bytes()
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

/// Drops empty collections (a store deletes a key whose last element goes).
fn tidy(m: &mut Model) {
    m.retain(|_, v| v.len() > 0);
}

/// What one step did: a description, and which keys it may have changed
/// (None: possibly all of them).
struct Done {
    what: String,
    touched: Option<Vec<(usize, Vec<u8>)>>,
}

fn done(what: String, touched: &[(usize, &Vec<u8>)]) -> Done {
    Done {
        what,
        touched: Some(touched.iter().map(|(d, k)| (*d, (*k).clone())).collect()),
    }
}

/// Adds one to three elements to `k`, on the store and the model.
fn add(s: &mut Store, m: &mut Model, db: usize, kind: KeyType, k: &[u8], rng: &mut StdRng) {
    let v = m.entry((db, k.to_vec())).or_insert_with(|| Val {
        kind,
        members: BTreeSet::new(),
        list_len: 0,
    });
    let items: Vec<Vec<u8>> = (0..rng.gen_range(1..4)).map(|_| member(rng)).collect();
    let refs: Vec<&[u8]> = items.iter().map(|i| i.as_slice()).collect();
    match kind {
        KeyType::List => {
            let end = if rng.gen_bool(0.5) {
                ListEnd::Head
            } else {
                ListEnd::Tail
            };
            s.list_push(db, k, end, &items, false).expect("push");
            v.list_len += items.len() as i64;
        }
        KeyType::Set => {
            s.set_add_members(db, k, &refs).expect("sadd");
            v.members.extend(items);
        }
        KeyType::Hash => {
            let pairs: Vec<(&[u8], &[u8])> = refs.iter().map(|f| (*f, &b"x"[..])).collect();
            s.hash_set(db, k, &pairs, false).expect("hset");
            v.members.extend(items);
        }
        _ => {
            // ZADD as the command layer does it.
            let mut info = s.lookup_or_create(db, k, KeyType::ZSet).expect("zset");
            for i in &items {
                let new = s.zset_score(info.id, i).expect("score").is_none();
                s.zset_put(info.id, i, 1.0).expect("zput");
                if new {
                    let len = info.len + 1;
                    info = s
                        .set_collection_len(db, k, &info, len)
                        .expect("len")
                        .expect("live");
                }
                v.members.insert(i.clone());
            }
        }
    }
}

/// Removes up to two elements from `k`, on the store and the model.
fn remove(s: &mut Store, m: &mut Model, db: usize, kind: KeyType, k: &[u8], rng: &mut StdRng) {
    let Some(v) = m.get_mut(&(db, k.to_vec())) else {
        return;
    };
    let items: Vec<Vec<u8>> = (0..rng.gen_range(1..3)).map(|_| member(rng)).collect();
    let refs: Vec<&[u8]> = items.iter().map(|i| i.as_slice()).collect();
    match kind {
        KeyType::List => {
            let info = s.list_lookup(db, k).expect("lookup").expect("live");
            let end = if rng.gen_bool(0.5) {
                ListEnd::Head
            } else {
                ListEnd::Tail
            };
            let got = s
                .list_pop(db, k, &info, end, items.len() as i64)
                .expect("pop");
            v.list_len -= got.len() as i64;
        }
        KeyType::Set => {
            s.set_rem_members(db, k, &refs).expect("srem");
            for i in &items {
                v.members.remove(i);
            }
        }
        KeyType::Hash => {
            s.hash_del(db, k, &refs).expect("hdel");
            for i in &items {
                v.members.remove(i);
            }
        }
        _ => {
            // ZREM as the command layer does it.
            let mut info = s.lookup(db, k).expect("lookup").expect("live");
            for i in &items {
                if s.zset_score(info.id, i).expect("score").is_some() {
                    s.elem_del(KeyType::ZSet, info.id, i).expect("zrem");
                    v.members.remove(i);
                    let len = info.len - 1;
                    match s.set_collection_len(db, k, &info, len).expect("len") {
                        Some(next) => info = next,
                        None => break,
                    }
                }
            }
        }
    }
}

/// One random step on both. `journal`: crashes replay the journal (and no
/// rollbacks, whose changes a journal would replay); without it a crash
/// loses what was not committed, as a rollback does.
fn step(
    s: &mut Store,
    m: &mut Model,
    saved: &mut Model,
    rng: &mut StdRng,
    path: &std::path::Path,
    journal: bool,
    cache_mb: u32,
) -> Done {
    let db = rng.gen_range(0..DBS);
    let kind = KINDS[rng.gen_range(0..KINDS.len())];
    let k = key(kind, rng.gen_range(0..PER_KIND));
    let other = key(kind, rng.gen_range(0..PER_KIND));
    let (ks, os) = (show(&k), show(&other));
    let d = match rng.gen_range(0..100) {
        0..=34 => {
            add(s, m, db, kind, &k, rng);
            done(format!("ADD {db} {ks}"), &[(db, &k)])
        }
        35..=54 => {
            remove(s, m, db, kind, &k, rng);
            done(format!("REMOVE {db} {ks}"), &[(db, &k)])
        }
        55..=58 => {
            s.delete(db, &k).expect("del");
            m.remove(&(db, k.clone()));
            done(format!("DEL {db} {ks}"), &[(db, &k)])
        }
        59..=62 => {
            let at = [None, Some(s.now() + 1_000_000_000)][rng.gen_range(0..2)];
            s.set_expire(db, &k, at).expect("expire");
            done(format!("EXPIRE {db} {ks} {at:?}"), &[(db, &k)])
        }
        63..=66 => {
            let r = s.rename(db, &k, &other, false).expect("rename");
            if r == Some(true) && k != other {
                if let Some(v) = m.remove(&(db, k.clone())) {
                    m.insert((db, other.clone()), v);
                }
            }
            done(format!("RENAME {db} {ks} {os}"), &[(db, &k), (db, &other)])
        }
        67..=69 => {
            let to = (db + 1) % DBS;
            if s.move_key(db, &k, to).expect("move") {
                let v = m.remove(&(db, k.clone())).expect("moved a model key");
                m.insert((to, k.clone()), v);
            }
            done(format!("MOVE {db} {ks}"), &[(db, &k), (to, &k)])
        }
        70 => {
            s.flush_db(db).expect("flushdb");
            m.retain(|(d, _), _| *d != db);
            Done {
                what: format!("FLUSHDB {db}"),
                touched: None,
            }
        }
        71 => {
            s.swap_db(0, 1).expect("swapdb");
            *m = m
                .iter()
                .map(|((d, k), v)| ((1 - d, k.clone()), v.clone()))
                .collect();
            Done {
                what: "SWAPDB".into(),
                touched: None,
            }
        }
        72..=81 => {
            // Reads that go to the `keys` table.
            let mut names = s.keys_matching(db, b"*").expect("keys");
            names.sort();
            let want: Vec<Vec<u8>> = m
                .keys()
                .filter(|(d, _)| *d == db)
                .map(|(_, k)| k.clone())
                .collect();
            assert_eq!(names, want, "KEYS * in db {db}");
            let page = s.scan(db, 0, 1000, None, Some(kind)).expect("scan");
            assert_eq!(page.cursor, 0);
            let mut names = page.keys;
            names.sort();
            let want: Vec<Vec<u8>> = m
                .iter()
                .filter(|((d, _), v)| *d == db && v.kind == kind)
                .map(|((_, k), _)| k.clone())
                .collect();
            assert_eq!(names, want, "SCAN TYPE {} in db {db}", kind.name());
            let random = s.random_key(db).expect("randomkey");
            assert_eq!(
                random.is_some(),
                m.keys().any(|(d, _)| *d == db),
                "RANDOMKEY in db {db}"
            );
            done(format!("READS {db}"), &[])
        }
        82..=87 => {
            s.commit().expect("commit");
            check_file(path, m);
            s.begin().expect("begin");
            *saved = m.clone();
            done("COMMIT".into(), &[])
        }
        88..=91 if !journal => {
            s.rollback_uncommitted().expect("rollback");
            s.begin().expect("begin");
            *m = saved.clone();
            Done {
                what: "ROLLBACK".into(),
                touched: None,
            }
        }
        92..=94 => {
            // A crash: the store goes without committing (with the
            // journal, after its group was made durable).
            if journal {
                s.flush_group().expect("flush group");
            }
            let replaced = std::mem::replace(s, open_spare(path));
            drop(replaced);
            *s = open(path, journal, cache_mb);
            if !journal {
                *m = saved.clone();
            }
            // Reopening commits what the journal replayed.
            check_file(path, m);
            *saved = m.clone();
            Done {
                what: "CRASH".into(),
                touched: None,
            }
        }
        _ => {
            add(s, m, db, kind, &k, rng);
            done(format!("ADD {db} {ks}"), &[(db, &k)])
        }
    };
    if journal {
        s.flush_group().expect("flush group");
    }
    tidy(m);
    d
}

/// A store on a file of its own, to stand in while the real one reopens.
fn open_spare(path: &std::path::Path) -> Store {
    let spare = path.with_extension("spare");
    Store::open(spare, &StoreOptions::default()).expect("open spare")
}

/// Every key as the store sees it, against the model.
fn compare(s: &mut Store, m: &Model, history: &[String]) {
    for db in 0..DBS {
        for kind in KINDS {
            for i in 0..PER_KIND {
                let k = key(kind, i);
                let got = s
                    .lookup(db, &k)
                    .expect("lookup")
                    .map(|info| (info.ktype, info.len));
                let want = m.get(&(db, k.clone())).map(|v| (v.kind, v.len()));
                if got != want {
                    let recent = &history[history.len().saturating_sub(10)..];
                    panic!(
                        "db {db} {}: store {got:?}, model {want:?}\nlast steps: {recent:#?}",
                        show(&k)
                    );
                }
            }
        }
    }
}

/// The committed file, read by another connection: each key row's length
/// is the model's and the number of element rows the key owns.
fn check_file(path: &std::path::Path, m: &Model) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the file");
    let mut stmt = conn
        .prepare(
            "SELECT k.key, k.len,
                    (SELECT count(*) FROM lists WHERE key_id = k.id)
                  + (SELECT count(*) FROM sets WHERE key_id = k.id)
                  + (SELECT count(*) FROM hashes WHERE key_id = k.id)
                  + (SELECT count(*) FROM zsets WHERE key_id = k.id)
             FROM keys k",
        )
        .expect("prepare");
    let mut rows: Vec<(Vec<u8>, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.sort();
    for (k, len, elements) in &rows {
        assert_eq!(
            len,
            elements,
            "{}: the row says {len}, the key owns {elements} elements",
            show(k)
        );
    }
    // Databases are left out: SWAPDB renumbers the file's slots.
    let mut want: Vec<(Vec<u8>, i64, i64)> = m
        .iter()
        .map(|((_, k), v)| (k.clone(), v.len(), v.len()))
        .collect();
    want.sort();
    assert_eq!(rows, want, "the committed keys table");
}

fn run(seed: u64, journal: bool, cache_mb: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut s = open(&path, journal, cache_mb);
    let (mut m, mut saved) = (Model::new(), Model::new());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut history = Vec::new();
    let mut versions_checked = 0;
    for _ in 0..4000 {
        // Now and then WATCH a key across the step.
        let watched = if rng.gen_bool(0.5) {
            let db = rng.gen_range(0..DBS);
            let k = key(
                KINDS[rng.gen_range(0..KINDS.len())],
                rng.gen_range(0..PER_KIND),
            );
            let before = s.key_version(db, &k).expect("version");
            let was = m.get(&(db, k.clone())).cloned();
            Some((db, k, before, was))
        } else {
            None
        };
        let d = step(
            &mut s, &mut m, &mut saved, &mut rng, &path, journal, cache_mb,
        );
        history.push(d.what.clone());
        compare(&mut s, &m, &history);
        if let Some((db, k, before, was)) = watched {
            let after = s.key_version(db, &k).expect("version");
            let now = m.get(&(db, k.clone())).cloned();
            let untouched = d
                .touched
                .as_ref()
                .is_some_and(|t| !t.contains(&(db, k.clone())));
            if untouched {
                assert_eq!(
                    before,
                    after,
                    "{}: {db} {} was not touched",
                    d.what,
                    show(&k)
                );
            } else if was != now {
                assert_ne!(
                    before,
                    after,
                    "{}: {db} {} changed, its version did not",
                    d.what,
                    show(&k)
                );
                versions_checked += 1;
            }
        }
    }
    s.commit().expect("commit");
    check_file(&path, &m);
    assert!(
        versions_checked > 40,
        "seed {seed}: only {versions_checked} version changes checked"
    );
}

#[test]
fn held_rows_never_show_with_a_journal() {
    for seed in [1, 2] {
        run(seed, true, 16);
    }
}

#[test]
fn held_rows_never_show_without_a_journal_or_a_key_cache() {
    run(3, false, 16);
    run(4, false, 0);
}

/// A store used without `begin` commits every statement on its own, so
/// nothing is held: each collection's length is in the file (seen by
/// another connection) as soon as its command returns.
#[test]
fn without_a_transaction_lengths_are_in_the_file_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut s = Store::open(&path, &StoreOptions::default()).expect("open");
    let mut m = Model::new();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..40 {
        let kind = KINDS[round % KINDS.len()];
        let k = key(kind, round % PER_KIND);
        if round % 3 == 2 {
            remove(&mut s, &mut m, 0, kind, &k, &mut rng);
        } else {
            add(&mut s, &mut m, 0, kind, &k, &mut rng);
        }
        tidy(&mut m);
        check_file(&path, &m);
    }
}
