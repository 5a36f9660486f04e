//! `ferry schema apply|rollback|status` over a whole keyspace, from the
//! command line, on a real redis-server, a real 3-master Redis Cluster, a
//! running ferry and a ferry store file: a 1.0.0 -> 2.0.0 -> 3.0.0 chain
//! over JSON-string and hash keys while a writer keeps updating some of
//! them (no acknowledged write lost, every key at 3.0.0), a dry run that
//! writes nothing, values that are not JSON reported and left alone,
//! rollback byte for byte with the same expiry times, and a run killed
//! with SIGKILL half-way that resumes.

mod common;

use common::{FerryOpts, FerryProc, RedisProc};
use ferry_migrate::endpoint::{Conn, Endpoint, Spec};
use redis::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The schema directory: `user` (JSON strings) and `profile` (hashes),
/// three versions each, chained by reversible migrations.
fn schema_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "schemas/user/1.0.0.json",
        r#"{"name": "user", "version": "1.0.0", "keyPattern": "user:*", "storage": "json-string",
      "fields": {"userName": {"type": "string", "required": true}, "age": {"type": "integer"}, "visits": {"type": "integer", "required": true}}}"#,
    );
    write(p, "schemas/user/2.0.0.yaml", "name: user\nversion: 2.0.0\nkeyPattern: user:*\nstorage: json-string\nfields:\n  fullName: {type: string, required: true}\n  age: {type: integer}\n  visits: {type: integer, required: true}\n  createdAt: {type: string, format: date-time, required: true}\n");
    write(
        p,
        "schemas/user/3.0.0.json",
        r#"{"name": "user", "version": "3.0.0", "keyPattern": "user:*", "storage": "json-string",
      "fields": {"firstName": {"type": "string", "required": true}, "lastName": {"type": "string", "required": true},
                 "age": {"type": "integer"}, "visits": {"type": "integer", "required": true},
                 "createdAt": {"type": "string", "format": "date-time", "required": true}}}"#,
    );
    write(
        p,
        "migrations/user/v1_to_v2.json",
        r#"{"source": "1.0.0", "target": "2.0.0", "transforms": [
      {"type": "renameField", "from": "userName", "to": "fullName"},
      {"type": "addField", "field": "createdAt", "defaultValue": "${NOW}"}]}"#,
    );
    write(p, "migrations/user/v2_to_v3.yaml", "source: 2.0.0\ntarget: 3.0.0\ntransforms:\n  - type: splitField\n    from: fullName\n    to: [firstName, lastName]\n    separator: ' '\n");
    write(
        p,
        "schemas/profile/1.0.0.json",
        r#"{"name": "profile", "version": "1.0.0", "keyPattern": "profile:*", "storage": "hash",
      "fields": {"name": {"type": "string", "required": true}, "age": {"type": "integer"}, "visits": {"type": "integer", "required": true}}}"#,
    );
    write(
        p,
        "schemas/profile/2.0.0.json",
        r#"{"name": "profile", "version": "2.0.0", "keyPattern": "profile:*", "storage": "hash",
      "fields": {"displayName": {"type": "string", "required": true}, "age": {"type": "integer"},
                 "visits": {"type": "integer", "required": true}, "plan": {"type": "string", "enum": ["free", "paid"], "required": true}}}"#,
    );
    write(
        p,
        "schemas/profile/3.0.0.json",
        r#"{"name": "profile", "version": "3.0.0", "keyPattern": "profile:*", "storage": "hash",
      "fields": {"displayName": {"type": "string", "required": true}, "ageYears": {"type": "integer"},
                 "visits": {"type": "integer", "required": true}, "plan": {"type": "string", "required": true},
                 "home": {"type": "string", "required": true}}}"#,
    );
    write(
        p,
        "migrations/profile/p1.json",
        r#"{"source": "1.0.0", "target": "2.0.0", "transforms": [
      {"type": "renameField", "from": "name", "to": "displayName"},
      {"type": "addField", "field": "plan", "defaultValue": "free"}]}"#,
    );
    write(
        p,
        "migrations/profile/p2.json",
        r#"{"source": "2.0.0", "target": "3.0.0", "transforms": [
      {"type": "renameField", "from": "age", "to": "ageYears"},
      {"type": "addField", "field": "home", "defaultValue": "/u/${KEY}"}]}"#,
    );
    d
}

