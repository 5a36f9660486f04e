//! One Lua state set up as Redis 7.0 sets up its scripting states, and
//! running a compiled script or function in it.
//!
//! The environment itself (read-only globals, the `redis` table, Redis's
//! `pcall` and error handler) is written in Lua, in `sandbox.lua`; this file
//! gives it the functions only Rust can provide (calls into the server,
//! SHA-1, the random generator, logging) and drives runs.

use crate::builtins::Backing;
use crate::convert::{lua_to_reply, reply_to_lua};
use crate::host::{Host, Verdict, Watchdog, HOOK_INSTRUCTIONS};
use crate::raise::Raised;
use bytes::Bytes;
use ferry_resp::{format_double, Protocol, Reply};
use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Which API the state serves: EVAL scripts or FUNCTION libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Eval,
    Function,
}

/// How long FUNCTION LOAD may run a library's top level (Redis's value).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// Lua memory is bounded so a runaway script fails with "not enough
/// memory" instead of taking the server down (Redis has no such bound).
const MEMORY_LIMIT: usize = 1 << 30;
/// Runs between two incremental garbage-collection steps (Redis's value).
const GC_PERIOD: u32 = 50;

/// Text of the error that stops a killed script.
pub(crate) const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// What the state is doing, for the instruction hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Idle,
    Running,
    /// FUNCTION LOAD: the start, when the 500 ms bound applies (not to
    /// libraries restored from a dump or loaded at start-up, as in Redis).
    Loading(Option<Instant>),
}

/// State shared by the Rust functions a sandbox gives Lua and the runner.
pub(crate) struct Shared {
    pub resp: Cell<Protocol>,
    /// Set when the run must stop: the error every hook call then raises.
    pub killed: Cell<Option<&'static str>>,
    pub mode: Cell<Mode>,
    /// Redis's `redisLrand48` state.
    rng: Cell<u64>,
    pub watchdog: RefCell<Option<Rc<dyn Watchdog>>>,
    /// Functions registered by the library being loaded (FUNCTION LOAD).
    pub registered: RefCell<Option<Vec<Registered>>>,
    /// The running script's host, for `redis.call`.
    host: crate::host_slot::HostSlot,
}

/// A function registered by `redis.register_function` during a load.
pub(crate) struct Registered {
    pub name: String,
    pub callback: Function,
    pub flags: u8,
    pub description: Option<Bytes>,
}

impl Shared {
    /// Stops the run with `text` (an error table's text): raised now and
    /// at every later hook call, so pcall loops cannot outlive it.
    fn stop(&self, lua: &Lua, text: &'static str) -> mlua::Error {
        self.killed.set(Some(text));
        crate::raise::table(lua, text)
    }

    /// `math.random`'s next value in [0, 1): Redis's
    /// `(redisLrand48() % REDIS_LRAND48_MAX) / REDIS_LRAND48_MAX`.
    pub fn next_random(&self) -> f64 {
        let (next, value) = lrand48(self.rng.get());
        self.rng.set(next);
        const MAX: u64 = i32::MAX as u64;
        (value % MAX) as f64 / MAX as f64
    }

