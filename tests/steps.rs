//! Every step kind, run for real: records in, records out, rejections with their reasons.

mod common;

use common::{Workdir, job};
use serde_json::{Value, json};

/// Runs one job over `input` with the given `tables`, `steps` and final `map` (YAML snippets).
fn run(tables: &str, steps: &str, map: &str, input: &[Value]) -> (i32, Value, Vec<Value>) {
    let w = Workdir::new();
    let lines: String = input.iter().map(|r| format!("{r}\n")).collect();
    w.write("in.ndjson", lines);
    let map = if map.is_empty() {
        String::new()
    } else {
        format!("    map:\n{map}")
    };
    let pipeline = format!(
        "version: 1\nname: t\nvars: {{ country: FR }}\ntables:\n{tables}\njobs:\n  j:\n    from: {{ file: {{ path: in.ndjson }} }}\n    steps:\n{steps}\n{map}    to: {{ file: {{ path: out.ndjson, key: $.id }} }}\n",
        tables = if tables.is_empty() {
            "  unused: { map: {} }"
        } else {
            tables
        },
        steps = if steps.is_empty() { "      []" } else { steps },
    );
    w.write("p.yaml", &pipeline);
    let (code, report) = w.run("p.yaml", &[]);
    let out = if w.exists("out.ndjson") {
        w.ndjson("out.ndjson")
    } else {
        Vec::new()
    };
    (code, job(&report, "j").clone(), out)
}

#[test]
fn map_paths_constants_conversions_and_transforms() {
    let input = [json!({
        "id": 1, "ref": " ab-1 ", "price": "294.378850", "fr_price": "12,5", "qty": "12", "dormant": "0",
        "active": 1, "date": "05/12/2025", "at": "2025-12-05 09:47:44", "name": "Café Noir 250g",
        "lines": [{"sku": "X"}, {"sku": "Y"}], "attrs": {"color": "natural"}
    })];
    let map = r#"      id: $.id
      reference: { path: $.ref, transform: [trim, upper] }
      price: { path: $.price, as: decimal, scale: 2 }
      price_text: { path: $.price, as: decimal, scale: 6, format: string }
      fr_price: { path: $.fr_price, as: decimal, scale: 2 }
      quantity: { path: $.qty, as: integer }
      dormant: { path: $.dormant, as: boolean }
      active: { path: $.active, as: boolean, format: "0/1" }
      day: { path: $.date, as: date, input_format: "%d/%m/%Y" }
      at: { path: $.at, as: datetime, format: "%d/%m/%Y %H:%M" }
      slug: { path: $.name, transform: [slug] }
      first_sku: $.lines[0].sku
      last_sku: "$.lines[-1].sku"
      color: $.attrs.color
      skus: { expr: "rec.lines.map(|l| l.sku)" }
      label: { template: "{ref}/{attrs.color}" }
      country: "${vars.country}"
      missing: $.nothing
      fallback: { path: $.nothing, default: n/a }
      fixed: 20
      flag: true
"#;
    let (code, report, out) = run("", "", map, &input);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        out[0],
        json!({
            "id": 1, "reference": "AB-1", "price": 294.38, "price_text": "294.378850", "fr_price": 12.5,
            "quantity": 12, "dormant": false, "active": "1", "day": "2025-12-05", "at": "05/12/2025 09:47",
            "slug": "cafe-noir-250g", "first_sku": "X", "last_sku": "Y", "color": "natural",
            "skus": ["X", "Y"], "label": " ab-1 /natural", "country": "FR", "missing": null,
            "fallback": "n/a", "fixed": 20, "flag": true
        })
    );
}

#[test]
fn decimals_round_half_away_from_zero() {
    let input: Vec<Value> = ["1.005", "2.675", "-1.005", "0.125", "1e2", "7"]
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": i, "p": p}))
        .collect();
    let (_, _, out) = run(
        "",
        "",
        "      id: $.id\n      p: { path: $.p, as: decimal, scale: 2 }\n",
        &input,
    );
    let prices: Vec<&Value> = out.iter().map(|r| &r["p"]).collect();
    assert_eq!(
        prices,
        [
            &json!(1.01),
            &json!(2.68),
            &json!(-1.01),
            &json!(0.13),
            &json!(100),
            &json!(7)
        ]
    );
}

