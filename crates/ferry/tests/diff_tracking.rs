//! Differential tests for client-side caching (CLIENT TRACKING): the
//! option checks and errors, and the stream of invalidation messages
//! (RESP3 pushes, RESP2 `__redis__:invalidate` through REDIRECT), frame by
//! frame against redis-server 7.0.

#[macro_use]
mod common;

use common::{ConnPair, Pair};

/// Reads one more frame from both servers and requires them equal.
#[track_caller]
fn next_same(p: &mut ConnPair, what: &str) {
    let a =
        p.a.try_read_reply()
            .unwrap_or_else(|e| panic!("redis sent nothing after {what}: {e}"));
    let b =
        p.b.try_read_reply()
            .unwrap_or_else(|e| panic!("ferry sent nothing after {what}: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "next frame after {what}"
    );
}

/// Nothing else is pending on either side: the next frame is PING's reply.
#[track_caller]
fn nothing_more(p: &mut ConnPair) {
    p.same(&["PING"]);
}

/// The integer reply of `args` on each side (client ids differ).
fn ints(p: &mut ConnPair, args: &[&str]) -> (String, String) {
    let a = common::parse_one(&p.a.cmd(args)).as_int().expect("integer");
    let b = common::parse_one(&p.b.cmd(args)).as_int().expect("integer");
    (a.to_string(), b.to_string())
}

/// Sends `args` with each side's own value in place of `{}` and requires
/// the same reply.
#[track_caller]
fn same_per_side(p: &mut ConnPair, args: &[&str], values: &(String, String)) {
    let fill = |v: &str| -> Vec<String> {
        args.iter()
            .map(|a| {
                if *a == "{}" {
                    v.to_string()
                } else {
                    a.to_string()
                }
            })
            .collect()
    };
    let a = p.a.cmd(&fill(&values.0));
    let b = p.b.cmd(&fill(&values.1));
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "{args:?}"
    );
}

/// CLIENT TRACKINGINFO on both sides, with each side's redirect id.
#[track_caller]
fn same_trackinginfo(p: &mut ConnPair, ids: &(String, String)) {
    let a = common::parse_one(&p.a.cmd(&["CLIENT", "TRACKINGINFO"]));
    let b = common::parse_one(&p.b.cmd(&["CLIENT", "TRACKINGINFO"]));
    let norm = |r: common::Resp, id: &str| -> String {
        format!("{r:?}").replace(&format!("Int({id})"), "Int(<redirect>)")
    };
    assert_eq!(norm(a, &ids.0), norm(b, &ids.1), "CLIENT TRACKINGINFO");
}

/// INFO fields that describe tracking, from both sides.
#[track_caller]
fn same_info_fields(p: &mut ConnPair, fields: &[&str]) {
    let pick = |raw: Vec<u8>| -> Vec<String> {
        let text = String::from_utf8_lossy(&raw).into_owned();
        fields
            .iter()
            .map(|f| {
                text.lines()
                    .find(|l| l.starts_with(&format!("{f}:")))
                    .unwrap_or("missing")
                    .to_string()
            })
            .collect()
    };
    let a = pick(p.a.cmd(&["INFO", "everything"]));
    let b = pick(p.b.cmd(&["INFO", "everything"]));
    assert_eq!(a, b, "INFO tracking fields");
}

