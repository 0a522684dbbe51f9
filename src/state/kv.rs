//! [`StateStore`] over any ordered key-value map: the layout lives here once, the backends only
//! store bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::codec::{self, CHECKPOINT, LINK, NAMESPACE, PENDING, QUARANTINE, REVERSE};
use super::entry::{
    Alerted, Change, Checkpoint, Entry, FieldHashes, JobId, JobRun, Link, Namespace, Notification,
    OutboxWindow, Pending, Quarantined, now,
};
use super::error::StateError;
use super::inbox::{self, INBOX};
use super::store::StateStore;

/// Called with each entry of a scan; returns whether to go on.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StateError> + 'a;

/// An ordered byte map with atomic batches.
pub trait Kv: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Every entry whose key starts with `prefix`, in key order from `from` (at or after the
    /// prefix), until `each` returns false.
    fn scan(&self, prefix: &[u8], from: &[u8], each: &mut Visit) -> Result<(), StateError>;
    /// Sets (`Some`) and removes (`None`), all or nothing.
    fn apply(&self, batch: Vec<Write>) -> Result<(), StateError>;
    fn flush(&self) -> Result<(), StateError>;
    /// A number never handed out before by this store.
    fn next_id(&self) -> Result<u64, StateError>;
}

pub struct KvStore<K> {
    kv: K,
    /// Namespaces whose registry entry is known to be written.
    registered: Mutex<HashSet<[u8; 8]>>,
}

/// One write of a batch: a key, and its value or `None` to remove it.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

impl<K: Kv> KvStore<K> {
    pub fn new(kv: K) -> Self {
        KvStore {
            kv,
            registered: Mutex::new(HashSet::new()),
        }
    }

    /// The registry entry of `ns`, the first time this store writes under it.
    fn register(&self, ns: &Namespace) -> Result<Option<Write>, StateError> {
        let hash = codec::ns_hash(ns);
        let mut registered = self
            .registered
            .lock()
            .map_err(|_| StateError::Store("poisoned".into()))?;
        if !registered.insert(hash) {
            return Ok(None);
        }
        Ok(Some((
            codec::namespace_key(hash),
            Some(codec::encode_json(ns)?),
        )))
    }

