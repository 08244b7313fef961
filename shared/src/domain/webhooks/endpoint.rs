//! Where webhooks may go. A tenant chooses the URL, so Keyhook must not become a way into the
//! network it runs in: a webhook goes only to a **public** address ([`is_public`], the one rule
//! that both registration and the sender's resolver apply), over `https`. Local development
//! (`keyhook dev`, the tests) also reaches the loopback interface, over `http` too ([`Reach`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which addresses webhooks may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only: every deployed Keyhook (on Lambda, `127.0.0.1:9001` is the
    /// function's own Runtime API).
    Public,
    /// Public addresses and the loopback interface (`127.0.0.0/8`, `::1`), so a merchant's
    /// endpoint on the same machine receives events: `keyhook dev` and the tests only
    /// (`Config::allow_loopback_webhooks`).
    PublicAndLoopback,
}

impl Reach {
    pub fn new(allow_loopback: bool) -> Reach {
        if allow_loopback {
            Reach::PublicAndLoopback
        } else {
            Reach::Public
        }
    }

    /// Whether a webhook may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Reach::PublicAndLoopback && is_loopback(ip))
    }
}

/// `127.0.0.0/8` and `::1` (not `0.0.0.0`, which also reaches the machine itself on Linux but
/// is never a webhook's address, nor IPv4-mapped forms).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a == Ipv6Addr::LOCALHOST,
    }
}

/// Whether `ip` is a public (globally reachable unicast) address: not in any special-purpose
/// range of IANA's IPv4 and IPv6 registries. IPv6 is public only inside global unicast
/// `2000::/3`, less the special ranges in it, so everything outside (unspecified, loopback,
/// IPv4-mapped and -compatible, NAT64, discard, ULA, link- and site-local, multicast, ...) is
/// refused without being listed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    let special = o0 == 0 // "this network", 0.0.0.0 included
        || o0 == 10 // private
        || (o0 == 100 && (64..128).contains(&o1)) // shared address space (CGNAT)
        || o0 == 127 // loopback
        || (o0 == 169 && o1 == 254) // link-local (cloud metadata services)
        || (o0 == 172 && (16..32).contains(&o1)) // private
        || (o0 == 192 && o1 == 0 && o2 == 0) // IETF protocol assignments
        || (o0 == 192 && o1 == 0 && o2 == 2) // documentation
        || (o0 == 192 && o1 == 88 && o2 == 99) // 6to4 relay anycast
        || (o0 == 192 && o1 == 168) // private
        || (o0 == 198 && (o1 == 18 || o1 == 19)) // benchmarking
        || (o0 == 198 && o1 == 51 && o2 == 100) // documentation
        || (o0 == 203 && o1 == 0 && o2 == 113) // documentation
        || o0 >= 224; // multicast, reserved 240/4, broadcast
    !special
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let special = match s[0] {
        // IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID); documentation
        // 2001:db8::/32.
        0x2001 => s[1] < 0x0200 || s[1] == 0x0db8,
        0x2002 => true,          // 6to4
        0x3fff => s[1] < 0x1000, // documentation 3fff::/20
        _ => false,
    };
    global_unicast && !special
}

/// The URL as stored, or why it is refused (the `url` field's message). A host written as an
/// IP address must be one `reach` allows; a name is checked when the sender connects (every
/// address it resolves to, at that moment), except `localhost` names, loopback by definition.
/// `http` only to the loopback interface, where `reach` allows it.
pub fn check_url(raw: &str, reach: Reach) -> Result<url::Url, String> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    let host = url.host().ok_or("must have a host")?;
    let loopback = match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(a) => is_loopback(IpAddr::V4(a)),
        url::Host::Ipv6(a) => is_loopback(IpAddr::V6(a)),
    };
    if let Some(ip) = literal(&url) {
        if !reach.allows(ip) {
            return Err(NOT_PUBLIC.into());
        }
    } else if loopback && reach == Reach::Public {
        return Err(NOT_PUBLIC.into());
    }
    match url.scheme() {
        "https" => {}
        "http" if loopback && reach == Reach::PublicAndLoopback => {}
        "http" if reach == Reach::PublicAndLoopback => {
            return Err("must use https (http only on 127.0.0.1, [::1] or localhost)".into())
        }
        "http" => return Err("must use https".into()),
        other => return Err(format!("must use https, not {other}")),
    }
    Ok(url)
}

const NOT_PUBLIC: &str =
    "must be a public address: webhooks do not go to private, loopback, link-local or other special-purpose addresses";

