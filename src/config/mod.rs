//! Loading pipeline files: YAML -> node tree (with spans) -> `extends` overlays -> `${...}`
//! interpolation -> the typed [`model`], every problem collected as a located [`Diagnostic`].

pub mod de;
pub mod index;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod node;
pub mod schema;
pub mod secrets;
pub mod yaml;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::diagnostics::Diagnostic;
use crate::diagnostics::source::{FileId, SourceMap, Span};
use index::SpanIndex;
use interpolate::{Interpolator, SecretUse};
use model::Pipeline;
use node::{Node, Value};
use secrets::Secrets;

/// Files larger than this are not pipelines; refusing them keeps a stray dump from eating memory.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One pipeline file, loaded with its overlays.
#[derive(Debug)]
pub struct LoadedPipeline {
    pub file: FileId,
    /// The merged, interpolated tree.
    pub root: Node,
    /// `None` when the file is too broken to read as a pipeline (its problems are reported).
    pub model: Option<Pipeline>,
    pub index: SpanIndex,
    pub secret_uses: Vec<SecretUse>,
}

/// Everything one load read and found.
#[derive(Debug, Default)]
pub struct Workspace {
    pub sources: SourceMap,
    /// Pipeline files named (directly or in a folder), whether or not they parsed.
    pub files: usize,
    pub pipelines: Vec<LoadedPipeline>,
    pub diagnostics: Vec<Diagnostic>,
    parsed: HashMap<FileId, Option<Node>>,
}

/// Loads every pipeline file named, and every `.yaml`/`.yml` file under each directory named.
pub fn load_paths(paths: &[PathBuf], secrets: &Secrets) -> Workspace {
    let mut ws = Workspace::default();
    for path in paths {
        let files = match pipeline_files(path) {
            Ok(files) => files,
            Err(e) => {
                ws.diagnostics.push(Diagnostic::error(
                    "io",
                    format!("cannot read {}: {e}", path.display()),
                ));
                continue;
            }
        };
        if files.is_empty() {
            ws.diagnostics.push(
                Diagnostic::error(
                    "no-pipeline",
                    format!(
                        "no pipeline file in {}: it is a folder without `.yaml` or `.yml` files",
                        path.display()
                    ),
                )
                .hint("name pipeline files, or folders that hold some (hidden folders, `target` and `node_modules` are not searched)"),
            );
        }
        for file in files {
            ws.files += 1;
            if let Some(pipeline) = ws.load_pipeline(&file, secrets) {
                ws.pipelines.push(pipeline);
            }
        }
    }
    ws
}

/// Loads one pipeline from text (tests, benchmarks, fuzzing).
pub fn load_str(name: &str, text: &str, secrets: &Secrets) -> Workspace {
    let mut ws = Workspace {
        files: 1,
        ..Workspace::default()
    };
    let id = ws.sources.add(PathBuf::from(name), text.to_string());
    let root = ws.parse(id);
    if let Some(root) = root {
        let pipeline = ws.finish(id, root, secrets);
        ws.pipelines.push(pipeline);
    }
    ws
}

