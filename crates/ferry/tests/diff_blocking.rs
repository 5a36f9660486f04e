//! Blocking list commands with several clients, compared with redis-server
//! 7.0: wake-ups, first-come first-served order, transactions, timeouts,
//! disconnects, CLIENT UNBLOCK and pipelined commands behind a blocked one.

#[macro_use]
mod common;

use common::ConnPair;

/// Sends a command on both servers without reading the reply.
fn send(p: &mut ConnPair, args: &[&str]) {
    p.a.send(args);
    p.b.send(args);
}

/// Reads one frame from both servers and requires them equal.
#[track_caller]
fn next_same(p: &mut ConnPair, what: &str) -> String {
    let a = String::from_utf8_lossy(&p.a.read_reply()).into_owned();
    let b = String::from_utf8_lossy(&p.b.read_reply()).into_owned();
    assert_eq!(a, b, "reply to {what}");
    a
}

/// Gives both servers time to park the clients that just blocked.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(100));
}

diff_test!(push_wakes_a_blocked_client, |p| {
    let mut waiter = p.connect();
    send(&mut waiter, &["BLPOP", "q1", "q2", "0"]);
    settle();
    p.same(&["RPUSH", "q2", "a", "b"]);
    next_same(&mut waiter, "BLPOP q1 q2 0");
    p.same(&["LRANGE", "q2", "0", "-1"]);
    send(&mut waiter, &["BRPOP", "q2", "0"]);
    next_same(&mut waiter, "BRPOP with data");
    p.same(&["EXISTS", "q2"]);
});

diff_test!(first_come_first_served, |p| {
    let mut first = p.connect();
    let mut second = p.connect();
    send(&mut first, &["BLPOP", "fifo", "0"]);
    settle();
    send(&mut second, &["BLPOP", "fifo", "0"]);
    settle();
    p.same(&["RPUSH", "fifo", "one"]);
    next_same(&mut first, "first waiter");
    p.same(&["RPUSH", "fifo", "two"]);
    next_same(&mut second, "second waiter");
    p.same(&["EXISTS", "fifo"]);
});

diff_test!(push_inside_multi_wakes_after_exec, |p| {
    let mut waiter = p.connect();
    send(&mut waiter, &["BLPOP", "tx", "0"]);
    settle();
    p.same(&["MULTI"]);
    p.same(&["RPUSH", "tx", "a", "b"]);
    p.same(&["LPOP", "tx"]);
    p.same(&["EXEC"]);
    next_same(&mut waiter, "BLPOP after EXEC");
    p.same(&["LLEN", "tx"]);
    // A push and pop of the same element inside one transaction leaves the
    // waiter waiting.
    send(&mut waiter, &["BLPOP", "tx", "0.3"]);
    settle();
    p.same(&["MULTI"]);
    p.same(&["RPUSH", "tx", "x"]);
    p.same(&["RPOP", "tx"]);
    p.same(&["EXEC"]);
    next_same(&mut waiter, "BLPOP timing out");
});

diff_test!(nothing_blocks_inside_multi, |p| {
    p.same(&["MULTI"]);
    p.same(&["BLPOP", "empty", "0"]);
    p.same(&["BRPOPLPUSH", "empty", "dst", "0"]);
    p.same(&["BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0"]);
    p.same(&["BLMPOP", "0", "1", "empty", "LEFT"]);
    p.same(&["EXEC"]);
});

