//! Databases reached through ODBC (unixODBC and the database's own driver): SQL Server through
//! FreeTDS, and any database that has a driver. Every call blocks: the reader makes them on
//! its own thread, the target in `spawn_blocking`, never on a runtime worker.
//!
//! Parameters are bound as text (or NULL), which every driver converts to the column's type;
//! columns are read by the type the driver describes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use odbc_api::parameter::VarCharBox;
use odbc_api::{Connection, ConnectionOptions, Cursor, CursorRow, DataType, ResultSetMetadata};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sqlx::types::BigDecimal;

use super::dialect::Dialect;
use super::error::SqlError;
use super::statement::{Statement, name_line};
use super::value::{bytes, date, datetime, decimal, float, time};
use crate::record::Record;

/// How long a connection may take to open before the database counts as unreachable.
const LOGIN_TIMEOUT_SECONDS: u32 = 30;

/// A connection idle for longer is asked `SELECT 1` before it is used again: a server that
/// restarted meanwhile costs a new connection, not a failed batch.
const CHECKED_AFTER: Duration = Duration::from_secs(30);

/// A connection string's connections: opened on demand, at most `keep` of them kept idle for
/// the next statement.
pub struct OdbcPool {
    string: SecretString,
    dialect: Dialect,
    /// The string without its credentials, for messages.
    shown: String,
    read_only: bool,
    keep: usize,
    /// The idle connections, each with the time it was put back.
    idle: Mutex<Vec<(Connection<'static>, Instant)>>,
}

impl OdbcPool {
    pub fn new(
        string: SecretString,
        dialect: Dialect,
        shown: String,
        keep: usize,
        read_only: bool,
    ) -> OdbcPool {
        OdbcPool {
            string,
            dialect,
            shown,
            read_only,
            keep: keep.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that is not broken, or a new one.
    fn take(&self) -> Result<Connection<'static>, SqlError> {
        while let Some((connection, since)) = self.idle.lock().ok().and_then(|mut i| i.pop()) {
            let dead = matches!(connection.is_dead(), Ok(true))
                || (since.elapsed() > CHECKED_AFTER && run(&connection, "SELECT 1", &[]).is_err());
            if dead {
                close(connection);
            } else {
                return Ok(connection);
            }
        }
        let unreachable = |e: odbc_api::Error| {
            SqlError::Unavailable(format!("cannot connect to {}: {}", self.shown, message(&e)))
        };
        let environment = odbc_api::environment().map_err(unreachable)?;
        let options = ConnectionOptions {
            login_timeout_sec: Some(LOGIN_TIMEOUT_SECONDS),
            ..ConnectionOptions::default()
        };
        let connection = environment
            .connect_with_connection_string(self.string.expose_secret(), options)
            .map_err(unreachable)?;
        if self.read_only
            && let Some(sql) = self.dialect.read_only_session()
            && let Err(e) = run(&connection, sql, &[])
        {
            close(connection);
            return Err(e);
        }
        Ok(connection)
    }

    /// Runs `f` on a connection, which goes back to the idle ones unless `f` failed to reach
    /// the database or said it should not (`keep` set to false).
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection<'static>, &mut bool) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        let connection = self.take()?;
        let mut keep = true;
        let result = f(&connection, &mut keep);
        if !keep || matches!(result, Err(SqlError::Unavailable(_))) {
            close(connection);
            return result;
        }
        let full = match self.idle.lock() {
            Ok(mut idle) if idle.len() < self.keep => {
                idle.push((connection, Instant::now()));
                None
            }
            _ => Some(connection),
        };
        if let Some(connection) = full {
            close(connection);
        }
        result
    }
}

impl Drop for OdbcPool {
    fn drop(&mut self) {
        if let Ok(idle) = self.idle.get_mut() {
            for (connection, _) in idle.drain(..) {
                close(connection);
            }
        }
    }
}

/// Disconnects. odbc-api panics when a driver refuses to disconnect (a connection already
/// broken): that connection is forgotten, and the run goes on.
fn close(connection: Connection<'static>) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(connection)));
}

/// The driver's message on one line, with its SQLSTATE.
fn message(error: &odbc_api::Error) -> String {
    match error {
        odbc_api::Error::Diagnostics { record, .. } => {
            let text = String::from_utf8_lossy(&record.message);
            let text: Vec<&str> = text.lines().map(str::trim).collect();
            format!("{} ({})", text.join(" "), record.state.as_str())
        }
        other => other.to_string().replace('\n', " "),
    }
}

/// What an ODBC failure says about the record: a broken connection (class 08), a
/// serialization failure or deadlock (40001, 40P01) or a timeout (HYT00, HYT01) passes, as
/// another try works; anything else is the database refusing the statement.
fn error(error: odbc_api::Error) -> SqlError {
    let text = message(&error);
    match &error {
        odbc_api::Error::Diagnostics { record, .. } => {
            let state = record.state.as_str();
            if state.starts_with("08") || matches!(state, "40001" | "40P01" | "HYT00" | "HYT01") {
                SqlError::Unavailable(text)
            } else {
                SqlError::Refused(text)
            }
        }
        _ => SqlError::Unavailable(text),
    }
}

/// A value bound as text: numbers as written, booleans as `1`/`0` (which every database's
/// boolean or bit column takes), objects and arrays as JSON. Text holding a NUL is refused:
/// some drivers (psqlodbc) cut it there without a word.
fn parameter(name: &str, value: &Value) -> Result<VarCharBox, SqlError> {
    let text = match value {
        Value::Null => return Ok(VarCharBox::null()),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains('\0') {
        return Err(SqlError::Value(format!(
            "`{name}` holds a NUL character, which ODBC drivers may cut the text at: not sent"
        )));
    }
    Ok(VarCharBox::from_string(text))
}

/// The values of a statement's parameters, with the column or name each is for (messages).
fn parameters(values: &[(&str, &Value)]) -> Result<Vec<VarCharBox>, SqlError> {
    values
        .iter()
        .map(|(name, value)| parameter(name, value))
        .collect()
}

/// A statement's values, named by their columns.
fn named(statement: &Statement) -> Vec<(&str, &Value)> {
    statement
        .values
        .iter()
        .map(|(column, value)| (column.as_str(), value))
        .collect()
}

/// Runs a statement that returns no rows.
fn run(
    connection: &Connection<'static>,
    sql: &str,
    values: &[(&str, &Value)],
) -> Result<(), SqlError> {
    let parameters = parameters(values)?;
    connection
        .execute(sql, &parameters[..], None)
        .map_err(error)?;
    Ok(())
}

/// How a column is read, from the type the driver describes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Integer,
    Float,
    Decimal,
    Timestamp,
    Date,
    Time,
    Bit,
    Binary,
    Text,
}

struct Column {
    name: String,
    kind: Kind,
}

fn columns(cursor: &mut impl ResultSetMetadata) -> Result<Vec<Column>, SqlError> {
    let count = cursor.num_result_cols().map_err(error)?;
    let mut columns = Vec::new();
    for i in 1..=u16::try_from(count).unwrap_or(0) {
        let kind = match cursor.col_data_type(i).map_err(error)? {
            DataType::Integer | DataType::SmallInt | DataType::TinyInt | DataType::BigInt => {
                Kind::Integer
            }
            DataType::Real | DataType::Double | DataType::Float { .. } => Kind::Float,
            DataType::Numeric { .. } | DataType::Decimal { .. } => Kind::Decimal,
            DataType::Timestamp { .. } => Kind::Timestamp,
            DataType::Date => Kind::Date,
            DataType::Time { .. } => Kind::Time,
            DataType::Bit => Kind::Bit,
            DataType::Binary { .. }
            | DataType::Varbinary { .. }
            | DataType::LongVarbinary { .. } => Kind::Binary,
            // Every type converts to text in ODBC: the others are read so.
            _ => Kind::Text,
        };
        columns.push(Column {
            name: cursor.col_name(i).map_err(error)?,
            kind,
        });
    }
    Ok(columns)
}

/// A row as a record, its columns by name in the query's order. `buffer` is reused from row
/// to row.
fn record(
    row: &mut CursorRow<'_>,
    columns: &[Column],
    buffer: &mut Vec<u8>,
) -> Result<Record, SqlError> {
    let mut fields = Map::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let n = u16::try_from(i + 1).unwrap_or(u16::MAX);
        let present = match column.kind {
            Kind::Binary => row.get_binary(n, buffer),
            _ => row.get_text(n, buffer),
        }
        .map_err(error)?;
        let value = match present {
            false => Value::Null,
            true => value(column, buffer)?,
        };
        fields.insert(column.name.clone(), value);
    }
    Ok(Value::Object(fields))
}

