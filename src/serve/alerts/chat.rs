//! An alert POSTed to a chat webhook as `{"text": ...}`, the one body Slack, Mattermost, Google
//! Chat, Rocket.Chat and Teams workflows all take.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::message::Message;
use crate::config::secrets::redact;

/// A whole request, from connecting to the answer's last byte.
const TIMEOUT: Duration = Duration::from_secs(20);
/// What is kept of a refusal's body: chat services say why in a few words (`invalid_payload`).
const ANSWER_CHARS: usize = 200;

#[derive(Debug)]
pub struct Chat {
    /// The webhook's URL: its credential.
    pub url: SecretString,
}

impl Chat {
    /// Sends `message`; why not, without the URL.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        let text = format!("{}\n\n{}", message.subject, message.body);
        let body = serde_json::json!({ "text": text }).to_string();
        let response = client()?
            .post(self.url.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let answer = response.text().await.unwrap_or_default();
        let answer: String = answer.trim().chars().take(ANSWER_CHARS).collect();
        Err(redact(&format!("the webhook answered {status}: {answer}")))
    }
}

/// A client that trusts the public authorities, through rustls with ring as every connection;
/// proxies from the environment, as every connection.
fn client() -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(TIMEOUT)
        .user_agent(concat!("syncline/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(describe)
}

/// Why a request got no answer, without the URL (which is the webhook's credential): the
/// deepest cause says it best ("Connection refused"); reqwest's own message names the URL.
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("the webhook did not answer within {}s", TIMEOUT.as_secs());
    }
    let error = error.without_url();
    let mut deepest = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        deepest = e.to_string();
        cause = e.source();
    }
    redact(&format!("the webhook could not be reached: {deepest}"))
}
