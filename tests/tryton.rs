//! Against a real Tryton 8.2 server (see `common::tryton`): the JSON-RPC dialect as trytond
//! speaks it, its typed values read as text, a login as the README writes it, and incremental
//! reads on `write_date`.

mod common;

use common::Workdir;
use common::tryton::{PASSWORD, Tryton};
use serde_json::{Value, json};

/// The connection every test uses, as the README shows it.
fn connection(tryton: &Tryton) -> String {
    format!(
        r#"connections:
  tryton:
    http:
      base_url: "{url}"
      rpc: {{ dialect: tryton }}
      auth:
        login:
          request: {{ path: /rpc/, rpc: {{ method: common.db.login, params: [admin, {{ password: "${{secret.TRYTON_PASSWORD}}" }}, en] }} }}
          token: $
          headers: {{ Authorization: "Session {{base64:admin:{{token.0}}:{{token.1}}}}" }}
"#,
        url = tryton.url
    )
}

fn workdir(tryton: &Tryton, jobs: &str) -> Workdir {
    let w = Workdir::new();
    w.write(".secrets", format!("TRYTON_PASSWORD={PASSWORD}\n"));
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: tryton\n{}jobs:\n{jobs}",
            connection(tryton)
        ),
    );
    w
}

fn run(w: &Workdir) -> (i32, Value) {
    w.run("p.yaml", &["--secrets", ".secrets"])
}

#[test]
fn products_are_read_again_only_when_they_or_their_template_changed() {
    let Some(tryton) =
        Tryton::get("products_are_read_again_only_when_they_or_their_template_changed")
    else {
        return;
    };
    let prefix = Tryton::unique("CUR");
    for (n, price) in [(1, "10.50"), (2, "26.00"), (3, "7.25")] {
        tryton.create_product(&format!("{prefix}-{n}"), &format!("Cursor test {n}"), price);
    }
    // The product's own write_date, or its template's, whichever is later: a price is written
    // on the template. `{cursor}` is a plain string, which Tryton reads as a datetime.
    let w = workdir(
        tryton,
        &format!(
            r#"  products:
    from:
      http:
        connection: tryton
        path: /rpc/
        rpc:
          method: model.product.product.search_read
          params:
            - [[code, like, "{prefix}-%"], [OR, [write_date, ">", "{{cursor}}"], [template.write_date, ">", "{{cursor}}"]]]
            - 0
            - 2
            - [[id, ASC]]
            - [code, list_price_used, write_date, template.write_date]
            - {{ company: 1 }}
        paginate: {{ offset: {{ offset_param: "1", limit_param: "2", limit: 2 }} }}
    cursor: {{ fields: [$.write_date, "$['template.'].write_date"], tie_breaker: $.code, initial: "2000-01-01 00:00:00" }}
    map:
      code: $.code
      price: {{ path: $.list_price_used, as: decimal, scale: 2, format: string }}
      changed: $.write_date
    to: {{ file: {{ path: products.ndjson }} }}
"#
        ),
    );
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let products = w.ndjson("products.ndjson");
    let read: Vec<(&str, &str)> = products
        .iter()
        .map(|p| (p["code"].as_str().unwrap(), p["price"].as_str().unwrap()))
        .collect();
    let code_of = |n: u32| format!("{prefix}-{n}");
    assert_eq!(
        read,
        [
            (code_of(1).as_str(), "10.50"),
            (code_of(2).as_str(), "26.00"),
            (code_of(3).as_str(), "7.25")
        ],
        "paged two by two, Decimal objects read as their exact text"
    );
    // Tryton's datetimes read as its own text form, to the microsecond.
    let changed = products[0]["changed"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(changed, "%Y-%m-%d %H:%M:%S%.f").is_ok(),
        "{changed}"
    );

    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    assert!(w.ndjson("products.ndjson").is_empty(), "nothing changed");

    // A new price is written on the template: only its product is read again.
    let template = tryton.search_read(
        "product.template",
        json!([["code", "=", code_of(2)]]),
        &["id"],
    )[0]["id"]
        .clone();
    tryton.ok(
        "model.product.template.write",
        json!([[template], {"list_price": {"__class__": "Decimal", "decimal": "27.90"}}, {"company": 1}]),
    );
    let (code, report) = run(&w);
    assert_eq!(code, 0, "{report:#}");
    let again = w.ndjson("products.ndjson");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["code"], code_of(2));
    assert_eq!(again[0]["price"], "27.90");
}

