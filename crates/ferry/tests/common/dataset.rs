//! Endpoint-agnostic data helpers for the `ferry migrate` tests: seed a mixed
//! dataset, mutate it from a background thread, and compare two endpoints
//! without using any code of the tool under test. Only 127.0.0.1 is used and
//! every loop is bounded.
//!
//! Key names carry their type as a prefix (`string:`, `hash:`, `list:`,
//! `set:`, `zset:`) so the [`Writer`] knows which commands fit an existing
//! key. No hash tags: keys spread over all cluster slots.

use super::escape;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Cmd, ConnectionLike, Pipeline, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Read/write timeout: a dead server fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Elements in each of the three big keys (above the tool's 1000-element window).
pub const BIG_SIZE: usize = 5000;
/// The three big keys [`seed`] writes besides its `n` keys.
pub const BIG_KEYS: [&str; 3] = ["hash:big", "list:big", "zset:big"];
/// Keys with less than this left to live may be missing on the other side.
const EXPIRING_MS: i64 = 2000;
/// Commands per pipeline flush while seeding / reads per batch in `diff`.
const BATCH: usize = 200;
/// Upper bound on a full SCAN of one server.
const SCAN_TIMEOUT: Duration = Duration::from_secs(120);
/// The most lines [`diff`] returns before "... and N more".
const MAX_DIFF_LINES: usize = 50;
/// The writer stops by itself after this long.
const WRITER_MAX_RUN: Duration = Duration::from_secs(120);

/// Where a dataset lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A single server (redis-server or ferry) on 127.0.0.1: port, database.
    Single(u16, i64),
    /// A Redis Cluster: the client ports of its masters on 127.0.0.1.
    Cluster(Vec<u16>),
}

/// A cluster-aware client with bounded timeouts for the masters on `ports`.
pub fn cluster_client(ports: &[u16]) -> redis::cluster::ClusterClient {
    let nodes: Vec<String> = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    redis::cluster::ClusterClient::builder(nodes)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(IO_TIMEOUT)
        .build()
        .unwrap_or_else(|e| panic!("building a cluster client for {ports:?}: {e}"))
}

fn try_single_conn(port: u16, db: i64) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))?;
    let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    con.set_read_timeout(Some(IO_TIMEOUT))?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(con)
}

fn single_conn(port: u16, db: i64) -> redis::Connection {
    try_single_conn(port, db)
        .unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port} db {db}: {e}"))
}

impl Target {
    /// The URL form the migrate tool takes for this endpoint.
    pub fn url(&self) -> String {
        match self {
            Target::Single(port, db) => format!("redis://127.0.0.1:{port}/{db}"),
            Target::Cluster(ports) => {
                let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
                format!("redis+cluster://{}", nodes.join(","))
            }
        }
    }

