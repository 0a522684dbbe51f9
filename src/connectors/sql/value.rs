//! Columns to JSON and JSON to bound values, faithful to each database's types: integers and
//! floats as numbers; decimals exact (a number while it has at most 15 significant digits,
//! else its text); dates and times as text (`2026-12-06 10:00:00`, with its zone when the
//! column has one: `2026-12-06T09:00:00Z`); NULL as null; binary as base64.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{Map, Number, Value};
use sqlx::mysql::{MySql, MySqlArguments, MySqlRow};
use sqlx::postgres::{PgArguments, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteRow};
use sqlx::types::BigDecimal;
use sqlx::{Column, Decode, Row, TypeInfo, ValueRef};

use super::error::SqlError;
use crate::record::Record;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Layouts a time is read from when bound to a typed column.
const DATETIME_LAYOUTS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
];

fn unreadable(column: &str, type_name: &str) -> SqlError {
    SqlError::Value(format!(
        "column `{column}` is of type {type_name}, which syncline does not read: cast it in the query (CAST({column} AS VARCHAR(100)))"
    ))
}

pub(super) fn decimal(d: BigDecimal) -> Value {
    let text = d.normalized().to_plain_string();
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if let Ok(whole) = text.parse::<i64>() {
        return Value::from(whole);
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) if digits <= 15 => Value::Number(n),
        _ => Value::String(text),
    }
}

pub(super) fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `2026-12-06 10:00:00`, with the fraction when there is one: written by hand, as every row
/// of a table may hold one.
pub(super) fn datetime(t: NaiveDateTime) -> Value {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    let mut text = String::with_capacity(26);
    let (date, time) = (t.date(), t.time());
    let _ = write!(
        text,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.year(),
        date.month(),
        date.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    // In 3, 6 or 9 digits, as chrono's `%.f` writes it.
    let nanos = time.nanosecond() % 1_000_000_000;
    let _ = match nanos {
        0 => Ok(()),
        n if n % 1_000_000 == 0 => write!(text, ".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => write!(text, ".{:06}", n / 1_000),
        n => write!(text, ".{n:09}"),
    };
    Value::String(text)
}

fn datetime_utc(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

pub(super) fn date(d: NaiveDate) -> Value {
    Value::String(d.format("%Y-%m-%d").to_string())
}

pub(super) fn time(t: NaiveTime) -> Value {
    Value::String(t.format("%H:%M:%S%.f").to_string())
}

pub(super) fn bytes(b: Vec<u8>) -> Value {
    Value::String(BASE64.encode(b))
}

/// A row as a record, its columns by name in the query's order.
pub fn sqlite_record(row: &SqliteRow) -> Result<Record, SqlError> {
    let mut fields = Map::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i)?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            // SQLite types each value, whatever the column declares.
            let kind = match raw.type_info().name() {
                "INTEGER" => Kind::I64,
                "REAL" => Kind::F64,
                "BLOB" => Kind::Bytes,
                _ => Kind::Text,
            };
            match kind {
                Kind::I64 => Value::from(<i64 as Decode<Sqlite>>::decode(raw).map_err(decode)?),
                Kind::F64 => float(<f64 as Decode<Sqlite>>::decode(raw).map_err(decode)?),
                Kind::Bytes => bytes(<Vec<u8> as Decode<Sqlite>>::decode(raw).map_err(decode)?),
                _ => Value::String(<String as Decode<Sqlite>>::decode(raw).map_err(decode)?),
            }
        };
        fields.insert(column.name().to_string(), value);
    }
    Ok(Value::Object(fields))
}

fn decode(e: sqlx::error::BoxDynError) -> SqlError {
    SqlError::Value(e.to_string())
}

/// How a column is read, by its type.
#[derive(Debug, Clone)]
enum Kind {
    Bool,
    I16,
    I32,
    I64,
    U64,
    F32,
    F64,
    Decimal,
    DateTime,
    DateTimeUtc,
    Date,
    Time,
    Bytes,
    Json,
    Text,
    /// A type this does not read: the error it gives.
    Unreadable(String),
}

/// A query's columns, read once from its first row: their names and how each is read.
pub struct Layout {
    names: Vec<String>,
    kinds: Vec<Kind>,
}

impl Layout {
    fn of<R: Row>(row: &R, kind: fn(&str) -> Option<Kind>) -> Layout {
        let columns = row.columns();
        Layout {
            names: columns.iter().map(|c| c.name().to_string()).collect(),
            kinds: columns
                .iter()
                .map(|c| {
                    let type_name = c.type_info().name();
                    kind(type_name).unwrap_or_else(|| {
                        Kind::Unreadable(unreadable(c.name(), type_name).to_string())
                    })
                })
                .collect(),
        }
    }

