//! Licenses as merchants see them, keys included (opened from their sealed form).

use serde::Serialize;

use super::{caller, ts};
use crate::crypto::SealContext;
use crate::domain::activity::{self, Origin};
use crate::domain::license::Device;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::validation::leases;
use crate::domain::{EmailStatus, License, LicenseSource, LicenseStatus};
use crate::http::auth::Caller;
use crate::http::input::{bool_param, ListBody, ListQuery};
use crate::http::schema;

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["productId"];
use crate::http::{ApiRequest, ApiResponse};
use crate::store::Filter;
use crate::{Error, Result, Services};

#[derive(Debug, Serialize, schemars::JsonSchema)]
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
    /// Every product the license validates for (`productId` first).
    pub product_ids: Vec<String>,
    /// Its id in the service it was imported from.
    pub external_id: Option<String>,
    /// `false` for licenses from test-mode payments; `null` for licenses issued before Keyhook
    /// recorded the mode (validation then reads it from the issuing Stripe app).
    pub livemode: Option<bool>,
    /// Floating terms of this license (`null`: its product's).
    pub max_concurrent: Option<u32>,
    pub lease_seconds: Option<u32>,
    pub max_borrow_seconds: Option<u32>,
    pub created_at: String,
}

pub(crate) async fn view(s: &Services, l: License) -> Result<LicenseView> {
    let key = s
        .keyring
        .open_secret(
            SealContext {
                tenant_id: &l.tenant_id,
                owner: &l.id,
                field: KEY_SEAL_FIELD,
            },
            &l.key_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal(format!("license {} key does not open", l.id)))?;
    let status = l.status_at(time::OffsetDateTime::now_utc());
    let product_ids = l.product_ids();
    let livemode = l.recorded_livemode();
    Ok(LicenseView {
        id: l.id,
        key: key.expose().to_string(),
        product_id: l.product_id,
        status,
        customer_email: l.customer_email,
        customer_name: l.customer_name,
        expires_at: l.expires_at.map(ts),
        max_devices: l.max_devices,
        max_ips: l.max_ips,
        devices: l.devices,
        source: l.source,
        email_status: l.email_status,
        product_ids,
        external_id: l.external_id,
        livemode,
        max_concurrent: l.max_concurrent,
        lease_seconds: l.lease_seconds,
        max_borrow_seconds: l.max_borrow_seconds,
        created_at: ts(l.created_at),
    })
}

/// `GET /api/licenses/{id}`.
pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_license(s, &c, id).await?))
}

/// A license of the caller's tenant, key included.
pub async fn get_license(s: &Services, c: &Caller, id: &str) -> Result<LicenseView> {
    let l = s
        .store
        .get_tenant_license(&c.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("License {id}")))?;
    view(s, l).await
}

/// `GET /api/licenses/{id}/activity`.
pub async fn activity(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&license_activity(s, &c, id).await?))
}

/// A license's activity log, newest first (another tenant's license is not found).
pub async fn license_activity(s: &Services, c: &Caller, id: &str) -> Result<ActivityView> {
    let entries = s
        .store
        .get_license_activity(&c.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("License {id}")))?;
    Ok(ActivityView {
        items: activity::newest_first(entries),
    })
}

/// A license's activity log (at most `MAX_ACTIVITY` entries, the newest).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityView {
    /// Newest first.
    pub items: Vec<activity::ActivityEntry>,
}

/// An IP admitted under a license's `maxIps`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmittedIpView {
    pub ip: String,
    pub admitted_at: String,
}

/// A license's IPs admitted under `maxIps` and its activity (newest first), kept beside it in
/// the item's usage: one read for the dashboard's license page. Another tenant's: not found.
pub async fn license_usage(
    s: &Services,
    c: &Caller,
    id: &str,
) -> Result<(Vec<AdmittedIpView>, ActivityView)> {
    match s.store.get_license_with_usage(id).await? {
        Some((l, usage)) if l.tenant_id == c.tenant_id => {
            let ips = usage
                .ips
                .into_iter()
                .map(|ip| AdmittedIpView {
                    ip: ip.ip,
                    admitted_at: ts(ip.admitted_at),
                })
                .collect();
            let activity = ActivityView {
                items: activity::newest_first(usage.activity),
            };
            Ok((ips, activity))
        }
        _ => Err(Error::not_found(format!("License {id}"))),
    }
}

