//! A validated pipeline compiled into what the runtime executes: jobs in dependency order, each
//! with its source, its compiled steps and its target. Everything that can be prepared once is
//! prepared here; the runtime never looks at YAML again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::cursor::CursorPlan;
use crate::config::LoadedPipeline;
use crate::config::model::{
    self, Connection, Field, FileFormat, MissingRefs, Normalize, OnMatch, Pipeline, Source, Target,
};
use crate::config::secrets::Secrets;
use crate::connectors::file::{CsvOptions, FileSpec};
use crate::connectors::http::fetch::HttpFetcher;
use crate::connectors::http::paging::Paging;
use crate::connectors::http::source::{DEFAULT_MAX_PAGES, HttpSourcePlan};
use crate::connectors::http::target::{BatchPlan, HttpTargetPlan, ReadPlan, Unsent};
use crate::connectors::http::{HttpClient, RequestPlan};
use crate::diagnostics::source::SourceMap;
use crate::paths::CompiledPath;
use crate::state::Namespace;
use crate::steps::StepPlan;
use crate::steps::convert::Converter;
use crate::steps::fetch::FetchStep;
use crate::steps::filter::FilterStep;
use crate::steps::group::GroupStep;
use crate::steps::lookup::LookupStep;
use crate::steps::map::{MapStep, MappedField, Reference, Template, ValueSource};
use crate::steps::script::{ScriptStep, Scripts};
use crate::steps::split::SplitStep;
use crate::steps::table::TablePlan;

#[derive(Debug)]
pub struct Plan {
    pub name: String,
    /// Jobs in an order where every job comes after the jobs it needs.
    pub jobs: Vec<JobPlan>,
}

#[derive(Debug)]
pub struct JobPlan {
    pub name: String,
    /// Indexes in `Plan::jobs` of the jobs this one needs.
    pub needs: Vec<usize>,
    pub source: SourcePlan,
    pub steps: Vec<StepPlan>,
    pub target: TargetPlan,
    /// Names a record in reports, the quarantine and plans.
    pub key: Option<CompiledPath>,
    /// The same key in the records as read, when the final map copies it from a plain path
    /// (`reference: $.ref`): names records rejected before the map.
    pub source_key: Option<CompiledPath>,
    /// Incremental reads.
    pub cursor: Option<CursorPlan>,
    pub missing_refs: MissingRefs,
}

#[derive(Debug)]
pub enum SourcePlan {
    File(FileSpec),
    Http(Arc<HttpSourcePlan>),
    /// A kind of source the runtime does not read yet: the job fails with this reason.
    Unsupported(String),
}

#[derive(Debug)]
pub enum TargetPlan {
    /// A file, and with `only_changed` the ID-map namespace of what earlier runs wrote to it.
    File(FileSpec, Option<Namespace>),
    /// Records addressed one by one through the ID map.
    Keyed(KeyedPlan),
    Unsupported(String),
}

#[derive(Debug)]
pub struct KeyedPlan {
    pub ns: Namespace,
    pub http: Arc<HttpTargetPlan>,
    pub resolve: Vec<ResolveRule>,
    pub on_match: OnMatch,
    pub skip: Option<CompiledPath>,
    /// Records for which this holds a true value are deleted on the target.
    pub delete_when: Option<CompiledPath>,
    /// Writes in flight at once (the connection's `concurrency`).
    pub concurrency: usize,
}

#[derive(Debug)]
pub struct ResolveRule {
    pub name: String,
    pub value: CompiledPath,
    pub normalize: Option<Normalize>,
    pub country_code: Option<String>,
}

/// What compiling needs besides the pipeline.
pub struct CompileContext<'a> {
    pub sources: &'a SourceMap,
    /// Resolves `${secret.X}` in connections.
    pub secrets: &'a Secrets,
}

