//! Connect by key, end to end against the fake Stripe: a secret key alone makes the app's
//! webhook endpoint in the Stripe account (the app's URL, exactly the handled events) and
//! stores its secret sealed; the app's status follows what Stripe says (an endpoint deleted in
//! Stripe turns it Partial, Repair brings it back); a restricted key without the permission,
//! a refused key, a refused URL and Stripe out of reach each say what to do, and the manual
//! path (pasting the signing secret) still works.

use keyhook_shared::consumers::reconcile::{self, Options};
use keyhook_shared::domain::stripe_events::HANDLED;
use keyhook_tests::fake_stripe::FakeStripe;
use keyhook_tests::{checkout_event, unique, Stack, TestTenant};
use serde_json::{json, Value};

fn key(mode: &str) -> String {
    format!("{mode}_{}", unique("key").replace('-', ""))
}

/// The failing checks of an app (or diagnostics item): `(code, message)`.
fn failing(app: &Value) -> Vec<(String, String)> {
    app["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn codes(app: &Value) -> Vec<String> {
    failing(app).into_iter().map(|(c, _)| c).collect()
}

struct World {
    stripe: FakeStripe,
    stack: Stack,
    tenant: TestTenant,
}

impl World {
    async fn start() -> World {
        let stripe = FakeStripe::start().await;
        let stack = Stack::start_with_stripe(&stripe.uri()).await;
        let tenant = stack.tenant("Acme").await;
        World {
            stripe,
            stack,
            tenant,
        }
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.stack.api(&self.tenant.token, method, path, body).await
    }

    async fn app(&self, id: &str) -> Value {
        let (status, app) = self
            .api("GET", &format!("/api/stripe/apps/{id}"), None)
            .await;
        assert_eq!(status, 200, "{app}");
        app
    }

    /// Posts an event signed as Stripe signs it for endpoint `endpoint_id` to the app's URL.
    async fn stripe_sends(&self, app_id: &str, endpoint_id: &str) -> (u16, Value) {
        let secret = self
            .stripe
            .endpoint_secret(endpoint_id)
            .expect("Stripe made this endpoint");
        let product = self.stack.product(&self.tenant, json!({})).await;
        let (event, _) = checkout_event(&product, None);
        self.stack
            .post_event(&format!("/api/stripe/webhook/{app_id}"), &event, &secret)
            .await
    }
}

#[tokio::test]
async fn a_secret_key_alone_connects_the_app_and_ready_needs_a_verified_event() {
    let w = World::start().await;
    w.stripe.account_with(|a| {
        a["settings"]["dashboard"]["display_name"] = json!("Acme Software");
        a["default_currency"] = json!("eur");
    });
    let sk = key("sk_test");
    let (status, app) = w
        .api("POST", "/api/stripe/apps", Some(json!({"secretKey": sk})))
        .await;
    assert_eq!(status, 201, "{app}");
    let id = app["id"].as_str().unwrap();
    assert_eq!(
        app["name"], "Acme Software",
        "named after the Stripe account"
    );
    assert_eq!(app["defaultCurrency"], "eur", "the account's currency");
    assert_eq!(app["isLive"], false, "a test key makes a test app");
    assert_eq!(app["stripeAccountId"], "acct_1PgafTB7WZ01zgkW");
    assert_eq!(app["hasWebhookSigningSecret"], true);

    // Exactly one endpoint, at the app's own URL, with exactly the handled events.
    let endpoints = w.stripe.webhook_endpoints();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let e = &endpoints[0];
    assert_eq!(app["webhookEndpointId"], e["id"]);
    assert_eq!(e["url"], app["webhookUrl"]);
    assert_eq!(
        app["webhookUrl"],
        format!("{}/api/stripe/webhook/{id}", w.stack.base_url)
    );
    let mut events: Vec<&str> = e["enabled_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    events.sort_unstable();
    let mut handled = HANDLED.to_vec();
    handled.sort_unstable();
    assert_eq!(events, handled);
    assert!(e["description"].as_str().unwrap().contains("Keyhook"));
    assert_eq!(e["metadata"]["keyhook_app_id"], id);
    let creates: Vec<_> = w
        .stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/webhook_endpoints")
        .collect();
    assert_eq!(creates.len(), 1);
    assert!(creates[0].header("idempotency-key").is_some());

    // The secret is stored sealed, and shown nowhere.
    let whsec = w.stripe.endpoint_secret(e["id"].as_str().unwrap()).unwrap();
    let stored = w.stack.services.store.get_app(id).await.unwrap().unwrap();
    let sealed = stored.webhook_secret_sealed.unwrap();
    assert!(!sealed.contains(&whsec) && !sealed.contains(whsec.trim_start_matches("whsec_")));
    let (_, list) = w.api("GET", "/api/stripe/apps", None).await;
    for body in [&app, &list] {
        assert!(
            !body.to_string().contains(&whsec),
            "the secret is never shown"
        );
        assert!(!body.to_string().contains(&sk), "nor the key");
    }

    // Not Ready until Stripe's signature verified once.
    assert_eq!(app["status"], "partial");
    assert_eq!(codes(&app), ["verified_event"], "{app}");
    let (status, receipt) = w.stripe_sends(id, e["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{receipt}");
    let app = w.app(id).await;
    assert_eq!(app["status"], "ready", "{app}");
    assert!(app["lastVerifiedEventAt"].is_string());
    // Noted at most hourly: the next event writes nothing on the app.
    w.stripe_sends(id, e["id"].as_str().unwrap()).await;
    assert_eq!(
        w.app(id).await["lastVerifiedEventAt"],
        app["lastVerifiedEventAt"]
    );
}

#[tokio::test]
async fn reconnecting_reuses_or_replaces_the_endpoint_never_duplicates_it() {
    let w = World::start().await;
    let sk = key("sk_test");
    let (_, app) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": sk, "name": "Main"})),
        )
        .await;
    let id = app["id"].as_str().unwrap();
    let first = app["webhookEndpointId"].as_str().unwrap().to_string();

    // The same key again: the endpoint (whose secret Keyhook holds) is updated in place.
    let (status, again) = w
        .api(
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"secretKey": sk})),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["webhookEndpointId"], first.as_str());
    assert_eq!(w.stripe.webhook_endpoints().len(), 1);
    assert!(w
        .stripe
        .webhook_endpoint_calls()
        .await
        .contains(&format!("POST /v1/webhook_endpoints/{first}")));

    // One made by hand for the same URL, whose secret Keyhook never saw: a manual secret
    // pasted, then the key again: Keyhook makes its own and removes both others.
    let manual = w
        .stripe
        .add_webhook_endpoint(app["webhookUrl"].as_str().unwrap(), &["*"], false);
    let (status, _) = w
        .api(
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"webhookSigningSecret": "whsec_pastedbyhand0000"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, again) = w
        .api(
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"secretKey": sk})),
        )
        .await;
    let endpoints = w.stripe.webhook_endpoints();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let now = endpoints[0]["id"].as_str().unwrap();
    assert!(now != first && now != manual);
    assert_eq!(again["webhookEndpointId"], now);
    assert_eq!(
        again["hasPreviousWebhookSigningSecret"], true,
        "the pasted secret stays accepted while Stripe's deliveries move over"
    );

    // A second app of the same account has its own URL, so its own endpoint.
    let (_, other) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": sk, "name": "Other"})),
        )
        .await;
    assert_ne!(other["webhookUrl"], again["webhookUrl"]);
    assert_eq!(w.stripe.webhook_endpoints().len(), 2);

    // Deleting an app deletes its endpoint.
    let (status, _) = w
        .api(
            "DELETE",
            &format!("/api/stripe/apps/{}", other["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(w.stripe.webhook_endpoints().len(), 1);
}

#[tokio::test]
async fn an_endpoint_deleted_or_disabled_in_stripe_turns_the_app_partial_and_repair_fixes_it() {
    let w = World::start().await;
    let (_, app) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_test")})),
        )
        .await;
    let id = app["id"].as_str().unwrap();
    let endpoint = app["webhookEndpointId"].as_str().unwrap().to_string();
    w.stripe_sends(id, &endpoint).await;
    assert_eq!(w.app(id).await["status"], "ready");

    // Deleted behind Keyhook's back: diagnostics ask Stripe and say so; the app shows it.
    assert!(w.stripe.delete_webhook_endpoint(&endpoint));
    let (status, diag) = w.api("GET", "/api/stripe/diagnostics", None).await;
    assert_eq!(status, 200, "{diag}");
    let item = &diag["items"][0];
    assert_eq!(item["status"], "partial");
    let failed = failing(item);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "webhook_endpoint");
    assert!(failed[0].1.contains(&endpoint) && failed[0].1.contains("no longer exists"));
    let app = w.app(id).await;
    assert_eq!(
        app["status"], "partial",
        "the stored check, without asking Stripe"
    );
    assert!(app["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["code"] == "webhook_endpoint" && c["repairable"] == true));

    // Repair: a new endpoint and secret; Ready again once Stripe's event verifies with it.
    let (status, repaired) = w
        .api("POST", &format!("/api/stripe/apps/{id}/repair"), None)
        .await;
    assert_eq!(status, 200, "{repaired}");
    let fresh = repaired["webhookEndpointId"].as_str().unwrap().to_string();
    assert_ne!(fresh, endpoint);
    assert_eq!(w.stripe.webhook_endpoints().len(), 1);
    assert_eq!(codes(&repaired), ["verified_event"], "{repaired}");
    w.stripe_sends(id, &fresh).await;
    assert_eq!(w.app(id).await["status"], "ready");

    // Disabled in Stripe, and an event type dropped: the reconcile schedule notices.
    w.stripe.change_webhook_endpoint(&fresh, |e| {
        e["status"] = json!("disabled");
        e["enabled_events"] = json!(["checkout.session.completed"]);
    });
    let runs = reconcile::run(
        &w.stack.services,
        &Options {
            app_id: Some(id.to_string()),
            since: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(runs.len(), 1);
    let app = w.app(id).await;
    assert_eq!(app["status"], "partial");
    let failed = failing(&app);
    assert_eq!(
        codes(&app),
        ["endpoint_enabled", "endpoint_events"],
        "{failed:?}"
    );
    assert!(
        failed[1].1.contains("invoice.paid"),
        "names what is missing"
    );
    let (_, repaired) = w
        .api("POST", &format!("/api/stripe/apps/{id}/repair"), None)
        .await;
    assert_eq!(
        repaired["webhookEndpointId"],
        fresh.as_str(),
        "updated in place"
    );
    assert_eq!(repaired["status"], "ready", "{repaired}");
    let e = &w.stripe.webhook_endpoints()[0];
    assert_eq!(e["status"], "enabled");
    assert_eq!(e["enabled_events"].as_array().unwrap().len(), HANDLED.len());
}

#[tokio::test]
async fn a_restricted_key_without_the_webhook_permission_names_it_and_the_manual_path_works() {
    let w = World::start().await;
    let rk = key("rk_test");
    w.stripe.restrict_key(&rk);
    let (status, app) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": rk, "name": "Restricted"})),
        )
        .await;
    assert_eq!(status, 201, "saved all the same: {app}");
    assert_eq!(app["status"], "partial");
    assert_eq!(app["hasWebhookSigningSecret"], false);
    let failed = failing(&app);
    let endpoint = failed
        .iter()
        .find(|(c, _)| c == "webhook_endpoint")
        .expect("the endpoint check failed");
    assert!(
        endpoint.1.contains("\"Webhook Endpoints: Write\"") && endpoint.1.contains("Events: Read"),
        "{}",
        endpoint.1
    );
    assert!(endpoint.1.contains("signing secret"), "the manual path");
    assert!(w.stripe.webhook_endpoints().is_empty());

    // The manual path: the merchant makes the endpoint and pastes its secret.
    let id = app["id"].as_str().unwrap();
    let made = w
        .stripe
        .add_webhook_endpoint(app["webhookUrl"].as_str().unwrap(), &HANDLED, false);
    let whsec = format!("whsec_{}", unique("s").replace('-', ""));
    let (status, app) = w
        .api(
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"webhookSigningSecret": whsec})),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(codes(&app), ["verified_event"], "{app}");
    let product = w.stack.product(&w.tenant, json!({})).await;
    let (event, _) = checkout_event(&product, None);
    let (status, r) = w
        .stack
        .post_event(&format!("/api/stripe/webhook/{id}"), &event, &whsec)
        .await;
    assert_eq!((status, &r["status"]), (200, &json!("verified")), "{r}");
    assert_eq!(w.app(id).await["status"], "ready");
    // Diagnostics judge the manual app by its key and the verified event.
    let (_, diag) = w.api("GET", "/api/stripe/diagnostics", None).await;
    assert_eq!(diag["items"][0]["status"], "ready", "{diag}");
    assert!(w.stripe.webhook_endpoints().iter().any(|e| e["id"] == made));
}

#[tokio::test]
async fn a_key_stripe_refuses_is_the_keys_error_and_nothing_is_saved() {
    let w = World::start().await;
    let sk = key("sk_test");
    w.stripe.refuse_key(&sk);
    let (status, body) = w
        .api("POST", "/api/stripe/apps", Some(json!({"secretKey": sk})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "secretKey");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Stripe refused this key"));
    assert!(!body.to_string().contains(&sk));
    let (_, list) = w.api("GET", "/api/stripe/apps", None).await;
    assert_eq!(list["items"], json!([]));
    // A live key on an explicitly test app is the existing conflict, before Stripe is asked.
    let (status, body) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_live"), "isLive": false})),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("secretKey"))
    );
    // Without isLive, a live key makes a live app.
    let (status, app) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_live")})),
        )
        .await;
    assert_eq!((status, &app["isLive"]), (201, &json!(true)), "{app}");
}

