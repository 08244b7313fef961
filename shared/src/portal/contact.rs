//! "Change my address": a signed-in buyer asks to move their licenses with this merchant to
//! another address; nothing changes until the link emailed to the new address is confirmed
//! (`services::contact_change`, which sends it and moves the licenses). The confirmation page
//! works as a sign-in link's: opening it changes nothing, its button confirms; the buyer is
//! then signed in as the new address.

use http::StatusCode;
use minijinja::context;

use super::render::{self, Brand};
use super::{buyer, licenses, session};
use crate::dashboard::link::LinkPage;
use crate::dashboard::public::{self, Limit};
use crate::dashboard::web;
use crate::domain::Tenant;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

const TRY_LATER: &str = "Too many address changes asked for. Wait 15 minutes and try again.";
/// Change requests per signed-in buyer, and confirmation emails per new address, in 15
/// minutes: a session cannot be used to flood any address with Keyhook's emails.
const CHANGES_PER_BUYER: Limit = Limit {
    scope: "portal-contact-buyer",
    max: 5,
    message: TRY_LATER,
};
const CHANGES_PER_ADDRESS: Limit = Limit {
    scope: "portal-contact-address",
    max: 3,
    message: TRY_LATER,
};

/// `POST /portal/{tenantId}/email`: asks for the change (`email`: the new address).
pub async fn request(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (tenant, buyer, form) = session::post(s, req, tenant_id).await?;
    let new = form.get("email").unwrap_or_default().to_string();
    public::limit(
        s,
        CHANGES_PER_BUYER,
        &format!("{} {}", tenant.id, buyer.email),
    )
    .await?;
    let address = new.trim().to_ascii_lowercase();
    public::limit(s, CHANGES_PER_ADDRESS, &address).await?;
    match buyer::change_contact(s, &tenant, &buyer.email, &new).await {
        Ok(_) => Ok(web::redirect(&format!(
            "/portal/{}/licenses?notice=contact_sent",
            web::enc(&tenant.id)
        ))),
        Err(e) => {
            let message = match &e {
                Error::Validation { message, .. } | Error::ConflictAt { message, .. } => {
                    message.clone()
                }
                _ => return Err(e),
            };
            licenses::list_page_with(
                s,
                req,
                &tenant,
                &session::Viewer::Buyer(buyer.clone()),
                context! { email_error => message, email_value => new },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn page(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    let pre = public::pre_token(s, req);
    let res = render::page(
        s,
        &Brand::of(tenant),
        None,
        status,
        "link.html",
        context! { pre => pre, action => "email-change", ..ctx },
    )?;
    Ok(public::with_pre_cookie(s, res, &pre))
}

/// `GET /portal/{tenantId}/email-change?token=`: the confirmation link's page; changes nothing.
pub async fn confirm_page(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (tenant, _) = session::load(s, req, tenant_id).await?;
    let token = req.query_param("token").unwrap_or_default();
    let link = LinkPage {
        title: "Confirm your new address".into(),
        intro: format!(
            "Your licenses with {} move to this address once you confirm.",
            tenant.portal.name(&tenant.name)
        ),
        button: "Confirm".into(),
        choices: Vec::new(),
    };
    page(
        s,
        req,
        &tenant,
        StatusCode::OK,
        context! { title => "Confirm your new address", link => link, token => token },
    )
}

/// `POST /portal/{tenantId}/email-change`: the page's button: confirms, moves the licenses,
/// and signs the buyer in as the new address.
pub async fn confirm(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let form = public::form(s, req)?;
    let (tenant, _) = session::load(s, req, tenant_id).await?;
    let token = form.get("token").unwrap_or_default();
    match buyer::confirm_contact(s, &tenant, token, req.source_ip).await {
        Ok(changed) => {
            tracing::info!(tenant_id = %tenant.id, licenses = changed.license_ids.len(), "portal contact address changed");
            session::start(
                s,
                &tenant.id,
                &changed.to_email,
                None,
                Some("contact_changed"),
            )
            .await
        }
        Err(e) => {
            let message = match &e {
                Error::BadRequest { message, .. } => message.clone(),
                _ => return Err(e),
            };
            let link = LinkPage {
                title: "Confirm your new address".into(),
                intro: String::new(),
                button: String::new(),
                choices: Vec::new(),
            };
            page(
                s,
                req,
                &tenant,
                StatusCode::BAD_REQUEST,
                context! { title => "Confirm your new address", link => link, error => message },
            )
        }
    }
}
