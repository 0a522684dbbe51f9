//! Diagnostics: one problem found in a pipeline file, located at a span, with a hint.
//!
//! Everything that checks configuration pushes [`Diagnostic`]s into a list instead of stopping at
//! the first problem; the CLI renders them all at once, as miette reports or as JSON.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use serde::Serialize;

pub mod source;

use source::{SourceFile, SourceMap, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a pipeline file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier of the kind of problem, e.g. `unknown-key`.
    pub code: &'static str,
    pub message: String,
    /// Where the problem is; `None` only for problems that have no place in a file.
    pub span: Option<Span>,
    /// Text of the label drawn under the span.
    pub label: Option<String>,
    pub hint: Option<String>,
    /// Secondary places, e.g. where a duplicated key was first defined.
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            hint: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file and position so output is stable and reads top to bottom.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| {
        d.span
            .map(|s| (s.file.0, s.start, s.end))
            .unwrap_or((u32::MAX, 0, 0))
    });
}

/// "did you mean `x`?" for the candidate closest to `given`, when one is close enough.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let given_lower = given.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|c| {
            let candidate = c.to_lowercase();
            let score = strsim::jaro_winkler(&given_lower, &candidate);
            // Jaro-Winkler misses swapped letters in short names (`evn` for `env`).
            let close = score >= 0.8
                || (given_lower.len() >= 3
                    && strsim::damerau_levenshtein(&given_lower, &candidate) <= 1);
            close.then_some((score, c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Lists names for a hint, e.g. "`a`, `b` or `c`".
pub fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The same diagnostic in the shape miette renders.
struct MietteView<'a> {
    diagnostic: &'a Diagnostic,
    /// The message, and the place in words when the snippet is not drawn.
    message: String,
    source: Option<Lines<'a>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!("syncline::{}", self.diagnostic.code)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

fn source_span(span: Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.len())
}

/// Longest line, in bytes, of a snippet miette draws. It pads with columns as format widths,
/// which stop at 65535 (a panic past them), and a tab counts 4 columns: 16,000 bytes stay under.
const MAX_SNIPPET_LINE: usize = 16_000;

/// Whether miette can draw these spans: every line it shows (the spans' own and one of context
/// around each) is short enough.
fn drawable(file: &SourceFile, spans: &[Span]) -> bool {
    spans.iter().all(|span| {
        let first = file.line_of(span.start).saturating_sub(1).max(1);
        let last = file.line_of(span.end) + 1;
        (first..=last).all(|line| file.line_text(line).len() <= MAX_SNIPPET_LINE)
    })
}

/// A place in the same file drawn as a second label only this close to the first: miette draws
/// the lines between two labels it finds close, which it measures loosely.
const NEAR_LINES: usize = 20;

/// A file as miette reads it, each span from the lines around it only. miette's own reading
/// scans the text from its start for each label: rendering was quadratic (hours for a file of
/// 7 MB with 30,000 duplicated keys).
struct Lines<'a>(&'a SourceFile);

impl miette::SourceCode for Lines<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let file = self.0;
        // A line more on each side than miette keeps: it drops what it does not need.
        let first = file
            .line_of(span.offset())
            .saturating_sub(before + 1)
            .max(1);
        let last = file.line_of(span.offset() + span.len()) + after + 1;
        let start = file.line_start(first);
        let text = file
            .text
            .get(start..file.line_start(last + 1))
            .ok_or(miette::MietteError::OutOfBounds)?;
        let offset = span
            .offset()
            .checked_sub(start)
            .ok_or(miette::MietteError::OutOfBounds)?;
        let inner = text.read_span(&SourceSpan::new(offset.into(), span.len()), before, after)?;
        // Back to the whole file's offsets and (0-based) line numbers.
        Ok(Box::new(miette::MietteSpanContents::new_named(
            file.name.clone(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + first - 1,
            inner.column(),
            inner.line_count() + first - 1,
        )))
    }
}

/// How diagnostics are drawn for a person.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

/// Renders one diagnostic as a miette report (file:line:col, the snippet, the label, the hint).
/// Without the snippet when the file is hidden or its lines are too long to draw: the place is
/// then written under the message.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, options: RenderOptions) -> String {
    let mut labels = Vec::new();
    let mut help = diagnostic.hint.clone();
    let mut source = None;
    let mut message = diagnostic.message.clone();
    if let Some(span) = diagnostic.span {
        let file = sources.get(span.file);
        let line = file.line_of(span.start);
        let (near, far): (Vec<_>, Vec<_>) = diagnostic.related.iter().partition(|(r, _)| {
            r.file == span.file && file.line_of(r.start).abs_diff(line) <= NEAR_LINES
        });
        let spans: Vec<Span> = std::iter::once(span)
            .chain(near.iter().map(|(r, _)| *r))
            .collect();
        let why_not_drawn = if file.hidden {
            Some("its text is not shown: the file is not YAML")
        } else if !drawable(file, &spans) {
            Some("the line is too long to show")
        } else {
            None
        };
        let mut in_words = far;
        match why_not_drawn {
            Some(why) => {
                let (line, col) = file.line_col(span.start);
                message = format!("{message}\nat {}:{line}:{col} ({why})", file.name);
                in_words.extend(near);
            }
            None => {
                source = Some(Lines(file));
                labels.push(LabeledSpan::new_primary_with_span(
                    Some(
                        diagnostic
                            .label
                            .clone()
                            .unwrap_or_else(|| "here".to_string()),
                    ),
                    source_span(span),
                ));
                for (related, text) in near {
                    labels.push(LabeledSpan::new_with_span(
                        Some(text.clone()),
                        source_span(*related),
                    ));
                }
            }
        }
        // miette draws one file, and close places, per report: name the others in words.
        for (related, text) in in_words {
            let other = sources.get(related.file);
            let (line, col) = other.line_col(related.start);
            let note = format!("{text}: {}:{line}:{col}", other.name);
            help = Some(match help {
                Some(h) => format!("{h}\n{note}"),
                None => note,
            });
        }
    }
    let view = MietteView {
        diagnostic,
        message,
        source,
        labels,
        help,
    };
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &view).is_err() {
        out = format!("{}: {}\n", diagnostic.code, view.message);
    }
    out
}

/// A diagnostic as editors and CI read it (`validate --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: Option<String>,
    pub hint: Option<String>,
}

impl JsonDiagnostic {
    pub fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let mut out = JsonDiagnostic {
            severity: diagnostic.severity,
            code: diagnostic.code,
            message: diagnostic.message.clone(),
            file: None,
            line: None,
            column: None,
            end_line: None,
            end_column: None,
            label: diagnostic.label.clone(),
            hint: diagnostic.hint.clone(),
        };
        if let Some(span) = diagnostic.span {
            let file = sources.get(span.file);
            let (line, column) = file.line_col(span.start);
            let (end_line, end_column) = file.line_col(span.end);
            out.file = Some(file.name.clone());
            out.line = Some(line);
            out.column = Some(column);
            out.end_line = Some(end_line);
            out.end_column = Some(end_column);
        }
        out
    }
}
