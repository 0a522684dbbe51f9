//! JSON-RPC over HTTP (Odoo, Tryton): a call's body is an envelope around its method and
//! params; the answer's `result` is what paths read, and an `error` member fails the call even
//! though the HTTP status is 200.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::Response;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The body of a call to `method`.
pub fn envelope(method: &str, params: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": method,
        "params": params,
        "id": NEXT_ID.fetch_add(1, Ordering::Relaxed),
    })
}

/// The answer with its `result` as the body, or its error noted (see `Response::rpc_error`).
pub fn unwrap(mut response: Response) -> Response {
    if !response.is_success() {
        return response;
    }
    let mut answer = match serde_json::from_slice::<Value>(&response.body) {
        Ok(answer) => answer,
        Err(e) => {
            response.rpc_error = Some(format!("the answer is not JSON-RPC ({e})"));
            return response;
        }
    };
    if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
        response.rpc_error = Some(describe(error));
        return response;
    }
    match answer.get_mut("result").map(Value::take) {
        Some(result) => response.body = serde_json::to_vec(&result).unwrap_or_default(),
        None => response.rpc_error = Some("the answer has neither `result` nor `error`".into()),
    }
    response
}

/// An error as a person reads it. Odoo: `{code, message, data: {name, message}}`; Tryton:
/// `["UserError", ["message", "description"]]`; others: `{code, message}`.
pub fn describe(error: &Value) -> String {
    match error {
        Value::Object(fields) => {
            let data = fields.get("data");
            let message = data
                .and_then(|d| d.get("message"))
                .or_else(|| fields.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("an error without a message");
            let kind = data
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| fields.get("code").map(|c| format!("code {c}")));
            match kind {
                Some(kind) => format!("{message} ({kind})"),
                None => message.to_string(),
            }
        }
        Value::Array(parts) => {
            let mut texts = Vec::new();
            collect_texts(parts, &mut texts);
            texts.join(": ")
        }
        other => other.to_string(),
    }
}

fn collect_texts(values: &[Value], out: &mut Vec<String>) {
    for value in values {
        match value {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(inner) => collect_texts(inner, out),
            _ => {}
        }
    }
}

/// The call's body with `value` set at the dotted `path` inside its params (how an RPC source
/// is paged: `kwargs.offset`), and a new id. A whole number is set as a number.
pub fn with_param(body: &[u8], path: &str, value: &str) -> Option<Vec<u8>> {
    let mut envelope: Value = serde_json::from_slice(body).ok()?;
    let mut at = envelope.get_mut("params")?;
    let value = value
        .parse::<u64>()
        .map_or_else(|_| Value::String(value.to_string()), Value::from);
    // Names in objects, positions in lists (Tryton's params are positional).
    for name in path.split('.') {
        at = match at {
            Value::Object(fields) => fields.entry(name.to_string()).or_insert(Value::Null),
            Value::Array(items) => items.get_mut(name.parse::<usize>().ok()?)?,
            Value::Null => {
                *at = json!({});
                at.as_object_mut()?
                    .entry(name.to_string())
                    .or_insert(Value::Null)
            }
            _ => return None,
        };
    }
    *at = value;
    envelope["id"] = json!(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    serde_json::to_vec(&envelope).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences() {
        let odoo = json!({"code": 200, "message": "Odoo Server Error", "data": {"name": "odoo.exceptions.ValidationError", "message": "The reference must be unique"}});
        assert_eq!(
            describe(&odoo),
            "The reference must be unique (odoo.exceptions.ValidationError)"
        );
        let tryton = json!(["UserError", ["The product code is missing.", ""]]);
        assert_eq!(describe(&tryton), "UserError: The product code is missing.");
    }

    #[test]
    fn paging_params_go_inside_the_params() {
        let body = serde_json::to_vec(&envelope("call", json!({"kwargs": {"limit": 10}}))).unwrap();
        let paged = with_param(&body, "kwargs.offset", "20").unwrap();
        let paged: Value = serde_json::from_slice(&paged).unwrap();
        assert_eq!(
            paged["params"]["kwargs"],
            json!({"limit": 10, "offset": 20})
        );
        let tryton = serde_json::to_vec(&envelope("search_read", json!([[], 0, 100]))).unwrap();
        let paged: Value =
            serde_json::from_slice(&with_param(&tryton, "1", "100").unwrap()).unwrap();
        assert_eq!(paged["params"], json!([[], 100, 100]));
    }
}
