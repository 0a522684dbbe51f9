//! What the state holds: the ID map's namespaces and links with their fingerprints, job
//! checkpoints, outbox windows, quarantined records; the changes that write them and the
//! entries an export reads them as.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StateError;

/// The ID-map namespace: the same source key means different records in different entities
/// and on different systems.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Namespace {
    pub pipeline: String,
    pub connection: String,
    pub entity: String,
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.pipeline, self.connection, self.entity)
    }
}

/// A job, across pipelines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobId {
    pub pipeline: String,
    pub job: String,
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pipeline, self.job)
    }
}

/// 128-bit hash of a mapped payload as it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u128);

/// What was sent, field by field: a hash of the field names in order, and each value's hash,
/// 32 bits each: enough to tell which fields an update changes in a plan (the 128-bit
/// fingerprint decides what is sent). Empty when not known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldHashes {
    pub names: u32,
    pub values: Vec<u32>,
}

/// The fingerprint of what is sent, and its field hashes: the record is written into `buffer`
/// as `serde_json` writes it (so fingerprints stored by earlier builds still match), each
/// field's value hashed on the way.
pub fn fingerprint(sent: &Value, buffer: &mut Vec<u8>) -> (Fingerprint, FieldHashes) {
    buffer.clear();
    let mut fields = FieldHashes::default();
    match sent {
        Value::Object(map) => {
            buffer.push(b'{');
            for (i, (name, value)) in map.iter().enumerate() {
                if i > 0 {
                    buffer.push(b',');
                }
                let _ = serde_json::to_writer(&mut *buffer, name);
                buffer.push(b':');
                let start = buffer.len();
                let _ = serde_json::to_writer(&mut *buffer, value);
                fields.names = next_name(fields.names, name);
                fields.values.push(hash32(&buffer[start..]));
            }
            buffer.push(b'}');
        }
        other => {
            let _ = serde_json::to_writer(&mut *buffer, other);
        }
    }
    (Fingerprint::of(buffer), fields)
}

/// The hash of a list of field names with `name` added at its end.
fn next_name(names: u32, name: &str) -> u32 {
    names.rotate_left(5) ^ hash32(name.as_bytes())
}

fn hash32(bytes: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64(bytes) as u32
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint(xxhash_rust::xxh3::xxh3_128(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// What the ID map holds for one source key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The record's id on the target; none for targets without ids (files).
    pub target_id: Option<String>,
    /// What was last sent; none when the record was linked but never written.
    pub fingerprint: Option<Fingerprint>,
    /// Unix seconds of the last successful write or link.
    pub synced_at: i64,
}

/// Where a job's incremental read stands: every record up to (cursor, key) was acknowledged by
/// the target or quarantined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub cursor: Value,
    /// The tie-breaker of the last record at `cursor`, so records sharing it are not skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Unix seconds when it was saved.
    pub saved_at: i64,
}

/// The writes of one outbox window, recorded (in one entry) before the first is sent. The
/// entry is removed once every write was answered, or rewritten with the writes still in
/// doubt; one left over means the process stopped in between: its writes may or may not have
/// been applied. One entry per window, not per write: 10k updates write the outbox 20 times
/// (10 windows, recorded then closed), not 20,000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxWindow {
    /// Unique in the state ([`StateStore::next_id`](super::store::StateStore::next_id)).
    pub id: u64,
    /// By source key.
    pub writes: Vec<(String, Pending)>,
}

/// One write of an outbox window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub operation: Operation,
    /// The target id, for updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    pub since: i64,
    /// For a create, the fingerprint of what it sent (hex): found after a crash and unchanged
    /// since, the record needs no update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl Fingerprint {
    /// As a [`Pending`] keeps it.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// A rejected record, kept until it is replayed or dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub job: String,
    /// The step that rejected it, as reported (`steps[2] (lookup)`, `target`).
    pub step: String,
    /// Where a replay starts: the index of that step, or the number of steps for the target.
    /// None when the record could not even be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<usize>,
    pub reason: String,
    pub key: String,
    pub at: i64,
    /// The record as the rejecting step received it (secrets never reach records).
    pub record: Value,
    /// Retried by the next run on its own (a reference that did not exist yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
    /// Unix seconds when the same record later went through: the entry is history, no longer
    /// listed as open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<i64>,
}

/// An alert about a job that reached people through a channel (`alerts:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerted {
    /// Unix seconds when it was sent.
    pub at: i64,
}

