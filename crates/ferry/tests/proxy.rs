//! `ferry proxy` (issue 12) between two real redis-servers: a client
//! workload of every kind of write through the proxy in dual-write mode
//! while the secondary is killed and restarted (the backlog replays, the
//! stores end equal); switched mode mirrors back; pub/sub, blocking pops,
//! transactions (aborted ones are not mirrored) and bad input pass
//! through as the store answers them.

mod common;

use common::{RawConn, RedisProc};
use redis::Commands;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The secondary keeps every acknowledged write over a kill -9.
const DURABLE: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

struct Proxy {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        common::kill_child(&mut self.child);
    }
}

impl Proxy {
    fn start(primary: u16, secondary: u16, mode: &str) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        Proxy::start_in(dir, port, primary, secondary, mode, &[])
    }

    /// kill -9, then the same proxy again (same port, same backlog).
    fn kill9_and_restart(self, primary: u16, secondary: u16, mode: &str) -> Proxy {
        let mut me = self;
        common::kill_child(&mut me.child);
        let dir = tempfile::tempdir().unwrap();
        let old = std::mem::replace(&mut me._dir, dir);
        let port = me.port;
        drop(me);
        Proxy::start_in(old, port, primary, secondary, mode, &[])
    }

    fn start_in(
        dir: tempfile::TempDir,
        port: u16,
        primary: u16,
        secondary: u16,
        mode: &str,
        extra: &[&str],
    ) -> Proxy {
        Proxy::start_urls(
            dir,
            port,
            &format!("redis://127.0.0.1:{primary}"),
            &format!("redis://127.0.0.1:{secondary}"),
            mode,
            extra,
        )
    }

    fn start_urls(
        dir: tempfile::TempDir,
        port: u16,
        primary: &str,
        secondary: &str,
        mode: &str,
        extra: &[&str],
    ) -> Proxy {
        // One log per start (a restarted proxy writes its own).
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let log = dir.path().join(format!("proxy-{n}.log"));
        let child = Command::new(common::ferry_binary())
            .args(["proxy", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--primary", primary, "--secondary", secondary])
            .args(["--mode", mode, "--status-every", "1"])
            .args(extra)
            .arg("--backlog")
            .arg(dir.path().join("backlog"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the proxy did not listen:\n{}",
                common::read_file_lossy(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        let con = c
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        con
    }

    fn log(&self) -> String {
        common::read_file_lossy(&self.log)
    }
}

/// Every key of a database as logical values (sets and hashes sorted:
/// their DUMP order may differ between two servers), with expiry times.
fn logical(port: u16, db: i64) -> BTreeMap<String, (String, i64)> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}")).unwrap();
    let mut c = c
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let keys: Vec<String> = c.keys("*").unwrap();
    let mut out = BTreeMap::new();
    for k in keys.into_iter().filter(|k| !k.starts_with("__ferry:")) {
        let ty: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
        let v = match ty.as_str() {
            "string" => c.get::<_, Vec<u8>>(&k).map(|v| format!("{v:?}")).unwrap(),
            "list" => format!("{:?}", c.lrange::<_, Vec<String>>(&k, 0, -1).unwrap()),
            "set" => {
                let mut m: Vec<String> = c.smembers(&k).unwrap();
                m.sort();
                format!("{m:?}")
            }
            "hash" => format!(
                "{:?}",
                c.hgetall::<_, BTreeMap<String, String>>(&k).unwrap()
            ),
            "zset" => format!(
                "{:?}",
                c.zrange_withscores::<_, Vec<(String, f64)>>(&k, 0, -1)
                    .unwrap()
            ),
            "stream" => {
                let v: redis::Value = redis::cmd("XRANGE")
                    .arg(&k)
                    .arg("-")
                    .arg("+")
                    .query(&mut c)
                    .unwrap();
                format!("{v:?}")
            }
            other => format!("type {other}"),
        };
        let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(&mut c).unwrap();
        out.insert(k, (v, at));
    }
    out
}

fn wait_same(primary: u16, secondary: u16, proxy: &Proxy, dbs: &[i64]) {
    let started = Instant::now();
    loop {
        let same = dbs
            .iter()
            .all(|db| logical(primary, *db) == logical(secondary, *db));
        if same {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            for db in dbs {
                let (a, b) = (logical(primary, *db), logical(secondary, *db));
                let diff: Vec<_> = a
                    .iter()
                    .filter(|(k, v)| b.get(*k) != Some(v))
                    .take(5)
                    .collect();
                let mut diff = format!("{diff:?}");
                if diff.len() > 2000 {
                    diff.truncate(2000);
                    diff.push_str("...");
                }
                eprintln!(
                    "db {db}: {} vs {} keys; differing on the primary: {diff}",
                    a.len(),
                    b.len()
                );
            }
            panic!("the stores did not end equal; proxy log:\n{}", proxy.log());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One client's writes: shared keys written by every client (order per
/// key matters), counters, lists, sets with SPOP, hashes, sorted sets,
/// expiries, streams with generated ids, transactions, another database.
fn workload(con: &mut redis::Connection, id: usize, round: usize) {
    for i in 0..50 {
        let _: () = con
            .set(format!("shared:{}", i % 10), format!("c{id}-r{round}-{i}"))
            .unwrap();
        let _: i64 = con.incr(format!("count:{}", i % 5), 1).unwrap();
        let _: i64 = con.rpush(format!("list:{id}"), i).unwrap();
        if i % 3 == 0 {
            let _: Option<String> = con.lpop(format!("list:{id}"), None).unwrap();
        }
        let _: i64 = con.sadd("set", format!("m{id}-{round}-{i}")).unwrap();
        if i % 4 == 0 {
            let _: Option<String> = redis::cmd("SPOP").arg("set").query(con).unwrap();
        }
        let _: i64 = con
            .hset(format!("h:{}", i % 7), format!("f{id}"), i)
            .unwrap();
        let _: i64 = con
            .zadd("z", format!("m{}", i % 20), (id * 100 + i) as f64)
            .unwrap();
        if i % 10 == 0 {
            let _: () = redis::cmd("SET")
                .arg(format!("ttl:{id}:{i}"))
                .arg("x")
                .arg("EX")
                .arg(1000)
                .query(con)
                .unwrap();
            let _: i64 = redis::cmd("EXPIRE")
                .arg(format!("h:{}", i % 7))
                .arg(500)
                .query(con)
                .unwrap();
            let _: String = redis::cmd("XADD")
                .arg("stream")
                .arg("*")
                .arg("c")
                .arg(id)
                .query(con)
                .unwrap();
        }
        if i % 10 == 5 {
            let (_, _): (i64, i64) = redis::pipe()
                .atomic()
                .incr("tx:a", 1)
                .incr("tx:b", 1)
                .query(con)
                .unwrap();
        }
    }
    let _: () = redis::cmd("SELECT").arg(3).query(con).unwrap();
    let _: i64 = con.incr("db3:counter", 1).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(con).unwrap();
}

#[test]
fn proxy_dual_write_survives_a_secondary_restart() {
    survives_a_restart_of_the_mirror_target("dual-write");
}

#[test]
fn proxy_read_canary_survives_a_secondary_restart() {
    survives_a_restart_of_the_mirror_target("read-canary:30");
}

#[test]
fn proxy_switched_survives_a_primary_restart() {
    survives_a_restart_of_the_mirror_target("switched");
}

/// Four writers of every type and a blocking consumer through the proxy in
/// `mode` while the store the writes are mirrored to is kill -9'd and
/// restarted: the backlog replays and the stores end logically equal.
fn survives_a_restart_of_the_mirror_target(mode: &str) {
    let switched = mode == "switched";
    let mut primary = RedisProc::start(DURABLE);
    let mut secondary = RedisProc::start(DURABLE);
    let http = common::free_port();
    let proxy = Proxy::start_in(
        tempfile::tempdir().unwrap(),
        common::free_port(),
        primary.port(),
        secondary.port(),
        mode,
        &["--http", &format!("127.0.0.1:{http}")],
    );
    let stop = Arc::new(AtomicBool::new(false));
    // Four writers, and a blocking consumer fed by a producer.
    let writers: Vec<_> = (0..4)
        .map(|id| {
            let mut con = proxy.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) && round < 10_000 {
                    workload(&mut con, id, round);
                    round += 1;
                }
                round
            })
        })
        .collect();
    let consumer = {
        let mut con = proxy.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = 0;
            while !stop.load(Ordering::Relaxed) && got < 100_000 {
                let v: Option<(String, String)> = redis::cmd("BLPOP")
                    .arg("jobs")
                    .arg(0.2)
                    .query(&mut con)
                    .unwrap();
                got += v.is_some() as usize;
            }
            got
        })
    };
    let producer = {
        let mut con = proxy.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 100_000 {
                let _: i64 = con.lpush("jobs", n).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    // The dashboard's metrics count the traffic and show the backlog.
    let (status, body) = common::http::http_get(http, "/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    let m = common::http::parse_metrics(&body);
    assert!(m["ferry_commands_total"] > 0.0, "{body}");
    assert!(m.contains_key("ferry_backlog_entries"), "{body}");
    assert_eq!(
        m.get(&format!(r#"ferry_phase_info{{phase="{mode}"}}"#)),
        Some(&1.0),
        "{body}"
    );
    // The mirror's target dies mid-run; writes keep coming into the
    // backlog; it comes back and the backlog replays.
    let (target, direction) = if switched {
        (&mut primary, "to-primary")
    } else {
        (&mut secondary, "to-secondary")
    };
    let target_port = target.port();
    target.kill9();
    let wait_down = Instant::now();
    while !proxy.log().contains("unreachable") {
        assert!(
            wait_down.elapsed() < Duration::from_secs(10),
            "the mirror did not notice: {}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    target.restart(DURABLE);
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let rounds: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let (got, sent) = (consumer.join().unwrap(), producer.join().unwrap());
    assert!(rounds.iter().all(|r| *r > 0), "{rounds:?}");
    assert!(
        got > 0 && sent > 0,
        "the blocking consumer got {got} of {sent}"
    );
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 3]);
    let log = proxy.log();
    // Reconnected to a store that already had part of the backlog.
    assert!(
        log.lines()
            .filter(|l| l.contains(&format!(
                "mirror {direction} 127.0.0.1:{target_port}: connected"
            )))
            .nth(1)
            .is_some_and(|l| !l.ends_with("up to entry 0")),
        "{log}"
    );
    assert!(log.contains(" 0 mirror errors"), "{log}");
    let total: usize = rounds.iter().sum();
    for store in [&primary, &secondary] {
        assert_eq!(
            common::parse_one(&store.connect().cmd(&["GET", "tx:a"])).as_str(),
            Some((total * 5).to_string())
        );
    }
}

/// The proxy is killed while the secondary is down and its backlog holds
/// writes: the restarted proxy replays them from disk.
#[test]
fn proxy_killed_with_a_backlog_replays_it_after_restart() {
    let primary = RedisProc::start(&[]);
    let mut secondary = RedisProc::start(DURABLE);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let mut con = proxy.client();
    workload(&mut con, 0, 0);
    secondary.kill9();
    for round in 1..4 {
        workload(&mut con, 0, round);
    }
    drop(con);
    let proxy = proxy.kill9_and_restart(primary.port(), secondary.port(), "dual-write");
    secondary.restart(DURABLE);
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 3]);
}

#[test]
fn proxy_switched_mode_serves_the_secondary_and_mirrors_back() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "switched");
    let mut con = proxy.client();
    for round in 0..3 {
        workload(&mut con, 0, round);
    }
    // Served by the secondary: a key written there directly is visible.
    secondary.connect().cmd(&["SET", "only-on-secondary", "1"]);
    let v: Option<String> = con.get("only-on-secondary").unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    RawConn::connect(secondary.port()).cmd(&["DEL", "only-on-secondary"]);
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 3]);
}

