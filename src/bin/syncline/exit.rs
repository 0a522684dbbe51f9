//! How a command ends: the exit codes README and `--help` document, and the errors that end a
//! command early. The numbers are decided here and nowhere else in the binary (`--help` texts
//! repeat them).

use std::path::PathBuf;
use std::process::ExitCode;

use syncline::check::validate::Validation;
use syncline::config::secrets::redact;
use syncline::dry_run::apply::ApplyError;
use syncline::plan::PlanError;
use syncline::runtime::report::{JobStatus, RunReport};
use syncline::state::StateError;

/// How a command ended; each variant is one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done as asked: the files are valid, every job succeeded with no record rejected, the
    /// state command did what it was told, `--help`.
    Success,
    /// 1: a job failed or was skipped, a path or file could not be read or written, the state
    /// could not be opened, `schema --check` found the file out of date, an ID-map lookup
    /// found nothing, a reset was not confirmed, a command that is not available yet.
    Failure,
    /// 2: the configuration or the command line is wrong: a pipeline's problems (warnings too,
    /// with `--deny-warnings`) or one it cannot be compiled for, a secrets file that cannot be
    /// used, a usage error, a reset without `--yes` and no terminal to ask at, a plan that
    /// does not fit the pipeline (`apply`).
    Invalid,
    /// 3: the jobs ran, but some records were rejected (they are in the quarantine); `apply`:
    /// some changes were refused.
    Rejected,
    /// 130: interrupted by Ctrl-C (128 + SIGINT, as a shell reports it).
    Interrupted,
}

