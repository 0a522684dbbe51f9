//! End to end against the PrestaShop webservice double: a catalog pushed as XML (created, then
//! only what changed updated, the record read first so the back office's fields survive), orders
//! pulled page by page with an incremental cursor, and order states pushed back through
//! `order_histories`.

mod common;

use common::Workdir;
use common::prestashop::{KEY, PrestaShop};
use serde_json::{Value, json};

fn pipeline(shop: &PrestaShop) -> String {
    format!(
        r#"version: 1
name: ps
connections:
  shop:
    http:
      base_url: "{url}"
      auth: {{ basic: {{ user: "${{secret.PS_KEY}}" }} }}
      query: {{ output_format: JSON }}
      body: xml
jobs:
  products:
    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      name: {{ const: [{{ id: "1", value: "Produit" }}] }}
      price: {{ path: $.price, as: decimal, scale: 6 }}
    to:
      http:
        connection: shop
        entity: product
        key: $.reference
        create: {{ method: POST, path: /products, body: {{ product: "{{record}}" }} }}
        update: {{ method: PUT, path: "/products/{{target_id}}", body: {{ product: "{{record}}" }} }}
        read_before_update: {{ request: {{ path: "/products/{{target_id}}" }}, record: $.product, drop: [quantity, manufacturer_name] }}
        id: $.product.id
        resolve:
          - {{ name: reference, value: $.reference, request: {{ path: /products, query: {{ "filter[reference]": "[{{value}}]" }} }}, ids: "$.products[*].id" }}
  orders:
    needs: [order_states]
    from:
      http:
        connection: shop
        path: /orders
        query: {{ display: full, date: "1", "filter[date_upd]": ">[{{cursor}}]", sort: "[date_upd_ASC,id_ASC]" }}
        records: $.orders
        paginate: {{ offset_count: {{ param: limit, count: 100 }} }}
    cursor: {{ field: $.date_upd, tie_breaker: $.id, initial: "2026-01-01 00:00:00" }}
    map:
      id: $.id
      reference: $.reference
      state: $.current_state
    to: {{ file: {{ path: orders.ndjson }} }}
  order_states:
    from: {{ file: {{ path: states.csv }} }}
    map:
      id_order: $.order
      id_order_state: $.state
    to:
      http:
        connection: shop
        entity: order_history
        key: $.id_order
        create: {{ method: POST, path: /order_histories, body: {{ order_history: "{{record}}" }} }}
        id: $.order_history.id
"#,
        url = shop.api.url
    )
}

#[test]
fn catalog_orders_and_states_against_the_webservice() {
    let shop = PrestaShop::start();
    let order_ids: Vec<u64> = {
        let mut store = shop.store.lock().unwrap();
        (0..250)
            .map(|n| {
                store.insert(
                    "orders",
                    json!({"reference": format!("WEB{n:04}"), "current_state": "2"}),
                )
            })
            .collect()
    };
    let w = Workdir::new();
    w.write(".secrets", format!("PS_KEY={KEY}\n"));
    w.write("p.yaml", pipeline(&shop));
    w.write("products.csv", "ref,price\nA1,10\nA2,20\nA3,30\n");
    w.write("states.csv", "order,state\n");

    let report = w.run_ok();
    assert_eq!(common::delivered(&report, "products")["created"], 3);
    assert_eq!(w.ndjson("orders.ndjson").len(), 250, "every order, 3 pages");

    // The back office adds a description (and PrestaShop reports a read-only quantity).
    let a2 = shop
        .store
        .lock()
        .unwrap()
        .all("products")
        .into_iter()
        .find(|p| p["reference"] == "A2")
        .unwrap();
    let a2_id: u64 = a2["id"].as_str().unwrap().parse().unwrap();
    {
        let mut store = shop.store.lock().unwrap();
        store.touch(
            "products",
            a2_id,
            "description",
            json!([{"id": "1", "value": "Chêne massif"}]),
        );
        store.touch("products", a2_id, "quantity", json!("7"));
        store.writes.clear();
        // Two orders change in the shop.
        store.touch("orders", order_ids[10], "current_state", json!("3"));
        store.touch("orders", order_ids[200], "current_state", json!("4"));
    }

    // A2's price changes; two orders get a state from the ERP.
    w.write("products.csv", "ref,price\nA1,10\nA2,25.5\nA3,30\n");
    w.write(
        "states.csv",
        format!("order,state\n{},4\n{},5\n", order_ids[0], order_ids[1]),
    );
    let report = w.run_ok();
    assert_eq!(common::delivered(&report, "products")["updated"], 1);
    assert_eq!(common::delivered(&report, "products")["unchanged"], 2);
    let a2 = shop.store.lock().unwrap().get("products", a2_id).unwrap();
    assert_eq!(a2["price"], "25.500000");
    assert_eq!(
        a2["description"],
        json!([{"id": "1", "value": "Chêne massif"}]),
        "the back office's field survives the PUT"
    );
    assert_eq!(a2["name"], json!([{"id": "1", "value": "Produit"}]));

    let states = shop
        .store
        .lock()
        .unwrap()
        .get("orders", order_ids[0])
        .unwrap();
    assert_eq!(states["current_state"], "4");
    assert_eq!(common::delivered(&report, "order_states")["created"], 2);

    // Only the orders changed since the checkpoint were read: two in the back office, then the
    // two whose state the ERP just pushed (`orders` runs after `order_states`).
    // The two states are posted at the same time: their order is not fixed.
    let changed = w.sorted_field("orders.ndjson", "reference");
    assert_eq!(changed, vec!["WEB0000", "WEB0001", "WEB0010", "WEB0200"]);

    let writes = shop.store.lock().unwrap().writes.clone();
    let products: Vec<_> = writes.iter().filter(|w| w.1 == "products").collect();
    assert_eq!(products.len(), 1, "{writes:?}");
}

