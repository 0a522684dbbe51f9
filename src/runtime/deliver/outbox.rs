//! A keyed target's outbox, as one delivery keeps it: the windows it recorded and the ones
//! earlier runs left over, each with what it still holds. A window's entry is written once,
//! before its first write is sent, and once more when its last write was answered: removed,
//! or rewritten with the writes that stay in doubt.

use std::collections::{HashMap, HashSet};

use crate::state::{Change, Namespace, Operation, OutboxWindow, Pending, StateError, StateStore};

use super::decide::{Decision, Prepared};

pub(crate) struct Outbox {
    ns: Namespace,
    /// This run's windows not fully answered yet.
    open: HashMap<u64, Open>,
    /// The windows earlier runs left over, and which of them holds each key's write.
    earlier: HashMap<u64, Vec<(String, Pending)>>,
    earlier_by_key: HashMap<String, u64>,
}

struct Open {
    since: i64,
    unanswered: usize,
    /// Writes answered as still in doubt, or never sent: they stay in the outbox.
    stays: Vec<(String, Pending)>,
}

/// What a write is recorded as; `None` for a decision that sends nothing.
fn pending(p: &Prepared, since: i64) -> Option<Pending> {
    let (operation, target_id) = match &p.decision {
        Decision::Update { target_id } => (Operation::Update, Some(target_id.clone())),
        Decision::Delete { target_id } => (Operation::Delete, Some(target_id.clone())),
        Decision::Create { .. } => (Operation::Create, None),
        Decision::Unchanged | Decision::Skipped => return None,
    };
    let fingerprint = (operation == Operation::Create).then(|| p.fingerprint.hex());
    Some(Pending {
        operation,
        target_id,
        since,
        fingerprint,
    })
}

impl Outbox {
    /// The outbox of `ns` as earlier runs left it, and their writes by source key.
    pub fn load(
        state: &dyn StateStore,
        ns: &Namespace,
    ) -> Result<(Outbox, HashMap<String, Pending>), StateError> {
        let mut left_over = HashMap::new();
        let mut earlier = HashMap::new();
        let mut earlier_by_key = HashMap::new();
        for window in state.pending(ns)? {
            for (key, pending) in &window.writes {
                earlier_by_key.insert(key.clone(), window.id);
                left_over.insert(key.clone(), pending.clone());
            }
            earlier.insert(window.id, window.writes);
        }
        let outbox = Outbox {
            ns: ns.clone(),
            open: HashMap::new(),
            earlier,
            earlier_by_key,
        };
        Ok((outbox, left_over))
    }

    /// Records the writes of `chunk` as a new window (each write learns its window): the
    /// changes to store, durably, before the first is sent. An earlier run's write of the same
    /// key is superseded by this one and leaves its window in the same change.
    pub fn record(
        &mut self,
        state: &dyn StateStore,
        chunk: &mut [Prepared],
        since: i64,
    ) -> Result<Vec<Change>, StateError> {
        let id = state.next_id()?;
        let mut writes = Vec::with_capacity(chunk.len());
        let mut superseded: HashSet<u64> = HashSet::new();
        for p in chunk.iter_mut() {
            let Some(pending) = pending(p, since) else {
                continue;
            };
            p.window = id;
            if let Some(window) = self.earlier_by_key.remove(&p.key) {
                superseded.insert(window);
            }
            writes.push((p.key.clone(), pending));
        }
        let mut changes = self.rewrite_earlier(superseded);
        if !writes.is_empty() {
            self.open.insert(
                id,
                Open {
                    since,
                    unanswered: writes.len(),
                    stays: Vec::new(),
                },
            );
            changes.push(self.entry(id, writes));
        }
        Ok(changes)
    }

    /// Earlier runs' writes found acknowledged after all (the ID map holds them, stored
    /// after they were recorded): the changes that take them out of their windows.
    pub fn acknowledged_earlier(&mut self, keys: &[String]) -> Vec<Change> {
        let windows = keys
            .iter()
            .filter_map(|key| self.earlier_by_key.remove(key))
            .collect();
        self.rewrite_earlier(windows)
    }

