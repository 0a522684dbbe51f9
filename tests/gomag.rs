//! End to end against the Gomag double: products written as `data=<JSON>` form fields (a
//! product the shop already has is linked by SKU and left alone), price and stock through
//! `product/inventory/json` by SKU, batched in one combined call (an upsert: only what changed
//! is sent again), orders read from lists keyed by id, page by page, newest first: Gomag
//! filters orders on the day they were placed, not on their last change, so the days of a
//! look-back are read again and only the orders that changed are kept; statuses pushed back
//! by the shop's status ids and the orders' internal ids, as the live API takes them; all
//! within the shop's leaky buckets. Then the double's own rules, asked directly.

mod common;

use common::Workdir;
use common::gomag::{API_KEY, Gomag, SHOP, STATUSES};
use serde_json::{Value, json};

fn pipeline(gomag: &Gomag) -> String {
    format!(
        r#"version: 1
name: gomag
connections:
  gomag:
    http:
      base_url: "{url}"
      auth: {{ headers: {{ Apikey: "${{secret.GOMAG_KEY}}", ApiShop: "{SHOP}" }} }}
      body: form
      rate_limit: "4/s, burst 8"
tables:
  gomag_status:
    map: {{ LIVRAT: 2, ANULAT: 4 }}
    unmapped: reject
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      sku: $.ref
      name: $.name
    to:
      http:
        connection: gomag
        entity: product
        key: $.sku
        create: {{ method: POST, path: /product/write/json, body: {{ data: ["{{record}}"] }} }}
        update: {{ method: POST, path: /product/patch/json, body: {{ data: [{{ id: "{{target_id}}", name: "{{name}}" }}] }} }}
        id: $.products[0].id
        on_match: link_only
        resolve:
          - {{ name: sku, value: $.sku, request: {{ path: /product/read/json, query: {{ sku: "{{value}}" }} }}, ids: "$.products.*.id" }}
  inventory:
    needs: [products]
    from: {{ file: {{ path: products.csv }} }}
    map:
      sku: $.ref
      price: {{ path: $.price, as: decimal, scale: 2 }}
      stock: {{ path: $.stock, as: integer }}
    to:
      http:
        connection: gomag
        entity: inventory
        key: $.sku
        upsert: true
        batch: {{ request: {{ method: POST, path: /product/inventory/json, body: {{ data: "{{records}}" }} }}, results: $.products }}
  order_status:
    from: {{ file: {{ path: erp_status.csv }} }}
    map:
      order: {{ path: $.order, as: integer }}
      status: {{ path: $.etat, table: gomag_status }}
    to:
      http:
        connection: gomag
        entity: order_status
        key: $.order
        upsert: true
        update: {{ method: POST, path: /order/status/json, body: {{ data: {{ orders: [ {{ order: "{{order}}", status: "{{status}}" }} ] }} }} }}
  orders:
    needs: [order_status]
    from:
      http:
        connection: gomag
        path: /order/read/json
        query: {{ dateFrom: "{{cursor}}", limit: "100" }}
        records: $.orders
        paginate: {{ page_number: {{ total_pages: $.pages }} }}
    cursor: {{ expr: 'rec.date.sub_string(0, 10)', tie_breaker: $.id, initial: "2026-01-01", lookback: 30d }}
    map:
      id: $.id
      number: $.number
      status: $.status
      customer: $.billing.email
      lines: $.items
    to: {{ file: {{ path: orders.ndjson, key: $.id, only_changed: true }} }}
"#,
        url = gomag.url()
    )
}

fn catalog(prices: &[(usize, &str)]) -> String {
    let mut csv = String::from("ref,name,price,stock\n");
    for n in 0..10 {
        let price = prices
            .iter()
            .find(|(at, _)| *at == n)
            .map_or_else(|| format!("{}.90", 10 + n), |(_, p)| p.to_string());
        csv.push_str(&format!("G{n:04},Produs {n},{price},{}\n", n * 3));
    }
    csv
}

