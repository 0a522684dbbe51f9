//! The state in memory: for tests, and for a `dry-run` of a pipeline that never ran (with a
//! state on disk, `dry-run` reads it through `ReadOnly`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::StateError;
use super::kv::{Kv, KvStore, Visit};

#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    ids: AtomicU64,
}

fn poisoned() -> StateError {
    StateError::Store("the in-memory state was poisoned by a panic".into())
}

impl Kv for MemoryKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.map.lock().map_err(|_| poisoned())?.get(key).cloned())
    }

    fn scan(&self, prefix: &[u8], from: &[u8], each: &mut Visit) -> Result<(), StateError> {
        let map = self.map.lock().map_err(|_| poisoned())?;
        for (key, value) in map.range(from.to_vec()..) {
            if !key.starts_with(prefix) || !each(key, value)? {
                break;
            }
        }
        Ok(())
    }

    fn apply(&self, batch: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StateError> {
        let mut map = self.map.lock().map_err(|_| poisoned())?;
        for (key, value) in batch {
            match value {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StateError> {
        Ok(self.ids.fetch_add(1, Ordering::Relaxed))
    }
}

pub type MemoryStore = KvStore<MemoryKv>;

impl MemoryStore {
    pub fn empty() -> Self {
        KvStore::new(MemoryKv::default())
    }
}
