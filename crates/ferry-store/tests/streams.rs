//! Streams in the store: the node model behind approximate trimming, and
//! journal replay of every stream change (a crash before SQLite committed
//! must rebuild entries, groups, consumers and pending entries exactly).

use ferry_store::streams::{
    Consumer, Group, NodeLimits, PelQuery, Pending, Stream, StreamId, Trim, TrimStrategy,
};
use ferry_store::{Durability, Store, StoreOptions};
use std::path::Path;

mod kill9;
use kill9::crash;

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

/// What appends, deletes and trims leave of a stream, read without the
/// `stream_nodes` table (reading it writes held nodes; see `brief_nodes`).
fn brief(s: &mut Store, db: usize, key: &[u8]) -> String {
    let Some(st) = s.stream_lookup(db, key).expect("lookup") else {
        return "none".into();
    };
    let ids: Vec<String> = s
        .stream_range(st.info.id, StreamId::MIN, StreamId::MAX, None, false)
        .expect("range")
        .iter()
        .map(|e| format!("{}:{}", e.id, e.fields.len()))
        .collect();
    format!(
        "len={} last={} added={} maxdel={} {ids:?}",
        st.len(),
        st.last,
        st.entries_added,
        st.max_deleted
    )
}

/// Every node row and stream key row in the committed file, by key name
/// (key ids differ between stores once a key was deleted and a store reopened).
fn committed_streams(path: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the file");
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM stream_nodes WHERE key_id NOT IN (SELECT id FROM keys)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    let mut out = vec![format!("{orphans} nodes of no key")];
    out.extend(rows(
        &conn,
        "SELECT k.db, k.key, n.ms, n.seq, n.live, n.deleted, n.bytes, n.last_ms, n.last_seq, n.fields
         FROM stream_nodes n JOIN keys k ON k.id = n.key_id ORDER BY k.db, k.key, n.ms, n.seq",
        |r| {
            Ok(format!(
                "node {} {:?} {} {} live={} deleted={} bytes={} last={} {} {:?}",
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, Vec<u8>>(9)?,
            ))
        },
    ));
    out.extend(rows(
        &conn,
        "SELECT db, key, len, value FROM keys ORDER BY db, key",
        |r| {
            Ok(format!(
                "key {} {:?} len={} {:?}",
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
            ))
        },
    ));
    out
}

/// Every row `sql` returns, each shown by `show`.
fn rows(
    conn: &rusqlite::Connection,
    sql: &str,
    show: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<String>,
) -> Vec<String> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let shown = stmt.query_map([], show).expect("query");
    shown.map(|r| r.expect("row")).collect()
}

/// One random step on a stream, done the same way on every store given.
fn stream_step(
    stores: &mut [&mut Store],
    rng: &mut rand::rngs::StdRng,
    limits: NodeLimits,
) -> String {
    use rand::Rng;
    let db = rng.gen_range(0..2usize);
    let key = format!("s{}", rng.gen_range(0..3)).into_bytes();
    let roll = rng.gen_range(0..100);
    let mut what = String::new();
    for s in stores.iter_mut() {
        let st = s.stream_lookup(db, &key).expect("lookup");
        let mut st = match (st, roll) {
            (None, 0..=79) => s.stream_create(db, &key).expect("create"),
            (None, _) => return format!("nothing at {db} {key:?}"),
            (Some(st), _) => st,
        };
        what = match roll {
            0..=79 => {
                // Same milliseconds now and then (seq + 1), varied field
                // names (a node's master fields) and sizes (its byte bound).
                let step = [0u64, 0, 1, 7, 1000][(roll as usize) % 5];
                let id = if step == 0 {
                    StreamId::new(st.last.ms.max(1), st.last.seq + 1)
                } else {
                    StreamId::new(st.last.ms + step, 0)
                };
                let field = ["f", "g", "f"][(roll as usize) % 3];
                let value = "v".repeat([1, 3, 40, 300][(roll as usize / 3) % 4]);
                s.stream_append(&mut st, id, &[field, value.as_str()], limits)
                    .expect("append");
                format!("add {db} {key:?} {id}")
            }
            80..=87 => {
                let entries = s
                    .stream_range(st.info.id, StreamId::MIN, StreamId::MAX, None, false)
                    .expect("range");
                let Some(e) = entries.get(roll as usize % entries.len().max(1)) else {
                    return "xdel of nothing".into();
                };
                s.stream_delete(&mut st, e.id).expect("xdel");
                format!("xdel {db} {key:?} {}", e.id)
            }
            88..=95 => {
                let trim = Trim {
                    strategy: TrimStrategy::MaxLen((roll as u64 - 88) * 3),
                    approx: roll % 2 == 0,
                    limit: 0,
                };
                s.stream_trim(&mut st, &trim).expect("trim");
                format!("trim {db} {key:?} {trim:?}")
            }
            _ => {
                s.delete(db, &key).expect("del");
                // A deleted stream is not saved.
                continue;
            }
        };
        s.stream_save(db, &key, &st).expect("save");
    }
    if what.is_empty() {
        format!("del {db} {key:?}")
    } else {
        what
    }
}

