//! `syncline apply PLAN`: a plan saved by `dry-run --out` is written exactly, not what the
//! sources hold by then; a change whose target (or state) moved since is refused and reported,
//! and not written; `--only` applies a subset; applying again writes nothing new. Against the
//! shop double on loopback, and a CSV file target.

mod common;

use common::shop::{PRODUCT_TARGET, RESOLVE_BY_REFERENCE, Recorded, Shop};
use common::{Workdir, delivered};
use serde_json::{Value, json};

const SECRET: &str = "ps-key-0123456789";

/// The shop's current product read before each update: a dry run's `from` values are the
/// shop's, and apply reads them again.
const READ_BEFORE_UPDATE: &str = r#"
        read_before_update: { request: { path: "/products/{target_id}" }, record: $.product }"#;

fn pipeline(shop: &Shop, extra_target: &str) -> String {
    format!(
        r#"version: 1
name: shop-apply
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
{PRODUCT_TARGET}{extra_target}
"#,
        url = shop.url
    )
}

const CATALOG: &str = "ref,name,price\nA1,Chair,10.5\nA2,Table,99\nA3,Lamp,25\n";
/// What the ERP holds when the plan is made: A2's price and A3's changed, A4 is new.
const PLANNED: &str = "ref,name,price\nA1,Chair,10.5\nA2,Table,89.9\nA3,Lamp,30\nA4,Desk,150\n";

/// A shop that received CATALOG from a run, and a plan made from PLANNED.
fn planned(extra_target: &str) -> (Shop, Workdir, Value) {
    planned_on(Shop::start(), extra_target)
}

fn planned_on(shop: Shop, extra_target: &str) -> (Shop, Workdir, Value) {
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&shop, extra_target));
    w.write(".secrets", format!("PS_KEY={SECRET}\n"));
    w.write("products.csv", CATALOG);
    w.run_ok();
    shop.clear_writes();
    w.write("products.csv", PLANNED);
    let out = w.syncline(&[
        "dry-run",
        "p.yaml",
        "--secrets",
        ".secrets",
        "--out",
        "plan.json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_str(&w.read("plan.json")).unwrap();
    assert!(shop.writes().is_empty(), "a dry run writes nothing");
    (shop, w, plan)
}

/// `syncline apply plan.json ARGS --format json`: the exit code and the report.
fn apply(w: &Workdir, args: &[&str]) -> (i32, Value) {
    let mut all = vec![
        "apply",
        "plan.json",
        "--secrets",
        ".secrets",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = w.syncline(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(SECRET), "{text}");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no report: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The outcome of each change, by key: `applied`, `refused`...
fn outcomes(report: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = report["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let key = c["key"].as_str().unwrap().to_string();
            (key, c["outcome"].as_str().unwrap().to_string())
        })
        .collect();
    all.sort();
    all
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, o)| (k.to_string(), o.to_string()))
        .collect()
}

/// Each write the shop received: method, reference and price.
fn written(shop: &Shop) -> Vec<(String, Value, Value)> {
    shop.writes()
        .into_iter()
        .map(|Recorded { method, body, .. }| {
            (method, body["reference"].clone(), body["price"].clone())
        })
        .collect()
}

fn price_on_shop(shop: &Shop, reference: &str) -> Value {
    shop.records("product")
        .into_iter()
        .find(|r| r["reference"] == reference)
        .map(|r| r["price"].clone())
        .unwrap_or(Value::Null)
}

/// Sets a field of a product on the shop, as its manager would in the back office.
fn edit_on_shop(shop: &Shop, reference: &str, field: &str, value: Value) {
    let mut s = shop.state.lock().unwrap();
    let product = s
        .records
        .get_mut("product")
        .and_then(|m| m.values_mut().find(|r| r["reference"] == reference))
        .unwrap();
    product[field] = value;
}

