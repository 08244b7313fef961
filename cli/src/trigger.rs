//! `keyhook trigger`: builds a realistic Stripe event (from Stripe's own example objects, in
//! `events/stripe/`; the builder is `keyhook_shared::stripe::test_events`, shared with the
//! dashboard's Test Purchase), signs it with a webhook signing secret exactly as Stripe does,
//! and posts it. Our offline stand-in for `stripe trigger`.

pub use keyhook_shared::stripe::test_events::{
    checkout_completed, delivery, sign_event, CheckoutOptions, CHECKOUT_COMPLETED,
};

/// Posts a signed event to a webhook URL; (status, response body).
pub async fn post(
    url: &str,
    body: String,
    signature_header: &str,
) -> Result<(u16, String), reqwest::Error> {
    let res = delivery(&reqwest::Client::new(), url, body, signature_header)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}
