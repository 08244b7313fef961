//! Settings (`/dashboard/settings`): tenant keys (generate, activate with its re-seal count),
//! API tokens (created and shown once, with who created them; revoked), the team (invite by
//! email with a role, change a role, remove — revoking or taking over the API tokens the
//! member answers for), the tenant id (Lukittu's "team id"), and the signing keys (create the
//! next one, activate it after a confirmation).

use http::StatusCode;
use minijinja::context;
use serde_json::Value;

use super::form::{self, errors_of, set_path, Kind};
use super::session::{self, Signed};
use super::{notice, show, team, web};
use crate::domain::member::Role;
use crate::handlers::admin::portal_settings::{self, PortalSettingsInput};
use crate::handlers::admin::{signing_keys, tenant, tenant_keys, tokens};
use crate::http::input::{ListQuery, MAX_LIMIT};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

async fn page_with(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    extra: minijinja::Value,
    status: StatusCode,
) -> Result<ApiResponse> {
    let c = me.caller();
    let (tenant, portal, keys, tokens, signing, members) = futures::try_join!(
        tenant::get_tenant(s, &c),
        portal_settings::get_portal_settings(s, &c),
        tenant_keys::list_tenant_keys(s, &c),
        tokens::list_api_tokens(s, &c, ListQuery::first(MAX_LIMIT)),
        signing_keys::list_signing_keys(s, &c),
        team::members(s, me),
    )?;
    let count = |p: &str| req.query_param(p).and_then(|v| v.parse::<u32>().ok());
    show(
        s,
        me,
        "settings.html",
        status,
        context! {
            title => "Settings",
            nav => "settings",
            notice => notice(req),
            resealed => count("apps").map(|a| context! { apps => a, licenses => count("licenses").unwrap_or(0) }),
            tenant => tenant,
            keys => keys.items,
            tokens => tokens.items,
            signing_keys => signing.keys,
            members => members,
            portal => portal,
            roles => ["viewer", "admin", "owner"],
            team_webhook_url => format!("{}/api/stripe/webhook?teamId={}", s.config.public_base_url, me.tenant_id),
            signing_key_url => format!("{}/api/tenants/{}/signing-key", s.config.public_base_url, me.tenant_id),
            ..extra
        },
    )
}

/// `GET /dashboard/settings`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    page_with(s, req, &me, context! {}, StatusCode::OK).await
}

/// `POST /dashboard/settings/tenant-keys`.
pub async fn create_tenant_key(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    tenant_keys::create_tenant_key(s, &me.caller()).await?;
    Ok(web::redirect("/dashboard/settings?notice=key_created#keys"))
}

/// `POST /dashboard/settings/tenant-keys/{keyId}`: activates it (re-sealing every secret).
pub async fn activate_tenant_key(
    s: &Services,
    req: &ApiRequest,
    key_id: &str,
) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    let done = tenant_keys::activate_tenant_key(s, &me.caller(), key_id).await?;
    Ok(web::redirect(&format!(
        "/dashboard/settings?notice=key_activated&apps={}&licenses={}#keys",
        done.resealed_apps, done.resealed_licenses
    )))
}

/// `POST /dashboard/settings/signing-keys`: a new `next` signing key (published, not signing).
pub async fn create_signing_key(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    signing_keys::create_signing_key(s, &me.caller()).await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=signing_key_created#signing-keys",
    ))
}

/// `POST /dashboard/settings/signing-keys/{kid}`: activates it once confirmed (`confirm=yes`);
/// before that, the page asks.
pub async fn activate_signing_key(
    s: &Services,
    req: &ApiRequest,
    kid: &str,
) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    if form.get("confirm") != Some("yes") {
        return page_with(s, req, &me, context! { confirm_kid => kid }, StatusCode::OK).await;
    }
    signing_keys::activate_signing_key(s, &me.caller(), kid).await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=signing_key_activated#signing-keys",
    ))
}

/// `POST /dashboard/settings/tokens`: the new token is on this answer's page only.
pub async fn create_token(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let created = async {
        let mut body = form.body(&[("name", Kind::Text)])?;
        // An empty name is sent empty, for the API's check to refuse at the field.
        if body.get("name").is_none() {
            set_path(&mut body, "name", Value::from(""));
        }
        let input: tokens::TokenInput = form::input(body, tokens::CREATE_REQUIRED)?;
        tokens::create_api_token(s, &me.caller(), input).await
    }
    .await;
    match created {
        Ok(created) => {
            page_with(
                s,
                req,
                &me,
                context! { new_token => created },
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                page_with(
                    s,
                    req,
                    &me,
                    context! { token_errors => errors },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// `POST /dashboard/settings/tokens/{tokenId}`: revokes it.
pub async fn revoke_token(s: &Services, req: &ApiRequest, token_id: &str) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    tokens::delete_api_token(s, &me.caller(), token_id).await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=token_revoked#tokens",
    ))
}

/// `POST /dashboard/settings/members`: adds the member and emails them a sign-in link.
pub async fn invite(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_manage_team()?;
    let result = async {
        let role = form
            .get("role")
            .and_then(Role::parse)
            .ok_or_else(|| Error::validation("role", "must be viewer, admin or owner"))?;
        team::invite(s, &me, form.get("email").unwrap_or_default(), role).await
    }
    .await;
    match result {
        Ok(_) => Ok(web::redirect(
            "/dashboard/settings?notice=member_invited#team",
        )),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                page_with(
                    s,
                    req,
                    &me,
                    context! { member_errors => errors, member_values => form.echo(&[]) },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// `POST /dashboard/settings/portal`: the customer portal's settings, through the API's
/// operation (`PUT /api/portal-settings`).
pub async fn update_portal(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let result = async {
        let body = form.body(&[
            ("enabled", Kind::Bool),
            ("freesPer30Days", Kind::Number),
            ("support", Kind::Text),
            ("displayName", Kind::Text),
            ("accentColour", Kind::Text),
            ("logoUrl", Kind::Text),
        ])?;
        let input: PortalSettingsInput = form::input(body, &[])?;
        portal_settings::update_portal_settings(s, &me.caller(), input).await
    }
    .await;
    match result {
        Ok(_) => Ok(web::redirect(
            "/dashboard/settings?notice=portal_saved#portal",
        )),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                page_with(
                    s,
                    req,
                    &me,
                    context! { portal_errors => errors, portal_values => form.echo(&[]) },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// `POST /dashboard/settings/members/{memberId}`: `action=remove` (with `tokens=revoke` or
/// `hand_over` when the member answers for API tokens), or `role=` to change it. The last
/// owner can be neither removed nor demoted, however many owners act at once.
pub async fn update_member(s: &Services, req: &ApiRequest, member_id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_manage_team()?;
    if form.action() == "remove" {
        let choice = form.get("tokens").and_then(team::TokenChoice::parse);
        let tokens = team::remove(s, &me, member_id, choice).await?;
        let notice = match (tokens, choice) {
            (0, _) => "member_removed",
            (_, Some(team::TokenChoice::HandOverToMe)) => "member_removed_tokens_handed_over",
            _ => "member_removed_tokens_revoked",
        };
        return Ok(web::redirect(&format!(
            "/dashboard/settings?notice={notice}#team"
        )));
    }
    let role = form
        .get("role")
        .and_then(Role::parse)
        .ok_or_else(|| Error::validation("role", "must be viewer, admin or owner"))?;
    team::change_role(s, &me, member_id, role).await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=member_saved#team",
    ))
}
