//! Stripe's catalog on the wire: the forms of `POST /v1/products`, `POST /v1/prices` and
//! `POST /v1/payment_links` that sell one Keyhook product without code, and the fields Keyhook
//! reads back from them and from `GET /v1/prices` (the account's prices, products expanded).
//!
//! What makes a Payment Link's purchases issue the right license is its metadata, read by the
//! webhook as for a Checkout Session Keyhook made ([`super::checkout`]): `productId` on the
//! link (Stripe copies a link's metadata to each Checkout Session it opens) and on the object
//! that outlives the session (`payment_intent_data[metadata]` for one-time links,
//! `subscription_data[metadata]` for subscriptions: read on every renewal). The Stripe Product
//! also carries `product_id` (Lukittu's key, read from line items), so a sale of it through any
//! other checkout issues the same product.

use serde_json::Value;

use super::client::{Form, StripeError};

/// The form of `POST /v1/products`: the Keyhook product's name, and its id as `product_id`.
pub fn product_form(name: &str, product_id: &str) -> Form {
    Form::new()
        .set("name", name)
        .set("metadata[product_id]", product_id)
}

/// The form of `POST /v1/prices`: a one-time price of `unit_amount` (minor units) in
/// `currency` for Stripe product `stripe_product`.
pub fn one_time_price_form(
    stripe_product: &str,
    currency: &str,
    unit_amount: i64,
    product_id: &str,
) -> Form {
    Form::new()
        .set("product", stripe_product)
        .set("currency", currency)
        .set("unit_amount", unit_amount)
        .set("metadata[productId]", product_id)
}

/// What a link sells: a one-time price, or a recurring one (a subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    Payment,
    Subscription,
}

impl LinkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMode::Payment => "payment",
            LinkMode::Subscription => "subscription",
        }
    }
}

/// The form of `POST /v1/payment_links`: one unit of `price`, `productId` on the link and on
/// the payment intent or subscription it makes; `confirmation` is the message Stripe shows
/// after payment (its hosted confirmation page).
pub fn payment_link_form(
    price: &str,
    mode: LinkMode,
    product_id: &str,
    confirmation: Option<&str>,
) -> Form {
    let carrier = match mode {
        LinkMode::Payment => "payment_intent_data[metadata]",
        LinkMode::Subscription => "subscription_data[metadata]",
    };
    let form = Form::new()
        .set("line_items[0][price]", price)
        .set("line_items[0][quantity]", 1)
        .set("metadata[productId]", product_id)
        .set(format!("{carrier}[productId]"), product_id);
    match confirmation {
        Some(message) => form
            .set("after_completion[type]", "hosted_confirmation")
            .set(
                "after_completion[hosted_confirmation][custom_message]",
                message,
            ),
        None => form,
    }
}

/// The form that turns a link off (`POST /v1/payment_links/{id}`): its URL then shows Stripe's
/// "deactivated" page.
pub fn deactivate_form() -> Form {
    Form::new().set("active", "false")
}

fn unexpected(what: &str) -> StripeError {
    StripeError::Unreachable(format!("Stripe answered without {what}"))
}

/// An id of the expected prefix from a created object.
pub fn id_of(v: &Value, prefix: &str, what: &str) -> Result<String, StripeError> {
    v["id"]
        .as_str()
        .filter(|id| id.starts_with(prefix))
        .map(str::to_string)
        .ok_or_else(|| unexpected(what))
}

/// The fields of a created `payment_link` that Keyhook keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedLink {
    pub id: String,
    pub url: String,
    pub livemode: bool,
}

impl CreatedLink {
    pub fn from_json(v: &Value) -> Result<Self, StripeError> {
        Ok(CreatedLink {
            id: id_of(v, "plink_", "a payment link id")?,
            url: v["url"]
                .as_str()
                .filter(|u| u.starts_with("https://"))
                .ok_or_else(|| unexpected("the payment link's url"))?
                .to_string(),
            livemode: v["livemode"].as_bool().unwrap_or(false),
        })
    }
}

/// Which prices `GET /v1/prices` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceType {
    Recurring,
    OneTime,
}

impl PriceType {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceType::Recurring => "recurring",
            PriceType::OneTime => "one_time",
        }
    }
}

/// The query of one page of `GET /v1/prices`: active prices of `kind`, their products
/// expanded (for the names), 100 a page (Stripe's maximum), after `starting_after`.
pub fn price_list_query(kind: PriceType, starting_after: Option<&str>) -> Form {
    Form::new()
        .set("active", "true")
        .set("type", kind.as_str())
        .set("limit", 100)
        .set("expand[]", "data.product")
        .set_opt("starting_after", starting_after)
}

