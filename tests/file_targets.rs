//! File targets that feed an ERP's import folder: appended to (`mode: append`), or a new file
//! each run (`{run_time}` in the path); all or nothing, and no file from a run with nothing to
//! write.

mod common;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::{Workdir, job};

/// The files of a folder of the work dir, sorted.
fn files_in(w: &Workdir, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(w.path(dir))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs `p.yaml`, which must succeed: its report.
fn run_ok(w: &Workdir) -> serde_json::Value {
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    report
}

#[test]
fn two_runs_append_to_a_csv_and_write_its_header_once() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        r#"version: 1
name: t
jobs:
  orders:
    from: { file: { path: in.ndjson } }
    cursor: { field: $.n }
    map: { "Numéro": $.n, "Désignation": $.name }
    to:
      file: { path: import/orders.csv, mode: append, encoding: windows-1252, csv: { delimiter: ";" } }
"#,
    );
    w.write(
        "in.ndjson",
        "{\"n\":1,\"name\":\"Crème\"}\n{\"n\":2,\"name\":\"Thé\"}\n",
    );
    run_ok(&w);
    // The second run reads one new record past the checkpoint.
    w.write(
        "in.ndjson",
        "{\"n\":1,\"name\":\"Crème\"}\n{\"n\":2,\"name\":\"Thé\"}\n{\"n\":3,\"name\":\"Œuf\"}\n",
    );
    let report = run_ok(&w);
    assert_eq!(job(&report, "orders")["written"], 1, "{report:#}");
    let bytes = std::fs::read(w.path("import/orders.csv")).unwrap();
    let (text, _, malformed) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!malformed);
    assert_eq!(
        text, "Numéro;Désignation\n1;Crème\n2;Thé\n3;Œuf\n",
        "the header once, in the file's encoding, and compared as such by the second run"
    );
    assert_eq!(
        files_in(&w, "import"),
        ["orders.csv"],
        "no temporary file left"
    );
}

#[test]
fn ndjson_appends_lines_after_what_the_file_holds() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  j:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: out.ndjson, mode: append } }\n",
    );
    w.write("in.ndjson", "{\"n\":1}\n");
    // Written by someone else, without an end to its last line.
    w.write("out.ndjson", "{\"erp\":\"kept\"}");
    run_ok(&w);
    run_ok(&w);
    assert_eq!(
        w.read("out.ndjson"),
        "{\"erp\":\"kept\"}\n{\"n\":1}\n{\"n\":1}\n"
    );
}

#[test]
fn a_run_that_fails_appends_nothing_and_the_next_one_appends_everything_once() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  j:\n    from: { file: { path: in.json } }\n    cursor: { field: $.n }\n    to: { file: { path: out.csv, mode: append } }\n",
    );
    w.write("out.csv", "n\n0\n");
    // Thousands of records reach the writer before the source breaks.
    let records: Vec<String> = (1..=3000).map(|n| format!("{{\"n\":{n}}}")).collect();
    w.write("in.json", format!("[{}, {{\"n\":", records.join(",")));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(job(&report, "j")["status"], "failed");
    assert!(
        job(&report, "j")["read"].as_u64().unwrap() > 1000,
        "{report:#}"
    );
    assert_eq!(w.read("out.csv"), "n\n0\n", "nothing was appended");
    let files = files_in(&w, ".");
    assert!(files.iter().all(|f| !f.ends_with(".tmp")), "{files:?}");

    // The checkpoint did not move: the next run appends every record, once.
    w.write("in.json", format!("[{}]", records.join(",")));
    run_ok(&w);
    let expected: String = (0..=3000).map(|n| format!("{n}\n")).collect();
    assert_eq!(w.read("out.csv"), format!("n\n{expected}"));
}

#[test]
fn appending_under_another_header_fails_the_job_and_appends_nothing() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  j:\n    from: { file: { path: in.csv } }\n    map: { ref: $.ref, name: $.name }\n    to: { file: { path: out.csv, mode: append } }\n",
    );
    w.write("in.csv", "ref,name\nA1,Tea\n");
    w.write("out.csv", "ref,label\nZ9,Coffee\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 1, "{report:#}");
    let reason = job(&report, "j")["reason"].as_str().unwrap();
    assert!(
        reason.contains("its header is `ref,label`, and this job writes `ref,name`"),
        "{reason}"
    );
    assert_eq!(w.read("out.csv"), "ref,label\nZ9,Coffee\n");

    // An empty file is a new one: it gets the header.
    w.write("out.csv", "");
    run_ok(&w);
    assert_eq!(w.read("out.csv"), "ref,name\nA1,Tea\n");
}

/// The run's start time in a file name made by `{run_time}`: `prefix` + stamp (+ `_N`) + `suffix`.
fn stamp_in(name: &str, prefix: &str, suffix: &str) -> DateTime<Utc> {
    let middle = name
        .strip_prefix(prefix)
        .and_then(|n| n.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{name}"));
    let stamp = middle.split('_').next().unwrap();
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .and_utc()
}

#[test]
fn run_time_gives_each_run_its_own_file() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  j:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: \"out/orders-{run_time}.csv\" } }\n",
    );
    // Whole seconds: the file name has no fraction.
    let before = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    w.write("in.ndjson", "{\"n\":1}\n");
    run_ok(&w);
    w.write("in.ndjson", "{\"n\":2}\n");
    run_ok(&w);
    let after = Utc::now();
    let files = files_in(&w, "out");
    assert_eq!(files.len(), 2, "{files:?}");
    let mut contents = Vec::new();
    for name in &files {
        let at = stamp_in(name, "orders-", ".csv");
        assert!(before <= at && at <= after, "{name}: {before} .. {after}");
        contents.push(w.read(&format!("out/{name}")));
    }
    contents.sort();
    // Both runs usually start within one second: the second file is then `..._2.csv`.
    assert_eq!(contents, ["n\n1\n", "n\n2\n"], "{files:?}");
}

