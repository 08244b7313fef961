//! The customer portal's policy on freeing devices: a buyer may free N devices per license per
//! rolling [`WINDOW`] (the tenant's setting; 0 turns self-service freeing off). The moments of
//! the frees are kept on the license item (`LicenseUsage::self_service_frees`, epoch seconds)
//! and written by the same conditional write that removes the device, so concurrent frees can
//! never exceed the limit.

use time::{Duration, OffsetDateTime};

/// The rolling window the limit counts over.
pub const WINDOW: Duration = Duration::days(30);

/// The frees still inside the window at `now` (older ones are dropped when the list is
/// written again).
pub fn recent(frees: &[i64], now: OffsetDateTime) -> Vec<i64> {
    let since = (now - WINDOW).unix_timestamp();
    frees.iter().copied().filter(|t| *t > since).collect()
}

/// How many frees `limit` still allows at `now`.
pub fn remaining(frees: &[i64], limit: u32, now: OffsetDateTime) -> u32 {
    limit.saturating_sub(recent(frees, now).len() as u32)
}

/// The list to write with one more free at `now`, or `None` when the limit is reached (or 0).
pub fn spend(frees: &[i64], limit: u32, now: OffsetDateTime) -> Option<Vec<i64>> {
    let mut kept = recent(frees, now);
    if kept.len() as u32 >= limit {
        return None;
    }
    kept.push(now.unix_timestamp());
    Some(kept)
}

/// When the oldest free in the window leaves it (a seat can be freed again then).
pub fn next_free_at(frees: &[i64], now: OffsetDateTime) -> Option<OffsetDateTime> {
    let oldest = recent(frees, now).into_iter().min()?;
    crate::time::from_unix(oldest).map(|t| t + WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_only_the_last_thirty_days() {
        let now = crate::time::from_unix(1_800_000_000).unwrap();
        let day = 86_400;
        let t = now.unix_timestamp();
        let frees = [t - 31 * day, t - 10 * day, t - day];
        assert_eq!(recent(&frees, now), [t - 10 * day, t - day]);
        assert_eq!(remaining(&frees, 3, now), 1);
        assert_eq!(spend(&frees, 3, now), Some(vec![t - 10 * day, t - day, t]));
        assert_eq!(spend(&[t - 10 * day, t - day, t], 3, now), None);
        assert_eq!(spend(&[], 0, now), None);
        assert_eq!(remaining(&frees, 0, now), 0);
        assert_eq!(
            next_free_at(&frees, now),
            crate::time::from_unix(t - 10 * day).map(|x| x + WINDOW)
        );
    }
}
