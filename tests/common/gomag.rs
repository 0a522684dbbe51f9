//! A Gomag API double. Gomag publishes no specification: the rules below are those of the
//! community clients named in shared/reference/apis.md ("Gomag"), each cited beside it:
//! - gomag-mcp (github.com/florinel-chis/gomag-mcp, README.md, src/gomag_mcp/client.py and
//!   tools/*.py), written from Gomag's own Postman collection;
//! - bapp-connectors (github.com/bapp-open/bapp-connectors,
//!   src/bapp_connectors/providers/shop/gomag/{client,adapter,mappers,manifest}.py, README.md,
//!   tests/shop/gomag/*.py);
//! - two order readers that page through `order/read/json` by hand (a TypeScript connector
//!   and an Apps Script, both seen through the code search; their repositories are not named
//!   there).
//!
//! In short: `Apikey` + `ApiShop` headers and a User-Agent of the client's own, writes as form
//! fields `data=<JSON>`, lists as objects keyed by id with `total`/`page`/`pages`, `limit` at
//! most 100; `product/read|write|patch/json`, `product/inventory/json` (price and stock by SKU,
//! the one combined call), `order/read/json` (newest first, `dateFrom`/`dateTo` on the day the
//! order was placed), `order/status/read/json` (the shop's statuses by id) and
//! `order/status/json` (`{"orders": [{"order": <internal id>, "status": <status id>}]}`, as
//! measured on the live API; any other form answers `NO DATA`); a leaky bucket per shop for
//! reads and one for writes, 429 past it. Ids are strings.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};
use super::shop::decode;

pub const API_KEY: &str = "gm-5b0e1c7d2a";
pub const SHOP: &str = "https://magazin.example.ro";
/// The shop's order statuses, id and name, as `order/status/read/json` lists them.
// Gomag: bapp-connectors tests/shop/gomag/test_order_status_catalog_unit.py (commit de6fcd0):
// the list is an object keyed by id, `{"1": {"id": "1", "name": "Comanda NEW"}, "2": {"id":
// "2", "name": "Livrata"}, "9": {"id": "9", "name": "Pregatita de curier"}}`, 9 being "a
// status the merchant created" (that test's catalogue; the live measurement of 2026-10-06 it
// records is of the update, below). Statuses are the shop's own: ids 1, 2 and 9 are that
// test's, 3, 4 and 5 the double's (their names: shared/reference/apis.md, bapp-connectors
// mappers.py). The new order's name: apis.md has "Comanda noua", bapp-connectors "Comanda NEW"
// (README.md, mappers.py and that test, the one source that shows it with its id): the double
// keeps bapp-connectors'.
pub const STATUSES: [(u64, &str); 6] = [
    (1, "Comanda NEW"),
    (2, "Livrata"),
    (3, "In curs de procesare"),
    (4, "Anulata"),
    (5, "Retur"),
    (9, "Pregatita de curier"),
];

/// The name of the shop's status `id`.
pub fn status_name(id: u64) -> Option<&'static str> {
    STATUSES
        .iter()
        .find(|(s, _)| *s == id)
        .map(|(_, name)| *name)
}

/// The id of the shop's status named `name`.
pub fn status_id(name: &str) -> Option<u64> {
    STATUSES.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
}

/// Requests a second and burst of each of a shop's buckets unless a test says otherwise.
// Gomag: gomag-mcp README.md ("Api-RateLimit-Read: Read request processing rate (req/s,
// default 1)", the same for writes); bapp-connectors manifest.py (`requests_per_second=1,
// burst=2`, the numbers its tests/shop/gomag/test_integration.py runs against the live API).
// bapp-connectors' README.md says "5 req/s, burst 10": the sources disagree, the double takes
// the default the Postman collection gives. The burst is not documented anywhere: 2 is the
// least a live client was seen to get.
pub const RATE: f64 = 1.0;
pub const BURST: f64 = 2.0;

