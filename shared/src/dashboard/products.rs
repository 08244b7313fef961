//! Products and plans (`/dashboard/products`): every product field (per-currency prices as
//! rows, aliases, entitlements, license-file lifetimes), the email template editor and its
//! preview (rendered by the mailer's own code, `mail::template`), and the product's plans.

use http::{header, HeaderValue, StatusCode};
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use super::form::{self, form_status, set_path, Form, Kind, Refused};
use super::session::{self, Signed};
use super::web::enc;
use super::{notice, render, show, web, NextStep};
use crate::domain::{portal_links, EmailTemplate, Product};
use crate::handlers::admin::currencies::{self, CurrencyQuery};
use crate::handlers::admin::plans::{self, PlanInput};
use crate::handlers::admin::products::{self, ProductInput, ProductView};
use crate::http::input::ListQuery;
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
    ("maxConcurrent", Kind::OptionalNumber),
    ("leaseSeconds", Kind::OptionalNumber),
    ("maxBorrowSeconds", Kind::OptionalNumber),
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

/// One price row of the form.
#[derive(Debug, Serialize)]
struct PriceRow {
    currency: String,
    amount: String,
}

/// The rows the form shows: `rows`, then one empty row to add a currency without the script.
fn rows_for_form(rows: impl IntoIterator<Item = (String, String)>) -> Value {
    let mut v: Vec<PriceRow> = rows
        .into_iter()
        .map(|(currency, amount)| PriceRow { currency, amount })
        .collect();
    v.push(PriceRow {
        currency: String::new(),
        amount: String::new(),
    });
    serde_json::to_value(v).expect("price rows serialise")
}

/// A failed form's values to show again: as typed, the price rows included.
fn echo(form: &Form) -> Value {
    let mut v = form.echo(&[]);
    v["priceRows"] = rows_for_form(price_rows(form));
    v
}

/// The usage meters block: one meter a line, `name limit period [stripeMeterEvent]`, as the
/// API's `meters` list. Only the line's shape is checked here; the API judges the values.
fn meters(text: &str) -> Result<Value> {
    let mut out = Vec::new();
    for (i, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, limit, period, event) = match words[..] {
            [n, l, p] => (n, l, p, None),
            [n, l, p, e] => (n, l, p, Some(e)),
            _ => {
                return Err(Error::validation(
                    "meters",
                    format!(
                        "line {}: write name, limit, period and optionally the Stripe meter event, separated by spaces",
                        i + 1
                    ),
                ))
            }
        };
        let limit: u64 = limit.replace([',', '_'], "").parse().map_err(|_| {
            Error::validation(
                "meters",
                format!("line {}: the limit {limit} is not a whole number", i + 1),
            )
        })?;
        let mut m = serde_json::json!({"name": name, "limit": limit, "period": period});
        if let Some(e) = event {
            m["stripeMeterEvent"] = e.into();
        }
        out.push(m);
    }
    Ok(Value::Array(out))
}

