//! An RO App (Remonline) v2 double. The rules are those of RO App's public API reference
//! (https://roapp.readme.io/reference/getting-started-with-api, in Ukrainian at
//! https://roappua.readme.io/reference, and the pages of each endpoint under
//! https://roapp.readme.io/reference/) and of shared/reference/apis.md ("RO App (Remonline)
//! v2"), with community clients where those are silent, each cited beside its rule: bearer key,
//! lists `?page=N` of 50 as `{"data": [..], "paging": {"page", "total_pages", "count"}}`, 3
//! requests a second (429 past it, not applied), `/contacts/people` (filter `phones[]`, phones
//! as `[{phone, title}]`), `/orders` (filters `modified_at[]` from an ISO 8601 time, `sort`),
//! `/orders/{id}/status`, `/orders/statuses` (a plain list).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style};

pub const KEY: &str = "roapp-9c41e2";
/// Requests allowed in any second.
// RO App: https://roapp.readme.io/reference/getting-started-with-api ("up to 3 requests per
// second", "429 Too Many Requests" past it; the Ukrainian page: "Дозволено надсилати до 3
// запитів на секунду"); shared/reference/apis.md ("About 3 requests/s, 429 on excess").
pub const RATE_LIMIT: usize = 3;
/// Status ids and names, as `GET /orders/statuses` lists them.
// RO App: shared/reference/apis.md (`[{id,name,group{type}}]`). The statuses are the
// company's own; these four are the double's.
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

/// `modified_at`: an ISO 8601 time in UTC, a second a change from 2026-11-01 10:00:00.
// RO App: https://roapp.readme.io/reference/get-orders (`modified_at[]` takes "ISO 8601
// date-time values", e.g. "2025-05-01T00:00:00Z"); a v2 client seen through the code search
// types an order's `created_at` as a string. The old API's times in milliseconds
// (api.remonline.app, `?token=`) are not v2's.
fn iso_time(clock: u64) -> Value {
    json!(format!(
        "2026-11-01T{:02}:{:02}:{:02}Z",
        10 + clock / 3600,
        clock / 60 % 60,
        clock % 60
    ))
}

impl Store {
    fn new(limit_per_second: usize) -> Store {
        Store {
            records: Records::new(Style {
                string_ids: false,
                modified: "modified_at",
                time: iso_time,
            }),
            writes: Vec::new(),
            limit_per_second,
            arrivals: Vec::new(),
            refused: 0,
        }
    }

    /// Whether one more request this second goes over the limit.
    // RO App: https://roapp.readme.io/reference/getting-started-with-api ("up to 3 requests
    // per second"). Whether RO App counts a sliding second or a calendar one is not
    // documented: the double keeps its sliding second. The body of a 429 and any
    // `Retry-After` are not documented either: the double sends its own body and no header.
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
    /// An account with RO App's documented limit, [`RATE_LIMIT`] requests a second.
    pub fn start() -> RoApp {
        RoApp::start_with_limit(RATE_LIMIT)
    }

    /// An account that takes `limit_per_second` requests in any second.
    pub fn start_with_limit(limit_per_second: usize) -> RoApp {
        let store = Arc::new(Mutex::new(Store::new(limit_per_second)));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        RoApp { api, store }
    }

    /// The base URL a pipeline uses: `.../v2`.
    // RO App: https://roapp.readme.io/reference/get-orders and the other v2 pages (base URL
    // `https://api.roapp.io/v2`); shared/reference/apis.md.
    pub fn url(&self) -> String {
        format!("{}/v2", self.api.url)
    }
}

/// An error: the status, and a body of the double's own.
// RO App: https://roapp.readme.io/reference/getting-started-with-api gives 429 past the rate
// limit; atalanrafael-jpg/MARSEL-Ro-app's notes on that page give 401 for a missing or invalid
// key. Other statuses and the error body are not documented: the double keeps its own
// (`{"success": false, "message"}`, 422 for a request it cannot take).
fn error(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"success": false, "message": message}))
}

fn body(r: &Request) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_slice::<Value>(&r.body)
        .ok()?
        .as_object()
        .cloned()
}

