//! The whole state as JSON lines, one entry a line: for backups and for moving a client to
//! another machine. Reverse ID-map entries are not written; import rebuilds them.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{
    Change, Checkpoint, Fingerprint, JobId, Link, Namespace, OutboxWindow, Quarantined, StateError,
    StateStore,
};

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
        })
    }
}

/// Writes every entry; returns how many.
pub fn export(store: &dyn StateStore, out: &mut dyn Write) -> Result<u64, StateError> {
    let mut count = 0;
    store.export(&mut |entry| {
        serde_json::to_writer(&mut *out, &entry).map_err(|e| StateError::Store(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| StateError::Store(e.to_string()))?;
        count += 1;
        Ok(())
    })?;
    out.flush().map_err(|e| StateError::Store(e.to_string()))?;
    Ok(count)
}

/// Adds every line's entry to `store`, in batches; a malformed line stops the import and names
/// its number (nothing after it is applied).
pub fn import(store: &dyn StateStore, input: &mut dyn BufRead) -> Result<u64, StateError> {
    const BATCH: usize = 10_000;
    let mut changes = Vec::with_capacity(BATCH);
    let mut count = 0;
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|e| StateError::Store(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut entry: Entry = serde_json::from_str(&line)
            .map_err(|e| StateError::Format(format!("line {}: {e}", index + 1)))?;
        // Window ids are the state's own: one of another state could be handed out again.
        if let Entry::Outbox { window, .. } = &mut entry {
            window.id = store.next_id()?;
        }
        changes.push(entry.into_change()?);
        count += 1;
        if changes.len() == BATCH {
            store.apply(std::mem::take(&mut changes))?;
        }
    }
    store.apply(changes)?;
    store.flush()?;
    Ok(count)
}
