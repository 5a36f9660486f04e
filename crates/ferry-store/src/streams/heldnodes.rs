//! Streams' tail nodes, written when SQL next reads `stream_nodes`.
//!
//! Every XADD changes its stream's last macro node (counts, size, last id;
//! see `nodes.rs`): reading that row and writing it back were two of the
//! four statements of an XADD, about a third of its time on a hot stream
//! (issue 13). An append now keeps the node it wrote here, and the next
//! append to the stream takes it from here instead of from SQL. As with
//! held key rows (`heldrows.rs`), every statement that names the table
//! writes the held nodes first ([`crate::Store::stmt`]), and a commit
//! writes them before it ends the transaction, so only appends ever see a
//! node that is not in its row yet.
//!
//! Only the node an append wrote is held: it is the stream's last one, so
//! the next append may take it as its tail without asking SQL. Nodes are
//! held only inside a transaction; a rollback drops them with it, and after
//! a crash the journal, which keeps every node put, replays them.

use super::nodes::Node;
use std::collections::HashMap;

/// The SQL a node row is written with (a held node, or an `Op::StreamNodePut`).
pub(crate) const PUT_SQL: &str = "INSERT OR REPLACE INTO stream_nodes \
     (key_id, ms, seq, live, deleted, bytes, last_ms, last_seq, fields) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Held tail nodes, by the stream's key id (ids are unique across databases).
#[derive(Default)]
pub(crate) struct HeldNodes {
    by_key: HashMap<i64, Node, foldhash::fast::FixedState>,
}

impl HeldNodes {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Holds `node` as the stream's tail. The caller has written (or
    /// taken) what was held for the stream before.
    pub(crate) fn hold(&mut self, key_id: i64, node: Node) {
        self.by_key.insert(key_id, node);
    }

    /// Takes the stream's held tail out (an append changes it and holds it again).
    pub(crate) fn take(&mut self, key_id: i64) -> Option<Node> {
        if self.by_key.is_empty() {
            return None;
        }
        self.by_key.remove(&key_id)
    }

    /// Drops everything held (a rollback, FLUSHALL).
    pub(crate) fn clear(&mut self) {
        self.by_key.clear();
    }

    /// Takes every held node out, to be written.
    pub(crate) fn drain(&mut self) -> Vec<(i64, Node)> {
        self.by_key.drain().collect()
    }
}

/// Whether a statement names the `stream_nodes` table, so held nodes must
/// be written before it runs. A false positive costs an early write only.
pub(crate) fn names_nodes_table(sql: &str) -> bool {
    sql.contains("stream_nodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::StreamId;

    #[test]
    fn one_node_per_stream_and_taking_empties() {
        let mut h = HeldNodes::default();
        assert!(h.is_empty());
        assert_eq!(h.take(1), None);
        let a = Node::create(StreamId::new(1, 0), &[b"f", b"v"]);
        let b = Node::create(StreamId::new(2, 0), &[b"f", b"v"]);
        h.hold(1, a.clone());
        h.hold(1, b.clone());
        h.hold(2, a.clone());
        assert_eq!(h.take(1), Some(b));
        assert_eq!(h.take(1), None);
        assert_eq!(h.drain(), vec![(2, a)]);
        assert!(h.is_empty());
        h.hold(3, Node::create(StreamId::new(3, 0), &[b"f", b"v"]));
        h.clear();
        assert!(h.is_empty());
    }

    #[test]
    fn statements_on_the_nodes_table_are_recognised() {
        assert!(names_nodes_table(PUT_SQL));
        assert!(names_nodes_table(
            "DELETE FROM stream_nodes WHERE key_id IN (SELECT id FROM keys WHERE db = ?1)"
        ));
        assert!(!names_nodes_table(
            "INSERT OR REPLACE INTO stream_entries (key_id, ms, seq, fields) VALUES (?1, ?2, ?3, ?4)"
        ));
    }
}
