//! The keys a command's arguments name (Redis's getKeysFromCommandWithSpecs),
//! with how each is accessed: for client-side caching (which keys a read
//! touched) and for ACL key permissions (`%R~`/`%W~`).
//!
//! Most commands are described by Redis's key specs, read from the command
//! metadata generated from redis-server 7.0.15 (`cmd::meta`), which cover
//! the movable-key commands too (EVAL/FCALL numkeys, ZUNIONSTORE,
//! LMPOP/ZMPOP, XREAD STREAMS, GEORADIUS STORE...). The few Redis resolves
//! with a procedure (SORT, MIGRATE, SET, BITFIELD) are handled here.

use super::meta::{self, Begin, Find, KeySpec};
use super::{CommandSpec, FullName};
use bytes::Bytes;

/// The key is read (the spec's `access` flag).
pub const R: u8 = 1;
/// The key is written (`insert`, `delete` or `update`).
pub const W: u8 = 2;

/// The key specs of the command whose full name is `name` (`get`,
/// `object|encoding`).
fn specs_of(name: &str) -> Option<&'static [KeySpec]> {
    meta::find_full(name).map(|m| m.key_specs)
}

/// A spec's access as `R`/`W` bits.
fn access_of(spec: &KeySpec) -> u8 {
    let mut a = 0;
    if spec.has_flag("access") {
        a |= R;
    }
    if spec.has_flag("insert") || spec.has_flag("delete") || spec.has_flag("update") {
        a |= W;
    }
    a
}

/// A key argument: its index in argv and its access (`R`, `W`, both, or 0
/// for a key only looked at, like EXISTS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub access: u8,
}

/// The key arguments of `argv`, the command `spec` (full name `name`).
/// Unknown shapes (a malformed `numkeys`) give no keys, as in Redis.
pub fn command_keys(spec: &CommandSpec, name: FullName, argv: &[Bytes]) -> Vec<Bytes> {
    let (first, last, step) = spec.keys;
    if first <= 0 && !spec.has_flag("movablekeys") {
        return Vec::new();
    }
    let full = name.to_string();
    let known = specs_of(&full).is_some() || matches!(spec.name, "sort" | "sort_ro" | "migrate");
    if known {
        return key_refs(&full, argv)
            .into_iter()
            .filter_map(|k| argv.get(k.pos).cloned())
            .collect();
    }
    // A subcommand (its spec knows only its own word): the fixed
    // positions of the table.
    if first <= 0 || step <= 0 {
        return Vec::new();
    }
    let argc = argv.len() as i32;
    let last = if last < 0 { argc + last } else { last };
    (first..=last.min(argc - 1))
        .step_by(step as usize)
        .map(|i| argv[i as usize].clone())
        .collect()
}

