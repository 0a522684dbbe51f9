//! An Odoo JSON-RPC double: `POST /web/session/authenticate` (params `db`, `login`,
//! `password`) sets the `session_id` cookie; `POST /web/dataset/call_kw` (params `model`,
//! `method`, `args`, `kwargs`) needs it and answers `search_read` (domain of `=` and `>`
//! terms, `fields`, `offset`, `limit`, `order` by `write_date, id`), `create` (the new id) and
//! `write` (`true`). Every answer is HTTP 200: a failure is the JSON-RPC `error` member, shaped
//! as Odoo's (`{code, message, data: {name, message}}`).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request};
use super::records::{Records, Style, local_time};

pub const PASSWORD: &str = "odoo-Secret-81";
const SESSION: &str = "4f1c2b9e0d7a";

pub struct Store {
    pub records: Records,
    /// Every write: method and model.
    pub writes: Vec<(String, String)>,
    pub logins: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            records: Records::new(Style {
                string_ids: false,
                modified: "write_date",
                time: local_time,
            }),
            writes: Vec::new(),
            logins: 0,
        }
    }
}

crate::store_of_records!(Store);

pub struct Odoo {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl Odoo {
    pub fn start() -> Odoo {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        Odoo { api, store }
    }
}

fn result(id: &Value, result: Value) -> Reply {
    Reply::json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn failure(id: &Value, name: &str, message: &str) -> Reply {
    Reply::json(json!({"jsonrpc": "2.0", "id": id, "error": {
        "code": 200,
        "message": "Odoo Server Error",
        "data": {"name": name, "message": message},
    }}))
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    let Ok(call) = serde_json::from_slice::<Value>(&r.body) else {
        return Reply::status(400, json!({"message": "not JSON"}));
    };
    let id = call["id"].clone();
    if r.method != "POST" || call["jsonrpc"] != "2.0" {
        return Reply::status(400, json!({"message": "JSON-RPC 2.0 over POST only"}));
    }
    let params = &call["params"];
    match r.path.as_str() {
        "/api/web/session/authenticate" => {
            store.logins += 1;
            if params["db"] != "shop"
                || params["login"] != "admin"
                || params["password"] != PASSWORD
            {
                return failure(&id, "odoo.exceptions.AccessDenied", "Access Denied");
            }
            result(&id, json!({"uid": 2, "db": "shop"})).header(
                "Set-Cookie",
                format!(
                    "session_id={SESSION}; Expires=Wed, 01 Dec 2027 00:00:00 GMT; Path=/; HttpOnly"
                ),
            )
        }
        "/api/web/dataset/call_kw" => {
            let cookie = r.header("cookie").unwrap_or_default();
            if !cookie.contains(&format!("session_id={SESSION}")) {
                return failure(&id, "odoo.http.SessionExpiredException", "Session expired");
            }
            let model = params["model"].as_str().unwrap_or_default();
            let args = params["args"].as_array().cloned().unwrap_or_default();
            let kwargs = params["kwargs"].as_object().cloned().unwrap_or_default();
            match params["method"].as_str() {
                Some("search_read") => result(&id, search_read(store, model, &kwargs)),
                Some("create") => {
                    let Some(Value::Object(values)) = args.first() else {
                        return failure(&id, "builtins.TypeError", "create() needs values");
                    };
                    if let Some(code) = values.get("default_code")
                        && store.all(model).iter().any(|p| p["default_code"] == *code)
                    {
                        return failure(
                            &id,
                            "odoo.exceptions.ValidationError",
                            "The internal reference must be unique",
                        );
                    }
                    let new = store.insert(model, Value::Object(values.clone()));
                    store.writes.push(("create".into(), model.into()));
                    result(&id, json!(new))
                }
                Some("write") => {
                    let ids: Vec<u64> = args
                        .first()
                        .and_then(Value::as_array)
                        .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default();
                    let Some(Value::Object(values)) = args.get(1) else {
                        return failure(&id, "builtins.TypeError", "write() needs ids and values");
                    };
                    if ids.is_empty() {
                        return failure(&id, "builtins.TypeError", "write() ids must be integers");
                    }
                    for record_id in ids {
                        if !store.set(model, record_id, values) {
                            return failure(
                                &id,
                                "odoo.exceptions.MissingError",
                                "Record does not exist or has been deleted.",
                            );
                        }
                    }
                    store.writes.push(("write".into(), model.into()));
                    result(&id, json!(true))
                }
                _ => failure(&id, "builtins.AttributeError", "no such method"),
            }
        }
        _ => Reply::status(404, json!({"message": "not found"})),
    }
}

fn search_read(store: &Store, model: &str, kwargs: &Map<String, Value>) -> Value {
    let domain = kwargs
        .get("domain")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut records: Vec<Value> = store
        .all(model)
        .into_iter()
        .filter(|record| {
            domain.iter().all(|term| {
                let (Some(field), Some(op)) = (term[0].as_str(), term[1].as_str()) else {
                    return true;
                };
                let value = &record[field];
                match op {
                    "=" => *value == term[2],
                    ">" => match (value, &term[2]) {
                        (Value::String(a), Value::String(b)) => a > b,
                        (a, b) => a.as_f64() > b.as_f64(),
                    },
                    _ => false,
                }
            })
        })
        .collect();
    records.sort_by(|a, b| {
        (a["write_date"].as_str(), a["id"].as_u64())
            .cmp(&(b["write_date"].as_str(), b["id"].as_u64()))
    });
    let offset = kwargs.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = kwargs
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |l| l as usize);
    let fields: Vec<String> = kwargs
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Value::Array(
        records
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|record| {
                if fields.is_empty() {
                    return record;
                }
                let mut kept = Map::new();
                kept.insert("id".into(), record["id"].clone());
                for field in &fields {
                    kept.insert(field.clone(), record[field].clone());
                }
                Value::Object(kept)
            })
            .collect(),
    )
}