/// Why a pipeline could not be compiled (each a sentence naming the job and the place).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// Compiles a pipeline that validated without errors.
pub fn compile(loaded: &LoadedPipeline, context: &CompileContext) -> Result<Plan, PlanError> {
    let sources = context.sources;
    let pipeline = loaded
        .model
        .as_ref()
        .ok_or_else(|| PlanError("the pipeline could not be read".to_string()))?;
    let base_dir = sources
        .get(loaded.file)
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let scripts = Scripts::new(&pipeline.vars).map_err(PlanError)?;
    let tables = tables(pipeline);
    let pipeline_name = pipeline.name.clone().unwrap_or_default();
    let mut clients = HttpClients {
        base_dir: base_dir.clone(),
        made: HashMap::new(),
    };
    let order = job_order(pipeline)?;
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let mut jobs = Vec::with_capacity(order.len());
    for name in &order {
        let job = &pipeline.jobs[name.as_str()];
        let fail = |what: String| PlanError(format!("job `{name}`: {what}"));
        let (source, target) = match (&job.from, &job.to) {
            (Some(s), Some(t)) => (s, t),
            _ => return Err(fail("needs both `from` and `to`".to_string())),
        };
        // `ref` fields name entities on the job's own target connection.
        let refs_ns = |entity: &str| Namespace {
            pipeline: pipeline_name.clone(),
            connection: target.connection().unwrap_or_default().to_string(),
            entity: entity.to_string(),
        };
        let fields = Fields {
            scripts: &scripts,
            tables: &tables,
            refs: &refs_ns,
        };
        let mut steps = Vec::new();
        for (i, step) in job.steps.iter().enumerate() {
            let label = step.id.clone().unwrap_or_else(|| format!("steps[{i}]"));
            let plan = match &step.fetch {
                Some(fetch) => fetch_step(fetch, label, pipeline, context.secrets, &mut clients),
                None => compile_step(step, label, &fields),
            };
            steps.push(plan.map_err(fail)?);
        }
        if !job.map.is_empty() {
            steps.push(StepPlan::Map(
                map_step("map".to_string(), &job.map, &fields).map_err(fail)?,
            ));
        }
        let key = match target {
            Target::File(f) => f.key.as_ref(),
            Target::Http(h) => Some(&h.key),
            Target::Sql(_) => None,
        }
        .map(compile_path)
        .transpose()
        .map_err(fail)?;
        let source_key = key.as_ref().and_then(|k| source_key(k, &steps));
        let cursor = job
            .cursor
            .as_ref()
            .map(|cursor| cursor_plan(cursor, &scripts))
            .transpose()
            .map_err(fail)?;
        let mut source = source_plan(source, pipeline, &base_dir, context.secrets, &mut clients)
            .map_err(fail)?;
        let fields = projection(&steps, cursor.as_ref()).map(Arc::new);
        match (&mut source, fields) {
            (SourcePlan::File(spec), fields) => spec.fields = fields,
            // Just built, so not shared yet.
            (SourcePlan::Http(plan), Some(fields)) => {
                if let Some(plan) = Arc::get_mut(plan) {
                    plan.project(fields);
                }
            }
            _ => {}
        }
        jobs.push(JobPlan {
            name: name.clone(),
            needs: job
                .needs
                .iter()
                .filter_map(|n| position.get(n.as_str()).copied())
                .collect(),
            source,
            steps,
            target: target_plan(
                target,
                pipeline,
                &base_dir,
                &pipeline_name,
                context.secrets,
                &mut clients,
            )
            .map_err(fail)?,
            key,
            source_key,
            cursor,
            missing_refs: job.missing_refs,
        });
    }
    Ok(Plan {
        name: pipeline_name,
        jobs,
    })
}

/// Job names in the file's order, each moved after the jobs it needs (a stable order makes
/// reports read like the file). The loader rejected cycles; this reports one again rather than
/// trusting that.
fn job_order(pipeline: &Pipeline) -> Result<Vec<String>, PlanError> {
    let mut placed: Vec<String> = Vec::with_capacity(pipeline.jobs.len());
    while placed.len() < pipeline.jobs.len() {
        let ready = pipeline.jobs.iter().find(|(name, job)| {
            !placed.contains(name)
                && job
                    .needs
                    .iter()
                    .all(|n| placed.contains(n) || !pipeline.jobs.contains_key(n))
        });
        match ready {
            Some((name, _)) => placed.push(name.clone()),
            None => {
                let stuck = pipeline
                    .jobs
                    .keys()
                    .find(|n| !placed.contains(n))
                    .cloned()
                    .unwrap_or_default();
                return Err(PlanError(format!(
                    "the job `{stuck}` is part of a `needs` cycle"
                )));
            }
        }
    }
    Ok(placed)
}

fn tables(pipeline: &Pipeline) -> HashMap<String, Arc<TablePlan>> {
    pipeline
        .tables
        .iter()
        .map(|(name, table)| {
            let base = table
                .inverse_of
                .as_ref()
                .and_then(|b| pipeline.tables.get(b));
            (name.clone(), Arc::new(TablePlan::build(name, table, base)))
        })
        .collect()
}

