//! The SQL connector against real databases: SQLite (embedded, always), PostgreSQL and MariaDB
//! (servers that `tests/sql/databases.sh` starts on loopback; their URLs in
//! `SYNCLINE_POSTGRES_URL` and `SYNCLINE_MARIADB_URL`). Without a server a test says so in its
//! output; in CI (`CI=true`) it fails instead.
//!
//! Built with `--features odbc`, the main scenarios run again through ODBC: the same PostgreSQL
//! through its ODBC driver (psqlodbc, "PostgreSQL Unicode") and a SQLite file through the
//! SQLite3 ODBC driver; a driver that is not installed is SKIPPED, and fails in CI.

mod common;

use common::Workdir;
use serde_json::{Value, json};
use sqlx::Connection;

/// The database engine, whichever way the pipelines reach it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

/// A database the test writes its tables in (through sqlx, at `url`), and how its pipelines
/// reach it: by `url`, or by an ODBC connection string.
struct Database {
    kind: Kind,
    url: String,
    odbc: Option<String>,
    runtime: tokio::runtime::Runtime,
}

/// Fails in CI, where every database must be tested; says SKIPPED elsewhere.
fn skipped(what: &str, how: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what}: CI must run these tests ({how})");
    }
    eprintln!("SKIPPED on {what} ({how})");
}

/// The databases to test on: SQLite in `work`, and the servers that were started.
fn databases(work: &Workdir) -> Vec<Database> {
    let mut found = vec![(Kind::Sqlite, "sqlite://erp.db".to_string())];
    for (kind, variable) in [
        (Kind::Postgres, "SYNCLINE_POSTGRES_URL"),
        (Kind::MariaDb, "SYNCLINE_MARIADB_URL"),
    ] {
        match std::env::var(variable) {
            Ok(url) if !url.is_empty() => found.push((kind, url)),
            _ => skipped(
                &format!("{kind:?}"),
                &format!(
                    "{variable} is not set: start one with tests/sql/databases.sh setup && start, then export what `env` prints"
                ),
            ),
        }
    }
    std::fs::File::create(work.path("erp.db")).unwrap();
    found
        .into_iter()
        .map(|(kind, url)| Database::new(kind, url, None))
        .collect()
}

/// The databases to test on, and, built with ODBC, the same SQLite file and PostgreSQL server
/// through their ODBC drivers.
fn databases_and_odbc(work: &Workdir) -> Vec<Database> {
    #[allow(unused_mut)]
    let mut found = databases(work);
    #[cfg(feature = "odbc")]
    {
        let postgres = found
            .iter()
            .find(|d| d.kind == Kind::Postgres)
            .map(|d| d.url.clone());
        found.extend(odbc::databases(postgres.as_deref()));
    }
    found
}

#[cfg(feature = "odbc")]
mod odbc {
    use super::{Database, Kind, skipped};

