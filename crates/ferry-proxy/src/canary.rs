//! `read-canary N%`: a share of reads, chosen by key hash (so one key is
//! always in or always out), is also sent to the secondary at the moment it
//! goes to the primary, and the two answers are compared; mismatches are
//! counted. The client always gets the primary's answer: a secondary that
//! is behind or wrong shows up in the counts, never in a client's data.
//!
//! Reads whose answers legitimately differ between two equal stores are
//! never canaried (random members, TTLs that tick, SCAN cursors, encodings);
//! answers that are sets (SMEMBERS, HGETALL...) are compared in any order.

use crate::backlog::encode_command;
use crate::classify;
use crate::frame;
use crate::Stats;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads that differ between two equal stores.
const NEVER: &[&str] = &[
    "ttl",
    "pttl",
    "expiretime",
    "object",
    "memory",
    "debug",
    "dump",
    "srandmember",
    "hrandfield",
    "zrandmember",
    "randomkey",
    "scan",
    "sscan",
    "hscan",
    "zscan",
    "xinfo",
    "xpending",
    "lpos",
    "touch",
    "sort_ro",
    "sort",
];

/// Reads whose array answer has no order.
const UNORDERED: &[&str] = &[
    "smembers",
    "sinter",
    "sunion",
    "sdiff",
    "hkeys",
    "hvals",
    "keys",
    "smismember",
];

/// Whether `args` (a read) is canaried at `percent`.
pub fn chosen(args: &[Bytes], percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let Some(name) = args.first() else {
        return false;
    };
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    if NEVER.contains(&lower.as_str()) {
        return false;
    }
    let keys = classify::keys(args);
    let Some(key) = keys.first() else {
        return false;
    };
    // FNV-1a: the same on every proxy and every run.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.iter() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % 100) < percent as u64
}

/// The answers compared as multisets where order means nothing.
fn same(name: &str, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let pairs = name == "hgetall";
    if !pairs && !UNORDERED.contains(&name) {
        return false;
    }
    match (frame::parse(a), frame::parse(b)) {
        (frame::Value::Array(x), frame::Value::Array(y)) => {
            let key = |v: Vec<frame::Value>| {
                let mut items: Vec<String> = if pairs {
                    v.chunks(2).map(|c| format!("{c:?}")).collect()
                } else {
                    v.iter().map(|e| format!("{e:?}")).collect()
                };
                items.sort();
                items
            };
            key(x) == key(y)
        }
        _ => false,
    }
}

struct Item {
    name: String,
    primary: Option<Bytes>,
    secondary: Option<Bytes>,
    /// A SELECT the canary sent for itself: its answer is dropped.
    own: bool,
}

/// One session's connection to the secondary, for canary reads.
pub struct Canary {
    store: crate::Store,
    r: Option<crate::ReadHalf>,
    w: Option<crate::WriteHalf>,
    db: u32,
    buf: BytesMut,
    queue: VecDeque<Item>,
    /// Items popped so far (ids are positions since the start).
    popped: u64,
}

impl Canary {
    pub fn new(store: crate::Store) -> Canary {
        Canary {
            store,
            r: None,
            w: None,
            db: 0,
            buf: BytesMut::new(),
            queue: VecDeque::new(),
            popped: 0,
        }
    }

    pub fn connected(&self) -> bool {
        self.r.is_some()
    }

    async fn connect(&mut self) -> std::io::Result<()> {
        let (r, w) = self.store.dial().await?;
        self.r = Some(r);
        self.w = Some(w);
        self.db = 0;
        self.buf.clear();
        if let Some(auth) = self.store.auth() {
            self.write(&auth, true).await?;
        }
        Ok(())
    }

