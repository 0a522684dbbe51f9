//! One job: a reader thread parses the source, this thread runs the steps, a writer thread
//! writes the target. Bounded channels of batches join them, so memory stays flat and the
//! slowest stage sets the pace.
//!
//! A file target is committed (renamed into place, or appended to) only when everything went
//! through. A keyed target is written record by record; what it acknowledged is stored in the
//! state even when the job stops, and the checkpoint moves only past records acknowledged or
//! quarantined.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use super::deliver::decide::DeliveryError;
use super::deliver::{Delivery, Shared};
use super::dry::{DryTarget, Recorder};
use super::only_changed::WrittenBefore;
use super::quarantine::OpenQuarantine;
use super::report::{JobReport, JobStatus, Rejections};
use crate::config::model::MissingRefs;
use crate::config::secrets;
use crate::connectors::{ConnectorError, Item, KeyedTarget, Sink};
use crate::plan::cursor::{Position, Watermark};
use crate::plan::{JobPlan, SourcePlan, TargetPlan};
use crate::record::{Record, text_of};
use crate::state::{Change, Checkpoint, JobId, Quarantined, StateStore, now};
use crate::steps::{Chain, ChainCounts, Rejection, StepPlan};

/// Records per batch between threads: large enough to make channel costs vanish, small enough
/// to keep memory flat.
const BATCH: usize = 1024;
/// Batches waiting in each channel.
const QUEUED_BATCHES: usize = 4;

/// Where rejected records go, with their reason: one JSON object a line.
pub type QuarantineFile = Mutex<Box<dyn Write + Send>>;

/// What a job shares with the rest of the run.
pub struct JobContext<'a> {
    pub pipeline: &'a str,
    pub cancel: &'a Arc<AtomicBool>,
    /// The runtime the job's async work runs on (a keyed target's senders).
    pub runtime: &'a tokio::runtime::Handle,
    pub progress: &'a (dyn Fn(&Counts) + Sync),
    pub quarantine: Option<&'a QuarantineFile>,
    /// A dry run: what would be written goes here, nothing is written.
    pub recorder: Option<&'a dyn Recorder>,
    /// Checkpoints, ID maps, the quarantine.
    pub state: &'a dyn StateStore,
    /// `state quarantine replay`: run these entries instead of reading the source.
    pub replay: Option<&'a [(u64, Quarantined)]>,
    /// Only the records with these keys; the checkpoint is neither read nor moved.
    pub keys: Option<&'a super::selection::KeySet>,
    /// When the run started: `{run_time}` in a file target's path.
    pub run_time: chrono::DateTime<chrono::Utc>,
}

impl JobContext<'_> {
    fn job_id(&self, job: &JobPlan) -> JobId {
        JobId {
            pipeline: self.pipeline.to_string(),
            job: job.name.clone(),
        }
    }

    /// Whether a run for some keys only keeps this record (always, in a whole run).
    fn keeps(&self, job: &JobPlan, record: &Record) -> bool {
        self.keys
            .is_none_or(|keys| keys.contains(&quarantine_key(job, record)))
    }
}

/// Running totals, for progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
}

enum ToWriter {
    Batch(Vec<Record>),
    /// Every record read before this point was handed over or quarantined.
    Progress(Checkpoint),
    /// Everything was sent: make it visible, and move the checkpoint here; apply these
    /// changes with it (a webhook job's notifications leave its inbox).
    Commit(Option<Checkpoint>, Vec<Change>),
}

