//! Differential test harness: a real `redis-server` (side A, the reference)
//! and ferry (side B) started on random loopback ports, raw RESP connections
//! that read back exactly one reply frame as bytes, and a [`Pair`] that sends
//! the same command to both sides and asserts byte-identical replies.
//!
//! Side B is `ferry serve` unless `FERRY_DIFF_B=redis` is set, in which case it
//! is a second `redis-server`: every differential test must then pass, which
//! checks the harness and the tests themselves against the reference.
//!
//! Other switches:
//! * `FERRY_DIFF_CONTINUE=1`: a mismatch is printed (`MISMATCH at file:line: ...`)
//!   and the test carries on, failing at the end with the whole list: one run
//!   shows every difference instead of the first per test (later commands may
//!   then differ only because the state already diverged).
//! * `FERRY_PROPTEST_CASES=N`: more (or fewer) cases for `proptest_diff`.
//!
//! Network rule: everything here talks only to servers it started on
//! 127.0.0.1, and every wait is bounded.
#![allow(dead_code)]

pub mod cluster;
pub mod dataset;
pub mod http;
pub mod raft_cluster;
pub mod random;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to answer PING after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read timeout on test connections: a missing reply fails the test instead of hanging.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/// Finds `name` on PATH (or /usr/bin, /usr/local/bin), panicking with install
/// instructions when it is missing. Tests never skip silently.
pub fn require_binary(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/bin".into());
    dirs.push("/usr/local/bin".into());
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    let package = match name {
        "redis-cli" | "redis-benchmark" => "redis-tools",
        other => other,
    };
    panic!(
        "`{name}` was not found on PATH. The tests need it (a real Redis is the reference, \
         openssl makes TLS certificates): install it with `apt-get install -y {package}` \
         (Debian/Ubuntu), or run `bash scripts/test.sh`, which installs it."
    );
}

/// The ferry binary built by cargo for this test run.
/// Runs `ferry ARGS...` to the end: its exit code and its stdout then
/// stderr.
pub fn ferry_output(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(ferry_binary())
        .args(args)
        .output()
        .expect("running the ferry binary");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub fn ferry_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferry"))
}

/// True when side B should be a second redis-server (harness self-check).
pub fn side_b_is_redis() -> bool {
    matches!(std::env::var("FERRY_DIFF_B").as_deref(), Ok("redis"))
}

/// A self-signed certificate for 127.0.0.1/localhost made with openssl in
/// `dir`: (key file, certificate file).
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let openssl = require_binary("openssl");
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
    (key, cert)
}

/// redis-server arguments for a TLS port with that certificate (clients
/// need no certificate of their own).
pub fn tls_server_args(tls_port: u16, key: &Path, cert: &Path) -> Vec<String> {
    let (k, c) = (key.display().to_string(), cert.display().to_string());
    [
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &c,
        "--tls-key-file",
        &k,
        "--tls-ca-cert-file",
        &c,
        "--tls-auth-clients",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A loopback port that is free now, chosen below the kernel's ephemeral range.
///
/// A port from `bind(0)` comes from the ephemeral range, the same range the kernel
/// uses for the local end of outgoing connections: between this choice and the
/// server's own bind, any outgoing connection on the machine (a Raft node dialing
/// its peers, a concurrent test) may take it. Below that range only a listener
/// can, so a port is picked at random in `[10000, low)` and checked by binding.
/// Ports handed out before by this process are never given again.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    const LOW: u16 = 10000;
    let high = ephemeral_low();
    if high > LOW + 1000 {
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        let given = given.get_or_insert_with(HashSet::new);
        for _ in 0..5000 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            let p = LOW + (h.finish() % u64::from(high - LOW)) as u16;
            if given.contains(&p) {
                continue;
            }
            if TcpListener::bind(("127.0.0.1", p)).is_ok() {
                given.insert(p);
                return p;
            }
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}

/// The first port of the kernel's ephemeral range (`ip_local_port_range`),
/// 32768 where it cannot be read.
pub fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

pub fn read_file_lossy(p: &Path) -> String {
    match std::fs::read(p) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b).into_owned();
            // keep panic messages readable
            if s.len() > 4000 {
                format!("...{}", &s[s.len() - 4000..])
            } else {
                s
            }
        }
        Err(e) => format!("<could not read {}: {e}>", p.display()),
    }
}

