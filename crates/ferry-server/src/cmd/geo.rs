//! GEO commands (Redis 7.0 `geo.c`) on top of sorted sets: a geo key is a
//! zset whose scores are 52-bit geohashes. The arithmetic lives in
//! `ferry-geo`; this file parses arguments, reads the zset ranges of the
//! cells a search scans, and builds Redis's replies.

use super::args::{is, parse_i64, NOT_FLOAT, SYNTAX};
use super::zsets::parse_score_text;
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use crate::notify;
use bytes::Bytes;
use ferry_geo::{Shape, ShapeKind};
use ferry_resp::Reply;
use ferry_store::zsets::ScoreRange;
use ferry_store::{KeyInfo, KeyType, StoreError};
use std::cmp::Ordering;

const R: &[&str] = &["@read", "@geo", "@slow"];
const W: &[&str] = &["@write", "@geo", "@slow"];
const RO: &[&str] = &["readonly"];
const WD: &[&str] = &["write", "denyoom"];
const WD_MOV: &[&str] = &["write", "denyoom", "movablekeys"];
const ONE: (i32, i32, i32) = (1, 1, 1);

pub const COMMANDS: &[CommandSpec] = &[
    cmd("geoadd", -5, WD, ONE, W, geoadd),
    cmd("geodist", -4, RO, ONE, R, geodist),
    cmd("geohash", -2, RO, ONE, R, geohash),
    cmd("geopos", -2, RO, ONE, R, geopos),
    cmd("geosearch", -7, RO, ONE, R, geosearch),
    cmd("geosearchstore", -8, WD, (1, 2, 1), W, geosearchstore),
    cmd("georadius", -6, WD_MOV, ONE, W, georadius),
    cmd("georadiusbymember", -5, WD_MOV, ONE, W, georadiusbymember),
    cmd("georadius_ro", -6, RO, ONE, R, georadius_ro),
    cmd("georadiusbymember_ro", -5, RO, ONE, R, georadiusbymember_ro),
];

const BAD_MEMBER: &str = "ERR could not decode requested zset member";

// ---------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------

/// A double as `getDoubleFromObjectOrReply` reads it, with its error text.
fn parse_double(arg: &[u8], msg: &'static str) -> Result<f64, CmdError> {
    parse_score_text(arg).ok_or_else(|| err(msg))
}

