//! A Stripe subscription as Keyhook tracks it, and how its state drives its licenses.
//!
//! Stripe delivers subscription events in any order, and licenses may be issued before or after
//! them. The record keeps the newest state seen (older events never overwrite it, see
//! [`Observation`]) and the licenses of the current period; whichever comes second — the state
//! or the licenses — applies the state to the licenses, so every order converges.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::{License, LicenseStatus, RenewalMode};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    pub tenant_id: String,
    /// Stripe status (`active`, `trialing`, `past_due`, `unpaid`, `canceled`, …); None until a
    /// subscription event or fetch told us.
    pub status: Option<String>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    pub ended_at: Option<i64>,
    /// `created` of the newest event applied (older ones are ignored).
    #[serde(default)]
    pub state_event_created: i64,
    /// The licenses the current state applies to: the subscription's licenses (extend) or the
    /// current period's (new key).
    #[serde(default)]
    pub license_ids: Vec<String>,
    /// The newest period end licenses were issued or extended for.
    #[serde(default)]
    pub paid_through: Option<i64>,
    pub renewal_mode: Option<RenewalMode>,
    pub grace_days: Option<u32>,
    /// Optimistic-concurrency version of the record.
    #[serde(default)]
    pub version: u64,
}

/// What an event (or a fetch made while handling one) says of a subscription, as far as
/// ordering goes. Stripe's `created` has one-second resolution and several events about one
/// subscription often share a second (`customer.subscription.created` with `incomplete` and
/// `.updated` with `active` at checkout; `.updated` and `.deleted` at a cancellation). Within a
/// second the object itself says which is newer: a later paid period first, then the further
/// step of a subscription's life ([`status_rank`]), so the outcome never depends on the order
/// of delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Observation {
    pub created: i64,
    pub period_end: i64,
    pub status_rank: u8,
}

impl Observation {
    pub fn new(created: i64, period_end: Option<i64>, status: Option<&str>) -> Self {
        Observation {
            created,
            period_end: period_end.unwrap_or(0),
            status_rank: status_rank(status),
        }
    }
}

/// How far along its life a status is: `incomplete` → `trialing` → `active` → `past_due` →
/// `unpaid` → `paused` → `canceled` / `incomplete_expired` (ended, final).
pub fn status_rank(status: Option<&str>) -> u8 {
    match status {
        None => 0,
        Some("incomplete") => 1,
        Some("trialing") => 2,
        Some("active") => 3,
        Some("past_due") => 4,
        Some("unpaid") => 5,
        Some("paused") => 6,
        Some("canceled") | Some("incomplete_expired") => 7,
        Some(_) => 0,
    }
}

fn ts(unix: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).ok()
}

