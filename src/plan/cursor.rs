//! Incremental reads: where a record stands in the source's order (its cursor value, ties
//! broken by a key), which records a checkpoint already covers, and how far a checkpoint may
//! move.

use std::cmp::Ordering;

use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use serde_json::Value;

use std::sync::Arc;

use crate::config::model::{self, CursorKind};
use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};
use crate::state::Checkpoint;
use crate::steps::script::{Scripts, to_json};
use rhai::AST;

#[derive(Debug)]
pub struct CursorPlan {
    /// Where the cursor value is; with several, the greatest value found.
    pub paths: Vec<CompiledPath>,
    /// Or what computes it from the record.
    pub expr: Option<(std::sync::Arc<Scripts>, AST)>,
    pub path_text: String,
    pub kind: CursorKind,
    pub tie_breaker: Option<CompiledPath>,
    pub lookback: Option<std::time::Duration>,
    /// Where the first run starts.
    pub initial: Option<String>,
}

/// A comparable cursor value.
#[derive(Debug, Clone, PartialEq)]
enum Point {
    Time(NaiveDateTime),
    Number(f64),
    /// Text that is not a known time format, and tokens.
    Text(String),
}

impl PartialOrd for Point {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Point::Time(a), Point::Time(b)) => a.partial_cmp(b),
            (Point::Number(a), Point::Number(b)) => a.partial_cmp(b),
            (Point::Text(a), Point::Text(b)) => a.partial_cmp(b),
            _ => None,
        }
    }
}

/// A record's place: its cursor value, then its tie-breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    point: Point,
    /// What is saved: the value as the source wrote it.
    pub raw: Value,
    pub key: Option<String>,
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.point.partial_cmp(&other.point)? {
            Ordering::Equal => Some(self.key.cmp(&other.key)),
            unequal => Some(unequal),
        }
    }
}

const TIME_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
];

fn point(kind: CursorKind, value: &Value) -> Option<Point> {
    match kind {
        CursorKind::Number => match value {
            Value::Number(n) => n.as_f64().map(Point::Number),
            Value::String(s) => s.trim().parse().ok().map(Point::Number),
            _ => None,
        },
        CursorKind::Timestamp => parse_time(value).map(|(t, _)| Point::Time(t)),
        CursorKind::Token => text_of(value).map(Point::Text),
    }
}

/// How a cursor time was written, so that a time moved from it is written the same way.
enum Layout {
    /// RFC 3339 at its offset (`Z` written as `Z`).
    Rfc3339 {
        offset: FixedOffset,
        z: bool,
    },
    Naive(&'static str),
    Date,
    EpochSeconds,
}

impl Layout {
    fn write(&self, t: NaiveDateTime) -> String {
        match self {
            Layout::Rfc3339 { offset, z } => offset
                .from_utc_datetime(&t)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, *z),
            Layout::Naive(format) => t.format(format).to_string(),
            Layout::Date => t.date().format("%Y-%m-%d").to_string(),
            Layout::EpochSeconds => t.and_utc().timestamp().to_string(),
        }
    }
}

/// A cursor time (in UTC when it names its offset) and how it was written.
fn parse_time(value: &Value) -> Option<(NaiveDateTime, Layout)> {
    let text = text_of(value)?;
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        let z = text.ends_with(['Z', 'z']);
        let layout = Layout::Rfc3339 {
            offset: *t.offset(),
            z,
        };
        return Some((t.naive_utc(), layout));
    }
    for format in TIME_FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some((t, Layout::Naive(format)));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some((d.and_hms_opt(0, 0, 0)?, Layout::Date));
    }
    let seconds = value.as_i64()?;
    let t = chrono::DateTime::from_timestamp(seconds, 0)?;
    Some((t.naive_utc(), Layout::EpochSeconds))
}

