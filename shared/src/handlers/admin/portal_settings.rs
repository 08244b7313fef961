//! The customer portal's settings (`/api/portal-settings`): read them, change some of them.
//! The portal itself (`portal::`) reads them from the tenant item.

use serde::{Deserialize, Serialize};

use super::caller;
use crate::domain::portal::{is_colour, PortalSettings, MAX_FREES};
use crate::http::auth::Caller;
use crate::http::input::{is_email, json_body};
use crate::http::schema;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The portal settings as the API shows them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalSettingsView {
    /// Buyers may sign in to the portal.
    pub enabled: bool,
    /// Devices a buyer may free per license in any 30 days (0: self-service freeing is off).
    pub frees_per_30_days: u32,
    /// An email address or https URL buyers are pointed to for help ("" for none).
    pub support: String,
    /// The name the portal shows ("" for the tenant's name).
    pub display_name: String,
    /// `#rrggbb` ("" for the default).
    pub accent_colour: String,
    /// An https URL of a logo ("" for none).
    pub logo_url: String,
    /// The portal's address, to link from a site or an email.
    pub portal_url: String,
}

/// A change of the portal settings: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalSettingsInput {
    pub enabled: Option<bool>,
    #[schemars(range(max = 100))]
    pub frees_per_30_days: Option<u32>,
    /// An email address or an https URL (at most 254 characters, an address's limit); "" for
    /// none.
    #[schemars(extend("pattern" = schema::EMPTY_OR_CONTACT, "maxLength" = schema::EMAIL_MAX_CHARS))]
    pub support: Option<String>,
    /// "" for the tenant's name.
    #[schemars(extend("pattern" = schema::PRINTABLE, "maxLength" = 100))]
    pub display_name: Option<String>,
    /// `#rrggbb`; "" for the default.
    #[schemars(extend("pattern" = schema::EMPTY_OR_COLOUR, "maxLength" = 7))]
    pub accent_colour: Option<String>,
    /// An https URL; "" for none.
    #[schemars(extend("pattern" = schema::EMPTY_OR_HTTPS_URL, "maxLength" = schema::URL_MAX_CHARS))]
    pub logo_url: Option<String>,
}

fn view(s: &Services, tenant_id: &str, p: PortalSettings) -> PortalSettingsView {
    PortalSettingsView {
        enabled: p.enabled,
        frees_per_30_days: p.frees_per_30_days,
        support: p.support,
        display_name: p.display_name,
        accent_colour: p.accent_colour,
        logo_url: p.logo_url,
        portal_url: format!("{}/portal/{tenant_id}", s.config.public_base_url),
    }
}

/// An https URL with a host, nothing that could break out of an attribute.
fn is_https_url(v: &str) -> bool {
    url::Url::parse(v).is_ok_and(|u| {
        u.scheme() == "https"
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.username().is_empty()
            && u.password().is_none()
    }) && !v
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
}

/// Applies `input` to `p`, every field checked, errors naming the field.
pub fn apply(p: &mut PortalSettings, input: PortalSettingsInput) -> Result<()> {
    if let Some(enabled) = input.enabled {
        p.enabled = enabled;
    }
    if let Some(n) = input.frees_per_30_days {
        if n > MAX_FREES {
            return Err(Error::validation(
                "freesPer30Days",
                format!("must be at most {MAX_FREES} (0 turns self-service freeing off)"),
            ));
        }
        p.frees_per_30_days = n;
    }
    if let Some(v) = input.support {
        let v = v.trim().to_string();
        if !(v.is_empty() || is_email(&v) || is_https_url(&v)) {
            return Err(Error::validation(
                "support",
                "must be an email address or an https URL (or empty)",
            ));
        }
        p.support = v;
    }
    if let Some(v) = input.display_name {
        let v = v.trim().to_string();
        if v.chars().count() > 100 || v.chars().any(char::is_control) {
            return Err(Error::validation(
                "displayName",
                "must be at most 100 printable characters",
            ));
        }
        p.display_name = v;
    }
    if let Some(v) = input.accent_colour {
        let v = v.trim().to_ascii_lowercase();
        if !(v.is_empty() || is_colour(&v)) {
            return Err(Error::validation(
                "accentColour",
                "must be a colour such as #2457c5 (or empty)",
            ));
        }
        p.accent_colour = v;
    }
    if let Some(v) = input.logo_url {
        let v = v.trim().to_string();
        if !(v.is_empty() || (v.len() <= 2048 && is_https_url(&v))) {
            return Err(Error::validation(
                "logoUrl",
                "must be an https URL of an image (or empty)",
            ));
        }
        p.logo_url = v;
    }
    Ok(())
}

