//! The per-IP budget of activation churn: a token bucket per client IP, in memory.
//!
//! Cheap by design: checked before any AWS call, so a flood from one address costs no reads or
//! writes. It is per warm instance (a burst spread over many Lambda instances gets through each
//! one's budget), which is why it complements, and does not replace, API Gateway's route
//! throttling and the exact per-license budget kept on the license item
//! (`domain::validation::budget`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// Requests (activate + deactivate) one IP may make at once.
pub const BURST: f64 = 120.0;
/// Requests per second one IP regains.
pub const REFILL_PER_SECOND: f64 = 2.0;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token at `now` if there is one.
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * REFILL_PER_SECOND).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Token buckets by client IP (bounded; idle buckets, which would be full anyway, are dropped).
#[derive(Clone)]
pub struct ChurnThrottle {
    buckets: Cache<String, Arc<Mutex<Bucket>>>,
}

impl Default for ChurnThrottle {
    fn default() -> Self {
        ChurnThrottle {
            buckets: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs((BURST / REFILL_PER_SECOND) as u64))
                .build(),
        }
    }
}

impl ChurnThrottle {
    /// Whether one more request from `ip` fits its budget (and spends it).
    pub fn allow(&self, ip: &str) -> bool {
        let now = Instant::now();
        let bucket = self.buckets.get_with_by_ref(ip, || {
            Arc::new(Mutex::new(Bucket {
                tokens: BURST,
                at: now,
            }))
        });
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: BURST,
            at: t0,
        };
        for _ in 0..BURST as usize {
            assert!(b.take(t0));
        }
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis((1000.0 / REFILL_PER_SECOND) as u64)));
        assert!(!b.take(t0 + Duration::from_millis((1000.0 / REFILL_PER_SECOND) as u64)));
    }

    #[test]
    fn ips_have_separate_budgets() {
        let t = ChurnThrottle::default();
        for _ in 0..BURST as usize {
            assert!(t.allow("198.51.100.1"));
        }
        assert!(!t.allow("198.51.100.1"));
        assert!(t.allow("198.51.100.2"));
    }
}
