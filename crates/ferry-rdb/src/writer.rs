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
