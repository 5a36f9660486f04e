//! `ferry migrate` against real servers: live migrations between standalone
//! Redis, a 3-master Redis Cluster and ferry stores, with a writer mutating
//! the source during tracking and bulk copy; crash and restart of the bulk
//! copy and of the tracker; and the errors a user gets for bad input.
//!
//! Each live test ends with `verify --full` and an independent comparison
//! (`common::dataset::diff`), both of which must find nothing.

mod common;

use common::cluster::RedisCluster;
use common::dataset::{diff, key_count, seed, Target, Writer};
use common::{FerryOpts, FerryProc, RedisProc};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any single `ferry migrate` command may take in these tests.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

fn ferry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.env("RUST_LOG", "info");
    c
}

/// Runs `ferry migrate ARGS` to completion (bounded) and returns its output.
fn migrate(args: &[&str]) -> Output {
    let mut child = spawn(args);
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "ferry migrate {args:?} did not finish in {COMMAND_TIMEOUT:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait")
}

fn spawn(args: &[&str]) -> Child {
    ferry()
        .arg("migrate")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferry")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = migrate(args);
    assert!(
        o.status.success(),
        "ferry migrate {args:?} failed:\n{}",
        text(&o)
    );
    text(&o)
}

/// Runs a command expected to fail with `code`, and returns its stderr.
#[track_caller]
fn fails(args: &[&str], code: i32, needle: &str) -> String {
    let o = migrate(args);
    let all = text(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "ferry migrate {args:?}: wrong exit code\n{all}"
    );
    assert!(
        all.contains(needle),
        "ferry migrate {args:?}: expected {needle:?} in the output\n{all}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    // One line that says what to do, not a panic or a backtrace.
    assert!(!err.contains("panicked"), "{all}");
    all
}

/// A child process stopped by pid when dropped.
struct Proc(Option<Child>);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// Waits (bounded) for the process to exit by itself.
    fn wait(&mut self, within: Duration) -> Output {
        let mut c = self.0.take().expect("process already gone");
        let deadline = Instant::now() + within;
        while c.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = c.kill();
                let out = c.wait_with_output().expect("wait");
                panic!("process did not exit in {within:?}:\n{}", text(&out));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        c.wait_with_output().expect("wait")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One migration run as the command line names it: its id, endpoints and
/// registry file. Builds the argument lists every test would repeat.
struct Run {
    id: String,
    from: String,
    to: String,
    state: String,
}

impl Run {
    /// A run whose `--state` registry lives in `dir`.
    fn new(id: &str, from: &str, to: &str, dir: &tempfile::TempDir) -> Run {
        let state = dir
            .path()
            .join("state.db")
            .to_str()
            .expect("utf8 path")
            .to_string();
        Run {
            id: id.into(),
            from: from.into(),
            to: to.into(),
            state,
        }
    }

    /// `CMD --run-id ID --from FROM --to TO --state STATE EXTRA...`
    fn args<'a>(&'a self, cmd: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            cmd,
            "--run-id",
            &self.id,
            "--from",
            &self.from,
            "--to",
            &self.to,
            "--state",
            &self.state,
        ];
        a.extend_from_slice(extra);
        a
    }

    /// `CMD --run-id ID --to TO --state STATE`: the commands that only
    /// need the registry (status, pause, resume, abort, track-stop).
    fn registry_args<'a>(&'a self, cmd: &'a str) -> Vec<&'a str> {
        vec![
            cmd,
            "--run-id",
            &self.id,
            "--to",
            &self.to,
            "--state",
            &self.state,
        ]
    }

    #[track_caller]
    fn ok(&self, cmd: &str, extra: &[&str]) -> String {
        ok(&self.args(cmd, extra))
    }

    #[track_caller]
    fn fails(&self, cmd: &str, extra: &[&str], code: i32, needle: &str) -> String {
        fails(&self.args(cmd, extra), code, needle)
    }

    fn spawn(&self, cmd: &str, extra: &[&str]) -> Proc {
        Proc(Some(spawn(&self.args(cmd, extra))))
    }

    /// pause, resume, abort, track-stop.
    #[track_caller]
    fn steer(&self, cmd: &str) -> String {
        ok(&self.registry_args(cmd))
    }

    #[track_caller]
    fn status(&self) -> String {
        ok(&self.registry_args("status"))
    }

    /// Waits until `status` shows `needle` (bounded).
    #[track_caller]
    fn wait_status(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        let args = self.registry_args("status");
        loop {
            // The run may not exist yet (its creator is still starting).
            let s = text(&migrate(&args));
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "status never showed {needle:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `verify --full` finds nothing.
    #[track_caller]
    fn verify_full_is_clean(&self) {
        let out = self.ok("verify", &["--full"]);
        assert!(out.contains(" 0 mismatches"), "{out}");
    }
}

/// The independent comparison finds nothing.
#[track_caller]
fn same_data(a: &Target, b: &Target) {
    let d = diff(a, b, 1500);
    assert!(
        d.is_empty(),
        "independent comparison found differences:\n{}",
        d.join("\n")
    );
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ferry-migrate-test-")
        .tempdir()
        .expect("tempdir")
}

fn redis_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A source with keyspace notifications on, as `track` needs them.
fn redis_with_notifications() -> RedisProc {
    RedisProc::start(&["--notify-keyspace-events", "KEA"])
}

/// The live flow of the issue: tracker, writer, bulk, a live delta, writes
/// stop, final delta, verify --full, and an independent comparison.
fn live_migration(
    src: &Target,
    from: &str,
    to: &str,
    dst_check: impl FnOnce() -> Target,
    extra_track: &[&str],
) {
    let dir = tempdir();
    let run = Run::new("live", from, to, &dir);
    seed(src, 2000, 11);
    let mut tracker = run.spawn("track", extra_track);
    run.wait_status("tracker:    running", Duration::from_secs(20));
    let writer = Writer::start(src.clone(), 5);
    std::thread::sleep(Duration::from_millis(300));
    run.ok("bulk", &["--max-concurrency", "4", "--batch-keys", "200"]);
    run.ok("apply-dirty", &[]);
    std::thread::sleep(Duration::from_millis(500));
    let ops = writer.stop();
    assert!(ops > 50, "the writer did only {ops} operations");
    // Let the tracker record the last events, then the final delta.
    std::thread::sleep(Duration::from_millis(500));
    let out = run.ok("apply-dirty", &[]);
    assert!(out.contains("0 still dirty"), "{out}");
    run.steer("track-stop");
    let t = tracker.wait(Duration::from_secs(20));
    assert!(t.status.success(), "tracker: {}", text(&t));
    let s = run.status();
    assert!(s.contains("bulk:       done"), "{s}");
    run.verify_full_is_clean();
    let dst = dst_check();
    same_data(src, &dst);
    assert!(key_count(&dst) > 1000);
}

#[test]
fn standalone_to_standalone_live() {
    let src = redis_with_notifications();
    let dst = RedisProc::start(&[]);
    let (from, to) = (redis_url(src.port()), redis_url(dst.port()));
    live_migration(
        &Target::Single(src.port(), 0),
        &from,
        &to,
        || Target::Single(dst.port(), 0),
        &[],
    );
}

#[test]
fn standalone_to_cluster_live() {
    let src = redis_with_notifications();
    let cluster = RedisCluster::start();
    let from = redis_url(src.port());
    let to = cluster.url();
    let ports = cluster.ports().to_vec();
    live_migration(
        &Target::Single(src.port(), 0),
        &from,
        &to,
        || Target::Cluster(ports),
        &[],
    );
}

#[test]
fn cluster_to_standalone_live() {
    let cluster = RedisCluster::start();
    let dst = RedisProc::start(&[]);
    let from = cluster.url();
    let to = redis_url(dst.port());
    let src = Target::Cluster(cluster.ports().to_vec());
    // The cluster starts with notifications off: the tracker turns them on
    // on every master and restores them when it stops.
    live_migration(
        &src,
        &from,
        &to,
        || Target::Single(dst.port(), 0),
        &["--enable-notifications"],
    );
    for p in cluster.ports() {
        let mut c = common::RawConn::connect(*p);
        let v = q(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]);
        let flags = v
            .elements()
            .and_then(|e| e.get(1))
            .and_then(|f| f.as_str())
            .unwrap_or_default();
        assert_eq!(flags, "", "notify-keyspace-events not restored on {p}");
    }
}

#[test]
fn standalone_to_ferry_store_live() {
    let src = redis_with_notifications();
    // A ferry data file nobody serves: migrate opens it in-process.
    let mut ferry = FerryProc::start(FerryOpts::default());
    ferry.stop();
    let path = ferry.data_path().to_path_buf();
    let from = redis_url(src.port());
    let to = path.to_str().expect("utf8").to_string();
    let srct = Target::Single(src.port(), 0);
    live_migration(
        &srct,
        &from,
        &to,
        || {
            ferry.restart();
            Target::Single(ferry.port(), 0)
        },
        &[],
    );
}

#[test]
fn ferry_store_to_standalone_live() {
    // The source file is served by `ferry serve` while we migrate: the
    // migration reaches it through the server (hand-off file).
    let ferry = FerryProc::start(FerryOpts::default());
    let mut c = ferry.connect();
    q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let dst = RedisProc::start(&[]);
    let from = ferry.data_path().to_str().expect("utf8").to_string();
    let to = redis_url(dst.port());
    live_migration(
        &Target::Single(ferry.port(), 0),
        &from,
        &to,
        || Target::Single(dst.port(), 0),
        &[],
    );
}

#[test]
fn bulk_killed_then_resumed() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let run = Run::new("k", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 30_000, 3);
    let mut bulk = run.spawn(
        "bulk",
        &[
            "--max-rps",
            "4000",
            "--batch-keys",
            "100",
            "--scan-count",
            "100",
        ],
    );
    // Kill it after a checkpoint with some keys copied.
    let deadline = Instant::now() + Duration::from_secs(30);
    while copied(&text(&migrate(&run.registry_args("status")))) < 3000 {
        assert!(Instant::now() < deadline, "no progress:\n{}", run.status());
        std::thread::sleep(Duration::from_millis(100));
    }
    bulk.kill9();
    let before = run.status();
    let n = copied(&before);
    assert!(n > 0 && n < 30_000, "expected a partial copy:\n{before}");
    assert!(!before.contains("bulk:       done"), "{before}");
    // Without --resume the run is refused, saying how to continue.
    run.fails("bulk", &[], 2, "--resume");
    // A resume against another target is refused.
    let other = RedisProc::start(&[]);
    let elsewhere = Run::new("k", &run.from, &redis_url(other.port()), &dir);
    elsewhere.fails("bulk", &["--resume"], 2, "not redis://127.0.0.1");
    run.ok("bulk", &["--resume"]);
    run.verify_full_is_clean();
    same_data(&srct, &Target::Single(dst.port(), 0));
}

