//! Checking a value against one schema version with a JSON Schema
//! (draft 2020-12) validator, compiled once per version.

use crate::model::{SchemaFile, Storage};
use crate::value::typed_for_validation;
use serde_json::Value;

/// How many problems one failed value reports.
const SHOWN: usize = 3;

/// A compiled schema version.
pub struct Check {
    validator: jsonschema::Validator,
    storage: Storage,
    fields: std::collections::BTreeMap<String, Value>,
    /// `name version`, for messages.
    pub label: String,
}

impl Check {
    /// Compiles the version's JSON Schema; a field schema the validator
    /// cannot read (an unknown type name, a bad pattern) is an error here,
    /// before any key is touched.
    pub fn new(schema: &SchemaFile) -> Result<Check, String> {
        let label = format!("{} {}", schema.name, schema.version);
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema.json_schema())
            .map_err(|e| format!("schema {label}: its fields are not a valid JSON Schema: {e}"))?;
        Ok(Check {
            validator,
            storage: schema.storage,
            fields: schema.fields.clone(),
            label,
        })
    }

    /// Runs `f` on the document as the validator sees it: a hash's text
    /// values read as the types the schema declares (a new map); a JSON
    /// document as it is.
    fn with_instance<T>(&self, doc: &Value, f: impl FnOnce(&Value) -> T) -> T {
        match (self.storage, doc) {
            (Storage::Hash, Value::Object(m)) => {
                f(&Value::Object(typed_for_validation(m, &self.fields)))
            }
            _ => f(doc),
        }
    }

    /// `doc` is the value as a JSON object.
    pub fn is_valid(&self, doc: &Value) -> bool {
        self.with_instance(doc, |v| self.validator.is_valid(v))
    }

    /// Ok, or the first few problems (`/path: message`).
    pub fn check(&self, doc: &Value) -> Result<(), String> {
        self.with_instance(doc, |instance| {
            if self.validator.is_valid(instance) {
                return Ok(());
            }
            let mut problems: Vec<String> = Vec::new();
            let mut more = 0;
            for e in self.validator.iter_errors(instance) {
                if problems.len() < SHOWN {
                    let at = e.instance_path().to_string();
                    let at = if at.is_empty() { "/".to_string() } else { at };
                    problems.push(format!("{at}: {e}"));
                } else {
                    more += 1;
                }
            }
            let mut text = format!("not valid for {}: {}", self.label, problems.join("; "));
            if more > 0 {
                text.push_str(&format!(" (and {more} more)"));
            }
            Err(text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(storage: &str, fields: Value) -> SchemaFile {
        serde_json::from_value(json!({
            "name": "user", "version": "2.0.0", "keyPattern": "user:*",
            "storage": storage, "fields": fields
        }))
        .unwrap()
    }

    #[test]
    fn json_documents_are_checked_with_paths_in_the_message() {
        let c = Check::new(&schema(
            "json-string",
            json!({
                "name": {"type": "string", "required": true},
                "age": {"type": "integer", "minimum": 0},
                "email": {"type": "string", "format": "email"}
            }),
        ))
        .unwrap();
        assert!(c.check(&json!({"name": "Ada", "age": 36})).is_ok());
        let e = c.check(&json!({"age": -1, "email": "nope"})).unwrap_err();
        assert!(e.starts_with("not valid for user 2.0.0: "), "{e}");
        assert!(e.contains("/age: -1 is less than the minimum of 0"), "{e}");
        assert!(e.contains("\"name\" is a required property"), "{e}");
        assert!(e.contains("/email: "), "{e}");
        assert!(!c.is_valid(&json!({"name": 1})));
    }

    #[test]
    fn hash_values_are_read_as_their_declared_types() {
        let c = Check::new(&schema(
            "hash",
            json!({"age": {"type": "integer", "required": true}, "vip": {"type": "boolean"}}),
        ))
        .unwrap();
        assert!(c.is_valid(&json!({"age": "36", "vip": "true"})));
        let e = c.check(&json!({"age": "thirty"})).unwrap_err();
        assert!(
            e.contains("/age: \"thirty\" is not of type \"integer\""),
            "{e}"
        );
    }

    #[test]
    fn a_bad_field_schema_is_refused_up_front() {
        let e = Check::new(&schema("hash", json!({"age": {"type": "int"}})))
            .err()
            .unwrap();
        assert!(
            e.starts_with("schema user 2.0.0: its fields are not a valid JSON Schema"),
            "{e}"
        );
    }
}
