//! A lean client-side caching client, as RESP3 caching clients (rueidis,
//! Lettuce) are built, driving a read-heavy load for `bench/tracking.sh`.
//!
//! Each worker thread owns one connection (`HELLO 3`, `CLIENT TRACKING on`
//! with `CACHE=1`) and a reader thread. The reader handles every frame in
//! the order the server sent it: a reply to a GET fills the cache, an
//! `invalidate` push removes keys (or everything, for a null), so a value
//! is never served after the server said it changed. A GET whose key is
//! cached never leaves the process.
//!
//! ```sh
//! cargo run --release -p ferry --example cache_bench -- PORT
//! # env: CACHE=1 KEYS=10000 SECONDS=10 THREADS=2 WRITE_PCT=10
//! ```
//!
//! Prints one line of JSON: reads, writes, reads per second, and how many
//! reads were served from the cache.

use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The RESP3 frames this client needs.
#[derive(Debug)]
enum Frame {
    Simple,
    Error(String),
    Int,
    Bulk(Option<Vec<u8>>),
    Agg(Vec<Frame>),
    Push(Vec<Frame>),
}

fn read_frame(r: &mut impl BufRead) -> std::io::Result<Frame> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.len() < 3 {
        return Err(std::io::Error::other("connection closed"));
    }
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let num = || -> std::io::Result<i64> {
        body.parse()
            .map_err(|_| std::io::Error::other(format!("bad length {body:?}")))
    };
    Ok(match line[0] {
        b'+' => Frame::Simple,
        b'-' => Frame::Error(body),
        b':' => Frame::Int,
        b'_' => Frame::Bulk(None),
        b'$' => {
            let n = num()?;
            if n < 0 {
                Frame::Bulk(None)
            } else {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(n as usize);
                Frame::Bulk(Some(buf))
            }
        }
        b'*' | b'%' | b'~' | b'>' => {
            let mut n = num()?.max(0) as usize;
            if line[0] == b'%' {
                n *= 2;
            }
            let items = (0..n)
                .map(|_| read_frame(r))
                .collect::<std::io::Result<Vec<_>>>()?;
            if line[0] == b'>' {
                Frame::Push(items)
            } else {
                Frame::Agg(items)
            }
        }
        other => {
            return Err(std::io::Error::other(format!(
                "unexpected frame type {:?}",
                other as char
            )))
        }
    })
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What the reader does with the next reply.
enum Expect {
    /// A GET: cache its value under this key (when caching).
    Get(Vec<u8>),
    Other,
}

struct Shared {
    cache: HashMap<Vec<u8>, Option<Vec<u8>>>,
    expect: VecDeque<Expect>,
}

struct Client {
    out: TcpStream,
    shared: Arc<Mutex<Shared>>,
    replies: mpsc::Receiver<Frame>,
    caching: bool,
}

