//! Deserializes the typed model from a [`Node`] tree, collecting every problem with its place.
//!
//! Three rules make "all problems at once, each at file:line:col" work with plain serde derives:
//! - an error is recorded in the [`Collector`] by the innermost node it comes out of, so it
//!   carries that node's span; outer layers only pass it on;
//! - unknown keys are reported (with "did you mean") and skipped, never fatal, since
//!   `deserialize_struct` knows the field names before the derive sees the keys;
//! - the [`lenient`] collections drop an item whose errors were recorded and go on with its
//!   siblings, so one broken job does not hide the problems of the next.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

use super::node::{Entry, Node, Resolved, Value};
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};

/// Where deserialization problems go.
#[derive(Debug, Default)]
pub struct Collector {
    diagnostics: RefCell<Vec<Diagnostic>>,
}

impl Collector {
    pub fn push(&self, diagnostic: Diagnostic) {
        self.diagnostics.borrow_mut().push(diagnostic);
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics.into_inner()
    }
}

#[derive(Debug)]
pub struct DeError {
    code: &'static str,
    message: String,
    hint: Option<String>,
    /// Already in the collector: outer layers pass it on untouched.
    reported: bool,
}

impl DeError {
    fn new(code: &'static str, message: String, hint: Option<String>) -> Self {
        DeError {
            code,
            message,
            hint,
            reported: false,
        }
    }

    fn reported() -> Self {
        DeError {
            code: "invalid-value",
            message: String::new(),
            hint: None,
            reported: true,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        // A custom message may carry a hint after a line break (see `hinted`).
        let text = msg.to_string();
        match text.split_once("\nhint: ") {
            Some((message, hint)) => {
                DeError::new("invalid-value", message.to_string(), Some(hint.to_string()))
            }
            None => DeError::new("invalid-value", text, None),
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let (expected, hint) = plain_expected(&exp.to_string());
        DeError::new(
            "wrong-type",
            format!("expected {expected}, found {}", unexpected(&unexp)),
            hint,
        )
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(
            "invalid-value",
            format!("expected {exp}, found {}", unexpected(&unexp)),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = did_you_mean(variant, expected.iter().copied())
            .unwrap_or_else(|| format!("expected {}", one_of(expected.iter().copied())));
        DeError::new(
            "unknown-kind",
            format!("unknown kind `{variant}`"),
            Some(hint),
        )
    }

    /// Reached only where a mapping is read through serde's own `MapAccessDeserializer` (a
    /// field's long form); elsewhere unknown keys are filtered out before the derive sees them.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = did_you_mean(field, expected.iter().copied()).unwrap_or_else(|| {
            format!(
                "the keys allowed here are {}",
                one_of(expected.iter().copied())
            )
        });
        DeError::new("unknown-key", format!("unknown key `{field}`"), Some(hint))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(
            "missing-key",
            format!("missing required key `{field}`"),
            None,
        )
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(
            "duplicate-key",
            format!("the key `{field}` is set twice"),
            None,
        )
    }
}

/// Builds a custom error with a hint, for `Deserialize` impls of checked values.
pub fn hinted<E: de::Error>(message: impl fmt::Display, hint: impl fmt::Display) -> E {
    E::custom(format!("{message}\nhint: {hint}"))
}

/// Serde names Rust types (`u32`, `a sequence`); say what a YAML author writes instead.
fn plain_expected(exp: &str) -> (String, Option<String>) {
    let (plain, example) = match exp {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            ("a whole number", "`1`, `100`")
        }
        "f32" | "f64" => ("a number", "`0.5`, `20`"),
        "a boolean" => ("`true` or `false`", "`true`"),
        "a string" => ("a string", "`text` or `\"quoted text\"`"),
        "a sequence" => ("a list", "`[a, b]`"),
        "a map" => ("a mapping", "`{ key: value }`"),
        other => return (other.to_string(), None),
    };
    (
        plain.to_string(),
        Some(format!("write {plain}, e.g. {example}")),
    )
}

fn unexpected(u: &de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Str(s) => format!("the string `{s}`"),
        de::Unexpected::Map => "a mapping".to_string(),
        de::Unexpected::Seq => "a list".to_string(),
        de::Unexpected::Unit => "nothing (null)".to_string(),
        other => other.to_string(),
    }
}

/// Deserializes `T` from `node`; every problem lands in `collector`. `None` when `T` could not
/// be built (its problems were recorded).
pub fn from_node<'de, T: de::Deserialize<'de>>(
    node: &'de Node,
    collector: &Collector,
) -> Option<T> {
    deserialize_node(std::marker::PhantomData::<T>, node, collector).ok()
}

/// Runs `seed` on `node` and records an error that no inner node claimed at this node's place.
fn deserialize_node<'de, S: DeserializeSeed<'de>>(
    seed: S,
    node: &'de Node,
    ctx: &Collector,
) -> Result<S::Value, DeError> {
    seed.deserialize(NodeDeserializer { node, ctx })
        .map_err(|e| record(e, node, ctx))
}