/// What `GET /api/licenses` lists: a page, and the filters.
#[derive(Debug, Clone, Default)]
pub struct LicenseQuery {
    pub page: ListQuery,
    pub product_id: Option<String>,
    pub customer_email: Option<String>,
    pub status: Option<LicenseStatus>,
    pub livemode: Option<bool>,
}

impl LicenseQuery {
    /// `?limit=&cursor=&productId=&customerEmail=&status=&livemode=`.
    pub fn of(req: &ApiRequest) -> Result<LicenseQuery> {
        let page = ListQuery::from_request(req)?;
        let livemode = req
            .query_param("livemode")
            .map(|m| bool_param("livemode", m))
            .transpose()?;
        let status = req.query_param("status").map(Self::status).transpose()?;
        Ok(LicenseQuery {
            page,
            product_id: req.query_param("productId").map(str::to_string),
            customer_email: req.query_param("customerEmail").map(str::to_string),
            status,
            livemode,
        })
    }

    /// The `status` filter: any status but a typo.
    pub fn status(value: &str) -> Result<LicenseStatus> {
        [
            LicenseStatus::Active,
            LicenseStatus::Suspended,
            LicenseStatus::Revoked,
            LicenseStatus::Expired,
        ]
        .into_iter()
        .find(|st| st.as_str() == value)
        .ok_or_else(|| {
            Error::validation(
                "status",
                "must be one of active, suspended, revoked, expired",
            )
        })
    }
}

/// `GET /api/licenses?productId=&customerEmail=&status=&livemode=`, newest first.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = LicenseQuery::of(req)?;
    Ok(ApiResponse::ok(&list_licenses(s, &c, query).await?))
}

/// The tenant's licenses matching `query`, newest first.
pub async fn list_licenses(
    s: &Services,
    c: &Caller,
    query: LicenseQuery,
) -> Result<ListBody<LicenseView>> {
    let mut filters = Vec::new();
    for (attribute, value) in [
        ("productId", query.product_id),
        ("customerEmail", query.customer_email),
        ("status", query.status.map(|st| st.as_str().to_string())),
        ("livemode", query.livemode.map(|m| m.to_string())),
    ] {
        if let Some(value) = value {
            filters.push(Filter { attribute, value });
        }
    }
    let page = s
        .store
        .list_licenses(
            &c.tenant_id,
            query.page.limit,
            query.page.cursor.as_deref(),
            &filters,
        )
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for l in page.items {
        items.push(view(s, l).await?);
    }
    Ok(ListBody {
        items,
        next_cursor: page.next_cursor,
    })
}

/// `POST /api/licenses`: issue a license by hand (a sale outside Stripe, a replacement).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueInput {
    /// A product of the tenant (404 when there is none).
    pub product_id: Option<String>,
    /// A plan of that product (404 when there is none).
    pub plan_id: Option<String>,
    /// `""` for none.
    #[schemars(extend("anyOf" = [{"maxLength": 0}, {"pattern": schema::EMAIL, "maxLength": schema::EMAIL_MAX_CHARS}]))]
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// Overrides the product's duration; `null` = perpetual.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>", extend("pattern" = schema::TIMESTAMP))]
    pub expires_at: Option<Option<String>>,
    pub max_devices: Option<u32>,
    pub max_ips: Option<u32>,
    /// Email the key (default: when the product has Auto Email and there is an address).
    pub send_email: Option<bool>,
    /// `false` issues a test-mode license (for trying an app before going live); default
    /// `true`: a license issued by hand is a real sale.
    pub livemode: Option<bool>,
}

fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

fn parse_expiry(
    field: &str,
    value: Option<Option<String>>,
) -> Result<Option<Option<time::OffsetDateTime>>> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(s)) => crate::time::parse(&s)
            .map(|t| Some(Some(t)))
            .ok_or_else(|| {
                Error::validation(
                    field,
                    "must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z, or null",
                )
            }),
    }
}

fn check_email(field: &str, email: Option<String>) -> Result<Option<String>> {
    match email
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
    {
        Some(e) if !crate::http::input::is_email(&e) => {
            Err(Error::validation(field, "is not an email address"))
        }
        other => Ok(other),
    }
}

pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: IssueInput = crate::http::input::json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_license(s, &c, input).await?))
}

