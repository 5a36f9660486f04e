//! `ferry sync` (issue 12, first slice): a real redis-server master, a
//! real redis-server (and a ferry) as the target; the snapshot of every
//! type, then the stream under a writer in two databases; SIGKILL of
//! `ferry sync`, more writes, and the restart resumes with a partial
//! resync (the master's log says so) and applies nothing twice (a counter
//! INCRed through it all matches). Then the same into a Redis Cluster
//! target, from a standalone master and from a cluster.

mod common;

use common::{FerryOpts, FerryProc, RawConn, RedisProc};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Redis 7 waits 5 s before a diskless full sync for more replicas to
/// join; the tests have one.
const DISKLESS_NOW: &[&str] = &["--repl-diskless-sync-delay", "0"];

fn start_sync(from: u16, to: u16, log: &std::path::Path) -> Child {
    start_sync_with(from, to, log, &[])
}

fn start_sync_with(from: u16, to: u16, log: &std::path::Path, extra: &[&str]) -> Child {
    Command::new(common::ferry_binary())
        .args([
            "sync",
            "--from",
            &format!("redis://127.0.0.1:{from}"),
            "--to",
        ])
        .arg(format!("redis://127.0.0.1:{to}"))
        .args(["--name", "t", "--progress-every", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Every key of databases 0 and 2 with its DUMP and TTL presence.
fn contents(c: &mut RawConn) -> Vec<(String, Vec<u8>, bool)> {
    let mut out = Vec::new();
    for db in ["0", "2"] {
        c.cmd(&["SELECT", db]);
        let keys = common::parse_one(&c.cmd(&["KEYS", "*"]));
        let mut names: Vec<String> = keys
            .elements()
            .unwrap_or_default()
            .iter()
            .filter_map(|k| k.as_str())
            .filter(|k| !k.starts_with("__ferry:"))
            .collect();
        names.sort();
        for k in names {
            let dump = common::parse_one(&c.cmd(&["DUMP", &k]))
                .as_bytes()
                .unwrap_or_default();
            let ttl = common::parse_one(&c.cmd(&["PTTL", &k]))
                .as_int()
                .unwrap_or(-2)
                > 0;
            out.push((format!("{db}/{k}"), dump, ttl));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

fn wait_equal(src: &mut RawConn, dst: &mut RawConn, log: &std::path::Path) {
    wait_same(|| contents(src), || contents(dst), log);
}

fn writes(c: &mut RawConn, round: usize) {
    for i in 0..200 {
        c.cmd(&["SET", &format!("s:{}", i % 50), &format!("v{round}-{i}")]);
        c.cmd(&["INCR", "counter"]);
        c.cmd(&["RPUSH", "list", &i.to_string()]);
        c.cmd(&["HSET", &format!("h:{}", i % 10), "f", &i.to_string()]);
        c.cmd(&["ZADD", "z", &i.to_string(), &format!("m{}", i % 30)]);
        c.cmd(&["SADD", "set", &format!("{}", i % 40)]);
        c.cmd(&["XADD", "stream", "*", "i", &i.to_string()]);
        if i % 20 == 0 {
            c.cmd(&["DEL", &format!("h:{}", i % 10)]);
            c.cmd(&["SET", &format!("ttl:{i}"), "x", "EX", "1000"]);
        }
    }
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", &format!("db2:{round}"), "two"]);
    c.cmd(&["INCR", "db2:counter"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "counter"]);
    c.cmd(&["LPUSH", "list", "tx"]);
    c.cmd(&["EXEC"]);
}

fn scenario(target_port: u16, target: &mut RawConn) {
    let src = RedisProc::start(DISKLESS_NOW);
    let mut s = src.connect();
    // A snapshot with every type, then the stream.
    s.cmd(&["HSET", "big:h", "a", "1", "b", "2"]);
    s.cmd(&["SET", "snap:ttl", "x", "PX", "100000000"]);
    for i in 0..2000 {
        s.cmd(&["SET", &format!("snap:{i}"), &i.to_string()]);
    }
    s.cmd(&["XADD", "snap:stream", "*", "a", "1"]);
    s.cmd(&["XGROUP", "CREATE", "snap:stream", "g", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync(src.port(), target_port, &log);
    writes(&mut s, 1);
    wait_equal(&mut s, target, &log);
    assert_logged(&log, "full resync");
    // Progress lines report the lag against the source's own offset.
    let started = Instant::now();
    while !common::read_file_lossy(&log).contains("lag 0 bytes") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no caught-up progress line:\n{}",
            common::read_file_lossy(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Killed mid-stream: the writes go on; the restart continues.
    writes(&mut s, 2);
    common::kill_child(&mut sync);
    writes(&mut s, 3);
    let log2 = dir.path().join("sync2.log");
    // Tiny batches: every batch boundary, between a SELECT and its
    // commands too, must keep the database right.
    let mut sync = start_sync_with(src.port(), target_port, &log2, &["--batch", "3"]);
    writes(&mut s, 4);
    wait_equal(&mut s, target, &log2);
    let master_log = src.log();
    assert!(
        master_log.contains("Partial resynchronization request from")
            && master_log.contains("accepted"),
        "the master did not log a partial resync:\n{master_log}"
    );
    assert_logged(&log2, "partial resync accepted");
    // WAIT on the master counts ferry sync as a replica (its REPLCONF ACKs).
    s.cmd(&["SET", "waited", "1"]);
    let acked = common::parse_one(&s.cmd(&["WAIT", "1", "5000"])).as_int();
    assert_eq!(acked, Some(1), "WAIT did not see ferry sync");
    // The master drops the link (as on a network cut): ferry sync
    // reconnects by itself and continues with a partial resync.
    s.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    writes(&mut s, 5);
    wait_equal(&mut s, target, &log2);
    assert!(
        common::read_file_lossy(&log2).contains("partial resync accepted by 127.0.0.1")
            && common::read_file_lossy(&log2).contains("after reconnecting"),
        "{}",
        common::read_file_lossy(&log2)
    );
    assert!(
        src.log()
            .matches("Partial resynchronization request from")
            .count()
            >= 2,
        "{}",
        src.log()
    );
    let counter = |c: &mut RawConn| common::parse_one(&c.cmd(&["GET", "counter"])).as_str();
    assert_eq!(counter(&mut s), Some("1005".to_string()));
    assert_eq!(
        counter(target),
        counter(&mut s),
        "a command was applied twice or lost"
    );
    common::kill_child(&mut sync);
}

#[test]
fn sync_to_redis_follows_the_stream_and_resumes_with_a_partial_resync() {
    let dst = RedisProc::start(&[]);
    let mut d = dst.connect();
    scenario(dst.port(), &mut d);
}

/// A source reached over TLS (`rediss://`): a self-signed certificate is
/// refused with a message naming `#insecure`; with it, the snapshot and
/// the stream arrive, and a killed `ferry sync` resumes with a partial
/// resync over TLS too.
#[test]
fn sync_from_a_tls_source() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = common::self_signed_cert(dir.path());
    let tls_port = common::free_port();
    let mut args = common::tls_server_args(tls_port, &key, &cert);
    args.extend(DISKLESS_NOW.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let src = RedisProc::start(&args);
    let mut s = src.connect();
    for i in 0..300 {
        s.cmd(&["SET", &format!("snap:{i}"), &i.to_string()]);
    }
    let dst = RedisProc::start(&[]);
    let to = format!("redis://127.0.0.1:{}", dst.port());
    let strict = Command::new(common::ferry_binary())
        .args(["sync", "--from", &format!("rediss://127.0.0.1:{tls_port}")])
        .args(["--to", &to, "--name", "t"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success(), "{err}");
    assert!(
        err.contains("certificate") && err.contains("#insecure"),
        "{err}"
    );
    let from = format!("rediss://127.0.0.1:{tls_port}#insecure");
    let log = dir.path().join("sync.log");
    let mut sync = start_sync_to(&from, &to, &log, &[]);
    writes(&mut s, 1);
    let mut d = dst.connect();
    wait_equal(&mut s, &mut d, &log);
    common::kill_child(&mut sync);
    writes(&mut s, 2);
    let log2 = dir.path().join("sync2.log");
    let mut sync = start_sync_to(&from, &to, &log2, &[]);
    writes(&mut s, 3);
    wait_equal(&mut s, &mut d, &log2);
    assert_logged(&log2, "partial resync accepted");
    common::kill_child(&mut sync);
}

#[test]
fn sync_refuses_a_target_that_is_not_empty_and_a_missing_source() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    // A key in another database than 0 counts too.
    let mut d = dst.connect();
    d.cmd(&["SELECT", "5"]);
    d.cmd(&["SET", "already", "here"]);
    let out = Command::new(common::ferry_binary())
        .args([
            "sync",
            "--from",
            &format!("redis://127.0.0.1:{}", src.port()),
        ])
        .args([
            "--to",
            &format!("redis://127.0.0.1:{}", dst.port()),
            "--duration",
            "5",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the target is not empty"), "{err}");
    dst.connect().cmd(&["FLUSHALL"]);
    let port = common::free_port();
    let out = Command::new(common::ferry_binary())
        .args(["sync", "--from", &format!("redis://127.0.0.1:{port}")])
        .args(["--to", &format!("redis://127.0.0.1:{}", dst.port())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    // A replica as the source: its stream would end at its next failover.
    let replica = RedisProc::start(&["--replicaof", "127.0.0.1", &src.port().to_string()]);
    let out = Command::new(common::ferry_binary())
        .args([
            "sync",
            "--from",
            &format!("redis://127.0.0.1:{}", replica.port()),
        ])
        .args(["--to", &format!("redis://127.0.0.1:{}", dst.port())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a replica; give ferry sync its master"),
        "{err}"
    );
    // A store file as the source is refused up front.
    let to = format!("redis://127.0.0.1:{}", dst.port());
    let (code, err) = common::ferry_output(&["sync", "--from", "./some.db", "--to", &to]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("a ferry store file has no replication stream"),
        "{err}"
    );
}

#[test]
fn sync_into_ferry() {
    let dst = FerryProc::start(FerryOpts::default());
    scenario_ferry(dst.port());
}

/// Into ferry the DUMP bytes may differ (ferry picks its own encodings):
/// compare values through the snapshot and the stream by reading them.
fn scenario_ferry(target_port: u16) {
    let src = RedisProc::start(DISKLESS_NOW);
    let mut s = src.connect();
    for i in 0..500 {
        s.cmd(&["SET", &format!("snap:{i}"), &i.to_string()]);
    }
    s.cmd(&["HSET", "h", "a", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync(src.port(), target_port, &log);
    writes(&mut s, 1);
    let mut t = RawConn::connect(target_port);
    let started = Instant::now();
    loop {
        let got = common::parse_one(&t.cmd(&["GET", "counter"])).as_str();
        if got.as_deref() == Some("201") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "counter {got:?}; log:\n{}",
            common::read_file_lossy(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for k in ["snap:7", "snap:499", "s:3", "s:49"] {
        assert_eq!(
            common::parse_one(&t.cmd(&["GET", k])).as_str(),
            common::parse_one(&s.cmd(&["GET", k])).as_str(),
            "{k}"
        );
    }
    assert_eq!(
        common::parse_one(&t.cmd(&["LLEN", "list"])).as_int(),
        common::parse_one(&s.cmd(&["LLEN", "list"])).as_int()
    );
    common::kill_child(&mut sync);
}

fn role_is_master(c: &mut RawConn) -> bool {
    common::parse_one(&c.cmd(&["INFO", "replication"]))
        .as_str()
        .is_some_and(|i| i.contains("role:master"))
}

/// The log of ferry sync holds `needle` (the log is the failure message).
#[track_caller]
fn assert_logged(log: &Path, needle: &str) {
    let text = common::read_file_lossy(log);
    assert!(text.contains(needle), "{needle:?} not in the log:\n{text}");
}

fn wait_for(what: &str, log: &std::path::Path, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}; ferry sync log:\n{}",
            common::read_file_lossy(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The master fails over twice mid-stream: first a planned FAILOVER (the
/// old master becomes a replica of the new one), then the new master is
/// killed and the old one promoted by hand (REPLICAOF NO ONE, what
/// Sentinel does). ferry sync finds each new master among the replicas it
/// saw and continues with a partial resync; nothing is lost or doubled.
#[test]
fn sync_follows_a_failover_of_the_source() {
    let a = RedisProc::start(DISKLESS_NOW);
    let a_port = a.port().to_string();
    let b = RedisProc::start(&[
        "--replicaof",
        "127.0.0.1",
        &a_port,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let dst = RedisProc::start(&[]);
    let (mut sa, mut sb, mut t) = (a.connect(), b.connect(), dst.connect());
    wait_for("the replica did not link", Path::new("/dev/null"), || {
        common::parse_one(&sb.cmd(&["INFO", "replication"]))
            .as_str()
            .is_some_and(|i| i.contains("master_link_status:up"))
    });
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync(a.port(), dst.port(), &log);
    writes(&mut sa, 1);
    wait_equal(&mut sa, &mut t, &log);
    // ferry sync reads the master's replicas once a second.
    std::thread::sleep(Duration::from_millis(1500));

    // 1. A planned failover: a waits for b to catch up, then swaps roles.
    let reply = common::parse_one(&sa.cmd(&["FAILOVER", "TO", "127.0.0.1", &b.port().to_string()]));
    assert_eq!(reply.as_str().as_deref(), Some("OK"), "{reply:?}");
    wait_for("b did not become the master", &log, || {
        role_is_master(&mut sb)
    });
    writes(&mut sb, 2);
    wait_equal(&mut sb, &mut t, &log);
    let text = common::read_file_lossy(&log);
    assert!(
        text.contains(&format!(
            "127.0.0.1:{} is the master now (failover from 127.0.0.1:{}): partial resync accepted",
            b.port(),
            a.port()
        )),
        "{text}"
    );
    assert!(
        b.log().contains("Partial resynchronization request from"),
        "{}",
        b.log()
    );

    // 2. b dies after everyone has its writes; a is promoted by hand.
    std::thread::sleep(Duration::from_millis(1500));
    let waited = common::parse_one(&sb.cmd(&["WAIT", "2", "5000"])).as_int();
    assert_eq!(waited, Some(2), "a and ferry sync did not both acknowledge");
    drop(sb);
    drop(b);
    let mut sa = a.connect();
    wait_for("a did not notice", &log, || {
        common::parse_one(&sa.cmd(&["INFO", "replication"]))
            .as_str()
            .is_some_and(|i| i.contains("master_link_status:down"))
    });
    sa.cmd(&["REPLICAOF", "NO", "ONE"]);
    writes(&mut sa, 3);
    wait_equal(&mut sa, &mut t, &log);
    let text = common::read_file_lossy(&log);
    assert!(
        text.contains(&format!("127.0.0.1:{} is the master now", a.port())),
        "{text}"
    );
    let counter = |c: &mut RawConn| common::parse_one(&c.cmd(&["GET", "counter"])).as_str();
    assert_eq!(counter(&mut sa), Some("603".to_string()));
    assert_eq!(
        counter(&mut t),
        counter(&mut sa),
        "a command was applied twice or lost"
    );
    common::kill_child(&mut sync);
}

/// Every key of database 0 (a cluster node has no other).
fn contents_db0(c: &mut RawConn) -> Vec<(String, Vec<u8>)> {
    let keys = common::parse_one(&c.cmd(&["KEYS", "*"]));
    let mut out: Vec<(String, Vec<u8>)> = keys
        .elements()
        .unwrap_or_default()
        .iter()
        .filter_map(|k| k.as_str())
        .filter(|k| !k.starts_with("__ferry:"))
        .map(|k| {
            let dump = common::parse_one(&c.cmd(&["DUMP", &k]))
                .as_bytes()
                .unwrap_or_default();
            (k, dump)
        })
        .collect();
    out.sort();
    out
}

/// A 3-master cluster (one master with a replica) into one redis-server:
/// one stream per master under a writer, SIGKILL of ferry sync and a
/// restart (a partial resync per master), then a CLUSTER FAILOVER of one
/// shard mid-stream; the target ends equal to the union of the masters.
#[test]
fn sync_from_a_cluster_follows_each_master() {
    let mut cluster = common::cluster::RedisCluster::start();
    let replica = cluster.add_replica(0);
    let masters: Vec<u16> = cluster.ports().to_vec();
    let dst = RedisProc::start(&[]);
    let mut t = dst.connect();
    let client = cluster.client();
    let mut w = client.get_connection().unwrap();
    let write_round = |w: &mut redis::cluster::ClusterConnection, round: usize| {
        for i in 0..300 {
            cluster_writes(w, round, i);
            let _: i64 = redis::cmd("HSET")
                .arg(format!("h:{}", i % 11))
                .arg("f")
                .arg(i)
                .query(w)
                .unwrap();
        }
    };
    write_round(&mut w, 0);
    let union = |ports: &[u16]| {
        let mut all = Vec::new();
        for p in ports {
            all.extend(contents_db0(&mut RawConn::connect(*p)));
        }
        all.sort();
        all
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let spawn = |log: &std::path::Path| {
        Command::new(common::ferry_binary())
            .args(["sync", "--from", &cluster.url()])
            .arg("--to")
            .arg(format!("redis://127.0.0.1:{}", dst.port()))
            .args(["--name", "c", "--progress-every", "1"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    };
    let mut sync = spawn(&log);
    let wait_same = |t: &mut RawConn, ports: &[u16], log: &std::path::Path| {
        let started = Instant::now();
        loop {
            let (a, b) = (union(ports), contents_db0(t));
            if a == b {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the target did not catch up: {} vs {} keys\nferry sync log:\n{}",
                a.len(),
                b.len(),
                common::read_file_lossy(log)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    write_round(&mut w, 1);
    wait_same(&mut t, &masters, &log);
    let text = common::read_file_lossy(&log);
    assert_eq!(text.matches("full resync from").count(), 3, "{text}");
    // Three checkpoints, one per shard.
    let ck = common::parse_one(&t.cmd(&["KEYS", "__ferry:sync:{c}:slots-*"]));
    assert_eq!(ck.elements().map(|e| e.len()), Some(3), "{ck:?}");

    // Killed and restarted: each master continues where its stream was.
    write_round(&mut w, 2);
    common::kill_child(&mut sync);
    write_round(&mut w, 3);
    let log2 = dir.path().join("sync2.log");
    let mut sync = spawn(&log2);
    write_round(&mut w, 4);
    wait_same(&mut t, &masters, &log2);
    let text = common::read_file_lossy(&log2);
    assert_eq!(
        text.matches("partial resync accepted by").count(),
        3,
        "{text}"
    );

    // A shard fails over: its replica takes the slots.
    let mut r = RawConn::connect(replica);
    let reply = common::parse_one(&r.cmd(&["CLUSTER", "FAILOVER"]));
    assert_eq!(reply.as_str().as_deref(), Some("OK"), "{reply:?}");
    wait_for("the replica did not take over", &log2, || {
        role_is_master(&mut r)
    });
    // The cluster client learns the new map after a MOVED.
    let mut w = client.get_connection().unwrap();
    write_round(&mut w, 5);
    let now_masters = [replica, masters[1], masters[2]];
    wait_same(&mut t, &now_masters, &log2);
    let text = common::read_file_lossy(&log2);
    assert!(
        text.contains(&format!("127.0.0.1:{replica} is the master now")),
        "{text}"
    );
    let c0: Option<String> = redis::cmd("GET").arg("c:0").query(&mut w).unwrap();
    assert_eq!(
        c0.as_deref(),
        Some("258"),
        "300/7 rounded up, times 6 rounds"
    );
    common::kill_child(&mut sync);
}

/// --filter-key, --filter-db and --skip-command on the snapshot and the
/// stream; a mixed MSET is applied whole and counted.
#[test]
fn sync_filters_keys_databases_and_commands() {
    let src = RedisProc::start(DISKLESS_NOW);
    let dst = RedisProc::start(&[]);
    let (mut s, mut t) = (src.connect(), dst.connect());
    for k in ["user:1", "user:2", "order:1"] {
        s.cmd(&["SET", k, "snap"]);
    }
    s.cmd(&["SELECT", "3"]);
    s.cmd(&["SET", "user:9", "db3"]);
    s.cmd(&["SELECT", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let http = common::free_port();
    let http_addr = format!("127.0.0.1:{http}");
    let mut sync = start_sync_with(
        src.port(),
        dst.port(),
        &log,
        &[
            "--filter-key",
            "user:*",
            "--filter-db",
            "0",
            "--skip-command",
            "del",
            "--http",
            &http_addr,
        ],
    );
    wait_for("the snapshot was not applied", &log, || {
        common::read_file_lossy(&log).contains("snapshot applied")
    });
    s.cmd(&["SET", "user:3", "stream"]);
    s.cmd(&["SET", "order:2", "stream"]);
    s.cmd(&["DEL", "user:2"]);
    s.cmd(&["MSET", "user:4", "m", "order:4", "m"]);
    s.cmd(&["SELECT", "3"]);
    s.cmd(&["SET", "user:10", "db3"]);
    s.cmd(&["SELECT", "0"]);
    s.cmd(&["SET", "user:last", "x"]);
    wait_for("user:last never arrived", &log, || {
        common::parse_one(&t.cmd(&["GET", "user:last"]))
            .as_str()
            .is_some()
    });
    let got: Vec<(String, Vec<u8>)> = contents_db0(&mut t);
    let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "order:4",
            "user:1",
            "user:2",
            "user:3",
            "user:4",
            "user:last"
        ],
        "user:2's DEL skipped, order:4 came with the mixed MSET"
    );
    t.cmd(&["SELECT", "3"]);
    assert_eq!(common::parse_one(&t.cmd(&["DBSIZE"])).as_int(), Some(0));
    wait_for("no progress line with the filter counts", &log, || {
        let text = common::read_file_lossy(&log);
        text.contains("filtered out, 1 mixed")
    });
    assert!(
        common::read_file_lossy(&log).contains("MSET names keys inside and outside --filter-key")
    );
    // The dashboard (updated once a second): the stream phase, the two
    // snapshot keys (user:1 and user:2, in database 0 before database 3's
    // user:9), the three commands applied (SET user:3, the MSET, SET
    // user:last), the lag measured.
    let started = Instant::now();
    loop {
        let (status, body) = common::http::http_get(http, "/metrics").unwrap();
        assert_eq!(status, 200, "{body}");
        let m = common::http::parse_metrics(&body);
        let ok = m.get(r#"ferry_phase_info{phase="stream"}"#) == Some(&1.0)
            && m.get("ferry_keys_done_total") == Some(&2.0)
            && m.get("ferry_commands_total") == Some(&3.0)
            && m.contains_key("ferry_lag_bytes");
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{body}\n{}",
            common::read_file_lossy(&log)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    common::kill_child(&mut sync);
}

// ---------------------------------------------------------------------------
// Into a Redis Cluster.

/// Every key of database 0 (ferry's checkpoints left out) with its DUMP and
/// whether it has a TTL.
fn keys_ttl(c: &mut RawConn) -> Vec<(String, Vec<u8>, bool)> {
    contents_db0(c)
        .into_iter()
        .map(|(k, dump)| {
            let ttl = common::parse_one(&c.cmd(&["PTTL", &k]))
                .as_int()
                .unwrap_or(-2)
                > 0;
            (k, dump, ttl)
        })
        .collect()
}

/// The keys of every node of a cluster, together.
fn keys_of_nodes(ports: &[u16]) -> Vec<(String, Vec<u8>, bool)> {
    let mut all = Vec::new();
    for p in ports {
        all.extend(keys_ttl(&mut RawConn::connect(*p)));
    }
    all.sort();
    all
}

type Keys = Vec<(String, Vec<u8>, bool)>;

/// Waits until `target()` equals `source()` (bounded).
fn wait_same(mut source: impl FnMut() -> Keys, mut target: impl FnMut() -> Keys, log: &Path) {
    let started = Instant::now();
    loop {
        let (a, b) = (source(), target());
        if a == b {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let missing: Vec<&String> = a
                .iter()
                .filter(|x| !b.contains(x))
                .map(|x| &x.0)
                .take(5)
                .collect();
            let extra: Vec<&String> = b
                .iter()
                .filter(|x| !a.contains(x))
                .map(|x| &x.0)
                .take(5)
                .collect();
            panic!(
                "the target did not catch up: {} vs {} keys, differing {missing:?}, extra {extra:?}\nferry sync log:\n{}",
                a.len(),
                b.len(),
                common::read_file_lossy(log)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_sync_to(from: &str, to: &str, log: &Path, extra: &[&str]) -> Child {
    Command::new(common::ferry_binary())
        .args(["sync", "--from", from, "--to", to])
        .args(["--name", "t", "--progress-every", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Writes of every type into one master, many of them across slots: MSET
/// and DEL of keys in several slots, and a transaction whose keys live on
/// several nodes.
fn writes_across_slots(c: &mut RawConn, round: usize) {
    for i in 0..150 {
        c.cmd(&["SET", &format!("s:{}", i % 50), &format!("v{round}-{i}")]);
        c.cmd(&["INCR", "counter"]);
        c.cmd(&["RPUSH", &format!("list:{}", i % 3), &i.to_string()]);
        c.cmd(&["HSET", &format!("h:{}", i % 10), "f", &i.to_string()]);
        c.cmd(&["ZADD", "z", &i.to_string(), &format!("m{}", i % 30)]);
        c.cmd(&["SADD", &format!("set:{}", i % 4), &format!("{}", i % 40)]);
        c.cmd(&["XADD", "stream", "*", "i", &i.to_string()]);
        if i % 10 == 0 {
            c.cmd(&["SET", &format!("ttl:{i}"), "x", "EX", "1000"]);
            c.cmd(&["PEXPIRE", &format!("h:{}", (i + 3) % 10), "5000000"]);
            c.cmd(&[
                "MSET",
                &format!("m:a{i}"),
                "1",
                &format!("m:b{i}"),
                &format!("{round}"),
                &format!("m:c{i}"),
                "3",
            ]);
            c.cmd(&[
                "DEL",
                &format!("h:{}", (i + 1) % 10),
                &format!("s:{}", (i + 7) % 50),
                &format!("m:a{i}"),
            ]);
            c.cmd(&["MULTI"]);
            c.cmd(&["INCR", "counter"]);
            c.cmd(&["LPUSH", "list:0", "tx"]);
            c.cmd(&["SET", &format!("s:{}", i % 50), "tx"]);
            c.cmd(&["HINCRBY", "h:5", "n", "1"]);
            c.cmd(&["EXEC"]);
        }
    }
}

/// The stream's checkpoint (the floor) on a cluster target.
fn floor(client: &redis::cluster::ClusterClient, key: &str) -> Option<String> {
    let mut c = client.get_connection().unwrap();
    redis::cmd("HGET")
        .arg(key)
        .arg("offset")
        .query(&mut c)
        .unwrap()
}

/// The number in "N slot(s) of the target are past the checkpoint".
fn slots_ahead(log: &Path) -> Option<usize> {
    let text = common::read_file_lossy(log);
    let at = text.find(" slot(s) of the target are past the checkpoint")?;
    text[..at].rsplit(' ').next()?.parse().ok()
}

/// A standalone master into a 3-master cluster under a writer of every
/// type; ferry sync is SIGKILLed while the writer runs, and the restart's
/// floor is moved back to an older point of the stream, so everything
/// since must be skipped by the slots' own checkpoints: the restart is a
/// partial resync and nothing is applied twice (the counter and every
/// key's DUMP match).
#[test]
fn sync_into_a_cluster_resumes_with_per_slot_checkpoints() {
    let src = RedisProc::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "64mb",
    ]);
    let cluster = common::cluster::RedisCluster::start();
    let mut s = src.connect();
    s.cmd(&["HSET", "snap:h", "a", "1", "b", "2"]);
    s.cmd(&["SET", "snap:ttl", "x", "PX", "100000000"]);
    for i in 0..1000 {
        s.cmd(&["SET", &format!("snap:{i}"), &i.to_string()]);
    }
    s.cmd(&["XADD", "snap:stream", "*", "a", "1"]);
    s.cmd(&["XGROUP", "CREATE", "snap:stream", "g", "0"]);
    s.cmd(&["ZADD", "snap:z", "1", "a", "2", "b"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let from = format!("redis://127.0.0.1:{}", src.port());
    let mut sync = start_sync_to(&from, &cluster.url(), &log, &[]);
    writes_across_slots(&mut s, 1);
    let ports = cluster.ports().to_vec();
    wait_same(|| keys_ttl(&mut s), || keys_of_nodes(&ports), &log);
    assert_logged(&log, "full resync");
    // Every node holds data.
    for p in &ports {
        assert!(
            !keys_ttl(&mut RawConn::connect(*p)).is_empty(),
            "node {p} is empty"
        );
    }
    let client = cluster.client();
    let old_floor = floor(&client, "__ferry:sync:{t}").expect("the stream's checkpoint");

    // Killed while the writer runs, once the stream has reached the target.
    let port = src.port();
    let writer = std::thread::spawn(move || {
        let mut c = RawConn::connect(port);
        writes_across_slots(&mut c, 2);
        writes_across_slots(&mut c, 3);
    });
    let mut c = client.get_connection().unwrap();
    wait_for("the stream did not reach the target", &log, || {
        let n: Option<i64> = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
        n.is_some_and(|n| n > 165)
    });
    common::kill_child(&mut sync);
    writer.join().unwrap();
    // As if the kill had come long after the last floor was written.
    let _: () = redis::cmd("HSET")
        .arg("__ferry:sync:{t}")
        .arg("offset")
        .arg(&old_floor)
        .query(&mut c)
        .unwrap();
    let log2 = dir.path().join("sync2.log");
    let mut sync = start_sync_to(&from, &cluster.url(), &log2, &["--batch", "5"]);
    writes_across_slots(&mut s, 4);
    wait_same(|| keys_ttl(&mut s), || keys_of_nodes(&ports), &log2);
    let master_log = src.log();
    assert!(
        master_log.contains("Partial resynchronization request from")
            && master_log.contains("accepted"),
        "the master did not log a partial resync:\n{master_log}"
    );
    assert_eq!(
        master_log.matches("Full resync requested").count(),
        1,
        "{master_log}"
    );
    let ahead = slots_ahead(&log2);
    assert!(
        ahead.is_some_and(|n| n > 0),
        "no slot was ahead of the rewound floor: {ahead:?}\n{}\nthe first run:\n{}",
        common::read_file_lossy(&log2),
        common::read_file_lossy(&log)
    );
    let counter = |c: &mut RawConn| common::parse_one(&c.cmd(&["GET", "counter"])).as_str();
    assert_eq!(counter(&mut s), Some("660".to_string()));
    let got: Option<String> = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(got, counter(&mut s), "a command was applied twice or lost");
    common::kill_child(&mut sync);
}

/// A 3-master cluster into another: one stream per source master, each
/// with checkpoints of its own, a kill and a restart.
#[test]
fn sync_from_a_cluster_into_a_cluster() {
    let source = common::cluster::RedisCluster::start();
    let target = common::cluster::RedisCluster::start();
    let mut w = source.client().get_connection().unwrap();
    let write_round = |w: &mut redis::cluster::ClusterConnection, round: usize| {
        for i in 0..200 {
            cluster_writes(w, round, i);
            let _: () = redis::cmd("MSET")
                .arg(format!("{{u{}}}a", i % 9))
                .arg(round)
                .arg(format!("{{u{}}}b", i % 9))
                .arg(i)
                .query(w)
                .unwrap();
        }
    };
    write_round(&mut w, 0);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync_to(&source.url(), &target.url(), &log, &[]);
    write_round(&mut w, 1);
    let (sp, tp) = (source.ports().to_vec(), target.ports().to_vec());
    wait_same(|| keys_of_nodes(&sp), || keys_of_nodes(&tp), &log);
    let text = common::read_file_lossy(&log);
    assert_eq!(text.matches("full resync from").count(), 3, "{text}");
    write_round(&mut w, 2);
    common::kill_child(&mut sync);
    write_round(&mut w, 3);
    let log2 = dir.path().join("sync2.log");
    let mut sync = start_sync_to(&source.url(), &target.url(), &log2, &["--batch", "4"]);
    write_round(&mut w, 4);
    wait_same(|| keys_of_nodes(&sp), || keys_of_nodes(&tp), &log2);
    let text = common::read_file_lossy(&log2);
    assert_eq!(
        text.matches("partial resync accepted by").count(),
        3,
        "{text}"
    );
    // Each stream's slot checkpoints are its own (named after the source
    // shard's first slot) and only in that shard's slots.
    let mut shards = std::collections::BTreeSet::new();
    for p in &tp {
        let keys = common::parse_one(&RawConn::connect(*p).cmd(&["KEYS", "__ferry:sync:*slot-*"]));
        for k in keys.elements().unwrap_or_default() {
            let k = k.as_str().unwrap_or_default();
            let shard = k.split(":slots-").nth(1).and_then(|r| r.split(':').next());
            shards.insert(shard.unwrap_or("none").to_string());
        }
    }
    assert_eq!(shards.len(), 3, "{shards:?}");
    let mut t = target.client().get_connection().unwrap();
    let c0: Option<String> = redis::cmd("GET").arg("c:0").query(&mut t).unwrap();
    assert_eq!(
        c0.as_deref(),
        Some("145"),
        "200/7 rounded up, times 5 rounds"
    );
    common::kill_child(&mut sync);
}

/// FLUSHALL on the source mid-stream empties every node of the target
/// (ferry's checkpoints kept); a restart from before it does not erase
/// what came after. A source with keys in another database than 0 is
/// refused unless --filter-db 0 leaves them out.
#[test]
fn sync_into_a_cluster_applies_flushall_on_every_node() {
    let src = RedisProc::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "64mb",
    ]);
    let cluster = common::cluster::RedisCluster::start();
    let mut s = src.connect();
    s.cmd(&["SELECT", "1"]);
    s.cmd(&["SET", "elsewhere", "1"]);
    s.cmd(&["SELECT", "0"]);
    let from = format!("redis://127.0.0.1:{}", src.port());
    let (code, out) = common::ferry_output(&["sync", "--from", &from, "--to", &cluster.url()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("pass --filter-db 0"), "{out}");

    for i in 0..300 {
        s.cmd(&["SET", &format!("before:{i}"), "x"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync_to(&from, &cluster.url(), &log, &["--filter-db", "0"]);
    for i in 0..300 {
        s.cmd(&["HSET", &format!("h:{i}"), "f", "v"]);
    }
    let ports = cluster.ports().to_vec();
    wait_same(|| keys_ttl(&mut s), || keys_of_nodes(&ports), &log);
    let client = cluster.client();
    let old_floor = floor(&client, "__ferry:sync:{t}").expect("the stream's checkpoint");
    s.cmd(&["FLUSHALL"]);
    s.cmd(&["SELECT", "1"]);
    s.cmd(&["SET", "still-elsewhere", "1"]);
    s.cmd(&["SELECT", "0"]);
    for i in 0..100 {
        s.cmd(&["SET", &format!("after:{i}"), "y"]);
    }
    wait_same(|| keys_ttl(&mut s), || keys_of_nodes(&ports), &log);
    for p in &ports {
        let keys = keys_ttl(&mut RawConn::connect(*p));
        assert!(
            !keys.is_empty() && keys.iter().all(|(k, _, _)| k.starts_with("after:")),
            "node {p}: {:?}",
            keys.iter().map(|k| &k.0).take(5).collect::<Vec<_>>()
        );
    }
    // Restarted from before the FLUSHALL: it is replayed, and must leave
    // the keys written after it.
    common::kill_child(&mut sync);
    let mut c = client.get_connection().unwrap();
    let _: () = redis::cmd("HSET")
        .arg("__ferry:sync:{t}")
        .arg("offset")
        .arg(&old_floor)
        .query(&mut c)
        .unwrap();
    let log2 = dir.path().join("sync2.log");
    let mut sync = start_sync_to(&from, &cluster.url(), &log2, &["--filter-db", "0"]);
    s.cmd(&["SET", "after:last", "z"]);
    wait_same(|| keys_ttl(&mut s), || keys_of_nodes(&ports), &log2);
    assert_logged(&log2, "partial resync accepted");
    common::kill_child(&mut sync);
}

/// A source whose full resync goes through a file (`repl-diskless-sync
/// no`: the length-prefixed `$<len>` form, where the other tests get the
/// diskless `$EOF:<mark>` form): keys of every type, expiry, two
/// databases and a function library arrive, then the stream.
#[test]
fn sync_from_a_disk_based_snapshot() {
    let src = RedisProc::start(&["--repl-diskless-sync", "no"]);
    let dst = RedisProc::start(&[]);
    let (mut s, mut d) = (src.connect(), dst.connect());
    s.cmd(&["HSET", "big:h", "a", "1", "b", "2"]);
    s.cmd(&["SET", "snap:ttl", "x", "PX", "100000000"]);
    for i in 0..2000 {
        s.cmd(&["SET", &format!("snap:{i}"), &i.to_string()]);
        s.cmd(&["RPUSH", "snap:list", &format!("element {i}")]);
    }
    s.cmd(&["SET", "snap:big", &"v".repeat(300_000)]);
    s.cmd(&["XADD", "snap:stream", "*", "a", "1"]);
    s.cmd(&["XGROUP", "CREATE", "snap:stream", "g", "0"]);
    s.cmd(&["SELECT", "2"]);
    s.cmd(&["SET", "db2:snap", "two"]);
    s.cmd(&["SELECT", "0"]);
    s.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=disklib\nredis.register_function('diskf', function() return 2 end)",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sync.log");
    let mut sync = start_sync(src.port(), dst.port(), &log);
    writes(&mut s, 1);
    wait_equal(&mut s, &mut d, &log);
    let text = common::read_file_lossy(&log);
    assert!(
        text.contains("full resync") && text.contains("bytes, applied as it arrives"),
        "not a length-prefixed snapshot:\n{text}"
    );
    assert!(
        src.log()
            .contains("Starting BGSAVE for SYNC with target: disk"),
        "{}",
        src.log()
    );
    assert_eq!(
        common::parse_one(&d.cmd(&["FCALL", "diskf", "0"])).as_int(),
        Some(2)
    );
    common::kill_child(&mut sync);
}

/// ferry sync's memory while a snapshot of about 416 MB arrives stays far
/// below the snapshot's size: the keys are RESTOREd as they arrive (the
/// source sends it uncompressed, diskless, and also length-prefixed).
/// Held whole, the old way, the bytes alone were 416 MB; read as they
/// arrive, the peak is the process itself (about 26 MB in a debug build),
/// the read-ahead and pipelines in flight, and the 16 MB key a few times
/// over (the reader's buffer, the RESTORE command, the packed pipeline,
/// the connection's write buffer): 99 to 142 MB measured with 180 values
/// of 1 MB, and it does not grow with their number.
#[test]
fn sync_memory_stays_bounded_while_a_large_snapshot_arrives() {
    for diskless in ["yes", "no"] {
        let src = RedisProc::start(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
            "--rdbcompression",
            "no",
            "--enable-debug-command",
            "local",
        ]);
        let dst = RedisProc::start(&[]);
        let (mut s, mut d) = (src.connect(), dst.connect());
        // 400 values of 1 MB and one of 16 MB: 416 MB, twice the bound.
        let populated = s.cmd(&["DEBUG", "POPULATE", "400", "big", "1000000"]);
        assert_eq!(
            populated,
            b"+OK\r\n",
            "{}",
            String::from_utf8_lossy(&populated)
        );
        s.cmd(&["SETRANGE", "huge", "16000000", "end"]);
        assert_eq!(
            common::parse_one(&s.cmd(&["DBSIZE"])).as_int(),
            Some(401),
            "the source's dataset"
        );
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sync.log");
        let mut sync = start_sync(src.port(), dst.port(), &log);
        wait_for("the snapshot was not applied", &log, || {
            common::read_file_lossy(&log).contains("snapshot applied")
        });
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", sync.id())).unwrap_or_default();
        let peak_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in\n{status}"));
        let text = common::read_file_lossy(&log);
        assert!(
            text.contains("snapshot of 41") && text.contains("bytes read"),
            "{text}"
        );
        assert_eq!(
            common::parse_one(&d.cmd(&["DBSIZE"])).as_int(),
            Some(402),
            "400 + huge + the checkpoint"
        );
        assert_eq!(
            common::parse_one(&d.cmd(&["STRLEN", "huge"])).as_int(),
            Some(16_000_003)
        );
        common::kill_child(&mut sync);
        assert!(
            peak_kb < 200 * 1024,
            "repl-diskless-sync {diskless}: ferry sync peaked at {} MB for a ~416 MB snapshot",
            peak_kb / 1024
        );
        eprintln!(
            "repl-diskless-sync {diskless}: ferry sync peaked at {} MB",
            peak_kb / 1024
        );
    }
}

/// The writes every cluster round of these tests makes for its `i`th step:
/// a SET, an INCR of one of 7 counters, an RPUSH to one of 5 lists.
fn cluster_writes(w: &mut redis::cluster::ClusterConnection, round: usize, i: usize) {
    let _: () = redis::cmd("SET")
        .arg(format!("k:{i}"))
        .arg(format!("{round}-{i}"))
        .query(w)
        .unwrap();
    let _: i64 = redis::cmd("INCR")
        .arg(format!("c:{}", i % 7))
        .query(w)
        .unwrap();
    let _: i64 = redis::cmd("RPUSH")
        .arg(format!("l:{}", i % 5))
        .arg(i)
        .query(w)
        .unwrap();
}
