//! Files as sources and targets: CSV, JSON, NDJSON. Sources stream (memory stays flat whatever
//! the file's size); targets write to a temporary file beside the target and rename it into
//! place at commit, so a reader never sees half a file.

mod atomic;
pub mod compile;
mod csv;
mod encoding;
mod json;
mod ndjson;
mod xml;

pub use xml::{XmlError, document as xml_document};

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

pub use self::atomic::{AtomicFile, io_error};
pub use self::csv::CsvOptions;
use super::{ConnectorError, Sink, Source};
use crate::config::model::{Encoding, FileFormat};
use crate::record::path::CompiledPath;

/// A compiled file source or target.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub path: PathBuf,
    pub format: FileFormat,
    pub encoding: Encoding,
    pub csv: CsvOptions,
    /// JSON: where the records are.
    pub records: Option<CompiledPath>,
    /// For a source: the only top-level fields to read (sorted), when the job allows it.
    pub fields: Option<std::sync::Arc<Vec<String>>>,
}

impl FileSpec {
    /// XML: the element names from the root to the records (`$.catalog.article`).
    fn element_path(&self) -> Result<Vec<String>, ConnectorError> {
        self.records
            .as_ref()
            .and_then(|p| p.field_names())
            .filter(|names| !names.is_empty())
            .map(|names| names.into_iter().map(str::to_string).collect())
            .ok_or_else(|| {
                ConnectorError::Format(
                    "XML records need `records:` naming their elements, e.g. `$.catalog.article`"
                        .to_string(),
                )
            })
    }

    pub fn open_source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
        let reader: Box<dyn Read + Send> = match self.encoding {
            Encoding::Utf8 => Box::new(file),
            Encoding::Windows1252 => Box::new(encoding::Decoder::windows_1252(file)),
        };
        let reader = BufReader::with_capacity(256 * 1024, reader);
        Ok(match self.format {
            FileFormat::Ndjson => Box::new(ndjson::NdjsonSource::new(reader, self.fields.clone())),
            FileFormat::Json => Box::new(json::JsonSource::new(
                reader,
                self.records.clone(),
                self.fields.clone(),
            )),
            FileFormat::Csv => Box::new(csv::CsvSource::new(reader, &self.csv)),
            FileFormat::Xml => Box::new(xml::XmlSource::new(reader, self.element_path()?)),
        })
    }

    pub fn open_sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        let target = AtomicFile::create(&self.path)?;
        Ok(match self.format {
            FileFormat::Ndjson => Box::new(ndjson::NdjsonSink::new(target)),
            FileFormat::Json => Box::new(json::JsonSink::new(target)),
            FileFormat::Csv => Box::new(csv::CsvSink::new(target, &self.csv, self.encoding)),
            FileFormat::Xml => Box::new(xml::XmlSink::new(
                target,
                &self.element_path().unwrap_or_default(),
            )),
        })
    }
}
