//! The HTTPS client of every AWS SDK client in EventForge: rustls over ring, with the trust
//! anchors chosen by where the code runs; and the functions' other HTTPS on the same client
//! (one copy of its code per zip): uploads to presigned S3 URLs (`upload.rs`) and POSTs pinned to
//! an address checked beforehand (`pinned.rs`, the webhook function's deliveries).
//!
//! One TLS stack for the whole workspace. The SDK's default HTTPS client brings rustls over
//! aws-lc, a second crypto library (the SDK signs with ring already) and a C build of several
//! minutes on a cold cache; its legacy client brings hyper 0.14 and rustls 0.21 beside the
//! current ones; and both compile HTTP/2 in, which no service here needs (see `connector.rs`).
//! So every crate turns the SDK's default client off and takes this one: HTTP/1.1 through
//! hyper-util's pooled client, TLS by rustls over ring.
//!
//! Where the code runs decides what it trusts:
//! - [`TrustAnchors::AmazonTrustServices`]: the Lambda functions and the API's container image,
//!   which is `FROM scratch` and has no certificate store at all. The roots are compiled in, so
//!   the binary reaches DynamoDB, S3, SES and Secrets Manager wherever it runs, and a function's
//!   cold start does not read and parse ~140 system certificates (28 of 31 ms, `bench saga`).
//! - [`TrustAnchors::System`]: the command line on an operator's machine, where a company proxy
//!   or a local emulator behind TLS may be signed by a CA that only the system store knows.

mod connector;
mod pinned;
pub mod presign;
mod upload;

pub use pinned::{PinnedPostError, post_pinned};
pub use upload::{PresignedUploads, UploadError};

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

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

/// Why no HTTPS client could be made.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("the trust anchors are not PEM certificates: {0}")]
    Pem(#[from] rustls_pki_types::pem::Error),
    #[error(
        "no usable certificate in the system's store (tried: {tried}); install the CA \
         certificates (Debian: `apt-get install ca-certificates`) or point SSL_CERT_FILE at a \
         PEM bundle"
    )]
    NoSystemAnchors { tried: String },
    #[error("the TLS configuration was refused: {0}")]
    Tls(#[from] rustls::Error),
}

/// An HTTPS client (HTTP/1.1, and plain HTTP for emulators) trusting `anchors`.
pub fn http_client(anchors: TrustAnchors) -> Result<SharedHttpClient, HttpClientError> {
    Ok(connector::http1_client(tls_config(anchors)?))
}

/// TLS (rustls over ring, its safe default versions and suites) trusting `anchors`.
fn tls_config(anchors: TrustAnchors) -> Result<Arc<rustls::ClientConfig>, HttpClientError> {
    let mut roots = rustls::RootCertStore::empty();
    match anchors {
        TrustAnchors::AmazonTrustServices => add_pem(&mut roots, AMAZON_TRUST_SERVICES_ROOTS)?,
        TrustAnchors::Pem(pem) => add_pem(&mut roots, pem)?,
        TrustAnchors::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _unusable) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let tried = found
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(HttpClientError::NoSystemAnchors {
                    tried: if tried.is_empty() {
                        "the default locations".to_owned()
                    } else {
                        tried
                    },
                });
            }
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// Adds every certificate of `pem` to `roots`; a bundle with none, or one that does not parse,
/// is an error (the roots would otherwise be refused only at the first connection).
fn add_pem(roots: &mut rustls::RootCertStore, pem: &str) -> Result<(), HttpClientError> {
    let certificates =
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err(HttpClientError::Pem(
            rustls_pki_types::pem::Error::NoItemsFound,
        ));
    }
    for certificate in certificates {
        roots.add(certificate)?;
    }
    Ok(())
}

/// The standard AWS configuration chain (environment, profile, container or instance role),
/// every client it makes going through [`http_client`] with `anchors`.
pub fn config_loader(anchors: TrustAnchors) -> Result<aws_config::ConfigLoader, HttpClientError> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client(anchors)?))
}
