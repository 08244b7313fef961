//! The addresses Stripe sends webhooks from, as Stripe publishes them
//! (<https://docs.stripe.com/ips#webhook-notifications>). The list ships with the code:
//! `ips_webhooks.json` beside this file is Stripe's own file,
//! <https://stripe.com/files/ips/ips_webhooks.json>, unchanged. Stripe announces changes seven
//! days ahead on its api-announce list; to update, replace the file and deploy (docs/deploy.md,
//! "Stripe's webhook addresses").

use std::net::IpAddr;
use std::sync::LazyLock;

use serde::Deserialize;

/// Stripe's file, as published.
const PUBLISHED: &str = include_str!("ips_webhooks.json");

#[derive(Deserialize)]
struct Published {
    #[serde(rename = "WEBHOOKS")]
    webhooks: Vec<IpAddr>,
}

static ADDRESSES: LazyLock<Vec<IpAddr>> = LazyLock::new(|| {
    serde_json::from_str::<Published>(PUBLISHED)
        .map(|p| p.webhooks)
        // The file is part of the build and a unit test reads it: it cannot fail here.
        .expect("ips_webhooks.json is Stripe's list of addresses")
});

/// Every address Stripe sends webhooks from.
pub fn addresses() -> &'static [IpAddr] {
    &ADDRESSES
}

/// Whether `ip` is one of Stripe's webhook addresses (an IPv4 address written as IPv6,
/// `::ffff:a.b.c.d`, is the IPv4 address).
pub fn is_stripe_webhook_source(ip: IpAddr) -> bool {
    ADDRESSES.contains(&ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_is_stripes_file_of_public_addresses() {
        let all = addresses();
        assert!(all.len() >= 10, "{all:?}");
        for ip in all {
            let IpAddr::V4(v4) = ip else {
                panic!("{ip}: Stripe publishes IPv4 addresses")
            };
            assert!(
                !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()),
                "{ip} is not public"
            );
        }
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "no address twice");
    }

    #[test]
    fn stripes_addresses_pass_in_either_notation_and_others_do_not() {
        let stripe = addresses()[0];
        assert!(is_stripe_webhook_source(stripe));
        let IpAddr::V4(v4) = stripe else {
            unreachable!()
        };
        assert!(is_stripe_webhook_source(IpAddr::V6(v4.to_ipv6_mapped())));
        for other in [
            "198.51.100.7",
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "2001:db8::1",
        ] {
            assert!(!is_stripe_webhook_source(other.parse().unwrap()), "{other}");
        }
    }
}
