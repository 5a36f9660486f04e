//! Differential tests for connection commands: PING, ECHO, HELLO, AUTH,
//! CLIENT, RESET, QUIT, unknown commands and subcommands, and a server
//! started with `--requirepass`.

#[macro_use]
mod common;

use common::{escape, parse_frame, ConnPair, FerryOpts, Pair, Resp};

diff_test!(ping_echo, |p| {
    p.same(&["PING"]);
    p.same(&["ping"]);
    p.same(&["PING", "hello"]);
    p.same(&["PING", ""]);
    p.same(&["PING", "a", "b"]);
    p.same(&["ECHO", "hello world"]);
    p.same(&["ECHO", ""]);
    p.same(&[&b"ECHO"[..], &b"\x00\xff\r\n"[..]]);
    p.same(&["ECHO"]);
    p.same(&["ECHO", "a", "b"]);
});

diff_test!(unknown_commands, |p| {
    p.same(&["FOO"]);
    p.same(&["FOO", "a", "b"]);
    p.same(&["foo", "with space", ""]);
    p.same(&["NOTACOMMAND", &"x".repeat(300), "y"]);
    p.same(&[&"LONGNAME".repeat(40)]);
    let many: Vec<String> = (0..40).map(|i| format!("arg{i}")).collect();
    let mut args = vec!["BAR".to_string()];
    args.extend(many);
    p.same(&args);
    p.same(&[""]);
    p.same(&["", "x"]);
    // unknown subcommands
    p.same(&["CLIENT", "FOO"]);
    p.same(&["CLIENT", "foo", "bar"]);
    p.same(&["CONFIG", "FOO"]);
    p.same(&["OBJECT", "NOPE"]);
    p.same(&["COMMAND", "NOPE"]);
    // subcommand arity
    p.same(&["CLIENT"]);
    p.same(&["CLIENT", "SETNAME"]);
    p.same(&["CLIENT", "SETNAME", "a", "b"]);
    p.same(&["CLIENT", "GETNAME", "x"]);
    p.same(&["CLIENT", "ID", "x"]);
    p.same(&["CONFIG"]);
    p.same(&["CONFIG", "GET"]);
    p.same(&["CONFIG", "SET", "maxmemory"]);
    // a wrong-arity command
    p.same(&["GET"]);
    p.same(&["MGET"]);
    // the connection still works
    p.same(&["PING"]);
});

/// Looks up a field of a HELLO reply by name.
fn hello_field(r: &Resp, k: &str) -> Option<Resp> {
    r.pairs()?
        .into_iter()
        .find(|(x, _)| x.as_str().as_deref() == Some(k))
        .map(|(_, v)| v)
}

#[track_caller]
fn same_hello(p: &mut ConnPair, args: &[&str]) {
    let (a, b) = p.same_keys(args);
    for k in ["proto", "mode", "role", "modules"] {
        assert_eq!(
            hello_field(&a, k),
            hello_field(&b, k),
            "`{}`: field {k:?}",
            args.join(" ")
        );
    }
    // server/version/id legitimately differ, but must have the same types
    for k in ["server", "version", "id"] {
        assert_eq!(
            hello_field(&a, k).map(|v| v.kind()),
            hello_field(&b, k).map(|v| v.kind()),
            "`{}`: type of field {k:?}",
            args.join(" ")
        );
    }
}

