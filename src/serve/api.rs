//! The HTTP side of `serve`: the JSON API. Anything that changes state needs the bearer token;
//! bound beyond loopback, everything does.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::json;

use super::scheduler::Busy;
use super::service::{RunRefused, Service};

/// Who may do what.
#[derive(Clone)]
pub struct Access {
    /// The bearer token; none: nothing that changes state is allowed.
    pub token: Option<Arc<str>>,
    /// Reading needs the token too (bound beyond loopback).
    pub private: bool,
}

#[derive(Clone)]
struct App {
    service: Arc<Service>,
    access: Access,
    metrics: Option<PrometheusHandle>,
}

pub fn router(service: Arc<Service>, access: Access, metrics: Option<PrometheusHandle>) -> Router {
    let app = App {
        service,
        access,
        metrics,
    };
    let changes = Router::new()
        .route("/api/pipelines/{pipeline}/jobs/{job}/run", post(run_job))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_token));
    let reads = Router::new()
        .route("/api/jobs", get(jobs))
        .route("/api/problems", get(problems))
        .route("/metrics", get(render_metrics))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            require_token_if_private,
        ));
    changes.merge(reads).with_state(app)
}

async fn require_token(State(app): State<App>, request: Request, next: Next) -> Response {
    match refusal(&app.access, request.headers()) {
        None => next.run(request).await,
        Some(refused) => refused,
    }
}

async fn require_token_if_private(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    if !app.access.private {
        return next.run(request).await;
    }
    require_token(State(app), request, next).await
}

/// The answer to a request without the token; none when it has it.
fn refusal(access: &Access, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &access.token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "changes are disabled: start `syncline serve` with --token-file",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => None,
        _ => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({ "error": "a valid bearer token is needed" })),
            )
                .into_response(),
        ),
    }
}

/// Compares in a time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

async fn jobs(State(app): State<App>) -> Response {
    Json(app.service.jobs()).into_response()
}

async fn render_metrics(State(app): State<App>) -> Response {
    app.service.measure_waiting();
    let text = app.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn problems(State(app): State<App>) -> Response {
    let problems: Vec<_> = app
        .service
        .problems()
        .into_iter()
        .map(|(file, problem)| json!({ "file": file, "problems": problem }))
        .collect();
    Json(problems).into_response()
}

/// The body of a run asked for by hand: optionally, only some records.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(default)]
    keys: Vec<String>,
}

async fn run_job(
    State(app): State<App>,
    Path((pipeline, job)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let body: RunBody = if body.is_empty() {
        RunBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not {{\"keys\": [...]}}: {e}"),
                );
            }
        }
    };
    let keys = (!body.keys.is_empty()).then(|| body.keys.into_iter().collect());
    match app.service.run_now(&pipeline, &job, keys) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "pipeline": pipeline, "job": job, "started": true })),
        )
            .into_response(),
        Err(e @ (RunRefused::NoPipeline(_) | RunRefused::NoJob { .. })) => {
            error(StatusCode::NOT_FOUND, e)
        }
        Err(e @ RunRefused::Busy(Busy::Running(_))) => error(StatusCode::CONFLICT, e),
        Err(e @ RunRefused::Stopping) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
