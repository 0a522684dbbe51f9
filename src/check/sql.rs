//! Database jobs: every named parameter of a query is `:cursor` or a var, and a table target
//! says how its rows are addressed.

use super::checker::Checker;
use crate::config::model::{Source, Target};
use crate::connectors::sql::compile::unknown_parameters;
use crate::diagnostics::{Diagnostic, one_of};

pub fn check(c: &mut Checker) {
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
        if let Some(Target::Sql(sql)) = &job.to
            && let Some(lines) = &sql.lines
            && lines.key.is_empty()
        {
            let d = Diagnostic::error(
                "sql-key",
                "a document's lines need `key`: the columns a line is upserted on",
            )
            .at_opt(c.key_at(&format!("jobs.{name}.to.sql.lines")))
            .hint("`key: [DO_Piece, DL_Ligne]`, a primary key or unique index of the lines' table");
            c.push(d);
        }
        if let Some(Target::Sql(sql)) = &job.to
            && sql.key.is_empty()
        {
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
