//! What keeps a connection polite and patient: a rate limit shared by every request on it, and
//! retries with exponential backoff and jitter that honour `Retry-After`.
//!
//! A request that may change the target and is not idempotent (POST, PATCH) is retried only
//! when it is known not to have been applied: a 429 (the server refused it) or a connection
//! that never reached the server. After a 5xx, a timeout or a reset it may have been applied:
//! the caller decides (a create is looked up through `resolve` before it is sent again).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::model::{self, RetryOn};

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

/// Why a request did not get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The server was never reached (refused, no route, name not found, connect timeout):
    /// nothing was applied.
    NotConnected,
    Timeout,
    /// The connection broke after the request was (maybe) sent.
    Broken,
    /// The TLS handshake failed (an untrusted certificate, no protocol in common): nothing was
    /// sent, and trying again will not change it.
    TlsRefused,
    /// The answer's body is larger than an answer may be: the request may have been applied,
    /// and asking again would read as much again.
    TooLarge,
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
    /// without taking the lock (8 senders took it for each request).
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
    pub fn acquire(&self) {
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
            std::thread::sleep(wait);
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_limiter_spaces_requests() {
        let limiter = RateLimiter::new(Some(&model::RateLimit {
            count: 50,
            per: Duration::from_secs(1),
            burst: 1,
        }));
        let started = Instant::now();
        for _ in 0..6 {
            limiter.acquire();
        }
        // The first goes at once, the next five 20 ms apart.
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn a_leaky_bucket_lets_a_burst_go_then_the_steady_rate() {
        let limiter = RateLimiter::new(Some(&"50/s, burst 11".parse().unwrap()));
        let started = Instant::now();
        // 11 less a tenth: 9 at once.
        for _ in 0..9 {
            limiter.acquire();
        }
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "the burst goes at once"
        );
        for _ in 0..5 {
            limiter.acquire();
        }
        // Five more at the steady rate: 21 ms apart (50/s, 5 % under).
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!("2/s, burst 0".parse::<model::RateLimit>().is_err());
        assert!("2/s, 40".parse::<model::RateLimit>().is_err());
    }
}
