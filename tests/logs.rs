//! Secrets never appear in logs: a whole purchase, with every log line captured (JSON, as in
//! Lambda), must not contain a Stripe secret, a signing secret, an API token or a license key.
//! Its own test binary, because it installs the process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use keyhook_tests::{checkout_event, Stack};
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_the_responses() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_config=info,hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info")
        .with_writer(move || writer.clone())
        .init();

    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, _) = checkout_event(&product, Some(2));
    let (status, _) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200);
    stack.drain_mail().await;
    let (_, apps) = stack
        .api(&tenant.token, "GET", "/api/stripe/apps", None)
        .await;
    let (_, diagnostics) = stack
        .api(&tenant.token, "GET", "/api/stripe/diagnostics", None)
        .await;
    // A failing request logs its error too.
    let (status, _) = stack
        .post_event("/api/stripe/webhook", &event, "whsec_wrong")
        .await;
    assert_eq!(status, 400);

    let keys: Vec<String> = stack
        .licenses(&tenant, "")
        .await
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 2);

    // End users' apps send the key itself: validate, activate, and a malformed one.
    for (path, body) in [
        (
            "/api/licenses/validate",
            json!({"licenseKey": keys[0], "productId": product}),
        ),
        (
            "/api/licenses/activate",
            json!({"licenseKey": keys[1], "productId": product, "deviceId": "laptop-1"}),
        ),
        (
            "/api/licenses/validate",
            json!({"licenseKey": format!("{}!", keys[0]), "productId": product}),
        ),
    ] {
        let res = stack
            .http
            .post(format!("{}{path}", stack.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().as_u16() < 500, "{path}");
    }
    // Admin work that handles secrets: a new API token, a new tenant key re-sealing everything.
    let (_, created) = stack
        .api(
            &tenant.token,
            "POST",
            "/api/tokens",
            Some(json!({"name": "ci"})),
        )
        .await;
    let second_token = created["token"].as_str().unwrap().to_string();
    let (_, key) = stack
        .api(&tenant.token, "POST", "/api/tenant-keys", None)
        .await;
    let activate = format!("/api/tenant-keys/{}/activate", key["id"].as_str().unwrap());
    let (status, _) = stack.api(&tenant.token, "POST", &activate, None).await;
    assert_eq!(status, 200);

    // The dashboard: a sign-in link emailed and used, a key revealed, a token created there.
    let owner = format!("{}@example.com", keyhook_tests::unique("owner"));
    stack
        .member(&tenant, &owner, keyhook_shared::domain::member::Role::Owner)
        .await;
    keyhook_shared::dashboard::team::request_link(
        &stack.services,
        &owner,
        keyhook_shared::domain::member::LinkReason::SignIn,
        None,
        None,
    )
    .await
    .unwrap();
    stack.drain_mail().await;
    let mail = stack.emails_to(&owner).await[0]["body"]
        .as_str()
        .unwrap()
        .to_string();
    let link_token: String = mail[mail.find("token=").unwrap() + 6..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let d = stack.sign_in(&tenant, &owner).await;
    let license_id = stack.licenses(&tenant, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revealed = d
        .post(&format!("/dashboard/licenses/{license_id}/key"), &[])
        .await;
    assert_eq!(revealed.status, 200);
    let created = d
        .post("/dashboard/settings/tokens", &[("name", "ui")])
        .await;
    assert_eq!(created.status, 201);
    let i = created.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let dashboard_token = created.body[i..].split('<').next().unwrap().to_string();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("dashboard sign-in with a link"));
    assert!(logs.contains("licenses issued"), "the capture works");
    assert!(logs.contains("license email sent"));
    assert!(logs.contains("tenant key activated"));
    let mut secrets = vec![
        app.webhook_secret.clone(),
        app.secret_key.clone(),
        tenant.token.clone(),
        second_token,
        link_token,
        d.cookie.split('=').nth(1).unwrap().to_string(),
        d.csrf.clone(),
        dashboard_token,
    ];
    secrets.extend(keys.iter().cloned());
    secrets.extend(keys.iter().map(|k| k.replace('-', "")));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        for body in [&apps, &diagnostics] {
            let text = body.to_string();
            if !secret.contains('-') || secret.starts_with("kh_") {
                assert!(!text.contains(secret.as_str()), "a secret is in a response");
            }
        }
    }
}
