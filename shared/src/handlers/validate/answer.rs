//! The answer of the validation routes, signed with the tenant's key in the canonical form of
//! [`crypto::signed_answer`](crate::crypto::signed_answer) (`keyhook-answer-v2`). The field
//! order is fixed by [`AnswerBody`] and `signature` is always last.
//!
//! An answer says exactly what it answers, inside the signed bytes: the requested `productId`,
//! the `deviceHash` of the requested device (never the raw id), the `licenseId` of a keyed
//! request, `livemode`, the echoed `nonce`, `signedAt`, the signing key's `kid`, and a `trial`
//! names its product and device hash.

use http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

use super::input::{Environment, ValidationInput};
use crate::crypto::signed_answer::{sign_answer, ANSWER_FORMAT};
use crate::crypto::signing_keys::Signer;
use crate::domain::validation::rules::effective_status;
use crate::domain::validation::trial::TrialPeriod;
use crate::domain::validation::{Code, Verdict};
use crate::domain::{License, LicenseStatus};
use crate::http::ApiResponse;
use crate::{Result, Services};

/// What an answer says about the license.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSummary<'a> {
    pub id: &'a str,
    pub product_id: &'a str,
    /// As of `signedAt` (an active license past its expiry shows `expired`).
    pub status: LicenseStatus,
    pub expires_at: Option<String>,
    pub max_devices: u32,
    pub active_devices: usize,
}

impl<'a> LicenseSummary<'a> {
    pub fn of(license: &'a License, now: OffsetDateTime) -> Self {
        LicenseSummary {
            id: &license.id,
            product_id: &license.product_id,
            status: effective_status(license, now),
            expires_at: license.expires_at.map(crate::time::format),
            max_devices: license.max_devices,
            active_devices: license.devices.len(),
        }
    }
}

/// What an answer says about the trial: whose it is, and when it runs.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialSummary<'a> {
    pub product_id: &'a str,
    /// The device hash of the device the trial belongs to.
    pub device_hash: &'a str,
    pub started_at: String,
    pub expires_at: String,
}

/// What a lease answer says about the seat the device holds.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSummary<'a> {
    /// `lse_…`: what heartbeats, borrows and releases name.
    pub id: &'a str,
    /// The seat is free from this time unless a heartbeat extends it.
    pub expires_at: String,
    /// How often to heartbeat (a third of the lease).
    pub heartbeat_seconds: u32,
    /// Set while borrowed: the seat is held (no heartbeat needed) until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub borrowed_until: Option<String>,
}

/// The floating seats of a license, with `CONCURRENCY_LIMIT_REACHED`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatsSummary {
    /// Seats held by live leases.
    pub in_use: u32,
    pub max_concurrent: u32,
}

/// What a usage answer says about a meter (`POST /api/licenses/usage`; with
/// `USAGE_LIMIT_REACHED`, the numbers that refused it).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummary<'a> {
    pub meter: &'a str,
    /// `month`, `subscription` or `lifetime`.
    pub period: &'a str,
    /// Recorded in the current period (after this record).
    pub used: u64,
    pub limit: u64,
    pub remaining: u64,
    /// When the period ends and the count starts again (absent for `lifetime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
}

/// The unsigned answer, in wire order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerBody<'a> {
    /// `keyhook-answer-v2`.
    format: &'static str,
    valid: bool,
    code: Code,
    detail: &'a str,
    /// The license's mode (`false`: issued by a Stripe test-mode payment); for answers about
    /// no license (trials, unknown keys), the environment the request named (live by default).
    livemode: bool,
    /// The `productId` of the request, as sent.
    product_id: &'a str,
    /// `hex(SHA-256("keyhook-device-v1" || 0x00 || productId || 0x00 || deviceId))` of the
    /// request's device; absent when none was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_hash: Option<&'a str>,
    /// The license id of the request's key (requests with a Keyhook key).
    #[serde(skip_serializing_if = "Option::is_none")]
    license_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<LicenseSummary<'a>>,
    /// With `DEVICE_LIMIT_REACHED` about a license: the license's page in the merchant's
    /// customer portal, where its buyer signs in by email and frees a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    manage_url: Option<&'a str>,
    /// The lease a device holds (`POST /api/licenses/leases`, heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    lease: Option<LeaseSummary<'a>>,
    /// With `CONCURRENCY_LIMIT_REACHED`: how many seats are in use, of how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    seats: Option<SeatsSummary>,
    /// The meter recorded on (`POST /api/licenses/usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageSummary<'a>>,
    /// With `include: ["usage"]`: each meter of the product, used this period.
    #[serde(skip_serializing_if = "Option::is_none")]
    meters: Option<Vec<UsageSummary<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial: Option<TrialSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    signed_at: String,
    /// The signing key (`GET /api/tenants/{tenantId}/signing-keys`); absent when unsigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// The answer as documented: the answer's fields, then `signature` (Ed25519, base64, over the
