//! Reading records from an HTTP API, page after page.
//!
//! Paging always ends: on an empty page, on a page shorter than the page size, on a page that
//! repeats the one before, on a token or next URL already followed, on `has_more: false`, on the
//! last page a total announces, and at `max_pages` (default [`DEFAULT_MAX_PAGES`]). The reasons
//! that mean the API misbehaves are logged as warnings naming them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::{Call, HttpClient, RequestPlan, Response, method_name};
use crate::connectors::project::ProjectedAt;
use crate::connectors::{ConnectorError, Item, Source};
use crate::record::path::CompiledPath;
use crate::record::text_of;

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

#[derive(Debug)]
pub enum Paging {
    /// One request.
    None,
    PageNumber {
        param: String,
        start: u64,
        size: Option<(String, u64)>,
        total_pages_header: Option<String>,
        total_pages: Option<CompiledPath>,
    },
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
    },
    /// PrestaShop's `limit=OFFSET,COUNT`.
    OffsetCount {
        param: String,
        count: u64,
    },
    Cursor {
        from: CompiledPath,
        param: String,
        has_more: Option<CompiledPath>,
    },
    NextUrl {
        from: CompiledPath,
    },
    LinkHeader,
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
    pub fn open(self: &Arc<Self>, cursor: Option<String>) -> Box<dyn Source> {
        Box::new(HttpSource {
            plan: self.clone(),
            cursor,
        })
    }
}

struct HttpSource {
    plan: Arc<HttpSourcePlan>,
    cursor: Option<String>,
}

/// Where the next page is.
enum Next {
    Params(Vec<(String, String)>),
    /// A path (and query) after the base URL.
    Url(String),
    Stop,
}

impl Source for HttpSource {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let plan = &*self.plan;
        // Pages asked for by number or offset are known before this one is parsed: the next
        // is fetched meanwhile (the API builds it while this side parses). With `prefetch`,
        // whenever this page may not be the last (the guess is dropped when it is); without,
        // only when the API announced how many pages there are, so nothing is asked for twice
        // or in vain.
        let prefetch = (plan.prefetch || announces_pages(&plan.paging))
            && plan.detail.is_none()
            // An RPC page's envelope has a fresh id each time: it would never match.
            && !plan.request.is_rpc()
            && matches!(
                plan.paging,
                Paging::PageNumber { .. } | Paging::Offset { .. } | Paging::OffsetCount { .. }
            );
        if !prefetch {
            return self.read_pages(emit, None);
        }
        let (calls_tx, calls_rx) = channel::<Call>();
        let (answers_tx, answers_rx) = channel::<Result<Response, ConnectorError>>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for call in calls_rx {
                    if answers_tx.send(fetch(plan, &call)).is_err() {
                        return;
                    }
                }
            });
            // Dropping the sender (with `calls_tx`) ends the helper.
            self.read_pages(emit, Some((calls_tx, answers_rx)))
        })
    }
}

/// The helper fetching the next page: calls out, answers back, one at a time.
type Prefetcher = (Sender<Call>, Receiver<Result<Response, ConnectorError>>);

impl HttpSource {
    fn read_pages(
        &self,
        emit: &mut dyn FnMut(Item) -> bool,
        prefetcher: Option<Prefetcher>,
    ) -> Result<(), ConnectorError> {
        let plan = &*self.plan;
        let cursor = self.cursor.clone().unwrap_or_default();
        let first = plan
            .request
            .render(
                &Value::Null,
                &|name| (name == "cursor").then(|| cursor.clone()),
                false,
            )
            .map_err(ConnectorError::Format)?;
        let mut next = first_page(&plan.paging);
        let mut previous_page: Option<u128> = None;
        let mut followed: HashSet<String> = HashSet::new();
        // The call fetched ahead, whose answer is waiting in the prefetcher.
        let mut ahead: Option<Call> = None;
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
            let response = match (&prefetcher, ahead.take()) {
                (Some((_, answers)), Some(fetched)) => {
                    let answer = answers.recv().map_err(|_| {
                        ConnectorError::Format("the page fetcher stopped".to_string())
                    })?;
                    if same_call(&fetched, &call) {
                        answer?
                    } else {
                        fetch(plan, &call)?
                    }
                }
                _ => fetch(plan, &call)?,
            };
            let known = announced_pages(&plan.paging, &response, &Value::Null).or(pages);
            if let Some((calls, _)) = &prefetcher
                && page < plan.max_pages
                && let Some(guess) = ahead_of_parsing(plan, page, &response, known, &followed)
            {
                let guess = with_params(&first, &guess);
                if calls.send(guess.clone()).is_ok() {
                    ahead = Some(guess);
                }
            }
            let body = parse(plan, &response, &call)?;
            pages = announced_pages(&plan.paging, &response, &body).or(pages);
            let fingerprint = crate::state::Fingerprint::of(&response.body).0;
            if let Some(path) = &plan.records
                && let Some(missing) = super::missing_field(path, &body)
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
                    Some((request, path)) => detail(plan, request, path.as_ref(), &record)?,
                    None => vec![Item::Record(record)],
                };
                for item in items {
                    if !emit(item) {
                        return Ok(());
                    }
                }
            }
            next = next_page(plan, count, page, &response, &body, &mut followed);
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

