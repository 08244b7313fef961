//! License keys (`/dashboard/licenses`): search by email, product and status; a license's page
//! (key shown only when asked, devices, IPs, expiry, email status) with suspend, reinstate,
//! revoke (confirmed), edit, resend, freeing a device, its activity (who changed what);
//! issuing a license by hand.

use http::StatusCode;
use minijinja::context;
use serde_json::Value;

use super::form::{self, errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::web::enc;
use super::{notice, render, show, web};
use crate::domain::activity::Actor;
use crate::domain::validation::Code;
use crate::domain::LicenseStatus;
use crate::handlers::admin::licenses::{
    self as core, IssueInput, LicenseQuery, LicenseView, PatchInput, CREATE_REQUIRED,
};
use crate::handlers::admin::plans;
use crate::handlers::admin::products::{self, ProductView};
use crate::handlers::validate;
use crate::http::input::{bool_param, ListBody, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// A license as pages get it: everything but its key (shown only on request).
pub fn without_key(l: LicenseView) -> LicenseView {
    key_apart(l).0
}

/// A license's view and its key, apart: a page's license carries no key (it is shown only on
/// request).
fn key_apart(mut l: LicenseView) -> (LicenseView, String) {
    let key = std::mem::take(&mut l.key);
    (l, key)
}

/// A key's shape without the key: each character a dot, its dashes kept (a
/// `XXXXX-XXXXX-XXXXX-XXXXX` key shows as `•••••-•••••-•••••-•••••`), so the hidden key looks
/// like the one a click reveals.
pub fn key_mask(key: &str) -> String {
    key.chars()
        .map(|c| if c == '-' { '-' } else { '•' })
        .collect()
}

/// Licenses as lists show them: no key (its mask instead, `keyMask`), and their product's
/// name (`productName`), not only its id.
pub fn listed(licenses: Vec<LicenseView>, products: &[ProductView]) -> Vec<Value> {
    licenses
        .into_iter()
        .map(|l| {
            let (l, key) = key_apart(l);
            let name = products
                .iter()
                .find(|p| p.id == l.product_id)
                .map(|p| p.name.clone());
            let mut v = serde_json::to_value(l).unwrap_or_default();
            v["productName"] = name.into();
            v["keyMask"] = key_mask(&key).into();
            v
        })
        .collect()
}

/// Licenses a page of the list shows.
const PAGE: usize = 25;

/// The list's query from the page's: its filters (an email as typed, trimmed and lowercased).
fn query_of(req: &ApiRequest) -> Result<LicenseQuery> {
    let livemode = req
        .query_param("livemode")
        .map(|m| bool_param("livemode", m))
        .transpose()?;
    let status = req
        .query_param("status")
        .map(LicenseQuery::status)
        .transpose()?;
    Ok(LicenseQuery {
        page: ListQuery {
            limit: PAGE,
            cursor: req.query_param("cursor").map(str::to_string),
        },
        product_id: req.query_param("productId").map(str::to_string),
        customer_email: req
            .query_param("customerEmail")
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty()),
        status,
        livemode,
    })
}

/// `GET /dashboard/licenses?customerEmail=&productId=&status=&livemode=&cursor=`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let products = products::list_products(s, &me.caller(), ListQuery::first(200)).await?;
    let found = match query_of(req) {
        Ok(query) => core::list_licenses(s, &me.caller(), query).await,
        Err(e) => Err(e),
    };
    let (licenses, errors) = match found {
        Ok(l) => (l, None),
        Err(e @ Error::Validation { .. }) => (
            ListBody {
                items: Vec::new(),
                next_cursor: None,
            },
            errors_of(&e),
        ),
        Err(e) => return Err(e),
    };
    show(
        s,
        &me,
        "licenses.html",
        StatusCode::OK,
        context! {
            title => "License keys",
            nav => "licenses",
            notice => notice(req),
            licenses => listed(licenses.items, &products.items),
            next_cursor => licenses.next_cursor,
            products => products.items,
            filter => context! {
                customerEmail => req.query_param("customerEmail"),
                productId => req.query_param("productId"),
                status => req.query_param("status"),
                livemode => req.query_param("livemode"),
            },
            errors => errors,
        },
    )
}

