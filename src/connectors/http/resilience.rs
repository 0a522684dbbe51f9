//! What keeps a connection polite and patient, and the one reading of what a failed request
//! means: a rate limit shared by every request on it, retries with exponential backoff and
//! jitter that honour `Retry-After`, the connection's own refusals (`refused_when`), and the
//! [`Verdict`] on a status or a transport error that both the client's retries and the target's
//! write errors are decided by.
//!
//! A request that may change the target and is not idempotent (POST, PATCH) is retried only
//! when it is known not to have been applied: a 429 (the server refused it) or a connection
//! that never reached the server. After a 5xx, a timeout or a reset it may have been applied:
//! the caller decides (a create is looked up through `resolve` before it is sent again).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::rpc;
use super::wire::{Response, TransportError, TransportKind};
use crate::config::model::{self, RetryOn};
use crate::record::path::CompiledPath;

/// What a request that did not succeed says about what it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The API answered that it will not do it (a 4xx other than 408 and 429, an answer
    /// `refused_when` names, a JSON-RPC error): nothing was applied, and asking again gets
    /// the same answer.
    Refused,
    /// Nothing was applied and the API may take it later: a 429, a server never reached, a
    /// TLS handshake refused.
    NotApplied,
    /// It may have been applied: a 5xx, a 408, a timeout, a broken connection, an answer too
    /// large to read.
    MaybeApplied,
}

impl Verdict {
    /// The verdict on an answer; `None` when it is a success.
    pub fn of_answer(response: &Response) -> Option<Verdict> {
        if response.is_success() {
            return None;
        }
        if response.refused.is_some() || response.rpc_error.is_some() {
            return Some(Verdict::Refused);
        }
        Some(match response.status {
            429 => Verdict::NotApplied,
            408 => Verdict::MaybeApplied,
            400..=499 => Verdict::Refused,
            _ => Verdict::MaybeApplied,
        })
    }

    /// The verdict on a request that got no answer.
    pub fn of_failure(kind: TransportKind) -> Verdict {
        match kind {
            TransportKind::NotConnected | TransportKind::TlsRefused => Verdict::NotApplied,
            TransportKind::Timeout | TransportKind::Broken | TransportKind::TooLarge => {
                Verdict::MaybeApplied
            }
        }
    }

    /// The verdict on an outcome; `None` for a success.
    pub fn of(outcome: &Result<Response, TransportError>) -> Option<Verdict> {
        match outcome {
            Ok(response) => Verdict::of_answer(response),
            Err(error) => Some(Verdict::of_failure(error.kind)),
        }
    }
}

/// How long to wait before the next try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// This request waits.
    Wait(Duration),
    /// The server said when to come back (`Retry-After`): every request on the connection
    /// waits.
    PauseAll(Duration),
}

/// How failed requests are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub on: Vec<RetryOn>,
}

/// A `Retry-After` longer than this is not waited for: the request fails.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            on: vec![
                RetryOn::Status(429),
                RetryOn::Class(5),
                RetryOn::Timeout,
                RetryOn::Connection,
            ],
        }
    }
}

impl RetryPolicy {
    pub fn from_config(retry: Option<&model::Retry>) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        if let Some(retry) = retry {
            if let Some(attempts) = retry.attempts {
                policy.attempts = attempts.max(1);
            }
            if let Some(backoff) = &retry.backoff {
                policy.initial = backoff.initial;
                policy.max = backoff.max;
            }
            if !retry.on.is_empty() {
                policy.on = retry.on.clone();
            }
        }
        policy
    }

    pub fn retries_status(&self, status: u16) -> bool {
        self.on.iter().any(|on| match on {
            RetryOn::Status(s) => *s == status,
            RetryOn::Class(c) => status / 100 == *c,
            _ => false,
        })
    }

    pub fn retries_transport(&self, kind: TransportKind) -> bool {
        self.on.iter().any(|on| {
            matches!(
                (on, kind),
                (RetryOn::Timeout, TransportKind::Timeout)
                    | (
                        RetryOn::Connection,
                        TransportKind::NotConnected | TransportKind::Broken
                    )
            )
        })
    }

    /// The wait before try number `retry` + 1 (`retry` from 1): doubling from `initial` up to
    /// `max`, half of it random so that workers that failed together do not retry together.
    pub fn delay(&self, retry: u32) -> Duration {
        let doubled = self.initial.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let ceiling = doubled.min(self.max);
        ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0)
    }

    /// Whether `outcome` is worth another try: a status or a failure the policy names, and,
    /// for a request that must not be applied twice, only when nothing was applied. A success
    /// and the API's own refusals (`refused_when`, a JSON-RPC error) end the tries.
    pub fn retries(&self, outcome: &Result<Response, TransportError>, repeatable: bool) -> bool {
        let named = match outcome {
            Ok(r) if r.is_success() || r.refused.is_some() || r.rpc_error.is_some() => {
                return false;
            }
            Ok(response) => self.retries_status(response.status),
            Err(error) => self.retries_transport(error.kind),
        };
        named && (repeatable || Verdict::of(outcome) == Some(Verdict::NotApplied))
    }

    /// The wait before try number `tries` + 1 after `outcome`; `None` when the request is not
    /// tried again: no try left, nothing worth one, or a `Retry-After` unreadable or too far.
    pub fn next_try(
        &self,
        outcome: &Result<Response, TransportError>,
        tries: u32,
        repeatable: bool,
    ) -> Option<Backoff> {
        if tries >= self.attempts || !self.retries(outcome, repeatable) {
            return None;
        }
        match outcome.as_ref().ok().and_then(|r| r.header("retry-after")) {
            Some(value) => retry_after(value, chrono::Utc::now()).map(Backoff::PauseAll),
            None => Some(Backoff::Wait(self.delay(tries))),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date; `None` when absent, unreadable or too far.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    (wait <= LONGEST_RETRY_AFTER).then_some(wait)
}

/// Requests spaced evenly, `count` per `per` at most in any window of `per`: a leaky bucket
/// that lets no burst through, shared by every thread that uses the connection. A 429 with
/// `Retry-After` holds every request until then.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    /// How far ahead of its turn a request may go: `burst - 1` intervals.
    tolerance: Duration,
    /// When the next request would go at the steady rate (the leaky bucket's level, as a time:
    /// the generic cell rate algorithm).
    next: Mutex<Instant>,
    /// Whether the server ever asked for a pause: without a limit nor a pause, requests go
    /// without taking the lock, which every sender would otherwise take for each request.
    paused: AtomicBool,
}

