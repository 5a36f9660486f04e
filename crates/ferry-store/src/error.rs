use thiserror::Error;

/// What can go wrong in the store. `WrongType` and `NoSuchKey` are the
/// Redis-level outcomes callers turn into replies; the rest are storage faults.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path} was written by a newer ferry (store format {found}, this build reads up to {supported}); upgrade ferry")]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("{0}")]
    InUse(String),
    #[error("cannot write the journal: {0} (is the disk full?)")]
    Journal(std::io::Error),
    #[error("the data file is damaged: {0}")]
    Corrupt(&'static str),
    #[error("cannot replace {path} with a snapshot: {source}")]
    Replace {
        path: String,
        source: std::io::Error,
    },
    /// A change on a store that only its log writes (a Raft follower).
    #[error("READONLY You can't write against a read only replica.")]
    ReadOnly,
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;
