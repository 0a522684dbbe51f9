//! Type conversions of field values: decimal money with a scale, integers, numbers, booleans as
//! `"0"`/`"1"` or `true`/`false`, dates and date-times with formats, and string clean-ups.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use crate::config::model::{Conversion, Transform};
use crate::record::normalize::fold_accent;

/// A conversion compiled from a field's `as`, `scale`, `format` and `input_format`.
#[derive(Debug, Clone)]
pub enum Converter {
    String,
    Integer,
    /// Rounded half away from zero to `scale` digits; written as a JSON number, or as text with
    /// exactly `scale` digits when `as_text`.
    Decimal {
        scale: Option<u32>,
        as_text: bool,
    },
    Number,
    Boolean {
        as_digits: bool,
    },
    Date {
        input: Option<String>,
        output: String,
    },
    DateTime {
        input: Option<String>,
        output: String,
    },
}

impl Converter {
    pub fn new(
        conversion: Conversion,
        scale: Option<u32>,
        format: Option<&str>,
        input: Option<&str>,
    ) -> Result<Self, String> {
        let input = input.map(str::to_string);
        Ok(match conversion {
            Conversion::String => Converter::String,
            Conversion::Integer => Converter::Integer,
            Conversion::Number => Converter::Number,
            Conversion::Decimal => Converter::Decimal {
                scale,
                as_text: match format {
                    None | Some("number") => false,
                    Some("string") => true,
                    Some(other) => {
                        return Err(format!(
                            "`format: {other}` for a decimal: use `number` or `string`"
                        ));
                    }
                },
            },
            Conversion::Boolean => Converter::Boolean {
                as_digits: match format {
                    None | Some("true/false") => false,
                    Some("0/1") => true,
                    Some(other) => {
                        return Err(format!(
                            "`format: {other}` for a boolean: use `0/1` or `true/false`"
                        ));
                    }
                },
            },
            Conversion::Date => Converter::Date {
                input,
                output: format.unwrap_or("%Y-%m-%d").to_string(),
            },
            Conversion::Datetime => Converter::DateTime {
                input,
                output: format.unwrap_or("%Y-%m-%dT%H:%M:%S").to_string(),
            },
        })
    }

    pub fn apply(&self, value: &Value) -> Result<Value, String> {
        match self {
            Converter::String => Ok(Value::String(match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            Converter::Integer => integer(value),
            Converter::Number => decimal(value).and_then(|d| {
                d.to_string()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| not_a("number", value))
            }),
            Converter::Decimal { scale, as_text } => {
                let mut d = decimal(value)?;
                if let Some(scale) = scale {
                    d = d.round_dp_with_strategy(*scale, RoundingStrategy::MidpointAwayFromZero);
                    if *as_text {
                        d.rescale(*scale);
                    }
                }
                if *as_text {
                    return Ok(Value::String(d.to_string()));
                }
                let text = d.normalize().to_string();
                serde_json::from_str::<serde_json::Number>(&text)
                    .map(Value::Number)
                    .map_err(|_| not_a("decimal", value))
            }
            Converter::Boolean { as_digits } => {
                let b = boolean(value)?;
                Ok(if *as_digits {
                    Value::String(if b { "1" } else { "0" }.to_string())
                } else {
                    Value::Bool(b)
                })
            }
            Converter::Date { input, output } => {
                let text = text(value, "date")?;
                let date = match input {
                    Some(f) => NaiveDateTime::parse_from_str(text, f)
                        .map(|dt| dt.date())
                        .or_else(|_| NaiveDate::parse_from_str(text, f)),
                    None => NaiveDate::from_str(text.get(..10).unwrap_or(text)),
                }
                .map_err(|_| format!("`{text}` is not a date{}", expected_format(input)))?;
                Ok(Value::String(date.format(output).to_string()))
            }
            Converter::DateTime { input, output } => {
                let text = text(value, "date-time")?;
                let parsed = match input {
                    Some(f) => NaiveDateTime::parse_from_str(text, f),
                    None => NaiveDateTime::from_str(&text.replace(' ', "T")),
                }
                .map_err(|_| format!("`{text}` is not a date-time{}", expected_format(input)))?;
                Ok(Value::String(parsed.format(output).to_string()))
            }
        }
    }
}

fn expected_format(input: &Option<String>) -> String {
    match input {
        Some(f) => format!(" in the format `{f}`"),
        None => " (ISO 8601 expected; set `input_format`)".to_string(),
    }
}

fn not_a(what: &str, value: &Value) -> String {
    format!(
        "`{}` is not {} {what}",
        short(value),
        if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        }
    )
}

