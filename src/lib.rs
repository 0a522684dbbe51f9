//! syncline: declarative integration pipelines between ERPs, shops, suppliers and CRMs.
//!
//! The house, from the top down; a module imports only modules below it:
//! [`serve`] -> [`dry_run`] -> [`runtime`] -> [`plan`] -> {[`connectors`], [`steps`], [`check`]} ->
//! [`config`] -> {[`record`], [`diagnostics`], [`state`]}. `tests/layering.rs` holds the
//! code to it.

pub mod check;
pub mod config;
pub mod connectors;
pub mod diagnostics;
pub mod dry_run;
pub mod plan;
pub mod record;
pub mod runtime;
pub mod serve;
pub mod state;
pub mod steps;
