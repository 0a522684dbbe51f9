//! A programmable API double on loopback: each request is answered by a closure, and every
//! request is kept (path and query) for the test to inspect.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub use super::shop::Request;
use super::shop::read_request;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(body: serde_json::Value) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn status(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// Path, query and body of each request, in order.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, Vec<u8>)>>>;

type Handler = dyn Fn(&Request, &str) -> Reply + Send + Sync;

/// What an injected failure does to the request it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`, not applied.
    TooManyRequests,
    /// 503, not applied.
    Unavailable,
    /// The connection is closed before the request is applied.
    DroppedBeforeApplying,
    /// Applied, then the connection is closed without an answer.
    DroppedAfterApplying,
    /// Applied, answered after this long (past the client's timeout, a timeout).
    Slow(std::time::Duration),
    /// 503 for this request and the next ones, this many in all (a burst of 5xx).
    Outage(u64),
}

/// One request in `every` fails, taking `kinds` in turn; `seen` counts what happened.
#[derive(Default)]
pub struct Faults {
    pub every: Option<u64>,
    pub kinds: Vec<Fault>,
    pub seen: Vec<Fault>,
    requests: u64,
    /// The `Retry-After` of a 429, in seconds (1 unless set).
    retry_after: Option<u64>,
    /// Requests still to refuse in an outage.
    outage_left: u64,
}

impl Faults {
    fn next(&mut self) -> Option<Fault> {
        self.requests += 1;
        if self.outage_left > 0 {
            self.outage_left -= 1;
            return Some(Fault::Unavailable);
        }
        let every = self.every.filter(|e| self.requests.is_multiple_of(*e))?;
        let fault = *self
            .kinds
            .get((self.requests / every) as usize % self.kinds.len().max(1))?;
        self.seen.push(fault);
        if let Fault::Outage(length) = fault {
            self.outage_left = length.saturating_sub(1);
            return Some(Fault::Unavailable);
        }
        Some(fault)
    }
}

pub struct Api {
    pub url: String,
    pub requests: Seen,
    pub faults: Arc<Mutex<Faults>>,
}

impl Api {
    /// `handler` gets the request and the server's own base URL (for next-page links).
    pub fn start(handler: impl Fn(&Request, &str) -> Reply + Send + Sync + 'static) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let requests: Seen = Arc::new(Mutex::new(Vec::new()));
        let faults: Arc<Mutex<Faults>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen, base, injected) = (requests.clone(), url.clone(), faults.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, seen, base, injected) = (
                    handler.clone(),
                    seen.clone(),
                    base.clone(),
                    injected.clone(),
                );
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    while let Some(request) = read_request(&mut reader) {
                        seen.lock().unwrap().push((
                            request.path.clone(),
                            request.query.clone(),
                            request.body.clone(),
                        ));
                        let (fault, retry_after) = {
                            let mut faults = injected.lock().unwrap();
                            (faults.next(), faults.retry_after.unwrap_or(1))
                        };
                        let reply = match fault {
                            Some(Fault::TooManyRequests) => {
                                Reply::status(429, serde_json::json!({"message": "slow down"}))
                                    .header("Retry-After", retry_after.to_string())
                            }
                            Some(Fault::Unavailable | Fault::Outage(_)) => {
                                Reply::status(503, serde_json::json!({"message": "maintenance"}))
                            }
                            Some(Fault::DroppedBeforeApplying) => return,
                            Some(Fault::DroppedAfterApplying) => {
                                handler(&request, &base);
                                return;
                            }
                            Some(Fault::Slow(delay)) => {
                                let reply = handler(&request, &base);
                                std::thread::sleep(delay);
                                reply
                            }
                            None => handler(&request, &base),
                        };
                        let mut head = format!(
                            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                            reply.status,
                            reply.body.len()
                        );
                        for (name, value) in &reply.headers {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                        head.push_str("\r\n");
                        if writer
                            .write_all((head + reply.body.as_str()).as_bytes())
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Api {
            url,
            requests,
            faults,
        }
    }

    /// From now on one request in `every` fails, taking `kinds` in turn.
    pub fn inject_faults(&self, every: u64, kinds: &[Fault]) {
        let mut faults = self.faults.lock().unwrap();
        faults.every = Some(every);
        faults.kinds = kinds.to_vec();
    }

    /// The `Retry-After` of the 429s injected from now on (1 second unless set).
    pub fn answer_429s_with_retry_after(&self, seconds: u64) {
        self.faults.lock().unwrap().retry_after = Some(seconds);
    }

    /// The faults injected so far.
    pub fn faults_seen(&self) -> Vec<Fault> {
        self.faults.lock().unwrap().seen.clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The body of request number `n`, as text.
    pub fn body(&self, n: usize) -> String {
        let requests = self.requests.lock().unwrap();
        requests
            .get(n)
            .map(|r| String::from_utf8_lossy(&r.2).into_owned())
            .unwrap_or_default()
    }

    /// The value of `name` in the query of request number `n`.
    pub fn query(&self, n: usize, name: &str) -> Option<String> {
        let requests = self.requests.lock().unwrap();
        requests
            .get(n)?
            .1
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// The value of a query parameter.
pub fn param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
