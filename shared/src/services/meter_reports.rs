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

/// Sends the license's pending reports; how many Stripe took. `Err(Upstream)` when Stripe
/// could not be reached (retried); a report Stripe refuses is marked failed; any other error
/// can never pass by retrying and leaves the reports pending (the license page shows them).
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
    let app_id = license.source.stripe_app_id.as_deref().ok_or_else(|| {
        Error::internal(format!(
            "license {license_id} was not sold through Stripe: usage not reported"
        ))
    })?;
    let app = s
        .store
        .get_tenant_app(&license.tenant_id, app_id)
        .await?
        .ok_or_else(|| Error::internal(format!("license {license_id}: its Stripe app is gone")))?;
    let secret = app_secrets::open(s, &app, AppSecret::SecretKey)
        .await?
        .ok_or_else(|| {
            Error::internal(format!(
                "license {license_id}: its Stripe app has no secret key"
            ))
        })?;
    let customer = billing_portal::stripe_customer(s, &secret, &license)
        .await
        .map_err(|e| match e {
            BillingPortalError::StripeUnavailable(d) => upstream(d),
            BillingPortalError::Internal(e) => e,
            other => Error::internal(format!("license {license_id}: {other}")),
        })?;
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
