//! Opening a Stripe app's sealed secrets: the one place that knows how an app's fields are
//! bound (tenant, app id, field name) when sealed.

use crate::crypto::{SealContext, Secret};
use crate::domain::stripe_app::fields;
use crate::domain::StripeApp;
use crate::{Result, Services};

/// Which sealed field of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSecret {
    SecretKey,
    WebhookSecret,
    PreviousWebhookSecret,
}

impl AppSecret {
    /// The field name bound into the sealed value.
    pub fn field(self) -> &'static str {
        match self {
            AppSecret::SecretKey => fields::SECRET_KEY,
            AppSecret::WebhookSecret => fields::WEBHOOK_SECRET,
            AppSecret::PreviousWebhookSecret => fields::PREVIOUS_WEBHOOK_SECRET,
        }
    }

    fn sealed(self, app: &StripeApp) -> Option<&str> {
        match self {
            AppSecret::SecretKey => app.secret_key_sealed.as_deref(),
            AppSecret::WebhookSecret => app.webhook_secret_sealed.as_deref(),
            AppSecret::PreviousWebhookSecret => app.previous_webhook_secret_sealed.as_deref(),
        }
    }
}

/// The secret, if the app has it and it opens. `Err` only for infrastructure failures.
pub async fn open(s: &Services, app: &StripeApp, which: AppSecret) -> Result<Option<Secret>> {
    let Some(sealed) = which.sealed(app) else {
        return Ok(None);
    };
    let ctx = SealContext {
        tenant_id: &app.tenant_id,
        owner: &app.id,
        field: which.field(),
    };
    s.keyring.open_secret(ctx, sealed).await
}

/// Seals `value` as the app's `which` secret (bound to the tenant, the app and the field).
pub async fn seal(s: &Services, app: &StripeApp, which: AppSecret, value: &str) -> Result<String> {
    let ctx = SealContext {
        tenant_id: &app.tenant_id,
        owner: &app.id,
        field: which.field(),
    };
    s.keyring.seal(ctx, value.as_bytes()).await
}

/// Opens a sealed value of the app's `which` field that is not (or no longer) on the app.
pub async fn open_sealed(
    s: &Services,
    app: &StripeApp,
    which: AppSecret,
    sealed: &str,
) -> Result<Option<Secret>> {
    let ctx = SealContext {
        tenant_id: &app.tenant_id,
        owner: &app.id,
        field: which.field(),
    };
    s.keyring.open_secret(ctx, sealed).await
}
