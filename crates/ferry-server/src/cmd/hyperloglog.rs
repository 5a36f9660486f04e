//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! An HLL is a plain string holding Redis's exact bytes (`ferry-hll`); these
//! handlers load it, run the crate's operation and write the bytes back
//! when Redis would have changed them.

use super::args::is;
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_hll::{Hll, Registers, CORRUPT_ERR, DEFAULT_SPARSE_MAX_BYTES, NOT_HLL_ERR, REGISTERS};
use ferry_resp::Reply;
use ferry_store::{KeyInfo, StoreError, StringEncoding, Ttl};

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "pfadd",
        -2,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        &["@write", "@hyperloglog", "@fast"],
        pfadd,
    ),
    cmd(
        "pfcount",
        -2,
        &["readonly"],
        (1, -1, 1),
        &["@read", "@hyperloglog", "@slow"],
        pfcount,
    ),
    cmd(
        "pfmerge",
        -2,
        &["write", "denyoom"],
        (1, -1, 1),
        &["@write", "@hyperloglog", "@slow"],
        pfmerge,
    ),
    cmd(
        "pfdebug",
        3,
        &["write", "denyoom", "admin"],
        (2, 2, 1),
        &["@write", "@hyperloglog", "@admin", "@slow", "@dangerous"],
        pfdebug,
    ),
    cmd(
        "pfselftest",
        1,
        &["admin"],
        (0, 0, 0),
        &["@hyperloglog", "@admin", "@slow", "@dangerous"],
        pfselftest,
    ),
];

/// Redis's embstr limit: a shorter string SET by a client is not "raw".
const EMBSTR_MAX: usize = 44;

/// The live `hll-sparse-max-bytes`.
fn sparse_max_bytes(ctx: &Ctx) -> usize {
    ctx.server
        .config
        .get("hll-sparse-max-bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SPARSE_MAX_BYTES)
}

fn corrupt() -> CmdError {
    err(CORRUPT_ERR)
}

/// A key's HLL, or None when missing. Another type is WRONGTYPE; a string
/// that is not an HLL gets the HLL variant of it. `read` counts the lookup
/// as a keyspace hit or miss (Redis's lookupKeyRead).
fn load(ctx: &mut Ctx, key: &[u8], read: bool) -> Result<Option<(KeyInfo, Hll)>, CmdError> {
    let found = ctx.store.lookup_with_value(ctx.client.db, key)?;
    if read {
        ctx.count_read(key, found.is_some());
    }
    match found {
        None => Ok(None),
        Some((_, None)) => Err(StoreError::WrongType.into()),
        Some((info, Some(bytes))) => match Hll::from_bytes(bytes) {
            Ok(hll) => Ok(Some((info, hll))),
            Err(_) => Err(err(NOT_HLL_ERR)),
        },
    }
}

/// Writes the HLL back, keeping the TTL. Redis modifies HLLs in place,
/// which leaves their string object "raw".
fn store(ctx: &mut Ctx, key: &[u8], existing: Option<KeyInfo>, hll: &Hll) -> Result<(), CmdError> {
    let db = ctx.client.db;
    ctx.store.put_string_as(
        db,
        key,
        hll.as_bytes(),
        Ttl::Keep,
        existing,
        StringEncoding::Raw,
    )?;
    Ok(())
}

/// Redis's dbUnshareStringValue, which every HLL command but PFCOUNT of
/// several keys runs before reading: a short HLL set by a client (embstr)
/// becomes raw even when nothing else changes.
fn unshare(ctx: &mut Ctx, key: &[u8], info: KeyInfo, hll: &Hll) -> Result<(), CmdError> {
    if hll.as_bytes().len() > EMBSTR_MAX {
        return Ok(());
    }
    let db = ctx.client.db;
    if ctx.store.string_encoding(db, key)? != Some(StringEncoding::Raw) {
        store(ctx, key, Some(info), hll)?;
    }
    Ok(())
}

fn pfadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let (existing, mut hll, mut updated) = match load(ctx, key, false)? {
        Some((info, hll)) => (Some(info), hll, false),
        None => (None, Hll::new(), true),
    };
    let before = hll.as_bytes().to_vec();
    for element in &argv[2..] {
        match hll.add(element, max_bytes) {
            Ok(changed) => updated |= changed,
            Err(_) => {
                // The elements added before stay added, as in Redis; no
                // event is sent.
                if hll.as_bytes() != before.as_slice() {
                    store(ctx, key, existing, &hll)?;
                } else if let Some(info) = existing {
                    unshare(ctx, key, info, &hll)?;
                }
                return Err(corrupt());
            }
        }
    }
    if updated {
        hll.invalidate_cache();
        store(ctx, key, existing, &hll)?;
        ctx.notify(notify::STRING, "pfadd", key);
    } else if let Some(info) = existing {
        unshare(ctx, key, info, &hll)?;
    }
    Ok(Reply::Integer(updated as i64))
}

