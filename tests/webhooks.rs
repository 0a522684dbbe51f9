//! Webhooks below the HTTP server: notifications are stored through the library's `receive`,
//! as `syncline serve`'s handler stores them, then `syncline run` processes the inbox: the
//! notified orders reach the target once; refused notifications (wrong, missing or replayed
//! signatures) leave nothing to process; a run killed with SIGKILL in the middle loses none
//! and writes none twice; a `then:` job names the keys another job pulls.

mod common;

use base64::Engine as _;
use common::Workdir;
use common::served::Served;
use common::shop::Shop;
use hmac::Mac;
use serde_json::{Value, json};
use syncline::check::validate;
use syncline::config::secrets::Secrets;
use syncline::connectors::webhook::{Received, Refusal, receive};
use syncline::plan::{CompileContext, Plan, compile};
use syncline::state::{JobId, StateStore, sled_store};

const SECRET: &str = "wc-webhook-secret-8f3a7c";
const SIGNATURE: &str = "X-WC-Webhook-Signature";
const NOW: i64 = 1_767_225_600;

/// The plan of `p.yaml`, as `serve` compiles it.
fn plan(w: &Workdir) -> Plan {
    let secrets = Secrets::from_file(&w.path(".secrets")).unwrap();
    let validation = validate::validate(&[w.path("p.yaml")], &secrets);
    assert_eq!(validation.errors(), 0, "{:?}", validation.diagnostics);
    let loaded = validation.pipelines.first().unwrap();
    let context = CompileContext {
        sources: &validation.sources,
        secrets: &secrets,
    };
    compile(loaded, &context).unwrap()
}

