//! Replaying quarantined records (`state quarantine replay`, the status page's Replay and
//! "Save and retry"): from the step that rejected them, with the pipeline as it is now.

use std::collections::HashSet;

use crate::plan::{JobPlan, TargetPlan};
use crate::state::{Change, Quarantined, StateError, StateStore};

/// Quarantine entries, by id.
pub type Entries = Vec<(u64, Quarantined)>;

/// Splits entries into those that can be replayed and those whose record could not even be
/// read (nothing to replay: the source must be fixed). Replaying a record the target rejected
/// is someone saying the way is clear: a create left unverifiable by a crash is sent again, so
/// its outbox entry is cleared here.
pub fn prepare(
    job: &JobPlan,
    state: &dyn StateStore,
    entries: Entries,
) -> Result<(Entries, Entries), StateError> {
    let (replayable, unreadable): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(_, e)| e.resume_at.is_some());
    if let TargetPlan::Keyed(keyed) = &job.target {
        let steps = job.steps.len();
        let cleared: HashSet<&str> = replayable
            .iter()
            .filter(|(_, e)| e.resume_at == Some(steps))
            .map(|(_, e)| e.key.as_str())
            .collect();
        let rewritten = state
            .pending(&keyed.ns)?
            .into_iter()
            .filter(|w| {
                w.writes
                    .iter()
                    .any(|(key, _)| cleared.contains(key.as_str()))
            })
            .map(|mut window| {
                window
                    .writes
                    .retain(|(key, _)| !cleared.contains(key.as_str()));
                Change::Outbox {
                    ns: keyed.ns.clone(),
                    window,
                }
            })
            .collect();
        state.apply(rewritten)?;
    }
    Ok((replayable, unreadable))
}

/// Corrects a quarantined record's fields before it is replayed: text given for a field that
/// holds a number or a boolean is read as one when it can be.
pub fn correct(record: &mut serde_json::Value, edits: Vec<(String, String)>) {
    let Some(record) = record.as_object_mut() else {
        return;
    };
    for (field, text) in edits {
        let value = match record.get(&field) {
            Some(serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
            }
            _ => serde_json::Value::String(text),
        };
        record.insert(field, value);
    }
}
