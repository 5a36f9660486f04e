//! The key cache never answers differently from SQLite: the same random
//! sequence of changes (writes, deletes, expiries, renames, moves, copies,
//! type changes, FLUSHDB, SWAPDB, rollbacks, a small cache that keeps
//! replacing entries, a full one that makes room) runs on a store with the cache and on one without,
//! and after every step every key reads the same on both.

use ferry_store::{Store, StoreOptions, Ttl};
use rand::{Rng, SeedableRng};

const DBS: usize = 3;
const KEYS: usize = 40;

fn open(dir: &tempfile::TempDir, key_cache_mb: u32) -> Store {
    let opts = StoreOptions {
        key_cache_mb,
        ..StoreOptions::default()
    };
    let mut s = Store::open(dir.path().join("d.db"), &opts).expect("open");
    s.begin().expect("begin");
    s
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

/// Every key of every database, as a command sees it.
fn snapshot(s: &mut Store) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..DBS {
        for i in 0..KEYS {
            let row = s.lookup_with_value(db, &key(i)).expect("lookup");
            let info = s.lookup(db, &key(i)).expect("lookup");
            out.push(format!("{db}/{i}: {row:?} {info:?}"));
        }
    }
    out
}

/// One random change, the same on both stores.
fn step(s: &mut Store, rng: &mut rand::rngs::StdRng, now: i64) -> String {
    let db = rng.gen_range(0..DBS);
    let k = key(rng.gen_range(0..KEYS));
    let other = key(rng.gen_range(0..KEYS));
    match rng.gen_range(0..100) {
        0..=34 => {
            let value = vec![b'v'; [1, 10, 600][rng.gen_range(0..3)]];
            let ttl = match rng.gen_range(0..4) {
                0 => Ttl::At(now + rng.gen_range(1..50)),
                1 => Ttl::Keep,
                _ => Ttl::Clear,
            };
            let existing = s.lookup(db, &k).expect("lookup");
            s.put_string(db, &k, &value, ttl, existing).expect("put");
            format!("SET {db} {k:?} {} bytes {ttl:?}", value.len())
        }
        35..=44 => {
            s.delete(db, &k).expect("delete");
            format!("DEL {db} {k:?}")
        }
        45..=54 => {
            let at = [None, Some(now + 20), Some(now - 1)][rng.gen_range(0..3)];
            s.set_expire(db, &k, at).expect("expire");
            format!("EXPIRE {db} {k:?} {at:?}")
        }
        55..=62 => {
            let r = s.rename(db, &k, &other, rng.gen_bool(0.5));
            format!("RENAME {db} {k:?} {other:?} -> {}", r.is_ok())
        }
        63..=68 => {
            let to = (db + 1) % DBS;
            s.move_key(db, &k, to).expect("move");
            format!("MOVE {db} {k:?} {to}")
        }
        69..=74 => {
            let to = rng.gen_range(0..DBS);
            let r = s.copy_key(db, &k, to, &other, rng.gen_bool(0.5));
            format!("COPY {db} {k:?} {to} {other:?} -> {}", r.is_ok())
        }
        75..=84 => {
            let pairs: [(&[u8], &[u8]); 1] = [(b"f", b"x")];
            let r = s.hash_set(db, &k, &pairs, false);
            format!("HSET {db} {k:?} -> {}", r.is_ok())
        }
        85..=88 => {
            s.flush_db(db).expect("flushdb");
            format!("FLUSHDB {db}")
        }
        89..=92 => {
            let b = (db + 1) % DBS;
            s.swap_db(db, b).expect("swapdb");
            format!("SWAPDB {db} {b}")
        }
        _ => {
            s.rollback_uncommitted().expect("rollback");
            s.begin().expect("begin");
            "ROLLBACK".into()
        }
    }
}

#[test]
fn the_key_cache_answers_as_sqlite_does() {
    for (seed, cache_mb) in [(1u64, 16u32), (2, 1), (3, 16)] {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut cached = open(&da, cache_mb);
        let mut plain = open(&db, 0);
        if cache_mb == 1 {
            // Fill the 1 MiB budget with other keys first (written, then
            // read): the keys under test then enter only by taking out
            // others (the clock in keycache.rs).
            for s in [&mut cached, &mut plain] {
                for i in 0..4000 {
                    let k = format!("filler:{i}").into_bytes();
                    s.put_string(0, &k, &[b'f'; 300], Ttl::Clear, None)
                        .expect("put");
                    s.lookup_with_value(0, &k).expect("lookup");
                }
            }
            let (bytes, _, _) = cached.key_cache_stats();
            assert!(
                bytes > 1000 * 1024,
                "the filler left the cache at {bytes} bytes"
            );
            // A row read from SQLite now makes room: its next read hits.
            for s in [&mut cached, &mut plain] {
                s.put_string(0, b"probe", b"p", Ttl::Clear, None)
                    .expect("put");
                s.lookup(0, b"probe").expect("lookup");
            }
            let (_, hits, _) = cached.key_cache_stats();
            assert!(cached.lookup(0, b"probe").expect("lookup").is_some());
            let (_, hits_after, _) = cached.key_cache_stats();
            assert_eq!(
                hits_after,
                hits + 1,
                "a row read into a full cache was not kept"
            );
        }
        let mut rng_a = rand::rngs::StdRng::seed_from_u64(seed);
        let mut rng_b = rand::rngs::StdRng::seed_from_u64(seed);
        let mut now = 1_000_000;
        let mut history = Vec::new();
        for n in 0..3000 {
            now += 3;
            cached.set_now(now);
            plain.set_now(now);
            let what = step(&mut cached, &mut rng_a, now);
            step(&mut plain, &mut rng_b, now);
            history.push(what);
            if n % 500 == 499 {
                cached.commit().expect("commit");
                plain.commit().expect("commit");
                cached.begin().expect("begin");
                plain.begin().expect("begin");
            }
            let (a, b) = (snapshot(&mut cached), snapshot(&mut plain));
            if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                let recent = &history[history.len().saturating_sub(8)..];
                panic!(
                    "seed {seed}, step {n}: with the cache {}\n  without it {}\nlast steps: {recent:#?}",
                    a[i], b[i]
                );
            }
        }
        let (_, hits, _) = cached.key_cache_stats();
        assert!(hits > 0, "seed {seed}: the cache was never used");
    }
}
