//! Raft replication (`ferry serve --raft`) with real processes on loopback:
//! replication to every node, follower redirects, leader crashes under a
//! write load with every acknowledged write checked, a node rejoining from
//! an empty directory through a snapshot, a paused leader that must not
//! acknowledge and must roll back, membership changes, a node of another
//! cluster, `ferry migrate` into a cluster, and a linearizability check of
//! a register/counter workload under kills and pauses.

mod common;
#[path = "common/linearizability.rs"]
mod linearizability;

use common::raft_cluster::{ask, replication_info, RaftCluster};
use common::{ferry_binary, parse_frame, RawConn, RedisProc, Resp};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on an election in these tests (generous: CI machines are loaded;
/// the benchmark measures the real failover time).
const ELECTION: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_secs(2);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must succeed; a TRYAGAIN (a new election: the
/// same node usually leads again) is retried for a while.
fn ok(port: u16, args: &[&str]) -> Resp {
    let deadline = Instant::now() + ELECTION;
    loop {
        match ask(port, args, Duration::from_secs(10)) {
            Ok(r) => return r,
            Err(e) if e.starts_with("TRYAGAIN") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("{args:?} on port {port}: {e}"),
        }
    }
}

fn follower_of(c: &RaftCluster, leader: u64) -> u64 {
    c.nodes
        .iter()
        .find(|n| n.id != leader && n.is_running())
        .map(|n| n.id)
        .expect("a running follower")
}

#[test]
fn writes_reach_every_node_and_followers_redirect() {
    let c = RaftCluster::start(3, &[]);
    let l = c.leader(ELECTION);
    let lp = c.port(l);
    let mut conn = RawConn::connect(lp);
    for cmd in [
        &["SET", "s", "v"][..],
        &["INCR", "n"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["RPUSH", "list", "a", "b", "c"],
        &["ZADD", "z", "1.5", "a", "2", "b"],
        &["SADD", "set", "x", "y"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["SET", "ttl", "v", "EX", "1000"],
        &["SET", "gone", "v"],
        &["DEL", "gone"],
        &["SET", "short", "v", "PX", "30"],
    ] {
        let r = conn.cmd(cmd);
        assert!(!r.starts_with(b"-"), "{cmd:?}: {}", text(&r));
    }
    assert_eq!(conn.cmd(&["MULTI"]), b"+OK\r\n");
    conn.cmd(&["SET", "m1", "a"]);
    conn.cmd(&["INCR", "n"]);
    assert_eq!(conn.cmd(&["EXEC"]), b"*2\r\n+OK\r\n:2\r\n");
    assert_eq!(
        conn.cmd(&[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', 'n')",
            "1",
            "scripted",
            "yes"
        ]),
        b":3\r\n"
    );
    let lib = "#!lua name=raftlib\nredis.register_function{function_name='getit', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    assert_eq!(conn.cmd(&["FUNCTION", "LOAD", lib]), b"$7\r\nraftlib\r\n");
    // The short key expires; the leader's removal replicates.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(conn.cmd(&["GET", "short"]), b"$-1\r\n");
    // Every acknowledged write is on a majority: WAIT says so at once.
    let w = parse_frame(&conn.cmd(&["WAIT", "2", "0"]))
        .unwrap()
        .unwrap()
        .0;
    assert!(w.as_int().unwrap_or(0) >= 1, "WAIT: {w:?}");

    c.wait_caught_up(l, ELECTION);
    c.assert_same_data(l);

    let f = follower_of(&c, l);
    let fp = c.port(f);
    let mut fc = RawConn::connect(fp);
    let r = text(&fc.cmd(&["SET", "s", "other"]));
    assert!(
        r.starts_with(&format!(
            "-READONLY You can't write against a read only replica. (ferry Raft leader: 127.0.0.1:{lp})"
        )),
        "{r}"
    );
    let r = text(&fc.cmd(&["GET", "s"]));
    assert!(
        r.starts_with("-READONLY") && r.contains(&lp.to_string()),
        "{r}"
    );
    // A transaction with a write is refused as a whole.
    assert_eq!(fc.cmd(&["MULTI"]), b"+OK\r\n");
    assert!(fc.cmd(&["INCR", "n"]).starts_with(b"-READONLY"));
    assert!(text(&fc.cmd(&["EXEC"])).starts_with("-EXECABORT"));
    assert!(fc.cmd(&["EVAL", "return 1", "0"]).starts_with(b"-READONLY"));
    // READONLY: this connection reads the follower's copy.
    assert_eq!(fc.cmd(&["READONLY"]), b"+OK\r\n");
    assert_eq!(fc.cmd(&["GET", "s"]), b"$1\r\nv\r\n");
    assert_eq!(fc.cmd(&["GET", "n"]), b"$1\r\n3\r\n");
    assert!(fc.cmd(&["SET", "s", "x"]).starts_with(b"-READONLY"));
    // The replicated library was loaded on the follower.
    assert_eq!(
        fc.cmd(&["FCALL_RO", "getit", "1", "scripted"]),
        b"$3\r\nyes\r\n"
    );
    assert_eq!(fc.cmd(&["READWRITE"]), b"+OK\r\n");
    assert!(fc.cmd(&["GET", "s"]).starts_with(b"-READONLY"));

    let li = replication_info(lp).unwrap();
    assert_eq!(li["role"], "master");
    assert_eq!(li["raft_state"], "Leader");
    assert_eq!(li["raft_voters"], "1,2,3");
    let fi = replication_info(fp).unwrap();
    assert_eq!(fi["role"], "slave");
    assert_eq!(fi["master_port"], lp.to_string());
    assert_eq!(fi["raft_leader_id"], l.to_string());
    let status = ok(fp, &["RAFT", "STATUS"]);
    assert!(text(&status.as_bytes().unwrap()).contains(&format!("raft_leader_id:{l}")));
    let leader = ok(fp, &["RAFT", "LEADER"]);
    assert_eq!(
        leader.elements().unwrap()[1].as_bytes().unwrap(),
        format!("127.0.0.1:{lp}").into_bytes()
    );
}

/// One writer's record: values it sent and which were acknowledged, and
/// when the first acknowledgement after `since` came.
#[derive(Default)]
struct Record {
    sent: BTreeSet<u64>,
    acked: BTreeSet<u64>,
    ack_times: Vec<Instant>,
}

/// Writes `RPUSH log:<w> <n>` and `SET k:<w>:<n> <n>` in turn, following
/// the leader (trying every node on errors), until `stop`.
fn writer(w: usize, ports: Vec<u16>, stop: Arc<AtomicBool>, rec: Arc<Mutex<Record>>) {
    let mut n = 0u64;
    let mut node = 0usize;
    let mut conn: Option<RawConn> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        n += 1;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match RawConn::try_connect(ports[node], Duration::from_secs(1)) {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    node = (node + 1) % ports.len();
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        let v = n.to_string();
        let (args, expect): (Vec<String>, &[u8]) = if n.is_multiple_of(2) {
            (vec!["RPUSH".into(), format!("log:{w}"), v.clone()], b":")
        } else {
            (vec!["SET".into(), format!("k:{w}:{n}"), v.clone()], b"+OK")
        };
        rec.lock().unwrap().sent.insert(n);
        match c.try_cmd(&args) {
            Ok(r) if r.starts_with(expect) => {
                let mut r = rec.lock().unwrap();
                r.acked.insert(n);
                r.ack_times.push(Instant::now());
            }
            _ => {
                conn = None;
                node = (node + 1) % ports.len();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn acknowledged_writes_survive_a_leader_crash() {
    let mut c = RaftCluster::start(3, &[]);
    let l = c.leader(ELECTION);
    let ports: Vec<u16> = c.nodes.iter().map(|n| n.port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let records: Vec<Arc<Mutex<Record>>> = (0..4).map(|_| Arc::default()).collect();
    let threads: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(w, rec)| {
            let (ports, stop, rec) = (ports.clone(), stop.clone(), rec.clone());
            std::thread::spawn(move || writer(w, ports, stop, rec))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let killed_at = Instant::now();
    c.kill9(l);
    let new = c.leader(ELECTION);
    assert_ne!(new, l);
    // Keep writing on the new leader a while.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    let first_after = records
        .iter()
        .filter_map(|r| {
            r.lock()
                .unwrap()
                .ack_times
                .iter()
                .copied()
                .find(|t| *t > killed_at)
        })
        .min()
        .expect("no write was acknowledged after the leader was killed");
    eprintln!(
        "failover: {:?} from kill -9 to the first acknowledged write",
        first_after - killed_at
    );

    let np = c.port(new);
    let mut conn = RawConn::connect(np);
    let mut acked_total = 0;
    for (w, rec) in records.iter().enumerate() {
        let rec = rec.lock().unwrap();
        acked_total += rec.acked.len();
        let r = conn.cmd_parsed(&["LRANGE", &format!("log:{w}"), "0", "-1"]);
        let values: Vec<u64> = r
            .elements()
            .unwrap()
            .iter()
            .map(|e| text(&e.as_bytes().unwrap()).parse().unwrap())
            .collect();
        let unique: BTreeSet<u64> = values.iter().copied().collect();
        assert_eq!(
            unique.len(),
            values.len(),
            "writer {w}: duplicated list values"
        );
        for v in &values {
            assert!(rec.sent.contains(v), "writer {w}: {v} was never sent");
        }
        for n in rec.acked.iter().filter(|n| *n % 2 == 0) {
            assert!(
                unique.contains(n),
                "writer {w}: acknowledged RPUSH {n} is lost"
            );
        }
        for n in rec.acked.iter().filter(|n| *n % 2 == 1) {
            let got = conn.cmd(&["GET", &format!("k:{w}:{n}")]);
            assert_eq!(
                got,
                format!("${}\r\n{n}\r\n", n.to_string().len()).into_bytes(),
                "writer {w}: acknowledged SET k:{w}:{n} is lost"
            );
        }
    }
    assert!(
        acked_total > 50,
        "only {acked_total} writes were acknowledged"
    );

    // The old leader rejoins as a follower and catches up.
    c.start_node(l);
    c.wait_caught_up(new, ELECTION);
    c.assert_same_data(new);
    let info = replication_info(c.port(l)).unwrap();
    assert_eq!(info["role"], "slave", "{info:?}");
}

/// Reads one pushed frame (or reply) within 10 s.
fn next_frame(c: &mut RawConn) -> Resp {
    c.set_read_timeout(Duration::from_secs(10));
    let b = c
        .try_read_reply()
        .unwrap_or_else(|e| panic!("no frame: {e}"));
    parse_frame(&b).unwrap().unwrap().0
}

#[test]
fn blocking_pubsub_notifications_and_tracking_work_on_a_new_leader() {
    let mut c = RaftCluster::start(3, &[]);
    let old = c.leader(ELECTION);
    ok(c.port(old), &["SET", "cached", "1"]);
    c.kill9(old);
    let l = c.leader(ELECTION);
    let lp = c.port(l);
    ok(lp, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);

    // A blocked pop is served by a push from another client.
    let mut blocked = RawConn::connect(lp);
    blocked.send(&["BLPOP", "queue", "10"]);
    // Pub/sub and keyspace notifications.
    let mut sub = RawConn::connect(lp);
    sub.cmd(&["SUBSCRIBE", "news"]);
    let mut events = RawConn::connect(lp);
    events.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    // Client-side caching (RESP3 push invalidations).
    let mut cache = RawConn::connect(lp);
    cache.cmd(&["HELLO", "3"]);
    assert_eq!(cache.cmd(&["CLIENT", "TRACKING", "ON"]), b"+OK\r\n");
    assert_eq!(cache.cmd(&["GET", "cached"]), b"$1\r\n1\r\n");

    std::thread::sleep(Duration::from_millis(200));
    let mut w = RawConn::connect(lp);
    assert_eq!(w.cmd(&["RPUSH", "queue", "job"]), b":1\r\n");
    assert_eq!(w.cmd(&["PUBLISH", "news", "hello"]), b":1\r\n");
    assert_eq!(w.cmd(&["SET", "cached", "2"]), b"+OK\r\n");

    let popped = next_frame(&mut blocked);
    let popped: Vec<Vec<u8>> = popped
        .elements()
        .unwrap()
        .iter()
        .map(|e| e.as_bytes().unwrap())
        .collect();
    assert_eq!(popped, vec![b"queue".to_vec(), b"job".to_vec()]);
    let msg = next_frame(&mut sub);
    assert_eq!(msg.elements().unwrap()[2].as_bytes().unwrap(), b"hello");
    let ev = next_frame(&mut events);
    assert_eq!(
        ev.elements().unwrap()[2].as_bytes().unwrap(),
        b"__keyevent@0__:rpush"
    );
    let inv = next_frame(&mut cache);
    let Resp::Push(parts) = inv else {
        panic!("expected an invalidation push, got {inv:?}");
    };
    assert_eq!(parts[0].as_bytes().unwrap(), b"invalidate");
}

#[test]
fn a_node_restarted_from_an_empty_directory_gets_a_snapshot() {
    let mut c = RaftCluster::start(3, &["--raft-snapshot-logs", "40"]);
    let l = c.leader(ELECTION);
    let lp = c.port(l);
    let mut conn = RawConn::connect(lp);
    // One write per group: one log entry each.
    for i in 0..200 {
        conn.cmd(&["SET", &format!("key:{i}"), &"x".repeat(100 + i)]);
    }
    conn.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    let f = follower_of(&c, l);
    c.kill9(f);
    c.wipe(f);
    for i in 200..500 {
        conn.cmd(&["RPUSH", "tail", &i.to_string()]);
    }
    c.start_node(f);
    c.wait_caught_up(l, ELECTION);
    c.assert_same_data(l);
    let log = c.node(f).log();
    assert!(
        log.contains("installed a snapshot"),
        "node {f} caught up without a snapshot; its log:\n{log}"
    );
    // And it keeps following.
    conn.cmd(&["SET", "after", "1"]);
    c.wait_caught_up(l, ELECTION);
    c.assert_same_data(l);
}

#[test]
fn a_leader_without_a_majority_does_not_acknowledge_and_rolls_back() {
    let mut c = RaftCluster::start(3, &[]);
    let l = c.leader(ELECTION);
    let lp = c.port(l);
    ok(lp, &["SET", "spec", "before"]);
    c.wait_caught_up(l, ELECTION);
    let followers: Vec<u64> = c.nodes.iter().filter(|n| n.id != l).map(|n| n.id).collect();
    // The leader loses its followers (crashed: nothing of what it sends
    // now reaches them).
    for f in &followers {
        c.kill9(*f);
    }
    let mut lost = RawConn::connect(lp);
    lost.set_read_timeout(Duration::from_millis(1500));
    let r = lost.try_cmd(&["SET", "spec", "lost"]);
    assert!(
        r.is_err(),
        "a leader without a majority acknowledged a write: {r:?}"
    );
    // It freezes; the followers come back and elect a new leader.
    c.pause(l, true);
    for f in &followers {
        c.start_node(*f);
    }
    let deadline = Instant::now() + ELECTION;
    let new = loop {
        let leader = followers.iter().copied().find(|f| {
            replication_info(c.port(*f))
                .is_ok_and(|i| i.get("raft_writable").map(String::as_str) == Some("1"))
        });
        if let Some(x) = leader {
            break x;
        }
        assert!(
            Instant::now() < deadline,
            "no new leader; logs:\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ok(c.port(new), &["SET", "spec", "after"]);
    // The old leader wakes up: it must drop its unconfirmed write, answer
    // it with an error, and follow.
    c.pause(l, false);
    lost.set_read_timeout(Duration::from_secs(20));
    match lost.try_read_reply() {
        Ok(reply) => assert!(
            reply.starts_with(b"-TRYAGAIN"),
            "the cut-off leader answered {}",
            text(&reply)
        ),
        Err(e) => assert!(e.contains("closed"), "{e}"),
    }
    c.wait_caught_up(new, ELECTION);
    let mut oc = RawConn::connect(lp);
    oc.cmd(&["READONLY"]);
    assert_eq!(oc.cmd(&["GET", "spec"]), b"$5\r\nafter\r\n");
    c.assert_same_data(new);
    assert!(
        c.node(l).log().contains("rolled the store back"),
        "no rollback logged:\n{}",
        c.node(l).log()
    );
}

/// Waits until INFO shows `voters` (the status follows openraft's metrics
/// within milliseconds).
fn wait_voters(port: u16, voters: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = replication_info(port).unwrap();
        if info["raft_voters"] == voters {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "voters {} != {voters}",
            info["raft_voters"]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn membership_changes_and_a_node_of_another_cluster() {
    let mut c = RaftCluster::start(3, &[]);
    let l = c.leader(ELECTION);
    let lp = c.port(l);
    for i in 0..50 {
        ok(lp, &["SET", &format!("m:{i}"), "v"]);
    }
    // A follower cannot change membership; it says where the leader is.
    let f = follower_of(&c, l);
    let e = ask(c.port(f), &["RAFT", "PROMOTE", "9"], SHORT).unwrap_err();
    assert!(
        e.contains("not the leader") && e.contains(&lp.to_string()),
        "{e}"
    );

    // A fourth node, started without --peers, joins as learner then voter.
    let four = c.add_node(&[]);
    let addr = format!("127.0.0.1:{}", c.node(four).raft_port);
    ok(lp, &["RAFT", "ADD-LEARNER", &four.to_string(), &addr]);
    c.wait_caught_up(l, ELECTION);
    c.assert_same_data(l);
    ok(lp, &["RAFT", "PROMOTE", &four.to_string()]);
    wait_voters(lp, "1,2,3,4");
    ok(lp, &["SET", "after-promote", "1"]);
    ok(lp, &["RAFT", "REMOVE", &four.to_string()]);
    wait_voters(lp, "1,2,3");

    // A node of another cluster is refused, with a log line saying why.
    let five = c.add_node(&["--raft-cluster", "other"]);
    let addr = format!("127.0.0.1:{}", c.node(five).raft_port);
    let r = ask(
        lp,
        &["RAFT", "ADD-LEARNER", &five.to_string(), &addr],
        Duration::from_secs(3),
    );
    assert!(r.is_err(), "a node of another cluster was added: {r:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c
        .node(five)
        .log()
        .contains("belongs to Raft cluster 'ferry', this node to 'other'")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            c.node(five).log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(lp, &["RAFT", "REMOVE", &five.to_string()]);
    ok(lp, &["SET", "still-writable", "1"]);
}

#[test]
fn raft_admin_and_flags_reject_bad_input() {
    let c = RaftCluster::start(1, &[]);
    let p = c.port(c.leader(ELECTION));
    for (args, want) in [
        (&["RAFT"][..], "ERR unknown subcommand ''"),
        (
            &["RAFT", "NOPE"],
            "ERR unknown subcommand 'NOPE'. Try RAFT HELP.",
        ),
        (
            &["RAFT", "PROMOTE"],
            "ERR wrong number of arguments for 'raft|promote' command",
        ),
        (
            &["RAFT", "ADD-LEARNER", "x", "127.0.0.1:1"],
            "ERR the node id must be a non-negative integer",
        ),
        (
            &["RAFT", "REMOVE", "-1"],
            "ERR the node id must be a non-negative integer",
        ),
        (&["RAFT", "INIT"], "ERR "),
    ] {
        let e = ask(p, args, SHORT).unwrap_err();
        assert!(e.starts_with(want), "{args:?}: {e}");
    }
    // A single-node cluster is a working server.
    ok(p, &["SET", "solo", "1"]);
    // `ferry raft` asks a node through the same command.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(ferry_binary())
            .arg("raft")
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let addr = format!("127.0.0.1:{p}");
    let (code, out, _) = cli(&["status", "--addr", &addr]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("raft_state:Leader") && out.contains("raft_voters:1"),
        "{out}"
    );
    assert_eq!(cli(&["leader", "--addr", &addr]).1, "1 self\n");
    let (code, _, err) = cli(&["promote", "9", "--addr", &addr]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with(&format!("ferry raft: {addr}: ")), "{err}");
    let down = format!("127.0.0.1:{}", common::free_port());
    let (code, _, err) = cli(&["status", "--addr", &down]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with(&format!("ferry raft: {down}: ")), "{err}");
    assert!(!ok(p, &["RAFT", "HELP"]).elements().unwrap().is_empty());

    // RAFT on a server without --raft.
    let plain = common::FerryProc::start(common::FerryOpts::default());
    let e = ask(plain.port(), &["RAFT", "STATUS"], SHORT).unwrap_err();
    assert!(e.contains("does not run Raft"), "{e}");
    let e = ask(plain.port(), &["READONLY"], SHORT).unwrap_err();
    assert_eq!(e, "ERR This instance has cluster support disabled");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.db");
    let data = data.to_str().unwrap();
    for (args, want) in [
        (vec!["--raft"], "--raft needs --node-id"),
        (vec!["--raft", "--node-id", "1"], "--raft needs --raft-addr"),
        (
            vec!["--raft", "--node-id", "0", "--raft-addr", "127.0.0.1:1"],
            "--node-id must be a positive integer",
        ),
        (
            vec![
                "--raft",
                "--node-id",
                "1",
                "--raft-addr",
                "127.0.0.1:1",
                "--peers",
                "2=127.0.0.1:2",
            ],
            "--peers must list this node as 1=127.0.0.1:1",
        ),
        (
            vec![
                "--raft",
                "--node-id",
                "1",
                "--raft-addr",
                "127.0.0.1:1",
                "--peers",
                "1=127.0.0.1:1,x",
            ],
            "--peers: 'x' is not ID=HOST:PORT",
        ),
        (vec!["--node-id", "1"], "need --raft"),
    ] {
        let out = std::process::Command::new(ferry_binary())
            .args(["serve", "--port", "0", "--data", data])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn raft_settings_from_ferry_toml() {
    let dir = tempfile::tempdir().unwrap();
    let raft_port = common::free_port();
    let toml = dir.path().join("ferry.toml");
    std::fs::write(
        &toml,
        format!(
            "raft = true\nnode-id = 7\nraft-addr = \"127.0.0.1:{raft_port}\"\npeers = \"7=127.0.0.1:{raft_port}\"\nraft-cluster = \"from-file\"\n"
        ),
    )
    .unwrap();
    let node = common::FerryProc::start(
        common::FerryOpts::default()
            .arg("--config")
            .arg(toml.to_str().unwrap()),
    );
    let deadline = Instant::now() + ELECTION;
    loop {
        let info = replication_info(node.port()).unwrap();
        if info.get("raft_writable").map(String::as_str) == Some("1") {
            assert_eq!(info["raft_node_id"], "7");
            assert_eq!(info["raft_voters"], "7");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no leader: {info:?}\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(node.port(), &["SET", "k", "v"]);
    assert!(node.log().contains("cluster 'from-file'"), "{}", node.log());
}

#[test]
fn ferry_migrate_copies_into_a_raft_cluster() {
    let c = RaftCluster::start(3, &[]);
    let l = c.leader(ELECTION);
    let src = RedisProc::start(&[]);
    common::dataset::seed(&common::dataset::Target::Single(src.port(), 0), 400, 7);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let out = std::process::Command::new(ferry_binary())
        .args([
            "migrate",
            "bulk",
            "--run-id",
            "into-raft",
            "--from",
            &format!("redis://127.0.0.1:{}", src.port()),
            "--to",
            &format!("redis://127.0.0.1:{}", c.port(l)),
            "--state",
            state.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        let conn = rusqlite::Connection::open(&state).unwrap();
        let errors: Vec<String> = conn
            .prepare("SELECT * FROM migration_errors LIMIT 5")
            .and_then(|mut s| {
                let n = s.column_count();
                s.query_map([], |r| {
                    Ok((0..n)
                        .map(|i| {
                            format!(
                                "{:?}",
                                r.get_ref(i).map(|v| v.as_str().unwrap_or("?").to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" | "))
                })?
                .collect()
            })
            .unwrap_or_default();
        panic!(
            "migrate bulk failed: {}\n{}\nerrors: {errors:#?}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let diff = common::dataset::diff(
        &common::dataset::Target::Single(src.port(), 0),
        &common::dataset::Target::Single(c.port(l), 0),
        2000,
    );
    assert!(diff.is_empty(), "source and leader differ: {diff:?}");
    c.wait_caught_up(l, ELECTION);
    c.assert_same_data(l);
}

/// A register/counter workload against whichever node leads, while a
/// nemesis kills (then restarts) or pauses the leader; the history must be
/// linearizable.
#[test]
fn register_and_counter_history_is_linearizable_under_kills_and_pauses() {
    use linearizability::{check, Event, Op, Outcome};
    let c = Arc::new(Mutex::new(RaftCluster::start(3, &[])));
    let ports: Vec<u16> = c.lock().unwrap().nodes.iter().map(|n| n.port).collect();
    c.lock().unwrap().leader(ELECTION);
    let start = Instant::now();
    let us = move || start.elapsed().as_micros() as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let history = Arc::new(Mutex::new(Vec::<Event>::new()));
    let clients: Vec<_> = (0..5)
        .map(|client| {
            let (ports, stop, history) = (ports.clone(), stop.clone(), history.clone());
            std::thread::spawn(move || {
                use rand::{Rng, SeedableRng};
                let mut rng = rand::rngs::StdRng::seed_from_u64(client as u64 + 1);
                let mut node = client % ports.len();
                let mut conn: Option<RawConn> = None;
                let mut n = 0i64;
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match RawConn::try_connect(ports[node], Duration::from_millis(800))
                        {
                            Ok(c) => conn.insert(c),
                            Err(_) => {
                                node = (node + 1) % ports.len();
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        },
                    };
                    n += 1;
                    // Counters are the expensive keys to check (unknown INCRs
                    // under kills multiply the orders to try): fewer INCRs,
                    // spread over more keys, keep each key's search bounded.
                    let pick = rng.gen_range(0..10);
                    let (key, op, args): (String, Op, Vec<String>) = if pick < 1 {
                        let k = format!("c{}", rng.gen_range(0..4));
                        (k.clone(), Op::Incr, vec!["INCR".into(), k])
                    } else if pick < 6 {
                        let k = format!("r{}", rng.gen_range(0..4));
                        let v = client as i64 * 1_000_000 + n;
                        (
                            k.clone(),
                            Op::Write(v),
                            vec!["SET".into(), k, v.to_string()],
                        )
                    } else {
                        let k = if pick < 9 {
                            format!("r{}", rng.gen_range(0..4))
                        } else {
                            format!("c{}", rng.gen_range(0..4))
                        };
                        (k.clone(), Op::Read(None), vec!["GET".into(), k])
                    };
                    let invoke = us();
                    let reply = c.try_cmd(&args);
                    let complete = us();
                    let parsed = reply
                        .as_ref()
                        .ok()
                        .and_then(|b| parse_frame(b).ok().flatten())
                        .map(|r| r.0);
                    let (op, outcome, done) = match (op, parsed) {
                        (Op::Write(v), Some(Resp::Simple(s))) if s == "OK" => {
                            (Op::Write(v), Outcome::Ok(None), true)
                        }
                        (Op::Incr, Some(Resp::Int(i))) => (Op::Incr, Outcome::Ok(Some(i)), true),
                        (Op::Read(_), Some(r)) if !r.is_error() => {
                            let v = r
                                .as_bytes()
                                .map(|b| text(&b).parse::<i64>().expect("an integer"));
                            (Op::Read(v), Outcome::Ok(v), true)
                        }
                        (op, _) => (op, Outcome::Unknown, false),
                    };
                    if !done {
                        conn = None;
                        node = (node + 1) % ports.len();
                    }
                    history.lock().unwrap().push(Event {
                        key,
                        client,
                        op,
                        invoke,
                        complete: done.then_some(complete),
                        outcome,
                    });
                }
            })
        })
        .collect();
    // The nemesis: kill -9 the leader, then pause the next one, twice.
    for round in 0..4 {
        std::thread::sleep(Duration::from_millis(1500));
        let mut cl = c.lock().unwrap();
        let l = cl.leader(ELECTION);
        if round % 2 == 0 {
            cl.kill9(l);
            drop(cl);
            std::thread::sleep(Duration::from_millis(1500));
            c.lock().unwrap().start_node(l);
        } else {
            cl.pause(l, true);
            drop(cl);
            std::thread::sleep(Duration::from_millis(2000));
            c.lock().unwrap().pause(l, false);
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for t in clients {
        t.join().expect("client");
    }
    let history = history.lock().unwrap();
    let acked = history.iter().filter(|e| e.complete.is_some()).count();
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for e in history.iter() {
        *per_key.entry(&e.key).or_default() += 1;
    }
    eprintln!(
        "{} operations ({acked} acknowledged): {per_key:?}",
        history.len()
    );
    assert!(acked > 200, "only {acked} operations completed");
    if let Err(e) = check(&history) {
        panic!("the history is not linearizable: {e}");
    }
}
