//! Every command and subcommand numbered, with its ACL categories: the
//! universe ACL rules select from (Redis's command ids and category flags).

use crate::cmd::{CommandSpec, CommandTable, FullName};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Redis 7.0's categories, in its order (ACL CAT lists them so, and the
/// rule describer tries them so).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

pub struct Entry {
    /// `get`, or `client|kill` for a subcommand.
    pub name: String,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Bit i: member of `CATEGORIES[i]`.
    pub categories: u32,
    pub spec: &'static CommandSpec,
}

pub struct Catalog {
    pub entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    by_full: HashMap<FullName, usize>,
}

impl Catalog {
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(build)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A command by full name (`get`, `client|kill`), any case.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// A resolved command's id (no allocation: the executor's hot path).
    pub fn lookup_full(&self, full: FullName) -> Option<usize> {
        self.by_full.get(&full).copied()
    }

    /// Top-level commands, sorted by name (ferry's stand-in for Redis's
    /// dict order, which is random per process).
    pub fn top(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len()).filter(|i| self.entries[*i].parent.is_none())
    }
}

pub fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The spec's categories plus those Redis derives from its flags
/// (setImplicitACLCategories).
fn categories_of(spec: &CommandSpec) -> u32 {
    let mut bits = 0;
    for c in spec.acl {
        if let Some(b) = category_bit(c.trim_start_matches('@')) {
            bits |= b;
        }
    }
    let bit = |n: &str| category_bit(n).unwrap_or(0);
    if spec.has_flag("write") {
        bits |= bit("write");
    }
    if spec.has_flag("readonly") && bits & bit("scripting") == 0 {
        bits |= bit("read");
    }
    if spec.has_flag("admin") {
        bits |= bit("admin") | bit("dangerous");
    }
    if spec.has_flag("pubsub") {
        bits |= bit("pubsub");
    }
    if spec.has_flag("fast") {
        bits |= bit("fast");
    }
    if spec.has_flag("blocking") {
        bits |= bit("blocking");
    }
    if bits & bit("fast") == 0 {
        bits |= bit("slow");
    }
    bits
}

fn build() -> Catalog {
    let mut tops: Vec<&'static CommandSpec> = CommandTable::get().all().collect();
    tops.sort_by_key(|s| s.name);
    let mut entries = Vec::new();
    for spec in tops {
        let id = entries.len();
        entries.push(Entry {
            name: spec.name.to_string(),
            parent: None,
            children: Vec::new(),
            categories: categories_of(spec),
            spec,
        });
        let mut subs: Vec<&'static CommandSpec> = spec.subcommands.iter().collect();
        subs.sort_by_key(|s| s.name);
        for sub in subs {
            let sid = entries.len();
            entries.push(Entry {
                name: format!("{}|{}", spec.name, sub.name),
                parent: Some(id),
                children: Vec::new(),
                categories: categories_of(sub),
                spec: sub,
            });
            entries[id].children.push(sid);
        }
    }
    let by_name = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let by_full = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let full = match e.parent {
                Some(p) => FullName {
                    parent: Some(entries[p].spec.name),
                    name: e.spec.name,
                },
                None => FullName {
                    parent: None,
                    name: e.spec.name,
                },
            };
            (full, i)
        })
        .collect();
    Catalog {
        entries,
        by_name,
        by_full,
    }
}
