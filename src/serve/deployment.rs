//! The pipelines `serve` runs: each file validated and compiled on its own, so one broken file
//! stops only itself, and read again when it (or a template it extends) changes. A change that
//! does not validate is reported and the last valid version keeps running.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::alerts::AlertPlan;
use super::scheduler::{JobEntry, Scheduler};
use super::timetable::Timetable;
use crate::check::validate;
use crate::config::secrets::{Secrets, redact};
use crate::connectors::webhook::inbox;
use crate::diagnostics::RenderOptions;
use crate::plan::{CompileContext, Plan};
use crate::state::{JobId, StateError, StateStore, sled_store};

/// One pipeline file, running.
pub struct Deployed {
    pub file: PathBuf,
    pub plan: Arc<Plan>,
    /// The hash of its files, which pending plans are made against (`apply` refuses a plan
    /// whose pipeline changed since).
    pub hash: String,
    /// Where its alerts go, if it has `alerts:`.
    pub alerts: Option<Arc<AlertPlan>>,
    pub state: Arc<dyn StateStore>,
    pub scheduler: Scheduler,
    /// The files it was read from (itself, the templates it extends), as they were.
    stamps: Vec<Stamp>,
}

/// A file's size and modification time: when either moves, the pipeline is read again.
#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    fn of(path: &Path) -> Stamp {
        let meta = std::fs::metadata(path).ok();
        Stamp {
            path: path.to_path_buf(),
            modified: meta.as_ref().and_then(|m| m.modified().ok()),
            len: meta.map_or(0, |m| m.len()),
        }
    }

    fn moved(&self) -> bool {
        *self != Stamp::of(&self.path)
    }
}

/// Every pipeline under the paths `serve` was given.
pub struct Deployments {
    paths: Vec<PathBuf>,
    state_dir: Option<PathBuf>,
    secrets: Arc<Secrets>,
    pub running: BTreeMap<PathBuf, Deployed>,
    /// Files whose current version does not validate: the stamps of that version and its
    /// problems (reported once per version).
    broken: BTreeMap<PathBuf, (Vec<Stamp>, String)>,
    /// One store per state folder: pipelines of one repository share it.
    stores: HashMap<PathBuf, Arc<dyn StateStore>>,
}

/// A file validated and compiled: its plan, the hash of its files, and their stamps.
struct Compiled {
    plan: Plan,
    hash: String,
    alerts: Option<AlertPlan>,
    stamps: Vec<Stamp>,
}

/// A file that does not run as it is: its stamps (to notice when it changes again), and why.
struct Broken {
    stamps: Vec<Stamp>,
    problem: LoadError,
}

/// Why a pipeline file is not running (its text is shown as `validate` shows it).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Invalid(String),
    #[error("no pipeline in {0}")]
    Empty(String),
    #[error("the state cannot be opened: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Compile(String),
}

impl Deployments {
    pub fn new(paths: Vec<PathBuf>, state_dir: Option<PathBuf>, secrets: Arc<Secrets>) -> Self {
        Deployments {
            paths,
            state_dir,
            secrets,
            running: BTreeMap::new(),
            broken: BTreeMap::new(),
            stores: HashMap::new(),
        }
    }

    /// Reads the files that are new or changed since the last call; returns how many
    /// pipelines run. Problems are logged.
    pub fn refresh(&mut self, now: DateTime<Utc>) -> usize {
        let mut files = Vec::new();
        for path in &self.paths {
            match crate::config::pipeline_files(path) {
                Ok(found) => files.extend(found),
                Err(e) => tracing::error!("cannot read {}: {e}", path.display()),
            }
        }
        // Files removed: their jobs stop being scheduled (a run under way finishes).
        self.running.retain(|file, _| {
            let kept = files.contains(file);
            if !kept {
                tracing::warn!(
                    "{} is gone: its jobs are no longer scheduled",
                    file.display()
                );
            }
            kept
        });
        self.broken.retain(|file, _| files.contains(file));
        for file in files {
            let changed = match (self.running.get(&file), self.broken.get(&file)) {
                (_, Some((stamps, _))) => stamps.iter().any(Stamp::moved),
                (Some(deployed), None) => deployed.stamps.iter().any(Stamp::moved),
                (None, None) => true,
            };
            if changed {
                self.load(file, now);
            }
        }
        self.running.len()
    }

