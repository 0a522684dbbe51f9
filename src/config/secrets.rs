//! Secrets: values written as `${secret.NAME}` in connections, taken from a `--secrets` file
//! (`NAME=value` lines) or the environment. They are held as [`SecretString`]s and never printed:
//! problems with a secret name the secret, never its value, and every line syncline prints can go
//! through a [`Redactor`] as a last guard.

use std::collections::HashMap;
use std::path::Path;

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

    /// A redactor for the secrets these names refer to, plus every secret of the file.
    pub fn redactor<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut values: Vec<SecretString> = self.from_file.values().cloned().collect();
        values.extend(names.into_iter().filter_map(|n| self.get(n)));
        Redactor { values }
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

/// Replaces secret values in text about to be printed.
pub struct Redactor {
    values: Vec<SecretString>,
}

impl Redactor {
    /// Values this short are not searched for: they would turn ordinary words into stars, and
    /// syncline never prints a secret anyway.
    const MIN_LEN: usize = 4;

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            let value = value.expose_secret();
            if value.len() >= Self::MIN_LEN && out.contains(value) {
                out = out.replace(value, "[redacted]");
            }
            // Multi-line secrets can be printed one line at a time.
            for line in value.lines().filter(|l| l.trim().len() >= Self::MIN_LEN) {
                if out.contains(line) {
                    out = out.replace(line, "[redacted]");
                }
            }
        }
        out
    }
}
