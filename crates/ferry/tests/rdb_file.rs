//! Whole RDB files (issue 12's `ferry sync` reads what a master sends):
//! a real redis-server saves keys of every type and encoding, with
//! expiry times, several databases and a function library; ferry-rdb
//! reads the file back, and each key's object, wrapped as a DUMP payload,
//! is byte for byte what `DUMP` of that key answers. Damage, a newer
//! version and module values are refused with a clear error.

mod common;

use common::RedisProc;
use ferry_rdb::file::{dump_payload, FileError, Item, RdbFile};
use std::collections::BTreeMap;

fn bytes(c: &mut common::RawConn, args: &[&str]) -> Vec<u8> {
    common::parse_one(&c.cmd(args))
        .as_bytes()
        .unwrap_or_default()
}

fn int(c: &mut common::RawConn, args: &[&str]) -> i64 {
    common::parse_one(&c.cmd(args)).as_int().unwrap_or(i64::MIN)
}

/// Keys of every type, small (compact encodings) and big (the others).
fn fill(c: &mut common::RawConn) {
    c.cmd(&["SET", "s:int", "12345"]);
    c.cmd(&["SET", "s:short", "hello"]);
    c.cmd(&["SET", "s:long", &"x".repeat(100)]);
    c.cmd(&["SET", "s:compressible", &"ab".repeat(5000)]);
    c.cmd(&["SET", "s:ttl", "v", "PX", "86400000"]);
    c.cmd(&["RPUSH", "l:small", "a", "1", "b"]);
    for i in 0..300 {
        c.cmd(&[
            "RPUSH",
            "l:big",
            &format!("element-{i}-{}", "y".repeat(i % 50)),
        ]);
    }
    c.cmd(&["HSET", "h:small", "f", "v", "n", "1"]);
    for i in 0..200 {
        c.cmd(&["HSET", "h:big", &format!("field{i}"), &"z".repeat(i)]);
    }
    c.cmd(&["SADD", "set:ints", "1", "2", "3"]);
    c.cmd(&["SADD", "set:strs", "a", "b"]);
    for i in 0..600 {
        c.cmd(&["SADD", "set:big", &format!("m{i}")]);
    }
    c.cmd(&["ZADD", "z:small", "1", "a", "2.5", "b"]);
    for i in 0..200 {
        c.cmd(&["ZADD", "z:big", &format!("{i}.25"), &format!("member-{i}")]);
    }
    c.cmd(&["ZADD", "z:inf", "inf", "top", "-inf", "bottom"]);
    for i in 0..50 {
        c.cmd(&["XADD", "x:stream", "*", "n", &i.to_string()]);
    }
    c.cmd(&["XGROUP", "CREATE", "x:stream", "g1", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "5",
        "STREAMS",
        "x:stream",
        ">",
    ]);
    c.cmd(&["PFADD", "hll", "a", "b", "c"]);
    c.cmd(&["SETBIT", "bits", "1000", "1"]);
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=rdblib\nredis.register_function('rdbf', function() return 1 end)",
    ]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "db3:key", "in three"]);
    c.cmd(&["SELECT", "0"]);
}

