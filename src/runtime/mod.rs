//! Runs a [`Plan`]: every job as a task that starts once the jobs it needs have succeeded, so
//! independent jobs run at the same time and a failed job stops only the jobs that depend on it.

pub mod deliver;
pub mod dry;
pub mod job;
pub mod only_changed;
pub mod quarantine;
pub mod replay;
pub mod report;
pub mod selection;
pub mod webhook;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

use crate::plan::Plan;
use crate::state::{Quarantined, StateStore};
use job::{Counts, JobContext, QuarantineFile, run_job};
use report::{JobReport, JobStatus, RunReport};
pub use selection::{KeySet, Selection};

pub struct RunOptions {
    /// A dry run: what would be written goes to the recorder, nothing is written.
    pub recorder: Option<Arc<dyn dry::Recorder>>,
    /// Draw progress bars (on a terminal).
    pub progress: bool,
    /// Where rejected records go, one JSON object a line.
    pub quarantine: Option<Box<dyn std::io::Write + Send>>,
    /// Checkpoints, ID maps, the quarantine (a copy in memory for dry-runs).
    pub state: Arc<dyn StateStore>,
    /// `state quarantine replay`: the plan's (single) job runs these entries instead of its
    /// source.
    pub replay: Option<Vec<(u64, Quarantined)>>,
    /// Which jobs run, and which of their records (everything by default).
    pub only: Selection,
}

pub struct RunOutcome {
    pub report: RunReport,
}

pub async fn run(plan: Arc<Plan>, options: RunOptions, cancel: Arc<AtomicBool>) -> RunOutcome {
    let started = Instant::now();
    // What `{run_time}` stands for in file targets' paths: one time for every job of the run.
    let run_time = chrono::Utc::now();
    let quarantine: Option<Arc<QuarantineFile>> =
        options.quarantine.map(|q| Arc::new(Mutex::new(q)));
    let bars = MultiProgress::with_draw_target(if options.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let replay = options.replay.map(Arc::new);
    let keys = options.only.keys.clone().map(Arc::new);
    let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    // Each job announces whether it succeeded; dependants wait for that.
    let (done_tx, done_rx): (Vec<_>, Vec<_>) = plan
        .jobs
        .iter()
        .map(|_| watch::channel(None::<bool>))
        .unzip();
    let mut handles = Vec::with_capacity(plan.jobs.len());
    for (index, done) in done_tx.into_iter().enumerate() {
        if !options.only.runs(index) {
            continue;
        }
        let plan = plan.clone();
        let needs: Vec<(String, watch::Receiver<Option<bool>>)> = plan.jobs[index]
            .needs
            .iter()
            .filter(|&&n| options.only.runs(n))
            .map(|&n| (plan.jobs[n].name.clone(), done_rx[n].clone()))
            .collect();
        let keys = keys.clone();
        let cancel = cancel.clone();
        let quarantine = quarantine.clone();
        let state = options.state.clone();
        let replay = replay.clone();
        let bar = bars.add(
            ProgressBar::new_spinner()
                .with_style(style.clone())
                .with_prefix(plan.jobs[index].name.clone()),
        );
        let recorder = options.recorder.clone();
        handles.push((
            index,
            tokio::spawn(async move {
                let name = plan.jobs[index].name.clone();
                let mut failed_need = None;
                for (need, mut rx) in needs {
                    let succeeded = rx
                        .wait_for(Option::is_some)
                        .await
                        .map(|v| *v == Some(true))
                        .unwrap_or(false);
                    if !succeeded {
                        failed_need = Some(need);
                        break;
                    }
                }
                let report = match failed_need {
                    Some(need) => {
                        skipped(&name, format!("it needs `{need}`, which did not succeed"))
                    }
                    None => {
                        bar.enable_steady_tick(Duration::from_millis(120));
                        let bar_for_job = bar.clone();
                        tokio::task::spawn_blocking(move || {
                            let progress = |c: &Counts| {
                                bar_for_job.set_message(format!(
                                    "{} read, {} written, {} rejected",
                                    c.read, c.written, c.rejected
                                ))
                            };
                            let runtime = tokio::runtime::Handle::current();
                            let ctx = JobContext {
                                cancel: &cancel,
                                runtime: &runtime,
                                progress: &progress,
                                quarantine: quarantine.as_deref(),
                                recorder: recorder.as_deref(),
                                pipeline: &plan.name,
                                state: state.as_ref(),
                                replay: replay.as_deref().map(Vec::as_slice),
                                keys: keys.as_deref(),
                                run_time,
                            };
                            run_job(&plan.jobs[index], &ctx)
                        })
                        .await
                        .unwrap_or_else(|e| {
                            failed(&name, format!("the job stopped unexpectedly: {e}"))
                        })
                    }
                };
                bar.finish_and_clear();
                let _ = done.send(Some(matches!(report.status, JobStatus::Succeeded)));
                report
            }),
        ));
    }
    let mut jobs = Vec::with_capacity(handles.len());
    for (index, handle) in handles {
        jobs.push(
            handle
                .await
                .unwrap_or_else(|e| failed(&plan.jobs[index].name, e.to_string())),
        );
    }
    if let Some(q) = quarantine
        .as_ref()
        .and_then(|q| q.lock().ok().map(|mut w| w.flush()))
        && let Err(e) = q
    {
        tracing::warn!("the quarantine file could not be written: {e}");
    }
    let report = RunReport {
        pipeline: plan.name.clone(),
        dry_run: options.recorder.is_some(),
        jobs,
        seconds: started.elapsed().as_secs_f64(),
    };
    RunOutcome { report }
}

fn skipped(name: &str, reason: String) -> JobReport {
    JobReport::new(name, JobStatus::Skipped(reason))
}

fn failed(name: &str, reason: String) -> JobReport {
    JobReport::new(name, JobStatus::Failed(reason))
}
