//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS, HELP): what ferry's commands are, from the metadata in
//! [`super::meta`], limited to the commands in ferry's table.

use super::args::{is, SYNTAX};
use super::connection::help_reply;
use super::meta::{self, keys, reply, Meta};
use super::{cmd, err, CmdResult, CommandSpec, CommandTable, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;

pub const COMMANDS: &[CommandSpec] = &[cmd(
    "command",
    -1,
    &["loading", "stale"],
    (0, 0, 0),
    &["@slow", "@connection"],
    command,
)];

/// Whether ferry has the command or subcommand `m`. A subcommand counts
/// when its container lists it, or when the container routes its
/// subcommands itself (an empty list, as COMMAND does).
fn ferry_has(m: &Meta) -> bool {
    let table = CommandTable::get();
    match m.name.split_once('|') {
        None => table.lookup(m.name.as_bytes()).is_some(),
        Some((parent, sub)) => table.lookup(parent.as_bytes()).is_some_and(|spec| {
            spec.subcommands.is_empty() || spec.subcommands.iter().any(|s| s.name == sub)
        }),
    }
}

/// ferry's top-level commands that have metadata, sorted by name.
fn ferry_commands() -> Vec<&'static Meta> {
    meta::all().iter().filter(|m| ferry_has(m)).collect()
}

/// The command a name given to COMMAND INFO/DOCS means: `get`, or
/// `config|get` for a subcommand (Redis's lookupCommandBySds).
fn by_full_name(name: &[u8]) -> Option<&'static Meta> {
    let mut parts = name.split(|b| *b == b'|');
    let base = meta::find(parts.next()?)?;
    let found = match parts.next() {
        None => base,
        Some(sub) => base.subcommand(sub)?,
    };
    if parts.next().is_some() || !ferry_has(found) {
        return None;
    }
    Some(found)
}

/// The command a command line names (Redis's lookupCommand): a container
/// alone is itself; with more arguments, its subcommand.
fn by_argv(argv: &[Bytes]) -> Option<&'static Meta> {
    let base = meta::find(argv.first()?)?;
    let found = if argv.len() == 1 || base.subcommands.is_empty() {
        base
    } else {
        base.subcommand(&argv[1])?
    };
    ferry_has(found).then_some(found)
}

fn summary(m: &Meta) -> &'static str {
    meta::summary(m.name).unwrap_or("")
}

fn info_entry(m: &'static Meta) -> Reply {
    reply::info(m, &ferry_has)
}

/// COMMAND alone lists every command; with an argument, runs the subcommand.
fn command(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 1 {
        return Ok(Reply::Array(
            ferry_commands().into_iter().map(info_entry).collect(),
        ));
    }
    let found = meta::find(b"command").and_then(|c| c.subcommand(&argv[1]));
    let Some(sub) = found else {
        return Err(err(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&argv[1])
                .chars()
                .take(128)
                .collect::<String>()
        )));
    };
    let argc = argv.len() as i32;
    let arity_ok = if sub.arity >= 0 {
        argc == sub.arity
    } else {
        argc >= -sub.arity
    };
    if !arity_ok {
        return Err(err(format!(
            "ERR wrong number of arguments for '{}' command",
            sub.name
        )));
    }
    match sub.short_name() {
        "count" => command_count(),
        "info" => command_info(argv),
        "docs" => command_docs(argv),
        "list" => command_list(argv),
        "getkeys" => command_getkeys(argv, false),
        "getkeysandflags" => command_getkeys(argv, true),
        _ => command_help(ctx),
    }
}

fn command_count() -> CmdResult {
    Ok(Reply::Integer(ferry_commands().len() as i64))
}

fn command_info(argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return Ok(Reply::Array(
            ferry_commands().into_iter().map(info_entry).collect(),
        ));
    }
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|n| by_full_name(n).map_or(Reply::Null, info_entry))
            .collect(),
    ))
}

fn command_docs(argv: &[Bytes]) -> CmdResult {
    let found: Vec<&'static Meta> = if argv.len() == 2 {
        ferry_commands()
    } else {
        argv[2..].iter().filter_map(|n| by_full_name(n)).collect()
    };
    Ok(Reply::Map(
        found
            .into_iter()
            .map(|m| (Reply::bulk(m.name), reply::docs(m, summary(m), &ferry_has)))
            .collect(),
    ))
}

/// What COMMAND LIST FILTERBY keeps.
enum Filter {
    None,
    /// No command is in a module.
    Module,
    AclCat(String),
    Pattern(Bytes),
}

fn command_list(argv: &[Bytes]) -> CmdResult {
    let mut filter = Filter::None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if !(is(&argv[i], "filterby") && more == 2) {
            return Err(err(SYNTAX));
        }
        let value = argv[i + 2].clone();
        filter = if is(&argv[i + 1], "module") {
            Filter::Module
        } else if is(&argv[i + 1], "aclcat") {
            Filter::AclCat(String::from_utf8_lossy(&value).to_ascii_lowercase())
        } else if is(&argv[i + 1], "pattern") {
            Filter::Pattern(value)
        } else {
            return Err(err(SYNTAX));
        };
        i += 3;
    }
    let keep = |m: &Meta| match &filter {
        Filter::None => true,
        Filter::Module => false,
        Filter::AclCat(cat) => m
            .acl
            .iter()
            .any(|a| a.strip_prefix('@').is_some_and(|a| a == cat)),
        Filter::Pattern(p) => ferry_store::glob::glob_match(p, m.name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for m in ferry_commands() {
        if keep(m) {
            names.push(Reply::bulk(m.name));
        }
        for s in m.subcommands.iter().filter(|s| ferry_has(s)) {
            if keep(s) {
                names.push(Reply::bulk(s.name));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS <command line>.
fn command_getkeys(argv: &[Bytes], with_flags: bool) -> CmdResult {
    let line = &argv[2..];
    let Some(m) = by_argv(line) else {
        return Err(err("ERR Invalid command specified"));
    };
    if !keys::has_keys(m) {
        return Err(err("ERR The command has no key arguments"));
    }
    let argc = line.len() as i32;
    if (m.arity > 0 && m.arity != argc) || argc < -m.arity {
        return Err(err("ERR Invalid number of arguments specified for command"));
    }
    let found = keys::find_keys(m, line);
    if found.is_empty() {
        if m.has_flag("no_mandatory_keys") {
            return Ok(Reply::Array(vec![]));
        }
        return Err(err("ERR Invalid arguments specified for command"));
    }
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|k| {
                let key = Reply::Bulk(line[k.pos].clone());
                if with_flags {
                    Reply::Array(vec![
                        key,
                        Reply::Set(k.flags.iter().map(|f| Reply::status(f)).collect()),
                    ])
                } else {
                    key
                }
            })
            .collect(),
    ))
}

fn command_help(_: &mut Ctx) -> CmdResult {
    Ok(help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands ferry has.",
            "COUNT",
            "    Return the number of commands ferry has.",
            "LIST",
            "    Return the names of the commands ferry has.",
            "INFO [<command-name> ...]",
            "    Return details about the named commands, or all of them.",
            "DOCS [<command-name> ...]",
            "    Return documentation about the named commands, or all of them.",
            "GETKEYS <full-command>",
            "    Return the keys a full command line names.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys a full command line names, with their access flags.",
        ],
    ))
}