diff_test!(options_and_errors, |p| {
    p.same(&["CLIENT", "GETREDIR"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "TRACKING"]);
    p.same(&["CLIENT", "TRACKING", "maybe"]);
    p.same(&["CLIENT", "TRACKING", "on", "bogus"]);
    p.same(&["CLIENT", "TRACKING", "on", "REDIRECT"]);
    p.same(&["CLIENT", "TRACKING", "on", "REDIRECT", "abc"]);
    p.same(&["CLIENT", "TRACKING", "on", "REDIRECT", "987654"]);
    p.same(&["CLIENT", "TRACKING", "on", "PREFIX", "a"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST", "OPTOUT"]);
    p.same(&["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]);
    p.same(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a",
    ]);
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["CLIENT", "CACHING"]);
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&["CLIENT", "TRACKING", "on", "OPTIN"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "CACHING", "no"]);
    p.same(&["CLIENT", "CACHING", "maybe"]);
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "TRACKING", "on", "OPTOUT"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST"]);
    p.same(&["CLIENT", "GETREDIR"]);
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&["CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP"]);
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["CLIENT", "CACHING", "no"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "job:",
    ]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "cart:"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    p.same(&["CLIENT", "TRACKING", "on"]);
    same_info_fields(
        p,
        &[
            "tracking_clients",
            "tracking_total_prefixes",
            "tracking_total_keys",
        ],
    );
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
    same_info_fields(p, &["tracking_clients", "tracking_total_prefixes"]);
    // A client may redirect to itself; twice is refused.
    let ids = ints(p, &["CLIENT", "ID"]);
    same_per_side(p, &["CLIENT", "TRACKING", "on", "REDIRECT", "{}"], &ids);
    same_per_side(
        p,
        &[
            "CLIENT", "TRACKING", "on", "REDIRECT", "{}", "REDIRECT", "{}",
        ],
        &ids,
    );
    let (a, b) = ints(p, &["CLIENT", "GETREDIR"]);
    assert_eq!((a, b), ids, "GETREDIR names the redirect client");
    p.same(&["RESET"]);
    p.same(&["CLIENT", "TRACKINGINFO"]);
});

/// Default mode in RESP3: reads are remembered, writes by anyone (any
/// database, any write command) invalidate them once.
#[test]
fn resp3_invalidations_from_every_write() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    w.same(&["MSET", "s", "1", "t", "2"]);
    w.same(&["HSET", "h", "f", "v"]);
    w.same(&["RPUSH", "l", "a", "b"]);
    w.same(&["SADD", "set", "m"]);
    w.same(&["ZADD", "z", "1", "m"]);
    w.same(&["XADD", "x", "1-1", "f", "v"]);
    p.same(&["CLIENT", "TRACKING", "on"]);
    // Reads of every kind are remembered.
    for args in [
        vec!["GET", "s"],
        vec!["MGET", "t", "missing"],
        vec!["HGET", "h", "f"],
        vec!["LRANGE", "l", "0", "-1"],
        vec!["SMEMBERS", "set"],
        vec!["ZSCORE", "z", "m"],
        vec!["XRANGE", "x", "-", "+"],
        vec!["EXISTS", "s"],
    ] {
        p.same(&args);
    }
    same_info_fields(
        &mut p,
        &[
            "tracking_clients",
            "tracking_total_keys",
            "tracking_total_items",
        ],
    );
    let writes: &[&[&str]] = &[
        &["SET", "s", "2"],
        &["APPEND", "t", "x"],
        &["SET", "missing", "now"],
        &["HSET", "h", "f", "w"],
        &["LSET", "l", "0", "z"],
        &["SADD", "set", "n"],
        &["ZINCRBY", "z", "2", "m"],
        &["XADD", "x", "2-1", "f", "v"],
    ];
    for args in writes {
        w.same(args);
        next_same(&mut p, &format!("{args:?}"));
    }
    // Told once: a second write of the same key sends nothing.
    w.same(&["SET", "s", "3"]);
    nothing_more(&mut p);
    // Read again, written from another database: keys have no database.
    p.same(&["GET", "s"]);
    w.same(&["SELECT", "5"]);
    w.same(&["SET", "s", "other-db"]);
    next_same(&mut p, "SET in db 5");
    w.same(&["SELECT", "0"]);
    // DEL, EXPIRE, RENAME (both names), MOVE.
    for (read, write) in [
        (vec!["GET", "s"], vec!["DEL", "s"]),
        (vec!["GET", "t"], vec!["EXPIRE", "t", "100"]),
        (vec!["HGETALL", "h"], vec!["RENAME", "h", "h2"]),
        (vec!["GET", "dst"], vec!["RENAME", "h2", "dst"]),
        (vec!["LLEN", "l"], vec!["MOVE", "l", "3"]),
    ] {
        p.same(&read);
        w.same(&write);
        next_same(&mut p, &format!("{write:?}"));
    }
    same_info_fields(&mut p, &["tracking_total_keys", "tracking_total_items"]);
    // FLUSHDB and FLUSHALL: a null invalidation, even without tracked keys.
    p.same(&["GET", "s"]);
    w.same(&["FLUSHDB"]);
    next_same(&mut p, "FLUSHDB");
    w.same(&["FLUSHALL"]);
    next_same(&mut p, "FLUSHALL");
    nothing_more(&mut p);
    same_info_fields(&mut p, &["tracking_total_keys"]);
}

