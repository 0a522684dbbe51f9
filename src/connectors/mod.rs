//! Connectors, one module per kind of system; each is a source and a target.

pub mod file;
pub mod http;
mod project;
pub mod sql;
pub mod webhook;

use crate::record::Record;

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
    #[error(transparent)]
    Sql(#[from] sql::error::SqlError),
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

/// Why a write to a keyed target did not go through.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target refused this record (a 4xx, a response without the id): it is quarantined
    /// with this reason and the job goes on.
    #[error("{0}")]
    Rejected(String),
    /// The target cannot take writes now (unreachable, 5xx, rate limited after retries): the
    /// job stops; the record stays pending and the next run resumes from the checkpoint.
    #[error("{0}")]
    Unavailable(String),
    /// A write that changes the target and must not be repeated blindly (a create) got no
    /// clear answer (a 5xx, a timeout, a broken connection): it may have been applied.
    #[error("{0}")]
    MaybeApplied(String),
}

impl WriteError {
    /// For writes that may be repeated (updates, lookups): a doubt is just unavailability.
    pub fn repeatable(self) -> WriteError {
        match self {
            WriteError::MaybeApplied(reason) => WriteError::Unavailable(reason),
            other => other,
        }
    }
}

/// One record's part of a batch request.
pub enum BatchWrite<'a> {
    Create(&'a Record),
    Update(&'a str, &'a Record),
    Delete(&'a str),
}

/// A compiled keyed target: what the runtime needs to know of it before it writes, and the
/// handles that write.
pub trait KeyedTargetPlan: Send + Sync + std::fmt::Debug {
    /// A handle on the target; [`KeyedTarget::fork`] makes more.
    fn open(self: std::sync::Arc<Self>) -> Box<dyn KeyedTarget>;
    /// What a create (`creating`) or an update sends of `record`: it is what the fingerprint
    /// compares.
    fn sent<'r>(&self, record: &'r Record, creating: bool) -> std::borrow::Cow<'r, Record>;
    /// Writes create or update by the record's key: records without a target id are updated.
    fn upserts(&self) -> bool;
}

/// A target that addresses records one by one by their id (APIs, databases). The runtime
/// decides create / update / link from the ID map; the target only speaks the protocol. Its
/// writes are async: the connection's senders are tasks of the job's runtime.
#[async_trait::async_trait]
pub trait KeyedTarget: Send {
    /// Another handle on the same target, for a write sent at the same time.
    fn fork(&self) -> Box<dyn KeyedTarget>;
    /// Creates the record; returns the id the target gave it.
    async fn create(&mut self, record: &Record) -> Result<String, WriteError>;
    async fn update(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError>;
    /// Deletes the record; one the target no longer has counts as deleted.
    async fn delete(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError>;
    /// How long to wait before sending again, after `tries` tries, a write found not to be
    /// applied; `None` once the connection's retry policy has no tries left.
    fn retry_after(&self, tries: u32) -> Option<std::time::Duration>;
    /// How many writes one batch request carries; `None`: one request per record.
    fn batch_size(&self) -> Option<usize>;
    /// Sends several writes in one request. `Err`: the request as a whole failed; otherwise
    /// one result per write, in order: the record's target id, or why that record failed.
    async fn batch(
        &mut self,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError>;
    /// The target's current record `target_id` (for a dry-run's field diff); `None` when the
    /// target cannot be read. Never writes.
    async fn read(
        &mut self,
        target_id: &str,
        record: &Record,
    ) -> Result<Option<Record>, WriteError>;
    /// The ids of the target records that match `value` by the `rule`-th resolve rule.
    async fn find(
        &mut self,
        rule: usize,
        record: &Record,
        value: &str,
    ) -> Result<Vec<String>, WriteError>;
}
