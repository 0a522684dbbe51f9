//! Who may do what: the bearer token, given as a header or (the page) in a cookie.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use metrics_exporter_prometheus::PrometheusHandle;

use super::service::{RunRefused, Service};

/// The cookie a signed-in browser carries the token in.
pub const COOKIE: &str = "syncline_token";

/// Who may do what.
#[derive(Clone)]
pub struct Access {
    /// The bearer token; none: nothing that changes state is allowed.
    pub token: Option<Arc<str>>,
    /// Reading needs the token too (bound beyond loopback).
    pub private: bool,
}

/// What the routes share.
#[derive(Clone)]
pub struct App {
    pub service: Arc<Service>,
    pub access: Access,
    pub metrics: Option<PrometheusHandle>,
}

/// Whether the request carries the token: as a bearer token, or in the page's cookie.
pub fn signed_in(access: &Access, headers: &HeaderMap) -> bool {
    let Some(token) = &access.token else {
        return false;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    [bearer, cookie_token(headers)]
        .into_iter()
        .flatten()
        .any(|given| same(given.as_bytes(), token.as_bytes()))
}

/// The token a signed-in browser sends.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Compares in a time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The status a run (or an apply, a replay) that cannot start is answered with, by the API and
/// by the page alike.
pub fn refused_status(e: &RunRefused) -> StatusCode {
    match e {
        RunRefused::NoPipeline(_) | RunRefused::NoJob { .. } => StatusCode::NOT_FOUND,
        RunRefused::Busy(_) => StatusCode::CONFLICT,
        RunRefused::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    }
}
