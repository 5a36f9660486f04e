//! A schema file: which keys it covers, how their values are stored, and
//! the fields a value has.
//!
//! ```json
//! {
//!   "name": "user",
//!   "version": "2.0.0",
//!   "keyPattern": ["user:*", "legacy-user:*"],
//!   "storage": "json-string",
//!   "fields": {
//!     "fullName": {"type": "string", "required": true},
//!     "age": {"type": "integer", "minimum": 0}
//!   }
//! }
//! ```
//!
//! Each field is a JSON Schema (draft 2020-12) for that field's value, plus
//! a `required` flag (as in the design seed); [`SchemaFile::json_schema`]
//! assembles them into one object schema for the validator.

use semver::Version;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How a key's value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// A string key holding a JSON object.
    JsonString,
    /// A hash: each field a string.
    Hash,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One version of one schema.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaFile {
    pub name: String,
    pub version: Version,
    #[serde(deserialize_with = "patterns")]
    pub key_pattern: Vec<String>,
    pub storage: Storage,
    pub fields: BTreeMap<String, Value>,
    /// Whether a value may have fields not listed (default true: a schema
    /// describes what it knows).
    #[serde(default = "yes")]
    pub additional_fields: bool,
}

fn yes() -> bool {
    true
}

fn patterns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    };
    if v.is_empty() || v.iter().any(String::is_empty) {
        return Err(serde::de::Error::custom(
            "keyPattern needs at least one non-empty glob",
        ));
    }
    Ok(v)
}

impl SchemaFile {
    /// Whether `field` is required.
    pub fn required(&self, field: &str) -> bool {
        self.fields
            .get(field)
            .and_then(|f| f.get("required"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A field's JSON Schema without ferry's `required` flag.
    pub fn field_schema(&self, field: &str) -> Option<Value> {
        let mut f = self.fields.get(field)?.clone();
        if let Value::Object(m) = &mut f {
            m.remove("required");
        }
        Some(f)
    }

    /// The whole value's JSON Schema (draft 2020-12).
    pub fn json_schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .fields
            .keys()
            .filter_map(|k| Some((k.clone(), self.field_schema(k)?)))
            .collect();
        let required: Vec<&String> = self.fields.keys().filter(|k| self.required(k)).collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": self.additional_fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_schema_file_and_builds_its_json_schema() {
        let s: SchemaFile = serde_json::from_value(json!({
            "name": "user", "version": "2.0.0", "keyPattern": "user:*", "storage": "json-string",
            "fields": {"fullName": {"type": "string", "required": true}, "age": {"type": "integer"}}
        }))
        .unwrap();
        assert_eq!(s.key_pattern, vec!["user:*"]);
        assert!(s.required("fullName") && !s.required("age"));
        assert_eq!(
            s.json_schema(),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"age": {"type": "integer"}, "fullName": {"type": "string"}},
                "required": ["fullName"],
                "additionalProperties": true
            })
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let base = json!({"name": "u", "version": "1.0.0", "keyPattern": ["u:*"], "storage": "hash", "fields": {}});
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            serde_json::from_value::<SchemaFile>(o)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(with("version", json!("1.0"))
            .unwrap_err()
            .contains("unexpected end of input"));
        assert!(with("storage", json!("list"))
            .unwrap_err()
            .contains("unknown variant `list`"));
        assert!(with("keyPattern", json!([]))
            .unwrap_err()
            .contains("at least one"));
        assert!(with("extra", json!(1))
            .unwrap_err()
            .contains("unknown field `extra`"));
        assert!(with("fields", json!({})).is_ok());
    }
}
