//! "Manage billing": a Stripe Billing Portal session for the Stripe customer who bought a
//! license, so the buyer updates their card or cancels without writing to the merchant.
//!
//! Created with the secret key of the app that issued the license (the customer lives in that
//! Stripe account), through [`crate::stripe::StripeClient`] (its base URL, timeouts, retries,
//! and one idempotency key for every attempt). A license does not store its Stripe customer:
//! it is read from the Stripe object the license came from (its subscription first, then its
//! Checkout Session, invoice or payment intent). The session returns to the license's page in
//! the merchant's customer portal ([`portal_links::license_url`]).
//!
//! Stripe's session URL is a bearer credential for the customer's billing: the caller
//! redirects to it and never logs it.

use serde_json::Value;

use crate::domain::{portal_links, License};
use crate::ids;
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::client::{Form, StripeError};
use crate::{Error, Services};

/// A created Billing Portal session (`billing_portal.session`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingPortalSession {
    /// `bps_…`.
    pub id: String,
    /// Where to send the buyer (short-lived, single customer; never logged).
    pub url: String,
    /// Where Stripe sends the buyer back: the license's portal page.
    pub return_url: String,
}

/// Why no session could be made.
#[derive(Debug, thiserror::Error)]
pub enum BillingPortalError {
    /// The license was not bought through Stripe (imported, issued by hand), or the payment
    /// made no Stripe customer (a one-time guest checkout).
    #[error("this license has no Stripe customer to manage billing for")]
    NoStripeCustomer,
    /// The issuing Stripe app is gone, inactive, or has no secret key.
    #[error("the merchant's Stripe connection cannot open billing for this license")]
    AppUnavailable,
    /// Stripe refused the app's key for this call (a restricted key needs the "Customer
    /// portal: write" permission).
    #[error("the merchant's Stripe key is not allowed to open Stripe's customer portal")]
    KeyRefused,
    /// Stripe refused the request (e.g. no customer portal configuration saved in the
    /// merchant's Stripe dashboard); Stripe's message.
    #[error("Stripe refused to open the customer portal: {0}")]
    Refused(String),
    /// Stripe could not be reached or kept failing (after the client's retries).
    #[error("Stripe is unavailable; try again in a few minutes")]
    StripeUnavailable(String),
    /// Keyhook's own store or keys failed.
    #[error(transparent)]
    Internal(#[from] Error),
}

impl BillingPortalError {
    /// The machine code the portal and API answer with.
    pub fn code(&self) -> &'static str {
        match self {
            BillingPortalError::NoStripeCustomer => "no_stripe_customer",
            BillingPortalError::AppUnavailable => "stripe_app_unavailable",
            BillingPortalError::KeyRefused => "stripe_key_refused",
            BillingPortalError::Refused(_) => "billing_portal_refused",
            BillingPortalError::StripeUnavailable(_) => "upstream_unavailable",
            BillingPortalError::Internal(e) => e.code(),
        }
    }
}

impl From<BillingPortalError> for Error {
    fn from(e: BillingPortalError) -> Self {
        let code = e.code();
        match e {
            BillingPortalError::NoStripeCustomer
            | BillingPortalError::AppUnavailable
            | BillingPortalError::KeyRefused
            | BillingPortalError::Refused(_) => Error::ConflictCode {
                code,
                message: e.to_string(),
            },
            BillingPortalError::StripeUnavailable(detail) => Error::Upstream {
                service: "stripe",
                detail,
            },
            BillingPortalError::Internal(e) => e,
        }
    }
}

