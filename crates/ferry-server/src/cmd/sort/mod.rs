//! SORT and SORT_RO: sorting a list, set or sorted set by its elements or by
//! weights found through a key pattern, with LIMIT, GET patterns and STORE,
//! as Redis 7.0's sort.c does.

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::{KeyInfo, KeyType, StoreError};
use std::cmp::Ordering;

const ACL_W: &[&str] = &[
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];
const ACL_R: &[&str] = &[
    "@read",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "sort",
        -2,
        &["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        ACL_W,
        sort,
    ),
    cmd(
        "sort_ro",
        -2,
        &["readonly", "movablekeys"],
        (1, 1, 1),
        ACL_R,
        sort_ro,
    ),
];

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

extern "C" {
    fn ferry_sort_strtod(
        s: *const std::os::raw::c_char,
        len: usize,
        out: *mut f64,
    ) -> std::os::raw::c_int;
}

/// A weight as SORT reads it: C `strtod` on the value (see
/// `csrc/sortscore.c`), None when Redis refuses it.
fn weight(value: &[u8]) -> Option<f64> {
    let mut out = 0f64;
    // SAFETY: the pointer and length describe a live slice; the C side only
    // reads `len` bytes from it and writes one double to `out`.
    let ok = unsafe { ferry_sort_strtod(value.as_ptr().cast(), value.len(), &mut out) };
    (ok != 0).then_some(out)
}

