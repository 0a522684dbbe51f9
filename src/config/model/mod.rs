//! The typed model of a pipeline file. Doc comments here become the editor's hover text through
//! the generated JSON Schema (`syncline schema`), so they are written for the person editing YAML.

mod alerts;
mod connection;
mod job;
mod table;
pub mod values;
mod webhook;

pub use alerts::*;
pub use connection::*;
pub use job::*;
pub use table::*;
pub use values::*;
pub use webhook::*;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::de::lenient;

/// A syncline pipeline: the connections to a client's systems, the correspondence tables between
/// them, and the jobs that move records from one to another.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Version of the pipeline language this file is written in. Always `1`.
    // Optional in Rust only so that a bad value does not hide the rest of the file; required by
    // the schema and by the checks.
    #[serde(default, deserialize_with = "lenient::opt")]
    #[schemars(required)]
    pub version: Option<u32>,
    /// Name of the pipeline, unique in a client repository. Checkpoints and ID maps are kept
    /// under it: renaming a pipeline starts its state afresh.
    #[serde(default, deserialize_with = "lenient::opt")]
    #[schemars(required)]
    pub name: Option<String>,
    /// What this pipeline does, for the people who maintain it.
    pub description: Option<String>,
    /// A template this file builds on, as a path relative to this file (e.g.
    /// `../../pipelines/prestashop/erp-sync.yaml`). Mappings are merged key by key, lists are
    /// replaced; tag a list `!append`, `!prepend` or `!merge` (items matched by `id`) to combine
    /// it instead, a mapping `!replace` to replace it whole, and a value `!unset` to remove it.
    pub extends: Option<String>,
    /// Values used in strings as `${vars.NAME}` and in scripts as `vars.NAME`.
    #[serde(default)]
    pub vars: IndexMap<String, serde_json::Value>,
    /// The time zone the jobs' cron schedules are read in, e.g. `Europe/Bucharest` (a job's
    /// `schedule` may name its own). Default: the zone of the machine `syncline serve` runs on.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub timezone: Option<TimeZone>,
    /// The systems this pipeline reads from and writes to, by name.
    #[serde(default, deserialize_with = "lenient::map")]
    pub connections: IndexMap<String, Connection>,
    /// Correspondence tables (statuses, payment methods, units...), by name.
    #[serde(default, deserialize_with = "lenient::map")]
    pub tables: IndexMap<String, Table>,
    /// The jobs, by name. A job reads records from a source, runs them through its steps and
    /// writes them to a target.
    #[serde(deserialize_with = "lenient::map")]
    pub jobs: IndexMap<String, Job>,
    /// Messages to people when a job fails or quarantines records (chat, e-mail).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub alerts: Option<Alerts>,
}
