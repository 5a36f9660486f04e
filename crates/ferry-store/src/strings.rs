//! String values: the `strings` table.

use crate::keyspace::{KeyInfo, KeyType, Ttl};
use crate::{Store, StoreError, StoreResult};
use rusqlite::{params, OptionalExtension};

/// What OBJECT ENCODING reports for a string, derived from its bytes as
/// Redis would have encoded it when it was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringEncoding {
    Int,
    Embstr,
    Raw,
}

impl StringEncoding {
    pub fn of(value: &[u8]) -> StringEncoding {
        if value.len() <= 20 && parse_canonical_i64(value).is_some() {
            StringEncoding::Int
        } else if value.len() <= 44 {
            StringEncoding::Embstr
        } else {
            StringEncoding::Raw
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StringEncoding::Int => "int",
            StringEncoding::Embstr => "embstr",
            StringEncoding::Raw => "raw",
        }
    }
}

/// An i64 written the one way Redis writes it (no `+`, no leading zeros,
/// no spaces), as `string2ll` accepts.
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || !digits.bytes().all(|c| c.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || s == "-0"
    {
        return None;
    }
    s.parse().ok()
}

impl Store {
    /// GET: the value of a live string key. One indexed join, the hot path.
    pub fn get_string(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT k.type, k.expire_at, s.value FROM keys k
                 LEFT JOIN strings s ON s.key_id = k.id WHERE k.db = ?1 AND k.key = ?2",
            )?
            .query_row(params![db as i64, key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                ))
            })
            .optional()?;
        match row {
            None => Ok(None),
            Some((_, Some(at), _)) if at <= self.now => {
                // Let lookup() do the lazy delete and bookkeeping.
                self.lookup(db, key)?;
                Ok(None)
            }
            Some((code, _, value)) if code == KeyType::String as i64 => {
                Ok(Some(value.unwrap_or_default()))
            }
            Some(_) => Err(StoreError::WrongType),
        }
    }

    /// Writes a string value, replacing whatever the key held (any type).
    /// `existing` is the key's current row when the caller already looked
    /// it up (saves a lookup on the hot path).
    pub fn put_string(
        &mut self,
        db: usize,
        key: &[u8],
        value: &[u8],
        ttl: Ttl,
        existing: Option<KeyInfo>,
    ) -> StoreResult<()> {
        let len = value.len() as i64;
        match existing {
            None => {
                let expire_at = match ttl {
                    Ttl::At(ms) => Some(ms),
                    Ttl::Keep | Ttl::Clear => None,
                };
                let id = self.insert_key(db, key, KeyType::String, expire_at, len)?;
                self.conn
                    .prepare_cached("INSERT INTO strings (key_id, value) VALUES (?1, ?2)")?
                    .execute(params![id, value])?;
            }
            Some(info) if info.ktype == KeyType::String => {
                self.update_key(db, &info, len, ttl)?;
                self.conn
                    .prepare_cached("UPDATE strings SET value = ?2 WHERE key_id = ?1")?
                    .execute(params![info.id, value])?;
            }
            Some(info) => {
                // Another type: drop it and write a fresh string key.
                self.remove(db, &info)?;
                let keep = match ttl {
                    Ttl::Keep => Ttl::from_expire(info.expire_at),
                    other => other,
                };
                return self.put_string(db, key, value, keep, None);
            }
        }
        Ok(())
    }

    /// A string's value given its row (which must be a live string).
    pub fn string_value(&mut self, info: &KeyInfo) -> StoreResult<Vec<u8>> {
        if info.ktype != KeyType::String {
            return Err(StoreError::WrongType);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM strings WHERE key_id = ?1")?
            .query_row([info.id], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }
}

impl Ttl {
    fn from_expire(at: Option<i64>) -> Ttl {
        match at {
            Some(ms) => Ttl::At(ms),
            None => Ttl::Clear,
        }
    }
}
