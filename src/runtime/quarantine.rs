//! The job's open quarantine entries, settled when their records later go through.

use std::collections::HashSet;

use crate::state::{Change, StateError, StateStore};

/// The keys of the job's open quarantine entries: a record that later goes through settles
/// its entry, which then leaves `state quarantine list`.
pub struct OpenQuarantine {
    pipeline: String,
    job: String,
    keys: HashSet<String>,
}

impl OpenQuarantine {
    pub fn load(state: &dyn StateStore, pipeline: &str, job: &str) -> Result<Self, StateError> {
        let keys = state
            .quarantined(pipeline, Some(job))?
            .into_iter()
            .map(|(_, entry)| entry.key)
            .collect();
        Ok(OpenQuarantine {
            pipeline: pipeline.to_string(),
            job: job.to_string(),
            keys,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The change that settles `key`'s entry, the first time the key goes through.
    pub fn settle(&mut self, key: &str) -> Option<Change> {
        self.keys.remove(key).then(|| Change::Settle {
            pipeline: self.pipeline.clone(),
            job: self.job.clone(),
            key: key.to_string(),
        })
    }
}
