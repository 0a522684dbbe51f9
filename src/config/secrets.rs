//! Secrets: values written as `${secret.NAME}` in connections, taken from a `--secrets` file
//! (`NAME=value` lines) or the environment. They are held as [`SecretString`]s and never printed:
//! problems with a secret name the secret, never its value, and every line syncline prints, logs
//! or keeps goes through [`redact`] as a last guard.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::diagnostics::Diagnostic;

#[derive(Default)]
pub struct Secrets {
    from_file: HashMap<String, SecretString>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.from_file.keys().collect::<Vec<_>>())
            .finish()
    }
}

pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Secrets {
    /// Reads a secrets file. A malformed line is reported by its number only: its text may hold
    /// a secret.
    pub fn from_file(path: &Path) -> Result<Secrets, Vec<Diagnostic>> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                "secrets-file",
                format!("cannot read the secrets file {shown}: {e}"),
            )]
        })?;
        let mut secrets = Secrets::default();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let parsed = line.split_once('=').and_then(|(name, value)| {
                let name = name.trim();
                is_valid_name(name).then(|| (name, unquote(value.trim())))
            });
            match parsed {
                Some((name, Some(value))) => {
                    secrets.from_file.insert(name.to_string(), SecretString::from(value));
                }
                _ => problems.push(
                    Diagnostic::error(
                        "secrets-file",
                        format!("line {} of the secrets file {shown} is not `NAME=value`", i + 1),
                    )
                    .hint("one secret a line: a name of letters, digits and `_`, then `=`, then the value (quote it to keep spaces)"),
                ),
            }
        }
        if problems.is_empty() {
            Ok(secrets)
        } else {
            Err(problems)
        }
    }

    /// The secret's value: from the secrets file, else from the environment variable of that name.
    pub fn get(&self, name: &str) -> Option<SecretString> {
        if let Some(value) = self.from_file.get(name) {
            return Some(value.clone());
        }
        std::env::var(name).ok().map(SecretString::from)
    }

    /// `text` with every `${secret.NAME}` replaced by its value; the result is itself secret.
    /// An unknown name is an error naming it.
    pub fn resolve(&self, text: &str) -> Result<SecretString, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${secret.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "${secret.".len()..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let value = self
                .get(name)
                .ok_or_else(|| format!("the secret `{name}` is not set"))?;
            out.push_str(value.expose_secret());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(SecretString::from(out))
    }

    /// Protects the secrets these names refer to, and every secret of the file (see
    /// [`protect`]): from then on [`redact`] hides them.
    pub fn protect_used<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let named = names.into_iter().filter_map(|n| self.get(n));
        for value in self.from_file.values().cloned().chain(named) {
            protect(value.expose_secret());
        }
    }
}

fn unquote(value: &str) -> Option<String> {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            return rest.strip_suffix(quote).map(str::to_string);
        }
    }
    Some(value.to_string())
}

/// Every form of every secret this process holds, longest first: what it prints, logs and
/// keeps in its state passes through [`redact`]. Process-wide because tokens got at run time
/// join it, and the log writer and the state's quarantine need it as much as the report does.
static PROTECTED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Values this short are not searched for: they would turn ordinary words into stars.
const MIN_LEN: usize = 4;

/// What a query or form value is percent-encoded with (all but RFC 3986's unreserved), as the
/// HTTP connections encode it.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Protects `value` in every form syncline writes it and a server may echo it back: as it is,
/// line by line, percent-encoded (either case of hex digits, `+` for spaces), JSON-escaped (with
/// PHP's `\/`), XML-escaped and in base64.
pub fn protect(value: &str) {
    let mut forms: Vec<String> = vec![value.to_string()];
    forms.extend(value.lines().map(str::trim).map(str::to_string));
    let encoded = utf8_percent_encode(value, ENCODED).to_string();
    forms.push(lower_hex(&encoded));
    forms.push(encoded.replace("%20", "+"));
    forms.push(encoded);
    if let Ok(json) = serde_json::to_string(value) {
        let json = json.trim_matches('"').to_string();
        forms.push(json.replace('/', "\\/"));
        forms.push(json);
    }
    forms.push(
        value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;"),
    );
    forms.push(base64::engine::general_purpose::STANDARD.encode(value));
    protect_forms(forms);
}