fn compile_path<P: AsRef<model::JsonPath>>(path: &P) -> Result<CompiledPath, String> {
    CompiledPath::compile(path.as_ref())
}

fn table<'t>(
    tables: &'t HashMap<String, Arc<TablePlan>>,
    name: &str,
) -> Result<&'t Arc<TablePlan>, String> {
    tables
        .get(name)
        .ok_or_else(|| format!("unknown table `{name}`"))
}

/// What compiling fields needs.
struct Fields<'a> {
    scripts: &'a Arc<Scripts>,
    tables: &'a HashMap<String, Arc<TablePlan>>,
    /// The ID-map namespace of an entity a `ref` field names.
    refs: &'a dyn Fn(&str) -> Namespace,
}

fn compile_step(step: &model::Step, name: String, fields: &Fields) -> Result<StepPlan, String> {
    let (scripts, tables) = (fields.scripts, fields.tables);
    let at = |e: String| format!("step `{name}`: {e}");
    Ok(if let Some(map) = &step.map {
        StepPlan::Map(map_step(name, map, fields)?)
    } else if let Some(filter) = &step.filter {
        StepPlan::Filter(FilterStep::new(name.clone(), filter, scripts).map_err(at)?)
    } else if let Some(lookup) = &step.lookup {
        StepPlan::Lookup(LookupStep {
            table: table(tables, &lookup.table).map_err(at)?.clone(),
            from: compile_path(&lookup.from).map_err(at)?,
            from_text: lookup.from.as_str().to_string(),
            into: lookup.into.clone(),
            unmapped: lookup.unmapped.clone(),
            name,
        })
    } else if let Some(split) = &step.split {
        StepPlan::Split(SplitStep {
            path: compile_path(&split.path).map_err(at)?,
            path_text: split.path.as_str().to_string(),
            item: split.item.clone().unwrap_or_else(|| "line".to_string()),
            name,
        })
    } else if let Some(group) = &step.group {
        StepPlan::Group(GroupStep {
            by: compile_path(&group.by).map_err(at)?,
            into: group.into.clone().unwrap_or_else(|| "lines".to_string()),
            name,
        })
    } else if let Some(script) = &step.script {
        StepPlan::Script(ScriptStep {
            ast: scripts.compile(script).map_err(at)?,
            scripts: scripts.clone(),
            name,
        })
    } else {
        return Err(at("does nothing".to_string()));
    })
}

/// Where a map field whose name is a path (`associations.categories[0].id`) puts its value.
fn nested_place(name: &str) -> Result<Option<CompiledPath>, String> {
    if !name.contains(['.', '[']) {
        return Ok(None);
    }
    let path = model::SingularPath::parse(&format!("$.{name}"))?;
    compile_path(&path).map(Some)
}

