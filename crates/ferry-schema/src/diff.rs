//! `ferry schema diff A B`: each change between two versions of a schema,
//! classified breaking or not.
//!
//! Breaking means data compatibility: a value that is valid under A may be
//! invalid under B, or a key A covers is no longer covered, so stored data
//! needs a migration (or readers written for A may fail).

use crate::model::{SchemaFile, Storage};
use serde_json::Value;
use std::fmt;

/// One difference between two schema versions.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    FieldAdded {
        field: String,
        required: bool,
    },
    FieldRemoved {
        field: String,
    },
    /// A field removed and another added with the same schema: probably a
    /// rename (only reported when the match is unambiguous).
    FieldRenamed {
        from: String,
        to: String,
    },
    TypeChanged {
        field: String,
        from: String,
        to: String,
    },
    /// Other JSON Schema keywords of the field changed (formats, bounds...).
    ConstraintsChanged {
        field: String,
    },
    RequiredChanged {
        field: String,
        required: bool,
    },
    PatternChanged {
        from: Vec<String>,
        to: Vec<String>,
    },
    StorageChanged {
        from: Storage,
        to: Storage,
    },
    AdditionalFieldsChanged {
        allowed: bool,
    },
}

/// A change with its classification.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    pub change: Change,
    pub breaking: bool,
    pub reason: &'static str,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.breaking { "BREAKING" } else { "ok" };
        let what = match &self.change {
            Change::FieldAdded { field, required } => {
                format!(
                    "field '{field}' added{}",
                    if *required { " (required)" } else { "" }
                )
            }
            Change::FieldRemoved { field } => format!("field '{field}' removed"),
            Change::FieldRenamed { from, to } => {
                format!("field '{from}' renamed to '{to}' (same schema)")
            }
            Change::TypeChanged { field, from, to } => {
                format!("field '{field}' type {from} -> {to}")
            }
            Change::ConstraintsChanged { field } => format!("field '{field}' constraints changed"),
            Change::RequiredChanged { field, required } => format!(
                "field '{field}' is now {}",
                if *required { "required" } else { "optional" }
            ),
            Change::PatternChanged { from, to } => format!("keyPattern {from:?} -> {to:?}"),
            Change::StorageChanged { from, to } => format!("storage {from:?} -> {to:?}"),
            Change::AdditionalFieldsChanged { allowed } => format!(
                "fields not listed are now {}",
                if *allowed { "allowed" } else { "refused" }
            ),
        };
        write!(f, "{tag:8} {what}: {}", self.reason)
    }
}

/// The `type` of a field schema as text (`"string"`, `["integer","null"]`).
fn type_of(schema: &Value) -> String {
    match schema.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => {
            let mut t: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            t.sort();
            t.join("|")
        }
        _ => "any".into(),
    }
}

/// Whether every value of type `from` is a value of type `to`.
fn widens(from: &str, to: &str) -> bool {
    if to == "any" || from == to {
        return true;
    }
    let to: Vec<&str> = to.split('|').collect();
    from.split('|')
        .all(|t| to.contains(&t) || (t == "integer" && to.contains(&"number")))
}

fn without_type(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Value::Object(m) = &mut s {
        m.remove("type");
    }
    s
}