/// One of a shop's leaky buckets: `burst` requests at most, leaking `rate` a second.
// Gomag: gomag-mcp README.md ("The Gomag API implements a Leaky Bucket algorithm applied per
// shop", read and write counted apart); shared/reference/apis.md ("leaky bucket, 429").
pub struct Bucket {
    rate: f64,
    burst: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            rate,
            burst,
            level: 0.0,
            at: Instant::now(),
        }
    }

    /// One more request: the requests left, or `None` when the bucket is full (refused).
    fn take(&mut self) -> Option<u64> {
        let now = Instant::now();
        let leaked = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.level = (self.level - leaked).max(0.0);
        self.at = now;
        if self.level + 1.0 > self.burst + 1e-9 {
            return None;
        }
        self.level += 1.0;
        Some((self.burst - self.level).floor().max(0.0) as u64)
    }
}

pub struct Store {
    pub records: Records,
    /// Every write: call and the SKU or id it touched.
    pub writes: Vec<(String, String)>,
    /// The lines of each `product/inventory/json` call.
    pub inventory_calls: Vec<usize>,
    reads: Bucket,
    written: Bucket,
    /// Requests refused with 429.
    pub refused: usize,
}

impl Store {
    fn new(rate: f64, burst: f64) -> Store {
        Store {
            records: Records::new(Style {
                string_ids: true,
                modified: "updated",
                // Gomag: bapp-connectors README.md ("The API returns dates in ISO format or
                // `%Y-%m-%d %H:%M:%S`"); shared/reference/apis.md (`updated=YYYY-MM-DD`).
                time: local_time,
            }),
            writes: Vec::new(),
            inventory_calls: Vec::new(),
            reads: Bucket::new(rate, burst),
            written: Bucket::new(rate, burst),
            refused: 0,
        }
    }
}

crate::store_of_records!(Store);

impl Store {
    pub fn product(&self, sku: &str) -> Option<Value> {
        self.all("products").into_iter().find(|p| p["sku"] == sku)
    }

    fn product_id(&self, sku: &str) -> Option<u64> {
        self.product(sku)?["id"].as_str()?.parse().ok()
    }

    /// An order placed in the shop now: its `date` is the time it was placed, its status
    /// given by name (`status`) or id (`statusId`), the other filled in.
    // Gomag: shared/reference/apis.md (an order's `id`, `number`, `date`, `status`...);
    // bapp-connectors mappers.py (`date_added` or `date`; the status's name read from
    // `status_name`, else `status`). No source shows how an order carries its status's id:
    // `statusId` is the double's own name for it (camelCase like `dateFrom`, `specialPrice`).
    pub fn insert_order(&mut self, mut order: Value) -> u64 {
        let by_id = (order["statusId"].as_u64())
            .or_else(|| order["statusId"].as_str().and_then(|id| id.parse().ok()))
            .and_then(status_name);
        let by_name = order["status"].as_str().and_then(status_id);
        match (by_id, by_name) {
            (Some(name), None) => order["status"] = json!(name),
            (None, Some(id)) => order["statusId"] = json!(id.to_string()),
            _ => {}
        }
        let id = self.insert("orders", order);
        let placed = self.get("orders", id).map(|o| o["updated"].clone());
        if let Some(order) = self
            .records
            .resources
            .get_mut("orders")
            .and_then(|orders| orders.get_mut(&id))
        {
            order["date"] = placed.unwrap_or(Value::Null);
        }
        id
    }

    /// The order's status set to the shop's status `status` (id and name), as the back office
    /// or `order/status/json` does; false when there is no such order or status.
    pub fn set_status(&mut self, order: u64, status: u64) -> bool {
        let Some(name) = status_name(status) else {
            return false;
        };
        let mut fields = Map::new();
        fields.insert("statusId".into(), json!(status.to_string()));
        fields.insert("status".into(), json!(name));
        self.set("orders", order, &fields)
    }
}

pub struct Gomag {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl Gomag {
    /// A shop with the documented default limits ([`RATE`] a second, bursts of [`BURST`]).
    pub fn start() -> Gomag {
        Gomag::start_with_limits(RATE, BURST)
    }

