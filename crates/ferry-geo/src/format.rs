//! Numbers as GEO replies print them.

/// A distance with four decimals (C's `%.4f`, NaN as glibc prints it).
pub fn format_distance(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    format!("{d:.4}")
}

/// A coordinate as Redis's `addReplyHumanLongDouble` prints it: `%.17Lf`
/// (a double is exact as a long double), trailing zeros and a trailing
/// dot removed, `-0` as `0`.
pub fn format_coord(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coords() {
        assert_eq!(format_coord(180.0), "180");
        assert_eq!(format_coord(85.05112878), "85.0511287799999991");
        // The south-west corner cell's centre, as Redis's GEOPOS prints it.
        let (x, y) = crate::decode_score(0.0).unwrap();
        assert_eq!(format_coord(x), "-179.99999731779098511");
        assert_eq!(format_coord(y), "-85.05112751263942528");
        assert_eq!(format_coord(-0.0), "0");
        assert_eq!(format_coord(0.5), "0.5");
        // Ties at the 17th decimal round to even, as glibc does.
        assert_eq!(format_coord(2f64.powi(-18)), "0.00000381469726562");
        assert_eq!(format_coord(3.0 * 2f64.powi(-18)), "0.00001144409179688");
    }

    #[test]
    fn distances() {
        assert_eq!(format_distance(166274.15156960033), "166274.1516");
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.00005), "0.0001");
        assert_eq!(format_distance(0.125), "0.1250");
        assert_eq!(format_distance(f64::NAN.copysign(-1.0)), "-nan");
    }
}
