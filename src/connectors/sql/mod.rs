//! The ERP's own database as a source and a target, through sqlx: SQLite (embedded),
//! PostgreSQL, MySQL and MariaDB, by URL; or, with the `odbc` feature, any database with an
//! ODBC driver (SQL Server through FreeTDS), by connection string.
//!
//! - `dialect.rs`: the SQL a database speaks; `statement.rs`: a target's statements in it;
//! - `database.rs`: a connection's pool, opened on first use on the job's runtime;
//! - `odbc.rs`: ODBC's connections, reads and transactions (blocking calls, off the runtime);
//!   `connection_string.rs`: an ODBC string shown without its credentials;
//! - `params.rs`: named parameters (`:cursor`, `:warehouse`), always bound, never spliced;
//! - `value.rs`: columns to JSON and JSON to bound values, faithful to each database's types;
//! - `source.rs`: a query streamed row by row; `target.rs`: upserts in transactions;
//! - `error.rs`: what a failure says about the record.

pub mod compile;
#[cfg_attr(not(feature = "odbc"), allow(dead_code))]
mod connection_string;
pub mod database;
pub mod dialect;
pub mod error;
#[cfg(feature = "odbc")]
mod odbc;
pub mod params;
pub mod source;
pub mod statement;
pub mod target;
mod value;
