//! The HTTP connector under faults: one request in five fails (429 with `Retry-After`, 503,
//! resets before and after the write was applied, answers that never come). Every record
//! arrives exactly once, no create is duplicated, the rate limit and `Retry-After` are kept.

mod common;

use std::time::Duration;

use common::shop::{Fault, PRODUCT_TARGET, RESOLVE_BY_REFERENCE, Shop};
use common::{Workdir, job};
use serde_json::Value;

fn pipeline(shop: &Shop, resolve: bool) -> String {
    let resolve = if resolve { RESOLVE_BY_REFERENCE } else { "" };
    format!(
        r#"version: 1
name: faults
connections:
  shop:
    http:
      base_url: "{url}"
      timeout: 300ms
      rate_limit: 200/s
      retry: {{ attempts: 6, backoff: 10ms..100ms }}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      price: {{ path: $.price, as: decimal, scale: 2 }}
{target}{resolve}
"#,
        url = shop.url,
        target = PRODUCT_TARGET
    )
}

fn catalog(records: usize, price: &str) -> String {
    let mut csv = String::from("ref,price\n");
    for i in 0..records {
        csv.push_str(&format!("R{i:04},{price}\n"));
    }
    csv
}

fn run(w: &Workdir) -> (i32, Value) {
    w.run("p.yaml", &[])
}

/// Each reference in the shop once; returns their prices.
fn prices_once_each(shop: &Shop, records: usize) -> Vec<Value> {
    let mut found = shop.records("product");
    found.sort_by_key(|r| r["reference"].as_str().unwrap_or_default().to_string());
    let references: Vec<&str> = found
        .iter()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    let expected: Vec<String> = (0..records).map(|i| format!("R{i:04}")).collect();
    assert_eq!(references, expected, "every record exactly once");
    found.iter().map(|r| r["price"].clone()).collect()
}

#[test]
fn with_one_request_in_five_failing_every_record_arrives_exactly_once() {
    const RECORDS: usize = 60;
    let shop = Shop::start();
    shop.inject_faults(Some(5));
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&shop, true));
    w.write("products.csv", catalog(RECORDS, "10"));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(job(&report, "products")["delivered"]["created"], RECORDS);
    prices_once_each(&shop, RECORDS);

    // Every update sent once more through the faults.
    w.write("products.csv", catalog(RECORDS, "12.5"));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(job(&report, "products")["delivered"]["updated"], RECORDS);
    let prices = prices_once_each(&shop, RECORDS);
    assert!(prices.iter().all(|p| p == 12.5), "{prices:?}");

    let s = shop.state.lock().unwrap();
    for fault in [
        Fault::TooManyRequests,
        Fault::Unavailable,
        Fault::ResetBeforeApplying,
        Fault::ResetAfterApplying,
        Fault::SilentAfterApplying,
    ] {
        assert!(s.faults.contains(&fault), "{fault:?} was injected");
    }
    assert_eq!(s.too_early, 0, "no request before the end of a Retry-After");
    drop(s);
    assert!(shop.busiest(Duration::from_secs(1)) <= 200);
}

#[test]
fn the_rate_limit_is_never_exceeded() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(&shop, false).replace("rate_limit: 200/s", "rate_limit: 20/s"),
    );
    w.write("products.csv", catalog(30, "10"));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let busiest = shop.busiest(Duration::from_secs(1));
    assert!(busiest <= 20, "{busiest} requests within a second");
    assert!(busiest >= 15, "the limit is used, not undershot: {busiest}");
}

#[test]
fn without_resolve_rules_a_doubtful_create_is_quarantined_not_repeated() {
    let shop = Shop::start();
    shop.inject_faults(Some(5));
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&shop, false));
    w.write("products.csv", catalog(40, "10"));
    let (code, report) = run(&w);
    assert_eq!(code, 3, "some records quarantined: {report:#}");
    let quarantined = job(&report, "products")["rejected"].as_u64().unwrap();
    let created = job(&report, "products")["delivered"]["created"]
        .as_u64()
        .unwrap();
    assert_eq!(created + quarantined, 40, "{report:#}");
    // No reference twice: a doubtful create was never sent again.
    let mut references: Vec<String> = shop
        .records("product")
        .iter()
        .filter_map(|r| r["reference"].as_str().map(String::from))
        .collect();
    let all = references.len();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), all, "no duplicate create");
    let text = String::from_utf8_lossy(
        &w.syncline(&["state", "quarantine", "list", "p.yaml"])
            .stdout,
    )
    .to_string();
    assert!(text.contains("no clear answer"), "{text}");
}

#[test]
fn with_idempotency_keys_creates_are_retried_and_never_duplicated() {
    let shop = Shop::start();
    shop.inject_faults(Some(5));
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(&shop, false).replace(
            "      timeout: 300ms",
            "      timeout: 300ms\n      idempotency_key: Idempotency-Key",
        ),
    );
    w.write("products.csv", catalog(40, "10"));
    let (code, report) = run(&w);
    // Without resolve rules, a doubtful create would be quarantined; with keys it is retried.
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(job(&report, "products")["delivered"]["created"], 40);
    prices_once_each(&shop, 40);
}
