//! Differential tests for MULTI/EXEC/DISCARD/WATCH/UNWATCH: ferry's replies
//! must be byte-identical to redis-server 7.0's, in RESP2 and RESP3.

#[macro_use]
mod common;

diff_test!(multi_exec_basic, |p| {
    p.same(&["MULTI"]);
    p.same(&["SET", "a", "1"]);
    p.same(&["INCR", "a"]);
    p.same(&["GET", "a"]);
    p.same(&["CONFIG", "GET", "maxmemory-samples"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "a"]);
    // An empty transaction.
    p.same(&["MULTI"]);
    p.same(&["EXEC"]);
});

diff_test!(runtime_errors_do_not_roll_back, |p| {
    p.same(&["SET", "s", "text"]);
    p.same(&["MULTI"]);
    p.same(&["SET", "b", "1"]);
    p.same(&["INCR", "s"]);
    p.same(&["INCR", "b"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "b"]);
});

diff_test!(queueing_errors_abort_exec, |p| {
    p.same(&["MULTI"]);
    p.same(&["SET", "c", "1"]);
    p.same(&["NOSUCHCOMMAND", "x"]);
    p.same(&["GET"]);
    p.same(&["CONFIG", "NOSUCH"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "c"]);
    p.same(&["MULTI"]);
    p.same(&["SAVE"]);
    p.same(&["EXEC"]);
});

diff_test!(control_errors, |p| {
    p.same(&["EXEC"]);
    p.same(&["DISCARD"]);
    p.same(&["MULTI", "extra"]);
    p.same(&["MULTI"]);
    p.same(&["MULTI"]);
    p.same(&["WATCH", "x"]);
    p.same(&["SET", "d", "1"]);
    p.same(&["DISCARD"]);
    p.same(&["GET", "d"]);
    p.same(&["WATCH"]);
    p.same(&["UNWATCH", "x"]);
    p.same(&["UNWATCH"]);
});