pub fn run_job(job: &JobPlan, ctx: &JobContext) -> JobReport {
    if let TargetPlan::Trigger(trigger) = &job.target {
        return super::webhook::waiting(&ctx.job_id(job), trigger, ctx.state);
    }
    let started = Instant::now();
    let mut report = JobReport::new(&job.name, JobStatus::Succeeded);
    let mut rejections = Rejections::default();
    // A job whose target was committed succeeded, even when Ctrl-C came a moment later.
    let status = match execute(job, ctx, &mut report, &mut rejections) {
        Ok(Committed(true)) => JobStatus::Succeeded,
        Ok(Committed(false)) if ctx.cancel.load(Ordering::Relaxed) => JobStatus::Cancelled,
        Ok(Committed(false)) => JobStatus::Succeeded,
        Err(e) if ctx.cancel.load(Ordering::Relaxed) => {
            tracing::debug!(job = %job.name, "stopped: {e}");
            JobStatus::Cancelled
        }
        Err(e) => JobStatus::Failed(e.to_string()),
    };
    report.status = status;
    report.rejected = rejections.total;
    report.reasons = rejections.top(5);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Why a job stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// A step stopped the job (a `fetch` whose API failed).
    #[error("{0}")]
    Steps(String),
    /// The checkpoint or a record's position cannot be read by the job's cursor.
    #[error("{0}")]
    Cursor(String),
    /// What the runtime does not do (yet), or a plan it cannot run.
    #[error("{0}")]
    Unsupported(String),
    #[error("the {0} stopped unexpectedly")]
    Crashed(&'static str),
    #[error("the writer stopped")]
    WriterGone,
}

/// Whether the target was made visible.
struct Committed(bool);

/// Where the writer sends what it wrote.
enum Writer<'a> {
    File(Box<dyn Sink>),
    Keyed(Box<dyn KeyedTarget>),
    /// A dry run's file target.
    Recorded(&'a dyn Recorder),
}

fn execute(
    job: &JobPlan,
    ctx: &JobContext,
    report: &mut JobReport,
    rejections: &mut Rejections,
) -> Result<Committed, JobError> {
    if ctx.keys.is_some() && matches!(job.target, TargetPlan::File(..)) && ctx.recorder.is_none() {
        return Err(JobError::Unsupported(format!(
            "`{}` writes a file, which is written whole: a run of some keys would replace it with \
             those records alone; run the job without keys",
            job.name
        )));
    }
    let writer = match (&job.target, ctx.recorder) {
        (TargetPlan::File(spec, _), Some(recorder)) => {
            recorder.file_target(&job.name, &spec.target_path(ctx.run_time)?);
            Writer::Recorded(recorder)
        }
        (TargetPlan::File(spec, _), None) => Writer::File(spec.open_sink(ctx.run_time)?),
        (TargetPlan::Keyed(keyed), Some(_)) => {
            Writer::Keyed(Box::new(DryTarget(keyed.target.clone().open())))
        }
        (TargetPlan::Keyed(keyed), None) => Writer::Keyed(keyed.target.clone().open()),
        (TargetPlan::Unsupported(reason), _) => {
            return Err(JobError::Unsupported(reason.clone()));
        }
        (TargetPlan::Trigger(trigger), _) => {
            return Err(JobError::Unsupported(format!(
                "its notifications are pulled by `{}`",
                trigger.job_name
            )));
        }
    };
    // A webhook job's notifications, taken out of its inbox by the commit.
    let mut inbox_done = Vec::new();
    let replays = replays(job, ctx)?;
    let mut source = match (&job.source, ctx.replay) {
        (_, Some(_)) => None,
        (SourcePlan::File(spec), None) => Some(spec.open_source()?),
        (SourcePlan::Http(plan), None) => Some(plan.open(saved_cursor(job, ctx)?)),
        (SourcePlan::Sql(plan), None) => Some(plan.open(saved_cursor(job, ctx)?)),
        (SourcePlan::Webhook(plan), None) => {
            let opened = plan.open(ctx.state, now())?;
            // A run of some keys leaves them for a whole run: they hold others' records too.
            if ctx.keys.is_none() {
                inbox_done = opened.processed;
            }
            Some(opened.source)
        }
        (SourcePlan::Unsupported(reason), None) => {
            return Err(JobError::Unsupported(reason.clone()));
        }
    };
    let (items_tx, items_rx) = sync_channel::<Vec<Item>>(QUEUED_BATCHES);
    let (out_tx, out_rx) = sync_channel::<ToWriter>(QUEUED_BATCHES);
    let cancel = ctx.cancel;
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || match source.as_mut() {
            Some(source) => read_all(source.as_mut(), items_tx, cancel),
            None => Ok(()),
        });
        let writer = scope.spawn(move || write_all(job, ctx, writer, out_rx));
        let processed = process(job, ctx, &replays, items_rx, &out_tx, report, rejections);
        // The reader is done once processing saw the end of its channel (or dropped it). Commit
        // only when both went through: a source that failed halfway must not replace the target.
        let read = reader.join().unwrap_or(Err(JobError::Crashed("reader")));
        if let (Ok(end), Ok(())) = (&processed, &read)
            && !cancel.load(Ordering::Relaxed)
        {
            let _ = out_tx.send(ToWriter::Commit(end.clone(), inbox_done));
        }
        drop(out_tx);
        let written = writer.join().unwrap_or(Err(JobError::Crashed("writer")));
        let processed = processed.map(|_| ());
        processed.and(read).and(written).map(|outcome| {
            // A keyed target writes only what changed: unchanged and skipped records are
            // counted apart, not as written.
            report.written = outcome.delivered.map_or(outcome.written, |d| {
                d.created + d.updated + d.linked + d.deleted
            });
            report.delivered = outcome.delivered;
            rejections.merge(outcome.rejections);
            if outcome.committed {
                // Replayed entries are settled: delivered, or quarantined again as new entries.
                let released = replays
                    .iter()
                    .map(|(id, _)| Change::Release {
                        pipeline: ctx.pipeline.to_string(),
                        id: *id,
                    })
                    .collect();
                if let Err(e) = ctx.state.apply(released) {
                    tracing::warn!("replayed quarantine entries could not be released: {e}");
                }
            }
            Committed(outcome.committed)
        })
    })
}