/// One change; a list of them is applied atomically.
#[derive(Debug, Clone)]
pub enum Change {
    Link {
        ns: Namespace,
        key: String,
        link: Link,
        /// What was sent, field by field (read only by dry-run plans). Empty: none sent.
        fields: FieldHashes,
        /// The ID map already holds `link.target_id` for the key (an update): its reverse
        /// entry stands, and the old link need not be read.
        same_id: bool,
    },
    /// The record was deleted on the target: its id and fingerprint are forgotten.
    Unlink {
        ns: Namespace,
        key: String,
    },
    Checkpoint {
        job: JobId,
        checkpoint: Checkpoint,
    },
    ResetCheckpoint {
        job: JobId,
    },
    /// Sets an outbox window's entry; a window without writes is removed.
    Outbox {
        ns: Namespace,
        window: OutboxWindow,
    },
    Quarantine {
        pipeline: String,
        entry: Box<Quarantined>,
    },
    Release {
        pipeline: String,
        id: u64,
    },
    /// How a job's last run under `serve` went.
    JobRun {
        job: JobId,
        run: JobRun,
    },
    /// A `review` job's pending plan (a dry-run plan, as JSON); `None` removes it.
    Review {
        job: JobId,
        plan: Option<serde_json::Value>,
    },
    /// The job's record with this key went through: its open quarantine entry, if any, is
    /// kept as history (`settled_at`) and no longer listed.
    Settle {
        pipeline: String,
        job: String,
        key: String,
    },
    /// An alert about `job` went out through `channel` (`chat`, `email`).
    Alerted {
        job: JobId,
        channel: String,
        alerted: Alerted,
    },
    /// A webhook job's inbox, or the deliveries it saw.
    Inbox(InboxChange),
}

/// A notification as it was received: verified, and read as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unix seconds.
    pub received_at: i64,
    pub body: Value,
}

/// A change of a webhook job's inbox or of the deliveries it saw.
#[derive(Debug, Clone)]
pub enum InboxChange {
    /// A notification received, stored under `id`, with the digests of the delivery (its id,
    /// its signature) marked as seen at its `received_at`, in the same batch.
    Add {
        job: JobId,
        id: u64,
        notification: Notification,
        seen: Vec<Vec<u8>>,
    },
    /// The job processed it (delivered or quarantined its records).
    Remove { job: JobId, id: u64 },
    /// A delivery seen at `at` is forgotten.
    Forget {
        job: JobId,
        at: i64,
        digest: Vec<u8>,
    },
}

/// One entry of the state as an export writes it, one a line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Link {
        ns: Namespace,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_id: Option<String>,
        /// 32 hex digits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
        synced_at: i64,
    },
    Checkpoint {
        job: JobId,
        checkpoint: Checkpoint,
    },
    Outbox {
        ns: Namespace,
        window: OutboxWindow,
    },
    Quarantined {
        pipeline: String,
        entry: Box<Quarantined>,
    },
    /// A webhook notification not processed yet.
    Notification {
        job: JobId,
        id: u64,
        notification: Notification,
    },
}

impl Entry {
    pub fn into_change(self) -> Result<Change, StateError> {
        Ok(match self {
            Entry::Link {
                ns,
                key,
                target_id,
                fingerprint,
                synced_at,
            } => {
                let fingerprint = fingerprint
                    .map(|hex| {
                        u128::from_str_radix(&hex, 16)
                            .map(Fingerprint)
                            .map_err(|_| StateError::Format(format!("fingerprint `{hex}`")))
                    })
                    .transpose()?;
                Change::Link {
                    ns,
                    key,
                    same_id: false,
                    fields: Default::default(),
                    link: Link {
                        target_id,
                        fingerprint,
                        synced_at,
                    },
                }
            }
            Entry::Checkpoint { job, checkpoint } => Change::Checkpoint { job, checkpoint },
            Entry::Outbox { ns, window } => Change::Outbox { ns, window },
            Entry::Quarantined { pipeline, entry } => Change::Quarantine { pipeline, entry },
            Entry::Notification {
                job,
                id,
                notification,
            } => Change::Inbox(InboxChange::Add {
                job,
                id,
                notification,
                seen: Vec::new(),
            }),
        })
    }
}

/// Unix seconds now.
/// How a job's last run under `serve` went: kept so that after a restart the scheduler knows
/// whether a run was missed (one catch-up run) and whether the jobs that need this one may run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// The time the run was due (unix seconds): its schedule's time, or when it was asked for.
    pub due: i64,
    pub started: i64,
    pub ended: i64,
    /// `succeeded`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
    /// When the job last succeeded (unix seconds): this run or an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i64>,
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_of_the_bytes_serde_json_writes() {
        // Fingerprints stored by earlier builds were of serde_json's bytes: they must match.
        let record = serde_json::json!({"name": "Caf\u{e9} \"noir\"\n", "price": 12.5, "tags": [1, {"a": null}]});
        let mut buffer = Vec::new();
        let (fingerprint, fields) = fingerprint(&record, &mut buffer);
        assert_eq!(buffer, serde_json::to_vec(&record).unwrap());
        assert_eq!(fingerprint, Fingerprint::of(&buffer));
        assert_eq!(fields.values.len(), 3);
        assert_eq!(fields.values[1], hash32(b"12.5"));
    }
}
