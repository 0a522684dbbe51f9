//! The files a load read, and byte spans into them.
//!
//! Every node of a loaded pipeline remembers the file and byte range it came from, so a
//! diagnostic can point at the exact value even after an `extends` overlay merged two files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One loaded file: its path as the user named it, and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path shown in diagnostics (relative when the user gave a relative path).
    pub name: String,
    pub text: Arc<str>,
    /// Diagnostics locate into this file but never print its lines: it is not YAML (a secrets
    /// file, /etc/passwd named by `extends`, a binary).
    pub hidden: bool,
    line_starts: Vec<usize>,
    /// (byte offset, characters before it) every [`CHAR_MARK`] bytes: a column is counted from
    /// the nearest mark, not from its line's start, as a line can be megabytes long.
    char_marks: Vec<(usize, usize)>,
}

const CHAR_MARK: usize = 4096;

impl SourceFile {
    fn new(path: PathBuf, text: String) -> Self {
        let name = path.display().to_string();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut char_marks = vec![(0, 0)];
        for (chars, (byte, _)) in text.char_indices().enumerate() {
            if byte >= char_marks.len() * CHAR_MARK {
                char_marks.push((byte, chars));
            }
        }
        SourceFile {
            path,
            name,
            text: Arc::from(text),
            hidden: false,
            line_starts,
            char_marks,
        }
    }

    /// Byte offset of a (1-based line, 0-based character column) position, clamped to the file.
    pub fn offset_of(&self, line: usize, col_chars: usize) -> usize {
        let Some(&line_start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[line_start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        let within = line_text
            .char_indices()
            .nth(col_chars)
            .map(|(i, _)| i)
            .unwrap_or(line_text.len());
        line_start + within
    }

    /// (1-based line, 1-based character column) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let line_start = self.line_start(line);
        let col = self
            .chars_before(offset)
            .saturating_sub(self.chars_before(line_start));
        (line, col + 1)
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i.max(1),
        }
    }

    /// Byte offset of the start of a 1-based line; the end of the text past the last line.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// Characters before a byte offset (0 when it is inside a character).
    fn chars_before(&self, offset: usize) -> usize {
        let i = self
            .char_marks
            .partition_point(|&(byte, _)| byte <= offset)
            .saturating_sub(1);
        let (byte, chars) = self.char_marks.get(i).copied().unwrap_or((0, 0));
        chars
            + self
                .text
                .get(byte..offset)
                .map(|s| s.chars().count())
                .unwrap_or(0)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text[start..end.max(start)].trim_end_matches('\r')
    }
}

/// Every file read during one load, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(path, text));
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Keeps the file's lines out of every diagnostic.
    pub fn hide(&mut self, id: FileId) {
        if let Some(file) = self.files.get_mut(id.0 as usize) {
            file.hidden = true;
        }
    }

    /// Every file, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .map(|i| FileId(i as u32))
    }
}
