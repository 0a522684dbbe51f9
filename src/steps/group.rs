//! `group`: gathers consecutive records that share a key into one document (lines into an
//! order): the first record's fields, plus every record of the group under `into`.

use serde_json::Value;

use crate::record::Record;
use crate::record::path::CompiledPath;

#[derive(Debug)]
pub struct GroupStep {
    pub name: String,
    pub by: CompiledPath,
    pub into: String,
}

/// The group being gathered during a run.
#[derive(Debug)]
pub struct Gathering {
    key: Value,
    records: Vec<Record>,
}

impl GroupStep {
    /// Adds a record; returns the previous group's document when this record starts a new one.
    pub fn push(&self, state: &mut Option<Gathering>, record: Record) -> Option<Record> {
        let key = self.by.get(&record).cloned().unwrap_or(Value::Null);
        match state {
            Some(g) if g.key == key => {
                g.records.push(record);
                None
            }
            _ => {
                let previous = state.replace(Gathering {
                    key,
                    records: vec![record],
                });
                previous.map(|g| self.document(g))
            }
        }
    }

    /// The document of a finished group.
    pub fn document(&self, gathering: Gathering) -> Record {
        let mut head = match gathering.records.first() {
            Some(Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        head.insert(self.into.clone(), Value::Array(gathering.records));
        Value::Object(head)
    }
}
