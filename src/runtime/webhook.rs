//! A `then:` webhook job in a run: its notifications name records another job pulls, which
//! `syncline serve` does as they arrive; a run only says how many wait.

use std::time::Instant;

use super::job::JobContext;
use super::report::{JobReport, JobStatus};
use crate::connectors::webhook::inbox;
use crate::plan::JobPlan;
use crate::plan::webhook::Trigger;
use crate::state::JobId;

/// Succeeded when nothing waits; skipped, saying how many notifications wait, otherwise:
/// the records they name are not pulled by this run.
pub fn waiting(job: &JobPlan, trigger: &Trigger, ctx: &JobContext) -> JobReport {
    let started = Instant::now();
    let id = JobId {
        pipeline: ctx.pipeline.to_string(),
        job: job.name.clone(),
    };
    let status = match inbox::pending(ctx.state, &id, inbox::PER_RUN + 1) {
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
    let mut report = JobReport::new(&job.name, status);
    report.seconds = started.elapsed().as_secs_f64();
    report
}
