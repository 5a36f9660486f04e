//! Writing RDB lengths and strings.

/// Appends an RDB length: 6, 14, 32 or 64 bits depending on its size.
pub fn write_length(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string in its plain form (a length, then the bytes). Redis
/// reads it whatever its `rdbcompression` setting.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    write_length(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a string as Redis's `rdbSaveRawString` does with
/// `rdbcompression yes`: a short decimal integer in its integer form,
/// a string over 20 bytes LZF-compressed when that saves 4 bytes or more,
/// otherwise plain.
pub fn write_string_rdb(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = crate::listpack::parse_int(s) {
            if let Ok(v8) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0, v8 as u8]);
                return;
            }
            if let Ok(v16) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&v16.to_le_bytes());
                return;
            }
            if let Ok(v32) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&v32.to_le_bytes());
                return;
            }
        }
    }
    if s.len() > 20 {
        if let Some(c) = crate::lzf::compress(s) {
            out.push(0xc3);
            write_length(out, c.len() as u64);
            write_length(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_string(out, s);
}
