//! Drafting a schema from sampled values (`ferry schema infer`): each
//! field's JSON Schema from the kinds of values seen, required when every
//! sample has it.
//!
//! The draft is a starting point a person edits: it says what the samples
//! hold, not what the application means. Rules:
//!
//! - the type is the set of kinds seen, written in a fixed order
//!   (`string`, `integer`/`number`, `boolean`, `object`, `array`, `null`),
//!   a single name when there is one kind, a list otherwise; integers and
//!   fractions together are `number`;
//! - strings that all read as RFC 3339 timestamps get `format: date-time`;
//! - arrays get `items` when their elements (over all samples) are of one
//!   kind; objects get `properties`, inferred the same way. Nested objects
//!   get no `required` list (only top-level fields carry ferry's
//!   `required` flag);
//! - a hash holds only text: a field is `integer`, `number` or `boolean`
//!   when every value of it reads as one the way hash values are read for
//!   validation ([`crate::value::typed_for_validation`]), else `string`.

use crate::model::{SchemaFile, Storage};
use crate::transform::parse_rfc3339;
use semver::Version;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A draft schema (version 1.0.0, additional fields allowed) describing
/// `samples`. Output is deterministic: it depends on the set of values
/// seen, not on their order.
pub fn infer(
    name: &str,
    key_pattern: Vec<String>,
    storage: Storage,
    samples: &[Map<String, Value>],
) -> SchemaFile {
    let mut fields: BTreeMap<String, (usize, Shape)> = BTreeMap::new();
    for sample in samples {
        for (field, value) in sample {
            let (seen, shape) = fields.entry(field.clone()).or_default();
            *seen += 1;
            match storage {
                Storage::JsonString => shape.add(value),
                Storage::Hash => shape.add_text(&hash_text(value)),
            }
        }
    }
    let fields = fields
        .into_iter()
        .map(|(field, (seen, shape))| {
            let mut schema = match storage {
                Storage::JsonString => shape.schema(),
                Storage::Hash => shape.text_schema(),
            };
            if seen == samples.len() {
                schema.insert("required".into(), Value::Bool(true));
            }
            (field, Value::Object(schema))
        })
        .collect();
    SchemaFile {
        name: name.to_string(),
        version: Version::new(1, 0, 0),
        key_pattern,
        storage,
        fields,
        additional_fields: true,
    }
}

/// The schema as a YAML file's text (what `load` reads back).
pub fn to_yaml(schema: &SchemaFile) -> Result<String, yaml_serde::Error> {
    yaml_serde::to_string(schema)
}

/// The schema as a JSON file's text, indented, with a final newline.
pub fn to_json(schema: &SchemaFile) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(schema).map(|mut s| {
        s.push('\n');
        s
    })
}

/// A hash value's text (hash samples are text; other values, if a caller
/// passes them, are read as the text the server would store).
fn hash_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the values of one field, or of one field's array elements,
/// looked like.
#[derive(Default)]
struct Shape {
    null: bool,
    boolean: bool,
    integer: bool,
    /// A number with a fraction (or beyond i64/u64).
    fraction: bool,
    string: bool,
    /// Some string is not an RFC 3339 timestamp.
    plain_string: bool,
    array: bool,
    /// The elements of every array seen.
    items: Option<Box<Shape>>,
    object: bool,
    properties: BTreeMap<String, Shape>,
    /// Hash text: some value does not read as an integer / a finite
    /// number / a boolean.
    not_integer: bool,
    not_number: bool,
    not_boolean: bool,
}

impl Shape {
    fn add(&mut self, v: &Value) {
        match v {
            Value::Null => self.null = true,
            Value::Bool(_) => self.boolean = true,
            Value::Number(n) if n.is_i64() || n.is_u64() => self.integer = true,
            Value::Number(_) => self.fraction = true,
            Value::String(s) => {
                self.string = true;
                self.plain_string |= parse_rfc3339(s).is_none();
            }
            Value::Array(a) => {
                self.array = true;
                for e in a {
                    self.items.get_or_insert_with(Box::default).add(e);
                }
            }
            Value::Object(o) => {
                self.object = true;
                for (k, x) in o {
                    self.properties.entry(k.clone()).or_default().add(x);
                }
            }
        }
    }

    /// A hash value: read as `typed_for_validation` reads it.
    fn add_text(&mut self, s: &str) {
        self.string = true;
        self.plain_string |= parse_rfc3339(s).is_none();
        self.not_integer |= s.parse::<i64>().is_err();
        self.not_number |= s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .is_none();
        self.not_boolean |= !matches!(s, "true" | "false");
    }

