//! Correspondence tables: one definition each, no key twice, and tables read backwards only when
//! every target value leads back to one source value.

use indexmap::IndexMap;

use super::checker::Checker;
use crate::config::model::Table;
use crate::diagnostics::Diagnostic;

/// The text a table value is matched and written as.
pub fn value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

pub fn check(c: &mut Checker) {
    for (name, table) in &c.pipeline.tables {
        let path = format!("tables.{name}");
        match (&table.map, &table.inverse_of) {
            (Some(_), Some(_)) | (None, None) => {
                let d = Diagnostic::error("table-kind", format!("the table `{name}` needs exactly one of `map` and `inverse_of`"))
                    .at_opt(c.key_at(&path))
                    .hint("`map` lists source value -> target value; `inverse_of` reads another table backwards");
                c.push(d);
            }
            (Some(map), None) => check_map(c, &path, table, map),
            (None, Some(base)) => check_inverse(c, name, table, base),
        }
        if table.inverse_of.is_none() && !table.prefer.is_empty() {
            let d = Diagnostic::error(
                "table-prefer",
                "`prefer` only applies to a table with `inverse_of`",
            )
            .at_opt(c.key_at(&format!("{path}.prefer")));
            c.push(d);
        }
    }
}

fn check_map(
    c: &mut Checker,
    path: &str,
    table: &Table,
    map: &IndexMap<String, serde_json::Value>,
) {
    let mut seen: IndexMap<String, &str> = IndexMap::new();
    for (key, value) in map {
        let key_path = format!("{path}.map.{key}");
        if value_text(value).is_none() {
            let d = Diagnostic::error(
                "table-value",
                format!("the value for `{key}` is a list or mapping"),
            )
            .at_opt(c.at(&key_path))
            .hint("a table maps each value to one text, number or boolean");
            c.push(d);
        }
        if table.ignore_case {
            let folded = key.to_lowercase();
            if let Some(first) = seen.get(&folded) {
                let mut d = Diagnostic::error(
                    "duplicate-key",
                    format!("`{key}` and `{first}` are the same key in a table that ignores case"),
                )
                .at_opt(c.key_at(&key_path))
                .label("same key again")
                .hint("keep one of them, or remove `ignore_case: true`");
                if let Some(span) = c.key_at(&format!("{path}.map.{first}")) {
                    d = d.related(span, "first listed here");
                }
                c.push(d);
            } else {
                seen.insert(folded, key);
            }
        }
    }
}

fn check_inverse(c: &mut Checker, name: &str, table: &Table, base_name: &str) {
    let path = format!("tables.{name}");
    let Some(base) = c.pipeline.tables.get(base_name) else {
        return; // unknown table: reported with the references
    };
    let Some(base_map) = &base.map else {
        let d = Diagnostic::error(
            "table-inverse",
            format!(
                "`{base_name}` is itself read backwards; `inverse_of` needs a table with `map`"
            ),
        )
        .at_opt(c.at(&format!("{path}.inverse_of")));
        c.push(d);
        return;
    };
    // target value -> the source keys that lead to it
    let mut backwards: IndexMap<String, Vec<&str>> = IndexMap::new();
    for (key, value) in base_map {
        if let Some(text) = value_text(value) {
            backwards.entry(text).or_default().push(key);
        }
    }
    for (value, keys) in &backwards {
        if keys.len() < 2 {
            continue;
        }
        match table.prefer.get(value) {
            Some(preferred) if keys.contains(&preferred.as_str()) => {}
            Some(preferred) => {
                let d = Diagnostic::error(
                    "table-prefer",
                    format!("`{preferred}` does not map to `{value}` in `{base_name}`"),
                )
                .at_opt(c.at(&format!("{path}.prefer.{value}")))
                .hint(format!(
                    "choose one of {}",
                    crate::diagnostics::one_of(keys.iter().copied())
                ));
                c.push(d);
            }
            None => {
                let listed = keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut d = Diagnostic::error(
                    "table-ambiguous",
                    format!(
                        "`{name}` reads `{base_name}` backwards, but `{value}` comes from {listed}"
                    ),
                )
                .at_opt(c.at(&format!("{path}.inverse_of")))
                .label(format!("`{value}` leads back to {} values", keys.len()))
                .hint(format!(
                    "choose one with `prefer: {{ {value}: \"{}\" }}`",
                    keys[0]
                ));
                for key in keys {
                    if let Some(span) = c.key_at(&format!("tables.{base_name}.map.{key}")) {
                        d = d.related(span, format!("`{key}` -> `{value}`"));
                    }
                }
                c.push(d);
            }
        }
    }
    for value in table.prefer.keys() {
        if !backwards.contains_key(value) {
            let d = Diagnostic::error(
                "table-prefer",
                format!("`{value}` is not a value of `{base_name}`"),
            )
            .at_opt(c.key_at(&format!("{path}.prefer.{value}")))
            .hint("`prefer` lists a target value and the source value to read it back as");
            c.push(d);
        }
    }
}
