//! `GET /dashboard`: the setup checklist of the ExisOne guide (§10), every row computed from
//! the account's real state and linked to the page that fixes it; recent events and licenses.

use http::StatusCode;
use minijinja::context;
use serde::Serialize;

use super::{session, show};
use crate::domain::{AppStatus, EmailStatus, EventStatus};
use crate::handlers::admin::apps::{self, AppView};
use crate::handlers::admin::events::{self, EventQuery, EventView};
use crate::handlers::admin::licenses::{self, LicenseQuery};
use crate::handlers::admin::price_mappings::{self, PriceMappingQuery, PriceMappingView};
use crate::handlers::admin::products::{self, ProductView};
use crate::http::input::ListQuery;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Result, Services};

/// One checklist row.
#[derive(Debug, Serialize)]
pub struct Step {
    pub label: &'static str,
    pub where_: &'static str,
    /// `done`, `todo`, `optional` or `manual` (Keyhook cannot see it).
    pub state: &'static str,
    pub detail: String,
    pub link: String,
}

fn step(
    label: &'static str,
    where_: &'static str,
    state: &'static str,
    detail: impl Into<String>,
    link: impl Into<String>,
) -> Step {
    Step {
        label,
        where_,
        state,
        detail: detail.into(),
        link: link.into(),
    }
}

fn done(ok: bool) -> &'static str {
    if ok {
        "done"
    } else {
        "todo"
    }
}

