//! How requests are authenticated: credentials placed on every request (Basic, Bearer, keys
//! in headers or the query), and tokens obtained by a request: a login (RO App's old
//! `POST /token/new`, JSON-RPC sessions) or OAuth2 client credentials. A token is fetched
//! before the first request, again a minute before it expires, and again when the API answers
//! 401. Its value and the credentials that obtain it are secrets: never logged, never in an
//! error.

use std::future::Future;
use std::time::{Duration, Instant};

use base64::Engine as _;
use indexmap::IndexMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;

use super::body::{self, BodyError};
use super::rpc;
use super::wire::{AnswerError, Call, Response, TransportError, method_name};
use crate::config::model::{
    Auth, BodyFormat, HttpConnection, LONGEST, LoginAuth, Method, OAuth2Auth, RpcDialect,
};
use crate::config::secrets::Secrets;
use crate::record::path::CompiledPath;
use crate::record::template::{Scope, Template};
use crate::record::text_of;

/// Why a connection's credentials or token cannot be had. Never holds a secret's value, nor
/// the answer to a login.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A `${secret.NAME}` that is not set.
    #[error("{0}")]
    MissingSecret(String),
    /// A value that places the token does not parse (a `{base64:` left open...).
    #[error("{0}")]
    Template(String),
    /// The `token` or `expires_in` path does not compile.
    #[error("{0}")]
    Path(String),
    /// The login's body cannot be encoded.
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("a login reads its token from `token` or `token_cookie`: give one")]
    NoTokenSource,
    #[error("`token_url` must be under the connection's base URL or a path")]
    TokenUrlElsewhere,
    /// `{token}` for a token that is a list.
    #[error(
        "the login's token is a list of {items}: place its items with {{token.0}}, {{token.1}}..."
    )]
    TokenIsList { items: usize },
    /// `{token.N}` past the token's items.
    #[error("{{token.{index}}}: the login's token has {items} item(s)")]
    NoTokenItem { index: String, items: usize },
    #[error("no token")]
    NoToken,
    /// The login request got no answer; `login` names it (`the login (POST /token/new)`).
    #[error("{login}: {}", .source.reason)]
    LoginFailed {
        login: String,
        source: TransportError,
    },
    /// The body of a failed login may echo the credentials: only the status is kept.
    #[error("{login}: HTTP {status}")]
    LoginRefused { login: String, status: u16 },
    #[error("{login}: {source}")]
    LoginAnswer { login: String, source: AnswerError },
    #[error("{login}: the answer has no token where `token` or `token_cookie` says")]
    TokenNotFound { login: String },
}

/// `text` with its `${secret.NAME}` resolved.
fn secret(secrets: &Secrets, text: &str) -> Result<SecretString, AuthError> {
    secrets.resolve(text).map_err(AuthError::MissingSecret)
}

/// RFC 4648 base64 (HTTP Basic credentials, `{base64:...}`).
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Headers and query parameters every request of `connection` carries: its own, and the
/// credentials of an `auth` that needs no request (Basic, Bearer, keys).
pub type Credentials = (Vec<(String, SecretString)>, Vec<(String, SecretString)>);

/// The connection's fixed headers and query parameters, its credentials among them.
pub fn credentials(
    connection: &HttpConnection,
    secrets: &Secrets,
) -> Result<Credentials, AuthError> {
    let resolve = |text: &str| secret(secrets, text);
    let mut headers = Vec::new();
    for (name, value) in &connection.headers {
        headers.push((name.clone(), resolve(value)?));
    }
    let mut query = Vec::new();
    for (name, value) in &connection.query {
        query.push((name.clone(), resolve(value)?));
    }
    match &connection.auth {
        None | Some(Auth::None) | Some(Auth::Login(_)) | Some(Auth::Oauth2(_)) => {}
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
    }
    Ok((headers, query))
}

/// Refreshed this long before it expires (or a tenth of its life, when shorter).
const MARGIN: Duration = Duration::from_secs(60);

pub struct TokenAuth {
    /// The request that gets a token, credentials already in it.
    request: SecretCall,
    token: TokenAt,
    expires_in: Option<CompiledPath>,
    lifetime: Duration,
    /// Where the token goes, in header and query values.
    headers: Vec<(String, Template)>,
    query: Vec<(String, Template)>,
    current: Mutex<Option<Token>>,
}

