//! The `syncline` command line: parses arguments, calls the library, maps outcomes to exit codes
//! (0 success, 1 runtime failure, 2 invalid configuration).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use syncline::check::validate;
use syncline::config::schema;
use syncline::config::secrets::{Secrets, redact};
use syncline::diagnostics::RenderOptions;
use syncline::plan::Plan;
use syncline::runtime::{RunOptions, RunOutcome};
use syncline::state::{StateStore, sled_store};

mod state;

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
    },
    /// Run pipeline jobs: read, map, write, and report in business terms.
    #[command(
        after_help = "Example:\n  syncline run examples/quickstart/quickstart.yaml\n  syncline run client.yaml --format json --quarantine rejected.ndjson\n\nExit codes: 0 all good, 3 some records were rejected, 1 a job failed, 2 invalid configuration, 130 interrupted."
    )]
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
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
        /// The pipeline file.
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// A file of `NAME=value` lines for `${secret.NAME}`; the environment is used otherwise.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
        /// Save the whole plan as JSON (its format: `src/plan/mod.rs`, README).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The state directory to read (never written by a dry run).
        #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
        state: Option<PathBuf>,
    },
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
        #[arg(long, default_value = schema::SCHEMA_PATH)]
        out: PathBuf,
        /// Write nothing; exit 1 when the file differs from what this syncline generates.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Located diagnostics with the source lines, for people.
    Human,
    /// One JSON document, for editors and CI.
    Json,
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNCLINE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(|| RedactedStderr(Vec::new()))
        // Colour codes only for a person at a terminal, not in files and CI logs.
        .with_ansi(stderr_color())
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate {
            paths,
            format,
            secrets,
            deny_warnings,
        } => run_validate(&paths, format, secrets.as_deref(), deny_warnings),
        Command::Schema { out, check } => run_schema(&out, check),
        Command::Run {
            pipeline,
            format,
            secrets,
            quarantine,
            state,
        } => run_pipeline(
            &pipeline,
            format,
            secrets.as_deref(),
            quarantine.as_deref(),
            state.as_deref(),
        ),
        Command::DryRun {
            pipeline,
            format,
            secrets,
            out,
            state,
        } => dry_run(
            &pipeline,
            format,
            secrets.as_deref(),
            out.as_deref(),
            state.as_deref(),
        ),
        Command::Test { .. } => not_yet("test", "pipeline tests"),
        Command::State(args) => state::run(args),
    };
    ExitCode::from(code)
}

fn not_yet(command: &str, part: &str) -> u8 {
    eprintln!(
        "syncline {command} is not available yet: it arrives with {part}. `syncline validate` checks pipeline files today."
    );
    1
}

fn load_secrets(file: Option<&std::path::Path>) -> Result<Secrets, u8> {
    file.map(Secrets::from_file)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|problems| {
            // No source snippet: the file holds secrets.
            for p in problems {
                eprintln!("error: {}", p.message);
                if let Some(hint) = p.hint {
                    eprintln!("  help: {hint}");
                }
            }
            2
        })
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Validates and compiles a pipeline for `run` and `dry-run`; an exit code when it cannot run.
fn prepare(path: &std::path::Path, secrets_file: Option<&std::path::Path>) -> Result<Plan, u8> {
    let secrets = load_secrets(secrets_file)?;
    let validation = validate::validate(&[path.to_path_buf()], &secrets);
    secrets.protect_used(validation.secret_names.iter().map(String::as_str));
    if validation.errors() > 0 {
        let text = validation.render_human(RenderOptions {
            color: stderr_color(),
            width: 100,
        });
        eprint!("{}", redact(&text));
        return Err(validation.exit_code(false) as u8);
    }
    let Some(loaded) = validation.pipelines.first() else {
        eprintln!("no pipeline in {}", path.display());
        return Err(1);
    };
    let context = syncline::plan::CompileContext {
        sources: &validation.sources,
        secrets: &secrets,
    };
    match syncline::plan::compile(loaded, &context) {
        Ok(plan) => Ok(plan),
        Err(e) => {
            eprintln!("error: {}", redact(&e.to_string()));
            Err(2)
        }
    }
}

/// Runs a plan on a fresh runtime; Ctrl-C stops it cleanly.
fn execute(plan: Arc<Plan>, options: RunOptions) -> Result<RunOutcome, u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            1
        })?;
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
                std::process::exit(130);
            }
        });
        syncline::runtime::run(plan, options, cancel.clone()).await
    }))
}

