//! IP limits (`maxIps`): how many distinct client IPs may use a license within a window.
//!
//! A license keeps the IPs it has *admitted*, each with the time of its admission. An admission
//! lasts [`IP_WINDOW`]; a request from an admitted IP needs no write, a request from a new IP is
//! admitted (one conditional write) if fewer than `maxIps` admissions are current, and answered
//! `IP_LIMIT_REACHED` otherwise. Lapsed admissions are dropped on the next write, so the list
//! never holds more than `maxIps` entries.
//!
//! The IP is the one API Gateway saw (`requestContext.http.sourceIp`), never a header. IPv6
//! clients are counted by their /64 prefix, because one household or phone rotates through
//! addresses of one prefix (privacy addresses) and would otherwise burn the limit.

use std::net::{IpAddr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::time::serde_ts;

/// How long an admitted IP counts against `maxIps`.
pub const IP_WINDOW: Duration = Duration::hours(24);

/// One IP admitted to a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAdmission {
    /// [`client_ip_key`] of the client.
    pub ip: String,
    #[serde(with = "serde_ts")]
    pub admitted_at: OffsetDateTime,
}

/// The form a client IP is counted under: IPv4 as is (IPv4-mapped IPv6 included), IPv6 by its
/// /64 prefix, `unknown` when the platform gave no IP.
pub fn client_ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".to_string(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

/// What the IP limit says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpCheck {
    /// No limit, or the IP is currently admitted: nothing to write.
    Admitted,
    /// The IP may be admitted: write this list (lapsed entries dropped, the IP added).
    Admit(Vec<IpAdmission>),
    /// `maxIps` other IPs are currently admitted.
    LimitReached,
}

/// Checks `ip` against a license's admissions.
pub fn check(admissions: &[IpAdmission], max_ips: u32, ip: &str, now: OffsetDateTime) -> IpCheck {
    if max_ips == 0 {
        return IpCheck::Admitted;
    }
    let current: Vec<&IpAdmission> = admissions
        .iter()
        .filter(|a| a.admitted_at + IP_WINDOW > now)
        .collect();
    if current.iter().any(|a| a.ip == ip) {
        return IpCheck::Admitted;
    }
    if current.len() >= max_ips as usize {
        return IpCheck::LimitReached;
    }
    let mut list: Vec<IpAdmission> = current.into_iter().cloned().collect();
    list.push(IpAdmission {
        ip: ip.to_string(),
        admitted_at: now,
    });
    IpCheck::Admit(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap() + Duration::hours(hours)
    }

    fn admitted(ip: &str, hours: i64) -> IpAdmission {
        IpAdmission {
            ip: ip.into(),
            admitted_at: at(hours),
        }
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            client_ip_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap())),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_ip_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap())),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_ip_key(Some("::ffff:203.0.113.9".parse().unwrap())),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip_key(Some("198.51.100.7".parse().unwrap())),
            "198.51.100.7"
        );
        assert_eq!(client_ip_key(None), "unknown");
    }

    #[test]
    fn no_limit_admits_without_writing() {
        assert_eq!(check(&[], 0, "1.2.3.4", at(0)), IpCheck::Admitted);
    }

    #[test]
    fn known_ips_pass_new_ones_are_admitted_until_the_limit() {
        let list = vec![admitted("a", 0)];
        assert_eq!(check(&list, 2, "a", at(1)), IpCheck::Admitted);
        match check(&list, 2, "b", at(1)) {
            IpCheck::Admit(l) => assert_eq!(l, vec![admitted("a", 0), admitted("b", 1)]),
            other => panic!("{other:?}"),
        }
        let full = vec![admitted("a", 0), admitted("b", 1)];
        assert_eq!(check(&full, 2, "c", at(2)), IpCheck::LimitReached);
    }

    #[test]
    fn admissions_lapse_after_the_window() {
        let full = vec![admitted("a", 0), admitted("b", 1)];
        // 24 h after "a" was admitted, its slot is free again and it is dropped from the list.
        match check(&full, 2, "c", at(24)) {
            IpCheck::Admit(l) => assert_eq!(l, vec![admitted("b", 1), admitted("c", 24)]),
            other => panic!("{other:?}"),
        }
        // A lapsed IP is admitted again, as new.
        assert!(matches!(check(&full, 2, "a", at(24)), IpCheck::Admit(_)));
    }
}