#[test]
fn exactly_the_planned_changes_are_written_whatever_the_source_holds_by_then() {
    let (shop, w, plan) = planned(READ_BEFORE_UPDATE);
    let changes = plan["jobs"][0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{plan:#}");
    assert!(plan["pipeline_hash"].is_string() && plan["pipeline_file"] == "p.yaml");
    // The ERP moves on after the review: none of this may reach the shop through the plan.
    w.write(
        "products.csv",
        "ref,name,price\nA1,Chair,11\nA2,Table,79\nA3,Lamp,30\nA4,Desk,150\nA5,Shelf,40\n",
    );

    let (code, report) = apply(&w, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[("A2", "applied"), ("A3", "applied"), ("A4", "applied")])
    );
    let mut writes = written(&shop);
    writes.sort_by_key(|(_, reference, _)| reference.to_string());
    assert_eq!(
        writes,
        [
            ("PUT".to_string(), json!("A2"), json!(89.9)),
            ("PUT".to_string(), json!("A3"), json!(30)),
            ("POST".to_string(), json!("A4"), json!(150)),
        ]
    );
    let a4 = report["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "A4")
        .unwrap();
    assert!(
        a4["target_id"].is_string(),
        "the created id is reported: {a4}"
    );

    // The ID map and fingerprints are kept as a run keeps them: with the source as planned,
    // the next run finds every record unchanged.
    shop.clear_writes();
    w.write("products.csv", PLANNED);
    let report = w.run_ok();
    assert_eq!(delivered(&report, "products")["unchanged"], 4, "{report:#}");
    assert!(shop.writes().is_empty(), "{:?}", shop.writes());

    // Applying the same plan again writes nothing new.
    let (code, report) = apply(&w, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("A2", "already_applied"),
            ("A3", "already_applied"),
            ("A4", "already_applied")
        ])
    );
    assert!(shop.writes().is_empty(), "{:?}", shop.writes());
}

