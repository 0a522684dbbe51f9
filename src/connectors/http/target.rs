//! Writing records to an HTTP API, one request each; which request (create, update, lookup) is
//! decided by the runtime from the ID map.

use std::sync::Arc;

use serde_json::Value;

use super::resilience::TransportKind;
use super::{HttpClient, RequestPlan, Response, method_name};
use crate::connectors::{KeyedTarget, WriteError};
use crate::paths::CompiledPath;
use crate::steps::{Record, text_of};

#[derive(Debug)]
pub struct HttpTargetPlan {
    pub client: Arc<HttpClient>,
    pub create: Option<RequestPlan>,
    pub update: Option<RequestPlan>,
    /// Where the created record's id is in the create response.
    pub id: Option<CompiledPath>,
    /// Per resolve rule: the lookup request and where the ids are in its response.
    pub lookups: Vec<(RequestPlan, CompiledPath)>,
    pub read_before_update: Option<ReadPlan>,
}

/// Reads a record before it is updated (see `read_before_update`).
#[derive(Debug)]
pub struct ReadPlan {
    pub request: RequestPlan,
    pub record: CompiledPath,
    pub drop: Vec<String>,
}

/// `changes` laid over `base`: objects merged field by field, anything else replaced.
fn overlay(base: &mut Value, changes: &Value) {
    match (base, changes) {
        (Value::Object(base), Value::Object(changes)) => {
            for (name, value) in changes {
                match base.get_mut(name) {
                    Some(existing) => overlay(existing, value),
                    None => {
                        base.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        (base, changes) => *base = changes.clone(),
    }
}

pub struct HttpTarget {
    plan: Arc<HttpTargetPlan>,
}

impl HttpTarget {
    pub fn new(plan: Arc<HttpTargetPlan>) -> Self {
        HttpTarget { plan }
    }

    fn call(
        &self,
        request: &RequestPlan,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
        send_record: bool,
    ) -> Result<Response, WriteError> {
        let call = request
            .render(record, extra, send_record)
            .map_err(WriteError::Rejected)?;
        let response = self.plan.client.send(&call).map_err(|e| match e.kind {
            TransportKind::NotConnected => WriteError::Unavailable(e.to_string()),
            _ => WriteError::MaybeApplied(e.to_string()),
        })?;
        if response.is_success() {
            return Ok(response);
        }
        let reason = format!(
            "{} {}: HTTP {}: {}",
            method_name(call.method),
            call.path,
            response.status,
            response.excerpt()
        );
        // 4xx but 408 and 429 are about this record; the rest about the target. A 429 was
        // refused; after a 408 or a 5xx the write may have been applied.
        Err(match response.status {
            429 => WriteError::Unavailable(reason),
            408 => WriteError::MaybeApplied(reason),
            400..=499 => WriteError::Rejected(reason),
            _ => WriteError::MaybeApplied(reason),
        })
    }

    /// The target's record `target_id`, read with `read_before_update`; `None` without it.
    fn current(&self, target_id: &str, record: &Record) -> Result<Option<Record>, WriteError> {
        let Some(read) = &self.plan.read_before_update else {
            return Ok(None);
        };
        let id = target_id.to_string();
        let response = self
            .call(
                &read.request,
                record,
                &|name| (name == "target_id").then(|| id.clone()),
                false,
            )
            .map_err(WriteError::repeatable)?;
        let body = response.json().map_err(WriteError::Rejected)?;
        match read.record.get(&body) {
            Some(current) => Ok(Some(current.clone())),
            None => Err(WriteError::Rejected(format!(
                "the record read is not where `record` says: {}",
                response.excerpt()
            ))),
        }
    }
}

impl KeyedTarget for HttpTarget {
    fn fork(&self) -> Box<dyn KeyedTarget> {
        Box::new(HttpTarget::new(self.plan.clone()))
    }

    fn create(&mut self, record: &Record) -> Result<String, WriteError> {
        let request = self.plan.create.as_ref().ok_or_else(|| {
            WriteError::Rejected(
                "the target has no `create` request: new records cannot be sent".into(),
            )
        })?;
        let response = self.call(request, record, &|_| None, true)?;
        let body = response.json().map_err(WriteError::Rejected)?;
        let id_path = self.plan.id.as_ref();
        id_path
            .and_then(|p| p.get(&body))
            .and_then(text_of)
            .ok_or_else(|| {
                WriteError::Rejected(format!(
                    "the create response has no id{}: {}",
                    id_path.map(|_| " where `id` says").unwrap_or(" (set `id`)"),
                    response.excerpt()
                ))
            })
    }

    fn update(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError> {
        let request = self.plan.update.as_ref().ok_or_else(|| {
            WriteError::Rejected(
                "the target has no `update` request: changed records cannot be sent".into(),
            )
        })?;
        let id = target_id.to_string();
        let extra = |name: &str| (name == "target_id").then(|| id.clone());
        let current = self.current(target_id, record)?;
        let merged;
        let record = match (&self.plan.read_before_update, current) {
            (Some(read), Some(mut current)) => {
                overlay(&mut current, record);
                if let Value::Object(fields) = &mut current {
                    for name in &read.drop {
                        fields.shift_remove(name);
                    }
                }
                merged = current;
                &merged
            }
            _ => record,
        };
        self.call(request, record, &extra, true)
            .map_err(WriteError::repeatable)?;
        Ok(())
    }

    fn read(&mut self, target_id: &str, record: &Record) -> Result<Option<Record>, WriteError> {
        self.current(target_id, record)
    }

    fn find(
        &mut self,
        rule: usize,
        record: &Record,
        value: &str,
    ) -> Result<Vec<String>, WriteError> {
        let Some((request, ids)) = self.plan.lookups.get(rule) else {
            return Ok(Vec::new());
        };
        let value = value.to_string();
        let response = self
            .call(
                request,
                record,
                &|name| (name == "value").then(|| value.clone()),
                false,
            )
            .map_err(WriteError::repeatable)?;
        // PrestaShop answers `[]` instead of an object when nothing matched.
        let body = match response.json() {
            Ok(body) => body,
            Err(_) if response.body.iter().all(u8::is_ascii_whitespace) => Value::Null,
            Err(e) => return Err(WriteError::Rejected(e)),
        };
        Ok(ids.select(&body).into_iter().filter_map(text_of).collect())
    }
}
