//! Every command and subcommand numbered, with its ACL categories: the
//! universe ACL rules select from (Redis's command ids and category flags).

use crate::cmd::meta;
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
    /// None for a Redis command ferry does not implement.
    pub spec: Option<&'static CommandSpec>,
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

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

/// Redis 7.0.15's categories of the command `name` (from the generated
/// command metadata, which knows every Redis command).
fn redis_categories(name: &str) -> Option<u32> {
    Some(
        meta::find_full(name)?
            .acl
            .iter()
            .filter_map(|c| category_bit(c.trim_start_matches('@')))
            .fold(0, |a, b| a | b),
    )
}

/// Every command: ferry's table merged with Redis's list, top-level
/// commands sorted by name, each followed by its subcommands.
fn build() -> Catalog {
    let table = CommandTable::get();
    let mut tops: Vec<&str> = table.all().map(|s| s.name).collect();
    tops.extend(meta::all().iter().map(|m| m.name));
    tops.sort_unstable();
    tops.dedup();
    let mut entries: Vec<Entry> = Vec::new();
    for name in tops {
        let spec = table.lookup(name.as_bytes());
        let id = entries.len();
        entries.push(Entry {
            name: name.to_string(),
            parent: None,
            children: Vec::new(),
            categories: redis_categories(name)
                .or_else(|| spec.map(categories_of))
                .unwrap_or(0),
            spec,
        });
        let mut subs: Vec<String> = spec
            .map(|s| s.subcommands.iter().map(|c| c.name.to_string()).collect())
            .unwrap_or_default();
        if let Some(m) = meta::find(name.as_bytes()) {
            subs.extend(m.subcommands.iter().map(|s| s.short_name().to_string()));
        }
        subs.sort_unstable();
        subs.dedup();
        for sub in subs {
            let full = format!("{name}|{sub}");
            let sub_spec = spec.and_then(|s| s.subcommands.iter().find(|c| c.name == sub));
            let sid = entries.len();
            entries.push(Entry {
                categories: redis_categories(&full)
                    .or_else(|| sub_spec.map(categories_of))
                    .unwrap_or(0),
                name: full,
                parent: Some(id),
                children: Vec::new(),
                spec: sub_spec,
            });
            entries[id].children.push(sid);
        }
    }
    let by_name = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let mut by_full = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(spec) = e.spec else { continue };
        let parent = match e.parent {
            Some(p) => match entries[p].spec {
                Some(ps) => Some(ps.name),
                None => continue,
            },
            None => None,
        };
        by_full.insert(
            FullName {
                parent,
                name: spec.name,
            },
            i,
        );
    }
    Catalog {
        entries,
        by_name,
        by_full,
    }
}