impl RateLimiter {
    pub fn new(limit: Option<&model::RateLimit>) -> RateLimiter {
        // 5 % slower than the limit: the server counts arrivals, which the network and the
        // scheduler delay unevenly (a request whose turn came may wait for its connection
        // to open, or for a core): 50 ms of such jitter a second stays within the limit.
        // Both at most a year (a parsed period is no longer), so that adding them to a clock
        // stays in range whatever the limit says.
        let interval = limit.map_or(Duration::ZERO, |l| {
            l.per
                .saturating_mul(21)
                .checked_div(l.count)
                .map_or(l.per, |d| d / 20)
                .min(model::LONGEST)
        });
        // A tenth under the bucket's size, for the same jitter: a first request slowed by its
        // connection leaves the server's bucket fuller than this side counts.
        let burst = limit.map_or(1, |l| {
            u32::try_from(u64::from(l.burst) * 9 / 10).map_or(1, |b| b.max(1))
        });
        RateLimiter {
            interval,
            tolerance: interval.saturating_mul(burst - 1).min(model::LONGEST),
            next: Mutex::new(Instant::now()),
            paused: AtomicBool::new(false),
        }
    }

    /// Waits for this request's turn: at most `burst` requests at once, then one an interval,
    /// as measured when each went (a sleep may oversleep; the next turn counts from then).
    pub async fn acquire(&self) {
        if self.interval.is_zero() && !self.paused.load(Ordering::Acquire) {
            return;
        }
        loop {
            let wait = {
                let Ok(mut next) = self.next.lock() else {
                    return;
                };
                let now = Instant::now();
                let turn = (*next).max(now);
                if turn <= now + self.tolerance {
                    *next = turn + self.interval;
                    return;
                }
                turn - self.tolerance - now
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The server asked for a pause: no request on this connection before `wait` has passed,
    /// and then no burst, the steady rate.
    pub fn pause(&self, wait: Duration) {
        if let Ok(mut next) = self.next.lock() {
            *next = (*next).max(Instant::now() + wait + self.tolerance);
            self.paused.store(true, Ordering::Release);
        }
    }
}

/// A `refused_when` rule whose `body` path does not compile.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RefusalRuleError(String);

/// Answers the connection names definite refusals (its `refused_when`).
#[derive(Debug, Default)]
pub struct RefusalRules(Vec<RefusedWhen>);

/// One rule of `refused_when`.
#[derive(Debug)]
struct RefusedWhen {
    statuses: Vec<u16>,
    /// Where the answer's errors are, when the rule names them.
    errors: Option<CompiledPath>,
    /// Text the answer must hold, when the rule names one.
    text: Option<String>,
    /// Text the answer must not hold, when the rule names one.
    unless: Option<String>,
}

impl RefusalRules {
    pub fn compile(rules: &[model::RefusedWhen]) -> Result<RefusalRules, RefusalRuleError> {
        rules
            .iter()
            .map(|r| {
                Ok(RefusedWhen {
                    statuses: r.status.clone(),
                    errors: r
                        .body
                        .as_ref()
                        .map(CompiledPath::compile)
                        .transpose()
                        .map_err(RefusalRuleError)?,
                    text: r.text.clone(),
                    unless: r.unless.clone(),
                })
            })
            .collect::<Result<_, RefusalRuleError>>()
            .map(RefusalRules)
    }

    /// What the API said, when `response` is one of the refusals the rules name.
    pub fn refusal(&self, response: &Response) -> Option<String> {
        self.0.iter().find_map(|rule| {
            if !rule.statuses.contains(&response.status) {
                return None;
            }
            let body = String::from_utf8_lossy(&response.body);
            if rule
                .text
                .as_ref()
                .is_some_and(|t| !body.contains(t.as_str()))
                || rule
                    .unless
                    .as_ref()
                    .is_some_and(|t| body.contains(t.as_str()))
            {
                return None;
            }
            let Some(path) = &rule.errors else {
                return Some(response.excerpt());
            };
            let document = response.document().ok()?;
            let said = path.get(&document).filter(|v| !is_empty(v))?;
            Some(rpc::describe(said))
        })
    }
}

/// Null, or an empty text, list or object.
fn is_empty(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            rpc_error: None,
            refused: None,
        }
    }

    fn failed(kind: TransportKind) -> Result<Response, TransportError> {
        Err(TransportError {
            method: "POST",
            path: "/x".into(),
            reason: String::new(),
            kind,
        })
    }

    #[test]
    fn one_verdict_for_the_retries_and_the_write_errors() {
        use Verdict::*;
        for (status, verdict) in [
            (200, None),
            (204, None),
            (400, Some(Refused)),
            (404, Some(Refused)),
            (408, Some(MaybeApplied)),
            (429, Some(NotApplied)),
            (500, Some(MaybeApplied)),
            (503, Some(MaybeApplied)),
        ] {
            assert_eq!(Verdict::of_answer(&answer(status)), verdict, "{status}");
        }
        let refused = Response {
            refused: Some("no".into()),
            ..answer(500)
        };
        assert_eq!(Verdict::of_answer(&refused), Some(Refused));
        let rpc = Response {
            rpc_error: Some("no".into()),
            ..answer(200)
        };
        assert_eq!(Verdict::of_answer(&rpc), Some(Refused));
        for (kind, verdict) in [
            (TransportKind::NotConnected, NotApplied),
            (TransportKind::TlsRefused, NotApplied),
            (TransportKind::Timeout, MaybeApplied),
            (TransportKind::Broken, MaybeApplied),
            (TransportKind::TooLarge, MaybeApplied),
        ] {
            assert_eq!(Verdict::of(&failed(kind)), Some(verdict), "{kind:?}");
        }
        // A write that must not be applied twice is tried again only when it was not applied.
        let policy = RetryPolicy::default();
        for (outcome, repeatable, again) in [
            (Ok(answer(503)), true, true),
            (Ok(answer(503)), false, false),
            (Ok(answer(429)), false, true),
            (Ok(answer(404)), true, false),
            (Ok(refused), true, false),
            (failed(TransportKind::NotConnected), false, true),
            (failed(TransportKind::Timeout), true, true),
            (failed(TransportKind::Timeout), false, false),
            (failed(TransportKind::TlsRefused), true, false),
            (failed(TransportKind::TooLarge), true, false),
        ] {
            assert_eq!(policy.retries(&outcome, repeatable), again, "{outcome:?}");
        }
        assert_eq!(
            policy.next_try(&Ok(answer(503)), 5, true),
            None,
            "no try left"
        );
        let later = Response {
            headers: vec![("retry-after".into(), "2".into())],
            ..answer(429)
        };
        assert_eq!(
            policy.next_try(&Ok(later), 1, false),
            Some(Backoff::PauseAll(Duration::from_secs(2)))
        );
    }

    #[test]
    fn delays_double_up_to_the_maximum_with_jitter() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let late = policy.delay(40);
            assert!((250..=500).contains(&late.as_millis()), "{late:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("86400", now), None);
        assert_eq!(retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn the_limiter_spaces_requests() {
        let limiter = RateLimiter::new(Some(&model::RateLimit {
            count: 50,
            per: Duration::from_secs(1),
            burst: 1,
        }));
        let started = Instant::now();
        for _ in 0..6 {
            limiter.acquire().await;
        }
        // The first goes at once, the next five 20 ms apart.
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_leaky_bucket_lets_a_burst_go_then_the_steady_rate() {
        let limiter = RateLimiter::new(Some(&"50/s, burst 11".parse().unwrap()));
        let started = Instant::now();
        // 11 less a tenth: 9 at once.
        for _ in 0..9 {
            limiter.acquire().await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "the burst goes at once"
        );
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // Five more at the steady rate: 21 ms apart (50/s, 5 % under).
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!("2/s, burst 0".parse::<model::RateLimit>().is_err());
        assert!("2/s, 40".parse::<model::RateLimit>().is_err());
    }
}
