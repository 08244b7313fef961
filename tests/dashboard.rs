//! The dashboard over HTTP (no browser): every page renders for a real account, stays light,
//! carries its security headers and never shows a license key unasked; sign-in links work once;
//! viewers change nothing; forms without the session's CSRF token, or posted from another
//! site, are refused; AWS calls per page view are counted.

use std::collections::BTreeMap;

use keyhook_shared::app::routes::{Op, ROUTES};
use keyhook_shared::domain::member::Role;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::dashboard::Dashboard;
use keyhook_tests::{checkout_event, unique, Stack, TestTenant};
use serde_json::{json, Value};

/// A tenant with one of everything, and its owner signed in.
async fn account(stack: &Stack) -> (TestTenant, Dashboard, BTreeMap<&'static str, String>) {
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let app = stack.app(&t).await;
    let product = stack
        .product(
            &t,
            json!({"emailTemplate": {"subject": "Key", "html": "<p>{{ActivationKey}}</p>", "text": "{{ActivationKey}}"}}),
        )
        .await;
    let (event, _) = checkout_event(&product, Some(1));
    let (status, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    stack.drain_mail().await;
    let (_, plan) = stack
        .api(
            &t.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": product, "name": "Annual", "days": 365})),
        )
        .await;
    let (_, mapping) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/price-mappings",
            Some(
                json!({"appId": app.id, "productId": product, "stripePriceId": "price_123456789"}),
            ),
        )
        .await;
    let (_, token) = stack
        .api(
            &t.token,
            "POST",
            "/api/tokens",
            Some(json!({"name": "second"})),
        )
        .await;
    let (_, key) = stack.api(&t.token, "POST", "/api/tenant-keys", None).await;
    let (_, endpoint) = stack
        .api(
            &t.token,
            "POST",
            "/api/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/keyhook", "eventTypes": ["*"]})),
        )
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let (_, delivery) = stack
        .api(
            &t.token,
            "POST",
            &format!("/api/webhook-endpoints/{endpoint_id}/test"),
            None,
        )
        .await;
    let (_, signing) = stack.api(&t.token, "POST", "/api/signing-keys", None).await;
    let d = stack.sign_in(&t, &owner).await;
    let ids = BTreeMap::from([
        ("appId", app.id.clone()),
        ("productId", product.clone()),
        (
            "licenseId",
            receipt["licenseIds"][0].as_str().unwrap().to_string(),
        ),
        ("eventId", event["id"].as_str().unwrap().to_string()),
        ("planId", plan["id"].as_str().unwrap().to_string()),
        ("id", mapping["id"].as_str().unwrap().to_string()),
        ("tokenId", token["id"].as_str().unwrap().to_string()),
        ("keyId", key["id"].as_str().unwrap().to_string()),
        ("endpointId", endpoint_id),
        ("deliveryId", delivery["id"].as_str().unwrap().to_string()),
        ("kid", signing["kid"].as_str().unwrap().to_string()),
        ("code", "usd".to_string()),
        ("asset", "dashboard.css".to_string()),
    ]);
    (t, d, ids)
}

/// A route's path with its parameters filled from `ids`.
fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_string();
    for (k, v) in ids {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[tokio::test]
async fn every_page_renders_light_and_safe() {
    let stack = Stack::start().await;
    let (t, d, ids) = account(&stack).await;
    let (_, license) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/licenses/{}", ids["licenseId"]),
            None,
        )
        .await;
    let key = license["key"].as_str().unwrap().to_string();
    let css = d.get("/dashboard/assets/dashboard.css").await;
    let js = d.get("/dashboard/assets/dashboard.js").await;
    assert_eq!((css.status, js.status), (200, 200));
    let assets = css.body.len() + js.body.len();
    let mut weights = Vec::new();
    for route in ROUTES.iter().filter(|r| {
        // The customer portal's pages have their own checks (tests/portal.rs).
        matches!(r.op, Op::Dashboard(_))
            && r.method == http::Method::GET
            && r.path.starts_with("/dashboard")
            && !r.path.starts_with("/dashboard/sign-")
            && !r.path.starts_with("/dashboard/assets")
    }) {
        let path = fill(route.path, &ids);
        let page = d.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(page.headers["cache-control"], "no-store");
        assert!(
            !page.body.contains("<script>"),
            "{path} has an inline script"
        );
        assert!(
            !page.body.contains(" on") || !page.body.contains("onclick="),
            "{path}"
        );
        assert!(
            !page.body.contains(&key),
            "{path} shows the license key unasked"
        );
        assert!(!page.body.contains(&t.token), "{path} shows an API token");
        let total = page.body.len() + assets;
        assert!(total < 100_000, "{path} weighs {total} bytes");
        weights.push((path, page.body.len()));
    }
    println!("page weights (HTML bytes; plus {assets} bytes of CSS and JS, cached):");
    for (path, bytes) in &weights {
        println!("  {bytes:>6}  {path}");
    }
    assert!(weights.len() >= 12);
    // The key appears when asked for, and only then.
    let revealed = d
        .post(
            &format!("/dashboard/licenses/{}/key", ids["licenseId"]),
            &[],
        )
        .await;
    assert_eq!(revealed.status, 200);
    assert!(revealed.body.contains(&key));
}

