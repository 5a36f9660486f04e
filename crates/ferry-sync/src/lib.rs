//! `ferry sync`: follow a Redis master as one of its replicas and keep
//! another store identical to it.
//!
//! - [`link`]: the replica side of the replication protocol;
//! - this module: the run. A full resync's snapshot is read with
//!   `ferry_rdb::file` and each key is RESTOREd on the target as the master
//!   encoded it (with its absolute expiry); then every command of the
//!   stream is applied in order. Commands go to the target in batches, each
//!   one `MULTI ... EXEC` that also records the replication id and offset
//!   reached (hash `__ferry:sync:{<name>}` on the target): applied commands
//!   and the checkpoint commit together, so a killed `ferry sync` resumes
//!   with `PSYNC <replid> <offset>` (a partial resync) and applies nothing
//!   twice.
//!
//! First slice of issue 12: one standalone master as the source; a
//! standalone server (Redis, Valkey, ferry) as the target.

pub mod link;

use ferry_migrate::endpoint::{Conn, Endpoint, Spec};
use link::{Link, Start};
use redis::Value;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("source: {0}")]
    Source(String),
    #[error("target: {0}")]
    Target(String),
    #[error("{0}")]
    Usage(String),
    #[error("the snapshot: {0}")]
    Snapshot(#[from] ferry_rdb::file::FileError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<ferry_migrate::Error> for Error {
    fn from(e: ferry_migrate::Error) -> Error {
        Error::Target(e.to_string())
    }
}

/// Where a run's checkpoint lives on the target.
pub fn checkpoint_key(name: &str) -> String {
    format!("__ferry:sync:{{{name}}}")
}

/// What `ferry sync` was asked.
pub struct Options {
    pub from: Spec,
    pub to: Spec,
    /// The run's name (the checkpoint key).
    pub name: String,
    /// Commands per MULTI/EXEC batch.
    pub batch: usize,
    /// Stop after this long (None: until killed or the master goes away).
    pub duration: Option<Duration>,
}

/// Counts of a run, for progress lines.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub keys_restored: u64,
    pub commands: u64,
    pub offset: u64,
    /// Bytes of the source's stream not applied yet (its
    /// `master_repl_offset` minus ours), when last asked (None: not yet).
    pub lag_bytes: Option<u64>,
    /// Seconds since the target was last fully caught up.
    pub lag_secs: Option<f64>,
}

/// Where a run stopped: the replication id, the offset of the last byte
/// applied, and the database the stream had selected there (a partial
/// resync continues in it: the master sends SELECT only when it changes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checkpoint {
    replid: String,
    offset: u64,
    db: i64,
}

async fn read_checkpoint(conn: &mut Conn, name: &str) -> Result<Option<Checkpoint>> {
    let v = conn
        .cmd(
            redis::cmd("HMGET")
                .arg(checkpoint_key(name))
                .arg("replid")
                .arg("offset")
                .arg("db"),
        )
        .await?;
    let text = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let Value::Array(items) = v else {
        return Ok(None);
    };
    let (Some(replid), Some(offset)) = (text(items.first()), text(items.get(1))) else {
        return Ok(None);
    };
    let bad = |what: &str| {
        Error::Target(format!(
            "{} field '{what}' is not what ferry wrote; was it changed by hand?",
            checkpoint_key(name)
        ))
    };
    Ok(Some(Checkpoint {
        replid,
        offset: offset.parse().map_err(|_| bad("offset"))?,
        db: text(items.get(2))
            .unwrap_or_else(|| "0".into())
            .parse()
            .map_err(|_| bad("db"))?,
    }))
}

