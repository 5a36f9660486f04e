//! A Redis Cluster as the target: how a stream is applied exactly once when
//! no transaction spans the cluster.
//!
//! On one server a batch of commands and the stream's checkpoint commit in
//! one `MULTI ... EXEC`. A cluster runs a transaction only when every key
//! in it hashes to the same slot (two slots on the same node are refused
//! with `CROSSSLOT` too), so the checkpoint is kept per slot:
//!
//! - every slot has its own checkpoint hash,
//!   `__ferry:sync:{<tag>}:<NAME>[:slots-<first>]:slot-<n>` (field
//!   `offset`), where `<tag>` is a short string chosen once (CRC16, see
//!   [`slot_tags`]) so that the key lands in slot `n` itself. The hash tag
//!   has to come first in the name: Redis hashes the first `{...}`. A
//!   cluster source's streams each have their own (`:slots-<first>`, the
//!   source shard's first slot);
//! - a batch is split by slot; each slot's part is one
//!   `MULTI <its commands in stream order> HSET <its checkpoint> offset
//!   <batch end> EXEC`, all the slots a node serves in one pipeline, the
//!   nodes at once. A slot's commands and its checkpoint commit together;
//! - the stream's own checkpoint `__ferry:sync:{NAME}[:slots-<first>]`
//!   (the one a standalone target has) becomes a floor: written after a
//!   batch has committed on every node, it says that everything up to its
//!   offset is applied in every slot. A restart asks the source for a
//!   partial resync from the floor and skips a command in slot `n` when
//!   slot `n`'s checkpoint is at or past the command's end. Slot
//!   checkpoints only ever hold the tail since the floor, so the floor is
//!   what has to stay inside the source's backlog (it is written at least
//!   every [`FLOOR_EVERY`]);
//! - checkpoints are keys like the data, so they follow their slot when
//!   the target is resharded while `ferry sync` is stopped.
//!
//! Commands:
//!
//! - a command whose keys all hash to one slot goes to that slot's part;
//!   keyless ones (`PUBLISH`) to the stream's home slot (its first);
//! - `DEL`, `UNLINK`, `MSET` across slots are split into one command per
//!   slot, key order kept. `MSETNX` too, as `MSET`: the source propagates
//!   an `MSETNX` only when it set every key, so on a target equal to the
//!   source each part sets its keys as well. Any other command across
//!   slots (`RENAME`, `SMOVE`, `SUNIONSTORE` ... of keys without a common
//!   hash tag) stops the run before it with a message: it cannot be applied
//!   in one slot, and splitting it would change what it does;
//! - a source transaction (`MULTI ... EXEC`) is split the same way: each
//!   slot's share is atomic, the whole is not (a reader of the target can
//!   see some slots' writes before the others');
//! - `FLUSHALL` / `FLUSHDB` are not sent as such (that would erase other
//!   streams' and slots' checkpoints): every key of the stream's slots is
//!   deleted, slot by slot, on the node serving it (ferry's own checkpoints
//!   kept). Replayed after a restart it deletes what the slots hold then,
//!   which is nothing the stream wrote after it (those slots' checkpoints
//!   skip the flush). From a cluster source a master's `FLUSHALL` clears
//!   only that master's slots, as it did on the source;
//! - `FUNCTION ...` and `SCRIPT ...` go to every node (each node needs the
//!   libraries), outside the checkpoints: after a restart they may run a
//!   second time, which leaves the same libraries (an error such as
//!   "library already exists" is logged);
//! - there is only database 0: a command in another database stops the
//!   run (see `lib.rs`), `SELECT` is never sent.

use crate::filter::key_positions;
use crate::source::Shard;
use crate::{Error, Result};
use ferry_migrate::endpoint::{Endpoint, Spec};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Slots of a Redis Cluster.
pub const SLOTS: usize = 16384;

/// The floor (the stream's checkpoint) is written at least this often.
pub const FLOOR_EVERY: Duration = Duration::from_millis(200);