    /// A shop whose buckets take `rate` requests a second, `burst` at most at once.
    pub fn start_with_limits(rate: f64, burst: f64) -> Gomag {
        let store = Arc::new(Mutex::new(Store::new(rate, burst)));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        Gomag { api, store }
    }

    /// The base URL a pipeline uses: `.../api/v1`.
    // Gomag: bapp-connectors manifest.py and gomag-mcp README.md
    // (`https://api.gomag.ro/api/v1/`).
    pub fn url(&self) -> String {
        format!("{}/v1", self.api.url)
    }
}

/// An error as Gomag words it: `{"error": code, "message": ...}`.
// Gomag: shared/reference/apis.md (`{"error":100,"message":"Missing Api User"}`); the
// bapp-connectors test tests/shop/gomag/test_order_status_catalog_unit.py shows the same
// two members (`{"error": "404", "message": ["NO DATA"]}`, see [`no_data`]). The HTTP status
// of an error is not documented: the double keeps its 400. The codes other than 100 are the
// double's own.
fn error(code: u64, message: &str) -> Reply {
    Reply::status(400, json!({"error": code, "message": message}))
}

/// What Gomag answers to a status change it does not take: nothing is changed.
// Gomag: bapp-connectors tests/shop/gomag/test_order_status_catalog_unit.py and client.py
// `update_order_status` (commit de6fcd0; live, 2026-10-06): `{"error": "404", "message":
// ["NO DATA"]}`, "changes nothing". The HTTP status that came with it is not recorded there:
// the double answers 200 with that body. (bapp-connectors' client raises on any status that
// is not 2xx while its old update ignored the answer's body, and the old form is said to have
// changed nothing rather than to have failed: that suggests a 200, but it is an inference.) A
// pipeline that wants this read as a refusal needs the answer's body looked at on a 200.
fn no_data() -> Reply {
    Reply::json(json!({"error": "404", "message": ["NO DATA"]}))
}

/// The `data` form field, parsed.
// Gomag: bapp-connectors client.py (`data={"data": json.dumps(payload)}`); gomag-mcp
// client.py ("a single form field `data` whose value is a JSON string"). gomag-mcp sends it as
// multipart/form-data, bapp-connectors as urlencoded: the double reads urlencoded forms.
fn data(r: &Request) -> Option<Value> {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let form: Vec<(String, String)> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let text = form.iter().find(|(k, _)| k == "data")?.1.clone();
    serde_json::from_str(&text).ok()
}

/// A list as Gomag sends it: an object keyed by id.
// Gomag: bapp-connectors mappers.py ("The Gomag API returns products as a dict keyed by
// product ID, not as a list"); shared/reference/apis.md (`{"total":..,"orders":{"123":{...}}}`).
fn keyed(records: Vec<Value>) -> Value {
    Value::Object(
        records
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r))
            .collect(),
    )
}

/// A `YYYY-MM-DD` query parameter: `Err` when it is given in another form.
// Gomag: gomag-mcp tools/product.py (`updated`: "on/after this date (YYYY-MM-DD)") and
// tools/order.py (`date_from`/`date_to` sent as `dateFrom`/`dateTo`, "YYYY-MM-DD");
// shared/reference/apis.md (`updated=YYYY-MM-DD`). What Gomag answers to another form is not
// documented: the double refuses it, so that a pipeline sends the documented one.
fn day<'a>(r: &'a Request, name: &str) -> Result<Option<&'a str>, Reply> {
    match param(r, name) {
        None => Ok(None),
        Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() && d.len() == 10 => {
            Ok(Some(d))
        }
        Some(d) => Err(error(
            11,
            &format!("{name} `{d}` is not a date (YYYY-MM-DD)"),
        )),
    }
}

