//! End to end against the Gomag double: products written as `data=<JSON>` form fields (a
//! product the shop already has is linked by SKU and left alone), price and stock through
//! `product/inventory/json` by SKU, batched in one combined call (an upsert: only what changed
//! is sent again), orders read
//! from lists keyed by id, page by page, from the last change on; statuses pushed back with
//! Romanian labels.

mod common;

use common::Workdir;
use common::gomag::{API_KEY, Gomag, SHOP};
use serde_json::json;

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
tables:
  gomag_status:
    map: {{ LIVRAT: Livrata, ANULAT: Anulata }}
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
      id: $.order
      status: {{ path: $.etat, table: gomag_status }}
    to:
      http:
        connection: gomag
        entity: order_status
        key: $.id
        upsert: true
        update: {{ method: POST, path: /order/status/json, body: {{ data: "{{record}}" }} }}
  orders:
    needs: [order_status]
    from:
      http:
        connection: gomag
        path: /order/read/json
        query: {{ dateFrom: "{{cursor}}", limit: "100" }}
        records: $.orders
        paginate: {{ page_number: {{ total_pages: $.pages }} }}
    cursor: {{ field: $.updated, tie_breaker: $.id, initial: "2026-01-01 00:00:00" }}
    map:
      id: $.id
      number: $.number
      status: $.status
      customer: $.billing.email
      lines: $.items
    to: {{ file: {{ path: orders.ndjson }} }}
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
    let gomag = Gomag::start();
    let order_ids: Vec<u64> = {
        let mut store = gomag.store.lock().unwrap();
        store.insert(
            "products",
            json!({"sku": "G0003", "name": "Nume din magazin"}),
        );
        (0..120)
            .map(|n| {
                store.insert(
                    "orders",
                    json!({
                        "number": format!("{}", 5000 + n),
                        "status": "Comanda noua",
                        "billing": {"email": format!("client{n}@example.ro")},
                        "items": {"1": {"sku": "G0001", "quantity": "1", "price": "11.90"}},
                    }),
                )
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
    assert_eq!(orders[0]["customer"], "client0@example.ro");

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
        store.touch(
            "orders",
            order_ids[50],
            "status",
            json!("In curs de procesare"),
        );
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
        assert_eq!(
            store.get("orders", order_ids[0]).unwrap()["status"],
            "Livrata"
        );
        assert_eq!(
            store.get("orders", order_ids[1]).unwrap()["status"],
            "Anulata"
        );
    }
    let changed = w.sorted_field("orders.ndjson", "number");
    assert_eq!(changed, vec!["5000", "5001", "5050"]);

    // G0005's price back to what the shop last took: a third run sends nothing and reads no
    // order again.
    w.write("products.csv", catalog(&[(1, "12.50")]));
    gomag.store.lock().unwrap().writes.clear();
    w.run_ok();
    assert!(gomag.store.lock().unwrap().writes.is_empty());
    assert!(w.ndjson("orders.ndjson").is_empty());
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
    let gomag = Gomag::start();
    {
        let mut store = gomag.store.lock().unwrap();
        store.insert("products", json!({"sku": "G0002", "name": "Din magazin"}));
        for n in 0..3 {
            store.insert(
                "orders",
                json!({"number": format!("{}", 7000 + n), "status": "Comanda noua",
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

    // A price changes; the ERP delivers an order.
    let first_order = gomag.store.lock().unwrap().all("orders")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.write("erp-export/products.csv", products("189"));
    w.write(
        "erp-export/order-status.csv",
        format!("gomag_order,status\n{first_order},LIVRATA\n"),
    );
    run(&w);
    let store = gomag.store.lock().unwrap();
    assert_eq!(store.inventory_calls, vec![3, 1], "only the changed price");
    assert_eq!(store.product("G0001").unwrap()["price"], 189);
    let first: u64 = first_order.parse().unwrap();
    assert_eq!(store.get("orders", first).unwrap()["status"], "Livrata");
}
