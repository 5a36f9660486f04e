//! The key cache seen from a client (`--key-cache-mb`, INFO memory): repeated
//! reads of a key hit it, a write's new value is what the next read sees,
//! and `--key-cache-mb 0` turns it off. That it never disagrees with SQLite
//! is tested in `crates/ferry-store/tests/key_cache.rs`.

mod common;

use common::{FerryOpts, FerryProc, RawConn};

/// INFO memory's fields `names`, in that order, from one INFO call.
fn info_memory<const N: usize>(c: &mut RawConn, names: [&str; N]) -> [String; N] {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "memory"])).to_string();
    names.map(|name| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("INFO memory has no {name}:\n{info}"))
    })
}

/// A count from INFO memory.
fn info_count(c: &mut RawConn, name: &str) -> u64 {
    let [v] = info_memory(c, [name]);
    v.parse()
        .unwrap_or_else(|_| panic!("{name} is not a count: {v}"))
}

/// INFO's key-cache fields, as (size in MiB, hits).
fn key_cache_info(c: &mut RawConn) -> (String, u64) {
    let [mb, hits] = info_memory(c, ["ferry_key_cache_mb", "ferry_key_cache_hits"]);
    (mb, hits.parse().expect("a count"))
}

#[test]
fn the_key_cache_serves_repeated_reads_and_zero_turns_it_off() {
    for (args, mb) in [(vec![], "32"), (vec!["--key-cache-mb", "0"], "0")] {
        let mut opts = FerryOpts::default();
        for a in &args {
            opts = opts.arg(a);
        }
        let ferry = FerryProc::start(opts);
        let mut c = ferry.connect();
        assert_eq!(c.cmd(&["SET", "k", "v1"]), b"+OK\r\n");
        for _ in 0..3 {
            assert_eq!(c.cmd(&["GET", "k"]), b"$2\r\nv1\r\n");
        }
        assert_eq!(c.cmd(&["SET", "k", "v2"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["GET", "k"]), b"$2\r\nv2\r\n");
        assert_eq!(c.cmd(&["DEL", "k"]), b":1\r\n");
        assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
        let (size, hits) = key_cache_info(&mut c);
        assert_eq!(size, mb, "{args:?}");
        if mb == "0" {
            assert_eq!(hits, 0, "a disabled cache answered reads");
        } else {
            assert!(
                hits >= 3,
                "repeated GETs of one key hit the cache {hits} times"
            );
        }
    }
}

/// INFO's `ferry_list_heads_bytes`: an LRANGE remembers the head it read,
/// and deleting or flushing the list lets the memory go.
#[test]
fn list_heads_hold_memory_until_their_list_goes() {
    let ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    let heads = |c: &mut RawConn| info_count(c, "ferry_list_heads_bytes");
    assert_eq!(heads(&mut c), 0);
    c.cmd(&["RPUSH", "a", "1", "2", "3"]);
    c.cmd(&["RPUSH", "b", "4", "5"]);
    assert_eq!(
        c.cmd(&["LRANGE", "a", "0", "-1"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    let one = heads(&mut c);
    assert!(one > 0, "LRANGE remembered nothing");
    c.cmd(&["LRANGE", "b", "0", "-1"]);
    assert!(heads(&mut c) > one);
    assert_eq!(c.cmd(&["DEL", "b"]), b":1\r\n");
    assert_eq!(heads(&mut c), one, "a deleted list's head stayed");
    // A push forgets the head; the next read remembers the new one.
    c.cmd(&["LPUSH", "a", "0"]);
    assert_eq!(heads(&mut c), 0);
    c.cmd(&["LRANGE", "a", "0", "-1"]);
    assert!(heads(&mut c) > one);
    c.cmd(&["FLUSHALL"]);
    assert_eq!(heads(&mut c), 0, "FLUSHALL left heads behind");
}

/// INFO's `ferry_list_heads_bytes` also counts the rows a pop read ahead
/// (listpops.rs): they stay while the list has them, go when it is deleted
/// or drained, and `--key-cache-mb 0` keeps none; pops answer the same.
#[test]
fn rows_read_ahead_of_pops_hold_memory_until_their_list_goes() {
    for mb in ["32", "0"] {
        let ferry = FerryProc::start(FerryOpts::default().arg("--key-cache-mb").arg(mb));
        let mut c = ferry.connect();
        let kept = |c: &mut RawConn| info_count(c, "ferry_list_heads_bytes");
        let items: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
        let mut push = vec!["RPUSH", "q"];
        push.extend(items.iter().map(String::as_str));
        c.cmd(&push);
        assert_eq!(kept(&mut c), 0, "--key-cache-mb {mb}: nothing popped yet");
        assert_eq!(c.cmd(&["LPOP", "q"]), b"$2\r\ne0\r\n");
        assert_eq!(c.cmd(&["RPOP", "q"]), b"$3\r\ne99\r\n");
        if mb == "0" {
            assert_eq!(kept(&mut c), 0, "--key-cache-mb 0 kept rows ahead");
        } else {
            assert!(kept(&mut c) > 0, "a pop read nothing ahead");
        }
        assert_eq!(c.cmd(&["LPOP", "q"]), b"$2\r\ne1\r\n");
        assert_eq!(c.cmd(&["DEL", "q"]), b":1\r\n");
        assert_eq!(
            kept(&mut c),
            0,
            "--key-cache-mb {mb}: a deleted list's rows stayed"
        );
        c.cmd(&["RPUSH", "r", "a", "b", "c"]);
        c.cmd(&["LPOP", "r", "2"]);
        assert_eq!(c.cmd(&["LPOP", "r"]), b"$1\r\nc\r\n");
        assert_eq!(
            kept(&mut c),
            0,
            "--key-cache-mb {mb}: a drained list's rows stayed"
        );
    }
}

/// A key that becomes hot after the key cache's budget filled still gets
/// in: a row read from SQLite makes room (the clock in keycache.rs). Before,
/// a full cache took no new key, and a new queue's every push looked its key
/// up in SQLite.
#[test]
fn a_key_made_after_the_cache_filled_is_served_from_it() {
    let ferry = FerryProc::start(FerryOpts::default().arg("--key-cache-mb").arg("1"));
    let mut c = ferry.connect();
    // Fill the 1 MiB budget: 20000 keys written, then read.
    let value = "v".repeat(40);
    let mut load = Vec::new();
    for i in 0..20_000 {
        let k = format!("filler:{i}");
        load.extend(common::encode_command(&["SET", k.as_str(), value.as_str()]));
        load.extend(common::encode_command(&["GET", k.as_str()]));
    }
    c.send_raw(&load);
    for _ in 0..40_000 {
        c.read_reply();
    }
    let bytes = |c: &mut RawConn| info_count(c, "ferry_key_cache_bytes");
    assert!(
        bytes(&mut c) > 1000 * 1024,
        "the filler left the cache not full"
    );
    // A key longer than the fillers' (it costs more than any room a
    // filler left), so it gets in only by making room.
    let queue = format!("queue:{}", "q".repeat(100));
    let queue = queue.as_str();
    assert_eq!(c.cmd(&["RPUSH", queue, "a"]), b":1\r\n");
    // The first push after the list was made reads its key from SQLite and
    // keeps it; the next ones find it in the cache.
    c.cmd(&["RPUSH", queue, "b"]);
    let (_, before) = key_cache_info(&mut c);
    for i in 0..10 {
        assert_eq!(
            c.cmd(&["RPUSH", queue, "x"]),
            format!(":{}\r\n", i + 3).into_bytes()
        );
    }
    let (_, after) = key_cache_info(&mut c);
    assert!(
        after >= before + 10,
        "10 pushes on a key read into a full cache hit it {} times",
        after - before
    );
}
