//! RESP frames for ferry, with no I/O.
//!
//! * [`decode`]: a streaming decoder for client commands, both RESP multibulk
//!   (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, what client libraries send) and inline
//!   commands (`GET k\r\n`, what telnet and `redis-cli` pipes send), enforcing
//!   Redis's request limits with Redis's error strings.
//! * [`Reply`]: the typed reply a command produces, encoded as RESP2 or RESP3
//!   by [`Reply::encode`] depending on what the client negotiated with HELLO.

pub mod decode;
pub mod reply;

pub use decode::{decode_command, Limits, ProtocolError};
pub use reply::{format_double, Protocol, Reply};
