//! Envelope encryption of tenant secrets.
//!
//! A tenant key is a KMS data key (`GenerateDataKey`, AES-256) stored only in its wrapped form,
//! with the encryption context `{tenantId}` so that KMS refuses to unwrap it for another tenant.
//! Unwrapped keys are cached in memory for a bounded time (`KEYHOOK_KEY_CACHE_SECONDS`), so a
//! warm function makes no KMS call per request.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::cache::LazyCache;
use crate::crypto::seal::{self, DataKey, SealContext, SealError};
use crate::crypto::Secret;
use crate::domain::TenantKeyRecord;
use crate::sdk::LazyClient;
use crate::store::Store;
use crate::{ids, Error, Result};

/// The encryption context every tenant key is bound to.
const CONTEXT_TENANT: &str = "tenantId";

/// How long the id of a tenant's active key is remembered. Short, because activating a new
/// key should take effect quickly; values sealed under the previous key keep opening anyway.
const ACTIVE_KEY_ID_TTL: Duration = Duration::from_secs(30);

/// Opens and seals tenant secrets; holds the KMS client and the unwrapped-key cache.
#[derive(Clone)]
pub struct Keyring {
    kms: LazyClient<aws_sdk_kms::Client>,
    kms_key_id: String,
    store: Store,
    keys: LazyCache<(String, String), Arc<DataKey>>,
    active: LazyCache<String, String>,
}

impl Keyring {
    pub fn new(
        kms: impl Into<LazyClient<aws_sdk_kms::Client>>,
        kms_key_id: String,
        store: Store,
        ttl: Duration,
    ) -> Self {
        Keyring {
            kms: kms.into(),
            kms_key_id,
            store,
            keys: LazyCache::time_to_live(10_000, ttl),
            active: LazyCache::time_to_live(10_000, ACTIVE_KEY_ID_TTL.min(ttl)),
        }
    }

    /// A new tenant key from KMS. The caller stores the returned record (wrapped key only).
    pub async fn generate_key(&self, tenant_id: &str) -> Result<(TenantKeyRecord, Arc<DataKey>)> {
        let out = self
            .kms
            .get()
            .generate_data_key()
            .key_id(&self.kms_key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_TENANT, tenant_id)
            .send()
            .await
            .map_err(|e| Error::aws("kms", aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let plaintext = out
            .plaintext()
            .ok_or_else(|| Error::internal("KMS returned no plaintext data key"))?;
        let wrapped = out
            .ciphertext_blob()
            .ok_or_else(|| Error::internal("KMS returned no wrapped data key"))?;
        let id = ids::new_id("tk");
        let key = Arc::new(
            DataKey::new(&id, plaintext.as_ref())
                .ok_or_else(|| Error::internal("KMS data key is not 32 bytes"))?,
        );
        let record = TenantKeyRecord {
            id: id.clone(),
            tenant_id: tenant_id.to_string(),
            wrapped_key: STANDARD.encode(wrapped.as_ref()),
            created_at: crate::time::now(),
        };
        self.keys
            .insert((tenant_id.to_string(), id), Arc::clone(&key));
        Ok((record, key))
    }

    /// The unwrapped key `key_id` of a tenant: from the cache, else stored record + KMS Decrypt.
    /// `Ok(None)` when the tenant has no such key.
    pub async fn data_key(&self, tenant_id: &str, key_id: &str) -> Result<Option<Arc<DataKey>>> {
        let cache_key = (tenant_id.to_string(), key_id.to_string());
        if let Some(k) = self.keys.get(&cache_key) {
            return Ok(Some(k));
        }
        let Some(record) = self.store.get_tenant_key(tenant_id, key_id).await? else {
            return Ok(None);
        };
        let wrapped = STANDARD
            .decode(&record.wrapped_key)
            .map_err(|_| Error::internal("stored wrapped key is not base64"))?;
        let out = self
            .kms
            .get()
            .decrypt()
            .key_id(&self.kms_key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_TENANT, tenant_id)
            .send()
            .await
            .map_err(|e| Error::aws("kms", aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let plaintext = out
            .plaintext()
            .ok_or_else(|| Error::internal("KMS returned no plaintext"))?;
        let key = Arc::new(
            DataKey::new(key_id, plaintext.as_ref())
                .ok_or_else(|| Error::internal("unwrapped key is not 32 bytes"))?,
        );
        self.keys.insert(cache_key, Arc::clone(&key));
        Ok(Some(key))
    }

    /// The tenant's active key, the one new values are sealed under.
    pub async fn active_key(&self, tenant_id: &str) -> Result<Arc<DataKey>> {
        let key_id = match self.active.get(tenant_id) {
            Some(id) => id,
            None => {
                let tenant = self
                    .store
                    .get_tenant(tenant_id)
                    .await?
                    .ok_or_else(|| Error::not_found("Tenant"))?;
                self.active
                    .insert(tenant_id.to_string(), tenant.active_key_id.clone());
                tenant.active_key_id
            }
        };
        self.data_key(tenant_id, &key_id)
            .await?
            .ok_or_else(|| Error::internal("tenant's active key record is missing"))
    }

    /// Forgets the cached active key id of a tenant (after activating another key).
    pub fn forget_active(&self, tenant_id: &str) {
        self.active.invalidate(tenant_id);
    }

    /// Seals `plaintext` under the tenant's active key.
    pub async fn seal(&self, ctx: SealContext<'_>, plaintext: &[u8]) -> Result<String> {
        let key = self.active_key(ctx.tenant_id).await?;
        Ok(seal::seal(&key, ctx, plaintext))
    }

    /// Opens a sealed value. `Ok(None)` when it does not open (unknown key, tampered, or bound
    /// to another record); `Err` only when KMS or the store failed, so the caller can retry.
    pub async fn open(&self, ctx: SealContext<'_>, sealed: &str) -> Result<Option<Vec<u8>>> {
        let Ok(key_id) = seal::sealed_key_id(sealed) else {
            return Ok(None);
        };
        let Some(key) = self.data_key(ctx.tenant_id, key_id).await? else {
            return Ok(None);
        };
        match seal::open(&key, ctx, sealed) {
            Ok(p) => Ok(Some(p.to_vec())),
            Err(SealError::Malformed | SealError::Unauthentic | SealError::WrongKey(_)) => Ok(None),
        }
    }

    /// Opens a sealed UTF-8 secret.
    pub async fn open_secret(&self, ctx: SealContext<'_>, sealed: &str) -> Result<Option<Secret>> {
        Ok(self
            .open(ctx, sealed)
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Secret::new))
    }
}
