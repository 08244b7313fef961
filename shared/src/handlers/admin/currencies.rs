//! Currencies: Stripe's list, seeded; a tenant adds codes or deactivates them. An app's
//! `defaultCurrency` and a checkout's `currency` must be active codes.

use serde::Deserialize;

use super::caller;
use crate::domain::currency::{decimals_of, is_code, Currency};
use crate::http::input::{json_body, pagination, ListBody};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrencyInput {
    pub code: Option<String>,
    pub zero_decimal: Option<bool>,
    pub is_active: Option<bool>,
}

/// `GET /api/currencies` (`?active=true` for active ones only), by code, paginated.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (limit, cursor) = pagination(req)?;
    let only_active = match req.query_param("active") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(Error::validation("active", "must be true or false")),
    };
    let all: Vec<Currency> = s
        .store
        .currencies(&c.tenant_id)
        .await?
        .into_iter()
        .filter(|c| !only_active || c.is_active)
        .filter(|c| {
            cursor
                .as_deref()
                .is_none_or(|after| c.code.as_str() > after)
        })
        .collect();
    let next_cursor = (all.len() > limit).then(|| all[limit - 1].code.clone());
    Ok(ApiResponse::ok(&ListBody {
        items: all.into_iter().take(limit).collect(),
        next_cursor,
    }))
}

/// `POST /api/currencies`: adds a code Stripe's shipped list lacks.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: CurrencyInput = json_body(req)?;
    let code = input
        .code
        .ok_or_else(|| Error::validation("code", "is required"))?;
    if !is_code(&code) {
        return Err(Error::validation(
            "code",
            "must be a lowercase ISO 4217 code such as \"usd\" (Stripe requires lowercase)",
        ));
    }
    if s.store.currency(&c.tenant_id, &code).await?.is_some() {
        return Err(Error::Conflict(format!(
            "currency {code} exists; change it with PUT /api/currencies/{code}"
        )));
    }
    let zero_decimal = input.zero_decimal.unwrap_or(false);
    let currency = Currency {
        decimals: if zero_decimal { 0 } else { decimals_of(&code) },
        code,
        zero_decimal,
        is_active: input.is_active.unwrap_or(true),
        custom: true,
    };
    s.store.put_currency(&c.tenant_id, &currency).await?;
    Ok(ApiResponse::created(&currency))
}

/// `PUT /api/currencies/{code}`: activates or deactivates a currency (and, for codes the
/// tenant added, sets `zeroDecimal`).
pub async fn update(s: &Services, req: &ApiRequest, code: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: CurrencyInput = json_body(req)?;
    let mut currency = s
        .store
        .currency(&c.tenant_id, code)
        .await?
        .ok_or_else(|| Error::not_found(format!("Currency {code}")))?;
    if input.code.as_deref().is_some_and(|c| c != code) {
        return Err(Error::validation("code", "cannot be changed"));
    }
    if let Some(z) = input.zero_decimal {
        if !currency.custom && z != currency.zero_decimal {
            return Err(Error::validation(
                "zeroDecimal",
                "is fixed by Stripe for its own currencies",
            ));
        }
        currency.zero_decimal = z;
        currency.decimals = if z { 0 } else { decimals_of(code).max(2) };
    }
    if let Some(a) = input.is_active {
        currency.is_active = a;
    }
    s.store.put_currency(&c.tenant_id, &currency).await?;
    Ok(ApiResponse::ok(&currency))
}

/// An active currency of the tenant, or a validation error naming `field`.
pub async fn active(s: &Services, tenant_id: &str, code: &str, field: &str) -> Result<Currency> {
    match s.store.currency(tenant_id, code).await? {
        Some(c) if c.is_active => Ok(c),
        Some(_) => Err(Error::validation(field, format!("currency {code} is not active"))),
        None => Err(Error::validation(
            field,
            format!("{code:?} is not a currency Keyhook knows (lowercase ISO 4217, see GET /api/currencies)"),
        )),
    }
}
