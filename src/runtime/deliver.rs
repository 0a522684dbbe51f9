//! Writing to a keyed target through the state: each record is created, updated, linked to a
//! record the target already has, left alone because it did not change, or rejected.
//!
//! The order of a batch keeps every write safe against a process killed at any point:
//! 1. decide each record's operation from the ID map and its fingerprint;
//! 2. record every write in the outbox and flush it (one fsync a batch);
//! 3. send the writes;
//! 4. store ids, fingerprints, outbox removals and the checkpoint in one atomic batch.
//!
//! A write found in the outbox at the next run may or may not have been applied: an update is
//! sent again (updates are idempotent); a create is looked up with the `resolve` rules before
//! it is sent again, so it is never duplicated.

use std::collections::HashMap;

use serde_json::Value;

use crate::compile::plan::{KeyedPlan, ResolveRule};
use crate::config::model::{Normalize, OnMatch};
use crate::connectors::{KeyedTarget, WriteError};
use crate::paths::CompiledPath;
use crate::runtime::link_reader::LinkReader;
use crate::state::{Change, Fingerprint, Link, Operation, Pending, StateError, StateStore, now};
use crate::steps::{Record, Rejection, convert::fold_accents, text_of};

/// Creates sent per durable outbox write when no `resolve` rule can find them again after a
/// crash: at most this many records need a person's check.
const UNVERIFIABLE_WINDOW: usize = 8;

/// Creates sent for one record whose earlier tries got no clear answer and were not found.
const CREATE_ROUNDS: usize = 3;

/// What happened to the records sent to a keyed target.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Found on the target by a resolve rule and linked.
    pub linked: u64,
    /// Opted out by `skip`.
    pub skipped: u64,
}

/// What a job fails with when the state or the target cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the target stopped answering: {0}")]
    Target(String),
}

pub(crate) enum Decision {
    Unchanged,
    Skipped,
    Update {
        target_id: String,
    },
    /// No id yet: resolve (when rules exist or an earlier create may have been applied), then
    /// create.
    Create {
        after_crash: bool,
    },
}

pub(crate) struct Prepared {
    pub key: String,
    pub payload: Record,
    fingerprint: Fingerprint,
    pub decision: Decision,
}

pub struct Delivery<'a> {
    plan: &'a KeyedPlan,
    key: &'a CompiledPath,
    target: Box<dyn KeyedTarget>,
    state: &'a dyn StateStore,
    /// Writes left in the outbox by earlier runs, by source key.
    left_over: HashMap<String, Pending>,
    /// Changes waiting for the next commit.
    changes: Vec<Change>,
    /// Where payloads are serialised to be fingerprinted, reused.
    buffer: Vec<u8>,
    links: LinkReader<'a>,
    pub delivered: Delivered,
}

impl<'a> Delivery<'a> {
    pub fn new(
        plan: &'a KeyedPlan,
        key: &'a CompiledPath,
        target: Box<dyn KeyedTarget>,
        state: &'a dyn StateStore,
    ) -> Result<Self, StateError> {
        let left_over: HashMap<String, Pending> = state.pending(&plan.ns)?.into_iter().collect();
        if !left_over.is_empty() {
            tracing::warn!(
                entity = %plan.ns,
                count = left_over.len(),
                "writes of an earlier run were never acknowledged: they are checked before being sent again"
            );
        }
        Ok(Delivery {
            plan,
            key,
            target,
            state,
            left_over,
            changes: Vec::new(),
            buffer: Vec::new(),
            links: LinkReader::new(state, &plan.ns),
            delivered: Delivered::default(),
        })
    }

    /// Sends a batch; returns the records the target (or a resolve rule) rejected.
    pub fn deliver(
        &mut self,
        batch: Vec<Record>,
    ) -> Result<Vec<(Record, Rejection)>, DeliveryError> {
        let mut rejected = Vec::new();
        let mut writes = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for record in batch {
            let key = self.key.get(&record).and_then(text_of);
            // A key written twice in a batch (a replayed record and its newer version) is
            // decided only after the first write was sent, or both would be creates.
            if key.as_ref().is_some_and(|k| keys.contains(k)) {
                self.send_all(std::mem::take(&mut writes), &mut rejected)?;
                keys.clear();
            }
            match self.prepare(key, record)? {
                Ok(p)
                    if matches!(
                        p.decision,
                        Decision::Update { .. } | Decision::Create { .. }
                    ) =>
                {
                    keys.insert(p.key.clone());
                    writes.push(p);
                }
                Ok(_) => {}
                Err(r) => rejected.push(r),
            }
        }
        self.send_all(writes, &mut rejected)?;
        Ok(rejected)
    }

