//! Currencies: Stripe's list, shipped inactive except the tenant's apps' currencies; a tenant
//! activates, deactivates or adds codes. An app's `defaultCurrency` must not be a deactivated
//! code (setting it makes a shipped one active), and a checkout's `currency` must be active.

use serde::Deserialize;

use super::caller;
use crate::domain::currency::{self, decimals_of, is_code, Currency};
use crate::http::auth::Caller;
use crate::http::input::{bool_param, json_body, json_body_requiring, ListBody, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrencyInput {
    /// Lowercase ISO 4217; on update, if given, the code of the path (it cannot change).
    #[schemars(extend("pattern" = crate::http::schema::CURRENCY_CODE))]
    pub code: Option<String>,
    pub zero_decimal: Option<bool>,
    pub is_active: Option<bool>,
}

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["code"];

/// A page of currencies, by code.
#[derive(Debug, Clone, Default)]
pub struct CurrencyQuery {
    pub page: ListQuery,
    /// `?active=true`: active ones only.
    pub only_active: bool,
}

impl CurrencyQuery {
    pub fn from_request(req: &ApiRequest) -> Result<Self> {
        let page = ListQuery::from_request(req)?;
        let only_active = match req.query_param("active") {
            None => false,
            Some(a) => bool_param("active", a)?,
        };
        Ok(CurrencyQuery { page, only_active })
    }
}

/// The tenant's currencies (Stripe's list with the tenant's settings, its apps' currencies
/// active), by code.
pub async fn list_currencies(
    s: &Services,
    c: &Caller,
    query: CurrencyQuery,
) -> Result<ListBody<Currency>> {
    let CurrencyQuery {
        page: ListQuery { limit, cursor },
        only_active,
    } = query;
    let apps = s.store.all_tenant_apps(&c.tenant_id).await?;
    let app_currencies: Vec<&str> = apps.iter().map(|a| a.default_currency.as_str()).collect();
    let all: Vec<Currency> = currency::all_for_tenant(
        s.store.currency_settings(&c.tenant_id).await?,
        &app_currencies,
    )
    .into_iter()
    .filter(|c| !only_active || c.is_active)
    .filter(|c| {
        cursor
            .as_deref()
            .is_none_or(|after| c.code.as_str() > after)
    })
    .collect();
    let next_cursor = (all.len() > limit).then(|| all[limit - 1].code.clone());
    Ok(ListBody {
        items: all.into_iter().take(limit).collect(),
        next_cursor,
    })
}

/// `GET /api/currencies` (`?active=true` for active ones only), by code, paginated.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = CurrencyQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_currencies(s, &c, query).await?))
}

/// Adds a code Stripe's shipped list lacks.
pub async fn create_currency(s: &Services, c: &Caller, input: CurrencyInput) -> Result<Currency> {
    let code = input
        .code
        .ok_or_else(|| Error::validation("code", "is required"))?;
    if !is_code(&code) {
        return Err(Error::validation(
            "code",
            "must be a lowercase ISO 4217 code such as \"usd\" (Stripe requires lowercase)",
        ));
    }
    if currency::for_tenant(
        &code,
        s.store.currency_setting(&c.tenant_id, &code).await?,
        || false,
    )
    .is_some()
    {
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
    Ok(currency)
}

/// `POST /api/currencies`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: CurrencyInput = json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_currency(s, &c, input).await?))
}

/// Activates or deactivates a currency (and, for codes the tenant added, sets `zeroDecimal`).
pub async fn update_currency(
    s: &Services,
    c: &Caller,
    code: &str,
    input: CurrencyInput,
) -> Result<Currency> {
    let mut currency = tenant_currency(s, &c.tenant_id, code, None)
        .await?
        .ok_or_else(|| Error::not_found(format!("Currency {code}")))?;
    if input.code.as_deref().is_some_and(|c| c != code) {
        return Err(Error::conflict_at(
            "code",
            format!("cannot be changed (this is currency {code})"),
        ));
    }
    if let Some(z) = input.zero_decimal {
        if !currency.custom && z != currency.zero_decimal {
            return Err(Error::conflict_at(
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
    Ok(currency)
}

/// `PUT /api/currencies/{code}`.
pub async fn update(s: &Services, req: &ApiRequest, code: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: CurrencyInput = json_body(req)?;
    Ok(ApiResponse::ok(&update_currency(s, &c, code, input).await?))
}

/// The tenant's currency `code`, as `domain::currency::for_tenant` says; `app_currency` is a
/// currency already known to be an app's (saves listing the tenant's apps).
async fn tenant_currency(
    s: &Services,
    tenant_id: &str,
    code: &str,
    app_currency: Option<&str>,
) -> Result<Option<Currency>> {
    let setting = s.store.currency_setting(tenant_id, code).await?;
    let is_app_currency = if setting.is_some() || app_currency == Some(code) {
        app_currency == Some(code)
    } else {
        s.store
            .all_tenant_apps(tenant_id)
            .await?
            .iter()
            .any(|a| a.default_currency == code)
    };
    Ok(currency::for_tenant(code, setting, || is_app_currency))
}

/// An active currency of the tenant, or a validation error naming `field`. `app_currency` is
/// the currency of the app concerned (active unless the tenant deactivated it).
pub async fn active(
    s: &Services,
    tenant_id: &str,
    code: &str,
    field: &str,
    app_currency: Option<&str>,
) -> Result<Currency> {
    match tenant_currency(s, tenant_id, code, app_currency).await? {
        Some(c) if c.is_active => Ok(c),
        // Well formed, but at odds with the tenant's currency settings: a conflict.
        Some(_) => Err(Error::conflict_at(
            field,
            format!("currency {code} is not active; activate it with PUT /api/currencies/{code}"),
        )),
        None => Err(Error::conflict_at(
            field,
            format!("{code:?} is not a currency Keyhook knows (lowercase ISO 4217, see GET /api/currencies)"),
        )),
    }
}
