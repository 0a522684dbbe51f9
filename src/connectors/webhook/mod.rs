//! Webhooks, everything below the HTTP server: [`receive`] verifies a notification
//! ([`verify`]), refuses a replay, and stores it in the job's inbox in the state
//! ([`inbox`]) before the server answers 2xx; the job's source ([`source`]) then reads the
//! stored notifications as records, and they leave the inbox when the job commits.
//!
//! Nothing here knows the HTTP framework: the server hands over the headers, the raw body
//! and the time, and answers with [`Refusal::status`].

pub mod compile;
pub mod inbox;
pub mod source;
pub mod verify;

use std::sync::Mutex;

use serde_json::Value;

use crate::state::{Change, InboxChange, JobId, Notification, StateError, StateStore};
use verify::{Mismatch, Signer};

/// A webhook job's endpoint: where its notifications are posted, and how they are checked.
/// Its `Debug` shows no secret.
#[derive(Debug)]
pub struct WebhookEndpoint {
    /// The job whose inbox the notifications go to.
    pub job: JobId,
    /// The path the sender posts to, e.g. `/hooks/woocommerce/orders`.
    pub path: String,
    /// The `webhook` connection, for messages.
    pub connection: String,
    pub(crate) signer: Signer,
    pub(crate) signature_header: String,
    pub(crate) timestamp: Option<TimestampRule>,
    pub(crate) delivery_id: Option<String>,
    /// The largest body accepted, in bytes: the server may refuse a larger one before
    /// reading it whole (413).
    pub max_body: usize,
}

#[derive(Debug)]
pub(crate) struct TimestampRule {
    pub header: String,
    /// Seconds, either way from now.
    pub tolerance: i64,
}

/// A request's headers, as the server has them.
pub trait Headers {
    /// The value of the header `name` (any case); the first when it is repeated.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

/// The HTTP crate's map, which reqwest and axum share.
impl Headers for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|value| value.as_bytes())
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// What became of a notification that was not refused: the server answers 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Stored in the job's inbox under `id`, durably: the job may run.
    Stored { id: u64 },
    /// WooCommerce's ping when a webhook is saved (`webhook_id=N`, unsigned): answered 200
    /// so that the shop shows no error, and nothing is stored.
    Ping,
}

/// Why a notification is refused: said in words for the log (never its body, never the
/// secret), answered with [`Refusal::status`]. Nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no `{header}` header: the request is not signed")]
    Unsigned { header: String },
    #[error("the `{header}` header is not {expected}")]
    Malformed {
        header: String,
        expected: &'static str,
    },
    #[error("the `{header}` header is not the signature of this body with the connection's secret")]
    BadSignature { header: String },
    #[error("no `{header}` header: the time the notification was sent is not given")]
    NoTimestamp { header: String },
    #[error("the `{header}` header is not a time (Unix seconds or RFC 3339)")]
    BadTimestamp { header: String },
    #[error("sent {age} s from now, more than the tolerance of {tolerance} s: refused as a replay")]
    Stale { age: i64, tolerance: i64 },
    #[error("{what} was received before, at {at} (Unix time): refused as a replay")]
    Replayed { what: String, at: i64 },
    #[error("a body of {size} bytes, more than the {max} bytes of `max_body`")]
    TooLarge { size: usize, max: usize },
    #[error("the body is not JSON ({0})")]
    NotJson(String),
    #[error("the notification could not be stored: {0}")]
    State(#[from] StateError),
}

impl Refusal {
    /// The HTTP status to answer with: 401 for what is not proven to come from the sender
    /// (or was seen before), 413 for a body too large, 400 for one that cannot be read, 503
    /// when it could not be stored (the sender sends it again later).
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooLarge { .. } => 413,
            Refusal::NotJson(_) => 400,
            Refusal::State(_) => 503,
            _ => 401,
        }
    }
}

/// The receivers' check-then-store of a delivery, one at a time: two copies of one delivery
/// received together are one stored, one refused. Only the state's reads and its batch run
/// under it, not the flush.
static RECEIVING: Mutex<()> = Mutex::new(());

