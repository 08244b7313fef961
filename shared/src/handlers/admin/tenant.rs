//! The caller's tenant, and tenant creation (an operator action of the `keyhook` CLI).

use serde::Serialize;

use super::{caller, ts};
use crate::crypto::{seal, signing, SealContext};
use crate::domain::tenant::Principal;
use crate::domain::{ApiToken, Tenant};
use crate::http::auth::{new_token, token_hash, Caller};
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

pub use crate::domain::signing_key::SIGNING_KEY_FIELD;

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub signing_public_key: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        TenantView {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: ts(t.created_at),
            signing_public_key: t.signing_public_key.clone(),
        }
    }
}

/// The caller's tenant.
pub async fn get_tenant(s: &Services, c: &Caller) -> Result<TenantView> {
    let tenant = s
        .store
        .get_tenant(&c.tenant_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the API token's tenant no longer exists".into()))?;
    Ok(TenantView::from(&tenant))
}

/// `GET /api/tenant`.
pub async fn get(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_tenant(s, &c).await?))
}

/// A new API token for a tenant, created by `created_by` (who then answers for it): the token
/// (shown once) and its stored record.
pub async fn create_token(
    s: &Services,
    tenant_id: &str,
    name: &str,
    created_by: Option<Principal>,
) -> Result<(String, ApiToken)> {
    let token = new_token();
    let record = ApiToken {
        id: ids::new_id("tok"),
        tenant_id: tenant_id.to_string(),
        name: name.to_string(),
        prefix: token.chars().take(8).collect(),
        token_hash: token_hash(&token),
        created_at: crate::time::now(),
        created_by,
        handed_over_to: None,
    };
    s.store.put_token(&record).await?;
    Ok((token, record))
}

/// Creates a tenant with its first envelope key (from KMS), its signing key, and a first API
/// token, which is returned once.
pub async fn create_tenant(s: &Services, name: &str) -> Result<(Tenant, String)> {
    let name = crate::http::input::text_field("name", name, 200)?;
    let tenant_id = ids::new_id("ten");
    let (key_record, data_key) = s.keyring.generate_key(&tenant_id).await?;
    let (seed, public) = signing::generate();
    let tenant = Tenant {
        id: tenant_id.clone(),
        name,
        active_key_id: key_record.id.clone(),
        signing_key_sealed: seal::seal(
            &data_key,
            SealContext {
                tenant_id: &tenant_id,
                owner: &tenant_id,
                field: SIGNING_KEY_FIELD,
            },
            &seed[..],
        ),
        signing_public_key: public,
        created_at: crate::time::now(),
        version: 0,
        portal: Default::default(),
        portal_version: 0,
    };
    s.store.create_tenant(&tenant, &key_record).await?;
    let (token, _) = create_token(s, &tenant_id, "initial", Some(Principal::Operator)).await?;
    Ok((tenant, token))
}