/// WooCommerce's signature of a body (`WC_Webhook::generate_signature()`): base64 of its
/// HMAC-SHA256, computed here apart from syncline's code.
fn woocommerce_signature(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A WooCommerce order as its webhooks post it (REST API v3), one line.
fn order(id: u64, status: &str, quantity: u64) -> Value {
    json!({
        "id": id, "number": id.to_string(), "status": status, "currency": "RON",
        "date_created_gmt": "2026-01-05T09:30:00", "total": format!("{}.90", 40 * quantity),
        "billing": { "first_name": "Ana", "email": format!("client{id}@example.ro") },
        "line_items": [{ "id": 1000 + id, "sku": format!("SKU-{id}"), "name": "Cafea 250g",
                         "quantity": quantity, "price": 40.0 }]
    })
}

/// Posts to the endpoint of `job` as a server would: `headers` and the raw body, into the
/// state on disk (opened for the call, closed after, as `run` opens it next).
fn post(
    w: &Workdir,
    plan: &Plan,
    job: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Received, Refusal> {
    let route = plan
        .webhooks()
        .into_iter()
        .find(|r| r.endpoint.job.job == job)
        .unwrap();
    let state = open_state(w);
    receive(route.endpoint, headers, body, NOW, &state)
}

/// Posts `body` signed as WooCommerce signs it; must be stored.
fn notify(w: &Workdir, plan: &Plan, job: &str, body: &Value) {
    notify_all(w, plan, job, std::slice::from_ref(body));
}

/// [`notify`] for each body, in order, the state opened once.
fn notify_all(w: &Workdir, plan: &Plan, job: &str, bodies: &[Value]) {
    let route = plan
        .webhooks()
        .into_iter()
        .find(|r| r.endpoint.job.job == job)
        .unwrap();
    let state = open_state(w);
    for body in bodies {
        let body = body.to_string();
        let headers = [(SIGNATURE, woocommerce_signature(body.as_bytes()))];
        let received = receive(route.endpoint, &headers[..], body.as_bytes(), NOW, &state);
        assert!(
            matches!(received, Ok(Received::Stored { .. })),
            "{received:?}"
        );
    }
}

fn state_dir(w: &Workdir) -> std::path::PathBuf {
    syncline::state::dir_for(&w.path("p.yaml"), None)
}

/// The state on disk, in this process. sled's background threads may hold the one closed
/// just before for a moment: its lock is waited for, as long as it is held.
fn open_state(w: &Workdir) -> sled_store::SledStore {
    wait_until_closed(w);
    sled_store::open(&state_dir(w)).unwrap()
}

/// Until no handle of this process holds the state's lock (the binary run next takes it).
fn wait_until_closed(w: &Workdir) {
    let lock = state_dir(w).join("db");
    for _ in 0..1000 {
        match std::fs::File::open(&lock).map(|f| f.try_lock()) {
            Ok(Err(std::fs::TryLockError::WouldBlock)) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => return,
        }
    }
    panic!("the state stayed open");
}

/// The notifications a job has not processed yet.
fn waiting(w: &Workdir, job: &str) -> usize {
    let state = open_state(w);
    let id = JobId {
        pipeline: "hooks".into(),
        job: job.into(),
    };
    state.inbox(&id, 0, usize::MAX).unwrap().len()
}

/// WooCommerce order notifications into the shop double's `order` entity, through the ID map;
/// a create left in doubt is found again by reference.
fn shop_pipeline(shop: &Shop) -> String {
    format!(
        r#"version: 1
name: hooks
connections:
  woocommerce_hooks:
    webhook:
      secret: "${{secret.WC_WEBHOOK_SECRET}}"
      signature: {{ header: {SIGNATURE}, algorithm: hmac-sha256, encoding: base64 }}
  erp: {{ http: {{ base_url: "{url}" }} }}
jobs:
  orders:
    from: {{ webhook: {{ connection: woocommerce_hooks, path: /hooks/woocommerce/orders }} }}
    map:
      reference: {{ path: $.id, as: string }}
      status: $.status
      quantity: $.line_items[0].quantity
    to:
      http:
        connection: erp
        entity: order
        key: $.reference
        create: {{ method: POST, path: /orders }}
        update: {{ method: PUT, path: "/orders/{{target_id}}" }}
        id: $.order.id
        resolve:
          - name: reference
            value: $.reference
            request: {{ path: /orders, query: {{ "filter[reference]": "[{{value}}]" }} }}
            ids: $.orders[*].id
"#,
        url = shop.url
    )
}

fn workdir(pipeline: &str) -> Workdir {
    let w = Workdir::new();
    w.write("p.yaml", pipeline);
    w.write(".secrets", format!("WC_WEBHOOK_SECRET={SECRET}\n"));
    w
}

/// `run p.yaml --secrets .secrets`: exit code and report.
fn run(w: &Workdir) -> (i32, Value) {
    wait_until_closed(w);
    w.run("p.yaml", &["--secrets", ".secrets"])
}

#[test]
fn a_signed_order_reaches_the_target_and_refused_ones_leave_nothing() {
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let plan = plan(&w);
    let routes = plan.webhooks();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].path, "/hooks/woocommerce/orders");
    assert_eq!(plan.jobs[routes[0].job].name, "orders");

    let body = order(727, "processing", 2).to_string();
    let signature = woocommerce_signature(body.as_bytes());
    let other = woocommerce_signature(order(728, "processing", 2).to_string().as_bytes());
    // Wrong signature, none, one made with another secret: 401, nothing stored.
    let wrong_secret = {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"guessed").unwrap();
        mac.update(body.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    for headers in [
        vec![(SIGNATURE, other)],
        vec![("Content-Type", "application/json".to_string())],
        vec![(SIGNATURE, wrong_secret)],
    ] {
        let refusal = post(&w, &plan, "orders", &headers, body.as_bytes()).unwrap_err();
        assert_eq!(refusal.status(), 401, "{refusal}");
        assert!(!refusal.to_string().contains("727"), "no body in {refusal}");
    }
    assert_eq!(waiting(&w, "orders"), 0);

    let headers = [(SIGNATURE, signature)];
    let stored = post(&w, &plan, "orders", &headers, body.as_bytes()).unwrap();
    assert!(matches!(stored, Received::Stored { .. }));
    // The same delivery again: a replay, refused.
    let replay = post(&w, &plan, "orders", &headers, body.as_bytes()).unwrap_err();
    assert_eq!(replay.status(), 401);
    assert!(replay.to_string().contains("replay"), "{replay}");
    assert_eq!(waiting(&w, "orders"), 1);

    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(common::delivered(&report, "orders")["created"], 1);
    let orders = shop.records("order");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["reference"], "727");
    assert_eq!(orders[0]["status"], "processing");
    assert_eq!(waiting(&w, "orders"), 0, "processed, out of the inbox");

    // Nothing waits: the next run reads nothing and writes nothing.
    shop.clear_writes();
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(common::job(&report, "orders")["read"], 0);
    assert!(shop.writes().is_empty());

    // The order changes: its new notification updates it; one equal to what was sent
    // changes nothing.
    notify(&w, &plan, "orders", &order(727, "completed", 2));
    let (_, report) = run(&w);
    assert_eq!(
        common::delivered(&report, "orders")["updated"],
        1,
        "{report:#}"
    );
    assert_eq!(shop.records("order")[0]["status"], "completed");
    let mut same = order(727, "completed", 2);
    same["date_modified_gmt"] = json!("2026-01-05T10:00:00");
    notify(&w, &plan, "orders", &same);
    let (_, report) = run(&w);
    assert_eq!(
        common::delivered(&report, "orders")["unchanged"],
        1,
        "{report:#}"
    );
    assert_eq!(shop.writes().len(), 1);
}

