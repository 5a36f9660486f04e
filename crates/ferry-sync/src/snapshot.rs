//! A full resync's snapshot, applied to the target: each key RESTOREd as
//! the master encoded it (with its absolute expiry), function libraries
//! loaded, keys outside the filter left out. Into a cluster each key goes
//! to the master serving its slot (ferry-migrate's routing: one pipeline
//! per node, MOVED and ASK followed through the cluster client), and
//! function libraries to every master.

use crate::filter::Filter;
use crate::{Counts, Error, Result};
use ferry_migrate::endpoint::{Conn, Endpoint};
use ferry_rdb::file::{Item, RdbFile};
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::Value;

/// Keys per RESTORE pipeline.
const PIPELINE: usize = 500;

/// RESTORE pipelines in flight at once (on one multiplexed connection, so
/// the target never waits for the next pipeline to arrive).
const IN_FLIGHT: usize = 4;

type Flush = std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send>>;

/// Sends `pipe` (RESTOREs of `n` keys) to database `db` of the target.
async fn flush(target: &Endpoint, db: u64, pipe: redis::Pipeline, n: u64) -> Result<Flush> {
    let db = i64::try_from(db).map_err(|_| Error::Usage(format!("database {db}")))?;
    let mut conn = match target.data(db).await? {
        Conn::Single(c) => (*c).clone(),
        Conn::Cluster(c) => {
            if db != 0 {
                return Err(Error::Usage(format!(
                    "the snapshot has keys in database {db} and a Redis Cluster target has only database 0: flush the target and sync again with --filter-db 0"
                )));
            }
            let pipes: Vec<redis::Pipeline> = pipe
                .cmd_iter()
                .map(|c| {
                    let mut p = redis::pipe();
                    p.add_command(c.clone());
                    p
                })
                .collect();
            // Sent here rather than left in flight: the per-node pipelines
            // already run at once.
            for r in Conn::Cluster(c).per_key(&pipes).await? {
                match r {
                    Err(e) => return Err(Error::Target(format!("RESTORE failed: {e}"))),
                    Ok(v) => {
                        if let Some(e) = v.iter().find(|v| matches!(v, Value::ServerError(_))) {
                            return Err(Error::Target(format!("RESTORE failed: {e:?}")));
                        }
                    }
                }
            }
            return Ok(Box::pin(async move { Ok(n) }));
        }
    };
    Ok(Box::pin(async move {
        let replies: Vec<Value> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::Target(format!("RESTORE failed: {e}")))?;
        if let Some(e) = replies.iter().find(|v| matches!(v, Value::ServerError(_))) {
            return Err(Error::Target(format!("RESTORE failed: {e:?}")));
        }
        Ok(n)
    }))
}

/// RESTOREs the snapshot `data` on the target.
pub async fn load(
    target: &Endpoint,
    data: &[u8],
    filter: &Filter,
    counts: &std::sync::Mutex<Counts>,
) -> Result<()> {
    let mut file = RdbFile::new(data)?;
    let version = file.version;
    let now = ferry_migrate::now_ms();
    let mut pipe = redis::pipe();
    let mut in_pipe = 0u64;
    let mut inflight: FuturesUnordered<Flush> = FuturesUnordered::new();
    let mut db = 0u64;
    let mut restored = 0u64;
    let mut left_out = 0u64;
    let done = |n: u64| {
        if let Ok(mut c) = counts.lock() {
            c.keys_restored += n;
        }
    };
    while let Some(item) = file.next_item()? {
        match item {
            Item::SelectDb(n) => {
                if in_pipe > 0 {
                    inflight.push(flush(target, db, std::mem::take(&mut pipe), in_pipe).await?);
                    in_pipe = 0;
                }
                db = n;
            }
            Item::Function(code) => {
                let load = redis::cmd("FUNCTION")
                    .arg("LOAD")
                    .arg("REPLACE")
                    .arg(code)
                    .clone();
                if target.is_cluster() {
                    // Every master runs the functions of its keys.
                    for node in &target.nodes {
                        Conn::Single(Box::new(node.conn(0).await?))
                            .cmd(&load)
                            .await?;
                    }
                } else {
                    target.data(0).await?.cmd(&load).await?;
                }
            }
            Item::Aux(..) => {}
            Item::Key(k) => {
                if k.expire_at_ms.is_some_and(|at| at <= now) {
                    continue;
                }
                let in_db = i64::try_from(k.db).map(|d| filter.db(d)).unwrap_or(false);
                if !in_db || !filter.key(&k.name) {
                    left_out += 1;
                    continue;
                }
                let payload = ferry_rdb::file::dump_payload(k.kind, k.object, version);
                pipe.cmd("RESTORE")
                    .arg(&k.name)
                    .arg(k.expire_at_ms.unwrap_or(0))
                    .arg(payload)
                    .arg("REPLACE");
                if k.expire_at_ms.is_some() {
                    pipe.arg("ABSTTL");
                }
                in_pipe += 1;
                restored += 1;
                if in_pipe as usize >= PIPELINE {
                    inflight.push(flush(target, db, std::mem::take(&mut pipe), in_pipe).await?);
                    in_pipe = 0;
                    while inflight.len() >= IN_FLIGHT {
                        if let Some(r) = inflight.next().await {
                            done(r?);
                        }
                    }
                }
            }
        }
    }
    if in_pipe > 0 {
        inflight.push(flush(target, db, pipe, in_pipe).await?);
    }
    while let Some(r) = inflight.next().await {
        done(r?);
    }
    if let Ok(mut c) = counts.lock() {
        c.filtered += left_out;
    }
    log::debug!("snapshot: {restored} keys restored, {left_out} left out by the filter");
    Ok(())
}