/// The keys of `argv` for the command whose full name is `name`
/// (`get`, `object|encoding`).
pub fn key_refs(name: &str, argv: &[Bytes]) -> Vec<KeyRef> {
    match name {
        "sort" => return sort_keys(argv),
        "sort_ro" => {
            return argv
                .get(1)
                .map(|_| KeyRef { pos: 1, access: R })
                .into_iter()
                .collect();
        }
        "migrate" => return migrate_keys(argv),
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            let access = if get { R | W } else { W };
            return argv
                .get(1)
                .map(|_| KeyRef { pos: 1, access })
                .into_iter()
                .collect();
        }
        "bitfield" => {
            let writes = argv
                .iter()
                .skip(2)
                .any(|a| a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby"));
            let access = if writes { R | W } else { R };
            return argv
                .get(1)
                .map(|_| KeyRef { pos: 1, access })
                .into_iter()
                .collect();
        }
        _ => {}
    }
    match specs_of(name) {
        Some(specs) => from_specs(specs, argv).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Redis's getKeysUsingKeySpecs; None when a spec does not fit the
/// arguments (Redis then finds no keys).
fn from_specs(specs: &[KeySpec], argv: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        if spec.has_flag("not_key") {
            continue;
        }
        let mut first: i64 = match spec.begin {
            Begin::Index(i) => i,
            Begin::Keyword(word, from) => {
                let (start, end) = if from > 0 {
                    (from, argc - 1)
                } else {
                    (argc + from, 1)
                };
                let mut found = 0;
                let mut i = start;
                while i != end && i >= 1 && i < argc {
                    if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range {
                lastkey: last,
                keystep: step,
                limit,
            } => {
                let l = if last >= 0 {
                    first + last
                } else if limit == 0 {
                    argc + last
                } else {
                    first + ((argc - first) / limit + last)
                };
                (l, step)
            }
            Find::Keynum {
                keynumidx: idx,
                firstkey: fk,
                keystep: step,
            } => {
                if idx >= argc - first {
                    return None;
                }
                let n: i64 = std::str::from_utf8(&argv[(first + idx) as usize])
                    .ok()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)?;
                first += fk;
                (first + n - 1, step)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let access = access_of(spec);
        let mut i = first;
        while i <= last {
            out.push(KeyRef {
                pos: i as usize,
                access,
            });
            i += step;
        }
    }
    Some(out)
}

/// SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dst]:
/// the sorted key, read, and the last STORE destination, written (BY/GET
/// patterns name no key: Redis does not check them either).
fn sort_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let mut out = Vec::new();
    if argv.len() < 2 {
        return out;
    }
    out.push(KeyRef { pos: 1, access: R });
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            // The last STORE wins; its argument is scanned as an option too.
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        out.push(KeyRef { pos, access: W });
    }
    out
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key ...]: the key, or the keys after KEYS when
/// the key argument is empty.
fn migrate_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let rw = R | W;
    if argv.len() > 6 && argv[3].is_empty() {
        let mut i = 6;
        while i < argv.len() {
            let a = &argv[i];
            if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            } else if a.eq_ignore_ascii_case(b"keys") {
                return (i + 1..argv.len())
                    .map(|pos| KeyRef { pos, access: rw })
                    .collect();
            }
            i += 1;
        }
        return Vec::new();
    }
    argv.get(3)
        .map(|_| KeyRef { pos: 3, access: rw })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(argv: &[&str]) -> Vec<(String, u8)> {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::from(a.to_string())).collect();
        let name = argv[0].to_ascii_lowercase();
        key_refs(std::str::from_utf8(&name).unwrap_or(""), &argv)
            .into_iter()
            .map(|k| (String::from_utf8_lossy(&argv[k.pos]).into_owned(), k.access))
            .collect()
    }

    fn k(list: &[(&str, u8)]) -> Vec<(String, u8)> {
        list.iter().map(|(n, a)| (n.to_string(), *a)).collect()
    }

    #[test]
    fn subcommand_keys_for_tracking() {
        let table = crate::cmd::CommandTable::get();
        let object = table.lookup(b"object").expect("OBJECT is in the table");
        let encoding = object
            .subcommands
            .iter()
            .find(|s| s.name == "encoding")
            .expect("OBJECT ENCODING is in the table");
        let argv: Vec<Bytes> = ["object", "encoding", "k"]
            .iter()
            .map(|a| Bytes::from(a.to_string()))
            .collect();
        let name = FullName {
            parent: Some("object"),
            name: "encoding",
        };
        assert_eq!(command_keys(encoding, name, &argv), vec![Bytes::from("k")]);
    }

    #[test]
    fn movable_keys() {
        assert_eq!(
            keys(&["eval", "s", "2", "a", "b", "c"]),
            k(&[("a", R | W), ("b", R | W)])
        );
        assert_eq!(keys(&["eval", "s", "0", "a"]), k(&[]));
        assert_eq!(keys(&["eval", "s", "5", "a"]), k(&[]));
        assert_eq!(keys(&["fcall_ro", "f", "1", "a"]), k(&[("a", R)]));
        assert_eq!(
            keys(&["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
            k(&[("d", W), ("a", R), ("b", R)])
        );
        assert_eq!(
            keys(&["lmpop", "2", "a", "b", "LEFT"]),
            k(&[("a", R | W), ("b", R | W)])
        );
        assert_eq!(keys(&["blmpop", "0", "1", "a", "LEFT"]), k(&[("a", R | W)]));
        assert_eq!(
            keys(&["xread", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]),
            k(&[("a", R), ("b", R)])
        );
        assert_eq!(
            keys(&["xreadgroup", "GROUP", "g", "c", "STREAMS", "a", ">"]),
            // Its spec is RW but neither inserts, deletes nor updates.
            k(&[("a", R)])
        );
        assert_eq!(
            keys(&["georadius", "g", "0", "0", "1", "km", "STORE", "d"]),
            k(&[("g", R), ("d", W)])
        );
        assert_eq!(
            keys(&["sort", "a", "BY", "w*", "GET", "#", "STORE", "d"]),
            k(&[("a", R), ("d", W)])
        );
        assert_eq!(keys(&["sort_ro", "a", "BY", "w*"]), k(&[("a", R)]));
        assert_eq!(
            keys(&["migrate", "h", "1", "", "0", "5", "AUTH", "KEYS", "KEYS", "a", "b"]),
            k(&[("a", R | W), ("b", R | W)])
        );
        assert_eq!(
            keys(&["migrate", "h", "1", "k", "0", "5"]),
            k(&[("k", R | W)])
        );
        assert_eq!(keys(&["set", "a", "v"]), k(&[("a", W)]));
        assert_eq!(keys(&["set", "a", "v", "GET"]), k(&[("a", R | W)]));
        assert_eq!(keys(&["bitfield", "a", "GET", "u8", "0"]), k(&[("a", R)]));
        assert_eq!(keys(&["rename", "a", "b"]), k(&[("a", R | W), ("b", W)]));
        assert_eq!(
            keys(&["mset", "a", "1", "b", "2"]),
            k(&[("a", W), ("b", W)])
        );
        assert_eq!(keys(&["exists", "a", "b"]), k(&[("a", 0), ("b", 0)]));
        assert_eq!(keys(&["object", "encoding", "a"]), k(&[]));
        assert_eq!(keys(&["object|encoding", "encoding", "a"]), k(&[("a", 0)]));
    }
}
