//! `syncline state`: look at and repair what syncline remembers — checkpoints, ID maps, the
//! quarantine — and move it between machines.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use syncline::config::model::{Pipeline, Target};
use syncline::config::secrets::{Secrets, redact};
use syncline::runtime::RunOptions;
use syncline::state::{Change, JobId, Namespace, StateStore, export, sled_store};

use crate::exit::{CliError, Exit, StateRefusal};

#[derive(Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

/// Which state: the pipeline's (and `--state` when it is kept elsewhere).
#[derive(Args)]
struct At {
    /// The pipeline file.
    pipeline: PathBuf,
    /// The state directory. Default: `.syncline/state` at the root of the pipeline's git
    /// repository.
    #[arg(long, value_name = "DIR", env = "SYNCLINE_STATE")]
    state: Option<PathBuf>,
}

#[derive(Subcommand)]
enum StateCommand {
    /// Where each job's incremental read stands.
    Checkpoints(At),
    /// Look up the ID map: a source key's target id, or a target id's source key.
    Id {
        #[command(flatten)]
        at: At,
        /// The entity, as the target names it (`product`, `category`...).
        #[arg(long)]
        entity: String,
        /// The target connection; needed only when several connections write this entity.
        #[arg(long)]
        connection: Option<String>,
        /// The record's key in the source system.
        #[arg(
            long,
            conflicts_with = "target_id",
            required_unless_present = "target_id"
        )]
        key: Option<String>,
        /// The record's id on the target.
        #[arg(long)]
        target_id: Option<String>,
    },
    /// Forget a job's checkpoint: its next run reads its whole source again (unchanged records
    /// are still not sent).
    Reset {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        job: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Write the whole state as JSON lines (a backup, or to move a client).
    Export {
        #[command(flatten)]
        at: At,
        /// Where to write; standard output by default or with `-`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load a state exported with `export` into this state.
    Import {
        #[command(flatten)]
        at: At,
        /// The exported file.
        #[arg(long = "from", value_name = "FILE")]
        from: PathBuf,
    },
    /// Rejected records: list, show, replay (after fixing the cause), drop.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// One line per rejected record: id, job, key, step, reason.
    List {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        job: Option<String>,
        /// Print JSON lines (whole entries) instead.
        #[arg(long)]
        json: bool,
        /// The entries settled since (their record went through on a later run) instead.
        #[arg(long)]
        settled: bool,
    },
    /// One entry, with its record.
    Show {
        #[command(flatten)]
        at: At,
        id: u64,
    },
    /// Run a job's quarantined records again, from the step that rejected them, with the
    /// pipeline as it is now. Records rejected again get new entries.
    Replay {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        job: String,
        /// Only these entries (all of the job's by default).
        ids: Vec<u64>,
        /// A file of `NAME=value` lines for `${secret.NAME}`.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Correct fields of one entry's record and replay it: the fix a person makes to one bad
    /// record (a wrong EAN, a missing code) without touching the source system.
    Edit {
        #[command(flatten)]
        at: At,
        id: u64,
        /// `FIELD=VALUE` (repeatable); a number or a boolean field takes the text as one.
        #[arg(long, value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
        /// A file of `NAME=value` lines for `${secret.NAME}`.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Remove entries for good.
    Drop {
        #[command(flatten)]
        at: At,
        /// These entries.
        ids: Vec<u64>,
        /// Every entry of this job.
        #[arg(long)]
        job: Option<String>,
    },
}

/// The pipeline model (for its name, jobs and targets), even if it has problems elsewhere.
fn pipeline(path: &Path) -> Result<Pipeline, StateRefusal> {
    let validation =
        syncline::check::validate::validate(&[path.to_path_buf()], &Secrets::default());
    validation
        .pipelines
        .into_iter()
        .next()
        .and_then(|p| p.model)
        .ok_or_else(|| StateRefusal::NotAPipeline(path.to_path_buf()))
}

fn name_of(pipeline: &Pipeline) -> Result<String, StateRefusal> {
    pipeline.name.clone().ok_or(StateRefusal::Unnamed)
}

fn open(at: &At) -> Result<sled_store::SledStore, CliError> {
    let dir = syncline::state::dir_for(&at.pipeline, at.state.as_deref());
    Ok(sled_store::open(&dir)?)
}

fn time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| seconds.to_string())
}

pub fn run(args: StateArgs) -> Result<Exit, CliError> {
    let mut out = std::io::stdout().lock();
    let print = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
    };
    match args.command {
        StateCommand::Checkpoints(at) => {
            let name = name_of(&pipeline(&at.pipeline)?)?;
            let store = open(&at)?;
            let checkpoints = store.checkpoints(&name)?;
            if checkpoints.is_empty() {
                print(&mut out, format!("no checkpoint saved for `{name}` yet"));
            }
            for (job, c) in checkpoints {
                let key = c.key.map(|k| format!(", key {k}")).unwrap_or_default();
                print(
                    &mut out,
                    format!(
                        "{job}: cursor {}{key} (saved {})",
                        c.cursor,
                        time(c.saved_at)
                    ),
                );
            }
        }
        StateCommand::Id {
            at,
            entity,
            connection,
            key,
            target_id,
        } => {
            let model = pipeline(&at.pipeline)?;
            let ns = namespace(&model, &entity, connection.as_deref())?;
            let store = open(&at)?;
            match (key, target_id) {
                (Some(key), _) => match store.link(&ns, &key)? {
                    Some(link) => print(
                        &mut out,
                        format!(
                            "{entity} `{key}` -> target id {} (last synced {}{})",
                            link.target_id.as_deref().unwrap_or("(none)"),
                            time(link.synced_at),
                            link.fingerprint
                                .map(|f| format!(", fingerprint {f}"))
                                .unwrap_or_default()
                        ),
                    ),
                    None => {
                        print(
                            &mut out,
                            format!("{entity} `{key}` is not in the ID map of {ns}"),
                        );
                        return Ok(Exit::Failure);
                    }
                },
                (None, Some(id)) => match store.key_for_id(&ns, &id)? {
                    Some(key) => print(&mut out, format!("target id {id} <- {entity} `{key}`")),
                    None => {
                        print(
                            &mut out,
                            format!("target id {id} is not in the ID map of {ns}"),
                        );
                        return Ok(Exit::Failure);
                    }
                },
                (None, None) => return Err(StateRefusal::NoLookup.into()),
            }
        }
        StateCommand::Reset { at, job, yes } => {
            let model = pipeline(&at.pipeline)?;
            let name = name_of(&model)?;
            if !model.jobs.contains_key(&job) {
                return Err(StateRefusal::NoJob(job).into());
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(StateRefusal::Unconfirmed(job).into());
                }
                eprint!("Reset the checkpoint of `{job}`? Type the job name to confirm: ");
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                if answer.trim() != job {
                    eprintln!("not reset");
                    return Ok(Exit::Failure);
                }
            }
            let store = open(&at)?;
            store
                .apply(vec![Change::ResetCheckpoint {
                    job: JobId {
                        pipeline: name,
                        job: job.clone(),
                    },
                }])
                .and_then(|_| store.flush())?;
            print(&mut out, format!("the checkpoint of `{job}` was reset"));
        }
        StateCommand::Export { at, out: file } => {
            let store = open(&at)?;
            // `-` is standard output, as for `schema --out -`.
            let count = match file.filter(|path| path.as_os_str() != "-") {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .map_err(|source| StateRefusal::File { path, source })?;
                    export::export(&store, &mut std::io::BufWriter::new(f))
                }
                None => export::export(&store, &mut out),
            }?;
            eprintln!("{count} entries exported");
        }
        StateCommand::Import { at, from } => {
            let file = std::fs::File::open(&from).map_err(|source| StateRefusal::File {
                path: from.clone(),
                source,
            })?;
            let store = open(&at)?;
            let count = export::import(&store, &mut std::io::BufReader::new(file))?;
            print(&mut out, format!("{count} entries imported"));
        }
        StateCommand::Quarantine(command) => return quarantine(command, &mut out),
    }
    Ok(Exit::Success)
}

