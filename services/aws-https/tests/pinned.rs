//! Specification: a pinned POST connects to the address it is given, whatever the URL's host
//! resolves to (here: nothing, `.invalid` never resolves), checks the certificate against the
//! URL's host name, and sends the URL's authority as `Host`, with the caller's headers.
//!
//! The receiver is a TLS server on 127.0.0.1 with a certificate for `hooks.example.invalid`
//! from a CA made here, which the client is configured to trust.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use eventforge_aws_https::{PinnedPostError, post_pinned};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

mod support;

const HOST: &str = "hooks.example.invalid";

/// Answers one request with `status`; hands over the request's head as it came.
async fn receiver(status: &'static str) -> (String, SocketAddr, oneshot::Receiver<String>) {
    let (ca_pem, acceptor) = support::tls_acceptor(HOST);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, head) = oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let Ok(mut tls) = acceptor.accept(stream).await else {
            return;
        };
        let mut request = vec![0u8; 16384];
        let read = tls.read(&mut request).await.unwrap();
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        tls.write_all(answer.as_bytes()).await.unwrap();
        let _ = tls.shutdown().await;
        let _ = sender.send(String::from_utf8_lossy(&request[..read]).into_owned());
    });
    (ca_pem, address, head)
}

fn trusting(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// An empty POST to `https://<host>:<port>/` at `address`, trusting `ca_pem`.
async fn empty_post(
    ca_pem: &str,
    host: &str,
    address: SocketAddr,
    timeout: Duration,
) -> Result<u16, PinnedPostError> {
    let url = format!("https://{host}:{}/", address.port())
        .parse()
        .unwrap();
    post_pinned(&trusting(ca_pem), &url, address, &[], Vec::new(), timeout).await
}

#[tokio::test]
async fn the_post_goes_to_the_given_address_with_the_urls_host() {
    let (ca_pem, address, head) = receiver("202 Accepted").await;
    let url = format!("https://{HOST}:{}/hooks/1?team=a", address.port())
        .parse()
        .unwrap();
    let headers = [("x-eventforge-signature", "t=1,v1=abc".to_owned())];

    let status = post_pinned(
        &trusting(&ca_pem),
        &url,
        address,
        &headers,
        b"{\"id\":1}".to_vec(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    assert_eq!(status, 202);
    let head = head.await.unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("post /hooks/1?team=a http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nhost: {HOST}:{}\r\n", address.port())),
        "{head}"
    );
    assert!(
        head.contains("\r\nx-eventforge-signature: t=1,v1=abc\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\ncontent-length: 8\r\n"), "{head}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (ca_pem, address, head) = receiver("200 OK").await;
    let error = empty_post(
        &ca_pem,
        "other.example.invalid",
        address,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();

    assert!(matches!(error, PinnedPostError::Transport(_)), "{error:?}");
    assert!(head.await.is_err(), "no request reached the receiver");
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    // Accepts, and never speaks TLS.
    let _held = tokio::spawn(async move {
        let held = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(held);
    });
    let (ca_pem, _) = support::tls_acceptor(HOST);

    let error = empty_post(&ca_pem, HOST, address, Duration::from_millis(200))
        .await
        .unwrap_err();

    assert!(matches!(error, PinnedPostError::TimedOut(_)), "{error:?}");
}