/// Longitude and latitude, validated against Web Mercator's limits.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = parse_double(lon, NOT_FLOAT)?;
    let y = parse_double(lat, NOT_FLOAT)?;
    if !(ferry_geo::LONG_MIN..=ferry_geo::LONG_MAX).contains(&x)
        || !(ferry_geo::LAT_MIN..=ferry_geo::LAT_MAX).contains(&y)
    {
        return Err(err(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok((x, y))
}

fn parse_unit(arg: &[u8]) -> Result<f64, CmdError> {
    ferry_geo::unit_to_meters(arg)
        .ok_or_else(|| err("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

/// `<radius> <unit>`: (radius, meters per unit).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_double(radius, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(err("ERR radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// `<width> <height> <unit>`: (width, height, meters per unit).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = parse_double(width, "ERR need numeric width")?;
    let h = parse_double(height, "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(err("ERR height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

/// A read lookup of a geo key: counts a hit or miss (a key of another
/// type is a hit, then WRONGTYPE), as Redis's lookupKeyRead + checkType.
fn read_geo(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyInfo>, CmdError> {
    let info = ctx.store.lookup(ctx.client.db, key)?;
    ctx.count_read(key, info.is_some());
    match info {
        Some(i) if i.ktype != KeyType::ZSet => Err(CmdError::Store(StoreError::WrongType)),
        other => Ok(other),
    }
}

/// A member's decoded position.
fn member_pos(
    ctx: &mut Ctx,
    info: &KeyInfo,
    member: &[u8],
) -> Result<Option<(f64, f64)>, CmdError> {
    Ok(ctx
        .store
        .zset_score(info.id, member)?
        .and_then(ferry_geo::decode_score))
}

/// A coordinate reply: Redis's human long double (bulk in RESP2, a double
/// in RESP3).
fn coord(v: f64) -> Reply {
    Reply::DoubleText(Bytes::from(ferry_geo::format_coord(v)))
}

fn distance_reply(d: f64) -> Reply {
    Reply::bulk(ferry_geo::format_distance(d))
}

/// C's `(long long)` of a score on x86-64 (out of range: i64::MIN).
fn score_as_i64(score: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO63..TWO63).contains(&score) {
        score as i64
    } else {
        i64::MIN
    }
}

// ---------------------------------------------------------------------------
// GEOADD / GEOHASH / GEOPOS / GEODIST
// ---------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] lon lat member ...: ZADD with the geohashes as
/// scores, exactly as Redis rewrites it (so ZADD's replies and events).
fn geoadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < argv.len() {
        let a = &argv[first];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if !is(a, "ch") {
            break;
        }
        first += 1;
    }
    if !(argv.len() - first).is_multiple_of(3) || (xx && nx) {
        return Err(err(SYNTAX));
    }
    let mut zadd_argv: Vec<Bytes> = Vec::with_capacity(first + (argv.len() - first) / 3 * 2);
    zadd_argv.push(Bytes::from_static(b"zadd"));
    zadd_argv.extend(argv[1..first].iter().cloned());
    for triple in argv[first..].chunks(3) {
        let (x, y) = parse_lonlat(&triple[0], &triple[1])?;
        let bits = ferry_geo::encode_wgs84(x, y, ferry_geo::STEP_MAX)
            .map(ferry_geo::align52)
            .unwrap_or(0);
        zadd_argv.push(Bytes::from(bits.to_string()));
        zadd_argv.push(triple[2].clone());
    }
    super::zsets::zadd(ctx, &zadd_argv)
}

/// GEOHASH key member ...: 11-character standard geohashes.
fn geohash(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let info = read_geo(ctx, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let score = match &info {
            Some(i) => ctx.store.zset_score(i.id, m)?,
            None => None,
        };
        out.push(
            score
                .and_then(ferry_geo::geohash_string)
                .map_or(Reply::Null, Reply::bulk),
        );
    }
    Ok(Reply::Array(out))
}

/// GEOPOS key member ...: [longitude, latitude] or a null array each.
fn geopos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let info = read_geo(ctx, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let pos = match &info {
            Some(i) => member_pos(ctx, i, m)?,
            None => None,
        };
        out.push(match pos {
            Some((x, y)) => Reply::Array(vec![coord(x), coord(y)]),
            None => Reply::NullArray,
        });
    }
    Ok(Reply::Array(out))
}

/// GEODIST key member1 member2 [unit].
fn geodist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => parse_unit(&argv[4])?,
        _ => return Err(err(SYNTAX)),
    };
    let Some(info) = read_geo(ctx, &argv[1])? else {
        return Ok(Reply::Null);
    };
    let a = ctx.store.zset_score(info.id, &argv[2])?;
    let b = ctx.store.zset_score(info.id, &argv[3])?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Reply::Null);
    };
    match (ferry_geo::decode_score(a), ferry_geo::decode_score(b)) {
        (Some((x1, y1)), Some((x2, y2))) => Ok(distance_reply(
            ferry_geo::distance(x1, y1, x2, y2) / to_meters,
        )),
        _ => Ok(Reply::Null),
    }
}

// ---------------------------------------------------------------------------
// Searches
// ---------------------------------------------------------------------------

/// Which command runs the generic search (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Coords { store_ok: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    Member { store_ok: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

