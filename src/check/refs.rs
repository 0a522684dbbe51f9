//! References by name: connections used by sources and targets, tables used by lookups and
//! fields, and the shape rules the schema cannot say (one kind per step, one source per field).

use indexmap::IndexMap;

use super::checker::Checker;
use crate::config::model::{
    Auth, Connection, Conversion, Field, FileFormat, STEP_KINDS, Source, Target,
};
use crate::diagnostics::source::Span;
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::steps::convert::Converter;

pub fn check(c: &mut Checker) {
    require(c, "", "version", "version: 1");
    require(c, "", "name", "name: acme-prestashop");
    if let Some(version) = c.pipeline.version.filter(|v| *v != 1) {
        let d = Diagnostic::error(
            "version",
            format!("version {version} of the pipeline language is unknown"),
        )
        .at_opt(c.at("version"))
        .hint("this syncline reads `version: 1`");
        c.push(d);
    }
    check_names(c);
    let mut used_connections = Vec::new();
    let mut used_tables = Vec::new();
    let entities: Vec<(String, String)> = c
        .pipeline
        .jobs
        .values()
        .filter_map(|j| match &j.to {
            Some(Target::Http(h)) => Some((h.connection.clone(), h.entity.clone())),
            _ => None,
        })
        .collect();
    for (name, job) in &c.pipeline.jobs {
        let base = format!("jobs.{name}");
        let scope = RefScope {
            target_connection: match &job.to {
                Some(Target::Http(h)) => Some(h.connection.as_str()),
                _ => None,
            },
            entities: &entities,
        };
        require(c, &base, "from", "from: { file: { path: articles.csv } }");
        // A webhook job may have `then` instead (checks/webhooks.rs).
        if !c.loaded.index.contains(&format!("{base}.then")) {
            require(c, &base, "to", "to: { file: { path: products.ndjson } }");
        }
        let ends = [
            job.from
                .as_ref()
                .map(|s| ("from", s.kind(), s.connection())),
            job.to.as_ref().map(|t| ("to", t.kind(), t.connection())),
        ];
        for (side, kind, connection) in ends.into_iter().flatten() {
            if let Some(conn) = connection {
                used_connections.push(conn.to_string());
                connection_ref(c, &format!("{base}.{side}.{kind}.connection"), conn, kind);
            }
        }
        file_format(c, &base, job.from.as_ref(), job.to.as_ref());
        if job.cursor.is_some() {
            cursor_fields(c, &format!("{base}.cursor"));
        }
        if let Some(Target::Http(http)) = &job.to
            && http.delete_when.is_some()
            && http.delete.is_none()
            && http.batch.is_none()
        {
            let d = Diagnostic::error(
                "missing-key",
                "`delete_when` needs a `delete` request or a `batch` to send deletions through",
            )
            .at_opt(c.key_at(&format!("{base}.to.http.delete_when")))
            .hint("e.g. `delete: { method: DELETE, path: \"/products/{target_id}\" }`");
            c.push(d);
        }
        if let Some(Target::File(file)) = &job.to
            && file.only_changed
            && file.key.is_none()
        {
            let d = Diagnostic::error(
                "missing-key",
                "`only_changed` needs the target's `key`: records are compared with what earlier runs wrote by it",
            )
            .at_opt(c.key_at(&format!("{base}.to.file.only_changed")))
            .hint("e.g. `key: $.order`");
            c.push(d);
        }
        if let Some(Target::Http(http)) = &job.to
            && (http.lines.is_some() || !http.after_create.is_empty())
            && http.rollback.is_empty()
        {
            let what = if http.lines.is_some() {
                "lines"
            } else {
                "after_create"
            };
            let d = Diagnostic::warning(
                "no-rollback",
                format!("without `rollback`, a document whose `{what}` fail stays on the target half-made (linked, not sent again)"),
            )
            .at_opt(c.key_at(&format!("{base}.to.http.{what}")))
            .hint("add the requests that undo a create, e.g. `rollback: [{ method: DELETE, path: \"/orders/{target_id}\" }]`");
            c.push(d);
        }
        for (i, step) in job.steps.iter().enumerate() {
            let path = format!("{base}.steps[{i}]");
            let kinds = step.kinds();
            if kinds.len() != 1 {
                let message = if kinds.is_empty() {
                    "this step does nothing".to_string()
                } else {
                    format!(
                        "this step does {} at once",
                        one_of(kinds.iter().copied()).replace(" or ", " and ")
                    )
                };
                let d = Diagnostic::error("step-kind", message)
                    .at_opt(c.at(&path))
                    .hint(format!(
                        "a step is exactly one of {}; split it into several steps",
                        one_of(STEP_KINDS.iter().copied())
                    ));
                c.push(d);
            }
            if let Some(lookup) = &step.lookup {
                used_tables.push(lookup.table.clone());
                table_ref(c, &format!("{path}.lookup.table"), &lookup.table);
            }
            if let Some(map) = &step.map {
                fields(c, &format!("{path}.map"), map, &mut used_tables, &scope);
            }
            if let Some(fetch) = &step.fetch {
                used_connections.push(fetch.connection.clone());
                connection_ref(
                    c,
                    &format!("{path}.fetch.connection"),
                    &fetch.connection,
                    "http",
                );
            }
        }
        fields(
            c,
            &format!("{base}.map"),
            &job.map,
            &mut used_tables,
            &scope,
        );
    }
    for (name, table) in &c.pipeline.tables {
        if let Some(inverse_of) = &table.inverse_of {
            used_tables.push(inverse_of.clone());
            table_ref(c, &format!("tables.{name}.inverse_of"), inverse_of);
        }
    }
    for (name, connection) in &c.pipeline.connections {
        if let Connection::Http(http) = connection
            && let Some(Auth::Login(login)) = &http.auth
            && login.token.is_some() == login.token_cookie.is_some()
        {
            let d = Diagnostic::error(
                "missing-key",
                "a login reads its token from exactly one of `token` and `token_cookie`",
            )
            .at_opt(c.at(&format!("connections.{name}.http.auth.login")))
            .hint("`token: $.token` for a token in the answer, `token_cookie: session_id` for a cookie");
            c.push(d);
        }
    }
    // A `ref` that reads another connection's ID map uses it.
    for job in c.pipeline.jobs.values() {
        let maps = job.steps.iter().filter_map(|s| s.map.as_ref());
        for map in maps.chain(std::iter::once(&job.map)) {
            for field in map.values() {
                if let Field::Spec(spec) = field
                    && let Some(connection) = &spec.connection
                {
                    used_connections.push(connection.clone());
                }
            }
        }
    }
    for name in c.pipeline.connections.keys() {
        if !used_connections.contains(name) {
            let d = Diagnostic::warning(
                "unused",
                format!("the connection `{name}` is not used by any job"),
            )
            .at_opt(c.key_at(&format!("connections.{name}")));
            c.push(d);
        }
    }
    for name in c.pipeline.tables.keys() {
        if !used_tables.contains(name) {
            let d = Diagnostic::warning(
                "unused",
                format!("the table `{name}` is not used by any job"),
            )
            .at_opt(c.key_at(&format!("tables.{name}")));
            c.push(d);
        }
    }
}