/// Whether the API says how many pages there are (a header, or a field of each page).
fn announces_pages(paging: &Paging) -> bool {
    matches!(paging, Paging::PageNumber { total_pages_header, total_pages, .. }
        if total_pages_header.is_some() || total_pages.is_some())
}

/// The number of pages the API announces in this answer's header or `body`.
fn announced_pages(paging: &Paging, response: &Response, body: &Value) -> Option<u64> {
    let Paging::PageNumber {
        total_pages_header,
        total_pages,
        ..
    } = paging
    else {
        return None;
    };
    total_pages_header
        .as_deref()
        .and_then(|h| response.header(h))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| {
            total_pages
                .as_ref()
                .and_then(|p| p.get(body))
                .and_then(|v| text_of(v)?.parse().ok())
        })
}

/// The parameters of the page after `page` when the API announced that there are `known`
/// pages and this is not the last.
fn announced_next(paging: &Paging, page: u64, known: Option<u64>) -> Option<Vec<(String, String)>> {
    match paging {
        Paging::PageNumber {
            param, start, size, ..
        } if known.is_some_and(|pages| page < pages) => {
            Some(page_params(param, start + page, size))
        }
        _ => None,
    }
}

/// The next page's parameters, from what is known before this page is parsed: the page after
/// this one when the API announced it (`known` pages), else with `prefetch` a guess that this
/// page is full.
fn ahead_of_parsing(
    plan: &HttpSourcePlan,
    page: u64,
    response: &Response,
    known: Option<u64>,
    followed: &HashSet<String>,
) -> Option<Vec<(String, String)>> {
    if let Some(params) = announced_next(&plan.paging, page, known) {
        return Some(params);
    }
    if !plan.prefetch {
        return None;
    }
    let full = match &plan.paging {
        Paging::PageNumber { size, .. } => size.as_ref().map_or(u64::MAX, |(_, s)| *s),
        Paging::Offset { limit, .. } => *limit,
        Paging::OffsetCount { count, .. } => *count,
        _ => return None,
    };
    match next_page(
        plan,
        full,
        page,
        response,
        &Value::Null,
        &mut followed.clone(),
    ) {
        Next::Params(params) => Some(params),
        _ => None,
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
    plan: &HttpSourcePlan,
    request: &RequestPlan,
    path: Option<&CompiledPath>,
    listed: &Value,
) -> Result<Vec<Item>, ConnectorError> {
    let call = match request.render(listed, &|_| None, false) {
        Ok(call) => call,
        Err(reason) => {
            return Ok(vec![Item::Bad {
                at: "detail".into(),
                reason,
            }]);
        }
    };
    let at = format!("{} {}", method_name(call.method), call.path);
    let body = match super::read_for_record(&plan.client, &call) {
        Ok(body) => body,
        // Named by its request: each record's own quarantine entry.
        Err(super::ReadFailure::Record { at, reason }) => {
            return Ok(vec![Item::Bad { at, reason }]);
        }
        Err(super::ReadFailure::Api(reason)) => return Err(ConnectorError::Format(reason)),
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

fn first_page(paging: &Paging) -> Next {
    match paging {
        Paging::None | Paging::Cursor { .. } | Paging::NextUrl { .. } | Paging::LinkHeader => {
            Next::Params(Vec::new())
        }
        Paging::PageNumber {
            param, start, size, ..
        } => Next::Params(page_params(param, *start, size)),
        Paging::Offset {
            offset_param,
            limit_param,
            limit,
        } => Next::Params(vec![
            (offset_param.clone(), "0".into()),
            (limit_param.clone(), limit.to_string()),
        ]),
        Paging::OffsetCount { param, count } => {
            Next::Params(vec![(param.clone(), format!("0,{count}"))])
        }
    }
}

fn page_params(param: &str, page: u64, size: &Option<(String, u64)>) -> Vec<(String, String)> {
    let mut params = vec![(param.to_string(), page.to_string())];
    if let Some((name, value)) = size {
        params.push((name.clone(), value.to_string()));
    }
    params
}

/// The request of the first page with `params` set (replacing parameters of the same name).
fn with_params(first: &Call, params: &[(String, String)]) -> Call {
    if first.rpc.is_some() {
        // A JSON-RPC call is paged inside its params.
        let mut body = first.body.clone().unwrap_or_default();
        for (name, value) in params {
            if let Some(paged) = super::rpc::with_param(&body, name, value) {
                body = paged;
            }
        }
        return Call {
            body: Some(body),
            ..first.clone()
        };
    }
    let mut query: Vec<(String, String)> = first
        .query
        .iter()
        .filter(|(name, _)| !params.iter().any(|(p, _)| p == name))
        .cloned()
        .collect();
    query.extend(params.iter().cloned());
    Call {
        query,
        ..first.clone()
    }
}

fn fetch(plan: &HttpSourcePlan, call: &Call) -> Result<Response, ConnectorError> {
    let response = plan
        .client
        .send(call)
        .map_err(|e| ConnectorError::Format(e.to_string()))?;
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
            .map_err(|e| format!("the response is not JSON: {e}"))
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
    super::shorten(&said.map_or_else(|| body.to_string(), super::rpc::describe))
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

fn next_page(
    plan: &HttpSourcePlan,
    count: u64,
    page: u64,
    response: &Response,
    body: &Value,
    followed: &mut HashSet<String>,
) -> Next {
    if count == 0 {
        return Next::Stop;
    }
    match &plan.paging {
        Paging::None => Next::Stop,
        Paging::PageNumber {
            param, start, size, ..
        } => {
            if size.as_ref().is_some_and(|(_, s)| count < *s) {
                return Next::Stop;
            }
            let announced = announced_pages(&plan.paging, response, body);
            let number = start + page;
            if announced.is_some_and(|total| number > total + start - 1) {
                return Next::Stop;
            }
            Next::Params(page_params(param, number, size))
        }
        Paging::Offset {
            offset_param,
            limit_param,
            limit,
        } => {
            if count < *limit {
                return Next::Stop;
            }
            Next::Params(vec![
                (offset_param.clone(), (page * limit).to_string()),
                (limit_param.clone(), limit.to_string()),
            ])
        }
        Paging::OffsetCount { param, count: size } => {
            if count < *size {
                return Next::Stop;
            }
            Next::Params(vec![(param.clone(), format!("{},{size}", page * size))])
        }
        Paging::Cursor {
            from,
            param,
            has_more,
        } => {
            if has_more
                .as_ref()
                .and_then(|p| p.get(body))
                .is_some_and(|v| v == &Value::Bool(false))
            {
                return Next::Stop;
            }
            match from.get(body).and_then(text_of).filter(|t| !t.is_empty()) {
                Some(token) if first_time(followed, "token", &token) => {
                    Next::Params(vec![(param.clone(), token)])
                }
                _ => Next::Stop,
            }
        }
        Paging::NextUrl { from } => match from.get(body).and_then(text_of) {
            Some(url) => follow(plan, &url, followed),
            None => Next::Stop,
        },
        Paging::LinkHeader => match response.header("link").and_then(next_link) {
            Some(url) => follow(plan, &url, followed),
            None => Next::Stop,
        },
    }
}

/// Whether `token` (a cursor token or a next URL) was not followed before; page numbers and
/// offsets always grow, tokens and URLs may loop.
fn first_time(followed: &mut HashSet<String>, what: &str, token: &str) -> bool {
    let new = followed.insert(token.to_string());
    if !new {
        tracing::warn!("paging stopped: the API gave the same {what} twice");
    }
    new
}

/// A next URL is followed only on the connection's own base URL: the credentials go nowhere
/// else.
fn follow(plan: &HttpSourcePlan, url: &str, followed: &mut HashSet<String>) -> Next {
    let Some(rest) = plan.client.relative(url) else {
        tracing::warn!("paging stopped: the next page is not under the connection's base URL");
        return Next::Stop;
    };
    if first_time(followed, "next URL", &rest) {
        Next::Url(rest)
    } else {
        Next::Stop
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_their_next_url() {
        let header = r#"<https://shop/wp-json/wc/v3/products?page=3>; rel="next", <https://shop/wp-json/wc/v3/products?page=1>; rel="prev""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://shop/wp-json/wc/v3/products?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn the_page_after_an_announced_one_is_known_before_parsing() {
        let paging = Paging::PageNumber {
            param: "page".into(),
            start: 1,
            size: Some(("per_page".into(), 100)),
            total_pages_header: Some("X-WP-TotalPages".into()),
            total_pages: None,
        };
        let page_two = vec![
            ("page".to_string(), "2".to_string()),
            ("per_page".to_string(), "100".to_string()),
        ];
        assert_eq!(announced_next(&paging, 1, Some(3)), Some(page_two));
        assert_eq!(announced_next(&paging, 3, Some(3)), None, "the last page");
        assert_eq!(announced_next(&paging, 1, None), None, "nothing announced");
        let offsets = Paging::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 100,
        };
        assert_eq!(announced_next(&offsets, 1, Some(3)), None);
    }

    #[test]
    fn records_are_lists_keyed_objects_or_nothing() {
        let path =
            CompiledPath::compile(&crate::config::model::JsonPath::parse("$.orders").unwrap())
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
