//! The YAML document as a tree of nodes that remember where they came from.
//!
//! Overlays are merged on this tree (so a merged value still points into the file that set it),
//! and the typed model is deserialized from it by [`super::de`].

use crate::diagnostics::source::Span;

#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    /// The span of the mapping key this node is the value of, if any: the place to point at when
    /// a whole mapping or sequence is wrong.
    pub key_span: Option<Span>,
    /// A YAML tag, normalised: `!!str` for core tags, `!append` for local ones.
    pub tag: Option<String>,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Always a scalar node: complex keys are rejected when parsing.
    pub key: Node,
    pub value: Node,
}

impl Entry {
    pub fn key_text(&self) -> &str {
        self.key.as_str().unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    /// `|` block: lines kept as written.
    Literal,
    /// `>` block: lines folded.
    Folded,
}

#[derive(Debug, Clone)]
pub struct Scalar {
    pub text: String,
    pub style: ScalarStyle,
}

/// A scalar's value under YAML 1.2's core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    /// Plain scalars are typed by their text (`true`, `12`, `~`); quoted and block scalars, or
    /// ones tagged `!!str`, are always strings.
    pub fn resolve(&self, tag: Option<&str>) -> Resolved<'_> {
        if self.style != ScalarStyle::Plain || tag == Some("!!str") {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Resolved::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Resolved::Int(i);
            }
        } else if let Some(oct) = t.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Resolved::Int(i);
            }
        } else if looks_like_int(t) {
            if let Ok(i) = t.parse::<i64>() {
                return Resolved::Int(i);
            }
        } else if looks_like_float(t)
            && let Ok(f) = t.parse::<f64>()
        {
            return Resolved::Float(f);
        }
        Resolved::Str(t)
    }
}

fn looks_like_int(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn looks_like_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.bytes().filter(|b| *b == b'.').count() <= 1
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key_text() == key)
            .map(|e| &e.value)
    }

    /// Where to point when this node as a whole is wrong: the scalar itself, or for a mapping or
    /// sequence the key it sits under (a whole block would draw a tall, unreadable label).
    pub fn label_span(&self) -> Span {
        match (&self.value, self.key_span) {
            (Value::Scalar(_), _) => self.span,
            (_, Some(key)) => key,
            (_, None) => Span::new(self.span.file, self.span.start, self.span.start + 1),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(s) => match s.resolve(self.tag.as_deref()) {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}