/// One price of the account, as the price picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPrice {
    pub id: String,
    /// `prod_…`.
    pub product_id: Option<String>,
    /// The product's name (`None` if Stripe did not expand it, or it was deleted).
    pub product_name: Option<String>,
    pub nickname: Option<String>,
    /// Minor units; `None` for tiered prices.
    pub unit_amount: Option<i64>,
    pub currency: String,
    /// `day`, `week`, `month` or `year` (recurring prices).
    pub interval: Option<String>,
    pub interval_count: Option<u32>,
}

impl ListedPrice {
    fn from_json(v: &Value) -> Option<Self> {
        let product = &v["product"];
        Some(ListedPrice {
            id: v["id"].as_str()?.to_string(),
            product_id: product
                .as_str()
                .or_else(|| product["id"].as_str())
                .map(str::to_string),
            product_name: product["name"]
                .as_str()
                .filter(|_| product["deleted"].as_bool() != Some(true))
                .map(str::to_string),
            nickname: v["nickname"].as_str().map(str::to_string),
            unit_amount: v["unit_amount"].as_i64(),
            currency: v["currency"].as_str()?.to_ascii_lowercase(),
            interval: v["recurring"]["interval"].as_str().map(str::to_string),
            interval_count: v["recurring"]["interval_count"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok()),
        })
    }
}

/// One page of `GET /v1/prices`: its prices, and the id to continue after when there are more.
pub fn price_page(v: &Value) -> Result<(Vec<ListedPrice>, Option<String>), StripeError> {
    let data = v["data"]
        .as_array()
        .ok_or_else(|| unexpected("a list of prices"))?;
    let prices: Vec<ListedPrice> = data.iter().filter_map(ListedPrice::from_json).collect();
    let next = if v["has_more"].as_bool() == Some(true) {
        prices.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok((prices, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn fields(form: &Form) -> BTreeMap<&str, &str> {
        form.pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn one_time_links_carry_the_product_on_the_link_and_the_payment_intent() {
        let form = payment_link_form("price_1", LinkMode::Payment, "42", Some("Thanks"));
        let f = fields(&form);
        assert_eq!(f["line_items[0][price]"], "price_1");
        assert_eq!(f["line_items[0][quantity]"], "1");
        assert_eq!(f["metadata[productId]"], "42");
        assert_eq!(f["payment_intent_data[metadata][productId]"], "42");
        assert_eq!(f["after_completion[type]"], "hosted_confirmation");
        assert!(!f.keys().any(|k| k.starts_with("subscription_data")));
        let form = payment_link_form("price_2", LinkMode::Subscription, "42", None);
        let f = fields(&form);
        assert_eq!(f["subscription_data[metadata][productId]"], "42");
        // Stripe refuses payment_intent_data on a link with a recurring price.
        assert!(!f.keys().any(|k| k.starts_with("payment_intent_data")));
        assert!(!f.keys().any(|k| k.starts_with("after_completion")));
    }

    #[test]
    fn products_and_prices_name_the_keyhook_product() {
        let form = product_form("Pro", "42");
        let f = fields(&form);
        assert_eq!((f["name"], f["metadata[product_id]"]), ("Pro", "42"));
        let form = one_time_price_form("prod_1", "usd", 2999, "42");
        let f = fields(&form);
        assert_eq!(f["product"], "prod_1");
        assert_eq!(f["unit_amount"], "2999");
        assert!(!f.keys().any(|k| k.starts_with("recurring")));
    }

    #[test]
    fn price_pages_are_read_from_stripes_list() {
        let page = json!({"object": "list", "has_more": true, "data": [
            {"id": "price_1", "object": "price", "currency": "USD", "unit_amount": 900,
             "nickname": null, "type": "recurring",
             "recurring": {"interval": "month", "interval_count": 1},
             "product": {"id": "prod_1", "object": "product", "name": "Pro"}},
            {"id": "price_2", "object": "price", "currency": "eur", "unit_amount": null,
             "type": "recurring", "recurring": {"interval": "year", "interval_count": 1},
             "product": "prod_2"}
        ]});
        let (prices, next) = price_page(&page).unwrap();
        assert_eq!(next.as_deref(), Some("price_2"));
        assert_eq!(prices[0].product_name.as_deref(), Some("Pro"));
        assert_eq!(prices[0].currency, "usd");
        assert_eq!(prices[1].product_id.as_deref(), Some("prod_2"));
        assert_eq!(prices[1].product_name, None);
        assert!(price_page(&json!({"error": {}})).is_err());
        let link = CreatedLink::from_json(
            &json!({"id": "plink_1", "url": "https://buy.stripe.com/test_1", "livemode": false}),
        )
        .unwrap();
        assert_eq!(link.id, "plink_1");
        assert!(CreatedLink::from_json(&json!({"id": "plink_1"})).is_err());
    }
}
