//! The keys a command's arguments name (Redis's getKeysFromCommand), for
//! client-side caching: fixed positions from the table, and the few
//! read-only commands whose keys move (a `numkeys` argument, XREAD's
//! STREAMS).

use super::CommandSpec;
use bytes::Bytes;

/// The key arguments of `argv`, a command `spec` names. Unknown shapes
/// (a malformed `numkeys`) give the keys that are certain, possibly none.
pub fn command_keys(spec: &CommandSpec, argv: &[Bytes]) -> Vec<Bytes> {
    if spec.has_flag("movablekeys") {
        return movable_keys(spec.name, argv);
    }
    let (first, last, step) = spec.keys;
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

fn movable_keys(name: &str, argv: &[Bytes]) -> Vec<Bytes> {
    match name {
        // CMD numkeys key [key ...] ...
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            numkeys_at(argv, 1)
        }
        // CMD timeout numkeys key ...
        "blmpop" | "bzmpop" => numkeys_at(argv, 2),
        // ... STREAMS key [key ...] id [id ...]
        "xread" | "xreadgroup" => {
            let Some(at) = argv.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else {
                return Vec::new();
            };
            let rest = &argv[at + 1..];
            if !rest.len().is_multiple_of(2) {
                return Vec::new();
            }
            rest[..rest.len() / 2].to_vec()
        }
        // The sorted key (BY/GET patterns name no key; SORT's STORE does).
        "sort_ro" => argv.get(1).cloned().into_iter().collect(),
        "sort" => {
            let mut keys: Vec<Bytes> = argv.get(1).cloned().into_iter().collect();
            if let Some(i) = argv
                .iter()
                .skip(2)
                .position(|a| a.eq_ignore_ascii_case(b"store"))
            {
                keys.extend(argv.get(i + 3).cloned());
            }
            keys
        }
        _ => Vec::new(),
    }
}

fn numkeys_at(argv: &[Bytes], at: usize) -> Vec<Bytes> {
    let Some(n) = argv
        .get(at)
        .and_then(|a| std::str::from_utf8(a).ok())
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return Vec::new();
    };
    argv.get(at + 1..at + 1 + n)
        .map(<[Bytes]>::to_vec)
        .unwrap_or_default()
}
