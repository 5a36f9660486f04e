//! Errors raised from Rust with the value a Redis script would see.
//!
//! mlua turns an error returned by a Rust function into an opaque Lua
//! value. Redis scripts see plain strings (errors of Lua's C libraries) or
//! `{err = "CODE message"}` tables (errors of `redis.*`), so a Rust function
//! leaves the value here before failing, and the sandbox's `pcall` and
//! error handler swap the opaque value for it.
//!
//! Functions are written in Rust rather than in Lua for one more reason:
//! a Lua function reached by a tail call (`return redis.call(...)`) erases
//! its caller's frame, and with it the script line Redis reports.

use mlua::Lua;

/// What a failing Rust function stands for.
pub(crate) enum Raised {
    /// A plain string error.
    Str(Vec<u8>),
    /// A Redis error table `{err = text}`.
    Table(Vec<u8>),
    /// The error table of a failed command (see `convert::command_error_table`).
    CommandTable(Vec<u8>),
}

#[derive(Default)]
struct Slot(Option<Raised>);

/// Prepares `lua` to carry raised values.
pub(crate) fn install(lua: &Lua) {
    lua.set_app_data(Slot::default());
}

fn set(lua: &Lua, r: Raised) {
    if let Some(mut slot) = lua.app_data_mut::<Slot>() {
        slot.0 = Some(r);
    }
}

/// Fails with a plain string error (as `luaL_error` raises).
pub fn string(lua: &Lua, msg: impl AsRef<[u8]>) -> mlua::Error {
    let msg = msg.as_ref();
    set(lua, Raised::Str(msg.to_vec()));
    mlua::Error::runtime(String::from_utf8_lossy(msg))
}

/// Fails as Lua's `luaL_error` does: the message after the position of the
/// Lua code that called the failing function (`user_script:1: ...`).
pub fn error(lua: &Lua, msg: impl AsRef<[u8]>) -> mlua::Error {
    let at = lua
        .inspect_stack(1, |d| {
            let line = d.current_line().unwrap_or(0);
            let src = d.source().short_src.map(|s| s.into_owned());
            match src {
                Some(src) if line > 0 => format!("{src}:{line}: "),
                _ => String::new(),
            }
        })
        .unwrap_or_default();
    let mut text = at.into_bytes();
    text.extend_from_slice(msg.as_ref());
    string(lua, text)
}

/// Fails with a Redis error table whose `err` is `text` ("ERR ...").
pub fn table(lua: &Lua, text: impl AsRef<[u8]>) -> mlua::Error {
    let text = text.as_ref();
    set(lua, Raised::Table(text.to_vec()));
    mlua::Error::runtime(String::from_utf8_lossy(text))
}

/// Fails with the error table of a command's error reply (redis.call).
pub(crate) fn command_table(lua: &Lua, text: impl AsRef<[u8]>) -> mlua::Error {
    let text = text.as_ref();
    set(lua, Raised::CommandTable(text.to_vec()));
    mlua::Error::runtime(String::from_utf8_lossy(text))
}

/// The value the last failure stands for (taken).
pub(crate) fn take(lua: &Lua) -> Option<Raised> {
    lua.app_data_mut::<Slot>().and_then(|mut s| s.0.take())
}

/// Forgets a value nobody took (between runs).
pub(crate) fn clear(lua: &Lua) {
    let _ = take(lua);
}

/// Lua's `luaL_argerror`: `bad argument #1 to 'f' (reason)`, where `f` is
/// the name the caller used for the failing function (`?` when there is
/// none, as when `pcall` calls it), and `func` only documents which
/// function this is.
pub fn bad_argument(lua: &Lua, n: usize, func: &str, reason: &str) -> mlua::Error {
    let _ = func;
    let name = lua
        .inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".into());
    error(lua, format!("bad argument #{n} to '{name}' ({reason})"))
}

/// Lua's `luaL_typerror` text for argument `n` of `func`.
pub fn type_error(
    lua: &Lua,
    n: usize,
    func: &str,
    expected: &str,
    got: Option<&mlua::Value>,
) -> mlua::Error {
    let got = got.map_or("no value", type_name);
    bad_argument(lua, n, func, &format!("{expected} expected, got {got}"))
}

/// A value's type as Lua 5.1's `type()` names it.
pub fn type_name(v: &mlua::Value) -> &'static str {
    use mlua::Value;
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}
