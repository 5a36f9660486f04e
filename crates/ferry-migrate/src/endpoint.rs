//! Endpoints: what `--from` and `--to` name, and live connections to them.
//!
//! Every endpoint is reached through the Redis protocol with the `redis`
//! crate. A ferry store file is opened in this process by an embedded ferry
//! server on a private loopback port; when another process already holds
//! the file (`ferry serve`, another `ferry migrate`), its hand-off file says
//! where that process listens and we connect there instead. Either way the
//! file has a single writer, and the rest of the migration code sees one
//! kind of connection.

use crate::{Error, Result};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionAddr, ConnectionInfo, Pipeline, RedisConnectionInfo, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a `--from`/`--to` value names, before connecting.
#[derive(Clone, Debug)]
pub enum Spec {
    /// One Redis-protocol server (Redis, Valkey, Dragonfly, ferry serve).
    Server {
        host: String,
        port: u16,
        tls: bool,
        insecure: bool,
        user: Option<String>,
        password: Option<String>,
        db: Option<i64>,
    },
    /// A Redis Cluster, given by one or more seed nodes.
    Cluster {
        seeds: Vec<(String, u16)>,
        tls: bool,
        insecure: bool,
        user: Option<String>,
        password: Option<String>,
    },
    /// A ferry store file.
    Store { path: PathBuf },
}

impl Spec {
    /// Parses `redis://`, `rediss://`, `redis+cluster://`, `rediss+cluster://`,
    /// `sqlite:///abs/path` or a plain path.
    pub fn parse(text: &str) -> Result<Spec> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Usage("an endpoint is empty; give redis://host:port, redis+cluster://host:port or a ferry store path".into()));
        }
        if let Some(rest) = text.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err(Error::Usage(format!(
                    "{text}: no path after sqlite:// (write sqlite:///abs/path.db)"
                )));
            }
            return Ok(Spec::Store {
                path: absolute(Path::new(rest)),
            });
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Spec::Store {
                path: absolute(Path::new(text)),
            });
        };
        let (tls, cluster) = match scheme.to_ascii_lowercase().as_str() {
            "redis" => (false, false),
            "rediss" => (true, false),
            "redis+cluster" => (false, true),
            "rediss+cluster" => (true, true),
            other => {
                return Err(Error::Usage(format!(
                    "{}: unknown scheme {other}:// (use redis://, rediss://, redis+cluster://, sqlite:// or a file path)",
                    redact(text)
                )))
            }
        };
        if cluster {
            return parse_cluster(text, scheme, tls);
        }
        let url = url::Url::parse(text)
            .map_err(|e| Error::Usage(format!("{}: not a valid URL: {e}", redact(text))))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::Usage(format!("{}: no host in the URL", redact(text))))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(6379);
        let db = match url.path().trim_start_matches('/') {
            "" => None,
            d => Some(
                d.parse::<i64>()
                    .ok()
                    .filter(|n| (0..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "{}: the path must be a database number, got /{d}",
                            redact(text)
                        ))
                    })?,
            ),
        };
        let (user, password) = credentials(&url)?;
        let insecure = url.fragment() == Some("insecure");
        Ok(Spec::Server {
            host,
            port,
            tls,
            insecure,
            user,
            password,
            db,
        })
    }

    /// The endpoint as shown to people and stored in the registry: no password.
    pub fn display(&self) -> String {
        match self {
            Spec::Server {
                host,
                port,
                tls,
                user,
                password,
                db,
                ..
            } => {
                let scheme = if *tls { "rediss" } else { "redis" };
                let auth = auth_display(user, password);
                let db = db.map(|d| format!("/{d}")).unwrap_or_default();
                format!("{scheme}://{auth}{}{db}", host_port(host, *port))
            }
            Spec::Cluster {
                seeds,
                tls,
                user,
                password,
                ..
            } => {
                let scheme = if *tls {
                    "rediss+cluster"
                } else {
                    "redis+cluster"
                };
                let auth = auth_display(user, password);
                let hosts: Vec<String> = seeds.iter().map(|(h, p)| host_port(h, *p)).collect();
                format!("{scheme}://{auth}{}", hosts.join(","))
            }
            Spec::Store { path } => path.display().to_string(),
        }
    }

    /// The store file, when this is one.
    pub fn store_path(&self) -> Option<&Path> {
        match self {
            Spec::Store { path } => Some(path),
            _ => None,
        }
    }

    /// The database the URL names, if any.
    pub fn db(&self) -> Option<i64> {
        match self {
            Spec::Server { db, .. } => *db,
            _ => None,
        }
    }

    /// Whether two specs certainly name the same data (same file, or same
    /// host, port and database).
    pub fn same_place(&self, other: &Spec) -> bool {
        match (self, other) {
            (Spec::Store { path: a }, Spec::Store { path: b }) => {
                match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => a == b,
                }
            }
            (
                Spec::Server {
                    host: h1,
                    port: p1,
                    db: d1,
                    ..
                },
                Spec::Server {
                    host: h2,
                    port: p2,
                    db: d2,
                    ..
                },
            ) => same_host(h1, h2) && p1 == p2 && d1.unwrap_or(0) == d2.unwrap_or(0),
            (Spec::Cluster { seeds: a, .. }, Spec::Cluster { seeds: b, .. }) => a
                .iter()
                .any(|(h1, p1)| b.iter().any(|(h2, p2)| same_host(h1, h2) && p1 == p2)),
            (Spec::Cluster { seeds, .. }, Spec::Server { host, port, .. })
            | (Spec::Server { host, port, .. }, Spec::Cluster { seeds, .. }) => {
                seeds.iter().any(|(h, p)| same_host(h, host) && p == port)
            }
            _ => false,
        }
    }

    /// (tls, insecure, user, password); a store has none.
    pub fn tls_and_auth(&self) -> (bool, bool, Option<String>, Option<String>) {
        match self {
            Spec::Server {
                tls,
                insecure,
                user,
                password,
                ..
            }
            | Spec::Cluster {
                tls,
                insecure,
                user,
                password,
                ..
            } => (*tls, *insecure, user.clone(), password.clone()),
            Spec::Store { .. } => (false, false, None, None),
        }
    }
}