#[test]
fn proxy_passes_through_what_clients_do() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let mut con = proxy.client();
    // Pub/sub through the proxy.
    let mut sub = RawConn::connect(proxy.port);
    sub.cmd(&["SUBSCRIBE", "news"]);
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let msg = sub.read_reply();
    assert!(String::from_utf8_lossy(&msg).contains("hello"), "{msg:?}");
    // A transaction mixing reads and writes: each write is mirrored from
    // its own result (SPOP's popped member), not a neighbour's.
    let mut raw = RawConn::connect(proxy.port);
    raw.cmd(&["SADD", "pool", "a", "b", "c", "d"]);
    raw.cmd(&["SET", "note", "b"]);
    raw.cmd(&["MULTI"]);
    raw.cmd(&["GET", "note"]);
    raw.cmd(&["SPOP", "pool"]);
    raw.cmd(&["EXEC"]);
    raw.cmd(&["SET", "after-tx", "1"]);
    let mut s = RawConn::connect(secondary.port());
    let started = Instant::now();
    while common::parse_one(&s.cmd(&["GET", "after-tx"]))
        .as_str()
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let members = |port: u16| {
        let mut m = common::parse_one(&RawConn::connect(port).cmd(&["SMEMBERS", "pool"]))
            .elements()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.as_str())
            .collect::<Vec<_>>();
        m.sort();
        m
    };
    assert_eq!(members(secondary.port()), members(primary.port()));
    // An aborted transaction is not mirrored, a refused command neither.
    let mut raw = RawConn::connect(proxy.port);
    raw.cmd(&["SET", "w", "0"]);
    raw.cmd(&["WATCH", "w"]);
    RawConn::connect(primary.port()).cmd(&["SET", "w", "changed-directly"]);
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SET", "w", "from-tx"]);
    let exec = common::parse_one(&raw.cmd(&["EXEC"]));
    assert!(exec.is_null(), "{exec:?}");
    let err = common::parse_one(&raw.cmd(&["SET", "only-one-arg"]));
    assert!(
        format!("{err:?}").contains("wrong number of arguments"),
        "{err:?}"
    );
    raw.cmd(&["SET", "last", "1"]);
    let started = Instant::now();
    let mut s = RawConn::connect(secondary.port());
    while common::parse_one(&s.cmd(&["GET", "last"]))
        .as_str()
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        common::parse_one(&s.cmd(&["GET", "w"])).as_str().as_deref(),
        Some("0")
    );
    // Malformed protocol: the store's error, then the connection closes.
    let mut bad = RawConn::connect(proxy.port);
    bad.send_raw(b"*1\r\n$x\r\n");
    let reply = bad.read_reply();
    assert!(
        String::from_utf8_lossy(&reply).contains("Protocol error"),
        "{reply:?}"
    );
    // A store that is down: the client is told, not left hanging.
    let dead = common::free_port();
    let proxy2 = Proxy::start(dead, secondary.port(), "primary-only");
    let mut c = RawConn::connect(proxy2.port);
    c.send_raw(b"PING\r\n");
    let reply = c.read_reply();
    assert!(
        String::from_utf8_lossy(&reply).contains("cannot reach"),
        "{reply:?}"
    );
}

