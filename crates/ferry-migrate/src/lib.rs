//! Online migration between Redis-protocol stores.
//!
//! The flow (see `docs/migration.md`): a tracker records every key the
//! source changes into the run registry while a bulk copy SCANs the source
//! and copies each key with its TTL; then delta passes re-copy the keys the
//! tracker saw change, the last one with the application's writes frozen;
//! then a verify pass compares both sides.
//!
//! - [`endpoint`]: what `--from`/`--to` name and connections to them;
//! - [`copy`]: moving a batch of keys (DUMP/RESTORE or typed reads and writes,
//!   big keys in chunks);
//! - [`streams`]: streams without DUMP (entries, groups, consumers, pending
//!   entries), copied and compared with typed commands;
//! - [`registry`]: the SQLite run registry (runs, dirty keys, errors);
//! - [`bulk`], [`dirty`], [`track`], [`verify`], [`preflight`]: the stages;
//! - [`progress`]: progress bars on a terminal, log lines elsewhere.

pub mod bulk;
pub mod copy;
pub mod dirty;
pub mod endpoint;
pub mod flow;
pub mod preflight;
pub mod progress;
pub mod rate;
pub mod registry;
pub mod reply;
pub mod streams;
pub mod tls;
pub mod track;
pub mod verify;

use thiserror::Error;

/// Why a migration command failed. Each message is one line that says what
/// to do about it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line or a value in it is wrong.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Redis(redis::RedisError),
    /// A server answered something we cannot interpret.
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Store(String),
    #[error("run registry: {0}")]
    Registry(#[from] rusqlite::Error),
    /// Stopped by `ferry migrate abort`.
    #[error("{0}")]
    Aborted(String),
    /// The work ran but did not succeed (key errors, verify mismatches).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The process exit code for this error: 2 for bad usage, 3 for an
    /// abort, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Aborted(_) => 3,
            _ => 1,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    ferry_store::unix_ms()
}
