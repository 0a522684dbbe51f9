//! Files as sources and targets: CSV, JSON, NDJSON, XML. Sources stream (memory stays flat
//! whatever the file's size); targets write to a temporary file beside the target and rename it
//! into place (or append it) at commit, so a reader never sees half a run's output.

mod atomic;
pub mod compile;
mod csv;
mod encoding;
mod json;
mod ndjson;
pub mod target;
mod xml;

pub use xml::{XmlError, document as xml_document};

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use self::atomic::{AtomicFile, Publish, io_error};
pub use self::csv::CsvOptions;
use self::target::TargetPath;
use super::{ConnectorError, Sink, Source};
use crate::config::model::{Encoding, FileFormat, FileMode};
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
    pub fields: Option<Arc<Vec<String>>>,
    /// For a target: replaced or appended to by each run.
    pub mode: FileMode,
    /// For a target whose path has placeholders (`{run_time}`): the path each run resolves;
    /// `path` is then as written.
    pub named: Option<Arc<TargetPath>>,
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

    /// How a target's output reaches it.
    pub fn publish(&self) -> Publish {
        match (self.mode, &self.named) {
            (FileMode::Append, _) => Publish::Append,
            (FileMode::Replace, Some(named)) if named.timed => Publish::New,
            (FileMode::Replace, _) => Publish::Replace,
        }
    }

    /// The file a target writes in a run started at `run_time` (a `{run_time}` file already
    /// there makes the run take the next free name, see [`Publish::New`]).
    pub fn target_path(&self, run_time: DateTime<Utc>) -> Result<PathBuf, ConnectorError> {
        match &self.named {
            None => Ok(self.path.clone()),
            Some(named) => named.resolve(run_time).map_err(ConnectorError::Format),
        }
    }

    /// A sink for a target, in a run started at `run_time`.
    pub fn open_sink(&self, run_time: DateTime<Utc>) -> Result<Box<dyn Sink>, ConnectorError> {
        let target = AtomicFile::create(&self.target_path(run_time)?, self.publish())?;
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
