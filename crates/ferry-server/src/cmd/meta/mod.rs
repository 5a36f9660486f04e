//! Command metadata: what COMMAND INFO and COMMAND DOCS report (key specs,
//! tips, arguments, history...) for every command of Redis 7.0.15.
//!
//! These are interface facts that cluster-aware clients read, so they are
//! data generated once from a real redis-server by
//! `scripts/gen_command_meta.py` (`info.rs`, `docs.rs`) rather than kept by
//! hand beside each handler. The one-line summaries are ferry's own
//! (`summaries.txt`). Entries exist for every Redis command; the COMMAND
//! handlers answer only for those in ferry's table, so a newly added command
//! gets its metadata without regenerating.

#[rustfmt::skip]
mod docs;
#[rustfmt::skip]
mod info;
pub mod keys;
pub mod reply;

use std::collections::HashMap;
use std::sync::OnceLock;

/// One command (or subcommand) as COMMAND INFO describes it.
pub struct Meta {
    /// Full lowercase name: `get`, or `client|list` for a subcommand.
    pub name: &'static str,
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// Legacy (first key, last key, step).
    pub keys: (i32, i32, i32),
    pub acl: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub docs: &'static Docs,
    pub subcommands: &'static [Meta],
}

impl Meta {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The subcommand `name` (its own word, any case).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Meta> {
        self.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .is_some_and(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// The last word of the name (`list` for `client|list`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

/// How Redis finds a group of keys in the arguments.
pub struct KeySpec {
    pub notes: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

impl KeySpec {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// Where the search for a key spec's keys starts.
pub enum Begin {
    Unknown,
    /// At this argument.
    Index(i64),
    /// After this keyword, searched from `startfrom` (from the end when negative).
    Keyword(&'static str, i64),
}

/// Which arguments after the start are keys.
pub enum Find {
    Unknown,
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
}

/// COMMAND DOCS facts other than the summary.
pub struct Docs {
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: Option<&'static str>,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: Option<&'static [Arg]>,
}

impl Docs {
    /// The empty fields the generated entries start from.
    pub const NONE: Docs = Docs {
        since: "",
        group: "",
        complexity: None,
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments: None,
    };
}

/// One documented argument (nested for `oneof` and `block`).
pub struct Arg {
    pub name: &'static str,
    pub kind: &'static str,
    pub key_spec_index: Option<i64>,
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub args: &'static [Arg],
}

impl Arg {
    pub const NONE: Arg = Arg {
        name: "",
        kind: "",
        key_spec_index: None,
        token: None,
        since: None,
        deprecated_since: None,
        flags: &[],
        args: &[],
    };
}

/// Every Redis 7.0.15 command with metadata.
pub fn all() -> &'static [Meta] {
    info::COMMANDS
}

/// The top-level command `name` (any case).
/// The command or subcommand whose full name is `name` (`get`,
/// `client|list`), any case.
pub fn find_full(name: &str) -> Option<&'static Meta> {
    match name.split_once('|') {
        Some((parent, sub)) => find(parent.as_bytes())?.subcommand(sub.as_bytes()),
        None => find(name.as_bytes()),
    }
}

pub fn find(name: &[u8]) -> Option<&'static Meta> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Meta>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| info::COMMANDS.iter().map(|m| (m.name, m)).collect());
    // Lower-cased on the stack: this runs for every command ferry proxy
    // and ferry sync look at (no command name is longer than 32 bytes).
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    for (l, c) in lower.iter_mut().zip(name) {
        *l = c.to_ascii_lowercase();
    }
    map.get(std::str::from_utf8(lower).ok()?).copied()
}

/// ferry's one-line summary of the command `fullname` (`client|list`).
pub fn summary(fullname: &str) -> Option<&'static str> {
    static SUMMARIES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    SUMMARIES
        .get_or_init(|| {
            include_str!("summaries.txt")
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once(' '))
                .map(|(name, text)| (name, text.trim()))
                .collect()
        })
        .get(fullname)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{CommandSpec, CommandTable};

    fn each(metas: &'static [Meta], f: &mut impl FnMut(&'static Meta)) {
        for m in metas {
            f(m);
            each(m.subcommands, f);
        }
    }

    #[test]
    fn every_entry_has_a_summary() {
        let mut missing = Vec::new();
        each(all(), &mut |m| {
            if summary(m.name).is_none() {
                missing.push(m.name);
            }
        });
        assert!(missing.is_empty(), "no summary for {missing:?}");
    }

    /// Each command in ferry's table has metadata, and what its spec says
    /// (which drives dispatch) agrees with it.
    #[test]
    fn table_agrees_with_metadata() {
        fn check(spec: &CommandSpec, m: &Meta, out: &mut Vec<String>) {
            if spec.arity != m.arity {
                out.push(format!("{}: arity {} vs {}", m.name, spec.arity, m.arity));
            }
            let mut a: Vec<_> = spec.flags.to_vec();
            let mut b: Vec<_> = m.flags.to_vec();
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                out.push(format!("{}: flags {a:?} vs {b:?}", m.name));
            }
            if spec.subcommands.is_empty() && spec.keys != m.keys {
                out.push(format!("{}: keys {:?} vs {:?}", m.name, spec.keys, m.keys));
            }
            let mut a: Vec<_> = spec.acl.to_vec();
            let mut b: Vec<_> = m.acl.to_vec();
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                out.push(format!("{}: acl {a:?} vs {b:?}", m.name));
            }
            // A container ferry routes by hand is described with all of
            // Redis's subcommands: it must have them all.
            if spec.subcommands.is_empty() && !m.subcommands.is_empty() && m.name != "command" {
                out.push(format!("{}: routes its subcommands by hand", m.name));
            }
            for sub in spec.subcommands {
                match m.subcommand(sub.name.as_bytes()) {
                    Some(ms) => check(sub, ms, out),
                    // Newer than Redis 7.0.15: no 7.0 metadata to describe it.
                    None if (m.name, sub.name) == ("client", "no-touch") => {}
                    None => out.push(format!("{}|{}: no metadata", m.name, sub.name)),
                }
            }
        }
        let mut out = Vec::new();
        for spec in CommandTable::get().all() {
            match find(spec.name.as_bytes()) {
                Some(m) => check(spec, m, &mut out),
                None => out.push(format!("{}: no metadata", spec.name)),
            }
        }
        out.sort();
        assert!(out.is_empty(), "{}", out.join("\n"));
    }
}