/// `t + grace`, saturating at the end of representable time (times come from events: a
/// hostile or broken one must not panic the handler).
fn plus(t: OffsetDateTime, grace: Duration) -> OffsetDateTime {
    t.checked_add(grace)
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

impl SubscriptionRecord {
    /// The observation the record holds.
    pub fn observation(&self) -> Observation {
        Observation::new(
            self.state_event_created,
            self.current_period_end,
            self.status.as_deref(),
        )
    }

    /// Whether `seen` is at least as new as what the record holds (an equal one re-applies
    /// harmlessly).
    pub fn is_not_older_than_record(&self, seen: Observation) -> bool {
        self.status.is_none() || seen >= self.observation()
    }

    /// Applies the subscription's state to one of its licenses. Returns whether it changed.
    /// Revoked licenses and licenses an admin or a dispute suspended are left alone.
    pub fn apply_to(&self, license: &mut License, now: OffsetDateTime) -> bool {
        let before = (license.status, license.expires_at, license.suspend_at);
        if matches!(
            license.status,
            LicenseStatus::Revoked | LicenseStatus::Suspended
        ) {
            return false;
        }
        let grace = Duration::days(
            self.grace_days
                .unwrap_or(crate::domain::product::DEFAULT_GRACE_DAYS) as i64,
        );
        match self.status.as_deref() {
            Some("canceled") | Some("incomplete_expired") => {
                license.status = LicenseStatus::Expired;
                license.expires_at = Some(self.ended_at.and_then(ts).unwrap_or(now));
                license.suspend_at = None;
            }
            Some("past_due") | Some("unpaid") | Some("paused") => {
                // The unpaid period began at current_period_start; after the grace, suspended.
                let from = self.current_period_start.and_then(ts).unwrap_or(now);
                license.suspend_at = Some(plus(from, grace));
            }
            Some("active") | Some("trialing") => {
                license.suspend_at = None;
                if license.status == LicenseStatus::Expired {
                    license.status = LicenseStatus::Active;
                }
                // Expiry follows the period only as far as it has been paid for: a period
                // Stripe has started but whose invoice is not paid yet extends nothing.
                let end = match (self.current_period_end, self.paid_through) {
                    (Some(current), Some(paid)) => Some(current.min(paid)),
                    (current, None) => current,
                    (None, paid) => paid,
                };
                if let Some(end) = end.and_then(ts) {
                    license.expires_at = Some(if self.cancel_at_period_end {
                        end
                    } else {
                        plus(end, grace)
                    });
                }
            }
            _ => {}
        }
        (license.status, license.expires_at, license.suspend_at) != before
    }

    /// The expiry of a license paid through `period_end`.
    pub fn expiry_for(&self, period_end: i64) -> Option<OffsetDateTime> {
        let grace = Duration::days(
            self.grace_days
                .unwrap_or(crate::domain::product::DEFAULT_GRACE_DAYS) as i64,
        );
        ts(period_end).map(|t| plus(t, grace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license() -> License {
        crate::domain::fixtures::license()
    }

    fn record(status: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            status: Some(status.into()),
            current_period_start: Some(1_000_000),
            current_period_end: Some(2_000_000),
            grace_days: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn active_tracks_period_end_plus_grace_or_exact_end_when_cancelling() {
        let mut l = license();
        assert!(record("active").apply_to(&mut l, OffsetDateTime::UNIX_EPOCH));
        assert_eq!(l.expires_at, ts(2_000_000 + 3 * 86_400));
        let mut r = record("active");
        r.cancel_at_period_end = true;
        r.apply_to(&mut l, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(l.expires_at, ts(2_000_000));
    }

    #[test]
    fn past_due_suspends_after_grace_and_payment_reinstates() {
        let mut l = license();
        record("past_due").apply_to(&mut l, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(l.suspend_at, ts(1_000_000 + 3 * 86_400));
        assert_eq!(
            l.status_at(ts(1_000_000 + 86_400).unwrap()),
            LicenseStatus::Active
        );
        assert_eq!(
            l.status_at(ts(1_000_000 + 4 * 86_400).unwrap()),
            LicenseStatus::Suspended
        );
        record("active").apply_to(&mut l, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(l.suspend_at, None);
    }

    #[test]
    fn an_unpaid_new_period_extends_nothing() {
        let mut l = license();
        let mut r = record("active");
        r.paid_through = Some(1_500_000);
        r.apply_to(&mut l, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(l.expires_at, ts(1_500_000 + 3 * 86_400));
    }

    #[test]
    fn deletion_expires_and_manual_states_are_kept() {
        let mut l = license();
        let mut r = record("canceled");
        r.ended_at = Some(1_500_000);
        r.apply_to(&mut l, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            (l.status, l.expires_at),
            (LicenseStatus::Expired, ts(1_500_000))
        );
        let mut revoked = license();
        revoked.status = LicenseStatus::Revoked;
        assert!(!record("active").apply_to(&mut revoked, OffsetDateTime::UNIX_EPOCH));
    }

    #[test]
    fn within_one_second_the_object_says_which_state_is_newer() {
        let mut r = record("active");
        r.state_event_created = 100;
        r.current_period_end = Some(1_000);
        // Same second: `created` (incomplete) after `updated` (active) changes nothing;
        // `deleted` (canceled) wins over `updated` (active) whichever comes first.
        assert!(!r.is_not_older_than_record(Observation::new(
            100,
            Some(1_000),
            Some("incomplete")
        )));
        assert!(r.is_not_older_than_record(Observation::new(100, Some(1_000), Some("canceled"))));
        r.status = Some("canceled".into());
        assert!(!r.is_not_older_than_record(Observation::new(100, Some(1_000), Some("active"))));
        // A later paid period is newer, whatever its status.
        r.status = Some("past_due".into());
        assert!(r.is_not_older_than_record(Observation::new(100, Some(2_000), Some("active"))));
        // A later second always is; an earlier one never.
        assert!(r.is_not_older_than_record(Observation::new(101, Some(1_000), Some("active"))));
        assert!(!r.is_not_older_than_record(Observation::new(99, Some(9_000), Some("canceled"))));
        // Nothing seen yet: anything applies.
        let fresh = SubscriptionRecord::default();
        assert!(fresh.is_not_older_than_record(Observation::new(0, None, None)));
    }
}
