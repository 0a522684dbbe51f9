//! Tokens got by a request: a login (RO App's old `POST /token/new {api_key}`, the token sent
//! as `?token=`) refreshed when it expires and on a 401, and OAuth2 client credentials. The
//! credentials and tokens never appear in any output.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::Workdir;
use common::api::{Api, Reply, param};
use serde_json::{Value, json};

const API_KEY: &str = "roapp-key-5f2b9c";

fn unauthorized() -> Reply {
    Reply {
        status: 401,
        headers: Vec::new(),
        body: json!({"message": "Invalid token"}).to_string(),
    }
}

fn run(w: &Workdir) -> (i32, String) {
    let out = w.syncline(&["run", "p.yaml", "--secrets", ".secrets", "--format", "json"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_login_token_is_fetched_again_when_the_api_refuses_it() {
    // Each token is good for 2 requests; the API says it lives an hour, so only its 401s tell.
    let logins = Arc::new(AtomicU64::new(0));
    let uses = Arc::new(AtomicU64::new(0));
    let (l, u) = (logins.clone(), uses.clone());
    let api = Api::start(move |r, _| {
        if r.path == "/api/token/new" {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if body["api_key"] != API_KEY {
                return unauthorized();
            }
            let n = l.fetch_add(1, Ordering::SeqCst) + 1;
            u.store(0, Ordering::SeqCst);
            return Reply::json(json!({"token": format!("tok-{n}"), "expires_in": 3600}));
        }
        let current = format!("tok-{}", l.load(Ordering::SeqCst));
        if param(r, "token") != Some(current.as_str()) || u.fetch_add(1, Ordering::SeqCst) >= 2 {
            return unauthorized();
        }
        let page: u64 = param(r, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let data: Vec<Value> = if page <= 5 {
            vec![json!({"id": page * 2 - 1}), json!({"id": page * 2})]
        } else {
            Vec::new()
        };
        Reply::json(json!({ "data": data }))
    });
    let w = Workdir::new();
    w.write(".secrets", format!("ROAPP_KEY={API_KEY}\n"));
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: roapp
connections:
  roapp:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ method: POST, path: /token/new, body: {{ api_key: "${{secret.ROAPP_KEY}}" }} }}
          token: $.token
          expires_in: $.expires_in
          query: {{ token: "{{token}}" }}
jobs:
  people:
    from:
      http:
        connection: roapp
        path: /contacts/people
        records: $.data
        paginate: {{ page_number: {{ size: {{ per_page: 2 }} }} }}
    to: {{ file: {{ path: people.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, text) = run(&w);
    assert_eq!(code, 0, "{text}");
    assert_eq!(w.ndjson("people.ndjson").len(), 10);
    assert!(
        logins.load(Ordering::SeqCst) >= 3,
        "logged in again after 401s"
    );
    assert!(!text.contains(API_KEY) && !text.contains("tok-"), "{text}");

    // A wrong key: a clear error, without the key.
    w.write(".secrets", "ROAPP_KEY=wrong-key-123\n");
    let (code, text) = run(&w);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("the login (POST /token/new): HTTP 401"),
        "{text}"
    );
    assert!(!text.contains("wrong-key-123"), "{text}");
}

#[test]
fn oauth2_client_credentials() {
    let api = Api::start(|r, _| {
        if r.path == "/api/oauth/token" {
            let form = String::from_utf8_lossy(&r.body).to_string();
            if form
                != "grant_type=client_credentials&client_id=syncline&client_secret=s3cr3t%2Bx&scope=read%20write"
            {
                return unauthorized();
            }
            return Reply::json(
                json!({"access_token": "at-42", "token_type": "Bearer", "expires_in": 3600}),
            );
        }
        if r.header("authorization") != Some("Bearer at-42") {
            return unauthorized();
        }
        Reply::json(json!({"items": [{"id": 1}, {"id": 2}]}))
    });
    let w = Workdir::new();
    w.write(".secrets", "CLIENT_SECRET=s3cr3t+x\n");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: oauth
connections:
  erp:
    http:
      base_url: "{url}"
      auth: {{ oauth2: {{ token_url: /oauth/token, client_id: syncline, client_secret: "${{secret.CLIENT_SECRET}}", scopes: [read, write] }} }}
jobs:
  items:
    from: {{ http: {{ connection: erp, path: /items, records: $.items }} }}
    to: {{ file: {{ path: items.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, text) = run(&w);
    assert_eq!(code, 0, "{text}");
    assert_eq!(w.ndjson("items.ndjson").len(), 2);
    assert!(
        !text.contains("s3cr3t") && !text.contains("at-42"),
        "{text}"
    );
}

#[test]
fn a_tryton_session_header_is_built_from_the_login_answer() {
    // Tryton's JSON-RPC login answers `[user id, session]`; every call then carries
    // `Authorization: Session base64(login:user id:session)`.
    let api = Api::start(|r, _| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if body["method"] == "common.db.login" {
            if body["params"] != json!(["admin", {"password": "tryton-pw-77"}]) {
                return Reply::json(json!({"id": body["id"], "error": ["LoginException", []]}));
            }
            // As Tryton 8.2 answers: the bus URL is null when no bus is configured.
            return Reply::json(json!({"id": body["id"], "result": [7, "s3ss10n", null]}));
        }
        // base64 of `admin:7:s3ss10n`.
        let expected = "Session YWRtaW46NzpzM3NzMTBu";
        if r.header("authorization") != Some(expected) {
            return unauthorized();
        }
        Reply::json(json!({"id": body["id"], "result": [{"id": 1, "code": "P1"}]}))
    });
    let w = Workdir::new();
    w.write(".secrets", "TRYTON_PASSWORD=tryton-pw-77\n");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: tryton
connections:
  tryton:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ path: /shop/, rpc: {{ method: common.db.login, params: [admin, {{ password: "${{secret.TRYTON_PASSWORD}}" }}] }} }}
          token: $
          headers: {{ Authorization: "Session {{base64:admin:{{token.0}}:{{token.1}}}}" }}
jobs:
  products:
    from:
      http:
        connection: tryton
        path: /shop/
        rpc: {{ method: model.product.product.search_read, params: [[], 0, 100, null, [code], {{}}] }}
    to: {{ file: {{ path: products.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, text) = run(&w);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        w.ndjson("products.ndjson"),
        vec![json!({"id": 1, "code": "P1"})]
    );
    assert!(
        !text.contains("tryton-pw-77") && !text.contains("s3ss10n"),
        "{text}"
    );
}

#[test]
fn a_token_path_that_selects_several_items_keeps_them_all() {
    // `$.result[0:2]` selects two values: the token is both, not the first.
    let api = Api::start(|r, _| {
        if r.path.ends_with("/login") {
            return Reply::json(json!({"result": [7, "s3ss10n", "ignored"]}));
        }
        if r.header("x-user") != Some("7") || r.header("x-session") != Some("s3ss10n") {
            return unauthorized();
        }
        Reply::json(json!([{"id": 1}]))
    });
    let w = Workdir::new();
    w.write(".secrets", "");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: slice
connections:
  api:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ method: POST, path: /login }}
          token: "$.result[0:2]"
          headers: {{ X-User: "{{token.0}}", X-Session: "{{token.1}}" }}
jobs:
  items:
    from: {{ http: {{ connection: api, path: /items }} }}
    to: {{ file: {{ path: items.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, text) = run(&w);
    assert_eq!(code, 0, "{text}");
    assert_eq!(w.ndjson("items.ndjson"), vec![json!({"id": 1})]);
}

#[test]
fn debug_logs_name_every_request_and_the_login_without_secrets_or_colours() {
    let api = Api::start(|r, _| {
        if r.path.ends_with("/login") {
            return Reply::json(json!({"token": "t0k-5e55i0n-77"}));
        }
        Reply::json(json!([{"id": 1}]))
    });
    let w = Workdir::new();
    w.write(".secrets", "API_KEY=k3y-in-the-query-123\n");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: logs
connections:
  api:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ method: POST, path: /login, query: {{ key: "${{secret.API_KEY}}" }} }}
          token: $.token
jobs:
  items:
    from: {{ http: {{ connection: api, path: /items, query: {{ since: "2026" }} }} }}
    to: {{ file: {{ path: items.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let out = w.syncline_with_env(
        &["run", "p.yaml", "--secrets", ".secrets"],
        &[("SYNCLINE_LOG", "debug")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("POST /login -> 200") && stderr.contains("GET /items?since=2026 -> 200"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("k3y-in-the-query-123") && !stderr.contains("t0k-5e55i0n-77"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes off a terminal: {stderr}"
    );
}

#[test]
fn an_endless_or_absurd_expires_in_is_bounded_not_a_crash() {
    // `"inf"` reads as an infinite float, `1e300` as seconds no clock can add: each login
    // answers the next of these, and the token is used all the same.
    let lifetimes = [json!("inf"), json!(1e300), json!("-inf"), json!("NaN")];
    let logins = Arc::new(AtomicU64::new(0));
    let l = logins.clone();
    let api = Api::start(move |r, _| {
        if r.path.ends_with("/login") {
            let n = l.fetch_add(1, Ordering::SeqCst) as usize;
            let expires_in = lifetimes[n % lifetimes.len()].clone();
            return Reply::json(json!({"token": "t", "expires_in": expires_in}));
        }
        if param(r, "token") != Some("t") {
            return unauthorized();
        }
        Reply::json(json!([{"id": 1}]))
    });
    let w = Workdir::new();
    w.write(".secrets", "");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: lifetimes
connections:
  api:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ method: POST, path: /login }}
          token: $.token
          expires_in: $.expires_in
          query: {{ token: "{{token}}" }}
jobs:
  items:
    from: {{ http: {{ connection: api, path: /items }} }}
    to: {{ file: {{ path: items.ndjson }} }}
"#,
            url = api.url
        ),
    );
    for expires_in in ["inf", "1e300", "-inf", "NaN"] {
        let (code, text) = run(&w);
        assert_eq!(code, 0, "expires_in {expires_in}: {text}");
        assert!(
            !text.contains("panicked"),
            "expires_in {expires_in}: {text}"
        );
        if !expires_in.contains('-') && expires_in != "NaN" {
            assert!(
                text.contains("the token expires in") && text.contains("taken as 365 days"),
                "the bound is said: {text}"
            );
        }
        assert_eq!(w.ndjson("items.ndjson"), vec![json!({"id": 1})]);
    }
}