/// read-canary:100: every keyed read is also asked of the secondary;
/// equal stores give no mismatch, a key changed behind the proxy's back
/// on the secondary gives one, and the client still gets the primary's
/// answer.
#[test]
fn proxy_read_canary_compares_reads() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "read-canary:100");
    let mut con = proxy.client();
    workload(&mut con, 0, 0);
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 3]);
    for i in 0..10 {
        let _: Option<String> = con.get(format!("shared:{i}")).unwrap();
        let _: Vec<String> = con.smembers("set").unwrap();
        let _: BTreeMap<String, String> = con.hgetall(format!("h:{}", i % 7)).unwrap();
    }
    let counts = |p: &Proxy| -> Option<(u64, u64)> {
        let log = p.log();
        let line = log.lines().rev().find(|l| l.contains("canary:"))?;
        let num = |after: &str| -> Option<u64> {
            let rest = &line[line.find(after)? + after.len()..];
            rest.split_whitespace().next()?.parse().ok()
        };
        let reads = line
            .split("canary: ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some((reads, num("reads compared, ")?))
    };
    let started = Instant::now();
    while counts(&proxy).is_none_or(|(reads, _)| reads < 30) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(counts(&proxy).map(|c| c.1), Some(0), "{}", proxy.log());
    // The secondary differs on one key: counted, not served.
    RawConn::connect(secondary.port()).cmd(&["SET", "shared:1", "tampered"]);
    let v: String = con.get("shared:1").unwrap();
    assert_ne!(v, "tampered");
    let started = Instant::now();
    while counts(&proxy).is_none_or(|(_, m)| m < 1) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// FERRY.PROXY MODE switched while a writer runs: writes pause, the
/// mirror drains, the secondary serves and writes flow back to the
/// primary; then back to dual-write. The writer's connection follows both
/// switches by itself; a WATCHing connection is closed. Nothing acknowledged
/// is lost on either side.
#[test]
fn proxy_switches_stores_under_a_writer_and_back() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let stop = Arc::new(AtomicBool::new(false));
    // Three writers on the same keys: the order per key across
    // connections matters around the switch too.
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let mut con = proxy.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                let _: () = redis::cmd("SELECT").arg(2).query(&mut con).unwrap();
                while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                    let _: i64 = con.incr("counter", 1).unwrap();
                    let _: () = con
                        .set(format!("k:{}", n % 50), format!("w{w}-{n}"))
                        .unwrap();
                    let _: i64 = con.rpush("log", format!("w{w}-{n}")).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut watcher = RawConn::connect(proxy.port);
    watcher.cmd(&["WATCH", "x"]);
    std::thread::sleep(Duration::from_millis(700));
    let mut admin = RawConn::connect(proxy.port);
    let reply =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "switched"])).into_owned();
    assert!(
        reply.contains("dual-write -> switched"),
        "{reply}\n{}",
        proxy.log()
    );
    let status = String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "STATUS"])).into_owned();
    assert!(
        status.contains("mode:switched")
            && status.contains(&format!("serving:127.0.0.1:{}", secondary.port())),
        "{status}"
    );
    std::thread::sleep(Duration::from_millis(700));
    // Served by the secondary now; the primary gets the writes mirrored.
    let mut on_secondary = RawConn::connect(secondary.port());
    on_secondary.cmd(&["SET", "direct", "1"]);
    assert_eq!(
        common::parse_one(&admin.cmd(&["GET", "direct"]))
            .as_str()
            .as_deref(),
        Some("1")
    );
    on_secondary.cmd(&["DEL", "direct"]);
    // The WATCHing connection was closed at the switch.
    watcher.send_raw(b"PING\r\n");
    assert!(
        watcher.try_read_reply().is_err(),
        "a WATCHing session survived the switch"
    );
    let reply =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "dual-write"])).into_owned();
    assert!(reply.contains("switched -> dual-write"), "{reply}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let n: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(n > 0);
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 2]);
    for port in [primary.port(), secondary.port()] {
        let mut c = RawConn::connect(port);
        c.cmd(&["SELECT", "2"]);
        assert_eq!(
            common::parse_one(&c.cmd(&["GET", "counter"])).as_str(),
            Some(n.to_string()),
            "127.0.0.1:{port} lost or doubled a write"
        );
    }
    let bad =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "primary-only"])).into_owned();
    assert!(bad.contains("not supported"), "{bad}");
}

