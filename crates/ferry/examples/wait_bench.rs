//! SET + `WAIT 1 0` load for `bench/raft.sh`: the redis-server reference for
//! a Raft write, which is acknowledged only once a majority holds it. Redis
//! replicates asynchronously; `WAIT 1 0` after each SET blocks the client
//! until one replica has the write, the nearest Redis equivalent of a
//! majority ack in a 3-node cluster.
//!
//! redis-benchmark cannot send a two-command request, hence this tool: one
//! single-threaded event loop like redis-benchmark's, C connections, each
//! sending P requests (`SET key:NNNNNNNNNNNN xxx` + `WAIT 1 0`) per write
//! and reading the 2P replies before the next batch, until N requests were
//! made in total. Keys are drawn uniformly from the keyspace and printed
//! 12-digit zero-padded like redis-benchmark's `-r`.
//!
//! ```sh
//! cargo run --release -p ferry --example wait_bench -- --port 6379 -c 50 -P 16 -n 100000
//! ```
//!
//! Prints `SET+WAIT1: <rate> requests per second ...` on stdout. Fails
//! (exit 1) when the primary has fewer connected replicas than `--replicas`,
//! when WAIT answers fewer, or when no reply arrives for `--stall-timeout`
//! seconds (WAIT with timeout 0 blocks for as long as no replica acks).

use clap::Parser;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Parser, Clone)]
#[command(about = "SET followed by WAIT <replicas> 0, redis-benchmark style")]
struct Args {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(short = 'p', long)]
    port: u16,
    /// Parallel connections.
    #[arg(short = 'c', long, default_value_t = 50)]
    clients: u64,
    /// Requests (SET + WAIT pairs) in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pipeline: u64,
    /// Total requests.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    requests: u64,
    /// Keyspace the random keys are drawn from.
    #[arg(short = 'r', long, default_value_t = 100_000)]
    keyspace: u64,
    /// Value size in bytes.
    #[arg(short = 'd', long, default_value_t = 3)]
    data_size: usize,
    /// numreplicas of every WAIT.
    #[arg(long, default_value_t = 1)]
    replicas: i64,
    /// Give up when a connection waits this long (seconds) for a reply.
    #[arg(long, default_value_t = 10)]
    stall_timeout: u64,
}

type Result<T> = std::result::Result<T, String>;

/// Appends one RESP array of bulk strings.
fn encode(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// One reply of the kinds this tool sees.
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    line: Vec<u8>,
    stall: Duration,
}

impl Conn {
    async fn open(addr: &str, stall: Duration) -> Result<Conn> {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect to {addr}: timed out"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("set_nodelay: {e}"))?;
        let (r, w) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
            line: Vec::with_capacity(64),
            stall,
        })
    }

    async fn send(&mut self, buf: &[u8]) -> Result<()> {
        self.writer
            .write_all(buf)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn read(&mut self) -> Result<Reply> {
        let stall = self.stall;
        tokio::time::timeout(stall, self.read_inner())
            .await
            .map_err(|_| {
                format!(
                    "no reply within {} s: is the replica connected and acknowledging? \
                     (WAIT with timeout 0 blocks until it does)",
                    stall.as_secs()
                )
            })?
    }

    async fn read_inner(&mut self) -> Result<Reply> {
        self.line.clear();
        self.reader
            .read_until(b'\n', &mut self.line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if self.line.len() < 3 || !self.line.ends_with(b"\r\n") {
            return Err("connection closed by the server".into());
        }
        let body = String::from_utf8_lossy(&self.line[1..self.line.len() - 2]).into_owned();
        let int = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("bad integer in reply: {s:?}"))
        };
        Ok(match self.line[0] {
            b'+' => Reply::Simple(body),
            b'-' => Reply::Error(body),
            b':' => Reply::Int(int(&body)?),
            b'$' => {
                let n = int(&body)?;
                let len = usize::try_from(n).map_err(|_| "null bulk reply".to_string())?;
                let mut buf = vec![0; len + 2];
                self.reader
                    .read_exact(&mut buf)
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                buf.truncate(len);
                Reply::Bulk(buf)
            }
            other => return Err(format!("unexpected reply type {:?}", other as char)),
        })
    }

    /// One command, one reply; errors from the server become `Err`.
    async fn call(&mut self, parts: &[&[u8]]) -> Result<Reply> {
        let mut buf = Vec::new();
        encode(&mut buf, parts);
        self.send(&buf).await?;
        match self.read().await? {
            Reply::Error(e) => Err(format!("server error: {e}")),
            r => Ok(r),
        }
    }
}