#[test]
fn a_wrong_key_is_refused_without_showing_it() {
    let shop = PrestaShop::start();
    let w = Workdir::new();
    w.write(".secrets", "PS_KEY=WRONGKEY00000000000000000000000\n");
    w.write("p.yaml", pipeline(&shop));
    w.write("products.csv", "ref,price\nA1,10\n");
    w.write("states.csv", "order,state\n");
    let (code, text) = w.printed(&["run", "p.yaml", "--secrets", ".secrets"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(!text.contains("WRONGKEY"), "{text}");
}

#[test]
fn a_dry_run_reads_the_shop_for_a_real_field_diff_and_writes_nothing() {
    let shop = PrestaShop::start();
    let w = Workdir::new();
    w.write(".secrets", format!("PS_KEY={KEY}\n"));
    w.write("p.yaml", pipeline(&shop));
    w.write("products.csv", "ref,price\nA1,10\nA2,20\n");
    w.write("states.csv", "order,state\n");
    w.run_ok();
    shop.store.lock().unwrap().writes.clear();

    w.write("products.csv", "ref,price\nA1,10\nA2,25.5\n");
    let out = w.syncline(&[
        "dry-run",
        "p.yaml",
        "--secrets",
        ".secrets",
        "--format",
        "json",
    ]);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let products = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "products")
        .unwrap();
    let update = products["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update")
        .unwrap();
    // Only the field that differs from the shop's record, with the shop's value.
    assert_eq!(
        update["fields"],
        json!({"price": {"from": "20.000000", "to": 25.5}}),
        "{plan:#}"
    );
    assert!(
        shop.store.lock().unwrap().writes.is_empty(),
        "a dry run sends nothing"
    );
}

/// A workdir whose pipeline speaks the webservice's defaults, no `output_format`: every answer,
/// to reads and writes, is XML. `products` is the YAML of its one job.
fn xml_workdir(shop: &PrestaShop, products: &str) -> Workdir {
    let w = Workdir::new();
    w.write(".secrets", format!("PS_KEY={KEY}\n"));
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: ps-xml
connections:
  shop:
    http: {{ base_url: "{url}", auth: {{ basic: {{ user: "${{secret.PS_KEY}}" }} }}, body: xml }}
jobs:
  products:
{products}"#,
            url = shop.api.url
        ),
    );
    w
}

