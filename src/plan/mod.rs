//! A validated pipeline compiled into what the runtime executes: jobs in dependency order, each
//! with its source, its compiled steps and its target. Everything that can be prepared once is
//! prepared here; the runtime never looks at YAML again.

pub mod cursor;
pub mod webhook;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::LoadedPipeline;
use crate::config::model::{
    self, CursorKind, MissingRefs, Normalize, OnMatch, Pipeline, Source, Target,
};
use crate::config::secrets::Secrets;
use crate::connectors::KeyedTargetPlan;
use crate::connectors::file::{self, FileSpec};
use crate::connectors::http;
use crate::connectors::http::compile::HttpClients;
use crate::connectors::http::source::HttpSourcePlan;
use crate::connectors::sql::{self, compile::SqlDatabases, source::SqlSourcePlan};
use crate::connectors::webhook::source::WebhookSourcePlan;
use crate::diagnostics::source::SourceMap;
use crate::record::path::CompiledPath;
use crate::record::template::Template;
use crate::state::Namespace;
use crate::steps::fetch::FetchStep;
use crate::steps::map::ValueSource;
use crate::steps::script::Scripts;
use crate::steps::{self, StepPlan};
use cursor::CursorPlan;

#[derive(Debug)]
pub struct Plan {
    pub name: String,
    /// Jobs in an order where every job comes after the jobs it needs.
    pub jobs: Vec<JobPlan>,
    /// The zone cron schedules are read in, unless a job's names its own.
    pub timezone: Option<model::TimeZone>,
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
    /// When `serve` runs the job.
    pub schedule: Option<model::Schedule>,
    /// Under `serve`, its changes wait for someone to apply them.
    pub review: bool,
}

#[derive(Debug)]
pub enum SourcePlan {
    File(FileSpec),
    Http(Arc<HttpSourcePlan>),
    Sql(Arc<SqlSourcePlan>),
    /// Notifications stored by `syncline serve`, from the job's inbox in the state.
    Webhook(Arc<WebhookSourcePlan>),
    /// A kind of source the runtime does not read yet: the job fails with this reason.
    Unsupported(String),
}

#[derive(Debug)]
pub enum TargetPlan {
    /// A file, and with `only_changed` the ID-map namespace of what earlier runs wrote to it.
    File(FileSpec, Option<Namespace>),
    /// Records addressed one by one through the ID map.
    Keyed(Arc<KeyedPlan>),
    /// A webhook job's `then`: another job pulls the records its notifications name.
    Trigger(webhook::Trigger),
    Unsupported(String),
}

#[derive(Debug)]
pub struct KeyedPlan {
    pub ns: Namespace,
    pub target: Arc<dyn KeyedTargetPlan>,
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

/// Why a pipeline could not be compiled: a sentence naming the job, and the place in the
/// pipeline (`jobs.orders.map`) that the message is about.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub at: String,
    pub message: String,
}

