//! Tenant keys: the KMS-wrapped data keys a tenant's secrets are sealed under. Listed without
//! key material; a new one can be generated and then activated. Activation makes it the key
//! new values are sealed under and re-seals every existing secret of the tenant (Stripe app
//! secrets, license keys, the signing key) under it. Old keys stay and keep opening anything
//! not yet re-sealed, so activation is safe to repeat, and nothing is ever unreadable. Every
//! write is conditional on what was read: the tenant record on its version (a signing-key
//! rotation racing this one is kept), each secret on its sealed value (a secret changed
//! meanwhile is kept).

use serde::Serialize;

use super::{caller, ts};
use crate::crypto::seal::{self, DataKey};
use crate::crypto::SealContext;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::stripe_app::fields;
use crate::domain::TenantKeyRecord;
use crate::handlers::admin::tenant::SIGNING_KEY_FIELD;
use crate::http::auth::Caller;
use crate::http::input::ListBody;
use crate::http::{ApiRequest, ApiResponse};
use crate::store::apps::sealed_attributes;
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
    Ok(ApiResponse::ok(&list_tenant_keys(s, &c).await?))
}

/// The tenant's keys, oldest first, without key material.
pub async fn list_tenant_keys(s: &Services, c: &Caller) -> Result<ListBody<TenantKeyView>> {
    let t = tenant(s, &c.tenant_id).await?;
    let mut keys = s.store.tenant_keys(&c.tenant_id).await?;
    keys.sort_by_key(|k| k.created_at);
    Ok(ListBody {
        items: keys.iter().map(|k| view(k, &t.active_key_id)).collect(),
        next_cursor: None,
    })
}

/// `POST /api/tenant-keys`: a new key from KMS, not active yet.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::created(&create_tenant_key(s, &c).await?))
}

/// A new data key from KMS, not active yet.
pub async fn create_tenant_key(s: &Services, c: &Caller) -> Result<TenantKeyView> {
    let (record, _) = s.keyring.generate_key(&c.tenant_id).await?;
    s.store.put_tenant_key(&record).await?;
    Ok(view(&record, ""))
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

/// Attempts at the tenant record's write before answering `409`: each reads the tenant and its
/// signing keys again and re-seals again, so a rotation racing another is applied after it.
const SAVE_ATTEMPTS: usize = 5;

/// Makes `key` the tenant's active key and re-seals the signing keys (the active one in the
/// tenant record, and every `next` key's seed) under it, in one write conditional on the
/// versions read.
async fn make_active(s: &Services, tid: &str, key: &DataKey) -> Result<()> {
    let ctx = SealContext {
        tenant_id: tid,
        owner: tid,
        field: SIGNING_KEY_FIELD,
    };
    for _ in 0..SAVE_ATTEMPTS {
        let mut t = tenant(s, tid).await?;
        let mut set = s.store.signing_key_set(tid).await?;
        t.active_key_id = key.id.clone();
        if let Some(resealed) = reseal(s, key, ctx, &t.signing_key_sealed).await? {
            t.signing_key_sealed = resealed;
        }
        let mut set_changed = false;
        for record in &mut set.keys {
            if let Some(sealed) = record.seed_sealed.as_deref() {
                if let Some(resealed) = reseal(s, key, ctx, sealed).await? {
                    record.seed_sealed = Some(resealed);
                    set_changed = true;
                }
            }
        }
        if s.store
            .save_tenant_keys(&t, set_changed.then_some(&set))
            .await?
        {
            s.keyring.forget_active(tid);
            return Ok(());
        }
    }
    Err(Error::Conflict(
        "the tenant's keys were changed by other requests meanwhile; retry".into(),
    ))
}

/// `POST /api/tenant-keys/{keyId}/activate`.
pub async fn activate(s: &Services, req: &ApiRequest, key_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&activate_tenant_key(s, &c, key_id).await?))
}

/// Makes `key_id` the key new values are sealed under and re-seals every secret of the tenant
/// under it (see the module's doc); how many apps and licenses were re-sealed.
pub async fn activate_tenant_key(s: &Services, c: &Caller, key_id: &str) -> Result<Activation> {
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
    make_active(s, tid, &key).await?;

    // 2. Existing values move to it, each on condition that it is still the value read (a
    //    secret changed meanwhile stays as changed).
    let mut resealed_apps = 0;
    for app in s.store.all_tenant_apps(tid).await? {
        let mut changed = false;
        for (field, attribute, sealed) in [
            (
                fields::SECRET_KEY,
                sealed_attributes::SECRET_KEY,
                &app.secret_key_sealed,
            ),
            (
                fields::WEBHOOK_SECRET,
                sealed_attributes::WEBHOOK_SECRET,
                &app.webhook_secret_sealed,
            ),
            (
                fields::PREVIOUS_WEBHOOK_SECRET,
                sealed_attributes::PREVIOUS_WEBHOOK_SECRET,
                &app.previous_webhook_secret_sealed,
            ),
        ] {
            let Some(sealed) = sealed.as_deref() else {
                continue;
            };
            let ctx = SealContext {
                tenant_id: tid,
                owner: &app.id,
                field,
            };
            if let Some(resealed) = reseal(s, &key, ctx, sealed).await? {
                changed |= s
                    .store
                    .reseal_app_secret(tid, &app.id, attribute, sealed, &resealed)
                    .await?;
            }
        }
        if changed {
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
    Ok(Activation {
        key: view(&record, key_id),
        resealed_apps,
        resealed_licenses,
    })
}