fn pfcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        // The union of several HLLs: merged into a scratch set of
        // registers, nothing written.
        let mut max: Registers = [0; REGISTERS];
        for key in &argv[1..] {
            if let Some((_, hll)) = load(ctx, key, true)? {
                hll.merge_into(&mut max).map_err(|_| corrupt())?;
            }
        }
        return Ok(Reply::Integer(ferry_hll::count_registers(&max) as i64));
    }
    let key = &argv[1];
    let Some((info, mut hll)) = load(ctx, key, true)? else {
        return Ok(Reply::Integer(0));
    };
    unshare(ctx, key, info, &hll)?;
    if let Some(card) = hll.cached_cardinality() {
        return Ok(Reply::Integer(card as i64));
    }
    // A stale cache is recomputed and saved: a write, without an event.
    let card = hll.count().map_err(|_| corrupt())?;
    hll.set_cached_cardinality(card);
    store(ctx, key, Some(info), &hll)?;
    Ok(Reply::Integer(card as i64))
}

fn pfmerge(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dest = &argv[1];
    let mut max: Registers = [0; REGISTERS];
    let mut use_dense = false;
    // The destination's own registers take part (it is the first key).
    for key in &argv[1..] {
        if let Some((_, hll)) = load(ctx, key, true)? {
            use_dense |= hll.encoding() == ferry_hll::Encoding::Dense;
            hll.merge_into(&mut max).map_err(|_| corrupt())?;
        }
    }
    let (existing, mut hll) = match load(ctx, dest, false)? {
        Some((info, hll)) => (Some(info), hll),
        None => (None, Hll::new()),
    };
    // A dense input makes the result dense; sparse inputs only give a
    // sparse result that may still be promoted while registers are set.
    if use_dense && hll.to_dense().is_err() {
        if let Some(info) = existing {
            unshare(ctx, dest, info, &hll)?;
        }
        return Err(corrupt());
    }
    let max_bytes = sparse_max_bytes(ctx);
    for (i, v) in max.iter().enumerate() {
        if *v != 0 {
            // Redis ignores the outcome here; the value was validated above.
            let _ = hll.raise(i, *v, max_bytes);
        }
    }
    hll.invalidate_cache();
    store(ctx, dest, existing, &hll)?;
    // Redis reports a merge as a mass add.
    ctx.notify(notify::STRING, "pfadd", dest);
    Ok(Reply::OK)
}

fn pfdebug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = &argv[1];
    let key = &argv[2];
    let Some((info, mut hll)) = load(ctx, key, false)? else {
        return Err(err("ERR The specified key does not exist"));
    };
    unshare(ctx, key, info, &hll)?;
    if is(sub, "getreg") {
        if hll.to_dense().map_err(|_| corrupt())? {
            store(ctx, key, Some(info), &hll)?;
        }
        let regs = hll.dense_registers().unwrap_or_default();
        Ok(Reply::Array(
            regs.into_iter().map(|r| Reply::Integer(r as i64)).collect(),
        ))
    } else if is(sub, "decode") {
        match hll.decode() {
            Some(text) => Ok(Reply::bulk(text.into_bytes())),
            None => Err(err("ERR HLL encoding is not sparse")),
        }
    } else if is(sub, "encoding") {
        Ok(Reply::status(hll.encoding().name()))
    } else if is(sub, "todense") {
        let converted = hll.to_dense().map_err(|_| corrupt())?;
        if converted {
            store(ctx, key, Some(info), &hll)?;
        }
        Ok(Reply::Integer(converted as i64))
    } else {
        Err(err(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            c_string_for_error(sub)
        )))
    }
}

/// An argument as Redis prints it with `%s` in an error: up to the first
/// NUL byte, line breaks as spaces.
fn c_string_for_error(arg: &[u8]) -> String {
    let end = arg.iter().position(|b| *b == 0).unwrap_or(arg.len());
    String::from_utf8_lossy(&arg[..end]).replace(['\r', '\n'], " ")
}

fn pfselftest(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    match ferry_hll::self_test() {
        Ok(()) => Ok(Reply::OK),
        Err(e) => Err(err(e)),
    }
}
