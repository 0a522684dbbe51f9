//! [`HttpClient`]: a connection (base URL, default headers and query, auth, retries, rate
//! limit) and its pool of kept-alive connections, through reqwest.
//!
//! Requests run as tasks on tokio. A keyed target's senders are tasks themselves and await
//! [`HttpClient::send_async`]. The jobs' readers are threads of their own that call
//! [`HttpClient::send`] and wait for its answer: `send` spawns the request, retries and waits
//! included, on the runtime of the job that the client works for (see
//! [`HttpClient::on_this_runtime`]), else on the runtime of the calling thread, else on a
//! runtime of the process's own (library tests), and blocks the calling thread until the
//! answer is there. It must not be called from inside an async task.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

use super::auth::{self, AuthError, Placed, TokenAuth};
use super::resilience::{
    Backoff, RateLimiter, RefusalRuleError, RefusalRules, RetryPolicy, Verdict,
};
use super::rpc;
use super::wire::{
    Call, QUERY, Response, TransportError, TransportKind, is_link, method_name, not_followed,
    percent_encode, shown_path, shown_query,
};
use crate::config::model::{HttpConnection, Method};
use crate::config::secrets::Secrets;

/// Writes in flight at once on a connection that does not say.
const DEFAULT_CONCURRENCY: usize = 4;

/// Requests a connection may have in flight at once (its `concurrency`).
pub fn concurrency(connection: &HttpConnection) -> usize {
    connection
        .concurrency
        .map_or(DEFAULT_CONCURRENCY, |c| (c as usize).max(1))
}

/// Why a connection's client cannot be set up: its credentials, its `refused_when`, its
/// `tls.ca_file`, or TLS and the HTTP client themselves.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    RefusedWhen(#[from] RefusalRuleError),
    #[error("tls.ca_file: cannot read {}: {source}", path.display())]
    CaFileUnreadable { path: PathBuf, source: io::Error },
    #[error("tls.ca_file: {} is not readable PEM: {source}", path.display())]
    CaFileNotPem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error(
        "tls.ca_file: {} holds a certificate that cannot be used: {source}",
        path.display()
    )]
    CaCertificateUnusable {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error(
        "tls.ca_file: {} holds no certificate (a PEM file with `-----BEGIN CERTIFICATE-----`)",
        path.display()
    )]
    CaFileEmpty { path: PathBuf },
    #[error("TLS cannot be set up: {0}")]
    Tls(rustls::Error),
    #[error("the HTTP client cannot be set up: {0}")]
    Build(reqwest::Error),
}

#[derive(Clone)]
pub struct HttpClient {
    /// The pool of connections, shared by the clones.
    http: reqwest::Client,
    /// The runtime requests run on, when bound to one.
    runtime: Option<Handle>,
    connection: Arc<Connection>,
}

