//! Consumer groups, their consumers, and the pending entries list (PEL):
//! entries delivered to a consumer of a group and not acknowledged yet.
//!
//! Groups and consumers are listed in name order (byte order), which is
//! the order Redis's radix trees give them. The PEL is clustered by
//! (group, entry id), and indexed by (group, consumer, entry id) for the
//! per-consumer reads of XPENDING, XREADGROUP's history and XINFO.

use super::id::StreamId;
use crate::ops::Op;
use crate::{Store, StoreResult};
use rusqlite::{params, OptionalExtension};

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: Vec<u8>,
    /// The last id delivered to the group.
    pub last: StreamId,
    /// The group's logical read counter; -1 when unknown.
    pub entries_read: i64,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    /// Unix ms of its last activity (XINFO `seen-time`, `idle`).
    pub seen: i64,
}

/// A pending entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: StreamId,
    pub consumer: Vec<u8>,
    /// Unix ms of the last delivery.
    pub delivered: i64,
    pub count: i64,
}

/// Which pending entries [`Store::stream_pel_range`] reads.
#[derive(Clone, Copy, Debug)]
pub struct PelQuery<'a> {
    /// Only this consumer's entries.
    pub consumer: Option<&'a [u8]>,
    pub start: StreamId,
    pub end: StreamId,
    /// At most this many (None: all).
    pub count: Option<u64>,
    /// Only entries last delivered at or before this unix ms.
    pub delivered_before: Option<i64>,
}

impl PelQuery<'_> {
    /// Every pending entry, at most `count`.
    pub fn all(count: Option<u64>) -> PelQuery<'static> {
        PelQuery {
            consumer: None,
            start: StreamId::MIN,
            end: StreamId::MAX,
            count,
            delivered_before: None,
        }
    }
}

/// XPENDING's summary form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingSummary {
    pub count: u64,
    /// Smallest and largest pending ids.
    pub bounds: Option<(StreamId, StreamId)>,
    /// Pending entries per consumer (consumers without any are left out).
    pub consumers: Vec<(Vec<u8>, u64)>,
}

fn pending_from_row(r: &rusqlite::Row) -> rusqlite::Result<Pending> {
    Ok(Pending {
        id: StreamId::from_sql(r.get(0)?, r.get(1)?),
        consumer: r.get(2)?,
        delivered: r.get(3)?,
        count: r.get(4)?,
    })
}

