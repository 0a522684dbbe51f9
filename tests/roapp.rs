//! End to end against the RO App v2 double, as the Cartum connector of seed 004 works: customers
//! de-duplicated by phone (a person RO App already has is linked, not created again), orders
//! created for them through the ID map, statuses pushed through a correspondence table when
//! they change, and RO App's orders pulled back from the last change on, 50 a page, all within
//! the API's request rate (the double counts every request over it).

mod common;

use common::Workdir;
use common::roapp::{KEY, RoApp};
use serde_json::json;

fn pipeline(roapp: &RoApp) -> String {
    format!(
        r#"version: 1
name: cartum-roapp
connections:
  roapp:
    http:
      base_url: "{url}"
      auth: {{ bearer: {{ token: "${{secret.ROAPP_KEY}}" }} }}
      rate_limit: 40/s
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
      custom_fields: {{ expr: '#{{ cartum_id: rec.id, delivery: rec.delivery }}' }}
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
        query: {{ "modified_at[]": "{{cursor}}" }}
        records: $.data
        paginate: {{ page_number: {{ total_pages: $.paging.total_pages }} }}
    cursor: {{ field: $.modified_at, kind: number, tie_breaker: $.id, initial: "0" }}
    map:
      id: $.id
      cartum_id: $.custom_fields.cartum_id
      status: $.status.name
    to: {{ file: {{ path: roapp_orders.ndjson }} }}
"#,
        url = roapp.url()
    )
}

/// Cartum's orders: customer `n % 30`, every fourth order in processing.
fn cartum_orders(count: usize, status_of: &dyn Fn(usize) -> &'static str) -> String {
    (0..count)
        .map(|n| {
            let c = n % 30;
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
    let roapp = RoApp::start(45);
    roapp.store.lock().unwrap().insert(
        "people",
        json!({"first_name": "Maria", "last_name": "Pop", "phones": [{"phone": "+40 722 000 001", "title": "mobile"}]}),
    );
    let w = Workdir::new();
    w.write(".secrets", format!("ROAPP_KEY={KEY}\n"));
    w.write("p.yaml", pipeline(&roapp));
    let processing = |n: usize| if n % 4 == 1 { "processing" } else { "new" };
    w.write("cartum_orders.ndjson", cartum_orders(80, &processing));

    let report = w.run_ok();
    let people = common::delivered(&report, "customers");
    assert_eq!(
        (people["created"].as_u64(), people["linked"].as_u64()),
        (Some(29), Some(1)),
        "the person with the same phone is linked: {people}"
    );
    assert_eq!(common::delivered(&report, "orders")["created"], 80);
    assert_eq!(common::delivered(&report, "statuses")["updated"], 20);
    {
        let store = roapp.store.lock().unwrap();
        assert_eq!(store.all("people").len(), 30);
        let maria_orders = store
            .all("orders")
            .iter()
            .filter(|o| o["client_id"] == 1)
            .count();
        assert_eq!(maria_orders, 3, "orders of the linked person go to her id");
        assert_eq!(store.refused, 0, "never over the rate limit");
    }
    let pulled = w.ndjson("roapp_orders.ndjson");
    assert_eq!(pulled.len(), 80, "every order, over 2 pages of 50");
    let c0001 = pulled.iter().find(|o| o["cartum_id"] == "C0001").unwrap();
    assert_eq!(c0001["status"], "In progress");

    // One order ships; one new order from a new customer.
    let shipped = |n: usize| match n {
        5 => "shipped",
        n if n % 4 == 1 => "processing",
        _ => "new",
    };
    let mut orders = cartum_orders(80, &shipped);
    orders.push_str(&format!(
        "{}\n",
        json!({"id": "C0080", "status": "new", "delivery": "pickup",
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
        (Some(1), Some(19)),
        "{statuses}"
    );
    let writes = roapp.store.lock().unwrap().writes.clone();
    assert_eq!(writes.len(), 3, "{writes:?}");
    let changed = w.sorted_field("roapp_orders.ndjson", "cartum_id");
    assert_eq!(
        changed,
        vec!["C0005", "C0080"],
        "only what changed since the checkpoint"
    );
    assert_eq!(roapp.store.lock().unwrap().refused, 0);
}
