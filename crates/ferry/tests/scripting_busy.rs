//! Long-running scripts: other clients get `-BUSY` once a script passes
//! `busy-reply-threshold`, `SCRIPT KILL`/`FUNCTION KILL` stop it (unless it
//! wrote: `-UNKILLABLE`), and `SHUTDOWN NOSAVE` stops the server without
//! keeping half a script. Each scenario runs against redis-server and
//! ferry; their transcripts must be identical.

mod common;

use common::{escape, FerryOpts, RawConn, RedisProc, Subject};
use std::time::Duration;

/// Long enough for a looping script to pass a 100 ms threshold.
const PAST_THRESHOLD: Duration = Duration::from_millis(400);

fn set_threshold(port: u16, ms: &str) {
    let mut c = RawConn::connect(port);
    let r = c.cmd(&["CONFIG", "SET", "busy-reply-threshold", ms]);
    assert_eq!(r, b"+OK\r\n", "CONFIG SET busy-reply-threshold");
}

/// Runs `steps` against the server on `port` and returns what each client
/// read, in order.
fn transcript(port: u16, steps: fn(u16, &mut Vec<Vec<u8>>)) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    steps(port, &mut out);
    out
}

fn compare(name: &str, a: Vec<Vec<u8>>, b: Vec<Vec<u8>>) {
    assert_eq!(a.len(), b.len(), "{name}: transcripts of different length");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            x,
            y,
            "{name}: reply {i} differs\n  redis: {}\n  ferry: {}",
            escape(x),
            escape(y)
        );
    }
}

fn steps_kill_an_eval(port: u16, out: &mut Vec<Vec<u8>>) {
    set_threshold(port, "100");
    let mut caller = RawConn::connect(port);
    let mut other = RawConn::connect(port);
    out.push(other.cmd(&["SET", "before", "1"]));
    caller.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    std::thread::sleep(PAST_THRESHOLD);
    out.push(other.cmd(&["PING"]));
    out.push(other.cmd(&["GET", "before"]));
    out.push(other.cmd(&["FUNCTION", "KILL"]));
    // A client that connects while the script runs is answered too.
    let mut late = RawConn::connect(port);
    out.push(late.cmd(&["PING"]));
    // Pipelined: each command gets its own reply.
    other.send_raw(&common::encode_command(&["PING"]));
    other.send_raw(&common::encode_command(&["ECHO", "x"]));
    out.push(other.read_reply());
    out.push(other.read_reply());
    out.push(other.cmd(&["SCRIPT", "KILL"]));
    out.push(caller.read_reply());
    out.push(other.cmd(&["PING"]));
    out.push(caller.cmd(&["GET", "before"]));
    out.push(other.cmd(&["SCRIPT", "KILL"]));
}

/// After SCRIPT FLUSH (a fresh Lua state) a looping script is still
/// answered for and killable.
fn steps_kill_after_script_flush(port: u16, out: &mut Vec<Vec<u8>>) {
    set_threshold(port, "100");
    let mut caller = RawConn::connect(port);
    let mut other = RawConn::connect(port);
    out.push(other.cmd(&["SCRIPT", "FLUSH"]));
    caller.send(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(PAST_THRESHOLD);
    out.push(other.cmd(&["PING"]));
    out.push(other.cmd(&["FUNCTION", "STATS"]));
    out.push(other.cmd(&["SCRIPT", "KILL"]));
    out.push(caller.read_reply());
}

fn steps_kill_a_function(port: u16, out: &mut Vec<Vec<u8>>) {
    set_threshold(port, "100");
    let mut caller = RawConn::connect(port);
    let mut other = RawConn::connect(port);
    out.push(other.cmd(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
    ]));
    caller.send(&["FCALL", "spin", "0"]);
    std::thread::sleep(PAST_THRESHOLD);
    out.push(other.cmd(&["PING"]));
    // What runs, and for how long (the duration differs: masked).
    let stats = String::from_utf8_lossy(&other.cmd(&["FUNCTION", "STATS"])).to_string();
    let masked: String = stats
        .split("\r\n")
        .map(|l| if l.starts_with(':') { ":N" } else { l })
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push(masked.into_bytes());
    out.push(other.cmd(&["SCRIPT", "KILL"]));
    out.push(other.cmd(&["FUNCTION", "KILL"]));
    out.push(caller.read_reply());
    out.push(other.cmd(&["FUNCTION", "STATS"]));
}

