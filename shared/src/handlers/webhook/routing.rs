//! Which Stripe app sent this event: the one whose signing secret verifies the signature.
//! Candidates are narrowed by URL (`/webhook/{appId}`), by `?tenantId=`/`?teamId=`, and by the
//! event's mode; the current and the previous signing secret (during a roll) both verify.

use crate::domain::StripeApp;
use crate::handlers::app_secrets::{self, AppSecret};
use crate::stripe::signature::SignatureHeader;
use crate::{Error, Result, Services};

pub(super) async fn match_app(
    s: &Services,
    signature: &SignatureHeader,
    body: &[u8],
    app_id: Option<&str>,
    tenant_id: Option<&str>,
    livemode: bool,
) -> Result<StripeApp> {
    let candidates: Vec<StripeApp> = match (app_id, tenant_id) {
        (Some(id), _) => s.store.get_app(id).await?.into_iter().collect(),
        (None, Some(t)) => s.store.all_tenant_apps(t).await?,
        (None, None) => s.store.webhook_apps(livemode).await?,
    };
    for app in candidates.into_iter().filter(|a| a.active) {
        if verifies(s, &app, signature, body).await? {
            return Ok(app);
        }
    }
    Err(Error::BadRequest {
        code: "no_app_matched_signature",
        message: "no active Stripe app's webhook signing secret verifies this signature".into(),
    })
}

async fn verifies(
    s: &Services,
    app: &StripeApp,
    signature: &SignatureHeader,
    body: &[u8],
) -> Result<bool> {
    for which in [AppSecret::WebhookSecret, AppSecret::PreviousWebhookSecret] {
        if let Some(secret) = app_secrets::open(s, app, which).await? {
            if signature.verifies(secret.expose(), body) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
