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
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How a key's value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// One version of one schema. Serializes as [`load`] reads it (a single
/// key pattern as a string), so a drafted schema can be written to a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaFile {
    pub name: String,
    pub version: Version,
    #[serde(deserialize_with = "patterns", serialize_with = "write_patterns")]
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

fn write_patterns<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

/// Why a schema or migration file could not be read, with the file and,
/// for a syntax or shape error, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: files must end in .json, .yaml or .yml")]
    Format { path: String },
}

/// serde's message without the " at line L column C" the parsers append
/// (the error already starts with `file:line:col`).
pub(crate) fn without_position(message: String) -> String {
    match message.rfind(" at line ") {
        Some(i)
            if message[i + 9..]
                .split(" column ")
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            message[..i].to_string()
        }
        _ => message,
    }
}

/// Reads a JSON or YAML file (by its extension) into `T` (a schema or a
/// migration), with the file, line and column in errors.
pub fn load<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, LoadError> {
    let shown = path.display().to_string();
    let yaml = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => false,
        Some("yaml" | "yml") => true,
        _ => return Err(LoadError::Format { path: shown }),
    };
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    if yaml {
        yaml_serde::from_str(&text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            LoadError::Parse {
                path: shown,
                line,
                column,
                message: without_position(e.to_string()),
            }
        })
    } else {
        serde_json::from_str(&text).map_err(|e| LoadError::Parse {
            path: shown,
            line: e.line(),
            column: e.column(),
            message: without_position(e.to_string()),
        })
    }
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
    fn load_errors_name_the_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("ferry-schema-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("user-1.json");
        std::fs::write(&bad, "{\n  \"name\": \"user\",\n  \"version\": \"1.0.0\",\n  \"keyPattern\": \"user:*\",\n  \"storage\": \"hash\"\n  \"fields\": {}\n}\n").unwrap();
        let e = load::<SchemaFile>(&bad).unwrap_err().to_string();
        assert_eq!(e, format!("{}:6:3: expected `,` or `}}`", bad.display()));
        std::fs::write(&bad, "{\"name\": \"user\", \"version\": \"one\", \"keyPattern\": \"u:*\", \"storage\": \"hash\", \"fields\": {}}").unwrap();
        let e = load::<SchemaFile>(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:1:", bad.display())) && e.contains("unexpected character"),
            "{e}"
        );
        let e = load::<SchemaFile>(&dir.join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.json: No such file"), "{e}");
        let e = load::<SchemaFile>(&dir.join("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("files must end in .json, .yaml or .yml"), "{e}");
        let yaml = dir.join("user-2.yaml");
        std::fs::write(&yaml, "name: user\nversion: 2.0.0\nkeyPattern:\n  - user:*\nstorage: hash\nfields:\n  age: {type: integer, required: true}\n").unwrap();
        let s = load::<SchemaFile>(&yaml).unwrap();
        assert_eq!(
            (s.version.to_string(), s.storage, s.required("age")),
            ("2.0.0".to_string(), Storage::Hash, true)
        );
        std::fs::write(
            &yaml,
            "name: user\nversion: 2.0\nkeyPattern: u:*\nstorage: hash\nfields: {}\n",
        )
        .unwrap();
        let e = load::<SchemaFile>(&yaml).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2:", yaml.display())), "{e}");
        std::fs::write(&yaml, "name: user\nfields: [\n").unwrap();
        let e = load::<SchemaFile>(&yaml).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:", yaml.display())), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
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
