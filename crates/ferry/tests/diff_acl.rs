//! Differential tests for ACLs: ACL SETUSER rules and how ACL LIST/GETUSER
//! show them, every ACL subcommand and its errors, AUTH/HELLO with users,
//! the permission check (commands, keys with read/write rights, channels,
//! selectors) at top level, in MULTI/EXEC and in scripts, ACL LOG, and the
//! ACL file.
//!
//! Redis lists a user's single-command rules in its command table's hash
//! order, which is random per process: those runs of `+cmd`/`-cmd` are
//! compared as sets; categories and everything else keep their order.

#[macro_use]
mod common;

use common::{parse_one, ConnPair, FerryOpts, Pair, Resp};

/// A rule text with each run of single-command rules sorted.
fn norm_rules(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for tok in s.split(' ') {
        let bare = tok.trim_start_matches('(').trim_end_matches(')');
        let single = (bare.starts_with('+') || bare.starts_with('-'))
            && !bare.starts_with("+@")
            && !bare.starts_with("-@");
        if single && !tok.starts_with('(') && !tok.ends_with(')') {
            run.push(tok.to_string());
            continue;
        }
        run.sort();
        out.append(&mut run);
        if single && tok.ends_with(')') {
            // The last rule of a selector: sort it with its run.
            run.push(bare.to_string());
            run.sort();
            out.append(&mut run);
            if let Some(last) = out.last_mut() {
                last.push(')');
            }
            continue;
        }
        out.push(tok.to_string());
    }
    run.sort();
    out.append(&mut run);
    out.join(" ")
}

/// A parsed reply with every string's rule runs normalized (bulk strings
/// become simple strings, which also makes failures readable).
fn norm(r: Resp) -> Resp {
    match r {
        Resp::Bulk(b) => Resp::Simple(norm_rules(&String::from_utf8_lossy(&b))),
        Resp::Simple(s) => Resp::Simple(norm_rules(&s)),
        Resp::Array(v) => Resp::Array(v.into_iter().map(norm).collect()),
        Resp::Set(v) => Resp::Set(v.into_iter().map(norm).collect()),
        Resp::Map(m) => Resp::Map(m.into_iter().map(|(k, v)| (norm(k), norm(v))).collect()),
        other => other,
    }
}

/// Both sides give the same reply once rule runs are normalized.
#[track_caller]
fn same_rules(p: &mut ConnPair, args: &[&str]) -> Resp {
    let (a, b) = p.both(args);
    let (ra, rb) = (norm(parse_one(&a)), norm(parse_one(&b)));
    if ra != rb {
        p.fail(format!(
            "rules differ for {args:?}\n  redis: {ra:?}\n  subject: {rb:?}"
        ));
    }
    ra
}

/// ACL LOG on both sides, without the fields that differ by nature.
#[track_caller]
fn same_log(p: &mut ConnPair, args: &[&str]) {
    let strip = |raw: Vec<u8>| -> Vec<Vec<(String, String)>> {
        parse_one(&raw)
            .elements()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                e.pairs()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().unwrap_or_default(),
                            v.as_str().unwrap_or_default(),
                        )
                    })
                    .filter(|(k, _)| k != "age-seconds" && k != "client-info")
                    .collect()
            })
            .collect()
    };
    let (a, b) = p.both(args);
    let (la, lb) = (strip(a.clone()), strip(b.clone()));
    if la != lb || la.is_empty() != lb.is_empty() {
        p.fail(format!(
            "ACL LOG differs\n  redis: {la:?}\n  subject: {lb:?}"
        ));
    }
    // The fields and their types, in order.
    let kinds = |raw: &[u8]| -> Vec<Vec<(String, &'static str)>> {
        parse_one(raw)
            .elements()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                e.pairs()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default(), v.kind()))
                    .collect()
            })
            .collect()
    };
    if kinds(&a) != kinds(&b) {
        p.fail(format!(
            "ACL LOG fields differ\n  redis: {:?}\n  subject: {:?}",
            kinds(&a),
            kinds(&b)
        ));
    }
}

/// A new connection on each side, logged in as `user`.
fn login(p: &Pair, user: &str, pass: &str) -> ConnPair {
    let mut c = p.connect();
    c.ok(&["AUTH", user, pass]);
    c
}

