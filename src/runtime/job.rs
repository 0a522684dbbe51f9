//! One job: a reader thread parses the source, this thread runs the steps, a writer thread
//! writes the target. Bounded channels of batches join them, so memory stays flat and the
//! slowest stage sets the pace. The target is committed only when everything went through.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use serde_json::Value;

use super::report::{JobReport, JobStatus, Rejections};
use crate::compile::plan::{JobPlan, SourcePlan, TargetPlan};
use crate::connectors::{ConnectorError, Item, Sink};
use crate::steps::{Chain, ChainCounts, Record, Rejection, text_of};

/// Records per batch between threads: large enough to make channel costs vanish, small enough
/// to keep memory flat.
const BATCH: usize = 1024;
/// Batches waiting in each channel.
const QUEUED_BATCHES: usize = 4;

/// Where rejected records go, with their reason: one JSON object a line.
pub type QuarantineFile = Mutex<Box<dyn Write + Send>>;

/// What a job shares with the rest of the run.
pub struct JobContext<'a> {
    pub cancel: &'a AtomicBool,
    pub progress: &'a (dyn Fn(&Counts) + Sync),
    pub quarantine: Option<&'a QuarantineFile>,
    /// Replaces the target: `dry-run` hands every record to it instead of writing.
    pub collect: Option<&'a Mutex<Vec<Record>>>,
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
    /// Everything was sent: make it visible.
    Commit,
}

pub fn run_job(job: &JobPlan, ctx: &JobContext) -> JobReport {
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
        Err(e) => JobStatus::Failed(e),
    };
    report.status = status;
    report.rejected = rejections.total;
    report.reasons = rejections.top(5);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Whether the target was made visible.
struct Committed(bool);

fn execute(
    job: &JobPlan,
    ctx: &JobContext,
    report: &mut JobReport,
    rejections: &mut Rejections,
) -> Result<Committed, String> {
    let source_spec = match &job.source {
        SourcePlan::File(spec) => spec,
        SourcePlan::Unsupported(reason) => return Err(reason.clone()),
    };
    let mut source = source_spec.open_source().map_err(|e| e.to_string())?;
    let sink: Option<Box<dyn Sink>> = match (&job.target, ctx.collect) {
        (_, Some(_)) => None,
        (TargetPlan::File(spec), None) => Some(spec.open_sink().map_err(|e| e.to_string())?),
        (TargetPlan::Unsupported(reason), None) => return Err(reason.clone()),
    };
    let (items_tx, items_rx) = sync_channel::<Vec<Item>>(QUEUED_BATCHES);
    let (out_tx, out_rx) = sync_channel::<ToWriter>(QUEUED_BATCHES);
    let cancel = ctx.cancel;
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_all(source.as_mut(), items_tx, cancel));
        let collect = ctx.collect;
        let writer = scope.spawn(move || write_all(sink, out_rx, collect));
        let processed = process(job, ctx, items_rx, &out_tx, report, rejections);
        // The reader is done once processing saw the end of its channel (or dropped it). Commit
        // only when both went through: a source that failed halfway must not replace the target.
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("the reader stopped unexpectedly".to_string()));
        if processed.is_ok() && read.is_ok() && !cancel.load(Ordering::Relaxed) {
            let _ = out_tx.send(ToWriter::Commit);
        }
        drop(out_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err("the writer stopped unexpectedly".to_string()));
        processed.and(read).and(written).map(|(count, committed)| {
            report.written = count;
            committed
        })
    })
}

fn read_all(
    source: &mut dyn crate::connectors::Source,
    tx: SyncSender<Vec<Item>>,
    cancel: &AtomicBool,
) -> Result<(), String> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut open = true;
    source
        .read(&mut |item| {
            batch.push(item);
            if batch.len() == BATCH {
                open = tx
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_ok();
            }
            open && !cancel.load(Ordering::Relaxed)
        })
        .map_err(|e: ConnectorError| e.to_string())?;
    if !batch.is_empty() && open {
        let _ = tx.send(batch);
    }
    Ok(())
}

fn write_all(
    mut sink: Option<Box<dyn Sink>>,
    rx: Receiver<ToWriter>,
    collect: Option<&Mutex<Vec<Record>>>,
) -> Result<(u64, Committed), String> {
    let mut written = 0u64;
    for message in rx {
        match message {
            ToWriter::Batch(records) => {
                written += records.len() as u64;
                match (&mut sink, collect) {
                    (Some(sink), _) => {
                        for record in &records {
                            sink.write(record).map_err(|e| e.to_string())?;
                        }
                    }
                    (None, Some(collected)) => {
                        if let Ok(mut c) = collected.lock() {
                            c.extend(records);
                        }
                    }
                    (None, None) => {}
                }
            }
            ToWriter::Commit => {
                if let Some(sink) = sink.take() {
                    sink.commit().map_err(|e| e.to_string())?;
                }
                return Ok((written, Committed(true)));
            }
        }
    }
    // The sender went away without `Commit`: the uncommitted sink is dropped, the target untouched.
    Ok((written, Committed(false)))
}

fn process(
    job: &JobPlan,
    ctx: &JobContext,
    rx: Receiver<Vec<Item>>,
    tx: &SyncSender<ToWriter>,
    report: &mut JobReport,
    rejections: &mut Rejections,
) -> Result<(), String> {
    let mut chain = Chain::new(&job.steps);
    let mut counts = ChainCounts::default();
    let mut out = Vec::with_capacity(BATCH);
    let mut rejected: Vec<(Record, Rejection)> = Vec::new();
    let mut totals = Counts::default();
    for batch in rx {
        for item in batch {
            report.read += 1;
            match item {
                Item::Record(record) => chain.push(record, &mut out, &mut rejected, &mut counts),
                Item::Bad { at, reason } => {
                    let rejection = Rejection::new("read", format!("{at}: {reason}"));
                    quarantine(ctx, job, &rejection, &at, None);
                    rejections.add(&rejection, at);
                }
            }
            for (record, rejection) in rejected.drain(..) {
                let key = key_of(job, &record).unwrap_or_else(|| format!("record {}", report.read));
                quarantine(ctx, job, &rejection, &key, Some(&record));
                rejections.add(&rejection, key);
            }
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
            return Err("the writer stopped".to_string());
        }
        if ctx.cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
    chain.finish(&mut out, &mut rejected, &mut counts);
    for (record, rejection) in rejected.drain(..) {
        let key = key_of(job, &record).unwrap_or_else(|| "the last group".to_string());
        quarantine(ctx, job, &rejection, &key, Some(&record));
        rejections.add(&rejection, key);
    }
    report.filtered = counts.filtered;
    if !out.is_empty() && tx.send(ToWriter::Batch(out)).is_err() {
        return Err("the writer stopped".to_string());
    }
    Ok(())
}

fn key_of(job: &JobPlan, record: &Record) -> Option<String> {
    job.key
        .as_ref()
        .and_then(|k| k.get(record))
        .and_then(text_of)
}

fn quarantine(
    ctx: &JobContext,
    job: &JobPlan,
    rejection: &Rejection,
    key: &str,
    record: Option<&Record>,
) {
    let Some(file) = ctx.quarantine else { return };
    let line = serde_json::json!({
        "job": job.name,
        "step": rejection.step,
        "reason": rejection.reason,
        "key": key,
        "record": record.cloned().unwrap_or(Value::Null),
    });
    if let Ok(mut out) = file.lock() {
        let _ = serde_json::to_writer(&mut *out, &line);
        let _ = out.write_all(b"\n");
    }
}
