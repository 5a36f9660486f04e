//! ferry driven by real clients: the `redis` crate (async, tokio) and the
//! `redis-cli` binary. The redis-cli cases run against redis-server too and
//! compare the printed output.

mod common;

use common::{require_binary, FerryOpts, RedisProc, Subject};
use redis::AsyncCommands;
use std::io::Write;
use std::process::{Command, Stdio};

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

async fn connect(port: u16) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url(port)).expect("client");
    client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("redis crate could not connect to 127.0.0.1:{port}: {e}"))
}

#[tokio::test]
async fn redis_crate_basic_commands() {
    let s = Subject::start(FerryOpts::default());
    let mut con = connect(s.port()).await;

    let () = con.set("greeting", "hello").await.unwrap();
    let v: String = con.get("greeting").await.unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").await.unwrap();
    assert_eq!(missing, None);

    let () = con
        .mset(&[("a", "1"), ("b", "2"), ("c", "3")])
        .await
        .unwrap();
    let vals: Vec<Option<String>> = con.mget(&["a", "b", "nope", "c"]).await.unwrap();
    assert_eq!(
        vals,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );

    let n: i64 = con.incr("counter", 1).await.unwrap();
    assert_eq!(n, 1);
    let n: i64 = con.incr("counter", 41).await.unwrap();
    assert_eq!(n, 42);
    let n: i64 = con.decr("counter", 2).await.unwrap();
    assert_eq!(n, 40);
    let f: f64 = con.incr("float", 2.5f64).await.unwrap();
    assert_eq!(f, 2.5);

    let set: bool = con.expire("greeting", 100).await.unwrap();
    assert!(set);
    let ttl: i64 = con.ttl("greeting").await.unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    let ttl: i64 = con.ttl("a").await.unwrap();
    assert_eq!(ttl, -1);
    let ttl: i64 = con.ttl("nope").await.unwrap();
    assert_eq!(ttl, -2);
    let persisted: bool = con.persist("greeting").await.unwrap();
    assert!(persisted);

    let () = con.set_ex("temp", "x", 100).await.unwrap();
    let exists: bool = con.exists("temp").await.unwrap();
    assert!(exists);
    let deleted: i64 = con.del(&["temp", "a", "nope"]).await.unwrap();
    assert_eq!(deleted, 2);
    let len: i64 = con.append("greeting", " world").await.unwrap();
    assert_eq!(len, 11);
    let r: String = con.getrange("greeting", 0, 4).await.unwrap();
    assert_eq!(r, "hello");

    // errors surface as typed errors
    let err = con.incr::<_, _, i64>("greeting", 1).await.unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::ResponseError, "{err}");
    assert!(err.to_string().contains("not an integer"), "{err}");
    let err = redis::cmd("NOSUCHCOMMAND")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");

    // binary values round-trip
    let bin: Vec<u8> = (0u8..=255).collect();
    let () = con.set("bin", bin.as_slice()).await.unwrap();
    let back: Vec<u8> = con.get("bin").await.unwrap();
    assert_eq!(back, bin);
}

#[tokio::test]
async fn redis_crate_pipeline_and_transactions_of_writes() {
    let s = Subject::start(FerryOpts::default());
    let mut con = connect(s.port()).await;
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.set(format!("p:{i}"), i).ignore();
    }
    pipe.get("p:0").get("p:499").incr("p:7", 3).cmd("DBSIZE");
    let (a, b, c, n): (i64, i64, i64, i64) = pipe.query_async(&mut con).await.unwrap();
    assert_eq!((a, b, c, n), (0, 499, 10, 500));

    // a pipeline with an error in the middle: the error is reported, the rest ran
    let r: redis::RedisResult<(String, i64, String)> = redis::pipe()
        .set("x", "notanumber")
        .incr("x", 1)
        .get("x")
        .query_async(&mut con)
        .await;
    assert!(r.is_err());
    let x: String = con.get("x").await.unwrap();
    assert_eq!(x, "notanumber");

    // many concurrent requests over the multiplexed connection
    let mut handles = Vec::new();
    for t in 0..8 {
        let mut c = con.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..100 {
                let _: i64 = c.incr("shared", 1).await.unwrap();
            }
            t
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let total: i64 = con.get("shared").await.unwrap();
    assert_eq!(total, 800);
}

