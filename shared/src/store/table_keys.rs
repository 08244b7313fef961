//! Every primary and index key of the single table, built in one place.
//! See `docs/data-model.md` for the design and the access pattern each key serves.
//!
//! Two families:
//! - records found by a global id (`APP#…`, `PRODUCT#…`, `LICENSE#…`, `TOKEN#…`), because a
//!   request names them before we know the tenant (a webhook to an app URL, a validation of a
//!   key); they carry `tenantId`, and the store checks it on every tenant-scoped read;
//! - records that only exist inside a tenant (`TENANT#…` partition): its keys, plans,
//!   purchases and event log.
//!
//! Tenant listings go through `gsi1` (`gsi1pk = TENANT#<id>`, `gsi1sk = <KIND>#<sortable>`).

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// Sparse index of apps that can receive webhooks, by mode (`WEBHOOK#live` / `WEBHOOK#test`).
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";

/// A (pk, sk) pair.
pub type Key = (String, String);

pub fn tenant(tenant_id: &str) -> Key {
    (format!("TENANT#{tenant_id}"), "TENANT".into())
}

/// Sort key of a tenant's signing keys other than the active one (one item per tenant).
pub const SIGNING_KEY_SET: &str = "SIGNKEYSET";

pub fn tenant_partition(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

pub fn tenant_key(tenant_id: &str, key_id: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("{}{key_id}", kind::TENANT_KEY),
    )
}

pub fn token(token_hash: &str) -> Key {
    (format!("TOKEN#{token_hash}"), "TOKEN".into())
}

pub fn app(app_id: &str) -> Key {
    (format!("APP#{app_id}"), "APP".into())
}

pub fn product(product_id: &str) -> Key {
    (format!("PRODUCT#{product_id}"), "PRODUCT".into())
}

pub fn license(license_id: &str) -> Key {
    (format!("LICENSE#{license_id}"), "LICENSE".into())
}

pub fn purchase(tenant_id: &str, purchase_ref: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("PURCHASE#{purchase_ref}"),
    )
}

/// The claim on a subscription's first purchase: names the purchase that issued it.
pub fn first_purchase(tenant_id: &str, subscription_id: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("FIRST#{subscription_id}"),
    )
}

pub fn event(tenant_id: &str, event_id: &str) -> Key {
    (tenant_partition(tenant_id), format!("EVENT#{event_id}"))
}

/// What is known of one device for one product, across licenses (ever activated? its trial),
/// by the device id's hash (`DeviceId::key_hash`). Its own partition: written on activation and
/// trial start, read by trials.
pub fn product_device(product_id: &str, device_hash: &str) -> Key {
    (
        format!("DEVICE#{product_id}#{device_hash}"),
        "DEVICE".into(),
    )
}

/// An alias of a product (`externalIds`), in its tenant's partition: one item per alias, so a
/// conditional write makes aliases unique per tenant.
pub fn product_alias(tenant_id: &str, external_id: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("{}{external_id}", kind::PRODUCT_ALIAS),
    )
}

/// What an imported license's external id became, in its tenant's partition (import is
/// idempotent per external id).
pub fn license_import(tenant_id: &str, external_id: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("{}{external_id}", kind::LICENSE_IMPORT),
    )
}

/// The global counter that hands out numeric product ids.
pub fn product_counter() -> Key {
    ("COUNTER".into(), "PRODUCT".into())
}

/// A member of a tenant's team; also in `gsi2` under `MEMBER#<email>` (an email's tenants).
pub fn member(tenant_id: &str, email: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("{}{email}", kind::MEMBER),
    )
}

/// `gsi2` partition of an email's memberships.
pub fn member_partition(email: &str) -> String {
    format!("{}{email}", kind::MEMBER)
}

/// `gsi2` partition of a buyer's licenses with one tenant (the customer portal's list): the
/// owner address normalised (`domain::member::normalize_email`), so case never hides one.
pub fn buyer_partition(tenant_id: &str, email: &str) -> String {
    format!(
        "BUYER#{tenant_id}#{}",
        crate::domain::member::normalize_email(email)
    )
}

/// A dashboard session, by the SHA-256 of its cookie.
pub fn session(session_hash: &str) -> Key {
    (format!("SESSION#{session_hash}"), "SESSION".into())
}

