//! The libraries Redis 7.0 gives every script besides Lua's own: `cjson`,
//! `cmsgpack`, `bit` and `struct`. Each is written here in Rust to behave as
//! the C library Redis bundles (same output bytes, same errors), because no
//! maintained crate provides them for Lua 5.1.
//!
//! # How a library function runs
//!
//! Redis's libraries are C functions that work on the Lua stack. Several of
//! their observable behaviours come from that: errors raised with
//! `luaL_error` carry the *caller's* position (`user_script:1: ...`),
//! argument errors name the function as the caller spelled it
//! (`bad argument #1 to 'encode'`), `lua_checkstack` limits (8000 slots)
//! decide when deep data fails, and tables are filled in an order that fixes
//! `next`'s iteration order. To get all of that for free, every function
//! here is also a C function on the same stack, written in Rust against the
//! raw Lua API (`mlua::ffi`):
//!
//! * the function a script calls is `trampoline`, a C closure. It never
//!   raises an error while it owns Rust values with destructors;
//! * it runs the library code (`run_worker`) under `lua_pcall`, with the
//!   script's arguments in the same stack slots the C library sees them;
//! * the library code reports its own errors as `Fail` values; the
//!   trampoline turns them into real Lua errors (a plain string, exactly as
//!   `luaL_error` / `luaL_argerror` would build it) after dropping all Rust
//!   state. Errors the Lua VM raises itself inside (a `__index` metamethod
//!   failing, `table index is nil`, out of memory) pass through unchanged.
//!
//! Library code keeps every heap buffer in `Ctx`, owned by the
//! trampoline's frame, so a Lua error unwinding (`longjmp`) out of the
//! protected call never skips a Rust destructor.
//!
//! Two consequences differ from Redis and are invisible to scripts: an
//! out-of-memory error inside a library call is re-raised as an ordinary
//! runtime error, and an `xpcall` handler sees an error from a metamethod
//! called by `cmsgpack.pack` after the inner protected call caught it.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod structlib;

use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mlua::ffi::{self, lua_State};
use mlua::{Lua, Result, Table};

/// Pushes one library's table onto the stack.
type PushModule = unsafe fn(*mut lua_State);

/// Creates the four library tables and sets them as globals of `lua`.
pub fn register(lua: &Lua, globals: &Table) -> Result<()> {
    let libs: [(&str, PushModule); 4] = [
        ("cjson", cjson::push_module),
        ("cmsgpack", cmsgpack::push_module),
        ("bit", bit::push_module),
        ("struct", structlib::push_module),
    ];
    for (name, push) in libs {
        // SAFETY: `push` only uses the Lua API on the state it is given and
        // leaves exactly one table on the stack; it owns no Rust value with a
        // destructor, so a memory error raised inside is safe to unwind.
        let table: Table = unsafe { lua.exec_raw((), |state| push(state)) }?;
        globals.set(name, table)?;
    }
    Ok(())
}

/// A library function: works on the stack of `l` (the script's arguments
/// are at 1..=top) and returns how many values it left on top as results.
pub(crate) type WorkerFn =
    unsafe fn(l: *mut lua_State, cx: &mut Ctx, state: State) -> std::result::Result<c_int, Fail>;

/// The full userdata a function was registered with (cjson's settings):
/// its memory and size, or null and 0.
#[derive(Clone, Copy)]
pub(crate) struct State {
    pub(crate) ptr: *mut c_void,
    pub(crate) len: usize,
}

/// The library function `f` points to, if it is one. Lua 5.1 does not let
/// scripts see or replace a C function's upvalues; checking anyway keeps
/// the soundness of the call local to this module.
fn known_worker(f: *mut c_void) -> Option<WorkerFn> {
    [
        &bit::FUNCS[..],
        &cjson::FUNCS[..],
        &cmsgpack::FUNCS[..],
        &structlib::FUNCS[..],
    ]
    .into_iter()
    .flatten()
    .map(|&(_, w)| w)
    .find(|&w| w as usize == f as usize)
}

thread_local! {
    /// The `Ctx` a trampoline is handing to its worker: the worker only
    /// runs when it receives exactly this pointer, so the inner closure
    /// cannot be fed a forged one if a script ever reaches it.
    static PENDING: Cell<usize> = const { Cell::new(0) };
}

