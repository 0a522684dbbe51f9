//! `syncline run` and `syncline dry-run`, and what they share with `state quarantine replay`:
//! a pipeline validated and compiled, then run on a runtime that Ctrl-C stops cleanly.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use syncline::check::validate;
use syncline::config::secrets::{Secrets, redact};
use syncline::diagnostics::RenderOptions;
use syncline::dry_run::PlanRecorder;
use syncline::dry_run::apply::pipeline_hash;
use syncline::plan::{CompileContext, Plan};
use syncline::runtime::report::RunReport;
use syncline::runtime::{RunOptions, RunOutcome, Selection};
use syncline::serve::alerts::{AlertPlan, send_alerts};
use syncline::state::{StateStore, sled_store};

use crate::args::{Format, PipelineArgs};
use crate::exit::{CliError, Exit, Problem};

/// The secrets of `--secrets FILE`; none without it (the environment is read then).
pub fn load_secrets(file: Option<&Path>) -> Result<Secrets, CliError> {
    file.map(Secrets::from_file)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|problems| {
            CliError::Secrets(
                problems
                    .into_iter()
                    .map(|p| Problem {
                        message: p.message,
                        hint: p.hint,
                    })
                    .collect(),
            )
        })
}

/// Validates and compiles a pipeline for `run`, `dry-run` and a replay.
pub fn prepare(path: &Path, secrets_file: Option<&Path>) -> Result<Plan, CliError> {
    prepare_hashed(path, secrets_file).map(|(plan, _)| plan)
}

/// [`prepare`], and the hash of the pipeline's files that a saved plan keeps for `apply`.
pub fn prepare_hashed(
    path: &Path,
    secrets_file: Option<&Path>,
) -> Result<(Plan, String), CliError> {
    prepare_all(path, secrets_file).map(|p| (p.plan, p.hash))
}

/// A pipeline ready to run.
pub struct Prepared {
    pub plan: Plan,
    /// What its files were, for `apply`.
    pub hash: String,
    /// Its `alerts:`, if any.
    pub alerts: Option<AlertPlan>,
}

/// [`prepare`], with everything a run of the pipeline needs besides the plan.
pub fn prepare_all(path: &Path, secrets_file: Option<&Path>) -> Result<Prepared, CliError> {
    let secrets = load_secrets(secrets_file)?;
    let validation = validate::validate(&[path.to_path_buf()], &secrets);
    secrets.protect_used(validation.secret_names.iter().map(String::as_str));
    if validation.errors() > 0 {
        let text = validation.render_human(RenderOptions {
            color: crate::stderr_color(),
            width: 100,
        });
        eprint!("{}", redact(&text));
        return Err(CliError::Shown(Exit::of_validation(&validation, false)));
    }
    let Some(loaded) = validation.pipelines.first() else {
        return Err(CliError::NoPipeline(path.to_path_buf()));
    };
    let context = CompileContext {
        sources: &validation.sources,
        secrets: &secrets,
    };
    let alerts = loaded
        .model
        .as_ref()
        .and_then(|pipeline| AlertPlan::compile(pipeline, &secrets));
    Ok(Prepared {
        plan: syncline::plan::compile(loaded, &context)?,
        hash: pipeline_hash(&validation.sources),
        alerts,
    })
}

/// Runs a plan on a fresh runtime; Ctrl-C stops it cleanly, a second Ctrl-C at once.
pub fn execute(plan: Arc<Plan>, options: RunOptions) -> Result<RunOutcome, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let cancel = Arc::new(AtomicBool::new(false));
    Ok(runtime.block_on(async {
        let stop = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
                eprintln!(
                    "interrupted: finishing the records in flight; nothing half-written is kept \
                     (Ctrl-C again stops at once)"
                );
            }
            // Every write is in the outbox before it is sent: one cut short is checked at the
            // next run, never sent blindly again.
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "interrupted again: stopping now; the writes in flight are checked at the next run"
                );
                Exit::Interrupted.now();
            }
        });
        syncline::runtime::run(plan, options, cancel.clone()).await
    }))
}

