//! Tenant keys: the KMS-wrapped data keys a tenant's secrets are sealed under. Listed without
//! key material; a new one can be generated and then activated. Activation makes it the key
//! new values are sealed under and re-seals every existing secret of the tenant (Stripe app
//! secrets, license keys, the signing key) under it. Old keys stay and keep opening anything
//! not yet re-sealed, so activation is safe to repeat, and nothing is ever unreadable.

use serde::Serialize;

use super::{caller, ts};
use crate::crypto::seal::{self, DataKey};
use crate::crypto::SealContext;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::stripe_app::fields;
use crate::domain::TenantKeyRecord;
use crate::handlers::admin::tenant::SIGNING_KEY_FIELD;
use crate::http::input::ListBody;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantKeyView {
    pub id: String,
    pub active: bool,
    pub created_at: String,
}

fn view(k: &TenantKeyRecord, active_id: &str) -> TenantKeyView {
    TenantKeyView {
        id: k.id.clone(),
        active: k.id == active_id,
        created_at: ts(k.created_at),
    }
}

async fn tenant(s: &Services, tenant_id: &str) -> Result<crate::domain::Tenant> {
    s.store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the API token's tenant no longer exists".into()))
}

/// `GET /api/tenant-keys`, oldest first (a tenant has few keys).
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let t = tenant(s, &c.tenant_id).await?;
    let mut keys = s.store.tenant_keys(&c.tenant_id).await?;
    keys.sort_by_key(|k| k.created_at);
    Ok(ApiResponse::ok(&ListBody {
        items: keys.iter().map(|k| view(k, &t.active_key_id)).collect(),
        next_cursor: None,
    }))
}

/// `POST /api/tenant-keys`: a new key from KMS, not active yet.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (record, _) = s.keyring.generate_key(&c.tenant_id).await?;
    s.store.put_tenant_key(&record).await?;
    Ok(ApiResponse::created(&view(&record, "")))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    #[serde(flatten)]
    pub key: TenantKeyView,
    pub resealed_apps: usize,
    pub resealed_licenses: usize,
}

/// Re-seals one value under `key` if it is sealed under another; `None` when nothing changed.
async fn reseal(
    s: &Services,
    key: &DataKey,
    ctx: SealContext<'_>,
    sealed: &str,
) -> Result<Option<String>> {
    if seal::sealed_key_id(sealed).ok() == Some(key.id.as_str()) {
        return Ok(None);
    }
    let plaintext = s.keyring.open(ctx, sealed).await?.ok_or_else(|| {
        Error::internal(format!(
            "a sealed {} of {} does not open",
            ctx.field, ctx.owner
        ))
    })?;
    Ok(Some(seal::seal(key, ctx, &plaintext)))
}

/// `POST /api/tenant-keys/{keyId}/activate`.
pub async fn activate(s: &Services, req: &ApiRequest, key_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let tid = c.tenant_id.as_str();
    let record = s
        .store
        .get_tenant_key(tid, key_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Tenant key {key_id}")))?;
    let key = s
        .keyring
        .data_key(tid, key_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Tenant key {key_id}")))?;

    // 1. New values are sealed under the new key from now on.
    let mut t = tenant(s, tid).await?;
    t.active_key_id = key_id.to_string();
    let ctx = SealContext {
        tenant_id: tid,
        owner: tid,
        field: SIGNING_KEY_FIELD,
    };
    if let Some(resealed) = reseal(s, &key, ctx, &t.signing_key_sealed).await? {
        t.signing_key_sealed = resealed;
    }
    s.store.put_tenant(&t).await?;
    s.keyring.forget_active(tid);

    // 2. Existing values move to it.
    let mut resealed_apps = 0;
    for mut app in s.store.all_tenant_apps(tid).await? {
        let mut changed = false;
        let app_id = app.id.clone();
        for (field, slot) in [
            (fields::SECRET_KEY, &mut app.secret_key_sealed),
            (fields::WEBHOOK_SECRET, &mut app.webhook_secret_sealed),
            (
                fields::PREVIOUS_WEBHOOK_SECRET,
                &mut app.previous_webhook_secret_sealed,
            ),
        ] {
            if let Some(sealed) = slot.as_deref() {
                let ctx = SealContext {
                    tenant_id: tid,
                    owner: &app_id,
                    field,
                };
                if let Some(resealed) = reseal(s, &key, ctx, sealed).await? {
                    *slot = Some(resealed);
                    changed = true;
                }
            }
        }
        if changed {
            s.store.save_apps(&app, false, &[]).await?;
            resealed_apps += 1;
        }
    }
    let mut resealed_licenses = 0;
    let mut cursor = None;
    loop {
        let page = s
            .store
            .list_licenses(tid, 200, cursor.as_deref(), &[])
            .await?;
        for l in &page.items {
            let ctx = SealContext {
                tenant_id: tid,
                owner: &l.id,
                field: KEY_SEAL_FIELD,
            };
            if let Some(resealed) = reseal(s, &key, ctx, &l.key_sealed).await? {
                if s.store
                    .reseal_license(&l.id, &l.key_sealed, &resealed)
                    .await?
                {
                    resealed_licenses += 1;
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(
        key_id,
        resealed_apps,
        resealed_licenses,
        "tenant key activated"
    );
    Ok(ApiResponse::ok(&Activation {
        key: view(&record, key_id),
        resealed_apps,
        resealed_licenses,
    }))
}