/// answer's bytes without it; `null` when no tenant can sign, i.e. the product is unknown).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SignedAnswer<'a> {
    #[serde(flatten)]
    pub answer: AnswerBody<'a>,
    pub signature: Option<String>,
}

/// An answer to build and sign.
#[derive(Debug)]
pub struct Answer<'a> {
    pub verdict: Verdict,
    /// The request's `productId`.
    pub product_id: &'a str,
    /// The request's device hash.
    pub device_hash: Option<&'a str>,
    /// The license id of the request's key.
    pub license_id: Option<&'a str>,
    pub livemode: bool,
    pub license: Option<LicenseSummary<'a>>,
    /// Where the buyer frees a device (answers refused with `DEVICE_LIMIT_REACHED`).
    pub manage_url: Option<&'a str>,
    pub lease: Option<LeaseSummary<'a>>,
    pub seats: Option<SeatsSummary>,
    pub usage: Option<UsageSummary<'a>>,
    pub meters: Option<Vec<UsageSummary<'a>>>,
    pub trial: Option<TrialPeriod>,
    pub nonce: Option<&'a str>,
    pub now: OffsetDateTime,
}

impl<'a> Answer<'a> {
    /// An answer to `input` (its product, device hash and nonce), about no license yet.
    pub fn to(
        input: &'a ValidationInput,
        device_hash: Option<&'a str>,
        verdict: Verdict,
        now: OffsetDateTime,
    ) -> Self {
        Answer {
            verdict,
            product_id: &input.product_id,
            device_hash,
            license_id: None,
            livemode: input.environment == Environment::Live,
            license: None,
            manage_url: None,
            lease: None,
            seats: None,
            usage: None,
            meters: None,
            trial: None,
            nonce: input.nonce.as_deref(),
            now,
        }
    }

    /// The answer's body, signed with `signer` (or with a `null` signature when there is none).
    pub fn to_body(self, signer: Option<&Signer>) -> Vec<u8> {
        let unsigned = serde_json::to_vec(&AnswerBody {
            format: ANSWER_FORMAT,
            valid: self.verdict.code.is_valid(),
            code: self.verdict.code,
            detail: self.verdict.detail,
            livemode: self.livemode,
            product_id: self.product_id,
            device_hash: self.device_hash,
            license_id: self.license_id,
            license: self.license,
            manage_url: self.manage_url,
            lease: self.lease,
            seats: self.seats,
            usage: self.usage,
            meters: self.meters,
            trial: match (self.trial, self.device_hash) {
                (Some(p), Some(device_hash)) => Some(TrialSummary {
                    product_id: self.product_id,
                    device_hash,
                    started_at: crate::time::format(p.started_at),
                    expires_at: crate::time::format(p.expires_at),
                }),
                _ => None,
            },
            nonce: self.nonce,
            signed_at: crate::time::format(self.now),
            kid: signer.map(|s| s.kid.as_str()),
        })
        .expect("answers serialise");
        sign_answer(signer.map(|s| &s.key), unsigned)
    }
}

/// The `200` response: the answer signed with the key of `tenant_id` (unsigned when no tenant
/// is known, i.e. the product does not exist).
pub async fn respond(
    s: &Services,
    tenant_id: Option<&str>,
    answer: Answer<'_>,
) -> Result<ApiResponse> {
    let signer = match tenant_id {
        Some(t) => Some(s.signing_keys.get(t).await?),
        None => None,
    };
    tracing::info!(
        code = ?answer.verdict.code,
        license_id = answer.license.as_ref().map(|l| l.id),
        "validation answered"
    );
    Ok(ApiResponse::text(
        StatusCode::OK,
        "application/json",
        answer.to_body(signer.as_deref()),
    ))
}
