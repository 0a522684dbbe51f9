//! `/metrics` in Prometheus' text format: what the runs did, job by job, and what is waiting.
//! Connectors count their HTTP requests and retries through the `metrics` facade; this module
//! installs the recorder that keeps the counts, adds the runs' own, and renders them.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::runtime::report::{JobReport, JobStatus};

/// Run durations, in seconds: a job of a second to one of an hour.
const DURATION_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// Installs the process's recorder; `None` when one already is (a second `serve` in one
/// process, as in tests), in which case `/metrics` answers from nowhere.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("syncline_run_duration_seconds".into()),
            DURATION_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .map_err(|e| tracing::warn!("metrics are not recorded: {e}"))
        .ok()
}

/// Counts one job's run.
pub fn record_run(pipeline: &str, report: &JobReport, ended_at: i64) {
    let labels = [
        ("pipeline", pipeline.to_string()),
        ("job", report.job.clone()),
    ];
    let status = match report.status {
        JobStatus::Succeeded => "succeeded",
        JobStatus::Failed(_) => "failed",
        JobStatus::Skipped(_) => "skipped",
        JobStatus::Cancelled => "cancelled",
    };
    let mut with_status = labels.to_vec();
    with_status.push(("status", status.to_string()));
    metrics::counter!("syncline_runs_total", &with_status).increment(1);
    metrics::counter!("syncline_records_read_total", &labels).increment(report.read);
    metrics::counter!("syncline_records_written_total", &labels).increment(report.written);
    metrics::counter!("syncline_records_rejected_total", &labels).increment(report.rejected);
    let unchanged = report.delivered.map_or(0, |d| d.unchanged);
    metrics::counter!("syncline_records_unchanged_total", &labels).increment(unchanged);
    metrics::histogram!("syncline_run_duration_seconds", &labels).record(report.seconds);
    if matches!(report.status, JobStatus::Succeeded) {
        metrics::gauge!("syncline_last_success_timestamp_seconds", &labels).set(ended_at as f64);
    }
}

/// What waits, as it is when `/metrics` is read.
pub fn set_waiting(pipeline: &str, job: &str, outbox: usize, quarantined: usize) {
    let labels = [("pipeline", pipeline.to_string()), ("job", job.to_string())];
    metrics::gauge!("syncline_outbox_writes", &labels).set(outbox as f64);
    metrics::gauge!("syncline_quarantined_records", &labels).set(quarantined as f64);
}

/// Notifications waiting in a webhook job's inbox.
pub fn set_notifications(pipeline: &str, job: &str, waiting: usize) {
    let labels = [("pipeline", pipeline.to_string()), ("job", job.to_string())];
    metrics::gauge!("syncline_webhooks_pending", &labels).set(waiting as f64);
}
