//! Waiting before trying again: exponential backoff, capped, with full jitter (a random share
//! of the wait, the AWS SDK's standard strategy), so that attempts that collided spread out.
//! The one helper of every in-process retry: a license write that lost a race (validation, the
//! admin API's edits), the validation hot path's own GetItem, calls to Stripe's API. (Webhook
//! deliveries to merchants are retried over days, on `domain::webhooks::retry`'s schedule.)

use std::time::Duration;

use rand::Rng;

/// `first` before the first retry, doubled for each further one, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Backoff { first, max }
    }

    /// The wait before retry `retry` (1 for the first): `first × 2^(retry-1)`, capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.first
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max)
    }

    /// Full jitter: a random share of [`Backoff::ceiling`].
    pub fn jittered(&self, retry: u32) -> Duration {
        self.ceiling(retry).mul_f64(rand::thread_rng().gen::<f64>())
    }

    /// Sleeps for [`Backoff::jittered`].
    pub async fn sleep(&self, retry: u32) {
        tokio::time::sleep(self.jittered(retry)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_its_cap_and_jitter_stays_under_it() {
        let b = Backoff::new(Duration::from_millis(5), Duration::from_millis(80));
        let ceilings: Vec<u64> = (1..=7).map(|r| b.ceiling(r).as_millis() as u64).collect();
        assert_eq!(ceilings, [5, 10, 20, 40, 80, 80, 80]);
        assert_eq!(b.ceiling(u32::MAX), b.max);
        for retry in 1..=7 {
            for _ in 0..100 {
                assert!(b.jittered(retry) <= b.ceiling(retry));
            }
        }
    }
}
