//! A buyer's licenses (`/portal/{tenantId}/licenses`) and one license's page: its key on
//! request, its devices (free one, download a license file for one), the key emailed again,
//! Stripe's billing portal for a subscription. Every action goes through [`buyer`], with the
//! license read as the buyer's ([`buyer::license_of`]).

use http::header::{self, HeaderValue};
use http::StatusCode;
use minijinja::context;
use serde::Serialize;

use super::buyer;
use super::render::{self, Brand};
use super::session::{self, Viewer};
use crate::dashboard::web;
use crate::domain::{License, LicenseStatus, Product, Tenant};
use crate::handlers::admin::licenses::LicenseView;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// A license as the portal shows it (never its key).
#[derive(Debug, Serialize)]
pub struct LicenseRow {
    pub id: String,
    pub product: String,
    pub status: &'static str,
    pub active: bool,
    pub expires_at: Option<String>,
    pub devices_used: usize,
    /// 0: no limit.
    pub devices_allowed: u32,
    /// From a Stripe test-mode payment.
    pub test: bool,
    /// Paid by a subscription (billing can be managed).
    pub subscription: bool,
    pub created_at: String,
}

impl LicenseRow {
    /// A license of the list (its product's name from `products`).
    fn of(l: &License, products: &[Product]) -> LicenseRow {
        let status = l.status_at(crate::time::now());
        LicenseRow {
            id: l.id.clone(),
            product: product_name(&l.product_id, products),
            status: status.as_str(),
            active: status == LicenseStatus::Active,
            expires_at: l.expires_at.map(crate::time::format),
            devices_used: l.devices.len(),
            devices_allowed: l.max_devices,
            test: l.recorded_livemode() == Some(false),
            subscription: l.source.subscription_id.is_some(),
            created_at: crate::time::format(l.created_at),
        }
    }

    /// A license as the self-service core reads it (its key left out).
    fn of_view(l: &LicenseView, products: &[Product]) -> LicenseRow {
        LicenseRow {
            id: l.id.clone(),
            product: product_name(&l.product_id, products),
            status: l.status.as_str(),
            active: l.status == LicenseStatus::Active,
            expires_at: l.expires_at.clone(),
            devices_used: l.devices.len(),
            devices_allowed: l.max_devices,
            test: l.livemode == Some(false),
            subscription: l.source.subscription_id.is_some(),
            created_at: l.created_at.clone(),
        }
    }
}

fn product_name(id: &str, products: &[Product]) -> String {
    products
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| id.to_string(), |p| p.name.clone())
}

/// A device as the license page lists it.
#[derive(Debug, Serialize)]
struct DeviceRow {
    id: String,
    name: String,
    activated_at: String,
}

/// The licenses page of `viewer` (a buyer, or a member seeing what the buyer sees).
pub async fn list_page(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    viewer: &Viewer,
) -> Result<ApiResponse> {
    list_page_with(s, req, tenant, viewer, context! {}, StatusCode::OK).await
}

/// [`list_page`] with more for the template (a form's error) and a status.
pub async fn list_page_with(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    viewer: &Viewer,
    extra: minijinja::Value,
    status: StatusCode,
) -> Result<ApiResponse> {
    let licenses = buyer::licenses_of(s, &tenant.id, viewer.email()).await?;
    let ids: Vec<String> = licenses.iter().map(|l| l.product_id.clone()).collect();
    let products = s.store.get_tenant_products(&tenant.id, &ids).await?;
    let rows: Vec<LicenseRow> = licenses
        .iter()
        .map(|l| LicenseRow::of(l, &products))
        .collect();
    render::page(
        s,
        &Brand::of(tenant),
        Some(viewer),
        status,
        "licenses.html",
        context! { title => "Your licenses", licenses => rows, notice => super::notice(req), ..extra },
    )
}

/// `GET /portal/{tenantId}/licenses`.
pub async fn list(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (tenant, buyer) = session::require(s, req, tenant_id).await?;
    list_page(s, req, &tenant, &Viewer::Buyer(buyer)).await
}