/// Receives one notification posted to `endpoint`: verifies its signature over the raw body
/// (and its timestamp), refuses a delivery seen before, reads the body (JSON, or form fields
/// when sent as `application/x-www-form-urlencoded`), and stores it in the job's inbox,
/// flushed, before returning. `now` is the Unix time in seconds. It blocks on the state's
/// flush (an fsync): an async server calls it off its reactor (`spawn_blocking`).
pub fn receive(
    endpoint: &WebhookEndpoint,
    headers: &(impl Headers + ?Sized),
    body: &[u8],
    now: i64,
    state: &dyn StateStore,
) -> Result<Received, Refusal> {
    if body.len() > endpoint.max_body {
        return Err(Refusal::TooLarge {
            size: body.len(),
            max: endpoint.max_body,
        });
    }
    let header = &endpoint.signature_header;
    let Some(signature) = headers.header(header) else {
        if is_woocommerce_ping(body) {
            return Ok(Received::Ping);
        }
        return Err(Refusal::Unsigned {
            header: header.clone(),
        });
    };
    let timestamp = match &endpoint.timestamp {
        Some(rule) => Some((
            rule,
            headers
                .header(&rule.header)
                .ok_or_else(|| Refusal::NoTimestamp {
                    header: rule.header.clone(),
                })?,
        )),
        None => None,
    };
    let signature = endpoint
        .signer
        .verify(signature, timestamp.map(|(_, value)| value), body)
        .map_err(|mismatch| match mismatch {
            Mismatch::Prefix => Refusal::Malformed {
                header: header.clone(),
                expected: "the signature after its prefix",
            },
            Mismatch::Encoding => Refusal::Malformed {
                header: header.clone(),
                expected: "a signature in the connection's encoding",
            },
            Mismatch::Digest => Refusal::BadSignature {
                header: header.clone(),
            },
        })?;
    if let Some((rule, value)) = timestamp {
        let sent = verify::timestamp(value).ok_or_else(|| Refusal::BadTimestamp {
            header: rule.header.clone(),
        })?;
        let age = now.saturating_sub(sent);
        if age.saturating_abs() > rule.tolerance {
            return Err(Refusal::Stale {
                age,
                tolerance: rule.tolerance,
            });
        }
    }
    let record = read_body(headers, body)?;
    let delivery_id = endpoint
        .delivery_id
        .as_deref()
        .and_then(|name| headers.header(name));
    let digests = verify::digests(&signature, delivery_id);
    let id = {
        let _one_at_a_time = RECEIVING.lock().unwrap_or_else(|e| e.into_inner());
        for (i, digest) in digests.iter().enumerate() {
            if let Some(at) = state.seen(&endpoint.job, digest)? {
                let what = match (i, delivery_id) {
                    (1, Some(id)) => format!("the delivery `{}`", shown(id)),
                    _ => "a notification with this signature".to_string(),
                };
                return Err(Refusal::Replayed { what, at });
            }
        }
        let id = state.next_id()?;
        state.apply(vec![Change::Inbox(InboxChange::Add {
            job: endpoint.job.clone(),
            id,
            notification: Notification {
                received_at: now,
                body: record,
            },
            seen: digests,
        })])?;
        id
    };
    // Durable before the sender hears 2xx: a process killed after this loses nothing.
    state.flush()?;
    tracing::debug!(job = %endpoint.job, id, "webhook notification stored");
    Ok(Received::Stored { id })
}

/// `WC_Webhook::deliver_ping()` posts `webhook_id=<id>`, unsigned, when a webhook is saved,
/// and shows the admin an error unless it is answered 200.
fn is_woocommerce_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=")
        .is_some_and(|id| !id.is_empty() && id.len() <= 20 && id.iter().all(u8::is_ascii_digit))
}

/// The notification as a record: JSON, or form fields (a name given several times: the list
/// of its values).
fn read_body(headers: &(impl Headers + ?Sized), body: &[u8]) -> Result<Value, Refusal> {
    let form = headers.header("content-type").is_some_and(|t| {
        t.trim_ascii_start()
            .to_ascii_lowercase()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    if !form {
        // serde_json's message says where (line, column), never what.
        return serde_json::from_slice(body).map_err(|e| Refusal::NotJson(e.to_string()));
    }
    let mut fields = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
        match fields.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                fields.insert(name.into_owned(), value);
            }
        }
    }
    Ok(Value::Object(fields))
}