    fn load(&mut self, file: PathBuf, now: DateTime<Utc>) {
        match self.compile(&file) {
            Ok(Compiled {
                plan,
                hash,
                alerts,
                stamps,
            }) => {
                let state = match self.store(&file) {
                    Ok(state) => state,
                    Err(e) => {
                        tracing::error!("{}: {e}", file.display());
                        return;
                    }
                };
                let mut scheduler = schedule(&plan, state.as_ref(), now);
                let name_taken = self
                    .running
                    .iter()
                    .any(|(other, d)| *other != file && d.plan.name == plan.name);
                if name_taken {
                    let problem = format!(
                        "another file already runs a pipeline named `{}`: names keep the state apart, so each must be unique",
                        plan.name
                    );
                    tracing::error!("{}: {problem}", file.display());
                    self.broken.insert(file, (stamps, problem));
                    return;
                }
                let reloaded = self.running.remove(&file);
                if let Some(old) = reloaded {
                    if old.plan.name == plan.name {
                        scheduler.carry_over(old.scheduler);
                    }
                    tracing::info!(pipeline = %plan.name, "{} reloaded", file.display());
                } else {
                    tracing::info!(pipeline = %plan.name, jobs = plan.jobs.len(), "{} loaded", file.display());
                }
                self.broken.remove(&file);
                self.running.insert(
                    file.clone(),
                    Deployed {
                        file,
                        plan: Arc::new(plan),
                        hash,
                        alerts: alerts.map(Arc::new),
                        state,
                        scheduler,
                        stamps,
                    },
                );
            }
            Err(Broken { stamps, problem }) => {
                let keeps = if self.running.contains_key(&file) {
                    "the last valid version keeps running"
                } else {
                    "it does not run"
                };
                tracing::error!(
                    "{} has problems; {keeps}:\n{}",
                    file.display(),
                    problem.to_string()
                );
                self.broken.insert(file, (stamps, problem.to_string()));
            }
        }
    }

    /// Validates and compiles one file, as `syncline run` does.
    fn compile(&self, file: &Path) -> Result<Compiled, Broken> {
        let validation = validate::validate(&[file.to_path_buf()], &self.secrets);
        self.secrets
            .protect_used(validation.secret_names.iter().map(String::as_str));
        let stamps: Vec<Stamp> = validation
            .sources
            .files()
            .map(|f| Stamp::of(&f.path))
            .collect();
        let stamps = if stamps.is_empty() {
            vec![Stamp::of(file)]
        } else {
            stamps
        };
        if validation.errors() > 0 {
            let text = validation.render_human(RenderOptions {
                color: false,
                width: 100,
            });
            return Err(Broken {
                stamps,
                problem: LoadError::Invalid(redact(&text)),
            });
        }
        for warning in &validation.diagnostics {
            tracing::warn!("{}: {}", file.display(), redact(&warning.message));
        }
        let Some(loaded) = validation.pipelines.first() else {
            return Err(Broken {
                stamps,
                problem: LoadError::Empty(file.display().to_string()),
            });
        };
        let context = CompileContext {
            sources: &validation.sources,
            secrets: &self.secrets,
        };
        let hash = crate::dry_run::apply::pipeline_hash(&validation.sources);
        let alerts = loaded
            .model
            .as_ref()
            .and_then(|model| AlertPlan::compile(model, &self.secrets));
        match crate::plan::compile(loaded, &context) {
            Ok(plan) => Ok(Compiled {
                plan,
                hash,
                alerts,
                stamps,
            }),
            Err(e) => Err(Broken {
                stamps,
                problem: LoadError::Compile(redact(&e.to_string())),
            }),
        }
    }

    fn store(&mut self, file: &Path) -> Result<Arc<dyn StateStore>, LoadError> {
        let dir = crate::state::dir_for(file, self.state_dir.as_deref());
        if let Some(store) = self.stores.get(&dir) {
            return Ok(store.clone());
        }
        let store: Arc<dyn StateStore> = Arc::new(sled_store::open(&dir)?);
        self.stores.insert(dir, store.clone());
        Ok(store)
    }

    /// The pipeline named `name`.
    pub fn named(&mut self, name: &str) -> Option<&mut Deployed> {
        self.running.values_mut().find(|d| d.plan.name == name)
    }

    /// The files that do not run as they are now, with their problems.
    pub fn problems(&self) -> impl Iterator<Item = (&PathBuf, &str)> {
        self.broken
            .iter()
            .map(|(file, (_, problem))| (file, problem.as_str()))
    }

    /// Every state store, to flush at the end.
    pub fn stores(&self) -> impl Iterator<Item = &Arc<dyn StateStore>> {
        self.stores.values()
    }
}

/// The plan's jobs with their timetables and last runs.
fn schedule(plan: &Plan, state: &dyn StateStore, now: DateTime<Utc>) -> Scheduler {
    let jobs = plan
        .jobs
        .iter()
        .map(|job| {
            let id = JobId {
                pipeline: plan.name.clone(),
                job: job.name.clone(),
            };
            let last = state.job_run(&id).unwrap_or_else(|e| {
                tracing::warn!(pipeline = %plan.name, job = %job.name, "its last run cannot be read: {e}");
                None
            });
            JobEntry {
                name: job.name.clone(),
                needs: job.needs.clone(),
                timetable: job
                    .schedule
                    .as_ref()
                    .map(|s| Timetable::new(s, plan.timezone)),
                last,
            }
        })
        .collect();
    let mut scheduler = Scheduler::new(jobs, now);
    // Notifications stored before a stop (or a crash) are processed at once.
    for route in plan.webhooks() {
        let job = &route.endpoint.job;
        match inbox::pending(state, job, 1) {
            Ok(waiting) if !waiting.is_empty() => scheduler.notify(route.job),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(pipeline = %plan.name, job = %job.job, "its inbox cannot be read: {e}")
            }
        }
    }
    scheduler
}