    /// Every entry under `prefix` from `from` on, decoded by `decode` from the key's rest (after
    /// the prefix) and the value; `None` skips an entry. Stops after `limit` entries.
    fn collect<T>(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
        decode: impl Fn(&[u8], &[u8]) -> Result<Option<T>, StateError>,
    ) -> Result<Vec<T>, StateError> {
        let mut found = Vec::new();
        self.kv.scan(prefix, from, &mut |key, value| {
            found.extend(decode(&key[prefix.len()..], value)?);
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// Every registered namespace, by hash.
    /// The open entries of a pipeline's quarantine, or the settled ones.
    fn quarantine_entries(
        &self,
        pipeline: &str,
        job: Option<&str>,
        settled: bool,
    ) -> Result<Vec<(u64, Quarantined)>, StateError> {
        let prefix = codec::pipeline_prefix(QUARANTINE, pipeline);
        self.collect(&prefix, &prefix, usize::MAX, |rest, value| {
            let entry: Quarantined = codec::decode_json(value, "quarantine entry")?;
            let wanted =
                entry.settled_at.is_some() == settled && job.is_none_or(|j| j == entry.job);
            Ok(wanted.then_some((quarantine_id(rest)?, entry)))
        })
    }

    fn namespaces(&self) -> Result<HashMap<[u8; 8], Namespace>, StateError> {
        let mut found = HashMap::new();
        self.kv
            .scan(&[NAMESPACE], &[NAMESPACE], &mut |key, value| {
                let (hash, _) = codec::split_ns_key(key)?;
                found.insert(hash, codec::decode_json(value, "namespace")?);
                Ok(true)
            })?;
        Ok(found)
    }

    pub fn kv(&self) -> &K {
        &self.kv
    }
}

impl<K: Kv> StateStore for KvStore<K> {
    fn link(&self, ns: &Namespace, key: &str) -> Result<Option<Link>, StateError> {
        self.kv
            .get(&codec::ns_key(LINK, ns, key))?
            .map(|bytes| codec::decode_link(&bytes))
            .transpose()
    }

    fn links_from(
        &self,
        ns: &Namespace,
        from: &str,
        limit: usize,
    ) -> Result<Vec<(String, Link)>, StateError> {
        let prefix = codec::ns_prefix(LINK, ns);
        self.collect(
            &prefix,
            &codec::ns_key(LINK, ns, from),
            limit,
            |rest, value| Ok(Some((text(rest), codec::decode_link(value)?))),
        )
    }

    fn field_hashes(&self, ns: &Namespace, key: &str) -> Result<FieldHashes, StateError> {
        match self.kv.get(&codec::ns_key(LINK, ns, key))? {
            Some(bytes) => codec::decode_link_fields(&bytes),
            None => Ok(FieldHashes::default()),
        }
    }

    fn key_for_id(&self, ns: &Namespace, target_id: &str) -> Result<Option<String>, StateError> {
        self.kv
            .get(&codec::ns_key(REVERSE, ns, target_id))?
            .map(|bytes| codec::decode_text(&bytes))
            .transpose()
    }

    fn checkpoint(&self, job: &JobId) -> Result<Option<Checkpoint>, StateError> {
        self.kv
            .get(&codec::checkpoint_key(job))?
            .map(|bytes| codec::decode_json(&bytes, "checkpoint"))
            .transpose()
    }

    fn pending(&self, ns: &Namespace) -> Result<Vec<OutboxWindow>, StateError> {
        let prefix = codec::ns_prefix(PENDING, ns);
        self.collect(&prefix, &prefix, usize::MAX, |rest, value| {
            match codec::decode_json(value, "outbox entry") {
                Ok(window) => Ok(Some(window)),
                // One entry per record, not per window: the layout of builds before 2026-12-02.
                Err(_) if codec::decode_json::<Pending>(value, "").is_ok() => Err(
                    StateError::Older(format!("an outbox entry ({ns}, record `{}`)", text(rest))),
                ),
                Err(e) => Err(e),
            }
        })
    }

    fn next_id(&self) -> Result<u64, StateError> {
        self.kv.next_id()
    }

    fn quarantined(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError> {
        self.quarantine_entries(pipeline, job, false)
    }

    fn quarantine_history(
        &self,
        pipeline: &str,
        job: Option<&str>,
    ) -> Result<Vec<(u64, Quarantined)>, StateError> {
        self.quarantine_entries(pipeline, job, true)
    }

    fn job_run(&self, job: &JobId) -> Result<Option<JobRun>, StateError> {
        self.kv
            .get(&codec::job_key(codec::JOB_RUN, job))?
            .map(|bytes| codec::decode_json(&bytes, "job run"))
            .transpose()
    }

    fn review(&self, job: &JobId) -> Result<Option<serde_json::Value>, StateError> {
        self.kv
            .get(&codec::job_key(codec::REVIEW, job))?
            .map(|bytes| codec::decode_json(&bytes, "pending plan"))
            .transpose()
    }

    fn checkpoints(&self, pipeline: &str) -> Result<Vec<(String, Checkpoint)>, StateError> {
        let prefix = codec::pipeline_prefix(CHECKPOINT, pipeline);
        self.collect(&prefix, &prefix, usize::MAX, |rest, value| {
            Ok(Some((text(rest), codec::decode_json(value, "checkpoint")?)))
        })
    }

    fn alerted(&self, job: &JobId, channel: &str) -> Result<Option<Alerted>, StateError> {
        self.kv
            .get(&codec::alerted_key(job, channel))?
            .map(|bytes| codec::decode_json(&bytes, "alert time"))
            .transpose()
    }

    fn apply(&self, changes: Vec<Change>) -> Result<(), StateError> {
        let mut batch = Vec::with_capacity(changes.len() * 2);
        for change in changes {
            match change {
                Change::Link {
                    ns,
                    key,
                    link,
                    same_id,
                    fields,
                } => {
                    batch.extend(self.register(&ns)?);
                    let link_key = codec::ns_key(LINK, &ns, &key);
                    let old_id = if same_id {
                        link.target_id.clone()
                    } else {
                        match self.kv.get(&link_key)? {
                            Some(old) => codec::decode_link(&old)?.target_id,
                            None => None,
                        }
                    };
                    // A record that moved to another target id must not stay reachable from
                    // the old one; one that kept its id keeps its reverse entry as it is.
                    if let Some(old_id) = old_id
                        .as_ref()
                        .filter(|o| Some(*o) != link.target_id.as_ref())
                    {
                        batch.push((codec::ns_key(REVERSE, &ns, old_id), None));
                    }
                    if let Some(id) = link
                        .target_id
                        .as_ref()
                        .filter(|id| Some(*id) != old_id.as_ref())
                    {
                        batch.push((
                            codec::ns_key(REVERSE, &ns, id),
                            Some(codec::encode_text(&key)),
                        ));
                    }
                    batch.push((link_key, Some(codec::encode_link_with(&link, &fields))));
                }
                Change::Unlink { ns, key } => {
                    let link_key = codec::ns_key(LINK, &ns, &key);
                    if let Some(old) = self.kv.get(&link_key)?
                        && let Some(old_id) = codec::decode_link(&old)?.target_id
                    {
                        batch.push((codec::ns_key(REVERSE, &ns, &old_id), None));
                    }
                    batch.push((link_key, None));
                }
                Change::Checkpoint { job, checkpoint } => {
                    batch.push((
                        codec::checkpoint_key(&job),
                        Some(codec::encode_json(&checkpoint)?),
                    ));
                }
                Change::ResetCheckpoint { job } => batch.push((codec::checkpoint_key(&job), None)),
                Change::JobRun { job, run } => {
                    batch.push((
                        codec::job_key(codec::JOB_RUN, &job),
                        Some(codec::encode_json(&run)?),
                    ));
                }
                Change::Review { job, plan } => batch.push((
                    codec::job_key(codec::REVIEW, &job),
                    plan.map(|p| codec::encode_json(&p)).transpose()?,
                )),
                Change::Outbox { ns, window } => {
                    let key = codec::outbox_key(&ns, window.id);
                    if window.writes.is_empty() {
                        batch.push((key, None));
                    } else {
                        batch.extend(self.register(&ns)?);
                        batch.push((key, Some(codec::encode_json(&window)?)));
                    }
                }
                Change::Quarantine { pipeline, entry } if entry.settled_at.is_some() => {
                    // History (from an import): kept, and not the key's open entry.
                    let id = self.kv.next_id()?;
                    batch.push((
                        codec::quarantine_key(&pipeline, id),
                        Some(codec::encode_json(&entry)?),
                    ));
                }
                Change::Quarantine { pipeline, entry } => {
                    let index = codec::quarantined_key(&pipeline, &entry.job, &entry.key);
                    if let Some(old) = self.kv.get(&index)? {
                        batch.push((codec::quarantine_key(&pipeline, quarantine_id(&old)?), None));
                    }
                    let id = self.kv.next_id()?;
                    batch.push((index, Some(id.to_be_bytes().to_vec())));
                    batch.push((
                        codec::quarantine_key(&pipeline, id),
                        Some(codec::encode_json(&entry)?),
                    ));
                }
                Change::Release { pipeline, id } => {
                    let entry_key = codec::quarantine_key(&pipeline, id);
                    if let Some(old) = self.kv.get(&entry_key)? {
                        let old: Quarantined = codec::decode_json(&old, "quarantine entry")?;
                        let index = codec::quarantined_key(&pipeline, &old.job, &old.key);
                        // Only when it still points here: a newer entry may have replaced it.
                        if self.kv.get(&index)?.is_some_and(|v| v == id.to_be_bytes()) {
                            batch.push((index, None));
                        }
                    }
                    batch.push((entry_key, None));
                }
                Change::Settle { pipeline, job, key } => {
                    let index = codec::quarantined_key(&pipeline, &job, &key);
                    let Some(id) = self.kv.get(&index)? else {
                        continue;
                    };
                    let entry_key = codec::quarantine_key(&pipeline, quarantine_id(&id)?);
                    if let Some(entry) = self.kv.get(&entry_key)? {
                        let mut entry: Quarantined =
                            codec::decode_json(&entry, "quarantine entry")?;
                        entry.settled_at = Some(now());
                        batch.push((entry_key, Some(codec::encode_json(&entry)?)));
                    }
                    batch.push((index, None));
                }
                Change::Alerted {
                    job,
                    channel,
                    alerted,
                } => batch.push((
                    codec::alerted_key(&job, &channel),
                    Some(codec::encode_json(&alerted)?),
                )),
                Change::Inbox(change) => batch.extend(inbox::writes(change)?),
            }
        }
        self.kv.apply(batch)
    }

    fn flush(&self) -> Result<(), StateError> {
        self.kv.flush()
    }

    fn inbox(
        &self,
        job: &JobId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>, StateError> {
        self.inbox_entries(job, from, limit)
    }

    fn seen(&self, job: &JobId, digest: &[u8]) -> Result<Option<i64>, StateError> {
        self.kv
            .get(&inbox::seen_key(job, digest))?
            .map(|bytes| inbox::decode_seen(&bytes))
            .transpose()
    }

    fn seen_before(
        &self,
        job: &JobId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        self.seen_entries(job, before, limit)
    }

    fn export(
        &self,
        each: &mut dyn FnMut(Entry) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let namespaces = self.namespaces()?;
        let namespace = |hash: [u8; 8]| {
            namespaces.get(&hash).cloned().ok_or_else(|| {
                StateError::Format("an ID-map entry of an unregistered namespace".into())
            })
        };
        self.kv.scan(&[], &[], &mut |key, value| {
            let entry = match key.first() {
                Some(&LINK) => {
                    let (hash, rest) = codec::split_ns_key(key)?;
                    let link = codec::decode_link(value)?;
                    Entry::Link {
                        ns: namespace(hash)?,
                        key: text(rest),
                        target_id: link.target_id,
                        fingerprint: link.fingerprint.map(|f| f.to_string()),
                        synced_at: link.synced_at,
                    }
                }
                // Rebuilt from the links on import.
                Some(&REVERSE) | Some(&NAMESPACE) | Some(&codec::QUARANTINED_KEY) => {
                    return Ok(true);
                }
                Some(&CHECKPOINT) => {
                    let parts = codec::split_key(key, 1)?;
                    Entry::Checkpoint {
                        job: JobId {
                            pipeline: parts.parts.into_iter().next().unwrap_or_default(),
                            job: text(parts.rest),
                        },
                        checkpoint: codec::decode_json(value, "checkpoint")?,
                    }
                }
                Some(&PENDING) => {
                    let (hash, _) = codec::split_ns_key(key)?;
                    Entry::Outbox {
                        ns: namespace(hash)?,
                        window: codec::decode_json(value, "outbox entry")?,
                    }
                }
                Some(&QUARANTINE) => {
                    let parts = codec::split_key(key, 1)?;
                    Entry::Quarantined {
                        pipeline: parts.parts.into_iter().next().unwrap_or_default(),
                        entry: Box::new(codec::decode_json(value, "quarantine entry")?),
                    }
                }
                // Deliveries seen are not: an imported state forgets them.
                Some(&INBOX) => {
                    let parts = codec::split_key(key, 2)?;
                    let mut names = parts.parts.into_iter();
                    Entry::Notification {
                        job: JobId {
                            pipeline: names.next().unwrap_or_default(),
                            job: names.next().unwrap_or_default(),
                        },
                        id: inbox::id_of(parts.rest)?,
                        notification: codec::decode_json(value, "webhook notification")?,
                    }
                }
                _ => return Ok(true),
            };
            each(entry)?;
            Ok(true)
        })
    }
}

impl<K: Kv> KvStore<K> {
    /// [`StateStore::inbox`].
    fn inbox_entries(
        &self,
        job: &JobId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>, StateError> {
        let prefix = inbox::job_prefix(INBOX, job);
        self.collect(
            &prefix,
            &inbox::inbox_key(job, from),
            limit,
            |rest, value| {
                Ok(Some((
                    inbox::id_of(rest)?,
                    codec::decode_json(value, "webhook notification")?,
                )))
            },
        )
    }

    /// [`StateStore::seen_before`].
    fn seen_entries(
        &self,
        job: &JobId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        let prefix = inbox::job_prefix(inbox::SEEN_AT, job);
        let mut found = Vec::new();
        self.kv.scan(&prefix, &prefix, &mut |key, _| {
            let (at, digest) = inbox::split_seen_at(&key[prefix.len()..])?;
            if at >= before {
                return Ok(false);
            }
            found.push((at, digest));
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn quarantine_id(bytes: &[u8]) -> Result<u64, StateError> {
    let raw: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StateError::Format("a quarantine key".into()))?;
    Ok(u64::from_be_bytes(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    #[test]
    fn an_outbox_entry_of_the_per_record_layout_is_refused_by_name() {
        let store = MemoryStore::empty();
        let ns = Namespace {
            pipeline: "p".into(),
            connection: "shop".into(),
            entity: "product".into(),
        };
        let old = br#"{"operation":"create","since":1}"#;
        let mut value = vec![codec::FORMAT];
        value.extend_from_slice(old);
        store
            .kv()
            .apply(vec![(codec::ns_key(PENDING, &ns, "AR-1"), Some(value))])
            .unwrap();
        let error = store.pending(&ns).unwrap_err().to_string();
        assert!(error.contains("earlier syncline build"), "{error}");
        assert!(error.contains("`AR-1`"), "{error}");
    }
}
