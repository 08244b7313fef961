//! The HTTP client of outgoing webhooks, which go to URLs tenants chose: it connects only to
//! addresses its [`Reach`] allows. A name is resolved by the client's own resolver, which
//! refuses the whole answer if any address in it is not allowed, so the address checked is the
//! address connected to (a name cannot resolve to a public address for a check and to a
//! private one for the connection). A host written as an IP address skips name resolution, so
//! [`WebhookClient::post`] checks it. No redirect is followed and no proxy from the environment
//! is used (a proxy would resolve the name itself, unchecked).
//!
//! The delivery log tells the tenant only [`Failure`]'s two sentences: nothing about ports,
//! timings or errors from inside the network.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhooks::endpoint::{literal, Reach};

/// How a host name becomes addresses: the system's resolver in production; tests give one
/// that maps chosen names to chosen (private, loopback, ...) addresses.
pub trait LookupHost: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The system's resolver (`getaddrinfo`, on a blocking thread).
pub struct SystemLookup;

impl LookupHost for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                (host.as_str(), 0)
                    .to_socket_addrs()
                    .map(|addrs| addrs.map(|a| a.ip()).collect())
            })
            .await
            .map_err(io::Error::other)?
        })
    }
}

/// The error a refused address gives (found again in the request's error by [`Failure::of`]).
#[derive(Debug, thiserror::Error)]
#[error("not a public address")]
pub struct NotPublic;

/// Resolves with `lookup`, then lets through only an answer whose every address `reach` allows.
struct CheckedResolver {
    reach: Reach,
    lookup: Arc<dyn LookupHost>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.reach;
        let lookup = self.lookup.lookup(name.as_str());
        Box::pin(async move {
            let ips = lookup.await?;
            if ips.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no address").into());
            }
            if !ips.iter().all(|ip| reach.allows(*ip)) {
                return Err(NotPublic.into());
            }
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why an attempt got no HTTP answer, as the delivery log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The URL's host is, or resolved to, an address the client may not reach.
    Refused,
    /// Anything else: no connection, TLS, timeout, a broken answer.
    NoAnswer,
}

impl Failure {
    /// Which failure a request's error is.
    pub fn of(error: &reqwest::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = source {
            if e.is::<NotPublic>() {
                return Failure::Refused;
            }
            source = e.source();
        }
        Failure::NoAnswer
    }

    /// The delivery log's words: the same for a closed port, a timeout or a TLS failure, so
    /// the log cannot be used to map a network.
    pub fn text(self) -> &'static str {
        match self {
            Failure::Refused => "refused: not a public address",
            Failure::NoAnswer => "could not connect (or no answer in time)",
        }
    }
}

/// A `reqwest` client that reaches only what its [`Reach`] allows.
pub struct WebhookClient {
    client: reqwest::Client,
    reach: Reach,
}

