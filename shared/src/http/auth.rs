//! Admin authentication: `Authorization: Bearer <token>` (or `KeyhookApi <token>`, or
//! `ExisOneApi <token>` as ExisOne's examples send it). Tokens are
//! stored only as SHA-256 hashes; a token belongs to exactly one tenant, and every admin read
//! and write is scoped to that tenant.

use sha2::{Digest, Sha256};

use crate::domain::activity::{Actor, Origin};
use crate::domain::tenant::Principal;
use crate::http::ApiRequest;
use crate::store::Store;
use crate::{ids, Error, Result};

/// Who is calling: the tenant every operation is scoped to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub token_id: String,
    /// Who the call acts for (a member, or the operator), and so who answers for an API token
    /// it creates; `None` for a token stored before creators were recorded.
    pub principal: Option<Principal>,
    /// The client's address (recorded in a license's activity log).
    pub source_ip: Option<std::net::IpAddr>,
}

impl Caller {
    /// Who changes a license through this call, for its activity log: the merchant (a member,
    /// an API token, the operator's CLI), from the caller's address.
    pub fn origin(&self) -> Origin {
        Origin::new(Actor::Merchant, self.source_ip)
    }
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token: `kh_` + 160 random bits.
pub fn new_token() -> String {
    format!("kh_{}", ids::random_symbols(32).to_ascii_lowercase())
}

/// The accepted `Authorization` schemes, case-insensitive: all mean the same token.
const SCHEMES: [&str; 3] = ["bearer", "keyhookapi", "exisoneapi"];

fn bearer(req: &ApiRequest) -> Result<&str> {
    let header = req.header("authorization").ok_or_else(|| {
        Error::Unauthorized("an Authorization header with an API token is required".into())
    })?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| Error::Unauthorized("Authorization must be `Bearer <token>`".into()))?;
    if !SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)) {
        return Err(Error::Unauthorized(
            "Authorization must be `Bearer <token>` (or `KeyhookApi <token>`, `ExisOneApi <token>`)"
                .into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(Error::Unauthorized("the API token is malformed".into()));
    }
    Ok(token)
}

/// Resolves the caller from the request's token: one strongly consistent read, reused by this
/// process for `KEYHOOK_TOKEN_CACHE_SECONDS` (default 30 s; `store::read_cache`), so a warm
/// admin request makes no read for its token. A revoked token stops working at once in the
/// process that revoked it and within that time everywhere.
pub async fn authenticate(store: &Store, req: &ApiRequest) -> Result<Caller> {
    let token = bearer(req)?;
    let record = store
        .authenticating_token(&token_hash(token))
        .await?
        .ok_or_else(|| Error::Unauthorized("the API token is not valid".into()))?;
    Ok(Caller {
        principal: record.answerable(),
        tenant_id: record.tenant_id,
        token_id: record.id,
        source_ip: req.source_ip,
    })
}