/// Compiles a pipeline that validated without errors.
pub fn compile(loaded: &LoadedPipeline, context: &CompileContext) -> Result<Plan, PlanError> {
    let sources = context.sources;
    let pipeline = loaded.model.as_ref().ok_or_else(|| PlanError {
        at: String::new(),
        message: "the pipeline could not be read".to_string(),
    })?;
    let base_dir = sources
        .get(loaded.file)
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let scripts = Scripts::new(&pipeline.vars).map_err(|message| PlanError {
        at: "vars".to_string(),
        message,
    })?;
    let tables = steps::compile::tables(pipeline);
    let pipeline_name = pipeline.name.clone().unwrap_or_default();
    let mut clients = HttpClients::new(base_dir.clone());
    let mut databases = SqlDatabases::new(base_dir.clone());
    let order = job_order(pipeline);
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let mut jobs = Vec::with_capacity(order.len());
    for name in &order {
        let job = &pipeline.jobs[name.as_str()];
        let fail_at = |place: &str| {
            let at = format!("jobs.{name}{place}");
            move |what: String| PlanError {
                at,
                message: format!("job `{name}`: {what}"),
            }
        };
        let fail = fail_at("");
        let (source, target) = match (&job.from, &job.to, &job.then) {
            (Some(s), Some(t), None) => (s, Some(t)),
            (Some(s), None, Some(_)) => (s, None),
            _ => return Err(fail("needs `from`, and `to` or `then`".to_string())),
        };
        // `ref` fields name entities on the job's own target connection.
        let refs_ns = |entity: &str| Namespace {
            pipeline: pipeline_name.clone(),
            connection: target
                .and_then(Target::connection)
                .unwrap_or_default()
                .to_string(),
            entity: entity.to_string(),
        };
        let fields = steps::compile::Fields {
            scripts: &scripts,
            tables: &tables,
            refs: &refs_ns,
        };
        let mut steps = Vec::new();
        for (i, step) in job.steps.iter().enumerate() {
            let label = step.id.clone().unwrap_or_else(|| format!("steps[{i}]"));
            let plan = match &step.fetch {
                Some(fetch) => fetch_step(fetch, label, pipeline, context.secrets, &mut clients),
                None => steps::compile::step(step, label, &fields),
            };
            steps.push(plan.map_err(fail_at(&format!(".steps[{i}]")))?);
        }
        if !job.map.is_empty() {
            steps.push(StepPlan::Map(
                steps::compile::map_step("map".to_string(), &job.map, &fields)
                    .map_err(fail_at(".map"))?,
            ));
        }
        let key = match target {
            Some(Target::File(f)) => f.key.as_ref().map(CompiledPath::compile),
            Some(Target::Http(h)) => Some(CompiledPath::compile(&h.key)),
            // The ID map knows a row by its first key column.
            Some(Target::Sql(s)) => s
                .key
                .first()
                .map(|column| CompiledPath::compile(format!("$.{column}"))),
            None => None,
        }
        .transpose()
        .map_err(fail)?;
        let source_key = key.as_ref().and_then(|k| source_key(k, &steps));
        let cursor = job
            .cursor
            .as_ref()
            .map(|cursor| CursorPlan::compile(cursor, &scripts))
            .transpose()
            .map_err(fail_at(".cursor"))?;
        let made = Made {
            clients: &mut clients,
            databases: &mut databases,
        };
        let cursor_kind = cursor.as_ref().map(|c| c.kind);
        let mut source = source_plan(
            source,
            (&pipeline_name, name),
            pipeline,
            &base_dir,
            context.secrets,
            cursor_kind,
            made,
        )
        .map_err(fail_at(".from"))?;
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
            target: match (target, &job.then) {
                (Some(target), _) => target_plan(
                    target,
                    pipeline,
                    &base_dir,
                    &pipeline_name,
                    context.secrets,
                    Made {
                        clients: &mut clients,
                        databases: &mut databases,
                    },
                )
                .map_err(fail_at(".to"))?,
                (None, then) => {
                    webhook::trigger(then.as_ref(), &source, &position).map_err(fail_at(".then"))?
                }
            },
            source,
            steps,
            key,
            source_key,
            cursor,
            missing_refs: job.missing_refs,
            schedule: job.schedule.clone(),
            review: job.review,
        });
    }
    Ok(Plan {
        name: pipeline_name,
        jobs,
        timezone: pipeline.timezone,
    })
}

