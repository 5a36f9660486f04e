//! The dirty-key tracker: keyevent notifications from every master of the
//! source, recorded into the registry in batches.
//!
//! Every event marks its key dirty, whatever the event: the delta pass reads
//! the source to learn whether the key still exists, which also covers a key
//! deleted and re-created between two passes. Notifications are not a
//! durable log: a disconnect loses the events sent meanwhile, so each one is
//! recorded as a warning (`tracker_gaps` in status) and the final delta must
//! run with writes frozen (see docs/migration.md).

use crate::endpoint::{Endpoint, Node};
use crate::registry::Registry;
use crate::{reply, Error, Result};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Events received and not yet recorded: (db, key, event).
type Buffer = Arc<Mutex<Vec<(i64, Vec<u8>, String)>>>;

/// Notification classes the tracker needs: keyevent channels for generic,
/// string, list, set, hash, sorted set, expired, evicted and stream events.
/// The flag letters are parsed and printed as ferry's own server does.
const NEEDED: u32 = {
    use ferry_server::notify::*;
    KEYEVENT | GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM
};

/// Whether `flags` (a notify-keyspace-events value) covers what we need.
pub fn covers(flags: &str) -> bool {
    ferry_server::notify::parse_flags(flags).is_some_and(|f| f & NEEDED == NEEDED)
}

/// `flags` plus what we need.
fn widened(flags: &str) -> String {
    let have = ferry_server::notify::parse_flags(flags).unwrap_or(0);
    ferry_server::notify::flags_to_string(have | NEEDED)
}

/// Reads `notify-keyspace-events` of every master.
pub async fn notification_flags(src: &Endpoint) -> Result<Vec<(Node, String)>> {
    let mut out = Vec::new();
    for n in &src.nodes {
        let mut c = crate::endpoint::Conn::Single(Box::new(n.conn(0).await?));
        let v = c
            .cmd(
                redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("notify-keyspace-events"),
            )
            .await?;
        let items = reply::items(&v).unwrap_or_default();
        let flags = items
            .get(1)
            .and_then(|v| reply::text(v))
            .unwrap_or_default();
        out.push((n.clone(), flags));
    }
    Ok(out)
}

async fn set_flags(node: &Node, flags: &str) -> Result<()> {
    let mut c = crate::endpoint::Conn::Single(Box::new(node.conn(0).await?));
    c.cmd(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg(flags),
    )
    .await?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct TrackOptions {
    /// Turn notifications on when they are off (restored at the end).
    pub enable_notifications: bool,
}

/// A running tracker; [`Tracker::stop`] ends it.
pub struct Tracker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Tracker {
    /// Checks the notification settings, subscribes on every master and
    /// returns once all subscriptions are live (so a bulk copy started
    /// afterwards misses nothing).
    pub async fn start(
        reg: &Registry,
        run_id: &str,
        src: &Endpoint,
        opts: &TrackOptions,
    ) -> Result<Tracker> {
        let run = reg.run(run_id)?;
        if crate::registry::tracker_died(&run) {
            let msg = format!(
                "the previous tracker of run {run_id} (pid {}) ended without stopping; changes made since were not recorded, so the next apply-dirty sweeps every key",
                run.tracker_pid.unwrap_or(0)
            );
            log::warn!("{msg}");
            reg.error(run_id, "track", None, &msg)?;
            reg.tracker_gap(run_id)?;
        }
        let flags = notification_flags(src).await?;
        let mut restore = Vec::new();
        for (node, f) in &flags {
            if covers(f) {
                continue;
            }
            if !opts.enable_notifications {
                return Err(Error::Usage(format!(
                    "keyspace notifications do not cover every change on {} (notify-keyspace-events is {:?}); run `CONFIG SET notify-keyspace-events KEA` there, or pass --enable-notifications to set them for the duration of tracking",
                    node.addr, f
                )));
            }
            let new = widened(f);
            set_flags(node, &new).await?;
            log::info!(
                "{}: notify-keyspace-events {:?} -> {:?} (restored when tracking stops)",
                node.addr,
                f,
                new
            );
            restore.push((node.clone(), f.clone()));
        }
        reg.set_tracker_stop(run_id, false)?;
        let buffer: Buffer = Arc::default();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut ready = Vec::new();
        let mut listeners = Vec::new();
        for node in &src.nodes {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            ready.push(ready_rx);
            listeners.push(tokio::spawn(listen(
                node.clone(),
                buffer.clone(),
                reg.clone(),
                run_id.to_string(),
                stop_rx.clone(),
                Some(ready_tx),
            )));
        }
        for r in ready {
            match tokio::time::timeout(Duration::from_secs(15), r).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    let _ = stop_tx.send(true);
                    restore_flags(&restore).await;
                    return Err(e);
                }
                _ => {
                    let _ = stop_tx.send(true);
                    restore_flags(&restore).await;
                    return Err(Error::Connect(
                        "the tracker could not subscribe to the source in 15 s".into(),
                    ));
                }
            }
        }
        reg.tracker_heartbeat(run_id, Some(std::process::id()))?;
        log::info!(
            "tracker for run {run_id}: subscribed on {} node(s)",
            src.nodes.len()
        );
        let task = tokio::spawn(flush_loop(
            reg.clone(),
            run_id.to_string(),
            buffer,
            stop_rx,
            listeners,
            restore,
        ));
        Ok(Tracker {
            stop: stop_tx,
            task,
        })
    }

    /// Waits until `track-stop`, SIGINT/SIGTERM or [`Tracker::stop`].
    pub async fn wait(self) -> Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::Store(format!("cannot watch SIGTERM: {e}")))?;
        let stop = self.stop;
        let mut task = self.task;
        tokio::select! {
            r = &mut task => return r.unwrap_or_else(|e| Err(Error::Store(format!("tracker: {e}")))),
            _ = tokio::signal::ctrl_c() => log::info!("tracker: interrupted, stopping"),
            _ = term.recv() => log::info!("tracker: SIGTERM, stopping"),
        }
        let _ = stop.send(true);
        task.await
            .unwrap_or_else(|e| Err(Error::Store(format!("tracker: {e}"))))
    }

    /// Stops the tracker after it recorded what it received.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.task
            .await
            .unwrap_or_else(|e| Err(Error::Store(format!("tracker: {e}"))))
    }
}

