//! The requests of a `fetch` step: one per record (or per item), the answer's part kept.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::{HttpClient, RequestPlan, method_name};
use crate::paths::CompiledPath;
use crate::steps::Record;
use crate::steps::fetch::{FetchFailure, Fetcher};

#[derive(Debug)]
pub struct HttpFetcher {
    pub client: Arc<HttpClient>,
    pub request: RequestPlan,
    /// The part of the answer kept; the whole answer when `None`.
    pub records: Option<CompiledPath>,
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, scope: &Record) -> Result<Option<Value>, FetchFailure> {
        let call = self
            .request
            .render(scope, &|_| None, false)
            .map_err(FetchFailure::Record)?;
        if super::is_link(&call.path) && self.client.relative(&call.path).is_none() {
            return Err(FetchFailure::Record(super::not_followed(&call.path)));
        }
        let at = format!("{} {}", method_name(call.method), call.path);
        let response = self
            .client
            .send(&call)
            .map_err(|e| FetchFailure::Stop(e.to_string()))?;
        if response.status >= 500 || response.status == 429 {
            return Err(FetchFailure::Stop(format!(
                "{at}: HTTP {}: {}",
                response.status,
                response.excerpt()
            )));
        }
        if !response.is_success() {
            return Err(FetchFailure::Record(format!(
                "{at}: HTTP {}: {}",
                response.status,
                response.excerpt()
            )));
        }
        let answer = response
            .document()
            .map_err(|e| FetchFailure::Record(format!("{at}: {e}")))?;
        Ok(match &self.records {
            Some(path) => path.value(&answer).map(Cow::into_owned),
            None => Some(answer),
        })
    }
}
