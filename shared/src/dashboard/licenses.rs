//! License keys (`/dashboard/licenses`): search by email, product and status; a license's page
//! (key shown only when asked, devices, IPs, expiry, email status) with suspend, reinstate,
//! revoke (confirmed), edit, resend, freeing a device; issuing a license by hand.

use http::StatusCode;
use minijinja::context;
use serde_json::{json, Value};

use super::api::{enc, items, Api};
use super::form::{errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::{notice, render, show, web};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// A license as pages get it: everything but its key (shown only on request).
pub fn without_key(mut l: Value) -> Value {
    if let Some(o) = l.as_object_mut() {
        o.remove("key");
    }
    l
}

/// `GET /dashboard/licenses?customerEmail=&productId=&status=&livemode=&cursor=`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let mut query = String::from("/api/licenses?limit=25");
    for p in ["customerEmail", "productId", "status", "livemode", "cursor"] {
        if let Some(v) = req.query_param(p) {
            let v = if p == "customerEmail" {
                v.trim().to_ascii_lowercase()
            } else {
                v.to_string()
            };
            query.push_str(&format!("&{p}={}", enc(&v)));
        }
    }
    let products = api.get("/api/products?limit=200").await?;
    let (licenses, errors) = match api.get(&query).await {
        Ok(l) => (l, None),
        Err(e @ Error::Validation { .. }) => (json!({"items": []}), errors_of(&e)),
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
            licenses => items(&licenses).into_iter().map(without_key).collect::<Vec<_>>(),
            next_cursor => licenses["nextCursor"],
            products => items(&products),
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
    req: &ApiRequest,
    me: &Signed,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let products = api.get("/api/products?limit=200").await?;
    let plans = api.get("/api/plans?limit=200").await?;
    show(
        s,
        me,
        "license_new.html",
        form_status(&errors),
        context! {
            title => "Issue a license",
            nav => "licenses",
            products => items(&products).into_iter().filter(|p| p["archived"] != true).collect::<Vec<_>>(),
            plans => items(&plans),
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
        req,
        &me,
        json!({"sendEmail": "on", "productId": req.query_param("productId")}),
        None,
    )
    .await
}

/// A date input (`2027-01-31`) as the API's timestamp (the end of that day, UTC).
fn expiry(form: &Form, body: &mut Value) -> Result<()> {
    if form.checked("perpetual") {
        body["expiresAt"] = Value::Null;
    } else if let Some(d) = form.get("expiresAt") {
        let ts = format!("{d}T23:59:59Z");
        if crate::time::parse(&ts).is_none() {
            return Err(Error::validation(
                "expiresAt",
                "must be a date such as 2027-01-31",
            ));
        }
        body["expiresAt"] = json!(ts);
    }
    Ok(())
}

/// `POST /dashboard/licenses`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
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
        api.post("/api/licenses", body).await
    }
    .await;
    match result {
        Ok(l) => Ok(web::redirect(&format!(
            "/dashboard/licenses/{}?notice=license_issued",
            l["id"].as_str().unwrap_or_default()
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => new_page(s, req, &me, form.echo(&[]), Some(errors)).await,
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
    let api = Api::new(s, me, req);
    let license = api.get(&format!("/api/licenses/{}", enc(id))).await?;
    let key = license["key"].as_str().map(str::to_string);
    let license = without_key(license);
    let product = api
        .get(&format!(
            "/api/products/{}",
            enc(license["productId"].as_str().unwrap_or_default())
        ))
        .await
        .ok();
    // The IPs admitted under maxIps live beside the license (the validation routes' usage);
    // the admin read above has already checked the license is this tenant's.
    let ips = match s.store.get_license_with_usage(id).await? {
        Some((l, usage)) if l.tenant_id == me.tenant_id => usage
            .ips
            .iter()
            .map(|ip| json!({"ip": ip.ip, "admittedAt": crate::time::format(ip.admitted_at)}))
            .collect(),
        _ => Vec::new(),
    };
    let expires_date = license["expiresAt"].as_str().map(|t| t[..10].to_string());
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
            expires_date => expires_date,
            key => if extra.get_attr("reveal").is_ok_and(|v| v.is_true()) { key } else { None },
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
    let api = Api::new(s, &me, req);
    if web::is_fragment(req) {
        let license = api.get(&format!("/api/licenses/{}", enc(id))).await?;
        return Ok(web::html(
            StatusCode::OK,
            render::fragment(
                "license_key.html",
                Some(&me),
                context! { key => license["key"] },
            )?,
        ));
    }
    license_page(s, req, &me, id, context! { reveal => true }, StatusCode::OK).await
}

/// `POST /dashboard/licenses/{licenseId}`: `action` = `suspend`, `reinstate`, `revoke`
/// (asks for confirmation first), `save` (expiry, limits, customer), `resend`, or
/// `deactivate` (a device, `deviceId`).
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let path = format!("/api/licenses/{}", enc(id));
    let here = |notice: &str| {
        Ok(web::redirect(&format!(
            "/dashboard/licenses/{}?notice={notice}",
            enc(id)
        )))
    };
    match form.action() {
        "suspend" => {
            api.patch(&path, json!({"status": "suspended"})).await?;
            here("license_suspended")
        }
        "reinstate" => {
            api.patch(&path, json!({"status": "active"})).await?;
            here("license_reinstated")
        }
        "revoke" if form.get("confirm") == Some("yes") => {
            api.patch(&path, json!({"status": "revoked"})).await?;
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
            api.post(&format!("{path}/resend-email"), json!({})).await?;
            here("email_queued")
        }
        "deactivate" => {
            let device = form
                .get("deviceId")
                .ok_or_else(|| Error::validation("deviceId", "is required"))?;
            let license = api.get(&path).await?;
            // The public deactivation route, in-process: the same rule a client app uses.
            let answer = api
                .post(
                    "/api/licenses/deactivate",
                    json!({"licenseKey": license["key"], "productId": license["productId"], "deviceId": device}),
                )
                .await?;
            if answer["code"] != "VALID" && answer["code"] != "NOT_ACTIVATED" {
                return Err(Error::Conflict(format!(
                    "the device could not be deactivated: {}",
                    answer["detail"].as_str().unwrap_or_default()
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
                api.patch(&path, body).await
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