/// A column's value from its bytes: numbers as numbers (decimals exact while a float holds
/// them), times in the sqlx path's layout, bits as booleans, binary as base64. A value the
/// column's type does not parse (SQLite types each value, whatever the column declares) is
/// kept as its text.
fn value(column: &Column, bytes_read: &[u8]) -> Result<Value, SqlError> {
    if let Kind::Binary = column.kind {
        return Ok(bytes(bytes_read.to_vec()));
    }
    let text = std::str::from_utf8(bytes_read).map_err(|_| {
        SqlError::Value(format!(
            "column `{}` is not UTF-8 text: cast it in the query",
            column.name
        ))
    })?;
    let trimmed = text.trim();
    let parsed = match column.kind {
        Kind::Integer => trimmed
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| trimmed.parse::<u64>().map(Value::from))
            .ok(),
        Kind::Float => trimmed.parse::<f64>().ok().map(float),
        Kind::Decimal => trimmed.parse::<BigDecimal>().ok().map(decimal),
        Kind::Timestamp => NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(datetime),
        Kind::Date => NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
            .ok()
            .map(date),
        Kind::Time => NaiveTime::parse_from_str(trimmed, "%H:%M:%S%.f")
            .ok()
            .map(time),
        Kind::Bit => match trimmed {
            "1" | "t" | "true" | "TRUE" => Some(Value::Bool(true)),
            "0" | "f" | "false" | "FALSE" => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::Binary | Kind::Text => None,
    };
    Ok(parsed.unwrap_or_else(|| Value::String(text.to_string())))
}

