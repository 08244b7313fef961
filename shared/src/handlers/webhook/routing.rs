//! Which Stripe app sent this event: the one whose signing secret verifies the signature.
//! Candidates are narrowed by URL (`/webhook/{appId}`), by `?tenantId=`/`?teamId=`, and by the
//! event's mode; the current and the previous signing secret (during a roll) both verify. The
//! shared URL's candidates and every opened secret come from [`AppCache`] when warm.

use super::app_cache::AppCache;
use crate::domain::StripeApp;
use crate::handlers::app_secrets::AppSecret;
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
    let cache = &s.webhook_apps;
    let found = match (app_id, tenant_id) {
        (Some(id), _) => {
            let apps: Vec<StripeApp> = s.store.get_app(id).await?.into_iter().collect();
            first_match(s, cache, &apps, signature, body).await?
        }
        (None, Some(t)) => {
            let apps = s.store.all_tenant_apps(t).await?;
            first_match(s, cache, &apps, signature, body).await?
        }
        (None, None) => {
            let apps = cache.apps(s, livemode).await?;
            match first_match(s, cache, &apps, signature, body).await? {
                Some(app) => Some(app),
                None => match cache.refresh_after_miss(s, livemode).await? {
                    Some(fresh) => first_match(s, cache, &fresh, signature, body).await?,
                    None => None,
                },
            }
        }
    };
    found.ok_or_else(|| Error::BadRequest {
        code: "no_app_matched_signature",
        message: "no active Stripe app's webhook signing secret verifies this signature".into(),
    })
}

async fn first_match(
    s: &Services,
    cache: &AppCache,
    apps: &[StripeApp],
    signature: &SignatureHeader,
    body: &[u8],
) -> Result<Option<StripeApp>> {
    for app in apps.iter().filter(|a| a.active) {
        for which in [AppSecret::WebhookSecret, AppSecret::PreviousWebhookSecret] {
            if let Some(secret) = cache.secret(s, app, which).await? {
                if signature.verifies(secret.expose(), body) {
                    return Ok(Some(app.clone()));
                }
            }
        }
    }
    Ok(None)
}