pub fn kill_child(child: &mut Child) {
    // Child::kill sends SIGKILL to this child's pid only.
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM to our own child (by pid) and waits up to `grace` for it to exit,
/// then SIGKILLs it.
fn term_child(child: &mut Child, grace: Duration) {
    let pid = child.id().to_string();
    let _ = Command::new("kill")
        .args(["-TERM", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_child(child);
}

/// Outcome of waiting for a freshly spawned server.
pub enum Wait {
    Ready,
    /// The child exited before answering (e.g. port taken): may retry on another port.
    Exited(String),
}

/// The `process_id` a server reports in INFO server.
fn server_pid(s: &mut TcpStream) -> Option<u32> {
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
        let t = String::from_utf8_lossy(&text);
        if let Some(rest) = t.split("process_id:").nth(1) {
            if let Some(line) = rest.split("\r\n").next().filter(|_| rest.contains("\r\n")) {
                return line.trim().parse().ok();
            }
        }
    }
    None
}

/// Waits until `port` answers a RESP PING (PONG, or NOAUTH when a password is set).
pub fn wait_ready(child: &mut Child, port: u16, log: &Path, what: &str) -> Wait {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Wait::Exited(format!(
                "{what} exited with {status} before answering PING on port {port}; its output:\n{}",
                read_file_lossy(log)
            ));
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
            if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    let r = &buf[..n];
                    if r.starts_with(b"-NOAUTH") {
                        return Wait::Ready;
                    }
                    if r.starts_with(b"+PONG") {
                        // Tests pick ports by binding port 0 and releasing it,
                        // so another test's server may hold this one while
                        // ours failed to bind: only our own pid counts.
                        return match server_pid(&mut s) {
                            Some(pid) if pid != child.id() => {
                                kill_child(child);
                                Wait::Exited(format!(
                                    "port {port} is held by another server (pid {pid}); {what} (pid {}) could not bind it",
                                    child.id()
                                ))
                            }
                            _ => Wait::Ready,
                        };
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            kill_child(child);
            panic!(
                "{what} did not answer PING on 127.0.0.1:{port} within {:?}; its output:\n{}",
                START_TIMEOUT,
                read_file_lossy(log)
            );
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

// ---------------------------------------------------------------------------
// redis-server
// ---------------------------------------------------------------------------

/// A `redis-server` child on a random loopback port with a private temp dir.
pub struct RedisProc {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl RedisProc {
    /// Starts `redis-server --port P --bind 127.0.0.1 --save "" --appendonly no --dir <tmp>`
    /// plus `extra_args` (e.g. `["--requirepass", "pw"]`).
    pub fn start(extra_args: &[&str]) -> RedisProc {
        let bin = require_binary("redis-server");
        let dir = tempfile::Builder::new()
            .prefix("ferry-test-redis-")
            .tempdir()
            .expect("tempdir");
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("redis-{attempt}.log"));
            let out = std::fs::File::create(&log).expect("create log");
            let mut child = Command::new(&bin)
                .arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra_args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            match wait_ready(&mut child, port, &log, "redis-server") {
                Wait::Ready => {
                    return RedisProc {
                        child,
                        port,
                        dir,
                        log,
                    }
                }
                Wait::Exited(msg) => last_err = msg,
            }
        }
        panic!("could not start redis-server after 5 attempts: {last_err}");
    }

    /// SIGKILL (the process is gone when this returns).
    pub fn kill9(&mut self) {
        kill_child(&mut self.child);
    }

    /// A new redis-server on the same port and directory after
    /// [`RedisProc::kill9`] (so with `--appendonly yes` it comes back with
    /// its data).
    pub fn restart(&mut self, extra_args: &[&str]) {
        let bin = require_binary("redis-server");
        let log = self.dir.path().join("redis-restarted.log");
        let started = std::time::Instant::now();
        loop {
            let out = std::fs::File::create(&log).expect("create log");
            let mut child = Command::new(&bin)
                .arg("--port")
                .arg(self.port.to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(self.dir.path())
                .args(extra_args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            match wait_ready(&mut child, self.port, &log, "redis-server") {
                Wait::Ready => {
                    self.child = child;
                    self.log = log;
                    return;
                }
                // The old socket may linger a moment.
                Wait::Exited(msg) if started.elapsed() > Duration::from_secs(10) => {
                    panic!(
                        "could not restart redis-server on port {}: {msg}",
                        self.port
                    )
                }
                Wait::Exited(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn log(&self) -> String {
        read_file_lossy(&self.log)
    }
    pub fn connect(&self) -> RawConn {
        RawConn::connect(self.port)
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

// ---------------------------------------------------------------------------
// ferry serve
// ---------------------------------------------------------------------------

/// Options for [`FerryProc::start`].
#[derive(Clone, Debug, Default)]
pub struct FerryOpts {
    /// `--durability always|everysec|no`
    pub durability: Option<String>,
    /// `--requirepass PASS`
    pub requirepass: Option<String>,
    /// Anything else, appended verbatim.
    pub extra: Vec<String>,
}

impl FerryOpts {
    pub fn durability(mut self, d: &str) -> Self {
        self.durability = Some(d.to_string());
        self
    }
    pub fn requirepass(mut self, p: &str) -> Self {
        self.requirepass = Some(p.to_string());
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.to_string());
        self
    }
}

/// `ferry serve` on a random loopback port with a data file in a private temp dir.
/// The temp dir outlives restarts, so [`FerryProc::restart`] reopens the same file.
pub struct FerryProc {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    data: PathBuf,
    opts: FerryOpts,
    log: PathBuf,
    starts: u32,
}

impl FerryProc {
    pub fn start(opts: FerryOpts) -> FerryProc {
        let dir = tempfile::Builder::new()
            .prefix("ferry-test-ferry-")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("ferry.db");
        let mut p = FerryProc {
            child: None,
            port: 0,
            log: dir.path().join("ferry-0.log"),
            dir,
            data,
            opts,
            starts: 0,
        };
        p.spawn(None);
        p
    }

    fn args(&self, port: u16) -> Vec<String> {
        let mut a = vec![
            "serve".to_string(),
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--data".into(),
            self.data.display().to_string(),
        ];
        if let Some(d) = &self.opts.durability {
            a.push("--durability".into());
            a.push(d.clone());
        }
        if let Some(p) = &self.opts.requirepass {
            a.push("--requirepass".into());
            a.push(p.clone());
        }
        a.extend(self.opts.extra.iter().cloned());
        a
    }

    /// Spawns the child, preferring `port` (restart on the same port) and
    /// falling back to fresh random ports.
    fn spawn(&mut self, prefer_port: Option<u16>) {
        let bin = ferry_binary();
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = match (attempt, prefer_port) {
                (0, Some(p)) => p,
                _ => free_port(),
            };
            self.starts += 1;
            let log = self.dir.path().join(format!("ferry-{}.log", self.starts));
            let out = std::fs::File::create(&log).expect("create log");
            let mut child = Command::new(&bin)
                .args(self.args(port))
                .env("RUST_BACKTRACE", "1")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            match wait_ready(&mut child, port, &log, "ferry serve") {
                Wait::Ready => {
                    self.child = Some(child);
                    self.port = port;
                    self.log = log;
                    return;
                }
                Wait::Exited(msg) => last_err = msg,
            }
        }
        panic!(
            "could not start `ferry {}` after 5 attempts: {last_err}",
            self.args(0).join(" ")
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    /// Pid of the running child (panics if it was killed and not restarted).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("ferry is not running").id()
    }
    pub fn data_path(&self) -> &Path {
        &self.data
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// Output (stdout+stderr) of the current or last run.
    pub fn log(&self) -> String {
        read_file_lossy(&self.log)
    }
    pub fn connect(&self) -> RawConn {
        RawConn::connect(self.port)
    }
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL: simulates a crash. The data file stays for [`restart`](Self::restart).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_child(&mut c);
        }
    }

    /// SIGTERM with a bounded grace period (then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            term_child(&mut c, Duration::from_secs(10));
        }
    }

    /// Starts ferry again on the same data file (stopping it first if still
    /// running), on the same port when that port is still free.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        let port = self.port;
        self.spawn(Some(port));
    }
}

impl Drop for FerryProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_child(&mut c);
        }
    }
}

/// The server under test: ferry, or a second redis-server when `FERRY_DIFF_B=redis`.
pub enum Subject {
    Ferry(FerryProc),
    Redis(RedisProc),
}

impl Subject {
    /// Starts the subject. `redis_args` are used when the subject is a
    /// redis-server and must express the same configuration as `opts`.
    pub fn start(opts: FerryOpts) -> Subject {
        if side_b_is_redis() {
            let mut args: Vec<String> = Vec::new();
            if let Some(p) = &opts.requirepass {
                args.push("--requirepass".into());
                args.push(p.clone());
            }
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            Subject::Redis(RedisProc::start(&args))
        } else {
            Subject::Ferry(FerryProc::start(opts))
        }
    }
    pub fn port(&self) -> u16 {
        match self {
            Subject::Ferry(f) => f.port(),
            Subject::Redis(r) => r.port(),
        }
    }
    pub fn pid(&self) -> u32 {
        match self {
            Subject::Ferry(f) => f.pid(),
            Subject::Redis(r) => r.pid(),
        }
    }
    pub fn connect(&self) -> RawConn {
        RawConn::connect(self.port())
    }
    pub fn log(&self) -> String {
        match self {
            Subject::Ferry(f) => f.log(),
            Subject::Redis(r) => r.log(),
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Subject::Ferry(_) => "ferry",
            Subject::Redis(_) => "redis(B)",
        }
    }
}

// ---------------------------------------------------------------------------
// RESP frames
// ---------------------------------------------------------------------------

/// A parsed RESP2/RESP3 reply, used where raw bytes cannot be compared.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`
    NullBulk,
    Array(Vec<Resp>),
    /// `*-1`
    NullArray,
    /// RESP3 `_`
    Null,
    /// RESP3 `,` (kept as text)
    Double(String),
    /// RESP3 `#`
    Bool(bool),
    /// RESP3 `(`
    BigNumber(String),
    /// RESP3 `!`
    BlobError(Vec<u8>),
    /// RESP3 `=` (including the `txt:` prefix)
    Verbatim(Vec<u8>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Push(Vec<Resp>),
    /// RESP3 `|` attribute, followed by the reply it annotates.
    Attribute(Vec<(Resp, Resp)>, Box<Resp>),
}

impl Resp {
    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_) | Resp::BlobError(_))
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Resp::Null | Resp::NullBulk | Resp::NullArray)
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Resp::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// Bytes of a bulk/simple/verbatim/double/bignum reply.
    pub fn as_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Resp::Simple(s) | Resp::Double(s) | Resp::BigNumber(s) => Some(s.as_bytes().to_vec()),
            Resp::Bulk(b) => Some(b.clone()),
            Resp::Verbatim(b) => Some(b.get(4..).unwrap_or_default().to_vec()),
            Resp::Int(i) => Some(i.to_string().into_bytes()),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// Elements of an array/set/push reply.
    pub fn elements(&self) -> Option<&[Resp]> {
        match self {
            Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => Some(v),
            _ => None,
        }
    }
    /// Key/value pairs of a RESP3 map, or of a RESP2 flat array of pairs.
    pub fn pairs(&self) -> Option<Vec<(Resp, Resp)>> {
        match self {
            Resp::Map(m) => Some(m.clone()),
            Resp::Array(v) if v.len() % 2 == 0 => {
                Some(v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect())
            }
            _ => None,
        }
    }
    /// A short name of the frame type, for shape comparisons.
    pub fn kind(&self) -> &'static str {
        match self {
            Resp::Simple(_) => "simple",
            Resp::Error(_) => "error",
            Resp::Int(_) => "integer",
            Resp::Bulk(_) => "bulk",
            Resp::NullBulk => "null-bulk",
            Resp::Array(_) => "array",
            Resp::NullArray => "null-array",
            Resp::Null => "null",
            Resp::Double(_) => "double",
            Resp::Bool(_) => "bool",
            Resp::BigNumber(_) => "bignum",
            Resp::BlobError(_) => "blob-error",
            Resp::Verbatim(_) => "verbatim",
            Resp::Map(_) => "map",
            Resp::Set(_) => "set",
            Resp::Push(_) => "push",
            Resp::Attribute(..) => "attribute",
        }
    }
}