    /// A connection that routes every key command to the right server (on a
    /// cluster it takes one command at a time: no pipelines across slots).
    pub fn connect(&self) -> Box<dyn ConnectionLike + Send> {
        self.try_connect().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_connect(&self) -> Result<Box<dyn ConnectionLike + Send>, String> {
        match self {
            Target::Single(port, db) => try_single_conn(*port, *db)
                .map(|c| Box::new(c) as Box<dyn ConnectionLike + Send>)
                .map_err(|e| format!("connecting to {self}: {e}")),
            Target::Cluster(ports) => cluster_client(ports)
                .get_connection()
                .map(|c| Box::new(c) as Box<dyn ConnectionLike + Send>)
                .map_err(|e| format!("connecting to {self}: {e}")),
        }
    }

    /// Plain connections to every master (for `Single`, its one server in its db):
    /// SCAN and DBSIZE are per server.
    fn masters(&self) -> Vec<(u16, redis::Connection)> {
        match self {
            Target::Single(port, db) => vec![(*port, single_conn(*port, *db))],
            Target::Cluster(ports) => ports.iter().map(|p| (*p, single_conn(*p, 0))).collect(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Single(port, db) => write!(f, "127.0.0.1:{port} db {db}"),
            Target::Cluster(ports) => write!(f, "cluster {ports:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Routing for pipelined seeding
// ---------------------------------------------------------------------------

const SLOTS: usize = 16384;

/// Sends each key's commands to the master owning its slot, so seeding can
/// pipeline even on a cluster.
struct Router {
    conns: Vec<(u16, redis::Connection)>,
    /// Index into `conns` per slot; empty for a single server.
    owner: Vec<usize>,
    pipes: Vec<(Pipeline, usize)>,
}

impl Router {
    fn new(t: &Target) -> Router {
        let mut conns = t.masters();
        let owner = match t {
            Target::Single(..) => Vec::new(),
            Target::Cluster(_) => slot_owners(&mut conns),
        };
        let pipes = conns.iter().map(|_| (redis::pipe(), 0)).collect();
        Router {
            conns,
            owner,
            pipes,
        }
    }

    fn node(&self, key: &[u8]) -> usize {
        if self.owner.is_empty() {
            0
        } else {
            self.owner[redis::cluster_routing::get_slot(key) as usize]
        }
    }

    fn add(&mut self, key: &[u8], cmd: Cmd) {
        let i = self.node(key);
        self.pipes[i].0.add_command(cmd).ignore();
        self.pipes[i].1 += 1;
        if self.pipes[i].1 >= BATCH {
            self.flush_one(i);
        }
    }

    fn flush_one(&mut self, i: usize) {
        if self.pipes[i].1 == 0 {
            return;
        }
        let (pipe, _) = std::mem::replace(&mut self.pipes[i], (redis::pipe(), 0));
        let (port, con) = &mut self.conns[i];
        pipe.query::<()>(con)
            .unwrap_or_else(|e| panic!("seeding 127.0.0.1:{port}: {e}"));
    }

    fn flush(&mut self) {
        for i in 0..self.pipes.len() {
            self.flush_one(i);
        }
    }
}

/// Slot -> index of the master (in `conns`) serving it, from CLUSTER SLOTS.
fn slot_owners(conns: &mut [(u16, redis::Connection)]) -> Vec<usize> {
    let (port0, con) = &mut conns[0];
    let port0 = *port0;
    let ranges: Vec<Vec<Value>> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(con)
        .unwrap_or_else(|e| panic!("CLUSTER SLOTS on 127.0.0.1:{port0}: {e}"));
    let mut owner = vec![usize::MAX; SLOTS];
    for r in &ranges {
        let parsed = (|| -> Option<(usize, usize, u16)> {
            let start: usize = redis::from_redis_value(r.first()?).ok()?;
            let end: usize = redis::from_redis_value(r.get(1)?).ok()?;
            let master: Vec<Value> = redis::from_redis_value(r.get(2)?).ok()?;
            let port: u16 = redis::from_redis_value(master.get(1)?).ok()?;
            Some((start, end, port))
        })();
        let (start, end, port) =
            parsed.unwrap_or_else(|| panic!("unexpected CLUSTER SLOTS entry: {r:?}"));
        let idx = conns
            .iter()
            .position(|(p, _)| *p == port)
            .unwrap_or_else(|| panic!("slot owner 127.0.0.1:{port} is not one of our masters"));
        for o in owner.iter_mut().take(end.min(SLOTS - 1) + 1).skip(start) {
            *o = idx;
        }
    }
    if let Some(s) = owner.iter().position(|o| *o == usize::MAX) {
        panic!("slot {s} has no master in CLUSTER SLOTS: {ranges:?}");
    }
    owner
}

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Hash,
    List,
    Set,
    ZSet,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::String, Kind::Hash, Kind::List, Kind::Set, Kind::ZSet];

    fn prefix(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    fn of_name(name: &[u8]) -> Option<Kind> {
        let colon = name.iter().position(|b| *b == b':')?;
        Kind::ALL
            .into_iter()
            .find(|k| k.prefix().as_bytes() == &name[..colon])
    }

    /// 50% strings, 15% hashes, 15% lists, 10% sets, 10% sorted sets.
    fn pick(rng: &mut StdRng) -> Kind {
        match rng.gen_range(0..100) {
            0..=49 => Kind::String,
            50..=64 => Kind::Hash,
            65..=79 => Kind::List,
            80..=89 => Kind::Set,
            _ => Kind::ZSet,
        }
    }
}

/// Key `i` of the seed naming scheme; a few names contain odd bytes.
fn seed_key(kind: Kind, i: usize) -> Vec<u8> {
    if i % 97 == 13 {
        let mut k = format!("{}:odd \u{fc} ", kind.prefix()).into_bytes();
        k.extend_from_slice(b"\0\r\n");
        k.extend_from_slice(format!(":{i}").as_bytes());
        k
    } else {
        format!("{}:{i}", kind.prefix()).into_bytes()
    }
}

fn alnum(rng: &mut StdRng, len: usize) -> Vec<u8> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())])
        .collect()
}

/// Integers, text, binary with \0 and \r\n, empty and ~KB values.
fn string_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..100) {
        0..=29 => rng
            .gen_range(-1_000_000i64..1_000_000)
            .to_string()
            .into_bytes(),
        30..=64 => {
            let len = rng.gen_range(1..40);
            alnum(rng, len)
        }
        65..=84 => {
            let len = rng.gen_range(0..48);
            let mut v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let at = rng.gen_range(0..=v.len());
            v.splice(at..at, b"\0\r\n".iter().copied());
            v
        }
        85..=89 => Vec::new(),
        _ => {
            let len = rng.gen_range(1000..4000);
            alnum(rng, len)
        }
    }
}