    /// `math.randomseed`.
    pub fn seed_random(&self, seed: i32) {
        self.rng.set(seed48(seed));
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Reply,
    /// The reply is an error a command of the script produced, already
    /// counted in INFO errorstats (Redis does not count it twice).
    pub error_counted: bool,
}

/// Version numbers scripts see as `redis.REDIS_VERSION(_NUM)`.
#[derive(Clone, Debug)]
pub struct Version {
    pub text: String,
    pub num: u32,
}

impl Version {
    /// From "7.0.15": `REDIS_VERSION_NUM` is 0x00MMmmpp.
    pub fn parse(text: &str) -> Version {
        let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (a, b, c) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Version {
            text: text.to_owned(),
            num: (a << 16) | (b << 8) | c,
        }
    }
}

pub(crate) struct Sandbox {
    pub lua: Lua,
    pub shared: Rc<Shared>,
    env: Table,
    run: Function,
    set_loading: Function,
    runs: u32,
}

impl Sandbox {
    pub fn new(kind: Kind, version: &Version) -> mlua::Result<Sandbox> {
        // SAFETY of `unsafe_new_with`: the debug library is needed only by
        // the error handler (debug.getinfo); sandbox.lua keeps a private
        // reference and removes `debug` from the globals before any script
        // runs, as Redis does.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let shared = Rc::new(Shared {
            resp: Cell::new(Protocol::Resp2),
            killed: Cell::new(None),
            mode: Cell::new(Mode::Idle),
            rng: Cell::new(seed48(0)),
            watchdog: RefCell::new(None),
            registered: RefCell::new(None),
            host: Default::default(),
        });
        crate::raise::install(&lua);
        let globals = lua.globals();
        crate::libs::register(&lua, &globals)?;
        let internal = lua.create_table()?;
        install_internal(&lua, &internal, &shared, version)?;
        // Read-only proxy -> real table, with weak keys.
        let backing_table = lua.create_table()?;
        let weak = lua.create_table()?;
        weak.raw_set("__mode", "k")?;
        backing_table.set_metatable(Some(weak))?;
        internal.raw_set("backing", backing_table.clone())?;
        let table_lib: Table = globals.raw_get("table")?;
        crate::readonly::guard_table_library(&lua, &table_lib, &backing_table)?;
        let backing: Backing = Rc::new(std::cell::OnceCell::new());
        let builtins = lua.create_table()?;
        let next: Function = globals.get("next")?;
        for (name, f) in crate::builtins::base(&lua, &backing, next)?
            .into_iter()
            .chain(crate::builtins::redis_helpers(&lua, &shared)?)
        {
            builtins.raw_set(name, f)?;
        }
        internal.raw_set("builtins", builtins)?;
        let prelude: Table = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=ferry")
            .set_mode(ChunkMode::Text)
            .call((
                internal.clone(),
                match kind {
                    Kind::Eval => "eval",
                    Kind::Function => "function",
                },
            ))?;
        let _ = backing.set(backing_table);
        let hook_shared = shared.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS),
            move |lua, _| hook(lua, &hook_shared),
        )?;
        let redis: Table = prelude.get("redis")?;
        for (name, kind) in [
            ("call", Request::Call),
            ("pcall", Request::Pcall),
            ("acl_check_cmd", Request::AclCheck),
        ] {
            let s = shared.clone();
            let f = lua.create_function(move |lua, args: MultiValue| {
                s.host
                    .borrow(|host| host_request(lua, &s, host, kind, args))
                    .unwrap_or_else(|| {
                        Err(crate::raise::table(
                            lua,
                            "ERR redis.call/pcall can only be called inside a script invocation",
                        ))
                    })
            })?;
            redis.raw_set(name, f)?;
        }
        Ok(Sandbox {
            env: prelude.get("env")?,
            run: prelude.get("run")?,
            set_loading: prelude.get("set_loading")?,
            shared,
            lua,
            runs: 0,
        })
    }

    /// Compiles `code` as text, with the scripts' environment. Errors are
    /// Lua's message (`user_script:1: unexpected symbol near ...`).
    pub fn compile(&self, code: &[u8], chunk_name: &str) -> Result<Function, String> {
        if code.first() == Some(&0x1b) {
            // Redis's Lua compiles binary chunks as text, which fails here.
            let name = chunk_name.trim_start_matches(['@', '=']);
            return Err(format!("{name}:1: unexpected symbol near 'char(27)'"));
        }
        self.lua
            .load(code)
            .set_name(chunk_name)
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Runs `f` as a script (`keys`/`args` set as the KEYS and ARGV
    /// globals) or as a function (`keys`/`args` passed as arguments), and
    /// returns its reply. `name` is what errors say ran (a sha or a
    /// function name).
    pub fn call(
        &mut self,
        f: &Function,
        as_function: bool,
        keys: &[Bytes],
        args: &[Bytes],
        name: &str,
        host: &mut dyn Host,
    ) -> Outcome {
        let shared = self.shared.clone();
        shared.resp.set(Protocol::Resp2);
        shared.killed.set(None);
        crate::raise::clear(&self.lua);
        shared.mode.set(Mode::Running);
        let result = shared.host.lend(host, || -> mlua::Result<Outcome> {
            let (keys_t, args_t) = string_arrays(&self.lua, keys, args)?;
            let (ok, value): (bool, Value) = self.run.call((f, keys_t, args_t, as_function))?;
            let reply = if ok {
                lua_to_reply(&value, shared.resp.get())
            } else {
                failure_reply(&value, name)
            };
            Ok(Outcome {
                error_counted: reply.is_error() && crate::convert::already_counted(&value),
                reply,
            })
        });
        let outcome = result.unwrap_or_else(|e| Outcome {
            reply: Reply::error(format!("ERR Error running script {name}: {e}")),
            error_counted: false,
        });
        self.finish_run();
        outcome
    }

    fn finish_run(&mut self) {
        self.shared.mode.set(Mode::Idle);
        crate::raise::clear(&self.lua);
        self.runs += 1;
        if self.lua.used_memory() > MEMORY_LIMIT / 2 {
            // Lua 5.1 has no emergency collection: without this, garbage a
            // big script left would make the next ones fail for memory.
            let _ = self.lua.gc_collect();
        } else if self.runs >= GC_PERIOD {
            self.runs = 0;
            // Redis's lua_gc(LUA_GCSTEP, 50) every 50 runs.
            // SAFETY: a single API call on the state's own stack, no Rust
            // value to drop if it raises.
            let _ = unsafe {
                self.lua.exec_raw::<()>((), |state| {
                    mlua::ffi::lua_gc(state, mlua::ffi::LUA_GCSTEP, GC_PERIOD as std::ffi::c_int);
                })
            };
        }
    }

    /// Runs a library's top level (FUNCTION LOAD) with the library API as
    /// globals. Returns what it registered, or the error message.
    pub fn load_library(&mut self, f: &Function, timeout: bool) -> Result<Vec<Registered>, String> {
        *self.shared.registered.borrow_mut() = Some(Vec::new());
        self.shared.killed.set(None);
        self.shared
            .mode
            .set(Mode::Loading(timeout.then(Instant::now)));
        let outcome = (|| -> mlua::Result<(bool, Value)> {
            self.set_loading.call::<()>(true)?;
            let r = self.run.call((f, Value::Nil, Value::Nil, false));
            self.set_loading.call::<()>(false)?;
            r
        })();
        let registered = self
            .shared
            .registered
            .borrow_mut()
            .take()
            .unwrap_or_default();
        self.finish_run();
        match outcome {
            Ok((true, _)) => Ok(registered),
            Ok((false, err)) => Err(error_message(&err)),
            Err(e) => Err(format!("ERR {e}")),
        }
    }

    /// Lua's memory in use, in bytes (INFO memory, FUNCTION STATS).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// The instruction hook: FUNCTION LOAD's timeout, and the watchdog while a
/// script runs.
fn hook(lua: &Lua, shared: &Shared) -> mlua::Result<VmState> {
    if let Some(text) = shared.killed.get() {
        // Keep failing until the script gives up (pcall re-raises too).
        return Err(shared.stop(lua, text));
    }
    match shared.mode.get() {
        Mode::Loading(Some(started)) if started.elapsed() > LOAD_TIMEOUT => {
            Err(shared.stop(lua, "ERR FUNCTION LOAD timeout"))
        }
        Mode::Running => {
            let verdict = shared
                .watchdog
                .borrow()
                .as_ref()
                .map_or(Verdict::Continue, |w| w.check());
            match verdict {
                Verdict::Continue => Ok(VmState::Continue),
                Verdict::Kill => {
                    log::warn!("Lua script killed by user with SCRIPT KILL.");
                    Err(shared.stop(lua, KILLED))
                }
            }
        }
        _ => Ok(VmState::Continue),
    }
}

/// KEYS and ARGV: two Lua arrays of strings, built in one protected call.
/// Through mlua's API each table, string and store was a protected call of
/// its own (four for one key), with the two tables 10% of an EVALSHA.
fn string_arrays(lua: &Lua, keys: &[Bytes], args: &[Bytes]) -> mlua::Result<(Table, Table)> {
    use mlua::ffi;
    // SAFETY: the closure only pushes onto the state's stack, at most three
    // slots at a time (a C function is given LUA_MINSTACK, 20), inside
    // exec_raw's protected call; a memory error raised in it jumps over
    // no Rust value with a destructor (slice iterators and integers only,
    // hence `.iter()` over the pair, not the array's by-value iterator).
    unsafe {
        lua.exec_raw((), |state| {
            for items in [keys, args].iter() {
                ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as i32, 0);
                for (i, item) in items.iter().enumerate() {
                    ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
                    ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                }
            }
        })
    }
}

/// The error reply of a failed run: the error's text, then where it
/// happened (`... script: <name>, on @user_script:1.`).
fn failure_reply(err: &Value, name: &str) -> Reply {
    let mut text = error_message(err).into_bytes();
    if let Value::Table(t) = err {
        let source = t.raw_get::<Value>("source").ok();
        let line = t.raw_get::<Value>("line").ok();
        if let (Some(Value::String(source)), Some(line)) = (source, line) {
            let line = match line {
                Value::Integer(i) => Some(i),
                Value::Number(n) => Some(n as i64),
                _ => None,
            };
            if let Some(line) = line {
                text.extend_from_slice(format!(" script: {name}, on ").as_bytes());
                text.extend_from_slice(&source.as_bytes());
                text.extend_from_slice(format!(":{line}.").as_bytes());
            }
        }
    }
    match String::from_utf8(text) {
        Ok(s) => Reply::Error(s.into()),
        Err(e) => Reply::ErrorBytes(Bytes::from(e.into_bytes())),
    }
}

/// The `err` text of an error value made by the error handler.
fn error_message(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            Ok(Value::Number(n)) => format!("{}", n),
            Ok(Value::Integer(i)) => i.to_string(),
            _ => "ERR Error running script (the error has no message)".into(),
        },
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        other => format!("ERR {other:?}"),
    }
}

