//! `syncline run`: the quickstart from the README, the report, exit codes, Ctrl-C.

mod common;

use common::{Workdir, job, repo_root, without_durations};

fn quickstart() -> Workdir {
    let w = Workdir::new();
    let src = repo_root().join("examples/quickstart");
    w.write(
        "quickstart.yaml",
        std::fs::read(src.join("quickstart.yaml")).unwrap(),
    );
    for data in ["articles.csv", "familles.csv"] {
        w.write(
            &format!("data/{data}"),
            std::fs::read(src.join("data").join(data)).unwrap(),
        );
    }
    w
}

#[test]
fn the_quickstart_runs_and_reports_in_business_terms() {
    let w = quickstart();
    let out = w.syncline(&["run", "quickstart.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(
        "quickstart_report",
        without_durations(&String::from_utf8_lossy(&out.stdout))
    );
    let products = w.ndjson("out/products.ndjson");
    insta::assert_json_snapshot!("quickstart_products", products);
    let categories: serde_json::Value =
        serde_json::from_str(&w.read("out/categories.json")).unwrap();
    assert_eq!(categories.as_array().unwrap().len(), 4);
    assert_eq!(
        categories[2]["name"], "Épicerie fine",
        "Windows-1252 is decoded"
    );
}

#[test]
fn the_json_report_counts_every_record() {
    let w = quickstart();
    let (code, report) = w.run("quickstart.yaml", &[]);
    assert_eq!(code, 0);
    let products = job(&report, "products");
    assert_eq!(products["status"], "succeeded");
    assert_eq!(products["read"], 11);
    assert_eq!(products["filtered"], 2);
    assert_eq!(products["written"], 15);
    assert_eq!(products["rejected"], 0);
    assert_eq!(report["pipeline"], "quickstart");
}

#[test]
fn invalid_configuration_exits_2_before_running_anything() {
    let w = Workdir::new();
    w.write("p.yaml", "version: 1\nname: p\njobs:\n  j:\n    from: { file: { path: a.csv } }\n    steps:\n      - lookup: { table: nope, from: $.a, into: b }\n    to: { file: { path: b.ndjson } }\n");
    w.write("a.csv", "a\n1\n");
    let out = w.syncline(&["run", "p.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown table `nope`"));
    assert!(!w.exists("b.ndjson"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_leaves_the_target_untouched() {
    use std::io::Write;
    let w = Workdir::new();
    w.write("p.yaml", "version: 1\nname: p\njobs:\n  j:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: out.ndjson } }\n");
    w.write("out.ndjson", "{\"before\":true}\n");
    w.mkfifo("in.ndjson");
    let mut child = w.spawn_run("p.yaml");
    // Feed some records through the pipe, keep it open, then interrupt.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(w.path("in.ndjson"))
        .unwrap();
    for i in 0..5000 {
        writeln!(fifo, "{{\"n\":{i}}}").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Wait until the process has seen the signal: the reader is blocked on the pipe, and one more
    // line lets it see the stop.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0
        && !line.contains("interrupted")
    {
        line.clear();
    }
    let _ = writeln!(fifo, "{{\"n\":-1}}");
    drop(fifo);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job(&report, "j")["status"], "cancelled");
    assert_eq!(job(&report, "j")["written"], 0, "the file was not replaced");
    assert_eq!(
        w.read("out.ndjson"),
        "{\"before\":true}\n",
        "the target is as it was"
    );
    let leftovers: Vec<_> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_setting_the_runtime_cannot_honour_yet_fails_clearly_instead_of_being_ignored() {
    let w = Workdir::new();
    w.write("p.yaml", "version: 1\nname: p\njobs:\n  j:\n    from: { file: { path: a.ndjson } }\n    map:\n      at: { path: $.at, as: datetime, timezone: Europe/Paris }\n    to: { file: { path: b.ndjson } }\n");
    w.write("a.ndjson", "{\"at\":\"2025-01-01 10:00:00\"}\n");
    let out = w.syncline(&["run", "p.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`timezone` is not supported by the runtime yet")
    );
    assert!(!w.exists("b.ndjson"));
}
