//! Specification: the AWS clients trust the anchors compiled into them and never the system's
//! store, so a binary in a `FROM scratch` image (which has no store) reaches AWS over TLS.
//!
//! A TLS server on 127.0.0.1 with a certificate from a CA made here stands in for an AWS
//! endpoint: real AWS endpoints are signed by Amazon Trust Services, which no test can be.
//! Tests that need `SSL_CERT_FILE` or `SSL_CERT_DIR` set run in a child process of this test
//! binary, since a process's environment cannot be changed safely once threads run.

use std::net::Ipv4Addr;
use std::process::Command;

use aws_sdk_dynamodb::error::SdkError;
use eventforge_aws_https::{AMAZON_TRUST_SERVICES_ROOTS, TrustAnchors, http_client};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

/// Set in the child process that runs one test with the certificate variables set.
const CHILD: &str = "EVENTFORGE_AWS_HTTPS_TEST_CHILD";

#[test]
fn the_compiled_in_anchors_are_the_five_amazon_trust_services_roots() {
    // The SDK parses the bundle only when it first connects, and panics on a bad one.
    let roots = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("every certificate in the bundle parses");
    assert_eq!(roots.len(), 5);
    let mut store = rustls::RootCertStore::empty();
    let (valid, invalid) = store.add_parsable_certificates(roots);
    assert_eq!((valid, invalid), (5, 0), "each is usable as a trust anchor");
}

#[test]
fn compiled_in_anchors_connect_with_no_system_certificate_store() {
    if std::env::var_os(CHILD).is_none() {
        return in_child(
            "compiled_in_anchors_connect_with_no_system_certificate_store",
            &[
                ("SSL_CERT_FILE", "/nonexistent/cert.pem"),
                ("SSL_CERT_DIR", "/nonexistent"),
            ],
        );
    }
    let endpoint = TestEndpoint::start();
    let outcome = endpoint.call(TrustAnchors::Pem(endpoint.ca_pem));
    assert_eq!(
        outcome,
        Outcome::AnsweredByTheService,
        "TLS handshake and request went through"
    );
}

#[test]
fn amazon_anchors_ignore_the_system_store_even_when_it_holds_the_servers_ca() {
    if std::env::var_os(CHILD).is_none() {
        let dir = tempfile_dir();
        // The child writes its endpoint's CA to this file before it builds any client.
        return in_child(
            "amazon_anchors_ignore_the_system_store_even_when_it_holds_the_servers_ca",
            &[
                ("SSL_CERT_FILE", dir.join("ca.pem").to_str().unwrap()),
                ("SSL_CERT_DIR", dir.to_str().unwrap()),
            ],
        );
    }
    let endpoint = TestEndpoint::start();
    std::fs::write(std::env::var("SSL_CERT_FILE").unwrap(), endpoint.ca_pem).unwrap();
    assert_eq!(
        endpoint.call(TrustAnchors::System),
        Outcome::AnsweredByTheService,
        "the system store (here: the file the variables name) does trust the test CA"
    );
    assert_eq!(
        endpoint.call(TrustAnchors::AmazonTrustServices),
        Outcome::RefusedBeforeTheRequest,
        "Amazon's anchors alone must not accept a certificate of another CA"
    );
}

fn in_child(test: &str, variables: &[(&str, &str)]) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, "1")
        .envs(variables.iter().copied())
        .status()
        .expect("the test binary runs again");
    assert!(status.success(), "{test} failed in its child process");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eventforge-aws-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The TLS handshake succeeded and the "service" answered (with an error of its own).
    AnsweredByTheService,
    /// The client gave up before sending the request: the certificate was not trusted.
    RefusedBeforeTheRequest,
}

/// A DynamoDB endpoint stand-in over TLS that answers every request with a service error.
struct TestEndpoint {
    ca_pem: &'static str,
    port: u16,
    runtime: tokio::runtime::Runtime,
}

impl TestEndpoint {
    fn start() -> Self {
        let (ca_pem, acceptor) = support::tls_acceptor("localhost");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = [0u8; 8192];
                    let _ = tls.read(&mut request).await;
                    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no such table"}"#;
                    let response = format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            ca_pem: Box::leak(ca_pem.into_boxed_str()),
            port,
            runtime,
        }
    }

    /// One DynamoDB call through a client trusting `anchors`.
    fn call(&self, anchors: TrustAnchors) -> Outcome {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .endpoint_url(format!("https://localhost:{}", self.port))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .http_client(http_client(anchors).unwrap())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let result = self
            .runtime
            .block_on(client.describe_table().table_name("orders").send());
        match result {
            Err(SdkError::ServiceError(error)) => {
                assert!(error.err().is_resource_not_found_exception(), "{error:?}");
                Outcome::AnsweredByTheService
            }
            Err(SdkError::DispatchFailure(_)) => Outcome::RefusedBeforeTheRequest,
            other => panic!("unexpected outcome: {other:?}"),
        }
    }
}