#[test]
fn an_rpc_error_fails_the_job_with_the_servers_message() {
    let Some(tryton) = Tryton::get("an_rpc_error_fails_the_job_with_the_servers_message") else {
        return;
    };
    let w = workdir(
        tryton,
        r#"  products:
    from:
      http:
        connection: tryton
        path: /rpc/
        rpc: { method: model.product.product.search_read, params: [[[no_such_field, "=", x]], 0, 10, null, [code], { company: 1 }] }
    to: { file: { path: products.ndjson } }
"#,
    );
    let (code, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("no_such_field"), "{text}");
    // A call without its context: trytond answers an HTML page, read as its title and text.
    let w = workdir(
        tryton,
        r#"  products:
    from:
      http:
        connection: tryton
        path: /rpc/
        rpc: { method: model.product.product.search_read, params: [[], 0, 10, null, [code]] }
    to: { file: { path: products.ndjson } }
"#,
    );
    let (code, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("422 Unprocessable Entity: Missing context argument")
            && !text.contains("<html"),
        "{text}"
    );
}

/// Shop orders (a file here: what matters is the ERP's side) into Tryton sales: the customer
/// found by e-mail or created with an address, each line's product found by its code, the sale
/// created with its lines in one call, then quoted and confirmed.
fn sales_pipeline(after_create: &str) -> String {
    format!(
        r#"  customers:
    from: {{ file: {{ path: orders.ndjson }} }}
    map:
      email: $.customer.email
      name: $.customer.name
      street: $.customer.street
      city: $.customer.city
    to:
      http:
        connection: tryton
        entity: party
        key: $.email
        resolve:
          - {{ name: email, value: $.email, request: {{ path: /rpc/, rpc: {{ method: model.party.party.search, params: [[[contact_mechanisms.value, "=", "{{value}}"]], 0, 2, null, {{ company: 1 }}] }} }}, ids: "$[*]" }}
        on_match: link_only
        create:
          path: /rpc/
          rpc:
            method: model.party.party.create
            params: [[{{ name: "{{name}}", contact_mechanisms: [[create, [{{ type: email, value: "{{email}}" }}]]], addresses: [[create, [{{ street: "{{street}}", city: "{{city}}" }}]]] }}], {{ company: 1 }}]
        id: $[0]
  sales:
    needs: [customers]
    from: {{ file: {{ path: orders.ndjson }} }}
    steps:
      - map:
          reference: $.reference
          party: {{ ref: party, key: $.customer.email, as: integer }}
          lines: $.lines
      - fetch:
          connection: tryton
          into: address
          request: {{ path: /rpc/, rpc: {{ method: model.party.address.search, params: [[[party, "=", "{{party}}"]], 0, 1, [[id, ASC]], {{ company: 1 }}] }} }}
          records: $[0]
      - fetch:
          connection: tryton
          each: $.lines
          into: product
          request: {{ path: /rpc/, rpc: {{ method: model.product.product.search, params: [[[code, "=", "{{sku}}"]], 0, 1, null, {{ company: 1 }}] }} }}
          records: $[0]
          reason: "no product {{sku}} in Tryton"
    map:
      reference: $.reference
      party: $.party
      address: $.address
      lines: {{ expr: 'rec.lines.map(|l| #{{ type: "line", product: l.product, quantity: l.quantity, unit: 1, unit_price: l.price }})' }}
    to:
      http:
        connection: tryton
        entity: sale
        key: $.reference
        resolve:
          - {{ name: reference, value: $.reference, request: {{ path: /rpc/, rpc: {{ method: model.sale.sale.search, params: [[[reference, "=", "{{value}}"]], 0, 2, null, {{ company: 1 }}] }} }}, ids: "$[*]" }}
        create:
          path: /rpc/
          rpc:
            method: model.sale.sale.create
            params: [[{{ reference: "{{reference}}", party: "{{party}}", invoice_address: "{{address}}", shipment_address: "{{address}}", payment_term: 1, lines: [[create, "{{lines}}"]] }}], {{ company: 1 }}]
        id: $[0]
        after_create:
{after_create}
        rollback:
          - {{ path: /rpc/, rpc: {{ method: model.sale.sale.cancel, params: [["{{target_id}}"], {{ company: 1 }}] }} }}
          - {{ path: /rpc/, rpc: {{ method: model.sale.sale.delete, params: [["{{target_id}}"], {{ company: 1 }}] }} }}
"#
    )
}

