//! End to end against the RO App v2 double, as the Cartum connector of seed 004 works: customers
//! de-duplicated by phone (a person RO App already has is linked, not created again), orders
//! created for them through the ID map, statuses pushed through a correspondence table when
//! they change, and RO App's orders pulled back from the last change on (an ISO 8601 time),
//! 50 a page, all within the API's 3 requests a second (the double counts every request over
//! it). Then the double's own rules, asked directly.

mod common;

use common::Workdir;
use common::roapp::{KEY, RoApp};
use serde_json::{Value, json};

fn pipeline(roapp: &RoApp) -> String {
    format!(
        r#"version: 1
name: cartum-roapp
connections:
  roapp:
    http:
      base_url: "{url}"
      auth: {{ bearer: {{ token: "${{secret.ROAPP_KEY}}" }} }}
      rate_limit: "5/2s, burst 1" # at most 3 in any second: RO App refuses a 4th
tables:
  cartum_status:
    map: {{ new: 1, processing: 2, shipped: 3, done: 4 }}
    unmapped: reject
jobs:
  customers:
    from: {{ file: {{ path: cartum_orders.ndjson }} }}
    map:
      customer_id: $.customer.id
      first_name: $.customer.first_name
      last_name: $.customer.last_name
      phones: {{ expr: '[#{{ phone: rec.customer.phone, title: "mobile" }}]' }}
    to:
      http:
        connection: roapp
        entity: person
        key: $.customer_id
        create: {{ method: POST, path: /contacts/people }}
        id: $.data.id
        on_match: link_only
        resolve:
          - {{ name: phone, value: "$.phones[0].phone", normalize: phone, country_code: "40", request: {{ path: /contacts/people, query: {{ "phones[]": "{{value}}" }} }}, ids: "$.data[*].id" }}
  orders:
    needs: [customers]
    from: {{ file: {{ path: cartum_orders.ndjson }} }}
    map:
      cartum_id: $.id
      client_id: {{ ref: person, key: $.customer.id, as: integer }}
      branch_id: {{ const: 1 }}
      order_type_id: {{ const: 2 }}
      custom_fields: {{ expr: '#{{ f5001: rec.id, f5002: rec.delivery }}' }}
    to:
      http:
        connection: roapp
        entity: order
        key: $.cartum_id
        create: {{ method: POST, path: /orders }}
        id: $.data.id
  statuses:
    needs: [orders]
    from: {{ file: {{ path: cartum_orders.ndjson }} }}
    steps:
      - filter: rec.status != "new"
    map:
      cartum_id: $.id
      order: {{ ref: order, key: $.id, as: integer }}
      status_id: {{ path: $.status, table: cartum_status }}
    to:
      http:
        connection: roapp
        entity: order_status
        key: $.cartum_id
        upsert: true
        update: {{ method: POST, path: "/orders/{{order}}/status" }}
  roapp_orders:
    needs: [statuses]
    from:
      http:
        connection: roapp
        path: /orders
        query: {{ "modified_at[]": "{{cursor}}", sort: modified_at }}
        records: $.data
        paginate: {{ page_number: {{ total_pages: $.paging.total_pages }} }}
    cursor: {{ field: $.modified_at, tie_breaker: $.id, initial: "2026-01-01T00:00:00Z" }}
    map:
      id: $.id
      cartum_id: $.custom_fields.f5001
      status: $.status.name
    to: {{ file: {{ path: roapp_orders.ndjson }} }}
"#,
        url = roapp.url()
    )
}

/// Cartum's orders: customer `n % 12`, every fourth order in processing.
fn cartum_orders(count: usize, status_of: &dyn Fn(usize) -> &'static str) -> String {
    (0..count)
        .map(|n| {
            let c = n % 12;
            let phone = if c == 0 {
                "0722 000 001".to_string()
            } else {
                format!("0733 {c:03} {c:03}")
            };
            format!(
                "{}\n",
                json!({
                    "id": format!("C{n:04}"),
                    "status": status_of(n),
                    "delivery": format!("Nova Poshta, branch {c}"),
                    "customer": {"id": format!("K{c:03}"), "first_name": format!("Client{c}"), "last_name": "Pop", "phone": phone},
                })
            )
        })
        .collect()
}

