//! What the API shows of a checkout session: the answer to its creation, and the recorded
//! session joined with the purchase its webhook recorded (same Stripe id).

use serde::Serialize;

use crate::domain::checkout::{CheckoutMode, CheckoutSessionRecord};
use crate::domain::Purchase;
use crate::handlers::admin::{caller, ts};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// `201` of `POST /api/stripe/checkout/session`: redirect the buyer to `url`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSessionView {
    /// Stripe's id (`cs_…`); also the `checkoutSessionId` of the licenses it issues.
    pub session_id: String,
    /// Stripe's hosted payment page.
    pub url: String,
    pub mode: CheckoutMode,
    /// The currency the buyer pays in: the app's default or the requested one (one-time), the
    /// Stripe price's (subscriptions).
    pub currency: String,
    /// What the buyer pays (per cycle for subscriptions), a decimal string such as "29.99";
    /// null when the Stripe price has no fixed unit amount (tiered prices).
    pub amount: Option<String>,
    /// Licenses issued per purchase (per paid cycle for subscriptions).
    pub quantity: u32,
    /// The Stripe app the session was created with.
    pub app_id: String,
    pub livemode: bool,
}

/// The purchase a session led to, once its webhook was processed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPurchase {
    /// The purchase's name: the payment intent (one-time), first invoice (subscription) or
    /// session (free checkout); the event log's `purchaseRef`.
    pub purchase_ref: String,
    /// The Stripe event that issued it (see `GET /api/stripe/events/{eventId}`).
    pub event_id: Option<String>,
    pub license_ids: Vec<String>,
    pub created_at: String,
}

/// `GET /api/stripe/checkout/sessions/{sessionId}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSessionDetail {
    pub session_id: String,
    pub app_id: String,
    pub product_id: String,
    pub plan_id: Option<String>,
    pub price_mapping_id: Option<String>,
    pub stripe_price_id: Option<String>,
    pub mode: CheckoutMode,
    pub quantity: u32,
    pub currency: String,
    pub amount: Option<String>,
    pub livemode: bool,
    pub created_at: String,
    /// Null until the session is paid and its webhook processed.
    pub purchase: Option<SessionPurchase>,
}

impl CheckoutSessionDetail {
    fn new(r: CheckoutSessionRecord, purchase: Option<Purchase>) -> Self {
        CheckoutSessionDetail {
            session_id: r.session_id,
            app_id: r.app_id,
            product_id: r.product_id,
            plan_id: r.plan_id,
            price_mapping_id: r.price_mapping_id,
            stripe_price_id: r.stripe_price_id,
            mode: r.mode,
            quantity: r.quantity,
            currency: r.currency,
            amount: r.amount,
            livemode: r.livemode,
            created_at: ts(r.created_at),
            purchase: purchase.map(|p| SessionPurchase {
                purchase_ref: p.purchase_ref,
                event_id: p.event_id,
                license_ids: p.license_ids,
                created_at: ts(p.created_at),
            }),
        }
    }
}

/// `GET /api/stripe/checkout/sessions/{sessionId}`: the record, then the purchase its webhook
/// linked to it (a one-time purchase is named by its payment intent, a subscription's by its
/// first invoice, a free checkout by the session itself).
pub async fn get(s: &Services, req: &ApiRequest, session_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let record = s
        .store
        .get_checkout_session(&c.tenant_id, session_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Checkout session {session_id}")))?;
    let purchase = match &record.purchase_ref {
        Some(purchase_ref) => s.store.get_purchase(&c.tenant_id, purchase_ref).await?,
        None => None,
    };
    Ok(ApiResponse::ok(&CheckoutSessionDetail::new(
        record, purchase,
    )))
}
