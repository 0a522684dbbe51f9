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

mod common;

use common::api::{Api, Reply};
use serde_json::json;

/// The secrets of the leak test, each long enough to be searched for, some with characters
/// that change when encoded.
const LEAK_SECRETS: [(&str, &str); 6] = [
    ("BASIC_USER", "basic-user-4471"),
    ("BASIC_PASS", "Pa ss/w0rd&more"),
    ("BEARER", "bearer.Tok3n+value"),
    ("HEADER_KEY", "hdr-Key\"quoted\"-9"),
    ("QUERY_KEY", "Sp3c+al/k&y=v"),
    ("LOGIN_KEY", "login-key<xml>&amp"),
];
/// What the login answers: a secret got at run time.
const LOGIN_TOKEN: &str = "session-T0ken/7788";

/// Every form a secret may leak in: as it is, base64, percent-encoded (either case, `+` for a
/// space), JSON-escaped (with PHP's `\/`).
fn leak_forms(secret: &str) -> Vec<String> {
    let encoded: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let json = serde_json::to_string(secret).unwrap();
    let json = json.trim_matches('"').to_string();
    vec![
        secret.to_string(),
        syncline::connectors::http::base64(secret.as_bytes()),
        encoded.to_lowercase(),
        encoded.replace("%20", "+"),
        json.replace('/', "\\/"),
        encoded,
        json,
    ]
}

/// A server that echoes each request (headers, query as sent and decoded, body) in a refusal,
/// and in the records it lists.
fn echo_server() -> Api {
    Api::start(|r, _| {
        let echo = json!({
            "method": r.method,
            "path": r.path,
            "headers": r.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "query": r.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "query_sent": r.query.iter().map(|(k, v)| format!("{k}={}", leak_forms(v)[5])).collect::<Vec<_>>().join("&"),
            "body": String::from_utf8_lossy(&r.body),
            "body_base64": syncline::connectors::http::base64(&r.body),
        });
        match r.method.as_str() {
            "POST" if r.path.ends_with("/login") => {
                Reply::json(json!({"token": LOGIN_TOKEN, "echo": echo}))
            }
            "GET" => Reply::json(json!({"items": [{"id": "1", "echo": echo}]})),
            _ => Reply::status(400, json!({"error": "refused", "you_sent": echo})),
        }
    })
}

