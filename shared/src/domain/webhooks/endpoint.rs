//! What URL may receive webhooks: `https`, or `http` on the loopback interface (a merchant's
//! local development); never a private, link-local or unspecified address written as an IP
//! (no reaching into the network Keyhook runs in through a URL a tenant chose).

use std::net::IpAddr;

/// Why a URL is refused, for the `url` field's message.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let host = url.host().ok_or("must have a host")?;
    let ip: Option<IpAddr> = match &host {
        url::Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        url::Host::Domain(_) => None,
    };
    let loopback = match (&host, ip) {
        (_, Some(ip)) => ip.is_loopback(),
        (url::Host::Domain(d), None) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must use https (http only on 127.0.0.1, [::1] or localhost)".into()),
        other => return Err(format!("must use https, not {other}")),
    }
    if let Some(ip) = ip {
        if !loopback && !is_public(ip) {
            return Err("must not be a private, link-local or reserved address".into());
        }
    }
    Ok(url)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_documentation()
                || a.octets()[0] == 0
                || (a.octets()[0] == 100 && (64..128).contains(&a.octets()[1])))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || a.to_ipv4_mapped().is_some_and(|v4| !is_public(IpAddr::V4(v4))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_public_http_only_on_loopback() {
        assert!(check_url("https://hooks.example.com/keyhook").is_ok());
        assert!(check_url("http://127.0.0.1:8081/hook").is_ok());
        assert!(check_url("http://localhost:3000/hook").is_ok());
        assert!(check_url("http://[::1]:3000/hook").is_ok());
        assert!(check_url("http://hooks.example.com/keyhook").is_err());
        assert!(check_url("ftp://hooks.example.com/").is_err());
        assert!(check_url("https://169.254.169.254/latest").is_err());
        assert!(check_url("https://10.0.0.8/hook").is_err());
        assert!(check_url("https://[fd00::1]/hook").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("not a url").is_err());
    }
}
