//! Writing a target file all or nothing: the run's output goes to a temporary file beside the
//! target, which reaches the target only at commit (renamed over it, renamed under a new name,
//! or appended to it).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::connectors::ConnectorError;

pub fn io_error(path: &Path, source: std::io::Error) -> ConnectorError {
    ConnectorError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How a committed file reaches its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Renamed over the target: it holds this run's output only.
    Replace,
    /// Added at the end of the target, which is created when missing.
    Append,
    /// Put in place under a name no file has: the target's, or with `_2`, `_3`... before its
    /// extension (`_` sorts after `.`: an ERP importing by name takes the first run's first).
    New,
}

/// A file written beside its final place and published on commit; dropped uncommitted, it
/// leaves the target as it was.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    publish: Publish,
    /// Appending: written first when the target is new or empty (CSV's header line).
    head: Option<Vec<u8>>,
}

/// Names tried for a new file before giving up: runs of one job do not overlap, so a clash
/// means another program writes there under the same names.
const NEW_NAMES: u32 = 1000;

impl AtomicFile {
    pub fn create(target: &Path, publish: Publish) -> Result<AtomicFile, ConnectorError> {
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
            publish,
            head: None,
        })
    }

    pub fn publish(&self) -> Publish {
        self.publish
    }

    /// The file this one is published as (before `New` finds it a free name).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Appending: `head` begins the file when the target is new or empty.
    pub fn set_head(&mut self, head: Vec<u8>) {
        self.head = Some(head);
    }

    /// Publishes what was written. `records`: whether the run wrote any record; a run that
    /// wrote none publishes nothing but a replaced file (an empty export is true, an empty
    /// import is noise in an ERP's folder).
    pub fn commit(mut self, records: bool) -> Result<(), ConnectorError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer
            .into_inner()
            .map_err(|e| io_error(&self.temp, e.into_error()))?;
        // Whatever happens next, the temporary file goes when `self` is dropped.
        if !records && self.publish != Publish::Replace {
            return Ok(());
        }
        file.sync_all().map_err(|e| io_error(&self.temp, e))?;
        drop(file);
        let published = match self.publish {
            Publish::Replace => std::fs::rename(&self.temp, &self.target)
                .map(|()| self.target.clone())
                .map_err(|e| io_error(&self.target, e))?,
            Publish::New => self.rename_new()?,
            Publish::Append => {
                self.append()?;
                self.target.clone()
            }
        };
        tracing::debug!(file = %published.display(), "written");
        Ok(())
    }

    /// Renames the temporary file to the target's name, or the first free one after it. A hard
    /// link fails on a name that exists, where a rename would replace it: two processes cannot
    /// both take a name. A file system without hard links (FAT, some network shares) gets a
    /// look, then a rename.
    fn rename_new(&self) -> Result<PathBuf, ConnectorError> {
        for n in 1..=NEW_NAMES {
            let name = numbered(&self.target, n);
            match std::fs::hard_link(&self.temp, &name) {
                Ok(()) => return Ok(name),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(_) if !name.exists() => {
                    std::fs::rename(&self.temp, &name).map_err(|e| io_error(&name, e))?;
                    return Ok(name);
                }
                Err(_) => continue,
            }
        }
        Err(io_error(
            &self.target,
            std::io::Error::other(format!(
                "{NEW_NAMES} files of that name with a number are already there"
            )),
        ))
    }

    /// Adds the temporary file's content at the end of the target. The records went to the
    /// temporary file first so that a failed or interrupted run adds nothing: the target is
    /// touched only here, at commit, and a failure while appending (a full disk) cuts it back
    /// to its length before. Only a crash during the copy itself can leave part of the run's
    /// records; its checkpoint did not move, so the next run writes them again. Appending in
    /// place rather than renaming a copy over it: an ERP that took the file away meanwhile
    /// must not get its old records back.
    fn append(&self) -> Result<(), ConnectorError> {
        let at = |e| io_error(&self.target, e);
        let mut target = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.target)
            .map_err(at)?;
        let before = target.metadata().map_err(at)?.len();
        let written = (|| -> std::io::Result<()> {
            if before == 0 {
                if let Some(head) = &self.head {
                    target.write_all(head)?;
                }
            } else if !ends_a_line(&mut target)? {
                // A file left without its last line's end would join our first record to it.
                target.write_all(b"\n")?;
            }
            let mut records = File::open(&self.temp)?;
            copy(&mut records, &mut target)?;
            target.sync_all()
        })();
        if let Err(e) = written {
            if let Err(undo) = target.set_len(before) {
                tracing::warn!(file = %self.target.display(), "could not be cut back after a failed append: {undo}");
            }
            return Err(at(e));
        }
        Ok(())
    }
}

/// `orders.csv`, then `orders_2.csv`, `orders_3.csv`...
fn numbered(target: &Path, n: u32) -> PathBuf {
    if n == 1 {
        return target.to_path_buf();
    }
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem}_{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}_{n}"),
    };
    target.with_file_name(name)
}

/// Whether a file that is not empty ends with a line end.
fn ends_a_line(file: &mut File) -> std::io::Result<bool> {
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// A plain read-write loop: the kernel's file-to-file copy refuses a target opened to append.
fn copy(from: &mut File, to: &mut File) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => to.write_all(&buffer[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Drop for AtomicFile {
    /// The temporary file goes, committed or not: renamed away already, linked under its new
    /// name, or appended.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_names_are_numbered_before_the_extension() {
        let t = Path::new("out/orders-20261206T201500Z.csv");
        assert_eq!(numbered(t, 1), t);
        assert_eq!(
            numbered(t, 2),
            Path::new("out/orders-20261206T201500Z_2.csv")
        );
        assert_eq!(numbered(Path::new("out/o"), 3), Path::new("out/o_3"));
    }

    fn written(target: &Path, publish: Publish, text: &str) -> Result<(), ConnectorError> {
        let mut file = AtomicFile::create(target, publish)?;
        file.write_all(text.as_bytes())
            .map_err(|e| io_error(target, e))?;
        file.commit(!text.is_empty())
    }

    #[test]
    fn a_new_file_never_replaces_one_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("o-20261206T201500Z.csv");
        std::fs::write(&target, "not imported yet\n").unwrap();
        written(&target, Publish::New, "second\n").unwrap();
        written(&target, Publish::New, "third\n").unwrap();
        written(&target, Publish::New, "").unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("o-20261206T201500Z.csv"), "not imported yet\n");
        assert_eq!(read("o-20261206T201500Z_2.csv"), "second\n");
        assert_eq!(read("o-20261206T201500Z_3.csv"), "third\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}