#[test]
fn products_inventory_orders_and_statuses_against_gomag() {
    // A shop whose buckets take 5 requests a second, 10 at once (the numbers bapp-connectors'
    // README.md gives); the pipeline stays under them.
    let gomag = Gomag::start_with_limits(5.0, 10.0);
    let order_ids: Vec<u64> = {
        let mut store = gomag.store.lock().unwrap();
        store.insert(
            "products",
            json!({"sku": "G0003", "name": "Nume din magazin"}),
        );
        (0..120)
            .map(|n| {
                store.insert_order(json!({
                    "number": format!("{}", 5000 + n),
                    "status": "Comanda NEW",
                    "billing": {"email": format!("client{n}@example.ro")},
                    "items": {"1": {"sku": "G0001", "quantity": "1", "price": "11.90"}},
                }))
            })
            .collect()
    };
    let w = Workdir::new();
    w.write(".secrets", format!("GOMAG_KEY={API_KEY}\n"));
    w.write("p.yaml", pipeline(&gomag));
    w.write("products.csv", catalog(&[]));
    w.write("erp_status.csv", "order,etat\n");

    let report = w.run_ok();
    let d = common::delivered(&report, "products");
    assert_eq!(
        (d["created"].as_u64(), d["linked"].as_u64()),
        (Some(9), Some(1)),
        "{d}"
    );
    assert_eq!(common::delivered(&report, "inventory")["updated"], 10);
    assert_eq!(
        gomag.store.lock().unwrap().inventory_calls,
        vec![10],
        "price and stock of every product in one combined call"
    );
    {
        let store = gomag.store.lock().unwrap();
        assert_eq!(
            store.all("products").len(),
            10,
            "the shop's G0003 is not duplicated"
        );
        let g3 = store.product("G0003").unwrap();
        assert_eq!(
            g3["name"], "Nume din magazin",
            "link_only leaves its details"
        );
        assert_eq!(
            g3["price"], 13.9,
            "price and stock come through the inventory call"
        );
        assert_eq!(g3["stock"], 9);
    }
    let orders = w.ndjson("orders.ndjson");
    assert_eq!(
        orders.len(),
        120,
        "every order, over 2 pages of a keyed list"
    );
    assert!(
        orders.iter().any(|o| o["customer"] == "client0@example.ro"),
        "the oldest order too, on the last page"
    );

    // One price changes in the ERP; one order changes in the shop; the ERP delivered two.
    // G0005 was deleted by hand in the shop and its price changes too: that line of the
    // combined call is refused on its own.
    {
        let mut store = gomag.store.lock().unwrap();
        store.writes.clear();
        let g5: u64 = store.product("G0005").unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        store.remove("products", g5);
        assert!(store.set_status(order_ids[50], 3), "In curs de procesare");
    }
    w.write("products.csv", catalog(&[(1, "12.50"), (5, "99")]));
    w.write(
        "erp_status.csv",
        format!(
            "order,etat\n{},LIVRAT\n{},ANULAT\n",
            order_ids[0], order_ids[1]
        ),
    );
    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 3, "G0005's line is quarantined: {report:#}");
    let reasons = common::job(&report, "inventory")["reasons"].to_string();
    assert!(reasons.contains("sku `G0005` not found (23)"), "{reasons}");
    assert_eq!(common::delivered(&report, "products")["unchanged"], 10);
    let inventory = common::delivered(&report, "inventory");
    assert_eq!(
        (
            inventory["updated"].as_u64(),
            inventory["unchanged"].as_u64()
        ),
        (Some(1), Some(8))
    );
    {
        let store = gomag.store.lock().unwrap();
        let calls: Vec<&(String, String)> = store.writes.iter().collect();
        assert_eq!(
            calls.len(),
            3,
            "one inventory line and two statuses: {calls:?}"
        );
        assert_eq!(
            store.inventory_calls,
            vec![10, 2],
            "only the changed products"
        );
        assert_eq!(store.product("G0001").unwrap()["price"], 12.5);
        // The shop took them: its status ids 2 and 4, by the orders' internal ids.
        let order = |n: usize| store.get("orders", order_ids[n]).unwrap();
        assert_eq!(
            (order(0)["statusId"].as_str(), order(0)["status"].as_str()),
            (Some("2"), Some("Livrata"))
        );
        assert_eq!(
            (order(1)["statusId"].as_str(), order(1)["status"].as_str()),
            (Some("4"), Some("Anulata"))
        );
        assert_eq!(
            order(2)["statusId"],
            "1",
            "the others are left as they were"
        );
    }
    // Every order of the look-back's days is read again; only the three that changed are kept.
    let changed = w.sorted_field("orders.ndjson", "number");
    assert_eq!(changed, vec!["5000", "5001", "5050"]);

    // G0005's price back to what the shop last took: a third run sends nothing and imports no
    // order again.
    w.write("products.csv", catalog(&[(1, "12.50")]));
    gomag.store.lock().unwrap().writes.clear();
    w.run_ok();
    assert!(gomag.store.lock().unwrap().writes.is_empty());
    assert!(w.ndjson("orders.ndjson").is_empty());
    assert_eq!(
        gomag.store.lock().unwrap().refused,
        0,
        "never past the shop's buckets"
    );
}