/// The day part of a `YYYY-MM-DD HH:MM:SS` time.
fn day_of(time: &Value) -> &str {
    time.as_str().map_or("", |t| t.get(..10).unwrap_or(t))
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    // Gomag: gomag-mcp README.md ("All requests require both the `ApiShop` and `Apikey`
    // headers"); bapp-connectors adapter.py (MultiHeaderAuth `ApiShop` + `Apikey`); the answer
    // to a missing or wrong key: shared/reference/apis.md.
    if r.header("apikey") != Some(API_KEY) || r.header("apishop") != Some(SHOP) {
        return error(100, "Missing Api User");
    }
    // Gomag: gomag-mcp client.py ("User-Agent → custom (Gomag rejects the default
    // PostmanRuntime value)"); shared/reference/apis.md ("a custom User-Agent is required").
    // No source gives the answer's status or body: the double's 403 is kept. A library's
    // default (ureq's `ureq/x.y`) is refused like Postman's, as no custom one.
    if r.header("user-agent").is_none_or(|ua| {
        ua.trim().is_empty() || ua.starts_with("ureq") || ua.starts_with("PostmanRuntime")
    }) {
        return Reply::status(403, json!({"error": 403, "message": "Forbidden"}));
    }
    let Some(call) = r.path.strip_prefix("/api/v1/") else {
        return error(404, "Unknown method");
    };
    // Gomag: gomag-mcp README.md: reads and writes have buckets of their own, each answered
    // in `Api-RateLimit-{Read,Write}`, `-Burst` and `-Remaining` headers "present on every
    // response until the limit is reached", and 429 past it; client.py retries a 429 after at
    // least a second. The body and any `Retry-After` of a 429 are not documented: the double
    // sends none of the headers and its own body.
    let (kind, bucket) = if r.method == "GET" {
        ("Read", &mut store.reads)
    } else {
        ("Write", &mut store.written)
    };
    let (rate, burst) = (bucket.rate, bucket.burst);
    let Some(remaining) = bucket.take() else {
        store.refused += 1;
        return Reply::status(429, json!({"error": 429, "message": "Too Many Requests"}));
    };
    let reply = route(r, call, store);
    reply
        .header(&format!("Api-RateLimit-{kind}"), rate.to_string())
        .header(&format!("Api-RateLimit-{kind}-Burst"), burst.to_string())
        .header(
            &format!("Api-RateLimit-{kind}-Remaining"),
            remaining.to_string(),
        )
}