/// The tail nodes appends hold (`streams/heldnodes.rs`) and the stream key
/// rows held with them never show: random appends, XDELs, trims and DELs
/// run on a store in a transaction (holding, committing now and then,
/// crashing and replaying its journal) and on one without a transaction
/// (every statement in the file at once, nothing held). After every step
/// both read the same; every few steps XINFO's node numbers too; and at
/// each commit the held store's file has exactly the other's node and key rows.
#[test]
fn held_stream_nodes_never_show() {
    use rand::{Rng, SeedableRng};
    for (seed, key_cache_mb) in [(1u64, 16u32), (2, 0)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let held_path = dir.path().join("held.db");
        let plain_path = dir.path().join("plain.db");
        let held_opts = StoreOptions {
            key_cache_mb,
            ..opts()
        };
        let mut held = Store::open(&held_path, &held_opts).expect("open");
        held.begin().expect("begin");
        let mut plain = Store::open(&plain_path, &StoreOptions::default()).expect("open");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let limits = NodeLimits {
            max_bytes: 600,
            max_entries: 5,
        };
        let mut history: Vec<String> = Vec::new();
        let mut crashes = 0;
        let mut crash_dirs = Vec::new();
        for step in 0..3000 {
            history.push(stream_step(&mut [&mut held, &mut plain], &mut rng, limits));
            let recent = || history[history.len().saturating_sub(8)..].join("\n");
            // Every few steps XINFO's node numbers too (reading them writes held nodes).
            type Read = fn(&mut Store, usize, &[u8]) -> String;
            let reads: &[(&str, Read)] = if step % 9 == 0 {
                &[("entries", brief), ("nodes", dump)]
            } else {
                &[("entries", brief)]
            };
            for db in 0..2 {
                for k in ["s0", "s1", "s2"] {
                    for (what, read) in reads {
                        let (h, p) = (
                            read(&mut held, db, k.as_bytes()),
                            read(&mut plain, db, k.as_bytes()),
                        );
                        assert_eq!(
                            h,
                            p,
                            "seed {seed} step {step} {db} {k} ({what}), after:\n{}",
                            recent()
                        );
                    }
                }
            }
            match rng.gen_range(0..100) {
                0..=4 => {
                    held.commit().expect("commit");
                    assert_eq!(
                        committed_streams(held.path()),
                        committed_streams(&plain_path),
                        "seed {seed} step {step}: the committed rows, after:\n{}",
                        recent()
                    );
                    held.begin().expect("begin");
                }
                5 => {
                    // kill -9: the journal (durability always) replays what
                    // was held.
                    held.flush_group().expect("flush");
                    let after = tempfile::tempdir_in(dir.path()).expect("dir");
                    let copy = crash(held, &after);
                    crash_dirs.push(after);
                    crashes += 1;
                    held = Store::open(&copy, &held_opts).expect("reopen");
                    held.begin().expect("begin");
                    history.push(format!("crash {crashes}"));
                }
                _ => {}
            }
        }
        held.commit().expect("commit");
        assert!(crashes > 3, "seed {seed}: {crashes} crashes");
        let path = held.path().to_path_buf();
        assert_eq!(committed_streams(&path), committed_streams(&plain_path));
    }
}
