//! JSONPaths compiled once: a plain path (`$.a.b[0]`, `$['x y']`) becomes direct field access;
//! anything else (wildcards, filters, descendants, slices) runs through the RFC 9535 engine on
//! the query parsed at compile time.

use std::borrow::Cow;

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum CompiledPath {
    /// Names and indexes only: at most one value, found without allocating.
    Direct(Vec<Step>),
    Query(JpQuery),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(i64),
}

impl CompiledPath {
    /// Compiles a path the loader already checked.
    pub fn compile(path: impl AsRef<str>) -> Result<CompiledPath, String> {
        let query =
            jsonpath_rust::parser::parse_json_path(path.as_ref()).map_err(|e| e.to_string())?;
        let direct: Option<Vec<Step>> = query
            .segments
            .iter()
            .map(|s| match s {
                Segment::Selector(Selector::Name(n)) => Some(Step::Key(n.clone())),
                Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
                _ => None,
            })
            .collect();
        Ok(match direct {
            Some(steps) => CompiledPath::Direct(steps),
            None => CompiledPath::Query(query),
        })
    }

    /// A path of names only (`$.a.b`): the field names, for writing into a record.
    pub fn field_names(&self) -> Option<Vec<&str>> {
        match self {
            CompiledPath::Direct(steps) => steps
                .iter()
                .map(|s| match s {
                    Step::Key(k) => Some(k.as_str()),
                    Step::Index(_) => None,
                })
                .collect(),
            CompiledPath::Query(_) => None,
        }
    }

    /// The field names the path starts with, up to its first index, wildcard or filter
    /// (`$.result.items[*].id` -> `result`, `items`): the part that must be there for the
    /// path to find anything.
    pub fn leading_names(&self) -> Vec<&str> {
        match self {
            CompiledPath::Direct(steps) => steps
                .iter()
                .map_while(|s| match s {
                    Step::Key(k) => Some(k.as_str()),
                    Step::Index(_) => None,
                })
                .collect(),
            CompiledPath::Query(q) => q
                .segments
                .iter()
                .map_while(|s| match s {
                    Segment::Selector(Selector::Name(n)) => Some(n.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The top-level field a plain path starts with (`$.a.b` -> `a`); `None` for the root or a
    /// query, which may read anything.
    pub fn first_field(&self) -> Option<&str> {
        match self {
            CompiledPath::Direct(steps) => match steps.first() {
                Some(Step::Key(k)) => Some(k),
                _ => None,
            },
            CompiledPath::Query(_) => None,
        }
    }

    /// The value a singular path names. The places that take one value only hold singular
    /// paths (`SingularPath` refuses the others at validation); a query elsewhere is read
    /// with [`CompiledPath::value`], and here gives its match only when it has exactly one.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        match self {
            CompiledPath::Direct(steps) => {
                let mut at = value;
                for step in steps {
                    at = match (step, at) {
                        (Step::Key(k), Value::Object(map)) => map.get(k)?,
                        (Step::Index(i), Value::Array(items)) => {
                            items.get(position(*i, items.len())?)?
                        }
                        _ => return None,
                    };
                }
                Some(at)
            }
            CompiledPath::Query(q) => match self::query(q, value).as_slice() {
                [one] => Some(*one),
                _ => None,
            },
        }
    }

    /// Puts `new` where a singular path names, making the objects and lists on the way
    /// (a list is filled with nulls up to the index). `false` when the path is a query, or
    /// a value on the way is neither an object nor a list of the kind the step needs.
    pub fn set(&self, value: &mut Value, new: Value) -> bool {
        let CompiledPath::Direct(steps) = self else {
            return false;
        };
        let mut at = value;
        for step in steps {
            if at.is_null() {
                *at = match step {
                    Step::Key(_) => Value::Object(serde_json::Map::new()),
                    Step::Index(_) => Value::Array(Vec::new()),
                };
            }
            at = match (step, at) {
                (Step::Key(k), Value::Object(map)) => map.entry(k.clone()).or_insert(Value::Null),
                (Step::Index(i), Value::Array(items)) if *i >= 0 => {
                    let index = *i as usize;
                    if items.len() <= index {
                        items.resize(index + 1, Value::Null);
                    }
                    &mut items[index]
                }
                _ => return false,
            };
        }
        *at = new;
        true
    }

    /// What the path reads as a field's value: the value a singular path names, and for a
    /// query that may select several (`$.lines[*].sku`) the list of every match, in document
    /// order, even when it finds one or none: the value's type does not depend on the data.
    pub fn value<'a>(&self, value: &'a Value) -> Option<Cow<'a, Value>> {
        match self {
            CompiledPath::Direct(_) => self.get(value).map(Cow::Borrowed),
            CompiledPath::Query(q) => Some(Cow::Owned(Value::Array(
                query(q, value).into_iter().cloned().collect(),
            ))),
        }
    }

    /// Every value the path selects, in document order.
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        match self {
            CompiledPath::Direct(_) => self.get(value).into_iter().collect(),
            CompiledPath::Query(q) => query(q, value),
        }
    }
}

/// Where index `i` is in a list of `len` items (negative: from the end).
fn position(i: i64, len: usize) -> Option<usize> {
    if i < 0 {
        len.checked_sub(i.unsigned_abs() as usize)
    } else {
        Some(i as usize)
    }
}

fn query<'a>(q: &JpQuery, value: &'a Value) -> Vec<&'a Value> {
    jsonpath_rust::query::js_path_process(q, value)
        .map(|refs| refs.into_iter().map(|r| r.val()).collect())
        .unwrap_or_default()
}
