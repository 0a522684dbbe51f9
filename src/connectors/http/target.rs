//! Writing records to an HTTP API, one request each; which request (create, update, lookup) is
//! decided by the runtime from the ID map.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::client::HttpClient;
use super::request::{RenderError, RequestPlan};
use super::resilience::Verdict;
use super::translations;
use super::wire::{Call, Response, method_name, missing_field, shorten};
use crate::connectors::{BatchWrite, KeyedTarget, WriteError};
use crate::record::path::CompiledPath;
use crate::record::{Record, id_value, text_of, truthy};

/// The names a request's template takes besides the record's fields (`target_id`, `value`).
type Extra<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

#[derive(Debug)]
pub struct HttpTargetPlan {
    pub client: Arc<HttpClient>,
    pub create: Option<RequestPlan>,
    /// A document's lines, one request each, after its create.
    pub lines: Option<(CompiledPath, RequestPlan)>,
    /// Sent after a create and its lines, in order (workflow buttons).
    pub after_create: Vec<RequestPlan>,
    /// Undo a create whose `after_create` failed.
    pub rollback: Vec<RequestPlan>,
    pub update: Option<RequestPlan>,
    /// Where the created record's id is in the create response.
    pub id: Option<CompiledPath>,
    /// Per resolve rule: the lookup request and where the ids are in its response.
    pub lookups: Vec<(RequestPlan, CompiledPath)>,
    pub read_before_update: Option<ReadPlan>,
    pub delete: Option<RequestPlan>,
    pub batch: Option<BatchPlan>,
    /// Writes create or update by the record's key (`upsert`): safe to send again, and
    /// records without a target id are sent with `update` at their key.
    pub upsert: bool,
    pub unsent: Unsent,
}

/// The fields of a record that are not sent: the ones it opts out of, and syncline's own.
#[derive(Debug, Default)]
pub struct Unsent {
    /// `not_sent`, and the top-level fields `skip`, `skip_fields` and `delete_when` read
    /// (`$.deleted` -> `deleted`): flags for syncline.
    pub control_fields: Vec<String>,
    /// Left out when their path holds a true value.
    pub skip_fields: Vec<(String, CompiledPath)>,
    /// Sent with creates only (`create_only`): left out of updates and of the fingerprint, so
    /// what the target's users change there afterwards stays.
    pub create_only: Vec<String>,
    /// The target's languages: a create writes each translated field in all of them.
    pub languages: Vec<String>,
}

impl Unsent {
    /// What is sent of `record` by a create (`creating`) or an update (the record itself when
    /// it keeps every field).
    pub fn sent<'r>(&self, record: &'r Record, creating: bool) -> Cow<'r, Record> {
        let sent = self.kept(record, creating);
        if !creating || self.languages.is_empty() {
            return sent;
        }
        let mut sent = sent.into_owned();
        if let Value::Object(fields) = &mut sent {
            for value in fields.values_mut() {
                self.in_every_language(value);
            }
        }
        Cow::Owned(sent)
    }

    /// A translated field (`[{id, value}]`) given the languages it lacks, with the text of
    /// the first it has.
    fn in_every_language(&self, field: &mut Value) {
        let Some(written) = translations::written(field) else {
            return;
        };
        let Value::Array(items) = field else { return };
        let text = written[0].1.clone();
        for language in &self.languages {
            if !written.iter().any(|(id, _)| id == language) {
                items.push(serde_json::json!({ "id": language, "value": text }));
            }
        }
    }

    /// `record` without the fields a create (`creating`) or an update leaves out.
    fn kept<'r>(&self, record: &'r Record, creating: bool) -> Cow<'r, Record> {
        let create_only = (!creating)
            .then_some(&self.create_only)
            .into_iter()
            .flatten();
        let drop: Vec<&str> = self
            .skip_fields
            .iter()
            .filter(|(_, path)| path.get(record).is_some_and(truthy))
            .map(|(field, _)| field.as_str())
            .chain(self.control_fields.iter().map(String::as_str))
            .chain(create_only.map(String::as_str))
            .filter(|field| record.get(field).is_some())
            .collect();
        if drop.is_empty() {
            return Cow::Borrowed(record);
        }
        let mut sent = record.clone();
        if let Value::Object(map) = &mut sent {
            for field in drop {
                map.shift_remove(field);
            }
        }
        Cow::Owned(sent)
    }
}

