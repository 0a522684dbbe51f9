//! Brace templates (`{field}`) in requests, mapped values and reasons: each one must parse
//! (an unclosed `{name` is refused here, not when the plan is built), and the request
//! templates of an API target read the record the job maps: a `{name}` that the map does not
//! produce would fail every record at run time, so it is reported here.

use serde_json::Value;

use super::checker::Checker;
use crate::config::model::{Field, HttpTarget, Job, Request, Source, Target};
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::record::template::Template;

pub fn check(c: &mut Checker) {
    parse_all(c);
    for (name, job) in &c.pipeline.jobs {
        let Some(Target::Http(http)) = &job.to else {
            continue;
        };
        let Some(mapped) = mapped_fields(job) else {
            continue;
        };
        let requests = target_requests(&format!("jobs.{name}.to.http"), http);
        for (path, request, provided) in requests {
            for (at, text) in template_strings(&path, request) {
                let Ok(template) = Template::parse(text) else {
                    continue;
                };
                for used in template.names() {
                    let field = used.split(['.', '[']).next().unwrap_or(used);
                    let known = mapped.contains(&field)
                        || provided.contains(&field)
                        || ["record", "records"].contains(&field);
                    if !known {
                        unmapped(c, &at, used, &mapped, provided);
                    }
                }
            }
        }
    }
}

/// Every template of every job parses.
fn parse_all(c: &mut Checker) {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut add = |list: Vec<(String, &str)>| {
        found.extend(list.into_iter().map(|(at, text)| (at, text.to_string())));
    };
    for (name, job) in &c.pipeline.jobs {
        let base = format!("jobs.{name}");
        if let Some(Source::Http(http)) = &job.from {
            add(template_strings(
                &format!("{base}.from.http"),
                &http.request(),
            ));
        }
        let maps = job
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| Some((format!("{base}.steps[{i}].map"), step.map.as_ref()?)))
            .chain(std::iter::once((format!("{base}.map"), &job.map)));
        for (at, map) in maps {
            for (field, spec) in map {
                if let Field::Spec(spec) = spec
                    && let Some(template) = &spec.template
                {
                    add(vec![(format!("{at}.{field}.template"), template)]);
                }
            }
        }
        for (i, step) in job.steps.iter().enumerate() {
            let Some(fetch) = &step.fetch else { continue };
            let at = format!("{base}.steps[{i}].fetch");
            add(template_strings(&format!("{at}.request"), &fetch.request));
            if let Some(reason) = &fetch.reason {
                add(vec![(format!("{at}.reason"), reason)]);
            }
        }
        if let Some(Target::Http(http)) = &job.to {
            let at = format!("{base}.to.http");
            for (path, request, _) in target_requests(&at, http) {
                add(template_strings(&path, request));
            }
            // Read per line and per batch: their names are not the mapped record's.
            if let Some(lines) = &http.lines {
                add(template_strings(
                    &format!("{at}.lines.request"),
                    &lines.request,
                ));
            }
            if let Some(batch) = &http.batch {
                add(template_strings(
                    &format!("{at}.batch.request"),
                    &batch.request,
                ));
            }
        }
    }
    for (at, text) in found {
        if let Err(problem) = Template::parse(&text) {
            let d = Diagnostic::error("template", problem)
                .at_opt(c.at(&at))
                .label("not a template")
                .hint("a placeholder is `{field}`; write `{{` and `}}` for braces");
            c.push(d);
        }
    }
}

/// The requests of an API target that render the record it receives, each with its place
/// and the names the runtime adds to the record's.
fn target_requests<'h>(
    base: &str,
    http: &'h HttpTarget,
) -> Vec<(String, &'h Request, &'static [&'static str])> {
    const WITH_ID: &[&str] = &["target_id"];
    let mut requests = Vec::new();
    for (key, request, provided) in [
        ("create", &http.create, &[][..]),
        ("update", &http.update, WITH_ID),
        ("delete", &http.delete, WITH_ID),
    ] {
        if let Some(request) = request {
            requests.push((format!("{base}.{key}"), request, provided));
        }
    }
    if let Some(read) = &http.read_before_update {
        requests.push((
            format!("{base}.read_before_update.request"),
            &read.request,
            WITH_ID,
        ));
    }
    for (key, list) in [
        ("after_create", &http.after_create),
        ("rollback", &http.rollback),
    ] {
        for (i, request) in list.iter().enumerate() {
            requests.push((format!("{base}.{key}[{i}]"), request, WITH_ID));
        }
    }
    for (i, rule) in http.resolve.iter().enumerate() {
        requests.push((
            format!("{base}.resolve[{i}].request"),
            &rule.request,
            &["value"][..],
        ));
    }
    requests
}

/// The fields of the record a job's target receives, when its last step is a map.
fn mapped_fields(job: &Job) -> Option<Vec<&str>> {
    let last = if job.map.is_empty() {
        job.steps.last()?.map.as_ref()?
    } else {
        &job.map
    };
    // A field named by a path (`associations.categories[0].id`) makes its first name.
    Some(
        last.keys()
            .map(|k| k.split(['.', '[']).next().unwrap_or(k))
            .collect(),
    )
}

/// Every string of a request that is a template, with its place.
fn template_strings<'r>(path: &str, request: &'r Request) -> Vec<(String, &'r str)> {
    let mut found = vec![(format!("{path}.path"), request.path.as_str())];
    for (what, map) in [("query", &request.query), ("headers", &request.headers)] {
        for (key, value) in map {
            found.push((format!("{path}.{what}.{key}"), value.as_str()));
        }
    }
    if let Some(body) = &request.body {
        strings(&format!("{path}.body"), body, &mut found);
    }
    if let Some(params) = request.rpc.as_ref().and_then(|rpc| rpc.params.as_ref()) {
        strings(&format!("{path}.rpc.params"), params, &mut found);
    }
    found
}

fn strings<'v>(path: &str, value: &'v Value, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::String(text) => out.push((path.to_string(), text)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(&format!("{path}[{i}]"), item, out);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                strings(&format!("{path}.{key}"), item, out);
            }
        }
        _ => {}
    }
}

fn unmapped(c: &mut Checker, at: &str, used: &str, mapped: &[&str], provided: &[&str]) {
    let offered = || {
        let mut names: Vec<&str> = mapped.to_vec();
        names.extend_from_slice(provided);
        names
    };
    let hint = did_you_mean(used, offered()).unwrap_or_else(|| {
        format!(
            "the job's map produces {}; map `{used}` (with `not_sent: [{used}]` to keep it out of the body)",
            one_of(offered()).replace(" or ", " and ")
        )
    });
    let d = Diagnostic::error(
        "template-field",
        format!("`{{{used}}}` is not a field of the record this target receives: every record would be rejected"),
    )
    .at_opt(c.at(at))
    .label("not mapped")
    .hint(hint);
    c.push(d);
}
