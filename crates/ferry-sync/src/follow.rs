//! One replication stream, followed to the end: PSYNC (a full resync's
//! snapshot, or a partial one from the checkpoint), then the commands in
//! batches, each one `MULTI ... EXEC` with the checkpoint (replication id,
//! offset, database) so applied commands and the checkpoint commit
//! together (into a cluster: one transaction per slot with the slot's
//! checkpoint, see [`crate::cluster`]). A dropped link is resumed with a
//! partial resync, on the same master or on the one that took its place
//! after a failover.

use crate::cluster::{self, Entry};
use crate::filter::Verdict;
use crate::link::{self, Link, Start};
use crate::source::{self, Shard};
use crate::{checkpoint_key_of, Checkpoint, Counts, Error, Result, Run};
use ferry_migrate::endpoint::Conn;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;

/// How often the source's offset is asked (the lag's resolution).
const PROBE: Duration = Duration::from_millis(250);

/// Commands read ahead of the target (the reader task's channel).
const STREAM_BUFFER: usize = 10_000;

/// How long a dropped link is retried (on the master, then on its
/// replicas or cluster peers) before `ferry sync` gives up.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// Commands the target must not run: the replication protocol's own.
fn skipped(args: &[Vec<u8>]) -> bool {
    let Some(name) = args.first() else {
        return true;
    };
    name.eq_ignore_ascii_case(b"PING") || name.eq_ignore_ascii_case(b"REPLCONF")
}

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

type Stream = (
    tokio::sync::mpsc::Receiver<Result<link::Command>>,
    link::Acker,
);

