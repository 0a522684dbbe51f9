//! The running service: the loop that starts what is due, the runs it started, and what the
//! HTTP side asks of them (a run by hand, the jobs' status).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::deployment::Deployments;
use super::scheduler::{Busy, Decision};
use crate::plan::{Plan, TargetPlan};
use crate::runtime::report::{JobReport, JobStatus};
use crate::runtime::{KeySet, RunOptions, Selection};
use crate::state::{Change, JobId, JobRun, StateStore};

/// How often files are checked for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// What the loop, the runs and the HTTP handlers share.
pub struct Service {
    deployments: Mutex<Deployments>,
    /// Wakes the loop: a run ended (the jobs that wait for it may start).
    wake: Notify,
    /// Set on SIGTERM / Ctrl-C: runs finish their current window, checkpoint and stop.
    cancel: Arc<AtomicBool>,
    in_flight: AtomicUsize,
    idle: Notify,
    pub started: DateTime<Utc>,
}

/// Why a run asked for cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RunRefused {
    #[error("no pipeline `{0}`")]
    NoPipeline(String),
    #[error("the pipeline `{pipeline}` has no job `{job}`")]
    NoJob { pipeline: String, job: String },
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("stopping: no new runs")]
    Stopping,
}

impl Service {
    pub fn new(deployments: Deployments) -> Arc<Service> {
        Arc::new(Service {
            deployments: Mutex::new(deployments),
            wake: Notify::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            started: Utc::now(),
        })
    }

    fn deployments(&self) -> MutexGuard<'_, Deployments> {
        // A panic while holding it leaves plain data behind: keep serving.
        self.deployments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts what is due, reloads changed files, until `stop` turns true; then lets the runs
    /// under way finish their current window and returns.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut next_reload = tokio::time::Instant::now() + RELOAD_EVERY;
        loop {
            if *stop.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_reload {
                self.deployments().refresh(Utc::now());
                next_reload = tokio::time::Instant::now() + RELOAD_EVERY;
            }
            let now = Utc::now();
            let wakeup = self.start_due(now);
            let until_due = wakeup
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::ZERO);
            let until_reload = next_reload.saturating_duration_since(tokio::time::Instant::now());
            let sleep = if wakeup.is_some() {
                until_due.min(until_reload)
            } else {
                until_reload
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
        self.cancel.store(true, Ordering::Relaxed);
        while self.in_flight.load(Ordering::Acquire) > 0 {
            tracing::info!(
                runs = self.in_flight.load(Ordering::Acquire),
                "stopping: waiting for the runs under way to finish their current window"
            );
            let _ = tokio::time::timeout(Duration::from_secs(5), self.idle.notified()).await;
        }
        for store in self.deployments().stores() {
            if let Err(e) = store.flush() {
                tracing::error!("the state could not be flushed: {e}");
            }
        }
    }

    /// Starts the runs due at `now`; returns when something is next due.
    fn start_due(self: &Arc<Self>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut launches = Vec::new();
        let mut deployments = self.deployments();
        for deployed in deployments.running.values_mut() {
            for decision in deployed.scheduler.due(now) {
                match decision {
                    Decision::Run { jobs, due } => launches.push(Launch {
                        file: deployed.file.clone(),
                        plan: deployed.plan.clone(),
                        state: deployed.state.clone(),
                        jobs,
                        keys: None,
                        due,
                    }),
                    Decision::Skip { job, due, reason } => tracing::warn!(
                        pipeline = %deployed.plan.name,
                        job = %deployed.plan.jobs[job].name,
                        due = %due.to_rfc3339(),
                        "skipped: {reason}"
                    ),
                }
            }
        }
        let wakeup = deployments
            .running
            .values()
            .filter_map(|d| d.scheduler.next_wakeup())
            .min();
        drop(deployments);
        for launch in launches {
            self.launch(launch);
        }
        wakeup
    }

