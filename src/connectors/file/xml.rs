//! XML: records are the elements at a path (`$.catalog.article` reads every `<article>` in
//! `<catalog>`), streamed one by one. An element becomes a JSON object: child elements are
//! fields (repeated ones a list), attributes are `@name` fields, text beside children is `#text`;
//! an element with text only is a string. Writing does the reverse.

use std::io::BufRead;

use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

use super::atomic::AtomicFile;
use crate::connectors::{ConnectorError, Item, Sink, Source};
use crate::record::Record;

pub struct XmlSource<R> {
    reader: quick_xml::Reader<R>,
    path: Vec<String>,
}

impl<R: BufRead + Send> XmlSource<R> {
    pub fn new(reader: R, path: Vec<String>) -> Self {
        let mut reader = quick_xml::Reader::from_reader(reader);
        reader.config_mut().trim_text(true);
        XmlSource { reader, path }
    }
}

/// Elements open at once at most: a value nested deeper would overflow the stack when it is
/// dropped or written (serde_json stops JSON at the same depth).
const MAX_DEPTH: usize = 128;

/// Why XML cannot be read, by a file source or from an API's answer.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed: an unclosed tag, an unknown entity...
    #[error("invalid XML: {0}")]
    Syntax(quick_xml::Error),
    #[error("invalid XML: {0}")]
    Attribute(AttrError),
    /// Deeper than [`MAX_DEPTH`], at this byte.
    #[error("invalid XML: elements nest deeper than {max} (at byte {0})", max = MAX_DEPTH)]
    TooDeep(u64),
    #[error("the XML document has no element")]
    NoElement,
}

/// A file source's XML that cannot be read stops the job.
impl From<XmlError> for ConnectorError {
    fn from(error: XmlError) -> Self {
        ConnectorError::Format(error.to_string())
    }
}

/// An element being read inside a record.
struct Element {
    name: String,
    fields: Map<String, Value>,
    text: String,
}

fn format_error(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Format(format!("invalid XML: {e}"))
}

fn element(start: &BytesStart) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut fields = Map::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(XmlError::Attribute)?;
        let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
        let value = attribute.unescape_value().map_err(XmlError::Syntax)?;
        fields.insert(format!("@{key}"), Value::String(value.into_owned()));
    }
    Ok(Element {
        name,
        fields,
        text: String::new(),
    })
}

fn into_value(element: Element) -> Value {
    let Element {
        mut fields, text, ..
    } = element;
    if fields.is_empty() {
        return Value::String(text);
    }
    if !text.is_empty() {
        fields.insert("#text".to_string(), Value::String(text));
    }
    Value::Object(fields)
}

/// What an event does to the open elements: the element it opens, and whether one closes (an
/// empty element does both); text and CDATA go to `innermost` (none: text between records,
/// ignored). `None` at the end of the document.
fn step(
    event: &Event,
    innermost: Option<&mut Element>,
) -> Result<Option<(Option<Element>, bool)>, XmlError> {
    Ok(Some(match event {
        Event::Start(e) => (Some(element(e)?), false),
        Event::Empty(e) => (Some(element(e)?), true),
        Event::End(_) => (None, true),
        Event::Text(t) => {
            if let Some(element) = innermost {
                element
                    .text
                    .push_str(&t.unescape().map_err(XmlError::Syntax)?);
            }
            (None, false)
        }
        Event::CData(c) => {
            if let Some(element) = innermost {
                element.text.push_str(&String::from_utf8_lossy(c));
            }
            (None, false)
        }
        Event::Eof => return Ok(None),
        _ => (None, false),
    }))
}

/// Adds a child's value to its parent; a name seen twice becomes a list.
fn add_field(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            fields.insert(name, value);
        }
    }
}

impl<R: BufRead + Send> Source for XmlSource<R> {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let mut buf = Vec::new();
        // Names of the open elements above the records, and the elements open inside one.
        let mut outer: Vec<String> = Vec::new();
        let mut inner: Vec<Element> = Vec::new();
        let mut count = 0u64;
        loop {
            let event = self
                .reader
                .read_event_into(&mut buf)
                .map_err(XmlError::Syntax)?;
            let Some((start, end)) = step(&event, inner.last_mut())? else {
                return Ok(());
            };
            if let Some(started) = start {
                if outer.len() + inner.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep(self.reader.buffer_position()).into());
                }
                if !inner.is_empty()
                    || outer.len() + 1 == self.path.len()
                        && self.path.last() == Some(&started.name)
                        && outer == self.path[..outer.len()]
                {
                    inner.push(started);
                } else {
                    outer.push(started.name);
                    if end {
                        outer.pop();
                    }
                    buf.clear();
                    continue;
                }
            }
            if end {
                match inner.pop() {
                    Some(done) if inner.is_empty() => {
                        count += 1;
                        let item = match into_value(done) {
                            record @ Value::Object(_) => Item::Record(record),
                            Value::String(text) if text.is_empty() => {
                                Item::Record(Value::Object(Map::new()))
                            }
                            _ => Item::Bad {
                                at: format!("record {count}"),
                                reason: "an element with text only is not a record".to_string(),
                            },
                        };
                        if !emit(item) {
                            return Ok(());
                        }
                    }
                    Some(done) => {
                        let name = done.name.clone();
                        if let Some(parent) = inner.last_mut() {
                            add_field(&mut parent.fields, name, into_value(done));
                        }
                    }
                    None => {
                        outer.pop();
                    }
                }
            }
            buf.clear();
        }
    }
}