#[tokio::test]
async fn redis_crate_scan_1000_keys() {
    let s = Subject::start(FerryOpts::default());
    let mut con = connect(s.port()).await;
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("key:{i}"), i).ignore();
    }
    for i in 0..100 {
        pipe.set(format!("other:{i}"), i).ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();

    let mut seen = std::collections::BTreeSet::new();
    {
        let mut iter: redis::AsyncIter<String> = con.scan_match("key:*").await.unwrap();
        while let Some(k) = iter.next_item().await {
            seen.insert(k);
        }
    }
    let want: std::collections::BTreeSet<String> = (0..1000).map(|i| format!("key:{i}")).collect();
    assert_eq!(
        seen.len(),
        1000,
        "SCAN MATCH key:* returned {} distinct keys",
        seen.len()
    );
    assert_eq!(seen, want);

    let mut all = std::collections::BTreeSet::new();
    {
        let mut iter: redis::AsyncIter<String> = con.scan().await.unwrap();
        while let Some(k) = iter.next_item().await {
            all.insert(k);
        }
    }
    assert_eq!(all.len(), 1100);
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(n, 1100);
    let keys: Vec<String> = con.keys("other:9*").await.unwrap();
    assert_eq!(keys.len(), 11);
}

#[tokio::test]
async fn redis_crate_resp3_and_select() {
    let s = Subject::start(FerryOpts::default());
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/3?protocol=resp3", s.port())).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let () = con.set("in3", "v").await.unwrap();
    let v: Option<String> = con.get("nope").await.unwrap();
    assert_eq!(v, None);
    let mut con0 = connect(s.port()).await;
    let v: Option<String> = con0.get("in3").await.unwrap();
    assert_eq!(v, None, "db 0 must not see a key written to db 3");
    let v: String = redis::cmd("SELECT")
        .arg(3)
        .query_async(&mut con0)
        .await
        .unwrap();
    assert_eq!(v, "OK");
}

// ---------------------------------------------------------------------------
// redis-cli
// ---------------------------------------------------------------------------

fn redis_cli(port: u16, args: &[&str], stdin: Option<&[u8]>) -> (String, String, bool) {
    let bin = require_binary("redis-cli");
    let mut child = Command::new(bin)
        .arg("-h")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        si.write_all(input).unwrap();
    }
    // redis-cli commands below are all bounded; wait_with_output closes stdin first
    let out = child.wait_with_output().expect("redis-cli");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

struct CliPair {
    redis: RedisProc,
    subject: Subject,
}

impl CliPair {
    fn new() -> CliPair {
        CliPair {
            redis: RedisProc::start(&[]),
            subject: Subject::start(FerryOpts::default()),
        }
    }

    /// Runs redis-cli with the same arguments against both servers and
    /// asserts the printed output is identical.
    #[track_caller]
    fn same(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let a = redis_cli(self.redis.port(), args, stdin);
        let b = redis_cli(self.subject.port(), args, stdin);
        assert_eq!(
            a,
            b,
            "redis-cli {} printed differently (left: redis, right: subject)",
            args.join(" ")
        );
        a.0
    }
}