/// A sender's text fit for a log line: printable ASCII, cut short.
fn shown(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .take(64)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if bytes.len() > 64 {
        format!("{text}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{HmacAlgorithm, SignatureEncoding};
    use crate::state::memory::MemoryStore;
    use base64::Engine as _;
    use hmac::Mac;
    use secrecy::SecretString;
    use verify::Covers;

    const SECRET: &str = "wc-webhook-secret-8f3a";
    const NOW: i64 = 1_767_225_600;

    fn endpoint(timestamp: bool) -> WebhookEndpoint {
        WebhookEndpoint {
            job: JobId {
                pipeline: "p".into(),
                job: "orders".into(),
            },
            path: "/hooks/orders".into(),
            connection: "shop_hooks".into(),
            signer: Signer {
                algorithm: HmacAlgorithm::HmacSha256,
                encoding: SignatureEncoding::Base64,
                prefix: None,
                covers: if timestamp {
                    Covers::parse("{timestamp}.{body}").unwrap()
                } else {
                    Covers::body()
                },
                secret: SecretString::from(SECRET),
            },
            signature_header: "X-WC-Webhook-Signature".into(),
            timestamp: timestamp.then(|| TimestampRule {
                header: "X-Timestamp".into(),
                tolerance: 300,
            }),
            delivery_id: Some("X-Delivery".into()),
            max_body: 1000,
        }
    }

    /// The signature as the sender computes it (the same HMAC, written separately).
    fn sign(message: &[u8]) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(message);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn stored(state: &MemoryStore) -> Vec<Value> {
        let job = JobId {
            pipeline: "p".into(),
            job: "orders".into(),
        };
        inbox::pending(state, &job, 100)
            .unwrap()
            .into_iter()
            .map(|(_, n)| n.body)
            .collect()
    }

    #[test]
    fn a_signed_notification_is_stored_and_a_replay_of_it_refused() {
        let (state, endpoint) = (MemoryStore::empty(), endpoint(false));
        let body = br#"{"id":727,"status":"processing"}"#;
        let signature = sign(body);
        let headers = [("x-wc-webhook-signature", signature.as_str())];
        let received = receive(&endpoint, &headers[..], body, NOW, &state).unwrap();
        assert!(matches!(received, Received::Stored { .. }));
        assert_eq!(
            stored(&state),
            [serde_json::json!({"id": 727, "status": "processing"})]
        );
        // The same request again, even much later: refused, nothing stored.
        let again = receive(&endpoint, &headers[..], body, NOW + 86_400, &state).unwrap_err();
        assert!(matches!(again, Refusal::Replayed { .. }), "{again}");
        assert_eq!(again.status(), 401);
        assert_eq!(stored(&state).len(), 1);
    }

    #[test]
    fn wrong_and_missing_signatures_are_refused_and_store_nothing() {
        let (state, endpoint) = (MemoryStore::empty(), endpoint(false));
        let body = br#"{"id":727}"#;
        let other = sign(br#"{"id":728}"#);
        for (headers, expected) in [
            (
                vec![("X-WC-Webhook-Signature", other.as_str())],
                "not the signature",
            ),
            (vec![("X-WC-Webhook-Signature", "%%%")], "encoding"),
            (vec![("X-Other", "x")], "not signed"),
        ] {
            let refusal = receive(&endpoint, &headers[..], body, NOW, &state).unwrap_err();
            assert_eq!(refusal.status(), 401);
            let said = refusal.to_string();
            assert!(said.contains(expected), "{said}");
            assert!(!said.contains("727") && !said.contains(SECRET), "{said}");
        }
        assert!(stored(&state).is_empty());
        // A refused request marks nothing as seen: the real one still goes through.
        let signature = sign(body);
        let headers = [("X-WC-Webhook-Signature", signature.as_str())];
        assert!(receive(&endpoint, &headers[..], body, NOW, &state).is_ok());
    }

    #[test]
    fn a_delivery_id_seen_before_is_refused_even_with_another_body() {
        let (state, endpoint) = (MemoryStore::empty(), endpoint(false));
        let send = |body: &[u8], delivery: &str| {
            let signature = sign(body);
            let headers = [
                ("X-WC-Webhook-Signature", signature.as_str()),
                ("X-Delivery", delivery),
            ];
            receive(&endpoint, &headers[..], body, NOW, &state)
        };
        assert!(send(br#"{"id":1}"#, "d-1").is_ok());
        assert!(send(br#"{"id":2}"#, "d-2").is_ok());
        let refusal = send(br#"{"id":3}"#, "d-1").unwrap_err();
        assert!(refusal.to_string().contains("`d-1`"), "{refusal}");
        assert_eq!(stored(&state).len(), 2);
    }

    #[test]
    fn a_signed_time_outside_the_tolerance_is_refused() {
        let (state, endpoint) = (MemoryStore::empty(), endpoint(true));
        let body = br#"{"id":727}"#;
        let send = |sent: i64, signed_at: i64| {
            let message = [format!("{signed_at}.").as_bytes(), body].concat();
            let signature = sign(&message);
            let sent = sent.to_string();
            let headers = [
                ("X-WC-Webhook-Signature", signature.as_str()),
                ("X-Timestamp", sent.as_str()),
            ];
            receive(&endpoint, &headers[..], body, NOW, &state)
        };
        let stale = send(NOW - 301, NOW - 301).unwrap_err();
        assert!(matches!(stale, Refusal::Stale { age: 301, .. }), "{stale}");
        assert!(matches!(
            send(NOW + 301, NOW + 301),
            Err(Refusal::Stale { .. })
        ));
        // A fresh time on an old signature: the signature does not hold.
        assert!(matches!(
            send(NOW, NOW - 301),
            Err(Refusal::BadSignature { .. })
        ));
        assert!(stored(&state).is_empty());
        assert!(send(NOW - 299, NOW - 299).is_ok());
        let signature = sign(body);
        let headers = [("X-WC-Webhook-Signature", signature.as_str())];
        let missing = receive(&endpoint, &headers[..], body, NOW, &state).unwrap_err();
        assert!(matches!(missing, Refusal::NoTimestamp { .. }), "{missing}");
    }

    #[test]
    fn large_unreadable_form_and_ping_bodies() {
        let (state, endpoint) = (MemoryStore::empty(), endpoint(false));
        let large = vec![b' '; 1001];
        let refusal = receive(&endpoint, &[("a", "b")][..], &large, NOW, &state).unwrap_err();
        assert_eq!(refusal.status(), 413);
        let body = b"{\"id\": 7";
        let signature = sign(body);
        let headers = [("X-WC-Webhook-Signature", signature.as_str())];
        let refusal = receive(&endpoint, &headers[..], body, NOW, &state).unwrap_err();
        assert_eq!(refusal.status(), 400);
        assert!(!refusal.to_string().contains("id"), "{refusal}");
        // A form body reads as its fields; a repeated name as the list of its values.
        let body = b"id=7&tag=a&tag=b&note=caf%C3%A9+noir";
        let signature = sign(body);
        let headers = [
            ("X-WC-Webhook-Signature", signature.as_str()),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            ),
        ];
        receive(&endpoint, &headers[..], body, NOW, &state).unwrap();
        assert_eq!(
            stored(&state),
            [serde_json::json!({"id": "7", "tag": ["a", "b"], "note": "café noir"})]
        );
        // WooCommerce's ping, unsigned: answered, nothing stored.
        let ping = receive(
            &endpoint,
            &[("User-Agent", "WooCommerce")][..],
            b"webhook_id=12",
            NOW,
            &state,
        );
        assert_eq!(ping.unwrap(), Received::Ping);
        let not_ping = receive(
            &endpoint,
            &[("a", "b")][..],
            b"webhook_id=12&x=1",
            NOW,
            &state,
        );
        assert!(matches!(not_ping, Err(Refusal::Unsigned { .. })));
        assert_eq!(stored(&state).len(), 1);
    }
}
