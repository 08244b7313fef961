//! What a request to the shared Stripe webhook URLs (`/api/stripe/webhook`, and Lukittu's
//! `/api/v1/integrations/stripe`) may cost before it is known to come from Stripe. Finding the
//! app there takes one HMAC of the body per candidate app of every tenant (`routing`): work
//! that grows with the number of tenants, so it runs only after every cheap check has passed,
//! none of which reads anything:
//! 1. the sender is one of Stripe's published webhook addresses (`KEYHOOK_STRIPE_SOURCE_IPS`;
//!    the address is API Gateway's `requestContext.http.sourceIp`, never a header);
//! 2. the body is no larger than Stripe's events (the route's `shared_webhook_body` flag in
//!    `app::operations`, checked before the handler);
//! 3. the `Stripe-Signature` header is well formed and its timestamp recent (`receive`).
//!
//! An app's own URL (`/api/stripe/webhook/{appId}`) has one candidate whatever the number of
//! tenants, so it answers any address.

use crate::config::{Config, StripeSourceIps};
use crate::http::ApiRequest;
use crate::stripe::source_ips::is_stripe_webhook_source;
use crate::{Error, Result};

/// The machine-readable code of a refused sender.
pub const NOT_FROM_STRIPE: &str = "not_from_stripe";

/// Refuses (403 `not_from_stripe`) a request to a shared URL that does not come from one of
/// Stripe's webhook addresses, unless the check is off.
pub(super) fn admit(config: &Config, req: &ApiRequest) -> Result<()> {
    match (config.stripe_source_ips, req.source_ip) {
        (StripeSourceIps::Off, _) => Ok(()),
        (StripeSourceIps::Stripe, Some(ip)) if is_stripe_webhook_source(ip) => Ok(()),
        (StripeSourceIps::Stripe, ip) => {
            tracing::debug!(?ip, "shared webhook URL: not a Stripe address; refused");
            Err(Error::ForbiddenCode {
                code: NOT_FROM_STRIPE,
                message: "this webhook URL accepts only requests from Stripe's webhook \
                          addresses (https://docs.stripe.com/ips#webhook-notifications); \
                          elsewhere, post to your app's own webhook URL, \
                          /api/stripe/webhook/{appId}"
                    .into(),
            })
        }
    }
}