/// Connects again and asks for a partial resync from `offset`: on the
/// shard's master, or after a failover on the server that replaced it,
/// retrying with a growing pause for [`RECONNECT_FOR`]. Returns the new
/// stream, the shard as it is now, and the new replication id if it
/// changed.
async fn reconnect(
    run: &Run,
    shard: &Shard,
    replid: &str,
    offset: u64,
    key: &str,
) -> Result<(Stream, Shard, Option<String>)> {
    let until = Instant::now() + RECONNECT_FOR;
    let mut pause = Duration::from_millis(200);
    loop {
        let err = match source::find_master(shard, &run.auth).await {
            None => Error::Source(format!(
                "no master found for {} (asked it and {} other node(s))",
                shard.describe(),
                shard.others.len()
            )),
            Some(now) => match psync(run, &now, Some((replid, offset + 1))).await {
                Ok((link, Start::Continue { replid: new })) => {
                    if now.master != shard.master {
                        log::info!(
                            "{} is the master now (failover from {}:{}): partial resync accepted",
                            link.addr(),
                            shard.master.0,
                            shard.master.1
                        );
                    } else {
                        log::info!("partial resync accepted by {} after reconnecting", link.addr());
                    }
                    return Ok((link.into_stream(STREAM_BUFFER), now, new));
                }
                Ok((link, Start::Full { .. })) => {
                    return Err(Error::Usage(format!(
                        "{} could not continue from offset {offset} after the link dropped (its backlog no longer has it, or it never had that history) and wants a full resync; the target holds data from before: flush it and delete {key} to sync again from scratch (a larger repl-backlog-size avoids this)",
                        link.addr(),
                    )))
                }
                Err(e) => e,
            },
        };
        if Instant::now() >= until {
            return Err(err);
        }
        log::warn!(
            "reconnecting to {}: {err}; retrying in {pause:?}",
            shard.describe()
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Connects to `shard`'s master and sends PSYNC.
async fn psync(run: &Run, shard: &Shard, from: Option<(&str, u64)>) -> Result<(Link, Start)> {
    let (host, port) = &shard.master;
    let mut link = Link::connect(
        host,
        *port,
        run.auth.security,
        run.auth.user.as_deref(),
        run.auth.password.as_deref(),
    )
    .await?;
    let start = link.psync(from).await?;
    Ok((link, start))
}

/// Follows `shard` until the run's duration ends or an error.
pub async fn follow(
    run: &Run,
    mut shard: Shard,
    checkpoint: Option<Checkpoint>,
    counts: &Mutex<Counts>,
) -> Result<()> {
    let key = checkpoint_key_of(&run.name, shard.first_slot);
    let mut conn = run.target.data(0).await?;
    // A cluster target: the slot checkpoints of this stream.
    let mut slots = run
        .cluster
        .as_ref()
        .map(|t| (t, cluster::Stream::new(&run.name, &shard)));
    let (mut replid, mut offset, mut db) = match &checkpoint {
        Some(c) => {
            log::info!(
                "resuming: asking {} to continue from {} offset {} (database {})",
                shard.describe(),
                c.replid,
                c.offset,
                c.db
            );
            (c.replid.clone(), c.offset, c.db)
        }
        None => (String::new(), 0, 0i64),
    };
    let from = checkpoint
        .as_ref()
        .map(|c| (c.replid.as_str(), c.offset + 1));
    let (mut link, start) = match psync(run, &shard, from).await {
        Ok(l) => l,
        // The master is gone since the last run: look for its successor.
        Err(e) if checkpoint.is_some() => {
            log::warn!("{}: {e}; looking for its master", shard.describe());
            match source::find_master(&shard, &run.auth).await {
                Some(now) => {
                    shard = now;
                    psync(run, &shard, from).await?
                }
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    match start {
        Start::Continue { replid: new } => {
            log::info!("partial resync accepted by {}", link.addr());
            if let Some(new) = new {
                replid = new;
            }
            if let Some((t, s)) = slots.as_mut() {
                let ahead = s.resume(t, offset).await?;
                log::info!(
                    "{ahead} slot(s) of the target are past the checkpoint: their commands up to there are skipped"
                );
            }
        }
        Start::Full {
            replid: id,
            offset: off,
        } => {
            if checkpoint.is_some() {
                return Err(Error::Usage(format!(
                    "{} could not continue from offset {offset} (its backlog no longer has it, or it is another master) and wants a full resync; the target holds data from before: flush it and delete {key} to sync again from scratch",
                    link.addr(),
                )));
            }
            log::info!(
                "full resync from {} (replid {id}, offset {off})",
                link.addr()
            );
            let (back, _) = crate::snapshot::receive(
                link,
                &run.target,
                &run.filter,
                &crate::snapshot::Restore::default(),
                counts,
            )
            .await?;
            link = back;
            replid = id;
            offset = off;
            if let Some((_, s)) = slots.as_mut() {
                s.start_at(offset);
            }
            conn.cmd(
                redis::cmd("HSET")
                    .arg(&key)
                    .arg("replid")
                    .arg(&replid)
                    .arg("offset")
                    .arg(offset),
            )
            .await?;
            log::info!("{}: snapshot applied", link.addr());
        }
    }
    set(counts, |c| c.offset = offset);
    // The stream: batches of commands, each with the checkpoint, in one
    // MULTI/EXEC on a connection of its own (it SELECTs inside); into a
    // cluster, one per slot.
    let apply = match run.target.data(0).await? {
        Conn::Single(c) => Some((*c).clone()),
        Conn::Cluster(_) => None,
    };
    let mut floor_written = Instant::now();
    let mut last_ack = Instant::now();
    // At once: after a diskless full resync the master starts the stream
    // only once the replica's first ACK says it loaded the snapshot.
    let mut ack_now = true;
    // The source's offset over time (for the lag in seconds), sampled
    // every PROBE on the side connection.
    let mut clock = crate::lag::Clock::default();
    let mut last_probe = Instant::now() - PROBE;
    let mut side = source::connect(&shard.master, &run.auth).await.ok();
    let mut addr = link.addr().to_string();
    let (mut rx, mut acker) = link.into_stream(STREAM_BUFFER);
    let mut lost = false;
    let mut mixed_seen = std::collections::HashSet::new();
    loop {
        if run.duration.is_some_and(|d| run.started.elapsed() >= d) {
            if slots.is_some() {
                write_floor(&mut conn, &key, &replid, offset).await?;
            }
            return Ok(());
        }
        if lost {
            // The link dropped: continue where the target is, on the same
            // master (a restart, a network blip, CLIENT KILL) or on the one
            // that replaced it.
            let ((r, a), now, new) = reconnect(run, &shard, &replid, offset, &key).await?;
            (rx, acker) = (r, a);
            if let Some(new) = new {
                replid = new;
            }
            if now.master != shard.master {
                side = source::connect(&now.master, &run.auth).await.ok();
            }
            shard = now;
            addr = format!("{}:{}", shard.master.0, shard.master.1);
            lost = false;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut entries: Vec<Entry> = Vec::new();
        let mut n = 0usize;
        let mut filtered = 0u64;
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
            // The master asks (for a client's WAIT): answer once this
            // batch is applied, not at the next second.
            let getack = name == b"REPLCONF"
                && c.args
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"GETACK"));
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
                let verdict = if run.filter.is_empty() {
                    Verdict::Apply
                } else {
                    run.filter.command(db, &c.args)
                };
                if verdict == Verdict::Mixed && mixed_seen.insert(name.clone()) {
                    log::warn!(
                        "{} names keys inside and outside --filter-key: applied whole (counted as mixed; this warning once per command name)",
                        String::from_utf8_lossy(&name)
                    );
                }
                if verdict == Verdict::Skip {
                    filtered += 1;
                } else {
                    if verdict == Verdict::Mixed {
                        set(counts, |c| c.mixed += 1);
                    }
                    if slots.is_some() {
                        // FLUSHALL empties database 0 whichever is selected.
                        if db != 0 && name != b"FLUSHALL" {
                            return Err(Error::Usage(format!(
                                "the source wrote to database {db} ({}), and a cluster target has only database 0: ferry sync stopped before that command (its checkpoints are intact); restart it with --filter-db 0 to leave the other databases out",
                                String::from_utf8_lossy(&name)
                            )));
                        }
                        entries.push(Entry {
                            start: offset + bytes - c.bytes,
                            end: offset + bytes,
                            args: c.args,
                        });
                        n += 1;
                    } else {
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
                }
            }
            ack_now |= getack;
            if !in_tx && (getack || n >= run.batch) {
                break;
            }
            next = if in_tx {
                // A master transaction stays whole: wait for its EXEC.
                received(rx.recv().await, &addr, &mut lost)
            } else {
                match rx.try_recv() {
                    Ok(got) => received(Some(got), &addr, &mut lost),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => received(None, &addr, &mut lost),
                }
            };
        }
        if let (true, Some((t, s))) = (bytes > 0, slots.as_mut()) {
            let end = offset + bytes;
            s.apply(t, &entries, end).await?;
            offset = end;
            // Every slot has everything up to here: the floor a restart
            // starts from.
            if floor_written.elapsed() >= cluster::FLOOR_EVERY {
                write_floor(&mut conn, &key, &replid, offset).await?;
                floor_written = Instant::now();
            }
            set(counts, |c| {
                c.commands += n as u64;
                c.filtered += filtered;
                c.offset = offset;
            });
        } else if let (true, Some(apply)) = (bytes > 0, apply.as_ref()) {
            offset += bytes;
            if selected != 0 {
                pipe.cmd("SELECT").arg(0).ignore();
            }
            pipe.cmd("HSET")
                .arg(&key)
                .arg("replid")
                .arg(&replid)
                .arg("offset")
                .arg(offset)
                .arg("db")
                .arg(db)
                .ignore();
            let _: () = pipe
                .query_async(&mut apply.clone())
                .await
                .map_err(|e| Error::Target(format!("applying the stream failed: {e}")))?;
            set(counts, |c| {
                c.commands += n as u64;
                c.filtered += filtered;
                c.offset = offset;
            });
        }
        if !lost && (ack_now || last_ack.elapsed() >= Duration::from_secs(1)) {
            if let Err(e) = acker.ack(offset).await {
                log::warn!("{e}");
                lost = true;
            }
            ack_now = false;
            last_ack = Instant::now();
        }
        if last_probe.elapsed() >= PROBE {
            last_probe = Instant::now();
            // Lag: the source's own offset, asked on a side connection (a
            // failed ask only leaves the last figures in place); its
            // replicas are noted for a failover.
            if let Some(c) = side.as_mut() {
                if let Ok(r) = source::replication(c, &shard.master).await {
                    if let Some(at) = r.offset {
                        clock.record(last_probe, at);
                        set(counts, |c| {
                            c.lag_bytes = Some(at.saturating_sub(offset));
                            c.lag_secs = clock.lag(offset, Instant::now());
                        });
                    }
                    if shard.first_slot.is_none() {
                        for a in r.replicas {
                            if !shard.others.contains(&a) {
                                shard.others.push(a);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The stream's checkpoint on a cluster target: everything up to `offset`
/// is applied in every slot (the slots' own checkpoints say more).
async fn write_floor(conn: &mut Conn, key: &str, replid: &str, offset: u64) -> Result<()> {
    conn.cmd(
        redis::cmd("HSET")
            .arg(key)
            .arg("replid")
            .arg(replid)
            .arg("offset")
            .arg(offset)
            .arg("db")
            .arg(0),
    )
    .await?;
    Ok(())
}

/// Updates a stream's counts (a poisoned lock only loses a figure).
fn set(counts: &Mutex<Counts>, f: impl FnOnce(&mut Counts)) {
    if let Ok(mut c) = counts.lock() {
        f(&mut c);
    }
}