/// The part of `b` a C string function sees: up to the first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// `strcoll` in the C (or C.UTF-8) locale Redis runs with: `strcmp`.
fn collate(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// The parsed options of one SORT call.
struct Options {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// A BY pattern without `*`: no sorting, no weight lookups. Once set it
    /// stays set, even if a later BY has a `*` (as in Redis).
    dontsort: bool,
    gets: Vec<Bytes>,
}

/// `full_key_access`: the user may read every key; BY with a pattern and
/// GET read keys no ACL rule was checked for, so Redis refuses them otherwise.
fn parse_options(
    argv: &[Bytes],
    readonly: bool,
    full_key_access: bool,
) -> Result<Options, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((parse_i64(&argv[j + 1])?, parse_i64(&argv[j + 2])?));
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            if !c_str(&argv[j + 1]).contains(&b'*') {
                o.dontsort = true;
            } else if !full_key_access {
                return Err(err(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.by = Some(argv[j + 1].clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !full_key_access {
                return Err(err(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(argv[j + 1].clone());
            j += 1;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// Redis's lookupKeyByPattern: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the key read as a string, or,
/// with `->field` after the `*`, that field of the hash there. None when
/// there is no `*`, no such key, or the key has another type. Every key
/// read counts as a keyspace hit or miss, as in Redis.
fn lookup_by_pattern(
    ctx: &mut Ctx,
    pattern: &[u8],
    elem: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    // Redis looks at the pattern with C string functions, so a NUL byte
    // ends what they see; lengths still come from the whole pattern.
    let visible = c_str(pattern);
    if visible == b"#" {
        return Ok(Some(elem.to_vec()));
    }
    let Some(star) = visible.iter().position(|&c| c == b'*') else {
        return Ok(None);
    };
    let field_at = visible[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < visible.len());
    let (key_end, field) = match field_at {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let db = ctx.client.db;
    let found = ctx.store.lookup_with_value(db, &key)?;
    ctx.count_read(&key, found.is_some());
    Ok(match (found, field) {
        (Some((info, _)), Some(field)) if info.ktype == KeyType::Hash => {
            ctx.store.hash_field(info.id, field)?
        }
        (Some((_, Some(value))), None) => Some(value),
        _ => None,
    })
}

/// One element to sort, with what it is compared by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// ALPHA with BY: the looked-up value (None sorts first).
    cmpobj: Option<Vec<u8>>,
}

/// The elements of a set in the order Redis 7.0 walks them: a set it keeps
/// as an intset (at most 512 integers) in ascending numeric order; others
/// in member order (Redis's hash table order depends on a random seed).
fn set_in_redis_order(mut members: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    if members.len() <= 512 {
        let nums: Option<Vec<i64>> = members
            .iter()
            .map(|m| ferry_store::parse_canonical_i64(m))
            .collect();
        if let Some(nums) = nums {
            let mut pairs: Vec<(i64, Vec<u8>)> = nums.into_iter().zip(members).collect();
            pairs.sort_unstable_by_key(|(n, _)| *n);
            members = pairs.into_iter().map(|(_, m)| m).collect();
        }
    }
    members
}

/// Redis's LIMIT clamping: the inclusive output range `[start, end]` over
/// `len` elements (empty when `end < start`).
fn limit_range(limit: Option<(i64, i64)>, len: i64) -> (i64, i64) {
    let (offset, count) = limit.unwrap_or((0, -1));
    let mut start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], readonly: bool) -> CmdResult {
    let name = crate::cmd::FullName {
        parent: None,
        name: if readonly { "sort_ro" } else { "sort" },
    };
    let full_keys = crate::acl::full_key_access(ctx.server, ctx.client, name);
    let mut o = parse_options(argv, readonly, full_keys)?;
    let db = ctx.client.db;
    let found = ctx.store.lookup(db, &argv[1])?;
    ctx.count_read(&argv[1], found.is_some());
    let info: Option<KeyInfo> = match found {
        Some(i) if matches!(i.ktype, KeyType::List | KeyType::Set | KeyType::ZSet) => Some(i),
        Some(_) => return Err(StoreError::WrongType.into()),
        None => None,
    };
    let ktype = info.map_or(KeyType::List, |i| i.ktype);
    // An unsorted set has no defined order: with STORE or in a script Redis
    // sorts it by its elements so replicas and replays agree.
    if o.dontsort && ktype == KeyType::Set && (o.store.is_some() || ctx.client.in_script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = info.map_or(0, |i| i.len);
    let (mut start, mut end) = limit_range(o.limit, len);

    // Load the elements. Lists and sorted sets left unsorted are read in
    // their own order (reversed with DESC), only the LIMIT range.
    let elems: Vec<Vec<u8>> = match info {
        None => Vec::new(),
        Some(info) if o.dontsort && ktype != KeyType::Set => {
            let count = end - start + 1;
            let out = if count <= 0 {
                Vec::new()
            } else if ktype == KeyType::List {
                let (from, to) = if o.desc {
                    (len - end - 1, len - start - 1)
                } else {
                    (start, end)
                };
                let mut v = ctx.store.list_range(&info, from, to)?;
                if o.desc {
                    v.reverse();
                }
                v
            } else {
                ctx.store
                    .zset_by_rank(&info, start, end, o.desc)?
                    .into_iter()
                    .map(|(m, _)| m)
                    .collect()
            };
            if count > 0 {
                end -= start;
                start = 0;
            }
            out
        }
        Some(info) => match ktype {
            KeyType::List => ctx.store.list_range(&info, 0, -1)?,
            KeyType::Set => set_in_redis_order(ctx.store.set_members(info.id)?),
            _ => ctx
                .store
                .zset_all(info.id)?
                .into_iter()
                .map(|(m, _)| m)
                .collect(),
        },
    };

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmpobj: None,
        })
        .collect();

    let mut bad_score = false;
    if !o.dontsort {
        for item in items.iter_mut() {
            let by_value = match &o.by {
                Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.elem)? {
                    Some(v) => v,
                    None => continue,
                },
                None => item.elem.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.cmpobj = Some(by_value);
                }
            } else {
                match weight(&by_value) {
                    Some(s) => item.score = s,
                    None => bad_score = true,
                }
            }
        }
        let by = o.by.is_some();
        let store = o.store.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        let compare = |a: &Item, b: &Item| -> Ordering {
            let c = if !alpha {
                match a.score.partial_cmp(&b.score) {
                    Some(Ordering::Equal) | None => a.elem.cmp(&b.elem),
                    Some(c) => c,
                }
            } else if by {
                match (&a.cmpobj, &b.cmpobj) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) if store => x.cmp(y),
                    (Some(x), Some(y)) => collate(x, y),
                }
            } else if store {
                a.elem.cmp(&b.elem)
            } else {
                collate(&a.elem, &b.elem)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        };
        // Elements comparing equal (ALPHA BY with equal or missing weights)
        // come out as Redis's sorts leave them: with BY and a narrowing
        // LIMIT it runs its partial quicksort; otherwise glibc's qsort, a
        // stable merge sort, which keeps the load order like sort_by.
        let n = items.len() as i64;
        let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
        if let (true, Some((lo, hi))) = (by && (start != 0 || end != n - 1), range) {
            crate::pqsort::partial_sort(&mut items, compare, lo, hi);
        } else {
            items.sort_by(compare);
        }
    }

    if bad_score {
        return Err(err(NOT_DOUBLE));
    }
    let range: Vec<&Item> = if end >= start {
        items[start as usize..=end as usize].iter().collect()
    } else {
        Vec::new()
    };

    let Some(dst) = o.store else {
        let mut out = Vec::with_capacity(range.len() * o.gets.len().max(1));
        for item in range {
            if o.gets.is_empty() {
                out.push(Reply::bulk(item.elem.clone()));
            }
            for pattern in &o.gets {
                out.push(match lookup_by_pattern(ctx, pattern, &item.elem)? {
                    Some(v) => Reply::bulk(v),
                    None => Reply::Null,
                });
            }
        }
        return Ok(Reply::Array(out));
    };

    let mut values: Vec<Vec<u8>> = Vec::with_capacity(range.len() * o.gets.len().max(1));
    for item in range {
        if o.gets.is_empty() {
            values.push(item.elem.clone());
        }
        for pattern in &o.gets {
            values.push(lookup_by_pattern(ctx, pattern, &item.elem)?.unwrap_or_default());
        }
    }
    if values.is_empty() {
        if ctx.store.delete(db, &dst)? {
            ctx.notify(notify::GENERIC, "del", &dst);
        }
    } else {
        ctx.store.list_replace(db, &dst, &values)?;
        ctx.notify(notify::LIST, "sortstore", &dst);
    }
    Ok(Reply::Integer(values.len() as i64))
}
