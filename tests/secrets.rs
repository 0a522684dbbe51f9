//! Secrets never appear in any output of `validate`, even when a value is malformed.

use assert_cmd::Command;

const PIPELINE: &str = r#"version: 1
name: secrets
connections:
  shop:
    http:
      base_url: "https://shop.example/${secret.SHOP_PATH}"
      headers: { Authorization: "Bearer ${secret.SHOP_TOKEN}" }
      auth: { basic: { user: "${secret.SHOP_KEY}" } }
jobs:
  orders:
    from: { http: { connection: shop, path: /orders } }
    to: { file: { path: orders.ndjson } }
"#;

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn validate(secrets_file: &str, env: &[(&str, &str)], format: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), PIPELINE).unwrap();
    std::fs::write(dir.path().join("secrets.env"), secrets_file).unwrap();
    let mut cmd = Command::cargo_bin("syncline").unwrap();
    cmd.current_dir(dir.path())
        .args([
            "validate",
            "p.yaml",
            "--secrets",
            "secrets.env",
            "--format",
            format,
        ])
        .env("SYNCLINE_LOG", "trace")
        .env_remove("SHOP_PATH")
        .env_remove("SHOP_TOKEN")
        .env_remove("SHOP_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

fn assert_absent(run: &Run, values: &[&str]) {
    for value in values {
        assert!(
            !run.stdout.contains(value),
            "secret in stdout:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(value),
            "secret in stderr:\n{}",
            run.stderr
        );
    }
}

#[test]
fn well_formed_secrets_validate_and_stay_hidden() {
    let file = "SHOP_PATH=api\nSHOP_TOKEN=tok-7a1f93c2e8d4\nSHOP_KEY=\"KEY8f2b6c1d9e0a7345\"\n";
    for format in ["human", "json"] {
        let run = validate(file, &[], format);
        assert_eq!(run.code, Some(0), "{}", run.stdout);
        assert_absent(&run, &["tok-7a1f93c2e8d4", "KEY8f2b6c1d9e0a7345"]);
    }
}

#[test]
fn a_malformed_line_of_the_secrets_file_is_named_by_number_only() {
    let file = "SHOP_TOKEN=tok-7a1f93c2e8d4\nthis line holds hunter2-secret-value without a name\nSHOP_KEY=KEY8f2b6c1d9e0a7345\n";
    let run = validate(file, &[], "human");
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("line 2 of the secrets file"),
        "{}",
        run.stderr
    );
    assert_absent(
        &run,
        &[
            "hunter2-secret-value",
            "tok-7a1f93c2e8d4",
            "KEY8f2b6c1d9e0a7345",
        ],
    );
}

#[test]
fn malformed_secret_values_are_reported_without_their_value() {
    // A token with a line break (a header cannot carry it), a path with spaces (a URL cannot),
    // an empty key; the token comes from the environment, the others from the file.
    let file = "SHOP_PATH=\"my shop path-9c4e\"\nSHOP_KEY=\"\"\n";
    let env = [("SHOP_TOKEN", "tok-line-one-5d2a\ntok-line-two-8e1b")];
    for format in ["human", "json"] {
        let run = validate(file, &env, format);
        assert_eq!(run.code, Some(2), "{}", run.stdout);
        assert_eq!(
            run.stdout.matches("secret-value").count(),
            3,
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("`SHOP_TOKEN` contains a line break"));
        assert!(run.stdout.contains("`SHOP_PATH` contains spaces"));
        assert!(run.stdout.contains("`SHOP_KEY` is empty"));
        assert_absent(
            &run,
            &[
                "tok-line-one-5d2a",
                "tok-line-two-8e1b",
                "my shop path-9c4e",
            ],
        );
    }
}

#[test]
fn a_secret_that_looks_like_yaml_or_a_placeholder_is_never_interpreted() {
    let file =
        "SHOP_PATH=api\nSHOP_TOKEN=\"${env.HOME}: [unclosed {\"\nSHOP_KEY=KEY8f2b6c1d9e0a7345\n";
    let run = validate(file, &[], "json");
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert_absent(&run, &["[unclosed {", "KEY8f2b6c1d9e0a7345"]);
}

#[test]
fn a_short_or_common_secret_is_warned_about_by_name() {
    let file = "SHOP_PATH=api-version-two\nSHOP_TOKEN=Admin\nSHOP_KEY=k3y\n";
    let run = validate(file, &[], "human");
    assert_eq!(run.code, Some(0), "a warning: {}", run.stdout);
    assert!(
        run.stdout
            .contains("the secret `SHOP_TOKEN` is a common word")
            && run
                .stdout
                .contains("the secret `SHOP_KEY` is shorter than 8 characters")
            && !run.stdout.contains("`SHOP_PATH` is"),
        "{}",
        run.stdout
    );
}
