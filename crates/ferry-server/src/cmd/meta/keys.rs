//! The key arguments of a command line, found as Redis 7.0's COMMAND
//! GETKEYS finds them: by the command's key specs, falling back to the
//! command's own key finder where the specs cannot tell (incomplete or
//! unknown specs, flags that depend on the arguments, bad `numkeys`).

use super::{Begin, Find, Meta};
use bytes::Bytes;

/// A key argument: its position in the command line and its access flags.
pub struct KeyRef {
    pub pos: usize,
    pub flags: &'static [&'static str],
}

const RO_ACCESS: &[&str] = &["RO", "access"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];

/// Whether COMMAND GETKEYS can find keys for `m` at all (Redis's
/// doesCommandHaveKeys): a key finder of its own, or a spec for real keys.
pub fn has_keys(m: &Meta) -> bool {
    fallback_for(m.name).is_some() || m.key_specs.iter().any(|k| !k.has_flag("not_key"))
}

/// The keys of `argv` (the command line, name first) for the command `m`.
pub fn find_keys(m: &Meta, argv: &[Bytes]) -> Vec<KeyRef> {
    let usable = m.key_specs.iter().any(|k| !k.has_flag("not_key"))
        && !m.key_specs.iter().any(|k| k.has_flag("variable_flags"));
    if usable {
        if let Some(keys) = by_specs(m, argv) {
            return keys;
        }
    }
    match fallback_for(m.name) {
        Some(f) => f(argv),
        None => Vec::new(),
    }
}

/// Redis's getKeysUsingKeySpecs; None when a spec cannot be applied.
fn by_specs(m: &Meta, argv: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for spec in m.key_specs {
        if spec.has_flag("not_key") {
            continue;
        }
        let first = match spec.begin {
            Begin::Index(pos) => pos,
            Begin::Keyword(word, startfrom) => {
                match keyword_position(argv, word, startfrom) {
                    Some(at) => at + 1,
                    // No keyword, no keys from this spec.
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx;
                if keynumidx >= argc || at < 0 || at >= argc {
                    return None;
                }
                let numkeys = std::str::from_utf8(&argv[at as usize])
                    .ok()
                    .and_then(parse_ll)
                    .filter(|n| *n >= 0)?;
                let first = first + firstkey;
                keys_in(
                    &mut keys,
                    spec.flags,
                    first,
                    first + numkeys - 1,
                    keystep,
                    argc,
                )?;
                if spec.has_flag("incomplete") {
                    return None;
                }
                continue;
            }
            Find::Unknown => return None,
        };
        keys_in(&mut keys, spec.flags, first, last, step, argc)?;
        if spec.has_flag("incomplete") {
            return None;
        }
    }
    Some(keys)
}

/// Adds the keys `first..=last` by `step`; None when the range is outside
/// the arguments (a syntax error the command itself reports).
fn keys_in(
    keys: &mut Vec<KeyRef>,
    flags: &'static [&'static str],
    first: i64,
    last: i64,
    step: i64,
    argc: i64,
) -> Option<()> {
    if last >= argc || last < first || first >= argc || first < 0 || step <= 0 {
        return None;
    }
    let mut i = first;
    while i <= last {
        keys.push(KeyRef {
            pos: i as usize,
            flags,
        });
        i += step;
    }
    Some(())
}

/// Where `word` is, searched from `startfrom` towards the end (or, when
/// negative, from that far from the end towards the start), never looking
/// at the command name nor, going forwards, at the last argument.
fn keyword_position(argv: &[Bytes], word: &str, startfrom: i64) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end) = if startfrom > 0 {
        (startfrom, argc - 1)
    } else {
        (argc + startfrom, 1)
    };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
            return Some(i);
        }
        i += if start <= end { 1 } else { -1 };
    }
    None
}

/// Redis's string2ll: an optional minus sign and digits, no leading zeros.
fn parse_ll(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    if s == "-0" {
        return None;
    }
    s.parse().ok()
}

type Finder = fn(&[Bytes]) -> Vec<KeyRef>;

