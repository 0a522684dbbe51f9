//! A `then:` webhook job in a run: its notifications name records another job pulls, which
//! `syncline serve` does as they arrive; a run only says how many wait.

use std::time::Instant;

use super::report::{JobReport, JobStatus};
use crate::connectors::webhook::inbox;
use crate::plan::webhook::Trigger;
use crate::state::{JobId, StateStore};

/// Succeeded when nothing waits; skipped, saying how many notifications wait, otherwise:
/// the records they name are not pulled by this run.
pub fn waiting(job: &JobId, trigger: &Trigger, state: &dyn StateStore) -> JobReport {
    let started = Instant::now();
    let status = match inbox::pending(state, job, inbox::PER_RUN + 1) {
        Ok(waiting) if waiting.is_empty() => JobStatus::Succeeded,
        Ok(waiting) => {
            let count = if waiting.len() > inbox::PER_RUN {
                format!("more than {}", inbox::PER_RUN)
            } else {
                waiting.len().to_string()
            };
            JobStatus::Skipped(format!(
                "{count} notifications wait for `syncline serve`, which has `{}` pull the records they name",
                trigger.job_name
            ))
        }
        Err(e) => JobStatus::Failed(e.to_string()),
    };
    let mut report = JobReport::new(&job.job, status);
    report.seconds = started.elapsed().as_secs_f64();
    report
}