#[test]
fn cartum_orders_into_roapp_and_back() {
    let roapp = RoApp::start();
    roapp.store.lock().unwrap().insert(
        "people",
        json!({"first_name": "Maria", "last_name": "Pop", "phones": [{"phone": "+40 722 000 001", "title": "mobile"}]}),
    );
    let w = Workdir::new();
    w.write(".secrets", format!("ROAPP_KEY={KEY}\n"));
    w.write("p.yaml", pipeline(&roapp));
    let processing = |n: usize| if n % 4 == 1 { "processing" } else { "new" };
    w.write("cartum_orders.ndjson", cartum_orders(55, &processing));

    let report = w.run_ok();
    let people = common::delivered(&report, "customers");
    assert_eq!(
        (people["created"].as_u64(), people["linked"].as_u64()),
        (Some(11), Some(1)),
        "the person with the same phone is linked: {people}"
    );
    assert_eq!(common::delivered(&report, "orders")["created"], 55);
    assert_eq!(common::delivered(&report, "statuses")["updated"], 14);
    {
        let store = roapp.store.lock().unwrap();
        assert_eq!(store.all("people").len(), 12);
        let maria_orders = store
            .all("orders")
            .iter()
            .filter(|o| o["client_id"] == 1)
            .count();
        assert_eq!(maria_orders, 5, "orders of the linked person go to her id");
        // Under a loaded machine a request can reach the double late and the next on time:
        // one or two may land in the same second. A client without its limit gets dozens.
        assert!(
            store.refused <= 2,
            "under the rate limit: {}",
            store.refused
        );
    }
    let pulled = w.ndjson("roapp_orders.ndjson");
    assert_eq!(pulled.len(), 55, "every order, over 2 pages of 50");
    let c0001 = pulled.iter().find(|o| o["cartum_id"] == "C0001").unwrap();
    assert_eq!(c0001["status"], "In progress");

    // One order ships; one new order from a new customer.
    let shipped = |n: usize| match n {
        5 => "shipped",
        n if n % 4 == 1 => "processing",
        _ => "new",
    };
    let mut orders = cartum_orders(55, &shipped);
    orders.push_str(&format!(
        "{}\n",
        json!({"id": "C0055", "status": "new", "delivery": "pickup",
               "customer": {"id": "K999", "first_name": "Ion", "last_name": "Rus", "phone": "0744 999 999"}})
    ));
    w.write("cartum_orders.ndjson", orders);
    roapp.store.lock().unwrap().writes.clear();
    let report = w.run_ok();
    assert_eq!(common::delivered(&report, "customers")["created"], 1);
    assert_eq!(common::delivered(&report, "orders")["created"], 1);
    let statuses = common::delivered(&report, "statuses");
    assert_eq!(
        (statuses["updated"].as_u64(), statuses["unchanged"].as_u64()),
        (Some(1), Some(13)),
        "{statuses}"
    );
    let writes = roapp.store.lock().unwrap().writes.clone();
    assert_eq!(writes.len(), 3, "{writes:?}");
    let changed = w.sorted_field("roapp_orders.ndjson", "cartum_id");
    assert_eq!(
        changed,
        vec!["C0005", "C0055"],
        "only what changed since the checkpoint"
    );
    assert!(roapp.store.lock().unwrap().refused <= 2);
}

fn ask(roapp: &RoApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent = common::http_client();
    let url = format!("{}{path}", roapp.url());
    let bearer = format!("Bearer {KEY}");
    let answer = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &bearer).send(),
        (_, body) => agent
            .post(&url)
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .body(body.unwrap_or(Value::Null).to_string())
            .send(),
    };
    let answer = answer.unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn a_fourth_request_in_a_second_gets_429_and_is_not_applied() {
    // RO App: https://roapp.readme.io/reference/getting-started-with-api ("up to 3 requests
    // per second", 429 past it).
    let roapp = RoApp::start();
    for _ in 0..3 {
        assert_eq!(ask(&roapp, "GET", "/contacts/people", None).0, 200);
    }
    let (status, _) = ask(
        &roapp,
        "POST",
        "/contacts/people",
        Some(json!({"first_name": "Ana"})),
    );
    assert_eq!(status, 429);
    let store = roapp.store.lock().unwrap();
    assert_eq!(store.refused, 1);
    assert!(
        store.all("people").is_empty(),
        "the refused request was not applied"
    );
}

