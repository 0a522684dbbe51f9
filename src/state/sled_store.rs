//! The state on disk, in sled: one directory per client repository. Batches are atomic; a
//! flush is a durable point (an fsync), taken before a write is sent and at checkpoints.

use std::path::{Path, PathBuf};

use super::error::StateError;
use super::kv::{Kv, KvStore, Visit};

pub struct SledKv {
    db: sled::Db,
    dir: PathBuf,
}

impl SledKv {
    /// A failure of the store; data it finds corrupted is a damaged state, said so.
    fn error(&self, e: sled::Error) -> StateError {
        match damage(&self.dir, &e) {
            Some(damaged) => damaged,
            None => StateError::Store(e.to_string()),
        }
    }
}

impl Kv for SledKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .db
            .get(key)
            .map_err(|e| self.error(e))?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, prefix: &[u8], from: &[u8], each: &mut Visit) -> Result<(), StateError> {
        for entry in self.db.range(from..) {
            let (key, value) = entry.map_err(|e| self.error(e))?;
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
        self.db.apply_batch(sled_batch).map_err(|e| self.error(e))
    }

    fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map(|_| ()).map_err(|e| self.error(e))
    }

    fn next_id(&self) -> Result<u64, StateError> {
        self.db.generate_id().map_err(|e| self.error(e))
    }
}

pub type SledStore = KvStore<SledKv>;

/// Opens (or creates) the state in `dir`. sled locks the directory: a second process gets a
/// clear error instead of a corrupted state. A state sled cannot read is told apart from one
/// in use, its damaged file named.
pub fn open(dir: &Path) -> Result<SledStore, StateError> {
    let db = sled::Config::new()
        .path(dir)
        // Durability comes from explicit flushes at the points that need it.
        .flush_every_ms(Some(1000))
        .cache_capacity(128 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .open()
        .map_err(|e| opening_error(dir, &e))?;
    Ok(KvStore::new(SledKv {
        db,
        dir: dir.to_path_buf(),
    }))
}

/// Why sled could not open the state in `dir`: corrupted data, or another process's lock
/// (sled's error for it is only an I/O error, as a refused permission is).
fn opening_error(dir: &Path, error: &sled::Error) -> StateError {
    let path = dir.display().to_string();
    let lock = dir.join("db");
    if !matches!(error, sled::Error::Corruption { .. }) && in_use(&lock) {
        return StateError::InUse {
            path,
            lock: lock.display().to_string(),
        };
    }
    damage(dir, error).unwrap_or_else(|| StateError::Open {
        path,
        reason: error.to_string(),
    })
}

/// Whether another process holds the lock sled takes on the file `db`.
fn in_use(db: &Path) -> bool {
    std::fs::File::open(db)
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

/// The damaged file of the state in `dir`, when `error` comes from one: sled checks its
/// settings (`conf`) and snapshots (`snap.*`) against checksums and does not say which failed,
/// so both are checked again here; corrupted data it finds otherwise is in its log (`db`), or
/// in a large value's own file (`blobs/`).
fn damage(dir: &Path, error: &sled::Error) -> Option<StateError> {
    let damaged = |file: PathBuf, reason: String| StateError::Damaged {
        path: dir.display().to_string(),
        file: file.display().to_string(),
        reason,
    };
    let mismatch = || "does not match its checksum".to_string();
    // [settings][crc32 of the settings]; sled takes a file of 8 bytes or fewer as missing.
    let conf = dir.join("conf");
    if let Ok(bytes) = std::fs::read(&conf)
        && bytes.len() > 8
        && !checksum_holds(&bytes, 0)
    {
        return Some(damaged(conf, mismatch()));
    }
    // [snapshot][its length: 8 bytes][crc32 of the snapshot]; sled reads the newest only.
    if let Some(snapshot) = newest_snapshot(dir)
        && let Ok(bytes) = std::fs::read(&snapshot)
        && (bytes.len() <= 12 || !checksum_holds(&bytes, 8))
    {
        return Some(damaged(snapshot, mismatch()));
    }
    let sled::Error::Corruption { at, .. } = error else {
        return None;
    };
    Some(match at {
        Some(sled::DiskPtr::Blob(_, blob)) => damaged(
            dir.join("blobs").join(blob.to_string()),
            "holds corrupted data".to_string(),
        ),
        Some(sled::DiskPtr::Inline(offset)) => damaged(
            dir.join("db"),
            format!("holds corrupted data at byte {offset}"),
        ),
        None => damaged(dir.join("db"), "does not read back whole".to_string()),
    })
}

/// Whether `bytes` end with the CRC-32 (little-endian) of what precedes it and `gap` more
/// bytes.
fn checksum_holds(bytes: &[u8], gap: usize) -> bool {
    bytes.split_last_chunk::<4>().is_some_and(|(rest, stored)| {
        crc32fast::hash(&rest[..rest.len().saturating_sub(gap)]) == u32::from_le_bytes(*stored)
    })
}

/// The snapshot sled reads at start: the last `snap.*` by name, one being written aside.
fn newest_snapshot(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("snap.") && !name.ends_with(".in___motion"))
        })
        .max()
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
    let kv = store.kv();
    kv.db.size_on_disk().map_err(|e| kv.error(e))
}