#[test]
fn a_missing_api_key_header_is_reported_with_gomags_error() {
    let gomag = Gomag::start();
    let w = Workdir::new();
    w.write(".secrets", "GOMAG_KEY=not-the-key-123\n");
    w.write("p.yaml", pipeline(&gomag));
    w.write("products.csv", catalog(&[]));
    w.write("erp_status.csv", "order,etat\n");
    let (code, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("Missing Api User"), "{text}");
    assert!(!text.contains("not-the-key-123"), "{text}");
}

#[test]
fn the_shipped_gomag_template_runs_against_the_double() {
    // A shop with Gomag's default limits: one request a second.
    let gomag = Gomag::start();
    {
        let mut store = gomag.store.lock().unwrap();
        store.insert("products", json!({"sku": "G0002", "name": "Din magazin"}));
        for n in 0..3 {
            store.insert_order(
                json!({"number": format!("{}", 7000 + n), "status": "Comanda NEW",
                       "billing": {"email": format!("c{n}@example.ro"), "phone": "0722000000"},
                       "items": [{"sku": "G0001", "quantity": "1"}]}),
            );
        }
    }
    let w = Workdir::new();
    w.write(
        "p.yaml",
        std::fs::read_to_string(common::repo_root().join("pipelines/gomag/erp-gomag-sync.yaml"))
            .unwrap(),
    );
    w.write(".secrets", format!("GOMAG_API_KEY={API_KEY}\n"));
    let products = |g1_price: &str| {
        format!(
            "code,name,ean,price,stock,no_price_sync,no_stock_sync\n\
             G0001,Masa,5940000000011,{g1_price},4,0,0\n\
             G0002,Scaun,5940000000028,49.9,12,0,0\n\
             G0003,Lampa,5940000000035,89,7,0,1\n"
        )
    };
    w.write("erp-export/products.csv", products("199"));
    w.write("erp-export/order-status.csv", "gomag_order,status\n");
    let url = gomag.url();
    let env = [("GOMAG_URL", url.as_str()), ("GOMAG_SHOP", SHOP)];
    let run = |w: &Workdir| w.run_ok_with_env(&env);

    let report = run(&w);
    let d = common::delivered(&report, "products");
    assert_eq!(
        (d["created"].as_u64(), d["linked"].as_u64()),
        (Some(2), Some(1)),
        "{d}"
    );
    {
        let store = gomag.store.lock().unwrap();
        assert_eq!(store.inventory_calls, vec![3], "one combined call");
        assert_eq!(store.product("G0002").unwrap()["name"], "Din magazin");
        let g3 = store.product("G0003").unwrap();
        assert_eq!(g3["price"], 89);
        assert!(g3.get("stock").is_none(), "G0003 opted out of stock: {g3}");
        assert!(g3.get("no_stock").is_none(), "flags are not sent: {g3}");
    }
    assert_eq!(w.ndjson("erp-import/gomag-orders.ndjson").len(), 3);

    // A price changes; the ERP delivers an order and cancels another. The ERP knows them by
    // the internal id the orders job imported (`order`), not by their number.
    let imported = w.ndjson("erp-import/gomag-orders.ndjson");
    let id_of = |number: &str| {
        let order = imported.iter().find(|o| o["number"] == number).unwrap();
        order["order"].as_str().unwrap().to_string()
    };
    let (delivered, cancelled) = (id_of("7000"), id_of("7001"));
    assert_ne!(delivered, "7000", "the internal id is not the number");
    w.write("erp-export/products.csv", products("189"));
    w.write(
        "erp-export/order-status.csv",
        format!("gomag_order,status\n{delivered},LIVRATA\n{cancelled},ANULATA\n"),
    );
    run(&w);
    let store = gomag.store.lock().unwrap();
    assert_eq!(store.inventory_calls, vec![3, 1], "only the changed price");
    assert_eq!(store.product("G0001").unwrap()["price"], 189);
    // The template's table maps LIVRATA to the shop's status 2 and ANULATA to 4.
    let order = |id: &str| store.get("orders", id.parse().unwrap()).unwrap();
    assert_eq!(
        (
            order(&delivered)["statusId"].as_str(),
            order(&delivered)["status"].as_str()
        ),
        (Some("2"), Some("Livrata"))
    );
    assert_eq!(
        (
            order(&cancelled)["statusId"].as_str(),
            order(&cancelled)["status"].as_str()
        ),
        (Some("4"), Some("Anulata"))
    );
    let untouched = store
        .all("orders")
        .into_iter()
        .find(|o| o["number"] == "7002")
        .unwrap();
    assert_eq!(untouched["statusId"], "1", "{untouched}");
    assert_eq!(
        store.refused, 0,
        "the template stays within the default limits"
    );
    drop(store);

    // A status for an order the shop does not have: Gomag answers 200 NO DATA and changes
    // nothing; the template's `refused_when` quarantines it instead of counting it sent.
    w.write(
        "erp-export/order-status.csv",
        format!("gomag_order,status\n{delivered},LIVRATA\n{cancelled},ANULATA\n999999,LIVRATA\n"),
    );
    let (code, report) = w.run_with_env("p.yaml", &["--secrets", ".secrets"], &env);
    assert_eq!(code, 3, "{report:#}");
    let reasons = common::job(&report, "order_status")["reasons"].to_string();
    assert!(reasons.contains("refused: NO DATA"), "{reasons}");
    let (code, report) = w.run_with_env("p.yaml", &["--secrets", ".secrets"], &env);
    assert_eq!(code, 3, "still refused, never taken as sent: {report:#}");
}