/// The "N copied" number of a status text.
fn copied(status: &str) -> i64 {
    status
        .lines()
        .find(|l| l.starts_with("keys:"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn tracker_killed_and_restarted() {
    let src = redis_with_notifications();
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let run = Run::new("t", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 2000, 9);
    let mut tracker = run.spawn("track", &[]);
    run.wait_status("tracker:    running", Duration::from_secs(20));
    let writer = Writer::start(srct.clone(), 21);
    run.ok("bulk", &[]);
    // The tracker dies; writes go on while it is down.
    tracker.kill9();
    std::thread::sleep(Duration::from_millis(700));
    let mut tracker = run.spawn("track", &[]);
    run.wait_status("tracker:    running", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    writer.stop();
    std::thread::sleep(Duration::from_millis(500));
    let s = run.status();
    assert!(
        s.contains("1 disconnects"),
        "the gap must be recorded:\n{s}"
    );
    // The delta sweeps because events were missed.
    let out = run.ok("apply-dirty", &[]);
    assert!(out.contains("sweeping"), "no sweep after the gap:\n{out}");
    run.steer("track-stop");
    let t = tracker.wait(Duration::from_secs(20));
    assert!(t.status.success(), "{}", text(&t));
    run.verify_full_is_clean();
    same_data(&srct, &Target::Single(dst.port(), 0));
}

#[test]
fn run_command_end_to_end() {
    let src = redis_with_notifications();
    let mut ferry = FerryProc::start(FerryOpts::default());
    ferry.stop();
    let to = ferry.data_path().to_str().expect("utf8").to_string();
    let from = redis_url(src.port());
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 3000, 4);
    let writer = Writer::start(srct.clone(), 8);
    std::thread::sleep(Duration::from_millis(300));
    let mut run = Proc(Some(spawn(&[
        "run",
        "--run-id",
        "all",
        "--from",
        &from,
        "--to",
        &to,
        "--cutover-when-lag-below",
        "20",
        "--verify-full",
        "--max-rps",
        "1500",
    ])));
    // --max-rps makes the bulk copy last about 2 s, and the writer stops
    // after 1 s: before the cutover that --cutover-when-lag-below starts by
    // itself (that flag presumes writes are frozen by then).
    std::thread::sleep(Duration::from_millis(1000));
    writer.stop();
    let out = run.wait(COMMAND_TIMEOUT);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("step 5/5: verify") && all.contains("no mismatches"),
        "{all}"
    );
    let s = ok(&["status", "--run-id", "all", "--to", &to]);
    assert!(s.contains("status:     completed"), "{s}");
    ferry.restart();
    same_data(&srct, &Target::Single(ferry.port(), 0));
}

#[test]
fn pause_resume_abort() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let run = Run::new("p", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    seed(&Target::Single(src.port(), 0), 20_000, 1);
    let mut bulk = run.spawn(
        "bulk",
        &[
            "--max-rps",
            "3000",
            "--batch-keys",
            "100",
            "--scan-count",
            "100",
        ],
    );
    run.wait_status("status:     running", Duration::from_secs(20));
    run.steer("pause");
    run.wait_status("status:     paused", Duration::from_secs(5));
    // Paused: the count stops moving (after in-flight batches land).
    std::thread::sleep(Duration::from_millis(2500));
    let a = copied(&run.status());
    std::thread::sleep(Duration::from_millis(2500));
    let b = copied(&run.status());
    assert_eq!(a, b, "keys were copied while paused");
    run.steer("resume");
    run.wait_status("status:     running", Duration::from_secs(5));
    run.steer("abort");
    let out = bulk.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("aborted"), "{}", text(&out));
    let s = run.status();
    assert!(s.contains("status:     aborted"), "{s}");
    fails(
        &run.registry_args("pause"),
        2,
        "is aborted; nothing to pause",
    );
}

#[test]
fn bad_input_is_explained() {
    let src = RedisProc::start(&[]);
    let locked = RedisProc::start(&["--requirepass", "sekret"]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let state = dir.path().join("state.db");
    let state = state.to_str().expect("utf8");
    let from = redis_url(src.port());
    let to = redis_url(dst.port());
    let pre = |f: &str, t: &str| {
        vec![
            "preflight".to_string(),
            "--from".into(),
            f.into(),
            "--to".into(),
            t.into(),
        ]
    };
    fails(&args(&pre("http://x:1", &to)), 2, "unknown scheme");
    fails(
        &args(&pre("redis://127.0.0.1:notaport", &to)),
        2,
        "not a valid URL",
    );
    fails(
        &args(&pre(&from, &format!("redis://127.0.0.1:{}/x", dst.port()))),
        2,
        "database number",
    );
    fails(&args(&pre("redis://127.0.0.1:1", &to)), 1, "cannot connect");
    fails(
        &args(&pre(&format!("redis://127.0.0.1:{}", locked.port()), &to)),
        1,
        "authentication",
    );
    fails(
        &args(&pre(
            &format!("redis://:wrong@127.0.0.1:{}", locked.port()),
            &to,
        )),
        1,
        "authentication",
    );
    ok(&args(&pre(
        &format!("redis://:sekret@127.0.0.1:{}", locked.port()),
        &to,
    )));
    fails(
        &args(&pre(&from, &format!("redis://localhost:{}/0", src.port()))),
        2,
        "same place",
    );
    fails(
        &["status", "--run-id", "nope", "--state", state],
        2,
        "no run registry",
    );
    // A target that is not empty: refused before the first write, with a count.
    let mut s = src.connect();
    let mut d = dst.connect();
    for i in 0..10 {
        q(&mut s, &["SET", &format!("k{i}"), "from-source"]);
    }
    q(&mut d, &["SET", "k1", "on-target"]);
    let bulk = |run: &str, conflict: &str| {
        vec![
            "bulk".to_string(),
            "--run-id".into(),
            run.into(),
            "--from".into(),
            from.clone(),
            "--to".into(),
            to.clone(),
            "--state".into(),
            state.into(),
            "--on-conflict".into(),
            conflict.into(),
        ]
    };
    fails(&args(&bulk("c1", "fail")), 2, "1 keys in db 0");
    assert_eq!(
        q(&mut d, &["DBSIZE"]).as_int(),
        Some(1),
        "nothing may be written when refusing"
    );
    ok(&args(&bulk("c2", "skip")));
    assert_eq!(
        q(&mut d, &["GET", "k1"]).as_str().as_deref(),
        Some("on-target")
    );
    assert_eq!(
        q(&mut d, &["GET", "k2"]).as_str().as_deref(),
        Some("from-source")
    );
    ok(&args(&bulk("c3", "replace")));
    assert_eq!(
        q(&mut d, &["GET", "k1"]).as_str().as_deref(),
        Some("from-source")
    );
    fails(
        &["status", "--run-id", "nope", "--state", state],
        2,
        "unknown run id nope",
    );
    fails(
        &["status", "--run-id", "bad id!", "--state", state],
        2,
        "bad run id",
    );
    // The tracker refuses to start without notifications.
    fails(
        &[
            "track", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state,
        ],
        2,
        "--enable-notifications",
    );
    fails(
        &[
            "verify", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state,
        ],
        2,
        "--sample",
    );
    fails(
        &[
            "verify", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state, "--sample",
            "200%",
        ],
        2,
        "at most 100%",
    );
    // A sampled verify of equal data passes.
    let out = ok(&[
        "verify", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state, "--sample",
        "50%",
    ]);
    assert!(out.contains(" 0 mismatches"), "{out}");
    // `run` without a terminal to confirm the cutover on, and without
    // --cutover-when-lag-below, refuses to start.
    fails(
        &[
            "run",
            "--from",
            &from,
            "--to",
            &to,
            "--state",
            state,
            "--on-conflict",
            "replace",
        ],
        2,
        "--cutover-when-lag-below",
    );
    // verify notices a difference and exits non-zero.
    q(&mut d, &["SET", "k5", "changed"]);
    q(&mut d, &["SET", "extra", "x"]);
    let out = fails(
        &[
            "verify", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state, "--full",
        ],
        1,
        "2 mismatches",
    );
    assert!(
        out.contains("\"k5\"") && out.contains("\"extra\": only on the target"),
        "{out}"
    );
    // --show-diffs limits the lines, not the count.
    let out = fails(
        &[
            "verify",
            "--run-id",
            "c3",
            "--from",
            &from,
            "--to",
            &to,
            "--state",
            state,
            "--full",
            "--show-diffs",
            "1",
        ],
        1,
        "2 mismatches",
    );
    assert_eq!(out.matches("mismatch: ").count(), 1, "{out}");
    // TTLs 5 s apart differ by default, and match within --ttl-tolerance-ms.
    q(&mut d, &["SET", "k5", "from-source"]);
    q(&mut d, &["DEL", "extra"]);
    q(&mut s, &["EXPIRE", "k7", "100"]);
    q(&mut d, &["EXPIRE", "k7", "105"]);
    let verify = [
        "verify", "--run-id", "c3", "--from", &from, "--to", &to, "--state", state, "--full",
    ];
    let out = fails(&verify, 1, "1 mismatches");
    assert!(out.contains("\"k7\": TTL"), "{out}");
    let mut tolerant = verify.to_vec();
    tolerant.extend(["--ttl-tolerance-ms", "10000"]);
    ok(&tolerant);
}

/// Streams of every shape on a server: entries with deletions and
/// trimming, groups with consumers and pending entries (one of them for an
/// entry deleted since), an empty stream with a group, a stream with a TTL,
/// one longer than the copy window, and binary names.
fn seed_streams(c: &mut common::RawConn) {
    let run = |c: &mut common::RawConn, args: &[&str]| {
        let r = q(c, args);
        assert!(!r.is_error(), "{args:?}: {r:?}");
    };
    for i in 1..=30 {
        let v = format!("v{i}");
        run(c, &["XADD", "events", &format!("{i}-1"), "f", &v, "n", "1"]);
    }
    run(c, &["XDEL", "events", "3-1", "29-1"]);
    run(c, &["XGROUP", "CREATE", "events", "workers", "0"]);
    run(
        c,
        &[
            "XGROUP",
            "CREATE",
            "events",
            "audit",
            "$",
            "ENTRIESREAD",
            "30",
        ],
    );
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            "events",
            ">",
        ],
    );
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "bob",
            "COUNT",
            "4",
            "STREAMS",
            "events",
            ">",
        ],
    );
    run(c, &["XACK", "events", "workers", "1-1"]);
    run(
        c,
        &[
            "XCLAIM",
            "events",
            "workers",
            "carol",
            "0",
            "6-1",
            "RETRYCOUNT",
            "5",
            "IDLE",
            "62000",
            "JUSTID",
        ],
    );
    run(c, &["XGROUP", "CREATECONSUMER", "events", "audit", "dave"]);
    // A pending entry whose entry is deleted: not copied (see docs).
    run(c, &["XDEL", "events", "7-1"]);
    run(
        c,
        &[
            "XSETID",
            "events",
            "40-0",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "35-0",
        ],
    );
    // Empty, with a group.
    run(c, &["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]);
    run(c, &["XADD", "drained", "5-5", "f", "v"]);
    run(c, &["XDEL", "drained", "5-5"]);
    // A TTL.
    run(c, &["XADD", "ttl", "1-0", "f", "v"]);
    run(c, &["PEXPIRE", "ttl", "600000"]);
    // Longer than --chunk 50, with a long PEL.
    for i in 1..=180 {
        run(c, &["XADD", "long", &format!("{i}-0"), "i", &i.to_string()]);
    }
    run(c, &["XGROUP", "CREATE", "long", "g", "0"]);
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "120",
            "STREAMS",
            "long",
            ">",
        ],
    );
    let raw = c.cmd(&[&b"XADD"[..], b"bin\xff", b"1-1", b"\x00f", b"\r\nv"]);
    assert!(raw.starts_with(b"$"), "{}", String::from_utf8_lossy(&raw));
}

