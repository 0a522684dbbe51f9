//! Dry-run plans: what a run would do to each target, record by record, written nothing.
//!
//! The format (`syncline dry-run --out plan.json`), one object per job:
//! ```text
//! { "pipeline": "...", "jobs": [ {
//!     "job": "products", "target": "out/products.ndjson", "status": "succeeded",
//!     "summary": { "create": 3, "update": 1, "unchanged": 40, "remove": 0, "reject": 1 },
//!     "changes": [
//!       { "action": "create", "key": "A1", "record": { ... } },
//!       { "action": "update", "key": "B2", "fields": { "price": { "from": 1.5, "to": 1.6 } } },
//!       { "action": "remove", "key": "C3" },
//!       { "action": "reject", "key": "D4", "step": "lookup", "reason": "unmapped value `9` ..." } ] } ] }
//! ```
//! The plan is recorded by the run itself (a [`PlanRecorder`] fed by the runtime, see
//! `runtime::dry`): every record goes through the same steps and the same decisions as in a
//! run, and nothing is written. A file target is compared with what it holds now, by its
//! `key` (without a key every record is a `create`; `remove` lists what it would no longer
//! hold). An API target is decided through the state as a run decides it: `create`, `link`
//! when a `resolve` rule finds the record on the target, `update` with the fields that differ
//! from the target's current record (or, when it cannot be read, from what was last sent),
//! `remove`; `skip` counts records opted out. Unchanged records are counted, not listed.
//!
//! What `syncline apply` needs is added to the readable part above (see [`apply`]): the
//! pipeline file and the hash of its text (`pipeline_file`, `pipeline_hash`); per change the
//! record to send (`record`; for a create whose target is sent less or more of it, `payload`),
//! the target id of an update, link or removal, and the `base` an update or a link was decided
//! against: whether the `from` values were read from the target (`read`), and the ID map's
//! fingerprint of what was last sent (`last_sent`).

pub mod apply;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::runtime::Handle;

use crate::config::model::OnMatch;
use crate::connectors::file::Publish;
use crate::connectors::http::translations;
use crate::connectors::{Item, KeyedTarget, WriteError};
use crate::plan::{JobPlan, KeyedPlan, Plan, TargetPlan};
use crate::record::{Record, text_of};
use crate::runtime::dry::{KeyedChange, Recorder};
use crate::runtime::report::{JobReport, JobStatus, RunReport};
use crate::state::{FieldHashes, StateStore, fingerprint};

#[derive(Debug, Serialize, Deserialize)]
pub struct DryRunPlan {
    pub pipeline: String,
    /// The pipeline file the plan was made from, as it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_file: Option<String>,
    /// The hash of the pipeline's files ([`apply::pipeline_hash`]): `apply` refuses a plan
    /// whose pipeline changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_hash: Option<String>,
    pub jobs: Vec<JobPlanOutput>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JobPlanOutput {
    pub job: String,
    pub target: String,
    /// A file target that this run's records are added to, not one they replace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub append: bool,
    #[serde(flatten)]
    pub status: JobStatus,
    pub summary: Summary,
    pub changes: Vec<Change>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    pub remove: u64,
    pub reject: u64,
    /// Opted out by the target's `skip`.
    pub skip: u64,
    /// Found on the target by a `resolve` rule: linked (and updated, unless `link_only`).
    pub link: u64,
}

/// One change. The members after the readable ones (`key`, `fields`, a create's `record`) are
/// for `apply`; they are optional so that older plans still read (and are refused by `apply`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// `record`: what the target is sent.
    Create {
        key: Option<String>,
        record: Record,
        /// The record as the steps made it, when the target is sent less of it (fields it
        /// opts out of, syncline's flags) or more (a translated field in every language).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<Record>,
    },
    Update {
        key: String,
        fields: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_id: Option<String>,
        /// The record as the steps made it: what the update sends (less what it opts out of).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<Record>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Base>,
    },
    /// `record`: for a file, what it holds; for a keyed target, the record whose flag asked
    /// for the deletion.
    Remove {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<Record>,
    },
    /// Found on the target by a `resolve` rule; `fields` are what the update after the link
    /// changes (none with `on_match: link_only`).
    Link {
        key: String,
        target_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Map<String, Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<Record>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Base>,
    },
    Reject {
        key: String,
        step: String,
        reason: String,
    },
}

