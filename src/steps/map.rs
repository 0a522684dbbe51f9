//! `map`: builds a new record, output field by output field, from paths, constants, templates
//! or expressions, through a table and a conversion.

use std::sync::Arc;

use rhai::AST;
use serde_json::{Map, Value};

use super::Rejection;
use super::convert::{Converter, short, transform};
use super::script::{Scripts, to_json};
use super::table::{TablePlan, Translation};
use crate::config::model::Transform;
use crate::record::path::CompiledPath;
use crate::record::template::Template;
use crate::record::{Record, text_of};
use crate::state::{Namespace, StateStore};

#[derive(Debug)]
pub struct MapStep {
    pub name: String,
    pub fields: Vec<MappedField>,
}

#[derive(Debug)]
pub struct MappedField {
    pub name: String,
    pub source: ValueSource,
    pub table: Option<Arc<TablePlan>>,
    pub converter: Option<Converter>,
    pub transforms: Vec<Transform>,
    pub default: Option<Value>,
    pub required: bool,
    /// Where the value goes when the field's name is a path of names and indexes
    /// (`associations.categories[0].id`); `None`: a field of that name.
    pub nested: Option<CompiledPath>,
    /// A translated field in this language: the value becomes `[{"id": lang, "value": ...}]`
    /// (PrestaShop's `<name><language id="1">...</language></name>`).
    pub lang: Option<String>,
}

#[derive(Debug)]
pub enum ValueSource {
    Path {
        path: CompiledPath,
        text: String,
    },
    Const(Value),
    Expr(Arc<Scripts>, AST),
    Template(Template),
    /// Another entity's target id, from the ID map.
    Ref(Reference),
}

/// `{ ref: category, key: $.family }`, or backwards `{ ref: product, from_target_id: $.id }`.
#[derive(Debug)]
pub struct Reference {
    pub ns: Namespace,
    /// Where the value looked up is.
    pub key: CompiledPath,
    pub key_text: String,
    /// The value is a target id, and the reference its source key.
    pub backwards: bool,
}

impl Reference {
    /// The referenced record's target id (or source key, backwards). A missing value is the
    /// record's fault; one the ID map does not hold yet may be a matter of time (see the
    /// job's `missing_refs`).
    fn resolve(&self, record: &Record, state: Option<&dyn StateStore>) -> Result<Value, Rejection> {
        let value =
            self.key.get(record).and_then(text_of).ok_or_else(|| {
                Rejection::new("", format!("missing value at `{}`", self.key_text))
            })?;
        let state = state.ok_or_else(|| {
            Rejection::new(
                "",
                "references need the state, which this run does not have",
            )
        })?;
        let (entity, connection) = (&self.ns.entity, &self.ns.connection);
        if self.backwards {
            return match state.key_for_id(&self.ns, &value) {
                Ok(Some(key)) => Ok(Value::String(key)),
                Ok(None) => Err(Rejection::missing_ref(format!(
                    "the {entity} `{value}` on `{connection}` is not one syncline wrote or linked (no source key for it in the ID map)"
                ))),
                Err(e) => Err(Rejection::new("", e.to_string())),
            };
        }
        let link = state
            .link(&self.ns, &value)
            .map_err(|e| Rejection::new("", e.to_string()))?;
        match link.and_then(|l| l.target_id) {
            Some(id) => Ok(Value::String(id)),
            None => Err(Rejection::missing_ref(format!(
                "the {entity} `{value}` has no id on `{connection}` yet (it was not written by the job that sends `{entity}`, or was rejected)"
            ))),
        }
    }
}

impl MapStep {
    pub fn apply(
        &self,
        record: &Record,
        state: Option<&dyn StateStore>,
    ) -> Result<Record, Rejection> {
        let mut out = Map::with_capacity(self.fields.len());
        for field in &self.fields {
            let step = || format!("{}.{}", self.name, field.name);
            let value = match &field.source {
                ValueSource::Ref(reference) => {
                    let id = reference.resolve(record, state).map_err(|mut r| {
                        r.step = step();
                        r
                    })?;
                    // The id as the target wants it, e.g. `as: integer`.
                    field
                        .finish(Some(id))
                        .map_err(|reason| Rejection::new(step(), reason))?
                }
                _ => field
                    .value(record)
                    .map_err(|reason| Rejection::new(step(), reason))?,
            };
            match &field.nested {
                Some(place) => {
                    let mut nested = Value::Object(std::mem::take(&mut out));
                    place.set(&mut nested, value);
                    if let Value::Object(fields) = nested {
                        out = fields;
                    }
                }
                None => {
                    out.insert(field.name.clone(), value);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

impl MappedField {
    /// A field that is its source's value as it is: no table, conversion or default.
    pub fn plain(name: &str, source: ValueSource, nested: Option<CompiledPath>) -> MappedField {
        MappedField {
            name: name.to_string(),
            source,
            table: None,
            converter: None,
            transforms: Vec::new(),
            default: None,
            required: false,
            nested,
            lang: None,
        }
    }

    /// The paths this field reads; `None` for an expression, which sees the whole record.
    pub fn reads(&self) -> Option<Vec<&CompiledPath>> {
        match &self.source {
            ValueSource::Path { path, .. } => Some(vec![path]),
            ValueSource::Const(_) => Some(Vec::new()),
            ValueSource::Expr(..) => None,
            ValueSource::Template(t) => Some(t.paths()),
            ValueSource::Ref(r) => Some(vec![&r.key]),
        }
    }

    fn value(&self, record: &Record) -> Result<Value, String> {
        let raw = match &self.source {
            ValueSource::Path { path, .. } => path
                .value(record)
                .filter(|v| !v.is_null())
                .map(std::borrow::Cow::into_owned),
            ValueSource::Const(v) => Some(v.clone()),
            ValueSource::Expr(scripts, ast) => {
                let v = to_json(&scripts.eval(ast, record)?)?;
                (!v.is_null()).then_some(v)
            }
            ValueSource::Template(t) => Some(Value::String(t.render(record)?)),
            // Resolved by `MapStep::apply`, which has the state.
            ValueSource::Ref(_) => None,
        };
        self.finish(raw)
    }

    /// The default, table, conversion and transforms applied to the value found.
    fn finish(&self, raw: Option<Value>) -> Result<Value, String> {
        let Some(mut value) = raw else {
            return match (&self.default, self.required) {
                (Some(d), _) => Ok(d.clone()),
                (None, true) => Err(match &self.source {
                    ValueSource::Path { text, .. } => format!("missing value at `{text}`"),
                    _ => "missing value".to_string(),
                }),
                (None, false) => Ok(Value::Null),
            };
        };
        if let Some(table) = &self.table {
            let text = text_of(&value).ok_or_else(|| {
                format!(
                    "`{}` cannot be looked up in `{}`",
                    short(&value),
                    table.name
                )
            })?;
            match table.translate(&text, None) {
                Translation::Mapped(v) => value = v,
                Translation::Kept => {}
                Translation::Unmapped => {
                    return Err(format!("`{text}` is not in the table `{}`", table.name));
                }
            }
        }
        if let Some(converter) = &self.converter {
            value = converter.apply(&value)?;
        }
        if !self.transforms.is_empty() {
            value = transform(value, &self.transforms);
        }
        if let Some(lang) = &self.lang {
            value = serde_json::json!([{ "id": lang, "value": value }]);
        }
        Ok(value)
    }
}