const STREAM_KEYS: &[&str] = &["events", "empty", "drained", "ttl", "long"];

/// Everything a stream shows that a typed copy carries, read with commands
/// (an independent comparison of the migration's own verify).
fn stream_view(c: &mut common::RawConn, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let show = |r: &common::Resp| format!("{r:?}");
    out.push(show(&q(c, &["XRANGE", key, "-", "+"])));
    // XINFO STREAM without the radix-tree numbers (a layout detail).
    let info = q(c, &["XINFO", "STREAM", key]);
    for (k, v) in info.pairs().unwrap_or_default() {
        let name = k.as_str().unwrap_or_default();
        if !name.starts_with("radix-tree") {
            out.push(format!("{name}={v:?}"));
        }
    }
    let groups = q(c, &["XINFO", "GROUPS", key]);
    for g in groups.elements().unwrap_or_default() {
        let pairs = g.pairs().unwrap_or_default();
        let get = |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.as_str().as_deref() == Some(n))
                .map(|(_, v)| v.clone())
        };
        let name = get("name").and_then(|v| v.as_str()).unwrap_or_default();
        for f in [
            "name",
            "last-delivered-id",
            "entries-read",
            "lag",
            "consumers",
        ] {
            out.push(format!("{name}.{f}={:?}", get(f)));
        }
        let consumers = q(c, &["XINFO", "CONSUMERS", key, &name]);
        for cons in consumers.elements().unwrap_or_default() {
            let cp = cons.pairs().unwrap_or_default();
            let names: Vec<String> = cp
                .iter()
                .filter(|(k, _)| k.as_str().as_deref() == Some("name"))
                .map(|(_, v)| v.as_str().unwrap_or_default())
                .collect();
            out.push(format!("{name}.consumer={names:?}"));
        }
        // Pending entries: id, owner, delivery count; idle within 5 s.
        let pending = q(c, &["XPENDING", key, &name, "-", "+", "1000"]);
        for p in pending.elements().unwrap_or_default() {
            let e = p.elements().unwrap_or_default();
            let id = e.first().and_then(|x| x.as_str()).unwrap_or_default();
            // Entries deleted from the stream are not copied.
            let exists = q(c, &["XRANGE", key, &id, &id]);
            if exists.elements().is_none_or(|x| x.is_empty()) {
                continue;
            }
            let idle = e.get(2).and_then(|x| x.as_int()).unwrap_or(-1);
            out.push(format!(
                "{name}.pending={id} {:?} {:?} idle~{}",
                e.get(1),
                e.get(3),
                idle / 5000
            ));
        }
    }
    out
}