/// Puts an error nobody claimed yet into the collector, at `node`.
fn record(e: DeError, node: &Node, ctx: &Collector) -> DeError {
    if e.reported {
        return e;
    }
    ctx.push(
        Diagnostic::error(e.code, e.message)
            .at(node.label_span())
            .hint_opt(e.hint),
    );
    DeError::reported()
}

struct NodeDeserializer<'de, 'c> {
    node: &'de Node,
    ctx: &'c Collector,
}

impl<'de> NodeDeserializer<'de, '_> {
    fn scalar(&self) -> Option<Resolved<'de>> {
        match &self.node.value {
            Value::Scalar(s) => Some(s.resolve(self.node.tag.as_deref())),
            _ => None,
        }
    }

    fn expected(&self, what: &str) -> DeError {
        DeError::new(
            "wrong-type",
            format!("expected {what}, found {}", self.node.kind_name()),
            None,
        )
    }
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match &self.node.value {
            Value::Scalar(s) => match s.resolve(self.node.tag.as_deref()) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_borrowed_str(s),
            },
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                ctx: self.ctx,
            }),
            Value::Map(entries) => {
                visitor.visit_map(MapAccess::new(entries.iter().collect(), self.ctx))
            }
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match self.scalar() {
            Some(Resolved::Bool(b)) => visitor.visit_bool(b),
            _ => Err(self.expected("`true` or `false`")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match self.scalar() {
            Some(Resolved::Int(i)) => visitor.visit_i64(i),
            _ => Err(self.expected("a whole number")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = self.deserialize_i64(visitor);
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match self.scalar() {
            Some(Resolved::Int(i)) => visitor.visit_f64(i as f64),
            Some(Resolved::Float(f)) => visitor.visit_f64(f),
            _ => Err(self.expected("a number")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = {
            // Any non-null scalar reads as its text: `code: 0042` stays "0042", prices keep their digits.
            match &self.node.value {
                Value::Scalar(s) if self.scalar() != Some(Resolved::Null) => {
                    visitor.visit_borrowed_str(&s.text)
                }
                _ => Err(self.expected("a string")),
            }
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = self.deserialize_str(visitor);
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(Resolved::Null) => visitor.visit_none(),
            _ => {
                // Record here what the inner value's own checks reject: a lenient optional
                // field drops the error it gets back.
                let (node, ctx) = (self.node, self.ctx);
                visitor.visit_some(self).map_err(|e| record(e, node, ctx))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match self.scalar() {
            Some(Resolved::Null) => visitor.visit_unit(),
            _ => Err(self.expected("nothing")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = visitor.visit_newtype_struct(self);
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match &self.node.value {
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                ctx: self.ctx,
            }),
            Value::Scalar(s) if !s.text.is_empty() => Err(DeError::new(
                "wrong-type",
                format!("expected a list, found {}", self.node.kind_name()),
                Some(format!("write a list, e.g. `[{}]`", s.text)),
            )),
            _ => Err(self.expected("a list")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match &self.node.value {
            Value::Map(entries) => {
                visitor.visit_map(MapAccess::new(entries.iter().collect(), self.ctx))
            }
            _ => Err(self.expected("a mapping")),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        #[allow(clippy::redundant_closure_call)] // gathers the body's early returns
        let result = (|| {
            let Value::Map(entries) = &self.node.value else {
                return Err(self.expected("a mapping"));
            };
            let mut known = Vec::with_capacity(entries.len());
            for entry in entries {
                let key = entry.key_text();
                if fields.contains(&key) {
                    known.push(entry);
                } else {
                    self.ctx.push(unknown_key(entry, fields));
                }
            }
            visitor.visit_map(MapAccess::new(known, self.ctx))
        })();
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = match &self.node.value {
            Value::Scalar(_) if self.scalar() != Some(Resolved::Null) => {
                visitor.visit_enum(EnumAccess {
                    key: self.node,
                    value: None,
                    ctx: self.ctx,
                })
            }
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                key: &entries[0].key,
                value: Some(&entries[0].value),
                ctx: self.ctx,
            }),
            Value::Map(entries) if entries.len() > 1 => Err(DeError::new(
                "one-kind",
                format!(
                    "expected exactly one of {}, found {}",
                    one_of(variants.iter().copied()),
                    one_of(entries.iter().map(|e| e.key_text()))
                ),
                Some("these are alternatives: keep one".to_string()),
            )),
            _ => Err(DeError::new(
                "wrong-type",
                format!(
                    "expected one of {}, found {}",
                    one_of(variants.iter().copied()),
                    self.node.kind_name()
                ),
                None,
            )),
        };
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = self.deserialize_str(visitor);
        result.map_err(|e| record(e, node, ctx))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (node, ctx) = (self.node, self.ctx);
        let result = visitor.visit_unit();
        result.map_err(|e| record(e, node, ctx))
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char bytes byte_buf unit_struct tuple tuple_struct
    }
}

fn unknown_key(entry: &Entry, fields: &[&str]) -> Diagnostic {
    let key = entry.key_text();
    let hint = did_you_mean(key, fields.iter().copied()).unwrap_or_else(|| {
        format!(
            "the keys allowed here are {}",
            one_of(fields.iter().copied())
        )
    });
    Diagnostic::error("unknown-key", format!("unknown key `{key}`"))
        .at(entry.key.span)
        .label("not a key here")
        .hint(hint)
}

struct SeqAccess<'de, 'c> {
    items: std::slice::Iter<'de, Node>,
    ctx: &'c Collector,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => deserialize_node(seed, node, self.ctx).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'de, 'c> {
    entries: std::vec::IntoIter<&'de Entry>,
    value: Option<&'de Node>,
    ctx: &'c Collector,
}

impl<'de, 'c> MapAccess<'de, 'c> {
    fn new(entries: Vec<&'de Entry>, ctx: &'c Collector) -> Self {
        MapAccess {
            entries: entries.into_iter(),
            value: None,
            ctx,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(&entry.value);
        deserialize_node(seed, &entry.key, self.ctx).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(node) => deserialize_node(seed, node, self.ctx),
            None => Err(DeError::new(
                "invalid-value",
                "a value without a key".to_string(),
                None,
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumAccess<'de, 'c> {
    key: &'de Node,
    value: Option<&'de Node>,
    ctx: &'c Collector,
}

impl<'de, 'c> de::EnumAccess<'de> for EnumAccess<'de, 'c> {
    type Error = DeError;
    type Variant = VariantAccess<'de, 'c>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let name = deserialize_node(seed, self.key, self.ctx)?;
        Ok((
            name,
            VariantAccess {
                key: self.key,
                value: self.value,
                ctx: self.ctx,
            },
        ))
    }
}

struct VariantAccess<'de, 'c> {
    key: &'de Node,
    value: Option<&'de Node>,
    ctx: &'c Collector,
}

impl<'de> VariantAccess<'de, '_> {
    fn settings(&self) -> Result<&'de Node, DeError> {
        self.value.ok_or_else(|| {
            let name = self.key.as_str().unwrap_or_default();
            DeError::new(
                "missing-settings",
                format!("`{name}` needs settings"),
                Some(format!("write `{name}:` followed by its keys")),
            )
        })
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'de, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(node) if matches!(node.value, Value::Scalar(_)) && node.as_str() == Some("") => {
                Ok(())
            }
            Some(_) => {
                let name = self.key.as_str().unwrap_or_default();
                Err(DeError::new(
                    "unexpected-settings",
                    format!("`{name}` takes no settings"),
                    Some(format!("write just `{name}`")),
                ))
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let node = self.settings()?;
        deserialize_node(seed, node, self.ctx)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        let node = self.settings()?;
        de::Deserializer::deserialize_seq(
            NodeDeserializer {
                node,
                ctx: self.ctx,
            },
            visitor,
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.settings()?;
        de::Deserializer::deserialize_struct(
            NodeDeserializer {
                node,
                ctx: self.ctx,
            },
            "",
            fields,
            visitor,
        )
    }
}

/// Collections that keep their good items when some items are broken. Only for the model read
/// by [`from_node`]: a dropped item's problems are already in the collector, so the file is
/// reported invalid all the same.
pub mod lenient {
    use std::fmt;
    use std::marker::PhantomData;

    use indexmap::IndexMap;
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                loop {
                    match seq.next_element::<T>() {
                        Ok(Some(item)) => out.push(item),
                        Ok(None) => return Ok(out),
                        // Recorded already; the access has moved past the broken item.
                        Err(_) => continue,
                    }
                }
            }
        }
        // A value that is not a list at all was recorded where it stands: read it as empty.
        Ok(d.deserialize_seq(V(PhantomData)).unwrap_or_default())
    }

    pub fn map<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<IndexMap<String, T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = IndexMap<String, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = IndexMap::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<String>()? {
                    if let Ok(value) = map.next_value::<T>() {
                        out.insert(key, value);
                    }
                }
                Ok(out)
            }
        }
        Ok(d.deserialize_map(V(PhantomData)).unwrap_or_default())
    }

    /// An optional value that, when broken, is left out (with `#[serde(default)]`): one bad
    /// `schedule` must not hide the problems in the job's steps.
    pub fn opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(Option::<T>::deserialize(d).unwrap_or(None))
    }

    /// [`map`] for an optional mapping (with `#[serde(default)]`).
    pub fn map_opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<IndexMap<String, T>>, D::Error> {
        map(d).map(Some)
    }
}

/// Lets a `Deserialize` impl read a plain string field and then check it: `String` -> `T`.
pub fn parse_str<'de, D, T, F>(d: D, parse: F) -> Result<T, D::Error>
where
    D: de::Deserializer<'de>,
    F: FnOnce(String) -> Result<T, D::Error>,
{
    let text = <String as de::Deserialize>::deserialize(d)?;
    parse(text)
}
