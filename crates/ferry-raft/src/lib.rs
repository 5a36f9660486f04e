//! Raft replication for ferry, on openraft.
//!
//! The leader's executor runs commands as a single server does; at the end
//! of each commit group it hands the group's changes (the store's journaled
//! ops) to [`RaftNode::propose`] and holds the group's replies until the
//! entry is committed on a majority and applied. Followers apply the same
//! entries to their own store. See `docs/replication.md` for the model.
//!
//! - [`types`]: what an entry is; [`log_store`]: the log and vote on disk;
//!   [`network`]: the RPC transport; [`state_machine`]: the store, reached
//!   through the executor; this file: starting a node, proposing, status and
//!   membership changes.

pub mod log_store;
pub mod network;
pub mod state_machine;
pub mod types;

pub use openraft::ServerState;
pub use state_machine::{meta_rows, Applied, SmEvent, SmSink};
pub use types::{FerryNode, Group, LogId, NodeId, Raft};

use network::{Network, Peers, Sender};
use openraft::{ChangeMembers, Config, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// How a node is started.
#[derive(Clone, Debug)]
pub struct RaftSettings {
    pub node_id: NodeId,
    /// Where this node listens for Raft RPCs (and how peers reach it).
    pub raft_addr: String,
    /// Where this node serves Redis clients (given in redirects).
    pub client_addr: String,
    /// The initial members (id -> Raft address); a node whose log is empty
    /// forms the cluster with them. Empty: wait to be added (RAFT ADD-LEARNER).
    pub peers: BTreeMap<NodeId, String>,
    /// Nodes of another cluster are refused.
    pub cluster: String,
    /// The store file; the log is `<data>-raft.db` beside it.
    pub data: PathBuf,
    /// fsync each log append (durability always).
    pub fsync: bool,
    /// Build a snapshot every this many entries (0: the default, 20000).
    pub snapshot_logs: u64,
}

/// What a node knows of the cluster, refreshed from openraft's metrics.
#[derive(Clone, Debug, Default)]
pub struct RaftStatus {
    pub id: NodeId,
    pub state: ServerState,
    pub leader: Option<NodeId>,
    /// The leader's client address (learned from its frames), for redirects.
    pub leader_client_addr: Option<String>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub committed: Option<u64>,
    pub applied: Option<u64>,
    pub snapshot: Option<u64>,
    /// Leader only: each other member and the last index it matched.
    pub replication: Vec<(NodeId, Option<u64>)>,
    pub voters: Vec<NodeId>,
    pub learners: Vec<(NodeId, String)>,
    /// Leader whose first entry of its term is applied: every earlier entry
    /// is in the store, so it may take writes.
    pub writable: bool,
}

/// A group the executor hands to Raft, identified by its ticket. The
/// outcome comes back through the done callback, in ticket order.
pub enum Proposal {
    /// Replicate these changes.
    Write { ticket: u64, group: Group },
    /// Confirm leadership (read index) for a group that only read.
    Read { ticket: u64 },
}

/// Receives each proposal's outcome (ticket order).
pub type DoneSink = Arc<dyn Fn(u64, Result<(), String>) + Send + Sync>;

type Pending = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A running Raft node.
#[derive(Clone)]
pub struct RaftNode {
    raft: Raft,
    status: Arc<RwLock<RaftStatus>>,
    proposals: mpsc::UnboundedSender<Proposal>,
    peers: Peers,
    /// Random per start (see [`Group::boot`]).
    pub boot: u64,
    pub id: NodeId,
}

/// Timeouts tuned on a loaded 2-core VM: openraft's defaults (50 ms
/// heartbeats, 150-300 ms elections) lost leadership under load there.
fn config(cluster: &str, snapshot_logs: u64) -> Result<Config, String> {
    let snapshot_logs = if snapshot_logs == 0 {
        20_000
    } else {
        snapshot_logs
    };
    Config {
        cluster_name: cluster.to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: 800,
        max_payload_entries: 32,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_logs),
        // Followers a little behind still catch up from the log.
        max_in_snapshot_log_to_keep: (snapshot_logs / 20).max(10),
        purge_batch_size: (snapshot_logs / 4).clamp(1, 256),
        // Per chunk of a snapshot sent to a follower.
        install_snapshot_timeout: 10_000,
        ..Default::default()
    }
    .validate()
    .map_err(|e| e.to_string())
}

