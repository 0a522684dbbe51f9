//! JSONPaths compiled once: a plain path (`$.a.b[0]`, `$['x y']`) becomes direct field access;
//! anything else (wildcards, filters, descendants, slices) runs through the RFC 9535 engine on
//! the query parsed at compile time.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use serde_json::Value;

use crate::config::model::JsonPath;

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
    pub fn compile(path: &JsonPath) -> Result<CompiledPath, String> {
        let query =
            jsonpath_rust::parser::parse_json_path(path.as_str()).map_err(|e| e.to_string())?;
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

    /// The first value the path selects.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        match self {
            CompiledPath::Direct(steps) => {
                let mut at = value;
                for step in steps {
                    at = match (step, at) {
                        (Step::Key(k), Value::Object(map)) => map.get(k)?,
                        (Step::Index(i), Value::Array(items)) => {
                            let index = if *i < 0 {
                                items.len().checked_sub(i.unsigned_abs() as usize)?
                            } else {
                                *i as usize
                            };
                            items.get(index)?
                        }
                        _ => return None,
                    };
                }
                Some(at)
            }
            CompiledPath::Query(q) => self::query(q, value).into_iter().next(),
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

fn query<'a>(q: &JpQuery, value: &'a Value) -> Vec<&'a Value> {
    jsonpath_rust::query::js_path_process(q, value)
        .map(|refs| refs.into_iter().map(|r| r.val()).collect())
        .unwrap_or_default()
}
