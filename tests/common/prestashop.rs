//! A PrestaShop webservice double (shared/reference/apis.md): key auth (Basic user or
//! `ws_key`), XML-only writes (`<prestashop><product>...`), answers in XML by default and in
//! JSON with `output_format=JSON`, `display=full`, filters (`[v]`, `>[v]`, `<[v]`; dates need `date=1`),
//! `limit=offset,count`, `sort`, `[]` when nothing matches, PUT replacing the whole record
//! (fields not sent are blanked, read-only `quantity` refused), a stock row
//! (`stock_availables`) made with each new product, and `order_histories` changing an order's
//! state. Values are strings, as PrestaShop's.

use std::sync::{Arc, Mutex};

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};

pub const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

pub struct Store {
    pub records: Records,
    /// Every write: method, resource, id.
    pub writes: Vec<(String, String, u64)>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            // Ids as strings, `date_upd` in the shop's local time.
            records: Records::new(Style {
                string_ids: true,
                modified: "date_upd",
                time: local_time,
            }),
            writes: Vec::new(),
        }
    }
}

crate::store_of_records!(Store);

pub struct PrestaShop {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl PrestaShop {
    pub fn start() -> PrestaShop {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let api = Api::start(move |r, _| answer(r, &mut shared.lock().unwrap()));
        PrestaShop { api, store }
    }
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("PSWS-Version".into(), "8.1.0".into())],
        body: body.to_string(),
    }
}

fn error(status: u16, message: &str) -> Reply {
    reply(
        status,
        json!({"errors": [{"code": status, "message": message}]}),
    )
}

fn singular(plural: &str) -> String {
    match plural.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => plural.trim_end_matches('s').to_string(),
    }
}

fn authorized(r: &Request) -> bool {
    let basic = format!(
        "Basic {}",
        syncline::connectors::http::base64(format!("{KEY}:").as_bytes())
    );
    param(r, "ws_key") == Some(KEY) || r.header("authorization") == Some(basic.as_str())
}

