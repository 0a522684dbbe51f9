//! The status page's routes: pages to read, forms to act. Acting needs the token, given once
//! at "Sign in" and kept in a cookie; beyond loopback, reading needs it too.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

use super::app::{App, COOKIE, refused_status, signed_in};
use super::page;
use super::service::{ApplyRefused, ReplayRefused, RunRefused};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(overview))
        .route("/pipelines/{pipeline}/jobs/{job}", get(job))
        .route("/ui/login", post(login))
        .route("/ui/pipelines/{pipeline}/jobs/{job}/run", post(run))
        .route("/ui/pipelines/{pipeline}/jobs/{job}/apply", post(apply))
        .route(
            "/ui/pipelines/{pipeline}/jobs/{job}/quarantine/{id}/replay",
            post(replay),
        )
        .route(
            "/ui/pipelines/{pipeline}/jobs/{job}/quarantine/{id}/edit",
            post(edit),
        )
        .route(
            "/ui/pipelines/{pipeline}/jobs/{job}/quarantine/{id}/drop",
            post(drop_entry),
        )
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// The answer to a page read without the token, beyond loopback; none when it may be read.
fn unreadable(app: &App, headers: &HeaderMap) -> Option<Response> {
    (app.access.private && !signed_in(&app.access, headers)).then(|| {
        html(
            StatusCode::UNAUTHORIZED,
            page::message(
                "Sign in",
                "Sign in with the token to see this page.",
                "/",
                false,
            ),
        )
    })
}

/// The answer to an action without the token; none when it may be done.
fn refused_action(app: &App, headers: &HeaderMap, back: &str) -> Option<Response> {
    if signed_in(&app.access, headers) {
        return None;
    }
    let text = if app.access.token.is_some() {
        "Refused: sign in with the token first. Nothing was changed."
    } else {
        "Refused: this syncline was started without --token-file, so nothing can be changed from the page."
    };
    Some(html(
        StatusCode::UNAUTHORIZED,
        page::message("Not signed in", text, back, false),
    ))
}

async fn overview(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(refused) = unreadable(&app, &headers) {
        return refused;
    }
    let signed = signed_in(&app.access, &headers);
    let jobs = app.service.jobs();
    let problems = app.service.problems();
    html(StatusCode::OK, page::overview(&jobs, &problems, signed))
}

async fn job(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = unreadable(&app, &headers) {
        return refused;
    }
    let signed = signed_in(&app.access, &headers);
    let Some(view) = app
        .service
        .jobs()
        .into_iter()
        .find(|j| j.pipeline == pipeline && j.job == job)
    else {
        return html(
            StatusCode::NOT_FOUND,
            page::message(
                "Not found",
                &format!("No job `{job}` in `{pipeline}`."),
                "/",
                signed,
            ),
        );
    };
    let pending = app.service.pending(&pipeline, &job).ok().flatten();
    let quarantine = app.service.quarantined(&pipeline, &job).unwrap_or_default();
    html(
        StatusCode::OK,
        page::job(&view, pending.as_ref(), &quarantine, signed),
    )
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(State(app): State<App>, Form(login): Form<Login>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        match format!("Bearer {}", login.token).parse() {
            Ok(value) => value,
            Err(_) => return wrong_token(),
        },
    );
    if !signed_in(&app.access, &headers) {
        return wrong_token();
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        login.token
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

fn wrong_token() -> Response {
    html(
        StatusCode::UNAUTHORIZED,
        page::message("Sign in", "That is not the token.", "/", false),
    )
}

async fn run(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job)): Path<(String, String)>,
) -> Response {
    let back = page::job_path(&pipeline, &job);
    if let Some(refused) = refused_action(&app, &headers, &back) {
        return refused;
    }
    match app.service.run_now(&pipeline, &job, None) {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => run_refused(e, &back),
    }
}

#[derive(Deserialize)]
struct ApplyForm {
    /// One change; all of them without it.
    key: Option<String>,
}

async fn apply(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job)): Path<(String, String)>,
    Form(form): Form<ApplyForm>,
) -> Response {
    let back = page::job_path(&pipeline, &job);
    if let Some(refused) = refused_action(&app, &headers, &back) {
        return refused;
    }
    let keys = form.key.into_iter().collect();
    match app.service.apply_pending(&pipeline, &job, keys).await {
        Ok(report) => html(
            StatusCode::OK,
            page::applied(&pipeline, &job, &report, true),
        ),
        Err(ApplyRefused::Run(e)) => run_refused(e, &back),
        Err(e) => html(
            StatusCode::CONFLICT,
            page::message("Not applied", &e.to_string(), &back, true),
        ),
    }
}

async fn replay(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job, id)): Path<(String, String, u64)>,
) -> Response {
    let back = page::job_path(&pipeline, &job);
    if let Some(refused) = refused_action(&app, &headers, &back) {
        return refused;
    }
    replayed(app.service.replay(&pipeline, &job, id, None), &back)
}

async fn edit(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job, id)): Path<(String, String, u64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let back = page::job_path(&pipeline, &job);
    if let Some(refused) = refused_action(&app, &headers, &back) {
        return refused;
    }
    replayed(app.service.replay(&pipeline, &job, id, Some(fields)), &back)
}

async fn drop_entry(
    State(app): State<App>,
    headers: HeaderMap,
    Path((pipeline, job, id)): Path<(String, String, u64)>,
) -> Response {
    let back = page::job_path(&pipeline, &job);
    if let Some(refused) = refused_action(&app, &headers, &back) {
        return refused;
    }
    replayed(app.service.drop_quarantined(&pipeline, id), &back)
}

fn replayed(result: Result<(), ReplayRefused>, back: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(back).into_response(),
        Err(ReplayRefused::Run(e)) => run_refused(e, back),
        Err(e) => html(
            StatusCode::CONFLICT,
            page::message("Not done", &e.to_string(), back, true),
        ),
    }
}

fn run_refused(e: RunRefused, back: &str) -> Response {
    html(
        refused_status(&e),
        page::message("Not done", &e.to_string(), back, true),
    )
}
