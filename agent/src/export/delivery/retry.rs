//! Retry policy: exponential backoff with full jitter, `Retry-After` parsing and the
//! classification of HTTP statuses into retryable or permanent failures. Pure functions;
//! does not sleep or send.

use std::time::{Duration, SystemTime};

use super::SendError;

/// Exponential backoff ceilings `base * 2^n`, capped; the delay is uniform in `[0, ceiling]`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// First ceiling.
    pub base: Duration,
    /// Largest ceiling.
    pub cap: Duration,
}

impl Backoff {
    /// Ceiling before retry number `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Full-jitter delay before retry number `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceil = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(fastrand::u64(0..=ceil))
    }
}

/// Parse a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Map an HTTP status to the attempt's outcome: 2xx ok; 408, 429 and 5xx retryable (with the
/// server's `Retry-After`); every other status permanent.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(SendError::Retryable {
            reason: format!("HTTP {status}"),
            retry_after,
        }),
        _ => Err(SendError::Permanent {
            reason: format!("HTTP {status}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(3),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(250));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(4), Duration::from_secs(3));
        assert_eq!(b.ceiling(63), Duration::from_secs(3));
        for n in 0..10 {
            assert!(b.delay(n) <= b.ceiling(n));
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses() {
        assert!(classify_status(204, None).is_ok());
        for s in [408, 429, 500, 503] {
            assert!(matches!(
                classify_status(s, None),
                Err(SendError::Retryable { .. })
            ));
        }
        for s in [400, 401, 404, 413] {
            assert!(matches!(
                classify_status(s, None),
                Err(SendError::Permanent { .. })
            ));
        }
    }
}