/// Opens Stripe's customer portal for `license`'s Stripe customer, returning to the license's
/// page in the merchant's customer portal. The caller has already checked that the buyer may
/// see `license` (its owner address, its tenant).
pub async fn create_session(
    s: &Services,
    license: &License,
) -> Result<BillingPortalSession, BillingPortalError> {
    let Some(app_id) = license.source.stripe_app_id.as_deref() else {
        return Err(BillingPortalError::NoStripeCustomer);
    };
    let app = s
        .store
        .get_tenant_app(&license.tenant_id, app_id)
        .await?
        .filter(|a| a.active)
        .ok_or(BillingPortalError::AppUnavailable)?;
    let secret = app_secrets::open(s, &app, AppSecret::SecretKey)
        .await?
        .ok_or(BillingPortalError::AppUnavailable)?;
    let customer = stripe_customer(s, &secret, license).await?;
    let return_url =
        portal_links::license_url(&s.config.public_base_url, &license.tenant_id, &license.id);
    let form = Form::new()
        .set("customer", &customer)
        .set("return_url", &return_url);
    // One key per session asked for, reused by the client's retries: one session at most.
    let key = format!(
        "keyhook-billing-portal-{}",
        ids::random_symbols(26).to_ascii_lowercase()
    );
    let body = s
        .stripe
        .post(&secret, "billing_portal/sessions", &form, &key)
        .await
        .map_err(from_stripe)?;
    let text = |k: &str| {
        body[k]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match (text("id"), text("url")) {
        (Some(id), Some(url)) => {
            tracing::info!(license_id = %license.id, session_id = %id, "billing portal session created");
            Ok(BillingPortalSession {
                id,
                url,
                return_url,
            })
        }
        _ => Err(BillingPortalError::StripeUnavailable(
            "Stripe answered a billing portal session without id or url".into(),
        )),
    }
}

/// The Stripe customer of the object the license came from: its subscription, else its
/// Checkout Session, invoice or payment intent (the first the license records).
pub(crate) async fn stripe_customer(
    s: &Services,
    secret: &crate::crypto::Secret,
    license: &License,
) -> Result<String, BillingPortalError> {
    let src = &license.source;
    let object = [
        (src.subscription_id.as_deref(), "subscriptions"),
        (src.checkout_session_id.as_deref(), "checkout/sessions"),
        (src.invoice_id.as_deref(), "invoices"),
        (src.payment_intent_id.as_deref(), "payment_intents"),
    ]
    .into_iter()
    .find_map(|(id, path)| {
        id.filter(|i| !i.is_empty())
            .map(|id| format!("{path}/{id}"))
    })
    .ok_or(BillingPortalError::NoStripeCustomer)?;
    let body = s
        .stripe
        .get(secret, &object, &Form::new())
        .await
        .map_err(from_stripe)?;
    customer_of(&body).ok_or(BillingPortalError::NoStripeCustomer)
}

/// `customer` as an id, or expanded as an object.
fn customer_of(object: &Value) -> Option<String> {
    let c = &object["customer"];
    c.as_str()
        .or_else(|| c["id"].as_str())
        .filter(|id| id.starts_with("cus_"))
        .map(str::to_string)
}

/// Stripe's refusal, sorted: the key (never Stripe's words about it: they name the key),
/// the request (Stripe's message, for the merchant), or Stripe itself.
fn from_stripe(e: StripeError) -> BillingPortalError {
    match e {
        StripeError::Api { status: 401, .. } | StripeError::Api { status: 403, .. } => {
            BillingPortalError::KeyRefused
        }
        StripeError::Api {
            status, message, ..
        } if (400..500).contains(&status) && status != 429 => BillingPortalError::Refused(message),
        other => BillingPortalError::StripeUnavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_customer_is_read_as_an_id_or_expanded() {
        assert_eq!(
            customer_of(&json!({"customer": "cus_1"})),
            Some("cus_1".into())
        );
        assert_eq!(
            customer_of(&json!({"customer": {"id": "cus_2", "object": "customer"}})),
            Some("cus_2".into())
        );
        assert_eq!(customer_of(&json!({"customer": null})), None);
        assert_eq!(customer_of(&json!({})), None);
    }

    #[test]
    fn stripes_refusals_are_sorted() {
        let api = |status: u16| StripeError::Api {
            status,
            kind: "invalid_request_error".into(),
            code: None,
            param: None,
            message: "No configuration provided".into(),
        };
        assert!(matches!(
            from_stripe(api(403)),
            BillingPortalError::KeyRefused
        ));
        assert!(matches!(
            from_stripe(api(401)),
            BillingPortalError::KeyRefused
        ));
        assert!(
            matches!(from_stripe(api(400)), BillingPortalError::Refused(m) if m.contains("configuration"))
        );
        let down = from_stripe(api(503));
        assert_eq!(down.code(), "upstream_unavailable");
        let e: Error = down.into();
        assert_eq!(e.status().as_u16(), 502);
        let e: Error = BillingPortalError::NoStripeCustomer.into();
        assert_eq!((e.status().as_u16(), e.code()), (409, "no_stripe_customer"));
    }
}
