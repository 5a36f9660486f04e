//! The incremental RDB reader against the whole-file one: the same items
//! whatever the chunks the file arrives in (1, 7, 4096 bytes, whole), a
//! damaged byte still an error, a file cut short an error at the real end
//! only, and a huge key walked a bounded number of times however small
//! the chunks.
//!
//! Files: `tests/fixtures/redis-7.0-every-type.rdb` (redis-server 7.0.15
//! `SAVE` of keys of every type and encoding, expiry, a function library,
//! databases 0 and 3, a 40 kB incompressible string), and files built
//! here with the opcodes and older encodings Redis 7.0 no longer writes.

use ferry_rdb::file::{FileError, Incremental, Next, RdbFile};
use ferry_rdb::value::{encode, EncodeOptions, Value};
use ferry_rdb::{crc64, write_length, write_string};

const FIXTURE: &[u8] = include_bytes!("fixtures/redis-7.0-every-type.rdb");

/// Every item of a whole file (as Debug text), or the error.
fn whole(data: &[u8]) -> Result<Vec<String>, FileError> {
    let mut f = RdbFile::new(data)?;
    let mut out = Vec::new();
    while let Some(item) = f.next_item()? {
        out.push(format!("{item:?}"));
    }
    Ok(out)
}

/// Every item read by [`Incremental`] fed `chunk` bytes at a time, each
/// item taken as soon as it is complete.
fn chunked(data: &[u8], chunk: usize, total: Option<u64>) -> Result<Vec<String>, FileError> {
    chunked_by(data, || chunk, total)
}

/// Every item read by [`Incremental`] fed chunks of the sizes `next_size`
/// gives (at least 1), each item taken as soon as it is complete. Panics
/// on "more" once the whole file was fed, and on a reader that asks for
/// more bytes far more often than there are chunks (a hang).
fn chunked_by(
    data: &[u8],
    mut next_size: impl FnMut() -> usize,
    total: Option<u64>,
) -> Result<Vec<String>, FileError> {
    let mut r = Incremental::new(total);
    let mut out = Vec::new();
    let mut fed = 0;
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(
            calls <= 2 * data.len() + 100,
            "the reader does not progress"
        );
        let at_end = fed == data.len();
        match r.next_item(at_end)? {
            Next::Item(item) => out.push(format!("{item:?}")),
            Next::End => return Ok(out),
            Next::More => {
                assert!(!at_end, "More at the end");
                let n = next_size().max(1).min(data.len() - fed);
                r.feed(&data[fed..fed + n]);
                fed += n;
            }
        }
    }
}

/// A small deterministic generator (xorshift64*) for random chunk sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Mostly small chunks, sometimes large ones (up to 64 kB).
    fn size(&mut self) -> usize {
        let x = self.next();
        let limit = match x % 4 {
            0 => 8,
            1 => 100,
            2 => 5000,
            _ => 65536,
        };
        1 + ((x >> 8) % limit) as usize
    }
}

const SEEDS: [u64; 6] = [1, 2, 3, 0x9e37_79b9_7f4a_7c15, 12345, 987_654_321];

const CHUNKS: [usize; 4] = [1, 7, 4096, usize::MAX];

fn same_everywhere(data: &[u8]) -> Vec<String> {
    let want = whole(data).expect("the whole-file walk");
    for chunk in CHUNKS {
        for total in [None, Some(data.len() as u64)] {
            assert_eq!(
                chunked(data, chunk, total).expect("incremental"),
                want,
                "chunks of {chunk}, total {total:?}"
            );
        }
    }
    for seed in SEEDS {
        for total in [None, Some(data.len() as u64)] {
            let mut rng = Rng(seed);
            assert_eq!(
                chunked_by(data, || rng.size(), total).expect("incremental"),
                want,
                "random chunks, seed {seed}, total {total:?}"
            );
        }
    }
    want
}

#[test]
fn the_fixture_reads_the_same_in_any_chunks() {
    let items = same_everywhere(FIXTURE);
    let keys = items.iter().filter(|i| i.starts_with("Key(")).count();
    assert_eq!(keys, 20, "{items:#?}");
    assert!(items.iter().any(|i| i.starts_with("Function(")));
    assert!(items.iter().any(|i| i == "SelectDb(3)"));
}