/// A required key the model keeps optional (so that a bad value hides nothing else): reported
/// when it is absent from the file, not when it is present but broken (that was reported).
fn require(c: &mut Checker, parent: &str, key: &str, example: &str) {
    let path = if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    };
    if c.loaded.index.contains(&path) {
        return;
    }
    let at = if parent.is_empty() {
        c.at("").map(|s| Span::new(s.file, 0, 0))
    } else {
        c.key_at(parent)
    };
    let d = Diagnostic::error("missing-key", format!("missing required key `{key}`"))
        .at_opt(at)
        .hint(format!("e.g. `{example}`"));
    c.push(d);
}

/// A cursor reads one of `field`, `fields` or `expr`.
fn cursor_fields(c: &mut Checker, at: &str) {
    let given: Vec<&str> = ["field", "fields", "expr"]
        .into_iter()
        .filter(|key| c.loaded.index.contains(&format!("{at}.{key}")))
        .collect();
    match given.as_slice() {
        [] => require(c, at, "field", "field: $.date_upd"),
        [_] => {}
        [_, second, ..] => {
            let d = Diagnostic::error(
                "cursor-fields",
                format!("a cursor has one of `field`, `fields` or `expr`, not {}", one_of(given.iter().copied()).replace(" or ", " and ")),
            )
            .at_opt(c.key_at(&format!("{at}.{second}")))
            .hint("one field: `field: $.date_upd`; the greatest of several: `fields: [$.write_date, $.updated_at]`; computed: `expr: rec.date + \" \" + rec.time`");
            c.push(d);
        }
    }
}

