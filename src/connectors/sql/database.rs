//! A `sql` connection: its URL parsed once, its pool opened on first use (on the job's runtime,
//! which sqlx's pools need), shared by the connection's sources and targets; or, with the
//! `odbc` feature, an ODBC connection string and its connections.

use std::path::Path;
use std::str::FromStr;
#[cfg(feature = "odbc")]
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Executor};
use tokio::sync::OnceCell;

#[cfg(feature = "odbc")]
use super::connection_string;
use super::dialect::{Dialect, Placeholders};
use super::error::SqlError;
#[cfg(feature = "odbc")]
use super::odbc::OdbcPool;

/// What a syncline built without the `odbc` feature says of an `odbc:` connection.
pub const WITHOUT_ODBC: &str = "this syncline was built without ODBC: cargo build --features odbc";

enum Options {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
}

/// A connection's pool.
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

pub struct Database {
    pub dialect: Dialect,
    pub placeholders: Placeholders,
    backend: Backend,
    /// The URL or connection string without its password, for messages.
    pub shown: String,
}

/// The way in: sqlx's pool, or ODBC's connections.
enum Backend {
    Sqlx {
        options: Box<Options>,
        pool_size: u32,
        read_only: bool,
        pool: OnceCell<Pool>,
    },
    #[cfg(feature = "odbc")]
    Odbc(Arc<OdbcPool>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// `base_dir`: what a relative SQLite path is relative to (the pipeline's folder).
    /// `read_only`: nothing writes through this connection; opened so where the database
    /// allows.
    pub fn new(
        url: &SecretString,
        base_dir: &Path,
        pool_size: u32,
        read_only: bool,
    ) -> Result<Database, SqlError> {
        let url = url.expose_secret();
        let shown = without_password(url);
        let bad = |e: sqlx::Error| SqlError::Value(format!("the URL `{shown}` is not valid: {e}"));
        let (dialect, options) = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let mut options = if query.is_empty() {
                SqliteConnectOptions::new()
            } else {
                SqliteConnectOptions::from_str(&format!("sqlite://?{query}")).map_err(bad)?
            };
            if path != ":memory:" {
                options = options.filename(base_dir.join(path));
            }
            (
                Dialect::Sqlite,
                Options::Sqlite(options.read_only(read_only).create_if_missing(false)),
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url).map_err(bad)?;
            if read_only {
                options = options.options([("default_transaction_read_only", "on")]);
            }
            (Dialect::Postgres, Options::Postgres(options))
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let options = MySqlConnectOptions::from_str(&url).map_err(bad)?;
            (Dialect::MySql, Options::MySql(options))
        } else {
            return Err(SqlError::Value(format!(
                "`{shown}` is not a database URL this reads: sqlite://, postgres:// or mysql://"
            )));
        };
        let options = match options {
            // Every statement is logged at debug level by sqlx otherwise, with its values.
            Options::Sqlite(o) => Options::Sqlite(o.disable_statement_logging()),
            Options::Postgres(o) => Options::Postgres(o.disable_statement_logging()),
            Options::MySql(o) => Options::MySql(o.disable_statement_logging()),
        };
        Ok(Database {
            dialect,
            placeholders: match dialect {
                Dialect::Postgres => Placeholders::Numbered,
                _ => Placeholders::Marks,
            },
            backend: Backend::Sqlx {
                options: Box::new(options),
                pool_size: pool_size.max(1),
                read_only,
                pool: OnceCell::new(),
            },
            shown,
        })
    }

    /// A database reached through ODBC: `string` is the connection string, `dialect` the SQL
    /// the database speaks. At most `pool_size` connections are kept idle. A SQLite file's
    /// relative path is relative to `base_dir`, as with a URL.
    #[cfg_attr(not(feature = "odbc"), allow(unused_variables))]
    pub fn odbc(
        string: &SecretString,
        dialect: Dialect,
        base_dir: &Path,
        pool_size: u32,
        read_only: bool,
    ) -> Result<Database, SqlError> {
        #[cfg(not(feature = "odbc"))]
        return Err(SqlError::Value(WITHOUT_ODBC.to_string()));
        #[cfg(feature = "odbc")]
        {
            let mut string = string.expose_secret().to_string();
            if dialect == Dialect::Sqlite {
                string = connection_string::with_base_dir(&string, base_dir);
            }
            let shown = connection_string::shown(&string);
            let pool = OdbcPool::new(
                SecretString::from(string),
                dialect,
                shown.clone(),
                pool_size as usize,
                read_only,
            );
            Ok(Database {
                dialect,
                placeholders: Placeholders::Marks,
                backend: Backend::Odbc(Arc::new(pool)),
                shown,
            })
        }
    }

    /// The ODBC connections, when the database is reached so.
    #[cfg(feature = "odbc")]
    pub fn odbc_pool(&self) -> Option<&Arc<OdbcPool>> {
        match &self.backend {
            Backend::Odbc(pool) => Some(pool),
            Backend::Sqlx { .. } => None,
        }
    }

    /// The pool, opened on first use with one connection made at once (a wrong password or
    /// host stops the job here, named).
    pub async fn pool(&self) -> Result<&Pool, SqlError> {
        let (options, pool_size, read_only, pool) = match &self.backend {
            Backend::Sqlx {
                options,
                pool_size,
                read_only,
                pool,
            } => (options, *pool_size, *read_only, pool),
            #[cfg(feature = "odbc")]
            Backend::Odbc(_) => {
                return Err(SqlError::Unavailable(format!(
                    "{} is reached through ODBC, not sqlx",
                    self.shown
                )));
            }
        };
        pool.get_or_try_init(|| async {
            let unreachable = |e: sqlx::Error| {
                SqlError::Unavailable(format!("cannot connect to {}: {e}", self.shown))
            };
            Ok(match &**options {
                Options::Sqlite(o) => Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(pool_size)
                        .connect_with(o.clone())
                        .await
                        .map_err(unreachable)?,
                ),
                Options::Postgres(o) => Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(pool_size)
                        .connect_with(o.clone())
                        .await
                        .map_err(unreachable)?,
                ),
                Options::MySql(o) => Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(pool_size)
                        .after_connect(move |connection, _| {
                            Box::pin(async move {
                                if let (true, Some(read_only)) =
                                    (read_only, Dialect::MySql.read_only_session())
                                {
                                    connection.execute(read_only).await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_with(o.clone())
                        .await
                        .map_err(unreachable)?,
                ),
            })
        })
        .await
    }
}

impl Database {
    /// Has the database prepare `sql` (placeholders in its dialect): its syntax and the tables
    /// and columns it names are checked, nothing is run.
    pub async fn prepare(&self, sql: &str) -> Result<(), SqlError> {
        #[cfg(feature = "odbc")]
        if let Some(pool) = self.odbc_pool() {
            let (pool, sql) = (pool.clone(), sql.to_string());
            return super::odbc::off_runtime(move || super::odbc::prepare(&pool, &sql)).await;
        }
        match self.pool().await? {
            Pool::Sqlite(pool) => pool.prepare(sql).await.map(drop)?,
            Pool::Postgres(pool) => pool.prepare(sql).await.map(drop)?,
            Pool::MySql(pool) => pool.prepare(sql).await.map(drop)?,
        }
        Ok(())
    }
}

/// `scheme://user:password@host/db` shown as `scheme://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            without_password("postgres://erp:s3cr3t@db.local:5432/sage"),
            "postgres://erp:***@db.local:5432/sage"
        );
        assert_eq!(without_password("sqlite://erp.db"), "sqlite://erp.db");
    }
}
