//! `syncline validate`: every problem of every file at once, located, with a hint; exit codes.

use std::collections::BTreeSet;

use assert_cmd::Command;

fn syncline() -> Command {
    let mut cmd = Command::cargo_bin("syncline").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SYNCLINE_TEST_NEVER_SET_URL")
        .env("NO_COLOR", "1");
    cmd
}

fn json_report(args: &[&str]) -> (serde_json::Value, i32) {
    let out = syncline()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).expect("validate --format json prints JSON");
    (report, out.status.code().unwrap_or(-1))
}

#[test]
fn broken_directory_reports_every_problem_located_and_exits_2() {
    let out = syncline()
        .args(["validate", "tests/fixtures/broken"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("broken_human", stdout);
}

#[test]
fn broken_directory_as_json() {
    let (report, code) = json_report(&["validate", "tests/fixtures/broken"]);
    assert_eq!(code, 2);
    insta::assert_json_snapshot!("broken_json", report);
}

#[test]
fn every_kind_of_problem_is_found_in_its_own_file() {
    let (report, _) = json_report(&["validate", "tests/fixtures/broken"]);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    // Each broken file gets at least one diagnostic located in it, at a line and column.
    for entry in std::fs::read_dir("tests/fixtures/broken").unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let located: Vec<_> = diagnostics
            .iter()
            .filter(|d| d["file"].as_str().is_some_and(|f| f.ends_with(&name)))
            .collect();
        assert!(!located.is_empty(), "{name}: no diagnostic");
        for d in located {
            assert!(
                d["line"].as_u64().unwrap() >= 1 && d["column"].as_u64().unwrap() >= 1,
                "{d}"
            );
            assert!(
                d["hint"].is_string() || d["code"] == "unused",
                "no hint: {d}"
            );
        }
    }
    let codes: BTreeSet<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    for kind in [
        "unknown-key",
        "unknown-job",
        "needs-cycle",
        "unknown-connection",
        "connection-kind",
        "unknown-table",
        "rhai",
        "duplicate-key",
        "table-ambiguous",
        "env-unset",
        "unknown-var",
        "secret-outside-connection",
        "wrong-type",
        "missing-key",
        "unknown-kind",
        "yaml-syntax",
        "step-kind",
        "field-source",
        "unknown-entity",
        "field-option",
    ] {
        assert!(
            codes.contains(kind),
            "no `{kind}` diagnostic among {codes:?}"
        );
    }
    // JSONPaths and cron expressions that do not parse are reported on the value.
    let messages: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("is not a valid JSONPath"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("is not a valid cron expression"))
    );
}

#[test]
fn rhai_errors_point_inside_the_yaml_block() {
    let (report, _) = json_report(&["validate", "tests/fixtures/broken/07-rhai.yaml"]);
    let at: Vec<(u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "rhai")
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    // The end of the incomplete filter on line 7; the `;` after `+` on the third line of the
    // script block (line 11); the end of the unclosed call on line 14.
    assert_eq!(at, vec![(7, 36), (11, 33), (14, 46)]);
}

#[test]
fn clean_directories_exit_0() {
    let out = syncline()
        .args(["validate", "pipelines", "examples", "tests/fixtures/valid"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("checked: valid"), "{stdout}");
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let file = "tests/fixtures/valid/env-defaults.yaml";
    let out = syncline()
        .args(["validate", file])
        .env_remove("SYNCLINE_FIXTURE_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let strict = syncline()
        .args(["validate", file, "--deny-warnings"])
        .env_remove("SYNCLINE_FIXTURE_DIR")
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(2));
}

#[test]
fn a_path_that_does_not_exist_is_a_runtime_failure() {
    let out = syncline()
        .args(["validate", "no/such/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot read no/such/dir"));
}

/// `syncline ARGS` run in `dir`: the exit code and everything printed, both streams.
fn in_dir(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = syncline().current_dir(dir).args(args).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), printed)
}

