//! Reading only the fields a job uses: every other top-level field of a record is skipped while
//! parsing, without being allocated (see `steps::projection` for when a job allows it). A file
//! source's records are projected one by one; an API page's, in the list its `records` path
//! names, the rest of the page kept whole for paging.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses one record keeping only `fields` (sorted top-level names).
#[derive(Clone, Copy)]
pub struct Projected<'a> {
    pub fields: &'a [String],
}

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// A key, kept only when the job reads it.
struct Key<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<String>, E> {
        // A job reads a handful of fields: a scan that compares lengths first rejects most
        // names without comparing their bytes (a binary search compared bytes every time).
        Ok(self
            .0
            .iter()
            .any(|f| f.len() == key.len() && f == key)
            .then(|| key.to_string()))
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut record = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.fields))? {
            match key {
                Some(key) => {
                    let value: Value = map.next_value()?;
                    record.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(record))
    }
}

/// Parses a JSON page whole, except that the objects in the list at `path` (field names from the
/// top) keep only `fields`. What is not at the path (totals, next tokens) is parsed as it is; so
/// is an object at the path (Gomag's lists keyed by id are read whole).
pub struct ProjectedAt<'a> {
    pub path: &'a [String],
    pub fields: &'a [String],
}

impl<'de> DeserializeSeed<'de> for ProjectedAt<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A list's element: projected when it is an object.
struct Element<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// The visits that build a plain value, as `serde_json::Value` does.
macro_rules! plain_values {
    () => {
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
            Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
    };
}

impl<'de> Visitor<'de> for ProjectedAt<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    plain_values!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.path.is_empty() {
            return plain_list(seq);
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Element(self.fields))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match self.path.split_first() {
                Some((first, rest)) if *first == key => map.next_value_seed(ProjectedAt {
                    path: rest,
                    fields: self.fields,
                })?,
                _ => map.next_value()?,
            };
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

impl<'de> Visitor<'de> for Element<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    plain_values!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        plain_list(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Projected { fields: self.0 }.visit_map(map)
    }
}

/// A list off the records' path, parsed as it is.
fn plain_list<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Value, A::Error> {
    let mut items = Vec::new();
    while let Some(item) = seq.next_element::<Value>()? {
        items.push(item);
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(json: &str, path: &[&str], fields: &[&str]) -> Value {
        let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let mut de = serde_json::Deserializer::from_slice(json.as_bytes());
        let value = ProjectedAt {
            path: &path,
            fields: &fields,
        }
        .deserialize(&mut de)
        .unwrap();
        de.end().unwrap();
        value
    }

    #[test]
    fn a_page_keeps_its_paging_fields_and_only_the_fields_read_of_its_records() {
        let text = r#"{"data": {"products": [{"id": 1, "sku": "A", "attributes": {"sku": "x"}},
            {"sku": "B", "price": 1.5e0}, 7, null], "total_pages": 3}, "next": "t2", "n": -1}"#;
        assert_eq!(
            page(text, &["data", "products"], &["price", "sku"]),
            json!({"data": {"products": [{"sku": "A"}, {"sku": "B", "price": 1.5}, 7, null],
                "total_pages": 3}, "next": "t2", "n": -1})
        );
        // Nothing at the path, or an object there (a list keyed by id): parsed whole.
        let keyed = r#"{"products": {"12": {"sku": "A", "id": 12}}}"#;
        assert_eq!(
            page(keyed, &["products"], &["sku"]),
            json!({"products": {"12": {"sku": "A", "id": 12}}})
        );
        assert_eq!(
            page(r#"[{"a": 1, "b": 2}]"#, &[], &["b"]),
            json!([{"b": 2}])
        );
        assert_eq!(page(r#""text""#, &["x"], &["b"]), json!("text"));
    }
}