#[test]
fn a_run_with_nothing_to_write_writes_no_file_but_moves_its_checkpoint() {
    let w = Workdir::new();
    let job_to = |name: &str, to: &str| {
        format!(
            "  {name}:\n    from: {{ file: {{ path: in.ndjson }} }}\n    cursor: {{ field: $.n }}\n    steps:\n      - filter: \"rec.n > 10\"\n    to: {{ file: {to} }}\n"
        )
    };
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: t\njobs:\n{}{}{}",
            job_to("appended", "{ path: out/appended.csv, mode: append }"),
            job_to("timed", "{ path: \"out/timed-{run_time}.json\" }"),
            job_to("replaced", "{ path: out/replaced.csv }"),
        ),
    );
    w.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n");
    let report = run_ok(&w);
    for name in ["appended", "timed", "replaced"] {
        assert_eq!(job(&report, name)["filtered"], 2, "{report:#}");
    }
    // An empty export is still true for a file replaced each run.
    assert_eq!(files_in(&w, "out"), ["replaced.csv"]);
    assert_eq!(w.read("out/replaced.csv"), "");

    let report = run_ok(&w);
    for name in ["appended", "timed", "replaced"] {
        assert_eq!(job(&report, name)["before_checkpoint"], 2, "{report:#}");
    }
    assert_eq!(files_in(&w, "out"), ["replaced.csv"]);
}

#[test]
fn validate_refuses_appending_to_json_or_xml_and_unknown_placeholders() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        r#"version: 1
name: t
jobs:
  json:
    from: { file: { path: in.ndjson } }
    to: { file: { path: out.json, mode: append } }
  xml:
    from: { file: { path: in.ndjson } }
    to: { file: { path: out.data, format: xml, mode: append } }
  misspelt:
    from: { file: { path: in.ndjson } }
    to: { file: { path: "out/orders-{run_tme}.csv" } }
  unknown:
    from: { file: { path: in.ndjson } }
    to: { file: { path: "out/{date}-{run_time}.csv" } }
  unclosed:
    from: { file: { path: in.ndjson } }
    to: { file: { path: "out/{run_time.csv" } }
"#,
    );
    let out = w.syncline(&["validate", "p.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("file_targets_refused", String::from_utf8_lossy(&out.stdout));
    let out = w.syncline(&["run", "p.yaml"]);
    assert_eq!(out.status.code(), Some(2), "nothing runs");
    assert!(!w.exists("out"));
}

#[test]
fn dry_run_names_the_file_a_run_would_write_and_plans_appends_as_creates() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  appended:\n    from: { file: { path: in.csv } }\n    to: { file: { path: out/appended.csv, key: $.ref, mode: append } }\n  timed:\n    from: { file: { path: in.csv } }\n    to: { file: { path: \"out/timed-{run_time}.csv\", key: $.ref } }\n",
    );
    w.write("in.csv", "ref,name\nA1,Tea\nB2,Coffee\n");
    // A1 is in the file already: appended again, it would be a second line.
    w.write("out/appended.csv", "ref,name\nA1,Tea\nZ9,Gone\n");
    let before = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let out = w.syncline(&["dry-run", "p.yaml", "--format", "json"]);
    let after = Utc::now();
    assert_eq!(out.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let appended = &plan["jobs"][0];
    assert_eq!(appended["append"], true);
    assert!(
        appended["target"]
            .as_str()
            .unwrap()
            .ends_with("out/appended.csv"),
        "{plan:#}"
    );
    assert_eq!(appended["summary"]["create"], 2, "{plan:#}");
    assert_eq!(appended["summary"]["remove"], 0, "{plan:#}");
    let timed = &plan["jobs"][1];
    assert!(timed.get("append").is_none(), "{plan:#}");
    let target = timed["target"].as_str().unwrap();
    let name = target.rsplit('/').next().unwrap();
    let at = stamp_in(name, "timed-", ".csv");
    assert!(before <= at && at <= after, "{target}");
    assert_eq!(timed["summary"]["create"], 2, "{plan:#}");
    assert_eq!(files_in(&w, "out"), ["appended.csv"], "nothing written");

    let out = w.syncline(&["dry-run", "p.yaml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("out/appended.csv (appended to): 2 to create"),
        "{text}"
    );
}

#[test]
fn apply_refuses_the_plan_of_a_file_appended_to_or_named_by_the_run_time() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: t\njobs:\n  appended:\n    from: { file: { path: in.csv } }\n    to: { file: { path: out/appended.csv, key: $.ref, mode: append } }\n  timed:\n    from: { file: { path: in.csv } }\n    to: { file: { path: \"out/timed-{run_time}.csv\", key: $.ref } }\n",
    );
    w.write("in.csv", "ref,name\nA1,Tea\n");
    w.write("out/appended.csv", "ref,name\nZ9,Gone\n");
    let out = w.syncline(&["dry-run", "p.yaml", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(0));
    let (code, text) = w.printed(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{text}");
    for job in ["appended -> ", "timed -> "] {
        assert!(
            text.lines().any(|l| l.starts_with(job)
                && l.contains("0 applied")
                && l.contains("not records by key: its plan cannot be applied record by record")),
            "{text}"
        );
    }
    // Applied, the plan would have appended the whole file to itself, or a file of its own.
    assert_eq!(w.read("out/appended.csv"), "ref,name\nZ9,Gone\n");
    assert_eq!(files_in(&w, "out"), ["appended.csv"]);
}