#[test]
fn every_type_reads_back_as_dump_would_write_it() {
    let redis = RedisProc::start(&[]);
    let mut c = redis.connect();
    fill(&mut c);
    assert_eq!(
        common::parse_one(&c.cmd(&["SAVE"])).as_str().as_deref(),
        Some("OK")
    );
    let data = std::fs::read(redis.dir().join("dump.rdb")).unwrap();
    let mut file = RdbFile::new(&data).unwrap();
    assert_eq!(file.version, 10, "redis-server 7.0 writes RDB 10");
    let mut keys = BTreeMap::new();
    let mut aux = BTreeMap::new();
    let mut functions = Vec::new();
    let mut dbs = Vec::new();
    while let Some(item) = file.next_item().unwrap() {
        match item {
            Item::Aux(k, v) => {
                aux.insert(String::from_utf8_lossy(&k).into_owned(), v);
            }
            Item::SelectDb(db) => dbs.push(db),
            Item::Function(code) => functions.push(String::from_utf8_lossy(&code).into_owned()),
            Item::Key(k) => {
                keys.insert(
                    (k.db, k.name.clone()),
                    (k.kind, k.object.to_vec(), k.expire_at_ms),
                );
            }
        }
    }
    assert!(aux.contains_key("redis-ver"), "{aux:?}");
    assert_eq!(dbs, vec![0, 3]);
    assert_eq!(functions.len(), 1);
    assert!(functions[0].contains("name=rdblib"), "{functions:?}");
    let names: Vec<&str> = vec![
        "s:int",
        "s:short",
        "s:long",
        "s:compressible",
        "s:ttl",
        "l:small",
        "l:big",
        "h:small",
        "h:big",
        "set:ints",
        "set:strs",
        "set:big",
        "z:small",
        "z:big",
        "z:inf",
        "x:stream",
        "hll",
        "bits",
    ];
    assert_eq!(
        keys.len(),
        names.len() + 1,
        "{:?}",
        keys.keys().collect::<Vec<_>>()
    );
    for name in names {
        let (kind, object, expire) = &keys[&(0, name.as_bytes().to_vec())];
        let payload = dump_payload(*kind, object, 10);
        assert_eq!(
            payload,
            bytes(&mut c, &["DUMP", name]),
            "{name}: the file's object differs from DUMP"
        );
        let at = int(&mut c, &["PEXPIRETIME", name]);
        assert_eq!(expire.unwrap_or(-1), at, "{name}: expiry");
        // And it decodes.
        ferry_rdb::restore(&payload).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let (kind, object, _) = &keys[&(3, b"db3:key".to_vec())];
    assert_eq!(
        ferry_rdb::restore(&dump_payload(*kind, object, 10)).unwrap(),
        ferry_rdb::Value::String(b"in three".to_vec())
    );
}

#[test]
fn damage_new_versions_and_module_values_are_refused() {
    let redis = RedisProc::start(&[]);
    let mut c = redis.connect();
    fill(&mut c);
    c.cmd(&["SAVE"]);
    let data = std::fs::read(redis.dir().join("dump.rdb")).unwrap();
    let read_all = |d: &[u8]| -> Result<usize, FileError> {
        let mut f = RdbFile::new(d)?;
        let mut n = 0;
        while f.next_item()?.is_some() {
            n += 1;
        }
        Ok(n)
    };
    assert!(read_all(&data).unwrap() > 18);
    // A flipped byte inside a string value: the checksum says so.
    let at = data
        .windows(5)
        .position(|w| w == b"hello")
        .expect("the short string is in the file");
    let mut flipped = data.clone();
    flipped[at] ^= 0x20;
    assert_eq!(read_all(&flipped), Err(FileError::Checksum));
    // Cut short.
    let e = read_all(&data[..data.len() / 2]).unwrap_err();
    assert!(matches!(e, FileError::Damaged { .. }), "{e}");
    // Not RDB, and a version from the future.
    assert_eq!(read_all(b"hello world").unwrap_err(), FileError::NotRdb);
    let mut newer = data.clone();
    newer[5..9].copy_from_slice(b"0012");
    let e = read_all(&newer).unwrap_err();
    assert_eq!(e, FileError::Version(12));
    assert!(e.to_string().contains("versions 9 to 11"), "{e}");
    // A module value (type 7) under key "m".
    let mut module = b"REDIS0010".to_vec();
    module.extend_from_slice(&[0xFE, 0x00, 0x07, 0x01, b'm', 0x81, 0x00]);
    let e = read_all(&module).unwrap_err();
    assert_eq!(
        e,
        FileError::Module {
            key: "m".into(),
            kind: 7
        }
    );
    assert!(
        e.to_string().contains("key 'm' holds a module value"),
        "{e}"
    );
}
