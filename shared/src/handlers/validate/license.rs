//! A request with a license key: read the license (one GetItem by the id derived from the key's
//! hash; an imported key's within the product asked about, see [`Lookup`]), let the rules decide, write the change they ask for conditionally on the version read,
//! answer. A write that lost a race (another request changed the license since the read) is
//! re-decided on a fresh read, so limits hold under concurrency: the loser sees the winner's
//! devices.
//!
//! The license's mode decides too: a license from a test-mode payment is `TEST_LICENSE` for an
//! app that did not say `"environment": "test"`, unless its product accepts test licenses
//! (read only in that case, so a live license still costs one read).

use std::net::IpAddr;
use std::time::Duration;

use super::answer::{respond, Answer, LicenseSummary};
use super::input::{Environment, ValidationInput};
use crate::backoff::Backoff;
use crate::domain::activity::{Actor, Origin};
use crate::domain::license_key::AnyKey;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::{rules, Check, Code, Decision, LicenseUsage, Verdict};
use crate::domain::{portal_links, License};
use crate::http::{ApiRequest, ApiResponse};
use crate::store::license_usage::ChangeWrite;
use crate::{Error, Result, Services};

/// Reads-and-writes one request may try before giving up with `409 conflict`.
pub(super) const MAX_ATTEMPTS: u32 = 10;

/// Which route is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Validate,
    Activate,
    Deactivate,
}

/// What the rules decided for a license (after any write they asked for).
#[derive(Debug)]
pub struct Decided {
    /// The license as it is after the decision's write.
    pub license: License,
    pub verdict: Verdict,
    /// The license's mode (recorded, or read from its Stripe app for older licenses).
    pub livemode: bool,
    pub now: time::OffsetDateTime,
    /// What the license used of its meters (read with it; answered with `include: ["usage"]`).
    pub meters: std::collections::BTreeMap<String, crate::domain::validation::meters::MeterCount>,
}

/// Where the license of a key presented for a product is read: the id the key derives for that
/// product (one GetItem: a native key's own id; an imported key's within the product, so within
/// its tenant). An imported key that finds nothing there is looked for once more where licenses
/// imported before keys were scoped are stored ([`AnyKey::unscoped_license_id`]), and such a
/// license counts only if it covers the product asked about: another tenant's license with the
/// same legacy key is never found through this tenant's product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub license_id: String,
    key_hash: String,
    /// An unscoped (pre-scoping) location: the license must cover the product.
    unscoped: bool,
}

impl Lookup {
    /// Where the key's license is for `product_id`.
    pub fn of(key: &AnyKey, product_id: &str) -> Self {
        Lookup {
            license_id: key.license_id(product_id),
            key_hash: hex::encode(key.lookup_hash(product_id)),
            unscoped: false,
        }
    }

    /// Where to look next when [`Lookup::of`] found nothing: an imported key's unscoped
    /// location; nothing for a native key (its id is the only one).
    pub fn fallback(key: &AnyKey) -> Option<Self> {
        key.is_imported().then(|| Lookup {
            license_id: key.unscoped_license_id(),
            key_hash: hex::encode(key.unscoped_hash()),
            unscoped: true,
        })
    }

    /// Whether `license`, read at this location, is the key's license for `product_id`.
    pub fn accepts(&self, license: &License, product_id: &str) -> bool {
        license.key_hash == self.key_hash && (!self.unscoped || license.covers(product_id))
    }
}

/// The license and usage at `at`, if it is the key's license for `product_id`.
async fn read_at(
    s: &Services,
    at: &Lookup,
    product_id: &str,
) -> Result<Option<(License, LicenseUsage)>> {
    Ok(s.store
        .get_license_with_usage(&at.license_id)
        .await?
        .filter(|(license, _)| at.accepts(license, product_id)))
}

/// The license (and usage) of `key` for `product_id`, where [`Lookup`] says it is (the
/// fallback location read only for imported keys found nowhere else).
pub async fn find(
    s: &Services,
    key: &AnyKey,
    product_id: &str,
) -> Result<Option<(License, LicenseUsage)>> {
    let found = read_at(s, &Lookup::of(key, product_id), product_id).await?;
    match (found, Lookup::fallback(key)) {
        (None, Some(fallback)) => read_at(s, &fallback, product_id).await,
        (found, _) => Ok(found),
    }
}

/// Reads and decides, writing what the rules ask; `None` when no license has this key.
pub async fn decide(
    s: &Services,
    source_ip: Option<IpAddr>,
    route: Route,
    input: &ValidationInput,
    key: &AnyKey,
    actor: Actor,
) -> Result<Option<Decided>> {
    let origin = Origin::new(actor, source_ip);
    let mut at = Lookup::of(key, &input.product_id);
    let ip = client_ip_key(source_ip);
    let mut test_accepted = None;
    for attempt in 0..MAX_ATTEMPTS {
        let now = crate::time::now();
        let mut found = read_at(s, &at, &input.product_id).await?;
        if found.is_none() && attempt == 0 {
            if let Some(fallback) = Lookup::fallback(key) {
                found = read_at(s, &fallback, &input.product_id).await?;
                at = fallback;
            }
        }
        let Some((mut license, mut usage)) = found else {
            return Ok(None);
        };
        let livemode = livemode_of(s, &license).await?;
        let accepted = match (livemode, input.environment, test_accepted) {
            (true, _, _) | (_, Environment::Test, _) => true,
            (false, Environment::Live, Some(known)) => known,
            (false, Environment::Live, None) => {
                let product = s.store.get_product(&license.product_id).await?;
                let known = product.is_some_and(|p| p.accept_test_licenses);
                test_accepted = Some(known);
                known
            }
        };
        let check = Check {
            product_id: &input.product_id,
            device: input.device.as_ref(),
            device_name: input.device_name.as_deref(),
            ip: &ip,
            now,
            livemode,
            test_accepted: accepted,
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
                    .write_license_change(&license, &usage, &change, now, &origin)
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
                        RACE_BACKOFF.sleep(attempt + 1).await;
                        continue;
                    }
                }
            }
        };
        return Ok(Some(Decided {
            license,
            verdict,
            livemode,
            now,
            meters: usage.meters,
        }));
    }
    Err(Error::Conflict(
        "the license is being changed by many requests at once; retry".into(),
    ))
}

