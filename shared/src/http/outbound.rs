//! Every outbound HTTPS call of a function goes through `reqwest` built here: Keyhook's own
//! (Stripe's API, merchants' webhook endpoints) and the AWS SDK's (`sdk::reqwest_client`).
//! TLS is rustls with the aws-lc-rs crypto provider (the one the SDK uses, with its
//! post-quantum key exchange) and the platform's root certificates. With reqwest's default
//! `rustls-tls` a function linked a second crypto library (`ring`) and a second, built-in root
//! store (`webpki-roots`); docs/deploy.md ("Performance") has what that cost.

use std::sync::Once;

/// A `reqwest` builder whose TLS uses aws-lc-rs and the platform's roots
/// (`/etc/pki/tls/certs` on Lambda's Amazon Linux).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// reqwest without a built-in provider takes the process's default one. Installing it is
/// idempotent: a provider already installed (by a test harness, say) is kept.
fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_on_the_sdk_provider_and_keeps_it_installed() {
        client_builder().build().expect("client builds");
        client_builder().build().expect("builds again");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
