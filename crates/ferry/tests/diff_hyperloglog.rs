//! Differential tests for the HyperLogLog commands: replies AND the HLL
//! strings themselves (`GET key`) must be byte-identical to redis-server
//! 7.0's, in RESP2 and RESP3, through every encoding change.

#[macro_use]
mod common;

use common::{parse_frame, ConnPair, Resp};

/// Compares a key's raw value (the HLL bytes) and its string encoding.
#[track_caller]
fn same_value(p: &mut ConnPair, key: &str) {
    p.same(&["GET", key]);
    p.same(&["OBJECT", "ENCODING", key]);
}

/// `n` distinct elements starting at `from`, with a prefix.
fn elements(prefix: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("{prefix}{i}")).collect()
}

/// PFADD `key` with `els`; the reply must match.
#[track_caller]
fn pfadd(p: &mut ConnPair, key: &str, els: &[String]) -> Vec<u8> {
    let mut args = vec!["PFADD".to_string(), key.to_string()];
    args.extend(els.iter().cloned());
    p.same(&args)
}

/// A dense HLL string with every register at `value` and the given
/// cached-cardinality bytes.
fn dense_value(value: u8, card: [u8; 8]) -> Vec<u8> {
    let mut v = b"HYLL\x00\x00\x00\x00".to_vec();
    v.extend_from_slice(&card);
    let mut regs = vec![0u8; 12288 + 1];
    for i in 0..16384usize {
        let bit = i * 6;
        let (byte, fb) = (bit / 8, bit % 8);
        let word = (value as u16) << fb;
        regs[byte] |= word as u8;
        regs[byte + 1] |= (word >> 8) as u8;
    }
    regs.pop();
    v.extend_from_slice(&regs);
    v
}

/// A deterministic pseudo-random sequence (no external seed: both servers
/// must see the same input).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

diff_test!(pfadd_creates_and_reports_changes, |p| {
    // An empty PFADD creates the key (and answers 1), then 0.
    p.same_expect(&["PFADD", "empty"], b":1\r\n");
    same_value(p, "empty");
    p.same_expect(&["PFADD", "empty"], b":0\r\n");
    same_value(p, "empty");
    p.same(&["PFCOUNT", "empty"]);
    same_value(p, "empty");
    // 1 when a register grew, 0 when none did.
    p.same_expect(&["PFADD", "k", "a", "b", "c"], b":1\r\n");
    same_value(p, "k");
    p.same_expect(&["PFADD", "k", "a", "b", "c"], b":0\r\n");
    p.same_expect(&["PFADD", "k", "c"], b":0\r\n");
    p.same_expect(&["PFADD", "k", "a", "d"], b":1\r\n");
    same_value(p, "k");
    p.same(&["PFDEBUG", "DECODE", "k"]);
    p.same(&["PFDEBUG", "ENCODING", "k"]);
    // Binary and empty elements.
    p.same(&[&b"PFADD"[..], b"k", b"", b"\x00\xff\r\n", b"\x00"]);
    same_value(p, "k");
    p.same(&["PFCOUNT", "k"]);
    p.same(&["TYPE", "k"]);
    p.same(&["STRLEN", "k"]);
    // Arity.
    p.same(&["PFADD"]);
    p.same(&["PFCOUNT"]);
    p.same(&["PFMERGE"]);
    p.same(&["PFDEBUG"]);
    p.same(&["PFDEBUG", "GETREG"]);
    p.same(&["PFDEBUG", "GETREG", "k", "x"]);
    p.same(&["PFSELFTEST", "x"]);
    // A TTL survives PFADD, PFCOUNT and PFMERGE.
    p.same(&["EXPIRE", "k", "1000"]);
    p.same(&["PFADD", "k", "zz1", "zz2"]);
    p.same(&["PFCOUNT", "k"]);
    p.same(&["PFMERGE", "k", "empty"]);
    p.close_int(&["TTL", "k"], 1);
    same_value(p, "k");
});

