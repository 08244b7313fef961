//! The facts of a mapped Stripe price (currency, unit amount, recurring or not), fetched once
//! per process with `GET /v1/prices/{id}`: Stripe never lets them change, so a warm Lambda
//! creates a subscription session with a single call to Stripe.

use std::sync::{Arc, LazyLock};

use crate::cache::LazyCache;
use crate::crypto::Secret;
use crate::stripe::checkout::PriceFacts;
use crate::stripe::client::Form;
use crate::{Result, Services};

/// Prices by (app id, price id). Bounded: an entry is a few dozen bytes.
static PRICES: LazyLock<LazyCache<(String, String), Arc<PriceFacts>>> =
    LazyLock::new(|| LazyCache::bounded(10_000));

/// The price's facts, from the cache or from Stripe with the app's key.
pub async fn facts(
    s: &Services,
    secret: &Secret,
    app_id: &str,
    price_id: &str,
) -> Result<Arc<PriceFacts>> {
    let key = (app_id.to_string(), price_id.to_string());
    if let Some(f) = PRICES.get(&key) {
        return Ok(f);
    }
    let body = s
        .stripe
        .get(secret, &format!("prices/{price_id}"), &Form::new())
        .await?;
    let facts = Arc::new(PriceFacts::from_json(&body)?);
    PRICES.insert(key, Arc::clone(&facts));
    Ok(facts)
}
