//! Money on our side is a decimal string (`"29.99"`); Stripe wants integer minor units.

use crate::{Error, Result};

/// Validates a non-negative decimal price with at most `max_decimals` fraction digits and
/// returns it normalised (no leading `+`, no surrounding spaces).
pub fn parse_price(field: &str, input: &str, max_decimals: u32) -> Result<String> {
    let s = input.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let valid = !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty());
    if !valid {
        return Err(Error::validation(
            field,
            format!("must be a non-negative decimal such as \"29.99\", got {input:?}"),
        ));
    }
    if frac.len() as u32 > max_decimals {
        return Err(Error::validation(
            field,
            format!("has more than {max_decimals} decimal places"),
        ));
    }
    Ok(s.to_string())
}

/// The amount in Stripe's minor units: `price × 10^decimals` (zero-decimal currencies: whole units).
pub fn to_minor_units(price: &str, decimals: u32) -> Result<i64> {
    let (int, frac) = price.split_once('.').unwrap_or((price, ""));
    if frac.len() as u32 > decimals {
        return Err(Error::validation(
            "price",
            format!("has more decimals than the currency allows ({decimals})"),
        ));
    }
    let padded = format!("{int}{frac:0<width$}", width = decimals as usize);
    padded
        .parse::<i64>()
        .map_err(|_| Error::validation("price", "is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_convert() {
        assert_eq!(parse_price("price", "29.99", 2).unwrap(), "29.99");
        assert_eq!(to_minor_units("29.99", 2).unwrap(), 2999);
        assert_eq!(to_minor_units("29.9", 2).unwrap(), 2990);
        assert_eq!(to_minor_units("1500", 0).unwrap(), 1500);
        assert!(to_minor_units("15.5", 0).is_err());
        assert!(parse_price("price", "-1", 2).is_err());
        assert!(parse_price("price", "1.", 2).is_err());
        assert!(parse_price("price", "1.234", 2).is_err());
        assert!(parse_price("price", "abc", 2).is_err());
    }
}
