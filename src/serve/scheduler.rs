//! Which jobs of a pipeline run now. No clock of its own: every decision takes the time it is
//! made at, so tests move time as they like.
//!
//! The rules:
//! - never two runs of one job at once: a job still running when it is due again is skipped,
//!   and the skip is reported;
//! - after downtime, at most one catch-up run: a job whose schedule came due while nothing ran
//!   it runs once, at once, then keeps its schedule;
//! - `needs` hold for scheduled runs: a job waits while a job it needs runs, is skipped when that
//!   job's last run failed, and takes it along when it never succeeded.

use chrono::{DateTime, Utc};

use super::timetable::Timetable;
use crate::state::JobRun;

/// One job as the scheduler sees it.
#[derive(Debug)]
pub struct Slot {
    pub name: String,
    /// Indexes of the slots it needs.
    pub needs: Vec<usize>,
    pub timetable: Option<Timetable>,
    /// When it is next due; `None`: only by hand (or a webhook).
    pub next: Option<DateTime<Utc>>,
    pub running: bool,
    /// Due, but waiting for a job it needs that is running: the time it came due.
    waiting: Option<DateTime<Utc>>,
    /// How its last run went (kept in the state, so known across restarts).
    pub last: Option<JobRun>,
    /// Runs completed since `serve` started.
    pub runs: u64,
    /// Runs skipped since `serve` started: still running when due, or a needed job failed.
    pub skipped: u64,
    /// Notifications wait in its inbox: it runs as soon as it is not running.
    pub notified: bool,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run these jobs (a job and the needed ones that never succeeded), due at `due`.
    Run {
        jobs: Vec<usize>,
        due: DateTime<Utc>,
    },
    /// The job was due and does not run: why, in words.
    Skip {
        job: usize,
        due: DateTime<Utc>,
        reason: String,
    },
}

/// Why a run asked for by hand cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Busy {
    #[error("`{0}` is running: one run of a job at a time")]
    Running(String),
}

/// A pipeline's jobs on their schedules.
#[derive(Debug)]
pub struct Scheduler {
    pub slots: Vec<Slot>,
}

/// A job as the plan gives it: its name, the jobs it needs (indexes), its timetable, and its
/// last run from the state.
pub struct JobEntry {
    pub name: String,
    pub needs: Vec<usize>,
    pub timetable: Option<Timetable>,
    pub last: Option<JobRun>,
}

impl Scheduler {
    /// Starting at `now`: a job whose schedule came due since its last run is due now (the one
    /// catch-up run); an interval that never ran is due now; a cron expression that never ran
    /// waits for its next time.
    pub fn new(jobs: Vec<JobEntry>, now: DateTime<Utc>) -> Scheduler {
        let slots = jobs
            .into_iter()
            .map(|job| {
                let next = job.timetable.as_ref().and_then(|t| {
                    let since = job.last.as_ref().map(|l| timestamp(l.due));
                    match since {
                        Some(since) => t.next_after(since).map(|n| n.max(now)),
                        None if t.is_interval() => Some(now),
                        None => t.next_after(now),
                    }
                });
                Slot {
                    name: job.name,
                    needs: job.needs,
                    timetable: job.timetable,
                    next,
                    running: false,
                    waiting: None,
                    last: job.last,
                    runs: 0,
                    skipped: 0,
                    notified: false,
                }
            })
            .collect();
        Scheduler { slots }
    }

    /// Keeps what is known of the jobs that `old` also has (running, last run, counts, when
    /// next due): for a pipeline reloaded with changes.
    pub fn carry_over(&mut self, old: Scheduler) {
        for old in old.slots {
            if let Some(slot) = self.slots.iter_mut().find(|s| s.name == old.name) {
                slot.running = old.running;
                slot.waiting = old.waiting;
                slot.last = old.last;
                slot.runs = old.runs;
                slot.skipped = old.skipped;
                slot.notified |= old.notified;
                // A changed schedule is taken from the next run on.
                if slot.timetable.is_some() && old.timetable.is_some() {
                    slot.next = old.next;
                }
            }
        }
    }

    /// The earliest time something is due.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.slots.iter().filter_map(|s| s.next).min()
    }

    /// Notifications arrived for the job: it runs at the next decision (or after its run).
    pub fn notify(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.notified = true;
        }
    }

    /// What is due at `now`. Jobs to run are marked running until [`Scheduler::finished`].
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            if slot.notified && !slot.running {
                slot.notified = false;
                slot.running = true;
                decisions.push(Decision::Run {
                    jobs: vec![index],
                    due: now,
                });
                continue;
            }
            let due = match (slot.waiting, slot.next) {
                (Some(waiting), _) => waiting,
                (None, Some(next)) if next <= now => {
                    slot.next = next_time(slot.timetable.as_ref(), next, now);
                    if slot.running {
                        slot.skipped += 1;
                        decisions.push(Decision::Skip {
                            job: index,
                            due: next,
                            reason: "its previous run is still going".to_string(),
                        });
                        continue;
                    }
                    next
                }
                _ => continue,
            };
            match self.needed(index) {
                Needed::Wait => self.slots[index].waiting = Some(due),
                Needed::Failed(need) => {
                    let slot = &mut self.slots[index];
                    slot.waiting = None;
                    slot.skipped += 1;
                    decisions.push(Decision::Skip {
                        job: index,
                        due,
                        reason: format!("it needs `{need}`, whose last run did not succeed"),
                    });
                }
                Needed::Ready(mut jobs) => {
                    jobs.push(index);
                    for &job in &jobs {
                        self.slots[job].running = true;
                        self.slots[job].waiting = None;
                    }
                    decisions.push(Decision::Run { jobs, due });
                }
            }
        }
        decisions
    }

    /// A run asked for by hand (or by a webhook): the job alone, at once.
    pub fn run_now(&mut self, index: usize) -> Result<(), Busy> {
        let slot = &mut self.slots[index];
        if slot.running {
            return Err(Busy::Running(slot.name.clone()));
        }
        slot.running = true;
        Ok(())
    }

    /// A job's run ended.
    pub fn finished(&mut self, index: usize, run: JobRun) {
        let slot = &mut self.slots[index];
        slot.running = false;
        slot.runs += 1;
        slot.last = Some(run);
    }

    /// Whether the jobs `index` needs let it run: the needed jobs that never succeeded come
    /// along, in dependency order.
    fn needed(&self, index: usize) -> Needed {
        let mut along = Vec::new();
        let mut stack = self.slots[index].needs.clone();
        while let Some(need) = stack.pop() {
            let slot = &self.slots[need];
            if slot.running || slot.waiting.is_some() {
                return Needed::Wait;
            }
            match &slot.last {
                Some(last) if last.status == "succeeded" => {}
                Some(last) if last.succeeded.is_some() => {
                    return Needed::Failed(slot.name.clone());
                }
                // Never succeeded: it runs first (again), with what it needs in turn.
                _ => {
                    if !along.contains(&need) {
                        along.push(need);
                        stack.extend(slot.needs.iter().copied());
                    }
                }
            }
        }
        // Plan order puts every job after the jobs it needs.
        along.sort_unstable();
        Needed::Ready(along)
    }
}

enum Needed {
    Ready(Vec<usize>),
    Wait,
    Failed(String),
}

/// When a job due at `due` is next due, seen at `now`: ticks that passed meanwhile are not
/// made up for.
fn next_time(
    timetable: Option<&Timetable>,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let timetable = timetable?;
    match timetable.next_after(due) {
        Some(next) if next <= now => timetable.next_after(now),
        next => next,
    }
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}
