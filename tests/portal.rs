//! The customer portal over HTTP (no browser): its settings (API and dashboard), signing in by
//! one-time link, what a buyer sees and does, and that nobody sees anyone else's licenses.

use keyhook_shared::domain::member::Role;
use keyhook_shared::domain::one_time_link::OneTimeLink;
use keyhook_shared::http::auth::token_hash;
use keyhook_shared::portal::sign_in::{subject, PORTAL_SIGN_IN};
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::dashboard::client;
use keyhook_tests::portal::portal_set_cookie;
use keyhook_tests::{assert_refused, unique, Shop, Stack};
use serde_json::json;

#[tokio::test]
async fn portal_settings_default_on_and_change_field_by_field() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let (status, body) = stack
        .api(&t.token, "GET", "/api/portal-settings", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["freesPer30Days"], 3);
    assert_eq!(
        body["portalUrl"],
        format!("{}/portal/{}", stack.base_url, t.id)
    );

    let (status, body) = stack
        .api(
            &t.token,
            "PUT",
            "/api/portal-settings",
            Some(json!({"freesPer30Days": 1, "displayName": "Acme Apps", "accentColour": "#AA3300", "support": "help@acme.example"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = stack
        .api(
            &t.token,
            "PUT",
            "/api/portal-settings",
            Some(json!({"logoUrl": "https://acme.example/logo.png"})),
        )
        .await;
    assert_eq!(
        body["freesPer30Days"], 1,
        "absent fields keep their value: {body}"
    );
    assert_eq!(body["accentColour"], "#aa3300");
    assert_eq!(body["displayName"], "Acme Apps");
    assert_eq!(body["logoUrl"], "https://acme.example/logo.png");

    for (input, field) in [
        (json!({"freesPer30Days": 101}), "freesPer30Days"),
        (json!({"freesPer30Days": -1}), "freesPer30Days"),
        (json!({"accentColour": "red"}), "accentColour"),
        (
            json!({"logoUrl": "http://acme.example/logo.png"}),
            "logoUrl",
        ),
        (json!({"support": "call us"}), "support"),
        (json!({"colour": "#000000"}), "colour"),
    ] {
        let (status, body) = stack
            .api(&t.token, "PUT", "/api/portal-settings", Some(input.clone()))
            .await;
        assert_refused(status, &body, field);
    }

    // Another tenant's settings are its own.
    let other = stack.tenant("Other").await;
    let (_, body) = stack
        .api(&other.token, "GET", "/api/portal-settings", None)
        .await;
    assert_eq!(body["freesPer30Days"], 3);
    assert_eq!(body["displayName"], "");
}

#[tokio::test]
async fn the_dashboard_settings_page_edits_the_portal() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let d = stack.sign_in(&t, &owner).await;
    let page = d.get("/dashboard/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Customer portal"), "{}", page.body);
    // (MiniJinja escapes `/` in HTML as `&#x2f;`.)
    assert!(
        page.body.contains(&format!("portal&#x2f;{}", t.id)),
        "{}",
        page.body
    );

    let saved = d
        .post(
            "/dashboard/settings/portal",
            &[
                ("freesPer30Days", "0"),
                ("displayName", "Acme Apps"),
                ("support", ""),
                ("accentColour", ""),
                ("logoUrl", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, body) = stack
        .api(&t.token, "GET", "/api/portal-settings", None)
        .await;
    assert_eq!(body["enabled"], false, "an unchecked box turns it off");
    assert_eq!(body["freesPer30Days"], 0);
    assert_eq!(body["displayName"], "Acme Apps");

    let refused = d
        .post(
            "/dashboard/settings/portal",
            &[
                ("enabled", "on"),
                ("freesPer30Days", "3"),
                ("accentColour", "blue"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("must be a colour such as #2457c5"),
        "{}",
        refused.body
    );
    let (_, body) = stack
        .api(&t.token, "GET", "/api/portal-settings", None)
        .await;
    assert_eq!(body["enabled"], false, "a refused form changes nothing");

    let viewer = format!("{}@example.com", unique("viewer"));
    stack.member(&t, &viewer, Role::Viewer).await;
    let v = stack.sign_in(&t, &viewer).await;
    let refused = v
        .post(
            "/dashboard/settings/portal",
            &[("enabled", "on"), ("freesPer30Days", "3")],
        )
        .await;
    assert_eq!(refused.status, 403);
}

/// A license of `product` issued by hand to `email` (no email sent); (id, key).
async fn license_for(shop: &Shop, product: &str, email: &str, devices: u32) -> (String, String) {
    let (status, l) = shop
        .stack
        .api(
            &shop.tenant.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product, "customerEmail": email, "maxDevices": devices, "sendEmail": false, "livemode": false})),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    (
        l["id"].as_str().unwrap().to_string(),
        l["key"].as_str().unwrap().to_string(),
    )
}

/// Activates a device (named) on a key, as an app does.
async fn activate(shop: &Shop, key: &str, product: &str, device: &str) {
    let res = shop
        .stack
        .http
        .post(format!("{}/api/licenses/activate", shop.stack.base_url))
        .json(&json!({"licenseKey": key, "productId": product, "deviceId": device, "deviceName": format!("{device} (Mac)"), "environment": "test"}))
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["code"], "VALID", "{answer}");
}

fn buyer() -> String {
    format!("{}@example.com", unique("buyer"))
}

/// The same page and status whether or not the address owns licenses; only an owner gets a
/// link, and the link's page uses nothing up until its button is pressed.
#[tokio::test]
async fn the_same_answer_for_any_address_and_a_link_for_owners_only() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let owner = buyer();
    license_for(&shop, &product, &owner, 2).await;
    let stranger = buyer();
    let stack = &shop.stack;
    let t = &shop.tenant.id;

    let (s1, owner_page) = stack.ask_portal_link(&stack.base_url, t, &owner).await;
    let (s2, stranger_page) = stack.ask_portal_link(&stack.base_url, t, &stranger).await;
    assert_eq!((s1, s2), (200, 200));
    let visible = |page: &str, email: &str| {
        let page = page.replace(email, "ADDRESS");
        match keyhook_tests::dashboard::hidden_of(&page, "pre") {
            Some(pre) => page.replace(&pre, "PRE"),
            None => page,
        }
    };
    assert_eq!(
        visible(&owner_page, &owner),
        visible(&stranger_page, &stranger)
    );
    assert!(
        owner_page.contains("a sign-in link is on its way"),
        "{owner_page}"
    );

    let token = stack
        .portal_link_token(&owner)
        .await
        .expect("the owner gets a link");
    assert!(
        stack.portal_link_token(&stranger).await.is_none(),
        "a stranger gets nothing"
    );
    let mail = &stack.emails_to(&owner).await[0];
    assert!(mail["body"]
        .as_str()
        .unwrap()
        .contains(&format!("/portal/{t}/link?token=")));

    // Opening the link (a mail scanner, twice) uses nothing up.
    let http = client();
    for _ in 0..2 {
        let page = stack.open_portal_link(&http, t, &token).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Sign in"));
    }
    let page = stack.open_portal_link(&http, t, &token).await;
    let res = stack.use_portal_link(&http, t, &page, &token).await;
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/portal/{t}/licenses"),
        "no secret in the URL after sign-in"
    );
    let set_cookie = portal_set_cookie(&res).expect("the portal cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", &format!("Path=/portal/{t};")] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "not Secure on loopback: {set_cookie}"
    );
    assert!(!set_cookie.contains(&token));

    // Single use: the button again, and the link's page, now say it expired.
    let again = stack.use_portal_link(&http, t, &page, &token).await;
    assert_eq!(again.status().as_u16(), 400);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));
    let reopened = stack.open_portal_link(&http, t, &token).await;
    assert_eq!(reopened.status, 400);

    // The link of one tenant's portal does not open another's.
    let other = stack.tenant("Other").await;
    let (_, _) = stack.ask_portal_link(&stack.base_url, t, &owner).await;
    let token2 = stack.portal_link_token(&owner).await.unwrap();
    let elsewhere = stack.open_portal_link(&http, &other.id, &token2).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    let elsewhere = stack
        .use_portal_link(&http, &other.id, &page, &token2)
        .await;
    assert_eq!(elsewhere.status().as_u16(), 400);
}