/// A `fetch` step: its requests go through the connection's client.
fn fetch_step(
    fetch: &model::Fetch,
    name: String,
    pipeline: &Pipeline,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<StepPlan, String> {
    let at = |e: String| format!("step `{name}`: {e}");
    let connection = http_connection(&fetch.connection, pipeline).map_err(at)?;
    let fetcher = HttpFetcher {
        client: clients
            .get(&fetch.connection, pipeline, secrets)
            .map_err(at)?,
        request: RequestPlan::compile(&fetch.request, connection).map_err(at)?,
        records: fetch
            .records
            .as_ref()
            .map(compile_path)
            .transpose()
            .map_err(at)?,
    };
    Ok(StepPlan::Fetch(FetchStep {
        fetcher: Box::new(fetcher),
        into: fetch.into.clone(),
        each: fetch
            .each
            .as_ref()
            .map(compile_path)
            .transpose()
            .map_err(at)?,
        each_text: fetch.each.as_ref().map(|p| p.as_str().to_string()),
        missing: fetch.missing,
        reason: fetch
            .reason
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(at)?,
        name,
    }))
}

fn map_step(
    name: String,
    map: &IndexMap<String, Field>,
    fields: &Fields,
) -> Result<MapStep, String> {
    let (scripts, tables) = (fields.scripts, fields.tables);
    let mut compiled = Vec::with_capacity(map.len());
    for (field, spec) in map {
        let at = |e: String| format!("field `{field}`: {e}");
        let mapped = match spec {
            Field::Path(path) => MappedField {
                name: field.clone(),
                source: ValueSource::Path {
                    path: compile_path(path).map_err(at)?,
                    text: path.as_str().to_string(),
                },
                table: None,
                converter: None,
                transforms: Vec::new(),
                default: None,
                required: false,
                nested: nested_place(field).map_err(at)?,
                lang: None,
            },
            Field::Constant(value) => MappedField {
                name: field.clone(),
                source: ValueSource::Const(value.clone()),
                table: None,
                converter: None,
                transforms: Vec::new(),
                default: None,
                required: false,
                nested: nested_place(field).map_err(at)?,
                lang: None,
            },
            Field::Spec(spec) => {
                if spec.timezone.is_some() {
                    return Err(at("`timezone` is not supported by the runtime yet: remove it, or convert in a `script`".to_string()));
                }
                let source = if let Some(path) = &spec.path {
                    ValueSource::Path {
                        path: compile_path(path).map_err(at)?,
                        text: path.as_str().to_string(),
                    }
                } else if let Some(value) = &spec.constant {
                    ValueSource::Const(value.clone())
                } else if let Some(expr) = &spec.expr {
                    ValueSource::Expr(
                        scripts.clone(),
                        scripts.compile_expression(expr).map_err(at)?,
                    )
                } else if let Some(template) = &spec.template {
                    ValueSource::Template(Template::parse(template).map_err(at)?)
                } else if let Some(entity) = &spec.reference {
                    let (key, backwards) = match (&spec.key, &spec.from_target_id) {
                        (Some(key), None) => (key, false),
                        (None, Some(id)) => (id, true),
                        _ => {
                            return Err(at("`ref` needs `key` or `from_target_id`".to_string()));
                        }
                    };
                    let mut ns = (fields.refs)(entity);
                    if let Some(connection) = &spec.connection {
                        ns.connection = connection.clone();
                    }
                    ValueSource::Ref(Reference {
                        ns,
                        key: compile_path(key).map_err(at)?,
                        key_text: key.as_str().to_string(),
                        backwards,
                    })
                } else {
                    return Err(at("no value source".to_string()));
                };
                MappedField {
                    name: field.clone(),
                    source,
                    table: spec
                        .table
                        .as_deref()
                        .map(|t| table(tables, t).cloned())
                        .transpose()
                        .map_err(at)?,
                    converter: spec
                        .convert
                        .map(|c| {
                            Converter::new(
                                c,
                                spec.scale,
                                spec.format.as_deref(),
                                spec.input_format.as_deref(),
                            )
                        })
                        .transpose()
                        .map_err(at)?,
                    transforms: spec.transform.clone(),
                    default: spec.default.clone(),
                    required: spec.required,
                    nested: nested_place(field).map_err(at)?,
                    lang: spec.lang.clone(),
                }
            }
        };
        compiled.push(mapped);
    }
    Ok(MapStep {
        name,
        fields: compiled,
    })
}

fn file_dir(
    connection: Option<&str>,
    pipeline: &Pipeline,
    base_dir: &Path,
) -> Result<PathBuf, String> {
    match connection.map(|c| pipeline.connections.get(c)) {
        None => Ok(base_dir.to_path_buf()),
        Some(Some(Connection::File(f))) => Ok(base_dir.join(&f.dir)),
        Some(_) => Err("the connection is not a file connection".to_string()),
    }
}

fn file_spec(
    dir: PathBuf,
    path: &str,
    format: Option<FileFormat>,
    encoding: model::Encoding,
    csv: Option<&model::CsvOptions>,
    records: Option<&model::JsonPath>,
) -> Result<FileSpec, String> {
    let format = format
        .or_else(|| crate::compile::format_from_extension(path))
        .ok_or_else(|| format!("the format of `{path}` cannot be told from its name"))?;
    let mut options = CsvOptions::default();
    if let Some(csv) = csv {
        if let Some(d) = csv.delimiter {
            options.delimiter = u8::try_from(d)
                .map_err(|_| format!("the delimiter `{d}` is not a single-byte character"))?;
        }
        options.header = csv.header.unwrap_or(true);
        options.columns = csv.columns.clone();
    }
    Ok(FileSpec {
        path: dir.join(path),
        format,
        encoding,
        csv: options,
        records: records.map(compile_path).transpose()?,
        fields: None,
    })
}

fn source_plan(
    source: &Source,
    pipeline: &Pipeline,
    base_dir: &Path,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<SourcePlan, String> {
    Ok(match source {
        Source::File(f) => SourcePlan::File(file_spec(
            file_dir(f.connection.as_deref(), pipeline, base_dir)?,
            &f.path,
            f.format,
            f.encoding,
            f.csv.as_ref(),
            f.records.as_ref(),
        )?),
        Source::Sql(_) => {
            SourcePlan::Unsupported("reading SQL databases is not available yet".to_string())
        }
        Source::Http(http) => SourcePlan::Http(Arc::new(http_source_plan(
            http, pipeline, secrets, clients,
        )?)),
    })
}

/// The fields the reader must keep: what the steps read, and the cursor.
fn projection(steps: &[StepPlan], cursor: Option<&CursorPlan>) -> Option<Vec<String>> {
    let mut fields = crate::steps::projection(steps)?;
    if let Some(cursor) = cursor {
        // An expression sees the whole record.
        if cursor.expr.is_some() {
            return None;
        }
        for path in cursor.paths.iter().chain(&cursor.tie_breaker) {
            fields.push(path.first_field()?.to_string());
        }
        fields.sort();
        fields.dedup();
    }
    Some(fields)
}

/// Where the final map reads the target's key from, when that is a plain path.
fn source_key(key: &CompiledPath, steps: &[StepPlan]) -> Option<CompiledPath> {
    let field = key.first_field()?;
    let Some(StepPlan::Map(map)) = steps.last() else {
        return None;
    };
    map.fields
        .iter()
        .find(|f| f.name == field)
        .and_then(|f| match &f.source {
            ValueSource::Path { path, .. } => Some(path.clone()),
            _ => None,
        })
}

fn cursor_plan(cursor: &model::Cursor, scripts: &Arc<Scripts>) -> Result<CursorPlan, String> {
    let fields: Vec<&model::SingularPath> = cursor.field.iter().chain(&cursor.fields).collect();
    let expr = cursor
        .expr
        .as_deref()
        .map(|e| {
            scripts
                .compile_expression(e)
                .map(|ast| (scripts.clone(), ast))
        })
        .transpose()?;
    Ok(CursorPlan {
        expr,
        paths: fields
            .iter()
            .map(|f| compile_path(*f))
            .collect::<Result<_, _>>()?,
        path_text: fields
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
            + cursor.expr.as_deref().unwrap_or_default(),
        kind: cursor.kind,
        tie_breaker: cursor.tie_breaker.as_ref().map(compile_path).transpose()?,
        lookback: cursor.lookback.as_ref().map(|d| d.0),
        initial: cursor.initial.clone(),
    })
}

fn http_connection<'p>(
    name: &str,
    pipeline: &'p Pipeline,
) -> Result<&'p model::HttpConnection, String> {
    match pipeline.connections.get(name) {
        Some(Connection::Http(connection)) => Ok(connection),
        _ => Err(format!("`{name}` is not an http connection")),
    }
}