    /// Sends the writes of a batch through the outbox.
    fn send_all(
        &mut self,
        prepared: Vec<Prepared>,
        rejected: &mut Vec<(Record, Rejection)>,
    ) -> Result<(), DeliveryError> {
        // A create that stays in the outbox after a crash can be checked only through the
        // `resolve` rules; without them it is quarantined, so the outbox window is kept small
        // (and what the previous window acknowledged is stored in the same durable write).
        let window = if self.plan.resolve.is_empty() {
            UNVERIFIABLE_WINDOW
        } else {
            prepared.len().max(1)
        };
        let mut prepared = prepared.into_iter().peekable();
        while prepared.peek().is_some() {
            let chunk: Vec<Prepared> = prepared.by_ref().take(window).collect();
            self.record_in_outbox(&chunk)?;
            for p in chunk {
                if let Err(refusal) = self.send(&p)? {
                    // Nothing was applied, nothing is pending; except for a create that may
                    // have been applied and could not be checked: it stays in the outbox so
                    // that no later run creates it blindly.
                    if !refusal.still_pending {
                        self.acknowledge(&p.key);
                    }
                    rejected.push((p.payload, refusal.rejection));
                }
            }
        }
        // The next part's decisions read the ID map: what this part created must be in it.
        self.commit(None)?;
        Ok(())
    }

    /// Every write of `chunk` goes to the outbox, durably, before the first is sent; the
    /// acknowledgements gathered so far are stored with it.
    fn record_in_outbox(&mut self, chunk: &[Prepared]) -> Result<(), StateError> {
        let since = now();
        let mut changes = std::mem::take(&mut self.changes);
        changes.extend(chunk.iter().filter_map(|p| {
            let (operation, target_id) = match &p.decision {
                Decision::Update { target_id } => (Operation::Update, Some(target_id.clone())),
                Decision::Create { .. } => (Operation::Create, None),
                _ => return None,
            };
            Some(Change::Pending {
                ns: self.plan.ns.clone(),
                key: p.key.clone(),
                pending: Pending {
                    operation,
                    target_id,
                    since,
                },
            })
        }));
        self.store(changes)
    }

    /// Stores what was acknowledged (and the checkpoint, when given) in one atomic batch and
    /// makes it durable.
    pub fn commit(&mut self, checkpoint: Option<Change>) -> Result<(), StateError> {
        self.changes.extend(checkpoint);
        let changes = std::mem::take(&mut self.changes);
        self.store(changes)
    }

    /// One atomic, durable write; the ID-map reader learns what changed.
    fn store(&mut self, changes: Vec<Change>) -> Result<(), StateError> {
        if changes.is_empty() {
            return Ok(());
        }
        // Before the write: when it fails, the job stops and the reader with it.
        self.links.committed(&changes);
        self.state.apply(changes)?;
        self.state.flush()
    }

    fn prepare(
        &mut self,
        key: Option<String>,
        record: Record,
    ) -> Result<Result<Prepared, (Record, Rejection)>, StateError> {
        let prepared = decide(
            self.plan,
            key,
            &mut self.links,
            &self.left_over,
            record,
            &mut self.buffer,
        )?;
        match &prepared {
            Ok(Prepared {
                decision: Decision::Skipped,
                ..
            }) => self.delivered.skipped += 1,
            Ok(Prepared {
                decision: Decision::Unchanged,
                ..
            }) => self.delivered.unchanged += 1,
            _ => {}
        }
        Ok(prepared)
    }

