//! A key's value as DUMP/RESTORE carry it: encoding to the object types
//! Redis 7.0 writes (RDB 10), and decoding every object type Redis 6.0 to
//! 7.2 writes (RDB 9 to 11).
//!
//! Encodings are chosen with Redis 7.0's default thresholds, so that a
//! value gets the encoding (and, where the element order is defined, the
//! bytes) redis-server would dump for it.

use crate::listpack::{self, ListpackWriter};
use crate::reader::Reader;
use crate::stream::{self, StreamValue};
use crate::writer::{write_length, write_string_rdb};
use crate::{intset, ziplist, RdbError};

/// RDB object type codes.
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// The name TYPE gives a value stored with object type `kind`.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            STRING => "string",
            LIST | LIST_ZIPLIST | LIST_QUICKLIST | LIST_QUICKLIST_2 => "list",
            SET | SET_INTSET | SET_LISTPACK => "set",
            ZSET | ZSET_2 | ZSET_ZIPLIST | ZSET_LISTPACK => "zset",
            HASH | HASH_ZIPMAP | HASH_ZIPLIST | HASH_LISTPACK => "hash",
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => "stream",
            _ => "module",
        }
    }
}

/// Redis 7.0's defaults for the compact encodings.
const HASH_MAX_LISTPACK_ENTRIES: usize = 512;
const HASH_MAX_LISTPACK_VALUE: usize = 64;
const ZSET_MAX_LISTPACK_ENTRIES: usize = 128;
const ZSET_MAX_LISTPACK_VALUE: usize = 64;
const SET_MAX_INTSET_ENTRIES: usize = 512;
/// `list-max-listpack-size -2`: quicklist nodes of at most 8 KiB.
const QUICKLIST_NODE_BYTES: usize = 8192;
/// What quicklist adds to an element's length to estimate its cost.
const QUICKLIST_ELEM_OVERHEAD: usize = 8;

/// A key's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Members with their scores, any order.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Fields with their values, in the order to write them.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<StreamValue>),
}

