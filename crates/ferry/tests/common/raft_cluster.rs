//! A cluster of `ferry serve --raft` processes on loopback ports, for the
//! replication tests: start, find the leader, kill -9, pause (SIGSTOP),
//! restart (optionally from an empty directory), and compare the nodes'
//! data.

use super::{
    encode_command, ferry_binary, free_port, kill_child, parse_frame, read_file_lossy, wait_ready,
    RawConn, Resp, Wait,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    pub id: u64,
    pub port: u16,
    pub raft_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    starts: u32,
    /// Extra `ferry serve` arguments for this node.
    pub extra: Vec<String>,
    /// Started with the cluster's `--peers` (else it waits to be added).
    with_peers: bool,
}

impl Node {
    pub fn data(&self) -> PathBuf {
        self.dir.join("ferry.db")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node is not running").id()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Output of the current (or last) run.
    pub fn log(&self) -> String {
        read_file_lossy(&self.log)
    }

    /// Every run's output.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=self.starts {
            out.push_str(&read_file_lossy(&self.dir.join(format!("run-{i}.log"))));
        }
        out
    }
}

pub struct RaftCluster {
    _tmp: tempfile::TempDir,
    pub nodes: Vec<Node>,
    peers: String,
}

/// Sends one command on a fresh connection; errors (down, timeout, error
/// reply) come back as Err with the text.
pub fn ask(port: u16, args: &[&str], timeout: Duration) -> Result<Resp, String> {
    let mut c = RawConn::try_connect(port, timeout)?;
    let b = c.try_cmd(args)?;
    let r = parse_frame(&b)?.ok_or("incomplete reply")?.0;
    match r {
        Resp::Error(e) => Err(e),
        other => Ok(other),
    }
}