const QUOTE_AND_CONFIRM: &str = r#"          - { path: /rpc/, rpc: { method: model.sale.sale.quote, params: [["{target_id}"], { company: 1 }] } }
          - { path: /rpc/, rpc: { method: model.sale.sale.confirm, params: [["{target_id}"], { company: 1 }] } }"#;

fn order(reference: &str, email: &str, lines: &[(&str, u64, f64)]) -> String {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity, price)| json!({"sku": sku, "quantity": quantity, "price": price}))
        .collect();
    json!({
        "reference": reference,
        "customer": {"email": email, "name": format!("Buyer {email}"), "street": "1 Main Street", "city": "Springfield"},
        "lines": lines,
    })
    .to_string()
}

/// The sales whose reference starts with `prefix`, by reference (they are created a few at a
/// time, in any order).
fn sales(tryton: &Tryton, prefix: &str) -> Vec<Value> {
    let mut found = tryton.search_read(
        "sale.sale",
        json!([["reference", "like", format!("{prefix}%")]]),
        &[
            "reference",
            "state",
            "party",
            "lines.product.code",
            "lines.quantity",
            "lines.unit_price",
        ],
    );
    found.sort_by_key(|s| s["reference"].as_str().unwrap_or_default().to_string());
    found
}

#[test]
fn orders_become_confirmed_sales_with_their_lines_and_customers() {
    let Some(tryton) = Tryton::get("orders_become_confirmed_sales_with_their_lines_and_customers")
    else {
        return;
    };
    let prefix = Tryton::unique("SO");
    let (a, b) = (format!("{prefix}-A"), format!("{prefix}-B"));
    tryton.create_product(&a, "Sale test A", "10.00");
    tryton.create_product(&b, "Sale test B", "20.00");
    // The second customer is in Tryton already, found by e-mail.
    let known = format!("{}@known.example", prefix.to_lowercase());
    let known_party = tryton.ok(
        "model.party.party.create",
        json!([[{"name": "Known Buyer",
            "contact_mechanisms": [["create", [{"type": "email", "value": known}]]],
            "addresses": [["create", [{"street": "2 Side Street"}]]]}], {"company": 1}]),
    )[0]
    .clone();
    let new = format!("{}@new.example", prefix.to_lowercase());
    let missing = format!("{prefix}-NOPE");
    let orders = [
        order(
            &format!("{prefix}-1"),
            &new,
            &[(&a, 2, 12.34), (&b, 1, 20.0)],
        ),
        order(&format!("{prefix}-2"), &known, &[(&b, 3, 19.99)]),
        order(
            &format!("{prefix}-3"),
            &new,
            &[(&a, 1, 12.34), (&missing, 1, 5.0)],
        ),
    ];
    let w = workdir(tryton, &sales_pipeline(QUOTE_AND_CONFIRM));
    w.write("orders.ndjson", orders.join("\n") + "\n");
    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 3, "one order is quarantined: {report:#}");
    let reasons = common::job(&report, "sales")["reasons"].to_string();
    assert!(
        reasons.contains(&format!("no product {missing} in Tryton")),
        "{report:#}"
    );

    let made = sales(tryton, &prefix);
    let summary: Vec<(String, String, Vec<String>)> = made
        .iter()
        .map(|s| {
            let codes = s["lines."]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["product."]["code"].as_str().unwrap().to_string())
                .collect();
            (
                s["reference"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
                codes,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                format!("{prefix}-1"),
                "processing".to_string(),
                vec![a.clone(), b.clone()]
            ),
            (
                format!("{prefix}-2"),
                "processing".to_string(),
                vec![b.clone()]
            ),
        ],
        "two confirmed sales with every line; nothing of the third"
    );
    assert_eq!(
        made[1]["party"], known_party,
        "found by e-mail, not created again"
    );
    assert_eq!(
        made[0]["lines."][0]["unit_price"],
        json!({"__class__": "Decimal", "decimal": "12.34"}),
        "a price with a fraction sent as a Decimal"
    );
    let parties = tryton.search_read(
        "party.party",
        json!([["contact_mechanisms.value", "in", [&new, &known]]]),
        &["id"],
    );
    assert_eq!(parties.len(), 2, "one party per e-mail: {parties:?}");

    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(
        sales(tryton, &prefix).len(),
        2,
        "a second run creates nothing"
    );
    let delivered = common::job(&report, "sales")["delivered"].clone();
    assert_eq!(delivered["created"], 0, "{report:#}");
}

