//! The requests of a `fetch` step: one per record (or per item), the answer's part kept.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::client::{HttpClient, ReadFailure};
use super::request::RequestPlan;
use crate::record::Record;
use crate::record::path::CompiledPath;
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
            .map_err(|e| FetchFailure::Record(e.to_string()))?;
        let answer = self
            .client
            .read_for_record(&call)
            .map_err(|failure| match failure {
                ReadFailure::Record { at, reason } => {
                    FetchFailure::Record(format!("{at}: {reason}"))
                }
                ReadFailure::Api(reason) => FetchFailure::Stop(reason),
            })?;
        Ok(match &self.records {
            Some(path) => path.value(&answer).map(Cow::into_owned),
            None => Some(answer),
        })
    }
}
