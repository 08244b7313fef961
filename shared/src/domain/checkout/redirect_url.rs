//! `successUrl` / `cancelUrl`: where Stripe sends the buyer back. They must be absolute https
//! URLs, so a buyer is never returned over plain HTTP; `http` is allowed for `localhost` and
//! loopback addresses only, for merchants developing locally.

use super::Refusal;

/// Longest URL accepted (Stripe's own limit is higher; nobody needs more).
pub const MAX_LEN: usize = 2048;

/// The URL as given (trimmed), or why it is refused. The original text is what Stripe gets, so
/// Stripe's `{CHECKOUT_SESSION_ID}` template survives untouched.
pub fn check(field: &'static str, input: &str) -> Result<String, Refusal> {
    let refuse = |reason: &str| Refusal::RedirectUrl {
        field,
        reason: reason.to_string(),
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(refuse("is required"));
    }
    if text.len() > MAX_LEN {
        return Err(refuse(&format!("must be at most {MAX_LEN} characters")));
    }
    let url = url::Url::parse(text)
        .map_err(|_| refuse("must be an absolute URL such as \"https://example.com/thanks\""))?;
    let Some(host) = url.host() else {
        return Err(refuse("must have a host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not contain credentials"));
    }
    let local = match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => Ok(text.to_string()),
        "http" if local => Ok(text.to_string()),
        "http" => Err(refuse(
            "must use https (http is accepted only for localhost and 127.0.0.1)",
        )),
        _ => Err(refuse("must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_pass_unchanged() {
        let u = "https://shop.example.com/thanks?session_id={CHECKOUT_SESSION_ID}";
        assert_eq!(check("successUrl", u).unwrap(), u);
        assert_eq!(
            check("successUrl", " https://a.example/x ").unwrap(),
            "https://a.example/x"
        );
    }

    #[test]
    fn http_only_for_local_development() {
        for ok in [
            "http://localhost:3000/ok",
            "http://127.0.0.1/ok",
            "http://[::1]:8080/",
        ] {
            assert!(check("successUrl", ok).is_ok(), "{ok}");
        }
        let err = check("cancelUrl", "http://shop.example.com/cancel").unwrap_err();
        assert_eq!(err.field(), "cancelUrl");
        assert!(err.to_string().contains("https"));
    }

    #[test]
    fn relative_odd_and_credentialed_urls_are_refused() {
        for bad in [
            "",
            "/thanks",
            "shop.example.com/thanks",
            "ftp://shop.example.com/",
            "javascript:alert(1)",
            "https://user:pw@shop.example.com/",
        ] {
            assert!(check("successUrl", bad).is_err(), "{bad}");
        }
        assert!(check(
            "successUrl",
            &format!("https://a.example/{}", "x".repeat(MAX_LEN))
        )
        .is_err());
    }
}
