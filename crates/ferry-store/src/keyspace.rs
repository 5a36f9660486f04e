//! Keys independent of their type: lookup with lazy expiry, delete, TTL,
//! rename/copy/move, SCAN, KEYS, RANDOMKEY, FLUSHDB/FLUSHALL, SWAPDB and the
//! background expiry sweep.

use crate::glob::{glob_match, literal_prefix};
use crate::keycache::Cached;
use crate::ops::Op;
use crate::{heldrows, Store, StoreError, StoreResult, DATABASES};
use rusqlite::{params, OptionalExtension};

/// The Redis type of a key, as stored in `keys.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    String = 0,
    List = 1,
    Set = 2,
    ZSet = 3,
    Hash = 4,
    Stream = 5,
}

impl KeyType {
    pub fn from_code(code: i64) -> Option<KeyType> {
        Some(match code {
            0 => KeyType::String,
            1 => KeyType::List,
            2 => KeyType::Set,
            3 => KeyType::ZSet,
            4 => KeyType::Hash,
            5 => KeyType::Stream,
            _ => return None,
        })
    }

    /// The name TYPE replies with and SCAN's TYPE option takes.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<KeyType> {
        [
            KeyType::String,
            KeyType::List,
            KeyType::Set,
            KeyType::ZSet,
            KeyType::Hash,
            KeyType::Stream,
        ]
        .into_iter()
        .find(|t| t.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Statements that delete a key's data (`?1` = key id) and copy it to
    /// another key (`?1` = new id, `?2` = old id). Strings live inline in
    /// `keys`; each collection type has its own table, a stream five
    /// (entries, nodes, groups, consumers, pending entries).
    pub(crate) fn data_sql(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            KeyType::Hash => (
                &["DELETE FROM hashes WHERE key_id = ?1"],
                &["INSERT INTO hashes (key_id, field, value) SELECT ?1, field, value FROM hashes WHERE key_id = ?2"],
            ),
            KeyType::Set => (
                &["DELETE FROM sets WHERE key_id = ?1"],
                &["INSERT INTO sets (key_id, member) SELECT ?1, member FROM sets WHERE key_id = ?2"],
            ),
            KeyType::ZSet => (
                &["DELETE FROM zsets WHERE key_id = ?1"],
                &["INSERT INTO zsets (key_id, member, score) SELECT ?1, member, score FROM zsets WHERE key_id = ?2"],
            ),
            KeyType::List => (
                &["DELETE FROM lists WHERE key_id = ?1"],
                &["INSERT INTO lists (key_id, pos, value) SELECT ?1, pos, value FROM lists WHERE key_id = ?2"],
            ),
            KeyType::Stream => (
                &[
                    "DELETE FROM stream_entries WHERE key_id = ?1",
                    "DELETE FROM stream_nodes WHERE key_id = ?1",
                    "DELETE FROM stream_groups WHERE key_id = ?1",
                    "DELETE FROM stream_consumers WHERE key_id = ?1",
                    "DELETE FROM stream_pel WHERE key_id = ?1",
                ],
                &[
                    "INSERT INTO stream_entries (key_id, ms, seq, fields) \
                     SELECT ?1, ms, seq, fields FROM stream_entries WHERE key_id = ?2",
                    "INSERT INTO stream_nodes (key_id, ms, seq, live, deleted, bytes, last_ms, last_seq, fields) \
                     SELECT ?1, ms, seq, live, deleted, bytes, last_ms, last_seq, fields FROM stream_nodes WHERE key_id = ?2",
                    "INSERT INTO stream_groups (key_id, name, last_ms, last_seq, entries_read) \
                     SELECT ?1, name, last_ms, last_seq, entries_read FROM stream_groups WHERE key_id = ?2",
                    "INSERT INTO stream_consumers (key_id, grp, name, seen) \
                     SELECT ?1, grp, name, seen FROM stream_consumers WHERE key_id = ?2",
                    "INSERT INTO stream_pel (key_id, grp, ms, seq, consumer, delivered, count) \
                     SELECT ?1, grp, ms, seq, consumer, delivered, count FROM stream_pel WHERE key_id = ?2",
                ],
            ),
            KeyType::String => (&[], &[]),
        }
    }
}

/// A live key's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: i64,
    pub ktype: KeyType,
    /// Unix ms, or None without a TTL.
    pub expire_at: Option<i64>,
    /// Bytes for a string, elements for a collection.
    pub len: i64,
}

