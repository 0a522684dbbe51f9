//! `syncline validate`: load every file named, run every check, report every problem at once.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{self, secrets::Secrets};
use crate::diagnostics::source::SourceMap;
use crate::diagnostics::{self, Diagnostic, JsonDiagnostic, RenderOptions};

/// What `validate` found.
#[derive(Debug)]
pub struct Validation {
    pub sources: SourceMap,
    /// Pipeline files named (templates reached through `extends` are not counted).
    pub files: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Names of the secrets referenced, for redacting output.
    pub secret_names: Vec<String>,
    /// What was loaded, for the commands that go on to run it.
    pub pipelines: Vec<config::LoadedPipeline>,
}

pub fn validate(paths: &[PathBuf], secrets: &Secrets) -> Validation {
    check(config::load_paths(paths, secrets), secrets)
}

/// Validates one pipeline given as text (tests, benchmarks, fuzzing).
pub fn validate_str(name: &str, text: &str, secrets: &Secrets) -> Validation {
    check(config::load_str(name, text, secrets), secrets)
}

fn check(ws: config::Workspace, secrets: &Secrets) -> Validation {
    let mut diagnostics = ws.diagnostics;
    let mut secret_names = Vec::new();
    for pipeline in &ws.pipelines {
        diagnostics.extend(super::check(pipeline, &ws.sources, secrets));
        secret_names.extend(pipeline.secret_uses.iter().map(|u| u.name.clone()));
    }
    // A template is checked on its own and again under each overlay: report its problems once.
    let mut seen = HashSet::new();
    diagnostics.retain(|d| {
        seen.insert((
            d.code,
            d.span.map(|s| (s.file, s.start, s.end)),
            d.message.clone(),
        ))
    });
    diagnostics::sort(&mut diagnostics);
    Validation {
        sources: ws.sources,
        files: ws.files,
        diagnostics,
        secret_names,
        pipelines: ws.pipelines,
    }
}

impl Validation {
    /// `--connect`: each database query is prepared by its database; what it refuses is
    /// reported with the rest.
    pub fn connect(&mut self, secrets: &Secrets) {
        for pipeline in &self.pipelines {
            self.diagnostics
                .extend(super::sql::connect(pipeline, &self.sources, secrets));
        }
        diagnostics::sort(&mut self.diagnostics);
    }

    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// Exit code: 0 valid, 2 invalid configuration, 1 when a named path could not be read or
    /// holds no pipeline file.
    pub fn exit_code(&self, deny_warnings: bool) -> i32 {
        let config_errors = self
            .diagnostics
            .iter()
            .any(|d| d.is_error() && !matches!(d.code, "io" | "no-pipeline"));
        if config_errors || (deny_warnings && self.warnings() > 0) {
            2
        } else if self.errors() > 0 {
            1
        } else {
            0
        }
    }

    pub fn summary(&self) -> String {
        let files = plural(self.files, "pipeline file", "pipeline files");
        match (self.errors(), self.warnings()) {
            (0, 0) => format!("{files} checked: valid"),
            (0, w) => format!(
                "{files} checked: valid, {}",
                plural(w, "warning", "warnings")
            ),
            (e, w) => format!(
                "{files} checked: {}, {}",
                plural(e, "error", "errors"),
                plural(w, "warning", "warnings")
            ),
        }
    }

    pub fn render_human(&self, options: RenderOptions) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&diagnostics::render(d, &self.sources, options));
            out.push('\n');
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    pub fn render_json(&self) -> String {
        #[derive(Serialize)]
        struct Report {
            valid: bool,
            files: usize,
            errors: usize,
            warnings: usize,
            diagnostics: Vec<JsonDiagnostic>,
        }
        let report = Report {
            valid: self.errors() == 0,
            files: self.files,
            errors: self.errors(),
            warnings: self.warnings(),
            diagnostics: self
                .diagnostics
                .iter()
                .map(|d| JsonDiagnostic::new(d, &self.sources))
                .collect(),
        };
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
