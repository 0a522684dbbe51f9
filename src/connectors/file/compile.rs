//! A file source's or target's part of a plan.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::target::TargetPath;
use super::{CsvOptions, FileSpec};
use crate::config::model::{Connection, FileFormat, FileLocation, FileMode, FileTarget, Pipeline};
use crate::record::path::CompiledPath;

/// Why a file source or target cannot be compiled; the plan adds the job and the place in the
/// pipeline.
#[derive(Debug, thiserror::Error)]
pub enum FileSpecError {
    #[error("the connection is not a file connection")]
    NotFileConnection,
    #[error("the format of `{0}` cannot be told from its name")]
    UnknownFormat(String),
    /// CSV reads and writes a delimiter of one byte.
    #[error("the delimiter `{0}` is not a single-byte character")]
    WideDelimiter(char),
    /// The `records` path does not compile.
    #[error("{0}")]
    Records(String),
    /// JSON and XML files are one document each.
    #[error("{0} file cannot be appended to")]
    NotAppendable(&'static str),
    /// The path's placeholders do not parse.
    #[error("{0}")]
    Path(String),
}

/// The folder a file connection names, under the pipeline's folder; the pipeline's own
/// folder without one.
fn dir(
    connection: Option<&str>,
    pipeline: &Pipeline,
    base_dir: &Path,
) -> Result<PathBuf, FileSpecError> {
    match connection.map(|c| pipeline.connections.get(c)) {
        None => Ok(base_dir.to_path_buf()),
        Some(Some(Connection::File(f))) => Ok(base_dir.join(&f.dir)),
        Some(_) => Err(FileSpecError::NotFileConnection),
    }
}

/// The file a source or target names, under `base_dir` (the pipeline's folder).
pub fn spec(
    location: FileLocation,
    pipeline: &Pipeline,
    base_dir: &Path,
) -> Result<FileSpec, FileSpecError> {
    let FileLocation {
        connection,
        path,
        format,
        encoding,
        csv,
        records,
    } = location;
    let dir = dir(connection, pipeline, base_dir)?;
    let format = format
        .or_else(|| FileFormat::from_extension(path))
        .ok_or_else(|| FileSpecError::UnknownFormat(path.to_string()))?;
    let mut options = CsvOptions::default();
    if let Some(csv) = csv {
        if let Some(d) = csv.delimiter {
            options.delimiter = u8::try_from(d).map_err(|_| FileSpecError::WideDelimiter(d))?;
        }
        options.header = csv.header.unwrap_or(true);
        options.columns = csv.columns.clone();
    }
    Ok(FileSpec {
        path: dir.join(path),
        format,
        encoding,
        csv: options,
        records: records
            .map(CompiledPath::compile)
            .transpose()
            .map_err(FileSpecError::Records)?,
        fields: None,
        mode: FileMode::Replace,
        named: None,
    })
}

/// The file a target writes, and how: appended or replaced, named by the run's time or not.
pub fn target_spec(
    target: &FileTarget,
    pipeline: &Pipeline,
    base_dir: &Path,
) -> Result<FileSpec, FileSpecError> {
    let mut spec = spec(target.location(), pipeline, base_dir)?;
    if target.mode == FileMode::Append {
        match spec.format {
            FileFormat::Json => return Err(FileSpecError::NotAppendable("a JSON")),
            FileFormat::Xml => return Err(FileSpecError::NotAppendable("an XML")),
            FileFormat::Csv | FileFormat::Ndjson => {}
        }
    }
    spec.mode = target.mode;
    let dir = dir(target.connection.as_deref(), pipeline, base_dir)?;
    spec.named = TargetPath::parse(&dir, &target.path)
        .map_err(FileSpecError::Path)?
        .map(Arc::new);
    Ok(spec)
}
