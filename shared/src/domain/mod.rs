//! Plain types and rules, no I/O. What is stored is exactly these types (see `store`); what the
//! HTTP API shows of them is built in `handlers` (secrets never leave this side).

pub mod activity;
pub mod checkout;
pub mod contact_change;
pub mod currency;
pub mod event_log;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod license;
pub mod license_key;
pub mod member;
pub mod money;
pub mod one_time_link;
pub mod patterns;
pub mod plan;
pub mod portal;
pub mod portal_links;
pub mod price_mapping;
pub mod product;
pub mod purchase;
pub mod self_service;
pub mod signing_key;
pub mod stripe_app;
pub mod stripe_events;
pub mod subscription;
pub mod tenant;
pub mod validation;
pub mod webhooks;

pub use currency::Currency;
pub use event_log::{EventLogEntry, EventSource, EventStatus};
pub use license::{EmailStatus, License, LicenseSource, LicenseStatus};
pub use license_key::LicenseKey;
pub use plan::Plan;
pub use price_mapping::PriceMapping;
pub use product::{EmailTemplate, ExpirationStart, ListedProducts, Product, RenewalMode};
pub use purchase::Purchase;
pub use stripe_app::{AppStatus, StripeApp};
pub use tenant::{ApiToken, Tenant, TenantKeyRecord};
