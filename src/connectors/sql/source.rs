//! A query's rows as records, streamed one by one (flat memory on a table of any size), its
//! named parameters bound: `:cursor` to the checkpoint (moved back by the look-back), the
//! others to the pipeline's vars.

use std::sync::Arc;

use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::Executor;
use tokio::runtime::Handle;

use super::database::{Database, Pool};
use super::error::SqlError;
use super::params::Parameterized;
use super::value::{
    Layout, bind_mysql, bind_pg, bind_sqlite, mysql_record, pg_parameter_types, pg_record,
    sqlite_record,
};
use crate::config::model::CursorKind;
use crate::connectors::{ConnectorError, Item, Source};
use crate::record::Record;

/// What `:cursor` is on a first run without `initial`: before any row.
fn before_any(kind: CursorKind) -> Value {
    match kind {
        CursorKind::Timestamp => Value::from("1900-01-01 00:00:00"),
        CursorKind::Number => Value::from(i64::MIN),
        CursorKind::Token => Value::from(""),
    }
}

#[derive(Debug)]
pub struct SqlSourcePlan {
    pub database: Arc<Database>,
    pub query: Parameterized,
    /// Each parameter's value but the cursor's, by name (the pipeline's vars).
    pub vars: Vec<(String, Value)>,
    /// How `:cursor` is bound: a number, or text.
    pub cursor_kind: CursorKind,
}

impl SqlSourcePlan {
    /// A reader of the query's rows; `cursor`: what `:cursor` stands for. Its statements run
    /// on the runtime of the calling thread (a job's).
    pub fn open(self: &Arc<Self>, cursor: Option<String>) -> Box<dyn Source> {
        let cursor = match (cursor, self.cursor_kind) {
            (None, kind) => before_any(kind),
            (Some(text), CursorKind::Number) => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.trim().parse::<f64>().map(Value::from))
                .unwrap_or(Value::String(text)),
            (Some(text), _) => Value::String(text),
        };
        Box::new(SqlSource {
            plan: self.clone(),
            runtime: Handle::try_current().ok(),
            cursor,
        })
    }

    /// The values of the query's placeholders, in order.
    fn values<'a>(&'a self, cursor: &'a Value) -> Vec<&'a Value> {
        self.query
            .names
            .iter()
            .map(|name| match name.as_str() {
                "cursor" => cursor,
                name => self
                    .vars
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(&Value::Null, |(_, v)| v),
            })
            .collect()
    }
}

struct SqlSource {
    plan: Arc<SqlSourcePlan>,
    runtime: Option<Handle>,
    cursor: Value,
}

impl Source for SqlSource {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        let mut n = 0u64;
        // A row that cannot be read is quarantined with its number; the rest go on.
        let mut emit_row = |record: Result<Record, SqlError>| {
            n += 1;
            emit(match record {
                Ok(record) => Item::Record(record),
                Err(e) => Item::Bad {
                    at: format!("row {n}"),
                    reason: e.to_string(),
                },
            })
        };
        // ODBC blocks, which the reader, a thread of its own, may do.
        #[cfg(feature = "odbc")]
        if let Some(pool) = self.plan.database.odbc_pool() {
            let plan = &*self.plan;
            let values = plan.values(&self.cursor);
            let named: Vec<(&str, &Value)> = plan
                .query
                .names
                .iter()
                .map(String::as_str)
                .zip(values)
                .collect();
            super::odbc::read(pool, &plan.query.sql, &named, &mut emit_row)?;
            return Ok(());
        }
        let Some(runtime) = self.runtime.clone() else {
            return Err(ConnectorError::Sql(SqlError::Unavailable(
                "no runtime to query the database on".into(),
            )));
        };
        runtime.block_on(self.stream(&mut emit_row))?;
        Ok(())
    }
}

impl SqlSource {
    async fn stream(
        &self,
        emit_row: &mut dyn FnMut(Result<Record, SqlError>) -> bool,
    ) -> Result<(), SqlError> {
        let plan = &*self.plan;
        let sql = plan.query.sql.as_str();
        let values = plan.values(&self.cursor);
        match plan.database.pool().await? {
            Pool::Sqlite(pool) => {
                let query = values
                    .iter()
                    .fold(sqlx::query(sql), |q, v| bind_sqlite(q, v));
                let mut rows = query.fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    if !emit_row(sqlite_record(&row)) {
                        break;
                    }
                }
            }
            Pool::MySql(pool) => {
                let query = values
                    .iter()
                    .fold(sqlx::query(sql), |q, v| bind_mysql(q, v));
                let mut rows = query.fetch(pool);
                let mut layout = None;
                while let Some(row) = rows.try_next().await? {
                    let layout = layout.get_or_insert_with(|| Layout::mysql(&row));
                    if !emit_row(mysql_record(&row, layout)) {
                        break;
                    }
                }
            }
            Pool::Postgres(pool) => {
                // PostgreSQL binds only values of the types it expects: it says which.
                let types = pg_parameter_types(&pool.prepare(sql).await?);
                let mut query = sqlx::query(sql);
                for (i, value) in values.iter().enumerate() {
                    let type_name = types.get(i).map_or("TEXT", String::as_str);
                    let name = format!(":{}", plan.query.names[i]);
                    query = bind_pg(query, value, type_name, &name)?;
                }
                let mut rows = query.fetch(pool);
                let mut layout = None;
                while let Some(row) = rows.try_next().await? {
                    let layout = layout.get_or_insert_with(|| Layout::pg(&row));
                    if !emit_row(pg_record(&row, layout)) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