/// Attempts at a batch while the cluster moves (MOVED, TRYAGAIN, a node
/// restarting), about a minute in all.
const ATTEMPTS: u32 = 15;

/// Keys read per `CLUSTER GETKEYSINSLOT` when a flush empties a slot.
const FLUSH_CHUNK: usize = 1000;

/// The prefix of every checkpoint key (never deleted by a flush).
const OWN_PREFIX: &[u8] = b"__ferry:sync:";

/// The slot of a key (CRC16 of the key or of its hash tag, mod 16384).
pub fn slot_of(key: &[u8]) -> u16 {
    redis::cluster_routing::get_slot(key)
}

/// One short hash tag per slot: `tags[n]` hashes to slot `n`. Strings of
/// 1, 2, 3 ... letters and digits are tried in order; three characters
/// (238,328 strings) already cover every slot.
pub fn slot_tags() -> Vec<String> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let base = ALPHABET.len();
    let mut tags: Vec<Option<String>> = vec![None; SLOTS];
    let mut missing = SLOTS;
    'len: for len in 1..=5u32 {
        for n in 0..base.pow(len) {
            let mut t = Vec::with_capacity(len as usize);
            let mut i = n;
            for _ in 0..len {
                t.push(ALPHABET[i % base]);
                i /= base;
            }
            let slot = usize::from(slot_of(&t));
            if tags[slot].is_none() {
                tags[slot] = Some(String::from_utf8_lossy(&t).into_owned());
                missing -= 1;
                if missing == 0 {
                    break 'len;
                }
            }
        }
    }
    // Five characters (916 million strings) cover every slot many times
    // over; an uncovered slot would only get a key in another slot.
    tags.into_iter().map(Option::unwrap_or_default).collect()
}

/// The masters of the target and which serves each slot.
struct Topology {
    addrs: Vec<String>,
    conns: Vec<ConnectionManager>,
    owner: Vec<u16>,
}

impl Topology {
    async fn of(e: &Endpoint) -> Result<Topology> {
        let owner = e
            .slot_owners()
            .ok_or_else(|| Error::Target(format!("{} is not a cluster", e.spec.display())))?
            .to_vec();
        let mut conns = Vec::with_capacity(e.nodes.len());
        for n in &e.nodes {
            conns.push(n.conn(0).await?);
        }
        Ok(Topology {
            addrs: e.nodes.iter().map(|n| n.addr.clone()).collect(),
            conns,
            owner,
        })
    }

    fn node(&self, slot: u16) -> Option<usize> {
        let n = usize::from(*self.owner.get(usize::from(slot))?);
        (n < self.conns.len()).then_some(n)
    }
}

/// The cluster target, shared by the run's streams.
pub struct Target {
    spec: Spec,
    tags: Vec<String>,
    topology: tokio::sync::RwLock<Arc<Topology>>,
}

impl Target {
    pub async fn new(e: &Endpoint) -> Result<Target> {
        Ok(Target {
            spec: e.spec.clone(),
            tags: slot_tags(),
            topology: tokio::sync::RwLock::new(Arc::new(Topology::of(e).await?)),
        })
    }

    async fn topology(&self) -> Arc<Topology> {
        self.topology.read().await.clone()
    }

    /// Reads the slot map again (after MOVED, or a node that failed).
    async fn refresh(&self) {
        let fresh = match Endpoint::connect(self.spec.clone()).await {
            Ok(e) => {
                let t = Topology::of(&e).await;
                e.close().await;
                t
            }
            Err(e) => Err(e.into()),
        };
        match fresh {
            Ok(t) => *self.topology.write().await = Arc::new(t),
            Err(e) => log::warn!("reading the target's slot map again: {e}"),
        }
    }