#[test]
fn secrets_echoed_by_a_server_are_in_no_output_and_no_file() {
    let api = echo_server();
    let w = common::Workdir::new();
    let secrets: String = LEAK_SECRETS
        .iter()
        .map(|(name, value)| format!("{name}=\"{value}\"\n"))
        .collect();
    w.write(".secrets", secrets);
    let auth = [
        (
            "basic",
            r#"{ basic: { user: "${secret.BASIC_USER}", password: "${secret.BASIC_PASS}" } }"#,
        ),
        ("bearer", r#"{ bearer: { token: "${secret.BEARER}" } }"#),
        (
            "headers",
            r#"{ headers: { X-Api-Key: "${secret.HEADER_KEY}" } }"#,
        ),
        ("query", r#"{ query: { api_key: "${secret.QUERY_KEY}" } }"#),
        (
            "login",
            r#"{ login: { request: { method: POST, path: /login, body: { key: "${secret.LOGIN_KEY}" } }, token: $.token } }"#,
        ),
    ];
    let mut pipeline = String::from("version: 1\nname: leaks\nconnections:\n");
    for (name, auth) in auth {
        pipeline.push_str(&format!(
            "  {name}: {{ http: {{ base_url: \"{url}\", auth: {auth} }} }}\n",
            url = api.url
        ));
    }
    pipeline.push_str("jobs:\n");
    for (name, _) in auth {
        // A write refused with the request echoed, and a read whose record carries the
        // request and is rejected by its map.
        pipeline.push_str(&format!(
            r#"  push_{name}:
    from: {{ file: {{ path: items.csv }} }}
    map: {{ code: $.code }}
    to: {{ http: {{ connection: {name}, entity: item, key: $.code, create: {{ method: POST, path: /items }}, id: $.id }} }}
  pull_{name}:
    from: {{ http: {{ connection: {name}, path: /items, records: $.items }} }}
    map: {{ id: $.id, echo: $.echo, missing: {{ path: $.nope, required: true }} }}
    to: {{ file: {{ path: pulled_{name}.ndjson }} }}
"#
        ));
    }
    w.write("p.yaml", &pipeline);
    w.write("items.csv", "code\nA1\n");

    let logged = [("SYNCLINE_LOG", "debug")];
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut run = |label: &str, args: &[&str]| {
        let out = w.syncline_with_env(args, &logged);
        outputs.push((
            format!("{label} stdout"),
            String::from_utf8_lossy(&out.stdout).into(),
        ));
        outputs.push((
            format!("{label} stderr"),
            String::from_utf8_lossy(&out.stderr).into(),
        ));
        out
    };
    let out = run(
        "run",
        &[
            "run",
            "p.yaml",
            "--secrets",
            ".secrets",
            "--format",
            "json",
            "--quarantine",
            "q.ndjson",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    run("run (human)", &["run", "p.yaml", "--secrets", ".secrets"]);
    run(
        "dry-run",
        &[
            "dry-run",
            "p.yaml",
            "--secrets",
            ".secrets",
            "--format",
            "json",
        ],
    );
    run(
        "dry-run (human)",
        &["dry-run", "p.yaml", "--secrets", ".secrets"],
    );
    run(
        "quarantine list",
        &["state", "quarantine", "list", "p.yaml"],
    );
    run(
        "export",
        &["state", "export", "p.yaml", "--out", "export.jsonl"],
    );
    // Every file syncline wrote: the quarantine file, the export, the state's own files.
    let mut files = vec![w.path("q.ndjson"), w.path("export.jsonl")];
    let mut dirs = vec![w.path(".syncline")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 3, "the state was written: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        outputs.push((
            file.display().to_string(),
            String::from_utf8_lossy(&bytes).into(),
        ));
    }
    let quarantined = std::fs::read_to_string(w.path("q.ndjson")).unwrap();
    assert!(
        quarantined.contains("you_sent") && quarantined.contains("[redacted]"),
        "{quarantined}"
    );

    let basic_pair = format!("{}:{}", LEAK_SECRETS[0].1, LEAK_SECRETS[1].1);
    let mut forms: Vec<(String, String)> = Vec::new();
    for (name, value) in LEAK_SECRETS.iter().chain(&[("LOGIN_TOKEN", LOGIN_TOKEN)]) {
        forms.extend(leak_forms(value).into_iter().map(|f| (name.to_string(), f)));
    }
    forms.push((
        "basic pair".into(),
        syncline::connectors::http::base64(basic_pair.as_bytes()),
    ));
    let mut leaks = Vec::new();
    for (output, text) in &outputs {
        for (name, form) in &forms {
            if text.contains(form.as_str()) {
                leaks.push(format!("{name} as {form:?} in {output}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[test]
fn a_secret_that_would_end_its_odbc_value_is_reported_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"version: 1
name: odbc-secrets
connections:
  plain: { sql: { odbc: "Driver=FreeTDS;Server=a;PWD=${secret.PLAIN}", dialect: mssql } }
  braced: { sql: { odbc: "Driver=FreeTDS;Server=a;PWD={${secret.BRACED}}", dialect: mssql } }
  closing: { sql: { odbc: "Driver=FreeTDS;Server=a;PWD={${secret.CLOSING}}", dialect: mssql } }
jobs:
  a:
    from: { sql: { connection: plain, query: "SELECT 1" } }
    to: { file: { path: out.ndjson } }
"#,
    )
    .unwrap();
    // `;` would end an unbraced value (and let the rest add attributes); in braces it is
    // text, but `}` ends the braces.
    let values = [
        ("PLAIN", "pw;Driver=evil-4f2a"),
        ("BRACED", "pw;braced-7c1e"),
        ("CLOSING", "pw}closing-9b3d"),
    ];
    let out = Command::cargo_bin("syncline")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "p.yaml"])
        .envs(values)
        .output()
        .unwrap();
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    };
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("secret-value").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("`PLAIN` contains `;`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("PWD={${secret.PLAIN}}"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("`CLOSING` contains `}`"),
        "{}",
        run.stdout
    );
    assert_absent(&run, &values.map(|(_, v)| v));
}