/// Parses one complete frame at the start of `buf`.
/// `Ok(None)` means more bytes are needed; `Err` means the bytes are not RESP.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Resp, usize)>, String> {
    let mut pos = 0;
    match parse_at(buf, &mut pos)? {
        Some(r) => Ok(Some((r, pos))),
        None => Ok(None),
    }
}

/// Parses every frame in `buf`, which must hold complete frames only.
pub fn parse_all(buf: &[u8]) -> Result<Vec<Resp>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match parse_at(buf, &mut pos)? {
            Some(r) => out.push(r),
            None => return Err(format!("incomplete frame at byte {pos}")),
        }
    }
    Ok(out)
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = buf[start..].windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn line_str(line: &[u8]) -> Result<String, String> {
    String::from_utf8(line.to_vec()).map_err(|_| format!("non-UTF-8 line {:?}", escape(line)))
}

fn line_int(line: &[u8]) -> Result<i64, String> {
    let s = line_str(line)?;
    s.parse::<i64>()
        .map_err(|_| format!("bad length/integer {s:?}"))
}

fn parse_at(buf: &[u8], pos: &mut usize) -> Result<Option<Resp>, String> {
    if *pos >= buf.len() {
        return Ok(None);
    }
    let start = *pos;
    let ty = buf[start];
    *pos += 1;
    let line = match read_line(buf, pos) {
        Some(l) => l,
        None => {
            *pos = start;
            return Ok(None);
        }
    };
    macro_rules! need {
        ($e:expr) => {
            match $e? {
                Some(v) => v,
                None => {
                    *pos = start;
                    return Ok(None);
                }
            }
        };
    }
    let r = match ty {
        b'+' => Resp::Simple(line_str(line)?),
        b'-' => Resp::Error(line_str(line)?),
        b':' => Resp::Int(line_int(line)?),
        b'_' => Resp::Null,
        b',' => Resp::Double(line_str(line)?),
        b'(' => Resp::BigNumber(line_str(line)?),
        b'#' => match line {
            b"t" => Resp::Bool(true),
            b"f" => Resp::Bool(false),
            _ => return Err(format!("bad boolean {:?}", escape(line))),
        },
        b'$' | b'!' | b'=' => {
            let n = line_int(line)?;
            if n < 0 {
                if ty == b'$' && n == -1 {
                    Resp::NullBulk
                } else {
                    return Err(format!("bad blob length {n}"));
                }
            } else {
                let n = n as usize;
                if buf.len() < *pos + n + 2 {
                    *pos = start;
                    return Ok(None);
                }
                let data = buf[*pos..*pos + n].to_vec();
                if &buf[*pos + n..*pos + n + 2] != b"\r\n" {
                    return Err("blob not terminated by CRLF".into());
                }
                *pos += n + 2;
                match ty {
                    b'$' => Resp::Bulk(data),
                    b'!' => Resp::BlobError(data),
                    _ => Resp::Verbatim(data),
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let n = line_int(line)?;
            if n < 0 {
                if ty == b'*' && n == -1 {
                    Resp::NullArray
                } else {
                    return Err(format!("bad aggregate length {n}"));
                }
            } else {
                let mut v = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    v.push(need!(parse_at(buf, pos)));
                }
                match ty {
                    b'*' => Resp::Array(v),
                    b'~' => Resp::Set(v),
                    _ => Resp::Push(v),
                }
            }
        }
        b'%' | b'|' => {
            let n = line_int(line)?;
            if n < 0 {
                return Err(format!("bad map length {n}"));
            }
            let mut m = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                let k = need!(parse_at(buf, pos));
                let v = need!(parse_at(buf, pos));
                m.push((k, v));
            }
            if ty == b'%' {
                Resp::Map(m)
            } else {
                let inner = need!(parse_at(buf, pos));
                Resp::Attribute(m, Box::new(inner))
            }
        }
        other => {
            return Err(format!(
                "unknown RESP type byte {:?} in {:?}",
                other as char,
                escape(&buf[start..buf.len().min(start + 80)])
            ))
        }
    };
    Ok(Some(r))
}

