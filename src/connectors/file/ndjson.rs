//! NDJSON: one JSON record a line.

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::connectors::project::Projected;

use super::atomic::AtomicFile;
use crate::connectors::{ConnectorError, Item, Sink, Source};
use crate::record::Record;

pub struct NdjsonSource<R> {
    reader: R,
    fields: Option<Arc<Vec<String>>>,
}

impl<R: BufRead + Send> NdjsonSource<R> {
    pub fn new(reader: R, fields: Option<Arc<Vec<String>>>) -> Self {
        NdjsonSource { reader, fields }
    }
}

fn parse(line: &[u8], fields: Option<&[String]>) -> serde_json::Result<Record> {
    match fields {
        None => serde_json::from_slice(line),
        Some(fields) => {
            let mut de = serde_json::Deserializer::from_slice(line);
            let record = serde::de::DeserializeSeed::deserialize(Projected { fields }, &mut de)?;
            de.end()?;
            Ok(record)
        }
    }
}

impl<R: BufRead + Send> Source for NdjsonSource<R> {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let mut line = Vec::with_capacity(1024);
        let mut number = 0u64;
        loop {
            line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .map_err(|e| ConnectorError::Format(e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            number += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let item = match parse(&line, self.fields.as_deref().map(Vec::as_slice)) {
                Ok(record @ Record::Object(_)) => Item::Record(record),
                Ok(_) => Item::Bad {
                    at: format!("line {number}"),
                    reason: "the line is not a JSON object".to_string(),
                },
                Err(e) => Item::Bad {
                    at: format!("line {number}"),
                    reason: format!("invalid JSON: {e}"),
                },
            };
            if !emit(item) {
                return Ok(());
            }
        }
    }
}

pub struct NdjsonSink {
    file: AtomicFile,
    /// One record's line, reused: serialised into memory and written at once, which costs
    /// less than serde_json's many small writes through the file's buffer.
    line: Vec<u8>,
    written: bool,
}

impl NdjsonSink {
    pub fn new(file: AtomicFile) -> Self {
        NdjsonSink {
            file,
            line: Vec::with_capacity(1024),
            written: false,
        }
    }
}

impl Sink for NdjsonSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)
            .map_err(|e| ConnectorError::Format(e.to_string()))?;
        self.line.push(b'\n');
        self.written = true;
        self.file
            .write_all(&self.line)
            .map_err(|e| ConnectorError::Format(e.to_string()))
    }

    fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        self.file.commit(self.written)
    }
}
