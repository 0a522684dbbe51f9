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