/// The mode of a license: recorded on it (or readable from its Checkout Session id); for a
/// license issued before Keyhook recorded the mode, the mode of the Stripe app that issued it
/// (one more read, only for such licenses); live for a license without a Stripe app (issued
/// by hand), or whose app was deleted. See docs/validation.md, "Test and live".
pub async fn livemode_of(s: &Services, license: &License) -> Result<bool> {
    if let Some(m) = license.recorded_livemode() {
        return Ok(m);
    }
    let Some(app_id) = license.source.stripe_app_id.as_deref() else {
        return Ok(true);
    };
    Ok(s.store
        .get_tenant_app(&license.tenant_id, app_id)
        .await?
        .is_none_or(|app| app.is_live))
}

/// What a lease or a usage record reads before its own rule: the license's product and mode,
/// and validation's refusal (product, mode, status) when the license does not stand.
pub struct Standing {
    pub product: crate::domain::Product,
    pub livemode: bool,
    pub refusal: Option<Verdict>,
}

/// [`Standing`] of `license` for `input` at `now` (one cached product read; the app's mode
/// only for a license that does not record its own).
pub async fn standing(
    s: &Services,
    license: &License,
    input: &ValidationInput,
    now: time::OffsetDateTime,
) -> Result<Standing> {
    let product = s
        .store
        .get_product_cached(&license.tenant_id, &license.product_id)
        .await?
        .ok_or_else(|| Error::internal(format!("license {} without its product", license.id)))?;
    let livemode = livemode_of(s, license).await?;
    let check = Check {
        product_id: &input.product_id,
        device: input.device.as_ref(),
        device_name: None,
        ip: "",
        now,
        livemode,
        test_accepted: livemode
            || input.environment == Environment::Test
            || product.accept_test_licenses,
    };
    let refusal = rules::standing(license, &check);
    Ok(Standing {
        product,
        livemode,
        refusal,
    })
}

/// Answers a request that carries `key_text`.
pub async fn answer(
    s: &Services,
    req: &ApiRequest,
    route: Route,
    input: &ValidationInput,
    key_text: &str,
) -> Result<ApiResponse> {
    let device_hash = input.device_hash();
    // Native keys by their own normalisation; imported keys exactly (domain::license_key).
    let Ok(key) = AnyKey::parse(key_text) else {
        return not_found(s, input, device_hash.as_deref(), None).await;
    };
    let license_id = key.license_id(&input.product_id);
    let Some(decided) = decide(s, req.source_ip, route, input, &key, Actor::App).await? else {
        return not_found(s, input, device_hash.as_deref(), Some(&license_id)).await;
    };
    respond_decided(s, input, device_hash.as_deref(), &decided).await
}

/// The signed answer of a decision.
pub async fn respond_decided(
    s: &Services,
    input: &ValidationInput,
    device_hash: Option<&str>,
    d: &Decided,
) -> Result<ApiResponse> {
    // A key for another product says nothing about that product's license.
    let summary =
        (d.verdict.code != Code::ProductMismatch).then(|| LicenseSummary::of(&d.license, d.now));
    let manage_url =
        (d.verdict.code == Code::DeviceLimitReached).then(|| manage_url(s, &d.license));
    // `include: ["usage"]`: each meter's use this period (the product from the cache).
    let product = match input.include_usage && summary.is_some() {
        true => {
            s.store
                .get_product_cached(&d.license.tenant_id, &d.license.product_id)
                .await?
        }
        false => None,
    };
    let meters = product.as_ref().map(|p| {
        p.meters
            .iter()
            .map(|m| {
                let window = crate::domain::validation::meters::window(m.period, &d.license, d.now);
                let used = crate::domain::validation::meters::used(&d.meters, &m.name, &window);
                super::usage::summary(m, &window, used)
            })
            .collect::<Vec<_>>()
    });
    respond(
        s,
        Some(&d.license.tenant_id),
        Answer {
            license_id: Some(&d.license.id),
            livemode: d.livemode,
            license: summary,
            manage_url: manage_url.as_deref(),
            meters,
            ..Answer::to(input, device_hash, d.verdict, d.now)
        },
    )
    .await
}

/// Where the buyer of `license` frees a device: its page in the merchant's customer portal.
pub fn manage_url(s: &Services, license: &License) -> String {
    portal_links::license_url(&s.config.public_base_url, &license.tenant_id, &license.id)
}

/// The pause before re-reading after a lost race, growing with the attempts (5 ms doubling,
/// at most 80 ms, jittered), so that racing requests spread out.
pub(super) const RACE_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(5), Duration::from_millis(80));

/// `NOT_FOUND`, signed by the tenant of the product asked about (the tenant the app trusts);
/// unsigned when the product does not exist either.
pub async fn not_found(
    s: &Services,
    input: &ValidationInput,
    device_hash: Option<&str>,
    license_id: Option<&str>,
) -> Result<ApiResponse> {
    let product = s.store.get_product(&input.product_id).await?;
    respond(
        s,
        product.as_ref().map(|p| p.tenant_id.as_str()),
        Answer {
            license_id,
            ..Answer::to(
                input,
                device_hash,
                Code::NotFound.verdict(),
                crate::time::now(),
            )
        },
    )
    .await
}
