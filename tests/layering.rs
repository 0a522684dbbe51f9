//! The house's arrows run one way: no module of the library imports a module above it in
//! [`LAYERS`], and no files of the library or of the binary import each other, directly or in a
//! circle.
//!
//! Read from the sources as text: `use` trees and inline `crate::`/`super::`/`self::` paths,
//! outside comments, strings and `#[cfg(test)]` modules. Run alone with
//! `cargo test --test layering -- --nocapture` to see every file's imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the top down. Modules on one line are side by side: they may import each other's
/// files, as long as no circle forms.
const LAYERS: &[&[&str]] = &[
    &["serve"],
    &["dry_run"],
    &["runtime"],
    &["plan"],
    &["connectors", "steps", "check"],
    &["config"],
    &["record", "diagnostics", "state"],
];

type ModPath = Vec<String>;

struct Source {
    file: PathBuf,
    module: ModPath,
    /// Where `crate::` starts: empty for the library, `bin/syncline` for the binary's files.
    root: ModPath,
    /// The code, with comments, strings and test modules blanked out.
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    walk(&root, &mut found);
    found
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&root).ok()?.to_path_buf();
            let mut module: ModPath = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            // The binary's files are read for circles; as a whole it sits above every layer.
            let root: ModPath = match module.first().map(String::as_str) {
                Some("bin") if module.len() > 2 => module[..2].to_vec(),
                Some("bin") => return None,
                _ => Vec::new(),
            };
            if module.last().is_some_and(|m| m == "mod" || m == "lib")
                || (!root.is_empty() && module.last().is_some_and(|m| m == "main"))
            {
                module.pop();
            }
            let text = std::fs::read_to_string(&file).ok()?;
            Some(Source {
                file: relative,
                module,
                root,
                code: inline_modules_flattened(&without_tests(&blank_comments_and_strings(&text))),
            })
        })
        .collect()
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Comments and the insides of string and char literals become spaces.
fn blank_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if rest.starts_with(b"r#\"") || rest.starts_with(b"r\"") || rest.starts_with(b"br\"")
        {
            let start = i + rest.iter().position(|&b| b == b'r').unwrap_or(0) + 1;
            let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            i = start + hashes + 1;
            while i < bytes.len() && !bytes[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && is_char_literal(rest) {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `'x'` or `'\n'`, not a lifetime `'a`.
fn is_char_literal(rest: &[u8]) -> bool {
    match rest.get(1) {
        Some(b'\\') => true,
        Some(_) => {
            let width = std::str::from_utf8(&rest[1..])
                .ok()
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
            rest.get(1 + width) == Some(&b'\'')
        }
        None => false,
    }
}

/// The file up to its `#[cfg(test)]` module (test modules come last in this code base).
fn without_tests(code: &str) -> String {
    match code.find("#[cfg(test)]") {
        Some(at) => code[..at].to_string(),
        None => code.to_string(),
    }
}

/// Inside an inline `mod name { ... }`, `super::` is the file itself: written `self::` here,
/// so that paths resolve against the file.
fn inline_modules_flattened(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = find_word(&out[from..], "mod").map(|i| from + i) {
        from = at + 3;
        let rest = &out[from..];
        let name_len = rest
            .trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .count();
        let after_name = rest.len() - rest.trim_start().len() + name_len;
        if !rest[after_name..].trim_start().starts_with('{') {
            continue;
        }
        let open = from + after_name + rest[after_name..].find('{').unwrap_or(0);
        let mut depth = 0;
        let mut close = out.len();
        for (i, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = out[open..close].replace("super::", "self::");
        out.replace_range(open..close, &inner);
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a `use` declaration names, its braces expanded.
fn use_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let after = &rest[at + 3..];
        let Some(end) = after.find(';') else { break };
        let tree = without_renames(&after[..end]);
        expand(&tree, &mut Vec::new(), &mut paths);
        rest = &after[end..];
    }
    paths
}

/// The tree without whitespace and without its renames (`x as y`).
fn without_renames(tree: &str) -> String {
    let mut out = String::new();
    let mut words = tree.split_whitespace();
    while let Some(word) = words.next() {
        if word == "as" {
            // The new name goes; what follows it (`,` or `}`) stays.
            let renamed = words.next().unwrap_or_default();
            out.extend(renamed.chars().skip_while(|&c| is_ident(c)));
        } else {
            out.push_str(word);
        }
    }
    out
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let (head, group) = match tree.find('{') {
        Some(open) => (
            &tree[..open],
            Some(&tree[open + 1..tree.len().saturating_sub(1)]),
        ),
        None => (tree, None),
    };
    let added: Vec<String> = head
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let depth = prefix.len();
    prefix.extend(added);
    match group {
        None => out.push(prefix.clone()),
        Some(inner) => {
            for part in split_top_level(inner) {
                if part == "self" {
                    out.push(prefix.clone());
                } else if !part.is_empty() {
                    expand(part, prefix, out);
                }
            }
        }
    }
    prefix.truncate(depth);
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Inline paths such as `crate::state::now()` or `super::Record`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            from = at + start.len();
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            // `super::{a, b}` is a use tree: `use_paths` reads it.
            if path.ends_with("::") {
                continue;
            }
            paths.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    paths
}

/// The module a path lands in, when it names one of the library's files.
fn resolve(
    from: &Source,
    path: &[String],
    modules: &BTreeSet<ModPath>,
    children: &BTreeSet<String>,
) -> Option<ModPath> {
    let mut segments = path.iter().peekable();
    let mut absolute: ModPath = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            from.root.clone()
        }
        Some("self") => {
            segments.next();
            from.module.clone()
        }
        Some("super") => {
            let mut module = from.module.clone();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                module.pop();
            }
            module
        }
        Some(first) if children.contains(first) => from.module.clone(),
        _ => return None,
    };
    absolute.extend(segments.cloned());
    // The longest prefix that is a file of the crate.
    (1..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|candidate| modules.contains(candidate))
}

/// The files each file imports, by module path.
fn imports() -> (
    BTreeMap<ModPath, BTreeSet<ModPath>>,
    BTreeMap<ModPath, PathBuf>,
) {
    let sources = sources();
    let modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
    let files = sources
        .iter()
        .map(|s| (s.module.clone(), s.file.clone()))
        .collect();
    let mut graph = BTreeMap::new();
    for source in &sources {
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|m| m.len() == source.module.len() + 1 && m.starts_with(&source.module))
            .filter_map(|m| m.last().cloned())
            .collect();
        let targets: BTreeSet<ModPath> = use_paths(&source.code)
            .into_iter()
            .chain(inline_paths(&source.code))
            .filter_map(|path| resolve(source, &path, &modules, &children))
            .filter(|target| *target != source.module)
            .collect();
        graph.insert(source.module.clone(), targets);
    }
    (graph, files)
}