/// The ID-map namespace of an entity: the connection of the job that writes it.
fn namespace(
    model: &Pipeline,
    entity: &str,
    connection: Option<&str>,
) -> Result<Namespace, StateRefusal> {
    let mut connections: Vec<&str> = model
        .jobs
        .values()
        .filter_map(|j| match &j.to {
            Some(Target::Http(h)) if h.entity == entity => Some(h.connection.as_str()),
            _ => None,
        })
        .collect();
    connections.sort();
    connections.dedup();
    let connection = match (connection, connections.as_slice()) {
        (Some(c), _) => c.to_string(),
        (None, [one]) => one.to_string(),
        (None, []) => return Err(StateRefusal::NoWriter(entity.to_string())),
        (None, many) => {
            return Err(StateRefusal::ManyWriters {
                entity: entity.to_string(),
                connections: many.iter().map(|c| c.to_string()).collect(),
            });
        }
    };
    Ok(Namespace {
        pipeline: name_of(model)?,
        connection,
        entity: entity.to_string(),
    })
}

fn quarantine(command: QuarantineCommand, out: &mut dyn Write) -> Result<Exit, CliError> {
    match command {
        QuarantineCommand::List {
            at,
            job,
            json,
            settled,
        } => {
            let name = name_of(&pipeline(&at.pipeline)?)?;
            let store = open(&at)?;
            let entries = if settled {
                store.quarantine_history(&name, job.as_deref())
            } else {
                store.quarantined(&name, job.as_deref())
            }?;
            for (id, entry) in &entries {
                let line = if json {
                    serde_json::json!({ "id": id, "entry": entry }).to_string()
                } else {
                    let deferred = if entry.deferred { " (deferred)" } else { "" };
                    format!(
                        "{id}\t{}\t{}\t{}\t{}{deferred}",
                        entry.job, entry.key, entry.step, entry.reason
                    )
                };
                let _ = writeln!(out, "{line}");
            }
            if !json {
                // The rows before the count, whatever the buffering of each stream.
                let _ = out.flush();
                let what = if settled { "settled" } else { "quarantined" };
                eprintln!("{} {what}", entries.len());
            }
        }
        QuarantineCommand::Show { at, id } => {
            let name = name_of(&pipeline(&at.pipeline)?)?;
            let store = open(&at)?;
            let entries = store.quarantined(&name, None)?;
            let Some((_, entry)) = entries.into_iter().find(|(i, _)| *i == id) else {
                return Err(StateRefusal::NoEntry(id).into());
            };
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&entry).unwrap_or_default()
            );
            let _ = writeln!(out, "rejected {}", time(entry.at));
        }
        QuarantineCommand::Drop { at, ids, job } => {
            let name = name_of(&pipeline(&at.pipeline)?)?;
            if ids.is_empty() && job.is_none() {
                return Err(StateRefusal::NothingToDrop.into());
            }
            let store = open(&at)?;
            let entries = store.quarantined(&name, job.as_deref())?;
            let changes: Vec<Change> = entries
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .map(|(id, _)| Change::Release {
                    pipeline: name.clone(),
                    id: *id,
                })
                .collect();
            let count = changes.len();
            store.apply(changes).and_then(|_| store.flush())?;
            let _ = writeln!(out, "{count} entries dropped");
        }
        QuarantineCommand::Replay {
            at,
            job,
            ids,
            secrets,
        } => return replay(at, job, ids, None, secrets.as_deref(), out),
        QuarantineCommand::Edit {
            at,
            id,
            set,
            secrets,
        } => {
            let store = open(&at)?;
            let pipeline = name_of(&pipeline(&at.pipeline)?)?;
            let job = store
                .quarantined(&pipeline, None)?
                .into_iter()
                .find(|(entry, _)| *entry == id)
                .map(|(_, entry)| entry.job)
                .ok_or(StateRefusal::NoEntry(id))?;
            drop(store);
            let edits = set
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(field, value)| (field.to_string(), value.to_string()))
                        .ok_or_else(|| StateRefusal::NotAnEdit(pair.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return replay(at, job, vec![id], Some(edits), secrets.as_deref(), out);
        }
    }
    Ok(Exit::Success)
}

