//! DUMP payload framing: the encoded data, then the RDB version (2 bytes,
//! little endian) and a CRC-64 of everything before it (8 bytes, little
//! endian), as `DUMP` and `FUNCTION DUMP` produce and `RESTORE` checks.

use crate::RdbError;

/// The RDB version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;

static CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Redis's CRC-64 (Jones polynomial, reflected).
pub fn crc64(data: &[u8]) -> u64 {
    CRC.checksum(data)
}

/// Redis's CRC-64 over bytes given piece by piece.
pub(crate) fn crc64_digest() -> crc::Digest<'static, u64> {
    CRC.digest()
}

/// Appends the version and checksum to `body`.
pub fn seal_payload(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks a payload's footer (a version this build reads, a matching
/// checksum) and returns the encoded data and its RDB version.
pub fn open_payload(payload: &[u8]) -> Result<(&[u8], u16), RdbError> {
    open_payload_upto(payload, RDB_VERSION)
}

/// [`open_payload`] accepting RDB versions up to `max_version` (key
/// RESTORE reads Redis 7.2's version 11; FUNCTION RESTORE stays at 10).
pub fn open_payload_upto(payload: &[u8], max_version: u16) -> Result<(&[u8], u16), RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::BadPayload);
    }
    let (data, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > max_version {
        return Err(RdbError::BadPayload);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if crc64(&payload[..payload.len() - 8]) != u64::from_le_bytes(crc) {
        return Err(RdbError::BadPayload);
    }
    Ok((data, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        // The check value of CRC-64/REDIS, as in Redis's own crc64 test.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn seal_then_open() {
        let p = seal_payload(b"abc".to_vec());
        assert_eq!(open_payload(&p).unwrap(), (&b"abc"[..], RDB_VERSION));
        let mut bad = p.clone();
        bad[0] ^= 1;
        assert_eq!(open_payload(&bad), Err(RdbError::BadPayload));
        assert_eq!(open_payload(b"short"), Err(RdbError::BadPayload));
    }
}