/// `validate FILE --format json` in `dir`: the exit code and the diagnostics.
fn json_in_dir(dir: &std::path::Path, file: &str) -> (i32, Vec<serde_json::Value>) {
    let out = syncline()
        .current_dir(dir)
        .args(["validate", file, "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let diagnostics = report["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (out.status.code().unwrap_or(-1), diagnostics)
}

/// The diagnostic at this line, or a panic listing them all.
fn at_line(diagnostics: &[serde_json::Value], line: u64) -> &serde_json::Value {
    diagnostics
        .iter()
        .find(|d| d["line"] == line)
        .unwrap_or_else(|| panic!("nothing at line {line}: {diagnostics:#?}"))
}

/// Issue 17: miette formats columns as padding widths, which stop at 65535 ("Formatting
/// argument out of range", exit 101).
#[test]
fn a_problem_past_column_65535_is_located_without_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "jobs: {{ j: {{ from: {{ file: {{ path: a.csv }} }}, to: {{ file: {{ path: b.ndjson }} }}, note: \"{}\", bogus: 1 }} }}",
        "A".repeat(70_000)
    );
    let column = line.find("bogus").unwrap() + 1;
    std::fs::write(
        dir.path().join("p.yaml"),
        format!("version: 1\nname: p\n{line}\n"),
    )
    .unwrap();
    let (code, printed) = in_dir(dir.path(), &["validate", "p.yaml"]);
    assert_eq!(code, 2, "{}", &printed[..printed.len().min(2000)]);
    assert!(
        printed.contains(&format!("p.yaml:3:{column}")),
        "{}",
        &printed[..printed.len().min(2000)]
    );
    assert!(printed.contains("unknown key `bogus`"));
    assert!(
        !printed.contains(&"A".repeat(1000)),
        "the line is not printed"
    );
}

/// Issue 17: `extends` printed the lines of whatever file it named (a secrets file,
/// /etc/passwd) under "this one is a string".
#[test]
fn extends_never_prints_a_file_that_is_not_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(".secrets", "API_KEY=hunter2-secret\nDB_PASS=hunter3\n");
    write("creds.yaml", "API_KEY=hunter2-secret\nDB_PASS=hunter3\n");
    write("a.yaml", "version: 1\nname: a\nextends: .secrets\n");
    write("b.yaml", "version: 1\nname: b\nextends: creds.yaml\n");
    write("c.yaml", "version: 1\nname: c\nextends: /etc/passwd\n");
    let (code, printed) = in_dir(dir.path(), &["validate", "a.yaml", "b.yaml", "c.yaml"]);
    assert_eq!(code, 2, "{printed}");
    assert!(!printed.contains("hunter"), "{printed}");
    assert!(!printed.contains("root:"), "{printed}");
    // Refused by its name, before it is read: `a.yaml` and `c.yaml`, where they say `extends`.
    assert!(printed.contains("a.yaml:3:10"), "{printed}");
    assert!(printed.contains("c.yaml:3:10"), "{printed}");
    assert_eq!(printed.matches("not a YAML file").count(), 2, "{printed}");
    // Read (its name says YAML), not shown: where and what is wrong only.
    assert!(printed.contains("creds.yaml:1:1"), "{printed}");
}

/// Issue 17: both passed `validate`; an unparsable URL fails every request, and ureq reads a
/// zero timeout as none at all.
#[test]
fn a_malformed_base_url_and_a_zero_timeout_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "version: 1\nname: p\nconnections:\n  shop:\n    http:\n      base_url: \"ht!tp:://[::1\"\n      timeout: 0s\njobs:\n  j:\n    from: { file: { path: a.csv } }\n    to: { file: { path: b.ndjson } }\n",
    )
    .unwrap();
    let (code, diagnostics) = json_in_dir(dir.path(), "p.yaml");
    assert_eq!(code, 2, "{diagnostics:#?}");
    for line in [6, 7] {
        let d = at_line(&diagnostics, line);
        assert_eq!(d["severity"], "error", "{d}");
        assert!(d["hint"].is_string(), "{d}");
    }
}

