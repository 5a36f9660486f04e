//! A real client-side cache on ferry: redis-py's `cache_config` (RESP3,
//! CLIENT TRACKING). The Python script `clients/redis-py/cache_test.py`
//! checks that repeated reads are served from the client's memory (the
//! server's GET count does not move), then changes keys from another
//! connection (SET, INCR, DEL, HSET, expiry by the sweep, the client's own
//! SET, FLUSHALL) and fails unless the cached client reads the new values:
//! a server that does not invalidate leaves them stale.
//!
//! The script runs against redis-server first, which checks the test.
//! Needs `python3` with the `venv` module; redis-py (pinned in
//! `requirements.txt`) is installed from PyPI into `clients/redis-py/.venv`
//! on first use.

mod common;

use common::{FerryOpts, FerryProc, RedisProc};
use std::path::Path;
use std::process::Command;

fn run_cache_test(python: &Path, dir: &Path, port: u16, server: &str) -> String {
    let out = Command::new(python)
        .arg("cache_test.py")
        .current_dir(dir)
        .env("FERRY_PORT", port.to_string())
        .output()
        .expect("run cache_test.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "redis-py's client-side cache failed on {server}:\n{text}"
    );
    text
}

#[test]
fn redis_py_cache_is_invalidated() {
    let dir = common::redis_py_dir();
    let python = common::redis_py_venv(".venv");
    let redis = RedisProc::start(&[]);
    let reference = run_cache_test(&python, &dir, redis.port(), "redis-server");
    assert!(reference.contains("PASS"), "{reference}");
    drop(redis);
    let ferry = FerryProc::start(FerryOpts::default());
    let out = run_cache_test(&python, &dir, ferry.port(), "ferry");
    assert!(
        out.contains("cache ok: 200 reads served locally") && out.contains("PASS"),
        "{out}\nferry log:\n{}",
        ferry.log()
    );
}
