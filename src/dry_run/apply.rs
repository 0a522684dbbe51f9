//! Applying a saved plan (`syncline apply`, and `serve` for jobs held for review): exactly the
//! changes a person reviewed are written, not whatever the sources hold by then; the sources are
//! not read at all.
//!
//! Each change is first checked against what it was decided on. A change whose base moved
//! since is refused for that record and nothing of it is written:
//! - an update, or a link that updates: the target's record is read again and every field the
//!   update sends must still hold what it held then (its `from`, or the value sent when it did
//!   not differ); for a target that cannot be read, the ID map's fingerprint of what was last
//!   sent must not have moved (a run wrote it since). The ID map must still name the same id.
//! - a create, or a link: the ID map must not have gained the key, and the `resolve` rules must
//!   still find what they found then (nothing for a create, the same record for a link).
//! - a removal: the ID map must still name the same id.
//!
//! A change already applied (the ID map holds what it sends; for a file, the file holds it) is
//! reported as such and not sent again. The others are written through the job's delivery,
//! as a run writes: the outbox before each write, then the ID map and fingerprints, so that the
//! next run finds these records unchanged. The checkpoint does not move: the next run reads
//! the same records and finds them written.
//!
//! A file target with a `key` is rewritten with the changes laid over what it holds (renamed
//! into place, as a run writes it), each change checked against the file's current record.
//! File targets without a key, and `only_changed` ones, are refused by name: their plan is
//! the whole file, not records one by one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::runtime::Handle;

use super::{Base, Change, DryRunPlan, diff, same, target_of};
use crate::connectors::file::{FileSpec, Publish};
use crate::connectors::{Item, KeyedTarget, WriteError};
use crate::diagnostics::source::SourceMap;
use crate::plan::{JobPlan, KeyedPlan, Plan, TargetPlan};
use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};
use crate::runtime::deliver::sender::{Resolved, resolve};
use crate::runtime::deliver::{Delivery, Shared};
use crate::runtime::dry::{KeyedChange, Recorder};
use crate::runtime::quarantine::OpenQuarantine;
use crate::runtime::report::JobStatus;
use crate::state::{Fingerprint, StateStore, fingerprint};

/// The hash of a pipeline's files (the file and the templates it extends, in the order they
/// were read) that a plan keeps in `pipeline_hash`.
pub fn pipeline_hash(sources: &SourceMap) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for file in sources.files() {
        // Lengths first: two files cut at another place are another pipeline.
        hasher.update(&(file.text.len() as u64).to_le_bytes());
        hasher.update(file.text.as_bytes());
    }
    format!("{:032x}", hasher.digest128())
}

/// Which changes to apply.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these jobs' changes; empty: every job's.
    pub jobs: Vec<String>,
    /// Only the changes of the records with these keys; empty: every change.
    pub keys: Vec<String>,
}

impl Selection {
    fn job(&self, job: &str) -> bool {
        self.jobs.is_empty() || self.jobs.iter().any(|j| j == job)
    }

    fn change(&self, change: &Change) -> bool {
        self.keys.is_empty()
            || change
                .key()
                .is_some_and(|k| self.keys.iter().any(|s| s == k))
    }
}

/// Why a plan is not applied at all (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the plan does not say which pipeline it was made from (an older syncline saved it): make it again with `syncline dry-run PIPELINE --out PLAN`"
    )]
    NotForApply,
    #[error("the plan was made for the pipeline `{planned}`, this one is `{loaded}`")]
    OtherPipeline { planned: String, loaded: String },
    #[error(
        "the pipeline changed since the plan was made: make the plan again (`syncline dry-run --out`) and review it"
    )]
    PipelineChanged,
    #[error("the plan has no job `{0}`")]
    NoJob(String),
    #[error("the plan has no change to apply for {}", .0.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))]
    NoChange(Vec<String>),
}