#[test]
fn redis_cli_commands() {
    let p = CliPair::new();
    p.same(&["PING"], None);
    p.same(&["SET", "a", "hello world"], None);
    p.same(&["GET", "a"], None);
    p.same(&["GET", "nope"], None);
    p.same(&["INCR", "n"], None);
    p.same(&["INCRBYFLOAT", "f", "1.5"], None);
    p.same(&["MSET", "x", "1", "y", "2"], None);
    p.same(&["MGET", "x", "y", "nope"], None);
    p.same(&["--raw", "MGET", "x", "y", "nope"], None);
    p.same(&["EXISTS", "a", "x"], None);
    p.same(&["INCR", "a"], None);
    p.same(&["NOSUCH", "arg"], None);
    p.same(&["TYPE", "a"], None);
    p.same(&["TTL", "a"], None);
    p.same(&["-3", "GET", "nope"], None);
    p.same(&["-3", "INCRBYFLOAT", "f", "1"], None);
    p.same(&["-3", "MGET", "x", "nope"], None);
    p.same(&["-n", "2", "SET", "db2", "v"], None);
    p.same(&["-n", "2", "GET", "db2"], None);
    p.same(&["GET", "db2"], None);
    p.same(&["DBSIZE"], None);
}

#[test]
fn redis_cli_stdin_x_and_pipe() {
    let p = CliPair::new();
    // -x: the last argument is read from stdin
    let value = b"line one\nline two\n\x00binary\xff";
    p.same(&["-x", "SET", "fromstdin"], Some(value));
    p.same(&["STRLEN", "fromstdin"], None);
    p.same(&["--raw", "GET", "fromstdin"], None);
    p.same(&["-x", "APPEND", "fromstdin"], Some(b"tail"));
    p.same(&["STRLEN", "fromstdin"], None);

    // --pipe: mass insertion of raw RESP (redis-cli appends an ECHO marker)
    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend(common::encode_command(&[
            "SET",
            &format!("bulk:{i}"),
            &i.to_string(),
        ]));
    }
    input.extend(common::encode_command(&["INCR", "bulk:0"]));
    input.extend(common::encode_command(&["INCR", "fromstdin"])); // an error reply
    let out = p.same(&["--pipe"], Some(&input));
    assert!(
        out.contains("errors: 1, replies: 1002"),
        "--pipe output: {out}"
    );
    p.same(&["DBSIZE"], None);
    p.same(&["GET", "bulk:0"], None);
    p.same(&["GET", "bulk:999"], None);

    // inline commands through --pipe too
    let out = p.same(
        &["--pipe"],
        Some(b"SET inl 1\r\nINCR inl\r\nSET q \"a b\"\r\n"),
    );
    assert!(
        out.contains("errors: 0, replies: 3"),
        "--pipe output: {out}"
    );
    p.same(&["GET", "q"], None);

    // --scan: iterate the whole keyspace
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(|l| l.to_string()).collect();
        v.sort();
        v
    };
    let a = redis_cli(p.redis.port(), &["--scan", "--pattern", "bulk:9*"], None);
    let b = redis_cli(p.subject.port(), &["--scan", "--pattern", "bulk:9*"], None);
    assert_eq!(
        sorted(a.0),
        sorted(b.0),
        "redis-cli --scan --pattern bulk:9*"
    );
    let b_all = redis_cli(p.subject.port(), &["--scan"], None);
    assert_eq!(
        b_all.0.lines().count(),
        1003,
        "redis-cli --scan over the subject"
    );
}

#[test]
fn redis_cli_with_password() {
    let redis = RedisProc::start(&["--requirepass", "pw"]);
    let subject = Subject::start(FerryOpts::default().requirepass("pw"));
    for args in [
        &["GET", "k"][..],
        &["--no-auth-warning", "-a", "pw", "SET", "k", "v"],
        &["--no-auth-warning", "-a", "pw", "GET", "k"],
        &["--no-auth-warning", "-a", "wrong", "GET", "k"],
        &[
            "--no-auth-warning",
            "--user",
            "default",
            "--pass",
            "pw",
            "-3",
            "GET",
            "k",
        ],
    ] {
        let a = redis_cli(redis.port(), args, None);
        let b = redis_cli(subject.port(), args, None);
        assert_eq!(a, b, "redis-cli {}", args.join(" "));
    }
}