fn parse_cluster(text: &str, scheme: &str, tls: bool) -> Result<Spec> {
    let rest = &text[scheme.len() + 3..];
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let hosts = hosts.split('/').next().unwrap_or("");
    let (hosts, insecure) = match hosts.split_once('#') {
        Some((h, frag)) => (h, frag == "insecure"),
        None => (hosts, false),
    };
    let mut seeds = Vec::new();
    for h in hosts.split(',').filter(|h| !h.is_empty()) {
        let url = url::Url::parse(&format!("redis://{h}"))
            .map_err(|e| Error::Usage(format!("{}: bad cluster node {h}: {e}", redact(text))))?;
        let host = url
            .host_str()
            .ok_or_else(|| Error::Usage(format!("{}: bad cluster node {h}", redact(text))))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        seeds.push((host, url.port().unwrap_or(6379)));
    }
    if seeds.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no cluster nodes (write redis+cluster://host:port[,host:port...])",
            redact(text)
        )));
    }
    let (user, password) = match auth {
        Some(a) => {
            let url = url::Url::parse(&format!("redis://{a}@x"))
                .map_err(|e| Error::Usage(format!("{}: bad credentials: {e}", redact(text))))?;
            credentials(&url)?
        }
        None => (None, None),
    };
    Ok(Spec::Cluster {
        seeds,
        tls,
        insecure,
        user,
        password,
    })
}

fn credentials(url: &url::Url) -> Result<(Option<String>, Option<String>)> {
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let user = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(|u| decode(&u.replace('+', "%2B")));
    let password = url.password().map(|p| decode(&p.replace('+', "%2B")));
    Ok((user, password))
}

fn auth_display(user: &Option<String>, password: &Option<String>) -> String {
    match (user, password) {
        (Some(u), Some(_)) => format!("{u}:***@"),
        (None, Some(_)) => ":***@".into(),
        (Some(u), None) => format!("{u}@"),
        (None, None) => String::new(),
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn same_host(a: &str, b: &str) -> bool {
    let norm = |h: &str| match h {
        "localhost" | "127.0.0.1" | "::1" => "loopback".to_string(),
        h => h.to_ascii_lowercase(),
    };
    norm(a) == norm(b)
}

/// Hides the password of a URL for messages.
pub fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &text[s + 3..at];
            let user = auth.split(':').next().unwrap_or("");
            if auth.contains(':') {
                format!("{}{user}:***{}", &text[..s + 3], &text[at..])
            } else {
                text.to_string()
            }
        }
        _ => text.to_string(),
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// What software answers at an endpoint (from `INFO server`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flavor {
    Redis(String),
    Valkey(String),
    Dragonfly(String),
    Ferry(String),
}

impl Flavor {
    pub fn describe(&self) -> String {
        match self {
            Flavor::Redis(v) => format!("Redis {v}"),
            Flavor::Valkey(v) => format!("Valkey {v}"),
            Flavor::Dragonfly(v) => format!("Dragonfly {v}"),
            Flavor::Ferry(v) => format!("ferry {v}"),
        }
    }

    /// Whether DUMP payloads can come from or go to it. ferry reads and
    /// writes Redis 7.0's payloads; a ferry build without DUMP is found out
    /// by the COMMAND INFO probe in `dump_available`.
    pub fn speaks_dump(&self) -> bool {
        true
    }

    /// Whether it holds only the core data types (no module types).
    pub fn basic_types_only(&self) -> bool {
        matches!(self, Flavor::Ferry(_))
    }

    /// Data types it can hold.
    pub fn holds(&self, kind: &str) -> bool {
        match self {
            Flavor::Ferry(_) => {
                matches!(kind, "string" | "hash" | "list" | "set" | "zset" | "stream")
            }
            _ => true,
        }
    }
}

/// A connection to one server or to a whole cluster.
#[derive(Clone)]
pub enum Conn {
    Single(Box<ConnectionManager>),
    Cluster(Box<ClusterConn>),
}

