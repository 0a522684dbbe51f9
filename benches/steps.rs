//! The step chain in-process (no I/O): the quickstart-style mapping of a catalog record and the
//! split of an order into its lines, per record. Whole-process figures: benches/mapping/run.sh.

use std::sync::Arc;

use syncline::config::{load_str, secrets::Secrets};
use syncline::steps::{Chain, ChainCounts};

fn main() {
    divan::main();
}

const PIPELINE: &str = r#"version: 1
name: bench
tables:
  shop_state: { map: { active: published, dormant: hidden } }
  order_doc: { map: { "2": "1", "3": "1", "4": "3", "5": "3", "10": "0" }, unmapped: { default: "9" } }
jobs:
  catalog:
    from: { file: { path: catalog.ndjson } }
    steps:
      - filter: rec.status != "discontinued"
    map:
      reference: $.sku
      barcode: { path: $.ean13, as: string }
      name: { path: $.name, transform: [trim] }
      slug: { path: $.name, transform: [slug] }
      price: { path: $.price, as: decimal, scale: 2 }
      quantity: { path: $.stock, as: integer }
      state: { path: $.status, table: shop_state }
      category: $.category_id
      color: $.attributes.color
      size: $.attributes.size
    to: { file: { path: out.ndjson } }
  orders:
    from: { file: { path: orders.ndjson } }
    steps:
      - lookup: { table: order_doc, from: $.current_state, into: doc }
      - split: { path: $.associations.order_rows, as: row }
    map:
      piece: { template: "{reference}" }
      doc: $.doc
      sku: $.row.product_reference
      qty: { path: $.row.product_quantity, as: integer }
      price: { path: $.row.unit_price_tax_excl, as: decimal, scale: 2 }
    to: { file: { path: lines.ndjson } }
"#;

fn plan() -> Arc<syncline::plan::Plan> {
    let secrets = Secrets::default();
    let ws = load_str("bench.yaml", PIPELINE, &secrets);
    let context = syncline::plan::CompileContext {
        sources: &ws.sources,
        secrets: &secrets,
    };
    Arc::new(
        syncline::plan::compile(&ws.pipelines[0], &context).expect("the bench pipeline compiles"),
    )
}

fn catalog_record(i: u64) -> serde_json::Value {
    serde_json::json!({"id": i, "sku": format!("SKU-{i:06}"), "ean13": "1483288095262",
        "name": " Alpenhaus Premium cotton T-shirt with embroidered logo ", "price": "294.378800",
        "stock": 2048, "status": if i.is_multiple_of(3) { "dormant" } else { "active" }, "category_id": 279,
        "updated_at": "2025-12-05 09:47:44", "attributes": {"color": "natural", "size": "one size"}})
}

fn order_record(i: u64) -> serde_json::Value {
    serde_json::json!({"id": i, "reference": format!("WEB{i:08}"), "current_state": "2",
        "associations": {"order_rows": [
            {"product_reference": "SKU-000001", "product_quantity": "2", "unit_price_tax_excl": "12.500000"},
            {"product_reference": "SKU-000002", "product_quantity": "1", "unit_price_tax_excl": "3.990000"},
            {"product_reference": "SKU-000003", "product_quantity": "4", "unit_price_tax_excl": "0.450000"}]}})
}

fn bench_job(bencher: divan::Bencher, job: &str, make: fn(u64) -> serde_json::Value) {
    let plan = plan();
    let job = plan
        .jobs
        .iter()
        .position(|j| j.name == job)
        .expect("a job of the bench pipeline");
    let records: Vec<serde_json::Value> = (0..1000).map(make).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(records.len()))
        .bench_local(|| {
            let mut chain = Chain::new(&plan.jobs[job].steps, None);
            let (mut out, mut rejected, mut counts) =
                (Vec::new(), Vec::new(), ChainCounts::default());
            for record in records.iter().cloned() {
                chain.push(record, &mut out, &mut rejected, &mut counts);
            }
            chain.finish(&mut out, &mut rejected, &mut counts);
            assert!(rejected.is_empty());
            out
        });
}

/// Filter, then a 10-field map with conversions, a table and slugs; per 1,000 records.
#[divan::bench]
fn catalog_filter_map_10_fields(bencher: divan::Bencher) {
    bench_job(bencher, "catalog", catalog_record);
}

/// Lookup, split into 3 lines, map 5 fields; per 1,000 orders.
#[divan::bench]
fn orders_lookup_split_map(bencher: divan::Bencher) {
    bench_job(bencher, "orders", order_record);
}