    /// Sends `args` to every master (`FUNCTION`, `SCRIPT`): a node's error
    /// is logged, a node that cannot be reached fails the run.
    async fn everywhere(&self, args: &[Vec<u8>]) -> Result<()> {
        let topo = self.topology().await;
        let cmd = command(args);
        for (addr, conn) in topo.addrs.iter().zip(&topo.conns) {
            match conn.clone().req_packed_command(&cmd).await {
                Ok(v) => {
                    if let Some((_, text)) = error_of(&v) {
                        log::warn!(
                            "{addr}: {} answered {text} (sent to every node; run again after a restart it may fail this way)",
                            name_of(args),
                        )
                    }
                }
                Err(e) => {
                    return Err(Error::Target(format!(
                        "{addr}: {} failed: {e}",
                        name_of(args)
                    )))
                }
            }
        }
        Ok(())
    }
}

/// One command of the stream, with where it starts and ends in it.
pub struct Entry {
    pub args: Vec<Vec<u8>>,
    pub start: u64,
    pub end: u64,
}

/// Where a command goes.
enum Route {
    /// Each part to its slot.
    Slots(Vec<(u16, Vec<Vec<u8>>)>),
    /// `FLUSHALL`, `FLUSHDB`: the stream's slots emptied.
    Flush,
    /// To every node.
    Everywhere,
}

/// One stream's state on a cluster target.
pub struct Stream {
    name: String,
    first_slot: Option<u16>,
    /// The target slots this stream writes (a cluster source's shard: its
    /// slots; a standalone source: all).
    covered: Vec<bool>,
    /// Where keyless commands go.
    home: u16,
    /// Per slot, the stream offset its checkpoint is at.
    applied: Vec<u64>,
    /// Command names whose errors inside EXEC were logged.
    warned: HashSet<String>,
}

impl Stream {
    pub fn new(name: &str, shard: &Shard) -> Stream {
        let mut covered = vec![shard.slots.is_empty(); SLOTS];
        for &(a, b) in &shard.slots {
            for s in a..=b.min(SLOTS as u16 - 1) {
                covered[usize::from(s)] = true;
            }
        }
        Stream {
            name: name.to_string(),
            first_slot: shard.first_slot,
            covered,
            home: shard.first_slot.unwrap_or(0),
            applied: vec![0; SLOTS],
            warned: HashSet::new(),
        }
    }

    /// The checkpoint key of `slot`.
    pub fn key(&self, target: &Target, slot: u16) -> String {
        let tag = target
            .tags
            .get(usize::from(slot))
            .map(String::as_str)
            .unwrap_or_default();
        let shard = self
            .first_slot
            .map(|s| format!(":slots-{s}"))
            .unwrap_or_default();
        format!("__ferry:sync:{{{tag}}}:{}{shard}:slot-{slot}", self.name)
    }

    /// Every slot at `offset` (right after the snapshot).
    pub fn start_at(&mut self, offset: u64) {
        self.applied = vec![offset; SLOTS];
    }