/// The checklist from the account's apps, products, price mappings, events and licenses.
pub fn checklist(
    apps: &[AppView],
    products: &[ProductView],
    mappings: &[PriceMappingView],
    verified_events: &[EventView],
    licenses: &[(&str, EmailStatus)],
) -> Vec<Step> {
    let with_secret = apps.iter().find(|a| a.has_secret);
    let ready = apps
        .iter()
        .find(|a| a.status == AppStatus::Ready && a.active);
    // The endpoint counts once Stripe confirmed it (the app is Ready) or a verified event came
    // through it: a stored signing secret alone proves nothing.
    let endpoint_app = ready.or_else(|| {
        verified_events
            .first()
            .and_then(|e| apps.iter().find(|a| a.id == e.app_id))
    });
    let endpoint = endpoint_app.is_some() || !verified_events.is_empty();
    let live: Vec<&ProductView> = products.iter().filter(|p| !p.archived).collect();
    let auto_email = live.iter().any(|p| p.auto_email);
    let template = live.iter().any(|p| p.email_template.is_some());
    // Test purchases come from the dashboard too: only a live purchase proves the website.
    let purchase = verified_events
        .iter()
        .find(|e| e.livemode && !e.license_ids.is_empty());
    let test_purchase = verified_events
        .iter()
        .find(|e| !e.livemode && !e.license_ids.is_empty());
    let emailed = licenses
        .iter()
        .find(|(_, email)| *email == EmailStatus::Sent);
    // The merchant's newest product (RFC 3339 UTC timestamps sort as text), named.
    let newest = live.iter().max_by(|a, b| a.created_at.cmp(&b.created_at));
    let product_link = match newest {
        Some(p) => format!("/dashboard/products/{}", p.id),
        None => "/dashboard/products/new".into(),
    };
    let first_app = apps.first();
    vec![
        step(
            "Stripe API keys obtained",
            "Stripe Dashboard › Developers › API keys",
            done(with_secret.is_some()),
            match with_secret {
                Some(a) => format!("“{}” has its secret key stored.", a.name),
                None => {
                    "Copy your secret key (sk_test_… or sk_live_…) into a Stripe app.".to_string()
                }
            },
            match first_app {
                None => "/dashboard/apps/new".to_string(),
                Some(a) => format!("/dashboard/apps/{}", a.id),
            },
        ),
        step(
            "Webhook endpoint created pointing to Keyhook",
            "Stripe Dashboard › Developers › Webhooks",
            done(endpoint),
            match (ready, endpoint_app) {
                (Some(a), _) => {
                    format!("The webhook endpoint of “{}” is confirmed (Ready).", a.name)
                }
                (None, Some(a)) => format!("A verified event arrived for “{}”.", a.name),
                (None, None) if endpoint => "A verified event arrived.".to_string(),
                (None, None) => match first_app {
                    Some(a) => format!(
                        "Not confirmed yet for “{}”: see its Status, or run a test purchase.",
                        a.name
                    ),
                    None => "Add a Stripe app: Keyhook sets up its endpoint.".to_string(),
                },
            },
            match first_app {
                None => "/dashboard/apps/new".to_string(),
                Some(a) => format!("/dashboard/apps/{}", a.id),
            },
        ),
        step(
            "Stripe app registered with keys and webhook secret",
            "Keyhook › Stripe apps",
            done(ready.is_some()),
            match (ready, first_app) {
                (Some(a), _) => format!("“{}” is Ready.", a.name),
                (None, None) => "Add your Stripe app.".into(),
                (None, Some(a)) => format!("“{}” is not Ready yet: see its Status.", a.name),
            },
            "/dashboard/apps",
        ),
        step(
            "Product created",
            "Keyhook › Products",
            done(!live.is_empty()),
            match newest {
                Some(p) => format!(
                    "“{}”: use \"productId\": \"{}\" in your Stripe metadata.",
                    p.name, p.id
                ),
                None => "Create the product you sell.".into(),
            },
            product_link.clone(),
        ),
        step(
            "Product has Auto Email enabled",
            "Keyhook › Products",
            done(auto_email),
            if auto_email {
                "Keys are emailed after purchase."
            } else {
                "Check Auto Email so buyers receive their key."
            },
            product_link.clone(),
        ),
        step(
            "Email template configured",
            "Keyhook › Products › Email template",
            if template { "done" } else { "optional" },
            if template {
                "A custom template is set."
            } else {
                "Optional: the default template is used until you set one."
            },
            format!("{product_link}#template"),
        ),
        step(
            "Subscription price mappings configured (if using subscriptions)",
            "Keyhook › Stripe apps › Price mappings",
            if mappings.is_empty() {
                "optional"
            } else {
                "done"
            },
            if mappings.is_empty() {
                "Only needed when Keyhook creates subscription checkouts.".to_string()
            } else {
                format!("{} mapping(s).", mappings.len())
            },
            "/dashboard/apps#price-mappings",
        ),
        step(
            "Website integration includes productId in metadata",
            "Your website code",
            if purchase.is_some() { "done" } else { "manual" },
            if purchase.is_some() {
                "A live purchase named its product."
            } else {
                "Put \"productId\" in the Checkout Session's metadata (see the product's page); a live purchase checks it off."
            },
            product_link,
        ),
        step(
            "Test purchase completed successfully",
            "Keyhook › Test purchase",
            done(test_purchase.is_some()),
            if test_purchase.is_some() {
                "A test-mode purchase issued licenses."
            } else {
                "Run a test purchase: it goes through the real webhook."
            },
            "/dashboard/test-purchase",
        ),
        step(
            "Webhook received and verified in Keyhook",
            "Keyhook › Stripe events",
            done(!verified_events.is_empty()),
            match verified_events.first() {
                Some(e) => format!("Last verified: {}", e.event_type),
                None => "No verified event yet.".into(),
            },
            match verified_events.first() {
                Some(e) => format!("/dashboard/events/{}", e.event_id),
                None => "/dashboard/apps#events".into(),
            },
        ),
        step(
            "License key generated and emailed",
            "Keyhook › License keys",
            done(emailed.is_some()),
            if emailed.is_some() {
                "A license email was sent."
            } else if licenses.is_empty() {
                "No license yet."
            } else {
                "Licenses exist; none emailed yet."
            },
            match emailed {
                Some((id, _)) => format!("/dashboard/licenses/{id}"),
                None => "/dashboard/licenses".into(),
            },
        ),
    ]
}

pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let c = me.caller();
    let first = ListQuery::first;
    let (apps, products, mappings, verified, recent_events, licenses) = futures::try_join!(
        apps::list_apps(s, &c, first(200)),
        products::list_products(s, &c, first(200)),
        price_mappings::list_price_mappings(
            s,
            &c,
            PriceMappingQuery {
                page: first(200),
                ..Default::default()
            }
        ),
        events::list_events(
            s,
            &c,
            EventQuery {
                page: first(20),
                status: Some(EventStatus::Verified),
                ..Default::default()
            }
        ),
        events::list_events(
            s,
            &c,
            EventQuery {
                page: first(5),
                ..Default::default()
            }
        ),
        licenses::list_licenses(
            s,
            &c,
            LicenseQuery {
                page: first(20),
                ..Default::default()
            }
        ),
    )?;
    let emails: Vec<(&str, EmailStatus)> = licenses
        .items
        .iter()
        .map(|l| (l.id.as_str(), l.email_status))
        .collect();
    let no_apps = apps.items.is_empty();
    let steps = checklist(
        &apps.items,
        &products.items,
        &mappings.items,
        &verified.items,
        &emails,
    );
    let remaining = steps.iter().filter(|s| s.state == "todo").count();
    show(
        s,
        &me,
        "overview.html",
        StatusCode::OK,
        context! {
            title => "Overview",
            nav => "overview",
            apps => !no_apps,
            steps => steps,
            remaining => remaining,
            events => recent_events.items,
            licenses => super::licenses::listed(licenses.items.into_iter().take(5).collect(), &products.items),
            products => products.items,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailTemplate, EventSource, Product};

    fn states(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.state).collect()
    }

    fn app(status: AppStatus, has_secret: bool, has_webhook_signing_secret: bool) -> AppView {
        AppView {
            id: "app_1".into(),
            name: "A".into(),
            publishable_key: None,
            default_currency: "usd".into(),
            is_live: false,
            active: true,
            is_default: false,
            connect: Default::default(),
            status,
            checks: Vec::new(),
            checked_at: None,
            last_verified_event_at: None,
            stripe_account_id: None,
            webhook_endpoint_id: None,
            has_secret,
            has_webhook_signing_secret,
            has_previous_webhook_signing_secret: false,
            webhook_url: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn the_checklist_follows_the_account() {
        let empty = checklist(&[], &[], &[], &[], &[]);
        assert_eq!(empty.len(), 11);
        assert_eq!(
            states(&empty),
            [
                "todo", "todo", "todo", "todo", "todo", "optional", "optional", "manual", "todo",
                "todo", "todo"
            ]
        );
        assert_eq!(empty[0].link, "/dashboard/apps/new");

        // A signing secret stored is not an endpoint confirmed.
        let partial = app(AppStatus::Partial, true, true);
        let steps = checklist(&[partial], &[], &[], &[], &[]);
        assert_eq!(states(&steps)[..3], ["done", "todo", "todo"]);
        assert!(steps[1].detail.contains("“A”"), "{}", steps[1].detail);

        let ready = app(AppStatus::Ready, true, true);
        let mut product = ProductView::from(Product::new("42", "ten_1", "P", crate::time::now()));
        product.email_template = Some(EmailTemplate {
            subject: "s".into(),
            html: String::new(),
            text: String::new(),
        });
        let test_event = EventView {
            event_id: "evt_1".into(),
            app_id: "app_1".into(),
            event_type: "checkout.session.completed".into(),
            status: EventStatus::Verified,
            error: None,
            livemode: false,
            api_version: None,
            received_at: String::new(),
            license_ids: vec!["lic_1".into()],
            purchase_ref: None,
            source: EventSource::Webhook,
        };
        // A verified event proves the endpoint even before the app shows Ready.
        let partial = app(AppStatus::Partial, true, true);
        let steps = checklist(&[partial], &[], &[], std::slice::from_ref(&test_event), &[]);
        assert_eq!(steps[1].state, "done");
        assert!(steps[1].detail.contains("“A”"), "{}", steps[1].detail);
        let license = ("lic_1", EmailStatus::Sent);
        let steps = checklist(&[ready], &[product], &[], &[test_event], &[license]);
        assert_eq!(
            states(&steps),
            [
                "done", "done", "done", "done", "done", "done", "optional", "manual", "done",
                "done", "done"
            ]
        );
        assert!(steps[3].detail.contains("\"productId\": \"42\""));
        assert!(steps[3].detail.contains("“P”"), "{}", steps[3].detail);
        assert_eq!(steps[2].detail, "“A” is Ready.");
        assert_eq!(steps[9].link, "/dashboard/events/evt_1");
    }
}
