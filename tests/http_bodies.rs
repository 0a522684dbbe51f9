//! Request bodies in the API's format: PrestaShop's XML (JSON answers read back with
//! `output_format=JSON`), Gomag's form field holding the record as JSON.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::Workdir;
use common::api::{Api, Reply};
use serde_json::{Value, json};

fn pipeline(api: &Api, connection: &str, target: &str) -> String {
    format!(
        r#"version: 1
name: bodies
connections:
  shop:
    http:
      base_url: "{url}"
{connection}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      price: {{ path: $.price, as: decimal, scale: 2 }}
      name: $.name
    to:
      http:
        connection: shop
        entity: product
        key: $.reference
{target}
"#,
        url = api.url
    )
}

/// Answers every write with a new id, PrestaShop's way (`{"product": {"id": N}}`).
fn shop_api() -> Api {
    let next = AtomicU64::new(1);
    Api::start(move |_, _| {
        let id = next.fetch_add(1, Ordering::SeqCst);
        Reply::json(json!({"product": {"id": id}}))
    })
}

#[test]
fn prestashop_gets_xml_and_answers_json() {
    let api = shop_api();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "      body: xml\n      query: { output_format: JSON }",
            "        create: { method: POST, path: /products, body: { product: \"{record}\" } }\n        update: { method: PUT, path: \"/products/{target_id}\", body: { product: { id: \"{target_id}\", reference: \"{reference}\", price: \"{price}\", name: \"{name}\" } } }\n        id: $.product.id",
        ),
    );
    w.write("products.csv", "ref,price,name\nA1,23.9,Chaise & table\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        api.body(0),
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><prestashop xmlns:xlink="http://www.w3.org/1999/xlink">"#,
            "<product><reference>A1</reference><price>23.9</price><name>Chaise &amp; table</name></product></prestashop>"
        )
    );
    assert_eq!(api.query(0, "output_format").as_deref(), Some("JSON"));

    // The id read back from the JSON answer addresses the update.
    w.write("products.csv", "ref,price,name\nA1,25,Chaise & table\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let requests = api.requests.lock().unwrap();
    assert_eq!(requests[1].0, "/api/products/1");
    drop(requests);
    assert!(
        api.body(1)
            .contains("<product><id>1</id><reference>A1</reference><price>25</price>"),
        "{}",
        api.body(1)
    );
}

#[test]
fn gomag_gets_the_record_as_json_in_a_form_field() {
    let api = shop_api();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "      body: form\n      auth: { headers: { Apikey: k, ApiShop: \"https://shop.example\" } }",
            "        create: { method: POST, path: /product/write/json, body: { data: [\"{record}\"] } }\n        id: $.product.id",
        ),
    );
    w.write("products.csv", "ref,price,name\nG-1,10,Tricou\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let body = api.body(0);
    let data = body.strip_prefix("data=").expect("one `data` field");
    let decoded = percent_decode(data);
    let sent: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(
        sent,
        json!([{"reference": "G-1", "price": 10, "name": "Tricou"}])
    );
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_read_before_update_that_finds_nothing_updates_with_the_mapped_fields() {
    // The read answers an empty list (a PrestaShop filter that matched nothing): the update
    // goes out with what was mapped instead of being rejected.
    let next = AtomicU64::new(1);
    let api = Api::start(move |r, _| match r.method.as_str() {
        "POST" => Reply::json(json!({"product": {"id": next.fetch_add(1, Ordering::Relaxed)}})),
        "GET" => Reply::json(json!({"products": []})),
        _ => Reply::json(json!({})),
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "",
            r#"        create: { method: POST, path: /products }
        update: { method: PUT, path: "/products/{target_id}" }
        id: $.product.id
        read_before_update: { request: { path: "/products/{target_id}" }, record: "$.products[0]" }"#,
        ),
    );
    w.write("products.csv", "ref,price,name\nA1,10,Chair\n");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    w.write("products.csv", "ref,price,name\nA1,12,Chair\n");
    let before = api.request_count();
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(common::delivered(&report, "products")["updated"], 1);
    let sent: Value = serde_json::from_str(&api.body(api.request_count() - 1)).unwrap();
    assert_eq!(
        sent,
        json!({"reference": "A1", "price": 12, "name": "Chair"})
    );
    assert_eq!(api.request_count() - before, 2, "one read, one update");
}

#[test]
fn fields_not_sent_still_fill_the_path_and_name_the_record() {
    // Shopify-like nested ids: the parent's id is in the path, not in the body; the key is
    // the ERP's code, which the target has no field for.
    let api = Api::start(|r, _| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if body["name"] == "Broken" {
            return Reply::status(422, json!({"errors": {"name": ["is reserved"]}}));
        }
        Reply::json(json!({"variant": {"id": 40, "path": r.path}}))
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: nested
connections:
  shop:
    http: {{ base_url: "{url}" }}
jobs:
  variants:
    from: {{ file: {{ path: variants.csv }} }}
    map:
      code: $.code
      product_id: $.product
      name: $.name
    to:
      http:
        connection: shop
        entity: variant
        key: $.code
        not_sent: [code, product_id]
        create: {{ method: POST, path: "/products/{{product_id}}/variants" }}
        id: $.variant.id
"#,
            url = api.url
        ),
    );
    w.write(
        "variants.csv",
        "code,product,name\nV-1,7,Blue\nV-2,7,Broken\n",
    );
    let (code, report) = w.run("p.yaml", &["--quarantine", "rejected.ndjson"]);
    assert_eq!(code, 3, "{report:#}");
    // Sent at the same time, in any order.
    let mut bodies: Vec<String> = (0..2).map(|n| api.body(n)).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [r#"{"name":"Blue"}"#, r#"{"name":"Broken"}"#],
        "neither the code nor the parent id is sent"
    );
    let rejected = w.ndjson("rejected.ndjson");
    assert_eq!(rejected[0]["key"], "V-2", "named by its code: {rejected:?}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("POST /products/7/variants")
    );
}