impl Change {
    /// The key of the record it changes; `None` for a create without a key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Change::Create { key, .. } => key.as_deref(),
            Change::Update { key, .. }
            | Change::Remove { key, .. }
            | Change::Link { key, .. }
            | Change::Reject { key, .. } => Some(key),
        }
    }
}

/// What an update or a link of a keyed target was decided against: `apply` refuses it when
/// the target or the state moved since.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Base {
    /// The `from` values are the target's record as it was read then; false: it could not be
    /// read (only `to` is shown), and `last_sent` alone tells whether it moved.
    pub read: bool,
    /// The ID map's fingerprint of what was last sent (32 hex digits); none when nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<String>,
}

/// Records, job by job, what a dry run would do; [`PlanRecorder::finish`] makes the plan.
pub struct PlanRecorder {
    plan: Arc<Plan>,
    state: Arc<dyn StateStore>,
    /// By job name: the job's index in the plan, and its recording.
    jobs: HashMap<String, (usize, Mutex<Recording>)>,
}

/// One job's plan so far.
#[derive(Default)]
struct Recording {
    summary: Summary,
    changes: Vec<Change>,
    rejects: Vec<Change>,
    /// A file target with a key: what it holds now, by key; what is left at the end would be
    /// removed.
    current: Option<HashMap<String, Record>>,
    /// A keyed target: reads the records an update would change, for a field diff. Never
    /// writes.
    reader: Option<Box<dyn KeyedTarget>>,
    /// A file target: the file this run would write (`{run_time}` resolved).
    file: Option<String>,
}

impl PlanRecorder {
    pub fn new(plan: Arc<Plan>, state: Arc<dyn StateStore>) -> PlanRecorder {
        let jobs = plan
            .jobs
            .iter()
            .enumerate()
            .map(|(index, job)| {
                let recording = Recording {
                    current: current_records(job),
                    reader: match &job.target {
                        TargetPlan::Keyed(keyed) => Some(keyed.target.clone().open()),
                        _ => None,
                    },
                    ..Recording::default()
                };
                (job.name.clone(), (index, Mutex::new(recording)))
            })
            .collect();
        PlanRecorder { plan, state, jobs }
    }

    fn with(&self, job: &str, work: impl FnOnce(&mut Recording, &JobPlan)) {
        let Some((index, recording)) = self.jobs.get(job) else {
            return;
        };
        if let Ok(mut recording) = recording.lock() {
            work(&mut recording, &self.plan.jobs[*index]);
        }
    }

    /// The plan, once the run ended: the jobs that ran (a run may cover some of them).
    pub fn finish(self, report: RunReport) -> DryRunPlan {
        let mut jobs = Vec::new();
        for job_report in report.jobs {
            let Some(job) = self.plan.jobs.iter().find(|j| j.name == job_report.job) else {
                continue;
            };
            let recording = self
                .jobs
                .get(&job.name)
                .and_then(|(_, r)| r.lock().ok().map(|mut r| std::mem::take(&mut *r)))
                .unwrap_or_default();
            jobs.push(job_output(job, recording, job_report));
        }
        DryRunPlan {
            pipeline: self.plan.name.clone(),
            pipeline_file: None,
            pipeline_hash: None,
            jobs,
        }
    }
}

/// What a plan names a job's target by: a file's path, a keyed target's ID-map namespace.
fn target_of(job: &JobPlan) -> String {
    match &job.target {
        TargetPlan::File(spec, _) => spec.path.display().to_string(),
        TargetPlan::Keyed(keyed) => keyed.ns.to_string(),
        TargetPlan::Unsupported(reason) => reason.clone(),
        TargetPlan::Trigger(trigger) => format!("job `{}`", trigger.job_name),
    }
}