/// One client per connection, shared by its sources and targets (and so its rate limit).
struct HttpClients {
    /// The pipeline file's folder, which a connection's files are relative to.
    base_dir: PathBuf,
    made: HashMap<String, Arc<HttpClient>>,
}

impl HttpClients {
    fn get(
        &mut self,
        name: &str,
        pipeline: &Pipeline,
        secrets: &Secrets,
    ) -> Result<Arc<HttpClient>, String> {
        if let Some(client) = self.made.get(name) {
            return Ok(client.clone());
        }
        let connection = http_connection(name, pipeline)?;
        let client = Arc::new(
            HttpClient::new(connection, secrets, &self.base_dir)
                .map_err(|e| format!("connection `{name}`: {e}"))?,
        );
        self.made.insert(name.to_string(), client.clone());
        Ok(client)
    }
}

fn http_source_plan(
    http: &model::HttpSource,
    pipeline: &Pipeline,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<HttpSourcePlan, String> {
    use model::Paginate;
    let connection = http_connection(&http.connection, pipeline)?;
    let request = RequestPlan::compile(
        &model::Request {
            method: http.method,
            path: http.path.clone(),
            query: http.query.clone(),
            headers: http.headers.clone(),
            body: http.body.clone(),
            rpc: http.rpc.clone(),
        },
        connection,
    )?;
    fn path<P: AsRef<model::JsonPath>>(p: &Option<P>) -> Result<Option<CompiledPath>, String> {
        p.as_ref().map(compile_path).transpose()
    }
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
            total_pages: path(total_pages)?,
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
            from: compile_path(from)?,
            param: param.clone(),
            has_more: path(has_more)?,
        },
        Some(Paginate::NextUrl { from, .. }) => Paging::NextUrl {
            from: compile_path(from)?,
        },
        Some(Paginate::LinkHeader { .. }) => Paging::LinkHeader,
    };
    let max_pages = http.paginate.as_ref().and_then(Paginate::max_pages);
    Ok(HttpSourcePlan {
        client: clients.get(&http.connection, pipeline, secrets)?,
        request,
        records: path(&http.records)?,
        paging,
        max_pages: max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
        prefetch: http.prefetch,
        projection: None,
        detail: http
            .detail
            .as_ref()
            .map(|detail| -> Result<_, String> {
                Ok((
                    RequestPlan::compile(&detail.request, connection)?,
                    path(&detail.record)?,
                ))
            })
            .transpose()?,
    })
}