impl Store {
    /// Every group of stream `key_id`, by name.
    pub fn stream_groups(&mut self, key_id: i64) -> StoreResult<Vec<Group>> {
        let mut stmt = self.stmt(
            "SELECT name, last_ms, last_seq, entries_read FROM stream_groups WHERE key_id = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([key_id], |r| {
            Ok(Group {
                name: r.get(0)?,
                last: StreamId::from_sql(r.get(1)?, r.get(2)?),
                entries_read: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many groups stream `key_id` has.
    pub fn stream_group_count(&mut self, key_id: i64) -> StoreResult<u64> {
        let n: i64 = self
            .stmt("SELECT count(*) FROM stream_groups WHERE key_id = ?1")?
            .query_row([key_id], |r| r.get(0))?;
        Ok(n as u64)
    }

    pub fn stream_group(&mut self, key_id: i64, name: &[u8]) -> StoreResult<Option<Group>> {
        Ok(self.stmt(
                "SELECT last_ms, last_seq, entries_read FROM stream_groups WHERE key_id = ?1 AND name = ?2",
            )?
            .query_row(params![key_id, name], |r| {
                Ok(Group {
                    name: name.to_vec(),
                    last: StreamId::from_sql(r.get(0)?, r.get(1)?),
                    entries_read: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Creates or updates a group (its last delivered id and read counter).
    pub fn stream_group_put(&mut self, key_id: i64, g: &Group) -> StoreResult<()> {
        self.record(Op::StreamGroupPut {
            id: key_id,
            group: g.name.clone(),
            last: g.last,
            entries_read: g.entries_read,
        })
    }

    /// Destroys a group with its consumers and pending entries.
    pub fn stream_group_del(&mut self, key_id: i64, name: &[u8]) -> StoreResult<()> {
        self.record(Op::StreamGroupDel {
            id: key_id,
            group: name.to_vec(),
        })
    }

    /// The consumers of a group, by name.
    pub fn stream_consumers(&mut self, key_id: i64, group: &[u8]) -> StoreResult<Vec<Consumer>> {
        let mut stmt = self.stmt(
            "SELECT name, seen FROM stream_consumers WHERE key_id = ?1 AND grp = ?2 ORDER BY name",
        )?;
        let rows = stmt.query_map(params![key_id, group], |r| {
            Ok(Consumer {
                name: r.get(0)?,
                seen: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn stream_consumer_count(&mut self, key_id: i64, group: &[u8]) -> StoreResult<u64> {
        let n: i64 = self
            .stmt("SELECT count(*) FROM stream_consumers WHERE key_id = ?1 AND grp = ?2")?
            .query_row(params![key_id, group], |r| r.get(0))?;
        Ok(n as u64)
    }

    pub fn stream_consumer(
        &mut self,
        key_id: i64,
        group: &[u8],
        name: &[u8],
    ) -> StoreResult<Option<Consumer>> {
        Ok(self
            .stmt("SELECT seen FROM stream_consumers WHERE key_id = ?1 AND grp = ?2 AND name = ?3")?
            .query_row(params![key_id, group, name], |r| {
                Ok(Consumer {
                    name: name.to_vec(),
                    seen: r.get(0)?,
                })
            })
            .optional()?)
    }

    /// Creates a consumer or updates its activity time.
    pub fn stream_consumer_put(
        &mut self,
        key_id: i64,
        group: &[u8],
        c: &Consumer,
    ) -> StoreResult<()> {
        self.record(Op::StreamConsumerPut {
            id: key_id,
            group: group.to_vec(),
            consumer: c.name.clone(),
            seen: c.seen,
        })
    }

    /// Deletes a consumer and its pending entries.
    pub fn stream_consumer_del(
        &mut self,
        key_id: i64,
        group: &[u8],
        name: &[u8],
    ) -> StoreResult<()> {
        self.record(Op::StreamConsumerDel {
            id: key_id,
            group: group.to_vec(),
            consumer: name.to_vec(),
        })
    }

    /// The pending entry `id` of a group.
    pub fn stream_pel_get(
        &mut self,
        key_id: i64,
        group: &[u8],
        id: StreamId,
    ) -> StoreResult<Option<Pending>> {
        let (ms, seq) = id.to_sql();
        Ok(self
            .stmt(
                "SELECT ms, seq, consumer, delivered, count FROM stream_pel \
                 WHERE key_id = ?1 AND grp = ?2 AND ms = ?3 AND seq = ?4",
            )?
            .query_row(params![key_id, group, ms, seq], pending_from_row)
            .optional()?)
    }

    /// Adds or replaces a pending entry (owner, delivery time and count).
    pub fn stream_pel_put(&mut self, key_id: i64, group: &[u8], p: &Pending) -> StoreResult<()> {
        self.record(Op::StreamPelPut {
            id: key_id,
            group: group.to_vec(),
            entry: p.id,
            consumer: p.consumer.clone(),
            delivered: p.delivered,
            count: p.count,
        })
    }

    /// Acknowledges (removes) a pending entry.
    pub fn stream_pel_del(&mut self, key_id: i64, group: &[u8], id: StreamId) -> StoreResult<()> {
        self.record(Op::StreamPelDel {
            id: key_id,
            group: group.to_vec(),
            entry: id,
        })
    }

    /// Pending entries of a group as `q` selects them, in id order.
    pub fn stream_pel_range(
        &mut self,
        key_id: i64,
        group: &[u8],
        q: &PelQuery,
    ) -> StoreResult<Vec<Pending>> {
        let PelQuery {
            consumer,
            start,
            end,
            count,
            delivered_before,
        } = *q;
        if start > end || count == Some(0) {
            return Ok(Vec::new());
        }
        let (a_ms, a_seq) = start.to_sql();
        let (b_ms, b_seq) = end.to_sql();
        let limit = count.map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
        let sql = if consumer.is_some() {
            "SELECT ms, seq, consumer, delivered, count FROM stream_pel INDEXED BY stream_pel_by_consumer \
             WHERE key_id = ?1 AND grp = ?2 AND consumer = ?3 \
             AND (ms, seq) >= (?4, ?5) AND (ms, seq) <= (?6, ?7) \
             AND (?8 IS NULL OR delivered <= ?8) ORDER BY ms, seq LIMIT ?9"
        } else {
            "SELECT ms, seq, consumer, delivered, count FROM stream_pel \
             WHERE key_id = ?1 AND grp = ?2 AND ?3 IS NULL \
             AND (ms, seq) >= (?4, ?5) AND (ms, seq) <= (?6, ?7) \
             AND (?8 IS NULL OR delivered <= ?8) ORDER BY ms, seq LIMIT ?9"
        };
        let mut stmt = self.stmt(sql)?;
        let rows = stmt.query_map(
            params![
                key_id,
                group,
                consumer,
                a_ms,
                a_seq,
                b_ms,
                b_seq,
                delivered_before,
                limit
            ],
            pending_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many entries are pending in a group (for one consumer when given).
    pub fn stream_pel_count(
        &mut self,
        key_id: i64,
        group: &[u8],
        consumer: Option<&[u8]>,
    ) -> StoreResult<u64> {
        let n: i64 = match consumer {
            Some(c) => self
                .stmt(
                    "SELECT count(*) FROM stream_pel INDEXED BY stream_pel_by_consumer \
                     WHERE key_id = ?1 AND grp = ?2 AND consumer = ?3",
                )?
                .query_row(params![key_id, group, c], |r| r.get(0))?,
            None => self
                .stmt("SELECT count(*) FROM stream_pel WHERE key_id = ?1 AND grp = ?2")?
                .query_row(params![key_id, group], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    /// XPENDING's summary: count, smallest and largest ids, and the count
    /// per consumer in consumer-name order.
    pub fn stream_pel_summary(&mut self, key_id: i64, group: &[u8]) -> StoreResult<PendingSummary> {
        let count = self.stream_pel_count(key_id, group, None)?;
        if count == 0 {
            return Ok(PendingSummary::default());
        }
        let edge = |store: &mut Store, desc: bool| -> StoreResult<Option<StreamId>> {
            let sql = if desc {
                "SELECT ms, seq FROM stream_pel WHERE key_id = ?1 AND grp = ?2 ORDER BY ms DESC, seq DESC LIMIT 1"
            } else {
                "SELECT ms, seq FROM stream_pel WHERE key_id = ?1 AND grp = ?2 ORDER BY ms, seq LIMIT 1"
            };
            Ok(store
                .stmt_built(sql)?
                .query_row(params![key_id, group], |r| {
                    Ok(StreamId::from_sql(r.get(0)?, r.get(1)?))
                })
                .optional()?)
        };
        let bounds = match (edge(self, false)?, edge(self, true)?) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let mut stmt = self.stmt(
            "SELECT consumer, count(*) FROM stream_pel INDEXED BY stream_pel_by_consumer \
             WHERE key_id = ?1 AND grp = ?2 GROUP BY consumer ORDER BY consumer",
        )?;
        let rows = stmt.query_map(params![key_id, group], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(PendingSummary {
            count,
            bounds,
            consumers: rows.collect::<Result<_, _>>()?,
        })
    }
}
