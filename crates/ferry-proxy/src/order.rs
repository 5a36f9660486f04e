//! Per-key order across client connections: a write holds its keys'
//! stripes from the moment it is sent to the primary until its mirror
//! entry is in the backlog, so two writes to one key from two connections
//! reach the backlog in the order the primary ran them. A write without
//! keys (FLUSHALL) holds every write back instead (the write side of one
//! lock whose read side every keyed write holds).
//!
//! No deadlock: a connection that cannot take a stripe at once first
//! drains its own pending replies (releasing what it holds) and only then
//! waits, so nobody waits while holding anything.

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
}

/// What to take: the stripes of these keys, or everything.
pub enum Need {
    Keys(Vec<Bytes>),
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
            Need::Keys(keys) => {
                let shared = self.all.clone().try_read_owned().ok()?;
                let mut stripes = Vec::new();
                for i in self.indices(keys) {
                    stripes.push(self.stripes[i].clone().try_lock_owned().ok()?);
                }
                Some(Held {
                    stripes,
                    shared: Some(shared),
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
            Need::Keys(keys) => {
                let shared = self.all.clone().read_owned().await;
                let mut stripes = Vec::new();
                for i in self.indices(keys) {
                    stripes.push(self.stripes[i].clone().lock_owned().await);
                }
                Held {
                    stripes,
                    shared: Some(shared),
                    exclusive: None,
                }
            }
        }
    }
}
