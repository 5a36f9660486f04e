//! Malformed and hostile input: each input goes to a fresh connection on both
//! redis-server and the subject; everything the server sends back (until it
//! closes the connection or goes quiet) must be identical, including whether
//! it closes. After each case both servers must still answer PING on a new
//! connection.

mod common;

use common::{encode_command, escape, Pair};
use std::time::Duration;

/// How long to wait for more output from a server that did not close.
const QUIET: Duration = Duration::from_millis(300);

#[track_caller]
fn still_serving(p: &mut Pair, after: &str) {
    let mut q = p.connect();
    let a = q.a.cmd(&["PING"]);
    let b = q.b.try_cmd(&["PING"]).unwrap_or_else(|e| {
        panic!(
            "subject stopped serving new connections after {after}: {e}\nsubject log:\n{}",
            p.subject.log()
        )
    });
    assert_eq!(escape(&a), escape(&b), "PING after {after}");
}

/// Sends `input` on a new connection to each side and compares what comes back.
#[track_caller]
fn same_abuse(p: &mut Pair, input: &[u8]) {
    let what = escape(&input[..input.len().min(120)]);
    {
        let mut q = p.connect();
        q.a.set_read_timeout(QUIET);
        q.b.set_read_timeout(QUIET);
        let _ = q.a.try_send_raw(input);
        let _ = q.b.try_send_raw(input);
        let (qa, qb) = (&mut q.a, &mut q.b);
        let ((ra, ca), (rb, cb)) = std::thread::scope(|s| {
            let ha = s.spawn(|| qa.read_until_close());
            let hb = s.spawn(|| qb.read_until_close());
            (ha.join().unwrap(), hb.join().unwrap())
        });
        if ra != rb || ca != cb {
            p.fail(format!(
                "input {what}:\n  redis (closed={ca}): {}\n  subject (closed={cb}): {}",
                escape(&ra),
                escape(&rb)
            ));
        }
    }
    still_serving(p, &what);
}

#[test]
fn malformed_multibulk() {
    let mut p = Pair::new();
    for input in [
        &b"*abc\r\n"[..],
        b"*1\r\n$-5\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\n$600000000\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\nfoo\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"*1048577\r\n",
        b"*3000000000\r\n",
        b"*-1\r\nPING\r\n",
        b"*-5\r\n*1\r\n$4\r\nPING\r\n",
        b"*0\r\n*1\r\n$4\r\nPING\r\n",
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        b"*1\r\n$\r\n",
        b"*\r\n",
        b"*1 \r\n$4\r\nPING\r\n",
        b"*1\r\n$4 \r\nPING\r\n",
        b"*01\r\n$04\r\nPING\r\n",
        b"*+1\r\n$4\r\nPING\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"*1\n$4\r\nPING\r\n",
        b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        b"*1\r\n$4\r\nPING\r\n*abc\r\n",
    ] {
        same_abuse(&mut p, input);
    }
}

#[test]
fn oversized_counts() {
    let mut p = Pair::new();
    let mut long_mbulk = b"*".to_vec();
    long_mbulk.extend(std::iter::repeat_n(b'1', 70_000));
    same_abuse(&mut p, &long_mbulk);
    let mut long_bulk = b"*1\r\n$".to_vec();
    long_bulk.extend(std::iter::repeat_n(b'1', 70_000));
    same_abuse(&mut p, &long_bulk);
}

#[test]
fn inline_with_nul_bytes() {
    // Redis looks for the inline newline with strchr, so a NUL byte before it
    // means "no complete line yet": it stays silent (also for the commands
    // after it on that connection) and keeps serving other clients, until the
    // unterminated "line" passes the 64 KB inline limit.
    let mut p = Pair::new();
    for input in [
        &b"\x00\x01\x02\xff garbage\r\n"[..],
        b"abc\x00def\r\n",
        b"\x00\r\n",
        b"PING\x00\r\nPING\r\n",
    ] {
        same_abuse(&mut p, input);
    }
    let mut nul_then_big = b"GET a\x00b\r\n".to_vec();
    nul_then_big.extend(std::iter::repeat_n(b'x', 70 * 1024));
    same_abuse(&mut p, &nul_then_big);
}

#[test]
fn garbage_bytes() {
    let mut p = Pair::new();
    for input in [
        &b"\xff\xfe\xfd\r\n"[..],
        b"$3\r\nabc\r\n",
        b":1\r\n",
        b"+PING\r\n",
        b"-ERR\r\n",
        b"hello world\r\n",
        b"\r\n\r\n\r\nPING\r\n",
        b"\n",
    ] {
        same_abuse(&mut p, input);
    }
}

#[test]
fn too_big_inline_request() {
    let mut p = Pair::new();
    let big = vec![b'a'; 70 * 1024];
    same_abuse(&mut p, &big);
    let mut big_cmd = b"SET k ".to_vec();
    big_cmd.extend(std::iter::repeat_n(b'x', 70 * 1024));
    same_abuse(&mut p, &big_cmd);
    // a long inline request that does end in a newline is fine up to the limit
    let mut ok_cmd = b"ECHO ".to_vec();
    ok_cmd.extend(std::iter::repeat_n(b'y', 60 * 1024));
    ok_cmd.extend_from_slice(b"\r\n");
    same_abuse(&mut p, &ok_cmd);
}