#[tokio::test]
async fn a_url_stripe_refuses_saves_the_app_partial_with_the_manual_path() {
    let w = World::start().await;
    w.stripe.refuse_private_urls();
    let (status, app) = w
        .api(
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_test")})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["status"], "partial");
    let failed = failing(&app);
    let (_, message) = failed
        .iter()
        .find(|(c, _)| c == "webhook_endpoint")
        .expect("the endpoint check failed");
    assert!(
        message.contains("stripe listen --forward-to") && message.contains("Deploy"),
        "{message}"
    );
    assert!(w.stripe.webhook_endpoints().is_empty());
}

#[tokio::test]
async fn stripe_out_of_reach_is_a_clear_502_and_the_manual_path_still_saves() {
    // Stripe's API at a closed port.
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let (status, body) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_test")})),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Stripe could not be reached"),
        "{body}"
    );
    let (status, app) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"secretKey": key("sk_test"), "webhookSigningSecret": "whsec_bytheirownhand00"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(
        app["status"], "partial",
        "never Ready before Stripe was asked"
    );
    assert!(codes(&app).contains(&"secret_key".to_string()), "{app}");
}

#[tokio::test]
async fn the_dashboard_connects_by_key_and_repairs_and_rechecks_with_one_click() {
    use keyhook_shared::domain::member::Role;
    let w = World::start().await;
    w.stripe.account_with(|a| {
        a["business_profile"]["name"] = json!("Acme Business");
    });
    let owner = format!("{}@example.com", unique("owner"));
    w.stack.member(&w.tenant, &owner, Role::Owner).await;
    let d = w.stack.sign_in(&w.tenant, &owner).await;

    // The new-app form asks for the key; the rest is folded.
    let form = d.get("/dashboard/apps/new").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("id=\"f-secretKey\"") && form.body.contains("Advanced / manual setup")
    );
    let empty = d
        .post("/dashboard/apps", &[("secretKey", ""), ("mode", "auto")])
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.body.contains("id=\"f-secretKey-error\""));

    let sk = key("sk_test");
    let saved = d
        .post(
            "/dashboard/apps",
            &[
                ("secretKey", sk.as_str()),
                ("name", ""),
                ("defaultCurrency", ""),
                ("mode", "auto"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let location = saved.location.unwrap();
    let id = location
        .trim_start_matches("/dashboard/apps/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let app = w.app(&id).await;
    assert_eq!(app["name"], "Acme Business");
    assert_eq!(w.stripe.webhook_endpoints().len(), 1);
    let page = d.get(&location).await;
    assert!(page.body.contains("Stripe app saved."));
    assert!(
        page.body.contains("No event from Stripe has verified"),
        "the missing check named"
    );
    assert!(page.body.contains("value=\"recheck\""));
    assert!(
        !page.body.contains("value=\"repair\""),
        "nothing to repair yet"
    );
    assert!(!page.body.contains(&sk));

    // Deleted in Stripe: Re-check shows it, Repair fixes it.
    let endpoint = app["webhookEndpointId"].as_str().unwrap();
    w.stripe.delete_webhook_endpoint(endpoint);
    let checked = d
        .post(&format!("/dashboard/apps/{id}"), &[("action", "recheck")])
        .await;
    assert_eq!(checked.status, 303, "{}", checked.body);
    let page = d.get(checked.location.as_deref().unwrap()).await;
    assert!(
        page.body.contains("no longer exists in Stripe"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"repair\""));
    let list = d.get("/dashboard/apps").await;
    assert!(
        list.body.contains("no longer exists in Stripe"),
        "the table names it"
    );
    let repaired = d
        .post(&format!("/dashboard/apps/{id}"), &[("action", "repair")])
        .await;
    assert_eq!(repaired.status, 303, "{}", repaired.body);
    assert_eq!(w.stripe.webhook_endpoints().len(), 1);
    let page = d.get(repaired.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Webhook endpoint repaired"));
    assert!(!page.body.contains("no longer exists in Stripe"));
}
