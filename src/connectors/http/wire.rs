//! The vocabulary every part of the HTTP connector speaks: a request ready to send ([`Call`]),
//! what came back ([`Response`]), why nothing came back ([`TransportError`]), and how paths and
//! queries are written on the wire. It imports none of its siblings, so that they can all
//! import it.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::config::model::{Method, RpcDialect};
use crate::connectors::file::XmlError;
use crate::record::path::CompiledPath;

/// A request ready to send.
#[derive(Clone)]
pub struct Call {
    pub method: Method,
    /// After the base URL, already escaped; or an absolute link an API gave, sent only when it
    /// is under the base URL.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The body's content type.
    pub content_type: &'static str,
    /// Whether sending it twice does no harm: by default every method but POST and PATCH.
    pub repeatable: bool,
    /// A JSON-RPC call, in its dialect: the answer's `result` becomes the body (see `rpc`).
    pub rpc: Option<RpcDialect>,
    /// It carries credentials (a login): logged by its path only.
    pub secret: bool,
}

/// What a request got back.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The `error` of a JSON-RPC answer (whose status is 200 all the same).
    pub rpc_error: Option<String>,
    /// What the API said when the answer is a definite refusal (the connection's
    /// `refused_when`): nothing was applied.
    pub refused: Option<String>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A 2xx that is neither a JSON-RPC error nor an answer `refused_when` names (Gomag
    /// answers a status it will not set with 200 and `NO DATA`).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status) && self.rpc_error.is_none() && self.refused.is_none()
    }

    pub fn json(&self) -> Result<Value, AnswerError> {
        serde_json::from_slice(&self.body).map_err(AnswerError::NotJson)
    }

    /// Whether the answer is XML: its content type says so, or it starts with `<`
    /// (PrestaShop's default output).
    pub fn is_xml(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.contains("xml"))
            || self.body.trim_ascii_start().starts_with(b"<")
    }

    /// The body as a value: XML read by the XML rules of file sources, or JSON.
    pub fn document(&self) -> Result<Value, AnswerError> {
        if self.is_xml() {
            crate::connectors::file::xml_document(&self.body).map_err(AnswerError::NotXml)
        } else {
            self.json()
        }
    }

    /// Whether the answer has no body (or only spaces).
    pub fn is_blank(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The start of the body, for error reasons; an HTML error page as its title and first
    /// paragraph, not its markup.
    pub fn excerpt(&self) -> String {
        if let Some(error) = &self.rpc_error {
            return format!("JSON-RPC error: {error}");
        }
        // Redacted before it is shortened: a cut would leave part of a secret unrecognised.
        let text = crate::config::secrets::redact(&String::from_utf8_lossy(&self.body));
        let text = text.trim();
        let html = self
            .header("content-type")
            .is_some_and(|t| t.contains("html"))
            || text.get(..14).is_some_and(|start| {
                start.eq_ignore_ascii_case("<!doctype html") || start.starts_with("<html")
            });
        match html.then(|| html_summary(text)).flatten() {
            Some(summary) => shorten(&summary),
            None => shorten(text),
        }
    }
}

/// Why an answer's body is not the document it should be.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the response is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the response is not readable XML: {0}")]
    NotXml(XmlError),
}

/// An HTML page's `<title>` and the text of its first paragraph (trytond, Werkzeug, nginx
/// error pages put the reason there).
fn html_summary(page: &str) -> Option<String> {
    let inner = |tag: &str| -> Option<String> {
        let lower = page.to_ascii_lowercase();
        let open = lower.find(&format!("<{tag}"))?;
        let start = open + lower[open..].find('>')? + 1;
        let end = start + lower[start..].find(&format!("</{tag}>"))?;
        Some(plain_text(&page[start..end]))
    };
    let parts: Vec<String> = [inner("title"), inner("p").or_else(|| inner("h1"))]
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// HTML text without its tags, its entities decoded, its spaces collapsed.
fn plain_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    // XML's entities and character references; a page with others keeps them as written.
    let out = quick_xml::escape::unescape(&text).map_or(Cow::Borrowed(text.as_str()), |t| t);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The start of a text, for error reasons.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The request never got an answer: refused, reset, timed out.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {reason}")]
pub struct TransportError {
    pub method: &'static str,
    pub path: String,
    pub reason: String,
    pub kind: TransportKind,
}

/// Why a request did not get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The server was never reached (refused, no route, name not found, connect timeout):
    /// nothing was applied.
    NotConnected,
    Timeout,
    /// The connection broke after the request was (maybe) sent.
    Broken,
    /// The TLS handshake failed (an untrusted certificate, no protocol in common): nothing was
    /// sent, and trying again will not change it.
    TlsRefused,
    /// The answer's body is larger than an answer may be: the request may have been applied,
    /// and asking again would read as much again.
    TooLarge,
}

pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// Whether a request's path is an absolute link rather than a path after the base URL.
pub fn is_link(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

/// A path or link as errors and logs show it: without its query, which may hold a key.
pub fn shown_path(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or_default()
}

/// A call's own query parameters as a log shows them.
pub fn shown_query(query: &[(String, String)]) -> String {
    let parts: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Why a link elsewhere than under the base URL is not followed (without its query, which may
/// hold a key).
pub fn not_followed(link: &str) -> String {
    let shown = shown_path(link);
    format!("the link {shown} is not under the connection's base_url: not followed")
}

/// The field an answer lacks on the way to `path`, when it is not an agreed empty answer:
/// an empty body, `[]` (PrestaShop's empty list), or null, `""` or an empty list on the way
/// (XML's `<products/>`). A page without the path is an error shaped as a success (a JSON-RPC
/// `{"error": ...}` at HTTP 200, a REST error object) or a wrong path: read as "no records",
/// it would hide the error.
pub fn missing_field<'p>(path: &'p CompiledPath, body: &Value) -> Option<&'p str> {
    let mut at = body;
    for name in path.leading_names() {
        at = match at {
            Value::Object(fields) => match fields.get(name) {
                Some(value) => value,
                None => return Some(name),
            },
            Value::Null => return None,
            Value::String(s) if s.is_empty() => return None,
            Value::Array(items) if items.is_empty() => return None,
            _ => return Some(name),
        };
    }
    None
}

/// Characters encoded in a path segment or a form field: all but RFC 3986's unreserved.
pub const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters encoded in a query component: as in a path, but `[]` stay (PrestaShop's
/// `filter[reference]`).
pub const QUERY: &AsciiSet = &PATH.remove(b'[').remove(b']');

pub fn percent_encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_error_page_is_its_title_and_first_paragraph() {
        // As trytond 8.2 answers a call without its context.
        let page = "<!doctype html>\n<html lang=en>\n<title>422 Unprocessable Entity</title>\n<h1>Unprocessable Entity</h1>\n<p>Missing context argument &amp; &#39;more&#39;</p>\n";
        let response = Response {
            status: 422,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: page.as_bytes().to_vec(),
            rpc_error: None,
            refused: None,
        };
        assert_eq!(
            response.excerpt(),
            "422 Unprocessable Entity: Missing context argument & 'more'"
        );
    }

    #[test]
    fn path_values_are_escaped() {
        assert_eq!(percent_encode("a b/é", PATH), "a%20b%2F%C3%A9");
        assert_eq!(percent_encode("filter[ean13]", QUERY), "filter[ean13]");
    }
}
