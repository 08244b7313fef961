//! Other licensing services' exports (ExisOne, Lukittu, Keygen; CSV or JSON, told apart by
//! the first character) read into entries of `POST /api/licenses/import`. One reader for both
//! edges: `keyhook import` sends what it reads over HTTP with the merchant's token, the
//! dashboard's import page to the import's core ([`super::import_licenses`]); either way the
//! import goes through the same checks as any admin request.
//!
//! Columns and fields read (CSV headers match case-insensitively, ignoring spaces, `_` and
//! `-`; other columns are ignored) are listed per format in `docs/stripe-integration-guide.md`
//! ("Moving from ExisOne / Lukittu / Keygen").

use std::collections::HashMap;

use super::{ImportDevice, ImportLicense};
use crate::domain::license_key::AnyKey;
use crate::domain::LicenseStatus;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime};

/// The service an export comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Exisone,
    Lukittu,
    Keygen,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Exisone, Format::Lukittu, Format::Keygen];
    /// The names `keyhook import --format` and the dashboard's import form take.
    pub const NAMES: [&'static str; 3] = ["exisone", "lukittu", "keygen"];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Exisone => "exisone",
            Format::Lukittu => "lukittu",
            Format::Keygen => "keygen",
        }
    }

    /// The service's name, for people.
    pub fn label(self) -> &'static str {
        match self {
            Format::Exisone => "ExisOne",
            Format::Lukittu => "Lukittu",
            Format::Keygen => "Keygen",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of {}", Format::NAMES.join(", ")))
    }
}

/// Why a file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the file is not valid CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Shape(String),
}

/// One license that could not be read from the file (it is reported, not sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based record number in the file.
    pub record: usize,
    pub reason: String,
}

/// A file's licenses, and the records that could not be read.
#[derive(Debug, Default)]
pub struct Parsed {
    pub licenses: Vec<ImportLicense>,
    pub skipped: Vec<Skipped>,
}

/// Reads an export file.
pub fn parse(format: Format, text: &str) -> Result<Parsed, FileError> {
    let text = text.trim_start_matches('\u{feff}');
    let records = if text.trim_start().starts_with(['{', '[']) {
        json_records(format, serde_json::from_str(text)?)?
    } else {
        csv_records(text)?
    };
    let mut parsed = Parsed::default();
    for (i, r) in records.iter().enumerate() {
        let entry = match format {
            Format::Exisone => exisone(r),
            Format::Lukittu => lukittu(r),
            Format::Keygen => keygen(r),
        };
        match entry {
            Ok(l) => parsed.licenses.push(l),
            Err(reason) => parsed.skipped.push(Skipped {
                record: i + 1,
                reason,
            }),
        }
    }
    Ok(parsed)
}

/// A record, flattened: CSV rows become `{header: value}`; JSON objects stay as they are.
type Record = Value;

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn csv_records(text: &str) -> Result<Vec<Record>, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(norm).collect();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row?;
        let mut m = serde_json::Map::new();
        for (h, v) in headers.iter().zip(row.iter()) {
            if !v.is_empty() {
                m.insert(h.clone(), Value::String(v.to_string()));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

/// The list of license objects in an export: an array, `{data: [...]}` (Keygen's JSON:API),
/// `{data: {licenses: [...]}}` (Lukittu's API), or `{licenses: [...]}`. Keygen's `included`
/// users and machines are attached to their licenses as `_email` and `_machines`.
fn json_records(format: Format, v: Value) -> Result<Vec<Record>, FileError> {
    let list = match &v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o
            .get("data")
            .and_then(|d| d.as_array().or_else(|| d["licenses"].as_array()))
            .or_else(|| o.get("licenses").and_then(Value::as_array))
            .or_else(|| o.get("items").and_then(Value::as_array))
            .cloned()
            .ok_or_else(|| {
                FileError::Shape(
                    "expected a list of licenses, `data`, `data.licenses` or `licenses`".into(),
                )
            })?,
        _ => return Err(FileError::Shape("expected a JSON array or object".into())),
    };
    if format != Format::Keygen {
        return Ok(list);
    }
    let included = v["included"].as_array().cloned().unwrap_or_default();
    let users: HashMap<&str, &str> = included
        .iter()
        .filter(|i| i["type"] == "users")
        .filter_map(|u| Some((u["id"].as_str()?, u["attributes"]["email"].as_str()?)))
        .collect();
    let mut machines: HashMap<String, Vec<Value>> = HashMap::new();
    for m in included.iter().filter(|i| i["type"] == "machines") {
        if let Some(license) = m["relationships"]["license"]["data"]["id"].as_str() {
            machines
                .entry(license.to_string())
                .or_default()
                .push(m.clone());
        }
    }
    Ok(list
        .into_iter()
        .map(|mut l| {
            let owner = l["relationships"]["owner"]["data"]["id"]
                .as_str()
                .or_else(|| l["relationships"]["user"]["data"]["id"].as_str())
                .and_then(|id| users.get(id).copied());
            if let Some(email) = owner {
                l["_email"] = Value::String(email.to_string());
            }
            if let Some(ms) = l["id"].as_str().and_then(|id| machines.remove(id)) {
                l["_machines"] = Value::Array(ms);
            }
            l
        })
        .collect())
}

/// A field of a record: the first of `names` present (JSON paths with `.`, CSV headers
/// normalised).
fn field(r: &Record, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let v = if name.contains('.') {
            name.split('.')
                .try_fold(r, |v, part| match part.parse::<usize>() {
                    Ok(i) => v.get(i),
                    Err(_) => v.get(part),
                })
        } else {
            r.get(*name).or_else(|| r.get(norm(name)))
        }?;
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    })
}