/// RESTOREs the snapshot's keys (and function libraries) on the target.
async fn load_snapshot(target: &Endpoint, data: &[u8], counts: &mut Counts) -> Result<()> {
    let mut file = ferry_rdb::file::RdbFile::new(data)?;
    let version = file.version;
    let now = ferry_migrate::now_ms();
    let mut batch: Vec<redis::Pipeline> = Vec::new();
    let mut db = 0u64;
    async fn flush(target: &Endpoint, db: u64, batch: &mut Vec<redis::Pipeline>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = i64::try_from(db).map_err(|_| Error::Usage(format!("database {db}")))?;
        let mut conn = target.data(db).await?;
        for r in conn.per_key(batch).await? {
            let r = r.map_err(|e| Error::Target(e.to_string()))?;
            if let Some(Value::ServerError(e)) = r.first() {
                return Err(Error::Target(format!("RESTORE failed: {e:?}")));
            }
        }
        batch.clear();
        Ok(())
    }
    while let Some(item) = file.next_item()? {
        match item {
            ferry_rdb::file::Item::SelectDb(n) => {
                flush(target, db, &mut batch).await?;
                db = n;
            }
            ferry_rdb::file::Item::Function(code) => {
                let mut conn = target.data(0).await?;
                conn.cmd(redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(code))
                    .await?;
            }
            ferry_rdb::file::Item::Aux(..) => {}
            ferry_rdb::file::Item::Key(k) => {
                if k.expire_at_ms.is_some_and(|at| at <= now) {
                    continue;
                }
                let payload = ferry_rdb::file::dump_payload(k.kind, k.object, version);
                let mut p = redis::pipe();
                p.cmd("RESTORE")
                    .arg(&k.name)
                    .arg(k.expire_at_ms.unwrap_or(0))
                    .arg(payload)
                    .arg("REPLACE");
                if k.expire_at_ms.is_some() {
                    p.arg("ABSTTL");
                }
                batch.push(p);
                counts.keys_restored += 1;
                if batch.len() >= 500 {
                    flush(target, db, &mut batch).await?;
                }
            }
        }
    }
    flush(target, db, &mut batch).await
}

/// Commands the target must not run: the replication protocol's own.
fn skipped(args: &[Vec<u8>]) -> bool {
    let Some(name) = args.first() else {
        return true;
    };
    name.eq_ignore_ascii_case(b"PING") || name.eq_ignore_ascii_case(b"REPLCONF")
}

/// Commands read ahead of the target (the reader task's channel).
const STREAM_BUFFER: usize = 10_000;

/// How long a dropped link is retried before `ferry sync` gives up.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// A command from the reader task; None (and `lost` set) when the link
/// closed or failed.
fn received(
    got: Option<Result<link::Command>>,
    addr: &str,
    lost: &mut bool,
) -> Option<link::Command> {
    match got {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            log::warn!("the replication link failed: {e}");
            *lost = true;
            None
        }
        None => {
            log::warn!("{addr} closed the replication link");
            *lost = true;
            None
        }
    }
}

