//! A database connection's parts of a plan: its sources and targets, sharing one pool per
//! connection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::database::Database;
use super::dialect::Dialect;
use super::params::{self, parameterize};
use super::source::SqlSourcePlan;
use super::statement::{Statements, Table};
use super::target::SqlTargetPlan;
use crate::config::model::{self, Connection, CursorKind, Pipeline, SqlDialect, Target};
use crate::config::secrets::Secrets;

/// Why a database job's part of the plan cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SqlPlanError {
    #[error("`{0}` is not a sql connection")]
    NotSql(String),
    #[error("connection `{name}`: {reason}")]
    Connection { name: String, reason: String },
    #[error("the query's `:{0}` is neither `:cursor` nor one of the pipeline's vars")]
    UnknownParameter(String),
    #[error("a sql target needs `key` columns to upsert on")]
    NoKey,
}

const DEFAULT_POOL_SIZE: u32 = 4;
const DEFAULT_BATCH: usize = 500;

/// One pool per connection, shared by its sources and targets.
pub struct SqlDatabases {
    /// The pipeline file's folder, which a SQLite path is relative to.
    base_dir: PathBuf,
    made: HashMap<String, Arc<Database>>,
}

impl SqlDatabases {
    pub fn new(base_dir: PathBuf) -> Self {
        SqlDatabases {
            base_dir,
            made: HashMap::new(),
        }
    }

    pub fn get(
        &mut self,
        name: &str,
        pipeline: &Pipeline,
        secrets: &Secrets,
    ) -> Result<Arc<Database>, SqlPlanError> {
        if let Some(database) = self.made.get(name) {
            return Ok(database.clone());
        }
        let Some(Connection::Sql(connection)) = pipeline.connections.get(name) else {
            return Err(SqlPlanError::NotSql(name.to_string()));
        };
        // Opened read-only when no job writes through it.
        let written = pipeline
            .jobs
            .values()
            .any(|job| matches!(&job.to, Some(Target::Sql(target)) if target.connection == name));
        let failed = |reason: String| SqlPlanError::Connection {
            name: name.to_string(),
            reason,
        };
        let pool_size = connection.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        let database = match (&connection.url, &connection.odbc, connection.dialect) {
            (Some(url), None, None) => {
                let url = secrets.resolve(url).map_err(failed)?;
                Database::new(&url, &self.base_dir, pool_size, !written)
            }
            (None, Some(string), Some(dialect)) => {
                let string = secrets.resolve(string).map_err(failed)?;
                Database::odbc(
                    &string,
                    dialect_of(dialect),
                    &self.base_dir,
                    pool_size,
                    !written,
                )
            }
            _ => {
                return Err(failed(
                    "a sql connection has either `url`, or `odbc` with `dialect`".into(),
                ));
            }
        }
        .map_err(|e| failed(e.to_string()))?;
        let database = Arc::new(database);
        self.made.insert(name.to_string(), database.clone());
        Ok(database)
    }
}

fn dialect_of(dialect: SqlDialect) -> Dialect {
    match dialect {
        SqlDialect::Mssql => Dialect::MsSql,
        SqlDialect::Postgres => Dialect::Postgres,
        SqlDialect::Sqlite => Dialect::Sqlite,
        SqlDialect::Mysql => Dialect::MySql,
    }
}

/// The named parameters of a query that are neither `:cursor` nor a var.
pub fn unknown_parameters(query: &str, pipeline: &Pipeline) -> Vec<String> {
    params::names(query)
        .into_iter()
        .filter(|name| name != "cursor" && !pipeline.vars.contains_key(name))
        .collect()
}

pub fn source_plan(
    sql: &model::SqlSource,
    pipeline: &Pipeline,
    secrets: &Secrets,
    cursor_kind: Option<CursorKind>,
    databases: &mut SqlDatabases,
) -> Result<SqlSourcePlan, SqlPlanError> {
    if let Some(name) = unknown_parameters(&sql.query, pipeline).into_iter().next() {
        return Err(SqlPlanError::UnknownParameter(name));
    }
    let database = databases.get(&sql.connection, pipeline, secrets)?;
    let query = parameterize(&sql.query, database.placeholders);
    let vars = query
        .names
        .iter()
        .filter_map(|name| Some((name.clone(), pipeline.vars.get(name)?.clone())))
        .collect();
    Ok(SqlSourcePlan {
        database,
        query,
        vars,
        cursor_kind: cursor_kind.unwrap_or_default(),
    })
}

pub fn target_plan(
    sql: &model::SqlTarget,
    pipeline: &Pipeline,
    secrets: &Secrets,
    databases: &mut SqlDatabases,
) -> Result<SqlTargetPlan, SqlPlanError> {
    if sql.key.is_empty() {
        return Err(SqlPlanError::NoKey);
    }
    let database = databases.get(&sql.connection, pipeline, secrets)?;
    let statements = Statements {
        dialect: database.dialect,
        placeholders: database.placeholders,
        table: Table {
            name: sql.table.clone(),
            key: sql.key.clone(),
        },
        lines: sql.lines.as_ref().map(|lines| {
            let table = Table {
                name: lines.table.clone(),
                key: lines.key.clone(),
            };
            (lines.field.clone(), table)
        }),
    };
    Ok(SqlTargetPlan {
        database,
        statements,
        batch: sql.batch.map_or(DEFAULT_BATCH, |b| b.max(1) as usize),
        param_types: Mutex::new(HashMap::new()),
    })
}