/// `edits`: fields of the (single) entry corrected first.
fn replay(
    at: At,
    job: String,
    ids: Vec<u64>,
    edits: Option<Vec<(String, String)>>,
    secrets: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Exit, CliError> {
    let mut plan = crate::run::prepare(&at.pipeline, secrets)?;
    plan.jobs.retain(|j| j.name == job);
    let Some(job_plan) = plan.jobs.first_mut() else {
        return Err(StateRefusal::NoJob(job).into());
    };
    // Alone in this run: the jobs it needs are not run again.
    job_plan.needs.clear();
    let store = open(&at)?;
    let mut entries = store.quarantined(&plan.name, Some(&job))?;
    entries.retain(|(id, _)| ids.is_empty() || ids.contains(id));
    if let (Some(edits), Some((_, entry))) = (edits, entries.first_mut()) {
        syncline::runtime::replay::correct(&mut entry.record, edits);
    }
    let (replayable, unreadable) = syncline::runtime::replay::prepare(job_plan, &store, entries)?;
    for (id, entry) in &unreadable {
        eprintln!(
            "entry {id} cannot be replayed: the record could not be read ({}); fix the source, or drop it",
            entry.reason
        );
    }
    if replayable.is_empty() {
        let _ = writeln!(out, "nothing to replay");
        return Ok(Exit::Success);
    }
    let options = RunOptions {
        recorder: None,
        progress: std::io::stderr().is_terminal(),
        quarantine: None,
        state: Arc::new(store),
        replay: Some(replayable),
        only: Default::default(),
    };
    let outcome = crate::run::execute(Arc::new(plan), options)?;
    let _ = out.write_all(redact(&outcome.report.render()).as_bytes());
    Ok(Exit::of_run(&outcome.report))
}
