//! S3 URLs presigned without the S3 SDK client: the receipts bucket's GET links (the API) and
//! its upload PUTs (the receipt function).
//!
//! Presigning is all either asks of S3, and the S3 client (endpoint rules, checksums, every
//! operation) was a seventh of the receipt function's zip and kept the API's image over 8 MB
//! compressed (BENCHMARKS.md). rusty-s3 signs the URLs; the credentials are the SDK
//! configuration's, cached here, because aws-config 1 has no caching provider of its own (the
//! SDK's clients cache identities inside their request pipeline, which a presigner outside a
//! client does not go through): without it every URL would ask the provider, which on ECS is an
//! HTTP call to the task's credentials endpoint.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use rusty_s3::S3Action;

/// Why a bucket cannot be addressed with the AWS configuration at hand.
#[derive(Debug, thiserror::Error)]
pub enum BucketAddressError {
    #[error("no AWS region is configured: set AWS_REGION")]
    NoRegion,
    #[error("no AWS credentials provider is configured")]
    NoCredentials,
    #[error("the S3 endpoint {endpoint} is not a URL: {source}")]
    Endpoint {
        endpoint: String,
        source: url::ParseError,
    },
    #[error("bucket {bucket} cannot be addressed at {endpoint}: {reason:?}")]
    Bucket {
        bucket: String,
        endpoint: String,
        reason: rusty_s3::BucketError,
    },
}

/// A bucket whose objects get presigned URLs.
pub struct PresigningBucket {
    bucket: rusty_s3::Bucket,
    credentials: CachedCredentials,
}

impl PresigningBucket {
    /// Bucket `name` in `aws`'s region, signed with `aws`'s credentials; at `aws`'s endpoint URL
    /// when one is set (an emulator, addressed path-style as emulators expect), else S3's
    /// regional endpoint, virtual-hosted.
    pub fn new(aws: &SdkConfig, name: impl Into<String>) -> Result<Self, BucketAddressError> {
        let name = name.into();
        let region = aws
            .region()
            .ok_or(BucketAddressError::NoRegion)?
            .to_string();
        let provider = aws
            .credentials_provider()
            .ok_or(BucketAddressError::NoCredentials)?;
        let (endpoint, style) = match aws.endpoint_url() {
            Some(endpoint) => (endpoint.to_owned(), rusty_s3::UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                rusty_s3::UrlStyle::VirtualHost,
            ),
        };
        let url = endpoint
            .parse()
            .map_err(|source| BucketAddressError::Endpoint {
                endpoint: endpoint.clone(),
                source,
            })?;
        let bucket = rusty_s3::Bucket::new(url, style, name.clone(), region).map_err(|reason| {
            BucketAddressError::Bucket {
                bucket: name,
                endpoint,
                reason,
            }
        })?;
        Ok(Self {
            bucket,
            credentials: CachedCredentials::new(provider),
        })
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        self.bucket.name()
    }

    /// A URL that downloads `key` for `lifetime`.
    pub async fn get_url(
        &self,
        key: &str,
        lifetime: Duration,
    ) -> Result<url::Url, CredentialsError> {
        let credentials = self.credentials.get(lifetime).await?;
        Ok(
            rusty_s3::actions::GetObject::new(&self.bucket, Some(&signing(&credentials)), key)
                .sign(lifetime),
        )
    }

    /// A URL that uploads `key` for `lifetime`.
    pub async fn put_url(
        &self,
        key: &str,
        lifetime: Duration,
    ) -> Result<url::Url, CredentialsError> {
        let credentials = self.credentials.get(lifetime).await?;
        Ok(
            rusty_s3::actions::PutObject::new(&self.bucket, Some(&signing(&credentials)), key)
                .sign(lifetime),
        )
    }
}

/// The SDK's credentials as rusty-s3 signs with them.
fn signing(credentials: &Credentials) -> rusty_s3::Credentials {
    let (id, secret) = (credentials.access_key_id(), credentials.secret_access_key());
    match credentials.session_token() {
        Some(token) => rusty_s3::Credentials::new_with_token(id, secret, token),
        None => rusty_s3::Credentials::new(id, secret),
    }
}

/// The credentials of a provider, kept while a URL signed with them stays usable.
struct CachedCredentials {
    provider: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

/// Credentials are replaced this long before a URL signed with them would outlive them.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

impl CachedCredentials {
    fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Credentials valid for at least `lifetime` more (plus the margin).
    async fn get(&self, lifetime: Duration) -> Result<Credentials, CredentialsError> {
        let mut current = self.current.lock().await;
        let fresh = |credentials: &Credentials| {
            credentials
                .expiry()
                .is_none_or(|expiry| SystemTime::now() + lifetime + REFRESH_MARGIN < expiry)
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

    const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

    fn aws_config(credentials: Credentials, endpoint: Option<&str>) -> SdkConfig {
        let mut config = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        config.build()
    }

    #[tokio::test]
    async fn urls_name_the_bucket_virtual_hosted_and_carry_a_session_token() {
        let credentials =
            Credentials::new("ASIAEXAMPLE", "secret", Some("token".into()), None, "t");
        let bucket = PresigningBucket::new(&aws_config(credentials, None), "receipts").unwrap();
        let url = bucket
            .put_url("r.pdf", FIFTEEN_MINUTES)
            .await
            .unwrap()
            .to_string();
        assert!(
            url.starts_with("https://receipts.s3.eu-west-1.amazonaws.com/r.pdf?"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Security-Token=token"), "{url}");
    }

    #[tokio::test]
    async fn at_an_endpoint_url_the_bucket_is_in_the_path() {
        let credentials = Credentials::new("AKID", "secret", None, None, "t");
        let aws = aws_config(credentials, Some("http://127.0.0.1:5000"));
        let bucket = PresigningBucket::new(&aws, "receipts").unwrap();
        let url = bucket
            .get_url("r.pdf", FIFTEEN_MINUTES)
            .await
            .unwrap()
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:5000/receipts/r.pdf?"),
            "{url}"
        );
    }

    #[test]
    fn without_a_region_there_is_no_bucket_to_address() {
        let config = SdkConfig::builder().build();
        assert!(matches!(
            PresigningBucket::new(&config, "receipts"),
            Err(BucketAddressError::NoRegion)
        ));
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

    async fn calls_for_three_urls(valid_for: Duration) -> usize {
        let provider = std::sync::Arc::new(Counting {
            calls: 0.into(),
            valid_for,
        });
        let shared: std::sync::Arc<dyn ProvideCredentials> = provider.clone();
        let cached = CachedCredentials::new(SharedCredentialsProvider::new(shared));
        for _ in 0..3 {
            cached.get(FIFTEEN_MINUTES).await.unwrap();
        }
        provider.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn credentials_are_asked_for_once_while_they_outlive_the_urls_signed_with_them() {
        assert_eq!(calls_for_three_urls(Duration::from_secs(3600)).await, 1);
    }

    #[tokio::test]
    async fn credentials_that_expire_before_a_url_would_are_asked_for_again() {
        // 15 minutes of URL plus 5 of margin: credentials valid for 10 are not enough.
        assert_eq!(calls_for_three_urls(Duration::from_secs(600)).await, 3);
    }
}
