//! Choosing what a session sells and through which Stripe app:
//! - the app: `appId` when given, else the app of the chosen price mapping, else the tenant's
//!   default app — the **live** default when the tenant has one, the test default only when it
//!   has no live default (so a live storefront never silently opens test-mode sessions); it
//!   must be active;
//! - the mode: a price mapping (given, or the product's only one for that app) makes it a
//!   subscription, otherwise a one-time payment; `mode` in the request forces either;
//! - the quantity: 1 to [`MAX_LICENSES_PER_PURCHASE`].

use super::{CheckoutMode, Refusal};
use crate::domain::purchase::MAX_LICENSES_PER_PURCHASE;
use crate::domain::{PriceMapping, StripeApp};

/// What a session sells.
#[derive(Debug, Clone, Copy)]
pub enum Sale<'a> {
    /// The product at its own price (`price_data`).
    OneTime,
    /// A mapped Stripe recurring price.
    Subscription(&'a PriceMapping),
}

impl Sale<'_> {
    pub fn mode(&self) -> CheckoutMode {
        match self {
            Sale::OneTime => CheckoutMode::Payment,
            Sale::Subscription(_) => CheckoutMode::Subscription,
        }
    }
}

/// Licenses per purchase: 1 when absent. The contract allows up to 100, but one purchase
/// issues its licenses in one DynamoDB transaction, hence the lower bound of the two.
pub fn quantity(requested: Option<i64>) -> Result<u32, Refusal> {
    let max = MAX_LICENSES_PER_PURCHASE;
    match requested {
        None => Ok(1),
        Some(q) if (1..=i64::from(max)).contains(&q) => Ok(q as u32),
        Some(q) => Err(Refusal::Quantity { got: q, max }),
    }
}

/// The tenant's default app: the live default if there is one, else the test default. A
/// default of the chosen mode that is inactive is refused (never replaced by the other mode's).
pub fn default_app(apps: &[StripeApp]) -> Result<&StripeApp, Refusal> {
    let default_of = |live: bool| {
        let mut of_mode = apps.iter().filter(|a| a.is_default && a.is_live == live);
        // One default per mode is the rule; an active one wins if old data has two.
        of_mode
            .clone()
            .find(|a| a.active)
            .or_else(|| of_mode.next())
    };
    match default_of(true).or_else(|| default_of(false)) {
        Some(app) => usable(app),
        None => Err(Refusal::NoDefaultApp),
    }
}

/// Refuses apps that cannot sell (inactive).
pub fn usable(app: &StripeApp) -> Result<&StripeApp, Refusal> {
    if app.active {
        Ok(app)
    } else {
        Err(Refusal::AppInactive(app.id.clone()))
    }
}

/// Refuses a mapping the request named that does not sell this product.
pub fn check_mapping<'a>(
    mapping: &'a PriceMapping,
    product_id: &str,
) -> Result<&'a PriceMapping, Refusal> {
    if mapping.product_id != product_id {
        return Err(Refusal::MappingOfOtherProduct {
            mapping: mapping.id.clone(),
            mapping_product: mapping.product_id.clone(),
            product: product_id.into(),
        });
    }
    Ok(mapping)
}

/// Refuses a mapping of another app than the one the session goes through.
pub fn check_mapping_app(mapping: &PriceMapping, app_id: &str) -> Result<(), Refusal> {
    if mapping.app_id != app_id {
        return Err(Refusal::MappingOfOtherApp {
            mapping: mapping.id.clone(),
            mapping_app: mapping.app_id.clone(),
            app: app_id.into(),
        });
    }
    Ok(())
}

