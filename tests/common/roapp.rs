//! An RO App (Remonline) v2 double (shared/reference/apis.md, integrators' notes): bearer key,
//! lists `?page=N` of 50 as `{"data": [..], "paging": {"total_pages", "count"}}`, a request
//! rate limit answered with 429 (requests over it are counted and not applied),
//! `/contacts/people` (filter `phones[]`, phones as `[{phone, title}]`), `/orders` (filter
//! `modified_at[]` from a time in milliseconds), `/orders/{id}/status`, `/orders/statuses`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style};

pub const KEY: &str = "roapp-9c41e2";
/// Status ids and names, as `GET /orders/statuses` lists them.
pub const STATUSES: [(u64, &str); 4] =
    [(1, "New"), (2, "In progress"), (3, "Ready"), (4, "Closed")];

pub struct Store {
    pub records: Records,
    /// Every write: method and path.
    pub writes: Vec<(String, String)>,
    /// Requests allowed in any second.
    pub limit_per_second: usize,
    arrivals: Vec<Instant>,
    /// Requests refused with 429.
    pub refused: usize,
}

/// `modified_at`: milliseconds since the epoch, a second a change.
fn milliseconds(clock: u64) -> Value {
    json!(1_780_000_000_000u64 + clock * 1000)
}

impl Store {
    fn new(limit_per_second: usize) -> Store {
        Store {
            records: Records::new(Style {
                string_ids: false,
                modified: "modified_at",
                time: milliseconds,
            }),
            writes: Vec::new(),
            limit_per_second,
            arrivals: Vec::new(),
            refused: 0,
        }
    }

    /// Whether one more request this second goes over the limit.
    fn over_limit(&mut self) -> bool {
        let now = Instant::now();
        self.arrivals
            .retain(|at| now.duration_since(*at) < Duration::from_secs(1));
        if self.arrivals.len() >= self.limit_per_second {
            self.refused += 1;
            return true;
        }
        self.arrivals.push(now);
        false
    }
}

crate::store_of_records!(Store);

pub struct RoApp {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl RoApp {
    pub fn start(limit_per_second: usize) -> RoApp {
        let store = Arc::new(Mutex::new(Store::new(limit_per_second)));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        RoApp { api, store }
    }

    /// The base URL a pipeline uses: `.../v2`.
    pub fn url(&self) -> String {
        format!("{}/v2", self.api.url)
    }
}

fn error(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"success": false, "message": message}))
}

fn body(r: &Request) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_slice::<Value>(&r.body)
        .ok()?
        .as_object()
        .cloned()
}

fn page(records: Vec<Value>, r: &Request) -> Reply {
    let page: usize = param(r, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let count = records.len();
    let data: Vec<Value> = records.into_iter().skip((page - 1) * 50).take(50).collect();
    Reply::json(
        json!({"data": data, "paging": {"total_pages": count.div_ceil(50), "count": count}}),
    )
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    let bearer = format!("Bearer {KEY}");
    if r.header("authorization") != Some(bearer.as_str()) {
        return error(401, "Unauthorized");
    }
    if store.over_limit() {
        return error(429, "Too many requests");
    }
    let Some(path) = r.path.strip_prefix("/api/v2/") else {
        return error(404, "Not found");
    };
    let parts: Vec<&str> = path.split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["contacts", "people"]) => {
            let people = store
                .all("people")
                .into_iter()
                .filter(|p| {
                    param(r, "phones[]").is_none_or(|wanted| {
                        p["phones"].as_array().is_some_and(|phones| {
                            phones.iter().any(|ph| {
                                digits(ph["phone"].as_str().unwrap_or("")) == digits(wanted)
                            })
                        })
                    })
                })
                .collect();
            page(people, r)
        }
        ("POST", ["contacts", "people"]) => {
            let Some(person) = body(r) else {
                return error(400, "invalid JSON");
            };
            if person
                .get("first_name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return error(422, "first_name is required");
            }
            let id = store.insert("people", Value::Object(person));
            store
                .writes
                .push(("POST".into(), "/contacts/people".into()));
            Reply::status(
                201,
                json!({"success": true, "data": store.get("people", id)}),
            )
        }
        ("GET", ["orders", "statuses"]) => Reply::json(json!({
            "data": STATUSES.iter().map(|(id, name)| json!({"id": id, "name": name, "group": {"type": 1}})).collect::<Vec<_>>()
        })),
        ("GET", ["orders"]) => {
            let from: u64 = param(r, "modified_at[]")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            let mut orders: Vec<Value> = store
                .all("orders")
                .into_iter()
                .filter(|o| o["modified_at"].as_u64().is_some_and(|at| at >= from))
                .collect();
            orders.sort_by_key(|o| (o["modified_at"].as_u64(), o["id"].as_u64()));
            page(orders, r)
        }
        ("POST", ["orders"]) => {
            let Some(order) = body(r) else {
                return error(400, "invalid JSON");
            };
            let client = order.get("client_id").and_then(Value::as_u64);
            if client.is_none_or(|c| store.get("people", c).is_none()) {
                return error(422, "client_id: no such client");
            }
            let mut order = Value::Object(order);
            order["status"] = json!({"id": 1, "name": "New"});
            let id = store.insert("orders", order);
            store.writes.push(("POST".into(), "/orders".into()));
            Reply::status(
                201,
                json!({"success": true, "data": store.get("orders", id)}),
            )
        }
        ("POST", ["orders", id, "status"]) => {
            let Some(change) = body(r) else {
                return error(400, "invalid JSON");
            };
            let Some(status) = change
                .get("status_id")
                .and_then(Value::as_u64)
                .and_then(|s| STATUSES.iter().find(|(id, _)| *id == s))
            else {
                return error(422, "status_id: unknown status");
            };
            let Some(id) = id
                .parse()
                .ok()
                .filter(|id| store.get("orders", *id).is_some())
            else {
                return error(404, "order not found");
            };
            store.touch(
                "orders",
                id,
                "status",
                json!({"id": status.0, "name": status.1}),
            );
            store
                .writes
                .push(("POST".into(), format!("/orders/{id}/status")));
            Reply::json(json!({"success": true}))
        }
        _ => error(404, "Not found"),
    }
}