/// Small member/field values: short text or an integer.
fn small_value(rng: &mut StdRng) -> Vec<u8> {
    if rng.gen_bool(0.4) {
        rng.gen_range(-1000i64..100_000).to_string().into_bytes()
    } else {
        let len = rng.gen_range(1..12);
        alnum(rng, len)
    }
}

/// Scores including the awkward ones (-0.0, 1e300, infinities, fractions).
fn score(rng: &mut StdRng) -> String {
    const SPECIAL: [&str; 8] = ["1.5", "-0.0", "1e300", "-1e300", "inf", "-inf", "0", "0.1"];
    match rng.gen_range(0..10) {
        0..=2 => SPECIAL[rng.gen_range(0..SPECIAL.len())].to_string(),
        3..=6 => rng.gen_range(-1000i64..1000).to_string(),
        _ => format!("{}", rng.gen_range(-1000.0f64..1000.0)),
    }
}

/// The command creating a key of `kind` with random contents.
fn create_cmd(kind: Kind, key: &[u8], rng: &mut StdRng) -> Cmd {
    match kind {
        Kind::String => {
            let mut c = redis::cmd("SET");
            c.arg(key).arg(string_value(rng));
            c
        }
        Kind::Hash => {
            let mut c = redis::cmd("HSET");
            c.arg(key);
            for j in 0..rng.gen_range(1..20) {
                let field = if rng.gen_bool(0.7) {
                    format!("f{j}").into_bytes()
                } else {
                    small_value(rng)
                };
                c.arg(field).arg(small_value(rng));
            }
            c
        }
        Kind::List => {
            let mut c = redis::cmd("RPUSH");
            c.arg(key);
            for _ in 0..rng.gen_range(1..30) {
                c.arg(small_value(rng));
            }
            c
        }
        Kind::Set => {
            let mut c = redis::cmd("SADD");
            c.arg(key);
            let ints_only = rng.gen_bool(0.5);
            for _ in 0..rng.gen_range(1..30) {
                if ints_only {
                    c.arg(rng.gen_range(-500i64..5000));
                } else {
                    c.arg(small_value(rng));
                }
            }
            c
        }
        Kind::ZSet => {
            let mut c = redis::cmd("ZADD");
            c.arg(key);
            for _ in 0..rng.gen_range(1..30) {
                c.arg(score(rng)).arg(small_value(rng));
            }
            c
        }
    }
}

