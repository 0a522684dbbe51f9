//! Correspondence tables as hash maps, inverse tables included, built once.

use std::collections::HashMap;

use serde_json::Value;

use crate::config::model::{Table, Unmapped};

#[derive(Debug, Clone)]
pub struct TablePlan {
    pub name: String,
    entries: HashMap<String, Value>,
    pub unmapped: Unmapped,
    ignore_case: bool,
}

/// What a table says about one value.
#[derive(Debug, PartialEq)]
pub enum Translation {
    Mapped(Value),
    /// Not listed and the table keeps such values: the value passes unchanged.
    Kept,
    Unmapped,
}

impl TablePlan {
    /// Builds the table; an inverse table reads `base` backwards, with `prefer` settling values
    /// that several keys lead to (the loader checked there is no other ambiguity).
    pub fn build(name: &str, table: &Table, base: Option<&Table>) -> TablePlan {
        let ignore_case = table.ignore_case;
        let mut entries = HashMap::new();
        let fold = |k: &str| {
            if ignore_case {
                k.to_lowercase()
            } else {
                k.to_string()
            }
        };
        if let Some(map) = &table.map {
            for (key, value) in map {
                entries.entry(fold(key)).or_insert_with(|| value.clone());
            }
        } else if let Some(map) = base.and_then(|b| b.map.as_ref()) {
            for (key, value) in map {
                let Some(text) = crate::record::text_of(value) else {
                    continue;
                };
                let preferred = table.prefer.get(&text);
                if preferred.is_none_or(|p| p == key) {
                    entries
                        .entry(fold(&text))
                        .or_insert_with(|| Value::String(key.clone()));
                }
            }
        }
        TablePlan {
            name: name.to_string(),
            entries,
            unmapped: table.unmapped.clone(),
            ignore_case,
        }
    }

    pub fn translate(&self, value: &str, unmapped: Option<&Unmapped>) -> Translation {
        let found = if self.ignore_case {
            self.entries.get(&value.to_lowercase())
        } else {
            self.entries.get(value)
        };
        match (found, unmapped.unwrap_or(&self.unmapped)) {
            (Some(v), _) => Translation::Mapped(v.clone()),
            (None, Unmapped::Keep) => Translation::Kept,
            (None, Unmapped::Default(d)) => Translation::Mapped(d.clone()),
            (None, Unmapped::Reject) => Translation::Unmapped,
        }
    }
}