/// What `{cursor}` stands for in an HTTP source's request: the checkpoint, moved back by the
/// look-back (the cursor's `initial` before the first run).
fn saved_cursor(job: &JobPlan, ctx: &JobContext) -> Result<Option<String>, JobError> {
    let Some(cursor) = &job.cursor else {
        return Ok(None);
    };
    let saved = checkpoint(job, ctx)?;
    // A checkpoint this cursor cannot read stops the job here, as it would when reading.
    cursor.start(saved.as_ref()).map_err(JobError::Cursor)?;
    Ok(cursor.request_value(saved.as_ref()))
}

/// The saved checkpoint; none for a run of some keys, which reads from the start (the records
/// asked for may lie before it).
fn checkpoint(job: &JobPlan, ctx: &JobContext) -> Result<Option<Checkpoint>, JobError> {
    if ctx.keys.is_some() {
        return Ok(None);
    }
    Ok(ctx.state.checkpoint(&ctx.job_id(job))?)
}

/// Where the job's cursor resumes: its checkpoint, or its `initial`.
fn start_position(job: &JobPlan, ctx: &JobContext) -> Result<Option<Position>, JobError> {
    let Some(cursor) = &job.cursor else {
        return Ok(None);
    };
    cursor
        .start(checkpoint(job, ctx)?.as_ref())
        .map_err(JobError::Cursor)
}

/// The quarantined records this run retries first: the ones asked for, or the job's deferred
/// ones.
fn replays(job: &JobPlan, ctx: &JobContext) -> Result<Vec<(u64, Quarantined)>, JobError> {
    if let Some(entries) = ctx.replay {
        return Ok(entries.to_vec());
    }
    let mut deferred = ctx.state.quarantined(ctx.pipeline, Some(&job.name))?;
    deferred.retain(|(_, entry)| {
        entry.deferred && ctx.keys.is_none_or(|keys| keys.contains(&entry.key))
    });
    Ok(deferred)
}

fn read_all(
    source: &mut dyn crate::connectors::Source,
    tx: SyncSender<Vec<Item>>,
    cancel: &AtomicBool,
) -> Result<(), JobError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut open = true;
    source.read(&mut |item| {
        batch.push(item);
        if batch.len() == BATCH {
            open = tx
                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_ok();
        }
        open && !cancel.load(Ordering::Relaxed)
    })?;
    if !batch.is_empty() && open {
        let _ = tx.send(batch);
    }
    Ok(())
}

/// What the writer did.
struct WriterOutcome {
    written: u64,
    committed: bool,
    delivered: Option<super::deliver::decide::Delivered>,
    rejections: Rejections,
}

