//! Where the customer portal lives, for everything that links into it: the license email's
//! `{{portal_url}}`, the `manageUrl` of an activation refused for too many devices, the
//! Billing Portal's way back and the contact-change link. One place builds them so every link
//! agrees with the portal's routes (`/portal/{tenantId}`, `/portal/{tenantId}/licenses/{id}`).

/// The merchant's portal: `{base}/portal/{tenantId}`.
pub fn portal_url(base: &str, tenant_id: &str) -> String {
    join(base, &["portal", tenant_id])
}

/// One license's page in the merchant's portal:
/// `{base}/portal/{tenantId}/licenses/{licenseId}`.
pub fn license_url(base: &str, tenant_id: &str, license_id: &str) -> String {
    join(base, &["portal", tenant_id, "licenses", license_id])
}

/// The page that confirms a contact-address change (the token goes in the query).
pub fn email_change_url(base: &str, tenant_id: &str) -> String {
    join(base, &["portal", tenant_id, "email-change"])
}

/// `base` followed by the path segments, each percent-encoded (ids are URL-safe, but a link
/// must not change meaning whatever an id holds).
fn join(base: &str, segments: &[&str]) -> String {
    let mut out = base.trim_end_matches('/').to_string();
    for segment in segments {
        out.push('/');
        for b in segment.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_and_license_urls_follow_the_portal_routes() {
        assert_eq!(
            portal_url("https://keys.example.com", "ten_abc"),
            "https://keys.example.com/portal/ten_abc"
        );
        assert_eq!(
            license_url("https://keys.example.com/", "ten_abc", "lic_123"),
            "https://keys.example.com/portal/ten_abc/licenses/lic_123"
        );
        assert_eq!(
            email_change_url("http://127.0.0.1:3000", "ten_abc"),
            "http://127.0.0.1:3000/portal/ten_abc/email-change"
        );
    }

    #[test]
    fn a_base_with_a_path_keeps_it() {
        assert_eq!(
            portal_url("https://api.example.com/prod", "ten_abc"),
            "https://api.example.com/prod/portal/ten_abc"
        );
    }

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(
            license_url("https://k.example.com", "ten_a", "a/b?c#d e"),
            "https://k.example.com/portal/ten_a/licenses/a%2Fb%3Fc%23d%20e"
        );
    }
}
