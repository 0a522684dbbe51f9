//! What a record calls for on a keyed target, decided from the ID map and its fingerprint
//! before anything is sent: the types the delivery, its senders and its outbox share, and the
//! values the `resolve` rules compare.

use std::collections::HashMap;

use super::link_reader::LinkReader;
use crate::config::model::Normalize;
use crate::plan::{KeyedPlan, ResolveRule};
use crate::record::normalize::e164;
use crate::record::normalize::fold_accents;
use crate::record::{Record, truthy};
use crate::state::{FieldHashes, Fingerprint, Link, Operation, Pending, StateError, fingerprint};
use crate::steps::Rejection;

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
    /// Deleted on the target (`delete_when`).
    pub deleted: u64,
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
    Delete {
        target_id: String,
    },
    /// No id yet: resolve (when rules exist or an earlier create may have been applied), then
    /// create.
    Create {
        after_crash: bool,
        /// The create the crashed run left sent this same payload: found, the record needs
        /// no update.
        same_as_crashed: bool,
    },
}

impl Decision {
    /// Whether the target is sent something.
    pub fn writes(&self) -> bool {
        !matches!(self, Decision::Unchanged | Decision::Skipped)
    }
}

pub(crate) struct Prepared {
    pub key: String,
    /// The record as the steps made it: the target sends it without its `not_sent` fields
    /// and flags, which its request templates may still read.
    pub payload: Record,
    pub fingerprint: Fingerprint,
    pub decision: Decision,
    /// An update at the target id the ID map holds for the key: its link keeps its id.
    pub at_stored_id: bool,
    /// The outbox window that recorded the write.
    pub window: u64,
    /// What is sent, field by field (kept in the ID map, for dry-run plans).
    pub fields: FieldHashes,
}

/// A record, decided: a write (or none) prepared, or rejected before anything is sent.
pub(crate) enum Decided {
    Prepared(Prepared),
    Rejected(Record, Rejection),
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
) -> Result<Decided, StateError> {
    let Some(key) = key else {
        let reason = "the record has no key: the target's `key` path finds nothing";
        return Ok(Decided::Rejected(record, Rejection::new("target", reason)));
    };
    if plan
        .skip
        .as_ref()
        .is_some_and(|p| p.get(&record).is_some_and(truthy))
    {
        return Ok(Decided::Prepared(Prepared {
            key,
            payload: record,
            fingerprint: Fingerprint(0),
            decision: Decision::Skipped,
            at_stored_id: false,
            window: 0,
            fields: FieldHashes::default(),
        }));
    }
    let deleted = plan
        .delete_when
        .as_ref()
        .is_some_and(|p| p.get(&record).is_some_and(truthy));
    // What is sent, without the fields the record opted out of and syncline's own flags; the
    // record keeps them, for request templates and to be named if it is rejected.
    let (fingerprint, fields) = fingerprint(&plan.target.sent(&record, false), buffer);
    let payload = record;
    let crashed = left_over.get(&key);
    let left_over = crashed.map(|p| p.operation);
    let mut at_stored_id = false;
    let decision = match links.link(&key)? {
        Some(Link {
            target_id: Some(id),
            ..
        }) if deleted => Decision::Delete { target_id: id },
        // Never sent, or already deleted: nothing to do.
        _ if deleted => Decision::Unchanged,

        Some(Link {
            target_id: Some(id),
            fingerprint: sent,
            synced_at,
        }) => {
            // A write left over whose acknowledgement reached the ID map after it was
            // recorded (the process was killed before its window closed) is not in doubt.
            let acknowledged = crashed.is_none_or(|p| synced_at >= p.since);
            if sent == Some(fingerprint) && acknowledged {
                Decision::Unchanged
            } else {
                at_stored_id = true;
                Decision::Update { target_id: id }
            }
        }
        // Sent for the first time, at its own key.
        _ if plan.target.upserts() => Decision::Update {
            target_id: key.clone(),
        },
        _ => Decision::Create {
            after_crash: left_over == Some(Operation::Create),
            same_as_crashed: crashed.and_then(|p| p.fingerprint.as_deref())
                == Some(fingerprint.hex().as_str()),
        },
    };
    Ok(Decided::Prepared(Prepared {
        key,
        payload,
        fingerprint,
        decision,
        at_stored_id,
        window: 0,
        fields,
    }))
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
