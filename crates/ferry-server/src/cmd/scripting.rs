//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
//! FCALL_RO and FUNCTION. The Lua side lives in `ferry-script`; running a
//! script is `crate::script::run`.

use super::args::{is, parse_i64, parse_i64_or};
use super::connection::help_reply;
use super::{cmd, container, err, subcommand_syntax_error, CmdResult, CommandSpec, Ctx};
use crate::script::{self, Invocation, RunKind};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_script::{RestorePolicy, ScriptFlags};

const SCRIPTING: &[&str] = &["@slow", "@scripting"];
const W_SCRIPTING: &[&str] = &["@write", "@slow", "@scripting"];
const EVAL_FLAGS: &[&str] = &[
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];
const EVAL_RO_FLAGS: &[&str] = &[
    "readonly",
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];

pub const COMMANDS: &[CommandSpec] = &[
    cmd("eval", -3, EVAL_FLAGS, (0, 0, 0), SCRIPTING, eval),
    cmd("evalsha", -3, EVAL_FLAGS, (0, 0, 0), SCRIPTING, evalsha),
    cmd("eval_ro", -3, EVAL_RO_FLAGS, (0, 0, 0), SCRIPTING, eval_ro),
    cmd(
        "evalsha_ro",
        -3,
        EVAL_RO_FLAGS,
        (0, 0, 0),
        SCRIPTING,
        evalsha_ro,
    ),
    cmd("fcall", -3, EVAL_FLAGS, (0, 0, 0), SCRIPTING, fcall),
    cmd(
        "fcall_ro",
        -3,
        EVAL_RO_FLAGS,
        (0, 0, 0),
        SCRIPTING,
        fcall_ro,
    ),
    container(
        "script",
        -2,
        &[],
        &["@slow"],
        &[
            cmd(
                "load",
                3,
                &["noscript", "stale"],
                (0, 0, 0),
                SCRIPTING,
                script_load,
            ),
            cmd(
                "kill",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                SCRIPTING,
                script_kill,
            ),
            cmd(
                "flush",
                -2,
                &["noscript"],
                (0, 0, 0),
                SCRIPTING,
                script_flush,
            ),
            cmd(
                "help",
                2,
                &["loading", "stale"],
                (0, 0, 0),
                SCRIPTING,
                script_help,
            ),
            cmd(
                "debug",
                3,
                &["noscript"],
                (0, 0, 0),
                SCRIPTING,
                script_debug,
            ),
            cmd(
                "exists",
                -3,
                &["noscript"],
                (0, 0, 0),
                SCRIPTING,
                script_exists,
            ),
        ],
    ),
    container(
        "function",
        -2,
        &[],
        &["@slow"],
        &[
            cmd(
                "kill",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                SCRIPTING,
                function_kill,
            ),
            cmd(
                "restore",
                -3,
                &["write", "denyoom", "noscript"],
                (0, 0, 0),
                W_SCRIPTING,
                function_restore,
            ),
            cmd(
                "delete",
                3,
                &["write", "noscript"],
                (0, 0, 0),
                W_SCRIPTING,
                function_delete,
            ),
            cmd(
                "load",
                -3,
                &["write", "denyoom", "noscript"],
                (0, 0, 0),
                W_SCRIPTING,
                function_load,
            ),
            cmd(
                "stats",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                SCRIPTING,
                function_stats,
            ),
            cmd(
                "help",
                2,
                &["loading", "stale"],
                (0, 0, 0),
                SCRIPTING,
                function_help,
            ),
            cmd(
                "flush",
                -2,
                &["write", "noscript"],
                (0, 0, 0),
                W_SCRIPTING,
                function_flush,
            ),
            cmd(
                "dump",
                2,
                &["noscript"],
                (0, 0, 0),
                SCRIPTING,
                function_dump,
            ),
            cmd(
                "list",
                -2,
                &["noscript"],
                (0, 0, 0),
                SCRIPTING,
                function_list,
            ),
        ],
    ),
];

/// The engines, taken out of the executor for the length of the command
/// (a script never runs another script: EVAL and FCALL are `noscript`).
fn take_engine(ctx: &mut Ctx) -> Result<script::Engine, super::CmdError> {
    ctx.scripting
        .engine
        .take()
        .ok_or_else(|| err("ERR the scripting engine is not available"))
}