fn job_output(job: &JobPlan, recording: Recording, report: JobReport) -> JobPlanOutput {
    let Recording {
        mut summary,
        mut changes,
        rejects,
        current,
        file,
        ..
    } = recording;
    let target = file.unwrap_or_else(|| target_of(job));
    let mut removed: Vec<(String, Record)> =
        current.map(|c| c.into_iter().collect()).unwrap_or_default();
    removed.sort_by(|a, b| a.0.cmp(&b.0));
    summary.remove += removed.len() as u64;
    changes.extend(removed.into_iter().map(|(key, held)| Change::Remove {
        key,
        target_id: None,
        record: Some(held),
    }));
    changes.extend(rejects);
    JobPlanOutput {
        job: job.name.clone(),
        target,
        append: matches!(&job.target, TargetPlan::File(spec, _) if spec.publish() == Publish::Append),
        status: report.status,
        summary,
        changes,
    }
}

impl Recorder for PlanRecorder {
    fn write(&self, job: &str, record: Record) {
        self.with(job, |recording, plan| {
            let key = plan
                .key
                .as_ref()
                .and_then(|k| k.get(&record))
                .and_then(text_of);
            let held = key
                .as_ref()
                .and_then(|k| recording.current.as_mut().and_then(|c| c.remove(k)));
            match held {
                Some(old) => {
                    let fields = diff(&old, &record);
                    if fields.is_empty() {
                        recording.summary.unchanged += 1;
                    } else {
                        recording.summary.update += 1;
                        recording.changes.push(Change::Update {
                            key: key.unwrap_or_default(),
                            fields,
                            target_id: None,
                            record: Some(record),
                            base: None,
                        });
                    }
                }
                None => {
                    recording.summary.create += 1;
                    recording.changes.push(Change::Create {
                        key,
                        record,
                        payload: None,
                    });
                }
            }
        });
    }

    fn keyed(&self, job: &str, change: KeyedChange) {
        self.with(job, |recording, plan| {
            let TargetPlan::Keyed(keyed) = &plan.target else {
                return;
            };
            let summary = &mut recording.summary;
            let change = match change {
                KeyedChange::Unchanged => {
                    summary.unchanged += 1;
                    return;
                }
                KeyedChange::Skip => {
                    summary.skip += 1;
                    return;
                }
                KeyedChange::Create { key, record } => {
                    summary.create += 1;
                    let sent = keyed.target.sent(record, true).into_owned();
                    let payload = (sent != *record).then(|| record.clone());
                    Change::Create {
                        key: Some(key.to_string()),
                        record: sent,
                        payload,
                    }
                }
                KeyedChange::Update {
                    key,
                    target_id,
                    record,
                } => {
                    summary.update += 1;
                    let previous = self.state.field_hashes(&keyed.ns, key).unwrap_or_default();
                    let (fields, read) =
                        changed_fields(keyed, &mut recording.reader, target_id, record, &previous);
                    Change::Update {
                        key: key.to_string(),
                        fields,
                        target_id: Some(target_id.to_string()),
                        record: Some(record.clone()),
                        base: Some(Base {
                            read,
                            last_sent: self.last_sent(keyed, key),
                        }),
                    }
                }
                KeyedChange::Link {
                    key,
                    target_id,
                    record,
                } => {
                    summary.link += 1;
                    let changed = (keyed.on_match == OnMatch::Update).then(|| {
                        changed_fields(
                            keyed,
                            &mut recording.reader,
                            target_id,
                            record,
                            &FieldHashes::default(),
                        )
                    });
                    let read = changed.as_ref().is_some_and(|(_, read)| *read);
                    Change::Link {
                        key: key.to_string(),
                        target_id: target_id.to_string(),
                        fields: changed.map(|(fields, _)| fields),
                        record: Some(record.clone()),
                        base: Some(Base {
                            read,
                            last_sent: self.last_sent(keyed, key),
                        }),
                    }
                }
                KeyedChange::Delete {
                    key,
                    target_id,
                    record,
                } => {
                    summary.remove += 1;
                    Change::Remove {
                        key: key.to_string(),
                        target_id: Some(target_id.to_string()),
                        record: Some(record.clone()),
                    }
                }
            };
            recording.changes.push(change);
        });
    }

