//! The state: change detection, ID maps, identity resolution, references, checkpoints, the
//! quarantine, export and import, against a shop double on loopback and the real sled store.

mod common;

use common::shop::{PRODUCT_TARGET, Shop};
use common::{Workdir, job};
use serde_json::{Value, json};

const SECRET: &str = "ps-key-0123456789";

fn pipeline(shop: &Shop, extra_target: &str) -> String {
    format!(
        r#"version: 1
name: shop-sync
connections:
  shop:
    http:
      base_url: "{url}"
      auth: {{ basic: {{ user: "${{secret.PS_KEY}}" }} }}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      name: $.name
      price: {{ path: $.price, as: decimal, scale: 2 }}
      ean13: $.ean
{target}
{extra_target}"#,
        url = shop.url,
        target = PRODUCT_TARGET
    )
}

fn workdir(pipeline: &str, csv: &str) -> Workdir {
    let w = Workdir::new();
    w.write("p.yaml", pipeline);
    w.write("products.csv", csv);
    w.write(".secrets", format!("PS_KEY={SECRET}\n"));
    w
}

fn run(w: &Workdir) -> (i32, Value) {
    w.run("p.yaml", &["--secrets", ".secrets"])
}

/// The plan `syncline dry-run` prints.
fn dry_run(w: &Workdir) -> Value {
    let out = w.syncline(&[
        "dry-run",
        "p.yaml",
        "--secrets",
        ".secrets",
        "--format",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn delivered(report: &Value, name: &str) -> Value {
    job(report, name)["delivered"].clone()
}

const CATALOG: &str = "ref,name,price,ean\nA1,Chair,10.5,3760000000011\nA2,Table,99,3760000000028\nA3,Lamp,25,3760000000035\n";

#[test]
fn a_second_run_over_unchanged_input_sends_nothing_and_a_changed_price_one_update() {
    let shop = Shop::start();
    let w = workdir(&pipeline(&shop, ""), CATALOG);
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(delivered(&report, "products")["created"], 3);
    assert_eq!(shop.writes().len(), 3);
    assert_eq!(shop.records("product").len(), 3);

    shop.clear_writes();
    let (code, report) = run(&w);
    assert_eq!(code, 0);
    assert_eq!(delivered(&report, "products")["unchanged"], 3);
    assert_eq!(
        job(&report, "products")["written"],
        0,
        "unchanged is not written"
    );
    assert!(
        shop.writes().is_empty(),
        "nothing is sent again: {:?}",
        shop.writes()
    );
    let (_, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert!(
        text.contains("products: 3 read, 0 written, 3 unchanged,")
            && text.contains("1 job: 0 records written"),
        "{text}"
    );

    w.write("products.csv", CATALOG.replace("Table,99", "Table,89.9"));
    let (_, report) = run(&w);
    let writes = shop.writes();
    assert_eq!(delivered(&report, "products")["updated"], 1);
    assert_eq!(delivered(&report, "products")["unchanged"], 2);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].body["price"].clone()),
        ("PUT", json!(89.9))
    );
    // The update went to the id the create got back.
    let table = shop
        .records("product")
        .into_iter()
        .find(|r| r["reference"] == "A2")
        .unwrap();
    assert_eq!(writes[0].id, table["id"].as_u64().unwrap());

    let out = w.syncline(&[
        "state", "id", "p.yaml", "--entity", "product", "--key", "A2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("target id {}", writes[0].id)),
        "{text}"
    );
    let out = w.syncline(&["run", "p.yaml", "--secrets", ".secrets"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 created, 0 updated, 3 unchanged"), "{text}");
    let out = w.syncline(&[
        "state",
        "id",
        "p.yaml",
        "--entity",
        "product",
        "--target-id",
        &writes[0].id.to_string(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("product `A2`"));
}

const RESOLVE_BY_EAN: &str = r#"        resolve:
          - name: ean
            value: $.ean13
            request: { path: /products, query: { "filter[ean13]": "[{value}]" } }
            ids: $.products[*].id
"#;

#[test]
fn a_product_the_shop_has_under_its_ean_is_linked_not_duplicated() {
    let shop = Shop::start();
    let existing = shop.insert(
        "product",
        json!({"reference": "OLD-2", "name": "Table (shop)", "ean13": "3760000000028"}),
    );
    let w = workdir(&pipeline(&shop, RESOLVE_BY_EAN), CATALOG);
    // The dry-run asks the target as the run will: a link, not a create.
    let plan = dry_run(&w);
    let summary = &plan["jobs"][0]["summary"];
    assert_eq!(
        (summary["create"].clone(), summary["link"].clone()),
        (json!(2), json!(1)),
        "{plan:#}"
    );
    let link = plan["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "link")
        .unwrap();
    assert_eq!(link["key"], "A2");
    assert_eq!(
        link["target_id"].to_string().trim_matches('"'),
        existing.to_string()
    );
    assert!(shop.writes().is_empty(), "a dry run sends nothing");
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let d = delivered(&report, "products");
    assert_eq!(
        (d["created"].clone(), d["linked"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        shop.records("product").len(),
        3,
        "no duplicate of the table"
    );
    // Linked, then updated with the ERP's fields (on_match: update, the default).
    let writes = shop.writes();
    assert!(writes.iter().any(|w| w.method == "PUT" && w.id == existing));
    let out = w.syncline(&[
        "state", "id", "p.yaml", "--entity", "product", "--key", "A2",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("target id {existing}")));
}

#[test]
fn link_only_keeps_the_shop_details_and_ambiguous_matches_are_quarantined() {
    let shop = Shop::start();
    let existing = shop.insert(
        "product",
        json!({"reference": "OLD-2", "name": "Table (shop)", "ean13": "3760000000028"}),
    );
    shop.insert(
        "product",
        json!({"reference": "X", "ean13": "3760000000035"}),
    );
    shop.insert(
        "product",
        json!({"reference": "Y", "ean13": "3760000000035"}),
    );
    let extra = format!("{RESOLVE_BY_EAN}        on_match: link_only\n");
    let w = workdir(&pipeline(&shop, &extra), CATALOG);
    let (code, report) = run(&w);
    assert_eq!(code, 3, "{report:#}");
    let table = shop
        .records("product")
        .into_iter()
        .find(|r| r["id"] == existing)
        .unwrap();
    assert_eq!(
        table["name"], "Table (shop)",
        "link_only does not overwrite"
    );
    assert!(!shop.writes().iter().any(|w| w.id == existing));
    let reasons = job(&report, "products")["reasons"].to_string();
    assert!(
        reasons.contains("2 target records match by ean `3760000000035`"),
        "{reasons}"
    );
    assert_eq!(
        shop.records("product").len(),
        4,
        "the lamp is not created: not guessing"
    );
}

#[test]
fn opted_out_records_and_fields_are_not_sent() {
    let shop = Shop::start();
    let p = pipeline(
        &shop,
        "        skip: $.no_sync\n        skip_fields: { price: $.price_in_shop }\n",
    )
    .replace(
        "      ean13: $.ean\n",
        "      ean13: $.ean\n      no_sync: $.no_sync\n      price_in_shop: $.price_in_shop\n",
    );
    let w = workdir(
        &p,
        "ref,name,price,ean,no_sync,price_in_shop\nA1,Chair,10,1,0,1\nA2,Table,99,2,1,0\n",
    );
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(delivered(&report, "products")["skipped"], 1);
    let writes = shop.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].body["reference"], "A1");
    assert!(
        writes[0].body.get("price").is_none(),
        "the price is the shop's: {:?}",
        writes[0].body
    );
    for flag in ["no_sync", "price_in_shop"] {
        assert!(
            writes[0].body.get(flag).is_none(),
            "the flags are syncline's, not sent: {:?}",
            writes[0].body
        );
    }
}

fn with_categories(shop: &Shop, missing_refs: &str) -> String {
    format!(
        r#"version: 1
name: shop-sync
connections:
  shop: {{ http: {{ base_url: "{url}" }} }}
jobs:
  categories:
    from: {{ file: {{ path: families.csv }} }}
    map: {{ code: $.code, name: $.name }}
    to:
      http: {{ connection: shop, entity: category, key: $.code, create: {{ method: POST, path: /categorys }}, update: {{ method: PUT, path: "/categorys/{{target_id}}" }}, id: $.category.id }}
  products:
    needs: [categories]
    missing_refs: {missing_refs}
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      id_category_default: {{ ref: category, key: $.family }}
    to:
      http: {{ connection: shop, entity: product, key: $.reference, create: {{ method: POST, path: /products }}, update: {{ method: PUT, path: "/products/{{target_id}}" }}, id: $.product.id }}
"#,
        url = shop.url
    )
}

#[test]
fn references_between_entities_resolve_through_the_id_maps() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write("p.yaml", with_categories(&shop, "quarantine"));
    w.write("families.csv", "code,name\nF1,Chairs\nF2,Tables\n");
    w.write("products.csv", "ref,family\nA1,F1\nA2,F2\nA3,F9\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "{report:#}");
    let categories = shop.records("category");
    let id_of =
        |code: &str| categories.iter().find(|c| c["code"] == code).unwrap()["id"].to_string();
    let products = shop.records("product");
    assert_eq!(products.len(), 2);
    for (reference, family) in [("A1", "F1"), ("A2", "F2")] {
        let product = products
            .iter()
            .find(|p| p["reference"] == reference)
            .unwrap();
        assert_eq!(
            product["id_category_default"].to_string(),
            format!("\"{}\"", id_of(family).trim_matches('"'))
        );
    }
    let reasons = job(&report, "products")["reasons"].to_string();
    assert!(
        reasons.contains("the category `F9` has no id on `shop` yet"),
        "{reasons}"
    );
}

#[test]
fn references_read_another_connections_id_map_both_ways() {
    // Order lines from the shop name the shop's product ids; the ERP export wants the codes.
    let shop = Shop::start();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: shop-sync
connections:
  shop: {{ http: {{ base_url: "{url}" }} }}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map: {{ reference: $.ref }}
    to:
      http: {{ connection: shop, entity: product, key: $.reference, create: {{ method: POST, path: /products }}, update: {{ method: PUT, path: "/products/{{target_id}}" }}, id: $.product.id }}
  lines:
    needs: [products]
    from: {{ file: {{ path: lines.ndjson }} }}
    map:
      order: $.order
      code: {{ ref: product, connection: shop, from_target_id: $.shop_product }}
      again: {{ ref: product, connection: shop, key: $.expected }}
    to: {{ file: {{ path: erp-lines.ndjson }} }}
"#,
            url = shop.url
        ),
    );
    w.write("products.csv", "ref\nA1\nA2\n");
    w.write("lines.ndjson", "");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    let id_of = |reference: &str| {
        shop.records("product")
            .iter()
            .find(|p| p["reference"] == reference)
            .unwrap()["id"]
            .to_string()
            .trim_matches('"')
            .to_string()
    };
    let (a1, a2) = (id_of("A1"), id_of("A2"));
    w.write(
        "lines.ndjson",
        format!(
            "{{\"order\":\"W1\",\"shop_product\":\"{a2}\",\"expected\":\"A2\"}}\n{{\"order\":\"W2\",\"shop_product\":\"{a1}\",\"expected\":\"A1\"}}\n{{\"order\":\"W3\",\"shop_product\":\"999\",\"expected\":\"A1\"}}\n"
        ),
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(
        w.ndjson("erp-lines.ndjson"),
        vec![
            json!({"order": "W1", "code": "A2", "again": a2}),
            json!({"order": "W2", "code": "A1", "again": a1}),
        ]
    );
    let reasons = job(&report, "lines")["reasons"].to_string();
    assert!(
        reasons.contains("the product `999` on `shop` is not one syncline wrote or linked"),
        "{reasons}"
    );
}

#[test]
fn a_quarantined_record_that_later_goes_through_leaves_the_open_list() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write("p.yaml", with_categories(&shop, "quarantine"));
    w.write("families.csv", "code,name\nF1,Chairs\n");
    w.write("products.csv", "ref,family\nA1,F1\nA3,F9\n");
    assert_eq!(w.run("p.yaml", &[]).0, 3);
    let list = |extra: &[&str]| {
        let mut args = vec!["state", "quarantine", "list", "p.yaml"];
        args.extend_from_slice(extra);
        String::from_utf8_lossy(&w.syncline(&args).stdout).to_string()
    };
    assert!(list(&[]).contains("A3"), "{}", list(&[]));
    // F9 arrives: A3 is created, and its entry is history, not open.
    w.write("families.csv", "code,name\nF1,Chairs\nF9,Lamps\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(shop.records("product").len(), 2);
    assert_eq!(list(&[]), "", "nothing open");
    let settled = list(&["--settled"]);
    assert!(
        settled.contains("A3") && settled.contains("has no id on `shop` yet"),
        "{settled}"
    );
}

#[test]
fn deferred_references_are_retried_by_the_next_run() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write("p.yaml", with_categories(&shop, "defer"));
    w.write("families.csv", "code,name\nF1,Chairs\n");
    w.write("products.csv", "ref,family\nA1,F1\nA3,F9\n");
    let (code, report) = w.run("p.yaml", &["--quarantine", "rejected.ndjson"]);
    assert_eq!(code, 0, "a deferred record is not an error: {report:#}");
    assert_eq!(job(&report, "products")["deferred"], 1);
    assert_eq!(shop.records("product").len(), 1);
    assert_eq!(w.read("rejected.ndjson"), "", "deferred, not rejected");
    // Still waiting: replayed and read again from the file, it is one deferral.
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(job(&report, "products")["deferred"], 1, "{report:#}");
    // F9 arrives; the product waiting for it goes through, once.
    w.write("families.csv", "code,name\nF1,Chairs\nF9,Lamps\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(job(&report, "products")["deferred"], 0);
    assert_eq!(shop.records("product").len(), 2);
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "released"
    );
}

#[test]
fn quarantined_records_are_listed_shown_replayed_and_dropped() {
    let shop = Shop::start();
    let with_status = pipeline(&shop, "").replace(
        "    map:\n",
        "    steps:\n      - lookup: { table: states, from: $.state, into: active }\n    map:\n",
    ).replace("jobs:\n", "tables:\n  states: { map: { \"1\": \"1\" }, unmapped: reject }\njobs:\n")
        .replace("      ean13: $.ean\n", "      ean13: $.ean\n      active: $.active\n");
    let csv = "ref,name,price,ean,state\nA1,Chair,10,1,1\nA2,Table,-5,2,1\nA3,Lamp,25,3,9\n";
    let w = workdir(&with_status, csv);
    let (code, report) = run(&w);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(shop.records("product").len(), 1);
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("A3") && list.contains("unmapped"), "{list}");
    // The shop's own error body is in the reason.
    assert!(
        list.contains("A2") && list.contains("HTTP 400") && list.contains("is invalid"),
        "{list}"
    );
    assert!(!list.contains(SECRET));
    let a3 = list
        .lines()
        .find(|l| l.contains("A3"))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let out = w.syncline(&["state", "quarantine", "show", "p.yaml", &a3]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"Lamp\""));

    // The consultant adds the missing status; the replay starts at the lookup and sends it.
    w.write(
        "p.yaml",
        with_status.replace("{ \"1\": \"1\" }", "{ \"1\": \"1\", \"9\": \"0\" }"),
    );
    let out = w.syncline(&[
        "state",
        "quarantine",
        "replay",
        "p.yaml",
        "--job",
        "products",
        "--secrets",
        ".secrets",
        &a3,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lamp = shop
        .records("product")
        .into_iter()
        .find(|r| r["reference"] == "A3")
        .unwrap();
    assert_eq!(lamp["active"], "0");
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(list.lines().count(), 1, "only the table is left: {list}");

    let out = w.syncline(&["state", "quarantine", "drop", "p.yaml", "--job", "products"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 entries dropped"));
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[test]
fn a_quarantined_record_corrected_by_hand_is_sent_as_corrected() {
    let shop = Shop::start();
    let w = workdir(
        &pipeline(&shop, ""),
        "ref,name,price,ean\nA1,Chair,10,1\nA2,Table,-5,2\n",
    );
    let (code, report) = run(&w);
    assert_eq!(code, 3, "{report:#}");
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let a2 = list.split('\t').next().unwrap().to_string();
    assert!(list.contains("A2"), "{list}");
    let (code, text) = w.printed(&[
        "state",
        "quarantine",
        "edit",
        "p.yaml",
        &a2,
        "--set",
        "nonsense",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not FIELD=VALUE"), "{text}");
    let (code, text) = w.printed(&[
        "state",
        "quarantine",
        "edit",
        "p.yaml",
        &a2,
        "--set",
        "price=5.5",
        "--secrets",
        ".secrets",
    ]);
    assert_eq!(code, 0, "{text}");
    let table = shop
        .records("product")
        .into_iter()
        .find(|r| r["reference"] == "A2")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(table["price"], 5.5);
    assert_eq!(table["name"], "Table");
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[test]
fn an_exported_state_imported_elsewhere_makes_a_run_send_nothing() {
    let shop = Shop::start();
    let w = workdir(&pipeline(&shop, ""), CATALOG);
    run(&w);
    let out = w.syncline(&["state", "export", "p.yaml", "--out", "state.jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    let exported = w.read("state.jsonl");
    assert_eq!(exported.lines().count(), 3, "{exported}");
    assert!(exported.contains("\"kind\":\"link\""));

    let out = w.syncline(&[
        "state",
        "import",
        "p.yaml",
        "--state",
        "moved",
        "--from",
        "state.jsonl",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    shop.clear_writes();
    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets", "--state", "moved"]);
    assert_eq!(code, 0);
    assert_eq!(delivered(&report, "products")["unchanged"], 3);
    assert!(shop.writes().is_empty());
}

#[test]
fn a_cursor_reads_only_what_changed_since_the_checkpoint() {
    let shop = Shop::start();
    let p = pipeline(&shop, "").replace(
        "    map:\n",
        "    cursor: { field: $.updated, tie_breaker: $.ref }\n    map:\n",
    );
    let w = workdir(
        &p,
        "ref,name,price,ean,updated\nA1,Chair,10,1,2024-01-01 10:00:00\nA2,Table,99,2,2024-01-02 09:00:00\n",
    );
    let (_, report) = run(&w);
    assert_eq!(job(&report, "products")["read"], 2);
    let out = w.syncline(&["state", "checkpoints", "p.yaml"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("products: cursor \"2024-01-02 09:00:00\", key A2"),
        "{text}"
    );

    // A3 shares A2's time and sorts after it: read; A2 itself is not read again.
    w.write("products.csv", "ref,name,price,ean,updated\nA1,Chair,10,1,2024-01-01 10:00:00\nA2,Table,99,2,2024-01-02 09:00:00\nA3,Lamp,25,3,2024-01-02 09:00:00\n");
    shop.clear_writes();
    let (_, report) = run(&w);
    assert_eq!(job(&report, "products")["read"], 1, "{report:#}");
    assert_eq!(job(&report, "products")["before_checkpoint"], 2);
    assert_eq!(shop.writes().len(), 1);

    let out = w.syncline(&["state", "reset", "p.yaml", "--job", "products"]);
    assert_eq!(out.status.code(), Some(2), "a reset needs confirmation");
    let out = w.syncline(&["state", "reset", "p.yaml", "--job", "products", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    let (_, report) = run(&w);
    assert_eq!(job(&report, "products")["read"], 3);
    assert_eq!(delivered(&report, "products")["unchanged"], 3);
}

#[test]
fn a_cursor_may_be_the_greatest_of_several_fields_or_computed() {
    // Tryton's shape: a price written on the template changes the template's write_date
    // (null until it is first written), not the product's.
    let w = Workdir::new();
    let pipeline = |cursor: &str| {
        format!(
            "version: 1\nname: cursors\njobs:\n  items:\n    from: {{ file: {{ path: items.ndjson }} }}\n    cursor: {cursor}\n    map: {{ id: $.id }}\n    to: {{ file: {{ path: out.ndjson }} }}\n"
        )
    };
    let ids = |w: &Workdir| -> Vec<String> {
        w.ndjson("out.ndjson")
            .iter()
            .map(|r| r["id"].to_string())
            .collect()
    };
    w.write(
        "p.yaml",
        pipeline(r#"{ fields: [$.write_date, "$['template.'].write_date"], tie_breaker: $.id }"#),
    );
    let items = |template_2: &str| {
        format!(
            "{{\"id\":1,\"write_date\":\"2026-12-01 10:00:00.5\",\"template.\":{{\"write_date\":null}}}}\n{{\"id\":2,\"write_date\":\"2026-12-01 09:00:00\",\"template.\":{{\"write_date\":{template_2}}}}}\n"
        )
    };
    w.write("items.ndjson", items("null"));
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert_eq!(ids(&w), ["1", "2"]);
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert!(ids(&w).is_empty(), "nothing changed");
    w.write("items.ndjson", items("\"2026-12-02 08:00:00\""));
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert_eq!(ids(&w), ["2"], "its template changed");

    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(r#"{ expr: 'rec.day + " " + rec.time', tie_breaker: $.id }"#),
    );
    w.write(
        "items.ndjson",
        "{\"id\":1,\"day\":\"2026-12-01\",\"time\":\"10:00:00\"}\n",
    );
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    w.write("items.ndjson", "{\"id\":1,\"day\":\"2026-12-01\",\"time\":\"10:00:00\"}\n{\"id\":2,\"day\":\"2026-12-01\",\"time\":\"11:00:00\"}\n");
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert_eq!(ids(&w), ["2"]);
}

#[test]
fn an_import_file_gets_only_what_earlier_runs_did_not_write() {
    // Orders read again (a look-back, a date_upd moved by a status) are not exported twice.
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: export\njobs:\n  orders:\n    from: { file: { path: orders.ndjson } }\n    map: { order: $.id, total: $.total }\n    to: { file: { path: erp-import.ndjson, key: $.order, only_changed: true } }\n",
    );
    let orders = |second_total: u32| {
        format!("{{\"id\":\"W1\",\"total\":10}}\n{{\"id\":\"W2\",\"total\":{second_total}}}\n")
    };
    let exported = |w: &Workdir| -> Vec<String> {
        w.ndjson("erp-import.ndjson")
            .iter()
            .map(|r| r["order"].as_str().unwrap().to_string())
            .collect()
    };
    w.write("orders.ndjson", orders(20));
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert_eq!(exported(&w), ["W1", "W2"]);
    let (code, text) = w.printed(&["run", "p.yaml"]);
    assert_eq!(code, 0, "{text}");
    assert!(exported(&w).is_empty(), "nothing new");
    assert!(
        text.contains("orders: 2 read, 0 written, 2 unchanged"),
        "{text}"
    );
    w.write("orders.ndjson", orders(25));
    assert_eq!(w.run("p.yaml", &[]).0, 0);
    assert_eq!(exported(&w), ["W2"], "only the changed order");
}

#[test]
fn a_dry_run_reads_the_state_and_changes_nothing() {
    let shop = Shop::start();
    let w = workdir(&pipeline(&shop, ""), CATALOG);
    run(&w);
    shop.clear_writes();
    w.write(
        "products.csv",
        CATALOG.replace("Table,99", "Table,89.9") + "A4,Desk,150,3760000000042\n",
    );
    let plan = dry_run(&w);
    let summary = &plan["jobs"][0]["summary"];
    assert_eq!(
        (
            summary["create"].clone(),
            summary["update"].clone(),
            summary["unchanged"].clone()
        ),
        (json!(1), json!(1), json!(2)),
        "{plan:#}"
    );
    let update = plan["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update")
        .unwrap();
    assert_eq!(
        (
            update["key"].clone(),
            update["fields"]["price"]["to"].clone()
        ),
        (json!("A2"), json!(89.9))
    );
    let named: Vec<&String> = update["fields"].as_object().unwrap().keys().collect();
    assert_eq!(
        named,
        ["price"],
        "only what changed since the last write: {update}"
    );
    assert!(shop.writes().is_empty(), "a dry run sends nothing");
    // And it stored nothing: the real run still has the same work to do.
    let (_, report) = run(&w);
    assert_eq!(
        (
            delivered(&report, "products")["created"].clone(),
            delivered(&report, "products")["updated"].clone()
        ),
        (json!(1), json!(1))
    );
}

#[test]
fn a_record_rejected_on_every_run_is_quarantined_once() {
    let shop = Shop::start();
    let w = workdir(
        &pipeline(&shop, ""),
        "ref,name,price,ean\nA1,Chair,10,1\nA2,Table,-5,2\n",
    );
    for _ in 0..3 {
        assert_eq!(run(&w).0, 3);
    }
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[test]
fn a_look_back_window_reads_late_records_again_without_sending_them_twice() {
    let shop = Shop::start();
    let p = pipeline(&shop, "").replace(
        "    map:\n",
        "    cursor: { field: $.updated, tie_breaker: $.ref, lookback: 1h }\n    map:\n",
    );
    let first = "ref,name,price,ean,updated\nA0,Old,1,0,2024-01-02 08:00:00\nA1,Chair,10,1,2024-01-02 10:00:00\nA2,Table,99,2,2024-01-02 10:30:00\n";
    let w = workdir(&p, first);
    run(&w);
    // A3 comes late: its time is before the checkpoint (10:30), inside the window.
    w.write(
        "products.csv",
        format!("{first}A3,Lamp,25,3,2024-01-02 10:20:00\n"),
    );
    shop.clear_writes();
    let (_, report) = run(&w);
    assert_eq!(
        job(&report, "products")["before_checkpoint"],
        1,
        "only A0 is older than the window"
    );
    assert_eq!(delivered(&report, "products")["unchanged"], 2);
    assert_eq!(delivered(&report, "products")["created"], 1);
    assert_eq!(shop.writes().len(), 1);
}

#[test]
fn the_shop_api_example_runs_and_a_second_run_sends_nothing() {
    let shop = Shop::start();
    let state = tempfile::tempdir().unwrap();
    let run = || {
        let out = assert_cmd::Command::from_std(common::syncline())
            .args([
                "run",
                "examples/shop-api/shop-api.yaml",
                "--format",
                "json",
                "--state",
            ])
            .arg(state.path())
            .env("SHOP_URL", &shop.url)
            .env("SHOP_API_KEY", SECRET)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let (code, report) = run();
    assert_eq!(code, Some(0), "{report:#}");
    let categories = shop.records("category");
    let products = shop.records("product");
    assert!(!categories.is_empty() && !products.is_empty());
    let textile = categories.iter().find(|c| c["code"] == "TEXT").unwrap();
    let tshirt = products
        .iter()
        .find(|p| p["reference"] == "TSH-001")
        .unwrap();
    assert_eq!(tshirt["id_category_default"], textile["id"].to_string());
    shop.clear_writes();
    let (_, report) = run();
    assert!(shop.writes().is_empty(), "{report:#}");
}

#[test]
fn a_body_template_wraps_the_record() {
    let shop = Shop::start();
    let p = pipeline(&shop, "").replace(
        "create: { method: POST, path: /products }",
        "create: { method: POST, path: /products, body: { product: \"{record}\", source: \"erp-{reference}\" } }",
    );
    let w = workdir(&p, "ref,name,price,ean\nA1,Chair,10,1\n");
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let writes = shop.writes();
    assert_eq!(writes[0].body["product"]["reference"], "A1");
    assert_eq!(writes[0].body["source"], "erp-A1");
}

/// Keys in random order, enough of them for the run to read the ID map through its in-memory
/// index: the run's own creates are seen by later records with the same key, and a rerun
/// compares against the index.
#[test]
fn a_source_in_random_order_is_compared_through_the_index() {
    let shop = Shop::start();
    let rows = |price_of_7: &str| {
        let mut csv = String::from("ref,name,price,ean\n");
        for i in 0..4000u64 {
            let n = i * 7919 % 4000;
            let price = if n == 7 { price_of_7 } else { "10" };
            csv.push_str(&format!("P{n:05},Item {n},{price},\n"));
        }
        // A key seen again at the end, long after it was created.
        csv.push_str("P00003,Item 3 renamed,10,\n");
        csv
    };
    let w = workdir(&pipeline(&shop, ""), &rows("10"));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let delivered_first = delivered(&report, "products");
    assert_eq!(delivered_first["created"], 4000, "{delivered_first}");
    assert_eq!(delivered_first["updated"], 1, "{delivered_first}");
    assert_eq!(shop.records("product").len(), 4000);

    shop.clear_writes();
    w.write("products.csv", rows("12"));
    let (_, report) = run(&w);
    let delivered = delivered(&report, "products");
    // P00007's price, and P00003 twice (renamed back, then again).
    assert_eq!(delivered["created"], 0, "{delivered}");
    assert_eq!(delivered["updated"], 3, "{delivered}");
    assert_eq!(delivered["unchanged"], 3998, "{delivered}");
    assert_eq!(shop.records("product").len(), 4000);
}

/// Issue 17: `--out -` wrote a file named `-`; `schema --out -` prints.
#[test]
fn state_export_to_dash_prints_it() {
    let shop = Shop::start();
    let w = workdir(&pipeline(&shop, ""), CATALOG);
    run(&w);
    let out = w.syncline(&["state", "export", "p.yaml", "--out", "-"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!w.exists("-"), "no file named `-`");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 3, "{printed}");
    assert!(printed.contains("\"kind\":\"link\""), "{printed}");
}

#[cfg(unix)]
#[test]
fn a_damaged_state_is_told_from_one_in_use_named_and_how_to_restore_it_said() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        "version: 1\nname: st\njobs:\n  j:\n    from: { file: { path: in.csv } }\n    to: { file: { path: out.ndjson } }\n",
    );
    let links: String = (0..2000)
        .map(|i| {
            format!(
                "{}\n",
                json!({"kind": "link", "ns": {"pipeline": "st", "connection": "shop", "entity": "product"}, "key": format!("K{i:05}"), "target_id": i.to_string(), "synced_at": 1_700_000_000})
            )
        })
        .collect();
    w.write("links.jsonl", links);
    let (code, text) = w.printed(&["state", "import", "p.yaml", "--from", "links.jsonl"]);
    assert_eq!(code, 0, "{text}");
    let state = w.path(".syncline/state");
    std::fs::copy(state.join("conf"), w.path("conf.good")).unwrap();
    std::fs::copy(state.join("db"), w.path("db.good")).unwrap();

    // In use: a run that waits on its source (a named pipe) holds the state. The pipe opens
    // for writing once the run has opened it to read, after the state.
    w.mkfifo("in.csv");
    let mut first = w.spawn_run("p.yaml");
    let started = std::time::Instant::now();
    let mut source = loop {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(w.path("in.csv"))
        {
            Ok(pipe) => break pipe,
            Err(e) => assert!(started.elapsed().as_secs() < 10, "{e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (code, text) = w.printed(&["state", "checkpoints", "p.yaml"]);
    std::io::Write::write_all(&mut source, b"ref\nA1\n").unwrap();
    drop(source);
    assert!(first.wait().unwrap().success());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("in use by another syncline process") && !text.contains("damaged"),
        "{text}"
    );
    std::fs::remove_file(w.path("in.csv")).unwrap();
    w.write("in.csv", "ref\nA1\n");

    // Damaged: its settings overwritten, then its log cut short.
    let damages: [(&str, &dyn Fn()); 2] = [
        ("conf", &|| {
            std::fs::write(state.join("conf"), [0xAB; 64]).unwrap()
        }),
        ("db", &|| {
            let db = std::fs::OpenOptions::new()
                .write(true)
                .open(state.join("db"))
                .unwrap();
            db.set_len(1000).unwrap();
        }),
    ];
    for (file, damage) in damages {
        std::fs::copy(w.path("conf.good"), state.join("conf")).unwrap();
        std::fs::copy(w.path("db.good"), state.join("db")).unwrap();
        damage();
        let (code, text) = w.printed(&["run", "p.yaml"]);
        assert_eq!(code, 1, "{file}: {text}");
        let named = state.join(file).display().to_string();
        assert!(
            text.contains("is damaged") && text.contains(&named),
            "{file}: {text}"
        );
        assert!(text.contains("syncline state import"), "{file}: {text}");
        assert!(!text.contains("another syncline process"), "{file}: {text}");
    }
}