#[test]
fn streams_with_groups_to_a_ferry_store_and_back() {
    let src = RedisProc::start(&[]);
    let mut c = src.connect();
    seed_streams(&mut c);
    q(&mut c, &["SET", "plain", "v"]);
    let dir = tempdir();
    // A store file nobody serves: migrate opens it in-process.
    let mut ferry = FerryProc::start(FerryOpts::default());
    ferry.stop();
    let store = ferry.data_path().to_str().expect("utf8").to_string();
    let out = ok(&[
        "preflight",
        "--from",
        &redis_url(src.port()),
        "--to",
        &store,
    ]);
    assert!(out.contains("stream"), "{out}");
    let run = Run::new("s", &redis_url(src.port()), &store, &dir);
    run.ok("bulk", &["--chunk", "50"]);
    run.ok("verify", &["--full"]);
    let s = run.status();
    assert!(s.contains("7 copied"), "{s}");
    // Serve the store and compare stream by stream.
    ferry.restart();
    let mut f = ferry.connect();
    for k in STREAM_KEYS {
        assert_eq!(stream_view(&mut c, k), stream_view(&mut f, k), "stream {k}");
    }
    let ttl = q(&mut f, &["PTTL", "ttl"]).as_int().expect("PTTL");
    assert!(ttl > 500_000, "PTTL {ttl}");
    let bin: &[&[u8]] = &[b"XRANGE", b"bin\xff", b"-", b"+"];
    assert_eq!(f.cmd(bin), c.cmd(bin));
    // verify sees a difference in a group.
    q(&mut f, &["XGROUP", "SETID", "events", "audit", "0"]);
    let out = run.fails("verify", &["--full"], 1, "mismatches");
    assert!(out.contains("consumer groups differ"), "{out}");
    q(
        &mut f,
        &[
            "XGROUP",
            "SETID",
            "events",
            "audit",
            "30-1",
            "ENTRIESREAD",
            "30",
        ],
    );
    drop(f);
    ferry.stop();

    // And back: the store into a fresh redis-server.
    let back = RedisProc::start(&[]);
    let run2 = Run::new("back", &store, &redis_url(back.port()), &dir);
    run2.ok("bulk", &["--chunk", "50"]);
    run2.ok("verify", &["--full"]);
    let mut b = back.connect();
    for k in STREAM_KEYS {
        assert_eq!(stream_view(&mut c, k), stream_view(&mut b, k), "stream {k}");
    }
}