/// `INFO replication` as a map.
pub fn replication_info(port: u16) -> Result<BTreeMap<String, String>, String> {
    let r = ask(port, &["INFO", "replication"], Duration::from_secs(2))?;
    let text = String::from_utf8_lossy(&r.as_bytes().unwrap_or_default()).into_owned();
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

impl RaftCluster {
    /// Starts `n` nodes that form one cluster; `extra` goes to every node.
    pub fn start(n: u64, extra: &[&str]) -> RaftCluster {
        let tmp = tempfile::Builder::new()
            .prefix("ferry-test-raft-")
            .tempdir()
            .expect("tempdir");
        let mut nodes = Vec::new();
        for id in 1..=n {
            let dir = tmp.path().join(format!("n{id}"));
            std::fs::create_dir_all(&dir).expect("node dir");
            nodes.push(Node {
                id,
                port: free_port(),
                raft_port: free_port(),
                log: dir.join("run-0.log"),
                dir,
                child: None,
                starts: 0,
                extra: extra.iter().map(|s| s.to_string()).collect(),
                with_peers: true,
            });
        }
        let peers = nodes
            .iter()
            .map(|n| format!("{}=127.0.0.1:{}", n.id, n.raft_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = RaftCluster {
            _tmp: tmp,
            nodes,
            peers,
        };
        for id in 1..=n {
            c.start_node(id);
        }
        c
    }

    /// Starts one more node that is not a member (no `--peers`): it waits
    /// for RAFT ADD-LEARNER. Returns its id.
    pub fn add_node(&mut self, extra: &[&str]) -> u64 {
        let id = self.nodes.len() as u64 + 1;
        let dir = self._tmp.path().join(format!("n{id}"));
        std::fs::create_dir_all(&dir).expect("node dir");
        self.nodes.push(Node {
            id,
            port: free_port(),
            raft_port: free_port(),
            log: dir.join("run-0.log"),
            dir,
            child: None,
            starts: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            with_peers: false,
        });
        self.start_node(id);
        id
    }

    pub fn node(&self, id: u64) -> &Node {
        &self.nodes[(id - 1) as usize]
    }

    fn node_mut(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    pub fn port(&self, id: u64) -> u16 {
        self.node(id).port
    }

    /// The `--peers` value of this cluster.
    pub fn peers(&self) -> &str {
        &self.peers
    }

    /// Starts (or restarts) node `id` on its ports and directory.
    pub fn start_node(&mut self, id: u64) {
        let peers = self.peers.clone();
        let bin = ferry_binary();
        let node = self.node_mut(id);
        assert!(node.child.is_none(), "node {id} is already running");
        node.starts += 1;
        node.log = node.dir.join(format!("run-{}.log", node.starts));
        let out = std::fs::File::create(&node.log).expect("log file");
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            node.port.to_string(),
            "--data".into(),
            node.data().display().to_string(),
            "--raft".into(),
            "--node-id".into(),
            id.to_string(),
            "--raft-addr".into(),
            format!("127.0.0.1:{}", node.raft_port),
        ];
        if node.with_peers {
            args.push("--peers".into());
            args.push(peers);
        }
        args.extend(node.extra.iter().cloned());
        let mut child = Command::new(&bin)
            .args(&args)
            // Panics keep their message in the (tail-truncated) logs.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        match wait_ready(&mut child, node.port, &node.log, "ferry serve --raft") {
            Wait::Ready => node.child = Some(child),
            Wait::Exited(msg) => panic!("node {id} did not start: {msg}"),
        }
    }

    /// SIGKILL node `id` (a crash; its files stay).
    pub fn kill9(&mut self, id: u64) {
        if let Some(mut c) = self.node_mut(id).child.take() {
            kill_child(&mut c);
        }
    }

    /// Removes every file of node `id` (it must be stopped).
    pub fn wipe(&mut self, id: u64) {
        let node = self.node_mut(id);
        assert!(node.child.is_none(), "stop node {id} before wiping it");
        for entry in std::fs::read_dir(&node.dir).expect("node dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("ferry.db") {
                let p = entry.path();
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).expect("remove dir");
                } else {
                    std::fs::remove_file(&p).expect("remove file");
                }
            }
        }
    }

    /// Pauses (SIGSTOP) or resumes (SIGCONT) node `id`: a node that stops
    /// answering without dying.
    pub fn pause(&self, id: u64, paused: bool) {
        let pid = self.node(id).pid();
        let sig = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill(2) on the pid of a child this harness started.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// The node that reports itself writable leader, waiting up to `within`.
    pub fn leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let leaders: Vec<u64> = self
                .nodes
                .iter()
                .filter(|n| n.is_running())
                .filter(|n| {
                    replication_info(n.port)
                        .is_ok_and(|i| i.get("raft_writable").map(String::as_str) == Some("1"))
                })
                .map(|n| n.id)
                .collect();
            if leaders.len() == 1 {
                return leaders[0];
            }
            if Instant::now() > deadline {
                panic!(
                    "no single writable leader within {within:?} (saw {leaders:?}); logs:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running node applied at least what the leader
    /// has committed.
    pub fn wait_caught_up(&self, leader: u64, within: Duration) {
        let target: u64 = replication_info(self.port(leader))
            .ok()
            .and_then(|i| i.get("raft_commit_index").and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let deadline = Instant::now() + within;
        for n in self.nodes.iter().filter(|n| n.is_running()) {
            loop {
                let applied: u64 = replication_info(n.port)
                    .ok()
                    .and_then(|i| i.get("raft_applied_index").and_then(|v| v.parse().ok()))
                    .unwrap_or(0);
                if applied >= target {
                    break;
                }
                if Instant::now() > deadline {
                    panic!(
                        "node {} applied {applied} < {target} after {within:?}; logs:\n{}",
                        n.id,
                        self.logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Every key of db 0 on node `id` with its DUMP payload and PTTL (read
    /// with READONLY, so followers answer too).
    pub fn contents(&self, id: u64) -> BTreeMap<Vec<u8>, (Vec<u8>, i64)> {
        let mut c = RawConn::connect(self.port(id));
        c.cmd(&["READONLY"]);
        let mut out = BTreeMap::new();
        let mut cursor = b"0".to_vec();
        for _ in 0..100_000 {
            let r = c.cmd_parsed(&[&b"SCAN"[..], &cursor, b"COUNT", b"1000"]);
            let parts = r
                .elements()
                .unwrap_or_else(|| {
                    let path = std::env::temp_dir()
                        .join(format!("ferry-raft-failure-{}.log", std::process::id()));
                    let _ = std::fs::write(&path, self.logs());
                    panic!("SCAN on node {id}: {r:?}; logs in {}", path.display())
                })
                .to_vec();
            cursor = parts[0].as_bytes().expect("cursor");
            let keys: Vec<Vec<u8>> = parts[1]
                .elements()
                .expect("keys")
                .iter()
                .filter_map(|k| k.as_bytes())
                .collect();
            let mut pipeline = Vec::new();
            for k in &keys {
                pipeline.extend(encode_command(&[&b"DUMP"[..], k]));
                pipeline.extend(encode_command(&[&b"PTTL"[..], k]));
            }
            c.send_raw(&pipeline);
            for k in keys {
                let dump = c.read_reply();
                let ttl = parse_frame(&c.read_reply())
                    .ok()
                    .flatten()
                    .and_then(|r| r.0.as_int())
                    .unwrap_or(-2);
                out.insert(k, (dump, ttl));
            }
            if cursor == b"0" {
                return out;
            }
        }
        panic!("SCAN did not finish");
    }

    /// Asserts that every running node holds the same data as `leader`:
    /// the same keys and values, a TTL on the same keys. A key with under
    /// 5 s to live may expire between the reads and is left out.
    pub fn assert_same_data(&self, leader: u64) {
        let settle = |m: BTreeMap<Vec<u8>, (Vec<u8>, i64)>| -> BTreeMap<Vec<u8>, (Vec<u8>, bool)> {
            m.into_iter()
                // -2: gone between SCAN and DUMP.
                .filter(|(_, (_, ttl))| *ttl != -2 && !(0..5000).contains(ttl))
                .map(|(k, (dump, ttl))| (k, (dump, ttl >= 0)))
                .collect()
        };
        let want = settle(self.contents(leader));
        for n in self
            .nodes
            .iter()
            .filter(|n| n.is_running() && n.id != leader)
        {
            let got = settle(self.contents(n.id));
            if got != want {
                let missing: Vec<_> = want
                    .keys()
                    .filter(|k| !got.contains_key(*k))
                    .take(5)
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect();
                let extra: Vec<_> = got
                    .iter()
                    .filter(|(k, _)| !want.contains_key(*k))
                    .take(5)
                    .map(|(k, v)| format!("{} {v:?}", String::from_utf8_lossy(k)))
                    .collect();
                let differ: Vec<_> = want
                    .iter()
                    .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                    .take(5)
                    .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                    .collect();
                panic!(
                    "node {} differs from leader {leader} ({} vs {} keys): missing {missing:?}, extra {extra:?}, different {differ:?}",
                    n.id,
                    got.len(),
                    want.len()
                );
            }
        }
    }

    /// Every node's output, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- node {} ---\n{}", n.id, n.all_logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for RaftCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                // A paused process must be resumed to die promptly.
                // SAFETY: kill(2) on the pid of a child this harness started.
                unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGCONT) };
                kill_child(&mut c);
            }
        }
    }
}
