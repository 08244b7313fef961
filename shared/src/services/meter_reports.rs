//! Usage billed through Stripe: accepted records of a meter with a `stripeMeterEvent` wait on
//! the license item (`meters.*.pending`, written with the record in its conditional write) and
//! are sent here as Stripe Billing Meter events (`POST /v1/billing/meter_events`) with the
//! issuing app's secret key, for the buyer's Stripe customer. The table's stream calls this on
//! every license change with pending reports; Stripe unreachable is transient, so the stream
//! record is retried. Each event's `identifier` is derived from the record
//! (`{licenseId}:{meter}:{idempotencyKey}`): a report sent twice is dropped by Stripe, and one
//! Stripe already has is marked sent. One Stripe refuses for good (an unknown event name, a
//! deleted customer) is marked failed with Stripe's words, shown on the license page.

use std::collections::BTreeMap;

use crate::crypto::secret::Secret;
use crate::domain::validation::meters::{self, MeterCount, MeterReport};
use crate::services::app_secrets::{self, AppSecret};
use crate::services::billing_portal::{self, BillingPortalError};
use crate::store::license_usage::ChangeWrite;
use crate::stripe::client::{Form, StripeError};
use crate::{Error, Result, Services};

/// Attempts at marking a report sent against concurrent records.
const MARK_ATTEMPTS: u32 = 20;

fn upstream(detail: String) -> Error {
    Error::Upstream {
        service: "stripe",
        detail,
    }
}

/// Sends the license's pending reports; how many Stripe took. `Err(Upstream)` (or a failure of
/// Keyhook's store) when Stripe could not be reached: retried. A report Stripe refuses, or one
/// that has nowhere to go (the license not sold through Stripe, its app deleted, no customer),
/// is marked failed with why: the license page shows it.
pub async fn report_pending(s: &Services, license_id: &str) -> Result<usize> {
    let Some((license, usage)) = s.store.get_license_with_usage(license_id).await? else {
        return Ok(0);
    };
    let pending: Vec<MeterReport> = usage
        .meters
        .values()
        .flat_map(|c| c.pending.iter().cloned())
        .collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let (secret, customer) = match destination(s, &license).await {
        Ok(d) => d,
        Err(Destination::Unavailable(e)) => return Err(e),
        // Never sendable as things stand: each report is marked failed, with why, rather
        // than kept pending (where it would count against the license's backlog).
        Err(Destination::Never(why)) => {
            tracing::warn!(license_id, %why, "usage reports cannot be sent to Stripe");
            for r in &pending {
                settle(s, license_id, |counts| {
                    meters::mark_failed(counts, &r.id, &why)
                })
                .await?;
            }
            return Ok(0);
        }
    };
    let mut sent = 0;
    for r in &pending {
        let form = Form::new()
            .set("event_name", &r.event)
            .set("payload[stripe_customer_id]", &customer)
            .set("payload[value]", r.value)
            .set("identifier", &r.id)
            .set("timestamp", r.at);
        match s
            .stripe
            .post(
                &secret,
                "billing/meter_events",
                &form,
                &format!("keyhook-meter-{}", r.id),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if already_sent(&e) => {}
            Err(StripeError::Api {
                status, message, ..
            }) if (400..500).contains(&status) && status != 429 => {
                // Refused for good (sending it again gets the same answer): taken off the
                // pending list so it neither blocks the others nor piles up.
                tracing::warn!(license_id, event = %r.event, value = r.value, %message, "Stripe refused a usage report");
                settle(s, license_id, |counts| {
                    meters::mark_failed(
                        counts,
                        &r.id,
                        &format!("Stripe refused meter event {}: {message}", r.event),
                    )
                })
                .await?;
                continue;
            }
            Err(e) => return Err(upstream(e.to_string())),
        }
        settle(s, license_id, |counts| meters::mark_reported(counts, &r.id)).await?;
        tracing::info!(license_id, event = %r.event, value = r.value, "usage reported to Stripe");
        sent += 1;
    }
    Ok(sent)
}

/// Why reports cannot go to Stripe now: [`Destination::Unavailable`] passes by retrying;
/// [`Destination::Never`] (in the merchant's words) does not.
enum Destination {
    Unavailable(Error),
    Never(String),
}

/// The selling app's secret key and the buyer's Stripe customer.
async fn destination(
    s: &Services,
    license: &crate::domain::License,
) -> std::result::Result<(Secret, String), Destination> {
    let never = |why: &str| Destination::Never(why.to_string());
    let Some(app_id) = license.source.stripe_app_id.as_deref() else {
        return Err(never("the license was not sold through Stripe"));
    };
    let app = s
        .store
        .get_tenant_app(&license.tenant_id, app_id)
        .await
        .map_err(Destination::Unavailable)?
        .ok_or_else(|| never("the Stripe app that sold the license was deleted"))?;
    let secret = app_secrets::open(s, &app, AppSecret::SecretKey)
        .await
        .map_err(Destination::Unavailable)?
        .ok_or_else(|| never("the Stripe app that sold the license has no secret key"))?;
    let customer = billing_portal::stripe_customer(s, &secret, license)
        .await
        .map_err(|e| match e {
            BillingPortalError::StripeUnavailable(d) => Destination::Unavailable(upstream(d)),
            BillingPortalError::Internal(e) => Destination::Unavailable(e),
            BillingPortalError::NoStripeCustomer => {
                never("Stripe has no customer for this license's payment")
            }
            other => Destination::Never(other.to_string()),
        })?;
    Ok((secret, customer))
}

/// Stripe already has an event with this identifier (a report sent before its mark was lost).
fn already_sent(e: &StripeError) -> bool {
    matches!(e, StripeError::Api { status: 400, code, message, .. }
        if code.as_deref().is_some_and(|c| c.contains("duplicate"))
            || message.contains("identifier") && message.contains("already"))
}

/// Writes what `change` makes of the license's meter counts (a report sent or refused), on a
/// fresh read each time a concurrent record wins the race; nothing when the report is no
/// longer pending.
async fn settle(
    s: &Services,
    license_id: &str,
    change: impl Fn(&BTreeMap<String, MeterCount>) -> Option<BTreeMap<String, MeterCount>>,
) -> Result<()> {
    for _ in 0..MARK_ATTEMPTS {
        let Some((license, usage)) = s.store.get_license_with_usage(license_id).await? else {
            return Ok(());
        };
        let Some(counts) = change(&usage.meters) else {
            return Ok(());
        };
        if let ChangeWrite::Written = s
            .store
            .write_meters(&license, usage.meter_version, &counts)
            .await?
        {
            return Ok(());
        }
    }
    Err(upstream(format!(
        "license {license_id}: usage report not settled (busy)"
    )))
}