    /// The kinds seen, in the order they are written.
    fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.string {
            k.push("string");
        }
        if self.fraction {
            k.push("number");
        } else if self.integer {
            k.push("integer");
        }
        for (seen, name) in [
            (self.boolean, "boolean"),
            (self.object, "object"),
            (self.array, "array"),
            (self.null, "null"),
        ] {
            if seen {
                k.push(name);
            }
        }
        k
    }

    fn schema(&self) -> Map<String, Value> {
        let kinds = self.kinds();
        let mut m = Map::new();
        m.insert("type".into(), type_value(&kinds));
        if self.string && !self.plain_string {
            m.insert("format".into(), "date-time".into());
        }
        if self.object {
            let props = self
                .properties
                .iter()
                .map(|(k, s)| (k.clone(), Value::Object(s.schema())))
                .collect();
            m.insert("properties".into(), Value::Object(props));
        }
        if let Some(items) = &self.items {
            if items.kinds().len() == 1 {
                m.insert("items".into(), Value::Object(items.schema()));
            }
        }
        m
    }

    fn text_schema(&self) -> Map<String, Value> {
        let kind = if !self.not_integer {
            "integer"
        } else if !self.not_number {
            "number"
        } else if !self.not_boolean {
            "boolean"
        } else {
            "string"
        };
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        if kind == "string" && !self.plain_string {
            m.insert("format".into(), "date-time".into());
        }
        m
    }
}

