//! Settings (`/dashboard/settings`): tenant keys (generate, activate with its re-seal count),
//! API tokens (created and shown once, revoked), the team (invite by email with a role,
//! change a role, remove), the tenant id (Lukittu's "team id"), and the signing keys (create
//! the next one, activate it after a confirmation).

use http::StatusCode;
use minijinja::context;
use serde_json::{json, Value};

use super::api::{enc, items, Api};
use super::form::errors_of;
use super::session::{self, Signed};
use super::{notice, show, team, web};
use crate::domain::member::Role;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

async fn page_with(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    extra: minijinja::Value,
    status: StatusCode,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let (tenant, keys, tokens, signing) = futures::try_join!(
        api.get("/api/tenant"),
        api.get("/api/tenant-keys"),
        api.get("/api/tokens?limit=200"),
        api.get("/api/signing-keys"),
    )?;
    let mut members: Vec<Value> = s
        .store
        .members(&me.tenant_id)
        .await?
        .into_iter()
        .map(|m| json!({"id": m.id, "email": m.email, "role": m.role.as_str(), "createdAt": crate::time::format(m.created_at), "invitedBy": m.invited_by}))
        .collect();
    members.sort_by(|a, b| a["email"].as_str().cmp(&b["email"].as_str()));
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
            keys => items(&keys),
            tokens => items(&tokens),
            signing_keys => signing["keys"].as_array().cloned().unwrap_or_default(),
            members => members,
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
    Api::new(s, &me, req)
        .post("/api/tenant-keys", Value::Null)
        .await?;
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
    let done = Api::new(s, &me, req)
        .post(
            &format!("/api/tenant-keys/{}/activate", enc(key_id)),
            Value::Null,
        )
        .await?;
    Ok(web::redirect(&format!(
        "/dashboard/settings?notice=key_activated&apps={}&licenses={}#keys",
        done["resealedApps"].as_u64().unwrap_or(0),
        done["resealedLicenses"].as_u64().unwrap_or(0)
    )))
}

/// `POST /dashboard/settings/signing-keys`: a new `next` signing key (published, not signing).
pub async fn create_signing_key(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    Api::new(s, &me, req)
        .post("/api/signing-keys", Value::Null)
        .await?;
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
    Api::new(s, &me, req)
        .post(
            &format!("/api/signing-keys/{}/activate", enc(kid)),
            Value::Null,
        )
        .await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=signing_key_activated#signing-keys",
    ))
}

/// `POST /dashboard/settings/tokens`: the new token is on this answer's page only.
pub async fn create_token(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    match api
        .post(
            "/api/tokens",
            json!({"name": form.get("name").unwrap_or_default()}),
        )
        .await
    {
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
    Api::new(s, &me, req)
        .delete(&format!("/api/tokens/{}", enc(token_id)))
        .await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=token_revoked#tokens",
    ))
}

/// `POST /dashboard/settings/members`: adds the member and emails them a sign-in link.
pub async fn invite(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_manage_team()?;
    let role = form
        .get("role")
        .and_then(Role::parse)
        .ok_or_else(|| Error::validation("role", "must be viewer, admin or owner"));
    let result = async {
        let role = role?;
        let inviter = me.email.clone().unwrap_or_else(|| me.who.clone());
        let member = team::add_member(
            s,
            &me.tenant_id,
            form.get("email").unwrap_or_default(),
            role,
            &inviter,
        )
        .await?;
        team::send_link(
            s,
            &me.tenant_id,
            &member.email,
            "invitation",
            Some(&inviter),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => Ok(web::redirect(
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

/// `POST /dashboard/settings/members/{memberId}`: `action=remove`, or `role=` to change it.
/// The last owner can be neither removed nor demoted.
pub async fn update_member(s: &Services, req: &ApiRequest, member_id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_manage_team()?;
    let members = s.store.members(&me.tenant_id).await?;
    let mut member = members
        .iter()
        .find(|m| m.id == member_id)
        .cloned()
        .ok_or_else(|| Error::not_found(format!("Member {member_id}")))?;
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    let last_owner = member.role == Role::Owner && owners == 1;
    if form.action() == "remove" {
        if last_owner {
            return Err(Error::Conflict(
                "The last owner cannot be removed; make someone else owner first.".into(),
            ));
        }
        s.store.delete_member(&me.tenant_id, &member.email).await?;
        return Ok(web::redirect(
            "/dashboard/settings?notice=member_removed#team",
        ));
    }
    let role = form
        .get("role")
        .and_then(Role::parse)
        .ok_or_else(|| Error::validation("role", "must be viewer, admin or owner"))?;
    if last_owner && role != Role::Owner {
        return Err(Error::Conflict(
            "The last owner cannot be demoted; make someone else owner first.".into(),
        ));
    }
    member.role = role;
    s.store.put_member(&member).await?;
    Ok(web::redirect(
        "/dashboard/settings?notice=member_saved#team",
    ))
}
