//! `table.insert` refusing the read-only library tables, as Redis's
//! patched Lua does.
//!
//! The sandbox's read-only tables are empty proxies (see `sandbox.lua`);
//! `table.insert` writes with `lua_rawseti`, which no metatable can stop,
//! so it is wrapped in a C closure that refuses a proxy and otherwise calls
//! the original C function on the same stack frame. (`table.remove` and
//! `table.sort` write only to a table's array part, which a proxy never
//! has: on one they do nothing, as on Redis's read-only tables.) Calling
//! it in place (not through `lua_call`) keeps everything Lua derives from the
//! frame as it is for the original: the function name in argument errors
//! (`bad argument #1 to 'insert'`) and the caller's position before them.

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Table};
use std::ffi::c_int;

/// Replaces `table_lib.insert` with a guarded version; `backing` maps each
/// read-only proxy to its real table.
pub(crate) fn guard_table_library(
    lua: &Lua,
    table_lib: &Table,
    backing: &Table,
) -> mlua::Result<()> {
    {
        let name = "insert";
        let original: Function = table_lib.raw_get(name)?;
        // SAFETY: the closure only pushes a C closure over the two values
        // given to `exec_raw` (which leaves them on the stack); it owns no
        // Rust value, so an out-of-memory error unwinding from
        // `lua_pushcclosure` skips no destructor.
        let guarded: Function = unsafe {
            lua.exec_raw((original, backing.clone()), |state| {
                ffi::lua_pushcclosure(state, refuse_read_only, 2);
            })
        }?;
        table_lib.raw_set(name, guarded)?;
    }
    Ok(())
}

/// Upvalue 1: the original C function; upvalue 2: the proxy map.
unsafe extern "C-unwind" fn refuse_read_only(l: *mut lua_State) -> c_int {
    if ffi::lua_type(l, 1) == ffi::LUA_TTABLE {
        ffi::lua_pushvalue(l, 1);
        let found = ffi::lua_rawget(l, ffi::lua_upvalueindex(2));
        ffi::lua_settop(l, -2);
        if found != ffi::LUA_TNIL {
            ffi::lua_pushstring(l, c"Attempt to modify a readonly table".as_ptr());
            // Raised like Redis's VM error: a plain string, no position.
            ffi::lua_error(l);
        }
    }
    match ffi::lua_tocfunction(l, ffi::lua_upvalueindex(1)) {
        Some(original) => original(l),
        None => 0,
    }
}
