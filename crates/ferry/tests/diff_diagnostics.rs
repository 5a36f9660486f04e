//! Differential tests for MONITOR, SLOWLOG, LATENCY and MEMORY against
//! redis-server 7.0. Timings, addresses and memory figures differ between
//! the two servers by nature; everything else is compared.

#[macro_use]
mod common;

use common::{ConnPair, Resp};

/// A MONITOR line without its timestamp and client address.
fn monitor_line(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    // "+<secs>.<micros> [<db> <addr>] args" -> "[<db> ADDR] args"
    let Some(open) = text.find('[') else {
        return text;
    };
    let rest = &text[open + 1..];
    let (origin, args) = rest.split_once("] ").unwrap_or((rest, ""));
    let (db, who) = origin.split_once(' ').unwrap_or((origin, ""));
    let who = if who == "lua" { "lua" } else { "ADDR" };
    format!("[{db} {who}] {}", args.trim_end())
}

diff_test!(monitor_feed, |p| {
    let mut m = p.connect();
    m.same(&["MONITOR"]);
    let script = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])";
    for c in [
        vec!["SET", "k", "v"],
        vec!["GET", "k"],
        vec!["SET", "bin", "a\"b\\c\n\x01"],
        vec!["MULTI"],
        vec!["INCR", "n"],
        vec!["EXEC"],
        vec!["EVAL", script, "1", "s", "x"],
        vec!["CONFIG", "GET", "maxmemory"],
        vec!["AUTH", "secret"],
        vec!["HELLO", "2", "AUTH", "nobody", "pw"],
        vec!["NOSUCHCOMMAND"],
        vec!["SELECT", "3"],
        vec!["PING"],
    ] {
        p.same(&c);
    }
    // A blocking command shows once, when it blocks (not when served).
    let mut pusher = p.connect();
    pusher.same(&["SELECT", "3"]);
    p.a.send(&["BLPOP", "q", "0"]);
    p.b.send(&["BLPOP", "q", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    pusher.same(&["RPUSH", "q", "x"]);
    let (a, b) = (p.a.read_reply(), p.b.read_reply());
    assert_eq!(a, b, "BLPOP served");
    p.same(&["ECHO", "end"]);
    let mut seen = (Vec::new(), Vec::new());
    for (conn, out) in [(&mut m.a, &mut seen.0), (&mut m.b, &mut seen.1)] {
        conn.set_read_timeout(std::time::Duration::from_secs(2));
        for _ in 0..30 {
            let raw = conn
                .try_read_reply()
                .unwrap_or_else(|e| panic!("after {out:?}: {e}"));
            let line = monitor_line(&raw);
            let done = line.to_ascii_lowercase().contains("\"echo\" \"end\"");
            out.push(line);
            if done {
                break;
            }
        }
    }
    assert_eq!(seen.0, seen.1, "MONITOR lines");
    // RESET leaves monitor mode.
    m.same(&["RESET"]);
    p.same(&["SET", "after", "reset"]);
    m.same(&["PING"]);
});

diff_test!(monitor_in_multi, |p| {
    p.same(&["MULTI"]);
    p.same(&["MONITOR"]);
    p.same(&["EXEC"]);
});

/// SLOWLOG GET without the fields that differ (id, time, duration, peer).
fn slowlog_entries(p: &mut ConnPair, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let strip = |r: Resp| -> Vec<String> {
        r.elements()
            .unwrap_or(&[])
            .iter()
            .map(|e| {
                let f = e.elements().expect("entry").to_vec();
                format!("{:?} name={:?}", f[3], f[5])
            })
            .collect()
    };
    (
        strip(common::parse_one(&p.a.cmd(args))),
        strip(common::parse_one(&p.b.cmd(args))),
    )
}

