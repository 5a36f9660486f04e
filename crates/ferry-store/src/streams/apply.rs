//! The SQL behind each stream op (normal operation and journal replay).

use super::encode_fields;
use super::heldnodes;
use super::nodes::Node;
use super::StreamId;
use crate::ops::Op;
use crate::{Store, StoreError, StoreResult};
use rusqlite::params;

impl Store {
    /// Writes a node's row (a held tail node; see `heldnodes.rs`).
    pub(crate) fn put_node_row(&self, key_id: i64, n: &Node) -> StoreResult<()> {
        let counts = [n.live, n.deleted, n.bytes];
        self.write_node_row(key_id, n.start, counts, n.last, &encode_fields(&n.fields))
    }

    /// The one statement writing a `stream_nodes` row, for held nodes and
    /// for `Op::StreamNodePut` alike: `counts` are live, deleted, bytes.
    fn write_node_row(
        &self,
        key_id: i64,
        start: StreamId,
        counts: [i64; 3],
        last: StreamId,
        fields: &[u8],
    ) -> StoreResult<()> {
        let (ms, seq) = start.to_sql();
        let (last_ms, last_seq) = last.to_sql();
        let [live, deleted, bytes] = counts;
        self.stmt(heldnodes::PUT_SQL)?.execute(params![
            key_id, ms, seq, live, deleted, bytes, last_ms, last_seq, fields
        ])?;
        Ok(())
    }

    pub(crate) fn apply_stream(&mut self, op: &Op) -> StoreResult<()> {
        match op {
            Op::StreamAdd { id, entry, fields } => {
                let (ms, seq) = entry.to_sql();
                self.stmt(
                        "INSERT OR REPLACE INTO stream_entries (key_id, ms, seq, fields) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![id, ms, seq, fields])?;
            }
            Op::StreamDelRange { id, from, to } => {
                let (a_ms, a_seq) = from.to_sql();
                let (b_ms, b_seq) = to.to_sql();
                self.stmt(
                    "DELETE FROM stream_entries WHERE key_id = ?1 \
                         AND (ms, seq) >= (?2, ?3) AND (ms, seq) <= (?4, ?5)",
                )?
                .execute(params![id, a_ms, a_seq, b_ms, b_seq])?;
            }
            Op::StreamNodePut {
                id,
                start,
                live,
                deleted,
                bytes,
                last,
                fields,
            } => self.write_node_row(*id, *start, [*live, *deleted, *bytes], *last, fields)?,
            Op::StreamNodeDel { id, start } => {
                let (ms, seq) = start.to_sql();
                self.stmt("DELETE FROM stream_nodes WHERE key_id = ?1 AND ms = ?2 AND seq = ?3")?
                    .execute(params![id, ms, seq])?;
            }
            Op::StreamGroupPut {
                id,
                group,
                last,
                entries_read,
            } => {
                let (ms, seq) = last.to_sql();
                self.stmt(
                        "INSERT OR REPLACE INTO stream_groups (key_id, name, last_ms, last_seq, entries_read) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![id, group, ms, seq, entries_read])?;
            }
            Op::StreamGroupDel { id, group } => {
                for sql in [
                    "DELETE FROM stream_pel WHERE key_id = ?1 AND grp = ?2",
                    "DELETE FROM stream_consumers WHERE key_id = ?1 AND grp = ?2",
                    "DELETE FROM stream_groups WHERE key_id = ?1 AND name = ?2",
                ] {
                    self.stmt(sql)?.execute(params![id, group])?;
                }
            }
            Op::StreamConsumerPut {
                id,
                group,
                consumer,
                seen,
            } => {
                self.stmt(
                        "INSERT OR REPLACE INTO stream_consumers (key_id, grp, name, seen) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![id, group, consumer, seen])?;
            }
            Op::StreamConsumerDel {
                id,
                group,
                consumer,
            } => {
                for sql in [
                    "DELETE FROM stream_pel WHERE key_id = ?1 AND grp = ?2 AND consumer = ?3",
                    "DELETE FROM stream_consumers WHERE key_id = ?1 AND grp = ?2 AND name = ?3",
                ] {
                    self.stmt(sql)?.execute(params![id, group, consumer])?;
                }
            }
            Op::StreamPelPut {
                id,
                group,
                entry,
                consumer,
                delivered,
                count,
            } => {
                let (ms, seq) = entry.to_sql();
                self.stmt(
                        "INSERT OR REPLACE INTO stream_pel (key_id, grp, ms, seq, consumer, delivered, count) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?
                    .execute(params![id, group, ms, seq, consumer, delivered, count])?;
            }
            Op::StreamPelDel { id, group, entry } => {
                let (ms, seq) = entry.to_sql();
                self.stmt(
                        "DELETE FROM stream_pel WHERE key_id = ?1 AND grp = ?2 AND ms = ?3 AND seq = ?4",
                    )?
                    .execute(params![id, group, ms, seq])?;
            }
            Op::StreamMeta { db, key, meta } => {
                self.stmt("UPDATE keys SET value = ?3 WHERE db = ?1 AND key = ?2")?
                    .execute(params![self.slot(*db as usize), key, meta])?;
            }
            _ => return Err(StoreError::Corrupt("not a stream op")),
        }
        Ok(())
    }
}
