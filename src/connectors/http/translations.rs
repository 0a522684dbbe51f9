//! Translated fields, as `lang` writes them (`[{id, value}]`) and as a target answers them:
//! the same list, PrestaShop's XML `{language: [{"@id", "#text"}]}` (one language: an object),
//! or, for a shop in one language, PrestaShop's JSON plain text.

use serde_json::Value;

use crate::record::text_of;

/// The languages and texts of a field as `lang` writes it: exactly `{id, value}` items. A list
/// of `{id}` alone is something else (PrestaShop's associations).
pub fn written(field: &Value) -> Option<Vec<(String, Value)>> {
    let items = field.as_array().filter(|items| !items.is_empty())?;
    items
        .iter()
        .map(|item| {
            let fields = item.as_object().filter(|f| f.len() == 2)?;
            Some((text_of(fields.get("id")?)?, fields.get("value")?.clone()))
        })
        .collect()
}

/// The languages and texts of a field as the target answered it (a list or XML's elements);
/// `None` for a plain value.
pub fn read(field: &Value) -> Option<Vec<(String, Value)>> {
    // As XML is read: its other attributes (`xlink:href`) aside.
    let element = |item: &Value| -> Option<(String, Value)> {
        let fields = item.as_object()?;
        let text = fields
            .get("#text")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        Some((text_of(fields.get("@id")?)?, text))
    };
    match field {
        Value::Array(_) => written(field),
        Value::Object(fields) => match fields.get("language")? {
            Value::Array(items) => items.iter().map(element).collect(),
            one => Some(vec![element(one)?]),
        },
        _ => None,
    }
}

/// `changes`, a translated field written in some languages, laid over the field as read,
/// language by language: the languages not written keep their text. `None` when `changes` is
/// not a translated field or `base` not one as read.
pub fn merge(base: &Value, changes: &Value) -> Option<Value> {
    let written = written(changes)?;
    let mut merged = read(base)?;
    for (id, value) in written {
        match merged.iter_mut().find(|(known, _)| *known == id) {
            Some(slot) => slot.1 = value,
            None => merged.push((id, value)),
        }
    }
    Some(Value::Array(
        merged
            .into_iter()
            .map(|(id, value)| serde_json::json!({ "id": id, "value": value }))
            .collect(),
    ))
}

/// Whether the target already holds `changes`, a translated field, in every language it is
/// written in; `None` when `changes` is not a translated field. A plain text as read holds
/// the text of every language (a shop in one language answers so).
pub fn holds(
    current: &Value,
    changes: &Value,
    same: impl Fn(&Value, &Value) -> bool,
) -> Option<bool> {
    let written = written(changes)?;
    let read = match current {
        Value::Array(_) | Value::Object(_) => read(current).unwrap_or_default(),
        plain => return Some(written.iter().all(|(_, text)| same(plain, text))),
    };
    Some(written.iter().all(|(id, text)| {
        read.iter()
            .any(|(known, held)| known == id && same(held, text))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_translation_is_held_in_the_forms_a_target_answers() {
        let written = json!([{"id": "1", "value": "Chair"}]);
        let eq = |a: &Value, b: &Value| a == b;
        assert_eq!(holds(&json!("Chair"), &written, eq), Some(true));
        assert_eq!(holds(&json!("Chaise"), &written, eq), Some(false));
        let list = json!([{"id": "1", "value": "Chair"}, {"id": "2", "value": "Chaise"}]);
        assert_eq!(holds(&list, &written, eq), Some(true));
        let xml =
            json!({"language": [{"@id": "2", "#text": "Chaise"}, {"@id": "1", "#text": "Chair"}]});
        assert_eq!(holds(&xml, &written, eq), Some(true));
        let other_language = json!([{"id": "2", "value": "Chair"}]);
        assert_eq!(holds(&other_language, &written, eq), Some(false));
        assert_eq!(holds(&json!("x"), &json!([{"id": "1"}]), eq), None);
    }
}