/// A batch endpoint (see the model's `Batch`).
#[derive(Debug)]
pub struct BatchPlan {
    pub request: RequestPlan,
    pub size: usize,
    pub create: String,
    pub update: String,
    pub delete: String,
    pub id_field: String,
    pub error: CompiledPath,
    /// Where the results are in the answer of a batch with its own body.
    pub results: Option<CompiledPath>,
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
    if let Some(merged) = translations::merge(base, changes) {
        *base = merged;
        return;
    }
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

/// A record its request cannot be rendered from (a field missing, a body its format cannot
/// take) is refused: quarantined, and the job goes on.
impl From<RenderError> for WriteError {
    fn from(error: RenderError) -> Self {
        WriteError::Rejected(error.to_string())
    }
}

impl crate::connectors::KeyedTargetPlan for HttpTargetPlan {
    fn open(self: Arc<Self>) -> Box<dyn KeyedTarget> {
        Box::new(HttpTarget { plan: self })
    }

    fn sent<'r>(&self, record: &'r Record, creating: bool) -> Cow<'r, Record> {
        self.unsent.sent(record, creating)
    }

    fn upserts(&self) -> bool {
        self.upsert
    }
}

impl HttpTarget {
    /// Sends `request` for `record`; `sent` is the body (what is sent of the record), `None`
    /// for requests that send no record (lookups, deletes, workflow calls).
    async fn call(
        &self,
        request: &RequestPlan,
        record: &Record,
        sent: Option<&Record>,
        extra: &Extra<'_>,
    ) -> Result<Response, WriteError> {
        let mut call = request.render_sending(record, sent, extra)?;
        call.repeatable |= self.plan.upsert;
        self.send(&call).await
    }

    /// Sends the call; a failure is classified by what it says about the record.
    async fn send(&self, call: &Call) -> Result<Response, WriteError> {
        let response = self.send_raw(call).await?;
        classify(call, response)
    }

    /// Sends the call; only a failure to get an answer is an error.
    async fn send_raw(&self, call: &Call) -> Result<Response, WriteError> {
        self.plan
            .client
            .send_async(call)
            .await
            .map_err(|e| write_error(Verdict::of_failure(e.kind), e.to_string()))
    }

    /// The create's follow-up requests; when one fails, the `rollback` requests undo the
    /// create and the record is rejected with the failure. Without `rollback` the created
    /// record stays as it is (its id is kept, so it is not created twice).
    async fn after_create(&self, id: &str, record: &Record) -> Result<(), WriteError> {
        let extra = |name: &str| (name == "target_id").then(|| id.to_string());
        let mut failure = self.write_lines(record, &extra).await.err();
        for request in &self.plan.after_create {
            if failure.is_some() {
                break;
            }
            failure = self.call(request, record, None, &extra).await.err();
        }
        let Some(failure) = failure else {
            return Ok(());
        };
        if self.plan.rollback.is_empty() {
            tracing::warn!(
                target_id = id,
                "a request after the create failed, and the target has no `rollback`: the record stays as created: {failure}"
            );
            return Ok(());
        }
        for request in &self.plan.rollback {
            if let Err(undo) = self.call(request, record, None, &extra).await {
                return Err(WriteError::Rejected(format!(
                    "{failure}; and the rollback failed, so the record created as {id} is still on the target: {undo}"
                )));
            }
        }
        Err(WriteError::Rejected(format!(
            "{failure} (the record created as {id} was rolled back)"
        )))
    }

