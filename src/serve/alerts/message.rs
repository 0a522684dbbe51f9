//! What an alert says: the pipeline, each job that needs someone (its failure's reason; how many
//! records it quarantined, with the top reasons), and the link to the status page. Never a
//! record (no example keys, reasons cut short: an API's refusal may quote the record), never a
//! secret (everything passes through [`redact`]).

use std::fmt::Write as _;

use crate::config::secrets::redact;
use crate::runtime::report::{JobReport, JobStatus};

/// Reasons listed per job; the rest are counted.
const TOP_REASONS: usize = 5;
/// A quarantine reason is cut after this many characters.
const REASON_CHARS: usize = 200;
/// A failure's reason is cut after this many characters.
const FAILURE_CHARS: usize = 500;

/// An alert's text, redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line: the e-mail's subject, the chat message's first line.
    pub subject: String,
    /// The details, plain text.
    pub body: String,
}

impl Message {
    /// The alert about `jobs` of `pipeline` (at least one).
    pub fn new(pipeline: &str, jobs: &[&JobReport], page_url: Option<&str>) -> Message {
        let subject = match jobs {
            [job] => format!("syncline: {pipeline}: {}: {}", job.job, headline(job)),
            _ => format!(
                "syncline: {pipeline}: {} jobs need attention ({})",
                jobs.len(),
                jobs.iter()
                    .map(|j| j.job.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut body = String::new();
        for job in jobs {
            let _ = writeln!(body, "{}: {}", job.job, headline(job));
            if let JobStatus::Failed(reason) = &job.status {
                let _ = writeln!(body, "    {}", cut(reason, FAILURE_CHARS));
            }
            let mut reasons: Vec<_> = job.reasons.iter().collect();
            reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
            for reason in reasons.iter().take(TOP_REASONS) {
                let _ = writeln!(
                    body,
                    "    {} rejected by {}: {}",
                    reason.count,
                    reason.step,
                    cut(&reason.reason, REASON_CHARS)
                );
            }
            let listed: u64 = reasons.iter().take(TOP_REASONS).map(|r| r.count).sum();
            if job.rejected > listed && !reasons.is_empty() {
                let _ = writeln!(body, "    {} more for other reasons", job.rejected - listed);
            }
        }
        match page_url {
            Some(url) => {
                let _ = writeln!(body, "\nStatus page: {url}");
            }
            None => {
                let _ = writeln!(
                    body,
                    "\nThe quarantine: `syncline state quarantine list` on the pipeline's file."
                );
            }
        }
        Message {
            subject: redact(&one_line(&subject)),
            body: redact(&body),
        }
    }
}

/// What happened to the job, in a few words.
fn headline(job: &JobReport) -> String {
    let quarantined = match job.rejected {
        0 => None,
        1 => Some("1 record quarantined".to_string()),
        n => Some(format!("{n} records quarantined")),
    };
    match (&job.status, quarantined) {
        (JobStatus::Failed(_), Some(q)) => format!("failed, {q}"),
        (JobStatus::Failed(_), None) => "failed".to_string(),
        (_, Some(q)) => q,
        (_, None) => "needs attention".to_string(),
    }
}

/// `text` on one line, at most `chars` characters long.
fn cut(text: &str, chars: usize) -> String {
    let text = one_line(text);
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// Line breaks as spaces: a reason quoting an answer must not forge lines of its own (nor an
/// e-mail header in the subject).
fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::report::ReasonCount;

    fn job(name: &str, status: JobStatus, reasons: &[(&str, u64)]) -> JobReport {
        let mut job = JobReport::new(name, status);
        job.reasons = reasons
            .iter()
            .map(|(reason, count)| ReasonCount {
                step: "map".into(),
                reason: reason.to_string(),
                count: *count,
                examples: vec!["KEY-1".into()],
            })
            .collect();
        job.rejected = reasons.iter().map(|(_, c)| c).sum::<u64>() + 4;
        job
    }

    #[test]
    fn a_message_counts_and_cuts_reasons_and_names_no_record() {
        let long = format!(
            "refused: {{\"record\": \"{}\"}}\nsecond line",
            "x".repeat(400)
        );
        let products = job(
            "products",
            JobStatus::Succeeded,
            &[("unknown SKU", 2), (&long, 5)],
        );
        let orders = job(
            "orders",
            JobStatus::Failed("the API answered 500".into()),
            &[],
        );
        let message = Message::new("acme", &[&products, &orders], Some("http://status"));
        assert_eq!(
            message.subject,
            "syncline: acme: 2 jobs need attention (products, orders)"
        );
        let body = &message.body;
        assert!(body.starts_with("products: 11 records quarantined\n    5 rejected by map: refused: {\"record\": \"xxx"), "{body}");
        assert!(
            body.contains("    2 rejected by map: unknown SKU\n    4 more for other reasons\n"),
            "{body}"
        );
        assert!(!body.contains(&"x".repeat(201)), "{body}");
        assert!(!body.contains("second line\n"), "{body}");
        assert!(!body.contains("KEY-1"), "{body}");
        assert!(
            body.contains("orders: failed, 4 records quarantined\n    the API answered 500\n"),
            "{body}"
        );
        assert!(body.ends_with("\nStatus page: http://status\n"), "{body}");
    }
}
