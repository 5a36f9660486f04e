//! `ferry schema` (issue 11, in progress): one batch of keys migrated on a
//! real redis-server and a real ferry — JSON strings and hashes, TTLs
//! kept, a concurrent write between the read and the write never
//! overwritten, dry runs that write nothing, values that cannot be
//! migrated left untouched with the reason.

mod common;

use common::{FerryOpts, FerryProc, RawConn, RedisProc};
use ferry_migrate::endpoint::{Endpoint, Spec};
use ferry_schema::backup::{self, Saved};
use ferry_schema::batch::{restore, run, Plan, Stage};
use ferry_schema::model::{SchemaFile, Storage};
use ferry_schema::transform::Transform;
use ferry_schema::validate::Check;
use serde_json::{json, Value};

fn transforms() -> Vec<Transform> {
    serde_json::from_value(json!([
        {"type": "renameField", "from": "userName", "to": "fullName"},
        {"type": "addField", "field": "createdAt", "defaultValue": "${NOW}"}
    ]))
    .unwrap()
}

/// Version 2.0.0: `fullName` required.
fn needs_full_name(storage: Storage) -> Check {
    let s: SchemaFile = serde_json::from_value(json!({
        "name": "user", "version": "2.0.0", "keyPattern": "*",
        "storage": if storage == Storage::Hash { "hash" } else { "json-string" },
        "fields": {"fullName": {"type": "string", "required": true}}
    }))
    .unwrap();
    Check::new(&s).unwrap()
}

/// A command's bulk reply as text.
fn text(c: &mut RawConn, args: &[&str]) -> String {
    let r = common::parse_one(&c.cmd(args));
    String::from_utf8_lossy(&r.as_bytes().unwrap_or_default()).into_owned()
}