/// What was done with each selected change, job by job.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub pipeline: String,
    pub jobs: Vec<JobApplied>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobApplied {
    pub job: String,
    pub target: String,
    /// Failed: the target stopped answering, or the job's plan cannot be applied; the changes
    /// not applied say so.
    #[serde(flatten)]
    pub status: JobStatus,
    pub applied: u64,
    pub already_applied: u64,
    pub refused: u64,
    pub not_applied: u64,
    pub changes: Vec<ChangeApplied>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeApplied {
    pub key: String,
    /// As planned.
    pub action: Action,
    pub outcome: Outcome,
    /// The record's id on the target, once applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Why it was refused or not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Link,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// The target (or the ID map) already holds it: nothing was sent.
    AlreadyApplied,
    /// Its target moved since the plan was made, or the target refused the write: nothing of
    /// it was written.
    Refused,
    /// The job stopped before it was sent (the target stopped answering).
    NotApplied,
}

impl ApplyReport {
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.jobs
            .iter()
            .flat_map(|j| &j.changes)
            .filter(|c| c.outcome == outcome)
            .count() as u64
    }

    /// Whether a job failed (a change could not be sent, or a job's plan cannot be applied).
    pub fn failed(&self) -> bool {
        self.jobs
            .iter()
            .any(|j| !matches!(j.status, JobStatus::Succeeded))
    }

    /// For people: each job's counts, then each change that was refused or not applied, with
    /// its reason, and each applied one.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for job in &self.jobs {
            let _ = writeln!(
                out,
                "{} -> {}: {} applied, {} already applied, {} refused{}",
                job.job,
                job.target,
                job.applied,
                job.already_applied,
                job.refused,
                match &job.status {
                    JobStatus::Failed(reason) => format!(", failed: {reason}"),
                    _ => String::new(),
                }
            );
            for change in &job.changes {
                let action = match change.action {
                    Action::Create => "create",
                    Action::Update => "update",
                    Action::Link => "link",
                    Action::Remove => "remove",
                };
                let reason = change.reason.as_deref().unwrap_or_default();
                let _ = match change.outcome {
                    Outcome::Applied => match &change.target_id {
                        Some(id) => {
                            writeln!(out, "  + {} ({action}): applied, id {id}", change.key)
                        }
                        None => writeln!(out, "  + {} ({action}): applied", change.key),
                    },
                    Outcome::AlreadyApplied => {
                        writeln!(out, "  = {} ({action}): already applied", change.key)
                    }
                    Outcome::Refused => {
                        writeln!(out, "  ! {} ({action}): refused: {reason}", change.key)
                    }
                    Outcome::NotApplied => {
                        writeln!(out, "  ? {} ({action}): not applied: {reason}", change.key)
                    }
                };
            }
        }
        let not_applied = self.count(Outcome::NotApplied);
        let _ = writeln!(
            out,
            "{} changes applied, {} already applied, {} refused{}",
            self.count(Outcome::Applied),
            self.count(Outcome::AlreadyApplied),
            self.count(Outcome::Refused),
            if not_applied > 0 {
                format!(", {not_applied} not applied")
            } else {
                String::new()
            }
        );
        out
    }
}

/// Applies the changes of `saved` that `only` selects, job after job in the plan's order.
/// `plan` is the pipeline compiled now, `pipeline_hash` the [`pipeline_hash`] of its files:
/// a plan made from other files is refused whole. Per change, what became of it is in the
/// report; `Err` only when nothing was applied.
///
/// Each job's writes run on a blocking thread of the current tokio runtime (as a run's do), so
/// the future is `Send` and may be awaited in a request handler.
pub async fn apply(
    plan: Arc<Plan>,
    pipeline_hash: &str,
    saved: &DryRunPlan,
    only: &Selection,
    state: Arc<dyn StateStore>,
) -> Result<ApplyReport, ApplyError> {
    let selected = select(&plan, pipeline_hash, saved, only)?;
    let mut jobs = Vec::with_capacity(selected.len());
    for (target, name, changes) in selected {
        let (plan, state) = (plan.clone(), state.clone());
        let failed_name = name.clone();
        let failed_target = target.clone();
        let job = tokio::task::spawn_blocking(move || {
            let runtime = Handle::current();
            apply_job(&plan, &name, &target, changes, state.as_ref(), &runtime)
        })
        .await
        .unwrap_or_else(|e| {
            JobApplied::failed(
                &failed_name,
                &failed_target,
                &[],
                format!("the job stopped unexpectedly: {e}"),
            )
        });
        jobs.push(job);
    }
    Ok(ApplyReport {
        pipeline: saved.pipeline.clone(),
        jobs,
    })
}

