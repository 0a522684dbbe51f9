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