/// A request to the double as a client of Gomag sends it: its status, its rate-limit headers
/// and its body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn ask(gomag: &Gomag, call: &str, user_agent: &str, data: Option<Value>) -> Answer {
    let agent = common::http_client();
    let url = format!("{}/{call}", gomag.url());
    let answer = match data {
        None => agent
            .get(&url)
            .header("Apikey", API_KEY)
            .header("ApiShop", SHOP)
            .header("User-Agent", user_agent)
            .send(),
        Some(data) => {
            let form = format!(
                "data={}",
                data.to_string()
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            );
            agent
                .post(&url)
                .header("Apikey", API_KEY)
                .header("ApiShop", SHOP)
                .header("User-Agent", user_agent)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
        }
    };
    let answer = answer.unwrap();
    let headers = answer
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let status = answer.status().as_u16();
    let text = answer.text().unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

const AGENT: &str = "erp-connector/1.0";

#[test]
fn past_its_leaky_bucket_gomag_answers_429_and_its_headers_tell_the_limits() {
    // Gomag: gomag-mcp README.md: a leaky bucket for reads and one for writes, their rate,
    // burst and what remains in `Api-RateLimit-*` headers, 429 past it.
    let gomag = Gomag::start();
    let first = ask(&gomag, "product/read/json", AGENT, None);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Api-RateLimit-Read"), Some("1"));
    assert_eq!(first.header("Api-RateLimit-Read-Burst"), Some("2"));
    assert_eq!(first.header("Api-RateLimit-Read-Remaining"), Some("1"));
    let second = ask(&gomag, "product/read/json", AGENT, None);
    assert_eq!(second.header("Api-RateLimit-Read-Remaining"), Some("0"));
    let third = ask(&gomag, "product/read/json", AGENT, None);
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(gomag.store.lock().unwrap().refused, 1);
    // Writes have a bucket of their own.
    let write = ask(
        &gomag,
        "product/write/json",
        AGENT,
        Some(json!([{"sku": "B1", "name": "Banca"}])),
    );
    assert_eq!(write.status, 200, "{}", write.body);
    assert_eq!(write.header("Api-RateLimit-Write-Remaining"), Some("1"));
    // A second later the read bucket has room again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(ask(&gomag, "product/read/json", AGENT, None).status, 200);
}

