//! `ferry migrate ... --http ADDR`: the live dashboard and `/metrics`,
//! checked in a real headless browser.
//!
//! A rate-limited `ferry migrate run` copies 24,000 keys between two real
//! redis-servers (about 30 s of bulk copy at `--max-rps 800`). While it
//! runs, the test reads `/metrics` with a plain HTTP request, loads the page
//! in headless Chromium (which runs the page's JavaScript and polls
//! `/api/state`), reads again, and checks that the numbers the browser
//! shows lie between the two reads and that the timeline lists the phases
//! so far. A second test checks that a port in use fails at once, before
//! any work.

mod common;

use common::{free_port, kill_child, RedisProc};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEYS: usize = 24_000;

fn ferry_migrate(args: &[&str]) -> Command {
    let mut c = Command::new(common::ferry_binary());
    c.env("RUST_LOG", "info").arg("migrate").args(args);
    c.stdin(Stdio::null());
    c
}

/// The Chromium binary; the test fails (never skips) without one.
fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            for name in ["chromium", "chromium-browser"] {
                let p = d.join(name);
                if p.is_file() {
                    return p;
                }
            }
        }
    }
    panic!(
        "chromium was not found (/usr/bin/chromium). The dashboard test loads the page in a \
         real headless browser: install it with `apt-get install -y chromium` (Debian/Ubuntu), \
         or run `bash scripts/test.sh`, which installs it."
    );
}

use common::http::{http_get, parse_metrics};

fn metrics(port: u16) -> BTreeMap<String, f64> {
    let (status, body) = http_get(port, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "/metrics: {body}");
    for name in [
        "ferry_keys_done_total",
        "ferry_bytes_total",
        "ferry_errors_total",
    ] {
        assert!(
            body.contains(&format!("# TYPE {name} counter")),
            "{name} has no TYPE line:\n{body}"
        );
    }
    parse_metrics(&body)
}

fn get(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    *m.get(name)
        .unwrap_or_else(|| panic!("/metrics has no {name}: {m:?}"))
}

/// The value of attribute `attr` on the element whose id is `id`.
fn attr(dom: &str, id: &str, attr: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id} in the page"));
    let start = dom[..at].rfind('<').expect("tag start");
    let end = at + dom[at..].find('>').expect("tag end");
    let tag = &dom[start..end];
    let key = format!("{attr}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("element {id} has no {attr}: {tag}"));
    let rest = &tag[v + key.len()..];
    rest[..rest.find('"').expect("attribute end")].to_string()
}

fn shown(dom: &str, id: &str) -> f64 {
    let v = attr(dom, id, "data-value");
    v.parse::<f64>()
        .unwrap_or_else(|_| panic!("#{id} shows {v:?}, not a number"))
}

/// Phases listed in the page's timeline, in order.
fn timeline(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find("data-phase=\"") {
        rest = &rest[i + "data-phase=\"".len()..];
        let end = rest.find('"').expect("attribute end");
        out.push(rest[..end].to_string());
    }
    out
}