/// A cluster: the cluster client plus a direct connection to every master
/// and the slot map, so a batch travels as one pipeline per node.
#[derive(Clone)]
pub struct ClusterConn {
    client: ClusterConnection,
    masters: Vec<ConnectionManager>,
    /// Master index per slot (`u16::MAX`: unknown, go through the client).
    slots: std::sync::Arc<Vec<u16>>,
}

impl ClusterConn {
    /// The master that holds the key of a one-key pipeline.
    fn node_of(&self, p: &Pipeline) -> Option<usize> {
        let cmd = p.cmd_iter().next()?;
        // EVAL/EVALSHA/FCALL script numkeys key ...: the key is the fourth
        // argument (routing by the script body sent every key the long way,
        // one by one through the cluster client).
        let scripted = matches!(
            cmd.args_iter().next(),
            Some(redis::Arg::Simple(name))
                if name.eq_ignore_ascii_case(b"EVAL")
                    || name.eq_ignore_ascii_case(b"EVALSHA")
                    || name.eq_ignore_ascii_case(b"FCALL")
        );
        let key = match cmd.args_iter().nth(if scripted { 3 } else { 1 })? {
            redis::Arg::Simple(k) => k,
            redis::Arg::Cursor => return None,
        };
        let slot = redis::cluster_routing::get_slot(key) as usize;
        let node = *self.slots.get(slot)?;
        (usize::from(node) < self.masters.len()).then_some(usize::from(node))
    }

    /// Sends each key's pipeline to its master, all keys of a master in one
    /// pipeline. Keys whose replies say the slot moved (MOVED, ASK,
    /// TRYAGAIN, CLUSTERDOWN), or whose node failed, go again one by one
    /// through the cluster client, which follows redirects.
    async fn per_key(&self, pipes: &[Pipeline]) -> Vec<KeyReplies> {
        let mut by_node: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut again = Vec::new();
        for (i, p) in pipes.iter().enumerate() {
            match self.node_of(p) {
                Some(n) => by_node.entry(n).or_default().push(i),
                None => again.push(i),
            }
        }
        let mut out: Vec<Option<KeyReplies>> = (0..pipes.len()).map(|_| None).collect();
        let sends = by_node.into_iter().map(|(node, idx)| {
            let mut conn = self.masters[node].clone();
            async move {
                let mut all = redis::pipe();
                for &i in &idx {
                    for cmd in pipes[i].cmd_iter() {
                        all.add_command(cmd.clone());
                    }
                }
                let total = all.cmd_iter().count();
                (idx, conn.req_packed_commands(&all, 0, total).await)
            }
        });
        for (idx, r) in futures_util::future::join_all(sends).await {
            let Ok(values) = r else {
                again.extend(idx);
                continue;
            };
            let mut values = values.into_iter();
            for i in idx {
                let n = pipes[i].cmd_iter().count();
                let v: Vec<Value> = values.by_ref().take(n).collect();
                let moved = v.iter().any(|x| match x {
                    Value::ServerError(e) => {
                        matches!(e.code(), "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN")
                    }
                    _ => false,
                });
                if moved || v.len() != n {
                    again.push(i);
                } else {
                    out[i] = Some(Ok(v));
                }
            }
        }
        // A bounded number at a time: the cluster client was seen to stop
        // answering under hundreds of concurrent requests.
        use futures_util::stream::StreamExt;
        let retries = futures_util::stream::iter(again.iter().map(|&i| {
            let mut c = self.client.clone();
            let p = &pipes[i];
            async move { (i, through_client(&mut c, p).await) }
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
        for (i, r) in retries {
            out[i] = Some(r);
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(redis::RedisError::from((
                        redis::ErrorKind::ClientError,
                        "no reply",
                    )))
                })
            })
            .collect()
    }
}

/// One key's pipeline through the cluster client, retried while the
/// cluster is moving (failover, resharding).
async fn through_client(c: &mut ClusterConnection, p: &Pipeline) -> KeyReplies {
    let n = p.cmd_iter().count();
    let mut last = None;
    for attempt in 0..6u32 {
        let sent = tokio::time::timeout(Duration::from_secs(30), c.req_packed_commands(p, 0, n))
            .await
            .unwrap_or_else(|_| {
                Err(redis::RedisError::from((
                    redis::ErrorKind::IoError,
                    "no answer from the cluster within 30 s",
                )))
            });
        match sent {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        redis::RedisError::from((redis::ErrorKind::IoError, "retries exhausted"))
    }))
}

/// Replies to one key's commands, or the error that failed them as a whole.
pub type KeyReplies = std::result::Result<Vec<Value>, redis::RedisError>;