/// The caller's portal settings.
pub async fn get_portal_settings(s: &Services, c: &Caller) -> Result<PortalSettingsView> {
    let tenant = s
        .store
        .get_tenant(&c.tenant_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the API token's tenant no longer exists".into()))?;
    Ok(view(s, &c.tenant_id, tenant.portal))
}

/// Changes the caller's portal settings. Written only over the version read; a concurrent
/// change is re-read and this one applied over it (it names absolute values), so neither is
/// lost.
pub async fn update_portal_settings(
    s: &Services,
    c: &Caller,
    input: PortalSettingsInput,
) -> Result<PortalSettingsView> {
    // Checked once, before any read: a bad field is refused whatever is stored.
    apply(&mut PortalSettings::default(), input.clone())?;
    for _ in 0..5 {
        let tenant =
            s.store.get_tenant(&c.tenant_id).await?.ok_or_else(|| {
                Error::Unauthorized("the API token's tenant no longer exists".into())
            })?;
        let mut settings = tenant.portal.clone();
        apply(&mut settings, input.clone())?;
        if s.store
            .set_portal_settings(&c.tenant_id, &settings, tenant.portal_version)
            .await?
        {
            return Ok(view(s, &c.tenant_id, settings));
        }
    }
    Err(Error::Conflict(
        "The portal settings keep changing; reload and try again.".into(),
    ))
}

/// `GET /api/portal-settings`.
pub async fn get(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_portal_settings(s, &c).await?))
}

/// `PUT /api/portal-settings`.
pub async fn update(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PortalSettingsInput = json_body(req)?;
    Ok(ApiResponse::ok(
        &update_portal_settings(s, &c, input).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address one character past the 254 an email address may have.
    const LONG_EMAIL: &str = concat!(
        "0@0.",
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000000000000000000000000000000"
    );

    /// Whatever the published schema lets through, the settings' own checks take: a client
    /// (or a fuzzer) that writes what the document says is never refused.
    #[test]
    fn what_the_schema_allows_the_checks_accept() {
        let body = |field: &str, value: &str| serde_json::json!({ field: value });
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "support",
                &[
                    "",
                    "help@acme.example",
                    "https://acme.example/help?x=1",
                    "https://a.b",
                ],
                &[
                    "help",
                    "0000",
                    "http://acme.example",
                    " help@acme.example",
                    "javascript:x",
                    LONG_EMAIL,
                ],
            ),
            (
                "logoUrl",
                &["", "https://cdn.acme.example/logo.png", "https://a.b/%20x"],
                &[
                    "http://a.b/logo.png",
                    "https://a.b/\"onerror=\"x",
                    "logo.png",
                    "https://",
                ],
            ),
            (
                "accentColour",
                &["", "#2457c5", "#A1B2C3"],
                &["red", "#12345", "#1234567", "#gggggg"],
            ),
            ("displayName", &["", "Acme Apps"], &["Acme\u{7}"]),
        ];
        assert_eq!(LONG_EMAIL.len(), 255);
        assert!(!is_email(LONG_EMAIL));
        for (field, good, bad) in cases {
            for v in *good {
                schema::check::<PortalSettingsInput>(&body(field, v), &[])
                    .unwrap_or_else(|e| panic!("{field} {v:?} refused by the schema: {e:?}"));
                let input: PortalSettingsInput = serde_json::from_value(body(field, v)).unwrap();
                apply(&mut PortalSettings::default(), input)
                    .unwrap_or_else(|e| panic!("{field} {v:?} refused by the checks: {e:?}"));
            }
            for v in *bad {
                assert!(
                    schema::check::<PortalSettingsInput>(&body(field, v), &[]).is_err(),
                    "{field} {v:?} passes the schema"
                );
            }
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                PortalSettingsInput {
                    frees_per_30_days: Some(101),
                    ..Default::default()
                },
                "freesPer30Days",
            ),
            (
                PortalSettingsInput {
                    support: Some("not a contact".into()),
                    ..Default::default()
                },
                "support",
            ),
            (
                PortalSettingsInput {
                    accent_colour: Some("red".into()),
                    ..Default::default()
                },
                "accentColour",
            ),
            (
                PortalSettingsInput {
                    logo_url: Some("http://example.com/logo.png".into()),
                    ..Default::default()
                },
                "logoUrl",
            ),
            (
                PortalSettingsInput {
                    logo_url: Some("https://example.com/a\"onerror=\"x".into()),
                    ..Default::default()
                },
                "logoUrl",
            ),
        ];
        for (input, field) in cases {
            match apply(&mut PortalSettings::default(), input) {
                Err(Error::Validation { field: f, .. }) => assert_eq!(f.as_deref(), Some(field)),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn absent_fields_keep_their_value() {
        let mut p = PortalSettings {
            display_name: "Acme Apps".into(),
            ..Default::default()
        };
        apply(
            &mut p,
            PortalSettingsInput {
                frees_per_30_days: Some(0),
                support: Some("https://acme.example/help".into()),
                accent_colour: Some("#AA0000".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.display_name, "Acme Apps");
        assert_eq!(p.frees_per_30_days, 0);
        assert_eq!(p.accent_colour, "#aa0000");
        assert!(p.enabled);
    }
}
