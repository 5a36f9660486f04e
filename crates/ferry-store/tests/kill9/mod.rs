//! What the crash tests (`journal.rs`, `streams.rs`) share: a `kill -9`.

use ferry_store::Store;
use std::path::PathBuf;

/// Simulates `kill -9`: the files as the dead process leaves them (data
/// file, WAL, journal; SQLite rebuilds the shared-memory index) are copied
/// to a fresh directory while the "dead" store still holds its open
/// transaction, and the store is dropped without closing. Returns the
/// copied data file, the one to reopen.
pub fn crash(store: Store, dir: &tempfile::TempDir) -> PathBuf {
    let path = store.path().to_path_buf();
    let after = dir.path().join("after-crash");
    std::fs::create_dir_all(&after).expect("mkdir");
    for suffix in ["", "-wal", "-ferrylog"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            std::fs::copy(&from, after.join(format!("data.db{suffix}"))).expect("copy");
        }
    }
    std::mem::forget(store);
    after.join("data.db")
}
