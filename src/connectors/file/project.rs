//! Reading only the fields a job uses: every other top-level field is skipped while parsing,
//! without being allocated (see `steps::projection` for when a job allows it).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

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
