//! Tests of the differential harness itself (frame reader, comparisons,
//! process control), plus ferry crash/restart checks that use FerryProc's
//! kill9/restart.

mod common;

use common::{
    encode_command, escape, parse_all, parse_frame, FerryOpts, FerryProc, Pair, RedisProc, Resp,
};

#[test]
fn frame_reader_knows_every_boundary() {
    let cases: Vec<(&[u8], Resp)> = vec![
        (b"+OK\r\n", Resp::Simple("OK".into())),
        (b"-ERR x\r\n", Resp::Error("ERR x".into())),
        (b":-12\r\n", Resp::Int(-12)),
        (b"$3\r\na\r\n\r\n", Resp::Bulk(b"a\r\n".to_vec())),
        (b"$0\r\n\r\n", Resp::Bulk(vec![])),
        (b"$-1\r\n", Resp::NullBulk),
        (b"*-1\r\n", Resp::NullArray),
        (b"*0\r\n", Resp::Array(vec![])),
        (b"_\r\n", Resp::Null),
        (b",1.5\r\n", Resp::Double("1.5".into())),
        (b",inf\r\n", Resp::Double("inf".into())),
        (b"#t\r\n", Resp::Bool(true)),
        (b"#f\r\n", Resp::Bool(false)),
        (
            b"(123456789012345678901234567890\r\n",
            Resp::BigNumber("123456789012345678901234567890".into()),
        ),
        (b"!5\r\nERR x\r\n", Resp::BlobError(b"ERR x".to_vec())),
        (b"=7\r\ntxt:abc\r\n", Resp::Verbatim(b"txt:abc".to_vec())),
        (
            b"*2\r\n*1\r\n:1\r\n$-1\r\n",
            Resp::Array(vec![Resp::Array(vec![Resp::Int(1)]), Resp::NullBulk]),
        ),
        (
            b"%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n",
            Resp::Map(vec![(
                Resp::Simple("k".into()),
                Resp::Set(vec![Resp::Int(1), Resp::Int(2)]),
            )]),
        ),
        (
            b">2\r\n+message\r\n$1\r\nx\r\n",
            Resp::Push(vec![
                Resp::Simple("message".into()),
                Resp::Bulk(b"x".to_vec()),
            ]),
        ),
        (
            b"|1\r\n+ttl\r\n:3\r\n+OK\r\n",
            Resp::Attribute(
                vec![(Resp::Simple("ttl".into()), Resp::Int(3))],
                Box::new(Resp::Simple("OK".into())),
            ),
        ),
    ];
    for (bytes, want) in cases {
        let (got, n) = parse_frame(bytes)
            .unwrap()
            .unwrap_or_else(|| panic!("incomplete {}", escape(bytes)));
        assert_eq!(got, want, "{}", escape(bytes));
        assert_eq!(n, bytes.len(), "{}", escape(bytes));
        // every strict prefix is incomplete, never an error or a shorter frame
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_frame(&bytes[..cut]).unwrap(),
                None,
                "prefix {cut} of {}",
                escape(bytes)
            );
        }
        // a frame followed by another parses as exactly the first
        let mut two = bytes.to_vec();
        two.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(parse_frame(&two).unwrap().unwrap().1, bytes.len());
    }
    assert!(parse_frame(b"?what\r\n").is_err());
    assert!(parse_frame(b"$3\r\nabcde\r\n").is_err());
    assert_eq!(parse_all(b"+A\r\n:1\r\n").unwrap().len(), 2);
}

#[test]
fn encode_and_escape() {
    assert_eq!(
        encode_command(&["SET", "k", ""]),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_vec()
    );
    assert_eq!(escape(b"a\r\n\x00\xff\\"), "a\\r\\n\\x00\\xff\\\\");
}

#[test]
#[should_panic(expected = "replies differ")]
fn same_detects_a_difference() {
    // two servers holding different values must make `same` fail
    let mut p = Pair::new();
    p.a.cmd(&["SET", "k", "redis-side"]);
    p.b.cmd(&["SET", "k", "other-side"]);
    p.same(&["GET", "k"]);
}

#[test]
#[should_panic(expected = "unordered replies differ")]
fn same_unordered_detects_a_difference() {
    let mut p = Pair::new();
    p.a.cmd(&["MSET", "a", "1", "b", "1"]);
    p.b.cmd(&["MSET", "a", "1", "c", "1"]);
    p.same_unordered(&["KEYS", "*"]);
}

#[test]
#[should_panic(expected = "integers differ")]
fn close_int_detects_a_difference() {
    let mut p = Pair::new();
    p.a.cmd(&["SET", "k", "v", "EX", "100"]);
    p.b.cmd(&["SET", "k", "v", "EX", "50"]);
    p.close_int(&["TTL", "k"], 1);
}

#[test]
#[should_panic(expected = "install it with `apt-get install -y")]
fn missing_binary_says_how_to_install() {
    common::require_binary("redis-server-that-does-not-exist");
}

#[test]
fn redis_proc_is_killed_on_drop() {
    let r = RedisProc::start(&[]);
    let pid = r.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(r);
    // the child was killed and reaped: its pid is gone
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "redis-server {pid} still alive"
    );
}

#[test]
fn ferry_restart_keeps_data() {
    let mut f = FerryProc::start(FerryOpts::default());
    let mut c = f.connect();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "t", "v", "EX", "1000"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SELECT", "4"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "in4", "four"]), b"+OK\r\n");
    drop(c);
    let data = f.data_path().to_path_buf();
    f.restart(); // graceful stop (SIGTERM), then start on the same file
    assert_eq!(f.data_path(), data);
    let mut c = f.connect();
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n", "log:\n{}", f.log());
    let ttl = c.cmd_parsed(&["TTL", "t"]).as_int().unwrap();
    assert!((990..=1000).contains(&ttl), "TTL after restart: {ttl}");
    assert_eq!(c.cmd(&["SELECT", "4"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "in4"]), b"$4\r\nfour\r\n");
}

#[test]
fn ferry_kill9_with_durability_always_keeps_acknowledged_writes() {
    let mut f = FerryProc::start(FerryOpts::default().durability("always"));
    let mut c = f.connect();
    for i in 0..200 {
        assert_eq!(
            c.cmd(&["SET", &format!("k{i}"), &i.to_string()]),
            b"+OK\r\n"
        );
    }
    assert_eq!(c.cmd(&["INCR", "k7"]), b":8\r\n");
    drop(c);
    let old_pid = f.pid();
    f.kill9();
    assert!(!f.is_running());
    f.restart();
    assert_ne!(f.pid(), old_pid);
    let mut c = f.connect();
    assert_eq!(c.cmd(&["DBSIZE"]), b":200\r\n", "log:\n{}", f.log());
    assert_eq!(c.cmd(&["GET", "k7"]), b"$1\r\n8\r\n");
    assert_eq!(c.cmd(&["GET", "k199"]), b"$3\r\n199\r\n");
}
