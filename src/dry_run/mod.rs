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
//! Records are compared with what the target holds now, by the target's `key`; without a key
//! every record is a `create`. For an API target, "what it holds" is the state: a record
//! without an id in the ID map is a `create`, or a `link` when a `resolve` rule finds it on the
//! target (the plan asks the target, as the run would), one whose fingerprint differs is an `update` whose fields carry only
//! `to` (the target's current values are not read yet), `skip` counts records opted out. `remove` lists what a file target holds and would no longer hold.
//! Unchanged records are counted, not listed.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::model::OnMatch;
use crate::connectors::Item;
use crate::connectors::http::translations;
use crate::plan::{JobPlan, KeyedPlan, Plan, TargetPlan};
use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};
use crate::runtime::RunOutcome;
use crate::runtime::deliver::decide::{Decided, Decision, decide};
use crate::runtime::deliver::link_reader::LinkReader;
use crate::runtime::deliver::sender::{Resolved, resolve};
use crate::runtime::report::{JobReport, JobStatus};
use crate::state::{FieldHashes, StateStore, fingerprint, pending_writes};

#[derive(Debug, Serialize)]
pub struct DryRunPlan {
    pub pipeline: String,
    pub jobs: Vec<JobPlanOutput>,
}

#[derive(Debug, Serialize)]
pub struct JobPlanOutput {
    pub job: String,
    pub target: String,
    #[serde(flatten)]
    pub status: JobStatus,
    pub summary: Summary,
    pub changes: Vec<Change>,
}

#[derive(Debug, Default, Serialize)]
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

#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    Create {
        key: Option<String>,
        record: Record,
    },
    Update {
        key: String,
        fields: Map<String, Value>,
    },
    Remove {
        key: String,
    },
    /// Found on the target by a `resolve` rule; `fields` are what the update after the link
    /// changes (none with `on_match: link_only`).
    Link {
        key: String,
        target_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        fields: Option<Map<String, Value>>,
    },
    Reject {
        key: String,
        step: String,
        reason: String,
    },
}

/// Builds the plan from a dry run's records and rejections (the quarantine lines it produced).
pub fn build(
    plan: &Plan,
    outcome: RunOutcome,
    rejected: &[Value],
    state: &dyn StateStore,
) -> DryRunPlan {
    let mut jobs = Vec::new();
    for ((job, (_, records)), report) in plan
        .jobs
        .iter()
        .zip(outcome.records)
        .zip(outcome.report.jobs)
    {
        jobs.push(job_plan(job, records, report, rejected, state));
    }
    DryRunPlan {
        pipeline: plan.name.clone(),
        jobs,
    }
}

fn job_plan(
    job: &JobPlan,
    records: Vec<Record>,
    report: JobReport,
    rejected: &[Value],
    state: &dyn StateStore,
) -> JobPlanOutput {
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    let target = match &job.target {
        TargetPlan::File(spec, _) => spec.path.display().to_string(),
        TargetPlan::Keyed(keyed) => keyed.ns.to_string(),
        TargetPlan::Unsupported(reason) => reason.clone(),
    };
    let mut current = current_records(job);
    // A keyed target is compared through the state: its ID map and fingerprints.
    let records = match (&job.target, &job.key) {
        (TargetPlan::Keyed(plan), Some(key)) => {
            keyed_changes(plan, key, state, records, &mut summary, &mut changes);
            Vec::new()
        }
        _ => records,
    };
    for record in records {
        let key = job
            .key
            .as_ref()
            .and_then(|k| k.get(&record))
            .and_then(text_of);
        match key
            .as_ref()
            .and_then(|k| current.as_mut().and_then(|c| c.remove(k)))
        {
            Some(old) => {
                let fields = diff(&old, &record);
                if fields.is_empty() {
                    summary.unchanged += 1;
                } else {
                    summary.update += 1;
                    changes.push(Change::Update {
                        key: key.unwrap_or_default(),
                        fields,
                    });
                }
            }
            None => {
                summary.create += 1;
                changes.push(Change::Create { key, record });
            }
        }
    }
    let mut removed: Vec<String> = current.map(|c| c.into_keys().collect()).unwrap_or_default();
    removed.sort();
    summary.remove = removed.len() as u64;
    changes.extend(removed.into_iter().map(|key| Change::Remove { key }));
    for r in rejected.iter().filter(|r| r["job"] == job.name.as_str()) {
        summary.reject += 1;
        let text = |f: &str| r[f].as_str().unwrap_or_default().to_string();
        changes.push(Change::Reject {
            key: text("key"),
            step: text("step"),
            reason: text("reason"),
        });
    }
    JobPlanOutput {
        job: job.name.clone(),
        target,
        status: report.status,
        summary,
        changes,
    }
}