#[test]
fn streams_between_redis_servers_without_dump() {
    // Typed stream copies also serve Redis targets without RESTORE.
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&["--rename-command", "RESTORE", ""]);
    let mut c = src.connect();
    seed_streams(&mut c);
    let dir = tempdir();
    let run = Run::new("nd", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    run.ok("bulk", &["--chunk", "50"]);
    run.verify_full_is_clean();
    let mut d = dst.connect();
    for k in STREAM_KEYS {
        assert_eq!(stream_view(&mut c, k), stream_view(&mut d, k), "stream {k}");
    }
    // A preflight into a store path that cannot exist still fails.
    fails(
        &[
            "preflight",
            "--from",
            &redis_url(src.port()),
            "--to",
            "/nonexistent/dir/x.db",
        ],
        2,
        "does not exist",
    );
}

/// Peak resident memory of a process, read from /proc while it runs.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn two_million_keys_in_bounded_memory() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    load_strings(src.port(), 2_000_000);
    let dir = tempdir();
    let state = dir.path().join("state.db");
    let (from, to) = (redis_url(src.port()), redis_url(dst.port()));
    let mut p = Proc(Some(spawn(&[
        "bulk",
        "--run-id",
        "m",
        "--from",
        &from,
        "--to",
        &to,
        "--state",
        state.to_str().expect("utf8"),
    ])));
    let pid = p.pid();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(110);
    while p
        .0
        .as_mut()
        .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    {
        if let Some(kb) = peak_rss_kb(pid) {
            peak = peak.max(kb);
        }
        assert!(Instant::now() < deadline, "bulk of 2M keys took too long");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = p.wait(Duration::from_secs(1));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(q(&mut dst.connect(), &["DBSIZE"]).as_int(), Some(2_000_000));
    assert!(peak > 0, "could not read the process's memory");
    assert!(
        peak < 200 * 1024,
        "peak RSS {} MB, over 200 MB",
        peak / 1024
    );
}

