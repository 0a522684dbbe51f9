//! Reading records from an HTTP API, page after page (see [`super::paging`]).
//!
//! Besides the ends paging knows, reading stops on a page that repeats the one before and at
//! `max_pages` (default [`DEFAULT_MAX_PAGES`]), with a warning naming the reason.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::client::{HttpClient, ReadFailure, Sending};
use super::paging::{Followed, Next, Paging, with_params};
use super::request::RequestPlan;
use super::rpc;
use super::wire::{
    AnswerError, Call, Response, TransportError, method_name, missing_field, shorten,
};
use crate::connectors::project::ProjectedAt;
use crate::connectors::{ConnectorError, Item, Source};
use crate::record::path::CompiledPath;

/// Pages read at most when `max_pages` is not set.
pub const DEFAULT_MAX_PAGES: u64 = 100_000;

#[derive(Debug)]
pub struct HttpSourcePlan {
    pub client: Arc<HttpClient>,
    pub request: RequestPlan,
    /// Where the records are in a response; the whole body when `None`.
    pub records: Option<CompiledPath>,
    pub paging: Paging,
    pub max_pages: u64,
    /// Each listed record read again (parent -> child).
    pub detail: Option<(RequestPlan, Option<CompiledPath>)>,
    /// Fetch the next page while this one is parsed.
    pub prefetch: bool,
    /// Set by [`HttpSourcePlan::project`]: where the records are and the only fields of each
    /// that the job reads; every field is kept when `None`.
    pub projection: Option<Projection>,
}

/// The records' path as field names from the top, and the fields the job reads of each.
#[derive(Debug)]
pub struct Projection {
    path: Vec<String>,
    fields: Arc<Vec<String>>,
}

impl HttpSourcePlan {
    /// Keeps only `fields` of each record while JSON pages are parsed (see
    /// `connectors::project`), when the records are at a path of field names. A detail
    /// request is rendered from the listed record: with one, every field stays.
    pub fn project(&mut self, fields: Arc<Vec<String>>) {
        let path = match &self.records {
            None => Some(Vec::new()),
            Some(records) => records
                .field_names()
                .map(|names| names.into_iter().map(str::to_string).collect()),
        };
        if let (Some(path), None) = (path, &self.detail) {
            self.projection = Some(Projection { path, fields });
        }
    }

    /// A source that reads from the start, `{cursor}` standing for `cursor` (the saved
    /// checkpoint, or the cursor's `initial`).
    /// Its requests run on the runtime of the calling thread, a job's (see
    /// [`HttpClient::on_this_runtime`]).
    pub fn open(self: &Arc<Self>, cursor: Option<String>) -> Box<dyn Source> {
        Box::new(HttpSource {
            plan: self.clone(),
            client: self.client.on_this_runtime(),
            cursor,
        })
    }
}

struct HttpSource {
    plan: Arc<HttpSourcePlan>,
    client: HttpClient,
    cursor: Option<String>,
}