/// `raw` moved back by `back`, written the way `raw` is; `None` when it is not a value of
/// `kind` this knows how to move.
fn moved_back(kind: CursorKind, raw: &Value, back: std::time::Duration) -> Option<String> {
    match kind {
        CursorKind::Number => {
            let text = text_of(raw)?;
            let text = text.trim();
            let moved = text.parse::<f64>().ok()? - back.as_secs_f64();
            Some(match text.parse::<i64>() {
                Ok(_) => format!("{}", moved.floor() as i64),
                Err(_) => moved.to_string(),
            })
        }
        CursorKind::Timestamp => {
            let back = chrono::Duration::from_std(back).ok()?;
            // A time near the calendar's start is not moved back past it.
            parse_time(raw).map(|(t, layout)| layout.write(t.checked_sub_signed(back).unwrap_or(t)))
        }
        CursorKind::Token => None,
    }
}

impl CursorPlan {
    /// Compiles a job's `cursor`.
    pub fn compile(cursor: &model::Cursor, scripts: &Arc<Scripts>) -> Result<CursorPlan, String> {
        let fields: Vec<&model::SingularPath> = cursor.field.iter().chain(&cursor.fields).collect();
        let expr = cursor
            .expr
            .as_deref()
            .map(|e| {
                scripts
                    .compile_expression(e)
                    .map(|ast| (scripts.clone(), ast))
            })
            .transpose()?;
        Ok(CursorPlan {
            expr,
            paths: fields
                .iter()
                .map(|f| CompiledPath::compile(*f))
                .collect::<Result<_, _>>()?,
            path_text: fields
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
                + cursor.expr.as_deref().unwrap_or_default(),
            kind: cursor.kind,
            tie_breaker: cursor
                .tie_breaker
                .as_ref()
                .map(CompiledPath::compile)
                .transpose()?,
            lookback: cursor.lookback.as_ref().map(|d| d.0),
            initial: cursor.initial.clone(),
        })
    }

    /// What `{cursor}` stands for in a source's request: the checkpoint moved back by the
    /// look-back, written as the source wrote it, so that the API itself returns the records
    /// that arrived late (a filter on the server would never send them again otherwise);
    /// without a checkpoint, `initial` as given.
    pub fn request_value(&self, saved: Option<&Checkpoint>) -> Option<String> {
        let Some(saved) = saved else {
            return self.initial.clone();
        };
        self.lookback
            .and_then(|back| moved_back(self.kind, &saved.cursor, back))
            .or_else(|| text_of(&saved.cursor))
    }

    /// The record's position; an error names what is missing.
    pub fn position(&self, record: &Record) -> Result<Position, String> {
        let computed = match &self.expr {
            Some((scripts, ast)) => Some(
                scripts
                    .eval(ast, record)
                    .and_then(|v| to_json(&v))
                    .map_err(|e| format!("the cursor's expression: {e}"))?,
            ),
            None => None,
        };
        let mut greatest: Option<(Point, &Value)> = None;
        for raw in self
            .paths
            .iter()
            .filter_map(|path| path.get(record))
            .chain(computed.as_ref())
            .filter(|v| !v.is_null())
        {
            let point = point(self.kind, raw).ok_or_else(|| {
                format!(
                    "the cursor value {raw} at {} is not a {:?}",
                    self.path_text, self.kind
                )
            })?;
            if greatest
                .as_ref()
                .is_none_or(|(most, _)| point.partial_cmp(most) == Some(Ordering::Greater))
            {
                greatest = Some((point, raw));
            }
        }
        let (point, raw) =
            greatest.ok_or_else(|| format!("no cursor value at {}", self.path_text))?;
        let key = self
            .tie_breaker
            .as_ref()
            .and_then(|p| p.get(record))
            .and_then(text_of);
        Ok(Position {
            point,
            raw: raw.clone(),
            key,
        })
    }

    /// Where reading starts: the saved checkpoint, or `initial`.
    pub fn start(&self, saved: Option<&Checkpoint>) -> Result<Option<Position>, String> {
        let (raw, key) = match (saved, &self.initial) {
            (Some(c), _) => (c.cursor.clone(), c.key.clone()),
            (None, Some(initial)) => (Value::String(initial.clone()), None),
            (None, None) => return Ok(None),
        };
        let point = point(self.kind, &raw)
            .ok_or_else(|| format!("the saved cursor {raw} is not a {:?}", self.kind))?;
        Ok(Some(Position { point, raw, key }))
    }