/// An error a library raises, as the C library would raise it.
#[derive(Debug)]
pub(crate) enum Fail {
    /// `luaL_error(L, msg)`: the caller's position is put in front.
    Error(Vec<u8>),
    /// `luaL_argerror(L, narg, msg)`: "bad argument #narg to 'name' (msg)".
    Arg(c_int, Vec<u8>),
}

impl Fail {
    pub(crate) fn error(msg: impl Into<Vec<u8>>) -> Fail {
        Fail::Error(msg.into())
    }

    pub(crate) fn arg(narg: c_int, msg: impl Into<Vec<u8>>) -> Fail {
        Fail::Arg(narg, msg.into())
    }

    /// `luaL_checkstack`'s failure.
    pub(crate) fn stack_overflow(what: &str) -> Fail {
        Fail::Error(format!("stack overflow ({what})").into_bytes())
    }
}

/// How a failed call must be raised once the trampoline owns nothing.
#[derive(Clone, Copy)]
enum FailKind {
    Error,
    Arg(c_int),
}

/// Per-call scratch space, owned by the trampoline so it outlives any
/// `longjmp` out of the library code.
#[derive(Default)]
pub(crate) struct Ctx {
    /// Output being built (JSON text, MessagePack bytes).
    pub(crate) out: Vec<u8>,
    /// A decoded JSON string before it is pushed.
    pub(crate) tmp: Vec<u8>,
    /// Open containers while walking nested data without recursion.
    pub(crate) frames: Vec<Frame>,
    /// The message of a failed call (kept here while it is pushed).
    msg: Vec<u8>,
    failed: Option<FailKind>,
}

/// One open container in an iterative walk (used by cjson and cmsgpack).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Frame {
    /// An array: the next index to visit and the last one.
    Array { next: i64, last: i64 },
    /// An object being traversed with `lua_next`; `first` until a member
    /// was written.
    Object { first: bool },
    /// A MessagePack array being decoded: elements left, next index.
    MpArray { left: u64, index: i64 },
    /// A MessagePack map being decoded: pairs left, whether the key of the
    /// current pair is already on the stack.
    MpMap { left: u64, have_key: bool },
    /// A JSON array being decoded: the index the next element gets.
    JsonArray { index: i64 },
    /// A JSON object being decoded.
    JsonObject,
}

/// Pushes a library function: the trampoline closure around a worker
/// closure that carries `worker` (and, if `state_idx` is given, the value at
/// that stack index) as upvalues.
pub(crate) unsafe fn push_function(l: *mut lua_State, worker: WorkerFn, state_idx: Option<c_int>) {
    let state_idx = state_idx.map(|i| if i < 0 { ffi::lua_gettop(l) + 1 + i } else { i });
    ffi::lua_pushlightuserdata(l, worker as usize as *mut c_void);
    let mut n = 1;
    if let Some(i) = state_idx {
        ffi::lua_pushvalue(l, i);
        n += 1;
    }
    ffi::lua_pushcclosure(l, run_worker, n);
    ffi::lua_pushcclosure(l, trampoline, 1);
}

