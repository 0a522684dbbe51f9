//! HTTP APIs. [`HttpClient`] holds a connection (base URL, default headers and query, auth);
//! [`RequestPlan`] is a request template rendered per record; [`target::HttpTarget`] writes
//! records through the ID map.
//!
//! Secrets (auth, keys in headers or query) are held as [`SecretString`]s and exposed only when
//! a request is built; error messages name the method and path, never the query string.

pub mod body;
pub mod compile;
pub mod fetch;
pub mod resilience;
pub mod rpc;
pub mod source;
pub mod target;
pub mod token;
pub mod translations;
pub mod transport;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::model::{self, Auth, BodyFormat, HttpConnection, Method, RpcDialect};
use crate::config::secrets::Secrets;
use crate::record::Record;
use crate::record::path::CompiledPath;
use crate::record::template::Template;
use resilience::{RateLimiter, RetryPolicy, TransportKind};
use token::{Placed, TokenAuth};
use transport::CachingResolver;

/// Writes in flight at once on a connection that does not say.
const DEFAULT_CONCURRENCY: usize = 4;

/// Requests a connection may have in flight at once (its `concurrency`).
pub fn concurrency(connection: &HttpConnection) -> usize {
    connection
        .concurrency
        .map_or(DEFAULT_CONCURRENCY, |c| (c as usize).max(1))
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

    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the response is not JSON: {e}"))
    }

    /// Whether the answer is XML: its content type says so, or it starts with `<`
    /// (PrestaShop's default output).
    pub fn is_xml(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.contains("xml"))
            || self.body.trim_ascii_start().starts_with(b"<")
    }

    /// The body as a value: XML read by the XML rules of file sources, or JSON.
    pub fn document(&self) -> Result<Value, String> {
        if self.is_xml() {
            crate::connectors::file::xml_document(&self.body)
                .map_err(|e| format!("the response is not readable XML: {e}"))
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

/// Answers the connection names definite refusals (one rule of `refused_when`).
#[derive(Debug)]
struct RefusedWhen {
    statuses: Vec<u16>,
    /// Where the answer's errors are, when the rule names them.
    errors: Option<CompiledPath>,
    /// Text the answer must hold, when the rule names one.
    text: Option<String>,
    /// Text the answer must not hold, when the rule names one.
    unless: Option<String>,
}

pub struct HttpClient {
    /// Its pool of connections.
    agent: ureq::Agent,
    /// Host addresses, shared with [`HttpClient::with_own_connections`]'s clients.
    resolver: CachingResolver,
    base_url: String,
    headers: Vec<(String, SecretString)>,
    query: Vec<(String, SecretString)>,
    retry: RetryPolicy,
    /// Shared with [`HttpClient::with_own_connections`]'s clients: the limit is the
    /// connection's.
    limiter: Arc<RateLimiter>,
    /// A token got by a login or OAuth2, placed on every request; shared like the limiter.
    token: Option<Arc<TokenAuth>>,
    /// The header that carries idempotency keys, when the API reads them.
    idempotency_key: Option<String>,
    /// Answers that are refusals whatever their status says.
    refused_when: Arc<[RefusedWhen]>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

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
    /// A JSON-RPC call, in its dialect: the answer's `result` becomes the body (see [`rpc`]).
    pub rpc: Option<RpcDialect>,
    /// It carries credentials (a login): logged by its path only.
    pub secret: bool,
}

impl HttpClient {
    /// `base_dir`: what the connection's file paths (`tls.ca_file`) are relative to.
    pub fn new(
        connection: &HttpConnection,
        secrets: &Secrets,
        base_dir: &std::path::Path,
    ) -> Result<HttpClient, String> {
        let resolve = |text: &str| secrets.resolve(text);
        let mut headers = Vec::new();
        for (name, value) in &connection.headers {
            headers.push((name.clone(), resolve(value)?));
        }
        let mut query = Vec::new();
        for (name, value) in &connection.query {
            query.push((name.clone(), resolve(value)?));
        }
        match &connection.auth {
            None | Some(Auth::None) => {}
            Some(Auth::Basic { user, password }) => {
                let pair = format!(
                    "{}:{}",
                    resolve(user)?.expose_secret(),
                    resolve(password)?.expose_secret()
                );
                let encoded = base64(pair.as_bytes());
                crate::config::secrets::protect_exact(&encoded);
                let value = format!("Basic {encoded}");
                headers.push(("Authorization".into(), SecretString::from(value)));
            }
            Some(Auth::Bearer { token }) => {
                let value = format!("Bearer {}", resolve(token)?.expose_secret());
                headers.push(("Authorization".into(), SecretString::from(value)));
            }
            Some(Auth::Headers(map)) => {
                for (name, value) in map {
                    headers.push((name.clone(), resolve(value)?));
                }
            }
            Some(Auth::Query(map)) => {
                for (name, value) in map {
                    query.push((name.clone(), resolve(value)?));
                }
            }
            Some(Auth::Login(_)) | Some(Auth::Oauth2(_)) => {}
        }
        let base_url = connection.base_url.trim_end_matches('/').to_string();
        let token = match &connection.auth {
            Some(Auth::Login(login)) => {
                Some(TokenAuth::login(login, rpc_dialect(connection), secrets)?)
            }
            Some(Auth::Oauth2(oauth2)) => Some(TokenAuth::oauth2(oauth2, &base_url, secrets)?),
            _ => None,
        };
        let timeout = connection
            .timeout
            .as_ref()
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(30));
        // Every write in flight keeps its connection open between requests (ureq keeps 3 a
        // host by default: the others would reconnect for each request).
        let idle = concurrency(connection) + 2;
        let mut config = ureq::Agent::config_builder();
        if let Some(tls) = &connection.tls {
            config = config.tls_config(transport::tls_config(&base_dir.join(&tls.ca_file))?);
        }
        let config = config
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .http_status_as_error(false)
            // From the name lookup to the answer's last byte: a body that trickles in a byte
            // at a time is bounded too (the transport keeps the system calls this costs few,
            // see `transport::Deadline`). Connecting is named apart, so that a request that
            // never reached the server is known not to have been applied.
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .user_agent(concat!("syncline/", env!("CARGO_PKG_VERSION")))
            .build();
        let resolver = CachingResolver::default();
        Ok(HttpClient {
            agent: transport::agent(config, &resolver),
            resolver,
            base_url,
            headers,
            query,
            token: token.map(Arc::new),
            idempotency_key: connection.idempotency_key.clone(),
            refused_when: connection
                .refused_when
                .iter()
                .map(|r| -> Result<_, String> {
                    Ok(RefusedWhen {
                        statuses: r.status.clone(),
                        errors: r
                            .body
                            .as_ref()
                            .map(|p| CompiledPath::compile(p))
                            .transpose()?,
                        text: r.text.clone(),
                        unless: r.unless.clone(),
                    })
                })
                .collect::<Result<_, _>>()?,
            retry: RetryPolicy::from_config(connection.retry.as_ref()),
            limiter: Arc::new(RateLimiter::new(connection.rate_limit.as_ref())),
        })
    }

    /// The same client (rate limit, token, retries) with a pool of connections of its own,
    /// for a thread that sends concurrently with others: 8 plain client threads sending 10k
    /// PUTs to the shop double did about 80k/s through one shared pool, 100k/s with one each
    /// (ureq's pool is one mutex, and connections moved between threads).
    pub fn with_own_connections(&self) -> HttpClient {
        HttpClient {
            agent: transport::agent(self.agent.config().clone(), &self.resolver),
            resolver: self.resolver.clone(),
            base_url: self.base_url.clone(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            retry: self.retry.clone(),
            limiter: self.limiter.clone(),
            token: self.token.clone(),
            idempotency_key: self.idempotency_key.clone(),
            refused_when: self.refused_when.clone(),
        }
    }

    /// What the API said, when `response` is one the connection's `refused_when` names.
    fn refusal(&self, response: &Response) -> Option<String> {
        self.refused_when.iter().find_map(|rule| {
            if !rule.statuses.contains(&response.status) {
                return None;
            }
            let body = String::from_utf8_lossy(&response.body);
            if rule
                .text
                .as_ref()
                .is_some_and(|t| !body.contains(t.as_str()))
                || rule
                    .unless
                    .as_ref()
                    .is_some_and(|t| body.contains(t.as_str()))
            {
                return None;
            }
            let Some(path) = &rule.errors else {
                return Some(response.excerpt());
            };
            let document = response.document().ok()?;
            let said = path.get(&document).filter(|v| !is_empty(v))?;
            Some(rpc::describe(said))
        })
    }

    /// `url` after the base URL, when it is under it (a next-page link); `None` elsewhere.
    pub fn relative(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.base_url)?;
        (rest.is_empty() || rest.starts_with(['/', '?'])).then(|| rest.to_string())
    }

    /// The retry policy's wait after `tries` tries; `None` when none is left.
    pub fn retry_delay(&self, tries: u32) -> Option<Duration> {
        (tries < self.retry.attempts).then(|| self.retry.delay(tries))
    }

    /// Sends `call` within the connection's rate limit, retrying what the retry policy allows
    /// (see [`resilience`]), with the connection's token when it has one (fetched again once
    /// on a 401). The last answer is returned as it is, success or not.
    pub fn send(&self, call: &Call) -> Result<Response, TransportError> {
        let keyed;
        let call = match (&self.idempotency_key, call.method, &call.body) {
            (Some(header), Method::Post | Method::Patch, Some(body)) => {
                // The same write gets the same key, however often it is sent.
                let mut content = call.path.clone().into_bytes();
                content.extend_from_slice(body);
                let key = xxhash_rust::xxh3::xxh3_128(&content);
                let mut with_key = call.clone();
                with_key
                    .headers
                    .push((header.clone(), format!("{key:032x}")));
                keyed = with_key;
                &keyed
            }
            _ => call,
        };
        let Some(auth) = &self.token else {
            return self.send_retrying(call, None);
        };
        let place = || {
            auth.place(&|login| self.send_retrying(login, None).map_err(|e| e.reason))
                .map_err(|reason| TransportError {
                    method: method_name(call.method),
                    path: call.path.clone(),
                    reason,
                    kind: TransportKind::NotConnected,
                })
        };
        let response = self.send_retrying(call, Some(&place()?))?;
        if response.status != 401 {
            return Ok(response);
        }
        auth.forget();
        self.send_retrying(call, Some(&place()?))
    }

    fn send_retrying(
        &self,
        call: &Call,
        token: Option<&Placed>,
    ) -> Result<Response, TransportError> {
        // Sent twice, these may apply twice (unless the API dedupes them by idempotency key).
        let unsafe_to_repeat = !call.repeatable && self.idempotency_key.is_none();
        let mut attempt = 1;
        loop {
            self.limiter.acquire();
            let outcome = self.send_once(call, token);
            if attempt >= self.retry.attempts {
                return outcome;
            }
            let wait = match &outcome {
                Ok(response) if response.is_success() || response.refused.is_some() => {
                    return outcome;
                }
                Ok(response) => {
                    let status = response.status;
                    if !self.retry.retries_status(status) || (unsafe_to_repeat && status != 429) {
                        return outcome;
                    }
                    match response.header("retry-after") {
                        Some(value) => {
                            let Some(wait) = resilience::retry_after(value, chrono::Utc::now())
                            else {
                                return outcome;
                            };
                            // Every request on the connection waits, this one in `acquire`.
                            self.limiter.pause(wait);
                            Duration::ZERO
                        }
                        None => self.retry.delay(attempt),
                    }
                }
                Err(error) => {
                    if !self.retry.retries_transport(error.kind)
                        || (unsafe_to_repeat && error.kind != TransportKind::NotConnected)
                    {
                        return outcome;
                    }
                    self.retry.delay(attempt)
                }
            };
            tracing::debug!(
                method = method_name(call.method),
                path = %call.path,
                attempt,
                ?wait,
                "retrying"
            );
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn send_once(&self, call: &Call, token: Option<&Placed>) -> Result<Response, TransportError> {
        let method = method_name(call.method);
        let fail = |(kind, reason): (TransportKind, String)| TransportError {
            method,
            path: shown_path(&call.path).to_string(),
            reason,
            kind,
        };
        let mut url = if is_link(&call.path) {
            let Some(rest) = self.relative(&call.path) else {
                return Err(fail((
                    TransportKind::NotConnected,
                    not_followed(&call.path),
                )));
            };
            format!("{}{rest}", self.base_url)
        } else {
            format!("{}{}", self.base_url, call.path)
        };
        let mut separator = if url.contains('?') { '&' } else { '?' };
        // A request's own parameter replaces the connection's of the same name.
        let defaults = self
            .query
            .iter()
            .chain(token.iter().flat_map(|t| &t.query))
            .filter(|(k, _)| !call.query.iter().any(|(name, _)| name == k))
            .map(|(k, v)| (k.as_str(), v.expose_secret()));
        let specific = call.query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (name, value) in defaults.chain(specific) {
            url.push(separator);
            url.push_str(&percent_encode(name, QUERY));
            url.push('=');
            url.push_str(&percent_encode(value, QUERY));
            separator = '&';
        }
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in self
            .headers
            .iter()
            .chain(token.iter().flat_map(|t| &t.headers))
        {
            request = request.header(name.as_str(), value.expose_secret());
        }
        if call.body.is_some() {
            request = request.header("Content-Type", call.content_type);
        }
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(call.body.as_deref().unwrap_or_default())
            // The URL may hold a key: the builder's message is not shown.
            .map_err(|_| {
                fail((
                    TransportKind::NotConnected,
                    "the request cannot be built (check the base URL)".to_string(),
                ))
            })?;
        let started = std::time::Instant::now();
        let mut response = self.agent.run(request).map_err(|e| {
            let failure = fail(transport_reason(e));
            tracing::debug!(%failure, "request failed");
            failure
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        let body = read_body(response.body_mut()).map_err(fail)?;
        // The connection's own query and the token's may hold keys: only the call's is shown.
        tracing::debug!(
            "{method} {}{} -> {status} ({} bytes, {:.1} ms)",
            shown_path(&call.path),
            if call.secret {
                String::new()
            } else {
                shown_query(&call.query)
            },
            body.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let mut response = Response {
            status,
            headers,
            body,
            rpc_error: None,
            refused: None,
        };
        response.refused = self.refusal(&response);
        Ok(match call.rpc {
            Some(dialect) => rpc::unwrap(response, dialect),
            None => response,
        })
    }
}

/// The most an answer's body may hold.
const LARGEST_BODY: usize = 256 << 20;

/// A body of unknown length grows by doubling up to this; past it, room for the rest of
/// [`LARGEST_BODY`] is taken at once. Room not written to takes no memory, and each doubling
/// copies the body and leaves the old copy to the allocator: doubling all the way, an endless
/// body took 560 MiB of memory before it was refused at 256 MiB (690 to 800 over three tries);
/// this way, 264 MiB.
const DOUBLED_UP_TO: usize = 4 << 20;

/// The answer's body, refused once it is larger than [`LARGEST_BODY`] (at once, when its
/// `Content-Length` says so).
fn read_body(body: &mut ureq::Body) -> Result<Vec<u8>, (TransportKind, String)> {
    use std::io::Read;
    let too_large = || {
        (
            TransportKind::TooLarge,
            format!(
                "the answer's body is larger than the {} MiB an answer may have",
                LARGEST_BODY >> 20
            ),
        )
    };
    let failed = |e: std::io::Error| transport_reason(ureq::Error::from(e));
    let declared = body
        .content_length()
        .map(|length| usize::try_from(length).unwrap_or(usize::MAX));
    if declared.is_some_and(|length| length > LARGEST_BODY) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0));
    let mut reader = body.as_reader();
    loop {
        let room = out.capacity().min(LARGEST_BODY).saturating_sub(out.len());
        if room > 0 {
            let got = (&mut reader)
                .take(room as u64)
                .read_to_end(&mut out)
                .map_err(failed)?;
            if got < room {
                return Ok(out);
            }
            continue;
        }
        // Full: whether there is more, before making room for it.
        let mut probe = [0u8; 64];
        let got = loop {
            match reader.read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other.map_err(failed)?,
            }
        };
        if got == 0 {
            return Ok(out);
        }
        if out.len() + got > LARGEST_BODY {
            return Err(too_large());
        }
        let more = if out.capacity() < DOUBLED_UP_TO {
            out.capacity().max(8 << 10)
        } else {
            LARGEST_BODY - out.len()
        };
        out.reserve_exact(more.max(got));
        out.extend_from_slice(&probe[..got]);
    }
}

/// A TLS error: a handshake refused for good (nothing was sent), with the way out when the
/// certificate is not trusted; any other is a broken connection, which may have carried the
/// request.
fn tls_failure(error: &rustls::Error) -> (TransportKind, String) {
    match error {
        rustls::Error::InvalidCertificate(_) => (
            TransportKind::TlsRefused,
            format!(
                "{error} (a certificate from an authority of your own: give its PEM file as the connection's `tls.ca_file`)"
            ),
        ),
        rustls::Error::PeerIncompatible(_) => (TransportKind::TlsRefused, format!("TLS: {error}")),
        _ => (TransportKind::Broken, format!("TLS: {error}")),
    }
}

fn transport_reason(error: ureq::Error) -> (TransportKind, String) {
    use TransportKind::*;
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            (NotConnected, "timed out connecting".to_string())
        }
        ureq::Error::Timeout(_) => (Timeout, "timed out".to_string()),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            (NotConnected, e.to_string())
        }
        ureq::Error::Io(e) => match e.get_ref().and_then(|inner| inner.downcast_ref()) {
            Some(tls) => tls_failure(tls),
            None => (Broken, e.to_string()),
        },
        ureq::Error::Rustls(tls) => tls_failure(&tls),
        ureq::Error::ConnectionFailed => (NotConnected, "the connection failed".to_string()),
        ureq::Error::HostNotFound => (NotConnected, "the host was not found".to_string()),
        other => (Broken, other.to_string()),
    }
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

/// A request template: `{field}` in the path, query and header values stands for a field of
/// the record (or `{target_id}`, `{value}`); the body is the record itself.
#[derive(Debug)]
pub struct RequestPlan {
    pub method: Method,
    path: Template,
    query: Vec<(String, Template)>,
    headers: Vec<(String, Template)>,
    /// `Some` when the template has a body: its strings are templates, and a string that is
    /// exactly `{record}` stands for the whole record (to wrap it: `{ product: "{record}" }`).
    body: Option<Body>,
    format: BodyFormat,
    /// The root element of XML bodies.
    xml_root: String,
    /// A JSON-RPC call: its method, and its params template (the body's role).
    rpc: Option<String>,
    /// The connection's JSON-RPC dialect.
    dialect: RpcDialect,
}

/// A body template, its strings parsed once.
#[derive(Debug)]
enum Body {
    Record,
    Text(Template),
    List(Vec<Body>),
    Object(Vec<(String, Body)>),
    Value(Value),
}

impl Body {
    fn compile(template: &Value) -> Result<Body, String> {
        Ok(match template {
            Value::String(s) if s == "{record}" => Body::Record,
            Value::String(s) => Body::Text(Template::parse(s)?),
            Value::Array(items) => {
                Body::List(items.iter().map(Body::compile).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => Body::Object(
                map.iter()
                    .map(|(k, v)| Body::compile(v).map(|b| (k.clone(), b)))
                    .collect::<Result<_, _>>()?,
            ),
            other => Body::Value(other.clone()),
        })
    }

    /// The body: its placeholders read `record`, `"{record}"` is `sent`.
    fn render(
        &self,
        record: &Record,
        sent: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Value, String> {
        Ok(match self {
            Body::Record => sent.clone(),
            // `"{price}"` keeps the field's type; `"{target_id}"` is a number when it is one.
            Body::Text(t) => match t.render_single_value(record, extra) {
                Some(value) => value?,
                None => Value::String(t.render_with(record, extra, &|t| t.to_string())?),
            },
            Body::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(record, sent, extra))
                    .collect::<Result<_, _>>()?,
            ),
            Body::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, b)| b.render(record, sent, extra).map(|v| (k.clone(), v)))
                    .collect::<Result<_, _>>()?,
            ),
            Body::Value(v) => v.clone(),
        })
    }
}