fn write_all(
    job: &JobPlan,
    ctx: &JobContext,
    writer: Writer<'_>,
    rx: Receiver<ToWriter>,
) -> Result<WriterOutcome, JobError> {
    let mut outcome = WriterOutcome {
        written: 0,
        committed: false,
        delivered: None,
        rejections: Rejections::default(),
    };
    let job_id = ctx.job_id(job);
    let checkpoint = |c: Checkpoint| Change::Checkpoint {
        job: job_id.clone(),
        checkpoint: c,
    };
    match writer {
        Writer::File(sink) => {
            let mut sink = Some(sink);
            // A file is written whole: its checkpoint moves with the commit (the rename or the
            // append, or nothing at all for a run with no record to append), not before, and
            // so do the quarantine entries its records settle.
            let mut progress = None;
            let mut open = OpenQuarantine::load(ctx.state, ctx.pipeline, &job.name)?;
            let mut settled = Vec::new();
            let mut before = match (&job.target, &job.key) {
                (TargetPlan::File(_, Some(ns)), Some(key)) => {
                    Some(WrittenBefore::new(ns.clone(), key, ctx.state))
                }
                _ => None,
            };
            for message in rx {
                match message {
                    ToWriter::Batch(records) => {
                        if let Some(sink) = sink.as_mut() {
                            for record in &records {
                                if let Some(before) = before.as_mut()
                                    && !before.wanted(record)?
                                {
                                    continue;
                                }
                                outcome.written += 1;
                                sink.write(record)?;
                            }
                        }
                        if !open.is_empty() {
                            settled.extend(
                                records
                                    .iter()
                                    .filter_map(|r| open.settle(&quarantine_key(job, r))),
                            );
                        }
                    }
                    ToWriter::Progress(c) => progress = Some(c),
                    ToWriter::Commit(end, processed) => {
                        if let Some(sink) = sink.take() {
                            sink.commit()?;
                        }
                        outcome.committed = true;
                        let mut changes = std::mem::take(&mut settled);
                        changes.extend(processed);
                        if let Some(before) = before.take() {
                            outcome.delivered = Some(before.counts);
                            changes.extend(before.into_changes());
                        }
                        changes.extend(end.or(progress.take()).map(checkpoint));
                        if !changes.is_empty() {
                            ctx.state.apply(changes)?;
                            ctx.state.flush()?;
                        }
                        return Ok(outcome);
                    }
                }
            }
            // The sender went away without `Commit`: the uncommitted sink is dropped, the
            // target untouched.
            outcome.written = 0;
        }
        Writer::Keyed(target) => {
            let TargetPlan::Keyed(plan) = &job.target else {
                return Err(JobError::Unsupported(
                    "a keyed writer for a target that is not keyed".into(),
                ));
            };
            let key = job
                .key
                .as_ref()
                .ok_or_else(|| JobError::Unsupported("the target has no `key`".into()))?;
            let steps = job.steps.len();
            // A dry run's recorder reads the target through the runtime, from this thread.
            let _runtime = ctx.runtime.enter();
            (|| -> Result<(), JobError> {
                let open = OpenQuarantine::load(ctx.state, ctx.pipeline, &job.name)?;
                let mut delivery = Delivery::new(
                    plan,
                    key,
                    target,
                    open,
                    Shared {
                        state: ctx.state,
                        cancel: ctx.cancel,
                        recorder: ctx.recorder.map(|r| (r, job.name.as_str())),
                        runtime: ctx.runtime,
                    },
                )?;
                // Rejections come back as the target answers, maybe with a later batch.
                let quarantine_all = |rejected: Vec<(Record, Rejection)>,
                                      outcome: &mut WriterOutcome|
                 -> Result<(), DeliveryError> {
                    outcome.written = outcome.written.saturating_sub(rejected.len() as u64);
                    let mut entries = Vec::new();
                    for (record, mut rejection) in rejected {
                        rejection.resume_at = Some(steps);
                        let key = quarantine_key(job, &record);
                        entries.push(quarantine(ctx, job, &rejection, &key, Some(record)));
                        outcome.rejections.add(&rejection, key);
                    }
                    Ok(ctx.state.apply(entries)?)
                };
                let result = (|| -> Result<(), DeliveryError> {
                    for message in rx {
                        // Ctrl-C: what is in flight finishes, nothing more is sent.
                        if ctx.cancel.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        match message {
                            ToWriter::Batch(records) => {
                                outcome.written += records.len() as u64;
                                let rejected = delivery.deliver(records)?;
                                quarantine_all(rejected, &mut outcome)?;
                            }
                            ToWriter::Progress(c) => {
                                let rejected = delivery.commit(Some(checkpoint(c)))?;
                                quarantine_all(rejected, &mut outcome)?;
                            }
                            ToWriter::Commit(end, processed) => {
                                let rejected = delivery
                                    .commit(end.map(checkpoint).into_iter().chain(processed))?;
                                quarantine_all(rejected, &mut outcome)?;
                                outcome.committed = true;
                                return Ok(());
                            }
                        }
                    }
                    Ok(())
                })();
                // What the target acknowledged is stored even when the job stops.
                let stored = delivery
                    .commit(None)
                    .and_then(|rejected| quarantine_all(rejected, &mut outcome));
                outcome.delivered = Some(delivery.delivered);
                result?;
                Ok(stored?)
            })()?;
        }
        Writer::Recorded(recorder) => {
            for message in rx {
                match message {
                    ToWriter::Batch(records) => {
                        outcome.written += records.len() as u64;
                        for record in records {
                            recorder.write(&job.name, record);
                        }
                    }
                    ToWriter::Progress(_) => {}
                    ToWriter::Commit(..) => {
                        outcome.committed = true;
                        return Ok(outcome);
                    }
                }
            }
        }
    }
    Ok(outcome)
}

