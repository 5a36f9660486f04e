//! Differential tests for server commands: CONFIG, COMMAND, TIME, LASTSAVE,
//! INFO, DBSIZE, SAVE/BGSAVE.

#[macro_use]
mod common;

use common::{escape, parse_frame, ConnPair, Resp};
use std::collections::BTreeMap;

/// Parameters whose values legitimately differ between the two servers
/// (paths, ports, process details, and the options the harness passes to redis).
const CONFIG_DIFFERS: &[&str] = &[
    "port",
    "dir",
    "dbfilename",
    "logfile",
    "pidfile",
    "appendfilename",
    "appenddirname",
    "unixsocket",
    "save",
    "appendonly",
    "daemonize",
    "supervised",
    "tls-port",
    "bind",
    "requirepass",
    "masterauth",
    "io-threads",
    "oom-score-adj-values",
    "aclfile",
    "always-show-logo",
    "syslog-enabled",
    "locale-collate",
];

fn to_map(r: &Resp, what: &str) -> BTreeMap<String, String> {
    let pairs = r
        .pairs()
        .unwrap_or_else(|| panic!("{what}: not a map / pair array: {r:?}"));
    pairs
        .into_iter()
        .map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap_or_default()))
        .collect()
}

/// CONFIG GET on both sides: same reply type; the subject reports no parameter
/// redis does not; shared parameters have equal values (except CONFIG_DIFFERS).
/// Returns the parameters redis reports but the subject does not.
#[track_caller]
fn config_get(p: &mut ConnPair, patterns: &[&str]) -> Vec<String> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(patterns);
    let (a, b) = p.both(&args);
    let ra = parse_frame(&a).unwrap().unwrap().0;
    let rb = parse_frame(&b).unwrap().unwrap().0;
    if ra.kind() != rb.kind() {
        p.fail(format!(
            "CONFIG GET {patterns:?}: reply types differ: redis {}, subject {}",
            escape(&a),
            escape(&b)
        ));
        return Vec::new();
    }
    let (ma, mb) = (to_map(&ra, "redis"), to_map(&rb, "subject"));
    let extra: Vec<_> = mb
        .keys()
        .filter(|k| !ma.contains_key(*k))
        .cloned()
        .collect();
    if !extra.is_empty() {
        p.fail(format!(
            "CONFIG GET {patterns:?}: subject reports parameters redis does not: {extra:?}"
        ));
    }
    for (k, va) in &ma {
        if CONFIG_DIFFERS.contains(&k.as_str()) {
            continue;
        }
        if let Some(vb) = mb.get(k) {
            if va != vb {
                p.fail(format!("CONFIG GET {k}: redis {va:?}, subject {vb:?}"));
            }
        }
    }
    ma.keys()
        .filter(|k| !mb.contains_key(*k))
        .cloned()
        .collect()
}

diff_test!(config_get_patterns, |p| {
    for pat in [
        "maxmemory",
        "maxmemory*",
        "*max*",
        "hz",
        "timeout",
        "databases",
        "save",
        "appendfsync",
        "lua-time-limit",
        "nosuchparam",
        "*",
        "*-entries",
        "list-max-*",
        "slowlog-*",
        "notify-*",
        "MAXMEMORY",
        "Hz",
        "maxmemory-polic?",
        "[hm]z",
        "proto-max-bulk-len",
    ] {
        config_get(p, &[pat]);
    }
    // several patterns in one call (7.0)
    config_get(p, &["hz", "timeout", "databases"]);
    config_get(p, &["hz", "hz"]);
    config_get(p, &["maxmemory*", "maxmemory-policy"]);
    // the parameters every client library reads must be there
    let missing = config_get(
        p,
        &[
            "databases",
            "maxmemory",
            "maxmemory-policy",
            "timeout",
            "save",
            "appendonly",
        ],
    );
    assert!(missing.is_empty(), "subject does not report {missing:?}");
    p.same(&["CONFIG", "GET"]);
});

