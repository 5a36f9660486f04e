//! Scripting across restarts and crashes: FUNCTION libraries persist with
//! the data (as in Redis's RDB), the EVAL script cache does not (as in
//! Redis), and a script is atomic on disk: a `kill -9` in the middle of one
//! leaves none of its writes after recovery.

mod common;

use common::{FerryOpts, FerryProc};
use std::time::{Duration, Instant};

const LIB: &str = "#!lua name=counter\nredis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)";

#[test]
fn functions_survive_restart_and_kill9() {
    let mut ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB]), b"$7\r\ncounter\r\n");
    assert_eq!(c.cmd(&["FCALL", "bump", "1", "n", "5"]), b":5\r\n");
    let sha = c.cmd(&["SCRIPT", "LOAD", "return 'cached'"]);
    let sha = String::from_utf8_lossy(&sha[5..45]).to_string();

    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FCALL", "bump", "1", "n", "1"]), b":6\r\n");
    assert_eq!(
        c.cmd(&["EVALSHA", &sha, "0"]),
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
        "the script cache does not outlive the process"
    );

    // Changes to the libraries are journaled like writes: a crash right
    // after the reply keeps them.
    assert_eq!(
        c.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('hello', function() return 'hi' end)"
        ]),
        b"$5\r\nother\r\n"
    );
    assert_eq!(c.cmd(&["FUNCTION", "DELETE", "counter"]), b"+OK\r\n");
    ferry.kill9();
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FCALL", "hello", "0"]), b"$2\r\nhi\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "bump", "1", "n", "1"]),
        b"-ERR Function not found\r\n"
    );
    let dump = c
        .cmd_parsed(&["FUNCTION", "DUMP"])
        .as_bytes()
        .expect("dump");
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), b"+OK\r\n");
    ferry.kill9();
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FUNCTION", "LIST"]), b"*0\r\n");
    assert_eq!(c.cmd(&[&b"FUNCTION"[..], b"RESTORE", &dump]), b"+OK\r\n");
    ferry.kill9();
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FCALL", "hello", "0"]), b"$2\r\nhi\r\n");
}

/// A script killed with the whole process half-way through its writes
/// leaves none of them: its writes belong to one group, written to the
/// journal only after the script returned.
#[test]
fn kill9_during_a_script_keeps_none_of_it() {
    let mut ferry = FerryProc::start(FerryOpts::default().durability("always"));
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["SET", "before", "1"]), b"+OK\r\n");
    // Writes keys for a long time, then spins (so it is surely running
    // when the process is killed).
    c.send(&[
        "EVAL",
        "for i = 1, 50000 do redis.call('set', 'k' .. i, i) end local t = 0 while true do t = t + 1 end",
        "0",
    ]);
    // Wait until the executor is inside the script's spin (writes done).
    std::thread::sleep(Duration::from_millis(1500));
    ferry.kill9();
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        b":1\r\n",
        "a part of the script was kept"
    );
    assert_eq!(c.cmd(&["EXISTS", "k1", "k50000"]), b":0\r\n");
}

/// A script's writes are acknowledged together and survive a crash right
/// after the reply.
#[test]
fn an_acknowledged_script_survives_kill9() {
    let mut ferry = FerryProc::start(FerryOpts::default().durability("always"));
    let mut c = ferry.connect();
    let started = Instant::now();
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "for i = 1, 2000 do redis.call('rpush', KEYS[1], i) end return redis.call('llen', KEYS[1])",
            "1",
            "list"
        ]),
        b":2000\r\n"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    ferry.kill9();
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["LLEN", "list"]), b":2000\r\n");
    assert_eq!(c.cmd(&["LINDEX", "list", "-1"]), b"$4\r\n2000\r\n");
}

/// A stored library that no longer loads stops the start with a message
/// naming it, as Redis refuses to load such an RDB: starting without it
/// would drop it from the file at the next FUNCTION change.
#[test]
fn a_stored_library_that_does_not_load_stops_the_start() {
    let mut ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB]), b"$7\r\ncounter\r\n");
    ferry.stop();
    let data = ferry.data_path().to_path_buf();
    {
        let db = rusqlite::Connection::open(&data).expect("open the data file");
        let changed = db
            .execute(
                "UPDATE functions SET code = ?1",
                [b"#!lua name=counter\nreturn 1 +".to_vec()],
            )
            .expect("edit the stored library");
        assert_eq!(changed, 1);
    }
    let out = std::process::Command::new(common::ferry_binary())
        .args(["serve", "--port", "0", "--data"])
        .arg(&data)
        .output()
        .expect("run ferry serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ferry started:\n{stderr}");
    assert!(
        stderr.contains("does not load (#!lua name=counter)")
            && stderr.contains("Error compiling function"),
        "{stderr}"
    );
}