/// Escapes bytes for panic messages: printable ASCII as is, `\r` `\n` `\t` and
/// `\xNN` otherwise.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 8);
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    if s.len() > 2000 {
        let cut = s
            .char_indices()
            .nth(2000)
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        format!("{}...<{} bytes total>", &s[..cut], b.len())
    } else {
        s
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn show_cmd<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| {
            let e = escape(a.as_ref());
            if e.is_empty() || e.contains(' ') {
                format!("\"{e}\"")
            } else {
                e
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// RawConn
// ---------------------------------------------------------------------------

/// A raw RESP connection: sends bytes, reads back whole reply frames as bytes.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    port: u16,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            start: 0,
            port,
        }
    }

    /// Connects with `timeout` for the connect and each read/write,
    /// returning errors instead of panicking (the server may be down).
    pub fn try_connect(port: u16, timeout: Duration) -> Result<RawConn, String> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let _ = stream.set_nodelay(true);
        Ok(RawConn {
            stream,
            buf: Vec::new(),
            start: 0,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.stream.set_read_timeout(Some(t)).unwrap();
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to 127.0.0.1:{}: {e}", self.port));
    }

    /// Writes raw bytes, returning the error instead of panicking (the server may
    /// already have closed the connection).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` from a background thread (for large pipelines, so the
    /// test can read replies while the write is still in progress).
    pub fn send_raw_in_background(
        &self,
        bytes: Vec<u8>,
    ) -> std::thread::JoinHandle<std::io::Result<()>> {
        let mut s = self.stream.try_clone().expect("clone stream");
        std::thread::spawn(move || s.write_all(&bytes))
    }

    /// Sends a command as a RESP multibulk (without reading the reply).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let b = encode_command(args);
        self.send_raw(&b);
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 1 << 16 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut tmp = [0u8; 65536];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Reads exactly one complete reply frame, returning its raw bytes.
    pub fn try_read_reply(&mut self) -> Result<Vec<u8>, String> {
        loop {
            match parse_frame(&self.buf[self.start..]) {
                Ok(Some((_, n))) => {
                    let out = self.buf[self.start..self.start + n].to_vec();
                    self.start += n;
                    return Ok(out);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "malformed reply from 127.0.0.1:{}: {e}; buffered: {}",
                        self.port,
                        escape(&self.buf[self.start..])
                    ))
                }
            }
            match self.fill() {
                Ok(0) => {
                    return Err(format!(
                        "connection to 127.0.0.1:{} closed before a complete reply; buffered: {:?}",
                        self.port,
                        escape(&self.buf[self.start..])
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "reading from 127.0.0.1:{}: {e}; buffered: {:?}",
                        self.port,
                        escape(&self.buf[self.start..])
                    ))
                }
            }
        }
    }

    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends a command and reads one reply frame.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("command `{}`: {e}", show_cmd(args)))
    }

    /// Sends a command and reads one reply frame, returning errors (write
    /// failure, close, timeout) instead of panicking.
    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Vec<u8>, String> {
        self.try_send_raw(&encode_command(args))
            .map_err(|e| format!("write to 127.0.0.1:{}: {e}", self.port))?;
        self.try_read_reply()
    }

    /// Sends a command and parses its reply.
    pub fn cmd_parsed<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        let b = self.cmd(args);
        parse_frame(&b).unwrap().unwrap().0
    }

    /// Reads everything until the server closes the connection (bounded by the
    /// read timeout). Returns the bytes and whether the close was observed.
    pub fn read_until_close(&mut self) -> (Vec<u8>, bool) {
        let mut closed = false;
        loop {
            match self.fill() {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionReset
                        || e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    closed = true;
                    break;
                }
                Err(_) => break, // timeout
            }
        }
        let out = self.buf[self.start..].to_vec();
        self.start = self.buf.len();
        (out, closed)
    }

    /// Closes the write half (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

