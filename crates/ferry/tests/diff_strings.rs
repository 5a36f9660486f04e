//! Differential tests for string commands: every reply from ferry must be
//! byte-identical to redis-server 7.0's, in RESP2 and in RESP3.

#[macro_use]
mod common;

diff_test!(get_set_basic, |p| {
    p.same(&["GET", "missing"]);
    p.ok(&["SET", "k", "v"]);
    p.same(&["GET", "k"]);
    p.ok(&["SET", "k", "v2"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "empty", ""]);
    p.same(&["GET", "empty"]);
    p.same(&["STRLEN", "empty"]);
    // binary-safe values and keys
    p.same(&[&b"SET"[..], &b"bin\x00key"[..], &b"\x00\xff\r\n"[..]]);
    p.same(&[&b"GET"[..], &b"bin\x00key"[..]]);
    // arity
    p.same(&["GET"]);
    p.same(&["GET", "a", "b"]);
    p.same(&["SET", "k"]);
    p.same(&["SET"]);
    // command names are case-insensitive
    p.same(&["set", "Lower", "x"]);
    p.same(&["gEt", "Lower"]);
    p.same(&["get", "lower"]);
});

diff_test!(set_expire_options, |p| {
    p.same(&["SET", "k", "v", "EX", "100"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["SET", "k", "v", "PX", "100000"]);
    p.close_int(&["TTL", "k"], 1);
    p.close_int(&["PTTL", "k"], 1000);
    p.same(&["SET", "k", "v", "ex", "100"]);
    p.same(&["SET", "k", "v", "EXAT", "4102444800"]); // 2100-01-01
    p.same(&["TTL", "k"]).len();
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["SET", "k", "v", "PXAT", "4102444800123"]);
    p.same(&["PEXPIRETIME", "k"]);
    p.same(&["EXPIRETIME", "k"]);
    // plain SET clears the TTL
    p.same(&["SET", "k", "v"]);
    p.same(&["TTL", "k"]);
    // EXAT/PXAT in the past: key is gone at once
    p.same(&["SET", "past", "v", "EXAT", "1"]);
    p.same(&["GET", "past"]);
    p.same(&["EXISTS", "past"]);
    p.same(&["SET", "past", "v", "PXAT", "1000"]);
    p.same(&["GET", "past"]);
    // invalid expire times
    for opt in ["EX", "PX", "EXAT", "PXAT"] {
        p.same(&["SET", "k", "v", opt, "0"]);
        p.same(&["SET", "k", "v", opt, "-1"]);
        p.same(&["SET", "k", "v", opt, "abc"]);
        p.same(&["SET", "k", "v", opt, "1.5"]);
        p.same(&["SET", "k", "v", opt, ""]);
        p.same(&["SET", "k", "v", opt, "9223372036854775807"]);
        p.same(&["SET", "k", "v", opt, "9223372036854775808"]);
        p.same(&["SET", "k", "v", opt]);
    }
    p.same(&["SET", "k", "v", "EX", "9223372036854775"]);
    p.same(&["SET", "k", "v", "PX", "9223372036854775"]);
    // the failed SETs did not change k
    p.same(&["GET", "k"]);
    p.same(&["TTL", "k"]);
});

