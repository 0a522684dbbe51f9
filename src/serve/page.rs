//! The status page: server-rendered HTML, plain forms, no JavaScript. Pipelines and their
//! jobs (last and next run, counts, failures), a job's quarantine and pending changes with
//! their field diffs. The buttons post forms; a signed-in browser carries the token in a
//! cookie (SameSite=Strict, so another site's page cannot post with it).

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::service::{JobView, pending_changes};
use crate::dry_run::apply::{ApplyReport, Outcome};
use crate::dry_run::{Change, DryRunPlan};
use crate::state::Quarantined;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.failed,.refused{color:#b00}.succeeded,.applied{color:#070}\
form.inline{display:inline}pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em}\
.from{color:#b00;text-decoration:line-through}.to{color:#070}nav{margin-bottom:1em}";

fn layout(title: &str, signed_in: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - syncline" }
                style { (STYLE) }
            }
            body {
                nav {
                    a href="/" { "syncline" } " · "
                    @if signed_in {
                        "signed in"
                    } @else {
                        form.inline method="post" action="/ui/login" {
                            label { "Token " input type="password" name="token" id="token"; }
                            " " button type="submit" id="sign-in" { "Sign in" }
                        }
                    }
                }
                h1 { (title) }
                (body)
            }
        }
    }
}

/// `/`: every job of every pipeline, and the files that do not run.
pub fn overview(jobs: &[JobView], problems: &[(String, String)], signed_in: bool) -> Markup {
    let mut pipelines: Vec<&str> = jobs.iter().map(|j| j.pipeline.as_str()).collect();
    pipelines.dedup();
    layout(
        "Pipelines",
        signed_in,
        html! {
            @for pipeline in &pipelines {
                h2 { (pipeline) }
                table {
                    tr {
                        th { "job" } th { "last run" } th { "read / written / rejected" }
                        th { "next run" } th { "quarantined" } th { "pending" } th {}
                    }
                    @for job in jobs.iter().filter(|j| j.pipeline == *pipeline) {
                        tr {
                            td { a href=(job_path(&job.pipeline, &job.job)) { (job.job) } }
                            td {
                                @if job.running { "running" }
                                @else if let Some(last) = &job.last_run {
                                    span class=(last.status) { (last.status) } " " (last.ended)
                                    @if let Some(reason) = &last.reason { br; small { (reason) } }
                                } @else { "never" }
                            }
                            td {
                                @if let Some(last) = &job.last_run {
                                    (last.read) " / " (last.written) " / " (last.rejected)
                                }
                            }
                            td { (job.next_run.as_deref().unwrap_or("by hand")) }
                            td { (job.quarantined) }
                            td { @if job.review { (job.pending) } }
                            td {
                                form.inline method="post" action=(format!("/ui{}/run", job_path(&job.pipeline, &job.job))) {
                                    button type="submit" { "Run now" }
                                }
                            }
                        }
                    }
                }
            }
            @if pipelines.is_empty() { p { "No pipeline runs." } }
            @if !problems.is_empty() {
                h2 { "Files that do not run" }
                @for (file, problem) in problems {
                    h3 { (file) }
                    pre { (problem) }
                }
            }
        },
    )
}

