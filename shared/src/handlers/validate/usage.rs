//! Usage limits (public, called from end-user apps; rules in `domain::validation::meters`):
//! `POST /api/licenses/usage` `{ licenseKey, productId, meter, quantity, idempotencyKey,
//! deviceId?, nonce?, environment? }` (a `deviceId` is echoed as the answer's `deviceHash`) records `quantity` on the product's meter for the current period.
//! A signed answer: `valid: true` with `usage` (what remains), or `USAGE_LIMIT_REACHED` with
//! the same numbers and nothing recorded. A retry with the same `idempotencyKey` counts once
//! and answers the count it answered the first time.
//!
//! The license must stand as validation requires (`rules::standing`: product, mode, status).
//! Each request is one read of the license item (the counts live on it) and, when a record is
//! accepted, one write conditional on the meter version read; a lost race decides again on a
//! fresh read.

use time::OffsetDateTime;

use super::answer::{respond, Answer, LicenseSummary, UsageSummary};
use super::input::{self, ValidationInput};
use super::license::{self, MAX_ATTEMPTS, RACE_BACKOFF};
use crate::domain::license_key::AnyKey;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::meters::{self, Meter, MeterPeriod, Record, Window};
use crate::domain::validation::{Code, Verdict};
use crate::domain::License;
use crate::http::{ApiRequest, ApiResponse};
use crate::store::license_usage::ChangeWrite;
use crate::{Error, Result, Services};

/// More attempts than a lease: every accepted record writes, so many apps recording at once
/// on one license each win a round in turn.
const USAGE_ATTEMPTS: u32 = MAX_ATTEMPTS * 5;

fn period_name(p: MeterPeriod) -> &'static str {
    match p {
        MeterPeriod::Month => "month",
        MeterPeriod::Subscription => "subscription",
        MeterPeriod::Lifetime => "lifetime",
    }
}

/// The answer's `usage` for `meter` at count `used`.
pub fn summary<'a>(meter: &'a Meter, window: &Window, used: u64) -> UsageSummary<'a> {
    UsageSummary {
        meter: &meter.name,
        period: period_name(meter.period),
        used,
        limit: meter.limit,
        remaining: meter.limit.saturating_sub(used),
        resets_at: window.resets_at.map(crate::time::format),
    }
}

/// `POST /api/licenses/usage`.
pub async fn record(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let input = input::parse_requiring(req, input::USAGE_REQUIRED)?;
    if !s.ip_budgets.validate.allow(&client_ip_key(req.source_ip)) {
        return Err(Error::RateLimited(
            "too many license requests from this address; retry in a minute".into(),
        ));
    }
    let meter_name = input.meter.clone().unwrap_or_default();
    let quantity = input.quantity.unwrap_or_default();
    let key_id = input.idempotency_key.clone().unwrap_or_default();
    let key_text = input.license_key.as_deref().unwrap_or_default();
    let Ok(key) = AnyKey::parse(key_text) else {
        return license::not_found(s, &input, input.device_hash().as_deref(), None).await;
    };
    for attempt in 0..USAGE_ATTEMPTS {
        let now = s.clock.now();
        let Some((license, usage)) = license::find(s, &key, &input.product_id).await? else {
            let id = key.license_id(&input.product_id);
            let hash = input.device_hash();
            return license::not_found(s, &input, hash.as_deref(), Some(&id)).await;
        };
        let license::Standing {
            product,
            livemode,
            refusal,
        } = license::standing(s, &license, &input, now).await?;
        if let Some(v) = refusal {
            return answer(s, &input, &license, livemode, v, None, now).await;
        }
        let Some(meter) = product.meters.iter().find(|m| m.name == meter_name) else {
            return Err(Error::conflict_at(
                "meter",
                format!("the product has no meter named {meter_name}"),
            ));
        };
        let window = meters::window(meter.period, &license, now);
        let decided = meters::record(
            &usage.meters,
            &meter.name,
            meter.limit,
            &window,
            quantity,
            &key_id,
        );
        let (code, used) = match decided {
            Record::Repeat { period, used } => {
                // The count it answered, in its own period (a retry across a reset still
                // answers what the first request was told).
                let used = if period == window.key {
                    used
                } else {
                    used.min(meter.limit)
                };
                (Code::Valid, used)
            }
            Record::Full { used } => {
                limit_reached(s, &license, &usage, &meter.name, now).await;
                (Code::UsageLimitReached, used)
            }
            Record::Write { mut counts, used } => {
                if let Some(event) = &meter.stripe_meter_event {
                    let report = meters::MeterReport {
                        id: meters::report_id(&license.id, &meter.name, &key_id),
                        event: event.clone(),
                        value: quantity,
                        at: now.unix_timestamp(),
                    };
                    // Stripe unreachable for long: refuse rather than count usage that
                    // would not be billed; the app retries with the same idempotencyKey.
                    if meters::with_report(&mut counts, &meter.name, report).is_err() {
                        return Err(Error::Upstream {
                            service: "stripe",
                            detail: format!(
                                "license {}: {} usage reports wait for Stripe",
                                license.id,
                                meters::MAX_PENDING_REPORTS
                            ),
                        });
                    }
                }
                match s
                    .store
                    .write_meters(&license, usage.meter_version, &counts)
                    .await?
                {
                    ChangeWrite::Written => {
                        tracing::info!(license_id = %license.id, meter = %meter.name, quantity, "usage recorded");
                        (Code::Valid, used)
                    }
                    ChangeWrite::Stale => {
                        RACE_BACKOFF.sleep(attempt.min(MAX_ATTEMPTS) + 1).await;
                        continue;
                    }
                }
            }
        };
        let usage = summary(meter, &window, used);
        return answer(
            s,
            &input,
            &license,
            livemode,
            code.verdict(),
            Some(usage),
            now,
        )
        .await;
    }
    Err(Error::Conflict(
        "the license's usage is being recorded by many requests at once; retry with the same idempotencyKey".into(),
    ))
}

