//! Which SQL a database speaks (identifier quotes, upserts, savepoints), and how a statement
//! marks its parameters, which depends on the way in (sqlx or ODBC), not on the database.

use super::error::SqlError;

/// Which SQL the database speaks: identifier quotes, the upsert, savepoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
    /// SQL Server (Sage 100c, EBP, Divalto), reached through ODBC only.
    MsSql,
}

impl Dialect {
    /// `"name"`, `` `name` `` for MySQL, `[name]` for SQL Server; a name holding the closing
    /// quote is refused rather than escaped.
    pub fn quote(self, name: &str) -> Result<String, SqlError> {
        let (open, close) = match self {
            Dialect::MySql => ('`', '`'),
            Dialect::MsSql => ('[', ']'),
            Dialect::Sqlite | Dialect::Postgres => ('"', '"'),
        };
        if name.is_empty() || name.contains(close) || name.contains('\0') {
            return Err(SqlError::Value(format!("`{name}` cannot be a column name")));
        }
        Ok(format!("{open}{name}{close}"))
    }

    /// Opens the savepoint a record is written in (one at a time, so one name serves).
    pub fn savepoint(self) -> &'static str {
        match self {
            Dialect::MsSql => "SAVE TRANSACTION s",
            _ => "SAVEPOINT s",
        }
    }

    /// Undoes a refused record's statements, keeping the transaction.
    pub fn rollback_to_savepoint(self) -> &'static str {
        match self {
            Dialect::MsSql => "ROLLBACK TRANSACTION s",
            _ => "ROLLBACK TO SAVEPOINT s",
        }
    }

    /// Forgets a written record's savepoint; SQL Server has no such statement (its savepoints
    /// end with the transaction).
    pub fn release_savepoint(self) -> Option<&'static str> {
        match self {
            Dialect::MsSql => None,
            _ => Some("RELEASE SAVEPOINT s"),
        }
    }

    /// Makes a session read-only where the database has such a setting; SQL Server has none
    /// (`ApplicationIntent=ReadOnly` goes in the connection string).
    pub fn read_only_session(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some("PRAGMA query_only = ON"),
            Dialect::Postgres => Some("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Dialect::MySql => Some("SET SESSION TRANSACTION READ ONLY"),
            Dialect::MsSql => None,
        }
    }
}

/// How a statement marks its parameters: PostgreSQL through sqlx numbers them (`$1`), every
/// other way in (sqlx's SQLite and MySQL, any database through ODBC) writes `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    Numbered,
    Marks,
}

impl Placeholders {
    /// The `n`-th placeholder, from 1.
    pub fn nth(self, n: usize) -> String {
        match self {
            Placeholders::Numbered => format!("${n}"),
            Placeholders::Marks => "?".to_string(),
        }
    }
}