/// Each selected job's target and name, with its selected changes; refuses a plan that is
/// not this pipeline's, or a selection that names what the plan does not have.
fn select(
    plan: &Plan,
    pipeline_hash: &str,
    saved: &DryRunPlan,
    only: &Selection,
) -> Result<Vec<(String, String, Vec<Change>)>, ApplyError> {
    let Some(hash) = &saved.pipeline_hash else {
        return Err(ApplyError::NotForApply);
    };
    if saved.pipeline != plan.name {
        return Err(ApplyError::OtherPipeline {
            planned: saved.pipeline.clone(),
            loaded: plan.name.clone(),
        });
    }
    if hash != pipeline_hash {
        return Err(ApplyError::PipelineChanged);
    }
    if let Some(job) = only
        .jobs
        .iter()
        .find(|j| !saved.jobs.iter().any(|s| &s.job == *j))
    {
        return Err(ApplyError::NoJob(job.clone()));
    }
    let mut found: HashSet<String> = HashSet::new();
    let mut selected = Vec::new();
    for job in saved.jobs.iter().filter(|j| only.job(&j.job)) {
        let changes: Vec<Change> = job
            .changes
            .iter()
            .filter(|c| !matches!(c, Change::Reject { .. }) && only.change(c))
            .cloned()
            .collect();
        found.extend(changes.iter().filter_map(Change::key).map(str::to_string));
        if !changes.is_empty() {
            selected.push((job.target.clone(), job.job.clone(), changes));
        }
    }
    let missing: Vec<String> = only
        .keys
        .iter()
        .filter(|k| !found.contains(*k))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ApplyError::NoChange(missing));
    }
    Ok(selected)
}

impl JobApplied {
    fn new(job: &str, target: &str) -> JobApplied {
        JobApplied {
            job: job.to_string(),
            target: target.to_string(),
            status: JobStatus::Succeeded,
            applied: 0,
            already_applied: 0,
            refused: 0,
            not_applied: 0,
            changes: Vec::new(),
        }
    }

    /// Nothing of the job was applied, for `reason`.
    fn failed(job: &str, target: &str, changes: &[Change], reason: String) -> JobApplied {
        let mut applied = JobApplied::new(job, target);
        for change in changes {
            applied.add(change, Outcome::NotApplied, None, Some(reason.clone()));
        }
        applied.status = JobStatus::Failed(reason);
        applied
    }

    fn add(
        &mut self,
        change: &Change,
        outcome: Outcome,
        target_id: Option<String>,
        reason: Option<String>,
    ) {
        let action = match change {
            Change::Create { .. } => Action::Create,
            Change::Update { .. } => Action::Update,
            Change::Link { .. } => Action::Link,
            Change::Remove { .. } | Change::Reject { .. } => Action::Remove,
        };
        *match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::AlreadyApplied => &mut self.already_applied,
            Outcome::Refused => &mut self.refused,
            Outcome::NotApplied => &mut self.not_applied,
        } += 1;
        self.changes.push(ChangeApplied {
            key: change.key().unwrap_or_default().to_string(),
            action,
            outcome,
            target_id,
            reason,
        });
    }
}

/// One job's changes, on a blocking thread (the delivery waits for its senders there).
fn apply_job(
    plan: &Plan,
    name: &str,
    planned_target: &str,
    changes: Vec<Change>,
    state: &dyn StateStore,
    runtime: &Handle,
) -> JobApplied {
    let Some(job) = plan.jobs.iter().find(|j| j.name == name) else {
        let reason = "the pipeline has no such job any more".to_string();
        return JobApplied::failed(name, planned_target, &changes, reason);
    };
    // Appending the planned records, or writing them to a new file, would be a run of them
    // alone: records by key cannot be found again in such a file, nor told applied already.
    if let TargetPlan::File(spec, _) = &job.target
        && spec.publish() != Publish::Replace
    {
        let reason = "a file appended to, or named by the run's time, takes each run's new records, not records by key: its plan cannot be applied record by record; run the job".to_string();
        return JobApplied::failed(name, planned_target, &changes, reason);
    }
    let target = target_of(job);
    if target != planned_target {
        let reason =
            format!("the job writes to {target} now, the plan was made for {planned_target}");
        return JobApplied::failed(name, planned_target, &changes, reason);
    }
    let refuse = |reason: &str| JobApplied::failed(name, &target, &changes, reason.to_string());
    // Reported in the plan's order, whatever order the checks and writes settled them in.
    let order: HashMap<String, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key().unwrap_or_default().to_string(), i))
        .collect();
    let mut applied = match (&job.target, &job.key) {
        (TargetPlan::Keyed(keyed), Some(key)) => {
            let context = Context {
                job,
                keyed,
                key,
                state,
                runtime,
                pipeline: &plan.name,
            };
            apply_keyed(&context, &target, changes)
        }
        (TargetPlan::File(spec, None), Some(key)) => apply_file(job, spec, key, &target, changes),
        (TargetPlan::File(_, Some(_)), _) => refuse(
            "an `only_changed` file target holds what each run changed, not records by key: its plan cannot be applied record by record; run the job",
        ),
        (TargetPlan::File(..), None) => refuse(
            "a file target without `key`: its plan is the whole file, not records by key, and cannot be applied record by record; run the job",
        ),
        (TargetPlan::Keyed(_), None) => refuse("the target has no key"),
        (TargetPlan::Unsupported(reason), _) => refuse(reason),
        (TargetPlan::Trigger(trigger), _) => refuse(&format!(
            "a `then:` job writes nothing: `{}` pulls the records its notifications name",
            trigger.job_name
        )),
    };
    applied
        .changes
        .sort_by_key(|c| order.get(&c.key).copied().unwrap_or(usize::MAX));
    applied
}

