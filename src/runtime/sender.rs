//! One record's write to a keyed target, as decided by [`super::deliver`]: update at the stored
//! id, or resolve then create. A [`Sender`] owns its own connection to the target, so that
//! several can send the writes of one outbox window at once (the connection's `concurrency`).

use crate::compile::plan::KeyedPlan;
use crate::config::model::OnMatch;
use crate::connectors::{KeyedTarget, WriteError};
use crate::steps::{Rejection, text_of};

use super::deliver::{Decision, DeliveryError, Prepared, normalize};

/// Creates sent for one record whose earlier tries got no clear answer and were not found.
const CREATE_ROUNDS: usize = 3;

/// What a write did on the target; each holds the record's target id.
pub(crate) enum Sent {
    Created(String),
    Updated(String),
    /// Found by a `resolve` rule and linked.
    Linked(String),
}

/// Why a record was not written, and whether its write stays in the outbox.
pub(crate) struct Refusal {
    pub rejection: Rejection,
    pub still_pending: bool,
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

/// `Ok(Err(_))`: this record is rejected; `Err`: the job stops.
pub(crate) type Outcome = Result<Result<Sent, Refusal>, DeliveryError>;

enum Resolved {
    Found(String),
    Ambiguous(String),
    NotFound,
}

pub(crate) struct Sender<'a> {
    plan: &'a KeyedPlan,
    target: Box<dyn KeyedTarget>,
}

fn reject_or_stop<T>(error: WriteError) -> Result<Result<T, Refusal>, DeliveryError> {
    match error {
        WriteError::Rejected(reason) => Ok(Err(Refusal::done(reason))),
        WriteError::Unavailable(reason) | WriteError::MaybeApplied(reason) => {
            Err(DeliveryError::Target(reason))
        }
    }
}

impl<'a> Sender<'a> {
    pub fn new(plan: &'a KeyedPlan, target: Box<dyn KeyedTarget>) -> Self {
        Sender { plan, target }
    }

    /// Another sender with a connection of its own.
    pub fn fork(&self) -> Self {
        Sender {
            plan: self.plan,
            target: self.target.fork(),
        }
    }

    pub fn send(&mut self, p: &Prepared) -> Outcome {
        match &p.decision {
            Decision::Unchanged | Decision::Skipped => {
                Err(DeliveryError::Target("nothing to send".into()))
            }
            Decision::Update { target_id } => match self.target.update(target_id, &p.payload) {
                Ok(()) => Ok(Ok(Sent::Updated(target_id.clone()))),
                Err(e) => reject_or_stop(e),
            },
            Decision::Create { after_crash } => match self.resolve(p)? {
                Resolved::Found(target_id) => {
                    if self.plan.on_match == OnMatch::Update
                        && let Err(e) = self.target.update(&target_id, &p.payload)
                    {
                        return reject_or_stop(e);
                    }
                    // Found after a crash: the create of the run that crashed was applied.
                    Ok(Ok(if *after_crash {
                        Sent::Created(target_id)
                    } else {
                        Sent::Linked(target_id)
                    }))
                }
                Resolved::Ambiguous(reason) => Ok(Err(Refusal::done(reason))),
                Resolved::NotFound if *after_crash && self.plan.resolve.is_empty() => {
                    Ok(Err(Refusal::unverifiable(
                        "a create of this record was sent by a run that stopped before the answer",
                    )))
                }
                Resolved::NotFound => self.create(p),
            },
        }
    }

    /// Creates the record. A create that got no clear answer is looked up through the
    /// `resolve` rules before it is sent again: found, it is linked; not found, it was not
    /// applied and is sent again (at most [`CREATE_ROUNDS`] times).
    fn create(&mut self, p: &Prepared) -> Outcome {
        let mut doubt = String::new();
        for _ in 0..CREATE_ROUNDS {
            match self.target.create(&p.payload) {
                Ok(id) => return Ok(Ok(Sent::Created(id))),
                Err(WriteError::MaybeApplied(reason)) if self.plan.resolve.is_empty() => {
                    return Ok(Err(Refusal::unverifiable(&format!(
                        "the create got no clear answer ({reason})"
                    ))));
                }
                Err(WriteError::MaybeApplied(reason)) => {
                    tracing::debug!(key = %p.key, %reason, "checking whether the create was applied");
                    match self.resolve(p)? {
                        Resolved::Found(id) => return Ok(Ok(Sent::Created(id))),
                        Resolved::Ambiguous(reason) => return Ok(Err(Refusal::done(reason))),
                        Resolved::NotFound => doubt = reason,
                    }
                }
                Err(e) => return reject_or_stop(e),
            }
        }
        Err(DeliveryError::Target(doubt))
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
            let mut ids = match self.target.find(index, &p.payload, &value) {
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
