//! `filter`: keeps the records for which a rhai expression is true. The common shapes
//! (`rec.status == "active"`, `rec.stock > 0 && rec.dormant == 0`) are compiled to native
//! comparisons with rhai's semantics; everything else runs in rhai.

use std::cmp::Ordering;
use std::sync::Arc;

use rhai::AST;
use serde_json::Value;

use super::Rejection;
use super::script::Scripts;
use crate::record::Record;

#[derive(Debug)]
pub struct FilterStep {
    pub name: String,
    test: Test,
}

#[derive(Debug)]
enum Test {
    /// Every comparison must hold.
    Native(Vec<Comparison>),
    Rhai(Arc<Scripts>, AST),
}

#[derive(Debug)]
struct Comparison {
    field: String,
    op: Op,
    literal: Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl FilterStep {
    pub fn new(name: String, source: &str, scripts: &Arc<Scripts>) -> Result<FilterStep, String> {
        let test = match native(source) {
            Some(comparisons) => Test::Native(comparisons),
            None => Test::Rhai(scripts.clone(), scripts.compile_expression(source)?),
        };
        Ok(FilterStep { name, test })
    }

    /// The fields a native filter reads; `None` when rhai evaluates it (it sees the whole record).
    pub fn native_fields(&self) -> Option<Vec<&str>> {
        match &self.test {
            Test::Native(comparisons) => {
                Some(comparisons.iter().map(|c| c.field.as_str()).collect())
            }
            Test::Rhai(..) => None,
        }
    }

    pub fn apply(&self, record: &Record) -> Result<bool, Rejection> {
        match &self.test {
            Test::Native(comparisons) => Ok(comparisons.iter().all(|c| c.holds(record))),
            Test::Rhai(scripts, ast) => match scripts.eval(ast, record) {
                Ok(value) => value.as_bool().map_err(|t| {
                    Rejection::new(
                        &self.name,
                        format!("the filter gave {t}, not true or false"),
                    )
                }),
                Err(reason) => Err(Rejection::new(&self.name, reason)),
            },
        }
    }
}

impl Comparison {
    /// rhai's semantics: values of different types are never equal and never ordered (integers
    /// and decimals compare as numbers); a missing field is `()`.
    fn holds(&self, record: &Record) -> bool {
        let value = record.get(&self.field).unwrap_or(&Value::Null);
        let ordering = match (value, &self.literal) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        };
        match (self.op, ordering) {
            (Op::Eq, o) => o == Some(Ordering::Equal),
            (Op::Ne, o) => o != Some(Ordering::Equal),
            (_, None) => false,
            (Op::Lt, Some(o)) => o == Ordering::Less,
            (Op::Le, Some(o)) => o != Ordering::Greater,
            (Op::Gt, Some(o)) => o == Ordering::Greater,
            (Op::Ge, Some(o)) => o != Ordering::Less,
        }
    }
}

/// `rec.NAME OP LITERAL` joined by `&&`, or `None` for anything else.
fn native(source: &str) -> Option<Vec<Comparison>> {
    source
        .split("&&")
        .map(|part| comparison(part.trim()))
        .collect()
}

fn comparison(text: &str) -> Option<Comparison> {
    let rest = text.strip_prefix("rec.")?;
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (field, rest) = rest.split_at(name_len);
    if field.is_empty() || field.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim_start();
    let (op, rest) = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(token, op)| rest.strip_prefix(token).map(|r| (op, r.trim())))?;
    let literal = literal(op, rest)?;
    Some(Comparison {
        field: field.to_string(),
        op,
        literal,
    })
}

fn literal(op: Op, text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // Escapes and interpolation are rhai's business.
        return (!inner.contains(['\\', '"', '`', '$'])).then(|| Value::String(inner.to_string()));
    }
    match text {
        "true" | "false" if matches!(op, Op::Eq | Op::Ne) => {
            return Some(Value::Bool(text == "true"));
        }
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain_number = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    if plain_number {
        return serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .map(Value::Number);
    }
    None
}