/// A file with every opcode and the older encodings: aux fields, a
/// function, RESIZEDB, IDLE, FREQ, expiry in ms and in seconds, a
/// ZSET with text scores, a plain LIST, and every value `encode` writes.
fn built_file() -> Vec<u8> {
    let mut f = b"REDIS0009".to_vec();
    f.push(250);
    write_string(&mut f, b"redis-ver");
    write_string(&mut f, b"6.0.0");
    f.push(245);
    write_string(
        &mut f,
        b"#!lua name=lib\nredis.register_function('f', function() return 1 end)",
    );
    f.push(254);
    write_length(&mut f, 0);
    f.push(251);
    write_length(&mut f, 10);
    write_length(&mut f, 1);
    let big: Vec<Vec<u8>> = (0..3000).map(|i| format!("e{i}").into_bytes()).collect();
    let values = vec![
        Value::String(b"12".to_vec()),
        Value::String(vec![b'q'; 20000]),
        Value::List(big.clone()),
        Value::Set(vec![b"1".to_vec(), b"-5".to_vec()]),
        Value::Set(big.clone()),
        Value::ZSet(vec![(b"a".to_vec(), 1.25)]),
        Value::ZSet(
            big.iter()
                .enumerate()
                .map(|(i, m)| (m.clone(), i as f64))
                .collect(),
        ),
        Value::Hash(vec![(b"f".to_vec(), b"v".to_vec())]),
        Value::Hash(big.iter().map(|m| (m.clone(), vec![b'h'; 70])).collect()),
    ];
    for (i, v) in values.iter().enumerate() {
        match i % 4 {
            0 => {
                f.push(252);
                f.extend_from_slice(&(4102444800000i64 + i as i64).to_le_bytes());
            }
            1 => {
                f.push(253);
                f.extend_from_slice(&4102444800u32.to_le_bytes());
            }
            2 => {
                f.push(248);
                write_length(&mut f, 77);
            }
            _ => f.extend_from_slice(&[249, 5]),
        }
        let obj = encode(v, &EncodeOptions::default());
        f.push(obj[0]);
        write_string(&mut f, format!("k{i}").as_bytes());
        f.extend_from_slice(&obj[1..]);
    }
    // ZSET (type 3): scores as text, 254 = +inf.
    f.push(3);
    write_string(&mut f, b"oldz");
    write_length(&mut f, 2);
    write_string(&mut f, b"a");
    f.push(3);
    f.extend_from_slice(b"1.5");
    write_string(&mut f, b"b");
    f.push(254);
    // LIST (type 1).
    f.push(1);
    write_string(&mut f, b"oldl");
    write_length(&mut f, 2);
    write_string(&mut f, b"x");
    write_string(&mut f, b"y");
    f.push(254);
    write_length(&mut f, 7);
    f.push(0);
    write_string(&mut f, b"k7");
    write_string(&mut f, b"in seven");
    f.push(255);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn a_built_file_with_every_opcode_reads_the_same_in_any_chunks() {
    let data = built_file();
    let items = same_everywhere(&data);
    assert_eq!(items.iter().filter(|i| i.starts_with("Key(")).count(), 12);
    assert!(items.iter().any(|i| i == "SelectDb(7)"));
    // Without a checksum (rdbchecksum no).
    let mut zero = data.clone();
    let n = zero.len();
    zero[n - 8..].fill(0);
    assert_eq!(same_everywhere(&zero), items);
}

#[test]
fn a_damaged_byte_is_an_error_in_any_chunks() {
    let at = FIXTURE
        .windows(5)
        .position(|w| w == b"hello")
        .expect("the short string is in the file");
    let mut flipped = FIXTURE.to_vec();
    flipped[at] ^= 0x20;
    for chunk in CHUNKS {
        assert_eq!(
            chunked(&flipped, chunk, None),
            Err(FileError::Checksum),
            "chunks of {chunk}"
        );
    }
    // A damaged type byte: an error as soon as the item is there, not
    // "more".
    let mut data = built_file();
    let at = data.windows(6).position(|w| w == b"\x01\x04oldl").unwrap();
    data[at] = 99;
    for chunk in CHUNKS {
        let e = chunked(&data, chunk, None).unwrap_err();
        assert!(matches!(e, FileError::Unknown { code: 99, .. }), "{e}");
    }
    assert!(matches!(
        whole(&data),
        Err(FileError::Unknown { code: 99, .. })
    ));
    // A damaged length inside an object (a hash field count far beyond
    // the file): with the file's length known it is an error at once.
    let mut data = built_file();
    let at = data.windows(6).position(|w| w == b"\x01\x04oldl").unwrap();
    // "oldl"'s element count 2 becomes 0x3fff (far beyond the file).
    let count_at = at + 6;
    assert_eq!(data[count_at], 2);
    data[count_at] = 0x80;
    let mut r = Incremental::new(Some(data.len() as u64));
    r.feed(&data[..(count_at + 12).min(data.len())]);
    let mut result = Ok(());
    for _ in 0..100 {
        match r.next_item(false) {
            Ok(Next::Item(_)) => continue,
            Ok(other) => panic!("{other:?}"),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    assert!(
        matches!(result, Err(FileError::Damaged { .. })),
        "{result:?}"
    );
    // Without the length: an error at the real end.
    assert!(chunked(&data, 4096, None).is_err());
}

#[test]
fn a_file_cut_short_is_an_error_only_at_the_real_end() {
    for data in [FIXTURE.to_vec(), built_file()] {
        for cut in [
            3,
            9,
            10,
            100,
            data.len() / 2,
            data.len() - 9,
            data.len() - 1,
        ] {
            let part = &data[..cut];
            for chunk in [1, 7, 4096] {
                let e = chunked(part, chunk, None).unwrap_err();
                let expected = if cut < 9 {
                    matches!(e, FileError::NotRdb)
                } else {
                    matches!(e, FileError::Damaged { .. })
                };
                assert!(expected, "cut at {cut}, chunks of {chunk}: {e}");
            }
            assert!(whole(part).is_err(), "cut at {cut}");
        }
        // The same prefix, not at the end: more, never an error.
        let mut r = Incremental::new(None);
        r.feed(&data[..data.len() - 1]);
        loop {
            match r.next_item(false).expect("a prefix is not an error") {
                Next::Item(_) => continue,
                Next::More => break,
                Next::End => panic!("the end marker is not all there"),
            }
        }
    }
}

#[test]
fn a_huge_key_is_walked_a_bounded_number_of_times() {
    // A list of 200k small elements (about 1.4 MB), fed 16 bytes at a time.
    let items: Vec<Vec<u8>> = (0..200_000).map(|i| format!("{i}").into_bytes()).collect();
    let mut f = b"REDIS0010".to_vec();
    f.push(1);
    write_string(&mut f, b"big");
    write_length(&mut f, items.len() as u64);
    for it in &items {
        write_string(&mut f, it);
    }
    f.push(255);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    let mut r = Incremental::new(None);
    let mut keys = 0;
    for piece in f.chunks(16) {
        r.feed(piece);
        while let Next::Item(_) = r.next_item(false).unwrap() {
            keys += 1;
        }
    }
    // The last try waits for the end (the buffer did not grow by half).
    loop {
        match r.next_item(true).unwrap() {
            Next::Item(_) => keys += 1,
            Next::End => break,
            Next::More => panic!("More at the end"),
        }
    }
    assert_eq!(keys, 1);
    assert!(r.walks() < 60, "{} walks", r.walks());
}

#[test]
fn random_chunks_cut_short_or_with_a_bad_checksum_are_errors() {
    for data in [FIXTURE.to_vec(), built_file()] {
        let n = data.len();
        // A bad checksum: every item, then the error at the end marker.
        let mut bad = data.clone();
        bad[n - 1] ^= 1;
        assert_eq!(whole(&bad), Err(FileError::Checksum));
        for seed in SEEDS {
            for total in [None, Some(n as u64)] {
                let mut rng = Rng(seed);
                assert_eq!(
                    chunked_by(&bad, || rng.size(), total),
                    Err(FileError::Checksum),
                    "seed {seed}, total {total:?}"
                );
            }
        }
        // Cut short anywhere: an error (the end marker or an item is not
        // all there), never a hang, a panic or "the end".
        let mut cuts = Rng(7);
        for seed in SEEDS {
            let cut = (cuts.next() % n as u64) as usize;
            let part = &data[..cut];
            assert!(whole(part).is_err(), "cut at {cut}");
            // The real length promised (a `$<len>` transfer cut short),
            // or not known (diskless).
            for total in [None, Some(n as u64)] {
                let mut rng = Rng(seed);
                let e = chunked_by(part, || rng.size(), total)
                    .expect_err(&format!("cut at {cut} of {n}"));
                assert!(
                    matches!(e, FileError::NotRdb | FileError::Damaged { .. }),
                    "cut at {cut}, seed {seed}, total {total:?}: {e}"
                );
            }
        }
        // Every cut of the first 300 bytes and the last 64 (the end
        // marker and the checksum), in 1-byte chunks.
        for cut in (0..300.min(n)).chain(n.saturating_sub(64)..n) {
            let e = chunked(&data[..cut], 1, None).expect_err(&format!("cut at {cut}"));
            assert!(
                matches!(e, FileError::NotRdb | FileError::Damaged { .. }),
                "cut at {cut}: {e}"
            );
        }
    }
}
