//! `syncline serve`: the service until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use syncline::serve::{ServeOptions, serve};
use tokio::sync::watch;

use crate::exit::{CliError, Exit};
use crate::run::load_secrets;

pub fn run(
    paths: Vec<PathBuf>,
    listen: SocketAddr,
    state: Option<PathBuf>,
    secrets: Option<&Path>,
    token_file: Option<&Path>,
) -> Result<Exit, CliError> {
    let secrets = Arc::new(load_secrets(secrets)?);
    let token = token_file.map(read_token).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            stopped().await;
            tracing::info!("stopping: runs under way finish their current window (signal again to stop at once)");
            let _ = stop_tx.send(true);
            stopped().await;
            Exit::Interrupted.now();
        });
        let options = ServeOptions {
            paths,
            listen,
            state_dir: state,
            secrets,
            token,
        };
        serve(options, stop).await.map_err(CliError::Serve)
    })?;
    Ok(Exit::Success)
}

/// SIGTERM (a service manager stopping it) or Ctrl-C.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The token's file holds the token alone (a trailing newline is not part of it).
fn read_token(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim().to_string();
    if token.len() < 16 {
        return Err(CliError::WeakToken(path.to_path_buf()));
    }
    syncline::config::secrets::protect(&token);
    Ok(token)
}
