//! JSON-RPC over HTTP (Odoo, Tryton): a call's body is an envelope around its method and
//! params; the answer's `result` is what paths read, and an `error` member fails the call even
//! though the HTTP status is 200. The connection's dialect decides the envelope's members and
//! how typed values are written (Tryton's `{"__class__": ...}` objects).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use super::wire::Response;
use crate::config::model::{HttpConnection, RpcDialect};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The dialect of a connection's JSON-RPC calls.
pub fn dialect(connection: &HttpConnection) -> RpcDialect {
    connection
        .rpc
        .as_ref()
        .map(|r| r.dialect)
        .unwrap_or_default()
}

/// The body of a call to `method`.
pub fn envelope(dialect: RpcDialect, method: &str, params: Value) -> Value {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    match dialect {
        RpcDialect::Jsonrpc2 | RpcDialect::Odoo => json!({
            "jsonrpc": "2.0",
            "method": method,
            "params": params,
            "id": id,
        }),
        RpcDialect::Jsonrpc1 => json!({"method": method, "params": params, "id": id}),
        // trytond's `protocols/jsonrpc.py` wraps its answer in {id, result | error} only when
        // the request has exactly these three members.
        RpcDialect::Tryton => json!({"id": id, "method": method, "params": tryton::encode(params)}),
    }
}

/// The answer with its `result` as the body, or its error noted (see `Response::rpc_error`).
pub fn unwrap(mut response: Response, dialect: RpcDialect) -> Response {
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
        Some(mut result) => {
            if dialect == RpcDialect::Tryton {
                tryton::decode(&mut result);
            }
            response.body = serde_json::to_vec(&result).unwrap_or_default();
        }
        None => response.rpc_error = Some("the answer has neither `result` nor `error`".into()),
    }
    response
}

/// Tryton's typed values: `{"__class__": "datetime", "year": .., "microsecond": ..}`,
/// `{"__class__": "Decimal", "decimal": "26.00"}` and the like (trytond's `JSONEncoder`).
mod tryton {
    use super::*;

    /// Each typed value as the text or number a record holds: datetimes as
    /// `2026-12-06 09:40:01.123456` (Tryton's own text form, which it also takes in domains
    /// and which sorts as the times do), dates `2026-12-06`, times `09:40:01`, decimals as
    /// their exact text, timedeltas as seconds, bytes as their base64.
    pub fn decode(value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(decode),
            Value::Object(fields) => match fields.get("__class__").and_then(Value::as_str) {
                Some(class) => {
                    if let Some(plain) = plain(class, fields) {
                        *value = plain;
                    }
                }
                None => fields.values_mut().for_each(decode),
            },
            _ => {}
        }
    }

    fn plain(class: &str, fields: &Map<String, Value>) -> Option<Value> {
        let n = |name: &str| fields.get(name).and_then(Value::as_u64);
        let time = || -> Option<String> {
            let (h, m, s) = (n("hour")?, n("minute")?, n("second")?);
            let micro = n("microsecond").unwrap_or(0);
            Some(if micro == 0 {
                format!("{h:02}:{m:02}:{s:02}")
            } else {
                format!("{h:02}:{m:02}:{s:02}.{micro:06}")
            })
        };
        let date = || {
            Some(format!(
                "{:04}-{:02}-{:02}",
                n("year")?,
                n("month")?,
                n("day")?
            ))
        };
        Some(match class {
            "datetime" => Value::String(format!("{} {}", date()?, time()?)),
            "date" => Value::String(date()?),
            "time" => Value::String(time()?),
            "Decimal" => fields.get("decimal")?.clone(),
            "timedelta" => fields.get("seconds")?.clone(),
            "bytes" => fields.get("base64")?.clone(),
            _ => return None,
        })
    }

    /// Numbers with a fraction as `Decimal` objects: a JSON number is a float to Tryton, and
    /// a float such as 12.34 has more digits than a Numeric field takes (`The number of digits
    /// in the value "'12.339999999999999857891452847979962825775146484375'" ... exceeds the
    /// limit`). Float fields take a Decimal as well.
    pub fn encode(mut value: Value) -> Value {
        fn walk(value: &mut Value) {
            match value {
                Value::Number(n) if n.is_f64() => {
                    *value = json!({"__class__": "Decimal", "decimal": n.to_string()});
                }
                Value::Array(items) => items.iter_mut().for_each(walk),
                Value::Object(fields) => fields.values_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut value);
        value
    }
}

/// An error as a person reads it. Odoo: `{code, message, data: {name, message}}`; Tryton:
/// `["UserError", ["message", "description"]]`; others: `{code, message}`, or a list of them.
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
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn collect_texts(values: &[Value], out: &mut Vec<String>) {
    for value in values {
        match value {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(inner) => collect_texts(inner, out),
            // A REST API's list of errors (PrestaShop's `[{code, message}]`).
            Value::Object(_) => out.push(describe(value)),
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
        let body = serde_json::to_vec(&envelope(
            RpcDialect::Jsonrpc2,
            "call",
            json!({"kwargs": {"limit": 10}}),
        ))
        .unwrap();
        let paged = with_param(&body, "kwargs.offset", "20").unwrap();
        let paged: Value = serde_json::from_slice(&paged).unwrap();
        assert_eq!(
            paged["params"]["kwargs"],
            json!({"limit": 10, "offset": 20})
        );
        let tryton = serde_json::to_vec(&envelope(
            RpcDialect::Tryton,
            "search_read",
            json!([[], 0, 100]),
        ))
        .unwrap();
        let paged: Value =
            serde_json::from_slice(&with_param(&tryton, "1", "100").unwrap()).unwrap();
        assert_eq!(paged["params"], json!([[], 100, 100]));
    }

    #[test]
    fn tryton_calls_have_exactly_id_method_and_params() {
        let call = envelope(
            RpcDialect::Tryton,
            "model.sale.sale.create",
            json!([[{"unit_price": 12.34, "quantity": 2}], {}]),
        );
        let members: Vec<&str> = call
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members, ["id", "method", "params"]);
        assert_eq!(
            call["params"][0][0],
            json!({"unit_price": {"__class__": "Decimal", "decimal": "12.34"}, "quantity": 2})
        );
    }

    #[test]
    fn tryton_typed_values_read_as_text() {
        let mut answer = json!([{
            "write_date": {"__class__": "datetime", "year": 2026, "month": 12, "day": 6, "hour": 9, "minute": 5, "second": 1, "microsecond": 529488},
            "create_date": {"__class__": "datetime", "year": 2026, "month": 1, "day": 2, "hour": 0, "minute": 0, "second": 0, "microsecond": 0},
            "sale_date": {"__class__": "date", "year": 2026, "month": 12, "day": 6},
            "list_price": {"__class__": "Decimal", "decimal": "26.00"},
            "template.": {"write_date": null, "id": 2}
        }]);
        tryton::decode(&mut answer);
        assert_eq!(
            answer,
            json!([{
                "write_date": "2026-12-06 09:05:01.529488",
                "create_date": "2026-01-02 00:00:00",
                "sale_date": "2026-12-06",
                "list_price": "26.00",
                "template.": {"write_date": null, "id": 2}
            }])
        );
    }
}