impl Conn {
    /// Runs one small pipeline per key. On one server they travel as a
    /// single pipeline; in a cluster each goes to the key's node, all in
    /// flight at once (the cluster client follows MOVED and ASK). A server
    /// error inside a pipeline stays in its reply as `Value::ServerError`.
    pub async fn per_key(&mut self, pipes: &[Pipeline]) -> Result<Vec<KeyReplies>> {
        if pipes.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Conn::Single(c) => {
                let mut all = Pipeline::with_capacity(pipes.len() * 2);
                let mut counts = Vec::with_capacity(pipes.len());
                for p in pipes {
                    let mut n = 0;
                    for cmd in p.cmd_iter() {
                        all.add_command(cmd.clone());
                        n += 1;
                    }
                    counts.push(n);
                }
                send_joined(c, &all, counts).await
            }
            Conn::Cluster(c) => Ok(c.per_key(pipes).await),
        }
    }

    /// One command (cluster: routed by its first key, or to a random node).
    pub async fn cmd(&mut self, cmd: &redis::Cmd) -> Result<Value> {
        let v = match self {
            Conn::Single(c) => c.req_packed_command(cmd).await,
            Conn::Cluster(c) => c.client.req_packed_command(cmd).await,
        }
        .map_err(Error::Redis)?;
        match v {
            Value::ServerError(e) => Err(Error::Redis(e.into())),
            v => Ok(v),
        }
    }
}

/// Per-key commands for [`Conn::run_keys`], written where they will travel:
/// on one server straight into the single pipeline that carries the batch
/// (no pipeline per key copied into it command by command: dropping that
/// copy cut the tool's CPU by a quarter); on a cluster each key keeps its
/// own pipeline, to be routed to the key's node.
pub struct KeyPipes {
    /// One server: every key's commands, in key order.
    joined: Option<Pipeline>,
    /// Commands each key added to `joined`.
    counts: Vec<usize>,
    /// A cluster: one pipeline per key.
    pipes: Vec<Pipeline>,
}

impl KeyPipes {
    /// Adds the next key's commands (`fill` may add none).
    pub fn add(&mut self, fill: impl FnOnce(&mut Pipeline)) {
        match &mut self.joined {
            Some(all) => {
                // O(1): a slice iterator's count.
                let before = all.cmd_iter().count();
                fill(all);
                self.counts.push(all.cmd_iter().count() - before);
            }
            None => {
                let mut p = redis::pipe();
                fill(&mut p);
                self.pipes.push(p);
            }
        }
    }
}

impl Conn {
    /// An empty batch of per-key commands for this connection, with room
    /// for `keys` keys.
    pub fn key_pipes(&self, keys: usize) -> KeyPipes {
        match self {
            Conn::Single(_) => KeyPipes {
                joined: Some(Pipeline::with_capacity(keys * 2)),
                counts: Vec::with_capacity(keys),
                pipes: Vec::new(),
            },
            Conn::Cluster(_) => KeyPipes {
                joined: None,
                counts: Vec::new(),
                pipes: Vec::with_capacity(keys),
            },
        }
    }

    /// [`Conn::per_key`] for a batch built by [`KeyPipes::add`]: the
    /// replies of each key, in the order the keys were added.
    pub async fn run_keys(&mut self, batch: KeyPipes) -> Result<Vec<KeyReplies>> {
        let KeyPipes {
            joined,
            counts,
            pipes,
        } = batch;
        let Some(all) = joined else {
            return self.per_key(&pipes).await;
        };
        match self {
            Conn::Single(c) => send_joined(c, &all, counts).await,
            Conn::Cluster(_) => Err(Error::Protocol(
                "internal error: a key batch built for one server was sent to a cluster".into(),
            )),
        }
    }
}

/// Sends one server's joined pipeline and splits the replies by key
/// (`counts`: commands per key, in order).
async fn send_joined(
    c: &ConnectionManager,
    all: &Pipeline,
    counts: Vec<usize>,
) -> Result<Vec<KeyReplies>> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return Ok(counts.into_iter().map(|_| Ok(Vec::new())).collect());
    }
    let mut values = retry_io(|| {
        let mut c = c.clone();
        async move { c.req_packed_commands(all, 0, total).await }
    })
    .await?
    .into_iter();
    Ok(counts
        .into_iter()
        .map(|n| Ok(values.by_ref().take(n).collect()))
        .collect())
}

/// One pipeline per key, filled by `f` (for [`Conn::per_key`]).
pub fn pipes_per_key(keys: &[Vec<u8>], f: impl Fn(&mut Pipeline, &[u8])) -> Vec<Pipeline> {
    keys.iter()
        .map(|k| {
            let mut p = redis::pipe();
            f(&mut p, k);
            p
        })
        .collect()
}

/// One pipeline per key holding `cmd key`.
pub fn each_key(cmd: &str, keys: &[Vec<u8>]) -> Vec<Pipeline> {
    pipes_per_key(keys, |p, k| {
        p.cmd(cmd).arg(k);
    })
}

/// The command that counts a key's elements (a string's bytes), by the
/// name TYPE gives.
pub fn length_command(ty: &str) -> &'static str {
    match ty {
        "string" => "STRLEN",
        "hash" => "HLEN",
        "list" => "LLEN",
        "set" => "SCARD",
        "zset" => "ZCARD",
        "stream" => "XLEN",
        _ => "EXISTS",
    }
}

