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

use common::{require_binary, FerryOpts, FerryProc, RedisProc};
use std::path::{Path, PathBuf};
use std::process::Command;

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis-py")
}

/// The virtualenv's python, created with the pinned redis-py on first use.
fn venv_python(dir: &Path) -> PathBuf {
    let python = dir.join(".venv/bin/python");
    let ready = dir.join(".venv/.requirements-installed");
    if ready.is_file() {
        return python;
    }
    let system = require_binary("python3");
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (needs python3-venv and access to PyPI):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new(&system)
            .args(["-m", "venv", ".venv"])
            .current_dir(dir),
        "python3 -m venv",
    );
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r", "requirements.txt"])
            .current_dir(dir),
        "pip install -r requirements.txt",
    );
    std::fs::write(&ready, b"").expect("mark venv ready");
    python
}

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
    let dir = client_dir();
    let python = venv_python(&dir);
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
