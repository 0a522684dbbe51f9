//! The state on disk, in sled: one directory per client repository. Batches are atomic; a
//! flush is a durable point (an fsync), taken before a write is sent and at checkpoints.

use std::path::Path;

use super::StateError;
use super::kv::{Kv, KvStore, Visit};

pub struct SledKv {
    db: sled::Db,
}

fn store_error(e: sled::Error) -> StateError {
    StateError::Store(e.to_string())
}

impl Kv for SledKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.db.get(key).map_err(store_error)?.map(|v| v.to_vec()))
    }

    fn scan(&self, prefix: &[u8], from: &[u8], each: &mut Visit) -> Result<(), StateError> {
        for entry in self.db.range(from..) {
            let (key, value) = entry.map_err(store_error)?;
            if !key.starts_with(prefix) || !each(&key, &value)? {
                break;
            }
        }
        Ok(())
    }

    fn apply(&self, batch: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StateError> {
        let mut sled_batch = sled::Batch::default();
        for (key, value) in batch {
            match value {
                Some(value) => sled_batch.insert(key, value),
                None => sled_batch.remove(key),
            }
        }
        self.db.apply_batch(sled_batch).map_err(store_error)
    }

    fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map(|_| ()).map_err(store_error)
    }

    fn next_id(&self) -> Result<u64, StateError> {
        self.db.generate_id().map_err(store_error)
    }
}

pub type SledStore = KvStore<SledKv>;

/// Opens (or creates) the state in `dir`. sled locks the directory: a second process gets a
/// clear error instead of a corrupted state.
pub fn open(dir: &Path) -> Result<SledStore, StateError> {
    let db = sled::Config::new()
        .path(dir)
        // Durability comes from explicit flushes at the points that need it.
        .flush_every_ms(Some(1000))
        .cache_capacity(128 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .open()
        .map_err(|e| StateError::Open {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(KvStore::new(SledKv { db }))
}

/// Opens the state when its directory exists; `None` otherwise (nothing was ever run).
pub fn open_existing(dir: &Path) -> Result<Option<SledStore>, StateError> {
    if dir.join("db").exists() || dir.join("conf").exists() {
        open(dir).map(Some)
    } else {
        Ok(None)
    }
}

/// The size of the state on disk, in bytes.
pub fn disk_size(store: &SledStore) -> Result<u64, StateError> {
    store.kv().db.size_on_disk().map_err(store_error)
}