    fn slots(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS as u16).filter(|s| self.covered[usize::from(*s)] || *s == self.home)
    }

    /// Starts from `floor` (the stream's checkpoint, or the snapshot's
    /// offset): every slot at least there, those with a checkpoint past it
    /// where their checkpoint says. Returns how many slots are ahead.
    pub async fn resume(&mut self, target: &Target, floor: u64) -> Result<usize> {
        let slots: Vec<u16> = self.slots().collect();
        let read = self.read_offsets(target, &slots).await?;
        self.applied = vec![floor; SLOTS];
        let mut ahead = 0;
        for (slot, at) in read {
            if let Some(at) = at.filter(|at| *at > floor) {
                self.applied[usize::from(slot)] = at;
                ahead += 1;
            }
        }
        Ok(ahead)
    }

    /// The checkpoints of `slots`, each read on the node serving it.
    async fn read_offsets(
        &self,
        target: &Target,
        slots: &[u16],
    ) -> Result<BTreeMap<u16, Option<u64>>> {
        let mut out = BTreeMap::new();
        let mut todo: Vec<u16> = slots.to_vec();
        let mut attempt = 0;
        loop {
            let topo = target.topology().await;
            let mut by_node: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
            let mut again = Vec::new();
            for &s in &todo {
                match topo.node(s) {
                    Some(n) => by_node.entry(n).or_default().push(s),
                    None => again.push(s),
                }
            }
            let sends = by_node.into_iter().map(|(node, slots)| {
                let mut conn = topo.conns[node].clone();
                let mut pipe = redis::pipe();
                for &s in &slots {
                    pipe.cmd("HGET").arg(self.key(target, s)).arg("offset");
                }
                async move {
                    let r = conn.req_packed_commands(&pipe, 0, slots.len()).await;
                    (slots, r)
                }
            });
            let mut why = String::new();
            for (slots, r) in futures_util::future::join_all(sends).await {
                let values = match r {
                    Ok(v) if v.len() == slots.len() => v,
                    Ok(_) => {
                        why = "a short reply".into();
                        again.extend(slots);
                        continue;
                    }
                    Err(e) => {
                        why = e.to_string();
                        again.extend(slots);
                        continue;
                    }
                };
                for (s, v) in slots.into_iter().zip(values) {
                    match v {
                        Value::Nil => {
                            out.insert(s, None);
                        }
                        Value::BulkString(b) => {
                            let at = std::str::from_utf8(&b)
                                .ok()
                                .and_then(|t| t.parse().ok())
                                .ok_or_else(|| {
                                    Error::Target(format!(
                                        "{}: field 'offset' is not what ferry wrote; was it changed by hand?",
                                        self.key(target, s)
                                    ))
                                })?;
                            out.insert(s, Some(at));
                        }
                        Value::ServerError(ref e) if retryable(e.code()) => {
                            why = error_of(&v).map(|e| e.1).unwrap_or_default();
                            again.push(s);
                        }
                        other => {
                            return Err(Error::Target(format!(
                                "reading {}: {other:?}",
                                self.key(target, s)
                            )))
                        }
                    }
                }
            }
            if again.is_empty() {
                return Ok(out);
            }
            attempt += 1;
            if attempt >= ATTEMPTS {
                return Err(Error::Target(format!(
                    "reading the slot checkpoints: {why} (slot {} and {} more)",
                    again[0],
                    again.len() - 1
                )));
            }
            pause(attempt, &why).await;
            target.refresh().await;
            todo = again;
        }
    }

    /// Applies a batch: `entries` in stream order, the last byte of the
    /// batch at `end`. Returns the commands sent (parts of a split command
    /// counted once, replays skipped not counted).
    pub async fn apply(&mut self, target: &Target, entries: &[Entry], end: u64) -> Result<u64> {
        let mut pending: BTreeMap<u16, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
        let mut sent = 0u64;
        for e in entries {
            match self.route(&e.args)? {
                Route::Slots(parts) => {
                    let mut any = false;
                    for (slot, args) in parts {
                        if self.applied[usize::from(slot)] < e.end {
                            pending.entry(slot).or_default().push(args);
                            any = true;
                        }
                    }
                    sent += u64::from(any);
                }
                Route::Flush => {
                    // What came before is committed first: the flush
                    // must not erase a write that follows it.
                    self.commit(target, std::mem::take(&mut pending), e.start)
                        .await?;
                    let n = self.flush(target, e.end).await?;
                    log::info!(
                        "{}: {n} keys deleted in the stream's slots on the target",
                        name_of(&e.args)
                    );
                    sent += 1;
                }
                Route::Everywhere => {
                    self.commit(target, std::mem::take(&mut pending), e.start)
                        .await?;
                    target.everywhere(&e.args).await?;
                    sent += 1;
                }
            }
        }
        self.commit(target, pending, end).await?;
        Ok(sent)
    }

    fn route(&self, args: &[Vec<u8>]) -> Result<Route> {
        let name = name_of(args);
        match name.as_str() {
            "FLUSHALL" | "FLUSHDB" => return Ok(Route::Flush),
            "FUNCTION" | "SCRIPT" => return Ok(Route::Everywhere),
            _ => {}
        }
        let positions = key_positions(args);
        let Some(&first) = positions.first() else {
            return Ok(Route::Slots(vec![(self.home, args.to_vec())]));
        };
        let slot = slot_of(&args[first]);
        if positions.iter().all(|&p| slot_of(&args[p]) == slot) {
            return Ok(Route::Slots(vec![(slot, args.to_vec())]));
        }
        // Keys in several slots: split where the command allows it.
        let (head, width): (&[u8], usize) = match name.as_str() {
            "DEL" | "UNLINK" => (args[0].as_slice(), 1),
            "MSET" | "MSETNX" => (&b"MSET"[..], 2),
            _ => {
                let keys: Vec<String> = positions
                    .iter()
                    .take(3)
                    .map(|&p| String::from_utf8_lossy(&args[p]).into_owned())
                    .collect();
                return Err(Error::Usage(format!(
                    "{name} names keys in several slots ({}{}) and a cluster target cannot apply it in one; splitting it would change what it does. ferry sync stopped before it (its checkpoints are intact): give such keys a common hash tag on the source and sync again from scratch, or restart with --skip-command {} to leave it out (the target then misses that write)",
                    keys.join(", "),
                    if positions.len() > 3 { ", ..." } else { "" },
                    name.to_ascii_lowercase()
                )));
            }
        };
        let mut parts: Vec<(u16, Vec<Vec<u8>>)> = Vec::new();
        for &p in &positions {
            let s = slot_of(&args[p]);
            let i = match parts.iter().position(|(x, _)| *x == s) {
                Some(i) => i,
                None => {
                    parts.push((s, vec![head.to_vec()]));
                    parts.len() - 1
                }
            };
            for a in args.iter().skip(p).take(width) {
                parts[i].1.push(a.clone());
            }
        }
        Ok(Route::Slots(parts))
    }

    /// Commits `pending` (per slot, in stream order), each slot in one
    /// transaction with its checkpoint set to `upto`.
    async fn commit(
        &mut self,
        target: &Target,
        mut pending: BTreeMap<u16, Vec<Vec<Vec<u8>>>>,
        upto: u64,
    ) -> Result<()> {
        let mut attempt = 0;
        // Slots whose last transaction may or may not have committed (the
        // connection failed after sending it): their checkpoint says.
        let mut unsure: Vec<u16> = Vec::new();
        while !pending.is_empty() {
            if !unsure.is_empty() {
                for (s, at) in self.read_offsets(target, &unsure).await? {
                    if at.is_some_and(|at| at >= upto) {
                        pending.remove(&s);
                        self.applied[usize::from(s)] = upto;
                    }
                }
                unsure.clear();
                if pending.is_empty() {
                    break;
                }
            }
            let topo = target.topology().await;
            let mut by_node: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
            let mut why = String::new();
            for &s in pending.keys() {
                match topo.node(s) {
                    Some(n) => by_node.entry(n).or_default().push(s),
                    None => why = format!("no master serves slot {s}"),
                }
            }
            let sends = by_node.into_iter().map(|(node, slots)| {
                let mut conn = topo.conns[node].clone();
                let mut pipe = redis::pipe();
                let mut sizes = Vec::with_capacity(slots.len());
                for s in &slots {
                    let cmds = pending.get(s).map(Vec::as_slice).unwrap_or_default();
                    pipe.cmd("MULTI");
                    for c in cmds {
                        pipe.add_command(command(c));
                    }
                    pipe.cmd("HSET")
                        .arg(self.key(target, *s))
                        .arg("offset")
                        .arg(upto);
                    pipe.cmd("EXEC");
                    sizes.push(cmds.len() + 3);
                }
                let total = sizes.iter().sum();
                let addr = topo.addrs[node].clone();
                async move {
                    let r = conn.req_packed_commands(&pipe, 0, total).await;
                    (addr, slots, sizes, r)
                }
            });
            let mut fatal = None;
            for (addr, slots, sizes, r) in futures_util::future::join_all(sends).await {
                let values = match r {
                    Ok(v) => v,
                    Err(e) => {
                        why = format!("{addr}: {e}");
                        unsure.extend(slots);
                        continue;
                    }
                };
                let mut values = values.into_iter();
                for (s, n) in slots.into_iter().zip(sizes) {
                    let replies: Vec<Value> = values.by_ref().take(n).collect();
                    match transaction(&replies, n) {
                        Ok(errors) => {
                            let cmds = pending.remove(&s).unwrap_or_default();
                            self.applied[usize::from(s)] = upto;
                            self.log_errors(&cmds, &errors);
                        }
                        Err((code, text)) => {
                            why = format!("{addr}: slot {s}: {text}");
                            if code.is_empty() {
                                unsure.push(s);
                            } else if !retryable(&code) {
                                fatal = Some(why.clone());
                            }
                        }
                    }
                }
            }
            if let Some(f) = fatal {
                return Err(Error::Target(format!("applying the stream failed: {f}")));
            }
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt >= ATTEMPTS {
                return Err(Error::Target(format!(
                    "applying the stream failed: {why} (the target kept moving or failing; a slot being migrated cannot take a transaction: restart ferry sync once the reshard is done, it resumes from its checkpoints)"
                )));
            }
            pause(attempt, &why).await;
            target.refresh().await;
        }
        Ok(())
    }

    /// Errors the target gave inside EXEC (the command ran and failed, as
    /// it would on a replica: logged once per command name).
    fn log_errors(&mut self, cmds: &[Vec<Vec<u8>>], errors: &[(usize, String)]) {
        for (i, text) in errors {
            let name = cmds.get(*i).map(|c| name_of(c)).unwrap_or_default();
            if self.warned.insert(name.clone()) {
                log::warn!(
                    "the target answered {name} with an error: {text} (logged once per command name)"
                );
            }
        }
    }

    /// Deletes every key of the stream's slots (not checkpoints) whose
    /// checkpoint is before `end`. Returns the keys deleted.
    async fn flush(&mut self, target: &Target, end: u64) -> Result<u64> {
        let mut attempt = 0;
        loop {
            match self.try_flush(target, end).await {
                Ok(n) => return Ok(n),
                Err((retry, why)) => {
                    attempt += 1;
                    if !retry || attempt >= ATTEMPTS {
                        return Err(Error::Target(format!("emptying the slots failed: {why}")));
                    }
                    pause(attempt, &why).await;
                    target.refresh().await;
                }
            }
        }
    }

    async fn try_flush(
        &self,
        target: &Target,
        end: u64,
    ) -> std::result::Result<u64, (bool, String)> {
        let topo = target.topology().await;
        let mut deleted = 0u64;
        for (node, conn) in topo.conns.iter().enumerate() {
            let addr = &topo.addrs[node];
            let fail = |e: redis::RedisError| (true, format!("{addr}: {e}"));
            let slots: Vec<u16> = self
                .slots()
                .filter(|&s| topo.node(s) == Some(node) && self.applied[usize::from(s)] < end)
                .collect();
            if slots.is_empty() {
                continue;
            }
            let mut conn = conn.clone();
            let mut pipe = redis::pipe();
            for s in &slots {
                pipe.cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(*s);
            }
            let counts = conn
                .req_packed_commands(&pipe, 0, slots.len())
                .await
                .map_err(fail)?;
            for (s, count) in slots.iter().zip(counts) {
                if matches!(count, Value::Int(0)) {
                    continue;
                }
                loop {
                    let keys = match conn
                        .req_packed_command(
                            redis::cmd("CLUSTER")
                                .arg("GETKEYSINSLOT")
                                .arg(*s)
                                .arg(FLUSH_CHUNK),
                        )
                        .await
                        .map_err(fail)?
                    {
                        Value::Array(keys) => keys,
                        other => {
                            return Err((false, format!("{addr}: GETKEYSINSLOT {s}: {other:?}")))
                        }
                    };
                    let last = keys.len() < FLUSH_CHUNK;
                    let theirs: Vec<Vec<u8>> = keys
                        .into_iter()
                        .filter_map(|k| match k {
                            Value::BulkString(k) if !k.starts_with(OWN_PREFIX) => Some(k),
                            _ => None,
                        })
                        .collect();
                    if theirs.is_empty() {
                        break;
                    }
                    let n = theirs.len() as u64;
                    let v = conn
                        .req_packed_command(redis::cmd("DEL").arg(theirs))
                        .await
                        .map_err(fail)?;
                    if let Some((code, text)) = error_of(&v) {
                        return Err((retryable(&code), format!("{addr}: DEL in slot {s}: {text}")));
                    }
                    deleted += n;
                    if last {
                        break;
                    }
                }
            }
        }
        Ok(deleted)
    }
}