/// Streams the rows of `sql` to `emit` one by one (a row that cannot be read is given as its
/// error), until the last or until `emit` says to stop.
pub fn read(
    pool: &OdbcPool,
    sql: &str,
    values: &[(&str, &Value)],
    emit: &mut dyn FnMut(Result<Record, SqlError>) -> bool,
) -> Result<(), SqlError> {
    let parameters = parameters(values)?;
    pool.with_connection(|connection, _| {
        let Some(mut cursor) = connection
            .execute(sql, &parameters[..], None)
            .map_err(error)?
        else {
            return Ok(());
        };
        let columns = columns(&mut cursor)?;
        let mut buffer = Vec::new();
        while let Some(mut row) = cursor.next_row().map_err(error)? {
            if !emit(record(&mut row, &columns, &mut buffer)) {
                break;
            }
        }
        Ok(())
    })
}

/// The first row of a statement, or none.
pub fn select_one(pool: &OdbcPool, statement: &Statement) -> Result<Option<Record>, SqlError> {
    let mut first = None;
    read(pool, &statement.sql, &named(statement), &mut |row| {
        first = Some(row);
        false
    })?;
    first.transpose()
}

/// Has the database prepare `sql`: its syntax and the tables and columns it names are checked,
/// nothing is run. Some drivers send the statement only when asked for its columns.
pub fn prepare(pool: &OdbcPool, sql: &str) -> Result<(), SqlError> {
    pool.with_connection(|connection, _| {
        let mut prepared = connection.prepare(sql).map_err(error)?;
        prepared.num_result_cols().map_err(error)?;
        Ok(())
    })
}