#[test]
fn a_run_of_some_keys_leaves_the_notifications_for_a_whole_run() {
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let plan = plan(&w);
    notify_all(
        &w,
        &plan,
        "orders",
        &[order(41, "processing", 1), order(42, "processing", 1)],
    );
    wait_until_closed(&w);
    let (code, report) = w.run(
        "p.yaml",
        &["--secrets", ".secrets", "--job", "orders", "--key", "41"],
    );
    assert_eq!(code, 0, "{report:#}");
    let references: Vec<Value> = shop
        .records("order")
        .iter()
        .map(|r| r["reference"].clone())
        .collect();
    assert_eq!(references, [json!("41")]);
    assert_eq!(
        waiting(&w, "orders"),
        2,
        "42's notification is still to process"
    );
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        common::delivered(&report, "orders")["created"],
        1,
        "{report:#}"
    );
    assert_eq!(
        common::delivered(&report, "orders")["unchanged"],
        1,
        "{report:#}"
    );
    assert_eq!(waiting(&w, "orders"), 0);
}

#[cfg(unix)]
#[test]
fn two_hundred_notifications_are_processed_once_though_the_run_is_killed() {
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let plan = plan(&w);
    // 150 orders, then 50 of them again with a new quantity, in arrival order.
    let bodies: Vec<Value> = (0..150)
        .map(|id| order(id, "processing", 1))
        .chain((0..50).map(|id| order(id * 3, "processing", 5)))
        .collect();
    notify_all(&w, &plan, "orders", &bodies);
    assert_eq!(waiting(&w, "orders"), 200);

    // The shop applies 70 writes and then never answers: the run is killed there.
    shop.stall_after(Some(70));
    wait_until_closed(&w);
    let mut child = common::syncline()
        .current_dir(w.dir.path())
        .args(["run", "p.yaml", "--secrets", ".secrets"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while shop.writes().len() < 70 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    shop.stall_after(None);
    assert_eq!(
        waiting(&w, "orders"),
        200,
        "nothing left the inbox uncommitted"
    );

    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(waiting(&w, "orders"), 0);
    let orders = shop.records("order");
    assert_eq!(orders.len(), 150, "every order, once");
    for record in &orders {
        let id: u64 = record["reference"].as_str().unwrap().parse().unwrap();
        let expected = if id.is_multiple_of(3) { 5 } else { 1 };
        assert_eq!(
            record["quantity"], expected,
            "order {id} has its last version"
        );
    }
    let mut creates = std::collections::HashMap::new();
    for write in shop.writes().iter().filter(|w| w.method == "POST") {
        *creates
            .entry(write.body["reference"].to_string())
            .or_insert(0) += 1;
    }
    assert!(
        creates.values().all(|&n| n == 1),
        "created twice: {creates:?}"
    );
}

#[test]
fn the_shipped_woocommerce_example_writes_notified_orders_to_the_erp_table() {
    let example = common::repo_root().join("examples/woocommerce-webhooks/orders.yaml");
    let text = std::fs::read_to_string(example).unwrap();
    let w = workdir(&text.replace("name: woocommerce-orders-webhook", "name: hooks"));
    sql(
        &w,
        "CREATE TABLE web_order_lines (line_id INTEGER PRIMARY KEY, order_id INTEGER, \
         number TEXT, status TEXT, ordered_at TEXT, email TEXT, sku TEXT, name TEXT, \
         quantity INTEGER, price NUMERIC, order_total NUMERIC)",
    );
    let plan = plan(&w);
    notify(&w, &plan, "orders", &order(501, "pending", 1));
    notify(&w, &plan, "orders", &order(501, "processing", 1));
    notify(&w, &plan, "orders", &order(502, "processing", 3));
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        common::job(&report, "orders")["filtered"],
        1,
        "the pending one"
    );
    let rows = sql(
        &w,
        "SELECT line_id, status, quantity FROM web_order_lines ORDER BY line_id",
    );
    assert_eq!(rows, "1501|processing|1\n1502|processing|3\n");
    assert_eq!(waiting(&w, "orders"), 0);
}

/// Runs `statement` on the example's `erp.db` with the sqlite3 shell: what it prints.
fn sql(w: &Workdir, statement: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(w.path("erp.db"))
        .arg(statement)
        .output()
        .expect("the sqlite3 shell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const THEN_PIPELINE: &str = r#"version: 1
name: hooks
connections:
  gomag_hooks:
    webhook:
      secret: "${secret.WC_WEBHOOK_SECRET}"
      signature: { header: X-WC-Webhook-Signature }
  gomag: { http: { base_url: "http://127.0.0.1:9/api/v1" } }
jobs:
  notified:
    from: { webhook: { connection: gomag_hooks, path: /hooks/gomag/orders } }
    then: { run: orders, key: $.id }
  orders:
    from: { http: { connection: gomag, path: /order/read/json, records: $.orders } }
    to: { file: { path: orders.ndjson, key: $.id } }
"#;

#[test]
fn a_then_job_names_the_keys_of_the_records_its_job_pulls() {
    let w = workdir(THEN_PIPELINE);
    let plan = plan(&w);
    let route = plan.webhooks()[0];
    assert_eq!(route.path, "/hooks/gomag/orders");
    let body = json!({ "id": 9001, "event": "order.new" });
    notify(&w, &plan, "notified", &body);
    // A form-encoded notification reads as its fields.
    let form = b"id=9002&event=order.new";
    let headers = [
        (SIGNATURE, woocommerce_signature(form)),
        ("Content-Type", "application/x-www-form-urlencoded".into()),
    ];
    assert!(post(&w, &plan, "notified", &headers, form).is_ok());

    let state = open_state(&w);
    let pending = state.inbox(&route.endpoint.job, 0, 10).unwrap();
    let keys: Vec<(usize, Vec<String>)> = pending
        .iter()
        .map(|(_, n)| plan.trigger_keys(route.job, n).unwrap())
        .collect();
    let orders = plan.jobs.iter().position(|j| j.name == "orders").unwrap();
    assert_eq!(
        keys,
        [
            (orders, vec!["9001".to_string()]),
            (orders, vec!["9002".to_string()])
        ]
    );
    assert!(plan.trigger_keys(orders, &pending[0].1).is_none());
    drop(state);
    wait_until_closed(&w);

    // A run does not pull them: it says they wait for `serve`, and keeps them.
    let out = w.syncline(&["run", "p.yaml", "--secrets", ".secrets", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notified = common::job(&report, "notified");
    assert_eq!(notified["status"], "skipped", "{report:#}");
    assert!(
        notified["reason"]
            .as_str()
            .unwrap()
            .contains("2 notifications wait"),
        "{report:#}"
    );
    assert_eq!(waiting(&w, "notified"), 2);
}

#[test]
fn a_dry_run_shows_waiting_notifications_and_keeps_them_and_an_export_carries_them() {
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let plan = plan(&w);
    notify(&w, &plan, "orders", &order(31, "processing", 1));
    notify(&w, &plan, "orders", &order(32, "processing", 1));

    wait_until_closed(&w);
    let out = w.syncline(&[
        "dry-run",
        "p.yaml",
        "--secrets",
        ".secrets",
        "--format",
        "json",
    ]);
    let dry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["jobs"][0]["summary"]["create"], 2, "{dry:#}");
    assert!(shop.writes().is_empty());
    assert_eq!(waiting(&w, "orders"), 2);

    // Exported, imported into an empty state: the notifications still wait there, in order.
    wait_until_closed(&w);
    let out = w.syncline(&["state", "export", "p.yaml", "--out", "state.jsonl"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        w.read("state.jsonl")
            .matches("\"kind\":\"notification\"")
            .count(),
        2
    );
    std::fs::remove_dir_all(state_dir(&w)).unwrap();
    let out = w.syncline(&["state", "import", "p.yaml", "--from", "state.jsonl"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = open_state(&w);
    let pending = state
        .inbox(&plan.webhooks()[0].endpoint.job, 0, 10)
        .unwrap();
    let ids: Vec<&Value> = pending.iter().map(|(_, n)| &n.body["id"]).collect();
    assert_eq!(ids, [&json!(31), &json!(32)]);
}

#[test]
fn validate_takes_the_shipped_example_and_a_then_pipeline() {
    let example = common::repo_root().join("examples/woocommerce-webhooks/orders.yaml");
    let w = workdir(THEN_PIPELINE);
    for path in [example.to_str().unwrap(), "p.yaml"] {
        let (code, text) = w.printed(&["validate", path]);
        assert_eq!(code, 0, "{text}");
    }
}

// ---- through `syncline serve` ----

const PATH: &str = "/hooks/woocommerce/orders";

/// Posts a body to `serve` as WooCommerce does, signed (or with `signature` instead): the
/// status, or `None` when the server did not answer.
fn deliver(url: &str, body: &str, signature: Option<&str>) -> Option<u16> {
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header(SIGNATURE, signature);
    }
    request.send().ok().map(|a| a.status().as_u16())
}

fn created_references(shop: &Shop) -> Vec<String> {
    shop.writes()
        .iter()
        .filter(|w| w.method == "POST")
        .map(|w| w.body["reference"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn serve_takes_signed_notifications_at_once_and_refuses_the_rest_with_401() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let served = Served::start(&w, &["--secrets", ".secrets"]);
    let url = served.url(PATH);
    let body = order(7001, "processing", 2).to_string();
    let signature = woocommerce_signature(body.as_bytes());
    assert_eq!(deliver(&url, &body, Some(&signature)), Some(200));
    served.wait_for("the notified order on the shop", |_| {
        created_references(&shop) == ["7001"]
    });
    // Wrong, missing, or replayed: 401, and nothing more reaches the shop.
    let other = order(7002, "processing", 1).to_string();
    assert_eq!(deliver(&url, &other, Some(&signature)), Some(401));
    assert_eq!(deliver(&url, &other, None), Some(401));
    assert_eq!(deliver(&url, &body, Some(&signature)), Some(401));
    let forged = woocommerce_signature(b"another body");
    assert_eq!(deliver(&url, &other, Some(&forged)), Some(401));
    assert_eq!(
        deliver(&served.url("/hooks/nobody"), &body, Some(&signature)),
        Some(404)
    );
    served.wait_for("the job idle", |s| s.job("orders")["running"] == false);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(created_references(&shop), ["7001"]);
    assert_eq!(shop.writes().len(), 1, "{:?}", shop.writes());
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("notification refused"), "{log}");
    // Logged without the body or the secret.
    assert!(!log.contains("client7002@example.ro"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
}

#[test]
fn two_hundred_notifications_in_a_second_are_processed_once_though_serve_is_killed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shop = Shop::start();
    let w = workdir(&shop_pipeline(&shop));
    let served = Served::start(&w, &["--secrets", ".secrets"]);
    let port = served.port;
    let url = served.url(PATH);
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Eight senders, 25 orders each, as fast as they can; a delivery without an answer is
    // sent again until it is answered (a replay of one stored before the kill gets 401).
    let senders: Vec<_> = (0..8u64)
        .map(|sender| {
            let url = url.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for n in 0..25u64 {
                    let body = order(10_000 + sender * 100 + n, "processing", 1).to_string();
                    let signature = woocommerce_signature(body.as_bytes());
                    let mut unanswered = false;
                    let start = std::time::Instant::now();
                    loop {
                        match deliver(&url, &body, Some(&signature)) {
                            Some(200) => break,
                            Some(401) if unanswered => break,
                            Some(status) => panic!("{status} for a first delivery"),
                            None => {
                                unanswered = true;
                                assert!(start.elapsed().as_secs() < 60, "serve never came back");
                                std::thread::sleep(std::time::Duration::from_millis(50));
                            }
                        }
                    }
                    acknowledged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Killed in the middle, then started again on its port.
    while acknowledged.load(std::sync::atomic::Ordering::Relaxed) < 80 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    served.kill();
    let served = Served::start_on(&w, port, &["--secrets", ".secrets"]);
    for sender in senders {
        sender.join().unwrap();
    }
    served.wait_for("all 200 orders on the shop", |_| {
        let mut created = created_references(&shop);
        created.sort();
        created.dedup();
        created.len() == 200
    });
    served.wait_for("the inbox empty", |s| s.job("orders")["running"] == false);
    let created = created_references(&shop);
    let mut unique = created.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(created.len(), unique.len(), "an order was created twice");
    assert_eq!(unique.len(), 200);
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
}
