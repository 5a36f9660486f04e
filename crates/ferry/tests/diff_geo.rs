//! Differential tests for the GEO commands: every reply from ferry must be
//! byte-identical to redis-server 7.0's, in RESP2 and in RESP3 — including
//! the order of unsorted search results (Redis's cell scan order), which
//! members `COUNT n ANY` picks, and ties among equally distant members.

#[macro_use]
mod common;

use common::{parse_one, ConnPair, Pair, RawConn};

/// A small deterministic generator (seeded: every run sends the same data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() as f64 / (1u64 << 53) as f64) * (hi - lo)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Adds `n` random points named `{prefix}{i}` inside the given window.
fn add_points(
    p: &mut ConnPair,
    key: &str,
    prefix: &str,
    rng: &mut Lcg,
    n: usize,
    lon: (f64, f64),
    lat: (f64, f64),
) {
    let mut args: Vec<String> = vec!["GEOADD".into(), key.into()];
    for i in 0..n {
        args.push(format!("{:.6}", rng.range(lon.0, lon.1)));
        args.push(format!("{:.6}", rng.range(lat.0, lat.1)));
        args.push(format!("{prefix}{i}"));
    }
    p.same(&args);
}

/// Runs one search with every combination of reply options.
fn search_all_options(p: &mut ConnPair, base: &[String], rng: &mut Lcg) {
    let with: [&[&str]; 6] = [
        &[],
        &["WITHDIST"],
        &["WITHCOORD"],
        &["WITHHASH"],
        &["WITHDIST", "WITHHASH", "WITHCOORD"],
        &["WITHCOORD", "WITHDIST"],
    ];
    let order: [&[&str]; 3] = [&[], &["ASC"], &["DESC"]];
    for w in with {
        for o in order {
            let mut args: Vec<String> = base.to_vec();
            args.extend(w.iter().map(|s| s.to_string()));
            args.extend(o.iter().map(|s| s.to_string()));
            p.same(&args);
            let n = (1 + rng.below(12)).to_string();
            let mut counted = args.clone();
            counted.extend(["COUNT".to_string(), n.clone()]);
            p.same(&counted);
            let mut any = args.clone();
            any.extend(["COUNT".to_string(), n, "ANY".to_string()]);
            p.same(&any);
        }
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

diff_test!(geoadd_options_and_errors, |p| {
    p.same(&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"]);
    p.same(&["GEOADD", "Sicily", "15.087269", "37.502669", "Catania"]);
    p.same(&["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]);
    // Updating the same position changes nothing; another one does.
    p.same(&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"]);
    p.same(&[
        "GEOADD",
        "Sicily",
        "CH",
        "13.361389",
        "38.115556",
        "Palermo",
    ]);
    p.same(&[
        "GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo", "1", "2", "new",
    ]);
    p.same(&[
        "GEOADD", "Sicily", "NX", "1", "1", "Palermo", "3", "3", "nx",
    ]);
    p.same(&[
        "GEOADD", "Sicily", "XX", "1", "1", "Palermo", "4", "4", "xx",
    ]);
    p.same(&[
        "GEOADD", "Sicily", "XX", "CH", "2", "2", "Palermo", "5", "5", "xx2",
    ]);
    p.same(&["GEOADD", "Sicily", "nx", "ch", "6", "6", "nx2"]);
    p.same(&["GEOADD", "nokey", "XX", "1", "1", "a"]);
    p.same(&["EXISTS", "nokey"]);
    p.same(&["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]);
    // The limits themselves are valid positions.
    p.same(&[
        "GEOADD",
        "edges",
        "180",
        "85.05112878",
        "ne",
        "-180",
        "-85.05112878",
        "sw",
        "-180",
        "85.05112878",
        "nw",
        "180",
        "-85.05112878",
        "se",
        "0",
        "0",
        "origin",
        "-0",
        "-0",
        "negzero",
    ]);
    p.same(&["ZRANGE", "edges", "0", "-1", "WITHSCORES"]);
    // Errors.
    for (lon, lat) in [
        ("180.000001", "0"),
        ("-180.000001", "0"),
        ("0", "85.05112879"),
        ("0", "-85.05112879"),
        ("200", "10"),
        ("inf", "0"),
        ("-inf", "0"),
        ("0", "90"),
        ("1e300", "0"),
        ("-123456789.123", "-99.5"),
    ] {
        p.same(&["GEOADD", "bad", lon, lat, "m"]);
    }
    for bad in ["abc", "", " 1", "1 ", "nan", "1e400", "0x", "1,5"] {
        p.same(&["GEOADD", "bad", bad, "0", "m"]);
        p.same(&["GEOADD", "bad", "0", bad, "m"]);
    }
    p.same(&["GEOADD", "bad", "0x10", "0x1p3", "hex"]);
    p.same(&["GEOADD", "bad", "1e1", "-1.5e1", "exp"]);
    p.same(&["ZRANGE", "bad", "0", "-1", "WITHSCORES"]);
    // A bad pair after good ones adds nothing.
    p.same(&["GEOADD", "partial", "1", "1", "a", "500", "1", "b"]);
    p.same(&["EXISTS", "partial"]);
    p.same(&["GEOADD", "k", "1", "2"]);
    p.same(&["GEOADD", "k", "1", "2", "m", "3"]);
    p.same(&["GEOADD", "k", "1", "2", "m", "3", "4"]);
    p.same(&["GEOADD", "k", "NX", "XX", "1", "2", "m"]);
    p.same(&["GEOADD", "k", "ch", "ch", "ch"]);
    p.same(&["GEOADD", "k", "GT", "1", "2", "m"]);
    p.same(&["GEOADD", "k", "INCR", "1", "2", "m"]);
    p.same(&["GEOADD", "k"]);
    p.same(&["GEOADD", "k", "1", "2"]);
    p.same(&["SET", "str", "x"]);
    p.same(&["GEOADD", "str", "1", "2", "m"]);
    p.same(&["GEOADD", "str", "1", "200", "m"]);
    p.same(&["GEOADD", "str", "NX", "XX", "1", "2", "m"]);
});

diff_test!(geopos_geohash_geodist, |p| {
    let mut rng = Lcg(0x9e0_0001);
    add_points(
        p,
        "g",
        "p",
        &mut rng,
        200,
        (-180.0, 180.0),
        (-85.05112878, 85.05112878),
    );
    p.same(&[
        "GEOADD",
        "g",
        "180",
        "85.05112878",
        "ne",
        "-180",
        "-85.05112878",
        "sw",
        "179.999999",
        "0",
        "am1",
        "-179.999999",
        "0",
        "am2",
        "0",
        "85",
        "north",
        "0",
        "-85",
        "south",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
        "15.087269",
        "38.115556",
        "SameLat",
        "13.361389",
        "37.502669",
        "SameLon",
    ]);
    let mut members: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
    members.extend(s(&[
        "ne", "sw", "am1", "am2", "north", "south", "Palermo", "Catania", "SameLat", "SameLon",
    ]));
    for chunk in members.chunks(15) {
        let mut pos = s(&["GEOPOS", "g"]);
        pos.extend(chunk.iter().cloned());
        pos.push("missing".into());
        p.same(&pos);
        pos[0] = "GEOHASH".into();
        p.same(&pos);
    }
    for _ in 0..150 {
        let a = &members[rng.below(members.len() as u64) as usize];
        let b = &members[rng.below(members.len() as u64) as usize];
        p.same(&["GEODIST", "g", a, b]);
        for unit in ["m", "km", "mi", "ft", "KM", "Mi"] {
            p.same(&["GEODIST", "g", a, b, unit]);
        }
    }
    for (a, b) in [
        ("am1", "am2"),
        ("ne", "sw"),
        ("north", "south"),
        ("Palermo", "SameLon"),
        ("Catania", "SameLat"),
        ("Palermo", "Palermo"),
    ] {
        p.same(&["GEODIST", "g", a, b]);
        p.same(&["GEODIST", "g", a, b, "km"]);
    }
    p.same(&["GEODIST", "g", "Palermo", "missing"]);
    p.same(&["GEODIST", "g", "missing", "Palermo"]);
    p.same(&["GEODIST", "nokey", "a", "b"]);
    p.same(&["GEODIST", "nokey", "a", "b", "km"]);
    p.same(&["GEODIST", "nokey", "a", "b", "parsec"]);
    p.same(&["GEODIST", "g", "Palermo", "Catania", "parsec"]);
    p.same(&["GEODIST", "g", "Palermo", "Catania", "km", "extra"]);
    p.same(&["GEODIST", "g", "Palermo"]);
    p.same(&["GEOPOS", "nokey", "a", "b"]);
    p.same(&["GEOHASH", "nokey", "a", "b"]);
    p.same(&["GEOPOS", "g"]);
    p.same(&["GEOHASH", "g"]);
    p.same(&["GEOPOS"]);
    p.same(&["GEOHASH"]);
    // Scores that are no geohash still decode somewhere, as in Redis.
    p.same(&[
        "ZADD",
        "odd",
        "-1",
        "neg",
        "0",
        "zero",
        "0.5",
        "half",
        "4503599627370496",
        "two52",
        "13510798882111487",
        "top",
        "1e20",
        "huge",
        "-1e20",
        "neghuge",
        "inf",
        "pinf",
        "-inf",
        "ninf",
    ]);
    let odd = [
        "neg", "zero", "half", "two52", "top", "huge", "neghuge", "pinf", "ninf",
    ];
    let mut q = s(&["GEOPOS", "odd"]);
    q.extend(s(&odd));
    p.same(&q);
    q[0] = "GEOHASH".into();
    p.same(&q);
    for a in odd {
        p.same(&["GEODIST", "odd", a, "zero"]);
    }
    p.same(&["SET", "str", "x"]);
    p.same(&["GEOPOS", "str", "a"]);
    p.same(&["GEOHASH", "str", "a"]);
    p.same(&["GEODIST", "str", "a", "b"]);
    p.same(&["GEODIST", "str", "a", "b", "parsec"]);
});

diff_test!(search_random_radius, |p| {
    let mut rng = Lcg(0x9e0_0002);
    // A dense cluster (more than 128 members: a skiplist in Redis) and
    // points all over the world.
    add_points(p, "g", "c", &mut rng, 300, (12.0, 16.0), (36.0, 39.0));
    add_points(p, "g", "w", &mut rng, 150, (-180.0, 180.0), (-85.0, 85.0));
    add_points(p, "small", "s", &mut rng, 40, (12.0, 16.0), (36.0, 39.0));
    for round in 0..14 {
        let (lon, lat) = if round % 2 == 0 {
            (rng.range(12.0, 16.0), rng.range(36.0, 39.0))
        } else {
            (rng.range(-180.0, 180.0), rng.range(-85.0, 85.0))
        };
        let (lon, lat) = (format!("{lon:.5}"), format!("{lat:.5}"));
        let (radius, unit) = [
            ("50", "km"),
            ("120", "km"),
            ("30", "mi"),
            ("200000", "m"),
            ("500000", "ft"),
            ("3000", "km"),
            ("0", "km"),
            ("1.5", "km"),
        ][rng.below(8) as usize];
        let key = if round % 3 == 2 { "small" } else { "g" };
        let base = s(&[
            "GEOSEARCH",
            key,
            "FROMLONLAT",
            &lon,
            &lat,
            "BYRADIUS",
            radius,
            unit,
        ]);
        search_all_options(p, &base, &mut rng);
        let radius_base = s(&["GEORADIUS", key, &lon, &lat, radius, unit]);
        search_all_options(p, &radius_base, &mut rng);
        let ro = s(&["GEORADIUS_RO", key, &lon, &lat, radius, unit]);
        p.same(&ro);
        // From a member.
        let m = format!("c{}", rng.below(300));
        let base = s(&["GEOSEARCH", "g", "FROMMEMBER", &m, "BYRADIUS", radius, unit]);
        search_all_options(p, &base, &mut rng);
        let by_member = s(&["GEORADIUSBYMEMBER", "g", &m, radius, unit]);
        search_all_options(p, &by_member, &mut rng);
        p.same(&["GEORADIUSBYMEMBER_RO", "g", &m, radius, unit, "WITHDIST"]);
    }
});

diff_test!(search_random_box, |p| {
    let mut rng = Lcg(0x9e0_0003);
    add_points(p, "g", "c", &mut rng, 300, (-5.0, 5.0), (40.0, 50.0));
    add_points(p, "g", "w", &mut rng, 150, (-180.0, 180.0), (-85.0, 85.0));
    for round in 0..14 {
        let (lon, lat) = if round % 2 == 0 {
            (rng.range(-5.0, 5.0), rng.range(40.0, 50.0))
        } else {
            (rng.range(-180.0, 180.0), rng.range(-85.0, 85.0))
        };
        let (lon, lat) = (format!("{lon:.5}"), format!("{lat:.5}"));
        let (w, h, unit) = [
            ("100", "50", "km"),
            ("400", "400", "km"),
            ("60", "200", "mi"),
            ("300000", "100000", "m"),
            ("9000", "4000", "km"),
            ("0", "0", "km"),
            ("1000000", "10", "ft"),
        ][rng.below(7) as usize];
        let base = s(&[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            &lon,
            &lat,
            "BYBOX",
            w,
            h,
            unit,
        ]);
        search_all_options(p, &base, &mut rng);
        let m = format!("c{}", rng.below(300));
        let base = s(&["GEOSEARCH", "g", "FROMMEMBER", &m, "BYBOX", w, h, unit]);
        search_all_options(p, &base, &mut rng);
    }
});

diff_test!(search_near_poles_and_antimeridian, |p| {
    let mut rng = Lcg(0x9e0_0004);
    add_points(
        p,
        "g",
        "n",
        &mut rng,
        120,
        (-180.0, 180.0),
        (80.0, 85.05112878),
    );
    add_points(
        p,
        "g",
        "s",
        &mut rng,
        120,
        (-180.0, 180.0),
        (-85.05112878, -80.0),
    );
    add_points(p, "g", "e", &mut rng, 80, (175.0, 180.0), (-10.0, 10.0));
    add_points(p, "g", "w", &mut rng, 80, (-180.0, -175.0), (-10.0, 10.0));
    p.same(&[
        "GEOADD",
        "g",
        "180",
        "85.05112878",
        "ne",
        "-180",
        "-85.05112878",
        "sw",
        "180",
        "0",
        "east",
        "-180",
        "0",
        "west",
    ]);
    let centers = [
        ("0", "85.05112878"),
        ("179.9", "84.9"),
        ("-179.99", "-85"),
        ("180", "0"),
        ("-180", "0"),
        ("179.999", "5"),
        ("-179.5", "-3"),
        ("90", "-82"),
        ("0", "0"),
        ("0", "-85.05112878"),
    ];
    let shapes: [&[&str]; 9] = [
        &["BYRADIUS", "100", "km"],
        &["BYRADIUS", "600", "km"],
        &["BYRADIUS", "2500", "km"],
        &["BYRADIUS", "7000", "km"],
        &["BYRADIUS", "20000", "km"],
        &["BYBOX", "800", "300", "km"],
        &["BYBOX", "3000", "3000", "km"],
        &["BYBOX", "40000", "200", "km"],
        &["BYBOX", "100", "20000", "km"],
    ];
    for (lon, lat) in centers {
        for shape in shapes {
            let mut base = s(&["GEOSEARCH", "g", "FROMLONLAT", lon, lat]);
            base.extend(s(shape));
            p.same(&base);
            let mut wd = base.clone();
            wd.extend(s(&["WITHDIST", "WITHCOORD", "WITHHASH"]));
            p.same(&wd);
            let mut c = base.clone();
            c.extend(s(&["COUNT", &(1 + rng.below(20)).to_string(), "ANY"]));
            p.same(&c);
            let mut c = base.clone();
            c.extend(s(&["COUNT", &(1 + rng.below(20)).to_string(), "DESC"]));
            p.same(&c);
        }
    }
    for m in ["ne", "sw", "east", "west", "n3", "s7", "e1", "w2"] {
        p.same(&["GEORADIUSBYMEMBER", "g", m, "1000", "km", "WITHDIST", "ASC"]);
        p.same(&[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            m,
            "BYBOX",
            "2000",
            "500",
            "km",
        ]);
    }
});

diff_test!(search_ties_and_count, |p| {
    // Many members at the same few places: equal distances, so the order
    // depends on Redis's sort (stable merge sort for a full sort, its own
    // partial quicksort with COUNT).
    let mut args = s(&["GEOADD", "g"]);
    for i in 0..90 {
        let (lon, lat) = [
            ("10", "10"),
            ("10.01", "10"),
            ("9.99", "10"),
            ("10", "10.01"),
        ][i % 4];
        args.extend(s(&[lon, lat, &format!("m{i:03}")]));
    }
    p.same(&args);
    let mut rng = Lcg(0x9e0_0005);
    for count in [1, 2, 5, 6, 7, 8, 10, 23, 40, 41, 60, 89, 90, 200] {
        let c = count.to_string();
        for order in ["ASC", "DESC"] {
            p.same(&[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "10",
                "10",
                "BYRADIUS",
                "10",
                "km",
                "COUNT",
                &c,
                order,
            ]);
            p.same(&[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "10.003",
                "10",
                "BYRADIUS",
                "10",
                "km",
                "COUNT",
                &c,
                order,
                "WITHDIST",
            ]);
        }
        p.same(&[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "10",
            "10",
            "BYRADIUS",
            "10",
            "km",
            "COUNT",
            &c,
        ]);
        p.same(&[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "10",
            "10",
            "BYRADIUS",
            "10",
            "km",
            "COUNT",
            &c,
            "ANY",
        ]);
        p.same(&[
            "GEORADIUS",
            "g",
            "10",
            "10",
            "10",
            "km",
            "COUNT",
            &c,
            "STORE",
            "dst",
        ]);
        p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    }
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "10",
        "10",
        "BYRADIUS",
        "10",
        "km",
        "ASC",
    ]);
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "10",
        "10",
        "BYRADIUS",
        "10",
        "km",
        "DESC",
    ]);
    // Random clusters of duplicates.
    let mut args = s(&["GEOADD", "dups"]);
    for i in 0..300 {
        let spot = rng.below(25);
        args.extend([
            format!("{:.4}", 20.0 + (spot % 5) as f64 * 0.01),
            format!("{:.4}", 30.0 + (spot / 5) as f64 * 0.01),
            format!("d{i}"),
        ]);
    }
    p.same(&args);
    for _ in 0..30 {
        let c = (1 + rng.below(299)).to_string();
        let order = ["ASC", "DESC"][rng.below(2) as usize];
        p.same(&[
            "GEOSEARCH",
            "dups",
            "FROMLONLAT",
            "20.02",
            "30.02",
            "BYBOX",
            "10",
            "10",
            "km",
            "COUNT",
            &c,
            order,
        ]);
    }
});

diff_test!(store_variants, |p| {
    let mut rng = Lcg(0x9e0_0006);
    add_points(p, "g", "c", &mut rng, 200, (12.0, 16.0), (36.0, 39.0));
    let check = |p: &mut Pair, dst: &str| {
        p.same(&["ZRANGE", dst, "0", "-1", "WITHSCORES"]);
        p.same(&["TYPE", dst]);
        p.same(&["TTL", dst]);
    };
    for round in 0..8 {
        let (lon, lat) = (
            format!("{:.4}", rng.range(12.0, 16.0)),
            format!("{:.4}", rng.range(36.0, 39.0)),
        );
        let m = format!("c{}", rng.below(200));
        let r = ["20", "80", "150", "0"][round % 4];
        let count = (1 + rng.below(30)).to_string();
        for opt in [
            s(&[]),
            s(&["ASC"]),
            s(&["DESC", "COUNT", &count]),
            s(&["COUNT", &count, "ANY"]),
            s(&["COUNT", &count]),
        ] {
            for store in ["STORE", "STOREDIST"] {
                let mut a = s(&["GEORADIUS", "g", &lon, &lat, r, "km"]);
                a.extend(opt.clone());
                a.extend(s(&[store, "dst1"]));
                p.same(&a);
                check(p, "dst1");
                let mut a = s(&["GEORADIUSBYMEMBER", "g", &m, r, "mi"]);
                a.extend(s(&[store, "dst2"]));
                a.extend(opt.clone());
                p.same(&a);
                check(p, "dst2");
            }
            let mut a = s(&["GEOSEARCHSTORE", "dst3", "g", "FROMLONLAT", &lon, &lat]);
            a.extend(s(&["BYBOX", r, "40", "km"]));
            a.extend(opt.clone());
            p.same(&a);
            check(p, "dst3");
            a.push("STOREDIST".into());
            p.same(&a);
            check(p, "dst3");
            let mut a = s(&["GEOSEARCHSTORE", "dst4", "g", "FROMMEMBER", &m]);
            a.extend(s(&["BYRADIUS", r, "km", "STOREDIST"]));
            a.extend(opt.clone());
            p.same(&a);
            check(p, "dst4");
        }
    }
    // A destination of another type, with a TTL, is replaced.
    p.same(&["SET", "strdst", "x", "EX", "100"]);
    p.same(&[
        "GEORADIUS",
        "g",
        "14",
        "37.5",
        "100",
        "km",
        "STORE",
        "strdst",
    ]);
    check(p, "strdst");
    // The source itself as the destination.
    p.same(&[
        "ZADD",
        "self",
        "3479099956230698",
        "Palermo",
        "3479447370796909",
        "Catania",
    ]);
    p.same(&[
        "GEORADIUS",
        "self",
        "15",
        "37",
        "100",
        "km",
        "STOREDIST",
        "self",
    ]);
    check(p, "self");
    // No result, or no source: the destination is deleted.
    p.same(&["SET", "gone", "x"]);
    p.same(&["GEORADIUS", "g", "-100", "10", "1", "km", "STORE", "gone"]);
    p.same(&["EXISTS", "gone"]);
    p.same(&["SET", "gone", "x"]);
    p.same(&[
        "GEOSEARCHSTORE",
        "gone",
        "nokey",
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "1",
        "km",
    ]);
    p.same(&["EXISTS", "gone"]);
    p.same(&["SET", "gone", "x"]);
    p.same(&[
        "GEORADIUSBYMEMBER",
        "nokey",
        "m",
        "1",
        "km",
        "STORE",
        "gone",
    ]);
    p.same(&["EXISTS", "gone"]);
    p.same(&[
        "GEORADIUS",
        "nokey",
        "0",
        "0",
        "1",
        "km",
        "STOREDIST",
        "gone",
    ]);
    p.same(&[
        "GEOSEARCHSTORE",
        "gone",
        "g",
        "FROMLONLAT",
        "-100",
        "10",
        "BYRADIUS",
        "1",
        "km",
    ]);
    p.same(&["EXISTS", "gone"]);
    // The last STORE option wins.
    p.same(&[
        "GEORADIUS",
        "g",
        "14",
        "37.5",
        "50",
        "km",
        "STORE",
        "x1",
        "STOREDIST",
        "x2",
    ]);
    p.same(&["EXISTS", "x1", "x2"]);
    check(p, "x2");
});

diff_test!(search_errors, |p| {
    p.same(&[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    p.same(&["SET", "str", "x"]);
    let cases: &[&[&str]] = &[
        // GEORADIUS family
        &["GEORADIUS", "g", "15", "37"],
        &["GEORADIUS", "g", "15", "37", "200"],
        &["GEORADIUS", "g", "x", "37", "200", "km"],
        &["GEORADIUS", "g", "15", "y", "200", "km"],
        &["GEORADIUS", "g", "190", "37", "200", "km"],
        &["GEORADIUS", "g", "15", "-86", "200", "km"],
        &["GEORADIUS", "g", "15", "37", "r", "km"],
        &["GEORADIUS", "g", "15", "37", "-1", "km"],
        &["GEORADIUS", "g", "15", "37", "200", "parsec"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "COUNT"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "COUNT", "0"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "COUNT", "-3"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "COUNT", "x"],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "99999999999999999999",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "ANY"],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "ANY",
            "COUNT",
            "1",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE"],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "d",
            "WITHDIST",
        ],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "WITHHASH",
            "STOREDIST",
            "d",
        ],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "WITHCOORD",
            "STORE",
            "d",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "BOGUS"],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "FROMMEMBER",
            "Palermo",
        ],
        &[
            "GEORADIUS",
            "g",
            "15",
            "37",
            "200",
            "km",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST"],
        &["GEORADIUS_RO", "g", "15", "37", "200", "km", "STORE", "d"],
        &[
            "GEORADIUS_RO",
            "g",
            "15",
            "37",
            "200",
            "km",
            "STOREDIST",
            "d",
        ],
        &["GEORADIUS", "str", "15", "37", "200", "km"],
        &["GEORADIUS", "str", "x", "37", "200", "km"],
        &["GEORADIUS", "nokey", "x", "37", "200", "km"],
        &["GEORADIUS", "nokey", "15", "37", "200", "km", "ANY"],
        &["GEORADIUSBYMEMBER", "g", "Palermo", "200"],
        &["GEORADIUSBYMEMBER", "g", "nobody", "200", "km"],
        &["GEORADIUSBYMEMBER", "g", "nobody", "x", "km"],
        &["GEORADIUSBYMEMBER", "g", "Palermo", "x", "km"],
        &["GEORADIUSBYMEMBER", "g", "Palermo", "-5", "km"],
        &["GEORADIUSBYMEMBER", "g", "Palermo", "5", "yd"],
        &["GEORADIUSBYMEMBER", "g", "Palermo", "5", "km", "COUNT", "0"],
        &[
            "GEORADIUSBYMEMBER",
            "g",
            "Palermo",
            "5",
            "km",
            "STORE",
            "d",
            "WITHDIST",
        ],
        &["GEORADIUSBYMEMBER", "nokey", "m", "x", "yd"],
        &["GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "BOGUS"],
        &["GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "ANY"],
        &[
            "GEORADIUSBYMEMBER",
            "nokey",
            "m",
            "1",
            "km",
            "STORE",
            "d",
            "WITHDIST",
        ],
        &["GEORADIUSBYMEMBER", "str", "m", "1", "km"],
        &[
            "GEORADIUSBYMEMBER_RO",
            "g",
            "Palermo",
            "5",
            "km",
            "STORE",
            "d",
        ],
        &["GEORADIUSBYMEMBER_RO", "nokey", "m", "1", "km"],
        // GEOSEARCH family
        &["GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS"],
        &["GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1"],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "2",
        ],
        &["GEOSEARCH", "g", "BYRADIUS", "1", "km", "WITHDIST"],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "WITHDIST",
            "ASC",
        ],
        &["GEOSEARCH", "g", "FROMMEMBER", "Palermo", "WITHDIST", "ASC"],
        &[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            "Palermo",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "1",
            "2",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "1",
            "2",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            "Palermo",
            "FROMMEMBER",
            "Catania",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "1",
            "km",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "BYRADIUS",
            "300",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "x",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "y",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "-1",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "-1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "x",
            "-1",
            "parsec",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "1",
            "parsec",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "parsec",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "x",
            "37",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "100",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            "nobody",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "ANY",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "COUNT",
            "0",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "STORE",
            "d",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "STOREDIST",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "STOREDIST",
            "d",
        ],
        &["geosearch", "g", "BYRADIUS", "1", "km", "ASC", "ASC"],
        &["GeoSearch", "g", "FROMLONLAT", "15", "37", "ASC", "ASC"],
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "x",
            "km",
        ],
        &["GEOSEARCH", "nokey", "FROMMEMBER", "x", "WITHDIST", "ASC"],
        &[
            "GEOSEARCH",
            "str",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEOSEARCH", "g", "FROMLONLAT", "15", "37"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "WITHDIST",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "WITHHASH",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "STORE",
            "x",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
            "ANY",
        ],
        &[
            "geosearchstore",
            "d",
            "g",
            "BYRADIUS",
            "1",
            "km",
            "STOREDIST",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "STOREDIST",
            "ASC",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "str",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
        ],
        // Case-insensitive keywords and units.
        &[
            "georadius",
            "g",
            "15",
            "37",
            "200",
            "KM",
            "withdist",
            "asc",
            "count",
            "1",
        ],
        &[
            "GEOSEARCH",
            "g",
            "frommember",
            "Palermo",
            "bybox",
            "400",
            "400",
            "Km",
            "desc",
        ],
    ];
    for c in cases {
        p.same(c);
    }
    p.same(&["EXISTS", "d"]);
});

diff_test!(huge_and_odd_input, |p| {
    p.same(&[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    for r in ["inf", "1e308", "0", "0.0000001", "40000", "20037.726"] {
        p.same(&[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            r,
            "km",
            "ASC",
        ]);
        p.same(&["GEORADIUS", "g", "15", "37", r, "km", "WITHDIST"]);
        p.same(&[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            r,
            r,
            "km",
            "ASC",
        ]);
    }
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "500",
        "km",
        "COUNT",
        "9223372036854775807",
    ]);
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "500",
        "km",
        "COUNT",
        "9223372036854775807",
        "ANY",
    ]);
    // Binary member names.
    p.same(&[&b"GEOADD"[..], b"g", b"1", b"1", b"\x00\xff\r\n"]);
    p.same(&[&b"GEOPOS"[..], b"g", b"\x00\xff\r\n"]);
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
    ]);
    p.same(&[
        &b"GEOSEARCH"[..],
        b"g",
        b"FROMMEMBER",
        b"\x00\xff\r\n",
        b"BYRADIUS",
        b"1",
        b"km",
        b"WITHCOORD",
    ]);
    // Zset members with scores outside the geohash range.
    p.same(&[
        "ZADD", "g", "-5", "negative", "5e15", "toobig", "1.5", "fraction",
    ]);
    p.same(&[
        "GEORADIUS",
        "g",
        "-180",
        "-85",
        "500",
        "km",
        "WITHHASH",
        "WITHCOORD",
    ]);
    p.same(&[
        "GEORADIUSBYMEMBER",
        "g",
        "fraction",
        "100",
        "km",
        "WITHHASH",
        "WITHCOORD",
    ]);
    p.same(&[
        "GEORADIUSBYMEMBER",
        "g",
        "negative",
        "100",
        "km",
        "WITHHASH",
    ]);
    p.same(&[
        "GEOSEARCH",
        "g",
        "FROMMEMBER",
        "toobig",
        "BYRADIUS",
        "100",
        "km",
        "WITHCOORD",
    ]);
});