    pub fn pg(row: &PgRow) -> Layout {
        Layout::of(row, |type_name| {
            Some(match type_name {
                "BOOL" => Kind::Bool,
                "INT2" => Kind::I16,
                "INT4" => Kind::I32,
                "INT8" => Kind::I64,
                "FLOAT4" => Kind::F32,
                "FLOAT8" => Kind::F64,
                "NUMERIC" => Kind::Decimal,
                "TIMESTAMP" => Kind::DateTime,
                "TIMESTAMPTZ" => Kind::DateTimeUtc,
                "DATE" => Kind::Date,
                "TIME" => Kind::Time,
                "BYTEA" => Kind::Bytes,
                "JSON" | "JSONB" => Kind::Json,
                "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT" | "UNKNOWN" => {
                    Kind::Text
                }
                _ => return None,
            })
        })
    }

    pub fn mysql(row: &MySqlRow) -> Layout {
        Layout::of(row, |type_name| {
            Some(match type_name {
                "BOOLEAN" => Kind::Bool,
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Kind::I64,
                t if t.ends_with("UNSIGNED") => Kind::U64,
                "FLOAT" => Kind::F32,
                "DOUBLE" => Kind::F64,
                "DECIMAL" => Kind::Decimal,
                "DATETIME" => Kind::DateTime,
                "TIMESTAMP" => Kind::DateTimeUtc,
                "DATE" => Kind::Date,
                "TIME" => Kind::Time,
                "JSON" => Kind::Json,
                "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
                | "SET" => Kind::Text,
                "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB"
                | "BIT" => Kind::Bytes,
                _ => return None,
            })
        })
    }
}

/// Reads a row by its layout; the same for every database sqlx decodes these types of.
macro_rules! record {
    ($row:expr, $layout:expr, $unsigned:expr) => {{
        let (row, layout) = ($row, $layout);
        let mut fields = Map::with_capacity(layout.names.len());
        for (i, (name, kind)) in layout.names.iter().zip(&layout.kinds).enumerate() {
            let value = match kind {
                Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::from),
                Kind::I16 => row.try_get::<Option<i16>, _>(i)?.map(Value::from),
                Kind::I32 => row.try_get::<Option<i32>, _>(i)?.map(Value::from),
                Kind::I64 => row.try_get::<Option<i64>, _>(i)?.map(Value::from),
                Kind::U64 => $unsigned(row, i)?,
                Kind::F32 => row
                    .try_get::<Option<f32>, _>(i)?
                    .map(|f| float(f64::from(f))),
                Kind::F64 => row.try_get::<Option<f64>, _>(i)?.map(float),
                Kind::Decimal => row.try_get::<Option<BigDecimal>, _>(i)?.map(decimal),
                Kind::DateTime => row.try_get::<Option<NaiveDateTime>, _>(i)?.map(datetime),
                Kind::DateTimeUtc => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)?
                    .map(datetime_utc),
                Kind::Date => row.try_get::<Option<NaiveDate>, _>(i)?.map(date),
                Kind::Time => row.try_get::<Option<NaiveTime>, _>(i)?.map(time),
                Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(bytes),
                Kind::Json => row.try_get::<Option<Value>, _>(i)?,
                Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::String),
                Kind::Unreadable(reason) => return Err(SqlError::Value(reason.clone())),
            };
            fields.insert(name.clone(), value.unwrap_or(Value::Null));
        }
        Ok(Value::Object(fields))
    }};
}

pub fn pg_record(row: &PgRow, layout: &Layout) -> Result<Record, SqlError> {
    // PostgreSQL has no unsigned integers.
    let unsigned = |_: &PgRow, _: usize| Ok::<_, SqlError>(None);
    record!(row, layout, unsigned)
}

pub fn mysql_record(row: &MySqlRow, layout: &Layout) -> Result<Record, SqlError> {
    let unsigned = |row: &MySqlRow, i: usize| {
        Ok::<_, SqlError>(row.try_get::<Option<u64>, _>(i)?.map(Value::from))
    };
    record!(row, layout, unsigned)
}

/// A value as text, for the columns that take it so.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// SQLite takes each value as it is; the column's affinity converts it.
pub fn bind_sqlite<'q>(
    query: Query<'q, Sqlite, SqliteArguments<'q>>,
    value: &Value,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    match value {
        Value::Bool(b) => query.bind(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => query.bind(i),
            None => query.bind(n.as_f64()),
        },
        other => query.bind(text(other)),
    }
}

