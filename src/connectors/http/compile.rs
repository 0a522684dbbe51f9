//! An API connection's parts of a plan: its sources, targets and `fetch` steps, sharing one
//! client per connection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::client::ClientError;
use super::fetch::HttpFetcher;
use super::paging::Paging;
use super::request::TemplateError;
use super::source::{DEFAULT_MAX_PAGES, HttpSourcePlan};
use super::target::{BatchPlan, HttpTargetPlan, ReadPlan, Unsent};
use super::{HttpClient, RequestPlan};
use crate::config::model::{self, Connection, Pipeline};
use crate::config::secrets::Secrets;
use crate::record::path::CompiledPath;

/// Why an API connection's source, target or `fetch` step cannot be compiled; the plan adds
/// the job and the place in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("`{0}` is not an http connection")]
    NotHttp(String),
    #[error("connection `{name}`: {source}")]
    Client { name: String, source: ClientError },
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A path (`records`, `id`, a paging field...) that does not compile.
    #[error("{0}")]
    Path(String),
    #[error("resolve rule `{rule}`: {source}")]
    ResolveRule {
        rule: String,
        source: Box<CompileError>,
    },
}

/// A path of the pipeline, compiled.
fn path(p: impl AsRef<str>) -> Result<CompiledPath, CompileError> {
    CompiledPath::compile(p).map_err(CompileError::Path)
}

/// A path the pipeline may leave out, compiled when it is there.
fn optional_path<P: AsRef<str>>(p: &Option<P>) -> Result<Option<CompiledPath>, CompileError> {
    p.as_ref().map(path).transpose()
}

/// One client per connection, shared by its sources and targets (and so its rate limit).
pub struct HttpClients {
    /// The pipeline file's folder, which a connection's files are relative to.
    base_dir: PathBuf,
    made: HashMap<String, Arc<HttpClient>>,
}

impl HttpClients {
    pub fn new(base_dir: PathBuf) -> Self {
        HttpClients {
            base_dir,
            made: HashMap::new(),
        }
    }

    pub fn get(
        &mut self,
        name: &str,
        pipeline: &Pipeline,
        secrets: &Secrets,
    ) -> Result<Arc<HttpClient>, CompileError> {
        if let Some(client) = self.made.get(name) {
            return Ok(client.clone());
        }
        let connection = http_connection(name, pipeline)?;
        let client = Arc::new(
            HttpClient::new(name, connection, secrets, &self.base_dir).map_err(|source| {
                CompileError::Client {
                    name: name.to_string(),
                    source,
                }
            })?,
        );
        self.made.insert(name.to_string(), client.clone());
        Ok(client)
    }
}

pub fn http_connection<'p>(
    name: &str,
    pipeline: &'p Pipeline,
) -> Result<&'p model::HttpConnection, CompileError> {
    match pipeline.connections.get(name) {
        Some(Connection::Http(connection)) => Ok(connection),
        _ => Err(CompileError::NotHttp(name.to_string())),
    }
}