/// Writes `n` keys of mixed types (plus the three [`BIG_KEYS`]) to `t`.
/// The same `rng_seed` writes the same data on any target; ~20% of the keys
/// get a 30-300 s TTL and ~1% a 1-3 s one (they expire during the test).
pub fn seed(t: &Target, n: usize, rng_seed: u64) {
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let mut router = Router::new(t);
    for i in 0..n {
        let kind = Kind::pick(&mut rng);
        let key = seed_key(kind, i);
        let cmd = create_cmd(kind, &key, &mut rng);
        router.add(&key, cmd);
        let ttl_ms: Option<u64> = match rng.gen_range(0..100) {
            0..=19 => Some(rng.gen_range(30_000..300_000)),
            20 => Some(rng.gen_range(1_000..3_000)),
            _ => None,
        };
        if let Some(ms) = ttl_ms {
            let mut c = redis::cmd("PEXPIRE");
            c.arg(&key).arg(ms);
            router.add(&key, c);
        }
    }
    // The big keys, in chunks of 1000 elements per command.
    for chunk in 0..BIG_SIZE / 1000 {
        let range = chunk * 1000..(chunk + 1) * 1000;
        let mut h = redis::cmd("HSET");
        h.arg(BIG_KEYS[0]);
        let mut l = redis::cmd("RPUSH");
        l.arg(BIG_KEYS[1]);
        let mut z = redis::cmd("ZADD");
        z.arg(BIG_KEYS[2]);
        for j in range {
            h.arg(format!("field:{j}"))
                .arg(format!("value:{j}:{}", j * 7919 % 1000));
            l.arg(format!("elem:{j}"));
            z.arg(format!("{}", j as f64 * 0.5 - 100.0))
                .arg(format!("member:{j}"));
        }
        router.add(BIG_KEYS[0].as_bytes(), h);
        router.add(BIG_KEYS[1].as_bytes(), l);
        router.add(BIG_KEYS[2].as_bytes(), z);
    }
    router.flush();
}

/// DBSIZE summed over the masters (for `Single`, of its database).
pub fn key_count(t: &Target) -> u64 {
    t.masters()
        .iter_mut()
        .map(|(port, con)| {
            redis::cmd("DBSIZE")
                .query::<u64>(con)
                .unwrap_or_else(|e| panic!("DBSIZE on 127.0.0.1:{port}: {e}"))
        })
        .sum()
}

// ---------------------------------------------------------------------------
// Reading a whole dataset
// ---------------------------------------------------------------------------

/// Every key name on one server (deduplicated), by SCAN.
fn scan_all(port: u16, con: &mut redis::Connection) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + SCAN_TIMEOUT;
    let mut cursor: u64 = 0;
    let mut keys = BTreeSet::new();
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap_or_else(|e| panic!("SCAN {cursor} on 127.0.0.1:{port}: {e}"));
        keys.extend(batch);
        if next == 0 {
            return keys.into_iter().collect();
        }
        if Instant::now() >= deadline {
            panic!("SCAN of 127.0.0.1:{port} did not finish within {SCAN_TIMEOUT:?}");
        }
        cursor = next;
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// member -> score exactly as the server formats it.
    ZSet(BTreeMap<Vec<u8>, Vec<u8>>),
    /// A type we do not read (e.g. a stream): compared by type only.
    Unread,
}

#[derive(Clone, Debug)]
struct Entry {
    ty: String,
    val: Val,
    pttl: i64,
    /// When the key expires, unix ms by this machine's clock (the PTTL
    /// plus the time it was read; -1: no TTL). The two sides of a diff are
    /// read seconds apart under load: their PTTLs differ by that gap,
    /// their deadlines do not.
    expire_at: i64,
}

impl Entry {
    fn expiring(&self) -> bool {
        (0..EXPIRING_MS).contains(&self.pttl)
    }

    fn summary(&self) -> String {
        let what = match &self.val {
            Val::Str(v) => format!("{} bytes", v.len()),
            Val::Hash(m) => format!("{} fields", m.len()),
            Val::List(l) => format!("{} elements", l.len()),
            Val::Set(s) => format!("{} members", s.len()),
            Val::ZSet(z) => format!("{} members", z.len()),
            Val::Unread => "not read".to_string(),
        };
        format!("{}, {what}, pttl {}", self.ty, self.pttl)
    }
}

fn pairs(flat: Vec<Vec<u8>>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut it = flat.into_iter();
    let mut m = BTreeMap::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        m.insert(k, v);
    }
    m
}

