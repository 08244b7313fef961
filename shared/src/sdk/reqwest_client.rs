//! The HTTPS client under every AWS SDK client: `reqwest` (HTTP/1.1, rustls with aws-lc-rs,
//! the system's trust roots, proxies from the environment), the same stack as Keyhook's own
//! outbound calls (`http::outbound`), behind the SDK's `HttpClient` trait.
//!
//! Why not the SDK's default client (`aws-smithy-http-client`): it always builds hyper with
//! HTTP/2, which none of the services Keyhook calls speaks (DynamoDB, KMS, SQS and SES answer
//! HTTP/1.1), and it is a second hyper client beside reqwest's, both linked into every
//! function's binary (docs/deploy.md, "Performance", has the sizes).
//!
//! What the SDK asks of a client, and where it is kept here:
//! - the connect and read timeouts of the settings it passes: one `reqwest::Client` per
//!   distinct pair, built on its first request (building one loads the trust roots, which is
//!   cold-start work no function should do before it needs a connection);
//! - a connection pool: each `reqwest::Client` pools its keep-alive connections;
//! - errors classified as the SDK's own client classifies them, so that its retry strategy
//!   retries the same failures: timeouts, I/O and connection failures are transient.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;

/// The SDK's HTTP client: a connector per distinct timeout settings, shared by every service
/// client and every request with those settings.
#[derive(Default)]
pub struct SdkHttpClient {
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

/// The settings a connector is built for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl fmt::Debug for SdkHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkHttpClient(reqwest)")
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        // The SDK asks on every attempt; the list holds one entry per distinct settings (in
        // practice one: every client of a function has the same timeouts).
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Connector {
            timeouts,
            client: OnceLock::new(),
        });
        connectors.push((timeouts, connector.clone()));
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

/// Sends the SDK's requests with one `reqwest::Client`, built on the first request (two
/// racing first requests may both build one; one is kept).
#[derive(Debug)]
struct Connector {
    timeouts: Timeouts,
    client: OnceLock<reqwest::Client>,
}

impl Connector {
    fn client(&self) -> Result<reqwest::Client, ConnectorError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let mut builder = crate::http::outbound::client_builder()
            // The SDK follows no redirects: a 3xx is an answer its deserialisers read.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(t) = self.timeouts.connect {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = self.timeouts.read {
            builder = builder.read_timeout(t);
        }
        let client = builder
            .build()
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        Ok(self.client.get_or_init(|| client).clone())
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client();
        HttpConnectorFuture::new(async move {
            let client = client?;
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .map(reqwest::Body::wrap);
            let request =
                reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))?;
            let response = client.execute(request).await.map_err(classify)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// A failed exchange as the SDK's own client classifies it (`aws-smithy-http-client`'s
/// `downcast_error`), so the SDK's retry strategy decides the same: timeouts and I/O failures
/// (connecting, a closed or reset connection) are transient, as is a response cut short;
/// a request the client refused to send is the caller's error; anything else is unknown.
fn classify(err: reqwest::Error) -> ConnectorError {
    if err.is_timeout() {
        return ConnectorError::timeout(err.into());
    }
    if err.is_connect() {
        return ConnectorError::io(err.into());
    }
    if let Some(hyper_err) = find_source::<hyper::Error>(&err) {
        if hyper_err.is_timeout() {
            return ConnectorError::timeout(err.into());
        }
        if hyper_err.is_user() {
            return ConnectorError::user(err.into());
        }
        if hyper_err.is_closed()
            || hyper_err.is_canceled()
            || find_source::<std::io::Error>(hyper_err).is_some()
        {
            return ConnectorError::io(err.into());
        }
        if hyper_err.is_incomplete_message() {
            return ConnectorError::other(err.into(), Some(ErrorKind::TransientError));
        }
    }
    if find_source::<std::io::Error>(&err).is_some() {
        return ConnectorError::io(err.into());
    }
    ConnectorError::other(BoxError::from(err), None)
}

/// The first error of type `E` in `err`'s chain (`err` itself included).
fn find_source<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_types::byte_stream::ByteStream;

    use super::*;

    fn components() -> RuntimeComponents {
        RuntimeComponentsBuilder::for_tests().build().unwrap()
    }

    fn request(url: &str, body: &'static str) -> HttpRequest {
        let mut req = HttpRequest::new(SdkBody::from(body));
        req.set_uri(url).unwrap();
        req.set_method("POST").unwrap();
        req.headers_mut()
            .insert("content-length", body.len().to_string());
        req
    }

    /// A one-connection HTTP/1.1 server: reads a request, answers `answer`, returns what it read.
    fn serve_once(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/path?q=1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the 4-byte body the test sends.
            while !String::from_utf8_lossy(&seen).contains("\r\n\r\nbody") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer).unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn sends_the_sdks_request_and_hands_back_the_answer() {
        let (url, server) = serve_once(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: r1\r\ncontent-length: 2\r\n\r\n{}",
        );
        let client = SdkHttpClient::default();
        let connector = client.http_connector(&HttpConnectorSettings::default(), &components());
        let response = connector.call(request(&url, "body")).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r1"));
        assert_eq!(response.body().bytes(), None, "the body streams");
        let bytes = ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap();
        assert_eq!(&bytes.into_bytes()[..], b"{}");
        let seen = server.join().unwrap();
        assert!(seen.starts_with("POST /path?q=1 HTTP/1.1\r\n"), "{seen}");
        assert!(
            seen.to_ascii_lowercase().contains("content-length: 4\r\n"),
            "{seen}"
        );
        assert!(seen.ends_with("\r\n\r\nbody"), "{seen}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_io_and_a_stalled_answer_a_timeout() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let client = SdkHttpClient::default();
        let connector = client.http_connector(&HttpConnectorSettings::default(), &components());
        let err = connector.call(request(&url, "body")).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");

        // Accepts and reads, never answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let _held = std::thread::spawn(move || {
            let (stream, _) = silent.accept().unwrap();
            std::thread::sleep(Duration::from_secs(5));
            drop(stream);
        });
        let settings = HttpConnectorSettings::builder()
            .read_timeout(Duration::from_millis(200))
            .build();
        let connector = client.http_connector(&settings, &components());
        let err = connector.call(request(&url, "body")).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }

    #[test]
    fn one_connector_per_distinct_settings() {
        let client = SdkHttpClient::default();
        let default = HttpConnectorSettings::default();
        let short = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(1))
            .build();
        let count = || client.connectors.lock().unwrap().len();
        client.http_connector(&default, &components());
        client.http_connector(&default, &components());
        assert_eq!(count(), 1, "the same settings share a connector");
        let c = client.http_connector(&short, &components());
        assert_eq!(count(), 2);
        assert!(format!("{c:?}").contains("connect: Some(1s)"), "{c:?}");
    }
}