    /// Whether a record at `position` was covered by a run that stopped at `start`. With a
    /// look-back, records less than that far behind are read again (change detection makes
    /// them cost nothing when they did not change).
    pub fn already_read(&self, position: &Position, start: &Position) -> bool {
        if self.kind == CursorKind::Token {
            // Tokens only resume a source; they do not order records.
            return false;
        }
        match (self.lookback, &position.point, &start.point) {
            (Some(back), Point::Time(at), Point::Time(from)) => {
                let back = chrono::Duration::from_std(back).unwrap_or(chrono::Duration::zero());
                from.checked_sub_signed(back).is_some_and(|from| *at < from)
            }
            (Some(back), Point::Number(at), Point::Number(from)) => *at < from - back.as_secs_f64(),
            _ => position
                .partial_cmp(start)
                .is_some_and(|o| o != Ordering::Greater),
        }
    }
}

/// Follows the positions of the records read, in order: the checkpoint can move to the last
/// one as long as the source delivers them in order. One out of order means the source is not
/// sorted: the checkpoint then moves only at the end of a complete run, to the highest.
#[derive(Debug, Default)]
pub struct Watermark {
    last: Option<Position>,
    highest: Option<Position>,
    pub ordered: bool,
}

impl Watermark {
    pub fn new() -> Self {
        Watermark {
            last: None,
            highest: None,
            ordered: true,
        }
    }

    pub fn saw(&mut self, position: Position) {
        if let Some(last) = &self.last
            && position.partial_cmp(last) != Some(Ordering::Greater)
            && position != *last
        {
            self.ordered = false;
        }
        if self
            .highest
            .as_ref()
            .is_none_or(|h| position.partial_cmp(h) == Some(Ordering::Greater))
        {
            self.highest = Some(position.clone());
        }
        self.last = Some(position);
    }

    /// Where the checkpoint may move now that every record seen so far is done.
    pub fn progress(&self) -> Option<&Position> {
        if self.ordered {
            self.last.as_ref()
        } else {
            None
        }
    }

    /// Where the checkpoint moves at the end of a complete run.
    pub fn end(&self) -> Option<&Position> {
        self.highest.as_ref()
    }
}

impl Position {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            cursor: self.raw.clone(),
            key: self.key.clone(),
            saved_at: crate::state::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_checkpoint_moves_back_by_the_look_back_written_as_the_source_wrote_it() {
        let ten_minutes = std::time::Duration::from_secs(600);
        let time = CursorKind::Timestamp;
        for (raw, expected) in [
            (json!("2026-11-01 10:05:00"), "2026-11-01 09:55:00"),
            (json!("2026-11-01T00:05:00"), "2026-10-31T23:55:00"),
            (json!("2026-11-01 10:05:00.250"), "2026-11-01 09:55:00.250"),
            (json!("2026-11-01T10:05:00Z"), "2026-11-01T09:55:00Z"),
            (
                json!("2026-11-01T10:05:00+02:00"),
                "2026-11-01T09:55:00+02:00",
            ),
            // A day is all a date can say: the day before.
            (json!("2026-11-01"), "2026-10-31"),
            (json!(1_800_000_600), "1800000000"),
        ] {
            assert_eq!(
                moved_back(time, &raw, ten_minutes).as_deref(),
                Some(expected),
                "{raw}"
            );
        }
        let number = CursorKind::Number;
        assert_eq!(
            moved_back(number, &json!("1800000600"), ten_minutes).as_deref(),
            Some("1800000000")
        );
        assert_eq!(moved_back(time, &json!("next week"), ten_minutes), None);
        assert_eq!(
            moved_back(CursorKind::Token, &json!("abc"), ten_minutes),
            None
        );
    }
}
