//! Durability and keyspace guarantees of `ferry serve` under load: no
//! acknowledged write (or pop) is lost to `kill -9`, SCAN's guarantee holds while
//! other clients write, and expired keys are removed without being touched.

mod common;

use common::{FerryOpts, FerryProc, RawConn, RedisProc};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// One multibulk command.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Writes `SET k<i> v<i>` in pipelines of 64 until the server dies, and
/// returns how many SETs were acknowledged with +OK, in order.
fn write_until_killed(port: u16) -> usize {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut acked = 0usize;
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut batch = Vec::new();
        for i in acked..acked + 64 {
            batch.extend(encode(&["SET", &format!("k{i}"), &format!("v{i}")]));
        }
        if s.write_all(&batch).is_err() {
            return acked;
        }
        // Count the +OK replies of this pipeline as they arrive.
        let mut got = 0;
        while got < 64 {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return acked,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.len() >= 5 && &buf[..5] == b"+OK\r\n" {
                buf.drain(..5);
                got += 1;
                acked += 1;
            }
            assert!(
                buf.is_empty() || b"+OK\r\n".starts_with(&buf),
                "unexpected reply: {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }
    panic!("the server was not killed within 30 s");
}

/// Sends `kill -9` to `pid` after `ms` milliseconds, from a thread.
fn kill9_after(pid: u32, ms: u64) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    })
}

fn kill9_under_load(durability: &str) {
    let mut f = FerryProc::start(FerryOpts::default().durability(durability));
    let pid = f.pid();
    let killer = kill9_after(pid, 700);
    let acked = write_until_killed(f.port());
    killer.join().expect("killer thread");
    assert!(acked > 1000, "too few writes before the kill: {acked}");
    f.restart();
    let mut c = f.connect();
    // Every acknowledged SET is there, with its value.
    for i in (0..acked).step_by(97).chain([acked - 1]) {
        let want = format!("${}\r\nv{i}\r\n", format!("v{i}").len());
        assert_eq!(
            String::from_utf8_lossy(&c.cmd(&["GET", &format!("k{i}")])),
            want,
            "k{i} of {acked} acknowledged writes, log:\n{}",
            f.log()
        );
    }
    let dbsize = String::from_utf8_lossy(&c.cmd(&["DBSIZE"])).into_owned();
    let n: usize = dbsize
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("DBSIZE");
    // Writes sent but not acknowledged may or may not have made it.
    assert!(
        n >= acked && n < acked + 64 * 2,
        "DBSIZE {n}, acknowledged {acked}"
    );
}

#[test]
fn kill9_under_load_loses_no_acknowledged_write_everysec() {
    kill9_under_load("everysec");
}

#[test]
fn kill9_under_load_loses_no_acknowledged_write_always() {
    kill9_under_load("always");
}

/// A queue drained from both ends in pipelines of 64 (`LPOP` and `RPOP`
/// in turn) until the server is killed. ferry serves pops from rows read
/// ahead and deletes their rows later (listpops.rs): after the restart the
/// list must still be one run of the elements pushed, with every pop that
/// was acknowledged gone, and the acknowledged pops must have come in
/// order from their ends.
fn kill9_while_popping(durability: &str) {
    const N: usize = 400_000;
    let mut f = FerryProc::start(FerryOpts::default().durability(durability));
    let mut c = f.connect();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["RPUSH".to_string(), "q".to_string()];
        args.extend(chunk.iter().map(|i| format!("e{i}")));
        c.cmd(&args);
    }
    let pid = f.pid();
    let killer = kill9_after(pid, 500);
    // Acknowledged pops from the head and the tail.
    let (mut head, mut tail) = (0usize, 0usize);
    let mut batch = Vec::new();
    for _ in 0..32 {
        batch.extend(encode(&["LPOP", "q"]));
        batch.extend(encode(&["RPOP", "q"]));
    }
    'pipelines: loop {
        assert!(
            head + tail + 64 < N,
            "the server was not killed before the queue emptied"
        );
        if c.try_send_raw(&batch).is_err() {
            break;
        }
        for i in 0..64 {
            let Ok(reply) = c.try_read_reply() else {
                break 'pipelines;
            };
            let want = if i % 2 == 0 {
                head += 1;
                head - 1
            } else {
                tail += 1;
                N - tail
            };
            let want = format!("e{want}");
            assert_eq!(
                common::parse_one(&reply).as_bytes(),
                Some(want.clone().into_bytes()),
                "pop {} of the pipeline",
                i
            );
        }
    }
    killer.join().expect("killer thread");
    assert!(head > 1000, "too few pops before the kill: {head}");
    f.restart();
    let mut c = f.connect();
    let range = common::parse_one(&c.cmd(&["LRANGE", "q", "0", "-1"]));
    let items: Vec<String> = range
        .elements()
        .expect("LRANGE q returns an array")
        .iter()
        .map(|r| r.as_str().expect("an element"))
        .collect();
    // Pops sent but not acknowledged may or may not have happened.
    let first: usize = items[0][1..].parse().expect("an element");
    assert!(
        (head..=head + 32).contains(&first),
        "after {head} acknowledged head pops the list starts at e{first}"
    );
    let expected: Vec<String> = (first..first + items.len())
        .map(|i| format!("e{i}"))
        .collect();
    assert!(items == expected, "the list is not one run from e{first}");
    let end = first + items.len();
    assert!(
        (N - tail - 32..=N - tail).contains(&end),
        "after {tail} acknowledged tail pops the list ends before e{end}"
    );
}

