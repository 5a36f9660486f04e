//! Functions of the scripts' environment written in Rust: the `redis.*`
//! helpers that can fail, Redis's `math.random`, and the base functions that
//! must see through the read-only proxies (`pairs`, `next`, `rawget`,
//! `rawset`, `setmetatable`). Each fails with the text Lua or Redis would
//! (see `raise.rs` for why these are not Lua functions).

use crate::host::LogLevel;
use crate::raise::{self, bad_argument, type_error};
use crate::sandbox::{sha1_hex, Shared};
use ferry_resp::reply::format_g;
use ferry_resp::Protocol;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::cell::OnceCell;
use std::rc::Rc;

/// The proxy -> real table map the sandbox builds (weak keys).
pub(crate) type Backing = Rc<OnceCell<Table>>;

/// Lua's `lua_tonumber`: numbers, and strings that read as numbers.
pub(crate) fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        Value::String(s) => {
            let bytes = s.as_bytes();
            let text = std::str::from_utf8(&bytes).ok()?.trim();
            if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                return u64::from_str_radix(hex, 16).ok().map(|n| n as f64);
            }
            let lower = text.to_ascii_lowercase();
            if lower.contains("inf") || lower.contains("nan") {
                // strtod reads these too.
                return text.parse::<f64>().ok();
            }
            text.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// C's `(int)` cast of a double on x86-64.
fn to_c_int(n: f64) -> i32 {
    if n.is_finite() && n > i32::MIN as f64 - 1.0 && n < i32::MAX as f64 + 1.0 {
        n as i32
    } else {
        i32::MIN
    }
}

/// Lua's `lua_tolstring` for strings and numbers (`%.14g`); None otherwise.
pub(crate) fn to_lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(number_text(*n).into_bytes()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// How Lua 5.1 prints a number (`%.14g`).
pub(crate) fn number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    format_g(n, 14)
}

/// `luaL_checkint`: argument `n` (1-based) of `func`.
fn check_int(lua: &Lua, args: &[Value], n: usize, func: &str) -> mlua::Result<i32> {
    let v = args.get(n - 1);
    match v.and_then(to_number) {
        Some(x) => Ok(to_c_int(x)),
        None => Err(type_error(lua, n, func, "number", v)),
    }
}

/// `luaL_checktype(L, n, LUA_TTABLE)`.
fn check_table(lua: &Lua, args: &[Value], n: usize, func: &str) -> mlua::Result<Table> {
    match args.get(n - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        v => Err(type_error(lua, n, func, "table", v)),
    }
}

/// `luaL_checkany`.
fn check_any(lua: &Lua, args: &[Value], n: usize, func: &str) -> mlua::Result<Value> {
    match args.get(n - 1) {
        Some(v) => Ok(v.clone()),
        None => Err(bad_argument(lua, n, func, "value expected")),
    }
}

/// The real table behind a read-only proxy, or the table itself.
fn see(backing: &Backing, t: &Table) -> Table {
    backing
        .get()
        .and_then(|b| b.raw_get::<Option<Table>>(t.clone()).ok().flatten())
        .unwrap_or_else(|| t.clone())
}

fn is_proxy(backing: &Backing, t: &Table) -> bool {
    backing
        .get()
        .and_then(|b| b.raw_get::<Option<Table>>(t.clone()).ok().flatten())
        .is_some()
}

const READONLY: &str = "Attempt to modify a readonly table";

/// Base functions that see through proxies. `next` is the original, used
/// to step from a given key.
pub(crate) fn base(
    lua: &Lua,
    backing: &Backing,
    next: Function,
) -> mlua::Result<Vec<(&'static str, Function)>> {
    // `next` and `pairs` step through the real table behind a proxy, but
    // never hand it out: `pairs` returns the proxy itself as the state, so
    // the script cannot reach the writable table.
    let b = backing.clone();
    let next_fn = next.clone();
    let next_w = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let t = check_table(lua, &args, 1, "next")?;
        let key = args.get(1).cloned().unwrap_or(Value::Nil);
        next_fn
            .call::<MultiValue>((see(&b, &t), key))
            .map_err(|e| raise::string(lua, lua_message(&e)))
    })?;
    let next_for_pairs = next_w.clone();
    let b = backing.clone();
    let plain_next = next.clone();
    let pairs = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let t = check_table(lua, &args, 1, "pairs")?;
        // Ordinary tables iterate with Lua's own `next` (fast).
        let step = if is_proxy(&b, &t) {
            next_for_pairs.clone()
        } else {
            plain_next.clone()
        };
        Ok((step, t, Value::Nil))
    })?;
    let b = backing.clone();
    let rawget = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let t = check_table(lua, &args, 1, "rawget")?;
        let k = check_any(lua, &args, 2, "rawget")?;
        see(&b, &t).raw_get::<Value>(k)
    })?;
    let b = backing.clone();
    let rawset = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let t = check_table(lua, &args, 1, "rawset")?;
        let k = check_any(lua, &args, 2, "rawset")?;
        let v = check_any(lua, &args, 3, "rawset")?;
        if is_proxy(&b, &t) {
            return Err(raise::string(lua, READONLY));
        }
        t.raw_set(k, v)
            .map_err(|e| raise::string(lua, lua_message(&e)))?;
        Ok(t)
    })?;
    let b = backing.clone();
    let setmetatable = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let t = check_table(lua, &args, 1, "setmetatable")?;
        let mt = match args.get(1) {
            Some(Value::Nil) => None,
            Some(Value::Table(mt)) => Some(mt.clone()),
            _ => {
                return Err(bad_argument(
                    lua,
                    2,
                    "setmetatable",
                    "nil or table expected",
                ))
            }
        };
        if is_proxy(&b, &t) {
            return Err(raise::string(lua, READONLY));
        }
        if let Some(current) = t.metatable() {
            if !matches!(current.raw_get::<Value>("__metatable"), Ok(Value::Nil)) {
                return Err(raise::error(lua, "cannot change a protected metatable"));
            }
        }
        t.set_metatable(mt)?;
        Ok(t)
    })?;
    Ok(vec![
        ("pairs", pairs),
        ("next", next_w),
        ("rawget", rawget),
        ("rawset", rawset),
        ("setmetatable", setmetatable),
    ])
}