/// What checking a change found.
enum Verdict {
    /// Write this record.
    Go(Record),
    AlreadyApplied,
    Refused(String),
}

/// The job stops: the state or the target cannot be used now.
struct Stop(String);

struct Context<'a> {
    job: &'a JobPlan,
    keyed: &'a Arc<KeyedPlan>,
    key: &'a CompiledPath,
    state: &'a dyn StateStore,
    runtime: &'a Handle,
    pipeline: &'a str,
}

fn apply_keyed(cx: &Context, target: &str, changes: Vec<Change>) -> JobApplied {
    let mut applied = JobApplied::new(&cx.job.name, target);
    let mut reader = cx.keyed.target.clone().open();
    let mut going: Vec<(Change, Record)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        match cx
            .runtime
            .block_on(check_keyed(cx, reader.as_mut(), change))
        {
            Ok(Verdict::Go(record)) => going.push((change.clone(), record)),
            Ok(Verdict::AlreadyApplied) => {
                let target_id = current_id(cx, change);
                applied.add(change, Outcome::AlreadyApplied, target_id, None)
            }
            Ok(Verdict::Refused(reason)) => {
                applied.add(change, Outcome::Refused, None, Some(reason))
            }
            Err(Stop(reason)) => {
                // Nothing is sent once the target or the state cannot be asked.
                let rest = going.iter().map(|(c, _)| c).chain(&changes[i..]);
                for change in rest {
                    applied.add(change, Outcome::NotApplied, None, Some(reason.clone()));
                }
                applied.status = JobStatus::Failed(reason);
                return applied;
            }
        }
    }
    if going.is_empty() {
        return applied;
    }
    let (done, rejected, failure) = deliver(cx, going.iter().map(|(_, r)| r.clone()).collect());
    for (change, _) in &going {
        let key = change.key().unwrap_or_default();
        if done.contains(key) {
            applied.add(change, Outcome::Applied, current_id(cx, change), None);
        } else if let Some(reason) = rejected.get(key) {
            let reason = format!("the target refused it: {reason}");
            applied.add(change, Outcome::Refused, None, Some(reason));
        } else {
            let reason = failure
                .clone()
                .unwrap_or_else(|| "it was not sent: syncline found nothing to change".into());
            applied.add(change, Outcome::NotApplied, None, Some(reason));
        }
    }
    if let Some(failure) = failure {
        applied.status = JobStatus::Failed(failure);
    }
    applied
}

/// The record's id in the ID map now.
fn current_id(cx: &Context, change: &Change) -> Option<String> {
    let key = change.key()?;
    cx.state.link(&cx.keyed.ns, key).ok()??.target_id
}