const RULE_SETS: &[&[&str]] = &[
    &[],
    &[
        "on",
        ">p1",
        "~app:*",
        "%R~r:*",
        "&ch*",
        "+get",
        "+@hash",
        "-hdel",
        "+client|id",
        "(+set ~x*)",
    ],
    &[
        "+@all",
        "-get",
        "+get",
        "-@hash",
        "+hset",
        "nocommands",
        "+get",
    ],
    &["+client", "-client|kill", "+@all", "+acl|list"],
    &["allkeys", "allchannels", "-@all", "+@read", "-@read"],
    &["+GET", "+@HASH", "~A", "&B", "+Client|ID"],
    &["skip-sanitize-payload", "nopass", ">x", ">x", ">y", "<x"],
    &["%RW~x", "%R~y", "%W~y", "~z", "%R~z", "%W~w", "%WR~v"],
    &["(~a +get)", "(~b +set)", "clearselectors", "(%R~c +@read)"],
    &["(~a", "+get", "&c)", "(", "~d", ")"],
    &["+select|0", "+select|1", "+get|x"],
    &["+@all", "-@dangerous", "+debug", "-@write"],
    &["+@read", "+@write", "-@keyspace", "+del"],
    &[
        "+@string",
        "+@list",
        "+@set",
        "+@sortedset",
        "-lpop",
        "+@scripting",
    ],
    &["+@all", "-@admin", "-config", "+config|get"],
    &["allcommands", "-@pubsub", "-@connection", "+ping"],
    &[
        "+@geo",
        "+@stream",
        "+@bitmap",
        "+@hyperloglog",
        "+@transaction",
        "-exec",
    ],
    &[
        "#a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa",
        "!a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa",
        ">z",
        "resetpass",
        ">w",
    ],
    &["on", "~*", "&*", "+@all", "reset"],
    &[
        "sanitize-payload",
        "on",
        "off",
        "on",
        "resetkeys",
        "~k1",
        "resetchannels",
        "&c1",
        "allkeys",
    ],
    &["+@slow", "-@fast", "+@blocking"],
    &[
        "-@all",
        "+xinfo",
        "-xinfo|help",
        "+object|encoding",
        "+config",
        "+memory",
        "-memory|usage",
        "+pfadd",
    ],
];

diff_test!(setuser_rules_list_getuser, |p| {
    for (i, rules) in RULE_SETS.iter().enumerate() {
        let name = format!("u{i}");
        let mut args = vec!["ACL", "SETUSER", name.as_str()];
        args.extend_from_slice(rules);
        p.same(&args);
        same_rules(p, &["ACL", "GETUSER", &name]);
    }
    same_rules(p, &["ACL", "LIST"]);
    p.same(&["ACL", "USERS"]);
    // Rules on top of existing users.
    for (i, rules) in RULE_SETS.iter().enumerate().skip(1) {
        let name = format!("u{}", i - 1);
        let mut args = vec!["ACL", "SETUSER", name.as_str()];
        args.extend_from_slice(rules);
        p.same(&args);
    }
    same_rules(p, &["ACL", "LIST"]);
    p.same(&["ACL", "GETUSER", "nosuchuser"]);
    p.same(&["ACL", "GETUSER", "default"]);
    p.same(&["ACL", "SETUSER", "default", "resetkeys", "~a"]);
    same_rules(p, &["ACL", "GETUSER", "default"]);
});

diff_test!(setuser_errors, |p| {
    let bad: &[&[&str]] = &[
        &["bogus"],
        &["+nocmd"],
        &["+@nocat"],
        &["-@nocat"],
        &["~*", "~x"],
        &["allkeys", "%R~x"],
        &["&*", "&x"],
        &["allchannels", "&x"],
        &["<nope"],
        &["!a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa"],
        &["#abc"],
        &["!abc"],
        &["#A1FCE4363854FF888CFF4B8E7875D600C2682390412A8CF79B37D0B11148B0FA"],
        &["+client|kill|x"],
        &["+client|nosub"],
        &["-select|0"],
        &["-client|nosub"],
        &["(~x"],
        &["(~x", "+get"],
        &["(~x +get"],
        &["(on)"],
        &["(nopass)"],
        &["(+nocmd)"],
        &["%X~x"],
        &["%~x"],
        &["%R"],
        &["%RR~x"],
        &["on", "+get", "bogus"],
        &[""],
    ];
    p.ok(&["ACL", "SETUSER", "e1", "on", "+get"]);
    for rules in bad {
        let mut args = vec!["ACL", "SETUSER", "e1"];
        args.extend_from_slice(rules);
        p.same(&args);
        let mut args = vec!["ACL", "SETUSER", "fresh"];
        args.extend_from_slice(rules);
        p.same(&args);
    }
    // A refused SETUSER changes nothing.
    same_rules(p, &["ACL", "LIST"]);
    p.same(&["ACL", "SETUSER", "bad name"]);
    p.same(&[&b"ACL"[..], b"SETUSER", b"nul\x00name"]);
    p.same(&["ACL", "SETUSER"]);
    p.same(&["ACL", "SETUSER", "x"]);
    same_rules(p, &["ACL", "LIST"]);
});

