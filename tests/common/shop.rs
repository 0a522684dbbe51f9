//! A shop API double on loopback, shaped like PrestaShop's webservice read as JSON:
//! `POST /api/{entity}s` creates (201, `{"product": {"id": 7, ...}}`), `PUT /api/{entity}s/{id}`
//! replaces, `GET /api/{entity}s?filter[field]=[value]` finds (`{"products": [...]}`, or `[]`
//! when nothing matches, as PrestaShop does), `GET /api/{entity}s/{id}` reads one.
//!
//! It records every write, can answer slowly or hang after a number of writes, rejects a record
//! whose `price` is negative with a 400, and serves each connection on its own thread with
//! keep-alive, like a real server. With [`Shop::inject_faults`], one request in N fails in turn
//! as a 429 with `Retry-After`, a 503, a connection reset before or after the write was applied,
//! or an answer that never comes after it was applied; it notes when each request came so that
//! tests can check rate limits and `Retry-After`. A write with an `Idempotency-Key` it has
//! already answered gets the same answer and is not applied again.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A job's `to:` (at a job's indent) writing products to this double through the ID map:
/// POST creates, PUT updates at the id read back. For pipelines written with `format!`.
pub const PRODUCT_TARGET: &str = r#"    to:
      http:
        connection: shop
        entity: product
        key: $.reference
        create: { method: POST, path: /products }
        update: { method: PUT, path: "/products/{target_id}" }
        id: $.product.id"#;

/// A pipeline `shop-sync` whose job `products` reads `products.csv` (`ref,name`) and writes
/// the products to the double at `url`; `connection` and `job` are more lines of the
/// connection and of the job (at their indent).
pub fn products_pipeline(url: &str, connection: &str, job: &str) -> String {
    format!(
        r#"version: 1
name: shop-sync
connections:
  shop:
    http:
      base_url: "{url}"
{connection}jobs:
  products:
{job}    from: {{ file: {{ path: products.csv }} }}
    map:
      reference: $.ref
      name: $.name
{PRODUCT_TARGET}
"#
    )
}

/// A resolve rule by reference, to follow [`PRODUCT_TARGET`].
pub const RESOLVE_BY_REFERENCE: &str = r#"
        resolve:
          - name: reference
            value: $.reference
            request: { path: /products, query: { "filter[reference]": "[{value}]" } }
            ids: $.products[*].id"#;

#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub entity: String,
    pub id: u64,
    pub body: Value,
}

#[derive(Default)]
pub struct ShopState {
    next_id: u64,
    /// entity -> id -> record
    pub records: BTreeMap<String, BTreeMap<u64, Value>>,
    pub writes: Vec<Recorded>,
    pub requests: u64,
    /// How long each answer waits (after the request was applied).
    pub delay: Duration,
    /// From this many writes on, answers hang: the write is applied, the answer never comes,
    /// as when a client dies between sending and reading.
    pub stall_after: Option<usize>,
    /// One request in this many fails (see [`Fault`]).
    pub fault_every: Option<u64>,
    /// A connection left idle this long is closed without a word, as web servers do (nginx's
    /// `keepalive_timeout`).
    pub idle_timeout: Option<Duration>,
    pub faults: Vec<Fault>,
    /// When each request came.
    pub arrivals: Vec<Instant>,
    /// Requests that came during a `Retry-After` the shop had asked for, once the requests
    /// already in flight when it answered had time to arrive (250 ms).
    pub too_early: u64,
    retry_after: Option<(Instant, Instant)>,
    /// Answers already given, by `Idempotency-Key`: a write sent again with the same key is
    /// answered the same way and not applied twice.
    answered: std::collections::HashMap<String, (u16, Value)>,
}

/// The failures [`Shop::inject_faults`] takes in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    Unavailable,
    ResetBeforeApplying,
    ResetAfterApplying,
    SilentAfterApplying,
}

