//! `syncline serve`: the scheduler with a clock the tests move (when jobs are due, in which zone,
//! overlaps, catch-up after downtime, `needs`), and the service end to end through the binary
//! (runs on schedule, runs by hand with the token, reloads, SIGTERM, state across restarts).

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Workdir;
use common::served::{Served, TOKEN};
use common::shop::{PRODUCT_TARGET, Shop, products_pipeline};
use serde_json::{Value, json};
use syncline::config::model::{Schedule, TimeZone as Zone};
use syncline::serve::scheduler::{Decision, JobEntry, Scheduler};
use syncline::serve::timetable::Timetable;
use syncline::state::JobRun;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn timetable(schedule: Value, zone: Option<&str>) -> Timetable {
    let schedule: Schedule = serde_json::from_value(schedule).unwrap();
    Timetable::new(&schedule, zone.map(|z| Zone(z.parse().unwrap())))
}

fn job(name: &str, needs: &[usize], schedule: Option<Timetable>, last: Option<JobRun>) -> JobEntry {
    JobEntry {
        name: name.to_string(),
        needs: needs.to_vec(),
        timetable: schedule,
        last,
    }
}

fn ran(due: &str, status: &str) -> JobRun {
    let due = at(due).timestamp();
    JobRun {
        due,
        started: due,
        ended: due + 1,
        status: status.to_string(),
        reason: None,
        read: 1,
        written: 1,
        rejected: 0,
        succeeded: (status == "succeeded").then_some(due + 1),
    }
}

fn runs(decisions: &[Decision]) -> Vec<Vec<usize>> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Run { jobs, .. } => Some(jobs.clone()),
            Decision::Skip { .. } => None,
        })
        .collect()
}

fn skips(decisions: &[Decision]) -> Vec<(usize, String)> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Skip { job, reason, .. } => Some((*job, reason.clone())),
            Decision::Run { .. } => None,
        })
        .collect()
}

#[test]
fn a_cron_schedule_is_read_in_its_time_zone() {
    // 02:00 in Bucharest is 00:00 UTC in winter (UTC+2) and 23:00 UTC the day before in summer.
    let nightly = timetable(json!("0 2 * * *"), Some("Europe/Bucharest"));
    assert_eq!(
        nightly.next_after(at("2026-12-06T12:00:00Z")),
        Some(at("2026-12-07T00:00:00Z"))
    );
    assert_eq!(
        nightly.next_after(at("2026-07-01T12:00:00Z")),
        Some(at("2026-07-01T23:00:00Z"))
    );
    // The job's own zone wins over the pipeline's.
    let paris = timetable(
        json!({ "cron": "0 2 * * *", "timezone": "Europe/Paris" }),
        Some("Europe/Bucharest"),
    );
    assert_eq!(
        paris.next_after(at("2026-12-06T12:00:00Z")),
        Some(at("2026-12-07T01:00:00Z"))
    );
    // Seconds, and intervals counted from the last time due.
    let every_ten_seconds = timetable(json!("*/10 * * * * *"), Some("UTC"));
    assert_eq!(
        every_ten_seconds.next_after(at("2026-12-06T12:00:01Z")),
        Some(at("2026-12-06T12:00:10Z"))
    );
    let every = timetable(json!("every 15m"), None);
    assert_eq!(
        every.next_after(at("2026-12-06T12:00:00Z")),
        Some(at("2026-12-06T12:15:00Z"))
    );
}

#[test]
fn jobs_fire_when_due_and_not_before() {
    let now = at("2026-12-06T11:59:30Z");
    let hourly = timetable(json!("0 * * * *"), Some("UTC"));
    let mut scheduler = Scheduler::new(vec![job("prices", &[], Some(hourly), None)], now);
    assert_eq!(scheduler.next_wakeup(), Some(at("2026-12-06T12:00:00Z")));
    assert!(scheduler.due(at("2026-12-06T11:59:59Z")).is_empty());
    let due = scheduler.due(at("2026-12-06T12:00:00Z"));
    assert_eq!(
        due,
        vec![Decision::Run {
            jobs: vec![0],
            due: at("2026-12-06T12:00:00Z")
        }]
    );
    scheduler.finished(0, ran("2026-12-06T12:00:00Z", "succeeded"));
    assert_eq!(scheduler.next_wakeup(), Some(at("2026-12-06T13:00:00Z")));
    // A job without a schedule runs only by hand.
    let mut by_hand = Scheduler::new(vec![job("orders", &[], None, None)], now);
    assert_eq!(by_hand.next_wakeup(), None);
    assert!(by_hand.due(at("2027-01-01T00:00:00Z")).is_empty());
}

