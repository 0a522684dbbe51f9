//! A WooCommerce REST v3 double (shared/reference/apis.md): consumer key and secret as Basic
//! auth, `/wp-json/wc/v3/`, integer ids, money as strings with 2 decimals, `*_gmt` dates;
//! lists paged by `page`/`per_page` (max 100) with `X-WP-Total`, `X-WP-TotalPages` and `Link`;
//! `sku` and `modified_after` filters; `POST products/batch` (`create`/`update`/`delete`, at
//! most 100 objects, one result per object, errors per object); errors shaped
//! `{"code", "message", "data": {"status"}}`.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};

pub const CONSUMER_KEY: &str = "ck_2f1b9c0d4e";
pub const CONSUMER_SECRET: &str = "cs_7a8e6f5d3c";

const STATUSES: [&str; 4] = ["draft", "pending", "private", "publish"];
const ORDER_STATUSES: [&str; 7] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];

pub struct Store {
    pub records: Records,
    /// Every write: method, resource, id ("batch" for a batch request, id 0).
    pub writes: Vec<(String, String, u64)>,
    /// The number of objects in each batch request.
    pub batch_sizes: Vec<usize>,
}

/// `2026-11-01T10:00:07`, GMT.
fn gmt(clock: u64) -> Value {
    let Value::String(local) = local_time(clock) else {
        return Value::Null;
    };
    json!(local.replacen(' ', "T", 1))
}

impl Default for Store {
    fn default() -> Self {
        Store {
            records: Records::new(Style {
                string_ids: false,
                modified: "date_modified_gmt",
                time: gmt,
            }),
            writes: Vec::new(),
            batch_sizes: Vec::new(),
        }
    }
}

crate::store_of_records!(Store);

impl Store {
    /// A product by SKU.
    pub fn product(&self, sku: &str) -> Option<Value> {
        self.all("products").into_iter().find(|p| p["sku"] == sku)
    }

    fn create(&mut self, resource: &str, fields: &Map<String, Value>) -> Result<Value, Value> {
        check(resource, fields)?;
        if resource == "products"
            && let Some(sku) = fields.get("sku").and_then(Value::as_str)
            && self.product(sku).is_some()
        {
            return Err(error(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
            ));
        }
        let id = self.insert(resource, Value::Object(fields.clone()));
        self.writes.push(("POST".into(), resource.into(), id));
        Ok(self.get(resource, id).unwrap_or_default())
    }

    fn update(
        &mut self,
        resource: &str,
        id: u64,
        fields: &Map<String, Value>,
    ) -> Result<Value, Value> {
        check(resource, fields)?;
        if !self.set(resource, id, fields) {
            return Err(error(
                400,
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
            ));
        }
        self.writes.push(("PUT".into(), resource.into(), id));
        Ok(self.get(resource, id).unwrap_or_default())
    }

    fn delete(&mut self, resource: &str, id: u64) -> Result<Value, Value> {
        match self.remove(resource, id) {
            Some(record) => {
                self.writes.push(("DELETE".into(), resource.into(), id));
                Ok(record)
            }
            None => Err(error(
                404,
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
            )),
        }
    }
}

/// WooCommerce validates enums and money fields.
fn check(resource: &str, fields: &Map<String, Value>) -> Result<(), Value> {
    let allowed: &[&str] = if resource == "orders" {
        &ORDER_STATUSES
    } else {
        &STATUSES
    };
    if let Some(status) = fields.get("status")
        && !status.as_str().is_some_and(|s| allowed.contains(&s))
    {
        return Err(error(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): status",
        ));
    }
    if let Some(price) = fields.get("regular_price")
        && price.as_str().is_none_or(|p| p.parse::<f64>().is_err())
    {
        return Err(error(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): regular_price (a string)",
        ));
    }
    Ok(())
}

fn error(status: u16, code: &str, message: &str) -> Value {
    json!({"code": code, "message": message, "data": {"status": status}})
}

fn reply_error(e: Value) -> Reply {
    let status = e["data"]["status"].as_u64().unwrap_or(400) as u16;
    Reply::status(status, e)
}

pub struct WooCommerce {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl WooCommerce {
    pub fn start() -> WooCommerce {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let api = Api::start(move |r, base| answer(r, base, &mut shared.lock().unwrap()));
        WooCommerce { api, store }
    }

