//! Stored values as the transforms see them: a JSON-string key's document
//! or a hash's fields, both as a JSON object.

use crate::model::Storage;
use serde_json::{Map, Value};
use thiserror::Error;

/// A key's value as read from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Raw {
    /// The bytes of a string key.
    String(Vec<u8>),
    /// A hash's fields and values.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

impl Raw {
    /// Bytes of the value (a hash: its fields and values).
    pub fn size(&self) -> usize {
        match self {
            Raw::String(b) => b.len(),
            Raw::Hash(f) => f.iter().map(|(a, b)| a.len() + b.len()).sum(),
        }
    }

    /// The same value: a hash's fields in any order (a server returns them
    /// in its own order).
    pub fn same(&self, other: &Raw) -> bool {
        match (self, other) {
            (Raw::String(a), Raw::String(b)) => a == b,
            (Raw::Hash(a), Raw::Hash(b)) => {
                let mut a: Vec<_> = a.iter().collect();
                let mut b: Vec<_> = b.iter().collect();
                a.sort();
                b.sort();
                a == b
            }
            _ => false,
        }
    }
}

/// Why a stored value cannot be migrated (the key is reported and left
/// untouched).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ValueError {
    #[error("the value is not JSON (line {line}, column {column}: {message})")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the value is JSON but not an object")]
    NotAnObject,
    #[error("the key is a {found}, the schema stores values as {wanted:?}")]
    WrongType {
        found: &'static str,
        wanted: Storage,
    },
    #[error("hash field {0:?} is not UTF-8 text")]
    NotUtf8(String),
    #[error("hash field '{0}' would hold {1}; a hash holds only text, numbers and booleans")]
    NotScalar(String, &'static str),
}

/// The document of a stored value.
pub fn decode(storage: Storage, raw: &Raw) -> Result<Map<String, Value>, ValueError> {
    match (storage, raw) {
        (Storage::JsonString, Raw::String(b)) => {
            match serde_json::from_slice::<Value>(b).map_err(|e| ValueError::NotJson {
                line: e.line(),
                column: e.column(),
                message: crate::model::without_position(e.to_string()),
            })? {
                Value::Object(m) => Ok(m),
                _ => Err(ValueError::NotAnObject),
            }
        }
        (Storage::Hash, Raw::Hash(fields)) => fields
            .iter()
            .map(|(f, v)| {
                let f = String::from_utf8(f.clone())
                    .map_err(|_| ValueError::NotUtf8(String::from_utf8_lossy(f).into_owned()))?;
                let v = String::from_utf8(v.clone()).map_err(|_| ValueError::NotUtf8(f.clone()))?;
                Ok((f, Value::String(v)))
            })
            .collect(),
        (wanted, Raw::String(_)) => Err(ValueError::WrongType {
            found: "string",
            wanted,
        }),
        (wanted, Raw::Hash(_)) => Err(ValueError::WrongType {
            found: "hash",
            wanted,
        }),
    }
}

/// The stored form of a document.
pub fn encode(storage: Storage, doc: &Map<String, Value>) -> Result<Raw, ValueError> {
    match storage {
        Storage::JsonString => Ok(Raw::String(
            serde_json::to_vec(doc).map_err(|_| ValueError::NotAnObject)?,
        )),
        Storage::Hash => doc
            .iter()
            .map(|(f, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => return Err(ValueError::NotScalar(f.clone(), "null")),
                    Value::Array(_) => return Err(ValueError::NotScalar(f.clone(), "an array")),
                    Value::Object(_) => return Err(ValueError::NotScalar(f.clone(), "an object")),
                };
                Ok((f.clone().into_bytes(), text.into_bytes()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Raw::Hash),
    }
}

/// A hash's text values read as the types its schema declares (`"36"` for
/// an integer field is 36), so a JSON Schema can validate them; values
/// that do not read as their type stay text and fail validation.
pub fn typed_for_validation(
    doc: &Map<String, Value>,
    fields: &std::collections::BTreeMap<String, Value>,
) -> Map<String, Value> {
    doc.iter()
        .map(|(k, v)| {
            let ty = fields
                .get(k)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str);
            let typed = match (ty, v) {
                (Some("integer"), Value::String(s)) => s.parse::<i64>().ok().map(Value::from),
                (Some("number"), Value::String(s)) => s
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
                (Some("boolean"), Value::String(s)) => match s.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => None,
                },
                _ => None,
            };
            (k.clone(), typed.unwrap_or_else(|| v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_strings_decode_to_objects_or_say_why_not() {
        let m = decode(Storage::JsonString, &Raw::String(br#"{"a":1}"#.to_vec())).unwrap();
        assert_eq!(Value::Object(m.clone()), json!({"a": 1}));
        assert_eq!(
            encode(Storage::JsonString, &m).unwrap(),
            Raw::String(br#"{"a":1}"#.to_vec())
        );
        assert_eq!(
            decode(
                Storage::JsonString,
                &Raw::String(b"{\"a\":\n tru}".to_vec())
            )
            .unwrap_err()
            .to_string(),
            "the value is not JSON (line 2, column 5: expected ident)"
        );
        assert_eq!(
            decode(Storage::JsonString, &Raw::String(b"[1]".to_vec())),
            Err(ValueError::NotAnObject)
        );
        assert_eq!(
            decode(Storage::Hash, &Raw::String(b"{}".to_vec()))
                .unwrap_err()
                .to_string(),
            "the key is a string, the schema stores values as Hash"
        );
    }

    #[test]
    fn hashes_are_text_fields() {
        let raw = Raw::Hash(vec![
            (b"age".to_vec(), b"36".to_vec()),
            (b"name".to_vec(), b"Ada".to_vec()),
        ]);
        let m = decode(Storage::Hash, &raw).unwrap();
        assert_eq!(
            Value::Object(m.clone()),
            json!({"age": "36", "name": "Ada"})
        );
        let mut changed = m.clone();
        changed.insert("age".into(), json!(37));
        changed.insert("vip".into(), json!(true));
        assert_eq!(
            encode(Storage::Hash, &changed).unwrap(),
            Raw::Hash(vec![
                (b"age".to_vec(), b"37".to_vec()),
                (b"name".to_vec(), b"Ada".to_vec()),
                (b"vip".to_vec(), b"true".to_vec()),
            ])
        );
        changed.insert("tags".into(), json!(["a"]));
        assert_eq!(
            encode(Storage::Hash, &changed),
            Err(ValueError::NotScalar("tags".into(), "an array"))
        );
        assert_eq!(
            decode(Storage::Hash, &Raw::Hash(vec![(b"f".to_vec(), vec![0xff])])),
            Err(ValueError::NotUtf8("f".into()))
        );
        let fields =
            std::collections::BTreeMap::from([("age".to_string(), json!({"type": "integer"}))]);
        assert_eq!(
            Value::Object(typed_for_validation(&m, &fields)),
            json!({"age": 36, "name": "Ada"})
        );
    }
}
