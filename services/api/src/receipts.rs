//! Where a client downloads a receipt from: the order stores only the receipt's storage key,
//! and a [`ReceiptLinks`] turns that key into a URL.

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use rusty_s3::S3Action;
use std::time::{Duration, SystemTime};

/// How long a presigned receipt URL stays valid.
pub const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
#[error("could not make a download link for receipt {key}: {reason}")]
pub struct ReceiptLinkError {
    pub key: String,
    pub reason: String,
}

/// Turns a receipt's storage key into a URL the client can GET.
#[async_trait]
pub trait ReceiptLinks: Send + Sync {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError>;
}

/// Receipts in a local directory, served by this API at `{base_url}/files/receipts/{key}`.
#[derive(Debug, Clone)]
pub struct LocalReceiptLinks {
    base_url: String,
}

impl LocalReceiptLinks {
    /// `base_url` is where clients reach this API (`http://127.0.0.1:3000`), or empty for links
    /// relative to the page that asks.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
impl ReceiptLinks for LocalReceiptLinks {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError> {
        Ok(format!(
            "{}/files/receipts/{}",
            self.base_url,
            encode_path(key.trim_start_matches('/'))
        ))
    }
}

/// Percent-encodes everything but unreserved characters and `/`, so a key is one URL path.
fn encode_path(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Receipts in an S3 bucket, handed out as presigned GET URLs valid for
/// [`PRESIGNED_URL_LIFETIME`]; the bucket itself stays private.
///
/// Signed by rusty-s3 rather than the S3 SDK client: presigning is all the API asks of S3, and
/// that client (endpoint rules, checksums, its operations) was what kept the image over 8 MB
/// compressed (BENCHMARKS.md, "API"). The functions' receipt writer does the same.
pub struct S3ReceiptLinks {
    bucket: rusty_s3::Bucket,
    credentials: CachedCredentials,
    lifetime: Duration,
}

/// Why the receipts bucket cannot be addressed with the AWS configuration at hand.
#[derive(Debug, thiserror::Error)]
pub enum S3ReceiptLinksError {
    #[error("no AWS region is configured: set AWS_REGION")]
    NoRegion,
    #[error("no AWS credentials provider is configured")]
    NoCredentials,
    #[error("the S3 endpoint {endpoint} is not a URL: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("bucket {bucket} cannot be addressed at {endpoint}: {reason}")]
    Bucket {
        bucket: String,
        endpoint: String,
        reason: String,
    },
}

impl S3ReceiptLinks {
    /// The bucket in `aws`'s region, with `aws`'s credentials; at `aws`'s endpoint URL when one
    /// is set (an emulator, addressed path-style as emulators expect), else S3's regional
    /// endpoint, virtual-hosted.
    pub fn new(
        aws: &aws_config::SdkConfig,
        bucket: impl Into<String>,
    ) -> Result<Self, S3ReceiptLinksError> {
        let bucket = bucket.into();
        let region = aws
            .region()
            .ok_or(S3ReceiptLinksError::NoRegion)?
            .to_string();
        let provider = aws
            .credentials_provider()
            .ok_or(S3ReceiptLinksError::NoCredentials)?;
        let (endpoint, style) = match aws.endpoint_url() {
            Some(endpoint) => (endpoint.to_owned(), rusty_s3::UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                rusty_s3::UrlStyle::VirtualHost,
            ),
        };
        let url =
            endpoint
                .parse()
                .map_err(|error: url::ParseError| S3ReceiptLinksError::Endpoint {
                    endpoint: endpoint.clone(),
                    reason: error.to_string(),
                })?;
        let bucket =
            rusty_s3::Bucket::new(url, style, bucket.clone(), region).map_err(|error| {
                S3ReceiptLinksError::Bucket {
                    bucket,
                    endpoint,
                    reason: error.to_string(),
                }
            })?;
        Ok(Self {
            bucket,
            credentials: CachedCredentials::new(provider),
            lifetime: PRESIGNED_URL_LIFETIME,
        })
    }
}

#[async_trait]
impl ReceiptLinks for S3ReceiptLinks {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError> {
        let identity = self
            .credentials
            .get()
            .await
            .map_err(|error| ReceiptLinkError {
                key: key.to_owned(),
                reason: format!("no AWS credentials: {error}"),
            })?;
        let (id, secret) = (identity.access_key_id(), identity.secret_access_key());
        let credentials = match identity.session_token() {
            Some(token) => rusty_s3::Credentials::new_with_token(id, secret, token),
            None => rusty_s3::Credentials::new(id, secret),
        };
        let url = rusty_s3::actions::GetObject::new(&self.bucket, Some(&credentials), key)
            .sign(self.lifetime);
        Ok(url.to_string())
    }
}

/// The credentials of a provider, kept until five minutes before they expire.
///
/// Written here because aws-config 1 has no caching provider of its own (the SDK's clients
/// cache identities inside their request pipeline, which a presigner outside a client does not
/// go through). Without it every receipt link would ask the ECS task's credentials endpoint.
struct CachedCredentials {
    provider: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

/// How long before their expiry cached credentials are replaced: a URL signed with them must
/// stay usable for its lifetime.
const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

impl CachedCredentials {
    fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            current: tokio::sync::Mutex::new(None),
        }
    }

    async fn get(&self) -> Result<Credentials, CredentialsError> {
        let mut current = self.current.lock().await;
        let fresh = |credentials: &Credentials| {
            credentials.expiry().is_none_or(|expiry| {
                SystemTime::now() + PRESIGNED_URL_LIFETIME + CREDENTIALS_REFRESH_MARGIN < expiry
            })
        };
        if let Some(credentials) = current.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let credentials = self.provider.provide_credentials().await?;
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_links_point_at_the_files_route_with_the_key_encoded() {
        let links = LocalReceiptLinks::new("http://127.0.0.1:3000/");
        assert_eq!(
            links.url_for("2026/abc def.pdf").await.expect("url"),
            "http://127.0.0.1:3000/files/receipts/2026/abc%20def.pdf"
        );
        assert_eq!(
            LocalReceiptLinks::new("")
                .url_for("r.pdf")
                .await
                .expect("url"),
            "/files/receipts/r.pdf"
        );
    }

    fn aws_config(credentials: Credentials) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    #[tokio::test]
    async fn s3_links_are_presigned_gets_that_expire() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let links = S3ReceiptLinks::new(&aws_config(credentials), "receipts-bucket").unwrap();

        let url = links
            .url_for("receipts/order-1.pdf")
            .await
            .expect("presigned");

        assert!(
            url.starts_with(
                "https://receipts-bucket.s3.eu-west-1.amazonaws.com/receipts/order-1.pdf?"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("X-Amz-Expires=900"), "{url}");
    }

    #[tokio::test]
    async fn a_session_token_goes_into_the_url() {
        let credentials =
            Credentials::new("ASIAEXAMPLE", "secret", Some("token".into()), None, "t");
        let links = S3ReceiptLinks::new(&aws_config(credentials), "receipts-bucket").unwrap();
        let url = links.url_for("r.pdf").await.expect("presigned");
        assert!(url.contains("X-Amz-Security-Token=token"), "{url}");
    }

    /// Hands out credentials expiring `valid_for` from now, counting the calls.
    #[derive(Debug)]
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        valid_for: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let expiry = SystemTime::now() + self.valid_for;
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID",
                "secret",
                None,
                Some(expiry),
                "counting",
            )))
        }
    }

    async fn calls_for_three_links(valid_for: Duration) -> usize {
        let provider = std::sync::Arc::new(Counting {
            calls: 0.into(),
            valid_for,
        });
        let shared: std::sync::Arc<dyn ProvideCredentials> = provider.clone();
        let cached = CachedCredentials::new(SharedCredentialsProvider::new(shared));
        for _ in 0..3 {
            cached.get().await.unwrap();
        }
        provider.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn credentials_are_asked_for_once_while_they_outlive_the_links_signed_with_them() {
        assert_eq!(calls_for_three_links(Duration::from_secs(3600)).await, 1);
    }

    #[tokio::test]
    async fn credentials_that_expire_before_a_link_would_are_asked_for_again() {
        // 15 minutes of link plus 5 of margin: credentials valid for 10 are not enough.
        assert_eq!(calls_for_three_links(Duration::from_secs(600)).await, 3);
    }
}