// ---------------------------------------------------------------------------
// Pair
// ---------------------------------------------------------------------------

/// One connection to each side. `a` is redis-server (the reference), `b` the subject.
pub struct ConnPair {
    pub a: RawConn,
    pub b: RawConn,
    pub b_name: &'static str,
    /// Mismatches recorded in `FERRY_DIFF_CONTINUE` mode.
    pub failures: Vec<String>,
}

/// `FERRY_DIFF_CONTINUE=1`: report every mismatch of a test instead of stopping at the first.
pub fn continue_mode() -> bool {
    matches!(std::env::var("FERRY_DIFF_CONTINUE").as_deref(), Ok("1"))
}

impl Drop for ConnPair {
    fn drop(&mut self) {
        if !self.failures.is_empty() && !std::thread::panicking() {
            panic!(
                "{} mismatch(es):\n{}",
                self.failures.len(),
                self.failures.join("\n")
            );
        }
    }
}

fn mismatch<A: AsRef<[u8]>>(what: &str, args: &[A], a: &[u8], b: &[u8], b_name: &str) -> String {
    format!(
        "{what} for `{}`\n  redis: {}\n  {b_name}: {}",
        show_cmd(args),
        escape(a),
        escape(b)
    )
}

pub fn parse_one(b: &[u8]) -> Resp {
    parse_frame(b)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("incomplete frame {}", escape(b)))
        .0
}

