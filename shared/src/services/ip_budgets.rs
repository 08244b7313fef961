//! Per-IP budgets of the public validation routes: token buckets per client IP, in memory.
//!
//! Cheap by design: checked before any AWS call (trial starts: before the write), so a flood
//! from one address costs no reads or writes. They are per warm instance (a burst spread over
//! many Lambda instances gets through each one's budget), which is why they complement, and do
//! not replace, API Gateway's route throttling and the exact per-license budget kept on the
//! license item (`domain::validation::budget`).
//!
//! | budget | routes | burst | refill |
//! |---|---|---|---|
//! | [`CHURN`] | activate, deactivate, license checkout | 120 | 2/s |
//! | [`VALIDATE`] | validate (with or without key) | 300 | 5/s |
//! | [`TRIAL_STARTS`] | a trial start (validate without key, new device) | 10 | 1 per 6 min |

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::LazyCache;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests one IP may make at once.
    pub burst: f64,
    /// Requests per second one IP regains.
    pub per_second: f64,
}

/// Activation churn: activate, deactivate and license checkout.
pub const CHURN: Rate = Rate {
    burst: 120.0,
    per_second: 2.0,
};
/// Every validate request (apps validate at each start: a whole office behind one NAT must
/// pass on a Monday morning).
pub const VALIDATE: Rate = Rate {
    burst: 300.0,
    per_second: 5.0,
};
/// New trials from one IP: 10 at once, then one every 6 minutes (10 an hour). A fresh
/// `deviceId` per call is therefore not an endless trial.
pub const TRIAL_STARTS: Rate = Rate {
    burst: 10.0,
    per_second: 1.0 / 360.0,
};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token at `now` if there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One budget's state by client IP, at most 100,000 addresses: an address idle long enough for
/// its bucket to be full again is dropped (its next request starts a full bucket).
fn buckets<V: Clone + Send + Sync + 'static>(rate: Rate) -> LazyCache<String, V> {
    LazyCache::time_to_idle(
        100_000,
        Duration::from_secs_f64(rate.burst / rate.per_second),
    )
}

/// Token buckets by client IP for one rate (bounded; buckets idle long enough to be full again
/// are dropped).
#[derive(Clone)]
pub struct IpBudget {
    rate: Rate,
    buckets: LazyCache<String, Arc<Mutex<Bucket>>>,
}

impl IpBudget {
    pub fn new(rate: Rate) -> Self {
        IpBudget {
            rate,
            buckets: buckets(rate),
        }
    }

    /// Whether one more request from `ip` fits its budget (and spends it).
    pub fn allow(&self, ip: &str) -> bool {
        let now = Instant::now();
        let bucket = self.buckets.get_with_by_ref(ip, || {
            Arc::new(Mutex::new(Bucket {
                tokens: self.rate.burst,
                at: now,
            }))
        });
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.take(self.rate, now)
    }
}

/// New trials per IP: a token bucket, plus the devices whose start was counted lately, so
/// that concurrent first requests of one device (an app that validates from several threads
/// at launch) count once.
#[derive(Clone)]
pub struct TrialStartBudget {
    rate: Rate,
    buckets: LazyCache<String, Arc<Mutex<TrialStarts>>>,
}

/// One IP's trial-start bucket and the devices it counted lately.
type TrialStarts = (Bucket, VecDeque<String>);

/// Devices remembered per IP (at least the burst, so a burst never evicts its own devices).
const RECENT_DEVICES: usize = 32;

impl Default for TrialStartBudget {
    fn default() -> Self {
        Self::new(TRIAL_STARTS)
    }
}

impl TrialStartBudget {
    pub fn new(rate: Rate) -> Self {
        TrialStartBudget {
            rate,
            buckets: buckets(rate),
        }
    }

    /// Whether `ip` may start a trial for `device_hash` (spending a token unless this device's
    /// start was counted lately).
    pub fn allow(&self, ip: &str, device_hash: &str) -> bool {
        let now = Instant::now();
        let entry = self.buckets.get_with_by_ref(ip, || {
            Arc::new(Mutex::new((
                Bucket {
                    tokens: self.rate.burst,
                    at: now,
                },
                VecDeque::new(),
            )))
        });
        let mut guard = entry.lock().unwrap_or_else(|e| e.into_inner());
        let (bucket, recent) = &mut *guard;
        if recent.iter().any(|d| d == device_hash) {
            return true;
        }
        if !bucket.take(self.rate, now) {
            return false;
        }
        if recent.len() == RECENT_DEVICES {
            recent.pop_front();
        }
        recent.push_back(device_hash.to_string());
        true
    }
}

/// The budgets of the validation routes.
#[derive(Clone)]
pub struct IpBudgets {
    pub churn: IpBudget,
    pub validate: IpBudget,
    pub trial_starts: TrialStartBudget,
}

impl IpBudgets {
    /// Budgets no single client reaches (benchmarks, which send everything from one address).
    pub fn unlimited() -> Self {
        let rate = Rate {
            burst: 1e12,
            per_second: 1e12,
        };
        IpBudgets {
            churn: IpBudget::new(rate),
            validate: IpBudget::new(rate),
            trial_starts: TrialStartBudget::new(rate),
        }
    }
}

impl Default for IpBudgets {
    fn default() -> Self {
        IpBudgets {
            churn: IpBudget::new(CHURN),
            validate: IpBudget::new(VALIDATE),
            trial_starts: TrialStartBudget::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: CHURN.burst,
            at: t0,
        };
        for _ in 0..CHURN.burst as usize {
            assert!(b.take(CHURN, t0));
        }
        assert!(!b.take(CHURN, t0));
        let refill = Duration::from_millis((1000.0 / CHURN.per_second) as u64);
        assert!(b.take(CHURN, t0 + refill));
        assert!(!b.take(CHURN, t0 + refill));
    }

    #[test]
    fn trial_starts_refill_slowly() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: TRIAL_STARTS.burst,
            at: t0,
        };
        for _ in 0..10 {
            assert!(b.take(TRIAL_STARTS, t0));
        }
        assert!(!b.take(TRIAL_STARTS, t0 + Duration::from_secs(300)));
        assert!(b.take(TRIAL_STARTS, t0 + Duration::from_secs(361)));
    }

    #[test]
    fn one_device_counts_once_however_often_it_starts() {
        let t = TrialStartBudget::default();
        for _ in 0..100 {
            assert!(t.allow("198.51.100.1", "device-a"));
        }
        for i in 0..9 {
            assert!(t.allow("198.51.100.1", &format!("device-{i}")));
        }
        assert!(!t.allow("198.51.100.1", "device-new"));
        assert!(t.allow("198.51.100.1", "device-a"));
    }

    #[test]
    fn ips_have_separate_budgets() {
        let t = IpBudget::new(CHURN);
        for _ in 0..CHURN.burst as usize {
            assert!(t.allow("198.51.100.1"));
        }
        assert!(!t.allow("198.51.100.1"));
        assert!(t.allow("198.51.100.2"));
    }
}