fn keyed_changes(
    plan: &KeyedPlan,
    key: &CompiledPath,
    state: &dyn StateStore,
    records: Vec<Record>,
    summary: &mut Summary,
    changes: &mut Vec<Change>,
) {
    let left_over = pending_writes(state.pending(&plan.ns).unwrap_or_default());
    let mut buffer = Vec::new();
    let mut links = LinkReader::new(state, &plan.ns);
    // Reads only (never a write): the current record of an update, for a real field diff.
    let mut target = plan.target.clone().open();
    for record in records {
        let record_key = key.get(&record).and_then(text_of);
        match decide(
            plan,
            record_key,
            &mut links,
            &left_over,
            record,
            &mut buffer,
        ) {
            Ok(Decided::Prepared(prepared)) => match prepared.decision {
                Decision::Unchanged => summary.unchanged += 1,
                Decision::Skipped => summary.skip += 1,
                Decision::Update { target_id } => {
                    summary.update += 1;
                    let sent = plan.target.sent(&prepared.payload, false);
                    let previous = state
                        .field_hashes(&plan.ns, &prepared.key)
                        .unwrap_or_default();
                    let fields = match target.read(&target_id, &prepared.payload) {
                        Ok(Some(current)) => sent_fields_diff(&current, &sent),
                        Ok(None) => new_values(sent.into_owned(), &previous),
                        Err(e) => {
                            tracing::warn!(key = %prepared.key, "the target record could not be read: {e}");
                            new_values(sent.into_owned(), &previous)
                        }
                    };
                    changes.push(Change::Update {
                        key: prepared.key,
                        fields,
                    });
                }
                Decision::Delete { .. } => {
                    summary.remove += 1;
                    changes.push(Change::Remove { key: prepared.key });
                }
                // The run looks for it with the `resolve` rules first; so does the plan.
                Decision::Create { .. } => {
                    match resolve(plan, target.as_mut(), &prepared.payload) {
                        Ok(Resolved::Found(target_id)) => {
                            summary.link += 1;
                            let fields = (plan.on_match == OnMatch::Update).then(|| {
                                let sent = plan.target.sent(&prepared.payload, false);
                                match target.read(&target_id, &prepared.payload) {
                                    Ok(Some(current)) => sent_fields_diff(&current, &sent),
                                    _ => new_values(sent.into_owned(), &FieldHashes::default()),
                                }
                            });
                            changes.push(Change::Link {
                                key: prepared.key,
                                target_id,
                                fields,
                            });
                        }
                        Ok(Resolved::Ambiguous(reason)) => {
                            summary.reject += 1;
                            changes.push(Change::Reject {
                                key: prepared.key,
                                step: "target".to_string(),
                                reason,
                            });
                        }
                        found => {
                            if let Err(e) = found {
                                tracing::warn!(key = %prepared.key, "the resolve rules could not be asked: {e}");
                            }
                            summary.create += 1;
                            changes.push(Change::Create {
                                record: plan.target.sent(&prepared.payload, true).into_owned(),
                                key: Some(prepared.key),
                            });
                        }
                    }
                }
            },
            Ok(Decided::Rejected(_, rejection)) => {
                summary.reject += 1;
                changes.push(Change::Reject {
                    key: String::new(),
                    step: rejection.step,
                    reason: rejection.reason,
                });
            }
            Err(e) => {
                summary.reject += 1;
                changes.push(Change::Reject {
                    key: String::new(),
                    step: "state".into(),
                    reason: e.to_string(),
                });
            }
        }
    }
}

/// What a file target holds now, by key; `None` without a key or a readable file.
fn current_records(job: &JobPlan) -> Option<HashMap<String, Record>> {
    let (TargetPlan::File(spec, _), Some(key)) = (&job.target, &job.key) else {
        return None;
    };
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
                    "{} -> {}: {} to create, {}{} to update, {} unchanged, {} to remove, {} rejected",
                    job.job,
                    job.target,
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
                    Change::Update { key, fields } => {
                        let parts: Vec<String> = fields
                            .iter()
                            .map(|(f, d)| match d.get("from") {
                                Some(from) => format!("{f}: {from} -> {}", d["to"]),
                                None => format!("{f}: {}", d["to"]),
                            })
                            .collect();
                        writeln!(out, "  ~ {key}: {}", parts.join(", "))
                    }
                    Change::Remove { key } => writeln!(out, "  - {key}"),
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
