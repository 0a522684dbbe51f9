//! Connectors, one module per kind of system; each is a source and a target.

pub mod file;

use crate::steps::Record;

/// A fatal problem with a source or target: the job stops.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Format(String),
}

/// One item read from a source: a record, or a record that could not be read (quarantined with
/// where it was and why, while the rest goes on).
#[derive(Debug)]
pub enum Item {
    Record(Record),
    Bad { at: String, reason: String },
}

/// Reads records, pushing each into `emit`; stops early when `emit` returns false.
pub trait Source: Send {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError>;
}

/// Writes records; nothing is visible on the target until `commit`.
pub trait Sink: Send {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError>;
    fn commit(self: Box<Self>) -> Result<(), ConnectorError>;
}