/// The length of each key, given its TYPE name (None where it could not
/// be read).
pub async fn lengths<T: AsRef<str>>(
    c: &mut Conn,
    keys: &[Vec<u8>],
    types: &[T],
) -> Result<Vec<Option<i64>>> {
    let pipes: Vec<Pipeline> = keys
        .iter()
        .zip(types)
        .map(|(k, t)| {
            let mut p = redis::pipe();
            p.cmd(length_command(t.as_ref())).arg(k);
            p
        })
        .collect();
    Ok(c.per_key(&pipes)
        .await?
        .into_iter()
        .map(|r| r.ok().and_then(|v| v.first().and_then(crate::reply::int)))
        .collect())
}

/// Errors worth retrying: the connection dropped, or the cluster is moving.
pub fn transient(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::TryAgain
                | redis::ErrorKind::ClusterDown
                | redis::ErrorKind::MasterDown
                | redis::ErrorKind::BusyLoadingError
        )
}

/// Retries an operation whose failure is a dropped connection: the
/// connection manager reconnects underneath.
async fn retry_io<T, F, Fut>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    let mut attempt = 0u32;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) && attempt < 8 => {
                attempt += 1;
                log::warn!("{e}; retrying ({attempt}/8)");
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            }
            Err(e) => return Err(Error::Redis(e)),
        }
    }
}

/// One master of an endpoint: where to SCAN and where to subscribe.
#[derive(Clone)]
pub struct Node {
    pub addr: String,
    info: ConnectionInfo,
    conns: std::sync::Arc<tokio::sync::Mutex<BTreeMap<i64, ConnectionManager>>>,
}

impl Node {
    fn new(addr: String, info: ConnectionInfo) -> Node {
        Node {
            addr,
            info,
            conns: Default::default(),
        }
    }

    /// A connection to this node with database `db` selected.
    pub async fn conn(&self, db: i64) -> Result<ConnectionManager> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(&db) {
            return Ok(c.clone());
        }
        let mut info = self.info.clone();
        info.redis.db = db;
        let c = manager(info, &self.addr).await?;
        conns.insert(db, c.clone());
        Ok(c)
    }

    /// A fresh pub/sub connection to this node.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub> {
        let client = redis::Client::open(self.info.clone()).map_err(Error::Redis)?;
        tokio::time::timeout(Duration::from_secs(10), client.get_async_pubsub())
            .await
            .map_err(|_| Error::Connect(format!("{}: timed out connecting", self.addr)))?
            .map_err(|e| connect_error(&self.addr, e))
    }
}

/// A connected endpoint.
pub struct Endpoint {
    pub spec: Spec,
    pub flavor: Flavor,
    /// DUMP and RESTORE exist here (`COMMAND INFO`). A server without
    /// them may echo a binary payload in its "unknown command" error,
    /// which the client cannot parse, so this is asked up front.
    pub dump: bool,
    /// Masters (one for a standalone server or a store).
    pub nodes: Vec<Node>,
    /// For a cluster: the client, the masters' connections and the slot
    /// map, built once and cloned for every batch.
    cluster: Option<ClusterConn>,
    embedded: Option<Embedded>,
}