/// Runs the steps. Returns where the checkpoint moves once everything is committed.
fn process(
    job: &JobPlan,
    ctx: &JobContext,
    replays: &[(u64, Quarantined)],
    rx: Receiver<Vec<Item>>,
    tx: &SyncSender<ToWriter>,
    report: &mut JobReport,
    rejections: &mut Rejections,
) -> Result<Option<Checkpoint>, JobError> {
    let mut chain = Chain::new(&job.steps, Some(ctx.state));
    let mut counts = ChainCounts::default();
    let mut out = Vec::with_capacity(BATCH);
    let mut rejected: Vec<(Record, Rejection)> = Vec::new();
    let mut unreadable: Vec<Change> = Vec::new();
    let mut totals = Counts::default();
    let start = start_position(job, ctx)?;
    let mut watermark = Watermark::new();
    // A group holds records back until its key changes: no checkpoint may pass them.
    let holds_records = job.steps.iter().any(|s| matches!(s, StepPlan::Group(_)));
    for (_, entry) in replays {
        report.read += 1;
        let from = entry.resume_at.unwrap_or(0);
        chain.push_from(
            from,
            entry.record.clone(),
            &mut out,
            &mut rejected,
            &mut counts,
        );
    }
    settle(job, ctx, &mut rejected, &mut unreadable, report, rejections)?;
    for batch in rx {
        for item in batch {
            // Ctrl-C: the rest of the batch is not processed (steps may call APIs); the
            // checkpoint stays before it.
            if ctx.cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match item {
                Item::Record(record) => {
                    if let (Some(keys), Some(source_key)) = (ctx.keys, &job.source_key)
                        && !source_key
                            .get(&record)
                            .and_then(text_of)
                            .is_some_and(|k| keys.contains(&k))
                    {
                        continue;
                    }
                    if let Some(cursor) = &job.cursor {
                        match cursor.position(&record) {
                            Ok(position) => {
                                if start
                                    .as_ref()
                                    .is_some_and(|s| cursor.already_read(&position, s))
                                {
                                    report.before_checkpoint += 1;
                                    continue;
                                }
                                watermark.saw(position);
                            }
                            Err(reason) => {
                                report.read += 1;
                                let mut rejection = Rejection::new("cursor", reason);
                                rejection.resume_at = Some(0);
                                rejected.push((record, rejection));
                                continue;
                            }
                        }
                    }
                    report.read += 1;
                    chain.push(record, &mut out, &mut rejected, &mut counts);
                }
                // Not one of the records asked for: it is whoever reads the whole source's.
                Item::Bad { .. } if ctx.keys.is_some() => {}
                Item::Bad { at, reason } => {
                    report.read += 1;
                    let rejection = Rejection::new("read", format!("{at}: {reason}"));
                    unreadable.push(quarantine(ctx, job, &rejection, &at, None));
                    rejections.add(&rejection, at);
                }
            }
        }
        // Quarantined before the checkpoint can pass them.
        settle(job, ctx, &mut rejected, &mut unreadable, report, rejections)?;
        if let Some(reason) = chain.stopped() {
            // Nothing of this batch goes on and the checkpoint stays: the next run reads it
            // again.
            return Err(JobError::Steps(reason.to_string()));
        }
        if ctx.keys.is_some() {
            out.retain(|record| ctx.keeps(job, record));
        }
        totals.read = report.read;
        totals.written += out.len() as u64;
        totals.rejected = rejections.total;
        (ctx.progress)(&totals);
        if !out.is_empty()
            && tx
                .send(ToWriter::Batch(std::mem::replace(
                    &mut out,
                    Vec::with_capacity(BATCH),
                )))
                .is_err()
        {
            return Err(JobError::WriterGone);
        }
        if !holds_records
            && ctx.keys.is_none()
            && let Some(position) = watermark.progress()
            && tx.send(ToWriter::Progress(position.checkpoint())).is_err()
        {
            return Err(JobError::WriterGone);
        }
        if ctx.cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
    }
    chain.finish(&mut out, &mut rejected, &mut counts);
    settle(job, ctx, &mut rejected, &mut unreadable, report, rejections)?;
    if let Some(reason) = chain.stopped() {
        return Err(JobError::Steps(reason.to_string()));
    }
    report.filtered = counts.filtered;
    if ctx.keys.is_some() {
        out.retain(|record| ctx.keeps(job, record));
    }
    if !out.is_empty() && tx.send(ToWriter::Batch(out)).is_err() {
        return Err(JobError::WriterGone);
    }
    if ctx.keys.is_some() {
        return Ok(None);
    }
    Ok(watermark.end().map(Position::checkpoint))
}

