//! The runtime of the `lua` transform: a sandboxed Lua 5.1 state per
//! thread, each script compiled once, and documents converted between
//! JSON and Lua tables.
//!
//! A script sees these globals:
//!
//! - `doc`: the value, a table (JSON objects and arrays are tables, JSON
//!   null is `json_null`);
//! - `key`: the key's name; `now`: the run's time (RFC 3339);
//! - `json_null`: the JSON null value (`doc.x == json_null`);
//! - `json_array(t)`: marks `t` (or a new table) as a JSON array, so it
//!   stays one when empty;
//! - the base functions without file access or code loading (`assert`,
//!   `error`, `ipairs`, `next`, `pairs`, `pcall`, `select`, `tonumber`,
//!   `tostring`, `type`, `unpack`, `xpcall`, `raw*`), and the `string`,
//!   `table` and `math` libraries. No `io`, `os`, `debug`, `load*`,
//!   `require`, `coroutine`.
//!
//! The script changes `doc` in place (or assigns a new table to it), or
//! returns a new table; that table becomes the value. Globals a script
//! sets last for that key only; the library tables are shared and must
//! not be changed.
//!
//! Converting back: a table whose keys are exactly 1..n is an array, one
//! whose keys are all strings is an object; an empty table is an object
//! unless it came from a JSON array or went through `json_array`; an
//! array with a hole (`t[2] = nil`; use `table.remove`) fails the key. Lua
//! numbers are doubles: one without a fraction is written as a JSON
//! integer (so `2.0` comes back as `2`), and a JSON integer beyond 2^53
//! (which a double cannot hold exactly) fails the key rather than change
//! its value.