#[test]
fn a_run_still_going_when_due_again_is_skipped_and_reported() {
    let now = at("2026-12-06T12:00:00Z");
    let every_minute = timetable(json!("every 1m"), None);
    let mut scheduler = Scheduler::new(vec![job("stock", &[], Some(every_minute), None)], now);
    assert_eq!(runs(&scheduler.due(now)), vec![vec![0]]);
    // Still running a minute, then two minutes later: skipped each time, never started twice.
    let first = scheduler.due(at("2026-12-06T12:01:00Z"));
    assert_eq!(runs(&first), Vec::<Vec<usize>>::new());
    assert_eq!(
        skips(&first),
        vec![(0, "its previous run is still going".to_string())]
    );
    assert_eq!(skips(&scheduler.due(at("2026-12-06T12:02:00Z"))).len(), 1);
    assert_eq!(scheduler.slots[0].skipped, 2);
    scheduler.finished(0, ran("2026-12-06T12:00:00Z", "succeeded"));
    assert_eq!(
        runs(&scheduler.due(at("2026-12-06T12:03:00Z"))),
        vec![vec![0]]
    );
    // By hand while running: refused.
    assert!(scheduler.run_now(0).is_err());
}

#[test]
fn after_downtime_a_missed_schedule_runs_once_then_keeps_its_times() {
    // Hourly; last ran at 09:00; the service was down until 12:20: one catch-up run at once,
    // not three.
    let hourly = timetable(json!("0 * * * *"), Some("UTC"));
    let last = ran("2026-12-06T09:00:00Z", "succeeded");
    let now = at("2026-12-06T12:20:00Z");
    let mut scheduler = Scheduler::new(vec![job("prices", &[], Some(hourly), Some(last))], now);
    assert_eq!(scheduler.next_wakeup(), Some(now));
    let due = scheduler.due(now);
    assert_eq!(runs(&due), vec![vec![0]]);
    assert_eq!(due.len(), 1);
    scheduler.finished(0, ran("2026-12-06T12:20:00Z", "succeeded"));
    assert!(scheduler.due(at("2026-12-06T12:59:59Z")).is_empty());
    assert_eq!(scheduler.next_wakeup(), Some(at("2026-12-06T13:00:00Z")));

    // Not down long enough to miss anything: no catch-up.
    let hourly = timetable(json!("0 * * * *"), Some("UTC"));
    let last = ran("2026-12-06T12:00:00Z", "succeeded");
    let scheduler = Scheduler::new(vec![job("prices", &[], Some(hourly), Some(last))], now);
    assert_eq!(scheduler.next_wakeup(), Some(at("2026-12-06T13:00:00Z")));
}

