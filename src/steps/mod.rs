//! Record steps, one module per kind. A step receives one record and pushes zero, one or many
//! records onward, or rejects the record with a reason (it goes to the quarantine; the job goes
//! on). Everything a step needs (paths, tables, rhai ASTs) is compiled before the first record.

pub mod compile;
pub mod convert;
pub mod fetch;
pub mod filter;
pub mod group;
pub mod lookup;
pub mod map;
pub mod script;
pub mod split;
pub mod table;

use crate::record::Record;
use crate::state::StateStore;

/// Why a record was rejected, for the quarantine and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The step that rejected it, e.g. `steps[2] (lookup)` or `map.price`.
    pub step: String,
    pub reason: String,
    /// The index of that step in the chain (the number of steps for the target), where a
    /// replay of the record starts. Set by the chain.
    pub resume_at: Option<usize>,
    /// A reference to a record the ID map does not hold yet: may be deferred to the next run.
    pub missing_ref: bool,
}

impl Rejection {
    pub fn new(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection {
            step: step.into(),
            reason: reason.into(),
            resume_at: None,
            missing_ref: false,
        }
    }

    pub fn missing_ref(reason: impl Into<String>) -> Self {
        Rejection {
            missing_ref: true,
            ..Rejection::new("", reason)
        }
    }
}

/// A compiled step.
#[derive(Debug)]
pub enum StepPlan {
    Map(map::MapStep),
    Filter(filter::FilterStep),
    Lookup(lookup::LookupStep),
    Split(split::SplitStep),
    Group(group::GroupStep),
    Script(script::ScriptStep),
    Fetch(fetch::FetchStep),
}

/// The top-level fields of the source records that a chain of steps reads, when that is known
/// and the chain's output depends on nothing else (it ends with a `map`, and no rhai code sees
/// whole records). The reader can then skip every other field while parsing.
pub fn projection(steps: &[StepPlan]) -> Option<Vec<String>> {
    if !matches!(steps.last(), Some(StepPlan::Map(_))) {
        return None;
    }
    let mut paths: Vec<&crate::record::path::CompiledPath> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    for step in steps {
        match step {
            StepPlan::Map(m) => {
                for field in &m.fields {
                    paths.extend(field.reads()?);
                }
            }
            StepPlan::Filter(f) => {
                fields.extend(f.native_fields()?.into_iter().map(str::to_string))
            }
            StepPlan::Lookup(l) => paths.push(&l.from),
            StepPlan::Split(s) => paths.push(&s.path),
            StepPlan::Group(g) => paths.push(&g.by),
            // Scripts see whole records; a fetch's request may name any field.
            StepPlan::Script(_) | StepPlan::Fetch(_) => return None,
        }
    }
    for path in paths {
        fields.push(path.first_field()?.to_string());
    }
    fields.sort();
    fields.dedup();
    Some(fields)
}

/// The steps of one job for one run: the compiled plans plus the state a run accumulates
/// (the group being gathered).
pub struct Chain<'p> {
    steps: &'p [StepPlan],
    /// For `ref` fields.
    state: Option<&'p dyn StateStore>,
    groups: Vec<Option<group::Gathering>>,
    /// The records between two steps, reused for every record so a run allocates them once.
    current: Vec<Record>,
    next: Vec<Record>,
    /// Why the job must stop (an API a `fetch` reads cannot be read), once it must.
    stopped: Option<String>,
}

/// What a chain did with one input record.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChainCounts {
    pub filtered: u64,
}

impl<'p> Chain<'p> {
    pub fn new(steps: &'p [StepPlan], state: Option<&'p dyn StateStore>) -> Self {
        Chain {
            steps,
            state,
            groups: steps.iter().map(|_| None).collect(),
            current: Vec::new(),
            next: Vec::new(),
            stopped: None,
        }
    }

    /// Runs `record` through every step; what comes out is pushed to `out`, what is rejected to
    /// `rejected` (with the record as it was when rejected).
    pub fn push(
        &mut self,
        record: Record,
        out: &mut Vec<Record>,
        rejected: &mut Vec<(Record, Rejection)>,
        counts: &mut ChainCounts,
    ) {
        self.push_from(0, record, out, rejected, counts);
    }

    /// Runs `record` from the step at `first` on (a replay from the quarantine starts at the
    /// step that rejected it).
    pub fn push_from(
        &mut self,
        first: usize,
        record: Record,
        out: &mut Vec<Record>,
        rejected: &mut Vec<(Record, Rejection)>,
        counts: &mut ChainCounts,
    ) {
        let first = first.min(self.steps.len());
        let mut current = std::mem::take(&mut self.current);
        let mut next = std::mem::take(&mut self.next);
        current.push(record);
        for index in first..self.steps.len() {
            for mut record in current.drain(..) {
                let result = match &self.steps[index] {
                    StepPlan::Map(s) => s.apply(&record, self.state).map(|r| next.push(r)),
                    StepPlan::Filter(s) => match s.apply(&record) {
                        Ok(true) => {
                            next.push(record);
                            continue;
                        }
                        Ok(false) => {
                            counts.filtered += 1;
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                    StepPlan::Lookup(s) => match s.apply(&mut record) {
                        Ok(()) => {
                            next.push(record);
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                    StepPlan::Split(s) => s.apply(&record, &mut next),
                    StepPlan::Group(s) => {
                        next.extend(s.push(&mut self.groups[index], record));
                        continue;
                    }
                    StepPlan::Script(s) => s.apply(&record).map(|r| next.push(r)),
                    StepPlan::Fetch(s) => match s.apply(record) {
                        Ok(fetched) => {
                            next.push(fetched);
                            continue;
                        }
                        Err((failed, fetch::FetchFailure::Record(reason))) => {
                            record = failed;
                            Err(s.rejection(reason))
                        }
                        // Neither passed on nor quarantined: the next run reads it again.
                        Err((_, fetch::FetchFailure::Stop(reason))) => {
                            self.stopped.get_or_insert(reason);
                            continue;
                        }
                    },
                };
                if let Err(mut rejection) = result {
                    rejection.resume_at = Some(index);
                    rejected.push((record, rejection));
                }
            }
            std::mem::swap(&mut current, &mut next);
            if current.is_empty() {
                break;
            }
        }
        out.append(&mut current);
        (self.current, self.next) = (current, next);
    }

    /// Why the job must stop, once a step said so.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// End of input: groups still gathering are emitted and run through the steps after them.
    pub fn finish(
        &mut self,
        out: &mut Vec<Record>,
        rejected: &mut Vec<(Record, Rejection)>,
        counts: &mut ChainCounts,
    ) {
        for index in 0..self.steps.len() {
            if let (StepPlan::Group(step), Some(gathering)) =
                (&self.steps[index], self.groups[index].take())
            {
                let record = step.document(gathering);
                self.push_from(index + 1, record, out, rejected, counts);
            }
        }
    }
}
