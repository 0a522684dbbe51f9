//! `syncline dry-run`: reads the sources for real, writes nothing, and plans every change.

mod common;

use common::Workdir;

const PIPELINE: &str = r#"version: 1
name: dry
tables:
  states: { map: { A: published, R: out_of_stock } }
jobs:
  products:
    from: { file: { path: erp.csv } }
    steps:
      - lookup: { table: states, from: $.status, into: state }
    map:
      reference: $.ref
      price: { path: $.price, as: decimal, scale: 2 }
      state: $.state
    to: { file: { path: shop.csv, key: $.reference } }
"#;

fn setup() -> Workdir {
    let w = Workdir::new();
    w.write("p.yaml", PIPELINE);
    w.write(
        "erp.csv",
        "ref,price,status\nA1,10.00,A\nB2,12.50,A\nC3,7,R\nD4,3,Z\n",
    );
    // What the shop holds now: B2 has an old price, E5 is gone from the ERP, C3 is new.
    w.write(
        "shop.csv",
        "reference,price,state\nA1,10,published\nB2,11.9,published\nE5,1,published\n",
    );
    w
}

#[test]
fn the_plan_shows_creates_updates_removals_and_rejects_and_nothing_is_written() {
    let w = setup();
    let before = w.read("shop.csv");
    let out = w.syncline(&["dry-run", "p.yaml", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(3), "a record would be rejected");
    insta::assert_snapshot!("dry_run_human", String::from_utf8_lossy(&out.stdout));
    let plan: serde_json::Value = serde_json::from_str(&w.read("plan.json")).unwrap();
    insta::assert_json_snapshot!("dry_run_plan", plan, {
        ".jobs[].target" => "[target]",
        ".pipeline_hash" => "[hash]",
    });
    assert_eq!(w.read("shop.csv"), before, "the target is untouched");
    let names: Vec<String> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_target_that_does_not_exist_yet_gets_only_creates() {
    let w = setup();
    std::fs::remove_file(w.path("shop.csv")).unwrap();
    let out = w.syncline(&["dry-run", "p.yaml", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["jobs"][0]["summary"]["create"], 3);
    assert!(!w.exists("shop.csv"));
}