/// Subscribes a connection to every keyspace and keyevent channel.
fn subscribe(conn: &mut RawConn) {
    let r = conn.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
    assert!(r.starts_with(b"*3"), "{r:?}");
}

/// Every frame a subscriber received up to its PING marker.
fn drain(conn: &mut RawConn) -> Vec<String> {
    conn.send(&["PING", "end-of-events"]);
    let mut frames = Vec::new();
    loop {
        let f = String::from_utf8_lossy(&conn.read_reply()).into_owned();
        if f.contains("end-of-events") {
            return frames;
        }
        frames.push(f);
        assert!(frames.len() < 10_000, "runaway event stream");
    }
}

#[test]
fn keyspace_notifications() {
    let cmds: &[&[&str]] = &[
        &[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
        &["GEOADD", "g", "XX", "1", "1", "nobody"],
        &["GEOADD", "g", "CH", "13", "38", "Palermo"],
        &["GEOADD", "g", "500", "38", "bad"],
        &["GEOPOS", "g", "Palermo"],
        &["GEOPOS", "missing", "Palermo"],
        &["GEOHASH", "missing", "Palermo"],
        &["GEODIST", "missing", "a", "b"],
        &[
            "GEOSEARCH",
            "missing",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d1"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "d1"],
        &[
            "GEORADIUSBYMEMBER",
            "g",
            "Palermo",
            "200",
            "km",
            "STORE",
            "d2",
        ],
        &[
            "GEOSEARCHSTORE",
            "d3",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "d3",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STOREDIST",
        ],
        &[
            "GEOSEARCHSTORE",
            "d3",
            "g",
            "FROMLONLAT",
            "-100",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "g", "-100", "0", "1", "km", "STORE", "d1"],
        &["GEORADIUS", "missing", "0", "0", "1", "km", "STORE", "d2"],
        &[
            "GEOSEARCHSTORE",
            "d4",
            "missing",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
    ];
    for flags in ["KEA", "Ez", "Kg", "Em"] {
        let mut p = Pair::proto(2);
        p.same(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        let mut sub_a = p.redis.connect();
        let mut sub_b = p.subject.connect();
        subscribe(&mut sub_a);
        subscribe(&mut sub_b);
        for c in cmds {
            p.same(c);
        }
        let (a, b) = (drain(&mut sub_a), drain(&mut sub_b));
        assert_eq!(a, b, "event streams differ for flags {flags:?}");
        assert!(
            !a.is_empty(),
            "no events for {flags:?}: the test proves nothing"
        );
    }
}

#[test]
fn keyspace_hits_and_misses() {
    let mut p = Pair::proto(2);
    p.same(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"]);
    p.same(&["CONFIG", "RESETSTAT"]);
    for c in [
        &["GEOPOS", "g", "Palermo"][..],
        &["GEOPOS", "nokey", "x"],
        &["GEOHASH", "nokey", "x"],
        &["GEODIST", "g", "a", "b"],
        &["GEODIST", "nokey", "a", "b"],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "d"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
    ] {
        p.same(c);
    }
    let stat = |conn: &mut RawConn, field: &str| -> String {
        let info = String::from_utf8_lossy(&conn.cmd(&["INFO", "stats"])).into_owned();
        info.lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_default()
            .to_string()
    };
    for field in ["keyspace_hits:", "keyspace_misses:"] {
        let a = stat(&mut p.conns.a, field);
        let b = stat(&mut p.conns.b, field);
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }
}

#[test]
fn command_info_matches() {
    let mut p = Pair::proto(2);
    for name in [
        "geoadd",
        "geodist",
        "geohash",
        "geopos",
        "geosearch",
        "geosearchstore",
        "georadius",
        "georadiusbymember",
        "georadius_ro",
        "georadiusbymember_ro",
    ] {
        let (a, b) = p.both(&["COMMAND", "INFO", name]);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let first = |r: &common::Resp| -> Vec<common::Resp> {
            let entry = &r.elements().expect("array")[0];
            // name, arity, flags, first key, last key, step, ACL categories
            entry.elements().expect("entry")[..7].to_vec()
        };
        assert_eq!(first(&ra), first(&rb), "COMMAND INFO {name}");
    }
}

diff_test!(same_longitude_distances, |p| {
    // Points sharing the centre's longitude: Redis 7.0 measures them along
    // the meridian; STOREDIST keeps every digit of the distance.
    let mut args = s(&["GEOADD", "g"]);
    let mut rng = Lcg(0x9e0_0007);
    for i in 0..60 {
        args.extend([
            "15.087269".to_string(),
            format!("{:.6}", rng.range(-80.0, 80.0)),
            format!("m{i}"),
        ]);
    }
    p.same(&args);
    for i in 0..6 {
        let m = format!("m{i}");
        p.same(&[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMMEMBER",
            &m,
            "BYRADIUS",
            "20000",
            "km",
            "STOREDIST",
        ]);
        p.same(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]);
        p.same(&[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMMEMBER",
            &m,
            "BYBOX",
            "10",
            "40000",
            "km",
            "STOREDIST",
        ]);
        p.same(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]);
        p.same(&["GEODIST", "g", &m, "m59", "ft"]);
    }
});

diff_test!(from_scripts, |p| {
    p.same(&[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    for script in [
        "return redis.call('GEOPOS', KEYS[1], 'Palermo', 'nobody')",
        "redis.setresp(3) return redis.call('GEOPOS', KEYS[1], 'Palermo', 'nobody')",
        "redis.setresp(3) return redis.call('GEOPOS', KEYS[1], 'Palermo')[1][1]['double']",
        "return redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'WITHDIST', 'WITHCOORD', 'WITHHASH', 'ASC')",
        "redis.setresp(3) return redis.call('GEORADIUS', KEYS[1], 15, 37, 200, 'km', 'WITHCOORD')",
        "return redis.call('GEODIST', KEYS[1], 'Palermo', 'Catania', 'km')",
        "return redis.call('GEOHASH', KEYS[1], 'Palermo', 'nobody')",
        "return redis.call('GEORADIUS', KEYS[1], 15, 37, 200, 'km', 'STORE', 'dst')",
        "return redis.pcall('GEORADIUS', KEYS[1], 15, 37, 200, 'km', 'COUNT', 0)",
    ] {
        p.same(&["EVAL", script, "1", "g"]);
    }
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["MULTI"]);
    p.same(&["GEOADD", "g", "1", "1", "m"]);
    p.same(&["GEOPOS", "g", "m"]);
    p.same(&[
        "GEOSEARCHSTORE",
        "d",
        "g",
        "FROMMEMBER",
        "m",
        "BYRADIUS",
        "10",
        "km",
    ]);
    p.same(&["EXEC"]);
});