/// A page of 50.
// RO App: https://roapp.readme.io/reference/getting-started-with-api ("Each paginated request
// returns up to 50 entries", `page=N`, `count` the number of records);
// shared/reference/apis.md (`{"data":[..],"paging":{"total_pages":..,"count":..}}`); the
// MindCloud RO App reference seen through the code search reads the current page from
// `paging.page`.
fn page(records: Vec<Value>, r: &Request) -> Reply {
    let page: usize = param(r, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let count = records.len();
    let data: Vec<Value> = records.into_iter().skip((page - 1) * 50).take(50).collect();
    Reply::json(json!({
        "data": data,
        "paging": {"page": page, "total_pages": count.div_ceil(50), "count": count}
    }))
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// An ISO 8601 date-time of a filter.
fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The values of a list filter, `name[]=..&name[]=..`.
fn params<'a>(r: &'a Request, name: &str) -> Vec<&'a str> {
    r.query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    // RO App: https://roapp.readme.io/reference/getting-started-with-api ("Authorization:
    // Bearer" with the API key); a missing or wrong one answered 401 (atalanrafael-jpg/
    // MARSEL-Ro-app, API.md and its contract notes).
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
        // RO App: https://roapp.readme.io/reference/get-list-of-people (`page`, `names[]`,
        // `phones[]`...). How a phone is matched is not documented: the double compares the
        // digits.
        ("GET", ["contacts", "people"]) => {
            let wanted = params(r, "phones[]");
            let people = store
                .all("people")
                .into_iter()
                .filter(|p| {
                    wanted.is_empty()
                        || p["phones"].as_array().is_some_and(|phones| {
                            phones.iter().any(|ph| {
                                let have = digits(ph["phone"].as_str().unwrap_or(""));
                                wanted.iter().any(|w| digits(w) == have)
                            })
                        })
                })
                .collect();
            page(people, r)
        }
        // RO App: https://roapp.readme.io/reference/create-person (`first_name` required,
        // `phones[]` a list of objects; shared/reference/apis.md: `[{phone,title}]`). The
        // answer is not documented: the double keeps 201 with the person under `data`.
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
        // RO App: shared/reference/apis.md (`GET /orders/statuses -> [{id,name,group{type}}]`,
        // a plain list); the community n8n node and the v2 export script seen through the code
        // search read it as a list (`response.map(...)`, `apiGet<RoStatus[]>`), not under
        // `data`.
        ("GET", ["orders", "statuses"]) => Reply::json(json!(
            STATUSES
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name, "group": {"type": 1}}))
                .collect::<Vec<_>>()
        )),
        // RO App: https://roapp.readme.io/reference/get-orders (`page`, `ids[]`,
        // `statuses[]`, `modified_at[]`: one ISO 8601 date-time is the left boundary, two a
        // range; `sort`: a field name, a leading minus for descending). The order of a list
        // without `sort` is not documented: the double keeps the oldest change first. What a
        // filter that is not a date-time gets is not documented: the double answers 422.
        ("GET", ["orders"]) => {
            let bounds = params(r, "modified_at[]");
            let Some(bounds) = bounds.iter().map(|b| time(b)).collect::<Option<Vec<_>>>() else {
                return error(422, "modified_at[]: an ISO 8601 date-time");
            };
            let statuses: Vec<u64> = params(r, "statuses[]")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            let ids: Vec<u64> = params(r, "ids[]")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            let mut orders: Vec<Value> = store
                .all("orders")
                .into_iter()
                .filter(|o| {
                    let at = o["modified_at"].as_str().and_then(time);
                    match bounds.as_slice() {
                        [] => true,
                        [from] => at.is_some_and(|at| at >= *from),
                        [from, to, ..] => at.is_some_and(|at| at >= *from && at <= *to),
                    }
                })
                .filter(|o| {
                    statuses.is_empty()
                        || o["status"]["id"]
                            .as_u64()
                            .is_some_and(|s| statuses.contains(&s))
                })
                .filter(|o| ids.is_empty() || o["id"].as_u64().is_some_and(|i| ids.contains(&i)))
                .collect();
            let (field, descending) = match param(r, "sort") {
                Some(s) => (s.trim_start_matches('-').to_string(), s.starts_with('-')),
                None => ("modified_at".to_string(), false),
            };
            orders.sort_by(|a, b| {
                let key = |o: &Value| {
                    let value = &o[field.as_str()];
                    (
                        value.as_i64(),
                        value.as_str().map(String::from),
                        o["id"].as_u64(),
                    )
                };
                let (a, b) = (key(a), key(b));
                if descending { b.cmp(&a) } else { a.cmp(&b) }
            });
            page(orders, r)
        }
        // RO App: https://roapp.readme.io/reference/create-order (`branch_id`,
        // `order_type_id` and `client_id` required; `custom_fields` as `{"f123": "value"}`,
        // f123 a custom field's id). What RO App does with other custom field names is not
        // documented: the double keeps them as sent. The answer is not documented: the double
        // keeps 201 with the order under `data`, in the first status.
        ("POST", ["orders"]) => {
            let Some(order) = body(r) else {
                return error(400, "invalid JSON");
            };
            for required in ["branch_id", "order_type_id"] {
                if order.get(required).and_then(Value::as_u64).is_none() {
                    return error(422, &format!("{required} is required"));
                }
            }
            let client = order.get("client_id").and_then(Value::as_u64);
            if client.is_none_or(|c| store.get("people", c).is_none()) {
                return error(422, "client_id: no such client");
            }
            let mut order = Value::Object(order);
            // RO App: a v2 export script seen through the code search types an order's status
            // as `{id, name}`.
            order["status"] = json!({"id": 1, "name": "New"});
            let id = store.insert("orders", order);
            store.writes.push(("POST".into(), "/orders".into()));
            Reply::status(
                201,
                json!({"success": true, "data": store.get("orders", id)}),
            )
        }
        // RO App: https://roapp.readme.io/reference/update-order-status (POST
        // `/orders/{order_id}/status`, `status_id` required, `comment` optional);
        // shared/reference/apis.md. The answer is not documented: the double keeps
        // `{"success": true}`.
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