/// Parses a value with `{token}`, `{token.N}` and `{base64:...}` in it.
fn parts(text: &str) -> Result<Template, AuthError> {
    Template::parse_in(text, Scope::Token).map_err(AuthError::Template)
}

/// The token's item a placeholder names: `{token}` for a token of one item, `{token.N}`.
fn item<'t>(name: &str, token: &'t [SecretString]) -> Result<&'t SecretString, AuthError> {
    let items = token.len();
    match name.strip_prefix("token.") {
        None => match token {
            [value] => Ok(value),
            _ => Err(AuthError::TokenIsList { items }),
        },
        Some(index) => index
            .parse::<usize>()
            .ok()
            .and_then(|i| token.get(i))
            .ok_or_else(|| AuthError::NoTokenItem {
                index: index.to_string(),
                items,
            }),
    }
}

/// The value with the token's items in it.
fn render(template: &Template, token: &[SecretString], out: &mut String) -> Result<(), AuthError> {
    // The template passes a placeholder's failure on as text: the typed one is kept here.
    let mut failed = None;
    let placed = template.render_by(&mut |name, _| match item(name, token) {
        Ok(item) => Ok(item.expose_secret().to_string()),
        Err(e) => {
            let reason = e.to_string();
            failed = Some(e);
            Err(reason)
        }
    });
    match placed {
        Ok(placed) => {
            out.push_str(&placed);
            Ok(())
        }
        Err(reason) => Err(failed.unwrap_or(AuthError::Template(reason))),
    }
}

/// A call holding credentials: no `Debug`.
struct SecretCall(Call);

struct Token {
    /// The token's text, or the items of a token that is a list.
    items: Vec<SecretString>,
    refresh_at: Instant,
}

/// Where the token goes on one request.
pub struct Placed {
    pub headers: Vec<(String, SecretString)>,
    pub query: Vec<(String, SecretString)>,
}

