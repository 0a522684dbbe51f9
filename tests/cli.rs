//! The command line: every subcommand explains itself with an example; the ones still to come
//! say so plainly and fail.

use assert_cmd::Command;

fn syncline(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("syncline")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        "validate", "run", "dry-run", "apply", "test", "state", "schema",
    ] {
        let out = syncline(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{sub} --help has no example:\n{text}"
        );
        assert!(
            text.contains("syncline "),
            "{sub} --help shows no command line:\n{text}"
        );
    }
}

#[test]
fn commands_of_later_work_say_so_and_fail() {
    let out = syncline(&["test", "pipelines"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not available yet"));
}

#[test]
fn schema_prints_writes_and_checks() {
    let out = syncline(&["schema", "--out", "-"]);
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["title"], "syncline pipeline");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schemas/pipeline.schema.json");
    let path = file.to_str().unwrap();
    assert_eq!(
        syncline(&["schema", "--check", "--out", path])
            .status
            .code(),
        Some(1),
        "missing file"
    );
    assert!(syncline(&["schema", "--out", path]).status.success());
    assert!(
        syncline(&["schema", "--check", "--out", path])
            .status
            .success()
    );
    std::fs::write(&file, "{}").unwrap();
    assert_eq!(
        syncline(&["schema", "--check", "--out", path])
            .status
            .code(),
        Some(1),
        "stale file"
    );
}