#[test]
fn postmans_default_user_agent_is_refused() {
    // Gomag: gomag-mcp client.py ("Gomag rejects the default PostmanRuntime value").
    let gomag = Gomag::start_with_limits(50.0, 50.0);
    let postman = ask(&gomag, "product/read/json", "PostmanRuntime/7.39.0", None);
    assert_eq!(postman.status, 403, "{}", postman.body);
    assert_eq!(ask(&gomag, "product/read/json", AGENT, None).status, 200);
}

#[test]
fn orders_come_newest_first_and_date_from_is_the_day_they_were_placed() {
    // Gomag: gomag-mcp tools/order.py (`dateFrom`: orders placed on or after a YYYY-MM-DD
    // day); the order readers that stop at the first order older than the day they want.
    let gomag = Gomag::start_with_limits(50.0, 50.0);
    let ids: Vec<u64> = {
        let mut store = gomag.store.lock().unwrap();
        (0..3)
            .map(|n| {
                store.insert_order(
                    json!({"number": format!("{}", 9000 + n), "status": "Comanda NEW"}),
                )
            })
            .collect()
    };
    // A status changed later does not move the order.
    assert!(gomag.store.lock().unwrap().set_status(ids[0], 2));
    let all = ask(&gomag, "order/read/json?dateFrom=2026-11-01", AGENT, None);
    assert_eq!(all.status, 200, "{}", all.body);
    let listed: Vec<&str> = all.body["orders"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["9002", "9001", "9000"], "the newest first");
    let first = &all.body["orders"][ids[0].to_string()];
    assert_eq!(first["status"], "Livrata");
    assert!(
        first.get("updated").is_none(),
        "no last-change time on an order: {first}"
    );
    assert!(first["date"].as_str().unwrap().starts_with("2026-11-01 "));
    let later = ask(&gomag, "order/read/json?dateFrom=2026-11-02", AGENT, None);
    assert_eq!(later.body["total"], 0, "{}", later.body);
    let until = ask(&gomag, "order/read/json?dateTo=2026-10-31", AGENT, None);
    assert_eq!(until.body["total"], 0, "{}", until.body);
    let timed = ask(
        &gomag,
        "order/read/json?dateFrom=2026-11-01%2010:00:00",
        AGENT,
        None,
    );
    assert_eq!(timed.status, 400, "a day, not a time: {}", timed.body);
}