/// The commands with a key finder of their own in Redis.
fn fallback_for(name: &str) -> Option<Finder> {
    Some(match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => |a| numkeys_keys(a, 1, 2, 3),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            |a| numkeys_keys(a, 0, 1, 2)
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop"
        | "bzmpop" => |a| numkeys_keys(a, 0, 2, 3),
        "sort" => sort_keys,
        "sort_ro" => |_| {
            vec![KeyRef {
                pos: 1,
                flags: RO_ACCESS,
            }]
        },
        "migrate" => migrate_keys,
        "georadius" | "georadiusbymember" => georadius_keys,
        "xread" | "xreadgroup" => xread_keys,
        "set" => set_keys,
        "bitfield" => bitfield_keys,
        _ => return None,
    })
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// `[store] numkeys key...`: Redis's genericGetKeys (atoi of `numkeys`).
fn numkeys_keys(argv: &[Bytes], store: usize, count: usize, first: usize) -> Vec<KeyRef> {
    let Some(n) = argv.get(count).map(|a| atoi(a)) else {
        return Vec::new();
    };
    let room = argv.len().saturating_sub(first) as i64;
    if n < 1 || n > room {
        return Vec::new();
    }
    let mut keys: Vec<KeyRef> = (0..n as usize)
        .map(|i| KeyRef {
            pos: first + i,
            flags: &[],
        })
        .collect();
    if store > 0 {
        keys.push(KeyRef {
            pos: store,
            flags: &[],
        });
    }
    keys
}

/// C's atoi: leading spaces, a sign, then digits up to the first non-digit.
fn atoi(b: &[u8]) -> i64 {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(&b[b.len()..], |i| &b[i..]);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    let n = if neg { -n } else { n };
    // atoi returns an int.
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// SORT: the sorted key, and the last STORE destination.
fn sort_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let mut keys = vec![KeyRef {
        pos: 1,
        flags: RO_ACCESS,
    }];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        keys.push(KeyRef {
            pos,
            flags: OW_UPDATE,
        });
    }
    keys
}

/// MIGRATE: the key argument, or the keys after KEYS when it is empty.
fn migrate_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let (mut first, mut num) = (3, 1);
    if argv.len() > 6 {
        let mut i = 6;
        while i < argv.len() {
            let a = &argv[i];
            if is(a, "keys") {
                if argv[3].is_empty() {
                    first = i + 1;
                    num = argv.len() - first;
                } else {
                    num = 0;
                }
                break;
            }
            if is(a, "auth") {
                i += 1;
            } else if is(a, "auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (first..first + num)
        .map(|pos| KeyRef {
            pos,
            flags: RW_ACCESS_DELETE,
        })
        .collect()
}

/// GEORADIUS[BYMEMBER]: the key and the last STORE/STOREDIST destination.
fn georadius_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let mut keys = vec![KeyRef { pos: 1, flags: &[] }];
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        if (is(&argv[i], "store") || is(&argv[i], "storedist")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = stored {
        keys.push(KeyRef { pos, flags: &[] });
    }
    keys
}

/// XREAD/XREADGROUP: the first half of the arguments after STREAMS.
fn xread_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let mut streams = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "noack") {
        } else if is(a, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(at) = streams else {
        return Vec::new();
    };
    let num = argv.len() - at - 1;
    if num == 0 || !num.is_multiple_of(2) {
        return Vec::new();
    }
    (at + 1..at + 1 + num / 2)
        .map(|pos| KeyRef { pos, flags: &[] })
        .collect()
}

/// SET: read as well as written when GET is given.
fn set_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let get = argv.iter().skip(3).any(|a| is(a, "get"));
    vec![KeyRef {
        pos: 1,
        flags: if get { RW_ACCESS_UPDATE } else { OW_UPDATE },
    }]
}

/// BITFIELD: read-only unless a SET or INCRBY (or anything unparsable) follows.
fn bitfield_keys(argv: &[Bytes]) -> Vec<KeyRef> {
    let mut readonly = true;
    let mut i = 2;
    while i < argv.len() {
        let remaining = argv.len() - i - 1;
        let a = &argv[i];
        if is(a, "get") && remaining >= 2 {
            i += 2;
        } else if (is(a, "set") || is(a, "incrby")) && remaining >= 3 {
            readonly = false;
            break;
        } else if is(a, "overflow") && remaining >= 1 {
            i += 1;
        } else {
            readonly = false;
            break;
        }
        i += 1;
    }
    vec![KeyRef {
        pos: 1,
        flags: if readonly {
            RO_ACCESS
        } else {
            RW_ACCESS_UPDATE
        },
    }]
}