fn layer_of(module: &ModPath) -> Option<usize> {
    let top = module.first()?;
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top.as_str()))
}

#[test]
fn every_top_level_module_has_its_layer() {
    let (graph, files) = imports();
    let unplaced: Vec<String> = graph
        .keys()
        .filter(|m| !m.is_empty() && m[0] != "bin" && layer_of(m).is_none())
        .map(|m| files[m].display().to_string())
        .collect();
    assert!(
        unplaced.is_empty(),
        "files outside every layer of LAYERS: {unplaced:?}"
    );
}

#[test]
fn no_module_imports_a_module_above_it() {
    let (graph, files) = imports();
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        println!("{}", files[from].display());
        for target in targets {
            println!("    -> {}", files[target].display());
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(target))
                && b < a
            {
                upward.push(format!(
                    "{} imports {}",
                    files[from].display(),
                    files[target].display()
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports running back up:\n{upward:#?}");
}

#[test]
fn no_files_import_each_other_directly_or_in_a_circle() {
    let (graph, files) = imports();
    // Tarjan's strongly connected components: every component of more than one file is a
    // circle.
    struct Walk<'g> {
        graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        on_stack: BTreeSet<&'g ModPath>,
        circles: Vec<Vec<&'g ModPath>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g ModPath) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top);
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.circles.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    let circles: Vec<Vec<String>> = walk
        .circles
        .iter()
        .map(|c| c.iter().map(|m| files[*m].display().to_string()).collect())
        .collect();
    assert!(
        circles.is_empty(),
        "files importing each other: {circles:#?}"
    );
}

#[test]
fn the_reader_sees_use_trees_and_inline_paths() {
    let code =
        "use crate::a::{b as e, c::{d, self}};\nfn f() { super::x::y(); let s = \"crate::no\"; }";
    let code = blank_comments_and_strings(code);
    assert_eq!(
        use_paths(&code),
        vec![
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c", "d"],
            vec!["crate", "a", "c"],
        ]
    );
    assert_eq!(inline_paths(&code), vec![vec!["super", "x", "y"]]);
    let nested = inline_modules_flattened("mod inner {\n    use super::*;\n}\nuse super::x;");
    assert_eq!(
        use_paths(&nested),
        vec![vec!["self", "*"], vec!["super", "x"]]
    );
}
