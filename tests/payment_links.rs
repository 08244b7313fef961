//! "Create a payment link" (`POST /api/products/{productId}/payment-link`) and the account's
//! prices (`GET /api/stripe/apps/{appId}/prices`) against the fake Stripe: the exact forms
//! Stripe documents, one product, price and link however often the request is made, the
//! link's purchase issuing the product, and Stripe's refusals and outages.

use keyhook_shared::domain::member::Role;
use keyhook_shared::Services;
use keyhook_tests::fake_stripe::{stripe_error, FakeStripe};
use keyhook_tests::stripe::{event, session, Sale, Shape};
use keyhook_tests::{unique, with_stripe, Stack, TestApp, TestTenant};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

struct Shop {
    stripe: FakeStripe,
    stack: Stack,
    tenant: TestTenant,
    app: TestApp,
    product: String,
}

impl Shop {
    async fn open() -> Shop {
        let stripe = FakeStripe::start().await;
        let stack = Stack::start_with_stripe(&stripe.uri()).await;
        let tenant = stack.tenant("Links").await;
        let app = stack.app(&tenant).await;
        let product = stack.product(&tenant, json!({"name": "Pro Tool"})).await;
        Shop {
            stripe,
            stack,
            tenant,
            app,
            product,
        }
    }

    async fn call(&self, verb: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.stack.api(&self.tenant.token, verb, path, body).await
    }

    async fn link(&self, body: Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/api/products/{}/payment-link", self.product),
            Some(body),
        )
        .await
    }

    async fn counts(&self) -> [usize; 3] {
        let mut out = [0; 3];
        for (i, o) in ["products", "prices", "payment_links"].iter().enumerate() {
            out[i] = self.stripe.catalog_requests(o).await.len();
        }
        out
    }

    /// The link's stored object in the fake Stripe.
    fn stripe_link(&self, id: &str) -> Value {
        self.stripe.catalog().lock().unwrap().links[id].clone()
    }
}

#[tokio::test]
async fn a_payment_link_sells_the_product_and_its_purchase_issues_the_license() {
    let shop = Shop::open().await;
    let (status, link) = shop.link(json!({})).await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["appId"], shop.app.id.as_str());
    assert_eq!(link["livemode"], false, "the default test app");
    assert_eq!(link["created"], true);
    assert_eq!(
        (
            link["mode"].as_str(),
            link["currency"].as_str(),
            link["unitAmount"].as_i64()
        ),
        (Some("payment"), Some("usd"), Some(2999))
    );
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("https://buy.stripe.com/test_"), "{url}");

    // The forms, as Stripe documents them.
    let product = &shop.stripe.catalog_requests("products").await[0];
    assert_eq!(product.form["name"], "Pro Tool");
    assert_eq!(product.form["metadata[product_id]"], shop.product);
    let price = &shop.stripe.catalog_requests("prices").await[0];
    assert_eq!(
        price.form["product"],
        link["stripeProductId"].as_str().unwrap()
    );
    assert_eq!(
        (
            price.form["currency"].as_str(),
            price.form["unit_amount"].as_str()
        ),
        ("usd", "2999")
    );
    assert!(!price.form.contains_key("recurring[interval]"));
    let made = &shop.stripe.catalog_requests("payment_links").await[0];
    assert_eq!(
        made.form["line_items[0][price]"],
        link["stripePriceId"].as_str().unwrap()
    );
    assert_eq!(made.form["line_items[0][quantity]"], "1");
    assert_eq!(made.form["metadata[productId]"], shop.product);
    assert_eq!(
        made.form["payment_intent_data[metadata][productId]"],
        shop.product
    );
    for r in [product, price, made] {
        assert!(r
            .header("idempotency-key")
            .unwrap()
            .starts_with("keyhook-plink-"));
    }
    let stored = shop.stripe_link(link["paymentLinkId"].as_str().unwrap());
    assert_eq!(stored["metadata"]["productId"], shop.product);
    assert_eq!(
        stored["payment_intent_data"]["metadata"]["productId"],
        shop.product
    );

    // The product shows it, and a second request returns it: nothing new at Stripe.
    let (_, p) = shop
        .call("GET", &format!("/api/products/{}", shop.product), None)
        .await;
    assert_eq!(p["paymentLinks"][0]["url"], url, "{p}");
    let (status, again) = shop.link(json!({})).await;
    assert_eq!(
        (status, again["created"].as_bool()),
        (201, Some(false)),
        "{again}"
    );
    assert_eq!(again["paymentLinkId"], link["paymentLinkId"]);
    assert_eq!(shop.counts().await, [1, 1, 1]);

    // A buyer pays through the link: Stripe opens a Checkout Session with the link's metadata.
    let sale = Sale::one_time(stored["metadata"].clone());
    let mut completed = session(&sale, "paid");
    completed["payment_link"] = json!(link["paymentLinkId"]);
    let paid = event(
        "checkout.session.completed",
        completed,
        Shape::Basil,
        shop.stack.now(),
    );
    let (status, receipt) = shop
        .stack
        .post_event(
            &format!("/api/stripe/webhook/{}", shop.app.id),
            &paid,
            &shop.app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    let licenses = shop
        .stack
        .licenses(&shop.tenant, &format!("&productId={}", shop.product))
        .await;
    assert_eq!(licenses.len(), 1, "{licenses:?}");
    assert_eq!(licenses[0]["customerEmail"], sale.email.as_str());
}

