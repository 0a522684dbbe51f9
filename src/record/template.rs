//! The one brace template, in URLs, bodies, reasons, mapped values and where a login's token
//! goes: `{name}` placeholders, a `{base64:...}` function, `{{` and `}}` for braces. Which names
//! a placeholder may use is its [`Scope`]'s.

use base64::Engine as _;
use serde_json::Value;

use super::path::CompiledPath;
use super::{Record, id_value, text_of};

/// Which names a template's placeholders may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A record's fields (a name or a dotted path), and the names the caller adds
    /// (`target_id`, `value`, `cursor`). A brace left open is refused.
    Record,
    /// A login's token: `{token}`, and `{token.N}` for item N of a token that is a list
    /// (Tryton's login answers `[user id, session]`). Other braces are text: header values
    /// may hold JSON.
    Token,
}

/// A string with placeholders. Its text may hold secrets (a header resolved from
/// `${secret.X}`): `Debug` shows its placeholders only.
pub struct Template {
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    /// As written, with the path it reads in a record's scope.
    Name(String, Option<CompiledPath>),
    /// `{base64:...}`: what is inside, encoded (Tryton: `Session {base64:user:{token.0}:{token.1}}`).
    Base64(Vec<Part>),
}

/// Gives a placeholder's text, from its name as written and the path it reads in a record's
/// scope.
pub type Resolve<'a> = dyn FnMut(&str, Option<&CompiledPath>) -> Result<String, String> + 'a;

/// `{base64:` inside `{base64:` this deep at most (the parser recurses).
const MAX_NESTING: usize = 4;

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

impl Template {
    /// A template over a record.
    pub fn parse(text: &str) -> Result<Template, String> {
        Template::parse_in(text, Scope::Record)
    }

    pub fn parse_in(text: &str, scope: Scope) -> Result<Template, String> {
        let (parts, _) = parse_until(text, scope, 0)?;
        Ok(Template { parts })
    }

    /// The names of its placeholders, as written (`line.sku` for `{line.sku}`).
    pub fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        visit(&self.parts, &mut |name, _| names.push(name));
        names
    }

    pub fn paths(&self) -> Vec<&CompiledPath> {
        let mut paths = Vec::new();
        visit(&self.parts, &mut |_, path| paths.extend(path));
        paths
    }

    pub fn render(&self, record: &Record) -> Result<String, String> {
        self.render_with(record, &|_| None, &|text| text.to_string())
    }

    /// A template that is exactly one placeholder, `{name}`: its value can keep its JSON type.
    /// `extra` answers `{target_id}` and the like, whose values are ids: digits become a number.
    pub fn render_single_value(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Result<Value, String>> {
        let [Part::Name(name, path)] = self.parts.as_slice() else {
            return None;
        };
        Some(match extra(name) {
            Some(id) => Ok(id_value(&id)),
            None => path
                .as_ref()
                .and_then(|p| p.get(record))
                .cloned()
                .ok_or_else(|| missing(name)),
        })
    }

    /// Renders with `extra` answering some names first (a request's `{target_id}`), each
    /// value passed through `escape` (percent-encoding in a URL path).
    pub fn render_with(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
        escape: &dyn Fn(&str) -> String,
    ) -> Result<String, String> {
        self.render_by(&mut |name, path| {
            let text = match extra(name) {
                Some(text) => text,
                None => path
                    .and_then(|p| p.get(record))
                    .ok_or_else(|| missing(name))
                    .and_then(|value| {
                        text_of(value).ok_or_else(|| format!("`{name}` is not text or a number"))
                    })?,
            };
            Ok(escape(&text))
        })
    }

    /// Renders with `resolve` giving each placeholder's text (from its name as written, and
    /// the path it reads in a record's scope).
    pub fn render_by(&self, resolve: &mut Resolve) -> Result<String, String> {
        let mut out = String::new();
        render_parts(&self.parts, resolve, &mut out)?;
        Ok(out)
    }
}

fn missing(name: &str) -> String {
    format!("the template needs `{name}`, which is missing")
}

fn visit<'t>(parts: &'t [Part], found: &mut dyn FnMut(&'t str, Option<&'t CompiledPath>)) {
    for part in parts {
        match part {
            Part::Text(_) => {}
            Part::Name(name, path) => found(name, path.as_ref()),
            Part::Base64(inner) => visit(inner, found),
        }
    }
}

