//! The typed cores the customer portal's pages call, against the AWS emulator and the fake
//! Stripe: "Manage billing" (a Stripe Billing Portal session for the license's customer,
//! created with the issuing app's key) and the buyer's change of contact address (confirmed
//! once, from the new address, for one merchant only).

use keyhook_shared::domain::activity::{Actor, Origin};
use keyhook_shared::domain::contact_change::ContactChange;
use keyhook_shared::domain::License;
use keyhook_shared::http::auth::token_hash;
use keyhook_shared::services::billing_portal::{self, BillingPortalError};
use keyhook_shared::services::contact_change::{self, ContactChangeError};
use keyhook_shared::Error;
use keyhook_tests::fake_stripe::SESSION_FIXTURE;
use keyhook_tests::{checkout_event, unique, Shop, Stack, TestApp, World, WEBHOOK};
use serde_json::{json, Value};
use time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// Issues one license of `product` through `app`'s signed checkout event (to the app's own
/// webhook URL); its id.
async fn issue(stack: &Stack, app: &TestApp, product: &str) -> String {
    let (event, _) = checkout_event(product, None);
    let (status, receipt) = stack
        .post_event(
            &format!("{WEBHOOK}/{}", app.id),
            &event,
            &app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    receipt["licenseIds"][0].as_str().unwrap().to_string()
}

async fn license(stack: &Stack, tenant_id: &str, id: &str) -> License {
    stack
        .services
        .store
        .get_tenant_license(tenant_id, id)
        .await
        .unwrap()
        .expect("the license exists")
}

/// A Checkout Session as Stripe answers `GET /v1/checkout/sessions/{id}`, for `customer`.
fn session_of(id: &str, customer: Value) -> Value {
    let mut session: Value = serde_json::from_str(SESSION_FIXTURE).unwrap();
    session["id"] = json!(id);
    session["customer"] = customer;
    session
}

#[tokio::test]
async fn manage_billing_opens_stripes_portal_for_the_licenses_customer_with_the_apps_key() {
    let world = World::open().await;
    let product = world.product(json!({})).await;
    let (id, _) = world.license_with_id(&product).await;
    let lic = license(&world.stack, &world.tenant.id, &id).await;
    let cs = lic
        .source
        .checkout_session_id
        .clone()
        .expect("a checkout license");
    world
        .stripe
        .object(
            &format!("checkout/sessions/{cs}"),
            session_of(&cs, json!("cus_Buyer1")),
        )
        .await;

    let session = billing_portal::create_session(&world.stack.services, &lic)
        .await
        .expect("a session");

    let back = format!(
        "{}/portal/{}/licenses/{id}",
        world.stack.base_url.trim_end_matches('/'),
        world.tenant.id
    );
    assert!(session.id.starts_with("bps_"), "{session:?}");
    assert!(
        session.url.starts_with("https://billing.stripe.com/"),
        "{session:?}"
    );
    assert_eq!(session.return_url, back);
    let requests = world.stripe.billing_portal_requests().await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        r.form.get("customer").map(String::as_str),
        Some("cus_Buyer1")
    );
    assert_eq!(r.form.get("return_url"), Some(&back));
    assert_eq!(r.form.len(), 2, "{:?}", r.form);
    let bearer = format!("Bearer {}", world.app.secret_key);
    assert_eq!(r.header("authorization"), Some(bearer.as_str()));
    assert!(r
        .header("idempotency-key")
        .is_some_and(|k| k.starts_with("keyhook-billing-portal-")));
    // The customer was read with the same key.
    let reads: Vec<_> = world
        .stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == format!("/v1/checkout/sessions/{cs}"))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].header("authorization"), Some(bearer.as_str()));
}

#[tokio::test]
async fn manage_billing_without_a_stripe_customer_or_with_stripe_down_says_so() {
    let world = World::open().await;
    let product = world.product(json!({})).await;
    let (id, _) = world.license_with_id(&product).await;
    let lic = license(&world.stack, &world.tenant.id, &id).await;
    let s = &world.stack.services;

    // Issued by hand or imported: no Stripe source at all, and Stripe is not asked.
    let mut manual = lic.clone();
    manual.source = Default::default();
    let e = billing_portal::create_session(s, &manual)
        .await
        .unwrap_err();
    assert!(matches!(e, BillingPortalError::NoStripeCustomer), "{e:?}");
    let e: Error = e.into();
    assert_eq!((e.status().as_u16(), e.code()), (409, "no_stripe_customer"));
    assert!(world.stripe.requests().await.is_empty());

    // A guest checkout: Stripe made no customer.
    let cs = lic.source.checkout_session_id.clone().unwrap();
    world
        .stripe
        .object(
            &format!("checkout/sessions/{cs}"),
            session_of(&cs, Value::Null),
        )
        .await;
    let e = billing_portal::create_session(s, &lic).await.unwrap_err();
    assert!(matches!(e, BillingPortalError::NoStripeCustomer), "{e:?}");
    assert!(world.stripe.billing_portal_requests().await.is_empty());

    // Stripe down (after the client's retries): a clear message, 502, no session.
    world.stripe.server.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{cs}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_of(&cs, json!("cus_B2"))))
        .mount(&world.stripe.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": {
            "type": "api_error", "message": "Stripe is having trouble"}})))
        .mount(&world.stripe.server)
        .await;
    let e = billing_portal::create_session(s, &lic).await.unwrap_err();
    assert!(
        matches!(e, BillingPortalError::StripeUnavailable(_)),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "Stripe is unavailable; try again in a few minutes"
    );
    let e: Error = e.into();
    assert_eq!(e.status().as_u16(), 502);
    let posts = world.stripe.billing_portal_requests().await;
    assert_eq!(posts.len(), 3, "retried");
    let keys: Vec<_> = posts.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key for every attempt"
    );
}

