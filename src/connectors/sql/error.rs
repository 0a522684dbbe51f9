//! What a database failure says about the record.

/// Why a database operation failed, by what it says about the record.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The database refused this statement (a constraint, a value of the wrong type).
    #[error("{0}")]
    Refused(String),
    /// The database cannot be reached or used now.
    #[error("{0}")]
    Unavailable(String),
    /// A value cannot be bound to, or read from, its column.
    #[error("{0}")]
    Value(String),
}

impl From<sqlx::Error> for SqlError {
    fn from(error: sqlx::Error) -> SqlError {
        match &error {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                // Serialization failures, deadlocks and lock timeouts pass: another try works.
                let transient = matches!(code.as_str(), "40001" | "40P01" | "1213" | "1205")
                    || code == "5" // SQLITE_BUSY
                    || code == "6"; // SQLITE_LOCKED
                let message = match db.code() {
                    Some(code) => format!("{} ({code})", db.message()),
                    None => db.message().to_string(),
                };
                if transient {
                    SqlError::Unavailable(message)
                } else {
                    SqlError::Refused(message)
                }
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                SqlError::Value(error.to_string())
            }
            _ => SqlError::Unavailable(error.to_string()),
        }
    }
}