async fn restore_flags(restore: &[(Node, String)]) {
    for (node, old) in restore {
        match set_flags(node, old).await {
            Ok(()) => log::info!(
                "{}: notify-keyspace-events restored to {:?}",
                node.addr,
                old
            ),
            Err(e) => log::warn!(
                "{}: could not restore notify-keyspace-events to {:?}: {e}",
                node.addr,
                old
            ),
        }
    }
}

/// Writes buffered events every 100 ms, beats the heartbeat, and watches
/// for `track-stop`.
async fn flush_loop(
    reg: Registry,
    run_id: String,
    buffer: Buffer,
    mut stop: tokio::sync::watch::Receiver<bool>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
    restore: Vec<(Node, String)>,
) -> Result<()> {
    let mut beat = std::time::Instant::now();
    let result = loop {
        let stopping = *stop.borrow();
        let events = std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(e) = reg.record_dirty(&run_id, &events) {
            break Err(e);
        }
        if stopping {
            break Ok(());
        }
        if beat.elapsed() >= Duration::from_secs(1) {
            beat = std::time::Instant::now();
            match reg.tracker_heartbeat(&run_id, None) {
                Ok(true) => {
                    log::info!("tracker for run {run_id}: track-stop received");
                    break Ok(());
                }
                Ok(false) => {}
                Err(e) => break Err(e),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.changed() => {}
        }
    };
    for l in &listeners {
        l.abort();
    }
    // What arrived before the listeners stopped.
    let events = std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()));
    let last = reg.record_dirty(&run_id, &events);
    restore_flags(&restore).await;
    let _ = reg.tracker_stopped(&run_id);
    result.and(last)
}

/// Subscribes to one node and buffers its events; reconnects with backoff.
async fn listen(
    node: Node,
    buffer: Buffer,
    reg: Registry,
    run_id: String,
    stop: tokio::sync::watch::Receiver<bool>,
    mut ready: Option<tokio::sync::oneshot::Sender<Result<()>>>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let sub = async {
            let mut ps = node.pubsub().await?;
            ps.psubscribe("__keyevent@*__:*")
                .await
                .map_err(Error::Redis)?;
            Ok::<_, Error>(ps)
        }
        .await;
        let ps = match sub {
            Ok(ps) => ps,
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    return;
                }
                log::warn!("tracker: {}: {e}; retrying in {:?}", node.addr, backoff);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Some(r) = ready.take() {
            let _ = r.send(Ok(()));
        } else {
            log::info!("tracker: {}: subscribed again", node.addr);
        }
        backoff = Duration::from_millis(100);
        let mut stream = ps.into_on_message();
        while let Some(msg) = stream.next().await {
            let channel = msg.get_channel_name();
            let Some((db, event)) = parse_channel(channel) else {
                continue;
            };
            let key = msg.get_payload_bytes().to_vec();
            buffer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((db, key, event.to_string()));
        }
        if *stop.borrow() {
            return;
        }
        let msg = format!(
            "tracker lost its subscription to {}; changes made until it reconnects are not recorded: run the final apply-dirty with writes frozen and verify with --full, or re-run the bulk copy",
            node.addr
        );
        log::warn!("{msg}");
        let _ = reg.error(&run_id, "track", None, &msg);
        let _ = reg.tracker_gap(&run_id);
    }
}

/// `__keyevent@3__:hset` -> (3, "hset").
fn parse_channel(channel: &str) -> Option<(i64, &str)> {
    let rest = channel.strip_prefix("__keyevent@")?;
    let (db, event) = rest.split_once("__:")?;
    Some((db.parse().ok()?, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert!(covers("KEA"));
        assert!(covers("AE"));
        assert!(!covers("KA"));
        assert!(!covers(""));
        assert!(!covers("Egx"));
        assert!(covers(&widened("")));
        assert!(covers(&widened("Kl")));
        assert_eq!(parse_channel("__keyevent@12__:del"), Some((12, "del")));
        assert_eq!(parse_channel("other"), None);
    }
}
