//! Alerts (`alerts:`): `syncline run` tells a real SMTP server (Python's aiosmtpd, on loopback,
//! asking for a login) and a chat webhook double about jobs that failed or quarantined records:
//! counts, top reasons, the page's link, and never a secret, not even one the records and the
//! reasons hold. At most one alert per job and channel in the `repeat_interval`, across runs; a
//! failed send changes nothing in how the run ends.
//!
//! The SMTP server is `tests/alerts/smtpd.py`, run by the Python that `SYNCLINE_AIOSMTPD_PYTHON`
//! names (`tests/alerts/aiosmtpd.sh setup`, then export what `env` prints; `.ci/run` does so).
//! Without it these tests say SKIPPED, except in CI, where they fail.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::Workdir;
use common::api::{Api, Reply};
use serde_json::{Value, json};

/// The secrets: the chat webhook's token (its URL is the credential), the SMTP password.
const CHAT_TOKEN: &str = "T0KEN-7f3a9c2e51d8";
const SMTP_USER: &str = "alerts";
const SMTP_PASSWORD: &str = "Sm7p-Pa55w0rd-q81z";

/// An SMTP server that asks for `SMTP_USER` and `password`, and keeps what it receives.
struct Smtpd {
    port: u16,
    folder: tempfile::TempDir,
    /// Its standard input: the server stops when it closes.
    child: Child,
}