impl RaftNode {
    /// Starts the node: opens the log, listens for peers, joins or forms the
    /// cluster. The executor must already run (re-applying committed
    /// entries at start goes through `sm_sink`).
    pub async fn start(
        settings: RaftSettings,
        sm_sink: SmSink,
        done: DoneSink,
    ) -> Result<RaftNode, String> {
        let config = Arc::new(config(&settings.cluster, settings.snapshot_logs)?);
        let mut log_path = settings.data.as_os_str().to_owned();
        log_path.push("-raft.db");
        let log = log_store::LogStore::open(&PathBuf::from(log_path), settings.fsync)?;
        let sm = state_machine::StateMachine::open(&settings.data, sm_sink)?;
        let listener = tokio::net::TcpListener::bind(&settings.raft_addr)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen for Raft peers on {}: {e} (pick another --raft-addr)",
                    settings.raft_addr
                )
            })?;
        let me = Sender {
            cluster: settings.cluster.clone(),
            node: settings.node_id,
            client_addr: settings.client_addr.clone(),
        };
        let peers = Peers::default();
        let network = Network {
            me: me.clone(),
            peers: peers.clone(),
        };
        let raft = Raft::new(settings.node_id, config, network, log, sm)
            .await
            .map_err(|e| format!("cannot start Raft: {e}"))?;
        tokio::spawn(network::serve(listener, raft.clone(), me, peers.clone()));
        // One node forms the cluster: the lowest id of --peers. openraft
        // starts an election at once on the node it initializes, so a node
        // that started late (or from an empty directory) and initialized
        // itself would campaign against a working leader; the others wait
        // to be contacted.
        let founder = settings.peers.keys().next() == Some(&settings.node_id);
        if founder && !raft.is_initialized().await.map_err(|e| e.to_string())? {
            let members: BTreeMap<NodeId, FerryNode> = settings
                .peers
                .iter()
                .map(|(id, addr)| (*id, state_machine::node(addr)))
                .collect();
            log::info!(
                "raft: empty log, forming cluster '{}' with nodes {:?}",
                settings.cluster,
                members.keys().collect::<Vec<_>>()
            );
            if let Err(e) = raft.initialize(members).await {
                log::warn!("raft: did not form the cluster: {e}");
            }
        }
        let status = Arc::new(RwLock::new(RaftStatus {
            id: settings.node_id,
            ..Default::default()
        }));
        tokio::spawn(watch_status(raft.clone(), status.clone(), peers.clone()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(propose_loop(raft.clone(), rx, done));
        Ok(RaftNode {
            raft,
            status,
            proposals: tx,
            peers,
            boot: rand::random(),
            id: settings.node_id,
        })
    }

    /// Queues a group for replication (never blocks).
    pub fn propose(&self, p: Proposal) -> bool {
        self.proposals.send(p).is_ok()
    }

    pub fn status(&self) -> RaftStatus {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether this node may take writes now (see [`RaftStatus::writable`]).
    pub fn writable(&self) -> bool {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .writable
    }

    /// Forms a new cluster of this node alone (`RAFT INIT`).
    pub async fn init(&self, raft_addr: &str) -> Result<(), String> {
        let members = BTreeMap::from([(self.id, state_machine::node(raft_addr))]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| e.to_string())
    }

    /// Membership changes run on the leader; elsewhere, say where it is.
    fn on_leader(&self) -> Result<(), String> {
        let st = self.status();
        if st.state == ServerState::Leader {
            return Ok(());
        }
        Err(not_leader(st.leader_client_addr))
    }

    /// Adds a node that receives the log but does not vote; returns when it
    /// has caught up.
    pub async fn add_learner(&self, id: NodeId, raft_addr: &str) -> Result<(), String> {
        self.on_leader()?;
        let added = self
            .raft
            .add_learner(id, state_machine::node(raft_addr), false)
            .await
            .map_err(|e| self.explain(e))?;
        // openraft's own wait counts a learner within 5000 entries as
        // caught up; wait until it has the entry that added it, as long as
        // it makes progress.
        let target = added.log_id.index;
        let mut metrics = self.raft.metrics();
        let mut last = None;
        loop {
            let matched = metrics
                .borrow()
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).copied())
                .flatten()
                .map(|l| l.index);
            if matched.is_some_and(|m| m >= target) {
                return Ok(());
            }
            if matched != last {
                last = matched;
            }
            let progressed = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    if metrics.changed().await.is_err() {
                        return false;
                    }
                    let now = metrics
                        .borrow()
                        .replication
                        .as_ref()
                        .and_then(|r| r.get(&id).copied())
                        .flatten()
                        .map(|l| l.index);
                    if now != last {
                        return true;
                    }
                }
            })
            .await;
            if !matches!(progressed, Ok(true)) {
                return Err(format!(
                    "node {id} was added as a learner but received nothing for 30 s (is it running at {raft_addr} with the same --raft-cluster? its log says why); remove it with RAFT REMOVE {id} or start it"
                ));
            }
        }
    }

    /// Makes a learner a voter.
    pub async fn promote(&self, id: NodeId) -> Result<(), String> {
        self.on_leader()?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map(|_| ())
            .map_err(|e| self.explain(e))
    }

    /// Removes a node from the cluster (voter or learner).
    pub async fn remove(&self, id: NodeId) -> Result<(), String> {
        self.on_leader()?;
        let st = self.status();
        if st.voters.contains(&id) {
            self.raft
                .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                .await
                .map_err(|e| self.explain(e))?;
        }
        self.raft
            .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
            .await
            .map(|_| ())
            .map_err(|e| self.explain(e))
    }

    fn explain(
        &self,
        e: openraft::error::RaftError<NodeId, openraft::error::ClientWriteError<NodeId, FerryNode>>,
    ) -> String {
        match e.forward_to_leader() {
            Some(f) => not_leader(f.leader_id.and_then(|l| self.peers.client_addr(l))),
            None => e.to_string(),
        }
    }

    /// Stops Raft (the server is shutting down).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}