fn run_pipeline(
    path: &std::path::Path,
    format: Format,
    secrets_file: Option<&std::path::Path>,
    quarantine: Option<&std::path::Path>,
    state_dir: Option<&std::path::Path>,
) -> u8 {
    let plan = match prepare(path, secrets_file) {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let state = match open_state(path, state_dir) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let quarantine: Option<Box<dyn Write + Send>> =
        match quarantine.map(std::fs::File::create).transpose() {
            Ok(file) => file.map(|f| Box::new(std::io::BufWriter::new(f)) as Box<dyn Write + Send>),
            Err(e) => {
                eprintln!("error: cannot create the quarantine file: {e}");
                return 1;
            }
        };
    let options = RunOptions {
        recorder: None,
        progress: std::io::stderr().is_terminal(),
        quarantine,
        state,
        replay: None,
    };
    let outcome = match execute(Arc::new(plan), options) {
        Ok(outcome) => outcome,
        Err(code) => return code,
    };
    let text = match format {
        Format::Human => outcome.report.render(),
        Format::Json => serde_json::to_string_pretty(&outcome.report).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(redact(&text).as_bytes());
    outcome.report.exit_code()
}

/// Opens the state a run writes to: `--state`, or the default for the pipeline.
fn open_state(
    pipeline: &std::path::Path,
    dir: Option<&std::path::Path>,
) -> Result<Arc<dyn StateStore>, u8> {
    sled_store::open(&syncline::state::dir_for(pipeline, dir))
        .map(|store| Arc::new(store) as Arc<dyn StateStore>)
        .map_err(|e| {
            eprintln!("error: {e}");
            1
        })
}

fn dry_run(
    path: &std::path::Path,
    format: Format,
    secrets_file: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
    state_dir: Option<&std::path::Path>,
) -> u8 {
    let plan = match prepare(path, secrets_file) {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let dir = syncline::state::dir_for(path, state_dir);
    let state: Arc<dyn StateStore> = match sled_store::open_existing(&dir) {
        Ok(Some(store)) => Arc::new(syncline::state::ReadOnly(store)),
        Ok(None) => Arc::new(syncline::state::memory::MemoryStore::empty()),
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let plan = Arc::new(plan);
    let recorder = Arc::new(syncline::dry_run::PlanRecorder::new(
        plan.clone(),
        state.clone(),
    ));
    let options = RunOptions {
        recorder: Some(recorder.clone()),
        progress: std::io::stderr().is_terminal(),
        quarantine: None,
        state,
        replay: None,
    };
    let outcome = match execute(plan, options) {
        Ok(outcome) => outcome,
        Err(code) => return code,
    };
    let code = outcome.report.exit_code();
    let Ok(recorder) = Arc::try_unwrap(recorder) else {
        eprintln!("error: the dry run did not end");
        return 1;
    };
    let dry = recorder.finish(outcome.report);
    let json = serde_json::to_string_pretty(&dry).unwrap_or_default() + "\n";
    if let Some(out) = out
        && let Err(e) = std::fs::write(out, redact(&json))
    {
        eprintln!("error: cannot write {}: {e}", out.display());
        return 1;
    }
    let text = match format {
        Format::Human => dry.render(20),
        Format::Json => json,
    };
    let _ = std::io::stdout().write_all(redact(&text).as_bytes());
    code
}

fn run_validate(
    paths: &[PathBuf],
    format: Format,
    secrets_file: Option<&std::path::Path>,
    deny_warnings: bool,
) -> u8 {
    let secrets = match load_secrets(secrets_file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let validation = validate::validate(paths, &secrets);
    let output = match format {
        Format::Json => validation.render_json(),
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            validation.render_human(RenderOptions { color, width: 100 })
        }
    };
    secrets.protect_used(validation.secret_names.iter().map(String::as_str));
    let _ = std::io::stdout().write_all(redact(&output).as_bytes());
    validation.exit_code(deny_warnings) as u8
}

fn run_schema(out: &std::path::Path, check: bool) -> u8 {
    let generated = schema::pipeline_schema();
    if out.as_os_str() == "-" {
        print!("{generated}");
        return 0;
    }
    if check {
        return match std::fs::read_to_string(out) {
            Ok(current) if current == generated => 0,
            Ok(_) => {
                eprintln!(
                    "{} is out of date: run `syncline schema` and commit it",
                    out.display()
                );
                1
            }
            Err(e) => {
                eprintln!("cannot read {}: {e}", out.display());
                1
            }
        };
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("cannot create {}: {e}", dir.display());
        return 1;
    }
    match std::fs::write(out, generated) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write {}: {e}", out.display());
            1
        }
    }
}
