//! The interleaved geohash: encoding a position into `step * 2` bits,
//! decoding bits into the cell they name, moving to neighbouring cells,
//! and the 11-character GEOHASH string.

/// Web Mercator's limits (EPSG:3857): Redis refuses positions outside.
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;

/// 26 steps per axis: the 52 bits a double score holds exactly.
pub const STEP_MAX: u8 = 26;

/// An interval of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// Geohash bits with their precision (bits per axis). All-zero means
/// "no cell": a pruned neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// The cell a hash names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub hash: HashBits,
    pub longitude: Range,
    pub latitude: Range,
}

/// The eight cells around one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Neighbors {
    pub north: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub south: HashBits,
    pub north_east: HashBits,
    pub south_east: HashBits,
    pub north_west: HashBits,
    pub south_west: HashBits,
}

/// Redis's own coordinate ranges for stored positions.
pub const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the low 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bits of `v` into the low 32 bits.
fn squash(v: u64) -> u64 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x
}

/// Latitude bits at even positions, longitude bits at odd ones.
fn interleave(lat: u32, long: u32) -> u64 {
    spread(lat) | (spread(long) << 1)
}

/// (latitude part, longitude part) of interleaved bits.
fn deinterleave(bits: u64) -> (u32, u32) {
    (squash(bits) as u32, squash(bits >> 1) as u32)
}

/// C's `(uint32_t)` of a non-negative double below 2^32: truncation.
fn to_u32(v: f64) -> u32 {
    v as u32
}

/// Encodes a position in the given ranges with `step` bits per axis, or
/// None when the arguments are out of range (Redis's `geohashEncode`).
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<HashBits> {
    if step > 32 || step == 0 || range_is_zero(lat_range) || range_is_zero(long_range) {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(HashBits {
        bits: interleave(to_u32(lat_offset), to_u32(long_offset)),
        step,
    })
}

fn range_is_zero(r: Range) -> bool {
    r.min == 0.0 && r.max == 0.0
}

/// [`encode`] in Redis's own ranges.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// The bits left-aligned to 52 bits: what a geo set stores as the score.
pub fn align52(hash: HashBits) -> u64 {
    hash.bits
        .wrapping_shl(52u32.wrapping_sub(hash.step as u32 * 2))
}

/// The cell `hash` names in the given ranges (Redis's `geohashDecode`).
pub fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() || range_is_zero(lat_range) || range_is_zero(long_range) {
        return None;
    }
    let (ilat, ilong) = deinterleave(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let cells = (1u64 << hash.step) as f64;
    Some(Area {
        hash,
        latitude: Range {
            min: lat_range.min + (ilat as f64 * 1.0 / cells) * lat_scale,
            max: lat_range.min + (ilat.wrapping_add(1) as f64 * 1.0 / cells) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilong as f64 * 1.0 / cells) * long_scale,
            max: long_range.min + (ilong.wrapping_add(1) as f64 * 1.0 / cells) * long_scale,
        },
    })
}

/// C's `(uint64_t)` of a double as gcc compiles it on x86-64: a score
/// that is not a geohash (negative, huge) still decodes to some cell,
/// as it does in Redis.
pub fn score_to_bits(score: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // cvttsd2si: NaN and out-of-range values give i64::MIN.
    let cvt = |v: f64| -> i64 {
        if !(-TWO63..TWO63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if score >= TWO63 {
        (cvt(score - TWO63) as u64) ^ (1u64 << 63)
    } else {
        cvt(score) as u64
    }
}

/// The centre of a stored score's cell as (longitude, latitude), clamped
/// to the limits (Redis's `decodeGeohash`).
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let hash = HashBits {
        bits: score_to_bits(score),
        step: STEP_MAX,
    };
    let area = decode(WGS84_LONG, WGS84_LAT, hash)?;
    let long = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((long, lat))
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

/// The eight neighbouring cells (wrapping around at the edges, as Redis's
/// bit arithmetic does). `hash.step` must be 1..=32.
pub fn neighbors(hash: HashBits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        north_east: at(1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

/// The 11-character standard geohash of a stored score: Redis decodes the
/// position and re-encodes it over latitude ±90 (its internal range is
/// ±85.05), then emits 52 bits in base32 and a final `0`.
pub fn geohash_string(score: f64) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (long, lat) = decode_score(score)?;
    let std_long = Range {
        min: -180.0,
        max: 180.0,
    };
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    // Redis ignores a failed encode and prints the zeroed bits.
    let bits = encode(std_long, std_lat, long, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = String::with_capacity(11);
    for i in 0..11 {
        let idx = if i == 10 {
            0
        } else {
            ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
        };
        out.push(ALPHABET[idx] as char);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(long: f64, lat: f64) -> u64 {
        align52(encode_wgs84(long, lat, STEP_MAX).unwrap())
    }

    #[test]
    fn interleave_round_trip() {
        for (a, b) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            assert_eq!(deinterleave(interleave(a, b)), (a, b));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn scores_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        assert_eq!(score(13.361389, 38.115556), 3479099956230698);
        assert_eq!(score(15.087269, 37.502669), 3479447370796909);
        // The upper corner sets bit 52 and 53 (offsets reach 2^26).
        assert_eq!(score(180.0, LAT_MAX), 3 << 52);
        assert_eq!(encode_wgs84(180.1, 0.0, 26), None);
        assert_eq!(encode_wgs84(0.0, 85.06, 26), None);
        assert_eq!(encode_wgs84(0.0, 0.0, 0), None);
    }

    #[test]
    fn decode_matches_redis() {
        let (x, y) = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format!("{x:.17}"), "13.36138933897018433");
        assert_eq!(format!("{y:.17}"), "38.11555639549629859");
        // The corner cell's centre is clamped back to the limits.
        assert_eq!(decode_score((3u64 << 52) as f64), Some((180.0, LAT_MAX)));
    }

    #[test]
    fn geohash_strings() {
        assert_eq!(geohash_string(3479099956230698.0).unwrap(), "sqc8b49rny0");
        assert_eq!(geohash_string((3u64 << 52) as f64).unwrap(), "bp05b5048p0");
    }

    #[test]
    fn odd_scores_decode_like_gcc() {
        assert_eq!(score_to_bits(-5.0), (-5i64) as u64);
        assert_eq!(score_to_bits(f64::INFINITY), 0);
        assert_eq!(score_to_bits(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(score_to_bits(1e19), 1e19 as u64);
        assert!(decode_score(-1.0).is_some());
    }

    #[test]
    fn neighbours_move_one_cell() {
        let h = HashBits {
            bits: 0b0011,
            step: 2,
        };
        let n = neighbors(h);
        let cell = |h: HashBits| deinterleave(h.bits);
        assert_eq!(cell(h), (1, 1));
        assert_eq!(cell(n.east), (1, 2));
        assert_eq!(cell(n.west), (1, 0));
        assert_eq!(cell(n.north), (2, 1));
        assert_eq!(cell(n.south), (0, 1));
        assert_eq!(cell(n.north_east), (2, 2));
        assert_eq!(cell(n.south_west), (0, 0));
        // Wraps around at the edge.
        let edge = neighbors(HashBits { bits: 0, step: 2 });
        assert_eq!(cell(edge.west), (0, 3));
        assert_eq!(cell(edge.south), (3, 0));
    }
}
