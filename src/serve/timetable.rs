//! When a job is due: its `schedule` read in its time zone.

use chrono::{DateTime, Utc};

use crate::config::model::{Schedule, TimeZone, When};

/// A job's schedule, ready to say when the job is next due.
#[derive(Debug, Clone)]
pub struct Timetable {
    when: When,
    zone: Zone,
}

#[derive(Debug, Clone, Copy)]
enum Zone {
    Named(chrono_tz::Tz),
    /// The machine's zone, as cron reads its hours.
    Local,
}

impl Timetable {
    /// The job's schedule in its own zone, else the pipeline's, else the machine's.
    pub fn new(schedule: &Schedule, pipeline_zone: Option<TimeZone>) -> Timetable {
        let zone = schedule
            .timezone
            .or(pipeline_zone)
            .map_or(Zone::Local, |TimeZone(tz)| Zone::Named(tz));
        Timetable {
            when: schedule.when.clone(),
            zone,
        }
    }

    pub fn is_interval(&self) -> bool {
        matches!(self.when, When::Every(_))
    }

    /// The first time strictly after `after` the job is due: the next matching minute (or
    /// second) of a cron expression, `after` plus the interval of `every`. `None` when a cron
    /// expression never matches again (`0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.when {
            When::Every(interval) => chrono::Duration::from_std(interval.0)
                .ok()
                .and_then(|d| after.checked_add_signed(d)),
            When::Cron(cron) => match self.zone {
                Zone::Named(tz) => cron
                    .find_next_occurrence(&after.with_timezone(&tz), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
                Zone::Local => cron
                    .find_next_occurrence(&after.with_timezone(&chrono::Local), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
            },
        }
    }
}
