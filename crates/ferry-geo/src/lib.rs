//! Redis's geo arithmetic (Redis 7.0 `geohash.c`, `geohash_helper.c` and
//! the pure parts of `geo.c`), with no I/O.
//!
//! Written here rather than taken from a crate: the geohash crates on
//! crates.io implement the standard geohash (latitude range ±90, base32
//! strings), while a Redis geo set stores 52-bit integers interleaved over
//! Web Mercator's latitude range (±85.05112878), and a search must scan
//! exactly the nine geohash boxes Redis picks (step estimation, neighbour
//! pruning) so that `COUNT n ANY` returns the same members in the same
//! order. Every float operation follows Redis's order of evaluation.

mod distance;
mod format;
mod hash;
mod search;

pub use distance::{distance, lat_distance, EARTH_RADIUS_M};
pub use format::{format_coord, format_distance};
pub use hash::{
    align52, decode, decode_score, encode, encode_wgs84, geohash_string, neighbors, score_to_bits,
    Area, HashBits, Neighbors, Range, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN, STEP_MAX,
};
pub use search::{areas_for_shape, bounding_box, estimate_steps, Areas, Shape, ShapeKind};

/// A unit's size in meters, as GEO commands name it (case-insensitive), or
/// None for an unknown unit.
pub fn unit_to_meters(unit: &[u8]) -> Option<f64> {
    let u = unit.to_ascii_lowercase();
    match u.as_slice() {
        b"m" => Some(1.0),
        b"km" => Some(1000.0),
        b"ft" => Some(0.3048),
        b"mi" => Some(1609.34),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(unit_to_meters(b"KM"), Some(1000.0));
        assert_eq!(unit_to_meters(b"mi"), Some(1609.34));
        assert_eq!(unit_to_meters(b"Ft"), Some(0.3048));
        assert_eq!(unit_to_meters(b"m"), Some(1.0));
        assert_eq!(unit_to_meters(b"yd"), None);
        assert_eq!(unit_to_meters(b""), None);
    }
}
