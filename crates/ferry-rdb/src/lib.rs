//! Redis's RDB encodings, the parts ferry needs: length and string
//! encodings (plain, integer and LZF-compressed forms), Redis's CRC-64, the
//! framing of DUMP payloads, key values in every object type DUMP and
//! RESTORE carry (listpacks, ziplists, intsets, quicklists, streams), and
//! whole RDB files item by item ([`file`]), held whole in memory or read
//! as they arrive ([`file::Incremental`]).
//!
//! No I/O: readers work on byte slices.

pub mod file;
mod frame;
pub mod intset;
pub mod listpack;
mod lzf;
pub mod payload;
mod reader;
pub mod stream;
pub mod value;
mod writer;
pub mod ziplist;

pub use lzf::compress as lzf_compress;
pub use lzf::decompress as lzf_decompress;
pub use payload::{crc64, open_payload, seal_payload, RDB_VERSION};
pub use reader::Reader;
pub use stream::{PendingEntry, StreamConsumer, StreamEntry, StreamGroup, StreamValue};
pub use value::{dump, restore, EncodeOptions, RestoreError, Value};
pub use writer::{write_length, write_string, write_string_rdb};

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
    #[error("Bad data format")]
    BadData,
}

/// RDB opcode that starts a function library in a dump (RDB_OPCODE_FUNCTION2).
pub const OPCODE_FUNCTION2: u8 = 245;
/// The pre-GA function opcode Redis 7.0 refuses (RDB_OPCODE_FUNCTION_PRE_GA).
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
