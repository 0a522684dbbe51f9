//! A webhook job's inbox in the state: the notifications [`receive`](super::receive) stored,
//! read in arrival order, removed in the batch that commits the job's run; and the deliveries
//! seen, forgotten once a replay of them would be refused anyway or is too old to matter.

use crate::state::{Change, InboxChange, JobId, Notification, StateError, StateStore};

use super::WebhookEndpoint;

/// Notifications a run takes at most; the others wait for the next run. A run holds what it
/// took in memory until it commits.
pub const PER_RUN: usize = 5_000;

/// How long a delivery is recognised when the sender signs no time: a replay of it after
/// that is taken as new (its records then go through change detection like any other).
pub const REMEMBERED_DAYS: i64 = 30;

/// Up to `limit` of the job's notifications not processed yet, oldest first.
pub fn pending(
    state: &dyn StateStore,
    job: &JobId,
    limit: usize,
) -> Result<Vec<(u64, Notification)>, StateError> {
    state.inbox(job, 0, limit)
}

/// The changes that take these notifications out of the inbox: applied with the job's
/// commit (or, for a `then:` job, once the pull they asked for went through).
pub fn processed(job: &JobId, ids: impl IntoIterator<Item = u64>) -> Vec<Change> {
    ids.into_iter()
        .map(|id| {
            Change::Inbox(InboxChange::Remove {
                job: job.clone(),
                id,
            })
        })
        .collect()
}

/// Forgets the deliveries the endpoint saw long enough ago: twice the timestamp tolerance
/// when the signature covers the time (an older replay is stale), else
/// [`REMEMBERED_DAYS`]. Returns how many.
pub fn forget_old(
    endpoint: &WebhookEndpoint,
    state: &dyn StateStore,
    now: i64,
) -> Result<usize, StateError> {
    const BATCH: usize = 10_000;
    let kept = match &endpoint.timestamp {
        Some(rule) if endpoint.signer.covers.has_timestamp() => rule.tolerance.saturating_mul(2),
        _ => REMEMBERED_DAYS * 86_400,
    };
    let before = now.saturating_sub(kept);
    let mut forgotten = 0;
    loop {
        let old = state.seen_before(&endpoint.job, before, BATCH)?;
        if old.is_empty() {
            return Ok(forgotten);
        }
        forgotten += old.len();
        let done = old.len() < BATCH;
        state.apply(
            old.into_iter()
                .map(|(at, digest)| {
                    Change::Inbox(InboxChange::Forget {
                        job: endpoint.job.clone(),
                        at,
                        digest,
                    })
                })
                .collect(),
        )?;
        if done {
            return Ok(forgotten);
        }
    }
}