#[test]
fn statuses_are_a_plain_list_and_an_order_needs_its_location_and_type() {
    // RO App: shared/reference/apis.md (`GET /orders/statuses -> [{id,name,group{type}}]`);
    // https://roapp.readme.io/reference/create-order (`branch_id`, `order_type_id`,
    // `client_id` required).
    let roapp = RoApp::start_with_limit(100);
    let (status, statuses) = ask(&roapp, "GET", "/orders/statuses", None);
    assert_eq!(status, 200);
    assert_eq!(statuses[0]["name"], "New", "{statuses}");
    assert!(statuses.is_array(), "{statuses}");
    let client = roapp
        .store
        .lock()
        .unwrap()
        .insert("people", json!({"first_name": "Ana"}));
    let (status, _) = ask(
        &roapp,
        "POST",
        "/orders",
        Some(json!({"client_id": client, "order_type_id": 2})),
    );
    assert_eq!(status, 422, "no branch_id");
    let (status, _) = ask(
        &roapp,
        "POST",
        "/orders",
        Some(json!({"client_id": client, "branch_id": 1})),
    );
    assert_eq!(status, 422, "no order_type_id");
    let (status, created) = ask(
        &roapp,
        "POST",
        "/orders",
        Some(json!({"client_id": client, "branch_id": 1, "order_type_id": 2})),
    );
    assert_eq!(status, 201, "{created}");
}

#[test]
fn orders_are_filtered_by_an_iso_8601_modification_time_and_sorted_on_request() {
    // RO App: https://roapp.readme.io/reference/get-orders (`modified_at[]`: one ISO 8601
    // date-time the left boundary, two a range; `sort`, a minus for descending).
    let roapp = RoApp::start_with_limit(100);
    let ids: Vec<u64> = {
        let mut store = roapp.store.lock().unwrap();
        let client = store.insert("people", json!({"first_name": "Ana"}));
        (0..3)
            .map(|n| {
                store.insert(
                    "orders",
                    json!({"client_id": client, "number": n, "status": {"id": 1, "name": "New"}}),
                )
            })
            .collect()
    };
    let modified: Vec<String> = ids
        .iter()
        .map(|id| {
            roapp.store.lock().unwrap().get("orders", *id).unwrap()["modified_at"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(modified[0].starts_with("2026-11-01T") && modified[0].ends_with('Z'));
    let numbers = |answer: &Value| -> Vec<u64> {
        answer["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["number"].as_u64().unwrap())
            .collect()
    };
    let (status, from) = ask(
        &roapp,
        "GET",
        &format!("/orders?modified_at%5B%5D={}", modified[1]),
        None,
    );
    assert_eq!(status, 200, "{from}");
    assert_eq!(numbers(&from), [1, 2], "from the second on");
    assert_eq!(from["paging"]["page"], 1);
    assert_eq!(from["paging"]["count"], 2);
    let (_, range) = ask(
        &roapp,
        "GET",
        &format!(
            "/orders?modified_at%5B%5D={}&modified_at%5B%5D={}",
            modified[0], modified[1]
        ),
        None,
    );
    assert_eq!(numbers(&range), [0, 1], "between two times");
    let (_, newest) = ask(&roapp, "GET", "/orders?sort=-modified_at", None);
    assert_eq!(numbers(&newest), [2, 1, 0]);
    let (status, _) = ask(
        &roapp,
        "GET",
        "/orders?modified_at%5B%5D=1780000000000",
        None,
    );
    assert_eq!(status, 422, "milliseconds are the old API's, not v2's");
}