/// Settings that shape an encoding.
#[derive(Clone, Copy, Debug)]
pub struct EncodeOptions {
    /// `stream-node-max-bytes` (0: no limit).
    pub stream_node_max_bytes: u64,
    /// `stream-node-max-entries` (0: no limit).
    pub stream_node_max_entries: u64,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

/// A double as Redis 7.0's `d2string` prints it (`%.17g`, integers
/// below 2^52 plainly).
pub fn d2string(d: f64) -> String {
    if d.is_finite()
        && d != 0.0
        && d > -4503599627370495.0
        && d < 4503599627370496.0
        && d == (d as i64) as f64
    {
        return (d as i64).to_string();
    }
    ferry_resp::format_double(d)
}

/// A score as a sorted-set listpack holds it: an integer when the double
/// is one (within ±2^62), its `d2string` text otherwise.
fn push_score(w: &mut ListpackWriter, d: f64) {
    let limit = (i64::MAX / 2) as f64;
    if d >= -limit && d <= limit && d == (d as i64) as f64 {
        w.push_int(d as i64);
    } else {
        w.push_str(d2string(d).as_bytes());
    }
}

fn score_order(a: &(Vec<u8>, f64), b: &(Vec<u8>, f64)) -> std::cmp::Ordering {
    a.1.partial_cmp(&b.1)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then_with(|| a.0.cmp(&b.0))
}

/// The object type byte and the encoded object.
pub fn encode(value: &Value, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => {
            out.push(types::STRING);
            write_string_rdb(&mut out, s);
        }
        Value::List(items) => {
            out.push(types::LIST_QUICKLIST_2);
            let mut nodes: Vec<ListpackWriter> = Vec::new();
            for it in items {
                let fits = nodes.last().is_some_and(|n| {
                    n.bytes() + it.len() + QUICKLIST_ELEM_OVERHEAD <= QUICKLIST_NODE_BYTES
                });
                if !fits {
                    nodes.push(ListpackWriter::new());
                }
                if let Some(n) = nodes.last_mut() {
                    n.push_str(it);
                }
            }
            write_length(&mut out, nodes.len() as u64);
            for n in nodes {
                write_length(&mut out, 2); // a packed (listpack) node
                write_string_rdb(&mut out, &n.finish());
            }
        }
        Value::Set(members) => {
            let ints: Option<Vec<i64>> = members.iter().map(|m| listpack::parse_int(m)).collect();
            match ints {
                Some(ints) if members.len() <= SET_MAX_INTSET_ENTRIES => {
                    out.push(types::SET_INTSET);
                    write_string_rdb(&mut out, &intset::encode(&ints));
                }
                _ => {
                    out.push(types::SET);
                    write_length(&mut out, members.len() as u64);
                    for m in members {
                        write_string_rdb(&mut out, m);
                    }
                }
            }
        }
        Value::ZSet(entries) => {
            let mut sorted = entries.clone();
            sorted.sort_by(score_order);
            if sorted.len() <= ZSET_MAX_LISTPACK_ENTRIES
                && sorted
                    .iter()
                    .all(|(m, _)| m.len() <= ZSET_MAX_LISTPACK_VALUE)
            {
                out.push(types::ZSET_LISTPACK);
                let mut w = ListpackWriter::new();
                for (m, s) in &sorted {
                    w.push_str(m);
                    push_score(&mut w, *s);
                }
                write_string_rdb(&mut out, &w.finish());
            } else {
                // Redis walks its skiplist from the tail: highest first.
                out.push(types::ZSET_2);
                write_length(&mut out, sorted.len() as u64);
                for (m, s) in sorted.iter().rev() {
                    write_string_rdb(&mut out, m);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        Value::Hash(pairs) => {
            if pairs.len() <= HASH_MAX_LISTPACK_ENTRIES
                && pairs.iter().all(|(f, v)| {
                    f.len() <= HASH_MAX_LISTPACK_VALUE && v.len() <= HASH_MAX_LISTPACK_VALUE
                })
            {
                out.push(types::HASH_LISTPACK);
                let mut w = ListpackWriter::new();
                for (f, v) in pairs {
                    w.push_str(f);
                    w.push_str(v);
                }
                write_string_rdb(&mut out, &w.finish());
            } else {
                out.push(types::HASH);
                write_length(&mut out, pairs.len() as u64);
                for (f, v) in pairs {
                    write_string_rdb(&mut out, f);
                    write_string_rdb(&mut out, v);
                }
            }
        }
        Value::Stream(s) => {
            out.push(types::STREAM_LISTPACKS_2);
            stream::encode(&mut out, s, opts);
        }
    }
    out
}

/// A DUMP payload for `value`: the object, RDB version 10, CRC-64.
pub fn dump(value: &Value, opts: &EncodeOptions) -> Vec<u8> {
    crate::seal_payload(encode(value, opts))
}

/// Why a RESTORE payload is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// A newer RDB version than 11, or a wrong checksum.
    Payload,
    /// The object could not be read (or is a module or unknown type).
    Data,
}

/// The newest RDB version RESTORE reads (Redis 7.2's).
pub const RESTORE_MAX_VERSION: u16 = 11;

/// Checks a RESTORE payload and decodes its value. Bytes after the object
/// are ignored, as Redis does.
pub fn restore(payload: &[u8]) -> Result<Value, RestoreError> {
    crate::payload::open_payload_upto(payload, RESTORE_MAX_VERSION)
        .map_err(|_| RestoreError::Payload)?;
    // Redis reads the object from the whole payload: an object cut short
    // reads on into the footer, and is refused only if that fails too.
    decode(payload).map_err(|_| RestoreError::Data)
}

/// Decodes the type byte and object at the start of `data`.
pub fn decode(data: &[u8]) -> Result<Value, RdbError> {
    let mut r = Reader::new(data);
    let t = r.byte()?;
    decode_object(t, &mut r)
}

/// Reads past one object of type `t` (checking it decodes).
pub(crate) fn skip_object(t: u8, r: &mut Reader) -> Result<(), RdbError> {
    decode_object(t, r).map(|_| ())
}

/// A count read from the payload, checked against the bytes left (every
/// element takes at least `min_bytes`), so a hostile count cannot make
/// the decoder reserve or loop beyond the input.
fn count(r: &mut Reader, min_bytes: usize) -> Result<usize, RdbError> {
    let n = r.length()?;
    let n = usize::try_from(n).map_err(|_| RdbError::BadData)?;
    if n.checked_mul(min_bytes).is_none_or(|b| b > r.remaining()) {
        return Err(RdbError::BadData);
    }
    Ok(n)
}

fn nonempty<T>(v: Vec<T>) -> Result<Vec<T>, RdbError> {
    if v.is_empty() {
        Err(RdbError::BadData)
    } else {
        Ok(v)
    }
}

/// A hash's (field, value) pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(flat: Vec<Vec<u8>>) -> Result<Pairs, RdbError> {
    if !flat.len().is_multiple_of(2) {
        return Err(RdbError::BadData);
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn parse_score(s: &[u8]) -> Result<f64, RdbError> {
    let text = std::str::from_utf8(s).map_err(|_| RdbError::BadData)?;
    let v = match text {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => text.parse::<f64>().map_err(|_| RdbError::BadData)?,
    };
    if v.is_nan() {
        return Err(RdbError::BadData);
    }
    Ok(v)
}

fn zpairs(flat: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>, RdbError> {
    pairs(flat)?
        .into_iter()
        .map(|(m, s)| Ok((m, parse_score(&s)?)))
        .collect()
}

/// The old ZSET score form: a length byte (253 nan, 254 +inf, 255 -inf)
/// and that many ASCII characters.
fn old_double(r: &mut Reader) -> Result<f64, RdbError> {
    match r.byte()? {
        253 => Err(RdbError::BadData),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => parse_score(r.take(n as usize)?),
    }
}

fn binary_double(r: &mut Reader) -> Result<f64, RdbError> {
    let b = r.take(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    let v = f64::from_le_bytes(a);
    if v.is_nan() {
        return Err(RdbError::BadData);
    }
    Ok(v)
}

fn decode_object(t: u8, r: &mut Reader) -> Result<Value, RdbError> {
    use types::*;
    Ok(match t {
        STRING => Value::String(r.string()?),
        LIST => {
            let n = count(r, 1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(r.string()?);
            }
            Value::List(nonempty(v)?)
        }
        SET => {
            let n = count(r, 1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(r.string()?);
            }
            Value::Set(nonempty(v)?)
        }
        ZSET | ZSET_2 => {
            let n = count(r, 2)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == ZSET {
                    old_double(r)?
                } else {
                    binary_double(r)?
                };
                v.push((m, s));
            }
            Value::ZSet(nonempty(v)?)
        }
        HASH => {
            let n = count(r, 2)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let f = r.string()?;
                v.push((f, r.string()?));
            }
            Value::Hash(nonempty(v)?)
        }
        LIST_ZIPLIST => Value::List(nonempty(ziplist::decode(&r.string()?)?)?),
        SET_INTSET => Value::Set(nonempty(
            intset::decode(&r.string()?)?
                .into_iter()
                .map(|i| i.to_string().into_bytes())
                .collect(),
        )?),
        SET_LISTPACK => Value::Set(nonempty(listpack::decode(&r.string()?)?)?),
        ZSET_ZIPLIST => Value::ZSet(nonempty(zpairs(ziplist::decode(&r.string()?)?)?)?),
        ZSET_LISTPACK => Value::ZSet(nonempty(zpairs(listpack::decode(&r.string()?)?)?)?),
        HASH_ZIPLIST => Value::Hash(nonempty(pairs(ziplist::decode(&r.string()?)?)?)?),
        HASH_LISTPACK => Value::Hash(nonempty(pairs(listpack::decode(&r.string()?)?)?)?),
        LIST_QUICKLIST | LIST_QUICKLIST_2 => {
            let n = count(r, 1)?;
            let mut v = Vec::new();
            for _ in 0..n {
                if t == LIST_QUICKLIST {
                    v.extend(ziplist::decode(&r.string()?)?);
                    continue;
                }
                match r.length()? {
                    1 => v.push(r.string()?),
                    2 => v.extend(listpack::decode(&r.string()?)?),
                    _ => return Err(RdbError::BadData),
                }
            }
            Value::List(nonempty(v)?)
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            let version = match t {
                STREAM_LISTPACKS => 1,
                STREAM_LISTPACKS_2 => 2,
                _ => 3,
            };
            Value::Stream(Box::new(stream::decode(r, version)?))
        }
        _ => return Err(RdbError::BadData),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_dump(hex: &[u8]) -> Vec<u8> {
        hex.to_vec()
    }

    #[test]
    fn same_bytes_as_redis_7_0() {
        // ZADD z 1e17 a 1.5 b -0 c 3 d; DUMP z on redis-server 7.0.15.
        let z = Value::ZSet(vec![
            (b"a".to_vec(), 1e17),
            (b"b".to_vec(), 1.5),
            (b"c".to_vec(), -0.0),
            (b"d".to_vec(), 3.0),
        ]);
        assert_eq!(
            dump(&z, &EncodeOptions::default()),
            redis_dump(b"\x11&&\x00\x00\x00\x08\x00\x81c\x02\x00\x01\x81b\x02\x831.5\x04\x81d\x02\x03\x01\x81a\x02\xf4\x00\x00\x8a]xEc\x01\t\xff\n\x00\x1dIZN\xd0\xc7\xfc\x9b")
        );
        // RPUSH l a b c 1 2 300
        let l = Value::List(
            ["a", "b", "c", "1", "2", "300"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
        );
        assert_eq!(
            dump(&l, &EncodeOptions::default()),
            redis_dump(b"\x12\x01\x02\x17\x17\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x81c\x02\x01\x01\x02\x01\xc1,\x02\xff\n\x00VP5\xa5v\xf9x\xfe")
        );
        // SET s <51 x a>
        let s = Value::String(vec![b'a'; 51]);
        assert_eq!(
            dump(&s, &EncodeOptions::default()),
            redis_dump(b"\x00\xc3\x093\x01aa\xe0&\x00\x01aa\n\x00\"Q^\xaes\xba\xc2~")
        );
    }

    fn sample_values() -> Vec<Value> {
        let big: Vec<Vec<u8>> = (0..3000)
            .map(|i| format!("element-{i}").into_bytes())
            .collect();
        vec![
            Value::String(b"12".to_vec()),
            Value::String(b"-70000".to_vec()),
            Value::String(b"12345678901".to_vec()),
            Value::String(vec![b'x'; 100]),
            Value::List(big.clone()),
            Value::Set(vec![b"1".to_vec(), b"-5".to_vec(), b"100000".to_vec()]),
            Value::Set(vec![b"a".to_vec(), b"b".to_vec()]),
            Value::ZSet(vec![(b"a".to_vec(), 1.25), (b"b".to_vec(), f64::INFINITY)]),
            Value::ZSet(
                big.iter()
                    .enumerate()
                    .map(|(i, m)| (m.clone(), i as f64 / 3.0))
                    .collect(),
            ),
            Value::Hash(vec![
                (b"f".to_vec(), b"1".to_vec()),
                (b"g".to_vec(), vec![b'v'; 65]),
            ]),
            Value::Hash(vec![(b"f".to_vec(), b"1".to_vec())]),
        ]
    }

    #[test]
    fn round_trips() {
        for v in sample_values() {
            let p = dump(&v, &EncodeOptions::default());
            let mut back = restore(&p).unwrap();
            let mut want = v.clone();
            if let (Value::ZSet(a), Value::ZSet(b)) = (&mut back, &mut want) {
                a.sort_by(score_order);
                b.sort_by(score_order);
            }
            if let (Value::Set(a), Value::Set(b)) = (&mut back, &mut want) {
                a.sort();
                b.sort();
            }
            assert_eq!(back, want);
        }
    }

    #[test]
    fn refuses_bad_payloads() {
        let p = dump(&Value::String(b"x".to_vec()), &EncodeOptions::default());
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert_eq!(restore(&bad), Err(RestoreError::Payload));
        let mut v12 = p[..p.len() - 10].to_vec();
        v12.extend_from_slice(&12u16.to_le_bytes());
        let crc = crate::crc64(&v12);
        v12.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&v12), Err(RestoreError::Payload));
        // A module type, an unknown type, and an empty list.
        for body in [vec![7u8, 0], vec![99u8], vec![1u8, 0]] {
            assert_eq!(restore(&crate::seal_payload(body)), Err(RestoreError::Data));
        }
    }

    /// Random and mutated payloads: the decoder must return, not panic,
    /// and not reserve memory the input cannot account for.
    #[test]
    fn hostile_input_never_panics() {
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut bases: Vec<Vec<u8>> = sample_values()
            .iter()
            .map(|v| encode(v, &EncodeOptions::default()))
            .collect();
        bases.push(encode(
            &Value::Stream(Box::new(crate::stream::tests_sample())),
            &EncodeOptions::default(),
        ));
        for round in 0..20000 {
            let base = &bases[round % bases.len()];
            let mut data = base.clone();
            let edits = 1 + rnd() % 4;
            for _ in 0..edits {
                match rnd() % 4 {
                    0 if !data.is_empty() => {
                        let i = (rnd() as usize) % data.len();
                        data[i] = rnd() as u8;
                    }
                    1 if !data.is_empty() => {
                        let n = (rnd() as usize) % data.len();
                        data.truncate(n);
                    }
                    2 => {
                        let i = (rnd() as usize) % (data.len() + 1);
                        data.insert(i, rnd() as u8);
                    }
                    _ => {
                        let n = (rnd() % 24) as usize;
                        data = (0..n).map(|_| rnd() as u8).collect();
                        if let Some(first) = data.first_mut() {
                            *first %= 22;
                        }
                    }
                }
            }
            let _ = decode(&data);
        }
    }
}
