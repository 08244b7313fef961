//! Licenses as merchants see them, keys included (opened from their sealed form).

use serde::Serialize;

use super::{caller, ts};
use crate::crypto::SealContext;
use crate::domain::license::Device;
use crate::domain::{EmailStatus, License, LicenseSource, LicenseStatus};
use crate::handlers::webhook::LICENSE_KEY_FIELD;
use crate::http::input::pagination;
use crate::http::{ApiRequest, ApiResponse};
use crate::store::Filter;
use crate::{Error, Result, Services};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseView {
    pub id: String,
    pub key: String,
    pub product_id: String,
    pub status: LicenseStatus,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub expires_at: Option<String>,
    pub max_devices: u32,
    pub max_ips: u32,
    pub devices: Vec<Device>,
    pub source: LicenseSource,
    pub email_status: EmailStatus,
    pub created_at: String,
}

async fn view(s: &Services, l: License) -> Result<LicenseView> {
    let key = s
        .keyring
        .open_secret(
            SealContext {
                tenant_id: &l.tenant_id,
                owner: &l.id,
                field: LICENSE_KEY_FIELD,
            },
            &l.key_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal(format!("license {} key does not open", l.id)))?;
    Ok(LicenseView {
        id: l.id,
        key: key.expose().to_string(),
        product_id: l.product_id,
        status: l.status,
        customer_email: l.customer_email,
        customer_name: l.customer_name,
        expires_at: l.expires_at.map(ts),
        max_devices: l.max_devices,
        max_ips: l.max_ips,
        devices: l.devices,
        source: l.source,
        email_status: l.email_status,
        created_at: ts(l.created_at),
    })
}

pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let l = s
        .store
        .get_tenant_license(&c.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("License {id}")))?;
    Ok(ApiResponse::ok(&view(s, l).await?))
}

/// `GET /api/licenses?productId=&customerEmail=&status=`, newest first.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (limit, cursor) = pagination(req)?;
    let mut filters = Vec::new();
    for (param, attribute) in [
        ("productId", "productId"),
        ("customerEmail", "customerEmail"),
        ("status", "status"),
    ] {
        if let Some(v) = req.query_param(param) {
            filters.push(Filter {
                attribute,
                value: v.to_string(),
            });
        }
    }
    if let Some(st) = req.query_param("status") {
        if !["active", "suspended", "revoked", "expired"].contains(&st) {
            return Err(Error::validation(
                "status",
                "must be one of active, suspended, revoked, expired",
            ));
        }
    }
    let page = s
        .store
        .list_licenses(&c.tenant_id, limit, cursor.as_deref(), &filters)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for l in page.items {
        items.push(view(s, l).await?);
    }
    Ok(ApiResponse::ok(&crate::http::input::ListBody {
        items,
        next_cursor: page.next_cursor,
    }))
}