diff_test!(cached_cardinality, |p| {
    pfadd(p, "k", &elements("e", 0, 50));
    // PFADD leaves the cache marked stale; PFCOUNT fills it in (a write).
    same_value(p, "k");
    p.same(&["PFCOUNT", "k"]);
    same_value(p, "k");
    p.same(&["PFCOUNT", "k"]);
    // A PFADD that changes nothing keeps the cache; one that does marks it.
    p.same_expect(&["PFADD", "k", "e1"], b":0\r\n");
    same_value(p, "k");
    pfadd(p, "k", &elements("f", 0, 10));
    same_value(p, "k");
    p.same(&["PFCOUNT", "k"]);
    same_value(p, "k");
    // A valid cache is trusted as is, whatever the registers say.
    let mut v = p.same(&["GET", "k"]);
    let frame = parse_frame(&v).unwrap().unwrap().0;
    let Resp::Bulk(mut bytes) = frame else {
        panic!("GET k: {frame:?}")
    };
    bytes[8..16].copy_from_slice(&123456789u64.to_le_bytes());
    p.same(&[&b"SET"[..], b"forged", &bytes]);
    p.same_expect(&["PFCOUNT", "forged"], b":123456789\r\n");
    bytes[15] = 0x7f;
    p.same(&[&b"SET"[..], b"forged", &bytes]);
    p.same(&["PFCOUNT", "forged"]);
    same_value(p, "forged");
    // The top bit marks it stale: recomputed and rewritten.
    bytes[15] = 0x80;
    p.same(&[&b"SET"[..], b"forged", &bytes]);
    p.same(&["PFCOUNT", "forged"]);
    same_value(p, "forged");
    // Several keys: the union is counted, nothing is cached.
    pfadd(p, "k2", &elements("e", 25, 50));
    same_value(p, "k2");
    p.same(&["PFCOUNT", "k", "k2"]);
    p.same(&["PFCOUNT", "k", "k2", "missing"]);
    p.same(&["PFCOUNT", "missing", "missing2"]);
    p.same(&["PFCOUNT", "k2", "k2"]);
    same_value(p, "k2");
    p.same(&["PFCOUNT", "missing"]);
    p.same(&["EXISTS", "missing"]);
    v.clear();
});

diff_test!(sparse_to_dense_promotion, |p| {
    // Grow one element at a time around the default 3000-byte limit,
    // comparing the bytes as the sparse form grows and is promoted.
    let mut i = 0;
    let mut promoted_at = None;
    while i < 4000 {
        let r = pfadd(p, "k", &elements("x", i, 10));
        assert!(r == b":1\r\n" || r == b":0\r\n");
        i += 10;
        let enc = p.same(&["PFDEBUG", "ENCODING", "k"]);
        if i % 200 == 0 || (promoted_at.is_none() && enc == b"+dense\r\n") {
            same_value(p, "k");
            p.same(&["PFCOUNT", "k"]);
            same_value(p, "k");
        }
        if enc == b"+dense\r\n" && promoted_at.is_none() {
            promoted_at = Some(i);
        }
    }
    assert!(promoted_at.is_some(), "never promoted");
    same_value(p, "k");
    // A register above 32 cannot be sparse. "e2119568080" hashes to a run
    // of 35 (found offline with ferry_hll::pattern; 1 element in 2^32).
    p.same_expect(&["PFADD", "one", "e2119568080"], b":1\r\n");
    p.same_expect(&["PFDEBUG", "ENCODING", "one"], b"+dense\r\n");
    same_value(p, "one");
    p.same(&["PFCOUNT", "one"]);
    pfadd(p, "some", &elements("s", 0, 20));
    p.same(&["PFADD", "some", "e2119568080"]);
    same_value(p, "some");
    // Merging it into sparse values makes the result dense.
    pfadd(p, "sparse", &elements("t", 0, 20));
    p.ok(&["PFMERGE", "sparse", "one"]);
    same_value(p, "sparse");
    p.same(&["PFCOUNT", "sparse", "one", "some"]);
});

diff_test!(large_cardinality, |p| {
    for batch in 0..100 {
        pfadd(p, "big", &elements("el:", batch * 1000, 1000));
    }
    same_value(p, "big");
    p.same(&["PFCOUNT", "big"]);
    same_value(p, "big");
    pfadd(p, "big", &elements("el:", 0, 1000));
    p.same(&["PFCOUNT", "big"]);
    // Another large one, merged and counted together.
    for batch in 0..30 {
        pfadd(p, "big2", &elements("el:", 90_000 + batch * 1000, 1000));
    }
    p.same(&["PFCOUNT", "big", "big2"]);
    p.same(&["PFMERGE", "u", "big", "big2"]);
    same_value(p, "u");
    p.same(&["PFCOUNT", "u"]);
    same_value(p, "u");
});