#[test]
fn inline_commands() {
    let mut p = Pair::new();
    for input in [
        &b"PING\r\n"[..],
        b"PING\n",
        b"ping hello\r\n",
        b"  PING   \r\n",
        b"SET a \"b c\"\r\nGET a\r\n",
        b"SET a 'single quoted'\r\nGET a\r\n",
        b"ECHO \"hex\\x41\\x42 tab\\t nl\\n\"\r\n",
        b"ECHO 'it\\'s'\r\n",
        b"ECHO \"\"\r\n",
    ] {
        same_abuse(&mut p, input);
    }
}

#[test]
fn inline_errors() {
    let mut p = Pair::new();
    for input in [
        &b"SET a \"b c\r\n"[..],
        b"SET a 'b c\r\n",
        b"ECHO \"a\"b\r\n",
        b"GET\r\n",
        b"NOSUCH a b\r\n",
        b"PING\r\nPING\r\nECHO x\r\n",
        b"PING\r\n*1\r\n$4\r\nPING\r\n",
        b"MSET k1 1 k2 2\r\nMGET k1 k2 k3\r\n",
        b"\r\n",
    ] {
        same_abuse(&mut p, input);
    }
}

#[test]
fn truncated_frame_then_close() {
    let mut p = Pair::new();
    for input in [
        &b"*2\r\n$3\r\nGET\r\n$1"[..],
        b"*2\r\n$3\r\nSET\r\n",
        b"*1\r\n$100\r\nabc",
        b"*3",
        b"PING",
    ] {
        // the server must stay quiet (no reply to an incomplete frame)...
        same_abuse(&mut p, input);
        // ...and survive the client going away mid-frame
        let mut q = p.connect();
        q.a.send_raw(input);
        q.b.send_raw(input);
        q.a.shutdown_write();
        q.b.shutdown_write();
        q.a.set_read_timeout(QUIET);
        q.b.set_read_timeout(QUIET);
        let (ra, _) = q.a.read_until_close();
        let (rb, _) = q.b.read_until_close();
        assert_eq!(
            escape(&ra),
            escape(&rb),
            "after half-close of {}",
            escape(input)
        );
        drop(q);
        still_serving(
            &mut p,
            &format!("client closed mid-frame {}", escape(input)),
        );
    }
    // the other connection kept working throughout
    p.same(&["PING"]);
}

#[test]
fn pipeline_10000_incr() {
    let mut p = Pair::new();
    let one = encode_command(&["INCR", "ctr"]);
    let mut all = Vec::with_capacity(one.len() * 10_000);
    for _ in 0..10_000 {
        all.extend_from_slice(&one);
    }
    let ha = p.a.send_raw_in_background(all.clone());
    let hb = p.b.send_raw_in_background(all);
    for i in 1..=10_000u32 {
        let want = format!(":{i}\r\n");
        let a = p.a.read_reply();
        let b =
            p.b.try_read_reply()
                .unwrap_or_else(|e| panic!("reply {i} of 10000 from the subject: {e}"));
        assert_eq!(escape(&a), escape(want.as_bytes()), "redis reply {i}");
        assert_eq!(
            escape(&b),
            escape(want.as_bytes()),
            "subject reply {i} out of order or wrong"
        );
    }
    ha.join().unwrap().expect("write to redis");
    hb.join().unwrap().expect("write to subject");
    p.same_expect(&["GET", "ctr"], b"$5\r\n10000\r\n");
}

#[test]
fn pipeline_mixed_with_errors() {
    // errors in the middle of a pipeline do not disturb the replies around them
    let mut p = Pair::new();
    let mut all = Vec::new();
    let cmds: Vec<Vec<&str>> = vec![
        vec!["SET", "a", "1"],
        vec!["INCR", "a"],
        vec!["NOSUCH"],
        vec!["GET"],
        vec!["SET", "s", "x"],
        vec!["INCR", "s"],
        vec!["GET", "a"],
        vec!["SET", "a", "1", "NX", "XX"],
        vec!["PING"],
    ];
    for c in &cmds {
        all.extend(encode_command(c));
    }
    all.extend_from_slice(b"ECHO inline\r\n");
    p.a.send_raw(&all);
    p.b.send_raw(&all);
    for i in 0..=cmds.len() {
        let a = p.a.read_reply();
        let b =
            p.b.try_read_reply()
                .unwrap_or_else(|e| panic!("reply {i}: {e}"));
        assert_eq!(escape(&a), escape(&b), "pipelined reply {i}");
    }
}

#[test]
fn byte_at_a_time() {
    // a frame delivered one byte per write still parses
    let mut p = Pair::new();
    let frame = encode_command(&["SET", "slow", "value with spaces"]);
    for &byte in &frame {
        p.a.send_raw(&[byte]);
        p.b.send_raw(&[byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    let a = p.a.read_reply();
    let b = p.b.read_reply();
    assert_eq!(escape(&a), escape(&b));
    p.same(&["GET", "slow"]);
}

#[test]
fn many_connections_with_garbage() {
    // a burst of clients that send garbage and leave; the server keeps serving
    let mut p = Pair::new();
    let port = p.subject.port();
    for i in 0..50 {
        let mut c = common::RawConn::connect(port);
        let _ = c.try_send_raw(if i % 2 == 0 {
            b"*abc\r\n"
        } else {
            b"*2\r\n$3\r\nGE"
        });
        drop(c);
    }
    still_serving(&mut p, "50 abusive connections");
    p.same(&["PING"]);
}