/// Sends the records through the job's delivery, as a run does (outbox, ID map, fingerprints,
/// settled quarantine entries). Returns the keys written, the keys the target refused with
/// why, and what stopped the job.
fn deliver(
    cx: &Context,
    records: Vec<Record>,
) -> (HashSet<String>, HashMap<String, String>, Option<String>) {
    let written = Written::default();
    let mut refused = HashMap::new();
    let cancel = Arc::new(AtomicBool::new(false));
    let opened = OpenQuarantine::load(cx.state, cx.pipeline, &cx.job.name).and_then(|open| {
        let shared = Shared {
            state: cx.state,
            cancel: &cancel,
            // The recorder's hook tells which keys were written; it also keeps one sender,
            // so the changes go in the plan's order.
            recorder: Some((&written, &cx.job.name)),
            runtime: cx.runtime,
        };
        Delivery::new(
            cx.keyed,
            cx.key,
            cx.keyed.target.clone().open(),
            open,
            shared,
        )
    });
    let mut delivery = match opened {
        Ok(delivery) => delivery,
        Err(e) => return (HashSet::new(), refused, Some(e.to_string())),
    };
    let sent = delivery.deliver(records);
    // What the target acknowledged is stored even when the job stops.
    let stored = delivery.commit(None);
    let mut failure = None;
    for result in [sent, stored] {
        match result {
            Ok(rejected) => {
                for (record, rejection) in rejected {
                    if let Some(key) = cx.key.get(&record).and_then(text_of) {
                        refused.insert(key, rejection.reason);
                    }
                }
            }
            Err(e) => {
                failure.get_or_insert(e.to_string());
            }
        }
    }
    drop(delivery);
    let done = written.0.lock().map(|w| w.clone()).unwrap_or_default();
    (done, refused, failure)
}

/// The keys a delivery wrote (created, updated, linked, deleted).
#[derive(Default)]
struct Written(Mutex<HashSet<String>>);

impl Recorder for Written {
    fn write(&self, _: &str, _: Record) {}

    fn keyed(&self, _: &str, change: KeyedChange) {
        let key = match change {
            KeyedChange::Create { key, .. }
            | KeyedChange::Update { key, .. }
            | KeyedChange::Link { key, .. }
            | KeyedChange::Delete { key, .. } => key,
            KeyedChange::Unchanged | KeyedChange::Skip => return,
        };
        if let Ok(mut written) = self.0.lock() {
            written.insert(key.to_string());
        }
    }

    fn reject(&self, _: &str, _: &str, _: &str, _: &str) {}
}

/// Whether `change` may be written as planned; see the module's documentation.
async fn check_keyed(
    cx: &Context<'_>,
    reader: &mut dyn KeyedTarget,
    change: &Change,
) -> Result<Verdict, Stop> {
    let no_record = || {
        Verdict::Refused(
            "the plan does not hold the record to send (an older syncline saved it): make it again"
                .into(),
        )
    };
    let (key, record) = match change {
        Change::Create {
            key: Some(key),
            record,
            payload,
        } => (key, payload.as_ref().unwrap_or(record)),
        Change::Update {
            key,
            record: Some(record),
            ..
        }
        | Change::Link {
            key,
            record: Some(record),
            ..
        }
        | Change::Remove {
            key,
            record: Some(record),
            ..
        } => (key, record),
        _ => return Ok(no_record()),
    };
    // The record is what the delivery decides on: it must be the one the change names.
    if cx.key.get(record).and_then(text_of).as_deref() != Some(key.as_str()) {
        return Ok(Verdict::Refused(format!(
            "the record in the plan does not have the key `{key}`"
        )));
    }
    let keyed = cx.keyed;
    let (sending, _) = fingerprint(&keyed.target.sent(record, false), &mut Vec::new());
    let link = cx
        .state
        .link(&keyed.ns, key)
        .map_err(|e| Stop(e.to_string()))?;
    let linked_to = link.as_ref().and_then(|l| l.target_id.clone());
    let last_sent = link.as_ref().and_then(|l| l.fingerprint);
    let verdict = match change {
        Change::Create { .. } => match new_here(&linked_to, last_sent, sending) {
            Some(verdict) => verdict,
            None => match resolve(keyed, reader, record).await {
                Ok(Resolved::NotFound) => Verdict::Go(record.clone()),
                Ok(Resolved::Found(id)) => Verdict::Refused(format!(
                    "the target has a record the `resolve` rules find for it since the plan was made (id {id}): nothing was created"
                )),
                Ok(Resolved::Ambiguous(reason)) => Verdict::Refused(reason),
                Err(e) => return Err(Stop(e.to_string())),
            },
        },
        Change::Link {
            target_id,
            fields,
            base,
            ..
        } => {
            if let Some(verdict) = new_here(&linked_to, last_sent, sending) {
                return Ok(match verdict {
                    Verdict::AlreadyApplied if linked_to.as_ref() != Some(target_id) => {
                        Verdict::Refused(format!(
                            "the ID map links it to target id {} since the plan was made",
                            linked_to.unwrap_or_default()
                        ))
                    }
                    other => other,
                });
            }
            match resolve(keyed, reader, record).await {
                Ok(Resolved::Found(id)) if id == *target_id => match (fields, base) {
                    (Some(fields), Some(Base { read: true, .. })) => {
                        moved(cx, reader, target_id, record, fields).await?
                    }
                    _ => Verdict::Go(record.clone()),
                },
                Ok(Resolved::Found(id)) => Verdict::Refused(format!(
                    "the `resolve` rules find target id {id} now, {target_id} when the plan was made"
                )),
                Ok(Resolved::NotFound) => Verdict::Refused(format!(
                    "the `resolve` rules no longer find target id {target_id}"
                )),
                Ok(Resolved::Ambiguous(reason)) => Verdict::Refused(reason),
                Err(e) => return Err(Stop(e.to_string())),
            }
        }
        Change::Update {
            target_id: Some(target_id),
            fields,
            base: Some(base),
            ..
        } => {
            if let Some(refused) = other_id(&linked_to, target_id, key, keyed) {
                return Ok(refused);
            }
            if last_sent == Some(sending) {
                return Ok(Verdict::AlreadyApplied);
            }
            if last_sent.map(|f| f.hex()) != base.last_sent {
                return Ok(Verdict::Refused(
                    "syncline wrote another version of it since the plan was made (the ID map's fingerprint moved)"
                        .into(),
                ));
            }
            if base.read {
                moved(cx, reader, target_id, record, fields).await?
            } else {
                Verdict::Go(record.clone())
            }
        }
        Change::Remove {
            target_id: Some(target_id),
            ..
        } => match &linked_to {
            None => Verdict::AlreadyApplied,
            Some(id) if id != target_id => Verdict::Refused(format!(
                "the ID map links it to target id {id} now, {target_id} when the plan was made"
            )),
            Some(_) => Verdict::Go(record.clone()),
        },
        _ => no_record(),
    };
    Ok(verdict)
}

