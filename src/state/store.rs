//! The seam the runtime speaks to: [`StateStore`], and [`ReadOnly`] for dry-runs.

use super::entry::{
    Alerted, Change, Checkpoint, Entry, FieldHashes, JobId, JobRun, Link, Namespace, Notification,
    OutboxWindow, Quarantined,
};
use super::error::StateError;

/// The state behind a run. Reads are cheap and frequent (one per record); `apply` is atomic and
/// `flush` makes everything applied before it durable.
pub trait StateStore: Send + Sync {
    fn link(&self, ns: &Namespace, key: &str) -> Result<Option<Link>, StateError>;
    /// Up to `limit` ID-map entries from `from` on, in key order: one range read serves the
    /// lookups of a source sorted by key.
    fn links_from(
        &self,
        ns: &Namespace,
        from: &str,
        limit: usize,
    ) -> Result<Vec<(String, Link)>, StateError>;
    /// What was last sent for `key`, field by field; empty when not known.
    fn field_hashes(&self, ns: &Namespace, key: &str) -> Result<FieldHashes, StateError>;
    /// The reverse direction: which source key a target id belongs to.
    fn key_for_id(&self, ns: &Namespace, target_id: &str) -> Result<Option<String>, StateError>;
    fn checkpoint(&self, job: &JobId) -> Result<Option<Checkpoint>, StateError>;
    /// Every outbox window of a namespace left by an earlier run.
    fn pending(&self, ns: &Namespace) -> Result<Vec<OutboxWindow>, StateError>;
    /// A number never handed out before by this state.
    fn next_id(&self) -> Result<u64, StateError>;
    /// The quarantine of a pipeline (of one job when given), oldest first, with entry ids.
    fn quarantined(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError>;
    /// The entries settled since: records that went through on a later run, oldest first.
    fn quarantine_history(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError>;
    fn apply(&self, changes: Vec<Change>) -> Result<(), StateError>;
    fn flush(&self) -> Result<(), StateError>;
    /// Every entry in key order, handed one by one to `each` (a state of millions of entries is
    /// never held in memory).
    fn export(
        &self,
        each: &mut dyn FnMut(Entry) -> Result<(), StateError>,
    ) -> Result<(), StateError>;
    /// Every checkpoint of a pipeline.
    fn checkpoints(&self, pipeline: &str) -> Result<Vec<(String, Checkpoint)>, StateError>;
    /// How the job's last run under `serve` went.
    fn job_run(&self, job: &JobId) -> Result<Option<JobRun>, StateError>;
    /// A `review` job's pending plan.
    fn review(&self, job: &JobId) -> Result<Option<serde_json::Value>, StateError>;
    /// The last alert about `job` sent through `channel`.
    fn alerted(&self, job: &JobId, channel: &str) -> Result<Option<Alerted>, StateError>;
    /// Up to `limit` of a webhook job's notifications not processed yet, from id `from` on, in
    /// arrival order.
    fn inbox(
        &self,
        job: &JobId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>, StateError>;
    /// When a webhook job saw the delivery `digest` (its id, or its signature), if it did.
    fn seen(&self, job: &JobId, digest: &[u8]) -> Result<Option<i64>, StateError>;
    /// Up to `limit` deliveries a webhook job saw before `before`, oldest first.
    fn seen_before(
        &self,
        job: &JobId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError>;
}

/// A store that reads another and keeps nothing: `dry-run` sees the real ID maps and
/// checkpoints and changes none of them.
pub struct ReadOnly<S>(pub S);

impl<S> StateStore for ReadOnly<S>
where
    S: std::ops::Deref + Send + Sync,
    S::Target: StateStore,
{
    fn link(&self, ns: &Namespace, key: &str) -> Result<Option<Link>, StateError> {
        self.0.link(ns, key)
    }
    fn field_hashes(&self, ns: &Namespace, key: &str) -> Result<FieldHashes, StateError> {
        self.0.field_hashes(ns, key)
    }
    fn key_for_id(&self, ns: &Namespace, target_id: &str) -> Result<Option<String>, StateError> {
        self.0.key_for_id(ns, target_id)
    }
    fn links_from(
        &self,
        ns: &Namespace,
        from: &str,
        limit: usize,
    ) -> Result<Vec<(String, Link)>, StateError> {
        self.0.links_from(ns, from, limit)
    }
    fn checkpoint(&self, job: &JobId) -> Result<Option<Checkpoint>, StateError> {
        self.0.checkpoint(job)
    }
    fn pending(&self, ns: &Namespace) -> Result<Vec<OutboxWindow>, StateError> {
        self.0.pending(ns)
    }
    fn next_id(&self) -> Result<u64, StateError> {
        self.0.next_id()
    }
    fn quarantine_history(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError> {
        self.0.quarantine_history(pipeline, job)
    }
    fn quarantined(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError> {
        self.0.quarantined(pipeline, job)
    }
    fn apply(&self, _changes: Vec<Change>) -> Result<(), StateError> {
        Ok(())
    }
    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
    fn export(
        &self,
        each: &mut dyn FnMut(Entry) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        self.0.export(each)
    }
    fn checkpoints(&self, pipeline: &str) -> Result<Vec<(String, Checkpoint)>, StateError> {
        self.0.checkpoints(pipeline)
    }
    fn job_run(&self, job: &JobId) -> Result<Option<JobRun>, StateError> {
        self.0.job_run(job)
    }
    fn review(&self, job: &JobId) -> Result<Option<serde_json::Value>, StateError> {
        self.0.review(job)
    }
    fn alerted(&self, job: &JobId, channel: &str) -> Result<Option<Alerted>, StateError> {
        self.0.alerted(job, channel)
    }
    fn inbox(
        &self,
        job: &JobId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>, StateError> {
        self.0.inbox(job, from, limit)
    }
    fn seen(&self, job: &JobId, digest: &[u8]) -> Result<Option<i64>, StateError> {
        self.0.seen(job, digest)
    }
    fn seen_before(
        &self,
        job: &JobId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        self.0.seen_before(job, before, limit)
    }
}
