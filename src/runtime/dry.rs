//! A dry run goes through the same runtime as a run: the same reads, steps, decisions and
//! `resolve` lookups, with the writes recorded instead of made. A [`Recorder`] receives what
//! each job would do; a keyed target is wrapped in a [`DryTarget`], which reads the real
//! target and answers every write as done without sending it.

use crate::connectors::{BatchWrite, KeyedTarget, WriteError};
use crate::record::Record;

/// What a keyed target would do with one record.
pub enum KeyedChange<'r> {
    Create {
        key: &'r str,
        record: &'r Record,
    },
    Update {
        key: &'r str,
        target_id: &'r str,
        record: &'r Record,
    },
    /// Found on the target by a `resolve` rule.
    Link {
        key: &'r str,
        target_id: &'r str,
        record: &'r Record,
    },
    /// `record` carries the flag that asked for the deletion (`delete_when`).
    Delete {
        key: &'r str,
        target_id: &'r str,
        record: &'r Record,
    },
    Unchanged,
    /// Opted out by the target's `skip`.
    Skip,
}

/// Where a dry run's would-be writes go, job by job (`job` is the job's name).
pub trait Recorder: Send + Sync {
    /// A record a file target would receive, in order.
    fn write(&self, job: &str, record: Record);
    /// What a keyed target would do with a record.
    fn keyed(&self, job: &str, change: KeyedChange);
    /// A record rejected, by its key: the step that rejected it, and why.
    fn reject(&self, job: &str, key: &str, step: &str, reason: &str);
}

/// The id a record created by a dry run is given.
pub const NOT_CREATED: &str = "(not created: dry-run)";

/// A keyed target that reads (`read`, `find`) and never writes.
pub struct DryTarget(pub Box<dyn KeyedTarget>);

#[async_trait::async_trait]
impl KeyedTarget for DryTarget {
    fn fork(&self) -> Box<dyn KeyedTarget> {
        Box::new(DryTarget(self.0.fork()))
    }

    async fn create(&mut self, _: &Record) -> Result<String, WriteError> {
        Ok(NOT_CREATED.to_string())
    }

    async fn update(&mut self, _: &str, _: &Record) -> Result<(), WriteError> {
        Ok(())
    }

    async fn delete(&mut self, _: &str, _: &Record) -> Result<(), WriteError> {
        Ok(())
    }

    fn retry_after(&self, tries: u32) -> Option<std::time::Duration> {
        self.0.retry_after(tries)
    }

    fn batch_size(&self) -> Option<usize> {
        self.0.batch_size()
    }

    async fn batch(
        &mut self,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError> {
        Ok(writes
            .iter()
            .map(|write| {
                Ok(match write {
                    BatchWrite::Create(_) => NOT_CREATED.to_string(),
                    BatchWrite::Update(id, _) | BatchWrite::Delete(id) => id.to_string(),
                })
            })
            .collect())
    }

    async fn read(
        &mut self,
        target_id: &str,
        record: &Record,
    ) -> Result<Option<Record>, WriteError> {
        self.0.read(target_id, record).await
    }

    async fn find(
        &mut self,
        rule: usize,
        record: &Record,
        value: &str,
    ) -> Result<Vec<String>, WriteError> {
        self.0.find(rule, record, value).await
    }
}
