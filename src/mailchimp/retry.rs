//! When to try a request again: exponential backoff with jitter, honouring `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How a request that met a 429, a 5xx, a timeout or a dropped connection is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts_max: u32,
    /// The delay before the first retry; it doubles with every further one.
    pub base_delay: Duration,
    /// The backoff never grows past this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is cut to it, so one odd header cannot stall a run.
    pub retry_after_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts_max: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry): the larger of the
    /// server's `Retry-After` and a backoff drawn from `[d/2, d]`, `d = base * 2^retry`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry);
        let jittered = rand::rng().random_range(backoff / 2..=backoff);
        match retry_after {
            Some(wait) => wait.min(self.retry_after_max).max(jittered),
            None => jittered,
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts_max: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            retry_after_max: Duration::from_secs(60),
        }
    }

    #[track_caller]
    fn check(retry: u32, retry_after: Option<u64>, low_ms: u64, high_ms: u64) {
        for _ in 0..50 {
            let wait = policy().delay(retry, retry_after.map(Duration::from_secs));
            let ms = wait.as_millis() as u64;
            assert!((low_ms..=high_ms).contains(&ms), "retry {retry}: {ms} ms");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        check(0, None, 50, 100);
        check(1, None, 100, 200);
        check(3, None, 400, 800);
        check(4, None, 500, 1000);
        check(30, None, 500, 1000);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        check(0, Some(2), 2000, 2000);
        check(0, Some(600), 60_000, 60_000);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