/// The message of an error Lua raised (without mlua's decoration).
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// `redis.*` helpers and `math.random`/`math.randomseed`.
pub(crate) fn redis_helpers(
    lua: &Lua,
    shared: &Rc<Shared>,
) -> mlua::Result<Vec<(&'static str, Function)>> {
    let sha1hex = lua.create_function(|lua, args: MultiValue| {
        if args.len() != 1 {
            return Err(raise::table(lua, "ERR wrong number of arguments"));
        }
        let s = args.front().and_then(to_lua_string).unwrap_or_default();
        Ok(sha1_hex(&s))
    })?;
    let log = lua.create_function(|lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        if args.len() < 2 {
            return Err(raise::table(
                lua,
                "ERR redis.log() requires two arguments or more.",
            ));
        }
        let Some(level) = to_number(&args[0]) else {
            return Err(raise::table(
                lua,
                "ERR First argument must be a number (log level).",
            ));
        };
        let level = to_c_int(level);
        if !(LogLevel::Debug as i32..=LogLevel::Warning as i32).contains(&level) {
            return Err(raise::table(lua, "ERR Invalid debug level."));
        }
        let mut text = Vec::new();
        for (j, v) in args.iter().enumerate().skip(1) {
            if let Some(s) = to_lua_string(v) {
                if j != 1 {
                    text.push(b' ');
                }
                text.extend_from_slice(&s);
            }
        }
        let text = String::from_utf8_lossy(&text);
        match level {
            3 => log::warn!("{text}"),
            2 => log::info!("{text}"),
            1 => log::debug!("{text}"),
            _ => log::trace!("{text}"),
        }
        Ok(())
    })?;
    let s = shared.clone();
    let setresp = lua.create_function(move |lua, args: MultiValue| {
        if args.len() != 1 {
            return Err(raise::table(
                lua,
                "ERR redis.setresp() requires one argument.",
            ));
        }
        let resp = args.front().and_then(to_number).map_or(0, to_c_int);
        match resp {
            2 => s.resp.set(Protocol::Resp2),
            3 => s.resp.set(Protocol::Resp3),
            _ => return Err(raise::table(lua, "ERR RESP version must be 2 or 3.")),
        }
        Ok(())
    })?;
    let set_repl = lua.create_function(|lua, args: MultiValue| {
        if args.len() != 1 {
            return Err(raise::table(
                lua,
                "ERR redis.set_repl() requires two arguments.",
            ));
        }
        let flags = args.front().and_then(to_number).map_or(0, to_c_int);
        if flags & !3 != 0 {
            return Err(raise::table(
                lua,
                "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            ));
        }
        Ok(())
    })?;
    let s = shared.clone();
    let random = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let r = s.next_random();
        match args.len() {
            0 => Ok(r),
            1 => {
                let u = check_int(lua, &args, 1, "random")?;
                if u < 1 {
                    return Err(bad_argument(lua, 1, "random", "interval is empty"));
                }
                Ok((r * u as f64).floor() + 1.0)
            }
            2 => {
                let l = check_int(lua, &args, 1, "random")?;
                let u = check_int(lua, &args, 2, "random")?;
                if l > u {
                    return Err(bad_argument(lua, 2, "random", "interval is empty"));
                }
                Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
            }
            _ => Err(raise::error(lua, "wrong number of arguments")),
        }
    })?;
    let s = shared.clone();
    let randomseed = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let seed = check_int(lua, &args, 1, "randomseed")?;
        s.seed_random(seed);
        Ok(())
    })?;
    Ok(vec![
        ("sha1hex", sha1hex),
        ("log", log),
        ("setresp", setresp),
        ("set_repl", set_repl),
        ("random", random),
        ("randomseed", randomseed),
    ])
}