impl Source for HttpSource {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let plan = &*self.plan;
        // Pages asked for by number or offset are known before this one is parsed: the next
        // is fetched meanwhile (the API builds it while this side parses). With `prefetch`,
        // whenever this page may not be the last (the guess is dropped when it is); without,
        // only when the API announced how many pages there are, so nothing is asked for twice
        // or in vain.
        let prefetch = (plan.prefetch || plan.paging.announces_pages())
            && plan.detail.is_none()
            // An RPC page's envelope has a fresh id each time: it would never match.
            && !plan.request.is_rpc()
            && plan.paging.is_predictable();
        let cursor = self.cursor.clone().unwrap_or_default();
        let first = plan
            .request
            .render(
                &Value::Null,
                &|name| (name == "cursor").then(|| cursor.clone()),
                false,
            )
            .map_err(|e| ConnectorError::Format(e.to_string()))?;
        let client = &self.client;
        let mut next = plan.paging.first();
        let mut previous_page: Option<u128> = None;
        let mut followed = Followed::new();
        // The page asked for ahead, on its way.
        let mut ahead: Option<(Call, Sending)> = None;
        // How many pages the API said there are, the last time it said.
        let mut pages: Option<u64> = None;
        for page in 1.. {
            let call = match &next {
                Next::Params(params) => with_params(&first, params),
                Next::Url(url) => Call {
                    path: url.clone(),
                    query: Vec::new(),
                    ..first.clone()
                },
                Next::Stop => return Ok(()),
            };
            let response = match ahead.take() {
                Some((fetched, sending)) if same_call(&fetched, &call) => {
                    succeeded(&call, sending.wait())?
                }
                _ => succeeded(&call, client.send(&call))?,
            };
            let known = plan
                .paging
                .announced_pages(&response, &Value::Null)
                .or(pages);
            if prefetch
                && page < plan.max_pages
                && let Some(guess) =
                    plan.paging
                        .ahead_of_parsing(plan.prefetch, page, &response, known)
            {
                let guess = with_params(&first, &guess);
                let sending = client.send_ahead(&guess);
                ahead = Some((guess, sending));
            }
            let body = parse(plan, &response, &call)?;
            pages = plan.paging.announced_pages(&response, &body).or(pages);
            let fingerprint = xxhash_rust::xxh3::xxh3_128(&response.body);
            if let Some(path) = &plan.records
                && let Some(missing) = missing_field(path, &body)
            {
                return Err(ConnectorError::Format(format!(
                    "{} {}: the answer has no `{missing}`, where `records` says the records are: {}",
                    method_name(call.method),
                    call.path,
                    what_it_says(&body)
                )));
            }
            let (records, body) = take_records(plan.records.as_ref(), body);
            if previous_page == Some(fingerprint) && !records.is_empty() {
                tracing::warn!(
                    path = %call.path,
                    page,
                    "paging stopped: the API returned the same page twice"
                );
                return Ok(());
            }
            previous_page = Some(fingerprint);
            let count = records.len() as u64;
            for record in records {
                let items = match &plan.detail {
                    Some((request, path)) => detail(client, request, path.as_ref(), &record)?,
                    None => vec![Item::Record(record)],
                };
                for item in items {
                    if !emit(item) {
                        return Ok(());
                    }
                }
            }
            next = plan
                .paging
                .next(client, count, page, &response, &body, &mut followed);
            if !matches!(next, Next::Stop) && page >= plan.max_pages {
                tracing::warn!(
                    path = %call.path,
                    "paging stopped after {page} pages: `max_pages` reached"
                );
                return Ok(());
            }
        }
        Ok(())
    }
}

fn same_call(a: &Call, b: &Call) -> bool {
    a.path == b.path && a.query == b.query && a.body == b.body
}

/// The listed record read again: the record at `record`, or each of them when it finds a list
/// (`$.lines` or `$[*]`: a detail may answer several). An answer that is not a success or has
/// no record is this record's problem (quarantined, the rest goes on); an API that stopped
/// answering stops the job.
fn detail(
    client: &HttpClient,
    request: &RequestPlan,
    path: Option<&CompiledPath>,
    listed: &Value,
) -> Result<Vec<Item>, ConnectorError> {
    let call = match request.render(listed, &|_| None, false) {
        Ok(call) => call,
        Err(e) => {
            return Ok(vec![Item::Bad {
                at: "detail".into(),
                reason: e.to_string(),
            }]);
        }
    };
    let at = format!("{} {}", method_name(call.method), call.path);
    let body = match client.read_for_record(&call) {
        Ok(body) => body,
        // Named by its request: each record's own quarantine entry.
        Err(ReadFailure::Record { at, reason }) => {
            return Ok(vec![Item::Bad { at, reason }]);
        }
        Err(ReadFailure::Api(reason)) => return Err(ConnectorError::Format(reason)),
    };
    let found = match path {
        Some(path) => path.value(&body).map(Cow::into_owned),
        None => Some(body),
    };
    Ok(match found {
        Some(Value::Array(records)) if !records.is_empty() => {
            records.into_iter().map(Item::Record).collect()
        }
        Some(Value::Array(_) | Value::Null) | None => vec![Item::Bad {
            at,
            reason: "the answer has no record where `record` says".into(),
        }],
        Some(record) => vec![Item::Record(record)],
    })
}