fn cutover(args: &[&str]) -> (Option<i32>, String) {
    common::ferry_output(&[&["cutover"], args].concat())
}

/// The steps `ferry cutover status` lists for `run` (names with their colon).
fn step_names(run: &str, reg: &str) -> Vec<String> {
    let (code, steps) = cutover(&["status", "--run-id", run, "--state", reg]);
    assert_eq!(code, Some(0), "{steps}");
    steps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect()
}

/// The proxy says it is in `mode`.
fn assert_mode(admin: &mut RawConn, mode: &str) {
    let status = String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "STATUS"])).into_owned();
    assert!(status.contains(&format!("mode:{mode} ")), "{status}");
}

/// `ferry cutover` through a dual-write proxy: a key that differs stops it
/// at the verify step (nothing switched); then, with a writer running, it
/// drains, verifies, switches; `status` lists the recorded steps;
/// `rollback` goes back; nothing acknowledged is lost.
#[test]
fn cutover_verifies_switches_and_rolls_back() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let mut con = proxy.client();
    for i in 0..30 {
        let _: () = con.set(format!("k:{i}"), i).unwrap();
    }
    wait_same(primary.port(), secondary.port(), &proxy, &[0]);
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry.db");
    let reg = reg.to_str().unwrap();
    let at = format!("127.0.0.1:{}", proxy.port);
    let start = [
        "start",
        "--run-id",
        "c1",
        "--proxy",
        &at,
        "--state",
        reg,
        "--verify-sample",
        "500",
    ];
    // A key changed behind the proxy's back on the secondary.
    RawConn::connect(secondary.port()).cmd(&["SET", "k:7", "tampered"]);
    let (code, out) = cutover(&start);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("verify found 1 key(s) that differ"), "{out}");
    let mut admin = RawConn::connect(proxy.port);
    assert_mode(&mut admin, "dual-write");
    let _: () = con.set("k:7", 7).unwrap();
    // Now under a writer.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut con = proxy.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                let _: i64 = con.incr("counter", 1).unwrap();
                n += 1;
            }
            n
        })
    };
    let (code, out) = cutover(&start);
    assert_eq!(code, Some(0), "{out}");
    assert_mode(&mut admin, "switched");
    assert_eq!(
        step_names("c1", reg),
        [
            "baseline:",
            "fenced:",
            "stopped:",
            "baseline:",
            "fenced:",
            "verify:",
            "switched:"
        ]
    );
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = cutover(&["rollback", "--run-id", "c1", "--proxy", &at, "--state", reg]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("switched -> dual-write"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().unwrap();
    wait_same(primary.port(), secondary.port(), &proxy, &[0]);
    assert_eq!(
        common::parse_one(&RawConn::connect(primary.port()).cmd(&["GET", "counter"])).as_str(),
        Some(n.to_string())
    );
    // Unknown run, and a proxy that is not there.
    let (code, out) = cutover(&["status", "--run-id", "nope", "--state", reg]);
    assert_eq!(code, Some(2), "{out}");
    let dead = format!("127.0.0.1:{}", common::free_port());
    let (code, out) = cutover(&[
        "rollback", "--run-id", "c1", "--proxy", &dead, "--state", reg,
    ]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("cannot connect"), "{out}");
}

/// Whether the proxy's `split:N` serves `key` from the secondary (the same
/// rule: its cluster hash slot below N% of 16384).
fn moved(key: &str, percent: u32) -> bool {
    u32::from(redis::cluster_routing::get_slot(key.as_bytes())) * 100 < percent * 16384
}

fn get(port: u16, key: &str) -> Option<String> {
    common::parse_one(&RawConn::connect(port).cmd(&["GET", key])).as_str()
}

/// `split:N` routes each key to the store that serves its share: a key
/// changed behind the proxy's back on one store shows which store served
/// it. A command with keys on both sides (MSET, a transaction) runs on
/// the primary and reaches both stores before its reply; the session's
/// SELECT follows it to the other store.
#[test]
fn split_mode_serves_each_share_from_its_store() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let mut admin = RawConn::connect(proxy.port);
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    let out: Vec<&String> = keys.iter().filter(|k| moved(k, 30)).collect();
    let home: Vec<&String> = keys.iter().filter(|k| !moved(k, 30)).collect();
    assert!(!out.is_empty() && !home.is_empty());
    let mut c = RawConn::connect(proxy.port);
    c.cmd(&["SELECT", "3"]);
    let reply =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "split:30"])).into_owned();
    assert!(reply.contains("dual-write -> split:30"), "{reply}");
    let status = String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "STATUS"])).into_owned();
    assert!(status.contains("mode:split:30"), "{status}");
    // The same key, different on each store: the proxy answers from the
    // store serving it.
    for (k, want) in [(out[0], "secondary"), (home[0], "primary")] {
        for (port, v) in [(primary.port(), "primary"), (secondary.port(), "secondary")] {
            let mut d = RawConn::connect(port);
            d.cmd(&["SELECT", "3"]);
            d.cmd(&["SET", k, v]);
        }
        let got = common::parse_one(&c.cmd(&["GET", k])).as_str();
        assert_eq!(got.as_deref(), Some(want), "{k}\n{}", proxy.log());
    }
    // Writes through the proxy: single-side, cross-side and transactions.
    for (i, k) in keys.iter().enumerate() {
        c.cmd(&["SET", k, &format!("v{i}")]);
    }
    c.cmd(&["MSET", out[1], "m1", home[1], "m2"]);
    c.cmd(&["SET", out[2], "10"]);
    c.cmd(&["SET", home[2], "20"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", out[2]]);
    c.cmd(&["INCR", home[2]]);
    assert_eq!(
        common::parse_one(&c.cmd(&["EXEC"])),
        common::parse_one(b"*2\r\n:11\r\n:21\r\n")
    );
    // A read right after a cross-side write sees it on either store.
    assert_eq!(
        common::parse_one(&c.cmd(&["GET", out[1]]))
            .as_str()
            .as_deref(),
        Some("m1")
    );
    assert_eq!(
        common::parse_one(&c.cmd(&["MGET", out[1], home[1]])),
        common::parse_one(b"*2\r\n$2\r\nm1\r\n$2\r\nm2\r\n")
    );
    wait_same(primary.port(), secondary.port(), &proxy, &[3]);
    for port in [primary.port(), secondary.port()] {
        let mut d = RawConn::connect(port);
        d.cmd(&["SELECT", "3"]);
        for (k, v) in [(out[2], "11"), (home[2], "21"), (out[1], "m1")] {
            let got = common::parse_one(&d.cmd(&["GET", k])).as_str();
            assert_eq!(got.as_deref(), Some(v), "127.0.0.1:{port} {k}");
        }
    }
    // Writers racing on a list of the primary's share: pushes, and moves
    // from a list of the secondary's share (LMOVE: a command with keys on
    // both sides). The lists' orders end equal on both stores only if the
    // cross-side moves are ordered the same way on both.
    let (from, to) = (out[10].clone(), home[10].clone());
    let mut filler = proxy.client();
    for i in 0..1200 {
        let _: i64 = filler.rpush(&from, format!("m{i}")).unwrap();
    }
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let mut con = proxy.client();
            let (from, to) = (from.clone(), to.clone());
            std::thread::spawn(move || {
                for n in 0..400usize {
                    let _: i64 = con.rpush(&to, format!("{w}-{n}")).unwrap();
                    let _: Option<String> = redis::cmd("LMOVE")
                        .arg(&from)
                        .arg(&to)
                        .arg("LEFT")
                        .arg("RIGHT")
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let moved_all: i64 = filler.llen(&to).unwrap();
    assert_eq!(moved_all, 2400);
    wait_same(primary.port(), secondary.port(), &proxy, &[0, 3]);
    // Back to one store, fenced; the session follows.
    let reply =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "dual-write"])).into_owned();
    assert!(reply.contains("split:30 -> dual-write"), "{reply}");
    c.cmd(&["SET", out[3], "after"]);
    wait_same(primary.port(), secondary.port(), &proxy, &[3]);
    let mut d = RawConn::connect(primary.port());
    d.cmd(&["SELECT", "3"]);
    assert_eq!(
        common::parse_one(&d.cmd(&["GET", out[3]]))
            .as_str()
            .as_deref(),
        Some("after")
    );
}

/// The full cutover in canary batches (1, 10, 50, 100% of the keys moved,
/// each gated), then switched and rolled back, with writers of counters
/// (on both sides of every split), cross-side MSETs and transactions
/// running the whole time: every acknowledged increment is on both stores
/// at the end. Then a batch whose gate fails (a key tampered with on the
/// secondary) returns every key to the primary by itself.
#[test]
fn cutover_in_canary_batches_with_a_rollback() {
    let primary = RedisProc::start(&[]);
    let secondary = RedisProc::start(&[]);
    let proxy = Proxy::start(primary.port(), secondary.port(), "dual-write");
    let mut con = proxy.client();
    for i in 0..100 {
        let _: () = con.set(format!("seed:{i}"), i).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let mut con = proxy.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut counts: BTreeMap<String, i64> = BTreeMap::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                    let k = format!("c:{}", n % 64);
                    let _: i64 = con.incr(&k, 1).unwrap();
                    *counts.entry(k).or_default() += 1;
                    // Keys shared by the writers, written alone and
                    // together: the last write wins the same way on both
                    // stores only if a cross-side MSET is ordered on both.
                    let _: () = con
                        .mset(&[
                            (format!("a:{}", n % 7), format!("{w}-{n}")),
                            (format!("b:{}", n % 5), format!("{w}-{n}")),
                        ])
                        .unwrap();
                    let _: () = con.set(format!("b:{}", (n + 1) % 5), w).unwrap();
                    let _: () = con.set(format!("a:{}", (n + 3) % 7), w).unwrap();
                    let (x, y): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr(format!("t:{}", n % 3), 1)
                        .incr(format!("u:{}", n % 11), 1)
                        .query(&mut con)
                        .unwrap();
                    assert!(x > 0 && y > 0);
                    *counts.entry(format!("t:{}", n % 3)).or_default() += 1;
                    *counts.entry(format!("u:{}", n % 11)).or_default() += 1;
                    n += 1;
                }
                counts
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry.db");
    let reg = reg.to_str().unwrap();
    let at = format!("127.0.0.1:{}", proxy.port);
    let http = format!("127.0.0.1:{}", common::free_port());
    let (code, plan) = cutover(&[
        "plan",
        "--run-id",
        "b1",
        "--proxy",
        &at,
        "--state",
        reg,
        "--batches",
        "1,10,50,100",
    ]);
    assert_eq!(code, Some(0), "{plan}");
    assert!(
        plan.contains("batch 50%: FERRY.PROXY MODE split:50"),
        "{plan}"
    );
    let (code, out) = cutover(&[
        "start",
        "--run-id",
        "b1",
        "--proxy",
        &at,
        "--state",
        reg,
        "--batches",
        "1,10,50,100",
        "--soak",
        "1",
        "--verify-sample",
        "300",
        "--http",
        &http,
    ]);
    assert_eq!(code, Some(0), "{out}\n{}", proxy.log());
    let mut admin = RawConn::connect(proxy.port);
    assert_mode(&mut admin, "switched");
    assert_eq!(
        step_names("b1", reg),
        [
            "baseline:",
            "fenced:",
            "verify:",
            "batch-1%:",
            "batch-1%-ok:",
            "batch-10%:",
            "batch-10%-ok:",
            "batch-50%:",
            "batch-50%-ok:",
            "batch-100%:",
            "batch-100%-ok:",
            "switched:"
        ]
    );
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = cutover(&["rollback", "--run-id", "b1", "--proxy", &at, "--state", reg]);
    assert_eq!(code, Some(0), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for w in writers {
        for (k, n) in w.join().unwrap() {
            *want.entry(k).or_default() += n;
        }
    }
    assert!(want.len() > 10);
    wait_same(primary.port(), secondary.port(), &proxy, &[0]);
    for port in [primary.port(), secondary.port()] {
        for (k, n) in &want {
            assert_eq!(
                get(port, k),
                Some(n.to_string()),
                "127.0.0.1:{port} lost or doubled an increment of {k}"
            );
        }
    }
    // A gate that fails: a key tampered with on the secondary once the
    // first batch runs (a 5 s soak leaves time to do it).
    let child = Command::new(common::ferry_binary())
        .args([
            "cutover", "start", "--run-id", "b2", "--proxy", &at, "--state", reg,
        ])
        // Enough random draws that the tampered key is among them (300
        // draws of ~190 keys missed a given key one time in five).
        .args([
            "--batches",
            "5,100",
            "--soak",
            "5",
            "--verify-sample",
            "3000",
        ])
        .args(["--http", &http])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let (_, steps) = cutover(&["status", "--run-id", "b2", "--state", reg]);
        if steps.contains("batch-5%:") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{steps}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The live page's metrics show the step as the phase.
    let http_port: u16 = http.rsplit(':').next().unwrap().parse().unwrap();
    let (code, body) = common::http::http_get(http_port, "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    let m = common::http::parse_metrics(&body);
    assert_eq!(
        m.get(r#"ferry_phase_info{phase="batch-5%"}"#),
        Some(&1.0),
        "{body}"
    );
    assert!(m.contains_key("ferry_backlog_entries"), "{body}");
    RawConn::connect(secondary.port()).cmd(&["SET", "seed:3", "tampered"]);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("batch 5% failed its gate"), "{text}");
    assert_mode(&mut admin, "dual-write");
    let (_, steps) = cutover(&["status", "--run-id", "b2", "--state", reg]);
    assert!(
        steps.contains("rolled-back:") && steps.contains("stopped: batch 5%"),
        "{steps}"
    );
}

/// Both stores reached over TLS (`rediss://...#insecure`: a self-signed
/// certificate): clients, the mirror and a switch all work through TLS;
/// without `#insecure` the certificate is refused with a message that
/// names it.
#[test]
fn proxy_reaches_stores_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = common::self_signed_cert(dir.path());
    let tls = |port: u16| {
        let args = common::tls_server_args(port, &key, &cert);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        RedisProc::start(&args)
    };
    let (ptls, stls) = (common::free_port(), common::free_port());
    let (primary, secondary) = (tls(ptls), tls(stls));
    let url = |port: u16| format!("rediss://127.0.0.1:{port}#insecure");
    let proxy = Proxy::start_urls(
        tempfile::tempdir().unwrap(),
        common::free_port(),
        &url(ptls),
        &url(stls),
        "dual-write",
        &[],
    );
    let mut con = proxy.client();
    for i in 0..200 {
        let _: () = con.set(format!("k:{i}"), i).unwrap();
        let _: i64 = con.incr("counter", 1).unwrap();
    }
    wait_same(primary.port(), secondary.port(), &proxy, &[0]);
    let mut admin = RawConn::connect(proxy.port);
    let reply =
        String::from_utf8_lossy(&admin.cmd(&["FERRY.PROXY", "MODE", "switched"])).into_owned();
    assert!(reply.contains("dual-write -> switched"), "{reply}");
    let _: i64 = con.incr("counter", 1).unwrap();
    wait_same(primary.port(), secondary.port(), &proxy, &[0]);
    assert_eq!(
        common::parse_one(&primary.connect().cmd(&["GET", "counter"])).as_str(),
        Some("201".to_string())
    );
    // Without #insecure: refused, and the error says what to do.
    let strict = Proxy::start_urls(
        tempfile::tempdir().unwrap(),
        common::free_port(),
        &format!("rediss://127.0.0.1:{ptls}"),
        &url(stls),
        "dual-write",
        &[],
    );
    let reply = String::from_utf8_lossy(&RawConn::connect(strict.port).cmd(&["PING"])).into_owned();
    assert!(
        reply.starts_with("-ERR") && reply.contains("certificate") && reply.contains("#insecure"),
        "{reply}"
    );
}

#[test]
fn proxy_refuses_bad_flags() {
    for (args, why) in [
        (vec!["--mode", "sideways"], "unknown mode"),
        (
            vec!["--mode", "read-canary:101"],
            "a percentage from 0 to 100",
        ),
        (
            vec!["--primary", "redis+cluster://127.0.0.1:1"],
            "clusters and store files are not supported",
        ),
    ] {
        let mut cmd = Command::new(common::ferry_binary());
        cmd.arg("proxy");
        if !args.contains(&"--primary") {
            cmd.args(["--primary", "redis://127.0.0.1:1"]);
        }
        cmd.args(["--secondary", "redis://127.0.0.1:2"]).args(&args);
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "{err}");
    }
    // The listen port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::ferry_binary())
        .args(["proxy", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--primary",
            "redis://127.0.0.1:1",
            "--secondary",
            "redis://127.0.0.1:2",
        ])
        .arg("--backlog")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("--listen 127.0.0.1:{port}")), "{err}");
}