/// Loads `url` in headless Chromium, lets its scripts run for 5 s of
/// virtual time and returns the DOM it ends with.
fn browse(url: &str) -> String {
    let bin = chromium();
    let profile = tempfile::tempdir().expect("tempdir");
    let child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
    let out = wait_bounded(child, Duration::from_secs(90), "chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("id=\"keys-done\""),
        "chromium --dump-dom {url} failed ({:?}):\nstdout: {dom}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("wait");
        }
        if Instant::now() > deadline {
            kill_child(&mut child);
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{what} did not finish in {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fills `r` with KEYS string keys (MSET, 1000 per command).
fn fill(r: &RedisProc) {
    let mut c = r.connect();
    for chunk in 0..KEYS / 1000 {
        let mut args = vec!["MSET".to_string()];
        for i in chunk * 1000..(chunk + 1) * 1000 {
            args.push(format!("key:{i:06}"));
            args.push(format!("value-{i}-{}", "x".repeat(40)));
        }
        let reply = c.cmd(&args);
        assert_eq!(
            reply,
            b"+OK\r\n",
            "MSET: {}",
            String::from_utf8_lossy(&reply)
        );
    }
}

fn dbsize(r: &RedisProc) -> i64 {
    common::parse_one(&r.connect().cmd(&["DBSIZE"]))
        .as_int()
        .expect("DBSIZE is an integer")
}

/// Output of a child killed or finished, for failure messages.
fn stderr_of(child: Child) -> String {
    let mut child = child;
    kill_child(&mut child);
    let out = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn page_in_a_browser_shows_what_metrics_says() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    fill(&src);
    let state = tempfile::tempdir().expect("tempdir");
    let http = free_port();
    let addr = format!("127.0.0.1:{http}");
    let from = format!("redis://127.0.0.1:{}", src.port());
    let to = format!("redis://127.0.0.1:{}", dst.port());
    let state_db = state.path().join("m.db");
    let child = ferry_migrate(&[
        "run",
        "--run-id",
        "dash",
        "--from",
        &from,
        "--to",
        &to,
        "--state",
        state_db.to_str().expect("utf-8 path"),
        "--enable-notifications",
        "--cutover-when-lag-below",
        "100",
        "--max-rps",
        "800",
        "--batch-keys",
        "100",
        "--http",
        &addr,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn ferry");

    // Wait (bounded) for the copy to be under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = child;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            panic!("ferry migrate exited early:\n{}", stderr_of(child));
        }
        if let Ok((200, body)) = http_get(http, "/metrics") {
            let m = parse_metrics(&body);
            if m.get("ferry_keys_done_total").copied().unwrap_or(0.0) > 0.0 {
                break;
            }
        }
        if Instant::now() > deadline {
            panic!("no key copied 30 s after the start:\n{}", stderr_of(child));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the sampler record a few rates for the charts.
    std::thread::sleep(Duration::from_secs(2));

    let before = metrics(http);
    let dom = browse(&format!("http://{addr}/"));
    let after = metrics(http);
    if let Ok(Some(_)) = child.try_wait() {
        panic!(
            "ferry migrate finished before the page was read; the test needs a slower copy:\n{}",
            stderr_of(child)
        );
    }

    // The page's script ran and rendered the state.
    assert!(
        dom.contains("data-now-ms=\""),
        "the page never rendered /api/state:\n{dom}"
    );
    assert_eq!(dom.matches("id=\"tool\"").count(), 1);
    assert!(
        dom.contains(">migrate</span>"),
        "tool name not shown:\n{dom}"
    );
    assert!(dom.contains(">dash</span>"), "run id not shown:\n{dom}");

    // Live counters: between the read before and the read after.
    for (id, metric) in [
        ("keys-done", "ferry_keys_done_total"),
        ("bytes", "ferry_bytes_total"),
    ] {
        let (lo, v, hi) = (get(&before, metric), shown(&dom, id), get(&after, metric));
        assert!(
            lo <= v && v <= hi,
            "#{id} shows {v}, /metrics said {metric} {lo} before and {hi} after"
        );
        assert!(v > 0.0, "#{id} shows {v}");
        // The human text is the same number with thousands separators.
        let text_at = dom.find(&format!("id=\"{id}\"")).expect("element");
        let text = &dom[text_at..];
        let text = &text[text.find('>').expect("tag end") + 1..];
        let text = &text[..text.find('<').expect("text end")];
        assert_eq!(
            text.replace(',', "").parse::<f64>().ok(),
            Some(v),
            "#{id} text {text:?} is not {v}"
        );
    }
    // Values that do not move during the bulk copy: equal.
    for (id, metric) in [
        ("errors", "ferry_errors_total"),
        ("mismatches", "ferry_mismatches_total"),
        ("keys-estimated", "ferry_keys_estimated"),
    ] {
        let v = shown(&dom, id);
        assert_eq!(get(&before, metric), v, "#{id} vs {metric} before");
        assert_eq!(get(&after, metric), v, "#{id} vs {metric} after");
    }
    assert_eq!(shown(&dom, "keys-estimated"), KEYS as f64);
    assert_eq!(shown(&dom, "errors"), 0.0);
    // Not measured by migrate: shown as such, and absent from /metrics.
    assert_eq!(attr(&dom, "lag-seconds", "data-value"), "");
    assert!(!after.contains_key("ferry_lag_seconds"));
    // The rate chart has data: the copy runs at about --max-rps 800.
    let rate = shown(&dom, "keys-rate");
    assert!(
        rate > 0.0 && rate < 5000.0,
        "#keys-rate shows {rate} keys/s under --max-rps 800"
    );

    // The timeline: the phases so far, in order, the copy current.
    let phases = timeline(&dom);
    assert_eq!(
        phases,
        ["connect", "preflight", "track", "bulk"],
        "timeline in the page"
    );
    assert_eq!(attr(&dom, "phase", "data-value"), "bulk");
    assert!(dom.contains("<li data-phase=\"bulk\""), "{dom}");
    assert_eq!(get(&after, "ferry_phase_info{phase=\"bulk\"}"), 1.0);
    assert_eq!(get(&after, "ferry_phase_info{phase=\"track\"}"), 0.0);
    assert_eq!(
        get(
            &after,
            &format!("ferry_info{{tool=\"migrate\",run_id=\"dash\",from=\"{from}\",to=\"{to}\"}}")
        ),
        1.0,
        "{after:?}"
    );

    // /api/state is JSON with the same counters.
    let (status, json) = http_get(http, "/api/state").expect("GET /api/state");
    assert_eq!(status, 200);
    assert!(
        json.starts_with('{') && json.contains("\"keys_done_total\":"),
        "{json}"
    );

    // The run goes on to the end, unharmed by the dashboard.
    let out = wait_bounded(child, Duration::from_secs(120), "ferry migrate run");
    assert!(
        out.status.success(),
        "ferry migrate run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("dashboard: http://{addr}/")),
        "the URL is logged at start:\n{err}"
    );
    assert_eq!(dbsize(&dst), KEYS as i64);
    // The server ended with the command.
    assert!(http_get(http, "/metrics").is_err());
}

#[test]
fn port_in_use_fails_before_any_work() {
    let src = RedisProc::start(&[]);
    let dst = RedisProc::start(&[]);
    src.connect().cmd(&["SET", "k", "v"]);
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let state = tempfile::tempdir().expect("tempdir");
    let state_db = state.path().join("m.db");
    let from = format!("redis://127.0.0.1:{}", src.port());
    let to = format!("redis://127.0.0.1:{}", dst.port());
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = ferry_migrate(&[
        "bulk",
        "--run-id",
        "busy",
        "--from",
        &from,
        "--to",
        &to,
        "--state",
        state_db.to_str().expect("utf-8 path"),
        "--http",
        &addr,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn ferry");
    let out = wait_bounded(child, Duration::from_secs(30), "ferry migrate bulk");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
    assert!(
        err.contains(&format!(
            "--http {addr}: address in use; choose another port"
        )),
        "stderr:\n{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing was done: no registry, no key on the target.
    assert!(!state_db.exists(), "the run registry was created");
    assert_eq!(dbsize(&dst), 0);
    drop(taken);
}
