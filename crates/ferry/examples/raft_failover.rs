//! Failover time of a ferry Raft cluster for `bench/raft.sh`: from SIGKILL
//! of the leader to the first write a surviving node acknowledges.
//!
//! ```sh
//! cargo run --release -p ferry --example raft_failover -- \
//!     --nodes 127.0.0.1:6001,127.0.0.1:6002,127.0.0.1:6003 --pids 101,102,103
//! ```
//!
//! `--pids` lists the process id of every node, in `--nodes` order. The
//! tool finds the one leader (`INFO replication` says `role:master`),
//! kills its process with `kill -KILL` (std has no signal API and a signal
//! crate is not worth a dependency here), and from then on one thread per
//! surviving node sends `SET failover:probe <n>` until one answers `+OK`;
//! -READONLY / -TRYAGAIN / refused connections just mean "again in 10 ms".
//! An acknowledged write on a Raft leader is committed on a majority, so the
//! first `+OK` is the end of the outage as a client sees it.
//!
//! Prints (stdout):
//! ```text
//! killed leader 127.0.0.1:6001 (pid 101)
//! failover: 1.234 s (kill to first acknowledged write), new leader 127.0.0.1:6002
//! ```
//! and exits 1 with a message when there is not exactly one leader before
//! the kill or no write is acknowledged within `--timeout` seconds.

use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Kill the Raft leader, time until a write is acknowledged again")]
struct Args {
    /// Client addresses of all nodes, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<SocketAddr>,
    /// Process ids of the nodes, comma separated, in --nodes order.
    #[arg(long, value_delimiter = ',', required = true)]
    pids: Vec<u32>,
    /// Seconds to wait for an acknowledged write after the kill.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

type Result<T> = std::result::Result<T, String>;

/// What a probe SET got back.
enum Reply {
    Ok,
    /// An error reply or anything else: not acknowledged.
    Other(String),
}

fn connect(addr: &SocketAddr, read_timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(addr, Duration::from_millis(200))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(read_timeout))?;
    s.set_write_timeout(Some(Duration::from_secs(1)))?;
    Ok(s)
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(std::io::Error::other("connection closed"));
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// `INFO replication` of one node.
fn info_replication(addr: &SocketAddr) -> std::io::Result<String> {
    let mut s = connect(addr, Duration::from_secs(2))?;
    s.write_all(&encode(&["INFO", "replication"]))?;
    let mut r = BufReader::new(s);
    let head = read_line(&mut r)?;
    let len: usize = head
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("INFO: unexpected reply {head:?}")))?;
    let mut body = vec![0; len + 2];
    r.read_exact(&mut body)?;
    body.truncate(len);
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn is_leader(info: &str) -> bool {
    info.lines().any(|l| l.trim_end() == "role:master")
}

/// The index of the one node that says it leads.
fn find_leader(nodes: &[SocketAddr]) -> Result<usize> {
    let mut leaders = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        match info_replication(n) {
            Ok(info) if is_leader(&info) => leaders.push(i),
            Ok(_) => {}
            Err(e) => return Err(format!("INFO replication on {n}: {e}")),
        }
    }
    match leaders.as_slice() {
        [one] => Ok(*one),
        [] => Err("no node reports role:master".into()),
        many => Err(format!(
            "{} nodes report role:master: {:?}",
            many.len(),
            many.iter().map(|&i| nodes[i]).collect::<Vec<_>>()
        )),
    }
}

/// Probes one node until a write is acknowledged anywhere or time runs out.
/// Keeps its connection while it works, so a slow commit is waited for
/// rather than abandoned and retried.
fn probe(
    addr: SocketAddr,
    done: &AtomicBool,
    deadline: Instant,
    winner: &Mutex<Option<(Instant, SocketAddr)>>,
    last_error: &Mutex<String>,
) {
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let mut n = 0u64;
    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
        n += 1;
        let reply = (|| -> std::io::Result<Reply> {
            if conn.is_none() {
                let s = connect(&addr, Duration::from_secs(5))?;
                let r = BufReader::new(s.try_clone()?);
                conn = Some((s, r));
            }
            let Some((s, r)) = conn.as_mut() else {
                return Err(std::io::Error::other("no connection"));
            };
            s.write_all(&encode(&["SET", "failover:probe", &n.to_string()]))?;
            let line = read_line(r)?;
            Ok(if line == "+OK" {
                Reply::Ok
            } else {
                Reply::Other(line)
            })
        })();
        match reply {
            Ok(Reply::Ok) => {
                let at = Instant::now();
                if let Ok(mut w) = winner.lock() {
                    if w.is_none() {
                        *w = Some((at, addr));
                    }
                }
                done.store(true, Ordering::Relaxed);
                return;
            }
            Ok(Reply::Other(line)) => {
                if let Ok(mut e) = last_error.lock() {
                    *e = format!("{addr}: {line}");
                }
            }
            Err(err) => {
                conn = None;
                if let Ok(mut e) = last_error.lock() {
                    *e = format!("{addr}: {err}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run(args: Args) -> Result<()> {
    if args.nodes.len() != args.pids.len() {
        return Err(format!(
            "{} nodes but {} pids: give one pid per node, in the same order",
            args.nodes.len(),
            args.pids.len()
        ));
    }
    let leader = find_leader(&args.nodes)?;
    let (leader_addr, leader_pid) = (args.nodes[leader], args.pids[leader]);

    let status = std::process::Command::new("kill")
        .args(["-KILL", &leader_pid.to_string()])
        .status()
        .map_err(|e| format!("running kill: {e}"))?;
    // The signal has been sent once `kill` returns: the outage starts here.
    let killed_at = Instant::now();
    if !status.success() {
        return Err(format!("kill -KILL {leader_pid} failed ({status})"));
    }
    println!("killed leader {leader_addr} (pid {leader_pid})");

    let deadline = killed_at + Duration::from_secs(args.timeout);
    let done = Arc::new(AtomicBool::new(false));
    let winner = Arc::new(Mutex::new(None));
    let last_error = Arc::new(Mutex::new(String::from("no reply yet")));
    let threads: Vec<_> = args
        .nodes
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != leader)
        .map(|(_, &addr)| {
            let (done, winner, last_error) = (done.clone(), winner.clone(), last_error.clone());
            std::thread::spawn(move || probe(addr, &done, deadline, &winner, &last_error))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let won = winner.lock().map(|w| *w).unwrap_or(None);
    match won {
        Some((at, addr)) => {
            println!(
                "failover: {:.3} s (kill to first acknowledged write), new leader {addr}",
                at.duration_since(killed_at).as_secs_f64()
            );
            Ok(())
        }
        None => Err(format!(
            "no write acknowledged within {} s after killing {leader_addr}; last reply: {}",
            args.timeout,
            last_error.lock().map(|e| e.clone()).unwrap_or_default()
        )),
    }
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("raft_failover: error: {e}");
        std::process::exit(1);
    }
}