diff_test!(merges, |p| {
    pfadd(p, "s1", &elements("a", 0, 20));
    pfadd(p, "s2", &elements("b", 0, 300));
    for batch in 0..5 {
        pfadd(p, "d1", &elements("c", batch * 1000, 1000));
    }
    p.same_expect(&["PFDEBUG", "ENCODING", "s1"], b"+sparse\r\n");
    p.same_expect(&["PFDEBUG", "ENCODING", "s2"], b"+sparse\r\n");
    p.same_expect(&["PFDEBUG", "ENCODING", "d1"], b"+dense\r\n");
    // Sparse sources only: the result stays sparse.
    p.ok(&["PFMERGE", "m1", "s1", "s2"]);
    same_value(p, "m1");
    p.same(&["PFDEBUG", "ENCODING", "m1"]);
    p.same(&["PFCOUNT", "m1"]);
    // A dense source makes it dense.
    p.ok(&["PFMERGE", "m2", "s1", "d1", "missing"]);
    same_value(p, "m2");
    p.same(&["PFCOUNT", "m2"]);
    // Into an existing sparse destination, with its own registers.
    pfadd(p, "m3", &elements("z", 0, 40));
    p.ok(&["PFMERGE", "m3", "s1"]);
    same_value(p, "m3");
    p.ok(&["PFMERGE", "m3", "d1"]);
    same_value(p, "m3");
    // Into an existing dense destination.
    p.ok(&["PFMERGE", "d1", "s2"]);
    same_value(p, "d1");
    // Sparse sources that outgrow the sparse limit once merged.
    pfadd(p, "s3", &elements("q", 0, 900));
    pfadd(p, "s4", &elements("r", 0, 900));
    p.ok(&["PFMERGE", "m4", "s3", "s4"]);
    same_value(p, "m4");
    p.same(&["PFDEBUG", "ENCODING", "m4"]);
    // The destination-only form: creates an empty HLL, or just rewrites it.
    p.ok(&["PFMERGE", "alone"]);
    same_value(p, "alone");
    p.ok(&["PFMERGE", "s1"]);
    same_value(p, "s1");
    p.same(&["PFCOUNT", "s1"]);
    p.ok(&["PFMERGE", "s1"]);
    same_value(p, "s1");
    // Only missing sources.
    p.ok(&["PFMERGE", "m5", "nope1", "nope2"]);
    same_value(p, "m5");
    p.same(&["PFCOUNT", "s1", "s2", "d1", "m1", "m2", "m3", "m4"]);
    // A SET of a valid HLL string works with every PF command.
    let v = p.same(&["GET", "s2"]);
    let Resp::Bulk(bytes) = parse_frame(&v).unwrap().unwrap().0 else {
        panic!("GET s2")
    };
    p.same(&[&b"SET"[..], b"copy", &bytes]);
    same_value(p, "copy");
    p.same(&["PFADD", "copy", "new-element"]);
    same_value(p, "copy");
    p.same(&["PFCOUNT", "copy", "s2"]);
    p.ok(&["PFMERGE", "copy", "s1"]);
    same_value(p, "copy");
    // A short HLL set by a client is embstr until an HLL command touches it.
    let v = p.same(&["GET", "alone"]);
    let Resp::Bulk(bytes) = parse_frame(&v).unwrap().unwrap().0 else {
        panic!("GET alone")
    };
    for cmd in [
        &["PFCOUNT", "short"][..],
        &["PFADD", "short"],
        &["PFDEBUG", "ENCODING", "short"],
        &["PFCOUNT", "short", "short"],
    ] {
        p.same(&[&b"SET"[..], b"short", &bytes]);
        p.same(&["OBJECT", "ENCODING", "short"]);
        p.same(cmd);
        same_value(p, "short");
    }
});

