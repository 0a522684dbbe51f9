//! YAML text -> [`Node`] tree, from saphyr-parser's events and their markers.
//!
//! Bounded on purpose: nesting depth, the number of nodes and the bytes of text (aliases
//! expanded, so a "billion laughs" file or one long string aliased many times stops early) are
//! capped, so no input can exhaust the stack or memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle as YamlStyle, Tag};

use super::node::{Entry, Node, Scalar, ScalarStyle, Value};
use crate::diagnostics::Diagnostic;
use crate::diagnostics::source::{FileId, SourceFile, Span};

/// Deeper than any sensible pipeline; keeps every recursive walk of the tree far from the stack's end.
pub const MAX_DEPTH: usize = 64;
/// Nodes in one document after alias expansion.
pub const MAX_NODES: usize = 200_000;
/// Bytes of scalar text in one document after alias expansion: four times the largest file
/// read, so only aliases reach it. Counting nodes alone let one 1 MB string aliased 5000 times
/// through (10 GB).
pub const MAX_BYTES: usize = 32 << 20;

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
    /// Each anchored node with its size (nodes, bytes), so an alias is measured before it is copied.
    anchors: HashMap<usize, (Node, usize, usize)>,
    root: Option<Node>,
    nodes: usize,
    bytes: usize,
    /// The document opened as a mapping: the file reads as YAML from its first value.
    mapping: bool,
    diagnostics: Vec<Diagnostic>,
    starts: Cursor,
    ends: Cursor,
}

/// Finds the byte offset of the parser's (line, character column) places. They mostly move
/// forward, so each is counted on from the last one on its line: counting from the line's start
/// each time was quadratic on a long line (34 s for one line of 60 KB in a debug build).
#[derive(Default)]
struct Cursor {
    line: usize,
    col: usize,
    byte: usize,
}

impl Cursor {
    fn offset(&mut self, file: &SourceFile, line: usize, col: usize) -> usize {
        if line != self.line || col < self.col {
            *self = Cursor {
                line,
                col: 0,
                byte: file.offset_of(line, 0),
            };
        }
        for ch in file.text.get(self.byte..).unwrap_or("").chars() {
            if self.col == col || ch == '\n' {
                break;
            }
            self.byte += ch.len_utf8();
            self.col += 1;
        }
        self.byte
    }
}

/// What [`parse`] read from one file.
pub struct Parsed {
    /// The first document's root, if the file parsed.
    pub root: Option<Node>,
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the document opened as a mapping. When not (a syntax error or text before any
    /// mapping), the file is not YAML, e.g. a secrets file: its lines are never shown.
    pub mapping: bool,
}

/// Parses one file: its first document's root, if the file parsed, and every problem found.
pub fn parse(file: &SourceFile, id: FileId) -> Parsed {
    let mut builder = Builder {
        file,
        id,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        bytes: 0,
        mapping: false,
        diagnostics: Vec::new(),
        starts: Cursor::default(),
        ends: Cursor::default(),
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
                        .hint(syntax_hint(err.info(), &file.text[at..end])),
                );
                return builder.finish(None);
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
            Event::MappingStart(anchor, tag) => {
                builder.mapping |= builder.stack.is_empty() && builder.root.is_none();
                builder.open(Frame::Map {
                    start: span,
                    anchor,
                    tag: tag.map(|t| tag_name(&t)),
                    entries: Vec::new(),
                    key: None,
                })
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(span),
            Event::Alias(anchor) => builder.alias(anchor, span),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        };
        if let Err(diagnostic) = outcome {
            builder.diagnostics.push(diagnostic);
            return builder.finish(None);
        }
    }
    let root = builder.root.take();
    builder.finish(root)
}

/// What to do about a syntax error, by the parser's message and the character it stopped at.
fn syntax_hint(info: &str, at: &str) -> String {
    // By word: "unprintable" holds "tab".
    if info
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w == "tab" || w == "tabs")
    {
        return "YAML indents with spaces: replace the tabs at the start of this line".into();
    }
    if info.contains("unprintable")
        && let Some(c) = at.chars().next()
    {
        let name = match c {
            '\0' => " (NUL)",
            '\u{feff}' => " (a byte order mark)",
            _ => "",
        };
        return format!(
            "remove the character U+{:04X}{name}: a pipeline file holds printable text only",
            c as u32
        );
    }
    "check the indentation and quoting here, and that every `{` and `[` above is closed".into()
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
    fn finish(self, root: Option<Node>) -> Parsed {
        Parsed {
            root,
            diagnostics: self.diagnostics,
            mapping: self.mapping,
        }
    }

    fn span(&mut self, span: &saphyr_parser::Span) -> Span {
        let start = self
            .starts
            .offset(self.file, span.start.line(), span.start.col());
        let end = self.ends.offset(self.file, span.end.line(), span.end.col());
        Span::new(self.id, start, end)
    }

    fn count(&mut self, n: usize, bytes: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_BYTES {
            return Err(Diagnostic::error(
                "yaml-too-large",
                format!(
                    "this document expands to more than {} MiB of text",
                    MAX_BYTES >> 20
                ),
            )
            .at(span)
            .label("this alias goes past the limit")
            .hint("aliases (`*name`) copy what they refer to: write a long text once, not an alias of it in many places"));
        }
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
        self.count(1, 0, start)?;
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
        let Some(&(_, nodes, bytes)) = self.anchors.get(&anchor) else {
            return Err(Diagnostic::error("yaml-alias", "this alias refers to no anchor").at(span));
        };
        // Measured before it is copied: the copies are what a bomb is made of.
        self.count(nodes, bytes, span)?;
        let Some((target, _, _)) = self.anchors.get(&anchor) else {
            return Ok(());
        };
        let mut copy = target.clone();
        copy.key_span = None;
        self.push(copy)
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        let bytes = match &node.value {
            Value::Scalar(s) => s.text.len(),
            _ => 0,
        };
        self.count(1, bytes, node.span)?;
        self.complete_counted(node, anchor)
    }

    fn complete_counted(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            let (nodes, bytes) = size(&node);
            self.anchors.insert(anchor, (node.clone(), nodes, bytes));
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

/// (nodes, bytes of scalar text) of a tree, keys included.
fn size(node: &Node) -> (usize, usize) {
    let (mut nodes, mut bytes) = (0usize, 0usize);
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        nodes += 1;
        match &node.value {
            Value::Scalar(s) => bytes = bytes.saturating_add(s.text.len()),
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => {
                for e in entries {
                    nodes += 1;
                    bytes = bytes.saturating_add(e.key_text().len());
                    todo.push(&e.value);
                }
            }
        }
    }
    (nodes, bytes)
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