/// For a create or a link, which the ID map must not know yet: `None` when it does not;
/// already applied when it holds what the change sends; refused otherwise.
fn new_here(
    linked_to: &Option<String>,
    last_sent: Option<Fingerprint>,
    sending: Fingerprint,
) -> Option<Verdict> {
    let id = linked_to.as_ref()?;
    Some(if last_sent == Some(sending) {
        Verdict::AlreadyApplied
    } else {
        Verdict::Refused(format!(
            "the ID map links it to target id {id} since the plan was made (a run wrote it)"
        ))
    })
}

/// For an update: refused when the ID map names another target id than the plan did (or none,
/// for a target that does not create records by key).
fn other_id(
    linked_to: &Option<String>,
    target_id: &str,
    key: &str,
    keyed: &KeyedPlan,
) -> Option<Verdict> {
    match linked_to {
        Some(id) if id == target_id => None,
        Some(id) => Some(Verdict::Refused(format!(
            "the ID map links it to target id {id} now, {target_id} when the plan was made"
        ))),
        // Written at its key: a target that upserts has no id of its own.
        None if keyed.target.upserts() && target_id == key => None,
        None => Some(Verdict::Refused(
            "the ID map no longer links it to a target record".into(),
        )),
    }
}

/// Reads the target's record and compares each field the update sends with what it held when
/// the plan was made: its `from`, or the value sent when it did not differ then.
async fn moved(
    cx: &Context<'_>,
    reader: &mut dyn KeyedTarget,
    target_id: &str,
    record: &Record,
    fields: &Map<String, Value>,
) -> Result<Verdict, Stop> {
    let current = match reader.read(target_id, record).await {
        Ok(Some(current)) => current,
        Ok(None) => {
            return Ok(Verdict::Refused(
                "the target record cannot be read now, and could be when the plan was made".into(),
            ));
        }
        Err(WriteError::Rejected(reason)) => {
            return Ok(Verdict::Refused(format!(
                "the target record cannot be read now: {reason}"
            )));
        }
        Err(e) => return Err(Stop(e.to_string())),
    };
    let sent = cx.keyed.target.sent(record, false);
    let sent = sent.as_object().into_iter().flatten();
    let moved = moved_fields("the target", &current, sent, fields);
    Ok(match moved {
        Some(reason) => Verdict::Refused(reason),
        None => Verdict::Go(record.clone()),
    })
}

