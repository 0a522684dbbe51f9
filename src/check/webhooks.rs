//! Webhooks: the connections' signature rules, the jobs' paths (one job a path), and `then:`
//! (a webhook job instead of `to`, naming a job that pulls records by key).

use std::collections::HashMap;

use super::checker::Checker;
use crate::config::model::{Connection, Job, Source, Target};
use crate::connectors::webhook::verify::Covers;
use crate::diagnostics::Diagnostic;

pub fn check(c: &mut Checker) {
    let connections: Vec<String> = c.pipeline.connections.keys().cloned().collect();
    for name in connections {
        connection(c, &name);
    }
    let mut paths: HashMap<String, String> = HashMap::new();
    let jobs: Vec<String> = c.pipeline.jobs.keys().cloned().collect();
    for name in jobs {
        let base = format!("jobs.{name}");
        let job = &c.pipeline.jobs[name.as_str()];
        if let Some(Source::Webhook(source)) = &job.from {
            let at = format!("{base}.from.webhook.path");
            if let Some(problem) = path_problem(&source.path) {
                let d = Diagnostic::error("webhook-path", problem)
                    .at_opt(c.at(&at))
                    .hint("a path from the server's root, e.g. `/hooks/woocommerce/orders`: letters, digits and `-_./~`");
                c.push(d);
            }
            match paths.get(&source.path) {
                Some(first) => {
                    let d = Diagnostic::error(
                        "webhook-path",
                        format!("`{}` is already the path of the job `{first}`", source.path),
                    )
                    .at_opt(c.at(&at))
                    .hint("give each webhook job its own path, e.g. `/hooks/orders` and `/hooks/products`");
                    c.push(d);
                }
                None => {
                    paths.insert(source.path.clone(), name.clone());
                }
            }
            if job.cursor.is_some() {
                let d = Diagnostic::error(
                    "webhook-job",
                    "a webhook job reads each notification once, from its inbox: it has no `cursor`",
                )
                .at_opt(c.key_at(&format!("{base}.cursor")))
                .hint("remove `cursor`; records read again are caught by the ID map and fingerprints");
                c.push(d);
            }
        }
        if job.then.is_some() {
            then(c, &name, job);
        }
    }
}

fn connection(c: &mut Checker, name: &str) {
    let Some(Connection::Webhook(hook)) = c.pipeline.connections.get(name) else {
        return;
    };
    let base = format!("connections.{name}.webhook");
    let mut found = Vec::new();
    if hook.secret.is_empty() {
        found.push(
            Diagnostic::error("webhook-secret", "the secret is empty: anyone could sign")
                .at_opt(c.at(&format!("{base}.secret")))
                .hint("write `secret: \"${secret.SHOP_WEBHOOK_SECRET}\"` and give it in the `--secrets` file"),
        );
    } else if !hook.secret.contains("${secret.") {
        found.push(
            Diagnostic::warning("webhook-secret", "the webhook's secret is written in the pipeline file, where everyone who reads the repository sees it")
                .at_opt(c.at(&format!("{base}.secret")))
                .hint("write `secret: \"${secret.SHOP_WEBHOOK_SECRET}\"` and give it in the `--secrets` file or the environment"),
        );
    }
    let mut headers = vec![("signature.header", &hook.signature.header)];
    headers.extend(
        hook.timestamp
            .as_ref()
            .map(|t| ("timestamp.header", &t.header)),
    );
    headers.extend(hook.delivery_id.as_ref().map(|h| ("delivery_id", h)));
    for (key, header) in headers {
        if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
            found.push(
                Diagnostic::error("webhook-header", format!("`{header}` is not a header name"))
                    .at_opt(c.at(&format!("{base}.{key}")))
                    .hint(
                        "a header name is letters, digits and `-`, e.g. `X-WC-Webhook-Signature`",
                    ),
            );
        }
    }
    if hook
        .delivery_id
        .as_ref()
        .is_some_and(|h| h.eq_ignore_ascii_case("X-WC-Webhook-Delivery-ID"))
    {
        // WC_Webhook::get_new_delivery_id(): wp_hash( webhook id . strtotime('now') ).
        found.push(
            Diagnostic::warning("webhook-header", "WooCommerce gives two deliveries of one webhook in the same second the same delivery id: the second would be refused as a replay")
                .at_opt(c.at(&format!("{base}.delivery_id")))
                .hint("remove `delivery_id`: a notification sent again is recognised by its signature"),
        );
    }
    let covers = match hook.signature.covers.as_deref().map(Covers::parse) {
        Some(Err(problem)) => {
            found.push(
                Diagnostic::error("webhook-covers", problem)
                    .at_opt(c.at(&format!("{base}.signature.covers")))
                    .hint("`{body}` for the raw body, with `{timestamp}` as the sender signs it, e.g. `\"{timestamp}.{body}\"`"),
            );
            None
        }
        Some(Ok(covers)) => Some(covers),
        None => Some(Covers::body()),
    };
    let signs_time = covers.as_ref().map(Covers::has_timestamp);
    match (&hook.timestamp, signs_time) {
        (None, Some(true)) => found.push(
            Diagnostic::error("webhook-covers", "`covers` names `{timestamp}`, and the connection has no `timestamp` to read it from")
                .at_opt(c.at(&format!("{base}.signature.covers")))
                .hint("add `timestamp: { header: X-Timestamp }` with the header the sender writes the time in"),
        ),
        (Some(_), Some(false)) => found.push(
            Diagnostic::warning("webhook-timestamp", "the signature does not cover the timestamp: a replayed notification can carry a new one")
                .at_opt(c.key_at(&format!("{base}.timestamp")))
                .hint("say what the sender signs, e.g. `covers: \"{timestamp}.{body}\"`; a replay is refused by its signature all the same"),
        ),
        _ => {}
    }
    if let Some(tolerance) = hook.timestamp.as_ref().and_then(|t| t.tolerance)
        && tolerance.0.as_secs() == 0
    {
        found.push(
            Diagnostic::error(
                "webhook-timestamp",
                "a tolerance under a second refuses nearly every notification",
            )
            .at_opt(c.at(&format!("{base}.timestamp.tolerance")))
            .hint("the senders' own libraries allow `5m`"),
        );
    }
    for d in found {
        c.push(d);
    }
}