/// `ferry schema ARGS --dir DIR --target TARGET`: (exit code, stdout + stderr).
fn schema(dir: &Path, target: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(common::ferry_binary())
        .arg("schema")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .arg("--target")
        .arg(target)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn connect(target: &str) -> (Endpoint, Conn) {
    let e = Endpoint::connect(Spec::parse(target).unwrap())
        .await
        .unwrap();
    let c = e.data(0).await.unwrap();
    (e, c)
}

fn user_key(i: usize) -> Vec<u8> {
    format!("user:{i}").into_bytes()
}

fn profile_key(i: usize) -> Vec<u8> {
    format!("profile:{i}").into_bytes()
}

/// Writes `n` keys of each schema at 1.0.0 (every 7th with an expiry),
/// plus three `user:` values that are not JSON objects.
async fn seed(conn: &mut Conn, n: usize) {
    for start in (0..n).step_by(1000) {
        let pipes: Vec<redis::Pipeline> = (start..(start + 1000).min(n))
            .flat_map(|i| {
                let mut a = redis::pipe();
                a.cmd("SET").arg(user_key(i)).arg(format!(
                    r#"{{"userName":"First{i} Last{i}","age":{},"visits":0}}"#,
                    i % 90
                ));
                let mut b = redis::pipe();
                b.cmd("HSET")
                    .arg(profile_key(i))
                    .arg("name")
                    .arg(format!("P{i}"))
                    .arg("age")
                    .arg(i % 70)
                    .arg("visits")
                    .arg(0);
                if i % 7 == 0 {
                    a.cmd("PEXPIRE").arg(user_key(i)).arg(3_600_000 + i);
                    b.cmd("PEXPIRE").arg(profile_key(i)).arg(7_200_000 + i);
                }
                [a, b]
            })
            .collect();
        for r in conn.per_key(&pipes).await.unwrap() {
            let r = r.unwrap();
            assert!(
                !r.iter().any(|v| matches!(v, Value::ServerError(_))),
                "{r:?}"
            );
        }
    }
    let bad = [
        ("user:bad-text", "not json at all"),
        ("user:bad-array", "[1,2,3]"),
        ("user:bad-cut", r#"{"userName":"Cut"#),
    ];
    for (k, v) in bad {
        conn.cmd(redis::cmd("SET").arg(k).arg(v)).await.unwrap();
    }
}

/// A key's value (a hash's fields sorted) and its expiry time.
#[derive(Clone, Debug, PartialEq)]
enum Stored {
    Text(Vec<u8>),
    Fields(Vec<(Vec<u8>, Vec<u8>)>),
}

type Snapshot = HashMap<Vec<u8>, (Stored, i64)>;

async fn snapshot(conn: &mut Conn, keys: &[Vec<u8>]) -> Snapshot {
    let mut out = HashMap::new();
    for chunk in keys.chunks(1000) {
        let pipes: Vec<redis::Pipeline> = chunk
            .iter()
            .map(|k| {
                let mut p = redis::pipe();
                if k.starts_with(b"profile:") {
                    p.cmd("HGETALL").arg(k);
                } else {
                    p.cmd("GET").arg(k);
                }
                p.cmd("PEXPIRETIME").arg(k);
                p
            })
            .collect();
        for (k, r) in chunk.iter().zip(conn.per_key(&pipes).await.unwrap()) {
            let r = r.unwrap();
            let value = match &r[0] {
                Value::BulkString(b) => Stored::Text(b.clone()),
                Value::Array(items) => {
                    let mut f: Vec<(Vec<u8>, Vec<u8>)> = items
                        .chunks(2)
                        .map(|p| match p {
                            [Value::BulkString(a), Value::BulkString(b)] => (a.clone(), b.clone()),
                            other => panic!("{other:?}"),
                        })
                        .collect();
                    f.sort();
                    Stored::Fields(f)
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(k)),
            };
            let Value::Int(at) = r[1] else {
                panic!("{r:?}")
            };
            out.insert(k.clone(), (value, at));
        }
    }
    out
}

const BUMP: &str = r#"
local v = redis.call('GET', KEYS[1])
local n = -1
local s = string.gsub(v, '"visits":(%d+)', function(d) n = tonumber(d) + 1; return '"visits":' .. n end)
redis.call('SET', KEYS[1], s, 'KEEPTTL')
return n"#;

/// An application that keeps updating `visits` of some keys (a
/// shape-independent read-modify-write on the JSON text, HINCRBY on the
/// hashes) until told to stop; returns the acknowledged count per key.
fn writer(
    target: String,
    keys: Vec<Vec<u8>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<HashMap<Vec<u8>, i64>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (e, mut conn) = connect(&target).await;
            let mut acked: HashMap<Vec<u8>, i64> = HashMap::new();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) && rounds < 100_000 {
                rounds += 1;
                let pipes: Vec<redis::Pipeline> = keys
                    .iter()
                    .map(|k| {
                        let mut p = redis::pipe();
                        if k.starts_with(b"profile:") {
                            p.cmd("HINCRBY").arg(k).arg("visits").arg(1);
                        } else {
                            p.cmd("EVAL").arg(BUMP).arg(1).arg(k);
                        }
                        p
                    })
                    .collect();
                for (k, r) in keys.iter().zip(conn.per_key(&pipes).await.unwrap()) {
                    match r.as_deref() {
                        Ok([Value::Int(n)]) if *n >= 0 => *acked.entry(k.clone()).or_default() += 1,
                        other => panic!("writer: {}: {other:?}", String::from_utf8_lossy(k)),
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            e.close().await;
            acked
        })
    })
}

