//! The answer of the validation routes: `200 { valid, code, detail, license?, trial?, nonce?,
//! signedAt, signature }`, signed with the tenant's key in the canonical form of
//! [`crypto::signed_answer`](crate::crypto::signed_answer). The field order is fixed by
//! [`AnswerBody`] and `signature` is always last.

use http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::signed_answer::sign_answer;
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

/// What an answer says about the trial.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialSummary {
    pub started_at: String,
    pub expires_at: String,
}

impl From<TrialPeriod> for TrialSummary {
    fn from(p: TrialPeriod) -> Self {
        TrialSummary {
            started_at: crate::time::format(p.started_at),
            expires_at: crate::time::format(p.expires_at),
        }
    }
}

/// The unsigned answer, in wire order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerBody<'a> {
    valid: bool,
    code: Code,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<LicenseSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial: Option<TrialSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    signed_at: String,
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
    pub license: Option<LicenseSummary<'a>>,
    pub trial: Option<TrialSummary>,
    pub nonce: Option<&'a str>,
    pub now: OffsetDateTime,
}

impl Answer<'_> {
    /// The answer's body, signed with `key` (or with a `null` signature when there is none).
    pub fn to_body(self, key: Option<&ed25519_dalek::SigningKey>) -> Vec<u8> {
        let unsigned = serde_json::to_vec(&AnswerBody {
            valid: self.verdict.code.is_valid(),
            code: self.verdict.code,
            detail: self.verdict.detail,
            license: self.license,
            trial: self.trial,
            nonce: self.nonce,
            signed_at: crate::time::format(self.now),
        })
        .expect("answers serialise");
        sign_answer(key, unsigned)
    }
}

/// The `200` response: the answer signed with the key of `tenant_id` (unsigned when no tenant
/// is known, i.e. the product does not exist).
pub async fn respond(
    s: &Services,
    tenant_id: Option<&str>,
    answer: Answer<'_>,
) -> Result<ApiResponse> {
    let key = match tenant_id {
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
        answer.to_body(key.as_deref()),
    ))
}