/// Expiry invalidates: on access by another client, and by the sweep.
#[test]
fn resp3_expiry_invalidates() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    p.same(&["CLIENT", "TRACKING", "on"]);
    // One key at a time: which of access and sweep deletes a key first is
    // a race on both servers, and the message is the same either way.
    w.same(&["SET", "a", "1", "PX", "50"]);
    p.same(&["GET", "a"]);
    std::thread::sleep(std::time::Duration::from_millis(80));
    // Access by another client deletes `a` (unless the sweep came first).
    w.same(&["GET", "a"]);
    next_same(&mut p, "expiry of a on access");
    // `b` goes by the background sweep (within a second on both).
    w.same(&["SET", "b", "1", "PX", "50"]);
    p.same(&["GET", "b"]);
    p.a.set_read_timeout(std::time::Duration::from_secs(5));
    p.b.set_read_timeout(std::time::Duration::from_secs(5));
    next_same(&mut p, "expiry of b by the sweep");
    nothing_more(&mut p);
}

/// A client changing a key it tracks gets the invalidation after the
/// reply (of the command, the transaction or the script); NOLOOP none.
#[test]
fn resp3_own_writes() {
    let mut p = Pair::proto(3);
    p.same(&["CLIENT", "TRACKING", "on"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "1"]);
    next_same(&mut p, "own SET");
    p.same(&["GET", "k"]);
    p.same(&["MULTI"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "2"]);
    p.same(&["INCR", "k"]);
    p.same(&["EXEC"]);
    next_same(&mut p, "EXEC");
    nothing_more(&mut p);
    p.same(&["GET", "k"]);
    p.same(&[
        "EVAL",
        "redis.call('get', KEYS[1]); redis.call('set', KEYS[1], 'x'); return redis.call('get', KEYS[1])",
        "1",
        "k",
    ]);
    next_same(&mut p, "EVAL");
    // The script's read was remembered (after its write): another write tells.
    p.same(&["DEL", "k"]);
    next_same(&mut p, "DEL after EVAL");
    p.same(&["GET", "k"]);
    p.same(&["FLUSHALL"]);
    next_same(&mut p, "own FLUSHALL");
    nothing_more(&mut p);
    p.same(&["CLIENT", "TRACKING", "on", "NOLOOP"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "3"]);
    nothing_more(&mut p);
    let mut w = p.connect();
    p.same(&["GET", "k"]);
    w.same(&["SET", "k", "4"]);
    next_same(&mut p, "other client's SET with NOLOOP");
    nothing_more(&mut p);
}

/// OPTIN remembers only reads after CLIENT CACHING YES (for one command or
/// one transaction); OPTOUT all but those after CLIENT CACHING NO.
#[test]
fn resp3_optin_optout() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    p.same(&["CLIENT", "TRACKING", "on", "OPTIN"]);
    p.same(&["GET", "a"]);
    w.same(&["SET", "a", "1"]);
    nothing_more(&mut p);
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["GET", "a"]);
    p.same(&["GET", "b"]);
    w.same(&["SET", "b", "1"]);
    nothing_more(&mut p);
    w.same(&["SET", "a", "2"]);
    next_same(&mut p, "SET a after CACHING yes");
    // CACHING lasts through a transaction.
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["MULTI"]);
    p.same(&["GET", "a"]);
    p.same(&["GET", "b"]);
    p.same(&["EXEC"]);
    w.same(&["MSET", "a", "3", "b", "3"]);
    next_same(&mut p, "MSET a (MULTI)");
    next_same(&mut p, "MSET b (MULTI)");
    // A CLIENT subcommand between does not end it.
    p.same(&["CLIENT", "CACHING", "yes"]);
    p.same(&["CLIENT", "GETREDIR"]);
    p.same(&["GET", "c"]);
    w.same(&["SET", "c", "1"]);
    next_same(&mut p, "SET c");
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&["CLIENT", "TRACKING", "on", "OPTOUT"]);
    p.same(&["CLIENT", "CACHING", "no"]);
    p.same(&["GET", "d"]);
    p.same(&["GET", "e"]);
    w.same(&["SET", "d", "1"]);
    nothing_more(&mut p);
    w.same(&["SET", "e", "1"]);
    next_same(&mut p, "SET e (OPTOUT)");
    nothing_more(&mut p);
}

