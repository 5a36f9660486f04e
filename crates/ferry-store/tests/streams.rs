//! Streams in the store: the node model behind approximate trimming, and
//! journal replay of every stream change (a crash before SQLite committed
//! must rebuild entries, groups, consumers and pending entries exactly).

use ferry_store::streams::{
    Consumer, Group, NodeLimits, PelQuery, Pending, Stream, StreamId, Trim, TrimStrategy,
};
use ferry_store::{Durability, Store, StoreOptions};
use std::path::Path;

fn opts() -> StoreOptions {
    StoreOptions {
        durability: Durability::Always,
        journal: true,
        commit_interval: std::time::Duration::from_secs(3600),
        ..StoreOptions::default()
    }
}

fn open(path: &Path) -> Store {
    let mut s = Store::open(path, &opts()).expect("open store");
    s.begin().expect("begin");
    s
}

/// The files a `kill -9` leaves, copied while the store is still open.
fn crash(store: Store, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = store.path().to_path_buf();
    let after = dir.path().join("after-crash");
    std::fs::create_dir_all(&after).expect("mkdir");
    for suffix in ["", "-wal", "-ferrylog"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let from = std::path::PathBuf::from(from);
        if from.exists() {
            std::fs::copy(&from, after.join(format!("data.db{suffix}"))).expect("copy");
        }
    }
    std::mem::forget(store);
    after.join("data.db")
}

fn add(s: &mut Store, key: &[u8], id: StreamId, pairs: &[&str]) -> Stream {
    let mut st = match s.stream_lookup(0, key).expect("lookup") {
        Some(st) => st,
        None => s.stream_create(0, key).expect("create"),
    };
    s.stream_append(&mut st, id, pairs, NodeLimits::default())
        .expect("append");
    s.stream_save(0, key, &st).expect("save");
    st
}

/// Everything observable about a stream, as text.
fn dump(s: &mut Store, db: usize, key: &[u8]) -> String {
    let Some(st) = s.stream_lookup(db, key).expect("lookup") else {
        return "none".into();
    };
    let id = st.info.id;
    let entries = s
        .stream_range(id, StreamId::MIN, StreamId::MAX, None, false)
        .expect("range");
    let mut out = format!(
        "len={} last={} added={} maxdel={} first={} tree={:?}\n",
        st.len(),
        st.last,
        st.entries_added,
        st.max_deleted,
        s.stream_first_id(id).expect("first"),
        s.stream_tree_stats(id).expect("tree"),
    );
    for e in entries {
        out += &format!("  {} {:?}\n", e.id, e.fields);
    }
    for g in s.stream_groups(id).expect("groups") {
        out += &format!("  group {:?}\n", g);
        for c in s.stream_consumers(id, &g.name).expect("consumers") {
            out += &format!("    consumer {:?}\n", c);
        }
        for p in s
            .stream_pel_range(id, &g.name, &PelQuery::all(None))
            .expect("pel")
        {
            out += &format!("    pending {:?}\n", p);
        }
    }
    out
}

#[test]
fn approximate_trim_removes_whole_nodes_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&dir.path().join("data.db"));
    let mut st = s.stream_create(0, b"s").expect("create");
    for i in 1..=250u64 {
        s.stream_append(
            &mut st,
            StreamId::new(i, 0),
            &["f", "v"],
            NodeLimits::default(),
        )
        .expect("append");
    }
    assert_eq!(s.stream_tree_stats(st.info.id).expect("tree").0, 3);
    let approx = |n| Trim {
        strategy: TrimStrategy::MaxLen(n),
        approx: true,
        limit: 10_000,
    };
    // Nodes of 100, 100 and 50: keeping at least 120 removes one node.
    assert_eq!(s.stream_trim(&mut st, &approx(120)).expect("trim"), 100);
    assert_eq!(st.len(), 150);
    // Exact trimming cuts inside the first node; its deleted entries still
    // count towards the node's capacity.
    let exact = Trim {
        strategy: TrimStrategy::MaxLen(120),
        approx: false,
        limit: 0,
    };
    assert_eq!(s.stream_trim(&mut st, &exact).expect("trim"), 30);
    assert_eq!(st.len(), 120);
    assert_eq!(
        s.stream_first_id(st.info.id).expect("first"),
        StreamId::new(131, 0)
    );
    // MINID ~ removes the node whose last id is below the bound.
    let minid = Trim {
        strategy: TrimStrategy::MinId(StreamId::new(201, 0)),
        approx: true,
        limit: 10_000,
    };
    assert_eq!(s.stream_trim(&mut st, &minid).expect("trim"), 70);
    assert_eq!(st.len(), 50);
    // LIMIT stops before a node that would exceed it.
    let limited = Trim {
        strategy: TrimStrategy::MaxLen(0),
        approx: true,
        limit: 10,
    };
    assert_eq!(s.stream_trim(&mut st, &limited).expect("trim"), 0);
}

