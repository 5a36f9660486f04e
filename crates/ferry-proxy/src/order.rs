//! Per-key order across client connections: a write holds its keys'
//! stripes from the moment it is sent to the primary until its mirror
//! entry is in the backlog, so two writes to one key from two connections
//! reach the backlog in the order the primary ran them. A write without
//! keys (FLUSHALL) holds every write back instead (the write side of one
//! lock whose read side every keyed write holds).
//!
//! An open transaction (MULTI to EXEC) holds the read side from MULTI on,
//! so a switch's fence (the write side) waits for it to end instead of
//! cutting it in two; at EXEC it takes only its keys' stripes.
//!
//! No deadlock: a connection that cannot take a stripe at once first
//! drains its own pending replies (releasing what it holds) and only then
//! waits, so nobody waits while holding anything but an open
//! transaction's read side, which blocks only a fence; stripes are taken
//! in one global order.

use bytes::Bytes;
use std::hash::BuildHasher;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

const STRIPES: usize = 4096;

pub struct Order {
    stripes: Vec<Arc<Mutex<()>>>,
    all: Arc<RwLock<()>>,
    hasher: std::collections::hash_map::RandomState,
}

/// What a write holds until its mirror entry is appended.
#[derive(Default)]
pub struct Held {
    stripes: Vec<OwnedMutexGuard<()>>,
    shared: Option<OwnedRwLockReadGuard<()>>,
    exclusive: Option<OwnedRwLockWriteGuard<()>>,
}

impl Held {
    pub fn is_empty(&self) -> bool {
        self.stripes.is_empty() && self.shared.is_none() && self.exclusive.is_none()
    }

    /// Holds what `other` holds too.
    pub fn absorb(&mut self, other: Held) {
        self.stripes.extend(other.stripes);
        self.shared = self.shared.take().or(other.shared);
        self.exclusive = self.exclusive.take().or(other.exclusive);
    }
}

/// What to take: the stripes of these keys, or everything.
pub enum Need {
    Keys(Vec<Bytes>),
    /// The stripes alone (the caller holds the read side: an open
    /// transaction at EXEC).
    Stripes(Vec<Bytes>),
    /// The read side alone (MULTI: holds a fence back until EXEC).
    Shared,
    Everything,
}

impl Default for Order {
    fn default() -> Order {
        Order {
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
            all: Arc::new(RwLock::new(())),
            hasher: Default::default(),
        }
    }
}

impl Order {
    fn indices(&self, keys: &[Bytes]) -> Vec<usize> {
        let mut ix: Vec<usize> = keys
            .iter()
            .map(|k| (self.hasher.hash_one(k) % STRIPES as u64) as usize)
            .collect();
        ix.sort_unstable();
        ix.dedup();
        ix
    }

    /// Takes what `need` asks without waiting, or None.
    pub fn try_take(&self, need: &Need) -> Option<Held> {
        match need {
            Need::Everything => Some(Held {
                exclusive: Some(self.all.clone().try_write_owned().ok()?),
                ..Held::default()
            }),
            Need::Shared => Some(Held {
                shared: Some(self.all.clone().try_read_owned().ok()?),
                ..Held::default()
            }),
            Need::Keys(keys) | Need::Stripes(keys) => {
                let shared = match need {
                    Need::Keys(_) => Some(self.all.clone().try_read_owned().ok()?),
                    _ => None,
                };
                let mut stripes = Vec::new();
                for i in self.indices(keys) {
                    stripes.push(self.stripes[i].clone().try_lock_owned().ok()?);
                }
                Some(Held {
                    stripes,
                    shared,
                    exclusive: None,
                })
            }
        }
    }

    /// Takes what `need` asks, waiting (call it holding nothing).
    pub async fn take(&self, need: &Need) -> Held {
        match need {
            Need::Everything => Held {
                exclusive: Some(self.all.clone().write_owned().await),
                ..Held::default()
            },
            Need::Shared => Held {
                shared: Some(self.all.clone().read_owned().await),
                ..Held::default()
            },
            Need::Keys(keys) | Need::Stripes(keys) => {
                let shared = match need {
                    Need::Keys(_) => Some(self.all.clone().read_owned().await),
                    _ => None,
                };
                let mut stripes = Vec::new();
                for i in self.indices(keys) {
                    stripes.push(self.stripes[i].clone().lock_owned().await);
                }
                Held {
                    stripes,
                    shared,
                    exclusive: None,
                }
            }
        }
    }
}
