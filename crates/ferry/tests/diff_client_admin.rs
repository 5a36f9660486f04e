//! Differential tests for CLIENT REPLY, CLIENT PAUSE/UNPAUSE and WAIT,
//! against redis-server 7.0, plus CLIENT NO-TOUCH (Redis 7.2, so checked
//! on ferry alone).

#[macro_use]
mod common;

use common::{FerryOpts, FerryProc};
use std::time::{Duration, Instant};

diff_test!(client_reply, |p| {
    p.same_pipeline(
        &[
            &["CLIENT", "REPLY", "OFF"],
            &["SET", "a", "1"],
            &["GET", "a"],
            &["INCR", "nope-not-a-number-x"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "a"],
        ],
        2,
    );
    p.same_pipeline(
        &[
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "b", "2"],
            &["GET", "b"],
        ],
        1,
    );
    // SKIP while OFF does nothing more; errors are replied.
    p.same_pipeline(
        &[
            &["CLIENT", "REPLY", "maybe"],
            &["CLIENT", "REPLY", "OFF"],
            &["CLIENT", "REPLY", "SKIP"],
            &["GET", "b"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "b"],
        ],
        3,
    );
    p.same(&["CLIENT", "REPLY"]);
    p.same(&["CLIENT", "REPLY", "on", "extra"]);
});

diff_test!(client_pause_errors, |p| {
    p.same(&["CLIENT", "PAUSE"]);
    p.same(&["CLIENT", "PAUSE", "abc"]);
    p.same(&["CLIENT", "PAUSE", "-1"]);
    p.same(&["CLIENT", "PAUSE", "10", "maybe"]);
    p.same(&["CLIENT", "PAUSE", "10", "WRITE", "extra"]);
    p.same(&["CLIENT", "PAUSE", "1", "WRITE"]);
    p.same(&["CLIENT", "UNPAUSE"]);
    p.same(&["CLIENT", "UNPAUSE", "x"]);
});

/// Reads whether a reply is pending within `wait` on each side.
fn pending(conn: &mut common::RawConn, wait: Duration) -> Option<Vec<u8>> {
    conn.set_read_timeout(wait);
    let r = conn.try_read_reply().ok();
    conn.set_read_timeout(Duration::from_secs(10));
    r
}

diff_test!(client_pause_write_holds_writes, |p| {
    let mut b = p.connect();
    p.same(&["SET", "k", "v"]);
    p.same(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    // Reads run.
    b.same(&["GET", "k"]);
    b.same(&["MULTI"]);
    b.same(&["GET", "k"]);
    b.same(&["EXEC"]);
    // Writes, PUBLISH, scripts, and an EXEC with a write queued are held.
    for held in [
        vec!["SET", "k", "w"],
        vec!["PUBLISH", "ch", "m"],
        vec!["EVAL", "return 1", "0"],
    ] {
        b.a.send(&held);
        b.b.send(&held);
        let (ha, hb) = (
            pending(&mut b.a, Duration::from_millis(200)),
            pending(&mut b.b, Duration::from_millis(200)),
        );
        assert!(
            ha.is_none() && hb.is_none(),
            "{held:?} ran during the pause"
        );
        // The held client counts as blocked.
        let info = |raw: Vec<u8>| {
            String::from_utf8_lossy(&raw)
                .lines()
                .find(|l| l.starts_with("blocked_clients:"))
                .map(str::to_string)
        };
        assert_eq!(
            info(p.a.cmd(&["INFO", "clients"])),
            info(p.b.cmd(&["INFO", "clients"]))
        );
        p.same(&["CLIENT", "UNPAUSE"]);
        let a = b.a.read_reply();
        let bb = b.b.read_reply();
        assert_eq!(a, bb, "{held:?} after UNPAUSE");
        p.same(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    }
    // Redis 7.0 holds a write even when it is only being queued.
    b.same(&["MULTI"]);
    b.a.send(&["SET", "k", "x"]);
    b.b.send(&["SET", "k", "x"]);
    assert!(pending(&mut b.a, Duration::from_millis(200)).is_none());
    assert!(pending(&mut b.b, Duration::from_millis(200)).is_none());
    p.same(&["CLIENT", "UNPAUSE"]);
    let (a, bb) = (b.a.read_reply(), b.b.read_reply());
    assert_eq!(a, bb, "SET queued after UNPAUSE");
    b.same(&["EXEC"]);
    b.same(&["GET", "k"]);
});

diff_test!(client_pause_all_until_timeout, |p| {
    let mut b = p.connect();
    p.same(&["CLIENT", "PAUSE", "300"]);
    let started = Instant::now();
    b.a.send(&["GET", "k"]);
    b.b.send(&["GET", "k"]);
    let (a, bb) = (b.a.read_reply(), b.b.read_reply());
    assert_eq!(a, bb);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "GET answered during a pause of ALL"
    );
    // A shorter or weaker pause does not shorten it (in one transaction:
    // a pause of ALL holds the pausing client's next command too).
    p.same(&["MULTI"]);
    p.same(&["CLIENT", "PAUSE", "300", "ALL"]);
    p.same(&["CLIENT", "PAUSE", "10", "WRITE"]);
    p.same(&["EXEC"]);
    let started = Instant::now();
    b.a.send(&["PING"]);
    b.b.send(&["PING"]);
    let (a, bb) = (b.a.read_reply(), b.b.read_reply());
    assert_eq!(a, bb);
    assert!(started.elapsed() >= Duration::from_millis(200));
});

diff_test!(wait_without_replicas, |p| {
    p.same(&["WAIT", "0", "0"]);
    p.same(&["WAIT", "abc", "0"]);
    p.same(&["WAIT", "1", "abc"]);
    p.same(&["WAIT", "1", "-1"]);
    p.same(&["WAIT", "1"]);
    let started = Instant::now();
    p.same(&["WAIT", "1", "150"]);
    assert!(started.elapsed() >= Duration::from_millis(150));
    p.same(&["MULTI"]);
    p.same(&["WAIT", "2", "0"]);
    p.same(&["EXEC"]);
    // WAIT n 0 waits until CLIENT UNBLOCK.
    let mut other = p.connect();
    let ida = common::parse_one(&p.a.cmd(&["CLIENT", "ID"]))
        .as_int()
        .expect("id");
    let idb = common::parse_one(&p.b.cmd(&["CLIENT", "ID"]))
        .as_int()
        .expect("id");
    p.a.send(&["WAIT", "1", "0"]);
    p.b.send(&["WAIT", "1", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    let ra = other.a.cmd(&["CLIENT", "UNBLOCK", &ida.to_string()]);
    let rb = other.b.cmd(&["CLIENT", "UNBLOCK", &idb.to_string()]);
    assert_eq!(ra, rb);
    assert_eq!(p.a.read_reply(), p.b.read_reply());
});

#[test]
fn client_no_touch_on_ferry() {
    let ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "on"]), b"+OK\r\n");
    let info = String::from_utf8_lossy(&c.cmd(&["CLIENT", "INFO"])).into_owned();
    assert!(info.contains("flags=T"), "{info}");
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "off"]), b"+OK\r\n");
    assert!(c
        .cmd(&["CLIENT", "NO-TOUCH", "maybe"])
        .starts_with(b"-ERR syntax error"));
}