#[test]
fn xdel_frees_a_node_with_its_last_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&dir.path().join("data.db"));
    let mut st = s.stream_create(0, b"s").expect("create");
    for i in 1..=3u64 {
        s.stream_append(
            &mut st,
            StreamId::new(i, 0),
            &["f", "v"],
            NodeLimits::default(),
        )
        .expect("append");
    }
    for i in 1..=3u64 {
        assert!(s.stream_delete(&mut st, StreamId::new(i, 0)).expect("del"));
    }
    assert!(!s.stream_delete(&mut st, StreamId::new(1, 0)).expect("del"));
    assert_eq!(st.len(), 0);
    assert_eq!(st.max_deleted, StreamId::new(3, 0));
    assert_eq!(s.stream_tree_stats(st.info.id).expect("tree"), (0, 1));
}

#[test]
fn replay_rebuilds_streams_with_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.db");
    let mut s = open(&path);
    for i in 1..=150u64 {
        add(
            &mut s,
            b"s",
            StreamId::new(i, i % 3),
            &["field", &i.to_string()],
        );
    }
    s.commit().expect("commit");
    s.begin().expect("begin");
    // Only journaled from here on.
    let mut st = add(&mut s, b"s", StreamId::new(200, 0), &["x", "y", "z", ""]);
    s.stream_delete(&mut st, StreamId::new(5, 2)).expect("del");
    let trim = Trim {
        strategy: TrimStrategy::MaxLen(140),
        approx: false,
        limit: 0,
    };
    s.stream_trim(&mut st, &trim).expect("trim");
    s.stream_save(0, b"s", &st).expect("save");
    // XSETID's write (no version bump) is replayed too.
    st.entries_added += 5;
    st.last = StreamId::new(999, 9);
    s.stream_save_meta(0, b"s", &st).expect("save meta");
    let id = st.info.id;
    for g in ["g1", "g2"] {
        s.stream_group_put(
            id,
            &Group {
                name: g.into(),
                last: StreamId::new(20, 2),
                entries_read: 7,
            },
        )
        .expect("group");
        for c in ["alice", "bob"] {
            s.stream_consumer_put(
                id,
                g.as_bytes(),
                &Consumer {
                    name: c.into(),
                    seen: 1_000,
                },
            )
            .expect("consumer");
        }
        for i in 12..20u64 {
            s.stream_pel_put(
                id,
                g.as_bytes(),
                &Pending {
                    id: StreamId::new(i, i % 3),
                    consumer: if i % 2 == 0 { "alice" } else { "bob" }.into(),
                    delivered: 5_000 + i as i64,
                    count: i as i64,
                },
            )
            .expect("pel");
        }
    }
    s.stream_pel_del(id, b"g1", StreamId::new(13, 1))
        .expect("ack");
    s.stream_consumer_del(id, b"g1", b"alice")
        .expect("delconsumer");
    s.stream_group_del(id, b"g2").expect("destroy");
    s.copy_key(0, b"s", 2, b"copy", false).expect("copy");
    s.rename(0, b"s", b"renamed", false).expect("rename");
    add(&mut s, b"gone", StreamId::new(1, 1), &["a", "b"]);
    s.delete(0, b"gone").expect("del");
    s.flush_group().expect("flush");
    let before = (dump(&mut s, 0, b"renamed"), dump(&mut s, 2, b"copy"));
    assert!(before.0.contains("pending"), "{}", before.0);
    assert_eq!(before.0, before.1, "COPY copies groups and pending entries");
    let path = crash(s, &dir);

    let mut s = open(&path);
    assert_eq!(
        (dump(&mut s, 0, b"renamed"), dump(&mut s, 2, b"copy")),
        before
    );
    assert_eq!(dump(&mut s, 0, b"gone"), "none");
    // Deleting and flushing leave no rows behind for a reused name.
    s.flush_all().expect("flushall");
    add(&mut s, b"copy", StreamId::new(1, 0), &["a", "b"]);
    let st = s
        .stream_lookup(0, b"copy")
        .expect("lookup")
        .expect("exists");
    assert!(s.stream_groups(st.info.id).expect("groups").is_empty());
}
