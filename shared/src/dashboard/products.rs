//! Products and plans (`/dashboard/products`): every product field (per-currency prices as
//! rows, aliases, entitlements, license-file lifetimes), the email template editor and its
//! preview (rendered by the mailer's own code, `mail::template`), and the product's plans.

use http::{header, HeaderValue, StatusCode};
use minijinja::context;
use serde_json::{json, Value};

use super::api::{enc, items, Api};
use super::form::{errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::{notice, render, show, web};
use crate::domain::EmailTemplate;
use crate::http::{ApiRequest, ApiResponse};
use crate::mail::template::{default_template, render as render_email, TemplateValues};
use crate::{Error, Result, Services};

const PRODUCT_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("price", Kind::Text),
    ("autoEmail", Kind::Bool),
    ("defaultLicenseDays", Kind::OptionalNumber),
    ("trialDays", Kind::Number),
    ("maxDevices", Kind::Number),
    ("maxIps", Kind::Number),
    ("expirationStart", Kind::Text),
    ("renewalMode", Kind::Text),
    ("graceDays", Kind::Number),
    ("refundAction", Kind::Text),
    ("disputeAction", Kind::Text),
    ("archived", Kind::Bool),
    ("externalIds", Kind::List),
    ("listedProducts", Kind::Text),
    ("acceptTestLicenses", Kind::Bool),
    ("entitlements", Kind::List),
    ("licenseFileTtl", Kind::Number),
    ("licenseFileMaxTtl", Kind::Number),
];

/// The price rows of the form (`priceCurrency` and `priceAmount`, one pair a row) as typed;
/// rows left empty are dropped.
fn price_rows(form: &Form) -> Vec<(String, String)> {
    let currencies = form.all("priceCurrency");
    let amounts = form.all("priceAmount");
    (0..currencies.len().max(amounts.len()))
        .map(|i| {
            let cell = |v: &[&str]| v.get(i).map_or("", |c| c.trim()).to_string();
            (cell(&currencies).to_ascii_lowercase(), cell(&amounts))
        })
        .filter(|(c, a)| !(c.is_empty() && a.is_empty()))
        .collect()
}

/// The API's `prices` object from the rows. Only the form's own shape is checked here (a row
/// needs both cells, a currency once); codes and amounts are the API's to judge.
fn prices(form: &Form) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for (currency, amount) in price_rows(form) {
        if currency.is_empty() {
            return Err(Error::validation(
                "prices",
                format!("the price {amount} needs its currency code"),
            ));
        }
        let field = format!("prices.{currency}");
        if amount.is_empty() {
            return Err(Error::validation(field, "needs an amount"));
        }
        if out.insert(currency, Value::String(amount)).is_some() {
            return Err(Error::validation(field, "is listed twice; keep one row"));
        }
    }
    Ok(Value::Object(out))
}

/// The rows the form shows: `rows`, then one empty row to add a currency without the script.
fn rows_for_form(rows: Vec<(String, String)>) -> Value {
    let mut v: Vec<Value> = rows
        .into_iter()
        .map(|(c, a)| json!({"currency": c, "amount": a}))
        .collect();
    v.push(json!({"currency": "", "amount": ""}));
    Value::Array(v)
}

/// A failed form's values to show again: as typed, the price rows included.
fn echo(form: &Form) -> Value {
    let mut v = form.echo(&[]);
    v["priceRows"] = rows_for_form(price_rows(form));
    v
}

/// The sample values of the preview.
pub const SAMPLE_KEY: &str = "ABCDE-FGHJK-MNPQR-STVWX";
pub const SAMPLE_EMAIL: &str = "buyer@example.com";
pub const SAMPLE_NAME: &str = "Ada Lovelace";

/// The API body of the product form: its fields, and the template (or `null`, the default).
fn body(form: &Form) -> Result<Value> {
    let mut body = form.body(PRODUCT_FIELDS)?;
    body["prices"] = prices(form)?;
    body["emailTemplate"] = if form.checked("customTemplate") {
        json!({
            "subject": form.raw("emailTemplate.subject").unwrap_or_default().trim(),
            "html": form.raw("emailTemplate.html").unwrap_or_default().replace("\r\n", "\n"),
            "text": form.raw("emailTemplate.text").unwrap_or_default().replace("\r\n", "\n"),
        })
    } else {
        Value::Null
    };
    Ok(body)
}

/// `GET /dashboard/products`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let products = api.get("/api/products?limit=200").await?;
    show(
        s,
        &me,
        "products.html",
        StatusCode::OK,
        context! {
            title => "Products",
            nav => "products",
            notice => notice(req),
            products => items(&products),
        },
    )
}

