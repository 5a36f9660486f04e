//! The built-in transforms of a migration, applied to one stored value,
//! and their inverses (used by rollback).
//!
//! A value is a JSON object: a JSON-string key's document, or a hash's
//! fields (every value a string). Field names may be dotted paths into
//! nested objects (`address.city`). A transform that cannot apply to a
//! value (a field that must be a string is not one, a target already
//! exists) fails for that key with a reason; the caller leaves the key
//! untouched and reports it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// One step of a migration, as written in a migration file
/// (`{"type": "renameField", "from": "userName", "to": "fullName"}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Transform {
    /// Moves `from`'s value to `to` (absent `from`: nothing to do).
    #[serde(rename_all = "camelCase")]
    RenameField {
        from: String,
        to: String,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Sets `field` to `default_value` where it is absent. The default may
    /// be (or contain) `${NOW}` (RFC 3339 time of the run) or `${KEY}`.
    /// Its inverse removes the field: exact for values that lacked it, and
    /// the backup restores the others exactly.
    #[serde(rename_all = "camelCase")]
    AddField {
        field: String,
        default_value: Value,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Removes `field`. Reversible only with `restore_value` (the value
    /// rollback puts back); otherwise rollback needs the backup.
    #[serde(rename_all = "camelCase")]
    RemoveField {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore_value: Option<Value>,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Splits the string in `from` at `separator` into the fields `to`
    /// (the last one takes the rest) and removes `from`.
    #[serde(rename_all = "camelCase")]
    SplitField {
        from: String,
        to: Vec<String>,
        separator: String,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Joins the strings in `from` with `separator` into `to` and removes
    /// them (absent ones are skipped).
    #[serde(rename_all = "camelCase")]
    MergeField {
        from: Vec<String>,
        to: String,
        separator: String,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Converts `field` between kinds. Reversible when `from` is given.
    #[serde(rename_all = "camelCase")]
    ConvertType {
        field: String,
        to: Kind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Kind>,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Moves a field into or out of a nested object (`from`/`to` are paths).
    #[serde(rename_all = "camelCase")]
    MoveField {
        from: String,
        to: String,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Sets `field` to `value` where the condition holds (irreversible).
    #[serde(rename_all = "camelCase")]
    SetIf {
        field: String,
        value: Value,
        #[serde(rename = "where")]
        when: Condition,
    },
    /// Runs a Lua 5.1 script on the value, for what the built-ins cannot
    /// express (see [`crate::lua`] for what a script sees). Reversible
    /// when `inverse` (a script that undoes it) is given.
    #[serde(rename_all = "camelCase")]
    Lua {
        script: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inverse: Option<String>,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
}

/// A value kind for [`Transform::ConvertType`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    String,
    Number,
    Boolean,
    /// A time as RFC 3339 text (`2026-12-01T10:00:00Z`).
    TimestampRfc3339,
    /// A time as whole seconds since the Unix epoch.
    TimestampUnix,
    /// A time as milliseconds since the Unix epoch.
    TimestampUnixMs,
}

/// When a transform applies to a value (absent: always).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    /// The field holds exactly this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The field is present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// What a transform sees besides the value.
pub struct Context<'a> {
    /// The key's name (`${KEY}`).
    pub key: &'a str,
    /// The run's time as RFC 3339 (`${NOW}`), the same for every key.
    pub now: &'a str,
}

/// Why a transform could not change a value.
#[derive(Debug, Error, PartialEq)]
pub enum TransformError {
    #[error("field '{field}' must be {wanted}, it holds {found}")]
    WrongKind {
        field: String,
        wanted: &'static str,
        found: String,
    },
    #[error("field '{0}' already exists; the transform would overwrite it")]
    Exists(String),
    #[error("'{0}' is inside a value that is not an object")]
    NotAnObject(String),
    #[error("field '{field}': cannot convert {value} to {to:?}")]
    Convert {
        field: String,
        value: String,
        to: Kind,
    },
    /// A `lua` transform failed: Lua's message (syntax or runtime error),
    /// or why its result is not a JSON object.
    #[error("lua transform: {0}")]
    Lua(String),
    /// A `lua` transform exceeded its instruction budget.
    #[error("{}", crate::lua::TOO_LONG)]
    LuaTooLong,
}

impl Condition {
    fn holds(&self, doc: &Map<String, Value>) -> bool {
        let v = get(doc, &self.field);
        if let Some(want) = self.exists {
            if v.is_some() != want {
                return false;
            }
        }
        match &self.equals {
            Some(e) => v == Some(e),
            None => true,
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// The value at a dotted path.
fn get<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Removes and returns the value at a dotted path. Objects left empty on
/// the way are removed too, so moving a field out undoes moving it in
/// (an object that was empty before is the one case only the backup
/// restores exactly).
fn take(doc: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.split_once('.') {
        None => doc.remove(path),
        Some((first, rest)) => {
            let inner = doc.get_mut(first)?.as_object_mut()?;
            let v = take(inner, rest)?;
            if inner.is_empty() {
                doc.remove(first);
            }
            Some(v)
        }
    }
}

/// Sets the value at a dotted path, creating missing objects on the way.
fn put(doc: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), TransformError> {
    let (parent, last) = match path.rsplit_once('.') {
        None => {
            doc.insert(path.to_string(), value);
            return Ok(());
        }
        Some(x) => x,
    };
    let mut cur = doc;
    for p in parent.split('.') {
        let slot = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        cur = slot
            .as_object_mut()
            .ok_or_else(|| TransformError::NotAnObject(path.to_string()))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

fn string_at<'a>(
    doc: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, TransformError> {
    match get(doc, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TransformError::WrongKind {
            field: field.to_string(),
            wanted: "a string",
            found: short(other),
        }),
    }
}

/// `${NOW}` and `${KEY}` in a default value (inside strings, at any depth).
fn expand(v: &Value, ctx: &Context) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("${NOW}", ctx.now).replace("${KEY}", ctx.key)),
        Value::Array(a) => Value::Array(a.iter().map(|x| expand(x, ctx)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), expand(x, ctx))).collect())
        }
        other => other.clone(),
    }
}

impl Transform {
    fn condition(&self) -> Option<&Condition> {
        match self {
            Transform::RenameField { when, .. }
            | Transform::AddField { when, .. }
            | Transform::RemoveField { when, .. }
            | Transform::SplitField { when, .. }
            | Transform::MergeField { when, .. }
            | Transform::ConvertType { when, .. }
            | Transform::MoveField { when, .. }
            | Transform::Lua { when, .. } => when.as_ref(),
            Transform::SetIf { when, .. } => Some(when),
        }
    }

    /// Applies the transform to `doc`; on error `doc` is unchanged.
    pub fn apply(&self, doc: &mut Map<String, Value>, ctx: &Context) -> Result<(), TransformError> {
        if self.condition().is_some_and(|c| !c.holds(doc)) {
            return Ok(());
        }
        match self {
            Transform::RenameField { from, to, .. } | Transform::MoveField { from, to, .. } => {
                if get(doc, from).is_none() {
                    return Ok(());
                }
                if get(doc, to).is_some() {
                    return Err(TransformError::Exists(to.clone()));
                }
                let mut copy = doc.clone();
                if let Some(v) = take(&mut copy, from) {
                    put(&mut copy, to, v)?;
                }
                *doc = copy;
                Ok(())
            }
            Transform::AddField {
                field,
                default_value,
                ..
            } => {
                if get(doc, field).is_none() {
                    put(doc, field, expand(default_value, ctx))?;
                }
                Ok(())
            }
            Transform::RemoveField { field, .. } => {
                take(doc, field);
                Ok(())
            }
            Transform::SplitField {
                from,
                to,
                separator,
                ..
            } => {
                let Some(s) = string_at(doc, from)? else {
                    return Ok(());
                };
                let parts: Vec<String> = s
                    .splitn(to.len().max(1), separator.as_str())
                    .map(str::to_string)
                    .collect();
                for t in to {
                    if t != from && get(doc, t).is_some() {
                        return Err(TransformError::Exists(t.clone()));
                    }
                }
                let mut copy = doc.clone();
                take(&mut copy, from);
                for (t, p) in to.iter().zip(parts) {
                    put(&mut copy, t, Value::String(p))?;
                }
                *doc = copy;
                Ok(())
            }
            Transform::MergeField {
                from,
                to,
                separator,
                ..
            } => {
                let mut parts = Vec::new();
                for f in from {
                    if let Some(s) = string_at(doc, f)? {
                        parts.push(s.to_string());
                    }
                }
                if parts.is_empty() {
                    return Ok(());
                }
                if !from.contains(to) && get(doc, to).is_some() {
                    return Err(TransformError::Exists(to.clone()));
                }
                let mut copy = doc.clone();
                for f in from {
                    take(&mut copy, f);
                }
                put(&mut copy, to, Value::String(parts.join(separator)))?;
                *doc = copy;
                Ok(())
            }
            Transform::ConvertType { field, to, .. } => {
                let Some(v) = get(doc, field) else {
                    return Ok(());
                };
                let converted = convert(v, *to).ok_or_else(|| TransformError::Convert {
                    field: field.clone(),
                    value: short(v),
                    to: *to,
                })?;
                put(doc, field, converted)
            }
            Transform::SetIf { field, value, .. } => put(doc, field, expand(value, ctx)),
            Transform::Lua { script, .. } => {
                *doc = crate::lua::run(script, doc, ctx)?;
                Ok(())
            }
        }
    }

    /// Checks what can be checked before any value is seen: a `lua`
    /// transform's scripts compile. Other transforms always pass.
    pub fn check(&self) -> Result<(), TransformError> {
        if let Transform::Lua {
            script, inverse, ..
        } = self
        {
            crate::lua::check(script)?;
            if let Some(inverse) = inverse {
                crate::lua::check(inverse).map_err(|e| match e {
                    TransformError::Lua(m) => TransformError::Lua(format!("inverse: {m}")),
                    other => other,
                })?;
            }
        }
        Ok(())
    }

    /// The transform that undoes this one, or None when it cannot be
    /// undone from the value alone (rollback then needs the backup). A
    /// condition on the forward step is not carried over: the inverse
    /// cannot tell from the result which values it changed, and applies
    /// wherever its own input is present.
    pub fn inverse(&self) -> Option<Transform> {
        Some(match self.clone() {
            Transform::RenameField { from, to, .. } => Transform::RenameField {
                from: to,
                to: from,
                when: None,
            },
            Transform::AddField {
                field,
                default_value,
                ..
            } => Transform::RemoveField {
                field,
                restore_value: Some(default_value),
                when: None,
            },
            Transform::RemoveField {
                field,
                restore_value: Some(v),
                ..
            } => Transform::AddField {
                field,
                default_value: v,
                when: None,
            },
            Transform::RemoveField {
                restore_value: None,
                ..
            } => return None,
            Transform::SplitField {
                from,
                to,
                separator,
                ..
            } => Transform::MergeField {
                from: to,
                to: from,
                separator,
                when: None,
            },
            Transform::MergeField {
                from,
                to,
                separator,
                ..
            } => Transform::SplitField {
                from: to,
                to: from,
                separator,
                when: None,
            },
            Transform::ConvertType {
                field,
                to,
                from: Some(from),
                ..
            } => Transform::ConvertType {
                field,
                to: from,
                from: Some(to),
                when: None,
            },
            Transform::ConvertType { from: None, .. } => return None,
            Transform::MoveField { from, to, .. } => Transform::MoveField {
                from: to,
                to: from,
                when: None,
            },
            Transform::SetIf { .. } => return None,
            Transform::Lua {
                script,
                inverse: Some(inverse),
                ..
            } => Transform::Lua {
                script: inverse,
                inverse: Some(script),
                when: None,
            },
            Transform::Lua { inverse: None, .. } => return None,
        })
    }
}

/// Converts a value to `to`; None when it cannot be.
fn convert(v: &Value, to: Kind) -> Option<Value> {
    match to {
        Kind::String => Some(Value::String(match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        })),
        Kind::Number => match v {
            Value::Number(_) => Some(v.clone()),
            Value::String(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Some(Value::from(i))
                } else {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                }
            }
            Value::Bool(b) => Some(Value::from(u8::from(*b))),
            _ => None,
        },
        Kind::Boolean => match v {
            Value::Bool(_) => Some(v.clone()),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(Value::Bool(true)),
                "false" | "0" | "no" => Some(Value::Bool(false)),
                _ => None,
            },
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(Value::Bool(false)),
                Some(1) => Some(Value::Bool(true)),
                _ => None,
            },
            _ => None,
        },
        Kind::TimestampUnix | Kind::TimestampUnixMs | Kind::TimestampRfc3339 => {
            let ms = timestamp_ms(v)?;
            Some(match to {
                Kind::TimestampUnix => Value::from(ms.div_euclid(1000)),
                Kind::TimestampUnixMs => Value::from(ms),
                _ => Value::String(format_rfc3339(ms)),
            })
        }
    }
}