fn render_parts(parts: &[Part], resolve: &mut Resolve, out: &mut String) -> Result<(), String> {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Name(name, path) => out.push_str(&resolve(name, path.as_ref())?),
            Part::Base64(inner) => {
                let mut text = String::new();
                render_parts(inner, resolve, &mut text)?;
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(text));
            }
        }
    }
    Ok(())
}

/// The parts of `text` up to its end, or, `depth` levels inside `{base64:`, up to the `}` that
/// closes it; returns what follows.
fn parse_until(mut text: &str, scope: Scope, depth: usize) -> Result<(Vec<Part>, &str), String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let closed = loop {
        let Some(at) = text.find(['{', '}']) else {
            literal.push_str(text);
            text = "";
            break false;
        };
        literal.push_str(&text[..at]);
        let rest = &text[at..];
        if let Some(after) = rest.strip_prefix("{{") {
            literal.push('{');
            text = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("}}") {
            literal.push('}');
            text = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix('}') {
            text = after;
            if depth > 0 {
                break true;
            }
            literal.push('}');
            continue;
        }
        let part = if let Some(after) = rest.strip_prefix("{base64:") {
            if depth == MAX_NESTING {
                return Err(format!(
                    "`{{base64:` is nested more than {MAX_NESTING} deep"
                ));
            }
            let (inner, after) = parse_until(after, scope, depth + 1)?;
            text = after;
            Part::Base64(inner)
        } else {
            let inside = &rest[1..];
            let Some(end) = inside.find('}') else {
                if scope == Scope::Record {
                    return Err(format!(
                        "`{{{inside}` is not closed: a placeholder ends with `}}` (`{{{{` writes a brace)"
                    ));
                }
                literal.push('{');
                text = inside;
                continue;
            };
            let name = inside[..end].trim();
            text = &inside[end + 1..];
            match placeholder(name, scope)? {
                Some(part) => part,
                None => {
                    literal.push_str(&rest[..end + 2]);
                    continue;
                }
            }
        };
        if !literal.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut literal)));
        }
        parts.push(part);
    };
    if depth > 0 && !closed {
        return Err("a `{base64:` is not closed by `}`".into());
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok((parts, text))
}

/// The placeholder `{name}` in `scope`; `None` when it is text there.
fn placeholder(name: &str, scope: Scope) -> Result<Option<Part>, String> {
    match scope {
        Scope::Record => {
            let path = CompiledPath::compile(format!("$.{name}"))
                .map_err(|_| format!("`{{{name}}}` is not a field name"))?;
            Ok(Some(Part::Name(name.to_string(), Some(path))))
        }
        Scope::Token => {
            let item = name.strip_prefix("token.");
            let is_token = name == "token" || item.is_some_and(|n| n.parse::<usize>().is_ok());
            Ok(is_token.then(|| Part::Name(name.to_string(), None)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_doubled_braces() {
        let template = Template::parse("/p/{id}?q={{x}}").unwrap();
        assert_eq!(template.names(), vec!["id"]);
        let record = serde_json::json!({"id": 7});
        assert_eq!(template.render(&record).unwrap(), "/p/7?q={x}");
    }

    #[test]
    fn an_unclosed_brace_is_refused() {
        let error = Template::parse("/p/{id").unwrap_err();
        assert!(error.contains("`{id` is not closed"), "{error}");
    }

    #[test]
    fn base64_encodes_what_it_holds_in_either_scope() {
        let record = serde_json::json!({"user": "admin", "key": "k"});
        let basic = Template::parse("Basic {base64:{user}:{key}}").unwrap();
        assert_eq!(basic.render(&record).unwrap(), "Basic YWRtaW46aw==");
        let token = Template::parse_in("{base64:{token.0}} {x}", Scope::Token).unwrap();
        assert_eq!(token.names(), vec!["token.0"]);
        let placed = token.render_by(&mut |_, _| Ok("7".to_string())).unwrap();
        assert_eq!(placed, "Nw== {x}");
        assert!(Template::parse("{base64:{user}").is_err(), "not closed");
    }
}