#[test]
fn kill9_while_popping_loses_no_acknowledged_pop_everysec() {
    kill9_while_popping("everysec");
}

#[test]
fn kill9_while_popping_loses_no_acknowledged_pop_always() {
    kill9_while_popping("always");
}

#[test]
fn scan_returns_every_key_present_throughout_while_others_write() {
    let f = FerryProc::start(FerryOpts::default());
    let mut c = f.connect();
    let stable: HashSet<String> = (0..3000).map(|i| format!("stable:{i}")).collect();
    let mut load = Vec::new();
    for k in &stable {
        load.extend(encode(&["SET", k, "x"]));
    }
    c.send_raw(&load);
    for _ in 0..stable.len() {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    // Another client adds, deletes and renames other keys during the scan.
    let port = f.port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut w = RawConn::connect(port);
        let mut i = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) && i < 200_000 {
            w.cmd(&["SET", &format!("churn:{i}"), "y"]);
            if i.is_multiple_of(3) {
                w.cmd(&["DEL", &format!("churn:{}", i / 2)]);
            }
            if i.is_multiple_of(5) {
                w.cmd(&["RENAME", &format!("churn:{i}"), &format!("moved:{i}")]);
            }
            i += 1;
        }
        i
    });
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "5"]);
        // Give the writer room between steps.
        std::thread::sleep(Duration::from_micros(200));
        let text = String::from_utf8_lossy(&reply).into_owned();
        let mut lines = text.split("\r\n");
        // *2, $n, cursor, *m, then $len/key pairs
        lines.next();
        lines.next();
        cursor = lines.next().expect("cursor").to_string();
        lines.next();
        let rest: Vec<&str> = lines.collect();
        for pair in rest.chunks(2) {
            if let [_, key] = pair {
                seen.insert(key.to_string());
            }
        }
        calls += 1;
        if cursor == "0" || calls > 100_000 {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    assert!(
        writes > 200,
        "the writer made only {writes} changes during the scan"
    );
    let missing: Vec<_> = stable.difference(&seen).take(5).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed keys present throughout: {missing:?}"
    );
}