fn route(r: &Request, call: &str, store: &mut Store) -> Reply {
    // Gomag: gomag-mcp tools/product.py and tools/order.py (`limit`: "Results per page
    // (1–100)"); bapp-connectors client.py (`limit=100` by default). What Gomag does with a
    // larger limit is not documented: the double keeps its refusal. The default when none is
    // given is not documented either: the double keeps 100.
    let limit: usize = param(r, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    if limit > 100 {
        return error(10, "limit must be at most 100");
    }
    // Gomag: bapp-connectors client.py and gomag-mcp tools/*.py (`page`, from 1).
    let page: usize = param(r, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    match (r.method.as_str(), call) {
        // Gomag: gomag-mcp tools/product.py (GET `product/read/json`, filters `id`, `sku`,
        // `updated`: "modified on/after this date"); bapp-connectors client.py.
        ("GET", "product/read/json") => {
            let updated = match day(r, "updated") {
                Ok(updated) => updated,
                Err(refused) => return refused,
            };
            let products: Vec<Value> = store
                .all("products")
                .into_iter()
                .filter(|p| param(r, "sku").is_none_or(|sku| p["sku"] == sku))
                .filter(|p| param(r, "id").is_none_or(|id| p["id"] == id))
                .filter(|p| updated.is_none_or(|from| day_of(&p["updated"]) >= from))
                .collect();
            list("products", products, page, limit)
        }
        // Gomag: gomag-mcp tools/order.py (GET `order/read/json`, filters `id`, `number`,
        // `status`, `dateFrom`/`dateTo`: orders "placed on/after" / "on/before" this date,
        // YYYY-MM-DD). No source shows a filter on an order's last change: an order changed
        // after it was placed is found again only by reading its day again. The order of the
        // list: the TypeScript connector and the Apps Script that read it page by page stop at
        // the first order placed before the day they want, so they get the newest first.
        ("GET", "order/read/json") => {
            let (from, to) = match (day(r, "dateFrom"), day(r, "dateTo")) {
                (Ok(from), Ok(to)) => (from, to),
                (Err(refused), _) | (_, Err(refused)) => return refused,
            };
            let mut orders: Vec<Value> = store
                .all("orders")
                .into_iter()
                .filter(|o| param(r, "id").is_none_or(|id| o["id"] == id))
                .filter(|o| param(r, "number").is_none_or(|n| o["number"] == n))
                .filter(|o| param(r, "status").is_none_or(|s| o["status"] == s))
                .filter(|o| from.is_none_or(|from| day_of(&o["date"]) >= from))
                .filter(|o| to.is_none_or(|to| day_of(&o["date"]) <= to))
                .map(|mut o| {
                    // The double's own bookkeeping: no source shows a last-change time on an
                    // order (shared/reference/apis.md lists `date`, not one).
                    if let Some(o) = o.as_object_mut() {
                        o.remove("updated");
                    }
                    o
                })
                .collect();
            let newest_first = |o: &Value| {
                let id: u64 = o["id"].as_str().and_then(|i| i.parse().ok()).unwrap_or(0);
                (o["date"].as_str().unwrap_or("").to_string(), id)
            };
            orders.sort_by_key(|o| std::cmp::Reverse(newest_first(o)));
            list("orders", orders, page, limit)
        }
        // Gomag: bapp-connectors client.py (`create_product(payload: list[dict])`, POST
        // `product/write/json`); gomag-mcp tools/product.py ("JSON array of product objects").
        // The answer's shape and the refusal of an SKU already used are not documented: the
        // double keeps its own (`{"total", "products": [{"id", "sku"}]}`).
        ("POST", "product/write/json") => {
            let Some(Value::Array(products)) = data(r) else {
                return error(20, "data must be a JSON list of products");
            };
            let mut written = Vec::new();
            for product in products {
                let sku = product["sku"].as_str().unwrap_or_default().to_string();
                if sku.is_empty() || store.product(&sku).is_some() {
                    return error(21, &format!("sku `{sku}` is empty or already used"));
                }
                let id = store.insert("products", product);
                store.writes.push(("product/write".into(), sku.clone()));
                written.push(json!({"id": id.to_string(), "sku": sku}));
            }
            Reply::json(json!({"total": written.len(), "products": written}))
        }
        // Gomag: gomag-mcp tools/product.py (POST `product/patch/json`, "Must include an
        // identifier field (id or sku)"). bapp-connectors mappers.py sends `product_id` and
        // `sku`: the sources disagree on the id's name, the double keeps `id` and takes `sku`
        // as both send it. The answer is not documented: the double keeps `{"total": n}`.
        ("POST", "product/patch/json") => {
            let Some(Value::Array(products)) = data(r) else {
                return error(20, "data must be a JSON list of products");
            };
            let mut patched = 0;
            for product in products {
                // Ids are strings in Gomag's answers; PHP takes numbers as well.
                let by_id = product["id"]
                    .as_u64()
                    .or_else(|| product["id"].as_str().and_then(|id| id.parse().ok()));
                let id = by_id.or_else(|| {
                    product["sku"]
                        .as_str()
                        .and_then(|sku| store.product_id(sku))
                });
                let fields = product.as_object().cloned().unwrap_or_default();
                if !id.is_some_and(|id| store.set("products", id, &fields)) {
                    return error(22, "product not found");
                }
                let which = match by_id {
                    Some(_) => product["id"].to_string(),
                    None => product["sku"].to_string(),
                };
                store.writes.push(("product/patch".into(), which));
                patched += 1;
            }
            Reply::json(json!({"total": patched}))
        }
        // Gomag: gomag-mcp tools/product.py (POST `product/inventory/json`, lines of `sku`,
        // `price`, `stock`, `specialPrice`); shared/reference/apis.md (the same, "the one
        // combined stock+price call"). bapp-connectors mappers.py writes `quantity` and
        // `special_price`: the sources disagree, the double keeps gomag-mcp's names. The
        // answer (a result a line, an unknown SKU refused on its own line) is not documented:
        // the double keeps its own.
        ("POST", "product/inventory/json") => {
            let Some(Value::Array(lines)) = data(r) else {
                return error(20, "data must be a JSON list");
            };
            store.inventory_calls.push(lines.len());
            let mut results = Vec::new();
            for line in lines {
                let sku = line["sku"].as_str().unwrap_or_default().to_string();
                let Some(id) = store.product_id(&sku) else {
                    results.push(json!({"sku": sku, "status": "error", "error": {"code": 23, "message": format!("sku `{sku}` not found")}}));
                    continue;
                };
                let mut fields = Map::new();
                for name in ["price", "stock", "specialPrice"] {
                    if let Some(v) = line.get(name) {
                        fields.insert(name.to_string(), v.clone());
                    }
                }
                store.set("products", id, &fields);
                store.writes.push(("product/inventory".into(), sku.clone()));
                results.push(json!({"sku": sku, "status": "updated"}));
            }
            Reply::json(json!({"total": results.len(), "products": results}))
        }
        // Gomag: bapp-connectors tests/shop/gomag/test_order_status_catalog_unit.py (GET
        // `order/status/read/json`: an object keyed by status id, each `{"id", "name"}`, ids
        // as strings, the merchant's own statuses among them).
        ("GET", "order/status/read/json") => Reply::json(Value::Object(
            STATUSES
                .iter()
                .map(|(id, name)| (id.to_string(), json!({"id": id.to_string(), "name": name})))
                .collect(),
        )),
        // Gomag: bapp-connectors client.py `update_order_status` (commit de6fcd0): the GET
        // form `order/status/json?order_id=<customer number>&status=<name>` "answers
        // `{"error": "404", "message": ["NO DATA"]}` and leaves the order untouched"
        // (measured on the live API, 2026-10-06).
        ("GET", "order/status/json") => no_data(),
        // Gomag: bapp-connectors tests/shop/gomag/test_order_status_catalog_unit.py and
        // client.py `update_order_status` (commit de6fcd0; live, 2026-10-06): POST
        // `data={"orders": [{"order": 55, "status": 9}]}`, the order's INTERNAL id (its `id`,
        // not the `number` the customer sees) and the NUMERIC status id (as
        // `order/status/read/json` lists them), answered `{"error": "200"}`, and the order
        // moves; the name/number form answers NO DATA ([`no_data`]) and changes nothing.
        // gomag-mcp tools/order.py's form, `data={"id", "status": <label>, ...}` (from the
        // Postman collection, which the double took before), is not in the measurement: the
        // double answers it NO DATA like any other form. Also the double's own, not measured:
        // ids sent as text (`"55"`) are not taken (the live call sent numbers); an order or
        // status the shop does not have answers NO DATA; a list with one such entry changes
        // none of its orders.
        ("POST", "order/status/json") => {
            let Some(Value::Array(changes)) = data(r).map(|d| d["orders"].clone()) else {
                return no_data();
            };
            let mut applied = Vec::new();
            for change in &changes {
                let order = change["order"]
                    .as_u64()
                    .filter(|id| store.get("orders", *id).is_some());
                let status = change["status"]
                    .as_u64()
                    .filter(|s| status_name(*s).is_some());
                let (Some(order), Some(status)) = (order, status) else {
                    return no_data();
                };
                applied.push((order, status));
            }
            if applied.is_empty() {
                return no_data();
            }
            for (order, status) in applied {
                store.set_status(order, status);
                store
                    .writes
                    .push(("order/status".into(), order.to_string()));
            }
            Reply::json(json!({"error": "200"}))
        }
        _ => error(404, "Unknown method"),
    }
}

/// A page of a list: `total`, `page`, `pages` and the records keyed by id.
// Gomag: gomag-mcp README.md ("Paginated list endpoints include: total, page, pages"); the
// Boomag PHP client seen through the code search reads `pages`; bapp-connectors mappers.py
// (the records keyed by id).
fn list(name: &str, records: Vec<Value>, page: usize, limit: usize) -> Reply {
    let total = records.len();
    let pages = total.div_ceil(limit).max(1);
    let items = records
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    Reply::json(json!({"total": total, "page": page, "pages": pages, name: keyed(items)}))
}