impl Exit {
    fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Invalid => 2,
            Exit::Rejected => 3,
            Exit::Interrupted => 130,
        }
    }

    /// A run's (or a dry run's, or a replay's) outcome: cancelled, then failed, then rejected.
    pub fn of_run(report: &RunReport) -> Exit {
        let any = |f: fn(&JobStatus) -> bool| report.jobs.iter().any(|j| f(&j.status));
        if any(|s| matches!(s, JobStatus::Cancelled)) {
            Exit::Interrupted
        } else if any(|s| matches!(s, JobStatus::Failed(_) | JobStatus::Skipped(_))) {
            Exit::Failure
        } else if report.jobs.iter().any(|j| j.rejected > 0) {
            Exit::Rejected
        } else {
            Exit::Success
        }
    }

    /// A validation's verdict, as `Validation::exit_code` gives it (0 valid, 1 a path could not
    /// be read or holds no pipeline, 2 invalid).
    pub fn of_validation(validation: &Validation, deny_warnings: bool) -> Exit {
        match validation.exit_code(deny_warnings) {
            0 => Exit::Success,
            1 => Exit::Failure,
            _ => Exit::Invalid,
        }
    }

    /// Ends the process at once: for a second Ctrl-C, while `main` waits for the jobs.
    pub fn now(self) -> ! {
        std::process::exit(self.code().into())
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Why a command stopped early. `main` reports it and exits with [`CliError::exit_code`].
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// Already shown in full, with the source lines: a pipeline's problems.
    #[error("the pipeline has problems")]
    Shown(Exit),
    /// Each problem of a secrets file (never its lines: they hold secrets).
    #[error("the secrets file cannot be used")]
    Secrets(#[related] Vec<Problem>),
    #[error("no pipeline in {}", .0.display())]
    NoPipeline(PathBuf),
    #[error(transparent)]
    Compile(#[from] PlanError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot create the quarantine file: {0}")]
    QuarantineFile(std::io::Error),
    /// The runtime kept the dry run's recorder after the run returned.
    #[error("the dry run did not end")]
    DryRunNotEnded,
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is out of date: run `syncline schema` and commit it", .0.display())]
    SchemaOutOfDate(PathBuf),
    #[error(
        "syncline {command} is not available yet: it arrives with {part}. `syncline validate` checks pipeline files today."
    )]
    NotYet {
        command: &'static str,
        part: &'static str,
    },
    /// The `state` command's own refusals.
    #[error(transparent)]
    StateCommand(#[from] StateRefusal),
    #[error("the pipeline has no job `{job}`")]
    #[diagnostic(help("its jobs: {known}"))]
    UnknownJob { job: String, known: String },
    #[error("`--key` selects records of one job: give exactly one `--job`")]
    KeysOfManyJobs,
    #[error(transparent)]
    Serve(#[from] syncline::serve::ServeError),
    #[error("the token in {} is shorter than 16 characters", .0.display())]
    #[diagnostic(help("write a long random token, e.g. `openssl rand -hex 32 > {}`", .0.display()))]
    WeakToken(PathBuf),
    #[error("{} is not a plan saved by `syncline dry-run --out`: {reason}", path.display())]
    NotAPlan { path: PathBuf, reason: String },
    /// A plan that does not fit the pipeline, or a selection it does not have.
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// What the `state` command refuses to do, or cannot.
#[derive(Debug, thiserror::Error)]
pub enum StateRefusal {
    #[error("{} cannot be read as a pipeline: run `syncline validate` on it", .0.display())]
    NotAPipeline(PathBuf),
    #[error("the pipeline has no `name`")]
    Unnamed,
    #[error("the pipeline has no job `{0}`")]
    NoJob(String),
    #[error("give --key or --target-id")]
    NoLookup,
    #[error("no job of this pipeline writes the entity `{0}`")]
    NoWriter(String),
    #[error("several connections write `{entity}` ({}): choose one with --connection", .connections.join(", "))]
    ManyWriters {
        entity: String,
        connections: Vec<String>,
    },
    #[error("no quarantine entry {0}")]
    NoEntry(u64),
    #[error("`{0}` is not FIELD=VALUE")]
    NotAnEdit(String),
    #[error("name the entries to drop, or --job to drop all of a job's")]
    NothingToDrop,
    #[error(
        "resetting a checkpoint makes `{0}` read its whole source again; pass --yes to confirm"
    )]
    Unconfirmed(String),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One problem of a file, with what to do about it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct Problem {
    pub message: String,
    #[help]
    pub hint: Option<String>,
}

impl CliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            CliError::Shown(exit) => *exit,
            CliError::Secrets(_)
            | CliError::Compile(_)
            | CliError::UnknownJob { .. }
            | CliError::KeysOfManyJobs
            | CliError::WeakToken(_)
            | CliError::NotAPlan { .. }
            | CliError::Apply(_) => Exit::Invalid,
            CliError::Serve(syncline::serve::ServeError::NothingToRun) => Exit::Invalid,
            CliError::Serve(_) => Exit::Failure,
            // As a usage error: there is no terminal to ask at.
            CliError::StateCommand(StateRefusal::Unconfirmed(_)) => Exit::Invalid,
            CliError::StateCommand(_) => Exit::Failure,
            CliError::NoPipeline(_)
            | CliError::Runtime(_)
            | CliError::State(_)
            | CliError::QuarantineFile(_)
            | CliError::DryRunNotEnded
            | CliError::Read { .. }
            | CliError::CreateDir { .. }
            | CliError::Write { .. }
            | CliError::SchemaOutOfDate(_)
            | CliError::NotYet { .. } => Exit::Failure,
        }
    }

    /// Writes it to stderr, secrets redacted: `error: what`, then `  help: what to do` when
    /// there is a hint; each related problem so in turn.
    pub fn report(&self) {
        use miette::Diagnostic;
        fn one(problem: &dyn Diagnostic) {
            eprintln!("error: {}", redact(&problem.to_string()));
            if let Some(help) = problem.help() {
                eprintln!("  help: {}", redact(&help.to_string()));
            }
        }
        match self {
            CliError::Shown(_) => {}
            _ => match self.related() {
                Some(related) => related.for_each(one),
                None => one(self),
            },
        }
    }
}
