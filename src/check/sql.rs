//! Database connections and jobs: a connection is a URL or an ODBC string with its dialect,
//! every named parameter of a query is `:cursor` or a var, and a table target says how its
//! rows are addressed.

use super::checker::Checker;
use crate::config::LoadedPipeline;
use crate::config::model::{Connection, Source, SqlConnection, Target};
use crate::config::secrets::Secrets;
use crate::connectors::sql::compile::{SqlDatabases, unknown_parameters};
use crate::connectors::sql::database::WITHOUT_ODBC;
use crate::connectors::sql::params::parameterize;
use crate::diagnostics::source::SourceMap;
use crate::diagnostics::{Diagnostic, one_of};

pub fn check(c: &mut Checker) {
    for (name, connection) in &c.pipeline.connections {
        if let Connection::Sql(sql) = connection {
            connection_check(c, name, sql);
        }
    }
    for (name, job) in &c.pipeline.jobs {
        if let Some(Source::Sql(sql)) = &job.from {
            let path = format!("jobs.{name}.from.sql.query");
            for parameter in unknown_parameters(&sql.query, c.pipeline) {
                let d = Diagnostic::error(
                    "sql-parameter",
                    format!("the query's `:{parameter}` is neither `:cursor` nor a var"),
                )
                .at_opt(c.at(&path))
                .label("bound when the query runs")
                .hint(format!(
                    "declare `{parameter}` under `vars:`; this pipeline has {}",
                    one_of(c.pipeline.vars.keys().map(String::as_str))
                ));
                c.push(d);
            }
        }
        let Some(Target::Sql(sql)) = &job.to else {
            continue;
        };
        if sql.lines.as_ref().is_some_and(|lines| lines.key.is_empty()) {
            let d = Diagnostic::error(
                "sql-key",
                "a document's lines need `key`: the columns a line is upserted on",
            )
            .at_opt(c.key_at(&format!("jobs.{name}.to.sql.lines")))
            .hint("`key: [DO_Piece, DL_Ligne]`, a primary key or unique index of the lines' table");
            c.push(d);
        }
        if sql.key.is_empty() {
            let d = Diagnostic::error(
                "sql-key",
                "a table target needs `key`: the columns its rows are upserted on",
            )
            .at_opt(c.key_at(&format!("jobs.{name}.to.sql")))
            .hint("`key: [AR_Ref]`, a primary key or unique index of the table");
            c.push(d);
        }
    }
}

/// A connection is a URL, or an ODBC connection string with the SQL its database speaks (and a
/// syncline built to speak ODBC).
fn connection_check(c: &mut Checker, name: &str, sql: &SqlConnection) {
    let path = format!("connections.{name}.sql");
    let d = match (&sql.url, &sql.odbc) {
        (Some(_), Some(_)) | (None, None) => Diagnostic::error(
            "sql-connection",
            "a sql connection has exactly one of `url` and `odbc`",
        )
        .at_opt(c.key_at(&path))
        .hint("`url: postgres://erp@db/sage` (SQLite, PostgreSQL, MySQL), or `odbc: \"Driver=FreeTDS;Server=...\"` with `dialect: mssql` for a database reached through its ODBC driver"),
        (Some(_), None) if sql.dialect.is_some() => Diagnostic::error(
            "sql-connection",
            "`dialect` goes with `odbc`: a URL already says which database it is",
        )
        .at_opt(c.key_at(&format!("{path}.dialect")))
        .hint("remove `dialect`"),
        (None, Some(_)) if sql.dialect.is_none() => Diagnostic::error(
            "sql-connection",
            "an `odbc` connection needs `dialect`: the SQL its database speaks",
        )
        .at_opt(c.key_at(&path))
        .hint("`dialect: mssql` (SQL Server), `postgres`, `sqlite` or `mysql`"),
        (None, Some(_)) if !cfg!(feature = "odbc") => {
            Diagnostic::error("sql-connection", WITHOUT_ODBC)
                .at_opt(c.at(&format!("{path}.odbc")))
                .label("an ODBC connection string")
                .hint("reach the database by `url` if sqlx speaks to it (SQLite, PostgreSQL, MySQL)")
        }
        _ => return,
    };
    c.push(d);
}

/// `validate --connect`: each query is prepared by its database, so a syntax error or an
/// unknown table or column is reported at the query, before any run.
pub fn connect(loaded: &LoadedPipeline, sources: &SourceMap, secrets: &Secrets) -> Vec<Diagnostic> {
    let Some(pipeline) = &loaded.model else {
        return Vec::new();
    };
    let base_dir = sources
        .get(loaded.file)
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut databases = SqlDatabases::new(base_dir);
    let mut diagnostics = Vec::new();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                "sql-connect",
                format!("no runtime to connect on: {e}"),
            ));
            return diagnostics;
        }
    };
    for (name, job) in &pipeline.jobs {
        let Some(Source::Sql(sql)) = &job.from else {
            continue;
        };
        let at = loaded.index.span(&format!("jobs.{name}.from.sql.query"));
        let database = match databases.get(&sql.connection, pipeline, secrets) {
            Ok(database) => database,
            Err(e) => {
                diagnostics.push(Diagnostic::error("sql-connect", e.to_string()).at_opt(at));
                continue;
            }
        };
        let query = parameterize(&sql.query, database.placeholders);
        if let Err(e) = runtime.block_on(database.prepare(&query.sql)) {
            let d = Diagnostic::error(
                "sql-query",
                format!("the database refuses the query of job `{name}`: {e}"),
            )
            .at_opt(at)
            .label(format!("prepared on {}", database.shown));
            diagnostics.push(d);
        }
    }
    diagnostics
}