diff_test!(acl_subcommands, |p| {
    p.same(&["ACL"]);
    p.same(&["ACL", "nope"]);
    p.same(&["ACL", "HELP"]);
    p.same(&["ACL", "help", "x"]);
    p.same(&["ACL", "WHOAMI"]);
    p.same(&["ACL", "WHOAMI", "x"]);
    p.same(&["ACL", "USERS"]);
    p.same(&["ACL", "USERS", "x"]);
    p.same(&["ACL", "LIST", "x"]);
    p.same(&["ACL", "GETUSER"]);
    p.same(&["ACL", "DELUSER"]);
    p.same(&["ACL", "DRYRUN", "default"]);
    p.same(&["ACL", "DRYRUN", "default", "get"]);
    p.same(&["ACL", "CAT"]);
    p.same(&["ACL", "CAT", "nope"]);
    p.same(&["ACL", "CAT", "a", "b"]);
    // Every Redis command is known to the rules, also those ferry lacks.
    let cats: Vec<String> = parse_one(&p.a.cmd(&["ACL", "CAT"]))
        .elements()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(cats.len(), 21);
    // ferry also has CLIENT NO-TOUCH (Redis 7.2), in its categories.
    let members = |raw: Vec<u8>| -> Vec<String> {
        let mut v: Vec<String> = parse_one(&raw)
            .elements()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.as_str())
            .filter(|c| c != "client|no-touch")
            .collect();
        v.sort();
        v
    };
    for cat in &cats {
        for name in [cat.clone(), cat.to_uppercase()] {
            let a = members(p.a.cmd(&["ACL", "CAT", &name]));
            let b = members(p.b.cmd(&["ACL", "CAT", &name]));
            assert_eq!(a, b, "ACL CAT {name}");
        }
    }
    // GENPASS: random, so compare lengths and errors.
    for bits in ["1", "4", "5", "64", "255", "256", "4096"] {
        let (a, b) = p.both(&["ACL", "GENPASS", bits]);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        assert_eq!(ra.kind(), rb.kind());
        let (sa, sb) = (
            ra.as_str().unwrap_or_default(),
            rb.as_str().unwrap_or_default(),
        );
        assert_eq!(sa.len(), sb.len(), "GENPASS {bits}");
        assert!(sb.bytes().all(|c| c.is_ascii_hexdigit()));
    }
    let (a, b) = p.both(&["ACL", "GENPASS"]);
    assert_eq!(a.len(), b.len());
    assert_ne!(p.b.cmd(&["ACL", "GENPASS"]), b, "GENPASS is random");
    for bad in ["0", "-1", "4097", "x", "99999999999999999999"] {
        p.same(&["ACL", "GENPASS", bad]);
    }
    p.same(&["ACL", "GENPASS", "1", "2"]);
    // LOG arguments.
    p.same(&["ACL", "LOG"]);
    p.same(&["ACL", "LOG", "x"]);
    p.same(&["ACL", "LOG", "-1"]);
    p.same(&["ACL", "LOG", "0"]);
    p.same(&["ACL", "LOG", "1", "2"]);
    p.same(&["ACL", "LOG", "RESET"]);
    p.same(&["ACL", "LOG", "reset", "x"]);
    // No ACL file configured.
    p.same(&["ACL", "SAVE"]);
    p.same(&["ACL", "LOAD"]);
    p.same(&["ACL", "SAVE", "x"]);
    // DELUSER.
    p.ok(&["ACL", "SETUSER", "d1"]);
    p.ok(&["ACL", "SETUSER", "d2"]);
    p.same(&["ACL", "DELUSER", "default"]);
    p.same(&["ACL", "DELUSER", "d1", "default"]);
    p.same(&["ACL", "USERS"]);
    p.same(&["ACL", "DELUSER", "d1", "zz", "d2", "d1"]);
    p.same(&["ACL", "USERS"]);
    // DRYRUN.
    p.ok(&[
        "ACL",
        "SETUSER",
        "dr",
        "on",
        "nopass",
        "~app:*",
        "&chan*",
        "+@all",
        "-flushall",
        "%R~ro:*",
    ]);
    for cmd in [
        &["get", "x"][..],
        &["get", "app:1"],
        &["set", "ro:1", "v"],
        &["get", "ro:1"],
        &["publish", "x", "y"],
        &["publish", "chan1", "y"],
        &["flushall"],
        &["nocmd", "x"],
        &["get"],
        &["client", "nosub"],
        &["client", "kill", "id", "1"],
        &["config", "get"],
        &["mget", "app:1", "app:2", "other"],
        &["subscribe", "chanx", "other"],
        &["psubscribe", "chan*"],
        &["psubscribe", "chan*x"],
        &["eval", "return 1", "1", "other"],
    ] {
        let mut args = vec!["ACL", "DRYRUN", "dr"];
        args.extend_from_slice(cmd);
        p.same(&args);
    }
    p.same(&["ACL", "DRYRUN", "nouser", "get", "x"]);
});