/// What a membership change run on a follower answers.
fn not_leader(leader_client_addr: Option<String>) -> String {
    match leader_client_addr {
        Some(addr) => format!("this node is not the leader; run it on the leader at {addr}"),
        None => "this node is not the leader and no leader is known yet; retry".into(),
    }
}

/// Turns proposals into openraft writes in arrival order (one task keeps
/// the log in the executor's order) and reports outcomes in the same order.
async fn propose_loop(raft: Raft, mut rx: mpsc::UnboundedReceiver<Proposal>, done: DoneSink) {
    let (ptx, mut prx) = mpsc::unbounded_channel::<(u64, Pending)>();
    tokio::spawn(async move {
        while let Some((ticket, pending)) = prx.recv().await {
            done(ticket, pending.await);
        }
    });
    while let Some(p) = rx.recv().await {
        let (ticket, pending): (u64, Pending) = match p {
            Proposal::Write { ticket, group } => match raft.client_write_ff(group).await {
                Ok(reply) => (
                    ticket,
                    Box::pin(async move {
                        match reply.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("Raft stopped".to_string()),
                        }
                    }),
                ),
                Err(e) => (ticket, Box::pin(std::future::ready(Err(e.to_string())))),
            },
            Proposal::Read { ticket } => {
                let raft = raft.clone();
                // Started now, so reads of several groups confirm
                // leadership concurrently.
                let check = tokio::spawn(async move {
                    raft.ensure_linearizable()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
                (
                    ticket,
                    Box::pin(async move { check.await.map_err(|e| e.to_string())? }),
                )
            }
        };
        if ptx.send((ticket, pending)).is_err() {
            break;
        }
    }
}

/// Keeps [`RaftStatus`] current, at most every [`STATUS_EVERY`]: openraft
/// reports metrics on every applied entry, and copying them each time cost
/// a tenth of a follower's CPU under load.
async fn watch_status(raft: Raft, status: Arc<RwLock<RaftStatus>>, peers: Peers) {
    let mut metrics = raft.metrics();
    let mut committed = None;
    let mut committed_at: Option<std::time::Instant> = None;
    loop {
        let m = metrics.borrow_and_update().clone();
        // The commit index is not in the metrics: ask the core now and then.
        if committed_at.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            committed = raft
                .with_raft_state(|s| s.committed.map(|c| c.index))
                .await
                .ok()
                .flatten();
            committed_at = Some(std::time::Instant::now());
        }
        let membership = m.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let learners: Vec<(NodeId, String)> = membership
            .learner_ids()
            .map(|id| {
                let addr = membership
                    .get_node(&id)
                    .map(|n| n.raft_addr.clone())
                    .unwrap_or_default();
                (id, addr)
            })
            .collect();
        let replication = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, _)| **id != m.id)
                    .map(|(id, l)| (*id, l.map(|l| l.index)))
                    .collect()
            })
            .unwrap_or_default();
        let leader_client_addr = m.current_leader.and_then(|l| peers.client_addr(l));
        let writable = m.state == ServerState::Leader
            && m.last_applied
                .is_some_and(|l| l.leader_id.term == m.current_term);
        let new = RaftStatus {
            id: m.id,
            state: m.state,
            leader: m.current_leader,
            leader_client_addr,
            term: m.current_term,
            last_log_index: m.last_log_index,
            committed: committed.max(m.last_applied.map(|l| l.index)),
            applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            replication,
            voters,
            learners,
            writable,
        };
        let changed_role = {
            let old = status.read().unwrap_or_else(|p| p.into_inner());
            old.state != new.state || old.leader != new.leader
        };
        if changed_role {
            log::info!(
                "raft: node {} is {:?} in term {}, leader {}",
                new.id,
                new.state,
                new.term,
                new.leader.map_or("unknown".to_string(), |l| l.to_string())
            );
        }
        *status.write().unwrap_or_else(|p| p.into_inner()) = new;
        if m.state == ServerState::Shutdown {
            break;
        }
        // Wake on a change (or twice a second for the commit index), then
        // let changes pile up a moment.
        match tokio::time::timeout(Duration::from_millis(500), metrics.changed()).await {
            Ok(Err(_)) => break,
            Ok(Ok(())) => tokio::time::sleep(STATUS_EVERY).await,
            Err(_) => {}
        }
    }
}

/// How often [`RaftStatus`] follows openraft's metrics at most.
const STATUS_EVERY: Duration = Duration::from_millis(10);