diff_test!(wrong_types_and_corrupted_values, |p| {
    p.same(&["RPUSH", "list", "a"]);
    p.same(&["SET", "str", "not an hll at all"]);
    p.same(&["SET", "int", "12345"]);
    p.same(&["SET", "magic", "HYLL"]);
    pfadd(p, "good", &elements("g", 0, 5));
    for key in ["list", "str", "int", "magic"] {
        p.same(&["PFADD", key, "x"]);
        p.same(&["PFADD", key]);
        p.same(&["PFCOUNT", key]);
        p.same(&["PFCOUNT", "good", key]);
        p.same(&["PFMERGE", key, "good"]);
        p.same(&["PFMERGE", "dst", "good", key]);
        p.same(&["PFDEBUG", "ENCODING", key]);
        p.same(&["PFDEBUG", "GETREG", key]);
    }
    p.same(&["EXISTS", "dst"]);
    let v = p.same(&["GET", "good"]);
    let Resp::Bulk(good) = parse_frame(&v).unwrap().unwrap().0 else {
        panic!("GET good")
    };
    let mut variants: Vec<Vec<u8>> = Vec::new();
    // Header only; bad magic; encoding 2; dense of the wrong length.
    variants.push(good[..16].to_vec());
    let mut bad = good.clone();
    bad[0] = b'h';
    variants.push(bad);
    let mut bad = good.clone();
    bad[4] = 2;
    variants.push(bad);
    let mut bad = good.clone();
    bad[4] = 0;
    variants.push(bad);
    let mut dense = dense_value(1, [0; 8]);
    dense.push(0);
    variants.push(dense);
    // Sparse runs short of 16384 registers, too long, a VAL past the end.
    variants.push(good[..good.len() - 1].to_vec());
    let mut long = good.clone();
    long.extend_from_slice(&[0x7f, 0xff]);
    variants.push(long);
    let mut tail_val = good.clone();
    tail_val.push(0x84);
    variants.push(tail_val);
    let mut tail_zero = good.clone();
    tail_zero.push(0x00);
    variants.push(tail_zero);
    // Only a sparse header followed by a lone XZERO byte.
    let mut lone = good[..16].to_vec();
    lone.push(0x7f);
    variants.push(lone);
    for (n, v) in variants.iter().enumerate() {
        for cmd in [
            &["PFCOUNT", "bad"][..],
            &["PFADD", "bad", "a", "b", "c", "d", "e", "f"],
            &["PFCOUNT", "bad", "good"],
            &["PFMERGE", "out", "good", "bad"],
            &["PFMERGE", "bad", "good"],
            &["PFDEBUG", "TODENSE", "bad"],
            &["PFDEBUG", "GETREG", "bad"],
            &["PFDEBUG", "DECODE", "bad"],
        ] {
            p.same(&[&b"SET"[..], b"bad", v]);
            let r = p.same(cmd);
            if r.starts_with(b"-") {
                assert!(
                    r.starts_with(b"-WRONGTYPE") || r.starts_with(b"-INVALIDOBJ"),
                    "variant {n}: {}",
                    String::from_utf8_lossy(&r)
                );
            }
            same_value(p, "bad");
        }
    }
    p.same(&["EXISTS", "out"]);
});