/// What every request of a connection shares.
struct Connection {
    /// Its name in the pipeline, for metrics.
    name: String,
    base_url: String,
    headers: Vec<(String, SecretString)>,
    query: Vec<(String, SecretString)>,
    retry: RetryPolicy,
    /// The limit is the connection's, whichever thread sends.
    limiter: RateLimiter,
    /// A token got by a login or OAuth2, placed on every request.
    token: Option<TokenAuth>,
    /// The header that carries idempotency keys, when the API reads them.
    idempotency_key: Option<String>,
    /// Answers that are refusals whatever their status says.
    refused_when: RefusalRules,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.connection.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// `base_dir`: what the connection's file paths (`tls.ca_file`) are relative to.
    pub fn new(
        name: &str,
        connection: &HttpConnection,
        secrets: &Secrets,
        base_dir: &Path,
    ) -> Result<HttpClient, ClientError> {
        let (headers, query) = auth::credentials(connection, secrets)?;
        let base_url = connection.base_url.trim_end_matches('/').to_string();
        let token = TokenAuth::of(connection, &base_url, secrets)?;
        let timeout = connection
            .timeout
            .as_ref()
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(30));
        let tls = tls_config(
            connection
                .tls
                .as_ref()
                .map(|tls| base_dir.join(&tls.ca_file))
                .as_deref(),
        )?;
        // Every request in flight keeps its connection between requests; one more each for a
        // source's page fetched ahead and for a login.
        let http = builder(timeout, concurrency(connection) + 2, tls)
            .build()
            .map_err(ClientError::Build)?;
        Ok(HttpClient {
            http,
            runtime: None,
            connection: Arc::new(Connection {
                name: name.to_string(),
                base_url,
                headers,
                query,
                token,
                idempotency_key: connection.idempotency_key.clone(),
                refused_when: RefusalRules::compile(&connection.refused_when)?,
                retry: RetryPolicy::from_config(connection.retry.as_ref()),
                limiter: RateLimiter::new(connection.rate_limit.as_ref()),
            }),
        })
    }

    /// The same client, its requests run on the runtime of the calling thread when it has one
    /// (a job's own thread): for the job's other threads, which have none.
    pub fn on_this_runtime(&self) -> HttpClient {
        HttpClient {
            runtime: Handle::try_current().ok().or_else(|| self.runtime.clone()),
            ..self.clone()
        }
    }

    /// `url` after the base URL, when it is under it (a next-page link); `None` elsewhere.
    pub fn relative(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.connection.base_url)?;
        (rest.is_empty() || rest.starts_with(['/', '?'])).then(|| rest.to_string())
    }

    /// The retry policy's wait after `tries` tries; `None` when none is left.
    pub fn retry_delay(&self, tries: u32) -> Option<Duration> {
        let retry = &self.connection.retry;
        (tries < retry.attempts).then(|| retry.delay(tries))
    }

    /// Sends `call` within the connection's rate limit, retrying what the retry policy allows
    /// (see [`super::resilience`]), with the connection's token when it has one (fetched again
    /// once on a 401). The last answer is returned as it is, success or not.
    pub fn send(&self, call: &Call) -> Result<Response, TransportError> {
        self.send_ahead(call).wait()
    }

    /// Sends `call` as [`HttpClient::send`] does, and returns at once: the answer is waited
    /// for with [`Sending::wait`] (a source asks for its next page while it reads this one).
    pub fn send_ahead(&self, call: &Call) -> Sending {
        let runtime = match self.runtime.clone().or_else(|| Handle::try_current().ok()) {
            Some(runtime) => runtime,
            None => match own_runtime() {
                Ok(runtime) => runtime.handle().clone(),
                Err(reason) => {
                    return Sending {
                        answer: Err(failure(
                            call,
                            TransportKind::NotConnected,
                            reason.to_string(),
                        )),
                        cut_short: failure(call, TransportKind::Broken, String::new()),
                    };
                }
            },
        };
        // The request is a task of the runtime's, beside its connection's: what passes between
        // the two stays on one worker, and the caller is woken once, with the answer.
        let (client, sent) = (self.clone(), call.clone());
        let (answer, answered) = oneshot::channel();
        runtime.spawn(async move {
            let _ = answer.send(client.send_async(&sent).await);
        });
        Sending {
            answer: Ok(answered),
            cut_short: failure(
                call,
                TransportKind::Broken,
                "the request was cut short: the runtime stopped".into(),
            ),
        }
    }

    /// Sends `call` for one record and reads its answer: XML or JSON, as the answer says.
    pub fn read_for_record(&self, call: &Call) -> Result<Value, ReadFailure> {
        let at = format!("{} {}", method_name(call.method), shown_path(&call.path));
        if is_link(&call.path) && self.relative(&call.path).is_none() {
            let reason = not_followed(&call.path);
            return Err(ReadFailure::Record { at, reason });
        }
        let response = self
            .send(call)
            .map_err(|e| ReadFailure::Api(e.to_string()))?;
        match Verdict::of_answer(&response) {
            None => response.document().map_err(|e| ReadFailure::Record {
                at,
                reason: e.to_string(),
            }),
            Some(Verdict::Refused) => {
                let reason = match &response.refused {
                    Some(said) => format!("HTTP {}: refused: {said}", response.status),
                    None => format!("HTTP {}: {}", response.status, response.excerpt()),
                };
                Err(ReadFailure::Record { at, reason })
            }
            Some(Verdict::NotApplied | Verdict::MaybeApplied) => Err(ReadFailure::Api(format!(
                "{at}: HTTP {}: {}",
                response.status,
                response.excerpt()
            ))),
        }
    }

    /// [`HttpClient::send`] for async callers (a keyed target's senders, which are tasks): the
    /// request runs in the calling task.
    pub async fn send_async(&self, call: &Call) -> Result<Response, TransportError> {
        let connection = &*self.connection;
        let keyed;
        let call = match (&connection.idempotency_key, call.method, &call.body) {
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
        let Some(token) = &connection.token else {
            return self.send_retrying(call, None).await;
        };
        let response = self
            .send_retrying(call, Some(&self.place(token, call).await?))
            .await?;
        if response.status != 401 {
            return Ok(response);
        }
        token.forget().await;
        self.send_retrying(call, Some(&self.place(token, call).await?))
            .await
    }

    /// The token placed for `call`, logging in first when needed.
    async fn place(&self, token: &TokenAuth, call: &Call) -> Result<Placed, TransportError> {
        let login = |login| async move { self.send_retrying(login, None).await };
        token
            .place(login)
            .await
            .map_err(|e| failure(call, TransportKind::NotConnected, e.to_string()))
    }

    async fn send_retrying(
        &self,
        call: &Call,
        token: Option<&Placed>,
    ) -> Result<Response, TransportError> {
        let connection = &*self.connection;
        // Sent twice, a write that is not repeatable may apply twice, unless the API dedupes
        // it by its idempotency key.
        let repeatable = call.repeatable || connection.idempotency_key.is_some();
        let mut tries = 1;
        loop {
            connection.limiter.acquire().await;
            metrics::counter!("syncline_http_requests_total", "connection" => connection.name.clone())
                .increment(1);
            let outcome = self.send_once(call, token).await;
            let wait = match connection.retry.next_try(&outcome, tries, repeatable) {
                None => return outcome,
                // Every request on the connection waits, this one in `acquire`.
                Some(Backoff::PauseAll(wait)) => {
                    connection.limiter.pause(wait);
                    Duration::ZERO
                }
                Some(Backoff::Wait(wait)) => wait,
            };
            tracing::debug!(
                method = method_name(call.method),
                path = %shown_path(&call.path),
                tries,
                ?wait,
                "retrying"
            );
            metrics::counter!("syncline_http_retries_total", "connection" => connection.name.clone())
                .increment(1);
            tokio::time::sleep(wait).await;
            tries += 1;
        }
    }

    async fn send_once(
        &self,
        call: &Call,
        token: Option<&Placed>,
    ) -> Result<Response, TransportError> {
        let connection = &*self.connection;
        let method = method_name(call.method);
        let fail = |(kind, reason)| failure(call, kind, reason);
        let mut url = if is_link(&call.path) {
            let Some(rest) = self.relative(&call.path) else {
                return Err(fail((
                    TransportKind::NotConnected,
                    not_followed(&call.path),
                )));
            };
            format!("{}{rest}", connection.base_url)
        } else {
            format!("{}{}", connection.base_url, call.path)
        };
        let mut separator = if url.contains('?') { '&' } else { '?' };
        // A request's own parameter replaces the connection's of the same name.
        let defaults = connection
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
        let mut request = self.http.request(http_method(call.method), url);
        for (name, value) in connection
            .headers
            .iter()
            .chain(token.iter().flat_map(|t| &t.headers))
        {
            request = request.header(name.as_str(), value.expose_secret());
        }
        if let Some(body) = &call.body {
            request = request
                .header("Content-Type", call.content_type)
                .body(body.clone());
        }
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let started = Instant::now();
        let mut response = request.send().await.map_err(|e| {
            let failure = fail(transport_failure(&e));
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
        let body = read_body(&mut response).await.map_err(fail)?;
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
        response.refused = connection.refused_when.refusal(&response);
        Ok(match call.rpc {
            Some(dialect) => rpc::unwrap(response, dialect),
            None => response,
        })
    }
}

/// A request on its way (see [`HttpClient::send_ahead`]); dropped, its answer is dropped.
pub struct Sending {
    answer: Result<oneshot::Receiver<Result<Response, TransportError>>, TransportError>,
    /// The failure when the runtime stops with the request in flight: it may have been applied.
    cut_short: TransportError,
}

impl Sending {
    /// Blocks the calling thread until the answer is there. Not from inside an async task.
    pub fn wait(self) -> Result<Response, TransportError> {
        self.answer?.blocking_recv().unwrap_or(Err(self.cut_short))
    }
}

/// A failure of `call`, named by its method and path.
fn failure(call: &Call, kind: TransportKind, reason: String) -> TransportError {
    TransportError {
        method: method_name(call.method),
        path: shown_path(&call.path).to_string(),
        reason,
        kind,
    }
}

/// Why something read for one record (its detail, a related resource) was not had.
pub enum ReadFailure {
    /// This record's problem (a 4xx, an unreadable answer, a link elsewhere): it is rejected,
    /// the rest go on. `at` names the request.
    Record { at: String, reason: String },
    /// The API does not answer (unreachable, 5xx or 429 after the retries): the job stops.
    Api(String),
}

/// No runtime could be started for the requests of a thread that has none.
#[derive(Debug, thiserror::Error)]
#[error("no runtime to send the request on: {0}")]
struct NoRuntime(io::Error);

/// The runtime of requests sent from a thread that has none.
fn own_runtime() -> &'static Result<Runtime, NoRuntime> {
    static RUNTIME: OnceLock<Result<Runtime, NoRuntime>> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("syncline-http")
            .enable_all()
            .build()
            .map_err(NoRuntime)
    })
}