/// The form's values from a product (checkboxes as `on`, template fields dotted).
fn product_values(p: &Value) -> Value {
    let mut v = p.clone();
    for b in ["autoEmail", "archived", "acceptTestLicenses"] {
        v[b] = if p[b] == true {
            json!("on")
        } else {
            Value::Null
        };
    }
    for list in ["externalIds", "entitlements"] {
        v[list] = json!(p[list]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"))
            .unwrap_or_default());
    }
    v["priceRows"] = rows_for_form(
        p["prices"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(c, a)| (c.clone(), a.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    );
    let t = &p["emailTemplate"];
    let default = default_template();
    v["customTemplate"] = if t.is_null() {
        Value::Null
    } else {
        json!("on")
    };
    v["emailTemplate.subject"] = t["subject"]
        .as_str()
        .map_or(json!(default.subject), |s| json!(s));
    v["emailTemplate.html"] = t["html"].as_str().map_or(json!(default.html), |s| json!(s));
    v["emailTemplate.text"] = t["text"].as_str().map_or(json!(default.text), |s| json!(s));
    v
}

async fn form_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    product: Option<Value>,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let plans = match &product {
        Some(p) => items(&api.get("/api/plans?limit=200").await?)
            .into_iter()
            .filter(|pl| pl["productId"] == p["id"])
            .collect(),
        None => Vec::new(),
    };
    show(
        s,
        me,
        "product_form.html",
        form_status(&errors),
        context! {
            title => if product.is_some() { "Edit product" } else { "New product" },
            nav => "products",
            notice => notice(req),
            product => product,
            plans => plans,
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/products/new`.
pub async fn new(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    me.must_edit()?;
    let defaults = json!({
        "price": "0", "autoEmail": true, "defaultLicenseDays": null, "trialDays": 0, "maxDevices": 0,
        "maxIps": 0, "expirationStart": "creation", "renewalMode": "new_key", "graceDays": 3,
        "refundAction": "revoke", "disputeAction": "suspend", "emailTemplate": null,
        "prices": {}, "externalIds": [], "listedProducts": "separate", "acceptTestLicenses": false,
        "entitlements": [], "licenseFileTtl": crate::domain::product::DEFAULT_FILE_TTL_SECONDS,
        "licenseFileMaxTtl": crate::domain::product::DEFAULT_FILE_MAX_TTL_SECONDS,
    });
    form_page(s, req, &me, None, product_values(&defaults), None).await
}

/// `POST /dashboard/products`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let result = match body(&form) {
        Ok(b) => api.post("/api/products", b).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(web::redirect(&format!(
            "/dashboard/products/{}?notice=product_saved",
            p["id"].as_str().unwrap_or_default()
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => form_page(s, req, &me, None, echo(&form), Some(errors)).await,
            None => Err(e),
        },
    }
}

/// `GET /dashboard/products/{productId}`.
pub async fn edit(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let product = api.get(&format!("/api/products/{}", enc(id))).await?;
    let values = product_values(&product);
    form_page(s, req, &me, Some(product), values, None).await
}

/// `POST /dashboard/products/{productId}`: `action=save` or `delete`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let path = format!("/api/products/{}", enc(id));
    if form.action() == "delete" {
        api.delete(&path).await?;
        return Ok(web::redirect("/dashboard/products?notice=product_deleted"));
    }
    let result = match body(&form) {
        Ok(b) => api.put(&path, b).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(web::redirect(&format!(
            "/dashboard/products/{}?notice=product_saved",
            enc(id)
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                let product = api.get(&path).await?;
                form_page(s, req, &me, Some(product), echo(&form), Some(errors)).await
            }
            None => Err(e),
        },
    }
}

/// `POST /dashboard/email-preview`: the product form's template rendered with sample values by
/// the mailer's own renderer (so escaping is exactly the email's), as a sandboxed document the
/// product page shows in a frame.
pub async fn preview(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (_, form) = session::post(s, req).await?;
    let template = if form.checked("customTemplate") {
        Some(EmailTemplate {
            subject: form
                .raw("emailTemplate.subject")
                .unwrap_or_default()
                .to_string(),
            html: form
                .raw("emailTemplate.html")
                .unwrap_or_default()
                .to_string(),
            text: form
                .raw("emailTemplate.text")
                .unwrap_or_default()
                .to_string(),
        })
    } else {
        None
    };
    let keys = [SAMPLE_KEY.to_string()];
    let product_name = form.get("name").unwrap_or("Your product");
    let email = render_email(
        template.as_ref(),
        &TemplateValues {
            keys: &keys,
            product_name,
            customer_email: SAMPLE_EMAIL,
            customer_name: Some(SAMPLE_NAME),
        },
    );
    let missing_key = template.as_ref().is_some_and(|t| {
        !(t.html.contains("{{ActivationKey}}") || t.text.contains("{{ActivationKey}}"))
    });
    // The rendered HTML goes in as is (it is the email), inside a sandbox without scripts.
    let body = render::fragment(
        "preview.html",
        None,
        context! {
            subject => email.subject,
            html => minijinja::Value::from_safe_string(email.html),
            text => email.text,
            missing_key => missing_key,
        },
    )?;
    Ok(web::secure(
        ApiResponse::text(StatusCode::OK, "text/html; charset=utf-8", body),
        web::PREVIEW_CSP,
    )
    .with_header(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    ))
}

/// `POST /dashboard/plans`.
pub async fn create_plan(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let body = form.body(&[
        ("productId", Kind::Text),
        ("name", Kind::Text),
        ("days", Kind::Number),
    ])?;
    let product = body["productId"].as_str().unwrap_or_default().to_string();
    api.post("/api/plans", body).await?;
    Ok(web::redirect(&format!(
        "/dashboard/products/{}?notice=plan_saved#plans",
        enc(&product)
    )))
}

/// `POST /dashboard/plans/{planId}` (`action=delete`).
pub async fn delete_plan(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let path = format!("/api/plans/{}", enc(id));
    let plan = api.get(&path).await?;
    api.delete(&path).await?;
    let product = plan["productId"]
        .as_str()
        .ok_or_else(|| Error::internal("plan without product"))?;
    Ok(web::redirect(&format!(
        "/dashboard/products/{}?notice=plan_deleted#plans",
        enc(product)
    )))
}
