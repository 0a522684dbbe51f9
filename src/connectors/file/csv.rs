//! CSV: a delimiter, an optional header line or given column names, UTF-8 or Windows-1252.

use std::io::{Read, Write};

use serde_json::{Map, Value};

use super::AtomicFile;
use super::encoding::Encoder;
use crate::config::model::Encoding;
use crate::connectors::{ConnectorError, Item, Sink, Source};
use crate::steps::Record;

#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub header: bool,
    pub columns: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            header: true,
            columns: Vec::new(),
        }
    }
}

pub struct CsvSource<R> {
    reader: csv::Reader<R>,
    columns: Vec<String>,
}

impl<R: Read + Send> CsvSource<R> {
    pub fn new(reader: R, options: &CsvOptions) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(options.header)
            .flexible(false)
            .from_reader(reader);
        CsvSource {
            reader,
            columns: options.columns.clone(),
        }
    }
}

impl<R: Read + Send> Source for CsvSource<R> {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let columns: Vec<String> = if self.columns.is_empty() {
            let headers = self
                .reader
                .headers()
                .map_err(|e| ConnectorError::Format(format!("CSV header: {e}")))?;
            headers
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
                .collect()
        } else {
            self.columns.clone()
        };
        let mut row = csv::StringRecord::new();
        loop {
            let line = self.reader.position().line();
            let item = match self.reader.read_record(&mut row) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let mut record = Map::with_capacity(columns.len());
                    for (name, value) in columns.iter().zip(row.iter()) {
                        record.insert(name.clone(), Value::String(value.to_string()));
                    }
                    Item::Record(Value::Object(record))
                }
                Err(e) if e.is_io_error() => return Err(ConnectorError::Format(e.to_string())),
                Err(e) => Item::Bad {
                    at: format!("line {line}"),
                    reason: csv_reason(&e),
                },
            };
            if !emit(item) {
                return Ok(());
            }
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text (set `encoding: windows-1252`?)".to_string(),
        _ => e.to_string(),
    }
}

/// Where CSV rows go: straight to the file, or through the Windows-1252 encoder.
enum Out {
    Utf8(AtomicFile),
    Windows1252(Encoder<AtomicFile>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Utf8(f) => f.write(buf),
            Out::Windows1252(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Utf8(f) => f.flush(),
            Out::Windows1252(e) => e.flush(),
        }
    }
}

pub struct CsvSink {
    writer: csv::Writer<Out>,
    columns: Vec<String>,
    header: bool,
    started: bool,
}

impl CsvSink {
    pub fn new(file: AtomicFile, options: &CsvOptions, encoding: Encoding) -> Self {
        let out = match encoding {
            Encoding::Utf8 => Out::Utf8(file),
            Encoding::Windows1252 => Out::Windows1252(Encoder::windows_1252(file)),
        };
        let writer = csv::WriterBuilder::new()
            .delimiter(options.delimiter)
            .from_writer(out);
        CsvSink {
            writer,
            columns: options.columns.clone(),
            header: options.header,
            started: false,
        }
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn format_error(e: csv::Error) -> ConnectorError {
    ConnectorError::Format(e.to_string())
}

impl Sink for CsvSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        if !self.started {
            self.started = true;
            if self.columns.is_empty() {
                // Columns follow the first record's fields.
                self.columns = record
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
            }
            if self.header {
                self.writer
                    .write_record(&self.columns)
                    .map_err(format_error)?;
            }
        }
        let cells = self.columns.iter().map(|c| cell(record.get(c)));
        self.writer.write_record(cells).map_err(format_error)
    }

    fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        let out = self
            .writer
            .into_inner()
            .map_err(|e| ConnectorError::Format(e.error().to_string()))?;
        match out {
            Out::Utf8(file) => file.commit(),
            Out::Windows1252(encoder) => encoder.into_inner().commit(),
        }
    }
}