fn resolve_value(value: &Value, secrets: &Secrets) -> Result<Value, AuthError> {
    Ok(match value {
        Value::String(s) => Value::String(secret(secrets, s)?.expose_secret().to_string()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_value(v, secrets))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| resolve_value(v, secrets).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

impl TokenAuth {
    /// The token the connection's `auth` obtains by a request, if it does.
    pub fn of(
        connection: &HttpConnection,
        base_url: &str,
        secrets: &Secrets,
    ) -> Result<Option<TokenAuth>, AuthError> {
        Ok(match &connection.auth {
            Some(Auth::Login(login)) => {
                Some(TokenAuth::login(login, rpc::dialect(connection), secrets)?)
            }
            Some(Auth::Oauth2(oauth2)) => Some(TokenAuth::oauth2(oauth2, base_url, secrets)?),
            _ => None,
        })
    }

    pub fn login(
        login: &LoginAuth,
        dialect: RpcDialect,
        secrets: &Secrets,
    ) -> Result<TokenAuth, AuthError> {
        let resolve = |text: &str| secret(secrets, text).map(|s| s.expose_secret().to_string());
        let request = &login.request;
        let body = match &request.rpc {
            Some(rpc) => Some(rpc::envelope(
                dialect,
                &rpc.method,
                resolve_value(rpc.params.as_ref().unwrap_or(&Value::Null), secrets)?,
            )),
            None => request
                .body
                .as_ref()
                .map(|body| resolve_value(body, secrets))
                .transpose()?,
        };
        let (body, content_type) = match body {
            Some(body) => {
                let (bytes, content_type) = body::encode(BodyFormat::Json, "", &body)?;
                (Some(bytes), content_type)
            }
            None => (None, ""),
        };
        let call = Call {
            method: request.sent_method(),
            path: resolve(&request.path)?,
            query: request
                .query
                .iter()
                .map(|(k, v)| resolve(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
            headers: request
                .headers
                .iter()
                .map(|(k, v)| resolve(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
            content_type,
            body,
            // A login creates nothing that a second one would duplicate.
            repeatable: true,
            rpc: request.rpc.is_some().then_some(dialect),
            secret: true,
        };
        let placed = |values: &IndexMap<String, String>| -> Result<Vec<_>, AuthError> {
            values
                .iter()
                .map(|(name, value)| Ok((name.clone(), parts(&resolve(value)?)?)))
                .collect()
        };
        let mut headers = placed(&login.headers)?;
        let query = placed(&login.query)?;
        if headers.is_empty() && query.is_empty() {
            headers.push(("Authorization".into(), parts("Bearer {token}")?));
        }
        Ok(TokenAuth {
            request: SecretCall(call),
            token: match (&login.token, &login.token_cookie) {
                (Some(path), None) => {
                    TokenAt::Body(CompiledPath::compile(path).map_err(AuthError::Path)?)
                }
                (None, Some(cookie)) => TokenAt::Cookie(cookie.clone()),
                _ => return Err(AuthError::NoTokenSource),
            },
            expires_in: login
                .expires_in
                .as_ref()
                .map(CompiledPath::compile)
                .transpose()
                .map_err(AuthError::Path)?,
            lifetime: login
                .lifetime
                .as_ref()
                .map_or(Duration::from_secs(3600), |d| d.0),
            headers,
            query,
            current: Mutex::new(None),
        })
    }

    /// OAuth2 client credentials: a form POST to `token_url` (an absolute URL, or a path after
    /// the base URL), `access_token` and `expires_in` read back.
    pub fn oauth2(
        auth: &OAuth2Auth,
        base_url: &str,
        secrets: &Secrets,
    ) -> Result<TokenAuth, AuthError> {
        let mut fields = serde_json::Map::new();
        fields.insert("grant_type".into(), "client_credentials".into());
        fields.insert(
            "client_id".into(),
            secret(secrets, &auth.client_id)?.expose_secret().into(),
        );
        fields.insert(
            "client_secret".into(),
            secret(secrets, &auth.client_secret)?.expose_secret().into(),
        );
        if !auth.scopes.is_empty() {
            fields.insert("scope".into(), auth.scopes.join(" ").into());
        }
        let (form, content_type) = body::encode(BodyFormat::Form, "", &Value::Object(fields))?;
        let token_url = secret(secrets, &auth.token_url)?
            .expose_secret()
            .to_string();
        let path = match token_url.strip_prefix(base_url) {
            Some(rest) => rest.to_string(),
            None if token_url.starts_with('/') => token_url,
            None => return Err(AuthError::TokenUrlElsewhere),
        };
        let path_of = |p: &str| {
            crate::config::model::JsonPath::parse(p)
                .and_then(|p| CompiledPath::compile(&p))
                .map_err(AuthError::Path)
        };
        Ok(TokenAuth {
            request: SecretCall(Call {
                method: Method::Post,
                path,
                query: Vec::new(),
                headers: Vec::new(),
                body: Some(form),
                content_type,
                repeatable: true,
                rpc: None,
                secret: true,
            }),
            token: TokenAt::Body(path_of("$.access_token")?),
            expires_in: Some(path_of("$.expires_in")?),
            lifetime: Duration::from_secs(3600),
            headers: vec![("Authorization".into(), parts("Bearer {token}")?)],
            query: Vec::new(),
            current: Mutex::new(None),
        })
    }

    /// The token placed for a request; fetched first when there is none or it is about to
    /// expire, with `login` sending the login request. Requests wait for one login in
    /// progress rather than each making their own.
    pub async fn place<'a, F, Answer>(&'a self, login: F) -> Result<Placed, AuthError>
    where
        F: FnOnce(&'a Call) -> Answer,
        Answer: Future<Output = Result<Response, TransportError>>,
    {
        let mut current = self.current.lock().await;
        let fresh = current
            .as_ref()
            .is_some_and(|t| Instant::now() < t.refresh_at);
        if !fresh {
            *current = Some(self.fetch(login).await?);
        }
        let Some(token) = current.as_ref() else {
            return Err(AuthError::NoToken);
        };
        let place = |list: &[(String, Template)]| -> Result<Vec<_>, AuthError> {
            list.iter()
                .map(|(name, parts)| {
                    let mut value = String::new();
                    render(parts, &token.items, &mut value)?;
                    Ok((name.clone(), SecretString::from(value)))
                })
                .collect()
        };
        Ok(Placed {
            headers: place(&self.headers)?,
            query: place(&self.query)?,
        })
    }

    /// The API refused the token (401): the next request fetches a new one.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch<'a, F, Answer>(&'a self, login: F) -> Result<Token, AuthError>
    where
        F: FnOnce(&'a Call) -> Answer,
        Answer: Future<Output = Result<Response, TransportError>>,
    {
        let call = &self.request.0;
        let what = format!("the login ({} {})", method_name(call.method), call.path);
        let response = login(call).await.map_err(|source| AuthError::LoginFailed {
            login: what.clone(),
            source,
        })?;
        if !response.is_success() {
            return Err(AuthError::LoginRefused {
                login: what,
                status: response.status,
            });
        }
        let body = match response.json() {
            Ok(body) => body,
            // A cookie login may answer with no JSON at all.
            Err(_) if matches!(self.token, TokenAt::Cookie(_)) => Value::Null,
            Err(source) => {
                return Err(AuthError::LoginAnswer {
                    login: what,
                    source,
                });
            }
        };
        let items = match &self.token {
            // Every match of a path that may select several: `$.result[0:2]` is a list of two.
            TokenAt::Body(path) => match path.value(&body).as_deref() {
                // Tryton's `[user id, session, bus url]` has a null for the bus: an empty item.
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::Null => Some(String::new()),
                        other => text_of(other),
                    })
                    .collect(),
                found => found.and_then(text_of).map(|text| vec![text]),
            },
            TokenAt::Cookie(name) => cookie(&response, name).map(|text| vec![text]),
        }
        .filter(|items| items.iter().any(|t| !t.is_empty()))
        .ok_or_else(|| AuthError::TokenNotFound {
            login: what.clone(),
        })?;
        let lifetime = self
            .expires_in
            .as_ref()
            .and_then(|p| p.get(&body))
            .and_then(|v| v.as_f64().or_else(|| text_of(v)?.parse().ok()))
            .filter(|s| *s > 0.0)
            .map_or(self.lifetime, |seconds| lifetime(&what, seconds));
        tracing::debug!(?lifetime, "got a token");
        Ok(Token {
            items: items
                .into_iter()
                .map(|item| {
                    // A token is a secret too: redacted wherever a server echoes it.
                    crate::config::secrets::protect(&item);
                    SecretString::from(item)
                })
                .collect(),
            refresh_at: Instant::now() + lifetime.min(LONGEST) - MARGIN.min(lifetime / 10),
        })
    }
}

/// A token's life from a login's `expires_in` (above zero): at most [`LONGEST`], which an
/// `inf` or a `1e300` from the server is taken as, said in the log.
fn lifetime(what: &str, seconds: f64) -> Duration {
    match Duration::try_from_secs_f64(seconds) {
        Ok(lifetime) if lifetime <= LONGEST => lifetime,
        _ => {
            tracing::warn!(
                "{what}: the token expires in {seconds} seconds, says the server: taken as {} days, and fetched again then or when the API refuses it",
                crate::config::model::LONGEST_DAYS
            );
            LONGEST
        }
    }
}

/// Where a login answer holds its token.
enum TokenAt {
    Body(CompiledPath),
    Cookie(String),
}

/// The value of the cookie `name` set by the answer.
fn cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(header, _)| header.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, value)| {
            let pair = value.split(';').next()?;
            let (cookie, value) = pair.split_once('=')?;
            (cookie.trim() == name).then(|| value.trim().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(template: &str, token: &[&str]) -> Result<String, AuthError> {
        let token: Vec<SecretString> = token.iter().map(|t| SecretString::from(*t)).collect();
        let mut out = String::new();
        render(&parts(template)?, &token, &mut out)?;
        Ok(out)
    }

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
    fn values_place_the_token_its_items_and_base64_of_them() {
        assert_eq!(placed("Bearer {token}", &["abc"]).unwrap(), "Bearer abc");
        assert_eq!(
            placed(
                "Session {base64:admin:{token.0}:{token.1}}",
                &["7", "s3ss10n"]
            )
            .unwrap(),
            "Session YWRtaW46NzpzM3NzMTBu"
        );
        // Other braces are text.
        assert_eq!(placed("{x} {token} }", &["t"]).unwrap(), "{x} t }");
        assert!(
            placed("{token}", &["7", "s"])
                .unwrap_err()
                .to_string()
                .contains("{token.0}")
        );
        assert!(
            placed("{token.2}", &["7", "s"])
                .unwrap_err()
                .to_string()
                .contains("2 item(s)")
        );
        // Word for word as before the messages were typed.
        assert_eq!(
            placed("{token}", &["7", "s"]).unwrap_err().to_string(),
            "the login's token is a list of 2: place its items with {token.0}, {token.1}..."
        );
        assert_eq!(
            placed("{token.5}", &["7"]).unwrap_err().to_string(),
            "{token.5}: the login's token has 1 item(s)"
        );
        assert!(parts("{base64:{token}").is_err(), "not closed");
        assert!(parts(&"{base64:".repeat(100_000)).is_err(), "too deep");
    }
}
