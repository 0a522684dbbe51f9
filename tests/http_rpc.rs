//! JSON-RPC against an Odoo double: a session opened by a JSON-RPC login whose token is a
//! cookie, products created and written through `call_kw` (an RPC error refuses that record
//! with Odoo's message), and sale orders read with `search_read`, paged inside the params,
//! from the last change on.

mod common;

use common::Workdir;
use common::odoo::{Odoo, PASSWORD};
use serde_json::json;

fn pipeline(odoo: &Odoo) -> String {
    format!(
        r#"version: 1
name: odoo
connections:
  odoo:
    http:
      base_url: "{url}"
      auth:
        login:
          request: {{ path: /web/session/authenticate, rpc: {{ method: call, params: {{ db: shop, login: admin, password: "${{secret.ODOO_PASSWORD}}" }} }} }}
          token_cookie: session_id
          headers: {{ Cookie: "session_id={{token}}" }}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      default_code: $.ref
      name: $.name
      list_price: {{ path: $.price, as: decimal, scale: 2 }}
    to:
      http:
        connection: odoo
        entity: product
        key: $.default_code
        create: {{ path: /web/dataset/call_kw, rpc: {{ method: call, params: {{ model: product.product, method: create, args: ["{{record}}"], kwargs: {{}} }} }} }}
        update: {{ path: /web/dataset/call_kw, rpc: {{ method: call, params: {{ model: product.product, method: write, args: [["{{target_id}}"], "{{record}}"], kwargs: {{}} }} }} }}
        id: $
  orders:
    from:
      http:
        connection: odoo
        path: /web/dataset/call_kw
        rpc:
          method: call
          params:
            model: sale.order
            method: search_read
            args: []
            kwargs: {{ domain: [[write_date, ">", "{{cursor}}"]], fields: [name, state, amount_total, write_date], order: "write_date asc, id asc" }}
        paginate: {{ offset: {{ offset_param: kwargs.offset, limit_param: kwargs.limit, limit: 100 }} }}
    cursor: {{ field: $.write_date, tie_breaker: $.id, initial: "2026-01-01 00:00:00" }}
    map:
      id: $.id
      name: $.name
      state: $.state
      total: $.amount_total
    to: {{ file: {{ path: orders.ndjson }} }}
"#,
        url = odoo.api.url
    )
}

#[test]
fn products_and_orders_through_json_rpc() {
    let odoo = Odoo::start();
    let orders: Vec<u64> = {
        let mut store = odoo.store.lock().unwrap();
        // Made in Odoo by hand: the ERP's B2 collides with it.
        store.insert(
            "product.product",
            json!({"default_code": "B2", "name": "Manual"}),
        );
        (0..250)
            .map(|n| {
                store.insert(
                    "sale.order",
                    json!({"name": format!("S{n:05}"), "state": "draft", "amount_total": 100.0 + n as f64}),
                )
            })
            .collect()
    };
    let w = Workdir::new();
    w.write(".secrets", format!("ODOO_PASSWORD={PASSWORD}\n"));
    w.write("p.yaml", pipeline(&odoo));
    w.write(
        "products.csv",
        "ref,name,price\nB1,Bureau,120\nB2,Chaise,45.5\nB3,Lampe,19.9\n",
    );

    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 3, "B2 is refused by Odoo: {report:#}");
    assert_eq!(common::delivered(&report, "products")["created"], 2);
    let reasons = common::job(&report, "products")["reasons"].to_string();
    assert!(
        reasons.contains(
            "JSON-RPC error: The internal reference must be unique (odoo.exceptions.ValidationError)"
        ),
        "{reasons}"
    );
    assert_eq!(
        w.ndjson("orders.ndjson").len(),
        250,
        "3 pages of search_read: {report:#}"
    );
    assert_eq!(
        odoo.store.lock().unwrap().logins,
        1,
        "one session for every call"
    );

    // A price changes in the ERP; two orders change in Odoo.
    {
        let mut store = odoo.store.lock().unwrap();
        store.writes.clear();
        store.touch("sale.order", orders[3], "state", json!("sale"));
        store.touch("sale.order", orders[249], "state", json!("cancel"));
    }
    w.write(
        "products.csv",
        "ref,name,price\nB1,Bureau,125\nB3,Lampe,19.9\n",
    );
    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 0, "{report:#}");
    let d = common::delivered(&report, "products");
    assert_eq!(
        (d["updated"].as_u64(), d["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let store = odoo.store.lock().unwrap();
    assert_eq!(
        store.writes,
        vec![("write".to_string(), "product.product".to_string())]
    );
    let b1 = store
        .all("product.product")
        .into_iter()
        .find(|p| p["default_code"] == "B1")
        .unwrap();
    assert_eq!(b1["list_price"], 125);
    let changed: Vec<String> = w
        .ndjson("orders.ndjson")
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["name"].as_str().unwrap(),
                o["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(changed, vec!["S00003 sale", "S00249 cancel"]);
}

#[test]
fn a_refused_login_names_odoos_error_and_never_the_password() {
    let odoo = Odoo::start();
    let w = Workdir::new();
    w.write(".secrets", "ODOO_PASSWORD=wrong-Password-77\n");
    w.write("p.yaml", pipeline(&odoo));
    w.write("products.csv", "ref,name,price\nB1,Bureau,120\n");
    let (code, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("the login (POST /web/session/authenticate)"),
        "{text}"
    );
    assert!(!text.contains("wrong-Password-77"), "{text}");
}

#[test]
fn a_json_rpc_1_server_gets_its_envelope_and_a_null_error_is_success() {
    // JSON-RPC 1.0: `{method, params, id}`, answered `{result, error: null, id}`.
    let api = common::api::Api::start(|r, _| {
        let call: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let members: Vec<&String> = call
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        if members != ["method", "params", "id"] {
            return common::api::Reply::json(
                json!({"result": null, "error": format!("bad envelope {members:?}"), "id": call["id"]}),
            );
        }
        common::api::Reply::json(
            json!({"result": [{"code": "A1"}], "error": null, "id": call["id"]}),
        )
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: rpc1
connections:
  legacy:
    http: {{ base_url: "{url}", rpc: {{ dialect: jsonrpc1 }} }}
jobs:
  items:
    from: {{ http: {{ connection: legacy, path: /rpc, rpc: {{ method: items.list, params: [] }} }} }}
    to: {{ file: {{ path: items.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(w.ndjson("items.ndjson"), vec![json!({"code": "A1"})]);
}
