//! Named parameters in a query (`:cursor`, `:warehouse`): each becomes the dialect's
//! placeholder and its value is bound, never spliced into the text. A `:` inside a string
//! literal, a quoted name, a comment or a PostgreSQL cast (`::date`) is left as it is.

use super::dialect::Placeholders;

/// A query with its named parameters replaced by placeholders.
#[derive(Debug, Clone)]
pub struct Parameterized {
    pub sql: String,
    /// The parameter each placeholder stands for, in order (a name used twice is bound twice).
    pub names: Vec<String>,
}

/// Every named parameter of `sql`, in order, each once.
pub fn names(sql: &str) -> Vec<String> {
    // Numbered placeholders name each parameter once.
    parameterize(sql, Placeholders::Numbered).names
}

pub fn parameterize(sql: &str, placeholders: Placeholders) -> Parameterized {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                // To the closing quote; a doubled quote is an escaped one.
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
            b':' if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                out.push_str(&sql[copied..i]);
                let name = &sql[start..end];
                // A numbered name is numbered once, however often it is used.
                let n = match placeholders {
                    Placeholders::Numbered => match names.iter().position(|n| n == name) {
                        Some(p) => p + 1,
                        None => {
                            names.push(name.to_string());
                            names.len()
                        }
                    },
                    _ => {
                        names.push(name.to_string());
                        names.len()
                    }
                };
                out.push_str(&placeholders.nth(n));
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Parameterized { sql: out, names }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_placeholders_outside_literals_comments_and_casts() {
        let sql = "SELECT a::text, ':not' AS \":nor\" FROM t -- :comment\n\
                   WHERE m > :cursor AND d = :warehouse /* :x */ OR m = :cursor";
        let p = parameterize(sql, Placeholders::Marks);
        assert_eq!(p.names, ["cursor", "warehouse", "cursor"]);
        assert!(p.sql.ends_with("WHERE m > ? AND d = ? /* :x */ OR m = ?"));
        assert!(p.sql.contains("a::text, ':not' AS \":nor\""));
        let p = parameterize(sql, Placeholders::Numbered);
        assert_eq!(p.names, ["cursor", "warehouse"]);
        assert!(
            p.sql
                .ends_with("WHERE m > $1 AND d = $2 /* :x */ OR m = $1")
        );
        assert_eq!(names(sql), ["cursor", "warehouse"]);
    }

    #[test]
    fn a_quote_left_open_does_not_panic() {
        let p = parameterize("SELECT 'it'':s :x", Placeholders::Marks);
        assert!(p.names.is_empty());
        let p = parameterize("SELECT /* :x", Placeholders::Marks);
        assert!(p.names.is_empty());
    }
}