async fn new_page(
    s: &Services,
    me: &Signed,
    values: minijinja::Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let c = me.caller();
    let (products, plans) = futures::try_join!(
        products::list_products(s, &c, ListQuery::first(200)),
        plans::list_plans(s, &c, ListQuery::first(200)),
    )?;
    show(
        s,
        me,
        "license_new.html",
        form_status(&errors),
        context! {
            title => "Issue a license",
            nav => "licenses",
            products => products.items.into_iter().filter(|p| !p.archived).collect::<Vec<_>>(),
            plans => plans.items,
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/licenses/new`.
pub async fn new(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    me.must_edit()?;
    new_page(
        s,
        &me,
        context! { sendEmail => "on", productId => req.query_param("productId") },
        None,
    )
    .await
}

/// A date input (`2027-01-31`) as the API's timestamp (the end of that day, UTC).
fn expiry(form: &Form, body: &mut Value) -> Result<()> {
    if form.checked("perpetual") {
        if form.get("expiresAt").is_some() {
            return Err(Error::validation(
                "expiresAt",
                "is set while “Perpetual” is ticked: clear the date, or untick Perpetual",
            ));
        }
        body["expiresAt"] = Value::Null;
    } else if let Some(d) = form.get("expiresAt") {
        let ts = format!("{d}T23:59:59Z");
        if crate::time::parse(&ts).is_none() {
            return Err(Error::validation(
                "expiresAt",
                "must be a date such as 2027-01-31",
            ));
        }
        body["expiresAt"] = Value::String(ts);
    }
    Ok(())
}

/// `POST /dashboard/licenses`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let result = async {
        let mut body = form.body(&[
            ("productId", Kind::Text),
            ("planId", Kind::Text),
            ("customerEmail", Kind::Text),
            ("customerName", Kind::Text),
            ("maxDevices", Kind::Number),
            ("maxIps", Kind::Number),
            ("sendEmail", Kind::Bool),
        ])?;
        expiry(&form, &mut body)?;
        let input: IssueInput = form::input(body, CREATE_REQUIRED)?;
        core::create_license(s, &me.caller(), input).await
    }
    .await;
    match result {
        Ok(l) => Ok(web::redirect(&format!(
            "/dashboard/licenses/{}?notice=license_issued",
            l.id
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                let values = minijinja::Value::from_serialize(form.echo(&[]));
                new_page(s, &me, values, Some(errors)).await
            }
            None => Err(e),
        },
    }
}

async fn license_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    id: &str,
    extra: minijinja::Value,
    status: StatusCode,
) -> Result<ApiResponse> {
    let c = me.caller();
    let (license, key) = key_apart(core::get_license(s, &c, id).await?);
    let product = products::get_product(s, &c, &license.product_id).await.ok();
    // The IPs admitted under maxIps and the activity live beside the license (its usage).
    let (ips, activity) = core::license_usage(s, &c, id).await?;
    // Floating seats in use (device, since, last heartbeat, expiry); lease ids stay out of
    // the page: they are what apps present.
    let seats: Vec<Value> = validate::leases::seats_in_use(s, &c.tenant_id, id)
        .await?
        .into_iter()
        .map(|l| {
            serde_json::json!({
                "deviceId": l.device_id,
                "deviceName": l.device_name,
                "since": crate::time::format(l.since),
                "heartbeatAt": crate::time::format(l.heartbeat_at),
                "expiresAt": crate::time::format(l.expires_at),
                "borrowed": l.borrowed_until.is_some(),
            })
        })
        .collect();
    // What the license used of each meter this period.
    let meters = validate::usage::meters_in_use(s, &c.tenant_id, id).await?;
    let expires_date = license.expires_at.as_deref().map(|t| t[..10].to_string());
    let activity: Vec<Value> = activity
        .items
        .into_iter()
        .map(|e| {
            let label = e.action.label();
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["label"] = label.into();
            v
        })
        .collect();
    show(
        s,
        me,
        "license.html",
        status,
        context! {
            title => "License",
            nav => "licenses",
            notice => notice(req),
            license => license,
            product => product,
            ips => ips,
            seats => seats,
            meters => meters,
            activity => activity,
            expires_date => expires_date,
            key_mask => key_mask(&key),
            key => if extra.get_attr("reveal").is_ok_and(|v| v.is_true()) { Some(key) } else { None },
            ..extra
        },
    )
}

/// `GET /dashboard/licenses/{licenseId}`.
pub async fn show_page(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    license_page(s, req, &me, id, context! {}, StatusCode::OK).await
}

/// `POST /dashboard/licenses/{licenseId}/key`: the key, on request only (never in the page's
/// source before). The script swaps the fragment in; without it, the page shows the key.
pub async fn reveal(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    if web::is_fragment(req) {
        let license = core::get_license(s, &me.caller(), id).await?;
        return Ok(web::html(
            StatusCode::OK,
            render::fragment(
                "license_key.html",
                Some(&me),
                context! { key => license.key, license_id => license.id },
            )?,
        ));
    }
    license_page(s, req, &me, id, context! { reveal => true }, StatusCode::OK).await
}

/// A change of status only.
fn status_change(status: LicenseStatus) -> PatchInput {
    PatchInput {
        status: Some(status),
        ..PatchInput::default()
    }
}

/// `POST /dashboard/licenses/{licenseId}`: `action` = `suspend`, `reinstate`, `revoke`
/// (asks for confirmation first), `save` (expiry, limits, customer), `resend`, or
/// `deactivate` (a device, `deviceId`), or `release` (the floating seat a device holds).
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let c = me.caller();
    let here = |notice: &str| {
        Ok(web::redirect(&format!(
            "/dashboard/licenses/{}?notice={notice}",
            enc(id)
        )))
    };
    match form.action() {
        "suspend" => {
            core::patch_license(s, &c, id, status_change(LicenseStatus::Suspended)).await?;
            here("license_suspended")
        }
        "reinstate" => {
            core::patch_license(s, &c, id, status_change(LicenseStatus::Active)).await?;
            here("license_reinstated")
        }
        "revoke" if form.get("confirm") == Some("yes") => {
            core::patch_license(s, &c, id, status_change(LicenseStatus::Revoked)).await?;
            here("license_revoked")
        }
        "revoke" => {
            license_page(
                s,
                req,
                &me,
                id,
                context! { confirm_revoke => true },
                StatusCode::OK,
            )
            .await
        }
        "resend" => {
            if core::get_license(s, &c, id).await?.status == LicenseStatus::Revoked {
                return Err(Error::Conflict(
                    "a revoked license no longer validates: its key is not emailed again".into(),
                ));
            }
            core::resend_license_email(s, &c, id).await?;
            here("email_queued")
        }
        "release" => {
            let device = form
                .get("deviceId")
                .ok_or_else(|| Error::validation("deviceId", "is required"))?;
            if !validate::leases::release_device(s, &c.tenant_id, id, device).await? {
                return Err(Error::Conflict(
                    "this device holds no seat any more (its lease lapsed or was released)".into(),
                ));
            }
            here("seat_released")
        }
        "deactivate" => {
            let device = form
                .get("deviceId")
                .ok_or_else(|| Error::validation("deviceId", "is required"))?;
            let license = core::get_license(s, &c, id).await?;
            // The public deactivation's rule and budget: the same a client app goes through.
            let input = validate::input::deactivation(&license.key, &license.product_id, device)?;
            let verdict =
                validate::deactivate_device(s, req.source_ip, &input, Actor::Merchant).await?;
            if !matches!(verdict.code, Code::Valid | Code::NotActivated) {
                return Err(Error::Conflict(format!(
                    "the device could not be deactivated: {}",
                    verdict.detail
                )));
            }
            here("device_freed")
        }
        _ => {
            let result = async {
                let mut body = form.body(&[
                    ("maxDevices", Kind::Number),
                    ("maxIps", Kind::Number),
                    ("customerEmail", Kind::Text),
                    ("customerName", Kind::Text),
                ])?;
                expiry(&form, &mut body)?;
                let input: PatchInput = form::input(body, &[])?;
                core::patch_license(s, &c, id, input).await
            }
            .await;
            match result {
                Ok(_) => here("license_saved"),
                Err(e) => match errors_of(&e) {
                    Some(errors) => {
                        license_page(
                            s,
                            req,
                            &me,
                            id,
                            context! { errors => errors, values => form.echo(&[]) },
                            StatusCode::UNPROCESSABLE_ENTITY,
                        )
                        .await
                    }
                    None => Err(e),
                },
            }
        }
    }
}
