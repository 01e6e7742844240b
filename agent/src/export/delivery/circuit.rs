//! The circuit breaker around a sink: opens after N consecutive failed batches, lets one
//! trial batch through after the open period (half-open), closes on success. Owns state
//! transitions only; uses tokio's clock so tests can pause time.

use std::time::Duration;

use tokio::time::Instant;

/// Breaker state; the discriminant is the exported gauge value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Batches flow.
    Closed = 0,
    /// One trial batch may go.
    HalfOpen = 1,
    /// Nothing is sent until the open period ends.
    Open = 2,
}

/// Consecutive-failure circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    failures: u32,
    opened_at: Option<Instant>,
}

impl CircuitBreaker {
    /// Open after `threshold` consecutive failures, for `open_for`.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        CircuitBreaker {
            threshold,
            open_for,
            failures: 0,
            opened_at: None,
        }
    }

    /// State at `now`.
    pub fn state(&self, now: Instant) -> CircuitState {
        match self.opened_at {
            None => CircuitState::Closed,
            Some(t) if now >= t + self.open_for => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    /// When an open circuit half-opens.
    pub fn half_open_at(&self) -> Option<Instant> {
        self.opened_at.map(|t| t + self.open_for)
    }

    /// A batch was accepted: close.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.opened_at = None;
    }

    /// A batch failed: count it; open (again) at the threshold or after a failed trial.
    pub fn on_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.opened_at.is_some() || self.failures >= self.threshold {
            self.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_half_opens_closes() {
        let mut c = CircuitBreaker::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        c.on_failure(t0);
        c.on_failure(t0);
        assert_eq!(c.state(t0), CircuitState::Closed);
        c.on_failure(t0);
        assert_eq!(c.state(t0), CircuitState::Open);
        assert_eq!(
            c.state(t0 + Duration::from_secs(30)),
            CircuitState::HalfOpen
        );
        // Failed trial re-opens for another period.
        let t1 = t0 + Duration::from_secs(31);
        c.on_failure(t1);
        assert_eq!(c.state(t1 + Duration::from_secs(29)), CircuitState::Open);
        c.on_success();
        assert_eq!(c.state(t1), CircuitState::Closed);
    }
}