    /// Each line of a created document, one request each, in order; the first failure names
    /// its line.
    async fn write_lines(&self, record: &Record, extra: &Extra<'_>) -> Result<(), WriteError> {
        let Some((each, request)) = &self.plan.lines else {
            return Ok(());
        };
        let lines = match each.get(record) {
            Some(Value::Array(lines)) => lines.as_slice(),
            _ => &[],
        };
        for (n, line) in lines.iter().enumerate() {
            self.call(request, line, Some(line), extra)
                .await
                .map_err(|e| WriteError::Rejected(format!("line {}: {e}", n + 1)))?;
        }
        Ok(())
    }

    /// A batch whose body template takes every record in one list (`"{records}"`), the
    /// results read back in the same order from `results`.
    async fn batch_in_one_list(
        &self,
        plan: &BatchPlan,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError> {
        let mut records = Vec::new();
        for write in writes {
            match write {
                BatchWrite::Create(record) => {
                    records.push(self.plan.unsent.sent(record, true).into_owned())
                }
                // An upsert's record names itself by its key.
                BatchWrite::Update(_, record) if self.plan.upsert => {
                    records.push(self.plan.unsent.sent(record, false).into_owned())
                }
                BatchWrite::Update(id, record) => {
                    records.push(with_id(plan, id, &self.plan.unsent.sent(record, false)))
                }
                BatchWrite::Delete(_) => {}
            }
        }
        let sent = serde_json::json!({ "records": records });
        let mut call = plan.request.render(&sent, &|_| None, true)?;
        // Sent again, updates by key do no harm; creates might be applied twice.
        call.repeatable = !writes.iter().any(|w| matches!(w, BatchWrite::Create(_)));
        let response = self.send(&call).await?;
        let results = match &plan.results {
            Some(path) => {
                let answer = response.document().map_err(|e| {
                    WriteError::MaybeApplied(format!("the batch answer is not readable ({e})"))
                })?;
                path.get(&answer).and_then(Value::as_array).cloned()
            }
            None => None,
        };
        let mut position = 0;
        Ok(writes
            .iter()
            .map(|write| match write {
                BatchWrite::Delete(_) => Err(WriteError::Rejected(
                    "this batch request takes no deletions: give the target a `delete` request"
                        .into(),
                )),
                BatchWrite::Update(id, _) if results.is_none() => Ok(id.to_string()),
                _ => {
                    let result = results.as_ref().and_then(|r| r.get(position));
                    position += 1;
                    let target_id = match write {
                        BatchWrite::Update(id, _) => Some(*id),
                        _ => None,
                    };
                    batch_result(plan, write, result, target_id)
                }
            })
            .collect())
    }

    /// The target's record `target_id`, read with `read_before_update`; `None` without it.
    async fn current(
        &self,
        target_id: &str,
        record: &Record,
    ) -> Result<Option<Record>, WriteError> {
        let Some(read) = &self.plan.read_before_update else {
            return Ok(None);
        };
        let id = target_id.to_string();
        let response = self
            .call(&read.request, record, None, &|name| {
                (name == "target_id").then(|| id.clone())
            })
            .await
            .map_err(WriteError::repeatable)?;
        let body = match response.document() {
            Ok(body) => body,
            // Nothing read (an empty answer): the update goes without it.
            Err(_) if response.is_blank() => return Ok(None),
            Err(e) => return Err(WriteError::Rejected(e.to_string())),
        };
        match read.record.get(&body) {
            Some(current) if !current.is_null() => Ok(Some(current.clone())),
            // An empty list, null, `[]`: the target has nothing to lay the fields over.
            _ if missing_field(&read.record, &body).is_none() => Ok(None),
            _ => Err(WriteError::Rejected(format!(
                "the record read is not where `record` says: {}",
                response.excerpt()
            ))),
        }
    }
}

#[async_trait::async_trait]
impl KeyedTarget for HttpTarget {
    /// Shares the connection's pool, sized to its concurrency.
    fn fork(&self) -> Box<dyn KeyedTarget> {
        Box::new(HttpTarget {
            plan: self.plan.clone(),
        })
    }

