//! Selling without code, in the dashboard: the product page's "Payment link" section (its
//! button calls the same operation as `POST /api/products/{productId}/payment-link`, and the
//! link's URL shows with a copy button), and the price picker of the apps page's price mapping
//! form (the account's recurring prices, listed from Stripe as
//! `GET /api/stripe/apps/{appId}/prices` lists them; a text field, saying why, when they
//! cannot be listed).

use minijinja::context;
use serde::Serialize;

use super::form::Kind;
use super::session::{self, Signed};
use super::web::{self, enc};
use crate::domain::checkout::amount;
use crate::domain::currency::decimals_of;
use crate::handlers::admin::apps::AppView;
use crate::handlers::admin::payment_links::{self, PaymentLinkInput, StripePriceView};
use crate::handlers::admin::products::ProductView;
use crate::http::auth::Caller;
use crate::http::{ApiRequest, ApiResponse};
use crate::stripe::catalog::PriceType;
use crate::{Result, Services};

/// "29.99 USD", from minor units.
fn money(unit_amount: Option<i64>, currency: &str) -> String {
    match unit_amount {
        Some(minor) => format!(
            "{} {}",
            amount::decimal(minor, decimals_of(currency)),
            currency.to_ascii_uppercase()
        ),
        None => format!("tiered, {}", currency.to_ascii_uppercase()),
    }
}

/// One link as the product page shows it.
#[derive(Debug, Serialize)]
struct LinkRow {
    url: String,
    app_name: String,
    livemode: bool,
    what: String,
}

/// An app a link can be made through.
#[derive(Debug, Serialize)]
struct AppChoice {
    id: String,
    name: String,
    live: bool,
    selected: bool,
}