    /// The earlier windows, each with only the keys still in it (removed when empty).
    fn rewrite_earlier(&mut self, windows: HashSet<u64>) -> Vec<Change> {
        let mut changes = Vec::with_capacity(windows.len());
        for window in windows {
            if let Some(mut earlier) = self.earlier.remove(&window) {
                earlier.retain(|(key, _)| self.earlier_by_key.get(key) == Some(&window));
                if !earlier.is_empty() {
                    self.earlier.insert(window, earlier.clone());
                }
                changes.push(self.entry(window, earlier));
            }
        }
        changes
    }

    /// Accounts for one answered write (`stays`: it remains in doubt, or was never sent);
    /// once its window's last write is answered, the change that closes the window.
    pub fn answered(&mut self, p: &Prepared, stays: bool) -> Option<Change> {
        let open = self.open.get_mut(&p.window)?;
        open.unanswered -= 1;
        if stays {
            open.stays
                .extend(pending(p, open.since).map(|w| (p.key.clone(), w)));
        }
        if open.unanswered > 0 {
            return None;
        }
        let closed = self.open.remove(&p.window)?;
        Some(self.entry(p.window, closed.stays))
    }

    fn entry(&self, id: u64, writes: Vec<(String, Pending)>) -> Change {
        Change::Outbox {
            ns: self.ns.clone(),
            window: OutboxWindow { id, writes },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use crate::state::{Fingerprint, pending_writes};

    fn update(key: &str) -> Prepared {
        Prepared {
            key: key.into(),
            payload: serde_json::json!({}),
            fingerprint: Fingerprint(1),
            decision: Decision::Update {
                target_id: format!("id-{key}"),
            },
            at_stored_id: true,
            window: 0,
            fields: Default::default(),
        }
    }

    fn ns() -> Namespace {
        Namespace {
            pipeline: "p".into(),
            connection: "shop".into(),
            entity: "product".into(),
        }
    }

    #[test]
    fn a_window_is_one_entry_until_its_last_write_is_answered() {
        let state = MemoryStore::empty();
        let (mut outbox, left_over) = Outbox::load(&state, &ns()).unwrap();
        assert!(left_over.is_empty());
        let mut chunk = vec![update("a"), update("b"), update("c")];
        state
            .apply(outbox.record(&state, &mut chunk, 7).unwrap())
            .unwrap();
        assert_eq!(state.pending(&ns()).unwrap().len(), 1);
        assert!(outbox.answered(&chunk[0], false).is_none());
        assert!(outbox.answered(&chunk[1], true).is_none());
        // The last answer closes the window, keeping only the write still in doubt.
        let closing = outbox.answered(&chunk[2], false).unwrap();
        state.apply(vec![closing]).unwrap();
        let left = pending_writes(state.pending(&ns()).unwrap());
        assert_eq!(left.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(left["b"].target_id.as_deref(), Some("id-b"));
    }

    #[test]
    fn an_earlier_runs_write_leaves_its_window_when_recorded_again() {
        let state = MemoryStore::empty();
        let (mut first_run, _) = Outbox::load(&state, &ns()).unwrap();
        let mut chunk = vec![update("a"), update("b")];
        state
            .apply(first_run.record(&state, &mut chunk, 7).unwrap())
            .unwrap();
        // The process stopped: the next run finds both writes left over.
        let (mut next_run, left_over) = Outbox::load(&state, &ns()).unwrap();
        assert_eq!(left_over.len(), 2);
        let mut again = vec![update("a")];
        state
            .apply(next_run.record(&state, &mut again, 8).unwrap())
            .unwrap();
        let windows = state.pending(&ns()).unwrap();
        assert_eq!(windows.len(), 2, "{windows:?}");
        assert_eq!(windows[0].writes.len(), 1, "only b is left in the first");
        state
            .apply(next_run.answered(&again[0], false).into_iter().collect())
            .unwrap();
        let left = pending_writes(state.pending(&ns()).unwrap());
        assert_eq!(left.keys().collect::<Vec<_>>(), ["b"]);
    }
}
