//! The HTTP connector under faults: one request in five fails (429 with `Retry-After`, 503,
//! resets before and after the write was applied, answers that never come). Every record
//! arrives exactly once, no create is duplicated, the rate limit and `Retry-After` are kept.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

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

/// Held by the tests that time requests and by the one that loads the machine with a 256 MiB
/// answer, so that they do not run at once.
static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timed() -> std::sync::MutexGuard<'static, ()> {
    TIMED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// `records` products created in the shop at `rate` requests a second; the run succeeds.
fn created_at_rate(shop: &Shop, rate: u32, records: usize) -> Value {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(shop, false).replace("rate_limit: 200/s", &format!("rate_limit: {rate}/s")),
    );
    w.write("products.csv", catalog(records, "10"));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    report
}

#[test]
fn the_rate_limit_is_never_exceeded() {
    let _timed = timed();
    let shop = Shop::start();
    created_at_rate(&shop, 20, 30);
    let busiest = shop.busiest(Duration::from_secs(1));
    assert!(busiest <= 20, "{busiest} requests within a second");
    assert!(busiest >= 15, "the limit is used, not undershot: {busiest}");
}

/// A kept-alive connection the server has closed while idle is not used again: the next
/// request goes out on a new one. Creates without `resolve` rules are not retried, so a create
/// sent on the closed connection would be quarantined as doubtful.
#[test]
fn a_connection_the_server_closed_while_idle_is_not_reused() {
    let shop = Shop::start();
    shop.close_idle_connections_after(Duration::from_millis(20));
    // 10 requests a second: each connection is idle 100 ms or more between two.
    let report = created_at_rate(&shop, 10, 6);
    assert_eq!(job(&report, "products")["delivered"]["created"], 6);
    prices_once_each(&shop, 6);
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

#[test]
fn a_leaky_bucket_limit_takes_its_burst_and_never_overflows() {
    let _timed = timed();
    // Shopify's rule, scaled down: a bucket of 10 requests that leaks 20 a second; a request
    // that finds it full is refused with 429 and counted.
    let bucket = std::sync::Arc::new(std::sync::Mutex::new((
        0.0f64,
        std::time::Instant::now(),
        0u32,
    )));
    let counted = bucket.clone();
    let api = common::api::Api::start(move |r, _| {
        let mut b = counted.lock().unwrap();
        let now = std::time::Instant::now();
        b.0 = (b.0 - now.duration_since(b.1).as_secs_f64() * 20.0).max(0.0);
        b.1 = now;
        if b.0 + 1.0 > 10.0 {
            b.2 += 1;
            return common::api::Reply::status(
                429,
                serde_json::json!({"errors": "Exceeded 2 calls per second"}),
            )
            .header("Retry-After", "1");
        }
        b.0 += 1.0;
        let page: u64 = common::api::param(r, "page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let items: Vec<Value> = if page <= 40 {
            vec![serde_json::json!({"id": page})]
        } else {
            Vec::new()
        };
        common::api::Reply::json(Value::Array(items))
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: bucket\nconnections:\n  api:\n    http: {{ base_url: \"{}\", rate_limit: \"20/s, burst 10\" }}\njobs:\n  items:\n    from: {{ http: {{ connection: api, path: /items, paginate: {{ page_number: {{}} }} }} }}\n    to: {{ file: {{ path: out.ndjson }} }}\n",
            api.url
        ),
    );
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(w.ndjson("out.ndjson").len(), 40);
    assert_eq!(
        bucket.lock().unwrap().2,
        0,
        "no request found the bucket full"
    );
}

#[test]
fn an_answer_the_connection_names_a_refusal_is_quarantined_not_held_in_doubt() {
    // PrestaShop answers a create it refuses with HTTP 500 and its errors: nothing was made.
    let api = common::api::Api::start(|r, _| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if body["name"] == "" {
            return common::api::Reply::status(
                500,
                serde_json::json!({"errors": [{"code": 85, "message": "Property Category->name is empty"}]}),
            );
        }
        common::api::Reply::json(serde_json::json!({"category": {"id": 7}}))
    });
    let pipeline = |refused_when: &str| {
        format!(
            r#"version: 1
name: refusals
connections:
  shop:
    http: {{ base_url: "{url}", retry: {{ attempts: 3, backoff: 10ms..20ms }}{refused_when} }}
jobs:
  categories:
    from: {{ file: {{ path: families.csv }} }}
    map: {{ code: $.code, name: $.name }}
    to:
      http: {{ connection: shop, entity: category, key: $.code, not_sent: [code], create: {{ method: POST, path: /categories }}, update: {{ method: PUT, path: "/categories/{{target_id}}" }}, id: $.category.id }}
"#,
            url = api.url
        )
    };
    let w = Workdir::new();
    w.write("families.csv", "code,name\nF1,Chairs\nF2,\n");
    w.write(
        "p.yaml",
        pipeline(", refused_when: [{ status: [500], body: $.errors }]"),
    );
    for attempt in 1..=2 {
        let before = api.request_count();
        let (code, report) = run(&w);
        assert_eq!(code, 3, "run {attempt}: {report:#}");
        let reasons = job(&report, "categories")["reasons"].to_string();
        assert!(
            reasons.contains("refused: Property Category->name is empty (code 85)")
                && !reasons.contains("earlier run"),
            "run {attempt}: {reasons}"
        );
        let sent = api.request_count() - before;
        assert_eq!(
            sent,
            if attempt == 1 { 2 } else { 1 },
            "F2 sent once a run, never in doubt"
        );
    }
    // Without it, the same answer leaves the create in doubt: never sent blindly again.
    let w = Workdir::new();
    w.write("families.csv", "code,name\nF2,\n");
    w.write("p.yaml", pipeline(""));
    run(&w);
    let before = api.request_count();
    let (_, report) = run(&w);
    assert_eq!(api.request_count(), before, "{report:#}");
}

#[test]
fn an_error_page_holding_the_named_text_is_a_refusal_and_others_stay_in_doubt() {
    // PrestaShop's order history dies with an HTML page for an unknown order or state.
    let api = common::api::Api::start(|r, _| {
        let body = String::from_utf8_lossy(&r.body);
        let page = if body.contains("\"99\"") {
            "<html><body><p>Invalid new order status</p></body></html>"
        } else {
            "<html><body><p>Fatal error: out of memory</p></body></html>"
        };
        common::api::Reply {
            status: 500,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: page.into(),
        }
    });
    let w = Workdir::new();
    w.write("states.csv", "order,state\n99,4\n7,4\n");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: states
connections:
  shop:
    http:
      base_url: "{url}"
      retry: {{ attempts: 2, backoff: 10ms..20ms }}
      refused_when:
        - {{ status: [500], body: $.errors }}
        - {{ status: [500], text: Invalid new order status }}
jobs:
  states:
    from: {{ file: {{ path: states.csv }} }}
    map: {{ id_order: $.order, id_order_state: $.state }}
    to:
      http: {{ connection: shop, entity: order_history, key: $.id_order, create: {{ method: POST, path: /order_histories }}, id: $.id }}
"#,
            url = api.url
        ),
    );
    let (code, report) = run(&w);
    assert_ne!(code, 0, "{report:#}");
    let reasons = job(&report, "states")["reasons"].to_string();
    assert!(
        reasons.contains("refused: Invalid new order status"),
        "{reasons}"
    );
    // The page without the text is held in doubt (a create is not sent blindly again).
    let asked: Vec<String> = (0..api.request_count()).map(|n| api.body(n)).collect();
    assert_eq!(asked.iter().filter(|b| b.contains("\"99\"")).count(), 1);
    assert_eq!(asked.iter().filter(|b| b.contains("\"7\"")).count(), 1);
    assert!(!reasons.contains("refused: Fatal error"), "{reasons}");
    let (_, report) = run(&w);
    assert_eq!(
        api.request_count(),
        3,
        "only the refused state is sent again: {report:#}"
    );
}