impl Smtpd {
    /// A server, or `None` (after saying so) when aiosmtpd is not there outside CI.
    fn start(test: &str, password: &str) -> Option<Smtpd> {
        let Some(python) = std::env::var_os("SYNCLINE_AIOSMTPD_PYTHON") else {
            let how = "set SYNCLINE_AIOSMTPD_PYTHON: tests/alerts/aiosmtpd.sh setup, then export what `tests/alerts/aiosmtpd.sh env` prints";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: CI must run the SMTP server ({how})");
            }
            // Straight to the terminal: the test harness hides what `eprintln!` prints.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: no aiosmtpd ({how})");
            return None;
        };
        let folder = tempfile::tempdir().unwrap();
        let script = common::repo_root().join("tests/alerts/smtpd.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(folder.path())
            .args([SMTP_USER, password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("smtpd.py printed no port: {line:?}"));
        Some(Smtpd {
            port,
            folder,
            child,
        })
    }

    /// Every message received, oldest first: envelope, subject and body decoded, raw text.
    fn messages(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.folder.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat webhook double: answers every POST with `status`, keeps every request.
fn chat(status: u16) -> Api {
    Api::start(move |_, _| Reply::status(status, json!({"ok": status == 200})))
}

/// The chat messages received: each request's path and its JSON body.
fn chat_messages(chat: &Api) -> Vec<(String, Value)> {
    chat.requests
        .lock()
        .unwrap()
        .iter()
        .map(|(path, _, body)| (path.clone(), serde_json::from_slice(body).unwrap()))
        .collect()
}

/// The `alerts:` block for these channels (the chat's URL is in the secrets), with `extra`
/// settings.
fn alerts(smtpd: &Smtpd, extra: &str) -> String {
    format!(
        r#"alerts:
  page_url: http://status.example:7878
{extra}  chat: {{ url: "${{secret.CHAT_WEBHOOK}}" }}
  email:
    smtp: {{ host: 127.0.0.1, port: {port}, tls: none, user: {SMTP_USER}, password: "${{secret.SMTP_PASSWORD}}" }}
    from: "syncline <alerts@example.com>"
    to: [ops@example.com, "Jane Doe <jane@example.com>"]
"#,
        port = smtpd.port
    )
}

/// Orders whose states go through a strict table: `lost` (twice), `gone` and a state that is
/// the SMTP password are not in it, and are quarantined; every record holds the chat token.
const QUARANTINING: &str = r#"version: 1
name: shop-orders
tables:
  states:
    map: { paid: "2", shipped: "4" }
    unmapped: reject
jobs:
  orders:
    from: { file: { path: orders.csv } }
    map:
      id: $.id
      state: { path: $.state, table: states }
      note: $.note
    to: { file: { path: out.ndjson, key: $.id } }
"#;

fn orders_csv() -> String {
    format!(
        "id,state,note\n1,paid,{CHAT_TOKEN}\n2,lost,{CHAT_TOKEN}\n3,lost,{CHAT_TOKEN}\n4,gone,{CHAT_TOKEN}\n5,{SMTP_PASSWORD},{CHAT_TOKEN}\n6,shipped,{CHAT_TOKEN}\n"
    )
}

/// A work folder with `pipeline` and its alerts, the orders and the secrets file.
fn workdir(pipeline: &str, smtpd: &Smtpd, chat: &Api, extra: &str) -> Workdir {
    let w = Workdir::new();
    w.write("p.yaml", format!("{pipeline}{}", alerts(smtpd, extra)));
    w.write("orders.csv", orders_csv());
    w.write(
        ".secrets",
        format!(
            "CHAT_WEBHOOK={}/hooks/{CHAT_TOKEN}\nSMTP_PASSWORD={SMTP_PASSWORD}\n",
            chat.url
        ),
    );
    w
}

/// `syncline run p.yaml`: the exit code, and what it printed on both streams.
fn run(w: &Workdir) -> (i32, String) {
    w.printed(&["run", "p.yaml", "--secrets", ".secrets"])
}

/// Fails when `text` holds a secret.
fn assert_no_secret(text: &str, what: &str) {
    for secret in [CHAT_TOKEN, SMTP_PASSWORD] {
        assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
    }
}

/// Fails when an e-mail holds a secret: as sent, or decoded as a mail reader shows it.
fn assert_no_secret_in_mail(mail: &Value) {
    for part in ["raw", "subject", "body"] {
        assert_no_secret(
            mail[part].as_str().unwrap(),
            &format!("the e-mail's {part}"),
        );
    }
}

#[test]
fn quarantined_records_are_told_by_email_and_chat_with_counts_and_reasons_and_no_secret() {
    let test =
        "quarantined_records_are_told_by_email_and_chat_with_counts_and_reasons_and_no_secret";
    let Some(smtpd) = Smtpd::start(test, SMTP_PASSWORD) else {
        return;
    };
    let chat = chat(200);
    let w = workdir(QUARANTINING, &smtpd, &chat, "");

    let (code, printed) = run(&w);
    assert_eq!(code, 3, "records were rejected: {printed}");
    assert!(!printed.contains("WARN"), "{printed}");
    assert_no_secret(&printed, "the run's output");

    let mails = smtpd.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail["login"], SMTP_USER, "the server's login was used");
    assert_eq!(mail["mail_from"], "alerts@example.com");
    assert_eq!(
        mail["rcpt_tos"],
        json!(["ops@example.com", "jane@example.com"])
    );
    assert_eq!(
        mail["subject"],
        "syncline: shop-orders: orders: 4 records quarantined"
    );
    let expected = "orders: 4 records quarantined\n\
         \x20   2 rejected by map.state: `lost` is not in the table `states`\n\
         \x20   1 rejected by map.state: `gone` is not in the table `states`\n\
         \x20   1 rejected by map.state: `[redacted]` is not in the table `states`\n\
         \nStatus page: http://status.example:7878";
    let body = mail["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(body.trim_end(), expected);
    assert_no_secret_in_mail(mail);

    let posts = chat_messages(&chat);
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let (path, post) = &posts[0];
    assert_eq!(path, &format!("/api/hooks/{CHAT_TOKEN}"));
    let text = post["text"].as_str().unwrap();
    assert_eq!(
        text.trim_end(),
        format!("syncline: shop-orders: orders: 4 records quarantined\n\n{expected}")
    );
    assert_no_secret(&post.to_string(), "the chat message");

    // Within the hour, the same job quarantining again tells nobody: not even a new process.
    let (code, printed) = run(&w);
    assert_eq!(code, 3, "{printed}");
    assert_eq!(smtpd.messages().len(), 1);
    assert_eq!(chat_messages(&chat).len(), 1);

    // With no interval to wait, each run tells again.
    w.write(
        "p.yaml",
        format!(
            "{QUARANTINING}{}",
            alerts(&smtpd, "  repeat_interval: 0s\n")
        ),
    );
    let (code, printed) = run(&w);
    assert_eq!(code, 3, "{printed}");
    assert_eq!(smtpd.messages().len(), 2);
    assert_eq!(chat_messages(&chat).len(), 2);
}

/// Orders read from an API that refuses the request, quoting the SMTP password back; products
/// from a file, all well.
fn failing(api: &Api) -> String {
    format!(
        r#"version: 1
name: shop-sync
connections:
  shop:
    http:
      base_url: "{url}"
      retry: {{ attempts: 1 }}
jobs:
  orders:
    from: {{ http: {{ connection: shop, path: /orders, records: $.orders }} }}
    map: {{ id: $.id }}
    to: {{ file: {{ path: orders.ndjson }} }}
  products:
    from: {{ file: {{ path: orders.csv }} }}
    map: {{ id: $.id }}
    to: {{ file: {{ path: products.ndjson }} }}
"#,
        url = api.url
    )
}

const CLEAN: &str = "version: 1\nname: shop-sync\njobs:\n  products:\n    from: { file: { path: orders.csv } }\n    map: { id: $.id }\n    to: { file: { path: products.ndjson } }\n";

#[test]
fn a_failed_job_is_told_with_its_reason_and_a_clean_run_tells_nobody() {
    let test = "a_failed_job_is_told_with_its_reason_and_a_clean_run_tells_nobody";
    let Some(smtpd) = Smtpd::start(test, SMTP_PASSWORD) else {
        return;
    };
    let chat = chat(200);
    let shop = Api::start(|_, _| {
        Reply::status(
            403,
            json!({"error": format!("the key {SMTP_PASSWORD} may not read orders")}),
        )
    });
    let w = workdir(&failing(&shop), &smtpd, &chat, "  on: [failure]\n");
    let (code, printed) = run(&w);
    assert_eq!(code, 1, "a job failed: {printed}");
    assert_no_secret(&printed, "the run's output");

    let mails = smtpd.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0]["subject"], "syncline: shop-sync: orders: failed");
    let body = mails[0]["body"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.starts_with("orders: failed\n    "), "{body}");
    assert!(body.contains("403"), "the failure's reason: {body}");
    assert!(body.contains("[redacted]"), "the answer's secret: {body}");
    assert!(
        !body.contains("products"),
        "only what needs someone: {body}"
    );
    assert_no_secret_in_mail(&mails[0]);
    let posts = chat_messages(&chat);
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_no_secret(&posts[0].1.to_string(), "the chat message");

    // The products job alone, which reads well: a clean run sends nothing.
    let clean = workdir(CLEAN, &smtpd, &chat, "");
    let (code, printed) = run(&clean);
    assert_eq!(code, 0, "{printed}");
    assert_eq!(smtpd.messages().len(), 1, "nothing new by e-mail");
    assert_eq!(chat_messages(&chat).len(), 1, "nothing new in the chat");
}

#[test]
fn a_failed_send_is_logged_without_secrets_changes_no_exit_code_and_is_tried_again() {
    let test = "a_failed_send_is_logged_without_secrets_changes_no_exit_code_and_is_tried_again";
    // The server expects another password than the one syncline is given.
    let Some(smtpd) = Smtpd::start(test, "another-password-entirely") else {
        return;
    };
    let chat = chat(500);
    let w = workdir(QUARANTINING, &smtpd, &chat, "");

    let (code, printed) = run(&w);
    assert_eq!(code, 3, "as without alerts: {printed}");
    assert!(printed.contains("WARN"), "{printed}");
    assert!(
        printed.contains("the alert about orders was not sent"),
        "{printed}"
    );
    assert!(printed.contains("535"), "the login refused: {printed}");
    assert!(printed.contains("500"), "the webhook's answer: {printed}");
    assert_no_secret(&printed, "the run's log");
    assert!(smtpd.messages().is_empty());
    assert_eq!(chat_messages(&chat).len(), 1, "tried once");

    // Not sent, so not remembered: the next run tries again, and gets through.
    drop(smtpd);
    let Some(smtpd) = Smtpd::start(test, SMTP_PASSWORD) else {
        return;
    };
    w.write("p.yaml", format!("{QUARANTINING}{}", alerts(&smtpd, "")));
    let (code, printed) = run(&w);
    assert_eq!(code, 3, "{printed}");
    assert_eq!(smtpd.messages().len(), 1, "{printed}");
}

#[test]
fn alert_settings_are_checked_where_they_are_written() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        r#"version: 1
name: checked
jobs:
  orders:
    from: { file: { path: orders.csv } }
    to: { file: { path: out.ndjson } }
alerts:
  on: [failure, quarantined]
  repeat_interval: 1 hour
  page_url: status.example.com:7878
  chat: { url: "${secret.CHAT_WEBHOOK}", channel: ops }
  email:
    smtp: { host: smtp.example.com, tls: none, user: alerts@example.com, password: "${secret.SMTP_PASSWORD}" }
    from: "syncline alerts@example.com"
    to: [ops@example.com]
"#,
    );
    w.write(
        "q.yaml",
        r#"version: 1
name: q
jobs:
  a:
    from: { file: { path: a.csv } }
    to: { file: { path: b.csv } }
alerts:
  on: []
  page_url: "https://status.example.com/${secret.PAGE_TOKEN}"
  email:
    smtp: { host: 127.0.0.1, tls: starttls, password: x }
    from: a@example.com
    to: []
"#,
    );
    w.write(
        "s.yaml",
        r#"version: 1
name: s
jobs:
  a:
    from: { file: { path: a.csv } }
    to: { file: { path: b.csv } }
alerts:
  chat: { url: "https://hooks.example.com/services/T000/B000/XXXXXXXX" }
  email:
    smtp: { host: smtp.example.com, tls: none, user: alerts, password: "${secret.SMTP_PASSWORD}" }
    from: alerts@example.com
    to: [ops@example.com]
"#,
    );
    w.write(
        "r.yaml",
        "version: 1\nname: r\njobs:\n  a:\n    from: { file: { path: a.csv } }\n    to: { file: { path: b.csv } }\nalerts:\n  repeat_interval: 1h\n",
    );
    let (code, printed) = w.printed(&["validate", "p.yaml", "q.yaml", "r.yaml", "s.yaml"]);
    assert_eq!(code, 2, "{printed}");
    insta::assert_snapshot!("alert_settings", printed);
}
