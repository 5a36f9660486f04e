//! Recovery through the redo journal: what was flushed to the journal (and
//! so acknowledged) survives a crash before SQLite committed it.

use ferry_store::{Durability, KeyType, Store, StoreOptions, Ttl};
use std::path::Path;

mod kill9;
use kill9::crash;

fn opts() -> StoreOptions {
    StoreOptions {
        durability: Durability::Always,
        journal: true,
        // Never commit on a timer during these tests.
        commit_interval: std::time::Duration::from_secs(3600),
        ..StoreOptions::default()
    }
}

fn open(path: &Path) -> Store {
    Store::open(path, &opts()).expect("open store")
}

/// Every live key: database, name, string value, expiry.
type Snapshot = Vec<(usize, Vec<u8>, Option<Vec<u8>>, Option<i64>)>;

fn snapshot(store: &mut Store) -> Snapshot {
    let mut out = Vec::new();
    for db in 0..ferry_store::DATABASES {
        let mut keys = store.keys_matching(db, b"*").expect("keys");
        keys.sort();
        for k in keys {
            let (info, value) = store
                .lookup_with_value(db, &k)
                .expect("lookup")
                .expect("listed key exists");
            out.push((db, k, value, info.expire_at));
        }
    }
    out
}

#[test]
fn flushed_changes_survive_a_crash_before_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let far = ferry_store::unix_ms() + 3_600_000;
    let mut s = open(&path);
    s.begin().expect("begin");
    s.put_string(0, b"a", b"1", Ttl::Clear, None)
        .expect("put a");
    s.put_string(0, b"b", b"2", Ttl::At(far), None)
        .expect("put b");
    s.put_string(3, b"c", b"3", Ttl::Clear, None)
        .expect("put c");
    s.flush_group().expect("flush");
    // Changes after the last flush were never acknowledged.
    s.put_string(0, b"lost", b"x", Ttl::Clear, None)
        .expect("put lost");
    let path = crash(s, &dir);

    let mut s = open(&path);
    s.begin().expect("begin");
    assert_eq!(s.get_string(0, b"a").expect("get"), Some(b"1".to_vec()));
    assert_eq!(s.get_string(3, b"c").expect("get"), Some(b"3".to_vec()));
    let b = s.lookup(0, b"b").expect("lookup").expect("b exists");
    assert_eq!(b.expire_at, Some(far));
    assert_eq!(s.get_string(0, b"lost").expect("get"), None);
    assert_eq!(s.dbsize(0), 2);
    assert_eq!(s.expires_count(0), 1);
    assert_eq!(s.dbsize(3), 1);
}

#[test]
fn replay_reproduces_every_kind_of_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let far = ferry_store::unix_ms() + 3_600_000;
    let mut s = open(&path);
    s.begin().expect("begin");
    // Some state committed to SQLite first.
    for i in 0..50u32 {
        let k = format!("k{i}");
        s.put_string(0, k.as_bytes(), &i.to_le_bytes(), Ttl::Clear, None)
            .expect("put");
    }
    s.commit().expect("commit");
    s.begin().expect("begin");
    // Then one change of every kind, only journaled.
    let existing = s.lookup(0, b"k1").expect("lookup");
    s.put_string(0, b"k1", b"updated", Ttl::At(far), existing)
        .expect("update");
    s.delete(0, b"k2").expect("delete");
    s.set_expire(0, b"k3", Some(far)).expect("expire");
    s.rename(0, b"k4", b"renamed", false).expect("rename");
    s.move_key(0, b"k5", 7).expect("move");
    s.copy_key(0, b"k6", 8, b"copied", false).expect("copy");
    s.swap_db(7, 9).expect("swapdb");
    s.put_string(1, b"x", b"y", Ttl::Clear, None).expect("put");
    s.flush_db(1).expect("flushdb");
    s.flush_group().expect("flush");
    let before = snapshot(&mut s);
    let path = crash(s, &dir);

    let mut s = open(&path);
    s.begin().expect("begin");
    assert_eq!(snapshot(&mut s), before);
    assert_eq!(s.dbsize(9), 1, "moved key followed SWAPDB");
    assert_eq!(
        s.get_string(9, b"k5").expect("get"),
        Some(5u32.to_le_bytes().to_vec())
    );
    // New keys after recovery still get fresh ids (SCAN relies on it).
    s.put_string(0, b"new", b"v", Ttl::Clear, None)
        .expect("put");
    let new = s.lookup(0, b"new").expect("lookup").expect("exists");
    let renamed = s.lookup(0, b"renamed").expect("lookup").expect("exists");
    assert!(new.id > renamed.id);
    assert_eq!(new.ktype, KeyType::String);
}

#[test]
fn a_torn_tail_is_dropped_and_the_rest_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let mut s = open(&path);
    s.begin().expect("begin");
    s.put_string(0, b"kept", b"1", Ttl::Clear, None)
        .expect("put");
    s.flush_group().expect("flush");
    let path = crash(s, &dir);
    // A second record cut short, as a crash in the middle of a write leaves it.
    let mut journal = path.as_os_str().to_owned();
    journal.push("-ferrylog");
    let mut bytes = std::fs::read(&journal).expect("journal exists");
    let whole = bytes.clone();
    bytes.extend_from_slice(&whole[..whole.len() / 2]);
    std::fs::write(&journal, &bytes).expect("write journal");

    let mut s = open(&path);
    s.begin().expect("begin");
    assert_eq!(s.get_string(0, b"kept").expect("get"), Some(b"1".to_vec()));
    assert_eq!(s.dbsize(0), 1);
    // After recovery the journal is empty again: everything is in SQLite.
    assert_eq!(std::fs::metadata(&journal).expect("journal").len(), 0);
}

#[test]
fn a_clean_commit_empties_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let mut s = open(&path);
    s.begin().expect("begin");
    s.put_string(0, b"a", b"1", Ttl::Clear, None).expect("put");
    s.flush_group().expect("flush");
    let journal = s.journal_path().expect("journal on");
    assert!(std::fs::metadata(&journal).expect("journal").len() > 0);
    s.commit().expect("commit");
    assert_eq!(std::fs::metadata(&journal).expect("journal").len(), 0);
    drop(s);
    let mut s = open(&path);
    assert_eq!(s.get_string(0, b"a").expect("get"), Some(b"1".to_vec()));
}

#[test]
fn a_second_writer_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let _first = open(&path);
    let err = match Store::open(&path, &opts()) {
        Ok(_) => panic!("a second store opened the same file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("in use by another ferry process"), "{err}");
}
