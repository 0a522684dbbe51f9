//! Writing a target file whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::connectors::ConnectorError;

pub fn io_error(path: &Path, source: std::io::Error) -> ConnectorError {
    ConnectorError::Io {
        path: path.display().to_string(),
        source,
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