#[test]
fn a_change_whose_target_moved_is_refused_and_reported_and_the_others_are_written() {
    let (shop, w, _) = planned(READ_BEFORE_UPDATE);
    // The shop manager changes the lamp's price after the review.
    edit_on_shop(&shop, "A3", "price", json!(27));

    let (code, report) = apply(&w, &[]);
    assert_eq!(code, 3, "some changes were refused: {report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[("A2", "applied"), ("A3", "refused"), ("A4", "applied")])
    );
    let a3 = report["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "A3")
        .unwrap();
    let reason = a3["reason"].as_str().unwrap();
    assert!(
        reason.contains("`price` is 27 now, was") && reason.contains("nothing was overwritten"),
        "{reason}"
    );
    assert!(
        written(&shop)
            .iter()
            .all(|(_, reference, _)| reference != "A3"),
        "{:?}",
        shop.writes()
    );
    assert_eq!(written(&shop).len(), 2);
    assert_eq!(
        price_on_shop(&shop, "A3"),
        json!(27),
        "the manager's price stays"
    );

    // For people: the counts, and the refused change with its reason.
    let out = w.syncline(&["apply", "plan.json", "--secrets", ".secrets"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("0 applied, 2 already applied, 1 refused")
            && text.contains("! A3 (update): refused: the target changed since the plan was made: `price` is 27 now"),
        "{text}"
    );
}

#[test]
fn only_applies_the_changes_of_the_keys_named() {
    let (shop, w, _) = planned(READ_BEFORE_UPDATE);
    let (code, report) = apply(&w, &["--only", "A4", "A2"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[("A2", "applied"), ("A4", "applied")])
    );
    let mut writes = written(&shop);
    writes.sort_by_key(|(_, reference, _)| reference.to_string());
    assert_eq!(
        writes,
        [
            ("PUT".to_string(), json!("A2"), json!(89.9)),
            ("POST".to_string(), json!("A4"), json!(150)),
        ]
    );
    assert_eq!(price_on_shop(&shop, "A3"), json!(25), "A3 waits");

    // Then the rest: only A3 is new.
    shop.clear_writes();
    let (code, report) = apply(&w, &["--job", "products"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("A2", "already_applied"),
            ("A3", "applied"),
            ("A4", "already_applied")
        ])
    );
    assert_eq!(
        written(&shop),
        [("PUT".to_string(), json!("A3"), json!(30))]
    );

    // A key the plan has no change for is refused whole: nothing is applied.
    shop.clear_writes();
    let (code, text) = w.printed(&[
        "apply",
        "plan.json",
        "--secrets",
        ".secrets",
        "--only",
        "A3",
        "Z9",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no change to apply for `Z9`"), "{text}");
    let (code, text) = w.printed(&[
        "apply",
        "plan.json",
        "--secrets",
        ".secrets",
        "--job",
        "orders",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("the plan has no job `orders`"), "{text}");
    assert!(shop.writes().is_empty());
}

#[test]
fn a_plan_whose_pipeline_changed_since_is_refused_whole() {
    let (shop, w, _) = planned(READ_BEFORE_UPDATE);
    w.write(
        "p.yaml",
        pipeline(&shop, READ_BEFORE_UPDATE) + "# reviewed later\n",
    );
    let (code, text) = w.printed(&["apply", "plan.json", "--secrets", ".secrets"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("the pipeline changed since the plan was made"),
        "{text}"
    );
    assert!(shop.writes().is_empty());

    w.write("old.json", r#"{"pipeline": "shop-apply", "jobs": []}"#);
    let (code, text) = w.printed(&["apply", "old.json"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("make it again"), "{text}");
    w.write("bad.json", "[1, 2]");
    let (code, text) = w.printed(&["apply", "bad.json"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a plan saved by"), "{text}");
}

#[test]
fn without_a_readable_target_a_change_the_state_moved_since_is_refused() {
    // No `read_before_update`: the plan's base is the ID map's fingerprint of what was sent.
    let (shop, w, plan) = planned("");
    let a2 = plan["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "A2")
        .unwrap();
    assert_eq!(a2["base"]["read"], false, "{a2}");
    assert_eq!(a2["fields"]["price"], json!({"to": 89.9}));
    // A run writes other versions of A2 and A4 before the plan is applied.
    w.write(
        "products.csv",
        "ref,name,price\nA1,Chair,10.5\nA2,Table,79\nA3,Lamp,25\nA4,Desk,120\n",
    );
    w.run_ok();
    shop.clear_writes();

    let (code, report) = apply(&w, &[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[("A2", "refused"), ("A3", "applied"), ("A4", "refused")])
    );
    let reasons: Vec<&str> = report["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("wrote another version of it since")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the ID map links it to target id")),
        "{reasons:?}"
    );
    assert_eq!(
        written(&shop),
        [("PUT".to_string(), json!("A3"), json!(30))]
    );
    assert_eq!(price_on_shop(&shop, "A2"), json!(79));
}

#[test]
fn a_create_the_target_has_since_is_refused() {
    let (shop, w, _) = planned(RESOLVE_BY_REFERENCE);
    // Someone keys the desk in by hand after the review.
    shop.insert(
        "product",
        json!({"reference": "A4", "name": "Desk", "price": 140}),
    );
    let (code, report) = apply(&w, &["--only", "A4"]);
    assert_eq!(code, 3, "{report:#}");
    let reason = report["jobs"][0]["changes"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("the `resolve` rules find"), "{reason}");
    assert!(shop.writes().is_empty(), "{:?}", shop.writes());
}

#[test]
fn a_link_is_applied_to_the_record_the_resolve_rules_found() {
    let shop = Shop::start();
    // The desk is on the shop already, keyed in by hand; the plan links A4 to it.
    let desk = shop.insert(
        "product",
        json!({"reference": "A4", "name": "desk", "price": 140}),
    );
    let (shop, w, plan) = planned_on(shop, RESOLVE_BY_REFERENCE);
    let link = plan["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "link")
        .unwrap();
    assert_eq!(link["target_id"], desk.to_string(), "{plan:#}");
    let (code, report) = apply(&w, &["--only", "A4"]);
    assert_eq!(code, 0, "{report:#}");
    let writes = shop.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!((writes[0].method.as_str(), writes[0].id), ("PUT", desk));
    assert_eq!(writes[0].body["name"], "Desk");
    // Linked in the ID map: a run with the source as planned sends A4 nothing.
    shop.clear_writes();
    w.write(
        "products.csv",
        PLANNED.replace("A2,Table,89.9\nA3,Lamp,30", "A2,Table,99\nA3,Lamp,25"),
    );
    let report = w.run_ok();
    assert_eq!(delivered(&report, "products")["unchanged"], 4, "{report:#}");
}

/// The dry-run test's pipeline: a CSV file target with a key.
const FILE_PIPELINE: &str = r#"version: 1
name: file-apply
jobs:
  products:
    from: { file: { path: erp.csv } }
    map:
      reference: $.ref
      price: { path: $.price, as: decimal, scale: 2 }
    to: { file: { path: shop.csv, key: $.reference } }
"#;

#[test]
fn a_file_target_gets_the_planned_changes_by_key_and_a_moved_record_is_refused() {
    let w = Workdir::new();
    w.write("p.yaml", FILE_PIPELINE);
    w.write("erp.csv", "ref,price\nA1,10\nB2,12.5\nC3,7\nF6,4\n");
    w.write("shop.csv", "reference,price\nA1,10\nB2,11.9\nE5,1\nF6,3\n");
    let out = w.syncline(&["dry-run", "p.yaml", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(0));
    // The ERP moves on, and someone edits F6 in the shop's file.
    w.write("erp.csv", "ref,price\nA1,99\nB2,13\n");
    w.write(
        "shop.csv",
        "reference,price\nA1,10\nB2,11.9\nE5,1\nF6,3.5\n",
    );

    let out = w.syncline(&["apply", "plan.json", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("B2", "applied"),
            ("C3", "applied"),
            ("E5", "applied"),
            ("F6", "refused")
        ])
    );
    assert_eq!(
        w.read("shop.csv"),
        "reference,price\nA1,10\nB2,12.5\nF6,3.5\nC3,7\n"
    );
    // Again: nothing new.
    let out = w.syncline(&["apply", "plan.json", "--only", "B2", "C3", "E5"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 applied, 3 already applied, 0 refused"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Runs SQL statements on the SQLite database `erp.db` of `w`; with `query`, the rows of the
/// last statement, each column as text.
fn sqlite(w: &Workdir, sql: &str, query: Option<&str>) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", w.path("erp.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        let Some(query) = query else {
            return Vec::new();
        };
        let rows = sqlx::query(query).fetch_all(&mut c).await.unwrap();
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    })
}

#[test]
fn a_sql_target_gets_the_planned_rows_and_a_row_changed_since_is_refused() {
    let w = Workdir::new();
    sqlite(
        &w,
        "CREATE TABLE t_p (ref VARCHAR(20) PRIMARY KEY, price NUMERIC(12,4), name VARCHAR(20))",
        None,
    );
    w.write(
        "p.yaml",
        "version: 1\nname: sql-apply\nconnections:\n  erp:\n    sql: { url: \"sqlite://erp.db\" }\n\
         jobs:\n  push:\n    from: { file: { path: rows.ndjson } }\n\
         \x20   to: { sql: { connection: erp, table: t_p, key: [ref] } }\n",
    );
    let rows = |p1: f64, p2: f64| {
        format!(
            "{{\"ref\": \"P1\", \"price\": {p1}, \"name\": \"a\"}}\n\
             {{\"ref\": \"P2\", \"price\": {p2}, \"name\": \"b\"}}\n"
        )
    };
    w.write("rows.ndjson", rows(10.0, 20.0));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    w.write("rows.ndjson", rows(12.5, 21.0));
    let out = w.syncline(&["dry-run", "p.yaml", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(0));
    // Someone renames P2 in the ERP's table; the source moves on.
    sqlite(&w, "UPDATE t_p SET name = 'c' WHERE ref = 'P2'", None);
    w.write("rows.ndjson", rows(99.0, 21.0));

    let out = w.syncline(&["apply", "plan.json", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    assert_eq!(
        outcomes(&report),
        pairs(&[("P1", "applied"), ("P2", "refused")])
    );
    let table = sqlite(
        &w,
        "SELECT 1",
        Some("SELECT ref, CAST(price AS TEXT), name FROM t_p ORDER BY ref"),
    );
    assert_eq!(table, [["P1", "12.5", "a"], ["P2", "20", "c"]]);
}
