//! What a one-time session charges: the product's decimal price in the currency's minor units
//! (hundredths, whole units for zero-decimal currencies, thousandths for three-decimal ones),
//! times the quantity; and minor units written back as the decimal strings our API speaks.

use super::Refusal;
use crate::domain::money::to_minor_units;
use crate::domain::Currency;

/// Stripe's largest amount in one charge: 8 digits of minor units (999,999.99 USD).
pub const MAX_AMOUNT_MINOR: i64 = 99_999_999;

/// A one-time line item's price and total, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// Stripe's `unit_amount`.
    pub unit_amount: i64,
    /// `unit_amount × quantity`: what the buyer pays.
    pub total: i64,
}

/// The charge for `quantity` units of a product priced `price` (a validated decimal string).
pub fn one_time(
    product_id: &str,
    price: &str,
    currency: &Currency,
    quantity: u32,
) -> Result<Charge, Refusal> {
    let decimals = currency.decimals;
    let fraction = price.split_once('.').map_or("", |(_, f)| f);
    // "15.00" is 15 yen: only significant decimals are refused.
    if fraction.trim_end_matches('0').len() as u32 > decimals {
        return Err(Refusal::TooManyDecimals {
            product: product_id.into(),
            price: price.into(),
            currency: currency.code.clone(),
            decimals,
        });
    }
    let trimmed = trim_insignificant(price, decimals);
    let too_large = || Refusal::AmountTooLarge {
        product: product_id.into(),
        price: price.into(),
        currency: currency.code.clone(),
        quantity,
    };
    let unit_amount = to_minor_units(&trimmed, decimals).map_err(|_| too_large())?;
    if unit_amount == 0 {
        return Err(Refusal::ProductFree(product_id.into()));
    }
    if decimals == 3 && unit_amount % 10 != 0 {
        return Err(Refusal::ThreeDecimalRounding {
            product: product_id.into(),
            price: price.into(),
            currency: currency.code.clone(),
        });
    }
    let total = unit_amount
        .checked_mul(i64::from(quantity))
        .filter(|t| *t <= MAX_AMOUNT_MINOR)
        .ok_or_else(too_large)?;
    Ok(Charge { unit_amount, total })
}

/// Drops trailing zeros of the fraction beyond `decimals` ("15.00" → "15" for 0 decimals).
fn trim_insignificant(price: &str, decimals: u32) -> String {
    match price.split_once('.') {
        Some((int, frac)) if frac.len() as u32 > decimals => {
            let keep = &frac[..decimals as usize];
            if keep.is_empty() {
                int.to_string()
            } else {
                format!("{int}.{keep}")
            }
        }
        _ => price.to_string(),
    }
}

/// Minor units as a decimal string with the currency's digits: `2999, 2` → `"29.99"`.
pub fn decimal(minor: i64, decimals: u32) -> String {
    if decimals == 0 {
        return minor.to_string();
    }
    let sign = if minor < 0 { "-" } else { "" };
    let digits = format!(
        "{:0>width$}",
        minor.unsigned_abs(),
        width = decimals as usize + 1
    );
    let (int, frac) = digits.split_at(digits.len() - decimals as usize);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::currency::shipped;

    fn cur(code: &str) -> Currency {
        shipped().find(|c| c.code == code).unwrap()
    }

    #[test]
    fn two_decimal_currencies_charge_hundredths() {
        assert_eq!(
            one_time("42", "29.99", &cur("usd"), 1).unwrap(),
            Charge {
                unit_amount: 2999,
                total: 2999
            }
        );
        assert_eq!(one_time("42", "29.9", &cur("eur"), 3).unwrap().total, 8970);
        assert_eq!(
            one_time("42", "99", &cur("aud"), 1).unwrap().unit_amount,
            9900
        );
    }

    #[test]
    fn zero_decimal_currencies_charge_whole_units() {
        assert_eq!(one_time("42", "1500", &cur("jpy"), 2).unwrap().total, 3000);
        assert_eq!(
            one_time("42", "1500.00", &cur("krw"), 1)
                .unwrap()
                .unit_amount,
            1500
        );
        assert!(matches!(
            one_time("42", "29.99", &cur("jpy"), 1),
            Err(Refusal::TooManyDecimals { decimals: 0, .. })
        ));
    }

    #[test]
    fn three_decimal_currencies_charge_thousandths_rounded_to_ten() {
        assert_eq!(
            one_time("42", "12.34", &cur("kwd"), 1).unwrap().unit_amount,
            12340
        );
        assert!(matches!(
            one_time("42", "12.345", &cur("kwd"), 1),
            Err(Refusal::ThreeDecimalRounding { .. })
        ));
        assert!(matches!(
            one_time("42", "1.2345", &cur("bhd"), 1),
            Err(Refusal::TooManyDecimals { decimals: 3, .. })
        ));
    }

    #[test]
    fn free_and_oversized_charges_are_refused() {
        assert_eq!(
            one_time("42", "0.00", &cur("usd"), 1),
            Err(Refusal::ProductFree("42".into()))
        );
        assert!(one_time("42", "999999.99", &cur("usd"), 1).is_ok());
        assert!(matches!(
            one_time("42", "999999.99", &cur("usd"), 2),
            Err(Refusal::AmountTooLarge { quantity: 2, .. })
        ));
        assert!(matches!(
            one_time("42", "99999999999999999999", &cur("usd"), 1),
            Err(Refusal::AmountTooLarge { .. })
        ));
    }

    #[test]
    fn minor_units_print_as_decimal_strings() {
        assert_eq!(decimal(2999, 2), "29.99");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(1500, 0), "1500");
        assert_eq!(decimal(12340, 3), "12.340");
        assert_eq!(decimal(0, 2), "0.00");
    }
}
