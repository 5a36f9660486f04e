//! The geohash cells a radius or box search scans: Redis's
//! `geohashCalculateAreasByShapeWGS84` (step estimation, the centre cell
//! and its eight neighbours, pruning of neighbours the shape cannot reach)
//! and the membership tests of the two shapes.

use crate::distance::{deg_rad, distance, lat_distance, rad_deg, EARTH_RADIUS_M};
use crate::hash::{
    align52, decode, encode, neighbors, Area, HashBits, Neighbors, WGS84_LAT, WGS84_LONG,
};

const MERCATOR_MAX: f64 = 20037726.37;

/// The shape of a search, in its unit (`conversion` meters per unit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ShapeKind {
    Radius(f64),
    /// Width and height.
    Box(f64, f64),
}

/// A search: centre, shape, and the unit's size in meters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub longitude: f64,
    pub latitude: f64,
    pub kind: ShapeKind,
    pub conversion: f64,
}

impl Shape {
    /// The distance from the centre to (`lon`, `lat`) in meters when the
    /// point is inside the shape (Redis's `geoWithinShape` after decoding).
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.longitude, self.latitude, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            ShapeKind::Box(w, h) => {
                let (width_m, height_m) = (w * self.conversion, h * self.conversion);
                if lat_distance(lat, self.latitude) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.longitude, lat) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, lon, lat))
            }
        }
    }
}

/// The cells to scan: the centre cell first, then the neighbours (a zero
/// [`HashBits`] is a pruned neighbour).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Areas {
    pub hash: HashBits,
    pub neighbors: Neighbors,
    pub area: Area,
}

impl Areas {
    /// The score ranges `[min, max)` to read, in Redis's order, skipping
    /// pruned cells and a cell equal to the one read just before.
    pub fn score_ranges(&self) -> Vec<(u64, u64)> {
        let n = &self.neighbors;
        let cells = [
            self.hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ];
        let mut out = Vec::with_capacity(9);
        let mut last: Option<usize> = None;
        for (i, c) in cells.iter().enumerate() {
            if c.is_zero() {
                continue;
            }
            // Redis compares with the last cell read, but only once one
            // other than the centre was read (its index 0 counts as none).
            if let Some(l) = last.filter(|l| *l != 0) {
                if cells[l] == *c {
                    continue;
                }
            }
            let min = align52(*c);
            let max = align52(HashBits {
                bits: c.bits.wrapping_add(1),
                step: c.step,
            });
            out.push((min, max));
            last = Some(i);
        }
        out
    }
}

/// Redis's `geohashEstimateStepsByRadius`: the precision at which a cell
/// is about as large as the search radius.
pub fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The shape's bounding box as [min long, min lat, max long, max lat]
/// (Redis's `geohashBoundingBox`: the long edges are taken at the latitude
/// nearer the pole).
pub fn bounding_box(shape: &Shape) -> [f64; 4] {
    let (height, width) = match shape.kind {
        ShapeKind::Radius(r) => (shape.conversion * r, shape.conversion * r),
        ShapeKind::Box(w, h) => (shape.conversion * h / 2.0, shape.conversion * w / 2.0),
    };
    let (lon, lat) = (shape.longitude, shape.latitude);
    let lat_delta = rad_deg(height / EARTH_RADIUS_M);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
    let southern = lat < 0.0;
    let delta = if southern {
        long_delta_bottom
    } else {
        long_delta_top
    };
    [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
}

/// The centre cell and neighbours covering `shape`.
pub fn areas_for_shape(shape: &Shape) -> Areas {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let (lon, lat) = (shape.longitude, shape.latitude);
    let radius_m = match shape.kind {
        ShapeKind::Radius(r) => r,
        ShapeKind::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    } * shape.conversion;
    let mut steps = estimate_steps(radius_m, lat);
    let cell = |steps: u8| {
        // The centre is within the limits: encoding cannot fail; Redis
        // would go on with zeroed bits.
        let hash = encode(WGS84_LONG, WGS84_LAT, lon, lat, steps).unwrap_or(HashBits {
            bits: 0,
            step: steps,
        });
        let n = neighbors(hash);
        let area = decode_or_empty(hash);
        (hash, n, area)
    };
    let (mut hash, mut n, mut area) = cell(steps);
    let north = decode_or_empty(n.north);
    let south = decode_or_empty(n.south);
    let east = decode_or_empty(n.east);
    let west = decode_or_empty(n.west);
    let decrease = north.latitude.max < max_lat
        || south.latitude.min > min_lat
        || east.longitude.max < max_lon
        || west.longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (hash, n, area) = cell(steps);
    }
    if steps >= 2 {
        let zero = HashBits::default();
        if area.latitude.min < min_lat {
            n.south = zero;
            n.south_west = zero;
            n.south_east = zero;
        }
        if area.latitude.max > max_lat {
            n.north = zero;
            n.north_east = zero;
            n.north_west = zero;
        }
        if area.longitude.min < min_lon {
            n.west = zero;
            n.south_west = zero;
            n.north_west = zero;
        }
        if area.longitude.max > max_lon {
            n.east = zero;
            n.south_east = zero;
            n.north_east = zero;
        }
    }
    Areas {
        hash,
        neighbors: n,
        area,
    }
}

/// A decoded cell; Redis leaves an undecodable one zeroed.
fn decode_or_empty(hash: HashBits) -> Area {
    decode(WGS84_LONG, WGS84_LAT, hash).unwrap_or(Area {
        hash: HashBits::default(),
        longitude: crate::hash::Range { min: 0.0, max: 0.0 },
        latitude: crate::hash::Range { min: 0.0, max: 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -85.0), 12);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
        assert_eq!(estimate_steps(0.001, 0.0), 26);
    }

    #[test]
    fn radius_search_cells() {
        let shape = Shape {
            longitude: 15.0,
            latitude: 37.0,
            kind: ShapeKind::Radius(200.0),
            conversion: 1000.0,
        };
        let areas = areas_for_shape(&shape);
        let ranges = areas.score_ranges();
        assert!(!ranges.is_empty() && ranges.len() <= 9);
        // Both Sicilian cities fall in one of the ranges.
        for s in [3479099956230698u64, 3479447370796909] {
            assert!(ranges.iter().any(|(lo, hi)| *lo <= s && s < *hi));
        }
        let (lon, lat) = crate::decode_score(3479099956230698.0).unwrap();
        let d = shape.contains(lon, lat).unwrap();
        assert_eq!(crate::format_distance(d / 1000.0), "190.4424");
    }

    #[test]
    fn box_contains() {
        let shape = Shape {
            longitude: 0.0,
            latitude: 0.0,
            kind: ShapeKind::Box(200.0, 100.0),
            conversion: 1000.0,
        };
        assert!(shape.contains(0.8, 0.4).is_some());
        assert!(shape.contains(0.8, 0.5).is_none());
        assert!(shape.contains(0.95, 0.0).is_none());
    }

    #[test]
    fn huge_radius_dedups_equal_cells() {
        let shape = Shape {
            longitude: 0.0,
            latitude: 0.0,
            kind: ShapeKind::Radius(20000.0),
            conversion: 1000.0,
        };
        let ranges = areas_for_shape(&shape).score_ranges();
        for w in ranges.windows(2) {
            assert_ne!(w[0], w[1]);
        }
    }
}