/// One SCAN step: the next cursor (0 when done) and the keys found.
#[derive(Debug, Default)]
pub struct ScanPage {
    pub cursor: u64,
    pub keys: Vec<Vec<u8>>,
}

/// What a write does to the key's TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Keep whatever TTL the key had (KEEPTTL, APPEND, INCR...).
    Keep,
    /// Remove the TTL (a plain SET).
    Clear,
    /// Expire at this unix ms.
    At(i64),
}

fn row_to_info(id: i64, code: i64, expire_at: Option<i64>, len: i64) -> StoreResult<KeyInfo> {
    let ktype = KeyType::from_code(code)
        .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(3, code)))?;
    Ok(KeyInfo {
        id,
        ktype,
        expire_at,
        len,
    })
}

impl Store {
    /// Hints that `keys` of `db` are looked up next (a pipelined batch's
    /// keys). A key-cache hit is two cache misses, the table's place and
    /// then its entry: a quarter of a GET at `-P 16`, one miss after the
    /// other. Loading every place first, then every entry, lets the
    /// batch's misses overlap. A wrong guess costs one wasted load.
    pub fn prefetch_keys<'a>(&self, db: usize, keys: impl Iterator<Item = &'a [u8]> + Clone) {
        let slot = self.slot_u8(db);
        for key in keys.clone() {
            self.key_cache.prefetch_places(slot, key);
        }
        for key in keys {
            self.key_cache.prefetch_entries(slot, key);
        }
    }

    /// The live key `key` in `db`, or None. An expired key found here is
    /// deleted (and reported by [`Store::take_events`]), as Redis does on access.
    pub fn lookup(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<KeyInfo>> {
        let slot = self.slot_u8(db);
        let info = match self.key_cache.get(slot, key) {
            Some(Cached::Row(row)) => row.info,
            Some(Cached::Absent) => return Ok(None),
            None => {
                let row = self
                    .stmt("SELECT id, type, expire_at, len FROM keys WHERE db = ?1 AND key = ?2")?
                    .query_row(params![slot, key], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get(2)?,
                            r.get(3)?,
                        ))
                    })
                    .optional()?;
                let Some((id, code, expire_at, len)) = row else {
                    self.key_cache.put_absent(slot, key);
                    return Ok(None);
                };
                let info = row_to_info(id, code, expire_at, len)?;
                self.key_cache.put(slot, key, info, None);
                info
            }
        };
        if self.is_expired(&info) {
            self.expire_now(db, key, &info)?;
            return Ok(None);
        }
        Ok(Some(info))
    }

    /// Whether `key` is live in `db`, without the side effects of
    /// [`Store::lookup`] (an expired key stays until something touches it).
    pub fn is_live(&mut self, db: usize, key: &[u8]) -> StoreResult<bool> {
        let slot = self.slot(db);
        let expire_at: Option<Option<i64>> = self
            .stmt("SELECT expire_at FROM keys WHERE db = ?1 AND key = ?2")?
            .query_row(params![slot, key], |r| r.get(0))
            .optional()?;
        Ok(matches!(expire_at, Some(at) if at.is_none_or(|at| at > self.now)))
    }

    pub(crate) fn is_expired(&self, info: &KeyInfo) -> bool {
        info.expire_at.is_some_and(|at| at <= self.now)
    }

    /// Removes a key whose TTL has passed and records the event.
    pub(crate) fn expire_now(&mut self, db: usize, key: &[u8], info: &KeyInfo) -> StoreResult<()> {
        if self.read_only {
            // A replica hides the key; its removal comes through the log.
            return Ok(());
        }
        self.remove(db, key, info)?;
        self.push_event(crate::StoreEvent::Expired {
            db,
            key: key.to_vec(),
        });
        Ok(())
    }

    /// The physical slot holding logical database `db` (see SWAPDB).
    pub(crate) fn slot(&self, db: usize) -> i64 {
        self.db_slots[db] as i64
    }

    /// [`Self::slot`] as the `u8` the key cache and held rows file keys
    /// under.
    pub(crate) fn slot_u8(&self, db: usize) -> u8 {
        self.db_slots[db]
    }

    /// Inserts a new key row (with a string value, or None for collections)
    /// and returns its id. The caller writes a collection's elements.
    pub(crate) fn insert_key(
        &mut self,
        db: usize,
        key: &[u8],
        ktype: KeyType,
        expire_at: Option<i64>,
        len: i64,
        string: Option<(&[u8], u8)>,
    ) -> StoreResult<i64> {
        let id = self.insert_row(db, key, ktype, expire_at, len, string)?;
        self.push_event(crate::StoreEvent::New {
            db,
            key: key.to_vec(),
        });
        Ok(id)
    }

    /// [`Store::insert_key`] without the `new` event: the row replaces a
    /// key that was just removed (an overwrite, for Redis).
    fn insert_row(
        &mut self,
        db: usize,
        key: &[u8],
        ktype: KeyType,
        expire_at: Option<i64>,
        len: i64,
        string: Option<(&[u8], u8)>,
    ) -> StoreResult<i64> {
        let id = self.next_id;
        self.record(Op::Insert {
            db: db as u8,
            key: key.to_vec(),
            id,
            ktype,
            expire_at,
            len,
            value: string.map(|(v, _)| v.to_vec()),
            enc: string.map_or(0, |(_, e)| e),
        })?;
        Ok(id)
    }

    /// Replaces whatever `key` holds (any type, TTL dropped) with an empty
    /// `ktype` key for the caller to fill, as Redis's setKey does for the
    /// *STORE commands: a `new` event only when no live key was there.
    /// Returns the new key and whether one was replaced.
    pub fn create_replacing(
        &mut self,
        db: usize,
        key: &[u8],
        ktype: KeyType,
    ) -> StoreResult<(KeyInfo, bool)> {
        let existed = self.delete(db, key)?;
        let id = if existed {
            self.insert_row(db, key, ktype, None, 0, None)?
        } else {
            self.insert_key(db, key, ktype, None, 0, None)?
        };
        let info = KeyInfo {
            id,
            ktype,
            expire_at: None,
            len: 0,
        };
        Ok((info, existed))
    }

    /// Updates a live key's length, TTL and (for strings) value.
    pub(crate) fn update_key(
        &mut self,
        db: usize,
        key: &[u8],
        info: &KeyInfo,
        len: i64,
        ttl: Ttl,
        string: Option<(&[u8], u8)>,
    ) -> StoreResult<()> {
        let expire_at = match ttl {
            Ttl::Keep => info.expire_at,
            Ttl::Clear => None,
            Ttl::At(ms) => Some(ms),
        };
        self.record(Op::Update {
            db: db as u8,
            key: key.to_vec(),
            had_expire: info.expire_at.is_some(),
            len,
            expire_at,
            value: string.map(|(v, _)| v.to_vec()),
            enc: string.map_or(0, |(_, e)| e),
        })
    }

    fn adjust_expire_count(&mut self, db: usize, before: bool, after: bool) {
        match (before, after) {
            (false, true) => self.expire_counts[db] += 1,
            (true, false) => self.expire_counts[db] -= 1,
            _ => {}
        }
    }

    /// Deletes a key row and its data.
    pub(crate) fn remove(&mut self, db: usize, key: &[u8], info: &KeyInfo) -> StoreResult<()> {
        self.record(Op::Remove {
            db: db as u8,
            key: key.to_vec(),
            id: info.id,
            ktype: info.ktype,
            had_expire: info.expire_at.is_some(),
        })?;
        self.stream_gone(db, key, info);
        Ok(())
    }

    /// Reports a stream key that is no longer there.
    fn stream_gone(&mut self, db: usize, key: &[u8], info: &KeyInfo) {
        if info.ktype == KeyType::Stream {
            self.push_event(crate::StoreEvent::StreamGone {
                db,
                key: key.to_vec(),
            });
        }
    }

    /// DEL: true when a live key was removed.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> StoreResult<bool> {
        match self.lookup(db, key)? {
            Some(info) => {
                self.remove(db, key, &info)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Sets or clears a live key's TTL. An expiry time already past deletes
    /// the key, as Redis does. Returns false when there is no such key.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at: Option<i64>) -> StoreResult<bool> {
        let Some(info) = self.lookup(db, key)? else {
            return Ok(false);
        };
        match at {
            Some(ms) if ms <= self.now => self.remove(db, key, &info)?,
            _ => self.record(Op::SetExpire {
                db: db as u8,
                key: key.to_vec(),
                had_expire: info.expire_at.is_some(),
                at,
            })?,
        }
        Ok(true)
    }

    /// Renames a live key, keeping its TTL and id; replaces `dst` unless `nx`.
    /// Returns None when `src` does not exist, Some(false) when `nx` and `dst`
    /// exists, Some(true) when renamed.
    pub fn rename(
        &mut self,
        db: usize,
        src: &[u8],
        dst: &[u8],
        nx: bool,
    ) -> StoreResult<Option<bool>> {
        let Some(info) = self.lookup(db, src)? else {
            return Ok(None);
        };
        if src == dst {
            return Ok(Some(!nx));
        }
        if let Some(existing) = self.lookup(db, dst)? {
            if nx {
                return Ok(Some(false));
            }
            self.remove(db, dst, &existing)?;
        }
        self.record(Op::Rename {
            db: db as u8,
            src: src.to_vec(),
            dst: dst.to_vec(),
        })?;
        self.stream_gone(db, src, &info);
        self.push_event(crate::StoreEvent::New {
            db,
            key: dst.to_vec(),
        });
        Ok(Some(true))
    }

    /// MOVE: moves a live key to another database unless a key of that name
    /// exists there. Returns whether it moved.
    pub fn move_key(&mut self, db: usize, key: &[u8], dst_db: usize) -> StoreResult<bool> {
        let Some(info) = self.lookup(db, key)? else {
            return Ok(false);
        };
        if self.lookup(dst_db, key)?.is_some() {
            return Ok(false);
        }
        self.record(Op::Move {
            db: db as u8,
            key: key.to_vec(),
            dst_db: dst_db as u8,
            had_expire: info.expire_at.is_some(),
        })?;
        self.stream_gone(db, key, &info);
        self.push_event(crate::StoreEvent::New {
            db: dst_db,
            key: key.to_vec(),
        });
        Ok(true)
    }

    /// COPY: duplicates a live key (data and TTL). Returns false when the
    /// source is missing, or the destination exists and `replace` is false.
    pub fn copy_key(
        &mut self,
        db: usize,
        src: &[u8],
        dst_db: usize,
        dst: &[u8],
        replace: bool,
    ) -> StoreResult<bool> {
        let Some(info) = self.lookup(db, src)? else {
            return Ok(false);
        };
        if let Some(existing) = self.lookup(dst_db, dst)? {
            if !replace {
                return Ok(false);
            }
            self.remove(dst_db, dst, &existing)?;
        }
        let (value, enc) = self.raw_value(db, src)?;
        let new_id = self.insert_key(
            dst_db,
            dst,
            info.ktype,
            info.expire_at,
            info.len,
            value.as_deref().map(|v| (v, enc)),
        )?;
        if info.ktype != KeyType::String {
            self.record(Op::CopyData {
                ktype: info.ktype,
                from_id: info.id,
                to_id: new_id,
            })?;
        }
        Ok(true)
    }

    /// One step of SCAN over `db`. The cursor is the last key id examined:
    /// ids of live keys never change and new keys get larger ids, so a key
    /// present for the whole iteration is returned exactly once.
    pub fn scan(
        &mut self,
        db: usize,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        ktype: Option<KeyType>,
    ) -> StoreResult<ScanPage> {
        let limit = count.max(1) as i64;
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        let slot = self.slot(db);
        let mut stmt = self.stmt(
            "SELECT id, key, type, expire_at FROM keys WHERE db = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![slot, after, limit])?;
        let mut page = ScanPage::default();
        let mut seen = 0;
        let mut last = 0i64;
        while let Some(r) = rows.next()? {
            seen += 1;
            last = r.get(0)?;
            let expire_at: Option<i64> = r.get(3)?;
            if expire_at.is_some_and(|at| at <= self.now) {
                continue;
            }
            if let Some(t) = ktype {
                if r.get::<_, i64>(2)? != t as i64 {
                    continue;
                }
            }
            let key: Vec<u8> = r.get(1)?;
            if pattern.is_some_and(|p| !glob_match(p, &key, false)) {
                continue;
            }
            page.keys.push(key);
        }
        page.cursor = if seen == limit { last as u64 } else { 0 };
        Ok(page)
    }

    /// KEYS: every live key in `db` matching `pattern`. A pattern with a
    /// literal prefix reads only that range of the primary key.
    pub fn keys_matching(&mut self, db: usize, pattern: &[u8]) -> StoreResult<Vec<Vec<u8>>> {
        let prefix = literal_prefix(pattern);
        let upper = prefix_successor(&prefix);
        let slot = self.slot(db);
        let now = self.now;
        let mut out = Vec::new();
        let mut stmt = self.stmt(
            "SELECT key, expire_at FROM keys WHERE db = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3)",
        )?;
        let mut rows = stmt.query(params![slot, prefix, upper])?;
        while let Some(r) = rows.next()? {
            let key: Vec<u8> = r.get(0)?;
            let expire_at: Option<i64> = r.get(1)?;
            let all = pattern == b"*";
            if expire_at.is_none_or(|at| at > now) && (all || glob_match(pattern, &key, false)) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// RANDOMKEY: a live key of `db` picked at random, or None.
    pub fn random_key(&mut self, db: usize) -> StoreResult<Option<Vec<u8>>> {
        let slot = self.slot(db);
        for _ in 0..100 {
            let bounds: (Option<i64>, Option<i64>) = self
                .stmt("SELECT min(id), max(id) FROM keys WHERE db = ?1")?
                .query_row([slot], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let (Some(lo), Some(hi)) = bounds else {
                return Ok(None);
            };
            let pick = rand::Rng::gen_range(&mut rand::thread_rng(), lo..=hi);
            let row = self
                .stmt("SELECT key FROM keys WHERE db = ?1 AND id >= ?2 ORDER BY id LIMIT 1")?
                .query_row(params![slot, pick], |r| r.get::<_, Vec<u8>>(0))
                .optional()?;
            if let Some(key) = row {
                // lookup() removes the key if it turns out to be expired.
                if self.lookup(db, &key)?.is_some() {
                    return Ok(Some(key));
                }
            }
        }
        Ok(None)
    }

    /// FLUSHDB: removes every key of `db`. Returns how many were removed.
    pub fn flush_db(&mut self, db: usize) -> StoreResult<i64> {
        let n = self.key_counts[db];
        self.record(Op::FlushDb { db: db as u8 })?;
        Ok(n)
    }

    /// FLUSHALL: removes every key of every database.
    pub fn flush_all(&mut self) -> StoreResult<()> {
        self.record(Op::FlushAll)
    }

    /// SWAPDB: exchanges two databases by swapping which physical slot each
    /// logical number names. O(1), as in Redis.
    pub fn swap_db(&mut self, a: usize, b: usize) -> StoreResult<()> {
        if a == b {
            return Ok(());
        }
        self.record(Op::SwapDb {
            a: a as u8,
            b: b as u8,
        })
    }

    /// Carries out one change: the SQL and the in-memory counters. Used both
    /// for new changes (after journaling them) and for replay.
    pub(crate) fn apply(&mut self, op: &Op) -> StoreResult<()> {
        let applied = self.apply_sql(op);
        match applied {
            Ok(()) => {
                let slots = self.db_slots;
                self.key_cache.note(op, |db| slots[db as usize]);
                self.list_ends.note(op);
                self.list_heads.note(op);
                self.list_pops.note(op);
            }
            // Part of the change may have been made: trust SQLite alone.
            Err(_) => self.forget_remembered(),
        }
        applied
    }

    /// The SQL and the in-memory counters of [`Store::apply`].
    fn apply_sql(&mut self, op: &Op) -> StoreResult<()> {
        match op {
            Op::Insert {
                db,
                key,
                id,
                ktype,
                expire_at,
                len,
                value,
                enc,
            } => {
                let db = *db as usize;
                self.stmt(
                        "INSERT INTO keys (db, key, id, type, expire_at, len, value, enc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![self.slot(db), key, id, *ktype as i64, expire_at, len, value, enc ])?;
                self.next_id = self.next_id.max(id + 1);
                self.key_counts[db] += 1;
                if expire_at.is_some() {
                    self.expire_counts[db] += 1;
                }
            }
            Op::Update {
                db,
                key,
                had_expire,
                len,
                expire_at,
                value,
                enc,
            } => {
                let db = *db as usize;
                if *enc == 0 && self.in_tx {
                    // A collection's length or a stream's metadata: written
                    // later (heldrows.rs). Only inside a transaction: without
                    // one every statement commits on its own and nothing
                    // would write the row.
                    let held = heldrows::Held {
                        len: *len,
                        expire_at: *expire_at,
                        value: value.clone(),
                    };
                    let slot = self.slot_u8(db);
                    self.held_rows.get_mut().hold(slot, key, held);
                } else {
                    self.stmt(
                        "UPDATE keys SET len = ?3, expire_at = ?4, value = ?5, enc = ?6, version = version + 1
                         WHERE db = ?1 AND key = ?2",
                    )?
                    .execute(params![self.slot(db), key, len, expire_at, value, enc])?;
                }
                self.adjust_expire_count(db, *had_expire, expire_at.is_some());
            }
            Op::Remove {
                db,
                key,
                id,
                ktype,
                had_expire,
            } => {
                let db = *db as usize;
                // Its held row and node would only be written to be deleted.
                let slot = self.slot_u8(db);
                self.held_rows.get_mut().forget(slot, key);
                if *ktype == KeyType::Stream {
                    self.held_nodes.get_mut().take(*id);
                }
                let (delete_sql, _) = ktype.data_sql();
                for sql in delete_sql {
                    self.stmt(sql)?.execute([id])?;
                }
                self.stmt("DELETE FROM keys WHERE db = ?1 AND key = ?2")?
                    .execute(params![self.slot(db), key])?;
                self.key_counts[db] -= 1;
                if *had_expire {
                    self.expire_counts[db] -= 1;
                }
            }
            Op::SetExpire {
                db,
                key,
                had_expire,
                at,
            } => {
                let db = *db as usize;
                self.stmt(
                        "UPDATE keys SET expire_at = ?3, version = version + 1 WHERE db = ?1 AND key = ?2",
                    )?
                    .execute(params![self.slot(db), key, at])?;
                self.adjust_expire_count(db, *had_expire, at.is_some());
            }
            Op::Rename { db, src, dst } => {
                self.stmt(
                    "UPDATE keys SET key = ?3, version = version + 1 WHERE db = ?1 AND key = ?2",
                )?
                .execute(params![self.slot(*db as usize), src, dst])?;
            }
            Op::Move {
                db,
                key,
                dst_db,
                had_expire,
            } => {
                let (db, dst_db) = (*db as usize, *dst_db as usize);
                self.stmt(
                    "UPDATE keys SET db = ?3, version = version + 1 WHERE db = ?1 AND key = ?2",
                )?
                .execute(params![self.slot(db), key, self.slot(dst_db)])?;
                self.key_counts[db] -= 1;
                self.key_counts[dst_db] += 1;
                if *had_expire {
                    self.expire_counts[db] -= 1;
                    self.expire_counts[dst_db] += 1;
                }
            }
            Op::CopyData {
                ktype,
                from_id,
                to_id,
            } => {
                let (_, copy_sql) = ktype.data_sql();
                for sql in copy_sql {
                    self.stmt(sql)?.execute(params![to_id, from_id])?;
                }
            }
            Op::FlushDb { db } => {
                let db = *db as usize;
                let (slot, held_slot) = (self.slot(db), self.slot_u8(db));
                self.held_rows.get_mut().forget_slot(held_slot);
                for table in COLLECTION_TYPES.iter().flat_map(|t| t.tables()) {
                    self.stmt_built(&format!(
                        "DELETE FROM {table} WHERE key_id IN (SELECT id FROM keys WHERE db = ?1)"
                    ))?
                    .execute([slot])?;
                }
                self.stmt("DELETE FROM keys WHERE db = ?1")?
                    .execute([slot])?;
                self.key_counts[db] = 0;
                self.expire_counts[db] = 0;
            }
            Op::FlushAll => {
                self.held_rows.get_mut().clear();
                self.held_nodes.get_mut().clear();
                for table in COLLECTION_TYPES.iter().flat_map(|t| t.tables()) {
                    self.stmt_built(&format!("DELETE FROM {table}"))?
                        .execute([])?;
                }
                self.stmt("DELETE FROM keys")?.execute([])?;
                self.key_counts = [0; DATABASES];
                self.expire_counts = [0; DATABASES];
            }
            Op::HashPut { id, field, value } => {
                self.stmt(
                    "INSERT OR REPLACE INTO hashes (key_id, field, value) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, field, value])?;
            }
            Op::SetAdd { id, member } => {
                self.stmt("INSERT OR IGNORE INTO sets (key_id, member) VALUES (?1, ?2)")?
                    .execute(params![id, member])?;
            }
            Op::ZPut { id, member, score } => {
                self.stmt(
                    "INSERT OR REPLACE INTO zsets (key_id, member, score) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, member, score])?;
            }
            Op::ListPut { id, pos, value } => {
                self.stmt("INSERT OR REPLACE INTO lists (key_id, pos, value) VALUES (?1, ?2, ?3)")?
                    .execute(params![id, pos, value])?;
            }
            Op::ElemDel { ktype, id, elem } => {
                let sql = match ktype {
                    KeyType::Hash => "DELETE FROM hashes WHERE key_id = ?1 AND field = ?2",
                    KeyType::Set => "DELETE FROM sets WHERE key_id = ?1 AND member = ?2",
                    KeyType::ZSet => "DELETE FROM zsets WHERE key_id = ?1 AND member = ?2",
                    _ => {
                        return Err(StoreError::Corrupt(
                            "element delete on a type without elements",
                        ))
                    }
                };
                self.stmt(sql)?.execute(params![id, elem])?;
            }
            Op::ListDelRange { id, from, to } => {
                match self.list_pops.pops_next(*id, *from, *to) {
                    // A pop of rows read ahead: deleted later (listpops.rs).
                    Some(end) if self.in_tx => self.held_pops.get_mut().hold(*id, end, *from, *to),
                    _ => {
                        self.stmt(crate::listpops::DELETE_SQL)?
                            .execute(params![id, from, to])?;
                    }
                }
            }
            Op::Barrier => {}
            Op::SetFunctions { codes } => self.apply_set_functions(codes)?,
            Op::StreamAdd { .. }
            | Op::StreamDelRange { .. }
            | Op::StreamNodePut { .. }
            | Op::StreamNodeDel { .. }
            | Op::StreamGroupPut { .. }
            | Op::StreamGroupDel { .. }
            | Op::StreamConsumerPut { .. }
            | Op::StreamConsumerDel { .. }
            | Op::StreamPelPut { .. }
            | Op::StreamPelDel { .. }
            | Op::StreamMeta { .. } => self.apply_stream(op)?,
            Op::SwapDb { a, b } => {
                let (a, b) = (*a as usize, *b as usize);
                self.db_slots.swap(a, b);
                self.key_counts.swap(a, b);
                self.expire_counts.swap(a, b);
                let map: Vec<String> = self.db_slots.iter().map(|s| s.to_string()).collect();
                self.stmt(
                    "INSERT OR REPLACE INTO ferry_meta (name, value) VALUES ('db_slots', ?1)",
                )?
                .execute([map.join(",")])?;
            }
        }
        Ok(())
    }

    /// Removes up to `limit` expired keys, oldest expiry first. Returns how
    /// many were removed; they are reported by [`Store::take_events`].
    pub fn sweep_expired(&mut self, limit: usize) -> StoreResult<usize> {
        // No key has a TTL (the counts follow every write and are recounted
        // on open and rollback): skip the query, which runs ten times a
        // second and would write the held key rows before their commit.
        if self.expire_counts.iter().all(|&n| n == 0) {
            return Ok(0);
        }
        let due: Vec<DueRow> = {
            let mut stmt = self.stmt(
                "SELECT db, key, id, type, expire_at, len FROM keys
                 WHERE expire_at IS NOT NULL AND expire_at <= ?1 ORDER BY expire_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![self.now, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let n = due.len();
        for (slot, key, id, code, expire_at, len) in due {
            let info = row_to_info(id, code, expire_at, len)?;
            let Some(db) = self.db_slots.iter().position(|s| *s as i64 == slot) else {
                continue;
            };
            self.expire_now(db, &key, &info)?;
        }
        Ok(n)
    }
}

/// Types whose elements live in their own tables.
const COLLECTION_TYPES: &[KeyType] = &[
    KeyType::List,
    KeyType::Set,
    KeyType::ZSet,
    KeyType::Hash,
    KeyType::Stream,
];

impl KeyType {
    /// The tables holding a collection type's data.
    fn tables(self) -> &'static [&'static str] {
        match self {
            KeyType::String => &[],
            KeyType::List => &["lists"],
            KeyType::Set => &["sets"],
            KeyType::ZSet => &["zsets"],
            KeyType::Hash => &["hashes"],
            KeyType::Stream => &[
                "stream_entries",
                "stream_nodes",
                "stream_groups",
                "stream_consumers",
                "stream_pel",
            ],
        }
    }
}

/// An expired key found by the sweep: slot, key, id, type, expiry, length.
type DueRow = (i64, Vec<u8>, i64, i64, Option<i64>, i64);

/// The smallest byte string greater than every string starting with `prefix`,
/// or None when there is none (a prefix of only 0xFF bytes).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}
