//! Writing records to a table: upserts by the `key` columns (ON CONFLICT, or ON DUPLICATE KEY
//! for MySQL), in transactions of `batch` records, each record in a savepoint of its own, so
//! one the database refuses is quarantined with the database's message and the others are
//! kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sqlx::{Acquire, Either, Executor, Statement as _, TypeInfo};

use super::database::{Database, Dialect, Pool};
use super::error::SqlError;
use super::value::{
    Layout, bind_mysql, bind_pg, bind_sqlite, mysql_record, pg_record, sqlite_record,
};
use crate::connectors::{BatchWrite, KeyedTarget, KeyedTargetPlan, WriteError};
use crate::record::{Record, text_of};

/// A table and the columns its rows are upserted on.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub key: Vec<String>,
}

#[derive(Debug)]
pub struct SqlTargetPlan {
    pub database: Arc<Database>,
    /// The first key column is a row's id in the ID map.
    pub table: Table,
    /// A document's lines: the record's field that lists them, and their table. A document
    /// and its lines are written in one savepoint: all of them, or none.
    pub lines: Option<(String, Table)>,
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

/// One statement and its values, with the column each value goes to (for messages).
struct Statement {
    sql: String,
    values: Vec<(String, Value)>,
}

impl SqlTargetPlan {
    /// A row's id in the ID map: its first key column's value.
    fn id_of(&self, record: &Record) -> String {
        let first = self
            .table
            .key
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        record.get(first).and_then(text_of).unwrap_or_default()
    }

    fn quote(&self, name: &str) -> Result<String, SqlError> {
        self.database.dialect.quote(name)
    }

    fn fields(record: &Record) -> Result<Vec<(String, Value)>, SqlError> {
        match record {
            Value::Object(fields) => {
                Ok(fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => Err(SqlError::Value(
                "the record is not an object of columns".into(),
            )),
        }
    }

    /// The statements that write `record`: its upsert, then its lines' (`line N: ...` names
    /// the one refused).
    fn write(&self, record: &Record) -> Result<Vec<Statement>, SqlError> {
        let mut values = Self::fields(record)?;
        let Some((field, table)) = &self.lines else {
            return Ok(vec![self.upsert(&self.table, values)?]);
        };
        let lines = match values.iter().position(|(name, _)| name == field) {
            Some(at) => values.remove(at).1,
            None => Value::Null,
        };
        let mut statements = vec![self.upsert(&self.table, values)?];
        for (n, line) in lines.as_array().into_iter().flatten().enumerate() {
            let line = Self::fields(line)
                .and_then(|values| self.upsert(table, values))
                .map_err(|e| SqlError::Value(format!("line {}: {e}", n + 1)))?;
            statements.push(line);
        }
        Ok(statements)
    }

    /// `INSERT ... ON CONFLICT (key) DO UPDATE` (or MySQL's `ON DUPLICATE KEY UPDATE`).
    fn upsert(&self, table: &Table, values: Vec<(String, Value)>) -> Result<Statement, SqlError> {
        for key in &table.key {
            if !values.iter().any(|(name, _)| name == key) {
                return Err(SqlError::Value(format!("the record has no `{key}` column")));
            }
        }
        let dialect = self.database.dialect;
        let columns: Vec<String> = values
            .iter()
            .map(|(name, _)| self.quote(name))
            .collect::<Result<_, _>>()?;
        let placeholders: Vec<String> =
            (1..=values.len()).map(|n| dialect.placeholder(n)).collect();
        let changed: Vec<&String> = values
            .iter()
            .zip(&columns)
            .filter(|((name, _), _)| !table.key.contains(name))
            .map(|(_, quoted)| quoted)
            .collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.quote(&table.name)?,
            columns.join(", "),
            placeholders.join(", ")
        );
        if dialect == Dialect::MySql {
            let set: Vec<String> = match changed.is_empty() {
                true => vec![format!("{0} = {0}", columns[0])],
                false => changed
                    .iter()
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect(),
            };
            sql += &format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "));
        } else {
            let keys: Vec<String> = table
                .key
                .iter()
                .map(|k| self.quote(k))
                .collect::<Result<_, _>>()?;
            sql += &format!(" ON CONFLICT ({}) DO ", keys.join(", "));
            sql += &match changed.is_empty() {
                true => "NOTHING".to_string(),
                false => {
                    let set: Vec<String> = changed
                        .iter()
                        .map(|c| format!("{c} = excluded.{c}"))
                        .collect();
                    format!("UPDATE SET {}", set.join(", "))
                }
            };
        }
        Ok(Statement { sql, values })
    }

    /// The row's address: its `key` columns' values.
    fn address(&self, target_id: &str, record: &Record) -> Result<Vec<(String, Value)>, SqlError> {
        // A single key column's value is the target id itself (a deletion carries no record).
        let single = self.table.key.len() == 1;
        self.table
            .key
            .iter()
            .map(|k| match record.get(k) {
                Some(v) => Ok((k.clone(), v.clone())),
                None if single => Ok((k.clone(), Value::from(target_id))),
                None => Err(SqlError::Value(format!("the record has no `{k}` column"))),
            })
            .collect()
    }

    fn where_clause(&self, address: &[(String, Value)], from: usize) -> Result<String, SqlError> {
        let dialect = self.database.dialect;
        let conditions: Vec<String> = address
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                Ok(format!(
                    "{} = {}",
                    self.quote(name)?,
                    dialect.placeholder(from + i)
                ))
            })
            .collect::<Result<_, SqlError>>()?;
        Ok(conditions.join(" AND "))
    }