    async fn write(&mut self, args: &[Bytes], own: bool) -> std::io::Result<()> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        let w = self
            .w
            .as_mut()
            .ok_or_else(|| std::io::Error::other("not connected"))?;
        w.write_all(&out).await?;
        self.queue.push_back(Item {
            name: String::from_utf8_lossy(&args[0]).to_ascii_lowercase(),
            primary: None,
            secondary: None,
            own,
        });
        Ok(())
    }

    /// Sends a read to the secondary; its id, to hand the primary's answer
    /// to [`Canary::primary`]. None when the secondary is unreachable.
    pub async fn send(&mut self, db: u32, args: &[Bytes], stats: &Stats) -> Option<u64> {
        let r = async {
            if !self.connected() {
                self.connect().await?;
            }
            if db != self.db {
                let sel = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
                self.write(&sel, true).await?;
                self.db = db;
            }
            self.write(args, false).await
        }
        .await;
        match r {
            Ok(()) => Some(self.popped + self.queue.len() as u64 - 1),
            Err(e) => {
                log::debug!("canary: the secondary: {e}");
                self.fail(stats);
                None
            }
        }
    }

    /// The primary's answer to canary read `id`.
    pub fn primary(&mut self, id: u64, reply: &[u8], stats: &Stats) {
        if let Some(item) = id
            .checked_sub(self.popped)
            .and_then(|i| self.queue.get_mut(i as usize))
        {
            item.primary = Some(Bytes::copy_from_slice(reply));
        }
        self.settle(stats);
    }

    /// Reads the secondary's answers (when its connection is readable).
    pub async fn read(&mut self, stats: &Stats) -> Result<(), String> {
        let Some(r) = self.r.as_mut() else {
            return std::future::pending().await;
        };
        let n = r.read_buf(&mut self.buf).await.map_err(|e| e.to_string());
        match n {
            Ok(0) | Err(_) => {
                self.fail(stats);
                return Ok(());
            }
            Ok(_) => {}
        }
        loop {
            match frame::reply_len(&self.buf) {
                Ok(Some(len)) => {
                    let reply = self.buf.split_to(len).freeze();
                    if frame::is_push(&reply) {
                        continue;
                    }
                    if let Some(item) = self.queue.iter_mut().find(|i| i.secondary.is_none()) {
                        item.secondary = Some(reply);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.fail(stats);
                    break;
                }
            }
        }
        self.settle(stats);
        Ok(())
    }

    /// Compares the items answered by both, oldest first.
    fn settle(&mut self, stats: &Stats) {
        while let Some(front) = self.queue.front() {
            let done = front.own && front.secondary.is_some()
                || (front.primary.is_some() && front.secondary.is_some());
            if !done {
                break;
            }
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            self.popped += 1;
            if item.own {
                continue;
            }
            let (Some(p), Some(s)) = (item.primary, item.secondary) else {
                continue;
            };
            stats.canary_reads.fetch_add(1, Ordering::Relaxed);
            if !same(&item.name, &p, &s) {
                stats.canary_mismatches.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "canary mismatch on {}: primary {:?}, secondary {:?}",
                    item.name,
                    String::from_utf8_lossy(&p),
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    /// The connection is gone: what was in flight is counted as failed.
    fn fail(&mut self, stats: &Stats) {
        let lost = self.queue.iter().filter(|i| !i.own).count() as u64;
        stats.canary_errors.fetch_add(lost, Ordering::Relaxed);
        self.popped += self.queue.len() as u64;
        self.queue.clear();
        self.r = None;
        self.w = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect()
    }

    #[test]
    fn choice_and_comparison() {
        assert!(!chosen(&a("GET k"), 0));
        assert!(chosen(&a("GET k"), 100));
        assert!(!chosen(&a("TTL k"), 100));
        assert!(!chosen(&a("PING"), 100));
        let share = (0..1000)
            .filter(|i| chosen(&a(&format!("GET key:{i}")), 10))
            .count();
        assert!((50..150).contains(&share), "{share}");
        assert!(same(
            "smembers",
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
        ));
        assert!(!same(
            "lrange",
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
        ));
        assert!(same(
            "hgetall",
            b"*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n",
            b"*4\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nf\r\n$1\r\n1\r\n"
        ));
    }
}
