//! Subscriptions over their whole life. `customer.subscription.created/updated/deleted` update
//! the subscription's record (newest state wins: by event time, then within one second by the
//! subscription's own period and status, see `domain::subscription::Observation`; older ones
//! are ignored) and apply its state to
//! its licenses; issuance links new licenses to the record and applies the state it finds.
//! Both sides write the record with optimistic concurrency, so any order of events converges.

use super::Outcome;
use crate::domain::activity::Origin;
use crate::domain::subscription::{Observation, SubscriptionRecord};
use crate::domain::RenewalMode;
use crate::domain::StripeApp;
use crate::stripe::objects::Subscription;
use crate::stripe::{Event, EventObject};
use crate::{Error, Result, Services};

/// Attempts at a contended record before answering 5xx (Stripe then retries).
const ATTEMPTS: usize = 5;

/// Reads, changes (with `change`) and writes a subscription's record, retrying on conflicts.
/// `change` returns false to leave the record as it is.
async fn update_record(
    s: &Services,
    tenant_id: &str,
    subscription_id: &str,
    mut change: impl FnMut(&mut SubscriptionRecord) -> bool,
) -> Result<SubscriptionRecord> {
    for _ in 0..ATTEMPTS {
        let mut record = s
            .store
            .get_subscription(tenant_id, subscription_id)
            .await?
            .unwrap_or_else(|| SubscriptionRecord {
                subscription_id: subscription_id.to_string(),
                tenant_id: tenant_id.to_string(),
                ..Default::default()
            });
        if !change(&mut record) {
            return Ok(record);
        }
        record.version += 1;
        if s.store.put_subscription(&record).await? {
            return Ok(record);
        }
    }
    Err(Error::aws(
        "dynamodb",
        "subscription record kept changing under us",
    ))
}

/// Applies a record's state to licenses (each a conditional read-modify-write, so a
/// concurrent activation, PATCH or refund is never undone).
async fn apply(s: &Services, record: &SubscriptionRecord, license_ids: &[String]) -> Result<usize> {
    if record.status.is_none() || license_ids.is_empty() {
        return Ok(0);
    }
    let now = time::OffsetDateTime::now_utc();
    let mut changed = 0;
    for id in license_ids {
        let mut applied = false;
        s.store
            .edit_license(&record.tenant_id, id, &Origin::stripe(), |license| {
                applied = record.apply_to(license, now);
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::internal(format!("license {id} of a subscription is missing")))?;
        changed += usize::from(applied);
    }
    Ok(changed)
}

/// Records what Stripe says of a subscription (from an event or a fetch made while handling
/// event `created`), and applies it to the subscription's licenses.
pub(super) async fn observe(
    s: &Services,
    tenant_id: &str,
    sub: Subscription<'_>,
    created: i64,
) -> Result<SubscriptionRecord> {
    let id = sub
        .id()
        .ok_or_else(|| Error::internal("subscription without id"))?;
    let seen = Observation::new(created, sub.current_period_end(), sub.status());
    let record = update_record(s, tenant_id, id, |r| {
        if !r.is_not_older_than_record(seen) {
            tracing::info!(subscription = id, "older subscription state ignored");
            return false;
        }
        r.status = sub.status().map(str::to_string);
        r.current_period_start = sub.current_period_start().or(r.current_period_start);
        r.current_period_end = sub.current_period_end().or(r.current_period_end);
        r.cancel_at_period_end = sub.cancel_at_period_end();
        r.ended_at = sub.ended_at();
        r.state_event_created = created;
        true
    })
    .await?;
    apply(s, &record, &record.license_ids).await?;
    Ok(record)
}

/// Links newly issued (or found) licenses to their subscription and applies its state.
/// New-key subscriptions replace the current licenses with a newer period's; extend ones keep
/// theirs.
pub(super) async fn link(
    s: &Services,
    tenant_id: &str,
    subscription_id: &str,
    license_ids: &[String],
    renewal_mode: RenewalMode,
    grace_days: u32,
    period_end: Option<i64>,
) -> Result<()> {
    let record = update_record(s, tenant_id, subscription_id, |r| {
        let newest = period_end.unwrap_or(0) >= r.paid_through.unwrap_or(0);
        let already = license_ids.iter().all(|id| r.license_ids.contains(id));
        match renewal_mode {
            // Only the newest period's keys are current; an older period's keep their own expiry.
            RenewalMode::NewKey if newest && !already => r.license_ids = license_ids.to_vec(),
            RenewalMode::NewKey => {}
            RenewalMode::Extend => {
                for id in license_ids {
                    if !r.license_ids.contains(id) {
                        r.license_ids.push(id.clone());
                    }
                }
            }
        }
        let changed = !already
            || r.renewal_mode != Some(renewal_mode)
            || (newest && period_end > r.paid_through);
        if newest {
            r.paid_through = period_end.or(r.paid_through);
        }
        r.renewal_mode = Some(renewal_mode);
        r.grace_days = Some(grace_days);
        changed
    })
    .await?;
    let current: Vec<String> = license_ids
        .iter()
        .filter(|id| record.license_ids.contains(id))
        .cloned()
        .collect();
    apply(s, &record, &current).await?;
    Ok(())
}

/// The record of a subscription, if Keyhook has seen it.
pub(super) async fn record(
    s: &Services,
    tenant_id: &str,
    id: &str,
) -> Result<Option<SubscriptionRecord>> {
    s.store.get_subscription(tenant_id, id).await
}

/// An `extend` renewal: the subscription's licenses run to the new period's end (never
/// shortened by an older invoice), and a failed-payment suspension is lifted.
pub(super) async fn extend(
    s: &Services,
    record: &SubscriptionRecord,
    period_end: i64,
) -> Result<Vec<String>> {
    let Some(expiry) = record.expiry_for(period_end) else {
        return Ok(Vec::new());
    };
    for id in &record.license_ids {
        s.store
            .edit_license(&record.tenant_id, id, &Origin::stripe(), |license| {
                if matches!(
                    license.status,
                    crate::domain::LicenseStatus::Revoked | crate::domain::LicenseStatus::Suspended
                ) {
                    return Ok(());
                }
                if license.expires_at.is_none_or(|t| t < expiry) {
                    license.expires_at = Some(expiry);
                }
                license.suspend_at = None;
                if license.status == crate::domain::LicenseStatus::Expired {
                    license.status = crate::domain::LicenseStatus::Active;
                }
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::internal(format!("license {id} of a subscription is missing")))?;
    }
    update_record(s, &record.tenant_id, &record.subscription_id, |r| {
        if r.paid_through.is_some_and(|p| p >= period_end) {
            return false;
        }
        r.paid_through = Some(period_end);
        true
    })
    .await?;
    Ok(record.license_ids.clone())
}

/// `customer.subscription.created|updated|deleted`.
pub(super) async fn changed(s: &Services, app: &StripeApp, event: &Event) -> Result<Outcome> {
    let sub = Subscription(event.object());
    if sub.id().is_none() {
        return Ok(Outcome::Refused("the subscription has no id".into()));
    }
    let record = observe(s, &app.tenant_id, sub, event.created).await?;
    Ok(Outcome::Done {
        purchase_ref: None,
        license_ids: record.license_ids,
        logged: false,
    })
}