/// Sets `n` keys `t0..` with a PX of `px` ms, and one `keeper` without a TTL.
fn set_with_ttl_and_a_keeper(c: &mut RawConn, n: usize, px: &str) {
    let mut load = Vec::new();
    for i in 0..n {
        load.extend(encode(&["SET", &format!("t{i}"), "x", "PX", px]));
    }
    load.extend(encode(&["SET", "keeper", "x"]));
    c.send_raw(&load);
    for _ in 0..=n {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
}

/// Waits (up to `within`) until only `keeper` is left, without reading
/// the other keys: DBSIZE counts expired keys until they are removed, as
/// in Redis, so it can only drop through the background sweep. Then every
/// one of the `n` was still there to be removed (none lost).
fn wait_swept(c: &mut RawConn, n: usize, within: Duration, after: &str) {
    let deadline = Instant::now() + within;
    loop {
        let size = c.cmd(&["DBSIZE"]);
        if size == b":1\r\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired keys still counted {within:?} after {after}: DBSIZE {}",
            String::from_utf8_lossy(&size)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    assert!(
        info.contains(&format!("expired_keys:{n}\r\n")),
        "after {after}: {info}"
    );
}

#[test]
fn expired_keys_are_removed_without_being_accessed() {
    let f = FerryProc::start(FerryOpts::default());
    let mut c = f.connect();
    set_with_ttl_and_a_keeper(&mut c, 500, "100");
    wait_swept(&mut c, 500, Duration::from_secs(5), "loading them");
}

/// The sweep skips its query while no key has a TTL, by the server's count
/// of such keys. After a restart that count comes from the data file (a
/// clean stop commits everything) or from the journal (after kill -9): in
/// both cases the keys with a TTL must still be removed unasked.
#[test]
fn keys_with_a_ttl_are_swept_after_a_restart_and_a_kill9() {
    let mut f = FerryProc::start(FerryOpts::default().durability("always"));
    // Long enough to outlive the clean stop (the old process must not
    // remove any of them), short enough to keep the test quick.
    set_with_ttl_and_a_keeper(&mut f.connect(), 300, "4000");
    f.restart();
    wait_swept(
        &mut f.connect(),
        300,
        Duration::from_secs(15),
        "a clean restart",
    );
    set_with_ttl_and_a_keeper(&mut f.connect(), 300, "2000");
    f.kill9();
    f.restart();
    wait_swept(&mut f.connect(), 300, Duration::from_secs(15), "a kill -9");
}

/// Everything observable about the stream `key` whose value does not
/// depend on the clock: XINFO STREAM FULL carries absolute delivery and
/// seen times, which a restart must keep too.
fn stream_snapshot(c: &mut RawConn, key: &str) -> Vec<String> {
    [
        vec!["XINFO", "STREAM", key, "FULL", "COUNT", "0"],
        vec!["XINFO", "GROUPS", key],
        vec!["XRANGE", key, "-", "+"],
        vec!["TYPE", key],
        vec!["EXISTS", key],
    ]
    .iter()
    .map(|cmd| String::from_utf8_lossy(&c.cmd(cmd)).into_owned())
    .collect()
}

#[test]
fn streams_and_groups_survive_restart_and_kill9() {
    let mut f = FerryProc::start(FerryOpts::default().durability("always"));
    let mut c = f.connect();
    for i in 1..=300 {
        let v = format!("v{i}");
        c.cmd(&["XADD", "s", &format!("{i}-1"), "f", &v, "n", "1"]);
    }
    let setup: &[&[&str]] = &[
        &["XDEL", "s", "5-1", "250-1"],
        &["XTRIM", "s", "MAXLEN", "~", "150"],
        &["XGROUP", "CREATE", "s", "g1", "0"],
        &["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "3"],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "20",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "5",
            "STREAMS",
            "s",
            ">",
        ],
        &["XACK", "s", "g1", "101-1", "102-1"],
        &[
            "XCLAIM",
            "s",
            "g1",
            "carol",
            "0",
            "110-1",
            "RETRYCOUNT",
            "9",
            "JUSTID",
        ],
        &["XGROUP", "CREATECONSUMER", "s", "g2", "dave"],
        &[
            "XSETID",
            "s",
            "400-0",
            "ENTRIESADDED",
            "500",
            "MAXDELETEDID",
            "260-0",
        ],
        &["COPY", "s", "copy"],
        &["EXPIRE", "copy", "100000"],
    ];
    for cmd in setup {
        let r = c.cmd(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    let before = (
        stream_snapshot(&mut c, "s"),
        stream_snapshot(&mut c, "copy"),
    );
    assert!(before.0[0].contains("carol"), "{}", before.0[0]);
    drop(c);
    f.restart();
    let mut c = f.connect();
    assert_eq!(
        (
            stream_snapshot(&mut c, "s"),
            stream_snapshot(&mut c, "copy")
        ),
        before,
        "after a restart"
    );
    // More changes, acknowledged, then a crash.
    for cmd in [
        &["XADD", "s", "401-0", "f", "late"][..],
        &["XREADGROUP", "GROUP", "g2", "dave", "STREAMS", "s", ">"],
        &["XGROUP", "DELCONSUMER", "s", "g1", "bob"],
        &["XAUTOCLAIM", "s", "g1", "erin", "0", "0", "COUNT", "3"],
        &["XGROUP", "DESTROY", "copy", "g1"],
    ] {
        let r = c.cmd(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    let before = (
        stream_snapshot(&mut c, "s"),
        stream_snapshot(&mut c, "copy"),
    );
    assert!(before.0[0].contains("erin"), "{}", before.0[0]);
    f.kill9();
    f.restart();
    let mut c = f.connect();
    assert_eq!(
        (
            stream_snapshot(&mut c, "s"),
            stream_snapshot(&mut c, "copy")
        ),
        before,
        "after kill -9"
    );
}

/// Pipelined XADDs and XREADGROUPs until the server is killed: every
/// acknowledged entry is in the stream after the restart, every entry an
/// acknowledged XREADGROUP delivered is pending in the group, and the
/// stream's macro nodes match a redis-server given the same entries.
#[test]
fn kill9_under_stream_load_loses_no_acknowledged_entry() {
    let mut f = FerryProc::start(FerryOpts::default().durability("everysec"));
    let mut c = f.connect();
    assert_eq!(
        c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        b"+OK\r\n"
    );
    let pid = f.pid();
    let killer = kill9_after(pid, 700);
    let mut added = Vec::new();
    let mut delivered = Vec::new();
    let mut next = 1u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    'load: while Instant::now() < deadline {
        let mut batch = Vec::new();
        let mut kinds = Vec::new();
        for j in 0..64 {
            if j % 8 == 7 {
                batch.extend(encode(&[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "COUNT",
                    "4",
                    "STREAMS",
                    "s",
                    ">",
                ]));
                kinds.push(None);
            } else {
                let id = format!("{next}-0");
                batch.extend(encode(&["XADD", "s", &id, "f", "v"]));
                kinds.push(Some(id));
                next += 1;
            }
        }
        if c.try_send_raw(&batch).is_err() {
            break;
        }
        for kind in kinds {
            let Ok(reply) = c.try_read_reply() else {
                break 'load;
            };
            let text = String::from_utf8_lossy(&reply).into_owned();
            match kind {
                Some(id) => {
                    assert_eq!(text, format!("${}\r\n{id}\r\n", id.len()));
                    added.push(id);
                }
                None => {
                    // Entries: "$<n>\r\n<ms>-0\r\n" lines followed by fields.
                    delivered.extend(
                        text.split("\r\n")
                            .filter(|l| l.ends_with("-0") && !l.starts_with('$'))
                            .map(String::from),
                    );
                }
            }
        }
    }
    killer.join().expect("killer thread");
    assert!(
        added.len() > 500,
        "too few writes before the kill: {}",
        added.len()
    );
    assert!(!delivered.is_empty(), "XREADGROUP delivered nothing");
    f.restart();
    let mut c = f.connect();
    let len: usize = String::from_utf8_lossy(&c.cmd(&["XLEN", "s"]))
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("XLEN");
    assert!(
        len >= added.len(),
        "XLEN {len} < {} acknowledged",
        added.len()
    );
    for id in added.iter().step_by(37).chain(added.last()) {
        let r = String::from_utf8_lossy(&c.cmd(&["XRANGE", "s", id, id])).into_owned();
        assert!(r.contains(id.as_str()), "{id} missing after the crash: {r}");
    }
    for id in delivered.iter().step_by(11).chain(delivered.last()) {
        let r = String::from_utf8_lossy(&c.cmd(&["XPENDING", "s", "g", id, id, "1"])).into_owned();
        assert!(
            r.contains(id.as_str()),
            "{id} not pending after the crash: {r}"
        );
    }
    // The macro nodes (held in memory between appends, rebuilt from the
    // journal after the kill) are those redis-server builds from the same
    // entries: XINFO's radix-tree numbers and an approximate trim agree.
    let ids = entry_ids(&c.cmd(&["XRANGE", "s", "-", "+"]));
    assert_eq!(ids.len(), len, "XRANGE and XLEN disagree");
    let redis = RedisProc::start(&[]);
    let mut r = redis.connect();
    for chunk in ids.chunks(500) {
        let batch: Vec<u8> = chunk
            .iter()
            .flat_map(|id| encode(&["XADD", "s", id, "f", "v"]))
            .collect();
        r.send_raw(&batch);
        for id in chunk {
            let reply = r.read_reply();
            assert_eq!(reply, format!("${}\r\n{id}\r\n", id.len()).into_bytes());
        }
    }
    for name in ["length", "radix-tree-keys", "radix-tree-nodes"] {
        assert_eq!(
            xinfo_field(&mut c, "s", name),
            xinfo_field(&mut r, "s", name),
            "XINFO STREAM {name}: ferry after kill -9, redis-server with the same entries"
        );
    }
    let keep = (len / 2).to_string();
    assert_eq!(
        c.cmd(&["XTRIM", "s", "MAXLEN", "~", &keep]),
        r.cmd(&["XTRIM", "s", "MAXLEN", "~", &keep]),
        "XTRIM MAXLEN ~ {keep}"
    );
}

/// The entry ids of an XRANGE reply (RESP2).
fn entry_ids(reply: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(reply)
        .split("\r\n")
        .filter(|l| {
            l.split_once('-').is_some_and(|(ms, seq)| {
                !ms.is_empty() && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
            })
        })
        .map(String::from)
        .collect()
}

/// One field of `XINFO STREAM key` (RESP2: names and values alternate).
fn xinfo_field(c: &mut RawConn, key: &str, name: &str) -> String {
    let reply = String::from_utf8_lossy(&c.cmd(&["XINFO", "STREAM", key])).into_owned();
    let lines: Vec<&str> = reply.split("\r\n").collect();
    lines
        .iter()
        .position(|l| *l == name)
        .and_then(|i| lines.get(i + 1))
        .map(|v| v.to_string())
        .unwrap_or_else(|| panic!("no {name} in XINFO STREAM {key}: {reply}"))
}

/// A numeric field of `INFO persistence`.
fn persistence_field(c: &mut RawConn, name: &str) -> u64 {
    let reply = c.cmd(&["INFO", "persistence"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO persistence has no {name}: {text}"))
}

/// Under a steady write load the executor always holds a transaction, so
/// SQLite's write-ahead log would never start over by itself: ferry
/// restarts it when the log in use passes `--wal-limit-mb`, and the file is
/// cut back to about that size. An idle server does nothing of the kind
/// (the trigger is the log in use, not the file's size, which once kept a
/// server checkpointing ten times a second for ever). No write is lost on
/// the way.
#[test]
fn the_write_ahead_log_starts_over_under_a_steady_write_load() {
    let mut f = FerryProc::start(FerryOpts::default().arg("--wal-limit-mb").arg("1"));
    let mut c = f.connect();
    let value = "v".repeat(200);
    let keys = 20_000;
    let wal = {
        let mut p = f.data_path().as_os_str().to_owned();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    // Write for a bounded time, in pipelines, every key in turn (each pass
    // dirties the table's pages again).
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut round = 0u64;
    while Instant::now() < deadline
        || round * 500 < keys
        || persistence_field(&mut c, "ferry_wal_restarts") == 0
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "no write-ahead log restart after 64 s of writes; WAL file {} bytes",
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
        );
        let mut batch = Vec::new();
        for i in 0..500u64 {
            let k = (round * 500 + i) % keys;
            batch.extend(encode(&[
                "SET",
                &format!("k{k}"),
                &format!("{round}:{value}"),
            ]));
        }
        c.send_raw(&batch);
        for _ in 0..500 {
            assert_eq!(c.read_reply(), b"+OK\r\n");
        }
        round += 1;
    }
    let restarts = persistence_field(&mut c, "ferry_wal_restarts");
    assert!(restarts >= 1, "the log never started over");
    // A write after the load: its commit cuts a restarted log's file back.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(c.cmd(&["SET", "after", "1"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(600));
    let idle_before = persistence_field(&mut c, "ferry_wal_restarts");
    std::thread::sleep(Duration::from_secs(1));
    let idle_after = persistence_field(&mut c, "ferry_wal_restarts");
    assert!(
        idle_after <= idle_before + 1,
        "an idle server kept restarting its log: {idle_before} -> {idle_after} in 1 s"
    );
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        size <= 16 << 20,
        "the WAL file stayed at {size} bytes with a 1 MiB limit after {restarts} restarts"
    );
    // Every key holds a value of the last rounds, in this run and after a
    // restart (the data went through the restarts intact).
    let dbsize = |c: &mut RawConn| c.cmd(&["DBSIZE"]);
    let expected = format!(":{}\r\n", keys + 1).into_bytes();
    assert_eq!(dbsize(&mut c), expected);
    let last = |c: &mut RawConn, k: u64| -> Vec<u8> { c.cmd(&["GET", &format!("k{k}")]) };
    let before: Vec<Vec<u8>> = (0..keys).step_by(97).map(|k| last(&mut c, k)).collect();
    f.restart();
    let mut c = f.connect();
    assert_eq!(dbsize(&mut c), expected);
    let after: Vec<Vec<u8>> = (0..keys).step_by(97).map(|k| last(&mut c, k)).collect();
    assert_eq!(before, after, "values changed across a restart");
}