diff_test!(config_set, |p| {
    for (k, v) in [
        ("hz", "15"),
        ("maxmemory-samples", "7"),
        ("timeout", "0"),
        ("slowlog-max-len", "256"),
        ("notify-keyspace-events", ""),
        ("maxmemory-policy", "allkeys-lru"),
        ("HZ", "20"),
    ] {
        p.same(&["CONFIG", "SET", k, v]);
        config_get(p, &[k]);
    }
    // several parameters in one CONFIG SET (7.0)
    p.same(&["CONFIG", "SET", "hz", "11", "maxmemory-samples", "6"]);
    config_get(p, &["hz", "maxmemory-samples"]);
    // errors
    p.same(&["CONFIG", "SET", "nosuchparam", "1"]);
    p.same(&["CONFIG", "SET", "hz", "abc"]);
    p.same(&["CONFIG", "SET", "hz", "1.5"]);
    p.same(&["CONFIG", "SET", "maxmemory-policy", "nosuchpolicy"]);
    p.same(&["CONFIG", "SET", "maxmemory-samples", "-1"]);
    p.same(&["CONFIG", "SET", "appendfsync", "sometimes"]);
    p.same(&["CONFIG", "SET", "hz", "12", "nosuch", "1"]);
    p.same(&["CONFIG", "SET", "hz", "12", "hz", "13"]);
    p.same(&["CONFIG", "SET", "hz"]);
    p.same(&["CONFIG", "SET", "hz", "12", "timeout"]);
    p.same(&["CONFIG", "SET"]);
    // a failed multi-set changed nothing
    config_get(p, &["hz"]);
    p.same(&["CONFIG", "RESETSTAT"]);
    p.same(&["CONFIG", "RESETSTAT", "x"]);
    p.same(&["CONFIG", "NOPE"]);
});

/// COMMAND INFO entries: [name, arity, flags, first, last, step, ...].
fn command_info_entry(r: &Resp) -> Option<Vec<Resp>> {
    r.elements()?.first()?.elements().map(|e| e.to_vec())
}

diff_test!(command_info_count, |p| {
    let (_, b) = p.same_shape(&["COMMAND", "COUNT"]);
    let n = b.as_int().expect("COMMAND COUNT is an integer");
    assert!(n > 0, "COMMAND COUNT = {n}");
    for cmd in [
        "get",
        "set",
        "mget",
        "mset",
        "msetnx",
        "del",
        "unlink",
        "exists",
        "incr",
        "incrbyfloat",
        "getrange",
        "setrange",
        "getex",
        "getdel",
        "append",
        "strlen",
        "expire",
        "pexpireat",
        "ttl",
        "persist",
        "rename",
        "copy",
        "move",
        "keys",
        "scan",
        "type",
        "ping",
        "echo",
        "hello",
        "select",
        "swapdb",
        "dbsize",
        "flushall",
        "config",
        "client",
        "command",
        "object",
        "bitop",
        "bitcount",
        "setbit",
        "info",
        "time",
    ] {
        let (a, b) = p.both(&["COMMAND", "INFO", cmd]);
        let ra = parse_frame(&a).unwrap().unwrap().0;
        let rb = parse_frame(&b).unwrap().unwrap().0;
        let (ea, eb) = (command_info_entry(&ra), command_info_entry(&rb));
        let Some(ea) = ea else {
            panic!("redis has no COMMAND INFO for {cmd}")
        };
        let Some(eb) = eb else {
            p.fail(format!(
                "COMMAND INFO {cmd}: subject has no entry: {}",
                escape(&b)
            ));
            continue;
        };
        for (i, field) in [
            (0, "name"),
            (1, "arity"),
            (3, "first key"),
            (4, "last key"),
            (5, "step"),
        ] {
            if ea.get(i) != eb.get(i) {
                p.fail(format!(
                    "COMMAND INFO {cmd}: {field} differs: redis {:?}, subject {:?}",
                    ea.get(i),
                    eb.get(i)
                ));
            }
        }
    }
    p.same(&["COMMAND", "INFO", "nosuchcommand"]);
    p.same(&["COMMAND", "COUNT", "x"]);
    let (_, b) = p.same_shape(&["COMMAND", "INFO", "get", "nosuch", "set"]);
    assert_eq!(b.elements().unwrap().len(), 3);
});

