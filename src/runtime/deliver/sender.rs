//! One record's write to a keyed target, as decided by [`super::deliver`]: update at the stored
//! id, or resolve then create. A [`Sender`] owns its own handle on the target, so that several
//! can send the writes of one outbox window at once (the connection's `concurrency`).

use std::sync::Arc;

use crate::config::model::OnMatch;
use crate::connectors::{BatchWrite, KeyedTarget, WriteError};
use crate::plan::KeyedPlan;
use crate::record::{Record, text_of};
use crate::steps::Rejection;

use super::decide::{Decision, DeliveryError, Prepared, normalize};

/// What a write did on the target; each holds the record's target id.
pub(crate) enum Sent {
    Created(String),
    Updated(String),
    /// Found by a `resolve` rule and linked.
    Linked(String),
    Deleted,
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

/// What became of one write.
pub(crate) enum Outcome {
    Sent(Sent),
    /// This record is rejected; the job goes on.
    Refused(Refusal),
    /// The job stops.
    Failed(DeliveryError),
}

/// What a record without an id calls for once looked up.
enum Next {
    Send(Planned),
    Finished(Outcome),
}

/// A write still to be sent.
enum Planned {
    Create,
    /// At this id; reported as the function says (updated, or linked when found by a rule).
    Update(String, fn(String) -> Sent),
    Delete(String),
}

/// What the `resolve` rules found of a record on the target.
pub(crate) enum Resolved {
    Found(String),
    Ambiguous(String),
    NotFound,
}

/// Looks for `record` on the target with the `resolve` rules, in order; the first rule that
/// finds exactly one record decides. `Err`: the target cannot be asked now, and the job stops.
pub(crate) async fn resolve(
    plan: &KeyedPlan,
    target: &mut dyn KeyedTarget,
    record: &Record,
) -> Result<Resolved, DeliveryError> {
    for (index, rule) in plan.resolve.iter().enumerate() {
        let Some(value) = rule.value.get(record).and_then(text_of) else {
            continue;
        };
        let Some(value) = normalize(rule, &value) else {
            continue;
        };
        let mut ids = match target.find(index, record, &value).await {
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

pub(crate) struct Sender {
    plan: Arc<KeyedPlan>,
    target: Box<dyn KeyedTarget>,
}

fn reject_or_stop(error: WriteError) -> Outcome {
    match error {
        WriteError::Rejected(reason) => Outcome::Refused(Refusal::done(reason)),
        WriteError::Unavailable(reason) | WriteError::MaybeApplied(reason) => {
            Outcome::Failed(DeliveryError::Target(reason))
        }
    }
}

impl Sender {
    pub fn new(plan: Arc<KeyedPlan>, target: Box<dyn KeyedTarget>) -> Self {
        Sender { plan, target }
    }

    /// Another sender with a handle of its own.
    pub fn fork(&self) -> Self {
        Sender {
            plan: self.plan.clone(),
            target: self.target.fork(),
        }
    }

    pub async fn send(&mut self, p: &Prepared) -> Outcome {
        match &p.decision {
            Decision::Unchanged | Decision::Skipped => {
                Outcome::Failed(DeliveryError::Target("nothing to send".into()))
            }
            Decision::Update { target_id } => match self.target.update(target_id, &p.payload).await
            {
                Ok(()) => Outcome::Sent(Sent::Updated(target_id.clone())),
                Err(e) => reject_or_stop(e),
            },
            Decision::Delete { target_id } => match self.target.delete(target_id, &p.payload).await
            {
                Ok(()) => Outcome::Sent(Sent::Deleted),
                Err(e) => reject_or_stop(e),
            },
            Decision::Create {
                after_crash,
                same_as_crashed,
            } => match self.before_create(p, *after_crash, *same_as_crashed).await {
                Err(e) => Outcome::Failed(e),
                Ok(Next::Finished(outcome)) => outcome,
                Ok(Next::Send(Planned::Update(target_id, found))) => {
                    match self.target.update(&target_id, &p.payload).await {
                        Ok(()) => Outcome::Sent(found(target_id)),
                        Err(e) => reject_or_stop(e),
                    }
                }
                Ok(Next::Send(_)) => self.create(p).await,
            },
        }
    }

    /// A record without an id is looked up with the `resolve` rules first: found, it is
    /// linked (and updated, unless `link_only`, or unless it is the create a crashed run
    /// applied, with this same payload); a create left unanswered by a crash that no rule can
    /// find is not sent blindly again.
    async fn before_create(
        &mut self,
        p: &Prepared,
        after_crash: bool,
        same_as_crashed: bool,
    ) -> Result<Next, DeliveryError> {
        Ok(match self.resolve(p).await? {
            Resolved::Found(target_id) => {
                let applied_as_is = after_crash && same_as_crashed;
                if self.plan.on_match == OnMatch::Update && !applied_as_is {
                    Next::Send(Planned::Update(target_id, Sent::Linked))
                } else {
                    Next::Finished(Outcome::Sent(Sent::Linked(target_id)))
                }
            }
            Resolved::Ambiguous(reason) => Next::Finished(Outcome::Refused(Refusal::done(reason))),
            Resolved::NotFound if after_crash && self.plan.resolve.is_empty() => {
                Next::Finished(Outcome::Refused(Refusal::unverifiable(
                    "a create of this record was sent by a run that stopped before the answer",
                )))
            }
            Resolved::NotFound => Next::Send(Planned::Create),
        })
    }

    /// Creates the record. A create that got no clear answer is looked up through the
    /// `resolve` rules before it is sent again: found, it is linked; not found, it was not
    /// applied and is sent again, as the connection's retry policy says (tries, backoff).
    async fn create(&mut self, p: &Prepared) -> Outcome {
        let mut tries = 0;
        loop {
            let doubt = match self.target.create(&p.payload).await {
                Ok(id) => return Outcome::Sent(Sent::Created(id)),
                Err(WriteError::MaybeApplied(reason)) if self.plan.resolve.is_empty() => {
                    return Outcome::Refused(Refusal::unverifiable(&format!(
                        "the create got no clear answer ({reason})"
                    )));
                }
                Err(WriteError::MaybeApplied(reason)) => {
                    tracing::debug!(key = %p.key, %reason, "checking whether the create was applied");
                    match self.resolve(p).await {
                        Ok(Resolved::Found(id)) => return Outcome::Sent(Sent::Created(id)),
                        Ok(Resolved::Ambiguous(reason)) => {
                            return Outcome::Refused(Refusal::done(reason));
                        }
                        Ok(Resolved::NotFound) => reason,
                        Err(e) => return Outcome::Failed(e),
                    }
                }
                Err(e) => return reject_or_stop(e),
            };
            tries += 1;
            match self.target.retry_after(tries) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Outcome::Failed(DeliveryError::Target(doubt)),
            }
        }
    }

    /// Sends the writes of one batch request. Creates are first looked up with the `resolve`
    /// rules, as one by one. When the request gets no clear answer, its creates are looked up
    /// again and what was not applied is sent again, as the retry policy says.
    pub async fn send_batch(&mut self, writes: &[Prepared]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = writes.iter().map(|_| None).collect();
        // What is left to send, and what its success will be reported as.
        let mut todo: Vec<(usize, Planned)> = Vec::new();
        for (i, p) in writes.iter().enumerate() {
            match &p.decision {
                Decision::Update { target_id } => {
                    todo.push((i, Planned::Update(target_id.clone(), Sent::Updated)))
                }
                Decision::Delete { target_id } => {
                    todo.push((i, Planned::Delete(target_id.clone())))
                }
                Decision::Create {
                    after_crash,
                    same_as_crashed,
                } => match self.before_create(p, *after_crash, *same_as_crashed).await {
                    Ok(Next::Send(planned)) => todo.push((i, planned)),
                    Ok(Next::Finished(outcome)) => outcomes[i] = Some(outcome),
                    Err(e) => outcomes[i] = Some(Outcome::Failed(e)),
                },
                Decision::Unchanged | Decision::Skipped => {
                    outcomes[i] = Some(Outcome::Failed(DeliveryError::Target(
                        "nothing to send".into(),
                    )))
                }
            }
        }
        let mut doubt = String::new();
        let mut tries = 0;
        while !todo.is_empty() {
            if tries > 0 {
                match self.target.retry_after(tries) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => break,
                }
            }
            tries += 1;
            let batch: Vec<BatchWrite> = todo
                .iter()
                .map(|(i, planned)| match planned {
                    Planned::Create => BatchWrite::Create(&writes[*i].payload),
                    Planned::Update(id, _) => BatchWrite::Update(id, &writes[*i].payload),
                    Planned::Delete(id) => BatchWrite::Delete(id),
                })
                .collect();
            let results = match self.target.batch(&batch).await {
                Ok(results) => results,
                Err(WriteError::MaybeApplied(reason)) => {
                    doubt = reason.clone();
                    todo.iter()
                        .map(|_| Err(WriteError::MaybeApplied(reason.clone())))
                        .collect()
                }
                Err(e) => {
                    for (i, _) in todo.drain(..) {
                        outcomes[i] = Some(match &e {
                            WriteError::Rejected(r) => Outcome::Refused(Refusal::done(r.clone())),
                            other => Outcome::Failed(DeliveryError::Target(other.to_string())),
                        });
                    }
                    break;
                }
            };
            let mut again = Vec::new();
            for ((i, planned), result) in todo.drain(..).zip(results) {
                match (result, planned) {
                    (Ok(id), Planned::Create) => {
                        outcomes[i] = Some(Outcome::Sent(Sent::Created(id)))
                    }
                    (Ok(_), Planned::Update(id, sent)) => {
                        outcomes[i] = Some(Outcome::Sent(sent(id)))
                    }
                    (Ok(_), Planned::Delete(_)) => outcomes[i] = Some(Outcome::Sent(Sent::Deleted)),
                    (Err(WriteError::MaybeApplied(reason)), Planned::Create) => {
                        doubt = reason.clone();
                        if self.plan.resolve.is_empty() {
                            outcomes[i] = Some(Outcome::Refused(Refusal::unverifiable(&format!(
                                "the create got no clear answer ({reason})"
                            ))));
                            continue;
                        }
                        match self.resolve(&writes[i]).await {
                            Ok(Resolved::Found(id)) => {
                                outcomes[i] = Some(Outcome::Sent(Sent::Created(id)))
                            }
                            Ok(Resolved::Ambiguous(reason)) => {
                                outcomes[i] = Some(Outcome::Refused(Refusal::done(reason)))
                            }
                            Ok(Resolved::NotFound) => again.push((i, Planned::Create)),
                            Err(e) => outcomes[i] = Some(Outcome::Failed(e)),
                        }
                    }
                    // Updates and deletes are sent again safely.
                    (Err(WriteError::MaybeApplied(reason)), planned) => {
                        doubt = reason;
                        again.push((i, planned));
                    }
                    (Err(e), _) => outcomes[i] = Some(reject_or_stop(e)),
                }
            }
            todo = again;
        }
        for (i, _) in todo {
            outcomes[i] = Some(Outcome::Failed(DeliveryError::Target(doubt.clone())));
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Failed(DeliveryError::Target("not sent".into()))))
            .collect()
    }

    /// Tries the rules in order; the first that finds exactly one record wins.
    async fn resolve(&mut self, p: &Prepared) -> Result<Resolved, DeliveryError> {
        resolve(&self.plan, self.target.as_mut(), &p.payload).await
    }
}