/// Sets `t[name] = f` for each function, `t` being at the top of the stack.
pub(crate) unsafe fn set_functions(
    l: *mut lua_State,
    funcs: &[(&CStr, WorkerFn)],
    state_idx: Option<c_int>,
) {
    let state_idx = state_idx.map(|i| if i < 0 { ffi::lua_gettop(l) + 1 + i } else { i });
    for (name, f) in funcs {
        push_function(l, *f, state_idx);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Sets `t[name] = value` (a string) on the table at the top of the stack.
pub(crate) unsafe fn set_string(l: *mut lua_State, name: &CStr, value: &[u8]) {
    ffi::lua_pushlstring_(l, value.as_ptr().cast(), value.len());
    ffi::lua_setfield(l, -2, name.as_ptr());
}

/// The function scripts call. Runs the worker (upvalue 1) protected, then
/// returns its results or raises its error as the C library would.
unsafe extern "C-unwind" fn trampoline(l: *mut lua_State) -> c_int {
    let mut cx = Ctx::default();
    // A C function always has LUA_MINSTACK free slots: these pushes cannot
    // fail, so no error can skip `cx`'s destructor here.
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    let handle: *mut Ctx = &mut cx;
    ffi::lua_pushlightuserdata(l, handle.cast());
    ffi::lua_insert(l, 2);
    let nargs = ffi::lua_gettop(l) - 1;
    PENDING.with(|p| p.set(handle as usize));
    let status = ffi::lua_pcall(l, nargs, ffi::LUA_MULTRET, 0);
    PENDING.with(|p| p.set(0));
    let failed = cx.failed;
    drop(cx);
    if status != 0 {
        // An error from Lua itself (metamethod, VM, memory): pass it on.
        ffi::lua_error(l);
    }
    match failed {
        None => ffi::lua_gettop(l),
        Some(FailKind::Error) => {
            // The message is the only value left on the stack.
            ffi::luaL_where(l, 1);
            ffi::lua_insert(l, -2);
            ffi::lua_concat(l, 2);
            ffi::lua_error(l)
        }
        Some(FailKind::Arg(narg)) => {
            let msg = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
            ffi::luaL_argerror(l, narg, msg)
        }
    }
}

/// Runs a worker: upvalue 1 is the worker, upvalue 2 its state (optional);
/// argument 1 is the trampoline's `Ctx`, removed so the script's arguments
/// sit where the C library sees them.
unsafe extern "C-unwind" fn run_worker(l: *mut lua_State) -> c_int {
    let cx = ffi::lua_touserdata(l, 1).cast::<Ctx>();
    let genuine = ffi::lua_type(l, 1) == ffi::LUA_TLIGHTUSERDATA
        && !cx.is_null()
        && PENDING.with(|p| p.replace(0)) == cx as usize;
    let worker = known_worker(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)));
    let (Some(worker), true) = (worker, genuine) else {
        return 0;
    };
    ffi::lua_remove(l, 1);
    let state_idx = ffi::lua_upvalueindex(2);
    let state = if ffi::lua_type(l, state_idx) == ffi::LUA_TUSERDATA {
        State {
            ptr: ffi::lua_touserdata(l, state_idx),
            len: ffi::lua_objlen(l, state_idx),
        }
    } else {
        State {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    };
    // SAFETY: `cx` is the pointer the trampoline registered in PENDING for
    // this very call: its own `Ctx`, alive until the protected call returns.
    let cx = &mut *cx;
    let outcome = catch_unwind(AssertUnwindSafe(|| worker(l, cx, state)));
    let fail = match outcome {
        Ok(Ok(n)) => return n,
        Ok(Err(fail)) => fail,
        Err(_) => Fail::error("internal error in a Redis Lua library"),
    };
    let (kind, msg) = match fail {
        Fail::Error(m) => (FailKind::Error, m),
        Fail::Arg(n, m) => (FailKind::Arg(n), m),
    };
    cx.msg = msg;
    cx.failed = Some(kind);
    ffi::lua_settop(l, 0);
    ffi::lua_pushlstring_(l, cx.msg.as_ptr().cast(), cx.msg.len());
    1
}

// ---------------------------------------------------------------------------
// Argument checks, as lauxlib does them (same messages, same conversions).

/// `luaL_typename`: the type name an argument error reports.
pub(crate) unsafe fn type_name(l: *mut lua_State, idx: c_int) -> &'static str {
    match ffi::lua_type(l, idx) {
        ffi::LUA_TNONE => "no value",
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA | ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        _ => "?",
    }
}

/// `luaL_typerror`: "X expected, got Y".
pub(crate) unsafe fn type_error(l: *mut lua_State, narg: c_int, expected: &str) -> Fail {
    Fail::arg(
        narg,
        format!("{expected} expected, got {}", type_name(l, narg)),
    )
}

/// `luaL_checknumber` (strings that look like numbers are accepted).
pub(crate) unsafe fn check_number(
    l: *mut lua_State,
    narg: c_int,
) -> std::result::Result<f64, Fail> {
    let d = ffi::lua_tonumber(l, narg);
    if d == 0.0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(d)
}

/// `luaL_checkinteger`: the number truncated as Lua 5.1's C cast does.
pub(crate) unsafe fn check_integer(
    l: *mut lua_State,
    narg: c_int,
) -> std::result::Result<i64, Fail> {
    let d = ffi::lua_tointeger_(l, narg);
    if d == 0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(d)
}

/// `luaL_optinteger`.
pub(crate) unsafe fn opt_integer(
    l: *mut lua_State,
    narg: c_int,
    def: i64,
) -> std::result::Result<i64, Fail> {
    if ffi::lua_type(l, narg) <= ffi::LUA_TNIL {
        Ok(def)
    } else {
        check_integer(l, narg)
    }
}

