//! Tests of the `ferry migrate` test support itself (cluster, seeding, diff,
//! writer): the migrate tests can only be trusted if these helpers can fail.

mod common;

use common::cluster::RedisCluster;
use common::dataset::{diff, key_count, seed, Target, Writer, BIG_KEYS};
use common::RedisProc;
use std::time::Duration;

fn conn(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    c
}

/// The first `kind:i` key (i < n) that exists without a TTL.
fn persistent_key(con: &mut redis::Connection, kind: &str, n: usize) -> String {
    for i in 0..n {
        let k = format!("{kind}:{i}");
        let pttl: i64 = redis::cmd("PTTL").arg(&k).query(con).expect("PTTL");
        if pttl == -1 {
            return k;
        }
    }
    panic!("no {kind} key without TTL among the first {n}");
}

fn assert_count_about(t: &Target, n: usize) {
    let count = key_count(t);
    let full = (n + BIG_KEYS.len()) as u64;
    // Only the ~1% keys with a 1-3 s TTL may already be gone.
    assert!(
        count <= full && count + (n as u64) / 20 >= full,
        "{t}: {count} keys, expected about {full}"
    );
}

#[test]
fn cluster_seed_diff_and_writer() {
    let cluster = RedisCluster::start();
    let ports = cluster.ports().to_vec();
    assert_eq!(ports.len(), 3);
    assert_eq!(
        cluster.url(),
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
            ports[0], ports[1], ports[2]
        )
    );
    let t = cluster.target();
    assert_eq!(t.url(), cluster.url());
    let n = 2000;
    seed(&t, n, 11);
    assert_count_about(&t, n);
    for p in &ports {
        let on_node = key_count(&Target::Single(*p, 0));
        assert!(
            on_node > (n as u64) / 10,
            "master {p} holds only {on_node} keys: not spread over the slots"
        );
    }

    // The cluster client reaches keys on every master.
    let mut cc = cluster
        .client()
        .get_connection()
        .expect("cluster connection");
    let len: usize = redis::cmd("HLEN")
        .arg(BIG_KEYS[0])
        .query(&mut cc)
        .expect("HLEN big hash");
    assert_eq!(len, 5000);
    let zlen: usize = redis::cmd("ZCARD")
        .arg(BIG_KEYS[2])
        .query(&mut cc)
        .expect("ZCARD big zset");
    assert_eq!(zlen, 5000);

    let same = diff(&t, &t, 2000);
    assert!(same.is_empty(), "cluster vs itself:\n{}", same.join("\n"));

    // The same seed on a standalone server gives the same data.
    let single = RedisProc::start(&[]);
    let s = Target::Single(single.port(), 0);
    seed(&s, n, 11);
    let d = diff(&t, &s, 5000);
    assert!(d.is_empty(), "cluster vs standalone:\n{}", d.join("\n"));

    // A writer through the cluster client changes the data.
    let w = Writer::start(t.clone(), 3);
    std::thread::sleep(Duration::from_secs(1));
    let ops = w.stop();
    assert!(ops > 50, "writer did only {ops} ops on the cluster");
    let d = diff(&t, &s, 5000);
    assert!(!d.is_empty(), "writer changed nothing on the cluster");
}

