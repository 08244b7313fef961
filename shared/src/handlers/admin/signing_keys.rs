//! Rotation of the tenant's answer- and license-file-signing keys:
//! - `GET /api/signing-keys`: every key, retired ones included (`active`, `next`, `retired`);
//! - `POST /api/signing-keys`: a new `next` key, published at once but not signing yet, so
//!   apps can ship it before it is activated;
//! - `POST /api/signing-keys/{kid}/activate`: the key signs from now on; the previous active
//!   key is `retired` (its seed dropped) and stays published for 366 days, the longest life of
//!   a license file, so every answer and file it signed keeps verifying until it expires.
//!
//! Every write is conditional on the versions read (the tenant record and the key set, in one
//! transaction); a write that finds them changed reads again and decides again, so two
//! rotations never undo each other and the set and the signing key always agree.
//!
//! Warm validation processes keep signing with the previous key for at most the key cache TTL
//! (`KEYHOOK_KEY_CACHE_SECONDS`, 300 s by default), which apps accept since it stays published.

use super::caller;
use crate::crypto::{seal, signing, SealContext};
use crate::domain::signing_key::{SigningKeyRecord, SigningKeyStatus};
use crate::handlers::admin::tenant::SIGNING_KEY_FIELD;
use crate::handlers::validate::signing_key::{key_set, kid_of, KeySetView, PublicKeyView};
use crate::http::auth::Caller;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

async fn tenant(s: &Services, tenant_id: &str) -> Result<crate::domain::Tenant> {
    s.store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the API token's tenant no longer exists".into()))
}

fn changed_concurrently() -> Error {
    Error::Conflict("the signing keys were changed by other requests meanwhile; retry".into())
}

/// Attempts at a write before answering `409`: each reads the keys again and decides again, so
/// a rotation racing another is applied after it, never over it.
const SAVE_ATTEMPTS: usize = 5;

/// `GET /api/signing-keys`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&list_signing_keys(s, &c).await?))
}

/// Every signing key of the tenant, retired ones included.
pub async fn list_signing_keys(s: &Services, c: &Caller) -> Result<KeySetView> {
    let t = tenant(s, &c.tenant_id).await?;
    let set = s.store.signing_key_set(&c.tenant_id).await?;
    Ok(KeySetView {
        keys: key_set(&t, &set.keys, crate::time::now(), true),
    })
}

/// `POST /api/signing-keys` (no body): a new `next` key.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::created(&create_signing_key(s, &c).await?))
}

/// A new `next` key: published at once, signing only once activated.
pub async fn create_signing_key(s: &Services, c: &Caller) -> Result<PublicKeyView> {
    let tid = c.tenant_id.as_str();
    let data_key = s.keyring.active_key(tid).await?;
    let (seed, public) = signing::generate();
    let record = SigningKeyRecord {
        kid: kid_of(&public),
        tenant_id: tid.to_string(),
        public_key: public,
        seed_sealed: Some(seal::seal(&data_key, seal_context(tid), &seed[..])),
        status: SigningKeyStatus::Next,
        created_at: crate::time::now(),
        retired_at: None,
    };
    for _ in 0..SAVE_ATTEMPTS {
        let mut set = s.store.signing_key_set(tid).await?;
        set.put(record.clone());
        if s.store.save_signing_key_set(&set).await? {
            tracing::info!(kid = %record.kid, "signing key created");
            return Ok(view(&record));
        }
    }
    Err(changed_concurrently())
}

/// `POST /api/signing-keys/{kid}/activate`.
pub async fn activate(s: &Services, req: &ApiRequest, kid: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&activate_signing_key(s, &c, kid).await?))
}

/// Makes `kid` the signing key (the active one already is: answered as it is); the previous
/// one is retired.
pub async fn activate_signing_key(s: &Services, c: &Caller, kid: &str) -> Result<PublicKeyView> {
    let tid = c.tenant_id.as_str();
    for _ in 0..SAVE_ATTEMPTS {
        let mut t = tenant(s, tid).await?;
        let mut set = s.store.signing_key_set(tid).await?;
        let current_kid = kid_of(&t.signing_public_key);
        if kid == current_kid {
            let active = key_set(&t, &set.keys, crate::time::now(), false).remove(0);
            return Ok(active);
        }
        let mut next = set
            .get(kid)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("Signing key {kid}")))?;
        let Some(seed_sealed) = next.seed_sealed.clone() else {
            return Err(Error::Conflict(format!(
                "signing key {kid} is retired; create a new key instead"
            )));
        };
        // The seed must open before anything changes.
        s.keyring
            .open(seal_context(tid), &seed_sealed)
            .await?
            .ok_or_else(|| Error::internal(format!("signing key {kid} does not open")))?;
        let now = crate::time::now();

        // In one write, conditional on both versions read: the set records the current key as
        // retired (still published, seed dropped) and the new one as active, and the tenant
        // record signs with the new one.
        let created_at = set.get(&current_kid).map_or(t.created_at, |r| r.created_at);
        set.put(SigningKeyRecord {
            kid: current_kid.clone(),
            tenant_id: tid.to_string(),
            public_key: t.signing_public_key.clone(),
            seed_sealed: None,
            status: SigningKeyStatus::Retired,
            created_at,
            retired_at: Some(now),
        });
        next.status = SigningKeyStatus::Active;
        set.put(next.clone());
        t.signing_key_sealed = seed_sealed;
        t.signing_public_key = next.public_key.clone();
        if s.store.save_tenant_keys(&t, Some(&set)).await? {
            s.signing_keys.forget(tid);
            tracing::info!(kid, previous = %current_kid, "signing key activated");
            return Ok(view(&next));
        }
    }
    Err(changed_concurrently())
}

fn seal_context(tenant_id: &str) -> SealContext<'_> {
    SealContext {
        tenant_id,
        owner: tenant_id,
        field: SIGNING_KEY_FIELD,
    }
}

fn view(r: &SigningKeyRecord) -> PublicKeyView {
    PublicKeyView {
        kid: r.kid.clone(),
        alg: "Ed25519",
        public_key: r.public_key.clone(),
        status: r.status,
        created_at: super::ts(r.created_at),
        retired_at: r.retired_at.map(super::ts),
        valid_until: r.valid_until().map(super::ts),
    }
}