fn number(r: &Record, names: &[&str]) -> Result<Option<u32>, String> {
    match field(r, names) {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("{} {v:?} is not a whole number", names[0])),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "y")
}

/// A timestamp as exports write them: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC), or a date
/// (its start, UTC), read from `field`. Words meaning "never" are `None`.
fn timestamp(field: &str, v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty()
        || ["never", "perpetual", "null", "none", "lifetime"]
            .contains(&v.to_ascii_lowercase().as_str())
    {
        return Ok(None);
    }
    let t = if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        t
    } else if let Ok(t) = PrimitiveDateTime::parse(
        v.split('.').next().unwrap_or(v),
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ) {
        t.assume_utc()
    } else if let Ok(d) = Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
    {
        d.midnight().assume_utc()
    } else {
        return Err(format!(
            "{field} {v:?} is neither RFC 3339 nor YYYY-MM-DD[ HH:MM:SS]"
        ));
    };
    rfc3339(field, v, t).map(Some)
}

/// `t` as the import API takes it (RFC 3339, UTC), if Keyhook can store it: its UTC date in
/// years 0000 to 9999. `what` and `v` name the field and the text it came from.
fn rfc3339(what: &str, v: &str, t: OffsetDateTime) -> Result<String, String> {
    t.checked_to_offset(time::UtcOffset::UTC)
        .filter(|u| (0..=9999).contains(&u.year()))
        .and_then(|u| u.format(&Rfc3339).ok())
        .ok_or_else(|| {
            format!("{what} {v:?} is outside the dates Keyhook stores (years 0000 to 9999, UTC)")
        })
}

/// Without an id column, the external id is derived from the key alone (never the key itself,
/// which must not be stored in clear): the key's unscoped license id, the same whatever the
/// product and in every version, so a re-run finds what it imported.
fn external_id(r: &Record, names: &[&str], key: &str) -> Result<String, String> {
    if let Some(id) = field(r, names) {
        return Ok(id);
    }
    AnyKey::parse(key)
        .map(|k| format!("key:{}", k.unscoped_license_id()))
        .map_err(|e| format!("key: {e}"))
}

fn devices_from_list(v: &str) -> Vec<ImportDevice> {
    v.split([';', '|'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| ImportDevice {
            device_id: d.to_string(),
            ..Default::default()
        })
        .collect()
}

/// ExisOne's License Keys export.
fn exisone(r: &Record) -> Result<ImportLicense, String> {
    let key = field(r, &["ActivationKey", "LicenseKey", "Key"]).ok_or("no ActivationKey")?;
    let status = match (
        field(r, &["Status"]),
        field(r, &["IsRevoked"]),
        field(r, &["IsActive"]),
    ) {
        (Some(s), _, _) => Some(status_word(&s)?),
        (None, Some(v), _) if truthy(&v) => Some(LicenseStatus::Revoked),
        (None, _, Some(v)) if !truthy(&v) => Some(LicenseStatus::Suspended),
        _ => None,
    };
    Ok(ImportLicense {
        external_id: external_id(r, &["Id", "LicenseKeyId", "LicenseId"], &key)?,
        product_id: field(r, &["ProductId", "Product"]).ok_or("no ProductId")?,
        customer_email: field(r, &["CustomerEmail", "Email"]),
        customer_name: field(r, &["PaymentProcessorCustomerName", "CustomerName", "Name"]),
        expires_at: match field(r, &["ExpirationDate", "ExpiresAt", "ExpiryDate", "Expires"]) {
            Some(v) => timestamp("ExpirationDate", &v)?,
            None => None,
        },
        max_devices: number(r, &["MaxDevices", "MaxActivations"])?,
        max_ips: number(r, &["MaxIps"])?,
        status,
        devices: field(r, &["Devices", "DeviceIds", "ActivatedDevices"])
            .map(|v| devices_from_list(&v)),
        key,
    })
}

fn status_word(s: &str) -> Result<LicenseStatus, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "active" | "inactive" | "expiring" | "valid" => LicenseStatus::Active,
        "suspended" | "disabled" | "paused" => LicenseStatus::Suspended,
        "revoked" | "banned" | "blocked" | "cancelled" | "canceled" => LicenseStatus::Revoked,
        "expired" => LicenseStatus::Expired,
        other => return Err(format!("status {other:?} is not one Keyhook knows")),
    })
}