/// Runs the records' writes in one transaction, each record's statements in a savepoint: a
/// record the database refuses is undone alone, whole. A failure to reach the database fails
/// them all.
pub fn transaction(
    pool: &OdbcPool,
    writes: Vec<Result<Vec<Statement>, SqlError>>,
) -> Result<Vec<Result<(), SqlError>>, SqlError> {
    let dialect = pool.dialect;
    pool.with_connection(|connection, keep| {
        // A connection whose transaction did not end cleanly is not used again.
        *keep = false;
        connection.set_autocommit(false).map_err(error)?;
        let written = savepoints(connection, dialect, writes);
        let ended = match &written {
            Ok(_) => connection.commit(),
            Err(_) => connection.rollback(),
        };
        let restored = connection.set_autocommit(true);
        *keep = ended.is_ok() && restored.is_ok();
        let results = written?;
        ended.map_err(error)?;
        restored.map_err(error)?;
        Ok(results)
    })
}

fn savepoints(
    connection: &Connection<'static>,
    dialect: Dialect,
    writes: Vec<Result<Vec<Statement>, SqlError>>,
) -> Result<Vec<Result<(), SqlError>>, SqlError> {
    let mut results = Vec::with_capacity(writes.len());
    for write in writes {
        let write = match write {
            Ok(write) => write,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        run(connection, dialect.savepoint(), &[])?;
        let written = write.iter().enumerate().try_for_each(|(n, statement)| {
            run(connection, &statement.sql, &named(statement)).map_err(|e| name_line(n, e))
        });
        match written {
            Ok(()) => {
                if let Some(release) = dialect.release_savepoint() {
                    run(connection, release, &[])?;
                }
                results.push(Ok(()));
            }
            Err(SqlError::Unavailable(e)) => return Err(SqlError::Unavailable(e)),
            Err(e) => {
                run(connection, dialect.rollback_to_savepoint(), &[])?;
                results.push(Err(e));
            }
        }
    }
    Ok(results)
}

/// Runs blocking ODBC calls on the runtime's blocking threads; a panic in a driver fails the
/// write, not the run.
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SqlError> + Send + 'static,
) -> Result<T, SqlError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SqlError::Unavailable(format!("the ODBC driver failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: Kind) -> Column {
        Column {
            name: "c".into(),
            kind,
        }
    }

    #[test]
    fn columns_are_read_by_their_type() {
        let read = |kind, text: &str| value(&column(kind), text.as_bytes()).unwrap();
        assert_eq!(read(Kind::Integer, "9007199254740993"), 9007199254740993i64);
        assert_eq!(read(Kind::Integer, "abc"), "abc");
        assert_eq!(read(Kind::Float, "0.25"), 0.25);
        assert_eq!(read(Kind::Decimal, "12.5000"), 12.5);
        assert_eq!(
            read(Kind::Decimal, "12345678901234567890.1234567891"),
            "12345678901234567890.1234567891"
        );
        assert_eq!(
            read(Kind::Timestamp, "2026-12-01 10:00:00.000"),
            "2026-12-01 10:00:00"
        );
        assert_eq!(
            read(Kind::Timestamp, "2026-12-01 10:00:00.5"),
            "2026-12-01 10:00:00.500"
        );
        assert_eq!(read(Kind::Time, "08:30:00.0000000"), "08:30:00");
        assert_eq!(read(Kind::Bit, "1"), true);
        assert_eq!(read(Kind::Binary, "\u{1}\u{2}"), "AQI=");
        assert!(value(&column(Kind::Text), &[0xff]).is_err());
    }
}
