//! API tokens: created (shown once), listed (prefix, name and who created them), revoked. A
//! token records who created it: the team member acting (in the dashboard, or through a token
//! they answer for), or the operator. That member answers for it: removing them from the team
//! revokes it or hands it over (`dashboard::team`). A revoked token stops working at once in
//! the process that revoked it, and within the token cache's lifetime
//! (`KEYHOOK_TOKEN_CACHE_SECONDS`, default 30 s) in every other (`store::read_cache`).

use serde::{Deserialize, Serialize};

use super::tenant::create_token;
use super::{caller, ts};
use crate::domain::ApiToken;
use crate::http::auth::Caller;
use crate::http::input::{text_field, ListBody, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenInput {
    #[schemars(extend("pattern" = crate::http::schema::NON_BLANK, "maxLength" = 100))]
    pub name: Option<String>,
}

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["name"];

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    /// Who created it: a team member's email, or `operator` (the tenant's first token, from
    /// `keyhook tenant create`, and tokens created with the operator's); absent when not
    /// recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The member who answers for it since its creator left the team (chosen by the owner who
    /// removed them); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handed_over_to: Option<String>,
    /// Only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: ts(t.created_at),
            created_by: t.created_by.as_ref().map(|p| p.label().to_string()),
            handed_over_to: t.handed_over_to,
            token: None,
        }
    }
}

/// `POST /api/tokens`: the token is in this answer only.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: TokenInput = crate::http::input::json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_api_token(s, &c, input).await?))
}

/// A new token of the caller's tenant, created by who the caller acts for; the view carries
/// the token itself, this once.
pub async fn create_api_token(s: &Services, c: &Caller, input: TokenInput) -> Result<TokenView> {
    let name = text_field("name", input.name.as_deref().unwrap_or(""), 100)?;
    let (token, record) = create_token(s, &c.tenant_id, &name, c.principal.clone()).await?;
    let mut view = TokenView::from(record);
    view.token = Some(token);
    Ok(view)
}

/// `GET /api/tokens`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = ListQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_api_tokens(s, &c, query).await?))
}

/// The tenant's tokens (never the tokens themselves).
pub async fn list_api_tokens(
    s: &Services,
    c: &Caller,
    query: ListQuery,
) -> Result<ListBody<TokenView>> {
    let page = s
        .store
        .list_tokens(&c.tenant_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(ListBody::from_page(page, TokenView::from))
}

/// `DELETE /api/tokens/{tokenId}`.
pub async fn delete(s: &Services, req: &ApiRequest, token_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_api_token(s, &c, token_id).await?;
    Ok(ApiResponse::no_content())
}

/// Revokes a token of the tenant (not the one making the request).
pub async fn delete_api_token(s: &Services, c: &Caller, token_id: &str) -> Result<()> {
    let mut cursor = None;
    loop {
        let page = s
            .store
            .list_tokens(&c.tenant_id, 200, cursor.as_deref())
            .await?;
        if let Some(t) = page.items.iter().find(|t| t.id == token_id) {
            if t.id == c.token_id {
                return Err(Error::Conflict(
                    "this is the token making the request; revoke it with another token or from the dashboard's settings".into(),
                ));
            }
            s.store.delete_token(&c.tenant_id, &t.token_hash).await?;
            return Ok(());
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Err(Error::not_found(format!("API token {token_id}"))),
        }
    }
}
