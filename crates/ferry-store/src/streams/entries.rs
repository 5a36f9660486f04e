//! Stream entries: append, read by id range, delete (XDEL) and trim
//! (XTRIM, XADD's MAXLEN/MINID), keeping the node model of `nodes.rs` in
//! step.

use super::id::StreamId;
use super::nodes::{rax_nodes, Node, NodeLimits};
use super::{decode_fields, decode_fields_shared, encode_fields, Stream};
use crate::ops::Op;
use crate::{Store, StoreError, StoreResult};
use rusqlite::{params, OptionalExtension};

/// One entry: its id and its flat field, value list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: StreamId,
    /// Field, value, field, value... (slices of the stored row).
    pub fields: Vec<bytes::Bytes>,
}

/// What a trim keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    /// At most this many entries.
    MaxLen(u64),
    /// Entries with ids at least this one.
    MinId(StreamId),
}

/// A trim request, as XADD and XTRIM give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub strategy: TrimStrategy,
    /// `~`: remove whole nodes only.
    pub approx: bool,
    /// Most entries removed (0: no limit).
    pub limit: u64,
}

const NODE_COLS: &str = "ms, seq, live, deleted, bytes, last_ms, last_seq, fields";

/// A `stream_nodes` row: start (ms, seq), live, deleted, bytes, last (ms,
/// seq), master fields.
type NodeRow = (i64, i64, i64, i64, i64, i64, i64, Vec<u8>);

fn node_from_row(r: &rusqlite::Row) -> rusqlite::Result<NodeRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

/// The journal's record of a node row.
fn node_put_op(key_id: i64, n: &Node) -> Op {
    Op::StreamNodePut {
        id: key_id,
        start: n.start,
        live: n.live,
        deleted: n.deleted,
        bytes: n.bytes,
        last: n.last,
        fields: encode_fields(&n.fields),
    }
}

fn node_decode(row: NodeRow) -> StoreResult<Node> {
    let (ms, seq, live, deleted, bytes, last_ms, last_seq, fields) = row;
    Ok(Node {
        start: StreamId::from_sql(ms, seq),
        live,
        deleted,
        bytes,
        last: StreamId::from_sql(last_ms, last_seq),
        fields: decode_fields(&fields)?,
    })
}

