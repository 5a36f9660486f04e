//! Server commands: INFO, CONFIG, TIME, LASTSAVE, SAVE, BGSAVE,
//! SHUTDOWN.

use super::args::{is, SYNTAX};
use super::connection::help_reply;
use super::{cmd, container, err, CmdResult, CommandSpec, Ctx};
use crate::config::ConfigSetError;
use crate::state::{ShutdownMode, Stats};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::Durability;
use std::fmt::Write;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const DANGER: &[&str] = &["@admin", "@slow", "@dangerous"];
const NONE: (i32, i32, i32) = (0, 0, 0);

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "info",
        -1,
        &["loading", "stale"],
        NONE,
        &["@slow", "@dangerous"],
        info,
    ),
    container("config", -2, &[], &["@slow"], CONFIG),
    cmd(
        "time",
        1,
        &["loading", "stale", "fast"],
        NONE,
        &["@fast"],
        time,
    ),
    cmd(
        "lastsave",
        1,
        &["loading", "stale", "fast"],
        NONE,
        &["@admin", "@fast", "@dangerous"],
        lastsave,
    ),
    cmd(
        "save",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        NONE,
        DANGER,
        save,
    ),
    cmd(
        "bgsave",
        -1,
        &["admin", "noscript", "no_async_loading"],
        NONE,
        DANGER,
        bgsave,
    ),
    cmd(
        "shutdown",
        -1,
        &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        NONE,
        DANGER,
        shutdown,
    ),
];

const CONFIG: &[CommandSpec] = &[
    cmd(
        "get",
        -3,
        ADMIN,
        NONE,
        &["@admin", "@slow", "@dangerous"],
        config_get,
    ),
    cmd(
        "set",
        -4,
        ADMIN,
        NONE,
        &["@admin", "@slow", "@dangerous"],
        config_set,
    ),
    cmd(
        "resetstat",
        2,
        ADMIN,
        NONE,
        &["@admin", "@slow", "@dangerous"],
        config_resetstat,
    ),
    cmd(
        "rewrite",
        2,
        ADMIN,
        NONE,
        &["@admin", "@slow", "@dangerous"],
        config_rewrite,
    ),
    cmd(
        "help",
        2,
        &["loading", "stale"],
        NONE,
        &["@slow"],
        config_help,
    ),
];

fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    // Redis's section groups: "default" (also no argument) leaves out
    // commandstats and latencystats; "all" and "everything" include them.
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let show = |s: &str| {
        everything
            || (default && !matches!(s, "commandstats" | "latencystats"))
            || wanted.iter().any(|w| w == s)
    };
    let mut out = String::new();
    let st = &*ctx.server;
    let uptime = st.started.elapsed().as_secs();
    let rss = resident_bytes();
    if show("server") {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{}\r\nferry_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            st.run_id,
            st.startup.port,
            ferry_store::unix_ms() * 1000,
            uptime,
            uptime / 86400,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        );
    }
    if show("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n\r\n",
            st.clients.len() + 1,
            st.config.get("maxclients").unwrap_or("10000"),
            st.blocked.len() + st.held.len(),
            st.tracking.clients,
        );
    }
    if show("memory") {
        let key_cache = ctx.store.key_cache_stats();
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{rss}\r\n{}maxmemory:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:libc\r\nferry_cache_mb:{}\r\nferry_key_cache_mb:{}\r\nferry_key_cache_bytes:{}\r\nferry_key_cache_hits:{}\r\nferry_key_cache_misses:{}\r\nferry_list_heads_bytes:{}\r\n\r\n",
            human_bytes(rss),
            human_bytes(rss),
            scripting_memory(ctx.scripting),
            st.config.get("maxmemory").unwrap_or("0"),
            st.config.get("maxmemory-policy").unwrap_or("noeviction"),
            st.startup.cache_mb,
            st.startup.key_cache_mb,
            key_cache.0,
            key_cache.1,
            key_cache.2,
            ctx.store.list_memory_bytes(),
        );
    }
    if show("persistence") {
        let durability = Durability::parse(st.config.get("appendfsync").unwrap_or("everysec"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\nferry_data_file:{}\r\nferry_durability:{}\r\nferry_wal_limit_bytes:{}\r\nferry_wal_restarts:{}\r\n\r\n",
            st.lastsave,
            ctx.store.path().display(),
            durability.as_str(),
            ctx.store.wal_limit_bytes(),
            st.stats.wal_restarts,
        );
    }
    if show("stats") {
        let s: &Stats = &st.stats;
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:0\r\npubsub_patterns:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n\r\n",
            s.connections_received,
            s.commands_processed,
            s.net_input_bytes,
            s.net_output_bytes,
            s.rejected_connections,
            s.expired_keys,
            s.keyspace_hits,
            s.keyspace_misses,
            st.tracking.total_keys(),
            st.tracking.total_items(),
            st.tracking.total_prefixes(),
        );
    }
    if show("replication") {
        match &ctx.server.raft {
            Some(node) => out.push_str(&crate::replication::info_section(&node.status())),
            None => out.push_str(
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n\r\n",
            ),
        }
    }
    if show("cpu") {
        let (user, sys) = cpu_seconds();
        let _ = write!(
            out,
            "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n\r\n"
        );
    }
    if show("modules") {
        out.push_str("# Modules\r\n\r\n");
    }
    if show("commandstats") {
        out.push_str("# Commandstats\r\n");
        let mut rows: Vec<_> = st.stats.commands.iter().collect();
        rows.sort_by_key(|(n, _)| n.to_string());
        for (name, s) in rows {
            let per_call = if s.calls > 0 {
                s.usec as f64 / s.calls as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls=0,failed_calls={}\r\n",
                s.calls, s.usec, s.failed
            );
        }
        out.push_str("\r\n");
    }
    if show("errorstats") {
        out.push_str("# Errorstats\r\n");
        let mut rows: Vec<_> = st.stats.errors.iter().collect();
        rows.sort();
        for (code, n) in rows {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
        out.push_str("\r\n");
    }
    if show("latencystats") {
        // Per-command latency percentiles are not tracked.
        out.push_str("# Latencystats\r\n\r\n");
    }
    if show("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if show("keyspace") {
        out.push_str("# Keyspace\r\n");
        for db in 0..ferry_store::DATABASES {
            let keys = ctx.store.dbsize(db);
            if keys > 0 {
                let _ = write!(
                    out,
                    "db{db}:keys={keys},expires={},avg_ttl=0\r\n",
                    ctx.store.expires_count(db)
                );
            }
        }
        out.push_str("\r\n");
    }
    // Redis ends the text without the final blank line.
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    Ok(Reply::Verbatim("txt".into(), Bytes::from(out)))
}

/// INFO memory's scripting lines, as Redis 7.0 names them (zeros while a
/// script runs INFO: the engines are in use).
fn scripting_memory(scripting: &crate::script::Scripting) -> String {
    let (vm_eval, eval_cache, scripts, vm_functions, functions, libraries) = match &scripting.engine
    {
        Some(e) => (
            e.scripts.lua_memory() as u64,
            e.scripts.cache_memory() as u64,
            e.scripts.len(),
            e.functions.lua_memory() as u64,
            e.functions.function_count(),
            e.functions.library_count(),
        ),
        None => (0, 0, 0, 0, 0, 0),
    };
    let functions_bytes: u64 = match &scripting.engine {
        Some(e) => e.functions.libraries().map(|l| l.code.len() as u64).sum(),
        None => 0,
    };
    format!(
        "used_memory_lua:{vm_eval}\r\nused_memory_vm_eval:{vm_eval}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{eval_cache}\r\nnumber_of_cached_scripts:{scripts}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:{vm_functions}\r\nused_memory_vm_total:{}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{functions_bytes}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\n",
        human_bytes(vm_eval),
        vm_eval + vm_functions,
        human_bytes(vm_eval + vm_functions),
        eval_cache + functions_bytes,
        human_bytes(eval_cache + functions_bytes),
    )
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", units[u])
    }
}