/// MySQL converts text to the column's type exactly (decimals included): numbers that are not
/// integers go as their text.
pub fn bind_mysql<'q>(
    query: Query<'q, MySql, MySqlArguments>,
    value: &Value,
) -> Query<'q, MySql, MySqlArguments> {
    match value {
        Value::Bool(b) => query.bind(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => query.bind(i),
            None => query.bind(n.to_string()),
        },
        other => query.bind(text(other)),
    }
}

/// The types PostgreSQL expects of a prepared statement's parameters, by name (`INT4`, ...).
pub fn pg_parameter_types(statement: &sqlx::postgres::PgStatement<'_>) -> Vec<String> {
    use sqlx::Statement as _;
    match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.iter().map(|t| t.name().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// PostgreSQL takes a parameter only of the type the statement expects (`type_name`, as the
/// database described it): the value is converted to it, or refused naming the column.
pub fn bind_pg<'q>(
    query: Query<'q, Postgres, PgArguments>,
    value: &Value,
    type_name: &str,
    column: &str,
) -> Result<Query<'q, Postgres, PgArguments>, SqlError> {
    let refused = || {
        SqlError::Value(format!(
            "`{column}`: {} is not a {}",
            crate::record::text_of(value).unwrap_or_else(|| value.to_string()),
            type_name.to_lowercase()
        ))
    };
    let text = text(value);
    let trimmed = text.as_deref().map(str::trim);
    fn parse<T: std::str::FromStr>(s: Option<&str>) -> Result<Option<T>, ()> {
        s.map(|s| s.parse::<T>().map_err(drop)).transpose()
    }
    Ok(match type_name {
        "BOOL" => query.bind(match value {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            _ => match trimmed {
                Some("1" | "true" | "t" | "yes") => Some(true),
                Some("0" | "false" | "f" | "no") => Some(false),
                _ => return Err(refused()),
            },
        }),
        "INT2" => query.bind(parse::<i16>(trimmed).map_err(|_| refused())?),
        "INT4" => query.bind(parse::<i32>(trimmed).map_err(|_| refused())?),
        "INT8" => query.bind(parse::<i64>(trimmed).map_err(|_| refused())?),
        "FLOAT4" | "FLOAT8" => query.bind(parse::<f64>(trimmed).map_err(|_| refused())?),
        "NUMERIC" => query.bind(match trimmed {
            None => None,
            Some(s) => Some(s.parse::<BigDecimal>().map_err(|_| refused())?),
        }),
        "TIMESTAMP" => query.bind(match trimmed {
            None => None,
            Some(s) => Some(naive_datetime(s).ok_or_else(refused)?),
        }),
        "TIMESTAMPTZ" => query.bind(match trimmed {
            None => None,
            Some(s) => Some(match DateTime::parse_from_rfc3339(s) {
                Ok(t) => t.with_timezone(&Utc),
                // A time without its zone is taken as UTC.
                Err(_) => naive_datetime(s).ok_or_else(refused)?.and_utc(),
            }),
        }),
        "DATE" => query.bind(match trimmed {
            None => None,
            Some(s) => Some(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
                    .or_else(|_| naive_datetime(s).map(|t| t.date()).ok_or(()))
                    .map_err(|_| refused())?,
            ),
        }),
        "TIME" => query.bind(match trimmed {
            None => None,
            Some(s) => Some(NaiveTime::parse_from_str(s, "%H:%M:%S%.f").map_err(|_| refused())?),
        }),
        "BYTEA" => query.bind(match &text {
            None => None,
            Some(s) => Some(BASE64.decode(s).map_err(|_| refused())?),
        }),
        "JSON" | "JSONB" => query.bind(match value {
            Value::Null => None,
            other => Some(sqlx::types::Json(other.clone())),
        }),
        _ => query.bind(text),
    })
}

fn naive_datetime(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    DATETIME_LAYOUTS
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(s, layout).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_is_a_number_while_a_float_holds_it_exactly() {
        let parsed = |s: &str| s.parse::<BigDecimal>().unwrap();
        assert_eq!(decimal(parsed("12.500000")), 12.5);
        assert_eq!(decimal(parsed("10.0000")).to_string(), "10");
        assert_eq!(
            decimal(parsed("12345678901234567890.1234567891")),
            "12345678901234567890.1234567891"
        );
    }
}