diff_test!(random_corruption, |p| {
    // Random bytes written over sparse HLLs: whatever Redis answers (an
    // error, a count, a partial update), ferry answers and stores the same.
    let mut rng = Lcg(0x5eed);
    pfadd(p, "src", &elements("s", 0, 200));
    let v = p.same(&["GET", "src"]);
    let Resp::Bulk(src) = parse_frame(&v).unwrap().unwrap().0 else {
        panic!("GET src")
    };
    for _ in 0..10 {
        pfadd(p, "dense", &elements("d", 0, 1000));
    }
    pfadd(p, "dense", &elements("d", 0, 5000));
    let v = p.same(&["GET", "dense"]);
    let Resp::Bulk(dense) = parse_frame(&v).unwrap().unwrap().0 else {
        panic!("GET dense")
    };
    assert_eq!(dense.len(), 12304);
    for round in 0..150 {
        // Dense registers take any bytes: forged values above 51 included.
        if round % 3 == 2 {
            let mut bytes = dense.clone();
            for _ in 0..1 + rng.next() % 50 {
                let at = 16 + (rng.next() as usize) % (bytes.len() - 16);
                bytes[at] = rng.next() as u8;
            }
            p.same(&[&b"SET"[..], b"c", &bytes]);
            p.same(&["PFCOUNT", "c"]);
            p.same(&["PFCOUNT", "c", "src"]);
            p.same(&["PFADD", "c", "x", "y", "z"]);
            p.same(&["PFMERGE", "c2", "src", "c"]);
            same_value(p, "c");
            same_value(p, "c2");
            p.same(&["PFCOUNT", "c2"]);
            p.same(&["DEL", "c2"]);
            continue;
        }
        let mut bytes = src.clone();
        for _ in 0..1 + rng.next() % 3 {
            let at = 16 + (rng.next() as usize) % (bytes.len() - 16);
            bytes[at] = rng.next() as u8;
        }
        if round % 5 == 0 {
            let cut = 16 + (rng.next() as usize) % (bytes.len() - 16);
            bytes.truncate(cut);
        }
        p.same(&[&b"SET"[..], b"c", &bytes]);
        let els = elements(&format!("r{round}-"), 0, 20);
        let cmd = match round % 4 {
            0 => vec!["PFCOUNT".to_string(), "c".into()],
            1 => {
                let mut a = vec!["PFADD".to_string(), "c".into()];
                a.extend(els);
                a
            }
            2 => vec!["PFMERGE".to_string(), "c".into(), "src".into()],
            _ => vec!["PFCOUNT".to_string(), "c".into(), "src".into()],
        };
        p.same(&cmd);
        same_value(p, "c");
        p.same(&["PFDEBUG", "DECODE", "c"]);
        p.same(&["PFCOUNT", "c"]);
        same_value(p, "c");
    }
});

diff_test!(dense_edge_values, |p| {
    // Registers at the maximum run length (51) and beyond (63, only from a
    // forged string): the estimate overflows exactly as in Redis.
    for value in [0u8, 1, 32, 33, 50, 51, 52, 63] {
        p.same(&[
            &b"SET"[..],
            b"d",
            &dense_value(value, [0, 0, 0, 0, 0, 0, 0, 0x80]),
        ]);
        p.same(&["PFCOUNT", "d"]);
        same_value(p, "d");
        p.same(&["PFCOUNT", "d"]);
        p.same(&["PFCOUNT", "d", "nothing"]);
        p.same(&["PFADD", "d", "a", "b"]);
        p.ok(&["PFMERGE", "dm", "d"]);
        same_value(p, "dm");
        p.same(&["DEL", "dm"]);
        p.same(&["PFDEBUG", "ENCODING", "d"]);
        p.same(&["PFDEBUG", "DECODE", "d"]);
        p.same(&["PFDEBUG", "TODENSE", "d"]);
    }
});

diff_test!(pfdebug_and_selftest, |p| {
    pfadd(p, "h", &elements("h", 0, 30));
    p.same(&["PFDEBUG", "DECODE", "h"]);
    p.same(&["PFDEBUG", "encoding", "h"]);
    p.same(&["PFDEBUG", "GETREG", "h"]);
    // GETREG converted it.
    same_value(p, "h");
    p.same(&["PFDEBUG", "ENCODING", "h"]);
    p.same(&["PFDEBUG", "DECODE", "h"]);
    p.same_expect(&["PFDEBUG", "TODENSE", "h"], b":0\r\n");
    pfadd(p, "h2", &elements("h", 0, 30));
    p.same(&["PFCOUNT", "h2"]);
    p.same_expect(&["PFDEBUG", "TODENSE", "h2"], b":1\r\n");
    same_value(p, "h2");
    p.same(&["PFCOUNT", "h2"]);
    p.same(&["PFDEBUG", "NOPE", "h"]);
    p.same(&[&b"PFDEBUG"[..], b"bad\r\nname\x00tail", b"h"]);
    p.same(&["PFDEBUG", "NOPE", "missing"]);
    p.same(&["PFDEBUG", "GETREG", "missing"]);
    p.same(&["PFSELFTEST"]);
    for cmd in ["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"] {
        let (a, b) = p.both(&["COMMAND", "INFO", cmd]);
        let entry = |raw: &[u8]| -> Vec<Resp> {
            let r = parse_frame(raw).unwrap().unwrap().0;
            r.elements().unwrap()[0].elements().unwrap()[..7].to_vec()
        };
        assert_eq!(entry(&a), entry(&b), "COMMAND INFO {cmd}");
    }
});