/// The jobs and keys `--job` and `--key` ask for (the whole plan without them).
fn selection(plan: &Plan, args: &PipelineArgs) -> Result<Selection, CliError> {
    if !args.keys.is_empty() && args.jobs.len() != 1 {
        return Err(CliError::KeysOfManyJobs);
    }
    let jobs = args
        .jobs
        .iter()
        .map(|name| {
            plan.jobs
                .iter()
                .position(|j| &j.name == name)
                .ok_or_else(|| CliError::UnknownJob {
                    job: name.clone(),
                    known: plan
                        .jobs
                        .iter()
                        .map(|j| format!("`{}`", j.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Selection {
        jobs: (!jobs.is_empty()).then_some(jobs),
        keys: (!args.keys.is_empty()).then(|| args.keys.iter().cloned().collect()),
    })
}

/// `syncline run`.
pub fn run(
    args: &PipelineArgs,
    quarantine: Option<&Path>,
    state_dir: Option<&Path>,
) -> Result<Exit, CliError> {
    let path = args.pipeline.as_path();
    let Prepared { plan, alerts, .. } = prepare_all(path, args.secrets.as_deref())?;
    let only = selection(&plan, args)?;
    let state = open_state(path, state_dir)?;
    let quarantine = quarantine
        .map(std::fs::File::create)
        .transpose()
        .map_err(CliError::QuarantineFile)?
        .map(|f| Box::new(std::io::BufWriter::new(f)) as Box<dyn Write + Send>);
    let options = RunOptions {
        recorder: None,
        progress: std::io::stderr().is_terminal(),
        quarantine,
        state: state.clone(),
        replay: None,
        only,
    };
    let outcome = execute(Arc::new(plan), options)?;
    let text = match args.format {
        Format::Human => outcome.report.render(),
        Format::Json => serde_json::to_string_pretty(&outcome.report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(redact(&text).as_bytes());
    if let Some(alerts) = alerts {
        alert(&alerts, &outcome.report, state.as_ref())?;
    }
    Ok(Exit::of_run(&outcome.report))
}

/// Sends the alerts the run calls for, after its report is out. A failed send is logged and
/// changes nothing in how the run ended; Ctrl-C stops the sending at once.
fn alert(alerts: &AlertPlan, report: &RunReport, state: &dyn StateStore) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        tokio::select! {
            _ = send_alerts(alerts, report, state, syncline::state::now()) => {}
            _ = tokio::signal::ctrl_c() => Exit::Interrupted.now(),
        }
    });
    Ok(())
}

/// Opens the state a run writes to: `--state`, or the default for the pipeline.
pub fn open_state(pipeline: &Path, dir: Option<&Path>) -> Result<Arc<dyn StateStore>, CliError> {
    let store = sled_store::open(&syncline::state::dir_for(pipeline, dir))?;
    Ok(Arc::new(store))
}

/// `syncline dry-run`.
pub fn dry_run(
    args: &PipelineArgs,
    out: Option<&Path>,
    state_dir: Option<&Path>,
) -> Result<Exit, CliError> {
    let path = args.pipeline.as_path();
    let (plan, hash) = prepare_hashed(path, args.secrets.as_deref())?;
    let only = selection(&plan, args)?;
    let dir = syncline::state::dir_for(path, state_dir);
    let state: Arc<dyn StateStore> = match sled_store::open_existing(&dir)? {
        Some(store) => Arc::new(syncline::state::ReadOnly(Arc::new(store))),
        None => Arc::new(syncline::state::memory::MemoryStore::empty()),
    };
    let plan = Arc::new(plan);
    let recorder = Arc::new(PlanRecorder::new(plan.clone(), state.clone()));
    let options = RunOptions {
        recorder: Some(recorder.clone()),
        progress: std::io::stderr().is_terminal(),
        quarantine: None,
        state,
        replay: None,
        only,
    };
    let outcome = execute(plan, options)?;
    let exit = Exit::of_run(&outcome.report);
    let recorder = Arc::try_unwrap(recorder).map_err(|_| CliError::DryRunNotEnded)?;
    let mut dry = recorder.finish(outcome.report);
    // For `apply`: the pipeline as given, and what its files were.
    dry.pipeline_file = Some(path.display().to_string());
    dry.pipeline_hash = Some(hash);
    let json = serde_json::to_string_pretty(&dry).unwrap_or_default() + "\n";
    if let Some(out) = out {
        std::fs::write(out, redact(&json)).map_err(|source| CliError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    }
    let text = match args.format {
        Format::Human => dry.render(20),
        Format::Json => json,
    };
    let _ = std::io::stdout().write_all(redact(&text).as_bytes());
    Ok(exit)
}
