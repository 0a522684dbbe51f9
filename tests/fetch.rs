//! The `fetch` step: related data read into a record, from a link the API gave or a request of
//! its own, one per record or one per item of a list; what it does when an item is missing, a
//! link points elsewhere, or the API fails.

mod common;

use common::Workdir;
use common::api::{Api, Reply};
use common::hyperlinked::{self, Catalog};
use serde_json::{Value, json};

fn pipeline(api: &Api, steps: &str, map: &str) -> String {
    format!(
        r#"version: 1
name: links
connections:
  api:
    http: {{ base_url: "{url}" }}
jobs:
  orders:
    from:
      http:
        connection: api
        path: /orders/
        records: $.results
        paginate: {{ next_url: {{ from: $.next }} }}
    steps:
{steps}
    map:
{map}
    to: {{ file: {{ path: orders.ndjson, key: $.reference }} }}
"#,
        url = api.url
    )
}

const LINES_AND_PRODUCTS: &str = r#"      - fetch: { connection: api, into: lines, request: { path: "{lines}" } }
      - fetch: { connection: api, each: $.lines, into: sku, request: { path: "{product}" }, records: $.sku, reason: "no product at {product}" }"#;

const ORDER_MAP: &str = r#"      reference: $.reference
      customer: { path: $.customer, transform: [url_segment: -2] }
      skus: $.lines[*].sku
      quantities: $.lines[*].quantity"#;

#[test]
fn hyperlinked_orders_are_read_with_their_lines_and_products() {
    let api = hyperlinked::start(Catalog {
        orders: vec![
            ("WEB-1".into(), 7, vec![(1, 2), (2, 1), (3, 5)]),
            ("WEB-2".into(), 8, vec![(2, 4)]),
            ("WEB-3".into(), 7, vec![]),
        ],
        products: vec![
            (1, "SKU-A".into()),
            (2, "SKU-B".into()),
            (3, "SKU-C".into()),
        ],
        page_size: 2,
    });
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&api, LINES_AND_PRODUCTS, ORDER_MAP));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        w.ndjson("orders.ndjson"),
        vec![
            json!({"reference": "WEB-1", "customer": "7", "skus": ["SKU-A", "SKU-B", "SKU-C"], "quantities": [2, 1, 5]}),
            json!({"reference": "WEB-2", "customer": "8", "skus": ["SKU-B"], "quantities": [4]}),
            json!({"reference": "WEB-3", "customer": "7", "skus": [], "quantities": []}),
        ],
        "every line of every order, across pages"
    );
}

#[test]
fn one_missing_item_rejects_the_whole_document() {
    // Product 9 is gone: WEB-1 is quarantined whole, with the words of `reason`; WEB-2 goes on.
    let api = hyperlinked::start(Catalog {
        orders: vec![
            ("WEB-1".into(), 7, vec![(1, 2), (9, 1)]),
            ("WEB-2".into(), 8, vec![(1, 4)]),
        ],
        products: vec![(1, "SKU-A".into())],
        page_size: 10,
    });
    let w = Workdir::new();
    let steps = r#"      - fetch: { connection: api, into: lines, request: { path: "{lines}" } }
      - fetch: { connection: api, each: $.lines, into: sku, request: { path: "{product}" }, records: $.sku }"#;
    w.write("p.yaml", pipeline(&api, steps, ORDER_MAP));
    let (code, report) = w.run("p.yaml", &["--quarantine", "rejected.ndjson"]);
    assert_eq!(code, 3, "{report:#}");
    let written = w.ndjson("orders.ndjson");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["reference"], "WEB-2");
    let rejected = w.ndjson("rejected.ndjson");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["record"]["reference"], "WEB-1");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("/products/9/") && reason.contains("HTTP 404"),
        "{reason}"
    );
}

#[test]
fn nothing_found_is_rejected_in_the_words_given_or_kept_as_null() {
    let api = Api::start(|r, _| {
        let sku = common::api::param(r, "sku").unwrap_or_default().to_string();
        Reply::json(if sku == "GONE" {
            json!({"products": []})
        } else {
            json!({"products": [{"id": 10, "sku": sku}]})
        })
    });
    let run = |missing: &str| {
        let w = Workdir::new();
        w.write(
            "lines.ndjson",
            "{\"order\":\"W1\",\"sku\":\"A\"}\n{\"order\":\"W2\",\"sku\":\"GONE\"}\n",
        );
        w.write(
            "p.yaml",
            format!(
                r#"version: 1
name: lookups
connections:
  api:
    http: {{ base_url: "{url}" }}
jobs:
  lines:
    from: {{ file: {{ path: lines.ndjson }} }}
    steps:
      - fetch: {{ connection: api, into: product_id, request: {{ path: /products, query: {{ sku: "{{sku}}" }} }}, records: "$.products[0].id", reason: "no product {{sku}} in the shop"{missing} }}
    to: {{ file: {{ path: out.ndjson }} }}
"#,
                url = api.url
            ),
        );
        let (code, report) = w.run("p.yaml", &[]);
        (code, report, w.ndjson("out.ndjson"))
    };
    let (code, report, out) = run("");
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["product_id"], 10);
    assert!(
        report.to_string().contains("no product GONE in the shop"),
        "{report:#}"
    );
    let (code, report, out) = run(", missing: keep");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(out[1]["product_id"], Value::Null);
}

#[test]
fn a_link_elsewhere_is_not_followed() {
    let api = Api::start(|r, _| {
        if r.path == "/api/orders/" {
            return Reply::json(json!({"results": [
                {"reference": "W1", "lines": "http://127.0.0.1:9/elsewhere/lines/?key=s3cret"}
            ], "next": null}));
        }
        Reply::json(json!([]))
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            r#"      - fetch: { connection: api, into: lines, request: { path: "{lines}" } }"#,
            "      reference: $.reference",
        ),
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "{report:#}");
    let reasons = report.to_string();
    assert!(
        reasons.contains(
            "the link http://127.0.0.1:9/elsewhere/lines/ is not under the connection's base_url"
        ) && !reasons.contains("s3cret"),
        "{report:#}"
    );
    assert_eq!(api.request_count(), 1, "only the list was asked for");
}

#[test]
fn an_api_that_fails_stops_the_job_and_nothing_is_passed_on() {
    let api = Api::start(|r, _| {
        if r.path == "/api/orders/" {
            return Reply::json(json!({"results": [
                {"reference": "W1", "lines": "/orders/1/lines/"}
            ], "next": null}));
        }
        Reply::status(503, json!({"detail": "down for maintenance"}))
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(
            &api,
            r#"      - fetch: { connection: api, into: lines, request: { path: "{lines}" } }"#,
            "      reference: $.reference",
        )
        .replace(
            "base_url: ",
            "retry: { attempts: 2, backoff: 10ms..20ms }, base_url: ",
        ),
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report.to_string().contains("down for maintenance"),
        "{report:#}"
    );
    assert!(!w.exists("orders.ndjson"), "the target is untouched");
    let list = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    assert!(
        String::from_utf8_lossy(&list.stdout).is_empty(),
        "nothing quarantined"
    );
}
