//! Compile: the semantic checks over a loaded pipeline, every problem at once.
//!
//! The loader already reported what a single value can tell (types, unknown keys, JSONPaths,
//! cron expressions, durations); what is checked here needs the whole pipeline: references
//! between jobs, connections and tables, the `needs` graph, tables read backwards, rhai
//! snippets, and where secrets end up.

mod dag;
mod refs;
mod scripts;
mod secrets;
mod tables;

use crate::config::LoadedPipeline;
use crate::config::model::Pipeline;
use crate::config::secrets::Secrets;
use crate::config::source::{SourceMap, Span};
use crate::diagnostics::Diagnostic;

/// What every check reads, and where it reports.
pub struct Checker<'a> {
    pub loaded: &'a LoadedPipeline,
    pub pipeline: &'a Pipeline,
    pub sources: &'a SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// The place of the value at `path` (or its nearest parent).
    fn at(&self, path: &str) -> Option<Span> {
        self.loaded.index.span(path)
    }

    fn key_at(&self, path: &str) -> Option<Span> {
        self.loaded.index.key_span(path)
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// Runs every semantic check on a loaded pipeline. Nothing to do when the model could not be
/// read at all: the loader reported why.
pub fn check(loaded: &LoadedPipeline, sources: &SourceMap, secrets: &Secrets) -> Vec<Diagnostic> {
    let Some(pipeline) = &loaded.model else {
        return Vec::new();
    };
    let mut checker = Checker {
        loaded,
        pipeline,
        sources,
        diagnostics: Vec::new(),
    };
    refs::check(&mut checker);
    dag::check(&mut checker);
    tables::check(&mut checker);
    scripts::check(&mut checker);
    secrets::check(&mut checker, secrets);
    checker.diagnostics
}