/// Issues a license by hand (through `services::issuance`, like any purchase).
pub async fn create_license(s: &Services, c: &Caller, input: IssueInput) -> Result<LicenseView> {
    use crate::domain::purchase::Customer;
    use crate::services::issuance::{self, IssueLine, IssueOrder, Overrides};
    let product_id = input
        .product_id
        .ok_or_else(|| Error::validation("productId", "is required"))?;
    let product = s
        .store
        .get_tenant_product(&c.tenant_id, &product_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Product {product_id} (productId)")))?;
    let plan = match &input.plan_id {
        None => None,
        Some(id) => Some(
            s.store
                .get_plan(&c.tenant_id, id)
                .await?
                .filter(|p| p.product_id == product.id)
                .ok_or_else(|| {
                    Error::not_found(format!("Plan {id} of product {product_id} (planId)"))
                })?,
        ),
    };
    let customer = Customer {
        email: check_email("customerEmail", input.customer_email)?,
        name: input
            .customer_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    };
    let issued = issuance::issue(
        s,
        IssueOrder {
            lines: vec![IssueLine {
                product: &product,
                plan: plan.as_ref(),
                quantity: 1,
                limits: Default::default(),
                also_product_ids: Vec::new(),
                overrides: Overrides {
                    expires_at: parse_expiry("expiresAt", input.expires_at)?,
                    max_devices: input.max_devices,
                    max_ips: input.max_ips,
                },
            }],
            customer,
            source: Default::default(),
            purchase_ref: crate::ids::new_id("manual"),
            app_id: None,
            event: None,
            send_email: input.send_email.unwrap_or(true),
            first_purchase_of: None,
            livemode: input.livemode.unwrap_or(true),
            origin: c.origin(),
        },
    )
    .await?;
    let license = issued
        .licenses
        .into_iter()
        .next()
        .ok_or_else(|| Error::internal("manual issuance created no license"))?;
    view(s, license).await
}

/// `PATCH /api/licenses/{id}`: suspend, reinstate, revoke, change expiry, limits or customer.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchInput {
    /// `expired` is Keyhook's to set (from `expiresAt`); a revoked license stays revoked (409).
    #[schemars(extend("enum" = ["active", "suspended", "revoked", null]))]
    pub status: Option<LicenseStatus>,
    /// `null` = never expires.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>", extend("pattern" = schema::TIMESTAMP))]
    pub expires_at: Option<Option<String>>,
    pub max_devices: Option<u32>,
    pub max_ips: Option<u32>,
    /// `""` removes it.
    #[schemars(extend("anyOf" = [{"maxLength": 0}, {"pattern": schema::EMAIL, "maxLength": schema::EMAIL_MAX_CHARS}]))]
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// Floating seats of this license, overriding its product's (1 to 1,000; `null`: the
    /// product's).
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<u32>", extend("minimum" = 1, "maximum" = leases::MAX_CONCURRENT))]
    pub max_concurrent: Option<Option<u32>>,
    /// Seconds a lease lasts after its last heartbeat (10 to 86,400; `null`: the product's).
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<u32>", extend("minimum" = leases::MIN_LEASE_SECONDS, "maximum" = leases::MAX_LEASE_SECONDS))]
    pub lease_seconds: Option<Option<u32>>,
    /// Longest borrow, in seconds (at most 2,592,000; `null`: the product's).
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<u32>", extend("maximum" = leases::MAX_BORROW_SECONDS))]
    pub max_borrow_seconds: Option<Option<u32>>,
}

pub async fn patch(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PatchInput = crate::http::input::json_body(req)?;
    Ok(ApiResponse::ok(&patch_license(s, &c, id, input).await?))
}