impl Variant {
    fn is_search(self) -> bool {
        matches!(self, Variant::Search | Variant::SearchStore)
    }
    fn store_ok(self) -> bool {
        matches!(
            self,
            Variant::Coords { store_ok: true } | Variant::Member { store_ok: true }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One point found.
struct Found {
    member: Vec<u8>,
    score: f64,
    longitude: f64,
    latitude: f64,
    dist: f64,
}

fn cmp_asc(a: &Found, b: &Found) -> Ordering {
    if a.dist > b.dist {
        Ordering::Greater
    } else if a.dist == b.dist {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

fn cmp_desc(a: &Found, b: &Found) -> Ordering {
    cmp_asc(a, b).reverse()
}

/// Every member inside `shape`, read cell by cell in Redis's order; with
/// `limit` (COUNT n ANY) the scan stops once that many were found.
fn scan(
    ctx: &mut Ctx,
    info: &KeyInfo,
    shape: &Shape,
    limit: usize,
) -> Result<Vec<Found>, CmdError> {
    let areas = ferry_geo::areas_for_shape(shape);
    let mut found = Vec::new();
    let full = |found: &Vec<Found>| limit > 0 && found.len() >= limit;
    for (min, max) in areas.score_ranges() {
        if full(&found) {
            break;
        }
        let range = ScoreRange {
            min: min as f64,
            max: max as f64,
            minex: false,
            maxex: true,
        };
        for (member, score) in ctx.store.zset_by_score(info.id, &range, false, 0, None)? {
            if let Some((lon, lat)) = ferry_geo::decode_score(score) {
                if let Some(dist) = shape.contains(lon, lat) {
                    found.push(Found {
                        member,
                        score,
                        longitude: lon,
                        latitude: lat,
                        dist,
                    });
                }
            }
            if full(&found) {
                break;
            }
        }
    }
    Ok(found)
}

/// Replaces `dst` with the results (score: geohash, or distance with
/// STOREDIST), or deletes it when there are none; emits `event` or `del`.
fn store_found(
    ctx: &mut Ctx,
    dst: &[u8],
    items: &[Found],
    storedist: bool,
    event: &str,
) -> Result<(), CmdError> {
    let db = ctx.client.db;
    if items.is_empty() {
        if ctx.store.delete(db, dst)? {
            ctx.notify(notify::GENERIC, "del", dst);
        }
        return Ok(());
    }
    let (info, _) = ctx.store.create_replacing(db, dst, KeyType::ZSet)?;
    let mut seen = std::collections::HashSet::new();
    for it in items {
        let score = if storedist { it.dist } else { it.score };
        ctx.store.zset_put(info.id, &it.member, score)?;
        seen.insert(it.member.as_slice());
    }
    ctx.store
        .set_collection_len(db, dst, &info, seen.len() as i64)?;
    ctx.notify(notify::ZSET, event, dst);
    Ok(())
}

/// Redis's `georadiusGeneric`: GEORADIUS, GEORADIUSBYMEMBER (and _RO),
/// GEOSEARCH, GEOSEARCHSTORE.
fn search_generic(ctx: &mut Ctx, argv: &[Bytes], src_idx: usize, variant: Variant) -> CmdResult {
    let info = read_geo(ctx, &argv[src_idx])?;
    let mut center: Option<(f64, f64)> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let mut storekey: Option<Bytes> = None;
    let mut storedist = false;

    let base = match variant {
        Variant::Coords { .. } => {
            center = Some(parse_lonlat(&argv[2], &argv[3])?);
            let (r, c) = parse_radius(&argv[4], &argv[5])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
            6
        }
        Variant::Member { .. } => {
            // Without the key, the options are still parsed (to pick the
            // reply) but neither the member nor the radius is read.
            if let Some(i) = &info {
                let pos = member_pos(ctx, i, &argv[2])?;
                center = Some(pos.ok_or_else(|| err(BAD_MEMBER))?);
                let (r, c) = parse_radius(&argv[3], &argv[4])?;
                kind = Some(ShapeKind::Radius(r));
                conversion = c;
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            storekey = Some(argv[1].clone());
            3
        }
    };

    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let search = variant.is_search();
    let remaining = argv.len() - base;
    let mut i = 0;
    while i < remaining {
        let arg = &argv[base + i];
        let left = remaining - i - 1;
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Sort::Asc;
        } else if is(arg, "desc") {
            sort = Sort::Desc;
        } else if is(arg, "count") && left >= 1 {
            count = parse_i64(&argv[base + i + 1])?;
            if count <= 0 {
                return Err(err("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && variant.store_ok() {
            storekey = Some(argv[base + i + 1].clone());
            storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && variant == Variant::SearchStore {
            storedist = true;
        } else if is(arg, "frommember") && left >= 1 && search && !fromloc {
            if let Some(info) = &info {
                let pos = member_pos(ctx, info, &argv[base + i + 1])?;
                center = Some(pos.ok_or_else(|| err(BAD_MEMBER))?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && left >= 2 && search && !frommember {
            center = Some(parse_lonlat(&argv[base + i + 1], &argv[base + i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && left >= 2 && search && !bybox {
            let (r, c) = parse_radius(&argv[base + i + 1], &argv[base + i + 2])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && left >= 3 && search && !byradius {
            let (w, h, c) = parse_box(
                &argv[base + i + 1],
                &argv[base + i + 2],
                &argv[base + i + 3],
            )?;
            kind = Some(ShapeKind::Box(w, h));
            conversion = c;
            bybox = true;
            i += 3;
        } else {
            return Err(err(SYNTAX));
        }
        i += 1;
    }

    if storekey.is_some() && (withdist || withhash || withcoord) {
        let who = if variant == Variant::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(err(format!(
            "ERR {who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if search && !(frommember || fromloc) {
        return Err(err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(byradius || bybox) {
        return Err(err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(err("ERR the ANY argument requires COUNT argument"));
    }

    let event = if search {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let (Some(info), Some((longitude, latitude)), Some(kind)) = (info, center, kind) else {
        // No source key: an empty answer (STORE deletes the destination).
        return match storekey {
            Some(dst) => {
                store_found(ctx, &dst, &[], false, event)?;
                Ok(Reply::Integer(0))
            }
            None => Ok(Reply::Array(Vec::new())),
        };
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let shape = Shape {
        longitude,
        latitude,
        kind,
        conversion,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = scan(ctx, &info, &shape, limit)?;
    if found.is_empty() && storekey.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    let total = found.len();
    let returned = if count == 0 || (total as i64) < count {
        total
    } else {
        count as usize
    };
    if sort != Sort::None {
        let cmp = if sort == Sort::Asc { cmp_asc } else { cmp_desc };
        if returned == total {
            // glibc's qsort is a stable merge sort for these sizes.
            found.sort_by(cmp);
        } else {
            crate::pqsort::partial_sort(&mut found, cmp, 0, returned - 1);
        }
    }
    found.truncate(returned);
    for f in found.iter_mut() {
        f.dist /= conversion;
    }

    if let Some(dst) = storekey {
        store_found(ctx, &dst, &found, storedist, event)?;
        return Ok(Reply::Integer(returned as i64));
    }
    let options = withdist || withhash || withcoord;
    let out = found
        .into_iter()
        .map(|f| {
            if !options {
                return Reply::bulk(f.member);
            }
            let mut item = vec![Reply::bulk(f.member)];
            if withdist {
                item.push(distance_reply(f.dist));
            }
            if withhash {
                item.push(Reply::Integer(score_as_i64(f.score)));
            }
            if withcoord {
                item.push(Reply::Array(vec![coord(f.longitude), coord(f.latitude)]));
            }
            Reply::Array(item)
        })
        .collect();
    Ok(Reply::Array(out))
}

fn georadius(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Coords { store_ok: true })
}

fn georadiusbymember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Member { store_ok: true })
}

fn georadius_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Coords { store_ok: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Member { store_ok: false })
}

fn geosearch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Search)
}

fn geosearchstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 2, Variant::SearchStore)
}