    /// A run of one job asked for by hand or by a webhook, for some of its records or all.
    pub fn run_now(
        self: &Arc<Self>,
        pipeline: &str,
        job: &str,
        keys: Option<KeySet>,
    ) -> Result<(), RunRefused> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(RunRefused::Stopping);
        }
        let mut deployments = self.deployments();
        let deployed = deployments
            .named(pipeline)
            .ok_or_else(|| RunRefused::NoPipeline(pipeline.to_string()))?;
        let index = deployed
            .plan
            .jobs
            .iter()
            .position(|j| j.name == job)
            .ok_or_else(|| RunRefused::NoJob {
                pipeline: pipeline.to_string(),
                job: job.to_string(),
            })?;
        deployed.scheduler.run_now(index)?;
        let launch = Launch {
            file: deployed.file.clone(),
            plan: deployed.plan.clone(),
            state: deployed.state.clone(),
            jobs: vec![index],
            keys,
            due: Utc::now(),
        };
        drop(deployments);
        self.launch(launch);
        Ok(())
    }

    fn launch(self: &Arc<Self>, launch: Launch) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let service = self.clone();
        tokio::spawn(async move {
            let Launch {
                file,
                plan,
                state,
                jobs,
                keys,
                due,
            } = launch;
            let started = Utc::now();
            let options = RunOptions {
                recorder: None,
                progress: false,
                quarantine: None,
                state: state.clone(),
                replay: None,
                only: Selection {
                    jobs: Some(jobs),
                    keys,
                },
            };
            let outcome = crate::runtime::run(plan.clone(), options, service.cancel.clone()).await;
            let ended = Utc::now();
            let mut runs = Vec::new();
            for report in &outcome.report.jobs {
                log_run(&plan.name, report);
                super::metrics::record_run(&plan.name, report, ended.timestamp());
                let id = JobId {
                    pipeline: plan.name.clone(),
                    job: report.job.clone(),
                };
                let before = state.job_run(&id).ok().flatten();
                let run = job_run(report, due, started, ended, before.as_ref());
                runs.push((report.job.clone(), run.clone()));
                if let Err(e) = state.apply(vec![Change::JobRun { job: id, run }]) {
                    tracing::error!(pipeline = %plan.name, job = %report.job, "the run could not be recorded: {e}");
                }
            }
            if let Err(e) = state.flush() {
                tracing::error!(pipeline = %plan.name, "the state could not be flushed: {e}");
            }
            service.finished(&file, &plan, runs);
            if service.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
                service.idle.notify_waiters();
            }
            service.wake.notify_one();
        });
    }

    /// Tells the scheduler of `file` (by job name: the file may have been reloaded meanwhile).
    fn finished(&self, file: &PathBuf, plan: &Plan, runs: Vec<(String, JobRun)>) {
        let mut deployments = self.deployments();
        let Some(deployed) = deployments.running.get_mut(file) else {
            return;
        };
        if deployed.plan.name != plan.name {
            return;
        }
        for (job, run) in runs {
            if let Some(index) = deployed.scheduler.slots.iter().position(|s| s.name == job) {
                deployed.scheduler.finished(index, run);
            }
        }
    }

    /// Every job of every pipeline, for `GET /api/jobs` and the page.
    pub fn jobs(&self) -> Vec<JobView> {
        let deployments = self.deployments();
        let mut views = Vec::new();
        for deployed in deployments.running.values() {
            for slot in &deployed.scheduler.slots {
                let quarantined = deployed
                    .state
                    .quarantined(&deployed.plan.name, Some(&slot.name))
                    .map_or(0, |q| q.len());
                views.push(JobView {
                    pipeline: deployed.plan.name.clone(),
                    job: slot.name.clone(),
                    file: deployed.file.display().to_string(),
                    running: slot.running,
                    runs: slot.runs,
                    skipped: slot.skipped,
                    last_run: slot.last.as_ref().map(LastRunView::from),
                    next_run: slot
                        .next
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    quarantined,
                });
            }
        }
        views
    }

    /// Sets the gauges of what waits: each job's outbox and quarantine.
    pub fn measure_waiting(&self) {
        let deployments = self.deployments();
        for deployed in deployments.running.values() {
            let name = &deployed.plan.name;
            for job in &deployed.plan.jobs {
                let outbox = match &job.target {
                    TargetPlan::Keyed(keyed) => deployed
                        .state
                        .pending(&keyed.ns)
                        .map_or(0, |windows| windows.iter().map(|w| w.writes.len()).sum()),
                    _ => 0,
                };
                let quarantined = deployed
                    .state
                    .quarantined(name, Some(&job.name))
                    .map_or(0, |q| q.len());
                super::metrics::set_waiting(name, &job.name, outbox, quarantined);
            }
        }
    }

    /// The files that do not run as they are now, with their problems.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.deployments()
            .problems()
            .map(|(file, problem)| (file.display().to_string(), problem.to_string()))
            .collect()
    }
}

struct Launch {
    file: PathBuf,
    plan: Arc<Plan>,
    state: Arc<dyn StateStore>,
    jobs: Vec<usize>,
    keys: Option<KeySet>,
    due: DateTime<Utc>,
}

/// One job in `GET /api/jobs`.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub pipeline: String,
    pub job: String,
    pub file: String,
    pub running: bool,
    /// Runs completed since `serve` started.
    pub runs: u64,
    /// Runs skipped since `serve` started (still running when due again, a needed job failed).
    pub skipped: u64,
    pub last_run: Option<LastRunView>,
    /// RFC 3339; none for a job without `schedule`.
    pub next_run: Option<String>,
    /// Records of the job in the quarantine now.
    pub quarantined: usize,
}

#[derive(Debug, Serialize)]
pub struct LastRunView {
    pub started: String,
    pub ended: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
}

impl From<&JobRun> for LastRunView {
    fn from(run: &JobRun) -> Self {
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        LastRunView {
            started: time(run.started),
            ended: time(run.ended),
            status: run.status.clone(),
            reason: run.reason.clone(),
            read: run.read,
            written: run.written,
            rejected: run.rejected,
        }
    }
}

fn job_run(
    report: &JobReport,
    due: DateTime<Utc>,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
    before: Option<&JobRun>,
) -> JobRun {
    let (status, reason) = match &report.status {
        JobStatus::Succeeded => ("succeeded", None),
        JobStatus::Failed(reason) => ("failed", Some(reason.clone())),
        JobStatus::Skipped(reason) => ("skipped", Some(reason.clone())),
        JobStatus::Cancelled => ("cancelled", None),
    };
    let succeeded = matches!(report.status, JobStatus::Succeeded);
    JobRun {
        due: due.timestamp(),
        started: started.timestamp(),
        ended: ended.timestamp(),
        status: status.to_string(),
        reason,
        read: report.read,
        written: report.written,
        rejected: report.rejected,
        succeeded: if succeeded {
            Some(ended.timestamp())
        } else {
            before.and_then(|b| b.succeeded)
        },
    }
}

fn log_run(pipeline: &str, report: &JobReport) {
    match &report.status {
        JobStatus::Failed(reason) => tracing::error!(
            pipeline, job = %report.job, read = report.read, written = report.written,
            rejected = report.rejected, "failed: {reason}"
        ),
        JobStatus::Skipped(reason) => {
            tracing::warn!(pipeline, job = %report.job, "skipped: {reason}")
        }
        _ => tracing::info!(
            pipeline, job = %report.job, status = ?report.status, read = report.read,
            written = report.written, rejected = report.rejected, seconds = report.seconds,
            "run ended"
        ),
    }
}