#[tokio::test]
async fn a_double_click_makes_one_link_and_a_new_price_or_replace_makes_the_next() {
    let shop = Shop::open().await;
    let (a, b) = tokio::join!(shop.link(json!({})), shop.link(json!({})));
    assert_eq!((a.0, b.0), (201, 201), "{a:?} {b:?}");
    assert_eq!(a.1["paymentLinkId"], b.1["paymentLinkId"], "the same link");
    // However the two interleave, each object is made once at Stripe.
    let catalog = shop.stripe.catalog();
    assert_eq!(catalog.lock().unwrap().links.len(), 1);
    assert_eq!(catalog.lock().unwrap().products.len(), 1);
    // On Stripe, the second of two concurrent requests with one key is told the first is
    // still running (409): it asks again, and gets the first's link.
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(409).set_body_json(stripe_error(
            "idempotency_error",
            None,
            None,
            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through).",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&shop.stripe.server)
        .await;
    let (status, c) = shop.link(json!({"replace": true})).await;
    assert_eq!((status, c["created"].as_bool()), (201, Some(true)), "{c}");
    let tries = shop.stripe.catalog_requests("payment_links").await;
    let last_two = &tries[tries.len() - 2..];
    assert_eq!(
        last_two[0].header("idempotency-key"),
        last_two[1].header("idempotency-key")
    );
    let first = c["paymentLinkId"].as_str().unwrap().to_string();

    // A new price: a new link; the old one stops selling at the old price.
    let (status, _) = shop
        .call(
            "PUT",
            &format!("/api/products/{}", shop.product),
            Some(json!({"price": "39.00"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, second) = shop.link(json!({})).await;
    assert_eq!(
        (
            status,
            second["created"].as_bool(),
            second["unitAmount"].as_i64()
        ),
        (201, Some(true), Some(3900)),
        "{second}"
    );
    assert_ne!(second["paymentLinkId"], first.as_str());
    assert_eq!(
        shop.stripe_link(&first)["active"],
        false,
        "the old link is turned off"
    );

    // `replace`: another one, even at the same price.
    let (_, third) = shop.link(json!({"replace": true})).await;
    assert_eq!(third["created"], true);
    assert_ne!(third["paymentLinkId"], second["paymentLinkId"]);
    let (_, p) = shop
        .call("GET", &format!("/api/products/{}", shop.product), None)
        .await;
    assert_eq!(
        p["paymentLinks"].as_array().unwrap().len(),
        1,
        "one link per app"
    );
    assert_eq!(
        p["paymentLinks"][0]["paymentLinkId"],
        third["paymentLinkId"]
    );
}

#[tokio::test]
async fn a_subscription_product_links_its_mapped_recurring_price() {
    let shop = Shop::open().await;
    let monthly = shop
        .stripe
        .catalog_price("Pro monthly", "usd", 900, Some("month"), true);
    let (status, _) = shop
        .call("POST", "/api/stripe/price-mappings", Some(json!({"appId": shop.app.id, "productId": shop.product, "stripePriceId": monthly["id"]})))
        .await;
    assert_eq!(status, 201);
    let (status, link) = shop.link(json!({})).await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(
        (link["mode"].as_str(), link["unitAmount"].as_i64()),
        (Some("subscription"), Some(900))
    );
    assert_eq!(link["stripePriceId"], monthly["id"]);
    assert_eq!(link["stripeProductId"], monthly["product"]);
    // The mapped price is sold as is: no product or price made.
    assert_eq!(shop.counts().await, [0, 0, 1]);
    let made = &shop.stripe.catalog_requests("payment_links").await[0];
    assert_eq!(
        made.form["subscription_data[metadata][productId]"],
        shop.product
    );
    assert!(!made
        .form
        .keys()
        .any(|k| k.starts_with("payment_intent_data")));
}

#[tokio::test]
async fn the_price_list_shows_the_accounts_active_recurring_prices() {
    let shop = Shop::open().await;
    let monthly = shop
        .stripe
        .catalog_price("Pro", "usd", 900, Some("month"), true);
    let yearly = shop
        .stripe
        .catalog_price("Pro", "eur", 9000, Some("year"), true);
    shop.stripe
        .catalog_price("Old", "usd", 500, Some("month"), false);
    shop.stripe.catalog_price("Book", "usd", 1500, None, true);
    let path = format!("/api/stripe/apps/{}/prices?type=recurring", shop.app.id);
    let (status, list) = shop.call("GET", &path, None).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            yearly["id"].as_str().unwrap(),
            monthly["id"].as_str().unwrap()
        ],
        "newest first, only active recurring"
    );
    assert_eq!(list["items"][1]["productName"], "Pro");
    assert_eq!(list["items"][1]["interval"], "month");
    assert_eq!(list["items"][1]["unitAmount"], 900);
    assert_eq!(list["truncated"], false);
    let asked = shop
        .stripe
        .requests()
        .await
        .into_iter()
        .find(|r| r.method == "GET" && r.path == "/v1/prices")
        .unwrap();
    for pair in [
        ("type", "recurring"),
        ("active", "true"),
        ("expand[]", "data.product"),
    ] {
        assert!(
            asked
                .query
                .contains(&(pair.0.to_string(), pair.1.to_string())),
            "{:?}",
            asked.query
        );
    }
    // Past Stripe's page of 100: the next page, after the last price seen.
    for i in 0..100 {
        shop.stripe
            .catalog_price(&format!("Plan {i}"), "usd", 100 + i, Some("month"), true);
    }
    let (_, list) = shop.call("GET", &path, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 102);
    let pages: Vec<_> = shop
        .stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/prices")
        .skip(1)
        .collect();
    assert_eq!(pages.len(), 2);
    let after = pages[1].query.iter().find(|(k, _)| k == "starting_after");
    assert_eq!(
        after.map(|(_, v)| v.as_str()),
        list["items"][99]["id"].as_str()
    );
    let (status, e) = shop
        .call(
            "GET",
            &format!("/api/stripe/apps/{}/prices?type=metered", shop.app.id),
            None,
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("type")),
        "{e}"
    );
}

#[tokio::test]
async fn refusals_are_clear_and_stripe_errors_keep_stripes_words() {
    let shop = Shop::open().await;
    // An app without a secret key: named, 409, nothing sent to Stripe.
    let keyless = shop
        .stack
        .app_with(&shop.tenant, json!({"name": "Keyless", "isDefault": false}))
        .await;
    let (status, _) = shop
        .call(
            "PUT",
            &format!("/api/stripe/apps/{}", keyless.id),
            Some(json!({"secretKey": ""})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, e) = shop.link(json!({"appId": keyless.id})).await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (409, Some("appId")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"Keyless\""),
        "{e}"
    );
    let (status, e) = shop
        .call(
            "GET",
            &format!("/api/stripe/apps/{}/prices", keyless.id),
            None,
        )
        .await;
    assert_eq!(status, 409, "{e}");
    let (status, _) = shop.link(json!({"live": true})).await;
    assert_eq!(status, 409, "no default live app");
    assert_eq!(shop.counts().await, [0, 0, 0]);

    // Stripe refuses a parameter: 422 with Stripe's message.
    Mock::given(method("POST"))
        .and(path("/v1/products"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            Some("parameter_invalid"),
            Some("name"),
            "Product names cannot be longer than 250 characters.",
        )))
        .with_priority(1)
        .mount(&shop.stripe.server)
        .await;
    let (status, e) = shop.link(json!({})).await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["field"], "stripe.name");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be longer than 250"),
        "{e}"
    );

    // Stripe unreachable: 502, a clear message, nothing stored.
    let dead = with_stripe(
        Services::new(shop.stack.config(), &shop.stack.sdk),
        "http://127.0.0.1:9",
    );
    let base = shop.stack.serve_with(dead).await;
    for (verb, path) in [
        (
            "POST",
            format!("/api/products/{}/payment-link", shop.product),
        ),
        ("GET", format!("/api/stripe/apps/{}/prices", shop.app.id)),
    ] {
        let res = reqwest::Client::new()
            .request(verb.parse().unwrap(), format!("{base}{path}"))
            .bearer_auth(&shop.tenant.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 502, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_unavailable");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Stripe could not be reached"),
            "{body}"
        );
    }
    let (_, p) = shop
        .call("GET", &format!("/api/products/{}", shop.product), None)
        .await;
    assert_eq!(p["paymentLinks"], json!([]));
}

