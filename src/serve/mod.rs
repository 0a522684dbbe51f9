//! `syncline serve`: every pipeline under some paths, each job on its schedule, runs by hand
//! through a JSON API, until SIGTERM; alerts to people when a job needs them.

pub mod alerts;
pub mod api;
pub mod app;
pub mod deployment;
pub mod metrics;
pub mod page;
pub mod scheduler;
pub mod service;
pub mod timetable;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::secrets::Secrets;
use deployment::Deployments;
use service::Service;

pub struct ServeOptions {
    pub paths: Vec<PathBuf>,
    pub listen: SocketAddr,
    /// `--state`: one folder for every pipeline's state; by default each repository's own.
    pub state_dir: Option<PathBuf>,
    pub secrets: Arc<Secrets>,
    /// The bearer token that changes need (and reads, bound beyond loopback).
    pub token: Option<String>,
    /// Runs at once, all pipelines together.
    pub concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "{0} is reachable beyond this machine: give --token-file, so that the page and the API are not open to anyone"
    )]
    OpenToAll(SocketAddr),
    #[error("no pipeline can run: fix the problems above")]
    NothingToRun,
    #[error("the HTTP server stopped: {0}")]
    Http(std::io::Error),
}

/// Serves until `stop` turns true, then lets the runs under way finish their current window.
pub async fn serve(options: ServeOptions, stop: watch::Receiver<bool>) -> Result<(), ServeError> {
    let private = !options.listen.ip().is_loopback();
    if private && options.token.is_none() {
        return Err(ServeError::OpenToAll(options.listen));
    }
    let mut deployments = Deployments::new(options.paths, options.state_dir, options.secrets);
    let running = deployments.refresh(chrono::Utc::now());
    if running == 0 && deployments.problems().next().is_some() {
        return Err(ServeError::NothingToRun);
    }
    let service = Service::new(deployments, options.concurrency);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let access = app::Access {
        token: options.token.map(Into::into),
        private,
    };
    let metrics = metrics::install();
    let local = listener.local_addr().unwrap_or(options.listen);
    tracing::info!(pipelines = running, "listening on http://{local}");
    let mut http_stop = stop.clone();
    let http = axum::serve(listener, api::router(service.clone(), access, metrics))
        .with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|stopped| *stopped).await;
        });
    let http = tokio::spawn(async move { http.await });
    service.run(stop).await;
    match http.await {
        Ok(Ok(())) | Err(_) => Ok(()),
        Ok(Err(e)) => Err(ServeError::Http(e)),
    }
}