/// Lukittu's licenses, as its API lists them (`LicenseData` with `products` and `customers`).
fn lukittu(r: &Record) -> Result<ImportLicense, String> {
    let key = field(r, &["licenseKey", "key"]).ok_or("no licenseKey")?;
    let expires_at = match field(r, &["expirationDate"]) {
        Some(v) => timestamp("expirationDate", &v)?,
        None => match (
            field(r, &["expirationType"]).as_deref(),
            number(r, &["expirationDays"])?,
        ) {
            // A duration counted from creation: its end.
            (Some("DURATION"), Some(days)) => {
                let created = field(r, &["createdAt"]).ok_or("expirationDays without createdAt")?;
                let start = OffsetDateTime::parse(&created, &Rfc3339)
                    .map_err(|_| format!("createdAt {created:?} is not RFC 3339"))?;
                let days = days.min(crate::domain::purchase::MAX_LICENSE_DAYS);
                let past = || {
                    format!(
                        "expirationDays: createdAt {created:?} + {days} days is past \
                         9999-12-31, the last date Keyhook stores"
                    )
                };
                let end = start
                    .checked_add(Duration::days(i64::from(days)))
                    .ok_or_else(past)?;
                Some(rfc3339("expirationDays", &created, end).map_err(|_| past())?)
            }
            _ => None,
        },
    };
    let devices = match r.get("hwids").or_else(|| r.get("hardwareIdentifiers")) {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|h| match h {
                    Value::String(s) => Some(ImportDevice {
                        device_id: s.clone(),
                        ..Default::default()
                    }),
                    Value::Object(_) => Some(ImportDevice {
                        device_id: field(h, &["hwid", "hardwareIdentifier"])?,
                        activated_at: field(h, &["createdAt"]),
                        ..Default::default()
                    }),
                    _ => None,
                })
                .collect(),
        ),
        _ => field(r, &["hwids"]).map(|v| devices_from_list(&v)),
    };
    Ok(ImportLicense {
        external_id: external_id(r, &["id"], &key)?,
        product_id: field(r, &["products.0.id", "productId", "productIds"])
            .map(|p| {
                p.split([',', ';'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .ok_or("no product (products[0].id or productId)")?,
        customer_email: field(r, &["customers.0.email", "customerEmail", "email"]),
        customer_name: field(
            r,
            &[
                "customers.0.fullName",
                "customers.0.username",
                "customerName",
            ],
        ),
        expires_at,
        max_devices: number(r, &["hwidLimit", "seats"])?,
        max_ips: number(r, &["ipLimit"])?,
        status: match field(r, &["suspended"]) {
            Some(v) if truthy(&v) => Some(LicenseStatus::Suspended),
            _ => None,
        },
        devices,
        key,
    })
}

/// Keygen's licenses, as its API lists them (JSON:API; `included` users and machines), or a
/// CSV of the same attributes.
fn keygen(r: &Record) -> Result<ImportLicense, String> {
    let key = field(r, &["attributes.key", "key"]).ok_or("no key")?;
    let status = match field(r, &["attributes.status", "status"]) {
        Some(s) => Some(status_word(&s)?),
        None => None,
    };
    let status = match field(r, &["attributes.suspended", "suspended"]) {
        Some(v) if truthy(&v) && status != Some(LicenseStatus::Revoked) => {
            Some(LicenseStatus::Suspended)
        }
        _ => status,
    };
    let devices = r["_machines"].as_array().map(|ms| {
        ms.iter()
            .filter_map(|m| {
                Some(ImportDevice {
                    device_id: field(m, &["attributes.fingerprint"])?,
                    device_name: field(m, &["attributes.name"]),
                    activated_at: field(m, &["attributes.created"]),
                })
            })
            .collect()
    });
    Ok(ImportLicense {
        external_id: external_id(r, &["id"], &key)?,
        product_id: field(
            r,
            &["relationships.product.data.id", "product", "productId"],
        )
        .ok_or("no product (relationships.product.data.id)")?,
        customer_email: field(
            r,
            &["_email", "attributes.metadata.email", "userEmail", "email"],
        ),
        customer_name: field(r, &["attributes.name", "name"]),
        expires_at: match field(r, &["attributes.expiry", "expiry"]) {
            Some(v) => timestamp("expiry", &v)?,
            None => None,
        },
        max_devices: number(r, &["attributes.maxMachines", "maxMachines"])?,
        max_ips: None,
        status,
        devices: devices.or_else(|| field(r, &["machines"]).map(|v| devices_from_list(&v))),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_match_loosely_and_dates_normalise() {
        let p = parse(
            Format::Exisone,
            "Id,Activation Key,product_id,Customer Email,Expiration Date,IsActive,MaxDevices\n\
             7,ABCD-1234-EFGH,42,a@b.co,2027-01-31,false,2\n\
             8,,42,,,,\n",
        )
        .unwrap();
        assert_eq!(p.licenses.len(), 1);
        let l = &p.licenses[0];
        assert_eq!(
            (l.external_id.as_str(), l.key.as_str()),
            ("7", "ABCD-1234-EFGH")
        );
        assert_eq!(l.expires_at.as_deref(), Some("2027-01-31T00:00:00Z"));
        assert_eq!(l.status, Some(LicenseStatus::Suspended));
        assert_eq!(l.max_devices, Some(2));
        assert_eq!(
            p.skipped,
            vec![Skipped {
                record: 2,
                reason: "no ActivationKey".into()
            }]
        );
    }

    #[test]
    fn without_an_id_the_external_id_is_derived_never_the_key() {
        let p = parse(
            Format::Exisone,
            "ActivationKey,ProductId\nSECRET-KEY-1,42\n",
        )
        .unwrap();
        let id = &p.licenses[0].external_id;
        assert!(id.starts_with("key:lic_") && !id.contains("SECRET"), "{id}");
    }

    #[test]
    fn keygen_statuses_and_lukittu_durations() {
        for (word, status) in [
            ("ACTIVE", LicenseStatus::Active),
            ("EXPIRING", LicenseStatus::Active),
            ("SUSPENDED", LicenseStatus::Suspended),
            ("BANNED", LicenseStatus::Revoked),
            ("EXPIRED", LicenseStatus::Expired),
        ] {
            assert_eq!(status_word(word).unwrap(), status);
        }
        let p = parse(
            Format::Lukittu,
            r#"[{"id":"u1","licenseKey":"K","expirationType":"DURATION","expirationDays":30,
                 "createdAt":"2026-01-01T00:00:00Z","products":[{"id":"p1"}],"suspended":false}]"#,
        )
        .unwrap();
        assert_eq!(
            p.licenses[0].expires_at.as_deref(),
            Some("2026-01-31T00:00:00Z")
        );
        assert_eq!(p.licenses[0].product_id, "p1");
    }

    #[test]
    fn dates_past_year_9999_are_a_reason_not_a_panic() {
        let p = parse(
            Format::Lukittu,
            r#"[{"id":"u1","licenseKey":"K1","expirationType":"DURATION","expirationDays":30,
                 "createdAt":"9999-12-31T00:00:00Z","products":[{"id":"p1"}]},
                {"id":"u2","licenseKey":"K2","expirationDate":"9999-12-31T23:59:59-01:00",
                 "products":[{"id":"p1"}]},
                {"id":"u3","licenseKey":"K3","expirationType":"DURATION","expirationDays":1,
                 "createdAt":"9999-12-30T00:00:00Z","products":[{"id":"p1"}]}]"#,
        )
        .unwrap();
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
        assert_eq!(p.skipped[0].record, 1);
        assert!(
            p.skipped[0].reason.starts_with("expirationDays: ")
                && p.skipped[0].reason.contains("9999-12-31"),
            "{:?}",
            p.skipped[0]
        );
        assert_eq!(p.skipped[1].record, 2);
        assert!(
            p.skipped[1].reason.starts_with("expirationDate ")
                && p.skipped[1].reason.contains("years 0000 to 9999"),
            "{:?}",
            p.skipped[1]
        );
        assert_eq!(
            p.licenses[0].expires_at.as_deref(),
            Some("9999-12-31T00:00:00Z")
        );
        // A year with a sign is not one Keyhook stores either.
        let p = parse(
            Format::Exisone,
            "Id,ActivationKey,ProductId,ExpirationDate
1,K,42,-0001-01-01
",
        )
        .unwrap();
        assert!(
            p.skipped[0].reason.starts_with("ExpirationDate "),
            "{:?}",
            p.skipped
        );
    }
}