impl Endpoint {
    /// Connects (or, for a store file, opens) the endpoint and checks that it
    /// answers.
    pub async fn connect(spec: Spec) -> Result<Endpoint> {
        match &spec {
            Spec::Store { path } => {
                let (info, embedded) = open_store(path).await?;
                let addr = addr_of(&info);
                let node = Node::new(addr.clone(), info);
                let mut c = node.conn(0).await?;
                let flavor = flavor_of(&mut c, &addr).await?;
                let dump = dump_available(&mut c, &flavor).await;
                Ok(Endpoint {
                    spec,
                    flavor,
                    dump,
                    nodes: vec![node],
                    cluster: None,
                    embedded,
                })
            }
            Spec::Server { host, port, .. } => {
                let info = conn_info(&spec, host, *port);
                let addr = host_port(host, *port);
                let node = Node::new(addr.clone(), info);
                let mut c = node.conn(0).await?;
                let flavor = flavor_of(&mut c, &addr).await?;
                let dump = dump_available(&mut c, &flavor).await;
                let cluster_on = info_field(&mut c, "cluster", "cluster_enabled")
                    .await?
                    .as_deref()
                    == Some("1");
                if cluster_on {
                    if spec.db().is_some_and(|d| d != 0) {
                        return Err(Error::Usage(format!(
                            "{}: a cluster has only database 0",
                            spec.display()
                        )));
                    }
                    let (tls, insecure, user, password) = spec.tls_and_auth();
                    let cluster_spec = Spec::Cluster {
                        seeds: vec![(host.clone(), *port)],
                        tls,
                        insecure,
                        user,
                        password,
                    };
                    return Box::pin(Endpoint::connect(cluster_spec)).await;
                }
                Ok(Endpoint {
                    spec,
                    flavor,
                    dump,
                    nodes: vec![node],
                    cluster: None,
                    embedded: None,
                })
            }
            Spec::Cluster { seeds, .. } => {
                let infos: Vec<ConnectionInfo> =
                    seeds.iter().map(|(h, p)| conn_info(&spec, h, *p)).collect();
                let seed_addr = host_port(&seeds[0].0, seeds[0].1);
                let (tls, insecure, user, password) = spec.tls_and_auth();
                let mut builder = redis::cluster::ClusterClientBuilder::new(infos.clone())
                    .connection_timeout(Duration::from_secs(10))
                    .response_timeout(Duration::from_secs(60))
                    .retries(8);
                if let Some(u) = &user {
                    builder = builder.username(u.clone());
                }
                if let Some(p) = &password {
                    builder = builder.password(p.clone());
                }
                if tls {
                    builder = builder.tls(if insecure {
                        redis::cluster::TlsMode::Insecure
                    } else {
                        redis::cluster::TlsMode::Secure
                    });
                }
                let client = builder.build().map_err(|e| connect_error(&seed_addr, e))?;
                let mut cluster =
                    tokio::time::timeout(Duration::from_secs(15), client.get_async_connection())
                        .await
                        .map_err(|_| {
                            Error::Connect(format!(
                                "{seed_addr}: timed out connecting to the cluster"
                            ))
                        })?
                        .map_err(|e| connect_error(&seed_addr, e))?;
                let nodes_text = match cluster
                    .req_packed_command(redis::cmd("CLUSTER").arg("NODES"))
                    .await
                {
                    Ok(Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
                    Ok(Value::VerbatimString { text, .. }) => text,
                    Ok(other) => {
                        return Err(Error::Protocol(format!(
                            "{seed_addr}: CLUSTER NODES answered {other:?}"
                        )))
                    }
                    Err(e) => return Err(connect_error(&seed_addr, e)),
                };
                let mut nodes = Vec::new();
                let mut slots = vec![u16::MAX; 16384];
                for (i, (host, port, ranges)) in
                    cluster_masters(&nodes_text).into_iter().enumerate()
                {
                    for (a, b) in ranges {
                        for s in a..=b.min(16383) {
                            slots[usize::from(s)] = i as u16;
                        }
                    }
                    let mut info = conn_info(&spec, &host, port);
                    info.redis.db = 0;
                    nodes.push(Node::new(host_port(&host, port), info));
                }
                if nodes.is_empty() {
                    return Err(Error::Connect(format!(
                        "{seed_addr}: the cluster reports no master that serves slots"
                    )));
                }
                let mut masters = Vec::with_capacity(nodes.len());
                for n in &nodes {
                    masters.push(n.conn(0).await?);
                }
                let flavor = flavor_of(&mut masters[0], &nodes[0].addr).await?;
                let dump = dump_available(&mut masters[0], &flavor).await;
                Ok(Endpoint {
                    spec,
                    flavor,
                    dump,
                    nodes,
                    cluster: Some(ClusterConn {
                        client: cluster,
                        masters,
                        slots: std::sync::Arc::new(slots),
                    }),
                    embedded: None,
                })
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// For a cluster: the index in [`Endpoint::nodes`] of the master that
    /// serves each slot (`u16::MAX`: none), as read when connecting.
    pub fn slot_owners(&self) -> Option<&[u16]> {
        self.cluster.as_ref().map(|c| c.slots.as_slice())
    }

    /// The connection that reaches any key of `db`.
    pub async fn data(&self, db: i64) -> Result<Conn> {
        match &self.cluster {
            Some(c) => Ok(Conn::Cluster(Box::new(c.clone()))),
            None => Ok(Conn::Single(Box::new(self.nodes[0].conn(db).await?))),
        }
    }

    /// Databases holding keys, with their key counts, summed over masters.
    pub async fn keyspace(&self) -> Result<BTreeMap<i64, u64>> {
        let mut out = BTreeMap::new();
        for n in &self.nodes {
            let mut c = n.conn(0).await?;
            let text = info_text(&mut c, "keyspace").await?;
            for line in text.lines() {
                let Some((db, rest)) = line.split_once(':') else {
                    continue;
                };
                let Some(db) = db.strip_prefix("db").and_then(|d| d.parse::<i64>().ok()) else {
                    continue;
                };
                let keys = rest
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("keys="))
                    .and_then(|k| k.parse::<u64>().ok())
                    .unwrap_or(0);
                *out.entry(db).or_insert(0) += keys;
            }
        }
        Ok(out)
    }

    /// Closes the endpoint; a store opened in-process is committed.
    pub async fn close(mut self) {
        if let Some(e) = self.embedded.take() {
            e.close().await;
        }
    }
}

fn conn_info(spec: &Spec, host: &str, port: u16) -> ConnectionInfo {
    let (tls, insecure, user, password) = spec.tls_and_auth();
    let addr = if tls {
        ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host.to_string(), port)
    };
    ConnectionInfo {
        addr,
        redis: RedisConnectionInfo {
            db: spec.db().unwrap_or(0),
            username: user,
            password,
            ..Default::default()
        },
    }
}

fn addr_of(info: &ConnectionInfo) -> String {
    match &info.addr {
        ConnectionAddr::Tcp(h, p) => host_port(h, *p),
        ConnectionAddr::TcpTls { host, port, .. } => host_port(host, *port),
        other => format!("{other:?}"),
    }
}

async fn manager(info: ConnectionInfo, addr: &str) -> Result<ConnectionManager> {
    let client = redis::Client::open(info).map_err(Error::Redis)?;
    // One plain attempt first: the connection manager retries a refused
    // connection or a bad password until its timeout, hiding the reason.
    client
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Duration::from_secs(10))
                .set_response_timeout(Duration::from_secs(10)),
        )
        .await
        .map_err(|e| connect_error(addr, e))?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(10))
        .set_response_timeout(Duration::from_secs(120))
        .set_number_of_retries(3);
    tokio::time::timeout(
        Duration::from_secs(15),
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| Error::Connect(format!("{addr}: timed out connecting")))?
    .map_err(|e| connect_error(addr, e))
}