/// Issue 17: a NUL byte got the hint about tabs ("unprintable" holds "tab").
#[test]
fn a_nul_byte_gets_a_hint_about_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "version: 1\nname: p\0\njobs: {}\n",
    )
    .unwrap();
    let (code, diagnostics) = json_in_dir(dir.path(), "p.yaml");
    assert_eq!(code, 2);
    let d = at_line(&diagnostics, 2);
    assert_eq!(d["column"], 8, "{d}");
    let hint = d["hint"].as_str().unwrap_or_default();
    assert!(!hint.contains("indents with spaces"), "{hint}");
    assert!(hint.contains("U+0000"), "{hint}");
}

/// Issue 17: a file that is not UTF-8 said so without saying where.
#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        b"version: 1\nname: caf\xe9\njobs: {}\n",
    )
    .unwrap();
    let (code, diagnostics) = json_in_dir(dir.path(), "p.yaml");
    assert_eq!(code, 2, "{diagnostics:#?}");
    let d = at_line(&diagnostics, 2);
    assert_eq!(d["column"], 10, "{d}");
    assert!(d["message"].as_str().unwrap().contains("byte 20"), "{d}");
    assert!(d["hint"].as_str().unwrap().contains("UTF-8"), "{d}");
}

/// Issue 17: a folder named like a file, or holding no pipeline, was "0 pipeline files
/// checked: valid".
#[test]
fn a_folder_without_pipeline_files_is_not_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x.yaml")).unwrap();
    std::fs::create_dir_all(dir.path().join("empty/.hidden")).unwrap();
    std::fs::write(dir.path().join("empty/.hidden/p.yaml"), "version: 1\n").unwrap();
    for folder in ["x.yaml", "empty"] {
        let (code, printed) = in_dir(dir.path(), &["validate", folder]);
        assert_eq!(code, 1, "{printed}");
        assert!(!printed.contains("valid"), "{printed}");
        assert!(
            printed.contains(&format!("no pipeline file in {folder}")),
            "{printed}"
        );
    }
}

#[test]
fn an_absurd_rate_limit_or_duration_is_refused_where_it_is_written() {
    // Both parsed once, then multiplied and added to clocks at run time, where they panicked.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        r#"version: 1
name: absurd
connections:
  api:
    http:
      base_url: "http://127.0.0.1:9"
      rate_limit: 1/99999999999999999d
      timeout: 99999999999999999d
jobs:
  items:
    from: { http: { connection: api, path: /items } }
    to: { file: { path: items.ndjson } }
"#,
    )
    .unwrap();
    let (report, code) = json_report(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{report:#}");
    let diagnostics = report["diagnostics"].as_array().unwrap();
    for (line, value) in [(7, "1/99999999999999999d"), (8, "99999999999999999d")] {
        let found = diagnostics
            .iter()
            .find(|d| d["line"] == line)
            .unwrap_or_else(|| panic!("nothing on line {line}: {report:#}"));
        let message = found["message"].as_str().unwrap();
        assert!(message.contains(value), "{found}");
        assert!(message.contains("longer than"), "{found}");
        assert!(found["hint"].is_string(), "{found}");
    }
}

/// Found by the loader fuzz: miette reads a file from its start for each label, so rendering
/// was quadratic (a file of 7 MB with 30,000 duplicated keys: hours).
#[test]
fn many_problems_in_a_large_file_render_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "version: 1\nname: p\njobs:\n  j:\n    from: {{ file: {{ path: a.csv }} }}\n{}",
        "    to: { file: { path: products.ndjson } }\n".repeat(20_000)
    );
    std::fs::write(dir.path().join("p.yaml"), text).unwrap();
    let out = syncline()
        .current_dir(dir.path())
        .args(["validate", "p.yaml"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "killed after 20 s");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.matches("is defined twice").count(), 19_999);
    assert!(printed.contains("p.yaml:20005:5"), "the last one");
}

