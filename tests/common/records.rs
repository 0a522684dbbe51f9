//! What an API double holds: records by resource and id, and the API's clock for its "last
//! modified" field, each written in the API's own style (ids as numbers or strings, dates as
//! text or milliseconds).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// How an API writes ids and modification times.
pub struct Style {
    pub string_ids: bool,
    /// The field holding the last change, e.g. `date_upd`.
    pub modified: &'static str,
    /// A time from the clock (seconds after 2026-11-01 10:00:00, one a change).
    pub time: fn(u64) -> Value,
}

/// `2026-11-01 10:00:07` (PrestaShop, Gomag, Odoo).
pub fn local_time(clock: u64) -> Value {
    json!(format!(
        "2026-11-01 {:02}:{:02}:{:02}",
        10 + clock / 3600,
        clock / 60 % 60,
        clock % 60
    ))
}

pub struct Records {
    /// resource -> id -> record
    pub resources: BTreeMap<String, BTreeMap<u64, Value>>,
    next_id: u64,
    /// The last id given in each resource, when each numbers its own (`ids_per_resource`).
    next_ids: Option<BTreeMap<String, u64>>,
    clock: u64,
    style: Style,
}

impl Records {
    pub fn new(style: Style) -> Records {
        Records {
            resources: BTreeMap::new(),
            next_id: 0,
            next_ids: None,
            clock: 0,
            style,
        }
    }

    /// Each resource numbers its records from 1, as a table's AUTO_INCREMENT does.
    pub fn ids_per_resource(mut self) -> Records {
        self.next_ids = Some(BTreeMap::new());
        self
    }

    /// The next id in `resource` (one sequence for all resources unless `ids_per_resource`).
    pub fn new_id_in(&mut self, resource: &str) -> (u64, Value) {
        let highest = self
            .resources
            .get(resource)
            .and_then(|records| records.keys().next_back().copied())
            .unwrap_or(0);
        let Some(next_ids) = self.next_ids.as_mut() else {
            return self.new_id();
        };
        let last = next_ids.entry(resource.to_string()).or_insert(0);
        *last = (*last).max(highest) + 1;
        let id = *last;
        (id, self.id_value(id))
    }

    /// The next id, as the API writes it.
    pub fn new_id(&mut self) -> (u64, Value) {
        self.next_id += 1;
        let id = self.next_id;
        (id, self.id_value(id))
    }

    fn id_value(&self, id: u64) -> Value {
        if self.style.string_ids {
            json!(id.to_string())
        } else {
            json!(id)
        }
    }

    /// The clock moves on: the time of a change.
    pub fn tick(&mut self) -> Value {
        self.clock += 1;
        (self.style.time)(self.clock)
    }

    /// A record made by hand in the API's back office, or by a create; returns its id.
    pub fn insert(&mut self, resource: &str, mut record: Value) -> u64 {
        let (id, value) = self.new_id_in(resource);
        record["id"] = value;
        record[self.style.modified] = self.tick();
        self.resources
            .entry(resource.to_string())
            .or_default()
            .insert(id, record);
        id
    }

    /// A change made in the back office (moves the modification time).
    pub fn touch(&mut self, resource: &str, id: u64, field: &str, value: Value) {
        let mut fields = Map::new();
        fields.insert(field.to_string(), value);
        self.set(resource, id, &fields);
    }

    /// `fields` written over the record (all but `id`); false when there is no such record.
    pub fn set(&mut self, resource: &str, id: u64, fields: &Map<String, Value>) -> bool {
        let at = self.tick();
        let modified = self.style.modified;
        let Some(record) = self
            .resources
            .get_mut(resource)
            .and_then(|r| r.get_mut(&id))
        else {
            return false;
        };
        for (name, value) in fields {
            if name != "id" {
                record[name] = value.clone();
            }
        }
        record[modified] = at;
        true
    }

    pub fn get(&self, resource: &str, id: u64) -> Option<Value> {
        self.resources.get(resource)?.get(&id).cloned()
    }

    pub fn all(&self, resource: &str) -> Vec<Value> {
        self.resources
            .get(resource)
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn remove(&mut self, resource: &str, id: u64) -> Option<Value> {
        self.resources.get_mut(resource)?.remove(&id)
    }
}

/// `store.all(..)`, `store.insert(..)`... on a double's store that holds `records`.
#[macro_export]
macro_rules! store_of_records {
    ($store:ty) => {
        impl std::ops::Deref for $store {
            type Target = $crate::common::records::Records;
            fn deref(&self) -> &Self::Target {
                &self.records
            }
        }
        impl std::ops::DerefMut for $store {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.records
            }
        }
    };
}