/// The product page's section: the product's links, and the apps a new one can go through
/// (active, with a secret key; the default test app first chosen). `error`: why the last
/// request failed, in the page's words.
pub async fn section(
    s: &Services,
    me: &Signed,
    product: Option<&ProductView>,
    error: Option<String>,
) -> Result<minijinja::Value> {
    let Some(product) = product else {
        return Ok(minijinja::Value::UNDEFINED);
    };
    let apps = s.store.all_tenant_apps(&me.tenant_id).await?;
    let name_of = |id: &str| {
        apps.iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    let links: Vec<LinkRow> = product
        .payment_links
        .iter()
        .map(|l| LinkRow {
            url: l.url.clone(),
            app_name: name_of(&l.app_id),
            livemode: l.livemode,
            what: format!(
                "{}, {}",
                if l.mode == "subscription" {
                    "subscription"
                } else {
                    "one-time"
                },
                money(l.unit_amount, &l.currency)
            ),
        })
        .collect();
    let default_test = apps
        .iter()
        .find(|a| a.is_default && !a.is_live && a.active)
        .map(|a| a.id.clone());
    let mut choices: Vec<AppChoice> = apps
        .iter()
        .filter(|a| a.active && a.secret_key_sealed.is_some())
        .map(|a| AppChoice {
            id: a.id.clone(),
            name: a.name.clone(),
            live: a.is_live,
            selected: Some(&a.id) == default_test.as_ref(),
        })
        .collect();
    if !choices.iter().any(|c| c.selected) {
        if let Some(first) = choices.first_mut() {
            first.selected = true;
        }
    }
    Ok(context! {
        links => links,
        apps => choices,
        error => error,
        archived => product.archived,
    })
}

/// `POST /dashboard/products/{productId}/payment-link`: makes (or returns) the link through
/// the chosen app; `replace` makes a new one. Back to the product page, its section showing
/// the URL, or the error.
pub async fn create(s: &Services, req: &ApiRequest, product_id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let body = form.body(&[("appId", Kind::Text), ("replace", Kind::Bool)])?;
    let input: PaymentLinkInput = super::form::input(body, &[])?;
    match payment_links::create_payment_link(s, &me.caller(), product_id, input).await {
        Ok(_) => Ok(web::redirect(&format!(
            "/dashboard/products/{}?notice=payment_link_made#payment-link",
            enc(product_id)
        ))),
        // A product that does not exist is the page's 404, as for its other posts.
        Err(e @ crate::Error::NotFound(_)) => Err(e),
        Err(e) => {
            let message = if e.status().is_server_error() {
                "Stripe could not be reached, or refused the app's secret key. Try again: a retry makes the same link, never a second one.".to_string()
            } else {
                e.body().error.message
            };
            super::products::page_with_link_error(s, req, &me, product_id, e.status(), message)
                .await
        }
    }
}

/// Longest the apps page waits for the price list.
const PICKER_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// One price of the picker.
#[derive(Debug, Serialize)]
struct PriceOption {
    id: String,
    label: String,
}

fn label(p: &StripePriceView) -> String {
    let every = match (p.interval.as_deref(), p.interval_count.unwrap_or(1)) {
        (Some(i), 1) => format!(" / {i}"),
        (Some(i), n) => format!(" every {n} {i}s"),
        (None, _) => String::new(),
    };
    let name = match (&p.product_name, &p.nickname) {
        (Some(n), Some(nick)) => format!("{n} · {nick}"),
        (Some(n), None) => n.clone(),
        (None, Some(nick)) => nick.clone(),
        (None, None) => "(no product name)".into(),
    };
    format!(
        "{name} — {}{every} ({})",
        money(p.unit_amount, &p.currency),
        p.id
    )
}

/// The price picker of the mapping form: the recurring prices of one app's Stripe account
/// (`chosen`, else the default test app with a key, else the first with a key), or why there
/// are none to pick from.
pub async fn price_picker(
    s: &Services,
    c: &Caller,
    apps: &[AppView],
    chosen: Option<&str>,
) -> minijinja::Value {
    let app = chosen
        .and_then(|id| apps.iter().find(|a| a.id == id))
        .or_else(|| {
            apps.iter()
                .find(|a| a.has_secret && a.is_default && !a.is_live)
        })
        .or_else(|| apps.iter().find(|a| a.has_secret))
        .or_else(|| apps.first());
    let Some(app) = app else {
        return minijinja::Value::UNDEFINED;
    };
    let others: Vec<minijinja::Value> = apps
        .iter()
        .filter(|a| a.id != app.id)
        .map(|a| context! { id => a.id, name => a.name, live => a.is_live })
        .collect();
    let (prices, why) = if !app.has_secret {
        (
            Vec::new(),
            Some(format!(
                "Stripe app \"{}\" has no secret key, so Keyhook cannot list its prices: paste the price ID (price_…) from Stripe, or add the key.",
                app.name
            )),
        )
    } else {
        // A page waits for Stripe a few seconds at most (the client alone may retry for 30).
        let listed = tokio::time::timeout(
            PICKER_WAIT,
            payment_links::list_prices(s, c, &app.id, PriceType::Recurring),
        )
        .await
        .unwrap_or_else(|_| {
            Err(crate::Error::Upstream {
                service: "stripe",
                detail: "the price list took too long".into(),
            })
        });
        match listed {
            Ok(list) if list.items.is_empty() => (
                Vec::new(),
                Some(format!(
                    "Stripe app \"{}\" has no active recurring price: create one in Stripe (Product catalog), or paste its ID.",
                    app.name
                )),
            ),
            Ok(list) => (
                list.items
                    .iter()
                    .map(|p| PriceOption {
                        id: p.id.clone(),
                        label: label(p),
                    })
                    .collect(),
                None,
            ),
            Err(e) => (
                Vec::new(),
                Some(if e.status().is_server_error() {
                    "Stripe did not answer in time, could not be reached, or refused the app's secret key, so its prices cannot be listed: paste the price ID (price_…) instead.".to_string()
                } else {
                    format!(
                        "Keyhook could not list the prices ({}): paste the price ID (price_…) instead.",
                        e.body().error.message.trim_end_matches('.')
                    )
                }),
            ),
        }
    };
    context! {
        app => context! { id => app.id, name => app.name, live => app.is_live },
        others => others,
        prices => prices,
        why => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_a_merchant_names_them() {
        let p = StripePriceView {
            id: "price_1".into(),
            product_id: Some("prod_1".into()),
            product_name: Some("Pro".into()),
            nickname: None,
            unit_amount: Some(900),
            currency: "usd".into(),
            interval: Some("month".into()),
            interval_count: Some(1),
        };
        assert_eq!(label(&p), "Pro — 9.00 USD / month (price_1)");
        let q = StripePriceView {
            interval_count: Some(3),
            unit_amount: Some(1200),
            currency: "jpy".into(),
            nickname: Some("Quarterly".into()),
            ..p
        };
        assert_eq!(
            label(&q),
            "Pro · Quarterly — 1200 JPY every 3 months (price_1)"
        );
    }
}
