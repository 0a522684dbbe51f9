//! Jobs form a graph: a job starts after the jobs it needs, independent jobs run at the same
//! time, and a failed job stops only the jobs that depend on it.

mod common;

use common::{Workdir, job};

#[test]
fn a_job_reads_what_the_job_it_needs_wrote() {
    let w = Workdir::new();
    w.write("in.ndjson", "{\"n\":1}\n{\"n\":2}\n");
    // `second` is declared first and reads `first`'s output: it works only if it waits.
    w.write(
        "p.yaml",
        "version: 1\nname: d\njobs:\n  second:\n    needs: [first]\n    from: { file: { path: mid.ndjson } }\n    to: { file: { path: out.ndjson } }\n  first:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: mid.ndjson } }\n",
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(w.ndjson("out.ndjson").len(), 2);
    let order: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["first", "second"]);
}

#[test]
fn a_failed_job_stops_its_dependants_and_not_the_others() {
    let w = Workdir::new();
    w.write("in.ndjson", "{\"n\":1}\n");
    w.write(
        "p.yaml",
        "version: 1\nname: d\njobs:\n  broken:\n    from: { file: { path: missing.ndjson } }\n    to: { file: { path: a.ndjson } }\n  after_broken:\n    needs: [broken]\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: b.ndjson } }\n  after_that:\n    needs: [after_broken]\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: c.ndjson } }\n  independent:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: d.ndjson } }\n",
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(job(&report, "broken")["status"], "failed");
    assert!(
        job(&report, "broken")["reason"]
            .as_str()
            .unwrap()
            .contains("missing.ndjson")
    );
    assert_eq!(job(&report, "after_broken")["status"], "skipped");
    assert_eq!(
        job(&report, "after_broken")["reason"],
        "it needs `broken`, which did not succeed"
    );
    assert_eq!(job(&report, "after_that")["status"], "skipped");
    assert_eq!(job(&report, "independent")["status"], "succeeded");
    assert!(w.exists("d.ndjson") && !w.exists("b.ndjson") && !w.exists("c.ndjson"));
}

#[cfg(unix)]
#[test]
fn independent_jobs_run_at_the_same_time() {
    use std::io::Write;
    let w = Workdir::new();
    w.write("in.ndjson", "{\"n\":1}\n");
    // `waits` reads a pipe that this test fills only once `quick` has written its output. Run
    // one after the other, `waits` (first in the file) would block for ever.
    w.mkfifo("pipe.ndjson");
    w.write(
        "p.yaml",
        "version: 1\nname: d\njobs:\n  waits:\n    from: { file: { path: pipe.ndjson } }\n    to: { file: { path: a.ndjson } }\n  quick:\n    from: { file: { path: in.ndjson } }\n    to: { file: { path: b.ndjson } }\n",
    );
    let child = w.spawn_run("p.yaml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !w.exists("b.ndjson") {
        assert!(
            std::time::Instant::now() < deadline,
            "`quick` never finished while `waits` was blocked"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut pipe = std::fs::OpenOptions::new()
        .write(true)
        .open(w.path("pipe.ndjson"))
        .unwrap();
    writeln!(pipe, "{{\"n\":2}}").unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w.ndjson("a.ndjson"), [serde_json::json!({"n": 2})]);
}
