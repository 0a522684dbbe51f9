//! The ERP's own database as a source and a target, through sqlx: SQLite (embedded),
//! PostgreSQL, MySQL and MariaDB, by URL.
//!
//! - `database.rs`: a connection's pool, opened on first use on the job's runtime;
//! - `params.rs`: named parameters (`:cursor`, `:warehouse`), always bound, never spliced;
//! - `value.rs`: columns to JSON and JSON to bound values, faithful to each database's types;
//! - `source.rs`: a query streamed row by row; `target.rs`: upserts in transactions;
//! - `error.rs`: what a failure says about the record.

pub mod compile;
pub mod database;
pub mod error;
pub mod params;
pub mod source;
pub mod target;
mod value;
