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
    #[serde(with = "as_bytes")]
    pub ops: Vec<u8>,
}

/// Serde for `Vec<u8>` as one byte string: serde's default writes (and
/// bincode reads) a byte sequence one element at a time, which showed up in
/// the leader's profile (every entry is encoded for the log and for each
/// follower). Written here because it is fifteen lines (serde_bytes does the
/// same).
mod as_bytes {
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
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