/// The emailed confirmation link's token, from the one email sent to `to`.
async fn emailed_token(stack: &Stack, to: &str) -> String {
    stack.drain_mail().await;
    let mails = stack.emails_to(to).await;
    assert_eq!(mails.len(), 1, "one email to the new address");
    let body = mails[0]["body"].as_str().unwrap();
    assert!(body.contains("/portal/"), "{body}");
    let i = body.find("email-change?token=").unwrap() + "email-change?token=".len();
    body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn email_of(stack: &Stack, tenant_id: &str, id: &str) -> Option<String> {
    license(stack, tenant_id, id).await.customer_email
}

#[tokio::test]
async fn a_confirmed_contact_change_moves_the_buyers_licenses_with_that_merchant_once() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let s = &stack.services;
    let product = stack.product(&tenant, json!({})).await;
    let old = format!("{}@example.com", unique("ada"));
    let new = format!("{}@example.com", unique("ada-new"));
    // Two licenses of the buyer (one written with other capitals), one of another buyer.
    let mine = [
        issue(&stack, &app, &product).await,
        issue(&stack, &app, &product).await,
    ];
    for (id, address) in mine.iter().zip([old.clone(), old.to_uppercase()]) {
        s.store
            .set_license_contact(
                &tenant.id,
                id,
                Some(Some(address)),
                None,
                &Origin::new(Actor::Merchant, None),
            )
            .await
            .unwrap()
            .unwrap();
    }
    let someone_else = issue(&stack, &app, &product).await;
    let their_address = email_of(&stack, &tenant.id, &someone_else).await;
    // Another merchant's license of the same address.
    let other = stack.tenant("Beta").await;
    let other_app = stack.app(&other).await;
    let other_product = stack.product(&other, json!({})).await;
    let elsewhere = issue(&stack, &other_app, &other_product).await;
    s.store
        .set_license_contact(
            &other.id,
            &elsewhere,
            Some(Some(old.clone())),
            None,
            &Origin::new(Actor::Merchant, None),
        )
        .await
        .unwrap()
        .unwrap();

    contact_change::request(s, &tenant.id, &old, &new)
        .await
        .unwrap();
    assert_eq!(stack.emails_to(&old).await.len(), 0);
    let token = emailed_token(&stack, &new).await;
    assert!(token.starts_with("khc_"), "{token}");
    // Nothing changes before the confirmation.
    assert_eq!(
        email_of(&stack, &tenant.id, &mine[0]).await,
        Some(old.clone())
    );

    // Another merchant's confirmation page does not take the link (nor burn it).
    let e = contact_change::confirm(s, &other.id, &token, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ContactChangeError::LinkUnusable), "{e:?}");

    let done = contact_change::confirm(s, &tenant.id, &token, None)
        .await
        .unwrap();
    let mut moved = done.license_ids.clone();
    moved.sort();
    let mut expected = mine.to_vec();
    expected.sort();
    assert_eq!(moved, expected);
    assert_eq!(
        (done.from_email.as_str(), done.to_email.as_str()),
        (old.as_str(), new.as_str())
    );
    for id in &mine {
        assert_eq!(email_of(&stack, &tenant.id, id).await, Some(new.clone()));
    }
    assert_eq!(
        email_of(&stack, &tenant.id, &someone_else).await,
        their_address
    );
    assert_eq!(
        email_of(&stack, &other.id, &elsewhere).await,
        Some(old.clone())
    );

    // Once only.
    let e = contact_change::confirm(s, &tenant.id, &token, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ContactChangeError::LinkUnusable), "{e:?}");
    let e: Error = e.into();
    assert_eq!((e.status().as_u16(), e.code()), (400, "link_unusable"));
}

#[tokio::test]
async fn a_contact_change_refuses_expired_links_and_bad_addresses() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let s = &stack.services;
    let product = stack.product(&tenant, json!({})).await;
    let id = issue(&stack, &app, &product).await;
    let old = email_of(&stack, &tenant.id, &id).await.unwrap();
    stack.drain_mail().await;

    // An expired link (stored as the mailer stores one, a day old): refused, nothing moves.
    let token = "khc_expiredexpiredexpiredexpired01";
    let mut change = ContactChange::new(
        "ccr_expired".into(),
        &tenant.id,
        &old,
        "new@example.com",
        keyhook_shared::time::now() - Duration::days(1) - Duration::minutes(1),
    );
    change.sent_at = Some(change.created_at);
    s.store
        .put_contact_change_link(&token_hash(token), &change)
        .await
        .unwrap();
    let e = contact_change::confirm(s, &tenant.id, token, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ContactChangeError::LinkExpired), "{e:?}");
    assert_eq!(email_of(&stack, &tenant.id, &id).await, Some(old.clone()));

    for (to, code) in [
        ("not an address", "validation_failed"),
        (old.as_str(), "same_address"),
    ] {
        let e = contact_change::request(s, &tenant.id, &old, to)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{to}");
    }
    let e = contact_change::confirm(s, &tenant.id, "khl_not-a-contact-link", None)
        .await
        .unwrap_err();
    assert!(matches!(e, ContactChangeError::LinkUnusable), "{e:?}");
    assert_eq!(stack.queued_mail().await, 0);
}