diff_test!(slowlog, |p| {
    p.same(&["SLOWLOG", "RESET"]);
    p.same(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    p.same(&["CLIENT", "SETNAME", "slowpoke"]);
    p.same(&["SET", "k", &"v".repeat(200)]);
    let mut many = vec!["MSET".to_string()];
    for i in 0..20 {
        many.push(format!("k{i}"));
        many.push(format!("v{i}"));
    }
    p.same(&many);
    p.same(&["AUTH", "secret"]);
    p.same(&["MULTI"]);
    p.same(&["INCR", "n"]);
    p.same(&["EXEC"]);
    p.same(&["SLOWLOG", "LEN"]);
    let (a, b) = slowlog_entries(p, &["SLOWLOG", "GET"]);
    assert_eq!(a, b, "SLOWLOG GET");
    let (a, b) = slowlog_entries(p, &["SLOWLOG", "GET", "2"]);
    assert_eq!(a, b, "SLOWLOG GET 2");
    let (a, b) = slowlog_entries(p, &["SLOWLOG", "GET", "-1"]);
    assert_eq!(a, b, "SLOWLOG GET -1");
    p.same(&["SLOWLOG", "GET", "-2"]);
    p.same(&["SLOWLOG", "GET", "abc"]);
    p.same(&["SLOWLOG", "GET", "1", "2"]);
    p.same(&["SLOWLOG", "LEN", "x"]);
    p.same(&["SLOWLOG", "NOPE"]);
    p.same(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    p.same(&["PING"]);
    p.same(&["SLOWLOG", "LEN"]);
    p.same(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    p.same(&["SLOWLOG", "RESET"]);
    p.same(&["PING"]);
    p.same(&["SLOWLOG", "LEN"]);
    p.same(&["SLOWLOG", "GET"]);
});

diff_test!(latency, |p| {
    p.same(&["LATENCY", "LATEST"]);
    p.same(&["LATENCY", "HISTORY", "command"]);
    p.same(&["LATENCY", "RESET"]);
    p.same(&["LATENCY", "GRAPH", "command"]);
    p.same(&["LATENCY", "NOPE"]);
    p.same(&["LATENCY", "HISTORY"]);
    // A slow script over a 1 ms threshold records a `command` event.
    p.same(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    let spin = "local i = 0 while i < 20000000 do i = i + 1 end return i";
    p.same(&["EVAL", spin, "0"]);
    let names = |r: Resp| -> Vec<String> {
        r.elements()
            .unwrap_or(&[])
            .iter()
            .map(|e| e.elements().expect("row")[0].as_str().unwrap_or_default())
            .collect()
    };
    let a = names(common::parse_one(&p.a.cmd(&["LATENCY", "LATEST"])));
    let b = names(common::parse_one(&p.b.cmd(&["LATENCY", "LATEST"])));
    assert_eq!(a, b, "LATENCY LATEST events");
    assert_eq!(a, vec!["command".to_string()]);
    let ha = common::parse_one(&p.a.cmd(&["LATENCY", "HISTORY", "command"]));
    let hb = common::parse_one(&p.b.cmd(&["LATENCY", "HISTORY", "command"]));
    assert_eq!(
        ha.elements().map(|e| e.len()),
        hb.elements().map(|e| e.len())
    );
    assert!(p.b.cmd(&["LATENCY", "GRAPH", "command"]).len() > 10);
    p.same(&["LATENCY", "RESET", "command", "nothing"]);
    p.same(&["LATENCY", "LATEST"]);
    // HISTOGRAM: the commands and their call counts (buckets are timings).
    p.same(&["CONFIG", "RESETSTAT"]);
    p.same(&["SET", "a", "1"]);
    p.same(&["SET", "a", "2"]);
    p.same(&["GET", "a"]);
    p.same(&["CLIENT", "GETNAME"]);
    let calls = |r: Resp| -> Vec<(String, String)> {
        r.pairs()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let m = v.pairs().unwrap_or_default();
                (
                    k.as_str().unwrap_or_default(),
                    format!("{:?}", m.first().map(|x| x.1.clone())),
                )
            })
            .collect()
    };
    for args in [
        vec!["LATENCY", "HISTOGRAM", "set", "get", "client|id", "nosuch"],
        vec!["LATENCY", "HISTOGRAM", "SET"],
    ] {
        let mut a = calls(common::parse_one(&p.a.cmd(&args)));
        let mut b = calls(common::parse_one(&p.b.cmd(&args)));
        a.sort();
        b.sort();
        assert_eq!(a, b, "{args:?}");
    }
});

diff_test!(memory, |p| {
    p.same(&["MEMORY", "USAGE", "missing"]);
    p.same(&["SET", "s", "hello"]);
    p.same(&["RPUSH", "l", "a", "b", "c"]);
    p.same(&["MEMORY", "USAGE", "s", "SAMPLES", "-1"]);
    p.same(&["MEMORY", "USAGE", "s", "SAMPLES", "abc"]);
    p.same(&["MEMORY", "USAGE", "s", "SAMPLES"]);
    p.same(&["MEMORY", "USAGE", "s", "bogus"]);
    p.same(&["MEMORY", "USAGE"]);
    for key in ["s", "l"] {
        for args in [
            vec!["MEMORY", "USAGE", key],
            vec!["MEMORY", "USAGE", key, "SAMPLES", "0"],
        ] {
            let a = common::parse_one(&p.a.cmd(&args));
            let b = common::parse_one(&p.b.cmd(&args));
            assert!(a.as_int().is_some_and(|n| n > 0), "{a:?}");
            assert!(b.as_int().is_some_and(|n| n > 0), "{b:?}");
        }
    }
    let keys = |r: Resp| -> Vec<String> {
        r.pairs()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k.as_str().unwrap_or_default())
            .collect()
    };
    let a = keys(common::parse_one(&p.a.cmd(&["MEMORY", "STATS"])));
    let b = keys(common::parse_one(&p.b.cmd(&["MEMORY", "STATS"])));
    assert_eq!(a, b, "MEMORY STATS fields");
    for sub in ["DOCTOR", "MALLOC-STATS"] {
        let (a, b) = p.both(&["MEMORY", sub]);
        assert_eq!(
            common::parse_one(&a).kind(),
            common::parse_one(&b).kind(),
            "MEMORY {sub}"
        );
    }
    p.same(&["MEMORY", "PURGE"]);
    p.same(&["MEMORY", "NOPE"]);
    p.same(&["MEMORY", "STATS", "x"]);
});
