//! The running service: the loop that starts what is due, the runs it started, and what the
//! HTTP side asks of them (a run by hand, the jobs' status).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::alerts::{AlertPlan, send_alerts};
use super::deployment::{Deployed, Deployments};
use super::scheduler::{Busy, Decision};
use crate::connectors::webhook::{Received, Refusal, inbox, receive};
use crate::dry_run::apply::{ApplyError, ApplyReport, Outcome, Selection as ApplySelection, apply};
use crate::dry_run::{Change as PlannedChange, DryRunPlan, JobPlanOutput, PlanRecorder};
use crate::plan::{Plan, TargetPlan};
use crate::runtime::report::{JobReport, JobStatus};
use crate::runtime::{KeySet, RunOptions, Selection};
use crate::state::{Change, JobId, JobRun, Quarantined, ReadOnly, StateError, StateStore};

/// Notifications counted at most in a job's inbox, for `/metrics`.
const COUNTED: usize = 100_000;

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
    /// Runs at once: the others wait their turn (a machine runs a few well, not a thousand).
    turns: Arc<tokio::sync::Semaphore>,
    pub started: DateTime<Utc>,
}

/// Why a pending plan was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyRefused {
    #[error(transparent)]
    Run(#[from] RunRefused),
    #[error("`{0}` has no pending changes")]
    NothingPending(String),
    #[error(transparent)]
    Plan(#[from] ApplyError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a notification was not taken.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefused {
    #[error("no webhook job listens here")]
    NoEndpoint,
    #[error(transparent)]
    Refused(Refusal),
    #[error("the notification could not be stored")]
    Crashed,
}

/// Why a quarantined record was not replayed (or dropped).
#[derive(Debug, thiserror::Error)]
pub enum ReplayRefused {
    #[error(transparent)]
    Run(#[from] RunRefused),
    #[error("no quarantine entry {0}: it was replayed, settled or dropped since")]
    NoEntry(u64),
    #[error("the record could not be read ({0}): fix the source, or drop the entry")]
    Unreadable(String),
    #[error(transparent)]
    State(#[from] StateError),
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
    pub fn new(deployments: Deployments, concurrency: usize) -> Arc<Service> {
        Arc::new(Service {
            deployments: Mutex::new(deployments),
            wake: Notify::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            turns: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
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
                    Decision::Run { jobs, due } => {
                        launches.push(Launch::of(deployed, jobs, None, None, due))
                    }
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
        let (deployed, index) = find(&mut deployments, pipeline, job)?;
        deployed.scheduler.run_now(index)?;
        let launch = Launch::of(deployed, vec![index], keys, None, Utc::now());
        drop(deployments);
        self.launch(launch);
        Ok(())
    }

    fn launch(self: &Arc<Self>, launch: Launch) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let service = self.clone();
        tokio::spawn(async move {
            // Its turn; the job counts as running meanwhile, so it is not launched twice.
            let _turn = service.turns.clone().acquire_owned().await;
            let started = Utc::now();
            let late = (started - launch.due).to_std().unwrap_or_default();
            metrics::histogram!("syncline_start_delay_seconds").record(late.as_secs_f64());
            // Jobs under review run after the others of the launch (the jobs they need), and
            // only as far as a plan; a `then:` job has another job pull what it was notified of.
            let mut direct = Vec::new();
            let mut review = Vec::new();
            let mut triggers = Vec::new();
            for &job in &launch.jobs {
                match &launch.plan.jobs[job] {
                    j if matches!(j.target, TargetPlan::Trigger(_)) => triggers.push(job),
                    j if j.review => review.push(job),
                    _ => direct.push(job),
                }
            }
            let mut reports = Vec::new();
            if service.cancel.load(Ordering::Relaxed) {
                // Stopping while it waited for its turn: it does not start.
                direct.clear();
                triggers.clear();
                review.clear();
            }
            if !direct.is_empty() {
                let options = RunOptions {
                    recorder: None,
                    progress: false,
                    quarantine: None,
                    state: launch.state.clone(),
                    replay: launch.replay.clone(),
                    only: Selection {
                        jobs: Some(direct),
                        keys: launch.keys.clone(),
                    },
                };
                let run = crate::runtime::run(launch.plan.clone(), options, service.cancel.clone());
                let report = run.await.report;
                if let Some(alerts) = &launch.alerts {
                    let now = Utc::now().timestamp();
                    send_alerts(alerts, &report, launch.state.as_ref(), now).await;
                }
                reports.extend(report.jobs);
            }
            for job in triggers {
                reports.push(service.pull_notified(&launch, job).await);
            }
            if !review.is_empty() && !service.cancel.load(Ordering::Relaxed) {
                reports.extend(service.hold_for_review(&launch, review).await);
            }
            let ended = Utc::now();
            let runs = record_runs(&launch, &reports, started, ended);
            service.finished(&launch.file, &launch.plan, runs);
            service.notify_waiting(&launch);
            if service.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
                service.idle.notify_waiters();
            }
            service.wake.notify_one();
        });
    }

    /// A `then:` job: the job it names pulls the records its waiting notifications name; once
    /// that run succeeded, the notifications are done.
    async fn pull_notified(&self, launch: &Launch, job: usize) -> JobReport {
        let plan = &launch.plan;
        let name = plan.jobs[job].name.clone();
        let id = JobId {
            pipeline: plan.name.clone(),
            job: name.clone(),
        };
        let waiting = match inbox::pending(launch.state.as_ref(), &id, inbox::PER_RUN) {
            Ok(waiting) => waiting,
            Err(e) => {
                return JobReport::new(&name, JobStatus::Failed(format!("its inbox: {e}")));
            }
        };
        let mut pulled = None;
        let mut keys = KeySet::new();
        for (_, notification) in &waiting {
            match plan.trigger_keys(job, notification) {
                Some((target, found)) => {
                    pulled = Some(target);
                    keys.extend(found);
                }
                None => tracing::warn!(
                    pipeline = %plan.name, job = %name,
                    "a notification names no record to pull: it is dropped"
                ),
            }
        }
        let mut report = JobReport::new(&name, JobStatus::Succeeded);
        report.read = waiting.len() as u64;
        if let (Some(target), false) = (pulled, keys.is_empty()) {
            let options = RunOptions {
                recorder: None,
                progress: false,
                quarantine: None,
                state: launch.state.clone(),
                replay: None,
                only: Selection {
                    jobs: Some(vec![target]),
                    keys: Some(keys),
                },
            };
            let run = crate::runtime::run(plan.clone(), options, self.cancel.clone()).await;
            if let Some(alerts) = &launch.alerts {
                send_alerts(
                    alerts,
                    &run.report,
                    launch.state.as_ref(),
                    Utc::now().timestamp(),
                )
                .await;
            }
            for pull in run.report.jobs {
                log_run(&plan.name, &pull, 0);
                report.written += pull.written;
                report.rejected += pull.rejected;
                if !matches!(pull.status, JobStatus::Succeeded) {
                    // The notifications stay: the next notification (or a restart) pulls again.
                    report.status = JobStatus::Failed(format!(
                        "`{}` could not pull the notified records: {}",
                        pull.job,
                        match pull.status {
                            JobStatus::Failed(reason) | JobStatus::Skipped(reason) => reason,
                            _ => "interrupted".to_string(),
                        }
                    ));
                    return report;
                }
            }
        }
        let done = inbox::processed(&id, waiting.into_iter().map(|(id, _)| id));
        if let Err(e) = launch.state.apply(done).and_then(|()| launch.state.flush()) {
            report.status = JobStatus::Failed(format!("its inbox: {e}"));
        }
        report
    }

    /// Webhook jobs of the launch whose inbox still holds notifications (more arrived while
    /// they ran, or more than one run takes) run again.
    fn notify_waiting(&self, launch: &Launch) {
        let waiting: Vec<usize> = launch
            .plan
            .webhooks()
            .into_iter()
            .filter(|route| launch.jobs.contains(&route.job))
            .filter(|route| {
                inbox::pending(launch.state.as_ref(), &route.endpoint.job, 1)
                    .is_ok_and(|w| !w.is_empty())
            })
            .map(|route| route.job)
            .collect();
        if waiting.is_empty() || self.cancel.load(Ordering::Relaxed) {
            return;
        }
        if let Some(deployed) = self.deployments().running.get_mut(&launch.file) {
            for job in waiting {
                deployed.scheduler.notify(job);
            }
        }
    }

    /// A notification posted to `path`: checked, kept in the job's inbox (durably) before the
    /// answer, then processed by a run of the job.
    pub async fn receive_webhook(
        &self,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<(), WebhookRefused> {
        let (endpoint, state, file, job, pipeline) = {
            let deployments = self.deployments();
            deployments
                .running
                .values()
                .find_map(|d| {
                    d.plan
                        .webhooks()
                        .into_iter()
                        .find(|r| r.path == path)
                        .map(|r| {
                            (
                                r.endpoint.clone(),
                                d.state.clone(),
                                d.file.clone(),
                                r.job,
                                d.plan.name.clone(),
                            )
                        })
                })
                .ok_or(WebhookRefused::NoEndpoint)?
        };
        let headers = headers.clone();
        let body = body.to_vec();
        let checked = endpoint.clone();
        // The store waits for the disk: off the request threads.
        let received = tokio::task::spawn_blocking(move || {
            receive(
                &checked,
                &headers,
                &body,
                Utc::now().timestamp(),
                state.as_ref(),
            )
        })
        .await
        .map_err(|_| WebhookRefused::Crashed)?;
        match received {
            Ok(Received::Stored { .. }) => {
                metrics::counter!("syncline_webhooks_received_total", "pipeline" => pipeline.clone(), "job" => endpoint.job.job.clone()).increment(1);
                if let Some(deployed) = self.deployments().running.get_mut(&file) {
                    deployed.scheduler.notify(job);
                }
                self.wake.notify_one();
                Ok(())
            }
            Ok(Received::Ping) => Ok(()),
            Err(refusal) => {
                tracing::warn!(pipeline = %pipeline, job = %endpoint.job.job, path, "notification refused: {refusal}");
                metrics::counter!("syncline_webhooks_refused_total", "pipeline" => pipeline, "job" => endpoint.job.job.clone()).increment(1);
                Err(WebhookRefused::Refused(refusal))
            }
        }
    }

    /// Runs `jobs` as a dry run and keeps what they would change as their pending plans, in
    /// place of the last ones.
    async fn hold_for_review(&self, launch: &Launch, jobs: Vec<usize>) -> Vec<JobReport> {
        let reading: Arc<dyn StateStore> = Arc::new(ReadOnly(launch.state.clone()));
        let recorder = Arc::new(PlanRecorder::new(launch.plan.clone(), reading.clone()));
        let options = RunOptions {
            recorder: Some(recorder.clone()),
            progress: false,
            quarantine: None,
            state: reading,
            replay: launch.replay.clone(),
            only: Selection {
                jobs: Some(jobs),
                keys: launch.keys.clone(),
            },
        };
        let outcome = crate::runtime::run(launch.plan.clone(), options, self.cancel.clone()).await;
        let reports = outcome.report.jobs.clone();
        let Ok(recorder) = Arc::try_unwrap(recorder) else {
            tracing::error!(pipeline = %launch.plan.name, "the review's recording did not end");
            return reports;
        };
        let plan = recorder.finish(outcome.report);
        let mut changes = Vec::new();
        for job in plan.jobs {
            let job_id = JobId {
                pipeline: launch.plan.name.clone(),
                job: job.job.clone(),
            };
            // A failed dry run proves nothing: the last pending plan stays.
            if !matches!(job.status, JobStatus::Succeeded) {
                continue;
            }
            let pending = pending_changes(&job) > 0;
            let held = DryRunPlan {
                pipeline: plan.pipeline.clone(),
                pipeline_file: Some(launch.file.display().to_string()),
                pipeline_hash: Some(launch.hash.clone()),
                jobs: vec![job],
            };
            let value = pending.then(|| serde_json::to_value(&held).ok()).flatten();
            changes.push(Change::Review {
                job: job_id,
                plan: value,
            });
        }
        if let Err(e) = launch.state.apply(changes) {
            tracing::error!(pipeline = %launch.plan.name, "the pending plans could not be kept: {e}");
        }
        reports
    }

    /// A review job's pending plan.
    pub fn pending(&self, pipeline: &str, job: &str) -> Result<Option<DryRunPlan>, RunRefused> {
        let mut deployments = self.deployments();
        let (deployed, _) = find(&mut deployments, pipeline, job)?;
        Ok(read_pending(deployed.state.as_ref(), pipeline, job))
    }

    /// Applies a review job's pending plan, or the changes of it with these keys; what went
    /// through leaves the pending plan.
    pub async fn apply_pending(
        self: &Arc<Self>,
        pipeline: &str,
        job: &str,
        keys: Vec<String>,
    ) -> Result<ApplyReport, ApplyRefused> {
        let (plan, hash, state, index, file) = {
            let mut deployments = self.deployments();
            let (deployed, index) = find(&mut deployments, pipeline, job)?;
            // Never at the same time as a run of the job: both write its ID map.
            deployed
                .scheduler
                .run_now(index)
                .map_err(RunRefused::Busy)?;
            (
                deployed.plan.clone(),
                deployed.hash.clone(),
                deployed.state.clone(),
                index,
                deployed.file.clone(),
            )
        };
        let result = async {
            let saved = read_pending(state.as_ref(), pipeline, job)
                .ok_or_else(|| ApplyRefused::NothingPending(job.to_string()))?;
            let only = ApplySelection {
                jobs: vec![job.to_string()],
                keys,
            };
            let report = apply(plan.clone(), &hash, &saved, &only, state.clone()).await?;
            let done: Vec<&str> = report
                .jobs
                .iter()
                .flat_map(|j| &j.changes)
                .filter(|c| matches!(c.outcome, Outcome::Applied | Outcome::AlreadyApplied))
                .map(|c| c.key.as_str())
                .collect();
            let mut left = saved;
            for job in &mut left.jobs {
                job.changes
                    .retain(|c| !c.key().is_some_and(|k| done.contains(&k)));
            }
            let value = (left.jobs.iter().map(pending_changes).sum::<usize>() > 0)
                .then(|| serde_json::to_value(&left).ok())
                .flatten();
            let id = JobId {
                pipeline: plan.name.clone(),
                job: job.to_string(),
            };
            state.apply(vec![Change::Review {
                job: id,
                plan: value,
            }])?;
            state.flush()?;
            Ok(report)
        }
        .await;
        self.release(&file, index);
        result
    }

    /// The job may run again (an apply ended).
    fn release(&self, file: &PathBuf, index: usize) {
        if let Some(deployed) = self.deployments().running.get_mut(file)
            && let Some(slot) = deployed.scheduler.slots.get_mut(index)
        {
            slot.running = false;
        }
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
                let review = deployed
                    .plan
                    .jobs
                    .iter()
                    .any(|j| j.name == slot.name && j.review);
                let pending = if review {
                    read_pending(deployed.state.as_ref(), &deployed.plan.name, &slot.name)
                        .map_or(0, |p| p.jobs.iter().map(pending_changes).sum())
                } else {
                    0
                };
                views.push(JobView {
                    review,
                    pending,
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
            for route in deployed.plan.webhooks() {
                let waiting = inbox::pending(deployed.state.as_ref(), &route.endpoint.job, COUNTED)
                    .map_or(0, |w| w.len());
                super::metrics::set_notifications(name, &route.endpoint.job.job, waiting);
            }
        }
    }

    /// Runs a quarantined record again, from the step that rejected it; with `edits`, its
    /// fields corrected first (text given for a number or a boolean is read as one).
    pub fn replay(
        self: &Arc<Self>,
        pipeline: &str,
        job: &str,
        id: u64,
        edits: Option<Vec<(String, String)>>,
    ) -> Result<(), ReplayRefused> {
        let mut deployments = self.deployments();
        let (deployed, index) = find(&mut deployments, pipeline, job)?;
        let mut entries = deployed.state.quarantined(pipeline, Some(job))?;
        entries.retain(|(entry, _)| *entry == id);
        let Some((_, entry)) = entries.first_mut() else {
            return Err(ReplayRefused::NoEntry(id));
        };
        if let Some(edits) = edits {
            crate::runtime::replay::correct(&mut entry.record, edits);
        }
        let (replayable, unreadable) = crate::runtime::replay::prepare(
            &deployed.plan.jobs[index],
            deployed.state.as_ref(),
            entries,
        )?;
        if let Some((_, entry)) = unreadable.first() {
            return Err(ReplayRefused::Unreadable(entry.reason.clone()));
        }
        deployed
            .scheduler
            .run_now(index)
            .map_err(RunRefused::Busy)?;
        let launch = Launch::of(deployed, vec![index], None, Some(replayable), Utc::now());
        drop(deployments);
        self.launch(launch);
        Ok(())
    }

    /// Removes a quarantine entry for good.
    pub fn drop_quarantined(&self, pipeline: &str, id: u64) -> Result<(), ReplayRefused> {
        let mut deployments = self.deployments();
        let deployed = deployments
            .named(pipeline)
            .ok_or_else(|| RunRefused::NoPipeline(pipeline.to_string()))?;
        deployed.state.apply(vec![Change::Release {
            pipeline: pipeline.to_string(),
            id,
        }])?;
        deployed.state.flush()?;
        Ok(())
    }

    /// A job's open quarantine entries.
    pub fn quarantined(
        &self,
        pipeline: &str,
        job: &str,
    ) -> Result<Vec<(u64, Quarantined)>, RunRefused> {
        let mut deployments = self.deployments();
        let deployed = deployments
            .named(pipeline)
            .ok_or_else(|| RunRefused::NoPipeline(pipeline.to_string()))?;
        Ok(deployed
            .state
            .quarantined(pipeline, Some(job))
            .unwrap_or_default())
    }

    /// The files that do not run as they are now, with their problems.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.deployments()
            .problems()
            .map(|(file, problem)| (file.display().to_string(), problem.to_string()))
            .collect()
    }
}

/// The pipeline named `pipeline`, and the index of its job `job`.
fn find<'d>(
    deployments: &'d mut Deployments,
    pipeline: &str,
    job: &str,
) -> Result<(&'d mut Deployed, usize), RunRefused> {
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
    Ok((deployed, index))
}

struct Launch {
    file: PathBuf,
    plan: Arc<Plan>,
    hash: String,
    alerts: Option<Arc<AlertPlan>>,
    /// Quarantined records to run again instead of reading the source.
    replay: Option<Vec<(u64, Quarantined)>>,
    state: Arc<dyn StateStore>,
    jobs: Vec<usize>,
    keys: Option<KeySet>,
    due: DateTime<Utc>,
}

impl Launch {
    fn of(
        deployed: &Deployed,
        jobs: Vec<usize>,
        keys: Option<KeySet>,
        replay: Option<Vec<(u64, Quarantined)>>,
        due: DateTime<Utc>,
    ) -> Launch {
        Launch {
            file: deployed.file.clone(),
            plan: deployed.plan.clone(),
            hash: deployed.hash.clone(),
            alerts: deployed.alerts.clone(),
            replay,
            state: deployed.state.clone(),
            jobs,
            keys,
            due,
        }
    }
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
    /// Its changes wait for someone to apply them (`review: true`).
    pub review: bool,
    /// Changes of its pending plan.
    pub pending: usize,
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

/// Logs and counts each job's run, and keeps it in the state.
fn record_runs(
    launch: &Launch,
    reports: &[JobReport],
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
) -> Vec<(String, JobRun)> {
    let plan = &launch.plan;
    let mut runs = Vec::new();
    let mut changes = Vec::new();
    let late_ms = (started - launch.due).num_milliseconds().max(0);
    for report in reports {
        log_run(&plan.name, report, late_ms);
        super::metrics::record_run(&plan.name, report, ended.timestamp());
        let id = JobId {
            pipeline: plan.name.clone(),
            job: report.job.clone(),
        };
        let before = launch.state.job_run(&id).ok().flatten();
        let run = job_run(report, launch.due, started, ended, before.as_ref());
        runs.push((report.job.clone(), run.clone()));
        changes.push(Change::JobRun { job: id, run });
    }
    if let Err(e) = launch
        .state
        .apply(changes)
        .and_then(|()| launch.state.flush())
    {
        tracing::error!(pipeline = %plan.name, "the runs could not be recorded: {e}");
    }
    runs
}

fn read_pending(state: &dyn StateStore, pipeline: &str, job: &str) -> Option<DryRunPlan> {
    let id = JobId {
        pipeline: pipeline.to_string(),
        job: job.to_string(),
    };
    let value = state.review(&id).ok().flatten()?;
    serde_json::from_value(value)
        .map_err(|e| tracing::warn!(pipeline, job, "a pending plan cannot be read: {e}"))
        .ok()
}

/// The changes of a job's plan that would write something.
pub fn pending_changes(job: &JobPlanOutput) -> usize {
    job.changes
        .iter()
        .filter(|c| !matches!(c, PlannedChange::Reject { .. }))
        .count()
}

/// `late_ms`: how long after it was due the run started.
fn log_run(pipeline: &str, report: &JobReport, late_ms: i64) {
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
            late_ms, "run ended"
        ),
    }
}
