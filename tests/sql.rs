//! The SQL connector against real databases: SQLite (embedded, always), PostgreSQL and MariaDB
//! (servers that `tests/sql/databases.sh` starts on loopback; their URLs in
//! `SYNCLINE_POSTGRES_URL` and `SYNCLINE_MARIADB_URL`). Without a server a test says so in its
//! output; in CI (`CI=true`) it fails instead.

mod common;

use common::Workdir;
use serde_json::{Value, json};
use sqlx::Connection;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

/// A database the test writes its tables in, and the URL its pipelines use.
struct Database {
    kind: Kind,
    url: String,
    runtime: tokio::runtime::Runtime,
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
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "{variable} is not set: CI must run the {kind:?} tests (tests/sql/databases.sh)"
                )
            }
            _ => eprintln!(
                "SKIPPED on {kind:?}: {variable} is not set (start one with tests/sql/databases.sh setup && start, then export what `env` prints)"
            ),
        }
    }
    std::fs::File::create(work.path("erp.db")).unwrap();
    found
        .into_iter()
        .map(|(kind, url)| Database {
            kind,
            url,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        })
        .collect()
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
        format!(
            "version: 1\nname: sql-test\nvars:\n  minimum: \"0\"\n  hostile: \"x'; DROP TABLE t_prices; --\"\n\
             connections:\n  erp:\n    sql: {{ url: \"{}\" }}\n  files:\n    file: {{ dir: \".\" }}\njobs:\n{jobs}",
            self.url
        )
    }
}