impl RequestPlan {
    /// The request's template, its bodies encoded as `connection` says (`body: xml | form`,
    /// JSON by default; a JSON-RPC envelope in the connection's dialect).
    pub fn compile(
        request: &model::Request,
        connection: &HttpConnection,
    ) -> Result<RequestPlan, String> {
        let templates = |map: &indexmap::IndexMap<String, String>| {
            map.iter()
                .map(|(k, v)| Template::parse(v).map(|t| (k.clone(), t)))
                .collect::<Result<Vec<_>, _>>()
        };
        let body = match &request.rpc {
            Some(rpc) => rpc.params.as_ref(),
            None => request.body.as_ref(),
        };
        let rpc = request.rpc.as_ref().map(|rpc| rpc.method.clone());
        Ok(RequestPlan {
            method: request.sent_method(),
            path: Template::parse(&request.path)?,
            query: templates(&request.query)?,
            headers: templates(&request.headers)?,
            body: body.map(Body::compile).transpose()?,
            // The envelope is JSON whatever the connection's other bodies are.
            format: if rpc.is_some() {
                BodyFormat::Json
            } else {
                connection.body
            },
            xml_root: connection
                .xml_root
                .clone()
                .unwrap_or_else(|| "prestashop".to_string()),
            rpc,
            dialect: rpc_dialect(connection),
        })
    }

