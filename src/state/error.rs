//! How reading or writing the state fails.

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state store failed: {0}")]
    Store(String),
    #[error(
        "the state holds a value this version cannot read ({0}); was it written by a newer syncline?"
    )]
    Format(String),
    #[error(
        "the state holds {0} in the layout of an earlier syncline build: finish that run with the earlier build (its outbox empties once its writes are answered)"
    )]
    Older(String),
    #[error(
        "the state directory {path} is in use by another syncline process, which holds the lock on {lock}: wait for that run to end, or stop it"
    )]
    InUse { path: String, lock: String },
    #[error(
        "the state in {path} is damaged: {file} {reason}. Restore the latest backup: move {path} away, then run `syncline state import <pipeline> --from <backup>`, the backup being a file `syncline state export` wrote (with the run's `--state`, if it has one). Without a backup, a run on a new state sends every record again, and creates again what its `resolve` rules do not find"
    )]
    Damaged {
        path: String,
        file: String,
        reason: String,
    },
    #[error("the state directory {path} cannot be opened: {reason}")]
    Open { path: String, reason: String },
}