    async fn create(&mut self, record: &Record) -> Result<String, WriteError> {
        let request = self.plan.create.as_ref().ok_or_else(|| {
            WriteError::Rejected(
                "the target has no `create` request: new records cannot be sent".into(),
            )
        })?;
        let sent = self.plan.unsent.sent(record, true);
        let response = self.call(request, record, Some(&sent), &|_| None).await?;
        let body = response
            .document()
            .map_err(|e| WriteError::Rejected(e.to_string()))?;
        let id_path = self.plan.id.as_ref();
        let id = id_path
            .and_then(|p| p.get(&body))
            .and_then(text_of)
            .ok_or_else(|| {
                WriteError::Rejected(format!(
                    "the create response has no id{}: {}",
                    id_path.map(|_| " where `id` says").unwrap_or(" (set `id`)"),
                    response.excerpt()
                ))
            })?;
        self.after_create(&id, record).await?;
        Ok(id)
    }

    async fn update(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError> {
        let request = self.plan.update.as_ref().ok_or_else(|| {
            WriteError::Rejected(
                "the target has no `update` request: changed records cannot be sent".into(),
            )
        })?;
        let id = target_id.to_string();
        let extra = |name: &str| (name == "target_id").then(|| id.clone());
        let current = self.current(target_id, record).await?;
        let mut sent = self.plan.unsent.sent(record, false);
        if let (Some(read), Some(mut current)) = (&self.plan.read_before_update, current) {
            overlay(&mut current, &sent);
            if let Value::Object(fields) = &mut current {
                for name in &read.drop {
                    fields.shift_remove(name);
                }
            }
            sent = Cow::Owned(current);
        }
        let response = self
            .call(request, record, Some(&sent), &extra)
            .await
            .map_err(WriteError::repeatable)?;
        // A success whose answer is not the API's format is a failure in disguise (PHP
        // notices before PrestaShop's XML, an HTML page from a proxy).
        if !response.is_blank()
            && let Err(e) = response.document()
        {
            return Err(WriteError::Rejected(format!(
                "the update's answer is not readable ({e}): {}",
                response.excerpt()
            )));
        }
        Ok(())
    }

    async fn delete(&mut self, target_id: &str, record: &Record) -> Result<(), WriteError> {
        let request = self.plan.delete.as_ref().ok_or_else(|| {
            WriteError::Rejected(
                "the target has no `delete` request: deleted records cannot be sent".into(),
            )
        })?;
        let id = target_id.to_string();
        let mut call = request.render(
            record,
            &|name| (name == "target_id").then(|| id.clone()),
            false,
        )?;
        call.repeatable = true;
        let response = self.send_raw(&call).await.map_err(WriteError::repeatable)?;
        if matches!(response.status, 404 | 410) {
            return Ok(());
        }
        classify(&call, response)
            .map(drop)
            .map_err(WriteError::repeatable)
    }

    fn retry_after(&self, tries: u32) -> Option<std::time::Duration> {
        self.plan.client.retry_delay(tries)
    }

    fn batch_size(&self) -> Option<usize> {
        self.plan.batch.as_ref().map(|b| b.size)
    }

    async fn batch(
        &mut self,
        writes: &[BatchWrite<'_>],
    ) -> Result<Vec<Result<String, WriteError>>, WriteError> {
        let plan = self
            .plan
            .batch
            .as_ref()
            .ok_or_else(|| WriteError::Rejected("the target has no `batch` request".into()))?;
        if plan.request.has_body() {
            return self.batch_in_one_list(plan, writes).await;
        }
        let (mut creates, mut updates, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
        for write in writes {
            match write {
                BatchWrite::Create(record) => {
                    creates.push(self.plan.unsent.sent(record, true).into_owned())
                }
                BatchWrite::Update(id, record) => {
                    updates.push(with_id(plan, id, &self.plan.unsent.sent(record, false)))
                }
                BatchWrite::Delete(id) => deletes.push(id_value(id)),
            }
        }
        let creating = !creates.is_empty();
        let mut body = serde_json::Map::new();
        for (name, list) in [
            (&plan.create, creates),
            (&plan.update, updates),
            (&plan.delete, deletes),
        ] {
            if !list.is_empty() {
                body.insert(name.clone(), Value::Array(list));
            }
        }
        let mut call = plan.request.render(&Value::Object(body), &|_| None, true)?;
        // Without creates, the batch can be sent again safely.
        call.repeatable = !creating;
        let response = self.send(&call).await?;
        let answer = response.document().map_err(|e| {
            WriteError::MaybeApplied(format!("the batch answer is not readable ({e})"))
        })?;
        let mut position = [0usize; 3];
        Ok(writes
            .iter()
            .map(|write| {
                let (list, target_id) = match write {
                    BatchWrite::Create(_) => (0, None),
                    BatchWrite::Update(id, _) => (1, Some(*id)),
                    BatchWrite::Delete(id) => (2, Some(*id)),
                };
                let name = [&plan.create, &plan.update, &plan.delete][list];
                let result = answer
                    .get(name.as_str())
                    .and_then(|results| results.get(position[list]));
                position[list] += 1;
                batch_result(plan, write, result, target_id)
            })
            .collect())
    }

    async fn read(
        &mut self,
        target_id: &str,
        record: &Record,
    ) -> Result<Option<Record>, WriteError> {
        self.current(target_id, record).await
    }

    async fn find(
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
            .call(request, record, None, &|name| {
                (name == "value").then(|| value.clone())
            })
            .await
            .map_err(WriteError::repeatable)?;
        // PrestaShop answers `[]` instead of an object when nothing matched.
        let body = match response.document() {
            Ok(body) => body,
            Err(_) if response.body.iter().all(u8::is_ascii_whitespace) => Value::Null,
            Err(e) => return Err(WriteError::Rejected(e.to_string())),
        };
        Ok(ids.select(&body).into_iter().filter_map(text_of).collect())
    }
}

/// One write's result in a batch answer.
fn batch_result(
    plan: &BatchPlan,
    write: &BatchWrite,
    result: Option<&Value>,
    target_id: Option<&str>,
) -> Result<String, WriteError> {
    let Some(result) = result else {
        return Err(WriteError::MaybeApplied(
            "the batch answer has no result for this record".into(),
        ));
    };
    if let Some(error) = plan.error.get(result).filter(|e| !e.is_null()) {
        let status = ["status", "code"].iter().find_map(|name| {
            error
                .pointer(&format!("/data/{name}"))
                .and_then(Value::as_u64)
        });
        if matches!(write, BatchWrite::Delete(_)) && matches!(status, Some(404 | 410)) {
            return Ok(target_id.unwrap_or_default().to_string());
        }
        let message = error
            .get("message")
            .and_then(text_of)
            .unwrap_or_else(|| error.to_string());
        let code = error.get("code").and_then(text_of);
        return Err(WriteError::Rejected(match code {
            Some(code) => format!("{message} ({code})"),
            None => message,
        }));
    }
    match target_id {
        Some(id) => Ok(id.to_string()),
        None => result
            .get(plan.id_field.as_str())
            .and_then(text_of)
            .filter(|id| !id.is_empty() && id != "0")
            .ok_or_else(|| {
                WriteError::MaybeApplied(format!(
                    "the batch result has no `{}`: {}",
                    plan.id_field,
                    shorten(&result.to_string())
                ))
            }),
    }
}

/// An update as a batch carries it: the record with its target id in `id_field`.
fn with_id(plan: &BatchPlan, id: &str, record: &Record) -> Record {
    let mut record = record.clone();
    if let Value::Object(fields) = &mut record {
        fields.insert(plan.id_field.clone(), id_value(id));
    }
    record
}

/// An answer that is not a success as a write error, by what it says about the record (see
/// [`Verdict`]).
fn classify(call: &Call, response: Response) -> Result<Response, WriteError> {
    let Some(verdict) = Verdict::of_answer(&response) else {
        return Ok(response);
    };
    let at = format!("{} {}", method_name(call.method), call.path);
    let reason = match (&response.refused, &response.rpc_error) {
        (Some(said), _) => format!("{at}: HTTP {}: refused: {said}", response.status),
        (None, Some(error)) => format!("{at}: JSON-RPC error: {error}"),
        (None, None) => format!("{at}: HTTP {}: {}", response.status, response.excerpt()),
    };
    Err(write_error(verdict, reason))
}

fn write_error(verdict: Verdict, reason: String) -> WriteError {
    match verdict {
        Verdict::Refused => WriteError::Rejected(reason),
        Verdict::NotApplied => WriteError::Unavailable(reason),
        Verdict::MaybeApplied => WriteError::MaybeApplied(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_translation_written_keeps_the_other_languages() {
        let written = json!([{"id": "1", "value": "Chair"}]);
        let mut json_read = json!({"name": [{"id": "1", "value": "Old"}, {"id": "2", "value": "Chaise"}], "price": 1});
        overlay(&mut json_read, &json!({"name": written, "price": 2}));
        assert_eq!(
            json_read,
            json!({"name": [{"id": "1", "value": "Chair"}, {"id": "2", "value": "Chaise"}], "price": 2})
        );
        // PrestaShop's XML, read: two languages, then one (an object, not a list).
        let mut xml_read = json!({"name": {"language": [{"@id": "1", "#text": "Old"}, {"@id": "2", "#text": "Chaise"}]}});
        overlay(&mut xml_read, &json!({"name": written}));
        assert_eq!(
            xml_read["name"],
            json!([{"id": "1", "value": "Chair"}, {"id": "2", "value": "Chaise"}])
        );
        let mut one = json!({"name": {"language": {"@id": "2", "@xlink:href": "http://shop/api/languages/2", "#text": "Chaise"}}});
        overlay(&mut one, &json!({"name": written}));
        assert_eq!(
            one["name"],
            json!([{"id": "2", "value": "Chaise"}, {"id": "1", "value": "Chair"}])
        );
        // Any other list is replaced whole, as before.
        let mut tags = json!({"tags": ["a", "b"], "categories": [{"id": 2}, {"id": 3}]});
        overlay(
            &mut tags,
            &json!({"tags": ["c"], "categories": [{"id": 5}]}),
        );
        assert_eq!(tags, json!({"tags": ["c"], "categories": [{"id": 5}]}));
    }

    #[test]
    fn a_create_writes_a_translated_field_in_every_language_and_an_update_in_its_own() {
        let unsent = Unsent {
            languages: vec!["1".into(), "2".into()],
            create_only: vec!["state".into()],
            ..Unsent::default()
        };
        let record = json!({
            "name": [{"id": "1", "value": "Chair"}],
            "associations": {"categories": [{"id": "5"}]},
            "tags": [{"id": "1"}],
            "state": "1",
        });
        assert_eq!(
            unsent.sent(&record, true).into_owned(),
            json!({
                "name": [{"id": "1", "value": "Chair"}, {"id": "2", "value": "Chair"}],
                "associations": {"categories": [{"id": "5"}]},
                "tags": [{"id": "1"}],
                "state": "1",
            })
        );
        assert_eq!(
            unsent.sent(&record, false).into_owned(),
            json!({
                "name": [{"id": "1", "value": "Chair"}],
                "associations": {"categories": [{"id": "5"}]},
                "tags": [{"id": "1"}],
            })
        );
    }
}