diff_test!(hello, |p| {
    same_hello(p, &["HELLO"]);
    same_hello(p, &["HELLO", "2"]);
    p.same(&["PING"]);
    same_hello(p, &["HELLO", "3"]);
    p.same(&["PING"]);
    p.same(&["GET", "nope"]); // RESP3 null
    same_hello(p, &["HELLO"]);
    same_hello(p, &["HELLO", "2"]);
    p.same(&["GET", "nope"]); // back to RESP2 null
    p.same(&["HELLO", "4"]);
    p.same(&["HELLO", "1"]);
    p.same(&["HELLO", "0"]);
    p.same(&["HELLO", "-1"]);
    p.same(&["HELLO", "abc"]);
    p.same(&["HELLO", "3.0"]);
    p.same(&["GET", "nope"]); // failed HELLO changed nothing
                              // SETNAME / AUTH options
    same_hello(p, &["HELLO", "3", "SETNAME", "myname"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["HELLO", "3", "SETNAME", "bad name"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["HELLO", "3", "SETNAME"]);
    same_hello(p, &["HELLO", "2", "AUTH", "default", "anything"]);
    p.same(&["HELLO", "3", "AUTH", "default"]);
    p.same(&["HELLO", "3", "AUTH", "nosuchuser", "pw"]);
    p.same(&["HELLO", "3", "FOO"]);
    p.same(&["HELLO", "3", "AUTH"]);
    same_hello(p, &["HELLO", "3", "auth", "default", "x", "setname", "n2"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["GET", "nope"]);
});

diff_test!(auth_without_requirepass, |p| {
    p.same(&["AUTH", "pw"]);
    p.same(&["AUTH", "default", "pw"]);
    p.same(&["AUTH", "nosuchuser", "pw"]);
    p.same(&["AUTH"]);
    p.same(&["AUTH", "a", "b", "c"]);
    p.same(&["PING"]);
});

diff_test!(client_name_id, |p| {
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["CLIENT", "SETNAME", "conn-1"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["CLIENT", "SETNAME", "has space"]);
    p.same(&["CLIENT", "SETNAME", "new\nline"]);
    p.same(&[&b"CLIENT"[..], &b"SETNAME"[..], &b"\x01ctl"[..]]);
    p.same(&[&b"CLIENT"[..], &b"SETNAME"[..], &b"\xc3\xa9"[..]]);
    p.same(&["CLIENT", "SETNAME", "tilde~and!punct{}"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["CLIENT", "SETNAME", ""]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["client", "setname", "lower"]);
    p.same(&["CLIENT", "GETNAME"]);
    // CLIENT ID: an integer, stable per connection, different across connections
    let (a1, b1) = p.same_shape(&["CLIENT", "ID"]);
    assert!(a1.as_int().is_some() && b1.as_int().is_some());
    let (_, b2) = p.same_shape(&["CLIENT", "ID"]);
    assert_eq!(b1, b2, "CLIENT ID changed on the same connection");
    let mut q = p.connect();
    let (_, b3) = q.same_shape(&["CLIENT", "ID"]);
    assert_ne!(b1, b3, "two connections got the same CLIENT ID");
    q.same(&["CLIENT", "GETNAME"]);
});

/// Parses a CLIENT LIST/INFO line into (field, value) pairs.
fn client_fields(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Fields whose values must be the same on both servers for a pristine connection.
const STABLE_CLIENT_FIELDS: &[&str] = &[
    "name", "db", "sub", "psub", "ssub", "multi", "flags", "cmd", "user", "redir", "resp", "events",
];

#[track_caller]
fn compare_client_text(args: &[&str], a: &Resp, b: &Resp) {
    assert_eq!(
        a.kind(),
        b.kind(),
        "`{}` reply types differ: {a:?} vs {b:?}",
        args.join(" ")
    );
    let (ta, tb) = (a.as_str().unwrap(), b.as_str().unwrap());
    let (la, lb): (Vec<_>, Vec<_>) = (ta.lines().collect(), tb.lines().collect());
    assert_eq!(
        la.len(),
        lb.len(),
        "`{}` line counts: redis {ta:?} subject {tb:?}",
        args.join(" ")
    );
    assert_eq!(
        ta.ends_with('\n'),
        tb.ends_with('\n'),
        "trailing newline: {ta:?} vs {tb:?}"
    );
    for (x, y) in la.iter().zip(lb.iter()) {
        let (fx, fy) = (client_fields(x), client_fields(y));
        let names =
            |f: &Vec<(String, String)>| f.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&fx),
            names(&fy),
            "`{}` field names differ",
            args.join(" ")
        );
        for k in STABLE_CLIENT_FIELDS {
            let v =
                |f: &Vec<(String, String)>| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            assert_eq!(
                v(&fx),
                v(&fy),
                "`{}` field {k} differs:\n  redis: {x}\n  subject: {y}",
                args.join(" ")
            );
        }
    }
}

diff_test!(client_list_info, |p| {
    let (a, b) = p.same_shape(&["CLIENT", "INFO"]);
    compare_client_text(&["CLIENT", "INFO"], &a, &b);
    p.same(&["CLIENT", "SETNAME", "lister"]);
    p.same(&["SELECT", "2"]);
    let (a, b) = p.same_shape(&["CLIENT", "INFO"]);
    compare_client_text(&["CLIENT", "INFO"], &a, &b);
    let (a, b) = p.same_shape(&["CLIENT", "LIST"]);
    compare_client_text(&["CLIENT", "LIST"], &a, &b);
    let mut q = p.connect();
    q.same(&["CLIENT", "SETNAME", "other"]);
    let (a, b) = p.same_shape(&["CLIENT", "LIST"]);
    compare_client_text(&["CLIENT", "LIST"], &a, &b);
    let (a, b) = p.same_shape(&["CLIENT", "LIST", "TYPE", "normal"]);
    compare_client_text(&["CLIENT", "LIST", "TYPE", "normal"], &a, &b);
    p.same(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    p.same(&["CLIENT", "LIST", "TYPE", "nosuch"]);
    p.same(&["CLIENT", "LIST", "FOO"]);
    p.same(&["CLIENT", "INFO", "x"]);
});

diff_test!(reset_cmd, |p| {
    p.same(&["SELECT", "3"]);
    p.same(&["SET", "in3", "v"]);
    p.same(&["CLIENT", "SETNAME", "before-reset"]);
    p.same(&["RESET"]);
    p.same(&["CLIENT", "GETNAME"]);
    p.same(&["GET", "in3"]); // back in db 0
    p.same(&["GET", "nope"]); // RESP2 again
    p.same(&["PING"]);
    p.same(&["RESET", "x"]);
    p.same(&["SELECT", "3"]);
    p.same(&["GET", "in3"]);
});

diff_test!(quit_cmd, |p| {
    // QUIT takes any number of arguments in 7.0: +OK, then the server closes
    for args in [&["QUIT"][..], &["QUIT", "extra", "args"], &["quit"]] {
        let mut q = p.connect();
        q.a.send(args);
        q.b.send(args);
        let (ra, ca) = q.a.read_until_close();
        let (rb, cb) = q.b.read_until_close();
        assert_eq!(
            escape(&ra),
            escape(&rb),
            "`{}` reply differs",
            args.join(" ")
        );
        assert!(ca, "redis did not close after QUIT");
        assert!(
            cb,
            "subject did not close the connection after `{}`",
            args.join(" ")
        );
    }
    // the servers still serve the original connections
    p.same(&["PING"]);
});

/// Both sides started with `--requirepass secret`.
fn auth_pair() -> Pair {
    Pair::with(
        &["--requirepass", "secret"],
        FerryOpts::default().requirepass("secret"),
    )
}

#[test]
fn requirepass_noauth_wrongpass_auth() {
    let mut p = auth_pair();
    p.same(&["PING"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["FOO"]);
    p.same(&["CLIENT", "ID"]);
    p.same(&["SELECT", "1"]);
    p.same(&["HELLO", "3"]);
    p.same(&["HELLO", "2"]);
    p.same(&["HELLO"]);
    p.same(&["AUTH", "wrong"]);
    p.same(&["AUTH", "default", "wrong"]);
    p.same(&["AUTH", "nosuchuser", "secret"]);
    p.same(&["AUTH"]);
    p.same(&["GET", "k"]);
    p.same(&["AUTH", "secret"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["GET", "k"]);
    p.same(&["AUTH", "wrong"]); // still authenticated after a failed AUTH?
    p.same(&["GET", "k"]);
    p.same(&["AUTH", "default", "secret"]);
    p.same(&["RESET"]); // RESET de-authenticates
    p.same(&["GET", "k"]);
}

#[test]
fn requirepass_hello_auth() {
    let mut p = auth_pair();
    p.same(&["HELLO", "3", "AUTH", "default", "wrong"]);
    p.same(&["GET", "k"]);
    same_hello(&mut p, &["HELLO", "3", "AUTH", "default", "secret"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "v"]);
    let mut q = p.connect();
    same_hello(
        &mut q,
        &["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "n"],
    );
    q.same(&["CLIENT", "GETNAME"]);
    q.same(&["GET", "k"]);
    let mut r = p.connect();
    r.same(&["HELLO", "3", "AUTH", "default", "wrong", "SETNAME", "n"]);
    r.same(&["CLIENT", "GETNAME"]);
    r.same(&["HELLO", "5", "AUTH", "default", "secret"]);
    r.same(&["GET", "k"]);
}

#[test]
fn requirepass_pipeline_before_auth() {
    // commands pipelined in one write before and after AUTH
    let mut p = auth_pair();
    let mut bytes = Vec::new();
    for c in [
        &["GET", "k"][..],
        &["AUTH", "secret"],
        &["SET", "k", "1"],
        &["INCR", "k"],
    ] {
        bytes.extend(common::encode_command(c));
    }
    p.a.send_raw(&bytes);
    p.b.send_raw(&bytes);
    for _ in 0..4 {
        let a = p.a.read_reply();
        let b = p.b.read_reply();
        assert_eq!(escape(&a), escape(&b));
    }
}

#[test]
fn hello3_reply_types() {
    // HELLO 3 replies with a map; its values have Redis's types
    let mut p = Pair::new();
    let raw = p.b.cmd(&["HELLO", "3"]);
    let r = parse_frame(&raw).unwrap().unwrap().0;
    assert_eq!(r.kind(), "map", "HELLO 3 reply: {}", escape(&raw));
    assert_eq!(hello_field(&r, "proto"), Some(Resp::Int(3)));
    assert!(matches!(hello_field(&r, "id"), Some(Resp::Int(_))));
    assert!(matches!(hello_field(&r, "modules"), Some(Resp::Array(_))));
    let raw2 = p.b.cmd(&["HELLO", "2"]);
    assert!(
        raw2.starts_with(b"*14\r\n"),
        "HELLO 2 reply: {}",
        escape(&raw2)
    );
}

// CONFIG SET requirepass at runtime: new connections must authenticate;
// clearing it lets them in again.
diff_test!(config_set_requirepass, |p| {
    p.same(&["CONFIG", "SET", "requirepass", "s3cret"]);
    p.same(&["CONFIG", "GET", "requirepass"]);
    let mut fresh = p.connect();
    fresh.same(&["GET", "k"]);
    fresh.same(&["AUTH", "wrong"]);
    fresh.same(&["AUTH", "s3cret"]);
    fresh.same(&["GET", "k"]);
    // Before AUTH, a multibulk of more than 10 arguments is refused (and
    // the connection closed): the new limit applies to new connections.
    let mut big = p.connect();
    big.same(&[
        "MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f",
    ]);
    p.same(&["CONFIG", "SET", "requirepass", ""]);
    let mut open = p.connect();
    open.same(&["GET", "k"]);
});
