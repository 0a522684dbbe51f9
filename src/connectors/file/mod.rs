//! Files as sources and targets: CSV, JSON, NDJSON. Sources stream (memory stays flat whatever
//! the file's size); targets write to a temporary file beside the target and rename it into
//! place at commit, so a reader never sees half a file.

pub mod compile;
mod csv;
mod encoding;
mod json;
mod ndjson;
mod xml;

pub use xml::document as xml_document;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

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

pub fn io_error(path: &Path, source: std::io::Error) -> ConnectorError {
    ConnectorError::Io {
        path: path.display().to_string(),
        source,
    }
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

/// A file written beside its final place and renamed there on commit; dropped uncommitted, it
/// leaves the target as it was.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile, ConnectorError> {
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.syncline-{}.tmp", std::process::id()));
        let file = File::create(&temp).map_err(|e| io_error(&temp, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(256 * 1024, file)),
        })
    }

    pub fn commit(mut self) -> Result<(), ConnectorError> {
        if let Some(writer) = self.writer.take() {
            let file = writer
                .into_inner()
                .map_err(|e| io_error(&self.temp, e.into_error()))?;
            file.sync_all().map_err(|e| io_error(&self.temp, e))?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(|e| io_error(&self.target, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("written after commit")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
