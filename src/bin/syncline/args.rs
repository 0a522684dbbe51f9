//! Arguments more than one command takes.

use std::path::PathBuf;

use clap::ValueEnum;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Located diagnostics with the source lines, for people.
    Human,
    /// One JSON document, for editors and CI.
    Json,
}

/// What `run` and `dry-run` both take.
#[derive(clap::Args)]
pub struct PipelineArgs {
    /// The pipeline file.
    pub pipeline: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// Only this job (repeatable); the jobs it needs are not run.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,
    /// Only the records with this key (repeatable; with one `--job`): read from the start of
    /// the source, the checkpoint untouched. For "synchronise now" and support.
    #[arg(long = "key", value_name = "KEY", requires = "jobs")]
    pub keys: Vec<String>,
}