/// Reads type, value and PTTL of `keys` from one server, in pipelined batches.
/// Keys gone in between (expired) are left out.
fn read_entries(
    port: u16,
    con: &mut redis::Connection,
    keys: &[Vec<u8>],
    out: &mut BTreeMap<Vec<u8>, Entry>,
) {
    for chunk in keys.chunks(BATCH) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("TYPE").arg(k);
        }
        let types: Vec<String> = p
            .query(con)
            .unwrap_or_else(|e| panic!("TYPE batch on 127.0.0.1:{port}: {e}"));
        let mut p = redis::pipe();
        let sent = ferry_store::unix_ms();
        for (k, ty) in chunk.iter().zip(&types) {
            match ty.as_str() {
                "string" => p.cmd("GET").arg(k),
                "hash" => p.cmd("HGETALL").arg(k),
                "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                "set" => p.cmd("SMEMBERS").arg(k),
                "zset" => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                _ => p.cmd("EXISTS").arg(k),
            };
            p.cmd("PTTL").arg(k);
        }
        let replies: Vec<Value> = p
            .query(con)
            .unwrap_or_else(|e| panic!("read batch on 127.0.0.1:{port}: {e}"));
        // The PTTLs were read between sending and now: the midpoint is off
        // by at most half the batch's round trip.
        let read_at = (sent + ferry_store::unix_ms()) / 2;
        for ((k, ty), pair) in chunk.iter().zip(&types).zip(replies.chunks(2)) {
            let [v, pttl] = pair else {
                panic!("short read batch reply from 127.0.0.1:{port}: {replies:?}");
            };
            let bad = |e: redis::RedisError| -> ! {
                panic!(
                    "reading {ty} {} on 127.0.0.1:{port}: {e} (reply {v:?})",
                    escape(k)
                )
            };
            let val = match ty.as_str() {
                "none" => continue,
                "string" => match redis::from_redis_value::<Option<Vec<u8>>>(v) {
                    Ok(Some(s)) => Val::Str(s),
                    Ok(None) => continue,
                    Err(e) => bad(e),
                },
                "hash" => Val::Hash(pairs(redis::from_redis_value(v).unwrap_or_else(|e| bad(e)))),
                "list" => Val::List(redis::from_redis_value(v).unwrap_or_else(|e| bad(e))),
                "set" => Val::Set(redis::from_redis_value(v).unwrap_or_else(|e| bad(e))),
                "zset" => Val::ZSet(pairs(redis::from_redis_value(v).unwrap_or_else(|e| bad(e)))),
                _ => Val::Unread,
            };
            let empty = match &val {
                Val::Hash(m) | Val::ZSet(m) => m.is_empty(),
                Val::List(l) => l.is_empty(),
                Val::Set(s) => s.is_empty(),
                _ => false,
            };
            let pttl: i64 = redis::from_redis_value(pttl).unwrap_or_else(|e| bad(e));
            if empty || pttl == -2 {
                continue; // expired between the reads
            }
            out.insert(
                k.clone(),
                Entry {
                    ty: ty.clone(),
                    val,
                    pttl,
                    expire_at: if pttl >= 0 { read_at + pttl } else { -1 },
                },
            );
        }
    }
}