#[test]
fn what_building_the_plan_would_refuse_is_reported_by_validate_located() {
    let (report, code) = validate_text(concat!(
        "version: 1\nname: refused\njobs:\n  a:\n",
        "    from: { file: { path: in.csv, csv: { delimiter: \"é\" } } }\n",
        "    to: { file: { path: out.csv } }\n    map:\n",
        "      when: { path: $.d, as: datetime, timezone: Europe/Paris }\n",
        "      label: { template: \"x {code\" }\n",
        "      price: { path: $.p, as: decimal, format: euros }\n",
    ));
    assert_eq!(code, 2);
    let found = codes_and_lines(&report);
    assert_eq!(
        found,
        BTreeSet::from([
            ("csv-delimiter".to_string(), 5),
            ("field-option".to_string(), 8),
            ("template".to_string(), 9),
            ("field-option".to_string(), 10),
        ]),
        "{report:#}"
    );
}

#[test]
fn a_query_parameter_without_a_var_and_a_table_without_key_are_located() {
    let (report, code) = validate_text(concat!(
        "version: 1\nname: sql\nvars: { warehouse: \"1\" }\n",
        "connections:\n  erp: { sql: { url: \"sqlite://erp.db\" } }\njobs:\n  a:\n",
        "    from:\n      sql:\n        connection: erp\n",
        "        query: \"SELECT * FROM t WHERE d = :warehouse AND m > :cursor AND f = :famly\"\n",
        "    to: { sql: { connection: erp, table: web } }\n",
    ));
    assert_eq!(code, 2);
    let found = codes_and_lines(&report);
    assert_eq!(
        found,
        BTreeSet::from([
            ("sql-parameter".to_string(), 11),
            ("sql-key".to_string(), 12),
        ]),
        "{report:#}"
    );
    assert!(report.to_string().contains("`:famly`"), "{report:#}");
}

/// Each diagnostic of a JSON report as its code and line.
fn codes_and_lines(report: &serde_json::Value) -> BTreeSet<(String, u64)> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_sql_connection_is_a_url_or_an_odbc_string_with_its_dialect() {
    let (report, code) = validate_text(concat!(
        "version: 1\nname: sql\nconnections:\n",
        "  both: { sql: { url: \"sqlite://a.db\", odbc: \"Driver=SQLite3;Database=a.db\" } }\n",
        "  neither: { sql: { pool_size: 2 } }\n",
        "  undialected: { sql: { odbc: \"Driver=SQLite3;Database=a.db\" } }\n",
        "  dialected:\n    sql: { url: \"sqlite://a.db\", dialect: sqlite }\n",
        "  sage:\n    sql:\n",
        "      odbc: \"Driver=FreeTDS;Server=sage.local;UID=erp;PWD=${secret.SAGE_PASSWORD}\"\n",
        "      dialect: mssql\n",
        "jobs:\n  a:\n    from: { file: { path: in.csv } }\n    to: { file: { path: out.csv } }\n",
    ));
    assert_eq!(code, 2);
    let found: BTreeSet<(u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "sql-connection")
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    // Built without ODBC, the well-formed `odbc:` connection is refused too, at its string.
    let mut expected = BTreeSet::from([(4, 11), (5, 14), (6, 18), (8, 34)]);
    if !cfg!(feature = "odbc") {
        expected.insert((11, 13));
        assert!(
            report.to_string().contains("cargo build --features odbc"),
            "{report:#}"
        );
    }
    assert_eq!(found, expected, "{report:#}");
    let hints = report.to_string();
    assert!(
        hints.contains("exactly one of `url` and `odbc`"),
        "{report:#}"
    );
    assert!(hints.contains("`dialect: mssql`"), "{report:#}");
    assert!(
        !hints.contains("PWD="),
        "the connection string is never shown: {report:#}"
    );
}

/// `validate --format json` of a pipeline file holding `text`: its report and exit code.
fn validate_text(text: &str) -> (serde_json::Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, text).unwrap();
    json_report(&["validate", file.to_str().unwrap()])
}

/// Webhook connections, sources and `then`: each problem at its place, with a hint. A fixture
/// folder of its own, so that the broken folder's snapshots stay as they are.
#[test]
fn webhook_problems_are_located_with_hints() {
    let out = syncline()
        .env("HOOK_SECRET", "a-long-random-webhook-secret")
        .args(["validate", "tests/fixtures/webhooks"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains("a-long-random-webhook-secret"),
        "a secret's value is never shown"
    );
    insta::assert_snapshot!("webhooks_human", stdout);
}
