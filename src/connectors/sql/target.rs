//! Writing records to a table: upserts by the `key` columns (statement.rs), in transactions of
//! `batch` records, each record in a savepoint of its own, so one the database refuses is
//! quarantined with the database's message and the others are kept. Through sqlx here, or
//! through ODBC (odbc.rs) on the runtime's blocking threads.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sqlx::{Acquire, Executor};

use super::database::{Database, Pool};
use super::error::SqlError;
use super::statement::{Statement, Statements, name_line};
use super::value::{
    Layout, bind_mysql, bind_pg, bind_sqlite, mysql_record, pg_parameter_types, pg_record,
    sqlite_record,
};
use crate::connectors::{BatchWrite, KeyedTarget, KeyedTargetPlan, WriteError};
use crate::record::{Record, text_of};

#[derive(Debug)]
pub struct SqlTargetPlan {
    pub database: Arc<Database>,
    /// The table, its key and its lines, and the statements that write them.
    pub statements: Statements,
    /// Records per transaction.
    pub batch: usize,
    /// PostgreSQL's parameter types, by statement.
    pub param_types: Mutex<HashMap<String, Arc<Vec<String>>>>,
}

impl KeyedTargetPlan for SqlTargetPlan {
    fn open(self: Arc<Self>) -> Box<dyn KeyedTarget> {
        Box::new(SqlTarget { plan: self })
    }

    fn sent<'r>(&self, record: &'r Record, _creating: bool) -> Cow<'r, Record> {
        Cow::Borrowed(record)
    }

    fn upserts(&self) -> bool {
        true
    }
}

impl SqlTargetPlan {
    /// A row's id in the ID map: its first key column's value.
    fn id_of(&self, record: &Record) -> String {
        let first = self
            .statements
            .table
            .key
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        record.get(first).and_then(text_of).unwrap_or_default()
    }

    /// PostgreSQL's types for `sql`'s parameters, asked once per statement.
    async fn pg_types(
        &self,
        connection: &mut sqlx::PgConnection,
        sql: &str,
    ) -> Result<Arc<Vec<String>>, SqlError> {
        if let Some(types) = self
            .param_types
            .lock()
            .ok()
            .and_then(|t| t.get(sql).cloned())
        {
            return Ok(types);
        }
        let types = Arc::new(pg_parameter_types(&connection.prepare(sql).await?));
        if let Ok(mut cache) = self.param_types.lock() {
            cache.insert(sql.to_string(), types.clone());
        }
        Ok(types)
    }
}

/// `$statement` as a query with its values bound, for a connection of the pool's kind.
macro_rules! bound {
    (sqlite, $plan:expr, $connection:expr, $statement:expr) => {
        $statement
            .values
            .iter()
            .fold(sqlx::query(&$statement.sql), |q, (_, v)| bind_sqlite(q, v))
    };
    (mysql, $plan:expr, $connection:expr, $statement:expr) => {
        $statement
            .values
            .iter()
            .fold(sqlx::query(&$statement.sql), |q, (_, v)| bind_mysql(q, v))
    };
    (postgres, $plan:expr, $connection:expr, $statement:expr) => {{
        let types = $plan.pg_types(&mut *$connection, &$statement.sql).await?;
        let mut query = sqlx::query(&$statement.sql);
        for (i, (column, value)) in $statement.values.iter().enumerate() {
            let type_name = types.get(i).map_or("TEXT", String::as_str);
            query = bind_pg(query, value, type_name, column)?;
        }
        query
    }};
}

/// Runs one statement on a connection of the pool's kind.
macro_rules! run_statement {
    ($kind:ident, $plan:expr, $connection:expr, $statement:expr) => {{
        let statement = $statement;
        bound!($kind, $plan, $connection, statement)
            .execute(&mut *$connection)
            .await?;
    }};
}

