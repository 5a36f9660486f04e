//! Redis's RDB encodings, the parts ferry needs: length and string
//! encodings (plain, integer and LZF-compressed forms), Redis's CRC-64, and
//! the framing of DUMP payloads (`FUNCTION DUMP`/`RESTORE` today; key
//! DUMP/RESTORE and replication snapshots build on the same pieces).
//!
//! No I/O: readers work on byte slices.

mod lzf;
pub mod payload;
mod reader;
mod writer;

pub use lzf::decompress as lzf_decompress;
pub use payload::{crc64, open_payload, seal_payload, RDB_VERSION};
pub use reader::Reader;
pub use writer::{write_length, write_string};

/// An RDB encoding that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RdbError {
    #[error("unexpected end of the encoded data")]
    Truncated,
    #[error("invalid length encoding")]
    BadLength,
    #[error("invalid LZF-compressed string")]
    BadLzf,
    #[error("DUMP payload version or checksum are wrong")]
    BadPayload,
}

/// RDB opcode that starts a function library in a dump (RDB_OPCODE_FUNCTION2).
pub const OPCODE_FUNCTION2: u8 = 245;
/// The pre-GA function opcode Redis 7.0 refuses (RDB_OPCODE_FUNCTION_PRE_GA).
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