/// Opening a link shows a "Sign in" button and changes nothing (a mail scanner's GET does not
/// burn it); only the button's POST, from the link's own page, uses it up, once.
#[tokio::test]
async fn sign_in_links_are_used_up_only_by_their_button() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let token = stack.link_token(&owner).await;
    let http = keyhook_tests::dashboard::client();
    // A scanner follows the link (twice): the page, a button, nothing used up.
    for _ in 0..2 {
        let scanned = stack.open_link(&http, &token).await;
        assert_eq!(scanned.status, 200, "{}", scanned.body);
        assert!(
            scanned.body.contains(">Sign in</button>"),
            "{}",
            scanned.body
        );
        assert!(scanned.body.contains("Acme"));
        assert!(scanned
            .body
            .contains("method=\"post\" action=\"/dashboard/sign-in/link\""));
    }
    let page = stack.open_link(&http, &token).await;
    // Another site's auto-submitted form (no pre-session cookie of this browser, or marked
    // cross-site) cannot use it: no login CSRF.
    let forged = http
        .post(format!("{}/dashboard/sign-in/link", stack.base_url))
        .form(&[
            ("pre", page.pre()),
            ("token", token.as_str()),
            ("choice", t.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let cross_site = http
        .post(format!("{}/dashboard/sign-in/link", stack.base_url))
        .header("cookie", &page.pre_cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("pre", page.pre()),
            ("token", token.as_str()),
            ("choice", t.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status().as_u16(), 403);
    // The button signs in.
    let first = stack.use_link(&http, &page, &token, &t.id).await;
    assert_eq!(first.status().as_u16(), 303);
    assert_eq!(first.headers()["location"], "/dashboard");
    let cookie = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("kh_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "no Secure on a loopback http base URL"
    );
    // Once.
    let second = stack.use_link(&http, &page, &token, &t.id).await;
    assert_eq!(second.status().as_u16(), 400, "a link works once");
    assert!(second
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));
    let reopened = stack.open_link(&http, &token).await;
    assert_eq!(reopened.status, 400);
    assert!(reopened.body.contains("expired or was already used"));
}

#[tokio::test]
async fn sessions_end_with_sign_out_removal_and_tenant_deletion() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    // Signing out revokes the session: the same cookie no longer opens a page.
    let d = stack.sign_in(&t, &owner).await;
    assert_eq!(d.get("/dashboard/apps").await.status, 200);
    let out = d.post("/dashboard/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    let after = d.get("/dashboard/apps").await;
    assert_eq!(after.status, 303);
    assert!(after.location.unwrap().starts_with("/dashboard/sign-in"));

    // A removed member's session ends at once.
    let viewer = format!("{}@example.com", unique("viewer"));
    stack.member(&t, &viewer, Role::Viewer).await;
    let v = stack.sign_in(&t, &viewer).await;
    stack
        .services
        .store
        .delete_member(&t.id, &viewer)
        .await
        .unwrap();
    assert_eq!(v.get("/dashboard").await.status, 303);

    // Deleting the tenant ends its members' sessions at once, and its token's session too.
    let d = stack.sign_in(&t, &owner).await;
    let token_session = keyhook_tests::dashboard::client()
        .post(format!("{}/dashboard/sign-in", stack.base_url))
        .header("cookie", "kh_pre=00000000000000000000000000000000")
        .form(&[
            ("pre", "00000000000000000000000000000000"),
            ("token", t.token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let token_cookie = keyhook_tests::dashboard::session_cookie(&token_session).unwrap();
    let by_token = Dashboard {
        cookie: token_cookie,
        ..stack.sign_in(&t, &owner).await
    };
    assert_eq!(d.get("/dashboard").await.status, 200);
    assert_eq!(by_token.get("/dashboard").await.status, 200);
    stack.services.store.delete_tenant(&t.id).await.unwrap();
    for s in [&d, &by_token] {
        // A page that reads nothing of the tenant itself: only the session check notices.
        let page = s.get("/dashboard/licenses").await;
        assert_eq!(page.status, 303, "the tenant is gone: {}", page.body);
        assert!(page.location.unwrap().starts_with("/dashboard/sign-in"));
    }
}

/// The session check reads the tenant with the member in one call: a page view makes no more
/// AWS calls than before tenant deletion was checked (two for the session).
#[tokio::test]
async fn a_session_check_reads_member_and_tenant_in_one_call() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let counter = CallCounter::default();
    let base = stack
        .serve_with(counted_services(stack.config(), &stack.sdk, &counter))
        .await;
    let d = Dashboard {
        base_url: base,
        ..stack.sign_in(&t, &owner).await
    };
    counter.reset();
    let sign_in = d.get("/dashboard/sign-in").await;
    assert_eq!(sign_in.status, 303, "signed in: sign-in redirects home");
    let calls = counter.take();
    assert_eq!(
        calls,
        BTreeMap::from([
            ("DynamoDB.GetItem".to_string(), 1),
            ("DynamoDB.BatchGetItem".to_string(), 1)
        ]),
        "the session, then its member and tenant together"
    );
}

#[tokio::test]
async fn sign_in_requests_are_rate_limited_and_reveal_nothing() {
    let stack = Stack::start().await;
    let http = keyhook_tests::dashboard::client();
    let page = http
        .get(format!("{}/dashboard/sign-in", stack.base_url))
        .send()
        .await
        .unwrap();
    let pre_cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let pre = pre_cookie.split('=').nth(1).unwrap().to_string();
    let ask = |email: String| {
        let http = http.clone();
        let (url, cookie, pre) = (
            format!("{}/dashboard/sign-in", stack.base_url),
            pre_cookie.clone(),
            pre.clone(),
        );
        async move {
            let res = http
                .post(url)
                .header("cookie", cookie)
                .form(&[("pre", pre.as_str()), ("email", email.as_str())])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let email = format!("{}@example.com", unique("nobody"));
    let (status, body) = ask(email.clone()).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Check your email"),
        "the same answer whether or not the email has an account"
    );
    for _ in 0..4 {
        assert_eq!(ask(email.clone()).await.0, 200);
    }
    assert_eq!(
        ask(email.clone()).await.0,
        429,
        "the sixth link request in 15 minutes"
    );
    // Without the pre-session token the form is refused.
    let res = http
        .post(format!("{}/dashboard/sign-in", stack.base_url))
        .form(&[("email", "x@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

/// Asks for a sign-in link for `email` on the sign-in page (its pre-session token echoed); the
/// answer's status and body.
async fn ask_for_link(base: &str, email: &str) -> (u16, String) {
    let http = keyhook_tests::dashboard::client();
    let page =
        keyhook_tests::dashboard::public_get(&http, &format!("{base}/dashboard/sign-in"), None)
            .await;
    let res = http
        .post(format!("{base}/dashboard/sign-in"))
        .header("cookie", &page.pre_cookie)
        .form(&[("pre", page.pre()), ("email", email)])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// A link request does the same work whether or not the address is a member: the same AWS
/// calls, one by one, and the same page (but for the address itself).
#[tokio::test]
async fn a_link_request_does_the_same_work_for_members_and_strangers() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let member = format!("{}@example.com", unique("member"));
    stack.member(&t, &member, Role::Owner).await;
    let stranger = format!("{}@example.com", unique("strangr"));
    let counter = CallCounter::default();
    let base = stack
        .serve_with(counted_services(stack.config(), &stack.sdk, &counter))
        .await;
    // Warm both paths (the first request of a process builds its clients).
    ask_for_link(&base, &format!("{}@example.com", unique("warm"))).await;
    let mut seen = Vec::new();
    for email in [&member, &stranger, &member, &stranger] {
        counter.reset();
        let (status, body) = ask_for_link(&base, email).await;
        assert_eq!(status, 200);
        seen.push((counter.take(), body.replace(email.as_str(), "ADDRESS")));
    }
    let (member_calls, member_page) = &seen[0];
    let (stranger_calls, stranger_page) = &seen[1];
    println!("AWS calls per link request: {member_calls:?}");
    assert_eq!(member_calls, stranger_calls, "the same calls for both");
    assert_eq!(seen[2].0, seen[3].0);
    let visible = |page: &str| match keyhook_tests::dashboard::hidden_of(page, "pre") {
        // A pre-session token (if the page has a form) differs per browser.
        Some(pre) => page.replace(&pre, "PRE"),
        None => page.to_string(),
    };
    assert_eq!(visible(member_page), visible(stranger_page));
    assert!(member_page.contains("Check your email"));
    // Only the member gets an email.
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&member).await.len(), 2);
    assert!(stack.emails_to(&stranger).await.is_empty());
}

/// One address in many tenants gets one email with one link, whose page lists every account
/// (not just the first five); the chosen one is signed in to.
#[tokio::test]
async fn one_address_in_many_tenants_gets_one_link_to_choose_an_account() {
    let stack = Stack::start().await;
    let email = format!("{}@example.com", unique("consult"));
    let mut tenants = Vec::new();
    for i in 0..7 {
        let t = stack.tenant(&format!("Client {i}")).await;
        stack.member(&t, &email, Role::Admin).await;
        tenants.push(t);
    }
    let (status, _) = ask_for_link(&stack.base_url, &email).await;
    assert_eq!(status, 200);
    stack.drain_mail().await;
    let mails = stack.emails_to(&email).await;
    assert_eq!(mails.len(), 1, "one email, one link");
    let body = mails[0]["body"].as_str().unwrap();
    assert!(body.contains("one of your 7 accounts"), "{body}");
    let i = body.find("token=").unwrap() + "token=".len();
    let token: String = body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let http = keyhook_tests::dashboard::client();
    let page = stack.open_link(&http, &token).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Choose an account"));
    for (i, t) in tenants.iter().enumerate() {
        assert!(page.body.contains(&format!("Client {i}")), "{}", page.body);
        assert!(page.body.contains(&format!("value=\"{}\"", t.id)));
    }
    let last = &tenants[6];
    let res = stack.use_link(&http, &page, &token, &last.id).await;
    assert_eq!(res.status().as_u16(), 303);
    let cookie = keyhook_tests::dashboard::session_cookie(&res).unwrap();
    let home = http
        .get(format!("{}/dashboard/settings", stack.base_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(&last.id), "signed in to the chosen account");
    // Another account with the used link: nothing.
    let again = stack.use_link(&http, &page, &token, &tenants[0].id).await;
    assert_eq!(again.status().as_u16(), 400);
}

/// A link names an address, not an account: a member cannot use it for an account they are
/// not in.
#[tokio::test]
async fn a_link_signs_in_only_to_its_addresses_accounts() {
    let stack = Stack::start().await;
    let mine = stack.tenant("Mine").await;
    let theirs = stack.tenant("Theirs").await;
    let email = format!("{}@example.com", unique("member"));
    stack.member(&mine, &email, Role::Owner).await;
    let token = stack.link_token(&email).await;
    let http = keyhook_tests::dashboard::client();
    let page = stack.open_link(&http, &token).await;
    assert!(!page.body.contains("Theirs"));
    let res = stack.use_link(&http, &page, &token, &theirs.id).await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(keyhook_tests::dashboard::session_cookie(&res).is_none());
}

/// Invitations are rate-limited per tenant and per recipient (across tenants).
#[tokio::test]
async fn invitations_are_rate_limited_per_tenant_and_per_recipient() {
    let stack = Stack::start().await;
    let (_, d, _) = account(&stack).await;
    let invite = |email: String| {
        let d = &d;
        async move {
            d.post(
                "/dashboard/settings/members",
                &[("email", email.as_str()), ("role", "viewer")],
            )
            .await
        }
    };
    for i in 0..20 {
        let page = invite(format!("{}-{i}@example.com", unique("inv"))).await;
        assert_eq!(page.status, 303, "invitation {i}: {}", page.body);
    }
    let refused = invite(format!("{}@example.com", unique("inv"))).await;
    assert_eq!(refused.status, 429, "the 21st invitation in 15 minutes");
    assert!(refused.body.contains("20 invitations"));

    // One recipient, invited by four tenants: the fourth is refused.
    let target = format!("{}@example.com", unique("popular"));
    for i in 0..4 {
        let t = stack.tenant(&format!("Inviter {i}")).await;
        let owner = format!("{}@example.com", unique("owner"));
        stack.member(&t, &owner, Role::Owner).await;
        let o = stack.sign_in(&t, &owner).await;
        let page = o
            .post(
                "/dashboard/settings/members",
                &[("email", target.as_str()), ("role", "viewer")],
            )
            .await;
        if i < 3 {
            assert_eq!(page.status, 303, "{}", page.body);
        } else {
            assert_eq!(page.status, 429, "the 4th invitation of one address");
            assert!(page.body.contains("invited 3 times"));
        }
    }
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&target).await.len(), 3);
}

/// The `id` of the member `email` on the settings page's team table.
async fn member_id(stack: &Stack, t: &TestTenant, email: &str) -> String {
    stack
        .services
        .store
        .get_member(&t.id, email)
        .await
        .unwrap()
        .expect("a member")
        .id
}

/// Two owners demoting each other at the same moment cannot leave the tenant without one; nor
/// can two owners removing each other.
#[tokio::test]
async fn owners_acting_on_each_other_at_once_always_leave_an_owner() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let a = format!("{}@example.com", unique("ownera"));
    let b = format!("{}@example.com", unique("ownerb"));
    stack.member(&t, &a, Role::Owner).await;
    stack.member(&t, &b, Role::Owner).await;
    let (ida, idb) = (
        member_id(&stack, &t, &a).await,
        member_id(&stack, &t, &b).await,
    );
    let da = stack.sign_in(&t, &a).await;
    let db = stack.sign_in(&t, &b).await;
    let (b_page, a_page) = (
        format!("/dashboard/settings/members/{idb}"),
        format!("/dashboard/settings/members/{ida}"),
    );
    let owners_left = || async {
        stack
            .services
            .store
            .members(&t.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count()
    };
    let mut both_refused = 0;
    for round in 0..6 {
        let form = [("action", "role"), ("role", "admin")];
        let (ra, rb) = tokio::join!(da.post(&b_page, &form), db.post(&a_page, &form),);
        assert!(
            owners_left().await >= 1,
            "round {round}: no owner left ({} and {})",
            ra.status,
            rb.status
        );
        assert!(
            !(ra.status == 303 && rb.status == 303),
            "round {round}: both demotions went through"
        );
        for r in [&ra, &rb] {
            // Refused: the other is no longer an owner (403), or the team changed (409).
            assert!(
                [303, 403, 409].contains(&r.status),
                "round {round}: {}",
                r.body
            );
        }
        if ra.status != 303 && rb.status != 303 {
            both_refused += 1;
        }
        // Back to two owners for the next round.
        for email in [&a, &b] {
            let m = stack
                .services
                .store
                .get_member(&t.id, email)
                .await
                .unwrap()
                .unwrap();
            if m.role != Role::Owner {
                assert!(stack
                    .services
                    .store
                    .change_member_role(&m, Role::Owner, &[])
                    .await
                    .unwrap());
            }
        }
    }
    println!("demotion rounds where both were refused (a transaction conflict): {both_refused}");
    // Removing each other at once: one of them stays, an owner.
    let form = [("action", "remove")];
    let (ra, rb) = tokio::join!(da.post(&b_page, &form), db.post(&a_page, &form),);
    assert!(
        !(ra.status == 303 && rb.status == 303),
        "both removals went through"
    );
    assert!(owners_left().await >= 1, "no owner left after removals");
}

/// A role change decided on a stale read does not go through.
#[tokio::test]
async fn a_role_change_is_conditional_on_the_version_read() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let a = format!("{}@example.com", unique("owner"));
    let v = format!("{}@example.com", unique("viewer"));
    stack.member(&t, &a, Role::Owner).await;
    stack.member(&t, &v, Role::Viewer).await;
    let read = stack
        .services
        .store
        .get_member(&t.id, &v)
        .await
        .unwrap()
        .unwrap();
    assert!(stack
        .services
        .store
        .change_member_role(&read, Role::Admin, &[&a])
        .await
        .unwrap());
    // The same stale read again: refused.
    assert!(!stack
        .services
        .store
        .change_member_role(&read, Role::Owner, &[&a])
        .await
        .unwrap());
    let now = stack
        .services
        .store
        .get_member(&t.id, &v)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.role, Role::Admin);
    assert_eq!(now.version, read.version + 1);
}

/// API tokens record who created them (also through another token); removing the member
/// revokes theirs, or hands them over to the owner who removes them, as the owner chooses.
#[tokio::test]
async fn removing_a_member_revokes_or_hands_over_their_tokens() {
    let stack = Stack::start().await;
    let (t, owner, _) = account(&stack).await;
    let owner_email = owner_email_of(&stack, &t).await;
    let mut tokens_of = BTreeMap::new();
    for who in ["leaver", "mover"] {
        let email = format!("{}@example.com", unique(who));
        stack.member(&t, &email, Role::Admin).await;
        let d = stack.sign_in(&t, &email).await;
        let created = d
            .post(
                "/dashboard/settings/tokens",
                &[("name", &format!("{who} ci"))],
            )
            .await;
        assert_eq!(created.status, 201);
        let i = created.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
        let first = created.body[i..].split('<').next().unwrap().to_string();
        // A token created with that token answers to the same member.
        let (status, second) = stack
            .api(
                &first,
                "POST",
                "/api/tokens",
                Some(json!({"name": format!("{who} nightly")})),
            )
            .await;
        assert_eq!(status, 201, "{second}");
        assert_eq!(second["createdBy"], json!(email));
        tokens_of.insert(
            who,
            (email, first, second["token"].as_str().unwrap().to_string()),
        );
    }
    let settings = owner.get("/dashboard/settings").await;
    for (email, _, _) in tokens_of.values() {
        assert!(
            settings
                .body
                .contains(&format!("<td class=\"small\">{email}")),
            "the token list names its creator {email}"
        );
    }
    // Removing without saying what happens to their tokens: asked.
    let (leaver, leaver_ci, leaver_nightly) = &tokens_of["leaver"];
    let leaver_id = member_id(&stack, &t, leaver).await;
    let unsaid = owner
        .post(
            &format!("/dashboard/settings/members/{leaver_id}"),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(unsaid.status, 422, "{}", unsaid.body);
    assert!(unsaid.body.contains("revoked or handed over"));
    assert_eq!(
        stack.api(leaver_ci, "GET", "/api/tokens", None).await.0,
        200
    );
    // Revoke: both of the leaver's tokens stop working at once.
    let removed = owner
        .post(
            &format!("/dashboard/settings/members/{leaver_id}"),
            &[("action", "remove"), ("tokens", "revoke")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    for token in [leaver_ci, leaver_nightly] {
        assert_eq!(stack.api(token, "GET", "/api/tokens", None).await.0, 401);
    }
    // Hand over: the mover's tokens keep working; the owner answers for them now.
    let (mover, mover_ci, mover_nightly) = &tokens_of["mover"];
    let mover_id = member_id(&stack, &t, mover).await;
    let handed = owner
        .post(
            &format!("/dashboard/settings/members/{mover_id}"),
            &[("action", "remove"), ("tokens", "hand_over")],
        )
        .await;
    assert_eq!(handed.status, 303, "{}", handed.body);
    for token in [mover_ci, mover_nightly] {
        assert_eq!(stack.api(token, "GET", "/api/tokens", None).await.0, 200);
    }
    let (_, list) = stack.api(&t.token, "GET", "/api/tokens", None).await;
    let nightly = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "mover nightly")
        .unwrap();
    assert_eq!(nightly["createdBy"], json!(mover));
    assert_eq!(nightly["handedOverTo"], json!(owner_email));
    let o = stack
        .services
        .store
        .get_member(&t.id, &owner_email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        o.token_hashes.len(),
        2,
        "the owner answers for the two tokens"
    );
    let settings = owner.get("/dashboard/settings").await;
    assert!(settings
        .body
        .contains(&format!("handed over to {owner_email}")));
}

/// The owner's email of an [`account`].
async fn owner_email_of(stack: &Stack, t: &TestTenant) -> String {
    stack
        .services
        .store
        .members(&t.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.role == Role::Owner)
        .unwrap()
        .email
}

/// A `next` that is not ASCII neither panics nor leaves the dashboard: it comes back
/// percent-encoded.
#[tokio::test]
async fn a_next_that_is_not_ascii_signs_in_without_a_panic() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let http = keyhook_tests::dashboard::client();
    let next = "/dashboard/licenses?email=zoë@exämple.com";
    let page = keyhook_tests::dashboard::public_get(
        &http,
        &format!(
            "{}/dashboard/sign-in?next={}",
            stack.base_url,
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
        None,
    )
    .await;
    assert_eq!(page.status, 200);
    let res = http
        .post(format!("{}/dashboard/sign-in", stack.base_url))
        .header("cookie", &page.pre_cookie)
        .form(&[
            ("pre", page.pre()),
            ("token", t.token.as_str()),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"],
        "/dashboard/licenses?email=zo%C3%AB@ex%C3%A4mple.com"
    );
}

#[tokio::test]
async fn viewers_change_nothing_and_forms_need_the_csrf_token() {
    let stack = Stack::start().await;
    let (t, owner, ids) = account(&stack).await;
    let viewer_email = format!("{}@example.com", unique("viewer"));
    stack.member(&t, &viewer_email, Role::Viewer).await;
    let viewer = stack.sign_in(&t, &viewer_email).await;
    let before = stack.licenses(&t, "").await;
    let mut refused = 0;
    for route in ROUTES.iter().filter(|r| {
        matches!(r.op, Op::Dashboard(p) if !p.is_public())
            && r.method == http::Method::POST
            && r.path.starts_with("/dashboard")
    }) {
        let path = fill(route.path, &ids);
        if ["/dashboard/sign-out", "/dashboard/email-preview"].contains(&path.as_str())
            || path.ends_with("/key")
        {
            continue; // not changes: signing out, previewing, reading a key
        }
        let page = viewer
            .post(
                &path,
                &[
                    ("action", "delete"),
                    ("name", "x"),
                    ("email", "a@b.co"),
                    ("role", "owner"),
                ],
            )
            .await;
        assert_eq!(page.status, 403, "{path} by a viewer: {}", page.body);
        // And nobody's form works without the session's CSRF token.
        let forged = owner.post_raw(&path, &[("action", "delete")]).await;
        assert_eq!(forged.status, 403, "{path} without the CSRF token");
        refused += 1;
    }
    assert!(refused >= 18, "{refused} routes checked");
    // A cross-site post is refused even with the token.
    let res = owner
        .http
        .post(format!(
            "{}/dashboard/products/{}",
            owner.base_url, ids["productId"]
        ))
        .header("cookie", &owner.cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", owner.csrf.as_str()), ("action", "delete")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(stack.licenses(&t, "").await.len(), before.len());
    let (status, _) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/stripe/apps/{}", ids["appId"]),
            None,
        )
        .await;
    assert_eq!(status, 200, "the app is still there");
}

#[tokio::test]
async fn form_errors_are_shown_at_their_field() {
    let stack = Stack::start().await;
    let (_, d, _) = account(&stack).await;
    let page = d
        .post(
            "/dashboard/apps",
            &[
                ("name", "Live keys on a test app"),
                ("secretKey", "sk_live_abcdefghijkl"),
                ("defaultCurrency", "usd"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("id=\"f-secretKey-error\""),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("is a live-mode key but the app is a test app"));
    assert!(
        !page.body.contains("sk_live_abcdefghijkl"),
        "secrets are never echoed"
    );
    let page = d
        .post(
            "/dashboard/products",
            &[("name", "Pro"), ("defaultLicenseDays", "many")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"f-defaultLicenseDays-error\""));
}

#[tokio::test]
async fn aws_calls_per_page_view() {
    let stack = Stack::start().await;
    let (_, d, ids) = account(&stack).await;
    let counter = CallCounter::default();
    let base = stack
        .serve_with(counted_services(stack.config(), &stack.sdk, &counter))
        .await;
    let d = Dashboard {
        base_url: base,
        ..d
    };
    println!("AWS calls per page view (warm: tenant key cached):");
    for path in [
        "/dashboard".to_string(),
        "/dashboard/apps".into(),
        format!("/dashboard/apps/{}", ids["appId"]),
        format!("/dashboard/events/{}", ids["eventId"]),
        "/dashboard/products".into(),
        format!("/dashboard/products/{}", ids["productId"]),
        "/dashboard/licenses".into(),
        format!("/dashboard/licenses/{}", ids["licenseId"]),
        "/dashboard/test-purchase".into(),
        "/dashboard/settings".into(),
        "/dashboard/webhooks".into(),
        format!("/dashboard/webhooks/{}", ids["endpointId"]),
        "/dashboard/import".into(),
        "/dashboard/integrate".into(),
    ] {
        assert_eq!(d.get(&path).await.status, 200, "{path}");
        counter.reset();
        assert_eq!(d.get(&path).await.status, 200, "{path}");
        let calls = counter.take();
        let total: usize = calls.values().sum();
        println!("  {total:>2}  {path}  {calls:?}");
        assert_eq!(
            calls.get("KMS.Decrypt"),
            None,
            "{path}: the tenant key is cached"
        );
        assert!(total <= 12, "{path}: {total} calls");
    }
}

#[tokio::test]
async fn license_actions_go_through_the_api_rules() {
    let stack = Stack::start().await;
    let (t, d, ids) = account(&stack).await;
    let lic = ids["licenseId"].clone();
    let path = format!("/dashboard/licenses/{lic}");
    // Unique per run: the emulator's mailbox outlives a test run.
    let new_email = format!("{}@example.com", keyhook_tests::unique("new"));
    let api_license = || async {
        stack
            .api(&t.token, "GET", &format!("/api/licenses/{lic}"), None)
            .await
            .1
    };
    // A device activated by a client app, then freed from the dashboard.
    let l = api_license().await;
    let (_, answer) = stack
        .api(&t.token, "POST", "/api/licenses/activate",
            Some(json!({"licenseKey": l["key"], "productId": l["productId"], "deviceId": "laptop-1", "environment": "test"})))
        .await;
    assert_eq!(answer["code"], "VALID", "{answer}");
    assert!(d.get(&path).await.body.contains("laptop-1"));
    let freed = d
        .post(&path, &[("action", "deactivate"), ("deviceId", "laptop-1")])
        .await;
    assert_eq!(freed.status, 303, "{}", freed.body);
    assert_eq!(api_license().await["devices"], json!([]));
    // The license page's Activity names who freed it: the merchant, after the app's activation.
    let page = d.get(&path).await.body;
    let activity = &page[page
        .find("id=\"activity-title\"")
        .expect("an Activity section")..];
    let freed_at = activity.find("Device freed").expect("the free is listed");
    let activated_at = activity
        .find("Device activated")
        .expect("the activation is listed");
    assert!(freed_at < activated_at, "newest first");
    assert!(activity[freed_at..activated_at].contains("merchant"));
    assert!(activity[activated_at..].contains("app"));

    assert_eq!(d.post(&path, &[("action", "suspend")]).await.status, 303);
    assert_eq!(api_license().await["status"], "suspended");
    assert_eq!(d.post(&path, &[("action", "reinstate")]).await.status, 303);
    assert_eq!(api_license().await["status"], "active");

    let saved = d
        .post(
            &path,
            &[
                ("action", "save"),
                ("expiresAt", "2031-01-31"),
                ("maxDevices", "3"),
                ("maxIps", "0"),
                ("customerEmail", new_email.as_str()),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let l = api_license().await;
    assert_eq!(
        (l["expiresAt"].as_str().unwrap(), l["maxDevices"].as_u64()),
        ("2031-01-31T23:59:59.000Z", Some(3))
    );
    let bad = d
        .post(
            &path,
            &[("action", "save"), ("customerEmail", "not-an-email")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-customerEmail-error\""));

    let resent = d.post(&path, &[("action", "resend")]).await;
    assert_eq!(resent.status, 303);
    stack.drain_mail().await;
    assert_eq!(
        stack.emails_to(&new_email).await.len(),
        1,
        "resent to the new address"
    );

    // Revoking asks first; only the confirmed post revokes.
    let ask = d.post(&path, &[("action", "revoke")]).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Revoke this license?"));
    assert_eq!(api_license().await["status"], "active");
    assert_eq!(
        d.post(&path, &[("action", "revoke"), ("confirm", "yes")])
            .await
            .status,
        303
    );
    assert_eq!(api_license().await["status"], "revoked");
    let again = d.post(&path, &[("action", "reinstate")]).await;
    assert_eq!(
        again.status, 409,
        "the API's rule: a revoked license stays revoked"
    );

    // Issuing by hand.
    let issued = d
        .post(
            "/dashboard/licenses",
            &[
                ("productId", &ids["productId"]),
                ("customerEmail", "hand@example.com"),
                ("perpetual", "on"),
            ],
        )
        .await;
    assert_eq!(issued.status, 303, "{}", issued.body);
    let new_id = issued
        .location
        .unwrap()
        .trim_start_matches("/dashboard/licenses/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (_, l) = stack
        .api(&t.token, "GET", &format!("/api/licenses/{new_id}"), None)
        .await;
    assert_eq!(
        (l["customerEmail"].as_str(), l["expiresAt"].is_null()),
        (Some("hand@example.com"), true)
    );
}

#[tokio::test]
async fn team_tokens_and_sign_in_with_a_token() {
    let stack = Stack::start().await;
    let (t, d, _) = account(&stack).await;
    // Invite: a member with a role and an emailed link.
    let invited = format!("{}@example.com", unique("admin"));
    let page = d
        .post(
            "/dashboard/settings/members",
            &[("email", &invited), ("role", "admin")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    stack.drain_mail().await;
    let mails = stack.emails_to(&invited).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["subject"].as_str().unwrap().contains("invited"));
    let members = stack.services.store.members(&t.id).await.unwrap();
    let owner = members.iter().find(|m| m.role == Role::Owner).unwrap();
    let admin = members.iter().find(|m| m.email == invited).unwrap();
    // The last owner stays.
    let refused = d
        .post(
            &format!("/dashboard/settings/members/{}", owner.id),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(refused.status, 409);
    let changed = d
        .post(
            &format!("/dashboard/settings/members/{}", admin.id),
            &[("action", "role"), ("role", "viewer")],
        )
        .await;
    assert_eq!(changed.status, 303);
    assert_eq!(
        stack
            .services
            .store
            .get_member(&t.id, &invited)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Viewer
    );

    // A token created on the dashboard is shown once, and signs in.
    let created = d
        .post("/dashboard/settings/tokens", &[("name", "headless")])
        .await;
    assert_eq!(created.status, 201);
    let i = created.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let token = created.body[i..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("kh_"));
    assert!(
        !d.get("/dashboard/settings").await.body.contains(&token),
        "shown only once"
    );
    let http = keyhook_tests::dashboard::client();
    let page = http
        .get(format!("{}/dashboard/sign-in", stack.base_url))
        .send()
        .await
        .unwrap();
    let pre = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let res = http
        .post(format!("{}/dashboard/sign-in", stack.base_url))
        .header("cookie", &pre)
        .form(&[
            ("pre", pre.split('=').nth(1).unwrap()),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let session = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = http
        .get(format!("{}/dashboard", stack.base_url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status().as_u16(), 200);
    assert!(home.text().await.unwrap().contains("API token kh_"));
    // Revoking the token ends its session.
    let tokens = stack.api(&t.token, "GET", "/api/tokens", None).await.1;
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "headless")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d.post(&format!("/dashboard/settings/tokens/{id}"), &[])
            .await
            .status,
        303
    );
    let home = http
        .get(format!("{}/dashboard", stack.base_url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        home.status().as_u16(),
        303,
        "a revoked token's session ends"
    );
}

#[tokio::test]
async fn sign_up_only_when_the_operator_opens_it() {
    let stack = Stack::start().await;
    let http = keyhook_tests::dashboard::client();
    let closed = http
        .get(format!("{}/dashboard/sign-up", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status().as_u16(), 404);
    let mut config = stack.config();
    config.dashboard_signup = true;
    let base = stack
        .serve_with(keyhook_shared::Services::new(config, &stack.sdk))
        .await;
    let page = http
        .get(format!("{base}/dashboard/sign-up"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let pre = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let email = format!("{}@example.com", unique("founder"));
    let res = http
        .post(format!("{base}/dashboard/sign-up"))
        .header("cookie", &pre)
        .form(&[
            ("pre", pre.split('=').nth(1).unwrap()),
            ("name", "New Co"),
            ("email", email.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.unwrap().contains("Check your email"));
    let memberships = stack.services.store.memberships(&email).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].role, Role::Owner);
    stack.drain_mail().await;
    assert!(stack.emails_to(&email).await[0]["body"]
        .as_str()
        .unwrap()
        .contains("/dashboard/sign-in/link?token=khl_"));
}

#[tokio::test]
async fn licenses_show_and_filter_test_and_live() {
    let stack = Stack::start().await;
    let (t, d, ids) = account(&stack).await;
    // The account's purchase came through a test-mode app; a license issued by hand is live.
    let test_id = ids["licenseId"].clone();
    let (status, live) = stack
        .api(
            &t.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": ids["productId"], "customerEmail": "live@example.com", "sendEmail": false})),
        )
        .await;
    assert_eq!(status, 201, "{live}");
    let live_id = live["id"].as_str().unwrap().to_string();
    assert_eq!(live["livemode"], true);

    let all = d.get("/dashboard/licenses").await;
    assert_eq!(all.status, 200);
    assert!(all.body.contains(&test_id) && all.body.contains(&live_id));
    assert!(all.body.contains("b-test") && all.body.contains("b-live"));
    let tests_only = d.get("/dashboard/licenses?livemode=false").await;
    assert!(tests_only.body.contains(&test_id), "{}", tests_only.body);
    assert!(!tests_only.body.contains(&live_id));
    let live_only = d.get("/dashboard/licenses?livemode=true").await;
    assert!(live_only.body.contains(&live_id));
    assert!(!live_only.body.contains(&test_id));
    // The filter keeps its choice, and a test license's page says what it validates for.
    assert!(live_only.body.contains("<option value=\"true\" selected>"));
    let page = d.get(&format!("/dashboard/licenses/{test_id}")).await;
    assert!(page.body.contains("validates only for test builds"));
    // A bad value is a form error, not a failure.
    let bad = d.get("/dashboard/licenses?livemode=maybe").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("f-livemode-error"), "{}", bad.body);
}

/// A list longer than a page links its next page, filters kept, and the link works.
#[tokio::test]
async fn a_long_license_list_pages_through_older_licenses() {
    let stack = Stack::start().await;
    let (t, d, ids) = account(&stack).await;
    // The account's purchase issued one (test) license; 25 live ones by hand make 26, over a
    // page of 25.
    for i in 0..25 {
        let (status, body) = stack
            .api(
                &t.token,
                "POST",
                "/api/licenses",
                Some(json!({"productId": ids["productId"], "customerEmail": format!("p{i}@example.com"), "sendEmail": false})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let first = d.get("/dashboard/licenses?livemode=true").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let rows = |body: &str| body.matches("href=\"/dashboard/licenses/lic_").count();
    let next_page = |body: &str| {
        let start = body
            .find("href=\"/dashboard/licenses?cursor=")
            .expect("a link to the next page")
            + "href=\"".len();
        let end = start + body[start..].find('"').unwrap();
        body[start..end].replace("&amp;", "&")
    };
    assert_eq!(rows(&first.body), 25);
    let link = next_page(&first.body);
    assert!(
        link.ends_with("&livemode=true"),
        "the filter is kept: {link}"
    );
    assert!(first.body.contains("Older licenses"));
    let older = d.get(&link).await;
    assert_eq!(older.status, 200, "{}", older.body);
    assert!(
        older.body.contains("<option value=\"true\" selected>"),
        "the next page keeps the filter: {}",
        older.body
    );
    // Unfiltered, the 26th (the test license) is on the second page.
    let all = d.get("/dashboard/licenses").await;
    let second = d.get(&next_page(&all.body)).await;
    assert_eq!(rows(&second.body), 1, "{}", second.body);
    assert!(second.body.contains(&ids["licenseId"]));
}

#[tokio::test]
async fn product_form_carries_prices_aliases_entitlements_and_file_lifetimes() {
    let stack = Stack::start().await;
    let (t, d, _) = account(&stack).await;
    let created = d
        .post(
            "/dashboard/products",
            &[
                ("name", "Studio"),
                ("price", "29.00"),
                ("defaultLicenseDays", ""),
                ("priceCurrency", "EUR"),
                ("priceAmount", "27.00"),
                ("priceCurrency", "gbp"),
                ("priceAmount", " 23.50 "),
                ("priceCurrency", ""),
                ("priceAmount", ""),
                ("externalIds", "exo-1, lk-2\r\nkg-3\r\n"),
                ("listedProducts", "one_license"),
                ("acceptTestLicenses", "on"),
                ("entitlements", "export\npro"),
                ("licenseFileTtl", "86400"),
                ("licenseFileMaxTtl", "604800"),
                ("autoEmail", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = created
        .location
        .unwrap()
        .trim_start_matches("/dashboard/products/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let get = || async {
        stack
            .api(&t.token, "GET", &format!("/api/products/{id}"), None)
            .await
            .1
    };
    let p = get().await;
    assert_eq!(p["prices"], json!({"eur": "27.00", "gbp": "23.50"}));
    assert_eq!(p["externalIds"], json!(["exo-1", "lk-2", "kg-3"]));
    assert_eq!(p["entitlements"], json!(["export", "pro"]));
    assert_eq!(
        (&p["listedProducts"], &p["acceptTestLicenses"]),
        (&json!("one_license"), &json!(true))
    );
    assert_eq!(
        (&p["licenseFileTtl"], &p["licenseFileMaxTtl"]),
        (&json!(86400), &json!(604800))
    );
    assert!(p["defaultLicenseDays"].is_null(), "empty = not set: {p}");

    // The form shows what is stored: one row per currency, then an empty one to add another.
    let page = d.get(&format!("/dashboard/products/{id}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("name=\"priceCurrency\"").count(), 3);
    assert!(page.body.contains("value=\"gbp\"") && page.body.contains("value=\"23.50\""));
    assert!(page.body.contains("exo-1\nlk-2\nkg-3"));

    // Removing a row removes the price; days set, then unset again.
    let path = format!("/dashboard/products/{id}");
    let base: Vec<(&str, &str)> = vec![
        ("action", "save"),
        ("name", "Studio"),
        ("priceCurrency", "eur"),
        ("priceAmount", "25.00"),
        ("externalIds", ""),
        ("listedProducts", "separate"),
        ("entitlements", "export"),
        ("licenseFileTtl", "86400"),
        ("licenseFileMaxTtl", "604800"),
    ];
    let mut with_days = base.clone();
    with_days.push(("defaultLicenseDays", "30"));
    assert_eq!(d.post(&path, &with_days).await.status, 303);
    let p = get().await;
    assert_eq!(p["prices"], json!({"eur": "25.00"}));
    assert_eq!(p["externalIds"], json!([]));
    assert_eq!(p["acceptTestLicenses"], false);
    assert_eq!(p["defaultLicenseDays"], 30);
    let mut unset = base.clone();
    unset.push(("defaultLicenseDays", ""));
    assert_eq!(d.post(&path, &unset).await.status, 303);
    assert!(get().await["defaultLicenseDays"].is_null());

    // The API's errors at their field (and nothing saved).
    for (field, value, shown) in [
        ("licenseFileTtl", "60", "id=\"f-licenseFileTtl-error\""),
        (
            "licenseFileMaxTtl",
            "99999999",
            "id=\"f-licenseFileMaxTtl-error\"",
        ),
        ("externalIds", "dup\ndup", "id=\"f-externalIds-error\""),
    ] {
        let mut form: Vec<(&str, &str)> =
            base.iter().filter(|(k, _)| *k != field).copied().collect();
        form.push((field, value));
        let page = d.post(&path, &form).await;
        assert_eq!(page.status, 422, "{field}: {}", page.body);
        assert!(page.body.contains(shown), "{field}: {}", page.body);
    }
    let mut bad_price = base.clone();
    bad_price.extend([("priceCurrency", "xx1"), ("priceAmount", "5")]);
    let page = d.post(&path, &bad_price).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("xx1: must be a lowercase ISO 4217 code such as &quot;usd&quot;"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"xx1\""),
        "the row is shown again as typed"
    );
    let mut no_amount = base.clone();
    no_amount.extend([("priceCurrency", "chf"), ("priceAmount", "")]);
    let page = d.post(&path, &no_amount).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("chf: needs an amount"), "{}", page.body);
    assert_eq!(get().await["prices"], json!({"eur": "25.00"}));
    assert_eq!(get().await["entitlements"], json!(["export"]));
}

/// The endpoint id in a page's "Webhook endpoint" heading area (`whep_…`).
fn endpoint_id_in(body: &str) -> String {
    let i = body.find("whep_").expect("an endpoint id on the page");
    body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[tokio::test]
async fn webhook_endpoints_are_managed_with_their_delivery_log() {
    let stack = Stack::start().await;
    let (t, d, _) = account(&stack).await;
    let merchant =
        keyhook_tests::merchant::MerchantEndpoint::start(&stack.services.clock, &[], 500).await;
    // Errors at their field, nothing created.
    let bad = d
        .post(
            "/dashboard/webhooks",
            &[("url", "ftp://example.com/hook"), ("eventTypes", "*")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"f-url-error\""), "{}", bad.body);
    let none = d
        .post("/dashboard/webhooks", &[("url", merchant.url.as_str())])
        .await;
    assert_eq!(none.status, 422);
    assert!(
        none.body.contains("id=\"f-eventTypes-error\""),
        "{}",
        none.body
    );

    // Created: the secret is on this answer, and never again.
    let created = d
        .post(
            "/dashboard/webhooks",
            &[
                ("url", merchant.url.as_str()),
                ("description", "Fulfilment"),
                ("eventTypes", "license.created"),
                ("eventTypes", "license.revoked"),
                ("alertEmail", "ops@example.com"),
            ],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let i = created.body.find("whsec_").expect("the secret, once");
    let secret: String = created.body[i..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    let id = endpoint_id_in(&created.body);
    let (_, e) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(
        e["eventTypes"],
        json!(["license.created", "license.revoked"])
    );
    assert_eq!(e["alertEmail"], "ops@example.com");
    let page_path = format!("/dashboard/webhooks/{id}");
    for path in ["/dashboard/webhooks", page_path.as_str()] {
        let page = d.get(path).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(&id) && page.body.contains("Fulfilment"),
            "{path}"
        );
        assert!(
            !page.body.contains(&secret),
            "{path} shows the secret again"
        );
        assert!(!page.body.contains("whsec_"), "{path}");
    }

    // A test event: the first attempt fails (500), the log says so; a retry succeeds.
    let sent = d.post(&page_path, &[("action", "test")]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(stack.deliver().await >= 1);
    let log = d.get(&page_path).await.body;
    assert!(log.contains("webhook.test"), "{log}");
    assert!(
        log.contains("500 · ") && log.contains(" ms"),
        "status and latency: {log}"
    );
    assert!(
        log.contains("b-failed"),
        "a test event has one attempt, no retries: {log}"
    );
    // (The account's earlier purchase is delivered too: its `license.created`.)
    let test_delivery = || async {
        stack
            .deliveries(&t, &id)
            .await
            .into_iter()
            .find(|d| d["eventType"] == "webhook.test")
            .expect("the test event's delivery")
    };
    let delivery = test_delivery().await["id"].as_str().unwrap().to_string();
    // The endpoint recovers; a retry by hand delivers.
    merchant.answer_from_now(200);
    let retried = d
        .post(&format!("{page_path}/deliveries/{delivery}"), &[])
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    stack.deliver().await;
    let log = d.get(&format!("{page_path}?status=succeeded")).await.body;
    assert!(log.contains("200 · ") && log.contains(&delivery), "{log}");
    let tests_received: Vec<u16> = merchant
        .received()
        .iter()
        .filter(|r| r.json()["type"] == "webhook.test")
        .map(|r| r.status)
        .collect();
    let (last, before) = tests_received.split_last().unwrap();
    assert_eq!(*last, 200, "{tests_received:?}");
    assert!(
        !before.is_empty() && before.iter().all(|s| *s == 500),
        "{tests_received:?}"
    );
    let d1 = test_delivery().await;
    assert_eq!(
        (d1["status"].as_str(), d1["attempts"].as_u64()),
        (Some("succeeded"), Some(tests_received.len() as u64))
    );

    // Paused: saved through the API's rules; a test event is then refused, as the API does.
    let saved = d
        .post(
            &page_path,
            &[
                ("action", "save"),
                ("url", merchant.url.as_str()),
                ("eventTypes", "*"),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, e) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (&e["active"], &e["eventTypes"], &e["description"]),
        (&json!(false), &json!(["*"]), &Value::Null)
    );
    assert_eq!(d.post(&page_path, &[("action", "test")]).await.status, 409);

    // Rolling shows a new secret, once.
    let rolled = d.post(&page_path, &[("action", "roll")]).await;
    assert_eq!(rolled.status, 200);
    assert!(rolled.body.contains("whsec_") && !rolled.body.contains(&secret));
    assert!(!d.get(&page_path).await.body.contains("whsec_"));

    let deleted = d.post(&page_path, &[("action", "delete")]).await;
    assert_eq!(deleted.status, 303);
    let (status, _) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn signing_keys_rotate_after_a_confirmation() {
    let stack = Stack::start().await;
    let (t, d, ids) = account(&stack).await;
    let keys = || async {
        stack
            .api(&t.token, "GET", "/api/signing-keys", None)
            .await
            .1["keys"]
            .as_array()
            .unwrap()
            .clone()
    };
    let status_of = |keys: &[Value], kid: &str| {
        keys.iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["status"].as_str().unwrap().to_string())
    };
    let before = keys().await;
    let active = before.iter().find(|k| k["status"] == "active").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let page = d.get("/dashboard/settings").await.body;
    assert!(
        page.contains(&active) && page.contains(&ids["kid"]),
        "{page}"
    );

    assert_eq!(
        d.post("/dashboard/settings/signing-keys", &[]).await.status,
        303
    );
    assert_eq!(keys().await.len(), before.len() + 1);

    let path = format!("/dashboard/settings/signing-keys/{}", ids["kid"]);
    let ask = d.post(&path, &[]).await;
    assert_eq!(ask.status, 200);
    assert!(ask
        .body
        .contains(&format!("Activate signing key {}?", ids["kid"])));
    assert_eq!(
        status_of(&keys().await, &ids["kid"]).as_deref(),
        Some("next")
    );

    let done = d.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = keys().await;
    assert_eq!(status_of(&after, &ids["kid"]).as_deref(), Some("active"));
    assert_eq!(status_of(&after, &active).as_deref(), Some("retired"));
    assert!(d.get("/dashboard/settings").await.body.contains("retired"));
}

#[tokio::test]
async fn import_runs_dry_then_for_real_with_results_per_license() {
    let stack = Stack::start().await;
    let (t, d, _) = account(&stack).await;
    let product = stack.product(&t, json!({"externalIds": ["exo-42"]})).await;
    let csv = "Id,ActivationKey,ProductId,CustomerEmail,ExpirationDate\n\
               101,IMPORT-KEY-AAAA-0001,exo-42,imported@example.com,2030-01-31\n\
               102,IMPORT-KEY-AAAA-0002,no-such-product,other@example.com,\n\
               103,,exo-42,,\n";
    let page = d.get("/dashboard/import").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("exo-42"), "the products' external ids");

    let dr = &d;
    let run = |action: &'static str| async move {
        dr.post_file(
            "/dashboard/import",
            &[("format", "exisone"), ("action", action)],
            ("file", "licenses.csv", csv),
        )
        .await
    };
    let dry = run("dry_run").await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert!(
        dry.body.contains("Dry run: nothing changed yet"),
        "{}",
        dry.body
    );
    assert!(dry.body.contains("would create") && dry.body.contains("101"));
    assert!(
        dry.body.contains("no-such-product"),
        "the failure says why: {}",
        dry.body
    );
    assert!(dry.body.contains("Record 3: no ActivationKey"));
    assert!(
        !dry.body.contains("IMPORT-KEY-AAAA"),
        "keys are never shown back"
    );
    assert!(stack
        .licenses(&t, "&customerEmail=imported%40example.com")
        .await
        .is_empty());

    let done = run("import").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("b-done\">created"), "{}", done.body);
    assert!(!done.body.contains("IMPORT-KEY-AAAA"));
    let imported = stack
        .licenses(&t, "&customerEmail=imported%40example.com")
        .await;
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0]["productId"], product);
    let id = imported[0]["id"].as_str().unwrap();
    assert!(done.body.contains(&format!("/dashboard/licenses/{id}")));

    // Again: nothing changes.
    let again = d
        .post_file(
            "/dashboard/import",
            &[("format", "exisone"), ("action", "import")],
            ("file", "licenses.csv", csv),
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains(">unchanged<"), "{}", again.body);
    assert_eq!(
        stack
            .licenses(&t, "&customerEmail=imported%40example.com")
            .await
            .len(),
        1
    );

    // An unreadable file is an error at the file field.
    let bad = d
        .post_file(
            "/dashboard/import",
            &[("format", "lukittu"), ("action", "dry_run")],
            ("file", "export.json", "{\"data\": 7"),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-file-error\""), "{}", bad.body);
}

#[tokio::test]
async fn the_apps_page_shows_each_apps_own_webhook_url_before_the_shared_one() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let test_app = stack.app(&t).await;
    let live_app = stack.live_app(&t).await;
    let d = stack.sign_in(&t, &owner).await;
    let page = d.get("/dashboard/apps").await;
    assert_eq!(page.status, 200);
    // Values are HTML-escaped (`/` as `&#x2f;`).
    let body = page.body.replace("&#x2f;", "/");
    let card = &body[body.find("id=\"webhook\"").expect("the webhook card")..];
    let shared = card
        .find(&format!("{}/api/stripe/webhook<", stack.base_url))
        .expect("the shared URL is still shown");
    for app in [&test_app, &live_app] {
        let own = card
            .find(&format!("{}/api/stripe/webhook/{}", stack.base_url, app.id))
            .unwrap_or_else(|| panic!("{}'s own URL is shown", app.id));
        assert!(own < shared, "{}'s own URL comes first", app.id);
    }
    assert!(card[shared..].contains("Stripe's webhook addresses"));
}

#[tokio::test]
async fn a_test_purchase_reaches_the_apps_webhook_or_says_why_not_at_the_app() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let other = stack.tenant("Other").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let app = stack.app(&t).await;
    let live_app = stack.live_app(&t).await;
    let others_app = stack.app(&other).await;
    let (status, unsigned) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "No webhook secret yet"})),
        )
        .await;
    assert_eq!(status, 201, "{unsigned}");
    let unsigned = unsigned["id"].as_str().unwrap().to_string();
    let product = stack.product(&t, json!({})).await;
    let d = stack.sign_in(&t, &owner).await;
    let order = |app_id: &str| {
        [
            ("appId", app_id.to_string()),
            ("productId", product.clone()),
            ("quantity", "2".to_string()),
            ("email", "buyer@example.com".to_string()),
            ("name", "Ada".to_string()),
        ]
    };
    let post = |app_id: String| {
        let d = &d;
        let fields = order(&app_id);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            d.post("/dashboard/test-purchase", &fields).await
        }
    };

    // Delivered as Stripe would, to the app's own webhook: verified, licenses issued.
    let page = post(app.id.clone()).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.expect("to the event's page");
    let event_id = location
        .strip_prefix("/dashboard/events/")
        .and_then(|rest| rest.strip_suffix("?test=1"))
        .unwrap_or_else(|| panic!("{location}"));
    let (status, event) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/stripe/events/{event_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["status"], "verified", "{event}");
    assert_eq!(event["appId"], app.id.as_str());
    assert_eq!(event["livemode"], false);
    assert_eq!(event["licenseIds"].as_array().unwrap().len(), 2, "{event}");
    assert_eq!(d.get(&location).await.status, 200);
    // Posted to the app's own URL over HTTP, with an id Stripe never makes: the webhook took
    // it, and did not take it for Stripe reaching the app (only Stripe's events make it Ready).
    assert!(event_id.starts_with("evt_keyhook_"), "{event_id}");
    let seen = stack.app_view(&t, &app.id).await;
    assert!(seen["lastVerifiedEventAt"].is_null(), "{seen}");

    // Refused at the app field, with the reason, and nothing delivered.
    for (app_id, reason) in [
        (live_app.id.clone(), "is a live app"),
        (unsigned.clone(), "has no webhook signing secret yet"),
        (others_app.id.clone(), "no such Stripe app"),
        ("app_none".to_string(), "no such Stripe app"),
    ] {
        let page = post(app_id.clone()).await;
        assert_eq!(page.status, 422, "{app_id}: {}", page.body);
        let error = page
            .body
            .split("id=\"f-appId-error\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{app_id}: an error at the app field"));
        assert!(error.starts_with(reason), "{app_id}: {error}");
    }
    let (_, events) = stack.api(&t.token, "GET", "/api/stripe/events", None).await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    let (_, events) = stack
        .api(&other.token, "GET", "/api/stripe/events", None)
        .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 0, "{events}");
}

/// The Integrate page fills in the signed-in tenant's own values (its apps' webhook URLs, its
/// product ids in the Checkout call and the metadata, its tenant id and published keys in the
/// snippets), never a secret, never another tenant's.
#[tokio::test]
async fn the_integrate_page_fills_in_the_tenants_own_values_and_no_secret() {
    let stack = Stack::start().await;
    let mine = stack.tenant("Acme").await;
    let theirs = stack.tenant("Other").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&mine, &owner, Role::Owner).await;
    let app = stack.app(&mine).await;
    let other_app = stack.app(&theirs).await;
    let name = unique("Pro");
    let product = stack.product(&mine, json!({"name": name})).await;
    let other_name = unique("Theirs");
    stack.product(&theirs, json!({"name": other_name})).await;
    let (my_key, their_key) = (
        public_key(&stack, &mine).await,
        public_key(&stack, &theirs).await,
    );
    let d = stack.sign_in(&mine, &owner).await;

    let page = d.get("/dashboard/integrate").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // Values are HTML-escaped (`/` as `&#x2f;`, `"` as `&quot;`).
    let body = page
        .body
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'");
    assert!(
        body.contains("aria-current=\"page\">Integrate<"),
        "its nav entry"
    );
    assert!(
        body.contains(&format!("{}/api/stripe/webhook/{}", stack.base_url, app.id)),
        "the app's own webhook URL"
    );
    for event in [
        "checkout.session.completed",
        "invoice.paid",
        "charge.refunded",
    ] {
        assert!(
            body.contains(event),
            "{event} is among the events to select"
        );
    }
    assert!(body.contains(&name), "the product is listed");
    assert!(
        body.contains(&format!("metadata[productId]={product}")),
        "the Checkout Session call names the product id"
    );
    assert!(body.contains(&format!("productId={product}")));
    for key in [
        "product_id",
        "hwid_limit",
        "ip_limit",
        "expiration_days",
        "expiration_start",
        "planId",
    ] {
        assert!(
            body.contains(&format!("<code>{key}</code>")),
            "metadata key {key}"
        );
    }
    assert!(body.contains(&mine.id), "the tenant id");
    assert!(body.contains(&my_key), "the tenant's public key");
    // The snippets, each with the base URL, the product and the key set.
    for (lang, marker) in [
        ("rust", "Config::new("),
        ("python", "keyhook.Client("),
        ("typescript", "new Client({"),
    ] {
        let start = body
            .find(&format!("id=\"snippet-{lang}\""))
            .unwrap_or_else(|| panic!("the {lang} snippet"));
        let snippet = &body[start..start + body[start..].find("</pre>").unwrap()];
        assert!(snippet.contains(marker), "{lang}: {snippet}");
        assert!(
            snippet.contains(&format!("\"{}\"", stack.base_url)),
            "{lang}"
        );
        assert!(snippet.contains(&format!("\"{product}\"")), "{lang}");
        assert!(snippet.contains(&my_key), "{lang}: the key set");
    }
    assert!(
        body.contains("href=\"/docs\""),
        "a link to the API reference"
    );
    // Nothing secret: not the app's Stripe key or signing secret, not the API token.
    for secret in [&app.secret_key, &app.webhook_secret, &mine.token] {
        assert!(!body.contains(secret.as_str()), "a secret on the page");
    }
    assert!(!body.contains("sk_test_") && !body.contains("whsec_"));
    // Nothing of the other tenant.
    for theirs_value in [&theirs.id, &other_app.id, &other_name, &their_key] {
        assert!(
            !body.contains(theirs_value.as_str()),
            "another tenant's {theirs_value} on the page"
        );
    }
}

/// A tenant's active public signing key, as its public route publishes it.
async fn public_key(stack: &Stack, t: &TestTenant) -> String {
    let (status, key) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/tenants/{}/signing-key", t.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{key}");
    key["publicKey"].as_str().unwrap().to_string()
}

/// A page's HTML with the slashes the templates escape (`&#x2f;`) as slashes.
fn unescaped(body: &str) -> String {
    body.replace("&#x2f;", "/")
}

/// The text of `body` between `start` and the next `end`.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {body}"))
        + start.len();
    let to = body[from..].find(end).map_or(body.len(), |i| from + i);
    &body[from..to]
}

/// What stood in a new merchant's way (issue 30's walk-through), page by page: the next step
/// after each save, a test purchase that needs no typing and shows names and keys, every form
/// error listed at the top in the page's words, and a license page that says what it is.
#[tokio::test]
async fn a_new_merchants_pages_lead_to_the_next_step() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&t, &owner, Role::Owner).await;
    let d = stack.sign_in(&t, &owner).await;

    // Every bad field at once, each linked from the summary, in the page's words.
    let page = d
        .post(
            "/dashboard/products",
            &[
                ("price", "1234567890123"),
                ("trialDays", "seven"),
                ("maxDevices", "99999999999"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    let summary = between(&page.body, "id=\"error-summary\"", "</div>");
    for (field, label, message) in [
        ("name", "Name", "is required"),
        ("price", "Price", "is too large"),
        ("trialDays", "Trial days", "must be a whole number"),
        (
            "maxDevices",
            "Device limit",
            "is too large (at most 4294967295)",
        ),
    ] {
        assert!(
            summary.contains(&format!("<a href=\"#f-{field}\">{label}</a>: {message}")),
            "{field}: {summary}"
        );
    }
    assert!(summary.contains("Check these 4 fields"), "{summary}");
    // In the order the form shows them.
    let at = |label: &str| summary.find(&format!(">{label}</a>")).unwrap();
    assert!(
        at("Name") < at("Price") && at("Price") < at("Trial days"),
        "{summary}"
    );
    assert!(at("Trial days") < at("Device limit"), "{summary}");
    // The folded settings open when the form comes back with errors.
    assert!(page.body.contains("id=\"advanced\" open"), "{}", page.body);

    // A typed secret is asked for again, not silently dropped; a checkbox is named by its label.
    let page = d
        .post(
            "/dashboard/apps",
            &[
                ("name", "Shop"),
                ("publishableKey", "pk_test_"),
                ("secretKey", "sk_test_51AcmeTestKey000"),
                ("webhookSigningSecret", "whsec_1"),
                ("defaultCurrency", "USD"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    let summary = between(&page.body, "id=\"error-summary\"", "</div>");
    assert!(summary.contains("Secret key</a>: re-enter it"), "{summary}");
    assert!(!page.body.contains("sk_test_51AcmeTestKey000"));
    let page = d
        .post(
            "/dashboard/apps",
            &[
                ("name", "Shop"),
                ("secretKey", "sk_live_51AcmeLiveKey000"),
                ("defaultCurrency", "usd"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("tick “Is live”"), "{}", page.body);
    assert!(!page.body.contains("isLive: true"));
    // The currency is typed with suggestions, and case does not matter.
    assert!(page.body.contains("list=\"currency-codes\""));

    // App saved -> "Next: add a product".
    let page = d
        .post(
            "/dashboard/apps",
            &[
                ("name", "Shop"),
                ("secretKey", "sk_test_51AcmeTestKey000"),
                ("webhookSigningSecret", "whsec_51AcmeSigning000"),
                ("defaultCurrency", "EUR"),
                ("active", "on"),
                ("isDefault", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let app_page = d.get(&page.location.unwrap()).await;
    assert!(
        unescaped(&app_page.body)
            .contains("href=\"/dashboard/products/new\" data-next>Next: add a product</a>"),
        "{}",
        app_page.body
    );
    // A second, older product, so "newest" means something.
    stack.product(&t, json!({"name": "Old edition"})).await;
    // Product saved -> "Next: make a test purchase" of that product.
    let page = d
        .post("/dashboard/products", &[("name", "Studio <Pro>")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.unwrap();
    let product_id = between(&location, "/dashboard/products/", "?").to_string();
    let product_page = d.get(&location).await;
    assert!(
        unescaped(&product_page.body).contains(&format!(
            "href=\"/dashboard/test-purchase?productId={product_id}\" data-next>Next: make a test purchase</a>"
        )),
        "{}",
        product_page.body
    );

    // The test purchase opens ready to send: the default app, the newest product, the member.
    let form = d.get("/dashboard/test-purchase").await;
    assert!(
        form.body.contains(&format!(
            "<option value=\"{product_id}\" selected>Studio &lt;Pro&gt;</option>"
        )),
        "{}",
        form.body
    );
    assert!(
        form.body.contains("\" selected>Shop (default) — "),
        "{}",
        form.body
    );
    assert!(form.body.contains(&format!("value=\"{owner}\"")));
    let app_id = between(&form.body, "<option value=\"", "\"").to_string();
    let bad = d
        .post(
            "/dashboard/test-purchase",
            &[
                ("appId", &app_id),
                ("productId", &product_id),
                ("quantity", "0"),
                ("email", "nope"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let summary = between(&bad.body, "id=\"error-summary\"", "</div>");
    assert!(
        summary.contains("Quantity</a>: must be a whole number from 1 to 10")
            && summary.contains("Buyer email</a>: is not an email address"),
        "{summary}"
    );
    let sent = d
        .post(
            "/dashboard/test-purchase",
            &[
                ("appId", &app_id),
                ("productId", &product_id),
                ("email", &owner),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let result = d.get(&sent.location.unwrap()).await;
    let licenses = stack.licenses(&t, "").await;
    let license = &licenses[0];
    let key = license["key"].as_str().unwrap();
    let id = license["id"].as_str().unwrap();
    let mask: String = key
        .chars()
        .map(|c| if c == '-' { '-' } else { '•' })
        .collect();
    assert!(
        result.body.contains("Studio &lt;Pro&gt;"),
        "{}",
        result.body
    );
    assert!(
        result.body.contains(&mask),
        "the key's shape: {}",
        result.body
    );
    assert!(unescaped(&result.body).contains(&format!(
        "action=\"/dashboard/licenses/{id}/key\" data-reveal=\"key-{id}\""
    )));
    assert!(!result.body.contains(key), "the key only on request");

    // Product names wherever licenses are listed.
    for path in ["/dashboard/licenses", "/dashboard"] {
        let list = d.get(path).await;
        assert!(
            list.body.contains("<td>Studio &lt;Pro&gt;</td>"),
            "{path}: {}",
            list.body
        );
    }

    // The license page: the perpetual box as the license is, no resend once revoked.
    let path = format!("/dashboard/licenses/{id}");
    let page = d.get(&path).await;
    assert!(page.body.contains(&mask));
    assert!(
        page.body
            .contains("name=\"perpetual\" value=\"on\" checked"),
        "perpetual"
    );
    assert!(page.body.contains("value=\"resend\""));
    let both = d
        .post(
            &path,
            &[
                ("action", "save"),
                ("perpetual", "on"),
                ("expiresAt", "2031-01-31"),
            ],
        )
        .await;
    assert_eq!(both.status, 422, "a date and perpetual: {}", both.body);
    let revoked = d
        .post(&path, &[("action", "revoke"), ("confirm", "yes")])
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let page = d.get(&path).await;
    assert!(
        !page.body.contains("value=\"resend\""),
        "no resend after revoke"
    );
    let resend = d.post(&path, &[("action", "resend")]).await;
    assert_eq!(resend.status, 409, "{}", resend.body);
    // Every destructive button asks in the page (the script), none by the browser's dialog.
    let script = d.get("/dashboard/assets/dashboard.js").await;
    assert!(!script.body.contains("window.confirm"));
}