/// What is wrong with a webhook path, if anything.
fn path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!("the path `{path}` does not start with `/`"));
    }
    let allowed = |ch: char| ch.is_ascii_alphanumeric() || "-_./~".contains(ch);
    if let Some(bad) = path.chars().find(|&ch| !allowed(ch)) {
        return Some(format!("the path `{path}` holds `{bad}`"));
    }
    if path.contains("//") || path.split('/').any(|segment| segment == "..") {
        return Some(format!("the path `{path}` has an empty or `..` segment"));
    }
    None
}

/// `then:` instead of `to`, on a webhook job, naming a job that can pull by key.
fn then(c: &mut Checker, name: &str, job: &Job) {
    let Some(then) = &job.then else { return };
    let at = format!("jobs.{name}.then");
    let mut found = Vec::new();
    if !matches!(job.from, Some(Source::Webhook(_))) {
        found.push(
            Diagnostic::error("webhook-then", "`then` follows a webhook source only: other jobs write `to` a target")
                .at_opt(c.key_at(&at))
                .hint("read notifications with `from: { webhook: { connection: ..., path: /hooks/... } }`, or write `to:`"),
        );
    }
    if job.to.is_some() {
        found.push(
            Diagnostic::error("webhook-then", "a job has `to` or `then`, not both")
                .at_opt(c.key_at(&at))
                .hint("`to` sends the notifications' records through this job; `then` has another job pull them"),
        );
    }
    for (key, set) in [
        ("steps", !job.steps.is_empty()),
        ("map", !job.map.is_empty()),
    ] {
        if set {
            found.push(
                Diagnostic::error(
                    "webhook-then",
                    format!("a `then` job hands keys on and has no `{key}`"),
                )
                .at_opt(c.key_at(&format!("jobs.{name}.{key}")))
                .hint(format!(
                    "put the `{key}` in `{}`, the job that pulls the records",
                    then.run
                )),
            );
        }
    }
    let run_at = format!("{at}.run");
    match c.pipeline.jobs.get(&then.run) {
        None => {
            for d in found {
                c.push(d);
            }
            c.expect_defined(
                "jobs",
                &then.run,
                &run_at,
                "unknown-job",
                format!("`then` runs `{}`, which is not a job", then.run),
            );
            return;
        }
        Some(_) if then.run == name => found.push(
            Diagnostic::error("webhook-then", "`then` runs the job itself")
                .at_opt(c.at(&run_at))
                .hint("name the job that reads the records from their system, e.g. `orders`"),
        ),
        Some(other) if matches!(other.from, Some(Source::Webhook(_))) => found.push(
            Diagnostic::error("webhook-then", format!("`{}` reads notifications too: it cannot pull records by key", then.run))
                .at_opt(c.at(&run_at))
                .hint("name a job that reads from the system the notifications come from (an `http` or `sql` source)"),
        ),
        Some(other) if !has_key(other) => found.push(
            Diagnostic::error("webhook-then", format!("`{}` has no `key`: the keys a notification names would select nothing", then.run))
                .at_opt(c.at(&run_at))
                .hint(format!("give `{}`'s target a `key`, e.g. `key: $.id`", then.run)),
        ),
        Some(_) => {}
    }
    for d in found {
        c.push(d);
    }
}

/// Whether a job's records are known by a key (the one `--key` selects them by).
fn has_key(job: &Job) -> bool {
    match &job.to {
        Some(Target::Http(_)) => true,
        Some(Target::Sql(sql)) => !sql.key.is_empty(),
        Some(Target::File(file)) => file.key.is_some(),
        None => false,
    }
}
