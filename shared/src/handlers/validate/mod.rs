//! The public Validation API (no authentication; called from end-user apps):
//! `POST /api/licenses/validate`, `/activate`, `/deactivate`, and the tenant's public key at
//! `GET /api/tenants/{tenantId}/signing-key`, and floating seats (`POST /api/licenses/leases`,
//! [`leases`]).
//!
//! Every well-formed request answers `200` with a signed answer ([`answer`]), valid or not;
//! malformed requests get `422`, activation churn over budget `429`. The flow of a request with
//! a key is in [`license`] (one read, rules from `domain::validation`, at most one conditional
//! write), without a key in [`trial`]. See `docs/validation.md`.

pub mod answer;
pub mod input;
pub mod leases;
pub mod license;
pub mod license_file;
pub mod signing_key;
#[cfg(test)]
mod test_vectors;
pub mod trial;
pub mod usage;

pub use license_file::checkout;
pub use signing_key::{signing_key, signing_keys};

use std::net::IpAddr;

use crate::domain::activity::Actor;
use crate::domain::license_key::AnyKey;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::{Code, Verdict};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};
use input::ValidationInput;
use license::Route;

/// `POST /api/licenses/validate`: a key's standing for a product (and device), or, without a
/// key, the device's trial.
pub async fn validate(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let input = input::parse(req)?;
    if !s.ip_budgets.validate.allow(&client_ip_key(req.source_ip)) {
        return Err(Error::RateLimited(
            "too many validations from this address; retry in a minute".into(),
        ));
    }
    match input.license_key.as_deref() {
        Some(key) => license::answer(s, req, Route::Validate, &input, key).await,
        None => trial::answer(s, req, &input).await,
    }
}

/// `POST /api/licenses/activate`: records the device on the license.
pub async fn activate(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    churn(s, req, Route::Activate).await
}

/// `POST /api/licenses/deactivate`: removes the device from the license.
pub async fn deactivate(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    churn(s, req, Route::Deactivate).await
}

/// Activation and deactivation: the per-IP budget first (before any AWS call), then the key.
async fn churn(s: &Services, req: &ApiRequest, route: Route) -> Result<ApiResponse> {
    let input = input::parse_requiring(req, input::ACTIVATE_REQUIRED)?;
    let key = admit_churn(s, req.source_ip, &input)?;
    license::answer(s, req, route, &input, key).await
}

/// The key of an activation or deactivation from `source_ip`, once the address's budget admits
/// it.
fn admit_churn<'a>(
    s: &Services,
    source_ip: Option<IpAddr>,
    input: &'a ValidationInput,
) -> Result<&'a str> {
    let Some(key) = input.license_key.as_deref() else {
        return Err(Error::validation("licenseKey", "is required"));
    };
    if !s.ip_budgets.churn.allow(&client_ip_key(source_ip)) {
        return Err(Error::RateLimited(
            "too many activations and deactivations from this address; retry in a minute".into(),
        ));
    }
    Ok(key)
}

/// Frees a device as `POST /api/licenses/deactivate` does (the same per-IP budget and rule a
/// client app's request goes through, `input` from [`input::deactivation`]): the rule's
/// verdict, unsigned. The dashboard's "free this device" (`Actor::Merchant`) and the customer
/// portal's (`Actor::Customer`), a request from `source_ip`: the license's activity log and
/// the `license.deactivated` webhook name `actor`.
pub async fn deactivate_device(
    s: &Services,
    source_ip: Option<IpAddr>,
    input: &ValidationInput,
    actor: Actor,
) -> Result<Verdict> {
    let key = admit_churn(s, source_ip, input)?;
    // A key that does not parse has no license, as in `license::answer`.
    let decided = match AnyKey::parse(key) {
        Ok(key) => license::decide(s, source_ip, Route::Deactivate, input, &key, actor).await?,
        Err(_) => None,
    };
    Ok(decided.map_or(Code::NotFound.verdict(), |d| d.verdict))
}