    fn file_target(&self, job: &str, path: &std::path::Path) {
        self.with(job, |recording, _| {
            recording.file = Some(path.display().to_string());
        });
    }

    fn reject(&self, job: &str, key: &str, step: &str, reason: &str) {
        self.with(job, |recording, _| {
            recording.summary.reject += 1;
            recording.rejects.push(Change::Reject {
                key: key.to_string(),
                step: step.to_string(),
                reason: reason.to_string(),
            });
        });
    }
}

impl PlanRecorder {
    /// The ID map's fingerprint of what was last sent for `key`, as a plan keeps it.
    fn last_sent(&self, keyed: &KeyedPlan, key: &str) -> Option<String> {
        match self.state.link(&keyed.ns, key) {
            Ok(link) => link.and_then(|l| l.fingerprint).map(|f| f.hex()),
            Err(e) => {
                tracing::warn!(key, "the ID map could not be read: {e}");
                None
            }
        }
    }
}

/// The fields an update of `target_id` would change: against the target's current record
/// when it can be read (then `true`), else against what the ID map says was last sent.
fn changed_fields(
    keyed: &KeyedPlan,
    reader: &mut Option<Box<dyn KeyedTarget>>,
    target_id: &str,
    record: &Record,
    previous: &FieldHashes,
) -> (Map<String, Value>, bool) {
    let sent = keyed.target.sent(record, false);
    // The recorder is told from the job's writer thread, which is in the job's runtime but not
    // in one of its tasks: the read is waited for there.
    let read = |reader: &mut Box<dyn KeyedTarget>| match Handle::try_current() {
        Ok(runtime) => runtime.block_on(reader.read(target_id, record)),
        Err(e) => Err(WriteError::Unavailable(format!(
            "no runtime to read on: {e}"
        ))),
    };
    let current = match reader.as_mut().map(read) {
        Some(Ok(current)) => current,
        Some(Err(e)) => {
            tracing::warn!(target_id, "the target record could not be read: {e}");
            None
        }
        None => None,
    };
    match current {
        Some(current) => (sent_fields_diff(&current, &sent), true),
        None => (new_values(sent.into_owned(), previous), false),
    }
}

/// What a file target holds now, by key; `None` without a key or a readable file, and for a
/// file appended to or new each run (every record is then a `create`: a record the file holds
/// already would be written again, nothing is removed).
fn current_records(job: &JobPlan) -> Option<HashMap<String, Record>> {
    let (TargetPlan::File(spec, _), Some(key)) = (&job.target, &job.key) else {
        return None;
    };
    if spec.publish() != Publish::Replace {
        return None;
    }
    let mut held = HashMap::new();
    if !spec.path.exists() {
        return Some(held);
    }
    let mut source = spec.open_source().ok()?;
    let read = source.read(&mut |item| {
        if let Item::Record(record) = item
            && let Some(k) = key.get(&record).and_then(text_of)
        {
            held.insert(k, record);
        }
        true
    });
    read.ok().map(|_| held)
}