fn json_of(s: &Stored) -> serde_json::Map<String, serde_json::Value> {
    match s {
        Stored::Text(b) => serde_json::from_slice(b).unwrap(),
        Stored::Fields(f) => f
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect(),
    }
}

/// Every `user:` key is at 3.0.0 with the writer's increments, and kept
/// its expiry.
fn check_users_v3(n: usize, now: &Snapshot, before: &Snapshot, acked: &HashMap<Vec<u8>, i64>) {
    for i in 0..n {
        let k = user_key(i);
        let u = json_of(&now[&k].0);
        let want_visits = acked.get(&k).copied().unwrap_or(0);
        assert_eq!(
            u.get("firstName"),
            Some(&format!("First{i}").into()),
            "{u:?}"
        );
        assert_eq!(u.get("lastName"), Some(&format!("Last{i}").into()), "{u:?}");
        assert!(
            u.get("createdAt")
                .and_then(|c| c.as_str())
                .is_some_and(|c| c.ends_with('Z')),
            "{u:?}"
        );
        assert!(
            !u.contains_key("userName") && !u.contains_key("fullName"),
            "{u:?}"
        );
        assert_eq!(
            u.get("visits"),
            Some(&want_visits.into()),
            "user:{i} lost a write: {u:?}"
        );
        assert_eq!(now[&k].1, before[&k].1, "user:{i} expiry changed");
    }
}

/// The same for the `profile:` hashes.
fn check_profiles_v3(n: usize, now: &Snapshot, before: &Snapshot, acked: &HashMap<Vec<u8>, i64>) {
    for i in 0..n {
        let p = profile_key(i);
        let h = json_of(&now[&p].0);
        let want_visits = acked.get(&p).copied().unwrap_or(0).to_string();
        assert_eq!(h.get("displayName"), Some(&format!("P{i}").into()), "{h:?}");
        assert_eq!(
            h.get("ageYears"),
            Some(&(i % 70).to_string().into()),
            "{h:?}"
        );
        assert_eq!(h.get("plan"), Some(&"free".into()));
        assert_eq!(h.get("home"), Some(&format!("/u/profile:{i}").into()));
        assert_eq!(
            h.get("visits"),
            Some(&want_visits.into()),
            "profile:{i} lost a write: {h:?}"
        );
        assert!(!h.contains_key("name") && !h.contains_key("age"), "{h:?}");
        assert_eq!(now[&p].1, before[&p].1, "profile:{i} expiry changed");
    }
}

/// After rollback: untouched keys byte for byte as before, written ones
/// back at 1.0.0 with the writer's increments; expiry times unchanged.
fn check_rolled_back(now: &Snapshot, before: &Snapshot, acked: &HashMap<Vec<u8>, i64>) {
    for (key, (value, at)) in before {
        let shown = String::from_utf8_lossy(key);
        assert_eq!(now[key].1, *at, "{shown}: expiry not restored");
        match acked.get(key) {
            None => assert_eq!(&now[key].0, value, "{shown}: not restored byte for byte"),
            Some(n) => {
                let mut want = json_of(value);
                let got = json_of(&now[key].0);
                let n = if key.starts_with(b"profile:") {
                    serde_json::Value::String(n.to_string())
                } else {
                    (*n).into()
                };
                want.insert("visits".into(), n);
                assert_eq!(
                    got, want,
                    "{shown}: the writer's updates were lost on the way back"
                );
            }
        }
    }
}

