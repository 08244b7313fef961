//! `/dashboard/integrate`: everything a merchant copies into Stripe and into their app, with
//! their own values filled in: each app's webhook URL and the events to select (the manual
//! path), a Checkout Session call and Payment Link metadata naming their product ids, the
//! metadata keys Keyhook reads (from `stripe::metadata`'s own lists), and app-side snippets
//! (Rust, Python, TypeScript) carrying their tenant's published signing keys.
//!
//! Publishable data only: product ids, the webhook URLs, the tenant id and its public keys.
//! No Stripe key, signing secret, API token or license key is read for this page; the
//! Checkout call names `$STRIPE_SECRET_KEY`, the merchant's own environment variable.

use http::StatusCode;
use minijinja::context;
use serde::Serialize;

use super::session;
use super::show;
use crate::domain::stripe_events::{GROUPS as STRIPE_EVENTS, HANDLED};
use crate::handlers::admin::{apps, products};
use crate::handlers::validate::signing_key::{published_key_set, KeySetView};
use crate::http::input::ListQuery;
use crate::http::{ApiRequest, ApiResponse};
use crate::stripe::metadata::{key, EXISONE_KEYS, LUKITTU_KEYS};
use crate::{Result, Services};

/// What a snippet says when the tenant has no product yet.
const NO_PRODUCT: &str = "YOUR_PRODUCT_ID";

/// One product's line of the page: its id and the metadata that sells it.
#[derive(Debug, Serialize)]
struct ProductLine {
    id: String,
    name: String,
    archived: bool,
    /// `productId=<id>`, as the Payment Link's metadata field takes it.
    metadata: String,
}

/// The app-side snippets, one per client language.
#[derive(Debug, Serialize)]
struct Snippets {
    rust: String,
    python: String,
    typescript: String,
}

/// `GET /dashboard/integrate`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let c = me.caller();
    let (apps, products, keys) = futures::try_join!(
        apps::list_apps(s, &c, ListQuery::first(200)),
        products::list_products(s, &c, ListQuery::first(200)),
        published_key_set(s, &me.tenant_id),
    )?;
    let base = s.config.public_base_url.as_str();
    let lines: Vec<ProductLine> = products
        .items
        .iter()
        .map(|p| ProductLine {
            id: p.id.clone(),
            name: p.name.clone(),
            archived: p.archived,
            metadata: format!("{}={}", key::PRODUCT_ID, p.id),
        })
        .collect();
    // The snippets name one product: the first one still sold.
    let sample = lines
        .iter()
        .find(|p| !p.archived)
        .or(lines.first())
        .map_or(NO_PRODUCT, |p| p.id.as_str());
    let keys_json = keys_json(&keys);
    show(
        s,
        &me,
        "integrate.html",
        StatusCode::OK,
        context! {
            title => "Integrate",
            nav => "integrate",
            apps => apps.items,
            products => lines,
            sample_product => sample,
            has_product => sample != NO_PRODUCT,
            stripe_events => STRIPE_EVENTS,
            all_events => HANDLED.join("\n"),
            checkout_curl => checkout_curl(sample),
            exisone_keys => EXISONE_KEYS,
            lukittu_keys => LUKITTU_KEYS,
            tenant_id => me.tenant_id.clone(),
            signing_keys_url => format!("{base}/api/tenants/{}/signing-keys", me.tenant_id),
            public_keys => keys.keys,
            keys_json => keys_json.clone(),
            snippets => snippets(base, sample, &keys_json),
        },
    )
}

/// The key set as apps embed it: the signing-keys route's answer, on one line.
fn keys_json(keys: &KeySetView) -> String {
    serde_json::to_string(keys).expect("a key set serialises")
}

/// A Checkout Session created with Stripe's API from the merchant's server, the product id in
/// its metadata (what Keyhook reads on `checkout.session.completed`).
fn checkout_curl(product_id: &str) -> String {
    format!(
        "curl https://api.stripe.com/v1/checkout/sessions \\\n  \
         -u \"$STRIPE_SECRET_KEY:\" \\\n  \
         -d mode=payment \\\n  \
         -d \"line_items[0][price]=price_YOUR_PRICE\" \\\n  \
         -d \"line_items[0][quantity]=1\" \\\n  \
         -d \"metadata[{pid}]={product_id}\" \\\n  \
         -d \"metadata[{qty}]=1\" \\\n  \
         -d success_url=https://example.com/thanks \\\n  \
         -d cancel_url=https://example.com/cancel",
        pid = key::PRODUCT_ID,
        qty = key::QUANTITY,
    )
}

/// The clients' first lines (clients/*/README.md), with this tenant's base URL, a product id
/// and its published keys filled in.
fn snippets(base: &str, product: &str, keys: &str) -> Snippets {
    Snippets {
        rust: format!(
            "use keyhook_client::{{Client, Config}};\n\n\
             // Your public signing keys ({base}/api/tenants/…/signing-keys): safe to ship.\n\
             const KEYS: &str = r#\"{keys}\"#;\n\n\
             let config = Config::new(\"{base}\", \"{product}\", KEYS)?;\n\
             let client = Client::new(config)?;\n\
             let device = keyhook_client::fingerprint::device_id(\"{product}\")?;\n\
             let mut status = client.validate(Some(&key), &device).await?;\n\
             if status.code == \"NOT_ACTIVATED\" {{\n    \
             status = client.activate(&key, &device, None).await?;\n\
             }}\n\
             if !status.valid {{\n    \
             return Err(format!(\"license refused: {{}}\", status.code).into());\n\
             }}"
        ),
        python: format!(
            "import keyhook  # clients/python\n\n\
             # Your public signing keys: safe to ship.\n\
             KEYS = '{keys}'\n\n\
             client = keyhook.Client(\"{base}\", \"{product}\", KEYS)\n\
             device = keyhook.device_id(\"{product}\")\n\
             status = client.validate(key, device)\n\
             if status.code == \"NOT_ACTIVATED\":\n    \
             status = client.activate(key, device)\n\
             if not status.valid:\n    \
             raise SystemExit(f\"license refused: {{status.code}}\")"
        ),
        typescript: format!(
            "import {{ Client, deviceId }} from \"@keyhook/client\";  // clients/typescript\n\n\
             // Your public signing keys: safe to ship.\n\
             const KEYS = `{keys}`;\n\n\
             const client = new Client({{ baseUrl: \"{base}\", productId: \"{product}\", keys: KEYS }});\n\
             const device = deviceId(\"{product}\");\n\
             let status = await client.validate(key, device);\n\
             if (status.code === \"NOT_ACTIVATED\") status = await client.activate(key, device);\n\
             if (!status.valid) throw new Error(`license refused: ${{status.code}}`);"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippets_carry_the_values_given() {
        let keys = r#"{"keys":[{"kid":"abc","alg":"Ed25519","publicKey":"AAAA"}]}"#;
        let s = snippets("https://k.example", "42", keys);
        for code in [&s.rust, &s.python, &s.typescript] {
            assert!(code.contains("\"https://k.example\""), "{code}");
            assert!(code.contains("\"42\""), "{code}");
            assert!(code.contains(keys), "{code}");
        }
        let curl = checkout_curl("42");
        assert!(curl.contains("metadata[productId]=42"), "{curl}");
        assert!(
            curl.contains("$STRIPE_SECRET_KEY"),
            "no key on the page: {curl}"
        );
    }
}
