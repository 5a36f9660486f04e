//! Redis 7.0 semantics a new user trips over, compared with redis-server:
//! which keys wake a blocked client (and which must not), odd blocking
//! timeouts, WATCH against keys that come and go, what dooms a transaction
//! at queue time, and MOVE between databases.

#[macro_use]
mod common;

use common::{ConnPair, FerryOpts, Pair};

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

/// Gives both servers time to park the clients that just blocked (Redis
/// also checks timeouts only every 100 ms).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(150));
}

// ---------------------------------------------------------------------------
// 1. A key that ends a transaction with the wrong type wakes nobody.
// ---------------------------------------------------------------------------

/// (blocking command, a write creating its key with the right type, one
/// creating it with another collection type).
const BLOCKERS: &[(&[&str], &[&str], &[&str])] = &[
    (
        &["BLPOP", "k", "0"],
        &["LPUSH", "k", "a"],
        &["ZADD", "k", "1", "a"],
    ),
    (
        &["BLMPOP", "0", "2", "other", "k", "LEFT"],
        &["LPUSH", "k", "a"],
        &["SADD", "k", "a"],
    ),
    (
        &["BZPOPMIN", "k", "0"],
        &["ZADD", "k", "1", "a"],
        &["LPUSH", "k", "a"],
    ),
    (
        &["BZMPOP", "0", "1", "k", "MIN", "COUNT", "2"],
        &["ZADD", "k", "1", "a"],
        &["HSET", "k", "f", "v"],
    ),
    (
        &["BRPOPLPUSH", "k", "d", "0"],
        &["LPUSH", "k", "a"],
        &["ZADD", "k", "1", "a"],
    ),
    (
        &["BLMOVE", "k", "d", "LEFT", "RIGHT", "0"],
        &["LPUSH", "k", "a"],
        &["SADD", "k", "a"],
    ),
];

diff_test!(a_key_pushed_deleted_and_set_to_a_string_wakes_nobody, |p| {
    for (block, create, _) in BLOCKERS {
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(&["MULTI"]);
        p.same(create);
        p.same(&["DEL", "k"]);
        p.same(&["SET", "k", "string"]);
        p.same(&["EXEC"]);
        settle();
        // Still waiting: served by the next real list / sorted set (a
        // WRONGTYPE above would show up here instead of the element).
        p.same(&["DEL", "k"]);
        p.same(create);
        next_same(&mut waiter, block[0]);
        p.same(&["DEL", "k", "d"]);
    }
});

diff_test!(a_key_of_another_collection_type_wakes_nobody, |p| {
    for (block, create, other) in BLOCKERS {
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(other);
        settle();
        p.same(&["TYPE", "k"]);
        p.same(&["DEL", "k"]);
        p.same(create);
        next_same(&mut waiter, block[0]);
        p.same(&["DEL", "k", "d"]);
    }
});

// ---------------------------------------------------------------------------
// 2. Keys moved into place wake blocked clients; timeouts; WATCH.
// ---------------------------------------------------------------------------

