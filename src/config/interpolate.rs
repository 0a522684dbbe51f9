//! `${env.NAME}`, `${vars.NAME}` and `${secret.NAME}` in string values.
//!
//! Env and vars are substituted into the tree once it is merged; secrets are not: their
//! placeholder stays in the text, and the runtime resolves it only where a connection sends it,
//! so a secret's value never reaches a record, a plan or a message. Any other `${...}` (rhai's
//! string interpolation) is left alone; `$${` writes a literal `${`.

use indexmap::IndexMap;

use super::node::{Node, Value};
use super::secrets::{Secrets, is_valid_name};
use super::yaml::MAX_BYTES;
use crate::diagnostics::source::{SourceMap, Span};
use crate::diagnostics::{Diagnostic, did_you_mean};

const NAMESPACES: [&str; 3] = ["env", "vars", "secret"];

/// A `${secret.NAME}` found in the tree.
#[derive(Debug, Clone)]
pub struct SecretUse {
    pub name: String,
    pub span: Span,
    /// Where it is, e.g. `connections.shop.http.auth.basic.user`.
    pub path: String,
}

pub struct Interpolator<'a> {
    pub sources: &'a SourceMap,
    pub secrets: &'a Secrets,
    pub diagnostics: Vec<Diagnostic>,
    pub secret_uses: Vec<SecretUse>,
    vars: IndexMap<String, Option<String>>,
    /// Bytes put in by substitutions: a long var written many times is a bomb as aliases are.
    substituted: usize,
}

impl<'a> Interpolator<'a> {
    pub fn new(sources: &'a SourceMap, secrets: &'a Secrets) -> Self {
        Interpolator {
            sources,
            secrets,
            diagnostics: Vec::new(),
            secret_uses: Vec::new(),
            vars: IndexMap::new(),
            substituted: 0,
        }
    }

    /// Interpolates the whole pipeline: `vars` first (they may use env), then everything else.
    pub fn run(&mut self, root: &mut Node) {
        if let Some(vars) = map_value_mut(root, "vars") {
            self.walk(vars, "vars".to_string(), false);
            if let Value::Map(entries) = &vars.value {
                for e in entries {
                    let text = match &e.value.value {
                        Value::Scalar(s) => Some(s.text.clone()),
                        _ => None,
                    };
                    self.vars.insert(e.key_text().to_string(), text);
                }
            }
        }
        if let Value::Map(entries) = &mut root.value {
            for entry in entries.iter_mut().filter(|e| e.key_text() != "vars") {
                let path = entry.key_text().to_string();
                self.walk(&mut entry.value, path, true);
            }
        }
    }

