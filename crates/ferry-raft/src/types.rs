//! The Raft type configuration: what an entry carries and how nodes are named.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One entry's data: the changes of one commit group of the leader's
/// executor (the store's encoded ops), tagged so the leader recognizes its
/// own groups (already applied speculatively) when they come back through
/// the state machine.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    /// Random per process start: a restarted node re-applies its own old
    /// entries like anyone else's.
    pub boot: u64,
    /// The executor's number for the group (its ticket).
    pub seq: u64,
    /// `ferry_store::Store::take_group_payload` of the group.
    pub ops: Vec<u8>,
}

/// A member of the cluster, as membership records it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FerryNode {
    /// Where its Raft RPCs go (`host:port`).
    pub raft_addr: String,
}

impl fmt::Display for FerryNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raft_addr)
    }
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Group,
        R = (),
        NodeId = u64,
        Node = FerryNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type Membership = openraft::StoredMembership<NodeId, FerryNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, FerryNode>;

/// bincode with errors as strings (frames and stored records are ours on
/// both ends, so a failure means corruption or a version mismatch).
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    bincode::serialize(v).map_err(|e| e.to_string())
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    bincode::deserialize(b).map_err(|e| e.to_string())
}
