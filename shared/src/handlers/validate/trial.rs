//! `validate` without a key: the device's trial of the product. One BatchGetItem (the product
//! and the (product, device) record); starting a trial is one conditional write that refuses a
//! second trial and a device ever activated for the product, so it writes at most once per
//! (product, device). New trials spend the client IP's trial-start budget
//! ([`crate::services::ip_budgets::TRIAL_STARTS`]) before that write: a fresh `deviceId` per call is not an
//! endless trial.

use super::answer::{respond, Answer};
use super::input::ValidationInput;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::trial::{self, TrialDecision};
use crate::domain::validation::{Code, Verdict};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// Answers a trial request.
pub async fn answer(
    s: &Services,
    req: &ApiRequest,
    input: &ValidationInput,
) -> Result<ApiResponse> {
    let device_hash = input.device_hash();
    let answer_of = |verdict: Verdict, period, now| Answer {
        trial: period,
        ..Answer::to(input, device_hash.as_deref(), verdict, now)
    };
    // Two rounds: a lost race on the trial start (another request started it, or the device
    // was just activated) is answered from a fresh read.
    for _ in 0..2 {
        let now = crate::time::now();
        let (product, record) = match &input.device {
            Some(device) => {
                s.store
                    .get_product_and_device(&input.product_id, device)
                    .await?
            }
            None => (s.store.get_product(&input.product_id).await?, None),
        };
        let Some(product) = product else {
            return respond(s, None, answer_of(Code::NotFound.verdict(), None, now)).await;
        };
        let tenant = Some(product.tenant_id.as_str());
        match trial::decide(&product, input.device.is_some(), record.as_ref(), now) {
            TrialDecision::Answer(verdict, period) => {
                return respond(s, tenant, answer_of(verdict, period, now)).await;
            }
            TrialDecision::Start(period) => {
                let device_hash = device_hash.as_deref().unwrap_or_default();
                if !s
                    .ip_budgets
                    .trial_starts
                    .allow(&client_ip_key(req.source_ip), device_hash)
                {
                    tracing::info!(product_id = %product.id, "trial-start budget spent");
                    return Err(Error::RateLimited(
                        "too many new trials from this address; retry later".into(),
                    ));
                }
                let device = input.device.as_ref().expect("a trial starts for a device");
                if s.store.start_trial(&product, device, period).await? {
                    tracing::info!(product_id = %product.id, "trial started");
                    let verdict = Code::Trial.verdict();
                    return respond(s, tenant, answer_of(verdict, Some(period), now)).await;
                }
            }
        }
    }
    Err(Error::Conflict(
        "the trial is being changed concurrently; retry".into(),
    ))
}