/// The whole dataset of `t`: key -> (type, value, pttl).
fn snapshot(t: &Target) -> BTreeMap<Vec<u8>, Entry> {
    let mut out = BTreeMap::new();
    for (port, mut con) in t.masters() {
        let keys = scan_all(port, &mut con);
        read_entries(port, &mut con, &keys, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// A short printable form of a value for diff lines.
fn short(b: &[u8]) -> String {
    const MAX: usize = 60;
    if b.len() > MAX {
        format!("\"{}\"...<{} bytes>", escape(&b[..MAX]), b.len())
    } else {
        format!("\"{}\"", escape(b))
    }
}

/// Describes how two maps differ (hash fields or zset member->score).
fn map_diff(
    what: &str,
    a: &BTreeMap<Vec<u8>, Vec<u8>>,
    b: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Option<String> {
    if a == b {
        return None;
    }
    let only_a: Vec<&Vec<u8>> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<&Vec<u8>> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let changed: Vec<(&Vec<u8>, &Vec<u8>, &Vec<u8>)> = a
        .iter()
        .filter_map(|(k, va)| b.get(k).filter(|vb| *vb != va).map(|vb| (k, va, vb)))
        .collect();
    let mut parts = Vec::new();
    if let Some(k) = only_a.first() {
        parts.push(format!(
            "{} {what}(s) only in a (e.g. {})",
            only_a.len(),
            short(k)
        ));
    }
    if let Some(k) = only_b.first() {
        parts.push(format!(
            "{} {what}(s) only in b (e.g. {})",
            only_b.len(),
            short(k)
        ));
    }
    if let Some((k, va, vb)) = changed.first() {
        parts.push(format!(
            "{} {what}(s) with different values (e.g. {}: a={} b={})",
            changed.len(),
            short(k),
            short(va),
            short(vb)
        ));
    }
    Some(parts.join(", "))
}

fn no_neg_zero(m: &BTreeMap<Vec<u8>, Vec<u8>>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    m.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if v.as_slice() == b"-0" {
                    b"0".to_vec()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

fn value_diff(a: &Val, b: &Val) -> Option<String> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => {
            (x != y).then(|| format!("value a={} b={}", short(x), short(y)))
        }
        (Val::Hash(x), Val::Hash(y)) => map_diff("field", x, y).map(|d| format!("hash: {d}")),
        // A ferry store keeps a score of -0 as 0 (SQLite stores an integral
        // REAL as an integer); Redis itself answers ZSCORE with 0 for it.
        (Val::ZSet(x), Val::ZSet(y)) => {
            map_diff("member", &no_neg_zero(x), &no_neg_zero(y)).map(|d| format!("zset: {d}"))
        }
        (Val::Set(x), Val::Set(y)) => {
            if x == y {
                return None;
            }
            let only_a: Vec<&Vec<u8>> = x.difference(y).collect();
            let only_b: Vec<&Vec<u8>> = y.difference(x).collect();
            let eg = |v: &[&Vec<u8>]| {
                v.first()
                    .map(|m| format!(" (e.g. {})", short(m)))
                    .unwrap_or_default()
            };
            Some(format!(
                "set: {} member(s) only in a{}, {} only in b{}",
                only_a.len(),
                eg(&only_a),
                only_b.len(),
                eg(&only_b)
            ))
        }
        (Val::List(x), Val::List(y)) => {
            if x == y {
                return None;
            }
            let at = x.iter().zip(y).position(|(p, q)| p != q);
            Some(match at {
                Some(i) => format!(
                    "list: lengths a={} b={}, first difference at index {i}: a={} b={}",
                    x.len(),
                    y.len(),
                    short(&x[i]),
                    short(&y[i])
                ),
                None => format!(
                    "list: lengths a={} b={} (one is a prefix of the other)",
                    x.len(),
                    y.len()
                ),
            })
        }
        (Val::Unread, Val::Unread) => None,
        _ => Some("values of different kinds".to_string()),
    }
}

/// Compares the datasets of `a` and `b` key by key (type, value, TTL) and
/// returns one line per difference, at most 50 plus "... and N more".
/// TTLs match when both are absent or they expire at most
/// `ttl_tolerance_ms` apart (each side's PTTL plus when it was read); a key
/// with under 2 s to live may be missing on the other side.
pub fn diff(a: &Target, b: &Target, ttl_tolerance_ms: i64) -> Vec<String> {
    let sa = snapshot(a);
    let sb = snapshot(b);
    let keys: BTreeSet<&Vec<u8>> = sa.keys().chain(sb.keys()).collect();
    let mut lines = Vec::new();
    for k in keys {
        let name = short(k);
        match (sa.get(k), sb.get(k)) {
            (Some(x), None) if !x.expiring() => {
                lines.push(format!("{name}: missing in b (a: {})", x.summary()))
            }
            (None, Some(y)) if !y.expiring() => {
                lines.push(format!("{name}: missing in a (b: {})", y.summary()))
            }
            (Some(x), Some(y)) => {
                if x.ty != y.ty {
                    lines.push(format!("{name}: type a={} b={}", x.ty, y.ty));
                } else if let Some(d) = value_diff(&x.val, &y.val) {
                    lines.push(format!("{name}: {d}"));
                }
                let ttl_ok = match (x.expire_at, y.expire_at) {
                    (-1, -1) => true,
                    (p, q) if p >= 0 && q >= 0 => (p - q).abs() <= ttl_tolerance_ms,
                    _ => false,
                };
                if !ttl_ok {
                    lines.push(format!(
                        "{name}: pttl a={} b={}, expiring {} ms apart (tolerance {ttl_tolerance_ms} ms)",
                        x.pttl,
                        y.pttl,
                        (x.expire_at - y.expire_at).abs()
                    ));
                }
            }
            _ => {}
        }
    }
    if lines.len() > MAX_DIFF_LINES {
        let more = lines.len() - MAX_DIFF_LINES;
        lines.truncate(MAX_DIFF_LINES);
        lines.push(format!("... and {more} more"));
    }
    lines
}

// ---------------------------------------------------------------------------
// Concurrent writer
// ---------------------------------------------------------------------------

/// Mutates a dataset from a background thread (as live traffic would during a
/// migration) until [`Writer::stop`], or by itself after 120 s.
pub struct Writer {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    handle: Option<JoinHandle<Result<(), String>>>,
}

/// Ops between sleeps, and the sleep: at most ~2000 ops/s.
const WRITER_BATCH: u64 = 20;
const WRITER_PAUSE: Duration = Duration::from_millis(10);

impl Writer {
    /// Starts writing to `t`: existing keys (found by SCAN, typed by their
    /// name prefix) and new ones, with `seed` choosing the operations.
    pub fn start(t: Target, seed: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let (s, o) = (stop.clone(), ops.clone());
        let handle = std::thread::Builder::new()
            .name("dataset-writer".into())
            .spawn(move || write_loop(&t, seed, &s, &o))
            .expect("spawning the writer thread");
        Writer {
            stop,
            ops,
            handle: Some(handle),
        }
    }

    /// Operations sent so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Stops the thread, waits for it, and returns the number of operations
    /// sent. Panics if the writer lost its connection or panicked.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("writer already stopped");
        match handle.join() {
            Ok(Ok(())) => self.ops(),
            Ok(Err(e)) => panic!("writer failed after {} ops: {e}", self.ops()),
            Err(_) => panic!("writer thread panicked after {} ops", self.ops()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Key names of `t` that follow the naming scheme (at most `limit`).
fn existing_names(t: &Target, limit: usize) -> Vec<(Kind, Vec<u8>)> {
    let mut names = Vec::new();
    for (port, mut con) in t.masters() {
        for k in scan_all(port, &mut con) {
            if BIG_KEYS.iter().any(|b| b.as_bytes() == k.as_slice()) {
                continue;
            }
            if let Some(kind) = Kind::of_name(&k) {
                names.push((kind, k));
            }
            if names.len() >= limit {
                return names;
            }
        }
    }
    names
}

/// One random mutation for an existing (or missing) key of `kind`.
fn mutate_cmd(kind: Kind, key: &[u8], rng: &mut StdRng) -> Cmd {
    let mut c;
    match kind {
        Kind::String => match rng.gen_range(0..4) {
            0 => {
                c = redis::cmd("SET");
                c.arg(key).arg(string_value(rng));
            }
            1 => {
                c = redis::cmd("INCR");
                c.arg(key);
            }
            2 => {
                c = redis::cmd("APPEND");
                c.arg(key).arg(small_value(rng));
            }
            _ => {
                c = redis::cmd("SET");
                c.arg(key).arg(small_value(rng)).arg("KEEPTTL");
            }
        },
        Kind::Hash => {
            let field = format!("f{}", rng.gen_range(0..25));
            if rng.gen_bool(0.7) {
                c = redis::cmd("HSET");
                c.arg(key).arg(field).arg(small_value(rng));
            } else {
                c = redis::cmd("HDEL");
                c.arg(key).arg(field);
            }
        }
        Kind::List => match rng.gen_range(0..4) {
            0 => {
                c = redis::cmd("LPUSH");
                c.arg(key).arg(small_value(rng));
            }
            1 => {
                c = redis::cmd("RPOP");
                c.arg(key);
            }
            2 => {
                c = redis::cmd("LSET");
                c.arg(key).arg(0).arg(small_value(rng));
            }
            _ => {
                c = redis::cmd("RPUSH");
                c.arg(key).arg(small_value(rng));
            }
        },
        Kind::Set => {
            let member = if rng.gen_bool(0.5) {
                rng.gen_range(-500i64..5000).to_string().into_bytes()
            } else {
                small_value(rng)
            };
            c = redis::cmd(if rng.gen_bool(0.6) { "SADD" } else { "SREM" });
            c.arg(key).arg(member);
        }
        Kind::ZSet => {
            let member = small_value(rng);
            match rng.gen_range(0..3) {
                0 => {
                    c = redis::cmd("ZADD");
                    c.arg(key).arg(score(rng)).arg(member);
                }
                1 => {
                    c = redis::cmd("ZINCRBY");
                    c.arg(key).arg("1.5").arg(member);
                }
                _ => {
                    c = redis::cmd("ZREM");
                    c.arg(key).arg(member);
                }
            }
        }
    }
    c
}

/// A write to one of the big keys that keeps it big.
fn big_cmd(rng: &mut StdRng) -> Cmd {
    let j = rng.gen_range(0..BIG_SIZE + 500);
    let mut c;
    match rng.gen_range(0..7) {
        0 => {
            c = redis::cmd("HSET");
            c.arg(BIG_KEYS[0])
                .arg(format!("field:{j}"))
                .arg(small_value(rng));
        }
        1 => {
            c = redis::cmd("HDEL");
            c.arg(BIG_KEYS[0]).arg(format!("field:{j}"));
        }
        2 => {
            c = redis::cmd("LPUSH");
            c.arg(BIG_KEYS[1]).arg(small_value(rng));
        }
        3 => {
            c = redis::cmd("RPOP");
            c.arg(BIG_KEYS[1]);
        }
        4 => {
            c = redis::cmd("LSET");
            c.arg(BIG_KEYS[1])
                .arg(j % BIG_SIZE / 2)
                .arg(small_value(rng));
        }
        5 => {
            c = redis::cmd("ZADD");
            c.arg(BIG_KEYS[2])
                .arg(score(rng))
                .arg(format!("member:{j}"));
        }
        _ => {
            if rng.gen_bool(0.5) {
                c = redis::cmd("ZINCRBY");
                c.arg(BIG_KEYS[2]).arg("2.5");
            } else {
                c = redis::cmd("ZREM");
                c.arg(BIG_KEYS[2]);
            }
            c.arg(format!("member:{j}"));
        }
    }
    c
}

/// Sends one command: server error replies (e.g. LSET on a missing key, INCR
/// on text) are expected and ignored; a broken connection ends the writer.
fn send(con: &mut dyn ConnectionLike, cmd: &Cmd, ops: &AtomicU64) -> Result<(), String> {
    ops.fetch_add(1, Ordering::Relaxed);
    match cmd.query::<Value>(con) {
        Ok(_) => Ok(()),
        Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
            Err(format!("{e}"))
        }
        Err(_) => Ok(()),
    }
}

fn write_loop(t: &Target, seed: u64, stop: &AtomicBool, ops: &AtomicU64) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut con = t.try_connect()?;
    let mut live = existing_names(t, 20_000);
    let mut deleted: Vec<(Kind, Vec<u8>)> = Vec::new();
    let started = Instant::now();
    let mut fresh = 0u64;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < WRITER_MAX_RUN {
        for _ in 0..WRITER_BATCH {
            let roll = rng.gen_range(0..100);
            if live.is_empty() || roll < 8 {
                // A brand-new key.
                let kind = Kind::ALL[rng.gen_range(0..Kind::ALL.len())];
                fresh += 1;
                let key = format!("{}:w{seed}:{fresh}", kind.prefix()).into_bytes();
                send(&mut *con, &create_cmd(kind, &key, &mut rng), ops)?;
                live.push((kind, key));
                continue;
            }
            if roll < 12 && !deleted.is_empty() {
                // Re-create a deleted key (same type, as the name says).
                let (kind, key) = deleted.swap_remove(rng.gen_range(0..deleted.len()));
                send(&mut *con, &create_cmd(kind, &key, &mut rng), ops)?;
                live.push((kind, key));
                continue;
            }
            if roll < 18 {
                send(&mut *con, &big_cmd(&mut rng), ops)?;
                continue;
            }
            let i = rng.gen_range(0..live.len());
            let key = live[i].1.clone();
            let cmd = match roll {
                18..=21 => {
                    deleted.push(live.swap_remove(i));
                    let mut c = redis::cmd("DEL");
                    c.arg(&key);
                    c
                }
                22..=25 => {
                    let mut c = redis::cmd("PEXPIRE");
                    c.arg(&key).arg(rng.gen_range(1_000..3_000));
                    c
                }
                26..=31 => {
                    let mut c = redis::cmd("EXPIRE");
                    c.arg(&key).arg(rng.gen_range(30..300));
                    c
                }
                32..=35 => {
                    let mut c = redis::cmd("PERSIST");
                    c.arg(&key);
                    c
                }
                _ => mutate_cmd(live[i].0, &key, &mut rng),
            };
            send(&mut *con, &cmd, ops)?;
        }
        std::thread::sleep(WRITER_PAUSE);
    }
    Ok(())
}
