//! Conversions between command replies and Lua values, as Redis 7.0 makes
//! them (the tables in the EVAL documentation, "Conversion between Lua and
//! Redis data types"), for RESP2 and RESP3 scripts.

use bytes::Bytes;
use ferry_resp::{format_double, Protocol, Reply};
use mlua::{Lua, Result, Table, Value};

/// How deep a returned table may nest before the reply is cut with Redis's
/// "reached lua stack limit" error (a self-referencing table would
/// otherwise recurse forever). Redis's own bound is Lua's C stack (8000
/// slots); replies at least 5000 levels deep convert on both. The executor
/// thread's stack is sized for it (see `EXECUTOR_STACK`).
const MAX_DEPTH: usize = 7000;

/// A command's reply as a script sees it. In RESP2 mode a reply is first
/// downgraded as a RESP2 client would receive it (maps flatten, doubles
/// become strings, nulls become `false`).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: Protocol) -> Result<Value> {
    let resp3 = resp == Protocol::Resp3;
    Ok(match reply {
        Reply::Status(s) => single(lua, "ok", string(lua, s.as_bytes())?)?,
        Reply::Error(s) => Value::Table(command_error_table(lua, s.as_bytes())?),
        Reply::ErrorBytes(b) => Value::Table(command_error_table(lua, b)?),
        Reply::Integer(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => string(lua, b)?,
        Reply::Null | Reply::NullArray if resp3 => Value::Nil,
        Reply::Null | Reply::NullArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => array(lua, items, resp)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp)?, true)?;
            }
            single(lua, "set", Value::Table(set))?
        }
        Reply::Set(items) => array(lua, items, resp)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                map.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            single(lua, "map", Value::Table(map))?
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp)?)?;
                t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp)?)?;
            }
            Value::Table(t)
        }
        Reply::Double(d) if resp3 => single(lua, "double", Value::Number(*d))?,
        Reply::Double(d) => string(lua, format_double(*d).as_bytes())?,
        Reply::DoubleText(text) if resp3 => {
            let n = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok());
            single(lua, "double", Value::Number(n.unwrap_or(0.0)))?
        }
        Reply::DoubleText(text) => string(lua, text)?,
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(*b as i64 as f64),
        Reply::Verbatim(format, body) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("string", string(lua, body)?)?;
            t.raw_set("format", string(lua, format.as_bytes())?)?;
            single(lua, "verbatim_string", Value::Table(t))?
        }
        Reply::Verbatim(_, body) => string(lua, body)?,
        Reply::BigNumber(digits) if resp3 => single(lua, "big_number", string(lua, digits)?)?,
        Reply::BigNumber(digits) => string(lua, digits)?,
        _ => Value::Nil,
    })
}

fn string(lua: &Lua, b: &[u8]) -> Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn single(lua: &Lua, field: &str, value: Value) -> Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, value)?;
    Ok(Value::Table(t))
}

fn array(lua: &Lua, items: &[Reply], resp: Protocol) -> Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
    }
    Ok(Value::Table(t))
}

/// The `{err = "CODE message"}` table of an error reply: the first word is
/// the code, or `ERR` is added when the text has a single word (Redis's
/// luaPushErrorBuff). A leading `-` is dropped, trailing CR/LF trimmed.
pub fn error_table(lua: &Lua, text: &[u8]) -> Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// The error table of a command's error reply: also marked
/// `ignore_error_stats_update`, as in Redis, because the error was counted
/// in INFO errorstats when the command failed; a script returning it does
/// not count it again.
pub fn command_error_table(lua: &Lua, text: &[u8]) -> Result<Table> {
    let t = error_table(lua, text)?;
    t.raw_set(COUNTED, true)?;
    Ok(t)
}

/// The field marking an error table whose error was already counted.
pub const COUNTED: &str = "ignore_error_stats_update";

/// The text of [`error_table`].
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let (code, msg): (&[u8], &[u8]) = match text.iter().position(|b| *b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (b"ERR", text),
    };
    let msg = trim_crlf(msg);
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