/// A value as shown in a reason: short, never a whole document.
pub fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .map(str::trim)
        .ok_or_else(|| not_a(what, value))
}

fn decimal(value: &Value) -> Result<Decimal, String> {
    let parsed = match value {
        Value::Number(n) => {
            Decimal::from_str(&n.to_string()).or_else(|_| Decimal::from_scientific(&n.to_string()))
        }
        // French exports write decimals with a comma.
        Value::String(s) => {
            let t = s.trim();
            Decimal::from_str(t).or_else(|_| Decimal::from_str(&t.replace(',', ".")))
        }
        _ => return Err(not_a("decimal", value)),
    };
    parsed.map_err(|_| not_a("decimal", value))
}

fn integer(value: &Value) -> Result<Value, String> {
    let d = decimal(value).map_err(|_| not_a("integer", value))?;
    if d.fract() != Decimal::ZERO {
        return Err(not_a("integer", value));
    }
    i64::try_from(d)
        .map(Value::from)
        .map_err(|_| not_a("integer", value))
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "oui" | "o" | "da" | "sim" => Ok(true),
            "0" | "false" | "no" | "n" | "non" | "nu" | "nao" | "não" | "" => Ok(false),
            _ => Err(not_a("boolean", value)),
        },
        _ => Err(not_a("boolean", value)),
    }
}

/// String clean-ups; non-strings pass unchanged.
pub fn transform(value: Value, transforms: &[Transform]) -> Value {
    let Value::String(mut s) = value else {
        return value;
    };
    for t in transforms {
        s = match t {
            Transform::Trim => s.trim().to_string(),
            Transform::Upper => s.to_uppercase(),
            Transform::Lower => s.to_lowercase(),
            Transform::Slug => slug(&s),
            Transform::UrlSegment(n) => match url_segment(&s, *n) {
                Some(segment) => segment.to_string(),
                None => return Value::Null,
            },
        };
    }
    Value::String(s)
}

/// The `n`th segment of a link's path (1 the first, -1 the last).
fn url_segment(link: &str, n: i64) -> Option<&str> {
    let after_scheme = link.split_once("://").map_or(link, |(_, rest)| rest);
    let path = after_scheme.split(['?', '#']).next()?;
    let path = if link.contains("://") {
        path.split_once('/').map_or("", |(_, p)| p)
    } else {
        path.trim_start_matches('/')
    };
    let segments: Vec<&str> = path.split('/').collect();
    let index = match n {
        0 => return None,
        n if n > 0 => usize::try_from(n - 1).ok()?,
        n => segments
            .len()
            .checked_sub(usize::try_from(n.unsigned_abs()).ok()?)?,
    };
    segments.get(index).copied()
}

/// `Café Noir 250g` -> `cafe-noir-250g`: ASCII letters and digits, accents folded, runs of
/// anything else turned into one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dash = false;
    for c in text.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_count_from_either_end() {
        let link = "https://erp.example/api/orders/7/?format=json";
        assert_eq!(url_segment(link, -2), Some("7"));
        assert_eq!(url_segment(link, -1), Some(""));
        assert_eq!(url_segment(link, 1), Some("api"));
        assert_eq!(url_segment("/api/products/12", -1), Some("12"));
        assert_eq!(url_segment(link, -9), None);
        assert_eq!(url_segment(link, 0), None);
    }
}