#[test]
fn a_product_is_patched_by_its_id_or_its_sku() {
    // Gomag: gomag-mcp tools/product.py ("Must include an identifier field (id or sku)").
    let gomag = Gomag::start_with_limits(50.0, 50.0);
    let id = gomag
        .store
        .lock()
        .unwrap()
        .insert("products", json!({"sku": "P1", "name": "Vechi"}));
    let by_sku = ask(
        &gomag,
        "product/patch/json",
        AGENT,
        Some(json!([{"sku": "P1", "name": "Nou"}])),
    );
    assert_eq!(by_sku.status, 200, "{}", by_sku.body);
    assert_eq!(
        gomag.store.lock().unwrap().product("P1").unwrap()["name"],
        "Nou"
    );
    let by_id = ask(
        &gomag,
        "product/patch/json",
        AGENT,
        Some(json!([{"id": id.to_string(), "name": "Altul"}])),
    );
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    assert_eq!(
        gomag.store.lock().unwrap().product("P1").unwrap()["name"],
        "Altul"
    );
    let unknown = ask(
        &gomag,
        "product/patch/json",
        AGENT,
        Some(json!([{"sku": "NONE", "name": "x"}])),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

#[test]
fn a_status_is_set_by_its_id_on_the_orders_internal_id_and_the_old_form_changes_nothing() {
    // Gomag: bapp-connectors tests/shop/gomag/test_order_status_catalog_unit.py (live,
    // 2026-10-06): `data={"orders":[{"order":<internal id>,"status":<status id>}]}` answered
    // `{"error":"200"}`; the name/number form `{"error":"404","message":["NO DATA"]}`.
    let gomag = Gomag::start_with_limits(50.0, 50.0);
    let (first, second) = {
        let mut store = gomag.store.lock().unwrap();
        let first = store.insert_order(json!({"number": "2045", "status": "Comanda NEW"}));
        let second = store.insert_order(json!({"number": "2046", "status": "Comanda NEW"}));
        (first, second)
    };
    let order = |id: u64| gomag.store.lock().unwrap().get("orders", id).unwrap();
    assert_eq!(order(first)["statusId"], "1", "{}", order(first));

    // The shop's statuses, keyed by id, the merchant's own among them.
    let listed = ask(&gomag, "order/status/read/json", AGENT, None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["1"], json!({"id": "1", "name": "Comanda NEW"}));
    assert_eq!(
        listed.body["9"],
        json!({"id": "9", "name": "Pregatita de curier"})
    );
    assert_eq!(listed.body.as_object().unwrap().len(), STATUSES.len());

    // The live form: applied to every order it names.
    let live = ask(
        &gomag,
        "order/status/json",
        AGENT,
        Some(json!({"orders": [{"order": first, "status": 9}, {"order": second, "status": 2}]})),
    );
    assert_eq!(
        (live.status, &live.body),
        (200, &json!({"error": "200"})),
        "{}",
        live.body
    );
    assert_eq!(order(first)["statusId"], "9");
    assert_eq!(order(first)["status"], "Pregatita de curier");
    assert_eq!(order(second)["statusId"], "2");
    let read = ask(&gomag, &format!("order/read/json?id={first}"), AGENT, None);
    assert_eq!(
        read.body["orders"][first.to_string()]["status"],
        "Pregatita de curier",
        "{}",
        read.body
    );

    // What the live API does not take answers NO DATA and changes nothing: the old form (the
    // order's id and the status's name, in a POST or as bapp-connectors' former GET with the
    // customer's number), the number instead of the internal id, a status the shop does not
    // have, ids as text, a list with one unknown order.
    let no_data = json!({"error": "404", "message": ["NO DATA"]});
    let refused = [
        Some(json!({"id": first, "status": "Livrata"})),
        Some(json!({"orders": [{"order": 2045, "status": 2}]})),
        Some(json!({"orders": [{"order": first, "status": 7}]})),
        Some(json!({"orders": [{"order": first.to_string(), "status": "2"}]})),
        Some(json!({"orders": [{"order": first, "status": 2}, {"order": 999, "status": 2}]})),
        None,
    ];
    gomag.store.lock().unwrap().writes.clear();
    for data in refused {
        let answer = match &data {
            Some(data) => ask(&gomag, "order/status/json", AGENT, Some(data.clone())),
            None => ask(
                &gomag,
                "order/status/json?order_id=2045&status=Livrata",
                AGENT,
                None,
            ),
        };
        assert_eq!(answer.status, 200, "{data:?}: {}", answer.body);
        assert_eq!(answer.body, no_data, "{data:?}");
        assert_eq!(order(first)["statusId"], "9", "{data:?} changed nothing");
        assert_eq!(order(first)["status"], "Pregatita de curier");
    }
    assert!(gomag.store.lock().unwrap().writes.is_empty());
}