fn trim_crlf(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// A script's return value as a reply. `resp` is the protocol the script
/// selected with `redis.setresp` (it decides what `true`/`false` become).
pub fn lua_to_reply(value: &Value, resp: Protocol) -> Reply {
    to_reply(value, resp, 0)
}

/// Whether `value` is an error table whose error INFO errorstats already
/// counted (see [`command_error_table`]).
pub fn already_counted(value: &Value) -> bool {
    match value {
        Value::Table(t) => matches!(t.raw_get::<Value>(COUNTED), Ok(Value::Boolean(true))),
        _ => false,
    }
}

fn to_reply(value: &Value, resp: Protocol, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp == Protocol::Resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Boolean(false) => Reply::Null,
        Value::Integer(i) => Reply::Integer(*i),
        Value::Number(n) => Reply::Integer(number_to_i64(*n)),
        Value::Table(t) => table_to_reply(t, resp, depth),
        _ => Reply::Null,
    }
}

/// C's `(long long)` cast on x86-64: truncation, and the "integer
/// indefinite" value for NaN and out-of-range numbers.
pub fn number_to_i64(n: f64) -> i64 {
    if n.is_finite() && n > -9.223_372_036_854_776e18 && n < 9.223_372_036_854_776e18 {
        n as i64
    } else {
        i64::MIN
    }
}

fn table_to_reply(t: &Table, resp: Protocol, depth: usize) -> Reply {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(s) = field("err") {
        return error_reply(&s.as_bytes());
    }
    if let Value::String(s) = field("ok") {
        return match std::str::from_utf8(&s.as_bytes()) {
            Ok(text) => Reply::Status(text.to_owned().into()),
            Err(_) => Reply::Status(String::from_utf8_lossy(&s.as_bytes()).into_owned().into()),
        };
    }
    match field("double") {
        Value::Number(d) => return Reply::Double(d),
        Value::Integer(i) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Value::String(s) = field("big_number") {
        let digits: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|b| if *b == b'\r' || *b == b'\n' { b' ' } else { *b })
            .collect();
        return Reply::BigNumber(digits.into());
    }
    if let Value::Table(v) = field("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(text))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            let mut f = format.as_bytes().to_vec();
            f.resize(3, b' ');
            let format = String::from_utf8_lossy(&f).into_owned();
            return Reply::Verbatim(format.into(), Bytes::copy_from_slice(&text.as_bytes()));
        }
    }
    if let Value::Table(map) = field("map") {
        let pairs = map
            .pairs::<Value, Value>()
            .filter_map(|kv| kv.ok())
            .map(|(k, v)| (to_reply(&k, resp, depth + 1), to_reply(&v, resp, depth + 1)))
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(set) = field("set") {
        let items = set
            .pairs::<Value, Value>()
            .filter_map(|kv| kv.ok())
            .map(|(k, _)| to_reply(&k, resp, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => {
                let r = to_reply(&v, resp, depth + 1);
                let stop = matches!(&r, Reply::Error(e) if e == "ERR reached lua stack limit");
                items.push(r);
                if stop {
                    break;
                }
            }
        }
    }
    Reply::Array(items)
}

/// An `{err=...}` table returned by a script, used as the error reply as is.
fn error_reply(text: &[u8]) -> Reply {
    match std::str::from_utf8(text) {
        Ok(t) => Reply::Error(t.to_owned().into()),
        Err(_) => Reply::ErrorBytes(Bytes::copy_from_slice(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        assert_eq!(error_text(b"-FOO bar"), b"FOO bar");
        assert_eq!(error_text(b"-FOO"), b"ERR FOO");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"WRONGTYPE x y\r\n"), b"WRONGTYPE x y");
    }

    #[test]
    fn numbers_truncate_like_c() {
        assert_eq!(number_to_i64(3.7), 3);
        assert_eq!(number_to_i64(-3.7), -3);
        assert_eq!(number_to_i64(1e300), i64::MIN);
        assert_eq!(number_to_i64(f64::NAN), i64::MIN);
    }

    #[test]
    fn round_trips() {
        let lua = Lua::new();
        let reply = Reply::Map(vec![(Reply::bulk("a"), Reply::Double(1.5))]);
        let v = reply_to_lua(&lua, &reply, Protocol::Resp3).unwrap();
        assert_eq!(lua_to_reply(&v, Protocol::Resp3), reply);
        let v = reply_to_lua(&lua, &reply, Protocol::Resp2).unwrap();
        assert_eq!(
            lua_to_reply(&v, Protocol::Resp2),
            Reply::Array(vec![Reply::bulk("a"), Reply::bulk("1.5")])
        );
        let v = reply_to_lua(&lua, &Reply::Null, Protocol::Resp2).unwrap();
        assert_eq!(v, Value::Boolean(false));
        assert_eq!(lua_to_reply(&v, Protocol::Resp2), Reply::Null);
    }
}