/// BCAST: every change under a prefix, collected and sent once per prefix
/// with the keys in byte order; NOLOOP drops the client's own changes.
#[test]
fn resp3_bcast() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    p.same(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "job:",
    ]);
    w.same(&["SET", "user:2", "x"]);
    next_same(&mut p, "SET user:2");
    w.same(&["SET", "other", "x"]);
    nothing_more(&mut p);
    // One pipelined batch: one message per prefix.
    let cmds: &[&[&str]] = &[
        &["SET", "user:9", "1"],
        &["SET", "job:1", "1"],
        &["SET", "user:1", "1"],
        &["DEL", "user:9"],
    ];
    let mut raw = Vec::new();
    for c in cmds {
        raw.extend(common::encode_command(c));
    }
    w.a.send_raw(&raw);
    w.b.send_raw(&raw);
    for c in cmds {
        let a = w.a.read_reply();
        let b = w.b.read_reply();
        assert_eq!(a, b, "{c:?}");
    }
    next_same(&mut p, "batch: job:");
    next_same(&mut p, "batch: user:");
    nothing_more(&mut p);
    // Reads are not remembered in BCAST mode.
    p.same(&["GET", "other"]);
    same_info_fields(&mut p, &["tracking_total_keys", "tracking_total_prefixes"]);
    // Own writes arrive too, after the reply; not with NOLOOP.
    p.same(&["SET", "job:2", "x"]);
    next_same(&mut p, "own SET job:2");
    p.same(&["CLIENT", "TRACKING", "off"]);
    p.same(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]);
    p.same(&["SET", "anything", "x"]);
    nothing_more(&mut p);
    w.same(&["SET", "anything", "y"]);
    next_same(&mut p, "other's SET, BCAST all keys");
    p.same(&["FLUSHDB"]);
    next_same(&mut p, "FLUSHDB (null, even with NOLOOP)");
    nothing_more(&mut p);
}

/// RESP2 through REDIRECT: messages on `__redis__:invalidate` to a
/// subscribed client; a vanished redirect client breaks tracking.
#[test]
fn resp2_redirect_and_broken_redirect() {
    let mut p = Pair::proto(2);
    let mut sub = p.connect();
    let mut w = p.connect();
    let ids = ints(&mut sub, &["CLIENT", "ID"]);
    sub.same(&["SUBSCRIBE", "__redis__:invalidate"]);
    same_per_side(
        &mut p,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{}"],
        &ids,
    );
    let (a, b) = ints(&mut p, &["CLIENT", "GETREDIR"]);
    assert_eq!((a, b), ids);
    p.same(&["GET", "k"]);
    p.same(&["HGET", "h", "f"]);
    w.same(&["SET", "k", "1"]);
    next_same(&mut sub, "invalidate k");
    w.same(&["FLUSHALL"]);
    next_same(&mut sub, "FLUSHALL");
    // The tracking client itself never sees a message in RESP2.
    nothing_more(&mut p);
    // A client in RESP2 tracking without redirect gets nothing.
    let mut plain = p.connect();
    plain.same(&["CLIENT", "TRACKING", "on"]);
    plain.same(&["GET", "q"]);
    w.same(&["SET", "q", "1"]);
    nothing_more(&mut plain);
    // The redirect client goes away: flagged broken at the next message.
    p.same(&["GET", "k"]);
    drop(sub);
    std::thread::sleep(std::time::Duration::from_millis(200));
    w.same(&["SET", "k", "2"]);
    same_trackinginfo(&mut p, &ids);
}