/// Loads `n` small strings quickly with `redis-cli --pipe`.
fn load_strings(port: u16, n: usize) {
    let cli = common::require_binary("redis-cli");
    let mut child = Command::new(cli)
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
        for i in 0..n {
            let k = format!("key:{i}");
            let v = format!("value-{i}-0123456789");
            write!(
                w,
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .expect("write");
        }
    }
    let status = child.wait().expect("redis-cli --pipe");
    assert!(status.success());
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

/// Sends one command and parses its reply.
fn q(c: &mut common::RawConn, args: &[&str]) -> common::Resp {
    let raw = c.cmd(args);
    common::parse_all(&raw)
        .expect("a reply")
        .into_iter()
        .next()
        .expect("one reply")
}

#[test]
fn tls_source() {
    let dir = tempdir();
    let (key, cert) = common::self_signed_cert(dir.path());
    let tls_port = common::free_port();
    let args = common::tls_server_args(tls_port, &key, &cert);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let src = RedisProc::start(&args);
    let dst = RedisProc::start(&[]);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 500, 2);
    let to = redis_url(dst.port());
    // A self-signed certificate is refused unless #insecure says otherwise.
    let strict = Run::new("tls", &format!("rediss://127.0.0.1:{tls_port}"), &to, &dir);
    strict.fails("bulk", &[], 1, "TLS certificate was not accepted");
    let insecure = Run::new(
        "tls2",
        &format!("rediss://127.0.0.1:{tls_port}#insecure"),
        &to,
        &dir,
    );
    insecure.ok("bulk", &[]);
    same_data(&srct, &Target::Single(dst.port(), 0));
}

#[test]
fn cluster_detected_from_a_node_url() {
    // `redis://` naming one node of a cluster: INFO cluster says it is one,
    // and keys go to every master, not only to that node.
    let src = RedisProc::start(&[]);
    let cluster = RedisCluster::start();
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 600, 6);
    let dir = tempdir();
    let node = redis_url(cluster.ports()[1]);
    let out = ok(&["preflight", "--from", &redis_url(src.port()), "--to", &node]);
    assert!(out.contains("cluster, 3 masters"), "{out}");
    Run::new("d", &redis_url(src.port()), &node, &dir).ok("bulk", &[]);
    same_data(&srct, &Target::Cluster(cluster.ports().to_vec()));
}

#[test]
fn filters_databases_and_ttl_mode() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let (from, to) = (redis_url(src.port()), redis_url(dst.port()));
    let mut s = src.connect();
    for cmd in [
        vec!["SET", "user:1", "a"],
        vec!["SET", "order:1", "b"],
        vec!["HSET", "user:2", "f", "v"],
        vec!["EXPIRE", "user:2", "1000"],
        vec!["SELECT", "3"],
        vec!["SET", "user:9", "in-db3"],
        vec!["SET", "other", "x"],
    ] {
        q(&mut s, &cmd);
    }
    let mut d = dst.connect();
    // Only hashes matching user:*, without their TTL.
    let replace = ["--on-conflict", "replace"];
    Run::new("f1", &from, &to, &dir).ok(
        "bulk",
        &[
            "--match",
            "user:*",
            "--type",
            "hash",
            "--ttl-mode",
            "drop",
            "--on-conflict",
            "replace",
        ],
    );
    assert_eq!(q(&mut d, &["DBSIZE"]).as_int(), Some(1));
    assert_eq!(q(&mut d, &["PTTL", "user:2"]).as_int(), Some(-1));
    // Every database with keys, to the same number; TTLs kept.
    let all = Run::new("f2", &from, &to, &dir);
    all.ok("bulk", &replace);
    assert_eq!(q(&mut d, &["DBSIZE"]).as_int(), Some(3));
    let ttl = q(&mut d, &["PTTL", "user:2"]).as_int().unwrap_or(-1);
    assert!(ttl > 990_000, "TTL not preserved: {ttl}");
    q(&mut d, &["SELECT", "3"]);
    assert_eq!(
        q(&mut d, &["GET", "user:9"]).as_str().as_deref(),
        Some("in-db3")
    );
    // One database into another: the target URL names it.
    Run::new("f3", &from, &format!("{to}/5"), &dir).ok("bulk", &["--db", "3"]);
    q(&mut d, &["SELECT", "5"]);
    assert_eq!(q(&mut d, &["DBSIZE"]).as_int(), Some(2));
    // Resuming a finished copy does nothing, and says so.
    let out = all.ok("bulk", &["--resume"]);
    assert!(out.contains("already completed"), "{out}");
}

