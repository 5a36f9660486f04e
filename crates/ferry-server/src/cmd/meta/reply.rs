//! COMMAND INFO and COMMAND DOCS replies built from [`Meta`], in the exact
//! shapes Redis 7.0 sends (sets, maps and arrays where it uses them).

use super::{Arg, Begin, Docs, Find, KeySpec, Meta};
use ferry_resp::Reply;

/// Which subcommands of a command ferry has: the reply lists only those.
pub type SubFilter<'a> = &'a dyn Fn(&Meta) -> bool;

fn status_set(items: &[&'static str]) -> Reply {
    Reply::Set(items.iter().map(|s| Reply::status(s)).collect())
}

fn bulk(s: &'static str) -> Reply {
    Reply::bulk(s)
}

fn pair(k: &'static str, v: Reply) -> (Reply, Reply) {
    (bulk(k), v)
}

/// The 10-element COMMAND INFO entry.
pub fn info(m: &'static Meta, subs: SubFilter) -> Reply {
    let subcommands = if m.subcommands.is_empty() {
        Reply::Set(vec![])
    } else {
        Reply::Array(
            m.subcommands
                .iter()
                .filter(|s| subs(s))
                .map(|s| info(s, subs))
                .collect(),
        )
    };
    Reply::Array(vec![
        bulk(m.name),
        Reply::Integer(m.arity.into()),
        status_set(m.flags),
        Reply::Integer(m.keys.0.into()),
        Reply::Integer(m.keys.1.into()),
        Reply::Integer(m.keys.2.into()),
        status_set(m.acl),
        Reply::Set(m.tips.iter().map(|t| bulk(t)).collect()),
        Reply::Set(m.key_specs.iter().map(key_spec).collect()),
        subcommands,
    ])
}

fn key_spec(k: &'static KeySpec) -> Reply {
    let mut map = Vec::with_capacity(4);
    if let Some(notes) = k.notes {
        map.push(pair("notes", bulk(notes)));
    }
    map.push(pair("flags", status_set(k.flags)));
    let (kind, spec) = match k.begin {
        Begin::Unknown => ("unknown", vec![]),
        Begin::Index(i) => ("index", vec![pair("index", Reply::Integer(i))]),
        Begin::Keyword(word, from) => (
            "keyword",
            vec![
                pair("keyword", bulk(word)),
                pair("startfrom", Reply::Integer(from)),
            ],
        ),
    };
    map.push(pair("begin_search", typed(kind, spec)));
    let (kind, spec) = match k.find {
        Find::Unknown => ("unknown", vec![]),
        Find::Range {
            lastkey,
            keystep,
            limit,
        } => (
            "range",
            vec![
                pair("lastkey", Reply::Integer(lastkey)),
                pair("keystep", Reply::Integer(keystep)),
                pair("limit", Reply::Integer(limit)),
            ],
        ),
        Find::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => (
            "keynum",
            vec![
                pair("keynumidx", Reply::Integer(keynumidx)),
                pair("firstkey", Reply::Integer(firstkey)),
                pair("keystep", Reply::Integer(keystep)),
            ],
        ),
    };
    map.push(pair("find_keys", typed(kind, spec)));
    Reply::Map(map)
}

fn typed(kind: &'static str, spec: Vec<(Reply, Reply)>) -> Reply {
    Reply::Map(vec![
        pair("type", bulk(kind)),
        pair("spec", Reply::Map(spec)),
    ])
}

/// The COMMAND DOCS map of one command; `summary` is ferry's own.
pub fn docs(m: &'static Meta, summary: &'static str, subs: SubFilter) -> Reply {
    let d: &Docs = m.docs;
    let mut map = vec![
        pair("summary", bulk(summary)),
        pair("since", bulk(d.since)),
        pair("group", bulk(d.group)),
    ];
    if let Some(c) = d.complexity {
        map.push(pair("complexity", bulk(c)));
    }
    if !d.doc_flags.is_empty() {
        map.push(pair("doc_flags", status_set(d.doc_flags)));
    }
    if let Some(v) = d.deprecated_since {
        map.push(pair("deprecated_since", bulk(v)));
    }
    if let Some(v) = d.replaced_by {
        map.push(pair("replaced_by", bulk(v)));
    }
    if !d.history.is_empty() {
        map.push(pair(
            "history",
            Reply::Set(
                d.history
                    .iter()
                    .map(|(since, change)| Reply::Array(vec![bulk(since), bulk(change)]))
                    .collect(),
            ),
        ));
    }
    if let Some(args) = d.arguments {
        map.push(pair("arguments", arguments(args)));
    }
    if !m.subcommands.is_empty() {
        map.push(pair(
            "subcommands",
            Reply::Map(
                m.subcommands
                    .iter()
                    .filter(|s| subs(s))
                    .map(|s| {
                        let summary = super::summary(s.name).unwrap_or("");
                        (bulk(s.name), docs(s, summary, subs))
                    })
                    .collect(),
            ),
        ));
    }
    Reply::Map(map)
}

fn arguments(args: &'static [Arg]) -> Reply {
    Reply::Array(args.iter().map(argument).collect())
}

fn argument(a: &'static Arg) -> Reply {
    let mut map = vec![pair("name", bulk(a.name)), pair("type", bulk(a.kind))];
    if let Some(i) = a.key_spec_index {
        map.push(pair("key_spec_index", Reply::Integer(i)));
    }
    if let Some(t) = a.token {
        map.push(pair("token", bulk(t)));
    }
    if let Some(s) = a.since {
        map.push(pair("since", bulk(s)));
    }
    if let Some(s) = a.deprecated_since {
        map.push(pair("deprecated_since", bulk(s)));
    }
    if !a.flags.is_empty() {
        map.push(pair("flags", status_set(a.flags)));
    }
    if a.kind == "oneof" || a.kind == "block" {
        map.push(pair("arguments", arguments(a.args)));
    }
    Reply::Map(map)
}