#[test]
fn resp3_broken_redirect_push() {
    let mut p = Pair::proto(3);
    let mut target = p.connect();
    let mut w = p.connect();
    let ids = ints(&mut target, &["CLIENT", "ID"]);
    same_per_side(
        &mut p,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{}"],
        &ids,
    );
    p.same(&["GET", "k"]);
    drop(target);
    std::thread::sleep(std::time::Duration::from_millis(200));
    w.same(&["SET", "k", "2"]);
    // The push carries the redirect id, which differs per side.
    let a = common::parse_one(&p.a.read_reply());
    let b = common::parse_one(&p.b.read_reply());
    let shape = |r: &common::Resp, id: &str| {
        let els = r.elements().expect("push").to_vec();
        assert_eq!(els.len(), 2, "{r:?}");
        assert_eq!(els[0].as_str().as_deref(), Some("tracking-redir-broken"));
        assert_eq!(els[1].as_int().map(|i| i.to_string()).as_deref(), Some(id));
    };
    shape(&a, &ids.0);
    shape(&b, &ids.1);
    same_trackinginfo(&mut p, &ids);
}

/// RESP3 redirect target: the push goes to it, not to the tracking client.
#[test]
fn resp3_redirect_to_resp3_client() {
    let mut p = Pair::proto(3);
    let mut target = p.connect();
    target.hello3();
    let mut w = p.connect();
    let ids = ints(&mut target, &["CLIENT", "ID"]);
    same_per_side(
        &mut p,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{}"],
        &ids,
    );
    p.same(&["GET", "k"]);
    w.same(&["SET", "k", "1"]);
    next_same(&mut target, "redirected push");
    nothing_more(&mut p);
    nothing_more(&mut target);
}

