//! Crash safety: `syncline run` is killed with SIGKILL at 20 different points of a run against
//! a shop double that records every write; after a rerun, the shop holds every record exactly
//! once (one create each), with the latest values, and the checkpoint is the last record.

#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Workdir;
use common::shop::{PRODUCT_TARGET, RESOLVE_BY_REFERENCE, Shop};

const RECORDS: usize = 1500;

fn pipeline(shop: &Shop) -> String {
    format!(
        r#"version: 1
name: crash
connections:
  shop: {{ http: {{ base_url: "{url}" }} }}
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    cursor: {{ field: $.updated, tie_breaker: $.ref }}
    map:
      reference: $.ref
      price: {{ path: $.price, as: decimal, scale: 2 }}
{target}{resolve}
"#,
        url = shop.url,
        target = PRODUCT_TARGET,
        resolve = RESOLVE_BY_REFERENCE
    )
}

/// Records in cursor order; `generation` changes every price and every time stamp.
fn catalog(generation: u32) -> String {
    let mut csv = String::from("ref,price,updated\n");
    for i in 0..RECORDS {
        let minute = i + generation as usize * RECORDS;
        csv.push_str(&format!(
            "A{i:04},{}.{:02},2024-01-{:02} {:02}:{:02}:00\n",
            10 + generation,
            i % 100,
            1 + minute / 1440,
            (minute / 60) % 24,
            minute % 60
        ));
    }
    csv
}

