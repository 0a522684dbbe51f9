//! YAML text -> [`Node`] tree, from saphyr-parser's events and their markers.
//!
//! Bounded on purpose: nesting depth and the number of nodes (aliases included, so a "billion
//! laughs" file stops early) are capped, so no input can exhaust the stack or memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle as YamlStyle, Tag};

use super::node::{Entry, Node, Scalar, ScalarStyle, Value};
use crate::diagnostics::Diagnostic;
use crate::diagnostics::source::{FileId, SourceFile, Span};

/// Deeper than any sensible pipeline; keeps every recursive walk of the tree far from the stack's end.
pub const MAX_DEPTH: usize = 64;
/// Nodes in one document after alias expansion.
pub const MAX_NODES: usize = 200_000;

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        tag: Option<String>,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        tag: Option<String>,
        entries: Vec<Entry>,
        key: Option<Node>,
    },
}

struct Builder<'a> {
    file: &'a SourceFile,
    id: FileId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    diagnostics: Vec<Diagnostic>,
}

/// Parses one file. Returns its first document's root, if the file parsed, and every problem found.
pub fn parse(file: &SourceFile, id: FileId) -> (Option<Node>, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        id,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        diagnostics: Vec::new(),
    };
    let mut documents = 0;
    for item in Parser::new_from_str(&file.text) {
        let (event, span) = match item {
            Ok(ok) => ok,
            Err(err) => {
                let m = err.marker();
                let at = file.offset_of(m.line(), m.col());
                let end = next_char_boundary(&file.text, at);
                builder.diagnostics.push(
                    Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", err.info()))
                        .at(Span::new(id, at, end))
                        .label("the YAML parser stopped here")
                        .hint(if err.info().contains("tab") {
                            "YAML indents with spaces: replace the tabs at the start of this line"
                        } else {
                            "check the indentation and quoting here, and that every `{` and `[` above is closed"
                        }),
                );
                return (None, builder.diagnostics);
            }
        };
        let span = builder.span(&span);
        let outcome = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    builder.diagnostics.push(
                        Diagnostic::error(
                            "multiple-documents",
                            "a pipeline file holds one YAML document",
                        )
                        .at(span)
                        .label("a second document starts here")
                        .hint("put each pipeline in its own file"),
                    );
                    break;
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    YamlStyle::Plain => ScalarStyle::Plain,
                    YamlStyle::SingleQuoted | YamlStyle::DoubleQuoted => ScalarStyle::Quoted,
                    YamlStyle::Literal => ScalarStyle::Literal,
                    YamlStyle::Folded => ScalarStyle::Folded,
                };
                let node = Node {
                    span,
                    key_span: None,
                    tag: tag.map(|t| tag_name(&t)),
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        style,
                    }),
                };
                builder.complete(node, anchor)
            }
            Event::SequenceStart(anchor, tag) => builder.open(Frame::Seq {
                start: span,
                anchor,
                tag: tag.map(|t| tag_name(&t)),
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, tag) => builder.open(Frame::Map {
                start: span,
                anchor,
                tag: tag.map(|t| tag_name(&t)),
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => builder.close(span),
            Event::Alias(anchor) => builder.alias(anchor, span),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        };
        if let Err(diagnostic) = outcome {
            builder.diagnostics.push(diagnostic);
            return (None, builder.diagnostics);
        }
    }
    (builder.root, builder.diagnostics)
}

fn next_char_boundary(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map(|c| at + c.len_utf8())
        .unwrap_or(at)
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

// A Diagnostic error ends the parse: its size on the error path costs nothing.
#[allow(clippy::result_large_err)]
impl Builder<'_> {
    fn span(&self, span: &saphyr_parser::Span) -> Span {
        let start = self.file.offset_of(span.start.line(), span.start.col());
        let end = self.file.offset_of(span.end.line(), span.end.col());
        Span::new(self.id, start, end)
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                "yaml-too-large",
                format!("this document expands to more than {MAX_NODES} values"),
            )
            .at(span)
            .hint(
                "aliases (`*name`) copy what they refer to; a chain of them grows without bound",
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame) -> Result<(), Diagnostic> {
        let start = match &frame {
            Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                "yaml-too-deep",
                format!("values nest more than {MAX_DEPTH} levels deep"),
            )
            .at(start)
            .hint("a pipeline never needs this depth; look for an unclosed bracket"));
        }
        self.count(1, start)?;
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: Span) -> Result<(), Diagnostic> {
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Seq {
                start,
                anchor,
                tag,
                items,
            }) => (
                Node {
                    span: Span::new(self.id, start.start, end.end),
                    key_span: None,
                    tag,
                    value: Value::Seq(items),
                },
                anchor,
            ),
            Some(Frame::Map {
                start,
                anchor,
                tag,
                entries,
                ..
            }) => (
                Node {
                    span: Span::new(self.id, start.start, end.end),
                    key_span: None,
                    tag,
                    value: Value::Map(apply_merge_keys(entries)),
                },
                anchor,
            ),
            None => return Ok(()),
        };
        self.complete_counted(node, anchor)
    }

    fn alias(&mut self, anchor: usize, span: Span) -> Result<(), Diagnostic> {
        let Some(target) = self.anchors.get(&anchor) else {
            return Err(Diagnostic::error("yaml-alias", "this alias refers to no anchor").at(span));
        };
        let mut copy = target.clone();
        copy.key_span = None;
        let n = count_nodes(&copy);
        self.count(n, span)?;
        self.push(copy)
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.count(1, node.span)?;
        self.complete_counted(node, anchor)
    }

    fn complete_counted(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node)
    }

    fn push(&mut self, mut node: Node) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar(_)) {
                        return Err(Diagnostic::error(
                            "yaml-complex-key",
                            "a mapping key must be a plain name, not a list or mapping",
                        )
                        .at(node.label_span()));
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    node.key_span = Some(k.span);
                    let text = k.as_str().unwrap_or_default();
                    if let Some(first) = entries.iter().find(|e| e.key_text() == text) {
                        // Keep the first definition; report the second.
                        self.diagnostics.push(
                            Diagnostic::error("duplicate-key", format!("the key `{text}` is defined twice"))
                                .at(k.span)
                                .label("defined again here")
                                .related(first.key.span, "first defined here")
                                .hint("each key appears once in a mapping; remove or merge one of the two"),
                        );
                    } else {
                        entries.push(Entry {
                            key: k,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut n = 0;
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        n += 1;
        match &node.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
        }
    }
    n
}

/// YAML merge keys (`<<: *defaults`): the aliased mapping's entries are added where the mapping
/// does not set them itself.
fn apply_merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    if !entries.iter().any(|e| e.key_text() == "<<") {
        return entries;
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.key_text() == "<<");
    for merge in merges {
        let sources: Vec<Node> = match merge.value.value {
            Value::Map(_) => vec![merge.value],
            Value::Seq(items) => items,
            Value::Scalar(_) => vec![],
        };
        for source in sources {
            if let Value::Map(inherited) = source.value {
                for entry in inherited {
                    if !own.iter().any(|e| e.key_text() == entry.key_text()) {
                        own.push(entry);
                    }
                }
            }
        }
    }
    own
}