fn put_engine(ctx: &mut Ctx, engine: script::Engine) {
    ctx.scripting.engine = Some(engine);
}

/// Runs `f` with the engines taken out of `ctx`, and puts them back.
fn with_engine<T>(
    ctx: &mut Ctx,
    f: impl FnOnce(&mut Ctx, &mut script::Engine) -> T,
) -> Result<T, super::CmdError> {
    let mut engine = take_engine(ctx)?;
    let out = f(ctx, &mut engine);
    put_engine(ctx, engine);
    Ok(out)
}

/// The keys and arguments after `numkeys` (at `argv[2]`), once validated.
type KeysAndArgs<'a> = (&'a [Bytes], &'a [Bytes]);

fn split_keys(argv: &[Bytes], numkeys: i64) -> Result<KeysAndArgs<'_>, super::CmdError> {
    let rest = &argv[3..];
    if numkeys > rest.len() as i64 {
        return Err(err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(err("ERR Number of keys can't be negative"));
    }
    Ok(rest.split_at(numkeys as usize))
}

/// MONITOR shows a script's command before the commands it runs, as
/// Redis does (EVAL and FCALL are flagged `skip_monitor` for the feed that
/// follows a command).
fn feed_monitors_first(ctx: &mut Ctx, argv: &[Bytes]) {
    if !ctx.client.in_script {
        crate::diagnostics::feed_monitors(ctx.server, ctx.client, false, argv);
    }
}

fn eval_generic(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    feed_monitors_first(ctx, argv);
    if by_sha && argv[1].len() != 40 {
        return Err(err("NOSCRIPT No matching script. Please use EVAL."));
    }
    let numkeys = parse_i64(&argv[2])?;
    let (keys, args) = split_keys(argv, numkeys)?;
    with_engine(ctx, |ctx, engine| {
        let loaded;
        let sha: &[u8] = if by_sha {
            &argv[1]
        } else {
            loaded = engine.scripts.load(&argv[1]).map_err(err)?;
            loaded.as_bytes()
        };
        let flags = engine
            .scripts
            .lookup(sha)
            .ok_or_else(|| err("NOSCRIPT No matching script. Please use EVAL."))?;
        let read_only = check_flags(flags, ro)?;
        let name = std::str::from_utf8(sha).unwrap_or("?");
        Ok(script::run(
            ctx,
            engine,
            Invocation {
                kind: RunKind::Eval,
                name,
                argv,
                keys,
                args,
                read_only,
            },
        ))
    })?
}

/// Redis's checks of a script's declared flags before it runs; returns
/// whether the run is read-only.
fn check_flags(flags: ScriptFlags, ro: bool) -> Result<bool, super::CmdError> {
    if flags.contains(ScriptFlags::EVAL_COMPAT) {
        return Ok(ro);
    }
    let no_writes = flags.contains(ScriptFlags::NO_WRITES);
    if !no_writes && ro {
        return Err(err(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(ro || no_writes)
}

fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[Bytes], ro: bool) -> CmdResult {
    feed_monitors_first(ctx, argv);
    with_engine(ctx, |ctx, engine| {
        let (name, flags) = engine
            .functions
            .lookup(&argv[1])
            .ok_or_else(|| err("ERR Function not found"))?;
        let numkeys = parse_i64_or(&argv[2], "ERR Bad number of keys provided")?;
        let (keys, args) = split_keys(argv, numkeys)?;
        let read_only = check_flags(flags, ro)?;
        Ok(script::run(
            ctx,
            engine,
            Invocation {
                kind: RunKind::Function,
                name: &name,
                argv,
                keys,
                args,
                read_only,
            },
        ))
    })?
}

fn fcall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

// --- SCRIPT -------------------------------------------------------------------

fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sha = with_engine(ctx, |_, engine| engine.scripts.load(&argv[2]))?.map_err(err)?;
    Ok(Reply::bulk(sha))
}

fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    with_engine(ctx, |_, engine| {
        Reply::Array(
            argv[2..]
                .iter()
                .map(|sha| Reply::Integer(engine.scripts.exists(sha) as i64))
                .collect(),
        )
    })
}