/// Job names in the file's order, each moved after the jobs it needs (a stable order makes
/// reports read like the file). `validate` refused `needs` cycles; were one left, its jobs
/// would come last, in the file's order.
fn job_order(pipeline: &Pipeline) -> Vec<String> {
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
            None => placed.extend(
                pipeline
                    .jobs
                    .keys()
                    .filter(|n| !placed.contains(n))
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
        }
    }
    placed
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
    let fetcher =
        http::compile::fetcher(fetch, pipeline, secrets, clients).map_err(|e| at(e.to_string()))?;
    Ok(StepPlan::Fetch(FetchStep {
        fetcher: Box::new(fetcher),
        into: fetch.into.clone(),
        each: fetch
            .each
            .as_ref()
            .map(CompiledPath::compile)
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

/// What the connections' parts share: one HTTP client, one database pool per connection.
struct Made<'a> {
    clients: &'a mut HttpClients,
    databases: &'a mut SqlDatabases,
}

fn source_plan(
    source: &Source,
    (pipeline_name, job): (&str, &str),
    pipeline: &Pipeline,
    base_dir: &Path,
    secrets: &Secrets,
    cursor_kind: Option<CursorKind>,
    made: Made,
) -> Result<SourcePlan, String> {
    Ok(match source {
        Source::File(f) => SourcePlan::File(
            file::compile::spec(f.location(), pipeline, base_dir).map_err(|e| e.to_string())?,
        ),
        Source::Sql(s) => SourcePlan::Sql(Arc::new(
            sql::compile::source_plan(s, pipeline, secrets, cursor_kind, made.databases)
                .map_err(|e| e.to_string())?,
        )),
        Source::Http(http) => SourcePlan::Http(Arc::new(
            http::compile::source_plan(http, pipeline, secrets, made.clients)
                .map_err(|e| e.to_string())?,
        )),
        Source::Webhook(webhook) => SourcePlan::Webhook(Arc::new(
            crate::connectors::webhook::compile::source_plan(
                webhook,
                crate::state::JobId {
                    pipeline: pipeline_name.to_string(),
                    job: job.to_string(),
                },
                pipeline,
                secrets,
            )
            .map_err(|e| e.to_string())?,
        )),
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

fn keyed_plan(
    http: &model::HttpTarget,
    pipeline: &Pipeline,
    pipeline_name: &str,
    secrets: &Secrets,
    clients: &mut HttpClients,
) -> Result<KeyedPlan, String> {
    let mut resolve = Vec::new();
    for rule in &http.resolve {
        let at = |e: String| format!("resolve rule `{}`: {e}", rule.name);
        resolve.push(ResolveRule {
            name: rule.name.clone(),
            value: CompiledPath::compile(&rule.value).map_err(at)?,
            normalize: rule.normalize,
            country_code: rule.country_code.clone(),
        });
    }
    let (target, concurrency) =
        http::compile::target_plan(http, pipeline, secrets, clients).map_err(|e| e.to_string())?;
    Ok(KeyedPlan {
        concurrency,
        ns: Namespace {
            pipeline: pipeline_name.to_string(),
            connection: http.connection.clone(),
            entity: http.entity.clone(),
        },
        target: Arc::new(target),
        resolve,
        on_match: http.on_match,
        skip: http.skip.as_ref().map(CompiledPath::compile).transpose()?,
        delete_when: http
            .delete_when
            .as_ref()
            .map(CompiledPath::compile)
            .transpose()?,
    })
}

fn target_plan(
    target: &Target,
    pipeline: &Pipeline,
    base_dir: &Path,
    pipeline_name: &str,
    secrets: &Secrets,
    made: Made,
) -> Result<TargetPlan, String> {
    Ok(match target {
        Target::File(f) => TargetPlan::File(
            file::compile::target_spec(f, pipeline, base_dir).map_err(|e| e.to_string())?,
            f.only_changed.then(|| Namespace {
                pipeline: pipeline_name.to_string(),
                connection: f.connection.clone().unwrap_or_else(|| "file".to_string()),
                entity: f.path.clone(),
            }),
        ),
        Target::Http(http) => TargetPlan::Keyed(Arc::new(keyed_plan(
            http,
            pipeline,
            pipeline_name,
            secrets,
            made.clients,
        )?)),
        Target::Sql(s) => TargetPlan::Keyed(Arc::new(KeyedPlan {
            // One sender: a table's rows are written in the records' order, a transaction
            // at a time.
            concurrency: 1,
            ns: Namespace {
                pipeline: pipeline_name.to_string(),
                connection: s.connection.clone(),
                entity: s.table.clone(),
            },
            target: Arc::new(
                sql::compile::target_plan(s, pipeline, secrets, made.databases)
                    .map_err(|e| e.to_string())?,
            ),
            resolve: Vec::new(),
            on_match: OnMatch::default(),
            skip: None,
            delete_when: None,
        })),
    })
}