/// Quarantines what the steps rejected, with the records that could not be read, in one state
/// batch. Deferred references are counted apart: the next run retries them.
fn settle(
    job: &JobPlan,
    ctx: &JobContext,
    rejected: &mut Vec<(Record, Rejection)>,
    unreadable: &mut Vec<Change>,
    report: &mut JobReport,
    rejections: &mut Rejections,
) -> Result<(), JobError> {
    let mut entries = std::mem::take(unreadable);
    for (record, rejection) in rejected.drain(..) {
        if !ctx.keeps(job, &record) {
            continue;
        }
        let key = quarantine_key(job, &record);
        if rejection.missing_ref && job.missing_refs == MissingRefs::Defer {
            if rejections.defer(&key) {
                report.deferred += 1;
            }
        } else {
            rejections.add(&rejection, key.clone());
        }
        entries.push(quarantine(ctx, job, &rejection, &key, Some(record)));
    }
    if entries.is_empty() {
        return Ok(());
    }
    Ok(ctx.state.apply(entries)?)
}

/// The record's key: where the target finds it, or where the source has it (for records
/// rejected before the final map).
/// The key a rejected record is quarantined under. Without a key, the content names the
/// record: two different records get two entries, the same one rejected again replaces its own.
fn quarantine_key(job: &JobPlan, record: &Record) -> String {
    [&job.key, &job.source_key]
        .into_iter()
        .flatten()
        .find_map(|k| k.get(record).and_then(text_of))
        .unwrap_or_else(|| {
            let content = serde_json::to_vec(record).unwrap_or_default();
            format!(
                "unkeyed record {:012x}",
                xxhash_rust::xxh3::xxh3_64(&content) >> 16
            )
        })
}

/// Writes the rejection to the quarantine file (when asked for) and returns the state entry.
fn quarantine(
    ctx: &JobContext,
    job: &JobPlan,
    rejection: &Rejection,
    key: &str,
    record: Option<Record>,
) -> Change {
    let deferred = rejection.missing_ref && job.missing_refs == MissingRefs::Defer;
    // Kept in the state and the quarantine file: as safe as what is printed (a server may
    // echo a request's key in its refusal).
    let mut record = record.unwrap_or(Value::Null);
    secrets::redact_value(&mut record);
    let entry = Quarantined {
        job: job.name.clone(),
        step: rejection.step.clone(),
        resume_at: rejection.resume_at,
        reason: secrets::redact(&rejection.reason),
        key: secrets::redact(key),
        at: now(),
        record,
        deferred,
        settled_at: None,
    };
    // A deferred record waits for the next run: it is not a rejection to look at.
    if let Some(recorder) = ctx.recorder.filter(|_| !deferred) {
        recorder.reject(&job.name, &entry.key, &entry.step, &entry.reason);
    }
    if let Some(file) = ctx.quarantine.filter(|_| !deferred) {
        let line = serde_json::json!({
            "job": entry.job,
            "step": entry.step,
            "reason": entry.reason,
            "key": entry.key,
            "record": entry.record,
        });
        if let Ok(mut out) = file.lock() {
            let _ = serde_json::to_writer(&mut *out, &line);
            let _ = out.write_all(b"\n");
        }
    }
    Change::Quarantine {
        pipeline: ctx.pipeline.to_string(),
        entry: Box::new(entry),
    }
}
