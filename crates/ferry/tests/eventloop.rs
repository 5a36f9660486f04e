//! The event loop on the executor's thread (issue 13): a client that does
//! not read its replies holds back only itself, bursts of connections are
//! all served, and a RAFT admin command (run off the loop, answered back
//! through its waker) keeps its place in a pipeline.

mod common;

use common::{encode_command, escape, FerryOpts, FerryProc, RawConn};
use std::time::Duration;

#[test]
fn a_client_that_does_not_read_its_replies_does_not_stall_the_others() {
    let ferry = FerryProc::start(FerryOpts::default());
    let mut setup = ferry.connect();
    let value = "v".repeat(256 * 1024);
    assert_eq!(setup.cmd(&["SET", "big", value.as_str()]), b"+OK\r\n");
    // 400 GETs of 256 KiB: 100 MiB of replies, far more than the socket
    // buffers hold, sent without reading any of them.
    let mut slow = ferry.connect();
    let one = encode_command(&["GET", "big"]);
    let requests: Vec<u8> = one.iter().copied().cycle().take(one.len() * 400).collect();
    let writer = slow.send_raw_in_background(requests);
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile another client is served, reads and writes alike.
    let mut other = ferry.connect();
    other.set_read_timeout(Duration::from_secs(20));
    for i in 0..100 {
        let n = i.to_string();
        assert_eq!(
            other.try_cmd(&["SET", "k", n.as_str()]),
            Ok(b"+OK\r\n".to_vec()),
            "SET {i} while a client leaves its replies unread\nlog:\n{}",
            ferry.log()
        );
        assert_eq!(
            other.cmd(&["GET", "k"]),
            format!("${}\r\n{n}\r\n", n.len()).into_bytes()
        );
    }
    // The slow client then gets every reply, whole and in order.
    let want = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
    for i in 0..400 {
        let got = slow
            .try_read_reply()
            .unwrap_or_else(|e| panic!("reply {i} of 400 to the slow client: {e}"));
        assert!(
            got == want,
            "reply {i} of 400 differs ({} bytes)",
            got.len()
        );
    }
    writer
        .join()
        .expect("writer thread")
        .expect("write the GETs");
}

#[test]
fn a_burst_of_connections_is_served_in_full() {
    let ferry = FerryProc::start(FerryOpts::default());
    let port = ferry.port();
    let clients: Vec<_> = (0..64)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                for _ in 0..50 {
                    let r = c.cmd(&["INCR", "counter"]);
                    assert!(r.starts_with(b":"), "INCR answered {}", escape(&r));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    assert_eq!(ferry.connect().cmd(&["GET", "counter"]), b"$4\r\n3200\r\n");
}

#[test]
fn a_raft_admin_command_keeps_its_place_in_a_pipeline() {
    let ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    let mut pipeline = Vec::new();
    for cmd in [
        &["SET", "a", "1"][..],
        &["RAFT", "STATUS"],
        &["INCR", "a"],
        &["RAFT", "STATUS"],
        &["GET", "a"],
    ] {
        pipeline.extend(encode_command(cmd));
    }
    c.send_raw(&pipeline);
    let replies: Vec<String> = (0..5).map(|_| escape(&c.read_reply())).collect();
    assert_eq!(replies[0], "+OK\\r\\n");
    assert!(
        replies[1].starts_with("-ERR this ferry server does not run Raft"),
        "{replies:?}"
    );
    assert_eq!(replies[2], ":2\\r\\n");
    assert_eq!(replies[3], replies[1]);
    assert_eq!(replies[4], "$1\\r\\n2\\r\\n");
}

#[test]
fn a_raft_admin_command_needs_authentication_first() {
    let ferry = FerryProc::start(FerryOpts::default().requirepass("secret"));
    let mut c = ferry.connect();
    assert_eq!(
        c.cmd(&["RAFT", "STATUS"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    let r = c.cmd(&["RAFT", "STATUS"]);
    assert!(
        r.starts_with(b"-ERR this ferry server does not run Raft"),
        "{}",
        escape(&r)
    );
}