pub fn source_plan(
    http: &model::HttpSource,
    pipeline: &Pipeline,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<HttpSourcePlan, CompileError> {
    use model::Paginate;
    let connection = http_connection(&http.connection, pipeline)?;
    let request = RequestPlan::compile(&http.request(), connection)?;
    let paging = match &http.paginate {
        None => Paging::None,
        Some(Paginate::PageNumber {
            param,
            start,
            size,
            total_pages_header,
            total_pages,
            ..
        }) => Paging::PageNumber {
            param: param.clone(),
            start: start.unwrap_or(1),
            size: size.iter().next().map(|(k, v)| (k.clone(), *v)),
            total_pages_header: total_pages_header.clone(),
            total_pages: optional_path(total_pages)?,
        },
        Some(Paginate::Offset {
            offset_param,
            limit_param,
            limit,
            ..
        }) => Paging::Offset {
            offset_param: offset_param.clone(),
            limit_param: limit_param.clone(),
            limit: (*limit).max(1),
        },
        Some(Paginate::OffsetCount { param, count, .. }) => Paging::OffsetCount {
            param: param.clone(),
            count: (*count).max(1),
        },
        Some(Paginate::Cursor {
            from,
            param,
            has_more,
            ..
        }) => Paging::Cursor {
            from: path(from)?,
            param: param.clone(),
            has_more: optional_path(has_more)?,
        },
        Some(Paginate::NextUrl { from, .. }) => Paging::NextUrl { from: path(from)? },
        Some(Paginate::LinkHeader { .. }) => Paging::LinkHeader,
    };
    let max_pages = http.paginate.as_ref().and_then(Paginate::max_pages);
    Ok(HttpSourcePlan {
        client: clients.get(&http.connection, pipeline, secrets)?,
        request,
        records: optional_path(&http.records)?,
        paging,
        max_pages: max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
        prefetch: http.prefetch,
        projection: None,
        detail: http
            .detail
            .as_ref()
            .map(|detail| -> Result<_, CompileError> {
                Ok((
                    RequestPlan::compile(&detail.request, connection)?,
                    optional_path(&detail.record)?,
                ))
            })
            .transpose()?,
    })
}

/// The plan of an API target, and how many writes it sends at once (the connection's
/// `concurrency`).
pub fn target_plan(
    http: &model::HttpTarget,
    pipeline: &Pipeline,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<(HttpTargetPlan, usize), CompileError> {
    let client = clients.get(&http.connection, pipeline, secrets)?;
    let connection = http_connection(&http.connection, pipeline)?;
    let request = |r: &Option<model::Request>| {
        r.as_ref()
            .map(|r| RequestPlan::compile(r, connection))
            .transpose()
    };
    let requests = |list: &[model::Request]| {
        list.iter()
            .map(|r| RequestPlan::compile(r, connection))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut lookups = Vec::new();
    for rule in &http.resolve {
        let at = |e: CompileError| CompileError::ResolveRule {
            rule: rule.name.clone(),
            source: Box::new(e),
        };
        lookups.push((
            RequestPlan::compile(&rule.request, connection).map_err(|e| at(e.into()))?,
            path(&rule.ids).map_err(at)?,
        ));
    }
    let plan = HttpTargetPlan {
        client,
        create: request(&http.create)?,
        lines: http
            .lines
            .as_ref()
            .map(|lines| -> Result<_, CompileError> {
                Ok((
                    path(&lines.each)?,
                    RequestPlan::compile(&lines.request, connection)?,
                ))
            })
            .transpose()?,
        after_create: requests(&http.after_create)?,
        rollback: requests(&http.rollback)?,
        update: request(&http.update)?,
        id: optional_path(&http.id)?,
        lookups,
        read_before_update: http
            .read_before_update
            .as_ref()
            .map(|read| -> Result<ReadPlan, CompileError> {
                Ok(ReadPlan {
                    request: RequestPlan::compile(&read.request, connection)?,
                    record: path(&read.record)?,
                    drop: read.drop.clone(),
                })
            })
            .transpose()?,
        delete: request(&http.delete)?,
        upsert: http.upsert,
        unsent: Unsent {
            create_only: http.create_only.clone(),
            languages: http.languages.clone(),
            control_fields: control_fields(http)?,
            skip_fields: http
                .skip_fields
                .iter()
                .map(|(field, p)| path(p).map(|p| (field.clone(), p)))
                .collect::<Result<_, _>>()?,
        },
        batch: http
            .batch
            .as_ref()
            .map(|batch| -> Result<BatchPlan, CompileError> {
                let name = |n: &Option<String>, default: &str| {
                    n.clone().unwrap_or_else(|| default.to_string())
                };
                Ok(BatchPlan {
                    request: RequestPlan::compile(&batch.request, connection)?,
                    size: batch.size.map_or(100, |s| s.max(1) as usize),
                    create: name(&batch.create, "create"),
                    update: name(&batch.update, "update"),
                    delete: name(&batch.delete, "delete"),
                    id_field: name(&batch.id_field, "id"),
                    results: optional_path(&batch.results)?,
                    error: match &batch.error {
                        Some(error) => path(error)?,
                        None => {
                            path(model::JsonPath::parse("$.error").map_err(CompileError::Path)?)?
                        }
                    },
                })
            })
            .transpose()?,
    };
    Ok((plan, super::concurrency(connection)))
}

/// The fields a target never sends: its `not_sent`, and the flags it reads to decide what to
/// send, when they are plain top-level fields.
fn control_fields(http: &model::HttpTarget) -> Result<Vec<String>, CompileError> {
    let paths = http
        .skip
        .iter()
        .chain(&http.delete_when)
        .chain(http.skip_fields.values());
    let mut fields = http.not_sent.clone();
    for p in paths {
        if let Some([name]) = path(p)?.field_names().as_deref() {
            fields.push(name.to_string());
        }
    }
    Ok(fields)
}

/// The requests of a `fetch` step.
pub fn fetcher(
    fetch: &model::Fetch,
    pipeline: &Pipeline,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<HttpFetcher, CompileError> {
    let connection = http_connection(&fetch.connection, pipeline)?;
    Ok(HttpFetcher {
        client: clients.get(&fetch.connection, pipeline, secrets)?,
        request: RequestPlan::compile(&fetch.request, connection)?,
        records: optional_path(&fetch.records)?,
    })
}