#[test]
fn a_sale_whose_workflow_fails_is_rolled_back_and_quarantined() {
    let Some(tryton) = Tryton::get("a_sale_whose_workflow_fails_is_rolled_back_and_quarantined")
    else {
        return;
    };
    let prefix = Tryton::unique("RB");
    let a = format!("{prefix}-A");
    tryton.create_product(&a, "Rollback test", "10.00");
    // `confirm` on a draft sale is refused: quote comes first.
    let confirm_only = r#"          - { path: /rpc/, rpc: { method: model.sale.sale.confirm, params: [["{target_id}"], { company: 1 }] } }"#;
    let w = workdir(tryton, &sales_pipeline(confirm_only));
    let email = format!("{}@rollback.example", prefix.to_lowercase());
    w.write(
        "orders.ndjson",
        order(&format!("{prefix}-1"), &email, &[(&a, 1, 10.0)]) + "\n",
    );
    let (code, report) = w.run("p.yaml", &["--secrets", ".secrets"]);
    assert_eq!(code, 3, "{report:#}");
    let reasons = common::job(&report, "sales")["reasons"].to_string();
    assert!(reasons.contains("was rolled back"), "{reasons}");
    assert!(
        sales(tryton, &prefix).is_empty(),
        "nothing is left in Tryton"
    );
}

#[test]
fn an_upsert_refused_by_the_server_is_quarantined_with_its_message() {
    let Some(tryton) =
        Tryton::get("an_upsert_refused_by_the_server_is_quarantined_with_its_message")
    else {
        return;
    };
    let code = Tryton::unique("UP");
    tryton.create_product(&code, "Upsert test", "10.00");
    let template = tryton.search_read("product.template", json!([["code", "=", code]]), &["id"])[0]
        ["id"]
        .clone();
    // Prices by template id: a write answering null succeeds; a write on an id Tryton does not
    // have is refused with Tryton's words.
    let w = workdir(
        tryton,
        r#"  prices:
    from: { file: { path: prices.ndjson } }
    map:
      template: { path: $.template, as: integer }
      list_price: { path: $.price, as: decimal, scale: 2 }
    to:
      http:
        connection: tryton
        entity: template_price
        key: $.template
        upsert: true
        not_sent: [template]
        update: { path: /rpc/, rpc: { method: model.product.template.write, params: [["{target_id}"], "{record}", { company: 1 }] } }
"#,
    );
    w.write(
        "prices.ndjson",
        format!(
            "{{\"template\":{template},\"price\":12.34}}\n{{\"template\":999999,\"price\":1}}\n"
        ),
    );
    let (code_, report) = w.run(
        "p.yaml",
        &["--secrets", ".secrets", "--quarantine", "rejected.ndjson"],
    );
    assert_eq!(code_, 3, "{report:#}");
    let price = tryton.search_read(
        "product.template",
        json!([["code", "=", code]]),
        &["list_price"],
    )[0]["list_price"]
        .clone();
    assert_eq!(price, json!({"__class__": "Decimal", "decimal": "12.34"}));
    let rejected = w.ndjson("rejected.ndjson");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["key"], "999999");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("JSON-RPC error") && reason.contains("999999"),
        "{reason}"
    );
}
