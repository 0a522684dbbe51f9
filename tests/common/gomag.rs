//! A Gomag API double (shared/reference/apis.md; no public spec, as community clients see it):
//! `Apikey` + `ApiShop` headers and a User-Agent of the client's own (else
//! `{"error":100,...}`), writes as form fields `data=<JSON>`, lists as objects keyed by id
//! with `total`/`page`/`pages`, `limit` at most 100; `product/read|write|patch/json`,
//! `product/inventory/json` (price and stock by SKU, the one combined call; a result a line,
//! an unknown SKU refused on its own line), `order/read/json`
//! (`dateFrom` on the last change, oldest first), `order/status/json` (status by order id);
//! Romanian status labels. Ids are strings.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};
use super::shop::decode;

pub const API_KEY: &str = "gm-5b0e1c7d2a";
pub const SHOP: &str = "https://magazin.example.ro";
pub const STATUSES: [&str; 5] = [
    "Comanda noua",
    "In curs de procesare",
    "Livrata",
    "Anulata",
    "Retur",
];

pub struct Store {
    pub records: Records,
    /// Every write: call and the SKU or id it touched.
    pub writes: Vec<(String, String)>,
    /// The lines of each `product/inventory/json` call.
    pub inventory_calls: Vec<usize>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            records: Records::new(Style {
                string_ids: true,
                modified: "updated",
                time: local_time,
            }),
            writes: Vec::new(),
            inventory_calls: Vec::new(),
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
}

pub struct Gomag {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl Gomag {
    pub fn start() -> Gomag {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        Gomag { api, store }
    }

    /// The base URL a pipeline uses: `.../api/v1`.
    pub fn url(&self) -> String {
        format!("{}/v1", self.api.url)
    }
}

fn error(code: u64, message: &str) -> Reply {
    Reply::status(400, json!({"error": code, "message": message}))
}

/// The `data` form field, parsed.
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
fn keyed(records: Vec<Value>) -> Value {
    Value::Object(
        records
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r))
            .collect(),
    )
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    if r.header("apikey") != Some(API_KEY) || r.header("apishop") != Some(SHOP) {
        return error(100, "Missing Api User");
    }
    if r.header("user-agent")
        .is_none_or(|ua| ua.is_empty() || ua.starts_with("ureq"))
    {
        return Reply::status(403, json!({"error": 403, "message": "Forbidden"}));
    }
    let Some(call) = r.path.strip_prefix("/api/v1/") else {
        return error(404, "Unknown method");
    };
    let limit: usize = param(r, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    if limit > 100 {
        return error(10, "limit must be at most 100");
    }
    let page: usize = param(r, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    match (r.method.as_str(), call) {
        ("GET", "product/read/json") => {
            let products: Vec<Value> = store
                .all("products")
                .into_iter()
                .filter(|p| param(r, "sku").is_none_or(|sku| p["sku"] == sku))
                .filter(|p| param(r, "id").is_none_or(|id| p["id"] == id))
                .collect();
            list("products", products, page, limit)
        }
        ("GET", "order/read/json") => {
            let mut orders: Vec<Value> = store
                .all("orders")
                .into_iter()
                .filter(|o| param(r, "status").is_none_or(|s| o["status"] == s))
                .filter(|o| {
                    param(r, "dateFrom")
                        .is_none_or(|from| o["updated"].as_str().is_some_and(|at| at >= from))
                })
                .collect();
            orders.sort_by(|a, b| {
                (a["updated"].as_str(), a["id"].as_str())
                    .cmp(&(b["updated"].as_str(), b["id"].as_str()))
            });
            list("orders", orders, page, limit)
        }
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
        ("POST", "product/patch/json") => {
            let Some(Value::Array(products)) = data(r) else {
                return error(20, "data must be a JSON list of products");
            };
            for product in products {
                // Ids are strings in Gomag's answers; PHP takes numbers as well.
                let id = product["id"]
                    .as_u64()
                    .or_else(|| product["id"].as_str().and_then(|id| id.parse().ok()));
                let fields = product.as_object().cloned().unwrap_or_default();
                if !id.is_some_and(|id| store.set("products", id, &fields)) {
                    return error(22, "product not found");
                }
                store
                    .writes
                    .push(("product/patch".into(), product["id"].to_string()));
            }
            Reply::json(json!({"total": 1}))
        }
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
        ("POST", "order/status/json") => {
            let Some(change) = data(r) else {
                return error(20, "data must be a JSON object");
            };
            let id = change["id"].as_str().and_then(|id| id.parse().ok());
            let status = change["status"].as_str().unwrap_or_default();
            if !STATUSES.contains(&status) {
                return error(30, &format!("unknown status `{status}`"));
            }
            let mut fields = Map::new();
            fields.insert("status".into(), json!(status));
            if !id.is_some_and(|id| store.set("orders", id, &fields)) {
                return error(31, "order not found");
            }
            store
                .writes
                .push(("order/status".into(), change["id"].to_string()));
            Reply::json(json!({"id": change["id"], "status": status}))
        }
        _ => error(404, "Unknown method"),
    }
}

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