/// Turns a connection failure into a one-line error that says what to do.
pub fn connect_error(addr: &str, e: redis::RedisError) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("noauth")
        || lower.contains("wrongpass")
        || lower.contains("invalid password")
        || lower.contains("invalid username")
        || lower.contains("auth") && lower.contains("fail")
    {
        Error::Auth(format!("{addr}: authentication failed ({text}); put the right user and password in the URL: redis://user:password@host:port"))
    } else if lower.contains("certificate") {
        Error::Connect(format!("{addr}: the server's TLS certificate was not accepted ({text}); use a certificate signed by a CA this machine trusts, or append #insecure to the rediss:// URL to skip the check"))
    } else if e.is_io_error() || lower.contains("refused") || lower.contains("timed out") {
        Error::Connect(format!("{addr}: cannot connect ({text}); check the host and port, and that the server is running and reachable from here"))
    } else {
        Error::Connect(format!("{addr}: {text}"))
    }
}

async fn info_text(c: &mut ConnectionManager, section: &str) -> Result<String> {
    let v = c
        .req_packed_command(redis::cmd("INFO").arg(section))
        .await
        .map_err(Error::Redis)?;
    Ok(match v {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::VerbatimString { text, .. } => text,
        Value::SimpleString(s) => s,
        Value::ServerError(e) => return Err(Error::Redis(e.into())),
        _ => String::new(),
    })
}

/// One `field:value` line of an INFO section.
pub async fn info_field(
    c: &mut ConnectionManager,
    section: &str,
    field: &str,
) -> Result<Option<String>> {
    let text = info_text(c, section).await?;
    Ok(parse_info_field(&text, field))
}

pub fn parse_info_field(text: &str, field: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// Reads a whole INFO section from a node.
pub async fn node_info(node: &Node, section: &str) -> Result<String> {
    let mut c = node.conn(0).await?;
    info_text(&mut c, section).await
}

/// Whether DUMP and RESTORE are there to use (maybe renamed, denied by
/// ACL, or missing from an older ferry).
async fn dump_available(c: &mut ConnectionManager, flavor: &Flavor) -> bool {
    if !flavor.speaks_dump() {
        return false;
    }
    match c
        .req_packed_command(redis::cmd("COMMAND").arg("INFO").arg("DUMP").arg("RESTORE"))
        .await
    {
        Ok(Value::Array(info)) => info.len() == 2 && info.iter().all(|v| !matches!(v, Value::Nil)),
        _ => false,
    }
}

impl Endpoint {
    /// Whether keys can travel from here to `dst` as DUMP payloads.
    pub fn dump_to(&self, dst: &Endpoint) -> bool {
        self.dump && dst.dump
    }
}

async fn flavor_of(c: &mut ConnectionManager, addr: &str) -> Result<Flavor> {
    let text = info_text(c, "server").await.map_err(|e| match e {
        Error::Redis(re) => connect_error(addr, re),
        e => e,
    })?;
    let field = |f: &str| parse_info_field(&text, f);
    Ok(if let Some(v) = field("ferry_version") {
        Flavor::Ferry(v)
    } else if let Some(v) = field("dragonfly_version") {
        Flavor::Dragonfly(v)
    } else if let Some(v) = field("valkey_version") {
        Flavor::Valkey(v)
    } else {
        Flavor::Redis(field("redis_version").unwrap_or_else(|| "unknown".into()))
    })
}

/// A master's host, port and slot ranges.
type Master = (String, u16, Vec<(u16, u16)>);

/// Masters that serve slots, from CLUSTER NODES, with their slot ranges.
fn cluster_masters(text: &str) -> Vec<Master> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 9 || !f[2].split(',').any(|x| x == "master") || f[2].contains("fail") {
            continue;
        }
        let addr = f[1].split('@').next().unwrap_or("");
        let addr = addr.split(',').next().unwrap_or("");
        let Some((host, port)) = addr.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse() else { continue };
        // "0-5460" or "5461"; "[...]" entries are slots being migrated.
        let ranges = f[8..]
            .iter()
            .filter(|r| !r.starts_with('['))
            .filter_map(|r| match r.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => r.parse().ok().map(|x| (x, x)),
            })
            .collect();
        out.push((
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            ranges,
        ));
    }
    out.sort();
    out
}

/// A store file opened by this process: the embedded server that serves it.
struct Embedded {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::result::Result<(), ferry_server::ServeError>>,
}

impl Embedded {
    async fn close(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("closing the store: {e}"),
            Err(e) => log::warn!("closing the store: {e}"),
        }
    }
}

