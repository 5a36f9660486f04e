//! Reading `redis::Value` replies without panicking on what a peer sends.

use redis::Value;

/// A server error reply's text (`ERR ...`, `MOVED ...`).
pub fn error_text(v: &Value) -> Option<String> {
    match v {
        Value::ServerError(e) => Some(match e.details() {
            Some(d) => format!("{} {d}", e.code()),
            None => e.code().to_string(),
        }),
        _ => None,
    }
}

pub fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes().to_vec()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        Value::Double(d) => Some(d.to_string().into_bytes()),
        _ => None,
    }
}

pub fn text(v: &Value) -> Option<String> {
    bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// The elements of an array, set or map reply (maps flattened).
pub fn items(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a.iter().collect()),
        Value::Map(m) => Some(m.iter().flat_map(|(k, v)| [k, v]).collect()),
        _ => None,
    }
}

/// An array of byte strings.
pub fn byte_list(v: &Value) -> Option<Vec<Vec<u8>>> {
    items(v)?.into_iter().map(bytes).collect()
}

/// A `SCAN`-family reply: the next cursor and the page.
pub fn scan_page(v: &Value) -> Option<(String, Vec<Vec<u8>>)> {
    let parts = items(v)?;
    if parts.len() != 2 {
        return None;
    }
    Some((text(parts[0])?, byte_list(parts[1])?))
}

pub fn is_nil(v: &Value) -> bool {
    matches!(v, Value::Nil)
}