    /// Sends one prepared record. `Ok(Err(_))`: this record was rejected; `Err`: the job stops.
    fn send(&mut self, p: &Prepared) -> Result<Result<(), Refusal>, DeliveryError> {
        let target_id = match &p.decision {
            Decision::Unchanged | Decision::Skipped => return Ok(Ok(())),
            Decision::Update { target_id } => {
                if let Err(e) = self.target.update(target_id, &p.payload) {
                    return reject_or_stop(e);
                }
                self.delivered.updated += 1;
                target_id.clone()
            }
            Decision::Create { after_crash } => match self.resolve(p)? {
                Resolved::Found(target_id) => {
                    if self.plan.on_match == OnMatch::Update
                        && let Err(e) = self.target.update(&target_id, &p.payload)
                    {
                        return reject_or_stop(e);
                    }
                    if *after_crash {
                        self.delivered.created += 1;
                    } else {
                        self.delivered.linked += 1;
                    }
                    target_id
                }
                Resolved::Ambiguous(reason) => return Ok(Err(Refusal::done(reason))),
                Resolved::NotFound if *after_crash && self.plan.resolve.is_empty() => {
                    return Ok(Err(Refusal::unverifiable(
                        "a create of this record was sent by a run that stopped before the answer",
                    )));
                }
                Resolved::NotFound => match self.create(p)? {
                    Ok(id) => {
                        self.delivered.created += 1;
                        id
                    }
                    Err(refusal) => return Ok(Err(refusal)),
                },
            },
        };
        self.changes.push(Change::Link {
            ns: self.plan.ns.clone(),
            key: p.key.clone(),
            link: Link {
                target_id: Some(target_id),
                fingerprint: Some(p.fingerprint),
                synced_at: now(),
            },
        });
        self.acknowledge(&p.key);
        Ok(Ok(()))
    }

    /// Creates the record. A create that got no clear answer is looked up through the
    /// `resolve` rules before it is sent again: found, it is linked; not found, it was not
    /// applied and is sent again (at most [`CREATE_ROUNDS`] times).
    fn create(&mut self, p: &Prepared) -> Result<Result<String, Refusal>, DeliveryError> {
        let mut doubt = String::new();
        for _ in 0..CREATE_ROUNDS {
            match self.target.create(&p.payload) {
                Ok(id) => return Ok(Ok(id)),
                Err(WriteError::MaybeApplied(reason)) if self.plan.resolve.is_empty() => {
                    return Ok(Err(Refusal::unverifiable(&format!(
                        "the create got no clear answer ({reason})"
                    ))));
                }
                Err(WriteError::MaybeApplied(reason)) => {
                    tracing::debug!(key = %p.key, %reason, "checking whether the create was applied");
                    match self.resolve(p)? {
                        Resolved::Found(id) => return Ok(Ok(id)),
                        Resolved::Ambiguous(reason) => return Ok(Err(Refusal::done(reason))),
                        Resolved::NotFound => doubt = reason,
                    }
                }
                Err(e) => return reject_or_stop(e).map(|r| r.map(|()| String::new())),
            }
        }
        Err(DeliveryError::Target(doubt))
    }

    fn acknowledge(&mut self, key: &str) {
        self.left_over.remove(key);
        self.changes.push(Change::Acknowledged {
            ns: self.plan.ns.clone(),
            key: key.to_string(),
        });
    }

    /// Tries the rules in order; the first that finds exactly one record wins.
    fn resolve(&mut self, p: &Prepared) -> Result<Resolved, DeliveryError> {
        for (index, rule) in self.plan.resolve.iter().enumerate() {
            let Some(value) = rule.value.get(&p.payload).and_then(text_of) else {
                continue;
            };
            let Some(value) = normalize(rule, &value) else {
                continue;
            };
            let ids = match self.target.find(index, &p.payload, &value) {
                Ok(ids) => ids,
                Err(WriteError::Rejected(reason)) => {
                    return Ok(Resolved::Ambiguous(format!(
                        "the `{}` lookup failed: {reason}",
                        rule.name
                    )));
                }
                Err(WriteError::Unavailable(reason) | WriteError::MaybeApplied(reason)) => {
                    return Err(DeliveryError::Target(reason));
                }
            };
            let mut ids = ids;
            ids.sort();
            ids.dedup();
            match ids.len() {
                0 => continue,
                1 => return Ok(Resolved::Found(ids.remove(0))),
                n => {
                    return Ok(Resolved::Ambiguous(format!(
                        "{n} target records match by {} `{value}` (ids {}): not guessing which one",
                        rule.name,
                        ids.join(", ")
                    )));
                }
            }
        }
        Ok(Resolved::NotFound)
    }
}