#[test]
fn products_read_in_the_webservices_default_xml() {
    let shop = PrestaShop::start();
    {
        let mut store = shop.store.lock().unwrap();
        for n in 1..=3 {
            store.insert(
                "products",
                json!({
                    "reference": format!("A{n}"),
                    "price": format!("{n}0.000000"),
                    "name": [{"id": "1", "value": format!("Chaise & table {n}")}],
                }),
            );
        }
    }
    let w = xml_workdir(
        &shop,
        r##"    from:
      http:
        connection: shop
        path: /products
        query: { display: full }
        records: $.prestashop.products.product
        paginate: { offset_count: { param: limit, count: 2 } }
    map:
      id: $.id
      reference: $.reference
      name: $.name.language["#text"]
      language: $.name.language["@id"]
    to: { file: { path: products.ndjson } }
"##,
    );
    w.run_ok();
    let products = w.ndjson("products.ndjson");
    let references: Vec<&str> = products
        .iter()
        .map(|p| p["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        references,
        ["A1", "A2", "A3"],
        "two pages, the second short"
    );
    assert_eq!(products[0]["name"], "Chaise & table 1", "{:?}", products[0]);
    assert_eq!(products[0]["language"], "1");
    assert!(
        shop.api.query(0, "output_format").is_none(),
        "asked in the default format"
    );
}

#[test]
fn products_written_with_the_webservices_default_xml_answers() {
    let shop = PrestaShop::start_with_languages(&["1", "2"]);
    let w = xml_workdir(
        &shop,
        r##"    from: { file: { path: products.csv } }
    map:
      reference: $.ref
      name: { path: $.name, lang: "1" }
      price: { path: $.price, as: decimal, scale: 6 }
    to:
      http:
        connection: shop
        entity: product
        key: $.reference
        languages: ["1", "2"]
        create: { method: POST, path: /products, body: { product: "{record}" } }
        update: { method: PUT, path: "/products/{target_id}", body: { product: "{record}" } }
        read_before_update: { request: { path: "/products/{target_id}" }, record: $.prestashop.product, drop: [quantity, manufacturer_name, position_in_category] }
        id: $.prestashop.product.id
        # A list gives ids as attributes: `<product id="9"/>`, one or many.
        resolve:
          - { name: reference, value: $.reference, request: { path: /products, query: { "filter[reference]": "[{value}]" } }, ids: "$..['@id']" }
"##,
    );
    // B1 was made by hand in the back office: found by its reference and linked.
    let b1 = shop.store.lock().unwrap().insert(
        "products",
        json!({"reference": "B1", "price": "5", "date_add": "2026-01-05 10:00:00"}),
    );
    w.write("products.csv", "ref,name,price\nA1,Chaise,10\nB1,Lampe,5\n");
    let report = w.run_ok();
    assert_eq!(common::delivered(&report, "products")["created"], 1);
    assert_eq!(common::delivered(&report, "products")["linked"], 1);
    assert_eq!(shop.store.lock().unwrap().all("products").len(), 2);
    let id: u64 = {
        let mut store = shop.store.lock().unwrap();
        let created = store
            .all("products")
            .into_iter()
            .find(|p| p["reference"] == "A1")
            .unwrap();
        let id = created["id"].as_str().unwrap().parse().unwrap();
        // The back office translates the name, files the product in two categories and
        // reports a read-only quantity.
        let name = json!([{"id": "1", "value": "Chaise"}, {"id": "2", "value": "Chair"}]);
        store.touch("products", id, "name", name);
        let categories = json!({"categories": [{"id": "2"}, {"id": "5"}]});
        store.touch("products", id, "associations", categories);
        store.touch("products", id, "quantity", json!("7"));
        id
    };

    w.write(
        "products.csv",
        "ref,name,price\nA1,Chaise & table,12.5\nB1,Lampe,6\n",
    );
    let report = w.run_ok();
    assert_eq!(
        common::delivered(&report, "products")["updated"],
        2,
        "{report:#}"
    );
    let linked = shop.store.lock().unwrap().get("products", b1).unwrap();
    assert_eq!(
        linked["price"], "6.000000",
        "B1 was linked to the product found"
    );
    let product = shop.store.lock().unwrap().get("products", id).unwrap();
    assert_eq!(product["price"], "12.500000");
    assert_eq!(
        product["name"],
        json!([{"id": "1", "value": "Chaise & table"}, {"id": "2", "value": "Chair"}]),
        "the name written in its language, the other read in XML and written back"
    );
    assert_eq!(
        product["associations"]["categories"],
        json!([{"id": "2"}, {"id": "5"}])
    );
}

/// The shipped Sage template (`pipelines/prestashop/sage-erp-sync.yaml`) on a shop in two
/// languages, its SQL reads replaced by files of the same rows through an overlay that also
/// lists the shop's languages, as a client's repository would.
struct Template {
    shop: PrestaShop,
    w: Workdir,
    env: Vec<(String, String)>,
}

impl Template {
    fn new() -> Template {
        Template::extending("pipelines/prestashop/sage-erp-sync.yaml")
    }

    /// The pipeline at `path` in the repository, e.g. an overlay of the template.
    fn extending(path: &str) -> Template {
        let shop = PrestaShop::start_with_languages(&["1", "2"]);
        let w = Workdir::new();
        let template = common::repo_root().join(path);
        w.write(
            "p.yaml",
            format!(
                r#"extends: {template}
name: sage-template-test
connections:
  export: {{ file: {{ dir: erp-export }} }}
jobs:
  categories:
    from: !replace {{ file: {{ connection: export, path: families.ndjson }} }}
    to: {{ http: {{ languages: ["1", "2"] }} }}
  products:
    from: !replace {{ file: {{ connection: export, path: articles.ndjson }} }}
    to: {{ http: {{ languages: ["1", "2"] }} }}
  stock:
    from: !replace {{ file: {{ connection: export, path: stock.ndjson }} }}
  order_states:
    from: !replace {{ file: {{ connection: export, path: documents.ndjson }} }}
"#,
                template = template.display()
            ),
        );
        w.write(".secrets", format!("PS_WEBSERVICE_KEY={KEY}\n"));
        for file in ["families", "articles", "stock", "documents"] {
            w.write(&format!("erp-export/{file}.ndjson"), "");
        }
        let env = vec![
            (
                "SHOP_URL".to_string(),
                shop.api.url.trim_end_matches("/api").to_string(),
            ),
            (
                "ERP_IMPORT_DIR".to_string(),
                w.path("erp-import").to_str().unwrap().to_string(),
            ),
        ];
        Template { shop, w, env }
    }

    fn export(&self, file: &str, rows: &[Value]) {
        let lines: String = rows.iter().map(|r| format!("{r}\n")).collect();
        self.w.write(&format!("erp-export/{file}.ndjson"), lines);
    }

    fn run(&self) -> (i32, Value) {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.w
            .run_with_env("p.yaml", &["--secrets", ".secrets"], &env)
    }

    fn run_ok(&self) -> Value {
        let (code, report) = self.run();
        assert_eq!(code, 0, "{report:#}");
        report
    }

    fn store(&self) -> std::sync::MutexGuard<'_, common::prestashop::Store> {
        self.shop.store.lock().unwrap()
    }

    fn category(&self, name: &str) -> Value {
        self.store()
            .all("categories")
            .into_iter()
            .find(|c| c["name"][0]["value"] == name)
            .unwrap_or_else(|| panic!("no category {name}"))
    }

    fn product(&self, reference: &str) -> Value {
        self.store()
            .all("products")
            .into_iter()
            .find(|p| p["reference"] == reference)
            .unwrap_or_else(|| panic!("no product {reference}"))
    }

    /// The lines of the ERP's import file, as the last run wrote it (none when it wrote none).
    fn imported(&self) -> Vec<String> {
        let path = self.w.path("erp-import/web-orders.csv");
        let Ok(bytes) = std::fs::read(path) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&bytes)
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

fn family(code: &str, name: &str, at: &str) -> Value {
    json!({"FA_CodeFamille": code, "FA_Intitule": name, "cbModification": at})
}

fn article(reference: &str, name: &str, price: f64, at: &str) -> Value {
    json!({"AR_Ref": reference, "AR_Design": name, "FA_CodeFamille": "MEUBLE", "AR_PrixVen": price,
           "AR_UniteVen": "pièce", "AR_Poids": 12.5, "AR_CodeBarre": null, "AR_Sommeil": 0,
           "cbModification": at})
}

fn text_in(field: &Value, language: &str) -> Value {
    field
        .as_array()
        .and_then(|texts| texts.iter().find(|t| t["id"] == language))
        .map(|t| t["value"].clone())
        .unwrap_or(Value::Null)
}

/// Points 1, 4 and 5 of PrestaShop's behaviour: names written per language (a plain string is
/// a 500 on create), every language named on create (fewer is a 500), and the fields a POST
/// would otherwise set to 0.
#[test]
fn the_template_creates_a_visible_sellable_taxed_catalog_in_every_language() {
    let t = Template::new();
    let by_hand = t.store().insert(
        "products",
        json!({"reference": "AR002", "name": [{"id": "1", "value": "Lampe (à la main)"}, {"id": "2", "value": "Lamp"}],
               "price": "12.000000", "date_add": "2026-01-05 10:00:00", "state": "1"}),
    );
    t.export(
        "families",
        &[family("MEUBLE", "Meubles", "2026-11-01 08:00:00")],
    );
    t.export(
        "articles",
        &[
            article("AR001", "Table chêne ", 149.0, "2026-11-01 09:00:00"),
            article("AR002", "Lampe", 15.9, "2026-11-01 09:00:01"),
            json!({"AR_Ref": "AR003", "AR_Design": "Ancien modèle", "FA_CodeFamille": "MEUBLE",
                   "AR_PrixVen": 9.0, "AR_UniteVen": "pièce", "AR_Poids": 1.0, "AR_CodeBarre": null,
                   "AR_Sommeil": 1, "cbModification": "2026-11-01 09:00:02"}),
        ],
    );
    let report = t.run_ok();
    let products = common::delivered(&report, "products");
    assert_eq!(
        (products["created"].as_u64(), products["linked"].as_u64()),
        (Some(1), Some(1)),
        "{products}"
    );
    let category = t.category("Meubles");
    assert_eq!(
        category["name"],
        json!([{"id": "1", "value": "Meubles"}, {"id": "2", "value": "Meubles"}]),
        "named in both languages"
    );
    assert_eq!(text_in(&category["link_rewrite"], "2"), "meubles");
    assert_eq!(category["id_parent"], "2", "under Home");
    assert!(category.get("FA_CodeFamille").is_none(), "{category}");

    let table = t.product("AR001");
    assert_eq!(text_in(&table["name"], "1"), "Table chêne");
    assert_eq!(text_in(&table["name"], "2"), "Table chêne");
    assert_eq!(text_in(&table["link_rewrite"], "1"), "table-chene");
    for (field, value) in [
        ("active", "1"),
        ("state", "1"),
        ("available_for_order", "1"),
        ("show_price", "1"),
        ("minimal_quantity", "1"),
        ("id_tax_rules_group", "1"),
        ("price", "149.000000"),
    ] {
        assert_eq!(table[field], value, "{field}: {table}");
    }
    assert_eq!(table["id_category_default"], category["id"]);
    assert_eq!(
        table["associations"]["categories"],
        json!([{"id": category["id"]}]),
        "listed in its category"
    );
    let lamp = t.store().get("products", by_hand).unwrap();
    assert_eq!(lamp["price"], "15.900000", "the product found is updated");
    assert_eq!(
        text_in(&lamp["name"], "2"),
        "Lamp",
        "its other language kept"
    );
    assert_eq!(
        t.store().all("products").len(),
        2,
        "no duplicate, no dormant"
    );
}

/// Points 3, 5 and 6: a category update without its read-only fields, translations in the
/// other language and what the shop manager set kept, and no position or association written
/// back.
#[test]
fn updates_leave_the_other_language_and_the_shop_managers_choices_alone() {
    let t = Template::new();
    t.export(
        "families",
        &[family("MEUBLE", "Meubles", "2026-11-01 08:00:00")],
    );
    t.export(
        "articles",
        &[article(
            "AR001",
            "Table chêne",
            149.0,
            "2026-11-01 09:00:00",
        )],
    );
    t.run_ok();
    let category: u64 = t.category("Meubles")["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let table: u64 = t.product("AR001")["id"].as_str().unwrap().parse().unwrap();
    {
        // The shop manager translates, rewords the URL, hides the product from search and
        // files it in a second category.
        let mut store = t.store();
        let translated =
            |one: &str, two: &str| json!([{"id": "1", "value": one}, {"id": "2", "value": two}]);
        store.touch(
            "categories",
            category,
            "name",
            translated("Meubles", "Furniture"),
        );
        store.touch(
            "products",
            table,
            "name",
            translated("Table chêne", "Oak table"),
        );
        store.touch(
            "products",
            table,
            "link_rewrite",
            translated("table-en-chene", "oak-table"),
        );
        store.touch("products", table, "visibility", json!("catalog"));
        store.touch(
            "products",
            table,
            "associations",
            json!({"categories": [{"id": category.to_string()}, {"id": "2"}]}),
        );
        store.position_rewrites.clear();
    }
    // The ERP renames the family and the article, and changes the price.
    t.export(
        "families",
        &[family("MEUBLE", "Mobilier", "2026-11-02 08:00:00")],
    );
    t.export(
        "articles",
        &[article(
            "AR001",
            "Table en chêne",
            159.0,
            "2026-11-02 09:00:00",
        )],
    );
    let report = t.run_ok();
    assert_eq!(common::delivered(&report, "categories")["updated"], 1);
    assert_eq!(common::delivered(&report, "products")["updated"], 1);
    let store = t.store();
    let category = store.get("categories", category).unwrap();
    assert_eq!(
        category["name"],
        json!([{"id": "1", "value": "Mobilier"}, {"id": "2", "value": "Furniture"}])
    );
    let table = store.get("products", table).unwrap();
    assert_eq!(
        table["name"],
        json!([{"id": "1", "value": "Table en chêne"}, {"id": "2", "value": "Oak table"}])
    );
    assert_eq!(
        text_in(&table["link_rewrite"], "1"),
        "table-en-chene",
        "set once"
    );
    assert_eq!(table["price"], "159.000000");
    assert_eq!(table["visibility"], "catalog");
    assert_eq!(
        table["associations"]["categories"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "associations not written back: {table}"
    );
    assert!(
        store.position_rewrites.is_empty(),
        "no position written back: {:?}",
        store.position_rewrites
    );
}

/// Point 2: stock through PATCH, the quantity alone; the JSON record would lack the row's
/// required fields that are 0. On PrestaShop 1.7 (no PATCH), the example overlay reads the row
/// in XML and PUTs it whole.
#[test]
fn stock_is_patched_on_the_row_prestashop_made() {
    for (pipeline, method) in [
        ("pipelines/prestashop/sage-erp-sync.yaml", "PATCH"),
        ("examples/prestashop-1.7/stock-by-put.yaml", "PUT"),
    ] {
        stock_written(Template::extending(pipeline), method);
    }
}

fn stock_written(t: Template, method: &str) {
    t.export(
        "families",
        &[family("MEUBLE", "Meubles", "2026-11-01 08:00:00")],
    );
    t.export(
        "articles",
        &[article("AR001", "Table", 149.0, "2026-11-01 09:00:00")],
    );
    t.export(
        "stock",
        &[json!({"AR_Ref": "AR001", "AS_QteSto": 5.0, "cbModification": "2026-11-01 09:30:00"})],
    );
    let report = t.run_ok();
    assert_eq!(
        common::delivered(&report, "stock")["linked"],
        1,
        "{report:#}"
    );
    let table = t.product("AR001")["id"].as_str().unwrap().to_string();
    let store = t.store();
    let rows: Vec<Value> = store
        .all("stock_availables")
        .into_iter()
        .filter(|s| s["id_product"] == table.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "the row PrestaShop made: {rows:?}");
    assert_eq!(rows[0]["quantity"], "5");
    assert_eq!(rows[0]["depends_on_stock"], "0");
    assert_eq!(rows[0]["out_of_stock"], "2");
    let methods: Vec<&str> = store
        .writes
        .iter()
        .filter(|w| w.1 == "stock_availables")
        .map(|w| w.0.as_str())
        .collect();
    assert_eq!(methods, [method]);
}

/// A create PrestaShop refuses is quarantined with its message on the first try; the others go
/// on, and the refused article's stock waits for it.
#[test]
fn a_refused_create_is_quarantined_at_once_and_the_job_goes_on() {
    let t = Template::new();
    t.export(
        "families",
        &[family("MEUBLE", "Meubles", "2026-11-01 08:00:00")],
    );
    t.export(
        "articles",
        &[
            article("AR001", "Table", 149.0, "2026-11-01 09:00:00"),
            // `=` and `;` are not allowed in a product name (Validate::isCatalogName).
            article("AR009", "Lot 2=1; promo", 10.0, "2026-11-01 09:00:01"),
        ],
    );
    t.export(
        "stock",
        &[
            json!({"AR_Ref": "AR001", "AS_QteSto": 5.0, "cbModification": "2026-11-01 09:30:00"}),
            json!({"AR_Ref": "AR009", "AS_QteSto": 3.0, "cbModification": "2026-11-01 09:30:01"}),
        ],
    );
    let (code, report) = t.run();
    assert_eq!(code, 3, "{report:#}");
    let products = common::job(&report, "products");
    assert_eq!(products["delivered"]["created"], 1, "{products}");
    let reasons = products["reasons"].to_string();
    assert!(
        reasons.contains("Property Product->name is not valid") && reasons.contains("AR009"),
        "PrestaShop's message and the article's code: {reasons}"
    );
    assert_eq!(
        common::delivered(&report, "stock")["linked"],
        1,
        "{report:#}"
    );
    let posts = t
        .store()
        .writes
        .iter()
        .filter(|w| w.0 == "POST" && w.1 == "products")
        .count();
    assert_eq!(posts, 1, "only the table was made");
    let tried = (0..t.shop.api.request_count())
        .filter(|&n| t.shop.api.body(n).contains("Lot 2=1"))
        .count();
    assert_eq!(tried, 1, "sent once, not retried");
}

/// Points 7 and 8: order states checked, and no order imported twice: not when the ERP's state
/// moves its `date_upd`, not within the look-back, not when clocks go back.
#[test]
fn orders_are_imported_once_and_states_for_unknown_orders_are_quarantined() {
    let t = Template::new();
    let order_row = |id: u64, product: &str| {
        json!({"id": id.to_string(), "product_reference": product, "product_name": "Table",
               "product_quantity": "2", "unit_price_tax_excl": "149.000000"})
    };
    let order = t.store().insert(
        "orders",
        json!({"reference": "XKBKNABJK", "current_state": "2", "id_customer": "9", "valid": "1",
               "date_add": "2026-11-01 10:00:00",
               "associations": {"order_rows": [order_row(1, "AR001"), order_row(2, "AR002")]}}),
    );
    t.run_ok();
    let first = t.imported();
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first[0].contains(&format!(";WEB{order};")), "{first:?}");

    // The ERP takes the order (state "processing"), and sends a state for an order the shop
    // does not have.
    t.export(
        "documents",
        &[
            json!({"DO_Piece": "BC00042", "DO_Ref": format!("WEB{order}"), "DO_Type": 1, "cbModification": "2026-11-20 11:00:00"}),
            json!({"DO_Piece": "BC00043", "DO_Ref": "WEB999", "DO_Type": 1, "cbModification": "2026-11-20 11:00:01"}),
        ],
    );
    let before = t.shop.api.request_count();
    let (code, report) = t.run();
    assert_eq!(code, 3, "{report:#}");
    let states = common::job(&report, "order_states");
    assert_eq!(states["delivered"]["created"], 1, "{states}");
    let reasons = states["reasons"].to_string();
    assert!(
        reasons.contains("Invalid new order status") && reasons.contains("999"),
        "{reasons}"
    );
    let posted_999 = (before..t.shop.api.request_count())
        .filter(|&n| t.shop.api.body(n).contains("<id_order>999</id_order>"))
        .count();
    assert_eq!(posted_999, 1, "refused on the first try");
    assert_eq!(
        t.store().get("orders", order).unwrap()["current_state"],
        "3"
    );
    assert!(t.store().emails.is_empty(), "sendemail is off by default");
    // The state moved the order's date_upd: the orders job read it again, exported nothing.
    let (_, report) = t.run();
    assert!(
        common::job(&report, "orders")["read"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    assert!(t.imported().is_empty(), "{:?}", t.imported());

    // Clocks go back: an order updated in the repeated hour is dated before the cursor.
    let late = t.store().insert(
        "orders",
        json!({"reference": "LATEORDER", "current_state": "2", "id_customer": "10", "valid": "1",
               "date_add": "2026-11-01 09:20:00",
               "associations": {"order_rows": [order_row(3, "AR001")]}}),
    );
    t.store()
        .records
        .resources
        .get_mut("orders")
        .unwrap()
        .get_mut(&late)
        .unwrap()["date_upd"] = json!("2026-11-01 09:20:00");
    let _ = t.run();
    let imported = t.imported();
    assert_eq!(imported.len(), 1, "{imported:?}");
    assert!(
        imported[0].contains(&format!(";WEB{late};")),
        "{imported:?}"
    );
}

/// A request to the double as a client sends it, with the key in the query: status and body.
fn ask(shop: &PrestaShop, method: &str, path: &str, xml: Option<&str>) -> (u16, String) {
    let agent = common::http_client();
    let url = format!("{}{path}ws_key={KEY}&output_format=JSON", shop.api.url);
    let body = xml.unwrap_or("").to_string();
    let answer = match method {
        "GET" => agent.get(&url).send(),
        "PUT" => agent.put(&url).body(body).send(),
        _ => agent.post(&url).body(body).send(),
    };
    let answer = answer.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().unwrap())
}

/// Point 8: the webservice's own rules a client meets: `<id>` in the body of a PUT or PATCH,
/// ids per table, an empty 404, its error codes, decimals with six places.
#[test]
fn the_webservices_ids_errors_and_formats() {
    let shop = PrestaShop::start();
    let category = r#"<prestashop><category><name><language id="1">Chaises</language></name>
        <link_rewrite><language id="1">chaises</language></link_rewrite><active>1</active>
        <id_parent>2</id_parent></category></prestashop>"#;
    let (status, body) = ask(&shop, "POST", "/categories?", Some(category));
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        created["category"]["id"], "3",
        "ids per table: Root and Home are 1 and 2"
    );
    let (status, body) = ask(&shop, "PUT", "/categories/3?", Some(category));
    assert_eq!(
        (status, body.contains("\"code\":90")),
        (400, true),
        "{body}"
    );
    let (status, body) = ask(&shop, "GET", "/categories/99?", None);
    assert_eq!((status, body.as_str()), (404, ""));
    let (status, body) = ask(&shop, "GET", "/widgets?", None);
    assert_eq!(
        (status, body.contains("\"code\":27")),
        (400, true),
        "{body}"
    );
    let (status, body) = ask(&shop, "GET", "/categories?filter[colour]=[red]&", None);
    assert_eq!(
        (status, body.contains("\"code\":32")),
        (400, true),
        "{body}"
    );
    let product = r#"<prestashop><product><name><language id="1">Chaise</language></name>
        <price>20</price></product></prestashop>"#;
    let (status, body) = ask(&shop, "POST", "/products?", Some(product));
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["product"]["id"], "1");
    // The create answers the object as sent; read back, the database's six places.
    let (_, body) = ask(&shop, "GET", "/products/1?", None);
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["product"]["price"], "20.000000", "{body}");
}

