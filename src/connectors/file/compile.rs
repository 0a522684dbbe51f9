//! A file source's or target's part of a plan.

use std::path::{Path, PathBuf};

use super::{CsvOptions, FileSpec};
use crate::config::model::{Connection, FileFormat, FileLocation, Pipeline};
use crate::record::path::CompiledPath;

/// The folder a file connection names, under the pipeline's folder; the pipeline's own
/// folder without one.
fn dir(connection: Option<&str>, pipeline: &Pipeline, base_dir: &Path) -> Result<PathBuf, String> {
    match connection.map(|c| pipeline.connections.get(c)) {
        None => Ok(base_dir.to_path_buf()),
        Some(Some(Connection::File(f))) => Ok(base_dir.join(&f.dir)),
        Some(_) => Err("the connection is not a file connection".to_string()),
    }
}

/// The file a source or target names, under `base_dir` (the pipeline's folder).
pub fn spec(
    location: FileLocation,
    pipeline: &Pipeline,
    base_dir: &Path,
) -> Result<FileSpec, String> {
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
        .ok_or_else(|| format!("the format of `{path}` cannot be told from its name"))?;
    let mut options = CsvOptions::default();
    if let Some(csv) = csv {
        if let Some(d) = csv.delimiter {
            options.delimiter = u8::try_from(d)
                .map_err(|_| format!("the delimiter `{d}` is not a single-byte character"))?;
        }
        options.header = csv.header.unwrap_or(true);
        options.columns = csv.columns.clone();
    }
    Ok(FileSpec {
        path: dir.join(path),
        format,
        encoding,
        csv: options,
        records: records.map(CompiledPath::compile).transpose()?,
        fields: None,
    })
}
