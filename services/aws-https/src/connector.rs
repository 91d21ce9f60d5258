//! The SDK's HTTP client: HTTP/1.1 over rustls, pooled by hyper-util.
//!
//! Written here rather than taken from `aws-smithy-http-client` (the SDK's own), because that one
//! compiles HTTP/2 in whatever it is told: it turns on hyper's and hyper-util's `http2`, and
//! with them h2's connection code in every client that uses hyper-util in the same binary (the
//! Lambda Runtime API client too). No service EventForge calls speaks anything but HTTP/1.1 to
//! the SDK, and HTTP/2 was a tenth of each Lambda zip (BENCHMARKS.md, "Functions: what is in a
//! zip"). What this module owns is only the glue: the request and response conversions, the
//! timeouts the SDK asks for, and which failures the SDK may retry.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::ServerName;

/// How long an idle pooled connection is kept: hyper's default, as the SDK's client has it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The SDK client over `tls`: HTTPS with that configuration, plain HTTP for emulators.
pub(crate) fn http1_client(tls: Arc<rustls::ClientConfig>) -> SharedHttpClient {
    SharedHttpClient::new(Http1Client {
        tls,
        connectors: Arc::default(),
    })
}

/// The timeouts a connector was made for.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct Http1Client {
    tls: Arc<rustls::ClientConfig>,
    /// One connector, and so one connection pool, per set of timeouts: the SDK asks for a
    /// connector on every attempt, and a new pool each time would connect anew each time.
    connectors: Arc<Mutex<Vec<(Timeouts, SharedHttpConnector)>>>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        // A poisoned lock only means another thread panicked while pushing; the list is intact.
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = connectors
            .iter()
            .find(|(made_for, _)| *made_for == timeouts)
        {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Http1Connector::new(&self.tls, timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

#[derive(Debug)]
struct Http1Connector {
    client: PooledClient,
    /// The longest wait for a response's head once the request is sent.
    read_timeout: Option<Duration>,
}

impl Http1Connector {
    fn new(tls: &Arc<rustls::ClientConfig>, (connect_timeout, read_timeout): Timeouts) -> Self {
        Self {
            client: pooled_client(tls, connect_timeout),
            read_timeout,
        }
    }
}

/// The HTTP client of the SDK's requests, and of the uploads to presigned URLs: one type, so a
/// binary doing both carries its code once.
pub(crate) type PooledClient = Client<HttpsConnector<TcpConnector>, SdkBody>;

/// HTTP/1.1 with keep-alive over `tls` (or plain HTTP), giving up on a connection attempt after
/// `connect_timeout`.
pub(crate) fn pooled_client(
    tls: &Arc<rustls::ClientConfig>,
    connect_timeout: Option<Duration>,
) -> PooledClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.as_ref().clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp_connector(connect_timeout));
    Client::builder(TokioExecutor::new())
        // The timer is what lets the pool drop idle connections at all.
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https)
}

/// HTTPS only, checking the server's certificate against `server_name` whatever host the
/// request's URI names: for requests sent to an address resolved and checked beforehand.
pub(crate) fn pinned_client(
    tls: &Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    connect_timeout: Duration,
) -> PooledClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.as_ref().clone())
        .https_only()
        .with_server_name_resolver(FixedServerNameResolver::new(server_name))
        .enable_http1()
        .wrap_connector(tcp_connector(Some(connect_timeout)));
    Client::builder(TokioExecutor::new()).build(https)
}

fn tcp_connector(connect_timeout: Option<Duration>) -> TcpConnector {
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    tcp
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => sent.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// The SDK retries timeouts and I/O failures (a refused or reset connection, a pooled one the
/// server closed: on Lambda, after the environment was frozen); others end the call.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = source::<std::io::Error>(&error)
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        || source::<hyper::Error>(&error).is_some_and(hyper::Error::is_timeout);
    if timed_out {
        return ConnectorError::timeout(error.into());
    }
    if let Some(hyper) = source::<hyper::Error>(&error) {
        if hyper.is_user() {
            return ConnectorError::user(error.into());
        }
        // A response cut short, as S3 sometimes does: worth another attempt.
        if hyper.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
        if hyper.is_closed() || hyper.is_canceled() {
            return ConnectorError::io(error.into());
        }
    }
    if error.is_connect() || source::<std::io::Error>(&error).is_some() {
        return ConnectorError::io(error.into());
    }
    ConnectorError::other(error.into(), None)
}

/// The first error of type `E` in `error`'s chain of sources, `error` included.
fn source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        next = current.source();
    }
    None
}