#[test]
fn needs_are_honoured_for_scheduled_runs() {
    let now = at("2026-12-06T12:00:00Z");
    let hourly = || Some(timetable(json!("0 * * * *"), Some("UTC")));
    let nightly = || Some(timetable(json!("0 2 * * *"), Some("UTC")));

    // `categories` never succeeded: the first `products` run takes it along.
    let mut scheduler = Scheduler::new(
        vec![
            job("categories", &[], nightly(), None),
            job("products", &[0], hourly(), None),
        ],
        at("2026-12-06T11:30:00Z"),
    );
    assert_eq!(runs(&scheduler.due(now)), vec![vec![0, 1]]);
    scheduler.finished(0, ran("2026-12-06T12:00:00Z", "succeeded"));
    scheduler.finished(1, ran("2026-12-06T12:00:00Z", "succeeded"));
    // It succeeded since: `products` runs alone.
    assert_eq!(
        runs(&scheduler.due(at("2026-12-06T13:00:00Z"))),
        vec![vec![1]]
    );
    scheduler.finished(1, ran("2026-12-06T13:00:00Z", "succeeded"));

    // `categories` is running when `products` is due: `products` waits, then runs.
    scheduler.run_now(0).unwrap();
    assert!(runs(&scheduler.due(at("2026-12-06T14:00:00Z"))).is_empty());
    scheduler.finished(0, ran("2026-12-06T14:00:00Z", "succeeded"));
    let due = scheduler.due(at("2026-12-06T14:00:05Z"));
    assert_eq!(
        due,
        vec![Decision::Run {
            jobs: vec![1],
            due: at("2026-12-06T14:00:00Z")
        }]
    );
    scheduler.finished(1, ran("2026-12-06T14:00:00Z", "succeeded"));

    // Its last run failed: `products` is skipped, with the reason.
    scheduler.run_now(0).unwrap();
    let mut failed = ran("2026-12-06T14:30:00Z", "failed");
    failed.succeeded = Some(at("2026-12-06T12:00:01Z").timestamp());
    scheduler.finished(0, failed);
    let due = scheduler.due(at("2026-12-06T15:00:00Z"));
    assert_eq!(
        skips(&due),
        vec![(
            1,
            "it needs `categories`, whose last run did not succeed".to_string()
        )]
    );
}

#[test]
fn a_schedule_is_checked_where_it_is_written() {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        r#"version: 1
name: p
timezone: Europe/Bucharst
jobs:
  a:
    schedule: { cron: "0 2 * * *", timezone: Europe/Pari }
    from: { file: { path: in.csv } }
    to: { file: { path: out.ndjson } }
  b:
    schedule: { every: 15m, timezone: UTC }
    from: { file: { path: in.csv } }
    to: { file: { path: out2.ndjson } }
  c:
    schedule: "0 25 * * *"
    from: { file: { path: in.csv } }
    to: { file: { path: out3.ndjson } }
"#,
    );
    let (code, text) = w.printed(&["validate", "p.yaml"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("p.yaml:3:11"), "{text}");
    assert!(text.contains("did you mean `Europe/Bucharest`?"), "{text}");
    assert!(text.contains("did you mean `Europe/Paris`?"), "{text}");
    assert!(text.contains("`timezone` only applies to `cron`"), "{text}");
    assert!(
        text.contains("`0 25 * * *` is not a valid cron expression"),
        "{text}"
    );
}

// ---- the service, through the binary ----

fn file_pipeline(schedule: &str) -> String {
    format!(
        r#"version: 1
name: files
jobs:
  copy:
    schedule: "{schedule}"
    from: {{ file: {{ path: in.csv }} }}
    map: {{ code: $.code }}
    to: {{ file: {{ path: out.ndjson }} }}
"#
    )
}

