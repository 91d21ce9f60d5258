//! POSTs to an address resolved and checked beforehand (the webhook function's deliveries: the
//! caller resolves the host and refuses private addresses, then the request must go to the
//! address it checked, whatever DNS answers by then). The certificate is checked against the
//! URL's host name. On the same HTTP/1.1 client as the SDK's requests: a second client (reqwest)
//! was 7% of the webhook function's zip.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_types::body::SdkBody;
use rustls_pki_types::ServerName;

use crate::connector::pinned_client;

/// Why a pinned POST got no status.
#[derive(Debug, thiserror::Error)]
pub enum PinnedPostError {
    #[error("{url} has no host name to check a certificate against")]
    NoHost { url: String },
    #[error("{host} is not a name a certificate can be checked against: {reason}")]
    ServerName { host: String, reason: String },
    #[error("the request could not be built: {0}")]
    Request(#[from] http::Error),
    #[error("{0}")]
    Transport(#[from] hyper_util::client::legacy::Error),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// One HTTPS POST of `body` with `headers` to `url`, connecting to `address` (not to what the
/// host resolves to) and checking the certificate against the URL's host, within `timeout`
/// (connection, TLS and the response's head). Redirects are not followed. The response's status.
pub async fn post_pinned(
    tls: &Arc<rustls::ClientConfig>,
    url: &url::Url,
    address: SocketAddr,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<u16, PinnedPostError> {
    let host = url.host_str().ok_or_else(|| PinnedPostError::NoHost {
        url: url.to_string(),
    })?;
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let server_name =
        ServerName::try_from(name.to_owned()).map_err(|error| PinnedPostError::ServerName {
            host: name.to_owned(),
            reason: error.to_string(),
        })?;
    let mut pinned = url.clone();
    // An IP host and an explicit port cannot fail on an https URL, which has a host.
    let _ = pinned.set_ip_host(address.ip());
    let _ = pinned.set_port(Some(address.port()));
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut request = http::Request::post(pinned.as_str()).header(http::header::HOST, authority);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(SdkBody::from(body))?;
    let client = pinned_client(tls, server_name, timeout);
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| PinnedPostError::TimedOut(timeout))??;
    Ok(response.status().as_u16())
}
