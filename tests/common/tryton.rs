//! A real Tryton 8.2 server (trytond from PyPI, SQLite) for end-to-end tests, set up and started
//! by `tests/tryton/tryton.sh` on loopback, and a small JSON-RPC client the tests use to prepare
//! and check data in it.
//!
//! `SYNCLINE_TRYTON_URL` (e.g. `http://127.0.0.1:18300/erp`, as `.ci/run` exports it) names a
//! running server; without it the first test that needs one sets it up and starts it (a minute
//! or two the first time: a virtual environment from PyPI and a database). When that cannot
//! run, the tests say so on the terminal and pass without checking anything, except under CI,
//! where they fail.

use std::io::Write;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

pub struct Tryton {
    /// The database's URL: `/rpc/` after it is the JSON-RPC endpoint.
    pub url: String,
    session: String,
}

const USER: &str = "admin";
pub const PASSWORD: &str = "admin";

impl Tryton {
    /// The server, or `None` (after saying so) when it cannot be had outside CI.
    pub fn get(test: &str) -> Option<&'static Tryton> {
        static SERVER: OnceLock<Result<Tryton, String>> = OnceLock::new();
        match SERVER.get_or_init(start) {
            Ok(tryton) => Some(tryton),
            Err(reason) if std::env::var_os("CI").is_some() => {
                panic!("{test}: CI must run the real Tryton server: {reason}")
            }
            Err(reason) => {
                // Straight to the terminal: the test harness hides what `eprintln!` prints.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: no Tryton server ({reason}); set SYNCLINE_TRYTON_URL or let tests/tryton/tryton.sh set one up"
                );
                None
            }
        }
    }

    /// A JSON-RPC call as the Tryton client makes it; the answer's `result`, or its error.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        rpc(&self.url, Some(&self.session), method, params)
    }

    /// `call` that must succeed.
    pub fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// `search_read` with the company context.
    pub fn search_read(&self, model: &str, domain: Value, fields: &[&str]) -> Vec<Value> {
        let found = self.ok(
            &format!("model.{model}.search_read"),
            json!([domain, 0, null, [["id", "ASC"]], fields, {"company": 1}]),
        );
        found.as_array().cloned().unwrap_or_default()
    }

    /// A salable goods product (template and one variant) with `code` and `price`; its
    /// `product.product` id.
    pub fn create_product(&self, code: &str, name: &str, price: &str) -> u64 {
        self.ok(
            "model.product.template.create",
            json!([[{
                "name": name, "code": code, "type": "goods",
                "default_uom": 1, "sale_uom": 1, "salable": true,
                "list_price": {"__class__": "Decimal", "decimal": price},
                "account_category": 1,
                "products": [["create", [{"suffix_code": ""}]]]
            }], {"company": 1}]),
        );
        self.search_read("product.product", json!([["code", "=", code]]), &["id"])[0]["id"]
            .as_u64()
            .unwrap()
    }

    /// A name no earlier run of the tests used on this server: the database outlives the runs.
    pub fn unique(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{prefix}-{:x}", nanos % 0xfff_ffff_ffff)
    }
}

fn start() -> Result<Tryton, String> {
    let url = match std::env::var("SYNCLINE_TRYTON_URL") {
        Ok(url) => url,
        Err(_) => {
            let script = super::repo_root().join("tests/tryton/tryton.sh");
            for step in ["setup", "start"] {
                let out = Command::new("bash")
                    .arg(&script)
                    .arg(step)
                    .output()
                    .map_err(|e| format!("tryton.sh {step}: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "tryton.sh {step} failed: {}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            let port = std::env::var("TRYTON_PORT").unwrap_or_else(|_| "18300".into());
            let db = std::env::var("TRYTON_DB").unwrap_or_else(|_| "erp".into());
            format!("http://127.0.0.1:{port}/{db}")
        }
    };
    let login = rpc(
        &url,
        None,
        "common.db.login",
        json!([USER, {"password": PASSWORD}, "en"]),
    )?;
    let session = format!(
        "{USER}:{}:{}",
        login[0],
        login[1].as_str().ok_or("the login answered no session")?
    );
    Ok(Tryton {
        url,
        session: syncline::connectors::http::base64(session.as_bytes()),
    })
}

fn rpc(url: &str, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"id": 1, "method": method, "params": params}).to_string();
    let mut request = super::http_client()
        .post(format!("{url}/rpc/"))
        .header("Content-Type", "application/json");
    if let Some(session) = session {
        request = request.header("Authorization", format!("Session {session}"));
    }
    let response = request
        .body(body)
        .send()
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("{method}: {e}"))?;
    let answer: Value =
        serde_json::from_str(&response.text().map_err(|e| format!("{method}: {e}"))?)
            .map_err(|e| format!("{method}: {e}"))?;
    match answer.get("error") {
        Some(error) if !error.is_null() => Err(format!("{method}: {error}")),
        _ => Ok(answer["result"].clone()),
    }
}