    pub fn has_body(&self) -> bool {
        self.body.is_some()
    }

    pub fn is_rpc(&self) -> bool {
        self.rpc.is_some()
    }

    /// The call for `record`; `extra` answers `{target_id}` / `{value}`. `send_record` puts
    /// the record in the body when the template has none (create and update).
    pub fn render(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
        send_record: bool,
    ) -> Result<Call, String> {
        self.render_sending(record, send_record.then_some(record), extra)
    }

    /// The call whose templates read `record` and whose body is `sent` (`"{record}"`, or the
    /// whole body when the template has none): a write sends less than the record holds
    /// (`not_sent` fields, flags), and its path may still need them.
    pub fn render_sending(
        &self,
        record: &Record,
        sent: Option<&Record>,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Call, String> {
        let plain = |t: &str| t.to_string();
        // A single placeholder holding a link (`path: "{lines}"`) is the link as the API
        // wrote it, not escaped whole.
        let path = match self.path.render_single_value(record, extra) {
            Some(Ok(Value::String(link))) if is_link(&link) => link,
            _ => self
                .path
                .render_with(record, extra, &|t| percent_encode(t, PATH))?,
        };
        let render_all = |list: &[(String, Template)]| {
            list.iter()
                .map(|(k, t)| t.render_with(record, extra, &plain).map(|v| (k.clone(), v)))
                .collect::<Result<Vec<_>, _>>()
        };
        let encode = |v: &Value| body::encode(self.format, &self.xml_root, v);
        let whole = sent.unwrap_or(record);
        let (body, content_type) = match (&self.rpc, &self.body, sent) {
            (Some(method), template, _) => {
                let params = match (template, sent) {
                    (Some(template), _) => template.render(record, whole, extra)?,
                    (None, Some(sent)) => sent.clone(),
                    (None, None) => Value::Object(serde_json::Map::new()),
                };
                encode(&rpc::envelope(self.dialect, method, params))?
            }
            (None, Some(template), _) => encode(&template.render(record, whole, extra)?)?,
            (None, None, Some(sent)) => encode(sent)?,
            (None, None, None) => (Vec::new(), ""),
        };
        Ok(Call {
            method: self.method,
            path,
            query: render_all(&self.query)?,
            headers: render_all(&self.headers)?,
            body: (!content_type.is_empty()).then_some(body),
            content_type,
            repeatable: !matches!(self.method, Method::Post | Method::Patch),
            rpc: self.rpc.is_some().then_some(self.dialect),
            secret: false,
        })
    }
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

/// Why something read for one record (its detail, a related resource) was not had.
pub enum ReadFailure {
    /// This record's problem (a 4xx, an unreadable answer, a link elsewhere): it is rejected,
    /// the rest go on. `at` names the request.
    Record { at: String, reason: String },
    /// The API does not answer (unreachable, 5xx or 429 after the retries): the job stops.
    Api(String),
}

/// Sends `call` for one record and reads its answer: XML or JSON, as the answer says.
pub fn read_for_record(client: &HttpClient, call: &Call) -> Result<Value, ReadFailure> {
    let at = format!("{} {}", method_name(call.method), shown_path(&call.path));
    if is_link(&call.path) && client.relative(&call.path).is_none() {
        let reason = not_followed(&call.path);
        return Err(ReadFailure::Record { at, reason });
    }
    let response = client
        .send(call)
        .map_err(|e| ReadFailure::Api(e.to_string()))?;
    let status = format!("HTTP {}: {}", response.status, response.excerpt());
    if let Some(said) = &response.refused {
        let reason = format!("HTTP {}: refused: {said}", response.status);
        return Err(ReadFailure::Record { at, reason });
    }
    if response.status >= 500 || response.status == 429 {
        return Err(ReadFailure::Api(format!("{at}: {status}")));
    }
    if !response.is_success() {
        return Err(ReadFailure::Record { at, reason: status });
    }
    response
        .document()
        .map_err(|reason| ReadFailure::Record { at, reason })
}

/// Null, or an empty text, list or object.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

/// A call's own query parameters as a log shows them.
fn shown_query(query: &[(String, String)]) -> String {
    let parts: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Whether a request's path is an absolute link rather than a path after the base URL.
pub fn is_link(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

/// Why a link elsewhere than under the base URL is not followed (without its query, which may
/// hold a key).
fn not_followed(link: &str) -> String {
    let shown = shown_path(link);
    format!("the link {shown} is not under the connection's base_url: not followed")
}

/// A path or link as errors and logs show it: without its query, which may hold a key.
fn shown_path(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or_default()
}

/// The dialect of a connection's JSON-RPC calls.
pub fn rpc_dialect(connection: &HttpConnection) -> RpcDialect {
    connection
        .rpc
        .as_ref()
        .map(|r| r.dialect)
        .unwrap_or_default()
}

/// Characters encoded in a path segment / a query component: all but RFC 3986's unreserved
/// (and `[]` in queries: PrestaShop's `filter[reference]`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const QUERY: &AsciiSet = &PATH.remove(b'[').remove(b']');

fn percent_encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

/// RFC 4648 base64 (HTTP Basic credentials).
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("KEY:", "S0VZOg=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

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