/// A watermark pull over several runs: rows tied on the watermark are all read, a row
/// committed late with an earlier time is caught by the look-back, and nothing is read twice.
#[test]
fn a_watermark_pull_reads_ties_and_late_rows_once() {
    let work = Workdir::new();
    for db in databases(&work) {
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
        assert_eq!(code, 0, "{:?}: {report:#}", db.kind);
        assert_eq!(
            work.sorted_field("out.ndjson", "ref"),
            ["A", "B", "C"],
            "{:?}",
            db.kind
        );
        let out = work.ndjson("out.ndjson");
        assert_eq!(out[0]["price"], json!(1.5), "{:?}", db.kind);
        assert_eq!(
            out[0]["modified"],
            json!("2026-12-01 10:00:00"),
            "{:?}",
            db.kind
        );
        // D ties with C; E was committed late, dated before the checkpoint; F is new.
        db.exec(
            &work,
            "INSERT INTO t_art VALUES ('D', 4, '2026-12-01 11:00:00'), \
             ('E', 5, '2026-12-01 10:30:00'), ('F', 6, '2026-12-01 12:00:00')",
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{:?}: {report:#}", db.kind);
        assert_eq!(
            work.sorted_field("out.ndjson", "ref"),
            ["D", "E", "F"],
            "{:?}",
            db.kind
        );
        let (code, _) = work.run("p.yaml", &[]);
        assert_eq!(code, 0);
        assert_eq!(
            work.ndjson("out.ndjson").len(),
            0,
            "{:?}: read twice",
            db.kind
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
    for db in databases(&work) {
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
        // PostgreSQL's text cannot hold NUL: it refuses that record rather than cut it.
        let nul_refused = db.kind == Kind::Postgres;
        let pushed = common::job(&report, "push");
        let rejected = if nul_refused { 2 } else { 1 };
        assert_eq!(pushed["rejected"], rejected, "{:?}: {report:#}", db.kind);
        assert_ne!(code, 0, "a rejected record is a failed run's exit code");
        let reason = report.to_string();
        assert!(
            reason.to_lowercase().contains("null"),
            "{:?}: the database's message is kept: {reason}",
            db.kind
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
        assert_eq!(refs, expected, "{:?}", db.kind);
        assert_eq!(
            rows[0][1].as_deref(),
            Some("O'Brien\"; DROP TABLE t_prices; --")
        );
        assert!(
            rows[0][2].as_deref().unwrap().starts_with("10.5"),
            "{rows:?}"
        );
        if !nul_refused {
            assert_eq!(rows[2][3].as_deref(), Some("a\u{0}b"), "{:?}", db.kind);
        }
        assert_eq!(rows[1][3].as_deref().map(str::len), Some(long.len()));
        // A changed price is written again; the unchanged record is not.
        let changed = json!({"ref": "P3", "name": "Long", "price": 3, "note": long});
        work.write("in.ndjson", format!("{}\n{}\n", lines[0], changed));
        let (_, report) = work.run("p.yaml", &[]);
        let delivered = common::delivered(&report, "push");
        assert_eq!(delivered["unchanged"], 1, "{:?}: {report:#}", db.kind);
        assert_eq!(delivered["updated"], 1, "{:?}: {report:#}", db.kind);
        let rows = db.texts(
            &work,
            &format!("SELECT {} FROM t_prices WHERE ref = 'P3'", db.text("price")),
        );
        assert!(rows[0][0].as_deref().unwrap().starts_with('3'), "{rows:?}");
    }
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
        db.exec(
            &work,
            &format!(
                "DROP TABLE IF EXISTS t_types; CREATE TABLE t_types ({ddl}); \
                 INSERT INTO t_types VALUES ({insert})"
            ),
        );
        work.write(
            "p.yaml",
            db.pipeline(
                "  pull:\n    from:\n      sql: { connection: erp, query: \"SELECT * FROM t_types\" }\n\
                 \x20   to:\n      file: { connection: files, path: types.ndjson }\n",
            ),
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{:?}: {report:#}", db.kind);
        let row = &work.ndjson("types.ndjson")[0];
        assert_eq!(row["i"], json!(1), "{:?}: {row}", db.kind);
        assert_eq!(row["f"], json!(0.25), "{:?}: {row}", db.kind);
        assert_eq!(row["t"], json!("x"), "{:?}: {row}", db.kind);
        assert_eq!(row["b"], json!("AQI="), "{:?}: {row}", db.kind);
        assert_eq!(row["d"], json!("2026-12-06"), "{:?}: {row}", db.kind);
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

/// A named parameter that is neither `:cursor` nor a var stops the run, named; a var's value,
/// however hostile, is bound and never becomes SQL.
#[test]
fn parameters_are_bound_never_spliced() {
    let work = Workdir::new();
    for db in databases(&work) {
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
        assert!(text.contains("`:nowhere`"), "{:?}: {text}", db.kind);
        work.write(
            "p.yaml",
            db.pipeline(
                "  pull:\n    from:\n      sql: { connection: erp, query: \"SELECT name FROM t_names WHERE name = :hostile\" }\n\
                 \x20   to:\n      file: { connection: files, path: names.ndjson }\n",
            ),
        );
        let (code, report) = work.run("p.yaml", &[]);
        assert_eq!(code, 0, "{:?}: {report:#}", db.kind);
        assert_eq!(
            work.sorted_field("names.ndjson", "name"),
            ["x'; DROP TABLE t_prices; --"],
            "{:?}",
            db.kind
        );
    }
}

/// A document and its lines are written in one savepoint: a line the database refuses undoes
/// the whole document, which is quarantined naming the line; the other documents are kept.
#[test]
fn a_document_and_its_lines_are_written_all_or_nothing() {
    let work = Workdir::new();
    for db in databases(&work) {
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
            "{:?}: {report:#}",
            db.kind
        );
        assert!(
            report.to_string().contains("line 2: "),
            "{:?}: {report:#}",
            db.kind
        );
        let docs = db.texts(&work, "SELECT piece FROM t_docs ORDER BY piece");
        assert_eq!(docs, [[Some("D1".to_string())]], "{:?}", db.kind);
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
            "{:?}: D2's first line is undone too: {lines:?}",
            db.kind
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
    for db in databases(&work) {
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
        assert_eq!(code, 2, "{:?}: {text}", db.kind);
        assert!(
            text.contains("sql-query") && text.contains("nowhere"),
            "{:?}: {text}",
            db.kind
        );
        let (code, text) = work.printed(&["validate", "p.yaml"]);
        assert_eq!(code, 0, "{:?}: {text}", db.kind);
        work.write("p.yaml", pipeline("ref"));
        let (code, text) = work.printed(&["validate", "p.yaml", "--connect"]);
        assert_eq!(code, 0, "{:?}: {text}", db.kind);
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
