//! The run report: per job, what was read, written, filtered and rejected (with the top reasons),
//! in business terms for people and as JSON for machines.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::deliver::decide::Delivered;
use crate::steps::Rejection;

// Deserialize: a saved dry-run plan is read back by `apply`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum JobStatus {
    Succeeded,
    /// The job could not run to the end; nothing it wrote was committed.
    Failed(String),
    /// A job it needs did not succeed.
    Skipped(String),
    /// Stopped by Ctrl-C; nothing it wrote was committed.
    Cancelled,
}

/// Why records were rejected: one line per step and reason, with how many.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonCount {
    pub step: String,
    pub reason: String,
    pub count: u64,
    /// Keys of the first records rejected for this reason.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub job: String,
    #[serde(flatten)]
    pub status: JobStatus,
    pub read: u64,
    pub written: u64,
    pub filtered: u64,
    pub rejected: u64,
    /// Records whose references do not exist yet, kept for the next run (`missing_refs: defer`).
    pub deferred: u64,
    /// Records the checkpoint says were already synced.
    pub before_checkpoint: u64,
    /// For keyed targets: created, updated, unchanged, linked, skipped, deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Delivered>,
    pub reasons: Vec<ReasonCount>,
    pub seconds: f64,
}

impl JobReport {
    /// A job's report before it has read anything.
    pub fn new(job: &str, status: JobStatus) -> Self {
        JobReport {
            job: job.to_string(),
            status,
            read: 0,
            written: 0,
            filtered: 0,
            rejected: 0,
            deferred: 0,
            before_checkpoint: 0,
            delivered: None,
            reasons: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// Rejections gathered during a job, grouped by step and reason.
#[derive(Debug, Default)]
pub struct Rejections {
    pub total: u64,
    groups: Vec<ReasonCount>,
    /// The keys deferred so far: a record read twice in a run (replayed, then read again
    /// through a look-back) is one deferral.
    deferred: std::collections::HashSet<String>,
}

const EXAMPLES_PER_REASON: usize = 3;
/// Reasons that name a value each make their own group; a file of a million distinct errors
/// must not grow the report without bound.
const MAX_REASONS: usize = 1000;

impl Rejections {
    /// Whether `key` is deferred for the first time in this run.
    pub fn defer(&mut self, key: &str) -> bool {
        self.deferred.insert(key.to_string())
    }

    pub fn add(&mut self, rejection: &Rejection, key: String) {
        self.total += 1;
        let known = self
            .groups
            .iter()
            .position(|g| g.step == rejection.step && g.reason == rejection.reason);
        if let Some(i) = known {
            let group = &mut self.groups[i];
            group.count += 1;
            if group.examples.len() < EXAMPLES_PER_REASON {
                group.examples.push(key);
            }
        } else if self.groups.len() < MAX_REASONS {
            self.groups.push(ReasonCount {
                step: rejection.step.clone(),
                reason: rejection.reason.clone(),
                count: 1,
                examples: vec![key],
            });
        }
    }

    /// Adds the rejections gathered by another stage of the same job.
    pub fn merge(&mut self, other: Rejections) {
        self.total += other.total;
        for group in other.groups {
            let known = self
                .groups
                .iter()
                .position(|g| g.step == group.step && g.reason == group.reason);
            match known {
                Some(i) => {
                    let mine = &mut self.groups[i];
                    mine.count += group.count;
                    let room = EXAMPLES_PER_REASON.saturating_sub(mine.examples.len());
                    mine.examples.extend(group.examples.into_iter().take(room));
                }
                None if self.groups.len() < MAX_REASONS => self.groups.push(group),
                None => {}
            }
        }
    }

    /// The most frequent reasons first.
    pub fn top(mut self, n: usize) -> Vec<ReasonCount> {
        self.groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        self.groups.truncate(n);
        self.groups
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub dry_run: bool,
    pub jobs: Vec<JobReport>,
    pub seconds: f64,
}

impl RunReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would write"
        } else {
            "written"
        };
        for job in &self.jobs {
            let _ = match &job.status {
                JobStatus::Succeeded => {
                    let unchanged = job
                        .delivered
                        .map(|d| format!(", {} unchanged", d.unchanged))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{}: {} read, {} {verb}{unchanged}, {} filtered out, {} rejected ({:.2}s)",
                        job.job, job.read, job.written, job.filtered, job.rejected, job.seconds
                    )
                }
                JobStatus::Failed(reason) => {
                    writeln!(out, "{}: FAILED after {} read: {reason}", job.job, job.read)
                }
                JobStatus::Skipped(reason) => writeln!(out, "{}: skipped: {reason}", job.job),
                JobStatus::Cancelled if job.delivered.is_some() => writeln!(
                    out,
                    "{}: cancelled after {} read; what the target acknowledged is remembered",
                    job.job, job.read
                ),
                JobStatus::Cancelled => writeln!(
                    out,
                    "{}: cancelled after {} read; nothing written",
                    job.job, job.read
                ),
            };
            if let Some(d) = &job.delivered {
                let deleted = if d.deleted > 0 {
                    format!(", {} deleted", d.deleted)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "    {} created, {} updated, {} unchanged, {} linked to existing records, {} skipped{deleted}",
                    d.created, d.updated, d.unchanged, d.linked, d.skipped
                );
            }
            if job.deferred > 0 {
                let _ = writeln!(
                    out,
                    "    {} deferred to the next run (references not there yet)",
                    job.deferred
                );
            }
            if job.before_checkpoint > 0 {
                let _ = writeln!(
                    out,
                    "    {} already synced before the checkpoint",
                    job.before_checkpoint
                );
            }
            for reason in &job.reasons {
                let _ = writeln!(
                    out,
                    "    {} rejected by {}: {} (e.g. {})",
                    reason.count,
                    reason.step,
                    reason.reason,
                    reason.examples.join(", ")
                );
            }
        }
        let _ = writeln!(out, "{} in {:.2}s", summary(self), self.seconds);
        out
    }
}

fn summary(report: &RunReport) -> String {
    let written: u64 = report.jobs.iter().map(|j| j.written).sum();
    let rejected: u64 = report.jobs.iter().map(|j| j.rejected).sum();
    let failed = report
        .jobs
        .iter()
        .filter(|j| !matches!(j.status, JobStatus::Succeeded))
        .count();
    let verb = if report.dry_run {
        "would be written"
    } else {
        "written"
    };
    let mut text = format!(
        "{}: {} {verb}, {rejected} rejected",
        count(report.jobs.len(), "job", "jobs"),
        count(written as usize, "record", "records")
    );
    if failed > 0 {
        let _ = write!(
            text,
            ", {} not succeed",
            count(failed, "job did", "jobs did")
        );
    }
    text
}

/// `1 job`, `2 jobs`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