diff_test!(config_sparse_max_bytes, |p| {
    p.same(&["CONFIG", "GET", "hll-sparse-max-bytes"]);
    for limit in ["100", "0", "1kb", "40"] {
        p.ok(&["CONFIG", "SET", "hll-sparse-max-bytes", limit]);
        p.same(&["CONFIG", "GET", "hll-sparse-max-bytes"]);
        let key = format!("k{limit}");
        let mut i = 0;
        while i < 600 {
            pfadd(p, &key, &elements("e", i, 3));
            i += 3;
            p.same(&["PFDEBUG", "ENCODING", key.as_str()]);
            if i % 30 == 0 {
                same_value(p, &key);
            }
        }
        same_value(p, &key);
        p.ok(&["PFMERGE", "merged", "k100"]);
        same_value(p, "merged");
        p.same(&["DEL", "merged"]);
    }
    // Lowered below an existing sparse value's size: only growth promotes.
    p.ok(&["CONFIG", "SET", "hll-sparse-max-bytes", "3000"]);
    pfadd(p, "grown", &elements("g", 0, 100));
    p.ok(&["CONFIG", "SET", "hll-sparse-max-bytes", "50"]);
    for j in 0..40 {
        pfadd(p, "grown", &elements("w", j, 1));
        p.same(&["PFDEBUG", "ENCODING", "grown"]);
        same_value(p, "grown");
    }
    p.same(&["CONFIG", "SET", "hll-sparse-max-bytes", "-1"]);
    p.same(&["CONFIG", "SET", "hll-sparse-max-bytes", "abc"]);
});

/// Keyspace events of the HLL commands, compared with redis-server.
#[test]
fn notifications() {
    let mut p = common::Pair::proto(2);
    p.ok(&["CONFIG", "SET", "notify-keyspace-events", "KEAnm"]);
    let mut sub_a = p.redis.connect();
    let mut sub_b = p.subject.connect();
    for s in [&mut sub_a, &mut sub_b] {
        let r = s.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
        assert!(r.starts_with(b"*3"), "{r:?}");
    }
    p.same(&["PFADD", "h", "a", "b"]);
    p.same(&["PFADD", "h", "a"]);
    p.same(&["PFADD", "fresh"]);
    p.same(&["PFCOUNT", "h"]);
    p.same(&["PFCOUNT", "h", "fresh", "missing"]);
    p.same(&["PFMERGE", "m", "h", "fresh"]);
    p.same(&["PFMERGE", "m2"]);
    p.same(&["PFDEBUG", "TODENSE", "h"]);
    p.same(&["PFDEBUG", "GETREG", "m"]);
    p.same(&["SET", "bad", "HYLLbroken"]);
    p.same(&["PFADD", "bad", "x"]);
    p.same(&["PFMERGE", "m", "bad"]);
    p.same(&["RPUSH", "l", "x"]);
    p.same(&["PFCOUNT", "l"]);
    p.same(&["PFCOUNT", "nothing-here"]);
    p.same(&["EXPIRE", "h", "1000"]);
    p.same(&["PFADD", "h", "more", "elements"]);
    let drain = |c: &mut common::RawConn| -> Vec<Vec<u8>> {
        c.send(&["PING", "end-of-events"]);
        let mut frames = Vec::new();
        loop {
            let f = c.read_reply();
            if f.windows(13).any(|w| w == b"end-of-events") {
                return frames;
            }
            frames.push(f);
            assert!(frames.len() < 1000, "runaway event stream");
        }
    };
    let (a, b) = (drain(&mut sub_a), drain(&mut sub_b));
    assert!(!a.is_empty());
    assert_eq!(
        a.iter().map(|f| common::escape(f)).collect::<Vec<_>>(),
        b.iter().map(|f| common::escape(f)).collect::<Vec<_>>()
    );
}