/// The fields of `current` (in `what`) that no longer hold what they held when the plan was
/// made, in words; `None` when none moved. `expected` are the fields to check, each with the
/// value planned; `fields` is the plan's field diff.
fn moved_fields<'a>(
    what: &str,
    current: &Value,
    expected: impl Iterator<Item = (&'a String, &'a Value)>,
    fields: &Map<String, Value>,
) -> Option<String> {
    let moved: Vec<String> = expected
        .filter_map(|(name, to)| {
            let then = fields
                .get(name)
                .map_or(to, |d| d.get("from").unwrap_or(&Value::Null));
            let now = current.get(name).unwrap_or(&Value::Null);
            (!same(now, then)).then(|| {
                format!(
                    "`{name}` is {} now, was {} when planned",
                    shorten(now),
                    shorten(then)
                )
            })
        })
        .collect();
    (!moved.is_empty()).then(|| {
        format!(
            "{what} changed since the plan was made: {}; nothing was overwritten",
            moved.join(", ")
        )
    })
}

/// A value as a reason shows it: a long text cut short.
fn shorten(value: &Value) -> String {
    const MOST: usize = 60;
    let text = value.to_string();
    match text.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A file target with a key: the changes laid over what the file holds now, each checked
/// against its current record, then the file rewritten and renamed into place.
fn apply_file(
    job: &JobPlan,
    spec: &FileSpec,
    key: &CompiledPath,
    target: &str,
    changes: Vec<Change>,
) -> JobApplied {
    let mut held = match held_records(spec) {
        Ok(held) => held,
        Err(reason) => return JobApplied::failed(&job.name, target, &changes, reason),
    };
    // Where each key's record is (the last one, as the plan compared it).
    let mut at: HashMap<String, usize> = held
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((key.get(r.as_ref()?).and_then(text_of)?, i)))
        .collect();
    let mut applied = JobApplied::new(&job.name, target);
    let mut going = Vec::new();
    for change in &changes {
        let current = change
            .key()
            .and_then(|k| at.get(k))
            .and_then(|&i| held[i].as_ref());
        let verdict = match (change, current) {
            (Change::Create { key: Some(_), record, .. }, None) => Verdict::Go(record.clone()),
            (Change::Create { key: Some(_), record, .. }, Some(current)) => {
                if diff(current, record).is_empty() {
                    Verdict::AlreadyApplied
                } else {
                    Verdict::Refused(
                        "the file holds a record with this key since the plan was made".into(),
                    )
                }
            }
            (Change::Update { record: Some(_), .. }, None) => {
                Verdict::Refused("the file no longer holds it".into())
            }
            (
                Change::Update {
                    record: Some(record),
                    fields,
                    ..
                },
                Some(current),
            ) => file_update(current, record, fields),
            (Change::Remove { record: Some(_), .. }, None) => Verdict::AlreadyApplied,
            (Change::Remove { record: Some(old), .. }, Some(current)) => {
                if diff(current, old).is_empty() {
                    Verdict::Go(Value::Null)
                } else {
                    Verdict::Refused(
                        "it changed in the file since the plan was made; nothing was removed".into(),
                    )
                }
            }
            _ => Verdict::Refused(
                "the plan does not hold the record to write (an older syncline saved it): make it again"
                    .into(),
            ),
        };
        match verdict {
            Verdict::Go(record) => going.push((change, record)),
            Verdict::AlreadyApplied => applied.add(change, Outcome::AlreadyApplied, None, None),
            Verdict::Refused(reason) => applied.add(change, Outcome::Refused, None, Some(reason)),
        }
    }
    if going.is_empty() {
        return applied;
    }
    for (change, record) in &going {
        let k = change.key().unwrap_or_default().to_string();
        match (change, at.get(&k)) {
            (Change::Remove { .. }, Some(&i)) => held[i] = None,
            (_, Some(&i)) => held[i] = Some(record.clone()),
            (_, None) => {
                at.insert(k, held.len());
                held.push(Some(record.clone()));
            }
        }
    }
    let written = write_file(spec, held.iter().flatten());
    for (change, _) in going {
        match &written {
            Ok(()) => applied.add(change, Outcome::Applied, None, None),
            Err(reason) => applied.add(change, Outcome::NotApplied, None, Some(reason.clone())),
        }
    }
    if let Err(reason) = written {
        applied.status = JobStatus::Failed(reason);
    }
    applied
}

