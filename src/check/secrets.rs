//! Secrets that could not be sent where they are used. Messages name the secret, never its value.

use super::checker::Checker;
use crate::config::secrets::Secrets;
use crate::diagnostics::Diagnostic;
use crate::diagnostics::source::Span;
use secrecy::ExposeSecret;

pub fn check(c: &mut Checker, secrets: &Secrets) {
    for usage in &c.loaded.secret_uses {
        let Some(value) = secrets.get(&usage.name) else {
            continue;
        };
        let value = value.expose_secret();
        let in_url = usage.path.ends_with(".base_url") || usage.path.ends_with(".url");
        let in_odbc = usage.path.ends_with(".odbc");
        let check_value = "check the value in the `--secrets` file or the environment (a trailing newline is a common cause)";
        let braced = format!("write it in braces, `PWD={{${{secret.{}}}}}`", usage.name);
        let problem = if value.is_empty() {
            Some(("is empty", check_value))
        } else if value.chars().any(|ch| ch.is_control() && ch != '\t') {
            Some((
                "contains a line break or another control character, which cannot be sent in a URL, header or credential",
                check_value,
            ))
        } else if in_url && value.chars().any(char::is_whitespace) {
            Some((
                "contains spaces, which cannot be part of a URL",
                check_value,
            ))
        } else if in_odbc && !in_braces(c, usage.span) && value.contains(';') {
            // `PWD=a;Driver=...` would end the value and add attributes to the string.
            Some((
                "contains `;`, which ends a value in an ODBC connection string",
                braced.as_str(),
            ))
        } else if in_odbc && in_braces(c, usage.span) && value.contains('}') {
            Some((
                "contains `}`, which ends a value in braces in an ODBC connection string",
                "use a credential without `}`",
            ))
        } else {
            None
        };
        if let Some((problem, hint)) = problem {
            let d = Diagnostic::error(
                "secret-value",
                format!("the secret `{}` {problem}", usage.name),
            )
            .at(usage.span)
            .label("used here")
            .hint(hint);
            c.push(d);
        } else if let Some(weak) = weak(value) {
            let d = Diagnostic::warning(
                "secret-weak",
                format!(
                    "the secret `{}` {weak}: reports and logs show `[redacted]` wherever its text appears, in ids, URLs and names too",
                    usage.name
                ),
            )
            .at(usage.span)
            .label("used here")
            .hint("use a long, random credential (a dedicated API user or key)");
            c.push(d);
        }
    }
}

/// Whether the text at `span` is written between `{` and `}` (an ODBC value in braces).
fn in_braces(c: &Checker, span: Span) -> bool {
    let text = c.sources.get(span.file).text.as_bytes();
    span.start > 0 && text.get(span.start - 1) == Some(&b'{') && text.get(span.end) == Some(&b'}')
}

/// Why a secret's value is easily found elsewhere, when it is.
fn weak(value: &str) -> Option<&'static str> {
    const COMMON: &[&str] = &[
        "admin", "password", "passwd", "secret", "changeme", "letmein", "welcome", "qwerty",
        "123456", "12345678", "root", "test", "guest", "user", "demo",
    ];
    if COMMON.iter().any(|w| value.eq_ignore_ascii_case(w)) {
        Some("is a common word")
    } else if value.chars().count() < 8 {
        Some("is shorter than 8 characters")
    } else {
        None
    }
}
