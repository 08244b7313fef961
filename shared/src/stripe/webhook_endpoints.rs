//! Webhook endpoints in a merchant's Stripe account (`/v1/webhook_endpoints`): list, read,
//! create, update, delete. Stripe returns an endpoint's signing secret only in the create
//! answer; it is kept as a [`Secret`] from there on.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::client::{Form, StripeClient, StripeError};
use crate::crypto::Secret;

/// The parts of Stripe's `webhook_endpoint` object Keyhook uses.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Only in the answer to a create.
    #[serde(default, deserialize_with = "secret")]
    pub secret: Option<Secret>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

impl WebhookEndpoint {
    pub fn enabled(&self) -> bool {
        self.status == "enabled"
    }
}

/// What an endpoint is made or changed to.
pub struct EndpointSpec<'a> {
    pub url: &'a str,
    pub enabled_events: &'a [&'a str],
    pub description: &'a str,
    /// `metadata[…]` pairs.
    pub metadata: &'a [(&'a str, &'a str)],
}

impl EndpointSpec<'_> {
    fn form(&self) -> Form {
        let mut form = Form::new()
            .set("url", self.url)
            .set("description", self.description);
        for e in self.enabled_events {
            form = form.set("enabled_events[]", e);
        }
        for (k, v) in self.metadata {
            form = form.set(format!("metadata[{k}]"), v);
        }
        form
    }
}

fn read(body: Value) -> Result<WebhookEndpoint, StripeError> {
    serde_json::from_value(body).map_err(|e| {
        StripeError::Unreachable(format!(
            "Stripe's webhook endpoint object did not read: {e}"
        ))
    })
}

/// Every endpoint of the account (`GET /v1/webhook_endpoints`, all pages).
pub async fn list(
    client: &StripeClient,
    key: &Secret,
) -> Result<Vec<WebhookEndpoint>, StripeError> {
    let mut all = Vec::new();
    let mut starting_after: Option<String> = None;
    loop {
        let form = Form::new()
            .set("limit", 100)
            .set_opt("starting_after", starting_after.as_deref());
        let page = client.get(key, "webhook_endpoints", &form).await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for e in data {
            all.push(read(e)?);
        }
        starting_after = all.last().map(|e| e.id.clone());
        if page["has_more"] != true || starting_after.is_none() {
            return Ok(all);
        }
    }
}

/// One endpoint (`GET /v1/webhook_endpoints/{id}`); Stripe answers 404 `resource_missing` for
/// one deleted.
pub async fn retrieve(
    client: &StripeClient,
    key: &Secret,
    id: &str,
) -> Result<WebhookEndpoint, StripeError> {
    read(
        client
            .get(key, &format!("webhook_endpoints/{id}"), &Form::new())
            .await?,
    )
}

/// Creates an endpoint; the answer carries its signing secret (the only time Stripe gives it).
pub async fn create(
    client: &StripeClient,
    key: &Secret,
    spec: &EndpointSpec<'_>,
    idempotency_key: &str,
) -> Result<WebhookEndpoint, StripeError> {
    read(
        client
            .post(key, "webhook_endpoints", &spec.form(), idempotency_key)
            .await?,
    )
}

/// Sets an endpoint's URL, events, description and metadata, and enables it.
pub async fn update(
    client: &StripeClient,
    key: &Secret,
    id: &str,
    spec: &EndpointSpec<'_>,
    idempotency_key: &str,
) -> Result<WebhookEndpoint, StripeError> {
    let form = spec.form().set("disabled", "false");
    read(
        client
            .post(
                key,
                &format!("webhook_endpoints/{id}"),
                &form,
                idempotency_key,
            )
            .await?,
    )
}

/// Deletes an endpoint; one already gone counts as deleted.
pub async fn delete(client: &StripeClient, key: &Secret, id: &str) -> Result<(), StripeError> {
    match client.delete(key, &format!("webhook_endpoints/{id}")).await {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Stripe's "no such object" (404 `resource_missing`).
pub fn is_missing(e: &StripeError) -> bool {
    matches!(e, StripeError::Api { status: 404, .. })
        || matches!(e, StripeError::Api { code: Some(c), .. } if c == "resource_missing")
}

/// A restricted key lacking a permission: Stripe answers 403.
pub fn is_permission(e: &StripeError) -> bool {
    matches!(e, StripeError::Api { status: 403, .. })
}

/// Stripe refusing the endpoint's URL (not public, not https in live mode, …): 400 on `url`.
pub fn is_url_refused(e: &StripeError) -> bool {
    matches!(e, StripeError::Api { status: 400, param: Some(p), .. } if p == "url")
        || matches!(e, StripeError::Api { status: 400, code: Some(c), .. } if c == "url_invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stripes_object_and_keeps_the_secret_a_secret() {
        let mut fixture: Value = serde_json::from_str(include_str!(
            "../../../events/stripe/objects/webhook_endpoint.json"
        ))
        .unwrap();
        let e = read(fixture.clone()).unwrap();
        assert!(e.enabled() && e.secret.is_none());
        assert_eq!(e.enabled_events, ["charge.failed", "charge.succeeded"]);
        fixture["secret"] = "whsec_abc".into();
        let e = read(fixture).unwrap();
        assert_eq!(e.secret.as_ref().map(Secret::expose), Some("whsec_abc"));
        assert!(!format!("{e:?}").contains("whsec_abc"), "not in Debug");
    }

    #[test]
    fn the_form_names_every_event_and_the_metadata() {
        let spec = EndpointSpec {
            url: "https://k.example/api/stripe/webhook/app_1",
            enabled_events: &["invoice.paid", "charge.refunded"],
            description: "Keyhook",
            metadata: &[("keyhook_app_id", "app_1")],
        };
        let pairs = spec.form();
        let pairs = pairs.pairs();
        assert!(pairs.contains(&("enabled_events[]".into(), "invoice.paid".into())));
        assert!(pairs.contains(&("enabled_events[]".into(), "charge.refunded".into())));
        assert!(pairs.contains(&("metadata[keyhook_app_id]".into(), "app_1".into())));
    }

    #[test]
    fn stripes_errors_are_told_apart() {
        let api = |status, code: Option<&str>, param: Option<&str>| StripeError::Api {
            status,
            kind: "invalid_request_error".into(),
            code: code.map(str::to_string),
            param: param.map(str::to_string),
            message: "m".into(),
        };
        assert!(is_missing(&api(404, Some("resource_missing"), Some("id"))));
        assert!(is_permission(&api(403, None, None)));
        assert!(is_url_refused(&api(400, Some("url_invalid"), Some("url"))));
        assert!(!is_url_refused(&api(400, None, Some("enabled_events"))));
    }
}