    fn walk(&mut self, node: &mut Node, path: String, vars_allowed: bool) {
        let mut todo = vec![(node, path)];
        while let Some((node, path)) = todo.pop() {
            let span = node.span;
            match &mut node.value {
                Value::Scalar(s) => {
                    if s.text.contains("${")
                        && let Some(text) = self.interpolate(&s.text, span, &path, vars_allowed)
                    {
                        s.text = text;
                    }
                }
                Value::Seq(items) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        todo.push((item, format!("{path}[{i}]")));
                    }
                }
                Value::Map(entries) => {
                    for entry in entries.iter_mut() {
                        let child = format!("{path}.{}", entry.key_text());
                        todo.push((&mut entry.value, child));
                    }
                }
            }
        }
    }

    /// The text with env and vars substituted, or `None` when nothing changed.
    fn interpolate(
        &mut self,
        text: &str,
        span: Span,
        path: &str,
        vars_allowed: bool,
    ) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find("${") {
            if rest[..at].ends_with('$') {
                // `$${` is a literal `${`.
                out.push_str(&rest[..at - 1]);
                out.push_str("${");
                rest = &rest[at + 2..];
                changed = true;
                continue;
            }
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let Some(close) = after.find('}') else {
                if let Some(ns) = namespace_of(after) {
                    self.diagnostics.push(
                        Diagnostic::error("interpolation", format!("`${{{ns}.` is not closed"))
                            .at(self.locate(span, &rest[at..]))
                            .hint("write `${NAMESPACE.NAME}` with a closing `}`"),
                    );
                }
                out.push_str(&rest[at..]);
                rest = "";
                break;
            };
            let inner = &after[..close];
            let placeholder = &rest[at..at + 2 + close + 1];
            rest = &after[close + 1..];
            match self.resolve(inner, placeholder, span, path, vars_allowed) {
                Some(value) if self.over_budget(value.len(), span, placeholder) => {
                    out.push_str(placeholder);
                }
                Some(value) => {
                    out.push_str(&value);
                    changed = true;
                }
                None => out.push_str(placeholder),
            }
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// The value of one placeholder, or `None` to leave it as written.
    fn resolve(
        &mut self,
        inner: &str,
        placeholder: &str,
        span: Span,
        path: &str,
        vars_allowed: bool,
    ) -> Option<String> {
        let (ns, name) = inner.split_once('.')?;
        let at = self.locate(span, placeholder);
        let (name, default) = match name.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (name, None),
        };
        if !NAMESPACES.contains(&ns) {
            if ns.chars().all(|c| c.is_ascii_alphabetic())
                && let Some(hint) = did_you_mean(ns, NAMESPACES)
            {
                self.diagnostics.push(
                        Diagnostic::warning("interpolation", format!("`{placeholder}` is left as written"))
                            .at(at)
                            .hint(format!("{hint} syncline fills in `${{env.NAME}}`, `${{vars.NAME}}` and `${{secret.NAME}}`")),
                    );
            }
            return None;
        }
        if !is_valid_name(name) {
            self.diagnostics.push(
                Diagnostic::error(
                    "interpolation",
                    format!("`{name}` is not a valid name in `{placeholder}`"),
                )
                .at(at)
                .hint("names are letters, digits and `_`, starting with a letter"),
            );
            return None;
        }
        match ns {
            "env" => match std::env::var(name) {
                Ok(value) => Some(value),
                Err(_) => match default {
                    Some(d) => Some(d.to_string()),
                    None => {
                        self.diagnostics.push(
                            Diagnostic::warning("env-unset", format!("the environment variable `{name}` is not set"))
                                .at(at)
                                .label("used here")
                                .hint(format!("set `{name}` before `syncline run`, or give a default: `${{env.{name}:-value}}`")),
                        );
                        None
                    }
                },
            },
            "vars" if vars_allowed => match self.vars.get(name) {
                Some(Some(value)) => Some(value.clone()),
                Some(None) => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "interpolation",
                            format!("the var `{name}` is a list or mapping, not text"),
                        )
                        .at(at)
                        .hint("only text, numbers and booleans can be put into a string"),
                    );
                    None
                }
                None => {
                    let hint = did_you_mean(name, self.vars.keys().map(String::as_str))
                        .unwrap_or_else(|| format!("declare it under `vars:` at the top of the file, e.g. `vars: {{ {name}: ... }}`"));
                    self.diagnostics.push(
                        Diagnostic::error("unknown-var", format!("unknown var `{name}`"))
                            .at(at)
                            .hint(hint),
                    );
                    None
                }
            },
            "vars" => {
                self.diagnostics.push(
                    Diagnostic::error("interpolation", "a var cannot use another var")
                        .at(at)
                        .hint("vars may use `${env.NAME}`; write the value out"),
                );
                None
            }
            _ => {
                self.secret(name, at, path);
                None
            }
        }
    }

    fn secret(&mut self, name: &str, at: Span, path: &str) {
        if !secret_allowed(path) {
            self.diagnostics.push(
                Diagnostic::error("secret-outside-connection", format!("the secret `{name}` is used outside a connection"))
                    .at(at)
                    .hint("secrets go in `connections:` (URLs, auth, headers) and in the credentials of `alerts:` (`chat.url`, `email.smtp`) only, so they never reach records, scripts, plans, messages or logs"),
            );
            return;
        }
        if self.secrets.get(name).is_none() {
            self.diagnostics.push(
                Diagnostic::warning("secret-missing", format!("the secret `{name}` is not provided"))
                    .at(at)
                    .label("needed here")
                    .hint(format!("give it in the `--secrets` file as `{name}=...`, or as the environment variable `{name}`")),
            );
        }
        self.secret_uses.push(SecretUse {
            name: name.to_string(),
            span: at,
            path: path.to_string(),
        });
    }

    /// Counts `len` more substituted bytes; past [`MAX_BYTES`] the placeholder stays as written,
    /// and the first one over is reported.
    fn over_budget(&mut self, len: usize, span: Span, placeholder: &str) -> bool {
        let before = self.substituted;
        self.substituted = before.saturating_add(len);
        if self.substituted <= MAX_BYTES {
            return false;
        }
        if before <= MAX_BYTES {
            self.diagnostics.push(
                Diagnostic::error(
                    "interpolation",
                    format!(
                        "the `${{...}}` values of this pipeline expand to more than {} MiB of text",
                        MAX_BYTES >> 20
                    ),
                )
                .at(self.locate(span, placeholder))
                .label("this one goes past the limit")
                .hint("a long var written in many places is copied in each: write the text once"),
            );
        }
        true
    }

    /// The span of `needle` inside the scalar's source text, or the whole scalar.
    fn locate(&self, span: Span, needle: &str) -> Span {
        let text = &self.sources.get(span.file).text;
        text.get(span.start..span.end)
            .and_then(|s| s.find(needle))
            .map(|i| Span::new(span.file, span.start + i, span.start + i + needle.len()))
            .unwrap_or(span)
    }
}

/// Where a secret may be written: in connections, and in the alert channels' own credentials
/// (a chat webhook's URL, the SMTP server's login), which only those servers receive.
fn secret_allowed(path: &str) -> bool {
    ["connections.", "alerts.chat.", "alerts.email.smtp."]
        .iter()
        .any(|place| path.starts_with(place))
}

fn namespace_of(after: &str) -> Option<&str> {
    let (ns, _) = after.split_once('.')?;
    NAMESPACES.contains(&ns).then_some(ns)
}

fn map_value_mut<'n>(node: &'n mut Node, key: &str) -> Option<&'n mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|e| e.key_text() == key)
            .map(|e| &mut e.value),
        _ => None,
    }
}