/// Sorted raw encodings of the elements of a flat aggregate.
fn sorted_elements(b: &[u8]) -> Option<(String, Vec<Vec<u8>>)> {
    let r = parse_one(b);
    let kind = r.kind().to_string();
    let els = r.elements()?;
    let mut out: Vec<Vec<u8>> = els.iter().map(|e| format!("{e:?}").into_bytes()).collect();
    out.sort();
    Some((kind, out))
}

impl ConnPair {
    /// Records a mismatch: panics at once, or with `FERRY_DIFF_CONTINUE=1`
    /// prints it and carries on (the test still fails when the pair is dropped).
    #[track_caller]
    pub fn fail(&mut self, msg: String) {
        let loc = std::panic::Location::caller();
        if continue_mode() {
            eprintln!("MISMATCH at {loc}: {msg}");
            self.failures.push(format!("at {loc}: {msg}"));
        } else {
            panic!("{msg}");
        }
    }

    /// Sends `args` to both sides and asserts the raw replies are identical.
    /// Returns the (common) reply bytes.
    #[track_caller]
    pub fn same<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let (a, b) = self.both(args);
        if a != b {
            self.fail(mismatch("replies differ", args, &a, &b, self.b_name));
        }
        a
    }

    /// Like [`same`](Self::same) and also asserts the reply equals `expected`
    /// (for setup steps whose result matters).
    #[track_caller]
    pub fn same_expect<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &[u8]) -> Vec<u8> {
        let r = self.same(args);
        if r != expected {
            self.fail(format!(
                "unexpected reply for `{}`: {} (expected {})",
                show_cmd(args),
                escape(&r),
                escape(expected)
            ));
        }
        r
    }

    /// Sends `args` to both sides without comparing.
    pub fn both<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Vec<u8>, Vec<u8>) {
        let a = self.a.cmd(args);
        let b = self.b.cmd(args);
        (a, b)
    }

    /// Sends `cmds` to both sides in one write (a pipeline) and compares
    /// the first `expect_frames` replies frame by frame (fewer than the
    /// commands when some reply is dropped, as with CLIENT REPLY); then a
    /// PING on both shows nothing else came.
    #[track_caller]
    pub fn same_pipeline(&mut self, cmds: &[&[&str]], expect_frames: usize) {
        let mut raw = Vec::new();
        for c in cmds {
            raw.extend(encode_command(c));
        }
        self.a.send_raw(&raw);
        self.b.send_raw(&raw);
        for i in 0..expect_frames {
            let a = self.a.read_reply();
            let b = self.b.read_reply();
            if a != b {
                let what = format!("reply {i} of a {}-command pipeline differs", cmds.len());
                let cmd = cmds.get(i).copied().unwrap_or_default();
                self.fail(mismatch(&what, cmd, &a, &b, self.b_name));
            }
        }
        self.same(&["PING"]);
    }

    /// Sends the same raw bytes to both sides and compares one reply frame.
    #[track_caller]
    pub fn same_raw(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.a.send_raw(bytes);
        self.b.send_raw(bytes);
        let a = self.a.read_reply();
        let b = self
            .b
            .try_read_reply()
            .unwrap_or_else(|e| panic!("raw input {}: {} {e}", escape(bytes), self.b_name));
        if a != b {
            self.fail(mismatch("replies differ", &[bytes], &a, &b, self.b_name));
        }
        a
    }

    /// For replies whose element order is unspecified (KEYS, SMEMBERS...):
    /// both must be the same aggregate type with the same multiset of elements.
    /// Returns the sorted elements (parsed).
    #[track_caller]
    pub fn same_unordered<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<Resp> {
        let (a, b) = self.both(args);
        match (sorted_elements(&a), sorted_elements(&b)) {
            (Some(x), Some(y)) if x == y => {}
            (None, None) if a == b => {}
            _ => self.fail(mismatch(
                "unordered replies differ",
                args,
                &a,
                &b,
                self.b_name,
            )),
        }
        let mut v = parse_one(&a)
            .elements()
            .map(|e| e.to_vec())
            .unwrap_or_default();
        v.sort_by_key(|e| format!("{e:?}"));
        v
    }

    /// Both replies must be integers within `tol` of each other (for TTL/PTTL/
    /// IDLETIME), or byte-identical otherwise (e.g. the same error). Negative
    /// integers (-1/-2 codes) must be exactly equal.
    #[track_caller]
    pub fn close_int<A: AsRef<[u8]>>(&mut self, args: &[A], tol: i64) -> i64 {
        let (a, b) = self.both(args);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        match (ra.as_int(), rb.as_int()) {
            (Some(x), Some(y)) => {
                let ok = if x < 0 || y < 0 {
                    x == y
                } else {
                    (x - y).abs() <= tol
                };
                if !ok {
                    self.fail(mismatch(
                        &format!("integers differ by more than {tol}"),
                        args,
                        &a,
                        &b,
                        self.b_name,
                    ));
                }
                x
            }
            _ => {
                if a != b {
                    self.fail(mismatch("replies differ", args, &a, &b, self.b_name));
                }
                i64::MIN
            }
        }
    }

    /// Both replies have the same RESP type (and, for aggregates, the same length).
    #[track_caller]
    pub fn same_shape<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Resp, Resp) {
        let (a, b) = self.both(args);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let len = |r: &Resp| r.elements().map(|e| e.len());
        if ra.kind() != rb.kind() || len(&ra) != len(&rb) {
            self.fail(mismatch("reply shapes differ", args, &a, &b, self.b_name));
        }
        (ra, rb)
    }

    /// Both replies are maps (RESP3) or flat pair arrays (RESP2) with the same
    /// set of keys, in the same order. Returns both parsed replies.
    #[track_caller]
    pub fn same_keys<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Resp, Resp) {
        let (a, b) = self.both(args);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let keys = |r: &Resp| -> Option<Vec<String>> {
            Some(
                r.pairs()?
                    .iter()
                    .map(|(k, _)| k.as_str().unwrap_or_default())
                    .collect(),
            )
        };
        if ra.kind() != rb.kind() || keys(&ra).is_none() || keys(&ra) != keys(&rb) {
            self.fail(mismatch("map keys differ", args, &a, &b, self.b_name));
        }
        (ra, rb)
    }

    /// Sends HELLO 3 on both connections and checks the reply structure.
    #[track_caller]
    pub fn hello3(&mut self) {
        let (a, b) = self.same_keys(&["HELLO", "3"]);
        for k in ["proto", "mode", "role"] {
            let va = a
                .pairs()
                .unwrap()
                .into_iter()
                .find(|(x, _)| x.as_str().as_deref() == Some(k));
            let vb = b
                .pairs()
                .unwrap()
                .into_iter()
                .find(|(x, _)| x.as_str().as_deref() == Some(k));
            if va != vb {
                self.fail(format!(
                    "HELLO 3 field {k:?} differs: redis {va:?}, subject {vb:?}"
                ));
            }
        }
    }

    /// Runs a command on both sides, asserting both replies are `+OK`-equal.
    #[track_caller]
    pub fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.same_expect(args, b"+OK\r\n");
    }
}