/// Runs the records' writes in one transaction, each record's statements in a savepoint: a
/// record the database refuses is undone alone, whole. A failure to reach the database fails
/// them all.
macro_rules! in_transaction {
    ($kind:ident, $plan:expr, $pool:expr, $statements:expr) => {{
        let mut transaction = $pool.begin().await?;
        let mut results = Vec::new();
        for write in $statements {
            let write: Vec<Statement> = match write {
                Ok(write) => write,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let mut savepoint = transaction.begin().await?;
            let connection = savepoint.acquire().await?;
            let result: Result<(), SqlError> = async {
                for (n, statement) in write.iter().enumerate() {
                    let ran: Result<(), SqlError> = async {
                        run_statement!($kind, $plan, connection, statement);
                        Ok(())
                    }
                    .await;
                    ran.map_err(|e| name_line(n, e))?;
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => {
                    savepoint.commit().await?;
                    results.push(Ok(()));
                }
                Err(SqlError::Unavailable(e)) => return Err(SqlError::Unavailable(e)),
                Err(e) => {
                    savepoint.rollback().await?;
                    results.push(Err(e));
                }
            }
        }
        transaction.commit().await?;
        results
    }};
}

pub struct SqlTarget {
    plan: Arc<SqlTargetPlan>,
}

impl SqlTarget {
    /// Runs each record's statements in one transaction; per record, whether it went through.
    async fn run(
        &self,
        statements: Vec<Result<Vec<Statement>, SqlError>>,
    ) -> Result<Vec<Result<(), SqlError>>, SqlError> {
        let plan = &*self.plan;
        // ODBC blocks: off the runtime's workers.
        #[cfg(feature = "odbc")]
        if let Some(pool) = plan.database.odbc_pool() {
            let pool = pool.clone();
            return super::odbc::off_runtime(move || super::odbc::transaction(&pool, statements))
                .await;
        }
        Ok(match plan.database.pool().await? {
            Pool::Sqlite(pool) => in_transaction!(sqlite, plan, pool, statements),
            Pool::MySql(pool) => in_transaction!(mysql, plan, pool, statements),
            Pool::Postgres(pool) => in_transaction!(postgres, plan, pool, statements),
        })
    }

    async fn one(&self, statements: Result<Vec<Statement>, SqlError>) -> Result<(), WriteError> {
        let mut results = self.run(vec![statements]).await.map_err(write_error)?;
        results
            .pop()
            .unwrap_or_else(|| Err(SqlError::Unavailable("no answer".into())))
            .map_err(write_error)
    }
}

fn write_error(error: SqlError) -> WriteError {
    match error {
        SqlError::Refused(reason) | SqlError::Value(reason) => WriteError::Rejected(reason),
        SqlError::Unavailable(reason) => WriteError::Unavailable(reason),
    }
}

#[async_trait::async_trait]
impl KeyedTarget for SqlTarget {
    fn fork(&self) -> Box<dyn KeyedTarget> {
        Box::new(SqlTarget {
            plan: self.plan.clone(),
        })
    }

    /// Every write is an upsert at the record's key: a create is one too.
    async fn create(&mut self, record: &Record) -> Result<String, WriteError> {
        self.one(self.plan.statements.write(record)).await?;
        Ok(self.plan.id_of(record))
    }

    async fn update(&mut self, _target_id: &str, record: &Record) -> Result<(), WriteError> {
        self.one(self.plan.statements.write(record)).await
    }

    async fn delete(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError> {
        self.one(
            self.plan
                .statements
                .delete(target_id, record)
                .map(|d| vec![d]),
        )
        .await
    }

    fn retry_after(&self, _tries: u32) -> Option<std::time::Duration> {
        None
    }

    fn batch_size(&self) -> Option<usize> {
        Some(self.plan.batch)
    }

    async fn batch(
        &mut self,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError> {
        let plan = &*self.plan;
        let statements = writes
            .iter()
            .map(|write| match write {
                BatchWrite::Create(record) | BatchWrite::Update(_, record) => {
                    plan.statements.write(record)
                }
                BatchWrite::Delete(id) => plan.statements.delete(id, &Value::Null).map(|d| vec![d]),
            })
            .collect();
        let results = self.run(statements).await.map_err(write_error)?;
        Ok(writes
            .iter()
            .zip(results)
            .map(|(write, result)| {
                result.map_err(write_error)?;
                Ok(match write {
                    BatchWrite::Create(record) => plan.id_of(record),
                    BatchWrite::Update(id, _) | BatchWrite::Delete(id) => id.to_string(),
                })
            })
            .collect())
    }

    async fn read(
        &mut self,
        target_id: &str,
        record: &Record,
    ) -> Result<Option<Record>, WriteError> {
        let statement = self
            .plan
            .statements
            .select(target_id, record)
            .map_err(write_error)?;
        let plan = &*self.plan;
        #[cfg(feature = "odbc")]
        if let Some(pool) = plan.database.odbc_pool() {
            let pool = pool.clone();
            return super::odbc::off_runtime(move || super::odbc::select_one(&pool, &statement))
                .await
                .map_err(write_error);
        }
        let read = async {
            macro_rules! fetch {
                ($kind:ident, $pool:expr, $record:expr) => {{
                    let mut connection = $pool.acquire().await?;
                    let query = bound!($kind, plan, connection, statement);
                    match query.fetch_optional(&mut *connection).await? {
                        Some(row) => Some($record(&row)?),
                        None => None,
                    }
                }};
            }
            Ok::<_, SqlError>(match plan.database.pool().await? {
                Pool::Sqlite(pool) => fetch!(sqlite, pool, sqlite_record),
                Pool::MySql(pool) => {
                    fetch!(mysql, pool, |row| mysql_record(row, &Layout::mysql(row)))
                }
                Pool::Postgres(pool) => {
                    fetch!(postgres, pool, |row| pg_record(row, &Layout::pg(row)))
                }
            })
        };
        read.await.map_err(write_error)
    }

    async fn find(
        &mut self,
        _rule: usize,
        _record: &Record,
        _value: &str,
    ) -> Result<Vec<String>, WriteError> {
        Ok(Vec::new())
    }
}
