//! `validate` on a realistic 50-job pipeline: load (YAML, overlays, interpolation, typed model)
//! and every semantic check, rhai compilation included. Goal: under 50 ms.

use syncline::check::validate::validate_str;
use syncline::config::secrets::Secrets;

fn main() {
    // The 50-job file, for timing the whole process too (see BENCHMARKS.md).
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/validate-50-jobs.yaml"),
        pipeline(50),
    );
    divan::main();
}

/// A pipeline with `jobs` jobs, each with a SQL source, a cursor, a filter, a lookup, a script,
/// a 10-field map and an HTTP target, chained by `needs` in groups.
pub fn pipeline(jobs: usize) -> String {
    let mut text = String::from(
        "version: 1\nname: bench\nvars: { warehouse: \"1\" }\nconnections:\n  erp: { sql: { url: \"sqlite://erp.db\" } }\n  shop:\n    http:\n      base_url: \"http://127.0.0.1:8080/api\"\n      rate_limit: 5/s\n      retry: { attempts: 6, backoff: 1s..60s, on: [429, 5xx, timeout] }\ntables:\n  states:\n    map: { \"2\": order, \"3\": order, \"4\": delivery_note, \"6\": cancelled }\n  states_back:\n    inverse_of: states\n    prefer: { order: \"2\" }\njobs:\n",
    );
    for i in 0..jobs {
        let needs = if i % 5 == 0 {
            String::new()
        } else {
            format!("    needs: [job{}]\n", i - 1)
        };
        text.push_str(&format!(
            r#"  job{i}:
{needs}    schedule: "{m} * * * *"
    from:
      sql:
        connection: erp
        query: "SELECT * FROM F_ARTICLE WHERE cbModification > :cursor"
    cursor: {{ field: $.cbModification, tie_breaker: $.AR_Ref, lookback: 5m }}
    steps:
      - filter: rec.AR_Sommeil == 0 && rec.AR_PrixVen > 0.0
      - lookup: {{ table: states, from: $.state, into: doc }}
      - script: |
          if rec.AR_Poids == () {{ rec.AR_Poids = 0.0; }}
          rec.label = rec.AR_Design.to_upper();
    map:
      reference: $.AR_Ref
      name: {{ path: $.AR_Design, transform: [trim] }}
      price: {{ path: $.AR_PrixVen, as: decimal, scale: 6 }}
      weight: {{ path: $.AR_Poids, as: decimal, scale: 3 }}
      ean13: {{ path: $.AR_CodeBarre, default: "" }}
      family: $.FA_CodeFamille
      unit: $['AR_UniteVen']
      stock: {{ path: "$.stock[0].qty", as: integer }}
      active: "1"
      label: {{ expr: "rec.label + \" \" + rec.AR_Ref" }}
    to:
      http:
        connection: shop
        entity: product{i}
        key: $.reference
        create: {{ method: POST, path: /products }}
        update: {{ method: PUT, path: "/products/{{target_id}}" }}
        id: $.product.id
"#,
            m = i % 60,
        ));
    }
    text
}

#[divan::bench(args = [1, 10, 50])]
fn validate_pipeline(bencher: divan::Bencher, jobs: usize) {
    let text = pipeline(jobs);
    let secrets = Secrets::default();
    let check = validate_str("bench.yaml", &text, &secrets);
    assert_eq!(check.errors(), 0, "{:?}", check.diagnostics);
    bencher.bench(|| validate_str("bench.yaml", divan::black_box(&text), &secrets));
}