/// Changes what `input` names of a license: each field checked before any read, the edit
/// written on the version read (see `Store::edit_license`).
pub async fn patch_license(
    s: &Services,
    c: &Caller,
    id: &str,
    input: PatchInput,
) -> Result<LicenseView> {
    // Checked once, before any read: the edit below is re-run on a fresh read after a
    // conflict, and applies only the fields the request names.
    let expires_at = parse_expiry("expiresAt", input.expires_at)?;
    let customer_email = match input.customer_email {
        Some(e) => Some(check_email("customerEmail", Some(e))?),
        None => None,
    };
    let customer_name = input
        .customer_name
        .map(|n| Some(n.trim().to_string()).filter(|n| !n.is_empty()));
    leases::check_terms(
        input.max_concurrent.flatten(),
        input.lease_seconds.flatten(),
        input.max_borrow_seconds.flatten(),
    )
    .map_err(|(field, message)| Error::validation(field, message))?;
    let floating = [
        input.max_concurrent,
        input.lease_seconds,
        input.max_borrow_seconds,
    ];
    let contact_only = input.status.is_none()
        && floating.iter().all(Option::is_none)
        && expires_at.is_none()
        && input.max_devices.is_none()
        && input.max_ips.is_none();
    let now = time::OffsetDateTime::now_utc();
    let written = if contact_only {
        // Contact details depend on nothing read: written as given, they never race the
        // validation routes' writes or a refund (see `Store::set_license_contact`).
        s.store
            .set_license_contact(&c.tenant_id, id, customer_email, customer_name, &c.origin())
            .await?
    } else {
        s.store
            .edit_license(&c.tenant_id, id, &c.origin(), |l| {
                if let Some(expires_at) = expires_at {
                    l.expires_at = expires_at;
                    // A new expiry in the future (or none) brings an expired license back.
                    if l.status == LicenseStatus::Expired && expires_at.is_none_or(|t| t > now) {
                        l.status = LicenseStatus::Active;
                    }
                }
                if let Some(status) = input.status {
                    match (l.status, status) {
                        (LicenseStatus::Revoked, s) if s != LicenseStatus::Revoked => {
                            return Err(Error::Conflict(
                                "a revoked license cannot be reinstated; issue a new one".into(),
                            ))
                        }
                        (_, LicenseStatus::Expired) => return Err(Error::validation(
                            "status",
                            "expired is set by Keyhook from expiresAt; change expiresAt instead",
                        )),
                        _ => l.status = status,
                    }
                }
                if let Some(n) = input.max_devices {
                    l.max_devices = n;
                }
                if let Some(n) = input.max_ips {
                    l.max_ips = n;
                }
                if let Some(n) = input.max_concurrent {
                    l.max_concurrent = n;
                }
                if let Some(n) = input.lease_seconds {
                    l.lease_seconds = n;
                }
                if let Some(n) = input.max_borrow_seconds {
                    l.max_borrow_seconds = n;
                }
                if let Some(e) = &customer_email {
                    l.customer_email = e.clone();
                }
                if let Some(n) = &customer_name {
                    l.customer_name = n.clone();
                }
                Ok(())
            })
            .await?
    };
    let l = written.ok_or_else(|| Error::not_found(format!("License {id}")))?;
    view(s, l).await
}

/// `POST /api/licenses/{id}/resend-email`: emails the license's key again, to the license's
/// current customer email, with the other keys of its purchase that this address owns (never
/// keys that belong to someone else).
pub async fn resend_email(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::json(
        http::StatusCode::ACCEPTED,
        &resend_license_email(s, &c, id).await?,
    ))
}

/// Queues the license's email again (see [`resend_email`]).
pub async fn resend_license_email(s: &Services, c: &Caller, id: &str) -> Result<ResendView> {
    resend_as(s, &c.tenant_id, id, &c.origin()).await
}

/// [`resend_license_email`] for a tenant's license, recorded as made by `origin` (the
/// merchant, or the buyer in the portal).
pub async fn resend_as(
    s: &Services,
    tenant_id: &str,
    id: &str,
    origin: &Origin,
) -> Result<ResendView> {
    let l = s
        .store
        .get_tenant_license(tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("License {id}")))?;
    // The license's state, not the request, is what stands in the way: a conflict (409).
    let email = l.customer_email.clone().ok_or_else(|| {
        Error::conflict_at(
            "customerEmail",
            "the license has no customer email; set one with PATCH first",
        )
    })?;
    // A license without a purchase record (imported) is resent alone.
    let purchase_ref = l.purchase_ref.clone().unwrap_or_default();
    if !s
        .store
        .request_license_email(tenant_id, &l.id, origin)
        .await?
    {
        return Err(Error::not_found(format!("License {id}")));
    }
    s.outbox
        .enqueue(&crate::mail::MailJob {
            tenant_id: tenant_id.to_string(),
            purchase_ref,
            license_id: Some(l.id.clone()),
        })
        .await?;
    Ok(ResendView {
        license_id: l.id,
        email_status: EmailStatus::Pending,
        to: email,
    })
}

/// The answer to a resend: queued for the mailer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResendView {
    pub license_id: String,
    pub email_status: EmailStatus,
    pub to: String,
}