diff_test!(timeouts_and_errors, |p| {
    p.same(&["BLPOP", "none", "0.05"]);
    p.same(&["BRPOP", "none", "0.01"]);
    p.same(&["BLMOVE", "none", "d", "LEFT", "LEFT", "0.01"]);
    p.same(&["BRPOPLPUSH", "none", "d", "0.01"]);
    p.same(&[
        "BLMPOP", "0.01", "2", "none", "none2", "RIGHT", "COUNT", "3",
    ]);
    p.same(&["BLPOP", "k", "abc"]);
    p.same(&["BLPOP", "k", "-1"]);
    p.same(&["BLPOP", "k", "1e100"]);
    p.same(&["BLPOP", "k"]);
    p.same(&["BLMPOP", "0", "0", "k", "LEFT"]);
    p.same(&["BLMPOP", "0", "x", "k", "LEFT"]);
    p.same(&["BLMPOP", "0", "2", "k", "LEFT"]);
    p.same(&["BLMPOP", "0", "1", "k", "MIDDLE"]);
    p.same(&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"]);
    p.same(&["BLMOVE", "a", "b", "UP", "LEFT", "0"]);
    p.same(&["SET", "str", "x"]);
    p.same(&["BLPOP", "str", "0"]);
    p.same(&["RPUSH", "l", "1", "2", "3"]);
    p.same(&["BLMOVE", "l", "str", "LEFT", "LEFT", "0"]);
    p.same(&["BLMPOP", "0", "2", "str", "l", "LEFT"]);
    p.same(&["BLMPOP", "0", "2", "nolist", "l", "RIGHT", "COUNT", "1"]);
    p.same(&["BRPOPLPUSH", "l", "l2", "0"]);
    p.same(&["LRANGE", "l2", "0", "-1"]);
});

diff_test!(blmove_and_blmpop_wake_up, |p| {
    let mut mover = p.connect();
    send(&mut mover, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    settle();
    p.same(&["LPUSH", "src", "v1", "v2"]);
    next_same(&mut mover, "BLMOVE");
    p.same(&["LRANGE", "dst", "0", "-1"]);
    let mut multi = p.connect();
    send(
        &mut multi,
        &["BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "2"],
    );
    settle();
    p.same(&["RPUSH", "m2", "a", "b", "c"]);
    next_same(&mut multi, "BLMPOP");
    p.same(&["LRANGE", "m2", "0", "-1"]);
});

diff_test!(a_disconnected_waiter_leaves_no_trace, |p| {
    let mut waiter = p.connect();
    send(&mut waiter, &["BLPOP", "gone", "0"]);
    settle();
    drop(waiter);
    settle();
    p.same(&["RPUSH", "gone", "kept"]);
    p.same(&["LRANGE", "gone", "0", "-1"]);
});

diff_test!(pipelined_commands_wait_behind_a_blocked_one, |p| {
    let mut waiter = p.connect();
    send(&mut waiter, &["BLPOP", "pipe", "0"]);
    send(&mut waiter, &["PING"]);
    send(&mut waiter, &["LLEN", "pipe"]);
    settle();
    p.same(&["RPUSH", "pipe", "x", "y"]);
    next_same(&mut waiter, "BLPOP");
    next_same(&mut waiter, "PING after BLPOP");
    next_same(&mut waiter, "LLEN after BLPOP");
});

diff_test!(client_unblock, |p| {
    let mut waiter = p.connect();
    // Client ids differ between the servers: unblock each by its own id.
    let id_a = String::from_utf8_lossy(&waiter.a.cmd(&["CLIENT", "ID"]))
        .trim_start_matches(':')
        .trim()
        .to_string();
    let id_b = String::from_utf8_lossy(&waiter.b.cmd(&["CLIENT", "ID"]))
        .trim_start_matches(':')
        .trim()
        .to_string();
    send(&mut waiter, &["BLPOP", "ub", "0"]);
    settle();
    let info = String::from_utf8_lossy(&p.b.cmd(&["INFO", "clients"])).into_owned();
    assert!(info.contains("blocked_clients:1"), "{info}");
    let ra = p.a.cmd(&["CLIENT", "UNBLOCK", &id_a]);
    let rb = p.b.cmd(&["CLIENT", "UNBLOCK", &id_b]);
    assert_eq!(ra, rb, "CLIENT UNBLOCK reply");
    next_same(&mut waiter, "BLPOP unblocked (timeout)");
    send(&mut waiter, &["BRPOP", "ub", "0"]);
    settle();
    let ra = p.a.cmd(&["CLIENT", "UNBLOCK", &id_a, "ERROR"]);
    let rb = p.b.cmd(&["CLIENT", "UNBLOCK", &id_b, "ERROR"]);
    assert_eq!(ra, rb, "CLIENT UNBLOCK ERROR reply");
    next_same(&mut waiter, "BRPOP unblocked (error)");
    // Not blocked any more: 0.
    let ra = p.a.cmd(&["CLIENT", "UNBLOCK", &id_a]);
    let rb = p.b.cmd(&["CLIENT", "UNBLOCK", &id_b]);
    assert_eq!(ra, rb);
    p.same(&["CLIENT", "UNBLOCK", "abc"]);
    p.same(&["CLIENT", "UNBLOCK", "1", "MAYBE"]);
    let info = String::from_utf8_lossy(&p.b.cmd(&["INFO", "clients"])).into_owned();
    assert!(info.contains("blocked_clients:0"), "{info}");
});

diff_test!(sorted_set_blocking_pops, |p| {
    p.same(&["ZADD", "zz", "1", "a", "2", "b", "3", "c"]);
    p.same(&["BZPOPMIN", "zz", "0"]);
    p.same(&["BZPOPMAX", "nothing", "zz", "0"]);
    p.same(&["BZMPOP", "0", "1", "zz", "MIN", "COUNT", "5"]);
    p.same(&["BZPOPMIN", "zz", "0.01"]);
    p.same(&["BZMPOP", "0.01", "1", "zz", "MAX"]);
    p.same(&["BZMPOP", "0", "0", "zz", "MAX"]);
    p.same(&["BZMPOP", "0", "1", "zz", "SIDEWAYS"]);
    p.same(&["BZPOPMIN", "zz", "-1"]);
    p.same(&["SET", "str", "x"]);
    p.same(&["BZPOPMIN", "str", "0"]);
    let mut waiter = p.connect();
    send(&mut waiter, &["BZPOPMAX", "zw", "0"]);
    settle();
    p.same(&["ZADD", "zw", "5", "five", "9", "nine"]);
    next_same(&mut waiter, "BZPOPMAX wake-up");
    send(
        &mut waiter,
        &["BZMPOP", "0", "2", "zx", "zw", "MIN", "COUNT", "3"],
    );
    next_same(&mut waiter, "BZMPOP with data");
    send(&mut waiter, &["BZMPOP", "0", "1", "zy", "MIN"]);
    settle();
    p.same(&["ZADD", "zy", "1", "one"]);
    next_same(&mut waiter, "BZMPOP wake-up");
    p.same(&["MULTI"]);
    p.same(&["BZPOPMIN", "empty", "0"]);
    p.same(&["BZMPOP", "0", "1", "empty", "MIN"]);
    p.same(&["EXEC"]);
});
