//! Scripting as the server runs it: the Lua engine (`ferry-script`) on the
//! executor thread, how a script's `redis.call` runs a command ([`host`]),
//! and how the server stays responsive while a script runs long ([`busy`]).
//!
//! A script runs inside one command on the executor, so it is atomic like
//! any command: its writes join the current group, are journaled with it,
//! and a crash before the group is written leaves none of them.

pub mod busy;
mod host;

pub use busy::{BusyGate, JobQueue};
pub use host::ScriptHost;

use crate::cmd::Ctx;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_script::{Functions, Scripts, Version};
use std::rc::Rc;

/// The two Lua engines: EVAL scripts and FUNCTION libraries.
pub struct Engine {
    pub scripts: Scripts,
    pub functions: Functions,
}

/// What the executor keeps for scripting. The engine is taken out while a
/// script runs (a script cannot start another one: EVAL and FCALL are
/// `noscript`).
pub struct Scripting {
    pub engine: Option<Engine>,
    pub gate: Rc<BusyGate>,
}

impl Scripting {
    pub fn new(gate: Rc<BusyGate>) -> Result<Scripting, String> {
        let version = Version::parse(crate::REDIS_VERSION);
        let mut scripts = Scripts::new(version.clone())?;
        let mut functions = Functions::new(version)?;
        scripts.set_watchdog(gate.clone());
        functions.set_watchdog(gate.clone());
        Ok(Scripting {
            engine: Some(Engine { scripts, functions }),
            gate,
        })
    }

    /// Loads the libraries stored with the data (at start-up). A library
    /// that does not load stops the start, as in Redis: dropping it would
    /// lose it from the file at the next FUNCTION change.
    /// Replaces the loaded libraries with the stored ones (the store
    /// changed under the engine: a Raft follower applied FUNCTION changes,
    /// a rollback or a snapshot).
    pub fn reload_stored_functions(&mut self, codes: Vec<Vec<u8>>) -> Result<(), String> {
        if let Some(engine) = self.engine.as_mut() {
            engine.functions.flush()?;
        }
        self.load_stored_functions(codes)
    }

    pub fn load_stored_functions(&mut self, codes: Vec<Vec<u8>>) -> Result<(), String> {
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        for code in codes {
            engine.functions.load_stored(&code).map_err(|e| {
                let first_line = String::from_utf8_lossy(&code)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                format!(
                    "a FUNCTION library stored in the data file does not load ({first_line}): {e}; \
                     ferry will not start without it (run the ferry version that stored it, \
                     or remove the library with FUNCTION DELETE there)"
                )
            })?;
        }
        self.gate.set_function_counts(
            engine.functions.library_count(),
            engine.functions.function_count(),
        );
        Ok(())
    }
}

/// Which kind of script runs, for errors and SCRIPT/FUNCTION KILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Eval,
    Function,
}

/// One script invocation: what runs and with which keys and arguments.
pub struct Invocation<'a> {
    pub kind: RunKind,
    /// The script's sha (EVAL) or the function's name (FCALL).
    pub name: &'a str,
    /// The whole command (FUNCTION STATS shows it).
    pub argv: &'a [Bytes],
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    /// EVAL_RO, FCALL_RO, or a script declaring `no-writes`.
    pub read_only: bool,
}

/// Runs a script for the client of `ctx`: with the client's database and
/// RESP2 selected (a script's SELECT and `redis.setresp` do not outlive
/// it), deny-blocking, and the clock frozen at the start.
pub fn run(ctx: &mut Ctx, engine: &mut Engine, call: Invocation) -> Reply {
    let caller_db = ctx.client.db;
    let caller_protocol = ctx.client.protocol;
    let was_in_script = ctx.client.in_script;
    ctx.client.in_script = true;
    let gate = ctx.scripting.gate.clone();
    let threshold = busy_threshold(ctx);
    gate.begin(call.kind, call.name, call.argv, threshold);
    let outcome = {
        let mut host = ScriptHost::new(ctx, call.read_only, gate.clone());
        match call.kind {
            RunKind::Eval => {
                engine
                    .scripts
                    .run(call.name.as_bytes(), call.keys, call.args, &mut host)
            }
            RunKind::Function => engine
                .functions
                .run(call.name, call.keys, call.args, &mut host),
        }
    };
    gate.end();
    ctx.client.in_script = was_in_script;
    ctx.client.db = caller_db;
    ctx.client.protocol = caller_protocol;
    if outcome.error_counted {
        ctx.server.error_already_counted = true;
    }
    outcome.reply
}

/// `busy-reply-threshold` (alias `lua-time-limit`) in milliseconds; 0
/// disables `-BUSY` replies.
fn busy_threshold(ctx: &Ctx) -> std::time::Duration {
    let ms = ctx
        .server
        .config
        .get("busy-reply-threshold")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000);
    std::time::Duration::from_millis(ms)
}
