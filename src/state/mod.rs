//! What syncline remembers between runs: per job a checkpoint; per (pipeline, connection,
//! entity) the ID map (source key <-> target id) with the fingerprint of what was last sent;
//! an outbox of writes sent but not yet acknowledged, a window of writes an entry; the
//! quarantine of rejected records.
//!
//! [`StateStore`] is the seam: the runtime speaks only to it. [`KvStore`] implements it once over
//! any ordered key-value map ([`sled`](sled_store) on disk, [`memory`] for dry-runs and tests); a
//! shared backend (PostgreSQL for several workers) would implement the trait directly.
//! Every value starts with its format version ([`codec`]).

pub mod codec;
pub mod entry;
pub mod error;
pub mod export;
pub mod inbox;
pub mod kv;
pub mod memory;
pub mod sled_store;
pub mod store;

pub use entry::{
    Alerted, Change, Checkpoint, Entry, FieldHashes, Fingerprint, InboxChange, JobId, JobRun, Link,
    Namespace, Notification, Operation, OutboxWindow, Pending, Quarantined, fingerprint, now,
};
pub use error::StateError;
pub use kv::KvStore;
pub use store::{ReadOnly, StateStore};

/// The outbox's writes of a namespace, by source key.
pub fn pending_writes(windows: Vec<OutboxWindow>) -> std::collections::HashMap<String, Pending> {
    windows.into_iter().flat_map(|w| w.writes).collect()
}

/// Where a pipeline's state lives: `chosen` (`--state`), else `.syncline/state` at the root of
/// the git repository holding the pipeline (one state per client repository), or next to the
/// pipeline outside a repository.
pub fn dir_for(pipeline: &std::path::Path, chosen: Option<&std::path::Path>) -> std::path::PathBuf {
    if let Some(dir) = chosen {
        return dir.to_path_buf();
    }
    let file = std::path::absolute(pipeline).unwrap_or_else(|_| pipeline.to_path_buf());
    let dir = file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let root = dir
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(std::path::Path::to_path_buf)
        .unwrap_or(dir);
    root.join(".syncline").join("state")
}