fn spawn(w: &Workdir) -> std::process::Child {
    common::syncline()
        .current_dir(w.dir.path())
        .args(["run", "p.yaml", "--format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

enum KillAt {
    /// When the shop applied this many writes and hangs before answering the last one.
    Write(usize),
    /// After this long.
    Time(Duration),
}

fn kill_during_run(w: &Workdir, shop: &Shop, at: KillAt) {
    let mut child = spawn(w);
    let started = Instant::now();
    match at {
        KillAt::Write(n) => {
            shop.stall_after(Some(n));
            while shop.writes().len() < n && started.elapsed() < Duration::from_secs(60) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        KillAt::Time(t) => std::thread::sleep(t),
    }
    let _ = child.kill();
    let _ = child.wait();
    shop.stall_after(None);
}

fn assert_every_record_once(shop: &Shop, generation: u32, point: &str) {
    let records = shop.records("product");
    let mut per_reference: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for r in records {
        per_reference
            .entry(r["reference"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    assert_eq!(per_reference.len(), RECORDS, "{point}: records missing");
    let duplicated: Vec<_> = per_reference
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(duplicated.is_empty(), "{point}: duplicated {duplicated:?}");
    let mut creates: HashMap<String, usize> = HashMap::new();
    for write in shop.writes().iter().filter(|w| w.method == "POST") {
        *creates
            .entry(write.body["reference"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        creates.values().all(|&n| n == 1),
        "{point}: a record was created twice"
    );
    for (reference, versions) in &per_reference {
        let i: usize = reference[1..].parse().unwrap();
        let expected = format!("{}.{:02}", 10 + generation, i % 100)
            .parse::<f64>()
            .unwrap();
        assert_eq!(
            versions[0]["price"].as_f64(),
            Some(expected),
            "{point}: {reference} has an old price"
        );
    }
}

fn assert_checkpoint_is_the_last_record(w: &Workdir, generation: u32, point: &str) {
    let out = w.syncline(&["state", "checkpoints", "p.yaml"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let last = catalog(generation).lines().last().unwrap().to_string();
    let updated = last.rsplit(',').next().unwrap();
    let expected = format!("products: cursor \"{updated}\", key A{:04}", RECORDS - 1);
    assert!(
        text.contains(&expected),
        "{point}: checkpoint {text} instead of {expected}"
    );
}

#[test]
fn killed_at_twenty_points_every_record_arrives_exactly_once() {
    let points: u32 = std::env::var("CRASH_POINTS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(20);
    for point in 0..points {
        let t0 = Instant::now();
        let shop = Shop::start();
        let w = Workdir::new();
        w.write("p.yaml", pipeline(&shop));
        // Every fourth point kills a run of updates (prices changed after a complete run).
        let generation = if point % 4 == 3 {
            w.write("products.csv", catalog(0));
            assert_eq!(w.run("p.yaml", &[]).0, 0);
            1
        } else {
            0
        };
        w.write("products.csv", catalog(generation));
        let at = if point % 2 == 0 {
            KillAt::Write(point as usize * 70 + 1)
        } else {
            KillAt::Time(Duration::from_millis(40 + 45 * point as u64))
        };
        let label = match &at {
            KillAt::Write(n) => format!("point {point} (write {n})"),
            KillAt::Time(t) => format!("point {point} ({t:?})"),
        };
        kill_during_run(&w, &shop, at);
        eprintln!("{label}: killed after {:?}", t0.elapsed());
        let (code, report) = w.run("p.yaml", &[]);
        eprintln!("{label}: rerun done after {:?}", t0.elapsed());
        assert_eq!(code, 0, "{label}: the rerun failed: {report:#}");
        assert_every_record_once(&shop, generation, &label);
        assert_checkpoint_is_the_last_record(&w, generation, &label);
        // And a third run has nothing left to do.
        let writes = shop.writes().len();
        let (_, report) = w.run("p.yaml", &[]);
        assert_eq!(shop.writes().len(), writes, "{label}: {report:#}");
    }
}

#[test]
fn without_resolve_rules_a_create_left_unanswered_is_quarantined_not_sent_twice() {
    let shop = Shop::start();
    let w = Workdir::new();
    let no_rules = pipeline(&shop);
    let no_rules = &no_rules[..no_rules.find("        resolve:").unwrap()];
    w.write("p.yaml", no_rules);
    w.write("products.csv", catalog(0));
    kill_during_run(&w, &shop, KillAt::Write(5));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "{report:#}");
    let reasons = common::job(&report, "products")["reasons"].to_string();
    assert!(
        reasons.contains("cannot tell whether it was applied"),
        "{reasons}"
    );
    let rejected = common::job(&report, "products")["rejected"]
        .as_u64()
        .unwrap();
    assert!(
        (1..=8).contains(&rejected),
        "only the outbox window needs a check: {rejected}"
    );
    let records = shop.records("product");
    let a0004 = records.iter().filter(|r| r["reference"] == "A0004").count();
    assert_eq!(a0004, 1, "the unanswered create is not repeated");
    let mut references: Vec<_> = records.iter().map(|r| r["reference"].to_string()).collect();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), records.len(), "no duplicates");
    assert!(
        records.len() as u64 >= RECORDS as u64 - rejected,
        "the others went through"
    );
}

/// Ctrl-C while writing to a slow API: the writes in flight finish, nothing is sent after them,
/// the exit is 130 within seconds (the whole run takes about 30 s), and the rerun sends the rest
/// exactly once.
#[test]
fn ctrl_c_against_a_slow_api_stops_within_the_writes_in_flight() {
    let shop = Shop::start();
    shop.set_delay(Duration::from_millis(300));
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&shop));
    w.write(
        "products.csv",
        catalog(0).lines().take(421).collect::<Vec<_>>().join("\n"),
    );
    let child = common::syncline()
        .current_dir(w.dir.path())
        .args(["run", "p.yaml", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while shop.writes().len() < 20 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let interrupted = Instant::now();
    let sent_before = shop.writes().len();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let stopped_in = interrupted.elapsed();
    assert_eq!(out.status.code(), Some(130));
    let sent = shop.writes().len();
    // The connection sends 4 at a time: at most those in flight were answered after Ctrl-C.
    assert!(
        sent - sent_before <= 8,
        "{} writes after Ctrl-C (had {sent_before})",
        sent - sent_before
    );
    assert!(
        stopped_in < Duration::from_secs(5),
        "took {stopped_in:?} to stop"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::job(&report, "products")["status"], "cancelled");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(shop.writes().len(), sent, "nothing sent after the exit");

    shop.set_delay(Duration::ZERO);
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let products = shop.records("product");
    assert_eq!(products.len(), 420, "every record, once");
    let posts = shop.writes().iter().filter(|w| w.method == "POST").count();
    assert_eq!(posts, 420, "each created once");
}

/// Killed while writing: what the target acknowledged reached the ID map within half a
/// second, and a create in doubt found after the crash with the same payload is linked, not
/// written again. Before, acknowledgements waited for the next window, and every early
/// product was found again and PUT again at each rerun.
#[test]
fn acknowledged_creates_survive_a_kill_and_are_not_written_again() {
    let shop = Shop::start();
    shop.set_delay(Duration::from_millis(20));
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&shop));
    w.write(
        "products.csv",
        catalog(0).lines().take(301).collect::<Vec<_>>().join("\n"),
    );
    let mut child = spawn(&w);
    let started = Instant::now();
    while shop.writes().len() < 120 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(700));
    let _ = child.kill();
    let _ = child.wait();
    let before = shop.writes().len();
    assert!(before < 300, "killed mid-run: {before} writes");

    shop.set_delay(Duration::ZERO);
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let rewritten: Vec<String> = shop.writes()[before..]
        .iter()
        .filter(|w| w.method != "POST")
        .map(|w| format!("{} {}", w.method, w.body["reference"]))
        .collect();
    assert!(rewritten.is_empty(), "written again: {rewritten:?}");
    assert_eq!(shop.records("product").len(), 300);
    let posts = shop.writes().iter().filter(|w| w.method == "POST").count();
    assert_eq!(posts, 300, "each created once");
    // Nothing is left in doubt: the next run has nothing to check and writes nothing.
    let (_, report) = w.run("p.yaml", &[]);
    let delivered = common::delivered(&report, "products");
    assert_eq!(
        (delivered["created"].as_u64(), delivered["updated"].as_u64()),
        (Some(0), Some(0)),
        "{report:#}"
    );
    let out = w.syncline(&["run", "p.yaml"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("never acknowledged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