const FAULTS: [Fault; 5] = [
    Fault::TooManyRequests,
    Fault::Unavailable,
    Fault::ResetBeforeApplying,
    Fault::ResetAfterApplying,
    Fault::SilentAfterApplying,
];

#[derive(Clone)]
pub struct Shop {
    pub url: String,
    pub state: Arc<Mutex<ShopState>>,
}

impl Shop {
    pub fn start() -> Shop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ShopState {
            next_id: 1,
            ..Default::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, state));
            }
        });
        Shop { url, state }
    }

    /// A record the shop already holds (made by hand in its back office); returns its id.
    pub fn insert(&self, entity: &str, record: Value) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.next_id;
        s.next_id += 1;
        let mut record = record;
        record["id"] = json!(id);
        s.records
            .entry(entity.to_string())
            .or_default()
            .insert(id, record);
        id
    }

    pub fn records(&self, entity: &str) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.records
            .get(entity)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn writes(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().writes.clone()
    }

    pub fn clear_writes(&self) {
        self.state.lock().unwrap().writes.clear();
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn stall_after(&self, writes: Option<usize>) {
        self.state.lock().unwrap().stall_after = writes;
    }

    /// Connections opened from now on are closed once idle for `idle`.
    pub fn close_idle_connections_after(&self, idle: Duration) {
        self.state.lock().unwrap().idle_timeout = Some(idle);
    }

    /// From now on one request in `every` fails (20 %: `every` = 5).
    pub fn inject_faults(&self, every: Option<u64>) {
        self.state.lock().unwrap().fault_every = every;
    }

    /// The most requests that came within any `window`.
    pub fn busiest(&self, window: Duration) -> usize {
        let s = self.state.lock().unwrap();
        let times = &s.arrivals;
        let mut most = 0;
        let mut start = 0;
        for (end, t) in times.iter().enumerate() {
            while *t - times[start] >= window {
                start += 1;
            }
            most = most.max(end + 1 - start);
        }
        most
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of the header `name` (in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The next request on a connection, plain or TLS; `None` when it closes.
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
            headers.push((name.trim().to_lowercase(), value.trim().to_string()));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request {
        method,
        path: path.to_string(),
        headers,
        query,
        body,
    })
}

/// Percent-decoding of a query or form component (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(stream: TcpStream, state: Arc<Mutex<ShopState>>) {
    let _ = stream.set_nodelay(true);
    // A read that times out ends the loop below, which closes the connection.
    let idle = state.lock().unwrap().idle_timeout;
    let _ = stream.set_read_timeout(idle);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let fault = {
            let mut s = state.lock().unwrap();
            let now = Instant::now();
            s.arrivals.push(now);
            if s.retry_after
                .is_some_and(|(from, until)| now > from + Duration::from_millis(250) && now < until)
            {
                s.too_early += 1;
            }
            let n = s.arrivals.len() as u64;
            let fault = s
                .fault_every
                .filter(|every| n.is_multiple_of(*every))
                .map(|every| FAULTS[(n / every) as usize % FAULTS.len()]);
            if let Some(fault) = fault {
                s.faults.push(fault);
            }
            if fault == Some(Fault::TooManyRequests) {
                s.retry_after = Some((now, now + Duration::from_secs(1)));
            }
            fault
        };
        let (status, body) = match fault {
            Some(Fault::TooManyRequests) => (429, json!({"errors": [{"message": "slow down"}]})),
            Some(Fault::Unavailable) => (503, json!({"errors": [{"message": "maintenance"}]})),
            Some(Fault::ResetBeforeApplying) => return,
            Some(Fault::ResetAfterApplying) => {
                answer(&request, &state);
                return;
            }
            Some(Fault::SilentAfterApplying) => {
                answer(&request, &state);
                std::thread::sleep(Duration::from_secs(2));
                return;
            }
            None => answer(&request, &state),
        };
        let (delay, stall) = {
            let s = state.lock().unwrap();
            (s.delay, s.stall_after.is_some_and(|n| s.writes.len() >= n))
        };
        if stall {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let text = body.to_string();
        let reason = match status {
            200 => "OK",
            201 => "Created",
            400 => "Bad Request",
            429 => "Too Many Requests",
            503 => "Service Unavailable",
            _ => "Not Found",
        };
        let retry_after = if status == 429 {
            "Retry-After: 1\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{retry_after}Content-Length: {}\r\n\r\n",
            text.len()
        );
        if writer
            // One write: a head and a body sent apart meet Nagle and delayed ACKs (40 ms).
            .write_all((head + text.as_str()).as_bytes())
            .is_err()
        {
            return;
        }
    }
}

