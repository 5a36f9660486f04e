//! A real job queue on ferry: BullMQ (npm), which runs its queue logic in
//! Lua scripts (EVALSHA, cmsgpack), keeps job events in a stream (XADD with
//! MAXLEN ~, XREAD BLOCK) and waits for work with BZPOPMIN. The Node script
//! `clients/bullmq/queue_test.js` adds jobs (delayed, prioritized, failing
//! once then retried, in bulk, and a parent/children flow), processes them
//! with a worker and fails unless every job completes with its result and
//! every completion is seen through the event stream.
//!
//! The same script runs against redis-server first, which checks the test.
//! Needs `node` and `npm` (Node.js 18 or later); the packages are installed
//! from `package-lock.json` into `clients/bullmq/node_modules` on first use.

mod common;

use common::{require_binary, FerryOpts, FerryProc, RedisProc};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/bullmq")
}

/// Installs the locked packages once (`npm ci`).
fn install_packages(dir: &Path) {
    if dir.join("node_modules/bullmq/package.json").is_file() {
        return;
    }
    let npm = require_binary("npm");
    let out = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir)
        .output()
        .expect("run npm ci");
    assert!(
        out.status.success(),
        "`npm ci` in {} failed (it needs the npm registry):\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the queue test against `port`; returns its output, panicking with
/// it when the script fails or overruns.
fn run_queue_test(dir: &Path, port: u16, server: &str) -> String {
    let node = require_binary("node");
    let mut child = Command::new(node)
        .arg("queue_test.js")
        .current_dir(dir)
        .env("FERRY_PORT", port.to_string())
        .env("JOBS", "200")
        .env("DEADLINE_MS", "90000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("node output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "BullMQ's jobs did not all complete on {server}:\n{text}"
    );
    text
}

#[test]
fn bullmq_jobs_complete() {
    let dir = client_dir();
    install_packages(&dir);
    let redis = RedisProc::start(&[]);
    let reference = run_queue_test(&dir, redis.port(), "redis-server");
    assert!(reference.contains("ok: "), "{reference}");
    drop(redis);
    let ferry = FerryProc::start(FerryOpts::default());
    let out = run_queue_test(&dir, ferry.port(), "ferry");
    assert!(
        out.contains("ok: 223 jobs completed"),
        "{out}\nferry log:\n{}",
        ferry.log()
    );
}
