//! JSON documents: a list of records, at the root or under a path (`$.products`), or a mapping
//! keyed by id (Gomag). A plain path is followed while parsing, so records are handed on one by
//! one and the document is never held whole; other paths read the document first.

use std::fmt;
use std::io::{Read, Write};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use std::sync::Arc;

use super::atomic::AtomicFile;
use crate::connectors::project::Projected;
use crate::connectors::{ConnectorError, Item, Sink, Source};
use crate::record::Record;
use crate::record::path::CompiledPath;

pub struct JsonSource<R> {
    reader: Option<R>,
    records: Option<CompiledPath>,
    fields: Option<Arc<Vec<String>>>,
}

impl<R: Read + Send> JsonSource<R> {
    pub fn new(reader: R, records: Option<CompiledPath>, fields: Option<Arc<Vec<String>>>) -> Self {
        JsonSource {
            reader: Some(reader),
            records,
            fields,
        }
    }
}

/// Why parsing stopped early on purpose.
const STOPPED: &str = "syncline: reading stopped";

impl<R: Read + Send> Source for JsonSource<R> {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let Some(reader) = self.reader.take() else {
            return Ok(());
        };
        let mut counter = 0u64;
        let mut emit_value = |value: Record| {
            counter += 1;
            emit(match value {
                record @ Record::Object(_) => Item::Record(record),
                _ => Item::Bad {
                    at: format!("record {counter}"),
                    reason: "not a JSON object".to_string(),
                },
            })
        };
        let names: Option<Vec<String>> = match &self.records {
            None => Some(Vec::new()),
            Some(path) => path
                .field_names()
                .map(|n| n.into_iter().map(str::to_string).collect()),
        };
        let mut de = serde_json::Deserializer::from_reader(reader);
        let result = match (&names, &self.records) {
            (Some(names), _) => StreamAt {
                path: names,
                fields: self.fields.as_deref().map(Vec::as_slice),
                emit: &mut emit_value,
            }
            .deserialize(&mut de)
            .map(|_| ()),
            (None, Some(path)) => serde::Deserialize::deserialize(&mut de).map(|doc: Record| {
                for value in path.select(&doc) {
                    let items = match value {
                        Record::Array(items) => items.clone(),
                        other => vec![other.clone()],
                    };
                    for item in items {
                        if !emit_value(item) {
                            return;
                        }
                    }
                }
            }),
            (None, None) => Ok(()),
        };
        match result {
            Err(e) if e.to_string().starts_with(STOPPED) => Ok(()),
            Err(e) => Err(ConnectorError::Format(format!("invalid JSON: {e}"))),
            Ok(()) => de
                .end()
                .map_err(|e| ConnectorError::Format(format!("invalid JSON: {e}"))),
        }
    }
}

/// Walks down `path` while parsing and streams the records found there.
struct StreamAt<'a, 'e> {
    path: &'a [String],
    /// Read only these fields of each record, when set.
    fields: Option<&'a [String]>,
    emit: &'e mut dyn FnMut(Record) -> bool,
}

impl<'de> DeserializeSeed<'de> for StreamAt<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StreamAt<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.path.is_empty() {
            // PrestaShop answers `[]` instead of `{"products": []}` when nothing matches.
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        loop {
            let record = match self.fields {
                Some(fields) => seq.next_element_seed(Projected { fields })?,
                None => seq.next_element::<Record>()?,
            };
            let Some(record) = record else { break };
            if !(self.emit)(record) {
                return Err(serde::de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self.path.split_first() {
            // A mapping keyed by id: its values are the records.
            None => {
                while let Some((_, record)) = map.next_entry::<IgnoredAny, Record>()? {
                    if !(self.emit)(record) {
                        return Err(serde::de::Error::custom(STOPPED));
                    }
                }
            }
            Some((first, rest)) => {
                while let Some(key) = map.next_key::<String>()? {
                    if &key == first {
                        map.next_value_seed(StreamAt {
                            path: rest,
                            fields: self.fields,
                            emit: &mut *self.emit,
                        })?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

pub struct JsonSink {
    file: AtomicFile,
    written: u64,
    /// One record, reused (see `NdjsonSink`).
    item: Vec<u8>,
}

impl JsonSink {
    pub fn new(file: AtomicFile) -> Self {
        JsonSink {
            file,
            written: 0,
            item: Vec::with_capacity(1024),
        }
    }
}

fn format_error(e: impl fmt::Display) -> ConnectorError {
    ConnectorError::Format(e.to_string())
}

impl Sink for JsonSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.item.clear();
        self.item
            .extend_from_slice(if self.written == 0 { b"[\n" } else { b",\n" });
        serde_json::to_writer(&mut self.item, record).map_err(format_error)?;
        self.file.write_all(&self.item).map_err(format_error)?;
        self.written += 1;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), ConnectorError> {
        self.file
            .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })
            .map_err(format_error)?;
        self.file.commit(self.written > 0)
    }
}