/// The `[ASYNC|SYNC]` of SCRIPT FLUSH and FUNCTION FLUSH (both flush at
/// once: there is nothing to free in the background).
fn flush_mode(argv: &[Bytes], message: &'static str) -> Result<(), super::CmdError> {
    match argv.get(2) {
        None => Ok(()),
        Some(a) if argv.len() == 3 && (is(a, "sync") || is(a, "async")) => Ok(()),
        Some(_) => Err(err(message)),
    }
}

fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    with_engine(ctx, |_, engine| engine.scripts.flush())?.map_err(err)?;
    Ok(Reply::OK)
}

fn script_kill(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // A script never runs while a command runs: the executor is single
    // threaded. SCRIPT KILL during a busy script is answered by the busy
    // gate (script/busy.rs).
    Err(err("NOTBUSY No scripts in execution right now."))
}

fn script_debug(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if is(&argv[2], "no") {
        Ok(Reply::OK)
    } else if is(&argv[2], "yes") || is(&argv[2], "sync") {
        Err(err(
            "ERR ferry has no Lua debugger (SCRIPT DEBUG YES|SYNC); debug scripts against redis-server",
        ))
    } else {
        Err(err("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
    }
}

fn script_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    ))
}

// --- FUNCTION -----------------------------------------------------------------

/// Writes the libraries to the store after a change, journaled with the
/// group like any write, so they survive a restart.
fn persist_functions(ctx: &mut Ctx, engine: &script::Engine) -> Result<(), super::CmdError> {
    ctx.scripting.gate.set_function_counts(
        engine.functions.library_count(),
        engine.functions.function_count(),
    );
    ctx.store.set_functions(&engine.functions.codes())?;
    Ok(())
}

fn function_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if is(&argv[i], "replace") {
            replace = true;
            i += 1;
            continue;
        }
        return Err(err(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(&argv[i])
        )));
    }
    if i >= argv.len() {
        return Err(err("ERR Function code is missing"));
    }
    let code = &argv[i];
    with_engine(ctx, |ctx, engine| {
        let name = engine.functions.load(code, replace).map_err(err)?;
        persist_functions(ctx, engine)?;
        Ok(Reply::bulk(name))
    })?
}

fn function_delete(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    with_engine(ctx, |ctx, engine| {
        engine.functions.delete(&argv[2]).map_err(err)?;
        persist_functions(ctx, engine)?;
        Ok(Reply::OK)
    })?
}

fn function_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Ok(subcommand_syntax_error("FUNCTION", &argv[1]));
    }
    flush_mode(argv, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    with_engine(ctx, |ctx, engine| {
        engine.functions.flush().map_err(err)?;
        persist_functions(ctx, engine)?;
        Ok(Reply::OK)
    })?
}

fn function_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        if !with_code && is(&argv[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(&argv[i], "libraryname") {
            if i + 1 >= argv.len() {
                return Err(err("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(&argv[i]);
        } else {
            return Err(err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&argv[i])
            )));
        }
        i += 1;
    }
    with_engine(ctx, |_, engine| {
        engine.functions.list(pattern, with_code, |p, name| {
            ferry_store::glob::glob_match(p, name, true)
        })
    })
}

fn function_dump(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    with_engine(ctx, |_, engine| Reply::bulk(engine.functions.dump()))
}

fn function_restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Ok(subcommand_syntax_error("FUNCTION", &argv[1]));
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if is(p, "append") => RestorePolicy::Append,
            Some(p) if is(p, "replace") => RestorePolicy::Replace,
            Some(p) if is(p, "flush") => RestorePolicy::Flush,
            Some(_) => return Err(err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    with_engine(ctx, |ctx, engine| {
        engine.functions.restore(&argv[2], policy).map_err(err)?;
        persist_functions(ctx, engine)?;
        Ok(Reply::OK)
    })?
}

fn function_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // No script runs while a command runs; the gate keeps the counts (and
    // answers this itself while a function is busy).
    Ok(ctx.scripting.gate.function_stats())
}

fn function_kill(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Err(err("NOTBUSY No scripts in execution right now."))
}

fn function_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}