/// Reads one slot's transaction replies (`MULTI`, a `QUEUED` per command,
/// `EXEC`): Ok with the errors of commands that ran and failed (index,
/// text), or Err with the error code that aborted it ("" when the replies
/// are missing) and a description.
fn transaction(
    replies: &[Value],
    n: usize,
) -> std::result::Result<Vec<(usize, String)>, (String, String)> {
    if replies.len() != n {
        return Err((String::new(), "the replies were cut short".into()));
    }
    match replies.last() {
        Some(Value::Array(results)) => Ok(results
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, error_of(v)?.1)))
            .collect()),
        Some(exec @ Value::ServerError(_)) => {
            // The reason is the first command refused while queued
            // (MOVED, ASK, CROSSSLOT ...), else EXEC's own error.
            let first = replies[..n - 1].iter().find_map(error_of);
            Err(first.or_else(|| error_of(exec)).unwrap_or_default())
        }
        other => Err(("EXEC".into(), format!("EXEC answered {other:?}"))),
    }
}

/// Errors that pass once the cluster settles.
fn retryable(code: &str) -> bool {
    matches!(
        code,
        "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" | "MASTERDOWN" | "READONLY"
    )
}

async fn pause(attempt: u32, why: &str) {
    let wait = Duration::from_millis(100 << attempt.min(5));
    log::warn!("the target: {why}; trying again in {wait:?}");
    tokio::time::sleep(wait).await;
}

