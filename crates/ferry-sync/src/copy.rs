//! A one-time copy of a Redis server through its replication snapshot
//! (`ferry migrate bulk --method snapshot`): ferry connects as a replica,
//! asks for a full resync, RESTOREs the snapshot's keys while it arrives
//! (the same loader as `ferry sync`, [`crate::snapshot::receive`]) and
//! leaves when the snapshot ends. The source pays what a replica's full
//! sync costs it (a fork and an RDB, its replication output buffer for the
//! writes made meanwhile), not a SCAN and a DUMP per key.

use crate::filter::Filter;
use crate::link::{Link, Start};
use crate::snapshot::{self, Restore};
use crate::{Counts, Error, Result};
use ferry_migrate::endpoint::{Endpoint, Spec};
use std::sync::Mutex;

/// Copies the snapshot of the single server `from` to `target`; returns
/// the snapshot's size in bytes. `counts` moves while it runs (keys
/// restored, skipped, left out), for progress.
pub async fn copy(
    from: &Spec,
    target: &Endpoint,
    filter: &Filter,
    restore: &Restore,
    counts: &Mutex<Counts>,
) -> Result<u64> {
    let Spec::Server { host, port, .. } = from else {
        return Err(Error::Usage(
            "--method snapshot reads the replication snapshot of one Redis server; for a cluster or a ferry store use --method scan".into(),
        ));
    };
    let auth = crate::source::Auth::of(from)?;
    let mut link = Link::connect(
        host,
        *port,
        auth.security,
        auth.user.as_deref(),
        auth.password.as_deref(),
    )
    .await?;
    match link.psync(None).await {
        Ok(Start::Full { replid, offset }) => {
            log::info!("{}: full resync (replid {replid}, offset {offset})", link.addr())
        }
        Ok(Start::Continue { .. }) => {
            return Err(Error::Source(format!(
                "{}: answered a new replica's PSYNC with +CONTINUE",
                link.addr()
            )))
        }
        Err(e) => {
            return Err(Error::Source(format!(
                "{e}. --method snapshot needs a source that lets this user replicate (ACL: +psync +replconf, or +@admin) and serves replicas; use --method scan otherwise"
            )))
        }
    }
    // The link is not needed after the snapshot: dropping it closes it,
    // and the source drops this replica.
    let (_link, size) = snapshot::receive(link, target, filter, restore, counts).await?;
    Ok(size)
}