#[test]
fn diff_reports_exactly_the_changes() {
    let a = RedisProc::start(&[]);
    let b = RedisProc::start(&[]);
    let (ta, tb) = (Target::Single(a.port(), 0), Target::Single(b.port(), 0));
    let n = 500;
    seed(&ta, n, 7);
    seed(&tb, n, 7);
    assert_count_about(&ta, n);
    let d = diff(&ta, &tb, 5000);
    assert!(d.is_empty(), "identical seeds differ:\n{}", d.join("\n"));

    let mut con = conn(b.port());
    let changed = persistent_key(&mut con, "string", n);
    let ttl = persistent_key(&mut con, "hash", n);
    let gone = persistent_key(&mut con, "list", n);
    let zset = persistent_key(&mut con, "zset", n);
    let set = persistent_key(&mut con, "set", n);
    let _: () = redis::cmd("SET")
        .arg(&changed)
        .arg("changed")
        .arg("KEEPTTL")
        .query(&mut con)
        .expect("SET");
    let _: i64 = redis::cmd("EXPIRE")
        .arg(&ttl)
        .arg(1000)
        .query(&mut con)
        .expect("EXPIRE");
    let _: i64 = redis::cmd("DEL").arg(&gone).query(&mut con).expect("DEL");
    // A score change on one member, and one extra set member.
    let first: Vec<String> = redis::cmd("ZRANGE")
        .arg(&zset)
        .arg(0)
        .arg(0)
        .query(&mut con)
        .expect("ZRANGE");
    let member = first.first().expect("zset has a member");
    let _: i64 = redis::cmd("ZADD")
        .arg(&zset)
        .arg("XX")
        .arg("777.125")
        .arg(member)
        .query(&mut con)
        .expect("ZADD XX");
    let _: i64 = redis::cmd("SADD")
        .arg(&set)
        .arg("extra-member")
        .query(&mut con)
        .expect("SADD");

    let d = diff(&ta, &tb, 5000);
    let expect = [
        (&changed, "value"),
        (&ttl, "pttl"),
        (&gone, "missing in b"),
        (&zset, "zset"),
        (&set, "set"),
    ];
    assert_eq!(d.len(), expect.len(), "diff:\n{}", d.join("\n"));
    for (key, what) in expect {
        assert!(
            d.iter()
                .any(|l| l.starts_with(&format!("\"{key}\"")) && l.contains(what)),
            "no `{what}` line for {key} in:\n{}",
            d.join("\n")
        );
    }
    // Reversed sides: the same differences, the deleted key now missing in a.
    let r = diff(&tb, &ta, 5000);
    assert_eq!(r.len(), expect.len(), "reversed diff:\n{}", r.join("\n"));
    assert!(r.iter().any(|l| l.contains("missing in a")), "{r:?}");

    // Against an empty server: capped at 50 lines plus a summary.
    let empty = RedisProc::start(&[]);
    let e = diff(&ta, &Target::Single(empty.port(), 0), 5000);
    assert_eq!(e.len(), 51, "{e:?}");
    let last = e.last().expect("summary line");
    assert!(
        last.starts_with("... and ") && last.ends_with(" more"),
        "{last}"
    );
}

#[test]
fn diff_sees_other_databases_as_separate() {
    let a = RedisProc::start(&[]);
    let (db0, db3) = (Target::Single(a.port(), 0), Target::Single(a.port(), 3));
    seed(&db3, 100, 5);
    assert_eq!(key_count(&db0), 0);
    assert_count_about(&db3, 100);
    let d = diff(&db0, &db3, 5000);
    assert!(
        d.len() > 50 && d.iter().take(50).all(|l| l.contains("missing in a")),
        "{d:?}"
    );
}

#[test]
fn writer_changes_data_and_is_throttled() {
    let a = RedisProc::start(&[]);
    let b = RedisProc::start(&[]);
    let (ta, tb) = (Target::Single(a.port(), 0), Target::Single(b.port(), 0));
    seed(&ta, 300, 9);
    seed(&tb, 300, 9);
    let w = Writer::start(ta.clone(), 42);
    std::thread::sleep(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let ops = w.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop() took {:?}",
        started.elapsed()
    );
    assert!(ops > 100, "writer did only {ops} ops in 2 s");
    assert!(ops < 6000, "writer did {ops} ops in 2 s: not throttled");
    let d = diff(&ta, &tb, 5000);
    assert!(d.len() > 5, "writer changed too little:\n{}", d.join("\n"));
    // The big keys are still big after the writer.
    let mut con = conn(a.port());
    let len: usize = redis::cmd("LLEN")
        .arg(BIG_KEYS[1])
        .query(&mut con)
        .expect("LLEN");
    assert!(len > 4000, "big list shrank to {len}");
}

#[test]
fn ferry_is_a_single_target() {
    let redis = RedisProc::start(&[]);
    let ferry = common::FerryProc::start(common::FerryOpts::default());
    let (tr, tf) = (
        Target::Single(redis.port(), 0),
        Target::Single(ferry.port(), 2),
    );
    let n = 1000;
    seed(&tr, n, 21);
    seed(&tf, n, 21);
    assert_count_about(&tf, n);
    let d = diff(&tr, &tf, 5000);
    assert!(d.is_empty(), "redis vs ferry, same seed:\n{}", d.join("\n"));
    let w = Writer::start(tf.clone(), 8);
    std::thread::sleep(Duration::from_secs(1));
    let ops = w.stop();
    assert!(ops > 50, "writer did only {ops} ops on ferry");
    assert!(
        !diff(&tr, &tf, 5000).is_empty(),
        "writer changed nothing on ferry"
    );
}