diff_test!(set_nx_xx_get_keepttl, |p| {
    p.same(&["SET", "k", "v", "NX"]);
    p.same(&["SET", "k", "w", "NX"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "w", "XX"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "nope", "w", "XX"]);
    p.same(&["GET", "nope"]);
    // GET option
    p.same(&["SET", "k", "x", "GET"]);
    p.same(&["SET", "new", "x", "GET"]);
    p.same(&["SET", "k", "y", "NX", "GET"]);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "z", "XX", "GET"]);
    p.same(&["SET", "nope2", "z", "XX", "GET"]);
    p.same(&["EXISTS", "nope2"]);
    p.same(&["SET", "k", "g", "GET", "EX", "100"]);
    p.close_int(&["TTL", "k"], 1);
    // KEEPTTL
    p.same(&["SET", "k", "kt", "KEEPTTL"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["GET", "k"]);
    p.same(&["SET", "k", "kt2"]);
    p.same(&["TTL", "k"]);
    p.same(&["SET", "k", "kt3", "keepttl", "xx", "get"]);
    // invalid combinations -> syntax error
    p.same(&["SET", "k", "v", "NX", "XX"]);
    p.same(&["SET", "k", "v", "XX", "NX"]);
    p.same(&["SET", "k", "v", "EX", "10", "PX", "100"]);
    p.same(&["SET", "k", "v", "EX", "10", "KEEPTTL"]);
    p.same(&["SET", "k", "v", "KEEPTTL", "PX", "10"]);
    p.same(&["SET", "k", "v", "EXAT", "10", "PXAT", "10"]);
    // the same expire option twice is accepted in 7.0 (the last one wins)
    p.same(&["SET", "k", "v", "EX", "10", "EX", "10"]);
    p.same(&["SET", "k", "v", "EX", "10", "EX", "200"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["SET", "k", "v", "PX", "100000", "PX", "300000"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["SET", "k", "v", "EXAT", "4102444800", "EXAT", "4102444900"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["SET", "k", "v", "KEEPTTL", "KEEPTTL"]);
    p.same(&["EXPIRETIME", "k"]);
    p.same(&["SET", "k", "v", "XX", "XX"]);
    p.same(&["GETEX", "k", "EX", "10", "EX", "300"]);
    p.close_int(&["TTL", "k"], 1);
    p.same(&["GETEX", "k", "PERSIST", "PERSIST"]);
    p.same(&["TTL", "k"]);
    p.same(&["SET", "k", "v"]);
    p.same(&["SET", "k", "v", "NX", "NX"]);
    p.same(&["SET", "k", "v", "GET", "GET"]);
    p.same(&["SET", "k", "v", "FOO"]);
    p.same(&["SET", "k", "v", "EX"]);
    p.same(&["SET", "k", "v", "10"]);
    p.same(&["GET", "k"]);
});

diff_test!(setnx_setex_psetex, |p| {
    p.same(&["SETNX", "k", "1"]);
    p.same(&["SETNX", "k", "2"]);
    p.same(&["GET", "k"]);
    p.same(&["SETNX", "k"]);
    p.same(&["SETNX", "k", "1", "2"]);
    p.same(&["SETEX", "e", "100", "v"]);
    p.close_int(&["TTL", "e"], 1);
    p.same(&["GET", "e"]);
    p.same(&["SETEX", "e", "0", "v"]);
    p.same(&["SETEX", "e", "-5", "v"]);
    p.same(&["SETEX", "e", "abc", "v"]);
    p.same(&["SETEX", "e", "9223372036854775807", "v"]);
    p.same(&["SETEX", "e", "100"]);
    p.same(&["PSETEX", "pe", "100000", "v"]);
    p.close_int(&["PTTL", "pe"], 1000);
    p.same(&["GET", "pe"]);
    p.same(&["PSETEX", "pe", "0", "v"]);
    p.same(&["PSETEX", "pe", "-1", "v"]);
    p.same(&["PSETEX", "pe", "1.5", "v"]);
    p.same(&["PSETEX", "pe"]);
    p.same(&["GET", "pe"]);
});

diff_test!(mget_mset_msetnx, |p| {
    p.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    p.same(&["MGET", "a", "b", "c", "nope", "a"]);
    p.same(&["MGET", "nope"]);
    p.same(&["MGET"]);
    p.same(&["MSET", "a"]);
    p.same(&["MSET", "a", "1", "b"]);
    p.same(&["MSET"]);
    // duplicated keys: last wins
    p.same(&["MSET", "d", "1", "d", "2"]);
    p.same(&["GET", "d"]);
    p.same(&["MSETNX", "x", "1", "y", "2"]);
    p.same(&["MSETNX", "y", "3", "z", "4"]);
    p.same(&["MGET", "x", "y", "z"]);
    p.same(&["MSETNX", "x"]);
    p.same(&["MSETNX", "x", "1", "y"]);
    p.same(&["MSETNX"]);
    // MSET clears TTLs
    p.same(&["SET", "t", "v", "EX", "100"]);
    p.same(&["MSET", "t", "w"]);
    p.same(&["TTL", "t"]);
});

diff_test!(getset_getdel_getex, |p| {
    p.same(&["GETSET", "k", "1"]);
    p.same(&["GETSET", "k", "2"]);
    p.same(&["GET", "k"]);
    p.same(&["GETSET", "k"]);
    p.same(&["SET", "k", "v", "EX", "100"]);
    p.same(&["GETSET", "k", "w"]);
    p.same(&["TTL", "k"]);

    p.same(&["GETDEL", "k"]);
    p.same(&["GETDEL", "k"]);
    p.same(&["EXISTS", "k"]);
    p.same(&["GETDEL"]);
    p.same(&["GETDEL", "a", "b"]);

    p.same(&["GETEX", "nope"]);
    p.same(&["GETEX", "nope", "EX", "10"]);
    p.same(&["SET", "g", "v"]);
    p.same(&["GETEX", "g"]);
    p.same(&["TTL", "g"]);
    p.same(&["GETEX", "g", "EX", "100"]);
    p.close_int(&["TTL", "g"], 1);
    p.same(&["GETEX", "g", "PERSIST"]);
    p.same(&["TTL", "g"]);
    p.same(&["GETEX", "g", "PX", "100000"]);
    p.close_int(&["PTTL", "g"], 1000);
    p.same(&["GETEX", "g", "EXAT", "4102444800"]);
    p.same(&["EXPIRETIME", "g"]);
    p.same(&["GETEX", "g", "PXAT", "4102444800555"]);
    p.same(&["PEXPIRETIME", "g"]);
    p.same(&["GETEX", "g", "persist"]);
    p.same(&["PEXPIRETIME", "g"]);
    // errors
    for opt in ["EX", "PX", "EXAT", "PXAT"] {
        p.same(&["GETEX", "g", opt, "0"]);
        p.same(&["GETEX", "g", opt, "-1"]);
        p.same(&["GETEX", "g", opt, "x"]);
        p.same(&["GETEX", "g", opt]);
    }
    p.same(&["GETEX", "g", "EX", "10", "PX", "10"]);
    p.same(&["GETEX", "g", "EX", "10", "PERSIST"]);
    p.same(&["GETEX", "g", "PERSIST", "EX", "10"]);
    p.same(&["GETEX", "g", "FOO"]);
    p.same(&["GETEX", "g", "KEEPTTL"]);
    p.same(&["GETEX"]);
    p.same(&["TTL", "g"]);
    // past EXAT deletes
    p.same(&["GETEX", "g", "EXAT", "1"]);
    p.same(&["EXISTS", "g"]);
});

diff_test!(append_strlen, |p| {
    p.same(&["APPEND", "k", "hello"]);
    p.same(&["APPEND", "k", " world"]);
    p.same(&["GET", "k"]);
    p.same(&["STRLEN", "k"]);
    p.same(&["STRLEN", "nope"]);
    p.same(&["APPEND", "k", ""]);
    p.same(&["APPEND", "e", ""]);
    p.same(&["EXISTS", "e"]);
    p.same(&["GET", "e"]);
    p.same(&["SET", "n", "12"]);
    p.same(&["APPEND", "n", "34"]);
    p.same(&["INCR", "n"]);
    p.same(&["STRLEN", "n"]);
    p.same(&["APPEND", "k"]);
    p.same(&["APPEND"]);
    p.same(&["STRLEN"]);
    p.same(&["STRLEN", "a", "b"]);
    // APPEND keeps the TTL
    p.same(&["SET", "t", "a", "EX", "100"]);
    p.same(&["APPEND", "t", "b"]);
    p.close_int(&["TTL", "t"], 1);
});

diff_test!(getrange_setrange, |p| {
    p.same(&["SET", "k", "Hello World"]);
    for (s, e) in [
        ("0", "4"),
        ("-3", "-1"),
        ("0", "-1"),
        ("10", "100"),
        ("5", "3"),
        ("-100", "-50"),
        ("-100", "2"),
        ("0", "0"),
        ("11", "11"),
        ("-1", "-1"),
        ("3", "-100"),
        ("-5", "100"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "9223372036854775807"),
    ] {
        p.same(&["GETRANGE", "k", s, e]);
    }
    p.same(&["GETRANGE", "nope", "0", "-1"]);
    p.same(&["GETRANGE", "k", "a", "1"]);
    p.same(&["GETRANGE", "k", "0", "1.5"]);
    p.same(&["GETRANGE", "k", "0", "99999999999999999999"]);
    p.same(&["GETRANGE", "k", "0"]);
    p.same(&["SUBSTR", "k", "0", "3"]);
    p.same(&["SET", "num", "12345"]);
    p.same(&["GETRANGE", "num", "1", "2"]);
    p.same(&["SET", "empty", ""]);
    p.same(&["GETRANGE", "empty", "0", "-1"]);

    p.same(&["SETRANGE", "k", "6", "Redis"]);
    p.same(&["GET", "k"]);
    p.same(&["SETRANGE", "k", "20", "X"]); // zero padding
    p.same(&["GET", "k"]);
    p.same(&["SETRANGE", "new", "5", "abc"]);
    p.same(&["GET", "new"]);
    p.same(&["SETRANGE", "new2", "0", ""]);
    p.same(&["EXISTS", "new2"]);
    p.same(&["SETRANGE", "new3", "100", ""]);
    p.same(&["EXISTS", "new3"]);
    p.same(&["SETRANGE", "k", "0", ""]);
    p.same(&["SETRANGE", "k", "-1", "x"]);
    p.same(&["SETRANGE", "k", "abc", "x"]);
    // (the largest valid offset, 536870911, would allocate 512 MB on each server)
    p.same(&["SETRANGE", "k", "1000000", "x"]);
    p.same(&["STRLEN", "k"]);
    p.same(&["GETRANGE", "k", "999990", "-1"]);
    p.same(&["SETRANGE", "k", "536870912", "x"]);
    p.same(&["SETRANGE", "k", "536870912", ""]);
    p.same(&["SETRANGE", "k", "9223372036854775807", "x"]);
    p.same(&["SETRANGE", "k", "1"]);
    p.same(&["STRLEN", "k"]);
    // SETRANGE on an int-encoded value
    p.same(&["SET", "i", "100"]);
    p.same(&["SETRANGE", "i", "1", "9"]);
    p.same(&["GET", "i"]);
    p.same(&["INCR", "i"]);
});

diff_test!(incr_decr, |p| {
    p.same(&["INCR", "c"]);
    p.same(&["INCR", "c"]);
    p.same(&["DECR", "c"]);
    p.same(&["DECR", "d"]);
    p.same(&["INCRBY", "c", "10"]);
    p.same(&["INCRBY", "c", "-100"]);
    p.same(&["DECRBY", "c", "5"]);
    p.same(&["DECRBY", "c", "-5"]);
    p.same(&["GET", "c"]);
    // overflow
    p.same(&["SET", "big", "9223372036854775806"]);
    p.same(&["INCR", "big"]);
    p.same(&["INCR", "big"]);
    p.same(&["GET", "big"]);
    p.same(&["INCRBY", "big", "1"]);
    p.same(&["SET", "small", "-9223372036854775807"]);
    p.same(&["DECR", "small"]);
    p.same(&["DECR", "small"]);
    p.same(&["DECRBY", "small", "1"]);
    p.same(&["INCRBY", "small", "-1"]);
    p.same(&["SET", "z", "0"]);
    p.same(&["DECRBY", "z", "-9223372036854775808"]);
    p.same(&["INCRBY", "z", "-9223372036854775808"]);
    p.same(&["INCRBY", "z", "9223372036854775808"]);
    // non-integers
    for v in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "",
        "0x10",
        "+1",
        "01",
        "-0",
        "1e3",
        "99999999999999999999",
    ] {
        p.same(&["SET", "s", v]);
        p.same(&["INCR", "s"]);
        p.same(&["DECRBY", "s", "1"]);
        p.same(&["GET", "s"]);
    }
    p.same(&["INCRBY", "c", "abc"]);
    p.same(&["INCRBY", "c", "1.0"]);
    p.same(&["INCRBY", "c", ""]);
    p.same(&["DECRBY", "c", "x"]);
    // arity
    p.same(&["INCR"]);
    p.same(&["INCR", "a", "b"]);
    p.same(&["INCRBY", "c"]);
    p.same(&["DECRBY", "c", "1", "2"]);
    p.same(&["DECR"]);
    // INCR keeps the TTL
    p.same(&["SET", "t", "1", "EX", "100"]);
    p.same(&["INCR", "t"]);
    p.close_int(&["TTL", "t"], 1);
    // large-ish and negative values round-trip
    p.same(&["SET", "n", "-9223372036854775808"]);
    p.same(&["INCR", "n"]);
    p.same(&["SET", "n", "9223372036854775807"]);
    p.same(&["DECR", "n"]);
});

diff_test!(incrbyfloat_formatting, |p| {
    p.same(&["SET", "f", "10.50"]);
    p.same(&["INCRBYFLOAT", "f", "0.1"]);
    p.same(&["INCRBYFLOAT", "f", "-5"]);
    p.same(&["GET", "f"]);
    p.same(&["SET", "g", "5.0e3"]);
    p.same(&["INCRBYFLOAT", "g", "2.0e2"]);
    p.same(&["INCRBYFLOAT", "g", "3.0e3"]);
    p.same(&["INCRBYFLOAT", "h", "5.0e3"]);
    p.same(&["INCRBYFLOAT", "h", "1.5"]);
    p.same(&["INCRBYFLOAT", "i", "3"]);
    p.same(&["INCRBYFLOAT", "i", "-3"]);
    p.same(&["GET", "i"]);
    p.same(&["INCRBYFLOAT", "j", "0.1"]);
    p.same(&["INCRBYFLOAT", "j", "0.2"]);
    p.same(&["INCRBYFLOAT", "j", "-0.3"]);
    p.same(&["INCRBYFLOAT", "k", "1e-10"]);
    p.same(&["INCRBYFLOAT", "k2", "-1e-20"]);
    p.same(&["INCRBYFLOAT", "l", "123456789012345678"]);
    p.same(&["INCRBYFLOAT", "l", "1"]);
    p.same(&["INCRBYFLOAT", "m", "1.7976931348623157e308"]);
    p.same(&["INCRBYFLOAT", "m", "1.7976931348623157e308"]);
    p.same(&["INCRBYFLOAT", "m2", "1e300"]);
    p.same(&["INCRBYFLOAT", "m3", "-1e300"]);
    p.same(&["INCRBYFLOAT", "m4", "3.14159265358979323846"]);
    p.same(&["INCRBYFLOAT", "m5", "0x10"]);
    p.same(&["INCRBYFLOAT", "m6", " 1"]);
    p.same(&["INCRBYFLOAT", "m7", "1."]);
    p.same(&["INCRBYFLOAT", "m8", ".5"]);
    p.same(&["INCRBYFLOAT", "m9", "-0"]);
    p.same(&["INCRBYFLOAT", "m10", "+2.5"]);
    p.same(&["INCRBYFLOAT", "m11", "1e5"]);
    p.same(&["INCRBYFLOAT", "m12", "100000000000000000000000000000"]);
    // integers stay integers
    p.same(&["SET", "n", "17"]);
    p.same(&["INCRBYFLOAT", "n", "0.5"]);
    p.same(&["INCRBYFLOAT", "n", "0.5"]);
    p.same(&["INCR", "n"]);
    // inf / nan
    p.same(&["INCRBYFLOAT", "f", "inf"]);
    p.same(&["INCRBYFLOAT", "f", "-inf"]);
    p.same(&["INCRBYFLOAT", "f", "+inf"]);
    p.same(&["INCRBYFLOAT", "f", "nan"]);
    p.same(&["INCRBYFLOAT", "f", "NaN"]);
    p.same(&["INCRBYFLOAT", "f", "infinity"]);
    p.same(&["SET", "infv", "inf"]);
    p.same(&["INCRBYFLOAT", "infv", "1"]);
    p.same(&["SET", "nanv", "nan"]);
    p.same(&["INCRBYFLOAT", "nanv", "1"]);
    // non-floats
    p.same(&["INCRBYFLOAT", "f", "abc"]);
    p.same(&["INCRBYFLOAT", "f", ""]);
    p.same(&["INCRBYFLOAT", "f", "1.5x"]);
    p.same(&["SET", "s", "abc"]);
    p.same(&["INCRBYFLOAT", "s", "1"]);
    p.same(&["SET", "s", "1.5 "]);
    p.same(&["INCRBYFLOAT", "s", "1"]);
    p.same(&["INCRBYFLOAT", "f"]);
    p.same(&["INCRBYFLOAT", "f", "1", "2"]);
    p.same(&["GET", "f"]);
    // INCR on a float value
    p.same(&["INCR", "f"]);
    // values with NUL bytes are not numbers
    p.same(&["SETRANGE", "nul", "1", "a"]);
    p.same(&["INCRBYFLOAT", "nul", "0.1"]);
    p.same(&["INCR", "nul"]);
    p.same(&[&b"SET"[..], &b"nul2"[..], &b"1\x002"[..]]);
    p.same(&["INCRBYFLOAT", "nul2", "1"]);
    p.same(&["INCRBY", "nul2", "1"]);
    p.same(&[&b"SET"[..], &b"nul3"[..], &b"1.5\x00"[..]]);
    p.same(&["INCRBYFLOAT", "nul3", "1"]);
    p.same(&[&b"INCRBYFLOAT"[..], &b"nul4"[..], &b"1\x00"[..]]);
    p.same(&[&b"INCRBY"[..], &b"nul4"[..], &b"1\x00"[..]]);
    // INCRBYFLOAT keeps the TTL
    p.same(&["SET", "t", "1.5", "EX", "100"]);
    p.same(&["INCRBYFLOAT", "t", "1"]);
    p.close_int(&["TTL", "t"], 1);
});

diff_test!(incrbyfloat_many_values, |p| {
    let incs = [
        "0.1",
        "0.01",
        "-0.001",
        "1.23456789",
        "1e10",
        "-1e10",
        "7",
        "2.5e-5",
        "1000000.5",
        "0.3333333333333333",
        "-7.77",
        "12345.6789",
        "1e17",
        "1e-17",
        "99.99",
    ];
    for (i, start) in ["0", "1", "-1", "3.0", "10.5", "1e3", "0.1"]
        .iter()
        .enumerate()
    {
        let key = format!("f{i}");
        p.same(&["SET", &key, start]);
        for inc in incs {
            p.same(&["INCRBYFLOAT", &key, inc]);
        }
        p.same(&["GET", &key]);
    }
});

diff_test!(setbit_getbit, |p| {
    p.same(&["SETBIT", "b", "7", "1"]);
    p.same(&["SETBIT", "b", "7", "0"]);
    p.same(&["SETBIT", "b", "7", "1"]);
    p.same(&["GET", "b"]);
    p.same(&["GETBIT", "b", "7"]);
    p.same(&["GETBIT", "b", "6"]);
    p.same(&["GETBIT", "b", "100000"]);
    p.same(&["GETBIT", "nope", "0"]);
    p.same(&["SETBIT", "b", "100", "1"]);
    p.same(&["STRLEN", "b"]);
    p.same(&["GET", "b"]);
    p.same(&["SETBIT", "b", "0", "2"]);
    p.same(&["SETBIT", "b", "0", "-1"]);
    p.same(&["SETBIT", "b", "0", "x"]);
    p.same(&["SETBIT", "b", "-1", "1"]);
    p.same(&["SETBIT", "b", "x", "1"]);
    // (the largest valid offset, 4294967295, would allocate 512 MB on each server)
    p.same(&["SETBIT", "b", "8000000", "1"]);
    p.same(&["STRLEN", "b"]);
    p.same(&["BITCOUNT", "b"]);
    p.same(&["SETBIT", "b", "4294967296", "1"]);
    p.same(&["GETBIT", "b", "-1"]);
    p.same(&["GETBIT", "b", "x"]);
    p.same(&["GETBIT", "b", "4294967296"]);
    p.same(&["GETBIT", "b", "4294967295"]);
    p.same(&["SETBIT", "b", "1"]);
    p.same(&["GETBIT", "b"]);
    p.same(&["SET", "s", "A"]);
    p.same(&["SETBIT", "s", "6", "1"]);
    p.same(&["GET", "s"]);
    p.same(&["SET", "n", "1"]);
    p.same(&["SETBIT", "n", "6", "1"]);
    p.same(&["GET", "n"]);
});

diff_test!(bitcount_bitpos, |p| {
    p.same(&["SET", "s", "foobar"]);
    p.same(&["BITCOUNT", "s"]);
    p.same(&["BITCOUNT", "s", "0", "0"]);
    p.same(&["BITCOUNT", "s", "1", "1"]);
    p.same(&["BITCOUNT", "s", "1", "-2"]);
    p.same(&["BITCOUNT", "s", "-100", "100"]);
    p.same(&["BITCOUNT", "s", "5", "1"]);
    p.same(&["BITCOUNT", "s", "0", "0", "BYTE"]);
    p.same(&["BITCOUNT", "s", "5", "30", "BIT"]);
    p.same(&["BITCOUNT", "s", "-9", "-1", "bit"]);
    p.same(&["BITCOUNT", "s", "0", "-1", "BIT"]);
    p.same(&["BITCOUNT", "s", "0", "1000", "BIT"]);
    p.same(&["BITCOUNT", "s", "0", "0", "FOO"]);
    p.same(&["BITCOUNT", "s", "0"]);
    p.same(&["BITCOUNT", "s", "a", "1"]);
    p.same(&["BITCOUNT", "s", "0", "1", "BIT", "x"]);
    p.same(&["BITCOUNT", "nope"]);
    p.same(&["BITCOUNT", "nope", "0", "-1"]);
    p.same(&["BITCOUNT", "nope", "0", "x"]);
    p.same(&["BITCOUNT"]);

    p.same(&["SET", "z", "\u{0}\u{0}\u{0}"]);
    p.same(&[&b"SET"[..], &b"m"[..], &b"\xff\xf0\x00"[..]]);
    for key in ["z", "m", "s", "nope"] {
        p.same(&["BITPOS", key, "0"]);
        p.same(&["BITPOS", key, "1"]);
        p.same(&["BITPOS", key, "1", "1"]);
        p.same(&["BITPOS", key, "0", "1"]);
        p.same(&["BITPOS", key, "1", "2", "-1"]);
        p.same(&["BITPOS", key, "0", "0", "-1"]);
        p.same(&["BITPOS", key, "0", "1", "1"]);
        p.same(&["BITPOS", key, "1", "7", "15", "BIT"]);
        p.same(&["BITPOS", key, "0", "7", "15", "BIT"]);
        p.same(&["BITPOS", key, "0", "-3", "-1", "BYTE"]);
        p.same(&["BITPOS", key, "1", "-100", "100"]);
        p.same(&["BITPOS", key, "1", "5", "1"]);
    }
    p.same(&[&b"SET"[..], &b"ff"[..], &b"\xff\xff"[..]]);
    p.same(&["BITPOS", "ff", "0"]);
    p.same(&["BITPOS", "ff", "0", "0"]);
    p.same(&["BITPOS", "ff", "0", "0", "-1"]);
    p.same(&["BITPOS", "ff", "0", "0", "-1", "BIT"]);
    p.same(&["BITPOS", "s", "2"]);
    p.same(&["BITPOS", "s", "x"]);
    p.same(&["BITPOS", "s", "1", "x"]);
    p.same(&["BITPOS", "s", "1", "0", "1", "FOO"]);
    p.same(&["BITPOS", "s"]);
});

diff_test!(bitop, |p| {
    p.same(&["SET", "a", "foobar"]);
    p.same(&["SET", "b", "abcdef"]);
    p.same(&[&b"SET"[..], &b"c"[..], &b"\xff\x0f"[..]]);
    for op in ["AND", "OR", "XOR", "and", "Or"] {
        p.same(&["BITOP", op, "dest", "a", "b"]);
        p.same(&["GET", "dest"]);
        p.same(&["BITOP", op, "dest", "a", "c"]); // different lengths
        p.same(&["GET", "dest"]);
        p.same(&["BITOP", op, "dest", "c", "a", "nope"]);
        p.same(&["GET", "dest"]);
        p.same(&["BITOP", op, "dest", "a"]);
        p.same(&["GET", "dest"]);
    }
    p.same(&["BITOP", "NOT", "dest", "a"]);
    p.same(&["GET", "dest"]);
    p.same(&["BITOP", "NOT", "dest", "c"]);
    p.same(&["GET", "dest"]);
    p.same(&["BITOP", "NOT", "dest", "a", "b"]);
    p.same(&["BITOP", "NOT", "dest"]);
    // missing sources: empty result deletes dest
    p.same(&["SET", "dest", "x"]);
    p.same(&["BITOP", "AND", "dest", "nope1", "nope2"]);
    p.same(&["EXISTS", "dest"]);
    p.same(&["SET", "dest", "x"]);
    p.same(&["BITOP", "NOT", "dest", "nope"]);
    p.same(&["EXISTS", "dest"]);
    p.same(&["BITOP", "NAND", "dest", "a"]);
    p.same(&["BITOP", "AND", "dest"]);
    p.same(&["BITOP", "AND"]);
    p.same(&["BITOP"]);
    // dest had a TTL: BITOP replaces the key
    p.same(&["SET", "t", "x", "EX", "100"]);
    p.same(&["BITOP", "OR", "t", "a"]);
    p.same(&["TTL", "t"]);
});

diff_test!(integer_and_string_edge_values, |p| {
    // values that look numeric but are stored verbatim
    for v in [
        "007",
        "-0",
        "1.0",
        "+5",
        " 5",
        "5 ",
        "1e2",
        "0x1f",
        "-",
        "9223372036854775808",
    ] {
        p.same(&["SET", "k", v]);
        p.same(&["GET", "k"]);
        p.same(&["STRLEN", "k"]);
        p.same(&["APPEND", "k", "1"]);
        p.same(&["GET", "k"]);
    }
    // a large value
    let big = "x".repeat(100_000);
    p.same(&["SET", "big", &big]);
    p.same(&["STRLEN", "big"]);
    p.same(&["GETRANGE", "big", "99990", "-1"]);
    p.same(&["APPEND", "big", "yz"]);
    p.same(&["GETRANGE", "big", "-3", "-1"]);
});