use crate::transform::{Context, TransformError};
use mlua::{Function, HookTriggers, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table};
use serde_json::{Map, Number, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Instructions between two checks of the budget.
const HOOK_EVERY: u32 = 10_000;
/// Budget of one run, in hook calls: 10 million instructions, orders of
/// magnitude more than reshaping one document takes.
const HOOK_BUDGET: u32 = 1_000;
/// Memory a thread's Lua state may use.
const MEMORY_LIMIT: usize = 512 << 20;
/// Nesting depth of tables converted to JSON (a table that contains
/// itself would otherwise recurse forever); serde_json's parser limit.
const MAX_DEPTH: usize = 128;
/// Scripts compiled per thread before the cache starts over.
const CACHE_LIMIT: usize = 256;
/// Integers a double holds exactly (2^53).
const EXACT: u64 = 1 << 53;
/// Chunk name, so messages read `script:3: ...`.
const CHUNK: &str = "=script";

/// Text of the error a script that exceeds its budget fails with.
pub(crate) const TOO_LONG: &str = "the lua transform ran too long";

thread_local! {
    static RUNTIME: Result<Runtime, String> = Runtime::new().map_err(|e| message(&e));
}

/// Runs `script` on `doc` and returns the new document (`doc` itself is
/// not changed).
pub(crate) fn run(
    script: &str,
    doc: &Map<String, Value>,
    ctx: &Context,
) -> Result<Map<String, Value>, TransformError> {
    with_runtime(|rt| rt.run(script, doc, ctx))
}

/// Compiles `script` (and keeps it for later runs on this thread), so a
/// syntax error shows when a migration is loaded.
pub(crate) fn check(script: &str) -> Result<(), TransformError> {
    with_runtime(|rt| rt.function(script).map(|_| ()))
}

fn with_runtime<T>(
    f: impl FnOnce(&Runtime) -> Result<T, TransformError>,
) -> Result<T, TransformError> {
    RUNTIME.with(|rt| match rt {
        Ok(rt) => f(rt),
        Err(e) => Err(TransformError::Lua(format!("cannot start Lua: {e}"))),
    })
}

struct Runtime {
    lua: Lua,
    compiled: RefCell<HashMap<String, Function>>,
    /// `{__index = sandbox}`: the metatable of each run's globals.
    env_meta: Table,
    /// Marks tables that are JSON arrays.
    array_mt: Table,
    /// Hook calls left in the current run.
    budget: Rc<Cell<u32>>,
    /// The current run exceeded its budget: every hook call and every
    /// `pcall` return raises again, so the script cannot catch it and
    /// carry on.
    stopped: Rc<Cell<bool>>,
}

fn null() -> mlua::Value {
    mlua::Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

impl Runtime {
    fn new() -> mlua::Result<Runtime> {
        // The base library always loads; the rest is what a transform
        // needs. `new_with` refuses unsafe libraries and binary chunks.
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::new(),
        )?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let budget = Rc::new(Cell::new(HOOK_BUDGET));
        let stopped = Rc::new(Cell::new(false));
        let (hook_budget, hook_stopped) = (budget.clone(), stopped.clone());
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                let left = hook_budget.get();
                if left == 0 || hook_stopped.get() {
                    hook_stopped.set(true);
                    return Err(mlua::Error::RuntimeError(TOO_LONG.into()));
                }
                hook_budget.set(left - 1);
                Ok(mlua::VmState::Continue)
            },
        )?;
        let globals = lua.globals();
        let sandbox = lua.create_table()?;
        for name in [
            "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawset", "select",
            "tonumber", "tostring", "type", "unpack", "_VERSION", "string", "table", "math",
        ] {
            sandbox.raw_set(name, globals.raw_get::<mlua::Value>(name)?)?;
        }
        let check_stopped = stopped.clone();
        let recheck = lua.create_function(move |_, results: MultiValue| {
            if check_stopped.get() {
                return Err(mlua::Error::RuntimeError(TOO_LONG.into()));
            }
            Ok(results)
        })?;
        let (pcall, xpcall): (Function, Function) = lua
            .load(
                "local pcall, xpcall, recheck = ...
                 return function(...) return recheck(pcall(...)) end,
                        function(...) return recheck(xpcall(...)) end",
            )
            .set_name("=sandbox")
            .call((
                globals.raw_get::<Function>("pcall")?,
                globals.raw_get::<Function>("xpcall")?,
                recheck,
            ))?;
        sandbox.raw_set("pcall", pcall)?;
        sandbox.raw_set("xpcall", xpcall)?;
        sandbox.raw_set("json_null", null())?;
        let array_mt = lua.create_table()?;
        array_mt.raw_set("__metatable", "json array")?;
        let mt = array_mt.clone();
        sandbox.raw_set(
            "json_array",
            lua.create_function(move |lua, t: Option<Table>| {
                let t = match t {
                    Some(t) => t,
                    None => lua.create_table()?,
                };
                t.set_metatable(Some(mt.clone()))?;
                Ok(t)
            })?,
        )?;
        let env_meta = lua.create_table()?;
        env_meta.raw_set("__index", sandbox)?;
        Ok(Runtime {
            lua,
            compiled: RefCell::new(HashMap::new()),
            env_meta,
            array_mt,
            budget,
            stopped,
        })
    }

    fn function(&self, script: &str) -> Result<Function, TransformError> {
        if let Some(f) = self.compiled.borrow().get(script) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(script)
            .set_name(CHUNK)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| TransformError::Lua(message(&e)))?;
        let mut cache = self.compiled.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(script.to_string(), f.clone());
        Ok(f)
    }

    fn run(
        &self,
        script: &str,
        doc: &Map<String, Value>,
        ctx: &Context,
    ) -> Result<Map<String, Value>, TransformError> {
        let f = self.function(script)?;
        let lua_err = |e: mlua::Error| TransformError::Lua(message(&e));
        let env = self.lua.create_table_with_capacity(0, 3).map_err(lua_err)?;
        env.set_metatable(Some(self.env_meta.clone()))
            .map_err(lua_err)?;
        let lua_doc = self.object_to_lua(doc).map_err(ConvError::into_transform)?;
        env.raw_set("doc", lua_doc).map_err(lua_err)?;
        env.raw_set("key", ctx.key).map_err(lua_err)?;
        env.raw_set("now", ctx.now).map_err(lua_err)?;
        f.set_environment(env.clone()).map_err(lua_err)?;
        self.budget.set(HOOK_BUDGET);
        self.stopped.set(false);
        let outcome = f.call::<mlua::Value>(());
        let stopped = self.stopped.replace(false);
        if stopped {
            return Err(TransformError::LuaTooLong);
        }
        let result = match outcome.map_err(lua_err)? {
            mlua::Value::Nil => env.raw_get::<mlua::Value>("doc").map_err(lua_err)?,
            other => other,
        };
        let mlua::Value::Table(t) = result else {
            return Err(TransformError::Lua(format!(
                "the result must be a table with string keys (a JSON object), not {}",
                lua_type(&result)
            )));
        };
        match self
            .table_to_json(&t, 0)
            .map_err(ConvError::into_transform)?
        {
            Value::Object(m) => Ok(m),
            _ => Err(TransformError::Lua(
                "the result must be a table with string keys (a JSON object), not an array".into(),
            )),
        }
    }

    fn object_to_lua(&self, m: &Map<String, Value>) -> Result<mlua::Value, ConvError> {
        let t = self
            .lua
            .create_table_with_capacity(0, m.len())
            .map_err(ConvError::lua)?;
        for (k, v) in m {
            let lv = self.to_lua(v).map_err(|e| e.under(k))?;
            t.raw_set(k.as_str(), lv).map_err(ConvError::lua)?;
        }
        Ok(mlua::Value::Table(t))
    }

    fn to_lua(&self, v: &Value) -> Result<mlua::Value, ConvError> {
        Ok(match v {
            Value::Null => null(),
            Value::Bool(b) => mlua::Value::Boolean(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    if i.unsigned_abs() > EXACT {
                        return Err(ConvError::new(format!(
                            "holds {i}, beyond the integers a Lua number holds exactly (2^53)"
                        )));
                    }
                    mlua::Value::Integer(i)
                } else if let Some(u) = n.as_u64() {
                    return Err(ConvError::new(format!(
                        "holds {u}, beyond the integers a Lua number holds exactly (2^53)"
                    )));
                } else {
                    mlua::Value::Number(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => {
                mlua::Value::String(self.lua.create_string(s).map_err(ConvError::lua)?)
            }
            Value::Array(a) => {
                let t = self
                    .lua
                    .create_table_with_capacity(a.len(), 0)
                    .map_err(ConvError::lua)?;
                for (i, x) in a.iter().enumerate() {
                    let lv = self.to_lua(x).map_err(|e| e.under(&i.to_string()))?;
                    t.raw_set(i + 1, lv).map_err(ConvError::lua)?;
                }
                t.set_metatable(Some(self.array_mt.clone()))
                    .map_err(ConvError::lua)?;
                mlua::Value::Table(t)
            }
            Value::Object(m) => self.object_to_lua(m)?,
        })
    }

    fn to_json(&self, v: mlua::Value, depth: usize) -> Result<Value, ConvError> {
        Ok(match v {
            mlua::Value::Nil => Value::Null,
            mlua::Value::Boolean(b) => Value::Bool(b),
            mlua::Value::LightUserData(p) if p.0.is_null() => Value::Null,
            mlua::Value::Integer(i) => Value::from(i),
            mlua::Value::Number(f) => Value::Number(
                Number::from_f64(f)
                    .ok_or_else(|| ConvError::new(format!("holds {f}, which JSON cannot hold")))?,
            ),
            mlua::Value::String(s) => Value::String(
                s.to_str()
                    .map_err(|_| ConvError::new("holds a string that is not UTF-8 text".into()))?
                    .to_string(),
            ),
            mlua::Value::Table(t) => self.table_to_json(&t, depth + 1)?,
            other => {
                return Err(ConvError::new(format!(
                    "holds a {}, which JSON cannot hold",
                    lua_type(&other)
                )))
            }
        })
    }

    fn table_to_json(&self, t: &Table, depth: usize) -> Result<Value, ConvError> {
        if depth > MAX_DEPTH {
            return Err(ConvError::new(format!(
                "nests tables deeper than {MAX_DEPTH} (a table that contains itself?)"
            )));
        }
        let mut entries: Vec<(mlua::Value, mlua::Value)> = Vec::new();
        t.for_each(|k, v| {
            entries.push((k, v));
            Ok(())
        })
        .map_err(ConvError::lua)?;
        let marked = t.metatable().is_some_and(|m| m == self.array_mt);
        let n = entries.len();
        let as_index = |k: &mlua::Value| match k {
            mlua::Value::Integer(i) if *i >= 1 && (*i as u64) <= n as u64 => Some(*i as usize),
            _ => None,
        };
        if n == 0 {
            return Ok(if marked {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            });
        }
        if entries.iter().all(|(k, _)| as_index(k).is_some()) {
            // Keys are distinct and all in 1..=n: exactly 1..=n.
            let mut items: Vec<Value> = vec![Value::Null; n];
            for (k, v) in entries {
                let i = as_index(&k).unwrap_or(1);
                items[i - 1] = self
                    .to_json(v, depth)
                    .map_err(|e| e.under(&i.to_string()))?;
            }
            return Ok(Value::Array(items));
        }
        if marked {
            return Err(ConvError::new(
                "is marked as an array but its keys are not 1..n".into(),
            ));
        }
        let mut m = Map::new();
        for (k, v) in entries {
            let mlua::Value::String(k) = k else {
                return Err(ConvError::new(format!(
                    "has a {} key: a table's keys must be strings (an object) or 1..n (an array)",
                    lua_type(&k)
                )));
            };
            let k = k
                .to_str()
                .map_err(|_| ConvError::new("has a key that is not UTF-8 text".into()))?
                .to_string();
            let jv = self.to_json(v, depth).map_err(|e| e.under(&k))?;
            m.insert(k, jv);
        }
        Ok(Value::Object(m))
    }
}

/// A value that cannot cross between JSON and Lua, and where it is.
struct ConvError {
    /// Path segments, innermost first.
    path: Vec<String>,
    what: String,
}

impl ConvError {
    fn new(what: String) -> ConvError {
        ConvError {
            path: Vec::new(),
            what,
        }
    }

    fn lua(e: mlua::Error) -> ConvError {
        ConvError::new(message(&e))
    }

    fn under(mut self, segment: &str) -> ConvError {
        self.path.push(segment.to_string());
        self
    }

    fn into_transform(self) -> TransformError {
        if self.path.is_empty() {
            return TransformError::Lua(format!("the document {}", self.what));
        }
        let path: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
        TransformError::Lua(format!("field '{}' {}", path.join("."), self.what))
    }
}

/// The type name Lua itself gives (`type(v)`).
fn lua_type(v: &mlua::Value) -> &'static str {
    match v {
        mlua::Value::Integer(_) | mlua::Value::Number(_) => "number",
        mlua::Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

/// Lua's own message, without mlua's prefixes and traceback.
fn message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => return message(cause),
        other => other.to_string(),
    };
    match text.find("\nstack traceback:") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use crate::transform::{Context, Transform, TransformError};
    use serde_json::{json, Map, Value};

    fn ctx() -> Context<'static> {
        Context {
            key: "user:1",
            now: "2026-12-01T10:00:00Z",
        }
    }

    fn lua(script: &str) -> Transform {
        Transform::Lua {
            script: script.into(),
            inverse: None,
            when: None,
        }
    }

    fn apply(tr: &Transform, v: Value) -> Result<Value, TransformError> {
        let Value::Object(mut m) = v else {
            panic!("not an object")
        };
        tr.apply(&mut m, &ctx())?;
        Ok(Value::Object(m))
    }

    fn err(tr: &Transform, v: Value) -> String {
        apply(tr, v).unwrap_err().to_string()
    }

    #[test]
    fn parses_from_a_migration_file() {
        let tr: Transform = serde_json::from_value(json!({
            "type": "lua", "script": "doc.a = 1", "inverse": "doc.a = nil",
            "where": {"field": "v", "exists": true}
        }))
        .unwrap();
        assert!(matches!(
            &tr,
            Transform::Lua {
                inverse: Some(_),
                when: Some(_),
                ..
            }
        ));
        assert_eq!(
            serde_json::to_value(lua("x()")).unwrap(),
            json!({"type": "lua", "script": "x()"})
        );
        assert!(serde_json::from_value::<Transform>(json!({"type": "lua"})).is_err());
    }

    #[test]
    fn renames_with_an_inverse() {
        let tr = Transform::Lua {
            script: "doc.fullName = doc.userName; doc.userName = nil".into(),
            inverse: Some("doc.userName = doc.fullName; doc.fullName = nil".into()),
            when: None,
        };
        let before = json!({"userName": "Ada", "age": 36});
        let after = apply(&tr, before.clone()).unwrap();
        assert_eq!(after, json!({"fullName": "Ada", "age": 36}));
        let inv = tr.inverse().expect("inverse");
        assert_eq!(apply(&inv, after).unwrap(), before);
        assert_eq!(inv.inverse(), Some(tr));
        assert_eq!(lua("doc.a = 1").inverse(), None);
    }

    #[test]
    fn computes_fields_from_doc_key_and_now() {
        let tr = lua(
            "doc.total = doc.price * doc.qty; doc.id = key; doc.at = now; \
                      doc.name = string.upper(doc.name) .. '!'; doc.n = #doc.tags",
        );
        assert_eq!(
            apply(
                &tr,
                json!({"price": 2.5, "qty": 4, "name": "ada", "tags": ["a", "b"]})
            )
            .unwrap(),
            json!({"price": 2.5, "qty": 4, "total": 10, "id": "user:1",
                   "at": "2026-12-01T10:00:00Z", "name": "ADA!", "n": 2, "tags": ["a", "b"]})
        );
    }

    #[test]
    fn a_returned_or_assigned_table_becomes_the_document() {
        let tr = lua("return {id = key, first = doc.name}");
        assert_eq!(
            apply(&tr, json!({"name": "Ada", "x": 1})).unwrap(),
            json!({"id": "user:1", "first": "Ada"})
        );
        let tr = lua("doc = {only = true}");
        assert_eq!(apply(&tr, json!({"a": 1})).unwrap(), json!({"only": true}));
        let tr = lua("return {}");
        assert_eq!(apply(&tr, json!({"a": 1})).unwrap(), json!({}));
    }

    #[test]
    fn nested_objects_and_arrays_round_trip() {
        let v = json!({
            "address": {"city": "Oslo", "geo": {"lat": 59.91, "lon": 10.75}, "empty": {}},
            "tags": ["a", "b"], "none": [], "matrix": [[1, 2], [], [{"x": null}]],
            "flag": false, "text": "héllo ✓", "n": null, "neg": -7
        });
        assert_eq!(apply(&lua(""), v.clone()).unwrap(), v);
        let tr = lua("table.insert(doc.tags, 'c'); doc.address.geo.lat = nil; \
                      doc.made = {1, 2, {k = 'v'}}; doc.emptyObj = {}; doc.emptyArr = json_array(); \
                      doc.marked = json_array({'z'})");
        assert_eq!(
            apply(
                &tr,
                json!({"tags": ["a"], "address": {"geo": {"lat": 1, "lon": 2}}})
            )
            .unwrap(),
            json!({"tags": ["a", "c"], "address": {"geo": {"lon": 2}}, "made": [1, 2, {"k": "v"}],
                   "emptyObj": {}, "emptyArr": [], "marked": ["z"]})
        );
    }

    #[test]
    fn integers_stay_integers_and_fractions_stay_fractions() {
        let tr = lua("doc.j = doc.i * 2; doc.h = doc.f * 2; doc.q = doc.i / 2; doc.big = 2^60");
        assert_eq!(
            apply(
                &tr,
                json!({"i": 3, "f": 2.25, "whole": 2.0, "max": 9007199254740992i64})
            )
            .unwrap(),
            json!({"i": 3, "j": 6, "f": 2.25, "h": 4.5, "q": 1.5, "whole": 2,
                   "max": 9007199254740992i64, "big": 1152921504606846976i64})
        );
        assert_eq!(
            err(&lua(""), json!({"a": {"id": 9007199254740993i64}})),
            "lua transform: field 'a.id' holds 9007199254740993, beyond the integers a Lua number holds exactly (2^53)"
        );
        assert_eq!(
            err(&lua("doc.x = 0/0"), json!({})),
            "lua transform: field 'x' holds NaN, which JSON cannot hold"
        );
        assert_eq!(
            err(&lua("doc.x = {1, math.huge}"), json!({})),
            "lua transform: field 'x.2' holds inf, which JSON cannot hold"
        );
    }

    #[test]
    fn json_null_is_a_value_and_nil_removes() {
        let tr = lua("if doc.a == json_null then doc.wasNull = true end; \
                      doc.b = nil; doc.c = json_null; doc.list[2] = json_null");
        assert_eq!(
            apply(&tr, json!({"a": null, "b": 1, "list": [1, 2, 3]})).unwrap(),
            json!({"a": null, "wasNull": true, "c": null, "list": [1, null, 3]})
        );
    }

    #[test]
    fn where_condition_is_respected() {
        let tr = Transform::Lua {
            script: "doc.tier = 'gold'".into(),
            inverse: None,
            when: Some(serde_json::from_value(json!({"field": "vip", "equals": true})).unwrap()),
        };
        assert_eq!(
            apply(&tr, json!({"vip": false})).unwrap(),
            json!({"vip": false})
        );
        assert_eq!(
            apply(&tr, json!({"vip": true})).unwrap(),
            json!({"vip": true, "tier": "gold"})
        );
    }

    #[test]
    fn syntax_errors_show_at_load_and_at_apply() {
        let tr = lua("doc.a = = 1");
        let e = tr.check().unwrap_err().to_string();
        assert_eq!(e, "lua transform: script:1: unexpected symbol near '='");
        assert_eq!(err(&tr, json!({})), e);
        let tr = Transform::Lua {
            script: "doc.a = 1".into(),
            inverse: Some("if then".into()),
            when: None,
        };
        assert_eq!(
            tr.check().unwrap_err().to_string(),
            "lua transform: inverse: script:1: unexpected symbol near 'then'"
        );
        assert_eq!(lua("doc.a = 1").check(), Ok(()));
        let builtin: Transform =
            serde_json::from_value(json!({"type": "removeField", "field": "a"})).unwrap();
        assert_eq!(builtin.check(), Ok(()));
    }

    #[test]
    fn runtime_errors_carry_the_lua_message() {
        assert_eq!(
            err(&lua("error('boom')"), json!({})),
            "lua transform: script:1: boom"
        );
        assert_eq!(
            err(&lua("\ndoc.x.y = 1"), json!({})),
            "lua transform: script:2: attempt to index field 'x' (a nil value)"
        );
        let v = json!({"a": 1});
        let tr = lua("doc.b = 2; error('late')");
        let Value::Object(mut m) = v.clone() else {
            unreachable!()
        };
        assert!(tr.apply(&mut m, &ctx()).is_err());
        assert_eq!(Value::Object(m), v, "unchanged on error");
    }

    #[test]
    fn results_that_are_not_objects_are_refused() {
        let not_object =
            "lua transform: the result must be a table with string keys (a JSON object)";
        assert_eq!(
            err(&lua("return 5"), json!({})),
            format!("{not_object}, not number")
        );
        assert_eq!(
            err(&lua("doc = nil"), json!({})),
            format!("{not_object}, not nil")
        );
        assert_eq!(
            err(&lua("return {1, 2}"), json!({})),
            format!("{not_object}, not an array")
        );
        assert_eq!(
            err(&lua("doc[true] = 1"), json!({})),
            "lua transform: the document has a boolean key: a table's keys must be strings (an object) or 1..n (an array)"
        );
        assert_eq!(
            err(&lua("doc.t = {1, 2, x = 3}"), json!({})),
            "lua transform: field 't' has a number key: a table's keys must be strings (an object) or 1..n (an array)"
        );
        assert!(err(&lua("doc.me = doc"), json!({})).contains("deeper than 128"));
        assert_eq!(
            err(&lua("doc.s = string.char(255)"), json!({})),
            "lua transform: field 's' holds a string that is not UTF-8 text"
        );
        assert_eq!(
            err(&lua("doc.list[2] = nil"), json!({"list": [1, 2, 3]})),
            "lua transform: field 'list' is marked as an array but its keys are not 1..n"
        );
        assert_eq!(
            apply(
                &lua("table.remove(doc.list, 2)"),
                json!({"list": [1, 2, 3]})
            )
            .unwrap(),
            json!({"list": [1, 3]})
        );
        assert_eq!(
            err(&lua("doc.f = print or string.len"), json!({})),
            "lua transform: field 'f' holds a function, which JSON cannot hold"
        );
    }

    #[test]
    fn runaway_scripts_are_stopped() {
        for script in [
            "while true do end",
            "while true do pcall(function() while true do end end) end",
            "local function f() return f() end while true do xpcall(f, function() end) end",
        ] {
            assert_eq!(
                apply(&lua(script), json!({})),
                Err(TransformError::LuaTooLong),
                "{script}"
            );
        }
        assert_eq!(
            TransformError::LuaTooLong.to_string(),
            "the lua transform ran too long"
        );
        // The next run starts with a fresh budget.
        let tr = lua("local s = 0 for i = 1, 100000 do s = s + i end doc.s = s");
        assert_eq!(apply(&tr, json!({})).unwrap(), json!({"s": 5000050000i64}));
    }

    #[test]
    fn the_sandbox_has_no_files_processes_or_loaders() {
        let tr = lua("return {os = type(os), io = type(io), debug = type(debug), \
                      loadstring = type(loadstring), load = type(load), dofile = type(dofile), \
                      loadfile = type(loadfile), require = type(require), package = type(package), \
                      coroutine = type(coroutine), setfenv = type(setfenv), getfenv = type(getfenv), \
                      print = type(print), string = type(string), math = type(math), table = type(table)}");
        assert_eq!(
            apply(&tr, json!({})).unwrap(),
            json!({"string": "table", "math": "table", "table": "table", "os": "nil", "io": "nil",
                   "debug": "nil", "loadstring": "nil", "load": "nil", "dofile": "nil",
                   "loadfile": "nil", "require": "nil", "package": "nil", "coroutine": "nil",
                   "setfenv": "nil", "getfenv": "nil", "print": "nil"})
        );
    }

    #[test]
    fn globals_do_not_leak_between_keys() {
        let tr = lua("n = (n or 0) + 1; doc.n = n");
        for _ in 0..3 {
            assert_eq!(apply(&tr, json!({})).unwrap(), json!({"n": 1}));
        }
    }

    #[test]
    fn many_keys_run_without_a_new_state() {
        let tr = lua("doc.total = (doc.a or 0) + (doc.b or 0)");
        let mut m = Map::new();
        for i in 0..20_000 {
            m.insert("a".into(), json!(i));
            m.insert("b".into(), json!(1));
            tr.apply(&mut m, &ctx()).unwrap();
            assert_eq!(m["total"], json!(i + 1));
        }
    }
}