/// Takes up to `want` requests from the shared budget; 0 when it is spent.
fn claim(remaining: &AtomicU64, want: u64) -> u64 {
    let mut cur = remaining.load(Ordering::Relaxed);
    loop {
        let take = cur.min(want);
        if take == 0 {
            return 0;
        }
        match remaining.compare_exchange_weak(cur, cur - take, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return take,
            Err(now) => cur = now,
        }
    }
}

/// Checks up front that WAIT can succeed, so a missing replica is a clear
/// error and not a stall.
async fn preflight(addr: &str, args: &Args) -> Result<()> {
    let mut c = Conn::open(addr, Duration::from_secs(args.stall_timeout)).await?;
    let info = match c.call(&[b"INFO", b"replication"]).await? {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => return Err("INFO replication: unexpected reply".into()),
    };
    let connected = info
        .lines()
        .find_map(|l| l.strip_prefix("connected_slaves:"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if connected < args.replicas {
        return Err(format!(
            "{addr} has {connected} connected replica(s), WAIT needs {}: start one with \
             `redis-server --replicaof HOST PORT` and wait for master_link_status:up",
            args.replicas
        ));
    }
    c.call(&[b"SET", b"wait_bench:preflight", b"1"]).await?;
    let n = args.replicas.to_string();
    match c.call(&[b"WAIT", n.as_bytes(), b"2000"]).await? {
        Reply::Int(got) if got >= args.replicas => Ok(()),
        Reply::Int(got) => Err(format!(
            "WAIT {n} 2000 returned {got}: the replica is not acknowledging writes"
        )),
        _ => Err("WAIT: unexpected reply".into()),
    }
}

async fn worker(addr: String, args: Args, id: u64, remaining: Arc<AtomicU64>) -> Result<u64> {
    let mut conn = Conn::open(&addr, Duration::from_secs(args.stall_timeout)).await?;
    // A new key sequence every run, as with redis-benchmark's -r.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let value = vec![b'x'; args.data_size];
    let mut wait_cmd = Vec::new();
    let n = args.replicas.to_string();
    encode(&mut wait_cmd, &[b"WAIT", n.as_bytes(), b"0"]);
    let mut buf = Vec::with_capacity(64 * args.pipeline as usize);
    let mut done = 0u64;
    loop {
        let batch = claim(&remaining, args.pipeline);
        if batch == 0 {
            return Ok(done);
        }
        buf.clear();
        for _ in 0..batch {
            let key = format!("key:{:012}", rng.gen_range(0..args.keyspace.max(1)));
            encode(&mut buf, &[b"SET", key.as_bytes(), &value]);
            buf.extend_from_slice(&wait_cmd);
        }
        conn.send(&buf).await?;
        for _ in 0..batch {
            match conn.read().await? {
                Reply::Simple(s) if s == "OK" => {}
                Reply::Error(e) => return Err(format!("SET: {e}")),
                _ => return Err("SET: unexpected reply".into()),
            }
            match conn.read().await? {
                Reply::Int(got) if got >= args.replicas => {}
                Reply::Int(got) => {
                    return Err(format!(
                        "WAIT {n} 0 returned {got}: the replica is not acknowledging writes"
                    ))
                }
                Reply::Error(e) => return Err(format!("WAIT: {e}")),
                _ => return Err("WAIT: unexpected reply".into()),
            }
        }
        done += batch;
    }
}

async fn run(args: Args) -> Result<()> {
    if args.clients == 0 || args.pipeline == 0 || args.requests == 0 {
        return Err("--clients, --pipeline and --requests must be at least 1".into());
    }
    let addr = format!("{}:{}", args.host, args.port);
    preflight(&addr, &args).await?;
    let remaining = Arc::new(AtomicU64::new(args.requests));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..args.clients {
        tasks.spawn(worker(addr.clone(), args.clone(), id, remaining.clone()));
    }
    let mut total = 0u64;
    let mut first_err = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(n)) => total += n,
            Ok(Err(e)) => {
                if first_err.is_none() {
                    first_err = Some(e);
                    // One failed connection fails the run; stop the others.
                    tasks.abort_all();
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => first_err = first_err.or(Some(format!("task: {e}"))),
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "SET+WAIT{}: {:.2} requests per second ({total} requests, {} connections, pipeline {}, {secs:.3} s)",
        args.replicas,
        total as f64 / secs,
        args.clients,
        args.pipeline
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("wait_bench: error: {e}");
        std::process::exit(1);
    }
}
