//! The HTTPS client of every AWS SDK client in EventForge: rustls over ring, with the trust
//! anchors chosen by where the code runs.
//!
//! One TLS stack for the whole workspace. The SDK's default HTTPS client brings rustls over
//! aws-lc, a second crypto library (the SDK signs with ring already) and a C build of several
//! minutes on a cold cache; its legacy client brings hyper 0.14 and rustls 0.21 beside the
//! current ones. So every crate turns the SDK's default client off and takes this one.
//!
//! Where the code runs decides what it trusts:
//! - [`TrustAnchors::AmazonTrustServices`]: the Lambda functions and the API's container image,
//!   which is `FROM scratch` and has no certificate store at all. The roots are compiled in, so
//!   the binary reaches DynamoDB, S3, SES and Secrets Manager wherever it runs, and a function's
//!   cold start does not read and parse ~140 system certificates (28 of 31 ms, `bench saga`).
//! - [`TrustAnchors::System`]: the command line on an operator's machine, where a company proxy
//!   or a local emulator behind TLS may be signed by a CA that only the system store knows.

pub mod presign;

pub use aws_smithy_http_client::HttpClientError;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots of Amazon Trust Services (Amazon Root CA 1 to 4 and the Starfield Services G2
/// root that cross-signs them), which issue the certificates of the AWS service endpoints.
/// An endpoint over HTTPS with a certificate from another CA is refused under these anchors;
/// the emulators the tests use speak plain HTTP.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// Which certificate authorities the client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAnchors {
    /// [`AMAZON_TRUST_SERVICES_ROOTS`], compiled in; the system's store is never read.
    AmazonTrustServices,
    /// The operating system's certificate store (`SSL_CERT_FILE`, `SSL_CERT_DIR` or the
    /// distribution's bundle), read when the client is built.
    System,
    /// These PEM certificates only, compiled in by the caller: the tests' own CA.
    Pem(&'static str),
}

/// An HTTPS client (HTTP/1.1 and HTTP/2, plain HTTP for emulators) trusting `anchors`.
pub fn http_client(anchors: TrustAnchors) -> Result<SharedHttpClient, HttpClientError> {
    let trust = match anchors {
        TrustAnchors::AmazonTrustServices => {
            TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
        }
        TrustAnchors::System => TrustStore::empty().with_native_roots(true),
        TrustAnchors::Pem(pem) => TrustStore::empty().with_pem_certificate(pem),
    };
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::rustls(CryptoMode::Ring))
        .tls_context(TlsContext::builder().with_trust_store(trust).build()?)
        .build_https())
}

/// The standard AWS configuration chain (environment, profile, container or instance role),
/// every client it makes going through [`http_client`] with `anchors`.
pub fn config_loader(anchors: TrustAnchors) -> Result<aws_config::ConfigLoader, HttpClientError> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client(anchors)?))
}
