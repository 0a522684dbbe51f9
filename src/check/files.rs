//! File targets: what `mode: append` can write, and the placeholders of a target's path
//! (`orders-{run_time}.csv`), so that building the plan never refuses them.

use super::checker::Checker;
use crate::config::model::{FileFormat, FileMode, FileTarget, Target};
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::record::template::Template;

pub fn check(c: &mut Checker) {
    for (name, job) in &c.pipeline.jobs {
        let Some(Target::File(file)) = &job.to else {
            continue;
        };
        let base = format!("jobs.{name}.to.file");
        appendable(c, &base, file);
        placeholders(c, &base, file);
    }
}

/// JSON and XML files are one document: records added after its end would make it unreadable.
fn appendable(c: &mut Checker, base: &str, file: &FileTarget) {
    if file.mode != FileMode::Append {
        return;
    }
    let format = match file
        .format
        .or_else(|| FileFormat::from_extension(&file.path))
    {
        Some(FileFormat::Json) => "a JSON",
        Some(FileFormat::Xml) => "an XML",
        // Appendable, or without a format, which `refs` reports.
        _ => return,
    };
    let d = Diagnostic::error(
        "file-append",
        format!("{format} file cannot be appended to: it is one document, and records added after its end would make it unreadable"),
    )
    .at_opt(c.at(&format!("{base}.mode")))
    .label("not for this format")
    .hint("append to CSV or NDJSON (a record a line), or write a new file each run: `path: \"orders-{run_time}.json\"`");
    c.push(d);
}

/// A target's path may name the run's time, and nothing else.
fn placeholders(c: &mut Checker, base: &str, file: &FileTarget) {
    if !file.path.contains(['{', '}']) {
        return;
    }
    let at = format!("{base}.path");
    let template = match Template::parse(&file.path) {
        Ok(template) => template,
        Err(problem) => {
            let d = Diagnostic::error("template", problem)
                .at_opt(c.at(&at))
                .label("not a template")
                .hint("a file's path takes `{run_time}`; write `{{` and `}}` for braces");
            c.push(d);
            return;
        }
    };
    for used in template.names() {
        if FileTarget::PLACEHOLDERS.contains(&used) {
            continue;
        }
        let hint = did_you_mean(used, FileTarget::PLACEHOLDERS.iter().copied()).unwrap_or_else(|| {
            let known: Vec<String> = FileTarget::PLACEHOLDERS
                .iter()
                .map(|name| format!("{{{name}}}"))
                .collect();
            format!(
                "a file target's path knows {}, the run's start time in UTC (`orders-{{run_time}}.csv` writes `orders-20261206T201500Z.csv`); write `{{{{` and `}}}}` for braces",
                one_of(known.iter().map(String::as_str))
            )
        });
        let d = Diagnostic::error(
            "path-placeholder",
            format!("`{{{used}}}` is not a placeholder of a file target's path"),
        )
        .at_opt(c.at(&at))
        .label("unknown placeholder")
        .hint(hint);
        c.push(d);
    }
}