/// What a record calls for, from the ID map and its fingerprint; nothing is sent. Writes left
/// over by an earlier run (`left_over`) are never taken as unchanged.
pub(crate) fn decide(
    plan: &KeyedPlan,
    key: Option<String>,
    links: &mut LinkReader,
    left_over: &HashMap<String, Pending>,
    record: Record,
    buffer: &mut Vec<u8>,
) -> Result<Result<Prepared, (Record, Rejection)>, StateError> {
    let Some(key) = key else {
        let reason = "the record has no key: the target's `key` path finds nothing";
        return Ok(Err((record, Rejection::new("target", reason))));
    };
    if plan
        .skip
        .as_ref()
        .is_some_and(|p| p.get(&record).is_some_and(truthy))
    {
        return Ok(Ok(Prepared {
            key,
            payload: record,
            fingerprint: Fingerprint(0),
            decision: Decision::Skipped,
        }));
    }
    let payload = without_opted_out_fields(plan, record);
    buffer.clear();
    let _ = serde_json::to_writer(&mut *buffer, &payload);
    let fingerprint = Fingerprint::of(buffer);
    let left_over = left_over.get(&key).map(|p| p.operation);
    let decision = match links.link(&key)? {
        Some(Link {
            target_id: Some(id),
            fingerprint: sent,
            ..
        }) => {
            if sent == Some(fingerprint) && left_over.is_none() {
                Decision::Unchanged
            } else {
                Decision::Update { target_id: id }
            }
        }
        _ => Decision::Create {
            after_crash: left_over == Some(Operation::Create),
        },
    };
    Ok(Ok(Prepared {
        key,
        payload,
        fingerprint,
        decision,
    }))
}

/// The record minus the fields it opted out of.
fn without_opted_out_fields(plan: &KeyedPlan, mut record: Record) -> Record {
    if plan.skip_fields.is_empty() {
        return record;
    }
    let drop: Vec<&str> = plan
        .skip_fields
        .iter()
        .filter(|(_, path)| path.get(&record).is_some_and(truthy))
        .map(|(field, _)| field.as_str())
        .collect();
    if let Value::Object(map) = &mut record {
        for field in drop {
            map.shift_remove(field);
        }
    }
    record
}

enum Resolved {
    Found(String),
    Ambiguous(String),
    NotFound,
}

/// Why a record was not written, and whether its write stays in the outbox.
struct Refusal {
    rejection: Rejection,
    still_pending: bool,
}

impl Refusal {
    /// Nothing was applied.
    fn done(reason: impl Into<String>) -> Refusal {
        Refusal {
            rejection: Rejection::new("target", reason),
            still_pending: false,
        }
    }

    /// A create that may have been applied and cannot be looked up.
    fn unverifiable(what: &str) -> Refusal {
        Refusal {
            rejection: Rejection::new(
                "target",
                format!(
                    "{what}, and without `resolve` rules syncline cannot tell whether it was applied: check the target, then replay or drop this record"
                ),
            ),
            still_pending: true,
        }
    }
}

fn reject_or_stop(error: WriteError) -> Result<Result<(), Refusal>, DeliveryError> {
    match error {
        WriteError::Rejected(reason) => Ok(Err(Refusal::done(reason))),
        WriteError::Unavailable(reason) | WriteError::MaybeApplied(reason) => {
            Err(DeliveryError::Target(reason))
        }
    }
}

/// A flag's value: true, non-zero numbers, "1", "true", "yes", "y", "oui", "da".
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.trim().to_lowercase().as_str(),
            "1" | "true" | "yes" | "y" | "oui" | "o" | "da"
        ),
        _ => false,
    }
}

/// The value as the rule compares it; `None` when nothing is left to look for.
pub fn normalize(rule: &ResolveRule, value: &str) -> Option<String> {
    let out = match rule.normalize {
        None => value.trim().to_string(),
        Some(Normalize::Code) => value.trim().to_uppercase(),
        Some(Normalize::Name) => fold_accents(value)
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        Some(Normalize::Phone) => e164(value, rule.country_code.as_deref())?,
    };
    (!out.is_empty()).then_some(out)
}

/// A phone number in E.164: `+` then digits. `00` and a national leading `0` are rewritten
/// with the country code; a number that cannot be made international is `None`.
pub fn e164(value: &str, country_code: Option<&str>) -> Option<String> {
    let trimmed = value.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(national) = digits.strip_prefix('0') {
        format!("{}{national}", country_code?)
    } else if country_code.is_some_and(|c| digits.starts_with(c)) && digits.len() > 9 {
        digits
    } else {
        format!("{}{digits}", country_code?)
    };
    (8..=15)
        .contains(&international.len())
        .then(|| format!("+{international}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        for (raw, expected) in [
            ("0722 123 456", Some("+40722123456")),
            ("+40 722-123-456", Some("+40722123456")),
            ("0040722123456", Some("+40722123456")),
            ("40722123456", Some("+40722123456")),
            ("722123456", Some("+40722123456")),
            ("12", None),
        ] {
            assert_eq!(e164(raw, Some("40")).as_deref(), expected, "{raw}");
        }
        assert_eq!(
            e164("06 12 34 56 78", None),
            None,
            "a national number needs a country code"
        );
    }
}