/// Every change from `a` to `b`, fields in name order, then the rest.
pub fn diff(a: &SchemaFile, b: &SchemaFile) -> Vec<Classified> {
    let mut out = Vec::new();
    let mut removed: Vec<&String> = a
        .fields
        .keys()
        .filter(|k| !b.fields.contains_key(*k))
        .collect();
    let mut added: Vec<&String> = b
        .fields
        .keys()
        .filter(|k| !a.fields.contains_key(*k))
        .collect();
    // Renames: a removed and an added field with the same schema, when
    // each has exactly one such partner.
    let mut renames = Vec::new();
    for r in &removed {
        let partners: Vec<&&String> = added
            .iter()
            .filter(|n| b.field_schema(n) == a.field_schema(r) && a.required(r) == b.required(n))
            .collect();
        let unique_back = partners.len() == 1
            && removed
                .iter()
                .filter(|o| a.field_schema(o) == b.field_schema(partners[0]))
                .count()
                == 1;
        if unique_back {
            renames.push(((*r).clone(), (*partners[0]).clone()));
        }
    }
    removed.retain(|r| !renames.iter().any(|(f, _)| f == *r));
    added.retain(|n| !renames.iter().any(|(_, t)| t == *n));
    for (from, to) in renames {
        out.push(Classified {
            change: Change::FieldRenamed { from, to },
            breaking: true,
            reason: "stored values still have the old name until a migration renames it",
        });
    }
    for f in removed {
        out.push(Classified {
            change: Change::FieldRemoved { field: f.clone() },
            breaking: !b.additional_fields,
            reason: if b.additional_fields {
                "values that still have it stay valid; readers must not rely on it"
            } else {
                "values that still have it are invalid (fields not listed are refused)"
            },
        });
    }
    for f in added {
        let required = b.required(f);
        out.push(Classified {
            change: Change::FieldAdded {
                field: f.clone(),
                required,
            },
            breaking: required,
            reason: if required {
                "existing values lack it: they need a migration (addField with a default)"
            } else {
                "optional: existing values stay valid"
            },
        });
    }
    for (f, sa) in &a.fields {
        let Some(sb) = b.fields.get(f) else { continue };
        let (ta, tb) = (type_of(sa), type_of(sb));
        if ta != tb {
            let ok = widens(&ta, &tb);
            out.push(Classified {
                change: Change::TypeChanged {
                    field: f.clone(),
                    from: ta,
                    to: tb,
                },
                breaking: !ok,
                reason: if ok {
                    "every old value is still of an allowed type"
                } else {
                    "old values of the old type are invalid: they need convertType"
                },
            });
        }
        let (ca, cb) = (
            without_type(&a.field_schema(f).unwrap_or_default()),
            without_type(&b.field_schema(f).unwrap_or_default()),
        );
        if ca != cb {
            out.push(Classified {
                change: Change::ConstraintsChanged { field: f.clone() },
                breaking: true,
                reason: "a stricter constraint may refuse old values (check with --dry-run)",
            });
        }
        let (ra, rb) = (a.required(f), b.required(f));
        if ra != rb {
            out.push(Classified {
                change: Change::RequiredChanged {
                    field: f.clone(),
                    required: rb,
                },
                breaking: rb,
                reason: if rb {
                    "values without it become invalid"
                } else {
                    "values without it become valid"
                },
            });
        }
    }
    if a.key_pattern != b.key_pattern {
        let covered = a.key_pattern.iter().all(|p| b.key_pattern.contains(p));
        out.push(Classified {
            change: Change::PatternChanged {
                from: a.key_pattern.clone(),
                to: b.key_pattern.clone(),
            },
            breaking: !covered,
            reason: if covered {
                "every key covered before is still covered"
            } else {
                "keys matched before may no longer be covered"
            },
        });
    }
    if a.storage != b.storage {
        out.push(Classified {
            change: Change::StorageChanged {
                from: a.storage,
                to: b.storage,
            },
            breaking: true,
            reason: "stored values change type",
        });
    }
    if a.additional_fields != b.additional_fields {
        out.push(Classified {
            change: Change::AdditionalFieldsChanged {
                allowed: b.additional_fields,
            },
            breaking: !b.additional_fields,
            reason: if b.additional_fields {
                "more values are valid"
            } else {
                "values with fields not listed become invalid"
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(version: &str, fields: Value) -> SchemaFile {
        serde_json::from_value(json!({
            "name": "user", "version": version, "keyPattern": "user:*", "storage": "json-string", "fields": fields
        }))
        .unwrap()
    }

    fn lines(a: &SchemaFile, b: &SchemaFile) -> Vec<String> {
        diff(a, b).iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_seeds_chain_is_classified() {
        let v1 = schema(
            "1.0.0",
            json!({"userName": {"type": "string", "required": true}, "age": {"type": "integer"}}),
        );
        let v2 = schema(
            "2.0.0",
            json!({"fullName": {"type": "string", "required": true}, "age": {"type": "number"}, "createdAt": {"type": "string", "format": "date-time", "required": true}}),
        );
        assert_eq!(
            lines(&v1, &v2),
            vec![
                "BREAKING field 'userName' renamed to 'fullName' (same schema): stored values still have the old name until a migration renames it",
                "BREAKING field 'createdAt' added (required): existing values lack it: they need a migration (addField with a default)",
                "ok       field 'age' type integer -> number: every old value is still of an allowed type",
            ]
        );
        assert!(diff(&v1, &v1).is_empty());
    }

    #[test]
    fn type_required_pattern_and_storage_changes() {
        let a = schema(
            "1.0.0",
            json!({"age": {"type": "number"}, "nick": {"type": "string", "required": true}, "tags": {"type": "array", "maxItems": 5}}),
        );
        let mut b = schema(
            "2.0.0",
            json!({"age": {"type": ["integer", "null"]}, "nick": {"type": "string"}, "tags": {"type": "array", "maxItems": 3}}),
        );
        b.key_pattern = vec!["user:*".into(), "member:*".into()];
        let out = lines(&a, &b);
        assert_eq!(
            out,
            vec![
                "BREAKING field 'age' type number -> integer|null: old values of the old type are invalid: they need convertType",
                "ok       field 'nick' is now optional: values without it become valid",
                "BREAKING field 'tags' constraints changed: a stricter constraint may refuse old values (check with --dry-run)",
                "ok       keyPattern [\"user:*\"] -> [\"user:*\", \"member:*\"]: every key covered before is still covered",
            ]
        );
        b.storage = Storage::Hash;
        b.additional_fields = false;
        let out = lines(&a, &b);
        assert!(
            out.contains(
                &"BREAKING storage JsonString -> Hash: stored values change type".to_string()
            ),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|l| l.starts_with("BREAKING fields not listed are now refused")),
            "{out:?}"
        );
    }

    #[test]
    fn ambiguous_renames_stay_a_removal_and_an_addition() {
        let a = schema(
            "1.0.0",
            json!({"a": {"type": "string"}, "b": {"type": "string"}}),
        );
        let b = schema("2.0.0", json!({"c": {"type": "string"}}));
        let out = lines(&a, &b);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].starts_with("ok       field 'a' removed"), "{out:?}");
        assert!(out[2].starts_with("ok       field 'c' added"), "{out:?}");
    }
}