#[test]
fn delta_follows_the_runs_filters() {
    let src = redis_with_notifications();
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let run = Run::new("flt", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    let mut s = src.connect();
    q(&mut s, &["HSET", "user:1", "f", "v"]);
    q(&mut s, &["SET", "user:2", "a string"]);
    let mut tracker = run.spawn("track", &[]);
    run.wait_status("tracker:    running", Duration::from_secs(20));
    run.ok("bulk", &["--match", "user:*", "--type", "hash"]);
    // Changes inside and outside the run's scope.
    q(&mut s, &["HSET", "user:1", "g", "w"]);
    q(&mut s, &["SET", "user:2", "changed"]);
    q(&mut s, &["HSET", "user:3", "f", "v"]);
    q(&mut s, &["HSET", "order:1", "f", "v"]);
    std::thread::sleep(Duration::from_millis(500));
    let out = run.ok("apply-dirty", &[]);
    assert!(out.contains("2 applied"), "{out}");
    run.steer("track-stop");
    let t = tracker.wait(Duration::from_secs(20));
    assert!(t.status.success(), "{}", text(&t));
    let mut d = dst.connect();
    assert_eq!(q(&mut d, &["HLEN", "user:1"]).as_int(), Some(2));
    assert_eq!(q(&mut d, &["HLEN", "user:3"]).as_int(), Some(1));
    assert_eq!(
        q(&mut d, &["EXISTS", "user:2", "order:1"]).as_int(),
        Some(0)
    );
    let st = run.status();
    assert!(
        st.contains("2 skipped"),
        "keys outside the scope are marked skipped:\n{st}"
    );
}

#[test]
fn target_without_restore_gets_typed_writes() {
    // RESTORE renamed away, as some managed services do: the copy uses
    // typed writes from the start.
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&["--rename-command", "RESTORE", ""]);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 500, 12);
    let dir = tempdir();
    let run = Run::new(
        "typed",
        &redis_url(src.port()),
        &redis_url(dst.port()),
        &dir,
    );
    let out = run.ok("bulk", &[]);
    assert!(out.contains("copying with typed commands"), "{out}");
    run.verify_full_is_clean();
    same_data(&srct, &Target::Single(dst.port(), 0));
}

#[test]
fn store_target_served_by_ferry_serve() {
    // The target file is held by a running `ferry serve`: the migration
    // writes through it (hand-off file) instead of opening it.
    let src = RedisProc::start(&[]);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 500, 13);
    let ferry = FerryProc::start(FerryOpts::default());
    let dir = tempdir();
    let to = ferry.data_path().to_str().expect("utf8").to_string();
    let run = Run::new("served", &redis_url(src.port()), &to, &dir);
    let out = run.ok("bulk", &[]);
    assert!(out.contains("held by another ferry process"), "{out}");
    same_data(&srct, &Target::Single(ferry.port(), 0));
}

#[test]
fn bulk_interrupted_by_sigint_saves_its_checkpoint() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 20_000, 14);
    let dir = tempdir();
    let run = Run::new("int", &redis_url(src.port()), &redis_url(dst.port()), &dir);
    let mut bulk = run.spawn(
        "bulk",
        &[
            "--max-rps",
            "4000",
            "--batch-keys",
            "100",
            "--scan-count",
            "100",
        ],
    );
    run.wait_status("status:     running", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1000));
    let killed = Command::new("kill")
        .args(["-INT", &bulk.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = bulk.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("--resume"), "{}", text(&out));
    let s = run.status();
    assert!(
        s.contains("status:     paused") && !s.contains("bulk:       done"),
        "{s}"
    );
    run.ok("bulk", &["--resume"]);
    run.verify_full_is_clean();
    same_data(&srct, &Target::Single(dst.port(), 0));
}

#[test]
fn preflight_reports_what_the_migration_meets() {
    let src = redis_with_notifications();
    let dst = RedisProc::start(&[]);
    let mut s = src.connect();
    let members: Vec<String> = (0..12_000).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD", "big:set"];
    sadd.extend(members.iter().map(|m| m.as_str()));
    q(&mut s, &sadd);
    q(&mut s, &["SET", "plain", "v"]);
    q(&mut dst.connect(), &["SET", "already", "there"]);
    let out = ok(&[
        "preflight",
        "--from",
        &redis_url(src.port()),
        "--to",
        &redis_url(dst.port()),
    ]);
    for needle in [
        "Redis 7.",
        "source keys: 2 (db0=2)",
        "set 50%, string 50%",
        "\"big:set\" (set, 12000 elements)",
        "keyspace notifications on",
        "warning: the target holds 1 keys",
        "recommended: --scan-count",
        "preflight: ok",
    ] {
        assert!(out.contains(needle), "{needle:?} missing in:\n{out}");
    }
}

#[test]
fn two_migrations_share_a_store_target() {
    // While a bulk copy holds the store file (in-process), a second
    // `ferry migrate` on the same file goes through the first one.
    let src = RedisProc::start(&[]);
    let srct = Target::Single(src.port(), 0);
    seed(&srct, 3000, 15);
    let mut ferry = FerryProc::start(FerryOpts::default());
    ferry.stop();
    let to = ferry.data_path().to_str().expect("utf8").to_string();
    let dir = tempdir();
    let run = Run::new("share", &redis_url(src.port()), &to, &dir);
    let mut bulk = run.spawn("bulk", &["--max-rps", "1000", "--batch-keys", "100"]);
    run.wait_status("status:     running", Duration::from_secs(20));
    let out = run.ok("apply-dirty", &[]);
    assert!(out.contains("held by another ferry process"), "{out}");
    let b = bulk.wait(Duration::from_secs(30));
    assert!(b.status.success(), "{}", text(&b));
    run.verify_full_is_clean();
    ferry.restart();
    same_data(&srct, &Target::Single(ferry.port(), 0));
}