/// What a run's `redis.*` function asks of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    Call,
    Pcall,
    AclCheck,
}

/// `redis.call`, `redis.pcall` and `redis.acl_check_cmd`. A failing
/// `redis.call` raises the `{err=...}` table; `redis.pcall` returns it.
fn host_request(
    lua: &Lua,
    shared: &Shared,
    host: &mut dyn Host,
    kind: Request,
    args: MultiValue,
) -> mlua::Result<Value> {
    let argv = match command_args(args.into_iter()) {
        Ok(argv) => argv,
        Err(msg) => {
            // A message without a code gets ERR (Redis's luaPushError).
            let text = format!("ERR {msg}");
            if kind == Request::Pcall {
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("err", text)?;
                return Ok(Value::Table(t));
            }
            return Err(crate::raise::table(lua, text));
        }
    };
    match kind {
        Request::AclCheck => match host.acl_check(&argv) {
            Some(allowed) => Ok(Value::Boolean(allowed)),
            None => Err(crate::raise::table(
                lua,
                "ERR Invalid command passed to redis.acl_check_cmd()",
            )),
        },
        Request::Call | Request::Pcall => {
            let resp = shared.resp.get();
            let reply = match host.call(argv, resp) {
                Ok(reply) => reply,
                Err(refusal) if kind == Request::Pcall => {
                    return Ok(Value::Table(crate::convert::error_table(
                        lua,
                        refusal.as_bytes(),
                    )?))
                }
                Err(refusal) => return Err(crate::raise::table(lua, refusal)),
            };
            if kind == Request::Call && reply.is_error() {
                let text = match &reply {
                    Reply::Error(t) => crate::convert::error_text(t.as_bytes()),
                    Reply::ErrorBytes(b) => crate::convert::error_text(b),
                    _ => Vec::new(),
                };
                return Err(crate::raise::command_table(lua, text));
            }
            reply_to_lua(lua, &reply, resp)
        }
    }
}

