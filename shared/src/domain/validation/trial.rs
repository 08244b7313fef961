//! Trials: `validate` without a key, for a (product, device). A product with `trialDays > 0`
//! gives each device one trial, ever, and only if the device was never activated for the
//! product (a buyer's device does not get a fresh trial).

use time::{Duration, OffsetDateTime};

use super::code::{Code, Verdict};
use super::device::ProductDevice;
use crate::domain::Product;

/// The trial an answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialPeriod {
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What to do for a trial request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialDecision {
    /// Answer now (the trial, if one exists, is shown).
    Answer(Verdict, Option<TrialPeriod>),
    /// Start this trial (conditionally: no trial and no activation yet), then answer `TRIAL`.
    Start(TrialPeriod),
}

/// Decides for a product and what is known of the device (`has_device`: a `deviceId` was sent).
pub fn decide(
    product: &Product,
    has_device: bool,
    record: Option<&ProductDevice>,
    now: OffsetDateTime,
) -> TrialDecision {
    if product.trial_days == 0 || product.archived {
        return TrialDecision::Answer(Code::NoTrial.verdict(), None);
    }
    if !has_device {
        return TrialDecision::Answer(
            Verdict::with_detail(Code::DeviceRequired, "A trial needs a deviceId."),
            None,
        );
    }
    if let Some(r) = record {
        if r.first_activated_at.is_some() {
            return TrialDecision::Answer(
                Verdict::with_detail(
                    Code::NoTrial,
                    "This device has been activated with a license for this product.",
                ),
                None,
            );
        }
        if let (Some(started_at), Some(expires_at)) = (r.trial_started_at, r.trial_expires_at) {
            let period = TrialPeriod {
                started_at,
                expires_at,
            };
            let code = if now < expires_at {
                Code::Trial
            } else {
                Code::TrialExpired
            };
            return TrialDecision::Answer(code.verdict(), Some(period));
        }
    }
    TrialDecision::Start(TrialPeriod {
        started_at: now,
        expires_at: now + Duration::days(product.trial_days as i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap()
    }

    fn product(trial_days: u32) -> Product {
        let mut p = crate::domain::fixtures::product();
        p.price = "1.00".into();
        p.auto_email = false;
        p.trial_days = trial_days;
        p.created_at = now();
        p.updated_at = now();
        p
    }

    fn record() -> ProductDevice {
        ProductDevice {
            tenant_id: "ten_a".into(),
            product_id: "42".into(),
            device_hash: "h".into(),
            first_activated_at: None,
            trial_started_at: None,
            trial_expires_at: None,
        }
    }

    fn code(d: TrialDecision) -> Code {
        match d {
            TrialDecision::Answer(v, _) => v.code,
            TrialDecision::Start(_) => Code::Trial,
        }
    }

    #[test]
    fn a_new_device_starts_a_trial_of_the_products_length() {
        assert_eq!(
            decide(&product(14), true, None, now()),
            TrialDecision::Start(TrialPeriod {
                started_at: now(),
                expires_at: now() + Duration::days(14)
            })
        );
    }

    #[test]
    fn no_trial_without_trial_days_device_or_for_activated_devices() {
        assert_eq!(code(decide(&product(0), true, None, now())), Code::NoTrial);
        assert_eq!(
            code(decide(&product(14), false, None, now())),
            Code::DeviceRequired
        );
        let mut r = record();
        r.first_activated_at = Some(now());
        assert_eq!(
            code(decide(&product(14), true, Some(&r), now())),
            Code::NoTrial
        );
        let mut archived = product(14);
        archived.archived = true;
        assert_eq!(code(decide(&archived, true, None, now())), Code::NoTrial);
    }

    #[test]
    fn a_started_trial_runs_then_expires_and_never_restarts() {
        let mut r = record();
        r.trial_started_at = Some(now());
        r.trial_expires_at = Some(now() + Duration::days(14));
        assert_eq!(
            code(decide(
                &product(14),
                true,
                Some(&r),
                now() + Duration::days(13)
            )),
            Code::Trial
        );
        assert_eq!(
            code(decide(
                &product(14),
                true,
                Some(&r),
                now() + Duration::days(14)
            )),
            Code::TrialExpired
        );
        // Raising trialDays later does not give the device a second trial.
        assert_eq!(
            code(decide(
                &product(30),
                true,
                Some(&r),
                now() + Duration::days(20)
            )),
            Code::TrialExpired
        );
    }
}