fn answer(r: &Request, store: &mut Store) -> Reply {
    if !authorized(r) {
        let mut reply = error(401, "Authentication key is empty");
        reply.headers.push((
            "WWW-Authenticate".into(),
            "Basic realm=\"Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required.\"".into(),
        ));
        return reply;
    }
    let json = param(r, "output_format") == Some("JSON");
    let parts: Vec<&str> = r.path.trim_matches('/').split('/').collect();
    let (resource, id) = match parts.as_slice() {
        ["api", resource] => (resource.to_string(), None),
        ["api", resource, id] => (resource.to_string(), id.parse::<u64>().ok()),
        _ => return error(404, "no such resource"),
    };
    let entity = singular(&resource);
    match (r.method.as_str(), id) {
        ("POST" | "PUT", _) => {
            if r.body.first() != Some(&b'<') {
                return error(400, "Bad XML: the webservice accepts XML bodies only");
            }
            let Some(mut record) = xml_record(&r.body, &entity) else {
                return error(400, &format!("Bad XML: no <{entity}> in <prestashop>"));
            };
            if record.get("quantity").is_some() && entity == "product" {
                return error(400, "parameter \"quantity\" not writable");
            }
            if entity == "order_history" {
                let order: u64 = record["id_order"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if store.get("orders", order).is_none() {
                    return error(400, &format!("order {order} does not exist"));
                }
                let state = record["id_order_state"].clone();
                store.touch("orders", order, "current_state", state);
            }
            let id = match id {
                None => store.new_id().0,
                Some(id) if store.get(&resource, id).is_some() => id,
                Some(id) => return error(404, &format!("no {entity} {id}")),
            };
            record["id"] = json!(id.to_string());
            record["date_upd"] = store.tick();
            // A PUT replaces the record: what was not sent is gone.
            store
                .resources
                .entry(resource.clone())
                .or_default()
                .insert(id, record.clone());
            store.writes.push((r.method.clone(), resource, id));
            if r.method == "POST" && entity == "product" {
                // PrestaShop gives every new product its stock row, quantity 0.
                store.insert(
                    "stock_availables",
                    json!({"id_product": id.to_string(), "id_product_attribute": "0",
                               "quantity": "0", "depends_on_stock": "0", "out_of_stock": "2"}),
                );
            }
            let mut answer = output(json, json!({ entity: record }));
            if r.method == "POST" {
                answer.status = 201;
            }
            answer
        }
        ("GET", Some(id)) => match store.get(&resource, id) {
            Some(record) => output(json, json!({ entity: record })),
            None => error(404, &format!("no {entity} {id}")),
        },
        ("GET", None) => match list(r, store, &resource) {
            Ok(found) if json && found[&resource].as_array().is_some_and(Vec::is_empty) => {
                // An empty list in JSON is `[]`, not `{"products": []}`.
                reply(200, json!([]))
            }
            Ok(found) => output(json, found),
            Err(e) => e,
        },
        _ => error(405, "method not allowed"),
    }
}

/// An answer: JSON with `output_format=JSON`, else PrestaShop's default, XML.
fn output(json: bool, body: Value) -> Reply {
    if json {
        return reply(200, body);
    }
    match syncline::connectors::http::body::encode(
        syncline::config::model::BodyFormat::Xml,
        "prestashop",
        &body,
    ) {
        Ok((xml, _)) => Reply {
            status: 200,
            headers: vec![
                ("PSWS-Version".into(), "8.1.0".into()),
                ("Content-Type".into(), "text/xml;charset=utf-8".into()),
            ],
            body: String::from_utf8_lossy(&xml).into_owned(),
        },
        Err(e) => error(500, &e),
    }
}

/// The resource's records the query asks for, as `{resource: [...]}`; without `display=full`,
/// ids only: `{"id": "7"}` in JSON, `<product id="7"/>` in XML, as the webservice lists them.
fn list(r: &Request, store: &Store, resource: &str) -> Result<Value, Reply> {
    let mut found = store.all(resource);
    for (name, value) in &r.query {
        let Some(field) = name
            .strip_prefix("filter[")
            .and_then(|f| f.strip_suffix(']'))
        else {
            continue;
        };
        if field.starts_with("date_") && param(r, "date") != Some("1") {
            return Err(error(400, "date filters need date=1"));
        }
        let (op, v) = match value.as_bytes().first() {
            Some(b'>') => ('>', &value[1..]),
            Some(b'<') => ('<', &value[1..]),
            _ => ('=', value.as_str()),
        };
        let v = v.trim_start_matches('[').trim_end_matches(']');
        found.retain(|record| {
            let x = record.get(field).and_then(Value::as_str).unwrap_or("");
            match op {
                '>' => x > v,
                '<' => x < v,
                _ => x.eq_ignore_ascii_case(v),
            }
        });
    }
    if param(r, "sort").is_some_and(|sort| sort.contains("date_upd_ASC")) {
        found.sort_by_key(|r| {
            let id: u64 = r["id"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
            (r["date_upd"].as_str().unwrap_or("").to_string(), id)
        });
    }
    if let Some(limit) = param(r, "limit") {
        let (offset, count) = match limit.split_once(',') {
            Some((o, c)) => (o.parse().unwrap_or(0), c.parse().unwrap_or(0)),
            None => (0, limit.parse().unwrap_or(0)),
        };
        found = found.into_iter().skip(offset).take(count).collect();
    }
    let full = param(r, "display") == Some("full");
    let json = param(r, "output_format") == Some("JSON");
    let items: Vec<Value> = found
        .into_iter()
        .map(|record| match (full, json) {
            (true, _) => record,
            (false, true) => json!({"id": record["id"]}),
            (false, false) => json!({"@id": record["id"]}),
        })
        .collect();
    Ok(json!({ resource: items }))
}

/// `<prestashop><product>...</product></prestashop>` as a record: elements as fields,
/// `<language id>` lists as `[{id, value}]`, `<categories><category>` as lists.
fn xml_record(xml: &[u8], entity: &str) -> Option<Value> {
    let mut reader = Reader::from_reader(xml);
    // Open elements: name, children, text, `id` attribute.
    type Open = (String, Vec<(String, Value)>, String, Option<String>);
    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                let id = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"id")
                    .map(|a| String::from_utf8_lossy(&a.value).to_string());
                stack.push((name, Vec::new(), String::new(), id));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                if let Some(parent) = stack.last_mut() {
                    parent.1.push((name, json!("")));
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.unescape().ok()?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                let (name, children, text, id) = stack.pop()?;
                let value = if children.is_empty() {
                    match id {
                        Some(id) => json!({"id": id, "value": text}),
                        None => json!(text),
                    }
                } else if children.iter().all(|(n, _)| n == "language") {
                    Value::Array(children.into_iter().map(|(_, v)| v).collect())
                } else if children.iter().all(|(n, _)| *n == singular(&name)) {
                    Value::Array(children.into_iter().map(|(_, v)| v).collect())
                } else {
                    Value::Object(children.into_iter().collect::<Map<_, _>>())
                };
                match stack.last_mut() {
                    Some(parent) => parent.1.push((name, value)),
                    None => root = Some(value),
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    root?.get(entity).cloned()
}
