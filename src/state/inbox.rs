//! Webhook notifications kept until their job processed them (the inbox), and the deliveries
//! each webhook job has seen (so that one sent again is refused).
//!
//! Layout: `W` pipeline job id -> the notification, so a job's inbox reads in arrival order
//! (ids come from [`StateStore::next_id`](super::StateStore::next_id), which only grows);
//! `w` pipeline job digest -> when it was seen; `v` pipeline job time digest -> nothing, the
//! same deliveries by time, so that forgetting the old ones reads only those.

use super::codec::{self, FORMAT};
use super::entry::{InboxChange, JobId};
use super::error::StateError;

/// One write of a batch: a key, and its value or `None` to remove it.
type Write = (Vec<u8>, Option<Vec<u8>>);

pub const INBOX: u8 = b'W';
pub const SEEN: u8 = b'w';
pub const SEEN_AT: u8 = b'v';

/// The key prefix of `kind` for a job.
pub fn job_prefix(kind: u8, job: &JobId) -> Vec<u8> {
    let mut out = codec::pipeline_prefix(kind, &job.pipeline);
    codec::part(&mut out, &job.job);
    out
}

pub fn inbox_key(job: &JobId, id: u64) -> Vec<u8> {
    let mut out = job_prefix(INBOX, job);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

pub fn seen_key(job: &JobId, digest: &[u8]) -> Vec<u8> {
    let mut out = job_prefix(SEEN, job);
    out.extend_from_slice(digest);
    out
}

/// Times before 1970 do not occur; they sort first.
pub fn seen_at_key(job: &JobId, at: i64, digest: &[u8]) -> Vec<u8> {
    let mut out = job_prefix(SEEN_AT, job);
    out.extend_from_slice(&(at.max(0) as u64).to_be_bytes());
    out.extend_from_slice(digest);
    out
}

/// The writes of a change.
pub fn writes(change: InboxChange) -> Result<Vec<Write>, StateError> {
    Ok(match change {
        InboxChange::Add {
            job,
            id,
            notification,
            seen,
        } => {
            let at = notification.received_at;
            let mut batch = vec![(
                inbox_key(&job, id),
                Some(codec::encode_json(&notification)?),
            )];
            for digest in seen {
                let mut when = vec![FORMAT];
                when.extend_from_slice(&at.to_be_bytes());
                batch.push((seen_key(&job, &digest), Some(when)));
                batch.push((seen_at_key(&job, at, &digest), Some(vec![FORMAT])));
            }
            batch
        }
        InboxChange::Remove { job, id } => vec![(inbox_key(&job, id), None)],
        InboxChange::Forget { job, at, digest } => vec![
            (seen_key(&job, &digest), None),
            (seen_at_key(&job, at, &digest), None),
        ],
    })
}

/// The id at the end of an inbox key.
pub fn id_of(rest: &[u8]) -> Result<u64, StateError> {
    let raw: [u8; 8] = rest
        .try_into()
        .map_err(|_| StateError::Format("an inbox key".into()))?;
    Ok(u64::from_be_bytes(raw))
}

/// When a delivery was seen, from its entry.
pub fn decode_seen(bytes: &[u8]) -> Result<i64, StateError> {
    match bytes.split_first() {
        Some((&FORMAT, at)) => at
            .try_into()
            .map(i64::from_be_bytes)
            .map_err(|_| StateError::Format("a webhook delivery entry".into())),
        _ => Err(StateError::Format("a webhook delivery entry".into())),
    }
}

/// The time and digest after a job's `SEEN_AT` prefix.
pub fn split_seen_at(rest: &[u8]) -> Result<(i64, Vec<u8>), StateError> {
    let (at, digest) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| StateError::Format("a webhook delivery key".into()))?;
    Ok((u64::from_be_bytes(*at) as i64, digest.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use crate::state::{Change, Notification, StateStore};

    fn job(name: &str) -> JobId {
        JobId {
            pipeline: "p".into(),
            job: name.into(),
        }
    }

    #[test]
    fn an_inbox_reads_in_arrival_order_apart_from_other_jobs_and_forgets_old_deliveries() {
        let store = MemoryStore::empty();
        let add = |job: &JobId, id: u64, at: i64, digest: &[u8]| {
            Change::Inbox(InboxChange::Add {
                job: job.clone(),
                id,
                notification: Notification {
                    received_at: at,
                    body: serde_json::json!({ "n": id }),
                },
                seen: vec![digest.to_vec()],
            })
        };
        let (orders, orders_2) = (job("orders"), job("orders-2"));
        store
            .apply(vec![
                add(&orders, 300, 30, b"c"),
                add(&orders, 2, 10, b"a"),
                add(&orders_2, 5, 20, b"b"),
            ])
            .unwrap();
        let ids = |job: &JobId, from: u64| -> Vec<u64> {
            store
                .inbox(job, from, 10)
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        };
        assert_eq!(ids(&orders, 0), [2, 300]);
        assert_eq!(ids(&orders, 3), [300]);
        assert_eq!(ids(&orders_2, 0), [5]);
        assert_eq!(store.seen(&orders, b"a").unwrap(), Some(10));
        assert_eq!(store.seen(&orders, b"b").unwrap(), None, "another job's");
        assert_eq!(
            store.seen_before(&orders, 30, 10).unwrap(),
            [(10, b"a".to_vec())]
        );
        store
            .apply(vec![
                Change::Inbox(InboxChange::Remove {
                    job: orders.clone(),
                    id: 2,
                }),
                Change::Inbox(InboxChange::Forget {
                    job: orders.clone(),
                    at: 10,
                    digest: b"a".to_vec(),
                }),
            ])
            .unwrap();
        assert_eq!(ids(&orders, 0), [300]);
        assert_eq!(store.seen(&orders, b"a").unwrap(), None);
        assert!(store.seen_before(&orders, 30, 10).unwrap().is_empty());
    }
}