#[test]
fn filters_native_and_rhai_agree_with_rhai_semantics() {
    let input = [
        json!({"id": 1, "status": "active", "stock": 5, "price": 1.5}),
        json!({"id": 2, "status": "dormant", "stock": 0, "price": 3}),
        json!({"id": 3, "status": "active", "stock": "7"}),
        json!({"id": 4, "stock": 2}),
    ];
    let cases = [
        (r#"rec.status == "active""#, vec![1, 3]),
        (r#"rec.status != "active""#, vec![2, 4]),
        ("rec.stock > 0", vec![1, 4]),
        ("rec.stock >= 0 && rec.price < 2", vec![1]),
        ("rec.stock == 5", vec![1]),
        ("rec.price == 3", vec![2]),
        (r#"rec.status == "active" || rec.stock == 2"#, vec![1, 3, 4]),
        ("rec.stock > 0 && rec.id in [1, 2, 3]", vec![1]),
    ];
    for (filter, expected) in cases {
        // Wrapped in parentheses, the same filter runs in rhai instead of the native fast path:
        // both must keep the same records.
        for filter in [filter.to_string(), format!("({filter})")] {
            let steps = format!("      - filter: '{filter}'\n");
            let (code, report, out) = run("", &steps, "", &input);
            assert_eq!(code, 0, "{filter}: {report}");
            let ids: Vec<i64> = out.iter().map(|r| r["id"].as_i64().unwrap()).collect();
            assert_eq!(ids, expected, "{filter}");
            assert_eq!(report["filtered"], (4 - expected.len()) as u64, "{filter}");
        }
    }
}

#[test]
fn lookups_strict_lenient_default_and_inverse() {
    let tables = r#"  states:
    map: { "2": order, "3": order, "4": delivery_note }
  states_lenient:
    map: { "2": order }
    unmapped: keep
  states_default:
    map: { "2": order }
    unmapped: { default: other }
  back:
    inverse_of: states
    prefer: { order: "3" }
"#;
    let input = [
        json!({"id": 1, "s": "2"}),
        json!({"id": 2, "s": 4}),
        json!({"id": 3, "s": "9"}),
    ];
    let steps = r#"      - lookup: { table: states_lenient, from: $.s, into: lenient }
      - lookup: { table: states_default, from: $.s, into: defaulted }
      - lookup: { table: states, from: $.s, into: doc }
      - lookup: { table: back, from: $.doc, into: back }
"#;
    let (code, report, out) = run(tables, steps, "", &input);
    assert_eq!(
        code, 3,
        "an unmapped value quarantines its record: {report}"
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["lenient"], "order");
    assert_eq!(out[0]["defaulted"], "order");
    assert_eq!(out[0]["doc"], "order");
    assert_eq!(out[0]["back"], "3", "`prefer` settles the inverse");
    assert_eq!(out[1]["lenient"], 4, "`keep` passes the value unchanged");
    assert_eq!(out[1]["defaulted"], "other");
    assert_eq!(out[1]["back"], "4");
    assert_eq!(report["rejected"], 1);
    assert_eq!(
        report["reasons"][0]["reason"],
        "unmapped value `9` in the table `states`"
    );
    assert_eq!(
        report["reasons"][0]["examples"][0], "3",
        "the record's key names it"
    );
}

#[test]
fn split_and_group_keep_parents_and_gather_lines() {
    let input = [
        json!({"id": "A", "customer": "c1", "rows": [{"sku": "X", "qty": 1}, {"sku": "Y", "qty": 2}]}),
        json!({"id": "B", "customer": "c2", "rows": [{"sku": "Z", "qty": 3}]}),
        json!({"id": "C", "customer": "c3", "rows": []}),
    ];
    let steps = "      - split: { path: $.rows, as: row }\n";
    let map = "      id: { template: \"{id}-{row.sku}\" }\n      order: $.id\n      customer: $.customer\n      qty: $.row.qty\n";
    let (code, _, out) = run("", steps, map, &input);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 3, "an empty list gives no lines");
    assert_eq!(
        out[1],
        json!({"id": "A-Y", "order": "A", "customer": "c1", "qty": 2})
    );

    let lines = [
        json!({"id": "A", "sku": "X"}),
        json!({"id": "A", "sku": "Y"}),
        json!({"id": "B", "sku": "Z"}),
    ];
    let steps = "      - group: { by: $.id, into: lines }\n";
    let (code, _, out) = run(
        "",
        steps,
        "      id: $.id\n      skus: { expr: \"rec.lines.map(|l| l.sku)\" }\n",
        &lines,
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        [
            json!({"id": "A", "skus": ["X", "Y"]}),
            json!({"id": "B", "skus": ["Z"]})
        ]
    );
}

#[test]
fn scripts_change_the_record_and_errors_quarantine_it() {
    let input = [
        json!({"id": 1, "w": null}),
        json!({"id": 2, "w": 2.5}),
        json!({"id": 3, "w": "x"}),
        json!({"id": 4, "w": 1}),
    ];
    let steps = r#"      - script: |
          if rec.w == () { rec.w = 0.0; }
          if rec.id == 3 { throw "weight is not a number"; }
          if rec.id == 4 { loop { } }
          rec.heavy = rec.w > 2.0;
"#;
    let (code, report, out) = run("", steps, "", &input);
    assert_eq!(code, 3);
    assert_eq!(
        out,
        [
            json!({"id": 1, "w": 0.0, "heavy": false}),
            json!({"id": 2, "w": 2.5, "heavy": true})
        ]
    );
    let reasons: Vec<String> = report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("weight is not a number")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("exceeded its limit")),
        "{reasons:?}"
    );
}

#[test]
fn a_field_named_by_a_path_is_put_in_place() {
    // PrestaShop's product lists its categories under `associations`.
    let input = [json!({"id": 1, "family": 7, "second": 9})];
    let (code, _, out) = run(
        "",
        "",
        "      id: $.id\n      \"associations.categories[0].id\": $.family\n      \"associations.categories[1].id\": $.second\n      associations.note: { const: kept }\n",
        &input,
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        [json!({"id": 1, "associations": {"categories": [{"id": 7}, {"id": 9}], "note": "kept"}})]
    );
}