    /// Whether unixODBC knows the driver `name` (`odbcinst` lists /etc/odbcinst.ini).
    fn installed(name: &str) -> bool {
        std::process::Command::new("odbcinst")
            .args(["-q", "-d", "-n", name])
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// The ODBC connection string of a `postgres://user[:password]@host:port/db` URL.
    fn from_url(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (credentials, rest) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        let (address, database) = rest.split_once('/').unwrap_or((rest, "postgres"));
        let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
        // UseDeclareFetch=1: rows fetched by a cursor, not the whole result held in memory.
        let mut string = format!(
            "Driver={{PostgreSQL Unicode}};Server={host};Port={port};Database={database};UID={user};UseDeclareFetch=1"
        );
        if !password.is_empty() {
            string += &format!(";PWD={password}");
        }
        string
    }

    pub fn databases(postgres: Option<&str>) -> Vec<Database> {
        let mut found = Vec::new();
        if installed("SQLite3") {
            found.push(Database::new(
                Kind::Sqlite,
                "sqlite://erp.db".into(),
                // StepAPI=1: rows stepped one by one, not the whole result held in memory.
                Some("Driver=SQLite3;Database=erp.db;StepAPI=1".into()),
            ));
        } else {
            skipped("SQLite over ODBC", "apt-get install libsqliteodbc");
        }
        match postgres {
            Some(url) if installed("PostgreSQL Unicode") => {
                found.push(Database::new(
                    Kind::Postgres,
                    url.into(),
                    Some(from_url(url)),
                ));
            }
            Some(_) => skipped("Postgres over ODBC", "apt-get install odbc-postgresql"),
            // Already said: no PostgreSQL server.
            None => {}
        }
        found
    }
}

/// Runs `$work` with `$c`, a connection to `$db` of its kind.
macro_rules! with_connection {
    ($db:expr, $work_dir:expr, |$c:ident| $work:expr) => {{
        let db: &Database = $db;
        db.runtime.block_on(async {
            match db.kind {
                Kind::Sqlite => {
                    let url = format!("sqlite://{}", $work_dir.path("erp.db").display());
                    let mut $c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    $work
                }
                Kind::Postgres => {
                    let mut $c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                    $work
                }
                Kind::MariaDb => {
                    let mut $c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
                    $work
                }
            }
        })
    }};
}

impl Database {
    fn new(kind: Kind, url: String, odbc: Option<String>) -> Database {
        Database {
            kind,
            url,
            odbc,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// The database and the way in, for messages.
    fn name(&self) -> String {
        match self.odbc {
            Some(_) => format!("{:?} over ODBC", self.kind),
            None => format!("{:?}", self.kind),
        }
    }

    fn is_odbc(&self) -> bool {
        self.odbc.is_some()
    }

    /// Runs SQL statements (separated by `;`), as the database's own client would.
    fn exec(&self, work: &Workdir, sql: &str) {
        with_connection!(self, work, |c| {
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        })
    }

    /// The rows of `sql`, every column read as text (the query casts them).
    fn texts(&self, work: &Workdir, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        with_connection!(self, work, |c| {
            let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.get::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        })
    }

    /// `column` as text in a query.
    fn text(&self, column: &str) -> String {
        match self.kind {
            Kind::MariaDb => format!("CAST({column} AS CHAR)"),
            _ => format!("CAST({column} AS TEXT)"),
        }
    }

    fn timestamp(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "TEXT",
            Kind::Postgres => "TIMESTAMP",
            Kind::MariaDb => "DATETIME",
        }
    }

    fn pipeline(&self, jobs: &str) -> String {
        let connection = match &self.odbc {
            Some(string) => {
                let dialect = match self.kind {
                    Kind::Sqlite => "sqlite",
                    Kind::Postgres => "postgres",
                    Kind::MariaDb => "mysql",
                };
                format!("{{ odbc: \"{string}\", dialect: {dialect} }}")
            }
            None => format!("{{ url: \"{}\" }}", self.url),
        };
        format!(
            "version: 1\nname: sql-test\nvars:\n  minimum: \"0\"\n  hostile: \"x'; DROP TABLE t_prices; --\"\n\
             connections:\n  erp:\n    sql: {connection}\n  files:\n    file: {{ dir: \".\" }}\njobs:\n{jobs}"
        )
    }
}

/// A watermark pull over several runs: rows tied on the watermark are all read, a row
/// committed late with an earlier time is caught by the look-back, and nothing is read twice.
#[test]
fn a_watermark_pull_reads_ties_and_late_rows_once() {
    let work = Workdir::new();
    for db in databases_and_odbc(&work) {
        let ts = db.timestamp();
        db.exec(
            &work,
            &format!(
                "DROP TABLE IF EXISTS t_art; CREATE TABLE t_art (ref VARCHAR(20) PRIMARY KEY, \
                 price NUMERIC(12,4), modified {ts}); \
                 INSERT INTO t_art VALUES ('A', 1.5, '2026-12-01 10:00:00'), \
                 ('B', 2, '2026-12-01 10:00:00'), ('C', 3, '2026-12-01 11:00:00')"
            ),
        );
        work.write(
            "p.yaml",
            db.pipeline(
                "  pull:\n    from:\n      sql:\n        connection: erp\n        query: |\n\
                 \x20         SELECT ref, price, modified FROM t_art\n\
                 \x20         WHERE modified > :cursor AND price >= :minimum ORDER BY modified, ref\n\
                 \x20   cursor: { field: $.modified, tie_breaker: $.ref, lookback: 2h }\n\
                 \x20   to:\n      file: { connection: files, path: out.ndjson, key: $.ref, only_changed: true }\n",
            ),
        );
        let _ = std::fs::remove_dir_all(work.path(".syncline"));
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{}: {report:#}", db.name());
        assert_eq!(
            work.sorted_field("out.ndjson", "ref"),
            ["A", "B", "C"],
            "{}",
            db.name()
        );
        let out = work.ndjson("out.ndjson");
        assert_eq!(out[0]["price"], json!(1.5), "{}", db.name());
        assert_eq!(
            out[0]["modified"],
            json!("2026-12-01 10:00:00"),
            "{}",
            db.name()
        );
        // D ties with C; E was committed late, dated before the checkpoint; F is new.
        db.exec(
            &work,
            "INSERT INTO t_art VALUES ('D', 4, '2026-12-01 11:00:00'), \
             ('E', 5, '2026-12-01 10:30:00'), ('F', 6, '2026-12-01 12:00:00')",
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{}: {report:#}", db.name());
        assert_eq!(
            work.sorted_field("out.ndjson", "ref"),
            ["D", "E", "F"],
            "{}",
            db.name()
        );
        let (code, _) = work.run("p.yaml", &[]);
        assert_eq!(code, 0);
        assert_eq!(
            work.ndjson("out.ndjson").len(),
            0,
            "{}: read twice",
            db.name()
        );
    }
}

/// Records upserted by key in transactions; a record the database refuses is quarantined with
/// the database's message while the others are written; hostile values are stored as they are
/// and change nothing else.
#[test]
fn records_are_upserted_and_a_refused_one_is_quarantined_alone() {
    let work = Workdir::new();
    let long = "é".repeat(500_000);
    for db in databases_and_odbc(&work) {
        // MariaDB's TEXT holds 64 KiB.
        let note = if db.kind == Kind::MariaDb {
            "LONGTEXT"
        } else {
            "TEXT"
        };
        db.exec(
            &work,
            &format!(
                "DROP TABLE IF EXISTS t_prices; CREATE TABLE t_prices (ref VARCHAR(20) PRIMARY KEY, \
                 name VARCHAR(60) NOT NULL, price NUMERIC(12,4), note {note})"
            ),
        );
        let records = [
            json!({"ref": "P1", "name": "O'Brien\"; DROP TABLE t_prices; --", "price": "10.5"}),
            json!({"ref": "P2", "name": null, "price": "1"}),
            json!({"ref": "P3", "name": "Long", "price": 2.25, "note": long}),
            json!({"ref": "P4", "name": "NUL", "note": "a\u{0}b"}),
        ];
        let lines: Vec<String> = records.iter().map(Value::to_string).collect();
        work.write("in.ndjson", lines.join("\n") + "\n");
        work.write(
            "p.yaml",
            db.pipeline(
                "  push:\n    from:\n      file: { connection: files, path: in.ndjson }\n\
                 \x20   to:\n      sql: { connection: erp, table: t_prices, key: [ref], batch: 2 }\n",
            ),
        );
        let _ = std::fs::remove_dir_all(work.path(".syncline"));
        let (code, report) = work.run("p.yaml", &[]);
        // PostgreSQL's text cannot hold NUL: it refuses that record rather than cut it. Through
        // ODBC a NUL is refused before it is sent, whatever the database: psqlodbc cuts text
        // at it without a word (the SQLite3 driver does not, but others may).
        let nul_refused = db.kind == Kind::Postgres || db.is_odbc();
        let pushed = common::job(&report, "push");
        let rejected = if nul_refused { 2 } else { 1 };
        assert_eq!(pushed["rejected"], rejected, "{}: {report:#}", db.name());
        assert_ne!(code, 0, "a rejected record is a failed run's exit code");
        let reason = report.to_string();
        assert!(
            reason.to_lowercase().contains("null"),
            "{}: the database's message is kept: {reason}",
            db.name()
        );
        let rows = db.texts(
            &work,
            &format!(
                "SELECT ref, name, {}, note FROM t_prices ORDER BY ref",
                db.text("price")
            ),
        );
        let refs: Vec<_> = rows.iter().map(|r| r[0].clone().unwrap()).collect();
        let expected: &[&str] = if nul_refused {
            &["P1", "P3"]
        } else {
            &["P1", "P3", "P4"]
        };
        assert_eq!(refs, expected, "{}", db.name());
        assert_eq!(
            rows[0][1].as_deref(),
            Some("O'Brien\"; DROP TABLE t_prices; --")
        );
        assert!(
            rows[0][2].as_deref().unwrap().starts_with("10.5"),
            "{rows:?}"
        );
        if !nul_refused {
            assert_eq!(rows[2][3].as_deref(), Some("a\u{0}b"), "{}", db.name());
        }
        assert_eq!(rows[1][3].as_deref().map(str::len), Some(long.len()));
        // A changed price is written again; the unchanged record is not.
        let changed = json!({"ref": "P3", "name": "Long", "price": 3, "note": long});
        work.write("in.ndjson", format!("{}\n{}\n", lines[0], changed));
        let (_, report) = work.run("p.yaml", &[]);
        let delivered = common::delivered(&report, "push");
        assert_eq!(delivered["unchanged"], 1, "{}: {report:#}", db.name());
        assert_eq!(delivered["updated"], 1, "{}: {report:#}", db.name());
        let rows = db.texts(
            &work,
            &format!("SELECT {} FROM t_prices WHERE ref = 'P3'", db.text("price")),
        );
        assert!(rows[0][0].as_deref().unwrap().starts_with('3'), "{rows:?}");
    }
}

/// The only row of a new table `table` (`ddl` its columns, `insert` its values), as the
/// pipeline reads it.
fn one_row(db: &Database, work: &Workdir, table: &str, ddl: &str, insert: &str) -> Value {
    db.exec(
        work,
        &format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({ddl}); \
             INSERT INTO {table} VALUES ({insert})"
        ),
    );
    work.write(
        "p.yaml",
        db.pipeline(&format!(
            "  pull:\n    from:\n      sql: {{ connection: erp, query: \"SELECT * FROM {table}\" }}\n\
             \x20   to:\n      file: {{ connection: files, path: types.ndjson }}\n"
        )),
    );
    let (code, report) = work.run("p.yaml", &[]);
    assert_eq!(code, 0, "{}: {report:#}", db.name());
    work.ndjson("types.ndjson").remove(0)
}

/// Each database's column types as records: numbers as numbers, decimals exact, dates and
/// times as text, NULL as null, binary as base64.
#[test]
fn every_column_type_is_read_faithfully() {
    let work = Workdir::new();
    for db in databases(&work) {
        let (ddl, insert) = match db.kind {
            Kind::Sqlite => (
                "i INTEGER, n NUMERIC(12,4), f REAL, t TEXT, b BLOB, d TEXT, z TEXT",
                "1, 12.5, 0.25, 'x', X'0102', '2026-12-06', NULL",
            ),
            Kind::Postgres => (
                "i INTEGER, n NUMERIC(30,10), f DOUBLE PRECISION, t VARCHAR(10), b BYTEA, d DATE, \
                 z TIMESTAMPTZ, s SMALLINT, g BIGINT, o BOOLEAN, m TIMESTAMP, j JSONB, h TIME",
                "1, 12345678901234567890.1234567891, 0.25, 'x', '\\x0102', '2026-12-06', \
                 '2026-12-06 10:00:00+01', 2, 9007199254740993, true, '2026-12-06 10:00:00.5', \
                 '{\"a\": 1}', '08:30:00'",
            ),
            Kind::MariaDb => (
                "i INT, n DECIMAL(12,4), f DOUBLE, t VARCHAR(10), b BLOB, d DATE, z DATETIME, \
                 s SMALLINT, g BIGINT, u INT UNSIGNED, e ENUM('a','b'), h TIME",
                "1, 12.5, 0.25, 'x', X'0102', '2026-12-06', NULL, 2, 9007199254740993, 7, 'b', \
                 '08:30:00'",
            ),
        };
        let row = &one_row(&db, &work, "t_types", ddl, insert);
        assert_eq!(row["i"], json!(1), "{}: {row}", db.name());
        assert_eq!(row["f"], json!(0.25), "{}: {row}", db.name());
        assert_eq!(row["t"], json!("x"), "{}: {row}", db.name());
        assert_eq!(row["b"], json!("AQI="), "{}: {row}", db.name());
        assert_eq!(row["d"], json!("2026-12-06"), "{}: {row}", db.name());
        match db.kind {
            Kind::Sqlite => {
                assert_eq!(row["n"], json!(12.5), "{row}");
                assert_eq!(row["z"], Value::Null, "{row}");
            }
            Kind::Postgres => {
                assert_eq!(row["n"], json!("12345678901234567890.1234567891"), "{row}");
                assert_eq!(row["z"], json!("2026-12-06T09:00:00Z"), "{row}");
                assert_eq!(row["s"], json!(2), "{row}");
                assert_eq!(row["g"], json!(9007199254740993i64), "{row}");
                assert_eq!(row["o"], json!(true), "{row}");
                assert_eq!(row["m"], json!("2026-12-06 10:00:00.500"), "{row}");
                assert_eq!(row["j"], json!({"a": 1}), "{row}");
                assert_eq!(row["h"], json!("08:30:00"), "{row}");
            }
            Kind::MariaDb => {
                assert_eq!(row["n"], json!(12.5), "{row}");
                assert_eq!(row["z"], Value::Null, "{row}");
                assert_eq!(row["g"], json!(9007199254740993i64), "{row}");
                assert_eq!(row["u"], json!(7), "{row}");
                assert_eq!(row["e"], json!("b"), "{row}");
                assert_eq!(row["h"], json!("08:30:00"), "{row}");
            }
        }
    }
}

/// Through ODBC, columns are read by the type the driver describes: numbers as numbers,
/// decimals exact, times as text (`2026-12-06 10:00:00.500`), bits as booleans, binary as
/// base64. Where a driver describes a type otherwise than sqlx, the value follows the driver.
#[cfg(feature = "odbc")]
#[test]
fn every_column_type_is_read_through_odbc() {
    let work = Workdir::new();
    for mut db in databases_and_odbc(&work)
        .into_iter()
        .filter(Database::is_odbc)
    {
        let (ddl, insert) = match db.kind {
            Kind::Sqlite => (
                "i INTEGER, n NUMERIC(12,4), f REAL, t TEXT, d DATE, m TIMESTAMP, o BOOLEAN, \
                 z TEXT",
                "1, 12.5, 0.25, 'x', '2026-12-06', '2026-12-06 10:00:00', 1, NULL",
            ),
            Kind::Postgres => (
                "i INTEGER, n NUMERIC(30,10), f DOUBLE PRECISION, t VARCHAR(10), b BYTEA, \
                 d DATE, m TIMESTAMP, o BOOLEAN, z TEXT, s SMALLINT, g BIGINT, h TIME, \
                 e NUMERIC(12,4)",
                "1, 12345678901234567890.1234567891, 0.25, 'x', '\\x0102', '2026-12-06', \
                 '2026-12-06 10:00:00.5', true, NULL, 2, 9007199254740993, '08:30:00', 12.5",
            ),
            Kind::MariaDb => continue,
        };
        // psqlodbc describes a boolean as text (`1`) unless told `BoolsAsChar=0`: then as a bit.
        if db.kind == Kind::Postgres
            && let Some(string) = &mut db.odbc
        {
            string.push_str(";BoolsAsChar=0");
        }
        let row = &one_row(&db, &work, "t_odbc_types", ddl, insert);
        assert_eq!(row["i"], json!(1), "{}: {row}", db.name());
        assert_eq!(row["f"], json!(0.25), "{}: {row}", db.name());
        assert_eq!(row["t"], json!("x"), "{}: {row}", db.name());
        assert_eq!(row["d"], json!("2026-12-06"), "{}: {row}", db.name());
        assert_eq!(row["o"], json!(true), "{}: {row}", db.name());
        assert_eq!(row["z"], Value::Null, "{}: {row}", db.name());
        match db.kind {
            Kind::Sqlite => {
                // The SQLite3 driver describes NUMERIC as a double.
                assert_eq!(row["n"], json!(12.5), "{row}");
                assert_eq!(row["m"], json!("2026-12-06 10:00:00"), "{row}");
            }
            _ => {
                assert_eq!(row["n"], json!("12345678901234567890.1234567891"), "{row}");
                assert_eq!(row["e"], json!(12.5), "{row}");
                assert_eq!(row["b"], json!("AQI="), "{row}");
                assert_eq!(row["m"], json!("2026-12-06 10:00:00.500"), "{row}");
                assert_eq!(row["s"], json!(2), "{row}");
                assert_eq!(row["g"], json!(9007199254740993i64), "{row}");
                assert_eq!(row["h"], json!("08:30:00"), "{row}");
            }
        }
    }
}

/// A named parameter that is neither `:cursor` nor a var stops the run, named; a var's value,
/// however hostile, is bound and never becomes SQL.
#[test]
fn parameters_are_bound_never_spliced() {
    let work = Workdir::new();
    for db in databases_and_odbc(&work) {
        db.exec(
            &work,
            "DROP TABLE IF EXISTS t_names; CREATE TABLE t_names (name VARCHAR(60)); \
             INSERT INTO t_names VALUES ('x''; DROP TABLE t_prices; --'), ('other')",
        );
        work.write(
            "p.yaml",
            db.pipeline(
                "  pull:\n    from:\n      sql: { connection: erp, query: \"SELECT name FROM t_names WHERE name = :hostile OR name = :nowhere\" }\n\
                 \x20   to:\n      file: { connection: files, path: names.ndjson }\n",
            ),
        );
        let (code, text) = work.printed(&["run", "p.yaml"]);
        assert_ne!(code, 0, "{text}");
        assert!(text.contains("`:nowhere`"), "{}: {text}", db.name());
        work.write(
            "p.yaml",
            db.pipeline(
                "  pull:\n    from:\n      sql: { connection: erp, query: \"SELECT name FROM t_names WHERE name = :hostile\" }\n\
                 \x20   to:\n      file: { connection: files, path: names.ndjson }\n",
            ),
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{}: {report:#}", db.name());
        assert_eq!(
            work.sorted_field("names.ndjson", "name"),
            ["x'; DROP TABLE t_prices; --"],
            "{}",
            db.name()
        );
    }
}

/// A document and its lines are written in one savepoint: a line the database refuses undoes
/// the whole document, which is quarantined naming the line; the other documents are kept.
#[test]
fn a_document_and_its_lines_are_written_all_or_nothing() {
    let work = Workdir::new();
    for db in databases_and_odbc(&work) {
        db.exec(
            &work,
            "DROP TABLE IF EXISTS t_lines; DROP TABLE IF EXISTS t_docs; \
             CREATE TABLE t_docs (piece VARCHAR(20) PRIMARY KEY, customer VARCHAR(20) NOT NULL); \
             CREATE TABLE t_lines (piece VARCHAR(20) NOT NULL, n INTEGER NOT NULL, \
             sku VARCHAR(20) NOT NULL, qty NUMERIC(12,3), PRIMARY KEY (piece, n))",
        );
        let docs = [
            json!({"piece": "D1", "customer": "C1", "lines": [
                {"piece": "D1", "n": 1, "sku": "A", "qty": 2},
                {"piece": "D1", "n": 2, "sku": "B", "qty": 0.5}]}),
            json!({"piece": "D2", "customer": "C2", "lines": [
                {"piece": "D2", "n": 1, "sku": "A", "qty": 1},
                {"piece": "D2", "n": 2, "sku": null, "qty": 1}]}),
        ];
        let lines: Vec<String> = docs.iter().map(Value::to_string).collect();
        work.write("docs.ndjson", lines.join("\n") + "\n");
        work.write(
            "p.yaml",
            db.pipeline(
                "  documents:\n    from:\n      file: { connection: files, path: docs.ndjson }\n\
                 \x20   to:\n      sql:\n        connection: erp\n        table: t_docs\n        key: [piece]\n\
                 \x20       lines: { field: lines, table: t_lines, key: [piece, n] }\n",
            ),
        );
        let _ = std::fs::remove_dir_all(work.path(".syncline"));
        let (_, report) = work.run("p.yaml", &[]);
        assert_eq!(
            common::job(&report, "documents")["rejected"],
            1,
            "{}: {report:#}",
            db.name()
        );
        assert!(
            report.to_string().contains("line 2: "),
            "{}: {report:#}",
            db.name()
        );
        let docs = db.texts(&work, "SELECT piece FROM t_docs ORDER BY piece");
        assert_eq!(docs, [[Some("D1".to_string())]], "{}", db.name());
        let lines = db.texts(
            &work,
            &format!(
                "SELECT piece, {} FROM t_lines ORDER BY piece, n",
                db.text("n")
            ),
        );
        assert_eq!(
            lines.len(),
            2,
            "{}: D2's first line is undone too: {lines:?}",
            db.name()
        );
        assert!(
            lines.iter().all(|l| l[0].as_deref() == Some("D1")),
            "{lines:?}"
        );
    }
}

/// `validate --connect` has each database prepare the queries: an unknown column is reported
/// at the query, with the database's words; without `--connect` nothing is asked of it.
#[test]
fn validate_connect_reports_what_the_database_refuses_at_the_query() {
    let work = Workdir::new();
    for db in databases_and_odbc(&work) {
        db.exec(
            &work,
            "DROP TABLE IF EXISTS t_known; CREATE TABLE t_known (ref VARCHAR(20))",
        );
        let pipeline = |column: &str| {
            db.pipeline(&format!(
                "  pull:\n    from:\n      sql:\n        connection: erp\n        query: SELECT {column} FROM t_known WHERE ref > :cursor\n\
                 \x20   to:\n      file: {{ connection: files, path: out.ndjson }}\n"
            ))
        };
        work.write("p.yaml", pipeline("nowhere"));
        let (code, text) = work.printed(&["validate", "p.yaml", "--connect"]);
        assert_eq!(code, 2, "{}: {text}", db.name());
        assert!(
            text.contains("sql-query") && text.contains("nowhere"),
            "{}: {text}",
            db.name()
        );
        let (code, text) = work.printed(&["validate", "p.yaml"]);
        assert_eq!(code, 0, "{}: {text}", db.name());
        work.write("p.yaml", pipeline("ref"));
        let (code, text) = work.printed(&["validate", "p.yaml", "--connect"]);
        assert_eq!(code, 0, "{}: {text}", db.name());
    }
}

/// An `odbc:` connection string is never shown with its password (`PWD=***`). Built without
/// the `odbc` feature, such a connection is refused before anything runs, saying how to build
/// a syncline that speaks ODBC.
#[test]
fn an_odbc_connection_string_is_shown_without_its_password() {
    let work = Workdir::new();
    work.write(
        "p.yaml",
        "version: 1\nname: sql-test\nconnections:\n  erp:\n    sql:\n\
         \x20     odbc: \"Driver=NoSuchDriver;Server=sage.local;UID=erp;PWD=${secret.SAGE_PASSWORD};TDS_Version=7.4\"\n\
         \x20     dialect: mssql\n  files:\n    file: { dir: \".\" }\njobs:\n  pull:\n\
         \x20   from: { sql: { connection: erp, query: \"SELECT AR_Ref FROM F_ARTICLE\" } }\n\
         \x20   to: { file: { connection: files, path: out.ndjson } }\n",
    );
    let password = "Xq7-secret-Vz9";
    let out = work.syncline_with_env(&["run", "p.yaml"], &[("SAGE_PASSWORD", password)]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains(password), "{text}");
    if cfg!(feature = "odbc") {
        // unixODBC knows no such driver: the job fails naming the connection, password hidden.
        assert!(
            text.contains("Driver=NoSuchDriver;Server=sage.local;UID=erp;PWD=***;TDS_Version=7.4"),
            "{text}"
        );
    } else {
        assert!(
            text.contains("this syncline was built without ODBC: cargo build --features odbc"),
            "{text}"
        );
    }
}

/// A dry run reads the table's current row for its field diff and writes nothing.
#[test]
fn a_dry_run_diffs_against_the_row_and_writes_nothing() {
    let work = Workdir::new();
    for db in databases(&work) {
        db.exec(
            &work,
            "DROP TABLE IF EXISTS t_dry; CREATE TABLE t_dry (ref VARCHAR(20) PRIMARY KEY, \
             price NUMERIC(12,4), name VARCHAR(20))",
        );
        work.write(
            "p.yaml",
            db.pipeline(
                "  push:\n    from:\n      file: { connection: files, path: dry.ndjson }\n\
                 \x20   to:\n      sql: { connection: erp, table: t_dry, key: [ref] }\n",
            ),
        );
        let _ = std::fs::remove_dir_all(work.path(".syncline"));
        work.write(
            "dry.ndjson",
            "{\"ref\": \"P1\", \"price\": 10, \"name\": \"a\"}\n",
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{:?}: {report:#}", db.kind);
        // Someone changed the name on the table; the source changes the price.
        db.exec(&work, "UPDATE t_dry SET name = 'b' WHERE ref = 'P1'");
        work.write(
            "dry.ndjson",
            "{\"ref\": \"P1\", \"price\": 12.5, \"name\": \"a\"}\n",
        );
        let out = work.syncline(&["dry-run", "p.yaml", "--format", "json"]);
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let change = &plan["jobs"][0]["changes"][0];
        assert_eq!(change["action"], "update", "{:?}: {plan:#}", db.kind);
        assert_eq!(
            change["fields"]["price"],
            json!({"from": 10, "to": 12.5}),
            "{:?}: {plan:#}",
            db.kind
        );
        assert_eq!(
            change["fields"]["name"],
            json!({"from": "b", "to": "a"}),
            "{:?}: {plan:#}",
            db.kind
        );
        let rows = db.texts(&work, &format!("SELECT {} FROM t_dry", db.text("price")));
        assert!(
            rows[0][0].as_deref().unwrap().starts_with("10"),
            "{:?}: {rows:?}",
            db.kind
        );
    }
}