#[test]
fn serve_runs_jobs_on_their_schedule_and_lists_them() {
    let w = Workdir::new();
    w.write("p.yaml", file_pipeline("every 1s"));
    w.write("in.csv", "code\nA\nB\n");
    let served = Served::start(&w, &[]);
    served.wait_for("two runs", |s| s.job("copy")["runs"].as_u64() >= Some(2));
    let copy = served.job("copy");
    assert_eq!(copy["pipeline"], "files");
    assert_eq!(copy["last_run"]["status"], "succeeded", "{copy:#}");
    assert_eq!(copy["last_run"]["read"], 2);
    assert_eq!(copy["quarantined"], 0);
    assert!(copy["next_run"].is_string(), "{copy:#}");
    assert_eq!(w.ndjson("out.ndjson").len(), 2);
    // Prometheus' text format, job by job.
    let metrics = served.text("/metrics");
    let read = metrics
        .lines()
        .find(|l| l.starts_with("syncline_records_read_total{"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        read.contains(r#"pipeline="files""#) && read.contains(r#"job="copy""#),
        "{read}"
    );
    let total: f64 = read.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(total >= 4.0, "{read}");
    assert!(
        metrics.contains("syncline_run_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"syncline_runs_total{pipeline="files",job="copy",status="succeeded"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("syncline_quarantined_records{"),
        "{metrics}"
    );
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
    // Logs are JSON lines (stderr is not a terminal), one per run.
    let ended: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "run ended")
        .collect();
    assert!(ended.len() >= 2, "{log}");
    assert_eq!(ended[0]["fields"]["job"], "copy");
}

#[test]
fn a_run_by_hand_needs_the_token_and_can_take_keys() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write("p.yaml", products_pipeline(&shop.url, "", ""));
    w.write("products.csv", "ref,name\nA1,Alpha\nB2,Beta\nC3,Gamma\n");
    let served = Served::start(&w, &[]);
    let path = "/api/pipelines/shop-sync/jobs/products/run";
    assert_eq!(served.post(path, None, None).0, 401);
    assert_eq!(
        served.post(path, Some("wrong-token-0123456789"), None).0,
        401
    );
    assert!(shop.writes().is_empty());
    assert_eq!(
        served
            .post("/api/pipelines/shop-sync/jobs/nope/run", Some(TOKEN), None)
            .0,
        404
    );
    // Only B2: "synchronise now" for one product.
    let (status, answer) = served.post(path, Some(TOKEN), Some(json!({ "keys": ["B2"] })));
    assert_eq!(status, 202, "{answer}");
    served.wait_for("the run by hand", |s| s.job("products")["runs"] == 1);
    let writes = shop.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].body["reference"], "B2");
    let products = served.job("products");
    assert_eq!(products["last_run"]["status"], "succeeded", "{products:#}");
    assert!(products["next_run"].is_null());
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn an_invalid_change_is_reported_and_the_last_valid_version_keeps_running() {
    let w = Workdir::new();
    w.write("p.yaml", file_pipeline("every 1s"));
    w.write("in.csv", "code\nA\n");
    let served = Served::start(&w, &[]);
    served.wait_for("a run", |s| s.job("copy")["runs"].as_u64() >= Some(1));
    w.write("p.yaml", file_pipeline("every 1s").replace("map:", "mapp:"));
    served.wait_for("the problem reported", |s| {
        s.get("/api/problems")
            .is_some_and(|p| p.to_string().contains("mapp"))
    });
    let runs = served.job("copy")["runs"].as_u64().unwrap();
    served.wait_for("runs going on", |s| {
        s.job("copy")["runs"].as_u64() > Some(runs + 1)
    });
    // Fixed, with another schedule: taken.
    w.write("p.yaml", file_pipeline("0 0 1 1 *"));
    served.wait_for("the fixed version", |s| {
        s.get("/api/problems")
            .is_some_and(|p| p.as_array().is_some_and(Vec::is_empty))
            && s.job("copy")["next_run"]
                .as_str()
                .is_some_and(|t| t.contains("-01-01T"))
    });
    let log = served.log();
    assert!(
        log.contains("the last valid version keeps running"),
        "{log}"
    );
    assert!(log.contains("p.yaml reloaded"), "{log}");
    let (code, _) = served.terminate();
    assert_eq!(code, 0);
}

#[test]
fn the_last_run_is_kept_across_restarts_and_nothing_is_run_twice() {
    let w = Workdir::new();
    // Hourly: the first start runs it at once (it never ran); a restart right after must not.
    w.write("p.yaml", file_pipeline("every 1h"));
    w.write("in.csv", "code\nA\n");
    let served = Served::start(&w, &[]);
    served.wait_for("the first run", |s| s.job("copy")["runs"] == 1);
    let first = served.job("copy")["last_run"].clone();
    let (code, _) = served.terminate();
    assert_eq!(code, 0);
    let served = Served::start(&w, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let copy = served.job("copy");
    assert_eq!(copy["runs"], 0, "{copy:#}");
    assert_eq!(copy["last_run"], first, "{copy:#}");
    served.terminate();
}

#[test]
fn serving_beyond_loopback_needs_a_token() {
    let w = Workdir::new();
    w.write("p.yaml", file_pipeline("every 1h"));
    let (code, text) = w.printed(&["serve", ".", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("--token-file"), "{text}");
}

#[test]
fn run_with_job_and_key_writes_only_those_records() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: shop-sync
connections:
  shop:
    http:
      base_url: "{url}"
jobs:
  categories:
    from: {{ file: {{ path: products.csv }} }}
    to: {{ file: {{ path: out.ndjson }} }}
  products:
    needs: [categories]
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      name: $.name
{PRODUCT_TARGET}
"#,
            url = shop.url
        ),
    );
    w.write("products.csv", "ref,name\nA1,Alpha\nB2,Beta\nC3,Gamma\n");
    let (code, report) = w.run(
        "p.yaml",
        &["--job", "products", "--key", "C3", "--key", "A1"],
    );
    assert_eq!(code, 0, "{report:#}");
    // Only the job asked for: `categories` did not run.
    assert_eq!(report["jobs"].as_array().unwrap().len(), 1, "{report:#}");
    assert!(!w.exists("out.ndjson"));
    let mut sent: Vec<String> = shop
        .writes()
        .iter()
        .map(|r| r.body["reference"].as_str().unwrap().to_string())
        .collect();
    sent.sort();
    assert_eq!(sent, ["A1", "C3"]);
    // A file target is written whole: keys are refused for it.
    let (code, report) = w.run("p.yaml", &["--job", "categories", "--key", "A1"]);
    assert_eq!(code, 1, "{report:#}");
    assert!(report.to_string().contains("written whole"), "{report:#}");
    let (code, text) = w.printed(&["run", "p.yaml", "--job", "nope"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("its jobs: `categories`, `products`"),
        "{text}"
    );
    let (code, text) = w.printed(&["run", "p.yaml", "--key", "A1"]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn a_review_job_holds_its_changes_until_some_are_applied() {
    let shop = Shop::start();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        products_pipeline(&shop.url, "", "    review: true\n"),
    );
    w.write("products.csv", "ref,name\nA1,Alpha\nB2,Beta\n");
    let served = Served::start(&w, &[]);
    let run = "/api/pipelines/shop-sync/jobs/products/run";
    assert_eq!(served.post(run, Some(TOKEN), None).0, 202);
    served.wait_for("the review run", |s| s.job("products")["runs"] == 1);
    // Nothing written: two changes wait.
    assert!(shop.writes().is_empty());
    let products = served.job("products");
    assert_eq!(products["review"], true);
    assert_eq!(products["pending"], 2, "{products:#}");
    let pending = served
        .get("/api/pipelines/shop-sync/jobs/products/pending")
        .unwrap();
    let keys: Vec<&str> = pending["jobs"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["A1", "B2"], "{pending:#}");
    // Applying needs the token; then only B2 is written.
    let apply = "/api/pipelines/shop-sync/jobs/products/apply";
    assert_eq!(
        served.post(apply, None, Some(json!({ "keys": ["B2"] }))).0,
        401
    );
    assert!(shop.writes().is_empty());
    let (status, report) = served.post(apply, Some(TOKEN), Some(json!({ "keys": ["B2"] })));
    assert_eq!(status, 200, "{report:#}");
    let writes = shop.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].body["reference"], "B2");
    assert_eq!(served.job("products")["pending"], 1);
    // The rest, then nothing is left.
    let (status, report) = served.post(apply, Some(TOKEN), None);
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(shop.writes().len(), 2);
    assert_eq!(served.job("products")["pending"], 0);
    assert_eq!(
        served.post(apply, Some(TOKEN), None).0,
        404,
        "nothing left to apply"
    );
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn sigterm_lets_a_run_finish_its_window_and_nothing_is_sent_twice_after() {
    let shop = Shop::start();
    shop.set_delay(Duration::from_millis(20));
    let w = Workdir::new();
    w.write(
        "p.yaml",
        products_pipeline(
            &shop.url,
            "      concurrency: 1\n",
            "    schedule: every 1h\n",
        ),
    );
    let mut csv = String::from("ref,name\n");
    for n in 0..300 {
        csv.push_str(&format!("R{n:03},Product {n}\n"));
    }
    w.write("products.csv", &csv);
    let served = Served::start(&w, &[]);
    served.wait_for("the run under way", |_| shop.writes().len() >= 10);
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
    let sent = shop.writes().len();
    assert!(sent < 300, "the run was not stopped: {sent} writes");
    // What was sent is known: a run after it sends the rest, and nothing twice.
    let (code, report) = w.run("p.yaml", &["--state", "state"]);
    assert_eq!(code, 0, "{report:#}");
    let mut created: Vec<String> = shop
        .writes()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created.len(), 300, "{report:#}");
    created.sort();
    created.dedup();
    assert_eq!(created.len(), 300, "a product was created twice");
}
