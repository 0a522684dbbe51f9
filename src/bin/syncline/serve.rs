//! `syncline serve`: the service until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use syncline::serve::{ServeOptions, serve};
use tokio::sync::watch;

use crate::exit::{CliError, Exit};
use crate::run::load_secrets;

/// What `serve` was given.
pub struct Serve<'a> {
    pub paths: Vec<PathBuf>,
    pub listen: SocketAddr,
    pub state: Option<PathBuf>,
    pub secrets: Option<&'a Path>,
    pub token_file: Option<&'a Path>,
    pub concurrency: usize,
}

pub fn run(args: Serve) -> Result<Exit, CliError> {
    let secrets = Arc::new(load_secrets(args.secrets)?);
    let token = args.token_file.map(read_token).transpose()?;
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
            paths: args.paths,
            listen: args.listen,
            state_dir: args.state,
            secrets,
            token,
            concurrency: args.concurrency,
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