/// The client's settings: `timeout` for a whole request, `idle` connections kept per host.
fn builder(timeout: Duration, idle: usize, tls: rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // From the start of the request to the answer's last byte: a body that trickles in a
        // byte at a time is bounded too.
        .timeout(timeout)
        // Connecting is limited apart, and ends first, so that a request that never reached
        // the server is known not to have been applied (see `transport_failure`). A host's
        // addresses share it (hyper's connector divides it between them).
        .connect_timeout(timeout.saturating_sub(connect_margin(timeout)))
        .pool_max_idle_per_host(idle)
        // Retries are the connection's policy's, nobody else's.
        .retry(reqwest::retry::never())
        .user_agent(concat!("syncline/", env!("CARGO_PKG_VERSION")))
}

/// How much sooner than the whole request's limit connecting gives up: enough that the
/// request's timer, started a moment before, does not fire first.
fn connect_margin(timeout: Duration) -> Duration {
    (timeout / 20).clamp(Duration::from_millis(1), Duration::from_millis(500))
}

/// TLS that trusts the certificate authorities of the PEM file at `ca_file` instead of the
/// public ones.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(ca_file) => {
            let path = || ca_file.to_path_buf();
            let pem = std::fs::read(ca_file).map_err(|source| ClientError::CaFileUnreadable {
                path: path(),
                source,
            })?;
            let mut certificates = 0;
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|source| ClientError::CaFileNotPem {
                    path: path(),
                    source,
                })?;
                roots
                    .add(certificate)
                    .map_err(|source| ClientError::CaCertificateUnusable {
                        path: path(),
                        source,
                    })?;
                certificates += 1;
            }
            if certificates == 0 {
                return Err(ClientError::CaFileEmpty { path: path() });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn http_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// The most an answer's body may hold.
const LARGEST_BODY: usize = 256 << 20;

/// A body of unknown length grows by doubling up to this; past it, room for the rest of
/// [`LARGEST_BODY`] is taken at once. Room not written to takes no memory, while each doubling
/// copies the body and leaves the old copy to the allocator: doubling all the way, an endless
/// body held about twice the limit before it was refused.
const DOUBLED_UP_TO: usize = 4 << 20;

/// The answer's body, refused once it is larger than [`LARGEST_BODY`] (at once, when its
/// `Content-Length` says so).
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, (TransportKind, String)> {
    let too_large = || {
        (
            TransportKind::TooLarge,
            format!(
                "the answer's body is larger than the {} MiB an answer may have",
                LARGEST_BODY >> 20
            ),
        )
    };
    let declared = response
        .content_length()
        .map(|length| usize::try_from(length).unwrap_or(usize::MAX));
    if declared.is_some_and(|length| length > LARGEST_BODY) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_failure(&e))? {
        if out.len() + chunk.len() > LARGEST_BODY {
            return Err(too_large());
        }
        if out.capacity() - out.len() < chunk.len() {
            let more = if out.capacity() < DOUBLED_UP_TO {
                out.capacity().max(8 << 10)
            } else {
                LARGEST_BODY - out.len()
            };
            out.reserve_exact(more.max(chunk.len()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What a request that got no answer says: whether it reached the server, and why it failed,
/// without the URL (its query may hold a key).
fn transport_failure(error: &reqwest::Error) -> (TransportKind, String) {
    use TransportKind::*;
    // The deepest cause says it best ("Connection refused", "connection closed before
    // message completed"); reqwest's own message names the URL.
    let reason = || {
        causes(error)
            .last()
            .map_or_else(|| "the request failed".to_string(), |e| e.to_string())
    };
    match causes(error).find_map(|e| e.downcast_ref::<rustls::Error>()) {
        Some(tls) => match tls_failure(tls) {
            (Broken, reason) if error.is_connect() => (NotConnected, reason),
            refused => refused,
        },
        None if error.is_builder() => (
            NotConnected,
            "the request cannot be built (check the base URL)".to_string(),
        ),
        None if error.is_connect() && error.is_timeout() => {
            (NotConnected, "timed out connecting".to_string())
        }
        None if error.is_connect() => (NotConnected, reason()),
        None if error.is_timeout() => (Timeout, "timed out".to_string()),
        None => (Broken, reason()),
    }
}

/// What caused `error`, outermost first, the errors an I/O error wraps included (its
/// `source` skips them).
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(error.source(), |e| {
        match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

/// A TLS error: a handshake refused for good (nothing was sent), with the way out when the
/// certificate is not trusted; any other is a broken connection, which may have carried the
/// request unless it broke while connecting.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};

    /// A server on loopback that answers each request with the length of the body it got,
    /// after `delay`.
    fn server(delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut length = 0;
                        let mut line = String::new();
                        while reader.read_line(&mut line).unwrap_or(0) > 2 {
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = v.trim().parse().unwrap();
                            }
                            line.clear();
                        }
                        if line.is_empty() {
                            return;
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        std::thread::sleep(delay);
                        let answer = length.to_string();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                            answer.len()
                        );
                        let _ = writer.write_all(format!("{head}{answer}").as_bytes());
                    }
                });
            }
        });
        url
    }

    fn client(timeout: Duration) -> reqwest::Client {
        builder(timeout, 2, tls_config(None).unwrap())
            .build()
            .unwrap()
    }

    async fn put(client: &reqwest::Client, url: &str) -> Result<String, (TransportKind, String)> {
        let mut response = client
            .put(url)
            .body("{}")
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let body = read_body(&mut response).await?;
        Ok(String::from_utf8(body).unwrap())
    }

    #[tokio::test]
    async fn the_whole_request_is_bounded_by_the_timeout() {
        let fast = server(Duration::from_millis(200));
        assert_eq!(
            put(&client(Duration::from_millis(1500)), &fast)
                .await
                .unwrap(),
            "2"
        );
        let slow = server(Duration::from_millis(2000));
        let started = Instant::now();
        let (kind, reason) = put(&client(Duration::from_millis(1500)), &slow)
            .await
            .unwrap_err();
        assert_eq!(
            (kind, reason.as_str()),
            (TransportKind::Timeout, "timed out")
        );
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(1500)..Duration::from_millis(1950)).contains(&took),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_was_not_connected() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let (kind, reason) = put(&client(Duration::from_secs(5)), &url)
            .await
            .unwrap_err();
        assert_eq!(kind, TransportKind::NotConnected, "{reason}");
        assert!(!reason.contains("127.0.0.1"), "no URL: {reason}");
    }

    /// An address on loopback where a connect hangs, as at a host that drops packets: a
    /// listener that accepts nothing, its queue already full, so that the kernel ignores
    /// further connection requests. Keep what it returns alive for as long as it is used.
    #[cfg(target_os = "linux")]
    fn silent_address() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let address = listener.local_addr().unwrap().as_socket().unwrap();
        let mut queued = Vec::new();
        while let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_millis(100)) {
            queued.push(stream);
            assert!(queued.len() < 16, "the listener's queue never filled");
        }
        (listener, queued, address)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_address_that_never_answers_leaves_time_for_the_next() {
        let (_silent, _queued, silent) = silent_address();
        let open = server(Duration::ZERO);
        let open: SocketAddr = open.trim_start_matches("http://").parse().unwrap();
        let timeout = Duration::from_millis(1500);
        let both = builder(timeout, 2, tls_config(None).unwrap())
            .resolve_to_addrs("two.test", &[silent, open])
            .build()
            .unwrap();
        let started = Instant::now();
        assert_eq!(put(&both, "http://two.test/").await.unwrap(), "2");
        // The silent address had its share of the timeout, not the whole of it.
        let took = started.elapsed();
        assert!(took < timeout, "took {took:?}");
        let one = builder(Duration::from_millis(200), 2, tls_config(None).unwrap())
            .resolve_to_addrs("one.test", &[silent])
            .build()
            .unwrap();
        let (kind, reason) = put(&one, "http://one.test/").await.unwrap_err();
        assert_eq!(
            (kind, reason.as_str()),
            (TransportKind::NotConnected, "timed out connecting")
        );
    }

    #[test]
    fn a_client_without_a_runtime_sends_on_its_own() {
        let url = server(Duration::ZERO);
        let connection: HttpConnection =
            serde_json::from_value(serde_json::json!({ "base_url": url })).unwrap();
        let client =
            HttpClient::new("api", &connection, &Secrets::default(), Path::new(".")).unwrap();
        let call = Call {
            method: Method::Put,
            path: "/x".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Some(b"abc".to_vec()),
            content_type: "text/plain",
            repeatable: true,
            rpc: None,
            secret: false,
        };
        let response = client.send(&call).unwrap();
        assert_eq!((response.status, response.body), (200, b"3".to_vec()));
        // And from a thread of a runtime's own, through the client bound to it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bound = runtime.block_on(async {
            tokio::task::spawn_blocking(move || client.on_this_runtime())
                .await
                .unwrap()
        });
        let answer = std::thread::spawn(move || bound.send(&call).map(|r| r.body))
            .join()
            .unwrap();
        assert_eq!(answer.unwrap(), b"3");
    }
}