async fn exercise(port: u16) {
    let mut c = RawConn::connect(port);
    for i in 0..20 {
        c.cmd(&[
            "SET",
            &format!("user:{i}"),
            &format!(r#"{{"userName":"Ada {i}","age":{i}}}"#),
        ]);
        c.cmd(&[
            "HSET",
            &format!("h:{i}"),
            "userName",
            &format!("Ada {i}"),
            "age",
            &i.to_string(),
        ]);
    }
    c.cmd(&["PEXPIRE", "user:3", "100000"]);
    c.cmd(&["PEXPIRE", "h:3", "100000"]);
    c.cmd(&["SET", "user:bad", "not json"]);
    c.cmd(&["SET", "user:noname", r#"{"age":1}"#]);
    let endpoint = Endpoint::connect(Spec::parse(&format!("redis://127.0.0.1:{port}")).unwrap())
        .await
        .unwrap();
    let mut conn = endpoint.data(0).await.unwrap();
    let ts = transforms();
    for (storage, prefix) in [(Storage::JsonString, "user"), (Storage::Hash, "h")] {
        let check = needs_full_name(storage);
        let stages = [Stage {
            transforms: std::borrow::Cow::Borrowed(ts.as_slice()),
            check: &check,
        }];
        let plan = Plan {
            storage,
            stages: &stages,
            source: None,
            exact: None,
            irreversible: None,
            now: "2026-12-01T10:00:00Z",
        };
        let mut keys: Vec<Vec<u8>> = (0..20)
            .map(|i| format!("{prefix}:{i}").into_bytes())
            .collect();
        keys.push(format!("{prefix}:gone").into_bytes());
        if storage == Storage::JsonString {
            keys.push(b"user:bad".to_vec());
            keys.push(b"user:noname".to_vec());
        }
        // A dry run reports and writes nothing.
        let dry = run(&mut conn, &plan, &keys, true, |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(dry.changed.len(), 20);
        if storage == Storage::JsonString {
            assert_eq!(
                text(&mut c, &["GET", "user:0"]),
                r#"{"userName":"Ada 0","age":0}"#
            );
        } else {
            assert_eq!(text(&mut c, &["HGET", "h:0", "userName"]), "Ada 0");
        }
        // The real run; an application writes key 1 between the read and the write.
        let mut app = RawConn::connect(port);
        let before: Vec<(Vec<u8>, Vec<u8>)> = (0..20)
            .map(|i| {
                let k = format!("{prefix}:{i}");
                (c.cmd(&["DUMP", &k]), c.cmd(&["PEXPIRETIME", &k]))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup");
        let mut file = backup::Backup::open(&path, false).unwrap();
        let out = run(&mut conn, &plan, &keys, false, |originals| {
            assert_eq!(originals.len(), 20);
            let saved: Vec<Saved> = originals.iter().map(|(o, _)| Saved::from(o)).collect();
            file.append(&saved).unwrap();
            if storage == Storage::JsonString {
                app.cmd(&["SET", "user:1", r#"{"userName":"Changed","age":99}"#]);
            } else {
                app.cmd(&["HSET", "h:1", "age", "99"]);
            }
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(out.changed.len(), 19, "{out:?}");
        assert_eq!(out.conflicts, vec![format!("{prefix}:1").into_bytes()]);
        file.void(&out.conflicts).unwrap();
        assert_eq!(out.gone, 1);
        if storage == Storage::JsonString {
            let reasons: Vec<String> = out
                .failed
                .iter()
                .map(|(k, r)| format!("{}: {r}", String::from_utf8_lossy(k)))
                .collect();
            assert_eq!(
                reasons,
                vec![
                    "user:bad: the value is not JSON (line 1, column 2: expected ident)"
                        .to_string(),
                    "user:noname: after the migration, not valid for user 2.0.0: /: \"fullName\" is a required property".to_string(),
                ]
            );
            assert_eq!(text(&mut c, &["GET", "user:bad"]), "not json");
            let v: Value = serde_json::from_str(&text(&mut c, &["GET", "user:0"])).unwrap();
            assert_eq!(
                v,
                json!({"fullName": "Ada 0", "age": 0, "createdAt": "2026-12-01T10:00:00Z"})
            );
            // The concurrent write won.
            assert_eq!(
                text(&mut c, &["GET", "user:1"]),
                r#"{"userName":"Changed","age":99}"#
            );
        } else {
            assert!(out.failed.is_empty(), "{:?}", out.failed);
            let all = c.cmd_parsed(&["HGETALL", "h:0"]);
            let mut pairs: Vec<String> = all
                .elements()
                .unwrap()
                .iter()
                .map(|e| String::from_utf8_lossy(&e.as_bytes().unwrap()).into_owned())
                .collect();
            pairs.sort();
            assert_eq!(
                pairs,
                vec![
                    "0",
                    "2026-12-01T10:00:00Z",
                    "Ada 0",
                    "age",
                    "createdAt",
                    "fullName"
                ]
            );
            assert_eq!(text(&mut c, &["HGET", "h:1", "age"]), "99");
        }
        // TTLs are kept.
        let ttl = common::parse_one(&c.cmd(&["PTTL", &format!("{prefix}:3")]))
            .as_int()
            .unwrap();
        assert!(ttl > 90_000, "{prefix}:3 lost its TTL: {ttl}");
        // Running again changes nothing more (re-reading key 1 migrates it).
        let again = run(&mut conn, &plan, &keys, false, |originals| {
            let saved: Vec<Saved> = originals.iter().map(|(o, _)| Saved::from(o)).collect();
            file.append(&saved).unwrap();
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(again.changed.len(), 1, "{again:?}");
        assert_eq!(again.unchanged, 19);
        // Restoring the backup puts every key back byte for byte, with the
        // same expiry time; key 1 as the application left it (its record
        // from the first run was voided: the second run saved its original).
        let saved = backup::originals(backup::read(&path).unwrap());
        assert_eq!(saved.len(), 20);
        let failed = restore(&mut conn, &saved).await.unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        for (i, (dump, expire)) in before.iter().enumerate() {
            let k = format!("{prefix}:{i}");
            if i == 1 {
                continue;
            }
            assert_eq!(
                &c.cmd(&["DUMP", &k]),
                dump,
                "{k} not restored byte for byte"
            );
            assert_eq!(&c.cmd(&["PEXPIRETIME", &k]), expire, "{k} expiry");
        }
        if storage == Storage::JsonString {
            assert_eq!(
                text(&mut c, &["GET", "user:1"]),
                r#"{"userName":"Changed","age":99}"#
            );
        }
    }
    endpoint.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_on_redis_server() {
    let redis = RedisProc::start(&[]);
    exercise(redis.port()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_on_ferry() {
    let ferry = FerryProc::start(FerryOpts::default());
    exercise(ferry.port()).await;
}