    /// The base URL a pipeline uses: `.../wp-json/wc/v3`.
    pub fn url(&self) -> String {
        format!("{}/wp-json/wc/v3", self.api.url)
    }
}

fn authorized(r: &Request) -> bool {
    let basic = format!(
        "Basic {}",
        syncline::connectors::http::base64(format!("{CONSUMER_KEY}:{CONSUMER_SECRET}").as_bytes())
    );
    r.header("authorization") == Some(basic.as_str())
}

fn answer(r: &Request, base: &str, store: &mut Store) -> Reply {
    if !authorized(r) {
        return reply_error(error(
            401,
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ));
    }
    let Some(path) = r.path.strip_prefix("/api/wp-json/wc/v3/") else {
        return reply_error(error(404, "rest_no_route", "No route was found."));
    };
    let parts: Vec<&str> = path.split('/').collect();
    let body = || -> Result<Map<String, Value>, Value> {
        serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .ok_or_else(|| error(400, "rest_invalid_json", "Invalid JSON body passed."))
    };
    let result = match (r.method.as_str(), parts.as_slice()) {
        ("GET", [resource]) => return list(r, base, resource, store),
        ("GET", [resource, id]) => id
            .parse()
            .ok()
            .and_then(|id| store.get(resource, id))
            .ok_or_else(|| error(404, "woocommerce_rest_invalid_id", "Invalid ID.")),
        ("POST", ["products", "batch"]) => body().and_then(|b| batch(store, "products", &b)),
        ("POST", [resource]) => body().and_then(|b| store.create(resource, &b)),
        ("PUT", [resource, id]) => match id.parse() {
            Ok(id) => body().and_then(|b| store.update(resource, id, &b)),
            Err(_) => Err(error(404, "rest_no_route", "No route was found.")),
        },
        ("DELETE", [resource, id]) => match id.parse() {
            Ok(id) if param(r, "force") == Some("true") => store.delete(resource, id),
            Ok(_) => Err(error(
                501,
                "woocommerce_rest_trash_not_supported",
                "Resource does not support trashing.",
            )),
            Err(_) => Err(error(404, "rest_no_route", "No route was found.")),
        },
        _ => Err(error(404, "rest_no_route", "No route was found.")),
    };
    match result {
        Ok(record) => {
            let status = if r.method == "POST" && parts.len() == 1 {
                201
            } else {
                200
            };
            Reply::status(status, record)
        }
        Err(e) => reply_error(e),
    }
}

fn batch(store: &mut Store, resource: &str, body: &Map<String, Value>) -> Result<Value, Value> {
    let list = |name: &str| {
        body.get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (creates, updates, deletes) = (list("create"), list("update"), list("delete"));
    let objects = creates.len() + updates.len() + deletes.len();
    if objects > 100 {
        return Err(error(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        ));
    }
    store.batch_sizes.push(objects);
    store.writes.push(("POST".into(), "batch".into(), 0));
    let outcome = |result: Result<Value, Value>, id: u64| match result {
        Ok(record) => record,
        Err(e) => json!({"id": id, "error": e}),
    };
    let mut answer = Map::new();
    if !creates.is_empty() {
        let results = creates
            .iter()
            .map(|c| {
                let fields = c.as_object().cloned().unwrap_or_default();
                outcome(store.create(resource, &fields), 0)
            })
            .collect();
        answer.insert("create".into(), Value::Array(results));
    }
    if !updates.is_empty() {
        let results = updates
            .iter()
            .map(|u| {
                let fields = u.as_object().cloned().unwrap_or_default();
                let id = fields.get("id").and_then(Value::as_u64).unwrap_or(0);
                outcome(store.update(resource, id, &fields), id)
            })
            .collect();
        answer.insert("update".into(), Value::Array(results));
    }
    if !deletes.is_empty() {
        let results = deletes
            .iter()
            .map(|d| {
                let id = d.as_u64().unwrap_or(0);
                outcome(store.delete(resource, id), id)
            })
            .collect();
        answer.insert("delete".into(), Value::Array(results));
    }
    Ok(Value::Object(answer))
}

/// A page of a list, oldest change first when `orderby=modified`.
fn list(r: &Request, base: &str, resource: &str, store: &Store) -> Reply {
    let per_page: usize = param(r, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        return reply_error(error(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): per_page",
        ));
    }
    let page: usize = param(r, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut records: Vec<Value> = store
        .all(resource)
        .into_iter()
        .filter(|rec| param(r, "sku").is_none_or(|sku| rec["sku"] == sku))
        .filter(|rec| {
            // `modified_after` is exclusive, compared in GMT.
            param(r, "modified_after").is_none_or(|after| {
                rec["date_modified_gmt"]
                    .as_str()
                    .is_some_and(|at| at > after.trim_end_matches('Z'))
            })
        })
        .collect();
    if param(r, "orderby") == Some("modified") {
        records.sort_by(|a, b| {
            (a["date_modified_gmt"].as_str(), a["id"].as_u64())
                .cmp(&(b["date_modified_gmt"].as_str(), b["id"].as_u64()))
        });
    }
    let total = records.len();
    let pages = total.div_ceil(per_page);
    let items: Vec<Value> = records
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut reply = Reply::json(Value::Array(items))
        .header("X-WP-Total", total.to_string())
        .header("X-WP-TotalPages", pages.to_string());
    if page < pages {
        let mut query: Vec<String> = r
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.push(format!("page={}", page + 1));
        reply = reply.header(
            "Link",
            format!(
                "<{base}/wp-json/wc/v3/{resource}?{}>; rel=\"next\"",
                query.join("&")
            ),
        );
    }
    reply
}