/// The arguments of redis.call as a command: strings as they are, numbers
/// printed with `%.17g` (Lua's own conversion would lose precision).
fn command_args(args: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, &'static str> {
    let mut argv = Vec::new();
    for v in args {
        argv.push(match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Number(n) => Bytes::from(number_arg(n)),
            Value::Integer(i) => Bytes::from(i.to_string()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        });
    }
    if argv.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    Ok(argv)
}

/// The message at the bottom of an mlua error's text: mlua wraps errors of
/// Rust callbacks ("callback error ... caused by: not enough memory"), a
/// script must see only what Lua would say.
fn innermost_message(text: &str) -> &str {
    let last = text.rsplit("caused by: ").next().unwrap_or(text);
    let first_line = last.lines().next().unwrap_or(last);
    first_line
        .strip_prefix("runtime error: ")
        .or_else(|| first_line.strip_prefix("memory error: "))
        .unwrap_or(first_line)
        .trim()
}

/// A number argument as Redis prints it with `%.17g` (glibc writes `-nan`
/// for the NaN that `0/0` makes on x86).
fn number_arg(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    format_double(n)
}

/// The functions `sandbox.lua` receives as `internal`.
fn install_internal(
    lua: &Lua,
    internal: &Table,
    shared: &Rc<Shared>,
    version: &Version,
) -> mlua::Result<()> {
    internal.raw_set("version", version.text.as_str())?;
    internal.raw_set("version_num", version.num)?;
    internal.raw_set(
        "raised",
        lua.create_function(|lua, opaque: Value| {
            Ok(match crate::raise::take(lua) {
                Some(Raised::Table(text)) => Value::Table(crate::convert::error_table(lua, &text)?),
                Some(Raised::CommandTable(text)) => {
                    Value::Table(crate::convert::command_error_table(lua, &text)?)
                }
                Some(Raised::Str(text)) => Value::String(lua.create_string(&text)?),
                None => {
                    let text = match &opaque {
                        Value::Error(e) => e.to_string(),
                        other => other.to_string().unwrap_or_default(),
                    };
                    Value::String(lua.create_string(innermost_message(&text))?)
                }
            })
        })?,
    )?;
    let s = shared.clone();
    internal.raw_set(
        "killed",
        lua.create_function(move |_, ()| Ok(s.killed.get().is_some()))?,
    )?;
    let s = shared.clone();
    internal.raw_set(
        "loading",
        lua.create_function(move |_, ()| Ok(s.registered.borrow().is_some()))?,
    )?;
    let s = shared.clone();
    internal.raw_set(
        "register",
        lua.create_function(
            move |_,
                  (name, callback, flags, desc): (
                mlua::LuaString,
                Function,
                u8,
                Option<mlua::LuaString>,
            )| {
                let mut registered = s.registered.borrow_mut();
                let Some(list) = registered.as_mut() else {
                    return Ok(Some(
                        "redis.register_function can only be called on FUNCTION LOAD command"
                            .to_string(),
                    ));
                };
                // Names are ASCII letters, digits and `_`; anything else
                // (non-UTF-8 bytes included) gets Redis's error.
                let name = match std::str::from_utf8(&name.as_bytes()) {
                    Ok(n) if crate::functions::valid_name(n) => n.to_owned(),
                    _ => return Ok(Some(crate::functions::BAD_NAME.to_string())),
                };
                if list.iter().any(|r| r.name == name) {
                    return Ok(Some("Function already exists in the library".to_string()));
                }
                let desc = desc.map(|d| Bytes::copy_from_slice(&d.as_bytes()));
                list.push(Registered {
                    name,
                    callback,
                    flags,
                    description: desc,
                });
                Ok(None)
            },
        )?,
    )?;
    Ok(())
}

/// `redisSrand48`: the generator's state from a seed.
fn seed48(seed: i32) -> u64 {
    ((seed as u32 as u64) << 16) | 0x330E
}

/// `redisLrand48`: the next state and a 31-bit value (the POSIX lrand48
/// recurrence, which Redis carries so every platform gets the same values).
fn lrand48(state: u64) -> (u64, u64) {
    const A: u64 = 0x5_DEEC_E66D;
    const C: u64 = 0xB;
    let next = (A.wrapping_mul(state).wrapping_add(C)) & ((1 << 48) - 1);
    (next, next >> 17)
}

/// SHA-1 in lowercase hex: script names and `redis.sha1hex`.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}