/// A link past its 15 minutes opens nothing.
#[tokio::test]
async fn an_expired_link_signs_nobody_in() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let owner = buyer();
    license_for(&shop, &product, &owner, 2).await;
    let stack = &shop.stack;
    let t = &shop.tenant.id;
    let token = format!("khl_{}", unique("expired").replace('-', "_"));
    let past = keyhook_shared::time::now() - time::Duration::minutes(16);
    stack
        .services
        .store
        .put_one_time_link(
            &token_hash(&token),
            &OneTimeLink {
                purpose: PORTAL_SIGN_IN.purpose.into(),
                subject: subject(t, &owner),
                created_at: past - time::Duration::minutes(15),
                expires_at: past,
                ttl: (past + time::Duration::days(1)).unix_timestamp(),
            },
        )
        .await
        .unwrap();
    let http = client();
    let page = stack.open_portal_link(&http, t, &token).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("expired"), "{}", page.body);
    let res = stack.use_portal_link(&http, t, &page, &token).await;
    assert_eq!(res.status().as_u16(), 400);
    assert!(portal_set_cookie(&res).is_none());
}

/// A buyer sees their licenses of this tenant only; another buyer's license is not found,
/// another tenant's portal does not know them; the portal cookie is no dashboard session (nor
/// the reverse) and reaches no admin operation.
#[tokio::test]
async fn buyers_see_only_their_own_licenses_of_that_tenant() {
    let shop = Shop::open().await;
    let product = shop.product(json!({"name": "Pixel Studio"})).await;
    let stack = &shop.stack;
    let a = buyer();
    let b = buyer();
    let (a1, _) = license_for(&shop, &product, &a, 2).await;
    let (a2, _) = license_for(&shop, &product, &a, 2).await;
    let (b1, _) = license_for(&shop, &product, &b, 2).await;
    // A license of another tenant, to the same address.
    let other = stack.tenant("Other").await;
    let other_product = stack.product(&other, json!({"name": "Elsewhere"})).await;
    let (status, o1) = stack
        .api(
            &other.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": other_product, "customerEmail": a, "sendEmail": false})),
        )
        .await;
    assert_eq!(status, 201);
    let o1 = o1["id"].as_str().unwrap().to_string();

    let pa = stack.portal_sign_in(&shop.tenant.id, &a).await;
    let list = pa.get("/licenses").await;
    assert!(list.body.contains("Pixel Studio"));
    assert!(
        list.body.contains(&a1) && list.body.contains(&a2),
        "{}",
        list.body
    );
    assert!(!list.body.contains(&b1) && !list.body.contains(&o1));
    assert!(!list.body.contains("Elsewhere"));
    assert!(list.body.contains("Test"), "test licenses are marked");
    assert_eq!(pa.get(&format!("/licenses/{a1}")).await.status, 200);
    for foreign in [&b1, &o1, &"lic_nothing".to_string()] {
        let page = pa.get(&format!("/licenses/{foreign}")).await;
        assert_eq!(page.status, 404, "{foreign}");
        assert!(!page.body.contains(&b), "nothing of the other buyer");
        let post = pa.post(&format!("/licenses/{foreign}/key"), &[]).await;
        assert_eq!(post.status, 404);
    }

    // Another tenant's portal: the cookie is not a session there.
    let http = client();
    let there = http
        .get(format!("{}/portal/{}/licenses", stack.base_url, other.id))
        .header("cookie", &pa.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(there.status().as_u16(), 303);
    assert_eq!(
        there.headers()["location"].to_str().unwrap(),
        format!(
            "/portal/{0}?next=%2Fportal%2F{0}%2Flicenses&expired=1",
            other.id
        )
    );

    // The portal cookie's value as a dashboard session, and at the admin API.
    let value = pa.cookie.split_once('=').unwrap().1;
    let dash = http
        .get(format!("{}/dashboard", stack.base_url))
        .header("cookie", format!("kh_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(dash.status().as_u16(), 303, "not a dashboard session");
    for path in ["/api/licenses", "/api/tenant", "/api/portal-settings"] {
        let res = http
            .get(format!("{}{path}", stack.base_url))
            .header("cookie", &pa.cookie)
            .bearer_auth(value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "{path}");
    }

    // A dashboard session is not a portal session.
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&shop.tenant, &owner, Role::Owner).await;
    let d = stack.sign_in(&shop.tenant, &owner).await;
    let dvalue = d.cookie.split_once('=').unwrap().1;
    let res = http
        .get(format!(
            "{}/portal/{}/licenses",
            stack.base_url, shop.tenant.id
        ))
        .header("cookie", format!("kh_portal={dvalue}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "not a portal session");

    // The second buyer sees only theirs; a buyer without licenses sees none.
    let pb = stack.portal_sign_in(&shop.tenant.id, &b).await;
    let list = pb.get("/licenses").await;
    assert!(list.body.contains(&b1) && !list.body.contains(&a1));

    // Sign-out ends the session for good.
    let out = pa.post("/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(pa.get("/licenses").await.status, 303);
}

/// Every form needs the session's token; a cross-site post is refused.
#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 2).await;
    activate(&shop, &key, &product, "laptop-1").await;
    let p = shop.stack.portal_sign_in(&shop.tenant.id, &a).await;
    for (path, form) in [
        ("/email".to_string(), vec![("email", "new@example.com")]),
        (
            format!("/licenses/{id}"),
            vec![("action", "free"), ("deviceId", "laptop-1")],
        ),
        (format!("/licenses/{id}/key"), vec![]),
        ("/sign-out".to_string(), vec![]),
    ] {
        let refused = p.post_raw(&path, &form).await;
        assert_eq!(refused.status, 403, "{path}");
        let mut wrong = form.clone();
        wrong.push(("csrf", "not-the-token"));
        assert_eq!(p.post_raw(&path, &wrong).await.status, 403, "{path}");
    }
    let cross = p
        .http
        .post(format!(
            "{}/portal/{}/licenses/{id}/key",
            p.base_url, p.tenant_id
        ))
        .header("cookie", &p.cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", p.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    // Nothing happened: the device is still there.
    assert_eq!(
        shop.admin_license(&id).await["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The sign-in form needs its pre-session token too.
    let res = client()
        .post(format!("{}/portal/{}/sign-in", p.base_url, p.tenant_id))
        .form(&[("email", a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

/// The key is shown only on request; pages carry the portal's policy (no inline script).
#[tokio::test]
async fn the_key_is_revealed_on_request_only() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 2).await;
    let p = shop.stack.portal_sign_in(&shop.tenant.id, &a).await;
    let page = p.get(&format!("/licenses/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&key), "no key in the page's source");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!page.body.contains("<script>"), "no inline script");
    let revealed = p.post(&format!("/licenses/{id}/key"), &[]).await;
    assert_eq!(revealed.status, 200);
    assert!(revealed.body.contains(&key));
    assert!(revealed.body.contains("data-copy-from"));
}

/// Freeing a device deactivates it for the app (validate answers NOT_ACTIVATED), within the
/// merchant's self-service allowance; past it, the page says so and names the support.
#[tokio::test]
async fn a_freed_device_is_not_activated_and_the_limit_holds() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let stack = &shop.stack;
    let (status, _) = stack
        .api(
            &shop.tenant.token,
            "PUT",
            "/api/portal-settings",
            Some(json!({"freesPer30Days": 1, "support": "help@acme.example"})),
        )
        .await;
    assert_eq!(status, 200);
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 3).await;
    for d in ["laptop-1", "laptop-2", "laptop-3"] {
        activate(&shop, &key, &product, d).await;
    }
    let p = stack.portal_sign_in(&shop.tenant.id, &a).await;
    let page = p.get(&format!("/licenses/{id}")).await;
    assert!(page.body.contains("laptop-1 (Mac)"), "{}", page.body);
    assert!(
        page.body.contains("You can free 1 more device"),
        "{}",
        page.body
    );

    let freed = p
        .post(
            &format!("/licenses/{id}"),
            &[("action", "free"), ("deviceId", "laptop-1")],
        )
        .await;
    assert_eq!(freed.status, 303, "{}", freed.body);
    let answer = shop
        .check("validate", &key, &product, Some("laptop-1"))
        .await;
    assert_eq!(answer["code"], "NOT_ACTIVATED", "{answer}");
    let answer = shop
        .check("validate", &key, &product, Some("laptop-2"))
        .await;
    assert_eq!(answer["code"], "VALID");
    // Recorded on the license as the customer's (the dashboard's Activity section).
    let (_, activity) = stack
        .api(
            &shop.tenant.token,
            "GET",
            &format!("/api/licenses/{id}/activity"),
            None,
        )
        .await;
    assert_eq!(
        activity["items"][0]["action"], "device_deactivated",
        "{activity}"
    );
    assert_eq!(activity["items"][0]["actor"], "customer");
    assert_eq!(activity["items"][0]["deviceId"], "laptop-1");

    let refused = p
        .post(
            &format!("/licenses/{id}"),
            &[("action", "free"), ("deviceId", "laptop-2")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("help@acme.example"),
        "{}",
        refused.body
    );
    let answer = shop
        .check("validate", &key, &product, Some("laptop-2"))
        .await;
    assert_eq!(answer["code"], "VALID", "the limit held");
    let page = p.get(&format!("/licenses/{id}")).await;
    assert!(
        page.body.contains("the most this portal allows"),
        "{}",
        page.body
    );
}

/// A license file for an activated device downloads; the key email is queued again.
#[tokio::test]
async fn files_download_and_the_key_is_emailed_again() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 2).await;
    activate(&shop, &key, &product, "desk-1").await;
    let p = shop.stack.portal_sign_in(&shop.tenant.id, &a).await;
    let file = p
        .post(
            &format!("/licenses/{id}"),
            &[("action", "file"), ("deviceId", "desk-1")],
        )
        .await;
    assert_eq!(file.status, 200, "{}", file.body);
    assert!(file.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(
        file.body.contains("BEGIN KEYHOOK LICENSE FILE"),
        "{}",
        file.body
    );
    let not_activated = p
        .post(
            &format!("/licenses/{id}"),
            &[("action", "file"), ("deviceId", "other-9")],
        )
        .await;
    assert_eq!(not_activated.status, 409);

    let before = shop.stack.emails_to(&a).await.len();
    let sent = p
        .post(&format!("/licenses/{id}"), &[("action", "resend")])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    shop.stack.drain_mail().await;
    let mails = shop.stack.emails_to(&a).await;
    assert_eq!(mails.len(), before + 1);
    assert!(mails
        .iter()
        .any(|m| m["body"].as_str().unwrap().contains(&key)));
}

/// A merchant turns the portal off: its pages say so, no link is sent.
#[tokio::test]
async fn a_closed_portal_says_so() {
    let shop = Shop::open().await;
    let stack = &shop.stack;
    stack
        .api(
            &shop.tenant.token,
            "PUT",
            "/api/portal-settings",
            Some(json!({"enabled": false, "support": "https://acme.example/help"})),
        )
        .await;
    let page = client()
        .get(format!("{}/portal/{}", stack.base_url, shop.tenant.id))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 403);
    let body = page.text().await.unwrap();
    assert!(body.contains("does not offer a customer portal"), "{body}");
    assert!(body.contains("acme.example&#x2f;help"), "{body}");
    let missing = client()
        .get(format!("{}/portal/ten_nothing", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

/// "See what the customer sees": a member of the tenant gets the buyer's page, read-only; a
/// member of another tenant gets nothing.
#[tokio::test]
async fn a_member_sees_what_the_customer_sees_read_only() {
    let shop = Shop::open().await;
    let product = shop.product(json!({"name": "Pixel Studio"})).await;
    let stack = &shop.stack;
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 2).await;
    activate(&shop, &key, &product, "laptop-1").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&shop.tenant, &owner, Role::Viewer).await;
    let d = stack.sign_in(&shop.tenant, &owner).await;
    let license_page = d.get(&format!("/dashboard/licenses/{id}")).await;
    assert!(license_page
        .body
        .contains(&format!("/dashboard/licenses/{id}/customer-view")));
    let view = d
        .get(&format!("/dashboard/licenses/{id}/customer-view"))
        .await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(view.body.contains("Pixel Studio") && view.body.contains("laptop-1 (Mac)"));
    assert!(view.body.contains(&format!("what {a} sees")));
    assert!(!view.body.contains(&key));
    assert!(view.body.contains("Free this device"));
    assert!(
        !view.body.contains("name=\"csrf\" value=\"")
            || keyhook_tests::dashboard::csrf_of(&view.body).as_deref() == Some("")
    );
    assert_eq!(
        view.body.matches(" disabled").count(),
        view.body.matches("<button").count(),
        "every button disabled"
    );

    let other = stack.tenant("Other").await;
    let stranger = format!("{}@example.com", unique("owner"));
    stack.member(&other, &stranger, Role::Owner).await;
    let o = stack.sign_in(&other, &stranger).await;
    assert_eq!(
        o.get(&format!("/dashboard/licenses/{id}/customer-view"))
            .await
            .status,
        404
    );
    let anonymous = client()
        .get(format!(
            "{}/dashboard/licenses/{id}/customer-view",
            stack.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 303);
}

/// AWS calls per portal page view, warm (the process's clients built, the tenant key cached).
#[tokio::test]
async fn aws_calls_per_portal_page_view() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let stack = &shop.stack;
    let a = buyer();
    let (id, key) = license_for(&shop, &product, &a, 2).await;
    activate(&shop, &key, &product, "laptop-1").await;
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);
    let base = stack.serve_with(services.clone()).await;
    let mut p = stack.portal_sign_in(&shop.tenant.id, &a).await;
    p.base_url = base;
    let mut figures = Vec::new();
    for (name, path) in [
        ("sign-in page", String::new()),
        ("licenses", "/licenses".to_string()),
        ("license", format!("/licenses/{id}")),
    ] {
        p.get(&path).await; // warm
        counter.reset();
        // The license's read is signed directly (`store::signed_get`), unseen by the SDK's
        // interceptors: counted apart.
        let signed_before = services.store.signed_get_items();
        let page = p.get(&path).await;
        assert!(
            page.status == 200 || page.status == 303,
            "{name}: {}",
            page.status
        );
        let mut calls = counter.take();
        let signed = (services.store.signed_get_items() - signed_before) as usize;
        if signed > 0 {
            calls.insert("DynamoDB.GetItem (signed)".into(), signed);
        }
        let total: usize = calls.values().sum();
        println!(
            "AWS calls per portal page view, {name}: {total} {calls:?}; {} bytes",
            page.body.len()
        );
        figures.push((name, total));
    }
    for (name, total) in figures {
        assert!(total <= 4, "{name}: {total} calls");
    }
}

/// A license's page opened signed out (an app's "manage your devices" link) asks to sign in,
/// then lands on that very page; a `next` outside the tenant's licenses is ignored.
#[tokio::test]
async fn after_sign_in_the_buyer_lands_where_they_were_sent() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let a = buyer();
    let (id, _) = license_for(&shop, &product, &a, 2).await;
    let stack = &shop.stack;
    let t = &shop.tenant.id;
    let http = client();
    let res = http
        .get(format!("{}/portal/{t}/licenses/{id}", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let sign_in = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        sign_in,
        format!("/portal/{t}?next=%2Fportal%2F{t}%2Flicenses%2F{id}")
    );
    let page = http
        .get(format!("{}{sign_in}", stack.base_url))
        .send()
        .await
        .unwrap();
    let next_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kh_portal_next="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("the page to come back to is remembered");
    stack.ask_portal_link(&stack.base_url, t, &a).await;
    let token = stack.portal_link_token(&a).await.unwrap();
    let link = stack.open_portal_link(&http, t, &token).await;
    let res = http
        .post(format!("{}/portal/{t}/link", stack.base_url))
        .header("cookie", format!("{}; {next_cookie}", link.pre_cookie))
        .form(&[("pre", link.pre()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/portal/{t}/licenses/{id}")
    );

    // Somewhere else is not followed.
    for next in [
        "https://evil.example/",
        "/dashboard",
        &format!("/portal/{t}/licenses//x"),
    ] {
        let page = http
            .get(format!(
                "{}/portal/{t}?next={}",
                stack.base_url,
                urlencoding(next)
            ))
            .send()
            .await
            .unwrap();
        assert!(
            !page
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("kh_portal_next=")),
            "{next}"
        );
    }
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Address changes are limited per buyer and per new address: a session cannot flood an
/// address with confirmation emails.
#[tokio::test]
async fn address_change_requests_are_rate_limited() {
    let shop = Shop::open().await;
    let product = shop.product(json!({"name": "Pixel Studio"})).await;
    let stack = &shop.stack;
    let t = &shop.tenant.id;
    let old = buyer();
    let target = buyer();
    license_for(&shop, &product, &old, 2).await;
    let p = stack.portal_sign_in(t, &old).await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(p.post("/email", &[("email", target.as_str())]).await.status);
        }
        v
    };
    assert_eq!(statuses, vec![303, 303, 303, 429], "three per new address");
    let mut last = 0;
    for _ in 0..3 {
        last = p
            .post("/email", &[("email", buyer().as_str())])
            .await
            .status;
    }
    assert_eq!(last, 429, "five per buyer, whatever the address");
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&target).await.len(), 3);
}

/// "Change my address": nothing moves until the link sent to the new address is confirmed;
/// then the licenses are the new address's, which is signed in, and the link is used up.
#[tokio::test]
async fn a_buyer_moves_their_licenses_to_a_new_address_once_confirmed() {
    let shop = Shop::open().await;
    let product = shop.product(json!({"name": "Pixel Studio"})).await;
    let stack = &shop.stack;
    let t = &shop.tenant.id;
    let old = buyer();
    let new = buyer();
    let (id, _) = license_for(&shop, &product, &old, 2).await;
    let p = stack.portal_sign_in(t, &old).await;

    let refused = p.post("/email", &[("email", "not an address")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("new-email-error"), "{}", refused.body);
    let asked = p.post("/email", &[("email", new.as_str())]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert_eq!(
        shop.admin_license(&id).await["customerEmail"],
        old.as_str(),
        "nothing moved yet"
    );

    stack.drain_mail().await;
    let mail = stack.emails_to(&new).await;
    assert_eq!(mail.len(), 1);
    let body = mail[0]["body"].as_str().unwrap();
    let i = body
        .find("/email-change?token=")
        .expect("a confirmation link")
        + "/email-change?token=".len();
    let token: String = body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let http = client();
    let page = keyhook_tests::dashboard::public_get(
        &http,
        &format!("{}/portal/{t}/email-change?token={token}", stack.base_url),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Confirm"));
    assert_eq!(
        shop.admin_license(&id).await["customerEmail"],
        old.as_str(),
        "opening changes nothing"
    );
    let confirm = |http: reqwest::Client, pre_cookie: String, pre: String| {
        let url = format!("{}/portal/{t}/email-change", stack.base_url);
        let token = token.clone();
        async move {
            http.post(url)
                .header("cookie", pre_cookie)
                .form(&[("pre", pre.as_str()), ("token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let res = confirm(
        http.clone(),
        page.pre_cookie.clone(),
        page.pre().to_string(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/portal/{t}/licenses?notice=contact_changed")
    );
    let cookie = portal_set_cookie(&res).expect("signed in as the new address");
    assert_eq!(shop.admin_license(&id).await["customerEmail"], new.as_str());
    let list = http
        .get(format!("{}/portal/{t}/licenses", stack.base_url))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&id),
        "the new address sees the license: {list}"
    );
    // The old address's session sees nothing now; the link is used up.
    assert!(!p.get("/licenses").await.body.contains(&id));
    let again = confirm(http, page.pre_cookie.clone(), page.pre().to_string()).await;
    assert_eq!(again.status().as_u16(), 400);
}