/// A server on loopback that reads each request's head and leaves the answer to `answer`,
/// byte by byte if it likes: for answers no well-behaved server gives. Its base URL.
fn raw_server(answer: impl Fn(TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                answer(stream);
            });
        }
    });
    url
}

/// A pipeline reading `/items` from `url` into items.ndjson, `connection` added to the
/// connection's settings.
fn reading(url: &str, connection: &str) -> String {
    format!(
        "version: 1\nname: raw\nconnections:\n  api:\n    http: {{ base_url: \"{url}\", {connection} }}\njobs:\n  items:\n    from: {{ http: {{ connection: api, path: /items }} }}\n    to: {{ file: {{ path: items.ndjson }} }}\n"
    )
}

#[test]
fn a_timeout_bounds_an_answer_whose_body_trickles() {
    // A byte every 200 ms: no read waits long, the whole body takes 8 s.
    let url = raw_server(|mut stream| {
        let body = format!("{:<40}", r#"[{"id": 1}]"#);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for byte in body.bytes() {
            std::thread::sleep(Duration::from_millis(200));
            if stream.write_all(&[byte]).is_err() {
                return;
            }
        }
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        reading(&url, "timeout: 1s, retry: { attempts: 1 }"),
    );
    let started = Instant::now();
    let (code, report) = run(&w);
    let took = started.elapsed();
    assert_eq!(code, 1, "after {took:?}: {report:#}");
    let reason = job(&report, "items")["reason"].to_string();
    assert!(reason.contains("timed out"), "{reason}");
    assert!(
        took < Duration::from_secs(3),
        "the timeout is the whole answer's: {took:?}"
    );
}

/// The peak resident memory of `syncline run p.yaml` in `w`, in MiB, with its exit code and
/// its report.
#[cfg(target_os = "linux")]
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also gives its peak memory"
)]
fn run_measured(w: &Workdir) -> (u64, i32, Value) {
    use std::io::Read;
    let mut child = common::syncline()
        .current_dir(w.dir.path())
        .args(["run", "p.yaml", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: zeroed is a valid rusage; wait4 writes the status and the usage of the child,
    // which is this process's own and not waited for elsewhere.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let report = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    // Linux counts it in KiB.
    (u64::try_from(usage.ru_maxrss).unwrap() / 1024, code, report)
}

#[cfg(target_os = "linux")]
#[test]
fn an_endless_body_is_refused_at_the_limit_with_memory_near_it() {
    let _timed = timed();
    // Chunks of 1 MiB of spaces, as long as anyone reads them.
    let url = raw_server(|mut stream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut chunk = format!("{:x}\r\n", 1 << 20).into_bytes();
        chunk.extend(std::iter::repeat_n(b' ', 1 << 20));
        chunk.extend_from_slice(b"\r\n");
        while stream.write_all(&chunk).is_ok() {}
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        reading(&url, "retry: { attempts: 3, backoff: 10ms..10ms }"),
    );
    let (peak, code, report) = run_measured(&w);
    // The same run with an empty answer: the process itself.
    let empty = raw_server(|mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]");
    });
    let other = Workdir::new();
    other.write("p.yaml", reading(&empty, "retry: { attempts: 1 }"));
    let (itself, _, _) = run_measured(&other);
    assert!(
        peak < itself + 256 + 16,
        "peak resident memory {peak} MiB, {itself} MiB without the body"
    );
    assert_eq!(code, 1, "{report:#}");
    let reason = job(&report, "items")["reason"].to_string();
    assert!(
        reason.contains("larger than the 256 MiB an answer may have"),
        "{reason}"
    );
    // Said by its length: refused before a byte of it is read.
    let announced = raw_server(|mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\n\r\n[");
        std::thread::sleep(Duration::from_secs(5));
    });
    w.write("p.yaml", reading(&announced, "retry: { attempts: 3 }"));
    let started = Instant::now();
    let (code, report) = run(&w);
    assert_eq!(code, 1, "{report:#}");
    let reason = job(&report, "items")["reason"].to_string();
    assert!(reason.contains("256 MiB"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(2), "not retried");
}

#[test]
fn an_answer_holding_the_unless_text_is_no_refusal_and_stays_in_doubt() {
    // PrestaShop saves a create naming fewer languages than the shop has, then warns while
    // writing the answer: a 500 with `errors` that is not a refusal.
    let api = common::api::Api::start(|_, _| {
        common::api::Reply::status(
            500,
            serde_json::json!({"errors": [{"code": 3, "message": "[PHP Warning #2] Undefined array key 2 (/var/www/html/classes/webservice/WebserviceOutputJSON.php, line 98)"}]}),
        )
    });
    let w = Workdir::new();
    w.write("families.csv", "code,name\nF1,Chairs\n");
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: unless
connections:
  shop:
    http:
      base_url: "{url}"
      retry: {{ attempts: 2, backoff: 10ms..20ms }}
      refused_when: [{{ status: [500], body: $.errors, unless: WebserviceOutputJSON.php }}]
jobs:
  categories:
    from: {{ file: {{ path: families.csv }} }}
    map: {{ code: $.code, name: $.name }}
    to:
      http: {{ connection: shop, entity: category, key: $.code, not_sent: [code], create: {{ method: POST, path: /categories }}, id: $.category.id }}
"#,
            url = api.url
        ),
    );
    let (_, report) = run(&w);
    let reasons = job(&report, "categories")["reasons"].to_string();
    assert!(!reasons.contains("refused:"), "{reasons}");
    let sent = api.request_count();
    assert_eq!(sent, 1, "{report:#}");
    run(&w);
    assert_eq!(api.request_count(), sent, "held in doubt, not sent again");
}