/// A whole XML document as one value, `{root: ...}`, elements read by the rules above: the
/// answer of an XML API, read by an HTTP source (`records: $.prestashop.products.product`).
pub fn document(bytes: &[u8]) -> Result<Value, XmlError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut open: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let event = reader.read_event().map_err(XmlError::Syntax)?;
        let Some((started, end)) = step(&event, open.last_mut())? else {
            break;
        };
        if started.is_some() && open.len() >= MAX_DEPTH {
            return Err(XmlError::TooDeep(reader.buffer_position()));
        }
        open.extend(started);
        if end && let Some(done) = open.pop() {
            let name = done.name.clone();
            match open.last_mut() {
                Some(parent) => add_field(&mut parent.fields, name, into_value(done)),
                None => root = Some((name, into_value(done))),
            }
        }
    }
    let (name, value) = root.ok_or(XmlError::NoElement)?;
    Ok(Value::Object(Map::from_iter([(name, value)])))
}

pub struct XmlSink {
    writer: quick_xml::Writer<AtomicFile>,
    /// The elements around the records, outermost first.
    around: Vec<String>,
    item: String,
    started: bool,
}

impl XmlSink {
    pub fn new(file: AtomicFile, path: &[String]) -> Self {
        let (item, around) = match path.split_last() {
            Some((item, around)) if !around.is_empty() => (item.clone(), around.to_vec()),
            _ => ("record".to_string(), vec!["records".to_string()]),
        };
        XmlSink {
            writer: quick_xml::Writer::new_with_indent(file, b' ', 2),
            around,
            item,
            started: false,
        }
    }

    fn start(&mut self) -> Result<(), ConnectorError> {
        if !self.started {
            self.started = true;
            self.writer
                .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
                .map_err(format_error)?;
            for name in &self.around {
                self.writer
                    .write_event(Event::Start(BytesStart::new(name.as_str())))
                    .map_err(format_error)?;
            }
        }
        Ok(())
    }

    fn value(&mut self, name: &str, value: &Value) -> Result<(), ConnectorError> {
        let w = &mut self.writer;
        match value {
            Value::Array(items) => {
                for item in items {
                    self.value(name, item)?;
                }
            }
            Value::Null => w
                .write_event(Event::Empty(BytesStart::new(name)))
                .map_err(format_error)?,
            Value::Object(fields) => {
                let mut start = BytesStart::new(name);
                for (key, v) in fields {
                    if let Some(attribute) = key.strip_prefix('@') {
                        start.push_attribute((
                            attribute,
                            crate::record::text_of(v).unwrap_or_default().as_str(),
                        ));
                    }
                }
                w.write_event(Event::Start(start)).map_err(format_error)?;
                for (key, v) in fields {
                    if key == "#text" {
                        let text = crate::record::text_of(v).unwrap_or_default();
                        self.writer
                            .write_event(Event::Text(BytesText::new(&text)))
                            .map_err(format_error)?;
                    } else if !key.starts_with('@') {
                        self.value(key, v)?;
                    }
                }
                self.writer
                    .write_event(Event::End(BytesEnd::new(name)))
                    .map_err(format_error)?;
            }
            scalar => {
                let text = crate::record::text_of(scalar).unwrap_or_default();
                w.write_event(Event::Start(BytesStart::new(name)))
                    .map_err(format_error)?;
                w.write_event(Event::Text(BytesText::new(&text)))
                    .map_err(format_error)?;
                w.write_event(Event::End(BytesEnd::new(name)))
                    .map_err(format_error)?;
            }
        }
        Ok(())
    }
}

impl Sink for XmlSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.start()?;
        let item = self.item.clone();
        self.value(&item, record)
    }

    fn commit(mut self: Box<Self>) -> Result<(), ConnectorError> {
        let records = self.started;
        self.start()?;
        for name in self.around.clone().iter().rev() {
            self.writer
                .write_event(Event::End(BytesEnd::new(name.as_str())))
                .map_err(format_error)?;
        }
        let mut file = self.writer.into_inner();
        std::io::Write::write_all(&mut file, b"\n").map_err(format_error)?;
        file.commit(records)
    }
}