/// `{ field: { to } }` for every field sent: the target cannot be read, `from` is unknown.
/// The fields of `payload` whose value differs from what was last sent (by the ID map's field
/// hashes; every field when they are not known or the fields are not the same ones), with the
/// value they would get.
fn new_values(payload: Record, previous: &FieldHashes) -> Map<String, Value> {
    let (_, now) = fingerprint(&payload, &mut Vec::new());
    let Value::Object(map) = payload else {
        return Map::new();
    };
    let comparable = now.names == previous.names && now.values.len() == previous.values.len();
    map.into_iter()
        .zip(now.values)
        .enumerate()
        .filter(|(i, (_, hash))| !comparable || previous.values[*i] != *hash)
        .map(|(_, ((name, to), _))| (name, serde_json::json!({ "to": to })))
        .collect()
}

/// The fields an update would send that differ from the target's record (its other fields
/// are left alone by the update).
fn sent_fields_diff(current: &Record, payload: &Record) -> Map<String, Value> {
    let mut fields = Map::new();
    let Some(sent) = payload.as_object() else {
        return fields;
    };
    for (name, to) in sent {
        let from = current.get(name).unwrap_or(&Value::Null);
        if !same(from, to) {
            fields.insert(name.clone(), serde_json::json!({ "from": from, "to": to }));
        }
    }
    fields
}

/// Field by field: `{ field: { from, to } }` for every top-level field that differs.
pub fn diff(old: &Record, new: &Record) -> Map<String, Value> {
    let mut fields = sent_fields_diff(old, new);
    let empty = Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    for (name, before) in old_map {
        if !new_map.contains_key(name) {
            fields.insert(
                name.clone(),
                serde_json::json!({ "from": before, "to": null }),
            );
        }
    }
    fields
}

/// Equal as the target would store them: a CSV holds `"1.5"` for the number 1.5; a
/// translated field holds its text in the languages it is written in.
fn same(a: &Value, b: &Value) -> bool {
    a == b
        || matches!((text_of(a), text_of(b)), (Some(x), Some(y)) if x == y)
        || translations::holds(a, b, same) == Some(true)
}

impl DryRunPlan {
    pub fn render(&self, listed: usize) -> String {
        let mut out = String::new();
        for job in &self.jobs {
            let s = &job.summary;
            let _ = match &job.status {
                JobStatus::Succeeded => writeln!(
                    out,
                    "{} -> {}{}: {} to create, {}{} to update, {} unchanged, {} to remove, {} rejected",
                    job.job,
                    job.target,
                    if job.append { " (appended to)" } else { "" },
                    s.create,
                    if s.link > 0 {
                        format!("{} to link to existing records, ", s.link)
                    } else {
                        String::new()
                    },
                    s.update,
                    s.unchanged,
                    s.remove,
                    s.reject
                ),
                JobStatus::Failed(reason) => writeln!(out, "{}: would fail: {reason}", job.job),
                JobStatus::Skipped(reason) => {
                    writeln!(out, "{}: would be skipped: {reason}", job.job)
                }
                JobStatus::Cancelled => writeln!(out, "{}: cancelled", job.job),
            };
            for change in job.changes.iter().take(listed) {
                let _ = match change {
                    Change::Create { key, .. } => {
                        writeln!(out, "  + {}", key.as_deref().unwrap_or("(no key)"))
                    }
                    Change::Update { key, fields, .. } => {
                        let parts: Vec<String> = fields
                            .iter()
                            .map(|(f, d)| match d.get("from") {
                                Some(from) => format!("{f}: {from} -> {}", d["to"]),
                                None => format!("{f}: {}", d["to"]),
                            })
                            .collect();
                        writeln!(out, "  ~ {key}: {}", parts.join(", "))
                    }
                    Change::Remove { key, .. } => writeln!(out, "  - {key}"),
                    Change::Link { key, target_id, .. } => {
                        writeln!(out, "  = {key}: linked to {target_id}")
                    }
                    Change::Reject { key, step, reason } => {
                        writeln!(out, "  ! {key}: {reason} ({step})")
                    }
                };
            }
            if job.changes.len() > listed {
                let _ = writeln!(
                    out,
                    "  ... and {} more (see --out)",
                    job.changes.len() - listed
                );
            }
        }
        out.push_str("nothing was written\n");
        out
    }
}