diff_test!(auth_and_hello_with_users, |p| {
    p.ok(&["ACL", "SETUSER", "alice", "on", ">pa", ">pb", "+@all", "~*"]);
    p.ok(&["ACL", "SETUSER", "bob", "off", ">pb", "+@all"]);
    p.ok(&[
        "ACL",
        "SETUSER",
        "free",
        "on",
        "nopass",
        "+acl|whoami",
        "+client|info",
    ]);
    let mut c = p.connect();
    c.same(&["AUTH", "alice", "wrong"]);
    c.same(&["AUTH", "nouser", "pa"]);
    c.same(&["AUTH", "bob", "pb"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same(&["AUTH", "pa"]);
    c.same(&["AUTH", "alice", "pa"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same(&["AUTH", "alice", "pb"]);
    c.same(&["AUTH", "free", "anything"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same(&["GET", "x"]);
    let info = |r: Vec<u8>| -> String {
        let s = String::from_utf8_lossy(&r).into_owned();
        s.split(' ')
            .find(|f| f.starts_with("user="))
            .unwrap_or_default()
            .to_string()
    };
    let (a, b) = c.both(&["CLIENT", "INFO"]);
    assert_eq!(info(a), info(b));
    c.same(&["HELLO", "2", "AUTH", "alice", "nope"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same_keys(&["HELLO", "2", "AUTH", "alice", "pa"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same(&["HELLO", "2", "AUTH", "bob", "pb"]);
    c.same(&["RESET"]);
    c.same(&["ACL", "WHOAMI"]);
    // A disabled user's open connections keep working.
    let mut a2 = login(p, "alice", "pa");
    p.ok(&["ACL", "SETUSER", "alice", "off"]);
    a2.same(&["ACL", "WHOAMI"]);
    a2.same(&["AUTH", "alice", "pa"]);
    same_log(p, &["ACL", "LOG"]);
    // The default user's password comes with AUTH <pass>.
    p.ok(&["ACL", "SETUSER", "default", ">dpw"]);
    let mut d = p.connect();
    d.same(&["GET", "x"]);
    d.same(&["AUTH", "bad"]);
    d.same(&["AUTH", "dpw"]);
    d.same(&["ACL", "WHOAMI"]);
    p.ok(&["ACL", "SETUSER", "default", "nopass"]);
    let mut e = p.connect();
    e.same(&["GET", "x"]);
    e.same(&["AUTH", "x"]);
});

/// requirepass is the default user's password.
#[test]
fn requirepass_is_default_password() {
    let mut p = Pair::with(
        &["--requirepass", "secret"],
        FerryOpts::default().requirepass("secret"),
    );
    p.same(&["ACL", "WHOAMI"]);
    p.same(&["AUTH", "default", "secret"]);
    same_rules(&mut p, &["ACL", "LIST"]);
    p.same(&["CONFIG", "SET", "requirepass", "other"]);
    same_rules(&mut p, &["ACL", "LIST"]);
    let mut c = p.connect();
    c.same(&["PING"]);
    c.same(&["AUTH", "secret"]);
    c.same(&["AUTH", "other"]);
    p.same(&["CONFIG", "SET", "requirepass", ""]);
    same_rules(&mut p, &["ACL", "LIST"]);
    let mut c = p.connect();
    c.same(&["PING"]);
    p.ok(&["ACL", "SETUSER", "default", "off"]);
    let mut c = p.connect();
    c.same(&["PING"]);
    c.same(&["HELLO", "3"]);
    c.same(&["AUTH", "default", "x"]);
}

diff_test!(escape_attempts, |p| {
    p.ok(&[
        "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all", "-select", "&chan*",
    ]);
    p.ok(&["SET", "app:1", "v"]);
    p.ok(&["SET", "other", "secret"]);
    p.same(&["RPUSH", "app:list", "3", "1", "2"]);
    let mut c = login(p, "app", "pw");
    for cmd in [
        &["GET", "other"][..],
        &["GET", "app:1"],
        &["MGET", "app:1", "other"],
        &["RENAME", "app:1", "other"],
        &["COPY", "app:1", "other"],
        &["SORT", "app:list", "BY", "other*"],
        &["SORT", "app:list", "BY", "nosort"],
        &["SORT", "app:list", "GET", "#"],
        &["SORT", "app:list", "STORE", "other"],
        &["SORT", "app:list", "STORE", "app:sorted"],
        &["SORT_RO", "app:list", "BY", "x*"],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "other"],
        &["EVAL", "return redis.call('get', 'other')", "0"],
        &["EVAL", "return redis.pcall('get', 'other')", "0"],
        &["EVAL", "return redis.call('get', 'app:1')", "0"],
        &["EVAL", "return redis.call('select', '1')", "0"],
        &["EVAL", "return redis.call('publish', 'x', 'y')", "0"],
        &["EVAL", "return redis.acl_check_cmd('get', 'other')", "0"],
        &["EVAL", "return redis.acl_check_cmd('get', 'app:x')", "0"],
        &["EVAL", "return redis.acl_check_cmd('select', '1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('nocmd')", "0"],
        &["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "app:1"],
        &["SELECT", "1"],
        &["MSET", "app:2", "x", "other", "y"],
        &["DEL", "app:2", "other"],
        &["EXISTS", "other"],
        &["TOUCH", "other"],
        &["ZUNIONSTORE", "app:z", "2", "app:a", "other"],
        &["ZUNIONSTORE", "other", "1", "app:a"],
        &["LMPOP", "2", "app:a", "other", "LEFT"],
        &["BLMPOP", "0.01", "1", "other", "LEFT"],
        &["XREAD", "STREAMS", "app:s", "other", "0", "0"],
        &["GEORADIUS", "app:g", "0", "0", "1", "km", "STORE", "other"],
        &["OBJECT", "ENCODING", "other"],
        &["BITOP", "AND", "other", "app:1"],
        &["PUBLISH", "other", "x"],
        &["PUBLISH", "chan1", "x"],
        &["SUBSCRIBE", "other"],
        &["PSUBSCRIBE", "chan*x"],
        &["FLUSHALL"],
        &["KEYS", "*"],
        &["SCAN", "0"],
    ] {
        c.same(cmd);
    }
    // Functions run with the caller's rights too.
    p.same_expect(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=acl\nredis.register_function('rd', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('peek', function() return redis.call('get', 'other') end)\nredis.register_function('check', function() return redis.acl_check_cmd('set', 'other', 'x') end)",
    ], b"$3\r\nacl\r\n");
    c.same(&["FCALL", "rd", "1", "other"]);
    c.same(&["FCALL", "rd", "1", "app:1"]);
    c.same(&["FCALL", "peek", "0"]);
    c.same(&["FCALL_RO", "peek", "0"]);
    c.same(&["FCALL", "check", "0"]);
    // Transactions: checked when queued, and again at EXEC.
    c.same(&["MULTI"]);
    c.same(&["GET", "other"]);
    c.same(&["GET", "app:1"]);
    c.same(&["EXEC"]);
    c.same(&["MULTI"]);
    c.same(&["GET", "app:1"]);
    c.same(&["SET", "app:1", "w"]);
    c.same(&["PUBLISH", "chan1", "x"]);
    p.ok(&["ACL", "SETUSER", "app", "-get", "resetchannels"]);
    c.same(&["EXEC"]);
    c.same(&["MULTI"]);
    c.same(&["SET", "app:1", "z"]);
    p.ok(&["ACL", "SETUSER", "app", "resetkeys", "~zz"]);
    c.same(&["EXEC"]);
    same_log(p, &["ACL", "LOG"]);
    same_log(p, &["ACL", "LOG", "3"]);
    p.same(&["ACL", "LOG", "RESET"]);
    p.same(&["ACL", "LOG"]);
});

diff_test!(key_rights_and_selectors, |p| {
    p.ok(&[
        "ACL", "SETUSER", "rw", "on", "nopass", "%R~r:*", "%W~w:*", "~b:*", "+@all",
    ]);
    p.ok(&["SET", "r:1", "v"]);
    p.ok(&["SET", "b:1", "v"]);
    let mut c = login(p, "rw", "x");
    for cmd in [
        &["GET", "r:1"][..],
        &["SET", "r:1", "x"],
        &["SET", "w:1", "x"],
        &["GET", "w:1"],
        &["SET", "w:1", "x", "GET"],
        &["EXISTS", "w:1"],
        &["EXISTS", "r:1"],
        &["INCR", "w:2"],
        &["LPUSH", "w:3", "a"],
        &["COPY", "r:1", "w:5"],
        &["COPY", "w:5", "r:1"],
        &["RENAME", "b:1", "w:6"],
        &["SMOVE", "b:s", "w:s", "x"],
        &["LMOVE", "b:l", "w:l", "LEFT", "LEFT"],
        &["BITFIELD", "w:b", "GET", "u8", "0"],
        &["BITFIELD", "w:b", "SET", "u8", "0", "1"],
        &["BITFIELD", "r:b", "GET", "u8", "0"],
        &["BITFIELD_RO", "r:b", "GET", "u8", "0"],
        &["DEL", "w:1"],
        &["DEL", "r:1"],
        &["EVAL", "return 1", "2", "r:1", "w:1"],
        &["EVAL", "return redis.call('set', 'w:9', 'v')", "0"],
        &["EVAL", "return redis.call('get', 'w:9')", "0"],
        &["SINTERSTORE", "w:d", "r:1", "b:1"],
        &["SINTERSTORE", "r:d", "w:1"],
    ] {
        c.same(cmd);
    }
    // Selectors: a command is allowed when any selector allows it.
    p.ok(&[
        "ACL",
        "SETUSER",
        "sel",
        "on",
        "nopass",
        "~a:*",
        "+get",
        "(~b:* +set)",
        "(%R~c:* +@read &n*)",
    ]);
    let mut s = login(p, "sel", "x");
    for cmd in [
        &["GET", "a:1"][..],
        &["GET", "b:1"],
        &["SET", "b:1", "v"],
        &["SET", "a:1", "v"],
        &["GET", "c:1"],
        &["SET", "c:1", "v"],
        &["MGET", "a:1", "c:1"],
        &["STRLEN", "c:1"],
        &["PUBLISH", "n1", "x"],
        &["DEL", "b:1"],
        &["SET", "z", "v"],
        &["GET", "z"],
    ] {
        s.same(cmd);
    }
    same_log(p, &["ACL", "LOG"]);
    p.same(&["ACL", "DRYRUN", "sel", "set", "c:1", "v"]);
    p.same(&["ACL", "DRYRUN", "sel", "get", "zz"]);
    // Without +select a user cannot change database; keys ignore the db.
    p.ok(&[
        "ACL", "SETUSER", "nosel", "on", "nopass", "~k:*", "+get", "+set",
    ]);
    let mut n = login(p, "nosel", "x");
    n.same(&["SELECT", "1"]);
    n.same(&["SET", "k:1", "v"]);
    p.ok(&["ACL", "SETUSER", "nosel", "+select"]);
    n.same(&["SELECT", "1"]);
    n.same(&["SET", "k:1", "v1"]);
    n.same(&["GET", "k:1"]);
    n.same(&["SET", "x", "v1"]);
    // Subcommand rules.
    p.ok(&[
        "ACL",
        "SETUSER",
        "sub",
        "on",
        "nopass",
        "+client|id",
        "+config",
        "-config|set",
        "+select|0",
    ]);
    let mut u = login(p, "sub", "x");
    u.same_shape(&["CLIENT", "ID"]);
    u.same_shape(&["HELLO", "2"]);
    for cmd in [
        &["CLIENT", "KILL", "ID", "1"][..],
        &["CLIENT", "NOSUB"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["SELECT", "0"],
        &["SELECT", "1"],
        &["PING"],
        &["AUTH", "sub", "x"],
    ] {
        u.same(cmd);
    }
    same_log(p, &["ACL", "LOG", "100"]);
});

/// Deleting a user closes its connections; the deleting connection closes
/// after its reply when it deleted itself.
#[test]
fn deluser_closes_connections() {
    let mut p = Pair::new();
    p.ok(&["ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*"]);
    p.ok(&["ACL", "SETUSER", "self", "on", "nopass", "+@all"]);
    let mut c = login(&p, "gone", "x");
    let mut me = login(&p, "self", "x");
    p.same(&["CLIENT", "KILL", "USER", "nouser"]);
    p.same(&["ACL", "DELUSER", "gone"]);
    let (_, closed_a) = c.a.read_until_close();
    let (_, closed_b) = c.b.read_until_close();
    assert!(closed_a && closed_b, "the deleted user's connection closes");
    me.same(&["ACL", "DELUSER", "self"]);
    let (_, closed_a) = me.a.read_until_close();
    let (_, closed_b) = me.b.read_until_close();
    assert!(closed_a && closed_b);
    // CLIENT KILL USER.
    p.ok(&["ACL", "SETUSER", "k", "on", "nopass", "+@all"]);
    let _k1 = login(&p, "k", "x");
    let _k2 = login(&p, "k", "x");
    p.same(&["CLIENT", "KILL", "USER", "k"]);
    // ferry forgets a killed connection once its task has closed it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    p.same(&["CLIENT", "KILL", "USER", "k", "SKIPME", "no"]);
}

/// Both servers start with an ACL file; LOAD/SAVE round-trip it.
#[test]
fn aclfile_load_save() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let content = "user default on nopass ~* &* +@all\nuser alice on >pa ~a:* +get\n\nuser bob off #a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa (~x +set) &c*\n";
    let fa = dir_a.path().join("users.acl");
    let fb = dir_b.path().join("users.acl");
    std::fs::write(&fa, content).unwrap();
    std::fs::write(&fb, content).unwrap();
    let (sa, sb) = (fa.display().to_string(), fb.display().to_string());
    let mut p = Pair::with(
        &["--aclfile", &sa],
        FerryOpts::default().arg("--aclfile").arg(&sb),
    );
    same_rules(&mut p, &["ACL", "LIST"]);
    let mut c = p.connect();
    c.same(&["AUTH", "alice", "pa"]);
    c.same(&["GET", "a:1"]);
    c.same(&["SET", "a:1", "x"]);
    p.ok(&["ACL", "SETUSER", "carol", "on", ">pc", "%R~c:*", "+@read"]);
    p.ok(&["ACL", "SAVE"]);
    let read = |f: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .map(norm_rules)
            .collect()
    };
    assert_eq!(read(&fa), read(&fb));
    p.ok(&["ACL", "SETUSER", "dave", "on"]);
    p.ok(&["ACL", "LOAD"]);
    same_rules(&mut p, &["ACL", "LIST"]);
    // ACL LOAD closes the connections of every user but `default`.
    let (_, closed_a) = c.a.read_until_close();
    let (_, closed_b) = c.b.read_until_close();
    assert!(
        closed_a && closed_b,
        "alice's connection closes on ACL LOAD"
    );
    // Broken files: nothing changes, the error says why.
    for broken in [
        "user default on nopass ~* &* +@all\nuser carol on bogus\nuser dave on +nocmd\nfoo bar\nuser alice on\nuser alice off\nuser x (~a\n",
        "\n  \nuser default on nopass ~* &* +@all\n# comment\nuser e\n",
        "user   default on nopass\nuser f on\r\n",
        "user e1 on >x +@all ~* &*\r\n",
        "",
    ] {
        std::fs::write(&fa, broken).unwrap();
        std::fs::write(&fb, broken).unwrap();
        let (a, b) = p.both(&["ACL", "LOAD"]);
        let (a, b) = (
            String::from_utf8_lossy(&a).replace(&sa, "F"),
            String::from_utf8_lossy(&b).replace(&sb, "F"),
        );
        assert_eq!(a, b, "ACL LOAD of {broken:?}");
        same_rules(&mut p, &["ACL", "LIST"]);
    }
    std::fs::remove_file(&fa).unwrap();
    std::fs::remove_file(&fb).unwrap();
    let (a, b) = p.both(&["ACL", "LOAD"]);
    assert_eq!(
        String::from_utf8_lossy(&a).replace(&sa, "F"),
        String::from_utf8_lossy(&b).replace(&sb, "F")
    );
    p.same(&["CONFIG", "SET", "aclfile", "/tmp/x"]);
}

/// `acl-pubsub-default allchannels`: new users and selectors, and `reset`,
/// allow every channel.
#[test]
fn pubsub_default_allchannels() {
    let mut p = Pair::new();
    p.same(&["CONFIG", "SET", "acl-pubsub-default", "foo"]);
    p.ok(&["ACL", "SETUSER", "before", "on", "nopass", "+@all"]);
    p.ok(&["CONFIG", "SET", "acl-pubsub-default", "allchannels"]);
    p.same(&["CONFIG", "GET", "acl-pubsub-default"]);
    p.ok(&["ACL", "SETUSER", "n1", "(~x +get)"]);
    p.ok(&["ACL", "SETUSER", "n2", "reset"]);
    p.ok(&["ACL", "SETUSER", "n3", "resetchannels", "reset"]);
    p.ok(&["ACL", "SETUSER", "n4", "on", "nopass", "+@all", "~*"]);
    same_rules(&mut p, &["ACL", "LIST"]);
    let mut c = login(&p, "n4", "x");
    c.same(&["PUBLISH", "any", "x"]);
    let mut b = login(&p, "before", "x");
    b.same(&["PUBLISH", "any", "x"]);
    p.ok(&["CONFIG", "SET", "acl-pubsub-default", "resetchannels"]);
    p.ok(&["ACL", "SETUSER", "n5"]);
    same_rules(&mut p, &["ACL", "LIST"]);
}

diff_test!(acl_check_order_in_multi, |p| {
    p.ok(&[
        "ACL", "SETUSER", "nm", "on", "nopass", "+multi", "+exec", "+get", "~*",
    ]);
    let mut c = login(p, "nm", "x");
    for cmd in [
        &["MULTI"][..],
        &["WATCH", "x"],
        &["SUBSCRIBE", "x"],
        &["MULTI"],
        &["SET", "a", "b"],
        &["GET", "a"],
        &["EXEC"],
        &["MULTI"],
        &["DISCARD"],
        &["EXEC"],
        &["NOSUCHCOMMAND"],
        &["GET"],
    ] {
        c.same(cmd);
    }
    // A user without EXEC: the transaction is discarded, saying why.
    p.ok(&[
        "ACL", "SETUSER", "noexec", "on", "nopass", "+multi", "+get", "~*",
    ]);
    let mut e = login(p, "noexec", "x");
    e.same(&["MULTI"]);
    e.same(&["GET", "a"]);
    e.same(&["EXEC"]);
    e.same(&["GET", "a"]);
    same_log(p, &["ACL", "LOG"]);
});

diff_test!(acl_log_length_and_grouping, |p| {
    p.ok(&["ACL", "SETUSER", "lg", "on", "nopass", "+get", "~k*"]);
    let mut c = login(p, "lg", "x");
    p.ok(&["CONFIG", "SET", "acllog-max-len", "3"]);
    for key in ["a", "b", "c", "d", "b", "a"] {
        c.same(&["GET", key]);
    }
    c.same(&["SET", "k1", "v"]);
    c.same(&["AUTH", "lg", "y"]);
    c.same(&["AUTH", "nobody", "y"]);
    same_log(p, &["ACL", "LOG"]);
    same_log(p, &["ACL", "LOG", "2"]);
    p.ok(&["CONFIG", "SET", "acllog-max-len", "128"]);
    for i in 0..15 {
        c.same(&["GET", &format!("x{i}")]);
    }
    // Only the 10 newest entries are looked at for grouping.
    c.same(&["GET", "x0"]);
    c.same(&["GET", "x14"]);
    same_log(p, &["ACL", "LOG", "100"]);
    p.ok(&["ACL", "LOG", "RESET"]);
    p.same(&["ACL", "LOG"]);
});

/// Names, passwords, patterns and channels are bytes, as in Redis (the
/// harness reads error lines as text, so only replies that are not errors
/// carry the odd bytes).
#[test]
fn binary_names_and_patterns() {
    let mut p = Pair::new();
    let name: &[u8] = b"u\xff\x01";
    p.same(&[
        &b"ACL"[..],
        b"SETUSER",
        name,
        b"on",
        b">p\xfe",
        b"~k\xff*",
        b"&c\xfe",
        b"+@all",
    ]);
    same_rules(&mut p, &["ACL", "LIST"]);
    p.same(&[&b"ACL"[..], b"GETUSER", name]);
    p.same(&[&b"ACL"[..], b"DRYRUN", name, b"get", b"k\xff1"]);
    p.same(&[&b"ACL"[..], b"DRYRUN", name, b"get", b"x\xff"]);
    p.same(&[&b"ACL"[..], b"DRYRUN", name, b"publish", b"x\xff", b"m"]);
    let mut c = p.connect();
    c.same(&[&b"AUTH"[..], name, b"p\xfd"]);
    c.same(&[&b"AUTH"[..], name, b"p\xfe"]);
    c.same(&["ACL", "WHOAMI"]);
    c.same(&[&b"SET"[..], b"k\xff1", b"v"]);
    c.same(&[&b"SET"[..], b"k\xfe1", b"v"]);
    c.same(&[&b"PUBLISH"[..], b"c\xfe", b"v"]);
    same_log(&mut p, &["ACL", "LOG"]);
    p.same(&[&b"ACL"[..], b"DELUSER", name]);
}

/// A broken or missing ACL file stops the start with Redis's error, as
/// redis-server refuses to start.
#[test]
fn broken_aclfile_stops_start() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.acl");
    std::fs::write(
        &broken,
        "user default on nopass ~* &* +@all\nuser bad on +nocmd\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.acl");
    for (file, want) in [
        (&broken, "broken.acl:2: Error in applying operation '+nocmd': Unknown command or category name in ACL. WARNING: ACL errors detected"),
        (&missing, "Error loading ACLs, opening file"),
    ] {
        let port = common::free_port();
        let out = std::process::Command::new(common::ferry_binary())
            .args(["serve", "--port", &port.to_string(), "--data"])
            .arg(dir.path().join("ferry.db"))
            .arg("--aclfile")
            .arg(file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{err}");
    }
    // Redis refuses both too.
    for file in [&broken, &missing] {
        let out = std::process::Command::new("redis-server")
            .args(["--port", "0", "--aclfile"])
            .arg(file)
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}

/// Revoking a channel closes the connections subscribed to it.
#[test]
fn revoked_channels_close_subscribers() {
    let mut p = Pair::new();
    p.ok(&["ACL", "SETUSER", "ps", "on", "nopass", "+@all", "&*"]);
    let mut b = login(&p, "ps", "x");
    b.same(&["SUBSCRIBE", "news"]);
    let mut c = login(&p, "ps", "x");
    c.same(&["PSUBSCRIBE", "n*"]);
    let mut d = login(&p, "ps", "x");
    d.same(&["SUBSCRIBE", "other"]);
    p.ok(&["ACL", "SETUSER", "ps", "resetchannels", "&news", "&other"]);
    b.same(&["PING"]);
    d.same(&["PING"]);
    let (_, closed_a) = c.a.read_until_close();
    let (_, closed_b) = c.b.read_until_close();
    assert!(closed_a && closed_b, "the pattern subscriber is closed");
    p.ok(&["ACL", "SETUSER", "ps", "resetchannels", "&news"]);
    b.same(&["PING"]);
    let (_, closed_a) = d.a.read_until_close();
    let (_, closed_b) = d.b.read_until_close();
    assert!(
        closed_a && closed_b,
        "the subscriber of a revoked channel is closed"
    );
}
