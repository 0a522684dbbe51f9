//! CSV: a delimiter, an optional header line or given column names, UTF-8 or Windows-1252.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Map, Value};

use super::atomic::{AtomicFile, Publish, io_error};
use super::encoding::{Decoder, Encoder};
use crate::config::model::Encoding;
use crate::connectors::{ConnectorError, Item, Sink, Source};
use crate::record::Record;

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
    reader: csv::Reader<QuoteWatch<R>>,
    columns: Vec<String>,
}

impl<R: Read + Send> CsvSource<R> {
    pub fn new(reader: R, options: &CsvOptions) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(options.header)
            .flexible(false)
            .from_reader(QuoteWatch::new(reader, options.delimiter));
        CsvSource {
            reader,
            columns: options.columns.clone(),
        }
    }
}

impl<R: Read + Send> Source for CsvSource<R> {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let columns: Vec<String> = if self.columns.is_empty() {
            let headers: Vec<String> = self
                .reader
                .headers()
                .map_err(|e| ConnectorError::Format(format!("CSV header: {e}")))?
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
                .collect();
            let watch = self.reader.get_ref();
            if watch.open_at(self.reader.position().byte()) {
                let end = self.reader.position().line();
                return Err(ConnectorError::Format(format!(
                    "CSV header, line 1: {}",
                    never_closed(1, end, watch.last)
                )));
            }
            headers
        } else {
            self.columns.clone()
        };
        let mut row = csv::StringRecord::new();
        loop {
            let line = self.reader.position().line();
            let item = match self.reader.read_record(&mut row) {
                Ok(false) => return Ok(()),
                Ok(true) if self.reader.get_ref().open_at(self.reader.position().byte()) => {
                    Item::Bad {
                        at: format!("line {line}"),
                        reason: never_closed(
                            line,
                            self.reader.position().line(),
                            self.reader.get_ref().last,
                        ),
                    }
                }
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

/// Why the record from line `line` to the end of the file is refused: a quote opened there is
/// never closed, and the csv crate reads the rest of the file into that field. `end` is the
/// reader's line after it, `last` the file's last byte.
fn never_closed(line: u64, end: u64, last: u8) -> String {
    let last_line = if last == b'\n' || last == b'\r' {
        end.saturating_sub(1)
    } else {
        end
    };
    let taken = match last_line.saturating_sub(line) {
        0 => String::new(),
        1 => format!(", and line {last_line} was read into that field"),
        _ => format!(
            ", and lines {} to {last_line} were read into that field",
            line.saturating_add(1)
        ),
    };
    format!(
        "a quote opens a field here and is never closed{taken} (close it; a quote inside a quoted field is written twice: \"\")"
    )
}

/// The input of the CSV reader, watched for a quoted field left open at its end: the csv crate
/// ends such a field at the end of the file, silently, with every line after the quote in it.
/// This follows quotes as the csv crate's default dialect does (a quote opens a field only at
/// its start; in a quoted field, `""` is a quote and a lone `"` closes it), with `memchr`
/// between quotes, so that input without quotes costs next to nothing.
struct QuoteWatch<R> {
    inner: R,
    delimiter: u8,
    /// Inside a quoted field, as of the bytes read so far.
    quoted: bool,
    /// Inside a quoted field, the last byte read was a quote: the next one says whether it
    /// closes the field or is the first of `""`.
    quote_pending: bool,
    /// The last byte read; a line end before the first.
    last: u8,
    /// Bytes read so far.
    read: u64,
    ended: bool,
}

impl<R> QuoteWatch<R> {
    fn new(inner: R, delimiter: u8) -> Self {
        QuoteWatch {
            inner,
            delimiter,
            quoted: false,
            quote_pending: false,
            last: b'\n',
            read: 0,
            ended: false,
        }
    }

    /// Whether a record that ends `at` (a byte offset) ends in a quoted field that the end of
    /// the input cut short.
    fn open_at(&self, at: u64) -> bool {
        self.ended && self.quoted && !self.quote_pending && at >= self.read
    }

    fn watch(&mut self, bytes: &[u8]) {
        let mut at = 0;
        if self.quote_pending {
            self.quote_pending = false;
            if bytes.first() == Some(&b'"') {
                at = 1;
            } else {
                self.quoted = false;
            }
        }
        while let Some(found) = memchr::memchr(b'"', &bytes[at..]) {
            let quote = at + found;
            if self.quoted {
                match bytes.get(quote + 1) {
                    Some(b'"') => at = quote + 2,
                    Some(_) => {
                        self.quoted = false;
                        at = quote + 1;
                    }
                    None => {
                        self.quote_pending = true;
                        break;
                    }
                }
            } else {
                let before = match quote.checked_sub(1) {
                    Some(i) => bytes[i],
                    None => self.last,
                };
                self.quoted = before == self.delimiter || before == b'\n' || before == b'\r';
                at = quote + 1;
            }
        }
        if let Some(last) = bytes.last() {
            self.last = *last;
        }
    }
}

impl<R: Read> Read for QuoteWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        match buf.get(..read) {
            Some([]) | None => self.ended = true,
            Some(bytes) => {
                self.watch(bytes);
                self.read = self.read.saturating_add(bytes.len() as u64);
            }
        }
        Ok(read)
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
    /// Appending: the header is not written with the records but at commit, when the file
    /// is new or empty (and compared with the file's first line otherwise).
    appending: bool,
    delimiter: u8,
    encoding: Encoding,
}

impl CsvSink {
    pub fn new(file: AtomicFile, options: &CsvOptions, encoding: Encoding) -> Self {
        let appending = file.publish() == Publish::Append;
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
            appending,
            delimiter: options.delimiter,
            encoding,
        }
    }

    /// The header line as the file holds it: delimited, quoted where needed, encoded.
    fn header_line(&self) -> Result<Vec<u8>, ConnectorError> {
        let mut line = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .from_writer(Vec::new());
        line.write_record(&self.columns).map_err(format_error)?;
        let line = line
            .into_inner()
            .map_err(|e| ConnectorError::Format(e.error().to_string()))?;
        Ok(match self.encoding {
            Encoding::Utf8 => line,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252
                .encode(&String::from_utf8_lossy(&line))
                .0
                .into_owned(),
        })
    }

    /// Appending to a file that has lines: its header must name the columns this run writes,
    /// in their order, or the ERP would read values under the wrong names.
    fn check_header(&self, path: &Path) -> Result<(), ConnectorError> {
        let Some(found) = first_row(path, self.delimiter, self.encoding)? else {
            return Ok(());
        };
        if found == self.columns {
            return Ok(());
        }
        let joined = |columns: &[String]| columns.join(&char::from(self.delimiter).to_string());
        Err(ConnectorError::Format(format!(
            "{}: its header is `{}`, and this job writes `{}`; nothing was appended (write the file's columns in its order, with `csv.columns` or the map, or move the file away)",
            path.display(),
            joined(&found),
            joined(&self.columns)
        )))
    }
}

/// The fields of a file's first line; `None` for a file that is missing or empty.
fn first_row(
    path: &Path,
    delimiter: u8,
    encoding: Encoding,
) -> Result<Option<Vec<String>>, ConnectorError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let reader: Box<dyn Read> = match encoding {
        Encoding::Utf8 => Box::new(file),
        Encoding::Windows1252 => Box::new(Decoder::windows_1252(file)),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut row = csv::StringRecord::new();
    match reader.read_record(&mut row) {
        Ok(false) => Ok(None),
        Ok(true) => Ok(Some(
            row.iter()
                .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
                .collect(),
        )),
        Err(e) => Err(ConnectorError::Format(format!(
            "{}: its header cannot be read: {e}",
            path.display()
        ))),
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
            if self.header && !self.appending {
                self.writer
                    .write_record(&self.columns)
                    .map_err(format_error)?;
            }
        }
        let cells = self.columns.iter().map(|c| cell(record.get(c)));
        self.writer.write_record(cells).map_err(format_error)
    }

    fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        let head = if self.appending && self.header && self.started {
            let target = match self.writer.get_ref() {
                Out::Utf8(file) => file.target(),
                Out::Windows1252(encoder) => encoder.get_ref().target(),
            };
            self.check_header(target)?;
            Some(self.header_line()?)
        } else {
            None
        };
        let out = self
            .writer
            .into_inner()
            .map_err(|e| ConnectorError::Format(e.error().to_string()))?;
        let mut file = match out {
            Out::Utf8(file) => file,
            Out::Windows1252(encoder) => encoder.into_inner(),
        };
        if let Some(head) = head {
            file.set_head(head);
        }
        file.commit(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Gives its bytes `chunk` at a time, as a reader may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// The csv crate's own answer: input that ends inside a quoted field takes what follows
    /// into that field, other input gets one more record.
    fn csv_ends_quoted(text: &str) -> bool {
        let records = |text: &str| {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes())
                .records()
                .count()
        };
        records(text) == records(&format!("{text}\nzz"))
    }

    proptest! {
        #[test]
        fn quotes_are_followed_as_the_csv_crate_reads_them(
            text in "[a,\"\n\r]{0,24}",
            chunk in 1usize..6,
        ) {
            let mut watch = QuoteWatch::new(Trickle { bytes: text.as_bytes(), chunk }, b',');
            std::io::copy(&mut watch, &mut std::io::sink()).unwrap();
            prop_assert_eq!(watch.open_at(watch.read), csv_ends_quoted(&text), "{:?}", text);
        }
    }

    #[test]
    fn the_lines_an_open_quote_took_are_named() {
        assert_eq!(
            never_closed(6, 9, b'\n'),
            "a quote opens a field here and is never closed, and lines 7 to 8 were read into that field (close it; a quote inside a quoted field is written twice: \"\")"
        );
        assert!(never_closed(6, 7, b'f').contains(", and line 7 was read"));
        assert!(never_closed(6, 7, b'\n').contains("never closed (close it"));
    }
}