fn answer(request: &Request, state: &Mutex<ShopState>) -> (u16, Value) {
    let key = request.header("idempotency-key").map(str::to_string);
    if let Some(key) = &key
        && let Some(answer) = state.lock().unwrap().answered.get(key)
    {
        return answer.clone();
    }
    let answer = apply(request, state);
    if let Some(key) = key {
        state.lock().unwrap().answered.insert(key, answer.clone());
    }
    answer
}

fn apply(request: &Request, state: &Mutex<ShopState>) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    s.requests += 1;
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let (plural, id) = match segments.as_slice() {
        ["api", plural] => (*plural, None),
        ["api", plural, id] => (*plural, id.parse::<u64>().ok()),
        _ => return (404, json!({"errors": [{"message": "no such resource"}]})),
    };
    let entity = match plural.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => plural.trim_end_matches('s').to_string(),
    };
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    match (request.method.as_str(), id) {
        ("POST", None) | ("PUT", Some(_)) => {
            if body
                .get("price")
                .and_then(Value::as_f64)
                .is_some_and(|p| p < 0.0)
            {
                return (
                    400,
                    json!({"errors": [{"code": 85, "message": "Validation error: \"price\" is invalid"}]}),
                );
            }
            let id = match id {
                Some(id) if !s.records.get(&entity).is_some_and(|m| m.contains_key(&id)) => {
                    return (
                        404,
                        json!({"errors": [{"message": format!("no {entity} {id}")}]}),
                    );
                }
                Some(id) => id,
                None => {
                    let id = s.next_id;
                    s.next_id += 1;
                    id
                }
            };
            let mut record = body.clone();
            record["id"] = json!(id);
            s.records
                .entry(entity.clone())
                .or_default()
                .insert(id, record.clone());
            s.writes.push(Recorded {
                method: request.method.clone(),
                entity: entity.clone(),
                id,
                body,
            });
            (
                if request.method == "POST" { 201 } else { 200 },
                json!({ entity: record }),
            )
        }
        ("GET", Some(id)) => match s.records.get(&entity).and_then(|m| m.get(&id)) {
            Some(record) => (200, json!({ entity: record })),
            None => (
                404,
                json!({"errors": [{"message": format!("no {entity} {id}")}]}),
            ),
        },
        ("GET", None) => {
            let filters: Vec<(String, String)> = request
                .query
                .iter()
                .filter_map(|(k, v)| {
                    let field = k.strip_prefix("filter[")?.strip_suffix(']')?;
                    Some((
                        field.to_string(),
                        v.trim_start_matches('[').trim_end_matches(']').to_string(),
                    ))
                })
                .collect();
            let found: Vec<Value> = s
                .records
                .get(&entity)
                .map(|m| {
                    m.values()
                        .filter(|r| {
                            filters.iter().all(|(f, v)| {
                                r.get(f).is_some_and(|x| match x {
                                    Value::String(t) => t == v,
                                    other => v.as_str() == other.to_string().as_str(),
                                })
                            })
                        })
                        .map(|r| json!({"id": r["id"]}))
                        .collect()
                })
                .unwrap_or_default();
            if found.is_empty() {
                (200, json!([]))
            } else {
                (200, json!({ plural: found }))
            }
        }
        _ => (404, json!({"errors": [{"message": "unsupported"}]})),
    }
}
