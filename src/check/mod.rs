//! Compile: the semantic checks over a loaded pipeline, every problem at once.
//!
//! The loader already reported what a single value can tell (types, unknown keys, JSONPaths,
//! cron expressions, durations); what is checked here needs the whole pipeline: references
//! between jobs, connections and tables, the `needs` graph, tables read backwards, rhai
//! snippets, where secrets end up, and database queries' parameters.

mod alerts;
mod checker;
mod dag;
mod files;
mod refs;
mod scripts;
mod secrets;
pub mod sql;
mod tables;
mod templates;
pub mod validate;
mod webhooks;

pub use checker::Checker;

use crate::config::LoadedPipeline;
use crate::config::secrets::Secrets;
use crate::diagnostics::Diagnostic;
use crate::diagnostics::source::SourceMap;

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
    templates::check(&mut checker);
    files::check(&mut checker);
    sql::check(&mut checker);
    alerts::check(&mut checker);
    webhooks::check(&mut checker);
    checker.diagnostics
}
