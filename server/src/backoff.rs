//! Exponential backoff with jitter, for the bundle poller (`remote.rs`) and the decision log
//! shipper (`ship.rs`): after `n` failures in a row the wait is `base · 2^(n-1)`, capped, then
//! a random point in its upper half (so that replicas that failed together do not retry
//! together). A success resets it.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap: cap.max(base), failures: 0 }
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Counts a failure; how long to wait before the next try.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.delay()
    }

    /// The wait after the failures counted so far (zero when there are none).
    pub fn delay(&self) -> Duration {
        if self.failures == 0 {
            return Duration::ZERO;
        }
        let doublings = self.failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.cap);
        jittered(full)
    }
}

/// A random duration between half of `full` and `full`.
pub fn jittered(full: Duration) -> Duration {
    let half = full / 2;
    let span = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
    let extra = if span == 0 { 0 } else { random() % span };
    half + Duration::from_nanos(extra)
}

/// A random number: `RandomState` is seeded from the operating system's randomness; hashing
/// the time through a fresh one is enough to spread retries (it is no secret).
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset_on_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(backoff.delay(), Duration::ZERO);
        for (n, full) in [100u64, 200, 400, 800, 1000, 1000].into_iter().enumerate() {
            let wait = backoff.failed();
            assert_eq!(backoff.failures(), n as u32 + 1);
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "failure {}: {wait:?} vs {full:?}", n + 1);
        }
        backoff.succeeded();
        assert_eq!(backoff.failures(), 0);
        assert_eq!(backoff.delay(), Duration::ZERO);
        for _ in 0..100 {
            backoff.failed();
        }
        assert!(backoff.delay() <= Duration::from_secs(1));
    }
}