/// The fields a target never sends: its `not_sent`, and the flags it reads to decide what to
/// send, when they are plain top-level fields.
fn control_fields(http: &model::HttpTarget) -> Result<Vec<String>, String> {
    let paths = http
        .skip
        .iter()
        .chain(&http.delete_when)
        .chain(http.skip_fields.values());
    let mut fields = http.not_sent.clone();
    for path in paths {
        if let Some([name]) = compile_path(path)?.field_names().as_deref() {
            fields.push(name.to_string());
        }
    }
    Ok(fields)
}

fn keyed_plan(
    http: &model::HttpTarget,
    pipeline: &Pipeline,
    pipeline_name: &str,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<KeyedPlan, String> {
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
    let mut resolve = Vec::new();
    for rule in &http.resolve {
        let at = |e: String| format!("resolve rule `{}`: {e}", rule.name);
        lookups.push((
            RequestPlan::compile(&rule.request, connection).map_err(at)?,
            compile_path(&rule.ids).map_err(at)?,
        ));
        resolve.push(ResolveRule {
            name: rule.name.clone(),
            value: compile_path(&rule.value).map_err(at)?,
            normalize: rule.normalize,
            country_code: rule.country_code.clone(),
        });
    }
    Ok(KeyedPlan {
        concurrency: crate::connectors::http::concurrency(connection),
        ns: Namespace {
            pipeline: pipeline_name.to_string(),
            connection: http.connection.clone(),
            entity: http.entity.clone(),
        },
        http: Arc::new(HttpTargetPlan {
            client,
            create: request(&http.create)?,
            lines: http
                .lines
                .as_ref()
                .map(|lines| -> Result<_, String> {
                    Ok((
                        compile_path(&lines.each)?,
                        RequestPlan::compile(&lines.request, connection)?,
                    ))
                })
                .transpose()?,
            after_create: requests(&http.after_create)?,
            rollback: requests(&http.rollback)?,
            update: request(&http.update)?,
            id: http.id.as_ref().map(compile_path).transpose()?,
            lookups,
            read_before_update: http
                .read_before_update
                .as_ref()
                .map(|read| -> Result<ReadPlan, String> {
                    Ok(ReadPlan {
                        request: RequestPlan::compile(&read.request, connection)?,
                        record: compile_path(&read.record)?,
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
                    .map(|(field, path)| compile_path(path).map(|p| (field.clone(), p)))
                    .collect::<Result<_, _>>()?,
            },
            batch: http
                .batch
                .as_ref()
                .map(|batch| -> Result<BatchPlan, String> {
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
                        results: batch.results.as_ref().map(compile_path).transpose()?,
                        error: match &batch.error {
                            Some(path) => compile_path(path)?,
                            None => compile_path(&model::JsonPath::parse("$.error")?)?,
                        },
                    })
                })
                .transpose()?,
        }),
        resolve,
        on_match: http.on_match,
        skip: http.skip.as_ref().map(compile_path).transpose()?,
        delete_when: http.delete_when.as_ref().map(compile_path).transpose()?,
    })
}

fn target_plan(
    target: &Target,
    pipeline: &Pipeline,
    base_dir: &Path,
    pipeline_name: &str,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<TargetPlan, String> {
    Ok(match target {
        Target::File(f) => TargetPlan::File(
            file_spec(
                file_dir(f.connection.as_deref(), pipeline, base_dir)?,
                &f.path,
                f.format,
                f.encoding,
                f.csv.as_ref(),
                f.records.as_ref(),
            )?,
            f.only_changed.then(|| Namespace {
                pipeline: pipeline_name.to_string(),
                connection: f.connection.clone().unwrap_or_else(|| "file".to_string()),
                entity: f.path.clone(),
            }),
        ),
        Target::Http(http) => {
            TargetPlan::Keyed(keyed_plan(http, pipeline, pipeline_name, secrets, clients)?)
        }
        Target::Sql(_) => {
            TargetPlan::Unsupported("writing to SQL databases is not available yet".to_string())
        }
    })
}
