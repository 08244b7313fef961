//! Currencies. Keyhook ships Stripe's presentment currencies (lowercase ISO 4217, Stripe's
//! requirement) with their minor units: zero-decimal currencies (JPY, KRW, …) are sent to
//! Stripe as whole units, three-decimal ones (BHD, KWD, …) in thousandths, the rest in
//! hundredths.
//!
//! A tenant charges only in currencies it chose: its apps' currencies (`defaultCurrency`) are
//! active, every other one is inactive until the tenant activates it (`PUT
//! /api/currencies/{code}`); the tenant can also deactivate any of them or add codes of its own.

use serde::{Deserialize, Serialize};

/// Stripe's zero-decimal currencies.
pub const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Stripe's three-decimal currencies.
pub const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Stripe's presentment currencies, as shipped (inactive for a tenant until it activates one
/// or one of its apps charges in it).
pub const STRIPE_CURRENCIES: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb",
    "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// A currency as a tenant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Currency {
    pub code: String,
    pub zero_decimal: bool,
    /// Digits after the decimal point in Stripe amounts (0, 2 or 3).
    pub decimals: u32,
    pub is_active: bool,
    /// Added by the tenant (not one of Stripe's shipped list).
    #[serde(default)]
    pub custom: bool,
}

/// Minor-unit digits of a code, as Stripe counts them.
pub fn decimals_of(code: &str) -> u32 {
    if ZERO_DECIMAL.contains(&code) {
        0
    } else if THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

/// Whether `code` is shaped like a lowercase ISO 4217 code.
pub fn is_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase())
}

/// The shipped currencies, inactive.
pub fn shipped() -> impl Iterator<Item = Currency> {
    STRIPE_CURRENCIES.iter().map(|c| Currency {
        code: c.to_string(),
        zero_decimal: ZERO_DECIMAL.contains(c),
        decimals: decimals_of(c),
        is_active: false,
        custom: false,
    })
}

/// A tenant's currency `code`: its own setting if it has one, else the shipped currency,
/// active when one of the tenant's apps charges in it. `None` for a code neither knows.
pub fn for_tenant(
    code: &str,
    setting: Option<Currency>,
    is_app_currency: impl FnOnce() -> bool,
) -> Option<Currency> {
    if setting.is_some() {
        return setting;
    }
    let mut shipped = shipped().find(|c| c.code == code)?;
    shipped.is_active = is_app_currency();
    Some(shipped)
}

/// Every currency of a tenant, by code: the shipped list (its apps' currencies active), then
/// the tenant's own settings over it.
pub fn all_for_tenant(settings: Vec<Currency>, app_currencies: &[&str]) -> Vec<Currency> {
    let mut all: std::collections::BTreeMap<String, Currency> = shipped()
        .map(|mut c| {
            c.is_active = app_currencies.contains(&c.code.as_str());
            (c.code.clone(), c)
        })
        .collect();
    for setting in settings {
        all.insert(setting.code.clone(), setting);
    }
    all.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_is_sorted_unique_and_flags_minor_units() {
        let mut sorted = STRIPE_CURRENCIES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, STRIPE_CURRENCIES);
        for z in ZERO_DECIMAL.iter().chain(THREE_DECIMAL) {
            assert!(STRIPE_CURRENCIES.contains(z), "{z}");
        }
        assert_eq!(decimals_of("jpy"), 0);
        assert_eq!(decimals_of("krw"), 0);
        assert_eq!(decimals_of("kwd"), 3);
        assert_eq!(decimals_of("usd"), 2);
        assert!(is_code("usd") && !is_code("USD") && !is_code("usdx"));
    }

    #[test]
    fn a_tenant_starts_with_only_its_apps_currencies_active() {
        let all = all_for_tenant(Vec::new(), &["usd"]);
        let active: Vec<&str> = all
            .iter()
            .filter(|c| c.is_active)
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(active, ["usd"]);
        let mut eur = shipped().find(|c| c.code == "eur").unwrap();
        eur.is_active = true;
        let mut usd = shipped().find(|c| c.code == "usd").unwrap();
        usd.is_active = false;
        let all = all_for_tenant(vec![eur.clone(), usd], &["usd"]);
        let active: Vec<&str> = all
            .iter()
            .filter(|c| c.is_active)
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(active, ["eur"], "the tenant's own word wins");
        assert!(for_tenant("mxn", None, || false).is_some_and(|c| !c.is_active));
        assert!(for_tenant("mxn", None, || true).is_some_and(|c| c.is_active));
        assert_eq!(for_tenant("eur", Some(eur.clone()), || false), Some(eur));
        assert_eq!(for_tenant("xyz", None, || true), None);
    }
}