/// The answer to a page's `call`, which must be a success.
fn succeeded(
    call: &Call,
    outcome: Result<Response, TransportError>,
) -> Result<Response, ConnectorError> {
    let response = outcome.map_err(|e| ConnectorError::Format(e.to_string()))?;
    if !response.is_success() {
        return Err(ConnectorError::Format(format!(
            "{} {}: HTTP {}: {}",
            method_name(call.method),
            call.path,
            response.status,
            response.excerpt()
        )));
    }
    Ok(response)
}

/// The page as a document; a JSON page's records keep only the fields the job reads, when the
/// plan says (see [`HttpSourcePlan::project`]).
fn parse(plan: &HttpSourcePlan, response: &Response, call: &Call) -> Result<Value, ConnectorError> {
    if response.is_blank() {
        return Ok(Value::Null);
    }
    let document = match &plan.projection {
        Some(projection) if !response.is_xml() => {
            let mut json = serde_json::Deserializer::from_slice(&response.body);
            ProjectedAt {
                path: &projection.path,
                fields: &projection.fields,
            }
            .deserialize(&mut json)
            .and_then(|page| json.end().map(|()| page))
            .map_err(AnswerError::NotJson)
        }
        _ => response.document(),
    };
    document.map_err(|e| {
        ConnectorError::Format(format!("{} {}: {e}", method_name(call.method), call.path))
    })
}

/// What an answer says, for the error that quotes it: its error or message, else its start.
fn what_it_says(body: &Value) -> String {
    let said = ["error", "errors", "message", "detail"]
        .iter()
        .find_map(|name| body.get(name).filter(|v| !v.is_null()));
    shorten(&said.map_or_else(|| body.to_string(), rpc::describe))
}

/// The records of a page, moved out of it when the path is names only (no copy); what is left
/// of the page is returned for the paging fields (next token, totals).
fn take_records(path: Option<&CompiledPath>, mut body: Value) -> (Vec<Value>, Value) {
    let found = match path.map(|p| (p, p.field_names())) {
        None => vec![body.take()],
        Some((_, Some(names))) => {
            let mut at = Some(&mut body);
            for name in &names {
                at = at.and_then(|v| v.get_mut(*name));
            }
            vec![at.map(Value::take).unwrap_or(Value::Null)]
        }
        Some((path, None)) => path.select(&body).into_iter().cloned().collect(),
    };
    let records = found
        .into_iter()
        .flat_map(|value| records_in(value, path.is_some()))
        .collect();
    (records, body)
}

/// The records a found value holds: the elements of a list, the values of an object keyed by
/// id (Gomag), nothing for null (PrestaShop answers `[]` for an empty list, found as a list);
/// under a `records` path, any other value is one record.
fn records_in(value: Value, under_path: bool) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(map) if under_path && map.values().all(Value::is_object) => {
            map.into_iter().map(|(_, v)| v).collect()
        }
        Value::Null => Vec::new(),
        other if under_path => vec![other],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_lists_keyed_objects_or_nothing() {
        let path =
            CompiledPath::compile(crate::config::model::JsonPath::parse("$.orders").unwrap())
                .unwrap();
        let count = |path: Option<&CompiledPath>, body: Value| take_records(path, body).0.len();
        let keyed = serde_json::json!({"orders": {"12": {"id": 12}, "13": {"id": 13}}});
        assert_eq!(count(Some(&path), keyed), 2);
        let list = serde_json::json!({"orders": [{"id": 1}]});
        assert_eq!(count(Some(&path), list), 1);
        assert_eq!(count(Some(&path), serde_json::json!([])), 0);
        assert_eq!(count(None, serde_json::json!([{"a": 1}, {"a": 2}])), 2);
    }
}