/// A customer-portal session (`domain::portal::PortalSession`), by the SHA-256 of its cookie:
/// its own partition family, so no dashboard session read can find it.
pub fn portal_session(session_hash: &str) -> Key {
    (format!("PSESSION#{session_hash}"), "PSESSION".into())
}

/// A buyer's contact-change request (`domain::contact_change`), by its id (`ccr_…`).
pub fn contact_change_request(request_id: &str) -> Key {
    (format!("CONTACT#{request_id}"), "REQUEST".into())
}

/// A contact-change confirmation link, by the SHA-256 of its token.
pub fn contact_change_link(token_hash: &str) -> Key {
    (format!("CONTACT#{token_hash}"), "LINK".into())
}

/// A one-time link (`domain::one_time_link`), by the SHA-256 of its token.
pub fn one_time_link(token_hash: &str) -> Key {
    (format!("SIGNIN#{token_hash}"), "SIGNIN".into())
}

/// A request to email a sign-in link (`sir_…`), read by the mailer. In the links' partition
/// family (`SIGNIN#`), which is all of the table the mailer writes besides email state.
pub fn sign_in_request(request_id: &str) -> Key {
    (format!("SIGNIN#{request_id}"), "REQUEST".into())
}

/// A rate-limit counter: one per scope, subject (hashed) and time window.
pub fn rate_window(scope: &str, subject_hash: &str, window: i64) -> Key {
    (format!("RATE#{scope}#{subject_hash}"), window.to_string())
}

/// The attribute DynamoDB's time to live reads (epoch seconds).
pub const TTL: &str = "ttl";

/// Partition of the webhook-matching index for one mode.
pub fn webhook_partition(is_live: bool) -> String {
    format!("WEBHOOK#{}", if is_live { "live" } else { "test" })
}

/// A day's license timers (`TIMER#2026-11-24`): licenses that turn expired or suspended by
/// themselves that day, read by the sweep (sort key `<at>#<licenseId>#<kind>`).
pub fn timer_partition(day: &str) -> String {
    format!("TIMER#{day}")
}

/// How far the timer sweep has read.
pub fn sweep_mark() -> Key {
    ("SWEEP".into(), "TIMERS".into())
}

/// How far reconciliation with Stripe has read one app's events.
pub fn reconcile_mark(tenant_id: &str, app_id: &str) -> Key {
    (
        tenant_partition(tenant_id),
        format!("{}{app_id}", kind::RECONCILE),
    )
}

/// Sort-key prefixes of tenant listings in `gsi1`.
pub mod listing {
    pub const APPS: &str = "APP#";
    pub const PRODUCTS: &str = "PRODUCT#";
    pub const LICENSES: &str = "LICENSE#";
    pub const TOKENS: &str = "TOKEN#";
    pub const EVENTS: &str = "EVENT#";
    /// Webhook deliveries, per endpoint: `WHDLV#<endpointId>#<createdAt>#<deliveryId>`.
    pub const DELIVERIES: &str = "WHDLV#";
}

/// Sort-key prefixes of the records that live in a tenant's partition.
pub mod kind {
    pub const PLAN: &str = "PLAN#";
    pub const PRICE_MAPPING: &str = "PRICEMAP#";
    pub const CURRENCY: &str = "CURRENCY#";
    pub const TENANT_KEY: &str = "TKEY#";
    pub const SUBSCRIPTION: &str = "SUB#";
    /// Checkout sessions Keyhook created, by Stripe session id (`CHECKOUT#cs_…`).
    pub const CHECKOUT_SESSION: &str = "CHECKOUT#";
    /// A product's alias (`ALIAS#<externalId>`).
    pub const PRODUCT_ALIAS: &str = "ALIAS#";
    /// An imported license's external id (`IMPORT#<externalId>`).
    pub const LICENSE_IMPORT: &str = "IMPORT#";
    /// Dashboard members, by email (`MEMBER#<email>`).
    pub const MEMBER: &str = "MEMBER#";
    /// Outgoing webhook endpoints (`WHEP#<endpointId>`).
    pub const WEBHOOK_ENDPOINT: &str = "WHEP#";
    /// Outgoing webhook deliveries (`WHDLV#<deliveryId>`).
    pub const DELIVERY: &str = "WHDLV#";
    /// Reconciliation watermarks, per Stripe app (`RECONCILE#<appId>`).
    pub const RECONCILE: &str = "RECONCILE#";
}