/// Milliseconds since the epoch of a timestamp given as RFC 3339 text or a
/// number (seconds below 10^11, else milliseconds).
fn timestamp_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            let x = n.as_i64()?;
            Some(if x.abs() < 100_000_000_000 {
                x * 1000
            } else {
                x
            })
        }
        Value::String(s) => {
            let t = s.trim();
            if let Ok(x) = t.parse::<i64>() {
                return timestamp_ms(&Value::from(x));
            }
            parse_rfc3339(t)
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` to milliseconds since the epoch.
/// Written here (thirty lines) rather than adding a date crate for it.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        ms = format!("{:0<3}", &f[..f.len().min(3)]).parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60) * 1000) + ms)
}

/// Milliseconds since the epoch as RFC 3339 in UTC (milliseconds shown
/// when not zero).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    );
    if milli == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{milli:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            key: "user:1",
            now: "2026-12-01T10:00:00Z",
        }
    }

    fn t(v: Value) -> Transform {
        serde_json::from_value(v).expect("transform")
    }

    /// Applies `tr` then its inverse and checks both results.
    fn round_trip(tr: &Transform, before: Value, after: Value) {
        let mut d = doc(before.clone());
        tr.apply(&mut d, &ctx()).expect("forward");
        assert_eq!(Value::Object(d.clone()), after, "forward of {tr:?}");
        let inv = tr.inverse().expect("inverse");
        inv.apply(&mut d, &ctx()).expect("inverse");
        assert_eq!(Value::Object(d), before, "inverse of {tr:?}");
    }

    #[test]
    fn files_parse_as_the_seed_writes_them() {
        let tr = t(json!({"type": "renameField", "from": "userName", "to": "fullName"}));
        assert_eq!(
            tr,
            Transform::RenameField {
                from: "userName".into(),
                to: "fullName".into(),
                when: None
            }
        );
        let tr = t(json!({"type": "addField", "field": "createdAt", "defaultValue": "${NOW}"}));
        assert!(matches!(tr, Transform::AddField { .. }));
        let tr = t(
            json!({"type": "splitField", "from": "fullName", "to": ["firstName", "lastName"], "separator": " "}),
        );
        assert!(matches!(tr, Transform::SplitField { .. }));
        let err = serde_json::from_value::<Transform>(
            json!({"type": "renameField", "from": "a", "too": "b"}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("too") || err.contains("missing field `to`"),
            "{err}"
        );
        assert!(serde_json::from_value::<Transform>(json!({"type": "explode"})).is_err());
    }

    #[test]
    fn rename_and_its_inverse() {
        let tr = t(json!({"type": "renameField", "from": "userName", "to": "fullName"}));
        round_trip(
            &tr,
            json!({"userName": "Ada Lovelace", "age": 36}),
            json!({"fullName": "Ada Lovelace", "age": 36}),
        );
        // Absent source: nothing happens. Existing target: refused.
        let mut d = doc(json!({"age": 1}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"age": 1}));
        let mut d = doc(json!({"userName": "a", "fullName": "b"}));
        assert_eq!(
            tr.apply(&mut d, &ctx()),
            Err(TransformError::Exists("fullName".into()))
        );
        assert_eq!(Value::Object(d), json!({"userName": "a", "fullName": "b"}));
    }

    #[test]
    fn add_field_expands_now_and_key() {
        let tr = t(
            json!({"type": "addField", "field": "meta", "defaultValue": {"at": "${NOW}", "id": "${KEY}", "n": 1}}),
        );
        round_trip(
            &tr,
            json!({"a": 1}),
            json!({"a": 1, "meta": {"at": "2026-12-01T10:00:00Z", "id": "user:1", "n": 1}}),
        );
        // Present: kept as it is.
        let mut d = doc(json!({"meta": 5}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"meta": 5}));
    }

    #[test]
    fn remove_field_is_reversible_only_with_a_restore_value() {
        let tr = t(json!({"type": "removeField", "field": "legacy"}));
        let mut d = doc(json!({"legacy": 1, "b": 2}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"b": 2}));
        assert_eq!(tr.inverse(), None);
        let tr = t(json!({"type": "removeField", "field": "flag", "restoreValue": false}));
        round_trip(&tr, json!({"flag": false, "b": 2}), json!({"b": 2}));
    }

    #[test]
    fn split_and_merge_are_inverses() {
        let tr = t(
            json!({"type": "splitField", "from": "fullName", "to": ["firstName", "lastName"], "separator": " "}),
        );
        round_trip(
            &tr,
            json!({"fullName": "Ada King Lovelace"}),
            json!({"firstName": "Ada", "lastName": "King Lovelace"}),
        );
        let mut d = doc(json!({"fullName": 5}));
        assert!(matches!(
            tr.apply(&mut d, &ctx()),
            Err(TransformError::WrongKind { .. })
        ));
        let tr = t(
            json!({"type": "mergeField", "from": ["city", "zip"], "to": "place", "separator": "|"}),
        );
        round_trip(
            &tr,
            json!({"city": "Paris", "zip": "75001"}),
            json!({"place": "Paris|75001"}),
        );
    }

    #[test]
    fn move_into_and_out_of_nested_objects() {
        let tr = t(json!({"type": "moveField", "from": "city", "to": "address.city"}));
        round_trip(
            &tr,
            json!({"city": "Oslo", "address": {"zip": "0150"}}),
            json!({"address": {"zip": "0150", "city": "Oslo"}}),
        );
        round_trip(
            &tr,
            json!({"city": "Oslo", "name": "x"}),
            json!({"address": {"city": "Oslo"}, "name": "x"}),
        );
        let mut d = doc(json!({"city": "Oslo", "address": "flat 2"}));
        assert_eq!(
            tr.apply(&mut d, &ctx()),
            Err(TransformError::NotAnObject("address.city".into()))
        );
        assert_eq!(
            Value::Object(d),
            json!({"city": "Oslo", "address": "flat 2"}),
            "unchanged on error"
        );
    }

    #[test]
    fn convert_types_and_back() {
        let tr =
            t(json!({"type": "convertType", "field": "age", "to": "number", "from": "string"}));
        round_trip(&tr, json!({"age": "36"}), json!({"age": 36}));
        let tr =
            t(json!({"type": "convertType", "field": "on", "to": "boolean", "from": "string"}));
        round_trip(&tr, json!({"on": "true"}), json!({"on": true}));
        let tr = t(
            json!({"type": "convertType", "field": "at", "to": "timestamp-unix", "from": "timestamp-rfc3339"}),
        );
        round_trip(
            &tr,
            json!({"at": "2026-12-01T10:00:00Z"}),
            json!({"at": 1_796_119_200}),
        );
        let mut d = doc(json!({"at": "2026-12-01T11:30:00.250+01:30"}));
        t(json!({"type": "convertType", "field": "at", "to": "timestamp-unix-ms"}))
            .apply(&mut d, &ctx())
            .unwrap();
        assert_eq!(Value::Object(d), json!({"at": 1_796_119_200_250i64}));
        let mut d = doc(json!({"age": "thirty"}));
        let e = tr_convert("age", Kind::Number)
            .apply(&mut d, &ctx())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 'age': cannot convert \"thirty\" to Number"
        );
        assert_eq!(
            t(json!({"type": "convertType", "field": "age", "to": "number"})).inverse(),
            None
        );
    }

    fn tr_convert(field: &str, to: Kind) -> Transform {
        Transform::ConvertType {
            field: field.into(),
            to,
            from: None,
            when: None,
        }
    }

    #[test]
    fn timestamps_round_trip_through_text() {
        for ms in [
            0i64,
            1,
            999,
            86_399_999,
            951_782_400_000,
            1_796_119_200_250,
            -1,
            -86_400_001,
            253_402_300_799_000,
        ] {
            let text = format_rfc3339(ms);
            assert_eq!(parse_rfc3339(&text), Some(ms), "{text}");
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-12-01 00:00",
            "2026-12-01T00:00:00",
            "2026-12-01T00:00:00+0100",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn where_conditions_and_set_if() {
        let tr = t(
            json!({"type": "addField", "field": "tier", "defaultValue": "gold", "where": {"field": "vip", "equals": true}}),
        );
        let mut d = doc(json!({"vip": false}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"vip": false}));
        let mut d = doc(json!({"vip": true}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"vip": true, "tier": "gold"}));
        let tr = t(
            json!({"type": "setIf", "field": "status", "value": "legacy", "where": {"field": "createdAt", "exists": false}}),
        );
        let mut d = doc(json!({"status": "new"}));
        tr.apply(&mut d, &ctx()).unwrap();
        assert_eq!(Value::Object(d), json!({"status": "legacy"}));
        assert_eq!(tr.inverse(), None);
    }
}