#[test]
fn a_document_whose_lines_go_one_request_each_is_all_or_nothing() {
    // An ERP API that takes an order's header, then each line: a line it refuses removes the
    // header again, and the order is quarantined whole with the line's reason.
    let api = Api::start(move |r, _| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        match (r.method.as_str(), r.path.ends_with("/lines")) {
            // W1 is order 101, W2 order 102 (they are sent at the same time).
            ("POST", false) => Reply::json(
                json!({"id": format!("10{}", &body["reference"].as_str().unwrap_or("W0")[1..])}),
            ),
            ("POST", true) if body["sku"] == "GONE" => {
                Reply::status(422, json!({"message": "unknown article GONE"}))
            }
            _ => Reply::json(json!({"ok": true})),
        }
    });
    let w = Workdir::new();
    w.write(
        "orders.ndjson",
        [
            json!({"reference": "W1", "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}),
            json!({"reference": "W2", "lines": [{"sku": "A", "qty": 1}, {"sku": "GONE", "qty": 1}]}),
        ]
        .map(|o| o.to_string())
        .join("\n"),
    );
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: documents
connections:
  erp:
    http: {{ base_url: "{url}" }}
jobs:
  orders:
    from: {{ file: {{ path: orders.ndjson }} }}
    map:
      reference: $.reference
      lines: $.lines
    to:
      http:
        connection: erp
        entity: order
        key: $.reference
        not_sent: [lines]
        create: {{ method: POST, path: /orders }}
        id: $.id
        lines: {{ each: $.lines, request: {{ method: POST, path: "/orders/{{target_id}}/lines" }} }}
        rollback: [{{ method: DELETE, path: "/orders/{{target_id}}" }}]
"#,
            url = api.url
        ),
    );
    let (code, report) = w.run("p.yaml", &["--quarantine", "rejected.ndjson"]);
    assert_eq!(code, 3, "{report:#}");
    let requests = api.requests.lock().unwrap().clone();
    let seen: Vec<String> = requests.iter().map(|(path, _, _)| path.clone()).collect();
    let w1: Vec<&String> = seen
        .iter()
        .filter(|p| p.starts_with("/api/orders/101"))
        .collect();
    assert_eq!(
        w1,
        ["/api/orders/101/lines", "/api/orders/101/lines"],
        "{seen:?}"
    );
    let first_line = requests
        .iter()
        .find(|(path, _, _)| path == "/api/orders/101/lines")
        .unwrap();
    let line: Value = serde_json::from_slice(&first_line.2).unwrap();
    assert_eq!(line, json!({"sku": "A", "qty": 2}), "the line is the body");
    assert!(
        seen.contains(&"/api/orders/102".to_string()),
        "W2's header is removed: {seen:?}"
    );
    let rejected = w.ndjson("rejected.ndjson");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["key"], "W2");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("line 2")
            && reason.contains("unknown article GONE")
            && reason.contains("rolled back"),
        "{reason}"
    );
}