/// tracking-table-max-keys: the table stays within the limit; the readers
/// of dropped keys are told (which keys is random in Redis).
#[test]
fn table_limit() {
    let mut p = Pair::proto(3);
    p.same(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    p.same(&["CLIENT", "TRACKING", "on"]);
    p.same(&["MGET", "a", "b", "c", "d", "e"]);
    // Redis trims before the next command; ferry at the end of a group:
    // count the pushes that arrive up to ECHO's reply.
    let mut seen = (0, 0);
    let cp: &mut ConnPair = &mut p;
    for (side, conn) in [(0, &mut cp.a), (1, &mut cp.b)] {
        conn.send(&["ECHO", "x"]);
        let mut n = 0;
        for _ in 0..10 {
            let r = common::parse_one(&conn.read_reply());
            match r {
                common::Resp::Push(_) => n += 1,
                _ => break,
            }
        }
        if side == 0 {
            seen.0 = n;
        } else {
            seen.1 = n;
        }
    }
    assert_eq!(seen, (3, 3), "invalidations of the 3 keys over the limit");
    let keys = |raw: Vec<u8>| {
        String::from_utf8_lossy(&raw)
            .lines()
            .find(|l| l.starts_with("tracking_total_keys:"))
            .map(str::to_string)
    };
    let a = keys(p.a.cmd(&["INFO", "stats"]));
    let b = keys(p.b.cmd(&["INFO", "stats"]));
    assert_eq!(a, b);
    assert_eq!(a.as_deref(), Some("tracking_total_keys:2"));
}

/// Every write command of every type invalidates the key it changed, as
/// in Redis; one that changes nothing (or fails) sends nothing.
#[test]
fn resp3_every_write_command() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    let setup: &[&[&str]] = &[
        &["SET", "s", "10"],
        &["SET", "f", "1.5"],
        &["HSET", "h", "a", "1", "b", "2"],
        &["RPUSH", "l", "a", "b", "c", "d", "a"],
        &["RPUSH", "l2", "x"],
        &["SADD", "set", "a", "b", "c"],
        &["SADD", "set2", "z"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["XADD", "x", "1-1", "f", "v"],
        &["XADD", "x", "2-1", "f", "v"],
        &["SET", "ttl", "v", "EX", "100"],
    ];
    for args in setup {
        w.same(args);
    }
    p.same(&["CLIENT", "TRACKING", "on"]);
    // (key read before, write command); the write is sent by `w`.
    let cases: &[(&str, &[&str])] = &[
        ("s", &["INCRBY", "s", "2"]),
        ("s", &["SETRANGE", "s", "0", "9"]),
        ("s", &["SETBIT", "s", "1", "1"]),
        ("s", &["GETSET", "s", "1"]),
        ("s", &["GETEX", "s", "EX", "100"]),
        ("s", &["PERSIST", "s"]),
        ("f", &["INCRBYFLOAT", "f", "1"]),
        ("f", &["GETDEL", "f"]),
        ("h", &["HINCRBY", "h", "a", "1"]),
        ("h", &["HSET", "h", "a", "7"]),
        ("h", &["HDEL", "h", "b"]),
        ("h", &["HSETNX", "h", "c", "1"]),
        ("l", &["LSET", "l", "1", "q"]),
        ("l", &["LINSERT", "l", "BEFORE", "c", "n"]),
        ("l", &["LREM", "l", "1", "a"]),
        ("l", &["LTRIM", "l", "0", "3"]),
        ("l", &["LPOP", "l"]),
        ("l2", &["LMOVE", "l", "l2", "LEFT", "RIGHT"]),
        ("set", &["SREM", "set", "a"]),
        ("set", &["SMOVE", "set", "set2", "b"]),
        ("set2", &["SUNIONSTORE", "set2", "set", "set2"]),
        ("z", &["ZADD", "z", "5", "a"]),
        ("z", &["ZINCRBY", "z", "1", "b"]),
        ("z", &["ZREM", "z", "c"]),
        ("z", &["ZREMRANGEBYSCORE", "z", "0", "5"]),
        ("x", &["XDEL", "x", "1-1"]),
        ("x", &["XTRIM", "x", "MAXLEN", "0"]),
        ("ttl", &["EXPIRE", "ttl", "200"]),
        ("ttl", &["COPY", "s", "ttl", "REPLACE"]),
        ("ttl", &["UNLINK", "ttl"]),
    ];
    for (key, write) in cases {
        p.same(&["EXISTS", key]);
        w.same(write);
        next_same(&mut p, &format!("{write:?}"));
        nothing_more(&mut p);
    }
    // Writes that change nothing send nothing.
    let noops: &[(&str, &[&str])] = &[
        ("h", &["HSETNX", "h", "a", "1"]),
        ("h", &["HDEL", "h", "nope"]),
        ("set2", &["SADD", "set2", "z"]),
        ("set2", &["SREM", "set2", "nope"]),
        ("z", &["ZREM", "z", "nope"]),
        ("l2", &["LREM", "l2", "0", "nope"]),
        ("s", &["SETNX", "s", "1"]),
        ("s", &["PERSIST", "s"]),
        ("s", &["EXPIRE", "s", "100", "XX"]),
        // Redis 7.0 does not signal XSETID (nor does WATCH see it).
        ("x", &["XSETID", "x", "5-5"]),
    ];
    for (key, write) in noops {
        p.same(&["EXISTS", key]);
        eprintln!("no-op write: {write:?}");
        w.same(write);
        nothing_more(&mut p);
    }
}

/// RESET turns tracking off: no message afterwards.
#[test]
fn resp3_reset_stops_tracking() {
    let mut p = Pair::proto(3);
    let mut w = p.connect();
    p.same(&["CLIENT", "TRACKING", "on"]);
    p.same(&["GET", "k"]);
    p.same(&["RESET"]);
    p.hello3();
    w.same(&["SET", "k", "1"]);
    nothing_more(&mut p);
    same_info_fields(&mut p, &["tracking_clients"]);
}

/// SWAPDB: ferry tells every tracking client to drop its cache (Redis 7.0
/// sends nothing and leaves the caches of both databases stale), so this
/// runs on ferry alone.
#[test]
fn swapdb_flushes_caches_on_ferry() {
    let ferry = common::FerryProc::start(common::FerryOpts::default());
    let mut c = ferry.connect();
    let mut w = ferry.connect();
    assert!(c.cmd(&["HELLO", "3"]).starts_with(b"%"));
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
    w.cmd(&["SELECT", "1"]);
    w.cmd(&["SET", "k", "in-db-1"]);
    c.cmd(&["GET", "k"]);
    assert_eq!(w.cmd(&["SWAPDB", "0", "1"]), b"+OK\r\n");
    assert_eq!(c.read_reply(), b">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$7\r\nin-db-1\r\n");
}
