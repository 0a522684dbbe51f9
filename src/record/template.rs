//! The one brace template: `{field}` placeholders (a field name or a dotted path) in URLs,
//! bodies, reasons and mapped values; `{{` and `}}` write braces.

use serde_json::Value;

use super::path::CompiledPath;
use super::{Record, id_value, text_of};

/// A string with `{field}` placeholders (a field name or a dotted path); `{{` and `}}` write braces.
#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Field(String, CompiledPath),
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!(
                            "`{{{name}` is not closed: a placeholder ends with `}}` (`{{{{` writes a brace)"
                        ));
                    }
                    let path = CompiledPath::compile(format!("$.{}", name.trim()))
                        .map_err(|_| format!("`{{{name}}}` is not a field name"))?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name.trim().to_string(), path));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The names of its placeholders, as written (`line.sku` for `{line.sku}`).
    pub fn names(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Field(name, _) => Some(name.as_str()),
                Part::Text(_) => None,
            })
            .collect()
    }

    pub fn paths(&self) -> Vec<&CompiledPath> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Field(_, path) => Some(path),
                Part::Text(_) => None,
            })
            .collect()
    }

    pub fn render(&self, record: &Record) -> Result<String, String> {
        self.render_with(record, &|_| None, &|text| text.to_string())
    }

    /// Renders with `extra` answering some names first (a request's `{target_id}`), each
    /// value passed through `escape` (percent-encoding in a URL path).
    /// A template that is exactly one placeholder, `{name}`: its value can keep its JSON type.
    /// `extra` answers `{target_id}` and the like, whose values are ids: digits become a number.
    pub fn render_single_value(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Result<Value, String>> {
        let [Part::Field(name, path)] = self.parts.as_slice() else {
            return None;
        };
        Some(match extra(name) {
            Some(id) => Ok(id_value(&id)),
            None => path
                .get(record)
                .cloned()
                .ok_or_else(|| format!("the template needs `{name}`, which is missing")),
        })
    }

    pub fn render_with(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
        escape: &dyn Fn(&str) -> String,
    ) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(name, path) => {
                    let text = match extra(name) {
                        Some(text) => text,
                        None => path
                            .get(record)
                            .ok_or_else(|| format!("the template needs `{name}`, which is missing"))
                            .and_then(|value| {
                                text_of(value)
                                    .ok_or_else(|| format!("`{name}` is not text or a number"))
                            })?,
                    };
                    out.push_str(&escape(&text));
                }
            }
        }
        Ok(out)
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
}
