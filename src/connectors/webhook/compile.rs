//! A webhook job's part of the plan: its endpoint (the connection's secret and signature
//! rules, the job's path) and where the records are in a notification.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::source::WebhookSourcePlan;
use super::verify::{Covers, Signer};
use super::{TimestampRule, WebhookEndpoint};
use crate::config::model::{self, Connection, LARGEST_BODY, Pipeline};
use crate::config::secrets::Secrets;
use crate::record::path::CompiledPath;
use crate::state::JobId;

/// A body is accepted up to this size when the connection sets no `max_body`.
pub const DEFAULT_MAX_BODY: u64 = 2 * 1024 * 1024;

/// How far a signed time may be from now when the connection sets no `tolerance`, in seconds.
pub const DEFAULT_TOLERANCE: i64 = 300;

/// Why a webhook source cannot be compiled (`validate` reports each of these where it is
/// written; the plan adds the job).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("`{0}` is not a webhook connection")]
    NotWebhook(String),
    #[error("connection `{name}`: {reason}")]
    Connection { name: String, reason: String },
    #[error("{0}")]
    Path(String),
}

/// The source of the webhook job `job`.
pub fn source_plan(
    source: &model::WebhookSource,
    job: JobId,
    pipeline: &Pipeline,
    secrets: &Secrets,
) -> Result<WebhookSourcePlan, CompileError> {
    let endpoint = endpoint(source, job, pipeline, secrets)?;
    Ok(WebhookSourcePlan {
        endpoint: Arc::new(endpoint),
        records: source
            .records
            .as_ref()
            .map(CompiledPath::compile)
            .transpose()
            .map_err(CompileError::Path)?,
    })
}

fn endpoint(
    source: &model::WebhookSource,
    job: JobId,
    pipeline: &Pipeline,
    secrets: &Secrets,
) -> Result<WebhookEndpoint, CompileError> {
    let name = &source.connection;
    let Some(Connection::Webhook(connection)) = pipeline.connections.get(name) else {
        return Err(CompileError::NotWebhook(name.clone()));
    };
    let problem = |reason: String| CompileError::Connection {
        name: name.clone(),
        reason,
    };
    let secret = secrets.resolve(&connection.secret).map_err(problem)?;
    if secret.expose_secret().is_empty() {
        return Err(problem("its secret is empty".to_string()));
    }
    let signature = &connection.signature;
    let covers = match &signature.covers {
        Some(text) => Covers::parse(text).map_err(|e| problem(format!("`covers`: {e}")))?,
        None => Covers::body(),
    };
    let timestamp = connection.timestamp.as_ref().map(|t| TimestampRule {
        header: t.header.clone(),
        tolerance: t.tolerance.map_or(DEFAULT_TOLERANCE, |d| {
            i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX)
        }),
    });
    if covers.has_timestamp() && timestamp.is_none() {
        return Err(problem(
            "`covers` names `{timestamp}` and the connection has no `timestamp`".to_string(),
        ));
    }
    let max_body = connection
        .max_body
        .map_or(DEFAULT_MAX_BODY, |size| size.0)
        .min(LARGEST_BODY);
    Ok(WebhookEndpoint {
        job,
        path: source.path.clone(),
        connection: name.clone(),
        signer: Signer {
            algorithm: signature.algorithm,
            encoding: signature.encoding,
            prefix: signature.prefix.clone().filter(|p| !p.is_empty()),
            covers,
            secret,
        },
        signature_header: signature.header.clone(),
        timestamp,
        delivery_id: connection.delivery_id.clone(),
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
    })
}