/// The pipeline files a path names: itself, or the YAML files below it (sorted; hidden folders,
/// `target` and `node_modules` skipped).
pub fn pipeline_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(p);
            } else if is_yaml_name(&p) {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

impl Workspace {
    fn load_pipeline(&mut self, path: &Path, secrets: &Secrets) -> Option<LoadedPipeline> {
        let path = normalize(path);
        let id = self.read(&path, None)?;
        let root = self.resolve_extends(id, &mut vec![path])?;
        Some(self.finish(id, root, secrets))
    }

    fn finish(&mut self, id: FileId, mut root: Node, secrets: &Secrets) -> LoadedPipeline {
        merge::strip_tags(&mut root, &mut self.diagnostics);
        let mut interpolator = Interpolator::new(&self.sources, secrets);
        interpolator.run(&mut root);
        let secret_uses = std::mem::take(&mut interpolator.secret_uses);
        self.diagnostics.append(&mut interpolator.diagnostics);
        let collector = de::Collector::default();
        let model = de::from_node::<Pipeline>(&root, &collector);
        self.diagnostics.extend(collector.into_diagnostics());
        let index = SpanIndex::build(&root);
        LoadedPipeline {
            file: id,
            root,
            model,
            index,
            secret_uses,
        }
    }

    /// Reads a file once; `from` is the `extends` value that named it, for errors.
    fn read(&mut self, path: &Path, from: Option<Span>) -> Option<FileId> {
        if let Some(id) = self.sources.find(path) {
            return Some(id);
        }
        let bytes = std::fs::metadata(path).and_then(|m| {
            if m.len() > MAX_FILE_BYTES {
                Err(std::io::Error::other(format!(
                    "larger than {} MiB",
                    MAX_FILE_BYTES >> 20
                )))
            } else {
                std::fs::read(path)
            }
        });
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(e) => {
                let message = format!("cannot read {}: {e}", path.display());
                let diagnostic = match from {
                    Some(span) => Diagnostic::error("extends", message)
                        .at(span)
                        .hint("the path is relative to the file that extends it"),
                    None => Diagnostic::error("io", message),
                };
                self.diagnostics.push(diagnostic);
                return None;
            }
        };
        match String::from_utf8(bytes) {
            Ok(text) => Some(self.sources.add(path.to_path_buf(), text)),
            Err(e) => {
                self.not_utf8(path, e, from);
                None
            }
        }
    }

    /// Reports a file that is not UTF-8 at its first bad byte. The file is kept, with the bad
    /// bytes replaced, only to locate that byte: its lines are not shown, nor is it parsed.
    fn not_utf8(&mut self, path: &Path, e: std::string::FromUtf8Error, from: Option<Span>) {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes().get(at).copied().unwrap_or(0);
        // The text before `at` is unchanged, so `at` is the bad byte's place in it too.
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        let end = (at + char::REPLACEMENT_CHARACTER.len_utf8()).min(text.len());
        let id = self.sources.add(path.to_path_buf(), text);
        self.sources.hide(id);
        self.parsed.insert(id, None);
        let mut diagnostic = Diagnostic::error(
            "encoding",
            format!(
                "the file is not UTF-8 text: byte {at} (0x{byte:02X}) starts no UTF-8 character"
            ),
        )
        .at(Span::new(id, at, end))
        .hint("save it as UTF-8, e.g. from Windows-1252: `iconv -f WINDOWS-1252 -t UTF-8`");
        if let Some(span) = from {
            diagnostic = diagnostic.related(span, "extended here");
        }
        self.diagnostics.push(diagnostic);
    }

    /// The file's tree, parsed once however many overlays extend it.
    fn parse(&mut self, id: FileId) -> Option<Node> {
        if let Some(parsed) = self.parsed.get(&id) {
            return parsed.clone();
        }
        let parsed = yaml::parse(self.sources.get(id), id);
        if !parsed.mapping {
            self.sources.hide(id);
        }
        let mut problems = parsed.diagnostics;
        let root = match parsed.root {
            Some(root) if matches!(root.value, Value::Map(_)) => Some(root),
            Some(root) => {
                problems.push(
                    Diagnostic::error(
                        "not-a-pipeline",
                        format!(
                            "a pipeline file is a mapping, this one is {}",
                            root.kind_name()
                        ),
                    )
                    .at(root.label_span())
                    .hint("start with `version: 1`, `name:` and `jobs:`"),
                );
                None
            }
            None if problems.is_empty() => {
                problems.push(
                    Diagnostic::error("not-a-pipeline", "the file is empty")
                        .at(Span::new(id, 0, 0))
                        .hint("start with `version: 1`, `name:` and `jobs:`"),
                );
                None
            }
            None => None,
        };
        self.diagnostics.extend(problems);
        self.parsed.insert(id, root.clone());
        root
    }

    /// The file's tree with the templates it extends merged under it.
    fn resolve_extends(&mut self, id: FileId, chain: &mut Vec<PathBuf>) -> Option<Node> {
        let root = self.parse(id)?;
        let Some(extends) = root.get("extends") else {
            return Some(root);
        };
        let (Some(relative), span) = (extends.as_str().filter(|s| !s.is_empty()), extends.span)
        else {
            self.diagnostics.push(
                Diagnostic::error("extends", "`extends` is the path of a template file")
                    .at(extends.label_span())
                    .hint("e.g. `extends: ../../pipelines/prestashop/erp-sync.yaml`"),
            );
            return Some(root);
        };
        let here = self
            .sources
            .get(id)
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let base_path = normalize(&here.join(relative));
        // Never read: a file named by mistake (a secrets file, /etc/passwd) would be reported
        // with its lines.
        if !is_yaml_name(&base_path) {
            self.diagnostics.push(
                Diagnostic::error(
                    "extends",
                    format!("`{relative}` is not a YAML file: it is not read"),
                )
                .at(span)
                .hint("`extends` names a template, a `.yaml` or `.yml` pipeline file"),
            );
            return Some(root);
        }
        if chain.contains(&base_path) {
            let cycle: Vec<String> = chain
                .iter()
                .chain([&base_path])
                .map(|p| p.display().to_string())
                .collect();
            self.diagnostics.push(
                Diagnostic::error("extends-cycle", "these files extend each other in a circle")
                    .at(span)
                    .label("closes the circle")
                    .hint(cycle.join(" -> ")),
            );
            return Some(root);
        }
        let Some(base_id) = self.read(&base_path, Some(span)) else {
            return Some(root);
        };
        chain.push(base_path);
        let base = self.resolve_extends(base_id, chain);
        chain.pop();
        Some(match base {
            Some(base) => merge::merge(base, root),
            None => root,
        })
    }
}

/// Whether a path is named as pipeline files are: `.yaml` or `.yml`.
fn is_yaml_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// `a/b/../c` -> `a/c`, without touching the file system (paths stay as the user wrote them).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