/// The whole scenario on one target.
async fn chain_under_a_writer(target: &str, n: usize) {
    let dir = schema_dir();
    let d = dir.path();
    let (e, mut conn) = connect(target).await;
    seed(&mut conn, n).await;
    let mut keys: Vec<Vec<u8>> = (0..n).flat_map(|i| [user_key(i), profile_key(i)]).collect();
    for b in ["user:bad-text", "user:bad-array", "user:bad-cut"] {
        keys.push(b.as_bytes().to_vec());
    }
    let before = snapshot(&mut conn, &keys).await;

    // A dry run writes nothing and shows samples and the failures.
    let (code, out) = schema(d, target, &["apply", "user", "--to", "3.0.0", "--dry-run"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("DRY RUN, nothing written"), "{out}");
    assert!(out.contains(&format!("{} changed", n)), "{out}");
    assert!(
        out.contains("samples (nothing was written):") && out.contains("\"firstName\":\"First"),
        "{out}"
    );
    assert!(
        out.contains("user:bad-text: the value is not JSON (line 1, column 2"),
        "{out}"
    );
    assert!(
        out.contains("user:bad-array: the value is JSON but not an object"),
        "{out}"
    );
    assert!(out.contains("user:bad-cut: the value is not JSON"), "{out}");
    assert_eq!(
        snapshot(&mut conn, &keys).await,
        before,
        "the dry run wrote something"
    );
    let (_, out) = schema(d, target, &["status", "user"]);
    assert!(
        out.contains("user: nothing applied on this target"),
        "{out}"
    );

    // plan: the path, the keys, an estimate.
    let (code, out) = schema(d, target, &["plan", "user", "--to", "3.0.0"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("step 1: v1_to_v2 (Forward) 1.0.0 -> 2.0.0, 2 transform(s), reversible"),
        "{out}"
    );
    assert!(
        out.contains("step 2: v2_to_v3 (Forward) 2.0.0 -> 3.0.0"),
        "{out}"
    );
    assert!(out.contains("estimated time:"), "{out}");

    // The real runs, with a writer on 200 keys of each schema.
    let hot: Vec<Vec<u8>> = (0..n)
        .step_by(n / 200)
        .flat_map(|i| [user_key(i), profile_key(i)])
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(target.to_string(), hot.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let (code, out) = schema(
        d,
        target,
        &["apply", "user", "--to", "3.0.0", "--batch", "100"],
    );
    assert_eq!(code, Some(1), "3 keys are not JSON: {out}");
    assert!(
        out.contains(&format!("{} changed", n)) || out.contains("re-read"),
        "{out}"
    );
    assert!(out.contains("3 failed"), "{out}");
    let (code, out2) = schema(d, target, &["apply", "profile"]);
    assert_eq!(code, Some(0), "{out2}");
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(
        acked.values().all(|&c| c > 0),
        "the writer never got through: {acked:?}"
    );
    let after = snapshot(&mut conn, &keys).await;
    check_users_v3(n, &after, &before, &acked);
    check_profiles_v3(n, &after, &before, &acked);
    for b in ["user:bad-text", "user:bad-array", "user:bad-cut"] {
        assert_eq!(after[b.as_bytes()], before[b.as_bytes()], "{b} was touched");
    }
    let (_, status) = schema(d, target, &["status", "user"]);
    assert!(status.contains("user: at 3.0.0"), "{status}");
    assert!(
        status.contains("applied: run user-") && status.contains("(1.0.0 -> 3.0.0)"),
        "{status}"
    );
    assert!(
        status.contains("event=started") && status.contains("event=finished"),
        "{status}"
    );
    // Running again: nothing to do.
    let (code, again) = schema(d, target, &["apply", "user", "--to", "3.0.0"]);
    assert_eq!(
        (
            code,
            again.contains("user is already at 3.0.0: nothing to do")
        ),
        (Some(0), true),
        "{again}"
    );

    // Rollback, while the writer goes on.
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(target.to_string(), hot.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let (code, out) = schema(d, target, &["rollback", "user"]);
    assert_eq!(code, Some(1), "the 3 bad keys fail again: {out}");
    let (code, out2) = schema(d, target, &["rollback", "profile"]);
    assert_eq!(code, Some(0), "{out2}");
    stop.store(true, Ordering::Relaxed);
    let more = w.join().unwrap();
    let mut total = acked.clone();
    for (k, c) in more {
        *total.entry(k).or_default() += c;
    }
    let back = snapshot(&mut conn, &keys).await;
    check_rolled_back(&back, &before, &total);
    let (_, status) = schema(d, target, &["status", "user"]);
    assert!(status.contains("user: at 1.0.0"), "{status}");
    let (code, out) = schema(d, target, &["rollback", "user"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("nothing to roll back"), "{out}");
    e.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_redis_server_under_a_writer() {
    let redis = RedisProc::start(&[]);
    chain_under_a_writer(&format!("redis://127.0.0.1:{}", redis.port()), 50_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_a_redis_cluster_under_a_writer() {
    let cluster = common::cluster::RedisCluster::start();
    chain_under_a_writer(&cluster.url(), 50_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_ferry_under_a_writer() {
    let ferry = FerryProc::start(FerryOpts::default());
    chain_under_a_writer(&format!("redis://127.0.0.1:{}", ferry.port()), 50_000).await;
}

/// A ferry store file as the target (opened in-process by the tool), then
/// served again: the keys are at 3.0.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_a_ferry_store_file() {
    let mut ferry = FerryProc::start(FerryOpts::default());
    let url = format!("redis://127.0.0.1:{}", ferry.port());
    let n = 2000;
    {
        let (e, mut conn) = connect(&url).await;
        seed(&mut conn, n).await;
        e.close().await;
    }
    ferry.stop();
    let dir = schema_dir();
    let file = ferry.data_path().display().to_string();
    let (code, out) = schema(dir.path(), &file, &["apply", "profile", "--to", "3.0.0"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{n} changed")), "{out}");
    ferry.restart();
    let (e, mut conn) = connect(&url).await;
    let keys: Vec<Vec<u8>> = (0..n).map(profile_key).collect();
    let now = snapshot(&mut conn, &keys).await;
    for i in 0..n {
        let h = json_of(&now[&profile_key(i)].0);
        assert_eq!(
            h.get("home"),
            Some(&format!("/u/profile:{i}").into()),
            "{h:?}"
        );
    }
    e.close().await;
    ferry.stop();
    let (code, out) = schema(dir.path(), &file, &["status", "profile"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("profile: at 3.0.0"), "{out}");
}

/// SIGKILL half-way, then the same command resumes; the backup, appended
/// across both processes, still rolls every key back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_and_still_rolls_back_exactly() {
    let redis = RedisProc::start(&[]);
    let target = format!("redis://127.0.0.1:{}", redis.port());
    let n = 50_000;
    let dir = schema_dir();
    let d = dir.path();
    let (e, mut conn) = connect(&target).await;
    seed(&mut conn, n).await;
    conn.cmd(
        redis::cmd("DEL")
            .arg("user:bad-text")
            .arg("user:bad-array")
            .arg("user:bad-cut"),
    )
    .await
    .unwrap();
    let keys: Vec<Vec<u8>> = (0..n).map(user_key).collect();
    let before = snapshot(&mut conn, &keys).await;
    let mut child = Command::new(common::ferry_binary())
        .args([
            "schema",
            "apply",
            "user",
            "--max-rps",
            "10000",
            "--batch",
            "100",
            "--dir",
        ])
        .arg(d)
        .arg("--target")
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has done some keys.
    let started = Instant::now();
    loop {
        let state = conn
            .cmd(
                redis::cmd("HGET")
                    .arg("__ferry:schema:{user}")
                    .arg("counts"),
            )
            .await
            .unwrap();
        let scanned = match state {
            Value::BulkString(b) => serde_json::from_slice::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| v["scanned"].as_u64())
                .unwrap_or(0),
            _ => 0,
        };
        if scanned >= 10_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    common::kill_child(&mut child);
    let (_, status) = schema(d, &target, &["status", "user"]);
    assert!(status.contains("in progress: Apply run user-"), "{status}");
    // Another run of another version is refused while this one is unfinished.
    let (code, out) = schema(d, &target, &["apply", "user", "--to", "2.0.0"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("was not finished: `ferry schema apply user --to 3.0.0` resumes it"),
        "{out}"
    );
    let (code, out) = schema(d, &target, &["apply", "user"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(", resumed)"), "{out}");
    let after = snapshot(&mut conn, &keys).await;
    check_users_v3(n, &after, &before, &HashMap::new());
    let (code, out) = schema(d, &target, &["rollback", "user"]);
    assert_eq!(code, Some(0), "{out}");
    let back = snapshot(&mut conn, &keys).await;
    let changed: BTreeMap<String, String> = back
        .iter()
        .filter(|(k, v)| before[*k] != **v)
        .take(3)
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), format!("{v:?}")))
        .collect();
    assert!(changed.is_empty(), "not restored: {changed:?}");
    e.close().await;
}

/// Bad files, unknown versions, cycles, irreversible steps, a bad target:
/// each a clear error naming the file (and line) or the version, exit 2
/// (3 and up for a target that cannot be reached), nothing written.
#[test]
fn errors_name_the_file_the_version_or_the_target() {
    let redis = RedisProc::start(&[]);
    let target = format!("redis://127.0.0.1:{}", redis.port());
    let mut c = redis.connect();
    c.cmd(&["SET", "user:1", r#"{"userName":"A B","visits":0}"#]);
    let dir = schema_dir();
    let d = dir.path();
    let expect = |args: &[&str], code: i32, needle: &str| {
        let (got, out) = schema(d, &target, args);
        assert_eq!(got, Some(code), "{args:?}: {out}");
        assert!(
            out.contains(needle),
            "{args:?}: wanted {needle:?} in:\n{out}"
        );
    };
    expect(
        &["apply", "user", "--to", "9.9.9"],
        2,
        "unknown version 9.9.9: no migration starts or ends there (known: 1.0.0, 2.0.0, 3.0.0)",
    );
    expect(
        &["apply", "user", "--to", "three"],
        2,
        "--to 'three' is not a version",
    );
    expect(&["apply", "nobody"], 2, "no schema 'nobody' in");
    // A manual path that comes back to a version it passed.
    write(
        d,
        "migrations/user/v2_to_v1.json",
        r#"{"source": "2.0.0", "target": "1.0.0", "transforms": [
      {"type": "renameField", "from": "fullName", "to": "userName"}]}"#,
    );
    write(
        d,
        "migrations/user/paths.json",
        r#"{"1.0.0": {"3.0.0": ["v1_to_v2", "v2_to_v1", "v1_to_v2", "v2_to_v3"]}}"#,
    );
    expect(
        &["apply", "user"],
        2,
        "paths 1.0.0 -> 3.0.0: the path comes back to 1.0.0 (a cycle)",
    );
    std::fs::remove_file(d.join("migrations/user/paths.json")).unwrap();
    std::fs::remove_file(d.join("migrations/user/v2_to_v1.json")).unwrap();
    // A step with no inverse is refused unless asked for.
    write(d, "migrations/user/v2_to_v3.yaml", "source: 2.0.0\ntarget: 3.0.0\ntransforms:\n  - type: setIf\n    field: tier\n    value: gold\n    where: {field: visits, equals: 0}\n");
    expect(
        &["apply", "user", "--dry-run"],
        2,
        "step 'v2_to_v3' cannot be undone (transform 1 (\"setIf\") has no inverse); pass --allow-irreversible",
    );
    write(d, "migrations/user/v2_to_v3.yaml", "source: 2.0.0\ntarget: 3.0.0\ntransforms:\n  - type: splitField\n    from: fullName\n    to: [firstName, lastName]\n    separator: ' '\n");
    // A malformed schema file: file, line and column.
    let good = std::fs::read_to_string(d.join("schemas/user/3.0.0.json")).unwrap();
    write(d, "schemas/user/3.0.0.json", "{\"name\": \"user\",\n \"version\": \"3.0.0\",\n \"keyPattern\": \"user:*\"\n \"storage\": \"json-string\"}");
    expect(
        &["apply", "user", "--to", "3.0.0"],
        2,
        "3.0.0.json:4:2: expected `,` or `}`",
    );
    write(d, "schemas/user/3.0.0.json", &good);
    // A field schema the validator cannot read.
    write(d, "schemas/user/2.0.0.yaml", "name: user\nversion: 2.0.0\nkeyPattern: user:*\nstorage: json-string\nfields:\n  fullName: {type: text}\n");
    expect(
        &["apply", "user", "--to", "3.0.0"],
        2,
        "schema user 2.0.0: its fields are not a valid JSON Schema",
    );
    // A malformed migration file.
    write(
        d,
        "migrations/user/v1_to_v2.json",
        r#"{"source": "1.0.0", "target": "2.0.0", "transforms": [{"type": "renameFeld"}]}"#,
    );
    expect(&["plan", "user"], 2, "v1_to_v2.json:1:");
    // Nothing was written by any of these.
    assert_eq!(
        common::parse_one(&c.cmd(&["GET", "user:1"]))
            .as_str()
            .unwrap(),
        r#"{"userName":"A B","visits":0}"#
    );
    assert_eq!(
        common::parse_one(&c.cmd(&["EXISTS", "__ferry:schema:{user}"])).as_int(),
        Some(0)
    );
    // A target that is not there.
    let port = common::free_port();
    let (got, out) = schema(d, &format!("redis://127.0.0.1:{port}"), &["status", "user"]);
    assert_eq!(got, Some(3), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    // A backup file that is not one.
    let junk = d.join("junk.bak");
    std::fs::write(&junk, "hello").unwrap();
    let (got, out) = schema(d, &target, &["restore", &junk.display().to_string()]);
    assert_eq!(got, Some(2), "{out}");
    assert!(out.contains("is not a ferry schema backup"), "{out}");
}

/// `infer` drafts a schema from live values that loads back and validates
/// them; a `lua` transform runs through apply and rollback; a Lua syntax
/// error is reported with the migration file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infer_drafts_a_schema_and_lua_transforms_run() {
    let redis = RedisProc::start(&[]);
    let target = format!("redis://127.0.0.1:{}", redis.port());
    let (e, mut conn) = connect(&target).await;
    seed(&mut conn, 300).await;
    for i in 0..300 {
        conn.cmd(
            redis::cmd("HSET")
                .arg(format!("acct:{i}"))
                .arg("balance")
                .arg(format!("{}.5", i))
                .arg("active")
                .arg(if i % 2 == 0 { "true" } else { "false" })
                .arg("since")
                .arg("2026-01-02T03:04:05Z"),
        )
        .await
        .unwrap();
    }
    let dir = schema_dir();
    let d = dir.path();
    let (code, out) = schema(
        d,
        &target,
        &["infer", "--pattern", "acct:*", "--sample", "200"],
    );
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "name: acct",
        "version: 1.0.0",
        "keyPattern: acct:*",
        "storage: hash",
        "active:",
        "type: boolean",
        "balance:",
        "type: number",
        "format: date-time",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    assert!(
        out.contains("read 200 values under 'acct:*' as Hash"),
        "{out}"
    );
    let (code, out) = schema(
        d,
        &target,
        &[
            "infer",
            "--pattern",
            "user:*",
            "--name",
            "user",
            "--format",
            "json",
            "--out",
            &d.join("user-draft.json").display().to_string(),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("skipped 3 that are not documents"), "{out}");
    let draft: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("user-draft.json")).unwrap()).unwrap();
    assert_eq!(draft["fields"]["userName"]["type"], "string", "{draft}");
    assert_eq!(draft["fields"]["userName"]["required"], true, "{draft}");
    assert_eq!(draft["fields"]["age"]["type"], "integer", "{draft}");

    // A lua step 3.0.0 -> 4.0.0: initials from the names.
    write(
        d,
        "schemas/user/4.0.0.json",
        r#"{"name": "user", "version": "4.0.0", "keyPattern": "user:*", "storage": "json-string",
      "fields": {"firstName": {"type": "string", "required": true}, "initials": {"type": "string", "pattern": "^[A-Z]{2}$", "required": true}}}"#,
    );
    write(
        d,
        "migrations/user/v3_to_v4.json",
        r#"{"source": "3.0.0", "target": "4.0.0", "transforms": [
      {"type": "lua", "script": "doc.initials = doc.firstName:sub(1,1) .. doc.lastName:sub(1,1)", "inverse": "doc.initials = nil"}]}"#,
    );
    for k in ["user:bad-text", "user:bad-array", "user:bad-cut"] {
        conn.cmd(redis::cmd("DEL").arg(k)).await.unwrap();
    }
    let (code, out) = schema(d, &target, &["apply", "user", "--to", "4.0.0"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = match conn.cmd(redis::cmd("GET").arg("user:42")).await.unwrap() {
        Value::BulkString(b) => serde_json::from_slice(&b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(v["initials"], "FL", "{v}");
    let (code, out) = schema(d, &target, &["rollback", "user"]);
    assert_eq!(code, Some(0), "{out}");
    match conn.cmd(redis::cmd("GET").arg("user:42")).await.unwrap() {
        Value::BulkString(b) => assert_eq!(
            String::from_utf8_lossy(&b),
            r#"{"userName":"First42 Last42","age":42,"visits":0}"#
        ),
        other => panic!("{other:?}"),
    }
    // A Lua syntax error names the file and the transform.
    write(
        d,
        "migrations/user/v3_to_v4.json",
        r#"{"source": "3.0.0", "target": "4.0.0", "transforms": [
      {"type": "lua", "script": "doc.initials = = 1"}]}"#,
    );
    let (code, out) = schema(d, &target, &["plan", "user", "--to", "4.0.0"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("v3_to_v4.json: transform 1: lua transform:"),
        "{out}"
    );
    e.close().await;
}

/// Values of several megabytes go through (batches shrink to keep the
/// memory in flight bounded), byte for byte back on rollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_are_migrated_and_rolled_back() {
    let redis = RedisProc::start(&[]);
    let target = format!("redis://127.0.0.1:{}", redis.port());
    let (e, mut conn) = connect(&target).await;
    let blob = "x".repeat(6 << 20);
    let mut keys = Vec::new();
    for i in 0..6 {
        let k = user_key(i);
        conn.cmd(redis::cmd("SET").arg(&k).arg(format!(
            r#"{{"userName":"Big {i}","visits":{i},"blob":"{blob}"}}"#
        )))
        .await
        .unwrap();
        keys.push(k);
    }
    let before = snapshot(&mut conn, &keys).await;
    let dir = schema_dir();
    let (code, out) = schema(dir.path(), &target, &["apply", "user", "--to", "3.0.0"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("6 changed"), "{out}");
    let after = snapshot(&mut conn, &keys).await;
    for i in 0..6 {
        let v = json_of(&after[&user_key(i)].0);
        assert_eq!(v["firstName"], "Big");
        assert_eq!(v["blob"].as_str().map(str::len), Some(6 << 20));
    }
    let (code, out) = schema(dir.path(), &target, &["rollback", "user"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(snapshot(&mut conn, &keys).await, before);
    e.close().await;
}

/// `--strict` stops at the first key that fails and leaves the run
/// recorded; once the data is fixed the same command resumes and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_stops_at_a_failure_and_the_same_command_resumes() {
    let redis = RedisProc::start(&[]);
    let target = format!("redis://127.0.0.1:{}", redis.port());
    let (e, mut conn) = connect(&target).await;
    seed(&mut conn, 3000).await;
    let keys: Vec<Vec<u8>> = (0..3000).map(user_key).collect();
    let before = snapshot(&mut conn, &keys).await;
    let dir = schema_dir();
    let d = dir.path();
    let (code, out) = schema(d, &target, &["apply", "user", "--strict", "--batch", "50"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("stopped: --strict:"), "{out}");
    let (_, status) = schema(d, &target, &["status", "user"]);
    assert!(status.contains("in progress: Apply run user-"), "{status}");
    // Fixed: one repaired, the others removed.
    for k in ["user:bad-text", "user:bad-array", "user:bad-cut"] {
        conn.cmd(redis::cmd("DEL").arg(k)).await.unwrap();
    }
    conn.cmd(
        redis::cmd("SET")
            .arg("user:bad-text")
            .arg(r#"{"userName":"Fixed Key","visits":0}"#),
    )
    .await
    .unwrap();
    let (code, out) = schema(d, &target, &["apply", "user", "--strict"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(", resumed)") && out.contains("0 failed"),
        "{out}"
    );
    let now = snapshot(&mut conn, &keys).await;
    check_users_v3(3000, &now, &before, &HashMap::new());
    let fixed = snapshot(&mut conn, &[b"user:bad-text".to_vec()]).await;
    let fixed = json_of(&fixed[b"user:bad-text".as_slice()].0);
    assert_eq!(fixed.get("firstName"), Some(&"Fixed".into()), "{fixed:?}");
    // `restore FILE` (the last resort) puts every backed-up key back as
    // it was, with its expiry, from the run's backup (written across both
    // processes).
    let backup = out
        .lines()
        .find_map(|l| l.strip_prefix("backup: "))
        .expect("apply names its backup")
        .to_string();
    let (code, restored) = schema(d, &target, &["restore", &backup]);
    assert_eq!(code, Some(0), "{restored}");
    assert!(restored.contains("restored 3001 keys"), "{restored}");
    assert_eq!(snapshot(&mut conn, &keys).await, before);
    e.close().await;
}