/// A redis-server, the subject, and one connection to each.
pub struct Pair {
    pub redis: RedisProc,
    pub subject: Subject,
    pub conns: ConnPair,
}

impl std::ops::Deref for Pair {
    type Target = ConnPair;
    fn deref(&self) -> &ConnPair {
        &self.conns
    }
}
impl std::ops::DerefMut for Pair {
    fn deref_mut(&mut self) -> &mut ConnPair {
        &mut self.conns
    }
}

impl Pair {
    /// Default servers, RESP2 connections.
    pub fn new() -> Pair {
        Pair::with(&[], FerryOpts::default())
    }

    /// Servers started with extra options. `redis_args` and `opts` must express
    /// the same configuration (e.g. `--requirepass`).
    pub fn with(redis_args: &[&str], opts: FerryOpts) -> Pair {
        let redis = RedisProc::start(redis_args);
        let subject = Subject::start(opts);
        let conns = ConnPair {
            a: redis.connect(),
            b: subject.connect(),
            b_name: subject.name(),
            failures: Vec::new(),
        };
        Pair {
            redis,
            subject,
            conns,
        }
    }

    /// Default servers, connections switched to RESP3 with HELLO 3 when `proto == 3`.
    pub fn proto(proto: u8) -> Pair {
        let mut p = Pair::new();
        if proto == 3 {
            p.hello3();
        }
        p
    }