/// The lines of the usage meters block for `meters`.
fn meter_lines(meters: &[crate::domain::validation::meters::Meter]) -> String {
    meters
        .iter()
        .map(|m| {
            let period = serde_json::to_value(m.period).expect("a period serialises");
            let mut line = format!("{} {} {}", m.name, m.limit, period.as_str().unwrap_or(""));
            if let Some(e) = &m.stripe_meter_event {
                line = format!("{line} {e}");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sample values of the preview.
pub const SAMPLE_KEY: &str = "ABCDE-FGHJK-MNPQR-STVWX";
pub const SAMPLE_EMAIL: &str = "buyer@example.com";
pub const SAMPLE_NAME: &str = "Ada Lovelace";

/// The API body of the product form: its fields, and the template (or `null`, the default);
/// and every field it could not read.
fn body(form: &Form) -> (Value, serde_json::Map<String, Value>) {
    let (mut body, mut errors) = form.body_and_errors(PRODUCT_FIELDS);
    match prices(form) {
        Ok(prices) => set_path(&mut body, "prices", prices),
        Err(Error::Validation {
            field: Some(field),
            message,
        }) => {
            errors.insert(field, message.into());
        }
        Err(e) => {
            errors.insert("prices".into(), e.to_string().into());
        }
    }
    if let Some(text) = form.raw("meters") {
        match meters(text) {
            Ok(list) => set_path(&mut body, "meters", list),
            Err(e) => {
                errors.insert("meters".into(), e.to_string().into());
            }
        }
    }
    if form.checked("customTemplate") {
        let field = |name: &str| form.raw(name).unwrap_or_default();
        set_path(
            &mut body,
            "emailTemplate.subject",
            field("emailTemplate.subject").trim().into(),
        );
        for part in ["emailTemplate.html", "emailTemplate.text"] {
            set_path(&mut body, part, field(part).replace("\r\n", "\n").into());
        }
    } else {
        set_path(&mut body, "emailTemplate", Value::Null);
    }
    (body, errors)
}

/// The product form as the API's product input (`required`: a create's fields), or every
/// invalid field.
fn input(form: &Form, required: &[&str]) -> std::result::Result<ProductInput, Refused> {
    form::input_all(body(form), required).map_err(|r| match r {
        Refused::Fields(fields) => Refused::Fields(
            fields
                .into_iter()
                .map(|(field, message)| meter_error(field, message))
                .collect(),
        ),
        other => other,
    })
}

/// A meter's field (`meters[1].name`) is shown on the meters block, naming its line.
fn meter_error(field: String, message: Value) -> (String, Value) {
    let Some(rest) = field.strip_prefix("meters[") else {
        return (field, message);
    };
    let line = rest
        .split(']')
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let what = field.rsplit('.').next().unwrap_or("meter");
    let text = message.as_str().unwrap_or_default();
    (
        "meters".to_string(),
        format!("line {line}: {what} {text}").into(),
    )
}

/// `GET /dashboard/products`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let products = products::list_products(s, &me.caller(), ListQuery::first(200)).await?;
    show(
        s,
        &me,
        "products.html",
        StatusCode::OK,
        context! {
            title => "Products",
            nav => "products",
            notice => notice(req),
            products => products.items,
        },
    )
}

/// The form's values from a product (checkboxes as `on`, lists a line an item, template
/// fields dotted).
fn product_values(p: &ProductView) -> Value {
    let mut v = serde_json::to_value(p).expect("a product view serialises");
    let on = |b: bool| if b { Value::from("on") } else { Value::Null };
    let default = default_template();
    let template = p.email_template.as_ref().unwrap_or(&default);
    for (field, value) in [
        ("autoEmail", on(p.auto_email)),
        ("archived", on(p.archived)),
        ("acceptTestLicenses", on(p.accept_test_licenses)),
        ("externalIds", p.external_ids.join("\n").into()),
        ("entitlements", p.entitlements.join("\n").into()),
        ("meters", meter_lines(&p.meters).into()),
        ("priceRows", rows_for_form(p.prices.clone())),
        ("customTemplate", on(p.email_template.is_some())),
        ("emailTemplate.subject", template.subject.clone().into()),
        ("emailTemplate.html", template.html.clone().into()),
        ("emailTemplate.text", template.text.clone().into()),
    ] {
        v[field] = value;
    }
    v
}

async fn form_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    product: Option<ProductView>,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    form_page_with(s, req, me, product, values, errors, None).await
}

/// The product page after its payment link section's form failed: `message` in that section.
pub(super) async fn page_with_link_error(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    id: &str,
    status: StatusCode,
    message: String,
) -> Result<ApiResponse> {
    let product = products::get_product(s, &me.caller(), id).await?;
    let values = product_values(&product);
    let mut page = form_page_with(s, req, me, Some(product), values, None, Some(message)).await?;
    page.status = status;
    Ok(page)
}

async fn form_page_with(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    product: Option<ProductView>,
    values: Value,
    errors: Option<Value>,
    link_error: Option<String>,
) -> Result<ApiResponse> {
    let plans = match &product {
        Some(p) => plans::list_plans(s, &me.caller(), ListQuery::first(200))
            .await?
            .items
            .into_iter()
            .filter(|plan| plan.product_id == p.id)
            .collect(),
        None => Vec::new(),
    };
    let payment_link = super::payment_links::section(s, me, product.as_ref(), link_error).await?;
    let currencies = currencies::list_currencies(
        s,
        &me.caller(),
        CurrencyQuery {
            page: ListQuery::first(200),
            only_active: true,
        },
    )
    .await?
    .items
    .into_iter()
    .map(|c| c.code)
    .collect::<Vec<_>>();
    // Saved: the next step of a new merchant's setup, a test purchase of this product.
    let next = match (&product, req.query_param("notice")) {
        (Some(p), Some("product_saved")) if me.role.can_edit() => Some(NextStep {
            label: "Next: make a test purchase",
            href: format!("/dashboard/test-purchase?productId={}", enc(&p.id)),
        }),
        _ => None,
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
            next => next,
            currencies => currencies,
            product => product,
            plans => plans,
            payment_link => payment_link,
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/products/new`: the form with a new product's defaults.
pub async fn new(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    me.must_edit()?;
    let defaults = ProductView::from(Product::new(
        "",
        me.tenant_id.clone(),
        "",
        crate::time::now(),
    ));
    let mut values = product_values(&defaults);
    if let Value::Object(fields) = &mut values {
        // Not the form's: a new product has none yet.
        for field in ["id", "name", "createdAt", "updatedAt"] {
            fields.remove(field);
        }
    }
    form_page(s, req, &me, None, values, None).await
}

/// `POST /dashboard/products`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let result = async {
        let input = input(&form, products::CREATE_REQUIRED)?;
        Ok::<_, Refused>(products::create_product(s, &me.caller(), input).await?)
    }
    .await;
    match result {
        Ok(p) => Ok(web::redirect(&format!(
            "/dashboard/products/{}?notice=product_saved",
            p.id
        ))),
        Err(refused) => {
            let errors = refused.errors()?;
            form_page(s, req, &me, None, echo(&form), Some(errors)).await
        }
    }
}

/// `GET /dashboard/products/{productId}`.
pub async fn edit(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let product = products::get_product(s, &me.caller(), id).await?;
    let values = product_values(&product);
    form_page(s, req, &me, Some(product), values, None).await
}

/// `POST /dashboard/products/{productId}`: `action=save` or `delete`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let c = me.caller();
    if form.action() == "delete" {
        products::delete_product(s, &c, id).await?;
        return Ok(web::redirect("/dashboard/products?notice=product_deleted"));
    }
    let result = async {
        let input = input(&form, &[])?;
        Ok::<_, Refused>(products::update_product(s, &c, id, input).await?)
    }
    .await;
    match result {
        Ok(_) => Ok(web::redirect(&format!(
            "/dashboard/products/{}?notice=product_saved",
            enc(id)
        ))),
        Err(refused) => {
            let errors = refused.errors()?;
            let product = products::get_product(s, &c, id).await?;
            form_page(s, req, &me, Some(product), echo(&form), Some(errors)).await
        }
    }
}

/// `POST /dashboard/email-preview`: the product form's template rendered with sample values by
/// the mailer's own renderer (so escaping is exactly the email's), as a sandboxed document the
/// product page shows in a frame.
pub async fn preview(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
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
    let portal_url = portal_links::portal_url(&s.config.public_base_url, &me.tenant_id);
    let email = render_email(
        template.as_ref(),
        &TemplateValues {
            keys: &keys,
            product_name,
            customer_email: SAMPLE_EMAIL,
            customer_name: Some(SAMPLE_NAME),
            portal_url: Some(&portal_url),
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
    let body = form.body(&[
        ("productId", Kind::Text),
        ("name", Kind::Text),
        ("days", Kind::Number),
    ])?;
    let input: PlanInput = form::input(body, plans::CREATE_REQUIRED)?;
    let plan = plans::create_plan(s, &me.caller(), input).await?;
    Ok(web::redirect(&format!(
        "/dashboard/products/{}?notice=plan_saved#plans",
        enc(&plan.product_id)
    )))
}

/// `POST /dashboard/plans/{planId}` (`action=delete`).
pub async fn delete_plan(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    let c = me.caller();
    let plan = plans::get_plan(s, &c, id).await?;
    plans::delete_plan(s, &c, id).await?;
    Ok(web::redirect(&format!(
        "/dashboard/products/{}?notice=plan_deleted#plans",
        enc(&plan.product_id)
    )))
}