/// What a license page shows beyond the license: an error of the last action, the key.
#[derive(Default)]
pub struct Extra {
    pub error: Option<String>,
    pub key: Option<String>,
    pub status: Option<StatusCode>,
}

/// A license's page for `viewer`. `frees`: how many the buyer may still free (`None`: not
/// asked, for a merchant's read-only view, which shows the allowance).
pub async fn license_page(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    viewer: &Viewer,
    license: &LicenseView,
    remaining: Option<u32>,
    extra: Extra,
) -> Result<ApiResponse> {
    // Through this process's product cache (the name changes rarely).
    let product = s
        .store
        .resolve_product_cached(&tenant.id, &license.product_id)
        .await?;
    let products: Vec<Product> = product.into_iter().collect();
    let row = LicenseRow::of_view(license, &products);
    let devices: Vec<DeviceRow> = license
        .devices
        .iter()
        .map(|d| DeviceRow {
            id: d.device_id.clone(),
            name: d.device_name.clone().unwrap_or_else(|| d.device_id.clone()),
            activated_at: crate::time::format(d.activated_at),
        })
        .collect();
    let allowed = tenant.portal.frees_per_30_days;
    let remaining = remaining.unwrap_or(allowed);
    render::page(
        s,
        &Brand::of(tenant),
        Some(viewer),
        extra.status.unwrap_or(StatusCode::OK),
        "license.html",
        context! {
            title => row.product.clone(),
            license => row,
            devices => devices,
            frees => context! {
                allowed => allowed,
                remaining => remaining,
                message => (remaining == 0).then(|| buyer::limit_message(tenant)),
            },
            key => extra.key,
            error => extra.error,
            notice => super::notice(req),
        },
    )
}

/// The buyer's license page (the license and the frees left, read together).
async fn buyer_page(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    buyer: session::Buyer,
    license_id: &str,
    extra: Extra,
) -> Result<ApiResponse> {
    let (license, remaining) =
        buyer::license_with_frees(s, tenant, &buyer.email, license_id).await?;
    license_page(
        s,
        req,
        tenant,
        &Viewer::Buyer(buyer),
        &license,
        Some(remaining),
        extra,
    )
    .await
}

/// `GET /portal/{tenantId}/licenses/{licenseId}`.
pub async fn show(
    s: &Services,
    req: &ApiRequest,
    tenant_id: &str,
    license_id: &str,
) -> Result<ApiResponse> {
    let (tenant, buyer) = session::require(s, req, tenant_id).await?;
    buyer_page(s, req, &tenant, buyer, license_id, Extra::default()).await
}

/// `POST /portal/{tenantId}/licenses/{licenseId}/key`: the key, on request only (never in the
/// page's source before). The script swaps the fragment in; without it, the page shows it.
pub async fn reveal(
    s: &Services,
    req: &ApiRequest,
    tenant_id: &str,
    license_id: &str,
) -> Result<ApiResponse> {
    let (tenant, buyer, _) = session::post(s, req, tenant_id).await?;
    if web::is_fragment(req) {
        let license = buyer::license_of(s, &tenant.id, &buyer.email, license_id).await?;
        return render::fragment(
            s,
            &Brand::of(&tenant),
            "license_key.html",
            context! { key => license.key },
        );
    }
    let license = buyer::license_of(s, &tenant.id, &buyer.email, license_id).await?;
    buyer_page(
        s,
        req,
        &tenant,
        buyer,
        license_id,
        Extra {
            key: Some(license.key),
            ..Extra::default()
        },
    )
    .await
}

