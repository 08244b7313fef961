//! A request with a license key: read the license (one GetItem by the id derived from the key's
//! hash), let the rules decide, write the change they ask for conditionally on the version read,
//! answer. A write that lost a race (another request changed the license since the read) is
//! re-decided on a fresh read, so limits hold under concurrency: the loser sees the winner's
//! devices.

use std::time::Duration;

use rand::Rng;

use super::answer::{respond, Answer, LicenseSummary};
use super::input::ValidationInput;
use crate::domain::license_key::AnyKey;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::{rules, Check, Code, Decision};
use crate::http::{ApiRequest, ApiResponse};
use crate::store::license_usage::ChangeWrite;
use crate::{Error, Result, Services};

/// Reads-and-writes one request may try before giving up with `409 conflict`.
const MAX_ATTEMPTS: u32 = 10;

/// Which route is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Validate,
    Activate,
    Deactivate,
}

/// Answers a request that carries `key_text`.
pub async fn answer(
    s: &Services,
    req: &ApiRequest,
    route: Route,
    input: &ValidationInput,
    key_text: &str,
) -> Result<ApiResponse> {
    // Native keys by their own normalisation; imported keys exactly (domain::license_key).
    let Ok(key) = AnyKey::parse(key_text) else {
        return not_found(s, input).await;
    };
    let license_id = key.license_id();
    let key_hash = hex::encode(key.lookup_hash());
    let ip = client_ip_key(req.source_ip);
    for attempt in 0..MAX_ATTEMPTS {
        let now = crate::time::now();
        let Some((mut license, mut usage)) = s.store.get_license_with_usage(&license_id).await?
        else {
            return not_found(s, input).await;
        };
        if license.key_hash != key_hash {
            return not_found(s, input).await;
        }
        let check = Check {
            product_id: &input.product_id,
            device: input.device.as_ref(),
            device_name: input.device_name.as_deref(),
            ip: &ip,
            now,
        };
        let decision = match route {
            Route::Validate => rules::validate(&license, &usage, &check),
            Route::Activate => rules::activate(&license, &usage, &check),
            Route::Deactivate => rules::deactivate(&license, &usage, &check),
        };
        let verdict = match decision {
            Decision::Answer(v) => v,
            Decision::Throttled => {
                tracing::info!(license_id = %license.id, "device change budget spent");
                return Err(Error::RateLimited(
                    "this license changed devices too often; retry later".into(),
                ));
            }
            Decision::Change(v, change) => {
                match s
                    .store
                    .write_license_change(&license, &usage, &change, now)
                    .await?
                {
                    ChangeWrite::Written => {
                        change.apply(&mut license, &mut usage);
                        tracing::info!(
                            license_id = %license.id,
                            route = ?route,
                            devices = license.devices.len(),
                            "license usage changed"
                        );
                        v
                    }
                    ChangeWrite::Stale => {
                        backoff(attempt).await;
                        continue;
                    }
                }
            }
        };
        // A key for another product says nothing about that product's license.
        let summary =
            (verdict.code != Code::ProductMismatch).then(|| LicenseSummary::of(&license, now));
        return respond(
            s,
            Some(&license.tenant_id),
            Answer {
                verdict,
                license: summary,
                trial: None,
                nonce: input.nonce.as_deref(),
                now,
            },
        )
        .await;
    }
    Err(Error::Conflict(
        "the license is being changed by many requests at once; retry".into(),
    ))
}

/// A short random pause before re-reading, growing with the attempts, so that racing requests
/// spread out.
async fn backoff(attempt: u32) {
    let ceiling_ms = (5u64 << attempt.min(4)).min(80);
    let pause = rand::thread_rng().gen_range(0..=ceiling_ms);
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

/// `NOT_FOUND`, signed by the tenant of the product asked about (the tenant the app trusts);
/// unsigned when the product does not exist either.
pub async fn not_found(s: &Services, input: &ValidationInput) -> Result<ApiResponse> {
    let product = s.store.get_product(&input.product_id).await?;
    respond(
        s,
        product.as_ref().map(|p| p.tenant_id.as_str()),
        Answer {
            verdict: Code::NotFound.verdict(),
            license: None,
            trial: None,
            nonce: input.nonce.as_deref(),
            now: crate::time::now(),
        },
    )
    .await
}