fn check_names(c: &mut Checker) {
    let sections = [
        ("jobs", c.pipeline.jobs.keys().cloned().collect::<Vec<_>>()),
        (
            "connections",
            c.pipeline.connections.keys().cloned().collect(),
        ),
        ("tables", c.pipeline.tables.keys().cloned().collect()),
    ];
    for (section, names) in sections {
        for name in names {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !valid {
                let d = Diagnostic::error("name", format!("`{name}` is not a valid name"))
                    .at_opt(c.key_at(&format!("{section}.{name}")))
                    .hint("names are letters, digits, `_` and `-`: they appear in state keys and reports");
                c.push(d);
            }
        }
    }
}

fn connection_ref(c: &mut Checker, path: &str, name: &str, kind: &str) {
    match c.pipeline.connections.get(name) {
        Some(conn) if conn.kind() != kind => {
            let d = Diagnostic::error(
                "connection-kind",
                format!("`{name}` is a {} connection, not a {kind} one", conn.kind()),
            )
            .at_opt(c.at(path))
            .hint(format!(
                "use a `{kind}` connection here, or read `{name}` with `{}:`",
                conn.kind()
            ));
            c.push(d);
        }
        Some(_) => {}
        None => c.expect_defined(
            "connections",
            name,
            path,
            "unknown-connection",
            format!("unknown connection `{name}`"),
        ),
    }
}

fn table_ref(c: &mut Checker, path: &str, name: &str) {
    c.expect_defined(
        "tables",
        name,
        path,
        "unknown-table",
        format!("unknown table `{name}`"),
    );
}

/// What `ref` fields of a job may name.
struct RefScope<'a> {
    /// References resolve through the ID map of the job's own target connection, unless they
    /// name another; `None` when the job does not write to an API.
    target_connection: Option<&'a str>,
    /// The entities the pipeline's jobs write, with the connection each is written to.
    entities: &'a [(String, String)],
}

