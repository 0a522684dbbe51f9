//! The whole state as JSON lines, one entry a line: for backups and for moving a client to
//! another machine. Reverse ID-map entries are not written; import rebuilds them.

use std::io::{BufRead, Write};

use super::entry::Entry;
use super::error::StateError;
use super::store::StateStore;

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
        // So are notification ids; given in the order read, they keep the arrival order.
        if let Entry::Notification { id, .. } = &mut entry {
            *id = store.next_id()?;
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