/// Protects one exact form a connection sends, e.g. the base64 of a basic pair `user:password`.
pub fn protect_exact(form: &str) {
    protect_forms(vec![form.to_string()]);
}

fn protect_forms(forms: Vec<String>) {
    let Ok(mut protected) = PROTECTED.write() else {
        return;
    };
    for form in forms {
        if form.len() >= MIN_LEN && !protected.contains(&form) {
            protected.push(form);
        }
    }
    protected.sort_by_key(|form| std::cmp::Reverse(form.len()));
}

fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every protected form replaced by `[redacted]`, and the value of any
/// `Authorization` header it quotes (a server echoing the request).
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(protected) = PROTECTED.read() {
        for form in protected.iter() {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "[redacted]");
            }
        }
    }
    redact_authorization(&out)
}

/// Every string of `value` (and every key) redacted: a quarantined record or reason is kept
/// as safe as what is printed.
pub fn redact_value(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = redact(s),
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(fields) => {
            // Keys in their order; rebuilt only in the rare case one holds a secret.
            if fields.keys().any(|key| redact(key) != *key) {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, item)| (redact(&key), item))
                    .collect();
            }
            fields.values_mut().for_each(redact_value);
        }
        _ => {}
    }
}

/// The value after each `authorization` followed by `:` or `=` (quotes and spaces around
/// them allowed), up to its closing quote or the end of the line: `Authorization: Basic ...`,
/// `"authorization":"Bearer ..."`.
fn redact_authorization(text: &str) -> String {
    const NAME: &str = "authorization";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(NAME) {
        let mut at = from + found + NAME.len();
        from = at;
        let bytes = text.as_bytes();
        let skip = |at: &mut usize, set: &[u8]| {
            while *at < bytes.len() && set.contains(&bytes[*at]) {
                *at += 1;
            }
        };
        skip(&mut at, b"\"' \t\\");
        if at >= bytes.len() || !matches!(bytes[at], b':' | b'=') {
            continue;
        }
        at += 1;
        skip(&mut at, b" \t");
        let quote = match bytes.get(at) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') if bytes.get(at + 1) == Some(&b'"') => {
                at += 1;
                Some(b'"')
            }
            Some(b'\'') => Some(b'\''),
            _ => None,
        };
        if quote.is_some() {
            at += 1;
        }
        let end = bytes[at..]
            .iter()
            .position(|b| match quote {
                Some(q) => *b == q || *b == b'\\',
                None => matches!(b, b'\r' | b'\n' | b',' | b'}' | b'<'),
            })
            .map_or(bytes.len(), |n| at + n);
        if end > at && &text[at..end] != "[redacted]" {
            out.push_str(&text[copied..at]);
            out.push_str("[redacted]");
            copied = end;
        }
        from = end.max(from);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_redacted_in_the_forms_it_is_sent_and_echoed() {
        protect("Sp3c+al/k&y=v");
        protect_exact(&base64::engine::general_purpose::STANDARD.encode("PLAINSECRET123:"));
        for echoed in [
            "key Sp3c+al/k&y=v",
            "q=Sp3c%2Bal%2Fk%26y%3Dv",
            "q=Sp3c%2bal%2fk%26y%3dv",
            r#"{"key":"Sp3c+al\/k&y=v"}"#,
            "<key>Sp3c+al/k&amp;y=v</key>",
            "U3AzYythbC9rJnk9dg==",
        ] {
            assert!(
                !redact(echoed).contains("Sp3c"),
                "{echoed}: {}",
                redact(echoed)
            );
        }
        assert_eq!(
            redact(r#"{"headers":{"authorization":"Basic UExBSU5TRUNSRVQxMjM6","x":"y"}}"#),
            r#"{"headers":{"authorization":"[redacted]","x":"y"}}"#
        );
        assert_eq!(
            redact("Authorization: Bearer abc.def\r\nHost: x"),
            "Authorization: [redacted]\r\nHost: x"
        );
        assert_eq!(redact("Authorization required"), "Authorization required");
    }
}
