//! A full resync's snapshot, applied to the target: each key RESTOREd as
//! the master encoded it (with its absolute expiry), function libraries
//! loaded, keys outside the filter left out.

use crate::filter::Filter;
use crate::{Counts, Error, Result};
use ferry_migrate::endpoint::Endpoint;
use ferry_rdb::file::{Item, RdbFile};
use redis::Value;

/// Keys per RESTORE pipeline.
const PIPELINE: usize = 500;

/// RESTOREs the pipelined keys in database `db` and counts them.
async fn flush(
    target: &Endpoint,
    db: u64,
    batch: &mut Vec<redis::Pipeline>,
    counts: &std::sync::Mutex<Counts>,
) -> Result<()> {
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
    if let Ok(mut c) = counts.lock() {
        c.keys_restored += batch.len() as u64;
    }
    batch.clear();
    Ok(())
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
    let mut batch: Vec<redis::Pipeline> = Vec::new();
    let mut db = 0u64;
    let mut restored = 0u64;
    let mut left_out = 0u64;
    while let Some(item) = file.next_item()? {
        match item {
            Item::SelectDb(n) => {
                flush(target, db, &mut batch, counts).await?;
                db = n;
            }
            Item::Function(code) => {
                let mut conn = target.data(0).await?;
                conn.cmd(redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(code))
                    .await?;
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
                restored += 1;
                if batch.len() >= PIPELINE {
                    flush(target, db, &mut batch, counts).await?;
                }
            }
        }
    }
    flush(target, db, &mut batch, counts).await?;
    if let Ok(mut c) = counts.lock() {
        c.filtered += left_out;
    }
    log::debug!("snapshot: {restored} keys restored, {left_out} left out by the filter");
    Ok(())
}