fn steps_pcall_cannot_swallow_a_kill(port: u16, out: &mut Vec<Vec<u8>>) {
    set_threshold(port, "100");
    let mut caller = RawConn::connect(port);
    let mut other = RawConn::connect(port);
    caller.send(&[
        "EVAL",
        "while true do pcall(function() while true do end end) end",
        "0",
    ]);
    std::thread::sleep(PAST_THRESHOLD);
    out.push(other.cmd(&["SCRIPT", "KILL"]));
    out.push(caller.read_reply());
    // allow_busy commands wait for the script in ferry and run at once in
    // Redis; either way the reply is the same.
    caller.send(&["EVAL", "local t = 0 while true do t = t + 1 end", "0"]);
    std::thread::sleep(PAST_THRESHOLD);
    other.send(&["MULTI"]);
    let mut killer = RawConn::connect(port);
    out.push(killer.cmd(&["SCRIPT", "KILL"]));
    out.push(other.read_reply());
    out.push(other.cmd(&["DISCARD"]));
    out.push(caller.read_reply());
}

fn steps_a_writing_script_is_unkillable(port: u16, out: &mut Vec<Vec<u8>>) {
    set_threshold(port, "100");
    let mut caller = RawConn::connect(port);
    let mut other = RawConn::connect(port);
    caller.send(&[
        "EVAL",
        "redis.call('set', 'half', 'written') local s = redis.call('time') while true do local n = redis.call('time') if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 1500000 then break end end return 'done'",
        "0",
    ]);
    std::thread::sleep(PAST_THRESHOLD);
    out.push(other.cmd(&["SCRIPT", "KILL"]));
    out.push(other.cmd(&["FUNCTION", "KILL"]));
    // The script finishes on its own.
    caller.set_read_timeout(Duration::from_secs(60));
    out.push(caller.read_reply());
    out.push(other.cmd(&["GET", "half"]));
}

/// Runs `steps` against redis-server and ferry and compares what was read.
fn diff(name: &str, steps: fn(u16, &mut Vec<Vec<u8>>)) {
    let redis = RedisProc::start(&[]);
    let ferry = Subject::start(FerryOpts::default());
    let a = transcript(redis.port(), steps);
    let b = transcript(ferry.port(), steps);
    compare(name, a, b);
}

#[test]
fn kill_an_eval() {
    diff("kill_an_eval", steps_kill_an_eval);
}

#[test]
fn kill_after_script_flush() {
    diff("kill_after_script_flush", steps_kill_after_script_flush);
}

#[test]
fn kill_a_function() {
    diff("kill_a_function", steps_kill_a_function);
}

#[test]
fn pcall_cannot_swallow_a_kill() {
    diff(
        "pcall_cannot_swallow_a_kill",
        steps_pcall_cannot_swallow_a_kill,
    );
}

#[test]
fn a_writing_script_is_unkillable() {
    diff(
        "a_writing_script_is_unkillable",
        steps_a_writing_script_is_unkillable,
    );
}

/// SHUTDOWN NOSAVE while a writing script is busy stops the server, and
/// nothing of that script survives a restart, while writes acknowledged
/// before it do.
#[test]
fn shutdown_nosave_keeps_no_half_script() {
    let mut ferry = common::FerryProc::start(FerryOpts::default().durability("always"));
    set_threshold(ferry.port(), "100");
    let mut caller = ferry.connect();
    let mut other = ferry.connect();
    assert_eq!(other.cmd(&["SET", "acked", "yes"]), b"+OK\r\n");
    caller.send(&[
        "EVAL",
        "redis.call('set', 'half', 'written') redis.call('incr', 'acked_counter') while true do end",
        "0",
    ]);
    std::thread::sleep(PAST_THRESHOLD);
    assert_eq!(
        other.cmd(&["SCRIPT", "KILL"]),
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    other.send(&["SHUTDOWN", "NOSAVE"]);
    let (_, closed) = other.read_until_close();
    assert!(closed, "SHUTDOWN NOSAVE closes the connection");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ferry.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !ferry.is_running(),
        "ferry stopped after SHUTDOWN NOSAVE:\n{}",
        ferry.log()
    );
    ferry.restart();
    let mut c = ferry.connect();
    assert_eq!(c.cmd(&["GET", "acked"]), b"$3\r\nyes\r\n");
    assert_eq!(
        c.cmd(&["GET", "half"]),
        b"$-1\r\n",
        "half a script was kept"
    );
    assert_eq!(c.cmd(&["GET", "acked_counter"]), b"$-1\r\n");
}

/// A script that never yields is stopped by SCRIPT KILL even when the busy
/// threshold is the default, and other clients keep being served.
#[test]
fn busy_threshold_zero_never_answers_busy() {
    let ferry = Subject::start(FerryOpts::default());
    let redis = RedisProc::start(&[]);
    for port in [redis.port(), ferry.port()] {
        set_threshold(port, "0");
        let mut c = RawConn::connect(port);
        // A short script: nobody else waits long.
        let r = c.cmd(&[
            "EVAL",
            "local i = 0 while i < 1e6 do i = i + 1 end return i",
            "0",
        ]);
        assert_eq!(r, b":1000000\r\n");
    }
}