diff_test!(watch_is_invalidated_by_another_client, |p| {
    let mut other = p.connect();
    p.same(&["SET", "w", "1"]);
    p.same(&["WATCH", "w", "unrelated"]);
    other.same(&["SET", "w", "2"]);
    p.same(&["MULTI"]);
    p.same(&["SET", "w", "3"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "w"]);
    // Without interference the transaction runs, and WATCH ends with EXEC.
    p.same(&["WATCH", "w"]);
    p.same(&["MULTI"]);
    p.same(&["SET", "w", "4"]);
    p.same(&["EXEC"]);
    other.same(&["SET", "w", "5"]);
    p.same(&["MULTI"]);
    p.same(&["GET", "w"]);
    p.same(&["EXEC"]);
    // Writing the same value still counts as a change.
    p.same(&["WATCH", "w"]);
    other.same(&["SET", "w", "5"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // A key created after WATCH, and one deleted.
    p.same(&["WATCH", "newkey", "w"]);
    other.same(&["SET", "newkey", "x"]);
    p.same(&["MULTI"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "w"]);
    other.same(&["DEL", "w"]);
    p.same(&["MULTI"]);
    p.same(&["EXEC"]);
    // UNWATCH and DISCARD forget the watched keys.
    p.same(&["WATCH", "w"]);
    other.same(&["SET", "w", "6"]);
    p.same(&["UNWATCH"]);
    p.same(&["MULTI"]);
    p.same(&["GET", "w"]);
    p.same(&["EXEC"]);
});

diff_test!(watch_is_invalidated_by_expiry_and_flushdb, |p| {
    p.same(&["SET", "e", "1", "PX", "50"]);
    p.same(&["WATCH", "e"]);
    std::thread::sleep(std::time::Duration::from_millis(120));
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["SET", "f", "1"]);
    p.same(&["WATCH", "f", "never"]);
    p.same(&["FLUSHDB"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    // A watched key that did not exist is not touched by FLUSHDB.
    p.same(&["WATCH", "never"]);
    p.same(&["FLUSHDB"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
});

diff_test!(reset_leaves_the_transaction, |p| {
    p.same(&["MULTI"]);
    p.same(&["SET", "r", "1"]);
    p.same(&["RESET"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "r"]);
});

// LSET rewrites an element without changing the length: WATCH still sees
// it. HSETNX and SADD that change nothing do not fail the transaction.
diff_test!(watch_sees_lset_not_noop_writes, |p| {
    let mut other = p.connect();
    p.same(&["RPUSH", "l", "a", "b"]);
    p.same(&["HSET", "h", "f", "1"]);
    p.same(&["SADD", "s", "m"]);
    p.same(&["WATCH", "l"]);
    other.same(&["LSET", "l", "0", "z"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "h", "s"]);
    other.same(&["HSETNX", "h", "f", "2"]);
    other.same(&["SADD", "s", "m"]);
    p.same(&["MULTI"]);
    p.same(&["PING"]);
    p.same(&["EXEC"]);
});

// Writes that keep a collection's length (a new score, a new field value,
// LSET) skip rewriting the key's row while nobody WATCHes anything: WATCH
// must still see them once a client watches, also one that watches
// another key or starts watching after earlier such writes, and again
// after the previous watcher left.
diff_test!(watch_sees_same_length_changes, |p| {
    let mut other = p.connect();
    p.same(&["ZADD", "z", "1", "m", "2", "n"]);
    p.same(&["HSET", "h", "f", "1"]);
    // Nobody watches: these rewrite elements only.
    other.same(&["ZADD", "z", "5", "m"]);
    other.same(&["HSET", "h", "f", "2"]);
    p.same(&["WATCH", "z"]);
    other.same(&["ZADD", "z", "7", "m"]);
    p.same(&["MULTI"]);
    p.same(&["ZSCORE", "z", "m"]);
    p.same(&["EXEC"]);
    p.same(&["WATCH", "h"]);
    other.same(&["HSET", "h", "f", "3"]);
    p.same(&["MULTI"]);
    p.same(&["HGET", "h", "f"]);
    p.same(&["EXEC"]);
    // A client that leaves while watching; a new one on another connection
    // still sees a change made after its WATCH.
    let mut leaver = p.connect();
    leaver.same(&["WATCH", "z"]);
    drop(leaver);
    let mut third = p.connect();
    third.same(&["WATCH", "z"]);
    other.same(&["ZINCRBY", "z", "1", "n"]);
    third.same(&["MULTI"]);
    third.same(&["ZSCORE", "z", "n"]);
    third.same(&["EXEC"]);
    // And without interference the transaction runs.
    third.same(&["WATCH", "z"]);
    third.same(&["MULTI"]);
    third.same(&["ZADD", "z", "9", "m"]);
    third.same(&["EXEC"]);
    p.same(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
});

// Another client's pipelined adds and removes that leave a collection's
// length where it was (ferry writes a collection's key row late, at the
// next statement that reads the keys table or at commit: heldrows.rs).
// WATCH still fails the transaction on every type, a key drained and
// refilled in the pipeline counts as touched, and a watched key the
// pipeline never touched lets EXEC run.
diff_test!(watch_sees_pipelined_writes_that_keep_the_length, |p| {
    let mut other = p.connect();
    p.same(&["RPUSH", "l", "a", "b"]);
    p.same(&["SADD", "s", "a", "b"]);
    p.same(&["HSET", "h", "a", "1"]);
    p.same(&["ZADD", "z", "1", "a"]);
    let round_trips: [(&str, &[&str], &[&str], &str); 4] = [
        ("l", &["LPUSH", "l", "x"], &["LPOP", "l"], "LLEN"),
        ("s", &["SADD", "s", "x"], &["SREM", "s", "x"], "SCARD"),
        ("h", &["HSET", "h", "x", "2"], &["HDEL", "h", "x"], "HLEN"),
        ("z", &["ZADD", "z", "2", "x"], &["ZREM", "z", "x"], "ZCARD"),
    ];
    for (key, add, remove, len) in round_trips {
        p.same(&["WATCH", key]);
        let mut cmds: Vec<&[&str]> = Vec::new();
        for _ in 0..25 {
            cmds.push(add);
            cmds.push(remove);
        }
        other.same_pipeline(&cmds, cmds.len());
        p.same(&["MULTI"]);
        p.same(&[len, key]);
        let aborted = p.same(&["EXEC"]);
        assert!(
            common::parse_one(&aborted).is_null(),
            "EXEC ran after {key} changed"
        );
        p.same(&[len, key]);
        // The same pipeline on another key: this watcher's EXEC runs.
        p.same(&["WATCH", key]);
        other.same_pipeline(&[&["RPUSH", "other", "x"], &["RPOP", "other"]], 2);
        p.same(&["MULTI"]);
        p.same(&[len, key]);
        let ran = p.same(&["EXEC"]);
        assert!(
            !common::parse_one(&ran).is_null(),
            "EXEC aborted, {key} was untouched"
        );
    }
    // Drained and refilled within one pipeline: the key was deleted and
    // made again, as long as before.
    p.same(&["WATCH", "l"]);
    other.same_pipeline(
        &[
            &["LPOP", "l"],
            &["LPOP", "l"],
            &["EXISTS", "l"],
            &["RPUSH", "l", "a", "b"],
        ],
        4,
    );
    p.same(&["MULTI"]);
    p.same(&["LRANGE", "l", "0", "-1"]);
    let aborted = p.same(&["EXEC"]);
    assert!(
        common::parse_one(&aborted).is_null(),
        "EXEC ran after l was refilled"
    );
});
