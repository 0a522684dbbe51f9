//! ODBC connection strings (`Driver=FreeTDS;Server=sage.local;UID=erp;PWD=...`): shown without
//! their credentials, and a SQLite file's relative path taken from the pipeline's folder, as
//! the `sqlite://` URL's is.

use std::path::Path;

/// `key=value` pairs as written (a value in braces may hold `;`, `}}` is a brace).
fn pairs(string: &str) -> Vec<&str> {
    let bytes = string.as_bytes();
    let mut pairs = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut braced = false;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if !braced && string[start..i].trim_end().ends_with('=') => braced = true,
            b'}' if braced => {
                if bytes.get(i + 1) == Some(&b'}') {
                    i += 1;
                } else {
                    braced = false;
                }
            }
            b';' if !braced => {
                pairs.push(&string[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    pairs.push(&string[start..]);
    pairs.retain(|pair| !pair.trim().is_empty());
    pairs
}

/// A pair's key, trimmed, and its value without braces.
fn split(pair: &str) -> (&str, String) {
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    let value = value.trim();
    let value = match value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
        Some(inner) => inner.replace("}}", "}"),
        None => value.to_string(),
    };
    (key.trim(), value)
}

/// Keys whose values are credentials.
fn secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pwd", "password", "secret", "token", "key"]
        .iter()
        .any(|word| key.contains(word))
}

/// The string with every credential as `***`, for messages.
pub fn shown(string: &str) -> String {
    pairs(string)
        .into_iter()
        .map(|pair| match split(pair) {
            (key, _) if secret(key) => format!("{key}=***"),
            _ => pair.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The string with a relative `Database=` path (a SQLite file) made relative to `base_dir`;
/// unchanged otherwise.
pub fn with_base_dir(string: &str, base_dir: &Path) -> String {
    let mut changed = false;
    let pairs: Vec<String> = pairs(string)
        .into_iter()
        .map(|pair| {
            let (key, value) = split(pair);
            let path = Path::new(&value);
            if !key.eq_ignore_ascii_case("database")
                || value.is_empty()
                || value == ":memory:"
                || path.is_absolute()
            {
                return pair.to_string();
            }
            changed = true;
            let joined = base_dir.join(path).display().to_string();
            if joined.contains([';', '{', '}']) {
                format!("{key}={{{}}}", joined.replace('}', "}}"))
            } else {
                format!("{key}={joined}")
            }
        })
        .collect();
    match changed {
        true => pairs.join(";"),
        false => string.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            shown("Driver=FreeTDS;Server=sage.local;Port=1433;UID=erp;PWD=s3cr3t;TDS_Version=7.4"),
            "Driver=FreeTDS;Server=sage.local;Port=1433;UID=erp;PWD=***;TDS_Version=7.4"
        );
        assert_eq!(
            shown("Driver={PostgreSQL Unicode};Password={a;b}}c};Server=db;"),
            "Driver={PostgreSQL Unicode};Password=***;Server=db"
        );
    }

    #[test]
    fn a_relative_sqlite_file_is_in_the_pipelines_folder() {
        let base = Path::new("/srv/pipelines");
        assert_eq!(
            with_base_dir("Driver=SQLite3;Database=erp.db", base),
            "Driver=SQLite3;Database=/srv/pipelines/erp.db"
        );
        assert_eq!(
            with_base_dir("Driver=SQLite3;Database=/data/erp.db", base),
            "Driver=SQLite3;Database=/data/erp.db"
        );
        assert_eq!(
            with_base_dir("Driver=SQLite3;Database={a;b.db}", base),
            "Driver=SQLite3;Database={/srv/pipelines/a;b.db}"
        );
    }
}
