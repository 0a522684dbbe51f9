//! A webhook job's source: the notifications in its inbox, oldest first, read as records.
//! They leave the inbox only with the changes [`WebhookSourcePlan::open`] returns, which the
//! runtime applies in the batch that commits the run: a process killed before reads them
//! again, and the ID map and fingerprints keep the target from receiving a record twice.

use std::sync::Arc;

use serde_json::Value;

use super::{WebhookEndpoint, inbox};
use crate::connectors::{ConnectorError, Item, Source};
use crate::record::path::CompiledPath;
use crate::record::text_of;
use crate::state::{Change, Notification, StateError, StateStore};

#[derive(Debug)]
pub struct WebhookSourcePlan {
    pub endpoint: Arc<WebhookEndpoint>,
    /// Where the records are in a notification; the notification itself when `None`.
    pub records: Option<CompiledPath>,
}

/// What a run of a webhook job reads, and what its commit must apply.
pub struct Opened {
    pub source: Box<dyn Source>,
    /// Takes what was read out of the inbox.
    pub processed: Vec<Change>,
    /// How many notifications were read.
    pub notifications: usize,
}

impl WebhookSourcePlan {
    /// Takes up to [`inbox::PER_RUN`] notifications of the inbox (leaving them there until
    /// `processed` is applied); forgets old deliveries on the way.
    pub fn open(&self, state: &dyn StateStore, now: i64) -> Result<Opened, StateError> {
        let forgotten = inbox::forget_old(&self.endpoint, state, now)?;
        if forgotten > 0 {
            tracing::debug!(job = %self.endpoint.job, forgotten, "old webhook deliveries forgotten");
        }
        let taken = inbox::pending(state, &self.endpoint.job, inbox::PER_RUN)?;
        let processed = inbox::processed(&self.endpoint.job, taken.iter().map(|(id, _)| *id));
        Ok(Opened {
            notifications: taken.len(),
            processed,
            source: Box::new(Notifications {
                taken,
                records: self.records.clone(),
            }),
        })
    }
}

struct Notifications {
    taken: Vec<(u64, Notification)>,
    records: Option<CompiledPath>,
}

impl Source for Notifications {
    fn read(&mut self, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), ConnectorError> {
        for (_, notification) in std::mem::take(&mut self.taken) {
            for record in records(self.records.as_ref(), notification.body) {
                if !emit(Item::Record(record)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The records of a notification: at `path`, a list's items, an object keyed by id's
/// values, or the one value found; without a path, the notification (a list: its items).
pub fn records(path: Option<&CompiledPath>, body: Value) -> Vec<Value> {
    let Some(path) = path else {
        return match body {
            Value::Array(items) => items,
            other => vec![other],
        };
    };
    path.select(&body)
        .into_iter()
        .flat_map(|found| match found {
            Value::Array(items) => items.clone(),
            Value::Object(map) if !map.is_empty() && map.values().all(Value::is_object) => {
                map.values().cloned().collect()
            }
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        })
        .collect()
}

/// The keys a notification names for a `then:` job's pull: every value `key` finds in each
/// of its records, as text, each once, in order. Empty when it names none.
pub fn keys(records_path: Option<&CompiledPath>, key: &CompiledPath, body: &Value) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for record in records(records_path, body.clone()) {
        for value in key.select(&record) {
            let texts = match value {
                Value::Array(items) => items.iter().filter_map(text_of).collect(),
                other => text_of(other).into_iter().collect::<Vec<_>>(),
            };
            for text in texts {
                if !found.contains(&text) {
                    found.push(text);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> CompiledPath {
        CompiledPath::compile(text).unwrap()
    }

    #[test]
    fn a_notification_is_one_record_unless_a_path_says_where_they_are() {
        assert_eq!(records(None, json!({"id": 1})).len(), 1);
        assert_eq!(records(None, json!([{"id": 1}, {"id": 2}])).len(), 2);
        let orders = path("$.orders");
        assert_eq!(
            records(
                Some(&orders),
                json!({"orders": {"7": {"id": 7}, "8": {"id": 8}}})
            )
            .len(),
            2,
            "keyed by id"
        );
        assert_eq!(
            records(Some(&orders), json!({"orders": [{"id": 7}]})).len(),
            1
        );
        assert!(records(Some(&orders), json!({"other": 1})).is_empty());
    }

    #[test]
    fn keys_are_every_value_found_as_text_once() {
        let id = path("$.id");
        assert_eq!(keys(None, &id, &json!({"id": 727})), ["727"]);
        assert!(keys(None, &id, &json!({"name": "x"})).is_empty());
        let ids = path("$.items[*].order_id");
        let body = json!({"items": [{"order_id": "A1"}, {"order_id": "A2"}, {"order_id": "A1"}]});
        assert_eq!(keys(None, &ids, &body), ["A1", "A2"]);
        let orders = path("$.orders");
        let body = json!({"orders": [{"id": 1}, {"id": 2}]});
        assert_eq!(keys(Some(&orders), &id, &body), ["1", "2"]);
    }
}