/// Opens a ferry store file: in this process when nobody holds it, else
/// through the process that does.
async fn open_store(path: &Path) -> Result<(ConnectionInfo, Option<Embedded>)> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            return Err(Error::Usage(format!(
                "{}: the directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
    }
    let password: String = {
        use rand::Rng;
        let mut r = rand::thread_rng();
        (0..32)
            .map(|_| format!("{:x}", r.gen_range(0..16u8)))
            .collect()
    };
    let config = ferry_server::ServerConfig {
        bind: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        port: 0,
        data: path.to_path_buf(),
        requirepass: Some(password.clone()),
        ..ferry_server::ServerConfig::default()
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let mut task = tokio::spawn(ferry_server::serve_embedded(
        config,
        ferry_server::Embedding {
            ready: ready_tx,
            stop: stop_rx,
        },
    ));
    tokio::select! {
        ready = ready_rx => {
            if let Ok(addrs) = ready {
                if let Some(addr) = addrs.first() {
                    let info = ConnectionInfo {
                        addr: ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()),
                        redis: RedisConnectionInfo { password: Some(password), ..Default::default() },
                    };
                    return Ok((info, Some(Embedded { stop: stop_tx, task })));
                }
            }
            // The server ended before it was ready: its result says why.
            match (&mut task).await {
                Ok(Err(e)) => handle_open_error(path, e).await,
                _ => Err(Error::Store(format!("{}: the store did not open", path.display()))),
            }
        }
        done = &mut task => match done {
            Ok(Err(e)) => handle_open_error(path, e).await,
            _ => Err(Error::Store(format!("{}: the store did not open", path.display()))),
        }
    }
}

async fn handle_open_error(
    path: &Path,
    e: ferry_server::ServeError,
) -> Result<(ConnectionInfo, Option<Embedded>)> {
    let in_use = matches!(
        &e,
        ferry_server::ServeError::Store(ferry_store::StoreError::InUse(_))
    );
    if !in_use {
        return Err(Error::Store(format!("{}: {e}", path.display())));
    }
    // Another process holds the file; it publishes where to reach it
    // right after it starts listening, so give it a moment.
    for _ in 0..50 {
        if let Some(c) = ferry_server::handoff::read(path) {
            log::info!(
                "{} is held by another ferry process; using it at {}",
                path.display(),
                c.addr
            );
            let info = ConnectionInfo {
                addr: ConnectionAddr::Tcp(c.addr.ip().to_string(), c.addr.port()),
                redis: RedisConnectionInfo {
                    password: c.password,
                    ..Default::default()
                },
            };
            return Ok((info, None));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::Store(format!(
        "{}: another process holds this store and does not say where it listens ({} is missing); stop it, or point --from/--to at its redis:// address",
        path.display(),
        ferry_server::handoff::path_for(path).display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints() {
        match Spec::parse("redis://u:p%40ss@127.0.0.1:7000/3").unwrap() {
            Spec::Server {
                host,
                port,
                db,
                user,
                password,
                tls,
                ..
            } => {
                assert_eq!(
                    (host.as_str(), port, db, tls),
                    ("127.0.0.1", 7000, Some(3), false)
                );
                assert_eq!(user.as_deref(), Some("u"));
                assert_eq!(password.as_deref(), Some("p@ss"));
            }
            other => panic!("{other:?}"),
        }
        match Spec::parse("redis+cluster://:pw@a:1,b:2").unwrap() {
            Spec::Cluster {
                seeds, password, ..
            } => {
                assert_eq!(seeds, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
                assert_eq!(password.as_deref(), Some("pw"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Spec::parse("./x.db").unwrap(), Spec::Store { .. }));
        assert!(
            matches!(Spec::parse("sqlite:///tmp/x.db").unwrap(), Spec::Store { path } if path == Path::new("/tmp/x.db"))
        );
        assert!(Spec::parse("http://x").is_err());
        assert!(Spec::parse("redis://h:1/abc").is_err());
        assert!(Spec::parse("redis://:1").is_err());
        assert_eq!(
            Spec::parse("redis://u:secret@h:1").unwrap().display(),
            "redis://u:***@h:1"
        );
        assert_eq!(redact("redis://u:secret@h:1"), "redis://u:***@h:1");
    }

    #[test]
    fn same_place() {
        let a = Spec::parse("redis://localhost:6379").unwrap();
        let b = Spec::parse("redis://127.0.0.1:6379/0").unwrap();
        let c = Spec::parse("redis://127.0.0.1:6379/1").unwrap();
        assert!(a.same_place(&b));
        assert!(!a.same_place(&c));
    }

    #[test]
    fn masters_from_cluster_nodes() {
        let text = "a 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460\n\
                    b 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922\n\
                    c 127.0.0.1:7004@17004 slave b 0 0 2 connected\n\
                    d 127.0.0.1:7003@17003 master,fail - 0 0 3 connected 10923-16383\n";
        assert_eq!(
            cluster_masters(text),
            vec![
                ("127.0.0.1".into(), 7001, vec![(0, 5460)]),
                ("127.0.0.1".into(), 7002, vec![(5461, 10922)])
            ]
        );
    }
}
