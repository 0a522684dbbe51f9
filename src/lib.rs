//! syncline: declarative integration pipelines between ERPs, shops, suppliers and CRMs.
//!
//! Data flows one way: files -> [`config`] (YAML to a typed model, with a span for every node)
//! -> [`compile`] (every semantic check, all diagnostics at once) -> runtime.

pub mod compile;
pub mod config;
pub mod connectors;
pub mod diagnostics;
pub mod plan;
pub mod record;
pub mod runtime;
pub mod schema;
pub mod state;
pub mod steps;
pub mod validate;
