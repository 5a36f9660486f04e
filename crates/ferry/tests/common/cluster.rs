//! A real 3-master Redis Cluster on loopback, for the `ferry migrate` tests
//! that read from a cluster. Every process is our own child, killed on drop;
//! every wait is bounded.

use super::{
    ephemeral_low, free_port, kill_child, read_file_lossy, require_binary, wait_ready, Wait,
};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `redis-cli --cluster create` may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the nodes get to agree on `cluster_state:ok`.
const STATE_TIMEOUT: Duration = Duration::from_secs(30);
/// The cluster bus listens on the client port + 10000.
const BUS_OFFSET: u16 = 10000;
const MASTERS: usize = 3;

struct Node {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// Three `redis-server --cluster-enabled yes` masters covering all slots.
pub struct RedisCluster {
    nodes: Vec<Node>,
    ports: Vec<u16>,
    dir: tempfile::TempDir,
}

/// A free port whose cluster bus port (+10000) is also free and in range,
/// and that is not in `taken`.
fn free_cluster_port(taken: &[u16]) -> u16 {
    for _ in 0..1000 {
        let p = free_port();
        if taken.contains(&p) || p > u16::MAX - BUS_OFFSET {
            continue;
        }
        let bus = p + BUS_OFFSET;
        // The bus port too stays below the ephemeral range (see free_port).
        if bus >= ephemeral_low() {
            continue;
        }
        if taken.contains(&bus) || taken.iter().any(|t| t + BUS_OFFSET == p) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair (P, P+{BUS_OFFSET}) found on 127.0.0.1 after 1000 tries");
}

impl RedisCluster {
    /// Starts the three masters, joins them with `redis-cli --cluster create`
    /// and waits until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let bin = require_binary("redis-server");
        let cli = require_binary("redis-cli");
        let dir = tempfile::Builder::new()
            .prefix("ferry-test-cluster-")
            .tempdir()
            .expect("tempdir for the cluster");
        // Built up node by node so that a panic half-way still kills what started.
        let mut c = RedisCluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for i in 0..MASTERS {
            c.start_node(&bin, i);
        }
        c.create(&cli);
        c.wait_ok();
        c
    }

    fn start_node(&mut self, bin: &PathBuf, index: usize) {
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = free_cluster_port(&self.ports);
            let log = self.dir.path().join(format!("redis-{index}-{attempt}.log"));
            let out = std::fs::File::create(&log).expect("create node log");
            let conf = self.dir.path().join(format!("nodes-{port}.conf"));
            let mut child = Command::new(bin)
                .arg("--port")
                .arg(port.to_string())
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(&conf)
                .args(["--cluster-node-timeout", "5000"])
                .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(self.dir.path())
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("clone log handle"))
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            match wait_ready(&mut child, port, &log, "redis-server (cluster node)") {
                Wait::Ready => {
                    self.nodes.push(Node { child, port, log });
                    self.ports.push(port);
                    return;
                }
                Wait::Exited(msg) => last_err = msg,
            }
        }
        panic!("could not start cluster node {index} after 5 attempts: {last_err}");
    }

    /// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, bounded.
    fn create(&mut self, cli: &PathBuf) {
        let log = self.dir.path().join("cluster-create.log");
        let out = std::fs::File::create(&log).expect("create cluster-create log");
        let mut cmd = Command::new(cli);
        cmd.arg("--cluster").arg("create");
        for p in &self.ports {
            cmd.arg(format!("127.0.0.1:{p}"));
        }
        let mut child = cmd
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", cli.display()));
        let deadline = Instant::now() + CREATE_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    kill_child(&mut child);
                    panic!(
                        "`redis-cli --cluster create` did not finish within {CREATE_TIMEOUT:?}; output:\n{}",
                        read_file_lossy(&log)
                    );
                }
                Err(e) => panic!("waiting for redis-cli: {e}"),
            }
        };
        if !status.success() {
            panic!(
                "`redis-cli --cluster create` failed ({status}); output:\n{}\n{}",
                read_file_lossy(&log),
                self.logs()
            );
        }
    }

    /// Polls `CLUSTER INFO` on every node until all say `cluster_state:ok`.
    fn wait_ok(&self) {
        let deadline = Instant::now() + STATE_TIMEOUT;
        let mut last = String::new();
        loop {
            let mut all_ok = true;
            for p in &self.ports {
                match cluster_info(*p) {
                    Ok(info) if info.contains("cluster_state:ok") => {}
                    Ok(info) => {
                        all_ok = false;
                        last = format!("127.0.0.1:{p}: {info}");
                    }
                    Err(e) => {
                        all_ok = false;
                        last = format!("127.0.0.1:{p}: {e}");
                    }
                }
            }
            if all_ok {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "cluster not ok within {STATE_TIMEOUT:?}; last CLUSTER INFO: {last}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts one more node and makes it a replica of master `index`;
    /// returns its port once its link to the master is up.
    pub fn add_replica(&mut self, index: usize) -> u16 {
        let bin = require_binary("redis-server");
        self.start_node(&bin, self.nodes.len());
        // The masters' list stays the masters'.
        let port = self.ports.pop().expect("the node just started");
        let master = self.ports[index];
        let id = match node_cmd(master, &["CLUSTER", "MYID"]) {
            Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("CLUSTER MYID on 127.0.0.1:{master}: {other:?}"),
        };
        node_cmd(port, &["CLUSTER", "MEET", "127.0.0.1", &master.to_string()])
            .unwrap_or_else(|e| panic!("CLUSTER MEET: {e}"));
        let deadline = Instant::now() + STATE_TIMEOUT;
        // Once the node knows the master (the gossip after MEET); asking
        // again would restart its sync.
        let mut replicated = false;
        loop {
            replicated = replicated || node_cmd(port, &["CLUSTER", "REPLICATE", &id]).is_ok();
            let up = replicated
                && matches!(node_cmd(port, &["INFO", "replication"]),
                Ok(redis::Value::BulkString(b)) if String::from_utf8_lossy(&b).contains("master_link_status:up"));
            if replicated && up {
                return port;
            }
            if Instant::now() >= deadline {
                panic!("127.0.0.1:{port} did not become a replica of {id} within {STATE_TIMEOUT:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The client ports of the three masters.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The source URL the migrate tool takes for a cluster.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// A cluster-aware client with bounded timeouts.
    pub fn client(&self) -> redis::cluster::ClusterClient {
        super::dataset::cluster_client(&self.ports)
    }

    /// This cluster as a [`super::dataset::Target`].
    pub fn target(&self) -> super::dataset::Target {
        super::dataset::Target::Cluster(self.ports.clone())
    }

    /// The output of every node, for panic messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            s.push_str(&format!(
                "--- node 127.0.0.1:{} ---\n{}\n",
                n.port,
                read_file_lossy(&n.log)
            ));
        }
        s
    }
}

/// One command to one node, with bounded timeouts.
pub fn node_cmd(port: u16, args: &[&str]) -> Result<redis::Value, String> {
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).map_err(|e| e.to_string())?;
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    con.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<redis::Value>(&mut con).map_err(|e| e.to_string())
}

fn cluster_info(port: u16) -> Result<String, String> {
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).map_err(|e| e.to_string())?;
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    con.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    redis::cmd("CLUSTER")
        .arg("INFO")
        .query::<String>(&mut con)
        .map_err(|e| e.to_string())
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            kill_child(&mut n.child);
        }
        // `dir` (a TempDir) removes itself after this.
    }
}