/// The URL's host when it is written as an IP address (such a host is connected to without
/// name resolution, so it is checked as it stands).
pub fn literal(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_are_global_unicast_outside_every_special_purpose_range() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "2620:fe::fe",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
            assert!(Reach::Public.allows(ip(public)), "{public}");
        }
        for special in [
            "0.0.0.0",            // unspecified: the machine itself on Linux
            "0.1.2.3",            // "this network"
            "10.0.0.8",           // private
            "172.16.0.1",         // private
            "172.31.255.255",     // private
            "192.168.1.1",        // private
            "100.64.0.1",         // CGNAT
            "100.127.255.255",    // CGNAT
            "127.0.0.1",          // loopback
            "127.255.0.9",        // loopback
            "169.254.169.254",    // link-local: cloud metadata
            "192.0.0.8",          // IETF protocol assignments
            "192.0.2.10",         // documentation
            "198.51.100.7",       // documentation
            "203.0.113.9",        // documentation
            "192.88.99.1",        // 6to4 relay
            "198.18.0.1",         // benchmarking
            "198.19.255.255",     // benchmarking
            "224.0.0.1",          // multicast
            "240.0.0.1",          // reserved
            "255.255.255.255",    // broadcast
            "::",                 // unspecified
            "::1",                // loopback
            "::ffff:127.0.0.1",   // IPv4-mapped
            "::ffff:8.8.8.8",     // IPv4-mapped, even of a public address
            "::7f00:1",           // IPv4-compatible
            "64:ff9b::a00:1",     // NAT64 of 10.0.0.1
            "64:ff9b::808:808",   // NAT64, even of a public address
            "64:ff9b:1::1",       // local-use NAT64
            "100::1",             // discard-only
            "2002:a00:1::1",      // 6to4 of 10.0.0.1
            "2002:808:808::1",    // 6to4, even of a public address
            "2001::1",            // Teredo
            "2001:0:4136:e378::", // Teredo
            "2001:2::1",          // benchmarking
            "2001:10::1",         // ORCHID
            "2001:db8::1",        // documentation
            "3fff::1",            // documentation
            "fc00::1",            // unique local
            "fd12:3456::1",       // unique local
            "fe80::1",            // link-local
            "fec0::1",            // site-local
            "ff02::1",            // multicast
            "5f00::1",            // SRv6
        ] {
            assert!(!is_public(ip(special)), "{special} is not public");
            assert!(!Reach::Public.allows(ip(special)), "{special}");
        }
    }

    #[test]
    fn loopback_only_where_allowed_and_never_other_special_addresses() {
        for loopback in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert!(!Reach::Public.allows(ip(loopback)), "{loopback}");
            assert!(Reach::PublicAndLoopback.allows(ip(loopback)), "{loopback}");
        }
        for never in [
            "0.0.0.0",
            "::",
            "::ffff:127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
        ] {
            assert!(!Reach::PublicAndLoopback.allows(ip(never)), "{never}");
        }
    }

    #[test]
    fn https_anywhere_public_http_only_on_loopback_in_development() {
        let dev = Reach::PublicAndLoopback;
        assert!(check_url("https://hooks.example.com/keyhook", dev).is_ok());
        assert!(check_url("https://hooks.example.com/keyhook", Reach::Public).is_ok());
        assert!(check_url("https://[2606:4700:4700::1111]/hook", Reach::Public).is_ok());
        assert!(check_url("http://127.0.0.1:8081/hook", dev).is_ok());
        assert!(check_url("http://localhost:3000/hook", dev).is_ok());
        assert!(check_url("http://[::1]:3000/hook", dev).is_ok());
        assert!(check_url("http://hooks.example.com/keyhook", dev).is_err());
        assert!(check_url("ftp://hooks.example.com/", dev).is_err());
        assert!(check_url("https://user:pw@example.com/", dev).is_err());
        assert!(check_url("https://example.com/#x", dev).is_err());
        assert!(check_url("not a url", dev).is_err());
    }

    #[test]
    fn deployed_keyhook_refuses_loopback_and_plain_http() {
        for url in [
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "https://127.0.0.1/hook",
            "http://localhost:3000/hook",
            "https://localhost/hook",
            "https://LOCALHOST./hook",
            "https://api.localhost/hook",
            "http://[::1]:3000/hook",
            "http://hooks.example.com/keyhook",
        ] {
            assert!(check_url(url, Reach::Public).is_err(), "{url}");
        }
        assert_eq!(
            check_url("https://127.0.0.1/hook", Reach::Public).unwrap_err(),
            NOT_PUBLIC
        );
    }

    #[test]
    fn special_purpose_literals_are_refused_at_registration_in_any_reach() {
        for url in [
            "https://0.0.0.0/hook",
            "http://0.0.0.0:8080/hook",
            "https://169.254.169.254/latest",
            "https://10.0.0.8/hook",
            "https://0x0a.0.0.8/hook", // 10.0.0.8, as the URL standard reads it
            "https://167772168/hook",  // 10.0.0.8 as one number
            "https://100.64.0.1/hook",
            "https://198.18.0.1/hook",
            "https://240.0.0.1/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://[fec0::1]/hook",
            "https://[ff02::1]/hook",
            "https://[::ffff:10.0.0.8]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[64:ff9b::a00:8]/hook",
            "https://[64:ff9b::7f00:1]/hook",
            "https://[64:ff9b:1::a00:8]/hook",
            "https://[2002:a00:8::1]/hook",
            "https://[2002:7f00:1::1]/hook",
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
        ] {
            for reach in [Reach::Public, Reach::PublicAndLoopback] {
                assert_eq!(
                    check_url(url, reach).unwrap_err(),
                    NOT_PUBLIC,
                    "{url} ({reach:?})"
                );
            }
        }
    }
}
