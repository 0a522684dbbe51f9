//! The `syncline` command line: parses arguments, runs a command (a file each), and turns how
//! it ended into the exit code (exit.rs: the codes, and the errors that end a command early).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
mod args;
mod exit;
mod run;
mod schema;
mod serve;
mod state;
mod validate;

use args::{Format, PipelineArgs};
use exit::{CliError, Exit};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "syncline",
    version,
    about = "Declarative integration pipelines between ERPs, shops, suppliers and CRMs",
    long_about = "syncline runs integration pipelines described in YAML: where records come from, how their \
                  fields map, which status means which, and where they go.",
    after_help = "Start with `syncline validate pipelines/` to check your files."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check pipeline files and report every problem at once, at file:line:col.
    #[command(
        after_help = "Examples:\n  syncline validate pipelines/\n  syncline validate client.yaml --secrets .secrets\n  syncline validate . --format json\n\nExit codes: 0 valid, 1 a path could not be read, 2 invalid configuration."
    )]
    Validate {
        /// Pipeline files, or folders whose `.yaml`/`.yml` files are all checked.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
        /// Treat warnings (unset environment variables, missing secrets...) as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Also have each database prepare its jobs' queries (syntax, tables, columns).
        #[arg(long)]
        connect: bool,
    },
    /// Run pipeline jobs: read, map, write, and report in business terms.
    #[command(
        after_help = "Example:\n  syncline run examples/quickstart/quickstart.yaml\n  syncline run client.yaml --format json --quarantine rejected.ndjson\n\nExit codes: 0 all good, 3 some records were rejected, 1 a job failed, 2 invalid configuration, 130 interrupted."
    )]
    Run {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Also write every rejected record, with its job, step, key and reason, to this NDJSON
        /// file (they are always kept in the state: `syncline state quarantine`).
        #[arg(long, value_name = "FILE")]
        quarantine: Option<PathBuf>,
        /// The state directory (checkpoints, ID maps, quarantine). Default: `.syncline/state` at
        /// the root of the pipeline's git repository.
        #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
        state: Option<PathBuf>,
    },
    /// Show what a run would write (creates, updates with field diffs, rejects), writing nothing.
    #[command(
        name = "dry-run",
        after_help = "Examples:\n  syncline dry-run client.yaml\n  syncline dry-run client.yaml --out plan.json\n\nSources are read for real; no target is written. Exit codes as for `run`."
    )]
    DryRun {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Save the whole plan as JSON (its format: `src/dry_run/mod.rs`, README).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The state directory to read (never written by a dry run).
        #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
        state: Option<PathBuf>,
    },
    /// Run every pipeline under the paths on its schedules, with a JSON API, until SIGTERM.
    #[command(
        after_help = "Examples:\n  syncline serve pipelines/\n  syncline serve . --listen 0.0.0.0:7878 --token-file /etc/syncline/token\n\nJobs run on their `schedule`; files are read again when they change (an invalid change is reported, the last valid version keeps running). `POST /api/pipelines/P/jobs/J/run` runs a job now (bearer token); `GET /api/jobs` lists the jobs. Logs are JSON lines when stderr is not a terminal. Exit codes: 0 stopped by SIGTERM or Ctrl-C, 1 cannot listen, 2 no valid pipeline."
    )]
    Serve {
        /// Pipeline files, or folders whose `.yaml`/`.yml` files are all served.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Where the API listens. Beyond loopback, `--token-file` is required.
        #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// One state folder for every pipeline. Default: `.syncline/state` at the root of each
        /// pipeline's git repository.
        #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
        state: Option<PathBuf>,
        /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
        /// A file holding the bearer token that runs by hand (and, beyond loopback, every
        /// request) need.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Runs at once, all pipelines together; the others wait their turn.
        #[arg(long, default_value_t = 16, value_name = "N")]
        concurrency: usize,
    },
    /// Write exactly the changes of a plan saved by `dry-run --out`, or some of them.
    #[command(
        after_help = "Examples:\n  syncline dry-run client.yaml --out plan.json\n  syncline apply plan.json\n  syncline apply plan.json --only A1 B2\n\nA change whose target moved since the plan was made is refused, and nothing of it is written.\nExit codes: 0 all applied, 3 some changes were refused, 1 a job failed, 2 the plan does not fit the pipeline or the command line is wrong."
    )]
    Apply(apply::ApplyArgs),
    /// Run a pipeline's tests: sample records in, expected records out.
    #[command(after_help = "Example:\n  syncline test pipelines/")]
    Test {
        /// Pipeline files or folders.
        paths: Vec<PathBuf>,
    },
    /// Inspect and repair the saved state: checkpoints, ID maps, quarantine, backups.
    #[command(
        after_help = "Examples:\n  syncline state checkpoints client.yaml\n  syncline state id client.yaml --entity product --key AR-001\n  syncline state quarantine list client.yaml\n  syncline state quarantine replay client.yaml --job products\n  syncline state export client.yaml --out state.jsonl\n  syncline state reset client.yaml --job orders"
    )]
    State(state::StateArgs),
    /// Write the JSON Schema of pipeline files, for editors (yaml-language-server).
    #[command(
        after_help = "Examples:\n  syncline schema                  # writes schemas/pipeline.schema.json\n  syncline schema --check          # fails when the committed schema is out of date\n  syncline schema --out -          # prints it"
    )]
    Schema {
        /// Where to write it; `-` prints it.
        #[arg(long, default_value = syncline::config::schema::SCHEMA_PATH)]
        out: PathBuf,
        /// Write nothing; exit 1 when the file differs from what this syncline generates.
        #[arg(long)]
        check: bool,
    },
}