/// `bulk --method snapshot`: the source's replication snapshot RESTOREd on
/// the target gives the same data as the scan (every type, big keys, TTLs,
/// several databases); filters, TTL mode and conflict modes act as with
/// scan; an interrupted or repeated run is explained; what it cannot do is
/// refused with the way out.
#[test]
fn bulk_from_the_replication_snapshot() {
    // No 5 s wait before a diskless snapshot.
    let src = RedisProc::start(&["--repl-diskless-sync-delay", "0"]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let (from, to) = (redis_url(src.port()), redis_url(dst.port()));
    let (s0, d0) = (Target::Single(src.port(), 0), Target::Single(dst.port(), 0));
    seed(&s0, 3000, 41);
    let mut s = src.connect();
    for cmd in [
        vec!["XADD", "stream:1", "1-1", "f", "v"],
        vec!["XGROUP", "CREATE", "stream:1", "g", "0"],
        vec!["SET", "gone:soon", "x", "PX", "1"],
        vec!["SELECT", "3"],
        vec!["SET", "user:9", "in-db3"],
        vec!["HSET", "user:10", "f", "v"],
    ] {
        q(&mut s, &cmd);
    }
    std::thread::sleep(Duration::from_millis(20));
    let run = Run::new("snap", &from, &to, &dir);
    let out = run.ok("bulk", &["--method", "snapshot"]);
    assert!(out.contains("bulk snap:"), "{out}");
    same_data(&s0, &d0);
    same_data(
        &Target::Single(src.port(), 3),
        &Target::Single(dst.port(), 3),
    );
    let mut d = dst.connect();
    assert_eq!(q(&mut d, &["EXISTS", "gone:soon"]).as_int(), Some(0));
    assert!(run.status().contains("done"), "{}", run.status());
    run.verify_full_is_clean();
    // The same run again: done already.
    run.fails(
        "bulk",
        &["--method", "snapshot"],
        2,
        "already copied everything",
    );
    // A new run into the now full target: refused unless told what to do.
    let again = Run::new("snap2", &from, &to, &dir);
    again.fails(
        "bulk",
        &["--method", "snapshot"],
        2,
        "the target is not empty",
    );
    // --on-conflict skip keeps the target's keys and counts them.
    q(&mut d, &["SELECT", "3"]);
    q(&mut d, &["SET", "user:9", "kept"]);
    let live = q(&mut s, &["DBSIZE"]).as_int().unwrap_or(0);
    q(&mut s, &["SELECT", "0"]);
    let live = live + q(&mut s, &["DBSIZE"]).as_int().unwrap_or(0);
    let out = again.ok("bulk", &["--method", "snapshot", "--on-conflict", "skip"]);
    assert_eq!(
        q(&mut d, &["GET", "user:9"]).as_str().as_deref(),
        Some("kept")
    );
    // "bulk snap2: N keys scanned, C copied, S skipped, ...": every key is
    // on the target already (a few with a 1-3 s TTL may expire meanwhile).
    let number_before = |what: &str| -> i64 {
        out.lines()
            .find(|l| l.starts_with("bulk snap2:"))
            .and_then(|l| l.split(", ").find(|p| p.ends_with(what)))
            .and_then(|p| p.trim_end_matches(what).split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1)
    };
    let (copied, skipped) = (number_before(" copied"), number_before(" skipped"));
    assert!((0..=40).contains(&copied), "{out}");
    assert!(skipped > live - 40 && skipped <= live, "{live} keys: {out}");
    // Filters and TTL mode: only hashes matching user:* of database 3,
    // into database 5, without TTLs.
    q(&mut s, &["SELECT", "3"]);
    assert_eq!(q(&mut s, &["EXPIRE", "user:10", "1000"]).as_int(), Some(1));
    let filtered = Run::new("snap3", &from, &format!("{to}/5"), &dir);
    filtered.ok(
        "bulk",
        &[
            "--method",
            "snapshot",
            "--db",
            "3",
            "--match",
            "user:*",
            "--type",
            "hash",
            "--ttl-mode",
            "drop",
        ],
    );
    q(&mut d, &["SELECT", "5"]);
    assert_eq!(q(&mut d, &["DBSIZE"]).as_int(), Some(1));
    assert_eq!(q(&mut d, &["PTTL", "user:10"]).as_int(), Some(-1));
    // What it cannot do.
    let other = Run::new("snap4", &from, &to, &dir);
    other.fails(
        "bulk",
        &["--method", "snapshot", "--resume"],
        2,
        "cannot resume",
    );
    other.fails(
        "bulk",
        &[
            "--method",
            "snapshot",
            "--max-rps",
            "10",
            "--on-conflict",
            "replace",
        ],
        2,
        "--max-rps needs --method scan",
    );
    let store = dir.path().join("src.db");
    let store = store.to_str().expect("utf8");
    Run::new("snap5", store, &to, &dir).fails(
        "bulk",
        &["--method", "snapshot", "--on-conflict", "replace"],
        2,
        "use --method scan",
    );
    // A user the source does not let replicate.
    q(
        &mut s,
        &[
            "ACL", "SETUSER", "reader", "on", ">pw", "~*", "&*", "+@all", "-psync", "-sync",
        ],
    );
    let denied = format!("redis://reader:pw@127.0.0.1:{}", src.port());
    Run::new("snap6", &denied, &to, &dir).fails(
        "bulk",
        &["--method", "snapshot", "--on-conflict", "replace"],
        1,
        "use --method scan",
    );
}

/// A snapshot copy interrupted by Ctrl-C says how to go on, and the same
/// command afterwards starts it over and copies everything.
#[test]
fn snapshot_bulk_interrupted_then_started_over() {
    let src = RedisProc::start(&["--repl-diskless-sync-delay", "0"]);
    let dst = RedisProc::start(&[]);
    let dir = tempdir();
    let (from, to) = (redis_url(src.port()), redis_url(dst.port()));
    let run = Run::new("cut", &from, &to, &dir);
    load_strings(src.port(), 20_000);
    // A target that holds every write: the copy waits on it.
    let mut d = dst.connect();
    q(&mut d, &["CLIENT", "PAUSE", "20000", "WRITE"]);
    let mut p = run.spawn("bulk", &["--method", "snapshot"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Ctrl-C.
    let _ = Command::new("kill")
        .args(["-INT", &p.pid().to_string()])
        .status();
    let out = p.wait(Duration::from_secs(60));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("run the same command again"), "{all}");
    q(&mut d, &["CLIENT", "UNPAUSE"]);
    let again = run.ok("bulk", &["--method", "snapshot"]);
    assert!(again.contains("starting it over"), "{again}");
    same_data(
        &Target::Single(src.port(), 0),
        &Target::Single(dst.port(), 0),
    );
}
