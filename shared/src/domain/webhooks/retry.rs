//! When a failed delivery is tried again, when it is given up, and when a failing endpoint is
//! disabled. Exponential backoff with jitter over about three days (Stripe retries its own
//! webhooks for three days too), then the delivery is `failed`; the merchant can retry it by
//! hand. An endpoint that has failed every attempt for five days is disabled.

use rand::Rng;
use time::{Duration, OffsetDateTime};

/// Waits after attempt 1, 2, ... (before jitter): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h,
/// 4 h, 8 h, then every 12 h.
const WAITS_SECONDS: [i64; 10] = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200];

/// How long after an event its delivery is given up.
pub const GIVE_UP_AFTER: Duration = Duration::days(3);

/// How long an endpoint may fail every attempt before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// Jitter: each wait is scaled by a factor in `[1 - JITTER, 1 + JITTER]`.
const JITTER: f64 = 0.2;

/// The wait after the `attempts`-th failed attempt, before jitter.
pub fn base_wait(attempts: u32) -> Duration {
    let i = (attempts.max(1) as usize - 1).min(WAITS_SECONDS.len() - 1);
    Duration::seconds(WAITS_SECONDS[i])
}

/// When to try again after `attempts` attempts of a delivery created at `created_at` have
/// failed, the last one at `now`; `None` when it is given up. `unit` in `[0, 1)` draws the
/// jitter (see [`next_attempt_random`]).
pub fn next_attempt(
    created_at: OffsetDateTime,
    attempts: u32,
    now: OffsetDateTime,
    unit: f64,
) -> Option<OffsetDateTime> {
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
    let wait = base_wait(attempts).as_seconds_f64() * factor;
    let at = now + Duration::milliseconds((wait * 1000.0) as i64);
    (at <= created_at + GIVE_UP_AFTER).then_some(at)
}

/// [`next_attempt`] with jitter from the thread's random generator.
pub fn next_attempt_random(
    created_at: OffsetDateTime,
    attempts: u32,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    next_attempt(created_at, attempts, now, rand::thread_rng().gen())
}

/// Whether an endpoint failing since `failing_since` has failed long enough to be disabled.
pub fn should_disable(failing_since: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - failing_since >= DISABLE_AFTER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_with_bounded_jitter_for_about_three_days() {
        let t0 = crate::time::from_unix(1_700_000_000).unwrap();
        assert_eq!(
            next_attempt(t0, 1, t0, 0.5),
            Some(t0 + Duration::seconds(5))
        );
        let low = next_attempt(t0, 3, t0, 0.0).unwrap() - t0;
        let high = next_attempt(t0, 3, t0, 0.999).unwrap() - t0;
        assert!(
            low >= Duration::seconds(96) && high <= Duration::seconds(144),
            "{low} {high}"
        );
        // Following the schedule without jitter: how many attempts until it gives up, and when.
        let (mut now, mut attempts) = (t0, 1);
        while let Some(next) = next_attempt(t0, attempts, now, 0.5) {
            now = next;
            attempts += 1;
        }
        assert_eq!(attempts, 14, "attempts in three days");
        assert!(
            now > t0 + Duration::days(2) && now <= t0 + GIVE_UP_AFTER,
            "{now}"
        );
    }

    #[test]
    fn endpoints_are_disabled_after_five_days_of_failures() {
        let t0 = crate::time::from_unix(1_700_000_000).unwrap();
        assert!(!should_disable(t0, t0 + Duration::days(4)));
        assert!(should_disable(t0, t0 + Duration::days(5)));
    }
}