/// Records that `meter` ran out (`meters.{meter}.reachedAt`), at most once an hour per license
/// and meter: the table's stream turns the change into `license.usage_limit_reached`. A lost
/// race means another refusal recorded it; a failure never fails the answer.
async fn limit_reached(
    s: &Services,
    license: &License,
    usage: &crate::domain::validation::LicenseUsage,
    meter: &str,
    now: OffsetDateTime,
) {
    let Some(counts) = meters::mark_reached(&usage.meters, meter, now.unix_timestamp()) else {
        return;
    };
    if let Err(e) = s
        .store
        .write_meters(license, usage.meter_version, &counts)
        .await
    {
        tracing::warn!(license_id = %license.id, error = %e, "usage limit not recorded");
    }
}

async fn answer(
    s: &Services,
    input: &ValidationInput,
    license: &License,
    livemode: bool,
    verdict: Verdict,
    usage: Option<UsageSummary<'_>>,
    now: OffsetDateTime,
) -> Result<ApiResponse> {
    let device_hash = input.device_hash();
    respond(
        s,
        Some(&license.tenant_id),
        Answer {
            license_id: Some(&license.id),
            livemode,
            license: (verdict.code != Code::ProductMismatch)
                .then(|| LicenseSummary::of(license, now)),
            usage,
            ..Answer::to(input, device_hash.as_deref(), verdict, now)
        },
    )
    .await
}

/// What a license used of each meter of its product this period (the dashboard's license
/// page): (meter, period, used, limit, resetsAt, and for meters billed through Stripe the
/// units reported, pending and refused, with Stripe's last refusal); empty when the license is not the tenant's.
pub async fn meters_in_use(
    s: &Services,
    tenant_id: &str,
    license_id: &str,
) -> Result<Vec<serde_json::Value>> {
    let now = s.clock.now();
    let Some((license, usage)) = s
        .store
        .get_license_with_usage(license_id)
        .await?
        .filter(|(l, _)| l.tenant_id == tenant_id)
    else {
        return Ok(Vec::new());
    };
    let Some(product) = s
        .store
        .get_product_cached(&license.tenant_id, &license.product_id)
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(product
        .meters
        .iter()
        .map(|m| {
            let window = meters::window(m.period, &license, now);
            let used = meters::used(&usage.meters, &m.name, &window);
            let mut v = serde_json::to_value(summary(m, &window, used)).unwrap_or_default();
            // Billed through Stripe: units reported this period, and records still to send.
            if m.stripe_meter_event.is_some() {
                let count = usage.meters.get(&m.name);
                let current = count.filter(|c| c.period == window.key);
                v["reported"] = current.map_or(0, |c| c.reported).into();
                v["pending"] = count
                    .map_or(0, |c| c.pending.iter().map(|r| r.value).sum::<u64>())
                    .into();
                v["failed"] = count.map_or(0, |c| c.failed).into();
                if let Some(why) = count.and_then(|c| c.last_failure.as_deref()) {
                    v["lastFailure"] = why.into();
                }
            }
            v
        })
        .collect())
}