fn fields(
    c: &mut Checker,
    path: &str,
    fields: &IndexMap<String, Field>,
    used_tables: &mut Vec<String>,
    scope: &RefScope,
) {
    for (name, field) in fields {
        if name.contains(['.', '['])
            && let Err(e) = crate::config::model::SingularPath::parse(&format!("$.{name}"))
        {
            let d = Diagnostic::error(
                "field-name",
                format!("the field name `{name}` is read as a place in the record, and {e}"),
            )
            .at_opt(c.key_at(&format!("{path}.{name}")))
            .hint(
                "a nested place is written with names and indexes: `associations.categories[0].id`",
            );
            c.push(d);
        }
        let Field::Spec(spec) = field else { continue };
        let path = format!("{path}.{name}");
        let sources = spec.sources();
        if sources.len() != 1 {
            let message = if sources.is_empty() {
                format!("the field `{name}` says where to put a value but not where it comes from")
            } else {
                format!(
                    "the field `{name}` takes its value from {} at once",
                    one_of(sources.iter().copied()).replace(" or ", " and ")
                )
            };
            let d = Diagnostic::error("field-source", message)
                .at_opt(c.key_at(&path))
                .hint("give exactly one of `path`, `const`, `expr`, `template` or `ref`");
            c.push(d);
        }
        match (&spec.reference, &spec.key, &spec.from_target_id) {
            (Some(entity), key, backwards) => {
                let at = format!("{path}.ref");
                if key.is_some() == backwards.is_some() {
                    let message = if key.is_none() {
                        "`ref` needs `key` (the referenced record's source key) or `from_target_id` (a target id, read backwards)"
                    } else {
                        "`ref` takes `key` or `from_target_id`, not both"
                    };
                    let d = Diagnostic::error("field-option", message)
                        .at_opt(c.key_at(&at))
                        .hint(format!("e.g. `{{ ref: {entity}, key: $.family_code }}`"));
                    c.push(d);
                }
                let connection = spec.connection.as_deref().or(scope.target_connection);
                match connection {
                    None => {
                        let d = Diagnostic::error("field-option", "`ref` resolves through the ID map of the job's target, and this job does not write to an `http` target")
                            .at_opt(c.at(&at))
                            .hint("name the connection whose ID map is read: `{ ref: product, connection: shop, key: $.sku }`");
                        c.push(d);
                    }
                    Some(connection)
                        if !scope
                            .entities
                            .iter()
                            .any(|(conn, e)| conn == connection && e == entity) =>
                    {
                        let written: Vec<&str> = scope
                            .entities
                            .iter()
                            .filter(|(conn, _)| conn == connection)
                            .map(|(_, e)| e.as_str())
                            .collect();
                        let elsewhere: Vec<&str> = scope
                            .entities
                            .iter()
                            .filter(|(_, e)| e == entity)
                            .map(|(conn, _)| conn.as_str())
                            .collect();
                        let hint = if !elsewhere.is_empty() {
                            format!(
                                "`{entity}` is written to {}: add `connection: {}`",
                                one_of(elsewhere.iter().copied()),
                                elsewhere[0]
                            )
                        } else {
                            did_you_mean(entity, written.iter().copied()).unwrap_or_else(|| {
                                format!(
                                    "the entities written to `{connection}` are {}",
                                    one_of(written.iter().copied())
                                )
                            })
                        };
                        let d = Diagnostic::error(
                            "unknown-entity",
                            format!("no job of this pipeline writes the entity `{entity}` to `{connection}`: every record would be rejected"),
                        )
                        .at_opt(c.at(&at))
                        .label("no such entity there")
                        .hint(hint);
                        c.push(d);
                    }
                    Some(_) => {}
                }
            }
            (None, key, backwards) => {
                for (name, set) in [
                    ("key", key.is_some()),
                    ("from_target_id", backwards.is_some()),
                    ("connection", spec.connection.is_some()),
                ] {
                    if set {
                        let d = Diagnostic::error(
                            "field-option",
                            format!("`{name}` only applies to `ref`"),
                        )
                        .at_opt(c.key_at(&format!("{path}.{name}")))
                        .hint("to read a value, use `path`");
                        c.push(d);
                    }
                }
            }
        }
        if let Some(table) = &spec.table {
            used_tables.push(table.clone());
            table_ref(c, &format!("{path}.table"), table);
        }
        if spec.scale.is_some() && spec.convert != Some(Conversion::Decimal) {
            let d = Diagnostic::error("field-option", "`scale` only applies to `as: decimal`")
                .at_opt(c.key_at(&format!("{path}.scale")))
                .hint("add `as: decimal`, or remove `scale`");
            c.push(d);
        }
        let dated = matches!(spec.convert, Some(Conversion::Date | Conversion::Datetime));
        // What the run would refuse when it compiles the conversion (a `format` it does not
        // know), refused here by the same code.
        if let Some(conversion) = spec.convert
            && let Err(problem) = Converter::new(
                conversion,
                spec.scale,
                spec.format.as_deref(),
                spec.input_format.as_deref(),
            )
        {
            let d = Diagnostic::error("field-option", problem)
                .at_opt(c.at(&format!("{path}.format")).or_else(|| c.key_at(&path)));
            c.push(d);
        }
        if spec.timezone.is_some() && spec.convert != Some(Conversion::Datetime) {
            let d = Diagnostic::error("field-option", "`timezone` only applies to `as: datetime`")
                .at_opt(c.key_at(&format!("{path}.timezone")));
            c.push(d);
        } else if spec.timezone.is_some() {
            let d = Diagnostic::error(
                "field-option",
                "`timezone` is not supported by the runtime yet",
            )
            .at_opt(c.key_at(&format!("{path}.timezone")))
            .hint("remove it, or convert the time in a `script`");
            c.push(d);
        }
        if spec.input_format.is_some() && !dated {
            let d = Diagnostic::error(
                "field-option",
                "`input_format` only applies to `as: date` and `as: datetime`",
            )
            .at_opt(c.key_at(&format!("{path}.input_format")));
            c.push(d);
        }
    }
}

/// A file source or target must have a format, given or told by its extension.
fn file_format(c: &mut Checker, base: &str, from: Option<&Source>, to: Option<&Target>) {
    let sides = [
        match from {
            Some(Source::File(f)) => Some(("from", f.location())),
            _ => None,
        },
        match to {
            Some(Target::File(f)) => Some(("to", f.location())),
            _ => None,
        },
    ];
    for (side, file) in sides.into_iter().flatten() {
        let path = file.path;
        if file.format.is_none() && FileFormat::from_extension(path).is_none() {
            let d = Diagnostic::error(
                "file-format",
                format!("the format of `{path}` cannot be told from its name"),
            )
            .at_opt(c.at(&format!("{base}.{side}.file.path")))
            .hint("add `format:` with `csv`, `json`, `ndjson` or `xml`");
            c.push(d);
        }
        if let Some(d) = file
            .csv
            .and_then(|csv| csv.delimiter)
            .filter(|d| !d.is_ascii())
        {
            let d = Diagnostic::error(
                "csv-delimiter",
                format!("the delimiter `{d}` is not a single-byte character"),
            )
            .at_opt(c.at(&format!("{base}.{side}.file.csv.delimiter")))
            .hint("CSV delimiters are one ASCII character: `;`, `,`, `|` or a tab (`\\t`)");
            c.push(d);
        }
    }
}
