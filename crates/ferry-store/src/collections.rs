//! What every collection type (hash, set, sorted set, list) shares: typed
//! lookup, creating the key row, keeping its element count, and journaled
//! element writes. The per-type modules build their commands on these.
//!
//! A collection key's `len` is its element count (HLEN, SCARD, ZCARD, LLEN
//! are O(1)); a collection that becomes empty is deleted, as in Redis.

use crate::keyspace::{KeyInfo, KeyType, Ttl};
use crate::ops::Op;
use crate::{Store, StoreError, StoreResult};
use rusqlite::OptionalExtension;

impl Store {
    /// The live key if it holds `ktype`; WRONGTYPE if it holds another type.
    pub fn lookup_typed(
        &mut self,
        db: usize,
        key: &[u8],
        ktype: KeyType,
    ) -> StoreResult<Option<KeyInfo>> {
        match self.lookup(db, key)? {
            Some(info) if info.ktype != ktype => Err(StoreError::WrongType),
            other => Ok(other),
        }
    }

    /// The live `ktype` key, created empty (no TTL) when missing;
    /// WRONGTYPE if the key holds another type.
    pub fn lookup_or_create(
        &mut self,
        db: usize,
        key: &[u8],
        ktype: KeyType,
    ) -> StoreResult<KeyInfo> {
        if let Some(info) = self.lookup_typed(db, key, ktype)? {
            return Ok(info);
        }
        let id = self.insert_key(db, key, ktype, None, 0, None)?;
        Ok(KeyInfo {
            id,
            ktype,
            expire_at: None,
            len: 0,
        })
    }

    /// Records a collection's new element count, keeping its TTL; deletes
    /// the key when the count reaches 0. Returns the updated row (None once
    /// deleted).
    pub fn set_collection_len(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        len: i64,
    ) -> StoreResult<Option<KeyInfo>> {
        if len <= 0 {
            self.remove(db, key, info)?;
            return Ok(None);
        }
        // The row's version is what WATCH compares: with a key WATCHed
        // somewhere the row is rewritten even when the count did not
        // change; otherwise an unchanged count leaves the row alone (one
        // b-tree write less for SADD/HSET/ZADD of existing elements).
        if len == info.len && !self.versions_watched {
            // Client-side caching still hears of the change (the key row's
            // Update would have told it).
            if self.record_modified {
                self.modified.push(crate::Modified::Key(key.to_vec()));
            }
            return Ok(Some(*info));
        }
        self.update_key(db, key, info, len, Ttl::Keep, None)?;
        Ok(Some(KeyInfo { len, ..*info }))
    }

    /// A live key's identity and version: changes whenever the key is
    /// written, expires, is deleted or recreated (WATCH compares it).
    pub fn key_version(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<(i64, i64)>> {
        if self.lookup(db, key)?.is_none() {
            return Ok(None);
        }
        Ok(self
            .stmt("SELECT id, version FROM keys WHERE db = ?1 AND key = ?2")?
            .query_row(rusqlite::params![self.slot(db), key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Sets a hash field (journaled). The caller keeps the count.
    pub fn hash_put(&mut self, id: i64, field: &[u8], value: &[u8]) -> StoreResult<()> {
        self.record(Op::HashPut {
            id,
            field: field.to_vec(),
            value: value.to_vec(),
        })
    }

    /// Adds a set member (journaled). The caller keeps the count.
    pub fn set_add(&mut self, id: i64, member: &[u8]) -> StoreResult<()> {
        self.record(Op::SetAdd {
            id,
            member: member.to_vec(),
        })
    }

    /// Sets a sorted-set member's score (journaled). The caller keeps the count.
    pub fn zset_put(&mut self, id: i64, member: &[u8], score: f64) -> StoreResult<()> {
        self.record(Op::ZPut {
            id,
            member: member.to_vec(),
            score,
        })
    }

    /// Sets the list element at `pos` (journaled). The caller keeps the count.
    pub fn list_put(&mut self, id: i64, pos: i64, value: &[u8]) -> StoreResult<()> {
        self.record(Op::ListPut {
            id,
            pos,
            value: value.to_vec(),
        })
    }

    /// Deletes a hash field, set member or sorted-set member (journaled).
    pub fn elem_del(&mut self, ktype: KeyType, id: i64, elem: &[u8]) -> StoreResult<()> {
        self.record(Op::ElemDel {
            ktype,
            id,
            elem: elem.to_vec(),
        })
    }

    /// Deletes the list elements with `from <= pos <= to` (journaled).
    pub fn list_del_range(&mut self, id: i64, from: i64, to: i64) -> StoreResult<()> {
        self.record(Op::ListDelRange { id, from, to })
    }
}

impl Store {
    /// Reads the sizes of at most `limit` elements of a collection (its
    /// first ones in storage order): (elements read, their bytes). For
    /// MEMORY USAGE, which extrapolates from a sample as Redis does.
    pub fn sample_element_bytes(&mut self, info: &KeyInfo, limit: i64) -> StoreResult<(i64, i64)> {
        let sql = match info.ktype {
            KeyType::String => return Ok((1, info.len)),
            KeyType::List => "SELECT count(*), total(l) FROM (SELECT length(value) AS l FROM lists WHERE key_id = ?1 LIMIT ?2)",
            KeyType::Set => "SELECT count(*), total(l) FROM (SELECT length(member) AS l FROM sets WHERE key_id = ?1 LIMIT ?2)",
            KeyType::ZSet => "SELECT count(*), total(l) FROM (SELECT length(member) + 8 AS l FROM zsets WHERE key_id = ?1 LIMIT ?2)",
            KeyType::Hash => "SELECT count(*), total(l) FROM (SELECT length(field) + length(value) AS l FROM hashes WHERE key_id = ?1 LIMIT ?2)",
            KeyType::Stream => "SELECT count(*), total(l) FROM (SELECT length(fields) + 16 AS l FROM stream_entries WHERE key_id = ?1 LIMIT ?2)",
        };
        Ok(self
            .stmt(sql)?
            .query_row(rusqlite::params![info.id, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)? as i64))
            })?)
    }
}