/// An update of a file's record: every field of the record now, or of the planned one, must
/// hold what it held when the plan was made.
fn file_update(current: &Record, record: &Record, fields: &Map<String, Value>) -> Verdict {
    if diff(current, record).is_empty() {
        return Verdict::AlreadyApplied;
    }
    // The fields the file's record has that the new one does not are in the diff (to null).
    let names = record.as_object().into_iter().flatten();
    let gone: Vec<(&String, &Value)> = fields
        .iter()
        .filter(|(name, _)| record.get(name.as_str()).is_none())
        .map(|(name, _)| (name, &Value::Null))
        .collect();
    let extra: Vec<(&String, &Value)> = current
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| record.get(name.as_str()).is_none() && !fields.contains_key(*name))
        .map(|(name, _)| (name, &Value::Null))
        .collect();
    match moved_fields("the file", current, names.chain(gone).chain(extra), fields) {
        Some(reason) => Verdict::Refused(reason),
        None => Verdict::Go(record.clone()),
    }
}

/// The records the file holds, in order (`Some` each: a removal sets it to `None`); none when
/// it does not exist. A record it cannot read stops: rewriting would lose it.
fn held_records(spec: &FileSpec) -> Result<Vec<Option<Record>>, String> {
    let mut held = Vec::new();
    if !spec.path.exists() {
        return Ok(held);
    }
    let mut bad = None;
    let mut source = spec.open_source().map_err(|e| e.to_string())?;
    source
        .read(&mut |item| match item {
            Item::Record(record) => {
                held.push(Some(record));
                true
            }
            Item::Bad { at, reason } => {
                bad = Some(format!(
                    "{at}: {reason}: the file cannot be rewritten without losing it"
                ));
                false
            }
        })
        .map_err(|e| e.to_string())?;
    match bad {
        Some(reason) => Err(reason),
        None => Ok(held),
    }
}

fn write_file<'r>(
    spec: &FileSpec,
    records: impl Iterator<Item = &'r Record>,
) -> Result<(), String> {
    // A replaced file: the run's time names nothing in its path.
    let mut sink = spec
        .open_sink(chrono::Utc::now())
        .map_err(|e| e.to_string())?;
    for record in records {
        sink.write(record).map_err(|e| e.to_string())?;
    }
    sink.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_is_moved_when_it_holds_neither_its_from_nor_for_an_unchanged_field_its_value() {
        let fields = json!({ "price": { "from": "11.9", "to": 12.5 } });
        let fields = fields.as_object().unwrap();
        let planned = json!({ "reference": "B2", "price": 12.5 });
        let expected = || planned.as_object().unwrap().iter();
        // As when planned (a CSV's text for a number is the same value).
        let current = json!({ "reference": "B2", "price": 11.9 });
        assert_eq!(
            moved_fields("the target", &current, expected(), fields),
            None
        );
        let current = json!({ "reference": "B2", "price": "13" });
        let reason = moved_fields("the target", &current, expected(), fields).unwrap();
        assert!(
            reason.contains("`price` is \"13\" now, was \"11.9\""),
            "{reason}"
        );
        // A field the plan did not change must still hold the value sent.
        let current = json!({ "reference": "B9", "price": "11.9" });
        let reason = moved_fields("the target", &current, expected(), fields).unwrap();
        assert!(reason.contains("`reference`"), "{reason}");
    }

    #[test]
    fn apply_is_a_send_future_for_request_handlers() {
        fn send<T: Send>(_: &T) {}
        let plan = Arc::new(Plan {
            name: "p".into(),
            jobs: Vec::new(),
            timezone: None,
        });
        let saved = DryRunPlan {
            pipeline: "p".into(),
            pipeline_file: None,
            pipeline_hash: None,
            jobs: Vec::new(),
        };
        let state: Arc<dyn StateStore> = Arc::new(crate::state::memory::MemoryStore::empty());
        let only = Selection::default();
        let future = apply(plan, "", &saved, &only, state);
        send(&future);
    }

    #[test]
    fn a_long_value_is_cut_short_in_a_reason() {
        let long = Value::String("x".repeat(500));
        assert_eq!(shorten(&long).len(), 63);
        assert_eq!(shorten(&json!(12.5)), "12.5");
    }

    #[test]
    fn a_selection_names_jobs_and_keys_or_takes_everything() {
        let change = Change::Remove {
            key: "A1".into(),
            target_id: None,
            record: None,
        };
        assert!(Selection::default().change(&change));
        let only = Selection {
            jobs: vec!["products".into()],
            keys: vec!["B2".into()],
        };
        assert!(!only.change(&change));
        assert!(only.job("products") && !only.job("orders"));
    }
}