/// The sale, from the requested mode, the mapping the request named (already checked), and
/// the tenant's mappings (only consulted when neither decides).
pub fn sale<'a>(
    requested: Option<CheckoutMode>,
    named: Option<&'a PriceMapping>,
    product_id: &str,
    app_id: &str,
    mappings: &'a [PriceMapping],
) -> Result<Sale<'a>, Refusal> {
    match (requested, named) {
        (Some(CheckoutMode::Payment), Some(_)) => Err(Refusal::PaymentWithMapping),
        (Some(CheckoutMode::Payment), None) => Ok(Sale::OneTime),
        (_, Some(m)) => Ok(Sale::Subscription(m)),
        (requested, None) => {
            let candidates: Vec<&PriceMapping> = mappings
                .iter()
                .filter(|m| m.product_id == product_id && m.app_id == app_id)
                .collect();
            match candidates.as_slice() {
                [] if requested == Some(CheckoutMode::Subscription) => Err(Refusal::NoMapping {
                    product: product_id.into(),
                    app: app_id.into(),
                }),
                [] => Ok(Sale::OneTime),
                [only] => Ok(Sale::Subscription(only)),
                several => Err(Refusal::SeveralMappings {
                    product: product_id.into(),
                    app: app_id.into(),
                    count: several.len(),
                    ids: several
                        .iter()
                        .map(|m| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, active: bool, is_default: bool) -> StripeApp {
        let now = crate::time::now();
        StripeApp {
            id: id.into(),
            tenant_id: "t".into(),
            name: id.into(),
            publishable_key: None,
            secret_key_sealed: None,
            webhook_secret_sealed: None,
            previous_webhook_secret_sealed: None,
            default_currency: "usd".into(),
            is_live: false,
            active,
            is_default,
            connect: Default::default(),
            link: Default::default(),
            created_at: now,
            updated_at: now,
        }
    }

    fn mapping(id: &str, product: &str, app: &str) -> PriceMapping {
        let now = crate::time::now();
        PriceMapping {
            id: id.into(),
            tenant_id: "t".into(),
            app_id: app.into(),
            product_id: product.into(),
            stripe_price_id: format!("price_{id}"),
            display_name: None,
            display_price: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn quantity_defaults_to_one_and_stays_within_one_transaction() {
        assert_eq!(quantity(None), Ok(1));
        assert_eq!(quantity(Some(98)), Ok(98));
        for bad in [0, -1, 99, 100, i64::MAX] {
            assert_eq!(
                quantity(Some(bad)),
                Err(Refusal::Quantity { got: bad, max: 98 })
            );
        }
    }

    #[test]
    fn the_default_app_must_be_active() {
        let apps = [app("a", true, false), app("b", true, true)];
        assert_eq!(default_app(&apps).unwrap().id, "b");
        let apps = [app("a", true, false), app("b", false, true)];
        assert_eq!(
            default_app(&apps).unwrap_err(),
            Refusal::AppInactive("b".into())
        );
        assert_eq!(
            default_app(&[app("a", true, false)]).unwrap_err(),
            Refusal::NoDefaultApp
        );
        assert_eq!(default_app(&[]).unwrap_err(), Refusal::NoDefaultApp);
        assert!(usable(&app("x", false, true)).is_err());
    }

    #[test]
    fn the_live_default_wins_over_an_older_test_default() {
        let live = |id, active| StripeApp {
            is_live: true,
            ..app(id, active, true)
        };
        // The test app is older (first); the live default is chosen regardless.
        let apps = [app("test", true, true), live("live", true)];
        assert_eq!(default_app(&apps).unwrap().id, "live");
        let apps = [live("live", true), app("test", true, true)];
        assert_eq!(default_app(&apps).unwrap().id, "live");
        // Only a test default: it is used.
        assert_eq!(default_app(&[app("test", true, true)]).unwrap().id, "test");
        // An inactive live default is refused, not swapped for the test one.
        let apps = [app("test", true, true), live("live", false)];
        assert_eq!(
            default_app(&apps).unwrap_err(),
            Refusal::AppInactive("live".into())
        );
    }

    #[test]
    fn a_named_mapping_must_sell_the_product_through_the_app() {
        let m = mapping("pm1", "42", "app1");
        assert!(check_mapping(&m, "42").is_ok());
        assert_eq!(
            check_mapping(&m, "43").unwrap_err().field(),
            "priceMappingId"
        );
        assert!(check_mapping_app(&m, "app1").is_ok());
        assert!(matches!(
            check_mapping_app(&m, "app2"),
            Err(Refusal::MappingOfOtherApp { .. })
        ));
    }

    /// The mapping a sale picked (`None` for one-time).
    fn picked(s: Result<Sale<'_>, Refusal>) -> Result<Option<String>, Refusal> {
        s.map(|s| match s {
            Sale::OneTime => None,
            Sale::Subscription(m) => Some(m.id.clone()),
        })
    }

    #[test]
    fn the_mode_follows_the_mappings_unless_requested() {
        let none: [PriceMapping; 0] = [];
        let one = [mapping("pm1", "42", "app1"), mapping("pm2", "42", "other")];
        let two = [mapping("pm1", "42", "app1"), mapping("pm2", "42", "app1")];
        let payment = Some(CheckoutMode::Payment);
        assert_eq!(picked(sale(None, None, "42", "app1", &none)), Ok(None));
        assert_eq!(
            picked(sale(None, None, "42", "app1", &one)),
            Ok(Some("pm1".into()))
        );
        let err = sale(None, None, "42", "app1", &two).unwrap_err();
        assert!(err.to_string().contains("pm1, pm2"), "{err}");
        assert_eq!(err.field(), "priceMappingId");
        assert_eq!(picked(sale(payment, None, "42", "app1", &two)), Ok(None));
        assert_eq!(
            picked(sale(
                Some(CheckoutMode::Subscription),
                None,
                "42",
                "app1",
                &none
            )),
            Err(Refusal::NoMapping {
                product: "42".into(),
                app: "app1".into()
            })
        );
        assert_eq!(
            picked(sale(None, Some(&two[1]), "42", "app1", &none)),
            Ok(Some("pm2".into()))
        );
        assert_eq!(
            picked(sale(payment, Some(&two[1]), "42", "app1", &none)),
            Err(Refusal::PaymentWithMapping)
        );
    }
}
