//! The pipeline every check reads, the diagnostics they report, and the helpers they share.

use crate::config::LoadedPipeline;
use crate::config::model::Pipeline;
use crate::diagnostics::source::{SourceMap, Span};
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};

/// What every check reads, and where it reports.
pub struct Checker<'a> {
    pub loaded: &'a LoadedPipeline,
    pub pipeline: &'a Pipeline,
    pub sources: &'a SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// The place of the value at `path` (or its nearest parent).
    pub(super) fn at(&self, path: &str) -> Option<Span> {
        self.loaded.index.span(path)
    }

    pub(super) fn key_at(&self, path: &str) -> Option<Span> {
        self.loaded.index.key_span(path)
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Checks that `name`, written at `path`, names an entry of `section` (`jobs`,
    /// `connections`, `tables`). An entry that exists but could not be read counts as existing:
    /// its own problems were reported.
    pub(super) fn expect_defined(
        &mut self,
        section: &str,
        name: &str,
        path: &str,
        code: &'static str,
        message: String,
    ) {
        let names: Vec<&str> = self
            .loaded
            .root
            .get(section)
            .and_then(|n| n.as_map())
            .map(|entries| entries.iter().map(|e| e.key_text()).collect())
            .unwrap_or_default();
        if names.contains(&name) {
            return;
        }
        let hint = did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
            format!(
                "declare it under `{section}:`; this pipeline has {}",
                one_of(names.iter().copied())
            )
        });
        let kind = section.trim_end_matches('s');
        let d = Diagnostic::error(code, message)
            .at_opt(self.at(path))
            .label(format!("no such {kind}"))
            .hint(hint);
        self.push(d);
    }
}