impl WebhookClient {
    /// `configure` adds the caller's settings (timeouts, user agent); the resolver, the
    /// redirect policy and the proxy setting are applied after it, so it cannot undo them.
    pub fn new(
        reach: Reach,
        lookup: Arc<dyn LookupHost>,
        configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> WebhookClient {
        let client = configure(super::outbound::client_builder())
            .dns_resolver(Arc::new(CheckedResolver { reach, lookup }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("HTTP client builds");
        WebhookClient { client, reach }
    }

    /// A POST to `url`, or [`Failure::Refused`] when its host is an IP address the client may
    /// not reach (or it is not a URL with a host).
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Failure> {
        let parsed = url::Url::parse(url).map_err(|_| Failure::Refused)?;
        parsed.host().ok_or(Failure::Refused)?;
        if literal(&parsed).is_some_and(|ip| !self.reach.allows(ip)) {
            return Err(Failure::Refused);
        }
        Ok(self.client.post(parsed))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Names mapped to chosen addresses, as a hostile DNS zone would answer.
    struct Zone(HashMap<&'static str, Vec<IpAddr>>);

    impl LookupHost for Zone {
        fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
            let found = self.0.get(host).cloned();
            Box::pin(async move {
                found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))
            })
        }
    }

    fn zone() -> Arc<dyn LookupHost> {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        Arc::new(Zone(HashMap::from([
            ("loopback.hooks.test", vec![ip("127.0.0.1")]),
            ("private.hooks.test", vec![ip("10.0.0.8")]),
            ("zero.hooks.test", vec![ip("0.0.0.0")]),
            ("metadata.hooks.test", vec![ip("169.254.169.254")]),
            ("nat64.hooks.test", vec![ip("64:ff9b::a00:8")]),
            // A public address first, a private one after: refused whole.
            (
                "mixed.hooks.test",
                vec![ip("93.184.216.34"), ip("127.0.0.1")],
            ),
        ])))
    }

    /// A server on loopback that counts connections and answers 204 to each.
    async fn listener() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        (port, accepted)
    }

    fn client(reach: Reach) -> WebhookClient {
        WebhookClient::new(reach, zone(), |b| b.timeout(Duration::from_secs(5)))
    }

    async fn send(client: &WebhookClient, url: &str) -> Result<u16, Failure> {
        let response = client.post(url)?.body("{}").send().await;
        response
            .map(|r| r.status().as_u16())
            .map_err(|e| Failure::of(&e))
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_non_public_address_is_refused_at_connect_time() {
        let (port, accepted) = listener().await;
        let public = client(Reach::Public);
        for name in [
            "loopback.hooks.test",
            "private.hooks.test",
            "zero.hooks.test",
            "metadata.hooks.test",
            "nat64.hooks.test",
            "mixed.hooks.test",
        ] {
            for scheme in ["http", "https"] {
                let url = format!("{scheme}://{name}:{port}/hook");
                assert_eq!(send(&public, &url).await, Err(Failure::Refused), "{url}");
            }
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            0,
            "nothing reached the listener"
        );

        // The same name where loopback is allowed (keyhook dev) does connect: the zone is
        // what the client used, and only the policy refused it above.
        let dev = client(Reach::PublicAndLoopback);
        let url = format!("http://loopback.hooks.test:{port}/hook");
        assert_eq!(send(&dev, &url).await, Ok(204));
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // Never 0.0.0.0 or a private address, even there.
        for name in [
            "zero.hooks.test",
            "private.hooks.test",
            "metadata.hooks.test",
        ] {
            let url = format!("http://{name}:{port}/hook");
            assert_eq!(send(&dev, &url).await, Err(Failure::Refused), "{url}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_ip_literal_is_checked_before_connecting_since_it_skips_the_resolver() {
        let (port, accepted) = listener().await;
        let public = client(Reach::Public);
        for host in ["127.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0", "10.0.0.8"] {
            let url = format!("http://{host}:{port}/hook");
            assert_eq!(send(&public, &url).await, Err(Failure::Refused), "{url}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        let dev = client(Reach::PublicAndLoopback);
        assert_eq!(
            send(&dev, &format!("http://127.0.0.1:{port}/hook")).await,
            Ok(204)
        );
    }

    #[tokio::test]
    async fn a_failure_to_connect_says_nothing_about_why() {
        // A port nothing listens on, on an allowed address.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let dev = client(Reach::PublicAndLoopback);
        let failure = send(&dev, &format!("http://127.0.0.1:{port}/hook"))
            .await
            .unwrap_err();
        assert_eq!(failure, Failure::NoAnswer);
        assert_eq!(failure.text(), "could not connect (or no answer in time)");
        assert_eq!(Failure::Refused.text(), "refused: not a public address");
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://169.254.169.254/latest\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        let dev = client(Reach::PublicAndLoopback);
        assert_eq!(
            send(&dev, &format!("http://127.0.0.1:{port}/hook")).await,
            Ok(307)
        );
    }
}
