//! What flows between jobs, steps and connectors: a record (a JSON value), the paths and
//! templates that read it, and the normal forms values are compared in.

pub mod normalize;
pub mod path;
pub mod template;

use serde_json::Value;

pub type Record = Value;

/// The text of a scalar value, as tables and templates match and write it.
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A target id as JSON: ids are kept as text, and one that is a plain number (no leading zero)
/// is sent as a number, as the APIs that use numeric ids want it.
pub fn id_value(id: &str) -> Value {
    match id.parse::<u64>() {
        Ok(n) if !id.starts_with('0') || id == "0" => Value::from(n),
        _ => Value::String(id.to_string()),
    }
}

/// A flag's value: true, non-zero numbers, "1", "true", "yes", "y", "oui", "da".
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.trim().to_lowercase().as_str(),
            "1" | "true" | "yes" | "y" | "oui" | "o" | "da"
        ),
        _ => false,
    }
}