/// `POST /portal/{tenantId}/licenses/{licenseId}`: `action` = `free` (a device, `deviceId`),
/// `file` (a license file for `deviceId`), `resend` (the key by email), `billing` (Stripe's
/// billing portal).
pub async fn act(
    s: &Services,
    req: &ApiRequest,
    tenant_id: &str,
    license_id: &str,
) -> Result<ApiResponse> {
    let (tenant, buyer, form) = session::post(s, req, tenant_id).await?;
    let here = |notice: &str| {
        web::redirect(&format!(
            "/portal/{}/licenses/{}?notice={notice}",
            web::enc(&tenant.id),
            web::enc(license_id)
        ))
    };
    let device = || {
        form.get("deviceId")
            .ok_or_else(|| Error::validation("deviceId", "is required"))
    };
    let email = buyer.email.as_str();
    let result = match form.action() {
        "free" => match device() {
            Ok(d) => buyer::free_device(s, req.source_ip, &tenant, email, license_id, d)
                .await
                .map(|_| here("device_freed")),
            Err(e) => Err(e),
        },
        "file" => match device() {
            Ok(d) => buyer::license_file(s, &tenant, email, license_id, d)
                .await
                .map(|file| download(license_id, d, file.file)),
            Err(e) => Err(e),
        },
        "resend" => buyer::resend_key(s, req.source_ip, &tenant, email, license_id)
            .await
            .map(|_| here("key_sent")),
        "billing" => buyer::billing_url(s, &tenant, email, license_id)
            .await
            .map(|url| web::redirect(&url)),
        _ => Err(Error::BadRequest {
            code: "bad_request",
            message: "Use one of the page's buttons.".into(),
        }),
    };
    match result {
        Ok(res) => Ok(res),
        Err(e) => match refusal(&e) {
            // A refusal is shown on the license's page, above its devices.
            Some((status, message)) => {
                buyer_page(
                    s,
                    req,
                    &tenant,
                    buyer,
                    license_id,
                    Extra {
                        error: Some(message),
                        status: Some(status),
                        ..Extra::default()
                    },
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// What a license page says about an action the rules refused (its status and message); other
/// errors get the error page.
fn refusal(e: &Error) -> Option<(StatusCode, String)> {
    Some(match e {
        Error::Validation { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
        Error::Conflict(message)
        | Error::ConflictAt { message, .. }
        | Error::ConflictCode { message, .. } => (StatusCode::CONFLICT, message.clone()),
        Error::RateLimited(message) => (StatusCode::TOO_MANY_REQUESTS, message.clone()),
        Error::Upstream { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Stripe is unavailable at the moment; try again in a few minutes.".into(),
        ),
        _ => return None,
    })
}

/// A license file as a download.
fn download(license_id: &str, device: &str, file: String) -> ApiResponse {
    let safe: String = device
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let lic: String = license_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(60)
        .collect();
    let name = format!("license-{lic}-{safe}.lic");
    web::secure(
        ApiResponse::text(StatusCode::OK, "application/octet-stream", file),
        web::CSP,
    )
    .with_header(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    )
}

/// `GET /dashboard/licenses/{licenseId}/customer-view`: "see what the customer sees", for a
/// signed-in member of the license's tenant: the portal's page of the license as its owner
/// sees it, every action disabled (the page has no form token, and no portal session exists).
pub async fn customer_view(
    s: &Services,
    req: &ApiRequest,
    license_id: &str,
) -> Result<ApiResponse> {
    let me = crate::dashboard::session::require(s, req).await?;
    let caller = me.caller();
    let (tenant, license) = futures::try_join!(
        s.store.get_tenant(&me.tenant_id),
        crate::handlers::admin::licenses::get_license(s, &caller, license_id),
    )?;
    let tenant =
        tenant.ok_or_else(|| Error::Unauthorized("the account no longer exists".into()))?;
    let email = license.customer_email.clone().ok_or_else(|| {
        Error::Conflict(
            "This license has no customer email, so no buyer sees it in the portal. Set one first."
                .into(),
        )
    })?;
    let viewer = Viewer::Merchant {
        member: me.who.clone(),
        email,
    };
    license_page(s, req, &tenant, &viewer, &license, None, Extra::default()).await
}