fn type_value(kinds: &[&str]) -> Value {
    match kinds {
        [one] => Value::from(*one),
        many => Value::Array(many.iter().map(|k| Value::from(*k)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn samples(v: Value) -> Vec<Map<String, Value>> {
        match v {
            Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    Value::Object(m) => m,
                    _ => panic!("sample is not an object"),
                })
                .collect(),
            _ => panic!("not a list"),
        }
    }

    fn fields(storage: Storage, v: Value) -> Value {
        let s = infer("t", vec!["t:*".into()], storage, &samples(v));
        serde_json::to_value(&s.fields).unwrap()
    }

    #[test]
    fn no_samples_give_no_fields() {
        let s = infer("user", vec!["user:*".into()], Storage::JsonString, &[]);
        assert!(s.fields.is_empty());
        assert_eq!(s.version, Version::new(1, 0, 0));
        assert!(s.additional_fields);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"name": "user", "version": "1.0.0", "keyPattern": "user:*",
                   "storage": "json-string", "fields": {}, "additionalFields": true})
        );
    }

    #[test]
    fn numbers_integers_and_fractions() {
        assert_eq!(
            fields(
                Storage::JsonString,
                json!([{"a": 1, "b": 1, "c": 1.5}, {"a": -2, "b": 2.5, "c": 0.25}])
            ),
            json!({"a": {"type": "integer", "required": true},
                   "b": {"type": "number", "required": true},
                   "c": {"type": "number", "required": true}})
        );
    }

    #[test]
    fn mixed_kinds_and_null_make_a_type_list() {
        assert_eq!(
            fields(
                Storage::JsonString,
                json!([{"a": "x", "b": null, "c": true, "d": null},
                       {"a": 3, "b": "y", "c": false, "d": null},
                       {"a": [1], "b": "z", "c": true}])
            ),
            json!({"a": {"type": ["string", "integer", "array"], "items": {"type": "integer"}, "required": true},
                   "b": {"type": ["string", "null"], "required": true},
                   "c": {"type": "boolean", "required": true},
                   "d": {"type": "null"}})
        );
    }

    #[test]
    fn required_only_when_in_every_sample() {
        let s = infer(
            "t",
            vec!["t:*".into()],
            Storage::JsonString,
            &samples(json!([{"a": 1, "b": 1}, {"a": 2}, {"a": 3, "c": "x"}])),
        );
        assert!(s.required("a") && !s.required("b") && !s.required("c"));
        assert_eq!(s.field_schema("b"), Some(json!({"type": "integer"})));
    }

    #[test]
    fn timestamps_get_date_time() {
        assert_eq!(
            fields(
                Storage::JsonString,
                json!([{"at": "2026-12-01T10:00:00Z", "x": "2026-12-01T10:00:00Z", "n": ["2026-01-01T00:00:00.5+01:00"]},
                       {"at": "2020-02-29T23:59:59.123-05:00", "x": "yesterday"}])
            ),
            json!({"at": {"type": "string", "format": "date-time", "required": true},
                   "x": {"type": "string", "required": true},
                   "n": {"type": "array", "items": {"type": "string", "format": "date-time"}}})
        );
    }

    #[test]
    fn arrays_get_items_when_uniform() {
        assert_eq!(
            fields(
                Storage::JsonString,
                json!([{"tags": ["a", "b"], "mixed": [1, "x"], "empty": [], "ns": [1], "objs": [{"id": 1}]},
                       {"tags": [], "mixed": [], "empty": [], "ns": [2.5, 3], "objs": [{"id": 2, "name": "n"}, {"id": 3}]}])
            ),
            json!({"tags": {"type": "array", "items": {"type": "string"}, "required": true},
                   "mixed": {"type": "array", "required": true},
                   "empty": {"type": "array", "required": true},
                   "ns": {"type": "array", "items": {"type": "number"}, "required": true},
                   "objs": {"type": "array", "required": true, "items": {"type": "object", "properties": {
                       "id": {"type": "integer"}, "name": {"type": "string"}}}}})
        );
    }

    #[test]
    fn nested_objects_are_inferred_recursively() {
        assert_eq!(
            fields(
                Storage::JsonString,
                json!([{"address": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10}}},
                       {"address": {"city": "Paris", "zip": "75001", "geo": {"lat": 48, "lon": 2}}},
                       {"address": null}])
            ),
            json!({"address": {"type": ["object", "null"], "required": true, "properties": {
                "city": {"type": "string"},
                "zip": {"type": "string"},
                "geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "integer"}}}
            }}})
        );
    }

    #[test]
    fn hash_text_reads_as_integer_number_boolean_or_string() {
        let v = json!([
            {"age": "36", "score": "1.5", "vip": "true", "name": "Ada", "at": "2026-12-01T10:00:00Z", "odd": "1", "inf": "inf", "plus": "+7"},
            {"age": "-4", "score": "2", "vip": "false", "name": "12", "at": "2026-12-02T10:00:00Z", "odd": "true", "inf": "1", "plus": "8"}
        ]);
        let f = fields(Storage::Hash, v.clone());
        assert_eq!(
            f,
            json!({"age": {"type": "integer", "required": true},
                   "score": {"type": "number", "required": true},
                   "vip": {"type": "boolean", "required": true},
                   "name": {"type": "string", "required": true},
                   "at": {"type": "string", "format": "date-time", "required": true},
                   "odd": {"type": "string", "required": true},
                   "inf": {"type": "string", "required": true},
                   "plus": {"type": "integer", "required": true}})
        );
        // Every sample reads, for validation, as the kind inferred.
        let fields: BTreeMap<String, Value> = serde_json::from_value(f).unwrap();
        for sample in samples(v) {
            let typed = crate::value::typed_for_validation(&sample, &fields);
            for (k, x) in typed {
                let want = fields[&k]["type"].as_str().unwrap();
                let got = match x {
                    Value::Number(n) if n.is_i64() => "integer",
                    Value::Number(_) if want == "number" => "number",
                    Value::Bool(_) => "boolean",
                    Value::String(_) => "string",
                    _ => "other",
                };
                assert!(got == want || (want == "number" && got == "integer"), "{k}");
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_sample_order() {
        let mut v = samples(json!([{"a": 1, "b": ["x"]}, {"a": "s", "c": null}, {"b": [2]}]));
        let one = infer("t", vec!["t:*".into()], Storage::JsonString, &v);
        v.reverse();
        let two = infer("t", vec!["t:*".into()], Storage::JsonString, &v);
        assert_eq!(one, two);
        assert_eq!(to_json(&one).unwrap(), to_json(&two).unwrap());
    }

    #[test]
    fn drafts_load_back_from_json_and_yaml() {
        let dir = std::env::temp_dir().join(format!("ferry-schema-infer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = samples(json!([
            {"name": "Ada", "age": 36, "at": "2026-12-01T10:00:00Z", "tags": ["x"], "addr": {"city": "Oslo"}, "n": null},
            {"name": "Bob", "age": 1.5, "at": "2026-12-01T10:00:00Z", "tags": [], "addr": {"city": "Rome"}}
        ]));
        for patterns in [
            vec!["user:*".to_string()],
            vec!["user:*".into(), "u:*".into()],
        ] {
            let s = infer("user", patterns.clone(), Storage::JsonString, &data);
            let json_path = dir.join("user-1.0.0.json");
            std::fs::write(&json_path, to_json(&s).unwrap()).unwrap();
            assert_eq!(crate::model::load::<SchemaFile>(&json_path).unwrap(), s);
            let yaml_path = dir.join("user-1.0.0.yaml");
            let yaml = to_yaml(&s).unwrap();
            std::fs::write(&yaml_path, &yaml).unwrap();
            assert_eq!(crate::model::load::<SchemaFile>(&yaml_path).unwrap(), s);
            let as_json: Value = serde_json::to_value(&s).unwrap();
            if patterns.len() == 1 {
                assert_eq!(as_json["keyPattern"], json!("user:*"));
                assert!(yaml.contains("keyPattern: user:*"), "{yaml}");
            } else {
                assert_eq!(as_json["keyPattern"], json!(["user:*", "u:*"]));
            }
        }
        let h = infer(
            "h",
            vec!["h:*".into()],
            Storage::Hash,
            &samples(json!([{"a": "1"}])),
        );
        let p = dir.join("h-1.0.0.yaml");
        std::fs::write(&p, to_yaml(&h).unwrap()).unwrap();
        assert_eq!(crate::model::load::<SchemaFile>(&p).unwrap(), h);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