#[test]
fn create_only_fields_go_with_the_create_and_never_with_an_update() {
    // A shop manager hides a product or rewords its URL: the hourly run must not undo it.
    let api = shop_api();
    let w = Workdir::new();
    let write = |state: &str| {
        w.write(
            "p.yaml",
            pipeline(
                &api,
                "",
                r#"        create_only: [state, link_rewrite]
        create: { method: POST, path: /products }
        update: { method: PUT, path: "/products/{target_id}" }
        id: $.product.id"#,
            )
            .replace(
                "      name: $.name\n",
                &format!("      name: $.name\n      state: \"{state}\"\n      link_rewrite: {{ path: $.name, transform: [slug] }}\n"),
            ),
        );
    };
    write("1");
    w.write("products.csv", "ref,price,name\nA1,10,Chaise Bistrot\n");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    let created: Value = serde_json::from_str(&api.body(0)).unwrap();
    assert_eq!(created["state"], "1");
    assert_eq!(created["link_rewrite"], "chaise-bistrot");
    // A create-only field alone changes nothing on the target.
    write("0");
    let (_, report) = w.run("p.yaml", &[]);
    assert_eq!(
        common::delivered(&report, "products")["unchanged"],
        1,
        "{report:#}"
    );
    w.write("products.csv", "ref,price,name\nA1,12,Chaise Bistrot\n");
    let (_, report) = w.run("p.yaml", &[]);
    assert_eq!(
        common::delivered(&report, "products")["updated"],
        1,
        "{report:#}"
    );
    let updated: Value = serde_json::from_str(&api.body(api.request_count() - 1)).unwrap();
    assert_eq!(
        updated,
        json!({"reference": "A1", "price": 12, "name": "Chaise Bistrot"})
    );
}

#[test]
fn a_translated_field_is_written_in_its_language() {
    // PrestaShop's `name` and `link_rewrite` are per language: a plain string is refused.
    let api = shop_api();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "      body: xml",
            "        create: { method: POST, path: /products, body: { product: \"{record}\" } }\n        id: $.product.id",
        )
        .replace(
            "      name: $.name\n",
            "      name: { path: $.name, lang: \"1\" }\n      link_rewrite: { path: $.name, transform: [slug], lang: \"1\" }\n",
        ),
    );
    w.write("products.csv", "ref,price,name\nA1,23.9,Chaise Bistrot\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        api.body(0).contains(concat!(
            r#"<name><language id="1">Chaise Bistrot</language></name>"#,
            r#"<link_rewrite><language id="1">chaise-bistrot</language></link_rewrite>"#
        )),
        "{}",
        api.body(0)
    );
}

#[test]
fn an_update_answered_with_something_unreadable_is_not_taken_as_done() {
    // PHP notices printed before the webservice's answer: the status says 200, the write may
    // not have gone through.
    let api = Api::start(|r, _| match r.method.as_str() {
        "POST" => Reply::json(json!({"product": {"id": 1}})),
        _ => Reply {
            status: 200,
            headers: Vec::new(),
            body: "Notice: Undefined index: id_shop in /var/www/classes/Product.php on line 42"
                .into(),
        },
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "",
            "        create: { method: POST, path: /products }\n        update: { method: PUT, path: \"/products/{target_id}\" }\n        id: $.product.id",
        ),
    );
    w.write("products.csv", "ref,price,name\nA1,10,Chair\n");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    w.write("products.csv", "ref,price,name\nA1,12,Chair\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "{report:#}");
    assert!(
        report.to_string().contains("Undefined index: id_shop"),
        "{report:#}"
    );
    // Not remembered as sent: the next run tries again.
    let (_, report) = w.run("p.yaml", &[]);
    assert_eq!(
        common::delivered(&report, "products")["unchanged"],
        0,
        "{report:#}"
    );
}

#[test]
fn an_update_in_one_language_keeps_the_others() {
    // The shop has French and English names; the ERP writes French only.
    let api = Api::start(|r, _| match r.method.as_str() {
        "POST" => Reply::json(json!({"product": {"id": 1}})),
        "GET" => Reply::json(json!({"product": {"id": 1, "reference": "A1", "price": 10,
            "name": [{"id": "1", "value": "Chaise"}, {"id": "2", "value": "Chair"}]}})),
        _ => Reply::json(json!({"product": {"id": 1}})),
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            "",
            "        create: { method: POST, path: /products }\n        update: { method: PUT, path: \"/products/{target_id}\" }\n        id: $.product.id\n        read_before_update: { request: { path: \"/products/{target_id}\" }, record: $.product }",
        )
        .replace("      name: $.name\n", "      name: { path: $.name, lang: \"1\" }\n"),
    );
    w.write("products.csv", "ref,price,name\nA1,10,Chaise\n");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    w.write("products.csv", "ref,price,name\nA1,12,Chaise bistrot\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let sent: Value = serde_json::from_str(&api.body(api.request_count() - 1)).unwrap();
    assert_eq!(
        sent["name"],
        json!([{"id": "1", "value": "Chaise bistrot"}, {"id": "2", "value": "Chair"}])
    );
}
