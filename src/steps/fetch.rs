//! `fetch`: related data read from an API into a field of the record (an order's lines behind
//! a link, a party's address), or into each item of one of its lists (each line's product).
//! The request itself is the connector's: the step holds a [`Fetcher`] the plan built.

use serde_json::Value;

use super::Rejection;
use crate::config::model::FetchMissing;
use crate::record::Record;
use crate::record::path::CompiledPath;
use crate::record::template::Template;

/// Reads what a record (or an item) asks for.
pub trait Fetcher: Send + Sync + std::fmt::Debug {
    /// The part of the answer kept, `None` when it holds nothing there.
    fn fetch(&self, scope: &Record) -> Result<Option<Value>, FetchFailure>;
}

#[derive(Debug)]
pub enum FetchFailure {
    /// This record's problem (a 4xx answer, a link elsewhere): it is rejected, the rest go on.
    Record(String),
    /// The API cannot be read (unreachable, 5xx after the retries): the job stops, and the
    /// record is read again by the next run.
    Stop(String),
}

#[derive(Debug)]
pub struct FetchStep {
    pub name: String,
    pub fetcher: Box<dyn Fetcher>,
    pub into: String,
    pub each: Option<CompiledPath>,
    pub each_text: Option<String>,
    pub missing: FetchMissing,
    pub reason: Option<Template>,
}

impl FetchStep {
    pub fn apply(&self, mut record: Record) -> Result<Record, (Record, FetchFailure)> {
        let Some(each) = &self.each else {
            return match self.fetch_into(&record) {
                Ok(found) => {
                    set(&mut record, &self.into, found);
                    Ok(record)
                }
                Err(failure) => Err((record, failure)),
            };
        };
        let items = match each.get(&record) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                let text = self.each_text.as_deref().unwrap_or_default();
                let reason = format!("`each: {text}` is not a list");
                return Err((record, FetchFailure::Record(reason)));
            }
        };
        let mut done = Vec::with_capacity(items.len());
        for mut item in items {
            match self.fetch_into(&item) {
                Ok(found) => {
                    set(&mut item, &self.into, found);
                    done.push(item);
                }
                // One item that fails rejects the document: never half of an order.
                Err(failure) => return Err((record, failure)),
            }
        }
        if !done.is_empty() {
            each.set(&mut record, Value::Array(done));
        }
        Ok(record)
    }

    /// What `scope` asks for, or null when `missing: keep`.
    fn fetch_into(&self, scope: &Record) -> Result<Value, FetchFailure> {
        match self.fetcher.fetch(scope)? {
            Some(found) if !found.is_null() => Ok(found),
            _ if self.missing == FetchMissing::Keep => Ok(Value::Null),
            _ => Err(FetchFailure::Record(self.nothing_found(scope))),
        }
    }

    fn nothing_found(&self, scope: &Record) -> String {
        let said = self
            .reason
            .as_ref()
            .and_then(|t| t.render(scope).ok())
            .filter(|t| !t.is_empty());
        said.unwrap_or_else(|| format!("`{}`: the answer holds nothing", self.into))
    }

    pub fn rejection(&self, failure: String) -> Rejection {
        Rejection::new(self.name.clone(), failure)
    }
}

fn set(record: &mut Record, field: &str, value: Value) {
    if let Value::Object(fields) = record {
        fields.insert(field.to_string(), value);
    }
}
