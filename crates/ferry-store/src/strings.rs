//! String values, stored inline in the key row (`keys.value`).

use crate::keycache::{Cached, Row as CachedRow};
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
    /// What Redis's `tryObjectEncoding` picks for a value written whole
    /// (SET, MSET, GETSET, APPEND to a new key...).
    pub fn of(value: &[u8]) -> StringEncoding {
        if value.len() <= 20 && parse_canonical_i64(value).is_some() {
            StringEncoding::Int
        } else if value.len() <= 44 {
            StringEncoding::Embstr
        } else {
            StringEncoding::Raw
        }
    }

    /// What Redis gives a value built without `tryObjectEncoding`
    /// (INCRBYFLOAT's result): embstr when short, raw otherwise.
    pub fn by_length(value: &[u8]) -> StringEncoding {
        if value.len() <= 44 {
            StringEncoding::Embstr
        } else {
            StringEncoding::Raw
        }
    }

    fn code(self) -> u8 {
        match self {
            StringEncoding::Int => 1,
            StringEncoding::Embstr => 2,
            StringEncoding::Raw => 3,
        }
    }

    fn from_code(code: u8, value: &[u8]) -> StringEncoding {
        match code {
            1 => StringEncoding::Int,
            2 => StringEncoding::Embstr,
            3 => StringEncoding::Raw,
            _ => StringEncoding::of(value),
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

type Row = (i64, i64, Option<i64>, i64, Option<Vec<u8>>);

impl Store {
    /// The live key with its value when it is a string (None for other
    /// types), in one b-tree descent. Expired keys are removed and read as
    /// missing.
    pub fn lookup_with_value(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> StoreResult<Option<(KeyInfo, Option<Vec<u8>>)>> {
        Ok(self.lookup_raw(db, key)?.map(|(info, value)| {
            let value = (info.ktype == KeyType::String).then(|| value.unwrap_or_default());
            (info, value)
        }))
    }

    /// The live key with its `value` column as stored (a string's value, a
    /// stream's metadata), in one b-tree descent.
    pub(crate) fn lookup_raw(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> StoreResult<Option<(KeyInfo, Option<Vec<u8>>)>> {
        let slot = self.slot_u8(db);
        let (info, value) = match self.key_cache.get(slot, key) {
            Some(Cached::Row(CachedRow {
                info,
                value: Some(value),
            })) => (info, value.map(<[u8]>::to_vec)),
            Some(Cached::Absent) => return Ok(None),
            _ => {
                let row: Option<Row> = self.stmt(
                        "SELECT id, type, expire_at, len, value FROM keys WHERE db = ?1 AND key = ?2",
                    )?
                    .query_row(params![slot, key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?;
                let Some((id, code, expire_at, len, value)) = row else {
                    self.key_cache.put_absent(slot, key);
                    return Ok(None);
                };
                let ktype =
                    KeyType::from_code(code).ok_or(StoreError::Corrupt("unknown key type"))?;
                let info = KeyInfo {
                    id,
                    ktype,
                    expire_at,
                    len,
                };
                self.key_cache.put(slot, key, info, Some(value.as_deref()));
                (info, value)
            }
        };
        if self.is_expired(&info) {
            self.expire_now(db, key, &info)?;
            return Ok(None);
        }
        Ok(Some((info, value)))
    }

    /// A live string key's row and value; WRONGTYPE for other types.
    pub fn lookup_string(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> StoreResult<Option<(KeyInfo, Vec<u8>)>> {
        match self.lookup_with_value(db, key)? {
            None => Ok(None),
            Some((info, Some(v))) => Ok(Some((info, v))),
            Some(_) => Err(StoreError::WrongType),
        }
    }

    /// GET: the value of a live string key.
    pub fn get_string(&mut self, db: usize, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.lookup_string(db, key)?.map(|(_, v)| v))
    }

    /// Writes a string value, replacing whatever the key held (any type).
    /// `existing` is the key's live row when the caller already looked it up.
    pub fn put_string(
        &mut self,
        db: usize,
        key: &[u8],
        value: &[u8],
        ttl: Ttl,
        existing: Option<KeyInfo>,
    ) -> StoreResult<()> {
        let enc = StringEncoding::of(value);
        self.put_string_as(db, key, value, ttl, existing, enc)
    }

    /// [`Store::put_string`] with the encoding OBJECT ENCODING will report.
    pub fn put_string_as(
        &mut self,
        db: usize,
        key: &[u8],
        value: &[u8],
        ttl: Ttl,
        existing: Option<KeyInfo>,
        enc: StringEncoding,
    ) -> StoreResult<()> {
        let len = value.len() as i64;
        let code = enc.code();
        match existing {
            None => {
                let expire_at = match ttl {
                    Ttl::At(ms) => Some(ms),
                    Ttl::Keep | Ttl::Clear => None,
                };
                self.insert_key(
                    db,
                    key,
                    KeyType::String,
                    expire_at,
                    len,
                    Some((value, code)),
                )?;
            }
            Some(info) if info.ktype == KeyType::String => {
                self.update_key(db, key, &info, len, ttl, Some((value, code)))?;
            }
            Some(info) => {
                // Another type: drop it and write a fresh string key.
                self.remove(db, key, &info)?;
                let ttl = match (ttl, info.expire_at) {
                    (Ttl::Keep, Some(ms)) => Ttl::At(ms),
                    (Ttl::Keep, None) => Ttl::Clear,
                    (other, _) => other,
                };
                return self.put_string_as(db, key, value, ttl, None, enc);
            }
        }
        Ok(())
    }

    /// The inline value of a key row (a string's bytes; None otherwise) and
    /// its encoding code.
    pub(crate) fn raw_value(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> StoreResult<(Option<Vec<u8>>, u8)> {
        Ok(self
            .stmt("SELECT value, enc FROM keys WHERE db = ?1 AND key = ?2")?
            .query_row(params![self.slot(db), key], |r| {
                Ok((r.get(0)?, r.get::<_, Option<u8>>(1)?.unwrap_or(0)))
            })
            .optional()?
            .unwrap_or((None, 0)))
    }

    /// The encoding OBJECT ENCODING reports for a live string key.
    pub fn string_encoding(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> StoreResult<Option<StringEncoding>> {
        Ok(match self.raw_value(db, key)? {
            (Some(v), code) => Some(StringEncoding::from_code(code, &v)),
            (None, _) => None,
        })
    }
}