/// Resident set size from /proc (0 where there is none).
pub(super) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// User and system CPU seconds of this process from /proc.
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(11), ticks(12))
}

fn config_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pattern in &argv[2..] {
        for (k, v) in ctx.server.config.matching(pattern) {
            if !pairs.iter().any(|(n, _)| n == k) {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
    }
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k), Reply::bulk(v)))
            .collect(),
    ))
}

fn config_set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = &argv[2..];
    if !args.len().is_multiple_of(2) {
        return Err(err(SYNTAX));
    }
    // Validate every pair first: CONFIG SET is all or nothing.
    let mut checked = Vec::new();
    for pair in args.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]);
        let value = String::from_utf8_lossy(&pair[1]);
        let (name, value) = ctx
            .server
            .config
            .check(&name, &value)
            .map_err(|e: ConfigSetError| err(e.message()))?;
        if checked.iter().any(|(n, _): &(String, String)| *n == name) {
            return Err(err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
        checked.push((name, value));
    }
    for (name, value) in checked {
        if name == "appendfsync" {
            if let Some(d) = Durability::parse(&value) {
                ctx.store.set_durability(d)?;
            }
        }
        if name == "requirepass" {
            ctx.server.acl.set_requirepass(&value);
            ctx.server.auth_required.store(
                ctx.server.acl.auth_required(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if name == "notify-keyspace-events" {
            let raw = args
                .chunks(2)
                .rev()
                .find(|p| p[0].eq_ignore_ascii_case(b"notify-keyspace-events"))
                .map(|p| String::from_utf8_lossy(&p[1]).into_owned())
                .unwrap_or_default();
            ctx.server.notify_flags = crate::notify::parse_flags(&raw).unwrap_or(0);
        }
        ctx.server.config.set(name, value);
    }
    ctx.server.config_changed();
    Ok(Reply::OK)
}

fn config_resetstat(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.server.stats = Stats::default();
    Ok(Reply::OK)
}

fn config_rewrite(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Err(err("ERR The server is running without a config file"))
}

fn config_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern> [<pattern> ...]",
            "    Return parameters matching the glob-like patterns and their values.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Set the configuration directives to the values given.",
            "RESETSTAT",
            "    Reset the statistics reported by INFO.",
            "REWRITE",
            "    Not available: ferry reads its settings from flags and ferry.toml.",
        ],
    ))
}

fn time(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let _ = &ctx.client;
    Ok(Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ]))
}

fn lastsave(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.server.lastsave))
}

/// SAVE and BGSAVE checkpoint the write-ahead log into the database file.
fn save(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.store.checkpoint()?;
    ctx.server.lastsave = ferry_store::unix_ms() / 1000;
    Ok(Reply::OK)
}

fn bgsave(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 || (argv.len() == 2 && !is(&argv[1], "schedule")) {
        return Err(err(SYNTAX));
    }
    ctx.store.checkpoint()?;
    ctx.server.lastsave = ferry_store::unix_ms() / 1000;
    Ok(Reply::status("Background saving started"))
}

fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut mode = ShutdownMode::Save;
    for a in &argv[1..] {
        if is(a, "nosave") {
            mode = ShutdownMode::NoSave;
        } else if is(a, "save") {
            mode = ShutdownMode::Save;
        } else if is(a, "now") || is(a, "force") {
        } else if is(a, "abort") {
            return Err(err("ERR No shutdown in progress."));
        } else {
            return Err(err(SYNTAX));
        }
    }
    log::info!("user requested shutdown...");
    ctx.server.shutdown = Some(mode);
    ctx.client.close_after_reply = true;
    // Like Redis, a successful SHUTDOWN closes the connection without a reply.
    Ok(Reply::NoReply)
}
