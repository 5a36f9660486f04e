//! The keys a command's arguments name, with how each is accessed: for
//! client-side caching (which keys a read touched) and for ACL key
//! permissions (`%R~`/`%W~`).
//!
//! Redis uses one function for both and for COMMAND GETKEYS
//! (getKeysFromCommandWithSpecs): the key specs when they are reliable,
//! else the command's own key finder. ferry has it once too,
//! [`super::meta::keys::find_keys`] over the metadata generated from
//! redis-server 7.0.15; this module turns its key-spec flags into
//! read/write access.

use super::meta;
use super::{CommandSpec, FullName};
use bytes::Bytes;

/// The key is read (the spec's `access` flag).
pub const R: u8 = 1;
/// The key is written (`insert`, `delete` or `update`).
pub const W: u8 = 2;

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
    if spec.keys.0 <= 0 && !spec.has_flag("movablekeys") {
        return Vec::new();
    }
    key_refs(&name.to_string(), argv)
        .into_iter()
        .filter_map(|k| argv.get(k.pos).cloned())
        .collect()
}

/// The keys of `argv` for the command whose full name is `name`
/// (`get`, `object|encoding`).
pub fn key_refs(name: &str, argv: &[Bytes]) -> Vec<KeyRef> {
    let Some(m) = meta::find_full(name) else {
        return Vec::new();
    };
    meta::keys::find_keys(m, argv)
        .into_iter()
        .map(|k| KeyRef {
            pos: k.pos,
            access: access_of(k.flags),
        })
        .collect()
}

/// Key-spec flags as `R`/`W` bits, as Redis's ACL reads them.
fn access_of(flags: &[&str]) -> u8 {
    let mut a = 0;
    if flags.contains(&"access") {
        a |= R;
    }
    if flags
        .iter()
        .any(|f| matches!(*f, "insert" | "delete" | "update"))
    {
        a |= W;
    }
    a
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
