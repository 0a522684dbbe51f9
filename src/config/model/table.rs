//! Correspondence tables: a status, payment method or unit in one system and its counterpart in
//! the other.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::de::lenient;

/// A correspondence table. Either `map` (source value -> target value) or `inverse_of` (the
/// same correspondence read the other way).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// What this table is for.
    pub description: Option<String>,
    /// Source value -> target value, e.g. `{ "2": order, "4": delivery_note }`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub map: Option<IndexMap<String, serde_json::Value>>,
    /// The name of a table to read backwards (target value -> source value).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub inverse_of: Option<String>,
    /// For an inverse table: which source value to use when several map to the same target
    /// value, e.g. `{ order: "2" }`.
    #[serde(default)]
    pub prefer: IndexMap<String, String>,
    /// What happens to a value the table does not list: `reject` (the record is quarantined with
    /// the reason; the default), `keep` (the value passes unchanged) or `{ default: VALUE }`.
    #[serde(default)]
    pub unmapped: Unmapped,
    /// Match source values without regard to case.
    #[serde(default)]
    pub ignore_case: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Unmapped {
    /// The record is quarantined with the reason "unmapped value".
    #[default]
    Reject,
    /// The value passes through unchanged.
    Keep,
    /// This value is used instead.
    Default(serde_json::Value),
}
