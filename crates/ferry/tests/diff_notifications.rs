//! Keyspace notifications compared with redis-server 7.0: the same commands
//! on both servers must produce the same events, in the same order, on both
//! `__keyspace@<db>__` and `__keyevent@<db>__` channels.

mod common;

use common::{Pair, RawConn};

/// Subscribes a connection to every keyspace and keyevent channel.
fn subscriber(conn: &mut RawConn) {
    let r = conn.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
    assert!(r.starts_with(b"*3") || r.starts_with(b">3"), "{r:?}");
}

/// Every frame a subscriber received up to its PING marker.
fn drain(conn: &mut RawConn) -> Vec<String> {
    conn.send(&["PING", "end-of-events"]);
    let mut frames = Vec::new();
    loop {
        let f = String::from_utf8_lossy(&conn.read_reply()).into_owned();
        if f.contains("end-of-events") {
            return frames;
        }
        frames.push(f);
        assert!(frames.len() < 10_000, "runaway event stream");
    }
}

/// Runs `cmds` on both servers with `flags` and compares the event streams.
fn compare(flags: &str, cmds: &[&[&str]], settle_ms: u64) {
    compare_as(flags, cmds, settle_ms, true);
}

/// [`compare`]; with `ordered` false, the streams are compared as multisets
/// (the order in which Redis's active expiry finds keys is random).
fn compare_as(flags: &str, cmds: &[&[&str]], settle_ms: u64, ordered: bool) {
    let mut p = Pair::proto(2);
    p.same(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    p.same(&["CONFIG", "GET", "notify-keyspace-events"]);
    let mut sub_redis = p.redis.connect();
    let mut sub_ferry = p.subject.connect();
    subscriber(&mut sub_redis);
    subscriber(&mut sub_ferry);
    for c in cmds {
        // Random picks differ between the servers; their events do not.
        if ["SPOP", "SRANDMEMBER"].contains(&c[0]) {
            p.both(c);
        } else {
            p.same(c);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(settle_ms));
    let (mut a, mut b) = (drain(&mut sub_redis), drain(&mut sub_ferry));
    if !ordered {
        a.sort();
        b.sort();
    }
    if a != b {
        let show = |v: &Vec<String>| {
            v.iter()
                .map(|f| f.replace("\r\n", " "))
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        panic!(
            "event streams differ for flags {flags:?}\nredis:\n  {}\nferry:\n  {}",
            show(&a),
            show(&b)
        );
    }
    assert!(
        !a.is_empty() || cmds.is_empty(),
        "no events at all: the test proves nothing"
    );
}

const STRING_AND_KEY_COMMANDS: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["SET", "a", "2", "EX", "100"],
    &["SET", "a", "3", "KEEPTTL"],
    &["GETSET", "a", "4"],
    &["APPEND", "a", "x"],
    &["APPEND", "b", "y"],
    &["SETRANGE", "a", "0", "z"],
    &["SETRANGE", "a", "0", ""],
    &["INCR", "n"],
    &["INCRBYFLOAT", "n", "1.5"],
    &["DECRBY", "n", "2"],
    &["SETBIT", "bits", "1", "1"],
    &["GETDEL", "a"],
    &["SET", "c", "1"],
    &["EXPIRE", "c", "100"],
    &["PERSIST", "c"],
    &["PERSIST", "c"],
    &["EXPIRE", "c", "-1"],
    &["SET", "d", "1"],
    &["RENAME", "d", "e"],
    &["RENAMENX", "e", "b"],
    &["COPY", "e", "f"],
    &["MOVE", "f", "1"],
    &["DEL", "e", "nothing"],
    &["MSET", "m1", "1", "m2", "2"],
    &["SETNX", "m1", "x"],
    &["SETNX", "m3", "x"],
    &["MSETNX", "m4", "x", "m5", "y"],
    &["BITOP", "AND", "dest", "m1", "m2"],
    &["BITOP", "AND", "dest", "nosuch"],
    &["GETEX", "m1", "EX", "100"],
    &["GETEX", "m1", "PERSIST"],
    &["SETEX", "se", "100", "v"],
    &["PSETEX", "pse", "100000", "v"],
    &["PEXPIREAT", "pse", "1"],
    &["UNLINK", "se", "m2"],
    &["SET", "short", "v", "PX", "30"],
];

#[test]
fn string_and_key_events_all_classes() {
    compare("KEAn", STRING_AND_KEY_COMMANDS, 0);
}

#[test]
fn only_keyevent_generic_and_new() {
    compare("Egn", STRING_AND_KEY_COMMANDS, 0);
}

#[test]
fn only_keyspace_strings() {
    compare("K$", STRING_AND_KEY_COMMANDS, 0);
}

#[test]
fn expired_events_from_the_background_sweep() {
    // Keys expire without being touched: the active expiry emits `expired`.
    let cmds: &[&[&str]] = &[
        &["SET", "t1", "v", "PX", "20"],
        &["SET", "t2", "v", "PX", "20"],
    ];
    compare_as("Ex", cmds, 500, false);
}

#[test]
fn notify_config_validation_and_expiry() {
    let cmds: &[&[&str]] = &[&["SET", "lazy", "v", "PX", "1"]];
    let mut p = Pair::proto(2);
    p.same(&["CONFIG", "SET", "notify-keyspace-events", "Exg$"]);
    p.same(&["CONFIG", "GET", "notify-keyspace-events"]);
    // Invalid class characters are refused with Redis's text.
    p.same(&["CONFIG", "SET", "notify-keyspace-events", "Q"]);
    drop(p);
    compare("KEA", cmds, 0);
}

const LIST_COMMANDS: &[&[&str]] = &[
    &["RPUSH", "l", "a", "b", "c"],
    &["LPUSH", "l", "z"],
    &["LPUSHX", "l", "y"],
    &["RPUSHX", "nol", "x"],
    &["LPOP", "l"],
    &["RPOP", "l", "2"],
    &["LPOP", "l", "0"],
    &["LSET", "l", "0", "q"],
    &["LINSERT", "l", "BEFORE", "q", "w"],
    &["LINSERT", "l", "AFTER", "nope", "w"],
    &["LREM", "l", "1", "w"],
    &["LREM", "l", "1", "nothing"],
    &["LTRIM", "l", "0", "0"],
    &["LTRIM", "l", "5", "10"],
    &["RPUSH", "s", "1", "2"],
    &["LMOVE", "s", "d", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "s", "d"],
    &["LMPOP", "1", "d", "RIGHT", "COUNT", "5"],
    &["RPUSH", "r", "1", "2"],
    &["LMOVE", "r", "r", "LEFT", "RIGHT"],
    &["LPOP", "r", "5"],
    &["RPUSH", "b", "x"],
    &["BLPOP", "b", "0"],
    &["RPUSH", "b2", "x", "y"],
    &["BLMOVE", "b2", "b3", "LEFT", "LEFT", "0"],
    &["BLMPOP", "0", "1", "b2", "RIGHT"],
    &["RPUSH", "single", "x"],
    &["LREM", "single", "0", "x"],
];

#[test]
fn list_events() {
    compare("KEAn", LIST_COMMANDS, 0);
}

const HASH_AND_SET_COMMANDS: &[&[&str]] = &[
    &["HSET", "h", "a", "1", "b", "2"],
    &["HSET", "h", "a", "1"],
    &["HSETNX", "h", "a", "1"],
    &["HSETNX", "h", "c", "3"],
    &["HMSET", "h", "d", "4"],
    &["HDEL", "h", "a", "nope"],
    &["HINCRBY", "h", "n", "1"],
    &["HINCRBYFLOAT", "h", "f", "1.5"],
    &["HDEL", "h", "b", "c", "d", "n", "f"],
    &["HDEL", "h", "x"],
    &["SADD", "s", "a", "b"],
    &["SADD", "s", "a"],
    // Repeated in one command.
    &["SADD", "s", "a", "c", "c"],
    &["HSET", "h", "e", "1", "e", "2", "a", "1"],
    &["SREM", "s", "a"],
    &["SPOP", "s"],
    &["SADD", "s", "x", "y", "z"],
    &["SPOP", "s", "2"],
    &["SPOP", "s", "5"],
    &["SADD", "t", "1", "2"],
    &["SMOVE", "t", "u", "1"],
    &["SMOVE", "t", "u", "2"],
    &["SADD", "v", "1", "2"],
    &["SADD", "w", "2", "3"],
    &["SINTERSTORE", "d1", "v", "w"],
    &["SUNIONSTORE", "d2", "v", "w"],
    &["SDIFFSTORE", "d3", "v", "v"],
    &["SINTERSTORE", "d2", "v", "nothing"],
    &["SRANDMEMBER", "v"],
];

const ZSET_COMMANDS: &[&[&str]] = &[
    &["ZADD", "z", "1", "a", "2", "b"],
    &["ZADD", "z", "1", "a"],
    // Unchanged, changed, repeated in one command, 0 and -0 (equal).
    &["ZADD", "z", "CH", "1", "a"],
    &["ZADD", "z", "CH", "1", "a", "7", "b"],
    &["ZADD", "z", "4", "d", "5", "d", "0", "zero"],
    &["ZADD", "z", "-0", "zero"],
    &["ZADD", "z", "XX", "5", "c"],
    &["ZADD", "z", "INCR", "3", "a"],
    &["ZADD", "z", "INCR", "0", "a"],
    &["ZINCRBY", "z", "1", "b"],
    &["ZREM", "z", "a", "nope"],
    &["ZADD", "z", "1", "x", "2", "y", "3", "w"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z", "2"],
    &["ZREMRANGEBYRANK", "z", "0", "0"],
    &["ZADD", "q", "1", "a", "2", "b", "3", "c"],
    &["ZREMRANGEBYSCORE", "q", "1", "1"],
    &["ZREMRANGEBYLEX", "q", "-", "+"],
    &["ZADD", "r", "1", "a", "2", "b"],
    &["ZRANGESTORE", "rs", "r", "0", "-1"],
    &["ZUNIONSTORE", "u", "1", "r"],
    &["ZINTERSTORE", "i", "2", "r", "nothing"],
    &["ZINTERSTORE", "u", "2", "r", "nothing"],
    &["ZDIFFSTORE", "df", "1", "r"],
    &["ZMPOP", "1", "r", "MIN", "COUNT", "5"],
    &["ZADD", "m", "1", "a"],
    &["BZPOPMIN", "m", "0"],
    &["ZADD", "m", "1", "a"],
    &["BZMPOP", "0", "1", "m", "MAX"],
];

#[test]
fn hash_and_set_events() {
    compare("KEA", HASH_AND_SET_COMMANDS, 0);
}

#[test]
fn zset_events() {
    compare("KEA", ZSET_COMMANDS, 0);
}

#[test]
fn keymiss_events_on_reads() {
    let cmds: &[&[&str]] = &[
        &["GET", "nope"],
        &["HGET", "nh", "f"],
        &["LRANGE", "nl", "0", "-1"],
        &["SMEMBERS", "ns"],
        &["EXISTS", "ne"],
        &["STRLEN", "nst"],
        &["MGET", "a", "b"],
        &["TYPE", "nt"],
        &["LLEN", "nll"],
        &["SET", "present", "v"],
        &["GET", "present"],
        &["EXISTS", "present"],
    ];
    compare("KEm", cmds, 0);
}

/// SMOVE emits `srem` on the source (and `del` when emptied) and `sadd` on
/// the destination only when the member was really added there.
const SMOVE_COMMANDS: &[&[&str]] = &[
    &["SADD", "s1", "a", "b", "c"],
    &["SADD", "s2", "b"],
    &["SMOVE", "s1", "s2", "a"],
    &["SMOVE", "s1", "s2", "b"],
    &["SMOVE", "s1", "s2", "zz"],
    &["SMOVE", "s1", "s1", "c"],
    &["SMOVE", "s1", "s1", "nope"],
    &["SMOVE", "s1", "s3", "c"],
    &["SMOVE", "s2", "s2", "a"],
    &["SADD", "t", "y"],
    &["SADD", "t2", "y"],
    &["SMOVE", "t", "t2", "y"],
    &["SADD", "one", "x"],
    &["SMOVE", "one", "one", "x"],
    &["SMOVE", "one", "other", "x"],
    &["SET", "str", "v"],
    &["SADD", "u", "q"],
    &["SMOVE", "u", "str", "q"],
    &["SMOVE", "str", "u", "q"],
    &["SMOVE", "nos", "u", "q"],
    &["SADD", "i1", "1", "2"],
    &["SADD", "i2", "3"],
    &["SMOVE", "i1", "i2", "1"],
    &["SMOVE", "i1", "i3", "2"],
];

#[test]
fn smove_events() {
    compare("KEAn", SMOVE_COMMANDS, 0);
}

#[test]
fn smove_events_set_class_only() {
    compare("Es", SMOVE_COMMANDS, 0);
}

/// MOVE: `move_from` in the source database and `move_to` (after `new`)
/// in the target, nothing when the target has the key or it is missing.
#[test]
fn move_events_across_databases() {
    let cmds: &[&[&str]] = &[
        &["SET", "k", "v", "EX", "100"],
        &["MOVE", "k", "1"],
        &["MOVE", "k", "1"],
        &["MOVE", "nokey", "1"],
        &["SELECT", "2"],
        &["SET", "j", "v"],
        &["SELECT", "0"],
        &["SET", "j", "w"],
        &["MOVE", "j", "2"],
        &["SELECT", "2"],
        &["MOVE", "j", "3"],
        &["SELECT", "3"],
        &["EXPIRE", "j", "100"],
        &["MOVE", "j", "0"],
        &["SELECT", "0"],
        &["RPUSH", "src", "a"],
        &["RENAME", "src", "dst"],
        &["COPY", "dst", "dst2"],
        &["COPY", "dst", "dst2", "REPLACE"],
        &["COPY", "dst", "dst9", "DB", "9"],
        &["SWAPDB", "0", "1"],
    ];
    compare("KEAn", cmds, 0);
}

/// Every stream event, including the consumers that XREADGROUP, XCLAIM and
/// XAUTOCLAIM create only when they deliver something, and the key events
/// (`new`, `del`, `rename_*`, `expire`...) on streams.
const STREAM_COMMANDS: &[&[&str]] = &[
    &["XADD", "s", "1-0", "f", "v"],
    &["XADD", "s", "2-0", "f", "v"],
    &["XADD", "s", "3-0", "f", "v"],
    &["XADD", "s", "0-1", "f", "v"],
    &["XADD", "none", "NOMKSTREAM", "*", "f", "v"],
    &["XADD", "s", "MAXLEN", "2", "4-0", "f", "v"],
    &["XADD", "s", "MAXLEN", "~", "2", "5-0", "f", "v"],
    &["XTRIM", "s", "MAXLEN", "10"],
    &["XTRIM", "s", "MINID", "5"],
    &["XADD", "s", "6-0", "f", "v"],
    &["XADD", "s", "7-0", "f", "v"],
    &["XDEL", "s", "6-0", "99-0"],
    &["XDEL", "s", "99-0"],
    &["XSETID", "s", "8-0"],
    &["XGROUP", "CREATE", "s", "g", "0"],
    &["XGROUP", "CREATE", "s", "g", "0"],
    &["XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"],
    &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
    &["XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", "0"],
    &["XCLAIM", "s", "g", "c4", "0", "5-0"],
    &["XCLAIM", "s", "g", "c5", "0", "99-0"],
    &["XAUTOCLAIM", "s", "g", "c6", "0", "0"],
    &["XAUTOCLAIM", "s", "g", "c7", "999999", "0"],
    &["XACK", "s", "g", "5-0"],
    &["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
    &["XGROUP", "CREATECONSUMER", "s", "g", "c8"],
    &["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
    &["XGROUP", "DELCONSUMER", "s", "g", "c8"],
    &["XGROUP", "SETID", "s", "g", "$"],
    &["XGROUP", "DESTROY", "s", "g"],
    &["XGROUP", "DESTROY", "s", "g"],
    &["COPY", "s", "copy"],
    &["RENAME", "copy", "renamed"],
    &["EXPIRE", "renamed", "100"],
    &["PERSIST", "renamed"],
    &["DEL", "renamed", "mk"],
    &["XLEN", "nothing"],
    &["XRANGE", "nothing", "-", "+"],
    &["XREAD", "STREAMS", "nothing", "0"],
    &["XINFO", "STREAM", "nothing"],
    &["XPENDING", "nothing", "g"],
];

#[test]
fn stream_events() {
    compare("KEAn", STREAM_COMMANDS, 0);
}

#[test]
fn stream_events_keyevent_only_with_keymiss() {
    compare("Etgm", STREAM_COMMANDS, 0);
}

/// The *STORE commands: `new` only when the destination did not exist,
/// before the store event (Redis's setKey adds the key, then the command
/// notifies).
#[test]
fn store_commands_new_events() {
    let cmds: &[&[&str]] = &[
        &["SADD", "s1", "a", "b"],
        &["SADD", "s2", "b", "c"],
        &["SINTERSTORE", "sd", "s1", "s2"],
        &["SINTERSTORE", "sd", "s1", "s2"],
        &["SUNIONSTORE", "sd", "s1", "s2"],
        &["SDIFFSTORE", "sd2", "s1", "s2"],
        &["SET", "str", "x"],
        &["SUNIONSTORE", "str", "s1"],
        &["ZADD", "z1", "1", "a", "2", "b"],
        &["ZADD", "z2", "3", "b"],
        &["ZUNIONSTORE", "zd", "2", "z1", "z2"],
        &["ZUNIONSTORE", "zd", "2", "z1", "z2"],
        &["ZINTERSTORE", "zd", "2", "z1", "z2"],
        &["ZDIFFSTORE", "zd3", "2", "z1", "z2"],
        &["ZRANGESTORE", "zd4", "z1", "0", "-1"],
        &["ZRANGESTORE", "zd4", "z1", "0", "0"],
        &["ZUNIONSTORE", "str", "1", "z1"],
        &["SINTERSTORE", "sd", "s1", "nothing"],
        &["ZINTERSTORE", "zd", "2", "z1", "nothing"],
    ];
    compare("KEAn", cmds, 0);
}