/// One log event, written to stderr with the secrets redacted when it is complete.
struct RedactedStderr(Vec<u8>);

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedStderr {
    fn drop(&mut self) {
        let text = syncline::config::secrets::redact(&String::from_utf8_lossy(&self.0));
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

/// Logs to stderr, secrets redacted. `serve` tells what it runs (info); as a service, its
/// logs are JSON lines for the log collector.
fn init_logs(serving: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNCLINE_LOG")
        .unwrap_or_else(|_| if serving { "info" } else { "warn" }.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactedStderr(Vec::new()));
    if serving && !std::io::stderr().is_terminal() {
        logs.json().init();
    } else {
        // Colour codes only for a person at a terminal, not in files and CI logs.
        logs.with_ansi(stderr_color()).init();
    }
}

fn main() -> ExitCode {
    let parsed = Cli::try_parse();
    init_logs(matches!(
        parsed,
        Ok(Cli {
            command: Command::Serve { .. }
        })
    ));
    let exit = match parsed {
        Ok(cli) => dispatch(cli.command).unwrap_or_else(|error| {
            error.report();
            error.exit_code()
        }),
        // Usage errors, and `--help` and `--version`, which clap writes to stdout.
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                Exit::Invalid
            } else {
                Exit::Success
            }
        }
    };
    exit.into()
}

fn dispatch(command: Command) -> Result<Exit, CliError> {
    match command {
        Command::Validate {
            paths,
            format,
            secrets,
            deny_warnings,
            connect,
        } => validate::run(&paths, format, secrets.as_deref(), deny_warnings, connect),
        Command::Schema { out, check } => schema::run(&out, check),
        Command::Run {
            pipeline,
            quarantine,
            state,
        } => run::run(&pipeline, quarantine.as_deref(), state.as_deref()),
        Command::DryRun {
            pipeline,
            out,
            state,
        } => run::dry_run(&pipeline, out.as_deref(), state.as_deref()),
        Command::Serve {
            paths,
            listen,
            state,
            secrets,
            token_file,
            concurrency,
        } => serve::run(serve::Serve {
            paths,
            listen,
            state,
            secrets: secrets.as_deref(),
            token_file: token_file.as_deref(),
            concurrency,
        }),
        Command::Test { .. } => Err(CliError::NotYet {
            command: "test",
            part: "pipeline tests",
        }),
        Command::State(args) => state::run(args),
        Command::Apply(args) => apply::run(args),
    }
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