/// Connects again and asks for a partial resync from `offset`, retrying
/// with a growing pause for [`RECONNECT_FOR`]. Returns the new stream and
/// the master's new replication id if it changed.
async fn reconnect(
    (host, port, user, password): (&str, u16, Option<&str>, Option<&str>),
    replid: &str,
    offset: u64,
    name: &str,
) -> Result<(
    tokio::sync::mpsc::Receiver<Result<link::Command>>,
    link::Acker,
    Option<String>,
)> {
    let until = Instant::now() + RECONNECT_FOR;
    let mut pause = Duration::from_millis(200);
    loop {
        let attempt = async {
            let mut link = Link::connect(host, port, user, password).await?;
            let start = link.psync(Some((replid, offset + 1))).await?;
            Ok::<_, Error>((link, start))
        }
        .await;
        match attempt {
            Ok((link, Start::Continue { replid: new })) => {
                log::info!("partial resync accepted by {} after reconnecting", link.addr());
                let (rx, acker) = link.into_stream(STREAM_BUFFER);
                return Ok((rx, acker, new));
            }
            Ok((link, Start::Full { .. })) => {
                return Err(Error::Usage(format!(
                    "{} could not continue from offset {offset} after the link dropped (its backlog no longer has it) and wants a full resync; the target holds data from before: flush it and delete {} to sync again from scratch (a larger repl-backlog-size avoids this)",
                    link.addr(),
                    checkpoint_key(name)
                )))
            }
            Err(e) if Instant::now() < until => {
                log::warn!("reconnecting to {host}:{port}: {e}; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `ferry sync` until the duration ends, or an error (a dropped link
/// is resumed with a partial resync, for up to a minute of retries). `progress` sees the counts now and then.
pub async fn run(opts: Options, mut progress: impl FnMut(&Counts)) -> Result<Counts> {
    let Spec::Server {
        host,
        port,
        tls,
        user,
        password,
        ..
    } = &opts.from
    else {
        return Err(Error::Usage(
            "--from must be one Redis server (redis://host:port); clusters are not supported yet"
                .into(),
        ));
    };
    if *tls {
        return Err(Error::Usage("--from over TLS is not supported yet".into()));
    }
    if matches!(opts.to, Spec::Cluster { .. }) {
        return Err(Error::Usage(
            "--to must be one server or a ferry store: a cluster target cannot apply a batch atomically with its checkpoint yet".into(),
        ));
    }
    let target = Endpoint::connect(opts.to.clone()).await?;
    let mut conn = target.data(0).await?;
    let checkpoint = read_checkpoint(&mut conn, &opts.name).await?;
    // Checked before PSYNC, so the master does not fork a snapshot for a
    // run that cannot use it.
    // Every database counts (Endpoint::keyspace sums INFO keyspace).
    if checkpoint.is_none() && target.keyspace().await?.values().sum::<u64>() > 0 {
        return Err(Error::Usage(
            "the target is not empty; ferry sync's first full sync needs an empty target (nothing would remove keys the source does not have)".into(),
        ));
    }
    let mut link = Link::connect(host, *port, user.as_deref(), password.as_deref()).await?;
    let mut counts = Counts::default();
    let (mut replid, mut offset, mut db) = match &checkpoint {
        Some(c) => {
            log::info!(
                "resuming: asking {} to continue from {} offset {} (database {})",
                link.addr(),
                c.replid,
                c.offset,
                c.db
            );
            (c.replid.clone(), c.offset, c.db)
        }
        None => (String::new(), 0, 0i64),
    };
    match link
        .psync(
            checkpoint
                .as_ref()
                .map(|c| (c.replid.as_str(), c.offset + 1)),
        )
        .await?
    {
        Start::Continue { replid: new } => {
            log::info!("partial resync accepted by {}", link.addr());
            if let Some(new) = new {
                replid = new;
            }
        }
        Start::Full {
            replid: id,
            offset: off,
        } => {
            if checkpoint.is_some() {
                return Err(Error::Usage(format!(
                    "{} could not continue from offset {offset} (its backlog no longer has it, or it is another master) and wants a full resync; the target holds data from before: flush it and delete {} to sync again from scratch",
                    link.addr(),
                    checkpoint_key(&opts.name)
                )));
            }
            log::info!(
                "full resync from {} (replid {id}, offset {off})",
                link.addr()
            );
            let data = link.snapshot().await?;
            log::info!("snapshot: {} bytes", data.len());
            load_snapshot(&target, &data, &mut counts).await?;
            replid = id;
            offset = off;
            conn.cmd(
                redis::cmd("HSET")
                    .arg(checkpoint_key(&opts.name))
                    .arg("replid")
                    .arg(&replid)
                    .arg("offset")
                    .arg(offset),
            )
            .await?;
            log::info!("snapshot applied: {} keys", counts.keys_restored);
        }
    }
    counts.offset = offset;
    progress(&counts);
    // The stream: batches of commands, each with the checkpoint, in one
    // MULTI/EXEC on a connection of its own (it SELECTs inside).
    let mut apply = target.data(0).await?;
    let started = Instant::now();
    let mut last_ack = Instant::now();
    let mut ack_now = false;
    let mut caught_up = Instant::now();
    let source = Endpoint::connect(opts.from.clone()).await.ok();
    let mut side = match &source {
        Some(e) => match e.nodes.first() {
            Some(n) => n.conn(0).await.ok(),
            None => None,
        },
        None => None,
    };
    let addr = link.addr().to_string();
    let (mut rx, mut acker) = link.into_stream(STREAM_BUFFER);
    let mut lost = false;
    loop {
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if lost {
            // The link dropped: ask the same master to continue where the
            // target is (a restart, a network blip, CLIENT KILL).
            let (r, a, new) = reconnect(
                (host, *port, user.as_deref(), password.as_deref()),
                &replid,
                offset,
                &opts.name,
            )
            .await?;
            (rx, acker) = (r, a);
            if let Some(new) = new {
                replid = new;
            }
            lost = false;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut n = 0usize;
        let mut bytes = 0u64;
        let mut next = match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            Err(_) => None,
            Ok(got) => received(got, &addr, &mut lost),
        };
        // Each batch starts on database 0 (the previous one SELECTed back).
        let mut selected = 0i64;
        let mut in_tx = false;
        while let Some(c) = next.take() {
            bytes += c.bytes;
            let name = c
                .args
                .first()
                .map(|a| a.to_ascii_uppercase())
                .unwrap_or_default();
            if name == b"MULTI" || name == b"EXEC" {
                // The batch is a transaction already; the master's own
                // stays whole inside one batch.
                in_tx = name == b"MULTI";
            } else if name == b"SELECT" {
                if let Some(d) = c
                    .args
                    .get(1)
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| d.parse().ok())
                {
                    db = d;
                }
            } else if !skipped(&c.args) {
                if db != selected {
                    pipe.cmd("SELECT").arg(db).ignore();
                    selected = db;
                }
                let mut cmd = redis::cmd(&String::from_utf8_lossy(&c.args[0]));
                for a in &c.args[1..] {
                    cmd.arg(a);
                }
                pipe.add_command(cmd).ignore();
                n += 1;
            }
            // The master asks (for a client's WAIT): answer once this
            // batch is applied, not at the next second.
            let getack = name == b"REPLCONF"
                && c.args
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"GETACK"));
            ack_now |= getack;
            if !in_tx && (getack || n >= opts.batch) {
                break;
            }
            next = if in_tx {
                // A master transaction stays whole: wait for its EXEC.
                received(rx.recv().await, &addr, &mut lost)
            } else {
                match rx.try_recv() {
                    Ok(got) => received(Some(got), &addr, &mut lost),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => None,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                        received(None, &addr, &mut lost)
                    }
                }
            };
        }
        if bytes > 0 {
            offset += bytes;
            if selected != 0 {
                pipe.cmd("SELECT").arg(0).ignore();
            }
            pipe.cmd("HSET")
                .arg(checkpoint_key(&opts.name))
                .arg("replid")
                .arg(&replid)
                .arg("offset")
                .arg(offset)
                .arg("db")
                .arg(db)
                .ignore();
            let _: () = pipe
                .query_async(&mut match &mut apply {
                    Conn::Single(c) => (**c).clone(),
                    Conn::Cluster(_) => return Err(Error::Usage("cluster target".into())),
                })
                .await
                .map_err(|e| Error::Target(format!("applying the stream failed: {e}")))?;
            counts.commands += n as u64;
            counts.offset = offset;
        }
        if !lost && (ack_now || last_ack.elapsed() >= Duration::from_secs(1)) {
            if let Err(e) = acker.ack(offset).await {
                log::warn!("{e}");
                lost = true;
            }
            ack_now = false;
            if last_ack.elapsed() >= Duration::from_secs(1) {
                // Lag: the source's own offset, asked on a side connection
                // (a failed ask only leaves the last figure in place).
                if let Some(c) = side.as_mut() {
                    if let Ok(Some(at)) =
                        ferry_migrate::endpoint::info_field(c, "replication", "master_repl_offset")
                            .await
                    {
                        if let Ok(at) = at.parse::<u64>() {
                            let behind = at.saturating_sub(offset);
                            if behind == 0 {
                                caught_up = Instant::now();
                            }
                            counts.lag_bytes = Some(behind);
                            counts.lag_secs = Some(caught_up.elapsed().as_secs_f64());
                        }
                    }
                }
                progress(&counts);
            }
            last_ack = Instant::now();
        }
    }
    target.close().await;
    if let Some(s) = source {
        s.close().await;
    }
    Ok(counts)
}
