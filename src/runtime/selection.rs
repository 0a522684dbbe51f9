//! Which part of a plan a run covers.

/// A part of a plan to run: `syncline run --job J --key K`, a scheduled job, a webhook's pull.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Indexes in `Plan::jobs`. A needed job left out is taken as done: the caller (a schedule,
    /// a person) decided it need not run now.
    pub jobs: Option<Vec<usize>>,
    /// Only the records with these keys (`key` of the target, or of the source when the final
    /// map copies it). Such a run reads from the start and never moves the checkpoint.
    pub keys: Option<KeySet>,
}

pub type KeySet = std::collections::HashSet<String>;

impl Selection {
    pub fn runs(&self, job: usize) -> bool {
        self.jobs.as_ref().is_none_or(|jobs| jobs.contains(&job))
    }
}
