//! Path -> place index over a loaded pipeline, for checks that run on the typed model (a job in
//! `needs` that does not exist, a rhai snippet that does not compile) and must point at the value.
//!
//! Paths are written `jobs.products.steps[0].filter`.

use std::collections::HashMap;

use super::node::{Node, ScalarStyle, Value};
use crate::diagnostics::source::{SourceMap, Span};

#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// The value (for a mapping or list, the key above it).
    pub span: Span,
    /// The key, when the value is in a mapping.
    pub key_span: Option<Span>,
    /// The whole value, for scalars mapping a position inside them.
    pub full: Span,
    pub style: Option<ScalarStyle>,
}

#[derive(Debug, Default)]
pub struct SpanIndex {
    places: HashMap<String, Place>,
}

impl SpanIndex {
    pub fn build(root: &Node) -> SpanIndex {
        let mut places = HashMap::new();
        let mut todo = vec![(root, String::new())];
        while let Some((node, path)) = todo.pop() {
            let style = match &node.value {
                Value::Scalar(s) => Some(s.style),
                _ => None,
            };
            places.insert(
                path.clone(),
                Place {
                    span: node.label_span(),
                    key_span: node.key_span,
                    full: node.span,
                    style,
                },
            );
            match &node.value {
                Value::Scalar(_) => {}
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        todo.push((item, format!("{path}[{i}]")));
                    }
                }
                Value::Map(entries) => {
                    for entry in entries {
                        let child = if path.is_empty() {
                            entry.key_text().to_string()
                        } else {
                            format!("{path}.{}", entry.key_text())
                        };
                        todo.push((&entry.value, child));
                    }
                }
            }
        }
        SpanIndex { places }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.places.contains_key(path)
    }

    /// The value at `path`, or the nearest enclosing one that exists.
    pub fn span(&self, path: &str) -> Option<Span> {
        let mut path = path;
        loop {
            if let Some(place) = self.places.get(path) {
                return Some(place.span);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    /// The key at `path` (falling back to its value).
    pub fn key_span(&self, path: &str) -> Option<Span> {
        self.places
            .get(path)
            .and_then(|p| p.key_span)
            .or_else(|| self.span(path))
    }

    /// The place of a (1-based line, 1-based column) position inside the string at `path`, e.g.
    /// where a rhai snippet in a `|` block fails to compile.
    pub fn inside(&self, path: &str, sources: &SourceMap, line: usize, col: usize) -> Option<Span> {
        let place = self.places.get(path)?;
        let file = sources.get(place.full.file);
        let (first_line, first_col) = file.line_col(place.full.start);
        let offset = match place.style? {
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // Content starts on the line after the `|` (the span may start at either); its
                // indentation is that of the first non-blank content line.
                let at_indicator = file.text[place.full.start..].starts_with(['|', '>']);
                let first_line = if at_indicator {
                    first_line
                } else {
                    first_line - 1
                };
                let indent = (first_line + 1..)
                    .take(200)
                    .map(|l| file.line_text(l))
                    .find(|t| !t.trim().is_empty())
                    .map(|t| t.len() - t.trim_start().len())
                    .unwrap_or(0);
                file.offset_of(first_line + line, indent + col.saturating_sub(1))
            }
            ScalarStyle::Quoted if line == 1 => {
                file.offset_of(first_line, first_col + col.saturating_sub(1))
            }
            ScalarStyle::Plain if line == 1 => {
                file.offset_of(first_line, first_col - 1 + col.saturating_sub(1))
            }
            _ => place.full.start,
        };
        let offset = offset.clamp(place.full.start, place.full.end.max(place.full.start));
        let end = file.text[offset..]
            .char_indices()
            .nth(1)
            .map(|(i, _)| offset + i)
            .unwrap_or(offset);
        Some(Span::new(place.full.file, offset, end))
    }
}