    /// Another connection to each side.
    pub fn connect(&self) -> ConnPair {
        ConnPair {
            a: self.redis.connect(),
            b: self.subject.connect(),
            b_name: self.subject.name(),
            failures: Vec::new(),
        }
    }
}

/// Generates `name::resp2` and `name::resp3` tests running `body` against a
/// fresh [`Pair`] (the RESP3 one after `HELLO 3` on both connections).
#[macro_export]
macro_rules! diff_test {
    ($name:ident, |$p:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_variables, unused_mut)]
            fn body($p: &mut $crate::common::Pair) $body
            #[test]
            fn resp2() {
                let mut p = $crate::common::Pair::proto(2);
                body(&mut p);
            }
            #[test]
            fn resp3() {
                let mut p = $crate::common::Pair::proto(3);
                body(&mut p);
            }
        }
    };
}

/// Is the subject speaking RESP3 on this pair? (Checks with a cheap command.)
pub fn is_resp3(p: &mut ConnPair) -> bool {
    p.a.cmd(&["HELLO"]).starts_with(b"%")
}

// ---------------------------------------------------------------------------
// redis-py, a real client, for the tests that run its scripts
// ---------------------------------------------------------------------------

/// `tests/clients/redis-py`: the Python scripts and the pinned requirements.
pub fn redis_py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis-py")
}

/// The python of the virtualenv `venv` (a directory name under
/// [`redis_py_dir`]) with the pinned redis-py, created from PyPI on first
/// use. Each test binary uses its own `venv`, so two never build the same
/// one at once.
pub fn redis_py_venv(venv: &str) -> PathBuf {
    let dir = redis_py_dir();
    let python = dir.join(venv).join("bin/python");
    let ready = dir.join(venv).join(".requirements-installed");
    if ready.is_file() {
        return python;
    }
    let system = require_binary("python3");
    let run = |cmd: &mut std::process::Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (needs python3-venv and access to PyPI):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        std::process::Command::new(&system)
            .args(["-m", "venv", venv])
            .current_dir(&dir),
        "python3 -m venv",
    );
    run(
        std::process::Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r", "requirements.txt"])
            .current_dir(&dir),
        "pip install -r requirements.txt",
    );
    std::fs::write(&ready, b"").expect("mark venv ready");
    python
}