/// A server error's code and its whole text.
fn error_of(v: &Value) -> Option<(String, String)> {
    let Value::ServerError(e) = v else {
        return None;
    };
    let text = match e.details() {
        Some(d) => format!("{} {d}", e.code()),
        None => e.code().to_string(),
    };
    Some((e.code().to_string(), text))
}

/// A command's name, upper case.
fn name_of(args: &[Vec<u8>]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default()
}

fn command(args: &[Vec<u8>]) -> redis::Cmd {
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(a.as_slice());
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_for_every_slot() {
        let tags = slot_tags();
        assert_eq!(tags.len(), SLOTS);
        for (s, t) in tags.iter().enumerate() {
            assert!(!t.is_empty() && t.len() <= 3, "slot {s}: {t:?}");
            assert_eq!(usize::from(slot_of(t.as_bytes())), s);
            let key = format!("__ferry:sync:{{{t}}}:run:slot-{s}");
            assert_eq!(usize::from(slot_of(key.as_bytes())), s);
        }
    }

    fn args(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    fn text(parts: &[(u16, Vec<Vec<u8>>)]) -> Vec<(u16, String)> {
        parts
            .iter()
            .map(|(s, a)| {
                let words: Vec<String> = a
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect();
                (*s, words.join(" "))
            })
            .collect()
    }

    #[test]
    fn routes_and_splits() {
        let shard = Shard {
            master: ("h".into(), 1),
            others: vec![],
            first_slot: None,
            slots: vec![],
        };
        let s = Stream::new("t", &shard);
        let slot = |k: &str| slot_of(k.as_bytes());
        let parts = |a: &str| match s.route(&args(a)) {
            Ok(Route::Slots(p)) => text(&p),
            Ok(Route::Flush) => vec![(0, "flush".into())],
            Ok(Route::Everywhere) => vec![(0, "everywhere".into())],
            Err(e) => vec![(0, e.to_string())],
        };
        assert_eq!(parts("SET a 1"), vec![(slot("a"), "SET a 1".into())]);
        assert_eq!(
            parts("RENAME {u}a {u}b"),
            vec![(slot("u"), "RENAME {u}a {u}b".into())]
        );
        assert_eq!(parts("PUBLISH ch m"), vec![(0, "PUBLISH ch m".into())]);
        assert_eq!(parts("flushall"), vec![(0, "flush".into())]);
        assert_eq!(parts("FUNCTION LOAD code"), vec![(0, "everywhere".into())]);
        // a and b are in different slots (15495, 3300).
        assert_ne!(slot("a"), slot("b"));
        assert_eq!(
            parts("MSET a 1 b 2 {a}x 3"),
            vec![
                (slot("a"), "MSET a 1 {a}x 3".into()),
                (slot("b"), "MSET b 2".into())
            ]
        );
        assert_eq!(
            parts("MSETNX a 1 b 2"),
            vec![
                (slot("a"), "MSET a 1".into()),
                (slot("b"), "MSET b 2".into())
            ]
        );
        assert_eq!(
            parts("unlink b a"),
            vec![
                (slot("b"), "unlink b".into()),
                (slot("a"), "unlink a".into())
            ]
        );
        let err = parts("RENAME a b");
        assert!(err[0].1.contains("--skip-command rename"), "{err:?}");
    }

    #[test]
    fn checkpoint_keys_land_in_their_slot() {
        let tags = slot_tags();
        let target_tags = |slot: u16| tags[usize::from(slot)].clone();
        let shard = Shard {
            master: ("h".into(), 1),
            others: vec![],
            first_slot: Some(5461),
            slots: vec![(5461, 10922)],
        };
        let s = Stream::new("{odd}name", &shard);
        for slot in [0u16, 5461, 16383] {
            let key = format!(
                "__ferry:sync:{{{}}}:{{odd}}name:slots-5461:slot-{slot}",
                target_tags(slot)
            );
            assert_eq!(slot_of(key.as_bytes()), slot);
        }
        assert!(s.covered[5461] && !s.covered[0] && s.home == 5461);
    }

    #[test]
    fn reads_transaction_replies() {
        let error =
            |text: &str| redis::parse_redis_value(format!("-{text}\r\n").as_bytes()).unwrap();
        let ok = Value::Okay;
        let queued = Value::SimpleString("QUEUED".into());
        let wrongtype = error("WRONGTYPE Operation against a key");
        let r = transaction(
            &[
                ok.clone(),
                queued.clone(),
                queued.clone(),
                Value::Array(vec![wrongtype, Value::Int(1)]),
            ],
            4,
        );
        assert_eq!(r.map(|e| e.len()), Ok(1));
        let moved = error("MOVED 3999 127.0.0.1:7001");
        let abort = error("EXECABORT Transaction discarded because of previous errors.");
        assert!(matches!(moved, Value::ServerError(_)), "{moved:?}");
        let r = transaction(&[ok, moved, queued, abort], 4);
        assert_eq!(r.map_err(|e| e.0), Err("MOVED".to_string()));
        assert!(transaction(&[], 4).is_err_and(|e| e.0.is_empty()));
    }
}