/// A job: its pending changes (with Apply buttons) and its quarantine.
pub fn job(
    view: &JobView,
    pending: Option<&DryRunPlan>,
    quarantine: &[(u64, Quarantined)],
    signed_in: bool,
) -> Markup {
    let path = job_path(&view.pipeline, &view.job);
    layout(
        &format!("{} / {}", view.pipeline, view.job),
        signed_in,
        html! {
            p {
                @if let Some(last) = &view.last_run {
                    "Last run: " span class=(last.status) { (last.status) } " at " (last.ended)
                    ": " (last.read) " read, " (last.written) " written, " (last.rejected) " rejected."
                    @if let Some(reason) = &last.reason { br; (reason) }
                } @else { "Not run yet." }
                " Next run: " (view.next_run.as_deref().unwrap_or("by hand")) "."
            }
            form method="post" action=(format!("/ui{path}/run")) {
                button type="submit" { "Run now" }
            }
            @if view.review {
                h2 { "Pending changes" }
                @match pending.filter(|p| p.jobs.iter().map(pending_changes).sum::<usize>() > 0) {
                    None => p { "Nothing waits to be applied." },
                    Some(plan) => {
                        form method="post" action=(format!("/ui{path}/apply")) {
                            button type="submit" id="apply-all" { "Apply all" }
                        }
                        table {
                            tr { th { "key" } th { "change" } th { "fields" } th {} }
                            @for change in plan.jobs.iter().flat_map(|j| &j.changes) {
                                @if !matches!(change, Change::Reject { .. }) {
                                    (change_row(&path, change))
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Quarantine" }
            @if quarantine.is_empty() { p { "No record waits." } }
            @else {
                table {
                    tr { th { "key" } th { "step" } th { "reason" } th { "record" } th {} }
                    @for (id, entry) in quarantine {
                        tr {
                            td { (entry.key) }
                            td { (entry.step) }
                            td { (entry.reason) }
                            td { (record_form(&path, *id, &entry.record)) }
                            td {
                                form.inline method="post" action=(format!("/ui{path}/quarantine/{id}/replay")) {
                                    button type="submit" { "Replay" }
                                }
                                " "
                                form.inline method="post" action=(format!("/ui{path}/quarantine/{id}/drop")) {
                                    button type="submit" { "Drop" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn change_row(path: &str, change: &Change) -> Markup {
    let key = change.key().unwrap_or_default();
    let (action, fields): (&str, Option<&serde_json::Map<String, Value>>) = match change {
        Change::Create { .. } => ("create", None),
        Change::Update { fields, .. } => ("update", Some(fields)),
        Change::Link { fields, .. } => ("link", fields.as_ref()),
        Change::Remove { .. } => ("remove", None),
        Change::Reject { .. } => ("reject", None),
    };
    html! {
        tr.change data-key=(key) {
            td { (key) }
            td { (action) }
            td {
                @if let Change::Create { record, .. } = change {
                    (short(record))
                }
                @if let Some(fields) = fields {
                    @for (name, diff) in fields {
                        div {
                            (name) ": "
                            span.from { (short(&diff["from"])) } " → "
                            span.to { (short(&diff["to"])) }
                        }
                    }
                }
            }
            td {
                form.inline method="post" action=(format!("/ui{path}/apply")) {
                    input type="hidden" name="key" value=(key);
                    button type="submit" class="apply" { "Apply" }
                }
            }
        }
    }
}

/// A quarantined record's fields, editable: "Save and retry" replays it with the fields as
/// corrected (the fix a person makes to one record, without touching the source system).
fn record_form(path: &str, id: u64, record: &Value) -> Markup {
    let fields: Vec<(&String, &Value)> = record
        .as_object()
        .map(|o| o.iter().collect())
        .unwrap_or_default();
    html! {
        form method="post" action=(format!("/ui{path}/quarantine/{id}/edit")) {
            @for (name, value) in &fields {
                div {
                    label { (name) " " input type="text" name=(name) value=(text(value)); }
                }
            }
            @if !fields.is_empty() { button type="submit" { "Save and retry" } }
        }
    }
}

/// What an apply did.
pub fn applied(pipeline: &str, job: &str, report: &ApplyReport, signed_in: bool) -> Markup {
    layout(
        &format!("{pipeline} / {job}: applied"),
        signed_in,
        html! {
            table {
                tr { th { "key" } th { "outcome" } th { "reason" } }
                @for change in report.jobs.iter().flat_map(|j| &j.changes) {
                    @let outcome = match change.outcome {
                        Outcome::Applied => "applied",
                        Outcome::AlreadyApplied => "already applied",
                        Outcome::Refused => "refused",
                        Outcome::NotApplied => "not applied",
                    };
                    tr {
                        td { (change.key) }
                        td class=(outcome) { (outcome) }
                        td { (change.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
            p { a href=(job_path(pipeline, job)) { "Back to the job" } }
        },
    )
}

/// A refusal or a problem, in words, with a way back.
pub fn message(title: &str, text: &str, back: &str, signed_in: bool) -> Markup {
    layout(
        title,
        signed_in,
        html! {
            p { (text) }
            p { a href=(back) { "Back" } }
        },
    )
}

pub fn job_path(pipeline: &str, job: &str) -> String {
    format!(
        "/pipelines/{}/jobs/{}",
        percent_encoding::utf8_percent_encode(pipeline, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(job, percent_encoding::NON_ALPHANUMERIC)
    )
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value as shown in a table: whole when short.
fn short(value: &Value) -> String {
    let shown = text(value);
    if shown.chars().count() > 120 {
        shown.chars().take(117).collect::<String>() + "..."
    } else {
        shown
    }
}
