//! Great-circle distances on Redis's sphere.

/// The earth's quadratic mean radius (WGS-84), as Redis uses it.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;

/// Degrees to radians as Redis's `deg_rad` computes it (`* (M_PI / 180)`).
pub(crate) fn deg_rad(deg: f64) -> f64 {
    deg * (std::f64::consts::PI / 180.0)
}

/// Radians to degrees (`/ (M_PI / 180)`).
pub(crate) fn rad_deg(rad: f64) -> f64 {
    rad / (std::f64::consts::PI / 180.0)
}

/// The distance along a meridian between two latitudes, in meters.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance between two (longitude, latitude) points, in
/// meters. Like Redis 7.0, an equal longitude takes the meridian shortcut.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_catania() {
        // GEOADD ... Palermo, Catania: the decoded cell centres.
        let (x1, y1) = crate::decode_score(3479099956230698.0).unwrap();
        let (x2, y2) = crate::decode_score(3479447370796909.0).unwrap();
        let d = distance(x1, y1, x2, y2);
        assert_eq!(format!("{d:.4}"), "166274.1516");
    }

    #[test]
    fn same_point_and_meridian() {
        assert_eq!(distance(10.0, 20.0, 10.0, 20.0), 0.0);
        let d = distance(10.0, 0.0, 10.0, 1.0);
        assert!((d - EARTH_RADIUS_M * std::f64::consts::PI / 180.0).abs() < 1e-6);
    }
}
