use serde::{Deserialize, Serialize};
use std::fmt;

/// One commit group: the ops a leader executed, tagged so the leader recognizes its own
/// speculative groups when they come back through apply().
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    pub origin: u64,
    pub boot: u64,
    pub seq: u64,
    pub ops: Vec<(Vec<u8>, Vec<u8>)>, // stand-in for ferry's encoded Ops
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FerryNode {
    pub raft_addr: String,
    pub addr: String,
}
impl fmt::Display for FerryNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.raft_addr, self.addr)
    }
}

openraft::declare_raft_types!(
    pub TC:
        D = Group,
        R = (),
        NodeId = u64,
        Node = FerryNode,
        Entry = openraft::Entry<TC>,
        SnapshotData = tokio::fs::File,
);

pub type Raft = openraft::Raft<TC>;
pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TC>;
pub type StorageError = openraft::StorageError<NodeId>;