/// `luaL_checklstring`: numbers are converted in place, as in C. The bytes
/// stay valid while the argument stays on the stack.
pub(crate) unsafe fn check_lstring<'a>(
    l: *mut lua_State,
    narg: c_int,
) -> std::result::Result<&'a [u8], Fail> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, narg, &mut len);
    if p.is_null() {
        return Err(type_error(l, narg, "string"));
    }
    Ok(std::slice::from_raw_parts(p.cast::<u8>(), len))
}

/// The bytes of a Lua string up to its first NUL, as C's `%s` sees them.
pub(crate) fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// `lua_checkstack`, turned into `luaL_checkstack`'s error.
pub(crate) unsafe fn check_stack(
    l: *mut lua_State,
    n: c_int,
    what: &str,
) -> std::result::Result<(), Fail> {
    if ffi::lua_checkstack(l, n) == 0 {
        return Err(Fail::stack_overflow(what));
    }
    Ok(())
}

/// Pushes bytes as a Lua string.
pub(crate) unsafe fn push_bytes(l: *mut lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring_(l, bytes.as_ptr().cast(), bytes.len());
}

// ---------------------------------------------------------------------------
// C conversions from double, as x86-64 code compiled by gcc performs them
// (out-of-range values do not saturate as Rust's `as` does).

/// `(int64_t)d`: `cvttsd2si`; NaN and out-of-range give `i64::MIN`.
pub(crate) fn c_f64_to_i64(d: f64) -> i64 {
    if d > -9_223_372_036_854_777_856.0 && d < 9_223_372_036_854_775_808.0 {
        d as i64
    } else {
        i64::MIN
    }
}

/// `(int)d`: 32-bit `cvttsd2si`; NaN and out-of-range give `i32::MIN`.
pub(crate) fn c_f64_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `(uint64_t)d`: below 2^63 (and NaN) it is the signed conversion; above,
/// 2^63 is taken off first and its bit put back.
pub(crate) fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO63 {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1 << 63)
    } else {
        c_f64_to_i64(d) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_casts_follow_x86_64() {
        assert_eq!(c_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(c_f64_to_i64(1e19), i64::MIN);
        assert_eq!(c_f64_to_i64(-1e19), i64::MIN);
        assert_eq!(c_f64_to_i64(-9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(c_f64_to_i64(-3.9), -3);
        assert_eq!(c_f64_to_i32(2_147_483_648.0), i32::MIN);
        assert_eq!(c_f64_to_i32(-2_147_483_648.9), i32::MIN);
        assert_eq!(c_f64_to_i32(2_147_483_647.9), i32::MAX);
        assert_eq!(c_f64_to_u64(-1.0), u64::MAX);
        assert_eq!(c_f64_to_u64(1.8e19), 18_000_000_000_000_000_000);
        assert_eq!(c_f64_to_u64(1e20), 0);
    }

    #[test]
    fn the_inner_closures_stay_out_of_reach() {
        // Redis gives scripts no `debug` library; even with it, Lua 5.1
        // refuses to show or replace a C function's upvalues, so scripts
        // cannot reach the worker closures (which also check their caller).
        // SAFETY: the state is only used by this test.
        let lua = unsafe { Lua::unsafe_new() };
        register(&lua, &lua.globals()).expect("register");
        let n: i64 = lua
            .load(
                "return select('#', debug.getupvalue(cjson.encode, 1))
                    + select('#', debug.getupvalue(bit.band, 1))
                    + select('#', debug.setupvalue(cmsgpack.pack, 1, 1))",
            )
            .eval()
            .expect("eval");
        assert_eq!(n, 0);
    }

    #[test]
    fn errors_are_plain_strings_with_the_callers_position() {
        let lua = Lua::new();
        register(&lua, &lua.globals()).expect("register");
        let (kind, msg): (String, String) = lua
            .load("local ok, e = pcall(function() return cjson.decode('x') end) return type(e), e")
            .set_name("@user_script")
            .eval()
            .expect("eval");
        assert_eq!(kind, "string");
        assert_eq!(
            msg,
            "user_script:1: Expected value but found invalid token at character 1"
        );
        let msg: String = lua
            .load("return select(2, pcall(cjson.encode))")
            .eval()
            .expect("eval");
        assert_eq!(msg, "bad argument #1 to '?' (expected 1 argument)");
        let msg: String = lua
            .load("local ok, e = pcall(function() local x = cjson.encode() end) return e")
            .set_name("@user_script")
            .eval()
            .expect("eval");
        assert_eq!(
            msg,
            "user_script:1: bad argument #1 to 'encode' (expected 1 argument)"
        );
    }
}