    fn delete(&self, target_id: &str, record: &Record) -> Result<Statement, SqlError> {
        let address = self.address(target_id, record)?;
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            self.quote(&self.table.name)?,
            self.where_clause(&address, 1)?
        );
        Ok(Statement {
            sql,
            values: address,
        })
    }

    fn select(&self, target_id: &str, record: &Record) -> Result<Statement, SqlError> {
        let address = self.address(target_id, record)?;
        let sql = format!(
            "SELECT * FROM {} WHERE {}",
            self.quote(&self.table.name)?,
            self.where_clause(&address, 1)?
        );
        Ok(Statement {
            sql,
            values: address,
        })
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
        let statement = connection.prepare(sql).await?;
        let types = Arc::new(match statement.parameters() {
            Some(Either::Left(types)) => types.iter().map(|t| t.name().to_string()).collect(),
            _ => Vec::new(),
        });
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
                    // The lines follow the document: a refused one is named.
                    let line = |e: SqlError| match (n, e) {
                        (0, e) => e,
                        (n, SqlError::Refused(m)) => SqlError::Refused(format!("line {n}: {m}")),
                        (n, SqlError::Value(m)) => SqlError::Value(format!("line {n}: {m}")),
                        (_, e) => e,
                    };
                    let ran: Result<(), SqlError> = async {
                        run_statement!($kind, $plan, connection, statement);
                        Ok(())
                    }
                    .await;
                    ran.map_err(line)?;
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
        self.one(self.plan.write(record)).await?;
        Ok(self.plan.id_of(record))
    }

    async fn update(&mut self, _target_id: &str, record: &Record) -> Result<(), WriteError> {
        self.one(self.plan.write(record)).await
    }

    async fn delete(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError> {
        self.one(self.plan.delete(target_id, record).map(|d| vec![d]))
            .await
    }

    fn retry_after(&self, _tries: u32) -> Option<std::time::Duration> {
        None
    }

    fn batch_size(&self) -> Option<usize> {
        Some(self.plan.batch.max(1))
    }

    async fn batch(
        &mut self,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError> {
        let plan = &*self.plan;
        let statements = writes
            .iter()
            .map(|write| match write {
                BatchWrite::Create(record) | BatchWrite::Update(_, record) => plan.write(record),
                BatchWrite::Delete(id) => plan.delete(id, &Value::Null).map(|d| vec![d]),
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
        let statement = self.plan.select(target_id, record).map_err(write_error)?;
        let plan = &*self.plan;
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