#[tokio::test]
async fn the_product_page_makes_the_link_and_shows_its_url() {
    let shop = Shop::open().await;
    let owner = format!("{}@example.com", unique("owner"));
    shop.stack.member(&shop.tenant, &owner, Role::Owner).await;
    let d = shop.stack.sign_in(&shop.tenant, &owner).await;
    let page_path = format!("/dashboard/products/{}", shop.product);
    let before = d.get(&page_path).await;
    assert_eq!(before.status, 200);
    assert!(
        before.body.contains("Create a payment link"),
        "{}",
        before.body
    );
    assert!(!before.body.contains("buy.stripe.com"));

    let made = d
        .post(
            &format!("{page_path}/payment-link"),
            &[("appId", &shop.app.id)],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(
        made.location.as_deref(),
        Some(format!("{page_path}?notice=payment_link_made#payment-link").as_str())
    );
    let (_, p) = shop
        .call("GET", &format!("/api/products/{}", shop.product), None)
        .await;
    // As the page writes it (MiniJinja escapes `/` in HTML).
    let url = p["paymentLinks"][0]["url"]
        .as_str()
        .unwrap()
        .replace('/', "&#x2f;");
    let after = d
        .get(&format!("{page_path}?notice=payment_link_made"))
        .await;
    assert!(
        after
            .body
            .contains(&format!(r#"<code id="plink-url-1">{url}</code>"#)),
        "{}",
        after.body
    );
    assert!(after.body.contains(r#"data-copy-from="plink-url-1""#));
    assert!(after.body.contains("Payment link ready"));
    // The button again: the same link, nothing new at Stripe.
    let again = d
        .post(
            &format!("{page_path}/payment-link"),
            &[("appId", &shop.app.id)],
        )
        .await;
    assert_eq!(again.status, 303);
    assert_eq!(shop.counts().await, [1, 1, 1]);

    // An app without a key: the section says so, on the product page.
    let keyless = shop
        .stack
        .app_with(&shop.tenant, json!({"name": "Keyless", "isDefault": false}))
        .await;
    shop.call(
        "PUT",
        &format!("/api/stripe/apps/{}", keyless.id),
        Some(json!({"secretKey": ""})),
    )
    .await;
    let refused = d
        .post(
            &format!("{page_path}/payment-link"),
            &[("appId", &keyless.id)],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains(r#"id="plink-error""#) && refused.body.contains("Keyless"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(&url), "the existing link still shows");

    // The apps page: the mapping form picks from the account's recurring prices.
    shop.stripe
        .catalog_price("Pro", "usd", 900, Some("month"), true);
    let apps = d.get("/dashboard/apps").await;
    assert!(
        apps.body
            .contains(r#"<select id="pm-price" name="stripePriceId" required>"#),
        "{}",
        apps.body
    );
    assert!(
        apps.body.contains("Pro — 9.00 USD &#x2f; month (price_"),
        "{}",
        apps.body
    );
    // Another app's prices, when it has no key: the text field, saying why.
    let fallback = d
        .get(&format!("/dashboard/apps?priceApp={}", keyless.id))
        .await;
    assert!(
        fallback
            .body
            .contains("has no secret key, so Keyhook cannot list its prices"),
        "{}",
        fallback.body
    );
    assert!(
        fallback
            .body
            .contains(r#"name="stripePriceId" type="text""#),
        "{}",
        fallback.body
    );
}
