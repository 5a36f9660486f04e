//! `--filter-key`, `--filter-db`, `--skip-command`, `--only-command`: which
//! part of the source reaches the target.
//!
//! A command's keys come from the same key specs ferry serves `COMMAND
//! GETKEYS` from (redis-server 7.0's table). A command without keys
//! (FLUSHALL, FUNCTION LOAD, ...) passes the key filter: it concerns every
//! key. A command naming keys on both sides of the filter (an MSET of
//! `user:1` and `order:1` under `--filter-key 'user:*'`) cannot be split,
//! so it is applied whole (dropping it would lose the write to the key the
//! filter keeps) and counted as mixed.

use bytes::Bytes;
use ferry_server::cmd::{getkeys, meta};
use ferry_store::glob::glob_match;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Key globs (Redis's syntax); empty: every key.
    pub keys: Vec<Vec<u8>>,
    /// Databases; empty: every database.
    pub dbs: Vec<i64>,
    /// Command names never applied (lowercase).
    pub skip: Vec<String>,
    /// Command names applied, none other (lowercase); empty: all.
    pub only: Vec<String>,
}

/// What to do with one command of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    Skip,
    /// Keys inside and outside the filter: applied whole.
    Mixed,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.dbs.is_empty() && self.skip.is_empty() && self.only.is_empty()
    }

    pub fn db(&self, db: i64) -> bool {
        self.dbs.is_empty() || self.dbs.contains(&db)
    }

    pub fn key(&self, key: &[u8]) -> bool {
        self.keys.is_empty() || self.keys.iter().any(|g| glob_match(g, key, false))
    }

    /// The verdict on `args` (name first) run in database `db`.
    pub fn command(&self, db: i64, args: &[Vec<u8>]) -> Verdict {
        let Some(name) = args.first() else {
            return Verdict::Skip;
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        // FLUSHALL empties every database, whichever was selected.
        if !self.db(db) && name != "flushall" {
            return Verdict::Skip;
        }
        if self.skip.contains(&name) || (!self.only.is_empty() && !self.only.contains(&name)) {
            return Verdict::Skip;
        }
        if self.keys.is_empty() {
            return Verdict::Apply;
        }
        let keys = keys_of(&name, args);
        if keys.is_empty() {
            return Verdict::Apply;
        }
        let inside = keys.iter().filter(|k| self.key(k)).count();
        match inside {
            0 => Verdict::Skip,
            n if n == keys.len() => Verdict::Apply,
            _ => Verdict::Mixed,
        }
    }
}

/// The key arguments of a command (`name` lowercase), subcommands
/// (`XGROUP CREATE`) included.
fn keys_of<'a>(name: &str, args: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
    positions(name, args)
        .into_iter()
        .filter_map(|p| args.get(p).map(|a| a.as_slice()))
        .collect()
}

/// Where a command's keys are among its arguments (name first, any case),
/// from the same key specs.
pub fn key_positions(args: &[Vec<u8>]) -> Vec<usize> {
    let Some(name) = args.first() else {
        return Vec::new();
    };
    positions(&String::from_utf8_lossy(name).to_ascii_lowercase(), args)
}

fn positions(name: &str, args: &[Vec<u8>]) -> Vec<usize> {
    let full = match args.get(1) {
        Some(sub) => {
            let f = format!(
                "{name}|{}",
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            );
            if meta::find_full(&f).is_some() {
                f
            } else {
                name.to_string()
            }
        }
        None => name.to_string(),
    };
    let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    getkeys::key_refs(&full, &argv)
        .into_iter()
        .map(|k| k.pos)
        .filter(|p| *p < args.len())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn keys_dbs_and_commands() {
        let f = Filter {
            keys: vec![b"user:*".to_vec()],
            dbs: vec![0],
            skip: vec!["flushall".into()],
            only: vec![],
        };
        assert_eq!(f.command(0, &args("SET user:1 v")), Verdict::Apply);
        assert_eq!(f.command(0, &args("SET order:1 v")), Verdict::Skip);
        assert_eq!(f.command(1, &args("SET user:1 v")), Verdict::Skip);
        assert_eq!(
            f.command(0, &args("MSET user:1 a user:2 b")),
            Verdict::Apply
        );
        assert_eq!(
            f.command(0, &args("MSET user:1 a order:2 b")),
            Verdict::Mixed
        );
        assert_eq!(
            f.command(0, &args("XGROUP CREATE user:s g $")),
            Verdict::Apply
        );
        assert_eq!(
            f.command(0, &args("XGROUP CREATE order:s g $")),
            Verdict::Skip
        );
        assert_eq!(f.command(0, &args("FLUSHALL")), Verdict::Skip);
        let db0 = Filter {
            dbs: vec![0],
            ..Filter::default()
        };
        assert_eq!(db0.command(4, &args("FLUSHALL")), Verdict::Apply);
        assert_eq!(db0.command(4, &args("FLUSHDB")), Verdict::Skip);
        assert_eq!(f.command(0, &args("FLUSHDB")), Verdict::Apply);
        let only = Filter {
            only: vec!["set".into()],
            ..Filter::default()
        };
        assert_eq!(only.command(3, &args("set a b")), Verdict::Apply);
        assert_eq!(only.command(3, &args("DEL a")), Verdict::Skip);
        assert!(Filter::default().is_empty());
    }
}