diff_test!(time_lastsave, |p| {
    let (_, b) = p.same_shape(&["TIME"]);
    let els = b.elements().unwrap();
    let secs: u64 = els[0].as_str().unwrap().parse().expect("TIME seconds");
    let micros: u64 = els[1].as_str().unwrap().parse().expect("TIME microseconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        secs.abs_diff(now) < 60,
        "TIME {secs} is far from the clock {now}"
    );
    assert!(micros < 1_000_000);
    p.same(&["TIME", "x"]);
    let (_, b) = p.same_shape(&["LASTSAVE"]);
    assert!(b.as_int().unwrap() >= 0);
    p.same(&["LASTSAVE", "x"]);
});

fn info_text(r: &Resp) -> String {
    r.as_str().expect("INFO reply is a string")
}

fn info_sections(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(|s| s.trim().to_lowercase())
        .collect()
}

fn info_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

diff_test!(info_cmd, |p| {
    let (a, b) = p.same_shape(&["INFO"]);
    let (ta, tb) = (info_text(&a), info_text(&b));
    assert!(tb.contains("\r\n"), "INFO lines end with CRLF");
    let sb = info_sections(&tb);
    for s in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "keyspace",
    ] {
        assert!(
            sb.iter().any(|x| x == s),
            "INFO lacks section {s}; has {sb:?}"
        );
    }
    let v = info_field(&tb, "redis_version").expect("redis_version field");
    assert!(v.starts_with("7.0"), "redis_version:{v}");
    assert!(info_field(&ta, "redis_version").unwrap().starts_with("7.0"));
    for f in ["redis_mode", "role", "connected_slaves"] {
        assert_eq!(info_field(&ta, f), info_field(&tb, f), "INFO field {f}");
    }
    for f in [
        "tcp_port",
        "uptime_in_seconds",
        "connected_clients",
        "used_memory",
        "process_id",
    ] {
        assert!(info_field(&tb, f).is_some(), "INFO lacks field {f}");
    }
    assert_eq!(
        info_field(&tb, "tcp_port").unwrap(),
        p.b.port().to_string(),
        "INFO tcp_port"
    );
    // single sections, case-insensitive, several at once
    for args in [
        &["INFO", "server"][..],
        &["INFO", "KEYSPACE"],
        &["INFO", "clients", "memory"],
        &["INFO", "replication"],
        &["INFO", "nosuchsection"],
        &["INFO", "default"],
        &["INFO", "all"],
        &["INFO", "everything"],
    ] {
        let (a, b) = p.same_shape(args);
        let (sa, sb) = (info_sections(&info_text(&a)), info_sections(&info_text(&b)));
        if sa != sb {
            p.fail(format!(
                "sections of `{}`: redis {sa:?}, subject {sb:?}",
                args.join(" ")
            ));
        }
    }
    // keyspace reflects writes
    p.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    p.same(&["EXPIRE", "a", "1000"]);
    p.same(&["SELECT", "2"]);
    p.same(&["SET", "x", "y"]);
    p.same(&["SELECT", "0"]);
    let (a, b) = p.same_shape(&["INFO", "keyspace"]);
    let strip_avg = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("db"))
            .map(|l| l.split(",avg_ttl").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        strip_avg(&info_text(&a)),
        strip_avg(&info_text(&b)),
        "INFO keyspace"
    );
    p.same(&["DBSIZE"]);
});

diff_test!(dbsize_after_writes, |p| {
    p.same(&["DBSIZE"]);
    for i in 0..50 {
        p.same(&["SET", &format!("k{i}"), "v"]);
    }
    p.same(&["DBSIZE"]);
    p.same(&["DEL", "k1", "k2", "k3"]);
    p.same(&["DBSIZE"]);
    p.same(&["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(30));
    p.same(&["GET", "gone"]);
    p.same(&["DBSIZE"]);
});

diff_test!(save_bgsave, |p| {
    p.same(&["SET", "k", "v"]);
    p.same(&["SAVE"]);
    p.same(&["SAVE", "x"]);
    p.same_shape(&["BGSAVE"]);
    // let a background save finish before the next one
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, b) = p.same_shape(&["LASTSAVE"]);
    assert!(b.as_int().unwrap() > 0);
    p.same(&["BGSAVE", "FOO"]);
    p.same(&["GET", "k"]);
});
