//! A bad record is quarantined with its step, reason and key while the rest go on.

mod common;

use common::{Workdir, job};
use serde_json::json;

#[test]
fn bad_records_are_quarantined_with_their_reason_and_the_rest_go_on() {
    let w = Workdir::new();
    w.write(
        "in.ndjson",
        [
            r#"{"sku": "A", "state": "2", "price": "1.5"}"#,
            r#"{"sku": "B", "state": "9", "price": "2"}"#,
            r#"{"sku": "C", "state": "2"}"#,
            "this line is not JSON",
            r#"{"sku": "D", "state": "2", "price": "abc"}"#,
            r#"{"sku": "E", "state": "2", "price": "3", "boom": true}"#,
            r#"{"sku": "F", "state": "2", "price": "4", "spin": true}"#,
            r#"{"sku": "G", "state": "2", "price": "5"}"#,
        ]
        .join("\n"),
    );
    w.write(
        "p.yaml",
        r#"version: 1
name: q
tables:
  states: { map: { "2": paid } }
jobs:
  orders:
    from: { file: { path: in.ndjson } }
    steps:
      - id: status
        lookup: { table: states, from: $.state, into: status }
      - id: checks
        script: |
          if rec.boom == true { throw "boom"; }
          if rec.spin == true { loop {} }
    map:
      sku: $.sku
      status: $.status
      price: { path: $.price, as: decimal, scale: 2, required: true }
    to: { file: { path: out.ndjson, key: $.sku } }
"#,
    );
    let (code, report) = w.run("p.yaml", &["--quarantine", "rejected.ndjson"]);
    assert_eq!(code, 3, "records were quarantined: {report}");
    let orders = job(&report, "orders");
    assert_eq!(orders["status"], "succeeded");
    assert_eq!(orders["read"], 8);
    assert_eq!(orders["rejected"], 6);
    let written: Vec<String> = w
        .ndjson("out.ndjson")
        .iter()
        .map(|r| r["sku"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(written, ["A", "G"]);

    let rejected = w.ndjson("rejected.ndjson");
    let summary: Vec<(String, String, String)> = rejected
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["step"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let find = |key: &str| {
        summary
            .iter()
            .find(|(k, _, _)| k == key)
            .unwrap_or_else(|| panic!("{key} not in {summary:?}"))
    };
    assert_eq!(find("B").1, "status");
    assert!(find("B").2.contains("unmapped value `9`"));
    assert_eq!(find("C").1, "map.price");
    assert_eq!(find("C").2, "missing value at `$.price`");
    assert_eq!(find("line 4").1, "read");
    assert!(find("line 4").2.starts_with("line 4: invalid JSON"));
    assert_eq!(find("D").2, "`abc` is not a decimal");
    assert!(find("E").2.contains("boom"));
    assert!(find("F").2.contains("exceeded its limit"));
    // The record is kept as it was when rejected, for replay.
    let c = rejected.iter().find(|r| r["key"] == "C").unwrap();
    assert_eq!(
        c["record"],
        json!({"sku": "C", "state": "2", "status": "paid"})
    );
    assert_eq!(c["job"], "orders");
}

#[test]
fn rows_of_the_wrong_width_in_a_csv_are_quarantined() {
    let w = Workdir::new();
    w.write("in.csv", "ref,qty\nA,1\nB,2,extra\nC,3\n");
    w.write("p.yaml", "version: 1\nname: q\njobs:\n  j:\n    from: { file: { path: in.csv } }\n    to: { file: { path: out.ndjson } }\n");
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3);
    assert_eq!(
        job(&report, "j")["reasons"][0]["reason"],
        "line 3: 3 fields where the header has 2"
    );
    assert_eq!(w.ndjson("out.ndjson").len(), 2);
}

#[test]
fn records_without_a_key_are_each_quarantined_once() {
    let w = Workdir::new();
    w.write(
        "in.ndjson",
        "{\"state\": \"7\"}\n{\"state\": \"8\"}\n{\"state\": \"9\"}\n{\"state\": \"2\"}\n",
    );
    w.write(
        "p.yaml",
        "version: 1\nname: q\ntables:\n  states: { map: { \"2\": paid } }\njobs:\n  j:\n    from: { file: { path: in.ndjson } }\n    steps:\n      - lookup: { table: states, from: $.state, into: status }\n    to: { file: { path: out.ndjson } }\n",
    );
    for _ in 0..2 {
        let (code, report) = w.run("p.yaml", &[]);
        assert_eq!(code, 3, "{report:#}");
    }
    let out = w.syncline(&["state", "quarantine", "list", "p.yaml"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        list.lines().count(),
        3,
        "three different records, each kept once over two runs: {list}"
    );
}
