//! `validate` without a key: the device's trial of the product. One BatchGetItem (the product
//! and the (product, device) record); starting a trial is one conditional write that refuses a
//! second trial and a device ever activated for the product.

use super::answer::{respond, Answer};
use super::input::ValidationInput;
use crate::domain::validation::trial::{self, TrialDecision};
use crate::domain::validation::Code;
use crate::http::ApiResponse;
use crate::{Error, Result, Services};

/// Answers a trial request.
pub async fn answer(s: &Services, input: &ValidationInput) -> Result<ApiResponse> {
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
            return respond(
                s,
                None,
                answer_of(input, Code::NotFound.verdict(), None, now),
            )
            .await;
        };
        let tenant = Some(product.tenant_id.as_str());
        match trial::decide(&product, input.device.is_some(), record.as_ref(), now) {
            TrialDecision::Answer(verdict, period) => {
                return respond(s, tenant, answer_of(input, verdict, period, now)).await;
            }
            TrialDecision::Start(period) => {
                let device = input.device.as_ref().expect("a trial starts for a device");
                if s.store.start_trial(&product, device, period).await? {
                    tracing::info!(product_id = %product.id, "trial started");
                    let verdict = Code::Trial.verdict();
                    return respond(s, tenant, answer_of(input, verdict, Some(period), now)).await;
                }
            }
        }
    }
    Err(Error::Conflict(
        "the trial is being changed concurrently; retry".into(),
    ))
}

fn answer_of<'a>(
    input: &'a ValidationInput,
    verdict: crate::domain::validation::Verdict,
    period: Option<trial::TrialPeriod>,
    now: time::OffsetDateTime,
) -> Answer<'a> {
    Answer {
        verdict,
        license: None,
        trial: period.map(Into::into),
        nonce: input.nonce.as_deref(),
        now,
    }
}
