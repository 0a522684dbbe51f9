//! The HTTP side of `serve`: the JSON API. Anything that changes state needs the bearer token;
//! bound beyond loopback, everything does.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::json;

use super::app::{Access, App, refused_status, signed_in};
use super::service::{ApplyRefused, ReplayRefused, RunRefused, Service, WebhookRefused};

/// The largest request body read at all.
const WEBHOOK_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn router(service: Arc<Service>, access: Access, metrics: Option<PrometheusHandle>) -> Router {
    let app = App {
        service,
        access,
        metrics,
    };
    let changes = Router::new()
        .route("/api/pipelines/{pipeline}/jobs/{job}/run", post(run_job))
        .route(
            "/api/pipelines/{pipeline}/jobs/{job}/apply",
            post(apply_pending),
        )
        .route(
            "/api/pipelines/{pipeline}/jobs/{job}/quarantine/{id}/replay",
            post(replay),
        )
        .route(
            "/api/pipelines/{pipeline}/jobs/{job}/quarantine/{id}/drop",
            post(drop_entry),
        )
        .route_layer(middleware::from_fn_with_state(app.clone(), require_token));
    let reads = Router::new()
        .route("/api/jobs", get(jobs))
        .route("/api/problems", get(problems))
        .route("/api/pipelines/{pipeline}/jobs/{job}/pending", get(pending))
        .route(
            "/api/pipelines/{pipeline}/jobs/{job}/quarantine",
            get(quarantine),
        )
        .route("/metrics", get(render_metrics))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            require_token_if_private,
        ));
    changes
        .merge(reads)
        .merge(super::ui::routes())
        // Any other path may be a webhook job's: signed, not authenticated by the token.
        .fallback(webhook)
        // Each endpoint checks its own `max_body`; this bounds what is read before that.
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .with_state(app)
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
    if access.token.is_none() {
        return Some(error(
            StatusCode::FORBIDDEN,
            "changes are disabled: start `syncline serve` with --token-file",
        ));
    }
    match signed_in(access, headers) {
        true => None,
        false => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({ "error": "a valid bearer token is needed" })),
            )
                .into_response(),
        ),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// A notification for a webhook job: 200 once stored; 401 when its signature is wrong,
/// missing or replayed (logged without its body), 404 where no job listens.
async fn webhook(
    State(app): State<App>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if method != axum::http::Method::POST {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    match app
        .service
        .receive_webhook(uri.path(), &headers, &body)
        .await
    {
        Ok(()) => (StatusCode::OK, Json(json!({ "received": true }))).into_response(),
        Err(WebhookRefused::NoEndpoint) => {
            error(StatusCode::NOT_FOUND, "no webhook job listens here")
        }
        Err(WebhookRefused::Refused(refusal)) => error(
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::UNAUTHORIZED),
            refusal,
        ),
        Err(e @ WebhookRefused::Crashed) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
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

async fn pending(
    State(app): State<App>,
    Path((pipeline, job)): Path<(String, String)>,
) -> Response {
    match app.service.pending(&pipeline, &job) {
        Ok(Some(plan)) => Json(plan).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("`{job}` has no pending changes"),
        ),
        Err(e) => refused(e),
    }
}

async fn apply_pending(
    State(app): State<App>,
    Path((pipeline, job)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let keys = match keys(&body) {
        Ok(keys) => keys,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match app.service.apply_pending(&pipeline, &job, keys).await {
        Ok(report) => Json(report).into_response(),
        Err(ApplyRefused::Run(e)) => refused(e),
        Err(e @ ApplyRefused::NothingPending(_)) => error(StatusCode::NOT_FOUND, e),
        Err(e @ ApplyRefused::Plan(_)) => error(StatusCode::CONFLICT, e),
        Err(e @ ApplyRefused::State(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn quarantine(
    State(app): State<App>,
    Path((pipeline, job)): Path<(String, String)>,
) -> Response {
    match app.service.quarantined(&pipeline, &job) {
        Ok(entries) => Json(
            entries
                .into_iter()
                .map(|(id, entry)| json!({ "id": id, "entry": entry }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => refused(e),
    }
}

/// The body of a replay: optionally, fields of the record corrected first.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    #[serde(default)]
    fields: Option<serde_json::Map<String, serde_json::Value>>,
}

async fn replay(
    State(app): State<App>,
    Path((pipeline, job, id)): Path<(String, String, u64)>,
    body: axum::body::Bytes,
) -> Response {
    let body: ReplayBody = if body.is_empty() {
        ReplayBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not {{\"fields\": {{...}}}}: {e}"),
                );
            }
        }
    };
    let edits = body.fields.map(|fields| {
        fields
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect()
    });
    replayed(app.service.replay(&pipeline, &job, id, edits))
}

async fn drop_entry(
    State(app): State<App>,
    Path((pipeline, _job, id)): Path<(String, String, u64)>,
) -> Response {
    replayed(app.service.drop_quarantined(&pipeline, id))
}

fn replayed(result: Result<(), ReplayRefused>) -> Response {
    match result {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "done": true }))).into_response(),
        Err(ReplayRefused::Run(e)) => refused(e),
        Err(e @ ReplayRefused::NoEntry(_)) => error(StatusCode::NOT_FOUND, e),
        Err(e @ ReplayRefused::Unreadable(_)) => error(StatusCode::CONFLICT, e),
        Err(e @ ReplayRefused::State(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn refused(e: RunRefused) -> Response {
    error(refused_status(&e), e)
}

/// The keys of a body `{"keys": [...]}`; none for an empty body.
fn keys(body: &[u8]) -> Result<Vec<String>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice::<RunBody>(body)
        .map(|b| b.keys)
        .map_err(|e| format!("the body is not {{\"keys\": [...]}}: {e}"))
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
    let keys = match keys(&body) {
        Ok(keys) => keys,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let keys = (!keys.is_empty()).then(|| keys.into_iter().collect());
    match app.service.run_now(&pipeline, &job, keys) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "pipeline": pipeline, "job": job, "started": true })),
        )
            .into_response(),
        Err(e) => refused(e),
    }
}
