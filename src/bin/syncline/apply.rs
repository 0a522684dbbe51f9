//! `syncline apply PLAN`: writes the changes of a plan that `dry-run --out` saved, exactly,
//! through the pipeline it was made from (`syncline::dry_run::apply`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use syncline::config::secrets::redact;
use syncline::dry_run::DryRunPlan;
use syncline::dry_run::apply::{ApplyError, Outcome, Selection, apply};

use crate::args::Format;
use crate::exit::{CliError, Exit};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// A plan saved by `syncline dry-run PIPELINE --out PLAN`.
    plan: PathBuf,
    /// Apply only the changes of the records with these keys.
    #[arg(long, value_name = "KEY", num_args = 1..)]
    only: Vec<String>,
    /// Apply only this job's changes (repeat for several jobs).
    #[arg(long, value_name = "NAME")]
    job: Vec<String>,
    /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
    #[arg(long, value_name = "FILE")]
    secrets: Option<PathBuf>,
    /// The state directory (ID maps, outbox). Default: as for `run`.
    #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
    state: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn run(args: ApplyArgs) -> Result<Exit, CliError> {
    let text = std::fs::read_to_string(&args.plan).map_err(|source| CliError::Read {
        path: args.plan.clone(),
        source,
    })?;
    let saved: DryRunPlan = serde_json::from_str(&text).map_err(|e| CliError::NotAPlan {
        path: args.plan.clone(),
        reason: e.to_string(),
    })?;
    // The pipeline as `dry-run` was given it: the plan is applied from where it was made.
    let pipeline = PathBuf::from(saved.pipeline_file.clone().ok_or(ApplyError::NotForApply)?);
    let (plan, hash) = crate::run::prepare_hashed(&pipeline, args.secrets.as_deref())?;
    let state = crate::run::open_state(&pipeline, args.state.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let only = Selection {
        jobs: args.job,
        keys: args.only,
    };
    let report = runtime.block_on(apply(Arc::new(plan), &hash, &saved, &only, state))?;
    let text = match args.format {
        Format::Human => report.render(),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(redact(&text).as_bytes());
    Ok(
        if report.failed() || report.count(Outcome::NotApplied) > 0 {
            Exit::Failure
        } else if report.count(Outcome::Refused) > 0 {
            Exit::Rejected
        } else {
            Exit::Success
        },
    )
}