impl Store {
    fn stream_node_query(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> StoreResult<Option<Node>> {
        let row = self
            .stmt_built(sql)?
            .query_row(args, node_from_row)
            .optional()?;
        row.map(node_decode).transpose()
    }

    /// The last node (where XADD appends).
    fn stream_tail_node(&self, key_id: i64) -> StoreResult<Option<Node>> {
        self.stream_node_query(
            &format!("SELECT {NODE_COLS} FROM stream_nodes WHERE key_id = ?1 ORDER BY ms DESC, seq DESC LIMIT 1"),
            [key_id],
        )
    }

    /// The first node (where trimming starts).
    fn stream_head_node(&self, key_id: i64) -> StoreResult<Option<Node>> {
        self.stream_node_query(
            &format!(
                "SELECT {NODE_COLS} FROM stream_nodes WHERE key_id = ?1 ORDER BY ms, seq LIMIT 1"
            ),
            [key_id],
        )
    }

    /// The node holding the entry `id`.
    fn stream_node_of(&self, key_id: i64, id: StreamId) -> StoreResult<Option<Node>> {
        let (ms, seq) = id.to_sql();
        self.stream_node_query(
            &format!(
                "SELECT {NODE_COLS} FROM stream_nodes WHERE key_id = ?1 AND (ms, seq) <= (?2, ?3) \
                 ORDER BY ms DESC, seq DESC LIMIT 1"
            ),
            params![key_id, ms, seq],
        )
    }

    fn stream_node_put(&mut self, key_id: i64, n: &Node) -> StoreResult<()> {
        self.record(node_put_op(key_id, n))
    }

    /// Writes the node an append changed, the stream's last: journaled,
    /// and inside a transaction held as the tail for the next append
    /// instead of written (see `heldnodes.rs`).
    fn stream_tail_put(&mut self, key_id: i64, node: Node) -> StoreResult<()> {
        let op = node_put_op(key_id, &node);
        if !self.in_tx {
            return self.record(op);
        }
        self.log(&op)?;
        self.held_nodes.get_mut().hold(key_id, node);
        Ok(())
    }

    fn stream_node_del(&mut self, key_id: i64, start: StreamId) -> StoreResult<()> {
        self.record(Op::StreamNodeDel { id: key_id, start })
    }

    fn stream_del_range(&mut self, key_id: i64, from: StreamId, to: StreamId) -> StoreResult<()> {
        self.record(Op::StreamDelRange {
            id: key_id,
            from,
            to,
        })
    }

    /// Appends the entry `id` (greater than every id in the stream) with
    /// the flat field, value list `pairs`.
    pub fn stream_append<F: AsRef<[u8]>>(
        &mut self,
        s: &mut Stream,
        id: StreamId,
        pairs: &[F],
        limits: NodeLimits,
    ) -> StoreResult<()> {
        let refs: Vec<&[u8]> = pairs.iter().map(|p| p.as_ref()).collect();
        let key_id = s.info.id;
        // The tail an earlier append holds, else its row.
        let held = self.held_nodes.get_mut().take(key_id);
        let was_held = held.is_some();
        let tail = match held {
            Some(n) => Some(n),
            None => self.stream_tail_node(key_id)?,
        };
        let node = match tail {
            Some(mut n) if n.has_room(&refs, limits) => {
                n.append(id, &refs);
                n
            }
            Some(full) => {
                if was_held {
                    // Its last changes were held: written before a new
                    // node becomes the tail.
                    if let Err(e) = self.put_node_row(key_id, &full) {
                        self.held_nodes.get_mut().hold(key_id, full);
                        return Err(e);
                    }
                }
                Node::create(id, &refs)
            }
            None => Node::create(id, &refs),
        };
        self.stream_tail_put(key_id, node)?;
        self.record(Op::StreamAdd {
            id: key_id,
            entry: id,
            fields: encode_fields(&refs),
        })?;
        s.info.len += 1;
        s.last = id;
        s.entries_added += 1;
        Ok(())
    }

    /// Entries with `start <= id <= end`, at most `count`, in id order
    /// (descending with `rev`).
    pub fn stream_range(
        &mut self,
        key_id: i64,
        start: StreamId,
        end: StreamId,
        count: Option<u64>,
        rev: bool,
    ) -> StoreResult<Vec<Entry>> {
        if start > end || count == Some(0) {
            return Ok(Vec::new());
        }
        let sql = if rev {
            "SELECT ms, seq, fields FROM stream_entries WHERE key_id = ?1 \
             AND (ms, seq) >= (?2, ?3) AND (ms, seq) <= (?4, ?5) ORDER BY ms DESC, seq DESC LIMIT ?6"
        } else {
            "SELECT ms, seq, fields FROM stream_entries WHERE key_id = ?1 \
             AND (ms, seq) >= (?2, ?3) AND (ms, seq) <= (?4, ?5) ORDER BY ms, seq LIMIT ?6"
        };
        let (a_ms, a_seq) = start.to_sql();
        let (b_ms, b_seq) = end.to_sql();
        let limit = count.map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
        let mut stmt = self.stmt(sql)?;
        let rows = stmt.query_map(params![key_id, a_ms, a_seq, b_ms, b_seq, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::with_capacity(count.map_or(16, |c| c.min(1024) as usize));
        for row in rows {
            let (ms, seq, fields) = row?;
            out.push(Entry {
                id: StreamId::from_sql(ms, seq),
                fields: decode_fields_shared(bytes::Bytes::from(fields))?,
            });
        }
        Ok(out)
    }

    /// The entry `id`, if present.
    pub fn stream_entry(&mut self, key_id: i64, id: StreamId) -> StoreResult<Option<Entry>> {
        Ok(self.stream_range(key_id, id, id, Some(1), false)?.pop())
    }

    /// Whether the entry `id` is present.
    pub fn stream_has(&mut self, key_id: i64, id: StreamId) -> StoreResult<bool> {
        let (ms, seq) = id.to_sql();
        Ok(self
            .stmt("SELECT 1 FROM stream_entries WHERE key_id = ?1 AND ms = ?2 AND seq = ?3")?
            .query_row(params![key_id, ms, seq], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The first (or, with `last`, the last) entry.
    pub fn stream_edge(&mut self, key_id: i64, last: bool) -> StoreResult<Option<Entry>> {
        Ok(self
            .stream_range(key_id, StreamId::MIN, StreamId::MAX, Some(1), last)?
            .pop())
    }

    /// The id of the first entry, or `0-0` when the stream is empty (XINFO's
    /// `recorded-first-entry-id`, which Redis keeps up to date the same way).
    pub fn stream_first_id(&mut self, key_id: i64) -> StoreResult<StreamId> {
        Ok(self
            .stmt("SELECT ms, seq FROM stream_entries WHERE key_id = ?1 ORDER BY ms, seq LIMIT 1")?
            .query_row([key_id], |r| Ok(StreamId::from_sql(r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or(StreamId::MIN))
    }

    /// XDEL of one id: removes the entry if present and records it as the
    /// largest deleted id when it is. Returns whether it was present.
    pub fn stream_delete(&mut self, s: &mut Stream, id: StreamId) -> StoreResult<bool> {
        if !self.stream_has(s.info.id, id)? {
            return Ok(false);
        }
        self.stream_del_range(s.info.id, id, id)?;
        let mut node = self
            .stream_node_of(s.info.id, id)?
            .ok_or(StoreError::Corrupt("stream entry outside every node"))?;
        // Redis frees a node when its last live entry goes.
        if node.live <= 1 {
            self.stream_node_del(s.info.id, node.start)?;
        } else {
            node.live -= 1;
            node.deleted += 1;
            self.stream_node_put(s.info.id, &node)?;
        }
        s.info.len -= 1;
        if id > s.max_deleted {
            s.max_deleted = id;
        }
        Ok(true)
    }

    /// Trims the stream as Redis's `streamTrim` does: whole nodes from the
    /// head while what remains satisfies the strategy and `limit` allows;
    /// then, unless approximate, the live entries of the next node that
    /// must go. Returns how many entries were removed.
    pub fn stream_trim(&mut self, s: &mut Stream, trim: &Trim) -> StoreResult<u64> {
        let key_id = s.info.id;
        let mut removed: u64 = 0;
        while let Some(mut node) = self.stream_head_node(key_id)? {
            let len = s.len();
            if let TrimStrategy::MaxLen(max) = trim.strategy {
                if len <= max {
                    break;
                }
            }
            let live = node.live.max(0) as u64;
            if trim.limit > 0 && removed + live > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => len.saturating_sub(live) >= max,
                TrimStrategy::MinId(min) => node.last < min,
            };
            if whole {
                self.stream_del_range(key_id, node.start, node.last)?;
                self.stream_node_del(key_id, node.start)?;
                s.info.len -= live as i64;
                removed += live;
                continue;
            }
            if trim.approx {
                break;
            }
            // Part of this node: its first live entries.
            let (cut, n) = match trim.strategy {
                TrimStrategy::MaxLen(max) => {
                    let n = len - max;
                    let (ms, seq): (i64, i64) = self
                        .stmt(
                            "SELECT ms, seq FROM stream_entries WHERE key_id = ?1 \
                             ORDER BY ms, seq LIMIT 1 OFFSET ?2",
                        )?
                        .query_row(params![key_id, (n - 1) as i64], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?;
                    (StreamId::from_sql(ms, seq), n)
                }
                TrimStrategy::MinId(min) => {
                    let Some(cut) = min.prev() else { break };
                    let (ms, seq) = min.to_sql();
                    let n: i64 = self.stmt(
                            "SELECT count(*) FROM stream_entries WHERE key_id = ?1 AND (ms, seq) < (?2, ?3)",
                        )?
                        .query_row(params![key_id, ms, seq], |r| r.get(0))?;
                    (cut, n as u64)
                }
            };
            if n > 0 {
                self.stream_del_range(key_id, StreamId::MIN, cut)?;
                node.live -= n as i64;
                node.deleted += n as i64;
                self.stream_node_put(key_id, &node)?;
                s.info.len -= n as i64;
                removed += n;
            }
            break;
        }
        Ok(removed)
    }

    /// XINFO's `radix-tree-keys` and `radix-tree-nodes`: the macro nodes
    /// Redis would hold and the nodes of its radix tree over them.
    pub fn stream_tree_stats(&mut self, key_id: i64) -> StoreResult<(u64, u64)> {
        let mut stmt =
            self.stmt("SELECT ms, seq FROM stream_nodes WHERE key_id = ?1 ORDER BY ms, seq")?;
        let rows = stmt.query_map([key_id], |r| Ok(StreamId::from_sql(r.get(0)?, r.get(1)?)))?;
        let mut keys = Vec::new();
        for r in rows {
            keys.push(r?.to_be_bytes());
        }
        Ok((keys.len() as u64, rax_nodes(&keys)))
    }
}