/// The shipped Sage template as it is, its SQL run against the fake Sage 100 database of
/// `examples/sage-erp/` (SQLite, the small size) and the shop double: families, active
/// articles and the depot's stock reach the shop; sleeping articles do not.
#[test]
fn the_shipped_template_runs_its_sql_against_the_fake_sage_erp() {
    let shop = PrestaShop::start_with_languages(&["1"]);
    let w = Workdir::new();
    let root = common::repo_root();
    let generated = std::process::Command::new("python3")
        .arg(root.join("examples/sage-erp/generate.py"))
        .args(["--size", "small", "--out"])
        .arg(w.path("erp.db"))
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    w.write(".secrets", format!("PS_WEBSERVICE_KEY={KEY}\n"));
    let template = root.join("pipelines/prestashop/sage-erp-sync.yaml");
    let state = w.path("state");
    let url = format!("sqlite://{}", w.path("erp.db").display());
    let shop_url = shop.api.url.trim_end_matches("/api").to_string();
    let import = w.path("erp-import");
    std::fs::create_dir_all(&import).unwrap();
    let env = [
        ("ERP_DATABASE_URL", url.as_str()),
        ("SHOP_URL", shop_url.as_str()),
        ("ERP_IMPORT_DIR", import.to_str().unwrap()),
    ];
    let args = ["--secrets", ".secrets", "--state", state.to_str().unwrap()];
    let (_, report) = w.run_with_env(template.to_str().unwrap(), &args, &env);
    let delivered = |job: &str| common::delivered(&report, job);
    assert_eq!(delivered("categories")["created"], 13, "{report:#}");
    // 55 articles, 4 of them asleep.
    assert_eq!(delivered("products")["created"], 51, "{report:#}");
    assert_eq!(
        common::job(&report, "products")["filtered"],
        4,
        "{report:#}"
    );
    assert!(
        delivered("stock")["linked"].as_u64().unwrap() > 40,
        "the depot's stock rows of the active articles: {report:#}"
    );
    let chair = shop
        .store
        .lock()
        .unwrap()
        .all("products")
        .into_iter()
        .find(|p| p["name"][0]["value"] == "Chaise \"Louis XV\" – chêne")
        .expect("the article with quotes and accents");
    assert!(chair["price"].as_str().unwrap().contains('.'), "{chair}");
    // A second run writes nothing: the watermarks moved (the products' look-back reads the
    // last minutes again, found unchanged).
    let (_, again) = w.run_with_env(template.to_str().unwrap(), &args, &env);
    for job in ["categories", "products", "stock"] {
        assert_eq!(common::job(&again, job)["written"], 0, "{job}: {again:#}");
    }
}