/// (blocking command on `k`, a write making the source key `src` of the
/// type it waits for).
const MOVERS: &[(&[&str], &[&str])] = &[
    (&["BLPOP", "k", "0"], &["RPUSH", "src", "a", "b"]),
    (
        &["BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "5"],
        &["RPUSH", "src", "a", "b"],
    ),
    (
        &["BZMPOP", "0", "1", "k", "MAX"],
        &["ZADD", "src", "1", "a", "2", "b"],
    ),
    (
        &["BZPOPMIN", "k", "0"],
        &["ZADD", "src", "1", "a", "2", "b"],
    ),
    (
        &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
        &["RPUSH", "src", "a", "b"],
    ),
];

diff_test!(rename_wakes_blocked_clients, |p| {
    for (block, create) in MOVERS {
        p.same(create);
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(&["RENAME", "src", "k"]);
        next_same(&mut waiter, block[0]);
        p.same(&["FLUSHALL"]);
    }
});

diff_test!(move_from_another_database_wakes_blocked_clients, |p| {
    for (block, create) in MOVERS {
        p.same(&["SELECT", "3"]);
        p.same(create);
        p.same(&["RENAME", "src", "k"]);
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(&["MOVE", "k", "0"]);
        next_same(&mut waiter, block[0]);
        p.same(&["SELECT", "0"]);
        p.same(&["FLUSHALL"]);
    }
});

diff_test!(swapdb_wakes_blocked_clients, |p| {
    for (block, create) in MOVERS {
        p.same(&["SELECT", "1"]);
        p.same(create);
        p.same(&["RENAME", "src", "k"]);
        p.same(&["SELECT", "0"]);
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(&["SWAPDB", "0", "1"]);
        next_same(&mut waiter, block[0]);
        p.same(&["FLUSHALL"]);
    }
    // A string swapped in wakes nobody; a list swapped in later does.
    p.same(&["SELECT", "1"]);
    p.same(&["SET", "k", "string"]);
    p.same(&["SELECT", "2"]);
    p.same(&["RPUSH", "k", "x"]);
    p.same(&["SELECT", "0"]);
    let mut waiter = p.connect();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    settle();
    p.same(&["SWAPDB", "0", "1"]);
    settle();
    p.same(&["SWAPDB", "0", "2"]);
    next_same(&mut waiter, "BLPOP after two SWAPDBs");
    p.same(&["FLUSHALL"]);
});

diff_test!(copy_replace_wakes_blocked_clients, |p| {
    for (block, create) in MOVERS {
        p.same(create);
        p.same(&["SET", "k", "string"]);
        p.same(block); // WRONGTYPE: k is a string
        p.same(&["DEL", "k"]);
        let mut waiter = p.connect();
        send(&mut waiter, block);
        settle();
        p.same(&["SELECT", "1"]);
        // A copy into another database wakes nobody in this one.
        p.same(&["SET", "k", "x"]);
        p.same(&["SELECT", "0"]);
        p.same(&["COPY", "src", "k", "DB", "1", "REPLACE"]);
        p.same(&["SET", "k", "x"]);
        p.same(&["DEL", "k"]);
        p.same(&["COPY", "src", "k", "REPLACE"]);
        next_same(&mut waiter, block[0]);
        p.same(&["FLUSHALL"]);
    }
});

diff_test!(tiny_and_odd_timeouts, |p| {
    // Redis reads the timeout with strtold, multiplies by 1000 and rounds
    // up: any positive value, however small, times out.
    for t in [
        "0.001", "0.0001", "1e-10", "1e-300", "1e-400", "1e-4940", "2e-4951", "0.5e-3", "+0.001",
        ".001", "1E-3", "0x0.1p-4", "0x1p-20", "0X.8P-10",
    ] {
        p.same(&["BLPOP", "tk", t]);
    }
    p.same(&["BRPOP", "tk", "1e-400"]);
    p.same(&["BZPOPMIN", "tk", "1e-400"]);
    p.same(&["BZMPOP", "0.0001", "1", "tk", "MIN"]);
    p.same(&["BLMPOP", "1e-400", "1", "tk", "LEFT"]);
    p.same(&["BLMOVE", "tk", "d", "LEFT", "LEFT", "1e-400"]);
    p.same(&["BRPOPLPUSH", "tk", "d", "1e-400"]);
    // Refused: not a number strtold reads whole, out of the long double
    // range, or (after the cast to milliseconds) negative.
    for t in [
        "1e-5000",
        "1e-4951",
        "1e5000",
        "1e4000",
        "-1e4000",
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "1e16",
        "9223372036854776",
        "9223372036854775.80712890626",
        "-0.00100000000000000000002",
        "-0.00100000000000000000001143494478793305457742235375917516648769378662109375",
        "-1",
        "0x",
        "0x1p",
        "1e",
        "e1",
        ".",
        "-",
        " 1",
        "1 ",
        "",
        "0.001abc",
        "1_0",
        "1,5",
        "١",
    ] {
        p.same(&["BLPOP", "tk", t]);
    }
    p.same(&["BZPOPMAX", "tk", "inf"]);
    p.same(&["BLMPOP", "-0.002", "1", "tk", "LEFT"]);
    // Rounded up to 0, these wait forever, as 0 does (in long double
    // arithmetic -0.001 * 1000 is just above -1); the last ones wait long.
    for t in [
        "-0.0009",
        "-0.001",
        "-0.00100000000000000000001",
        "-0.0010000000000000000000114349447879330545774223537591751664876937866210937",
        "-0",
        "-0.0",
        "-1e-400",
        "-2e-4951",
        "-0x1p-10",
        "0x0",
        "0e0",
        "0.0000",
        "9223372036854775.807",
        "9223372036854775.80712890625",
        "1e15",
        "0x1P+3",
    ] {
        let mut waiter = p.connect();
        send(&mut waiter, &["BLPOP", "tf", t]);
        settle();
        p.same(&["RPUSH", "tf", t]);
        next_same(&mut waiter, &format!("BLPOP tf {t}"));
    }
    let mut waiter = p.connect();
    send(&mut waiter, &["BZPOPMIN", "zf", "-0.0001"]);
    settle();
    p.same(&["ZADD", "zf", "1", "m"]);
    next_same(&mut waiter, "BZPOPMIN zf -0.0001");
});

diff_test!(blocked_timeouts_in_a_pipeline, |p| {
    let mut waiter = p.connect();
    for t in ["0.001", "1e-400", "0.002"] {
        send(&mut waiter, &["BLPOP", "pk", t]);
        send(&mut waiter, &["PING", t]);
    }
    for t in ["0.001", "1e-400", "0.002"] {
        next_same(&mut waiter, &format!("BLPOP pk {t}"));
        next_same(&mut waiter, "PING");
    }
});

diff_test!(blmove_does_not_touch_a_watched_destination, |p| {
    let mut watcher = p.connect();
    let mut mover = p.connect();
    // WATCH, then a client blocks moving into the watched key: blocking
    // touches nothing, EXEC runs.
    watcher.same(&["WATCH", "dst"]);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    settle();
    watcher.same(&["MULTI"]);
    watcher.same(&["GET", "x"]);
    watcher.same(&["EXEC"]);
    p.same(&["RPUSH", "src", "v1"]);
    next_same(&mut mover, "BLMOVE");
    p.same(&["LRANGE", "dst", "0", "-1"]);
    // The blocked move happens between WATCH and EXEC: EXEC fails.
    p.same(&["DEL", "dst"]);
    watcher.same(&["WATCH", "dst"]);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    settle();
    p.same(&["RPUSH", "src", "v2"]);
    next_same(&mut mover, "BLMOVE");
    watcher.same(&["MULTI"]);
    watcher.same(&["GET", "x"]);
    watcher.same(&["EXEC"]);
    // Blocked first, WATCH after: EXEC runs.
    p.same(&["DEL", "dst"]);
    send(&mut mover, &["BRPOPLPUSH", "src", "dst", "0"]);
    settle();
    watcher.same(&["WATCH", "dst"]);
    watcher.same(&["MULTI"]);
    watcher.same(&["PING"]);
    watcher.same(&["EXEC"]);
    p.same(&["RPUSH", "src", "v3"]);
    next_same(&mut mover, "BRPOPLPUSH");
    // The watcher's own transaction feeds the source: the move happens
    // after EXEC, which runs.
    p.same(&["DEL", "dst"]);
    watcher.same(&["WATCH", "dst"]);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    settle();
    watcher.same(&["MULTI"]);
    watcher.same(&["RPUSH", "src", "v4"]);
    watcher.same(&["LLEN", "dst"]);
    watcher.same(&["EXEC"]);
    next_same(&mut mover, "BLMOVE");
    p.same(&["LRANGE", "dst", "0", "-1"]);
    // Watching the source: another client's push (popped at once by the
    // blocked client, so the key is gone again) still fails EXEC.
    p.same(&["DEL", "dst", "src"]);
    watcher.same(&["WATCH", "src"]);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    settle();
    watcher.same(&["MULTI"]);
    watcher.same(&["PING"]);
    p.same(&["RPUSH", "src", "v5"]);
    next_same(&mut mover, "BLMOVE");
    p.same(&["EXISTS", "src"]);
    watcher.same(&["EXEC"]);
    // A blocked move that times out touches nothing.
    p.same(&["DEL", "dst", "src"]);
    p.same(&["RPUSH", "dst", "a"]);
    watcher.same(&["WATCH", "dst"]);
    send(
        &mut mover,
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0.05"],
    );
    next_same(&mut mover, "BLMOVE timing out");
    watcher.same(&["MULTI"]);
    watcher.same(&["PING"]);
    watcher.same(&["EXEC"]);
    // Woken into a destination of the wrong type: WRONGTYPE, the element
    // stays in the source, the watched destination is untouched.
    p.same(&["DEL", "dst", "src"]);
    p.same(&["SET", "dst", "str"]);
    watcher.same(&["WATCH", "dst"]);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    settle();
    p.same(&["RPUSH", "src", "v6"]);
    next_same(&mut mover, "BLMOVE into a string");
    watcher.same(&["MULTI"]);
    watcher.same(&["PING"]);
    watcher.same(&["EXEC"]);
    p.same(&["LRANGE", "src", "0", "-1"]);
    p.same(&["GET", "dst"]);
});

diff_test!(watch_sees_a_key_that_came_and_went, |p| {
    let mut other = p.connect();
    // Created and deleted again by another client.
    p.same(&["WATCH", "k"]);
    other.same(&["SET", "k", "1"]);
    other.same(&["DEL", "k"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // By the watching client itself.
    p.same(&["WATCH", "k"]);
    p.same(&["SET", "k", "1"]);
    p.same(&["DEL", "k"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // Created with a TTL that ran out.
    p.same(&["WATCH", "k"]);
    other.same(&["SET", "k", "1", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(30));
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // Renamed in and away, moved in and deleted, copied in and deleted.
    p.same(&["WATCH", "k"]);
    other.same(&["SET", "k", "1"]);
    other.same(&["RENAME", "k", "k2"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "k"]);
    other.same(&["SELECT", "1"]);
    other.same(&["SET", "k", "1"]);
    other.same(&["MOVE", "k", "0"]);
    other.same(&["SELECT", "0"]);
    other.same(&["DEL", "k"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "k"]);
    other.same(&["COPY", "k2", "k"]);
    other.same(&["DEL", "k"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // A key of another database, or another name, touches nothing.
    p.same(&["WATCH", "k"]);
    other.same(&["SELECT", "5"]);
    other.same(&["SET", "k", "1"]);
    other.same(&["DEL", "k"]);
    other.same(&["SELECT", "0"]);
    other.same(&["SET", "k3", "1"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // SWAPDB there and back touches the watched keys existing in either.
    other.same(&["SELECT", "1"]);
    other.same(&["SET", "s", "in1"]);
    other.same(&["SELECT", "0"]);
    p.same(&["WATCH", "s"]);
    p.same(&["SWAPDB", "0", "1"]);
    p.same(&["SWAPDB", "0", "1"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["SET", "w", "x"]);
    p.same(&["WATCH", "w"]);
    p.same(&["SWAPDB", "0", "3"]);
    p.same(&["SWAPDB", "3", "0"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "w", "s"]);
    p.same(&["SWAPDB", "2", "3"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // Many absent keys watched, one of them created.
    let keys: Vec<String> = (0..3000).map(|i| format!("absent{i}")).collect();
    let mut watch: Vec<&str> = vec!["WATCH"];
    watch.extend(keys.iter().map(|k| k.as_str()));
    p.same(&watch);
    other.same(&watch);
    other.same(&["SET", "absent2999", "1"]);
    other.same(&["DEL", "absent2999"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    other.same(&["MULTI"]);
    other.same(&["PING"]);
    other.same(&["EXEC"]);
});

// ---------------------------------------------------------------------------
// 3. What EXEC does after errors at queue time.
// ---------------------------------------------------------------------------

diff_test!(queue_time_rejections_doom_the_transaction, |p| {
    let rejected: &[&[&str]] = &[
        &["NOSUCHCOMMAND", "x"],
        &["GET"],
        &["SET", "a"],
        &["OBJECT", "NOSUCH"],
        &["CONFIG", "GET"],
        &["CLIENT", "KILL"],
        &["SAVE"],
        &["SHUTDOWN", "NOSAVE"],
        &["MULTI", "extra"],
        &["WATCH"],
        &["UNWATCH", "x"],
        &["DISCARD", "x"],
    ];
    for cmd in rejected {
        p.same(&["MULTI"]);
        p.same(&["SET", "k", "v"]);
        p.same(cmd);
        p.same(&["INCR", "n"]);
        p.same(&["EXEC"]);
        // Nothing queued ran.
        p.same(&["GET", "k"]);
        p.same(&["GET", "n"]);
        // And the client is out of MULTI.
        p.same(&["EXEC"]);
    }
    // Errors Redis answers without dooming the transaction.
    let tolerated: &[&[&str]] = &[&["MULTI"], &["WATCH", "x"]];
    for cmd in tolerated {
        p.same(&["MULTI"]);
        p.same(&["SET", "k", "v"]);
        p.same(cmd);
        p.same(&["EXEC"]);
        p.same(&["GET", "k"]);
        p.same(&["DEL", "k"]);
    }
    // Errors found only when the command runs do not either.
    p.same(&["MULTI"]);
    p.same(&["SELECT", "x"]);
    p.same(&["SET", "k", "v", "EX", "0"]);
    p.same(&["HELLO", "4"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "k"]);
});

diff_test!(exec_refused_at_queue_time_discards_the_transaction, |p| {
    let mut other = p.connect();
    // Wrong arity for EXEC itself: EXECABORT saying why, out of MULTI.
    p.same(&["EXEC", "x"]);
    p.same(&["MULTI"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["EXEC", "x"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "k"]);
    // It also forgets the WATCHed keys, as DISCARD does.
    p.same(&["SET", "w", "1"]);
    p.same(&["WATCH", "w"]);
    p.same(&["EXEC", "x", "y"]);
    other.same(&["SET", "w", "2"]);
    p.same(&["MULTI"]);
    p.same(&["GET", "w"]);
    p.same(&["EXEC"]);
});

diff_test!(transaction_control_edges, |p| {
    p.same(&["EXEC"]);
    p.same(&["DISCARD"]);
    p.same(&["MULTI"]);
    p.same(&["EXEC"]);
    p.same(&["MULTI"]);
    p.same(&["DISCARD"]);
    p.same(&["DISCARD"]);
    // UNWATCH is queued inside MULTI (only EXEC, DISCARD, MULTI, WATCH,
    // QUIT and RESET run at once): the WATCH still holds for this EXEC.
    let mut other = p.connect();
    p.same(&["SET", "w", "1"]);
    p.same(&["WATCH", "w"]);
    p.same(&["MULTI"]);
    p.same(&["UNWATCH"]);
    other.same(&["SET", "w", "2"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "w"]);
    p.same(&["MULTI"]);
    p.same(&["UNWATCH"]);
    p.same(&["SET", "w", "3"]);
    p.same(&["EXEC"]);
    // The WATCHed key expired before EXEC.
    p.same(&["SET", "e", "1", "PX", "30"]);
    p.same(&["WATCH", "e"]);
    std::thread::sleep(std::time::Duration::from_millis(80));
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // Already expired when WATCHed.
    p.same(&["SET", "e2", "1", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.same(&["WATCH", "e2"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
});

/// Sends raw bytes to both servers and compares `n` reply frames.
#[track_caller]
fn raw_replies(p: &mut ConnPair, bytes: &[u8], n: usize) {
    p.a.send_raw(bytes);
    p.b.send_raw(bytes);
    for i in 0..n {
        next_same(
            p,
            &format!("reply {i} to {:?}", String::from_utf8_lossy(bytes)),
        );
    }
}

diff_test!(inline_commands_inside_multi, |p| {
    raw_replies(p, b"MULTI\r\nSET a 1\r\n", 2);
    // Empty lines and empty multibulks are skipped, even inside MULTI.
    raw_replies(
        p,
        b"\r\n   \r\n*0\r\n*-1\r\nNOSUCH x\r\nEXEC\r\nGET a\r\n",
        3,
    );
    raw_replies(p, b"MULTI\r\nSET b 2\r\nGET b\r\nEXEC\r\n", 4);
    raw_replies(p, b"MULTI\r\nSET c 3\r\nexec extra\r\nEXEC\r\nGET c\r\n", 5);
    raw_replies(p, b"MULTI\r\nSET d 4\r\nget\r\nEXEC\r\nGET d\r\n", 5);
});

#[test]
fn exec_in_subscribed_mode_is_an_execabort() {
    let mut p = Pair::proto(2);
    p.same(&["MULTI"]);
    p.same(&["SUBSCRIBE", "ch"]);
    p.same(&["EXEC"]);
    // RESP2 subscribed mode now: EXEC (and MULTI) are refused.
    p.same(&["MULTI"]);
    p.same(&["EXEC"]);
    p.same(&["EXEC", "x"]);
    p.same(&["DISCARD"]);
    p.same(&["UNSUBSCRIBE"]);
    p.same(&["EXEC"]);
    // SUBSCRIBE's confirmations are EXEC's replies; with two channels one
    // more frame than the array counts follows it (Redis's own stream).
    let mut c = p.connect();
    c.same(&["MULTI"]);
    c.same(&["SUBSCRIBE", "a", "b"]);
    c.same(&["PING"]);
    c.same(&["EXEC"]);
    next_same(&mut c, "the frame after EXEC's array");
    c.same(&["PING", "still there"]);
    let mut r3 = p.connect();
    r3.hello3();
    r3.same(&["MULTI"]);
    r3.same(&["SUBSCRIBE", "a"]);
    r3.same(&["PSUBSCRIBE", "p*", "q*"]);
    r3.same(&["PUBLISH", "a", "to myself"]);
    r3.same(&["UNSUBSCRIBE"]);
    r3.same(&["EXEC"]);
    next_same(&mut r3, "the frames after EXEC's array");
    next_same(&mut r3, "the frames after EXEC's array");
    r3.same(&["PING"]);
}

#[test]
fn exec_before_auth_is_an_execabort() {
    let mut p = Pair::with(
        &["--requirepass", "pw"],
        FerryOpts::default().requirepass("pw"),
    );
    p.same(&["EXEC"]);
    p.same(&["EXEC", "x"]);
    p.same(&["DISCARD"]);
    p.same(&["MULTI"]);
    p.same(&["NOSUCH"]);
    p.same(&["AUTH", "pw"]);
    p.same(&["EXEC"]);
    p.same(&["MULTI"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["AUTH", "wrong"]);
    p.same(&["EXEC"]);
    // RESET leaves MULTI and logs out.
    p.same(&["MULTI"]);
    p.same(&["SET", "k", "v2"]);
    p.same(&["RESET"]);
    p.same(&["EXEC"]);
    p.same(&["AUTH", "pw"]);
    p.same(&["GET", "k"]);
}

// ---------------------------------------------------------------------------
// 4. MOVE between databases.
// ---------------------------------------------------------------------------

diff_test!(move_between_databases, |p| {
    // The TTL moves with the key.
    p.same(&["SET", "k", "v", "EX", "100"]);
    p.same(&["MOVE", "k", "1"]);
    p.same(&["EXISTS", "k"]);
    p.same(&["SELECT", "1"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["GET", "k"]);
    p.same(&["PERSIST", "k"]);
    // The source is the client's current database.
    p.same(&["MOVE", "k", "2"]);
    p.same(&["SELECT", "2"]);
    p.same(&["TTL", "k"]);
    p.same(&["SELECT", "0"]);
    // A key of that name in the target database: 0, nothing moves.
    p.same(&["SET", "p", "v", "PX", "100000"]);
    p.same(&["SELECT", "2"]);
    p.same(&["SET", "p", "other"]);
    p.same(&["SELECT", "0"]);
    p.same(&["MOVE", "p", "2"]);
    p.close_int(&["PTTL", "p"], 1000);
    p.same(&["GET", "p"]);
    // Same database, out of range, not a number, missing key.
    p.same(&["SELECT", "3"]);
    p.same(&["SET", "q", "v"]);
    p.same(&["MOVE", "q", "3"]);
    p.same(&["MOVE", "nokey", "3"]);
    p.same(&["MOVE", "q", "16"]);
    p.same(&["MOVE", "q", "-1"]);
    p.same(&["MOVE", "q", "x"]);
    p.same(&["MOVE", "q", "01"]);
    p.same(&["MOVE", "q", "1.0"]);
    p.same(&["MOVE", "q", "99999999999999999999"]);
    p.same(&["MOVE", "nokey", "1"]);
    p.same(&["MOVE", "nokey", "99"]);
    p.same(&["MOVE", "q"]);
    p.same(&["MOVE", "q", "1", "2"]);
    p.same(&["MOVE", "q", "4"]);
    p.same(&["EXISTS", "q"]);
    p.same(&["SELECT", "4"]);
    p.same(&["GET", "q"]);
    p.same(&["TTL", "q"]);
    // Collections keep their contents, TTL and encoding.
    p.same(&["RPUSH", "l", "a", "b"]);
    p.same(&["EXPIRE", "l", "50"]);
    p.same(&["MOVE", "l", "5"]);
    p.same(&["SELECT", "5"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    p.close_int(&["TTL", "l"], 1);
    p.same(&["OBJECT", "ENCODING", "l"]);
    // An expired key does not move.
    p.same(&["SET", "e", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.same(&["MOVE", "e", "6"]);
    // Inside a transaction, SELECT applies to what follows.
    p.same(&["MULTI"]);
    p.same(&["SET", "m", "1"]);
    p.same(&["MOVE", "m", "6"]);
    p.same(&["SELECT", "6"]);
    p.same(&["GET", "m"]);
    p.same(&["EXEC"]);
    p.same(&["DBSIZE"]);
    p.same(&["SELECT", "5"]);
    p.same(&["DBSIZE"]);
});