impl Client {
    fn connect(port: u16, caching: bool) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let shared = Arc::new(Mutex::new(Shared {
            cache: HashMap::new(),
            expect: VecDeque::new(),
        }));
        let (tx, replies) = mpsc::channel();
        let reader_shared = shared.clone();
        let mut reader = BufReader::new(stream.try_clone()?);
        std::thread::spawn(move || loop {
            let Ok(frame) = read_frame(&mut reader) else {
                return;
            };
            let mut s = match reader_shared.lock() {
                Ok(s) => s,
                Err(_) => return,
            };
            if let Frame::Push(items) = &frame {
                match items.get(1) {
                    Some(Frame::Agg(keys)) => {
                        for k in keys {
                            if let Frame::Bulk(Some(k)) = k {
                                s.cache.remove(k);
                            }
                        }
                    }
                    // A null: FLUSHALL/FLUSHDB, drop everything.
                    _ => s.cache.clear(),
                }
                continue;
            }
            if let Some(Expect::Get(key)) = s.expect.pop_front() {
                if let Frame::Bulk(v) = &frame {
                    s.cache.insert(key, v.clone());
                }
            }
            drop(s);
            if tx.send(frame).is_err() {
                return;
            }
        });
        let mut c = Client {
            out: stream,
            shared,
            replies,
            caching,
        };
        c.call(&[b"HELLO", b"3"], Expect::Other)?;
        if caching {
            c.call(&[b"CLIENT", b"TRACKING", b"on"], Expect::Other)?;
        }
        Ok(c)
    }

    fn call(&mut self, args: &[&[u8]], expect: Expect) -> std::io::Result<Frame> {
        self.shared
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .expect
            .push_back(expect);
        self.out.write_all(&encode(args))?;
        let frame = self
            .replies
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| std::io::Error::other("no reply within 10 s"))?;
        if let Frame::Error(e) = &frame {
            return Err(std::io::Error::other(e.clone()));
        }
        Ok(frame)
    }

    /// GET through the cache; returns whether it was served locally.
    fn get(&mut self, key: &[u8]) -> std::io::Result<bool> {
        if self.caching {
            let s = self
                .shared
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?;
            if s.cache.contains_key(key) {
                return Ok(true);
            }
        }
        let expect = if self.caching {
            Expect::Get(key.to_vec())
        } else {
            Expect::Other
        };
        self.call(&[b"GET", key], expect)?;
        Ok(false)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.call(&[b"SET", key, value], Expect::Other).map(|_| ())
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let port: u16 = match std::env::args().nth(1).and_then(|p| p.parse().ok()) {
        Some(p) => p,
        None => {
            eprintln!("usage: cache_bench PORT   (env: CACHE=1 KEYS SECONDS THREADS WRITE_PCT)");
            std::process::exit(2);
        }
    };
    let caching = std::env::var("CACHE").as_deref() == Ok("1");
    let keys = env_num("KEYS", 10_000).max(1);
    let seconds = env_num("SECONDS", 10);
    let threads = env_num("THREADS", 2).max(1);
    let write_pct = env_num("WRITE_PCT", 10);

    // Load the keys, then warm the caches with one read of each (outside
    // the timed part): the run measures the steady state.
    let run = move |seed: u64| -> std::io::Result<(u64, u64, u64)> {
        let mut c = Client::connect(port, caching)?;
        for k in 0..keys {
            c.get(format!("hot:{k}").as_bytes())?;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut reads, mut writes, mut local) = (0, 0, 0);
        let end = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < end {
            for _ in 0..100 {
                let key = format!("hot:{}", rng.gen_range(0..keys));
                if rng.gen_range(0..100) < write_pct {
                    c.set(key.as_bytes(), rng.gen::<u32>().to_string().as_bytes())?;
                    writes += 1;
                } else {
                    local += c.get(key.as_bytes())? as u64;
                    reads += 1;
                }
            }
        }
        Ok((reads, writes, local))
    };
    let mut loader = match Client::connect(port, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    for k in 0..keys {
        let key = format!("hot:{k}");
        if let Err(e) = loader.set(key.as_bytes(), k.to_string().as_bytes()) {
            eprintln!("loading keys failed: {e}");
            std::process::exit(1);
        }
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || run(t)))
        .collect();
    let (mut reads, mut writes, mut local) = (0, 0, 0);
    for h in handles {
        match h.join() {
            Ok(Ok((r, w, l))) => {
                reads += r;
                writes += w;
                local += l;
            }
            Ok(Err(e)) => {
                eprintln!("worker failed: {e}");
                std::process::exit(1);
            }
            Err(_) => {
                eprintln!("worker panicked");
                std::process::exit(1);
            }
        }
    }
    // Every thread counts over its own timed window of `seconds` (after its
    // warm-up); the windows run side by side.
    let elapsed = seconds as f64;
    println!(
        "{{\"cache\":{caching},\"reads\":{reads},\"writes\":{writes},\"seconds\":{elapsed},\"reads_per_sec\":{},\"served_locally_pct\":{:.1}}}",
        (reads as f64 / elapsed).round() as u64,
        if reads > 0 { 100.0 * local as f64 / reads as f64 } else { 0.0 }
    );
}
